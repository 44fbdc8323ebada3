"""Ordered items next to continuous variables (polyserial / Pearson / polychoric) and ``missing="pairwise"``, against
lavaan 0.6.14.

Reference values: ``fixtures/ordinal/mixed_fixtures.json``, written by ``fixtures/ordinal/make_mixed_fixtures.R``
from seeded simulated data (``mixed.csv``; ``mixed_missing.csv`` with ~10% MCAR missing values). Tolerances, per
quantity (never averaged):

- sample statistics (``wls.obs``: thresholds, −means, variances, covariances): 1e-6 absolute; Γ (NACOV): 1e-6 of
  its largest element. One exception, checked separately: lavaan's polyserial optimiser (nlminb) stops 6e-6 short
  in one pair (group A of ``mg_delta``), where the test shows that ours has the larger log-likelihood;
- estimates and std.all: |ours − lavaan| ≤ 1e-5 · max(|lavaan|, 1);
- standard errors: 1e-4 relative;
- χ² and df: 1e-5 relative; scaled statistics and fit indices: 1e-4 relative (1e-6 absolute near 0).
"""
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from allianceStats.errors import DataWarning, FormulaError, OptionError, SchemaError
from allianceStats.sem import compare_sem, fit_sem, measurement_invariance
from allianceStats.sem.ordinal import prepare_ordinal
from allianceStats.sem.polychoric import ordinal_statistics, thresholds
from allianceStats.sem.polyserial import _Polyserial, mixed_statistics

FIX = Path(__file__).resolve().parent / "fixtures" / "ordinal"
REF = json.loads((FIX / "mixed_fixtures.json").read_text())
CASES = [k for k in REF if isinstance(REF[k], dict) and "params" in REF[k]]


@pytest.fixture(scope="module")
def fits(fit_lavaan_case):
    out = {}
    for k in CASES:
        out[k], caught = fit_lavaan_case(REF[k])
        assert [str(w.message) for w in caught] == []   # no warning: complete data, or pairwise (nothing dropped)
    return out


def test_the_fixture_records_versions_and_cases():
    assert REF["versions"]["lavaan"] == "0.6.14"
    assert {"cfa_delta", "cfa_theta", "sem_delta", "mg_delta", "pw_ordinal", "pw_ordinal_mg", "pw_mixed",
            "pw_mixed_mg"} <= set(CASES)


@pytest.mark.parametrize("key", CASES)
def test_sample_statistics_and_gamma_equal_lavaans(fits, key):
    res, case = fits[key], REF[key]
    stats = res.wls.problem.stats
    assert len(stats) == len(case["sample"])
    for g, (st, ref) in enumerate(zip(stats, case["sample"])):
        wo = np.array(ref["wls_obs"])
        gamma = np.array(ref["gamma"])
        assert st.wls_obs.shape == wo.shape
        diff = np.abs(st.wls_obs - wo)
        if key == "mg_delta" and g == 0:   # lavaan's polyserial y1 ~~ u2 stops short (next test)
            k = ref["wls_names"].index("y1~~u2")
            assert diff[k] < 2e-5
            diff[k] = 0.0
        np.testing.assert_array_less(diff, 1e-6)
        tol = 1e-6 if key != "mg_delta" else 1e-5
        np.testing.assert_array_less(np.abs(st.gamma - gamma), tol * np.abs(gamma).max())


def test_our_polyserial_correlation_has_the_larger_likelihood_where_lavaan_stops_short(fits):
    ref = REF["mg_delta"]["sample"][0]
    data = pd.read_csv(FIX / "mixed.csv")
    a = data[data["g"] == "A"]
    x, codes = a["y1"].to_numpy(float), a["u2"].to_numpy(int) - 1
    mean, var = x.mean(), x.var()
    ps = _Polyserial(x, mean, var, codes, thresholds(codes, 3))
    rho_lav = ref["wls_obs"][ref["wls_names"].index("y1~~u2")] / np.sqrt(var)
    rho_ours = fits["mg_delta"].wls.problem.stats[0].cor[0, 2]
    assert abs(rho_ours - rho_lav) > 1e-6
    assert abs(ps.gradient(rho_ours)) < 1e-8 < abs(ps.gradient(rho_lav))
    assert ps.loglik(rho_ours) > ps.loglik(rho_lav)


