"""Ordered items with exogenous covariates (MIMIC models, lavaan's ``conditional.x = TRUE``) against lavaan 0.6.14.

Reference values: ``fixtures/ordinal/mimic_fixtures.json``, written by ``fixtures/ordinal/make_mimic_fixtures.R``
from seeded simulated data (``mimic.csv``: six four-category items, a binary covariate ``culture`` and a
continuous ``age``, a direct effect of culture on u3, two sites). Cases: (a) ``mimic_delta`` the MIMIC model,
(b) ``mimic_dif`` with the direct effect ``u3 ~ culture``, (c) ``mimic_theta`` (b) under the theta
parameterization, (d) ``mimic_groups`` (a) in two groups; and ``lavTestLRT`` of (b) against (a). With
``missing="pairwise"`` (``mimic_missing.csv``, 5% of each item missing): ``pairwise_delta`` (a), and
``pairwise_groups_theta`` (b) in two groups under theta, with rows missing a covariate or every item
(``mimic_missing_x.csv``; lavaan drops them).
Tolerances, per quantity (never averaged):

- sample statistics (``wls.obs``: thresholds, slopes, residual polychoric correlations): 1e-6 absolute;
  Γ (NACOV): 1e-6 of its largest element;
- estimates and std.all: |ours − lavaan| ≤ 1e-5 · max(|lavaan|, 1);
- standard errors: 1e-4 relative;
- χ² and df: 1e-5 relative; scaled statistics and fit indices (SRMR included): 1e-4 relative (1e-6 absolute
  near 0); the Satorra (2000) difference: 1e-4 relative.
"""
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from allianceStats.errors import DataWarning, FormulaError, IdentificationError
from allianceStats.sem import compare_sem, fit_sem
from allianceStats.sem.conditional import ProbitFit, conditional_statistics

FIX = Path(__file__).resolve().parent / "fixtures" / "ordinal"
REF = json.loads((FIX / "mimic_fixtures.json").read_text())
DATA = pd.read_csv(FIX / "mimic.csv")
CASES = ["mimic_delta", "mimic_dif", "mimic_theta", "mimic_groups", "pairwise_delta", "pairwise_groups_theta"]
ITEMS = [f"u{j}" for j in range(1, 7)]


def _fit(case, fit_lavaan_case):
    args = case["args"]
    res, caught = fit_lavaan_case(case)
    messages = [str(w.message) for w in caught]
    if args["data"] == "mimic_missing_x.csv":   # lavaan drops these rows too (its nobs: 296 and 300)
        assert len(messages) == 2 and "3 row(s) with a missing covariate" in messages[0]
        assert "1 row(s) missing every ordered item" in messages[1]
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


@pytest.mark.parametrize("key", CASES)
def test_sample_statistics_and_gamma_equal_lavaans(fits, key):
    stats = fits[key].wls.problem.stats
    case = REF[key]
    assert len(stats) == len(case["sample"])
    for st, ref in zip(stats, case["sample"]):
        names = ref["wls_names"]
        assert names[18:20] == ["u1~culture", "u2~culture"] and names[24] == "u1~age"   # lavaan's order
        np.testing.assert_array_less(np.abs(st.wls_obs - np.array(ref["wls_obs"])), 1e-6)
        gamma = np.array(ref["gamma"])
        np.testing.assert_array_less(np.abs(st.gamma - gamma), 1e-6 * np.abs(gamma).max())
        sampstat = ref["sampstat"]
        np.testing.assert_allclose(st.slopes, np.array(sampstat["res.slopes"]["values"]), atol=1e-6)
        np.testing.assert_allclose(st.cor, np.array(sampstat["res.cov"]["values"]), atol=1e-6)
        np.testing.assert_allclose(np.concatenate(st.thresholds), sampstat["res.th"]["values"], atol=1e-6)


@pytest.mark.parametrize("key", CASES)
def test_estimates_standard_errors_and_std_all_equal_lavaans(fits, key, check_lavaan_params):
    check_lavaan_params(fits[key], REF[key], min_free=26)


