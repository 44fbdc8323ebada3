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
``<session>0``
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

from ._deprecation import renamed_arguments
from .data.checks import check_bool, check_choice, first_labels, require_columns, require_numeric
from .errors import OptionError, SchemaError

METHODS = ("person_mean", "detrend")
_MAX_SESSION = 2**53  # session numbers a float64 holds exactly

_WHERE = "decompose"


def _validate(data, cols, client, therapist, session, method, lags) -> None:
    check_choice("method", method, METHODS)
    bad_lags = [k for k in lags if isinstance(k, (bool, np.bool_)) or not isinstance(k, (int, np.integer)) or k < 1
                or k > _MAX_SESSION]
    if bad_lags:
        raise OptionError(f"lags={lags!r}: lags must be positive integers (session numbers back), e.g. (1,) or "
                          f"(1, 2); found {bad_lags}")
    require_columns(data, [client, session, *cols, therapist], where=_WHERE)
    problems = []
    try:
        require_numeric(data, [session, *cols], where=_WHERE)
    except SchemaError as err:
        problems += err.problems
    if not problems:
        s = data[session].to_numpy(dtype=np.float64)
        bad = ~np.isfinite(s) | (s != np.round(s))
        if bad.any():
            problems.append(f"column {session!r}: missing or non-integer session number(s) at row(s) "
                            f"{first_labels(data.index[bad])}; every row needs a whole session number — validate "
                            f"the table with read_sessions() first")
        huge = np.isfinite(s) & (np.abs(s) > _MAX_SESSION)
        if huge.any():
            problems.append(f"column {session!r}: session number(s) beyond ±2**53 at row(s) "
                            f"{first_labels(data.index[huge])} (not stored exactly); session numbers count "
                            f"sessions — validate the table with read_sessions() first")
    for role, name in (("client", client), ("therapist", therapist)):
        if name is None:
            continue
        missing_id = data[name].isna().to_numpy()
        if missing_id.any():
            problems.append(f"column {name!r}: missing {role} id at row(s) {first_labels(data.index[missing_id])}; "
                            f"every row needs one — validate the table with read_sessions() first")
    if not problems:
        dup = data.duplicated([client, session], keep=False).to_numpy()
        if dup.any():
            problems.append(f"duplicate ({client}, {session}) rows at {first_labels(data.index[dup])}; each client "
                            f"has one row per session — validate the table with read_sessions() first")
    if not problems and therapist:
        n_ther = data.groupby(client, sort=False)[therapist].nunique()
        multi = n_ther.index[n_ther.to_numpy() > 1]
        if len(multi):
            problems.append(f"column {therapist!r}: client(s) {first_labels(multi)} have more than one therapist; "
                            f"clients must be nested in therapists")
    if problems:
        raise SchemaError(problems, source=_WHERE)


def _derived_columns(cols, therapist, session, method, lags) -> list[str]:
    out = []
    for col in cols:
        out += [f"{col}_within", f"{col}_between"]
        out += [f"{col}_therapist"] if therapist else []
        out += [f"{col}_trend"] if method == "detrend" else []
        out += [f"{col}_within_lag{k}" for k in lags]
    return out


