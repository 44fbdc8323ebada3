"""Ordered items (WLSMV and the other least-squares estimators) against lavaan 0.6.14.

Reference values: ``fixtures/ordinal/ordinal_fixtures.json``, written by ``fixtures/ordinal/make_ordinal_fixtures.R``
from semTools' ``datCat`` (exported to ``datCat.csv``). Tolerances, per quantity (never averaged):

- sample statistics (thresholds, polychoric correlations): 1e-6 absolute; Γ: 1e-6 of its largest element
  (lavaan's polychoric optimiser stops at ~1e-8);
- estimates and std.all: |ours − lavaan| ≤ 1e-5 · max(|lavaan|, 1) (relative, with a floor of one unit for values
  near zero — a threshold of −0.06 is compared to 1e-5, not 1e-5 of 0.06);
- standard errors: 1e-4 relative;
- χ² and df: 1e-5 relative; scaled statistics, scaling factors, p-values and fit indices: 1e-4 relative (1e-6
  absolute for indices near 0).

The multigroup references are lavaan fits by its Gauss–Newton optimiser (see the R script: its default nlminb
stops up to 3e-5 short of the optimum under the theta parameterization).
"""
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from allianceStats.sem import compare_sem
from allianceStats.sem.polychoric import ordinal_statistics

FIX = Path(__file__).resolve().parent / "fixtures" / "ordinal"
REF = json.loads((FIX / "ordinal_fixtures.json").read_text())
ITEMS = [f"u{i}" for i in range(1, 9)]
SINGLE = ["single_wlsmv_delta", "single_wlsmv_theta", "single_wlsm_delta", "single_dwls_delta", "single_ulsmv_delta",
          "single_wls_delta", "binary_wlsmv", "sem_wlsmv_delta"]
MULTI = ([("mi_cat_theta", s) for s in REF["mi_cat_theta"]["steps"]]
         + [("mi_cat_delta", s) for s in REF["mi_cat_delta"]["steps"]])


def _data(name):
    return pd.read_csv(FIX / name)


@pytest.fixture(scope="module")
def fit_case(fit_lavaan_case):
    def fit(case):
        res, caught = fit_lavaan_case(case, ordered=lambda data: [c for c in ITEMS if c in data])
        # no warning on these data: the fits converge to proper solutions
        assert [str(w.message) for w in caught] == []
        return res
    return fit


@pytest.fixture(scope="module")
def check_case(match_lavaan_params, check_fit_measures):
    """Params (estimates, SEs, std.all, p-values) and fit measures of ``res`` against the lavaan ``case``."""
    def check(res, case, est_tol=1e-5):
        m = match_lavaan_params(res, case)
        scale = np.maximum(np.abs(m["est"]), 1.0)
        np.testing.assert_array_less(np.abs(m["estimate"] - m["est"]), est_tol * scale)
        free = m["se"] > 0
        assert (m.loc[~free, "std_error"] == 0).all()
        np.testing.assert_allclose(m.loc[free, "std_error"], m.loc[free, "se"], rtol=1e-4)
        np.testing.assert_array_less(np.abs(m["std_all"] - m["std.all"]),
                                     est_tol * np.maximum(np.abs(m["std.all"]), 1))
        z = m.loc[free]
        np.testing.assert_allclose(z["p_value"], z["pvalue"], rtol=1e-4, atol=1e-10)
        assert check_fit_measures(res.fit, case["fit"], skip_none=True, exact_abs=1e-6) >= 8
    return check


@pytest.mark.parametrize("name", SINGLE)
def test_single_group_fits_match_lavaan(name, fit_case, check_case):
    case = REF[name]
    res = fit_case(case)
    assert res.converged
    assert res.n_obs == int(np.sum(case["nobs"]))
    check_case(res, case)


@pytest.mark.parametrize("sequence, step", MULTI)
def test_invariance_steps_by_measeq_syntax_match_lavaan(sequence, step, fit_case, check_case):
    case = REF[sequence]["steps"][step]
    res = fit_case(case)
    assert res.converged and res.group_labels == tuple(case["group_labels"])
    check_case(res, case)


@pytest.mark.parametrize("sequence", ["mi_cat_theta", "mi_cat_delta"])
def test_satorra_2000_difference_tests_match_lavtestlrt(sequence, fit_case):
    steps = REF[sequence]["steps"]
    fits = [fit_case(steps[s]) for s in steps]
    result = compare_sem(*fits, names=list(steps))
    assert result.method == "Satorra (2000) scaled chi-square difference, scaled and shifted"
    table = result.table.set_index("model")
    for ref in REF[sequence]["lrt"]:
        row = table.loc[ref["step"]]
        assert row["df_diff"] == ref["df_diff"]
        assert row["chisq_diff"] == pytest.approx(ref["chisq_diff"], rel=1e-4)
        assert row["p_value"] == pytest.approx(ref["p_value"], rel=1e-4)
    assert "satorra.2000" in REF[sequence]["lrt"][0]["method"]


@pytest.mark.parametrize("name, data, k", [("single_wlsmv_delta", "datCat.csv", 5),
                                            ("binary_wlsmv", "datCat_binary.csv", 2)])
def test_thresholds_polychorics_and_gamma_match_lavaan(name, data, k):
    sample = REF[name]["sample"][0]
    frame = _data(data)[sample["names"]]
    stats = ordinal_statistics(frame.to_numpy() - 1, [k] * frame.shape[1])
    np.testing.assert_allclose(np.concatenate(stats.thresholds), sample["th"], atol=1e-6)
    np.testing.assert_allclose(stats.cor, np.array(sample["cor"]), atol=1e-6)
    np.testing.assert_allclose(stats.wls_obs, sample["wls_obs"], atol=1e-6)
    gamma = np.array(sample["gamma"])
    np.testing.assert_allclose(stats.gamma, gamma, atol=1e-6 * np.abs(gamma).max())


def test_vcov_matches_lavaan(fit_case):
    case = REF["single_wlsmv_delta"]
    res = fit_case(case)
    ref = np.array(case["vcov"])
    ours = res.vcov.to_numpy()
    # lavaan orders free parameters as its parameter table does: loadings, thresholds, latent (co)variances, as ours
    assert ours.shape == ref.shape
    np.testing.assert_allclose(ours, ref, rtol=1e-4, atol=1e-4 * np.abs(np.diag(ref)).min())


def test_to_lavaan_omits_computed_rows_and_keeps_thresholds(fit_case):
    res = fit_case(REF["single_wlsmv_delta"])
    text = res.to_lavaan()
    assert "u1 | t1" in text and "u1 ~*~ 1*u1" in text
    assert "u1 ~~ " not in text  # delta: residual variances of ordered items are computed, not written
    assert 'ordered = c("u1", "u2"' in res.r_call("d") and 'estimator = "WLSMV"' in res.r_call("d")
    theta = fit_case(REF["single_wlsmv_theta"]).to_lavaan()
    assert "~*~" not in theta and "u1 ~~ 1*u1" in theta
