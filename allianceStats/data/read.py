"""Read and validate a session table (sessions nested in clients nested in therapists).

:func:`read_sessions` takes a CSV / Parquet path or a DataFrame, maps the user's column names to the
schema's (``columns={"ID": "client", "WAI": "alliance"}``), checks every column the schema knows, and
returns a new, typed DataFrame sorted by client and session. Every problem found is reported in one
:class:`~allianceStats.errors.SchemaError` — column, row number and client id — so a user fixes a file in
one pass. Row numbers are 1-based positions of data rows in the input (in a CSV with a header line, data
row *r* is on line *r* + 1).

Checks (errors): an empty table; missing required columns; text in a numeric column; values outside the
schema's range; infinite values; missing values in an identifier column; non-positive or non-integer
session numbers; non-integer values in an integer column; duplicate (client, session) rows; a client under
two therapists. Warnings (:class:`~allianceStats.errors.DataWarning`): clients with a single session,
measures missing for a whole client. Columns the schema does not know are kept unchanged.

Example
-------
>>> import pandas as pd
>>> from allianceStats import read_sessions
>>> raw = pd.DataFrame({"ID": ["a", "a", "b", "b"], "visit": [2, 1, 1, 2], "WAI": [3.5, 3.0, 4.0, 4.5]})
>>> read_sessions(raw, columns={"ID": "client", "visit": "session", "WAI": "alliance"})
  client  session  alliance
0      a        1       3.0
1      a        2       3.5
2      b        1       4.0
3      b        2       4.5
"""
from __future__ import annotations

import warnings
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import DataFileError, DataWarning, SchemaError
from .schema import TableSchema, load_schema

MAX_LISTED = 10  # rows quoted per problem; the total count is always given


def _read_source(source, schema: TableSchema) -> tuple[pd.DataFrame, str]:
    if isinstance(source, pd.DataFrame):
        return source.copy(), "<DataFrame>"
    if not isinstance(source, (str, Path)):
        raise DataFileError(f"read_sessions() takes a CSV or Parquet path or a pandas DataFrame; "
                            f"got {type(source).__name__}.")
    path = Path(source)
    if not path.is_file():
        raise DataFileError(f"data file not found: {path} (working directory {Path.cwd()}).")
    suffix = path.suffix.lower()
    if suffix in (".csv", ".txt", ".tsv"):
        sep = "\t" if suffix == ".tsv" else ","
        frame = pd.read_csv(path, sep=sep, na_values=list(schema.missing_values), keep_default_na=False,
                            low_memory=False)
    elif suffix in (".parquet", ".pq"):
        frame = pd.read_parquet(path)
    else:
        raise DataFileError(f"cannot read {path}: unsupported file type {suffix!r}; "
                            "use .csv, .tsv or .parquet, or pass a DataFrame.")
    return frame, str(path)


def _rows_text(rows: np.ndarray, ids: pd.Series | None, values=None) -> str:
    """'rows 3 (client 'c1'), 8 (client 'c4') … (25 rows in all)' for 0-based positions ``rows``."""
    shown = []
    for k, r in enumerate(rows[:MAX_LISTED]):
        bits = []
        if ids is not None:
            bits.append(f"client {ids.iat[r]!r}")
        if values is not None:
            bits.append(f"value {values[k]!r}")
        shown.append(f"{r + 1}" + (f" ({', '.join(bits)})" if bits else ""))
    more = f" … ({len(rows)} rows in all)" if len(rows) > MAX_LISTED else ""
    return ("row " if len(rows) == 1 else "rows ") + ", ".join(shown) + more


def _apply_mapping(frame: pd.DataFrame, columns: Mapping[str, str] | None, schema: TableSchema,
                   problems: list[str]) -> pd.DataFrame:
    if not columns:
        return frame
    role_cols = schema.role_columns
    rename = {}
    for user, target in columns.items():
        target = role_cols.get(target, target)
        if user not in frame.columns:
            problems.append(f"columns mapping: column {user!r} is not in the data; "
                            f"available columns: {list(map(str, frame.columns))}.")
            continue
        rename[user] = target
    targets = pd.Series(list(rename.values()))
    for dup in targets[targets.duplicated()].unique():
        sources = [u for u, t in rename.items() if t == dup]
        problems.append(f"columns mapping: {sources} all map to {dup!r}; map exactly one column to it.")
    for user, target in rename.items():
        if target in frame.columns and target not in rename and target != user:
            problems.append(f"columns mapping: {user!r} -> {target!r}, but the data already has a column "
                            f"{target!r}; rename or drop one of them.")
    return frame.rename(columns=rename)


