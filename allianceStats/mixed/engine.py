r"""Profiled REML / ML estimation of nested linear mixed models (lme4's formulation, batched).

Model
-----
For n observations (sessions), p fixed effects and grouping factors f = 1 (clients) [, 2 (therapists)],

    y = Xβ + Σ_f Z_f b_f + ε,   b_f = (I_{m_f} ⊗ Λ_f) u_f,   u ~ N(0, σ² I),   ε ~ N(0, σ² R),

where Z_f holds the q_f random-effect covariates of factor f (an intercept, session, ...) arranged per level,
Λ_f is the q_f×q_f lower-triangular *relative covariance factor* (so Var(b_f,level) = σ² Λ_f Λ_fᵀ), and
R = I, or R = blockdiag_i R_i(φ) with ``R_i[s,t] = φ^|t_s − t_t|`` for a residual AR(1) in session time
within client (nlme's ``corAR1``; gaps in session numbers respected, as nlme's corARMA does).
θ collects the lower-triangular elements of every Λ_f (column-major, factor by factor); diagonal
elements are bounded below by 0. This is the parameterisation of Bates, Mächler, Bolker & Walker (2015),
*Fitting Linear Mixed-Effects Models Using lme4*, J. Stat. Softw. 67(1), sections 3.1–3.4.

Profiled deviance
-----------------
For fixed θ, penalised least squares (PLS) minimises ``r²(θ) = min_{u,β} ‖y − Xβ − ZΛu‖² + ‖u‖²``.
With L_θ the Cholesky factor of ``ΛᵀZᵀZΛ + I`` and R_X that of the Schur complement of X,

    −2 ℓ(θ)   = log|L_θ|² + n [1 + log(2π r²/n)]                                  (ML, σ̂² = r²/n)
    −2 ℓ_R(θ) = log|L_θ|² + log|R_X|² + (n−p) [1 + log(2π r²/(n−p))]             (REML, σ̂² = r²/(n−p))

(lme4 eqs. 34 and 41). Under AR(1) the data are first whitened client by client (``R_i^{-1/2}`` of a
Markov process: ``w_1 = v_1``, ``w_k = (v_k − φ^{d_k} v_{k−1}) / √(1 − φ^{2 d_k})``), and
``Σ log(1 − φ^{2 d_k}) = log|R|`` is added to both criteria; φ joins θ in the optimisation.

Nested block elimination (why it is fast)
-----------------------------------------
Because clients are nested in therapists, the augmented cross-product matrix of [ZΛ, X, y] is an *arrow*
matrix: one q₁×q₁ block per client, coupled only to its own therapist's q₂ block and to X, y. For every
client the cross-products G_i = [Z₁ᵢ Z₂ᵢ Xᵢ yᵢ]ᵀ[Z₁ᵢ Z₂ᵢ Xᵢ yᵢ] are computed once (rows padded per client,
one einsum). An evaluation of the deviance then (1) scales G_i by blockdiag(Λ₁, Λ₂, I) and adds I to the
client block, (2) Cholesky-factorises all client blocks at once (stacked numpy arrays) and forms their
Schur complements, (3) sums those per therapist, adds I to the therapist block and eliminates it the same
way, (4) sums over therapists into the (p+1)×(p+1) matrix [[R_XᵀR_X, ·], [·, r²]]. No Python loop over
clients or therapists; the cost per evaluation is O(m (q₁+q₂+p+1)³).

Optimisation and checks
-----------------------
θ is found by bounded L-BFGS-B (scipy) with the *analytic* gradient of the profiled deviance: writing the
criterion as Σ log|A_i| + Σ log|A2_t| + φ(F), the derivative of φ with respect to F is Φ = [F_xx⁻¹ ⊕ 0]
(REML only) + c·bbᵀ/r², b = (β̂, −1), c = n − p (REML) or n (ML); it is passed down the elimination
(therapists, then clients) in the same batched form, see ``ProfiledDeviance.deviance_and_gradient`` (checked
against numerical derivatives in the tests). With a residual AR(1), (θ, φ) are found by BOBYQA
(Powell 2009), the bounded derivative-free optimiser lme4 uses through nloptr, here through nlopt.
Start θ = (diagonal 1, off-diagonal 0) as lme4 (:class:`ThetaLayout` records which θ element belongs to
which factor and which position of its Λ). At the end the optimum is checked, not only the optimiser's flag
(:mod:`allianceStats.mixed.optimizer`): numerical gradient g and Hessian H over the coordinates not held at
their bound give the deviance decrease a Newton step would achieve, ½ gᵀH⁻¹g (scale free; lme4 checks a
similar scaled gradient). Newton steps polish the optimum while they help; if the predicted decrease stays
above 1e-6 or a bounded θ wants to leave 0, BOBYQA is restarted once from the solution; a fit still failing
the check is returned with ``converged=False`` and a ConvergenceWarning. A diagonal θ at 0 is a stationary
point of the deviance (Λ's column enters only through ΛΛᵀ), so a gradient method can stop there at a saddle;
every θ at its bound is therefore probed inwards (with both signs of the column below it) and the fit is
restarted from any better point, as lme4's ``restart_edge`` does (tested against multistart BOBYQA).
A fit is *singular* (BoundaryWarning) when a bounded θ element is below 1e-4 (lme4's ``isSingular``).
Fixed effects: β̂ = (R_XᵀR_X)⁻¹ X̃ᵀỹ, cov(β̂) = σ̂² (R_XᵀR_X)⁻¹; t tests with Satterthwaite df
(:mod:`allianceStats.mixed.satterthwaite`, Kuznetsova et al. 2017, J. Stat. Softw. 82(13)).
Random effects: the conditional modes b̂ = Λ û from the PLS solution (lme4's ``ranef``).

The steps of a fit
------------------
:func:`fit_mlm` reads as lme4's pipeline: ``_model_design`` (``lFormula``: the formula's model matrices on
the complete rows), :class:`ProfiledDeviance` (``mkLmerDevfun``: the deviance as a function of θ [, φ]),
``_optimize`` (``optimizeLmer``: an :class:`~allianceStats.mixed.optimizer.OptimizerRun` with its
restarts), ``_check_convergence`` (``checkConv``: the :class:`~allianceStats.results.Convergence` verdict
and ``isSingular``), ``_assemble`` (estimates, standard errors, df, BLUPs, variance components).
"""
from __future__ import annotations

import dataclasses
import time
import warnings
from dataclasses import dataclass
from functools import cached_property

import numpy as np
import pandas as pd
from scipy.special import stdtr, stdtrit  # Student t cdf / quantile; lighter to import than scipy.stats
from threadpoolctl import threadpool_limits

