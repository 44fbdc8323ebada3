"""Long <-> wide reshaping of session tables.

:func:`to_wide` turns one row per (client, session) into one row per client with columns
``<measure>_<session>``: the layout of SEM panel models (Hamaker, Kuiper & Grasman 2015), which the panel fits
(:func:`allianceStats.fit_riclpm` and friends) build with it. :func:`to_long` is its inverse.

Clients who missed a session or dropped out keep their row; the missing sessions are NaN, so full-information
maximum likelihood (FIML) uses everything they contributed instead of dropping them (listwise deletion would
keep only completers, who in substance-use treatment are a selected group). ``to_long`` drops the rows whose
measures are all missing.

Example
-------
>>> import pandas as pd
>>> from allianceStats import to_wide, to_long
>>> d = pd.DataFrame({"client": ["a", "a", "b"], "session": [1, 2, 1], "alliance": [3.0, 4.0, 2.0]})
>>> w = to_wide(d, "alliance")
>>> w
  client  alliance_1  alliance_2
0      a         3.0         4.0
1      b         2.0         NaN
>>> to_long(w, "alliance").equals(d)
True
"""
from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np
import pandas as pd

from .._deprecation import renamed_arguments
from ..errors import OptionError, SchemaError
from .checks import first_labels, require_columns

__all__ = ["to_wide", "to_long"]


def _names(value: str | Iterable[str], argument: str) -> list[str]:
    names = [value] if isinstance(value, str) else list(value)
    bad = [v for v in names if not isinstance(v, str)]
    if bad:
        raise OptionError(f"{argument}={value!r}: give column names (text); found {first_labels(bad)}")
    return names


def session_label(value: Any) -> Any:
    """A session number as it appears in a column name: 3.0 is written ``3``, not ``3.0``."""
    if isinstance(value, (float, np.floating)) and float(value).is_integer():
        return int(value)
    if isinstance(value, np.integer):
        return int(value)
    return value


@renamed_arguments(df="data", time="session")
def to_wide(data: pd.DataFrame, columns: str | Iterable[str], *, client: str = "client",
            session: str = "session", waves: Sequence[Any] | None = None, keep: str | Iterable[str] = (),
            sep: str = "_") -> pd.DataFrame:
    """One row per client, columns ``<measure><sep><session>`` for each measure and session number.

    Parameters
    ----------
    data : DataFrame
        Long table, one row per client and session (never modified).
    columns : str or list of str
        Time-varying measures to spread over sessions.
    client, session : str
        Client identifier and session-number columns.
    waves : sequence, optional
        Session numbers to keep, in this order; every one gets a column, NaN where no client has it.
        Default: every session number present, sorted.
    keep : str or list of str
        Client-level columns (``therapist``, a baseline predictor, a treatment arm) carried over once per
        client. Each must be constant within a client; missing values are ignored (the first observed value
        is used).
    sep : str
        Separator between the measure and the session number.

    Returns
    -------
    DataFrame
        The client column, then the ``keep`` columns, then ``<measure><sep><session>`` (measure by measure,
        sessions in order). Clients in order of first appearance; a client's missing sessions are NaN.

    Raises
    ------
    SchemaError
        A column is absent, a client has two rows for one session, a client or session id is missing, or a
        ``keep`` column varies within a client (every problem is listed).

    Examples
    --------
    >>> import pandas as pd
    >>> d = pd.DataFrame({"client": [1, 1], "session": [1, 3], "therapist": ["t", "t"], "y": [1.0, 2.0]})
    >>> to_wide(d, "y", keep=["therapist"]).columns.tolist()
    ['client', 'therapist', 'y_1', 'y_3']
    >>> to_wide(d, "y", waves=[1, 2, 3])
       client  y_1  y_2  y_3
    0       1  1.0  NaN  2.0
    """
    cols = _names(columns, "columns")
    keep = _names(keep, "keep")
    data = require_columns(data, [client, session, *cols, *keep], where="to_wide")
    problems = []
    for role in (client, session):
        absent = data[role].isna().to_numpy()
        if absent.any():
            problems.append(f"column {role!r} is missing at {int(absent.sum())} row(s) "
                            f"({first_labels(data.index[absent])}); every row needs a {role} — drop those rows or "
                            "fill them in")
    ids = data[[client, session]].dropna()
    dup = ids.duplicated(keep=False).to_numpy()
    if dup.any():
        pairs = ids.loc[dup].drop_duplicates().itertuples(index=False)
        problems.append(f"more than one row for ({client}, {session}) = {first_labels(map(tuple, pairs))}; "
                        "aggregate or drop the duplicate sessions first (read_sessions() reports them)")
    per_client = data.dropna(subset=[client]).groupby(client, sort=False)
    for k in keep:
        n_values = per_client[k].nunique(dropna=True)
        varying = list(n_values.index[n_values > 1])
        if varying:
            problems.append(f"column {k!r} varies within client(s) {first_labels(varying)}; keep= takes client-level "
                            "columns only — reshape it as a measure (columns=) instead")
    if problems:
        raise SchemaError(problems, source="to_wide")
    present = sorted(pd.unique(data[session].dropna()))
    sessions = present if waves is None else list(waves)
    if len(set(sessions)) != len(sessions):
        raise OptionError(f"waves={list(sessions)!r} lists a session more than once; give each session number once")
    clients = pd.unique(data[client].dropna())
    rows = data.loc[data[session].isin(sessions), [client, session, *cols]]
    pivot = rows.pivot(index=client, columns=session, values=cols) if len(rows) else None
    out = pd.DataFrame({client: clients})
    for k in keep:
        out[k] = out[client].map(per_client[k].first()).to_numpy()
    measures = {}
    for m in cols:
        for s in sessions:
            values = pivot[(m, s)] if pivot is not None and (m, s) in pivot.columns else pd.Series(dtype=float)
            measures[f"{m}{sep}{session_label(s)}"] = out[client].map(values).to_numpy()
    return pd.concat([out, pd.DataFrame(measures, index=out.index)], axis=1)


