"""fit_joint(..., association="slope") with the Weibull and spline baselines against JM 1.5-2.

Fixture: tests/survival/fixtures/make_joint_slope_fixture.R (JM built from the CRAN sources into a private
library; the data are the committed aids.csv): ``jointModel(..., method = "weibull-PH-aGH" | "spline-PH-aGH",
parameterization = "slope", derivForm = list(fixed = ~ 1 + drug, indFixed = c(2, 3), random = ~ 1,
indRandom = 2))`` — the event submodel holds the current slope m_i'(t) and no current value (the piecewise
baseline's slope-only model is checked in tests/survival/test_joint_reference.py).

What agrees, and how closely:
- the approximate log-likelihood at JM's estimates, with our pseudo-adaptive nodes and the 15-point Gauss-Kronrod
  rule on (0, T_i), equals JM's logLik to 1e-8 relative (measured 1.4e-9 Weibull, 2.0e-9 spline): the slope model
  is JM's. The residual, 6e-6 and 9e-6 on the log-likelihood (ours the lower), is common to JM's slope-only fits:
  the piecewise one (joint_reference.json) gives 4.7e-6, while the "both" fits agree to 1e-11 and the value fits
  to 1e-13. It is not our slope design (the central difference of this design, linear in time, equals
  (0, 1, ddI) and (0, 1) to 1e-13); it was not traced further inside JM. The analytic score equals the numerical
  one, and its largest element equals JM's ``max(abs(Score))`` to 1e-3 (0.52, 0.30, measured 8e-5 and 2e-4
  relative: JM's optimiser stops short of the maximum);
- the SEs from JM's Hessian recipe (forward differences of the score, step 1e-6, JM's ``fd.vec``) at JM's
  estimates equal JM's SEs to 1e-5 relative (measured 8e-7, 4e-7);
- our knots for the spline baseline equal JM's default knots to 1e-12.

Optimum, Weibull: ours is higher than JM's by 0.12, one Newton step from JM's estimates (our score and Hessian)
lands on it (measured 0.012 SE) and our optimiser started at JM's estimates reaches it, so the differences are
JM's convergence error. The likelihood is flat along the slope association (the information's smallest
eigenvalue at JM's estimates 0.72, as for "both" in test_joint_weibull.py): a score of 0.52 there moves α_s by
0.48 SE, log(shape) by 0.32 and the event intercept by 0.26 SE, the longitudinal parameters by 0.06 SE at most.
Tolerances: estimates within 0.6 SE (measured 0.48); SEs, evaluated at our optimum rather than JM's, within 6 %
(measured 5.2 %, the event intercept and drugddI, whose SEs grow along that direction as in the "both" model).

Optimum, spline (JM's default knots): ours is higher than JM's by 0.51. As for the value and "both" models with
the default knots (test_joint_spline.py), the last B-spline (support after the interior knot 17.41; 5 events
there) has a nearly flat likelihood that keeps rising as its coefficient falls: JM's BFGS stopped at
bs9 = -7.2, ours goes on to -22 (SE 19). Our optimiser started at JM's estimates reaches the same optimum
(log-likelihood equal to 1e-9, every parameter within 1e-3 SE). Tolerances per block, as there: β, γ and α_s
within 0.06 SE (measured 0.018), their SEs within 1 % (measured 0.2 %); bs1-bs5 within 0.25 SE (measured 0.17),
SEs within 2 % (measured 1.2 %); bs6-bs9 only through the climb from JM's estimates and the direction of bs9.
"""
import json
import warnings
from pathlib import Path

import numpy as np
import pytest

from allianceStats.survival import fit_joint
from allianceStats.survival import joint as J
from allianceStats.survival.bspline import spline_knots

FIX = Path(__file__).resolve().parent / "fixtures"
REF = json.loads((FIX / "joint_slope_reference.json").read_text())
LONG = "CD4 ~ obstime + obstime:drug + (obstime | patient)"
EVENT = "Surv(Time, death) ~ drug"
CASES = [("weibull", "weibull_slope"), ("spline", "spline_slope")]
IDS = ["weibull", "spline"]


@pytest.fixture(scope="module")
def prepared(aids):
    a, events = aids
    out = {}
    for baseline, key in CASES:
        arr, names, _, _ = J._prepare(a, LONG, events, EVENT, "patient", "obstime", None, "fit_joint",
                                      baseline=baseline)
        beta, sigma, D, bhat, _ = J._lmm_start(arr, names, len(arr["T"]))
        nodes, log_w = J._nodes(arr, sigma, D, bhat, REF[key]["GHk"])
        out[key] = J.JointData(**arr, nodes=nodes, log_w=log_w, names=names)
    return out


@pytest.fixture(scope="module")
def fits(aids):
    a, events = aids
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return {key: fit_joint(a, LONG, events, EVENT, client="patient", session="obstime", association="slope",
                               baseline=baseline) for baseline, key in CASES}


