"""Time to dropout: Cox proportional hazards, discrete-time logistic hazard, Kaplan-Meier curves.

Data convention
---------------
A long session table with ``event`` (``dropout``) = 1 on the **last observed row** of a client who dropped out and
0 on every other row. Each client contributes one time to event: :math:`T_i` = the last observed session number,
with :math:`\\delta_i` = 1 for a dropout and 0 for a client who completed or is still in treatment (right-censored
at :math:`T_i`). A 1 anywhere but on the last row is an error.

Predictors are *early* values: each predictor column enters as its client mean over the rows whose session is in
``early_sessions`` (default sessions 1 and 2; missing values ignored); a time-invariant covariate is constant, so
its mean is itself. Clients without an early value of every predictor are left out (with a :class:`DataWarning`).
Caveat: a client who drops out at session 1 has only a session-1 value while the others' mean also uses session
2, a small look-ahead. ``landmark=True`` removes it: only clients still in treatment after the last early session
are analysed (risk from then on), which is the landmark analysis of Anderson, Cain & Gelber (1983).

Models
------
``method="cox"``       :math:`h_i(t) = h_0(t)\\exp(x_i^\\top\\beta)`, fitted by maximising the partial likelihood
                       with :func:`allianceStats.survival.fit_cox` (Cox, 1972; R's ``coxph`` algorithm). Tied
                       dropout times are the rule with session counts; ``ties="efron"`` (default; Efron, 1977)
                       matches R ``survival::coxph``'s default, ``ties="breslow"`` (Breslow, 1974) its
                       ``ties = "breslow"``.
                       ``ratio`` is the hazard ratio :math:`e^{\\beta}`.
``method="discrete"``  :math:`\\operatorname{logit} P(T_i = t \\mid T_i \\ge t) = \\alpha(t) + x_i^\\top\\beta` on
                       person-period data (one row per client and session number from the client's first
                       session to :math:`T_i`, outcome 1 only in the dropout period), fitted by
                       :func:`allianceStats.survival.fit_discrete_hazard` (a binomial GLM; Singer & Willett,
                       1993; 2003, ch. 10-12). Baseline :math:`\\alpha(t)`: ``"factor"`` one intercept per period
                       (the general specification; a period without any dropout has hazard estimate 0 and its
                       rows are left out, see ``notes``), ``"linear"`` (default, :math:`\\alpha_0 + \\alpha_1 t`) or
                       ``"quadratic"``.
                       ``ratio`` is the odds ratio of the discrete-time hazard.

Wald confidence intervals :math:`\\hat\\beta \\pm z_{1-\\alpha/2}\\,SE` at ``conf_level``, exponentiated for
``ratio``. Validated against R ``survival::coxph`` and ``glm(family = binomial)`` (tests/dynamics/fixtures).

Kaplan-Meier: the product-limit estimator (Kaplan & Meier, 1958) via
:func:`allianceStats.survival.curves.product_limit`, Greenwood standard errors, pointwise intervals on the log
scale, :math:`\\hat S \\exp(\\pm z\\, SE/\\hat S)` capped at 1, as R ``survfit``'s default ``conf.type = "log"``
(``conf_type="log-log"`` and ``"plain"`` as R's other choices).

Standard tables
---------------
Both functions also accept the usual survival table, one row per client with a time, an event (0/1) and
covariates (``duration=`` names the time column; a table without a ``session`` column but with a ``time``
column is recognised as one). Its predictors are used as they are — they need not be early-session means —
and ``early_sessions`` only matters for ``landmark``. Time-varying covariates belong in
:func:`allianceStats.survival.survival_intervals` and :func:`allianceStats.survival.fit_cox`.

References
----------
Cox, D. R. (1972). Regression models and life-tables. *JRSS B, 34*(2), 187-220.
Efron, B. (1977). The efficiency of Cox's likelihood function for censored data. *JASA, 72*(359), 557-565.
Breslow, N. (1974). Covariance analysis of censored survival data. *Biometrics, 30*(1), 89-99.
Singer, J. D., & Willett, J. B. (1993). It's about time: Using discrete-time survival analysis to study duration
and the timing of events. *Journal of Educational Statistics, 18*(2), 155-195.
Kaplan, E. L., & Meier, P. (1958). Nonparametric estimation from incomplete observations. *JASA, 53*, 457-481.
Anderson, J. R., Cain, K. C., & Gelber, R. D. (1983). Analysis of survival by tumor response. *Journal of
Clinical Oncology, 1*(11), 710-719.
"""
from __future__ import annotations

