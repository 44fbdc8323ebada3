"""fit_joint(..., baseline="weibull") against JM 1.5-2 (jointModel(..., method = "weibull-PH-aGH")) on aids.

Fixture: tests/survival/fixtures/make_joint_weibull_fixture.R (JM built from the CRAN sources into a private
library; the data are the committed aids.csv), value association and value + slope ("both").

What agrees, and how closely:
- the approximate log-likelihood evaluated at JM's estimates, with our pseudo-adaptive nodes and the 15-point
  Gauss-Kronrod rule on (0, T_i), equals JM's logLik to 1e-9 relative (same model, quadrature and nodes);
- at JM's estimates our analytic score equals the numerical one, and its largest element equals JM's own
  ``max(abs(Score))`` (0.33 and 0.37): JM's optimiser stops short of the maximum;
- the standard errors from JM's Hessian recipe (forward differences of the score, step 1e-6, as JM's ``fd.vec``)
  at JM's estimates equal JM's SEs to 1e-5 relative;
- our optimum has a higher log-likelihood than JM's (by 0.003 for the value model, 0.09 for "both"), and one
  Newton step from JM's estimates (our score and Hessian) lands on it (within 0.001 SE, value; 0.05 SE, both):
  the differences of the estimates are JM's convergence error. They are 0.07 SE at most for the value model
  (relative 0.63 % for log(shape), 0.5 % or less otherwise) and under half an SE for "both", whose likelihood is
  flat along the slope association (as in the piecewise tests, tests/survival/test_joint_reference.py); the SEs
  of the fit, evaluated at our optimum rather than JM's, agree within 0.2 % (value) and 12 % (both: the event
  intercept, whose SE grows with |log(shape)| and |α_s| along that flat direction).
"""
import json
import warnings
from pathlib import Path

import numpy as np
import pytest

from allianceStats.errors import OptionError
from allianceStats.survival import fit_joint
from allianceStats.survival import joint as J

FIX = Path(__file__).resolve().parent / "fixtures"
REF = json.loads((FIX / "joint_weibull_reference.json").read_text())
LONG = "CD4 ~ obstime + obstime:drug + (obstime | patient)"
EVENT = "Surv(Time, death) ~ drug"
CASES = [("value", "weibull_value"), ("both", "weibull_both")]


@pytest.fixture(scope="module")
def prepared(aids):
    a, events = aids
    arr, names, _, _ = J._prepare(a, LONG, events, EVENT, "patient", "obstime", None, "fit_joint",
                                  baseline="weibull")
    beta, sigma, D, bhat, _ = J._lmm_start(arr, names, len(arr["T"]))
    nodes, log_w = J._nodes(arr, sigma, D, bhat, REF["weibull_value"]["GHk"])
    return J.JointData(**arr, nodes=nodes, log_w=log_w, names=names)


@pytest.fixture(scope="module")
def fits(aids):
    a, events = aids
    return {assoc: fit_joint(a, LONG, events, EVENT, client="patient", session="obstime", association=assoc,
                             baseline="weibull") for assoc, _ in CASES}


def _jm(jd, association, key):
    r = REF[key]
    both = association == "both"
    lay = J.Layout(p=3, r=2, n_xi=1, q=2, value=True, slope=both, baseline="weibull")
    theta = np.concatenate([r["betas"], [np.log(r["sigma"])], r["gammas"], [r["alpha"]],
                            [r["Dalpha"]] if both else [], [np.log(r["sigma_t"])], J.D_to_chol(np.array(r["D"]))])
    return J.JointLikelihood(jd, lay), theta, r


