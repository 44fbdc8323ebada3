"""fit_joint against JM 1.5-2 (jointModel(..., method = "piecewise-PH-aGH")) on JM's aids data.

Fixture: tests/survival/fixtures/make_joint_fixture.R (JM built from the CRAN sources into a private library).

What agrees, and how closely:
- the approximate log-likelihood evaluated at JM's estimates, with our pseudo-adaptive nodes (from our REML fit
  of the longitudinal submodel), equals JM's logLik to 1e-9 relative: same model, knots, quadrature and nodes;
- our REML start equals nlme::lme (fixed effects and sigma 1e-6, D 1e-5 relative);
- JM's optimiser stops short of the maximum (its own function has |score| up to 0.35 at its estimates): our
  optimum has a higher log-likelihood (by 0.003), so estimates agree with JM's within 0.5 % (relative, or 1e-4
  absolute for small ones) and SEs within 0.2 %, the size of JM's convergence error — not to 1e-6;
- the values quoted in issue 15 (association -0.2875, SE .0359; drug .3348) to the digits quoted within that error.
"""
import json
import warnings
from pathlib import Path

import numpy as np
import pytest

from allianceStats.survival import fit_cox, fit_joint
from allianceStats.survival import joint as J

FIX = Path(__file__).resolve().parent / "fixtures"
REF = json.loads((FIX / "joint_reference.json").read_text())
LONG = "CD4 ~ obstime + obstime:drug + (obstime | patient)"
EVENT = "Surv(Time, death) ~ drug"


@pytest.fixture(scope="module")
def fit(aids):
    a, events = aids
    return fit_joint(a, LONG, events, EVENT, client="patient", session="obstime")


def _likelihood(aids):
    a, events = aids
    arr, names, _, _ = J._prepare(a, LONG, events, EVENT, "patient", "obstime", None, "fit_joint")
    beta, sigma, D, bhat, lmm = J._lmm_start(arr, names, len(arr["T"]))
    nodes, log_w = J._nodes(arr, sigma, D, bhat, 5)
    jd = J.JointData(**arr, nodes=nodes, log_w=log_w, names=names)
    return J.JointLikelihood(jd, J.Layout(p=3, r=1, n_xi=7, q=2)), (beta, sigma, D, bhat, lmm), jd


def _jm_theta():
    r = REF["joint"]
    return np.concatenate([r["betas"], [np.log(r["sigma"])], [r["gammas"]], [r["alpha"]], np.log(r["xi"]),
                           J.D_to_chol(np.array(r["D"]))])


def test_knots_are_jms(aids):
    lik, _, jd = _likelihood(aids)
    np.testing.assert_allclose(jd.knots, REF["joint"]["knots"], rtol=1e-12)


def test_reml_start_equals_lme(aids):
    _, (beta, sigma, D, bhat, _), _ = _likelihood(aids)
    r = REF["lme"]
    np.testing.assert_allclose(beta, r["fixef"], rtol=1e-6)
    assert sigma == pytest.approx(r["sigma"], rel=1e-6)
    np.testing.assert_allclose(D, np.array(r["D"]), rtol=1e-5)
    np.testing.assert_allclose(bhat, np.array(r["ranef"]), rtol=1e-4, atol=1e-6)


def test_loglik_at_jm_estimates_equals_jm(aids):
    lik, _, _ = _likelihood(aids)
    assert lik.loglik(_jm_theta()) == pytest.approx(REF["joint"]["logLik"], rel=1e-9)


def test_analytic_score_equals_numerical(aids):
    lik, _, _ = _likelihood(aids)
    th = _jm_theta()
    _, g = lik.loglik_and_score(th)
    h = 1e-6
    num = np.array([(lik.loglik(th + h * e) - lik.loglik(th - h * e)) / (2 * h) for e in np.eye(len(th))])
    np.testing.assert_allclose(g, num, atol=1e-5)
    assert np.max(np.abs(g)) > 0.1  # JM stopped short of the maximum (see the module docstring)


