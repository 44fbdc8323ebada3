r"""Outer optimisation of the GLMM objective and the checks of its optimum.

Steps (as lme4's ``glmer``: Bates et al. 2015, *J. Stat. Softw.* 67(1), section 5; ``optimizeGlmer``,
``checkConv``):

1. L-BFGS-B (Byrd et al. 1995) with an analytic gradient where the caller has one, else BOBYQA (Powell 2009,
   Cambridge report DAMTP 2009/NA06; through nlopt, as lme4's ``nloptwrap``), on the parameters in *scaled*
   coordinates x = x₀ + D z, D_j the curvature scale of coordinate j (≈ its standard error), so that one
   trust-region radius suits every parameter. Bounds: θ diagonal ≥ 0 (lme4's bounds). Coordinates that end
   at a bound are probed inwards and the optimiser restarted from any better point (lme4's restart_edge).
2. Derivatives at the solution, over the coordinates not held at a bound: with an analytic gradient, the
   Hessian H is the central difference of gradients (step 0.002 standard errors); without, g and H are central
   differences of the deviance with Richardson extrapolation over two steps (0.02 and 0.01 standard errors;
   numDeriv's scheme, as lme4's ``deriv12`` but extrapolated).
3. Newton polish: while a Newton step would lower the deviance by more than 1e-10 (the decrement ½gᵀH⁻¹g),
   take it (halving if needed) and recompute the gradient (the Hessian is kept unless a bound becomes active).
4. Checks, as lme4's ``checkConv``: the scaled gradient max |(chol H)⁻¹ g| ∧ |g| below 0.002; H positive
   definite; its smallest/largest eigenvalue ratio above 1e-6 ("nearly unidentifiable" otherwise); θ diagonal
   elements below 1e-4 flag a singular (boundary) fit. The verdict ``converged`` is the check of the optimum,
   not the optimiser's flag.

The inverse of H (deviance scale) times 2 is the asymptotic covariance of all parameters: its β block is
lme4's ``vcov(glmerMod)`` (``use.hessian = TRUE``) and glmmTMB's ``vcov()`` (the β block of the inverse is
the same under any reparameterisation of θ at the optimum).

Example
-------
>>> import numpy as np
>>> f = lambda x: (x[0] - 1) ** 2 + 3 * (x[1] + 2) ** 2 + 0.5 * x[0] * x[1]
>>> run = minimise(f, np.zeros(2), np.full(2, -np.inf), np.full(2, np.inf), np.ones(2))
>>> np.round(run.x, 4).tolist(), run.converged
([1.5319, -2.1277], True)
"""
from __future__ import annotations

from dataclasses import dataclass, field

import nlopt
import numpy as np

GRAD_TOL = 0.002          # lme4's check.conv.grad tolerance
DECREASE_TOL = 1e-10      # Newton decrement at which the optimum is taken as found
SINGULAR_TOL = 1e-4       # lme4's isSingular tolerance on θ diagonal elements
EIGEN_RATIO_TOL = 1e-6    # lme4's check.conv.hess "nearly unidentifiable" tolerance


@dataclass
class OptimiserRun:
    """Result of :func:`minimise`: the optimum, its derivatives and the checks (module docstring)."""

    x: np.ndarray
    f: float
    grad: np.ndarray            # full length; 0 at coordinates held at a bound
    hessian: np.ndarray         # over the free coordinates (deviance scale, original coordinates)
    free: np.ndarray            # bool mask of coordinates not at a bound
    evaluations: int
    optimizer: str
    message: str
    decrease: float
    scaled_gradient: float
    min_eigen: float
    eigen_ratio: float
    converged: bool
    warnings: list[str] = field(default_factory=list)


