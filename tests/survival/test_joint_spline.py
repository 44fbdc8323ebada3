"""fit_joint(..., baseline="spline") against JM 1.5-2 (jointModel(..., method = "spline-PH-aGH")) on aids.

Fixture: tests/survival/fixtures/make_joint_spline_fixture.R (JM built from the CRAN sources into a private
library; the data are the committed aids.csv): the value association and value + slope ("both") with JM's default
knots, and the value association with interior knots 4, 8, 12 (JM's ``control = list(knots = ...)``).

What agrees, and how closely:
- the B-spline basis (scipy's ``BSpline.design_matrix``) equals ``splines::splineDesign`` on JM's knots to 1e-12,
  on a grid spanning the boundary knots and at the observed times (JM's ``W2``); our knots equal JM's to 1e-12;
- the approximate log-likelihood at JM's estimates, with our pseudo-adaptive nodes and the 15-point Gauss-Kronrod
  rule on (0, T_i), equals JM's logLik to 1e-10 relative (same model, quadrature and nodes; measured 2e-13,
  5e-11); the analytic score equals the numerical one, and its largest element equals JM's own
  ``max(abs(Score))`` to 1e-5 (0.56, 0.59, 0.78: JM's optimiser stops short of the maximum);
- the SEs from JM's Hessian recipe (forward differences of the score, step 1e-6, JM's ``fd.vec``) at JM's
  estimates equal JM's SEs to 1e-6 relative (measured 2e-7);
- optimum, knots 4, 8, 12: ours is higher than JM's by 0.003 and one Newton step from JM's estimates lands on it
  (measured 0.0013 SE), so the estimates differ by JM's convergence error only: within 0.1 SE (measured 0.07, the
  longitudinal intercept), SEs within 2.5 % (measured 2 %, the last B-spline);
- optimum, default knots: ours is higher than JM's by 0.75 (value) and 0.66 ("both"). The last B-spline (support
  after the interior knot 17.41 months; 78 clients still at risk there, 5 events, none after 19.07, censoring up
  to 21.4) has a coefficient whose likelihood is nearly flat and keeps rising as it falls: JM's BFGS stopped at
  bs9 = -6.2 with the score 0.56, ours goes on to -23 (SE 18; the information's smallest eigenvalue 0.003) where
  the score is 1e-12 and the Hessian negative definite. Our optimiser started at JM's estimates reaches the same
  optimum (log-likelihood equal to 1e-9, every parameter within 1e-3 SE). The likelihood is not quadratic along
  that direction, so the estimates of the B-splines near it move by more than JM's score suggests: the
  tolerances below are in SEs and per block — β, γ and the associations within 0.06 SE (measured 0.024 at
  most), their SEs within 1 % (measured 0.5 %); bs1-bs5 within 0.25 SE (measured 0.22), their SEs within 2 %
  (measured 1.6 %); bs6-bs9 are asserted only through the climb from JM's estimates and through the direction
  (ours below JM's for bs9).
"""
import json
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from allianceStats.errors import IdentificationError, OptionError
from allianceStats.survival import fit_joint
from allianceStats.survival import joint as J
from allianceStats.survival.bspline import bspline_design, spline_knots

FIX = Path(__file__).resolve().parent / "fixtures"
REF = json.loads((FIX / "joint_spline_reference.json").read_text())
LONG = "CD4 ~ obstime + obstime:drug + (obstime | patient)"
EVENT = "Surv(Time, death) ~ drug"
CASES = [("value", "spline_value", None), ("both", "spline_both", None), ("value", "spline_knots", [4.0, 8.0, 12.0])]
IDS = ["value", "both", "knots"]


def _prepared(aids, knots):
    a, events = aids
    arr, names, _, _ = J._prepare(a, LONG, events, EVENT, "patient", "obstime", knots, "fit_joint",
                                  baseline="spline")
    beta, sigma, D, bhat, _ = J._lmm_start(arr, names, len(arr["T"]))
    nodes, log_w = J._nodes(arr, sigma, D, bhat, REF["spline_value"]["GHk"])
    return J.JointData(**arr, nodes=nodes, log_w=log_w, names=names)


@pytest.fixture(scope="module")
def prepared(aids):
    return {key: _prepared(aids, kn) for _, key, kn in CASES}


