r"""Linear mixed models with crossed or partially crossed random effects (lme4's ``lmer``, sparse path).

Model and criterion (Bates, Mächler, Bolker & Walker 2015, *J. Stat. Softw.* 67(1), sections 3.1–3.4)
-----------------------------------------------------------------------------------------------------
y = Xβ + ZΛ_θu + ε, u ~ N(0, σ²I), ε ~ N(0, σ²I), any number of grouping factors — ratings crossed with
raters, clients who change therapist, items crossed with persons. For fixed θ the penalised least-squares
problem min ‖y − Xβ − ZΛu‖² + ‖u‖² is solved with A = ΛᵀZᵀZΛ + I factored by the block elimination of
:mod:`allianceStats.mixed.sparse` (the largest factor by small Cholesky blocks, the others through their Schur
complement; lme4 uses a sparse Cholesky, CHOLMOD, which is not available to Python here). With R_XᵀR_X =
XᵀX − XᵀZΛA⁻¹ΛᵀZᵀX and r² the penalised residual sum of squares at the solution,

    −2ℓ(θ)   = log|A| + n [1 + log(2π r²/n)]                                 (ML),
    −2ℓ_R(θ) = log|A| + log|R_XᵀR_X| + (n−p) [1 + log(2π r²/(n−p))]         (REML),

minimised over θ (diagonal elements of each Λ_f ≥ 0) by BOBYQA (as lme4), a Hessian from
Richardson-extrapolated differences, Newton polish and lme4's checks (:mod:`allianceStats.mixed.glmm_optim`).
(An analytic gradient is possible through the selected inverse of :meth:`Factorization.row_solves`, as the
GLMM path uses it; for the LMM one deviance evaluation costs a tenth of a gradient, so BOBYQA is faster.)
cov(β̂) = σ̂²(R_XᵀR_X)⁻¹;
t tests with Satterthwaite df as lmerTest (Kuznetsova, Brockhoff & Christensen 2017, *J. Stat. Softw.* 82(13);
:mod:`allianceStats.mixed.satterthwaite`). The result is the :class:`~allianceStats.mixed.result.MixedResult`
of :func:`allianceStats.mixed.fit_mlm`, so the helpers built on it apply where they do not assume nesting.

As in the nested engine, the covariance of the variance parameters (θ, σ) is 2H⁺ over the eigenvalues of the
Hessian above lmerTest's 1e-8, cut on the σ-scaled Hessian so that the df do not depend on the units of the
response, and df above the number of observations are not reported (NaN, with a warning).

Where it fits: ``fit_mlm`` keeps its batched nested engine and sends here the designs that engine refuses
(factors not nested, or more than two grouping factors; :mod:`allianceStats.mixed.crossed`). The input checks
are the nested engine's (a constant or infinite response, a text predictor with more than 50 values, fixed
effects that reproduce the response, fewer rows than random effects of a term), and a response that the fixed
and random effects reproduce exactly (the criterion runs to −∞) raises an IdentificationError that says so.
Validated against lme4 1.1-31 / lmerTest on lme4's ``Penicillin`` and a simulated partially crossed set, through
``fit_sparse_lmm`` and ``fit_mlm`` (tests/mixed/test_glmm_crossed_lmm.py).

Example
-------
>>> import numpy as np, pandas as pd
>>> rng = np.random.default_rng(4)
>>> client = np.repeat(np.arange(40), 6); rater = rng.integers(0, 5, 240)
>>> df = pd.DataFrame({"client": client.astype(str), "rater": rater.astype(str),
...                    "session0": np.tile(np.arange(6.0), 40)})
>>> df["rating"] = (4 + 0.1 * df.session0 + rng.normal(0, 0.8, 40)[client] + rng.normal(0, 0.4, 5)[rater]
...                 + rng.normal(0, 0.5, 240))
>>> res = fit_sparse_lmm(df, "rating ~ session0 + (1 | client) + (1 | rater)")
>>> print(res.varcomp.round(3).to_string(index=False))
   group        var1  var2  vcov  sdcor
  client (Intercept)   NaN 0.647  0.804
   rater (Intercept)   NaN 0.079  0.282
Residual         NaN   NaN 0.249  0.499
"""
from __future__ import annotations

import time
import warnings

import numpy as np
import pandas as pd
import scipy.sparse as sp
from scipy.sparse.linalg import lsqr
from scipy.special import stdtr, stdtrit
from threadpoolctl import threadpool_limits

