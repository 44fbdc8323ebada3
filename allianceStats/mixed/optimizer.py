r"""Bounded minimisation of a profiled deviance, and the check that the point found is a minimum.

Two optimisers, each returning an :class:`OptimizerRun`:

* :func:`lbfgsb` — scipy's bounded quasi-Newton L-BFGS-B with an analytic gradient (Byrd, Lu, Nocedal &
  Zhu 1995, *SIAM J. Sci. Comput.* 16(5));
* :func:`bobyqa` — Powell's (2009) bounded derivative-free BOBYQA through nlopt, the optimiser lme4 uses
  through nloptr (a bounded Brent search for a single parameter, which BOBYQA does not accept).

An optimiser's own flag says why it stopped, not whether it stopped at a minimum (L-BFGS-B, for one,
reports an "abnormal" line search when it cannot improve an already optimal point). :func:`check_optimum`
therefore judges the point itself: with a numerical gradient g and Hessian H over the coordinates not held
at their bounds, a Newton step would lower the criterion by ½ gᵀH⁻¹g — in deviance units, so scale free
(a raw gradient grows with n). A coordinate at its lower bound whose one-sided slope is non-negative is a
boundary optimum and held fixed; one whose slope is below ``-GRADIENT_TOL`` wants to leave the bound, and
the check fails. lme4's ``checkConv`` tests a similar scaled gradient (Bates et al. 2015, *J. Stat. Softw.*
67(1), sec. 5.2). :func:`probe_boundary` looks inwards from parameters at a bound, where a gradient method
cannot see a better point (lme4's ``restart_edge``).

Examples
--------
>>> import numpy as np
>>> from allianceStats.mixed.optimizer import bobyqa, check_optimum
>>> def f(x):
...     return (x[0] - 1.0) ** 2 + (x[1] + 2.0) ** 2 + x[0] * x[1] / 4
>>> lower, upper = np.array([0.0, -np.inf]), np.array([np.inf, np.inf])
>>> run = check_optimum(f, bobyqa(f, np.array([0.5, 0.0]), lower, upper), lower, upper)
>>> run.optimizer, run.converged, np.round(run.x, 4).tolist()
('BOBYQA (nlopt)', True, [1.2698, -2.1587])
"""
from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import nlopt
import numpy as np

GRADIENT_TOL = 1e-3      # a parameter at its lower bound whose slope is below −GRADIENT_TOL is not at an optimum
DECREASE_TOL = 1e-6      # a point passes when a Newton step would lower the deviance by less than this

Objective = Callable[[np.ndarray], float]

__all__ = ["OptimizerRun", "OptimumCheck", "bobyqa", "lbfgsb", "check_optimum", "probe_boundary",
           "GRADIENT_TOL", "DECREASE_TOL"]


@dataclass(frozen=True, eq=False)
class OptimumCheck:
    """The check of a candidate optimum (see the module docstring).

    ``x``, ``deviance``: the point after up to a few Newton polishing steps (never worse than the point
    checked); ``decrease``: ½ gᵀH⁻¹g at that point (``inf`` when H is not positive definite);
    ``max_gradient``: max |g| (one-sided at bounds, counting only slopes pointing inwards);
    ``bounds_ok``: no parameter at a lower bound wants to move inwards; ``evaluations``: criterion calls.
    """

    x: np.ndarray
    deviance: float
    decrease: float
    max_gradient: float
    bounds_ok: bool
    evaluations: int

    @property
    def passed(self) -> bool:
        """A minimum: bounds respected and a Newton step would gain less than :data:`DECREASE_TOL`."""
        return bool(self.bounds_ok and self.decrease <= DECREASE_TOL and np.isfinite(self.deviance))


@dataclass(frozen=True, eq=False)
class OptimizerRun:
    """One optimiser run: where it stopped, its criterion there, what it reported, and (once checked) the
    :class:`OptimumCheck` of that point.

    ``evaluations`` counts every criterion call of the run (the check's, and those of earlier runs it
    replaced, included); ``ok`` and ``message`` are the optimiser's own flag and reason (not the verdict:
    that is :attr:`converged`); ``restarts`` counts the runs started again from an earlier run's point.
    """

    x: np.ndarray
    deviance: float
    evaluations: int
    optimizer: str
    ok: bool
    message: str
    check: OptimumCheck | None = None
    restarts: int = 0

    @property
    def converged(self) -> bool:
        """The verdict on the point: checked, and the check passed."""
        return self.check is not None and self.check.passed

    @property
    def decrease(self) -> float:
        return np.inf if self.check is None else self.check.decrease

    @property
    def max_gradient(self) -> float:
        return np.inf if self.check is None else self.check.max_gradient

    def describe(self) -> str:
        """The optimiser's message with the check's numbers, for ``Convergence.message``."""
        return (f"{self.message}; Newton decrease {self.decrease:.2g}; max |gradient| {self.max_gradient:.2g}; "
                f"restarts {self.restarts}")