@pytest.fixture(scope="module")
def fits(aids):
    a, events = aids
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return {key: fit_joint(a, LONG, events, EVENT, client="patient", session="obstime", association=assoc,
                               baseline="spline", knots=kn) for assoc, key, kn in CASES}


def _jm(prepared, association, key):
    r = REF[key]
    jd = prepared[key]
    both = association == "both"
    lay = J.Layout(p=3, r=1, n_xi=len(r["gammas_bs"]), q=2, value=True, slope=both, baseline="spline")
    theta = np.concatenate([r["betas"], [np.log(r["sigma"])], np.atleast_1d(r["gammas"]), [r["alpha"]],
                            [r["Dalpha"]] if both else [], r["gammas_bs"], J.D_to_chol(np.array(r["D"]))])
    return J.JointLikelihood(jd, lay), theta, r


def test_basis_equals_splinedesign():
    b = REF["basis"]
    kn = np.array(b["knots"])
    assert b["ord"] == 4 and REF["versions"]["splines"]
    np.testing.assert_allclose(bspline_design(kn, np.array(b["grid"])), np.array(b["grid_design"]), rtol=0,
                               atol=1e-12)
    a = pd.read_csv(FIX / "aids.csv")
    T = a.groupby("patient", sort=False)["Time"].first().to_numpy()
    np.testing.assert_allclose(bspline_design(kn, T), np.array(b["W2"]), rtol=0, atol=1e-12)
    # partition of unity on the boundary knots, the right end included
    np.testing.assert_allclose(bspline_design(kn, np.array([kn[0], kn[-1]])).sum(axis=1), 1.0, rtol=1e-14)


@pytest.mark.parametrize("association,key,knots", CASES, ids=IDS)
def test_knots_and_quadrature_are_jms(prepared, association, key, knots):
    r = REF[key]
    jd = prepared[key]
    assert r["GKk"] == len(J.GK15_NODES) == 15 and r["typeGH"] == "adaptive" and r["GHk"] == 5 and r["ord"] == 4
    full = np.array(r["knots"])
    np.testing.assert_allclose(jd.knots, full[4:-4], rtol=1e-12)
    np.testing.assert_allclose(spline_knots(jd.T, float(min(jd.T.min(), jd.st.min())), knots), full, rtol=1e-12)
    assert jd.B_T.shape == (len(jd.T), len(r["gammas_bs"])) and jd.B_s.shape == (15 * len(jd.T), jd.B_T.shape[1])
    np.testing.assert_allclose(np.bincount(jd.id_s, weights=jd.wP), jd.T, rtol=1e-13)


@pytest.mark.parametrize("association,key,knots", CASES, ids=IDS)
def test_loglik_score_and_se_at_jm_estimates_equal_jm(check_at_jm_estimates, prepared, association, key, knots):
    check_at_jm_estimates(*_jm(prepared, association, key), loglik_rtol=1e-10, max_score_rtol=1e-5, se_rtol=1e-6)