import time
import warnings
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from .._deprecation import renamed_arguments
from ..data.checks import check_bool, check_choice, check_conf_level, first_labels, require_columns, require_numeric
from ..errors import ConvergenceWarning, DataWarning, IdentificationError, OptionError, SchemaError
from ..results import Convergence, Provenance, ResultDisplay
from ._table import provenance, session_table

PARAM_COLUMNS = ["term", "estimate", "std_error", "statistic", "p_value", "ci_lower", "ci_upper", "ratio",
                 "ratio_ci_lower", "ratio_ci_upper"]
KM_COLUMNS = ["group", "time", "n_risk", "n_events", "survival", "std_error", "ci_lower", "ci_upper", "n_censor"]


@dataclass(frozen=True, repr=False)
class DropoutResult(ResultDisplay):
    """A fitted time-to-dropout model (:func:`fit_dropout`).

    ``params``: columns ``term, estimate, std_error, statistic, p_value, ci_lower, ci_upper, ratio,
    ratio_ci_lower, ratio_ci_upper``; ``estimate`` is the log hazard ratio (Cox) or log odds ratio of the
    discrete-time hazard, ``ratio`` its exponential (``ratio_name`` says which), ``statistic`` the Wald *z*.
    ``clients``: the per-client analysis table (``client, time, event`` and the early predictors).

    The result protocol (:class:`allianceStats.results.Result`): ``n_obs`` is the number of clients analysed
    (the model has one row per client; equal to ``n_clients``), ``conf_level`` the level of every interval,
    ``convergence`` the verdict after checking the optimum, ``converged`` its flag.
    """

    method: str
    params: pd.DataFrame
    clients: pd.DataFrame
    n_clients: int
    n_events: int
    loglik: float
    conf_level: float
    ratio_name: str
    ties: str | None
    baseline: str | None
    early_sessions: tuple
    landmark: bool
    notes: tuple[str, ...]
    convergence: Convergence
    provenance: Provenance

    @property
    def n_obs(self) -> int:
        """Clients analysed (one row each in the model)."""
        return self.n_clients

    def summary(self) -> str:
        """Text table of the effects with their ratios and confidence intervals."""
        spec = (f"Cox proportional hazards (ties: {self.ties})" if self.method == "cox"
                else f"discrete-time logistic hazard (baseline: {self.baseline})")
        head = [f"Time to dropout: {spec}",
                f"clients: {self.n_clients}, dropouts: {self.n_events}, log-likelihood: {self.loglik:.4f}",
                f"predictors from sessions {list(self.early_sessions)}"
                + ("; landmark analysis after the early sessions" if self.landmark else ""),
                f"{self.ratio_name} with {self.conf_level:.0%} Wald confidence intervals:"]
        tab = self.params[["term", "estimate", "std_error", "p_value", "ratio", "ratio_ci_lower",
                           "ratio_ci_upper"]].to_string(index=False, float_format=lambda v: f"{v:.4f}")
        notes = "".join(f"\nnote: {n}" for n in self.notes)
        conv = "" if self.convergence.converged else f"\nWARNING: not converged ({self.convergence.message})"
        return "\n".join(head) + "\n" + tab + notes + conv


def _check_early_sessions(early_sessions) -> None:
    if isinstance(early_sessions, (str, bytes, int, np.integer)) or not hasattr(early_sessions, "__len__") \
            or len(early_sessions) == 0:
        raise OptionError(f"early_sessions={early_sessions!r}: give a non-empty sequence of session numbers, "
                          f"e.g. (1, 2)")