@pytest.mark.parametrize("key", CASES)
def test_fit_measures_equal_lavaans(fits, key, check_fit_measures, fit_measure_names):
    assert check_fit_measures(fits[key].fit, REF[key]["fit"]) >= len(fit_measure_names[0])


def test_residual_variances_are_conditional_on_the_covariates(fits):
    # delta: θ_jj = 1 − λ_j² ψ with ψ the residual variance of F given culture and age (not its total variance)
    params = fits["mimic_delta"].params.set_index(["lhs", "op", "rhs"])
    psi = params.loc[("F", "~~", "F"), "estimate"]
    lam = params.loc[("F", "=~", "u2"), "estimate"]
    assert params.loc[("u2", "~~", "u2"), "estimate"] == pytest.approx(1 - lam ** 2 * psi, rel=1e-10)
    assert fits["mimic_delta"].options["conditional_x"] == ["culture", "age"]
    # ordered=True: every endogenous observed variable, as lavaan's ordered = TRUE (not the covariates)
    again = fit_sem(DATA, REF["mimic_delta"]["model"], ordered=True)
    assert again.options["ordered"] == ITEMS
    np.testing.assert_allclose(again.theta, fits["mimic_delta"].theta, rtol=1e-12)


def test_satorra_2000_difference_of_the_dif_model_equals_lavtestlrt(fits):
    ref = REF["lrt_dif"]
    assert "satorra.2000" in ref["method"]
    cmp = compare_sem(fits["mimic_dif"], fits["mimic_delta"]).table
    assert cmp["chisq_diff"].iloc[1] == pytest.approx(ref["chisq_diff"], rel=1e-4)
    assert cmp["df_diff"].iloc[1] == ref["df_diff"]
    assert cmp["p_value"].iloc[1] == pytest.approx(ref["p_value"], rel=1e-3)


def test_probit_regression_is_the_maximum_of_its_likelihood():
    codes = DATA["u3"].to_numpy() - 1
    X = DATA[["culture", "age"]].to_numpy(float)
    fit = ProbitFit(codes, X, 4)
    base = fit._loglik(fit.theta)
    grad, hess = fit._derivatives(fit.theta)
    assert np.abs(grad).max() < 1e-6 and np.linalg.eigvalsh(hess).max() < 0
    for k in range(len(fit.theta)):
        for h in (-1e-4, 1e-4):
            assert fit._loglik(fit.theta + h * np.eye(len(fit.theta))[k]) < base
    # scores sum to the gradient
    np.testing.assert_allclose(fit.scores().sum(axis=0), grad, atol=1e-10)


def test_statistics_need_covariates_that_vary_and_items_with_two_categories():
    rng = np.random.default_rng(1)
    x = rng.normal(size=(200, 1))
    codes = (x + rng.normal(size=(200, 2)) > 0).astype(int)
    st = conditional_statistics(codes, x, [2, 2])
    assert st.wls_obs.shape == (2 + 2 + 1,) and st.n_univariate == 4
    with pytest.raises(IdentificationError, match="collinear"):
        fit_sem(DATA.assign(age2=2 * DATA["age"]), "F =~ u1 + u2 + u3\nF ~ age + age2", ordered=ITEMS[:3])


def test_what_is_not_reproduced_is_refused_clearly():
    # continuous indicators next to covariates and ordered covariates are fitted as lavaan does
    # (tests/sem/test_ordinal_mimic_mixed.py); an ordered predictor under delta is refused
    with pytest.raises(FormulaError, match=r"\['u4'\] are predictors .*parameterization='theta'"):
        fit_sem(DATA, "F =~ u1 + u2 + u3\nu4 ~ F\nage ~ u4", ordered=ITEMS[:4])
    with pytest.raises(FormulaError, match="their own"), pytest.warns(DataWarning, match="fixed.x = FALSE"):
        fit_sem(DATA, "F =~ u1 + u2 + u3\nF ~ culture\nculture ~~ culture", ordered=ITEMS[:3])
