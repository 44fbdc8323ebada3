"""Sample statistics of ordered items conditional on exogenous covariates (lavaan's ``conditional.x = TRUE``, its
default for ordered items with observed predictors, e.g. the MIMIC model ``F =~ u1 + … + u6; F ~ culture + age``):
probit regressions, residual polychoric correlations and their asymptotic covariance matrix Γ (Muthén 1984;
Muthén, du Toit & Spisic 1997; lavaan's ``lav_samplestats_step1``, ``lav_samplestats_step2``, ``muthen1984``) —
and, next to the items, continuous outcomes or indicators (linear regressions on the covariates, residual
polyserial and Pearson correlations; lavaan's ``lav_uvreg``, ``lav_bvmix``, ``lav_bvreg``).

Model (one group)
-----------------
Each ordered item y_j (codes 0..K_j−1) is a coarsened latent response y*_j = x'β_j + ε_j with ε standard normal
and jointly normal across items, y_j = c when τ_{j,c} < y*_j ≤ τ_{j,c+1} (τ_{j,0} = −∞, τ_{j,K_j} = +∞), x the
exogenous covariates (binary 0/1 or continuous, as they are: not centred).

1. Univariate, one item at a time (ordinal probit regression, ML): P(y_j ≤ c | x) = Φ(τ_{j,c+1} − x'β_j); the
   thresholds τ_j and slopes β_j (lavaan's ``lav_uvord_fit``).
2. Bivariate, one pair at a time with step 1 fixed ("two-step"): the residual polychoric correlation ρ_ij
   maximising Σ_n log P(y_in, y_jn | x_n), each row's rectangle probability of the bivariate normal with the
   thresholds shifted by x_n'β (lavaan's ``lav_bvord_cor_twostep_fit`` with covariates); ρ ∈ [−0.999, 0.999];
   rows whose likelihood is below √ε are left out, as in lavaan.
3. Γ (lavaan's NACOV) from the casewise scores s_n = (∂ℓ/∂τ, ∂ℓ/∂β, ∂ℓ^(2)/∂ρ): B = Σ_n s_n s_nᵀ; A with the
   per-item (τ_j, β_j) blocks of B, the diagonal of the correlation block and A21 = Σ_n (∂ℓ^(2)/∂ρ)
   (∂ℓ^(2)/∂(τ, β))ᵀ; Γ = n · A⁻¹ B A⁻ᵀ.

A continuous variable y_a is y_a = α_a + x'β_a + e_a with e_a normal (variance σ²_a), jointly normal with the
items' ε: step 1 is its linear regression (ML: least squares, σ²_a with divisor n; lavaan's ``lav_uvreg_fit``);
step 2 the polyserial correlation of its residual with an item given x (the Olsson, Drasgow & Dorans 1982
likelihood with z_n = (y_an − α_a − x_n'β_a)/σ_a and the item's bounds shifted by x_n'β_j; ρ ∈ [−0.995, 0.995]),
or the Pearson correlation of two residuals (its ML value with missing values); step 3 adds its scores
∂ℓ/∂(α, β, σ²), then turns correlations into covariances by the delta rule (ρσ_a, ρσ_aσ_b; Muthén 1984's H)
and reverses the signs of the intercept rows (the statistics hold −α, as lavaan).

The vector of sample statistics (lavaan's ``wls.obs`` with ``conditional.x``): the thresholds item by item (−α_a
for a continuous variable), the slopes column by column (every variable's slope on the first covariate, then on
the second, …), the residual variances of the continuous variables, the residual correlations (covariances with
continuous variables) below the diagonal, column by column.

References: Muthén (1984) *Psychometrika* 49; Olsson, Drasgow & Dorans (1982) *Psychometrika* 47; Muthén, du Toit
& Spisic (1997) *Robust inference using weighted least squares and quadratic estimating equations in latent
variable modeling with categorical and continuous outcomes* (unpublished); Rosseel (2012) *J. Stat. Softw.* 48(2).

Example
-------
>>> rng = np.random.default_rng(5)
>>> x = rng.normal(size=(800, 1))
>>> z = 0.5 * x + rng.normal(size=(800, 2)) @ np.linalg.cholesky([[1.0, 0.4], [0.4, 1.0]]).T
>>> st = conditional_statistics(np.digitize(z, [-0.5, 0.5]), x, n_categories=[3, 3])
>>> st.slopes.shape, bool(abs(st.slopes[0, 0] - 0.5) < 0.1), bool(abs(st.cor[0, 1] - 0.4) < 0.1)
((2, 1), True, True)
"""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from scipy import optimize, special

