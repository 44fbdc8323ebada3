"""Two-equation stacked linear mixed model with one residual variance per equation, from per-cluster cross-products.

Model
-----
Two outcomes measured on the same units ``i`` in clusters ``j`` are stacked into one mixed model (Bauer, Preacher
& Gil 2006): every unit gives a row of the first equation (``m``) and a row of the second (``y``), whose fixed-
and random-effect design rows ``x_mij, z_mij`` and ``x_yij, z_yij`` switch on the predictors of their own
equation only::

    [m_ij; y_ij] = [x_mij'; x_yij'] beta + [z_mij'; z_yij'] u_j + [e_mij; e_yij],
    u_j ~ N(0, G),   e_mij ~ N(0, sigma_m^2),   e_yij ~ N(0, sigma_y^2).

``G`` (``q x q``) is unstructured except for entries fixed at zero; the residual variance differs by equation
(nlme: ``weights = varIdent(form = ~ 1 | S)``; SAS PROC MIXED: ``repeated / group = S``). lme4 and
:func:`allianceStats.fit_mlm` have one residual variance, so this module maximises the (restricted) likelihood
itself.

Estimation
----------
Per cluster, the cross-products ``W'W`` of ``W = [X, Z, response]`` are formed once for the ``m`` rows and once
for the ``y`` rows. At given variance parameters, ``C_j = W_mj'W_mj / sigma_m^2 + W_yj'W_yj / sigma_y^2`` and the
marginal covariance ``V_j = Z_j G Z_j' + R_j`` is inverted by the Woodbury identity through a batch of small
``q x q`` Cholesky factorisations of ``I + L' C_zz,j L`` (``G = L L'``), as in lme4's penalised least squares
(Bates, Mächler, Bolker & Walker 2015, eq. 11-20 in their notation). The fixed effects are profiled out by
generalised least squares; the deviance is ``log|V| + r'V^-1 r`` (+ ``log|X'V^-1 X|`` under REML, Harville 1977).
L-BFGS-B (scipy) optimises the log residual SDs and the free entries of ``L``, both in units of the data's SDs so
that the optimiser is well conditioned for any units. Fixed effects have the GLS covariance ``(X'V^-1 X)^-1``;
the variance parameters ``(free entries of G, sigma_m^2, sigma_y^2)`` the inverse of half the central-difference
Hessian of the deviance, mapped by the delta method.

Fixed zeros of ``G``: an entry ``G[i, 0] = 0`` is ``L[i, 0] = 0``, and a zero block below a leading block of ``G``
is a zero block of ``L``, so zeros of these kinds are imposed on ``L`` directly. Other zero patterns are not
supported.

Validated against ``nlme::lme`` with ``varIdent`` residuals and, for block-diagonal ``G`` (where the likelihood
factorises into the two equations), against two ``lme4::lmer`` fits (``tests/mediation/test_multilevel.py``).
:func:`allianceStats.fit_multilevel_mediation` builds the 1-1-1 mediation design on this engine.

Example: random intercepts only, ``m`` and ``y`` unrelated; the GLS intercepts are the two means.

>>> import numpy as np
>>> rng = np.random.default_rng(1)
>>> codes = np.repeat(np.arange(30), 6)
>>> m = 1.0 + rng.normal(size=30)[codes] + rng.normal(size=180)
>>> y = -2.0 + rng.normal(size=30)[codes] + rng.normal(size=180)
>>> one, nil = np.ones(180), np.zeros(180)
>>> w_m = np.column_stack([one, nil, one, nil, m])   # X = [S_m, S_y], Z = [S_m, S_y], response
>>> w_y = np.column_stack([nil, one, nil, one, y])
>>> cm, cy, counts = stacked_crossproducts(w_m, w_y, codes, 30)
>>> fit = fit_stacked_lmm(cm, cy, counts, p=2, q=2, zero_cov=frozenset({(1, 0)}), resid_scale=np.ones(2),
...                       re_scale=np.ones(2))
>>> fit.convergence.converged, bool(np.allclose(fit.beta, [m.mean(), y.mean()]))
(True, True)

References
----------
Bauer, D. J., Preacher, K. J., & Gil, K. M. (2006). Conceptualizing and testing random indirect effects and
moderated mediation in multilevel models. *Psychological Methods* 11(2), 142-163.
Bates, D., Mächler, M., Bolker, B., & Walker, S. (2015). Fitting linear mixed-effects models using lme4.
*J. Stat. Softw.* 67(1).
Harville, D. A. (1977). Maximum likelihood approaches to variance component estimation. *JASA* 72(358), 320-338.
Pinheiro, J. C., & Bates, D. M. (2000). *Mixed-Effects Models in S and S-PLUS*, ch. 2 and 5. Springer.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import optimize

from ..results import Convergence

__all__ = ["StackedLikelihood", "StackedFit", "stacked_crossproducts", "fit_stacked_lmm", "central_hessian"]


def stacked_crossproducts(w_m: np.ndarray, w_y: np.ndarray, codes: np.ndarray,
                          n_clusters: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per-cluster cross-products of ``W = [X, Z, response]`` for the ``m`` rows and the ``y`` rows.

    ``w_m`` and ``w_y`` are (n, p + q + 1) with one row per unit; ``codes`` the cluster of each unit (0..G-1).
    Returns ``(cm, cy, counts)``: two (G, p+q+1, p+q+1) arrays and the number of units per cluster.

    >>> w = np.ones((4, 3))
    >>> cm, cy, counts = stacked_crossproducts(w, w, np.array([0, 0, 1, 1]), 2)
    >>> cm.shape, counts.tolist()
    ((2, 3, 3), [2.0, 2.0])
    """
    n, width = w_m.shape
    cm = np.zeros((n_clusters, width * width))
    cy = np.zeros((n_clusters, width * width))
    np.add.at(cm, codes, (w_m[:, :, None] * w_m[:, None, :]).reshape(n, -1))
    np.add.at(cy, codes, (w_y[:, :, None] * w_y[:, None, :]).reshape(n, -1))
    counts = np.bincount(codes, minlength=n_clusters).astype(float)
    return cm.reshape(-1, width, width), cy.reshape(-1, width, width), counts


