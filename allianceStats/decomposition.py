r"""Within-client, between-client and therapist parts of repeated measures, and their lags.

Definitions
-----------
For a measure :math:`x_{ijt}` of client :math:`i` (of therapist :math:`j`) at session :math:`t`, with
:math:`\bar x_i` the mean of the client's observed values and :math:`\bar{\bar x}_j` the unweighted mean of
the client means of therapist :math:`j`:

``<col>_within``
    :math:`x_{ijt} - \bar x_i` (person-mean centring; Curran & Bauer 2011). With ``method="detrend"`` the
    deviation from the client's own least-squares line over time instead (Wang & Maxwell 2015), and the
    trend part :math:`\hat b_i (t - \bar t_i)` is given as ``<col>_trend``.
``<col>_between``
    :math:`\bar x_i`, or :math:`\bar x_i - \bar{\bar x}_j` when ``therapist`` is given (Baldwin, Wampold &
    Imel 2007: the client's deviation from their therapist's mean).
``<col>_therapist``
    :math:`\bar{\bar x}_j`, when ``therapist`` is given.
``<col>_within_lag<k>``
    The within part of the same client at session :math:`t - k` — by session *number*, so the lag is missing
    (NaN) at a client's first sessions and wherever session :math:`t-k` was not attended; it never crosses
    clients.
``<time>0``
    :math:`t - 1`: time since the first session, so an intercept refers to session 1.

So ``within + between (+ therapist) (+ trend) == x`` for every observed value (up to rounding), and the
within parts of a client sum to zero. Missing values stay missing and are left out of the means.

References: Curran, P. J., & Bauer, D. J. (2011). *Annu. Rev. Psychol.* 62, 583–619. Wang, L. P., &
Maxwell, S. E. (2015). *Psychol. Methods* 20(1), 63–83. Baldwin, S. A., Wampold, B. E., & Imel, Z. E.
(2007). *J. Consult. Clin. Psychol.* 75(6), 842–852.

Example
-------
>>> import pandas as pd
>>> from allianceStats.decomposition import decompose
>>> d = pd.DataFrame({"client": ["a"] * 3 + ["b"] * 2, "session": [1, 2, 4, 1, 2],
...                   "alliance": [3.0, 4.0, 5.0, 2.0, 2.5]})
>>> decompose(d, "alliance")[["alliance_within", "alliance_between", "alliance_within_lag1"]]
   alliance_within  alliance_between  alliance_within_lag1
0            -1.00              4.00                   NaN
1             0.00              4.00                 -1.00
2             1.00              4.00                   NaN
3            -0.25              2.25                   NaN
4             0.25              2.25                 -0.25
"""
from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import pandas as pd

from .errors import AllianceStatsError

METHODS = ("person_mean", "detrend")


def _validate(df, cols, client, therapist, time, method, lags):
    problems = []
    if not isinstance(df, pd.DataFrame):
        raise AllianceStatsError(f"decompose() takes a pandas DataFrame; got {type(df).__name__}.")
    needed = [client, time, *cols] + ([therapist] if therapist else [])
    absent = [c for c in needed if c not in df.columns]
    if absent:
        problems.append(f"column(s) {absent} not in the data (columns: {list(df.columns)})")
    for c in cols:
        if c in df.columns and not pd.api.types.is_numeric_dtype(df[c]):
            problems.append(f"column {c!r} is not numeric (dtype {df[c].dtype}); validate it with read_sessions()")
    if method not in METHODS:
        problems.append(f"method={method!r} is not one of {METHODS}")
    bad_lags = [k for k in lags if not isinstance(k, (int, np.integer)) or k < 1]
    if bad_lags:
        problems.append(f"lags must be positive integers; got {bad_lags}")
    if not problems and df[[client, time]].duplicated().any():
        problems.append(f"duplicate ({client}, {time}) rows; validate the table with read_sessions() first")
    if not problems and therapist and (df.groupby(client)[therapist].nunique() > 1).any():
        problems.append(f"some clients have more than one {therapist!r}; clients must be nested in therapists")
    if problems:
        raise AllianceStatsError("decompose(): " + "; ".join(problems) + ".")


