r"""Risk-set sums of the Cox partial likelihood, vectorised: log-likelihood, score, information, residuals.

Method
------
Rows are counting-process intervals :math:`(s_i, t_i]` with event indicator :math:`\delta_i`, stratum
:math:`g_i`, covariates :math:`x_i` and risk score :math:`r_i = e^{x_i^\top\beta}` (Andersen & Gill 1982). At an
event time :math:`\tau_k` of stratum *g* the risk set is :math:`R_k = \{i: g_i = g,\ s_i < \tau_k \le t_i\}`
(left truncation is therefore built in) and

.. math:: S_0(k) = \sum_{i \in R_k} r_i,\quad S_1(k) = \sum_{i \in R_k} r_i x_i,\quad
          S_2(k) = \sum_{i \in R_k} r_i x_i x_i^\top .

Each row is in the risk sets of a *contiguous* range of event times :math:`a_i \le k \le b_i` (event times
sorted within stratum, strata one after the other), found once by binary search. A range sum is a difference
array: add :math:`q_i` at :math:`a_i`, subtract it at :math:`b_i + 1`, take the cumulative sum. So every sum
over all risk sets costs :math:`O(np^2)` with ``numpy.bincount`` — no sorting per iteration and no loop over
event times; the structure depends only on the times and is built once.

Ties (:math:`d_k` events at :math:`\tau_k`, with sums :math:`D_0, D_1, D_2` over those events). Breslow (1974):
every event sees the whole risk set. Efron (1977): the *l*-th of the tied events (*l* = 0..d_k − 1) sees the
risk set with the tied events down-weighted by :math:`l/d_k`,

.. math:: \ell(\beta) = \sum_{\delta_i = 1} x_i^\top\beta - \sum_k \sum_{l=0}^{d_k-1}
          \log\big(S_0(k) - \tfrac{l}{d_k} D_0(k)\big),

with score :math:`\sum_{\delta_i=1} x_i - \sum_{k,l} \bar x_{kl}` and information
:math:`\sum_{k,l} \big[(S_2 - \tfrac{l}{d_k}D_2)/(S_0 - \tfrac{l}{d_k}D_0) - \bar x_{kl}\bar x_{kl}^\top\big]`,
:math:`\bar x_{kl} = (S_1 - \tfrac{l}{d_k}D_1)/(S_0 - \tfrac{l}{d_k}D_0)` — the formulas of R's ``agfit4.c``
(Therneau & Grambsch 2000, sec. 3.3). Each (*k*, *l*) pair is one "pseudo event", so ties cost one more
gather, not a loop.

Score residuals (for the robust variance) are :math:`U_i = \int (x_i - \bar x(t))\, dM_i(t)` with the Efron
split of :math:`dN_i` and of the hazard increment among tied events, exactly as R's ``agscore3.c``: an event row
gets :math:`x_i - \tfrac{1}{d_k}\sum_l \bar x_{kl}`, and every row at risk loses
:math:`r_i \sum_{k \in [a_i,b_i]} \sum_l h_{kl}(x_i - \bar x_{kl})` with :math:`h_{kl} = 1/(S_0 - \tfrac{l}{d_k}D_0)`,
an event row giving back the share :math:`l/d_k` of its own time's increments. The row sums again use
cumulative sums over event times.

Covariates are centred at their column means first (as R does), which changes no estimate but keeps
:math:`e^{x^\top\beta}` in range.

References
----------
Andersen, P. K., & Gill, R. D. (1982). Cox's regression model for counting processes: A large sample study.
*Annals of Statistics, 10*(4), 1100-1120.
Breslow, N. (1974). Covariance analysis of censored survival data. *Biometrics, 30*(1), 89-99.
Efron, B. (1977). The efficiency of Cox's likelihood function for censored data. *JASA, 72*(359), 557-565.
Therneau, T. M., & Grambsch, P. M. (2000). *Modeling survival data: Extending the Cox model*. Springer.

Example
-------
>>> import numpy as np
>>> rs = RiskSets(start=np.zeros(4), stop=np.array([1., 2., 2., 3.]), event=np.array([1, 1, 0, 1]),
...               strata=np.zeros(4, int), ties="efron")
>>> ll, score, info = rs.loglik(np.array([[0.], [1.], [0.], [1.]]), np.zeros(1))
>>> round(ll, 6), round(float(-np.log(4) - np.log(3)), 6)  # beta = 0: risk sets of 4 and 3 rows
(-2.484907, -2.484907)
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np


def _range_index(grid_keys: np.ndarray, stratum: np.ndarray, lo_rank: np.ndarray, hi_rank: np.ndarray,
                 m: int) -> tuple[np.ndarray, np.ndarray]:
    """First and last grid index with lo_rank < rank <= hi_rank in the row's stratum."""
    base = stratum.astype(np.int64) * m
    a = np.searchsorted(grid_keys, base + lo_rank + 1, side="left")
    b = np.searchsorted(grid_keys, base + hi_rank, side="right") - 1
    return a, b


