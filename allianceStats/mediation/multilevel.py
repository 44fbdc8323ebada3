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
Because the client's own ``a_j`` and ``b_j`` may covary, the average within-client indirect effect is
``E(a_j b_j) = a_W b_W + sigma_ab`` (Kenny, Korchmaros & Bolger 2003; Bauer, Preacher & Gil 2006). The
between-client indirect effect is ``a_B b_B`` (Zhang et al. 2009).

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
the inverse of half the numerical Hessian of the deviance. Effects have delta-method standard errors (the
variance of ``sigma_ab`` added for the within indirect effect). Intervals (``ci=``, the same four methods as
every mediation function, :mod:`allianceStats.mediation.intervals`): ``"monte_carlo"`` draws the fixed effects
and ``sigma_ab`` independently from their asymptotic normal distributions (as Bauer et al. 2006 do) and takes
percentile intervals of ``a_W b_W + sigma_ab`` and ``a_B b_B`` (Selig & Preacher 2008); ``"percentile"`` and
``"bca"`` resample whole clients and refit (one optimisation per resample, warm-started; BCa adds one
leave-one-client-out refit per client for the acceleration); ``"delta"`` is the Wald interval.

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

import time
import warnings
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import xarray as xr

from .._deprecation import renamed_arguments, warn_renamed
from ..data.checks import (
    check_bool,
    check_choice,
    check_conf_level,
    check_positive_int,
    require_columns,
    require_numeric,
    resolve_seed,
)
from ..errors import BoundaryWarning, ConvergenceWarning, DataWarning, IdentificationError
from ..mixed.stacked import StackedFit, fit_stacked_lmm, stacked_crossproducts
from ..results import Convergence, Provenance, ResultDisplay, make_provenance
from .intervals import CI_METHODS, draw_inference, monte_carlo_coefficients
from .tables import check_roles, effects_frame, format_p_value, paths_frame, renamed_attribute

__all__ = ["fit_multilevel_mediation", "MultilevelMediationResult", "fit_stacked", "simulate_111"]

FIXED = ["m: intercept", "m: x_within (a_W)", "m: x_between (a_B)", "y: intercept", "y: m_within (b_W)",
         "y: m_between (b_B)", "y: x_within (c'_W)", "y: x_between (c'_B)"]
EFFECTS = ["within indirect", "between indirect", "within direct", "between direct"]
_A_W, _A_B, _B_W, _B_B, _C_W, _C_B = 1, 2, 4, 5, 6, 7  # positions in FIXED
_RE_A, _RE_B = 1, 2  # positions of a_j and b_j among the random effects (m intercept, a_j, b_j, y intercept)
#: draws when n_draws=None: Monte Carlo draws are cheap, a bootstrap resample costs one optimisation
DEFAULT_DRAWS = {"monte_carlo": 20000, "percentile": 1000, "bca": 1000, "delta": 0}


def _old_method(ci: str) -> str:
    return "bootstrap" if ci in ("percentile", "bca") else ci