@renamed_arguments(time="session")
def client_survival(data: pd.DataFrame, predictors: Sequence[str] = (), *, client: str = "client",
                    session: str = "session", event: str = "dropout", early_sessions: Sequence = (1, 2),
                    where: str = "fit_dropout") -> pd.DataFrame:
    """One row per client: ``client, time`` (last observed session), ``event`` (0/1), early predictor means.

    The output columns are always named ``client, time, event`` whatever the input names (``time`` is the
    survival time, the last observed session number). Checks the data convention of the module docstring
    and lists every violation in one :class:`SchemaError`.

    Parameters
    ----------
    data : pandas.DataFrame
        Long session table, ``event`` = 1 on a dropout's last observed row (not modified).
    predictors : sequence of str
        Columns averaged per client over ``early_sessions``.
    client, session, event : str
        Client-id, session-number and dropout columns (``time=`` is the old name of ``session=``).
    early_sessions : sequence of int
        Sessions whose values make the predictors.
    where : str
        The public function named in error messages.

    Returns
    -------
    pandas.DataFrame
        ``client, time, event`` and one column per predictor, one row per client.

    Raises
    ------
    SchemaError
        A column is missing or not numeric, or the dropout column breaks the data convention.
    OptionError
        ``early_sessions`` is not a non-empty sequence.

    Examples
    --------
    >>> import pandas as pd
    >>> df = pd.DataFrame({"client": ["a", "a", "a", "b", "b"], "session": [1, 2, 3, 1, 2],
    ...                    "dropout": [0, 0, 0, 0, 1], "alliance": [4.0, 3.0, 5.0, 2.0, 3.0]})
    >>> client_survival(df, ["alliance"])
      client  time  event  alliance
    0      a     3      0       3.5
    1      b     2      1       2.5
    """
    predictors = list(predictors)
    _check_early_sessions(early_sessions)
    df = session_table(data, [event, *predictors], client=client, session=session, where=where)
    ev = df[event]
    problems = []
    bad = ~ev.isin([0, 1])
    if bad.any():
        rows = df.loc[bad, [client, session]].head(5)
        problems.append(f"column {event!r} must be 0 or 1 on every row; found "
                        f"{sorted(map(str, ev[bad].unique()))[:5]} at (client, session) "
                        f"{list(rows.itertuples(index=False, name=None))}")
    last = df.groupby(client, sort=False)[session].transform("max") == df[session]
    early_one = (ev == 1) & ~last
    if early_one.any():
        ids = list(pd.unique(df.loc[early_one, client]))[:5]
        problems.append(f"column {event!r} is 1 before the last observed session of client(s) {ids}; the "
                        f"convention is dropout = 1 on the last observed row only (rows after dropout absent)")
    if problems:
        raise SchemaError(problems, source=where)
    g = df.groupby(client, sort=True)
    out = pd.DataFrame({"time": g[session].max(), "event": g[event].max().astype(int)})
    if predictors:
        early = df[df[session].isin(list(early_sessions))].groupby(client, sort=True)[predictors].mean()
        out = out.join(early, how="left")
    out = out.reset_index().rename(columns={client: "client"})
    return out.astype({"client": data[client].dtype})


def _drop_incomplete(cl: pd.DataFrame, predictors: list[str], client: str, early_sessions,
                     stacklevel: int, standard: bool = False) -> pd.DataFrame:
    miss = cl[predictors].isna().any(axis=1)
    if miss.any():
        ids = cl.loc[miss, client].tolist()
        where = "" if standard else f" in sessions {list(early_sessions)}"
        warnings.warn(f"{len(ids)} client(s) have no value of {predictors}{where} and "
                      f"are left out of the dropout model: {ids[:10]}{' ...' if len(ids) > 10 else ''}",
                      DataWarning, stacklevel=stacklevel)
    return cl[~miss].reset_index(drop=True)


@renamed_arguments(clients="data")
def person_period(data: pd.DataFrame, first_session: pd.Series | None = None, *, start: int = 1
                  ) -> pd.DataFrame:
    """Expand one row per client (``time``, ``event``, predictors) to one row per client and period.

    Period runs from ``start`` (or the client's ``first_session``) to ``time``; ``event`` is 1 only in the last
    period of a client who dropped out (Singer & Willett, 1993).

    Parameters
    ----------
    data : pandas.DataFrame
        One row per client: ``client, time, event`` and predictors, as :func:`client_survival` returns
        (``clients=`` is the old name).
    first_session : array-like, optional
        Each client's first period; default ``start`` for every client.
    start : int
        First period when ``first_session`` is not given.

    Returns
    -------
    pandas.DataFrame
        ``client, period, event`` and the predictors, one row per client and period.

    Raises
    ------
    SchemaError
        A survival time that is not a whole session number.

    Examples
    --------
    >>> import pandas as pd
    >>> person_period(pd.DataFrame({"client": ["a", "b"], "time": [2, 3], "event": [1, 0], "x": [0.5, 1.0]}))
      client  period  event    x
    0      a       1      0  0.5
    1      a       2      1  0.5
    2      b       1      0  1.0
    3      b       2      0  1.0
    4      b       3      0  1.0
    """
    t = data["time"].to_numpy()
    if np.any(t != np.round(t)):
        raise SchemaError("discrete-time models need whole session numbers; found non-integer times",
                          source="person_period")
    first = np.full(len(t), start) if first_session is None else np.asarray(first_session)
    t = t.astype(int)
    first = first.astype(int)
    counts = np.maximum(t - first + 1, 0)
    idx = np.repeat(np.arange(len(t)), counts)
    period = np.concatenate([np.arange(f, e + 1) for f, e in zip(first, t)]) if len(t) else np.empty(0, int)
    out = data.iloc[idx].reset_index(drop=True)
    out.insert(1, "period", period.astype(int))
    out["event"] = ((out["event"].to_numpy() == 1) & (period == t[idx])).astype(int)
    cols = ["client", "period", "event"] + [c for c in data.columns if c not in ("client", "time", "event")]
    return out[cols]


