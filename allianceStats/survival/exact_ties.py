r"""The exact (discrete-time) partial likelihood for tied event times, by the recursion of Gail et al. (1981).

Model
-----
Kalbfleisch & Prentice (1973; 2002, sec. 4.2.3): when :math:`d_k` events share the time :math:`\tau_k`, the
contribution of that time is the probability that exactly those :math:`d_k` rows fail, given that
:math:`d_k` of the risk set :math:`R_k` fail — a conditional logistic likelihood,

.. math:: L_k(\beta) = \frac{\exp\big(\sum_{i \in D_k} x_i^\top\beta\big)}
          {\sum_{S \subseteq R_k,\ |S| = d_k} \exp\big(\sum_{i \in S} x_i^\top\beta\big)} ,

with :math:`D_k` the rows that fail at :math:`\tau_k`. With one event it is Cox's (and Breslow's and Efron's)
term. This is R's ``coxph(ties = "exact")``: ``coxexact.fit`` (right-censored data) evaluates it by the
recursion below, ``agexact.fit`` (counting-process data) by enumerating every subset, which costs
:math:`\binom{n}{d}` terms and never finishes for, say, 10 ties among 100 rows. Both give the same likelihood,
and so does this module for both kinds of data.

Recursion (Gail, Lubin & Rubinstein 1981)
-----------------------------------------
The denominator is the elementary symmetric polynomial :math:`B(d, n)` of the risk scores
:math:`r_1, \dots, r_n` of the rows at risk (in any order): with :math:`B(0, m) = 1`, :math:`B(k, 0) = 0`,

.. math:: B(k, m) = B(k, m-1) + r_m B(k-1, m-1)
          \quad\Longleftrightarrow\quad B(k, m) = \sum_{j \le m} r_j B(k-1, j-1),

so each level *k* is one cumulative sum over the risk set of the level below: :math:`O(n d)` operations per
event time. Differentiating the recursion gives the first derivatives
:math:`B_j(k, m) = B_j(k, m-1) + r_m\{x_{mj} B(k-1, m-1) + B_j(k-1, m-1)\}` and the second
:math:`B_{jl}(k, m) = B_{jl}(k, m-1) + r_m\{x_{mj}x_{ml}B(k-1,m-1) + x_{mj}B_l(k-1,m-1) + x_{ml}B_j(k-1,m-1)
+ B_{jl}(k-1,m-1)\}`; the score of the time is :math:`\sum_{i\in D_k} x_i - B_j/B` and its information
:math:`B_{jl}/B - (B_j/B)(B_l/B)`. Each level is divided by its total (the logarithms of the divisors are
added back), so :math:`B(d, n)`, which grows like :math:`\binom{n}{d}`, never overflows. Times with one event
use the vectorised risk-set sums of :mod:`allianceStats.survival.risk_sets`.

When the risk sets of a stratum are nested (no row enters after the first event time: right-censored data),
the rows are ordered by decreasing exit time, so the risk set of every time is a prefix of that order and one
pass of the recursion over the stratum, up to its largest number of ties, gives :math:`B(d_k, n_k)` of every
time at once (as R's ``coxexact.c``, which memoises :math:`B(k, m)` over these prefixes). A value that would
underflow in that shared scaling is recomputed on its own risk set.

References
----------
Gail, M. H., Lubin, J. H., & Rubinstein, L. V. (1981). Likelihood calculations for matched case-control studies
and survival studies with tied death times. *Biometrika, 68*(3), 703-707.
Kalbfleisch, J. D., & Prentice, R. L. (1973). Marginal likelihoods based on Cox's regression and life model.
*Biometrika, 60*(2), 267-278.
Kalbfleisch, J. D., & Prentice, R. L. (2002). *The statistical analysis of failure time data* (2nd ed.), sec.
4.2.3. Wiley.
Therneau, T. M., & Grambsch, P. M. (2000). *Modeling survival data: Extending the Cox model*, sec. 3.3. Springer.

Example
-------
Two events tied at time 2 among three rows at risk: the denominator sums the three pairs.

>>> import numpy as np
>>> ers = ExactRiskSets(start=np.full(4, -np.inf), stop=np.array([1., 2., 2., 3.]),
...                     event=np.array([1, 1, 1, 0]), strata=np.zeros(4, int))
>>> x = np.array([[0.], [1.], [0.], [2.]])
>>> ll, score, info = ers.loglik(x, np.array([0.5]))
>>> r = np.exp(0.5 * x[:, 0])
>>> by_hand = (0.0 - np.log(r.sum())) + (0.5 - np.log(r[1] * r[2] + r[1] * r[3] + r[2] * r[3]))
>>> bool(np.isclose(ll, by_hand))
True
"""
from __future__ import annotations

