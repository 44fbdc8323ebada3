"""fit_sem against lavaan 0.6.14 on committed, seeded data (fixtures/make_fixtures.R writes the JSON).

Tolerances, per quantity: estimates 1e-5 (absolute, or relative for |estimate| > 1); standard errors, std_all
and fit indices 1e-4 (same rule); log-likelihoods 1e-6 relative. The optimum is found to ~1e-9 by both
programs, so these bounds leave room only for lavaan's own convergence tolerance.
"""
import json
import sys
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from allianceStats.sem import compare_sem, fit_sem

FIX = Path(__file__).resolve().parent / "fixtures"
REF = json.loads((FIX / "lavaan_fixtures.json").read_text())
CASES = ["cfa_fiml", "cfa_listwise", "path_fiml", "path_fiml_mlr", "path0_fiml_mlr", "path_listwise_mlr",
         "riclpm_fiml", "clpm_fiml", "mg_fiml", "mg_fiml_mlr", "riclpm_fiml_mlr", "cfa_listwise_mlr",
         "cfa_stdlv_fiml", "latent_regression_fiml", "mg_cfa_fiml", "mimic_xmiss_fiml",
         "auto_cov_y_fiml", "equality_fiml"]
FIT_KEYS = {"npar": "npar", "chisq": "chisq", "df": "df", "pvalue": "pvalue", "baseline_chisq": "baseline.chisq",
            "baseline_df": "baseline.df", "cfi": "cfi", "tli": "tli", "rmsea": "rmsea",
            "rmsea_ci_lower": "rmsea.ci.lower", "rmsea_ci_upper": "rmsea.ci.upper",
            "rmsea_pvalue": "rmsea.pvalue", "srmr": "srmr",
            "aic": "aic", "bic": "bic"}
SCALED_KEYS = {"chisq_scaled": "chisq.scaled", "chisq_scaling_factor": "chisq.scaling.factor",
               "pvalue_scaled": "pvalue.scaled", "baseline_chisq_scaled": "baseline.chisq.scaled",
               "cfi_scaled": "cfi.scaled", "tli_scaled": "tli.scaled", "rmsea_scaled": "rmsea.scaled",
               "rmsea_ci_lower_scaled": "rmsea.ci.lower.scaled", "rmsea_ci_upper_scaled": "rmsea.ci.upper.scaled"}


def close(a, b, tol):
    a, b = np.asarray(a, float), np.asarray(b, float)
    return np.abs(a - b) <= tol * np.maximum(1.0, np.abs(b))


_cache = {}


def fitted(case):
    if case not in _cache:
        ref = REF[case]
        data = pd.read_csv(FIX / ref["data"])
        args = ref["args"]
        kw = dict(missing="fiml" if args["missing"] == "ml" else "listwise",
                  estimator=args.get("estimator", "ML"), group=args.get("group"),
                  defaults="sem" if ref["call"] == "sem" else "none", meanstructure=True)  # as make_fixtures.R
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            _cache[case] = fit_sem(ref["model"], data, **kw)
    return _cache[case]


def _ref_params(case):
    """lavaan's parameter rows; its '==' bookkeeping rows (constraint values, always 0) are left out."""
    ref = pd.DataFrame(REF[case]["params"])
    return ref[ref["op"] != "=="].reset_index(drop=True)


def merged(case):
    ref = _ref_params(case)
    ours = fitted(case).params.copy()
    ref = ref.replace({None: np.nan})
    if fitted(case).group:
        ours["group"] = ours["group"]
    key = ["lhs", "op", "rhs", "group"]
    ours.loc[ours["op"] == "~~", ["lhs", "rhs"]] = ours.loc[ours["op"] == "~~", ["lhs", "rhs"]].to_numpy()
    m = ref.merge(ours, on=key, how="left", suffixes=("_r", ""), indicator=True)
    swapped = m["_merge"] == "left_only"
    if swapped.any():
        alt = ours.rename(columns={"lhs": "rhs", "rhs": "lhs"})
        m2 = ref[swapped.to_numpy()].merge(alt, on=key, how="left", suffixes=("_r", ""))
        m = pd.concat([m[~swapped].drop(columns="_merge"), m2], ignore_index=True)
    else:
        m = m.drop(columns="_merge")
    return m


@pytest.mark.parametrize("case", CASES)
def test_parameter_estimates(case):
    m = merged(case)
    assert len(m) == len(_ref_params(case))
    assert m["estimate"].notna().all(), "a lavaan parameter is missing from our table"
    ok = close(m["estimate"], m["est"], 1e-5)
    assert ok.all(), m.loc[~ok, ["lhs", "op", "rhs", "group", "est", "estimate"]]


@pytest.mark.parametrize("case", CASES)
def test_standard_errors_and_tests(case):
    m = merged(case)
    ok = close(m["std_error"], m["se"], 1e-4)
    assert ok.all(), m.loc[~ok, ["lhs", "op", "rhs", "group", "se", "std_error"]]
    has_z = m["z"].notna()
    assert close(m.loc[has_z, "statistic"], m.loc[has_z, "z"], 1e-3).all()
    assert close(m.loc[has_z, "p_value"], m.loc[has_z, "pvalue"], 1e-4).all()
    assert close(m["ci_lower"], m["ci.lower"], 1e-4).all() and close(m["ci_upper"], m["ci.upper"], 1e-4).all()


