"""Fitting the cross-lagged panel family on the SEM engine: CLPM, RI-CLPM (with extensions) and the DPM.

Pipeline (one function per model, one engine): long session data -> one row per client with columns
``<variable>_<session>`` (:func:`allianceStats.to_wide`; clients with missing sessions keep their row) ->
lavaan syntax from :mod:`allianceStats.panel.syntax` -> :func:`allianceStats.fit_sem` with
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

Example
-------
>>> import allianceStats as als
>>> res = als.fit_riclpm(als.load_example(), ["alliance", "outcome"], waves=range(1, 5), constraints="lagged")
>>> res.model, res.n_obs == res.data.shape[0], res.provenance.function
('RI-CLPM', True, 'fit_riclpm')
"""
from __future__ import annotations

import dataclasses
import re
import time
from collections.abc import Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from .._deprecation import renamed_arguments
from ..comparison import ComparisonResult
from ..data.checks import check_bool, require_columns, require_frame
from ..data.reshape import session_label, to_wide
from ..errors import ConvergenceWarning, DataWarning, OptionError, SchemaError
from ..results import Convergence, Provenance, ResultDisplay, make_provenance
from ..sem._messages import warn
from ..sem.result import PATH_COLUMNS, SEMResult, deprecated_attribute
from .syntax import (
    _indicator_columns,
    _predictor_names,
    _variables,
    clpm_syntax,
    dpm_syntax,
    observed_columns,
    resolve_waves,
    riclpm_syntax,
    x_then_y,
)

LAGGED_COLUMNS = ["group", "outcome", "predictor", "wave_from", "wave_to", "lhs", "op", "rhs", "label",
                  "estimate", "std_error", "statistic", "p_value", "ci_lower", "ci_upper", "std_all"]
"""Columns of ``PanelResult.cross_lagged`` and ``PanelResult.autoregressive``."""

PANEL_PATH_COLUMNS = [*PATH_COLUMNS, "group", "kind", "outcome", "predictor", "wave_from", "wave_to", "std_all"]
"""Columns of ``PanelResult.paths``: the package's paths schema, then the panel's own columns."""