@pytest.mark.parametrize("key", CASES)
def test_estimates_standard_errors_and_std_all_equal_lavaans(fits, key, match_lavaan_params):
    res, case = fits[key], REF[key]
    assert res.converged and case["converged"]
    m = match_lavaan_params(res, case)
    np.testing.assert_array_less(np.abs(m["estimate"] - m["est"]), 1e-5 * np.maximum(np.abs(m["est"]), 1.0))
    free = m["se"] > 0
    assert (m.loc[~free, "std_error"] == 0).all()
    np.testing.assert_allclose(m.loc[free, "std_error"], m.loc[free, "se"], rtol=1e-4)
    np.testing.assert_array_less(np.abs(m["std_all"] - m["std.all"]), 1e-5 * np.maximum(np.abs(m["std.all"]), 1))


@pytest.mark.parametrize("key", CASES)
def test_fit_measures_and_sample_sizes_equal_lavaans(fits, key, check_fit_measures):
    res, case = fits[key], REF[key]
    assert check_fit_measures(res.fit, case["fit"], skip_none=True) >= 20
    nobs = case["nobs"] if isinstance(case["nobs"], list) else [case["nobs"]]
    assert list(res.n_obs_by_group) == nobs and res.n_obs == case["ntotal"]
    assert res.options["missing"] == case["args"]["missing"]


def test_continuous_means_and_variances_are_modelled_not_scaled(fits):
    res = fits["cfa_theta"]
    p = res.params.set_index(["lhs", "op", "rhs"])
    assert p.loc[("y1", "~1", ""), "std_error"] > 0 and p.loc[("y1", "~~", "y1"), "std_error"] > 0
    assert not ((res.params["op"] == "~*~") & res.params["lhs"].isin(["y1", "y2", "y3"])).any()
    assert not ((res.params["op"] == "|") & res.params["lhs"].isin(["y1", "y2", "y3"])).any()


def test_complete_numeric_pairs_give_ml_covariances_and_all_ordinal_data_the_polychoric_path():
    data = pd.read_csv(FIX / "mixed.csv")
    vals = data[["y1", "y2", "y3"]].to_numpy()
    st = mixed_statistics(vals, [True] * 3, [1] * 3)
    cov = np.cov(vals.T, ddof=0)
    np.testing.assert_allclose(st.wls_obs, np.r_[-vals.mean(0), np.diag(cov), cov[1, 0], cov[2, 0], cov[2, 1]],
                               rtol=1e-12)
    codes = data[["u1", "u2", "u3"]].to_numpy() - 1
    fast = ordinal_statistics(codes, [4, 3, 5])
    general = mixed_statistics(codes.astype(float), [False] * 3, [4, 3, 5])
    np.testing.assert_allclose(general.wls_obs, fast.wls_obs, atol=1e-12)
    np.testing.assert_allclose(general.gamma, fast.gamma, atol=1e-9 * np.abs(fast.gamma).max())


@pytest.mark.parametrize("parameterization", ["delta", "theta"])
def test_analytic_jacobian_with_continuous_variables_equals_central_differences(
        parameterization, check_jacobian_by_central_differences):
    data = pd.read_csv(FIX / "mixed.csv")
    model = "F1 =~ y1 + u1 + u2 + y2\nF2 =~ u3 + u4 + y3\nz ~ F1"
    problem = prepare_ordinal(model, data, ordered=["u1", "u2", "u3", "u4"], group="g", defaults="sem",
                              parameterization=parameterization, estimator="DWLS")
    theta = np.random.default_rng(5).uniform(0.3, 0.9, problem.pt.npar)
    check_jacobian_by_central_differences(problem, theta, parameterization)


def test_listwise_is_the_default_and_equals_the_fit_to_complete_rows():
    data = pd.read_csv(FIX / "mixed_missing.csv")
    model, ordered = REF["pw_mixed"]["model"], REF["pw_mixed"]["args"]["ordered"]
    with pytest.warns(DataWarning, match="row\\(s\\) with a missing value .*missing='pairwise' uses them"):
        res = fit_sem(data, model, ordered=ordered)
    cols = ["y1", "u1", "u2", "y2", "u6", "u3", "u4", "y3", "u5"]
    same = fit_sem(data.dropna(subset=cols), model, ordered=ordered)
    assert res.options["missing"] == "listwise" and res.n_obs == same.n_obs < 500
    np.testing.assert_allclose(res.params["estimate"], same.params["estimate"], rtol=1e-12)
    pairwise = fit_sem(data, model, ordered=ordered, missing="pairwise")
    assert pairwise.n_obs == 500 and pairwise.fit["chisq"] != pytest.approx(res.fit["chisq"], rel=1e-3)


