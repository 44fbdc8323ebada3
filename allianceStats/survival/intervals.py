r"""From a session table and an events table to counting-process intervals :math:`(start, stop]` (R's ``tmerge``).

Construction
------------
Client *i* attends sessions at times :math:`\tau_{i1} < \tau_{i2} < \dots` (session numbers, or days since the
client's first session with ``time_scale=`` a day or date column) and has one row in the events table: the
time :math:`T_i` of the event (relapse, dropout, ...) or of the end of follow-up, with the event code (0 =
censored). The client is at risk from the first session (delayed entry: Andersen & Gill 1982). Intervals run
from session to session, :math:`(\tau_{is}, \tau_{i,s+1}]`, and the last one to :math:`T_i`; an interval that
contains :math:`T_i` is cut there, carries the event, and later sessions are not used. With ``periods=True`` the
intervals are split further into unit periods :math:`(p-1, p]` (person-period data for discrete-time hazards,
Singer & Willett 1993); ``period`` = *p*. Follow-up that ends within a period is grouped as usual for
discrete time: an event at *T* belongs to period :math:`\lceil T \rceil`, a censored client contributes the
periods observed in full (up to :math:`\lfloor T \rfloor`).

Covariates of an interval come only from sessions at or before its start — a value measured at session *s*
describes the risk after *s*, never the risk that ends at *s* (no look-ahead; Therneau, Crowson & Atkinson
2023, "Using time dependent covariates"). For each variable *v* of ``covariates``:

- ``v``: the current value, the one measured at the interval's start, or the last observed value before it
  when that session's value is missing (carried forward); missing before the first observed value;
- ``v_lag1``: the value current in the previous interval (the one before the current value);
- ``v_cummean``: the mean of the client's observed values up to the start (the client's level so far);
- ``v_within``: ``v - v_cummean``, the within-client deviation centred on the level so far (centring on the
  client's mean over *all* sessions would use future sessions);
- ``v_measured``: the time the current value was measured (≤ ``start``; :func:`check_intervals` verifies it).

``ruptures_so_far`` counts, up to the interval's start, sessions whose first covariate lies at least
``rupture_k`` SDs below the mean of the client's *earlier* observed values (SD of those values, ddof 1; at
least ``rupture_min_prior`` of them) — a prospective version of Stiles et al.'s (2004) rule (k = 2), which
judges a session only against the past. (:func:`~allianceStats.dynamics.detect_ruptures` compares each session
with the client's mean over the whole course, i.e. with the future; its flags would look ahead here.)

Checks (one :class:`~allianceStats.errors.SchemaError` naming rows and clients): columns present and numeric;
one event row per client; clients in one table but not the other; an event at or before the client's first
session (nothing at risk); an event after the end of follow-up (``follow_up=``). :func:`check_intervals` checks
any interval table (also one built elsewhere): reversed or empty intervals, overlaps within a client, and
covariates measured after the start of their interval.

References
----------
Andersen, P. K., & Gill, R. D. (1982). Cox's regression model for counting processes. *Ann. Stat., 10*, 1100-1120.
Singer, J. D., & Willett, J. B. (1993). It's about time: Using discrete-time survival analysis to study duration
and the timing of events. *Journal of Educational Statistics, 18*(2), 155-195.
Stiles, W. B., et al. (2004). Patterns of alliance development and the rupture-repair hypothesis. *Journal of
Counseling Psychology, 51*(1), 81-92.
Therneau, T., Crowson, C., & Atkinson, E. (2023). Using time dependent covariates and time dependent
coefficients in the Cox model. Vignette of the R package survival.

Example
-------
>>> import pandas as pd
>>> sessions = pd.DataFrame({"client": ["a"] * 4 + ["b"] * 3, "session": [1, 2, 3, 4, 1, 2, 3],
...                          "alliance": [4.0, 3.0, None, 5.0, 3.5, 4.5, 4.0]})
>>> events = pd.DataFrame({"client": ["a", "b"], "time": [3.5, 3], "event": [1, 0]})
>>> iv = survival_intervals(sessions, events)
>>> iv[["client", "start", "stop", "event", "alliance", "alliance_lag1", "alliance_cummean"]]
  client  start  stop  event  alliance  alliance_lag1  alliance_cummean
0      a    1.0   2.0      0       4.0            NaN               4.0
1      a    2.0   3.0      0       3.0            4.0               3.5
2      a    3.0   3.5      1       3.0            3.0               3.5
3      b    1.0   2.0      0       3.5            NaN               3.5
4      b    2.0   3.0      0       4.5            3.5               4.0
"""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from ..data.checks import (
    check_bool,
    check_number,
    check_positive_int,
    require_columns,
    require_frame,
    require_numeric,
)
from ..errors import SchemaError
from ._messages import labels_of