from ..data.checks import check_bool, check_conf_level, first_labels, require_frame
from ..errors import BoundaryWarning, ConvergenceWarning, FormulaError, IdentificationError
from ..results import Convergence, make_provenance
from .engine import DF_TOL
from .glmm_design import GLMMDesign, build_glmm_design
from .glmm_formula import parse_glmm_formula
from .glmm_laplace import ParameterLayout
from .glmm_optim import SINGULAR_TOL, minimise
from .result import PARAM_COLUMNS, VARCOMP_COLUMNS, MixedResult
from .satterthwaite import (
    remember_varpar_derivatives,
    richardson_gen_d,
    richardson_jacobian,
    satterthwaite_df,
    varpar_covariance,
)
from .sparse import RandomEffectsBlock

__all__ = ["fit_sparse_lmm", "SparseProfiledDeviance"]


class SparseProfiledDeviance:
    """lme4's profiled deviance for one design (module docstring); method names as the nested engine's."""

    def __init__(self, design: GLMMDesign, reml: bool):
        self.design = design
        self.reml = reml
        self.block = RandomEffectsBlock(design.factors)
        self.X, self.y = design.X, design.y
        self.n, self.p = self.X.shape
        self.layout = ParameterLayout(tuple(self.block.qs), self.p, False, 0)
        self._Zty = self.block.Zt @ self.y
        self._ZtX = self.block.Zt @ self.X
        self._XtX = self.X.T @ self.X
        self._Xty = self.X.T @ self.y
        self._ones = np.ones(self.n)

    def solve(self, theta: np.ndarray):
        """(log|A|, R_XᵀR_X, β̂, û, r²) at θ."""
        lam = self.layout.lambdas(theta)
        blk = self.block
        fac = blk.factor(lam, self._ones)
        cu = blk.lt(lam, self._Zty)
        M = blk.lt(lam, self._ZtX)
        AiM, Aic = fac.solve(M), fac.solve(cu)
        RtR = self._XtX - M.T @ AiM
        beta = np.linalg.solve(RtR, self._Xty - M.T @ Aic)
        u = Aic - AiM @ beta
        resid = self.y - self.X @ beta - blk.eta(lam, u)
        r2 = float(resid @ resid + u @ u)
        return fac.logdet, RtR, beta, u, r2

    def deviance_parts(self, theta: np.ndarray) -> np.ndarray:
        """(a, r²): a = log|A| [+ log|R_XᵀR_X|] — lmerTest's D = a + r²/σ² + nₑ log(2πσ²)."""
        logdet, RtR, _, _, r2 = self.solve(theta)
        a = logdet + (np.linalg.slogdet(RtR)[1] if self.reml else 0.0)
        return np.array([a, r2])

    def r2_gradient(self, theta: np.ndarray) -> np.ndarray:
        """∂r²/∂θ_k = −2 Σ_i e_i z_{i,f,a} u_{f,level(i),b} for θ_k = Λ_f[a, b] (residuals e and modes u at θ;
        the envelope theorem: r² is a minimum over u and β)."""
        lam = self.layout.lambdas(theta)
        _, _, beta, u, _ = self.solve(theta)
        resid = self.y - self.X @ beta - self.block.eta(lam, u)
        out, k = np.empty(len(theta)), 0
        for fct, start in zip(self.block.factors, self.block.starts):
            q, m = fct.q, fct.n_levels
            uf = u[start:start + m * q].reshape(m, q)[fct.codes]
            for col in range(q):
                for row in range(col, q):
                    out[k] = -2.0 * (resid * fct.Z[:, row]) @ uf[:, col]
                    k += 1
        return out

    def deviance(self, theta: np.ndarray) -> float:
        try:
            a, r2 = self.deviance_parts(np.asarray(theta, dtype=float))
        except np.linalg.LinAlgError:
            return np.inf
        ne = self.n - self.p if self.reml else self.n
        return float(a + ne * (1.0 + np.log(2.0 * np.pi * r2 / ne)))

    def xtx_inverse(self, theta: np.ndarray) -> np.ndarray:
        """(R_XᵀR_X)⁻¹ at θ: cov(β̂)/σ²."""
        return np.linalg.inv(self.solve(theta)[1])


