"""Worked analysis 2 — does the alliance predict the next session's outcome within clients?

Run it from the repository root:  .venv/bin/python analyses/02_multilevel_within_between.py

What a student learns here
--------------------------
1. How much of the alliance and of the outcome lies between therapists, between clients and between
   sessions (intraclass correlations of the empty model; Snijders & Bosker 2012).
2. The within/between model (Curran & Bauer 2011; Falkenström et al. 2017): the alliance at the previous
   session, as the client's deviation from their own mean, predicts the outcome *within* clients (the
   alliance as a mechanism); the client's mean alliance predicts it *between* clients (the alliance as a
   trait of the client). They answer different questions and can differ in size.
3. How much variance each part explains (R²: Nakagawa & Schielzeth 2013; Rights & Sterba 2019).
4. How to test one model against another (likelihood ratio; why REML fits are refitted by ML), and the
   profile-likelihood confidence interval built on the same idea.
5. Why adding the previous outcome is delicate: the mixed model and the econometric fixed-effects estimator
   are biased in opposite directions (Nickell 1981), and the simulated data let us see it.

The data are simulated (``allianceStats.data.example``), so we know the true values and can check each
answer against them.
"""
import warnings

import allianceStats as als
from allianceStats.data.example import make_example
from allianceStats.errors import BoundaryWarning

# --- Step 1. Load the data and the truth behind them --------------------------------------------------
# load_example() gives the validated session table (200 clients of 20 therapists, up to 10 sessions);
# make_example() regenerates the same table together with the population values used to simulate it.
sessions = als.load_example()
_, truth = make_example()
print(f"Step 1: {len(sessions)} sessions, {sessions.client.nunique()} clients, "
      f"{sessions.therapist.nunique()} therapists")

# --- Step 2. Intraclass correlations --------------------------------------------------------------------
# The empty model y = mean + therapist effect + client effect + session residual splits the variance into
# three parts. "same_client" is the correlation of two sessions of one client. A large client share says:
# sessions of one client are far from independent, so ordinary regression would overstate the evidence.
for measure in ["alliance", "outcome"]:
    iccs = als.icc(sessions, measure, therapist="therapist")   # an ICCResult: .table, .converged, .singular
    print(f"\nStep 2: ICCs of {measure} (three levels, REML; converged: {iccs.converged})")
    print(iccs.table[["level", "icc", "variance", "ci_lower", "ci_upper"]].round(3).to_string(index=False))
    realised_t = truth["therapist_effects"][measure].var()
    realised_c = truth["client_effects"][measure].var()
    print(f"   simulation: variance of the realised therapist effects {realised_t:.3f}, of the client "
          f"effects {realised_c:.3f}")
# The alliance estimates sit close to the simulated effects. The outcome's therapist variance comes out
# larger: with only 20 therapists it is imprecise, and the empty model has no time trend, so therapists
# whose clients stay for more (later, better) sessions can look better. Step 4 adds time to the model.

# --- Step 3. Split the alliance into its parts, lag the within part --------------------------------------
# alliance_within = this session minus the client's own mean (state-like); alliance_between = the client's
# mean minus their therapist's mean (trait-like); alliance_therapist = the therapist's mean.
# alliance_within_lag1 is last session's within part, so the alliance is measured BEFORE the outcome it
# predicts; it is missing at the first session and after a missed session (lags go by session number).
parts = als.decompose(sessions, "alliance", therapist="therapist")
print("\nStep 3: one client's alliance, decomposed and lagged")
print(parts[["client", "session", "alliance", "alliance_within", "alliance_between", "alliance_within_lag1"]]
      .head(4).round(3).to_string(index=False))

# --- Step 4. The within/between model -------------------------------------------------------------------
# The table comes first, then the model in lme4 syntax: fixed effects, then (1 | client) and (1 | therapist) for
# random intercepts per client and per therapist. The t tests use Satterthwaite degrees of freedom (as lmerTest in R).
# We fit it on rows where the lagged alliance exists, so that every model below uses the same rows.
rows = parts.dropna(subset=["outcome", "alliance_within_lag1", "alliance_between"]).reset_index(drop=True)
formula = ("outcome ~ alliance_within_lag1 + alliance_between + alliance_therapist + session0 "
           "+ (1 | client) + (1 | therapist)")
within_between = als.fit_mlm(rows, formula)
print("\nStep 4: within/between model\n" + within_between.summary())
print(f"   simulated truth: lagged within-client alliance effect {truth['params']['alliance_to_outcome']} "
      "(a direct path; the estimate also carries paths through the sessions in between)")

