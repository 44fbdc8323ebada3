"""Worked analysis 11 — substance use as the outcome: any use, days used out of 7, and days as a count (GLMMs).

Run it from the repository root:  .venv/bin/python analyses/11_glmm_any_use_days_used.py

What a student learns here
--------------------------
1. The outcomes of substance-use treatment are rarely Gaussian: a week with or without use (0/1), days used out
   of 7 (a binomial count with a ceiling), days or drinks as a count. A generalised linear mixed model (GLMM;
   lme4's ``glmer``) keeps the multilevel structure — sessions in clients in therapists — and models each on its
   own scale: log-odds for the binomial family, log-rates for counts (Bates et al. 2015; Bolker et al. 2009).
2. The within/between split of the alliance (Curran & Bauer 2011) works unchanged. The two odds ratios answer
   different questions. The *within-client* odds ratio compares a week after a session whose alliance was better
   than usual *for this client* with the same client's other weeks: each client is their own control, so stable
   differences between clients (severity, motivation, social support) cannot produce it. The *between-client*
   odds ratio compares clients whose *average* alliance is higher with clients whose average is lower: a
   statement about kinds of clients, open to confounding by everything else that differs between them.
3. A binary outcome carries its information in the rarer category. With a handful of abstinent weeks the model
   is not identified, and glmer (like our engine) returns runaway estimates rather than an error.
4. Why an intraclass correlation of a logistic model uses π²/3: the model is a threshold model for a latent
   continuous propensity whose residual follows the standard logistic distribution, with variance π²/3.
5. Mixed-model odds ratios are *conditional* (for a given client); population-averaged ones are closer to 1
   (Zeger, Liang & Albert 1988).
6. Counts: Poisson or negative binomial? Check the dispersion first. The negative binomial can only add
   variance; when the counts vary *less* than Poisson says, it collapses onto the Poisson model.

The data are simulated (``allianceStats.data.example``; see its codebook): ``days_use`` is the number of days of
use in the week before the session, derived from the percent days abstinent. Every number printed here is
computed from the data, so the script still reads correctly if the example data are regenerated.

References: Bates, Mächler, Bolker & Walker (2015) *J. Stat. Softw.* 67(1); Bolker et al. (2009) *Trends Ecol.
Evol.* 24(3); Curran & Bauer (2011) *Annu. Rev. Psychol.* 62; Nakagawa, Johnson & Schielzeth (2017) *J. R. Soc.
Interface* 14; Raudenbush & Bryk (2002) *Hierarchical Linear Models*, 2nd ed.; Peduzzi et al. (1996) *J. Clin.
Epidemiol.* 49(12); Zeger, Liang & Albert (1988) *Biometrics* 44(4); Hilbe (2011) *Negative Binomial Regression*,
2nd ed.
"""
import math
import warnings

import pandas as pd

import allianceStats as als
from allianceStats.data.example import make_example
from allianceStats.errors import AllianceStatsError

pd.set_option("display.width", 120)


def fit_and_note(data, formula, family):
    """Fit a GLMM and collect its warnings, so that we can read and discuss them instead of letting them scroll past.

    Renamed-name warnings (FutureWarning) still stop the script, as everywhere in analyses/.
    """
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        warnings.simplefilter("error", FutureWarning)
        res = als.fit_glmm(data, formula, family=family)
    return res, [f"{w.category.__name__}: {w.message}" for w in caught]


def ratio_table(res):
    """The fixed effects with their odds (or rate) ratios and Wald intervals, one row per term."""
    ratios = res.ratios()
    out = res.params[["term", "estimate", "std_error", "p_value"]].merge(ratios, on="term")
    return out.rename(columns={"ratio": ratios.attrs["kind"].replace(" ", "_")})


def show(res, notes, title):
    print(f"\n{title}\n   {res.formula}   [{res.family}/{res.link}; n = {res.n_obs} weeks; "
          f"converged: {res.converged}; singular: {res.singular}]")
    print(ratio_table(res).to_string(index=False, float_format=lambda v: f"{v:.3g}"))
    print("   random effects (SD on the link scale): "
          + ", ".join(f"{g} {sd:.3g}" for g, sd in zip(res.varcomp.group, res.varcomp.sdcor)))
    for note in notes:
        print(f"   note — {note}")


