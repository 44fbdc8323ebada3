"""Worked analysis 8 — process research: what therapists do, what clients say next, and how in step they move.

Run it from the repository root:  .venv/bin/python analyses/08_process_sequences_synchrony.py

What a student learns here
--------------------------
1. A coded-event table (one row per coded utterance: client, session, order, speaker, code, onset, offset) and how
   it is validated: unknown codes, duplicate order numbers, overlapping utterances are all listed at once.
2. The published summary scores of the coding manuals (MITI 4: reflection-to-question ratio, % complex
   reflections, MI-adherent / non-adherent counts; client language: % change talk), one row per session, ready to
   merge onto a session table as predictors of alliance and outcome.
3. Lag-sequential analysis (Bakeman & Quera 2011): does change talk follow a reflection more often than chance?
   Transitional probabilities, expected frequencies, adjusted residuals, Yule's Q, the likelihood-ratio test, and a
   permutation test that shuffles codes within sessions. Why the pooled table overstates the evidence (utterances
   are not independent: they are nested in sessions, clients and therapists), and two remedies: Yule's Q per
   session summarised across sessions, and a multilevel logistic lag model on a person-period table.
4. Time-based tallies: is change talk going on within 3 seconds after a reflection ends?
5. Synchrony of two signals (e.g. movement energy of client and therapist): windowed lagged cross-correlation as in
   rMEA, the lag profile (who follows whom), and a surrogate test against pseudo-dyads (the x of one dyad with the
   y of another) — synchrony must beat the chance level of two unrelated people.
6. Language style matching (Ireland & Pennebaker 2010) with your own function-word lists.

The data are simulated with known truth (allianceStats.simulate.process), so every answer can be checked.
"""
import importlib.util

import numpy as np
import pandas as pd

from allianceStats.errors import SchemaError
from allianceStats.process import (
    lag_person_period,
    lag_sequential,
    language_style_matching,
    read_events,
    score_codes,
    surrogate_synchrony,
    synchrony_by_session,
    window_cross_correlation,
)
from allianceStats.simulate.process import simulate_dyad_signals, simulate_mi_sessions

pd.set_option("display.width", 120)
pd.set_option("display.max_columns", 12)

# --- Step 1. Coded sessions --------------------------------------------------------------------------------------
# 8 therapists x 5 clients x 3 sessions, 40 therapist-client turns each. Therapist utterances carry MITI 4 codes
# (Q question, SR/CR simple/complex reflection, AF affirm, SEEK seeking collaboration, GI giving information,
# PERSUADE); client utterances are change talk (CT), sustain talk (ST) or follow/neutral (FN). The truth: after a
# reflection the log odds of change talk rise by 0.8 (conditional on therapist, client and session).
raw, truth = simulate_mi_sessions(n_therapists=8, clients_per_therapist=5, sessions_per_client=3,
                                  turns_per_session=40, seed=2026)
events = read_events(raw, codes=["miti_4", "client_language"])
print(f"Step 1. {len(events)} coded utterances in {events.groupby(['client', 'session']).ngroups} sessions")
print(events.head(6).to_string(index=False))

# A table with mistakes: every problem is reported at once, with rows and clients, and the input is not changed.
broken = raw.head(6).copy()
broken.loc[2, "code"] = "REFLECT"        # not a MITI 4 code
broken.loc[4, "order"] = 4               # the same position twice in one session
try:
    read_events(broken, codes=["miti_4", "client_language"])
except SchemaError as err:
    print("\nA table with two mistakes gives one error listing both:")
    print("\n".join("  - " + p[:140] for p in err.problems))

# --- Step 2. Session-level summary scores -----------------------------------------------------------------------
scores = score_codes(events, ["miti_4", "client_language"])
print("\nStep 2. Summary scores (first sessions):")
print(scores[["client", "session", "reflection_to_question", "percent_complex_reflections", "mi_adherent",
              "mi_non_adherent", "percent_change_talk"]].head().round(2).to_string(index=False))
# Reflection-rich sessions tend to have more change talk:
r = np.corrcoef(scores["reflection_to_question"], scores["percent_change_talk"])[0, 1]
print(f"correlation of R:Q with % change talk across sessions: {r:.2f}")

# --- Step 3. Lag-sequential analysis -------------------------------------------------------------------------------
# Lag 1: each utterance and the next one in the same session. Pooled over all sessions.
seq = lag_sequential(events, n_draws=500, seed=1)
print(f"\nStep 3. {seq!r}")
print("Adjusted residuals (rows: given, columns: target); |z| > 1.96 is unusual under independence:")
print(seq.matrix("adjusted_residual").loc[["Q", "SR", "CR", "GI", "PERSUADE"], ["CT", "ST", "FN"]].round(2))
rows = seq.table[seq.table["given"].isin(["SR", "CR", "Q"]) & (seq.table["target"] == "CT")]
print(rows[["given", "target", "observed", "expected", "transitional_probability", "adjusted_residual", "yules_q",
            "p_permutation"]].round(3).to_string(index=False))