@dataclass(frozen=True, repr=False)
class PanelResult(ResultDisplay):
    """A fitted panel model: the SEM fit plus tidy lagged-effect tables (the result protocol of
    :class:`allianceStats.results.Result`).

    Attributes
    ----------
    model : str
        ``"RI-CLPM"``, ``"CLPM"`` or ``"DPM"``.
    variables, waves : tuple
        The time-varying variables and the waves (session numbers), in order.
    syntax : str
        lavaan syntax of the model; ``lavaan(syntax, data, missing = "ml", meanstructure = TRUE)`` reproduces
        the fit in R (:meth:`to_lavaan`, :meth:`r_call`).
    params : DataFrame
        Every parameter (``lhs, op, rhs, label, group, estimate, std_error, statistic, p_value, ci_lower,
        ci_upper, std_all``), named as in lavaan; intervals at :attr:`conf_level`.
    fit : Series
        Fit measures (``chisq, df, pvalue, cfi, tli, rmsea, srmr, loglik, aic, bic, npar`` ...).
    cross_lagged, autoregressive : DataFrame
        One row per lagged path, columns :data:`LAGGED_COLUMNS`: ``group, outcome, predictor, wave_from,
        wave_to`` and the parameter columns; ``std_all`` is the standardized path for diagrams.
    sem : SEMResult
        The underlying SEM fit.
    data : DataFrame
        The wide table that was fitted (one row per client).
    convergence, provenance
        How the optimiser ended (``converged`` is also False for a model that is not identified: df < 0 or a
        singular information matrix; the message says so); where the result came from
        (``provenance.function`` is ``"fit_riclpm"`` etc., the data hash is of the table passed in).
    group : str, optional
        The group column of a multigroup model.
    spec : dict
        The model options (constraints, predictors, groups, ...) the syntax was built from.

    Properties: ``n_obs`` (clients used), ``n_obs_by_group``, ``conf_level``, ``converged``, ``options`` (of the
    SEM fit), ``paths`` (every lagged path, the paths schema).

    Examples
    --------
    >>> import allianceStats as als
    >>> res = als.fit_clpm(als.load_example(), ["alliance", "outcome"], waves=range(1, 4))
    >>> res.paths.columns[:4].tolist(), sorted(set(res.paths["kind"]))
    (['lhs', 'op', 'rhs', 'label'], ['autoregressive', 'cross-lagged'])
    >>> res.path_summary()[["outcome", "predictor", "kind"]].iloc[0].tolist()
    ['alliance', 'alliance', 'autoregressive']
    """

    model: str
    variables: tuple[str, ...]
    waves: tuple[Hashable, ...]
    syntax: str
    params: pd.DataFrame
    fit: pd.Series
    cross_lagged: pd.DataFrame
    autoregressive: pd.DataFrame
    sem: SEMResult = field(repr=False)
    data: pd.DataFrame = field(repr=False)
    convergence: Convergence
    provenance: Provenance
    group: str | None = None
    spec: dict[str, Any] = field(default_factory=dict)

    @property
    def n_obs(self) -> int:
        """Clients (rows of the wide table) the fit used, all groups together."""
        return self.sem.n_obs

    @property
    def n_obs_by_group(self) -> tuple[int, ...]:
        """Clients used per group (one entry without groups)."""
        return self.sem.n_obs_by_group

    @property
    def conf_level(self) -> float:
        """Level of every interval in ``params``, ``paths``, ``cross_lagged`` and ``autoregressive``."""
        return self.sem.conf_level

    @property
    def options(self) -> dict[str, Any]:
        """Resolved options of the SEM fit (missing, estimator, se, ...)."""
        return self.sem.options

    level = deprecated_attribute("PanelResult", "level", "conf_level")

    @property
    def paths(self) -> pd.DataFrame:
        """Every lagged path, wave by wave: :data:`PANEL_PATH_COLUMNS` (``lhs`` the later variable, ``rhs`` the
        earlier one, as lavaan names them; ``kind`` is ``"autoregressive"`` or ``"cross-lagged"``)."""
        both = pd.concat([self.autoregressive.assign(kind="autoregressive"),
                          self.cross_lagged.assign(kind="cross-lagged")], ignore_index=True)
        both = both.sort_values(["group", "wave_to", "kind"], kind="stable").reset_index(drop=True)
        both.attrs["conf_level"] = self.conf_level
        return both[PANEL_PATH_COLUMNS]

    def path_summary(self) -> pd.DataFrame:
        """Lagged paths averaged over waves, one row per (group, outcome, predictor): for a path diagram.

        Columns ``group, outcome, predictor, kind`` (``autoregressive`` / ``cross-lagged``), ``estimate``
        and ``std_all`` (means over waves; with ``constraints="lagged"`` the raw estimate is the same at
        every wave), ``min_p_value`` and ``n_waves``. (Before 0.2.0 this was the method ``paths()``.)
        """
        both = pd.concat([self.autoregressive.assign(kind="autoregressive"),
                          self.cross_lagged.assign(kind="cross-lagged")], ignore_index=True)
        g = both.groupby(["group", "outcome", "predictor", "kind"], sort=False)
        return g.agg(estimate=("estimate", "mean"), std_all=("std_all", "mean"), min_p_value=("p_value", "min"),
                     n_waves=("estimate", "size")).reset_index()

    def to_lavaan(self) -> str:
        """lavaan syntax of this model (fit it with :meth:`r_call` to reproduce the numbers in R)."""
        return self.syntax

    def r_call(self, data_name: str = "data") -> str:
        """The R call that refits :meth:`to_lavaan` on a wide data frame named ``data_name``."""
        missing = "ml" if self.options.get("missing") == "fiml" else "listwise"
        grp = f', group = "{self.group}"' if self.group else ""
        return (f'lavaan::lavaan(model, data = {data_name}, missing = "{missing}", '
                f'estimator = "{self.options.get("estimator", "ML")}", meanstructure = TRUE{grp})')

    def summary(self) -> str:
        """Text summary: model, data, fit and the lagged-effect tables."""
        f = self.fit
        cols = ["group", "outcome", "predictor", "wave_from", "wave_to", "estimate", "std_error", "p_value",
                "std_all"]
        lines = [
            f"{self.model} of {', '.join(self.variables)} over waves {', '.join(map(str, self.waves))}",
            f"  clients: {self.n_obs}; missing = {self.options.get('missing')}; converged: {self.converged}",
            f"  chi-square = {f['chisq']:.3f}, df = {f['df']:.0f}, p = {f['pvalue']:.4f}; CFI = "
            f"{f.get('cfi', np.nan):.3f}, TLI = {f.get('tli', np.nan):.3f}, RMSEA = {f.get('rmsea', np.nan):.3f}, "
            f"SRMR = {f.get('srmr', np.nan):.3f}; log-likelihood = {f['loglik']:.3f} ({f['npar']:.0f} parameters)",
            f"  {100 * self.conf_level:g}% confidence intervals in params, paths, cross_lagged, autoregressive",
            "", "Cross-lagged effects:", self.cross_lagged[cols].to_string(index=False, float_format="%.4f"),
            "", "Autoregressive effects:", self.autoregressive[cols].to_string(index=False, float_format="%.4f"),
        ]
        lines += [f"  WARNING: {w}" for w in self.convergence.warnings]
        return "\n".join(lines)

    def __repr__(self) -> str:
        state = "converged" if self.converged else "NOT converged"
        return (f"<PanelResult: {self.model} of {', '.join(self.variables)}, {len(self.waves)} waves, "
                f"n = {self.n_obs}, chisq = {self.fit['chisq']:.3f} on {self.fit['df']:.0f} df, {state}>")


