"""Worked analysis 7 — reproduce lme4's ``sleepstudy`` results with allianceStats.fit_mlm.

Run it from the repository root:  .venv/bin/python analyses/07_reproduce_sleepstudy.py

What a student learns here
--------------------------
1. How an lme4 formula reads: ``Reaction ~ Days + (Days | Subject)`` = a fixed intercept and slope for
   Days, plus a random intercept and a random Days slope for every Subject, allowed to correlate.
2. What a mixed model reports: fixed effects with Satterthwaite degrees of freedom (as R's lmerTest),
   variance components (as ``as.data.frame(VarCorr(fit))``), the REML criterion, AIC and BIC, and each
   subject's own deviation from the average line (the BLUPs, ``ranef``).
3. How to check a Python result against R: the R numbers printed beside ours were written by
   ``tests/mixed/fixtures/make_fixtures.R`` (lme4 + lmerTest, versions inside the JSON); nothing was typed
   by hand. The data are lme4's ``sleepstudy`` (Belenky et al. 2003), written to CSV by the same script.
"""
import json
from pathlib import Path

import pandas as pd

import allianceStats as als

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = ROOT / "tests" / "mixed" / "fixtures"

# --- Step 1. Load the data --------------------------------------------------------------------------------
# 18 subjects, reaction time (ms) on 10 days of sleep deprivation. Subject ids are text, not numbers:
# reading them as strings keeps them a grouping factor.
sleep = pd.read_csv(FIXTURES / "sleepstudy.csv", dtype={"Subject": str})
reference = json.loads((FIXTURES / "reference.json").read_text())
print(f"Step 1: {len(sleep)} rows, {sleep.Subject.nunique()} subjects; reference from {reference['R_version']}, "
      f"lme4 {reference['packages']['lme4']}, lmerTest {reference['packages']['lmerTest']}")


def side_by_side(ours: pd.Series, r_values, label: str) -> None:
    """Print our numbers beside R's and the largest relative difference."""
    table = pd.DataFrame({"allianceStats": ours.to_numpy(), "R": r_values}, index=ours.index)
    table["rel. diff"] = (table["allianceStats"] - table["R"]).abs() / table["R"].abs()
    print(f"\n{label}\n{table.to_string(float_format=lambda v: f'{v:.8g}')}")


# --- Step 2. Random intercept and slope, REML (lme4's default) ---------------------------------------------
# REML corrects the variance estimates for the two fixed effects estimated from the same data
# (as n - 1 does for a sample variance).
# The table comes first, then the formula: fit_mlm(data, formula). lme4's own order, lmer(formula, data),
# is read the same way.
fit = als.fit_mlm(sleep, "Reaction ~ Days + (Days | Subject)", reml=True)
ref = reference["sleep_rs_reml"]
print("\nStep 2: " + fit.summary().replace("\n", "\n        "))
params = fit.params.set_index("term")
side_by_side(params["estimate"], ref["estimate"], "Fixed effects (lme4::fixef)")
side_by_side(params["std_error"], ref["std_error"], "Standard errors")
side_by_side(params["df"], ref["df"], "Satterthwaite df (lmerTest)")
side_by_side(fit.varcomp.set_index(["group", "var1", "var2"])["vcov"], ref["varcomp"]["vcov"],
             "Variance components (as.data.frame(VarCorr(fit))$vcov)")
print(f"\nREML criterion: allianceStats {fit.deviance:.10f}   R {ref['deviance']:.10f}")

# --- Step 3. The same model by maximum likelihood ----------------------------------------------------------
# ML is what you need to compare models with different fixed effects by a likelihood-ratio test.
fit_ml = als.fit_mlm(sleep, "Reaction ~ Days + (Days | Subject)", reml=False)
ref_ml = reference["sleep_rs_ml"]
print(f"\nStep 3 (ML): logLik {fit_ml.loglik:.8f} (R {ref_ml['loglik']:.8f}); AIC {fit_ml.aic:.6f} "
      f"(R {ref_ml['aic']:.6f}); BIC {fit_ml.bic:.6f} (R {ref_ml['bic']:.6f})")

# --- Step 4. Each subject's own line (BLUPs) ---------------------------------------------------------------
# ranef() gives how far each subject's intercept and slope lie from the average line; the first rows:
blups = fit.ranef()["Subject"]
r_blups = pd.DataFrame(ref["ranef"]["Subject"]["values"], index=ref["ranef"]["Subject"]["level"])
print("\nStep 4: BLUPs, ours then R's (first 5 subjects)")
print(pd.concat([blups.head(), r_blups.head().add_prefix("R ")], axis=1).to_string(float_format=lambda v: f"{v:.6f}"))

# --- Step 5. A simpler model: random intercept only ---------------------------------------------------------
fit_ri = als.fit_mlm(sleep, "Reaction ~ Days + (1 | Subject)")
ref_ri = reference["sleep_ri_reml"]
print(f"\nStep 5: random intercept only, REML criterion {fit_ri.deviance:.8f} (R {ref_ri['deviance']:.8f}); "
      f"Days df {fit_ri.params.df.iloc[1]:.6f} (R {ref_ri['df'][1]:.6f})")

worst = max(
    (params["estimate"] - ref["estimate"]).abs().div(pd.Series(ref["estimate"], index=params.index).abs()).max(),
    abs(fit.deviance - ref["deviance"]),
)
print(f"\nLargest difference from R in this script's headline numbers: {worst:.2e}")
if worst > 1e-5:
    raise SystemExit("allianceStats does not reproduce lme4 here; please report this.")
