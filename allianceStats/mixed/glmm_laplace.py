r"""The GLMM objective: penalised IRLS for the conditional modes, Laplace approximation, adaptive quadrature.

Model
-----
η = Xβ + ZΛ_θu + o, u ~ N(0, I), b = Λ_θu (so Var(b) = ΛΛᵀ; θ holds the lower-triangular elements of every
Λ_f as in lme4), y_i | u with log-likelihood ℓ_i(η_i) (:mod:`allianceStats.mixed.families`). The marginal
likelihood is L(θ, β) = ∫ exp(Σ ℓ_i) φ_q(u) du.

Conditional modes (PIRLS)
-------------------------
For fixed (θ, β) the mode û maximises Σℓ_i − ‖u‖²/2. Newton's method with the weights of the family —
Fisher scoring, i.e. lme4's penalised iteratively reweighted least squares (Bates et al. 2015, *J. Stat.
Softw.* 67(1), section 5; Bates 2019, lme4 "PIRLS" vignette), or the exact second derivative, i.e. TMB's
inner Newton (Kristensen et al. 2016, *J. Stat. Softw.* 70(5)) — solves A δ = ΛᵀZᵀs − u with
A = ΛᵀZᵀWZΛ + I (:mod:`allianceStats.mixed.sparse`), halving the step while the penalised deviance does not
decrease. Iteration stops when the step is below 1e-10 (relative), much tighter than lme4's ``tolPwrss``
= 1e-7, because the outer optimiser and the finite-difference Hessian read the objective to ~1e-10.

Laplace approximation (``n_agq = 1``)
-------------------------------------
−2 log L ≈ −2 Σ ℓ_i(η̂) + ‖û‖² + log|A(û)|  (lme4's ``glmerLaplace``; glmmTMB's objective with the observed
weights). ℓ carries all constants, so this is −2 logLik on lme4's and glmmTMB's scale.

Adaptive Gauss–Hermite quadrature (``n_agq > 1``; one grouping factor with one random effect)
--------------------------------------------------------------------------------------------
The integral factorises over the levels i. With û_i, s_i = A_ii^{-1/2} and the K-point Gauss–Hermite rule
(z_k, ω_k) for the standard normal density (Σ ω_k = 1), Pinheiro & Bates (1995, *J. Comput. Graph. Stat.*
4(1), 12–35; Liu & Pierce 1994, *Biometrika* 81(3)):

    −2 log L_i ≈ log A_ii − 2 log Σ_k ω_k exp(ℓ_i(û_i + s_i z_k) − (û_i + s_i z_k)²/2 + z_k²/2),

which is lme4's ``glmerAGQ`` up to a constant: lme4 sums deviance residuals (2(ℓ_sat − ℓ)) instead of −2ℓ,
so its nAGQ > 1 criterion is ours + 2 Σ ℓ_sat,i (:meth:`LaplaceProblem.lme4_agq_offset`). K = 1 is the
Laplace approximation.

Joint modes (lme4's ``nAGQ = 0`` stage)
---------------------------------------
For starting values, PIRLS over (u, β) jointly for fixed θ (Schur complement of A in the joint system) gives
β̃(θ) and the Laplace value at the joint mode; optimising that over θ alone is lme4's first stage.

Example
-------
>>> import numpy as np, pandas as pd
>>> from allianceStats.mixed.glmm_formula import parse_glmm_formula
>>> from allianceStats.mixed.glmm_design import build_glmm_design
>>> from allianceStats.mixed.families import get_family
>>> df = pd.DataFrame({"y": [0, 1, 1, 0, 1, 1, 0, 0], "g": list("aabbccdd")})
>>> d = build_glmm_design(parse_glmm_formula("y ~ 1 + (1 | g)"), df, family="binomial")
>>> prob = LaplaceProblem(d, get_family("binomial"))
>>> round(prob.objective(np.array([0.0, 0.0])), 6)  # θ = 0, β = 0: −2 log(0.5^8)
11.090355
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.polynomial.hermite_e import hermegauss

from .families import Family, Response
from .glmm_design import GLMMDesign
from .sparse import RandomEffectsBlock

STEP_TOL = 1e-10
MAX_INNER = 300


@dataclass(frozen=True)
class ParameterLayout:
    """Positions of θ (random-effect factors), β, log NB dispersion and zero-inflation β in one vector."""

    qs: tuple[int, ...]
    p: int
    nb: bool
    p_zi: int

    @property
    def n_theta(self) -> int:
        return sum(q * (q + 1) // 2 for q in self.qs)

    @property
    def size(self) -> int:
        return self.n_theta + self.p + int(self.nb) + self.p_zi

    @property
    def theta(self) -> slice:
        return slice(0, self.n_theta)

    @property
    def beta(self) -> slice:
        return slice(self.n_theta, self.n_theta + self.p)

    @property
    def log_nb(self) -> int | None:
        return self.n_theta + self.p if self.nb else None

    @property
    def zi(self) -> slice:
        s = self.n_theta + self.p + int(self.nb)
        return slice(s, s + self.p_zi)

    def theta_lower(self) -> np.ndarray:
        """lme4's bounds: 0 for diagonal elements of each Λ_f, −∞ below the diagonal (column-major)."""
        out = []
        for q in self.qs:
            for j in range(q):
                for i in range(j, q):
                    out.append(0.0 if i == j else -np.inf)
        return np.array(out)

    def theta_start(self) -> np.ndarray:
        return np.where(np.isfinite(self.theta_lower()), 1.0, 0.0)

    def lower(self) -> np.ndarray:
        lo = np.full(self.size, -np.inf)
        lo[self.theta] = self.theta_lower()
        if self.nb:
            lo[self.log_nb] = -12.0
        return lo

    def upper(self) -> np.ndarray:
        up = np.full(self.size, np.inf)
        if self.nb:
            up[self.log_nb] = 20.0     # θ = e²⁰: Poisson for every practical purpose
        return up

    def lambdas(self, theta: np.ndarray) -> list[np.ndarray]:
        out, pos = [], 0
        for q in self.qs:
            L = np.zeros((q, q))
            for j in range(q):
                for i in range(j, q):
                    L[i, j] = theta[pos]
                    pos += 1
            out.append(L)
        return out

    def names(self, factors, xnames, zinames) -> list[str]:
        out = []
        for f in factors:
            for j in range(f.q):
                for i in range(j, f.q):
                    out.append(f"theta[{f.name}:{f.znames[i]}" + ("" if i == j else f",{f.znames[j]}") + "]")
        out += list(xnames)
        if self.nb:
            out.append("log(theta_nb)")
        out += [f"zi~{z}" for z in zinames]
        return out


