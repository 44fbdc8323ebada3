"""Simulation check: the RI-CLPM recovers known lagged effects of the review's four-variable cycle.

Data are generated from an RI-CLPM with alliance -> needs -> motivation -> outcome -> alliance (each 0.25),
autoregressive effects 0.3, correlated random intercepts, and random dropout after wave 2 (FIML). With a
fixed seed the check is deterministic; each of the 16 lagged effects must lie within 4 standard errors of
its true value, and the random-intercept variances must be recovered likewise.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import allianceStats as als

CYCLE = ["alliance", "needs", "motivation", "outcome"]


@pytest.fixture(scope="module")
def truth_and_fit():
    rng = np.random.default_rng(20260425)
    n, T, k = 1500, 4, len(CYCLE)
    B = np.eye(k) * 0.3
    for i in range(k):
        B[(i + 1) % k, i] = 0.25  # B[to, from]: the cycle alliance -> needs -> motivation -> outcome -> alliance
    ri_cov = 0.5 * (np.full((k, k), 0.3) + 0.7 * np.eye(k))
    # not multivariate_normal: its SVD factor depends on the LAPACK build
    ri = rng.standard_normal((n, k)) @ np.linalg.cholesky(ri_cov).T
    w = np.zeros((n, k, T))
    w[:, :, 0] = rng.normal(size=(n, k))
    for t in range(1, T):
        w[:, :, t] = w[:, :, t - 1] @ B.T + rng.normal(scale=0.8, size=(n, k))
    last = np.where(rng.random(n) < 0.25, rng.integers(2, T, size=n), T)  # a quarter drop out after wave 2 or 3
    rows = [{"client": f"c{i:04d}", "session": t + 1,
             **{v: 3.0 + 0.1 * t + ri[i, j] + w[i, j, t] for j, v in enumerate(CYCLE)}}
            for i in range(n) for t in range(last[i])]
    fit = als.fit_riclpm(pd.DataFrame(rows), CYCLE, constraints="lagged")
    return B, ri_cov, fit


def test_lagged_effects_recovered(truth_and_fit):
    B, _, fit = truth_and_fit
    assert fit.sem.convergence.converged
    paths = pd.concat([fit.autoregressive, fit.cross_lagged]).query("wave_to == 2")
    assert len(paths) == 16
    for row in paths.itertuples():
        true = B[CYCLE.index(row.outcome), CYCLE.index(row.predictor)]
        assert abs(row.estimate - true) < 4 * row.std_error, (row.outcome, row.predictor, row.estimate, true)
        assert 0 < row.std_error < 0.06


def test_random_intercepts_recovered(truth_and_fit):
    _, ri_cov, fit = truth_and_fit
    ri = fit.params.query("op == '~~' and lhs == rhs and lhs.str.startswith('RI_')")
    assert len(ri) == 4
    for row in ri.itertuples():
        assert abs(row.estimate - ri_cov[0, 0]) < 4 * row.std_error, (row.lhs, row.estimate)
