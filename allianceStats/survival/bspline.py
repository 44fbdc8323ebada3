r"""B-spline bases of a log baseline hazard, as JM's ``spline-PH-GH`` builds them.

Definition
----------
A B-spline basis of order *k* (degree *k* − 1; cubic: *k* = 4) on the non-decreasing knot sequence
:math:`t_1 \le \dots \le t_{m}` has :math:`m - k` functions :math:`B_1, \dots, B_{m-k}`, piecewise polynomials of
degree *k* − 1 defined by the Cox–de Boor recursion (de Boor 1978); with the boundary knots repeated *k* times
(clamped) they are non-negative and sum to one on :math:`[t_k, t_{m-k+1}]`. JM (Rizopoulos 2010, 2012) models
:math:`\log h_0(t) = \sum_q \gamma_q B_q(t)`, the basis on the knots
``c(rep(min(T, st), 4), interior, rep(max(T), 4))`` — the boundary knots are the range of the observed times
*T* and of the Gauss–Kronrod nodes *st* of :math:`(0, T_i)`, and the interior knots (JM's ``lng.in.kn = 5`` by
default) the 1/6, …, 5/6 quantiles (R's type 7) of the observed times, events and censorings alike, keeping
those below max(T) — and evaluates it with ``splines::splineDesign``. Here the basis is
:meth:`scipy.interpolate.BSpline.design_matrix`, equal to ``splineDesign`` at the same knots to 1e-12
(``tests/survival/test_joint_spline.py``).

References
----------
de Boor, C. (1978). *A practical guide to splines*. Springer.
Rizopoulos, D. (2010). JM: An R package for the joint modelling of longitudinal and time-to-event data. *Journal
of Statistical Software, 35*(9), 1-33.
Rizopoulos, D. (2012). *Joint models for longitudinal and time-to-event data, with applications in R*. Chapman &
Hall/CRC.
"""
from __future__ import annotations

import numpy as np
from scipy.interpolate import BSpline

__all__ = ["spline_knots", "bspline_design"]


def spline_knots(times: np.ndarray, lower: float, inner=None, n_inner: int = 5, order: int = 4) -> np.ndarray:
    """The full knot sequence of JM's spline baseline.

    Parameters
    ----------
    times : numpy.ndarray
        Observed (event or censoring) times, one per client.
    lower : float
        The lower boundary knot (JM: the smallest Gauss–Kronrod node of the cumulative-hazard integrals).
    inner : sequence of float, optional
        Interior knots (JM's ``control = list(knots = ...)``); default the ``1/(n_inner+1), …,
        n_inner/(n_inner+1)`` quantiles of ``times`` (R's type 7). Knots at or above max(times) are dropped, as JM.
    n_inner : int
        Number of default interior knots (JM's ``lng.in.kn``, 5).
    order : int
        Spline order (JM's ``ord``, 4: cubic).

    Returns
    -------
    numpy.ndarray
        ``lower`` and ``max(times)`` each repeated ``order`` times, with the interior knots between, sorted.

    Examples
    --------
    >>> spline_knots(np.arange(1.0, 8.0), 0.5, n_inner=1).tolist()
    [0.5, 0.5, 0.5, 0.5, 4.0, 7.0, 7.0, 7.0, 7.0]
    """
    times = np.asarray(times, float)
    if inner is None:
        inner = np.quantile(times, np.linspace(0, 1, n_inner + 2)[1:-1])
    inner = np.asarray(inner, float)
    inner = inner[inner < times.max()]
    upper = times.max()
    return np.sort(np.concatenate([np.full(order, lower), inner, np.full(order, upper)]))


def bspline_design(knots: np.ndarray, x: np.ndarray, order: int = 4) -> np.ndarray:
    """The B-spline basis of ``order`` on ``knots`` at ``x`` (as ``splines::splineDesign(knots, x, ord = order)``).

    Parameters
    ----------
    knots : numpy.ndarray
        Full, non-decreasing knot sequence (boundary knots repeated ``order`` times).
    x : numpy.ndarray
        Points in ``[knots[order - 1], knots[-order]]`` (the right end included).
    order : int
        Spline order (4: cubic).

    Returns
    -------
    numpy.ndarray
        ``(len(x), len(knots) - order)`` dense matrix; each row sums to one.

    Examples
    --------
    >>> B = bspline_design(np.array([0.0] * 4 + [1.0] * 4), np.array([0.0, 0.5, 1.0]))
    >>> B.round(3).tolist()
    [[1.0, 0.0, 0.0, 0.0], [0.125, 0.375, 0.375, 0.125], [0.0, 0.0, 0.0, 1.0]]
    """
    x = np.asarray(x, float)
    return BSpline.design_matrix(x, np.asarray(knots, float), order - 1).toarray()
