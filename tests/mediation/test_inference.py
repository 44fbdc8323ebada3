"""Inference of fit_mediation that does not contradict itself (issue 13, section 1).

References: lavaan 0.6.14 fits written by fixtures/make_inference_fixtures.R (data inference_data.csv, 70 clients,
429 sessions; inference_missing.csv, the same with values missing at random). Tolerances, per quantity:
- cluster-robust standard errors (closed form on complete data): 1e-6 relative — lavaan inverts its observed
  information numerically (agreement ~1e-8); lavaan's small-sample factor G/(G-1) = 70/69 changes them by 0.7%.
- FIML estimates 1e-6 and standard errors 1e-6 relative against lavaan run with em.h1.tol = 1e-14 (observed
  agreement 2e-7 and 3e-8); against lavaan's default settings, whose optimiser stops up to ~1.1e-5 (relative) from
  the optimum where the likelihood is flat to ~1e-12, estimates 3e-5 and standard errors 1e-4.
- listwise estimates 1e-7 (closed form).
"""
from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from allianceStats.errors import DataWarning
from allianceStats.mediation import evaluate_hypotheses, fit_mediation
from allianceStats.mediation.engine import data_matrix, jackknife_coefficients
from allianceStats.mediation.intervals import effect_interval, interval_p_value
from allianceStats.mediation.observed import build_model

from .conftest import FIXTURES, load_json

CIS = ("delta", "monte_carlo", "percentile", "bca")


@pytest.fixture(scope="module")
def reference() -> dict:
    return load_json("lavaan_inference.json")


@pytest.fixture(scope="module")
def complete() -> pd.DataFrame:
    return pd.read_csv(FIXTURES / "inference_data.csv")


@pytest.fixture(scope="module")
def incomplete() -> pd.DataFrame:
    return pd.read_csv(FIXTURES / "inference_missing.csv")


def _spec(reference, name):
    spec = reference[name]["spec"]
    covariates = spec["covariates"] if isinstance(spec["covariates"], list) else [spec["covariates"]]
    return dict(x="support", mediators=list(spec["mediators"]), y="motivation",
                covariates=[c for c in covariates if c], serial=bool(spec["serial"]))


def _fit(data, reference, name, **kw):
    return fit_mediation(data, **_spec(reference, name), **kw)


def _compare(res, ref, *, est_rtol, se_rtol):
    """Paths and := effects of a result against one lavaan fit (regressions and defined parameters)."""
    paths = pd.DataFrame(ref["paths"]).set_index(["lhs", "rhs"])
    got = res.paths.set_index(["lhs", "rhs"]).loc[paths.index]
    assert len(got) == len(res.paths)
    np.testing.assert_allclose(got["estimate"], paths["est"], rtol=est_rtol)
    np.testing.assert_allclose(got["std_error"], paths["se"], rtol=se_rtol)
    effects = pd.DataFrame(ref["effects"]).set_index("effect")
    eff = res.effects.set_index("effect").loc[effects.index]
    assert set(res.effects["effect"]) == set(effects.index)
    np.testing.assert_allclose(eff["estimate"], effects["estimate"], rtol=est_rtol)
    np.testing.assert_allclose(eff["std_error"], effects["std_error"], rtol=se_rtol)


# ------------------------------------------------------------------------------ cluster-robust standard errors
@pytest.mark.parametrize("name", ["parallel", "serial"])
def test_cluster_robust_standard_errors_match_lavaan_cluster_mlr(complete, reference, name):
    ref = reference[name]["cluster_mlr"]
    assert ref["se"] == "robust.cluster" and ref["converged"]
    res = _fit(complete, reference, name, client="client", ci="delta")
    _compare(res, ref, est_rtol=1e-7, se_rtol=1e-6)
    assert res.n_clients == reference["n_clients"] and res.n_obs == ref["nobs"]
    # z tests with the robust standard errors, as lavaan's
    paths = pd.DataFrame(ref["paths"]).set_index(["lhs", "rhs"])
    got = res.paths.set_index(["lhs", "rhs"]).loc[paths.index]
    np.testing.assert_allclose(got["statistic"], paths["est"] / paths["se"], rtol=1e-6)
    np.testing.assert_allclose(got["p_value"], 2 * stats.norm.sf(np.abs(got["statistic"])), rtol=1e-12)
    assert "cluster-robust" in res.inference["std_error"] and "Wald" in res.inference["interval"]
    assert res.r_call() == 'lavaan::sem(model, data = data, cluster = "client", estimator = "MLR")'