# ----------------------------------------------------------------------------------------------------
# data


def _infer_waves(columns: Sequence[Hashable], names: Sequence[str]) -> tuple[Hashable, ...]:
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


def _check_waves(waves: Any) -> None:
    """``waves`` is None or a sequence of session numbers: a number or text is not (``waves=0`` is no
    shorthand for "every wave", and ``waves=6`` would be ambiguous: session 6, or six waves?)."""
    if waves is None:
        return
    if isinstance(waves, str | bytes) or not isinstance(waves, Iterable):
        raise OptionError(f"waves={waves!r} is not a list of session numbers; give the sessions to use as waves, "
                          "e.g. waves=[1, 2, 3] or waves=range(1, 7) (at least 2), or leave waves=None for every "
                          "session in the data")


def _prepare(data: Any, varying: Sequence[str], *, client: str, session: str, waves: Any, wide: bool,
             static: Sequence[str], columns: Mapping[str, Sequence[Any]] | None = None,
             where: str) -> tuple[pd.DataFrame, tuple[Hashable, ...]]:
    """Wide data (one row per client) and the waves; long data are pivoted, wide data copied."""
    data = require_frame(data, where=where)
    _check_waves(waves)
    if waves is not None:
        waves = resolve_waves(tuple(waves))  # at least two, no duplicates (OptionError), before any reshaping
    if check_bool("wide", wide):
        if waves is None and columns:
            waves = range(1, len(next(iter(columns.values()))) + 1)  # waves numbered by position
        waves = _infer_waves(data.columns, varying) if waves is None else tuple(waves)
        return data.copy(), resolve_waves(waves)
    data = require_columns(data, [client, session, *varying, *static], where=where)
    out = to_wide(data, varying, client=client, session=session, waves=waves, keep=static)
    ws = tuple(waves) if waves is not None else tuple(sorted(data[session].dropna().unique()))
    return out, resolve_waves(tuple(session_label(w) for w in ws))


def _usable_rows(wide: pd.DataFrame, needed: Sequence[str], *, where: str) -> pd.DataFrame:
    """The wide table without clients who have no value on the panel columns; a column nobody has is an error."""
    if not needed:
        return wide
    wide = require_columns(wide, needed, where=where)
    unobserved = [c for c in needed if wide[c].isna().all()]
    if unobserved:
        raise SchemaError([f"column {c!r} has no observed value (no client has this variable at this wave); "
                           "choose waves that were observed, e.g. waves=range(1, 7), or drop the variable"
                           for c in unobserved], source=where)
    empty = wide[list(needed)].isna().all(axis=1)
    if empty.any():
        warn(f"{int(empty.sum())} client row(s) have no observed value on the panel variables and are "
             "left out (lavaan ignores such empty cases too).", DataWarning)
        wide = wide.loc[~empty].reset_index(drop=True)
    return wide


def _group_count(wide: pd.DataFrame, group: str | None, *, where: str) -> int | None:
    if group is None:
        return None
    wide = require_columns(wide, [group], where=where)
    problems = []
    if wide[group].isna().any():
        problems.append(f"group column {group!r} is missing for {int(wide[group].isna().sum())} client(s); "
                        "drop them or assign a group")
    labels = pd.unique(wide[group].dropna())
    if len(labels) < 2:
        problems.append(f"group column {group!r} has {len(labels)} distinct value(s); a multigroup model needs at "
                        "least two groups")
    if problems:
        raise SchemaError(problems, source=where)
    return len(labels)


# ----------------------------------------------------------------------------------------------------
# tidy tables


def _path_tables(params: pd.DataFrame, lookup: dict[tuple[str, str], tuple[Any, ...]],
                 conf_level: float) -> tuple[pd.DataFrame, pd.DataFrame]:
    reg = params[params["op"] == "~"]
    rows = []
    for r in reg.itertuples(index=False):
        key = lookup.get((str(r.lhs), str(r.rhs)))
        if key is None:
            continue
        outcome, wave_to, predictor, wave_from = key
        rows.append({"group": r.group, "outcome": outcome, "predictor": predictor, "wave_from": wave_from,
                     "wave_to": wave_to, "lhs": r.lhs, "op": r.op, "rhs": r.rhs, "label": r.label,
                     "estimate": r.estimate, "std_error": r.std_error, "statistic": r.statistic,
                     "p_value": r.p_value, "ci_lower": r.ci_lower, "ci_upper": r.ci_upper, "std_all": r.std_all})
    tab = pd.DataFrame(rows, columns=LAGGED_COLUMNS)
    auto = tab[tab["outcome"] == tab["predictor"]].reset_index(drop=True)
    cross = tab[tab["outcome"] != tab["predictor"]].reset_index(drop=True)
    for t in (auto, cross):
        t.attrs["conf_level"] = conf_level
    return cross, auto


