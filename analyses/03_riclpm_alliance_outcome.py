"""Worked analysis 3 — does alliance drive outcome, outcome drive alliance, or both? RI-CLPM vs CLPM.

Run it from the repository root:  .venv/bin/python analyses/03_riclpm_alliance_outcome.py

What a student learns here
--------------------------
1. The question (docs/design.md Q1/Q2): when a client's alliance is better than usual in one session, is their
   outcome better than usual in the next one (alliance -> outcome)? And the other way round
   (outcome -> alliance: clients who are doing well rate the alliance higher)?
2. Why the ordinary cross-lagged panel model (CLPM) cannot answer that: its lagged paths mix two things,
   stable differences BETWEEN clients (some clients have a strong alliance and good outcomes throughout)
   and carry-over WITHIN a client from one session to the next. The random-intercept CLPM (RI-CLPM;
   Hamaker, Kuiper & Grasman, 2015) gives every client their own stable level on each variable (the
   random intercept) and models the session-to-session deviations from it (the within components); its
   cross-lagged paths are within-client effects.
3. How dropout is handled: clients who leave treatment keep the sessions they attended, and full
   information maximum likelihood (FIML) uses all of them, assuming the dropout depends on what was
   observed before (missing at random).
4. How to compare the two models, and why the usual chi-square difference test is conservative here
   (the random-intercept variances are 0 under the CLPM: a boundary value; Stoel et al., 2006).
5. How to hand the exact model to a reviewer who uses R (lavaan syntax and call).

Data: the bundled example (simulated, 200 clients of 20 therapists, up to 10 sessions, with dropout).
We use sessions 1-6; the specification follows Mulder & Hamaker (2021). Runs in a few seconds.
"""
import warnings

import allianceStats as als

VARIABLES = ["alliance", "outcome"]
SESSIONS = list(range(1, 7))

# --- Step 1. Load the sessions and see the dropout --------------------------------------------------------
# One row per attended session. A panel model needs one row per client with one column per variable and
# session (alliance_1 ... alliance_6); clients who left early keep their row, with empty later sessions.
sessions = als.load_example()
wide = als.to_wide(sessions, VARIABLES, client="client", session="session", waves=SESSIONS)
observed = wide[[f"outcome_{s}" for s in SESSIONS]].notna().sum()
print(f"Step 1: {len(wide)} clients; clients with an outcome at sessions 1-6: {observed.tolist()}")

# --- Step 2. Fit the RI-CLPM ------------------------------------------------------------------------------
# constraints="lagged": one alliance -> outcome effect and one outcome -> alliance effect for all session
# pairs (the process is assumed the same across sessions; Step 4 tests that assumption).
# The fit is FIML by default (missing="fiml", lavaan's missing = "ml").
riclpm = als.fit_riclpm(sessions, VARIABLES, client="client", session="session", waves=SESSIONS,
                        constraints="lagged")
f = riclpm.fit
print(f"\nStep 2: RI-CLPM chi-square({f['df']:.0f}) = {f['chisq']:.2f}, p = {f['pvalue']:.3f}, "
      f"CFI = {f['cfi']:.3f}, RMSEA = {f['rmsea']:.3f}  (converged: {riclpm.convergence.converged})")
# The table has one row per lagged path and session pair; with the constraint the estimates repeat, so
# we show the first pair. lhs/rhs are the lavaan names: w_outcome_3 ~ w_alliance_2 is the within-client
# effect of session-2 alliance on session-3 outcome.
cols = ["outcome", "predictor", "lhs", "rhs", "estimate", "std_error", "p_value", "ci_lower", "ci_upper"]
print("Cross-lagged (within-client) effects, sessions 1 -> 2 (equal for every pair):")
print(riclpm.cross_lagged.query("wave_from == 1")[cols].to_string(index=False, float_format="%.4f"))
print("Autoregressive (carry-over) effects:")
print(riclpm.autoregressive.query("wave_from == 1")[cols].to_string(index=False, float_format="%.4f"))

# riclpm.paths holds every lagged path (autoregressive and cross-lagged) in the package's one paths layout
# (lhs, op, rhs, label, estimate, ..., then kind, wave_from, wave_to, std_all). Standardized paths averaged over
# session pairs are what a path diagram shows: they put the alliance (1-5) and outcome (0-100 % days abstinent)
# effects on one scale.
print(f"All lagged paths: {len(riclpm.paths)} rows ({riclpm.paths['kind'].value_counts().to_dict()})")
print("Standardized paths for the diagram (averaged over session pairs):")
print(riclpm.path_summary()[["outcome", "predictor", "kind", "std_all", "min_p_value"]]
      .to_string(index=False, float_format="%.3f"))

# How large are the stable between-client differences? The random-intercept correlation says whether
# clients with a higher alliance level also have better outcomes overall (a trait-like association).
ri = riclpm.params.query("op == '~~' and lhs.str.startswith('RI_') and rhs.str.startswith('RI_')")
print("Random intercepts (between-client (co)variances; std_all of the covariance is their correlation):")
print(ri[["lhs", "rhs", "estimate", "std_error", "std_all"]].to_string(index=False, float_format="%.4f"))

# --- Step 3. The CLPM, and the comparison ---------------------------------------------------------------
# The CLPM is the same model without random intercepts. If the random intercepts matter, the CLPM fits
# much worse and its cross-lagged paths are contaminated by between-client differences.
clpm = als.fit_clpm(sessions, VARIABLES, client="client", session="session", waves=SESSIONS,
                   constraints="lagged")
# compare() returns a ComparisonResult; its .table has one row per model, the difference test on the second.
table = als.compare(riclpm, clpm).table
print("\nStep 3: CLPM vs RI-CLPM (chi-square difference test)")
print(table[["model", "df", "aic", "bic", "chisq", "chisq_diff", "df_diff", "p_value", "p_value_chibar"]]
      .to_string(index=False, float_format="%.4g"))
print("Note:", table["note"].iloc[1])
both = clpm.cross_lagged.query("wave_from == 1").set_index("outcome")["estimate"].rename("CLPM").to_frame()
both["RI-CLPM"] = riclpm.cross_lagged.query("wave_from == 1").set_index("outcome")["estimate"]
print("Cross-lagged estimates side by side (outcome of the path as row):")
print(both.to_string(float_format="%.4f"))

# --- Step 4. Are the lagged effects the same across sessions? ---------------------------------------------
# Fit the RI-CLPM with a separate effect for every session pair and compare: a non-significant difference
# supports the simpler, constrained model of Step 2.
with warnings.catch_warnings():
    warnings.simplefilter("ignore", als.BoundaryWarning)  # reported in the summary if it occurs
    free = als.fit_riclpm(sessions, VARIABLES, client="client", session="session", waves=SESSIONS)
step4 = als.compare(free, riclpm, names=["lagged effects free", "lagged effects equal"])
row = step4.table.iloc[1]
print(f"\nStep 4: equal vs free lagged effects: chi-square difference({row['df_diff']:.0f}) = "
      f"{row['chisq_diff']:.2f}, p = {row['p_value']:.3f}")

# --- Step 5. Hand the model to a reviewer -------------------------------------------------------------
# The exact lavaan syntax and call reproduce these numbers in R from the wide table.
print("\nStep 5: lavaan syntax (first lines) and the R call:")
print("\n".join(riclpm.to_lavaan().splitlines()[:6]) + "\n...")
print(riclpm.r_call("wide"))