from .._deprecation import renamed_arguments
from ..data.checks import (
    check_bool,
    check_choice,
    check_conf_level,
    first_labels,
    require_columns,
    require_numeric,
    table_and_text,
)
from ..errors import BoundaryWarning, ConvergenceWarning, DataWarning, IdentificationError, OptionError, SchemaError
from ..results import Convergence, make_provenance
from .ar1 import bic as ar1_bic
from .ar1 import lags, sign_identified, whiten
from .crossed import fit_sparse_design, nested_engine_fits, unweight_result, weight_design, weight_values
from .design import Design, build_design
from .formula import parse_formula
from .inference import finish_inference
from .model_frame import model_frame
from .optimizer import DECREASE_TOL, OptimizerRun, bobyqa, check_optimum, lbfgsb, probe_boundary
from .result import PARAM_COLUMNS, VARCOMP_COLUMNS, MixedResult
from .satterthwaite import (
    remember_varpar_derivatives,
    richardson_gen_d,
    richardson_jacobian,
    satterthwaite_df,
    varpar_covariance,
)

SINGULAR_TOL = 1e-4      # lme4's isSingular tolerance on bounded theta elements
DF_TOL = 1e-4            # Satterthwaite df up to n (1 + DF_TOL) are n within numerical accuracy (ML: df = n)


# ---------------------------------------------------------------------------------------------- structure
@dataclass
class _Blocks:
    """Rows regrouped per client (padded) and clients grouped per therapist, for batched elimination."""

    W: np.ndarray              # (m, T, k) padded rows [Z1, Z2, X, y], client-major, therapist-contiguous
    mask: np.ndarray           # (m, T) True for real rows
    time: np.ndarray | None    # (m, T) session times (AR(1) only)
    q1: int
    q2: int
    p: int
    starts2: np.ndarray        # start index (in client order) of each therapist's clients
    client_order: np.ndarray   # client codes in block order
    outer_codes: np.ndarray    # therapist code of each block (for ranef)
    row_pos: tuple[np.ndarray, np.ndarray]  # (client block, slot) of each model-frame row


def _blocks(design: Design, times: np.ndarray | None) -> _Blocks:
    f1 = design.factors[0]
    n, p = design.X.shape
    m = len(f1.levels)
    if len(design.factors) == 2:
        outer = design.outer_of_inner
        client_order = np.lexsort((np.arange(m), outer))
        Z2 = design.factors[1].Z
    else:
        outer = np.zeros(m, dtype=np.int64)
        client_order = np.arange(m)
        Z2 = np.empty((n, 0))
    rank = np.empty(m, dtype=np.int64)
    rank[client_order] = np.arange(m)
    block = rank[f1.codes]
    key2 = times if times is not None else np.arange(n)
    rows = np.lexsort((np.arange(n), key2, block))
    counts = np.bincount(block, minlength=m)
    T = int(counts.max())
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
    slot = np.empty(n, dtype=np.int64)
    slot[rows] = np.arange(n) - starts[block[rows]]
    k = f1.q + Z2.shape[1] + p + 1
    W = np.zeros((m, T, k))
    W[block, slot] = np.column_stack([f1.Z, Z2, design.X, design.y])
    mask = np.zeros((m, T), dtype=bool)
    mask[block, slot] = True
    tt = None
    if times is not None:
        tt = np.zeros((m, T))
        tt[block, slot] = times
    outer_sorted = outer[client_order]
    starts2 = np.flatnonzero(np.r_[True, outer_sorted[1:] != outer_sorted[:-1]])
    return _Blocks(W, mask, tt, f1.q, Z2.shape[1], p, starts2, client_order, outer_sorted, (block, slot))


def _chol_forward(A: np.ndarray, B: np.ndarray) -> tuple[float, np.ndarray]:
    """Batched Cholesky C Cᵀ = A and W = C⁻¹B for blocks stored last-axis-major: A (q, q, m), B (q, r, m).

    Returns (Σ log|C|², W). Loops run over the block size q (1–3 in practice); each step is a vector
    operation over all m blocks on contiguous memory, much faster than one LAPACK call per 2×2 block.
    Raises LinAlgError if a block is not positive definite.
    """
    q = A.shape[0]
    if q == 1:  # closed forms for the common block sizes: fewer numpy calls per evaluation
        a = A[0, 0]
        if not np.all(a > 0):
            raise np.linalg.LinAlgError("block not positive definite")
        return float(np.log(a).sum()), B / np.sqrt(a)
    if q == 2:
        a00, a10, a11 = A[0, 0], A[1, 0], A[1, 1]
        if not np.all(a00 > 0):
            raise np.linalg.LinAlgError("block not positive definite")
        c00 = np.sqrt(a00)
        c10 = a10 / c00
        d = a11 - c10 * c10
        if not np.all(d > 0):
            raise np.linalg.LinAlgError("block not positive definite")
        c11 = np.sqrt(d)
        W0 = B[0] / c00
        W = np.stack([W0, (B[1] - c10 * W0) / c11])
        return float(np.log(a00).sum() + np.log(d).sum()), W
    C = np.zeros_like(A)
    W = np.empty_like(B)
    for j in range(q):
        d = A[j, j] - (C[j, :j] ** 2).sum(axis=0)
        if np.any(d <= 0) or not np.all(np.isfinite(d)):
            raise np.linalg.LinAlgError("block not positive definite")
        C[j, j] = np.sqrt(d)
        for i in range(j + 1, q):
            C[i, j] = (A[i, j] - (C[i, :j] * C[j, :j]).sum(axis=0)) / C[j, j]
        W[j] = (B[j] - np.einsum("km,krm->rm", C[j, :j], W[:j])) / C[j, j]
    return 2.0 * np.log(np.diagonal(C, axis1=0, axis2=1)).sum(), W


def _inv_small(A: np.ndarray) -> tuple[np.ndarray, float]:
    """Inverses of SPD blocks stored last-axis-major (q, q, m) and Σ log-determinants (closed form for q ≤ 2)."""
    q = A.shape[0]
    if q == 1:
        return 1.0 / A, float(np.log(A[0, 0]).sum())
    if q == 2:
        det = A[0, 0] * A[1, 1] - A[1, 0] * A[0, 1]
        inv = np.empty_like(A)
        inv[0, 0], inv[1, 1] = A[1, 1] / det, A[0, 0] / det
        inv[0, 1], inv[1, 0] = -A[0, 1] / det, -A[1, 0] / det
        return inv, float(np.log(det).sum())
    At = A.transpose(2, 0, 1)
    return np.linalg.inv(At).transpose(1, 2, 0), float(np.linalg.slogdet(At)[1].sum())


def _lt_stack(L: np.ndarray, X: np.ndarray) -> np.ndarray:
    """Lᵀ X for a stack X (a, c, m) stored last-axis-major: one GEMM."""
    a, c, m = X.shape
    return (L.T @ X.reshape(a, c * m)).reshape(L.shape[1], c, m)


