"""Fitting the cross-lagged panel family on the SEM engine: CLPM, RI-CLPM (with extensions) and the DPM.

Pipeline (one function per model, one engine): long session data -> one row per client with columns
``<variable>_<wave>`` (:func:`allianceStats.panel.reshape.panel_wide`; clients with missing waves keep
their row) -> lavaan syntax from :mod:`allianceStats.panel.syntax` -> :func:`allianceStats.fit_sem` with
``defaults="none"`` (``lavaan::lavaan()``: only what is written) and FIML by default (lavaan's
``missing = "ml"``) -> a :class:`PanelResult` with tidy ``cross_lagged`` and ``autoregressive`` tables.

Why the RI-CLPM (Hamaker, Kuiper & Grasman, 2015): the CLPM's lagged paths mix stable between-client
differences (a client who has a strong alliance and good outcomes throughout) with within-client
carry-over (a better-than-usual alliance this session followed by a better-than-usual outcome next
session). The random intercepts take out the stable part, so the RI-CLPM's cross-lagged paths are
within-client effects, the mechanism question (docs/design.md, Q1/Q2).

CLPM vs RI-CLPM (:func:`compare_panel`): the CLPM is the RI-CLPM with the random-intercept variances and
covariances fixed to 0. Variances fixed at 0 lie on the boundary of the parameter space, so the usual
χ²-difference test is conservative; its null distribution is a mixture of χ² distributions (the
chi-bar-square; Stoel, Garre, Dolan & van den Wittenboer, 2006). We report both p-values; the mixture
assumes asymptotically independent variance estimates (weights binomial(k, 1/2) for k random intercepts).

The DPM (:func:`fit_dpm`; Allison, Williams & Moral-Benito, 2017) treats the client effect as a fixed
effect (free to correlate with the predictors and the first outcome) and the predictors as predetermined.

References
----------
Hamaker, Kuiper & Grasman (2015), *Psychological Methods* 20(1), 102-116. Mulder & Hamaker (2021),
*Structural Equation Modeling* 28(4), 638-648. Allison, Williams & Moral-Benito (2017), *Socius* 3.
Stoel, Garre, Dolan & van den Wittenboer (2006), *Psychological Methods* 11(4), 439-455. Falkenström,
Finkel, Sandell, Rubel & Holmqvist (2017), *Journal of Consulting and Clinical Psychology* 85(3), 218-232.
"""
from __future__ import annotations

import re
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from ..errors import AllianceStatsError, DataWarning, SchemaError
from ..results import Convergence, Provenance
from ..data.reshape import to_wide
from .syntax import (_indicator_columns, _predictor_names, _variables, clpm_syntax, dpm_syntax,
                     observed_columns, resolve_waves, riclpm_syntax)

PATH_COLUMNS = ["group", "outcome", "predictor", "wave_from", "wave_to", "lhs", "op", "rhs", "label",
                "estimate", "std_error", "statistic", "p_value", "ci_lower", "ci_upper", "std_all"]