def _lag_lookup(names: dict[str, list[str]], variables: Sequence[str],
                waves: Sequence[Hashable]) -> dict[tuple[str, str], tuple[Any, ...]]:
    return {(names[v][k], names[u][k - 1]): (v, waves[k], u, waves[k - 1])
            for k in range(1, len(waves)) for v in variables for u in variables}


def _fit(function: str, model_name: str, syntax: str, wide: pd.DataFrame, *, data: pd.DataFrame,
         variables: Sequence[str], waves: Sequence[Hashable], lookup: dict[tuple[str, str], tuple[Any, ...]],
         group: str | None, missing: str, estimator: str, se: str, conf_level: float, n_draws: int,
         seed: int | None, spec: dict[str, Any], started: float) -> PanelResult:
    from ..sem import fit_sem  # the panel layer sits on the SEM engine (docs/design.md: panel -> sem)

    res = fit_sem(syntax, wide, missing=missing, estimator=estimator, group=group, se=se, defaults="none",
                  conf_level=conf_level, n_draws=n_draws, seed=seed)
    cross, auto = _path_tables(res.params, lookup, res.conf_level)
    options = {"model": model_name, "variables": list(variables), "waves": list(waves), **spec,
               **{k: v for k, v in res.options.items() if k != "exogenous_fixed_x"}}
    prov = make_provenance(data, options=options, seed=res.provenance.seed, function=function, started=started)
    return PanelResult(model=model_name, variables=tuple(variables), waves=tuple(waves), syntax=syntax,
                       params=res.params, fit=res.fit, cross_lagged=cross, autoregressive=auto, sem=res, data=wide,
                       convergence=_identified(res, model_name, len(waves)), provenance=prov, group=group,
                       spec=dict(spec))


def _identified(res: SEMResult, model_name: str, n_waves: int) -> Convergence:
    """The SEM fit's convergence, with ``converged=False`` when the model is not identified (issue 12).

    Not identified: more free parameters than the data's means and (co)variances (df < 0), or a singular
    information matrix (no standard errors although they were asked for). An optimum of such a model is one
    of many; reporting it as converged, with NaN standard errors, would hide that.
    """
    conv = res.convergence
    df, npar = float(res.fit.get("df", np.nan)), float(res.fit.get("npar", np.nan))
    reasons = []
    if df < 0:
        reasons.append(f"it has {npar:.0f} free parameters but the data give only {npar + df:.0f} means and "
                       f"(co)variances (df = {df:.0f})")
    if res.options.get("se") != "none" and res.vcov is None:
        reasons.append("its information matrix is singular, so no standard errors exist")
    if not reasons:
        return conv
    hint = " An RI-CLPM needs at least 3 waves." if model_name == "RI-CLPM" and n_waves < 3 else ""
    msg = (f"the {model_name} is not identified: " + "; ".join(reasons) + ". Its estimates are one solution of "
           "many and are not reported as converged. Use more waves, add equality constraints "
           "(constraints='lagged'), or simplify the model." + hint)
    warn(msg, ConvergenceWarning)
    return dataclasses.replace(conv, converged=False, message=msg, warnings=(*conv.warnings, msg))


# ----------------------------------------------------------------------------------------------------
# public fit functions


