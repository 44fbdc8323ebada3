"""Worked analysis 12 — from coded sessions to "therapist behaviour -> alliance -> need satisfaction".

Run it from the repository root:  .venv/bin/python analyses/12_behaviour_alliance_needs.py

What a student learns here
--------------------------
1. Two tables describe one session: the coded utterances (what the therapist did: MITI 4 codes, Moyers et al.
   2016) and the session's ratings (alliance, need satisfaction). A behaviour *rate* per session — reflections
   per therapist utterance — turns the first into a session-level predictor of the second; unlike a count it does
   not grow with the length of the session.
2. Joining the two tables without losing sessions silently: sessions present in one table and not the other are
   listed, and you decide what to do with them (only some sessions coded? keep the others with missing rates).
3. The rate varies between therapists, between clients and from session to session. Split it into the client's
   mean (between) and the session's deviation from it (within; Curran & Bauer 2011): "in sessions where this
   therapist reflects more than usual with this client, is the alliance stronger?" is a different question from
   "do clients who get more reflections on average have stronger alliances?", and a single pooled slope blends
   the two.
4. The same question as the SDT registry asks it (C1: behaviour -> alliance within client; C2: alliance -> needs
   within client), and the chain behaviour -> alliance -> needs as a multilevel 1-1-1 mediation with a
   within-client and a between-client indirect effect (Bauer, Preacher & Gil 2006; Zhang, Zyphur & Preacher
   2009).

The data are simulated with known truth (``allianceStats.simulate.process.simulate_behaviour_chain``): every
estimate is printed next to the value that generated the data. Draws (``n_draws``) are kept small so that the
script runs in seconds; use more for a paper.
"""
import textwrap
import warnings

import pandas as pd

import allianceStats as als
from allianceStats.errors import SchemaError
from allianceStats.process import behaviour_rates, merge_session_scores, read_events, score_codes
from allianceStats.simulate.process import simulate_behaviour_chain

pd.set_option("display.width", 130)
pd.set_option("display.max_columns", 12)
CODES = ["miti_4", "client_language"]  # therapist codes (MITI 4) and client change / sustain talk
SEED = 2027


def show(text, indent="  - "):
    """Print a message in full, wrapped to the page (error texts are never cut short)."""
    print(textwrap.fill(text, width=116, initial_indent=indent, subsequent_indent=" " * len(indent)))


def next_to_truth(rows):
    """A small table: each quantity, the value that generated the data, the estimate and its interval."""
    return pd.DataFrame(rows, columns=["quantity", "truth", "estimate", "ci_lower", "ci_upper"]).round(3)


# --- Step 1. The two tables ---------------------------------------------------------------------------------------
# 10 therapists x 8 clients x 6 sessions, 40 therapist-client turns per session. Each therapist utterance is coded
# (Q question, SR/CR simple/complex reflection, AF affirm, SEEK, GI, PERSUADE); how often a therapist reflects
# differs between therapists, between their clients, and from session to session. After each session the client
# rated the alliance and their need satisfaction. The truth: a session with a 10-point higher reflection share than
# usual for this client has a 0.1 x 2.0 = 0.2 higher alliance; an alliance 1 point above the client's usual level
# goes with 0.5 more need satisfaction.
raw_events, ratings, truth = simulate_behaviour_chain(n_therapists=10, clients_per_therapist=8,
                                                      sessions_per_client=6, turns_per_session=40, seed=SEED)
events = read_events(raw_events, codes=CODES)  # validates codes, order and times; every problem listed at once
print(f"Step 1. {len(events):,} coded utterances and {len(ratings)} rated sessions of "
      f"{ratings['client'].nunique()} clients of {ratings['therapist'].nunique()} therapists")
print("The ratings table, one row per session (first three rows; the client rated the alliance and their need "
      "satisfaction after each session):")
print(ratings.head(3).round(3).to_string(index=False))

# --- Step 2. Behaviour rates per session ----------------------------------------------------------------------------
# behaviour_rates() counts every category of the code set in each session and divides by the utterances of the
# speaker who produces it: reflection_rate = (SR + CR) / therapist utterances; change_talk_rate = CT / client
# utterances. score_codes() gives the manuals' summary scores (R:Q ratio, % complex reflections, counts), which
# answer other questions: a count grows with session length, a ratio changes when questions change.
rates = behaviour_rates(events, CODES)
scores = score_codes(events, CODES)
print("\nStep 2. Rates per session (first three sessions; a rate is a share of the speaker's utterances):")
print(rates[["client", "session", "therapist_utterances", "reflection_rate", "question_rate", "mi_adherent_rate",
             "change_talk_rate"]].head(3).round(3).to_string(index=False))
print("and the MITI 4 summary scores of the same sessions (reflections per question, % of reflections that are "
      "complex, count of MI-adherent utterances):")
print(scores[["client", "session", "reflection_to_question", "percent_complex_reflections", "mi_adherent"]]
      .head(3).round(2).to_string(index=False))

# --- Step 3. One table, one row per session -----------------------------------------------------------------------
# merge_session_scores() is a one-to-one merge on (client, session) that refuses to lose sessions quietly. Here a
# session was rated but its recording was never coded, and the error names it:
uncoded = rates.drop(index=[4])
try:
    merge_session_scores(ratings, uncoded)
except SchemaError as err:
    print("\nStep 3. A rated session without codes is reported, not dropped:")
    for problem in err.problems:
        show(problem)
# When only some sessions were coded, keep every rated session (its rates are missing, so models leave it out):
kept = merge_session_scores(ratings, uncoded, unmatched="keep")
print(f"  with unmatched='keep': {len(kept)} sessions, {int(kept['reflection_rate'].isna().sum())} without rates")
table = merge_session_scores(ratings, rates)
table = merge_session_scores(table, scores)  # any session-level score table merges the same way
print(f"  all sessions coded: {len(table)} rows, one per session, with {len(table.columns)} columns (ratings, "
      "rates, summary scores)")