def bobyqa(fun, x0, lower, upper, scale, *, xtol=1e-8, ftol=1e-11, maxeval=50000):
    """BOBYQA in scaled coordinates; returns (x, f, evaluations, ok, message)."""
    x0 = np.asarray(x0, dtype=float)
    n = len(x0)
    lo = np.where(np.isfinite(lower), (lower - x0) / scale, -np.inf)
    up = np.where(np.isfinite(upper), (upper - x0) / scale, np.inf)
    count = [0]

    def g(z):
        count[0] += 1
        return fun(x0 + scale * z)

    if n == 1:
        from scipy.optimize import minimize_scalar

        a = lo[0] if np.isfinite(lo[0]) else -50.0
        b = up[0] if np.isfinite(up[0]) else 50.0
        r = minimize_scalar(lambda t: g(np.array([t])), bounds=(a, b), method="bounded",
                            options={"xatol": xtol, "maxiter": 2000})
        z = np.array([r.x])
        if np.isfinite(lo[0]) and g(lo[:1]) <= r.fun:
            z = lo[:1].copy()
        return x0 + scale * z, float(g(z)), count[0], bool(r.success), "bounded Brent (scipy)"
    opt = nlopt.opt(nlopt.LN_BOBYQA, n)
    opt.set_lower_bounds(lo.tolist())
    opt.set_upper_bounds(up.tolist())
    opt.set_min_objective(lambda z, grad: float(g(np.asarray(z))))
    opt.set_xtol_abs(xtol)
    opt.set_ftol_abs(ftol)
    opt.set_maxeval(maxeval)
    opt.set_initial_step(np.clip(0.5 * (up - lo), 1e-6, 1.0).tolist())
    z0 = np.zeros(n)
    try:
        z = opt.optimize(z0)
        code = opt.last_optimize_result()
        ok = code in (nlopt.SUCCESS, nlopt.FTOL_REACHED, nlopt.XTOL_REACHED)
        msg = {nlopt.SUCCESS: "success", nlopt.FTOL_REACHED: "ftol reached", nlopt.XTOL_REACHED: "xtol reached",
               nlopt.MAXEVAL_REACHED: "maximum number of evaluations reached"}.get(code, f"nlopt code {code}")
    except (nlopt.RoundoffLimited, RuntimeError, ValueError) as exc:
        z, ok, msg = np.zeros(n), False, f"nlopt stopped: {exc}"
    z = np.asarray(z)
    return x0 + scale * z, float(g(z)), count[0], ok, f"BOBYQA (nlopt): {msg}"


def derivatives(fun, x, free, scale, f0=None, h=0.02):
    """Gradient (free coordinates) and Hessian of ``fun`` at ``x`` by Richardson-extrapolated central
    differences with steps h·scale and h/2·scale. Returns (g, H, evaluations)."""
    idx = np.flatnonzero(free)
    k = len(idx)
    f0 = fun(x) if f0 is None else f0
    nev = 0

    def at(steps):
        nonlocal nev
        y = x.copy()
        for j, s in steps:
            y[j] += s
        nev += 1
        return fun(y)

    def one(hh):
        g = np.empty(k)
        H = np.empty((k, k))
        d = hh * scale[idx]
        fp = np.array([at([(idx[a], d[a])]) for a in range(k)])
        fm = np.array([at([(idx[a], -d[a])]) for a in range(k)])
        g[:] = (fp - fm) / (2 * d)
        H[np.arange(k), np.arange(k)] = (fp - 2 * f0 + fm) / d ** 2
        for a in range(k):
            for b in range(a):
                ia, ib = idx[a], idx[b]
                v = (at([(ia, d[a]), (ib, d[b])]) - at([(ia, d[a]), (ib, -d[b])])
                     - at([(ia, -d[a]), (ib, d[b])]) + at([(ia, -d[a]), (ib, -d[b])])) / (4 * d[a] * d[b])
                H[a, b] = H[b, a] = v
        return g, H

    g1, H1 = one(h)
    g2, H2 = one(h / 2)
    return (4 * g2 - g1) / 3, (4 * H2 - H1) / 3, nev


def curvature_scale(fun, x, lower, f0=None, h0=None):
    """Approximate standard-error scale of each coordinate, 1/sqrt(f''/2), from one second difference each."""
    h0 = np.maximum(1e-3, 1e-2 * np.abs(x)) if h0 is None else h0
    f0 = fun(x) if f0 is None else f0
    out = np.empty(len(x))
    nev = 0
    for j in range(len(x)):
        e = np.zeros(len(x))
        e[j] = h0[j]
        fp, fm = fun(x + e), fun(x - e)
        nev += 2
        c = (fp - 2 * f0 + fm) / h0[j] ** 2
        out[j] = 1.0 / np.sqrt(c / 2) if np.isfinite(c) and c > 1e-8 else max(1.0, abs(x[j]))
    return np.clip(out, 1e-6, 1e3), nev