def test_cluster_robust_standard_errors_carry_lavaans_small_sample_factor(complete, reference):
    """Without G/(G-1) the standard errors would be smaller by sqrt(69/70) = 0.9928: outside the 1e-6 tolerance."""
    res = _fit(complete, reference, "parallel", client="client", ci="delta")
    naive = _fit(complete, reference, "parallel", ci="delta")
    ref = pd.DataFrame(reference["parallel"]["cluster_mlr"]["paths"]).set_index(["lhs", "rhs"])
    got = res.paths.set_index(["lhs", "rhs"]).loc[ref.index, "std_error"]
    g = reference["n_clients"]
    assert np.all(np.abs(got * np.sqrt((g - 1) / g) / ref["se"] - 1) > 5e-3)
    # the ML (unclustered) standard errors are lavaan's plain ones, and differ from the robust ones
    _compare(naive, reference["parallel"]["ml"], est_rtol=1e-7, se_rtol=1e-6)
    assert not np.allclose(naive.paths["std_error"], res.paths["std_error"], rtol=1e-2)


def test_monte_carlo_with_clients_draws_from_the_cluster_robust_covariance(complete, reference):
    res = _fit(complete, reference, "parallel", client="client", ci="monte_carlo", n_draws=20000, seed=3)
    delta = _fit(complete, reference, "parallel", client="client", ci="delta")
    pd.testing.assert_frame_equal(res.vcov, delta.vcov)
    # SD of 20000 normal draws estimates the SE with relative SD 1/sqrt(2 * 20000) = 0.5%; allow 4 of them
    np.testing.assert_allclose(res.paths["std_error"], delta.paths["std_error"], rtol=0.02)
    assert "cluster-robust" in res.inference["interval"]


# ------------------------------------------------------------------------------ p-values agree with intervals
@pytest.mark.parametrize("ci", CIS)
@pytest.mark.parametrize("client", [None, "client"])
def test_p_value_is_below_alpha_exactly_when_the_interval_excludes_zero(complete, reference, ci, client):
    for conf_level in (0.95, 0.8):
        res = _fit(complete, reference, "serial", client=client, ci=ci, n_draws=1000, seed=7, conf_level=conf_level)
        for table in (res.effects, res.paths):
            excludes = (table["ci_lower"] > 0) | (table["ci_upper"] < 0)
            assert ((table["p_value"] < 1 - conf_level) == excludes).all(), table
        name = {"delta": "Wald", "monte_carlo": "Monte Carlo", "percentile": "percentile", "bca": "BCa"}[ci]
        assert name in res.inference["p_value"]
        if ci != "delta":
            assert res.effects["statistic"].isna().all() and res.paths["statistic"].isna().all()
            sd = res.draws["effects"].std("draw", ddof=1).to_series().loc[res.effects["effect"]]
            np.testing.assert_allclose(res.effects["std_error"], sd, rtol=1e-12)


@pytest.mark.parametrize("ci", ["percentile", "monte_carlo", "bca"])
def test_draw_p_value_inverts_the_interval(complete, reference, ci):
    """At conf_level = 1 - p the interval of the same draws has a limit at 0: the p-value is the inverted interval."""
    res = _fit(complete, reference, "serial", client="client", ci=ci, n_draws=2000, seed=11)
    draws = res.draws["effects"].values
    est = res.effects["estimate"].to_numpy()
    jack = None
    if ci == "bca":
        model = build_model(**_spec(reference, "serial"))
        design = data_matrix(complete[list(model.variables)].to_numpy(dtype=float))
        groups = pd.factorize(complete["client"], sort=True)[0]
        jack = model.effect_values(jackknife_coefficients(model, design, groups))
    p = interval_p_value(ci, est, draws, jack)
    np.testing.assert_allclose(p, res.effects["p_value"], rtol=1e-12)
    tested = 0
    for j, pj in enumerate(p):
        if not 1e-3 < pj < 1 - 1e-3:
            continue
        lo, hi = effect_interval(ci, 1 - pj, est, res.effects["std_error"].to_numpy(), draws, jack)
        scale = res.effects["std_error"].iloc[j]
        assert min(abs(lo[j]), abs(hi[j])) < 1e-8 * scale
        tested += 1
    assert tested >= 1  # the serial model's direct effect is not far from 0 here


