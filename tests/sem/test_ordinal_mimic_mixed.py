"""Ordered items next to continuous endogenous variables in models with exogenous covariates (lavaan's
``conditional.x = TRUE``), ordered covariates and ordered mediators, against lavaan 0.6.14.

Reference values: ``fixtures/ordinal/mimic_mixed_fixtures.json``, written by
``fixtures/ordinal/make_mimic_mixed_fixtures.R`` from seeded simulated data (``mimic_mixed.csv``: four four-category
items u1-u4, a continuous indicator y1, a continuous outcome, covariates culture (0/1) and age, two sites;
``mimic_mixed_missing.csv`` with 5% of u1-u3, y1 and outcome missing). Cases:

- ``indicator_delta``: a MIMIC model with a continuous indicator (``F =~ u1 + u2 + u3 + y1; F ~ culture + age``);
- ``outcome_delta``: a continuous outcome on a factor of ordered items and a covariate (``outcome ~ F + age``);
- ``indicator_groups``: the first in two groups; ``both_theta``: both, with a direct effect, under theta;
- ``both_pairwise``: ``both_theta``'s model under delta with ``missing="pairwise"``;
- ``indicator_pairwise_groups_theta``: pairwise, two groups, theta;
- ``ordered_covariate``: an ordered item that only predicts (lavaan warns and uses it as a numeric covariate);
- ``mediator_theta``: an ordered mediator (``u4 ~ F; outcome ~ u4``) under theta.

Tolerances, per quantity (never averaged):

- sample statistics (``wls.obs``: thresholds, −intercepts, slopes, residual variances and covariances): 1e-6
  absolute; Γ (NACOV): 1e-6 of its largest element (both agree to ~1e-8);
- estimates and std.all: |ours − lavaan| ≤ 1e-5 · max(|lavaan|, 1);
- standard errors: 1e-4 relative;
- χ² and df: 1e-5 relative; scaled statistics and fit indices (SRMR included): 1e-4 relative (1e-6 absolute
  near 0).
"""
import json
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from allianceStats.errors import DataWarning, FormulaError
from allianceStats.sem import fit_sem
from allianceStats.sem.conditional import LinearFit, conditional_statistics

FIX = Path(__file__).resolve().parent / "fixtures" / "ordinal"
REF = json.loads((FIX / "mimic_mixed_fixtures.json").read_text())
DATA = pd.read_csv(FIX / "mimic_mixed.csv")
CASES = ["indicator_delta", "outcome_delta", "indicator_groups", "both_theta", "both_pairwise",
         "indicator_pairwise_groups_theta", "ordered_covariate", "mediator_theta"]
FIT_EXACT = ("chisq", "df", "baseline.chisq", "baseline.df", "npar")
FIT_SCALED = ("chisq.scaled", "df.scaled", "pvalue", "pvalue.scaled", "chisq.scaling.factor", "chisq.shift.parameter",
              "baseline.chisq.scaled", "baseline.chisq.scaling.factor", "cfi", "tli", "cfi.scaled", "tli.scaled",
              "rmsea", "rmsea.ci.lower", "rmsea.ci.upper", "rmsea.scaled", "rmsea.ci.lower.scaled",
              "rmsea.ci.upper.scaled", "srmr")


def _fit(case):
    args = case["args"]
    data = pd.read_csv(FIX / args["data"])
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        res = fit_sem(data, case["model"], ordered=args["ordered"], estimator="WLSMV",
                      parameterization=args["parameterization"], group=args.get("group"), missing=args["missing"])
    messages = [str(w.message) for w in caught]
    lavaan_says = [case["warnings"]] if isinstance(case["warnings"], str) else case["warnings"]   # auto_unbox
    if lavaan_says:   # lavaan: "exogenous variable(s) declared as ordered in data: u4"
        assert len(messages) == 1 and "declared as ordered" in lavaan_says[0]
        assert "['u4'] only predict" in messages[0] and "numeric covariates" in messages[0]
        assert issubclass(caught[0].category, DataWarning)
    else:
        assert messages == []
    assert list(res.n_obs_by_group) == list(np.atleast_1d(case["nobs"]))
    return res


@pytest.fixture(scope="module")
def fits():
    return {k: _fit(REF[k]) for k in CASES}


def _merged(res, case):
    ref = pd.DataFrame(case["params"])
    ours = res.params.copy()
    swapped = ours[ours["op"] == "~~"].rename(columns={"lhs": "rhs", "rhs": "lhs"})   # x1 ~~ x2 written either way
    ours = pd.concat([ours, swapped]).drop_duplicates(["lhs", "op", "rhs", "group"])
    m = ref.merge(ours, on=["lhs", "op", "rhs", "group"], how="left", validate="one_to_one")
    assert m["estimate"].notna().all(), m.loc[m["estimate"].isna(), ["lhs", "op", "rhs"]]
    return m


def test_the_fixture_records_versions_and_cases():
    assert REF["versions"]["lavaan"] == "0.6.14"
    assert set(CASES) <= set(REF)
    assert all(REF[k]["converged"] for k in CASES)
    assert all(REF[k]["conditional_x"] for k in CASES if k != "mediator_theta")
    assert REF["mediator_delta_converged"] is False   # why an ordered predictor under delta is refused