def decompose(df: pd.DataFrame, columns: str | Iterable[str], *, client: str = "client",
              therapist: str | None = None, time: str = "session", method: str = "person_mean",
              lags: Iterable[int] = (1,)) -> pd.DataFrame:
    """Split measures into within-client, between-client and therapist parts and add within-part lags.

    Definitions and references are in the module docstring. The input is never modified: a new DataFrame
    (same rows, same order, same index) is returned with the added columns.

    Parameters
    ----------
    df : DataFrame
        Long session table (one row per client and session), e.g. from :func:`read_sessions`.
    columns : str or list of str
        Numeric measures to decompose.
    client, therapist, time : str
        Column names; ``therapist=None`` gives a two-level decomposition.
    method : {"person_mean", "detrend"}
        Within part as deviation from the client mean, or from the client's linear trend.
    lags : iterable of int
        Lags (in session numbers) of the within part to add.

    Examples
    --------
    >>> from allianceStats.simulate import sdt_cycle
    >>> data, _ = sdt_cycle(3, 4, 5, seed=3)
    >>> out = decompose(data, ["alliance", "outcome"], therapist="therapist")
    >>> recon = out["alliance_within"] + out["alliance_between"] + out["alliance_therapist"]
    >>> bool(((recon - out["alliance"]).abs().dropna() < 1e-9).all())
    True
    """
    cols = [columns] if isinstance(columns, str) else list(columns)
    lags = tuple(lags)
    _validate(df, cols, client, therapist, time, method, lags)
    out = df.copy()
    codes, _ = pd.factorize(df[client], sort=False)
    t = df[time].to_numpy(dtype=np.float64)
    n_clients = codes.max() + 1 if len(codes) else 0

    def client_mean(values):
        ok = ~np.isnan(values)
        s = np.bincount(codes, weights=np.where(ok, values, 0.0), minlength=n_clients)
        n = np.bincount(codes, weights=ok.astype(float), minlength=n_clients)
        with np.errstate(invalid="ignore", divide="ignore"):
            return s / n, n

    if therapist:
        t_codes_of_client = np.zeros(n_clients, dtype=np.int64)
        t_codes_row, _ = pd.factorize(df[therapist], sort=False)
        t_codes_of_client[codes] = t_codes_row

    # lag lookup: row position of (same client, session t-k), via one integer key per row
    t_int = df[time].to_numpy(dtype=np.int64)
    span = int(t_int.max() - t_int.min()) + 1 + max(lags, default=0) if len(t_int) else 1
    key = codes.astype(np.int64) * span + (t_int - (t_int.min() if len(t_int) else 0))
    key_index = pd.Index(key)

    for col in cols:
        x = df[col].to_numpy(dtype=np.float64)
        mean, n = client_mean(x)
        if method == "person_mean":
            within = x - mean[codes]
        else:
            obs = ~np.isnan(x)
            tbar, _ = client_mean(np.where(obs, t, np.nan))
            dt = np.where(obs, t - tbar[codes], 0.0)
            sxy = np.bincount(codes, weights=np.where(obs, dt * (x - mean[codes]), 0.0), minlength=n_clients)
            sxx = np.bincount(codes, weights=dt * dt, minlength=n_clients)
            with np.errstate(invalid="ignore", divide="ignore"):
                slope = np.where(sxx > 0, sxy / sxx, 0.0)
            trend = slope[codes] * (t - tbar[codes])
            trend = np.where(obs, trend, np.nan)
            within = x - mean[codes] - trend
            out[f"{col}_trend"] = trend
        out[f"{col}_within"] = within
        if therapist:
            has = n > 0
            ts = np.bincount(t_codes_of_client[has], weights=mean[has], minlength=t_codes_of_client.max() + 1)
            tn = np.bincount(t_codes_of_client[has], minlength=t_codes_of_client.max() + 1)
            with np.errstate(invalid="ignore", divide="ignore"):
                tmean = ts / tn
            ther = tmean[t_codes_of_client][codes]
            out[f"{col}_between"] = mean[codes] - ther
            out[f"{col}_therapist"] = ther
        else:
            out[f"{col}_between"] = mean[codes]
        for k in lags:
            pos = key_index.get_indexer(key - k)
            lagged = np.where(pos >= 0, within[np.maximum(pos, 0)], np.nan)
            out[f"{col}_within_lag{k}"] = lagged
    out[f"{time}0"] = df[time] - 1
    return out