def _check_numeric(frame, name, spec, ids, problems, required):
    """Coerce column ``name`` to float; append every problem; return the float column."""
    col = frame[name]
    as_num = pd.to_numeric(col, errors="coerce") if not pd.api.types.is_numeric_dtype(col) else col
    if pd.api.types.is_bool_dtype(as_num):
        as_num = as_num.astype(np.int64)
    as_num = as_num.astype(np.float64)
    text_bad = np.flatnonzero(as_num.isna().to_numpy() & col.notna().to_numpy())
    if text_bad.size:
        problems.append(f"column {name!r}: text in a numeric column at "
                        f"{_rows_text(text_bad, ids, col.iloc[text_bad[:MAX_LISTED]].tolist())}; "
                        "expected numbers (missing values may be left empty or written NA).")
    values = as_num.to_numpy()
    inf = np.flatnonzero(np.isinf(values))
    if inf.size:
        problems.append(f"column {name!r}: infinite value at {_rows_text(inf, ids)}; "
                        "replace it with a finite value or leave the cell empty (missing).")
    if required:
        miss = np.flatnonzero(np.isnan(values) & col.isna().to_numpy())
        if miss.size:
            problems.append(f"column {name!r}: missing value at {_rows_text(miss, ids)}; "
                            f"every row needs a {name}.")
    finite = np.isfinite(values)
    cons = spec.get("constraints", {})
    lo, hi = cons.get("minimum"), cons.get("maximum")
    if lo is not None or hi is not None:
        with np.errstate(invalid="ignore"):
            out = finite & (((values < lo) if lo is not None else False) | ((values > hi) if hi is not None else False))
        bad = np.flatnonzero(out)
        if bad.size:
            rng = f"[{lo if lo is not None else '-inf'}, {hi if hi is not None else 'inf'}]"
            problems.append(f"column {name!r}: value outside the allowed range {rng} at "
                            f"{_rows_text(bad, ids, values[bad[:MAX_LISTED]].tolist())}.")
    if spec.get("type") == "integer":
        frac = np.flatnonzero(finite & (values != np.round(values)))
        if frac.size:
            problems.append(f"column {name!r}: non-integer value at "
                            f"{_rows_text(frac, ids, values[frac[:MAX_LISTED]].tolist())}; expected whole numbers.")
    return as_num


def _as_id(col: pd.Series) -> pd.Series:
    """Identifiers as text; numbers keep their natural order for sorting (see _sort_key)."""
    if pd.api.types.is_float_dtype(col) and np.all(np.mod(col.dropna(), 1) == 0):
        col = col.astype("Int64")
    return col.astype(str).where(col.notna(), None)