# --- Step 1. Load the data and look at the outcome ------------------------------------------------------------
# One row per attended session. days_use (0-7) counts the days of use in the week BEFORE the session; the
# alliance is rated AT the session. Before choosing a model, look at how the outcome is distributed.
sessions = als.load_example()
_, truth = make_example()  # the simulation's population values, to check an answer against in Step 4b
print(f"Step 1: {len(sessions)} sessions, {sessions.client.nunique()} clients, "
      f"{sessions.therapist.nunique()} therapists; days_use missing in {sessions.days_use.isna().sum()} rows")
counts = sessions.days_use.value_counts().sort_index()
print("   weeks by days of use: " + ", ".join(f"{int(k)}: {v}" for k, v in counts.items()))
print(f"   mean {sessions.days_use.mean():.2f} days, variance {sessions.days_use.var():.2f}")

# --- Step 2. Derive the outcomes, split the alliance ------------------------------------------------------------
# any_use: 1 for a week with at least one day of use, 0 for an abstinent week (missing stays missing).
# days_free: the days without use, the second column of cbind(successes, failures) for "days used out of 7".
# decompose() adds alliance_within (this session minus the client's own mean: state-like), alliance_between
# (the client's mean: trait-like), alliance_within_lag1 (last session's within part) and session0 (session - 1).
# We centre the client means at the average client, so the intercept refers to a client of average alliance
# at session 1 instead of to an alliance of 0, which no one has. Centring does not change any odds ratio.
parts = als.decompose(sessions, "alliance")
parts["any_use"] = (parts.days_use > 0).astype(float).where(parts.days_use.notna())
parts["days_free"] = 7 - parts.days_use
parts["alliance_between"] -= parts.groupby("client").alliance_between.first().mean()
rows = parts.dropna(subset=["days_use", "alliance_within"]).reset_index(drop=True)
sd_within = rows.alliance_within.std()
sd_between = rows.groupby("client").alliance_between.first().std()
print(f"\nStep 2: {len(rows)} weeks with both days of use and alliance; SD of the alliance within clients "
      f"{sd_within:.3f}, between clients {sd_between:.3f} (points on the 1-5 WAI-SR scale)")

# --- Step 3. (a) Any use this week: a binomial GLMM for a 0/1 outcome -----------------------------------------
# logit P(any use) = b0 + b1 alliance_within + b2 alliance_between + b3 session0 + therapist effect + client effect.
# exp(b1) and exp(b2) are odds ratios per alliance point. But first count the information: a 0/1 outcome
# tells the model something only through its rarer category. A common rule asks for ~10 cases of the rarer
# outcome per estimated parameter (Peduzzi et al. 1996) — here 4 fixed effects and 2 variances.
formula_any = "any_use ~ alliance_within + alliance_between + session0 + (1 | therapist) + (1 | client)"
use_weeks, abstinent_weeks = int(rows.any_use.sum()), int((rows.any_use == 0).sum())
abstinent_clients = rows.loc[rows.any_use == 0, "client"].nunique()
rarer = min(use_weeks, abstinent_weeks)
print(f"\nStep 3: weeks with any use {use_weeks}, abstinent weeks {abstinent_weeks} "
      f"(in {abstinent_clients} of {rows.client.nunique()} clients)")
try:
    any_use, notes = fit_and_note(rows, formula_any, "binomial")
except AllianceStatsError as err:  # e.g. no abstinent week at all: nothing to model
    any_use = None
    print(f"   the model cannot be fitted: {err}")
