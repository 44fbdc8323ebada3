"""Normal-theory (full-information) log-likelihood over missing-data patterns, its derivatives, and H1.

Likelihood (Arbuckle 1996; Enders 2010, ch. 3)
----------------------------------------------
Rows of a group's data matrix are grouped by their pattern of observed variables o. For a pattern with
n_o rows, observed-data mean ȳ_o and (divisor n_o) covariance S_o, the casewise log-likelihood sums to

    ℓ_o = −n_o/2 · [ p_o log 2π + log|Σ_oo| + tr(Σ_oo⁻¹ (S_o + (ȳ_o − μ_o)(ȳ_o − μ_o)ᵀ)) ],

and ℓ = Σ_o ℓ_o. With complete data there is one pattern and ℓ is the ordinary ML log-likelihood of
the mean and covariance structure (Jöreskog 1967; Bollen 1989, ch. 4). All patterns are evaluated at once
by padding: Σ_oo is embedded in a p × p matrix with 1 on the diagonal of unobserved variables, so one
batched Cholesky factor gives every log|Σ_oo| and Σ_oo⁻¹ (zeros outside the observed block).

Derivatives: ∂ℓ/∂μ = Σ_o n_o Σ_oo⁻¹(ȳ_o − μ_o) and ∂ℓ/∂Σ = −½ Σ_o n_o (Σ_oo⁻¹ − Σ_oo⁻¹ M_o Σ_oo⁻¹) with
M_o = S_o + (ȳ_o − μ_o)(ȳ_o − μ_o)ᵀ; chained through ∂μ/∂θ, ∂Σ/∂θ (``model.py``). The expected (Fisher)
information is Σ_o n_o [∂μᵀ Σ_oo⁻¹ ∂μ + ½ tr(Σ_oo⁻¹ ∂Σ Σ_oo⁻¹ ∂Σ)] (lavaan's "expected" information
for complete data; for incomplete data used only to take optimisation steps).

H1, the saturated model, is estimated by the EM algorithm (Dempster, Laird & Rubin 1977; Little & Rubin
2002, ch. 11), run to a relative log-likelihood change below 1e-13.

Example
-------
>>> import numpy as np
>>> y = np.array([[1.0, 2.0], [2.0, np.nan], [3.0, 5.0], [np.nan, 1.0]])
>>> data = PatternData.from_array(y)
>>> data.n_patterns, data.n
(3, 4)
>>> ll, _, _ = data.loglik(np.zeros(2), np.eye(2))
>>> round(ll, 4)
-27.5136
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

LOG2PI = np.log(2.0 * np.pi)


def _no_h1(iterations: int) -> float:
    """NaN for H1's log-likelihood, with a warning, when the saturated model has no ML estimate (issue 12).

    Too few rows for the observed variables (complete data: n ≤ p or a constant column; missing data: too
    few rows in the patterns, e.g. 20 clients × 12 wave variables) make the sample covariance singular, or EM
    drive Σ singular while ℓ grows without bound. χ² and the indices built on it are then undefined (NaN).
    """
    from ..errors import DataWarning
    from ._messages import warn

    how = "is singular" if iterations == 0 else f"became singular after {iterations} EM iterations"
    warn("the saturated model (H1) has no maximum-likelihood estimate: its covariance matrix " + how + " (too "
         "few rows for the number of observed variables and their missing-data patterns). The chi-square test "
         "and the fit indices built on it are not available (NaN); use more cases or fewer observed variables "
         "(e.g. fewer waves).", DataWarning)
    return float("nan")


def _pair_kernel(n, A, B):
    """K (p² × p²) with vec(X)ᵀ K vec(Y) = Σ_k n_k tr(X A_k Y B_k) for symmetric A_k, B_k (one GEMM)."""
    P, p, _ = A.shape
    G = (n[:, None] * A.reshape(P, p * p)).T @ B.reshape(P, p * p)    # G[(b,c),(d,a)] = Σ n A[b,c] B[d,a]
    return G.reshape(p, p, p, p).transpose(3, 0, 1, 2).reshape(p * p, p * p)


def _pair_form(n, A, B, dsigma):
    """Σ_k n_k tr(∂Σ_a A_k ∂Σ_b B_k) for all pairs of parameters (a, b), by the cheaper of two routes: through the
    p² × p² kernel (many patterns, few variables) or pattern by pattern with U_b = A_k ∂Σ_b B_k (few patterns, many
    variables or parameters, e.g. complete data on 60 variables)."""
    P, p, _ = A.shape
    q = dsigma.shape[0]
    D = dsigma.reshape(q, p * p)
    if P * (q * p ** 3 + q * q * p * p) < P * p ** 4 + q * p ** 4:
        out = np.zeros((q, q))
        for k in range(P):
            U = A[k] @ dsigma @ B[k]
            out += n[k] * (D @ U.transpose(0, 2, 1).reshape(q, p * p).T)
        return out
    return D @ _pair_kernel(n, A, B) @ D.T


@dataclass
class PatternData:
    """Sufficient statistics of one group's data, by missing-data pattern."""

    y: np.ndarray            # (n, p) data, NaN for missing
    masks: np.ndarray        # (P, p) bool, observed variables of each pattern
    counts: np.ndarray       # (P,) rows per pattern
    row_pattern: np.ndarray  # (n,) pattern index of each row
    sum_y: np.ndarray        # (P, p) sums of observed values (0 where missing)
    sum_yy: np.ndarray       # (P, p, p) sums of cross-products (0 outside the observed block)
    _cache: tuple | None = None
    _last_inverse: tuple | None = None

    @classmethod
    def from_array(cls, y: np.ndarray) -> PatternData:
        y = np.asarray(y, dtype=float)
        obs = ~np.isnan(y)
        masks, row_pattern, counts = np.unique(obs, axis=0, return_inverse=True, return_counts=True)
        row_pattern = row_pattern.ravel()
        y0 = np.where(obs, y, 0.0)
        P, p = masks.shape
        sum_y = np.zeros((P, p))
        np.add.at(sum_y, row_pattern, y0)
        sum_yy = np.zeros((P, p, p))
        order = np.argsort(row_pattern, kind="stable")
        starts = np.r_[0, np.cumsum(counts)[:-1]]
        ys = y0[order]
        for k in range(P):
            block = ys[starts[k]:starts[k] + counts[k]]
            sum_yy[k] = block.T @ block
        return cls(y=y, masks=masks, counts=counts.astype(float), row_pattern=row_pattern, sum_y=sum_y,
                   sum_yy=sum_yy)

    @classmethod
    def from_moments(cls, mean: np.ndarray, cov: np.ndarray, n: int) -> PatternData:
        """Complete data known only by their mean vector, covariance matrix (divisor n) and size (summary
        statistics: the likelihood, its derivatives and the information need nothing else; casewise scores do)."""
        mean = np.asarray(mean, dtype=float)
        cov = np.asarray(cov, dtype=float)
        p = len(mean)
        return cls(y=None, masks=np.ones((1, p), dtype=bool), counts=np.array([float(n)]),  # type: ignore[arg-type]
                   row_pattern=np.zeros(0, dtype=int), sum_y=n * mean[None],
                   sum_yy=n * (cov + np.outer(mean, mean))[None])

    @property
    def has_rows(self) -> bool:
        """Whether the rows themselves are known (False for summary statistics)."""
        return self.y is not None

    def reordered(self, order) -> PatternData:
        """The same data with the variables in ``order`` (a list of column positions)."""
        order = list(order)
        if self.y is not None:
            return PatternData.from_array(self.y[:, order])
        return PatternData(y=None, masks=self.masks[:, order], counts=self.counts, row_pattern=self.row_pattern,
                           sum_y=self.sum_y[:, order], sum_yy=self.sum_yy[:, order][:, :, order])

    def available_moments(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Per variable the number of observed values, their mean and (divisor n) variance, from the pattern sums
        (what ``np.nanmean``/``np.nanvar`` give on the rows)."""
        mk = self.masks.astype(float)
        n_j = self.counts @ mk
        mean = self.sum_y.sum(axis=0) / n_j
        sq = np.einsum("kjj->j", self.sum_yy)
        return n_j, mean, sq / n_j - mean ** 2

    def pairwise_cov(self, i: int, j: int) -> float:
        """Covariance (divisor n) of variables i and j over the rows where both are observed (0 if fewer than 2)."""
        both = self.masks[:, i] & self.masks[:, j]
        n = float(self.counts[both].sum())
        if n < 2:
            return 0.0
        si, sj = self.sum_y[both, i].sum(), self.sum_y[both, j].sum()
        return float(self.sum_yy[both, i, j].sum() / n - si * sj / n ** 2)

    def block_moments(self, idx) -> tuple[np.ndarray, np.ndarray]:
        """Mean and covariance (divisor n) of the variables ``idx``, which are observed in every row."""
        idx = list(idx)
        n = self.counts.sum()
        mean = self.sum_y[:, idx].sum(axis=0) / n
        cov = self.sum_yy[:, idx][:, :, idx].sum(axis=0) / n - np.outer(mean, mean)
        return mean, cov

    @property
    def n(self) -> int:
        return int(self.counts.sum())

    @property
    def n_patterns(self) -> int:
        return len(self.counts)

    @property
    def complete(self) -> bool:
        return bool(self.masks.all())

    def _padded_inverse(self, sigma: np.ndarray):
        """Batched Σ_oo⁻¹ (zero-padded) and log|Σ_oo|; None when some Σ_oo is not positive definite.

        The last result is kept: an optimiser asks for the same Σ in consecutive calls (value, then gradient).
        """
        if self._last_inverse is not None and np.array_equal(self._last_inverse[0], sigma):
            return self._last_inverse[1], self._last_inverse[2]
        inv, logdet = self._compute_padded_inverse(sigma)
        self._last_inverse = (sigma.copy(), inv, logdet)
        return inv, logdet

    def _compute_padded_inverse(self, sigma: np.ndarray):
        mk = self.masks.astype(float)
        outer = mk[:, :, None] * mk[:, None, :]
        pad = sigma[None] * outer + np.eye(len(sigma))[None] * (1.0 - mk)[:, None, :]
        try:
            L = np.linalg.cholesky(pad)
        except np.linalg.LinAlgError:
            return None, None
        logdet = 2.0 * np.log(np.diagonal(L, axis1=1, axis2=2)).sum(axis=1)
        eye = np.broadcast_to(np.eye(len(sigma)), pad.shape)
        Linv = np.linalg.solve(L, eye)
        inv = (Linv.transpose(0, 2, 1) @ Linv) * outer
        return inv, logdet

    def _moments(self, mu):
        if self._cache is None:
            mk = self.masks.astype(float)
            ybar = self.sum_y / self.counts[:, None]
            S = self.sum_yy / self.counts[:, None, None] - ybar[:, :, None] * ybar[:, None, :]
            self._cache = (mk, ybar, S * (mk[:, :, None] * mk[:, None, :]))
        mk, ybar, S = self._cache
        d = (ybar - mu[None]) * mk                                  # ȳ_o − μ_o
        M = S + d[:, :, None] * d[:, None, :]
        return d, M

    def _loglik_from_inverse(self, mu, inv, logdet):
        d, M = self._moments(mu)
        p_o = self.masks.sum(axis=1)
        tr = np.einsum("kij,kji->k", inv, M)
        return -0.5 * float(np.sum(self.counts * (p_o * LOG2PI + logdet + tr))), d, M

    def loglik(self, mu: np.ndarray, sigma: np.ndarray, *, gradient: bool = False):
        """Log-likelihood ℓ(μ, Σ); with ``gradient`` also ∂ℓ/∂μ (p,) and ∂ℓ/∂Σ (p, p). −inf if Σ_oo not PD."""
        inv, logdet = self._padded_inverse(sigma)
        if inv is None:
            return -np.inf, None, None
        ll, d, M = self._loglik_from_inverse(mu, inv, logdet)
        n = self.counts
        if not gradient:
            return ll, None, None
        g_mu = np.einsum("k,kij,kj->i", n, inv, d)
        IMI = inv @ M @ inv
        g_sigma = -0.5 * np.einsum("k,kij->ij", n, inv - IMI)
        return ll, g_mu, g_sigma

    def _information_terms(self, inv, dmu, dsigma):
        """Σ_o n_o ∂μᵀ P ∂μ, the flattened ∂Σ (q, p²) and the kernel of Σ_o n_o tr(P ∂Σ P ∂Σ)."""
        n = self.counts
        p = inv.shape[1]
        W = np.einsum("k,kij->ij", n, inv)
        D = dsigma.reshape(dmu.shape[0], p * p)
        return dmu @ W @ dmu.T, D, _pair_form(n, inv, inv, dsigma)

    def expected_information(self, sigma: np.ndarray, dmu: np.ndarray, dsigma: np.ndarray) -> np.ndarray:
        """Σ_o n_o [∂μᵀ Σ_oo⁻¹ ∂μ + ½ tr(Σ_oo⁻¹ ∂Σ Σ_oo⁻¹ ∂Σ)] for derivatives dmu (q,p), dsigma (q,p,p)."""
        inv, _ = self._padded_inverse(sigma)
        mean_part, _, X1 = self._information_terms(inv, dmu, dsigma)
        return mean_part + 0.5 * X1

    def observed_information_moments(self, mu, sigma, dmu, dsigma):
        """Δᵀ(−∂²ℓ/∂m∂mᵀ)Δ for the moments m = (μ, Σ) along the derivative directions dmu, dsigma.

        Per pattern (P = Σ_oo⁻¹ padded, d = ȳ_o − μ_o, M = S_o + ddᵀ, u = P d):
        μμ: n dμ_kᵀ P dμ_l;  μΣ: n dμ_kᵀ P dΣ_l u;
        ΣΣ: ½ n [−tr(P dΣ_k P dΣ_l) + tr(P dΣ_k P dΣ_l P M) + tr(P dΣ_l P dΣ_k P M)].
        Each sum over patterns is one matrix product (a p² × p² kernel), so the cost is independent of q
        until the final contraction. The second derivatives of μ(θ), Σ(θ) are added by the caller.
        """
        inv, _ = self._padded_inverse(sigma)
        d, M = self._moments(mu)
        n = self.counts
        p = sigma.shape[0]
        mean_part, D, X1 = self._information_terms(inv, dmu, dsigma)
        X2 = _pair_form(n, inv, inv @ M @ inv, dsigma)
        u = np.einsum("kij,kj->ki", inv, d)
        T = ((n[:, None] * inv.reshape(len(n), p * p)).T @ u).reshape(p, p, p)   # T[a, c, b]
        cross = np.einsum("kc,acb,lab->kl", dmu, T, dsigma, optimize=True)
        return mean_part + 0.5 * (-X1 + X2 + X2.T) + cross + cross.T

    def case_scores(self, mu: np.ndarray, sigma: np.ndarray):
        """Per-row derivatives of the row's log-likelihood: (n, p) w.r.t. μ and (n, p, p) w.r.t. Σ."""
        if self.y is None:
            raise ValueError("casewise scores need the rows of the data, not only summary statistics")
        inv, _ = self._padded_inverse(sigma)
        mk = self.masks[self.row_pattern].astype(float)
        r = np.where(np.isnan(self.y), 0.0, self.y - mu[None]) * mk
        Ik = inv[self.row_pattern]
        z = np.einsum("nij,nj->ni", Ik, r)
        g_mu = z
        g_sigma = -0.5 * (Ik - z[:, :, None] * z[:, None, :])
        return g_mu, g_sigma

    def saturated(self, *, start=None, tol: float = 1e-13, max_iter: int = 20000):
        """ML estimates (μ, Σ) of the saturated model and its log-likelihood: closed form or EM.

        ``start`` = (μ, Σ) to start EM from (e.g. a fitted model's implied moments, which are usually close).
        """
        if self.complete:
            mu = self.sum_y[0] / self.counts[0]
            sigma = self.sum_yy[0] / self.counts[0] - np.outer(mu, mu)
            ll, _, _ = self.loglik(mu, sigma)
            if ll == -np.inf:  # singular sample covariance: H1's likelihood is unbounded, not −inf
                return mu, sigma, _no_h1(0), 0
            return mu, sigma, ll, 0
        if start is not None and self.loglik(*start)[0] > -np.inf:
            mu, sigma = np.array(start[0], dtype=float), np.array(start[1], dtype=float)
        else:
            _, mu, var = self.available_moments()
            sigma = np.diag(var)
        ll_old = -np.inf
        mk = self.masks.astype(float)
        n = self.counts
        N = self.n
        p = len(mu)
        it = 0
        for _ in range(max_iter):
            it += 1
            inv, logdet = self._padded_inverse(sigma)
            if inv is None:  # Σ left the PD cone: the likelihood rises without bound as Σ turns singular
                return mu, sigma, _no_h1(it), it
            ll, _, _ = self._loglik_from_inverse(mu, inv, logdet)
            if abs(ll - ll_old) < tol * max(1.0, abs(ll)):
                break
            ll_old = ll
            SP = sigma[None] @ inv                                   # Σ Σ_oo⁻¹ (padded)
            Q = np.eye(p)[None] * mk[:, None, :] + SP * (1.0 - mk)[:, :, None]
            cond = (sigma[None] - SP @ sigma[None]) * ((1 - mk)[:, :, None] * (1 - mk)[:, None, :])
            e = self.sum_y - n[:, None] * mu[None]
            E2 = (self.sum_yy - self.sum_y[:, :, None] * mu[None, None, :] - mu[None, :, None] * self.sum_y[:, None, :]
                  + n[:, None, None] * np.outer(mu, mu)[None])
            Qe = np.einsum("kij,kj->ki", Q, e)
            T1 = (n[:, None] * mu[None] + Qe).sum(axis=0)
            T2 = (n[:, None, None] * np.outer(mu, mu)[None] + mu[None, :, None] * Qe[:, None, :]
                  + Qe[:, :, None] * mu[None, None, :] + Q @ E2 @ Q.transpose(0, 2, 1)
                  + n[:, None, None] * cond).sum(axis=0)
            mu = T1 / N
            sigma = T2 / N - np.outer(mu, mu)
            sigma = 0.5 * (sigma + sigma.T)
        return mu, sigma, ll, it