# ---------------------------------------------------------------------------------------------- optimisers
def bobyqa(fun: Objective, x0, lower, upper, xtol: float = 1e-10, ftol: float = 1e-12, maxeval: int = 20000,
           step=None) -> OptimizerRun:
    """Minimise ``fun`` within ``[lower, upper]`` by BOBYQA (nlopt); one parameter: bounded Brent (scipy).

    Parameters
    ----------
    fun : callable
        The criterion of a parameter vector.
    x0, lower, upper : numpy.ndarray
        Start and bounds (``±inf`` for none).
    xtol, ftol, maxeval, step
        nlopt's absolute tolerances on x and on the criterion, evaluation limit and initial step.

    Returns
    -------
    OptimizerRun
        Not yet checked (see :func:`check_optimum`).

    Examples
    --------
    >>> run = bobyqa(lambda x: float((x[0] - 2) ** 2), np.array([0.0]), np.array([0.0]), np.array([np.inf]))
    >>> round(float(run.x[0]), 6), run.optimizer
    (2.0, 'bounded Brent (scipy minimize_scalar)')
    """
    n = len(x0)
    count = [0]

    def obj(x, grad):
        count[0] += 1
        return float(fun(np.asarray(x)))

    if n == 1:
        # BOBYQA needs at least two variables; a bounded scalar search is exact enough here
        from scipy.optimize import minimize_scalar

        lo = lower[0] if np.isfinite(lower[0]) else -1e3
        hi = upper[0] if np.isfinite(upper[0]) else 1e3
        hi = min(hi, max(10.0, 10 * abs(x0[0]) + 10))
        r = minimize_scalar(lambda t: fun(np.array([t])), bounds=(lo, hi), method="bounded",
                            options={"xatol": xtol, "maxiter": 2000})
        x, f = np.array([r.x]), float(r.fun)
        if lo == 0 and fun(np.array([0.0])) <= f:
            x, f = np.array([0.0]), float(fun(np.array([0.0])))
        return OptimizerRun(x, f, int(r.nfev), "bounded Brent (scipy minimize_scalar)", bool(r.success),
                            str(r.message))
    opt = nlopt.opt(nlopt.LN_BOBYQA, n)
    opt.set_lower_bounds([float(v) if np.isfinite(v) else -np.inf for v in lower])
    opt.set_upper_bounds([float(v) if np.isfinite(v) else np.inf for v in upper])
    opt.set_min_objective(obj)
    opt.set_xtol_abs(xtol)
    opt.set_ftol_abs(ftol)
    opt.set_maxeval(maxeval)
    if step is not None:
        opt.set_initial_step(step)
    try:
        x = opt.optimize(np.asarray(x0, dtype=float))
        code = opt.last_optimize_result()
        ok = code in (nlopt.SUCCESS, nlopt.FTOL_REACHED, nlopt.XTOL_REACHED, nlopt.STOPVAL_REACHED)
        msg = {nlopt.SUCCESS: "success", nlopt.FTOL_REACHED: "ftol reached", nlopt.XTOL_REACHED: "xtol reached",
               nlopt.MAXEVAL_REACHED: "maximum number of evaluations reached"}.get(code, f"nlopt code {code}")
    except (nlopt.RoundoffLimited, RuntimeError) as exc:
        x, ok, msg = np.asarray(x0, dtype=float), False, f"nlopt stopped: {exc}"
    x = np.asarray(x)
    return OptimizerRun(x, float(fun(x)), count[0], "BOBYQA (nlopt)", ok, msg)


