"""Steps 2-5 of ``fit_sem`` for ordered items: (diagonally) weighted least squares on thresholds and polychoric
correlations, robust standard errors, the mean- and variance-adjusted tests and the fit measures — as lavaan 0.6's
``estimator = "WLSMV"`` (and ``"WLSM"``, ``"DWLS"``, ``"ULSMV"``, ``"ULSM"``, ``"ULS"``, ``"WLS"``).

Model (Muthén 1984; lavaan's LISREL form with Δ)
------------------------------------------------
The latent responses y* follow the usual mean and covariance structure μ*(θ), Σ*(θ) (``model.py``; intercepts
of ordered items fixed at 0 by default). With scale factors Δ = diag(δ_j), the model-implied statistics of one
group are the standardised thresholds and the correlations of y*,

    τ̃_jc(θ) = (τ_jc − μ*_j) δ_j,          ρ̃_ij(θ) = δ_i δ_j Σ*_ij  (i ≠ j),

with δ_j a parameter under ``parameterization="delta"`` (fixed at 1 by default; the residual variances of the
items are then 1/δ_j² minus their explained variance, not parameters) and δ_j = Σ*_jj^(−1/2) under ``"theta"``
(where the residual variances are parameters, fixed at 1 by default). A continuous variable (mixed data,
:mod:`~allianceStats.sem.polyserial`) keeps its scale (δ_j = 1 under both): its statistics are −μ_j (in the
threshold block), its variance Σ_jj, and its covariances δ_i Σ_ij with the other variables.

With exogenous covariates x (lavaan's ``conditional.x``, :mod:`~allianceStats.sem.conditional`) the statistics
describe y* given x, so the model side is the reduced form of the joint model given x: intercepts
a = μ*_y − Π μ_x, slopes Π = Σ*_yx Σ_xx⁻¹ (= Λ(I − B)⁻¹Γ) and residual covariances Σ*_y|x = Σ*_yy − Π Σ*_xy, with
τ̃_jc = (τ_jc − a_j) δ_j, the scaled slopes δ_j Π_jk (column by column, after the thresholds) and
ρ̃_ij = δ_i δ_j Σ*_y|x,ij; δ_j = (Σ*_y|x,jj)^(−1/2) under theta, and the residual variances of the items under
delta are 1/δ_j² minus the variance explained given x. A continuous variable's statistics given x are −a_j, its
slopes Π_jk, its residual variance Σ*_y|x,jj and its residual covariances (δ_j = 1).

Estimation
----------
θ̂ minimises F(θ) = Σ_g (n_g − 1) (s_g − σ_g(θ))ᵀ W_g (s_g − σ_g(θ)), s_g the sample statistics
(``polychoric.py``), W_g = diag(Γ_g)⁻¹ (DWLS), Γ_g⁻¹ (WLS) or I (ULS) — lavaan's objective up to a constant
factor, so F(θ̂) is its χ² statistic T. The minimiser is Gauss–Newton with step halving on F, started from
marker-variable values, stopped when the largest relative step is below 1e-10.

Standard errors (Δ_g = ∂σ_g/∂θᵀ, f_g = n_g/N, E = Σ_g f_g Δ_gᵀ W_g Δ_g)
  * ``"standard"`` (DWLS, ULS, WLS): Var(θ̂) = E⁻¹/(N − G);
  * ``"robust"`` (WLSMV, WLSM, ULSMV, ULSM; lavaan's ``robust.sem``): Var(θ̂) = E⁻¹ (Σ_g f_g Δ_gᵀ W_g Γ_g W_g Δ_g)
    E⁻¹ / (N − G).

Tests (lavaan's ``lav_test_satorra_bentler``, method "original")
  U = V − V Δ E⁻¹ Δᵀ V with V = ⊕_g f_g W_g and Γ̃ = ⊕_g Γ_g/f_g; tr₁ = tr(UΓ̃), tr₂ = tr((UΓ̃)²).
  * mean-adjusted (WLSM, ULSM; Satorra & Bentler 1994): T/c, c = tr₁/df;
  * mean- and variance-adjusted, scaled and shifted (WLSMV, ULSMV; Asparouhov & Muthén 2010):
    a = √(df/tr₂), T* = a·T + (df − a·tr₁) on df degrees of freedom (``chisq_scaled``; ``chisq_scaling_factor``
    = 1/a, ``chisq_shift_parameter`` = df − a·tr₁).

Fit measures (lavaan's ``fitMeasures`` for categorical data): the baseline is the independence model (thresholds
free, correlations 0) fitted by the same estimator with its own scaled test; CFI and TLI from (T, df) and the
baseline's, their ``*_scaled`` versions from the scaled statistics; RMSEA = √G·√(max(T − df, 0)/((N − G)·df)) with
the 90% interval of Steiger (1990), ``rmsea_scaled`` from T*; SRMR over the correlations (lavaan's
``srmr_bentler_nomean``, the correlation residuals below the diagonal, averaged over groups with weights f_g).
There is no likelihood, so ``loglik``, ``aic`` and ``bic`` are NaN. The *_robust CFI/RMSEA of lavaan
(Savalei 2021, ``lav_fit_catml_dwls``) are not computed.

References: Asparouhov & Muthén (2010) *Simple second order chi-square correction* (Mplus technical appendix);
Muthén (1984) *Psychometrika* 49; Muthén, du Toit & Spisic (1997) *Robust inference using weighted least
squares and quadratic estimating equations* (unpublished); Satorra & Bentler (1994) in von Eye & Clogg (eds.);
Steiger (1990) *Multivar. Behav. Res.* 25; Rosseel (2012) *J. Stat. Softw.* 48(2).

Example
-------
>>> import numpy as np, pandas as pd
>>> from allianceStats.sem.ordinal import prepare_ordinal
>>> rng = np.random.default_rng(4)
>>> f = rng.normal(size=500)
>>> data = pd.DataFrame({f"u{j}": np.digitize(0.8 * f + 0.6 * rng.normal(size=500), [-0.8, 0.2, 1.0])
...                      for j in range(1, 5)})
>>> problem = prepare_ordinal("F =~ u1 + u2 + u3 + u4", data, ordered=list(data), group=None, defaults="sem",
...                           parameterization="delta", estimator="DWLS")
>>> est = estimate_wls(problem)
>>> est.converged, round(float(est.theta[0]), 1)   # the loading of u2 relative to u1's
(True, 1.0)
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, cast

import numpy as np
import pandas as pd
from scipy import stats

from ..errors import IdentificationError
from .fit_measures import rmsea_ci
from .model import GroupModel
from .ordinal import GroupLayout, OrdinalProblem

ROBUST = {"WLSMV": ("DWLS", "scaled.shifted"), "WLSM": ("DWLS", "satorra.bentler"), "DWLS": ("DWLS", "standard"),
          "ULSMV": ("ULS", "scaled.shifted"), "ULSM": ("ULS", "satorra.bentler"), "ULS": ("ULS", "standard"),
          "WLS": ("WLS", "standard")}
"""User-facing estimator → (core estimator, test), as lavaan's options."""


