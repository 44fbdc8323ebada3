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
import shutil
import subprocess
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


# ----------------------------------------------------------------------------------------------------
# post-fit tools: modification indices, residuals, fitted moments, R², factor scores


def _groups(res, values):
    """Our per-group results in lavaan's group order (a single group gives one entry)."""
    return [values] if len(res.group_labels) == 1 else [values[g] for g in res.group_labels]


def _lavaan_groups(value):
    """lavaan's per-group list (a named list becomes a dict in the JSON)."""
    return list(value.values()) if isinstance(value, dict) else value


def _matrix(ref: dict) -> pd.DataFrame:
    return pd.DataFrame(ref["values"], index=ref["names"], columns=ref["names"])


@pytest.mark.parametrize("case", EXTRAS)
def test_modification_indices(case):
    ref = pd.DataFrame(REF[case]["modindices"]).replace({None: np.nan})
    ours = fitted(case).modindices()

    def keyed(frame):
        k = [f"{rhs} ~~ {lhs}" if op == "~~" and rhs < lhs else f"{lhs} {op} {rhs}"
             for lhs, op, rhs in zip(frame["lhs"], frame["op"], frame["rhs"])]
        return frame.assign(key=k, group=frame["group"].astype(int)).set_index(["key", "group"])

    ref, ours = keyed(ref), keyed(ours)
    assert set(ours.index) == set(ref.index), (set(ours.index) ^ set(ref.index))
    ours = ours.loc[ref.index]
    for theirs, mine in (("mi", "mi"), ("epc", "epc"), ("sepc.lv", "sepc_lv"), ("sepc.all", "sepc_all")):
        ok = close(ours[mine], ref[theirs], 1e-4)
        assert ok.all(), pd.concat([ours.loc[~ok, mine], ref.loc[~ok, theirs]], axis=1)


RESIDUAL_CASES = [(case, kind) for case in CASES if "residuals" in REF[case] for kind in REF[case]["residuals"]]


@pytest.mark.parametrize("case, kind", RESIDUAL_CASES)
def test_residuals(case, kind):
    res = fitted(case)
    for ours, theirs in zip(_groups(res, res.residuals(kind)), _lavaan_groups(REF[case]["residuals"][kind])):
        want = _matrix(theirs["cov"])
        got = ours.cov.loc[want.index, want.columns]
        ok = close(got, want, 1e-4)
        assert ok.all().all(), (got - want).abs().max().max()
        if theirs["mean"] is None:
            assert ours.mean is None
        else:
            want_m = pd.Series(theirs["mean"], index=theirs["mean_names"])
            assert close(ours.mean.loc[want_m.index], want_m, 1e-4).all()


@pytest.mark.parametrize("case", EXTRAS)
def test_fitted_moments_and_r2(case):
    res = fitted(case)
    for ours, theirs in zip(_groups(res, res.fitted()), _lavaan_groups(REF[case]["fitted"])):
        want = _matrix(theirs["cov"])
        assert close(ours.cov.loc[want.index, want.columns], want, 1e-4).all().all()
        if theirs["mean"] is not None:
            want_m = pd.Series(theirs["mean"], index=theirs["mean_names"])
            assert close(ours.mean.loc[want_m.index], want_m, 1e-4).all()
        else:
            assert ours.mean is None
    for ours, theirs in zip(_groups(res, res.r2), _lavaan_groups(REF[case]["r2"])):
        want = pd.Series(theirs)
        assert sorted(ours.index) == sorted(want.index)
        assert close(ours.loc[want.index], want, 1e-4).all()


@pytest.mark.parametrize("method", ["regression", "bartlett"])
@pytest.mark.parametrize("case", [k for k in EXTRAS if "predict" in REF[k]])
def test_factor_scores(case, method):
    res = fitted(case)
    want = pd.DataFrame(REF[case]["predict"][method]["values"], columns=REF[case]["predict"][method]["names"])
    rows = np.asarray(REF[case]["case_idx"]) - 1  # lavaan's case.idx, 1-based
    got = res.predict(method)
    assert list(got.index) == list(rows)
    ok = close(got[want.columns].to_numpy(), want.to_numpy(), 1e-4)
    assert ok.all(), np.abs(got[want.columns].to_numpy() - want.to_numpy()).max()


# ----------------------------------------------------------------------------------------------------
# summary() as lavaan prints it, and r_call() reproducing the fit in R