@dataclass
class Grid:
    """Sorted (stratum, time) points and, for every row, the contiguous range of points whose risk set holds it."""

    stratum: np.ndarray  # (K,) stratum code of each grid point
    time: np.ndarray  # (K,) time of each grid point
    a: np.ndarray  # (n,) first grid point at risk
    b: np.ndarray  # (n,) last grid point at risk (a > b: never at risk)
    _matrix: object = None

    @property
    def size(self) -> int:
        return len(self.time)

    def _entry_exit(self):
        """Sparse (K+1, n) matrix with +1 at (a_i, i) and -1 at (b_i + 1, i), column-compressed, and the column
        of each stored value: its product with row values, cumulated over grid points, gives the risk-set sums
        (one sparse product for all columns; the column layout streams through the rows in order)."""
        if getattr(self, "_matrix", None) is None:
            from scipy import sparse

            ok = np.flatnonzero(self.a <= self.b)
            rows = np.concatenate([self.a[ok], self.b[ok] + 1])
            cols = np.concatenate([ok, ok])
            vals = np.concatenate([np.ones(len(ok)), -np.ones(len(ok))])
            M = sparse.csc_matrix((vals, (rows, cols)), shape=(self.size + 1, len(self.a)))
            self._matrix = (M, np.repeat(np.arange(M.shape[1]), np.diff(M.indptr)))
        return self._matrix

    def range_sum(self, q: np.ndarray, weights: np.ndarray | None = None) -> np.ndarray:
        """Sum of ``weights * q`` (q (n,) or (n, m)) over the rows at risk at each grid point: (K,) or (K, m).

        The weights scale the sparse matrix (2n operations) instead of every column of ``q``."""
        M, col = self._entry_exit()
        if weights is not None:
            M = M.copy()
            M.data = M.data * weights[col]
        return np.cumsum(M @ q, axis=0)[: self.size]

    def row_sum(self, v: np.ndarray) -> np.ndarray:
        """For each row, the sum of grid values ``v`` (K,) or (K, m) over the points it is at risk at."""
        c = np.concatenate([np.zeros((1,) + v.shape[1:]), np.cumsum(v, axis=0)])
        ok = (self.a <= self.b)
        out = np.zeros((len(self.a),) + v.shape[1:])
        out[ok] = c[self.b[ok] + 1] - c[self.a[ok]]
        return out


def make_grid(start: np.ndarray, stop: np.ndarray, strata: np.ndarray, times_stratum: np.ndarray,
              times: np.ndarray) -> tuple[Grid, np.ndarray]:
    """Grid of the (stratum, time) points ``(times_stratum, times)`` (any order, repeats allowed), each row's
    range, and the grid index of every input point.

    A row is at risk at (g, τ) when its stratum is g and ``start < τ <= stop``.
    """
    utimes = np.unique(np.concatenate([times, start, stop]))
    m = len(utimes) + 2
    keys = times_stratum.astype(np.int64) * m + np.searchsorted(utimes, times, side="right")
    keys_sorted, first, inverse = np.unique(keys, return_index=True, return_inverse=True)
    a, b = _range_index(keys_sorted, strata, np.searchsorted(utimes, start, side="right"),
                        np.searchsorted(utimes, stop, side="right"), m)
    return Grid(stratum=times_stratum[first], time=times[first], a=a, b=b), inverse.ravel()