class StackedLikelihood:
    """(Restricted) likelihood of the stacked two-equation model from per-cluster cross-products.

    Parameters ``theta`` of the optimiser: ``log(sigma_m / resid_scale[0])``, ``log(sigma_y / resid_scale[1])``,
    then the free entries of the lower Cholesky factor of ``G`` (in ``re_scale`` units), row-major over
    ``numpy.tril_indices`` minus ``zero_cov``.
    """

    def __init__(self, cm: np.ndarray, cy: np.ndarray, counts: np.ndarray, p: int, q: int, reml: bool,
                 zero_cov: frozenset[tuple[int, int]], resid_scale: np.ndarray, re_scale: np.ndarray):
        self.cm, self.cy, self.counts, self.p, self.q, self.reml = cm, cy, counts, p, q, reml
        self.resid_scale, self.re_scale = resid_scale, re_scale
        self.free = tuple((i, j) for i, j in zip(*np.tril_indices(q)) if (i, j) not in zero_cov)
        self.rows, self.cols = (np.array(v) for v in zip(*self.free))

    def unpack(self, theta):
        """``(sigma_m^2, sigma_y^2, L)`` from the optimiser's parameters."""
        lower = np.zeros((self.q, self.q))
        lower[self.rows, self.cols] = theta[2:]
        return ((self.resid_scale[0] * np.exp(theta[0])) ** 2, (self.resid_scale[1] * np.exp(theta[1])) ** 2,
                self.re_scale[:, None] * lower)

    def natural(self, theta):
        """``(free entries of G, sigma_m^2, sigma_y^2)`` from the optimiser's parameters."""
        var_m, var_y, lower = self.unpack(theta)
        g = lower @ lower.T
        return np.concatenate([g[self.rows, self.cols], [var_m, var_y]])

    def start(self) -> np.ndarray:
        """Start values: residual SDs 0.7 and ``L = 0.3 I`` in the scaled units."""
        lower0 = np.eye(self.q) * 0.3
        return np.concatenate([[np.log(0.7), np.log(0.7)], lower0[self.rows, self.cols]])

    def pieces(self, var_m, var_y, lower, idx=None):
        """Deviance, GLS fixed effects and ``X'V^-1 X`` at given variance parameters (clusters ``idx`` for a
        resample)."""
        cm, cy, counts = (self.cm, self.cy, self.counts) if idx is None else \
            (self.cm[idx], self.cy[idx], self.counts[idx])
        p, q = self.p, self.q
        c = cm / var_m + cy / var_y
        czz = c[:, p:p + q, p:p + q]
        t = np.eye(q) + lower.T @ czz @ lower
        k = np.linalg.cholesky(t)
        u = lower.T @ np.concatenate([c[:, p:p + q, :p], c[:, p:p + q, p + q:]], axis=2)
        qm = np.linalg.solve(k, u)
        keep = list(range(p)) + [p + q]
        m = (c[:, keep][:, :, keep] - np.swapaxes(qm, 1, 2) @ qm).sum(axis=0)
        mxx, mxr, mrr = m[:p, :p], m[:p, p], m[p, p]
        beta = np.linalg.solve(mxx, mxr)
        rss = mrr - mxr @ beta
        n_rows = 2 * counts.sum()
        logdet = counts.sum() * (np.log(var_m) + np.log(var_y)) + 2 * np.log(np.diagonal(k, axis1=1, axis2=2)).sum()
        dev = logdet + rss + n_rows * np.log(2 * np.pi)
        if self.reml:
            dev += np.linalg.slogdet(mxx)[1] - p * np.log(2 * np.pi)
        return dev, beta, mxx

    def deviance(self, theta, idx=None):
        """-2 (restricted) log-likelihood at ``theta`` (``inf`` where ``V`` is not positive definite)."""
        var_m, var_y, lower = self.unpack(theta)
        try:
            return self.pieces(var_m, var_y, lower, idx)[0]
        except np.linalg.LinAlgError:
            return np.inf

    def fit(self, start, idx=None, ftol=1e-13):
        """Minimise the deviance from ``start`` (L-BFGS-B); ``idx`` selects (resampled) clusters."""
        return optimize.minimize(self.deviance, start, args=(idx,), method="L-BFGS-B",
                                 options={"maxiter": 2000, "ftol": ftol, "gtol": 1e-7, "maxfun": 50000})


