"""Multilevel 1-1-1 mediation: within- and between-client indirect effects with random a and b slopes.

Model
-----
Sessions ``i`` in clients ``j``; ``x``, ``m`` and ``y`` are measured every session. Each predictor is split into
its client mean and the session's deviation from it (centring within cluster, Zhang, Zyphur & Preacher 2009),
so that within-client (state) and between-client (trait) paths are estimated apart::

    m_ij = d_mj + a_j (x_ij - xbar_j) + a_B xbar_j + e_mij
    y_ij = d_yj + b_j (m_ij - mbar_j) + b_B mbar_j + c'_W (x_ij - xbar_j) + c'_B xbar_j + e_yij

with ``a_j = a_W + u_aj`` and ``b_j = b_W + u_bj`` random over clients, ``(d_mj, u_aj, u_bj, d_yj)`` normal with
covariance ``G`` and residual variances ``sigma_m^2``, ``sigma_y^2``. ``G`` is unstructured except that the two
random intercepts do not covary: y is regressed on the client mean of m, which contains m's random intercept,
so that covariance and ``b_B`` are confounded (on the fixture data the REML criterion took the same value, to
1e-7, at b_B = 0.32 with the covariance free and at b_B = 0.46 with it zero); fixing it at zero is the
recursive-model restriction, as a residual covariance is zero between a mediator and the outcome it predicts.
Because the client's own ``a_j`` and ``b_j`` may covary, the average within-client indirect effect is ``E(a_j b_j) = a_W b_W + sigma_ab``
(Kenny, Korchmaros & Bolger 2003; Bauer, Preacher & Gil 2006). The between-client indirect effect is
``a_B b_B`` (Zhang et al. 2009).

Estimation (Bauer et al. 2006): the two equations are stacked into one mixed model — each session gives an
``m`` row and a ``y`` row, indicator variables ``S_m``, ``S_y`` switch the predictors of each equation on — so that
``sigma_ab`` is an entry of the random-effects covariance matrix, and the residual variance differs by row type
(nlme: ``weights = varIdent(form = ~ 1 | S)``). lme4 and :func:`allianceStats.fit_mlm` (one residual variance)
cannot fit it; the likelihood is maximised by :mod:`allianceStats.mixed.stacked`, beside the mixed-model engine.
This module builds the 1-1-1 design (centring within cluster, the indicator columns, the zero covariance of the
two random intercepts) and turns the fit into effects.
Validated against ``nlme::lme`` (tests/mediation/fixtures/make_fixtures.R), and, with ``G`` block-diagonal
between the equations (when the likelihood factorises), against two :func:`allianceStats.fit_mlm` fits.

Inference: fixed effects have GLS covariance ``(X' V^-1 X)^-1``; the variance parameters ``(G, sigma^2)`` have
the inverse of half the numerical Hessian of the deviance. ``method="monte_carlo"`` draws the fixed effects and
``sigma_ab`` independently from their asymptotic normal distributions (as Bauer et al. 2006 do) and takes
percentile intervals of ``a_W b_W + sigma_ab`` and ``a_B b_B`` (Selig & Preacher 2008);
``method="bootstrap"`` resamples whole clients and refits (one optimisation per resample, warm-started).

References
----------
Bauer, D. J., Preacher, K. J., & Gil, K. M. (2006). Conceptualizing and testing random indirect effects and
moderated mediation in multilevel models. *Psychological Methods* 11(2), 142-163.
Zhang, Z., Zyphur, M. J., & Preacher, K. J. (2009). Testing multilevel mediation using hierarchical linear
models. *Organizational Research Methods* 12(4), 695-719.
Kenny, D. A., Korchmaros, J. D., & Bolger, N. (2003). Lower level mediation in multilevel models.
*Psychological Methods* 8(2), 115-128.
Pinheiro, J. C., & Bates, D. M. (2000). *Mixed-Effects Models in S and S-PLUS*, ch. 2 and 5. Springer.
"""
from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd
import xarray as xr
from scipy import stats

from ..errors import (AllianceStatsError, BoundaryWarning, ConvergenceWarning, DataWarning,
                      IdentificationError)
from ..mixed.stacked import StackedFit, fit_stacked_lmm, stacked_crossproducts
from ..results import Convergence, Provenance, make_provenance
from .intervals import monte_carlo_coefficients, percentile_interval
from .observed import EFFECT_COLUMNS