def test_summary_is_laid_out_as_lavaans():
    text = fitted("pd_sem").summary()
    order = ["Estimator", "Number of model parameters", "Number of equality constraints", "Number of observations",
             "Model Test User Model:", "Model Test Baseline Model:", "User Model versus Baseline Model:",
             "Comparative Fit Index (CFI)", "Loglikelihood and Information Criteria:",
             "Sample-size adjusted Bayesian (SABIC)", "Root Mean Square Error of Approximation:",
             "90 Percent confidence interval - lower", "P-value H_0: RMSEA <= 0.050", "SRMR", "Parameter Estimates:",
             "Latent Variables:", "Regressions:", "Covariances:", "Variances:", "R-Square:"]
    positions = [text.index(s) for s in order]
    assert positions == sorted(positions)
    assert "nan" not in text.lower() and "0.0000" not in text
    lines = text.splitlines()
    # a fixed loading shows its value and leaves Std.Err, z-value and P(>|z|) blank; labels in parentheses
    marker = next(line for line in lines if line.strip().startswith("y1 ") and "1.000" in line)
    assert marker.split() == ["y1", "1.000", "2.201", "0.850"]
    assert any(line.split()[:3] == ["y2", "(a)", "1.191"] for line in lines)
    assert any(line.strip().startswith(".y1 ~~") for line in lines)   # residual covariance of an indicator
    ref = lavaan_fit(REF["pd_sem"])
    assert f"{ref['sabic']:.3f}" in text and f"{ref['rmsea_ci_upper']:.3f}" in text
    assert "lavaan::lavaan(model, data = data" in lines[-1]


def test_summary_of_groups_and_of_mlr():
    text = fitted("hs_group_equal").summary()
    assert "Group 1 [Pasteur]:" in text and "Group 2 [Grant-White]:" in text and "Intercepts:" in text
    mlr = fitted("hs_fiml_mlr").summary()
    assert "Scaled" in mlr and "Yuan-Bentler correction (Mplus variant)" in mlr
    assert "Robust RMSEA" in mlr and "Robust Comparative Fit Index (CFI)" in mlr
    assert "Number of missing patterns" in mlr


def _sorted_pairs(frame: pd.DataFrame) -> pd.DataFrame:
    """(Co)variance rows with lhs and rhs in sorted order, so that both programs' rows match."""
    frame = frame.copy()
    swap = (frame["op"] == "~~").to_numpy() & (frame["rhs"] < frame["lhs"]).to_numpy()
    frame.loc[swap, ["lhs", "rhs"]] = frame.loc[swap, ["rhs", "lhs"]].to_numpy()
    return frame


R_CASES = ["hs_cfa", "hs_fiml_mlr", "hs_robust_sem", "hs_group_partial", "pd_linear_constraint",
           "pd_inequality_binding", "hs_sample_cov", "hs_unicode"]


@pytest.mark.skipif(shutil.which("Rscript") is None, reason="Rscript with lavaan is not installed")
def test_r_call_with_the_exported_syntax_reproduces_the_fit_in_r(tmp_path):
    """Each fit's ``r_call(with_model=True)`` — the explicit syntax and every option — run in lavaan gives the same
    log-likelihood, npar, df, χ² and standard errors."""
    lines = ["suppressPackageStartupMessages({library(lavaan); library(jsonlite)})", "out <- list()"]
    for case in R_CASES:
        res = fitted(case)
        args = REF[case]["args"]
        setup = f'data <- read.csv("{FIX / REF[case]["data"]}", check.names = FALSE, encoding = "UTF-8")' \
            if REF[case]["data"] else (f'data <- as.matrix(read.csv("{FIX / args["sample_cov"]}", row.names = 1, '
                                       'check.names = FALSE))')
        snippet = res.r_call("data", with_model=True)
        lines += [setup, snippet,
                  f'out[["{case}"]] <- list(fit = as.list(fitMeasures(fit, c("logl", "npar", "df", "chisq"))), '
                  'pe = parameterEstimates(fit))']
    script = tmp_path / "refit.R"
    lines.append(f'write_json(out, "{tmp_path / "out.json"}", digits = NA, auto_unbox = TRUE)')
    script.write_text("\n".join(lines), encoding="utf-8")
    run = subprocess.run(["Rscript", str(script)], capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr[-2000:]
    got = json.loads((tmp_path / "out.json").read_text(encoding="utf-8"))
    for case in R_CASES:
        res, theirs = fitted(case), got[case]
        assert abs(res.fit["loglik"] - theirs["fit"]["logl"]) <= 1e-6 * abs(theirs["fit"]["logl"]), case
        for key in ("npar", "df"):
            assert res.fit[key] == theirs["fit"][key], (case, key)
        assert close(res.fit["chisq"], theirs["fit"]["chisq"], 1e-4), case
        pe = pd.DataFrame(theirs["pe"])
        if "group" not in pe:
            pe["group"] = np.where(pe["op"] == ":=", 0, 1)
        if case == "pd_inequality_binding":
            continue   # lavaan's nlminb.constr stops short of the constrained maximum (make_fixtures.R): fit only
        pe = _sorted_pairs(pe[pe["op"].isin(["=~", "~", "~~", "~1"])])
        m = pe.merge(_sorted_pairs(res.params), on=["lhs", "op", "rhs", "group"])
        assert len(m) == len(pe), case
        assert close(m["estimate"], m["est"], 1e-4).all(), case
        assert close(m["std_error"], m["se"], 1e-4).all(), case