def test_fit_matches_jm_within_its_convergence(fit):
    r = REF["joint"]
    assert fit.converged
    assert fit.loglik >= r["logLik"] and fit.loglik - r["logLik"] < 0.01
    p = fit.params
    ref_est = np.array(r["long_estimate"] + r["event_estimate"])
    ref_se = np.array(r["long_std_error"] + r["event_std_error"])
    assert p["term"].tolist()[:3] == r["long_term"]
    assert p["term"].tolist()[3:5] == ["drugddI", "association"] and r["event_term"][:2] == ["drugddI", "Assoct"]
    np.testing.assert_allclose(p["estimate"], ref_est, rtol=5e-3, atol=1e-4)
    np.testing.assert_allclose(p["std_error"], ref_se, rtol=2e-3)
    np.testing.assert_allclose(fit.varcomp["sdcor"].iloc[[0, 1, 3]], [4.5839, 0.1822, 1.7377], rtol=5e-3)


def test_issue_numbers(fit):
    row = fit.params.set_index("term")
    assert row.loc["association", "estimate"] == pytest.approx(-0.2875, abs=1e-3)
    assert row.loc["association", "std_error"] == pytest.approx(0.0359, abs=1e-4)
    assert row.loc["drugddI", "estimate"] == pytest.approx(0.3348, abs=1e-3)
    assert fit.loglik == pytest.approx(-4328.2613, abs=0.01)


def test_naive_time_dependent_cox_is_attenuated(aids, fit):
    """coxph(Surv(start, stop, event) ~ drug + CD4, aids): the last observed CD4 (issue: -0.19343, SE .02437)."""
    a, _ = aids
    naive = fit_cox(a, "Surv(start, stop, event) ~ drug + CD4")
    r = REF["naive_td_cox"]
    np.testing.assert_allclose(naive.params["estimate"], r["estimate"], rtol=1e-6)
    np.testing.assert_allclose(naive.params["std_error"], r["std_error"], rtol=1e-5)
    assert abs(naive.params["estimate"].iloc[1]) < abs(fit.association)


def test_result_protocol_and_summary(fit):
    assert fit.n_obs == 1405 and fit.n_clients == 467 and fit.n_events == 188
    assert fit.conf_level == 0.95 and fit.provenance.function == "fit_joint"
    text = fit.summary()
    assert "association" in text and "Longitudinal process" in text and "log(xi.7)" in text
    assert fit.vcov.shape == (16, 16) and np.allclose(fit.vcov, fit.vcov.T)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert "association=-0.28" in repr(fit)


@pytest.mark.parametrize("association,key", [("both", "joint_both"), ("slope", "joint_slope")])
def test_slope_association_equals_jm(aids, association, key):
    """JM's parameterization = "both" / "slope" with derivForm = list(fixed = ~ 1 + drug, indFixed = 2:3,
    random = ~ 1, indRandom = 2): our numerical derivative of the longitudinal design gives the same slope, so the
    log-likelihood at JM's estimates is JM's (1e-8); JM stops earlier still in these flatter models (our optimum is
    higher by 0.06-0.07), so estimates agree within half a standard error."""
    lik, _, jd = _likelihood(aids)
    r = REF[key]
    value = association == "both"
    lay = J.Layout(p=3, r=1, n_xi=7, q=2, value=value, slope=True)
    lik = J.JointLikelihood(jd, lay)
    th = np.concatenate([r["betas"], [np.log(r["sigma"])], [r["gammas"]], [r["alpha"]] if value else [],
                         [r["Dalpha"]], np.log(r["xi"]), J.D_to_chol(np.array(r["D"]))])
    ll, g = lik.loglik_and_score(th)
    assert ll == pytest.approx(r["logLik"], rel=1e-8)
    h = 1e-6
    num = np.array([(lik.loglik(th + h * e) - lik.loglik(th - h * e)) / (2 * h) for e in np.eye(len(th))])
    np.testing.assert_allclose(g, num, atol=1e-5)
    a, events = aids
    fit = fit_joint(a, LONG, events, EVENT, client="patient", session="obstime", association=association)
    assert fit.converged and fit.loglik >= r["logLik"] and fit.loglik - r["logLik"] < 0.2
    ref_est = np.array(r["long_estimate"] + r["event_estimate"])
    ref_se = np.array(r["long_std_error"] + r["event_std_error"])
    assert np.all(np.abs(fit.params["estimate"].to_numpy() - ref_est) < 0.5 * ref_se)
    np.testing.assert_allclose(fit.params["std_error"], ref_se, rtol=0.1)
    assert "association_slope" in fit.params["term"].tolist()
    assert np.isnan(fit.association) != value