class RiskSets:
    """The fixed structure of a Cox fit: event-time grid, each row's risk range, tied events, pseudo events.

    Parameters
    ----------
    start, stop : numpy.ndarray
        Interval ends (``start`` = -inf for right-censored data without entry times).
    event : numpy.ndarray
        0/1 event indicator.
    strata : numpy.ndarray
        Integer stratum codes.
    ties : {"efron", "breslow"}
        Handling of tied event times.
    """

    def __init__(self, start, stop, event, strata, ties: str = "efron"):
        self.start = np.asarray(start, float)
        self.stop = np.asarray(stop, float)
        self.event = np.asarray(event).astype(bool)
        self.strata = np.asarray(strata, np.int64)
        self.ties = ties
        self._deaths = None
        self._Z_of = None
        dead = np.flatnonzero(self.event)
        self.dead = dead
        self.grid, self.dead_k = make_grid(self.start, self.stop, self.strata, self.strata[dead], self.stop[dead])
        g = self.grid
        self.n_dead = np.bincount(self.dead_k, minlength=g.size)
        # pseudo events: (k, l/d_k) for l = 0..d_k-1 (Breslow: fraction 0)
        self.pk = np.repeat(np.arange(g.size), self.n_dead)
        first = np.concatenate([[0], np.cumsum(self.n_dead)[:-1]])
        within = np.arange(len(self.pk)) - np.repeat(first, self.n_dead)
        self.pf = within / self.n_dead[self.pk] if ties == "efron" else np.zeros(len(self.pk))

    @property
    def n_events(self) -> int:
        return len(self.dead)

    def _death_sums(self, Z: np.ndarray, r: np.ndarray) -> np.ndarray:
        """Sums of ``r * Z`` over the tied event rows at each grid point, (K, m)."""
        if self._deaths is None:
            from scipy import sparse

            self._deaths = sparse.csr_matrix((np.ones(len(self.dead)), (self.dead_k, np.arange(len(self.dead)))),
                                             shape=(self.grid.size, len(self.dead)))
        return self._deaths @ (Z[self.dead] * r[self.dead, None])

    def _columns(self, X: np.ndarray) -> np.ndarray:
        """``[1, x, upper triangle of x x']`` per row, built once per covariate matrix (it does not change
        between Newton steps)."""
        if getattr(self, "_Z_of", None) is not X:
            p = X.shape[1]
            iu = np.triu_indices(p)
            self._Z = np.hstack([np.ones((len(X), 1)), X, X[:, iu[0]] * X[:, iu[1]]])
            self._Z_of = X
        return self._Z

    def _sums(self, X: np.ndarray, r: np.ndarray, second: bool = True):
        """Risk-set sums S0, S1, S2 (upper triangle) and their parts among the tied events D0, D1, D2."""
        p = X.shape[1]
        Z = self._columns(X)
        if not second:
            Z = Z[:, : p + 1]
        S = self.grid.range_sum(Z, r)
        D = self._death_sums(Z, r)
        S0, S1, D0, D1 = S[:, 0], S[:, 1:p + 1], D[:, 0], D[:, 1:p + 1]
        if not second:
            return S0, S1, None, D0, D1, None
        return S0, S1, S[:, p + 1:], D0, D1, D[:, p + 1:]

    def loglik(self, X: np.ndarray, beta: np.ndarray, second: bool = True):
        """Log partial likelihood, score and information (``None`` if ``second`` is False) at ``beta``."""
        p = X.shape[1]
        eta = X @ beta
        shift = float(np.max(eta)) if len(eta) else 0.0
        r = np.exp(eta - shift)
        S0, S1, S2u, D0, D1, D2u = self._sums(X, r, second)
        k, f = self.pk, self.pf
        den = S0[k] - f * D0[k]
        num1 = S1[k] - f[:, None] * D1[k]
        xbar = num1 / den[:, None]
        ll = float(np.sum(eta[self.dead]) - np.sum(np.log(den) + shift))
        score = X[self.dead].sum(axis=0) - xbar.sum(axis=0)
        if not second:
            return ll, score, None
        num2 = (S2u[k] - f[:, None] * D2u[k]) / den[:, None]
        iu = np.triu_indices(p)
        info_u = num2.sum(axis=0)
        info = np.zeros((p, p))
        info[iu] = info_u
        info = info + np.triu(info, 1).T
        info -= xbar.T @ xbar
        return ll, score, info

    def increments(self, X: np.ndarray, beta: np.ndarray):
        """Risk scores (rescaled by a constant), and per pseudo event the hazard increment ``1/den`` on the same
        scale and the mean covariate ``xbar`` (products ``r * haz`` are exact; for residuals)."""
        eta = X @ beta
        r = np.exp(eta - (float(np.max(eta)) if len(eta) else 0.0))  # r and 1/den share the scale
        S0, S1, _, D0, D1, _ = self._sums(X, r, second=False)
        k, f = self.pk, self.pf
        den = S0[k] - f * D0[k]
        xbar = (S1[k] - f[:, None] * D1[k]) / den[:, None]
        return r, 1.0 / den, xbar

    def score_residuals(self, X: np.ndarray, beta: np.ndarray) -> np.ndarray:
        """Score residuals :math:`U_i` (n, p) as R's ``residuals(fit, type = "score")`` (module docstring)."""
        n, p = X.shape
        K = self.grid.size
        r, haz, xbar = self.increments(X, beta)
        k, f = self.pk, self.pf
        haz1 = np.bincount(k, haz, K)
        xhaz = np.column_stack([np.bincount(k, haz * xbar[:, j], K) for j in range(p)])
        resid = -r[:, None] * (X * self.grid.row_sum(haz1)[:, None] - self.grid.row_sum(xhaz))
        d = self.dead
        kd = self.dead_k
        mh1 = np.bincount(k, haz * f, K)
        mh2 = np.column_stack([np.bincount(k, haz * f * xbar[:, j], K) for j in range(p)])
        mh3 = np.column_stack([np.bincount(k, xbar[:, j], K) for j in range(p)]) / self.n_dead[:, None].clip(1)
        resid[d] += (X[d] - mh3[kd]) + r[d, None] * (X[d] * mh1[kd, None] - mh2[kd])
        return resid

    def schoenfeld(self, X: np.ndarray, beta: np.ndarray) -> np.ndarray:
        """Schoenfeld residuals, one row per event (in the order of ``self.dead``): :math:`x_i` minus the
        (Efron-averaged) mean covariate at its time."""
        p = X.shape[1]
        K = self.grid.size
        _, _, xbar = self.increments(X, beta)
        mh3 = np.column_stack([np.bincount(self.pk, xbar[:, j], K) for j in range(p)]) / self.n_dead[:, None].clip(1)
        return X[self.dead] - mh3[self.dead_k]
