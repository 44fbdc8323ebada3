"""Within-person indirect effects across waves from a multivariate RI-CLPM.

Model
-----
The random-intercept cross-lagged panel model (Hamaker, Kuiper & Grasman 2015) for three variables splits each
score into a stable person part and a within-person deviation ``w_t = (w_x, w_m, w_y)_t`` that follows a
first-order vector autoregression ``w_t = B w_{t-1} + z_t``. With the lagged paths held equal over waves
(``constraints="lagged"``) the within-person indirect effect of x on y through m over two lags,
``x_{t-2} -> m_{t-1} -> y_t``, is the product ``B[m, x] * B[y, m]`` (Cole & Maxwell 2003; Preacher 2015 on
longitudinal mediation; Mulder & Hamaker 2021 for the RI-CLPM). The *total* lag-2 effect of x on y is
``(B^2)[y, x] = B[y, x] B[x, x] + B[y, m] B[m, x] + B[y, y] B[y, x]``: every route through the three
within-components at ``t-1``; the indirect effect is the route through m.

Inference: delta-method standard errors from the ML covariance of the lagged paths (MacKinnon 2008). Intervals
(``ci=``, the same four methods as every mediation function, :mod:`allianceStats.mediation.intervals`): Monte
Carlo (Selig & Preacher 2008) from the same asymptotic normal distribution; percentile or BCa intervals from a
nonparametric bootstrap over clients (each resample refitted by FIML; resamples whose fit does not converge are
left out and counted in a warning; BCa adds one leave-one-client-out refit per client); or the delta-method
Wald interval. The RI-CLPM is fitted by :func:`allianceStats.fit_riclpm` (ML, FIML for missing waves).

References
----------
Hamaker, E. L., Kuiper, R. M., & Grasman, R. P. P. P. (2015). A critique of the cross-lagged panel model.
*Psychological Methods* 20(1), 102-116.
Cole, D. A., & Maxwell, S. E. (2003). Testing mediational models with longitudinal data. *Journal of Abnormal
Psychology* 112(4), 558-577.
Preacher, K. J. (2015). Advances in mediation analysis. *Annual Review of Psychology* 66, 825-852.
Mulder, J. D., & Hamaker, E. L. (2021). Three extensions of the random intercept cross-lagged panel model.
*Structural Equation Modeling* 28(4), 638-648.
Selig, J. P., & Preacher, K. J. (2008). Monte Carlo method for assessing mediation [computer software].
"""
from __future__ import annotations

import time
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import xarray as xr

from .._deprecation import renamed_arguments, warn_renamed
from ..data.checks import (
    check_choice,
    check_conf_level,
    check_positive_int,
    require_columns,
    require_numeric,
    resolve_seed,
)
from ..errors import AllianceStatsError, ConvergenceWarning, IdentificationError, OptionError
from ..results import Convergence, Provenance, ResultDisplay, make_provenance
from .intervals import CI_METHODS, draw_inference, monte_carlo_coefficients
from .tables import check_roles, effects_frame, format_p_value, paths_frame, renamed_attribute

__all__ = ["fit_wave_mediation", "WaveMediationResult"]

#: draws when n_draws=None: Monte Carlo draws are cheap, a bootstrap resample is a full FIML refit
DEFAULT_DRAWS = {"monte_carlo": 20000, "percentile": 1000, "bca": 1000, "delta": 0}
#: the lagged paths behind the lag-2 effects: key -> (outcome role, predictor role, label in ``paths``)
_ROUTES = {"a": ("m", "x", "a1"), "b": ("y", "m", "b1"), "c": ("y", "x", "c_prime"), "ax": ("x", "x", "ar_x"),
           "ay": ("y", "y", "ar_y")}


