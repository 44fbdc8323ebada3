"""Checking and ordering the long session table that every function of :mod:`allianceStats.dynamics` reads.

One row per client and session. The session column counts sessions (1, 2, ...); a missing session number is a
missed session, not a renumbering, so windows (repair window, sudden-gain neighbours, successive differences)
count session numbers, not rows. The checks themselves are those of :mod:`allianceStats.data.checks`.
"""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from ..data.checks import first_labels, require_columns, require_numeric
from ..errors import SchemaError
from ..results import Provenance, make_provenance


def session_table(data: pd.DataFrame, columns: Sequence[str], *, client: str, session: str,
                  where: str) -> pd.DataFrame:
    """Return a sorted copy of ``data[[client, session, *columns]]`` after checking it; never modifies ``data``.

    Every problem is collected and raised together in one :class:`SchemaError` (missing columns, non-numeric
    score or session columns, missing or non-finite session numbers, missing client ids, a session recorded
    twice for a client). Missing *scores* are allowed here; each caller states how it treats them.
    """
    wanted = list(dict.fromkeys([client, session, *columns]))
    require_columns(data, wanted, where=where)
    df = data.loc[:, wanted].copy()
    problems: list[str] = []
    try:
        require_numeric(df, [session, *columns], where=where)
    except SchemaError as err:
        problems += err.problems
    if not problems:
        bad = ~np.isfinite(df[session].to_numpy(dtype=float))
        if bad.any():
            problems.append(f"column {session!r}: {int(bad.sum())} missing or infinite session number(s) at "
                            f"row(s) {first_labels(df.index[bad])}; every row needs its session number")
    missing_id = df[client].isna().to_numpy()
    if missing_id.any():
        problems.append(f"column {client!r}: missing client id at row(s) {first_labels(df.index[missing_id])}; "
                        f"every row needs its client")
    if not problems:
        dup = df.duplicated([client, session], keep=False)
        if dup.any():
            first = df.loc[dup, [client, session]].drop_duplicates().head(5)
            pairs = ", ".join(f"({c!r}, {s})" for c, s in first.itertuples(index=False))
            problems.append(f"{int(dup.sum())} rows repeat a (client, session) pair, e.g. {pairs}; "
                            f"each client has at most one row per session — aggregate or fix the session numbers")
    if problems:
        raise SchemaError(problems, source=where)
    return df.sort_values([client, session], kind="mergesort").reset_index(drop=True)


def provenance(data: pd.DataFrame, options: dict, *, function: str, started: float) -> Provenance:
    """:class:`Provenance` of a dynamics result (no seed: these analyses draw no random numbers)."""
    return make_provenance(data, options=options, function=function, started=started)
