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


def _fit(case, fit_lavaan_case):
    res, caught = fit_lavaan_case(case, estimator="WLSMV")
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
def fits(fit_lavaan_case):
    return {k: _fit(REF[k], fit_lavaan_case) for k in CASES}


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
def test_estimates_standard_errors_and_std_all_equal_lavaans(fits, key, check_lavaan_params):
    check_lavaan_params(fits[key], REF[key], min_free=12)


@pytest.mark.parametrize("key", CASES)
def test_fit_measures_equal_lavaans(fits, key, check_fit_measures, fit_measure_names):
    assert check_fit_measures(fits[key].fit, REF[key]["fit"]) >= len(fit_measure_names[0])


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