@dataclass(frozen=True, eq=False)
class ThetaLayout:
    """Which θ element is which: its grouping factor and its (row, column) in that factor's Λ.

    θ holds the lower triangle of every relative covariance factor Λ_f, column by column, factor after factor
    (lme4's order, Bates et al. 2015, sec. 3.1). Diagonal elements are bounded below by 0, the others are
    free; lme4 starts from Λ_f = I.

    >>> layout = ThetaLayout.for_sizes([2, 1])        # (1 + session | client) + (1 | therapist)
    >>> len(layout), layout.factor.tolist(), layout.row.tolist(), layout.col.tolist()
    (4, [0, 0, 0, 1], [0, 1, 1, 0], [0, 0, 1, 0])
    >>> layout.lower.tolist(), layout.start.tolist()
    ([0.0, -inf, 0.0, 0.0], [1.0, 0.0, 1.0, 1.0])
    >>> layout.lambdas(np.array([1.0, 0.5, 2.0, 3.0]))[0].tolist()
    [[1.0, 0.0], [0.5, 2.0]]
    """

    sizes: tuple[int, ...]
    factor: np.ndarray   # grouping factor (position in ``sizes``) of each θ element
    row: np.ndarray      # its row in that factor's Λ
    col: np.ndarray      # its column

    @classmethod
    def for_sizes(cls, sizes) -> ThetaLayout:
        """The layout for factors with ``sizes[f]`` random effects each."""
        factor, row, col = [], [], []
        for f, q in enumerate(sizes):
            for j in range(q):
                for i in range(j, q):
                    factor.append(f)
                    row.append(i)
                    col.append(j)
        as_int = lambda v: np.array(v, dtype=int)  # noqa: E731
        return cls(tuple(int(q) for q in sizes), as_int(factor), as_int(row), as_int(col))

    def __len__(self) -> int:
        return len(self.factor)

    @property
    def diagonal(self) -> np.ndarray:
        """True for the elements on a diagonal of Λ (the bounded ones: relative standard deviations)."""
        return self.row == self.col

    @property
    def lower(self) -> np.ndarray:
        """Lower bounds: 0 on diagonals, −∞ elsewhere."""
        return np.where(self.diagonal, 0.0, -np.inf)

    @property
    def start(self) -> np.ndarray:
        """lme4's start: Λ_f = I."""
        return np.where(self.diagonal, 1.0, 0.0)

    @cached_property
    def _positions(self) -> tuple[np.ndarray, ...]:
        return tuple(np.flatnonzero(self.factor == f) for f in range(len(self.sizes)))

    def of_factor(self, f: int) -> np.ndarray:
        """Positions in θ of factor ``f``'s elements."""
        return self._positions[f]

    def lambdas(self, theta: np.ndarray) -> list[np.ndarray]:
        """The Λ_f matrices for a θ vector."""
        out = []
        for q, at in zip(self.sizes, self._positions):
            L = np.zeros((q, q))
            L[self.row[at], self.col[at]] = theta[at]
            out.append(L)
        return out

    def gather(self, matrices: list[np.ndarray]) -> np.ndarray:
        """The θ-shaped vector of elements ``matrices[f][row, col]`` (e.g. a gradient with respect to each Λ_f)."""
        return np.concatenate([M[self.row[at], self.col[at]] for M, at in zip(matrices, self._positions)])

    def column_below(self) -> dict[int, np.ndarray]:
        """For every diagonal θ element: the θ positions below it in the same column of its Λ."""
        out = {}
        for k in np.flatnonzero(self.diagonal):
            below = (self.factor == self.factor[k]) & (self.col == self.col[k]) & (self.row > self.row[k])
            out[int(k)] = np.flatnonzero(below)
        return out