# --- Step 4. Within and between parts of the behaviour -------------------------------------------------------------
# decompose() splits each measure into the client's mean (_between) and the session's deviation from it (_within).
table = als.decompose(table, ["reflection_rate", "alliance"], lags=())
client_means = table.groupby("client")["reflection_rate"].mean()
print(f"\nStep 4. Reflection rate: mean {table['reflection_rate'].mean():.3f}; SD between clients "
      f"{client_means.std():.3f}, SD within clients (session to session) {table['reflection_rate_within'].std():.3f}")

# --- Step 5. (a) Does the session's behaviour go with the session's alliance? ---------------------------------------
# lme4: lmer(alliance ~ reflection_rate_within + reflection_rate_between + (1 | therapist) + (1 | client)).
# The within slope uses only session-to-session changes within clients, so stable differences between clients
# (and therapists) cannot produce it; the between slope compares clients. Another seed gives other estimates,
# spread by about their standard errors (tests/process/test_behaviour_chain.py checks the recovery of every path
# on a data set of 1,600 sessions).
fit = als.fit_mlm(table, "alliance ~ reflection_rate_within + reflection_rate_between + (1 | therapist) + "
                         "(1 | client)")
est = fit.params.set_index("term")
print(f"\nStep 5. Mixed model of the alliance ({fit.n_obs} sessions; converged: {fit.converged})")
print(next_to_truth([
    ["within-client slope a_W", truth["alliance_within"], *est.loc["reflection_rate_within",
                                                                  ["estimate", "ci_lower", "ci_upper"]]],
    ["between-client slope a_B", truth["alliance_between"], *est.loc["reflection_rate_between",
                                                                    ["estimate", "ci_lower", "ci_upper"]]],
]).to_string(index=False))
print("Variance components (vcov: variance, sdcor: SD) of the alliance between therapists, between clients and "
      "from session to session:")
print(fit.varcomp[["group", "vcov", "sdcor"]].round(3).to_string(index=False))
pooled = als.fit_mlm(table, "alliance ~ reflection_rate + (1 | therapist) + (1 | client)")
print(f"  One pooled slope instead: {pooled.params.set_index('term').loc['reflection_rate', 'estimate']:.3f} — a "
      f"precision-weighted blend of the within ({truth['alliance_within']}) and between "
      f"({truth['alliance_between']}) slopes;\n  here the sessions carry most of the information, so it sits near "
      "the within slope, but it answers neither question.\n  The between slope rests on 80 client means: its "
      "interval is wide — a study of therapist or client differences needs many more clients.")

# --- Step 6. (b) The registry's hypotheses C1 and C2 ----------------------------------------------------------------
# The SDT registry (als.hypotheses()) states each claim with the roles it needs. Map our columns to the roles:
# the therapist behaviour is the reflection rate. C1 and C2 are within-client paths (y ~ x_within + x_between,
# bootstrap over clients).
mapping = {"therapist_behaviour": "reflection_rate", "alliance": "alliance", "needs": "needs"}
tested = als.evaluate_hypotheses(table, mapping, ids=["C1", "C2"], n_draws=500, seed=SEED)
rows = tested.table.set_index("hypothesis")
print("\nStep 6. Registry hypotheses (within-client slopes, client bootstrap):")
print(next_to_truth([
    ["C1 reflection rate -> alliance", truth["alliance_within"], *rows.loc["C1", ["estimate", "ci_lower",
                                                                                  "ci_upper"]]],
    ["C2 alliance -> needs", truth["needs_within"], *rows.loc["C2", ["estimate", "ci_lower", "ci_upper"]]],
]).to_string(index=False))
print("  verdicts: " + "; ".join(f"{h}: {v}" for h, v in rows["verdict"].items()))

# --- Step 7. (c) The chain behaviour -> alliance -> needs, within and between clients ------------------------------
# fit_multilevel_mediation() fits both equations at once with client-centred predictors (1-1-1 mediation):
# alliance ~ rate_within + rate_between, needs ~ alliance_within + alliance_between + rate_within + rate_between,
# with random intercepts and random a and b slopes over clients. The within-client indirect effect is
# a_W b_W + cov(a_j, b_j); the simulation has no random slopes, so its truth is a_W b_W. The model has no
# therapist level: the therapist differences end up in the client intercepts.
with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always")
    chain = als.fit_multilevel_mediation(table, "reflection_rate", "alliance", "needs", n_draws=5000, seed=SEED)
effects = chain.effects.set_index("effect")
print("\nStep 7. Multilevel mediation reflection rate -> alliance -> needs (Monte Carlo intervals)")
print(next_to_truth([
    ["within indirect a_W b_W", truth["within_indirect"], *effects.loc["within indirect", ["estimate", "ci_lower",
                                                                                            "ci_upper"]]],
    ["between indirect a_B b_B", truth["between_indirect"], *effects.loc["between indirect",
                                                                          ["estimate", "ci_lower", "ci_upper"]]],
    ["within direct c'_W", truth["direct_within"], *effects.loc["within direct", ["estimate", "ci_lower",
                                                                                   "ci_upper"]]],
]).to_string(index=False))
for w in caught:  # e.g. random-slope variances near zero (the simulation has none): worth reading, not an error
    show(f"note: {w.message}", indent="  ")
print("  Within clients, sessions with more reflections have a stronger alliance and, through it, more need "
      "satisfaction;\n  the between-client effect compares clients and has a wider interval (80 clients, not "
      "480 sessions).")