def _quoted(name: str) -> str:
    return f"`{name}`"


def _params_from(table: pd.DataFrame, terms: list[str]) -> pd.DataFrame:
    """The engine's table in this module's columns (``ratio`` = exponentiated estimate and interval)."""
    out = pd.DataFrame({"term": terms, "estimate": table["estimate"].to_numpy(),
                        "std_error": table["std_error"].to_numpy(), "statistic": table["statistic"].to_numpy(),
                        "p_value": table["p_value"].to_numpy(), "ci_lower": table["ci_lower"].to_numpy(),
                        "ci_upper": table["ci_upper"].to_numpy()})
    with np.errstate(over="ignore"):  # a diverging estimate (reported as non-convergence) gives inf ratios
        out["ratio"] = np.exp(out["estimate"])
        out["ratio_ci_lower"] = np.exp(out["ci_lower"])
        out["ratio_ci_upper"] = np.exp(out["ci_upper"])
    return out[PARAM_COLUMNS]


def _fit_cox(cl: pd.DataFrame, predictors: list[str], ties: str, conf_level: float):
    """Cox model on the per-client table through :func:`allianceStats.survival.fit_cox` (R's coxph algorithm)."""
    from ..survival.cox import fit_cox

    formula = "Surv(time, event) ~ " + " + ".join(_quoted(p) for p in predictors)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)  # reported once, by the caller
        fit = fit_cox(cl[["time", "event", *predictors]], formula, ties=ties, conf_level=conf_level)
    conv = Convergence(converged=fit.convergence.converged, iterations=fit.convergence.iterations,
                       optimizer=fit.convergence.optimizer, message=fit.convergence.message,
                       warnings=fit.convergence.warnings)
    return _params_from(fit.params, predictors), fit.loglik, conv


def _fit_discrete(pp: pd.DataFrame, predictors: list[str], baseline: str, conf_level: float):
    """Logistic discrete-time hazard through :func:`allianceStats.survival.fit_discrete_hazard` (a GLM)."""
    from ..survival.discrete import fit_discrete_hazard

    notes = []
    data = pd.DataFrame({"event": pp["event"].to_numpy(int), "period": pp["period"].astype(int).to_numpy()})
    names = {f"x{i}": p for i, p in enumerate(predictors)}
    for key, p in names.items():
        data[key] = pp[p].astype(float).to_numpy()
    if baseline == "factor":
        events_by_period = data.groupby("period")["event"].sum()
        no_event = [int(p) for p in events_by_period.index[events_by_period == 0]]
        if no_event:
            # the period's hazard MLE is 0 (intercept -inf); its rows then add nothing to the likelihood of the
            # other parameters, so dropping them gives the limiting MLE with finite estimates
            data = data[~data["period"].isin(no_event)].reset_index(drop=True)
            notes.append(f"no dropout in period(s) {no_event}: hazard estimated as 0 there and those "
                         f"person-period rows left out of the fit")
        rhs = "0 + factor(period)"
        base_terms = [f"period_{p}" for p in sorted(data["period"].unique())]
    elif baseline == "quadratic":
        data["period_sq"] = data["period"].astype(float) ** 2
        rhs = "period + period_sq"
        base_terms = ["intercept", "period", "period_sq"]
    else:
        rhs = "period"
        base_terms = ["intercept", "period"]
    formula = "event ~ " + " + ".join([rhs, *names])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)  # reported once, by the caller
        fit = fit_discrete_hazard(data, formula, link="logit", conf_level=conf_level)
    return (_params_from(fit.params, base_terms + predictors), fit.loglik, fit.convergence, tuple(notes))


def _is_client_table(data: pd.DataFrame, session: str, duration: str | None) -> bool:
    """A one-row-per-client table: ``duration=`` given, or no session column but a ``time`` column."""
    return duration is not None or (isinstance(data, pd.DataFrame) and session not in data.columns
                                    and "time" in data.columns)