import numpy as np

from .risk_sets import RiskSets

#: More tied events than this at one time make :func:`~allianceStats.survival.fit_cox` warn about the cost.
MANY_TIES = 100


class ExactRiskSets(RiskSets):
    """Risk sets of a Cox fit with the exact partial likelihood (module docstring).

    A :class:`~allianceStats.survival.risk_sets.RiskSets` with Breslow's ties (its grid, risk ranges, pseudo
    events and sums, which give the terms of times with one event and the curves after an exact fit), whose
    :meth:`loglik` is the exact one. Parameters ``start, stop, event, strata`` as there (no ``ties``).
    """

    def __init__(self, start, stop, event, strata):
        super().__init__(start, stop, event, strata, ties="breslow")
        self.ties = "exact"
        g = self.grid
        n_dead = self.n_dead
        self.single = np.flatnonzero(n_dead == 1)
        self.tied = np.flatnonzero(n_dead >= 2)
        # strata whose risk sets are nested (every row present from the first event time of its stratum on):
        # one recursion over the rows ordered by decreasing exit serves all their times
        strata = self.strata
        first = np.full(int(strata.max()) + 1 if len(strata) else 0, g.size)
        np.minimum.at(first, g.stratum, np.arange(g.size))
        enters_late = (g.a <= g.b) & (g.a != first[strata])
        late = set(np.unique(strata[enters_late]).tolist())
        self.nested = []  # (rows ordered by decreasing exit, tied grid points, their d, their number at risk)
        self.tied_rows = []  # (rows at risk, d) of the tied times of the other strata
        for s_code in np.unique(g.stratum[self.tied]):
            pts = self.tied[g.stratum[self.tied] == s_code]
            if s_code in late:
                self.tied_rows += [(np.flatnonzero((g.a <= k) & (g.b >= k)), int(n_dead[k])) for k in pts]
                continue
            rows = np.flatnonzero((strata == s_code) & (g.a <= g.b))
            rows = rows[np.argsort(-g.b[rows], kind="stable")]
            n_at = np.searchsorted(-g.b[rows], -pts, side="right")  # rows with b >= k
            self.nested.append((rows, pts, n_dead[pts].astype(int), n_at))

    @property
    def breslow(self) -> RiskSets:
        """The Breslow structure of these risk sets (this object: the sums, increments and residuals it inherits
        are Breslow's); survival curves after an exact fit use Breslow's hazard, as R's ``survfit``."""
        return self

    @property
    def max_tied(self) -> int:
        """The largest number of events at one time."""
        return int(self.n_dead.max()) if len(self.n_dead) else 0

    @property
    def cost(self) -> int:
        """Rows times levels of the recursion, summed over the times with tied events (per evaluation)."""
        return int(sum(len(rows) * d for rows, d in self.tied_rows)
                   + sum(len(rows) * d.max() for rows, _, d, _ in self.nested))

    def loglik(self, X: np.ndarray, beta: np.ndarray, second: bool = True):
        """Exact log partial likelihood, score and information (``None`` if ``second`` is False) at ``beta``."""
        p = X.shape[1]
        eta = X @ beta
        dead = self.dead
        ll = float(eta[dead].sum())
        score = X[dead].sum(axis=0)
        info = np.zeros((p, p))
        if len(self.single):
            shift = float(np.max(eta))
            r = np.exp(eta - shift)
            S0, S1, S2u, _, _, _ = self._sums(X, r, second)
            k = self.single
            xbar = S1[k] / S0[k, None]
            ll -= float(np.sum(np.log(S0[k]) + shift))
            score = score - xbar.sum(axis=0)
            if second:
                iu = np.triu_indices(p)
                upper = np.zeros((p, p))
                upper[iu] = (S2u[k] / S0[k, None]).sum(axis=0)
                info += upper + np.triu(upper, 1).T - xbar.T @ xbar
        terms = [_elementary(X[rows], eta[rows], d, second) for rows, d in self.tied_rows]
        for rows, _, d, n_at in self.nested:
            terms += _nested(X[rows], eta[rows], d, n_at, second)
        for log_b, mean1, mean2 in terms:
            ll -= log_b
            score = score - mean1
            if second:
                info += mean2 - np.outer(mean1, mean1)
        return ll, score, (info if second else None)


