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
(therapists, then clients) in the same batched form, see ``_Problem.deviance_and_gradient`` (checked
against numerical derivatives in the tests). With a residual AR(1), (θ, φ) are found by BOBYQA
(Powell 2009), the bounded derivative-free optimiser lme4 uses through nloptr, here through nlopt.
Start θ = (diagonal 1, off-diagonal 0) as lme4. At the end the optimum is
checked, not only the optimiser's flag: numerical gradient g and Hessian H over the coordinates not held at
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
"""
from __future__ import annotations

import warnings
from dataclasses import dataclass

import nlopt
import numpy as np
import pandas as pd
from threadpoolctl import threadpool_limits
from scipy.special import stdtr, stdtrit  # Student t cdf / quantile; lighter to import than scipy.stats

from ..errors import BoundaryWarning, ConvergenceWarning, FormulaError
from ..results import Convergence, make_provenance
from .design import Design, build_design
from .ar1 import lags, whiten
from .formula import parse_formula
from .result import PARAM_COLUMNS, VARCOMP_COLUMNS, MixedResult
from .satterthwaite import richardson_gen_d, richardson_jacobian, satterthwaite_df, varpar_covariance

SINGULAR_TOL = 1e-4      # lme4's isSingular tolerance on bounded theta elements
GRADIENT_TOL = 1e-3      # a bounded θ at 0 whose slope is below −GRADIENT_TOL is not at an optimum
DECREASE_TOL = 1e-6      # converged when a Newton step would lower the deviance by less than this


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


def _blocks(design: Design, time: np.ndarray | None) -> _Blocks:
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
    key2 = time if time is not None else np.arange(n)
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
    if time is not None:
        tt = np.zeros((m, T))
        tt[block, slot] = time
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


def _theta_layout(qs: list[int]) -> tuple[np.ndarray, list[tuple[np.ndarray, np.ndarray]]]:
    """Lower bounds of θ (0 on diagonals) and, per factor, the (row, col) indices of its elements."""
    lower, idx = [], []
    for q in qs:
        r, c = [], []
        for j in range(q):
            for i in range(j, q):
                r.append(i)
                c.append(j)
                lower.append(0.0 if i == j else -np.inf)
        idx.append((np.array(r, dtype=int), np.array(c, dtype=int)))
    return np.array(lower), idx


def _column_below(idx) -> dict[int, np.ndarray]:
    """For every θ index: the θ indices below it in the same column of its Λ (empty unless diagonal)."""
    out, pos = {}, 0
    for r, c in idx:
        for k in range(len(r)):
            below = [pos + j for j in range(len(r)) if c[j] == c[k] and r[j] > r[k]] if r[k] == c[k] else []
            out[pos + k] = np.array(below, dtype=int)
        pos += len(r)
    return out


def _lambdas(theta: np.ndarray, qs: list[int], idx) -> list[np.ndarray]:
    out, pos = [], 0
    for q, (r, c) in zip(qs, idx):
        L = np.zeros((q, q))
        L[r, c] = theta[pos:pos + len(r)]
        pos += len(r)
        out.append(L)
    return out


# ---------------------------------------------------------------------------------------------- core
class _Problem:
    """Deviance evaluations for one design (and, under AR(1), one φ at a time)."""

    def __init__(self, design: Design, reml: bool, time: np.ndarray | None):
        self.design = design
        self.reml = reml
        self.ar1 = time is not None
        self.b = _blocks(design, time)
        self.qs = [self.b.q1] + ([self.b.q2] if self.b.q2 else [])
        self.lower, self.idx = _theta_layout(self.qs)
        self.column_below = _column_below(self.idx)
        self.n_theta = len(self.lower)
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
        Ls = _lambdas(theta, self.qs, self.idx)
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
        Ls = _lambdas(theta, self.qs, self.idx)
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
        grad = np.concatenate([D[r, cc] for D, (r, cc) in zip(grad_parts, self.idx)])
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


# ---------------------------------------------------------------------------------------------- optimiser
def _bobyqa(fun, x0, lower, upper, xtol=1e-10, ftol=1e-12, maxeval=20000, step=None):
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
        return x, f, r.nfev, "bounded Brent (scipy minimize_scalar)", bool(r.success), str(r.message)
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
    return np.asarray(x), float(fun(np.asarray(x))), count[0], "BOBYQA (nlopt)", ok, msg


def _lbfgsb(fun_grad, x0, lower, upper):
    """Bounded quasi-Newton (scipy L-BFGS-B) with the analytic gradient of the profiled deviance."""
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
    return np.asarray(r.x), float(r.fun), count[0], "L-BFGS-B (scipy, analytic gradient)", bool(r.success), \
        str(r.message)


def _probe_boundary(fun, x, f, lower, column_below, steps=(1e-3, 1e-2, 0.1, 0.5)):
    """For each θ at (or within 1e-4 of) its lower bound, try moving it inwards by ``steps``.

    ``column_below[i]`` lists the θ indices below diagonal element i in its column of Λ. The sign of a
    column of Λ is arbitrary (ΛΛᵀ is unchanged), but once its diagonal sits at 0 the sign of the elements
    below decides whether moving the diagonal inwards helps, so both signs are tried.
    Returns (best start point or None, its deviance, evaluations): a point at least 1e-9 better than ``f``
    means the boundary solution is not a minimum.
    """
    best, f_best, nev = None, f - 1e-9, 0
    for i in np.flatnonzero(np.isfinite(lower) & (x - lower < 1e-4)):
        below = column_below.get(i, np.array([], dtype=int))
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


def _newton_check(fun, x, f, lower, upper, max_steps=3):
    """Check (and polish) an optimum with a numerical gradient and Hessian over the free coordinates.

    A coordinate at its lower bound whose one-sided slope is non-negative is held fixed (a boundary
    optimum). For the free coordinates, the predicted decrease of a Newton step, ½ gᵀH⁻¹g, measures the
    distance to the optimum in deviance units (scale free, unlike a raw gradient, which grows with n).
    Up to ``max_steps`` Newton steps are taken while they lower the deviance. Returns
    (x, f, decrease, max |g|, ok, evaluations) with ok = False when a bounded coordinate wants to leave
    its bound inwards or H is not positive definite.
    """
    nev = 0
    x = np.array(x, dtype=float)
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
            return x, f, 0.0, float(np.max(np.abs(g_full), initial=0.0)), ok, nev
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
            return x, f, np.inf, float(np.max(np.abs(g_full))), False, nev
        decrease = 0.5 * float(g @ dx)
        if decrease < 1e-10 or step == max_steps:
            return x, f, decrease, float(np.max(np.abs(g_full))), ok, nev
        x_new = x.copy()
        x_new[free] = np.clip(x[free] - dx, lower[free], upper[free])
        f_new = fun(x_new)
        nev += 1
        if not f_new < f:
            return x, f, decrease, float(np.max(np.abs(g_full))), ok, nev
        x, f = x_new, f_new
    return x, f, decrease, float(np.max(np.abs(g_full))), ok, nev  # pragma: no cover


# ---------------------------------------------------------------------------------------------- public
def fit_mlm(formula: str, data: pd.DataFrame, *, reml: bool = True, correlation: str | None = None,
            time: str = "session", level: float = 0.95) -> MixedResult:
    """Fit a two- or three-level linear mixed model by REML or ML, as lme4's ``lmer`` + lmerTest.

    Model (see :mod:`allianceStats.mixed.engine`): ``y = Xβ + Zb + ε`` with correlated random effects per
    grouping factor, ``b ~ N(0, σ²ΛΛᵀ)``, ``ε ~ N(0, σ²R)``; clients nested in therapists. Estimation by
    the profiled deviance over the relative covariance factor θ (Bates, Mächler, Bolker & Walker 2015,
    J. Stat. Softw. 67(1)); Satterthwaite df for t tests (Kuznetsova, Brockhoff & Christensen 2017,
    J. Stat. Softw. 82(13)); optional residual AR(1) within client (Pinheiro & Bates 2000, *Mixed-Effects
    Models in S and S-PLUS*, sec. 5.3; nlme ``corAR1(form = ~ session | client)``).

    Parameters
    ----------
    formula : lme4 syntax, e.g. ``"outcome ~ alliance_within_lag1 + alliance_between + session0 +
        (1 + session0 | client) + (1 | therapist)"``. See :mod:`allianceStats.mixed.formula`.
    data : long table (one row per session). Never modified. Rows with a missing value in a used column
        are dropped (counted in ``n_dropped``).
    reml : REML (default, as lme4) or ML (needed to compare models with different fixed effects).
    correlation : None or ``"ar1"``: residual AR(1) within the innermost grouping factor, in ``time``.
    time : column with integer session times for ``correlation="ar1"`` (gaps allowed: corr = φ^|t−s|).
        Under AR(1) the df are Satterthwaite's with φ as one more variance parameter (nlme reports
        containment df instead; these df are not validated against R, the estimates, SEs and logLik are).
    level : confidence level of the Wald t intervals in ``params``.

    Returns
    -------
    MixedResult (see :mod:`allianceStats.mixed.result` for every attribute).

    Validated against lme4 1.1-31 / lmerTest 3.1-3 (sleepstudy; a simulated 3-level unbalanced set with
    dropout; a singular fit) and nlme 3.1-162 (corAR1): estimates and variance components to 1e-5
    relative, SEs and df to 1e-4, deviance to 1e-6 (tests/mixed/test_reference_r.py).

    Example
    -------
    Sessions in clients in therapists (simulated: true slope of x 0.5, of session 0.2):

    >>> import numpy as np, pandas as pd
    >>> rng = np.random.default_rng(1)
    >>> ther = np.repeat(np.arange(10), 60); cli = np.repeat(np.arange(100), 6); s = np.tile(np.arange(6.0), 100)
    >>> df = pd.DataFrame({"therapist": ther.astype(str), "client": cli.astype(str), "session0": s,
    ...                    "x": rng.normal(size=600)})
    >>> df["y"] = (1 + 0.5 * df.x + 0.2 * s + rng.normal(0, 0.5, 10)[ther] + rng.normal(0, 1, 100)[cli]
    ...            + rng.normal(0, 0.2, 100)[cli] * s + rng.normal(size=600))
    >>> res = fit_mlm("y ~ x + session0 + (1 + session0 | client) + (1 | therapist)", df)
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
    >>> res.converged, res.singular, res.ngroups
    (True, False, {'client': 100, 'therapist': 10})

    lme4's ``sleepstudy`` reproduced step by step: ``analyses/07_reproduce_sleepstudy.py``.
    """
    if correlation not in (None, "ar1"):
        raise FormulaError(f"correlation={correlation!r} is not supported; use None or 'ar1'.")
    if not 0 < level < 1:
        raise FormulaError(f"level={level!r} must be strictly between 0 and 1 (e.g. 0.95).")
    spec = parse_formula(formula)
    design = build_design(spec, data, extra_columns=(time,) if correlation == "ar1" else ())
    tvals = None
    if correlation == "ar1":
        tvals = design.model_frame[time].to_numpy(dtype=float)
        if not np.all(tvals == np.round(tvals)):
            raise FormulaError(f"correlation='ar1' needs integer session times in column {time!r}.")
    n_dropped_total = design.n_dropped

    # small dense blocks: BLAS threads only add overhead (measured 5x slower on a busy 2-core machine); the
    # limit is restored on leaving the block
    with threadpool_limits(limits=1, user_api="blas"):
        prob = _Problem(design, reml, tvals)
        lower = prob.lower.copy()
        upper = np.full_like(lower, np.inf)
        x0 = np.where(np.isfinite(lower), 1.0, 0.0)
        if prob.ar1:
            lower = np.r_[lower, -0.999999]
            upper = np.r_[upper, 0.999999]
            x0 = np.r_[x0, 0.2]
        def optimise(start):
            if prob.ar1:
                out = _bobyqa(prob.deviance, start, lower, upper)
            else:
                out = _lbfgsb(prob.deviance_and_gradient, start, lower, upper)
            xs, fs, nevs, name, oks, msgs = out
            xs, fs, dec, gm, kkt, nev2 = _newton_check(prob.deviance, xs, fs, lower, upper)
            return xs, fs, nevs + nev2, name, oks, msgs, dec, gm, kkt

        x, f, nev, optname, ok, msg, decrease, gmax, kkt_ok = optimise(x0)
        restarts = 0
        # the verdict is the check of the optimum, not the optimiser's flag (L-BFGS-B, for one, reports an
        # "abnormal" line search when it cannot improve an already optimal point)
        if not (kkt_ok and decrease <= DECREASE_TOL):
            # a fresh derivative-free BOBYQA run from the current point (lme4 restarts too when a run ends badly)
            x1, f1, nev1, _, ok1, msg1 = _bobyqa(prob.deviance, x, lower, upper)
            x1, f1, dec1, g1, kkt1, nev2 = _newton_check(prob.deviance, x1, f1, lower, upper)
            nev += nev1 + nev2
            restarts += 1
            if f1 <= f:
                x, f, ok, msg, decrease, gmax, kkt_ok = x1, f1, ok1, msg1, dec1, g1, kkt1
        # A diagonal θ at 0 is a stationary point of the deviance (it depends on that column of Λ only
        # through its square), so gradient methods cannot leave it even when it is a maximum along that
        # direction. Probe inwards and restart from a better point (lme4's restart_edge does the same).
        for _ in range(3):
            start, f_probe, nev1 = _probe_boundary(prob.deviance, x, f, lower, prob.column_below)
            nev += nev1
            if start is None:
                break
            x1, f1, nev1, _, ok1, msg1, dec1, g1, kkt1 = optimise(start)
            nev += nev1
            restarts += 1
            if not f1 < f:
                break
            x, f, ok, msg, decrease, gmax, kkt_ok = x1, f1, ok1, msg1, dec1, g1, kkt1
        converged = bool(kkt_ok and decrease <= DECREASE_TOL and np.isfinite(f))
        warn_msgs = []
        if not converged:
            warn_msgs.append(f"the optimiser did not converge ({msg}; a Newton step would lower the deviance by "
                             f"{decrease:.2g} > {DECREASE_TOL}; max |gradient| {gmax:.2g}); estimates may be "
                             "unreliable. Rescale covariates (e.g. centre session) or simplify the random part.")
        theta, phi = prob.split(x)
        singular = bool(np.any(theta[np.isfinite(prob.lower)] < SINGULAR_TOL))
        if singular:
            warn_msgs.append("boundary (singular) fit: a random-effect variance is (near) zero or a correlation is "
                             "±1; consider a simpler random part (lme4's isSingular, tol 1e-4).")
        return _assemble(prob, design, spec, data, x, f, reml, level, correlation, time, converged, singular,
                         Convergence(converged, nev, optname,
                                     f"{msg}; Newton decrease {decrease:.2g}; max |gradient| {gmax:.2g}; "
                                     f"restarts {restarts}",
                                     tuple(warn_msgs)),
                         n_dropped_total, warn_msgs)


def _varpar_derivatives(prob: _Problem, x: np.ndarray, sigma: float) -> tuple[np.ndarray, np.ndarray]:
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


def _assemble(prob, design, spec, data, x, f, reml, level, correlation, time, converged, singular, conv,
              n_dropped, warn_msgs) -> MixedResult:
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
    A, n_nonpos = varpar_covariance(hess)
    df = satterthwaite_df(vcov, jac, A)
    se = np.sqrt(np.diag(vcov))
    tstat = beta / se
    pval = 2 * stdtr(df, -np.abs(tstat))
    tq = stdtrit(df, 0.5 + level / 2)
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
    if n_nonpos and not singular:
        warn_msgs.append(f"the Hessian of the deviance has {n_nonpos} non-positive eigenvalue(s) at the estimate; "
                         "Satterthwaite df may be unreliable (lmerTest warns likewise).")
    for wmsg in warn_msgs:
        cat = BoundaryWarning if wmsg.startswith("boundary") else ConvergenceWarning
        warnings.warn(wmsg, cat, stacklevel=3)
    options = {"formula": spec.text, "reml": reml, "correlation": correlation, "level": level}
    if correlation:
        options["time"] = time
    mf = design.model_frame.copy()
    return MixedResult(
        formula=spec.text, params=params, varcomp=varcomp,
        fixef=pd.Series(beta, index=design.xnames, name="estimate"),
        vcov=pd.DataFrame(vcov, index=design.xnames, columns=design.xnames),
        theta=np.asarray(theta, dtype=float), sigma=sigma, random_cov=random_cov,
        loglik=float(loglik), deviance=float(f), aic=float(f + 2 * npar), bic=float(f + npar * np.log(n)),
        nobs=n, n_dropped=int(n_dropped), ngroups={fc.name: len(fc.levels) for fc in factors}, reml=reml,
        converged=converged, singular=singular, level=level, convergence=conv,
        provenance=make_provenance(data.loc[:, [c for c in mf.columns if c in data.columns]], options=options,
                                   extra_versions=("nlopt",)),
        X=design.X.copy(), y=design.y.copy(), groups=mf[[fc.name for fc in factors]].astype(str).reset_index(drop=True),
        random_terms={fc.name: list(fc.znames) for fc in factors}, Z={fc.name: fc.Z.copy() for fc in factors},
        model_frame=mf, varpar_vcov=A, correlation=correlation, ar1_phi=None if phi is None else float(phi),
        _ranef=ranef, _spec=design.spec,
    )