def standard_client_table(data: pd.DataFrame, predictors: Sequence[str] = (), *, client: str = "client",
                          duration: str = "time", event: str = "dropout", where: str = "fit_dropout"
                          ) -> pd.DataFrame:
    """Check a standard survival table (one row per client: time, event, covariates) and return it as
    ``client, time, event`` + predictors (predictors as given, no early-session means).

    Without a ``client`` column the row labels identify the clients. The event column is ``event`` or, when
    that column is absent, a column named ``"event"``. Every problem is listed in one :class:`SchemaError`.

    Parameters
    ----------
    data : pandas.DataFrame
        One row per client (not modified).
    predictors : sequence of str
        Numeric covariate columns, used as they are.
    client, duration, event : str
        Client-id, survival-time and event (0/1) columns.
    where : str
        The public function named in messages.

    Returns
    -------
    pandas.DataFrame
        ``client, time, event`` and the predictors.

    Raises
    ------
    SchemaError
        Missing or non-numeric columns, missing or negative times, an event not coded 0/1, a client twice.

    Examples
    --------
    >>> import pandas as pd
    >>> standard_client_table(pd.DataFrame({"time": [3, 8], "event": [1, 0], "alliance": [3.2, 4.1]}),
    ...                       ["alliance"])
       client  time  event  alliance
    0       0     3      1       3.2
    1       1     8      0       4.1
    """
    predictors = list(predictors)
    if event not in data.columns and "event" in data.columns:
        event = "event"
    require_columns(data, [duration, event, *predictors], where=where)
    problems = []
    try:
        require_numeric(data, [duration, *predictors], where=where)
    except SchemaError as err:
        problems += err.problems
    ids = data[client] if client in data.columns else pd.Series(data.index, index=data.index)
    if not problems:
        t = data[duration].to_numpy(float)
        bad = ~np.isfinite(t) | (t < 0)
        if bad.any():
            problems.append(f"column {duration!r} is missing, infinite or negative at row(s) "
                            f"{first_labels(data.index[bad])} (client(s) {first_labels(ids[bad].tolist())})")
    ev = pd.to_numeric(data[event], errors="coerce")
    bad_ev = ~ev.isin([0, 1])
    if bad_ev.any():
        problems.append(f"column {event!r} must be 0 or 1 (1 = dropout); found "
                        f"{first_labels(pd.unique(data.loc[bad_ev, event]).tolist())} at row(s) "
                        f"{first_labels(data.index[bad_ev])} (client(s) {first_labels(ids[bad_ev].tolist())})")
    dup = ids.duplicated(keep=False)
    if dup.any():
        problems.append(f"client(s) {first_labels(pd.unique(ids[dup]).tolist())} appear on several rows; a "
                        f"standard table has one row per client (for session tables name the session column "
                        f"with session=)")
    if problems:
        raise SchemaError(problems, source=where)
    out = pd.DataFrame({"client": ids.to_numpy(), "time": data[duration].to_numpy(),
                        "event": ev.astype(int).to_numpy()})
    for p in predictors:
        out[p] = data[p].to_numpy()
    return out


