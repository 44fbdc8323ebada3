"""Satterthwaite degrees of freedom for fixed effects, as lmerTest computes them.

Kuznetsova, Brockhoff & Christensen (2017), *lmerTest Package: Tests in Linear Mixed Effects Models*,
J. Stat. Softw. 82(13), section 3.3. With variance parameters ``varpar`` = (θ, σ) (θ: lme4's relative
covariance factor elements; σ: residual SD; plus φ for a residual AR(1)):

* ``D(varpar)`` is the deviance with σ not profiled out and β at its conditional estimate β̂(θ):
  ``D = log|L_θ|² + r²(θ)/σ² + n log(2πσ²)`` (ML), plus ``log|R_X|² − p log(2πσ²)`` under REML;
* ``A = 2 H⁻¹`` with H the Hessian of D at the estimate (inverse over the positive eigenvalues) is the
  asymptotic covariance of ``varpar``;
* ``C(varpar) = σ² (R_XᵀR_X)⁻¹`` is the covariance of β̂; for a contrast ``l`` with ``v = lᵀCl`` and
  ``g_k = lᵀ (∂C/∂varpar_k) l`` the degrees of freedom are ``ν = 2 v² / (gᵀ A g)``.

The derivatives are numerical, with Richardson extrapolation on central differences as R's numDeriv does
(Gilbert & Varadhan, numDeriv: initial step ``d·|x|`` (d = 1e-4 for the Jacobian, 0.1 for the Hessian)
or ``eps`` near zero, 4 halvings); lmerTest uses
numDeriv the same way, so the df agree to about 1e-6 relative.

As lmerTest's ``lmer()`` keeps ``vcov_varpar`` and ``Jac_list`` on the fitted object for every later
``summary``/``anova``/``contest``, the fit keeps A (``varpar_vcov``) and the Jacobian of C
(:func:`varpar_derivatives`, cached on the result: the fit stores what it computed for ``params``, and a result
without it computes it once, on first use).

Examples
--------
>>> import numpy as np
>>> H = richardson_hessian(lambda x: (x[0] - 1) ** 2 + 3 * x[0] * x[1] + x[1] ** 4, np.array([0.5, 1.0]))
>>> np.allclose(H, [[2, 3], [3, 12]], atol=1e-7)
True
"""
from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

import numpy as np

# numDeriv's defaults: relative step d (1e-4 for jacobian, 0.1 for hessian/genD), eps near zero, 4 levels
_D_JACOBIAN, _D_HESSIAN, _EPS, _ZERO_TOL, _R, _V = 1e-4, 0.1, 1e-4, np.sqrt(np.finfo(float).eps / 7e-7), 4, 2.0


def _steps(x: np.ndarray, d: float) -> np.ndarray:
    return np.abs(d * x) + _EPS * (np.abs(x) < _ZERO_TOL)


def _extrapolate(a: np.ndarray) -> np.ndarray:
    """Richardson extrapolation over the first axis (step halved each level, error O(h²))."""
    a = np.array(a, dtype=float)
    for m in range(1, a.shape[0]):
        four = 4.0 ** m
        a = (a[1:] * four - a[:-1]) / (four - 1.0)
    return a[0]


def richardson_jacobian(f: Callable[[np.ndarray], np.ndarray], x: np.ndarray) -> np.ndarray:
    """Jacobian of a vector/matrix-valued ``f`` at ``x`` (numDeriv's ``jacobian``, Richardson method).

    Returns
    -------
    ndarray
        Shape ``f(x).shape + (len(x),)``.

    Examples
    --------
    >>> J = richardson_jacobian(lambda v: np.array([v[0] * v[1], v[1] ** 2]), np.array([2.0, 3.0]))
    >>> np.allclose(J, [[3.0, 2.0], [0.0, 6.0]])
    True
    """
    x = np.asarray(x, dtype=float)
    h0 = _steps(x, _D_JACOBIAN)
    cols = []
    for i in range(len(x)):
        levels = []
        h = h0[i]
        for _ in range(_R):
            e = np.zeros_like(x)
            e[i] = h
            levels.append((np.asarray(f(x + e)) - np.asarray(f(x - e))) / (2 * h))
            h /= _V
        cols.append(_extrapolate(levels))
    return np.stack(cols, axis=-1)


def richardson_hessian(f: Callable[[np.ndarray], float], x: np.ndarray) -> np.ndarray:
    """Hessian of a scalar ``f`` at ``x``, numDeriv's ``genD`` scheme (initial step ``0.1·|x|``).

    Diagonal: extrapolated ``(f(x+h) − 2f(x) + f(x−h)) / h²``; off-diagonal: extrapolated
    ``(f(x+hᵢ+hⱼ) − 2f(x) + f(x−hᵢ−hⱼ) − Hᵢᵢhᵢ² − Hⱼⱼhⱼ²) / (2hᵢhⱼ)``. An example is in the module docstring.
    """
    return richardson_gen_d(f, x)[1]