@renamed_arguments(df="data", time="session")
def decompose(data: pd.DataFrame, columns: str | Iterable[str], *, client: str = "client",
              therapist: str | None = None, session: str = "session", method: str = "person_mean",
              lags: Iterable[int] = (1,), overwrite: bool = False) -> pd.DataFrame:
    """Split measures into within-client, between-client and therapist parts and add within-part lags.

    Definitions and references are in the module docstring (Curran & Bauer 2011; Wang & Maxwell 2015;
    Baldwin, Wampold & Imel 2007). The input is never modified: a new DataFrame (same rows, same order, same
    index) is returned with the added columns.

    Parameters
    ----------
    data : pandas.DataFrame
        Long session table (one row per client and session), e.g. from :func:`read_sessions`.
    columns : str or list of str
        Numeric measures to decompose.
    client, therapist, session : str
        Column names; ``therapist=None`` gives a two-level decomposition (``time=`` is the old name of
        ``session=``, ``df=`` of ``data``).
    method : {"person_mean", "detrend"}
        Within part as deviation from the client mean, or from the client's linear trend.
    lags : iterable of int
        Lags (in session numbers) of the within part to add.
    overwrite : bool
        The table already holds a column this call would add (``<col>_within`` …, e.g. from an earlier call):
        ``False`` (default) refuses with a :class:`~allianceStats.errors.SchemaError` naming them, ``True``
        replaces them in the returned copy. ``<session>0`` is always recomputed (it only depends on the session
        numbers) unless it holds other values, which also needs ``overwrite=True``.

    Returns
    -------
    pandas.DataFrame
        A copy of ``data`` with ``<col>_within``, ``<col>_between`` (``<col>_therapist``, ``<col>_trend``),
        ``<col>_within_lag<k>`` for each measure and ``<session>0``.

    Raises
    ------
    SchemaError
        A column is missing or not numeric, a session number or client id is missing, a (client, session)
        pair repeats, a client has two therapists, or an output column exists and ``overwrite=False``.
    OptionError
        ``method`` or ``lags`` has a value outside its choices.

    Examples
    --------
    >>> from allianceStats.simulate import sdt_cycle
    >>> data, _ = sdt_cycle(3, 4, 5, seed=3)
    >>> out = decompose(data, ["alliance", "outcome"], therapist="therapist")
    >>> recon = out["alliance_within"] + out["alliance_between"] + out["alliance_therapist"]
    >>> bool(((recon - out["alliance"]).abs().dropna() < 1e-9).all())
    True
    >>> decompose(out, "alliance")
    Traceback (most recent call last):
    ...
    allianceStats.errors.SchemaError: 1 problem found in decompose:
      1. data already has the column(s) 'alliance_within', 'alliance_between', 'alliance_within_lag1' that
      decompose() would add; pass overwrite=True to replace them in the returned copy, or drop or rename them first
    """
    cols = [columns] if isinstance(columns, str) else list(columns)
    lags = tuple(lags)
    overwrite = check_bool("overwrite", overwrite)
    _validate(data, cols, client, therapist, session, method, lags)
    if not overwrite:
        clash = [c for c in _derived_columns(cols, therapist, session, method, lags) if c in data.columns]
        zero = f"{session}0"
        if zero in data.columns and not (data[zero] == data[session] - 1).all():
            clash.append(zero)
        if clash:
            raise SchemaError([f"data already has the column(s) {first_labels(clash, limit=20)} that decompose() "
                               f"would add; pass overwrite=True to replace them in the returned copy, or drop or "
                               f"rename them first"], source=_WHERE)
    out = data.copy()
    codes, _ = pd.factorize(data[client], sort=False)
    t = data[session].to_numpy(dtype=np.float64)
    n_clients = codes.max() + 1 if len(codes) else 0

    def client_mean(values):
        ok = ~np.isnan(values)
        s = np.bincount(codes, weights=np.where(ok, values, 0.0), minlength=n_clients)
        n = np.bincount(codes, weights=ok.astype(float), minlength=n_clients)
        with np.errstate(invalid="ignore", divide="ignore"):
            return s / n, n

    if therapist:
        t_codes_of_client = np.zeros(n_clients, dtype=np.int64)
        t_codes_row, _ = pd.factorize(data[therapist], sort=False)
        t_codes_of_client[codes] = t_codes_row

    # lag lookup: row position of (same client, session t-k), matched as (client, session) pairs — no packed
    # integer key, which would overflow or collide for large or negative session numbers
    t_int = data[session].to_numpy(dtype=np.float64).astype(np.int64)
    key_index = pd.MultiIndex.from_arrays([codes, t_int])

    for col in cols:
        x = data[col].to_numpy(dtype=np.float64)
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
            pos = key_index.get_indexer(pd.MultiIndex.from_arrays([codes, t_int - k]))
            lagged = np.where(pos >= 0, within[np.maximum(pos, 0)], np.nan)
            out[f"{col}_within_lag{k}"] = lagged
    out[f"{session}0"] = data[session] - 1
    return out