def test_rows_missing_every_model_variable_are_dropped_under_pairwise():
    data = pd.read_csv(FIX / "mixed_missing.csv")
    model, ordered = REF["pw_ordinal"]["model"], REF["pw_ordinal"]["args"]["ordered"]
    data.loc[[3, 7], ordered] = np.nan
    with pytest.warns(DataWarning, match="2 row\\(s\\) missing every model variable"):
        res = fit_sem(data, model, ordered=ordered, missing="pairwise")
    assert res.n_obs == 498


def test_pairwise_is_for_ordered_items_and_fiml_is_not():
    data = pd.read_csv(FIX / "mixed_missing.csv")
    with pytest.raises(OptionError, match="missing='pairwise' is only available with ordered items.*'fiml'"):
        fit_sem(data, "F =~ y1 + y2 + y3", missing="pairwise")
    with pytest.raises(OptionError, match="missing='fiml' is not available with ordered items"):
        fit_sem(data, REF["pw_ordinal"]["model"], ordered=REF["pw_ordinal"]["args"]["ordered"], missing="fiml")
    with pytest.raises(OptionError, match="missing='pairwise' is only available with ordered items"):
        measurement_invariance("F =~ y1 + y2 + y3", data, group="g", missing="pairwise")
    with pytest.raises(OptionError, match="missing='fiml' is not available with ordered items"):
        measurement_invariance("F =~ u1 + u2 + u6", data, group="g", ordered=True, missing="fiml")


def test_measurement_invariance_passes_missing_through():
    data = pd.read_csv(FIX / "mixed_missing.csv")
    model = "F =~ u1 + u2 + u6"
    mi = measurement_invariance(model, data, group="g", ordered=True, missing="pairwise",
                                steps=("configural", "thresholds"))
    assert mi.provenance.options["missing"] == "pairwise"
    conf = mi.fits["configural"]
    assert conf.options["missing"] == "pairwise" and conf.n_obs == 500
    with pytest.warns(DataWarning, match="129 row"):
        listwise = measurement_invariance(model, data, group="g", ordered=True, steps=("configural", "thresholds"))
    assert listwise.converged and listwise.fits["configural"].n_obs == 371


def test_bad_input_with_mixed_data_names_the_column():
    data = pd.read_csv(FIX / "mixed.csv")
    model, ordered = "F1 =~ y1 + u1 + u2 + y2", ["u1", "u2"]
    with pytest.raises(SchemaError, match="'y2'"):
        fit_sem(data.assign(y2=data["y2"].astype(str)), model, ordered=ordered)
    with pytest.raises(SchemaError, match="'u1' .*single observed category"):
        fit_sem(data.assign(u1=1), model, ordered=ordered)
    with pytest.raises(SchemaError, match="non-integer value"):
        fit_sem(data.assign(u2=data["u2"] + 0.5 * (data.index == 4)), model, ordered=ordered)
    empty = data[~((data["g"] == "B") & (data["u1"] == 4))]
    with pytest.raises(SchemaError, match="'u1' has no row in category 4 in group 'B'"):
        fit_sem(empty, model, ordered=ordered, group="g")
    # continuous indicators next to covariates, ordered covariates and ordered mediators (theta) are fitted as
    # lavaan does: tests/sem/test_ordinal_mimic_mixed.py; an ordered mediator under delta is refused
    with pytest.raises(FormulaError, match="are predictors .*parameterization='theta'"):
        fit_sem(data, "F1 =~ y1 + y2 + y3\nu1 ~ F1\nz ~ u1", ordered=["u1"])


def test_the_lavaan_call_of_a_pairwise_fit_names_missing(fits):
    call = fits["pw_mixed"].r_call()
    assert 'missing = "pairwise"' in call and 'ordered = c("u1", "u2", "u3", "u4", "u5", "u6")' in call
    assert "missing" not in fits["cfa_delta"].r_call()


@pytest.mark.parametrize("key, base", [("lrt_mixed", "cfa_delta"), ("lrt_pairwise", "pw_mixed")])
def test_satorra_2000_difference_test_with_mixed_data_matches_lavtestlrt(fits, key, base):
    ref = REF[key]
    data = pd.read_csv(FIX / ref["args"]["data"])
    restricted = fit_sem(data, ref["model"], ordered=ref["args"]["ordered"], missing=ref["args"]["missing"])
    result = compare_sem(fits[base], restricted, names=["free", "equal"])
    row = result.table.set_index("model").loc["equal"]
    assert "satorra.2000" in ref["method"] and result.method.startswith("Satorra (2000)")
    assert row["df_diff"] == ref["df_diff"]
    assert row["chisq_diff"] == pytest.approx(ref["chisq_diff"], rel=1e-4)
    assert row["p_value"] == pytest.approx(ref["p_value"], rel=1e-4)
