"""Sample statistics of ordered items next to continuous variables, and of data with missing values
(``missing="pairwise"``): thresholds, means, variances, polychoric / polyserial / Pearson correlations and their
asymptotic covariance matrix Γ — lavaan's two-step ``muthen1984`` for mixed data (``lav_samplestats_step1``,
``lav_samplestats_step2``, Muthén 1984; Olsson, Drasgow & Dorans 1982; Jöreskog 1994).

Model and estimates (one group)
-------------------------------
Each ordered item is a coarsened standard-normal latent response (:mod:`~allianceStats.sem.polychoric`); each
continuous variable x_a is normal with mean μ_a and variance σ²_a; all of them are jointly normal.

1. Univariate, one variable at a time, from all its observed values: thresholds τ_j = Φ⁻¹(cumulative proportions)
   of an ordered item; the mean and the ML variance (divisor n) of a continuous variable.
2. Bivariate, one pair at a time from the rows where both are observed, with the univariate estimates fixed
   ("two-step"):
   * two ordered items: the polychoric correlation (:func:`~allianceStats.sem.polychoric.polychoric`);
   * continuous x and ordered y: the polyserial correlation ρ maximising
     Σ_i log[φ(x_i; μ, σ) (Φ((τ_{y_i} − ρz_i)/R) − Φ((τ_{y_i − 1} − ρz_i)/R))], z_i = (x_i − μ)/σ, R = √(1 − ρ²)
     (Olsson, Drasgow & Dorans 1982, two-step ML), ρ ∈ [−0.995, 0.995];
   * two continuous variables: the Pearson correlation when neither has a missing value, otherwise the ML
     correlation of the bivariate normal with the univariate means and variances fixed, ρ ∈ [−0.999, 0.999].
   As in lavaan, rows whose bivariate likelihood is below √ε (2.2e-16^½) are left out of the ML fits of ρ.
3. Γ (lavaan's NACOV) from the casewise scores s_i (univariate: ∂ℓ_i/∂τ, ∂ℓ_i/∂μ, ∂ℓ_i/∂σ²; bivariate:
   ∂ℓ_i/∂ρ; a row missing a variable contributes 0 to its scores): B = Σ_i s_i s_iᵀ; A the block-triangular
   matrix with the univariate blocks of B per variable (A11), the diagonal of the correlation block (A22) and
   A21 = Σ_i (∂ℓ_i/∂ρ)(∂ℓ^(2)_i/∂(τ, μ, σ²))ᵀ; Γ_ρ = n · A⁻¹ B A⁻ᵀ, then the delta rule H for the covariances
   σ_ab = ρ_ab σ_a σ_b (continuous pairs) and ρ_aj σ_a (mixed pairs), Γ = H Γ_ρ Hᵀ, with the signs of the mean
   rows and columns reversed (the statistics hold −μ). n is the number of rows of the group.

The vector of sample statistics (lavaan's ``wls.obs`` for mixed data): (1) per variable in model order, the
thresholds of an ordered item or the negative mean −μ_a of a continuous one; (2) the variances of the continuous
variables; (3) the covariances below the diagonal, column by column (correlations between ordered items,
ρ_aj σ_a between continuous and ordered, Pearson covariances between continuous ones).

With ``missing="pairwise"`` the same steps use the available values (lavaan's ``missing = "pairwise"``).

References: Jöreskog (1994) *Psychometrika* 59; Muthén (1984) *Psychometrika* 49; Olsson, Drasgow & Dorans (1982)
*Psychometrika* 47; Rosseel (2012) *J. Stat. Softw.* 48(2).

Example
-------
>>> import numpy as np
>>> rng = np.random.default_rng(3)
>>> z = rng.normal(size=(600, 2)) @ np.linalg.cholesky([[1.0, 0.5], [0.5, 1.0]]).T
>>> values = np.column_stack([10 + 2 * z[:, 0], np.digitize(z[:, 1], [-0.5, 0.4])])   # x continuous, y 3 codes
>>> st = mixed_statistics(values, numeric=[True, False], n_categories=[1, 3])
>>> len(st.wls_obs), bool(abs(st.cor[0, 1] - 0.5) < 0.1)   # −mean, 2 thresholds, the variance, one covariance
(5, True)
"""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from scipy import optimize, special