def read_sessions(source, *, columns: Mapping[str, str] | None = None,
                  schema: str | Path | Mapping = "sessions") -> pd.DataFrame:
    """Read a session table, validate it against a table schema, and return a typed, sorted copy.

    Parameters
    ----------
    source : str, pathlib.Path or pandas.DataFrame
        A ``.csv`` / ``.tsv`` / ``.parquet`` file, or a DataFrame (never modified).
    columns : mapping, optional
        The user's column names -> schema names or roles, e.g. ``{"ID": "client", "WAI": "alliance"}``.
    schema : str, path or dict
        A shipped schema name (``"sessions"``, ``data_schemas/sessions.schema.json``), a JSON Table Schema
        file, or its dict.

    Returns
    -------
    pandas.DataFrame
        Identifier columns as text (``client``, ``therapist``), ``session`` as int64, measures as float64
        (integer measures as int64 when complete), sorted by client (numeric ids in numeric order) and
        session, with a fresh RangeIndex. ``df.attrs["allianceStats"]`` records the schema, source and roles.

    Raises
    ------
    SchemaError
        Listing every problem found (see the module docstring), each with column, rows and client ids.
    DataFileError
        The file does not exist or has an unsupported type.

    Examples
    --------
    >>> import pandas as pd
    >>> bad = pd.DataFrame({"client": ["a", "a"], "session": [1, 1], "alliance": [9, "high"]})
    >>> try:
    ...     read_sessions(bad)
    ... except SchemaError as err:
    ...     print(len(err.problems))
    3
    """
    sch = load_schema(schema)
    frame, where = _read_source(source, sch)
    problems: list[str] = []
    frame = _apply_mapping(frame, columns, sch, problems)
    frame.columns = [str(c) for c in frame.columns]
    roles = sch.role_columns
    if len(frame) == 0:
        problems.append("the table is empty (no data rows); expected one row per attended session.")
    missing = [roles.get(r, r) for r in sch.required_roles if roles.get(r, r) not in frame.columns]
    if missing:
        problems.append(f"missing required column(s) {missing}; found columns {list(frame.columns)}. "
                        "Rename them, or pass columns={'<your column>': '<role>'}.")
    if problems and (len(frame) == 0 or missing):
        raise SchemaError(problems, source=where)

    client_col, session_col = roles["client"], roles["session"]
    therapist_col = roles.get("therapist")
    has_therapist = therapist_col in frame.columns
    raw_client = frame[client_col]
    ids = raw_client.astype(str).where(raw_client.notna(), "<missing>")

    out = {}
    for name in frame.columns:
        if name not in sch.names:
            out[name] = frame[name]
            continue
        spec = sch.field(name)
        required = bool(spec.get("constraints", {}).get("required"))
        if spec.get("type") in ("number", "integer"):
            out[name] = _check_numeric(frame, name, spec, ids, problems, required)
        else:
            col = frame[name]
            if required:
                miss = np.flatnonzero(col.isna().to_numpy())
                if miss.size:
                    problems.append(f"column {name!r}: missing identifier at {_rows_text(miss, ids)}; "
                                    f"every row needs a {name}.")
            out[name] = col
    result = pd.DataFrame(out)

    sess = result[session_col].to_numpy(dtype=float)
    client_codes, client_levels = pd.factorize(raw_client)  # -1 marks a missing id
    ok_rows = np.isfinite(sess) & (client_codes >= 0)
    span = np.nanmax(np.abs(sess[ok_rows])) + 1 if ok_rows.any() else 1
    key = pd.Series(np.where(ok_rows, client_codes * span + np.where(ok_rows, sess, 0), np.nan))
    dup = np.flatnonzero(ok_rows & key.duplicated(keep=False).to_numpy())
    if dup.size:
        problems.append(f"duplicate (client, session) rows at {_rows_text(dup, ids, sess[dup[:MAX_LISTED]].tolist())}; "
                        "each client may have one row per session.")
    if has_therapist:
        ther_codes, ther_levels = pd.factorize(frame[therapist_col])
        both = (client_codes >= 0) & (ther_codes >= 0)
        n_ther = max(len(ther_levels), 1)
        pair_keys = pd.unique(client_codes[both].astype(np.int64) * n_ther + ther_codes[both])
        pairs = np.stack([pair_keys // n_ther, pair_keys % n_ther], axis=1)
        per_client = np.bincount(pairs[:, 0], minlength=len(client_levels))
        multi = np.flatnonzero(per_client > 1)
        if multi.size:
            listed = "; ".join(
                f"client {str(client_levels[c])!r}: "
                f"therapists {sorted(map(str, ther_levels[pairs[pairs[:, 0] == c, 1]]))}"
                for c in multi[:MAX_LISTED])
            more = f" … ({multi.size} clients in all)" if multi.size > MAX_LISTED else ""
            problems.append(f"column {therapist_col!r}: client under more than one therapist ({listed}{more}); "
                            "clients must be nested in therapists — correct the ids or split the client.")
    if problems:
        raise SchemaError(problems, source=where)

    result[client_col] = _as_id(raw_client)
    if has_therapist:
        result[therapist_col] = _as_id(frame[therapist_col])
    result[session_col] = result[session_col].astype(np.int64)
    for name in result.columns:
        if name in sch.names and sch.field(name).get("type") == "integer" and name != session_col:
            if result[name].notna().all():
                result[name] = result[name].astype(np.int64)

    levels = pd.Index(client_levels)
    numeric_levels = pd.to_numeric(levels.astype(str), errors="coerce")
    rank_source = numeric_levels if not np.isnan(numeric_levels).any() else levels.astype(str)
    level_rank = np.argsort(np.argsort(np.asarray(rank_source), kind="stable"), kind="stable")
    order = np.lexsort((result[session_col].to_numpy(), level_rank[client_codes]))
    result = result.iloc[order].reset_index(drop=True)
    _warn(result, sch, client_col, session_col)
    result.attrs["allianceStats"] = {"schema": sch.name, "source": where,
                                     "roles": {"client": client_col, "session": session_col,
                                               "therapist": therapist_col if has_therapist else None}}
    return result


def _warn(result, sch, client_col, session_col):
    n_sessions = result.groupby(client_col, sort=False).size()
    single = n_sessions[n_sessions == 1]
    if len(single):
        warnings.warn(f"{len(single)} client(s) with a single session (e.g. {list(single.index[:5])}): they inform "
                      "between-client but not within-client estimates.", DataWarning, stacklevel=3)
    measures = [f["name"] for f in sch.fields if f.get("role") == "measure" and f["name"] in result.columns]
    if measures:
        all_missing = result[measures].isna().groupby(result[client_col], sort=False).all()
        for name in measures:
            who = all_missing.index[all_missing[name].to_numpy()]
            if 0 < len(who) < len(all_missing):
                warnings.warn(f"column {name!r} is missing for every session of {len(who)} client(s) "
                              f"(e.g. {list(who[:5])}).", DataWarning, stacklevel=3)
            elif len(who) == len(all_missing):
                warnings.warn(f"column {name!r} is missing in every row.", DataWarning, stacklevel=3)