def richardson_gen_d(f: Callable[[np.ndarray], np.ndarray], x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Gradient and Hessian of a scalar- or vector-valued ``f`` at ``x`` by numDeriv's ``genD`` scheme.

    Returns
    -------
    G, H : ndarray
        Shapes ``f(x).shape + (k,)`` and ``f(x).shape + (k, k)``; the gradient comes free from the
        evaluations of the Hessian diagonal.

    Examples
    --------
    >>> G, H = richardson_gen_d(lambda v: v[0] ** 3 + v[0] * v[1], np.array([1.0, 2.0]))
    >>> np.allclose(G, [5.0, 1.0]), np.allclose(H, [[6.0, 1.0], [1.0, 0.0]], atol=1e-8)
    (True, True)
    """
    x = np.asarray(x, dtype=float)
    k = len(x)
    h0 = _steps(x, _D_HESSIAN)
    f0 = np.asarray(f(x), dtype=float)
    G = np.zeros(f0.shape + (k,))
    H = np.zeros(f0.shape + (k, k))
    for i in range(k):
        first, second, h = [], [], h0[i]
        for _ in range(_R):
            e = np.zeros(k)
            e[i] = h
            fp, fm = np.asarray(f(x + e)), np.asarray(f(x - e))
            first.append((fp - fm) / (2 * h))
            second.append((fp - 2 * f0 + fm) / h ** 2)
            h /= _V
        G[..., i] = _extrapolate(first)
        H[..., i, i] = _extrapolate(second)
    for i in range(k):
        for j in range(i):
            levels, hi, hj = [], h0[i], h0[j]
            for _ in range(_R):
                e = np.zeros(k)
                e[i], e[j] = hi, hj
                levels.append((np.asarray(f(x + e)) - 2 * f0 + np.asarray(f(x - e)) - H[..., i, i] * hi ** 2
                               - H[..., j, j] * hj ** 2) / (2 * hi * hj))
                hi /= _V
                hj /= _V
            H[..., i, j] = H[..., j, i] = _extrapolate(levels)
    return G, H


def varpar_covariance(hessian: np.ndarray, tol: float = 1e-8) -> tuple[np.ndarray, int]:
    """Asymptotic covariance of the variance parameters, ``A = 2 H⁺`` over the eigenvalues of the deviance
    Hessian ``H`` above ``tol`` (as lmerTest's ``vcov_varpar``).

    Returns
    -------
    A : ndarray (k, k)
    n_nonpositive : int
        Eigenvalues at or below ``tol`` (left out of the inverse; a warning-worthy Hessian).

    Examples
    --------
    >>> A, bad = varpar_covariance(np.diag([4.0, 0.0]))
    >>> A.tolist(), bad
    ([[0.5, 0.0], [0.0, 0.0]], 1)
    """
    vals, vecs = np.linalg.eigh(hessian)
    pos = vals > tol
    inv = (vecs[:, pos] / vals[pos]) @ vecs[:, pos].T
    return 2.0 * inv, int((~pos).sum())


def satterthwaite_df(vcov_beta: np.ndarray, jac_vcov: np.ndarray, vcov_varpar: np.ndarray) -> np.ndarray:
    """Satterthwaite df of each coefficient: ``2 v² / (gᵀ A g)`` (see the module docstring).

    Parameters
    ----------
    vcov_beta : ndarray (p, p)
        cov(β̂).
    jac_vcov : ndarray (p, p, k)
        Derivative of cov(β̂) with respect to each variance parameter.
    vcov_varpar : ndarray (k, k)
        Asymptotic covariance of the variance parameters (:func:`varpar_covariance`).

    Returns
    -------
    ndarray (p,)
        The df (``inf`` where the variance of ``v`` is zero).

    Examples
    --------
    One coefficient whose variance is σ²/n, σ² estimated with variance 2σ⁴/ν: the df are ν.

    >>> s2, n, nu = 2.0, 10.0, 25.0
    >>> satterthwaite_df(np.array([[s2 / n]]), np.array([[[1.0 / n]]]), np.array([[2 * s2 ** 2 / nu]]))
    array([25.])
    """
    g = np.einsum("jjk->jk", jac_vcov)                        # gradient of each variance v_j = C_jj
    denom = np.einsum("jk,kl,jl->j", g, vcov_varpar, g)
    v = np.diag(vcov_beta)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(denom > 0, 2.0 * v ** 2 / np.where(denom > 0, denom, 1.0), np.inf)


class VarparDerivatives(NamedTuple):
    """What lmerTest's ``lmer()`` keeps for Satterthwaite's df: ``vcov_beta`` = cov(β̂) (p, p), ``jac`` = its
    derivatives in the variance parameters (p, p, k) (``Jac_list``) and ``vcov_varpar`` = A (k, k). Read-only."""

    vcov_beta: np.ndarray
    jac: np.ndarray
    vcov_varpar: np.ndarray


_CACHE_KEY = "satterthwaite"


def _depends(fit) -> tuple:
    # the attributes the derivatives come from; a refit (or a dataclasses.replace with new values) has new objects
    return fit.theta, fit.sigma, fit.ar1_phi, fit.vcov, fit.varpar_vcov, fit.reml, fit.formula


def _frozen(vcov_beta, jac, vcov_varpar) -> VarparDerivatives:
    arrays = [np.array(a, dtype=float) for a in (vcov_beta, jac, vcov_varpar)]
    for a in arrays:
        a.setflags(write=False)
    return VarparDerivatives(*arrays)


def remember_varpar_derivatives(fit, jac: np.ndarray) -> None:
    """Keep on ``fit`` the Jacobian of cov(β̂) that the fit computed for its own df (as lmerTest's ``lmer()``),
    so that :func:`varpar_derivatives` (``anova``, per-coefficient tests) does not compute it again.

    Examples
    --------
    :func:`allianceStats.mixed.fit_mlm` calls it; :func:`varpar_derivatives` then returns what it kept:

    >>> import pandas as pd
    >>> from allianceStats.mixed import fit_mlm
    >>> rng = np.random.default_rng(5)
    >>> d = pd.DataFrame({"g": np.repeat(list("abcdefgh"), 5), "x": rng.normal(size=40)})
    >>> d["y"] = d.x + rng.normal(size=8)[np.repeat(np.arange(8), 5)] + rng.normal(size=40)
    >>> fit = fit_mlm(d, "y ~ x + (1 | g)")
    >>> remember_varpar_derivatives(fit, np.zeros((2, 2, 2)))   # already kept by fit_mlm: not replaced
    >>> bool(np.any(varpar_derivatives(fit).jac != 0))
    True
    """
    fit._cached(_CACHE_KEY, lambda: _frozen(fit.vcov.to_numpy(), jac, fit.varpar_vcov), *_depends(fit))


def varpar_derivatives(fit) -> VarparDerivatives:
    """cov(β̂), its Jacobian in the variance parameters (θ [, φ], σ) and their covariance A for a fit of
    :func:`allianceStats.mixed.fit_mlm`: lmerTest's ``vcov_beta``, ``Jac_list`` and ``vcov_varpar``.

    Computed once per fit and kept on it (the fit itself stores the Jacobian it computed for ``params``' df;
    otherwise the first call computes it from the deviance function of the fit, numDeriv's Richardson scheme,
    module docstring). A result rebuilt with other estimates never reuses another fit's values.

    Parameters
    ----------
    fit : MixedResult

    Returns
    -------
    VarparDerivatives
        Read-only arrays; ``satterthwaite_df(*varpar_derivatives(fit))`` are the df of ``fit.params``.

    Examples
    --------
    >>> import pandas as pd
    >>> from allianceStats.mixed import fit_mlm
    >>> rng = np.random.default_rng(2)
    >>> g = np.repeat(np.arange(10), 6)
    >>> d = pd.DataFrame({"g": g.astype(str), "x": rng.normal(size=60)})
    >>> d["y"] = d.x + rng.normal(0, 1, 10)[g] + rng.normal(size=60)
    >>> fit = fit_mlm(d, "y ~ x + (1 | g)")
    >>> pieces = varpar_derivatives(fit)
    >>> pieces.jac.shape, varpar_derivatives(fit) is pieces        # (p, p, k) with k = (θ, σ); computed once
    ((2, 2, 2), True)
    >>> bool(np.allclose(satterthwaite_df(*pieces), fit.params.df))
    True
    """
    return fit._cached(_CACHE_KEY, lambda: _compute_varpar_derivatives(fit), *_depends(fit))


def _compute_varpar_derivatives(fit) -> VarparDerivatives:
    from .crossed import deviance_problem  # crossed imports the engine, which imports this module

    problem = deviance_problem(fit, reml=fit.reml)
    obj = problem.objective()
    par = np.asarray(fit.theta, dtype=float)
    if problem.nested and problem.times is not None:
        par = np.r_[par, fit.ar1_phi]
    V = fit.vcov.to_numpy()
    jac = np.concatenate([fit.sigma ** 2 * richardson_jacobian(obj.xtx_inverse, par),
                          (2.0 * V / fit.sigma)[..., None]], axis=2)
    return _frozen(V, jac, fit.varpar_vcov)