@renamed_arguments(time="session")
def fit_dropout(data: pd.DataFrame, *, predictors: Sequence[str], client: str = "client",
                session: str = "session", event: str = "dropout", method: str = "cox",
                early_sessions: Sequence = (1, 2), ties: str = "efron", baseline: str = "linear",
                landmark: bool = False, duration: str | None = None, conf_level: float = 0.95) -> DropoutResult:
    """Time to dropout on early (session 1-2) alliance and covariates: Cox PH or discrete-time logistic hazard.

    Cox (1972) via :func:`allianceStats.survival.fit_cox` (Efron ties by default, as R ``coxph``); discrete-time
    logistic hazard (Singer & Willett, 1993) via :func:`allianceStats.survival.fit_discrete_hazard` on
    person-period data. Data convention, predictor construction, ``landmark`` and the model equations: module
    docstring (:mod:`allianceStats.dynamics.survival`). A standard survival table (one row per client with a
    time, an event and covariates) is accepted too: its predictors are used as they are.

    Parameters
    ----------
    data : pandas.DataFrame
        Long session table, ``event`` = 1 on a dropout's last observed row, or a standard table with one row per
        client (see ``duration``). Not modified.
    predictors : list of str
        Numeric columns; each enters as its client mean over ``early_sessions`` (session table) or as it is
        (standard table).
    client, session, event : str
        Client-id, session-number and dropout columns (``time=`` is the old name of ``session=``). In a standard
        table without a ``client`` column the row labels identify the clients, and a column named ``"event"``
        is used when ``event`` is absent.
    method : {"cox", "discrete"}
        Cox proportional hazards, or the discrete-time logistic hazard.
    early_sessions : sequence of int
        Sessions whose values make the predictors (default sessions 1 and 2).
    ties : {"efron", "breslow"}
        Handling of tied dropout times (Cox).
    baseline : {"linear", "quadratic", "factor"}
        Baseline hazard over sessions (discrete).
    landmark : bool
        Analyse only clients still in treatment after the last early session.
    duration : str, optional
        Survival-time column of a standard one-row-per-client table. Default: the data are a standard table when
        they have no ``session`` column but a ``time`` column (then ``duration="time"``).
    conf_level : float
        Level of the Wald intervals (an attribute of the result, default 0.95).

    Returns
    -------
    DropoutResult
        ``params`` (log ratios, Wald SEs, z, p, CIs and the exponentiated ``ratio`` with its CI), ``clients``
        (the analysed per-client table), ``loglik``, ``notes``, ``convergence``, ``provenance``. A fit whose
        optimum fails the check (e.g. separation) is flagged and warned about (:class:`ConvergenceWarning`).

    Raises
    ------
    SchemaError
        A column is missing or not numeric, or the dropout column breaks the data convention.
    OptionError
        An option outside its choices or range.
    IdentificationError
        No dropouts, too few clients, or no client with every early predictor.

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> rng = np.random.default_rng(1)
    >>> rows = []
    >>> for i in range(60):
    ...     a = rng.normal(4, 0.6)
    ...     last = min(12, 1 + rng.geometric(0.08 * np.exp(-1.0 * (a - 4))))
    ...     rows += [(f"c{i}", s, a + rng.normal(0, .3), int(s == last < 12)) for s in range(1, last + 1)]
    >>> df = pd.DataFrame(rows, columns=["client", "session", "alliance", "dropout"])
    >>> fit = fit_dropout(df, predictors=["alliance"])
    >>> fit.n_clients, fit.n_events, bool(fit.params.loc[0, "ratio"] < 1)
    (60, 31, True)

    The same model from a standard table (one row per client):

    >>> table = fit.clients[["time", "event", "alliance"]]
    >>> fit_dropout(table, predictors=["alliance"]).params["estimate"].equals(fit.params["estimate"])
    True
    """
    started = time.perf_counter()
    check_choice("method", method, ("cox", "discrete"))
    check_choice("ties", ties, ("efron", "breslow"))
    check_choice("baseline", baseline, ("linear", "quadratic", "factor"))
    conf_level = check_conf_level(conf_level)
    landmark = check_bool("landmark", landmark)
    predictors = [predictors] if isinstance(predictors, str) else list(predictors)
    if not predictors:
        raise OptionError("predictors=[]: name at least one predictor column, e.g. predictors=['alliance']")
    standard = _is_client_table(data, session, duration)
    if standard:
        duration = duration or "time"
        cl = standard_client_table(data, predictors, client=client, duration=duration, event=event)
        cl = _drop_incomplete(cl, predictors, "client", early_sessions, stacklevel=4, standard=True)
        first = np.ones(len(cl), int)
        used = [c for c in dict.fromkeys([client, duration, event if event in data.columns else "event",
                                          *predictors]) if c in data.columns]
    else:
        cl = client_survival(data, predictors, client=client, session=session, event=event,
                             early_sessions=early_sessions)
        # the warning points at the user's call: here -> fit_dropout -> its renamed-arguments wrapper -> caller
        cl = _drop_incomplete(cl, predictors, "client", early_sessions, stacklevel=4)
        first = data.groupby(client)[session].min().reindex(cl["client"]).to_numpy()
        used = list(dict.fromkeys([client, session, event, *predictors]))
    if cl.empty:
        raise IdentificationError(f"no client has a value of every predictor {predictors}"
                                  + ("" if standard else f" in sessions {list(early_sessions)}; check "
                                                         f"early_sessions and the predictor columns"))
    options = {"predictors": predictors, "client": client, "session": session, "event": event, "method": method,
               "early_sessions": None if standard else list(early_sessions),
               "ties": ties if method == "cox" else None,
               "baseline": baseline if method == "discrete" else None, "landmark": landmark,
               "duration": duration, "conf_level": conf_level}
    prov = provenance(data[used], options, function="fit_dropout", started=started)
    return fit_client_table(cl, first, predictors, method=method, ties=ties, baseline=baseline,
                            landmark_after=max(early_sessions) if landmark else None, conf_level=conf_level,
                            early_sessions=tuple(early_sessions), provenance=prov, stacklevel=4)


