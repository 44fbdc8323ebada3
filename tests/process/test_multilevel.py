"""Person-period tables for multilevel lag models; pooled logistic model against R's glm; GLMM against glmer.

Fixture: fixtures/make_glmm_fixture.R on lag_person_period.csv (built from the seeded simulator, true lag log odds
ratio 0.8). Tolerances: pooled glm estimates 1e-6 relative, SEs 1e-5; GLMM (glmer with tolPwrss = 1e-12 and BOBYQA
rhoend = 1e-12, the Laplace and 10-point adaptive Gauss-Hermite maximum-likelihood fits) estimates 1e-5 relative,
SEs and random-intercept SDs 1e-4 relative (lme4's SEs are finite differences of its deviance), log-likelihood
1e-6 absolute.
"""
from __future__ import annotations

import importlib
import json

import numpy as np
import pandas as pd
import pytest

from allianceStats.errors import OptionError, SchemaError
from allianceStats.process import lag_person_period, lag_sequential
from allianceStats.simulate.process import simulate_mi_sessions

from .conftest import FIXTURES


@pytest.fixture(scope="module")
def reference():
    return json.loads((FIXTURES / "glmm_lag_reference.json").read_text())


@pytest.fixture(scope="module")
def person_period():
    return pd.read_csv(FIXTURES / "lag_person_period.csv", dtype={"therapist": str, "client": str})


def test_fixture_data_come_from_the_seeded_simulator(person_period):
    ev, truth = simulate_mi_sessions(n_therapists=8, clients_per_therapist=5, sessions_per_client=3,
                                     turns_per_session=30, seed=20261203)
    pp = lag_person_period(ev, given=truth["given"], target="CT", at=truth["at"])
    pd.testing.assert_frame_equal(pp[list(person_period.columns)].reset_index(drop=True), person_period,
                                  check_dtype=False)


def test_pooled_logistic_model_matches_glm_and_the_transition_table(person_period, reference):
    sm = pytest.importorskip("statsmodels.api")
    fit = sm.GLM(person_period["target"], sm.add_constant(person_period["given"].astype(float)),
                 family=sm.families.Binomial()).fit(tol=1e-12)
    ref = reference["glm_pooled"]
    np.testing.assert_allclose(fit.params.to_numpy(), ref["estimate"], rtol=1e-6)
    np.testing.assert_allclose(fit.bse.to_numpy(), ref["std_error"], rtol=1e-5)
    # the pooled log odds ratio is the 2 x 2 table's: (given, CT) vs the rest
    tab = pd.crosstab(person_period["given"], person_period["target"]).to_numpy(dtype=float)
    log_or = np.log(tab[1, 1] * tab[0, 0] / (tab[1, 0] * tab[0, 1]))
    assert log_or == pytest.approx(ref["estimate"][1], rel=1e-9)


def test_pooled_estimate_is_attenuated_relative_to_glmer(reference):
    # the point: pooling ignores nesting; glmer's conditional estimate is nearer the truth (0.8)
    pooled = reference["glm_pooled"]["estimate"][1]
    nested = reference["glmer_therapist_client_session"]["estimate"][1]
    assert abs(nested - 0.8) < abs(pooled - 0.8) + 0.02


def _glmm():
    try:
        return importlib.import_module("allianceStats.mixed.glmm")
    except ImportError:
        pytest.skip(reason="allianceStats.mixed.glmm (fit_glmm) is not available yet")