from .polychoric import (
    OrdinalStatistics,
    _muthen_gamma,
    _newton_rho,
    _pair_scores,
    _pairs,
    _PairTables,
    _zero_add,
    thresholds,
)

_EPS = float(np.finfo(float).eps)
_LIK_MIN = float(np.sqrt(_EPS))
_SQRT_2PI = float(np.sqrt(2.0 * np.pi))
_OFFSET = 100.0   # lavaan's o1/o2: the outer thresholds of an ordered item are ±100


def _dnorm(x: np.ndarray) -> np.ndarray:
    return np.exp(-0.5 * x * x) / _SQRT_2PI


def _solve_rho(gradient, loglik, bound: float) -> float:
    """The maximiser of a one-parameter log-likelihood on [−bound, bound]: the root of its gradient (Brent), or the
    bound the gradient points to (lavaan's nlminb optimises within the same bounds)."""
    lo, hi = -bound, bound
    g_lo, g_hi = gradient(lo), gradient(hi)
    if g_lo > 0 and g_hi > 0:
        return hi
    if g_lo < 0 and g_hi < 0:
        return lo
    if g_lo == 0:
        return lo
    if g_hi == 0:
        return hi
    try:
        return float(optimize.brentq(gradient, lo, hi, xtol=1e-14, rtol=4 * _EPS, maxiter=200))
    except (ValueError, RuntimeError):   # pragma: no cover - a non-monotone gradient: fall back to the likelihood
        res = optimize.minimize_scalar(lambda r: -loglik(r), bounds=(lo, hi), method="bounded",
                                       options={"xatol": 1e-12})
        return float(res.x)


class _Polyserial:
    """Continuous x (standardised z, density terms) and ordered y (codes 0..K−1) of the rows where both are observed."""

    def __init__(self, x: np.ndarray, mean: float, var: float, codes: np.ndarray, th: np.ndarray):
        self.sd = float(np.sqrt(var))
        self.var = float(var)
        self.z = (x - mean) / self.sd
        self.py1 = _dnorm(self.z) / self.sd
        ext = np.r_[-_OFFSET, th, _OFFSET]     # lavaan's TH = c(0, th, 0) with offsets −100 / +100 at the ends
        self.codes = codes
        self.z1 = ext[codes + 1]
        self.z2 = ext[codes]
        self.nth = len(th)

    def _parts(self, rho: float):
        R = np.sqrt(1.0 - rho * rho)
        t1 = (self.z1 - rho * self.z) / R
        t2 = (self.z2 - rho * self.z) / R
        p = special.ndtr(t1) - special.ndtr(t2)
        p = np.maximum(p, _EPS)
        return R, t1, t2, p

    def loglik(self, rho: float) -> float:
        _, _, _, p = self._parts(rho)
        lik = self.py1 * p
        ok = lik >= _LIK_MIN
        return float(np.sum(np.log(lik[ok])))

    def gradient(self, rho: float) -> float:
        R, t1, t2, p = self._parts(rho)
        ok = self.py1 * p >= _LIK_MIN
        dx = (_dnorm(t1) * (self.z1 * rho - self.z) - _dnorm(t2) * (self.z2 * rho - self.z)) / (p * R ** 3)
        return float(np.sum(dx[ok]))

    def scores(self, rho: float) -> dict[str, np.ndarray]:
        R, t1, t2, p = self._parts(rho)
        f1, f2 = _dnorm(t1), _dnorm(t2)
        diff = f1 - f2
        out = {"mu": (self.z + rho / R * diff / p) / self.sd,
               "var": ((self.z * self.z - 1.0) + rho * self.z / R * diff / p) / (2.0 * self.var),
               "rho": (f1 * (self.z1 * rho - self.z) - f2 * (self.z2 * rho - self.z)) / (p * R ** 3)}
        th = np.zeros((len(self.z), self.nth))
        for k in range(self.nth):
            th[:, k] = (np.where(self.codes == k, f1, 0.0) - np.where(self.codes == k + 1, f2, 0.0)) / (R * p)
        out["th"] = th
        return out