def fit_sparse_lmm(data: pd.DataFrame, formula: str, *, reml: bool = True, conf_level: float = 0.95) -> MixedResult:
    """Fit a linear mixed model with crossed or partially crossed random effects by REML or ML, as lme4's ``lmer``
    with lmerTest's Satterthwaite df.

    Model and methods: module docstring (Bates et al. 2015, *J. Stat. Softw.* 67(1); Kuznetsova et al. 2017,
    *J. Stat. Softw.* 82(13)).

    Parameters
    ----------
    data : long table (one row per rating or session). Never modified; rows with a missing value in a used
        column are dropped (``n_dropped``).
    formula : lme4 syntax with any number of grouping factors, e.g.
        ``"rating ~ session0 + (1 + session0 | client) + (1 | therapist) + (1 | rater)"``.
    reml : REML (default, as lme4) or ML.
    conf_level : level of the Wald t intervals (Satterthwaite df) in ``params``.

    Returns
    -------
    MixedResult (:mod:`allianceStats.mixed.result`), as :func:`allianceStats.mixed.fit_mlm` returns it.

    Examples
    --------
    lme4's ``Penicillin``-like design, plates crossed with samples (simulated):

    >>> import numpy as np, pandas as pd
    >>> rng = np.random.default_rng(2)
    >>> plate = np.repeat(np.arange(24), 6); sample = np.tile(np.arange(6), 24)
    >>> df = pd.DataFrame({"plate": plate.astype(str), "sample": sample.astype(str)})
    >>> df["diameter"] = 23 + rng.normal(0, 0.85, 24)[plate] + rng.normal(0, 1.9, 6)[sample] + rng.normal(0, 0.55, 144)
    >>> res = fit_sparse_lmm(df, "diameter ~ 1 + (1 | plate) + (1 | sample)")
    >>> res.converged, res.n_groups
    (True, {'plate': 24, 'sample': 6})
    """
    started = time.perf_counter()
    require_frame(data, where="fit_sparse_lmm")
    reml = check_bool("reml", reml)
    conf_level = check_conf_level(conf_level)
    gf = parse_glmm_formula(formula)
    if gf.successes is not None or gf.offsets:
        raise FormulaError(f"formula {formula!r}: cbind() and offset() belong to fit_glmm, not to a linear mixed model")
    design = build_glmm_design(gf, data, family="gaussian", where="fit_sparse_lmm")
    with threadpool_limits(limits=1, user_api="blas"):
        prob = SparseProfiledDeviance(design, reml)
        lay = prob.layout
        lower = lay.theta_lower()
        upper = np.full_like(lower, np.inf)
        x0 = lay.theta_start()
        nev0 = 0
        # θ are relative standard deviations, of order 1: one trust-region scale for all (lme4 likewise starts
        # BOBYQA with one radius). The profiled deviance is exact (no inner iterations): polish to 1e-12.
        run = minimise(prob.deviance, x0, lower, upper, np.full(len(x0), 0.25), decrease_tol=1e-12)
        return _assemble(prob, run, gf.text, data, reml, conf_level, started, nev0)


def _varpar_hessian(prob: SparseProfiledDeviance, run, theta, r2, sigma2, ne) -> np.ndarray:
    """Hessian of lmerTest's D(θ, σ) = a(θ) + r²(θ)/σ² + nₑ log(2πσ²) at the optimum.

    With every θ free, the θθ block follows from the Hessian H_p of the profiled deviance the optimiser already
    computed: D(θ, σ̂) = a + nₑ, and a + nₑ log r² is the profiled deviance, so at σ̂² = r²/nₑ
    ∂²D/∂θ² = H_p + nₑ gᵣgᵣᵀ/r⁴ with gᵣ = ∂r²/∂θ (analytic, :meth:`SparseProfiledDeviance.r2_gradient`). At a
    bound, numDeriv's genD on the parts (a, r²), as lmerTest. The σ parts are exact.
    """
    k = len(theta)
    if run.free.all():
        g_r = prob.r2_gradient(theta)
        H = run.hessian + ne * np.outer(g_r, g_r) / r2 ** 2
    else:
        g, h = richardson_gen_d(prob.deviance_parts, theta)
        g_r = g[1]
        H = h[0] + h[1] / sigma2
    sigma = np.sqrt(sigma2)
    hess = np.zeros((k + 1, k + 1))
    hess[:k, :k] = H
    hess[:k, k] = hess[k, :k] = -2.0 * g_r / sigma ** 3
    hess[k, k] = 6.0 * r2 / sigma2 ** 2 - 2.0 * ne / sigma2
    return hess