@renamed_arguments(df="data", time="session")
def to_long(data: pd.DataFrame, columns: str | Iterable[str], *, client: str = "client", session: str = "session",
            sep: str = "_") -> pd.DataFrame:
    """Inverse of :func:`to_wide`: columns ``<measure><sep><session>`` back to one row per client and session.

    Parameters
    ----------
    data : DataFrame
        Wide table, one row per client (never modified).
    columns : str or list of str
        Measures to gather; each needs at least one column ``<measure><sep><number>``.
    client, session : str
        Client column of ``data``, and the name of the session-number column to create.
    sep : str
        Separator between the measure and the session number.

    Returns
    -------
    DataFrame
        One row per client and session; rows whose measures are all missing (sessions not attended) are
        dropped; other columns of the wide table are repeated on every row of the client.

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> w = pd.DataFrame({"client": ["a"], "y_1": [1.0], "y_2": [np.nan]})
    >>> to_long(w, "y")
      client  session    y
    0      a        1  1.0
    """
    cols = _names(columns, "columns")
    data = require_columns(data, [client], where="to_long")
    pieces, used, problems = [], set(), []
    for m in cols:
        pat = re.compile(rf"^{re.escape(m)}{re.escape(sep)}(\d+)$")
        matched = {c: int(hit.group(1)) for c in data.columns if (hit := pat.match(str(c)))}
        if not matched:
            problems.append(f"no columns named '{m}{sep}<session>' in data; it has columns "
                            f"{first_labels(map(str, data.columns), limit=20)}")
            continue
        used.update(matched)
        part = data[[client, *matched]].melt(id_vars=client, var_name=session, value_name=m)
        part[session] = part[session].map(matched).astype(np.int64)
        pieces.append(part.set_index([client, session]))
    if problems:
        raise SchemaError(problems, source="to_long")
    long = pd.concat(pieces, axis=1).dropna(how="all").reset_index()
    others = [c for c in data.columns if c not in used and c != client]
    if others:
        long = long.merge(data[[client, *others]], on=client, how="left")
        long = long[[client, *others, session, *cols]]
    order = pd.Series(pd.factorize(data[client])[0], index=data[client]).to_dict()
    long = long.assign(_o=long[client].map(order)).sort_values(["_o", session], kind="stable").drop(columns="_o")
    return long.reset_index(drop=True)
