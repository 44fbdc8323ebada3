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

Inference: delta-method standard errors from the ML covariance of the lagged paths (MacKinnon 2008), and
Monte Carlo intervals (Selig & Preacher 2008) drawn from the same asymptotic normal distribution, or
percentile intervals from a nonparametric bootstrap over clients (each resample refitted by FIML; resamples
whose fit does not converge are left out and counted in a warning). The RI-CLPM
is fitted by :func:`allianceStats.fit_riclpm` (ML, FIML for missing waves).

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

from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np
import pandas as pd
import xarray as xr
from scipy import stats

from ..errors import AllianceStatsError
from ..results import Convergence, Provenance, make_provenance
from .intervals import monte_carlo_coefficients, percentile_interval
from .observed import EFFECT_COLUMNS


@dataclass(frozen=True)
class WaveMediationResult:
    """Within-person indirect effect across waves.

    Attributes
    ----------
    effects : ``effect, estimate, std_error, ci_lower, ci_upper, p_value`` for the indirect effect
        ``x[t-2] -> m[t-1] -> y[t]``, the other lag-2 routes, and the total lag-2 effect of x on y.
    paths : the lagged paths used (label, estimate, std_error).
    draws : xarray Dataset ``effects`` (dims ``draw, effect``) of the Monte Carlo draws (``ci="monte_carlo"``).
    panel : the fitted :class:`allianceStats.panel.PanelResult` (RI-CLPM) with its lavaan syntax.
    level, ci_method, convergence, provenance.
    """

    effects: pd.DataFrame
    paths: pd.DataFrame
    draws: xr.Dataset | None
    panel: Any
    level: float
    ci_method: str
    convergence: Convergence
    provenance: Provenance

    def summary(self) -> str:
        """Plain-text summary: the effects and the lagged paths they are built from."""
        fmt = "{:.4f}".format
        return (f"Within-person mediation across waves (RI-CLPM, lagged paths equal over waves; "
                f"{self.panel.n_obs[0]} clients, waves {list(self.panel.waves)})\n"
                f"{100 * self.level:g}% intervals: {self.ci_method}; converged: {self.convergence.converged}\n\n"
                + self.effects.to_string(index=False, float_format=fmt) + "\n\nLagged paths\n"
                + self.paths.to_string(index=False, float_format=fmt))

    def __repr__(self) -> str:
        return self.summary()


