"""The same call gives the same numbers (issue 13): fit_sem with lavaan's defaults and options against lavaan 0.6.14.

Data and reference values: ``fixtures/lavaan_habits/make_fixtures.R`` (lavaan's HolzingerSwineford1939 and
PoliticalDemocracy, a seeded MCAR copy of HS, HS with non-ASCII names, HS covariance matrices). Each case records the
lavaan call and the fit_sem keyword arguments that make the same call.

Tolerances, per quantity (never averaged): estimates 1e-5 (absolute, or relative beyond 1); standard errors,
z, std.lv, std.all, fit indices, modification indices, residuals, fitted moments, R² and factor scores 1e-4 (same
rule); log-likelihoods 1e-6 relative. lavaan's RMSEA interval is found by ``uniroot`` with its default tolerance
(~1e-4 on the non-centrality), so its bounds are compared to 1e-4 as well.
"""
import json
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from allianceStats.errors import DataWarning
from allianceStats.sem import fit_sem

FIX = Path(__file__).resolve().parent / "fixtures" / "lavaan_habits"
REF = json.loads((FIX / "lavaan_habits.json").read_text(encoding="utf-8"))
CASES = [k for k in REF if k != "versions"]
EXTRAS = [k for k in CASES if "modindices" in REF[k]]
FIT_NAMES = {"logl": "loglik", "unrestricted.logl": "unrestricted_loglik", "bic2": "sabic"}
OUR_FIT = ["npar", "chisq", "df", "pvalue", "baseline_chisq", "baseline_df", "baseline_pvalue", "cfi", "tli", "rmsea",
           "rmsea_ci_lower", "rmsea_ci_upper", "rmsea_pvalue", "rmsea_notclose_pvalue", "srmr", "loglik",
           "unrestricted_loglik", "aic", "bic", "sabic", "ntotal", "chisq_scaled", "pvalue_scaled",
           "chisq_scaling_factor", "baseline_chisq_scaled", "cfi_scaled", "tli_scaled", "rmsea_scaled",
           "rmsea_ci_lower_scaled", "rmsea_ci_upper_scaled", "cfi_robust", "tli_robust", "rmsea_robust",
           "rmsea_ci_lower_robust", "rmsea_ci_upper_robust", "rmsea_pvalue_robust"]


def close(a, b, tol):
    a, b = np.asarray(a, float), np.asarray(b, float)
    return np.abs(a - b) <= tol * np.maximum(1.0, np.abs(b))


def lavaan_fit(ref: dict) -> dict[str, float]:
    out = {}
    for key, value in ref["fit"].items():
        out[FIT_NAMES.get(key, key.replace(".", "_"))] = np.nan if value is None else value
    return out


def _read_matrix(name: str) -> pd.DataFrame:
    return pd.read_csv(FIX / name, index_col=0)


def _read_mean(name: str) -> pd.Series:
    return pd.read_csv(FIX / name).set_index("variable")["mean"]


def call(case: str):
    """The fit_sem call the fixture records (data, model, keyword arguments)."""
    ref = REF[case]
    kwargs = dict(ref["args"])
    data = None
    if "sample_cov" in kwargs:
        cov, mean = kwargs["sample_cov"], kwargs.get("sample_mean")
        kwargs["sample_cov"] = [_read_matrix(c) for c in cov] if isinstance(cov, list) else _read_matrix(cov)
        if mean is not None:
            kwargs["sample_mean"] = [_read_mean(m) for m in mean] if isinstance(mean, list) else _read_mean(mean)
    else:
        data = pd.read_csv(FIX / ref["data"], encoding="utf-8")
    return data, ref["model"], kwargs


_cache: dict = {}


def fitted(case: str):
    if case not in _cache:
        data, model, kwargs = call(case)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DataWarning)
            _cache[case] = fit_sem(data, model, **kwargs)
    return _cache[case]


def merged(case: str) -> pd.DataFrame:
    ref = pd.DataFrame(REF[case]["params"]).replace({None: np.nan})
    ref = ref[ref["op"] != ":="].reset_index(drop=True) if not (ref["op"] == ":=").any() else ref
    ours = fitted(case).params
    key = ["lhs", "op", "rhs", "group"]
    m = ref.merge(ours, on=key, how="left", suffixes=("_r", ""), indicator=True)
    swapped = (m["_merge"] == "left_only").to_numpy()
    if swapped.any():
        alt = ours.rename(columns={"lhs": "rhs", "rhs": "lhs"})
        m2 = ref[swapped].merge(alt, on=key, how="left", suffixes=("_r", ""))
        m = pd.concat([m[~swapped].drop(columns="_merge"), m2], ignore_index=True)
    else:
        m = m.drop(columns="_merge")
    return m


@pytest.mark.parametrize("case", CASES)
def test_options_resolved_as_lavaan(case):
    res, ref = fitted(case), REF[case]
    assert res.options["meanstructure"] == ref["options"]["meanstructure"]
    assert res.options["information"] == ref["options"]["information"][0]
    assert res.n_obs == ref["ntotal"]
    nobs = ref["nobs"].values() if isinstance(ref["nobs"], dict) else ref["nobs"]
    assert list(res.n_obs_by_group) == [int(v) for v in nobs]
    assert res.converged


@pytest.mark.parametrize("case", CASES)
def test_parameters(case):
    m = merged(case)
    assert len(m) == len(REF[case]["params"])
    assert m["estimate"].notna().all(), m.loc[m["estimate"].isna(), ["lhs", "op", "rhs", "group"]]
    assert len(fitted(case).params) == len(m), "we report rows lavaan does not"
    ok = close(m["estimate"], m["est"], 1e-5)
    assert ok.all(), m.loc[~ok, ["lhs", "op", "rhs", "group", "est", "estimate"]]
    ok = close(m["std_error"], m["se"], 1e-4)
    assert ok.all(), m.loc[~ok, ["lhs", "op", "rhs", "group", "se", "std_error"]]
    has_z = m["z"].notna()
    assert (m["statistic"].notna() == has_z).all()
    assert close(m.loc[has_z, "statistic"], m.loc[has_z, "z"], 1e-3).all()
    assert close(m.loc[has_z, "p_value"], m.loc[has_z, "pvalue"], 1e-4).all()
    assert close(m["ci_lower"], m["ci.lower"], 1e-4).all() and close(m["ci_upper"], m["ci.upper"], 1e-4).all()
    for ours, theirs in (("std_all", "std.all"), ("std_lv", "std.lv")):
        has = m[theirs].notna()
        ok = close(m.loc[has, ours], m.loc[has, theirs], 1e-4)
        assert ok.all(), m.loc[has][~ok.to_numpy()][["lhs", "op", "rhs", theirs, ours]]


@pytest.mark.parametrize("case", CASES)
def test_fit_measures(case):
    fit, ref = fitted(case).fit, lavaan_fit(REF[case])
    compared = 0
    for key in OUR_FIT:
        if key not in ref:
            continue
        assert key in fit.index, f"lavaan reports {key}, we do not"
        tol = 1e-6 if "loglik" in key else 1e-4
        if "loglik" in key:
            assert abs(fit[key] - ref[key]) <= tol * abs(ref[key]), (key, fit[key], ref[key])
        elif np.isnan(ref[key]):
            assert np.isnan(fit[key]), (key, fit[key])
        else:
            assert close(fit[key], ref[key], tol), (key, fit[key], ref[key])
        compared += 1
    assert compared >= 20