@dataclass(frozen=True, repr=False)
class WaveMediationResult(ResultDisplay):
    """Within-person indirect effect across waves (follows :class:`allianceStats.results.Result`).

    Attributes
    ----------
    effects : DataFrame
        ``effect, estimate, std_error, statistic, p_value, ci_lower, ci_upper`` for the indirect effect
        ``x[t-2] -> m[t-1] -> y[t]``, the other lag-2 routes, and the total lag-2 effect of x on y.
    paths : DataFrame
        The five lagged within-person paths (``lhs, op, rhs, label, estimate, std_error, statistic, p_value,
        ci_lower, ci_upper``; ``lhs`` like ``"m[t]"``, ``rhs`` like ``"x[t-1]"``; labels ``a1``, ``b1``,
        ``c_prime``, ``ar_x``, ``ar_y``).
    inference : dict
        One method, ``ci``, for every column of ``effects`` and ``paths``: ``"delta"`` — the RI-CLPM's ML standard
        errors (delta method for the effects), Wald tests and intervals; draws (Monte Carlo, or the client
        bootstrap) — their standard deviation, the interval, and the p-value that inverts it
        (:func:`~allianceStats.mediation.intervals.draw_inference`).
    draws : xarray.Dataset or None
        ``effects`` (dims ``draw, effect``) and ``paths`` (dims ``draw, path``): Monte Carlo draws or bootstrap
        estimates (None for ``"delta"``).
    panel : PanelResult
        The fitted RI-CLPM (:func:`allianceStats.fit_riclpm`) with its lavaan syntax.
    conf_level, ci, n_draws, n_obs (clients in the fit), convergence (the RI-CLPM's), provenance
    """

    effects: pd.DataFrame
    paths: pd.DataFrame
    draws: xr.Dataset | None
    panel: Any
    conf_level: float
    ci: str
    n_draws: int
    n_obs: int
    convergence: Convergence
    provenance: Provenance
    inference: dict = field(default_factory=dict)

    level = renamed_attribute("level", "conf_level")
    ci_method = renamed_attribute("ci_method", "ci")

    def summary(self) -> str:
        """Plain-text summary: the effects and the lagged paths they are built from."""
        fmt = "{:.4f}".format
        draws = f", {self.n_draws} draws, seed {self.provenance.seed}" if self.n_draws else ""
        resolution = 2.0 / self.n_draws if self.n_draws else 0.0

        def shown(frame):
            out = frame.copy()
            out["p_value"] = [format_p_value(p, resolution) for p in frame["p_value"]]
            return out.to_string(index=False, float_format=fmt)

        return (f"Within-person mediation across waves (RI-CLPM, lagged paths equal over waves; "
                f"{self.n_obs} clients, waves {list(self.panel.waves)})\n"
                f"{100 * self.conf_level:g}% intervals: {self.ci}{draws}; converged: {self.converged}\n"
                + "".join(f"{k}: {self.inference[k]}\n" for k in ("std_error", "p_value") if k in self.inference)
                + "\n" + shown(self.effects) + "\n\nLagged paths\n" + shown(self.paths))


def _lagged_estimates(panel, variables: dict[str, str]) -> pd.DataFrame:
    """The lagged paths of ``_ROUTES`` (first wave pair; equal over waves) with their SEM labels."""
    lagged = pd.concat([panel.cross_lagged, panel.autoregressive], ignore_index=True)
    first = lagged.drop_duplicates(["outcome", "predictor"]).set_index(["outcome", "predictor"])
    keys = [(variables[out], variables[pred]) for out, pred, _ in _ROUTES.values()]
    return first.loc[keys]


def _effects_of(p: np.ndarray) -> np.ndarray:
    """Lag-2 effects from lagged paths ``p`` (B, 5; columns a, b, c, ax, ay): indirect, other routes, total."""
    a, b, c, ax, ay = (p[:, i] for i in range(5))
    return np.column_stack([a * b, c * ax + ay * c, c * ax + a * b + ay * c])


def _fit(frame: pd.DataFrame, variables: list[str], **kw):
    from ..panel import fit_riclpm  # mediation -> panel -> sem (docs/design.md data flow)

    return fit_riclpm(frame, variables, constraints="lagged", **kw)