FIXED = ["m: intercept", "m: x_within (a_W)", "m: x_between (a_B)", "y: intercept", "y: m_within (b_W)",
         "y: m_between (b_B)", "y: x_within (c'_W)", "y: x_between (c'_B)"]
EFFECTS = ["within indirect", "between indirect", "within direct", "between direct"]
_A_W, _A_B, _B_W, _B_B, _C_W, _C_B = 1, 2, 4, 5, 6, 7  # positions in FIXED
_RE_A, _RE_B = 1, 2  # positions of a_j and b_j among the random effects (m intercept, a_j, b_j, y intercept)


@dataclass(frozen=True)
class MultilevelMediationResult:
    """A fitted 1-1-1 multilevel mediation model.

    Attributes
    ----------
    effects : ``effect, estimate, std_error, ci_lower, ci_upper, p_value`` for ``within indirect``
        (``a_W b_W + sigma_ab``), ``between indirect`` (``a_B b_B``), ``within direct`` (``c'_W``) and
        ``between direct`` (``c'_B``); std_error by the delta method, intervals by ``method``.
    params : fixed effects ``term, estimate, std_error, statistic, p_value, ci_lower, ci_upper`` (Wald z).
    varcomp : lme4-style ``group, var1, var2, vcov, sdcor`` (random effects of the client and the two residuals),
        with ``std_error`` of each (co)variance from the Hessian.
    draws : xarray Dataset ``effects`` with dims ``draw, effect``.
    level, method, n_obs (sessions), n_clusters, reml, convergence, provenance.
    """

    effects: pd.DataFrame
    params: pd.DataFrame
    varcomp: pd.DataFrame
    draws: xr.Dataset
    level: float
    method: str
    n_obs: int
    n_clusters: int
    reml: bool
    loglik: float
    convergence: Convergence
    provenance: Provenance

    def summary(self) -> str:
        """Plain-text summary: design, estimation, effects, fixed effects and variance components."""
        fmt = "{:.4f}".format
        head = (f"Multilevel 1-1-1 mediation (Bauer et al. 2006 stacked model, {'REML' if self.reml else 'ML'}): "
                f"{self.n_obs} sessions in {self.n_clusters} clusters; log-likelihood {self.loglik:.4f}\n"
                f"{100 * self.level:g}% intervals: {self.method}, seed {self.provenance.seed}; "
                f"converged: {self.convergence.converged}\n")
        with pd.option_context("display.width", 140):
            return (head + "\nEffects\n" + self.effects.to_string(index=False, float_format=fmt)
                    + "\n\nFixed effects\n" + self.params.to_string(index=False, float_format=fmt)
                    + "\n\nVariance components\n" + self.varcomp.to_string(index=False, float_format=fmt))

    def __repr__(self) -> str:
        return self.summary()


def _stack(frame: pd.DataFrame, x: str, m: str, y: str, codes: np.ndarray, n_clusters: int, random_slopes: bool):
    """Per-cluster cross-products of ``[X, Z, response]`` for the m rows and the y rows."""
    xb = frame.groupby(codes)[x].transform("mean").to_numpy()
    mb = frame.groupby(codes)[m].transform("mean").to_numpy()
    xv, mv, yv = (frame[c].to_numpy(dtype=float) for c in (x, m, y))
    xw, mw = xv - xb, mv - mb
    zeros, ones = np.zeros(len(frame)), np.ones(len(frame))
    x_m = np.column_stack([ones, xw, xb, zeros, zeros, zeros, zeros, zeros])
    x_y = np.column_stack([zeros, zeros, zeros, ones, mw, mb, xw, xb])
    if random_slopes:  # random: m intercept, a_j, b_j, y intercept
        z_m = np.column_stack([ones, xw, zeros, zeros])
        z_y = np.column_stack([zeros, zeros, mw, ones])
    else:
        z_m = np.column_stack([ones, zeros])
        z_y = np.column_stack([zeros, ones])
    w_m = np.column_stack([x_m, z_m, mv])
    w_y = np.column_stack([x_y, z_y, yv])
    return stacked_crossproducts(w_m, w_y, codes, n_clusters)


