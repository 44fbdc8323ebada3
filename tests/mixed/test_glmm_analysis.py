"""The claims of analyses/11_glmm_any_use_days_used.py, checked on seeded data with known truth.

The worked analysis reads a within-client and a between-client odds ratio from one binomial GLMM fitted to
``decompose()``'s columns, a latent-scale ICC with π²/3, and fits a lagged within part whose missing rows are
dropped. Here the data are simulated with a within-client effect and no between-client effect, so each reading
can be checked against the value that generated it.
"""
from __future__ import annotations

import math
import warnings

import numpy as np
import pandas as pd
import pytest
from scipy.special import expit

import allianceStats as als

TRUE_WITHIN = math.log(0.35)    # odds ratio 0.35 per alliance point above the client's own mean
TRUE_BETWEEN = 0.0              # clients' average alliance unrelated to use
FORMULA = "use ~ alliance_within + alliance_between + session0 + (1 | client) + (1 | therapist)"


@pytest.fixture(scope="module")
def sessions():
    rng = np.random.default_rng(20260114)
    n_clients, n_sessions, n_therapists = 300, 10, 20
    client = np.repeat(np.arange(n_clients), n_sessions)
    session = np.tile(np.arange(1, n_sessions + 1), n_clients)
    therapist = client % n_therapists
    mean_alliance = 3.5 + rng.normal(0, 0.4, n_clients)
    state = rng.normal(0, 0.4, n_clients * n_sessions)
    alliance = mean_alliance[client] + state
    eta = (-0.3 + TRUE_WITHIN * state + TRUE_BETWEEN * (mean_alliance[client] - 3.5) - 0.05 * (session - 1)
           + rng.normal(0, 0.5, n_clients)[client] + rng.normal(0, 0.3, n_therapists)[therapist])
    df = pd.DataFrame({"client": [f"C{c:03d}" for c in client], "therapist": [f"T{t:02d}" for t in therapist],
                       "session": session, "alliance": alliance, "use": rng.binomial(1, expit(eta)).astype(float)})
    return als.decompose(df, "alliance")


@pytest.fixture(scope="module")
def fit(sessions):
    return als.fit_glmm(sessions, FORMULA, family="binomial")


def test_within_and_between_odds_ratios_recover_their_truth(fit):
    assert fit.converged
    p = fit.params.set_index("term")
    for term, truth in (("alliance_within", TRUE_WITHIN), ("alliance_between", TRUE_BETWEEN)):
        est, se = p.loc[term, "estimate"], p.loc[term, "std_error"]
        assert abs(est - truth) < 3 * se, f"{term}: estimate {est:.3f} (SE {se:.3f}) vs truth {truth:.3f}"
    ratios = fit.ratios().set_index("term")
    assert ratios.loc["alliance_within", "ci_upper"] < 1.0          # the within effect is found
    assert ratios.loc["alliance_between", "ci_lower"] < 1.0 < ratios.loc["alliance_between", "ci_upper"]


def test_between_minus_within_contextual_effect_is_detected(fit):
    """The analysis's Wald test of between − within (the contextual effect) from ``vcov``."""
    terms = ["alliance_within", "alliance_between"]
    b = fit.fixef[terms].to_numpy()
    cov = fit.vcov.loc[terms, terms].to_numpy()
    z = (b[1] - b[0]) / math.sqrt(cov[0, 0] + cov[1, 1] - 2 * cov[0, 1])
    assert z > 3, f"contextual effect z = {z:.2f}; the simulated difference is {TRUE_BETWEEN - TRUE_WITHIN:.2f}"


def test_latent_icc_uses_pi_squared_over_three(fit):
    icc = fit.icc().set_index("group")
    variances = fit.varcomp.set_index("group")["vcov"]
    assert icc.loc["distribution", "variance"] == pytest.approx(math.pi ** 2 / 3, rel=1e-12)
    for group in ("client", "therapist"):
        expected = variances[group] / (variances.sum() + math.pi ** 2 / 3)
        assert icc.loc[group, "icc"] == pytest.approx(expected, rel=1e-12)


def test_lagged_within_part_drops_exactly_the_rows_without_a_lag(sessions):
    missing = int(sessions["alliance_within_lag1"].isna().sum())
    assert missing == sessions["client"].nunique()                   # the first session of each client
    with warnings.catch_warnings():
        warnings.simplefilter("error", FutureWarning)
        res = als.fit_glmm(sessions, FORMULA.replace("alliance_within +", "alliance_within_lag1 +"),
                           family="binomial")
    assert res.n_dropped == missing
    assert res.n_obs == len(sessions) - missing
    assert "alliance_within_lag1" in set(res.params.term)