def wave_mediation(data: pd.DataFrame, x: str, m: str, y: str, *, client: str = "client",
                   wave: str = "session", waves: Sequence | None = None, ci: str = "monte_carlo",
                   n_draws: int = 20000, n_boot: int = 1000, level: float = 0.95, seed: int | None = None,
                   missing: str = "fiml") -> WaveMediationResult:
    """Within-person indirect effect ``x[t-2] -> m[t-1] -> y[t]`` from a three-variable RI-CLPM.

    Fits ``fit_riclpm(data, [x, m, y], constraints="lagged")`` (Hamaker et al. 2015; lagged paths equal over
    waves) and reports ``B[m, x] * B[y, m]`` (Cole & Maxwell 2003), the remaining lag-2 routes and the total
    lag-2 effect ``(B^2)[y, x]``, with delta-method standard errors (MacKinnon 2008) and ``ci="monte_carlo"``
    (Selig & Preacher 2008), ``ci="delta"`` (Wald) or ``ci="bootstrap"`` intervals. The bootstrap resamples
    clients (``n_boot`` times) and refits the RI-CLPM by FIML each time — a loop of full fits, about 0.2 s each
    for three variables and five waves, so 1,000 resamples take minutes.

    Parameters
    ----------
    data : long session data (one row per client and wave); never modified. Missing waves are handled by FIML.
    waves : waves to use (default: all present); at least three are needed for a lag-2 effect.
    seed : seed of the Monte Carlo draws (recorded in ``provenance``).

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
    >>> res = als.wave_mediation(long, "x", "m", "y", seed=1)
    >>> res.effects["effect"].tolist()[0]
    'x[t-2] -> m[t-1] -> y[t]'
    >>> bool(res.effects.loc[0, "ci_lower"] > 0)
    True
    """
    from ..panel import fit_riclpm  # mediation -> panel -> sem (docs/design.md data flow)

    if ci not in ("monte_carlo", "delta", "bootstrap"):
        raise AllianceStatsError(f"wave_mediation(): ci={ci!r} is not one of ['monte_carlo', 'delta', 'bootstrap'].")
    if ci == "bootstrap" and not (isinstance(n_boot, int | np.integer) and n_boot >= 50):
        raise AllianceStatsError(f"wave_mediation(): n_boot={n_boot!r}: at least 50 bootstrap resamples are needed.")
    if len({x, m, y}) < 3:
        raise AllianceStatsError(f"wave_mediation(): x, m and y must be three different columns; got {x!r}, "
                                 f"{m!r}, {y!r}.")
    if not (isinstance(level, float | int) and 0.0 < level < 1.0):
        raise AllianceStatsError(f"wave_mediation(): level={level!r} must be a number strictly between 0 and 1.")
    if not (isinstance(n_draws, int | np.integer) and n_draws >= 100):
        raise AllianceStatsError(f"wave_mediation(): n_draws={n_draws!r}: at least 100 Monte Carlo draws are needed.")
    panel = fit_riclpm(data, [x, m, y], client=client, wave=wave, waves=waves, constraints="lagged",
                       missing=missing)
    if len(panel.waves) < 3:
        raise AllianceStatsError(f"wave_mediation(): {len(panel.waves)} waves; a lag-2 indirect effect needs at "
                                 "least three.")
    lagged = pd.concat([panel.cross_lagged, panel.autoregressive], ignore_index=True)
    first = lagged.drop_duplicates(["outcome", "predictor"]).set_index(["outcome", "predictor"])
    routes = {"a": (m, x), "b": (y, m), "c": (y, x), "ax": (x, x), "ay": (y, y)}
    labels = {k: first.loc[key, "label"] for k, key in routes.items()}
    table = panel.sem.partable
    free = {k: int(table.loc[table["label"] == lbl, "free"].iloc[0]) for k, lbl in labels.items()}
    est = np.array([first.loc[routes[k], "estimate"] for k in routes])
    idx = [free[k] - 1 for k in routes]
    vcov = panel.sem.vcov.to_numpy()[np.ix_(idx, idx)]

    def effects_of(p):  # p columns: a, b, c, ax, ay
        a, b, c, ax, ay = (p[:, i] for i in range(5))
        return np.column_stack([a * b, c * ax + ay * c, c * ax + a * b + ay * c])

    names = [f"{x}[t-2] -> {m}[t-1] -> {y}[t]", f"{x}[t-2] -> {y}[t], other routes", f"{x}[t-2] -> {y}[t], total"]
    estimate = effects_of(est[None])[0]
    a, b, c, ax, ay = est
    jac = np.array([[b, a, 0, 0, 0], [0, 0, ax + ay, c, c], [b, a, ax + ay, c, c]])
    se = np.sqrt(np.einsum("ij,jk,ik->i", jac, vcov, jac))
    draws = None
    if seed is None:
        seed = int(np.random.SeedSequence().entropy % (2 ** 63))
    if ci == "monte_carlo":
        sample = effects_of(monte_carlo_coefficients(est, vcov, n_draws, np.random.default_rng(seed)))
        lower, upper = percentile_interval(sample, level)
        draws = xr.Dataset({"effects": (("draw", "effect"), sample)},
                           coords={"draw": np.arange(n_draws), "effect": names},
                           attrs={"method": "monte_carlo", "seed": seed})
    elif ci == "bootstrap":
        sample = _bootstrap(panel, [x, m, y], routes, effects_of, n_boot, np.random.default_rng(seed), missing)
        lower, upper = percentile_interval(sample, level)
        draws = xr.Dataset({"effects": (("draw", "effect"), sample)},
                           coords={"draw": np.arange(len(sample)), "effect": names},
                           attrs={"method": "bootstrap", "seed": seed, "n_boot": n_boot})
    else:
        zc = stats.norm.ppf(0.5 + level / 2)
        lower, upper = estimate - zc * se, estimate + zc * se
    effects = pd.DataFrame({"effect": names, "estimate": estimate, "std_error": se, "ci_lower": lower,
                            "ci_upper": upper, "p_value": 2 * stats.norm.sf(np.abs(estimate / se))})
    paths = pd.DataFrame({"label": [labels[k] for k in routes], "outcome": [routes[k][0] for k in routes],
                          "predictor": [routes[k][1] for k in routes], "estimate": est,
                          "std_error": np.sqrt(np.diag(vcov))})
    options = {"x": x, "m": m, "y": y, "client": client, "wave": wave, "waves": list(panel.waves), "ci": ci,
               "n_draws": n_draws, "n_boot": n_boot, "level": level, "missing": missing}
    return WaveMediationResult(effects=effects[EFFECT_COLUMNS], paths=paths, draws=draws, panel=panel,
                               level=float(level), ci_method=ci, convergence=panel.convergence,
                               provenance=make_provenance(data, options=options, seed=seed))


def _bootstrap(panel, variables, routes, effects_of, n_boot, rng, missing):
    """Client bootstrap of the lag-2 effects: resample rows of the fitted wide table, refit, recompute."""
    import warnings

    from ..errors import ConvergenceWarning
    from ..panel import fit_riclpm

    wide = panel.data.drop(columns=[c for c in panel.data.columns if c == "client"])
    out, failed = [], 0
    for _ in range(n_boot):
        boot = wide.iloc[rng.integers(0, len(wide), len(wide))].reset_index(drop=True)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            try:
                refit = fit_riclpm(boot, variables, wide=True, waves=panel.waves, constraints="lagged",
                                   missing=missing)
            except AllianceStatsError:
                failed += 1
                continue
        if not refit.convergence.converged or any(issubclass(w.category, ConvergenceWarning) for w in caught):
            failed += 1
            continue
        lagged = pd.concat([refit.cross_lagged, refit.autoregressive], ignore_index=True)
        first = lagged.drop_duplicates(["outcome", "predictor"]).set_index(["outcome", "predictor"])
        out.append([first.loc[routes[k], "estimate"] for k in routes])
    if failed:
        warnings.warn(f"wave_mediation(): {failed} of {n_boot} bootstrap resamples did not converge and were left "
                      "out of the interval.", ConvergenceWarning, stacklevel=3)
    if len(out) < 50:
        raise AllianceStatsError(f"wave_mediation(): only {len(out)} of {n_boot} bootstrap refits converged; "
                                 "use ci='monte_carlo' or more clients.")
    return effects_of(np.asarray(out))
