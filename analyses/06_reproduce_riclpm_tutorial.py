"""Worked analysis 6 — reproduce the RI-CLPM tutorial's published lavaan results (Mulder & Hamaker, 2021).

Run it from the repository root:  .venv/bin/python analyses/06_reproduce_riclpm_tutorial.py

What a student learns here
--------------------------
1. How the random-intercept cross-lagged panel model (RI-CLPM; Hamaker, Kuiper & Grasman, 2015) and its
   three extensions (Mulder & Hamaker, 2021) are specified: random intercepts RI_x, RI_y; within components
   w_x1 ... w_y5; lagged paths among the within components; (1) a time-invariant predictor z, (2) two
   groups with the lagged effects free or equal across groups, (3) three indicators per variable and wave
   with measurement invariance over time and across the between and within levels.
2. How to check a Python result against R: every lavaan number printed beside ours is read from the
   published lavaan 0.6.14 output (``reference/riclpm-tutorial/lavaan-0.6.14-output.txt``), none
   is typed. lavaan prints 3 decimals for fit measures (after a first rounding to 4, so 0.99846 shows as
   0.999) and 8 digits for estimates.
3. That the tutorial's data are wide (one row per person, columns x1..x5): ``wide=True`` with ``columns=``
   says which column is which wave.

The data are the tutorial's simulated data (N = 1189, five waves), published with the paper for reuse; a copy is
committed in ``reference/riclpm-tutorial/`` (its README gives the source, the columns of each file and the licence
situation), so the script runs from a clone.
"""
import importlib.util
import sys
from pathlib import Path

import pandas as pd

import allianceStats as als

ROOT = Path(__file__).resolve().parents[1]
REFERENCE = ROOT / "reference" / "riclpm-tutorial"
if not (REFERENCE / "lavaan-0.6.14-output.txt").exists():
    sys.exit(f"The tutorial data are missing from this checkout ({REFERENCE}); they are committed in "
             "reference/riclpm-tutorial/ — restore them with git (git checkout -- reference/).")

# The parser of lavaan's printed output is the one the test suite uses (tests/panel/panel_reference.py).
spec = importlib.util.spec_from_file_location("panel_reference", ROOT / "tests" / "panel" / "panel_reference.py")
reference = importlib.util.module_from_spec(spec)
spec.loader.exec_module(reference)
published = reference.parse_lavaan_output(REFERENCE / "lavaan-0.6.14-output.txt")
COLUMNS = reference.TUTORIAL_COLUMNS  # {"x": ["x1", ..., "x5"], "y": ["y1", ..., "y5"]}


def side_by_side(title: str, ours, section: str, show_paths: bool = True) -> None:
    """Fit measures, then the lagged paths, ours beside lavaan's printed values."""
    lav = published[section]
    fit = pd.DataFrame({"allianceStats": [ours.fit[k] for k in ("npar", "chisq", "df", "cfi", "tli", "rmsea",
                                                                  "srmr", "loglik", "aic", "bic")],
                        "lavaan 0.6.14": [lav["fit"][k] for k in ("npar", "chisq", "df", "cfi", "tli", "rmsea",
                                                                   "srmr", "logl", "aic", "bic")]},
                       index=["npar", "chisq", "df", "cfi", "tli", "rmsea", "srmr", "loglik", "aic", "bic"])
    print(f"\n=== {title} ===\n{fit.to_string(float_format=lambda v: f'{v:.4f}')}")
    if not show_paths:
        return
    printed = {(reference.tutorial_name(r["lhs"]), reference.tutorial_name(r["rhs"]), r["group"]): r
               for r in lav["params"] if r["op"] == "~"}
    paths = pd.concat([ours.autoregressive, ours.cross_lagged]).sort_values(["group", "wave_to", "lhs", "rhs"])
    paths = paths.head(8)  # the first two lags; the rest follow the same pattern
    paths["lavaan est"] = [printed[(r.lhs, r.rhs, r.group)]["est"] for r in paths.itertuples()]
    paths["lavaan se"] = [printed[(r.lhs, r.rhs, r.group)]["se"] for r in paths.itertuples()]
    print(paths[["group", "lhs", "rhs", "estimate", "lavaan est", "std_error", "lavaan se"]]
          .to_string(index=False, float_format=lambda v: f"{v:.8f}"))


xy = [*COLUMNS["x"], *COLUMNS["y"]]
dat = pd.read_csv(REFERENCE / "RICLPM.dat", sep=r"\s+", header=None, names=xy)

