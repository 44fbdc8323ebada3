"""Internal consistency of the ordinal engine: the bivariate normal, polychoric estimates, analytic Jacobians, the
Satorra-2000 algebra, data handling and errors of fit_sem(ordered=...)."""
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from allianceStats.errors import DataWarning, FormulaError, OptionError, SchemaError
from allianceStats.sem import compare_sem, fit_sem
from allianceStats.sem.ordinal import prepare_ordinal
from allianceStats.sem.polychoric import bvn_cdf, bvn_pdf, polychoric
from allianceStats.sem.wls import ugamma_traces

FIX = Path(__file__).resolve().parent / "fixtures" / "ordinal"
M2 = "FU1 =~ u1 + u2 + u3 + u4\nFU2 =~ u5 + u6 + u7 + u8"
ITEMS = [f"u{i}" for i in range(1, 9)]


@pytest.fixture(scope="module")
def datcat():
    return pd.read_csv(FIX / "datCat.csv")


@pytest.mark.parametrize("r", [-0.99, -0.93, -0.8, -0.5, -0.1, 0.0, 0.2, 0.6, 0.9, 0.95, 0.999])
def test_bivariate_normal_cdf_matches_scipy_in_every_branch(r):
    rng = np.random.default_rng(int(1000 * (r + 1)))
    h, k = rng.normal(scale=1.5, size=40), rng.normal(scale=1.5, size=40)
    ref = np.array([stats.multivariate_normal(cov=[[1, r], [r, 1]]).cdf([a, b]) for a, b in zip(h, k)])
    np.testing.assert_allclose(bvn_cdf(h, k, r), ref, atol=1e-9)


def test_bivariate_normal_edges_and_density():
    assert bvn_cdf(np.inf, 0.3, 0.5) == pytest.approx(stats.norm.cdf(0.3), abs=1e-15)
    assert bvn_cdf(-np.inf, 0.3, 0.5) == 0.0 and bvn_cdf(np.inf, np.inf, 0.2) == 1.0
    dens = bvn_pdf(0.4, -0.2, 0.3)
    ref = stats.multivariate_normal(cov=[[1, 0.3], [0.3, 1]]).pdf([0.4, -0.2])
    assert dens == pytest.approx(ref, rel=1e-12)


def test_polychoric_recovers_the_latent_correlation():
    rng = np.random.default_rng(7)
    R = np.array([[1.0, 0.5, -0.3], [0.5, 1.0, 0.2], [-0.3, 0.2, 1.0]])
    z = rng.standard_normal((20000, 3)) @ np.linalg.cholesky(R).T
    codes = np.column_stack([np.digitize(z[:, 0], [-1.0, 0.0, 1.2]), np.digitize(z[:, 1], [0.3]),
                             np.digitize(z[:, 2], [-0.5, 0.5])])
    cor, zero = polychoric(codes, [4, 2, 3])
    np.testing.assert_allclose(cor, R, atol=0.03)
    assert zero == []


def test_two_by_two_table_with_one_empty_cell_gets_lavaans_zero_add():
    # y2 = 1 never occurs with y1 = 0: the 0.5 added (keeping margins) keeps ρ below 1
    codes = np.array([[0, 0]] * 30 + [[1, 0]] * 10 + [[1, 1]] * 25)
    cor, zero = polychoric(codes, [2, 2])
    assert zero == [(1, 0)] and 0.9 < cor[0, 1] < 0.999


@pytest.mark.parametrize("parameterization", ["delta", "theta"])
def test_analytic_jacobian_equals_central_differences(datcat, parameterization,
                                                      check_jacobian_by_central_differences):
    model = ("FU1 =~ c(NA, NA)*u1 + u2 + u3 + u4\nFU2 =~ c(NA, NA)*u5 + u6 + u7 + u8\nFU1 ~~ c(1, NA)*FU1\n"
             "FU2 ~~ c(1, NA)*FU2\nu1 ~ c(0, NA)*1\nFU2 ~ FU1")
    if parameterization == "delta":
        model += "\nu2 ~*~ c(1, NA)*u2"
    else:
        model += "\nu2 ~~ c(1, NA)*u2"
    problem = prepare_ordinal(model, datcat, ordered=ITEMS, group="g", defaults="sem",
                              parameterization=parameterization, estimator="DWLS")
    rng = np.random.default_rng(3)
    theta = rng.uniform(0.3, 0.9, problem.pt.npar)
    check_jacobian_by_central_differences(problem, theta, parameterization)


def test_blockwise_traces_equal_the_dense_formula(datcat):
    res = fit_sem(datcat, M2, ordered=ITEMS, group="g")
    problem, jac = res.wls.problem, list(res.wls.jacobians)
    tr1, tr2 = ugamma_traces(problem, jac)
    fg = np.array(problem.n_obs_by_group) / problem.n_obs
    from scipy.linalg import block_diag
    V = block_diag(*[f * np.diag(W) for f, W in zip(fg, problem.weights)])
    G = block_diag(*[st.gamma / f for f, st in zip(fg, problem.stats)])
    D = np.vstack([J.T for J in jac])
    E = D.T @ V @ D
    U = V - V @ D @ np.linalg.inv(E) @ D.T @ V
    assert tr1 == pytest.approx(np.trace(U @ G), rel=1e-10)
    assert tr2 == pytest.approx(np.trace(U @ G @ U @ G), rel=1e-10)