# ---------------------------------------------------------------------------------------------- core
class ProfiledDeviance:
    """The profiled deviance of one design as a function of its variance parameters (lme4's
    ``mkLmerDevfun``): θ, and φ last under a residual AR(1).

    ``layout`` says which θ element is which; ``lower``, ``upper`` and ``start`` are the bounds and the start
    of the whole parameter vector (θ [, φ]); :meth:`deviance`, :meth:`deviance_and_gradient` (independent
    residuals) and the pieces the standard errors need are evaluated by the nested block elimination of the
    module docstring.
    """

    def __init__(self, design: Design, reml: bool, times: np.ndarray | None):
        self.design = design
        self.reml = reml
        self.ar1 = times is not None
        self.b = _blocks(design, times)
        self.layout = ThetaLayout.for_sizes([self.b.q1] + ([self.b.q2] if self.b.q2 else []))
        self.n_theta = len(self.layout)
        self.column_below = self.layout.column_below()
        self.lower, self.upper, self.start = self.layout.lower, np.full(self.n_theta, np.inf), self.layout.start
        if self.ar1:  # φ of the residual AR(1), strictly inside (−1, 1), started at 0.2
            self.lower = np.r_[self.lower, -0.999999]
            self.upper = np.r_[self.upper, 0.999999]
            self.start = np.r_[self.start, 0.2]
        self.n, self.p = design.X.shape
        self._G_cache: tuple[float, np.ndarray, float] | None = None
        self._split_cache = None
        m = len(self.b.client_order)
        self._ther_of_block = np.repeat(np.arange(len(self.b.starts2)), np.diff(np.r_[self.b.starts2, m]))
        if not self.ar1:
            self.G = np.einsum("mti,mtj->mij", self.b.W, self.b.W)
            self.logdetR = 0.0
        if self.ar1:
            self._d, self._valid = lags(self.b.time, self.b.mask)

    # -- AR(1) whitening
    def gram(self, phi: float | None) -> tuple[np.ndarray, float]:
        if not self.ar1:
            return self.G, 0.0
        if self._G_cache is not None and self._G_cache[0] == phi:
            return self._G_cache[1], self._G_cache[2]
        W, logdetR = whiten(self.b.W, self.b.mask, self._d, self._valid, phi)
        G = np.einsum("mti,mtj->mij", W, W)
        self._G_cache = (phi, G, logdetR)
        return G, logdetR

    def split(self, par: np.ndarray) -> tuple[np.ndarray, float | None]:
        if self.ar1:
            return par[:-1], float(par[-1])
        return par, None

    # -- one PLS solve
    def _split_gram(self, phi):
        """G_cc (q1,q1,m) and G_cr (q1,r,m) per client (last axis = client) and therapist sums of G_rr (J,r,r)."""
        if self._split_cache is not None and self._split_cache[0] == phi:
            return self._split_cache[1]
        G, logdetR = self.gram(phi)
        q1 = self.b.q1
        out = (np.ascontiguousarray(G[:, :q1, :q1].transpose(1, 2, 0)),
               np.ascontiguousarray(G[:, :q1, q1:].transpose(1, 2, 0)),
               np.add.reduceat(G[:, q1:, q1:], self.b.starts2, axis=0), logdetR)
        self._split_cache = (phi, out)
        return out

    def solve(self, theta: np.ndarray, phi: float | None, full: bool = False):
        """Eliminate client then therapist blocks; return log|L|², the final (p+1)² matrix and pieces.

        With ``full=True`` the pieces needed for the BLUPs (A⁻¹B per client and per therapist) are returned.
        """
        Gcc, Gcr, Grr_t, logdetR = self._split_gram(phi)
        q1, q2 = self.b.q1, self.b.q2
        Ls = self.layout.lambdas(theta)
        L1 = Ls[0]
        r = Gcr.shape[1]
        Tr = np.eye(r)
        if q2:
            Tr[:q2, :q2] = Ls[1]
        A1 = _lt_stack(L1, _lt_stack(L1, Gcc).transpose(1, 0, 2).copy())  # Λ1ᵀ G_cc Λ1 (symmetric)
        A1[np.arange(q1), np.arange(q1)] += 1.0
        B1 = _lt_stack(L1, Gcr)                                            # Λ1ᵀ G_cr
        if q2:
            B1 = np.einsum("irm,rs->ism", B1, Tr)
        logdet1, W1 = _chol_forward(A1, B1)                                # W1 = C1⁻¹ B1
        Hrr = Tr.T @ Grr_t @ Tr                                            # (J, r, r)
        pieces = {"Ls": Ls}
        if full:
            pieces["A1inv_B1"] = np.linalg.solve(A1.transpose(2, 0, 1), B1.transpose(2, 0, 1))
        if q2:
            WtW = np.add.reduceat(np.einsum("qim,qjm->mij", W1, W1), self.b.starts2, axis=0)
            S_t = Hrr - WtW
            A2 = np.ascontiguousarray((S_t[:, :q2, :q2] + np.eye(q2)).transpose(1, 2, 0))
            B2 = np.ascontiguousarray(S_t[:, :q2, q2:].transpose(1, 2, 0))
            logdet2, W2 = _chol_forward(A2, B2)
            F = S_t[:, q2:, q2:].sum(axis=0) - np.tensordot(W2, W2, axes=([0, 2], [0, 2]))
            if full:
                pieces["A2inv_B2"] = np.linalg.solve(A2.transpose(2, 0, 1), B2.transpose(2, 0, 1))
            logdet = logdet1 + logdet2
        else:
            F = Hrr.sum(axis=0) - np.tensordot(W1, W1, axes=([0, 2], [0, 2]))
            logdet = logdet1
        return logdet, F, logdetR, pieces

    def deviance(self, par: np.ndarray) -> float:
        theta, phi = self.split(par)
        try:
            logdet, F, logdetR, _ = self.solve(theta, phi)
            CF = np.linalg.cholesky(F)
        except np.linalg.LinAlgError:
            return np.inf
        p, n = self.p, self.n
        r2 = CF[p, p] ** 2
        if self.reml:
            ldx = 2.0 * np.log(np.diag(CF)[:p]).sum()
            return logdet + ldx + (n - p) * (1 + np.log(2 * np.pi * r2 / (n - p))) + logdetR
        return logdet + n * (1 + np.log(2 * np.pi * r2 / n)) + logdetR

    def deviance_and_gradient(self, theta: np.ndarray) -> tuple[float, np.ndarray]:
        """Profiled deviance and its analytic gradient in θ (independent residuals only).

        With K_t the therapist-level matrix left after eliminating the clients and F the final (p+1)² matrix
        (see the module docstring), write the deviance as Σ log|A_i| + Σ log|A2_t| + φ(F) with
        φ(F) = [log|F_xx|] + c·log r² (c = n − p under REML, n under ML). Then ∂φ/∂F = Φ =
        [F_xx⁻¹ ⊕ 0] + c·bbᵀ/r², b = (β̂, −1); the therapist step passes Ψ_t = ∂/∂K_t =
        [[P + UΦUᵀ, −UΦ], [−ΦUᵀ, Φ]] (P = Λ₂A2⁻¹Λ₂ᵀ, U = PK_cr) down to the clients, and for each level
        ∂/∂Λ = 2 Σ G_cc Λ A⁻¹ − 2 Σ (G_cr − G_cc Λ V) Ψ Vᵀ with V = A⁻¹ΛᵀG_cr.
        """
        Gcc, Gcr, Grr_t, _ = self._split_gram(None)
        q1, q2, p, n = self.b.q1, self.b.q2, self.p, self.n
        Ls = self.layout.lambdas(theta)
        L1 = Ls[0]
        A = _lt_stack(L1, _lt_stack(L1, Gcc).transpose(1, 0, 2).copy())
        A[np.arange(q1), np.arange(q1)] += 1.0
        Ainv, logdet = _inv_small(A)
        B = _lt_stack(L1, Gcr)
        V = np.einsum("abm,bcm->acm", Ainv, B)
        K = Grr_t - np.add.reduceat(np.einsum("aim,ajm->mij", B, V), self.b.starts2, axis=0)
        if q2:
            L2 = Ls[1]
            Kcc, Kcr, Krr = K[:, :q2, :q2], K[:, :q2, q2:], K[:, q2:, q2:]
            A2 = L2.T @ Kcc @ L2 + np.eye(q2)
            A2inv = np.linalg.inv(A2)
            logdet += float(np.linalg.slogdet(A2)[1].sum())
            V2 = A2inv @ (L2.T @ Kcr)
            F = (Krr - np.swapaxes(Kcr, 1, 2) @ L2 @ V2).sum(axis=0)
        else:
            F = K.sum(axis=0)
        CF = np.linalg.cholesky(F)
        r2 = CF[p, p] ** 2
        c = n - p if self.reml else n
        beta = np.linalg.solve(F[:p, :p], F[:p, p])
        bvec = np.r_[beta, -1.0]
        Phi = c * np.outer(bvec, bvec) / r2
        if self.reml:
            Phi[:p, :p] += np.linalg.inv(F[:p, :p])
            dev = logdet + 2.0 * np.log(np.diag(CF)[:p]).sum() + c * (1 + np.log(2 * np.pi * r2 / c))
        else:
            dev = logdet + c * (1 + np.log(2 * np.pi * r2 / c))
        grad_parts = []
        if q2:
            P = L2 @ A2inv @ L2.T
            U = P @ Kcr
            UPhi = U @ Phi
            Psi = np.empty_like(K)
            Psi[:, :q2, :q2] = P + UPhi @ np.swapaxes(U, 1, 2)
            Psi[:, :q2, q2:] = -UPhi
            Psi[:, q2:, :q2] = -np.swapaxes(UPhi, 1, 2)
            Psi[:, q2:, q2:] = Phi
            R2 = Kcr - Kcc @ L2 @ V2
            D2 = 2.0 * (Kcc @ L2 @ A2inv).sum(axis=0) - 2.0 * (R2 @ Phi @ np.swapaxes(V2, 1, 2)).sum(axis=0)
            Psi_c = Psi[self._ther_of_block].transpose(1, 2, 0)
            R = Gcr - np.einsum("abm,bc,cdm->adm", Gcc, L1, V)
            D1 = 2.0 * np.einsum("abm,bc,cdm->ad", Gcc, L1, Ainv) - 2.0 * np.einsum(
                "aim,ijm,bjm->ab", R, Psi_c, V)
            grad_parts = [D1, D2]
        else:
            R = Gcr - np.einsum("abm,bc,cdm->adm", Gcc, L1, V)
            RPhi = np.einsum("aim,ij->ajm", R, Phi)
            D1 = 2.0 * np.einsum("abm,bc,cdm->ad", Gcc, L1, Ainv) - 2.0 * np.einsum("ajm,bjm->ab", RPhi, V)
            grad_parts = [D1]
        grad = self.layout.gather(grad_parts)
        return float(dev), grad

    def deviance_parts(self, par: np.ndarray) -> np.ndarray:
        """(a, r²) of lmerTest's deviance D = a + r²/σ² + nₑ log(2πσ²): a = log|L|² [+ log|R_X|²] + log|R|."""
        theta, phi = self.split(par)
        logdet, F, logdetR, _ = self.solve(theta, phi)
        CF = np.linalg.cholesky(F)
        a = logdet + logdetR
        if self.reml:
            a += 2.0 * np.log(np.diag(CF)[:self.p]).sum()
        return np.array([a, CF[self.p, self.p] ** 2])

    def xtx_inverse(self, par: np.ndarray) -> np.ndarray:
        """(R_XᵀR_X)⁻¹ at θ (and φ): cov(β̂) / σ²."""
        theta, phi = self.split(par)
        _, F, _, _ = self.solve(theta, phi)
        return np.linalg.inv(F[:self.p, :self.p])

    def deviance_varpar(self, varpar: np.ndarray) -> float:
        """Deviance with σ not profiled (lmerTest's ``devfun_vp``); varpar = (θ, [φ,] σ)."""
        theta, phi = self.split(varpar[:-1])
        sigma2 = varpar[-1] ** 2
        logdet, F, logdetR, _ = self.solve(theta, phi)
        CF = np.linalg.cholesky(F)
        p, n = self.p, self.n
        r2 = CF[p, p] ** 2
        dev = logdet + r2 / sigma2 + n * np.log(2 * np.pi * sigma2) + logdetR
        if self.reml:
            dev += 2.0 * np.log(np.diag(CF)[:p]).sum() - p * np.log(2 * np.pi * sigma2)
        return dev

    def vcov_beta_varpar(self, varpar: np.ndarray) -> np.ndarray:
        """cov(β̂) = σ² (R_XᵀR_X)⁻¹ as a function of varpar (lmerTest's ``get_covbeta``)."""
        theta, phi = self.split(varpar[:-1])
        _, F, _, _ = self.solve(theta, phi)
        return varpar[-1] ** 2 * np.linalg.inv(F[:self.p, :self.p])