@dataclass(frozen=True)
class PanelResult:
    """A fitted panel model: the SEM fit plus tidy lagged-effect tables.

    Attributes
    ----------
    model : ``"RI-CLPM"``, ``"CLPM"`` or ``"DPM"``.
    variables, waves : the time-varying variables and the waves, in order.
    syntax : lavaan syntax of the model; ``lavaan(syntax, data, missing = "ml", meanstructure = TRUE)``
        reproduces the fit in R (:meth:`to_lavaan`, :meth:`r_call`).
    params : every parameter (``lhs, op, rhs, label, group, estimate, std_error, statistic, p_value,
        ci_lower, ci_upper, std_all``), named as in lavaan; confidence level in :attr:`level`.
    fit : fit measures (``chisq, df, pvalue, cfi, tli, rmsea, srmr, loglik, aic, bic, npar`` ...).
    cross_lagged, autoregressive : one row per lagged path: ``group, outcome, predictor, wave_from,
        wave_to`` and the parameter columns; ``std_all`` is the standardized path for diagrams.
    sem : the underlying :class:`allianceStats.sem.SEMResult`.
    data : the wide table that was fitted (one row per client).
    spec : the model options (constraints, predictors, groups, ...) the syntax was built from.
    """

    model: str
    variables: tuple[str, ...]
    waves: tuple
    syntax: str
    params: pd.DataFrame
    fit: pd.Series
    cross_lagged: pd.DataFrame
    autoregressive: pd.DataFrame
    sem: Any = field(repr=False)
    data: pd.DataFrame = field(repr=False)
    group: str | None = None
    convergence: Convergence | None = None
    provenance: Provenance | None = None
    spec: dict = field(default_factory=dict)

    # what allianceStats.compare / compare_sem read from a fit
    @property
    def n_obs(self) -> tuple[int, ...]:
        return self.sem.n_obs

    @property
    def options(self) -> dict:
        return self.sem.options

    @property
    def level(self) -> float:
        """Confidence level of ``ci_lower`` / ``ci_upper``."""
        return float(self.params.attrs.get("level", 0.95))

    def to_lavaan(self) -> str:
        """lavaan syntax of this model (fit it with :meth:`r_call` to reproduce the numbers in R)."""
        return self.syntax

    def r_call(self, data_name: str = "data") -> str:
        """The R call that refits :meth:`to_lavaan` on a wide data frame named ``data_name``."""
        missing = "ml" if self.options.get("missing") == "fiml" else "listwise"
        grp = f', group = "{self.group}"' if self.group else ""
        return (f'lavaan::lavaan(model, data = {data_name}, missing = "{missing}", '
                f'estimator = "{self.options.get("estimator", "ML")}", meanstructure = TRUE{grp})')

    def paths(self) -> pd.DataFrame:
        """Lagged paths averaged over waves, one row per (group, outcome, predictor): for a path diagram.

        Columns ``group, outcome, predictor, kind`` (``autoregressive`` / ``cross-lagged``), ``estimate``
        and ``std_all`` (means over waves; with ``constraints="lagged"`` the raw estimate is the same at
        every wave), ``min_p_value`` and ``n_waves``.
        """
        both = pd.concat([self.autoregressive.assign(kind="autoregressive"),
                          self.cross_lagged.assign(kind="cross-lagged")], ignore_index=True)
        g = both.groupby(["group", "outcome", "predictor", "kind"], sort=False)
        return g.agg(estimate=("estimate", "mean"), std_all=("std_all", "mean"), min_p_value=("p_value", "min"),
                     n_waves=("estimate", "size")).reset_index()

    def summary(self) -> str:
        """Text summary: model, data, fit and the lagged-effect tables."""
        f = self.fit
        cols = ["group", "outcome", "predictor", "wave_from", "wave_to", "estimate", "std_error", "p_value",
                "std_all"]
        lines = [
            f"{self.model} of {', '.join(self.variables)} over waves {', '.join(map(str, self.waves))}",
            f"  clients: {sum(self.n_obs)}; missing = {self.options.get('missing')}; "
            f"converged: {self.sem.convergence.converged}",
            f"  chi-square = {f['chisq']:.3f}, df = {f['df']:.0f}, p = {f['pvalue']:.4f}; CFI = "
            f"{f.get('cfi', np.nan):.3f}, TLI = {f.get('tli', np.nan):.3f}, RMSEA = {f.get('rmsea', np.nan):.3f}, "
            f"SRMR = {f.get('srmr', np.nan):.3f}; log-likelihood = {f['loglik']:.3f} ({f['npar']:.0f} parameters)",
            "", "Cross-lagged effects:", self.cross_lagged[cols].to_string(index=False, float_format="%.4f"),
            "", "Autoregressive effects:", self.autoregressive[cols].to_string(index=False, float_format="%.4f"),
        ]
        return "\n".join(lines)


# ----------------------------------------------------------------------------------------------------
# data


def _infer_waves(columns, names: Sequence[str]) -> tuple:
    found: list[str] | None = None
    for v in names:
        pat = re.compile(rf"^{re.escape(v)}_(.+)$")
        ws = [m.group(1) for c in columns if (m := pat.match(str(c)))]
        found = ws if found is None else [w for w in found if w in ws]
    if not found:
        raise SchemaError([f"no columns named '<variable>_<wave>' for {list(names)}; pass waves= or columns="],
                          source="wide panel data")
    as_int = [int(w) for w in found if w.isdigit()]
    return tuple(sorted(as_int)) if len(as_int) == len(found) else tuple(found)


