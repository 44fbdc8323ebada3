r"""Diagnostics of a GLMM that glmer leaves to the user: separation, and overdispersion of a Poisson fit.

Separation (binomial)
---------------------
The fixed effects are *separated* when some direction d ≠ 0 has x_iᵀd ≥ 0 for every row with a success and
only successes, x_iᵀd ≤ 0 for every row with failures only, and x_iᵀd = 0 for rows with both (Albert &
Anderson 1984, *Biometrika* 71(1)). Moving β along d then raises the likelihood for every value of the
random effects, so the maximum-likelihood estimate is infinite (glmer returns huge estimates and SEs, or a
convergence warning). Detection is the linear program of Konis (2007, DPhil thesis, Oxford; R package
``detectseparation``): maximise Σ_i s_i x_iᵀd over d ∈ [−1, 1]^p subject to those sign constraints (s_i = ±1);
a positive optimum means separation, *complete* if every row is strictly separated and no row has both
outcomes, *quasi-complete* otherwise. The terms with d_j ≠ 0 and the clusters of the separated rows are
named. Columns are scaled to unit norm and duplicate rows removed first.

Overdispersion (Poisson)
------------------------
Pearson's statistic on the conditional fitted values, χ² = Σ (y_i − μ̂_i)² / μ̂_i, against χ² with n − k
degrees of freedom (k parameters) — the check of ``performance::check_overdispersion`` (Lüdecke et al.
2021, *J. Open Source Softw.* 6(60); Gelman & Hill 2007, section 15.1). A ratio χ²/df above 1.1 with
p < 0.05 suggests ``family="negative_binomial"`` (or an observation-level random effect).

Separation by cluster (a runaway random-effect variance)
--------------------------------------------------------
When most levels of a grouping factor have an outcome that never varies (every row an event, or none — clients
who always or never use; for counts, clients whose counts are all 0), their conditional modes run to ±∞ and the
Laplace objective rewards an ever larger variance of that factor's random intercept (the Laplace approximation is
poor exactly there: adaptive quadrature can put the maximum at a variance of 0 instead). The optimiser then stops
at a huge SD on a flat objective and its checks pass. :func:`cluster_separation` counts the constant levels of each
factor and flags a factor whose intercept SD on the link scale is at least ``SD_CONSTANT`` (5: between-client odds
ratios of e¹⁰ across ±1 SD) with at least half its levels constant, or at least ``SD_RUNAWAY`` (20) whatever the
share. Such a fit is reported as not converged (the variance is not estimated), with the factor and levels named.

Example
-------
>>> import numpy as np
>>> X = np.column_stack([np.ones(6), [0., 0, 0, 1, 1, 1]])
>>> find_separation(X, np.array([0., 0, 0, 1, 1, 1]), np.ones(6), ["(Intercept)", "x"]).kind
'complete'
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.optimize import linprog
from scipy.special import chdtrc


@dataclass(frozen=True)
class Separation:
    """A separating direction: ``kind`` ("complete" / "quasi-complete"), the terms involved, the rows."""

    kind: str
    terms: list[str]
    rows: np.ndarray           # positions (in the model frame) of the strictly separated rows
    direction: np.ndarray


def find_separation(X: np.ndarray, successes: np.ndarray, trials: np.ndarray, xnames: list[str],
                    tol: float = 1e-7) -> Separation | None:
    """Konis's linear program (module docstring); None when the fixed effects are not separated."""
    active = trials > 0
    s, f = successes[active], (trials - successes)[active]
    Xa = X[active]
    scale = np.sqrt((Xa ** 2).sum(axis=0))
    scale[scale == 0] = 1.0
    Xs = Xa / scale
    sign = np.where(f == 0, 1.0, np.where(s == 0, -1.0, 0.0))
    key = np.column_stack([Xs, sign])
    _, first, inverse = np.unique(np.round(key, 12), axis=0, return_index=True, return_inverse=True)
    # keep the rows in data order: HiGHS is ~100x slower on the lexicographically sorted rows np.unique returns
    order = np.argsort(first)
    rank = np.empty_like(order)
    rank[order] = np.arange(len(order))
    inverse = rank[inverse.ravel()]
    U, sg = key[first[order], :-1], key[first[order], -1]
    ineq, eq = sg != 0, sg == 0
    p = X.shape[1]
    A_ub = -(sg[ineq, None] * U[ineq])
    c = -(sg[ineq, None] * U[ineq]).sum(axis=0)
    res = linprog(c, A_ub=A_ub if len(A_ub) else None, b_ub=np.zeros(len(A_ub)) if len(A_ub) else None,
                  A_eq=U[eq] if eq.any() else None, b_eq=np.zeros(eq.sum()) if eq.any() else None,
                  bounds=[(-1.0, 1.0)] * p, method="highs")
    if res.status != 0 or -res.fun <= tol:
        return None
    d = res.x
    margin = (sg * (U @ d))[inverse.ravel()]
    strict = margin > tol
    kind = "quasi-complete"
    if not eq.any():
        # complete separation: some direction separates every row strictly (maximise the smallest margin)
        c2 = np.r_[np.zeros(p), -1.0]
        A2 = np.column_stack([-(sg[:, None] * U), np.ones(len(U))])
        r2 = linprog(c2, A_ub=A2, b_ub=np.zeros(len(U)), bounds=[(-1.0, 1.0)] * p + [(0.0, 1.0)], method="highs")
        if r2.status == 0 and -r2.fun > tol:
            kind = "complete"
    terms = [xnames[j] for j in np.flatnonzero(np.abs(d) > 1e-6)]
    rows = np.flatnonzero(active)[strict]
    return Separation(kind, terms, rows, d / scale)