class _Pearson:
    """Two continuous variables (centred at their means) on the rows where both are observed."""

    def __init__(self, c1: np.ndarray, c2: np.ndarray, v1: float, v2: float):
        self.c1, self.c2, self.v1, self.v2 = c1, c2, v1, v2
        self.s12 = float(np.sqrt(v1 * v2))

    def _lik(self, rho: float) -> np.ndarray:
        R = 1.0 - rho * rho
        q = (self.c1 ** 2 / self.v1 - 2 * rho * self.c1 * self.c2 / self.s12 + self.c2 ** 2 / self.v2) / R
        return np.exp(-0.5 * q) / (2 * np.pi * self.s12 * np.sqrt(R))

    def loglik(self, rho: float) -> float:
        lik = self._lik(rho)
        return float(np.sum(np.log(lik[lik >= _LIK_MIN])))

    def gradient(self, rho: float) -> float:
        R = 1.0 - rho * rho
        t1 = self.c1 * self.c2 / self.s12
        t2 = self.c1 ** 2 / self.v1 - 2 * rho * t1 + self.c2 ** 2 / self.v2
        dx = (rho + t1 - t2 * rho / R) / R
        return float(np.sum(dx[self._lik(rho) >= _LIK_MIN]))

    def scores(self, rho: float) -> dict[str, np.ndarray]:
        R = 1.0 - rho * rho
        c1, c2, v1, v2, s12 = self.c1, self.c2, self.v1, self.v2, self.s12
        z = c1 * c1 / v1 - 2 * rho * c1 * c2 / s12 + c2 * c2 / v2
        return {"mu1": (2 * c1 / v1 - 2 * rho * c2 / s12) / (2 * R),
                "mu2": -(2 * rho * c1 / s12 - 2 * c2 / v2) / (2 * R),
                "var1": -(0.5 / v1 - (c1 * c1 / (v1 * v1) - rho * c1 * c2 / (v1 * s12)) / (2 * R)),
                "var2": -(0.5 / v2 + (rho * c1 * c2 / (v2 * s12) - c2 * c2 / (v2 * v2)) / (2 * R)),
                "rho": rho / R + (c1 * c2 / (s12 * R) - z * rho / (R * R))}