@renamed_arguments(wave="session", n_boot="n_draws", level="conf_level")
def fit_wave_mediation(data: pd.DataFrame, x: str, m: str, y: str, *, client: str = "client",
                       session: str = "session", waves: Sequence | None = None, ci: str = "monte_carlo",
                       n_draws: int | None = None, conf_level: float = 0.95, missing: str = "fiml",
                       seed: int | None = None) -> WaveMediationResult:
    """Within-person indirect effect ``x[t-2] -> m[t-1] -> y[t]`` from a three-variable RI-CLPM.

    Fits ``fit_riclpm(data, [x, m, y], constraints="lagged")`` (Hamaker et al. 2015; lagged paths equal over
    waves) and reports ``B[m, x] * B[y, m]`` (Cole & Maxwell 2003), the remaining lag-2 routes and the total
    lag-2 effect ``(B^2)[y, x]``, with delta-method standard errors (MacKinnon 2008). Checked against lavaan 0.6
    (``:=`` on the same RI-CLPM by FIML: effects 2e-5, SEs 1e-4 relative).

    Parameters
    ----------
    data : DataFrame
        Long session data (one row per client and session); never modified. Missing waves are handled by FIML.
    x, m, y : str
        Predictor, mediator and outcome columns.
    client, session : str
        Columns identifying the client and the session number.
    waves : sequence or None
        Session numbers to use (default: all present); at least three are needed for a lag-2 effect.
    ci : {"monte_carlo", "percentile", "bca", "delta"}
        Interval of the effects: Monte Carlo (Selig & Preacher 2008; default), client bootstrap with a FIML refit
        per resample (percentile, or BCa with a leave-one-client-out refit per client) — a loop of full fits,
        about 0.2 s each for three variables and five waves, so 1,000 resamples take minutes — or delta-method
        Wald.
    n_draws : int or None
        Monte Carlo draws (at least 100) or bootstrap resamples (at least 50); ``None``: 20,000 draws or 1,000
        resamples. The value used is ``result.n_draws``.
    conf_level : float
        Confidence level of every interval.
    missing : {"fiml", "listwise"}
        Missing-data treatment of the RI-CLPM.
    seed : int or None
        Seed of the draws (``None`` draws one); recorded in ``provenance.seed``.

    Returns
    -------
    WaveMediationResult

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> import allianceStats as als
    >>> rng = np.random.default_rng(1)
    >>> n, T = 300, 4
    >>> B = np.array([[0.3, 0.0, 0.0], [0.4, 0.3, 0.0], [0.0, 0.4, 0.3]])  # rows: x, m, y at t; cols: t-1
    >>> w = np.zeros((n, 3, T)); w[:, :, 0] = rng.normal(size=(n, 3))
    >>> for t in range(1, T):
    ...     w[:, :, t] = w[:, :, t - 1] @ B.T + rng.normal(size=(n, 3))
    >>> ri = 0.5 * rng.normal(size=(n, 3))
    >>> long = pd.DataFrame([{"client": i, "session": t + 1, "x": ri[i, 0] + w[i, 0, t],
    ...                       "m": ri[i, 1] + w[i, 1, t], "y": ri[i, 2] + w[i, 2, t]}
    ...                      for i in range(n) for t in range(T)])
    >>> res = als.fit_wave_mediation(long, "x", "m", "y", seed=1)
    >>> res.effects["effect"].tolist()[0]
    'x[t-2] -> m[t-1] -> y[t]'
    >>> bool(res.effects.loc[0, "ci_lower"] > 0), res.paths["label"].tolist()
    (True, ['a1', 'b1', 'c_prime', 'ar_x', 'ar_y'])
    """
    started = time.perf_counter()
    where = "fit_wave_mediation"
    if ci == "bootstrap":  # the old ci="bootstrap"
        warn_renamed("ci='bootstrap'", "ci='percentile'", stacklevel=4)
        ci = "percentile"
    check_roles(where, [("x", x), ("m", m), ("y", y), ("client", client), ("session", session)])
    check_choice("ci", ci, CI_METHODS)
    conf_level = check_conf_level(conf_level)
    if ci == "delta":
        n_draws = 0
    elif n_draws is None:
        n_draws = DEFAULT_DRAWS[ci]
    else:
        n_draws = check_positive_int("n_draws", n_draws, minimum=100 if ci == "monte_carlo" else 50)
    seed = resolve_seed(seed)
    require_columns(data, [client, session, x, m, y], where=where)
    require_numeric(data, [x, m, y], where=where, finite=True)
    clash = [v for v in (x, m, y) if v in ("client", "session")]
    if clash:  # the panel fit reads the roles from the columns 'client' and 'session'
        raise OptionError(f"{where}(): variable column(s) {clash} share a name with a column role; rename them "
                          "(e.g. data.rename(columns={'session': 'session_score'}))")
    frame = data[[client, session, x, m, y]].rename(columns={client: "client", session: "session"})
    panel = _fit(frame, [x, m, y], waves=waves, missing=missing)
    if len(panel.waves) < 3:
        raise IdentificationError(f"{where}(): {len(panel.waves)} waves; a lag-2 indirect effect needs at least "
                                  "three.")
    if panel.sem.vcov is None:  # not identified (the panel fit says why): no covariance to take effects from
        raise IdentificationError(f"{where}(): {panel.convergence.message}")
    roles = {"x": x, "m": m, "y": y}
    first = _lagged_estimates(panel, roles)
    table = panel.sem.partable
    free = [int(table.loc[table["label"] == lbl, "free"].iloc[0]) - 1 for lbl in first["label"]]
    est = first["estimate"].to_numpy(dtype=float)
    vcov = panel.sem.vcov.to_numpy()[np.ix_(free, free)]

    names = [f"{x}[t-2] -> {m}[t-1] -> {y}[t]", f"{x}[t-2] -> {y}[t], other routes", f"{x}[t-2] -> {y}[t], total"]
    estimate = _effects_of(est[None])[0]
    a, b, c, ax, ay = est
    jac = np.array([[b, a, 0, 0, 0], [0, 0, ax + ay, c, c], [b, a, ax + ay, c, c]])
    se = np.sqrt(np.einsum("ij,jk,ik->i", jac, vcov, jac))
    rng = np.random.default_rng(seed)
    path_draws = path_jack = None
    if ci == "monte_carlo":
        path_draws = monte_carlo_coefficients(est, vcov, n_draws, rng)
    elif ci in ("percentile", "bca"):
        path_draws = _bootstrap(panel, roles, n_draws, rng, missing, where)
        if ci == "bca":
            path_jack = _jackknife(panel, roles, missing, where)
    sample = None if path_draws is None else _effects_of(path_draws)
    jack = None if path_jack is None else _effects_of(path_jack)
    # one inference for both tables (issue 13): from the draws, the p-value inverts the interval
    effects = effects_frame(names, estimate, se, None, None,
                            columns=draw_inference(ci, conf_level, estimate, se, sample, jack))
    path_se = np.sqrt(np.diag(vcov))
    labels = [lbl for _, _, lbl in _ROUTES.values()]
    paths = paths_frame([f"{roles[o]}[t]" for o, _, _ in _ROUTES.values()],
                        [f"{roles[p]}[t-1]" for _, p, _ in _ROUTES.values()], labels, est, path_se, conf_level,
                        columns=draw_inference(ci, conf_level, est, path_se, path_draws, path_jack))
    draws = None if sample is None else xr.Dataset(
        {"effects": (("draw", "effect"), sample), "paths": (("draw", "path"), path_draws)},
        coords={"draw": np.arange(len(sample)), "effect": names, "path": labels},
        attrs={"method": "monte_carlo" if ci == "monte_carlo" else "client bootstrap", "seed": seed})
    n_obs = panel.n_obs
    options = {"x": x, "m": m, "y": y, "client": client, "session": session, "waves": list(panel.waves),
               "ci": ci, "n_draws": n_draws, "conf_level": conf_level, "missing": missing}
    return WaveMediationResult(
        effects=effects, paths=paths, draws=draws, panel=panel, conf_level=conf_level, ci=ci, n_draws=n_draws,
        n_obs=int(n_obs if np.ndim(n_obs) == 0 else np.sum(n_obs)), convergence=panel.convergence,
        provenance=make_provenance(data, options=options, seed=seed, function=where, started=started),
        inference=_inference(ci, len(sample) if sample is not None else 0))