def fit_client_table(cl: pd.DataFrame, first: np.ndarray, predictors: list[str], *, method: str, ties: str,
                     baseline: str, landmark_after: int | None, conf_level: float, early_sessions: tuple,
                     provenance: Provenance, stacklevel: int = 2) -> DropoutResult:
    """Fit the dropout model to a per-client table (``client, time, event`` + predictors, complete rows).

    The engine behind :func:`fit_dropout`, for callers that build their own client-level predictors (e.g.
    :func:`~allianceStats.dynamics.fit_level_variability_repair`). ``first`` holds each client's first session;
    ``landmark_after`` = *L* keeps only clients with ``time > L`` and, for the discrete model, periods > *L*.
    """
    if landmark_after is not None:
        keep = cl["time"].to_numpy() > landmark_after
        cl, first = cl[keep].reset_index(drop=True), np.asarray(first)[keep]
    n_events = int(cl["event"].sum())
    if n_events == 0:
        raise IdentificationError(f"no dropouts among the {len(cl)} clients analysed; a dropout model needs "
                                  f"events")
    if len(cl) <= len(predictors) + 1:
        raise IdentificationError(f"{len(cl)} clients for {len(predictors)} predictors: too few to fit")
    if method == "cox":
        params, llf, conv = _fit_cox(cl, predictors, ties, conf_level)
        notes = ()
        ratio_name = "hazard ratio"
    else:
        if landmark_after is not None:
            first = np.maximum(first, landmark_after + 1)
        pp = person_period(cl, first)
        params, llf, conv, notes = _fit_discrete(pp, predictors, baseline, conf_level)
        ratio_name = "odds ratio of the discrete-time hazard"
    if not conv.converged:
        warnings.warn(f"dropout model ({method}) did not converge: {conv.message}; estimates are unreliable "
                      f"(separation or too few dropouts?)", ConvergenceWarning, stacklevel=stacklevel)
    return DropoutResult(method=method, params=params, clients=cl, n_clients=len(cl), n_events=n_events,
                         loglik=llf, conf_level=conf_level, ratio_name=ratio_name,
                         ties=ties if method == "cox" else None,
                         baseline=baseline if method == "discrete" else None,
                         early_sessions=tuple(early_sessions), landmark=landmark_after is not None, notes=notes,
                         convergence=conv, provenance=provenance)


def _km_one(label, t: np.ndarray, d: np.ndarray, conf_level: float, conf_type: str,
            censored: bool) -> pd.DataFrame:
    """One group's curve through :func:`allianceStats.survival.curves.product_limit` (R's survfit)."""
    from ..survival.curves import confidence_band, product_limit

    if d.sum() == 0 and not censored:
        return pd.DataFrame(columns=KM_COLUMNS)
    tab = product_limit(np.full(len(t), -np.inf), t, d)
    if not censored:
        tab = tab[tab["n_events"] > 0].reset_index(drop=True)
    lo, hi = confidence_band(tab["survival"].to_numpy(), tab["std_error_log"].to_numpy(), conf_level, conf_type)
    return pd.DataFrame({"group": label, "time": tab["time"], "n_risk": tab["n_risk"], "n_events": tab["n_events"],
                         "survival": tab["survival"], "std_error": tab["std_error_log"] * tab["survival"],
                         "ci_lower": lo, "ci_upper": hi, "n_censor": tab["n_censor"]}, columns=KM_COLUMNS)