def _time_column(df: pd.DataFrame, col: str, where: str):
    s = df[col]
    if pd.api.types.is_datetime64_any_dtype(s):
        return s, True
    require_numeric(df, [col], where=where)
    return s.astype(float), False


def _prospective_ruptures(x: pd.Series, groups: pd.Series, k: float, min_prior: int) -> np.ndarray:
    obs = x.notna()
    xv = x.fillna(0.0).to_numpy(float)
    o = obs.to_numpy(float)
    g = groups.to_numpy()
    c1 = pd.Series(xv).groupby(g).cumsum().to_numpy() - xv
    c2 = pd.Series(xv * xv).groupby(g).cumsum().to_numpy() - xv * xv
    n = pd.Series(o).groupby(g).cumsum().to_numpy() - o
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = c1 / n
        var = (c2 - c1 * c1 / n) / (n - 1)
        sd = np.sqrt(np.maximum(var, 0.0))
        drop = mean - xv
        flag = obs.to_numpy() & (n >= min_prior) & (sd > 1e-10 * np.maximum(np.abs(mean), 1.0)) \
            & (drop >= k * sd * (1 - 1e-10))
    return flag


def survival_intervals(data: pd.DataFrame, events: pd.DataFrame, *, client: str = "client",
                       session: str = "session", time_scale: str = "session",
                       covariates: Sequence[str] = ("alliance",), event: str = "event", event_time: str = "time",
                       follow_up: str | None = None, censored=0, keep: Sequence[str] = (), rupture_k: float = 2.0,
                       rupture_min_prior: int = 3, periods: bool = False) -> pd.DataFrame:
    """Counting-process intervals (start, stop] with time-varying alliance covariates, from sessions and events.

    Construction, covariates and checks: module docstring (:mod:`allianceStats.survival.intervals`).

    Parameters
    ----------
    data : pandas.DataFrame
        Long session table, one row per attended session. Never modified.
    events : pandas.DataFrame
        One row per client: ``event_time`` (event or end of follow-up, on the ``time_scale``) and ``event``
        (0 = censored; 1, or a label such as ``"relapse"`` / ``"dropout"`` for competing events).
    client, session : str
        Client-id and session-number columns of ``data`` (``client`` is also the events table's id column).
    time_scale : str
        ``"session"`` (time = session number) or the name of a column of ``data`` holding the session's time:
        numbers (e.g. days since intake) or dates (converted to days since the client's first session; then
        ``event_time`` must hold dates too).
    covariates : sequence of str
        Numeric session-level columns to carry as current, lagged, cumulative-mean and within-client values.
    event, event_time : str
        Columns of ``events``.
    follow_up : str, optional
        Column of ``events`` with the end of follow-up; an event after it is an error.
    censored : object
        The value of the event column that means "no event" (default 0; e.g. ``"completed"``). It becomes 0 in
        the output's ``event`` column.
    keep : sequence of str
        Client-level columns of ``data`` copied to every interval (e.g. ``"female"``, ``"therapist"``); they must
        be constant within client.
    rupture_k : float
        SDs below the prior mean that make a prospective rupture (Stiles et al. 2004: 2).
    rupture_min_prior : int
        Earlier observed scores needed before a session can be a rupture.
    periods : bool
        Split into unit periods (person-period data; sessions at whole-number times) with a ``period`` column;
        an event at a fractional time falls in the period that contains it, a censored client keeps the periods
        observed in full.

    Returns
    -------
    pandas.DataFrame
        ``client, start, stop, event, session`` (the session at the start), per covariate ``v, v_lag1,
        v_cummean, v_within, v_measured``, ``ruptures_so_far``, the ``keep`` columns (+ ``period``).

    Raises
    ------
    SchemaError
        Missing or non-numeric columns, several event rows for a client, clients in one table only, events at or
        before the first session or after ``follow_up``, ``keep`` columns that vary within client, non-integer
        times with ``periods=True``.

    Examples
    --------
    >>> import pandas as pd
    >>> sessions = pd.DataFrame({"client": [1, 1, 1], "session": [1, 2, 4], "alliance": [4.0, 3.5, 4.5]})
    >>> events = pd.DataFrame({"client": [1], "time": [5], "event": [1]})
    >>> survival_intervals(sessions, events, periods=True)[["period", "start", "stop", "event", "alliance"]]
       period  start  stop  event  alliance
    0       2    1.0   2.0      0       4.0
    1       3    2.0   3.0      0       3.5
    2       4    3.0   4.0      0       3.5
    3       5    4.0   5.0      1       4.5
    """
    where = "survival_intervals"
    covariates = [covariates] if isinstance(covariates, str) else list(covariates)
    keep = [keep] if isinstance(keep, str) else list(keep)
    periods = check_bool("periods", periods)
    rupture_k = check_number("rupture_k", rupture_k, minimum=0, strict=True)
    rupture_min_prior = check_positive_int("rupture_min_prior", rupture_min_prior, minimum=2)
    tcol = session if time_scale == "session" else time_scale
    problems: list[str] = []
    for table, cols, what in ((data, [client, session, tcol, *covariates, *keep], "data"),
                              (events, [client, event_time, event, follow_up], "events")):
        try:
            require_columns(table, cols, where=where, what=what)
        except SchemaError as err:
            problems += err.problems
    if problems:
        raise SchemaError(problems, source=where)
    try:
        require_numeric(data, [session, *covariates], where=where)
    except SchemaError as err:
        problems += err.problems
    if problems:
        raise SchemaError(problems, source=where)
    df = data[list(dict.fromkeys([client, session, tcol, *covariates, *keep]))].copy()
    ev = events[list(dict.fromkeys([client, event_time, event] + ([follow_up] if follow_up else [])))].copy()
    t_sess, is_date = _time_column(df, tcol, where)
    if is_date != pd.api.types.is_datetime64_any_dtype(ev[event_time]):
        raise SchemaError([f"time_scale={time_scale!r} holds {'dates' if is_date else 'numbers'} but events column "
                           f"{event_time!r} does not; give both on the same scale"], source=where)
    if not is_date:
        require_numeric(ev, [event_time] + ([follow_up] if follow_up else []), where=where)
    # --- checks on the two tables -------------------------------------------------------------------------
    bad = df[client].isna() | t_sess.isna()
    if bad.any():
        problems.append(f"missing client id or time ({tcol!r}) in data at row(s) {labels_of(df.index[bad])}")
    dup = df.duplicated([client, tcol], keep=False) & ~bad
    if dup.any():
        problems.append(f"client(s) {labels_of(pd.unique(df.loc[dup, client]))} have two sessions at the same "
                        f"time (rows {labels_of(df.index[dup])}); one row per client and session")
    evdup = ev[client].duplicated(keep=False)
    if evdup.any():
        problems.append(f"events has several rows for client(s) {labels_of(pd.unique(ev.loc[evdup, client]))}; "
                        f"give one row per client (the first event, or the end of follow-up)")
    if ev[event_time].isna().any() or ev[event].isna().any():
        m = ev[event_time].isna() | ev[event].isna()
        problems.append(f"events has a missing time or event at row(s) {labels_of(ev.index[m])} (client(s) "
                        f"{labels_of(ev.loc[m, client])})")
    in_sessions, in_events = set(pd.unique(df[client])), set(pd.unique(ev[client]))
    only_s = [c for c in pd.unique(df[client]) if c not in in_events]
    only_e = [c for c in pd.unique(ev[client]) if c not in in_sessions]
    if only_s:
        problems.append(f"client(s) {labels_of(only_s)} have sessions but no row in events (their follow-up "
                        f"is unknown); add them with event = 0 at the end of follow-up")
    if only_e:
        problems.append(f"client(s) {labels_of(only_e)} are in events but have no session")
    for col in keep:
        varies = df.groupby(client)[col].nunique(dropna=False) > 1
        if varies.any():
            problems.append(f"keep column {col!r} changes within client(s) {labels_of(varies.index[varies])}; "
                            f"put time-varying columns in covariates=")
    if problems:
        raise SchemaError(problems, source=where)
    df["_t"] = t_sess
    df = df.sort_values([client, "_t"], kind="mergesort").reset_index(drop=True)
    first = df.groupby(client, sort=False)["_t"].transform("min")
    ev = ev.set_index(client)
    end = ev[event_time].reindex(df[client]).to_numpy()
    if is_date:
        day = np.timedelta64(1, "D")
        df["_t"] = (df["_t"] - first) / day
        first_dates = data.groupby(client)[tcol].min()
        ev_t = (ev[event_time] - first_dates.reindex(ev.index)) / day
        fu = None if follow_up is None else (ev[follow_up] - first_dates.reindex(ev.index)) / day
    else:
        ev_t = ev[event_time].astype(float)
        fu = None if follow_up is None else ev[follow_up].astype(float)
    end = ev_t.reindex(df[client]).to_numpy(float)
    entry = df.groupby(client, sort=False)["_t"].min()
    early = ev_t.reindex(entry.index) <= entry
    if early.any():
        problems.append(f"client(s) {labels_of(early.index[early])} have their event or end of follow-up at or "
                        f"before their first session (nothing at risk); remove them or check {event_time!r}")
    if fu is not None:
        late = ev_t > fu
        if late.any():
            problems.append(f"client(s) {labels_of(late.index[late])} have an event time after their end of "
                            f"follow-up (column {follow_up!r}); events must fall within follow-up")
    if problems:
        raise SchemaError(problems, source=where)
    # --- covariates as of each session (carried forward, lagged, cumulative mean) -------------------------
    g = df.groupby(client, sort=False)
    out = pd.DataFrame({"client": df[client], "session": df[session], "start": df["_t"].astype(float)})
    nxt = g["_t"].shift(-1).to_numpy(float)
    stop = np.where(np.isnan(nxt), end, np.minimum(nxt, end))
    out["stop"] = stop
    code = ev[event].reindex(df[client]).to_numpy()
    code = np.where(code == censored, 0, code)
    hit = (end > out["start"].to_numpy()) & (end <= stop) & (code != 0)
    out["event"] = np.where(hit, code, 0)
    for v in covariates:
        x = df[v]
        cur = x.groupby(df[client]).ffill()
        measured = df["_t"].where(x.notna()).groupby(df[client]).ffill()
        cnt = x.notna().astype(float).groupby(df[client]).cumsum()
        csum = x.fillna(0.0).groupby(df[client]).cumsum()
        cmean = (csum / cnt).where(cnt > 0)
        out[v] = cur.to_numpy(float)
        out[f"{v}_lag1"] = cur.groupby(df[client]).shift(1).to_numpy(float)
        out[f"{v}_cummean"] = cmean.to_numpy(float)
        out[f"{v}_within"] = out[v] - out[f"{v}_cummean"]
        out[f"{v}_measured"] = measured.to_numpy(float)
    if covariates:
        flag = _prospective_ruptures(df[covariates[0]], df[client], rupture_k, rupture_min_prior)
        out["ruptures_so_far"] = pd.Series(flag.astype(int)).groupby(df[client].to_numpy()).cumsum().to_numpy()
    for col in keep:
        out[col] = df[col].to_numpy()
    keep_rows = out["start"].to_numpy() < out["stop"].to_numpy()
    out = out[keep_rows].reset_index(drop=True)
    out = out.astype({"client": data[client].dtype})
    if periods:
        out = _split_periods(out, where)
    check_intervals(out, client="client", measured=[f"{v}_measured" for v in covariates])
    lead = ["client"] + (["period"] if periods else []) + ["start", "stop", "event", "session"]
    return out[lead + [c for c in out.columns if c not in lead]]