# Step 4b. A second kind of confidence interval. The Wald interval in the table is estimate ± t × SE. A
# profile-likelihood interval instead asks which values of the coefficient the data do not reject in a
# likelihood-ratio test (lme4's confint(method = "profile")); when the two agree, the normal approximation
# behind the Wald interval is fine.
wald = within_between.params.set_index("term").loc["alliance_within_lag1", ["ci_lower", "ci_upper"]]
profile = als.mixed.profile_ci(within_between, "alliance_within_lag1").iloc[0]
print(f"\nStep 4b: 95% CI of the lagged within-client alliance effect: Wald [{wald.ci_lower:.3f}, "
      f"{wald.ci_upper:.3f}], profile likelihood [{profile.ci_lower:.3f}, {profile.ci_upper:.3f}]")

# --- Step 5. Explained variance -------------------------------------------------------------------------
# Marginal R²: fixed effects only; conditional: fixed + random. Rights & Sterba's within_f1 is the share of
# the WITHIN-client variance explained by the within-client predictors — the number a mechanism claim needs.
fit_r2 = als.r2(within_between)
print("\nStep 5: R²\n" + fit_r2.summary())

# --- Step 6. Likelihood-ratio tests ---------------------------------------------------------------------
# (a) Does the alliance add anything to a time-only model? The fixed effects differ, so the REML fits are
#     refitted by maximum likelihood before comparing (REML likelihoods of different fixed parts are not
#     comparable) — the table's notes say so.
time_only = als.fit_mlm(rows, "outcome ~ session0 + (1 | client) + (1 | therapist)")
lrt = als.compare_mlm(time_only, within_between, names=["time only", "+ alliance parts"])
# compare_mlm returns a ComparisonResult: .table (one row per model; chisq_diff, df_diff and p_value are the
# likelihood-ratio test), .method and .notes. chisq / df (a model's own fit test, as in SEM) are empty here.
LRT_COLUMNS = ["model", "npar", "loglik", "aic", "bic", "deviance", "chisq_diff", "df_diff", "p_value"]
print("\nStep 6a: likelihood-ratio test of the alliance terms")
print(lrt.table[LRT_COLUMNS].to_string(index=False, float_format=lambda v: f"{v:.4g}"))
print(f"   {lrt.method}; notes:", "; ".join(lrt.notes))
# (b) Do clients differ in their change over time? Same fixed effects, so the REML likelihoods can be compared
#     directly: refit=False, as lme4's anova(..., refit = FALSE) (the default refits by ML, as lme4's anova()).
#     The variance is tested on its boundary (it cannot be negative): the p-value is conservative.
with warnings.catch_warnings():
    warnings.simplefilter("ignore", BoundaryWarning)  # we look at the estimate ourselves below
    slope = als.fit_mlm(rows, formula.replace("(1 | client)", "(1 + session0 | client)"))
lrt_slope = als.compare_mlm(within_between, slope, names=["random intercepts", "+ random time slope"], refit=False)
print("\nStep 6b: likelihood-ratio test of a random slope of time")
print(lrt_slope.table[LRT_COLUMNS].to_string(index=False, float_format=lambda v: f"{v:.4g}"))
slope_sd = slope.random_cov["client"].loc["session0", "session0"] ** 0.5
print(f"   estimated SD of the clients' time slopes: {slope_sd:.3f} points per session"
      f"{' (a boundary fit: see slope.varcomp)' if slope.singular else ''}")

# --- Step 7. Adding the previous outcome: mixed model vs fixed effects ----------------------------------
# fit_alliance_outcome() builds the lags itself and fits the model two ways on the same rows: the mixed
# model, and linearmodels' PanelOLS with client fixed effects (the econometric "within" estimator).
# With the lagged outcome as a predictor and few sessions per client, the fixed-effects estimate of its
# coefficient is biased DOWN by about (1 + rho)/(T - 1) (Nickell 1981). The mixed estimate tends to err
# UP (the lagged outcome carries the client's stable level, which the model assumes unrelated to the
# predictors). Neither is the estimate to report for this coefficient; the comparison shows how much the
# choice matters.
with warnings.catch_warnings():
    warnings.simplefilter("ignore", BoundaryWarning)  # reported in the result's notes instead
    dynamic = als.fit_alliance_outcome(sessions, random_slope=False)
print("\nStep 7: " + dynamic.summary())
fe = dynamic.comparison.set_index(["estimator", "term"])
rho_fe = fe.loc[("fixed_effects", "outcome_lag1"), "estimate"]
rho_mixed = fe.loc[("mixed", "outcome_lag1"), "estimate"]
print(f"\n   previous-outcome coefficient: fixed effects {rho_fe:.3f}, mixed {rho_mixed:.3f}, "
      f"simulated truth {truth['params']['phi_outcome']}; fixed effects minus Nickell's approximate bias "
      f"{rho_fe - dynamic.nickell_bias:.3f}")
print("   For a consistent estimate of both paths use a dynamic panel model (analysis on ML-SEM, fit_dpm).")
