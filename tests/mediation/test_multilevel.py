"""Multilevel 1-1-1 mediation: the stacked-model engine against nlme::lme (varIdent residuals, REML), recovery
of known within and between indirect effects in simulation, and errors on bad input.

Tolerances vs nlme 3.1 (fixtures/make_fixtures.R, section 3; block-diagonal G because nlme cannot zero a single
covariance): REML log-likelihood 1e-9 relative (and ours is not lower); fixed effects 2e-5 relative and their SEs
1e-4 relative; residual SDs 1e-4 relative; the entries of the random-effect covariance G within 1e-3 of their own
standard errors. Why the last: the REML surface is flat in G — nlme stops 4e-8 log-likelihood units below our
optimum, which moves G entries by up to 4e-6 (2e-4 relative for the smallest) = 2e-4 standard errors.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from allianceStats.errors import IdentificationError, OptionError, SchemaError
from allianceStats.mediation.multilevel import fit_multilevel_mediation, fit_stacked, simulate_111

# nlme fixed-effect names -> our order (m: intercept, a_W, a_B; y: intercept, b_W, b_B, c'_W, c'_B)
NLME_FIXED = ["Sm", "Sm:xw", "Sm:xb", "Sy", "Sy:mw", "Sy:mb", "xw:Sy", "xb:Sy"]


def test_stacked_model_matches_nlme(nlme_multilevel):
    data, ref = nlme_multilevel
    codes, uniques = pd.factorize(data["client"], sort=True)
    # nlme's blocks {m intercept, a_j, b_j} and {y intercept}: our random-effect order is the same
    fit = fit_stacked(data, "x", "m", "y", codes, len(uniques),
                      zero_cov=frozenset({(3, 0), (3, 1), (3, 2)}))
    assert fit.convergence.converged
    assert fit.loglik == pytest.approx(ref["loglik_reml"], rel=1e-9)
    assert fit.loglik >= ref["loglik_reml"] - 1e-9
    fixed = pd.DataFrame(ref["fixed"]).set_index("term").loc[NLME_FIXED]
    np.testing.assert_allclose(fit.beta, fixed["estimate"], rtol=2e-5)
    np.testing.assert_allclose(np.sqrt(np.diag(fit.vcov_beta)), fixed["std_error"], rtol=1e-4)
    order = [ref["G_names"].index(n) for n in ref["G_names"]]
    g_ref = np.zeros((4, 4))
    g_ref[:3, :3] = np.array(ref["G"])[:3, :3]
    g_ref[3, 3] = np.array(ref["G"])[3, 3]
    assert order == [0, 1, 2, 3]
    g_se = np.zeros((4, 4))
    g_se[fit.lik.rows, fit.lik.cols] = np.sqrt(np.diag(fit.vcov_phi))[:-2]
    g_se = np.maximum(g_se, g_se.T)
    assert np.all(np.abs(fit.g - g_ref) <= 1e-3 * g_se)
    assert np.all(fit.g[3, :3] == 0.0)
    assert np.sqrt(fit.var_m) == pytest.approx(ref["sigma_m"], rel=1e-4)
    assert np.sqrt(fit.var_y) == pytest.approx(ref["sigma_y"], rel=1e-4)


def test_recovers_known_within_and_between_indirect_effects():
    data, truth = simulate_111(250, 12, seed=42)
    res = fit_multilevel_mediation(data, "x", "m", "y", n_draws=4000, seed=1)
    eff = res.effects.set_index("effect")
    for name, value in truth.items():  # within 3.5 standard errors of the truth, and inside the 95% interval
        assert abs(eff.loc[name, "estimate"] - value) < 3.5 * eff.loc[name, "std_error"], name
    assert eff.loc["within indirect", "ci_lower"] < truth["within indirect"] < eff.loc["within indirect", "ci_upper"]
    vc = res.varcomp.set_index(["var1", "var2"])
    assert vc.loc[("a slope", "b slope"), "vcov"] == pytest.approx(0.03, abs=3.5 * vc.loc[("a slope", "b slope"),
                                                                                          "std_error"])
    # ignoring sigma_ab (a_W b_W alone) would miss the truth by sigma_ab = 0.03: the cov term matters here
    assert eff.loc["within indirect", "estimate"] - res.params.loc[1, "estimate"] * res.params.loc[4, "estimate"] \
        == pytest.approx(vc.loc[("a slope", "b slope"), "vcov"], rel=1e-12)


def test_cluster_bootstrap_and_monte_carlo_agree_roughly():
    data, _ = simulate_111(60, 8, seed=3)
    mc = fit_multilevel_mediation(data, "x", "m", "y", n_draws=2000, seed=2, random_slopes=False)
    boot = fit_multilevel_mediation(data, "x", "m", "y", n_draws=30, seed=2, random_slopes=False, ci="percentile")
    assert mc.effects["estimate"].equals(boot.effects["estimate"])
    sd_mc = mc.draws["effects"].std("draw").values
    sd_boot = boot.draws["effects"].std("draw").values
    # 30 resamples: the SD ratio has sampling SD ~ 1/sqrt(60) = 0.13; allow a factor 1.7 either way
    assert np.all((sd_boot / sd_mc > 1 / 1.7) & (sd_boot / sd_mc < 1.7))


def test_seeded_and_not_mutating():
    data, _ = simulate_111(30, 6, seed=5)
    before = data.copy()
    one = fit_multilevel_mediation(data, "x", "m", "y", n_draws=500, seed=9, random_slopes=False)
    two = fit_multilevel_mediation(data, "x", "m", "y", n_draws=500, seed=9, random_slopes=False)
    assert np.array_equal(one.draws["effects"].values, two.draws["effects"].values)
    pd.testing.assert_frame_equal(data, before)
    assert list(one.effects.columns) == ["effect", "estimate", "std_error", "statistic", "p_value", "ci_lower",
                                         "ci_upper"]


def test_bca_and_delta_intervals_and_the_paths_table():
    from allianceStats.mediation.tables import EFFECT_COLUMNS, PATH_COLUMNS
    from allianceStats.results import Result

    data, _ = simulate_111(40, 6, seed=3)
    kw = dict(random_slopes=False, seed=2, conf_level=0.9)
    delta = fit_multilevel_mediation(data, "x", "m", "y", ci="delta", **kw)
    assert isinstance(delta, Result) and delta.converged and delta.draws is None and delta.n_draws == 0
    eff = delta.effects
    assert list(eff.columns) == EFFECT_COLUMNS
    np.testing.assert_allclose(eff["ci_upper"] - eff["estimate"], 1.6448536269514722 * eff["std_error"], rtol=1e-9)
    paths = delta.paths
    assert list(paths.columns) == PATH_COLUMNS and set(paths["op"]) == {"~"}
    assert paths[["lhs", "rhs", "label"]].values.tolist() == [
        ["m", "x_within", "a1_within"], ["m", "x_between", "a1_between"], ["y", "m_within", "b1_within"],
        ["y", "m_between", "b1_between"], ["y", "x_within", "c_prime_within"], ["y", "x_between", "c_prime_between"]]
    # the between indirect effect is the product of the between paths; paths equal the fixed effects
    p = paths.set_index("label")["estimate"]
    assert eff.loc[1, "estimate"] == pytest.approx(p["a1_between"] * p["b1_between"], rel=1e-12)
    np.testing.assert_allclose(paths["estimate"], delta.params["estimate"].to_numpy()[[1, 2, 4, 5, 6, 7]], rtol=0)
    bca = fit_multilevel_mediation(data, "x", "m", "y", ci="bca", n_draws=25, **kw)
    per = fit_multilevel_mediation(data, "x", "m", "y", ci="percentile", n_draws=25, **kw)
    np.testing.assert_array_equal(bca.draws["effects"].values, per.draws["effects"].values)  # same resamples
    assert not np.allclose(bca.effects["ci_lower"], per.effects["ci_lower"])  # only the quantile levels differ
    assert bca.provenance.function == "fit_multilevel_mediation" and bca.provenance.seed == 2
    assert bca.n_clients == 40 and bca.n_obs == 240


def test_bad_inputs():
    data, _ = simulate_111(30, 6, seed=5)
    with pytest.raises(SchemaError, match="column 'therapist' not found in data"):
        fit_multilevel_mediation(data, "x", "m", "y", client="therapist")
    with pytest.raises(OptionError, match="ci='wald' is not supported"):
        fit_multilevel_mediation(data, "x", "m", "y", ci="wald")
    with pytest.raises(OptionError, match="conf_level='95%' must be a number between 0 and 1"):
        fit_multilevel_mediation(data, "x", "m", "y", conf_level="95%")
    with pytest.raises(OptionError, match="n_draws=5 must be an integer of at least 20"):
        fit_multilevel_mediation(data, "x", "m", "y", n_draws=5)
    with pytest.raises(OptionError, match="reml='no' must be True or False"):
        fit_multilevel_mediation(data, "x", "m", "y", reml="no")
    with pytest.raises(OptionError, match="column 'x' is given as x and m"):
        fit_multilevel_mediation(data, "x", "x", "y")
    with pytest.raises(IdentificationError, match="at least 10"):
        fit_multilevel_mediation(data[data["client"].isin(["c000", "c001"])], "x", "m", "y")
    flat = data.assign(x=data.groupby("client")["x"].transform("mean"))
    with pytest.raises(IdentificationError, match="does not vary within clients"):
        fit_multilevel_mediation(flat, "x", "m", "y")


def _separable(data):
    codes, uniques = pd.factorize(data["client"], sort=True)
    # G block-diagonal between the m block (intercept, a_j) and the y block (b_j, intercept): the stacked
    # likelihood factorises into the two equations
    return fit_stacked(data, "x", "m", "y", codes, len(uniques), zero_cov=frozenset({(2, 0), (2, 1), (3, 0), (3, 1)}))


def test_separable_stacked_model_equals_two_lme4_fits(nlme_multilevel, lme4_separable):
    """Each equation of the separable stacked model equals lme4's REML fit of that equation alone: fixed effects
    1e-5 relative, their SEs, G entries and residual SDs 1e-4 relative, summed REML log-likelihood 1e-8."""
    data, _ = nlme_multilevel
    ref = lme4_separable
    fit = _separable(data)
    se = np.sqrt(np.diag(fit.vcov_beta))
    for part, rows, g_idx, sigma2 in (("m", slice(0, 3), [0, 1], fit.var_m), ("y", slice(3, 8), [3, 2], fit.var_y)):
        np.testing.assert_allclose(fit.beta[rows], ref[part]["fixed"], rtol=1e-5)
        np.testing.assert_allclose(se[rows], ref[part]["std_error"], rtol=1e-4)
        np.testing.assert_allclose(fit.g[np.ix_(g_idx, g_idx)], np.array(ref[part]["G"]), rtol=1e-4)
        assert np.sqrt(sigma2) == pytest.approx(ref[part]["sigma"], rel=1e-4)
    assert fit.loglik == pytest.approx(ref["m"]["loglik_reml"] + ref["y"]["loglik_reml"], rel=1e-8)


def test_separable_stacked_model_equals_two_fit_mlm_fits(nlme_multilevel):
    """The same check against allianceStats.fit_mlm (the project's lme4-validated engine; this data set caught a
    boundary-saddle stop in fit_mlm 9340fb4, fixed in 8cd8a6a): estimates 1e-5, SEs and variance components 1e-4."""
    import allianceStats as als

    data, _ = nlme_multilevel
    fit = _separable(data)
    d = data.assign(x_between=data.groupby("client")["x"].transform("mean"),
                    m_between=data.groupby("client")["m"].transform("mean"))
    d = d.assign(x_within=d["x"] - d["x_between"], m_within=d["m"] - d["m_between"])
    fm = als.fit_mlm(d, "m ~ x_within + x_between + (1 + x_within | client)")
    fy = als.fit_mlm(d, "y ~ m_within + m_between + x_within + x_between + (1 + m_within | client)")
    se = np.sqrt(np.diag(fit.vcov_beta))
    for res, rows, g_idx, sigma2 in ((fm, slice(0, 3), [0, 1], fit.var_m), (fy, slice(3, 8), [3, 2], fit.var_y)):
        np.testing.assert_allclose(fit.beta[rows], res.params["estimate"], rtol=1e-5)
        np.testing.assert_allclose(se[rows], res.params["std_error"], rtol=1e-4)
        vc = res.varcomp
        re = vc[vc["group"] != "Residual"]
        variances = re[re["var2"].isna()]["vcov"].to_numpy()
        covariance = re[re["var2"].notna()]["vcov"].to_numpy()
        np.testing.assert_allclose(np.diag(fit.g)[g_idx], variances, rtol=1e-4)
        np.testing.assert_allclose(fit.g[g_idx[0], g_idx[1]], covariance[0], rtol=1e-4)
        assert sigma2 == pytest.approx(vc.loc[vc["group"] == "Residual", "vcov"].iloc[0], rel=1e-4)
