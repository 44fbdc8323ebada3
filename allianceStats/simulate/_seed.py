"""The random stream of a simulation, the seed its ``truth`` records (so every data set can be redrawn), and
correlated normal draws that are the same on every machine.

Why not ``Generator.multivariate_normal``: it factors the covariance by an SVD (numpy's default), and the
singular vectors of a matrix are not unique (signs, and rotations within repeated singular values), so which
ones LAPACK returns depends on its build. The same seed then gives different data on another machine. The
Cholesky factor of a positive-definite matrix is unique, so :func:`correlated_normal` draws
``z @ L.T`` with ``z`` standard normal (consumed from the stream exactly as ``multivariate_normal`` consumes it:
``size x k`` values, row by row) and ``L`` lower triangular with ``L @ L.T = cov``.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from ..data.checks import resolve_seed
from ..errors import OptionError

#: relative tolerance below which a pivot of a positive semi-definite covariance counts as zero
PSD_TOLERANCE = 1e-10


def generator(seed: Any) -> tuple[np.random.Generator, Any]:
    """``(numpy Generator, recorded seed)`` for ``seed``: an int (or None, replaced by a fresh recorded int, see
    :func:`~allianceStats.data.checks.resolve_seed`) or a :class:`numpy.random.SeedSequence` (as the power
    studies pass one per replication; recorded as its entropy and spawn key). The draws for a given int or
    SeedSequence are exactly ``numpy.random.default_rng(seed)``'s.

    >>> rng, recorded = generator(3)
    >>> recorded, float(rng.random()) == float(np.random.default_rng(3).random())
    (3, True)
    """
    if isinstance(seed, np.random.SeedSequence):
        return np.random.default_rng(seed), {"entropy": int(seed.entropy),
                                             "spawn_key": tuple(int(k) for k in seed.spawn_key)}
    seed = resolve_seed(seed)
    return np.random.default_rng(seed), seed


def cholesky_factor(cov, *, what: str = "covariance matrix") -> np.ndarray:
    """Lower-triangular ``L`` with ``L @ L.T == cov``, unique and therefore the same on every machine.

    A positive-definite ``cov`` gets :func:`numpy.linalg.cholesky`. A positive *semi*-definite one (a correlation
    of exactly 1, a variance of 0) has no such factor in LAPACK; it gets the Cholesky–Banachiewicz recursion in
    which a pivot below ``PSD_TOLERANCE`` times the largest variance is set to zero together with the rest of
    its column. That factor is also determined by the matrix alone (no pivoting, no eigenvectors whose signs or
    rotation a LAPACK build would choose), so the draws stay machine independent.

    Parameters
    ----------
    cov : array_like, shape (k, k)
        A symmetric covariance matrix.
    what : str
        How error messages name it (e.g. ``"trait covariance (trait_correlation, client_sd_*)"``).

    Returns
    -------
    numpy.ndarray, shape (k, k)

    Raises
    ------
    OptionError
        ``cov`` is not square, not symmetric, not finite, or not positive semi-definite (a negative eigenvalue):
        the message gives the smallest eigenvalue.

    Examples
    --------
    >>> cholesky_factor([[4.0, 2.0], [2.0, 2.0]])
    array([[2., 0.],
           [1., 1.]])
    >>> cholesky_factor([[1.0, 1.0], [1.0, 1.0]])   # correlation 1: semi-definite, second column zero
    array([[1., 0.],
           [1., 0.]])
    >>> cholesky_factor([[1.0, 2.0], [2.0, 1.0]], what="ri covariance")
    Traceback (most recent call last):
    ...
    allianceStats.errors.OptionError: ri covariance is not positive semi-definite (smallest eigenvalue -1); ...
    """
    S = np.asarray(cov, dtype=np.float64)
    if S.ndim != 2 or S.shape[0] != S.shape[1] or not np.all(np.isfinite(S)):
        raise OptionError(f"{what} must be a finite square matrix; got shape {S.shape}")
    scale = max(float(np.max(np.abs(np.diag(S)))) if S.size else 0.0, np.finfo(float).tiny)
    if not np.allclose(S, S.T, rtol=0.0, atol=1e-12 * scale):
        raise OptionError(f"{what} must be symmetric")
    try:
        return np.linalg.cholesky(S)
    except np.linalg.LinAlgError:
        pass
    smallest = float(np.min(np.linalg.eigvalsh(S)))
    if smallest < -PSD_TOLERANCE * scale * S.shape[0]:
        raise OptionError(f"{what} is not positive semi-definite (smallest eigenvalue {smallest:.3g}); a variance "
                          f"is negative or the correlations are impossible together — use correlations in [-1, 1] "
                          f"that fit together (e.g. not 0.9, 0.9 and -0.9 among three variables)")
    k = S.shape[0]
    L = np.zeros_like(S)
    for j in range(k):
        pivot = S[j, j] - L[j, :j] @ L[j, :j]
        if pivot <= PSD_TOLERANCE * scale:
            continue  # a direction without variance: this column of the factor stays zero
        L[j, j] = np.sqrt(pivot)
        L[j + 1:, j] = (S[j + 1:, j] - L[j + 1:, :j] @ L[j, :j]) / L[j, j]
    return L


def correlated_normal(rng: np.random.Generator, cov, size: int, *, mean=None,
                      what: str = "covariance matrix") -> np.ndarray:
    """``size`` draws from N(``mean``, ``cov``) as ``z @ L.T`` (``L`` = :func:`cholesky_factor`), never through
    ``Generator.multivariate_normal``; the stream advances by ``size * k`` standard normals.

    Parameters
    ----------
    rng : numpy.random.Generator
        The simulation's stream.
    cov : array_like, shape (k, k)
        Covariance matrix (positive semi-definite).
    size : int
        Number of draws (rows).
    mean : array_like, shape (k,), optional
        Mean vector (default zero).
    what : str
        How error messages name ``cov``.

    Returns
    -------
    numpy.ndarray, shape (size, k)

    Examples
    --------
    >>> rng = np.random.default_rng(1)
    >>> x = correlated_normal(rng, [[1.0, 0.5], [0.5, 1.0]], 20000)
    >>> x.shape, bool(abs(np.corrcoef(x.T)[0, 1] - 0.5) < 0.02)
    ((20000, 2), True)
    """
    L = cholesky_factor(cov, what=what)
    z = rng.standard_normal((size, L.shape[0]))
    draws = z @ L.T
    if mean is not None:
        draws = draws + np.asarray(mean, dtype=np.float64)
    return draws