def _free(x, lower, upper):
    # an upper bound (the NB2 log θ) is reached from inside through scaled coordinates: allow for their rounding
    finite = np.isfinite(upper)
    at_upper = np.zeros(len(x), dtype=bool)
    at_upper[finite] = x[finite] >= upper[finite] - 1e-8 * np.maximum(1.0, np.abs(upper[finite]))
    return ~((np.isfinite(lower) & (x <= lower + 1e-10)) | at_upper)


def lbfgsb(fun_grad, x0, lower, upper, scale, *, maxiter=2000):
    """L-BFGS-B (Byrd, Lu, Nocedal & Zhu 1995; scipy) in scaled coordinates; returns (x, f, evaluations, ok, msg)."""
    from scipy.optimize import minimize

    x0 = np.asarray(x0, dtype=float)
    count = [0]

    def fg(z):
        count[0] += 1
        out = fun_grad(x0 + scale * z)
        if out is None or not np.isfinite(out[0]):
            return np.inf, np.zeros(len(z))
        return out[0], out[1] * scale

    bounds = [(None if not np.isfinite(lo) else (lo - a) / s_, None if not np.isfinite(up) else (up - a) / s_)
              for lo, up, a, s_ in zip(lower, upper, x0, scale)]
    r = minimize(fg, np.zeros(len(x0)), jac=True, method="L-BFGS-B", bounds=bounds,
                 options={"maxiter": maxiter, "ftol": 1e-15, "gtol": 1e-10, "maxcor": 20})
    x = x0 + scale * r.x
    return x, float(r.fun), count[0], bool(r.success), f"L-BFGS-B (scipy): {r.message}"


def gradient_hessian(fun_grad, x, free, scale, h=2e-3):
    """Hessian over the free coordinates from central differences of the gradient (steps h·scale: truncation
    error ~h²/6 relative, well below the 1e-4 the SEs need), symmetrised. Returns (g, H, evaluations) or None
    if a gradient fails."""
    idx = np.flatnonzero(free)
    base = fun_grad(x)
    if base is None:
        return None
    k = len(idx)
    H = np.empty((k, k))
    for a, j in enumerate(idx):
        d = h * scale[j]
        y = x.copy()
        y[j] += d
        gp = fun_grad(y)
        y[j] -= 2 * d
        gm = fun_grad(y)
        if gp is None or gm is None:
            return None
        H[:, a] = (gp[1][idx] - gm[1][idx]) / (2 * d)
    return base[1][idx], 0.5 * (H + H.T), 2 * k + 1


def _probe_bounds(fun, x, f, lower, steps=(0.05, 0.25, 1.0)):
    """The best point found by moving each coordinate that sits at its (finite) lower bound inwards by one of
    ``steps``; (None, f, evaluations) when none is better than ``f`` by more than 1e-8."""
    best, best_f, nev = None, f - 1e-8, 0
    for j in np.flatnonzero(np.isfinite(lower) & (x <= lower + 1e-8)):
        for d in steps:
            y = x.copy()
            y[j] = lower[j] + d
            fy = fun(y)
            nev += 1
            if fy < best_f:
                best, best_f = y, fy
    return best, best_f, nev


def _gradient(fun, fun_grad, x, free, scale, f0):
    """Gradient over the free coordinates: analytic when available, else Richardson central differences."""
    idx = np.flatnonzero(free)
    if fun_grad is not None:
        out = fun_grad(x)
        if out is not None:
            return out[1][idx], 1
    nev, levels = 0, []
    for hh in (0.02, 0.01):
        g = np.empty(len(idx))
        for a, j in enumerate(idx):
            d = hh * scale[j]
            y = x.copy()
            y[j] += d
            fp = fun(y)
            y[j] -= 2 * d
            g[a] = (fp - fun(y)) / (2 * d)
            nev += 2
        levels.append(g)
    return (4 * levels[1] - levels[0]) / 3, nev


