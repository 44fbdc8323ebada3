"""Sample statistics of ordered items for WLS estimation: thresholds, polychoric correlations and their
asymptotic covariance matrix — the first two stages of Muthén's (1984) three-stage estimator, as lavaan computes
them (``lav_samplestats_step1``, ``lav_samplestats_step2``, ``muthen1984``).

Model and estimates
-------------------
Each ordered item y_j with categories 1..K_j is a coarsened standard-normal latent response y*_j:
y_j = c when τ_{j,c-1} < y*_j ≤ τ_{j,c} (τ_{j,0} = −∞, τ_{j,K_j} = +∞).

1. Thresholds, one item at a time: τ_{j,c} = Φ⁻¹(proportion of rows with y_j ≤ c) — the ML estimate of the
   probit model without covariates.
2. Polychoric correlations, one pair at a time with the thresholds of step 1 held fixed ("two-step"; Olsson
   1979): ρ_ij maximises Σ_ab n_ab log π_ab(ρ), π_ab the bivariate-normal probability of cell (a, b). As in lavaan,
   a 2 × 2 table with one empty cell gets 0.5 added to that cell and to its diagonal opposite and 0.5 removed from
   the other two (``zero.add = c(0.5, 0)``, ``zero.keep.margins = TRUE``); bigger tables are used as they are.
3. Their asymptotic covariance matrix Γ ("NACOV", ``lavInspect(fit, "gamma")``) by the sandwich of Muthén (1984)
   with casewise scores: s_i = (∂ℓ_i/∂τ, ∂ℓ_i/∂ρ) (univariate scores for the thresholds, bivariate for each
   correlation); B = Σ_i s_i s_iᵀ; A the block-triangular matrix with the per-item threshold blocks of B (A11),
   the diagonal of the correlation block (A22) and A21 = Σ_i (∂ℓ_i/∂ρ)(∂ℓ^(2)_i/∂τ)ᵀ (the bivariate scores with
   respect to the thresholds); Γ = N · A⁻¹ B A⁻ᵀ.

The vector of sample statistics ("wls.obs") is (τ_1, …, τ_p, ρ_21, ρ_31, …, ρ_p1, ρ_32, …): the thresholds item by
item, then the correlations below the diagonal, column by column — lavaan's order.

The bivariate normal distribution function is Genz's (2004) algorithm (Drezner & Wesolowsky 1990 with
Gauss–Legendre quadrature of 6, 12 or 20 points), the same one pbivnorm (which lavaan calls) implements; accurate
to about 1e-15.

References: Genz (2004) *Statistics and Computing* 14; Jöreskog (1994) *Psychometrika* 59; Muthén (1984)
*Psychometrika* 49; Olsson (1979) *Psychometrika* 44; Rosseel (2012) *J. Stat. Softw.* 48(2).

Example
-------
>>> import numpy as np
>>> rng = np.random.default_rng(1)
>>> z = rng.normal(size=(500, 2)) @ np.linalg.cholesky([[1.0, 0.6], [0.6, 1.0]]).T
>>> codes = np.digitize(z, [-0.5, 0.3, 1.0])          # four categories, codes 0-3
>>> stats = ordinal_statistics(codes, n_categories=[4, 4])
>>> bool(abs(stats.cor[0, 1] - 0.6) < 0.1), stats.gamma.shape   # 3 + 3 thresholds and one correlation
(True, (7, 7))
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy import special

SQRT_EPS = float(np.sqrt(np.finfo(float).eps))
_TWO_PI = 2.0 * np.pi

# Gauss-Legendre nodes (negative half) and weights for 6, 12 and 20 points (Genz 2004)
_GL_W = (np.array([0.1713244923791705, 0.3607615730481384, 0.4679139345726904]),
         np.array([0.04717533638651177, 0.1069393259953183, 0.1600783285433464, 0.2031674267230659,
                   0.2334925365383547, 0.2491470458134029]),
         np.array([0.01761400713915212, 0.04060142980038694, 0.06267204833410906, 0.08327674157670475,
                   0.1019301198172404, 0.1181945319615184, 0.1316886384491766, 0.1420961093183821,
                   0.1491729864726037, 0.1527533871307259]))
_GL_X = (np.array([-0.9324695142031522, -0.6612093864662647, -0.2386191860831970]),
         np.array([-0.9815606342467191, -0.9041172563704750, -0.7699026741943050, -0.5873179542866171,
                   -0.3678314989981802, -0.1252334085114692]),
         np.array([-0.9931285991850949, -0.9639719272779138, -0.9122344282513259, -0.8391169718222188,
                   -0.7463319064601508, -0.6360536807265150, -0.5108670019508271, -0.3737060887154196,
                   -0.2277858511416451, -0.07652652113349733]))


def _phi(x: np.ndarray) -> np.ndarray:
    return special.ndtr(x)


def _bvnu(h: np.ndarray, k: np.ndarray, r: np.ndarray) -> np.ndarray:
    """P(X > h, Y > k) for a standard bivariate normal with correlation r (finite h, k; Genz's ``bvnu``)."""
    out = np.empty(h.shape)
    hk = h * k
    ar = np.abs(r)
    low = ar < 0.925
    if low.any():
        hh, kk, rr, hhk = h[low], k[low], r[low], hk[low]
        hs = (hh * hh + kk * kk) / 2.0
        asr = np.arcsin(rr)
        bvn = np.zeros(hh.shape)
        for ng, lim in ((0, 0.3), (1, 0.75), (2, 0.925)):
            sel = (np.abs(rr) < lim) & (np.abs(rr) >= (0.0, 0.3, 0.75)[ng])
            if not sel.any():
                continue
            a, x, w = asr[sel], _GL_X[ng], _GL_W[ng]
            hk_s, hs_s = hhk[sel][:, None], hs[sel][:, None]
            total = np.zeros(a.shape)
            for sign in (-1.0, 1.0):
                sn = np.sin(a[:, None] * (1.0 + sign * x[None, :]) / 2.0)
                total += (w[None, :] * np.exp((sn * hk_s - hs_s) / (1.0 - sn * sn))).sum(axis=1)
            bvn[sel] = total * a / (4.0 * np.pi)
        out[low] = bvn + _phi(-hh) * _phi(-kk)
    high = ~low
    if high.any():
        hh, kk, rr = h[high], k[high], r[high]
        kk = np.where(rr < 0, -kk, kk)
        hhk = hh * kk
        bvn = np.zeros(hh.shape)
        inner = np.abs(rr) < 1
        if inner.any():
            h1, k1, r1, hk1 = hh[inner], kk[inner], rr[inner], hhk[inner]
            as_ = (1.0 - r1) * (1.0 + r1)
            a = np.sqrt(as_)
            bs = (h1 - k1) ** 2
            c = (4.0 - hk1) / 8.0
            d = (12.0 - hk1) / 16.0
            asr = -(bs / as_ + hk1) / 2.0
            val = np.where(asr > -100, a * np.exp(np.maximum(asr, -100))
                           * (1 - c * (bs - as_) * (1 - d * bs / 5) / 3 + c * d * as_ * as_ / 5), 0.0)
            b = np.sqrt(bs)
            sp = np.sqrt(_TWO_PI) * _phi(-b / a)
            val = np.where(hk1 > -100, val - np.exp(-np.maximum(hk1, -100) / 2) * sp * b
                           * (1 - c * bs * (1 - d * bs / 5) / 3), val)
            a2 = a / 2.0
            x, w = _GL_X[2], _GL_W[2]
            for sign in (-1.0, 1.0):
                xs = (a2[:, None] + a2[:, None] * sign * x[None, :]) ** 2
                rs = np.sqrt(1.0 - xs)
                asr2 = -(bs[:, None] / xs + hk1[:, None]) / 2.0
                sp2 = 1.0 + c[:, None] * xs * (1.0 + d[:, None] * xs)
                ep = np.exp(-hk1[:, None] * xs / (2.0 * (1.0 + rs) ** 2)) / rs
                term = a2[:, None] * w[None, :] * np.exp(np.maximum(asr2, -100)) * (ep - sp2)
                val = val + np.where(asr2 > -100, term, 0.0).sum(axis=1)
            bvn[inner] = -val / _TWO_PI
        pos = rr > 0
        res = np.where(pos, bvn + _phi(-np.maximum(hh, kk)), 0.0)
        neg = ~pos
        lower = np.where(hh < 0, _phi(kk) - _phi(hh), _phi(-hh) - _phi(-kk))
        res = np.where(neg & (hh >= kk), -bvn, res)
        res = np.where(neg & (hh < kk), lower - bvn, res)
        out[high] = res
    return np.clip(out, 0.0, 1.0)


def bvn_cdf(h, k, r) -> np.ndarray:
    """Φ₂(h, k; r) = P(X ≤ h, Y ≤ k), standard bivariate normal with correlation r (arrays broadcast; ±inf allowed).

    >>> round(float(bvn_cdf(0.0, 0.0, 0.5)), 12)   # 1/4 + arcsin(0.5)/(2π) = 1/3
    0.333333333333
    """
    h, k, r = np.broadcast_arrays(np.asarray(h, float), np.asarray(k, float), np.asarray(r, float))
    out = np.zeros(h.shape)
    fin = np.isfinite(h) & np.isfinite(k)
    if fin.any():
        out[fin] = _bvnu(-h[fin], -k[fin], r[fin])
    h_inf, k_inf = np.isposinf(h), np.isposinf(k)
    out = np.where(h_inf & np.isfinite(k), _phi(np.where(np.isfinite(k), k, 0.0)), out)
    out = np.where(k_inf & np.isfinite(h), _phi(np.where(np.isfinite(h), h, 0.0)), out)
    out = np.where(h_inf & k_inf, 1.0, out)
    out = np.where(np.isneginf(h) | np.isneginf(k), 0.0, out)
    return out


def bvn_pdf(h, k, r) -> np.ndarray:
    """Standard bivariate normal density φ₂(h, k; r) (0 at infinite arguments).

    >>> round(float(bvn_pdf(0.0, 0.0, 0.0)), 6)   # 1 / (2π)
    0.159155
    """
    h, k, r = np.broadcast_arrays(np.asarray(h, float), np.asarray(k, float), np.asarray(r, float))
    fin = np.isfinite(h) & np.isfinite(k)
    hh, kk = np.where(fin, h, 0.0), np.where(fin, k, 0.0)
    one = 1.0 - r * r
    val = np.exp(-(hh * hh - 2 * r * hh * kk + kk * kk) / (2 * one)) / (_TWO_PI * np.sqrt(one))
    return np.where(fin, val, 0.0)


def _dlog_pdf_drho(h, k, r):
    """∂ log φ₂(h, k; r) / ∂r (finite arguments)."""
    one = 1.0 - r * r
    return r / one + (h * k * (1 + r * r) - r * (h * h + k * k)) / one ** 2


@dataclass(frozen=True)
class OrdinalStatistics:
    """Thresholds, polychoric correlations, the vector of sample statistics and its asymptotic covariance (one group).

    ``thresholds`` holds one array per item (empty for a continuous variable); ``cor`` the polychoric correlation
    matrix; ``wls_obs`` the vector (thresholds, then correlations below the diagonal column by column); ``gamma`` N
    times the asymptotic
    covariance matrix of ``wls_obs`` (lavaan's NACOV); ``n`` the rows used; ``zero_cell_pairs`` the item pairs
    (index pairs) whose bivariate table has an empty cell. With continuous variables (``numeric`` True for them;
    :func:`~allianceStats.sem.polyserial.mixed_statistics`) ``means`` and ``variances`` hold their ML means and
    variances, ``cor`` the Pearson, polyserial and polychoric correlations, and ``wls_obs`` lavaan's layout (module
    docstring of :mod:`~allianceStats.sem.polyserial`).
    """

    thresholds: tuple[np.ndarray, ...]
    cor: np.ndarray
    wls_obs: np.ndarray
    gamma: np.ndarray
    n: int
    zero_cell_pairs: tuple[tuple[int, int], ...] = ()
    numeric: tuple[bool, ...] = ()
    means: np.ndarray | None = None
    variances: np.ndarray | None = None
    slopes: np.ndarray | None = None

    @property
    def n_slopes(self) -> int:
        """Number of slopes on exogenous covariates (``conditional.x``, :mod:`~allianceStats.sem.conditional`)."""
        return 0 if self.slopes is None else int(self.slopes.size)

    @property
    def n_thresholds(self) -> int:
        return int(sum(len(t) for t in self.thresholds))

    @property
    def n_numeric(self) -> int:
        """Number of continuous variables (mixed data, :mod:`~allianceStats.sem.polyserial`)."""
        return int(sum(self.numeric))

    @property
    def n_univariate(self) -> int:
        """Where the covariances start in ``wls_obs``: thresholds and (negative) means, the slopes on the
        covariates (if any), then the variances of the continuous variables."""
        return self.n_thresholds + 2 * self.n_numeric + self.n_slopes

    @property
    def cov(self) -> np.ndarray:
        """The covariance matrix of the latent responses and continuous variables (ordered items have variance 1)."""
        if not self.n_numeric or self.variances is None:
            return self.cor
        sd = np.sqrt(np.where(np.asarray(self.numeric), self.variances, 1.0))
        return self.cor * np.outer(sd, sd)


def thresholds(codes: np.ndarray, n_categories: int) -> np.ndarray:
    """Univariate probit thresholds Φ⁻¹(cumulative proportions) of integer codes 0..K−1.

    >>> thresholds(np.array([0, 0, 1, 1, 1, 2, 2, 2]), 3).round(4).tolist()
    [-0.6745, 0.3186]
    """
    counts = np.bincount(codes, minlength=n_categories).astype(float)
    return special.ndtri(np.cumsum(counts)[:-1] / counts.sum())


def _pairs(p: int) -> list[tuple[int, int]]:
    """Item pairs (i, j), i > j, in lavaan's order (below the diagonal, column by column)."""
    return [(i, j) for j in range(p - 1) for i in range(j + 1, p)]


def _extended(th: np.ndarray, width: int) -> np.ndarray:
    """[−inf, τ_1..τ_{K−1}, +inf, +inf, …] padded to ``width + 1`` entries (categories beyond K are empty)."""
    out = np.full(width + 1, np.inf)
    out[0] = -np.inf
    out[1:1 + len(th)] = th
    return out


class _PairTables:
    """Cell probabilities of every item pair at once, as functions of ρ (thresholds fixed)."""

    def __init__(self, ths: list[np.ndarray], pairs: list[tuple[int, int]], kmax: int):
        self.kmax = kmax
        ext = np.array([_extended(t, kmax) for t in ths])            # (p, kmax + 1)
        self.ext = ext
        ii = np.array([i for i, _ in pairs], dtype=int)
        jj = np.array([j for _, j in pairs], dtype=int)
        self.ti = ext[ii]                                             # (P, kmax + 1)
        self.tj = ext[jj]
        self.H = np.broadcast_to(self.ti[:, :, None], (len(pairs), kmax + 1, kmax + 1))
        self.K = np.broadcast_to(self.tj[:, None, :], (len(pairs), kmax + 1, kmax + 1))
        self.fin = np.isfinite(self.H) & np.isfinite(self.K)

    @staticmethod
    def _cells(grid: np.ndarray) -> np.ndarray:
        return grid[:, 1:, 1:] - grid[:, :-1, 1:] - grid[:, 1:, :-1] + grid[:, :-1, :-1]

    def probabilities(self, rho: np.ndarray) -> np.ndarray:
        r = np.broadcast_to(rho[:, None, None], self.H.shape)
        return self._cells(bvn_cdf(self.H, self.K, r))

    def derivatives(self, rho: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """∂π/∂ρ and ∂²π/∂ρ² of every cell."""
        r = np.broadcast_to(rho[:, None, None], self.H.shape)
        dens = bvn_pdf(self.H, self.K, r)
        hh, kk = np.where(self.fin, self.H, 0.0), np.where(self.fin, self.K, 0.0)
        d2 = dens * _dlog_pdf_drho(hh, kk, r)
        return self._cells(dens), self._cells(np.where(self.fin, d2, 0.0))


def _zero_add(freq: np.ndarray, k1: int, k2: int) -> np.ndarray:
    """lavaan's zero.add = c(0.5, 0) with zero.keep.margins: only 2 × 2 tables with one empty cell change."""
    if k1 != 2 or k2 != 2:
        return freq
    f = freq.copy()
    block = f[:2, :2]
    zeros = np.argwhere(block == 0)
    if len(zeros) != 1:
        return f
    a, b = zeros[0]
    if a == b:   # (1,1) or (2,2) empty: add to the diagonal, take from the off-diagonal
        block[0, 0] += 0.5
        block[1, 1] += 0.5
        block[0, 1] -= 0.5
        block[1, 0] -= 0.5
    else:
        block[0, 0] -= 0.5
        block[1, 1] -= 0.5
        block[0, 1] += 0.5
        block[1, 0] += 0.5
    f[:2, :2] = block
    return f


def polychoric(codes: np.ndarray, n_categories: list[int], ths: list[np.ndarray] | None = None,
               *, tol: float = 1e-13, max_iter: int = 100) -> tuple[np.ndarray, list[tuple[int, int]]]:
    """Two-step polychoric correlation matrix of integer codes (columns 0..K_j−1), thresholds held fixed.

    All pairs are estimated together by Newton's method on each pair's log-likelihood (step halving when it does
    not increase), from the Pearson correlation of the codes as lavaan starts. Returns the matrix and the pairs
    whose table has an empty cell.

    >>> rng = np.random.default_rng(0)
    >>> z = rng.normal(size=(2000, 2)) @ np.linalg.cholesky([[1.0, -0.4], [-0.4, 1.0]]).T
    >>> cor, _ = polychoric(np.digitize(z, [-1.0, 0.0, 0.8]), [4, 4])
    >>> round(float(cor[0, 1]), 2)
    -0.42
    """
    n, p = codes.shape
    if ths is None:
        ths = [thresholds(codes[:, j], n_categories[j]) for j in range(p)]
    cor = np.eye(p)
    pairs = _pairs(p)
    if not pairs:
        return cor, []
    kmax = max(n_categories)
    freqs = np.zeros((len(pairs), kmax, kmax))
    zero_pairs = []
    rho0 = np.zeros(len(pairs))
    for k, (i, j) in enumerate(pairs):
        f = np.zeros((kmax, kmax))
        np.add.at(f, (codes[:, i], codes[:, j]), 1.0)
        if (f[:n_categories[i], :n_categories[j]] == 0).any():
            zero_pairs.append((i, j))
        freqs[k] = _zero_add(f, n_categories[i], n_categories[j])
        xi, xj = codes[:, i].astype(float), codes[:, j].astype(float)
        if xi.std() > 0 and xj.std() > 0:
            c = float(np.corrcoef(xi, xj)[0, 1])
            rho0[k] = c if abs(c) < 1 else 0.0
    tables = _PairTables(ths, pairs, kmax)
    rho = _newton_rho(tables, freqs, rho0, tol=tol, max_iter=max_iter)
    for k, (i, j) in enumerate(pairs):
        cor[i, j] = cor[j, i] = rho[k]
    return cor, zero_pairs


def _pair_loglik(tables: _PairTables, freqs: np.ndarray, rho: np.ndarray) -> np.ndarray:
    prob = np.maximum(tables.probabilities(rho), SQRT_EPS)
    return (freqs * np.log(prob)).sum(axis=(1, 2))


def _newton_rho(tables: _PairTables, freqs: np.ndarray, rho: np.ndarray, *, tol: float,
                max_iter: int) -> np.ndarray:
    rho = np.clip(rho, -0.995, 0.995)
    ll = _pair_loglik(tables, freqs, rho)
    active = np.ones(len(rho), dtype=bool)
    for _ in range(max_iter):
        prob = np.maximum(tables.probabilities(rho), SQRT_EPS)
        d1, d2 = tables.derivatives(rho)
        score = (freqs * d1 / prob).sum(axis=(1, 2))
        hess = (freqs * (d2 / prob - (d1 / prob) ** 2)).sum(axis=(1, 2))
        info = freqs.sum(axis=(1, 2)) * (d1 * d1 / prob).sum(axis=(1, 2))
        step = np.where(hess < 0, -score / np.where(hess < 0, hess, -1.0), score / np.maximum(info, 1e-300))
        step = np.where(active, step, 0.0)
        t = np.ones(len(rho))
        for _ in range(30):
            cand = np.clip(rho + t * step, -0.999, 0.999)
            ll_new = _pair_loglik(tables, freqs, cand)
            bad = active & (ll_new < ll - 1e-12 * np.abs(ll))
            if not bad.any():
                break
            t = np.where(bad, t / 2, t)
        moved = np.abs(cand - rho)
        rho, ll = cand, np.maximum(ll_new, ll)
        active &= moved > tol
        if not active.any():
            break
    return rho


def _pair_scores(tables: _PairTables, rho: np.ndarray, k: int, ki: int, kj: int):
    """Cell tables for pair k: ∂ℓ/∂ρ (ki × kj), and ∂ℓ/∂τ_i (ki−1, ki, kj), ∂ℓ/∂τ_j (kj−1, ki, kj) per cell."""
    r = float(rho[k])
    R = np.sqrt(1.0 - r * r)
    ti, tj = tables.ti[k][:ki + 1], tables.tj[k][:kj + 1]
    hh, kk = np.meshgrid(ti, tj, indexing="ij")
    grid = bvn_cdf(hh, kk, r)
    prob = grid[1:, 1:] - grid[:-1, 1:] - grid[1:, :-1] + grid[:-1, :-1]
    dens = bvn_pdf(hh, kk, r)
    dprob = dens[1:, 1:] - dens[:-1, 1:] - dens[1:, :-1] + dens[:-1, :-1]
    with np.errstate(divide="ignore", invalid="ignore"):
        d_rho = dprob / prob

    def d_tau(t_own: np.ndarray, t_other: np.ndarray, k_own: int, k_other: int) -> np.ndarray:
        # D[c, b] = φ(τ_c) [Φ((t_b+1 − r τ_c)/R) − Φ((t_b − r τ_c)/R)]: ∂P(y*_own ≤ τ_c, other in b)/∂τ_c
        tc = t_own[1:k_own][:, None]
        upper = _phi((t_other[1:][None, :] - r * tc) / R)
        lower = _phi((t_other[:-1][None, :] - r * tc) / R)
        D = np.exp(-0.5 * tc * tc) / np.sqrt(_TWO_PI) * (upper - lower)      # (k_own−1, k_other)
        out = np.zeros((k_own - 1, k_own, k_other))
        for c in range(k_own - 1):
            out[c, c, :] = D[c]          # rows in category c: τ_c is their upper bound
            out[c, c + 1, :] = -D[c]     # rows in category c+1: τ_c is their lower bound
        return out

    dti = d_tau(ti, tj, ki, kj) / prob[None]
    dtj = d_tau(tj, ti, kj, ki).transpose(0, 2, 1) / prob[None]
    return d_rho, dti, dtj


def _muthen_gamma(sc_uni: np.ndarray, sc_cor: np.ndarray, blocks: list, A21: np.ndarray, n: int, *,
                  H21: np.ndarray | None = None, h22: np.ndarray | None = None,
                  flip: Sequence[int] = ()) -> np.ndarray:
    """Γ = n · A⁻¹ B A⁻ᵀ from casewise scores, the two-step sandwich of Muthén (1984) (lavaan's ``muthen1984``).

    ``sc_uni`` (n × u) are the univariate scores, ``sc_cor`` (n × r) the bivariate ∂ℓ_i/∂ρ; B = Σ_i s_i s_iᵀ with
    s_i = (sc_uni, sc_cor)_i. A is block lower-triangular: A11 keeps B's univariate blocks ``blocks`` (index lists, one
    per variable), A22 the diagonal of B's correlation block and A21 = Σ_i (∂ℓ_i/∂ρ)(∂ℓ^(2)_i/∂θ)ᵀ (given). With
    ``H21``/``h22`` the delta rule H = [[I, 0], [H21, diag(h22)]] maps correlations to covariances (Γ = H Γ_ρ Hᵀ), and
    the rows/columns ``flip`` change sign (statistics holding −μ). Returns Γ symmetrised.
    """
    n_a11 = sc_uni.shape[1]
    scores = np.hstack([sc_uni, sc_cor])
    inner = scores.T @ scores
    A11 = np.zeros((n_a11, n_a11))
    for idx in blocks:
        A11[np.ix_(idx, idx)] = inner[np.ix_(idx, idx)]
    A11_inv = np.linalg.inv(A11)
    A22_inv = 1.0 / np.sum(sc_cor ** 2, axis=0)
    m = inner.shape[0]
    B_inv = np.zeros((m, m))
    B_inv[:n_a11, :n_a11] = A11_inv
    B_inv[n_a11:, :n_a11] = -(A22_inv[:, None] * A21) @ A11_inv
    B_inv[n_a11:, n_a11:] = np.diag(A22_inv)
    W = B_inv @ inner @ B_inv.T
    if H21 is not None and h22 is not None:
        H = np.eye(m)
        H[n_a11:, :n_a11] = H21
        H[n_a11:, n_a11:] = np.diag(h22)
        W = H @ W @ H.T
    if len(flip):
        sign = np.ones(m)
        sign[list(flip)] = -1.0
        W = W * np.outer(sign, sign)
    gamma = n * W
    return 0.5 * (gamma + gamma.T)


def ordinal_statistics(codes: np.ndarray, n_categories: list[int]) -> OrdinalStatistics:
    """Thresholds, polychoric correlations and Γ (module docstring) of complete integer codes 0..K_j−1 (one group).

    >>> codes = np.array([[0, 1], [1, 1], [1, 0], [2, 2], [0, 0], [2, 1], [1, 2], [2, 2]])
    >>> s = ordinal_statistics(codes, [3, 3])
    >>> s.wls_obs.shape, s.n   # 2 + 2 thresholds and one correlation
    ((5,), 8)
    """
    codes = np.asarray(codes, dtype=int)
    n, p = codes.shape
    ths = [thresholds(codes[:, j], n_categories[j]) for j in range(p)]
    cor, zero_pairs = polychoric(codes, list(n_categories), ths)
    pairs = _pairs(p)
    nth = [k - 1 for k in n_categories]
    th_start = np.r_[0, np.cumsum(nth)[:-1]].astype(int)
    n_th = int(sum(nth))
    # univariate scores: rows in category c get φ(τ_c)/π_c for τ_c and −φ(τ_{c−1})/π_c for τ_{c−1}
    sc_th = np.zeros((n, n_th))
    for j in range(p):
        t = np.r_[-np.inf, ths[j], np.inf]
        prop = np.diff(_phi(t))
        dens = np.exp(-0.5 * np.where(np.isfinite(t), t, 0.0) ** 2) / np.sqrt(_TWO_PI) * np.isfinite(t)
        c = codes[:, j]
        for k in range(nth[j]):
            col = th_start[j] + k
            sc_th[:, col] = np.where(c == k, dens[k + 1] / prop[c], 0.0) - np.where(c == k + 1, dens[k + 1] / prop[c],
                                                                                    0.0)
    npairs = len(pairs)
    sc_cor = np.zeros((n, npairs))
    A21 = np.zeros((npairs, n_th))
    if npairs:
        tables = _PairTables(ths, pairs, max(n_categories))
        rho = np.array([cor[i, j] for i, j in pairs])
        for k, (i, j) in enumerate(pairs):
            d_rho, dti, dtj = _pair_scores(tables, rho, k, n_categories[i], n_categories[j])
            ci, cj = codes[:, i], codes[:, j]
            s = d_rho[ci, cj]
            sc_cor[:, k] = s
            # A21: Σ_rows (∂ℓ/∂ρ)(∂ℓ^(2)/∂τ) through the cell counts
            freq = np.zeros((n_categories[i], n_categories[j]))
            np.add.at(freq, (ci, cj), 1.0)
            w = np.where(freq > 0, freq * d_rho, 0.0)
            A21[k, th_start[i]:th_start[i] + nth[i]] = np.nansum(dti * w[None], axis=(1, 2))
            A21[k, th_start[j]:th_start[j] + nth[j]] = np.nansum(dtj * w[None], axis=(1, 2))
    gamma = _muthen_gamma(sc_th, sc_cor, [np.arange(th_start[j], th_start[j] + nth[j]) for j in range(p)], A21, n)
    wls_obs = np.r_[np.concatenate(ths) if ths else np.zeros(0), [cor[i, j] for i, j in pairs]]
    return OrdinalStatistics(thresholds=tuple(ths), cor=cor, wls_obs=wls_obs, gamma=gamma, n=n,
                             zero_cell_pairs=tuple(zero_pairs))