# ---------------------------------------------------------------------------------------------- public
@renamed_arguments(level="conf_level", time="session")
def fit_mlm(data: pd.DataFrame, formula: str, *, reml: bool = True, correlation: str | None = None,
            session: str = "session", weights: str | None = None, ddf: str = "satterthwaite",
            vcov: str = "model", conf_level: float = 0.95) -> MixedResult:
    """Fit a two- or three-level linear mixed model by REML or ML, as lme4's ``lmer`` + lmerTest.

    Model (see :mod:`allianceStats.mixed.engine`): ``y = Xβ + Zb + ε`` with correlated random effects per
    grouping factor, ``b ~ N(0, σ²ΛΛᵀ)``, ``ε ~ N(0, σ²R)``; clients nested in therapists. Estimation by
    the profiled deviance over the relative covariance factor θ (Bates, Mächler, Bolker & Walker 2015,
    J. Stat. Softw. 67(1)); Satterthwaite df for t tests (Kuznetsova, Brockhoff & Christensen 2017,
    J. Stat. Softw. 82(13)); optional residual AR(1) within client (Pinheiro & Bates 2000, *Mixed-Effects
    Models in S and S-PLUS*, sec. 5.3; nlme ``corAR1(form = ~ session | client)``).

    Parameters
    ----------
    data : pandas.DataFrame
        Long table, one row per session; never modified. Rows with a missing value in a used column are
        dropped (counted in ``n_dropped``).
    formula : str
        lme4 syntax, e.g. ``"outcome ~ alliance_within_lag1 + alliance_between + session0 +
        (1 + session0 | client) + (1 | therapist)"`` (see :mod:`allianceStats.mixed.formula`).
    reml : bool, default True
        REML (as lme4) or maximum likelihood (needed to compare models with different fixed effects).
    correlation : {None, "ar1"}, default None
        ``"ar1"``: residual AR(1) within the innermost grouping factor (the client), in ``session`` time.
    session : str, default "session"
        Column of integer session numbers for ``correlation="ar1"`` (gaps allowed: corr = φ^|t−s|). Under
        AR(1) the df are Satterthwaite's with φ as one more variance parameter (nlme reports containment df
        instead; these df are not validated against R, the estimates, SEs, logLik, AIC and BIC are: BIC with
        nlme's log(N − p) under REML). Under ML the standard errors are lme4's, smaller than nlme's by
        √((N − p)/N) (:mod:`allianceStats.mixed.ar1`). When every session gap is even (2, 4, 6), φ's sign is not
        identified and a DataWarning says so.
    weights : str, optional
        Column of prior weights (lme4's ``weights=``): the residual variance of a row is σ²/weight.
    ddf : {"satterthwaite", "kenward-roger"}, default "satterthwaite"
        Degrees of freedom of the t tests in ``params`` (lmerTest's ``summary(fit, ddf=)``): Satterthwaite's,
        or Kenward–Roger's with the Kenward–Roger adjusted covariance for the standard errors (REML fits;
        :mod:`allianceStats.mixed.kenward_roger`). Tests of whole terms: :func:`allianceStats.mixed.anova`.
    vcov : {"model", "CR2"}, default "model"
        Standard errors from the model, or cluster-robust CR2 ones with clubSandwich's Satterthwaite df,
        clustered by the outermost grouping factor (:func:`allianceStats.mixed.coef_test` chooses the cluster).
    conf_level : float, default 0.95
        Level of the Wald t intervals in ``params``.

    Returns
    -------
    MixedResult
        Estimates, variance components, BLUPs and the result protocol (``converged``, ``n_obs``,
        ``conf_level``, ``provenance``); every attribute is listed in :mod:`allianceStats.mixed.result`.

    Raises
    ------
    SchemaError
        ``data`` is not a DataFrame, lacks a column of the formula, or a response / random-slope column is
        not numeric, or holds infinite values; the response is constant; a text predictor has more than 50
        distinct values (give it as a pandas Categorical to fit it as a factor anyway).
    FormulaError
        The formula cannot be read (the message quotes it).
    OptionError
        ``reml``, ``correlation`` or ``conf_level`` has a value not listed above.
    IdentificationError
        The design cannot be fitted (not nested, rank-deficient or nearly collinear fixed effects — the
        message names the columns —, too few groups or rows, a response reproduced exactly by the fixed or
        the fixed and random effects, so that no residual variance is left).

    Warns
    -----
    ConvergenceWarning
        The optimum failed its check (``converged`` is False; estimates are returned), or Satterthwaite df
        came out larger than the number of observations: those df, p-values and intervals are NaN.
    BoundaryWarning
        A singular fit (``singular`` is True).

    Notes
    -----
    Validated against lme4 1.1-31 / lmerTest 3.1-3 (sleepstudy; a simulated 3-level unbalanced set with
    dropout; a singular fit) and nlme 3.1-162 (corAR1): estimates and variance components to 1e-5
    relative, SEs and df to 1e-4, deviance to 1e-6 (``tests/mixed/test_reference_r.py``). lme4's
    ``sleepstudy`` reproduced step by step: ``analyses/07_reproduce_sleepstudy.py``. The formulas lme4 users
    type (transformations, ``offset()``, ``a*b*c``, ``g1/g2``, ``g1:g2``, ``||``, three grouping levels, random
    slopes of factors, ``weights=``), nlme's corAR1 conventions, Kenward–Roger and CR2 inference against lme4,
    lmerTest, pbkrtest, clubSandwich and nlme: ``tests/mixed/test_lme4_habits.py``, ``test_anova.py``,
    ``test_cr2.py`` (fixtures in ``tests/mixed/fixtures/habits``).

    Before 0.2.0 the call was ``fit_mlm(formula, data, level=..., time=...)``; that order and those names
    still work, with a FutureWarning, until 0.3.0.

    Examples
    --------
    Sessions in clients in therapists (simulated: true slope of x 0.5, of session 0.2):

    >>> import numpy as np, pandas as pd
    >>> rng = np.random.default_rng(1)
    >>> ther = np.repeat(np.arange(10), 60); cli = np.repeat(np.arange(100), 6); s = np.tile(np.arange(6.0), 100)
    >>> df = pd.DataFrame({"therapist": ther.astype(str), "client": cli.astype(str), "session0": s,
    ...                    "x": rng.normal(size=600)})
    >>> df["y"] = (1 + 0.5 * df.x + 0.2 * s + rng.normal(0, 0.5, 10)[ther] + rng.normal(0, 1, 100)[cli]
    ...            + rng.normal(0, 0.2, 100)[cli] * s + rng.normal(size=600))
    >>> res = fit_mlm(df, "y ~ x + session0 + (1 + session0 | client) + (1 | therapist)")
    >>> print(res.params[["term", "estimate", "std_error", "df"]].round(2).to_string(index=False))
           term  estimate  std_error     df
    (Intercept)      0.90       0.23   9.52
              x      0.55       0.05 501.72
       session0      0.18       0.03  98.94
    >>> print(res.varcomp.round(3).to_string(index=False))
        group        var1     var2  vcov  sdcor
       client (Intercept)      NaN 1.188  1.090
       client    session0      NaN 0.036  0.190
       client (Intercept) session0 0.033  0.159
    therapist (Intercept)      NaN 0.362  0.601
     Residual         NaN      NaN 1.107  1.052
    >>> res.converged, res.singular, res.n_obs, res.n_groups
    (True, False, 600, {'client': 100, 'therapist': 10})
    """
    started = time.perf_counter()
    data, formula = table_and_text(data, formula, where="fit_mlm")
    reml = check_bool("reml", reml)
    check_choice("correlation", correlation, (None, "ar1"))
    check_choice("ddf", ddf, ("satterthwaite", "kenward-roger"))
    check_choice("vcov", vcov, ("model", "CR2"))
    conf_level = check_conf_level(conf_level)
    spec = parse_formula(formula, extended=True)
    extra = (*spec.data_columns, *((session,) if correlation else ()), *((weights,) if weights else ()))
    frame, spec = model_frame(spec, data, extra_columns=extra)                 # lme4: model.frame
    if weights is not None:
        if correlation:
            raise OptionError("weights= and correlation='ar1' cannot be combined (nlme's varFixed with corAR1 is "
                              "not implemented); fit one of them.")
        weight_values(frame, weights)
    if not nested_engine_fits(spec, frame):                                    # crossed, 3+ factors
        if correlation:
            raise OptionError("correlation='ar1' needs a nested design with at most two grouping factors "
                              f"(clients in therapists); {formula!r} has {len(spec.random)} random terms.")
        result = fit_sparse_design(spec, frame, data, reml=reml, conf_level=conf_level, weights=weights,
                                   started=started, extra_columns=extra)
        return finish_inference(result, ddf=ddf, vcov=vcov)
    design, times = _model_design(spec, frame, correlation, session, extra)   # lme4: lFormula
    unweighted = design
    if weights is not None:
        w = design.model_frame[weights].to_numpy(dtype=float)
        design = weight_design(design, w)
    # small dense blocks: BLAS threads only add overhead (measured 5x slower on a busy 2-core machine); the
    # limit is restored on leaving the block
    with threadpool_limits(limits=1, user_api="blas"):
        try:
            deviance = ProfiledDeviance(design, reml, times)                   # lme4: mkLmerDevfun
            run = _optimize(deviance)                                          # lme4: optimizeLmer
            convergence, singular = _check_convergence(deviance, run)          # lme4: checkConv
            result = _assemble(deviance, run, convergence, singular, spec, data, conf_level, correlation,
                               session, started)
        except np.linalg.LinAlgError as exc:
            raise IdentificationError(_why_not_positive_definite(design, spec)) from exc
    if weights is not None:
        result = unweight_result(result, unweighted, w, weights)
    for message in result.convergence.warnings:
        category = BoundaryWarning if message.startswith("boundary") else ConvergenceWarning
        warnings.warn(message, category, stacklevel=3)  # 3: past the renamed_arguments wrapper, at the caller
    return finish_inference(result, ddf=ddf, vcov=vcov)