from ..errors import IdentificationError
from .polychoric import OrdinalStatistics, _muthen_gamma, _pairs, bvn_cdf, bvn_pdf
from .polyserial import _Pearson, _solve_rho

_EPS = float(np.finfo(float).eps)
_LIK_MIN = float(np.sqrt(_EPS))
_OFFSET = 100.0     # lavaan's o1/o2: the outer thresholds ±100 (shifted by x'β like the others)
_SQRT_2PI = float(np.sqrt(2.0 * np.pi))


def _dnorm(x: np.ndarray) -> np.ndarray:
    return np.exp(-0.5 * x * x) / _SQRT_2PI


class ProbitFit:
    """The ordinal probit regression of one item on the covariates (step 1), at its ML estimate.

    ``z1``, ``z2`` are each row's upper and lower bound τ − x'β (±100 beyond the outer categories, lavaan's
    offsets); ``scores`` the casewise derivatives of the log-likelihood with respect to (τ, β).
    """

    def __init__(self, codes: np.ndarray, X: np.ndarray, n_categories: int, *, max_iter: int = 200):
        self.codes = np.asarray(codes, dtype=int)
        self.X = np.asarray(X, dtype=float)
        self.nth = int(n_categories) - 1
        n = len(self.codes)
        k = np.arange(self.nth)
        self.Y1 = (k[None, :] == self.codes[:, None]).astype(float)       # the upper bound is τ_k
        self.Y2 = (k[None, :] == self.codes[:, None] - 1).astype(float)   # the lower bound is τ_k
        self.o1 = np.where(self.codes == self.nth, _OFFSET, 0.0)
        self.o2 = np.where(self.codes == 0, -_OFFSET, 0.0)
        theta = np.r_[special.ndtri(np.arange(1, self.nth + 1) / (self.nth + 1)) if self.nth > 1 else [0.0],
                      np.zeros(self.X.shape[1])]
        f = self._loglik(theta)
        converged = False
        for _ in range(max_iter):
            g, H = self._derivatives(theta)
            try:
                step = np.linalg.solve(-H, g)
            except np.linalg.LinAlgError:
                break
            t = 1.0
            for _ in range(50):
                cand = theta + t * step
                f_new = self._loglik(cand)
                if np.isfinite(f_new) and f_new >= f - 1e-12 * abs(f):
                    break
                t *= 0.5
            theta, f = cand, f_new
            if np.max(np.abs(t * step)) < 1e-12 * max(1.0, float(np.max(np.abs(theta)))):
                converged = True
                break
        if not converged or np.any(np.diff(theta[:self.nth]) <= 0):
            raise IdentificationError("the probit regression of an ordered item on the covariates did not converge "
                                      "(a covariate may separate the categories perfectly, or the covariates are "
                                      "collinear); drop or recode that covariate.")
        self.theta = theta
        self.th = theta[:self.nth]
        self.beta = theta[self.nth:]
        self.z1, self.z2 = self._bounds(theta)
        self.n = n

    def _bounds(self, theta: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        TH = np.r_[0.0, theta[:self.nth], 0.0]
        eta = self.X @ theta[self.nth:]
        return TH[self.codes + 1] - eta + self.o1, TH[self.codes] - eta + self.o2

    def _prob(self, z1: np.ndarray, z2: np.ndarray) -> np.ndarray:
        # upper tails where both bounds are large (lavaan does the same, to keep the precision)
        return np.where(z2 > 1, special.ndtr(-z2) - special.ndtr(-z1), special.ndtr(z1) - special.ndtr(z2))

    def _loglik(self, theta: np.ndarray) -> float:
        if self.nth > 1 and np.any(np.diff(theta[:self.nth]) <= 0):
            return -np.inf
        z1, z2 = self._bounds(theta)
        p = self._prob(z1, z2)
        return float(np.sum(np.log(p))) if np.all(p > 0) else -np.inf

    def _derivatives(self, theta: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        z1, z2 = self._bounds(theta)
        p = self._prob(z1, z2)
        f1, f2 = _dnorm(z1), _dnorm(z2)
        D1 = np.hstack([self.Y1, -self.X])          # ∂z1/∂θ
        D2 = np.hstack([self.Y2, -self.X])          # ∂z2/∂θ
        a1, a2 = f1 / p, -f2 / p                    # ∂ℓ/∂z1, ∂ℓ/∂z2
        grad = D1.T @ a1 + D2.T @ a2
        h11 = -z1 * f1 / p - a1 * a1
        h22 = z2 * f2 / p - a2 * a2
        h12 = -a1 * a2
        H = (D1.T * h11) @ D1 + (D2.T * h22) @ D2 + (D1.T * h12) @ D2 + (D2.T * h12) @ D1
        return grad, H

    def scores(self) -> np.ndarray:
        """Casewise ∂ℓ_n/∂(τ, β) (n × (K − 1 + #covariates)), as lavaan's ``lav_uvord_scores``."""
        p = self._prob(self.z1, self.z2)
        f1, f2 = _dnorm(self.z1), _dnorm(self.z2)
        return np.hstack([(self.Y1 * f1[:, None] - self.Y2 * f2[:, None]) / p[:, None],
                          -self.X * ((f1 - f2) / p)[:, None]])


class _Rows:
    """The per-row quantities of a :class:`ProbitFit` on a subset of its rows (pairwise-available data)."""

    def __init__(self, fit: ProbitFit, keep: np.ndarray | None):
        take = slice(None) if keep is None else keep
        self.z1, self.z2 = fit.z1[take], fit.z2[take]
        self.Y1, self.Y2, self.X = fit.Y1[take], fit.Y2[take], fit.X[take]


class _ResidualPair:
    """Two probit fits (on the rows where both items are observed): the bivariate likelihood of each row given x
    and its derivatives."""

    def __init__(self, a: _Rows, b: _Rows):
        self.a, self.b = a, b

    def lik(self, rho: float) -> np.ndarray:
        a, b = self.a, self.b
        return (bvn_cdf(a.z1, b.z1, rho) - bvn_cdf(a.z2, b.z1, rho) - bvn_cdf(a.z1, b.z2, rho)
                + bvn_cdf(a.z2, b.z2, rho))

    def _phi(self, rho: float) -> np.ndarray:
        a, b = self.a, self.b
        return (bvn_pdf(a.z1, b.z1, rho) - bvn_pdf(a.z2, b.z1, rho) - bvn_pdf(a.z1, b.z2, rho)
                + bvn_pdf(a.z2, b.z2, rho))

    def loglik(self, rho: float) -> float:
        lik = self.lik(rho)
        return float(np.sum(np.log(lik[lik >= _LIK_MIN])))

    def gradient(self, rho: float) -> float:
        lik = self.lik(rho)
        ok = lik >= _LIK_MIN
        return float(np.sum(self._phi(rho)[ok] / lik[ok]))

    def scores(self, rho: float) -> dict[str, np.ndarray]:
        """Casewise ∂ℓ^(2)/∂ρ, ∂ℓ^(2)/∂(τ_a, β_a) and ∂ℓ^(2)/∂(τ_b, β_b) (0 where the likelihood is below √ε)."""
        lik = self.lik(rho)
        ok = lik > _LIK_MIN
        inv = np.where(ok, 1.0 / np.where(ok, lik, 1.0), 0.0)
        R = np.sqrt(1.0 - rho * rho)
        out = {"rho": self._phi(rho) * inv}
        for name, own, other in (("a", self.a, self.b), ("b", self.b, self.a)):
            Z1 = _dnorm(own.z1) * (special.ndtr((other.z1 - rho * own.z1) / R)
                                   - special.ndtr((other.z2 - rho * own.z1) / R))
            Z2 = _dnorm(own.z2) * (special.ndtr((other.z1 - rho * own.z2) / R)
                                   - special.ndtr((other.z2 - rho * own.z2) / R))
            th = (own.Y1 * Z1[:, None] - own.Y2 * Z2[:, None]) * inv[:, None]
            sl = own.X * ((Z2 - Z1) * inv)[:, None]
            out[name] = np.hstack([th, sl])
        return out


def _maximise(pair, start: float, bound: float = 0.999) -> float:
    """The residual polychoric correlation: the local maximum of the log-likelihood reached from ``start`` (the
    Pearson correlation of the codes, lavaan's start value), bracketed by steps of 0.05 in the direction of the
    gradient. Near ±1 rows fall below the √ε likelihood floor and the likelihood rises spuriously, so a search
    over the whole interval would end there (lavaan's local optimiser does not). ``bound``: ρ ∈ [−bound, bound]
    (0.999 polychoric, 0.995 polyserial, as lavaan)."""
    start = float(np.clip(start, -0.98, 0.98))
    g0 = pair.gradient(start)
    if g0 == 0:
        return start
    sign = 1.0 if g0 > 0 else -1.0
    prev = start
    while True:
        nxt = float(np.clip(prev + sign * 0.05, -bound, bound))
        if pair.gradient(nxt) * sign <= 0:
            lo, hi = (prev, nxt) if sign > 0 else (nxt, prev)
            return _bracketed(pair, lo, hi)
        if abs(nxt) >= bound:
            return nxt
        prev = nxt


def _bracketed(pair, lo: float, hi: float) -> float:
    g_lo, g_hi = pair.gradient(lo), pair.gradient(hi)
    if g_lo > 0 and g_hi > 0:
        return hi
    if g_lo < 0 and g_hi < 0:
        return lo
    return float(optimize.brentq(pair.gradient, lo, hi, xtol=1e-14, rtol=4 * _EPS, maxiter=200))


class LinearFit:
    """The linear regression of one continuous variable on the covariates (step 1), at its ML estimate: intercept,
    slopes by least squares and the residual variance with divisor n (lavaan's ``lav_uvreg_fit``); ``scores`` the
    casewise derivatives of the normal log-likelihood with respect to (intercept, slopes, residual variance)."""

    def __init__(self, y: np.ndarray, X: np.ndarray):
        self.y = np.asarray(y, dtype=float)
        self.X = np.asarray(X, dtype=float)
        X1 = np.column_stack([np.ones(len(self.y)), self.X])
        beta = np.linalg.lstsq(X1, self.y, rcond=None)[0]
        self.resid = self.y - X1 @ beta
        self.intercept = float(beta[0])
        self.beta = beta[1:]
        self.var = float(np.mean(self.resid ** 2))

    def scores(self) -> np.ndarray:
        """Casewise ∂ℓ_n/∂(intercept, β, σ²) (n × (2 + #covariates)), as lavaan's ``lav_uvreg_scores``."""
        e, v = self.resid, self.var
        X1 = np.column_stack([np.ones(len(e)), self.X])
        return np.column_stack([X1 * (e / v)[:, None], -1.0 / (2 * v) + e * e / (2 * v * v)])


class _ResidualPolyserial:
    """A continuous variable (its standardised residuals Z given x) and an ordered item (its bounds τ − x'β given x)
    on the rows where both are observed: the polyserial likelihood of each row given x and its scores (lavaan's
    ``lav_bvmix`` with covariates)."""

    def __init__(self, lin: LinearFit, keep_lin: np.ndarray | None, probit: _Rows):
        take = slice(None) if keep_lin is None else keep_lin
        self.sd = float(np.sqrt(lin.var))
        self.var = lin.var
        self.Z = lin.resid[take] / self.sd
        self.py1 = _dnorm(self.Z) / self.sd
        self.o = probit

    def _parts(self, rho: float):
        R = np.sqrt(1.0 - rho * rho)
        t1 = (self.o.z1 - rho * self.Z) / R
        t2 = (self.o.z2 - rho * self.Z) / R
        p = np.maximum(special.ndtr(t1) - special.ndtr(t2), _EPS)
        return R, t1, t2, p

    def loglik(self, rho: float) -> float:
        lik = self.py1 * self._parts(rho)[3]
        return float(np.sum(np.log(lik[lik >= _LIK_MIN])))

    def gradient(self, rho: float) -> float:
        R, t1, t2, p = self._parts(rho)
        ok = self.py1 * p >= _LIK_MIN
        dx = (_dnorm(t1) * (self.o.z1 * rho - self.Z) - _dnorm(t2) * (self.o.z2 * rho - self.Z)) / (p * R ** 3)
        return float(np.sum(dx[ok]))

    def scores(self, rho: float) -> dict[str, np.ndarray]:
        """Casewise ∂ℓ^(2)/∂ρ and the derivatives with respect to the continuous variable's (intercept, β, σ²)
        (``"a"``, σ² last) and the item's (τ, β) (``"b"``)."""
        R, t1, t2, p = self._parts(rho)
        f1, f2 = _dnorm(t1), _dnorm(t2)
        diff = f1 - f2
        mu = (self.Z + rho / R * diff / p) / self.sd
        var = ((self.Z * self.Z - 1.0) + rho * self.Z / R * diff / p) / (2.0 * self.var)
        o = self.o
        th = (o.Y1 * f1[:, None] - o.Y2 * f2[:, None]) / (R * p)[:, None]
        sl = o.X * (-diff / (R * p))[:, None]
        return {"rho": (f1 * (o.z1 * rho - self.Z) - f2 * (o.z2 * rho - self.Z)) / (p * R ** 3),
                "a": np.column_stack([mu, o.X * mu[:, None], var]), "b": np.hstack([th, sl])}


def _olsson_start(pair: _ResidualPolyserial, codes: np.ndarray, th: np.ndarray) -> float:
    """lavaan's start value of a polyserial correlation given x (Olsson, Drasgow & Dorans 1982, eq. 38):
    cor(Z, y) · sd(y) / Σ φ(τ), halved when above 0.9 in absolute value."""
    if pair.Z.std() == 0 or codes.std() == 0:
        return 0.0
    r = float(np.corrcoef(pair.Z, codes)[0, 1]) * float(codes.std()) / float(np.sum(_dnorm(th)))
    return r / 2 if abs(r) > 0.9 else r


def conditional_statistics(codes: np.ndarray, X: np.ndarray, n_categories: Sequence[int],
                           numeric: Sequence[bool] | None = None) -> OrdinalStatistics:
    """Thresholds (or intercepts), slopes, residual variances and correlations, ``wls_obs`` and Γ of one group
    conditional on exogenous covariates: lavaan's ``conditional.x = TRUE`` statistics (its default for ordered
    items with observed predictors, e.g. a MIMIC model).

    Definition: each ordered item is a probit regression P(y_j ≤ c | x) = Φ(τ_{j,c+1} − x'β_j) fitted alone by ML
    (step 1); each pair's residual polychoric correlation is fitted with step 1 fixed (two-step, step 2); Γ =
    n A⁻¹ B A⁻ᵀ comes from the casewise scores (step 3; Muthén 1984; Muthén, du Toit & Spisic 1997). Continuous
    variables are linear regressions on x with residual polyserial (Olsson, Drasgow & Dorans 1982) and Pearson
    correlations. The model, the layout of ``wls_obs`` and the score formulas: the module docstring. Validated
    against lavaan 0.6.14's ``wls.obs`` and NACOV (``tests/sem/test_ordinal_mimic.py``,
    ``tests/sem/test_ordinal_mimic_mixed.py``).

    References: Muthén (1984) *Psychometrika* 49; Muthén, du Toit & Spisic (1997), unpublished technical report
    (robust WLS with categorical and continuous outcomes); Olsson, Drasgow & Dorans (1982) *Psychometrika* 47;
    Rosseel (2012) *J. Stat. Softw.* 48(2).

    Parameters
    ----------
    codes : ndarray (n, p)
        The ordered items as integer codes 0..K_j−1 and the continuous variables as they are; NaN where missing
        (``missing="pairwise"``: each regression uses the rows where its variable is observed, each correlation the
        rows where both are, and a missing value contributes zero scores, as lavaan).
    X : ndarray (n, k)
        The exogenous covariates (complete).
    n_categories : sequence of int
        K_j of each item (ignored for continuous variables).
    numeric : sequence of bool, optional
        True for the continuous variables (default: none). A continuous variable y_a is regressed linearly on x
        (ML: least squares, residual variance with divisor n; lavaan's ``lav_uvreg_fit``); its statistics are
        −intercept (in the threshold block), its slopes, its residual variance and its residual covariances:
        ρ σ_a with an ordered item (the polyserial correlation of the residual given x, lavaan's ``lav_bvmix``),
        ρ σ_a σ_b with another continuous variable (the Pearson correlation of the residuals, or its ML value
        with missing values, ``lav_bvreg``); Γ then by the delta rule H of Muthén (1984) as in
        :mod:`~allianceStats.sem.polyserial`, with the signs of the intercept rows reversed.

    Returns
    -------
    OrdinalStatistics
        With ``slopes`` (p × k) set; ``thresholds`` the intercept thresholds (at x = 0), ``cor`` the residual
        correlations; with continuous variables ``numeric``, ``means`` (their intercepts) and ``variances`` (their
        residual variances); ``n`` the number of rows.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> x = rng.binomial(1, 0.5, size=(300, 1)).astype(float)
    >>> codes = np.digitize(0.6 * x + rng.normal(size=(300, 3)), [0.0, 1.0])
    >>> st = conditional_statistics(codes, x, [3, 3, 3])
    >>> st.wls_obs.shape, st.gamma.shape   # 6 thresholds, 3 slopes, 3 correlations
    ((12,), (12, 12))
    >>> y = 2.0 + x[:, 0] + rng.normal(size=300)          # a continuous variable next to two items
    >>> st = conditional_statistics(np.column_stack([codes[:, :2], y]), x, [3, 3, 1], numeric=[False, False, True])
    >>> st.wls_obs.shape, bool(abs(st.means[2] - 2.0) < 0.2)   # 4 thresholds, −intercept, 3 slopes, 1 variance, 3 cov.
    ((12,), True)
    """
    values = np.asarray(codes, dtype=float)
    X = np.asarray(X, dtype=float)
    n, p = values.shape
    k = X.shape[1]
    numeric = [False] * p if numeric is None else [bool(b) for b in numeric]
    obs = ~np.isnan(values)
    complete = bool(obs.all())
    icodes = np.where(obs, values, 0).astype(int)
    fits: list = [LinearFit(values[obs[:, j], j], X[obs[:, j]]) if numeric[j]
                  else ProbitFit(icodes[obs[:, j], j], X[obs[:, j]], int(n_categories[j])) for j in range(p)]
    nth = [1 if numeric[j] else fits[j].nth for j in range(p)]
    th_start = np.r_[0, np.cumsum(nth)[:-1]].astype(int)
    n_th = int(sum(nth))
    num_idx = [j for j in range(p) if numeric[j]]
    var_col = {j: n_th + p * k + m for m, j in enumerate(num_idx)}
    n_a11 = n_th + p * k + len(num_idx)

    def block(j: int) -> np.ndarray:
        """Score columns of variable j: its thresholds (or intercept), its slopes (column by column over the
        covariates), then its residual variance if continuous."""
        cols = np.r_[np.arange(th_start[j], th_start[j] + nth[j]), n_th + j + p * np.arange(k)]
        return (np.r_[cols, var_col[j]] if numeric[j] else cols).astype(int)

    sc_uni = np.zeros((n, n_a11))
    for j, f in enumerate(fits):
        sc_uni[np.ix_(obs[:, j], block(j))] = f.scores()
    pairs = _pairs(p)
    cor = np.eye(p)
    sc_cor = np.zeros((n, len(pairs)))
    A21 = np.zeros((len(pairs), n_a11))
    H21 = np.zeros((len(pairs), n_a11))
    h22 = np.ones(len(pairs))
    sd = np.array([np.sqrt(f.var) if numeric[j] else 1.0 for j, f in enumerate(fits)])

    def subset(j: int, both: np.ndarray) -> np.ndarray | None:
        return None if complete else both[obs[:, j]]

    for q, (i, j) in enumerate(pairs):
        both = obs[:, i] & obs[:, j]
        if numeric[i] and numeric[j]:
            a_rows, b_rows = subset(i, both), subset(j, both)
            e1 = fits[i].resid if a_rows is None else fits[i].resid[a_rows]
            e2 = fits[j].resid if b_rows is None else fits[j].resid[b_rows]
            pr = _Pearson(e1, e2, fits[i].var, fits[j].var)
            r0 = float(np.corrcoef(e1, e2)[0, 1]) if e1.std() > 0 and e2.std() > 0 else 0.0
            rho = r0 if obs[:, i].all() and obs[:, j].all() else _solve_rho(pr.gradient, pr.loglik, 0.999)
            s = pr.scores(rho)
            Xb = X[both]
            parts = {i: np.column_stack([s["mu1"], Xb * s["mu1"][:, None], s["var1"]]),
                     j: np.column_stack([s["mu2"], Xb * s["mu2"][:, None], s["var2"]])}
            H21[q, var_col[i]] = sd[j] * rho / (2 * sd[i])
            H21[q, var_col[j]] = sd[i] * rho / (2 * sd[j])
            h22[q] = sd[i] * sd[j]
        elif numeric[i] or numeric[j]:
            a, b = (i, j) if numeric[i] else (j, i)        # a continuous, b ordered
            ps = _ResidualPolyserial(fits[a], subset(a, both), _Rows(fits[b], subset(b, both)))
            rho = _maximise(ps, _olsson_start(ps, icodes[both, b], fits[b].th), bound=0.995)
            s = ps.scores(rho)
            parts = {a: s["a"], b: s["b"]}
            H21[q, var_col[a]] = rho / (2 * sd[a])
            h22[q] = sd[a]
        else:
            pair = _ResidualPair(_Rows(fits[i], subset(i, both)), _Rows(fits[j], subset(j, both)))
            ci, cj = icodes[both, i], icodes[both, j]
            r0 = float(np.corrcoef(ci, cj)[0, 1]) if ci.std() > 0 and cj.std() > 0 else 0.0
            rho = _maximise(pair, r0 if abs(r0) < 1 else 0.0)
            s = pair.scores(rho)
            parts = {i: s["a"], j: s["b"]}
        cor[i, j] = cor[j, i] = rho
        sc_cor[both, q] = s["rho"]
        for v, sv in parts.items():
            A21[q, block(v)] = s["rho"] @ sv
    # correlations → covariances (delta rule), then −intercepts
    gamma = _muthen_gamma(sc_uni, sc_cor, [block(j) for j in range(p)], A21, n,
                          H21=H21 if num_idx else None, h22=h22, flip=[th_start[j] for j in num_idx])
    slopes = np.array([f.beta for f in fits]).reshape(p, k)
    th_block = [np.array([-fits[j].intercept]) if numeric[j] else fits[j].th for j in range(p)]
    cov = cor * np.outer(sd, sd)
    wls_obs = np.r_[np.concatenate(th_block), slopes.ravel(order="F"), sd[num_idx] ** 2,
                    [cov[i, j] for i, j in pairs]]
    extra: dict = {}
    if num_idx:
        extra = dict(means=np.array([fits[j].intercept if numeric[j] else 0.0 for j in range(p)]),
                     variances=sd ** 2)
    return OrdinalStatistics(thresholds=tuple(np.zeros(0) if numeric[j] else fits[j].th for j in range(p)),
                             cor=cor, wls_obs=wls_obs, gamma=gamma, n=n, numeric=tuple(numeric),
                             slopes=slopes, **extra)