@pytest.mark.parametrize("key", CASES)
def test_sample_statistics_and_gamma_equal_lavaans(fits, key):
    stats = fits[key].wls.problem.stats
    case = REF[key]
    assert len(stats) == len(case["sample"])
    for st, ref in zip(stats, case["sample"]):
        np.testing.assert_array_less(np.abs(st.wls_obs - np.array(ref["wls_obs"])), 1e-6)
        gamma = np.array(ref["gamma"])
        np.testing.assert_array_less(np.abs(st.gamma - gamma), 1e-6 * np.abs(gamma).max())


def test_continuous_variables_enter_as_lavaan_orders_them(fits):
    st = fits["both_theta"].wls.problem.stats[0]
    ref = REF["both_theta"]["sample"][0]
    names = ref["wls_names"]
    # −intercepts in the threshold block, slopes column by column, residual variances, then covariances
    assert names[9:11] == ["y1~1", "outcome~1"] and names[11:16][-1] == "outcome~culture"
    assert names[21:23] == ["y1~~y1", "outcome~~outcome"]
    sampstat = ref["sampstat"]
    np.testing.assert_allclose(st.slopes, np.array(sampstat["res.slopes"]["values"]), atol=1e-6)
    np.testing.assert_allclose(st.cov, np.array(sampstat["res.cov"]["values"]), atol=1e-6)
    np.testing.assert_allclose(st.means[3:], np.array(sampstat["res.int"]["values"])[3:], atol=1e-6)
    np.testing.assert_allclose(st.wls_obs[9:11], -st.means[3:], rtol=1e-14)


@pytest.mark.parametrize("key", CASES)
def test_estimates_standard_errors_and_std_all_equal_lavaans(fits, key):
    m = _merged(fits[key], REF[key])
    tol = 1e-5 * np.maximum(np.abs(m["est"]), 1.0)
    np.testing.assert_array_less(np.abs(m["estimate"] - m["est"]), tol)
    np.testing.assert_array_less(np.abs(m["std_all"] - m["std.all"]), 1e-5 * np.maximum(np.abs(m["std.all"]), 1.0))
    free = m["se"] > 0
    assert free.sum() >= 12
    np.testing.assert_array_less(np.abs(m.loc[free, "std_error"] - m.loc[free, "se"]) / m.loc[free, "se"], 1e-4)
    assert (m.loc[~free, "std_error"].fillna(0) == 0).all()


@pytest.mark.parametrize("key", CASES)
def test_fit_measures_equal_lavaans(fits, key):
    fit, ref = fits[key].fit, REF[key]["fit"]
    for name in FIT_EXACT:
        assert fit[name.replace(".", "_")] == pytest.approx(ref[name], rel=1e-5), name
    for name in FIT_SCALED:
        if name in ref:
            assert fit[name.replace(".", "_")] == pytest.approx(ref[name], rel=1e-4, abs=1e-6), name


def test_an_ordered_covariate_is_the_same_fit_as_a_numeric_one(fits):
    case = REF["ordered_covariate"]
    plain = fit_sem(DATA, case["model"], ordered=["u1", "u2", "u3"])
    ours = fits["ordered_covariate"]
    np.testing.assert_allclose(ours.theta, plain.theta, rtol=1e-12)
    assert ours.options["ordered"] == ["u1", "u2", "u3"] and ours.options["conditional_x"] == ["u4", "culture"]


def test_linear_regression_scores_sum_to_zero_at_the_ml_estimate():
    X = DATA[["culture", "age"]].to_numpy(float)
    lin = LinearFit(DATA["y1"].to_numpy(float), X)
    np.testing.assert_allclose(lin.scores().sum(axis=0), 0.0, atol=1e-8)
    assert lin.var == pytest.approx(np.var(lin.resid), rel=1e-14)   # divisor n (ML), as lavaan's lav_uvreg_fit


def test_residual_pearson_covariance_of_two_continuous_variables():
    X = DATA[["culture", "age"]].to_numpy(float)
    vals = DATA[["u1", "y1", "outcome"]].to_numpy(float) - np.array([1.0, 0.0, 0.0])
    st = conditional_statistics(vals, X, [4, 1, 1], numeric=[False, True, True])
    e = [LinearFit(DATA[v].to_numpy(float), X).resid for v in ("y1", "outcome")]
    assert st.cov[1, 2] == pytest.approx(np.mean(e[0] * e[1]), rel=1e-12)
    assert np.all(np.linalg.eigvalsh(st.gamma) > 0)


def test_an_ordered_predictor_is_refused_under_delta_with_what_to_do():
    with pytest.raises(FormulaError, match=r"\['u4'\] are predictors .*did not converge.*parameterization='theta'"):
        fit_sem(DATA, REF["mediator_theta"]["model"], ordered=["u1", "u2", "u3", "u4"])


def test_pairwise_drops_rows_missing_every_outcome_and_indicator_and_says_so():
    data = pd.read_csv(FIX / "mimic_mixed_missing.csv")
    data.loc[[0, 1], ["u1", "u2", "u3", "y1"]] = np.nan
    with pytest.warns(DataWarning, match="2 row\\(s\\) missing every outcome and indicator were dropped"):
        res = fit_sem(data, REF["indicator_delta"]["model"], ordered=["u1", "u2", "u3"], missing="pairwise")
    assert res.converged and res.n_obs == len(data) - 2