def fit_stacked(frame: pd.DataFrame, x: str, m: str, y: str, codes: np.ndarray, n_clusters: int, *,
                random_slopes: bool = True, reml: bool = True,
                zero_cov: frozenset[tuple[int, int]] | None = None) -> StackedFit:
    """Fit the 1-1-1 stacked model on :mod:`allianceStats.mixed.stacked`; ``zero_cov`` lists (row, col) entries of
    G fixed at 0 (default: cov of the two random intercepts, since y is regressed on the cluster mean of m, which
    contains m's random intercept)."""
    q = 4 if random_slopes else 2
    if zero_cov is None:
        zero_cov = frozenset({(q - 1, 0)})
    cm, cy, counts = _stack(frame, x, m, y, codes, n_clusters, random_slopes)
    sd_x, sd_m, sd_y = (float(frame[c].std()) or 1.0 for c in (x, m, y))
    re_scale = np.array([sd_m, sd_m / sd_x, sd_y / sd_m, sd_y]) if random_slopes else np.array([sd_m, sd_y])
    return fit_stacked_lmm(cm, cy, counts, p=len(FIXED), q=q, reml=reml, zero_cov=zero_cov,
                           resid_scale=np.array([sd_m, sd_y]), re_scale=re_scale)


def multilevel_mediation(data: pd.DataFrame, x: str, m: str, y: str, *, cluster: str = "client",
                         random_slopes: bool = True, method: str = "monte_carlo", n_draws: int = 20000,
                         level: float = 0.95, reml: bool = True, seed: int | None = None
                         ) -> MultilevelMediationResult:
    """Within- and between-cluster indirect effects of ``x`` on ``y`` through ``m`` in session data (1-1-1).

    Fits the stacked model of Bauer, Preacher & Gil (2006) with cluster-mean-centred predictors and cluster
    means (Zhang, Zyphur & Preacher 2009); with ``random_slopes`` the a and b paths vary over clusters with
    covariance ``sigma_ab`` and the within indirect effect is ``a_W b_W + sigma_ab``. See the module docstring
    for the model. Intervals by the Monte Carlo method (Selig & Preacher 2008; ``n_draws`` draws) or by a
    cluster bootstrap with refits (``method="bootstrap"``; ``n_draws`` resamples, slow: one optimisation each).
    Validated against ``nlme::lme`` with ``varIdent`` residuals (fixed effects, random-effect covariance,
    residual SDs to ~1e-4 relative) and by recovery of known effects in simulation.

    Parameters
    ----------
    data : long table, one row per session; never modified. Rows with a missing x, m or y are dropped.
    cluster : column identifying the level-2 units (clients).
    random_slopes : random a and b slopes (with their covariance); ``False`` keeps random intercepts only.
    method : ``"monte_carlo"`` or ``"bootstrap"``.
    reml : restricted ML (default, as nlme / SAS) or ML.
    seed : seed of the numpy Generator for the draws (recorded in ``provenance``).

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> import allianceStats as als
    >>> rng = np.random.default_rng(2)
    >>> g = np.repeat(np.arange(80), 10)
    >>> x = rng.normal(size=80)[g] + rng.normal(size=800)
    >>> m = 0.5 * x + rng.normal(size=80)[g] + rng.normal(size=800)
    >>> y = 0.4 * m + rng.normal(size=80)[g] + rng.normal(size=800)
    >>> df = pd.DataFrame({"client": g, "x": x, "m": m, "y": y})
    >>> res = als.multilevel_mediation(df, "x", "m", "y", n_draws=5000, seed=1)
    >>> res.effects["effect"].tolist()
    ['within indirect', 'between indirect', 'within direct', 'between direct']
    >>> bool(res.effects.loc[0, "ci_lower"] > 0), res.convergence.converged
    (True, True)
    """
    problems = []
    if not isinstance(data, pd.DataFrame):
        raise AllianceStatsError(f"data must be a pandas DataFrame, found {type(data).__name__}.")
    for role, name in (("x", x), ("m", m), ("y", y), ("cluster", cluster)):
        if name not in data.columns:
            problems.append(f"{role} column '{name}' not found; available columns: {list(data.columns)}.")
        elif role != "cluster" and not pd.api.types.is_numeric_dtype(data[name]):
            problems.append(f"{role} column '{name}' has dtype {data[name].dtype}; a numeric column is needed.")
    if len({x, m, y}) < 3:
        problems.append(f"x, m and y must be three different columns; got {x!r}, {m!r}, {y!r}.")
    if method not in ("monte_carlo", "bootstrap"):
        problems.append(f"method={method!r} is not one of ['monte_carlo', 'bootstrap'].")
    if not (isinstance(level, float | int) and 0.0 < level < 1.0):
        problems.append(f"level={level!r} must be a number strictly between 0 and 1 (e.g. 0.95).")
    if not (isinstance(n_draws, int | np.integer) and n_draws >= 20):
        problems.append(f"n_draws={n_draws!r}: at least 20 draws are needed (Monte Carlo: 20000 recommended).")
    if problems:
        raise AllianceStatsError("multilevel_mediation(): " + " ".join(problems))
    frame = data[[cluster, x, m, y]].dropna()
    if len(frame) < len(data):
        warnings.warn(f"multilevel_mediation(): {len(data) - len(frame)} of {len(data)} rows have a missing "
                      f"value in {[cluster, x, m, y]} and were dropped.", DataWarning, stacklevel=2)
    codes, uniques = pd.factorize(frame[cluster], sort=True)
    n_clusters = len(uniques)
    if n_clusters < 10:
        raise IdentificationError(f"multilevel_mediation(): {n_clusters} clusters in '{cluster}'; at least 10 "
                                  "are needed to estimate between-cluster paths and random slopes.")
    for col in (x, m):
        within_sd = (frame[col] - frame.groupby(codes)[col].transform("mean")).std()
        if not within_sd > 1e-10 * max(frame[col].std(), 1e-300):
            raise IdentificationError(f"multilevel_mediation(): '{col}' does not vary within clusters of "
                                      f"'{cluster}', so its within-cluster path cannot be estimated.")
    fit = fit_stacked(frame, x, m, y, codes, n_clusters, random_slopes=random_slopes, reml=reml)
    lik, beta, vcov_beta, g, vcov_phi = fit.lik, fit.beta, fit.vcov_beta, fit.g, fit.vcov_phi
    for msg in fit.warnings:
        category = BoundaryWarning if "singular fit" in msg else ConvergenceWarning
        warnings.warn(f"multilevel_mediation(): {msg}.", category, stacklevel=2)
    sigma_ab, var_sigma_ab = 0.0, 0.0
    if random_slopes:
        k_ab = lik.free.index((_RE_B, _RE_A))
        sigma_ab = float(g[_RE_B, _RE_A])
        var_sigma_ab = float(vcov_phi[k_ab, k_ab]) if np.isfinite(vcov_phi[k_ab, k_ab]) else 0.0

    estimate = np.array([beta[_A_W] * beta[_B_W] + sigma_ab, beta[_A_B] * beta[_B_B], beta[_C_W], beta[_C_B]])
    jac = np.zeros((4, len(FIXED)))
    jac[0, [_A_W, _B_W]] = beta[_B_W], beta[_A_W]
    jac[1, [_A_B, _B_B]] = beta[_B_B], beta[_A_B]
    jac[2, _C_W] = jac[3, _C_B] = 1.0
    se = np.sqrt(np.einsum("ij,jk,ik->i", jac, vcov_beta, jac) + np.array([var_sigma_ab, 0, 0, 0]))

    if seed is None:
        seed = int(np.random.SeedSequence().entropy % (2 ** 63))
    rng = np.random.default_rng(seed)
    if method == "monte_carlo":
        b = monte_carlo_coefficients(beta, vcov_beta, n_draws, rng)
        s_ab = sigma_ab + np.sqrt(var_sigma_ab) * rng.standard_normal(n_draws)
    else:
        b, s_ab = np.empty((n_draws, len(FIXED))), np.empty(n_draws)
        for r in range(n_draws):  # each resample needs its own optimisation (warm-started at the estimate)
            idx = rng.integers(0, n_clusters, size=n_clusters)
            fit_r = lik.fit(fit.theta, idx, ftol=1e-9)  # bootstrap error >> optimiser error
            vm, vy, low = lik.unpack(fit_r.x)
            b[r] = lik.pieces(vm, vy, low, idx)[1]
            s_ab[r] = (low @ low.T)[_RE_B, _RE_A] if random_slopes else 0.0
    draws = np.column_stack([b[:, _A_W] * b[:, _B_W] + s_ab, b[:, _A_B] * b[:, _B_B], b[:, _C_W], b[:, _C_B]])
    lower_ci, upper_ci = percentile_interval(draws, level)
    z = estimate / se
    effects = pd.DataFrame({"effect": EFFECTS, "estimate": estimate, "std_error": se, "ci_lower": lower_ci,
                            "ci_upper": upper_ci, "p_value": 2 * stats.norm.sf(np.abs(z))})[EFFECT_COLUMNS]
    zc = stats.norm.ppf(0.5 + level / 2)
    fse = np.sqrt(np.diag(vcov_beta))
    params = pd.DataFrame({"term": FIXED, "estimate": beta, "std_error": fse, "statistic": beta / fse,
                           "p_value": 2 * stats.norm.sf(np.abs(beta / fse)), "ci_lower": beta - zc * fse,
                           "ci_upper": beta + zc * fse})
    names = ["m intercept", "a slope", "b slope", "y intercept"] if random_slopes else ["m intercept", "y intercept"]
    sd = np.sqrt(np.diag(g))
    rows = []
    for k, (i, j) in enumerate(lik.free):
        v = g[i, j]
        sdcor = np.sqrt(v) if i == j else (v / (sd[i] * sd[j]) if sd[i] * sd[j] > 0 else np.nan)
        rows.append((cluster, names[j], names[i] if i != j else None, v, sdcor, np.sqrt(vcov_phi[k, k])))
    rows.append(("Residual (m)", None, None, fit.var_m, np.sqrt(fit.var_m), np.sqrt(vcov_phi[-2, -2])))
    rows.append(("Residual (y)", None, None, fit.var_y, np.sqrt(fit.var_y), np.sqrt(vcov_phi[-1, -1])))
    varcomp = pd.DataFrame(rows, columns=["group", "var1", "var2", "vcov", "sdcor", "std_error"])
    ds = xr.Dataset({"effects": (("draw", "effect"), draws)},
                    coords={"draw": np.arange(n_draws), "effect": EFFECTS}, attrs={"method": method, "seed": seed})
    options = {"x": x, "m": m, "y": y, "cluster": cluster, "random_slopes": random_slopes, "method": method,
               "n_draws": n_draws, "level": level, "reml": reml}
    return MultilevelMediationResult(
        effects=effects, params=params, varcomp=varcomp, draws=ds, level=float(level), method=method,
        n_obs=len(frame), n_clusters=n_clusters, reml=reml, loglik=fit.loglik,
        convergence=fit.convergence,
        provenance=make_provenance(frame, options=options, seed=seed, extra_versions=("xarray",)))