if any_use is not None:
    show(any_use, notes, "(a) any use this week")
    client_sd = float(any_use.varcomp.set_index("group").loc["client", "sdcor"])
    if rarer < 10 * any_use.n_par:
        # Why the estimates run away: a client who never had an abstinent week is fitted best by an ever larger
        # client intercept (P(use) -> 1), so the client variance, the intercept and the SEs grow until the
        # optimiser stops. It is the random-effects cousin of separation. glmer returns the same numbers on such
        # data: it is the data, not the software.
        print(f"   -> {rarer} abstinent week(s) for {any_use.n_par} parameters (rule of thumb: at least "
              f"{10 * any_use.n_par}). A client SD of {client_sd:.3g} on the logit scale means odds differing "
              f"by a factor of about e^{client_sd:.0f} between typical clients: the data cannot identify this "
              "model, so these odds ratios mean nothing. In these simulated data almost every week has some use.")
    else:
        print("   -> enough weeks in the rarer category to read this model as in Step 3b.")

# --- Step 3b. A binary outcome these data can answer: use on most days (4 or more of 7) -------------------------
# The same model for another 0/1 outcome, whose two categories both occur often. Everything in this step is
# what you would read in (a) on data with enough abstinent weeks.
rows["use_most_days"] = (rows.days_use >= 4).astype(float)
most = rows.use_most_days.sum()
print(f"\nStep 3b: weeks with use on 4+ days: {int(most)} of {len(rows)}")
most_days, notes = fit_and_note(
    rows, "use_most_days ~ alliance_within + alliance_between + session0 + (1 | therapist) + (1 | client)", "binomial")
show(most_days, notes, "(a') use on most days of the week")
tab = ratio_table(most_days).set_index("term")
or_w, or_b = tab.loc["alliance_within", "odds_ratio"], tab.loc["alliance_between", "odds_ratio"]
# One alliance point is a large swing within a client (several within-client SDs), so we also give the odds
# ratio per SD of each part: exp(b * SD) = OR ** SD.
print(f"   WITHIN: in a week whose session alliance is 1 point above this client's own average, the odds of "
      f"using on most days are {or_w:.2f} times the odds in the same client's other weeks "
      f"({or_w ** sd_within:.2f} per within-client SD of {sd_within:.2f}).")
print(f"   BETWEEN: of two clients whose average alliance differs by 1 point (and whose client and therapist "
      f"effects are equal), the one with the higher average has {or_b:.2f} times the other's odds of using on most "
      f"days in a given week ({or_b ** sd_between:.2f} per between-client SD of {sd_between:.2f}).")
# Conditional vs population-averaged: these odds ratios hold a client's random effect fixed (they compare
# weeks of one client, or two clients with the same random effect). Averaged over the population of clients,
# the logistic curve flattens and the odds ratio moves toward 1, by about 1 / sqrt(1 + c² σ²) on the log scale,
# c = 16√3 / (15π), σ² the sum of the random-intercept variances (Zeger, Liang & Albert 1988).
var_total = float(most_days.varcomp.vcov.sum())
shrink = 1 / math.sqrt(1 + (16 * math.sqrt(3) / (15 * math.pi)) ** 2 * var_total)
print(f"   population-averaged (approx.): within OR {or_w ** shrink:.2f}, between OR {or_b ** shrink:.2f} "
      f"(log odds ratios times {shrink:.2f}); the mixed-model ORs above are for a given client")
# ICC on the latent scale. A logistic model is a threshold model: y = 1 when a latent propensity
# y* = Xb + therapist + client + e crosses 0, with e standard logistic, whose variance is π²/3 ≈ 3.29. A
# binomial GLMM estimates no residual variance (on the 0/1 scale it is p(1 - p), different for every week), so
# the latent scale fixes the session level at π²/3 and the ICC is σ²_client / (σ²_client + σ²_therapist + π²/3)
# (Nakagawa, Johnson & Schielzeth 2017). With a probit link it would be 1.
icc = most_days.icc()
print(f"   latent-scale ICCs (session-level variance π²/3 = {math.pi ** 2 / 3:.3f}):")
print(icc.to_string(index=False, float_format=lambda v: f"{v:.3f}"))

# --- Step 4. (b) Days used out of 7: a binomial GLMM for counts with a ceiling ----------------------------------
# cbind(days_use, days_free) gives each week 7 trials (days), as glmer reads it: the odds ratio is now about the
# odds of use on a given day. The ceiling matters: a Poisson model would allow 8 or 20 days in a week.
formula_days = ("cbind(days_use, days_free) ~ alliance_within + alliance_between + session0 "
                "+ (1 | therapist) + (1 | client)")