def _split_periods(out: pd.DataFrame, where: str) -> pd.DataFrame:
    """Unit periods (p-1, p] from intervals with whole-number starts; a fractional end of follow-up is grouped:
    an event at time T falls in period ceil(T), a censored client counts only the periods observed in full
    (up to floor(T))."""
    t = out[["start", "stop"]].to_numpy(float)
    bad = t[:, 0] != np.round(t[:, 0])
    if bad.any():
        raise SchemaError([f"periods=True needs sessions at whole-number times; found fractions at interval row(s) "
                           f"{labels_of(out.index[bad])} (client(s) {labels_of(pd.unique(out.loc[bad, 'client']))})"],
                          source=where)
    is_event = (out["event"].to_numpy() != 0)
    end = np.where(is_event, np.ceil(t[:, 1]), np.floor(t[:, 1]))
    lengths = np.maximum(end - t[:, 0], 0).astype(int)
    idx = np.repeat(np.arange(len(out)), lengths)
    offset = np.arange(len(idx)) - np.repeat(np.concatenate([[0], np.cumsum(lengths)[:-1]]), lengths)
    res = out.iloc[idx].reset_index(drop=True)
    res["start"] = t[idx, 0] + offset
    res["stop"] = res["start"] + 1
    res["period"] = res["stop"].astype(int)
    last = res["stop"].to_numpy() == end[idx]
    res["event"] = np.where(last, res["event"].to_numpy(), 0)
    return res