def _model_design(spec, data: pd.DataFrame, correlation: str | None, session: str, extra: tuple = ()):
    """Model matrices of the formula on the complete rows, and the session times of an AR(1) residual."""
    ar1 = correlation == "ar1"
    if ar1:
        require_columns(data, [session], where="fit_mlm")
        require_numeric(data, [session], where="fit_mlm")
    design = build_design(spec, data, extra_columns=tuple(dict.fromkeys(extra)), where="fit_mlm")
    if not ar1:
        return design, None
    times = design.model_frame[session].to_numpy(dtype=float)
    if not sign_identified(times, design.model_frame[design.factors[0].name].astype(str).to_numpy()):
        warnings.warn(f"correlation='ar1': every gap between consecutive values of {session!r} within a client is "
                      "even, so the likelihood depends on phi only through phi^2 and its sign is not identified "
                      "(the estimate may be -phi). Number sessions consecutively (1, 2, 3, ...) if they are equally "
                      "spaced.", DataWarning, stacklevel=4)
    fractional = times != np.round(times)
    if fractional.any():
        rows = design.model_frame.index[fractional]
        raise SchemaError([f"column {session!r} has non-integer session numbers at row(s) {first_labels(rows)}; "
                           "correlation='ar1' needs integer session numbers (session=...)"], source="fit_mlm")
    return design, times