def _prepare(data: pd.DataFrame, varying: Sequence[str], *, client: str, wave: str, waves, wide: bool,
             static: Sequence[str], columns=None) -> tuple[pd.DataFrame, tuple]:
    """Wide data (one row per client) and the waves; long data are pivoted, wide data copied."""
    if not isinstance(data, pd.DataFrame):
        raise AllianceStatsError(f"data must be a pandas DataFrame, got {type(data).__name__}.")
    if wide:
        if waves is None and columns:
            waves = range(1, len(next(iter(columns.values()))) + 1)  # waves numbered by position
        waves = _infer_waves(data.columns, varying) if waves is None else tuple(waves)
        return data.copy(), resolve_waves(waves)
    out = to_wide(data, varying, client=client, session=wave, waves=waves, keep=static)
    ws = tuple(waves) if waves is not None else tuple(sorted(data[wave].dropna().unique()))
    return out, resolve_waves(tuple(int(w) if isinstance(w, (np.integer,)) else w for w in ws))


def _check_columns(wide: pd.DataFrame, needed: Sequence[str], *, where: str) -> pd.DataFrame:
    if not needed:
        return wide
    missing = [c for c in needed if c not in wide.columns]
    if missing:
        raise SchemaError([f"column {c!r} not found" for c in missing]
                          + [f"the {where} needs these columns; the data have {list(wide.columns)[:20]}"],
                          source="panel data")
    unobserved = [c for c in needed if wide[c].isna().all()]
    if unobserved:
        raise SchemaError([f"column {c!r} has no observed value (no client has this variable at this wave)"
                           for c in unobserved]
                          + ["choose waves that were observed, e.g. waves=range(1, 7), or drop the variable"],
                          source="panel data")
    empty = wide[list(needed)].isna().all(axis=1)
    if empty.any():
        warnings.warn(f"{int(empty.sum())} client row(s) have no observed value on the panel variables and are "
                      "left out (lavaan ignores such empty cases too).", DataWarning, stacklevel=3)
        wide = wide.loc[~empty].reset_index(drop=True)
    return wide


# ----------------------------------------------------------------------------------------------------
# tidy tables


def _path_tables(params: pd.DataFrame, lookup: dict[tuple[str, str], tuple]) -> tuple[pd.DataFrame, pd.DataFrame]:
    reg = params[params["op"] == "~"]
    rows = []
    for r in reg.itertuples(index=False):
        key = lookup.get((r.lhs, r.rhs))
        if key is None:
            continue
        outcome, wave_to, predictor, wave_from = key
        rows.append({"group": r.group, "outcome": outcome, "predictor": predictor, "wave_from": wave_from,
                     "wave_to": wave_to, "lhs": r.lhs, "op": r.op, "rhs": r.rhs, "label": r.label,
                     "estimate": r.estimate, "std_error": r.std_error, "statistic": r.statistic,
                     "p_value": r.p_value, "ci_lower": r.ci_lower, "ci_upper": r.ci_upper, "std_all": r.std_all})
    tab = pd.DataFrame(rows, columns=PATH_COLUMNS)
    auto = tab[tab["outcome"] == tab["predictor"]].reset_index(drop=True)
    cross = tab[tab["outcome"] != tab["predictor"]].reset_index(drop=True)
    for t in (auto, cross):
        t.attrs["level"] = params.attrs.get("level", 0.95)
    return cross, auto


def _lag_lookup(names: dict[str, list[str]], variables, waves) -> dict[tuple[str, str], tuple]:
    return {(names[v][k], names[u][k - 1]): (v, waves[k], u, waves[k - 1])
            for k in range(1, len(waves)) for v in variables for u in variables}


def _fit(model_name, syntax, wide, *, variables, waves, lookup, group, missing,
         estimator, se, n_boot, seed, spec) -> PanelResult:
    from ..sem import fit_sem  # the panel layer sits on the SEM engine (docs/design.md: panel -> sem)

    res = fit_sem(syntax, wide, missing=missing, estimator=estimator, group=group, se=se,
                  defaults="none", n_boot=n_boot, seed=seed)
    params = res.params
    cross, auto = _path_tables(params, lookup)
    return PanelResult(model=model_name, variables=tuple(variables), waves=tuple(waves), syntax=syntax,
                       params=params, fit=res.fit, cross_lagged=cross, autoregressive=auto, sem=res, data=wide,
                       group=group, convergence=res.convergence, provenance=res.provenance, spec=dict(spec))