# The pooled table treats 4,800 transitions as independent. Sessions differ (some clients talk about change more),
# so a safer summary analyses sessions as the units: Yule's Q per session, then its mean across sessions.
per = lag_sequential(events, per_session=True)
s = per.session_summary.set_index(["given", "target"]).loc[[("CR", "CT"), ("SR", "CT"), ("Q", "CT")]]
print("\nYule's Q per session, summarised across sessions (one-sample t):")
print(s[["n_sessions", "estimate", "ci_lower", "ci_upper", "p_value"]].round(3))

# --- Step 3b. Multilevel lag model ----------------------------------------------------------------------------------
# One row per client utterance t: target = 1 if it is change talk, given = 1 if utterance t-1 was a reflection.
pp = lag_person_period(events, given=truth["given"], target="CT", at=truth["at"])
tab = pd.crosstab(pp["given"], pp["target"])
pooled = np.log(tab.loc[1, 1] * tab.loc[0, 0] / (tab.loc[1, 0] * tab.loc[0, 1]))
print(f"\nStep 3b. Person-period table: {len(pp)} client utterances. Pooled log odds ratio of change talk after a "
      f"reflection: {pooled:.3f} (truth, conditional on the random effects: {truth['lag_log_odds_ratio']})")
print("The pooled (marginal) estimate is pulled towards 0 by the between-session differences it ignores. The "
      "multilevel model,\n  glmer(target ~ given + (1 | therapist/client/session), family = binomial)\n"
      "estimates the conditional effect.")
if importlib.util.find_spec("allianceStats.mixed.glmm") is not None:
    from allianceStats.mixed.glmm import fit_glmm

    # client ids are unique across therapists and session_id across clients, so this is the nested model above
    pp["session_id"] = pp["client"] + "_" + pp["session"].astype(str)
    fit = fit_glmm(data=pp, formula="target ~ given + (1 | therapist) + (1 | client) + (1 | session_id)",
                   family="binomial")
    print(fit.params.round(3).to_string(index=False))
else:
    print("(allianceStats' GLMM engine is not in this version; fit the model above in R with lme4 on "
          "`pp.to_csv(...)`.)")

# --- Step 4. Time-based tallies ------------------------------------------------------------------------------------
timed = lag_sequential(events, window=3.0)
row = timed.table.set_index(["given", "target"]).loc[("CR", "CT")]
print(f"\nStep 4. Time units (1 s) within 3 s after a complex reflection ends: change talk is going on in "
      f"{row['transitional_probability']:.1%} of them ({row['observed']:.0f} units, {row['expected']:.0f} expected "
      f"under independence); Yule's Q {row['yules_q']:.3f}, adjusted residual {row['adjusted_residual']:.1f}")

# --- Step 5. Synchrony ---------------------------------------------------------------------------------------------
# 10 dyads, 5 minutes at 10 Hz; the therapist's signal follows the client's by 1 s with correlation 0.5.
signals, s_truth = simulate_dyad_signals(n_dyads=10, minutes=5, sampling_rate=10, coupling=0.5, lag_seconds=1,
                                         ar=0.8, seed=7)
one = signals[signals["dyad"] == "d01"]
res = window_cross_correlation(one["client_signal"], one["therapist_signal"], sampling_rate=10, lag_seconds=3,
                               window_seconds=30, step_seconds=15)
print(f"\nStep 5. {res!r}")
print(f"lag profile peaks at {res.lag_profile.idxmax():+.1f} s (truth: the therapist follows by "
      f"{s_truth['lag_seconds']:+.1f} s; positive lags = the second signal follows the first)")
print(res.windows[["window", "start_seconds", "all_lags", "lag_zero", "x_leads", "y_leads", "best_lag"]]
      .head().round(3).to_string(index=False))
per_session = synchrony_by_session(signals.assign(client=signals["dyad"], session=1), x="client_signal",
                                   y="therapist_signal", sampling_rate=10, lag_seconds=3, window_seconds=30,
                                   step_seconds=15)
print("\nSession-level synchrony columns (merge onto the session table):")
print(per_session.head(3).round(3).to_string(index=False))
sur = surrogate_synchrony(signals, x="client_signal", y="therapist_signal", dyad="dyad", sampling_rate=10,
                          lag_seconds=3, window_seconds=30, step_seconds=15, n_draws=60, seed=3)
print(f"\nSurrogate test: {sur!r}")
print(f"real dyads {sur.dyads['synchrony'].mean():.3f} vs pseudo-dyads {sur.surrogates['synchrony'].mean():.3f}")

# --- Step 6. Language style matching -------------------------------------------------------------------------------
talk = pd.DataFrame({
    "client": ["c1"] * 4 + ["c2"] * 4, "session": 1,
    "speaker": ["therapist", "client"] * 4,
    "text": ["What would you like to change about your drinking?", "I think I want to cut down, I guess.",
             "You want to cut down and you are not sure how.", "Yes, I am not sure how I would do it.",
             "Tell me about the week.", "Work was bad and then the weekend happened.",
             "The weekend was hard for you.", "It was. I drank the whole time."]})
words = {"personal_pronouns": ["i", "you", "we", "it", "me", "my", "your"], "articles": ["a", "an", "the"],
         "conjunctions": ["and", "but", "or", "then"], "negations": ["not", "no", "never"],
         "auxiliary_verbs": ["am", "is", "are", "was", "would", "will", "do"]}
print("\nStep 6. Language style matching (1 = identical use of function words):")
print(language_style_matching(talk, categories=words).round(3).to_string(index=False))