def test_glmm_engine_against_glmer(person_period, reference):
    """The person-period table with the GLMM engine is glmer's three-level Laplace fit.

    Client ids are unique across therapists, and session_id across clients: this is the nested model glmer fitted
    as (1 | therapist/client/session). The fixture uses tolPwrss = 1e-12: with lme4's default 1e-7 glmer's PIRLS
    stops early and its optimum moved by 1.4e-4 relative in the lag effect (tests/mixed/test_glmm_pirls_tolerance.py).
    """
    data = person_period.assign(session_id=person_period["client"] + "_" + person_period["session"].astype(str))
    res = _glmm().fit_glmm(data=data, formula="target ~ given + (1 | therapist) + (1 | client) + (1 | session_id)",
                           family="binomial")
    ref = reference["glmer_therapist_client_session"]
    assert res.converged and res.n_obs == ref["nobs"]
    params = res.params.set_index("term").loc[ref["term"]]
    np.testing.assert_allclose(params["estimate"].to_numpy(), ref["estimate"], rtol=1e-5)
    np.testing.assert_allclose(params["std_error"].to_numpy(), ref["std_error"], rtol=1e-4)
    # glmer names the nested factors session:(client:therapist), client:therapist, therapist
    sd = res.varcomp.set_index("group")["sdcor"].loc[["session_id", "client", "therapist"]]
    assert ref["varcomp"]["group"] == ["session:(client:therapist)", "client:therapist", "therapist"]
    np.testing.assert_allclose(sd.to_numpy(), ref["varcomp"]["sdcor"], rtol=1e-4)
    assert res.loglik == pytest.approx(ref["loglik"], abs=1e-6)


def test_glmm_engine_adaptive_quadrature_against_glmer(person_period, reference):
    """A client random intercept with 10-point adaptive Gauss-Hermite quadrature (glmer nAGQ = 10)."""
    res = _glmm().fit_glmm(person_period, "target ~ given + (1 | client)", family="binomial", n_agq=10)
    ref = reference["glmer_client_agq10"]
    assert res.converged and res.n_obs == ref["nobs"]
    params = res.params.set_index("term").loc[ref["term"]]
    np.testing.assert_allclose(params["estimate"].to_numpy(), ref["estimate"], rtol=1e-5)
    np.testing.assert_allclose(params["std_error"].to_numpy(), ref["std_error"], rtol=1e-4)
    np.testing.assert_allclose(res.varcomp["sdcor"].to_numpy(), [ref["varcomp"]["sdcor"]], rtol=1e-4)
    assert res.loglik == pytest.approx(ref["loglik"], abs=1e-6)


def test_builder_columns_and_lag_two():
    ev = pd.DataFrame({"client": "a", "therapist": "t", "session": 1, "order": [4, 3, 2, 1],
                       "code": ["CT", "SR", "ST", "Q"]})
    before = ev.copy()
    pp = lag_person_period(ev, given="Q", target="CT", lag=2)
    pd.testing.assert_frame_equal(ev, before)
    assert list(pp.columns) == ["client", "therapist", "session", "order", "code", "previous_code", "target",
                                "given", "given_session_mean", "given_within"]
    assert pp["order"].tolist() == [3, 4] and pp["previous_code"].tolist() == ["Q", "ST"]
    assert pp["given"].tolist() == [1, 0] and pp["target"].tolist() == [0, 1]
    np.testing.assert_allclose(pp["given_within"], [0.5, -0.5])


def test_builder_counts_agree_with_lag_sequential():
    ev, truth = simulate_mi_sessions(n_therapists=2, clients_per_therapist=2, sessions_per_client=2, seed=9)
    pp = lag_person_period(ev, given=["CR"], target="CT")
    obs = lag_sequential(ev).table.set_index(["given", "target"])["observed"]
    assert int(((pp["given"] == 1) & (pp["target"] == 1)).sum()) == obs[("CR", "CT")]


def test_builder_bad_input():
    ev = pd.DataFrame({"client": "a", "session": 1, "order": [1, 2], "code": ["A", "B"]})
    with pytest.raises(SchemaError, match="column 'therapist' not found"):
        lag_person_period(ev, given="A", target="B")
    with pytest.raises(SchemaError, match="none of the codes"):
        lag_person_period(ev, given="X", target="Y", therapist=None)
    with pytest.raises(OptionError, match="lag=0"):
        lag_person_period(ev, given="A", target="B", therapist=None, lag=0)