def _group_count(wide: pd.DataFrame, group: str | None) -> int | None:
    if group is None:
        return None
    if group not in wide.columns:
        raise SchemaError([f"group column {group!r} not found"], source="panel data")
    labels = pd.unique(wide[group].dropna())
    if len(labels) < 2:
        raise AllianceStatsError(f"group column {group!r} has {len(labels)} distinct value(s); a multigroup model "
                                 "needs at least two groups.")
    if wide[group].isna().any():
        raise SchemaError([f"group column {group!r} is missing for {int(wide[group].isna().sum())} client(s); "
                           "drop them or assign a group"], source="panel data")
    return len(labels)


# ----------------------------------------------------------------------------------------------------
# public fit functions


def fit_riclpm(data: pd.DataFrame, variables: Sequence[str], *, client: str = "client", wave: str = "session",
               waves: Sequence | None = None, wide: bool = False,
               columns: Mapping[str, Sequence] | None = None, constraints: str | None = None,
               predictors: Sequence[str] | str | None = None, predictors_on: str = "observed",
               group: str | None = None, group_equal: Sequence[str] | str = (), equal_means: bool = False,
               indicators: Mapping[str, Sequence[str]] | None = None, invariance: str = "configural",
               between: str = "indicator", ri_variances: str = "free", missing: str = "fiml",
               estimator: str = "ML", se: str = "standard", n_boot: int = 1000,
               seed: int | None = None) -> PanelResult:
    """Fit the random-intercept cross-lagged panel model (RI-CLPM) for two or more variables.

    Model (Hamaker, Kuiper & Grasman, 2015; specification and extensions of Mulder & Hamaker, 2021):
    ``v_t = mu_vt + RI_v + w_v_t`` with random intercepts ``RI_v`` (stable between-client differences)
    and within components ``w_v_t`` regressed on all within components of the previous wave; see
    :func:`allianceStats.panel.riclpm_syntax` for every parameter and the options ``constraints``,
    ``predictors``/``predictors_on`` (extension 1), ``group``/``group_equal`` (extension 2),
    ``indicators``/``invariance``/``between`` (extension 3), ``equal_means`` and ``ri_variances``.
    Fitted by ML with FIML for missing waves (``missing="fiml"``, lavaan's ``missing = "ml"``) as
    ``lavaan::lavaan(syntax, data, missing = "ml", meanstructure = TRUE)``; validated against lavaan 0.6.14.

    Parameters
    ----------
    data
        Long session data (one row per client and wave; columns ``client``, ``wave`` and the variables), or
        wide data (``wide=True``: one row per client, columns ``<variable>_<wave>`` or ``columns=``).
        Clients with missing waves are kept (FIML). Never modified.
    variables
        Two or more time-varying variables, e.g. ``["alliance", "needs", "motivation", "outcome"]``.
    waves
        Waves to use (default: all present). With long data these are values of ``wave``.
    group
        Column with the group of each client (constant within client): a multigroup model.
    missing, estimator, se, n_boot, seed
        Passed to :func:`allianceStats.fit_sem`.

    Returns
    -------
    :class:`PanelResult`: ``cross_lagged`` holds the row ``w_alliance_3 ~ w_outcome_2`` as outcome
    ``alliance`` (wave 3) on predictor ``outcome`` (wave 2).

    Example
    -------
    >>> import numpy as np, pandas as pd
    >>> import allianceStats as als
    >>> rng = np.random.default_rng(1)
    >>> n, T = 300, 4
    >>> ri = rng.normal(size=(n, 2)) * 0.5
    >>> w = np.zeros((n, 2, T)); w[:, :, 0] = rng.normal(size=(n, 2))
    >>> for t in range(1, T):
    ...     w[:, :, t] = w[:, :, t - 1] @ np.array([[0.4, 0.2], [0.0, 0.3]]) + rng.normal(size=(n, 2))
    >>> long = pd.DataFrame([{"client": i, "session": t + 1, "alliance": 3 + ri[i, 0] + w[i, 0, t],
    ...                       "outcome": 50 + ri[i, 1] + w[i, 1, t]} for i in range(n) for t in range(T)])
    >>> res = als.fit_riclpm(long, ["alliance", "outcome"], constraints="lagged")
    >>> row = res.cross_lagged.query("outcome == 'outcome'").iloc[0]
    >>> print(row["lhs"], "~", row["rhs"], round(row["estimate"], 1))
    w_outcome_2 ~ w_alliance_1 0.2
    """
    variables = _variables(variables)
    zs = _predictor_names(predictors)
    static = [*zs, *([group] if group else [])]
    if indicators is not None:
        items = [i for v in variables for i in indicators.get(v, ())]
        wide_df, ws = _prepare(data, items, client=client, wave=wave, waves=waves, wide=wide, static=static,
                               columns=columns)
        cols_nested = _indicator_columns(variables, ws, indicators, columns)
        needed = [c for v in variables for cs in cols_nested[v] for c in cs]
        names = {v: [f"w_{v}_{w}" for w in ws] for v in variables}
    else:
        wide_df, ws = _prepare(data, variables, client=client, wave=wave, waves=waves, wide=wide, static=static,
                               columns=columns)
        cols = observed_columns(variables, ws, columns)
        needed = [c for v in variables for c in cols[v]]
        names = {v: [f"w_{c}" for c in cols[v]] for v in variables}
    wide_df = _check_columns(wide_df, [*needed], where="RI-CLPM")
    _check_columns(wide_df, zs, where="RI-CLPM predictors")
    n_groups = _group_count(wide_df, group)
    syntax = riclpm_syntax(variables, ws, constraints=constraints, predictors=zs or None,
                           predictors_on=predictors_on, indicators=indicators, invariance=invariance,
                           between=between, groups=n_groups, group_equal=group_equal, equal_means=equal_means,
                           ri_variances=ri_variances, columns=columns)
    spec = dict(constraints=constraints, predictors=tuple(zs), predictors_on=predictors_on, group=group,
                group_equal=group_equal, equal_means=equal_means, indicators=indicators, invariance=invariance,
                between=between, ri_variances=ri_variances)
    return _fit("RI-CLPM", syntax, wide_df, variables=variables, waves=ws,
                lookup=_lag_lookup(names, variables, ws), group=group, missing=missing,
                estimator=estimator, se=se, n_boot=n_boot, seed=seed, spec=spec)