def test_quadrature_is_jms(prepared):
    r = REF["weibull_value"]
    assert r["GKk"] == len(J.GK15_NODES) == 15 and r["typeGH"] == "adaptive" and r["GHk"] == 5
    jd = prepared
    assert len(jd.st) == 15 * len(jd.T) and jd.knots.size == 0 and jd.W[:, 0].tolist() == [1.0] * len(jd.T)
    # the rule integrates t^k exactly on (0, T) for k up to 22: sum of weights = T, first moment T^2 / 2
    np.testing.assert_allclose(np.bincount(jd.id_s, weights=jd.wP), jd.T, rtol=1e-13)
    np.testing.assert_allclose(np.bincount(jd.id_s, weights=jd.wP * jd.st**5), jd.T**6 / 6, rtol=1e-12)


@pytest.mark.parametrize("association,key", CASES)
def test_loglik_score_and_se_at_jm_estimates_equal_jm(check_at_jm_estimates, prepared, association, key):
    check_at_jm_estimates(*_jm(prepared, association, key), loglik_rtol=1e-9, max_score_rtol=1e-4, se_rtol=1e-5)


@pytest.mark.parametrize("association,key", CASES)
def test_fit_is_jms_maximum(prepared, fits, association, key):
    lik, th, r = _jm(prepared, association, key)
    fit = fits[association]
    assert fit.converged and fit.baseline == "weibull"
    assert fit.loglik >= r["logLik"] and fit.loglik - r["logLik"] < (0.01 if association == "value" else 0.2)
    assert fit.loglik == pytest.approx(lik.loglik(fit.theta), rel=1e-12)
    # one Newton step from JM's estimates, with our score and Hessian, lands on our optimum
    H = J._numeric_hessian(lambda t: lik.loglik_and_score(t)[1], th)
    newton = th - np.linalg.solve(H, lik.loglik_and_score(th)[1])
    se_theta = np.sqrt(np.diag(fit.vcov.to_numpy()))
    assert np.max(np.abs(newton - fit.theta) / se_theta) < (1e-3 if association == "value" else 0.05)
    p = fit.params
    ref_est = np.array(r["long_estimate"] + r["event_estimate"])
    ref_se = np.array(r["long_std_error"] + r["event_std_error"])
    assert p["term"].tolist()[3:] == ["(Intercept)", "drugddI", "association"] + (
        ["association_slope"] if association == "both" else []) + ["log(shape)"]
    assert r["event_term"][-1] == "log(shape)"
    assert p["submodel"].tolist()[3] == "event"
    dist = np.abs(p["estimate"].to_numpy() - ref_est) / ref_se
    if association == "value":
        assert dist.max() < 0.1
        np.testing.assert_allclose(p["estimate"], ref_est, rtol=7e-3)
        np.testing.assert_allclose(p["std_error"], ref_se, rtol=2e-3)
    else:
        assert dist.max() < 0.5
        np.testing.assert_allclose(p["std_error"], ref_se, rtol=0.12)


def test_summary_and_repr_name_the_baseline(fits):
    fit = fits["value"]
    assert "Weibull baseline" in fit.summary() and "log(shape)" in fit.summary()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert "baseline='weibull'" in repr(fit)
    assert fit.knots.size == 0 and fit.vcov.shape == (11, 11) and "gamma:(Intercept)" in fit.theta_names
    assert fit.provenance.options["baseline"] == "weibull"


def test_intercept_only_event_submodel(aids):
    a, events = aids
    fit = fit_joint(a, LONG, events, "Surv(Time, death) ~ 1", client="patient", session="obstime",
                    baseline="weibull")
    assert fit.converged
    assert fit.params.loc[fit.params["submodel"] == "event", "term"].tolist() == [
        "(Intercept)", "association", "log(shape)"]


def test_bad_baseline_and_knots_with_weibull(aids):
    a, events = aids
    with pytest.raises(OptionError, match="baseline"):
        fit_joint(a, LONG, events, EVENT, client="patient", session="obstime", baseline="cox")
    with pytest.raises(OptionError, match="knots"):
        fit_joint(a, LONG, events, EVENT, client="patient", session="obstime", baseline="weibull", knots=[5.0])