@dataclass(frozen=True, repr=False)
class MultilevelMediationResult(ResultDisplay):
    """A fitted 1-1-1 multilevel mediation model (follows :class:`allianceStats.results.Result`).

    Attributes
    ----------
    effects : DataFrame
        ``effect, estimate, std_error, statistic, p_value, ci_lower, ci_upper`` for ``within indirect``
        (``a_W b_W + sigma_ab``), ``between indirect`` (``a_B b_B``), ``within direct`` (``c'_W``) and
        ``between direct`` (``c'_B``).
    paths : DataFrame
        The six slopes ``lhs, op, rhs, label, estimate, std_error, statistic, p_value, ci_lower, ci_upper``:
        ``m ~ x_within`` (``a1_within``), ``m ~ x_between`` (``a1_between``), ``y ~ m_within`` (``b1_within``),
        ``y ~ m_between`` (``b1_between``), ``y ~ x_within`` / ``x_between`` (``c_prime_within`` /
        ``c_prime_between``), with the columns' own names.
    inference : dict
        How the columns of ``effects`` and ``paths`` were obtained — one method, ``ci``, for both tables (so the
        direct effects and the ``c_prime`` paths have one interval each): ``"delta"``, GLS (paths) and
        delta-method (effects) standard errors with Wald tests and intervals; draws (Monte Carlo or client
        bootstrap), their standard deviation and the p-value that inverts the interval
        (:func:`~allianceStats.mediation.intervals.draw_inference`).
    params : DataFrame
        All fixed effects, intercepts included: ``term, estimate, std_error, statistic, p_value, ci_lower,
        ci_upper`` — the model's table (GLS standard errors, Wald z tests and intervals, as nlme's ``summary``),
        whatever ``ci``.
    varcomp : DataFrame
        lme4-style ``group, var1, var2, vcov, sdcor`` (random effects of the client and the two residuals), with
        ``std_error`` of each (co)variance from the Hessian.
    draws : xarray.Dataset or None
        ``effects`` with dims ``draw, effect`` and ``paths`` with dims ``draw, path`` (None for ``ci="delta"``).
    conf_level, ci, n_draws, n_obs (sessions), n_clients, reml, loglik, convergence, provenance
    """

    effects: pd.DataFrame
    paths: pd.DataFrame
    params: pd.DataFrame
    varcomp: pd.DataFrame
    draws: xr.Dataset | None
    conf_level: float
    ci: str
    n_draws: int
    n_obs: int
    n_clients: int
    reml: bool
    loglik: float
    convergence: Convergence
    provenance: Provenance
    inference: dict = field(default_factory=dict)

    level = renamed_attribute("level", "conf_level")
    method = renamed_attribute("method", "ci", translate=_old_method)
    n_clusters = renamed_attribute("n_clusters", "n_clients")

    def summary(self) -> str:
        """Plain-text summary: design, estimation, effects, paths and variance components."""
        fmt = "{:.4f}".format
        draws = f", {self.n_draws} draws, seed {self.provenance.seed}" if self.n_draws else ""
        head = (f"Multilevel 1-1-1 mediation (Bauer et al. 2006 stacked model, {'REML' if self.reml else 'ML'}): "
                f"{self.n_obs} sessions of {self.n_clients} clients; log-likelihood {self.loglik:.4f}\n"
                f"{100 * self.conf_level:g}% intervals: {self.ci}{draws}; converged: {self.converged}\n"
                + "".join(f"{k}: {self.inference[k]}\n" for k in ("std_error", "p_value") if k in self.inference))
        resolution = 2.0 / self.n_draws if self.n_draws else 0.0

        def shown(frame):
            out = frame.copy()
            out["p_value"] = [format_p_value(p, resolution) for p in frame["p_value"]]
            return out.to_string(index=False, float_format=fmt)

        with pd.option_context("display.width", 140):
            return (head + "\nEffects\n" + shown(self.effects)
                    + "\n\nPaths\n" + shown(self.paths)
                    + "\n\nVariance components\n" + self.varcomp.to_string(index=False, float_format=fmt))


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


def _effect_draws(b: np.ndarray, s_ab: np.ndarray) -> np.ndarray:
    """Effects (rows of ``EFFECTS``) from fixed-effect vectors ``b`` (B, 8) and covariances ``s_ab`` (B,)."""
    return np.column_stack([b[:, _A_W] * b[:, _B_W] + s_ab, b[:, _A_B] * b[:, _B_B], b[:, _C_W], b[:, _C_B]])


def _refit(fit: StackedFit, idx: np.ndarray, random_slopes: bool) -> tuple[np.ndarray, float]:
    """Fixed effects and ``sigma_ab`` refitted on the clusters ``idx``, warm-started at the estimate."""
    lik = fit.lik
    opt = lik.fit(fit.theta, idx, ftol=1e-9)  # resampling error >> optimiser error
    vm, vy, low = lik.unpack(opt.x)
    return lik.pieces(vm, vy, low, idx)[1], ((low @ low.T)[_RE_B, _RE_A] if random_slopes else 0.0)