def lbfgsb(fun_grad: Callable[[np.ndarray], tuple[float, np.ndarray]], x0, lower, upper) -> OptimizerRun:
    """Minimise by bounded quasi-Newton (scipy L-BFGS-B); ``fun_grad`` returns the criterion and its gradient.

    A point where the criterion cannot be evaluated (``LinAlgError``) counts as +inf.

    Parameters
    ----------
    fun_grad : callable
        The criterion and its gradient at a parameter vector.
    x0, lower, upper : numpy.ndarray
        Start and bounds (``±inf`` for none).

    Returns
    -------
    OptimizerRun
        Not yet checked (see :func:`check_optimum`).

    Examples
    --------
    >>> run = lbfgsb(lambda x: (float(x @ x), 2 * x), np.array([1.0, -1.0]), np.zeros(2) - 5, np.zeros(2) + 5)
    >>> np.allclose(run.x, 0.0), run.ok
    (True, True)
    """
    from scipy.optimize import minimize

    count = [0]

    def fg(x):
        count[0] += 1
        try:
            return fun_grad(x)
        except np.linalg.LinAlgError:
            return np.inf, np.zeros_like(x)

    bounds = [(lo if np.isfinite(lo) else None, hi if np.isfinite(hi) else None) for lo, hi in zip(lower, upper)]
    r = minimize(fg, np.asarray(x0, dtype=float), jac=True, method="L-BFGS-B", bounds=bounds,
                 options={"ftol": 1e-15, "gtol": 1e-7, "maxiter": 2000, "maxcor": 20})
    return OptimizerRun(np.asarray(r.x), float(r.fun), count[0], "L-BFGS-B (scipy, analytic gradient)",
                        bool(r.success), str(r.message))


# ---------------------------------------------------------------------------------------------- checks
def probe_boundary(fun: Objective, x: np.ndarray, f: float, lower: np.ndarray,
                   column_below: Mapping[int, np.ndarray],
                   steps=(1e-3, 1e-2, 0.1, 0.5)) -> tuple[np.ndarray | None, float, int]:
    """For each parameter at (or within 1e-4 of) its lower bound, try moving it inwards by ``steps``.

    ``column_below[i]`` lists the θ indices below diagonal element i in its column of Λ. The sign of a
    column of Λ is arbitrary (ΛΛᵀ is unchanged), but once its diagonal sits at 0 the sign of the elements
    below decides whether moving the diagonal inwards helps, so both signs are tried.
    Parameters
    ----------
    fun : callable
        The criterion.
    x, f : numpy.ndarray, float
        The candidate and its criterion.
    lower : numpy.ndarray
        Lower bounds (only finite ones are probed).
    column_below : mapping of int to numpy.ndarray
        See above (:meth:`allianceStats.mixed.engine.ThetaLayout.column_below`).
    steps : tuple of float
        Distances from the bound to try.

    Returns
    -------
    start : numpy.ndarray or None
        The best point found, if at least 1e-9 better than ``f`` (the boundary solution is then not a
        minimum); else None.
    deviance : float
    evaluations : int

    Examples
    --------
    >>> start, f_start, _ = probe_boundary(lambda x: float((x[0] - 1) ** 2), np.array([0.0]), 1.0,
    ...                                    np.array([0.0]), {})
    >>> start.tolist(), f_start
    ([0.5], 0.25)
    """
    best, f_best, nev = None, f - 1e-9, 0
    for i in np.flatnonzero(np.isfinite(lower) & (x - lower < 1e-4)):
        below = column_below.get(int(i), np.array([], dtype=int))
        for flip in ((False, True) if len(below) else (False,)):
            for step in steps:
                xt = x.copy()
                xt[i] = lower[i] + step
                if flip:
                    xt[below] *= -1.0
                ft = fun(xt)
                nev += 1
                if ft < f_best:
                    best, f_best = xt, ft
    return best, f_best, nev