@renamed_arguments(time="session")
def kaplan_meier(data: pd.DataFrame, *, group: str | None = None, split: str | None = None,
                 variable: str = "alliance", client: str = "client", session: str = "session",
                 event: str = "dropout", early_sessions: Sequence = (1, 2), duration: str | None = None,
                 conf_type: str = "log", censored: bool = False, conf_level: float = 0.95) -> pd.DataFrame:
    """Kaplan-Meier retention curves, overall or by group, as a tidy table for a report.

    Product-limit estimator (Kaplan & Meier, 1958) with Greenwood SEs and pointwise intervals (``conf_type``;
    log-scale by default, as R ``survfit``), computed by :func:`allianceStats.survival.curves.product_limit`;
    data convention as :func:`fit_dropout`, which also describes the standard one-row-per-client table
    accepted here. ``n_risk`` are the numbers at risk to print under a figure and, with ``censored=True``, the
    rows at censoring times (``n_events`` 0, ``n_censor`` > 0) place the censoring marks.

    Groups: ``group`` names a column that is constant within client (e.g. a treatment arm), or ``split`` groups
    clients by their early mean of ``variable``: ``"median"`` -> ``"below median"`` (< median) and
    ``"at or above median"``; ``"tertiles"`` -> ``"low"`` (<= 1st tertile), ``"middle"``, ``"high"`` (> 2nd
    tertile). Clients without an early value are left out of a split.

    Parameters
    ----------
    data : pandas.DataFrame
        Long session table, ``event`` = 1 on a dropout's last observed row (not modified).
    group : str, optional
        A column constant within client (e.g. a treatment arm).
    split : {"median", "tertiles"}, optional
        Group clients by their early mean of ``variable`` instead.
    variable : str
        The column ``split`` uses (default ``"alliance"``).
    client, session, event : str
        Client-id, session-number and dropout columns (``time=`` is the old name of ``session=``).
    early_sessions : sequence of int
        Sessions whose values make the early mean of ``variable``.
    duration : str, optional
        Survival-time column of a standard one-row-per-client table (see :func:`fit_dropout`).
    conf_type : {"log", "log-log", "plain"}
        Interval type, as R's ``conf.type`` (see :mod:`allianceStats.survival.curves`).
    censored : bool
        Also return the rows of censoring-only times (for censoring marks in a figure).
    conf_level : float
        Level of the pointwise intervals (default 0.95).

    Returns
    -------
    pandas.DataFrame
        One row per group and dropout time: ``group, time, n_risk, n_events, survival, std_error, ci_lower,
        ci_upper, n_censor`` (``group`` is ``"all"`` without grouping; ``time`` is the session number;
        ``DataFrame.attrs["conf_level"]`` and ``attrs["conf_type"]`` hold the interval settings). Rows are the
        dropout times only (the curve is 1 before the first), as R ``summary(survfit)``, unless
        ``censored=True``; a group without any dropout therefore has no rows (its curve stays at 1).

    Raises
    ------
    SchemaError
        A column is missing, the dropout column breaks the data convention, or ``group`` varies within client.
    OptionError
        ``group`` and ``split`` both given, or an option outside its choices or range.

    Examples
    --------
    >>> import pandas as pd
    >>> df = pd.DataFrame({"client": ["a", "a", "b", "c", "c", "c"], "session": [1, 2, 1, 1, 2, 3],
    ...                    "dropout": [0, 1, 1, 0, 0, 0], "alliance": [3.0, 3.0, 2.0, 4.5, 4.0, 4.0]})
    >>> kaplan_meier(df)[["group", "time", "n_risk", "n_events", "survival"]].round(3)
      group  time  n_risk  n_events  survival
    0   all     1       3         1     0.667
    1   all     2       2         1     0.333
    >>> kaplan_meier(df, censored=True)[["time", "n_risk", "n_events", "n_censor"]]
       time  n_risk  n_events  n_censor
    0     1       3         1         0
    1     2       2         1         0
    2     3       1         0         1
    """
    if group is not None and split is not None:
        raise OptionError("give either group= (a column) or split= ('median' or 'tertiles'), not both")
    if split is not None:
        check_choice("split", split, ("median", "tertiles"))
    conf_level = check_conf_level(conf_level)
    check_choice("conf_type", conf_type, ("log", "log-log", "plain"))
    censored = check_bool("censored", censored)
    preds = [variable] if split is not None else []
    standard = _is_client_table(data, session, duration)
    if standard:
        duration = duration or "time"
        cl = standard_client_table(data, preds, client=client, duration=duration, event=event, where="kaplan_meier")
    else:
        cl = client_survival(data, preds, client=client, session=session, event=event,
                             early_sessions=early_sessions, where="kaplan_meier")
    if group is not None and standard:
        require_columns(data, [group], where="kaplan_meier")
        labels = data[group].to_numpy()
    elif group is not None:
        require_columns(data, [group], where="kaplan_meier")
        per = data.groupby(client)[group].nunique(dropna=False)
        if (per > 1).any():
            raise SchemaError([f"column {group!r} changes within client(s) {per[per > 1].index[:5].tolist()}; "
                               f"a Kaplan-Meier group must be constant within client"], source="kaplan_meier")
        labels = data.groupby(client)[group].first().reindex(cl["client"]).to_numpy()
    elif split is not None:
        cl = _drop_incomplete(cl, [variable], "client", early_sessions, stacklevel=4, standard=standard)
        x = cl[variable].to_numpy()
        if split == "median":
            labels = np.where(x < np.median(x), "below median", "at or above median")
        else:
            q1, q2 = np.quantile(x, [1 / 3, 2 / 3])
            labels = np.where(x <= q1, "low", np.where(x <= q2, "middle", "high"))
    else:
        labels = np.full(len(cl), "all")
    order = list(pd.unique(labels)) if split is None else (
        ["below median", "at or above median"] if split == "median" else ["low", "middle", "high"])
    parts = [_km_one(lab, cl["time"].to_numpy(float)[labels == lab], cl["event"].to_numpy(float)[labels == lab],
                     conf_level, conf_type, censored)
             for lab in order if (labels == lab).any()]
    parts = [p for p in parts if len(p)]
    out = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=KM_COLUMNS)
    out = out.astype({"time": data[duration if standard else session].dtype, "n_risk": int, "n_events": int,
                      "n_censor": int})
    out.attrs["conf_level"] = conf_level
    out.attrs["conf_type"] = conf_type
    return out