@pytest.mark.parametrize("association,key,knots", CASES, ids=IDS)
def test_fit_is_jms_maximum(prepared, fits, association, key, knots):
    lik, th, r = _jm(prepared, association, key)
    fit = fits[key]
    n_bs = len(r["gammas_bs"])
    assert fit.converged and fit.baseline == "spline"
    assert fit.loglik >= r["logLik"] and fit.loglik - r["logLik"] < 1.0
    assert fit.loglik == pytest.approx(lik.loglik(fit.theta), rel=1e-12)
    p = fit.params
    assert p["term"].tolist()[3:] == ["drugddI", "association"] + (
        ["association_slope"] if association == "both" else []) + [f"bs{j + 1}" for j in range(n_bs)]
    assert r["event_term"][-n_bs:] == [f"bs{j + 1}" for j in range(n_bs)]
    ref_est = np.array(r["long_estimate"] + r["event_estimate"])
    ref_se = np.array(r["long_std_error"] + r["event_std_error"])
    dist = np.abs(p["estimate"].to_numpy() - ref_est) / ref_se
    se_ratio = p["std_error"].to_numpy() / ref_se
    se_theta = np.sqrt(np.diag(fit.vcov.to_numpy()))
    if knots is not None:
        # one Newton step from JM's estimates, with our score and Hessian, lands on our optimum
        H = J._numeric_hessian(lambda t: lik.loglik_and_score(t)[1], th)
        newton = th - np.linalg.solve(H, lik.loglik_and_score(th)[1])
        assert np.max(np.abs(newton - fit.theta) / se_theta) < 5e-3
        assert fit.loglik - r["logLik"] < 0.01
        assert dist.max() < 0.1
        np.testing.assert_allclose(se_ratio, 1, atol=0.025)
    else:
        # our optimiser started at JM's estimates climbs to the same optimum
        theta2, ll2, _, conv2 = J.optimise(lik, th)
        assert conv2.converged and ll2 == pytest.approx(fit.loglik, rel=1e-9, abs=0)
        assert np.max(np.abs(theta2 - fit.theta) / se_theta) < 1e-3
        core = slice(0, len(p) - n_bs)            # β, γ, associations
        assert dist[core].max() < 0.06
        np.testing.assert_allclose(se_ratio[core], 1, atol=0.01)
        early = slice(len(p) - n_bs, len(p) - n_bs + 5)  # bs1-bs5
        assert dist[early].max() < 0.25
        np.testing.assert_allclose(se_ratio[early], 1, atol=0.02)
        assert p["estimate"].iloc[-1] < ref_est[-1] - ref_se[-1]   # bs9 went on falling where JM stopped


def test_summary_and_repr_name_the_baseline(fits):
    fit = fits["spline_value"]
    text = fit.summary()
    assert "B-spline baseline" in text and "bs9" in text and "7.3667" in text
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert "baseline='spline'" in repr(fit)
    assert fit.knots.size == 5 and fit.vcov.shape == (18, 18) and "bs9" in fit.theta_names
    assert fit.provenance.options["baseline"] == "spline" and fits["spline_knots"].provenance.options["knots"] == [
        4.0, 8.0, 12.0]


def test_intercept_only_event_submodel(aids):
    a, events = aids
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fit = fit_joint(a, LONG, events, "Surv(Time, death) ~ 1", client="patient", session="obstime",
                        baseline="spline", knots=[6.0, 12.0])
    assert fit.converged
    assert fit.params.loc[fit.params["submodel"] == "event", "term"].tolist() == [
        "association", "bs1", "bs2", "bs3", "bs4", "bs5", "bs6"]


def test_knots_above_follow_up_are_dropped_with_a_warning(aids):
    a, events = aids
    with pytest.warns(Warning, match="at or above the largest observed time"):
        fit = fit_joint(a, LONG, events, EVENT, client="patient", session="obstime", baseline="spline",
                        knots=[8.0, 30.0])
    assert fit.knots.tolist() == [8.0]


def test_too_few_events_for_the_knots(aids):
    a, events = aids
    few = events.copy()
    few["death"] = 0
    few.loc[few.index[:5], "death"] = 1   # 5 events for 9 B-spline coefficients
    with pytest.raises(IdentificationError, match=r"distinct event time\(s\) for 9 B-spline coefficients.*knots="):
        fit_joint(a, LONG, few, EVENT, client="patient", session="obstime", baseline="spline")
    # enough events, but none in the support of the last B-spline: its coefficient would diverge to -inf
    early = events.copy()
    early.loc[early["Time"] > 10, "death"] = 0
    with pytest.raises(IdentificationError, match="bs9 hold no event time"):
        fit_joint(a, LONG, early, EVENT, client="patient", session="obstime", baseline="spline",
                  knots=[2.0, 4.0, 6.0, 8.0, 11.0])


def test_bad_spline_knots(aids):
    a, events = aids
    with pytest.raises(OptionError, match="lower boundary knot"):
        fit_joint(a, LONG, events, EVENT, client="patient", session="obstime", baseline="spline", knots=[0.0, 6.0])
    with pytest.raises(OptionError, match="lower boundary knot"):
        fit_joint(a, LONG, events, EVENT, client="patient", session="obstime", baseline="spline",
                  knots=[np.nan, 6.0])
    with pytest.raises(OptionError, match="baseline"):
        fit_joint(a, LONG, events, EVENT, client="patient", session="obstime", baseline="splines")
