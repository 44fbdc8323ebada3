"""Checking and ordering the long session table that every function of :mod:`allianceStats.dynamics` reads.

One row per client and session. The session column counts sessions (1, 2, ...); a missing session number is a
missed session, not a renumbering, so windows (repair window, sudden-gain neighbours, successive differences)
count session numbers, not rows.
"""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from ..errors import SchemaError
from ..results import Provenance, make_provenance


def session_table(data: pd.DataFrame, columns: Sequence[str], *, client: str, time: str,
                  where: str) -> pd.DataFrame:
    """Return a sorted copy of ``data[[client, time, *columns]]`` after checking it; never modifies ``data``.

    Every problem is collected and raised together in one :class:`SchemaError` (missing columns, non-numeric
    score or session columns, missing or non-finite session numbers, a session recorded twice for a client).
    Missing *scores* are allowed here; each caller states how it treats them.
    """
    if not isinstance(data, pd.DataFrame):
        raise SchemaError([f"expected a pandas DataFrame (long session table), got {type(data).__name__}"],
                          source=where)
    wanted = list(dict.fromkeys([client, time, *columns]))
    missing = [c for c in wanted if c not in data.columns]
    if missing:
        raise SchemaError([f"column {c!r} not found; the table has columns {list(map(str, data.columns))}"
                           for c in missing], source=where)
    df = data.loc[:, wanted].copy()
    problems = []
    for col in [time, *columns]:
        if not pd.api.types.is_numeric_dtype(df[col]) or pd.api.types.is_bool_dtype(df[col]):
            problems.append(f"column {col!r} has dtype {df[col].dtype}; expected numbers")
    if not problems:
        t = df[time].to_numpy(dtype=float)
        bad = ~np.isfinite(t)
        if bad.any():
            rows = list(df.index[bad][:5])
            problems.append(f"column {time!r}: {int(bad.sum())} missing or infinite session number(s), "
                            f"first at row(s) {rows}; every row needs its session number")
    if df[client].isna().any():
        rows = list(df.index[df[client].isna()][:5])
        problems.append(f"column {client!r}: missing client id at row(s) {rows}")
    if not problems:
        dup = df.duplicated([client, time], keep=False)
        if dup.any():
            first = df.loc[dup, [client, time]].drop_duplicates().head(5)
            pairs = ", ".join(f"({c!r}, {s})" for c, s in first.itertuples(index=False))
            problems.append(f"{int(dup.sum())} rows repeat a (client, session) pair, e.g. {pairs}; "
                            f"each client has at most one row per session — aggregate or fix the session numbers")
    if problems:
        raise SchemaError(problems, source=where)
    return df.sort_values([client, time], kind="mergesort").reset_index(drop=True)


def check_choice(name: str, value, choices: Sequence[str]) -> None:
    """Raise an :class:`AllianceStatsError` naming the valid choices when ``value`` is not one of them."""
    from ..errors import AllianceStatsError

    if value not in choices:
        raise AllianceStatsError(f"{name}={value!r} is not supported; choose one of {list(choices)}")


def provenance(data: pd.DataFrame, options: dict) -> Provenance:
    """:class:`Provenance` of a dynamics result (no seed: these analyses draw no random numbers)."""
    return make_provenance(data, options=options)