@pytest.mark.parametrize("case", CASES)
def test_std_all(case):
    m = merged(case)
    has = m["std.all"].notna() & np.isfinite(m["std_all"])
    assert has.sum() > 0
    ok = close(m.loc[has, "std_all"], m.loc[has, "std.all"], 1e-4)
    assert ok.all(), m.loc[has][~ok.to_numpy()][["lhs", "op", "rhs", "std.all", "std_all"]]


@pytest.mark.parametrize("case", CASES)
def test_fit_measures(case):
    fit = fitted(case).fit
    ref = REF[case]["fit"]
    assert close(fit["loglik"], ref["logl"], 1e-6 / max(1.0, 1.0)) or \
        abs(fit["loglik"] - ref["logl"]) <= 1e-6 * abs(ref["logl"])
    assert abs(fit["unrestricted_loglik"] - ref["unrestricted.logl"]) <= 1e-6 * abs(ref["unrestricted.logl"])
    for ours, theirs in FIT_KEYS.items():
        if theirs not in ref:
            continue
        assert close(fit[ours], ref[theirs], 1e-4), (ours, fit[ours], ref[theirs])


def test_chisq_difference_ml():
    ref = REF["compare_ri_clpm"]
    result = compare_sem(fitted("riclpm_fiml"), fitted("clpm_fiml"))
    table = result.table
    assert result.method == "chi-square difference (likelihood ratio)"
    assert close(table["chisq"], ref["chisq"], 1e-4).all()
    assert close(table["chisq_diff"].iloc[1], ref["chisq_diff"][1], 1e-4)
    assert table["df_diff"].iloc[1] == ref["df_diff"][1]
    assert close(table["p_value"].iloc[1], ref["p_value"][1], 1e-4)
    assert close(table["rmsea_diff"].iloc[1], ref["rmsea"][1], 1e-4)  # lavTestLRT's RMSEA: of the difference


@pytest.mark.parametrize("case", ["path_listwise_mlr", "cfa_listwise_mlr"])
def test_robust_fit_indices_complete_data(case):
    fit = fitted(case).fit
    ref = REF[case]["fit"]
    for key in ("cfi_robust", "tli_robust", "rmsea_robust", "rmsea_ci_lower_robust", "rmsea_ci_upper_robust"):
        assert close(fit[key], ref[key.replace("_robust", ".robust").replace("_", ".")], 1e-4), key


@pytest.mark.parametrize("case", ["path_fiml_mlr", "path0_fiml_mlr", "path_listwise_mlr", "mg_fiml_mlr",
                                  "riclpm_fiml_mlr", "cfa_listwise_mlr"])

def test_scaled_chisq(case):
    fit = fitted(case).fit
    ref = REF[case]["fit"]
    for ours, theirs in SCALED_KEYS.items():
        assert close(fit[ours], ref[theirs], 1e-4), (ours, fit[ours], ref[theirs])



def test_chisq_difference_satorra_bentler_2001():
    ref = REF["compare_path_mlr"]
    result = compare_sem(fitted("path_fiml_mlr"), fitted("path0_fiml_mlr"))
    table = result.table
    assert result.method == "Satorra-Bentler (2001) scaled chi-square difference"
    assert close(table["chisq_diff"].iloc[1], ref["chisq_diff"][1], 1e-4)
    assert close(table["p_value"].iloc[1], ref["p_value"][1], 1e-4)


@pytest.mark.parametrize("case", ["cfa_fiml", "path_fiml", "mg_fiml", "mg_cfa_fiml", "latent_regression_fiml",
                                  "equality_fiml"])
def test_exported_syntax_refits_to_the_same_model(case):
    res = fitted(case)
    ref = REF[case]
    data = pd.read_csv(FIX / ref["data"])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        again = fit_sem(res.to_lavaan(), data, defaults="none", group=ref["args"].get("group"),
                        missing=res.options["missing"])
    assert again.fit["npar"] == res.fit["npar"] and again.fit["df"] == res.fit["df"]
    assert abs(again.fit["loglik"] - res.fit["loglik"]) <= 1e-8 * abs(res.fit["loglik"])


@pytest.mark.parametrize("name", ["exported_mg", "exported_cfa"])
def test_exported_syntax_reproduces_the_fit_in_lavaan(name):
    """lavaan (make_fixtures.R) fitted the syntax our to_lavaan() wrote; the numbers must be ours."""
    sys.path.insert(0, str(FIX))
    from export_syntax import exported

    res = exported(f"{name}.lav")
    assert res.to_lavaan() + "\n" == (FIX / f"{name}.lav").read_text(), "to_lavaan() output changed: rerun the scripts"
    ref = REF[name]
    assert abs(res.fit["loglik"] - ref["fit"]["logl"]) <= 1e-6 * abs(ref["fit"]["logl"])
    assert res.fit["npar"] == ref["fit"]["npar"] and res.fit["df"] == ref["fit"]["df"]
    theirs = pd.DataFrame(ref["params"]).replace({None: np.nan})
    m = theirs.merge(res.params, on=["lhs", "op", "rhs", "group"], how="inner")
    assert len(m) >= len(res.params) - len(res.partable[res.partable["exo"]]) - 2
    assert close(m["estimate"], m["est"], 1e-5).all() and close(m["std_error"], m["se"], 1e-4).all()