def _inference(ci: str, n_draws: int) -> dict:
    """``result.inference`` of a wave mediation (one method for ``effects`` and ``paths``)."""
    if ci == "delta":
        return {"std_error": "ML standard errors of the RI-CLPM's paths; delta method for the effects",
                "statistic": "Wald z = estimate / std_error", "p_value": "Wald z test (two-sided)",
                "interval": "Wald (delta method), RI-CLPM"}
    source = (f"{n_draws} Monte Carlo draws from the RI-CLPM's estimates and covariance" if ci == "monte_carlo"
              else f"{n_draws} bootstrap resamples of clients, refitted")
    interval = ("Monte Carlo percentile" if ci == "monte_carlo" else
                f"{'BCa' if ci == 'bca' else 'percentile'} bootstrap") + f" ({source})"
    return {"std_error": f"standard deviation of the {source}", "statistic": "none (NaN): the p-value is not a z test",
            "p_value": f"the {interval.split(' (')[0]} interval inverted: p < 1 - conf_level exactly when it "
                       "excludes 0",
            "interval": interval}


def _refit(panel, rows: np.ndarray, roles: dict[str, str], missing: str) -> np.ndarray | None:
    """The lagged paths refitted on ``rows`` of the fitted wide table, or None if the fit fails or warns."""
    wide = panel.data.drop(columns=[c for c in panel.data.columns if c == "client"])
    sample = wide.iloc[rows].reset_index(drop=True)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            refit = _fit(sample, list(roles.values()), wide=True, waves=panel.waves, missing=missing)
        except AllianceStatsError:
            return None
    if not refit.convergence.converged or any(issubclass(w.category, ConvergenceWarning) for w in caught):
        return None
    return _lagged_estimates(refit, roles)["estimate"].to_numpy(dtype=float)