@renamed_arguments(wave="session", n_boot="n_draws")
def fit_riclpm(data: pd.DataFrame, variables: Sequence[str], *, client: str = "client", session: str = "session",
               waves: Sequence[Any] | None = None, wide: bool = False,
               columns: Mapping[str, Sequence[Any]] | None = None, constraints: str | None = None,
               predictors: Sequence[str] | str | None = None, predictors_on: str = "observed",
               group: str | None = None, group_equal: Sequence[str] | str = (), equal_means: bool = False,
               indicators: Mapping[str, Sequence[str]] | None = None, invariance: str = "configural",
               between: str = "indicator", ri_variances: str = "free", missing: str = "fiml",
               estimator: str = "ML", se: str = "standard", conf_level: float = 0.95, n_draws: int = 1000,
               seed: int | None = None) -> PanelResult:
    """Fit the random-intercept cross-lagged panel model (RI-CLPM) for two or more variables.

    Model (Hamaker, Kuiper & Grasman, 2015; specification and extensions of Mulder & Hamaker, 2021):
    ``v_t = mu_vt + RI_v + w_v_t`` with random intercepts ``RI_v`` (stable between-client differences)
    and within components ``w_v_t`` regressed on all within components of the previous wave; see
    :func:`allianceStats.panel.riclpm_syntax` for every parameter and the options ``constraints``,
    ``predictors``/``predictors_on`` (extension 1), ``group``/``group_equal`` (extension 2),
    ``indicators``/``invariance``/``between`` (extension 3), ``equal_means`` and ``ri_variances``.
    Fitted by ML with FIML for missing waves (``missing="fiml"``, lavaan's ``missing = "ml"``) as
    ``lavaan::lavaan(syntax, data, missing = "ml", meanstructure = TRUE)``; validated against lavaan 0.6.14
    (``tests/panel``).

    Parameters
    ----------
    data : DataFrame
        Long session data (one row per client and session; columns ``client``, ``session`` and the variables),
        or wide data (``wide=True``: one row per client, columns ``<variable>_<wave>`` or ``columns=``).
        Clients with missing sessions are kept (FIML). Never modified.
    variables : list of str
        Two or more time-varying variables, e.g. ``["alliance", "needs", "motivation", "outcome"]``.
    group : str, optional
        Column with the group of each client (constant within client): a multigroup model.
    constraints, predictors, predictors_on, group_equal, equal_means, indicators, invariance, between, ri_variances
        The model options of :func:`allianceStats.panel.riclpm_syntax`.
    client, session : str
        Client and session-number columns of long data.
    waves : sequence, optional
        Session numbers to use as the waves, in order, at least two (default None: every session present); a
        single number (``waves=0``, ``waves=6``) is an OptionError. With wide data the wave labels of the
        columns.
    wide : bool
        ``data`` is already one row per client.
    columns : mapping, optional
        Column names of wide data that do not follow ``<variable>_<wave>``, e.g. ``{"x": ["x1", ..., "x5"]}``.
    missing, estimator, se : str
        Passed to :func:`allianceStats.fit_sem` (FIML by default).
    conf_level : float
        Level of the intervals in ``params``, ``paths``, ``cross_lagged`` and ``autoregressive``.
    n_draws, seed : int
        Bootstrap replicates and their seed (``se="bootstrap"``; the seed is recorded in ``provenance``).

    Returns
    -------
    PanelResult
        ``cross_lagged`` holds the row ``w_alliance_3 ~ w_outcome_2`` as outcome ``alliance`` (wave 3) on
        predictor ``outcome`` (wave 2); ``paths`` every lagged path.

    Raises
    ------
    SchemaError
        A column is absent, a client has two rows for one session, a variable is never observed at a wave.
    OptionError
        An option has a value the model does not accept.

    Warns
    -----
    ConvergenceWarning
        The model is not identified (df < 0 or a singular information matrix): ``converged`` is False and
        ``convergence.message`` says why (as for a fit that did not converge).
    DataWarning
        The saturated model has no ML estimate (too few clients for the observed variables): the chi-square
        and the indices built on it are NaN.

    Examples
    --------
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
    >>> res = als.fit_riclpm(long, ["alliance", "outcome"], constraints="lagged", conf_level=0.9)
    >>> row = res.cross_lagged.query("outcome == 'outcome'").iloc[0]
    >>> print(row["lhs"], "~", row["rhs"], round(row["estimate"], 1), res.conf_level, res.n_obs)
    w_outcome_2 ~ w_alliance_1 0.2 0.9 300
    """
    started = time.perf_counter()
    variables = _variables(variables)
    zs = _predictor_names(predictors)
    static = [*zs, *([group] if group else [])]
    where = "fit_riclpm"
    if indicators is not None:
        items = [i for v in variables for i in indicators.get(v, ())]
        wide_df, ws = _prepare(data, items, client=client, session=session, waves=waves, wide=wide, static=static,
                               columns=columns, where=where)
        cols_nested = _indicator_columns(variables, ws, indicators, columns)
        needed = [c for v in variables for cs in cols_nested[v] for c in cs]
        names = {v: [f"w_{v}_{w}" for w in ws] for v in variables}
    else:
        wide_df, ws = _prepare(data, variables, client=client, session=session, waves=waves, wide=wide,
                               static=static, columns=columns, where=where)
        cols = observed_columns(variables, ws, columns)
        needed = [c for v in variables for c in cols[v]]
        names = {v: [f"w_{c}" for c in cols[v]] for v in variables}
    wide_df = _usable_rows(wide_df, needed, where=where)
    _usable_rows(wide_df, zs, where=where)
    n_groups = _group_count(wide_df, group, where=where)
    syntax = riclpm_syntax(variables, ws, constraints=constraints, predictors=zs or None,
                           predictors_on=predictors_on, indicators=indicators, invariance=invariance,
                           between=between, groups=n_groups, group_equal=group_equal, equal_means=equal_means,
                           ri_variances=ri_variances, columns=columns)
    spec = dict(constraints=constraints, predictors=tuple(zs), predictors_on=predictors_on, group=group,
                group_equal=group_equal, equal_means=equal_means, indicators=indicators, invariance=invariance,
                between=between, ri_variances=ri_variances)
    return _fit(where, "RI-CLPM", syntax, wide_df, data=data, variables=variables, waves=ws,
                lookup=_lag_lookup(names, variables, ws), group=group, missing=missing, estimator=estimator, se=se,
                conf_level=conf_level, n_draws=n_draws, seed=seed, spec=spec, started=started)


