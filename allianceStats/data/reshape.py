"""Long <-> wide reshaping of session tables.

``to_wide`` turns one row per (client, session) into one row per client with columns ``<measure>_<session>``
(the layout of SEM panel models: Hamaker, Kuiper & Grasman 2015); ``to_long`` is its inverse. Sessions a
client did not attend become missing cells (NaN) in the wide table, so nothing is lost and FIML can use the
rest; ``to_long`` drops the rows whose measures are all missing.

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
from collections.abc import Iterable

import numpy as np
import pandas as pd

from ..errors import AllianceStatsError


def to_wide(df: pd.DataFrame, columns: str | Iterable[str], *, client: str = "client", time: str = "session",
            keep: Iterable[str] = (), sep: str = "_") -> pd.DataFrame:
    """One row per client, columns ``<measure><sep><session>`` for each measure and session number.

    ``keep`` names client-level columns (e.g. ``therapist``) carried over; they must be constant within a
    client. Session numbers that no client attended have no column.

    >>> import pandas as pd
    >>> d = pd.DataFrame({"client": [1, 1], "session": [1, 3], "therapist": ["t", "t"], "y": [1.0, 2.0]})
    >>> to_wide(d, "y", keep=["therapist"]).columns.tolist()
    ['client', 'therapist', 'y_1', 'y_3']
    """
    cols = [columns] if isinstance(columns, str) else list(columns)
    keep = list(keep)
    absent = [c for c in (client, time, *cols, *keep) if c not in df.columns]
    if absent:
        raise AllianceStatsError(f"to_wide(): column(s) {absent} not in the data (columns: {list(df.columns)}).")
    if df[[client, time]].duplicated().any():
        raise AllianceStatsError(f"to_wide(): duplicate ({client}, {time}) rows; validate with read_sessions().")
    varying = [k for k in keep if (df.groupby(client, sort=False)[k].nunique(dropna=False) > 1).any()]
    if varying:
        raise AllianceStatsError(f"to_wide(): keep column(s) {varying} vary within a client; keep only "
                                 "client-level columns, or reshape them as measures.")
    wide = df.pivot(index=client, columns=time, values=cols)
    wide = wide.reindex(columns=sorted(wide.columns, key=lambda c: (cols.index(c[0]), c[1])))
    wide.columns = [f"{m}{sep}{t}" for m, t in wide.columns]
    if keep:
        wide = df.groupby(client, sort=False)[keep].first().join(wide)
    wide = wide.reindex(pd.unique(df[client]))
    return wide.reset_index().rename(columns={"index": client})


def to_long(df: pd.DataFrame, columns: str | Iterable[str], *, client: str = "client", time: str = "session",
            sep: str = "_") -> pd.DataFrame:
    """Inverse of :func:`to_wide`: columns ``<measure><sep><session>`` back to one row per client and session.

    Rows whose measures are all missing (sessions not attended) are dropped; other columns of the wide
    table are repeated on every row of the client.

    >>> import pandas as pd
    >>> w = pd.DataFrame({"client": ["a"], "y_1": [1.0], "y_2": [np.nan]})
    >>> to_long(w, "y")
      client  session    y
    0      a        1  1.0
    """
    cols = [columns] if isinstance(columns, str) else list(columns)
    if client not in df.columns:
        raise AllianceStatsError(f"to_long(): column {client!r} not in the data (columns: {list(df.columns)}).")
    pieces, used = [], set()
    for m in cols:
        pat = re.compile(rf"^{re.escape(m)}{re.escape(sep)}(\d+)$")
        matched = {c: int(pat.match(c).group(1)) for c in df.columns if pat.match(str(c))}
        if not matched:
            raise AllianceStatsError(f"to_long(): no columns named '{m}{sep}<session>' in the data.")
        used.update(matched)
        part = df[[client, *matched]].melt(id_vars=client, var_name=time, value_name=m)
        part[time] = part[time].map(matched).astype(np.int64)
        pieces.append(part.set_index([client, time]))
    long = pd.concat(pieces, axis=1).dropna(how="all").reset_index()
    others = [c for c in df.columns if c not in used and c != client]
    if others:
        long = long.merge(df[[client, *others]], on=client, how="left")
        long = long[[client, *others, time, *cols]]
    order = pd.Series(pd.factorize(df[client])[0], index=df[client]).to_dict()
    long = long.assign(_o=long[client].map(order)).sort_values(["_o", time], kind="stable").drop(columns="_o")
    return long.reset_index(drop=True)
