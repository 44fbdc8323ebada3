"""Long session data to the wide panel layout the SEM panel models need.

A panel model sees one row per client and one column per variable and wave, ``<variable>_<wave>``.
Clients who missed a wave or dropped out keep their row; the missing waves are NaN, so full-information
maximum likelihood (FIML) uses everything they contributed instead of dropping them (listwise deletion
would keep only completers, who in substance-use treatment are a selected group).

Time-invariant columns (predictors such as baseline severity, a grouping column such as treatment arm)
are carried over once per client and must be constant within a client.
"""
from __future__ import annotations

from collections.abc import Sequence

import pandas as pd

from ..errors import SchemaError


def panel_wide(data: pd.DataFrame, variables: Sequence[str], *, client: str = "client", wave: str = "session",
               waves: Sequence | None = None, keep: Sequence[str] = ()) -> pd.DataFrame:
    """Pivot long session rows to one row per client with columns ``<variable>_<wave>``.

    Parameters
    ----------
    data
        Long table: one row per client and wave (it is not modified).
    variables
        Time-varying columns to spread over waves.
    client, wave
        Client identifier and wave (session) columns.
    waves
        Waves to keep, in order; default: every wave present, sorted.
    keep
        Time-invariant columns (predictors, group) carried once per client; each must be constant within
        a client (missing values are ignored when checking).

    Returns
    -------
    DataFrame with the client column first, then ``<variable>_<wave>`` for every variable and wave (NaN
    where the client has no row or a missing value), then the ``keep`` columns. Clients are sorted.

    Example
    -------
    >>> import pandas as pd
    >>> long = pd.DataFrame({"client": ["a", "a", "b"], "session": [1, 2, 1],
    ...                      "alliance": [3.0, 3.5, 4.0], "arm": ["x", "x", "y"]})
    >>> panel_wide(long, ["alliance"], keep=["arm"])
      client  alliance_1  alliance_2 arm
    0      a         3.0         3.5   x
    1      b         4.0         NaN   y
    """
    variables = [variables] if isinstance(variables, str) else list(variables)
    keep = [keep] if isinstance(keep, str) else list(keep)
    problems = []
    for col in [client, wave, *variables, *keep]:
        if col not in data.columns:
            problems.append(f"column {col!r} not found; the table has {list(data.columns)}")
    if problems:
        raise SchemaError(problems, source="panel data")
    dup = data.duplicated([client, wave], keep=False)
    if dup.any():
        rows = data.loc[dup, [client, wave]].drop_duplicates().head(10)
        problems = [f"client {c!r} has more than one row at {wave}={w!r}" for c, w in rows.itertuples(index=False)]
        problems.append("aggregate or drop duplicate sessions before fitting a panel model")
        raise SchemaError(problems, source="panel data")
    present = sorted(data[wave].dropna().unique())
    waves = present if waves is None else list(waves)
    if len(waves) < 2:
        raise SchemaError([f"column {wave!r} has {len(waves)} distinct wave(s); a panel model needs at least 2"],
                          source="panel data")
    sub = data.loc[data[wave].isin(waves), [client, wave, *variables]]
    clients = sorted(data[client].dropna().unique(), key=str)
    out = pd.DataFrame({client: clients})
    wide = sub.pivot(index=client, columns=wave, values=variables)
    for v in variables:
        for w in waves:
            col = (v, w)
            values = wide[col] if col in wide.columns else pd.Series(dtype=float)
            out[f"{v}_{w}"] = out[client].map(values).astype(float)
    for k in keep:
        per = data[[client, k]].dropna()
        n_values = per.groupby(client)[k].nunique()
        varying = n_values[n_values > 1]
        if len(varying):
            raise SchemaError([f"column {k!r} varies within client {c!r}; a time-invariant predictor or group must "
                               "be constant within a client" for c in list(varying.index)[:10]],
                              source="panel data")
        out[k] = out[client].map(per.groupby(client)[k].first())
    return out


__all__ = ["panel_wide"]