@renamed_arguments(wave="session", n_boot="n_draws")
def fit_clpm(data: pd.DataFrame, variables: Sequence[str], *, client: str = "client", session: str = "session",
             waves: Sequence[Any] | None = None, wide: bool = False,
             columns: Mapping[str, Sequence[str]] | None = None, constraints: str | None = None,
             predictors: Sequence[str] | str | None = None, group: str | None = None,
             group_equal: Sequence[str] | str = (), equal_means: bool = False, missing: str = "fiml",
             estimator: str = "ML", se: str = "standard", conf_level: float = 0.95, n_draws: int = 1000,
             seed: int | None = None) -> PanelResult:
    """Fit the cross-lagged panel model (CLPM) for two or more variables.

    Model: each observed ``v_t`` (t >= 2) regressed on every variable at ``t - 1``, wave-1 (co)variances
    and within-wave residual covariances free, free intercepts (the CLPM of Mulder & Hamaker, 2021;
    :func:`allianceStats.panel.clpm_syntax`). It has no random intercepts, so stable between-client
    differences load onto the lagged paths (Hamaker, Kuiper & Grasman, 2015); compare it with the RI-CLPM
    with :func:`compare_panel`. Rows are named as in lavaan on the observed columns: the effect of outcome
    at wave 2 on alliance at wave 3 is ``alliance_3 ~ outcome_2``. Validated against lavaan 0.6.14.

    Parameters
    ----------
    data : DataFrame
        Long session data (one row per client and session; columns ``client``, ``session`` and the variables),
        or wide data (``wide=True``: one row per client, columns ``<variable>_<wave>`` or ``columns=``).
        Clients with missing sessions are kept (FIML). Never modified.
    variables : list of str
        Two or more time-varying variables.
    constraints, predictors, group, group_equal, equal_means
        As in :func:`fit_riclpm` (:func:`allianceStats.panel.clpm_syntax`).
    client, session : str
        Client and session-number columns of long data.
    waves : sequence, optional
        Session numbers to use as the waves, in order, at least two (default None: every session present); a
        single number (``waves=0``, ``waves=6``) is an OptionError. With wide data the wave labels of the
        columns.
    wide : bool
        ``data`` is already one row per client.
    columns : mapping, optional
        Column names of wide data that do not follow ``<variable>_<wave>``, e.g. ``{"x": ["x1", ..., "x5"]}``.
    missing, estimator, se : str
        Passed to :func:`allianceStats.fit_sem` (FIML by default).
    conf_level : float
        Level of the intervals in ``params``, ``paths``, ``cross_lagged`` and ``autoregressive``.
    n_draws, seed : int
        Bootstrap replicates and their seed (``se="bootstrap"``; the seed is recorded in ``provenance``).

    Returns
    -------
    PanelResult

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> import allianceStats as als
    >>> rng = np.random.default_rng(2)
    >>> x = rng.normal(size=(250, 3)).cumsum(axis=1); y = rng.normal(size=(250, 3)) + 0.5 * x
    >>> wide = pd.DataFrame({**{f"x_{t + 1}": x[:, t] for t in range(3)}, **{f"y_{t + 1}": y[:, t] for t in range(3)}})
    >>> res = als.fit_clpm(wide, ["x", "y"], wide=True)
    >>> int(res.fit["df"]), res.autoregressive["lhs"].tolist()[:2]
    (4, ['x_2', 'y_2'])
    """
    started = time.perf_counter()
    variables = _variables(variables)
    zs = _predictor_names(predictors)
    static = [*zs, *([group] if group else [])]
    where = "fit_clpm"
    wide_df, ws = _prepare(data, variables, client=client, session=session, waves=waves, wide=wide, static=static,
                           columns=columns, where=where)
    cols = observed_columns(variables, ws, columns)
    wide_df = _usable_rows(wide_df, [c for v in variables for c in cols[v]], where=where)
    _usable_rows(wide_df, zs, where=where)
    n_groups = _group_count(wide_df, group, where=where)
    syntax = clpm_syntax(variables, ws, constraints=constraints, predictors=zs or None, groups=n_groups,
                         group_equal=group_equal, equal_means=equal_means, columns=columns)
    # wave-1 variables are exogenous with written (co)variances: fit_sem switches fixed.x off, as lavaan does
    spec = dict(constraints=constraints, predictors=tuple(zs), group=group, group_equal=group_equal,
                equal_means=equal_means)
    return _fit(where, "CLPM", syntax, wide_df, data=data, variables=variables, waves=ws,
                lookup=_lag_lookup(cols, variables, ws), group=group, missing=missing, estimator=estimator, se=se,
                conf_level=conf_level, n_draws=n_draws, seed=seed, spec=spec, started=started)