def test_ordered_categorical_columns_give_the_same_fit_as_codes(datcat):
    codes = fit_sem(datcat, M2, ordered=ITEMS)
    labels = ["never", "rarely", "sometimes", "often", "always"]
    cat = datcat.copy()
    for v in ITEMS:
        cat[v] = pd.Categorical.from_codes(datcat[v] - 1, categories=labels, ordered=True)
    other = fit_sem(cat, M2, ordered=ITEMS)
    np.testing.assert_allclose(other.params["estimate"], codes.params["estimate"], rtol=1e-12)
    assert other.options["categories"]["u1"] == labels and codes.options["categories"]["u1"] == [1, 2, 3, 4, 5]
    assert fit_sem(datcat, M2, ordered=True).fit["chisq"] == pytest.approx(codes.fit["chisq"], rel=1e-12)


def test_incomplete_rows_are_dropped_listwise_with_a_warning(datcat):
    data = datcat.astype({"u3": float})
    data.loc[[0, 5, 9], "u3"] = np.nan
    with pytest.warns(DataWarning, match="3 row\\(s\\) with a missing value"):
        res = fit_sem(data, M2, ordered=ITEMS)
    assert res.n_obs == 197 and res.options["missing"] == "listwise"
    same = fit_sem(data.dropna(), M2, ordered=ITEMS)
    np.testing.assert_allclose(res.params["estimate"], same.params["estimate"], rtol=1e-12)


def test_input_is_not_modified_and_provenance_is_recorded(datcat):
    before = datcat.copy()
    res = fit_sem(datcat, M2, ordered=ITEMS, estimator="ULSMV", parameterization="theta", conf_level=0.9)
    pd.testing.assert_frame_equal(datcat, before)
    opts = res.provenance.options
    assert opts["estimator"] == "ULSMV" and opts["parameterization"] == "theta" and opts["test"] == "scaled.shifted"
    assert res.provenance.seed is None and res.conf_level == 0.9 and res.params.attrs["conf_level"] == 0.9
    assert "scaled and shifted" in res.summary() and np.isnan(res.fit["loglik"])


@pytest.mark.parametrize("model, kwargs, error, match", [
    (M2 + "\nx | t1", {}, FormulaError, "'x', which is not an ordered item"),
    (M2 + "\nu1 | t5", {}, FormulaError, "threshold t5, but its data have 5 categories"),
    (M2 + "\nu1 ~*~ u1", dict(parameterization="theta"), FormulaError, "belong to parameterization='delta'"),
    (M2 + "\nu1 ~~ u1", {}, FormulaError, "not a parameter"),
    (M2 + "\nFU1 ~ u8", {}, FormulaError, "are predictors .*under parameterization='delta'"),
    (M2, dict(estimator="MLR"), OptionError, "'MLR' is for continuous"),
    (M2, dict(se="bootstrap"), OptionError, "not available with ordered items"),
    (M2, dict(ordered="u1"), OptionError, "must be a list"),
    (M2, dict(parameterization="lisrel"), OptionError, "parameterization='lisrel'"),
])
def test_ordinal_model_errors(datcat, model, kwargs, error, match):
    args = dict(ordered=ITEMS) | kwargs
    with pytest.raises(error, match=match):
        fit_sem(datcat.assign(x=1.0), model, **args)


def test_continuous_covariates_next_to_ordered_items_are_conditioned_on(datcat):
    # a continuous indicator is fine (polyserial; tests/sem/test_polyserial_fixtures.py), and so is a covariate:
    # lavaan's conditional.x = TRUE (tests/sem/test_ordinal_mimic.py), with continuous indicators too
    # (tests/sem/test_ordinal_mimic_mixed.py)
    data = datcat.assign(x=np.linspace(0, 1, len(datcat)))
    assert fit_sem(data, "F =~ u1 + u2 + u3 + x", ordered=["u1", "u2", "u3"]).converged
    res = fit_sem(data, "F =~ u1 + u2 + u3\nF ~ x", ordered=["u1", "u2", "u3"])
    assert res.converged and res.options["conditional_x"] == ["x"]
    mixed = fit_sem(data.assign(u4=data["u4"] * 1.5), "F =~ u1 + u2 + u3 + u4\nF ~ x", ordered=["u1", "u2", "u3"])
    assert mixed.converged and mixed.options["conditional_x"] == ["x"]
    assert mixed.options["ordered"] == ["u1", "u2", "u3"]


def test_comparing_least_squares_and_ml_fits_is_refused(datcat):
    wlsmv = fit_sem(datcat, M2, ordered=ITEMS)
    ml = fit_sem(datcat, M2)
    with pytest.raises(OptionError, match="least squares"):
        compare_sem(wlsmv, ml)
    dwls = fit_sem(datcat, M2, ordered=ITEMS, estimator="DWLS")
    with pytest.raises(OptionError, match="different tests"):
        compare_sem(wlsmv, dwls)


def test_measeq_style_duplicate_terms_are_merged_but_true_duplicates_are_errors(datcat):
    merged = fit_sem(datcat, "F =~ NA*u1 + l1*u1 + u2 + u3\nF ~~ 1*F", ordered=ITEMS)
    row = merged.params.query("op == '=~' and rhs == 'u1'").iloc[0]
    assert row["label"] == "l1" and row["std_error"] > 0   # NA from one term, the label from the other
    with pytest.raises(FormulaError, match="specified twice"):
        fit_sem(datcat, "F =~ a*u1 + b*u1 + u2 + u3", ordered=ITEMS)


def test_single_category_item_in_fit_sem(datcat):
    with pytest.raises(SchemaError, match="single observed category"):
        fit_sem(datcat.assign(u4=2), M2, ordered=ITEMS)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        fit_sem(datcat, M2, ordered=ITEMS, se="none")