def _jm(prepared, baseline, key):
    """Our likelihood with JM's layout, and JM's estimates as θ = (β, log σ, γ, α_s, log shape | bs, L)."""
    r = REF[key]
    jd = prepared[key]
    if baseline == "weibull":
        lay = J.Layout(p=3, r=2, n_xi=1, q=2, value=False, slope=True, baseline="weibull")
        xi = [np.log(r["sigma_t"])]
    else:
        lay = J.Layout(p=3, r=1, n_xi=len(r["gammas_bs"]), q=2, value=False, slope=True, baseline="spline")
        xi = r["gammas_bs"]
    theta = np.concatenate([r["betas"], [np.log(r["sigma"])], np.atleast_1d(r["gammas"]), [r["Dalpha"]], xi,
                            J.D_to_chol(np.array(r["D"]))])
    assert len(theta) == lay.size
    return J.JointLikelihood(jd, lay), theta, r


@pytest.mark.parametrize("baseline,key", CASES, ids=IDS)
def test_fixture_is_slope_only_and_quadrature_is_jms(prepared, baseline, key):
    r = REF[key]
    jd = prepared[key]
    assert r["parameterization"] == "slope" and r["alpha"] is None and r["convergence"] == 0
    assert "Assoct" not in r["event_term"] and "Assoct.s" in r["event_term"]
    assert r["GKk"] == len(J.GK15_NODES) == 15 and r["typeGH"] == "adaptive" and r["GHk"] == 5
    assert REF["versions"]["JM"] == "1.5.2" and REF["versions"]["nlme"] and REF["versions"]["survival"]
    np.testing.assert_allclose(np.bincount(jd.id_s, weights=jd.wP), jd.T, rtol=1e-13)
    if baseline == "weibull":
        assert r["knots"] is None and jd.knots.size == 0
    else:
        full = np.array(r["knots"])
        np.testing.assert_allclose(jd.knots, full[4:-4], rtol=1e-12)
        np.testing.assert_allclose(spline_knots(jd.T, float(min(jd.T.min(), jd.st.min())), None), full,
                                   rtol=1e-12)


@pytest.mark.parametrize("baseline,key", CASES, ids=IDS)
def test_loglik_score_and_se_at_jm_estimates_equal_jm(check_at_jm_estimates, prepared, baseline, key):
    check_at_jm_estimates(*_jm(prepared, baseline, key), loglik_rtol=1e-8, max_score_rtol=1e-3, se_rtol=1e-5)


@pytest.mark.parametrize("baseline,key", CASES, ids=IDS)
def test_fit_is_jms_maximum(prepared, fits, baseline, key):
    lik, th, r = _jm(prepared, baseline, key)
    fit = fits[key]
    assert fit.converged and fit.baseline == baseline and np.isnan(fit.association)
    assert fit.loglik >= r["logLik"]
    assert fit.loglik == pytest.approx(lik.loglik(fit.theta), rel=1e-12)
    p = fit.params
    ref_est = np.array(r["long_estimate"] + r["event_estimate"])
    ref_se = np.array(r["long_std_error"] + r["event_std_error"])
    dist = np.abs(p["estimate"].to_numpy() - ref_est) / ref_se
    se_ratio = p["std_error"].to_numpy() / ref_se
    se_theta = np.sqrt(np.diag(fit.vcov.to_numpy()))
    # our optimiser started at JM's estimates climbs to the same optimum
    theta2, ll2, _, conv2 = J.optimise(lik, th)
    assert conv2.converged and ll2 == pytest.approx(fit.loglik, rel=1e-9, abs=0)
    assert np.max(np.abs(theta2 - fit.theta) / se_theta) < 1e-3
    if baseline == "weibull":
        assert p["term"].tolist()[3:] == ["(Intercept)", "drugddI", "association_slope", "log(shape)"]
        assert r["event_term"] == ["(Intercept)", "drugddI", "Assoct.s", "log(shape)"]
        assert fit.loglik - r["logLik"] < 0.2
        # one Newton step from JM's estimates, with our score and Hessian, lands on our optimum
        H = J._numeric_hessian(lambda t: lik.loglik_and_score(t)[1], th)
        newton = th - np.linalg.solve(H, lik.loglik_and_score(th)[1])
        assert np.max(np.abs(newton - fit.theta) / se_theta) < 0.02
        assert dist.max() < 0.6
        assert dist[:3].max() < 0.1                       # the longitudinal submodel barely moves
        np.testing.assert_allclose(se_ratio, 1, atol=0.06)
    else:
        n_bs = len(r["gammas_bs"])
        assert p["term"].tolist()[3:] == ["drugddI", "association_slope"] + [f"bs{j + 1}" for j in range(n_bs)]
        assert r["event_term"] == ["drugddI", "Assoct.s"] + [f"bs{j + 1}" for j in range(n_bs)]
        assert fit.loglik - r["logLik"] < 1.0
        core = slice(0, len(p) - n_bs)            # β, γ, α_s
        assert dist[core].max() < 0.06
        np.testing.assert_allclose(se_ratio[core], 1, atol=0.01)
        early = slice(len(p) - n_bs, len(p) - n_bs + 5)  # bs1-bs5
        assert dist[early].max() < 0.25
        np.testing.assert_allclose(se_ratio[early], 1, atol=0.02)
        assert p["estimate"].iloc[-1] < ref_est[-1] - ref_se[-1]   # bs9 went on falling where JM stopped


def test_repr_and_summary_name_the_slope_association(fits):
    for baseline, key in CASES:
        fit = fits[key]
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            text = repr(fit)
        assert f"baseline='{baseline}'" in text
        assert "association_slope" in fit.summary() and "association_slope" in " ".join(fit.theta_names)
        assert fit.provenance.options["association"] == "slope"