@renamed_arguments(wave="session", n_boot="n_draws")
@x_then_y
def fit_dpm(data: pd.DataFrame, x: Sequence[str] | str, y: str, *, client: str = "client",
            session: str = "session", waves: Sequence[Any] | None = None, wide: bool = False,
            columns: Mapping[str, Sequence[str]] | None = None, predetermined: bool = True,
            error_invariance: bool = False, missing: str = "fiml", estimator: str = "ML", se: str = "standard",
            conf_level: float = 0.95, n_draws: int = 1000, seed: int | None = None) -> PanelResult:
    """Fit the ML-SEM dynamic panel model with fixed effects (Allison, Williams & Moral-Benito, 2017).

    Model: ``y_t = mu_t + rho*y_(t-1) + sum_x beta_x*x_(t-1) + FE_y + e_t`` (t >= 2): a latent fixed effect
    ``FE_y`` free to correlate with ``y_1`` and every ``x`` (so stable client differences cannot bias the
    lagged effects), ``rho`` and ``beta`` equal over time, and ``x`` predetermined (``x_t`` may covary with
    earlier residuals: reverse causation from outcome to later alliance is allowed). This is the
    specification of Stata's ``xtdpdml`` and R's ``dpm``; Falkenström et al. (2017) recommend it for
    session-level alliance-outcome data with a lagged outcome. See :func:`allianceStats.panel.dpm_syntax`.
    Validated against lavaan 0.6.14 (``tests/panel``).

    The order is ``fit_dpm(data, x, y)`` since 0.2.0 (it was ``fit_dpm(data, y, x)``): a call that passes x and y
    by position warns (FutureWarning) until 0.3.0; pass them by keyword.

    Parameters
    ----------
    data : DataFrame
        Long session data (one row per client and session; columns ``client``, ``session`` and the variables),
        or wide data (``wide=True``: one row per client, columns ``<variable>_<wave>`` or ``columns=``).
        Clients with missing sessions are kept (FIML). Never modified.
    x : str or list of str
        Time-varying predictor(s), lagged one wave.
    y : str
        The outcome.
    predetermined, error_invariance : bool
        As in :func:`allianceStats.panel.dpm_syntax`.
    client, session : str
        Client and session-number columns of long data.
    waves : sequence, optional
        Session numbers to use as the waves, in order, at least two (default None: every session present); a
        single number (``waves=0``, ``waves=6``) is an OptionError. With wide data the wave labels of the
        columns.
    wide : bool
        ``data`` is already one row per client.
    columns : mapping, optional
        Column names of wide data that do not follow ``<variable>_<wave>``, e.g. ``{"x": ["x1", ..., "x5"]}``.
    missing, estimator, se : str
        Passed to :func:`allianceStats.fit_sem` (FIML by default).
    conf_level : float
        Level of the intervals in ``params``, ``paths``, ``cross_lagged`` and ``autoregressive``.
    n_draws, seed : int
        Bootstrap replicates and their seed (``se="bootstrap"``; the seed is recorded in ``provenance``).

    Returns
    -------
    PanelResult
        ``autoregressive`` holds ``rho`` (label ``rho``) at each wave and ``cross_lagged`` the ``beta`` of each
        predictor (label ``beta_<x>``); with the constraints they repeat.

    Examples
    --------
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
    >>> res = als.fit_dpm(long, x="alliance", y="outcome")
    >>> print(round(res.cross_lagged["estimate"].iloc[0], 1), round(res.autoregressive["estimate"].iloc[0], 1))
    0.4 0.3
    """
    started = time.perf_counter()
    if not isinstance(y, str):
        raise OptionError(f"fit_dpm(): y={y!r} must be one outcome column (a str); x takes the predictor(s)")
    xs = [x] if isinstance(x, str) else list(x)
    where = "fit_dpm"
    wide_df, ws = _prepare(data, [y, *xs], client=client, session=session, waves=waves, wide=wide, static=(),
                           columns=columns, where=where)
    syntax = dpm_syntax(x=xs, y=y, waves=ws, predetermined=predetermined, error_invariance=error_invariance,
                        columns=columns)
    cols = observed_columns([y, *xs], ws, columns)
    T = len(ws)
    needed = [*cols[y], *[c for v in xs for c in cols[v][:T - 1]]]
    wide_df = _usable_rows(wide_df, needed, where=where)
    lookup = {(cols[y][k], cols[u][k - 1]): (y, ws[k], u, ws[k - 1]) for k in range(1, T) for u in [y, *xs]}
    return _fit(where, "DPM", syntax, wide_df, data=data, variables=[y, *xs], waves=ws, lookup=lookup, group=None,
                missing=missing, estimator=estimator, se=se, conf_level=conf_level, n_draws=n_draws, seed=seed,
                spec=dict(predetermined=predetermined, error_invariance=error_invariance), started=started)