def _bootstrap(panel, roles, n_draws, rng, missing, where) -> np.ndarray:
    """Client bootstrap of the lagged paths (the lag-2 effects follow): resample rows of the wide table, refit."""
    n = len(panel.data)
    out = [p for p in (_refit(panel, rng.integers(0, n, n), roles, missing) for _ in range(n_draws))
           if p is not None]
    if len(out) < n_draws:
        warnings.warn(f"{where}(): {n_draws - len(out)} of {n_draws} bootstrap resamples did not converge and were "
                      "left out of the interval.", ConvergenceWarning, stacklevel=4)
    if len(out) < max(20, n_draws // 2):
        raise AllianceStatsError(f"{where}(): only {len(out)} of {n_draws} bootstrap refits converged; "
                                 "use ci='monte_carlo' or more clients.")
    return np.asarray(out)


def _jackknife(panel, roles, missing, where) -> np.ndarray:
    """Leave-one-client-out lagged paths, for the BCa acceleration (failed refits are left out)."""
    n = len(panel.data)
    out = [p for p in (_refit(panel, np.delete(np.arange(n), i), roles, missing) for i in range(n))
           if p is not None]
    if len(out) < n:
        warnings.warn(f"{where}(): {n - len(out)} of {n} leave-one-client-out refits did not converge; the BCa "
                      "acceleration uses the others.", ConvergenceWarning, stacklevel=4)
    return np.asarray(out)