def check_intervals(data: pd.DataFrame, *, client: str = "client", start: str = "start", stop: str = "stop",
                    measured: Sequence[str] = ()) -> pd.DataFrame:
    """Check a counting-process table: no reversed or empty intervals, no overlaps within a client, no look-ahead.

    Parameters
    ----------
    data : pandas.DataFrame
        Interval table (never modified).
    client, start, stop : str
        Column names.
    measured : sequence of str
        Columns holding the time each covariate value was measured; each must be ≤ ``start`` (a covariate
        measured after the start of its interval uses the future).

    Returns
    -------
    pandas.DataFrame
        ``data`` itself when every check passes.

    Raises
    ------
    SchemaError
        Every problem, with rows and clients.

    Examples
    --------
    >>> import pandas as pd
    >>> iv = pd.DataFrame({"client": [1, 1, 2], "start": [0, 1.5, 0], "stop": [2, 3, 0],
    ...                    "alliance_measured": [0, 2, 0]})
    >>> check_intervals(iv, measured=["alliance_measured"])
    Traceback (most recent call last):
    ...
    allianceStats.errors.SchemaError: 3 problems found in check_intervals:
      1. stop <= start at row(s) 2 (client(s) 2): intervals are (start, stop] with stop later than start
      2. overlapping intervals of client(s) 1 at row(s) 1: an interval starts before the previous one ends
      3. column 'alliance_measured' is later than 'start' at row(s) 1 (client(s) 1): a covariate measured ...
    """
    where = "check_intervals"
    require_frame(data, where=where)
    measured = [measured] if isinstance(measured, str) else list(measured)
    require_columns(data, [client, start, stop, *measured], where=where)
    require_numeric(data, [start, stop, *measured], where=where)
    problems = []
    s, e = data[start].to_numpy(float), data[stop].to_numpy(float)
    rev = e <= s
    if rev.any():
        problems.append(f"stop <= start at row(s) {labels_of(data.index[rev])} (client(s) "
                        f"{labels_of(pd.unique(data.loc[rev, client]))}): intervals are (start, stop] with stop "
                        f"later than start")
    codes = pd.factorize(data[client])[0]
    order = np.lexsort((s, codes))
    same = codes[order][1:] == codes[order][:-1]
    over = same & (s[order][1:] < e[order][:-1] - 1e-9 * np.maximum(1.0, np.abs(e[order][:-1])))
    if over.any():
        rows = order[1:][over]
        problems.append(f"overlapping intervals of client(s) {labels_of(pd.unique(data[client].to_numpy()[rows]))} "
                        f"at row(s) {labels_of(data.index[rows])}: an interval starts before the previous one ends")
    for col in measured:
        late = data[col].to_numpy(float) > s
        if late.any():
            problems.append(f"column {col!r} is later than {start!r} at row(s) {labels_of(data.index[late])} "
                            f"(client(s) {labels_of(pd.unique(data.loc[late, client]))}): a covariate measured "
                            f"after its interval begins uses the future (look-ahead); use the last value measured "
                            f"at or before the start")
    if problems:
        raise SchemaError(problems, source=where)
    return data