def test_client_bootstrap_p_value_and_standard_error_match_the_interval_issue_example():
    """Issue 13: client bootstrap (BCa) beside delta-method SEs that treat sessions as independent gave
    p = 0.0264 next to CI [-0.0271, 0.1539]. Now SE, p and interval all come from the client bootstrap."""
    rng = np.random.default_rng(26)
    g = np.repeat(np.arange(40), 12)
    u = rng.normal(size=(40, 3))[g]  # strong client effects: sessions of one client are far from independent
    x = u[:, 0] + 0.5 * rng.normal(size=g.size)
    m = 0.15 * x + u[:, 1] + 0.5 * rng.normal(size=g.size)
    y = 0.35 * m + 0.05 * x + u[:, 2] + 0.5 * rng.normal(size=g.size)
    df = pd.DataFrame({"client": g, "x": x, "m": m, "y": y})
    naive = fit_mediation(df, "x", "m", "y", ci="delta")
    res = fit_mediation(df, "x", "m", "y", client="client", ci="bca", n_draws=3000, seed=1)
    total_naive = naive.effects.set_index("effect").loc["total"]
    total = res.effects.set_index("effect").loc["total"]
    assert total["std_error"] > 1.3 * total_naive["std_error"]  # the clustering widens everything
    # the interval's width and the standard error tell the same story (a normal interval would be 3.92 SE wide)
    width = total["ci_upper"] - total["ci_lower"]
    assert 0.75 < width / (2 * 1.959963984540054 * total["std_error"]) < 1.25
    for _, row in res.effects.iterrows():
        assert (row["p_value"] < 0.05) == (row["ci_lower"] > 0 or row["ci_upper"] < 0)


def test_summary_never_prints_p_as_zero(complete, reference):
    res = _fit(complete, reference, "parallel", client="client", ci="percentile", n_draws=2000, seed=1)
    assert (res.effects["p_value"] == 0).any()  # the strongest effects lie beyond every draw
    text = res.summary()
    assert "0.0000" not in text and "< .001" in text
    assert "interval inverted" in text and "clients ('client')" in text
    small = _fit(complete, reference, "parallel", ci="percentile", n_draws=200, seed=1)
    assert "< .010" in small.summary()  # 200 draws resolve p down to 2/200 only
    delta = _fit(complete, reference, "parallel", ci="delta").summary()
    assert "0.0000" not in delta and "< .001" in delta


# ------------------------------------------------------------------------------ one interval per quantity
@pytest.mark.parametrize("ci", CIS)
@pytest.mark.parametrize("missing", ["listwise", "fiml"])
def test_direct_effect_and_c_prime_path_are_one_quantity_with_one_interval(incomplete, reference, ci, missing):
    n_draws = 200 if (missing == "fiml" and ci in ("percentile", "bca")) else 1000
    data = incomplete if missing == "fiml" else incomplete.dropna()
    if missing == "fiml" and ci == "bca":
        data = data[data["client"].isin(sorted(set(data["client"]))[:25])]  # BCa refits one per client left out
    res = _fit(data, reference, "serial", client="client", ci=ci, n_draws=n_draws, seed=2, missing=missing)
    direct = res.effects.set_index("effect").loc["direct"]
    c_prime = res.paths.set_index("label").loc["c_prime"]
    for col in ("estimate", "std_error", "p_value", "ci_lower", "ci_upper"):
        assert direct[col] == c_prime[col], col
    assert res.ci == ci and ci.split("_")[0] in res.inference["interval"].lower() or ci == "delta"


