"""Shared fixtures of tests/survival: the R reference values and the data sets they were computed on."""
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

FIX = Path(__file__).resolve().parent / "fixtures"


@pytest.fixture(scope="session")
def ref():
    return json.loads((FIX / "survival_reference.json").read_text())


@pytest.fixture(scope="session")
def heart():
    return pd.read_csv(FIX / "heart.csv")


@pytest.fixture(scope="session")
def veteran():
    return pd.read_csv(FIX / "veteran.csv")


@pytest.fixture(scope="session")
def mgus2():
    return pd.read_csv(FIX / "mgus2.csv")


@pytest.fixture(scope="session")
def jasa():
    return pd.read_csv(FIX / "jasa.csv")


@pytest.fixture(scope="session")
def ref38():
    """Reference values from survival 3.8-11 (make_fixtures_survival38.R): survival curves along covariate paths."""
    return json.loads((FIX / "survival38_reference.json").read_text())


@pytest.fixture(scope="module")
def aids():
    """JM's aids data (fixtures/aids.csv, written by the joint-model R scripts) and its one row per patient of event
    data: ``(sessions, events)``."""
    a = pd.read_csv(FIX / "aids.csv")
    events = a.groupby("patient", sort=False).first().reset_index()[["patient", "Time", "death", "drug"]]
    return a, events


def _check_at_jm_estimates(lik, th, r, *, loglik_rtol, max_score_rtol, se_rtol):
    """At JM's estimates ``th``: our log-likelihood equals JM's logLik, the analytic score the central-difference
    one (atol 1e-5), its largest element JM's ``max(abs(Score))``, and the SEs from JM's Hessian recipe JM's SEs."""
    ll, g = lik.loglik_and_score(th)
    assert ll == pytest.approx(r["logLik"], rel=loglik_rtol)
    h = 1e-6
    num = np.array([(lik.loglik(th + h * e) - lik.loglik(th - h * e)) / (2 * h) for e in np.eye(len(th))])
    np.testing.assert_allclose(g, num, atol=1e-5)
    assert np.max(np.abs(g)) == pytest.approx(r["max_abs_score"], rel=max_score_rtol)
    # JM's Hessian: forward differences of the score with step 1e-6 * max(|theta|, 1), symmetrised
    H = np.zeros((len(th), len(th)))
    for j in range(len(th)):
        t1 = th.copy()
        t1[j] += 1e-6 * max(abs(th[j]), 1.0)
        H[:, j] = (lik.loglik_and_score(t1)[1] - g) / (t1[j] - th[j])
    se = np.sqrt(np.diag(np.linalg.inv(-(H + H.T) / 2)))
    idx = list(range(3)) + list(lik.lay.event_block)
    np.testing.assert_allclose(se[idx], r["long_std_error"] + r["event_std_error"], rtol=se_rtol)


@pytest.fixture(scope="session")
def check_at_jm_estimates():
    """The check of a joint likelihood at JM's estimates against JM (``_check_at_jm_estimates``), with the
    tolerances of the calling test."""
    return _check_at_jm_estimates


def _check_cox(fit, r, *, std_error_model_key="std_error_model"):
    """A fit_cox result against R's coxph: coefficients 1e-6 relative, standard errors 1e-5, p-values 1e-4,
    log-likelihoods 1e-8, likelihood-ratio and score tests 1e-6, Wald 1e-5; converged. ``std_error_model_key``
    names the reference entry of the model-based SEs."""
    p = fit.params
    assert p["term"].tolist() == r["term"]
    np.testing.assert_allclose(p["estimate"], r["estimate"], rtol=1e-6)
    np.testing.assert_allclose(p["std_error"], r["std_error"], rtol=1e-5)
    np.testing.assert_allclose(p["std_error_model"], r[std_error_model_key], rtol=1e-5)
    np.testing.assert_allclose(p["statistic"], r["statistic"], rtol=1e-5)
    np.testing.assert_allclose(p["p_value"], r["p_value"], rtol=1e-4)
    np.testing.assert_allclose(p["ci_lower"], r["ci_lower"], rtol=1e-5)
    np.testing.assert_allclose(p["ci_upper"], r["ci_upper"], rtol=1e-5)
    np.testing.assert_allclose([fit.loglik_null, fit.loglik], r["loglik"], rtol=1e-8)
    np.testing.assert_allclose(fit.vcov.to_numpy(), np.array(r["vcov"]).reshape(len(r["term"]), -1), rtol=1e-5)
    assert (fit.n_obs, fit.n_events) == (r["n"], r["nevent"])
    tests = fit.tests.set_index("test")
    np.testing.assert_allclose(tests.loc["likelihood ratio", "statistic"], r["lr_test"], rtol=1e-6)
    np.testing.assert_allclose(tests.loc["Wald", "statistic"], r["wald_test"], rtol=1e-5)
    np.testing.assert_allclose(tests.loc["score (log-rank)", "statistic"], r["score_test"], rtol=1e-6)
    assert fit.converged
    return tests


@pytest.fixture(scope="session")
def check_cox():
    """The check of a fit_cox result against coxph's reference values (``_check_cox``)."""
    return _check_cox