days, notes = fit_and_note(rows, formula_days, "binomial")
show(days, notes, "(b) days used out of 7")
tab = ratio_table(days).set_index("term")
print(f"   WITHIN: per alliance point above the client's own average, the odds of use on a day are "
      f"{tab.loc['alliance_within', 'odds_ratio']:.2f} times those of the same client's other weeks; BETWEEN: "
      f"{tab.loc['alliance_between', 'odds_ratio']:.2f} per point of average alliance.")
# Are the two really different? between - within on the log-odds scale is the "contextual" effect (Raudenbush &
# Bryk 2002): what the client's average adds beyond the session-to-session association.
cov = days.vcov.loc[["alliance_within", "alliance_between"], ["alliance_within", "alliance_between"]].to_numpy()
diff = tab.loc["alliance_between", "estimate"] - tab.loc["alliance_within", "estimate"]
se_diff = math.sqrt(cov[0, 0] + cov[1, 1] - 2 * cov[0, 1])
p_diff = math.erfc(abs(diff / se_diff) / math.sqrt(2))
print(f"   between minus within (log odds): {diff:.3f} (SE {se_diff:.3f}, Wald p = {p_diff:.2g})")
# A binomial model fixes the variance of days_use at 7 p (1 - p) given the random effects. Pearson's χ²/df
# checks that: > 1 (common in real data: many clients abstain all week or use daily) makes the SEs too small —
# add an observation-level random effect (1 | week id) or use a beta-binomial model; < 1 makes them too large.
pearson = float((days.residuals("pearson") ** 2).sum() / (days.n_obs - days.n_par))
verdict = ("overdispersed: SEs too small" if pearson > 1.1 else
           "underdispersed: SEs conservative" if pearson < 0.9 else "close to binomial")
print(f"   Pearson chi2/df = {pearson:.2f} ({verdict})")
if pearson < 0.9:
    print("   (days_use here is the rounded percent days abstinent of a smooth simulated process, so it varies "
          "less than 7 independent days would)")
# The latent-scale ICC of this model is about single days (π²/3 is the latent variance of one day), so it is
# not comparable with Step 3b's ICC of whole weeks.
print(f"   latent-scale ICC of a day: client {days.icc().icc.iloc[0]:.3f}")

# --- Step 4b. Timing: the alliance should come before the use it predicts --------------------------------------
# days_use covers the week BEFORE the session, and the alliance is rated AT the session: in (a) and (b) the
# within-client alliance comes after the use. Last session's within part (alliance_within_lag1) precedes the
# week of use, which is the order a mechanism claim needs (as in analysis 02). It is missing at each client's
# first session and after a missed session, so the model uses fewer weeks.
lagged_rows = parts.dropna(subset=["days_use", "alliance_within_lag1"]).reset_index(drop=True)
lagged, notes = fit_and_note(
    lagged_rows, "cbind(days_use, days_free) ~ alliance_within_lag1 + alliance_between + session0 "
    "+ (1 | therapist) + (1 | client)", "binomial")
show(lagged, notes, "(b, lagged) days used out of 7 after last session's alliance")
lag_row = ratio_table(lagged).set_index("term").loc["alliance_within_lag1"]
print(f"   after a session whose alliance was 1 point above the client's own average, the odds of use on a "
      f"day of the next week are {lag_row.odds_ratio:.2f} times those after the client's other sessions "
      f"(95% CI {lag_row.ci_lower:.2f} to {lag_row.ci_upper:.2f}).")
print(f"   The simulation makes last session's alliance raise this week's percent days abstinent by "
      f"{truth['params']['alliance_to_outcome']:g} points per alliance point within clients (about "
      f"{0.07 * truth['params']['alliance_to_outcome']:.2f} fewer days of use), so an odds ratio below 1 is what "
      "it should find. The same-session alliance of (b) is rated after the week of use: it can reflect that week, "
      "not cause it.")