# ------------------------------------------------------------------------------ FIML through the SEM engine
@pytest.mark.parametrize("name", ["parallel", "serial"])
def test_fiml_matches_lavaan_missing_ml(incomplete, reference, name):
    ref = reference[name]["fiml"]
    assert ref["converged"] and ref["information"] == "observed"
    with pytest.warns(DataWarning, match="6 of 429 rows") if name == "parallel" else _no_warning():
        res = _fit(incomplete, reference, name, missing="fiml", ci="delta")
    assert res.n_obs == ref["nobs"] and res.missing == "fiml" and res.converged
    _compare(res, ref, est_rtol=1e-6, se_rtol=1e-6)
    # lavaan at its default optimiser settings stops up to ~1.1e-5 (relative) from the optimum
    _compare(res, reference[name]["fiml_default_tolerance"], est_rtol=3e-5, se_rtol=1e-4)
    assert res.r_call() == 'lavaan::sem(model, data = data, missing = "ml")'


@pytest.mark.parametrize("name", ["parallel", "serial"])
def test_fiml_cluster_robust_standard_errors_match_lavaan(incomplete, reference, name):
    ref = reference[name]["fiml_cluster_mlr"]
    assert ref["se"] == "robust.cluster"
    with pytest.warns(DataWarning) if name == "parallel" else _no_warning():
        res = _fit(incomplete, reference, name, missing="fiml", client="client", ci="delta")
    _compare(res, ref, est_rtol=1e-6, se_rtol=1e-6)


def test_fiml_differs_from_listwise_as_in_lavaan(incomplete, reference):
    """The issue's example (listwise 0.1333 vs lavaan FIML 0.1516): here both beside lavaan's own two fits."""
    with pytest.warns(DataWarning, match=r"199 of 429 rows .* dropped \(listwise deletion, lavaan's default\); "
                                         r"missing='fiml' uses the observed values of 193 of them"):
        listwise = _fit(incomplete, reference, "parallel", ci="delta")
    _compare(listwise, reference["parallel"]["listwise"], est_rtol=1e-7, se_rtol=1e-6)
    assert listwise.n_obs == reference["parallel"]["listwise"]["nobs"]
    with pytest.warns(DataWarning):
        fiml = _fit(incomplete, reference, "parallel", missing="fiml", ci="delta")
    total = {r.missing: r.effects.set_index("effect").loc["total", "estimate"] for r in (listwise, fiml)}
    assert abs(total["fiml"] - total["listwise"]) > 0.02  # different answers, each equal to lavaan's


def test_fiml_on_complete_data_is_the_closed_form_fit(complete, reference):
    fiml = _fit(complete, reference, "parallel", missing="fiml", ci="delta")
    ml = _fit(complete, reference, "parallel", ci="delta")
    np.testing.assert_allclose(fiml.paths["estimate"], ml.paths["estimate"], rtol=1e-6)
    # observed and expected information agree for the slopes of a saturated model at the estimate
    np.testing.assert_allclose(fiml.paths["std_error"], ml.paths["std_error"], rtol=1e-5)
    np.testing.assert_allclose(fiml.residual_cov, ml.residual_cov, rtol=1e-5)


def test_fiml_defaults_to_monte_carlo_and_can_bootstrap(incomplete, reference):
    small = incomplete[incomplete["client"].isin(sorted(set(incomplete["client"]))[:30])].reset_index(drop=True)
    res = _fit(small, reference, "serial", missing="fiml", client="client", n_draws=500, seed=4)
    assert res.ci == "monte_carlo" and res.draws.attrs["method"] == "monte_carlo"
    boot = _fit(small, reference, "serial", missing="fiml", client="client", ci="percentile", n_draws=100, seed=4)
    assert boot.draws.attrs["method"] == "client bootstrap" and "FIML refitted" in boot.inference["interval"]
    # draw 0 is the FIML fit of the resampled clients
    rng = np.random.default_rng(4)
    members = [np.flatnonzero(pd.factorize(small["client"], sort=True)[0] == g) for g in range(30)]
    rows = np.concatenate([members[g] for g in rng.integers(0, 30, size=30)])
    refit = _fit(small.iloc[rows], reference, "serial", missing="fiml", ci="delta")
    np.testing.assert_allclose(boot.draws["paths"].isel(draw=0).values, refit.paths["estimate"], rtol=1e-8)
    assert np.isfinite(boot.effects["ci_lower"]).all()