@dataclass(frozen=True)
class Overdispersion:
    """Pearson χ², its df, the ratio χ²/df and the p-value of the overdispersion test."""

    chisq: float
    df: int
    ratio: float
    p_value: float

    @property
    def overdispersed(self) -> bool:
        return self.ratio > 1.1 and self.p_value < 0.05


def pearson_overdispersion(y: np.ndarray, mu: np.ndarray, n_par: int) -> Overdispersion:
    """Pearson overdispersion statistic of a Poisson fit with conditional means ``mu`` (module docstring).

    >>> round(pearson_overdispersion(np.array([0., 2, 4]), np.array([2., 2, 2]), 1).ratio, 3)
    2.0
    """
    chisq = float(((y - mu) ** 2 / mu).sum())
    df = max(int(len(y) - n_par), 1)
    return Overdispersion(chisq, df, chisq / df, float(chdtrc(df, chisq)))


SD_CONSTANT = 5.0    # intercept SD (link scale) flagged when at least half the levels have a constant outcome
SD_RUNAWAY = 20.0    # intercept SD (link scale) flagged whatever the share of constant levels
CONSTANT_SHARE = 0.5
CLUSTER_SEPARATION_COLUMNS = ["group", "n_levels", "n_always_event", "n_never_event", "share_constant", "sd",
                              "flagged"]


def cluster_separation(factors, y: np.ndarray, trials: np.ndarray, intercept_sd: dict[str, float],
                       count: bool) -> pd.DataFrame:
    """Constant-outcome levels of each grouping factor and the verdict on its intercept SD (module docstring).

    ``factors`` are the design's grouping factors (``name``, ``codes``, ``n_levels``); ``intercept_sd`` maps a
    factor name to the SD of its random intercept on the link scale (factors without an intercept are left
    out). ``count``: the outcome is a count (constant = every count 0) rather than binomial successes of
    ``trials``. Returns one row per factor with the columns ``CLUSTER_SEPARATION_COLUMNS``.

    >>> from allianceStats.mixed.glmm_design import GroupingFactor
    >>> f = GroupingFactor("client", ["a", "b", "c"], np.array([0, 0, 1, 1, 2, 2]), np.ones((6, 1)), ["(Intercept)"])
    >>> tab = cluster_separation([f], np.array([1., 1, 1, 1, 0, 1]), np.ones(6), {"client": 8.0}, count=False)
    >>> tab[["n_always_event", "n_never_event", "share_constant", "flagged"]].values.tolist()
    [[2, 0, 0.6666666666666666, True]]
    """
    rows = []
    for f in factors:
        if f.name not in intercept_sd:
            continue
        s = np.bincount(f.codes, y, minlength=f.n_levels)
        m = np.bincount(f.codes, trials, minlength=f.n_levels)
        used = m > 0
        never = used & (s == 0)
        always = np.zeros_like(never) if count else used & (s == m)
        share = float((never | always).sum() / max(int(used.sum()), 1))
        sd = float(intercept_sd[f.name])
        flagged = bool(sd >= SD_RUNAWAY or (sd >= SD_CONSTANT and share >= CONSTANT_SHARE))
        rows.append((f.name, int(used.sum()), int(always.sum()), int(never.sum()), share, sd, flagged))
    return pd.DataFrame(rows, columns=CLUSTER_SEPARATION_COLUMNS)


def constant_levels(factor, y: np.ndarray, trials: np.ndarray, count: bool) -> list[str]:
    """Labels of the levels of ``factor`` whose outcome never varies (see :func:`cluster_separation`).

    >>> from allianceStats.mixed.glmm_design import GroupingFactor
    >>> f = GroupingFactor("client", ["a", "b", "c"], np.array([0, 0, 1, 1, 2, 2]), np.ones((6, 1)), ["(Intercept)"])
    >>> constant_levels(f, np.array([1., 1, 0, 1, 0, 0]), np.ones(6), count=False)
    ['a', 'c']
    """
    s = np.bincount(factor.codes, y, minlength=factor.n_levels)
    m = np.bincount(factor.codes, trials, minlength=factor.n_levels)
    const = (m > 0) & ((s == 0) | ((s == m) & (not count)))
    return [factor.levels[i] for i in np.flatnonzero(const)]