class InnerFailure(Exception):
    """The conditional modes could not be found (non-finite values or a non-positive-definite system)."""


class LaplaceProblem:
    """Objective evaluations for one design and family (module docstring).

    ``hessian`` chooses the weights of the inner Newton step and of the Laplace determinant: ``"expected"``
    (lme4) or ``"observed"`` (glmmTMB); identical for canonical links.
    """

    def __init__(self, design: GLMMDesign, family: Family, *, hessian: str = "expected", n_agq: int = 1,
                 zi: bool = False):
        self.design = design
        self.family = family
        self.block = RandomEffectsBlock(design.factors)
        self.resp = Response(family, design.y, design.trials, hessian=hessian)
        self.X = design.X
        self.offset = design.offset
        self.X_zi = design.X_zi if zi else None
        self.layout = ParameterLayout(tuple(self.block.qs), self.X.shape[1], family.name == "negative_binomial",
                                      0 if self.X_zi is None else self.X_zi.shape[1])
        self.n_agq = n_agq
        if n_agq > 1:
            z, w = hermegauss(n_agq)
            self._gh = (z, w / w.sum())
        self.u = np.zeros(self.block.q_total)
        self.inner_iterations = 0
        self.n_evaluations = 0

    # ------------------------------------------------------------------ pieces
    def split(self, par: np.ndarray):
        lay = self.layout
        theta = par[lay.theta]
        beta = par[lay.beta]
        nb = float(np.exp(par[lay.log_nb])) if lay.nb else None
        zi_eta = self.X_zi @ par[lay.zi] if self.X_zi is not None else None
        return theta, beta, nb, zi_eta

    def _set(self, par):
        theta, beta, nb, zi_eta = self.split(par)
        self.resp.set_extra(nb_theta=nb, zi_eta=zi_eta)
        return self.layout.lambdas(theta), self.X @ beta + self.offset

    def _inner(self, lambdas, eta_fixed, u):
        """Newton / PIRLS for û at fixed (θ, β, extras). Returns (u, factorisation, ℓ_i at û, penalised dev)."""
        blk, resp = self.block, self.resp
        eta = eta_fixed + blk.eta(lambdas, u)
        ll, score, w = resp.derivatives(eta)
        pdev = -2.0 * ll.sum() + u @ u
        if not np.isfinite(pdev):
            raise InnerFailure("non-finite deviance at the start of the inner iterations")
        for _ in range(MAX_INNER):
            self.inner_iterations += 1
            g = blk.zt(lambdas, score) - u
            try:
                fac = blk.factor(lambdas, w)
            except np.linalg.LinAlgError:
                fac = None
            if fac is None:
                # observed weights can be negative away from the mode (zero inflation): step with clipped ones
                fac_step = blk.factor(lambdas, np.maximum(w, 0.0))
            else:
                fac_step = fac
            delta = fac_step.solve(g)
            if fac is not None and np.max(np.abs(delta)) <= STEP_TOL * max(1.0, np.max(np.abs(u), initial=0.0)):
                return u, fac, ll, pdev
            step = 1.0
            while True:
                u_new = u + step * delta
                eta_new = eta_fixed + blk.eta(lambdas, u_new)
                ll_n, score_n, w_n = resp.derivatives(eta_new)
                pdev_n = -2.0 * ll_n.sum() + u_new @ u_new
                if np.isfinite(pdev_n) and pdev_n <= pdev + 1e-12 * abs(pdev):
                    break
                step *= 0.5
                if step < 1e-12:
                    if fac is not None:
                        return u, fac, ll, pdev   # no further decrease possible: at the mode to rounding
                    raise InnerFailure("step halving failed in the inner iterations")
            u, eta, ll, score, w, pdev = u_new, eta_new, ll_n, score_n, w_n, pdev_n
        if fac is None:
            raise InnerFailure("the inner iterations did not converge")
        return u, fac, ll, pdev

    def modes(self, par: np.ndarray, u0: np.ndarray | None = None):
        """(û, factorisation, ℓ_i, penalised deviance) at ``par``."""
        lambdas, eta_fixed = self._set(par)
        start = self.u if u0 is None else u0
        try:
            return self._inner(lambdas, eta_fixed, start.copy())
        except (InnerFailure, np.linalg.LinAlgError, FloatingPointError):
            return self._inner(lambdas, eta_fixed, np.zeros_like(self.u))

    # ------------------------------------------------------------------ objectives
    def objective(self, par: np.ndarray) -> float:
        """Laplace (``n_agq = 1``) or AGQ approximation of −2 log L at ``par`` (inf where it cannot be found)."""
        self.n_evaluations += 1
        par = np.asarray(par, dtype=float)
        try:
            with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
                u, fac, ll, pdev = self.modes(par)
                val = pdev + fac.logdet if self.n_agq == 1 else self._agq(par, u, fac, ll)
        except (InnerFailure, np.linalg.LinAlgError, FloatingPointError, ValueError):
            return np.inf
        if not np.isfinite(val):
            return np.inf
        self.u = u
        return float(val)

    def _agq(self, par, u, fac, ll) -> float:
        f = self.block.factors[0]
        lambdas, eta_fixed = self._set(par)
        lam = lambdas[0][0, 0]
        codes, z = f.codes, f.Z[:, 0]
        m = f.n_levels
        d = fac.d1[:, 0, 0]
        s = 1.0 / np.sqrt(d)
        ll_hat = np.bincount(codes, ll, minlength=m)
        base = ll_hat - 0.5 * u ** 2
        nodes, weights = self._gh
        terms = np.empty((len(nodes), m))
        for k, (zk, wk) in enumerate(zip(nodes, weights)):
            uk = u + s * zk
            eta = eta_fixed + z * lam * uk[codes]
            llk = np.bincount(codes, self.resp.loglik(eta), minlength=m)
            terms[k] = np.log(wk) + llk - 0.5 * uk ** 2 + 0.5 * zk ** 2 - base
        mx = terms.max(axis=0)
        logsum = mx + np.log(np.exp(terms - mx).sum(axis=0))
        return float((np.log(d) - 2.0 * base - 2.0 * logsum).sum())

    def gradient(self, par: np.ndarray):
        """(objective, gradient) of the Laplace objective, or None where only finite differences apply.

        All parameters are differentiated analytically. With F = P(û) + log|A|,
        P = −2Σℓ + ‖u‖², h_i = z̃_iᵀA⁻¹z̃_i (:meth:`Factorization.leverages`), a = h ∘ ∂w/∂η,
        c = H⁻¹ΛᵀZᵀa (H the observed-information matrix of u, which gives ∂û by the implicit-function theorem):

            ∂F/∂β = Xᵀ(−2s + a − W_obs ∘ ZΛc),
            ∂F/∂φ = Σ_i M_iφ (−2 ∂ℓ_i/∂φ + (ZΛc)_i ∂s_i/∂φ + h_i ∂w_i/∂φ)   (extras φ at fixed η),

        s the score, M the chain to each parameter (the zero-inflation design, or 1 for log θ_NB). For an
        element θ_k of Λ (Λ_k = ∂Λ/∂θ_k), with y_i = A⁻¹z̃_i at row i's own levels
        (:meth:`Factorization.row_solves`):

            ∂F/∂θ_k = −2sᵀZΛ_ku + 2 Σ_i w_i (z_iᵀΛ_k) y_i + aᵀZΛ_ku + sᵀZΛ_kc − (ZΛc)ᵀ(W_obs ∘ ZΛ_ku).
        """
        if self.n_agq > 1:
            return None
        par = np.asarray(par, dtype=float)
        f0 = self.objective(par)
        if not np.isfinite(f0):
            return None
        lay, blk, resp = self.layout, self.block, self.resp
        u = self.u.copy()
        theta, beta, nb, zi_eta = self.split(par)
        lambdas, eta_fixed = self._set(par)
        eta = eta_fixed + blk.eta(lambdas, u)
        with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
            ll, s, wL = resp.derivatives(eta)
            try:
                facL = blk.factor(lambdas, wL)
            except np.linalg.LinAlgError:
                return None
            solved = facL.row_solves(lambdas)
            if solved is None:
                return None
            h, ys = solved
            dw = resp.weight_derivative(eta)
            if resp.hessian == "observed" or self.family.canonical:
                wO, facO = wL, facL
            else:
                wO = resp.derivatives(eta, hessian="observed")[2]
                try:
                    facO = blk.factor(lambdas, wO)
                except np.linalg.LinAlgError:
                    return None
            hw = h * dw
            c = facO.solve(blk.zt(lambdas, hw))
            Zc = blk.eta(lambdas, c)
            g = np.zeros(lay.size)
            g[lay.beta] = self.X.T @ (-2.0 * s + hw - wO * Zc)
            k = 0
            for fi, (fct, st) in enumerate(zip(blk.factors, blk.starts)):
                q, m = fct.q, fct.n_levels
                uf = u[st:st + m * q].reshape(m, q)[fct.codes]
                cf = c[st:st + m * q].reshape(m, q)[fct.codes]
                for col in range(q):
                    for row in range(col, q):
                        zk_u = fct.Z[:, row] * uf[:, col]              # ZΛ_k u, Λ_k = ∂Λ/∂θ_k
                        zk_c = fct.Z[:, row] * cf[:, col]
                        g[k] = (-2.0 * s @ zk_u + 2.0 * (wL * fct.Z[:, row]) @ ys[fi][:, col]
                                + hw @ zk_u + zk_c @ s - Zc @ (wO * zk_u))
                        k += 1

            def partials(set_plus, set_minus, delta):
                set_plus()
                lp, sp_, wp = resp.derivatives(eta)
                set_minus()
                lm, sm, wm = resp.derivatives(eta)
                resp.set_extra(nb_theta=nb, zi_eta=zi_eta)
                return -2.0 * (lp - lm) / (2 * delta) + Zc * (sp_ - sm) / (2 * delta) + h * (wp - wm) / (2 * delta)

            if lay.nb:
                d = 1e-5
                c = partials(lambda: resp.set_extra(nb_theta=nb * np.exp(d), zi_eta=zi_eta),
                             lambda: resp.set_extra(nb_theta=nb * np.exp(-d), zi_eta=zi_eta), d)
                g[lay.log_nb] = c.sum()
            if self.X_zi is not None:
                d = 1e-5
                c = partials(lambda: resp.set_extra(nb_theta=nb, zi_eta=zi_eta + d),
                             lambda: resp.set_extra(nb_theta=nb, zi_eta=zi_eta - d), d)
                g[lay.zi] = self.X_zi.T @ c
        self.u = u
        return f0, g

    def lme4_agq_offset(self) -> float:
        """2 Σ ℓ_sat,i: add to our ``n_agq > 1`` objective to get lme4's nAGQ > 1 deviance-function value."""
        return float(2.0 * self.resp.saturated_loglik().sum())

    def joint(self, theta: np.ndarray, beta: np.ndarray, extra: np.ndarray | None = None,
              u0: np.ndarray | None = None, maxit: int = 200):
        """PIRLS over (u, β) at fixed θ (lme4's nAGQ = 0). Returns (objective, β, û, (R_XᵀR_X)⁻¹)."""
        lay = self.layout
        par = np.zeros(lay.size)
        par[lay.theta] = theta
        par[lay.beta] = beta
        if extra is not None:
            par[lay.n_theta + lay.p:] = extra
        lambdas, _ = self._set(par)
        blk, resp, X = self.block, self.resp, self.X
        u = np.zeros(blk.q_total) if u0 is None else u0.copy()
        beta = np.asarray(beta, dtype=float).copy()

        def state(u, beta):
            eta = X @ beta + self.offset + blk.eta(lambdas, u)
            ll, score, w = resp.derivatives(eta)
            return ll, score, w, -2.0 * ll.sum() + u @ u

        _, score, w, pdev = state(u, beta)
        for _ in range(maxit):
            fac = blk.factor(lambdas, w)
            M = blk.zt(lambdas, X * w[:, None])               # ΛᵀZᵀWX
            AiM = fac.solve(M)
            RX = X.T @ (X * w[:, None]) - M.T @ AiM
            gu = blk.zt(lambdas, score) - u
            gb = X.T @ score
            Aig = fac.solve(gu)
            db = np.linalg.solve(RX, gb - M.T @ Aig)
            du = Aig - AiM @ db
            if max(np.max(np.abs(du), initial=0.0), np.max(np.abs(db))) <= 1e-9 * max(1.0, np.max(np.abs(beta))):
                return float(pdev + fac.logdet), beta, u, np.linalg.inv(RX)
            step = 1.0
            while True:
                u_n, b_n = u + step * du, beta + step * db
                _, score_n, w_n, pdev_n = state(u_n, b_n)
                if np.isfinite(pdev_n) and pdev_n <= pdev + 1e-12 * abs(pdev):
                    break
                step *= 0.5
                if step < 1e-12:
                    return float(pdev + fac.logdet), beta, u, np.linalg.inv(RX)
            u, beta, score, w, pdev = u_n, b_n, score_n, w_n, pdev_n
        fac = blk.factor(lambdas, w)
        M = blk.zt(lambdas, X * w[:, None])
        RX = X.T @ (X * w[:, None]) - M.T @ fac.solve(M)
        return float(pdev + fac.logdet), beta, u, np.linalg.inv(RX)