def _residual_share(prob: SparseProfiledDeviance) -> float:
    """RSS / TSS of the response regressed on [X, Z] by sparse least squares (LSQR, Paige & Saunders 1982):
    0 when the fixed and random effects together reproduce the response, so that no residual variance is left."""
    y = prob.y
    tss = float(np.sum((y - y.mean()) ** 2))
    M = sp.hstack([sp.csr_matrix(prob.X), prob.block.Z]).tocsr()
    coef = lsqr(M, y, atol=1e-13, btol=1e-13, iter_lim=20 * M.shape[1])[0]
    return float(np.sum((y - M @ coef) ** 2)) / tss if tss > 0 else 0.0


def _why_not_fitted(prob: SparseProfiledDeviance, formula: str) -> str:
    """The message for a crossed design whose criterion cannot be evaluated or runs to −∞ (the sparse path's
    counterpart of the nested engine's diagnosis of a non-positive-definite cross-product matrix)."""
    if _residual_share(prob) <= 1e-10:
        names = ", ".join(f.name for f in prob.design.factors)
        return (f"the model cannot be fitted: {prob.design.spec.formula.response!r} is (nearly) an exact linear "
                f"function of the fixed effects and the random effects of {names} (for example it does not vary "
                "within the cells of the grouping factors), so no residual variance is left to estimate. Average "
                "the rows of a cell, or drop a random term.")
    return ("the model cannot be fitted: a cross-product matrix of the design is not positive definite at the "
            f"estimate (numerical rank deficiency), in {formula!r}. Predictors may be nearly collinear, or the "
            "fixed and random effects together nearly reproduce the response. Centre and scale the predictors, "
            "remove near-duplicate predictors, or simplify the random part.")


def _satterthwaite(prob: SparseProfiledDeviance, run, theta, r2, sigma2, ne, vcov):
    """lmerTest's Satterthwaite df with the variance-parameter covariance taken scale free, as the nested engine.

    A = 2 H⁺ over the eigenvalues above 1e-8 is not scale free in σ's units (∂²D/∂σ² ~ nₑ/σ² falls below the cut
    for a response in the millions), so the cut is made on D H D with D = diag(1, …, σ̂) and A = D (2 (DHD)⁺) D —
    exactly 2 H⁻¹ where every eigenvalue is kept. Returns (df, A, number of eigenvalues left out, Jacobian).
    """
    sigma = float(np.sqrt(sigma2))
    hess = _varpar_hessian(prob, run, theta, r2, sigma2, ne)
    jac = np.concatenate([sigma2 * richardson_jacobian(prob.xtx_inverse, theta), (2.0 * vcov / sigma)[..., None]],
                         axis=2)
    scale = np.r_[np.ones(len(theta)), sigma]
    A_scaled, n_nonpos = varpar_covariance(hess * np.outer(scale, scale))
    A = A_scaled * np.outer(scale, scale)
    return satterthwaite_df(vcov, jac, A), A, n_nonpos, jac


