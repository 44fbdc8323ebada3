"""fit_discrete_hazard against R on person-period data built by survival_intervals from the simulated relapse
sessions (the same rows R builds itself: tests/survival/test_intervals.py).

GLM (cloglog with one intercept per period; logit with a linear baseline) against glm(): coefficients 1e-6,
SEs 1e-5, log-likelihood 1e-8 relative. GLMM against lme4 1.1-31 glmer(binomial(link = "cloglog")) with a client
or a therapist random intercept: see the notes at the tests.
"""
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from allianceStats.errors import SchemaError
from allianceStats.survival import fit_discrete_hazard, survival_intervals

FIX = Path(__file__).resolve().parent / "fixtures"


@pytest.fixture(scope="module")
def pp():
    sessions = pd.read_csv(FIX / "relapse_sessions.csv")
    events = pd.read_csv(FIX / "relapse_events.csv")
    out = survival_intervals(sessions, events, event="relapse", periods=True, keep=["female", "therapist"])
    return out.assign(period_c=out["period"] - 7, alliance_c=out["alliance"] - 4)


@pytest.mark.parametrize("key,formula,link", [
    ("discrete_cloglog", "event ~ factor(period) + alliance + female", "cloglog"),
    ("discrete_logit_linear", "event ~ period + alliance + female", "logit")])
def test_glm_matches_r(pp, ref, key, formula, link):
    fit = fit_discrete_hazard(pp, formula, link=link)
    r = ref[key]
    assert fit.params["term"].tolist() == r["term"]
    np.testing.assert_allclose(fit.params["estimate"], r["estimate"], rtol=1e-6)
    np.testing.assert_allclose(fit.params["std_error"], r["std_error"], rtol=1e-5)
    np.testing.assert_allclose(fit.params["p_value"], r["p_value"], rtol=1e-5)
    assert fit.loglik == pytest.approx(r["loglik"], rel=1e-8)
    assert fit.n_obs == r["nobs"] and fit.converged and fit.varcomp is None
    np.testing.assert_allclose(fit.params["ratio"], np.exp(r["estimate"]), rtol=1e-6)


GLMM = [("discrete_glmer_client", "event ~ period_c + alliance_c + female + (1 | client)"),
        ("discrete_glmer_therapist", "event ~ period_c + alliance_c + female + (1 | therapist)")]


@pytest.mark.parametrize("key,formula", GLMM)
def test_glmm_close_to_glmer(pp, ref, key, formula):
    """Agreement reached with allianceStats.mixed.fit_glmm as it stands: estimates within 1 %, SEs within 2 %,
    random-intercept SD within 1 %, log-likelihood within 0.01 (see the strict test below)."""
    fit = fit_discrete_hazard(pp, formula)
    r = ref[key]
    assert fit.params["term"].tolist() == r["term"]
    np.testing.assert_allclose(fit.params["estimate"], r["estimate"], rtol=1e-2)
    np.testing.assert_allclose(fit.params["std_error"], r["std_error"], rtol=2e-2)
    np.testing.assert_allclose(fit.varcomp["sdcor"].to_numpy(), r["sd"], rtol=1e-2)
    assert abs(fit.loglik - r["loglik"]) < 1e-2
    assert fit.glmm is not None and fit.n_obs == r["nobs"]


@pytest.mark.xfail(strict=True, reason="the fixture's glmer fits use lme4's default PIRLS tolerance (tolPwrss 1e-7), "
                   "which leaves its cloglog Laplace deviance 0.009 off (Fisher scoring converges linearly); with "
                   "tolPwrss = 1e-12 glmer's fit is fit_glmm's (tests/mixed/test_glmm_pirls_tolerance.py)")
@pytest.mark.parametrize("key,formula", GLMM)
def test_glmm_matches_glmer_to_issue_tolerance(pp, ref, key, formula):
    fit = fit_discrete_hazard(pp, formula)
    r = ref[key]
    np.testing.assert_allclose(fit.params["estimate"], r["estimate"], rtol=1e-5)
    assert fit.loglik == pytest.approx(r["loglik"], rel=1e-6)


def test_missing_covariate_and_bad_response_are_errors(pp):
    bad = pp.copy()
    bad.loc[[2, 5], "alliance"] = np.nan
    with pytest.raises(SchemaError, match=r"missing value\(s\) in column\(s\) 'alliance' at row\(s\) 2, 5"):
        fit_discrete_hazard(bad, "event ~ period + alliance")
    with pytest.raises(SchemaError, match="must be 0/1"):
        fit_discrete_hazard(pp.assign(event=pp["event"] * 2), "event ~ period + alliance")