def fit_clpm(data: pd.DataFrame, variables: Sequence[str], *, client: str = "client", wave: str = "session",
             waves: Sequence | None = None, wide: bool = False, columns: Mapping[str, Sequence[str]] | None = None,
             constraints: str | None = None, predictors: Sequence[str] | str | None = None,
             group: str | None = None, group_equal: Sequence[str] | str = (), equal_means: bool = False,
             missing: str = "fiml", estimator: str = "ML", se: str = "standard", n_boot: int = 1000,
             seed: int | None = None) -> PanelResult:
    """Fit the cross-lagged panel model (CLPM) for two or more variables.

    Model: each observed ``v_t`` (t >= 2) regressed on every variable at ``t - 1``, wave-1 (co)variances
    and within-wave residual covariances free, free intercepts (the CLPM of Mulder & Hamaker, 2021;
    :func:`allianceStats.panel.clpm_syntax`). It has no random intercepts, so stable between-client
    differences load onto the lagged paths (Hamaker, Kuiper & Grasman, 2015); compare it with the RI-CLPM
    with :func:`compare_panel`. Parameters and fitting as in :func:`fit_riclpm`. Rows are named as in
    lavaan on the observed columns: the effect of outcome at wave 2 on alliance at wave 3 is
    ``alliance_3 ~ outcome_2``.

    Example
    -------
    >>> import numpy as np, pandas as pd
    >>> import allianceStats as als
    >>> rng = np.random.default_rng(2)
    >>> x = rng.normal(size=(250, 3)).cumsum(axis=1); y = rng.normal(size=(250, 3)) + 0.5 * x
    >>> wide = pd.DataFrame({**{f"x_{t + 1}": x[:, t] for t in range(3)}, **{f"y_{t + 1}": y[:, t] for t in range(3)}})
    >>> res = als.fit_clpm(wide, ["x", "y"], wide=True)
    >>> int(res.fit["df"]), res.autoregressive["lhs"].tolist()[:2]
    (4, ['x_2', 'y_2'])
    """
    variables = _variables(variables)
    zs = _predictor_names(predictors)
    static = [*zs, *([group] if group else [])]
    wide_df, ws = _prepare(data, variables, client=client, wave=wave, waves=waves, wide=wide, static=static,
                               columns=columns)
    cols = observed_columns(variables, ws, columns)
    wide_df = _check_columns(wide_df, [c for v in variables for c in cols[v]], where="CLPM")
    _check_columns(wide_df, zs, where="CLPM predictors")
    n_groups = _group_count(wide_df, group)
    syntax = clpm_syntax(variables, ws, constraints=constraints, predictors=zs or None, groups=n_groups,
                         group_equal=group_equal, equal_means=equal_means, columns=columns)
    # wave-1 variables are exogenous with written (co)variances: fit_sem switches fixed.x off, as lavaan does
    spec = dict(constraints=constraints, predictors=tuple(zs), group=group, group_equal=group_equal,
                equal_means=equal_means)
    return _fit("CLPM", syntax, wide_df, variables=variables, waves=ws,
                lookup=_lag_lookup(cols, variables, ws), group=group, missing=missing,
                estimator=estimator, se=se, n_boot=n_boot, seed=seed, spec=spec)