def _assemble(prob: SparseProfiledDeviance, run, formula, data, reml, conf_level, started, nev0) -> MixedResult:
    design, lay, blk = prob.design, prob.layout, prob.block
    theta = run.x
    n, p = prob.n, prob.p
    ne = n - p if reml else n
    try:
        if not np.isfinite(run.f):
            raise np.linalg.LinAlgError("the criterion is not finite at the solution")
        _, RtR, beta, u, r2 = prob.solve(theta)
        sigma2 = r2 / ne
        sigma = float(np.sqrt(sigma2))
        vcov = sigma2 * np.linalg.inv(RtR)
        if not (run.converged or sigma2 > 1e-12 * np.var(prob.y)):   # σ → 0: the criterion runs to −∞
            raise np.linalg.LinAlgError("the residual variance runs to 0")
        # Satterthwaite (lmerTest): Hessian of D(θ, σ) and the Jacobian of cov(β̂) in (θ, σ)
        df, A, n_nonpos, jac = _satterthwaite(prob, run, theta, r2, sigma2, ne, vcov)
    except np.linalg.LinAlgError as exc:
        raise IdentificationError(_why_not_fitted(prob, formula)) from exc
    # more df than observations is impossible: the variance-parameter covariance is (near) singular there.
    # Such df are not reported as a number (nor the p-values and intervals that rest on them), as fit_mlm.
    impossible = ~(df <= n * (1 + DF_TOL))
    df = np.where(impossible, np.nan, df)
    se = np.sqrt(np.diag(vcov))
    tstat = beta / se
    tq = stdtrit(df, 0.5 + conf_level / 2)
    params = pd.DataFrame({"term": design.xnames, "estimate": beta, "std_error": se, "df": df, "statistic": tstat,
                           "p_value": 2 * stdtr(df, -np.abs(tstat)), "ci_lower": beta - tq * se,
                           "ci_upper": beta + tq * se}, columns=PARAM_COLUMNS)

    lambdas = lay.lambdas(theta)
    b = blk.b_from_u(lambdas, u)
    ranef, random_cov, rows = {}, {}, []
    for fct, L, start in zip(design.factors, lambdas, blk.starts):
        ranef[fct.name] = pd.DataFrame(b[start:start + fct.n_levels * fct.q].reshape(fct.n_levels, fct.q),
                                       index=pd.Index(fct.levels, name=fct.name), columns=fct.znames)
        C = sigma2 * L @ L.T
        random_cov[fct.name] = pd.DataFrame(C, index=fct.znames, columns=fct.znames)
        sd = np.sqrt(np.diag(C))
        rows += [(fct.name, nm, np.nan, C[j, j], sd[j]) for j, nm in enumerate(fct.znames)]
        for j in range(fct.q):
            for i in range(j + 1, fct.q):
                with np.errstate(invalid="ignore", divide="ignore"):
                    rows.append((fct.name, fct.znames[j], fct.znames[i], C[i, j], C[i, j] / (sd[i] * sd[j])))
    rows.append(("Residual", np.nan, np.nan, sigma2, sigma))
    varcomp = pd.DataFrame(rows, columns=VARCOMP_COLUMNS)

    singular = bool(np.any(theta[np.isfinite(lay.theta_lower())] < SINGULAR_TOL))
    msgs = list(run.warnings)
    if singular:
        msgs.append("boundary (singular) fit: a random-effect variance is (near) zero or a correlation is ±1; "
                    "consider a simpler random part (lme4's isSingular, tol 1e-4)")
    if impossible.any():
        bad = [design.xnames[j] for j in np.flatnonzero(impossible)]
        msgs.append(f"Satterthwaite df for {first_labels(bad)} came out larger than the {n} observations (or "
                    "infinite): the covariance of the variance parameters is (near) singular at the estimate. Their "
                    "df, p-values and intervals are not reported (NaN); simplify the random part, or use compare_mlm "
                    "/ profile_ci for these terms.")
    if n_nonpos and not singular:
        msgs.append(f"the Hessian of the deviance has {n_nonpos} non-positive eigenvalue(s) at the estimate; "
                    "Satterthwaite df may be unreliable (lmerTest warns likewise).")
    for m in msgs:
        warnings.warn(m, BoundaryWarning if m.startswith("boundary") else ConvergenceWarning, stacklevel=3)
    conv = Convergence(bool(run.converged), nev0 + run.evaluations, run.optimizer,
                       f"{run.message}; Newton decrement {run.decrease:.2g}; max |scaled gradient| "
                       f"{run.scaled_gradient:.2g}", tuple(msgs))
    f = run.f
    npar = p + len(theta) + 1
    mf = design.model_frame.copy()
    factors = design.factors
    result = MixedResult(
        formula=formula, params=params, varcomp=varcomp, fixef=pd.Series(beta, index=design.xnames, name="estimate"),
        vcov=pd.DataFrame(vcov, index=design.xnames, columns=design.xnames), theta=np.asarray(theta, dtype=float),
        sigma=sigma, random_cov=random_cov, loglik=float(-f / 2), deviance=float(f), aic=float(f + 2 * npar),
        bic=float(f + npar * np.log(n)), n_obs=int(n), n_dropped=int(design.n_dropped),
        n_groups={fc.name: fc.n_levels for fc in factors}, reml=reml, singular=singular, conf_level=conf_level,
        convergence=conv,
        provenance=make_provenance(data.loc[:, [c for c in mf.columns if c in data.columns]],
                                   options={"formula": formula, "reml": reml, "conf_level": conf_level,
                                            "engine": "sparse (crossed)"},
                                   extra_versions=("nlopt",), function="fit_sparse_lmm", started=started),
        X=design.X.copy(), y=design.y.copy(),
        groups=mf[[fc.name for fc in factors]].astype(str).reset_index(drop=True),
        random_terms={fc.name: list(fc.znames) for fc in factors}, Z={fc.name: fc.Z.copy() for fc in factors},
        model_frame=mf, varpar_vcov=A, _ranef=ranef, _spec=design.spec,
    )
    remember_varpar_derivatives(result, jac)     # as fit_mlm's nested engine: anova() reuses the fit's Jacobian
    return result