def minimise(fun, x0, lower, upper, scale, *, fun_grad=None, max_polish: int = 5,
             decrease_tol: float = DECREASE_TOL) -> OptimiserRun:
    """Steps 1–4 of the module docstring; ``scale`` is the coordinate scale D (≈ standard errors).

    With ``fun_grad`` (returning (f, g) or None) the first step is L-BFGS-B and the Hessian comes from
    differences of gradients; without, BOBYQA and differences of ``fun``."""
    def optimise(start):
        if fun_grad is not None:
            out = lbfgsb(fun_grad, start, lower, upper, scale)
            if np.isfinite(out[1]):
                return out
        return bobyqa(fun, start, lower, upper, scale, xtol=1e-6, ftol=1e-10)

    x, f, nev, _, msg = optimise(x0)
    # A θ diagonal element at 0 is a stationary point (the deviance depends on the sign of Λ's column only
    # through ΛΛᵀ), so a gradient method that reaches the bound cannot leave it even when the optimum is
    # inside; probe inwards and restart from a better point (lme4's restart_edge does the same).
    for _ in range(3):
        start, f_probe, n_probe = _probe_bounds(fun, x, f, lower)
        nev += n_probe
        if start is None:
            break
        x1, f1, n1, _, msg1 = optimise(start)
        nev += n1
        if not f1 < f:
            break
        x, f, msg = x1, f1, msg1
    warn: list[str] = []

    def derivs(x, f, free):
        if fun_grad is not None:
            out = gradient_hessian(fun_grad, x, free, scale)
            if out is not None:
                return out
        return derivatives(fun, x, free, scale, f0=f)

    free = _free(x, lower, upper)
    g, H, n2 = derivs(x, f, free)
    nev += n2
    decrease = np.inf
    # Newton polish with the Hessian found once: each step needs only a new gradient
    for _ in range(max_polish + 1):
        try:
            step = np.linalg.solve(H, g)
            decrease = 0.5 * float(g @ step)
        except np.linalg.LinAlgError:
            step, decrease = None, np.inf
        if step is None or not np.isfinite(decrease) or decrease <= decrease_tol or decrease < 0:
            break
        idx = np.flatnonzero(free)
        t, improved = 1.0, False
        for _half in range(8):
            y = x.copy()
            y[idx] = np.clip(x[idx] - t * step, lower[idx], upper[idx])
            fy = fun(y)
            nev += 1
            if fy < f:
                x, f, improved = y, fy, True
                break
            t /= 2
        if not improved:
            break
        if not np.array_equal(_free(x, lower, upper), free):
            free = _free(x, lower, upper)
            g, H, n2 = derivs(x, f, free)
        else:
            g, n2 = _gradient(fun, fun_grad, x, free, scale, f)
        nev += n2
    grad = np.zeros(len(x))
    grad[free] = g
    eig = np.linalg.eigvalsh(H) if H.size else np.array([1.0])
    min_eig = float(eig.min())
    ratio = float(eig.min() / eig.max()) if eig.max() > 0 else 0.0
    scgrad = np.inf
    if min_eig > 0:
        R = np.linalg.cholesky(H).T
        scgrad = float(np.max(np.minimum(np.abs(np.linalg.solve(R.T, g)), np.abs(g)), initial=0.0))
    converged = bool(np.isfinite(f) and scgrad < GRAD_TOL and min_eig > 0 and decrease <= 1e-6)
    if not np.isfinite(f):
        warn.append("the objective is not finite at the solution")
    elif min_eig <= 0:
        warn.append(f"the Hessian of the deviance is not positive definite at the solution (smallest eigenvalue "
                    f"{min_eig:.3g}): the model is not identified or the optimiser stopped at a saddle; "
                    "simplify the random part or rescale covariates")
    elif scgrad >= GRAD_TOL:
        warn.append(f"the optimiser did not converge: max |scaled gradient| {scgrad:.3g} >= {GRAD_TOL} "
                    "(lme4's checkConv); rescale covariates or simplify the model")
    elif decrease > 1e-6:
        warn.append(f"a Newton step would still lower the deviance by {decrease:.2g}; the optimum may be "
                    "imprecise")
    if min_eig > 0 and ratio < EIGEN_RATIO_TOL:
        warn.append(f"the model is nearly unidentifiable: the Hessian's eigenvalue ratio is {ratio:.2g} (< "
                    f"{EIGEN_RATIO_TOL}); rescale covariates (centre and standardise) or remove redundant terms")
    return OptimiserRun(x=x, f=float(f), grad=grad, hessian=H, free=free, evaluations=nev,
                        optimizer=msg.split(":")[0] + " + Newton polish", message=msg, decrease=float(decrease),
                        scaled_gradient=float(scgrad), min_eigen=min_eig, eigen_ratio=ratio,
                        converged=converged, warnings=warn)