# ----------------------------------------------------------------------------------------------------
# comparison


def compare_panel(*fits: PanelResult, names: Sequence[Hashable] | None = None) -> ComparisonResult:
    """χ²-difference tests of nested panel models, with the boundary-corrected p-value for CLPM vs RI-CLPM.

    Fits are ordered by df (least restricted first) and each is tested against the row above, as
    :func:`allianceStats.sem.compare_sem` does (lavaan's ``anova``). When a CLPM is tested against an
    RI-CLPM of the same variables, the k random-intercept variances are 0 under the null hypothesis, on the
    boundary of the parameter space: the naive χ² p-value (``p_value``) is then conservative. (This applies
    when the two models differ only by the random intercepts: same variables, constraints, predictors and
    groups; otherwise ``p_value_chibar`` is NaN.) ``p_value_chibar`` is the chi-bar-square p-value of Stoel et
    al. (2006): a mixture of χ² with ``df_diff - k + j`` degrees of freedom, ``j = 0..k``, with weights
    binomial(k, 1/2) (exact when the variance estimates are asymptotically independent; otherwise an
    approximation between the naive test and a χ²(df_diff - k)).

    Parameters
    ----------
    *fits : PanelResult
        Two or more panel fits of nested models to the same clients.
    names : sequence, optional
        A name per fit (default: each fit's model, ``"RI-CLPM"`` etc.).

    Returns
    -------
    ComparisonResult
        ``table``: :data:`~allianceStats.comparison.COMPARISON_COLUMNS`, then ``cfi, rmsea, rmsea_diff``
        (:func:`~allianceStats.sem.compare_sem`), ``p_value_chibar`` and ``note``; ``method`` names the test.

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> import allianceStats as als
    >>> rng = np.random.default_rng(4)
    >>> ri = rng.normal(size=(300, 1)); z = rng.normal(size=(300, 2, 4)).cumsum(axis=2) * 0.3
    >>> wide = pd.DataFrame({f"{v}_{t + 1}": ri[:, 0] + z[:, i, t] + rng.normal(size=300)
    ...                      for i, v in enumerate("xy") for t in range(4)})
    >>> result = compare_panel(als.fit_clpm(wide, ["x", "y"], wide=True), als.fit_riclpm(wide, ["x", "y"], wide=True))
    >>> result.table[["model", "df_diff"]].to_string(index=False).split()[-2:]
    ['CLPM', '3.0']
    >>> bool(result.table["p_value_chibar"].iloc[1] <= result.table["p_value"].iloc[1])
    True
    """
    from ..sem.comparison import compare_sem, comparison_provenance

    started = time.perf_counter()
    wrong = [type(f).__name__ for f in fits if not isinstance(f, PanelResult)]
    if wrong:
        raise OptionError(f"compare_panel() compares results of fit_riclpm, fit_clpm or fit_dpm; got "
                          f"{', '.join(wrong)} (use compare_sem() for other SEM fits)")
    labels = [f.model for f in fits] if names is None else list(names)
    base = compare_sem(*fits, names=labels)
    table = base.table.copy()
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
    method = base.method + ("; chi-bar-square p-value for CLPM vs RI-CLPM" if any(np.isfinite(chibar)) else "")
    return ComparisonResult(table=table, method=method, n_obs=base.n_obs,
                            provenance=comparison_provenance(fits, labels, "compare_panel", started),
                            notes=tuple(dict.fromkeys(n for n in notes if n)))


__all__ = ["PanelResult", "fit_riclpm", "fit_clpm", "fit_dpm", "compare_panel", "LAGGED_COLUMNS",
           "PANEL_PATH_COLUMNS"]