# --- Step 5. (c) Days as a count: Poisson or negative binomial? ------------------------------------------------
# A Poisson model says Var(y) = mean given the random effects; the negative binomial (NB2) adds μ²/θ, for counts
# that vary more than that (drinks per week usually do). Check first: Pearson's χ²/df of the Poisson fit
# (fit_glmm warns when it is clearly above 1). Then compare the two fits.
formula_count = "days_use ~ alliance_within + alliance_between + session0 + (1 | therapist) + (1 | client)"
poisson, notes_p = fit_and_note(rows, formula_count, "poisson")
show(poisson, notes_p, "(c) days of use as a Poisson count")
od = poisson.overdispersion
print(f"   Poisson dispersion: Pearson chi2/df = {od.ratio:.2f} (chi2 = {od.chisq:.1f} on {od.df} df, "
      f"p for overdispersion = {od.p_value:.2g})")
negbin, notes_nb = fit_and_note(rows, formula_count, "negative_binomial")
show(negbin, notes_nb, "(c) days of use as a negative binomial (NB2) count")
lr = max(2 * (negbin.loglik - poisson.loglik), 0.0)
# θ cannot be infinite in the NB2 model, so Poisson sits on its boundary: the LR p-value is halved.
p_lr = 0.5 * math.erfc(math.sqrt(lr / 2))
print("\n   family             logLik      AIC   theta   converged")
for name, res in (("poisson", poisson), ("negative binomial", negbin)):
    theta = "" if res.theta is None else f"{res.theta:.3g}"
    print(f"   {name:17s} {res.loglik:8.2f} {res.aic:8.1f} {theta:>7s}   {res.converged}")
print(f"   LR test of NB2 against Poisson: chi2 = {lr:.3g}, p = {p_lr:.2g} (boundary: half a chi2(1) tail)")
if od.overdispersed and negbin.converged:
    chosen = negbin
    print("   -> the counts are overdispersed: report the negative binomial model.")
else:
    chosen = poisson
    if od.ratio < 1:
        print(f"   -> the counts vary LESS than Poisson says (chi2/df {od.ratio:.2f}). NB2 can only add variance, so "
              f"its θ runs toward infinity (here {negbin.theta:.3g}), where NB2 is the Poisson model: same "
              "log-likelihood, and no finite curvature in θ to give SEs. Report Poisson; its SEs are conservative.")
    else:
        print("   -> no evidence of overdispersion: the Poisson model is enough.")
rate = ratio_table(chosen).set_index("term")
print(f"   rate ratios ({chosen.family}): within {rate.loc['alliance_within', 'rate_ratio']:.2f}, between "
      f"{rate.loc['alliance_between', 'rate_ratio']:.2f} per alliance point — the expected number of days of "
      "use is multiplied by these. For days out of 7 the binomial model (b) respects the ceiling; counts "
      "without one (drinks per week) are where Poisson and NB2 belong.")

# --- Summary ---------------------------------------------------------------------------------------------------
print("\nSummary")
print(f" - any use (0/1): {abstinent_weeks} abstinent week(s) in {len(rows)}; "
      + ("too few to identify the model." if any_use is None or rarer < 10 * any_use.n_par
         else "enough to estimate the odds ratios."))
print(f" - days out of 7 (binomial): within-client OR {tab.loc['alliance_within', 'odds_ratio']:.2f}, "
      f"between-client OR {tab.loc['alliance_between', 'odds_ratio']:.2f} per alliance point; "
      f"lagged within-client OR {lag_row.odds_ratio:.2f}.")
print(" - The within OR is about weeks of the same client (a mechanism-like, state question); the between OR "
      "is about clients who differ on average (a trait question, open to confounding by stable client "
      "differences). They need not agree: here the between-minus-within difference has Wald "
      f"p = {p_diff:.2g}.")
print(f" - counts: Pearson chi2/df of the Poisson fit {od.ratio:.2f}; model reported: {chosen.family}.")
print("   All odds and rate ratios are conditional on the client and therapist (Step 3b).")