def simulate_111(n_clusters: int, n_per: int, *, seed: int, a_w: float = 0.4, b_w: float = 0.35,
                 sigma_ab: float = 0.03, a_b: float = 0.6, b_b: float = 0.5, c_w: float = 0.1,
                 c_b: float = 0.2) -> tuple[pd.DataFrame, dict[str, float]]:
    """Simulate 1-1-1 session data with known within and between indirect effects (for tests and coverage).

    Client-specific slopes ``(a_j, b_j) ~ N((a_w, b_w), [[0.04, sigma_ab], [sigma_ab, 0.04]])``; the within-client
    deviations of x and m are centred exactly within each client, so the observed client means are the true
    ones and the model of Zhang, Zyphur & Preacher (2009) holds exactly with observed means:
    within indirect ``a_w b_w + sigma_ab`` (Bauer et al. 2006), between indirect ``a_b b_b``.
    Returns ``(data, truth)`` with columns ``client, x, m, y``.

    >>> data, truth = simulate_111(20, 5, seed=1)
    >>> data.shape, round(truth["within indirect"], 2)
    ((100, 4), 0.17)
    """
    from ..simulate.designs import multilevel_mediation as design  # the DGP lives with the other designs

    data, truth = design(n_clusters, n_per, a_w=a_w, b_w=b_w, sigma_ab=sigma_ab, a_b=a_b, b_b=b_b, c_w=c_w,
                         c_b=c_b, seed=seed)
    return data, truth["targets"]