def fit_dpm(data: pd.DataFrame, y: str, x: Sequence[str] | str, *, client: str = "client",
            wave: str = "session", waves: Sequence | None = None, wide: bool = False,
            columns: Mapping[str, Sequence[str]] | None = None, predetermined: bool = True,
            error_invariance: bool = False, missing: str = "fiml", estimator: str = "ML", se: str = "standard",
            n_boot: int = 1000, seed: int | None = None) -> PanelResult:
    """Fit the ML-SEM dynamic panel model with fixed effects (Allison, Williams & Moral-Benito, 2017).

    Model: ``y_t = mu_t + rho*y_(t-1) + sum_x beta_x*x_(t-1) + FE_y + e_t`` (t >= 2): a latent fixed effect
    ``FE_y`` free to correlate with ``y_1`` and every ``x`` (so stable client differences cannot bias the
    lagged effects), ``rho`` and ``beta`` equal over time, and ``x`` predetermined (``x_t`` may covary with
    earlier residuals: reverse causation from outcome to later alliance is allowed). This is the
    specification of Stata's ``xtdpdml`` and R's ``dpm``; Falkenström et al. (2017) recommend it for
    session-level alliance-outcome data with a lagged outcome. See :func:`allianceStats.panel.dpm_syntax`.

    Returns a :class:`PanelResult`: ``autoregressive`` holds ``rho`` (label ``rho``) at each wave and
    ``cross_lagged`` the ``beta`` of each predictor (label ``beta_<x>``); with the constraints they repeat.

    Example
    -------
    >>> import numpy as np, pandas as pd
    >>> import allianceStats as als
    >>> rng = np.random.default_rng(3)
    >>> n, T = 400, 5
    >>> fe = rng.normal(size=n); x = rng.normal(size=(n, T)) + 0.5 * fe[:, None]; y = np.zeros((n, T))
    >>> y[:, 0] = fe + rng.normal(size=n)
    >>> for t in range(1, T):
    ...     y[:, t] = 0.3 * y[:, t - 1] + 0.4 * x[:, t - 1] + fe + rng.normal(size=n)
    >>> long = pd.DataFrame([{"client": i, "session": t + 1, "outcome": y[i, t], "alliance": x[i, t]}
    ...                      for i in range(n) for t in range(T)])
    >>> res = als.fit_dpm(long, "outcome", "alliance")
    >>> print(round(res.cross_lagged["estimate"].iloc[0], 1), round(res.autoregressive["estimate"].iloc[0], 1))
    0.4 0.3
    """
    xs = [x] if isinstance(x, str) else list(x)
    wide_df, ws = _prepare(data, [y, *xs], client=client, wave=wave, waves=waves, wide=wide, static=(),
                           columns=columns)
    syntax = dpm_syntax(y, xs, ws, predetermined=predetermined, error_invariance=error_invariance, columns=columns)
    cols = observed_columns([y, *xs], ws, columns)
    T = len(ws)
    needed = [*cols[y], *[c for v in xs for c in cols[v][:T - 1]]]
    wide_df = _check_columns(wide_df, needed, where="dynamic panel model")
    lookup = {(cols[y][k], cols[u][k - 1]): (y, ws[k], u, ws[k - 1]) for k in range(1, T) for u in [y, *xs]}
    return _fit("DPM", syntax, wide_df, variables=[y, *xs], waves=ws,
                lookup=lookup, group=None, missing=missing, estimator=estimator, se=se,
                n_boot=n_boot, seed=seed, spec=dict(predetermined=predetermined, error_invariance=error_invariance))