def check_optimum(fun: Objective, run: OptimizerRun, lower: np.ndarray, upper: np.ndarray,
                  max_steps: int = 3) -> OptimizerRun:
    """``run`` with its :class:`OptimumCheck` (and the point polished by up to ``max_steps`` Newton steps).

    Parameters
    ----------
    fun : callable
        The criterion.
    run : OptimizerRun
        The run to check.
    lower, upper : numpy.ndarray
        Bounds.
    max_steps : int, default 3
        Newton polishing steps at most.

    Returns
    -------
    OptimizerRun
        ``run`` at the polished point, with ``check`` set and the check's evaluations counted.

    Examples
    --------
    >>> f = lambda x: float((x[0] - 1) ** 2 + 3 * (x[1] - 2) ** 2)
    >>> run = OptimizerRun(np.array([1.01, 2.0]), f([1.01, 2.0]), 1, "given", True, "start")
    >>> polished = check_optimum(f, run, np.full(2, -np.inf), np.full(2, np.inf))
    >>> polished.converged, bool(polished.deviance < 1e-12), polished.evaluations > run.evaluations
    (True, True, True)
    """
    check = newton_check(fun, run.x, run.deviance, lower, upper, max_steps)
    return dataclasses.replace(run, x=check.x, deviance=check.deviance,
                               evaluations=run.evaluations + check.evaluations, check=check)


def newton_check(fun: Objective, x, f: float, lower: np.ndarray, upper: np.ndarray,
                 max_steps: int = 3) -> OptimumCheck:
    """Check (and polish) a candidate optimum ``x`` (criterion ``f``) with a numerical gradient and Hessian
    over the free coordinates; see the module docstring.

    Parameters
    ----------
    fun : callable
        The criterion.
    x, f : numpy.ndarray, float
        The candidate and its criterion.
    lower, upper : numpy.ndarray
        Bounds.
    max_steps : int, default 3
        Newton steps taken at most, while they lower the criterion.

    Returns
    -------
    OptimumCheck
        ``bounds_ok`` is False when a bounded coordinate wants to leave its bound inwards or H is not
        positive definite.

    Examples
    --------
    >>> chk = newton_check(lambda x: float(x[0] ** 2), np.array([0.1]), 0.01, np.array([-1.0]), np.array([1.0]), 0)
    >>> round(chk.decrease, 6), chk.bounds_ok
    (0.01, True)
    """
    nev = 0
    x = np.array(x, dtype=float)
    decrease = np.inf
    for step in range(max_steps + 1):
        h = 1e-4 * np.maximum(np.abs(x), 0.05)
        free, ok = [], True
        g_full = np.zeros_like(x)
        for i in range(len(x)):
            e = np.zeros_like(x)
            e[i] = h[i]
            if x[i] - h[i] < lower[i]:
                slope = (fun(x + e) - f) / h[i]
                nev += 1
                g_full[i] = min(slope, 0.0)
                if slope < -GRADIENT_TOL:
                    ok = False
                continue
            if x[i] + h[i] > upper[i]:
                continue
            free.append(i)
        free = np.array(free, dtype=int)
        k = len(free)
        if k == 0:
            return OptimumCheck(x, f, 0.0, float(np.max(np.abs(g_full), initial=0.0)), ok, nev)
        fp, fm = np.empty(k), np.empty(k)
        H = np.zeros((k, k))
        for a, i in enumerate(free):
            e = np.zeros_like(x)
            e[i] = h[i]
            fp[a], fm[a] = fun(x + e), fun(x - e)
            H[a, a] = (fp[a] - 2 * f + fm[a]) / h[i] ** 2
        for a, i in enumerate(free):
            for c in range(a):
                j = free[c]
                e = np.zeros_like(x)
                e[i], e[j] = h[i], h[j]
                H[a, c] = H[c, a] = (fun(x + e) - fp[a] - fp[c] + 2 * f - fm[a] - fm[c] + fun(x - e)) \
                    / (2 * h[i] * h[j])
        nev += 2 * k + k * (k - 1)
        g = (fp - fm) / (2 * h[free])
        g_full[free] = g
        try:
            np.linalg.cholesky(H)
            dx = np.linalg.solve(H, g)
        except np.linalg.LinAlgError:
            return OptimumCheck(x, f, np.inf, float(np.max(np.abs(g_full))), False, nev)
        decrease = 0.5 * float(g @ dx)
        if decrease < 1e-10 or step == max_steps:
            return OptimumCheck(x, f, decrease, float(np.max(np.abs(g_full))), ok, nev)
        x_new = x.copy()
        x_new[free] = np.clip(x[free] - dx, lower[free], upper[free])
        f_new = fun(x_new)
        nev += 1
        if not f_new < f:
            return OptimumCheck(x, f, decrease, float(np.max(np.abs(g_full))), ok, nev)
        x, f = x_new, f_new
    return OptimumCheck(x, f, decrease, float(np.max(np.abs(g_full))), ok, nev)  # pragma: no cover