def _why_not_positive_definite(design: Design, spec) -> str:
    """The message for a design whose cross-product matrices are not positive definite at the estimate.

    The checks of :func:`~allianceStats.mixed.design.build_design` catch a constant response, collinear fixed
    effects and an exact fixed-effects fit; what is left is (nearly) no residual variance once the random
    effects are in: within every client, the response is a linear function of that client's random-effect
    covariates and predictors (e.g. it does not vary within client).
    """
    b = _blocks(design, None)
    W = b.W
    G = np.einsum("mti,mtj->mij", W, W)
    rest = np.linalg.pinv(G[:, :-1, :-1], hermitian=True)
    resid = G[:, -1, -1] - np.einsum("mi,mij,mj->m", G[:, -1, :-1], rest, G[:, -1, :-1])
    y = design.y
    tss = float(np.sum((y - y.mean()) ** 2))
    client = design.factors[0].name
    if float(np.sum(np.clip(resid, 0.0, None))) <= 1e-8 * tss:
        return (f"the model cannot be fitted: within every {client}, {spec.response!r} is (nearly) an "
                f"exact linear function of the predictors and random-effect terms of that {client} (for example "
                f"it does not vary within {client}), so no residual variance is left to estimate. Model it at "
                f"the {client} level (one row per {client}), or drop random slopes.")
    return ("the model cannot be fitted: a cross-product matrix of the design is not positive definite at the "
            f"estimate (numerical rank deficiency), in {spec.text!r}. Predictors may be nearly collinear, or the "
            "fixed and random effects together nearly reproduce the response. Centre and scale the predictors, "
            "remove near-duplicate predictors, or simplify the random part.")


def _minimise_from(deviance: ProfiledDeviance, start: np.ndarray) -> OptimizerRun:
    """One checked run from ``start``: L-BFGS-B with the analytic gradient, BOBYQA under AR(1)."""
    if deviance.ar1:
        run = bobyqa(deviance.deviance, start, deviance.lower, deviance.upper)
    else:
        run = lbfgsb(deviance.deviance_and_gradient, start, deviance.lower, deviance.upper)
    return check_optimum(deviance.deviance, run, deviance.lower, deviance.upper)


def _optimize(deviance: ProfiledDeviance) -> OptimizerRun:
    """Minimise the profiled deviance from lme4's start, with the restarts of the module docstring.

    The returned run is the best point found; its ``evaluations`` and ``restarts`` count every run.
    """
    fun, lower, upper = deviance.deviance, deviance.lower, deviance.upper
    best = _minimise_from(deviance, deviance.start)
    evaluations, restarts = best.evaluations, 0
    # the verdict is the check of the optimum, not the optimiser's flag (L-BFGS-B, for one, reports an
    # "abnormal" line search when it cannot improve an already optimal point)
    if not best.converged:
        # a fresh derivative-free BOBYQA run from the current point (lme4 restarts too when a run ends badly)
        again = check_optimum(fun, bobyqa(fun, best.x, lower, upper), lower, upper)
        evaluations += again.evaluations
        restarts += 1
        if again.deviance <= best.deviance:
            best = again
    # A diagonal θ at 0 is a stationary point of the deviance (it depends on that column of Λ only
    # through its square), so gradient methods cannot leave it even when it is a maximum along that
    # direction. Probe inwards and restart from a better point (lme4's restart_edge does the same).
    for _ in range(3):
        start, _, n_probe = probe_boundary(fun, best.x, best.deviance, lower, deviance.column_below)
        evaluations += n_probe
        if start is None:
            break
        again = _minimise_from(deviance, start)
        evaluations += again.evaluations
        restarts += 1
        if not again.deviance < best.deviance:
            break
        best = again
    return dataclasses.replace(best, evaluations=evaluations, restarts=restarts)


def _check_convergence(deviance: ProfiledDeviance, run: OptimizerRun) -> tuple[Convergence, bool]:
    """The verdict on the optimum (:class:`Convergence`, with the warnings to raise) and lme4's ``isSingular``."""
    messages = []
    if not run.converged:
        messages.append(f"the optimiser did not converge ({run.message}; a Newton step would lower the deviance "
                        f"by {run.decrease:.2g} > {DECREASE_TOL}; max |gradient| {run.max_gradient:.2g}); "
                        "estimates may be unreliable. Rescale covariates (e.g. centre session) or simplify the "
                        "random part.")
    theta = run.x[:deviance.n_theta]
    singular = bool(np.any(theta[deviance.layout.diagonal] < SINGULAR_TOL))
    if singular:
        messages.append("boundary (singular) fit: a random-effect variance is (near) zero or a correlation is "
                        "±1; consider a simpler random part (lme4's isSingular, tol 1e-4).")
    return Convergence(run.converged, run.evaluations, run.optimizer, run.describe(), tuple(messages)), singular


def _varpar_derivatives(prob: ProfiledDeviance, x: np.ndarray, sigma: float) -> tuple[np.ndarray, np.ndarray]:
    """Hessian of lmerTest's unprofiled deviance D(θ, [φ,] σ) and Jacobian of cov(β̂), as lmerTest needs them.

    D = a(θ) + r²(θ)/σ² + nₑ log(2πσ²) with a = log|L|² [+ log|R_X|²] [+ log|R|] and nₑ = n (ML) or n − p
    (REML). The θ-derivatives of a and r² are numerical (numDeriv's genD scheme, as lmerTest); the σ parts
    are exact: ∂²D/∂σ² = 6r²/σ⁴ − 2nₑ/σ², ∂²D/∂θ∂σ = −2 (∂r²/∂θ)/σ³, and ∂cov(β̂)/∂σ = 2 cov(β̂)/σ.
    This equals differentiating D numerically in all of (θ, σ), with fewer evaluations.
    """
    n_e = prob.n - prob.p if prob.reml else prob.n
    g, h = richardson_gen_d(prob.deviance_parts, x)          # parts = (a, r²)
    s2 = sigma ** 2
    k = len(x)
    hess = np.zeros((k + 1, k + 1))
    hess[:k, :k] = h[0] + h[1] / s2
    hess[:k, k] = hess[k, :k] = -2.0 * g[1] / sigma ** 3
    r2 = prob.deviance_parts(x)[1]
    hess[k, k] = 6.0 * r2 / s2 ** 2 - 2.0 * n_e / s2
    jac_theta = richardson_jacobian(prob.xtx_inverse, x)    # (p, p, k)
    cov = s2 * prob.xtx_inverse(x)
    jac = np.concatenate([s2 * jac_theta, (2.0 * cov / sigma)[..., None]], axis=2)
    return hess, jac