def _nested(x: np.ndarray, eta: np.ndarray, d: np.ndarray, n_at: np.ndarray, second: bool) -> list:
    """``_elementary`` for every time of a stratum whose risk sets are the prefixes ``x[:n_at]`` (rows in
    decreasing exit order), in one pass over the levels 1..max(d)."""
    n, p = x.shape
    top = float(np.max(eta))
    r = np.exp(eta - top)
    b0, b1 = np.ones(n), np.zeros((n, p))
    b2 = np.zeros((n, p, p)) if second else None
    xx = x[:, :, None] * x[:, None, :] if second else None
    log_scale = 0.0
    out: list = [None] * len(d)
    for level in range(1, int(d.max()) + 1):
        c0, c1, c2 = _level_sums(x, xx, r, b0, b1, b2)
        for j in np.flatnonzero(d == level):
            m = n_at[j] - 1
            if c0[m] > 1e-250 * c0[-1]:
                out[j] = (np.log(c0[m]) + log_scale + level * top, c1[m] / c0[m],
                          c2[m] / c0[m] if second else None)
            else:  # lost in the shared scale: its own recursion
                out[j] = _elementary(x[: m + 1], eta[: m + 1], level, second)
        log_total, b0, b1, b2 = _shift_level(c0, c1, c2)
        log_scale += log_total
    return out


def _elementary(x: np.ndarray, eta: np.ndarray, d: int, second: bool):
    """log B(d, n), B_j / B and B_jl / B over one risk set (rows of ``x``), by the recursion on levels."""
    n, p = x.shape
    top = float(np.max(eta))
    r = np.exp(eta - top)
    # level k-1 evaluated at m-1 = 0..n-1 (the empty prefix first); level 0 is 1 everywhere
    b0 = np.ones(n)
    b1 = np.zeros((n, p))
    b2 = np.zeros((n, p, p)) if second else None
    xx = x[:, :, None] * x[:, None, :] if second else None
    log_scale = 0.0
    for _ in range(d):
        c0, c1, c2 = _level_sums(x, xx, r, b0, b1, b2)
        log_total, b0, b1, b2 = _shift_level(c0, c1, c2)
        log_scale += log_total
        last1 = c1[-1] / c0[-1]
        last2 = c2[-1] / c0[-1] if second else None
    # after the last level, B(d, n) / scale = 1
    return log_scale + d * top, last1, last2


def _level_sums(x: np.ndarray, xx: np.ndarray | None, r: np.ndarray, b0: np.ndarray, b1: np.ndarray,
                b2: np.ndarray | None):
    """One level of the recursion: from the level below at m-1 (``b0, b1, b2``, rows in order), the cumulative
    sums B(k, m), B_j(k, m) and (when ``b2`` is given) B_jl(k, m) over m = 1..n."""
    c0 = np.cumsum(r * b0)
    c1 = np.cumsum(r[:, None] * (x * b0[:, None] + b1), axis=0)
    if b2 is None:
        return c0, c1, None
    c2 = np.cumsum(r[:, None, None] * (xx * b0[:, None, None] + x[:, :, None] * b1[:, None, :]
                                       + b1[:, :, None] * x[:, None, :] + b2), axis=0)
    return c0, c1, c2


def _shift_level(c0: np.ndarray, c1: np.ndarray, c2: np.ndarray | None):
    """The log of the level's total and the level at m-1 (B(k, m-1): shifted by one row, the empty prefix
    first) divided by that total, as the level below of the next step."""
    total = c0[-1]
    b0 = np.concatenate([[0.0], c0[:-1]]) / total
    b1 = np.concatenate([np.zeros((1,) + c1.shape[1:]), c1[:-1]]) / total
    b2 = None if c2 is None else np.concatenate([np.zeros((1,) + c2.shape[1:]), c2[:-1]]) / total
    return np.log(total), b0, b1, b2
