"""fit_dropout and kaplan_meier against R (survival::coxph, glm(binomial), survfit) and statsmodels called directly.

Fixture: tests/dynamics/fixtures/make_fixtures.R writes dropout_sessions.csv (seeded) and dropout_reference.json
(R 4.2.2, survival 3.5.3, digits = NA; full sample and the landmark subset after session 2). R fitted with coxph
eps 1e-10 and glm epsilon 1e-14, we with Newton / IRLS tolerance 1e-12, so both sit at the optimum. Tolerances:
coefficients, z and log-likelihood 1e-6 relative, standard errors 1e-5 relative, p-values 1e-5 relative (they
inherit the SE error), Kaplan-Meier 1e-10 (closed-form).
"""
import json
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from allianceStats.dynamics import client_survival, fit_dropout, kaplan_meier, person_period
from allianceStats.errors import DataWarning

FIX = Path(__file__).resolve().parent / "fixtures"
REF = json.loads((FIX / "dropout_reference.json").read_text())
SESSIONS = pd.read_csv(FIX / "dropout_sessions.csv")
PRED = ["alliance", "severity"]


def _fit(**kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DataWarning)  # c007 has no early alliance; tested below
        return fit_dropout(SESSIONS, predictors=PRED, **kw)


def _check(params, ref, se_rtol=1e-5):
    np.testing.assert_allclose(params["estimate"], ref["estimate"], rtol=1e-6, atol=1e-9)
    np.testing.assert_allclose(params["std_error"], ref["std_error"], rtol=se_rtol)
    np.testing.assert_allclose(params["statistic"], ref["statistic"], rtol=1e-6)
    np.testing.assert_allclose(params["p_value"], ref["p_value"], rtol=1e-5)


@pytest.mark.parametrize("ties", ["efron", "breslow"])
def test_cox_matches_coxph(ties):
    ref = REF[f"cox_{ties}"]
    fit = _fit(method="cox", ties=ties)
    assert fit.params["term"].tolist() == ref["term"]
    _check(fit.params, ref)
    np.testing.assert_allclose(fit.params["ci_lower"], ref["ci_lower"], rtol=1e-6)
    np.testing.assert_allclose(fit.params["ci_upper"], ref["ci_upper"], rtol=1e-6)
    np.testing.assert_allclose(fit.params["ratio"], np.exp(ref["estimate"]), rtol=1e-6)
    assert fit.loglik == pytest.approx(ref["loglik"], rel=1e-6)
    assert (fit.n_clients, fit.n_events) == (ref["n"], ref["nevent"])
    assert fit.convergence.converged


def test_default_ties_is_efron_like_r():
    assert _fit().ties == "efron"
    np.testing.assert_allclose(_fit().params["estimate"], REF["cox_efron"]["estimate"], rtol=1e-6)


@pytest.mark.parametrize("baseline,key", [("linear", "discrete_linear"), ("quadratic", "discrete_quadratic"),
                                          ("factor", "discrete_factor")])
def test_discrete_time_matches_glm_binomial(baseline, key):
    ref = REF[key]
    fit = _fit(method="discrete", baseline=baseline)
    assert len(fit.params) == len(ref["term"])
    assert fit.params["term"].iloc[-2:].tolist() == PRED
    _check(fit.params, ref)
    assert fit.loglik == pytest.approx(ref["loglik"], rel=1e-6)
    if baseline == "factor":
        assert str(ref["periods_without_dropout"]) in fit.notes[0]
        assert "period_12" not in fit.params["term"].tolist()


def test_kaplan_meier_matches_survfit():
    ref = REF["kaplan_meier_median"]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DataWarning)
        km = kaplan_meier(SESSIONS, split="median")
    km = km.sort_values(["group", "time"]).reset_index(drop=True)
    r = pd.DataFrame({k: ref[k] for k in ["group", "time", "n_risk", "n_events", "survival", "std_error",
                                          "ci_lower", "ci_upper"]}).sort_values(["group", "time"])
    r = r.reset_index(drop=True)
    assert km["group"].tolist() == r["group"].tolist()
    np.testing.assert_array_equal(km[["time", "n_risk", "n_events"]].to_numpy(float),
                                  r[["time", "n_risk", "n_events"]].to_numpy(float))
    for col in ["survival", "std_error", "ci_lower", "ci_upper"]:
        np.testing.assert_allclose(km[col], r[col], rtol=1e-10, err_msg=col)


def test_client_without_early_values_is_left_out_with_a_warning():
    with pytest.warns(DataWarning, match=r"c007"):
        fit = fit_dropout(SESSIONS, predictors=PRED)
    assert fit.n_clients == REF["n_clients_complete"] == REF["n_clients_all"] - 1


def test_equals_statsmodels_called_directly():
    import statsmodels.api as sm
    from statsmodels.duration.hazard_regression import PHReg

    # the per-client table built here independently of client_survival
    g = SESSIONS.sort_values(["client", "session"]).groupby("client")
    cl = pd.DataFrame({"time": g["session"].max(), "event": g["dropout"].last(),
                       "alliance": SESSIONS[SESSIONS["session"] <= 2].groupby("client")["alliance"].mean(),
                       "severity": g["severity"].first()}).dropna()
    direct = PHReg(cl["time"], cl[PRED], status=cl["event"], ties="efron").fit()
    ours = _fit().params
    np.testing.assert_allclose(ours["estimate"], direct.params, rtol=1e-7)
    np.testing.assert_allclose(ours["std_error"], direct.bse, rtol=1e-7)
    rows = [(c, t, int(e and t == T), a, s) for c, (T, e, a, s) in cl.iterrows() for t in range(1, int(T) + 1)]
    pp = pd.DataFrame(rows, columns=["client", "period", "event", "alliance", "severity"])
    X = sm.add_constant(pp[["period", *PRED]].astype(float))
    glm = sm.GLM(pp["event"], X, family=sm.families.Binomial()).fit()
    ours_d = _fit(method="discrete").params
    np.testing.assert_allclose(ours_d["estimate"], glm.params, rtol=1e-7)
    np.testing.assert_allclose(ours_d["std_error"], glm.bse, rtol=1e-7)
    # our own person-period expansion gives the same rows
    mine = person_period(client_survival(SESSIONS, PRED).dropna().reset_index(drop=True))
    assert len(mine) == len(pp) and mine["event"].sum() == pp["event"].sum() == cl["event"].sum()


@pytest.mark.parametrize("method,key", [("cox", "cox_landmark"), ("discrete", "discrete_landmark")])
def test_landmark_after_session_2_matches_r_on_the_subset(method, key):
    ref = REF[key]
    fit = _fit(method=method, landmark=True)
    _check(fit.params, ref)
    assert fit.loglik == pytest.approx(ref["loglik"], rel=1e-6)
    if method == "cox":
        assert (fit.n_clients, fit.n_events) == (ref["n"], ref["nevent"])