# ----------------------------------------------------------------------------------------------------
# model-implied statistics and their derivatives


def group_moments(gm: GroupModel, layout: GroupLayout, theta: np.ndarray, parameterization: str,
                  *, jacobian: bool = True) -> tuple[np.ndarray, np.ndarray | None]:
    """σ_g(θ) = (standardised thresholds and −means, variances of continuous variables, correlations and
    covariances below the diagonal column by column) and ∂σ_g/∂θ (q × m)."""
    q = len(theta)
    slopes = d_slopes = None
    if len(layout.exo):
        mu, sigma, slopes, dmu, dsig, d_slopes = conditional_moments(gm, layout, theta, jacobian=jacobian)
    elif jacobian:
        mu, sigma, dmu, dsig = gm.jacobian(theta)
    else:
        mu, sigma = gm.implied(theta)
    p = len(mu)
    tau = np.where(layout.th_free > 0, theta[np.maximum(layout.th_free, 1) - 1], layout.th_value)
    diag = np.diag(sigma).copy()
    num = layout.numeric
    if parameterization == "delta":
        delta = np.where(layout.scale_free > 0, theta[np.maximum(layout.scale_free, 1) - 1], layout.scale_value)
    else:
        if np.any(diag <= 0):
            n_sl = 0 if slopes is None else slopes.size
            return np.full(len(tau) + n_sl + len(num) + p * (p - 1) // 2, np.nan), None
        delta = 1.0 / np.sqrt(diag)
        delta[num] = 1.0                    # continuous variables keep their scale
    it = layout.th_item
    centred = tau - mu[it]                  # a continuous variable's entry: 0 − μ_j
    il, jl = np.tril_indices(p, -1)
    order = np.lexsort((il, jl))            # column by column below the diagonal (lavaan's vech order)
    il, jl = il[order], jl[order]
    scaled_slopes = np.zeros(0) if slopes is None else (delta[:, None] * slopes).ravel(order="F")
    moments = np.r_[centred * delta[it], scaled_slopes, diag[num], delta[il] * delta[jl] * sigma[il, jl]]
    if not jacobian:
        return moments, None
    if parameterization == "delta":
        d_delta = np.zeros((q, p))
        fr = layout.scale_free > 0
        d_delta[layout.scale_free[fr] - 1, np.flatnonzero(fr)] = 1.0
    else:
        d_delta = -0.5 * diag[None, :] ** -1.5 * np.einsum("qjj->qj", dsig)
        d_delta[:, num] = 0.0
    d_tau = np.zeros((q, len(tau)))
    fr = layout.th_free > 0
    d_tau[layout.th_free[fr] - 1, np.flatnonzero(fr)] = 1.0
    d_th = delta[it][None, :] * (d_tau - dmu[:, it]) + centred[None, :] * d_delta[:, it]
    d_var = dsig[:, num, num]
    d_rho = (delta[il] * delta[jl])[None, :] * dsig[:, il, jl] + sigma[il, jl][None, :] * (
        d_delta[:, il] * delta[jl][None, :] + delta[il][None, :] * d_delta[:, jl])
    if slopes is None:
        return moments, np.hstack([d_th, d_var, d_rho])
    d_sl = delta[None, :, None] * d_slopes + slopes[None] * d_delta[:, :, None]      # (q, p, k)
    return moments, np.hstack([d_th, d_sl.transpose(0, 2, 1).reshape(q, -1), d_var, d_rho])


def conditional_moments(gm: GroupModel, layout: GroupLayout, theta: np.ndarray, *, jacobian: bool = True):
    """The reduced form given the covariates x (lavaan's ``conditional.x``): intercepts a = μ_y − Π μ_x, slopes
    Π = Σ_yx Σ_xx⁻¹ and residual covariances Σ_y|x = Σ_yy − Π Σ_xy of the joint model (x fixed at its sample
    moments, so a, Π and Σ_y|x do not depend on them: Π = Λ(I − B)⁻¹Γ), with their derivatives when
    ``jacobian``: (a, Σ_y|x, Π, da, dΣ_y|x, dΠ) with derivatives over θ first (None without ``jacobian``)."""
    y, x = layout.endo, layout.exo
    if jacobian:
        mu, sigma, dmu, dsig = gm.jacobian(theta)
    else:
        mu, sigma = gm.implied(theta)
    Sxx_inv = np.linalg.inv(sigma[np.ix_(x, x)])
    Pi = sigma[np.ix_(y, x)] @ Sxx_inv
    a = mu[y] - Pi @ mu[x]
    S = sigma[np.ix_(y, y)] - Pi @ sigma[np.ix_(x, y)]
    if not jacobian:
        return a, S, Pi, None, None, None
    dSyx = dsig[:, y][:, :, x]
    dPi = (dSyx - Pi[None] @ dsig[:, x][:, :, x]) @ Sxx_inv
    da = dmu[:, y] - dPi @ mu[x] - dmu[:, x] @ Pi.T
    dS = dsig[:, y][:, :, y] - dPi @ sigma[np.ix_(x, y)] - Pi[None] @ dsig[:, x][:, :, y]
    return a, S, Pi, da, dS, dPi


def _weighted(W: np.ndarray, x: np.ndarray) -> np.ndarray:
    """W x for a weight vector (diagonal) or matrix; x is a vector or a (m × k) matrix."""
    if W.ndim == 1:
        return W * x if x.ndim == 1 else W[:, None] * x
    return W @ x


def objective(problem: OrdinalProblem, theta: np.ndarray) -> float:
    """F(θ) = Σ_g (n_g − 1) r_gᵀ W_g r_g (module docstring); inf where the model is not defined."""
    total = 0.0
    for gm, lay, st, W in zip(problem.models, problem.layouts, problem.stats, problem.weights):
        sig, _ = group_moments(gm, lay, theta, problem.parameterization, jacobian=False)
        r = st.wls_obs - sig
        if not np.all(np.isfinite(r)):
            return np.inf
        total += (st.n - 1) * float(r @ _weighted(W, r))
    return total


# ----------------------------------------------------------------------------------------------------
# start values and Gauss-Newton


def start_values(problem: OrdinalProblem) -> np.ndarray:
    """Start values from the sample statistics (marker loadings ±1, loadings of unscaled factors 0.7, latent and
    residual variances 1, thresholds at the sample thresholds, scale factors 1, everything else 0)."""
    table = problem.table
    npar = problem.pt.npar
    theta = np.zeros(npar)
    counts = np.zeros(npar)
    observed = list(problem.variables)
    for g, st in enumerate(problem.stats, start=1):
        sub = table[table["group"] == g]
        R = st.cor
        markers: dict[str, int] = {}
        for lhs, op, rhs, free, value in zip(sub["lhs"], sub["op"], sub["rhs"], sub["free"], sub["value"]):
            if op == "=~" and rhs in observed and free == 0 and value != 0 and lhs not in markers:
                markers[lhs] = observed.index(rhs)
        th = np.concatenate(st.thresholds)
        th_pos = 0
        th_index = {}
        for j, item in enumerate(observed):
            for c in range(len(st.thresholds[j])):
                th_index[(item, f"t{c + 1}")] = th_pos
                th_pos += 1
        numeric = {v for v, b in zip(observed, st.numeric) if b}
        for lhs, op, rhs, free in zip(sub["lhs"], sub["op"], sub["rhs"], sub["free"]):
            if free == 0:
                continue
            k = free - 1
            if op == "=~":
                value = 0.7
                if lhs in markers and rhs in observed:
                    value = float(np.sign(R[observed.index(rhs), markers[lhs]]) or 1.0)
            elif op == "|":
                value = float(th[th_index[(lhs, rhs)]])
            elif lhs in numeric and op == "~1":    # continuous variables: mean and half the variance (lavaan)
                value = float(cast(np.ndarray, st.means)[observed.index(lhs)])
            elif lhs in numeric and op == "~~" and lhs == rhs:
                value = 0.5 * float(cast(np.ndarray, st.variances)[observed.index(lhs)])
            elif op in ("~*~",) or (op == "~~" and lhs == rhs):
                value = 1.0 if lhs not in markers else 0.5
            else:
                value = 0.0
            theta[k] += value
            counts[k] += 1
    return theta / np.maximum(counts, 1)


@dataclass
class WLSEstimation:
    """θ̂, convergence, the Jacobians Δ_g at θ̂ and the optimiser's record."""

    theta: np.ndarray
    converged: bool
    iterations: int
    message: str
    objective: float
    jacobians: list[np.ndarray] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


def _normal_equations(problem: OrdinalProblem, theta: np.ndarray) -> tuple[np.ndarray, np.ndarray, list[np.ndarray]]:
    q = len(theta)
    H = np.zeros((q, q))
    g = np.zeros(q)
    jacs = []
    for gm, lay, st, W in zip(problem.models, problem.layouts, problem.stats, problem.weights):
        sig, J = group_moments(gm, lay, theta, problem.parameterization)
        J = cast(np.ndarray, J)  # jacobian=True (the default) always returns it
        r = st.wls_obs - sig
        WJt = _weighted(W, J.T)
        H += (st.n - 1) * (J @ WJt)
        g += (st.n - 1) * (WJt.T @ r)
        jacs.append(J)
    return H, g, jacs


def estimate_wls(problem: OrdinalProblem, theta0: np.ndarray | None = None, *, max_iter: int = 500,
                 step_tol: float = 1e-10) -> WLSEstimation:
    """Minimise F(θ) by Gauss–Newton with step halving (module docstring)."""
    theta = start_values(problem) if theta0 is None else np.asarray(theta0, dtype=float).copy()
    f = objective(problem, theta)
    if not np.isfinite(f):
        raise IdentificationError("the start values give an undefined model (a non-positive latent-response "
                                  "variance); check the model's variances and scale factors.")
    message = "maximum number of iterations reached"
    converged = False
    it = 0
    while it < max_iter:
        it += 1
        H, g, _ = _normal_equations(problem, theta)
        try:
            step = np.linalg.solve(H, g)
        except np.linalg.LinAlgError:
            step = np.linalg.lstsq(H, g, rcond=None)[0]
        t = 1.0
        for _ in range(40):
            cand = theta + t * step
            f_new = objective(problem, cand)
            if np.isfinite(f_new) and f_new <= f * (1 + 1e-14) + 1e-300:
                break
            t *= 0.5
        else:
            message = "line search failed to decrease the WLS objective"
            break
        theta, f = cand, f_new
        if np.max(np.abs(t * step) / np.maximum(1.0, np.abs(theta))) < step_tol:
            converged = True
            message = "relative step below tolerance"
            break
    H, g, jacs = _normal_equations(problem, theta)
    # the gradient relative to the curvature (a scale-free Newton decrement) confirms the optimum
    try:
        decrement = float(g @ np.linalg.solve(H, g))
    except np.linalg.LinAlgError:
        decrement = np.inf
    converged = converged or (0 <= decrement < 1e-12)
    return WLSEstimation(theta=theta, converged=converged and 0 <= decrement < 1e-6, iterations=it,
                         message=message, objective=f, jacobians=jacs)


# ----------------------------------------------------------------------------------------------------
# standard errors and tests


def _fractions(problem: OrdinalProblem) -> np.ndarray:
    n = np.array(problem.n_obs_by_group, dtype=float)
    return n / n.sum()


def information(problem: OrdinalProblem, jacobians: list[np.ndarray]) -> np.ndarray:
    """E = Σ_g f_g Δ_gᵀ W_g Δ_g (lavaan's expected information of a WLS estimator)."""
    q = jacobians[0].shape[0]
    E = np.zeros((q, q))
    for fg, J, W in zip(_fractions(problem), jacobians, problem.weights):
        E += fg * (J @ _weighted(W, J.T))
    return E


def wls_vcov(problem: OrdinalProblem, jacobians: list[np.ndarray], *, robust: bool) -> np.ndarray | None:
    """Covariance matrix of θ̂ (module docstring); None when E is singular (the model is not identified)."""
    E = information(problem, jacobians)
    try:
        E_inv = np.linalg.inv(E)
    except np.linalg.LinAlgError:
        return None
    d = np.sqrt(np.abs(np.diag(E)))
    if np.any(d == 0) or np.linalg.eigvalsh(E / np.outer(d, d)).min() <= 1e-10:
        return None
    N = problem.n_obs - len(problem.stats)
    if not robust:
        return E_inv / N
    meat = np.zeros_like(E)
    for fg, J, W, st in zip(_fractions(problem), jacobians, problem.weights, problem.stats):
        WJt = _weighted(W, J.T)
        meat += fg * (WJt.T @ st.gamma @ WJt)
    return E_inv @ meat @ E_inv / N


def ugamma_traces(problem: OrdinalProblem, jacobians: list[np.ndarray]) -> tuple[float, float]:
    """tr(UΓ̃) and tr((UΓ̃)²) of the module docstring (lavaan's ``trace.UGamma``, ``trace.UGamma2``).

    V and Γ̃ are block diagonal (one block per group, V_gΓ̃_g = W_gΓ_g), so with B = VΔ and
    C = E⁻¹ΔᵀVΓ̃: UΓ̃ = VΓ̃ − BC, tr(UΓ̃) = Σ_g tr(W_gΓ_g) − tr(CB) and
    tr((UΓ̃)²) = Σ_g tr((W_gΓ_g)²) − 2 tr(C·VΓ̃·B) + tr((CB)²), computed group by group.
    """
    fg = _fractions(problem)
    E = information(problem, jacobians)
    E_inv = np.linalg.inv(E)
    q = E.shape[0]
    tr_a, tr_a2 = 0.0, 0.0
    CB = np.zeros((q, q))
    CAB = np.zeros((q, q))
    for f, J, W, st in zip(fg, jacobians, problem.weights, problem.stats):
        A = _weighted(W, st.gamma)              # V_g Γ̃_g = W_g Γ_g             (m × m)
        B = f * _weighted(W, J.T)               # V_g Δ_g                       (m × q)
        K = J @ A                               # Δ_gᵀ V_g Γ̃_g (C_g without E⁻¹)  (q × m)
        tr_a += float(np.trace(A))
        tr_a2 += float(np.sum(A * A.T))
        CB += K @ B
        CAB += K @ (A @ B)
    CB = E_inv @ CB
    CAB = E_inv @ CAB
    return tr_a - float(np.trace(CB)), tr_a2 - 2.0 * float(np.trace(CAB)) + float(np.sum(CB * CB.T))


@dataclass(frozen=True)
class WLSTest:
    """The standard statistic T on df and, for a robust estimator, its scaled version."""

    chisq: float
    df: float
    test: str
    chisq_scaled: float = np.nan
    df_scaled: float = np.nan
    scaling_factor: float = np.nan
    shift: float = np.nan
    trace_ugamma: float = np.nan
    trace_ugamma2: float = np.nan


def wls_test(problem: OrdinalProblem, chisq: float, df: float, jacobians: list[np.ndarray], test: str) -> WLSTest:
    """T and its mean-adjusted or scaled-and-shifted version (module docstring)."""
    if test == "standard" or df <= 0:
        return WLSTest(chisq, df, test, chisq_scaled=chisq if test != "standard" else np.nan,
                       df_scaled=df if test != "standard" else np.nan)
    tr1, tr2 = ugamma_traces(problem, jacobians)
    if test == "satorra.bentler":
        c = tr1 / df
        return WLSTest(chisq, df, test, chisq / c, df, c, np.nan, tr1, tr2)
    a = np.sqrt(df / tr2)
    shift = df - a * tr1
    return WLSTest(chisq, df, test, chisq * a + shift, df, 1.0 / a, shift, tr1, tr2)


def n_statistics(problem: OrdinalProblem) -> int:
    """Number of sample statistics over all groups (thresholds and correlations)."""
    return sum(len(st.wls_obs) for st in problem.stats)


def baseline_test(problem: OrdinalProblem, test: str) -> WLSTest:
    """The independence model (thresholds, means and variances free, correlations 0) by the same estimator and
    test."""
    chisq = 0.0
    jacobians = []
    npar = sum(st.n_univariate for st in problem.stats)
    offset = 0
    for st, W in zip(problem.stats, problem.weights):
        m, nth = len(st.wls_obs), st.n_univariate
        J = np.zeros((npar, m))
        J[offset:offset + nth, :nth] = np.eye(nth)
        offset += nth
        Wm = np.diag(W) if W.ndim == 1 else W
        # GLS fit of the thresholds (means, variances): τ̂ = (JWJᵀ)⁻¹ J W s (exact: the model is linear in τ)
        tau = np.linalg.solve(Wm[:nth, :nth], Wm[:nth, :] @ st.wls_obs)
        fitted = np.r_[tau, np.zeros(m - nth)]
        r = st.wls_obs - fitted
        chisq += (st.n - 1) * float(r @ Wm @ r)
        jacobians.append(J)
    df = float(n_statistics(problem) - npar)
    return wls_test(problem, chisq, df, jacobians, test)


def _cfi(x2: float, df: float, x2b: float, dfb: float) -> float:
    t1 = max(x2 - df, 0.0)
    t2 = max(x2 - df, x2b - dfb, 0.0)
    return 1.0 if np.isclose(t1, 0.0) and np.isclose(t2, 0.0) else 1.0 - t1 / t2


def _tli(x2: float, df: float, x2b: float, dfb: float) -> float:
    t1, t2 = (x2 - df) * dfb, (x2b - dfb) * df
    return 1.0 - t1 / t2 if df > 0 and abs(t2) > 0 else 1.0


def _rmsea(x2: float, df: float, N: int, G: int) -> float:
    return float(np.sqrt(max(x2 / N / df - 1.0 / N, 0.0)) * np.sqrt(G)) if df > 0 else 0.0


def srmr_correlations(problem: OrdinalProblem, theta: np.ndarray) -> float:
    """SRMR of the correlations (lavaan's ``srmr_bentler_nomean`` for categorical data), groups weighted by f_g;
    with continuous variables the covariance residuals are divided by the observed SDs; the variances' residuals
    are left out (the diagonal of a correlation residual), though the divisor still counts p diagonal elements,
    as lavaan. With covariates (conditional.x) the residual correlations given x, over
    p(p − 1)/2 + p + k elements (k covariates), as lavaan's ``lav_residuals_summary``."""
    value = 0.0
    for fg, gm, lay, st in zip(_fractions(problem), problem.models, problem.layouts, problem.stats):
        sig, _ = group_moments(gm, lay, theta, problem.parameterization, jacobian=False)
        p = len(problem.variables)
        nu = st.n_univariate
        resid = st.wls_obs[nu:] - sig[nu:]
        total = 0.0
        if st.n_numeric:   # covariances by the observed SDs (lavaan: no term for the variances)
            sd = np.sqrt(np.diag(st.cov))
            il, jl = np.tril_indices(p, -1)
            order = np.lexsort((il, jl))
            resid = resid / (sd[il[order]] * sd[jl[order]])
        total += float(np.sum(resid ** 2))
        # lavaan counts the covariates in the number of variables (object@pta$nvar), though they have no residuals
        p_all = p + len(lay.exo)
        value += fg * np.sqrt(total / (p * (p - 1) / 2 + p_all))
    return float(value)


def wls_fit_measures(problem: OrdinalProblem, theta: np.ndarray, est: WLSEstimation, test: str) -> dict[str, float]:
    """χ², df, the scaled test, baseline, CFI/TLI (and scaled), RMSEA (and scaled, with 90% intervals), SRMR.

    As lavaan (``lav_utils_get_ntotal``), the RMSEA of a least-squares estimator uses N − G.
    """
    G = len(problem.stats)
    N = problem.n_obs - G
    npar = problem.pt.npar
    df = float(n_statistics(problem) - npar)
    chisq = max(est.objective, 0.0)
    model = wls_test(problem, chisq, df, est.jacobians, test)
    base = baseline_test(problem, test)
    fit: dict[str, float] = {"npar": float(npar), "chisq": chisq, "df": df,
                             "pvalue": float(stats.chi2.sf(chisq, df)) if df > 0 else np.nan}
    if test != "standard":
        fit.update(chisq_scaled=model.chisq_scaled, df_scaled=model.df_scaled,
                   pvalue_scaled=float(stats.chi2.sf(model.chisq_scaled, model.df_scaled)) if df > 0 else np.nan,
                   chisq_scaling_factor=model.scaling_factor)
        if test == "scaled.shifted":
            fit["chisq_shift_parameter"] = model.shift
    fit.update(baseline_chisq=base.chisq, baseline_df=base.df,
               baseline_pvalue=float(stats.chi2.sf(base.chisq, base.df)) if base.df > 0 else np.nan)
    if test != "standard":
        fit.update(baseline_chisq_scaled=base.chisq_scaled, baseline_df_scaled=base.df_scaled,
                   baseline_chisq_scaling_factor=base.scaling_factor)
    fit["cfi"] = _cfi(chisq, df, base.chisq, base.df)
    fit["tli"] = _tli(chisq, df, base.chisq, base.df)
    if test != "standard":
        fit["cfi_scaled"] = _cfi(model.chisq_scaled, df, base.chisq_scaled, base.df)
        fit["tli_scaled"] = _tli(model.chisq_scaled, df, base.chisq_scaled, base.df)
    fit["rmsea"] = _rmsea(chisq, df, N, G)
    fit["rmsea_ci_lower"], fit["rmsea_ci_upper"] = rmsea_ci(chisq, df, N, G)
    fit["rmsea_pvalue"] = float(stats.ncx2.sf(chisq, df, 0.05 ** 2 * N * df / G)) if df > 0 else np.nan
    if test == "scaled.shifted":
        fit["rmsea_scaled"] = _rmsea(model.chisq_scaled, df, N, G)
        fit["rmsea_ci_lower_scaled"], fit["rmsea_ci_upper_scaled"] = rmsea_ci(model.chisq_scaled, df, N, G)
    elif test == "satorra.bentler":
        fit["rmsea_scaled"] = _rmsea(chisq, model.trace_ugamma, N, G) if df > 0 else 0.0
        fit["rmsea_ci_lower_scaled"], fit["rmsea_ci_upper_scaled"] = rmsea_ci(chisq, model.trace_ugamma, N, G)
    fit["srmr"] = srmr_correlations(problem, theta)
    fit.update(loglik=np.nan, unrestricted_loglik=np.nan, aic=np.nan, bic=np.nan, ntotal=float(problem.n_obs))
    return fit


def completed_table(problem: OrdinalProblem, theta: np.ndarray) -> pd.DataFrame:
    """The parameter table with the residual variances of ordered items filled in under the delta
    parameterization (1/δ_j² minus the variance the model explains; lavaan's ``setResidualElements``)."""
    table = problem.table.copy()
    for gm, lay in zip(problem.models, problem.layouts):
        if len(lay.exo):   # the residual variances given the covariates
            sigma = conditional_moments(gm, lay, theta, jacobian=False)[1]
        else:
            _, sigma = gm.implied(theta)
        ordinal = lay.ordinal if len(lay.ordinal) or len(lay.numeric) else np.arange(gm.p)
        if problem.parameterization == "theta":
            table.loc[lay.scale_rows, "value"] = 1.0 / np.sqrt(np.diag(sigma)[ordinal])
            continue
        delta = np.where(lay.scale_free > 0, theta[np.maximum(lay.scale_free, 1) - 1], lay.scale_value)[ordinal]
        placeholder = table.loc[lay.residual_rows, "value"].to_numpy(dtype=float)
        explained = np.diag(sigma)[ordinal] - placeholder
        table.loc[lay.residual_rows, "value"] = 1.0 / delta ** 2 - explained
    return table


# ----------------------------------------------------------------------------------------------------
# nested models


def _orthogonal_complement(H: np.ndarray) -> np.ndarray:
    """Columns spanning the orthogonal complement of the column space of H (lavaan's QR-based version)."""
    Q, R = np.linalg.qr(H, mode="complete")
    diag = np.abs(np.diag(R)) if R.size else np.zeros(0)
    rank = int(np.sum(diag > 1e-7 * max(diag.max(initial=0.0), 1.0)))
    return Q[:, rank:]


def satorra_2000(m1: Any, m0: Any, chisq_diff: float, df_diff: float, *, scaled_shifted: bool) -> tuple[float, float]:
    """Satorra's (2000) scaled difference test of nested least-squares fits, as lavaan's ``lavTestLRT``
    (``method = "satorra.2000"``, ``A.method = "delta"``, reference model H1 = the less restricted fit ``m1``).

    With Δ_1, Δ_0 the Jacobians of the model statistics at each fit's estimates (stacked over groups), the
    restrictions are A = the orthogonal complement of Δ_1⁺Δ_0 (transposed); P the information E of m1;
    M = P⁻¹Aᵀ(AP⁻¹Aᵀ)⁺AP⁻¹. Then tr₁ = Σ_g f_g tr(W_gΓ_gW_gΔ_gMΔ_gᵀ) and tr₂ = tr((VΔMΔᵀV·⊕f_gΓ_g)²) with
    V = ⊕W_g. Scaled and shifted (WLSMV, ULSMV): a = √(m/tr₂), T = a·ΔT + m − a·tr₁ on m df; mean-adjusted
    (WLSM, ULSM): T = ΔT/(tr₁/m). ``m1``, ``m0`` are :class:`~allianceStats.sem.result.WLSState`; returns (T, df).
    """
    p1 = m1.problem
    fg = _fractions(p1)
    D1 = np.hstack(m1.jacobians).T          # (M × q1)
    D0 = np.hstack(m0.jacobians).T          # (M × q0)
    Q1, R1 = np.linalg.qr(D1)               # D1⁺D0 by QR (D1 has full column rank in an identified model)
    try:
        H = np.linalg.solve(R1, Q1.T @ D0)
    except np.linalg.LinAlgError:
        H = np.linalg.pinv(D1) @ D0
    A = _orthogonal_complement(H).T
    P = information(p1, list(m1.jacobians))
    P_inv = np.linalg.inv(P)
    APA = A @ P_inv @ A.T
    keep = ~((np.abs(APA.sum(axis=0)) < np.sqrt(np.finfo(float).eps)) &
             (np.abs(APA.sum(axis=1)) < np.sqrt(np.finfo(float).eps)))
    A = A[keep]
    M = P_inv @ A.T @ np.linalg.pinv(A @ P_inv @ A.T) @ A @ P_inv
    tr1 = 0.0
    blocks_V, blocks_G = [], []
    for f, J, W, st in zip(fg, m1.jacobians, p1.weights, p1.stats):
        Wm = np.diag(W) if W.ndim == 1 else W
        tr1 += f * float(np.trace(Wm @ st.gamma @ Wm @ J.T @ M @ J))
        blocks_V.append(Wm)
        blocks_G.append(f * st.gamma)
    m = float(df_diff)
    if not scaled_shifted:
        return chisq_diff / (tr1 / m), m
    from scipy.linalg import block_diag
    V, G = block_diag(*blocks_V), block_diag(*blocks_G)
    VD = V @ D1
    UG = VD @ M @ VD.T @ G
    tr2 = float(np.sum(UG * UG.T))
    if not (np.isfinite(tr2) and tr2 > 0):
        return np.nan, m
    a = np.sqrt(m / tr2)
    return chisq_diff * a + (m - a * tr1), m