@renamed_arguments(cluster="client", method="ci", level="conf_level")
def fit_multilevel_mediation(data: pd.DataFrame, x: str, m: str, y: str, *, client: str = "client",
                             random_slopes: bool = True, ci: str = "monte_carlo", n_draws: int | None = None,
                             conf_level: float = 0.95, reml: bool = True,
                             seed: int | None = None) -> MultilevelMediationResult:
    """Within- and between-client indirect effects of ``x`` on ``y`` through ``m`` in session data (1-1-1).

    Fits the stacked model of Bauer, Preacher & Gil (2006) with client-mean-centred predictors and client means
    (Zhang, Zyphur & Preacher 2009); with ``random_slopes`` the a and b paths vary over clients with covariance
    ``sigma_ab`` and the within indirect effect is ``a_W b_W + sigma_ab`` (Kenny, Korchmaros & Bolger 2003). See
    the module docstring for the model. Validated against ``nlme::lme`` with ``varIdent`` residuals (fixed effects,
    random-effect covariance, residual SDs to ~1e-4 relative) and by recovery of known effects in simulation.

    Parameters
    ----------
    data : DataFrame
        Long table, one row per session; never modified. Rows with a missing x, m or y are dropped.
    x, m, y : str
        Predictor, mediator and outcome columns (numeric).
    client : str
        Column identifying the clients (the level-2 units).
    random_slopes : bool
        Random a and b slopes (with their covariance); ``False`` keeps random intercepts only.
    ci : {"monte_carlo", "percentile", "bca", "delta"}
        Interval of the effects: Monte Carlo (Selig & Preacher 2008; default), client bootstrap with one refit
        per resample (percentile, or BCa with leave-one-client-out refits; slow), or delta-method Wald.
    n_draws : int or None
        Monte Carlo draws or bootstrap resamples (at least 20); ``None``: 20,000 Monte Carlo draws or 1,000
        resamples. The value used is ``result.n_draws``.
    conf_level : float
        Confidence level of every interval.
    reml : bool
        Restricted ML (default, as nlme / SAS) or ML.
    seed : int or None
        Seed of the numpy Generator for the draws; ``None`` draws one. Recorded in ``provenance.seed``.

    Returns
    -------
    MultilevelMediationResult

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> import allianceStats as als
    >>> rng = np.random.default_rng(2)
    >>> g = np.repeat(np.arange(80), 10)
    >>> x = rng.normal(size=80)[g] + rng.normal(size=800)
    >>> m = 0.5 * x + rng.normal(size=80)[g] + rng.normal(size=800)
    >>> y = 0.4 * m + rng.normal(size=80)[g] + rng.normal(size=800)
    >>> data = pd.DataFrame({"client": g, "x": x, "m": m, "y": y})
    >>> res = als.fit_multilevel_mediation(data, "x", "m", "y", n_draws=5000, seed=1)
    >>> res.effects["effect"].tolist()
    ['within indirect', 'between indirect', 'within direct', 'between direct']
    >>> bool(res.effects.loc[0, "ci_lower"] > 0), res.converged, res.paths["label"].tolist()[:2]
    (True, True, ['a1_within', 'a1_between'])
    """
    started = time.perf_counter()
    where = "fit_multilevel_mediation"
    if ci == "bootstrap":  # the old method="bootstrap"
        warn_renamed("ci='bootstrap'", "ci='percentile'", stacklevel=4)
        ci = "percentile"
    check_roles(where, [("x", x), ("m", m), ("y", y), ("client", client)])
    check_choice("ci", ci, CI_METHODS)
    random_slopes, reml = check_bool("random_slopes", random_slopes), check_bool("reml", reml)
    conf_level = check_conf_level(conf_level)
    n_draws = DEFAULT_DRAWS[ci] if n_draws is None else check_positive_int("n_draws", n_draws, minimum=20)
    if ci == "delta":
        n_draws = 0
    seed = resolve_seed(seed)
    require_columns(data, [client, x, m, y], where=where)
    require_numeric(data, [x, m, y], where=where, finite=True)
    frame = data[[client, x, m, y]].dropna()
    if len(frame) < len(data):
        warnings.warn(f"{where}(): {len(data) - len(frame)} of {len(data)} rows have a missing value in "
                      f"{[client, x, m, y]} and were dropped.", DataWarning, stacklevel=3)
    codes, uniques = pd.factorize(frame[client], sort=True)
    n_clients = len(uniques)
    if n_clients < 10:
        raise IdentificationError(f"{where}(): {n_clients} clients in '{client}'; at least 10 are needed to "
                                  "estimate between-client paths and random slopes.")
    for col in (x, m):
        within_sd = (frame[col] - frame.groupby(codes)[col].transform("mean")).std()
        if not within_sd > 1e-10 * max(frame[col].std(), 1e-300):
            raise IdentificationError(f"{where}(): '{col}' does not vary within clients of '{client}', so its "
                                      "within-client path cannot be estimated.")
    fit = fit_stacked(frame, x, m, y, codes, n_clients, random_slopes=random_slopes, reml=reml)
    lik, beta, vcov_beta, g, vcov_phi = fit.lik, fit.beta, fit.vcov_beta, fit.g, fit.vcov_phi
    for msg in fit.warnings:
        category = BoundaryWarning if "singular fit" in msg else ConvergenceWarning
        warnings.warn(f"{where}(): {msg}.", category, stacklevel=3)
    sigma_ab, var_sigma_ab = 0.0, 0.0
    if random_slopes:
        k_ab = lik.free.index((_RE_B, _RE_A))
        sigma_ab = float(g[_RE_B, _RE_A])
        var_sigma_ab = float(vcov_phi[k_ab, k_ab]) if np.isfinite(vcov_phi[k_ab, k_ab]) else 0.0

    estimate = _effect_draws(beta[None], np.array([sigma_ab]))[0]
    jac = np.zeros((4, len(FIXED)))
    jac[0, [_A_W, _B_W]] = beta[_B_W], beta[_A_W]
    jac[1, [_A_B, _B_B]] = beta[_B_B], beta[_A_B]
    jac[2, _C_W] = jac[3, _C_B] = 1.0
    se = np.sqrt(np.einsum("ij,jk,ik->i", jac, vcov_beta, jac) + np.array([var_sigma_ab, 0, 0, 0]))

    rng = np.random.default_rng(seed)
    draws = jack = b = b_j = None
    if ci == "monte_carlo":
        b = monte_carlo_coefficients(beta, vcov_beta, n_draws, rng)
        s_ab = sigma_ab + np.sqrt(var_sigma_ab) * rng.standard_normal(n_draws)
        draws = _effect_draws(b, s_ab)
    elif ci in ("percentile", "bca"):
        b, s_ab = np.empty((n_draws, len(FIXED))), np.empty(n_draws)
        for r in range(n_draws):  # each resample needs its own optimisation (warm-started at the estimate)
            b[r], s_ab[r] = _refit(fit, rng.integers(0, n_clients, size=n_clients), random_slopes)
        draws = _effect_draws(b, s_ab)
        if ci == "bca":
            b_j, s_j = np.empty((n_clients, len(FIXED))), np.empty(n_clients)
            for j in range(n_clients):  # leave-one-client-out, for the acceleration
                b_j[j], s_j[j] = _refit(fit, np.delete(np.arange(n_clients), j), random_slopes)
            jack = _effect_draws(b_j, s_j)
    # one inference for effects and paths (issue 13): the direct effects are the c_prime paths
    effects = effects_frame(EFFECTS, estimate, se, None, None,
                            columns=draw_inference(ci, conf_level, estimate, se, draws, jack))
    fse = np.sqrt(np.diag(vcov_beta))
    wald = paths_frame([""] * len(FIXED), [""] * len(FIXED), [""] * len(FIXED), beta, fse, conf_level)
    params = pd.concat([pd.Series(FIXED, name="term"), wald.drop(columns=["lhs", "op", "rhs", "label"])], axis=1)
    slopes = [(m, f"{x}_within", "a1_within", _A_W), (m, f"{x}_between", "a1_between", _A_B),
              (y, f"{m}_within", "b1_within", _B_W), (y, f"{m}_between", "b1_between", _B_B),
              (y, f"{x}_within", "c_prime_within", _C_W), (y, f"{x}_between", "c_prime_between", _C_B)]
    idx = [s[3] for s in slopes]
    paths = paths_frame([s[0] for s in slopes], [s[1] for s in slopes], [s[2] for s in slopes], beta[idx],
                        fse[idx], conf_level,
                        columns=draw_inference(ci, conf_level, beta[idx], fse[idx],
                                               None if b is None else b[:, idx], None if b_j is None else b_j[:, idx]))
    names = ["m intercept", "a slope", "b slope", "y intercept"] if random_slopes else ["m intercept", "y intercept"]
    sd = np.sqrt(np.diag(g))
    rows = []
    for k, (i, j) in enumerate(lik.free):
        v = g[i, j]
        sdcor = np.sqrt(v) if i == j else (v / (sd[i] * sd[j]) if sd[i] * sd[j] > 0 else np.nan)
        rows.append((client, names[j], names[i] if i != j else None, v, sdcor, np.sqrt(vcov_phi[k, k])))
    rows.append(("Residual (m)", None, None, fit.var_m, np.sqrt(fit.var_m), np.sqrt(vcov_phi[-2, -2])))
    rows.append(("Residual (y)", None, None, fit.var_y, np.sqrt(fit.var_y), np.sqrt(vcov_phi[-1, -1])))
    varcomp = pd.DataFrame(rows, columns=["group", "var1", "var2", "vcov", "sdcor", "std_error"])
    ds = None if draws is None else xr.Dataset(
        {"effects": (("draw", "effect"), draws), "paths": (("draw", "path"), b[:, idx])},
        coords={"draw": np.arange(n_draws), "effect": EFFECTS, "path": [f"{s[0]} ~ {s[1]}" for s in slopes]},
        attrs={"method": "monte_carlo" if ci == "monte_carlo" else "client bootstrap", "seed": seed})
    options = {"x": x, "m": m, "y": y, "client": client, "random_slopes": random_slopes, "ci": ci,
               "n_draws": n_draws, "conf_level": conf_level, "reml": reml}
    return MultilevelMediationResult(
        effects=effects, paths=paths, params=params, varcomp=varcomp, draws=ds, conf_level=conf_level, ci=ci,
        n_draws=n_draws, n_obs=len(frame), n_clients=n_clients, reml=reml, loglik=fit.loglik,
        convergence=fit.convergence,
        provenance=make_provenance(frame, options=options, seed=seed, extra_versions=("xarray",), function=where,
                                   started=started),
        inference=_inference(ci, n_draws, client))