def mixed_statistics(values: np.ndarray, numeric: Sequence[bool], n_categories: Sequence[int]) -> OrdinalStatistics:
    """Thresholds, means, variances, correlations, ``wls_obs`` and Γ of one group of ordered and continuous
    variables, lavaan's two-step ``muthen1984`` statistics for mixed data.

    Definition: every ordered item is a standard-normal latent response cut at thresholds, every continuous
    variable normal, all jointly normal. Step 1 estimates each variable alone (thresholds τ_j = Φ⁻¹ of the
    cumulative proportions; mean and ML variance, divisor n); step 2 each correlation alone with step 1 fixed —
    polychoric for two items, polyserial (Olsson, Drasgow & Dorans 1982, two-step ML) for an item and a continuous
    variable, Pearson for two continuous ones (their ML correlation when values are missing); step 3 the
    asymptotic covariance Γ = n A⁻¹ B A⁻ᵀ from the casewise scores, turned into covariances by the delta rule
    (Muthén 1984; Jöreskog 1994). Details and the layout of ``wls_obs``: the module docstring. Missing values
    (NaN) give lavaan's ``missing = "pairwise"`` statistics. Validated against lavaan 0.6.14's ``wls.obs`` and
    NACOV (``tests/sem/test_polyserial_fixtures.py``: 1e-6).

    References: Muthén (1984) *Psychometrika* 49; Olsson, Drasgow & Dorans (1982) *Psychometrika* 47; Jöreskog
    (1994) *Psychometrika* 59; Rosseel (2012) *J. Stat. Softw.* 48(2).

    Parameters
    ----------
    values : ndarray (n, p)
        Ordered items as codes 0..K_j−1, continuous variables as they are; NaN where a value is missing (the
        pairwise-available rows are used; with complete data every row).
    numeric : sequence of bool
        True for the continuous variables.
    n_categories : sequence of int
        K_j of each ordered item (ignored for continuous variables).

    Returns
    -------
    OrdinalStatistics
        With ``numeric``, ``means`` and ``variances`` set; ``n`` the number of rows.

    Examples
    --------
    A continuous score x next to a binary item y, one score missing (pairwise):

    >>> vals = np.array([[1.2, 0], [0.3, 0], [2.5, 1], [1.9, 1], [0.8, 0], [3.1, 1], [2.2, 0], [np.nan, 1]])
    >>> st = mixed_statistics(vals, numeric=[True, False], n_categories=[1, 2])
    >>> st.n, st.wls_obs.shape, st.gamma.shape   # −mean of x, threshold of y, variance of x, cov(x, y*)
    (8, (4,), (4, 4))
    >>> round(float(st.means[0]), 4), bool(0 < st.cor[0, 1] < 1)   # mean of the 7 observed scores; polyserial ρ
    (1.7143, True)
    """
    values = np.asarray(values, dtype=float)
    n, p = values.shape
    numeric = [bool(b) for b in numeric]
    obs = ~np.isnan(values)
    nth = [0 if numeric[j] else int(n_categories[j]) - 1 for j in range(p)]
    n_uni = [1 if numeric[j] else nth[j] for j in range(p)]           # entries in the "th" block
    th_start = np.r_[0, np.cumsum(n_uni)[:-1]].astype(int)
    num_idx = [j for j in range(p) if numeric[j]]
    n_th_block = int(sum(n_uni))
    var_col = {j: n_th_block + k for k, j in enumerate(num_idx)}      # score column of each variance
    n_a11 = n_th_block + len(num_idx)
    means = np.zeros(p)
    variances = np.ones(p)
    ths: list[np.ndarray] = []
    codes = np.where(obs, values, 0.0)
    icodes = codes.astype(int)
    sc_uni = np.zeros((n, n_a11))
    for j in range(p):
        ok = obs[:, j]
        if numeric[j]:
            x = values[ok, j]
            m = float(x.mean())
            v = float(np.mean((x - m) ** 2))
            means[j], variances[j] = m, v
            res = np.where(ok, values[:, j] - m, 0.0)
            sc_uni[:, th_start[j]] = res / v
            sc_uni[:, var_col[j]] = np.where(ok, -1.0 / (2 * v) + res * res / (2 * v * v), 0.0)
            ths.append(np.zeros(0))
            continue
        c_ok = icodes[ok, j]
        th = thresholds(c_ok, nth[j] + 1)
        ths.append(th)
        t = np.r_[-np.inf, th, np.inf]
        prop = np.diff(special.ndtr(t))
        dens = np.r_[0.0, _dnorm(th), 0.0]
        c = icodes[:, j]
        for k in range(nth[j]):
            val = np.where(c == k, dens[k + 1] / prop[c], 0.0) - np.where(c == k + 1, dens[k + 1] / prop[c], 0.0)
            sc_uni[:, th_start[j] + k] = np.where(ok, val, 0.0)
    pairs = _pairs(p)
    npairs = len(pairs)
    cor = np.eye(p)
    sc_cor = np.zeros((n, npairs))
    A21 = np.zeros((npairs, n_a11))
    H21 = np.zeros((npairs, n_a11))
    h22 = np.ones(npairs)
    zero_pairs: list[tuple[int, int]] = []
    sd = np.sqrt(variances)
    # ordered x ordered: all such pairs at once (polychoric, as polychoric.polychoric on the pairwise rows)
    oo = [k for k, (i, j) in enumerate(pairs) if not numeric[i] and not numeric[j]]
    if oo:
        kmax = max(int(n_categories[j]) for j in range(p) if not numeric[j])
        oo_pairs = [pairs[k] for k in oo]
        freqs = np.zeros((len(oo), kmax, kmax))
        raw = []
        rho0 = np.zeros(len(oo))
        for q, (i, j) in enumerate(oo_pairs):
            both = obs[:, i] & obs[:, j]
            f = np.zeros((kmax, kmax))
            np.add.at(f, (icodes[both, i], icodes[both, j]), 1.0)
            raw.append(f)
            ki, kj = nth[i] + 1, nth[j] + 1
            if (f[:ki, :kj] == 0).any():
                zero_pairs.append((i, j))
            freqs[q] = _zero_add(f, ki, kj)
            xi, xj = values[both, i], values[both, j]
            if xi.std() > 0 and xj.std() > 0:
                r = float(np.corrcoef(xi, xj)[0, 1])
                rho0[q] = r if abs(r) < 1 else 0.0
        tables = _PairTables(ths, oo_pairs, kmax)
        rho = _newton_rho(tables, freqs, rho0, tol=1e-13, max_iter=100)
        for q, (k, (i, j)) in enumerate(zip(oo, oo_pairs)):
            cor[i, j] = cor[j, i] = rho[q]
            d_rho, dti, dtj = _pair_scores(tables, rho, q, nth[i] + 1, nth[j] + 1)
            both = obs[:, i] & obs[:, j]
            ci, cj = icodes[:, i], icodes[:, j]
            sc_cor[:, k] = np.where(both, d_rho[np.minimum(ci, nth[i]), np.minimum(cj, nth[j])], 0.0)
            f = raw[q][:nth[i] + 1, :nth[j] + 1]
            w = np.where(f > 0, f * d_rho, 0.0)
            A21[k, th_start[i]:th_start[i] + nth[i]] = np.nansum(dti * w[None], axis=(1, 2))
            A21[k, th_start[j]:th_start[j] + nth[j]] = np.nansum(dtj * w[None], axis=(1, 2))
    for k, (i, j) in enumerate(pairs):
        if not numeric[i] and not numeric[j]:
            continue
        both = obs[:, i] & obs[:, j]
        if numeric[i] and numeric[j]:
            pr = _Pearson(values[both, i] - means[i], values[both, j] - means[j], variances[i], variances[j])
            if obs[:, i].all() and obs[:, j].all():
                rho_k = float(np.corrcoef(values[:, i], values[:, j])[0, 1])
            else:
                rho_k = _solve_rho(pr.gradient, pr.loglik, 0.999)
            s = pr.scores(rho_k)
            parts = {th_start[i]: s["mu1"], th_start[j]: s["mu2"], var_col[i]: s["var1"], var_col[j]: s["var2"]}
            H21[k, var_col[i]] = sd[j] * rho_k / (2 * sd[i])
            H21[k, var_col[j]] = sd[i] * rho_k / (2 * sd[j])
            h22[k] = sd[i] * sd[j]
        else:
            a, b = (i, j) if numeric[i] else (j, i)          # a continuous, b ordered
            ps = _Polyserial(values[both, a], means[a], variances[a], icodes[both, b], ths[b])
            rho_k = _solve_rho(ps.gradient, ps.loglik, 0.995)
            s = ps.scores(rho_k)
            parts = {th_start[a]: s["mu"], var_col[a]: s["var"]}
            for t in range(nth[b]):
                parts[th_start[b] + t] = s["th"][:, t]
            H21[k, var_col[a]] = rho_k / (2 * sd[a])
            h22[k] = sd[a]
        cor[i, j] = cor[j, i] = rho_k
        sc = np.zeros(n)
        sc[both] = s["rho"]
        sc_cor[:, k] = sc
        for col, score in parts.items():
            A21[k, col] = float(s["rho"] @ score)
    blocks = [list(range(th_start[j], th_start[j] + n_uni[j])) + ([var_col[j]] if numeric[j] else []) for j in range(p)]
    gamma = _muthen_gamma(sc_uni, sc_cor, blocks, A21, n,
                          H21=H21 if num_idx else None, h22=h22, flip=[th_start[j] for j in num_idx])
    th_block = np.concatenate([np.array([-means[j]]) if numeric[j] else ths[j] for j in range(p)]) if p else np.zeros(0)
    cov = cor * np.outer(sd, sd)
    wls_obs = np.r_[th_block, variances[num_idx], [cov[i, j] for i, j in pairs]]
    return OrdinalStatistics(thresholds=tuple(ths), cor=cor, wls_obs=wls_obs, gamma=gamma, n=n,
                             zero_cell_pairs=tuple(zero_pairs), numeric=tuple(numeric), means=means,
                             variances=variances)
