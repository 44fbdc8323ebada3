"""Model matrices, implied moments and their derivatives, derived from the parameter table.

Notation (Jöreskog's LISREL all-y form; Bollen 1989, ch. 8)
---------------------------------------------------------
η = α + Bη + ζ, y = ν + Λη + ε, Cov(ζ) = Ψ, Cov(ε) = Θ, so with A = (I − B)⁻¹

    μ(θ) = ν + Λ A α,        Σ(θ) = Λ A Ψ Aᵀ Λᵀ + Θ.

Every observed variable is carried as an element of η with Λ = [I 0] (a "phantom" latent, as lavaan does
for observed variables in the structural part), so that ν = 0 and Θ = 0, loadings and regressions both sit
in B, all (residual) variances and covariances in Ψ and all intercepts and means in α. This is the RAM form
(McArdle & McDonald 1984) of the same model; it lets one derivative rule serve every parameter:

    ∂Σ/∂B_ij = Λ A e_i (Λ A Ψ Aᵀ e_j)ᵀ + transpose,   ∂μ/∂B_ij = Λ A e_i (A α)_j,
    ∂Σ/∂Ψ_ij = Λ A (e_i e_jᵀ + e_j e_iᵀ) Aᵀ Λᵀ / (1 + [i = j]),   ∂μ/∂α_i = Λ A e_i.

Parameters that share a label (one free index) have their derivatives summed.

Example
-------
>>> import numpy as np
>>> from allianceStats.sem.syntax import parse_model
>>> from allianceStats.sem.partable import build_partable
>>> pt = build_partable(*parse_model("y ~ b*x"), observed={"x", "y"}, n_groups=1, defaults="none")
>>> tab = pt.table.assign(value=pt.table["value"].fillna(1.0))
>>> gm = GroupModel(tab, pt.observed, pt.latent, npar=pt.npar)
>>> mu, sigma = gm.implied(np.array([0.5]))
>>> sigma.round(3).tolist()  # var(x) = 1 (fixed), var(y) = 0.5**2 * 1 + 0 (residual fixed at 0)
[[0.25, 0.5], [0.5, 1.0]]
"""
from __future__ import annotations

import numpy as np
import pandas as pd


class GroupModel:
    """Matrix form of one group's rows of the parameter table."""

    def __init__(self, table: pd.DataFrame, observed, latent, *, npar: int):
        self.observed = tuple(observed)
        self.latent = tuple(latent)
        self.p = len(self.observed)
        self.m = self.p + len(self.latent)
        self.npar = npar
        pos = {v: i for i, v in enumerate(self.observed + self.latent)}
        self.pos = pos
        m = self.m
        self.B0 = np.zeros((m, m))
        self.Psi0 = np.zeros((m, m))
        self.alpha0 = np.zeros(m)
        b_r: list[int] = []
        b_c: list[int] = []
        b_k: list[int] = []
        s_r: list[int] = []
        s_c: list[int] = []
        s_k: list[int] = []
        a_r: list[int] = []
        a_k: list[int] = []
        for lhs, op, rhs, free, value in zip(table["lhs"], table["op"], table["rhs"], table["free"],
                                             table["value"]):
            k = int(free) - 1
            if op == "=~":
                i, j = pos[rhs], pos[lhs]
            elif op == "~":
                i, j = pos[lhs], pos[rhs]
            elif op == "~~":
                i, j = pos[lhs], pos[rhs]
            else:
                i, j = pos[lhs], -1
            if op in ("=~", "~"):
                if k >= 0:
                    b_r.append(i)
                    b_c.append(j)
                    b_k.append(k)
                else:
                    self.B0[i, j] = value
            elif op == "~~":
                if k >= 0:
                    s_r.append(i)
                    s_c.append(j)
                    s_k.append(k)
                else:
                    self.Psi0[i, j] = self.Psi0[j, i] = value
            else:
                if k >= 0:
                    a_r.append(i)
                    a_k.append(k)
                else:
                    self.alpha0[i] = value
        self.b_r, self.b_c, self.b_k = (np.array(x, dtype=int) for x in (b_r, b_c, b_k))
        self.s_r, self.s_c, self.s_k = (np.array(x, dtype=int) for x in (s_r, s_c, s_k))
        self.a_r, self.a_k = np.array(a_r, dtype=int), np.array(a_k, dtype=int)
        self.eye = np.eye(m)

    def matrices(self, theta: np.ndarray):
        """B, Ψ, α at parameter vector ``theta``."""
        B = self.B0.copy()
        B[self.b_r, self.b_c] = theta[self.b_k]
        Psi = self.Psi0.copy()
        Psi[self.s_r, self.s_c] = theta[self.s_k]
        Psi[self.s_c, self.s_r] = theta[self.s_k]
        alpha = self.alpha0.copy()
        alpha[self.a_r] = theta[self.a_k]
        return B, Psi, alpha

    def _core(self, theta):
        B, Psi, alpha = self.matrices(theta)
        A = np.linalg.solve(self.eye - B, self.eye)
        C = A @ Psi @ A.T
        return B, Psi, alpha, A, C

    def implied(self, theta: np.ndarray):
        """Model-implied mean vector μ(θ) and covariance matrix Σ(θ) of the observed variables."""
        _, _, alpha, A, C = self._core(theta)
        p = self.p
        return (A @ alpha)[:p], C[:p, :p]

    def all_moments(self, theta: np.ndarray):
        """Implied means and covariance matrix of all variables (observed first, then latent)."""
        _, Psi, alpha, A, C = self._core(theta)
        return A @ alpha, C, Psi

    def jacobian(self, theta: np.ndarray):
        """μ, Σ and their derivatives: dmu (npar, p), dsigma (npar, p, p)."""
        _, _, alpha, A, C = self._core(theta)
        p, q = self.p, self.npar
        FA = A[:p, :]
        FC = C[:p, :]
        Aa = A @ alpha
        dsig = np.zeros((q, p, p))
        dmu = np.zeros((q, p))
        if len(self.b_k):
            U = FA[:, self.b_r].T
            W = FC[:, self.b_c].T
            contrib = U[:, :, None] * W[:, None, :]
            np.add.at(dsig, self.b_k, contrib + contrib.transpose(0, 2, 1))
            np.add.at(dmu, self.b_k, U * Aa[self.b_c][:, None])
        if len(self.s_k):
            U = FA[:, self.s_r].T
            W = FA[:, self.s_c].T
            contrib = U[:, :, None] * W[:, None, :]
            off = (self.s_r != self.s_c)[:, None, None]
            np.add.at(dsig, self.s_k, contrib + off * contrib.transpose(0, 2, 1))
        if len(self.a_k):
            np.add.at(dmu, self.a_k, FA[:, self.a_r].T)
        return Aa[:p], C[:p, :p], dmu, dsig