def _inference(ci: str, n_draws: int, client: str) -> dict:
    """``result.inference`` of a multilevel mediation (one method for ``effects`` and ``paths``)."""
    if ci == "delta":
        return {"std_error": "GLS standard errors of the paths (the multilevel model); delta method for the effects",
                "statistic": "Wald z = estimate / std_error", "p_value": "Wald z test (two-sided)",
                "interval": "Wald (delta method), multilevel model"}
    source = (f"{n_draws} Monte Carlo draws from the multilevel model's estimates and covariance"
              if ci == "monte_carlo" else f"{n_draws} bootstrap resamples of clients ('{client}'), refitted")
    interval = ("Monte Carlo percentile" if ci == "monte_carlo" else
                f"{'BCa' if ci == 'bca' else 'percentile'} bootstrap") + f" ({source})"
    return {"std_error": f"standard deviation of the {source}", "statistic": "none (NaN): the p-value is not a z test",
            "p_value": f"the {interval.split(' (')[0]} interval inverted: p < 1 - conf_level exactly when it "
                       "excludes 0",
            "interval": interval}


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
    # the design names its targets as paths ("x -> m -> y (within)"); this function keeps the effect names of
    # fit_multilevel_mediation's table (EFFECTS), which its callers look up
    as_effect = dict(zip(("x -> m -> y (within)", "x -> m -> y (between)", "x -> y (within)", "x -> y (between)"),
                         EFFECTS))
    return data, {as_effect.get(k, k): v for k, v in truth["targets"].items()}