def test_missing_is_checked(complete, reference):
    from allianceStats.errors import OptionError

    with pytest.raises(OptionError, match=r"missing='ml' is not supported; choose one of \['listwise', 'fiml'\]"):
        _fit(complete, reference, "serial", missing="ml")


# ------------------------------------------------------------------------------ evaluate_hypotheses
def test_hypothesis_table_uses_the_same_inference_and_says_what_not_supported_means(complete):
    data = complete.rename(columns={"support": "empathy", "autonomy": "relatedness"})
    data["noise"] = np.random.default_rng(0).normal(size=len(data))
    mapping = {"empathic_attunement": "empathy", "relatedness": "relatedness", "motivational_calibration": "noise",
               "autonomy": "motivation"}
    for ci in ("percentile", "delta"):
        res = evaluate_hypotheses(data, mapping, ids=["B1", "B2"], ci=ci, n_draws=1000, seed=1)
        tab = res.table.set_index("hypothesis")
        fit = res.fits["B1"][0]
        assert tab.loc["B1", "p_value"] == fit.effects.loc[0, "p_value"]
        assert tab.loc["B1", "std_error"] == fit.effects.loc[0, "std_error"]
        assert tab.loc["B1", "inference"] == fit.inference["interval"]
        assert "clients ('client')" in tab.loc["B1", "inference"] or "cluster-robust" in tab.loc["B1", "inference"]
        excludes = (tab["ci_lower"] > 0) | (tab["ci_upper"] < 0)
        assert ((tab["p_value"] < 0.05) == excludes).all()
        assert tab.loc["B1", "verdict"] == "supported: the interval lies above 0"
        assert re.match(r"not supported: the interval (includes 0|lies below 0)", tab.loc["B2", "verdict"])
        assert "not supported" in res.summary() and "includes 0" in res.summary()


class _no_warning:
    def __enter__(self):
        import warnings

        self._ctx = warnings.catch_warnings()
        self._ctx.__enter__()
        warnings.simplefilter("error", DataWarning)

    def __exit__(self, *exc):
        self._ctx.__exit__(*exc)
        return False


# ------------------------------------------------------------------------------ the other mediation models
@pytest.mark.parametrize("ci", ["monte_carlo", "delta"])
def test_multilevel_mediation_has_one_inference_for_effects_and_paths(ci):
    from allianceStats.mediation import fit_multilevel_mediation
    from allianceStats.mediation.multilevel import simulate_111

    data, _ = simulate_111(40, 8, seed=5)
    res = fit_multilevel_mediation(data, "x", "m", "y", ci=ci, n_draws=4000, seed=2, random_slopes=False)
    for table in (res.effects, res.paths):
        excludes = (table["ci_lower"] > 0) | (table["ci_upper"] < 0)
        assert ((table["p_value"] < 0.05) == excludes).all()
    effects, paths = res.effects.set_index("effect"), res.paths.set_index("label")
    for effect, label in (("within direct", "c_prime_within"), ("between direct", "c_prime_between")):
        for col in ("estimate", "std_error", "p_value", "ci_lower", "ci_upper"):
            assert effects.loc[effect, col] == paths.loc[label, col], (effect, col)
    assert ("Wald" in res.inference["interval"]) == (ci == "delta")
    # params stays the model's table (GLS, Wald), whatever ci
    wald = res.params.set_index("term")
    assert np.allclose(wald["statistic"], wald["estimate"] / wald["std_error"])
    assert "0.0000" not in res.summary()


def test_wave_mediation_p_values_agree_with_the_intervals(lavaan_waves):
    from allianceStats.mediation import fit_wave_mediation

    data, _ = lavaan_waves
    res = fit_wave_mediation(data, "support", "needs", "motivation", n_draws=4000, seed=2)
    assert res.ci == "monte_carlo" and res.draws["paths"].sizes["path"] == 5
    for table in (res.effects, res.paths):
        excludes = (table["ci_lower"] > 0) | (table["ci_upper"] < 0)
        assert ((table["p_value"] < 0.05) == excludes).all()
        assert table["statistic"].isna().all()
    assert "interval inverted" in res.inference["p_value"] and "0.0000" not in res.summary()
