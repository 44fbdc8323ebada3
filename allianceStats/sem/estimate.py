"""Step 2 of ``fit_sem`` (estimate): start values, the objective, Fisher scoring, a fallback optimiser, Newton
polishing, the check of the optimum; and the covariance matrix of the estimates from the information (step 3).

The objective is the negative log-likelihood −ℓ(θ) = −Σ_g ℓ_g(μ_g(θ), Σ_g(θ)) (``likelihood.py``), with
∇ℓ = Σ_g [(∂μ_g/∂θ)ᵀ ∂ℓ_g/∂μ + Σ_ij (∂Σ_g/∂θ)_ij (∂ℓ_g/∂Σ)_ij]. It is minimised by Fisher scoring —
θ ← θ + t·I(θ)⁻¹∇ℓ with the expected information I(θ) and step halving t while ℓ does not increase or Σ is
not positive definite (the classic LISREL algorithm; Lee & Jennrich 1979) — followed, when the data are
incomplete, by Newton steps with the observed information (the Hessian of −ℓ, obtained by central
differences of the analytic gradient, as lavaan does). Parameters are unbounded, so improper
solutions (negative variances) are found and then reported, as in lavaan (:func:`improper_solution`).
When Fisher scoring stops early, BFGS on −ℓ/N with the analytic gradient takes over (:func:`optimize`).

Example
-------
>>> import numpy as np, pandas as pd
>>> from allianceStats.sem.syntax import parse_model
>>> from allianceStats.sem.partable import build_partable
>>> from allianceStats.sem.model import GroupModel
>>> from allianceStats.sem.likelihood import PatternData
>>> rng = np.random.default_rng(1)
>>> y = rng.normal(size=(200, 2))
>>> pt = build_partable(*parse_model("y1 ~~ y2"), observed={"y1", "y2"}, n_groups=1, defaults="sem")
>>> obj = Objective([GroupModel(pt.table, pt.observed, pt.latent, npar=pt.npar)], [PatternData.from_array(y)])
>>> theta, info = fisher_scoring(obj, np.r_[0.0, 1.0, 1.0, 0.0, 0.0])
>>> bool(np.allclose(theta[0], np.cov(y.T, bias=True)[0, 1]))
True
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from scipy import optimize as _scipy_optimize

from ..errors import IdentificationError

if TYPE_CHECKING:
    from .likelihood import PatternData
    from .prepare import Problem

OptimizerRecord = dict[str, Any]
"""How an optimisation ended: ``iterations``, ``converged``, ``message``, ``loglik`` (and, from
:func:`optimize`, ``fallback`` and ``newton_steps``)."""


class Objective:
    """−ℓ(θ) of all groups, with analytic gradient and information matrices."""

    def __init__(self, models, datas):
        self.models = list(models)
        self.datas = list(datas)
        self.npar = self.models[0].npar
        self.n_eval = 0

    def loglik(self, theta) -> float:
        total = 0.0
        for gm, dat in zip(self.models, self.datas):
            mu, sigma = gm.implied(theta)
            ll, _, _ = dat.loglik(mu, sigma)
            if not np.isfinite(ll):
                return -np.inf
            total += ll
        self.n_eval += 1
        return total

    def gradient(self, theta) -> np.ndarray:
        """∇ℓ(θ) (of the log-likelihood, not of its negative)."""
        g = np.zeros(self.npar)
        for gm, dat in zip(self.models, self.datas):
            mu, sigma, dmu, dsig = gm.jacobian(theta)
            ll, g_mu, g_sig = dat.loglik(mu, sigma, gradient=True)
            if not np.isfinite(ll):
                return np.full(self.npar, np.nan)
            g += dmu @ g_mu + np.einsum("qij,ij->q", dsig, g_sig)
        return g

    def expected_information(self, theta) -> np.ndarray:
        info = np.zeros((self.npar, self.npar))
        for gm, dat in zip(self.models, self.datas):
            _, sigma, dmu, dsig = gm.jacobian(theta)
            info += dat.expected_information(sigma, dmu, dsig)
        return info

    def observed_information(self, theta, h: float = 1e-6) -> np.ndarray:
        """Observed information −∂²ℓ/∂θ∂θᵀ (the Hessian of −ℓ).

        = Σ_g Δ_gᵀ(−∂²ℓ_g/∂m∂mᵀ)Δ_g − Σ_g Σ_m (∂ℓ_g/∂m) ∂²m/∂θ∂θᵀ: the first term analytic
        (``PatternData.observed_information_moments``), the second — second derivatives of μ(θ), Σ(θ), cheap
        because no data are involved — by central differences of Δ(θ) with ∂ℓ/∂m held fixed.
        """
        q = len(theta)
        H = np.zeros((q, q))
        for gm, dat in zip(self.models, self.datas):
            mu, sigma, dmu, dsig = gm.jacobian(theta)
            H += dat.observed_information_moments(mu, sigma, dmu, dsig)
            _, g_mu, g_sig = dat.loglik(mu, sigma, gradient=True)
            # Σ(θ) and μ(θ) are linear in Ψ and α for fixed B, so only columns of B parameters are non-zero
            # (J is symmetric: those columns give the rows too)
            J = np.zeros((q, q))
            for j in np.unique(gm.b_k):
                hj = h * max(1.0, abs(theta[j]))
                e = np.zeros(q)
                e[j] = hj
                _, _, dmu_p, dsig_p = gm.jacobian(theta + e)
                _, _, dmu_m, dsig_m = gm.jacobian(theta - e)
                J[:, j] = ((dmu_p - dmu_m) @ g_mu + np.einsum("qij,ij->q", dsig_p - dsig_m, g_sig)) / (2 * hj)
            bcols = np.zeros(q, dtype=bool)
            bcols[np.unique(gm.b_k)] = True
            J[np.ix_(bcols, ~bcols)] = J[np.ix_(~bcols, bcols)].T
            H -= 0.5 * (J + J.T)
        return 0.5 * (H + H.T)

    def numerical_observed_information(self, theta, h: float = 1e-5) -> np.ndarray:
        """Hessian of −ℓ by central differences of the analytic gradient (symmetrised, as lavaan does).

        The step h = 1e-5 (relative to max(1, |θ_j|)) leaves a truncation error of order h² ≈ 1e-10 and a
        rounding error of order ε/h ≈ 1e-11, far below the 1e-4 to which standard errors are compared.
        """
        q = len(theta)
        H = np.zeros((q, q))
        for j in range(q):
            step = np.zeros(q)
            hj = h * max(1.0, abs(theta[j]))
            step[j] = hj
            H[:, j] = -(self.gradient(theta + step) - self.gradient(theta - step)) / (2 * hj)
        return 0.5 * (H + H.T)

    def case_scores(self, theta) -> list[np.ndarray]:
        """Per-row score vectors ∂ℓ_i/∂θ, one (n_g, q) array per group."""
        out = []
        for gm, dat in zip(self.models, self.datas):
            mu, sigma, dmu, dsig = gm.jacobian(theta)
            s_mu, s_sig = dat.case_scores(mu, sigma)
            out.append(s_mu @ dmu.T + np.einsum("nij,qij->nq", s_sig, dsig, optimize=True))
        return out


class ReducedObjective:
    """The objective of θ = t + K u as a function of u (linear equality constraints; lavaan's ``ceq``): the
    gradient and the information matrices are the θ-space ones projected on the columns of K."""

    def __init__(self, objective: Objective, K: np.ndarray, t: np.ndarray):
        self.objective, self.K, self.t = objective, K, t
        self.npar = K.shape[1]

    def theta(self, u: np.ndarray) -> np.ndarray:
        return self.t + self.K @ u

    def loglik(self, u) -> float:
        return self.objective.loglik(self.theta(u))

    def gradient(self, u) -> np.ndarray:
        return self.K.T @ self.objective.gradient(self.theta(u))

    def expected_information(self, u) -> np.ndarray:
        return self.K.T @ self.objective.expected_information(self.theta(u)) @ self.K

    def observed_information(self, u) -> np.ndarray:
        return self.K.T @ self.objective.observed_information(self.theta(u)) @ self.K


def _solve(info, g):
    try:
        return np.linalg.solve(info, g)
    except np.linalg.LinAlgError:
        return np.linalg.lstsq(info, g, rcond=None)[0]


def _line_search(obj, theta, step, ll, *, rel_tol, max_halvings):
    """Halve the step until ℓ does not decrease (beyond ``rel_tol``); (None, ll, 0) when that fails."""
    t = 1.0
    for _ in range(max_halvings):
        cand = theta + t * step
        ll_new = obj.loglik(cand)
        if np.isfinite(ll_new) and ll_new >= ll - rel_tol * abs(ll):
            return cand, ll_new, t
        t *= 0.5
    return None, ll, 0.0


def fisher_scoring(obj: Objective, theta0, *, max_iter: int = 500, tol: float = 1e-12, step_tol: float = 1e-7):
    """Maximise ℓ by Fisher scoring with step halving. Returns (θ, record dict).

    Stops when the relative change in ℓ is below ``tol`` and the largest step below ``step_tol``.
    """
    theta = np.asarray(theta0, dtype=float).copy()
    ll = obj.loglik(theta)
    if not np.isfinite(ll):
        raise FloatingPointError("the start values give a non-positive-definite implied covariance matrix")
    it = 0
    message = "maximum number of iterations reached"
    converged = False
    for _ in range(max_iter):
        it += 1
        g = obj.gradient(theta)
        info = obj.expected_information(theta)
        step = _solve(info, g)
        cand, ll_new, t = _line_search(obj, theta, step, ll, rel_tol=1e-12, max_halvings=40)
        if cand is None:
            message = "line search failed to increase the log-likelihood"
            break
        theta = cand
        change = ll_new - ll
        ll = ll_new
        # relative step: variances of variables measured on a 0-100 scale live around 1e2-1e3
        largest_step = np.max(np.abs(t * step) / np.maximum(1.0, np.abs(theta)))
        if abs(change) <= tol * max(1.0, abs(ll)) and largest_step < step_tol:
            converged = True
            message = "relative change in log-likelihood below tolerance"
            break
    return theta, {"iterations": it, "converged": converged, "message": message, "loglik": ll}


def newton_polish(obj: Objective, theta, *, max_steps: int = 5):
    """Newton steps with the observed information; returns (θ, Hessian at θ, steps taken)."""
    H = obj.observed_information(theta)
    ll = obj.loglik(theta)
    steps = 0
    for _ in range(max_steps):
        g = obj.gradient(theta)
        step = _solve(H, g)
        if np.max(np.abs(step)) < 1e-10:
            break
        cand, ll_new, _ = _line_search(obj, theta, step, ll, rel_tol=1e-10, max_halvings=20)
        if cand is None:
            break
        theta, ll = cand, ll_new
        steps += 1
        # the Hessian barely moves over a tiny step; recompute it only after a real one
        if np.max(np.abs(step) / np.maximum(1.0, np.abs(theta))) > 1e-6:
            H = obj.observed_information(theta)
    return theta, H, steps


# ----------------------------------------------------------------------------------------------------
# start values and the optimisation run of one Problem


def start_values(table: pd.DataFrame, observed: list[str], latent: list[str], datas: list[PatternData]) -> np.ndarray:
    """Start values: intercepts at the means, residual variances at half the variances, regressions 0.

    Each latent variable is scaled by its marker indicator (the first one with a fixed non-zero loading c):
    variance start 0.5·var(marker)/c², other loadings c·sign(cov(x, marker))·sd(x)/sd(marker), so that signs
    and very different scales (a 1-5 rating next to a 0-100 percentage) start in the right region. A value
    given with ``start()`` in the syntax (the table's ``start`` column) is used as written.
    """
    npar = int(table["free"].max())
    theta = np.zeros(npar)
    counts = np.zeros(npar)
    for g, dat in enumerate(datas, start=1):
        _, mean, var = dat.available_moments()
        sub = table[table["group"] == g]
        markers: dict[str, tuple[int, float]] = {}
        first: dict[str, int] = {}
        for lhs, op, rhs, free, value in zip(sub["lhs"], sub["op"], sub["rhs"], sub["free"], sub["value"]):
            if op == "=~" and rhs in observed:
                first.setdefault(lhs, observed.index(rhs))
                if free == 0 and value != 0 and lhs not in markers:
                    markers[lhs] = (observed.index(rhs), float(value))
        for lhs, op, rhs, free in zip(sub["lhs"], sub["op"], sub["rhs"], sub["free"]):
            if free == 0:
                continue
            k = free - 1
            if op == "=~":
                v = 1.0
                if rhs in observed:
                    j = observed.index(rhs)
                    ref, c = markers.get(lhs, (first.get(lhs, j), 1.0))
                    if ref != j and var[ref] > 0:
                        v = c * np.sign(dat.pairwise_cov(j, ref) or 1.0) * np.sqrt(var[j] / var[ref])
                    elif lhs not in markers:
                        v = np.sqrt(0.5 * var[j])
            elif op == "~":
                v = 0.0
            elif op == "~1":
                v = mean[observed.index(lhs)] if lhs in observed else 0.0
            elif lhs != rhs:
                v = 0.0
            elif lhs in observed:
                v = 0.5 * var[observed.index(lhs)]
            elif lhs in markers:
                ref, c = markers[lhs]
                v = 0.5 * var[ref] / c ** 2
            else:
                v = 0.05
            theta[k] += v
            counts[k] += 1
    theta = theta / np.maximum(counts, 1)
    if "start" in table:
        given = table[(table["free"] > 0) & table["start"].notna()]
        theta[given["free"].to_numpy() - 1] = given["start"].to_numpy(dtype=float)
    return theta


def optimize(problem: Problem, theta0: np.ndarray | None = None, *,
             polish: bool = True) -> tuple[np.ndarray, np.ndarray | None, OptimizerRecord]:
    """Maximise ℓ(θ) of ``problem``: returns (θ̂, observed information at θ̂ or None, record).

    Fisher scoring from :func:`start_values` (or ``theta0``); if it stops early and ``polish`` is set, BFGS
    takes over (:func:`_fallback`); under FIML (``polish``) Newton steps with the observed information finish
    the job, since Fisher scoring converges only linearly there. The bootstrap calls this with
    ``polish=False`` from the full-sample estimates.
    """
    obj: Any = problem.objective
    if theta0 is None:
        theta0 = start_values(problem.table, list(problem.pt.observed), list(problem.pt.latent), problem.datas)
        if problem.reduction is not None:
            K, t = problem.reduction
            theta0 = t + K @ (K.T @ (theta0 - t))   # the nearest point that satisfies the constraints
        if not np.isfinite(obj.loglik(theta0)):
            theta0 = _inflate(problem, theta0)
    start = np.asarray(theta0, dtype=float)
    if problem.reduction is not None:
        obj = ReducedObjective(obj, *problem.reduction)
        start = obj.K.T @ (start - obj.t)
    fiml = polish and problem.missing == "fiml"
    # under FIML, Fisher scoring converges only linearly: stop it early and finish with Newton steps
    theta, rec = fisher_scoring(obj, start, tol=1e-9 if fiml else 1e-12, step_tol=1e-4 if fiml else 1e-7)
    rec["fallback"] = None
    if not rec["converged"] and polish:
        theta, rec = _fallback(obj, problem.n_obs, theta, rec)
    hess = None
    steps = 0
    if fiml:
        theta, hess, steps = newton_polish(obj, theta)
        rec["loglik"] = obj.loglik(theta)
    rec["newton_steps"] = steps
    if isinstance(obj, ReducedObjective):
        return obj.theta(theta), None, rec   # the Hessian is wanted in θ space: the caller computes it there
    return theta, hess, rec


def _fallback(obj: Any, N: int, theta: np.ndarray, rec: OptimizerRecord) -> tuple[np.ndarray, OptimizerRecord]:
    """Second optimiser when Fisher scoring stops early: BFGS on −ℓ/N with the analytic gradient."""

    def f(th: np.ndarray) -> float:
        ll = obj.loglik(th)
        return -ll / N if np.isfinite(ll) else 1e10

    def g(th: np.ndarray) -> np.ndarray:
        grad = obj.gradient(th)
        return -grad / N if np.all(np.isfinite(grad)) else np.zeros_like(th)

    out = _scipy_optimize.minimize(f, theta, jac=g, method="BFGS", options={"gtol": 1e-10, "maxiter": 5000})
    ll = obj.loglik(out.x)
    if np.isfinite(ll) and ll >= rec["loglik"]:
        theta = out.x
        rec = dict(rec, loglik=ll, iterations=rec["iterations"] + int(out.nit),
                   message=f"Fisher scoring stopped ({rec['message']}); continued with BFGS: {out.message}")
    rec["fallback"] = "BFGS"
    return theta, rec


def _inflate(problem: Problem, theta0: np.ndarray) -> np.ndarray:
    """Start values with the free variances inflated until the implied covariance matrices are positive definite."""
    tab = problem.table
    var_rows = tab[(tab["op"] == "~~") & (tab["lhs"] == tab["rhs"]) & (tab["free"] > 0)]
    for factor in (2.0, 4.0, 10.0):
        th = theta0.copy()
        for k in var_rows["free"].unique():
            th[k - 1] = abs(th[k - 1]) * factor + 0.1
        if np.isfinite(problem.objective.loglik(th)):
            return th
    raise IdentificationError("no positive-definite implied covariance matrix at the start values: a variance "
                              "fixed at 0 leaves an observed variable without variance, or the data have fewer "
                              "rows than the model's observed variables need (n rows: "
                              f"{list(problem.n_obs_by_group)}).")


def improper_solution(problem: Problem, theta: np.ndarray) -> list[str]:
    """Heywood cases and non-positive-definite latent covariance matrices at θ (lavaan warns of both)."""
    problems = []
    for g, gm in enumerate(problem.models, start=1):
        _, Psi, _ = gm.matrices(theta)
        tag = "" if len(problem.models) == 1 else f" in group {g}"
        names = gm.observed + gm.latent
        neg = [names[i] for i in range(gm.m) if Psi[i, i] < 0]
        if neg:
            problems.append(f"negative (residual) variance(s) of {neg}{tag} (Heywood case)")
        lat = [gm.pos[v] for v in gm.latent]
        if lat:
            ev = np.linalg.eigvalsh(Psi[np.ix_(lat, lat)])
            if ev.min() < -1e-12 and not neg:
                problems.append(f"the covariance matrix of the latent variables{tag} is not positive definite")
    return problems


def vcov_from_information(info: np.ndarray,
                          reduction: tuple[np.ndarray, np.ndarray] | None = None) -> np.ndarray | None:
    """Inverse of the information matrix, or None when it is singular (the model is then not identified).

    Under linear constraints θ = t + K u (``reduction``) the inverse is K (Kᵀ I K)⁻¹ Kᵀ, which is what lavaan's
    augmented information gives (constrained directions have variance 0).
    """
    if reduction is not None:
        K = reduction[0]
        inner = vcov_from_information(K.T @ info @ K)
        return None if inner is None else K @ inner @ K.T
    try:
        vc = np.linalg.inv(info)
    except np.linalg.LinAlgError:
        return None
    if not np.all(np.isfinite(vc)) or np.any(np.diag(vc) < 0):
        return None
    # identification check on the scale-free (correlation) form of the information, so that variables on very
    # different scales do not look like a rank deficiency
    d = np.sqrt(np.abs(np.diag(info)))
    if np.any(d == 0):
        return None
    ev = np.linalg.eigvalsh(info / np.outer(d, d))
    if ev.min() <= 1e-10 * max(ev.max(), 1e-300):
        return None
    return vc