# --- Step 1. The basic RI-CLPM and the CLPM ---------------------------------------------------------------
basic = als.fit_riclpm(dat, ["x", "y"], wide=True, columns=COLUMNS)
side_by_side("RI-CLPM (published: chi-square(21) = 25.806)", basic, "RICLPM.fit (basic, added)")
clpm = als.fit_clpm(dat, ["x", "y"], wide=True, columns=COLUMNS)
side_by_side("CLPM", clpm, "CLPM.fit")
# The CLPM is the RI-CLPM with the random-intercept variances fixed at 0: a test on the boundary.
# compare() returns a ComparisonResult; .table has one row per model and the difference test on the second.
print(als.compare(basic, clpm).table[["model", "df", "chisq", "chisq_diff", "df_diff", "p_value", "p_value_chibar"]]
      .to_string(index=False, float_format="%.4g"))

# --- Step 2. Constraints over time ("RICLPM5": lagged effects, residual (co)variances and means equal) ----
stationary = als.fit_riclpm(dat, ["x", "y"], wide=True, columns=COLUMNS, constraints="stationary",
                            equal_means=True)
side_by_side("RI-CLPM with everything equal over time (RICLPM5)", stationary, "RICLPM5.fit")

# --- Step 3. Extension 1: a time-invariant predictor z1, on the observed variables or on the RIs --------
datz = pd.read_csv(REFERENCE / "RICLPM-Z.dat", sep=r"\s+", header=None, names=[*xy, "z2", "z1"])
for on, section in (("observed", "RICLPM.ext1.fit"), ("ri", "RICLPM1.ext1.fit")):
    res = als.fit_riclpm(datz, ["x", "y"], wide=True, columns=COLUMNS, predictors="z1", predictors_on=on)
    side_by_side(f"Extension 1: z1 predicts the {on} variables", res, section, show_paths=False)
    print(res.params.query("op == '~' and rhs == 'z1'")[["lhs", "op", "rhs", "label", "estimate", "std_error"]]
          .drop_duplicates("label" if on == "observed" else "lhs").to_string(index=False))

# --- Step 4. Extension 2: two groups; are the lagged effects equal across groups? -------------------------
datmg = pd.read_csv(REFERENCE / "RICLPM-MG.dat", sep=r"\s+", header=None, names=[*xy, "G"])
free = als.fit_riclpm(datmg, ["x", "y"], wide=True, columns=COLUMNS, group="G")
equal = als.fit_riclpm(datmg, ["x", "y"], wide=True, columns=COLUMNS, group="G", group_equal="lagged")
side_by_side("Extension 2: lagged effects free across groups", free, "RICLPM.ext2.fit", show_paths=False)
side_by_side("Extension 2: lagged effects equal across groups", equal, "RICLPM1.ext2.fit", show_paths=False)
print(als.compare(free, equal, names=["free", "equal"]).table[["model", "df", "chisq", "chisq_diff", "df_diff",
                                                                "p_value"]].to_string(index=False, float_format="%.4g"))

# --- Step 5. Extension 3: three indicators per variable; invariance across the between and within level --
# Strong invariance over time (equal loadings and intercepts); then the between level as one factor per
# variable with the SAME loadings as the within level. The paper reports chi-square difference(18) = 17.23,
# p = .508: the constructs mean the same thing between and within persons.
names = [f"{v}{t}{j}" for v in "xy" for t in range(1, 6) for j in (1, 2, 3)]
datmi = pd.read_csv(REFERENCE / "RICLPM-MI.dat", sep=r"\s+", header=None, names=names)
spec3 = dict(wide=True, indicators={"x": ["x_a", "x_b", "x_c"], "y": ["y_a", "y_b", "y_c"]}, invariance="strong",
             columns={v: [[f"{v}{t}{j}" for j in (1, 2, 3)] for t in range(1, 6)] for v in "xy"})
# With one random intercept per indicator, the six intercepts are nearly collinear: the covariance matrix of
# the latent variables is not positive definite (lavaan warns the same on this model); the warning is kept
# visible on purpose.
within_only = als.fit_riclpm(datmi, ["x", "y"], **spec3)
across_levels = als.fit_riclpm(datmi, ["x", "y"], between="factor", **spec3)
test = als.compare(within_only, across_levels, names=["strong (time)", "+ between = within"]).table
print("\n=== Extension 3: invariance across levels (published: chi-square difference(18) = 17.23, p = .508) ===")
print(test[["model", "df", "chisq", "chisq_diff", "df_diff", "p_value"]].to_string(index=False, float_format="%.4g"))
