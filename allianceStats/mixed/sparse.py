r"""The random-effects block of a mixed model for nested, crossed and partially crossed designs.

Problem
-------
With Z the n×q random-effects design (one column per level and random-effect covariate of each grouping
factor, laid out factor by factor and level-major as lme4's ``Zt``), Λ_θ block diagonal (one q_f×q_f
relative covariance factor per level of factor f) and W = diag(w) a vector of observation weights, the
penalised least-squares and Laplace computations of lme4 (Bates, Mächler, Bolker & Walker 2015,
*J. Stat. Softw.* 67(1), sections 3.2–3.6 and 5) need, for

    A = ΛᵀZᵀWZΛ + I,

its log-determinant log|A| and solves A x = r. lme4 factors A with a sparse Cholesky (CHOLMOD) and a
fill-reducing ordering. CHOLMOD is not available to Python here (``scikit-sparse`` builds only against a
system SuiteSparse, absent on this machine and on PyPI as a wheel), so this module uses the structure that
all designs of this toolkit share instead:

Block elimination
-----------------
Order the factors so that factor 0 is the largest (most random effects; clients, in session data). Its block
of A is block diagonal, D₁ = blockdiag_i(Λ₀ᵀ Z₀ᵢᵀW Z₀ᵢ Λ₀ + I), so with the remaining factors' block D₂ and
the coupling C,

    A = [[D₁, C], [Cᵀ, D₂]],  D₁ = L₁L₁ᵀ (one small Cholesky per level, batched),
    E = L₁⁻¹C (sparse, one q₀×q_g block per co-occurring pair of levels),  S = D₂ − EᵀE,
    log|A| = 2 Σ log diag L₁ + log|S|,

and A x = r is solved by y₁ = L₁⁻¹r₁, S x₂ = r₂ − Eᵀy₁, x₁ = L₁⁻ᵀ(y₁ − E x₂). The Schur complement S has the
size of the *other* factors (therapists, raters, items: tens to thousands of levels); it is factored densely
(LAPACK Cholesky) up to ``dense_max`` columns, else by scipy's SuperLU with the minimum-degree ordering on
SᵀS + S (symmetric mode, diagonal pivots, so log|S| is the sum of log diag U). For a nested design S is block
diagonal and the elimination is exactly the one of :mod:`allianceStats.mixed.engine`; for crossed designs it
is the classical absorption of the larger factor (Searle, Casella & McCulloch 1992, *Variance Components*,
ch. 10). Cross-products are accumulated per co-occurring pair of levels with ``numpy.bincount`` on patterns
found once, so one factorisation costs O(n Σ q_f q_g + nnz(E) + |S|³/3).

Example
-------
>>> import numpy as np
>>> from allianceStats.mixed.glmm_design import GroupingFactor
>>> a = GroupingFactor("client", ["a", "b"], np.array([0, 0, 1, 1]), np.ones((4, 1)), ["(Intercept)"])
>>> r = GroupingFactor("rater", ["x", "y"], np.array([0, 1, 0, 1]), np.ones((4, 1)), ["(Intercept)"])
>>> blk = RandomEffectsBlock([a, r])
>>> fac = blk.factor([np.eye(1), np.eye(1)], np.ones(4))
>>> A = np.array([[3., 0, 1, 1], [0, 3, 1, 1], [1, 1, 3, 0], [1, 1, 0, 3]])
>>> bool(np.isclose(fac.logdet, np.linalg.slogdet(A)[1]))
True
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.linalg as sla
import scipy.sparse as sp
from scipy.sparse.linalg import splu

DENSE_MAX = 3000


def _pairs(codes_a: np.ndarray, codes_b: np.ndarray, n_b: int):
    """Unique co-occurring (level_a, level_b) pairs and the pair id of every row."""
    key = codes_a.astype(np.int64) * n_b + codes_b
    uniq, inv = np.unique(key, return_inverse=True)
    return uniq // n_b, uniq % n_b, inv


def _block_sums(pid: np.ndarray, n_pairs: int, wa: np.ndarray, Zb: np.ndarray) -> np.ndarray:
    """(n_pairs, q_a, q_b): Σ_rows in pair of (w z_a)(z_b)ᵀ; ``wa`` already holds w·Z_a (n, q_a)."""
    qa, qb = wa.shape[1], Zb.shape[1]
    out = np.empty((n_pairs, qa, qb))
    for j in range(qa):
        for k in range(qb):
            out[:, j, k] = np.bincount(pid, wa[:, j] * Zb[:, k], minlength=n_pairs)
    return out


def _scale(L_a: np.ndarray, B: np.ndarray, L_b: np.ndarray) -> np.ndarray:
    """Λ_aᵀ B Λ_b for a stack of blocks B (n, q_a, q_b)."""
    if L_a.shape == (1, 1) and L_b.shape == (1, 1):
        return B * (L_a[0, 0] * L_b[0, 0])
    return np.einsum("ji,pjk,kl->pil", L_a, B, L_b)


@dataclass
class _CrossPattern:
    """Co-occurring levels of factor 0 and a rest factor (or of two rest factors)."""

    a: int                 # factor index (into the block's list)
    b: int
    lev_a: np.ndarray
    lev_b: np.ndarray
    pid: np.ndarray
    rows: np.ndarray       # target row/col index of every (pair, i, k) entry, in (pair, i, k) order
    cols: np.ndarray


class Factorization:
    """log|A| and solves with A = ΛᵀZᵀWZΛ + I, from :meth:`RandomEffectsBlock.factor`."""

    def __init__(self, block: RandomEffectsBlock, L1inv: np.ndarray, logdet1: float, E, S_factor,
                 logdetS: float, d1: np.ndarray, S_diag: np.ndarray | None = None):
        self.block = block
        self.L1inv = L1inv          # (m0, q0, q0) inverse Cholesky factors of the factor-0 blocks
        self.E = E                  # csr (m0 q0, Qr) or None
        self._S = S_factor          # ("dense", cho) | ("lu", splu) | None
        self.logdet = logdet1 + logdetS
        self.d1 = d1                # (m0, q0, q0) factor-0 blocks of A (diagonal of A when q0 = 1)
        self._S_diag = S_diag       # the diagonal of S when S is diagonal (nested scalar designs)

    def row_solves(self, lambdas: list[np.ndarray], max_cells: float = 3e7):
        """Selected solves y_i = A⁻¹z̃_i (z̃_i = row i of ZΛ) at row i's own levels, and the leverages
        h_i = z̃_iᵀy_i; None when this would need more than ``max_cells`` numbers (callers then use finite
        differences).

        Returns (h, ys) with ys[f] of shape (n, q_f): the entries of y_i at the level of factor f that row i
        belongs to. With a_i = Λ₀ᵀz₀ᵢ at factor-0 level c and r_i the row's rest part, v_i = r_i − E_cᵀL₁c⁻¹a_i
        lives on J_c (the rest levels co-occurring with c); t_i = S⁻¹v_i restricted to J_c; the factor-0
        part is L₁c⁻ᵀ(L₁c⁻¹a_i − E_c t_i).
        """
        blk = self.block
        f0 = blk.factors[blk.k0]
        n = len(f0.codes)
        a = f0.Z @ lambdas[blk.k0]
        Li = self.L1inv[f0.codes]
        La = a * Li[:, :, 0] if blk.q0 == 1 else np.einsum("nij,nj->ni", Li, a)
        ys = [None] * len(blk.factors)
        if self.E is None:
            y0 = La * Li[:, :, 0] if blk.q0 == 1 else np.einsum("nji,nj->ni", Li, La)
            ys[blk.k0] = y0
            return (La ** 2).sum(axis=1), ys
        Jmax = blk.Jmax
        if n * Jmax * max(blk.q0, 1) > max_cells:
            return None
        Eloc = np.zeros(blk.m0 * blk.q0 * Jmax)
        Eloc[blk._E_pad_idx] = self.E.data
        Eloc = Eloc.reshape(blk.m0, blk.q0, Jmax)
        Ec = Eloc[f0.codes]                                        # (n, q0, Jmax)
        v = -(La * Ec[:, 0, :]) if blk.q0 == 1 else -np.einsum("ni,nij->nj", La, Ec)
        rows = np.arange(n)
        for g, k, pos in blk._rest_pos:
            v[rows, pos] += (blk.factors[g].Z @ lambdas[g])[:, k]
        if self._S_diag is not None:
            t = v * np.r_[1.0 / self._S_diag, 0.0][blk._J[f0.codes]]
        else:
            Sinv = self.S_inverse()
            if Sinv is None:
                return None
            if blk._J_full:
                t = v @ Sinv
            else:
                if blk.m0 * Jmax * (Jmax + blk._R) > max_cells:
                    return None
                Sp = np.zeros((blk.Qr + 1, blk.Qr + 1))
                Sp[:-1, :-1] = Sinv
                Sc = Sp[blk._J[:, :, None], blk._J[:, None, :]]      # (m0, Jmax, Jmax): S⁻¹ on each J_c
                V = np.zeros((blk.m0, blk._R, Jmax))
                V[f0.codes, blk._slot] = v
                t = np.matmul(V, Sc)[f0.codes, blk._slot]
        w0 = La - ((Ec[:, 0, :] * t).sum(axis=1, keepdims=True) if blk.q0 == 1 else np.einsum("nij,nj->ni", Ec, t))
        ys[blk.k0] = w0 * Li[:, :, 0] if blk.q0 == 1 else np.einsum("nji,nj->ni", Li, w0)
        for g in blk.rest:
            ys[g] = np.empty((n, blk.factors[g].q))
        for g, k, pos in blk._rest_pos:
            ys[g][:, k] = t[rows, pos]
        h = sum((blk.factors[f].Z @ lambdas[f] * ys[f]).sum(axis=1) for f in range(len(blk.factors)))
        return h, ys

    def S_inverse(self, max_size: int = 3000) -> np.ndarray | None:
        """The dense inverse of the Schur complement S (None if larger than ``max_size``)."""
        if self.block.Qr > max_size:
            return None
        kind, f = self._S
        eye = np.eye(self.block.Qr)
        return sla.cho_solve(f, eye) if kind == "dense" else f.solve(eye)

    def _apply_L1inv(self, r0: np.ndarray, transpose: bool = False) -> np.ndarray:
        # r0 (m0, q0, k)
        Li = self.L1inv
        if Li.shape[1] == 1:
            return r0 * Li[:, :, :1]
        return np.einsum("mji,mjk->mik" if transpose else "mij,mjk->mik", Li, r0)

    def _solve_S(self, r):
        kind, f = self._S
        if kind == "dense":
            return sla.cho_solve(f, r)
        return f.solve(r)

    def solve(self, r: np.ndarray) -> np.ndarray:
        """x with A x = r, r of length q or (q, k), in the lme4 layout of u."""
        blk = self.block
        vec = r.ndim == 1
        R = r[:, None] if vec else r
        k = R.shape[1]
        r0 = R[blk.sl0].reshape(blk.m0, blk.q0, k)
        y1 = self._apply_L1inv(r0)
        out = np.empty_like(R, dtype=float)
        if self.E is not None:
            y1f = y1.reshape(blk.m0 * blk.q0, k)
            rr = R[blk.rest_index] - self.E.T @ y1f
            x2 = self._solve_S(rr)
            x2 = np.asarray(x2).reshape(-1, k)
            y1 = (y1f - self.E @ x2).reshape(blk.m0, blk.q0, k)
            out[blk.rest_index] = x2
        x1 = self._apply_L1inv(y1, transpose=True)
        out[blk.sl0] = x1.reshape(blk.m0 * blk.q0, k)
        return out[:, 0] if vec else out


class RandomEffectsBlock:
    """The sparse structure of ZΛ for a list of grouping factors (module docstring).

    ``factors`` are :class:`~allianceStats.mixed.glmm_design.GroupingFactor` objects in lme4's order; u and
    b are laid out in that order, level-major within a factor (level 1's q_f effects, then level 2's, ...).
    """

    def __init__(self, factors, dense_max: int = DENSE_MAX):
        self.factors = list(factors)
        self.n = len(self.factors[0].codes)
        self.qs = [f.q for f in self.factors]
        self.ms = [f.n_levels for f in self.factors]
        sizes = [q * m for q, m in zip(self.qs, self.ms)]
        self.starts = np.r_[0, np.cumsum(sizes)].astype(np.int64)
        self.q_total = int(self.starts[-1])
        self.k0 = int(np.argmax(sizes))
        self.rest = [g for g in range(len(self.factors)) if g != self.k0]
        self.q0, self.m0 = self.qs[self.k0], self.ms[self.k0]
        self.sl0 = slice(int(self.starts[self.k0]), int(self.starts[self.k0 + 1]))
        self.rest_index = np.concatenate([np.arange(self.starts[g], self.starts[g + 1]) for g in self.rest]) \
            if self.rest else np.empty(0, dtype=np.int64)
        roff = {}
        pos = 0
        for g in self.rest:
            roff[g] = pos
            pos += sizes[g]
        self.roff = roff
        self.Qr = pos
        self.dense = self.Qr <= dense_max
        f0 = self.factors[self.k0]
        # factor-0 blocks: pair id = level of factor 0
        self._cross = []
        for g in self.rest:
            fg = self.factors[g]
            la, lb, pid = _pairs(f0.codes, fg.codes, fg.n_levels)
            i = np.arange(self.q0)[None, :, None]
            k = np.arange(fg.q)[None, None, :]
            rows = np.broadcast_to(la[:, None, None] * self.q0 + i, (len(la), self.q0, fg.q)).ravel()
            cols = np.broadcast_to(roff[g] + lb[:, None, None] * fg.q + k, (len(la), self.q0, fg.q)).ravel()
            self._cross.append(_CrossPattern(self.k0, g, la, lb, pid, rows, cols))
        # E in CSR: permutation from (pair, i, k) order to CSR order, found once
        if self.rest:
            rows = np.concatenate([c.rows for c in self._cross])
            cols = np.concatenate([c.cols for c in self._cross])
            perm_m = sp.coo_matrix((np.arange(1, len(rows) + 1, dtype=float), (rows, cols)),
                                   shape=(self.m0 * self.q0, self.Qr)).tocsr()
            perm_m.sort_indices()
            self._E_perm = perm_m.data.astype(np.int64) - 1
            self._E_indices, self._E_indptr = perm_m.indices.copy(), perm_m.indptr.copy()
            self._local_structure()
        # rest-rest blocks (g <= h)
        self._rr = []
        for a_i, g in enumerate(self.rest):
            for h in self.rest[a_i:]:
                fg, fh = self.factors[g], self.factors[h]
                if g == h:
                    la = lb = np.arange(fg.n_levels)
                    pid = fg.codes
                else:
                    la, lb, pid = _pairs(fg.codes, fh.codes, fh.n_levels)
                i = np.arange(fg.q)[None, :, None]
                k = np.arange(fh.q)[None, None, :]
                rows = np.broadcast_to(roff[g] + la[:, None, None] * fg.q + i, (len(la), fg.q, fh.q)).ravel()
                cols = np.broadcast_to(roff[h] + lb[:, None, None] * fh.q + k, (len(la), fg.q, fh.q)).ravel()
                self._rr.append(_CrossPattern(g, h, la, lb, pid, rows, cols))
        # Z as a sparse n × q matrix (lme4 layout) for Zᵀv and Z b products
        rows, cols, vals = [], [], []
        for f, start in zip(self.factors, self.starts):
            for j in range(f.q):
                rows.append(np.arange(self.n))
                cols.append(start + f.codes * f.q + j)
                vals.append(f.Z[:, j])
        self.Z = sp.csr_matrix((np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))),
                               shape=(self.n, self.q_total))
        self.Zt = self.Z.T.tocsr()
        self._diag_S: bool | None = None

    def _local_structure(self) -> None:
        """For leverages: J_c (the rest coordinates co-occurring with factor-0 level c, padded with Qr), where
        E's entries sit in the padded (m0, q0, Jmax) layout, and where each row's own rest coordinates sit in
        its J_c."""
        indptr, indices = self._E_indptr, self._E_indices
        lens = np.diff(indptr).reshape(self.m0, self.q0)[:, 0]
        self.Jmax = int(lens.max()) if len(lens) else 0
        J = np.full((self.m0, self.Jmax), self.Qr, dtype=np.int64)
        pos = np.arange(len(indices)) - np.repeat(indptr[:-1], np.diff(indptr))
        row = np.repeat(np.arange(self.m0 * self.q0), np.diff(indptr))
        lev = row // self.q0
        first = (row % self.q0) == 0
        J[lev[first], pos[first]] = indices[first]
        self._J = J
        self._J_full = bool(self.Jmax == self.Qr and np.all(J == np.arange(self.Qr)[None, :]))
        self._E_pad_idx = row * self.Jmax + pos
        f0 = self.factors[self.k0]
        # rows of each factor-0 level side by side (padded), so S⁻¹[J_c, J_c] multiplies a level's rows at once
        order = np.argsort(f0.codes, kind="stable")
        counts = np.bincount(f0.codes, minlength=self.m0)
        starts = np.r_[0, np.cumsum(counts)[:-1]]
        slot = np.empty(len(f0.codes), dtype=np.int64)
        slot[order] = np.arange(len(f0.codes)) - starts[f0.codes[order]]
        self._slot, self._R = slot, int(counts.max())
        self._rest_pos = []
        for g in self.rest:
            fg = self.factors[g]
            for k in range(fg.q):
                coord = self.roff[g] + fg.codes * fg.q + k
                Jr = J[f0.codes]
                self._rest_pos.append((g, k, np.argmax(Jr == coord[:, None], axis=1)))

    # ------------------------------------------------------------------ products with ZΛ
    def lambda_matrix(self, lambdas: list[np.ndarray]) -> sp.csr_matrix:
        """Λ as a sparse q×q block-diagonal matrix."""
        return sp.block_diag([sp.kron(sp.identity(m), sp.csr_matrix(L)) for L, m in zip(lambdas, self.ms)],
                             format="csr")

    def b_from_u(self, lambdas: list[np.ndarray], u: np.ndarray) -> np.ndarray:
        """b = Λu (per level, b = Λ_f u)."""
        out = np.empty_like(u)
        for L, m, q, s in zip(lambdas, self.ms, self.qs, self.starts):
            out[s:s + m * q] = (u[s:s + m * q].reshape(m, q) @ L.T).ravel()
        return out

    def u_from_b(self, lambdas: list[np.ndarray], b: np.ndarray) -> np.ndarray:
        out = np.empty_like(b)
        for L, m, q, s in zip(lambdas, self.ms, self.qs, self.starts):
            out[s:s + m * q] = np.linalg.lstsq(L, b[s:s + m * q].reshape(m, q).T, rcond=None)[0].T.ravel()
        return out

    def lt(self, lambdas: list[np.ndarray], v: np.ndarray) -> np.ndarray:
        """Λᵀv for v of length q or (q, k)."""
        out = np.empty_like(v, dtype=float)
        for L, m, q, s in zip(lambdas, self.ms, self.qs, self.starts):
            blk = v[s:s + m * q]
            if v.ndim == 1:
                out[s:s + m * q] = (blk.reshape(m, q) @ L).ravel()
            else:
                out[s:s + m * q] = np.einsum("ji,mjk->mik", L, blk.reshape(m, q, -1)).reshape(m * q, -1)
        return out

    def eta(self, lambdas: list[np.ndarray], u: np.ndarray) -> np.ndarray:
        """ZΛu (length n)."""
        return self.Z @ self.b_from_u(lambdas, u)

    def zt(self, lambdas: list[np.ndarray], v: np.ndarray) -> np.ndarray:
        """ΛᵀZᵀv for v of length n or (n, k)."""
        return self.lt(lambdas, self.Zt @ v)

    # ------------------------------------------------------------------ the factorisation
    def factor(self, lambdas: list[np.ndarray], w: np.ndarray) -> Factorization:
        """Factor A = ΛᵀZᵀWZΛ + I (raises numpy.linalg.LinAlgError when A is not positive definite)."""
        f0 = self.factors[self.k0]
        L0 = lambdas[self.k0]
        wZ0 = f0.Z * w[:, None]
        M0 = _block_sums(f0.codes, self.m0, wZ0, f0.Z)
        D1 = _scale(L0, M0, L0)
        D1[:, np.arange(self.q0), np.arange(self.q0)] += 1.0
        if self.q0 == 1:
            d = D1[:, 0, 0]
            if not np.all(d > 0) or not np.all(np.isfinite(d)):
                raise np.linalg.LinAlgError("random-effects block not positive definite")
            L1inv = (1.0 / np.sqrt(d))[:, None, None]
            logdet1 = float(np.log(d).sum())
        else:
            C1 = np.linalg.cholesky(D1)           # raises LinAlgError if not PD
            L1inv = np.linalg.inv(C1)
            logdet1 = float(2.0 * np.log(np.diagonal(C1, axis1=1, axis2=2)).sum())
        if not self.rest:
            return Factorization(self, L1inv, logdet1, None, None, 0.0, D1)
        # coupling E = L1⁻¹ C, in CSR
        pieces = []
        for c in self._cross:
            fg = self.factors[c.b]
            B = _block_sums(c.pid, len(c.lev_a), wZ0, fg.Z)
            B = _scale(L0, B, lambdas[c.b])
            Li = L1inv[c.lev_a]
            B = B * Li[:, :1, :1] if self.q0 == 1 else np.einsum("pij,pjk->pik", Li, B)
            pieces.append(B.ravel())
        data = np.concatenate(pieces)[self._E_perm]
        E = sp.csr_matrix((data, self._E_indices, self._E_indptr), shape=(self.m0 * self.q0, self.Qr))
        # rest-rest block D2
        vals, rr, cc = [], [], []
        for c in self._rr:
            fg, fh = self.factors[c.a], self.factors[c.b]
            B = _block_sums(c.pid, len(c.lev_a), fg.Z * w[:, None], fh.Z)
            B = _scale(lambdas[c.a], B, lambdas[c.b]).ravel()
            vals.append(B)
            rr.append(c.rows)
            cc.append(c.cols)
            if c.a != c.b:
                vals.append(B)
                rr.append(c.cols)
                cc.append(c.rows)
        vals, rr, cc = np.concatenate(vals), np.concatenate(rr), np.concatenate(cc)
        if self.dense and E.shape[0] * E.shape[1] <= 4e6 and E.nnz > 0.25 * E.shape[0] * E.shape[1] \
                and self._diag_S is False:
            Ed = E.toarray()                      # small and dense: one BLAS product beats the sparse one
            S = -(Ed.T @ Ed)
            np.add.at(S, (rr, cc), vals)
            S[np.diag_indices_from(S)] += 1.0
            return self._dense_factor(S, L1inv, logdet1, E, D1)
        EtE = (E.T @ E).tocoo()
        if self._S_is_diagonal(EtE, rr, cc):
            Sd = -np.bincount(EtE.row, EtE.data, minlength=self.Qr) + np.bincount(rr, vals, minlength=self.Qr) + 1.0
            if not np.all(Sd > 0):
                raise np.linalg.LinAlgError("Schur complement not positive definite")
            lu = _DiagonalSolve(Sd)
            return Factorization(self, L1inv, logdet1, E, ("lu", lu), float(np.log(Sd).sum()), D1, S_diag=Sd)
        if self.dense:
            S = np.zeros((self.Qr, self.Qr))
            np.add.at(S, (EtE.row, EtE.col), -EtE.data)
            np.add.at(S, (rr, cc), vals)
            S[np.diag_indices_from(S)] += 1.0
            return self._dense_factor(S, L1inv, logdet1, E, D1)
        D2 = sp.csc_matrix((vals, (rr, cc)), shape=(self.Qr, self.Qr)) + sp.identity(self.Qr, format="csc")
        S = (D2 - EtE.tocsc()).tocsc()
        try:
            lu = splu(S, permc_spec="MMD_AT_PLUS_A", diag_pivot_thresh=0.0,
                      options={"SymmetricMode": True})
        except RuntimeError as exc:
            raise np.linalg.LinAlgError(str(exc)) from exc
        dU = lu.U.diagonal()
        if not np.all(dU > 0):
            raise np.linalg.LinAlgError("Schur complement not positive definite")
        return Factorization(self, L1inv, logdet1, E, ("lu", lu), float(np.log(dU).sum()), D1)

    def _dense_factor(self, S, L1inv, logdet1, E, D1) -> Factorization:
        try:
            cho = sla.cho_factor(S, lower=True, check_finite=False)
        except sla.LinAlgError as exc:
            raise np.linalg.LinAlgError(str(exc)) from exc
        logdetS = float(2.0 * np.log(np.diag(cho[0])).sum())
        if not np.isfinite(logdetS):
            raise np.linalg.LinAlgError("Schur complement not positive definite")
        return Factorization(self, L1inv, logdet1, E, ("dense", cho), logdetS, D1)

    def _S_is_diagonal(self, EtE, rr, cc) -> bool:
        if self._diag_S is None:
            self._diag_S = bool(np.all(EtE.row == EtE.col) and np.all(rr == cc))
        return self._diag_S


class _DiagonalSolve:
    """``solve`` for a diagonal Schur complement (nested designs with scalar random effects)."""

    def __init__(self, d: np.ndarray):
        self.d = d

    def solve(self, r: np.ndarray) -> np.ndarray:
        return r / (self.d if r.ndim == 1 else self.d[:, None])