def central_hessian(fun, x, rel=1e-3):
    """Central-difference Hessian of ``fun`` at ``x`` with steps proportional to the parameters' size.

    >>> bool(np.allclose(central_hessian(lambda v: v[0] ** 2 + 3 * v[0] * v[1], np.ones(2)), [[2, 3], [3, 0]]))
    True
    """
    h = rel * np.maximum(np.abs(x), 1e-2)
    k = x.size
    out = np.empty((k, k))
    f0 = fun(x)
    for i in range(k):
        for j in range(i, k):
            if i == j:
                e = np.zeros(k)
                e[i] = h[i]
                out[i, i] = (fun(x + e) - 2 * f0 + fun(x - e)) / h[i] ** 2
            else:
                ei, ej = np.zeros(k), np.zeros(k)
                ei[i], ej[j] = h[i], h[j]
                out[i, j] = out[j, i] = (fun(x + ei + ej) - fun(x + ei - ej) - fun(x - ei + ej)
                                         + fun(x - ei - ej)) / (4 * h[i] * h[j])
    return out


@dataclass(frozen=True)
class StackedFit:
    """The fitted stacked model: likelihood object, optimum, GLS fixed effects and variance parameters.

    ``vcov_phi`` is the covariance of ``(free entries of G, sigma_m^2, sigma_y^2)`` (NaN at a singular fit);
    ``warnings`` the messages the caller should raise (a singular fit, an optimiser that stopped early).
    """

    lik: StackedLikelihood
    theta: np.ndarray
    beta: np.ndarray
    vcov_beta: np.ndarray
    g: np.ndarray
    var_m: float
    var_y: float
    vcov_phi: np.ndarray
    loglik: float
    convergence: Convergence
    warnings: tuple[str, ...]


def fit_stacked_lmm(cm: np.ndarray, cy: np.ndarray, counts: np.ndarray, *, p: int, q: int, reml: bool = True,
                    zero_cov: frozenset[tuple[int, int]] = frozenset(), resid_scale: np.ndarray,
                    re_scale: np.ndarray) -> StackedFit:
    """Fit the stacked model from the cross-products of :func:`stacked_crossproducts` (see the module docstring).

    ``p`` fixed effects, ``q`` random effects per cluster; ``zero_cov`` lists (row, col), row > col, entries of
    ``G`` fixed at 0; ``resid_scale`` (2,) and ``re_scale`` (q,) the natural scales of the residual SDs and random
    effects (e.g. the outcomes' SDs). Convergence is judged by the optimiser's flag or a gradient below 1e-3.
    An example is in the module docstring.
    """
    lik = StackedLikelihood(cm, cy, counts, p=p, q=q, reml=reml, zero_cov=zero_cov, resid_scale=resid_scale,
                            re_scale=re_scale)
    opt = lik.fit(lik.start())
    var_m, var_y, lower = lik.unpack(opt.x)
    dev, beta, mxx = lik.pieces(var_m, var_y, lower)
    g = lower @ lower.T
    msgs = []
    grad = optimize.approx_fprime(opt.x, lik.deviance, 1e-7)
    converged = bool(opt.success or np.max(np.abs(grad)) < 1e-3)
    if not converged:
        msgs.append(f"L-BFGS-B stopped: {opt.message}; max |gradient| {np.max(np.abs(grad)):.2g}")
    boundary = bool(np.any(np.sqrt(np.diag(g)) < 1e-4 * np.sqrt(min(var_m, var_y))))
    vcov_phi = np.full((opt.x.size, opt.x.size), np.nan)
    if boundary:
        msgs.append("a random-effect variance is estimated at zero (singular fit); standard errors of the "
                    "variance components are not available")
    else:  # inverse of half the Hessian of the deviance in the optimiser's parameters, mapped to (G, sigma^2)
        try:
            vcov_theta = np.linalg.inv(central_hessian(lik.deviance, opt.x) / 2.0)
            jac = optimize.approx_fprime(opt.x, lik.natural, 1e-7)
            vcov_phi = jac @ vcov_theta @ jac.T
        except np.linalg.LinAlgError:
            msgs.append("the Hessian of the variance parameters is singular; their standard errors are missing")
    return StackedFit(lik, opt.x, beta, np.linalg.inv(mxx), g, float(var_m), float(var_y), vcov_phi,
                      -0.5 * float(dev), Convergence(converged, int(opt.nit), "L-BFGS-B (scipy)", str(opt.message),
                                                    tuple(msgs)), tuple(msgs))