# ----------------------------------------------------------------------------------------------------
# comparison


def compare_panel(*fits: PanelResult, names: Sequence[str] | None = None) -> pd.DataFrame:
    """χ²-difference tests of nested panel models, with the boundary-corrected p-value for CLPM vs RI-CLPM.

    Fits are ordered by df (least restricted first) and each is tested against the row above, as
    :func:`allianceStats.sem.compare_sem` does (lavaan's ``anova``). When a CLPM is tested against an
    RI-CLPM of the same variables, the k random-intercept variances are 0 under the null hypothesis, on the
    boundary of the parameter space: the naive χ² p-value (``p_value``) is then conservative. (This applies
    when the two models differ only by the random intercepts: same variables, constraints, predictors and
    groups; otherwise ``p_value_chibar`` is NaN.) ``p_value_chibar``
    is the chi-bar-square p-value of Stoel et al. (2006): a mixture of χ² with ``df_diff - k + j`` degrees of
    freedom, ``j = 0..k``, with weights binomial(k, 1/2) (exact when the variance estimates are
    asymptotically independent; otherwise an approximation between the naive test and a χ²(df_diff - k)).

    Example
    -------
    >>> import numpy as np, pandas as pd
    >>> import allianceStats as als
    >>> rng = np.random.default_rng(4)
    >>> ri = rng.normal(size=(300, 1)); z = rng.normal(size=(300, 2, 4)).cumsum(axis=2) * 0.3
    >>> wide = pd.DataFrame({f"{v}_{t + 1}": ri[:, 0] + z[:, i, t] + rng.normal(size=300)
    ...                      for i, v in enumerate("xy") for t in range(4)})
    >>> table = compare_panel(als.fit_clpm(wide, ["x", "y"], wide=True), als.fit_riclpm(wide, ["x", "y"], wide=True))
    >>> table[["model", "df_diff"]].to_string(index=False).split()[-2:]
    ['CLPM', '3.0']
    >>> bool(table["p_value_chibar"].iloc[1] <= table["p_value"].iloc[1])
    True
    """
    from ..sem import compare_sem

    if names is None:
        names = [f.model for f in fits]
    table = compare_sem(*fits, names=names).copy()
    order = sorted(range(len(fits)), key=lambda i: fits[i].fit["df"])
    chibar = [np.nan] * len(fits)
    notes = [""] * len(fits)
    for row in range(1, len(order)):
        upper, lower = fits[order[row - 1]], fits[order[row]]
        shared = ("constraints", "predictors", "group", "group_equal", "equal_means")
        same_spec = all(lower.spec.get(k) == upper.spec.get(k) for k in shared) \
            and upper.spec.get("indicators") is None and upper.spec.get("ri_variances") == "free"
        if lower.model == "CLPM" and upper.model == "RI-CLPM" and set(lower.variables) == set(upper.variables) \
                and same_spec:
            k = len(upper.variables)
            diff, ddf = table.loc[row, "chisq_diff"], int(table.loc[row, "df_diff"])
            weights = stats.binom.pmf(np.arange(k + 1), k, 0.5)
            dfs = ddf - k + np.arange(k + 1)
            chibar[row] = float(sum(w * (stats.chi2.sf(diff, d) if d > 0 else float(diff <= 0))
                                    for w, d in zip(weights, dfs)))
            notes[row] = (f"random-intercept variances on the boundary under H0: the naive p is conservative; "
                          f"p_value_chibar is the chi-bar-square mixture (Stoel et al. 2006) with {k} variances")
    table["p_value_chibar"] = chibar
    table["note"] = notes
    return table


__all__ = ["PanelResult", "fit_riclpm", "fit_clpm", "fit_dpm", "compare_panel"]
