"""std_lv=True with group_equal on continuous items equals lavaan 0.6.14: lavaan frees the latent variances after the
first group when the loadings are equal (and the latent means when the intercepts are equal), the rule
build_partable applies for ordered and continuous items alike (fixture: make_std_lv_group_fixture.R)."""
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from allianceStats.sem import fit_sem

FIX = Path(__file__).resolve().parent / "fixtures" / "lavaan_habits"
REF = json.loads((FIX / "std_lv_group.json").read_text())
MODEL = "visual =~ x1 + x2 + x3\ntextual =~ x4 + x5 + x6\nspeed =~ x7 + x8 + x9"
CASES = [k for k, v in REF.items() if isinstance(v, dict) and "group_equal" in v]
STRUCTURAL = [k for k in REF if k.startswith("orthogonal_structural")]


@pytest.fixture(scope="module")
def hs():
    return pd.read_csv(FIX / "hs.csv")


def _unordered(table):
    """A covariance is the same row whichever variable lavaan writes first."""
    out = table.copy()
    cov = out["op"] == "~~"
    pair = out.loc[cov, ["lhs", "rhs"]].apply(sorted, axis=1, result_type="expand")
    out.loc[cov, "lhs"], out.loc[cov, "rhs"] = pair[0], pair[1]
    return out


@pytest.mark.parametrize("case", CASES)
def test_std_lv_with_group_equal_equals_lavaan(hs, case):
    ref = REF[case]
    fit = fit_sem(hs, MODEL, group="school", std_lv=True, group_equal=ref["group_equal"],
                  orthogonal=ref["orthogonal"])
    theirs = pd.DataFrame(ref["params"]).rename(columns={"est": "estimate", "se": "std_error"})
    ours = fit.params[["lhs", "op", "rhs", "group", "estimate", "std_error"]]
    merged = _unordered(theirs).merge(_unordered(ours), on=["lhs", "op", "rhs", "group"], suffixes=("_r", "_py"),
                                      how="left")
    assert merged["estimate_py"].notna().all(), merged[merged["estimate_py"].isna()]
    np.testing.assert_allclose(merged["estimate_py"], merged["estimate_r"], rtol=1e-5, atol=1e-5)
    free = merged["std_error_r"] > 0
    np.testing.assert_allclose(merged.loc[free, "std_error_py"], merged.loc[free, "std_error_r"], rtol=1e-4)
    assert int(fit.fit["npar"]) == int(ref["fit"]["npar"]) and int(fit.fit["df"]) == int(ref["fit"]["df"])
    assert fit.fit["chisq"] == pytest.approx(ref["fit"]["chisq"], rel=1e-5)
    # the latent variances of the second group are free (lavaan), not fixed at 1
    lv2 = ours[(ours["op"] == "~~") & (ours["lhs"] == ours["rhs"]) & ours["lhs"].isin(["visual", "textual", "speed"])
               & (ours["group"] == 2)]
    assert (lv2["std_error"] > 0).all()


@pytest.mark.parametrize("case", STRUCTURAL)
def test_orthogonal_with_a_structural_part_equals_lavaan(hs, case):
    ref = REF[case]
    fit = fit_sem(hs, ref["model"], orthogonal=True)
    assert int(fit.fit["npar"]) == int(ref["fit"]["npar"]) and int(fit.fit["df"]) == int(ref["fit"]["df"])
    assert fit.fit["chisq"] == pytest.approx(ref["fit"]["chisq"], rel=1e-5)
    theirs = _unordered(pd.DataFrame(ref["params"]).rename(columns={"est": "estimate"}))
    merged = theirs.merge(_unordered(fit.params[["lhs", "op", "rhs", "estimate"]]), on=["lhs", "op", "rhs"],
                          suffixes=("_r", "_py"), how="left")
    np.testing.assert_allclose(merged["estimate_py"], merged["estimate_r"], rtol=1e-5, atol=1e-5)
