"""Checking a survival table against its formula: one :class:`~allianceStats.errors.SchemaError` listing every problem.

What is checked (rows by their labels, clients by their ids, at most five of each in a message):

- every column the ``Surv()`` term, the covariates, ``strata()`` and the client (cluster) column name exists;
- times are numbers, present and finite; ``stop > start`` on every counting-process row (R's ``Surv`` refuses
  ``stop <= start`` too); survival times of right-censored data are not negative;
- the event is coded 0/1 (or ``True``/``False``), or 1/2 with 2 = event as R's ``Surv`` reads it; with
  ``Surv(..., status == value)`` any coding is allowed and ``value`` marks the event;
- no covariate, stratum or client id is missing (R would drop such rows silently; here the rows are named so
  that dropping them is the user's decision);
- with a client column and counting-process data: a client's intervals of one stratum do not overlap (an
  overlap counts the client twice in one risk set).

Nothing is modified: the arrays are copies.

Example
-------
>>> import pandas as pd
>>> from allianceStats.survival.surv_formula import parse_surv_formula
>>> d = pd.DataFrame({"start": [0, 2], "stop": [2, 1], "event": [0, 3], "x": [1.0, None]})
>>> prepare_surv_data(d, parse_surv_formula("Surv(start, stop, event) ~ x"), where="fit_cox")
Traceback (most recent call last):
...
allianceStats.errors.SchemaError: 3 problems found in fit_cox:
  1. stop <= start at row(s) 1 (column 'stop' must be later than 'start': intervals are (start, stop])
  2. column 'event' must be coded 0/1 (1 = event), True/False or 1/2 (2 = event); found 3 at row(s) 1
  3. missing covariate value(s) at row(s) 1 (column(s) 'x'); drop or impute those rows first, e.g. ...
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..data.checks import require_columns, require_numeric
from ..errors import SchemaError
from ._messages import labels_of
from .surv_formula import Design, SurvSpec, build_design


@dataclass(frozen=True)
class SurvData:
    """Arrays of a checked survival table: times, event, covariate matrix, stratum codes and cluster codes."""

    start: np.ndarray
    stop: np.ndarray
    event: np.ndarray
    design: Design
    strata: np.ndarray
    strata_labels: list
    cluster: np.ndarray | None
    cluster_labels: list | None


def _where_clients(data: pd.DataFrame, mask: np.ndarray, client: str | None) -> str:
    rows = f"row(s) {labels_of(data.index[mask])}"
    if client is not None and client in data.columns:
        ids = pd.unique(data.loc[mask, client])
        rows += f" (client(s) {labels_of(ids)})"
    return rows


def event_indicator(values: pd.Series, spec: SurvSpec) -> tuple[np.ndarray | None, str | None]:
    """0/1 event array from the event column, or ``(None, problem)``."""
    if spec.event_value is not None:
        if values.isna().any():
            return None, f"column {spec.event!r} is missing at row(s) {labels_of(values.index[values.isna()])}"
        return (values == spec.event_value).to_numpy(int), None
    if pd.api.types.is_bool_dtype(values):
        return values.to_numpy(int), None
    num = pd.to_numeric(values, errors="coerce")
    bad = num.isna() | ~num.isin([0, 1, 2])
    if not bad.any():
        if (num == 2).any() and not (num == 0).any():
            return (num == 2).to_numpy(int), None  # R's Surv: 1/2 coding, 2 = event
        if not (num == 2).any():
            return num.to_numpy(int), None
        bad = num == 2
    shown = labels_of(pd.unique(values[bad]))
    return None, (f"column {spec.event!r} must be coded 0/1 (1 = event), True/False or 1/2 (2 = event); found "
                  f"{shown} at row(s) {labels_of(values.index[bad])}")


def prepare_surv_data(data: pd.DataFrame, spec: SurvSpec, *, where: str, client: str | None = None,
                      levels: dict | None = None) -> SurvData:
    """Check ``data`` against ``spec`` (module docstring) and return its arrays.

    Parameters
    ----------
    data : pandas.DataFrame
        The survival table (never modified).
    spec : SurvSpec
        The parsed formula.
    where : str
        The public function named in messages.
    client : str, optional
        Client (cluster) column: robust variance and the overlap check.
    levels : dict, optional
        Factor levels to code covariates with (default: from ``data``).

    Returns
    -------
    SurvData

    Raises
    ------
    SchemaError
        Every problem found, listed together.
    """
    client = client or spec.cluster
    require_columns(data, [*spec.columns, client], where=where)
    problems: list[str] = []
    times = [c for c in (spec.start, spec.stop) if c is not None]
    try:
        require_numeric(data, times, where=where)
    except SchemaError as err:
        raise SchemaError(err.problems, source=where) from None
    stop = data[spec.stop].to_numpy(float)
    start = data[spec.start].to_numpy(float) if spec.start else np.full(len(data), -np.inf)
    for name, arr in ((spec.start, start), (spec.stop, stop)):
        if name is not None:
            bad = ~np.isfinite(arr)
            if bad.any():
                problems.append(f"column {name!r} is missing or infinite at {_where_clients(data, bad, client)}")
    ok = np.isfinite(start) | (spec.start is None)
    ok &= np.isfinite(stop)
    if spec.start is not None:
        rev = ok & (stop <= start)
        if rev.any():
            problems.append(f"stop <= start at {_where_clients(data, rev, client)} (column {spec.stop!r} must be "
                            f"later than {spec.start!r}: intervals are (start, stop])")
    else:
        neg = ok & (stop < 0)
        if neg.any():
            problems.append(f"negative survival time in column {spec.stop!r} at {_where_clients(data, neg, client)}")
    event, problem = event_indicator(data[spec.event], spec)
    if problem:
        problems.append(problem)
    design = None
    try:
        design = build_design(data, spec, levels)
    except SchemaError as err:
        problems += err.problems
    if design is not None:
        miss = np.isnan(design.X).any(axis=1)
        if miss.any():
            cols = [c for c in spec.covariates if data[c].isna().to_numpy()[miss].any()]
            problems.append(f"missing covariate value(s) at {_where_clients(data, miss, client)} (column(s) "
                            f"{labels_of(cols)}); drop or impute those rows first, e.g. "
                            f"data.dropna(subset={cols})")
    for col in [*spec.strata, client]:
        if col is not None and data[col].isna().any():
            m = data[col].isna().to_numpy()
            problems.append(f"column {col!r} is missing at {_where_clients(data, m, None)}; every row needs it")
    if problems:
        raise SchemaError(problems, source=where)
    if spec.strata:
        keys = data[list(spec.strata)].astype(str).agg(", ".join, axis=1) if len(spec.strata) > 1 \
            else data[spec.strata[0]]
        codes, labels = pd.factorize(keys, sort=True)
        labels = list(labels)
    else:
        codes, labels = np.zeros(len(data), np.int64), []
    cl_codes = cl_labels = None
    if client is not None:
        cl_codes, uniq = pd.factorize(data[client], sort=False)
        cl_labels = list(uniq)
        if spec.start is not None:
            _check_overlap(data, start, stop, codes, cl_codes, client, where)
    return SurvData(start=start, stop=stop, event=np.asarray(event), design=design, strata=np.asarray(codes),
                    strata_labels=labels, cluster=cl_codes, cluster_labels=cl_labels)


def _check_overlap(data, start, stop, strata, cl, client, where) -> None:
    order = np.lexsort((start, strata, cl))
    s, e, g, c = start[order], stop[order], strata[order], cl[order]
    same = (c[1:] == c[:-1]) & (g[1:] == g[:-1])
    # a rounding-level overlap (stop of one row recomputed as start of the next) is not an overlap
    overlap = same & (s[1:] < e[:-1] - 1e-9 * np.maximum(1.0, np.abs(e[:-1])))
    if overlap.any():
        idx = order[1:][overlap]
        rows = data.index[idx]
        ids = pd.unique(data[client].to_numpy()[idx])
        raise SchemaError([f"overlapping intervals within client(s) {labels_of(ids)} at row(s) "
                           f"{labels_of(rows)}: an interval starts before the previous one of the same client "
                           f"ends, which counts the client twice in a risk set; fix start/stop"], source=where)