def _assemble(prob: ProfiledDeviance, run: OptimizerRun, convergence: Convergence, singular: bool, spec, data,
              conf_level: float, correlation: str | None, session: str, started: float) -> MixedResult:
    """Estimates at the optimum (β̂ and its covariance, Satterthwaite df, BLUPs, variance components) in a
    frozen :class:`MixedResult`; a non-positive-definite Hessian adds a warning to ``convergence``."""
    design, reml, x, f = prob.design, prob.reml, run.x, run.deviance
    n, p = prob.n, prob.p
    theta, phi = prob.split(x)
    logdet, F, logdetR, pieces = prob.solve(theta, phi, full=True)
    Fxx, Fxy = F[:p, :p], F[:p, p]
    beta = np.linalg.solve(Fxx, Fxy)
    CF = np.linalg.cholesky(F)
    r2 = CF[p, p] ** 2
    sigma2 = r2 / (n - p) if reml else r2 / n
    sigma = float(np.sqrt(sigma2))
    vcov = sigma2 * np.linalg.inv(Fxx)

    # Satterthwaite (lmerTest): Hessian of the unprofiled deviance in varpar = (theta, [phi,] sigma)
    hess, jac = _varpar_derivatives(prob, x, sigma)
    # lmerTest leaves out Hessian eigenvalues below 1e-8 before inverting; in σ's units that cut is not scale
    # free (a response in the millions has ∂²D/∂σ² ~ n/σ² < 1e-8 and got df of ~14,000 for 100 rows), so
    # the σ coordinate is taken relative to σ̂ for the cut: A = D A_s D, A_s = 2 (D H D)⁺, D = diag(1, …, σ̂).
    # Where every eigenvalue is kept this is exactly 2 H⁻¹, lmerTest's value.
    scale = np.r_[np.ones(len(x)), sigma]
    A_scaled, n_nonpos = varpar_covariance(hess * np.outer(scale, scale))
    A = A_scaled * np.outer(scale, scale)
    df = satterthwaite_df(vcov, jac, A)
    # more df than observations is impossible: the variance-parameter covariance is (near) singular there.
    # Such df are not reported as a number (nor the p-values and intervals that rest on them).
    impossible = ~(df <= n * (1 + DF_TOL))
    df = np.where(impossible, np.nan, df)
    se = np.sqrt(np.diag(vcov))
    tstat = beta / se
    pval = 2 * stdtr(df, -np.abs(tstat))
    tq = stdtrit(df, 0.5 + conf_level / 2)
    params = pd.DataFrame({"term": design.xnames, "estimate": beta, "std_error": se, "df": df,
                           "statistic": tstat, "p_value": pval, "ci_lower": beta - tq * se,
                           "ci_upper": beta + tq * se}, columns=PARAM_COLUMNS)

    # random effects: back-substitution of the block elimination, b = Lambda u
    ranef, random_cov, vc_rows = {}, {}, []
    b = prob.b
    Ls = pieces["Ls"]
    rhs_beta = np.r_[beta, -1.0]  # columns [X, y] of the eliminated system, applied to (beta, -1)
    if b.q2:
        u2 = -(pieces["A2inv_B2"] @ rhs_beta)                  # (J, q2)
        ther_of_block = np.repeat(np.arange(len(b.starts2)), np.diff(np.r_[b.starts2, len(b.client_order)]))
        rest = np.concatenate([u2[ther_of_block], np.broadcast_to(rhs_beta, (len(ther_of_block), p + 1))], axis=1)
    else:
        rest = np.broadcast_to(rhs_beta, (len(b.client_order), p + 1))
    u1 = -np.einsum("mij,mj->mi", pieces["A1inv_B1"], rest)
    b1 = np.empty_like(u1)
    b1[b.client_order] = u1 @ Ls[0].T
    factors = design.factors
    ranef[factors[0].name] = pd.DataFrame(b1, index=pd.Index(factors[0].levels, name=factors[0].name),
                                          columns=factors[0].znames)
    if b.q2:
        outer_levels = b.outer_codes[b.starts2]
        b2 = np.zeros((len(factors[1].levels), b.q2))
        b2[outer_levels] = u2 @ Ls[1].T
        ranef[factors[1].name] = pd.DataFrame(b2, index=pd.Index(factors[1].levels, name=factors[1].name),
                                              columns=factors[1].znames)
    for fac, L in zip(factors, Ls):
        cov = sigma2 * L @ L.T
        random_cov[fac.name] = pd.DataFrame(cov, index=fac.znames, columns=fac.znames)
        sd = np.sqrt(np.diag(cov))
        for j, nm in enumerate(fac.znames):
            vc_rows.append((fac.name, nm, np.nan, cov[j, j], sd[j]))
        for j in range(fac.q):
            for i in range(j + 1, fac.q):
                with np.errstate(invalid="ignore", divide="ignore"):
                    corr = cov[i, j] / (sd[i] * sd[j])
                vc_rows.append((fac.name, fac.znames[j], fac.znames[i], cov[i, j], corr))
    vc_rows.append(("Residual", np.nan, np.nan, sigma2, sigma))
    varcomp = pd.DataFrame(vc_rows, columns=VARCOMP_COLUMNS)

    npar = p + len(x) + 1
    loglik = -f / 2.0
    if impossible.any():
        bad = [design.xnames[j] for j in np.flatnonzero(impossible)]
        convergence = dataclasses.replace(convergence, warnings=convergence.warnings + (
            f"Satterthwaite df for {first_labels(bad)} came out larger than the {n} observations (or infinite): "
            "the covariance of the variance parameters is (near) singular at the estimate. Their df, p-values "
            "and intervals are not reported (NaN); simplify the random part, or use compare_mlm / profile_ci "
            "for these terms.",))
    if n_nonpos and not singular:
        convergence = dataclasses.replace(convergence, warnings=convergence.warnings + (
            f"the Hessian of the deviance has {n_nonpos} non-positive eigenvalue(s) at the estimate; "
            "Satterthwaite df may be unreliable (lmerTest warns likewise).",))
    options = {"formula": spec.text, "reml": reml, "correlation": correlation, "conf_level": conf_level}
    if correlation:
        options["session"] = session
    mf = design.model_frame.copy()
    result = MixedResult(
        formula=spec.text, params=params, varcomp=varcomp,
        fixef=pd.Series(beta, index=design.xnames, name="estimate"),
        vcov=pd.DataFrame(vcov, index=design.xnames, columns=design.xnames),
        theta=np.asarray(theta, dtype=float), sigma=sigma, random_cov=random_cov,
        loglik=float(loglik), deviance=float(f), aic=float(f + 2 * npar),
        bic=ar1_bic(f, npar, n, p, reml) if correlation else float(f + npar * np.log(n)),   # nlme's convention
        n_obs=int(n), n_dropped=int(design.n_dropped), n_groups={fc.name: len(fc.levels) for fc in factors},
        reml=reml, singular=singular, conf_level=conf_level, convergence=convergence,
        provenance=make_provenance(data.loc[:, [c for c in mf.columns if c in data.columns]], options=options,
                                   extra_versions=("nlopt",), function="fit_mlm", started=started),
        X=design.X.copy(), y=design.y.copy(), groups=mf[[fc.name for fc in factors]].astype(str).reset_index(drop=True),
        random_terms={fc.name: list(fc.znames) for fc in factors}, Z={fc.name: fc.Z.copy() for fc in factors},
        model_frame=mf, varpar_vcov=A, correlation=correlation, ar1_phi=None if phi is None else float(phi),
        _ranef=ranef, _spec=design.spec,
    )
    remember_varpar_derivatives(result, jac)     # lmerTest's lmer() keeps Jac_list: anova() reuses it
    return result
