"""Read and validate a session table (sessions nested in clients nested in therapists).

:func:`read_sessions` takes a CSV / Parquet path or a DataFrame, maps the user's column names to the
schema's (``columns={"ID": "client", "WAI": "alliance"}``), checks every column the schema knows, and
returns a new, typed DataFrame sorted by client and session. Every problem found is reported in one
:class:`~allianceStats.errors.SchemaError` — column, row number and client id — so a user fixes a file in
one pass. Row numbers are 1-based positions of data rows in the input (in a CSV with a header line, data
row *r* is on line *r* + 1).

Identifier columns (schema type ``string``: client, therapist) are read from a CSV as text, so ``007`` and ``7``,
``1.10`` and ``1.1``, ``1e3`` and ``1000`` stay different clients and ``007`` stays ``007``.

Checks (errors): a file that is empty, binary, a workbook, not UTF-8 or unreadable
(:class:`~allianceStats.errors.DataFileError`, one line); repeated column names; an empty table; missing required
columns (with a hint when a CSV is separated by ``;``); text, dates or durations in a numeric column; values
outside the schema's range; infinite values; missing values in an identifier column; non-positive or
non-integer session numbers; non-integer values in an integer column, or whole numbers beyond 2**53 (not stored
exactly); duplicate (client, session) rows; a client under two therapists. Ids and values quoted in messages
are cut at 60 characters. Warnings (:class:`~allianceStats.errors.DataWarning`): clients with a single session,
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
from .checks import rows_text, short_label
from .schema import TableSchema, load_schema

MAX_LISTED = 10  # rows quoted per problem; the total count is always given
_MAX_EXACT_INT = 2**53  # integers a float64 holds exactly; larger 'whole numbers' are refused


_SNIFF_BYTES = 65536
_BINARY_MAGIC = {b"PK\x03\x04": "a zip archive (an Excel .xlsx workbook or an OpenDocument file?)",
                 b"\xd0\xcf\x11\xe0": "an old Excel .xls workbook", b"PAR1": "a Parquet file"}


def _text_columns(schema: TableSchema, columns: Mapping[str, str] | None) -> list[str]:
    """Names, as they appear in the file, of the identifier columns (schema type ``string``): read as text."""
    text_roles = {f["name"] for f in schema.fields if f.get("type") == "string"}
    role_cols = schema.role_columns
    names = set(text_roles)
    for user, target in (columns or {}).items():
        if role_cols.get(target, target) in text_roles:
            names.add(user)
    return sorted(names)


def _sniff_csv(path: Path) -> None:
    """Refuse, with a one-line reason, a 'CSV' that is binary, a workbook, or not UTF-8 text."""
    try:
        with path.open("rb") as fh:
            head = fh.read(_SNIFF_BYTES)
    except OSError as err:
        raise DataFileError(f"cannot read {path}: {err.strerror or err}.") from None
    if not head.strip():
        raise DataFileError(f"cannot read {path}: the file is empty (no header line, no rows); expected a "
                            "comma-separated table with a header line.")
    for magic, what in _BINARY_MAGIC.items():
        if head.startswith(magic):
            raise DataFileError(f"cannot read {path}: it is {what}, not a comma-separated text file; export it "
                                "as CSV (UTF-8) or save it as .parquet.")
    if b"\x00" in head:
        raise DataFileError(f"cannot read {path}: it holds binary data (NUL bytes), not comma-separated text.")
    import codecs

    try:
        codecs.getincrementaldecoder("utf-8")().decode(head, final=len(head) < _SNIFF_BYTES)
    except UnicodeDecodeError as err:
        raise DataFileError(f"cannot read {path}: it is not UTF-8 text (byte {head[err.start]:#04x} at position "
                            f"{err.start}; Latin-1 / Windows-1252?); save it as CSV UTF-8, or read it with "
                            "pandas.read_csv(path, encoding='latin-1') and pass the DataFrame.") from None


def _read_source(source, schema: TableSchema, columns: Mapping[str, str] | None = None) -> tuple[pd.DataFrame, str]:
    if isinstance(source, pd.DataFrame):
        return source.copy(), "<DataFrame>"
    if not isinstance(source, (str, Path)):
        raise DataFileError(f"read_sessions() takes a CSV or Parquet path or a pandas DataFrame; "
                            f"got {type(source).__name__}.")
    path = Path(source)
    if not path.is_file():
        what = "is a folder, not a file" if path.is_dir() else "not found"
        raise DataFileError(f"data file {what}: {path} (working directory {Path.cwd()}).")
    suffix = path.suffix.lower()
    if suffix in (".csv", ".txt", ".tsv"):
        sep = "\t" if suffix == ".tsv" else ","
        _sniff_csv(path)
        text = dict.fromkeys(_text_columns(schema, columns), str)
        options = dict(sep=sep, na_values=list(schema.missing_values), keep_default_na=False, encoding="utf-8")
        try:
            header = pd.read_csv(path, header=None, nrows=1, dtype=str, sep=sep, na_filter=False,
                                 encoding="utf-8").iloc[0].tolist()
            frame = pd.read_csv(path, dtype=text, low_memory=False, **options)
        except pd.errors.EmptyDataError:
            raise DataFileError(f"cannot read {path}: the file is empty (no header line, no rows); expected a "
                                "comma-separated table with a header line.") from None
        except UnicodeDecodeError as err:
            raise DataFileError(f"cannot read {path}: it is not UTF-8 text ({err.reason} at byte {err.start}; "
                                "Latin-1 / Windows-1252?); save it as CSV UTF-8.") from None
        except (pd.errors.ParserError, ValueError, OSError) as err:
            reason = (getattr(err, "strerror", None) or str(err)).strip().splitlines()[0][:200].rstrip(".")
            raise DataFileError(f"cannot read {path} as CSV: {reason}.") from None
        if len(header) == len(frame.columns):  # pandas renames a repeated name 'x' to 'x.1': restore it, to report it
            frame.columns = [h if h != "" else c for h, c in zip(header, frame.columns)]
    elif suffix in (".parquet", ".pq"):
        try:
            frame = pd.read_parquet(path)
        except (OSError, ValueError) as err:  # pyarrow's ArrowInvalid is a ValueError
            reason = (getattr(err, "strerror", None) or str(err)).strip().splitlines()[0][:200].rstrip(".")
            raise DataFileError(f"cannot read {path} as Parquet: {reason}.") from None
    else:
        raise DataFileError(f"cannot read {path}: unsupported file type {suffix!r}; "
                            "use .csv, .tsv or .parquet, or pass a DataFrame.")
    return frame, str(path)


def _apply_mapping(frame: pd.DataFrame, columns: Mapping[str, str] | None, schema: TableSchema,
                   problems: list[str]) -> pd.DataFrame:
    if not columns:
        return frame
    role_cols = schema.role_columns
    rename = {}
    for user, target in columns.items():
        target = role_cols.get(target, target)
        if user not in frame.columns:
            problems.append(f"columns mapping: column {short_label(user)} is not in the data; "
                            f"available columns: [{', '.join(short_label(str(c)) for c in frame.columns[:20])}].")
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
    kind = pd.api.types.infer_dtype(col, skipna=True)
    if kind in ("datetime64", "datetime", "date", "timedelta64", "timedelta", "time", "period"):
        rows = np.flatnonzero(col.notna().to_numpy())
        what = "durations" if kind.startswith("timedelta") else "dates or times"
        problems.append(f"column {name!r}: holds {what} (dtype {col.dtype}), not numbers, at {rows_text(rows, ids)}; "
                        f"expected {'session numbers 1, 2, 3 …' if spec.get('role') == 'session' else 'numbers'} — "
                        "number the sessions per client (e.g. by date order) instead of passing the dates.")
        return pd.Series(np.nan, index=col.index, dtype=np.float64)
    as_num = pd.to_numeric(col, errors="coerce") if not pd.api.types.is_numeric_dtype(col) else col
    if pd.api.types.is_bool_dtype(as_num):
        as_num = as_num.astype(np.int64)
    if spec.get("type") == "integer" and pd.api.types.is_integer_dtype(as_num):
        huge = np.flatnonzero(np.abs(as_num.to_numpy(dtype=np.float64, na_value=np.nan)) > _MAX_EXACT_INT)
    else:
        huge = np.array([], dtype=np.int64)
    as_num = as_num.astype(np.float64)
    text_bad = np.flatnonzero(as_num.isna().to_numpy() & col.notna().to_numpy())
    if text_bad.size:
        problems.append(f"column {name!r}: text in a numeric column at "
                        f"{rows_text(text_bad, ids, col.iloc[text_bad[:MAX_LISTED]].tolist())}; "
                        "expected numbers (missing values may be left empty or written NA).")
    values = as_num.to_numpy()
    inf = np.flatnonzero(np.isinf(values))
    if inf.size:
        problems.append(f"column {name!r}: infinite value at {rows_text(inf, ids)}; "
                        "replace it with a finite value or leave the cell empty (missing).")
    if required:
        miss = np.flatnonzero(np.isnan(values) & col.isna().to_numpy())
        if miss.size:
            problems.append(f"column {name!r}: missing value at {rows_text(miss, ids)}; "
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
                            f"{rows_text(bad, ids, values[bad[:MAX_LISTED]].tolist())}.")
    if spec.get("type") == "integer":
        frac = np.flatnonzero(finite & (values != np.round(values)))
        if frac.size:
            problems.append(f"column {name!r}: non-integer value at "
                            f"{rows_text(frac, ids, values[frac[:MAX_LISTED]].tolist())}; expected whole numbers.")
        huge = np.union1d(huge, np.flatnonzero(finite & (np.abs(values) > _MAX_EXACT_INT)))
        if huge.size:
            shown = col.iloc[huge[:MAX_LISTED]].tolist()
            problems.append(f"column {name!r}: whole number too large at {rows_text(huge, ids, shown)}; values "
                            f"beyond ±2**53 (about 9e15) cannot be stored exactly — a session number or count this "
                            "large is a data error (a date, an id or a code in the wrong column?).")
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
        The file does not exist, has an unsupported type, is empty, binary, a workbook renamed ``.csv``, not UTF-8
        text, a broken Parquet file, or cannot be read (permission denied).

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
    frame, where = _read_source(source, sch, columns)
    _check_column_names(frame, where, "in the file" if where != "<DataFrame>" else "in the DataFrame")
    problems: list[str] = []
    frame = _apply_mapping(frame, columns, sch, problems)
    frame.columns = [str(c) for c in frame.columns]
    _check_column_names(frame, where, "once the names are text")
    roles = sch.role_columns
    if len(frame) == 0:
        problems.append("the table is empty (no data rows); expected one row per attended session.")
    missing = [roles.get(r, r) for r in sch.required_roles if roles.get(r, r) not in frame.columns]
    if missing:
        found = [short_label(c) for c in frame.columns[:20]]
        problems.append(f"missing required column(s) {missing}; found columns [{', '.join(found)}"
                        f"{', …' if len(frame.columns) > 20 else ''}]. "
                        "Rename them, or pass columns={'<your column>': '<role>'}.")
        if len(frame.columns) == 1 and where != "<DataFrame>":
            sep = next((c for c in (";", "\t", "|") if c in frame.columns[0]), None)
            if sep is not None:
                problems.append(f"the file seems to be separated by {sep!r}, not by commas (its header is one column, "
                                f"{short_label(frame.columns[0])}); save it comma-separated, or read it with "
                                f"pandas.read_csv(path, sep={sep!r}) and pass the DataFrame.")
    if problems and (len(frame) == 0 or missing):
        raise SchemaError(problems, source=where)

    client_col, session_col = roles["client"], roles["session"]
    therapist_col = roles.get("therapist")
    has_therapist = therapist_col in frame.columns
    client_text = _as_id(frame[client_col])
    ids = client_text.where(client_text.notna(), "<missing>")

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
                    problems.append(f"column {name!r}: missing identifier at {rows_text(miss, ids)}; "
                                    f"every row needs a {name}.")
            out[name] = col
    result = pd.DataFrame(out)

    sess = result[session_col].to_numpy(dtype=float)
    # ids are compared as the text they become (so 7 and '7' in one column are one client, '007' another)
    client_codes, client_levels = pd.factorize(client_text)  # -1 marks a missing id
    ok_rows = np.isfinite(sess) & (client_codes >= 0)
    pairs = pd.DataFrame({"client": client_codes[ok_rows], "session": sess[ok_rows]})
    dup = np.flatnonzero(ok_rows)[pairs.duplicated(keep=False).to_numpy()]
    if dup.size:
        problems.append(f"duplicate (client, session) rows at {rows_text(dup, ids, sess[dup[:MAX_LISTED]].tolist())}; "
                        "each client may have one row per session.")
    if has_therapist:
        ther_text = _as_id(frame[therapist_col])
        ther_codes, ther_levels = pd.factorize(ther_text)
        both = (client_codes >= 0) & (ther_codes >= 0)
        pair_frame = pd.DataFrame({"c": client_codes[both], "t": ther_codes[both]}).drop_duplicates()
        per_client = pair_frame.groupby("c")["t"].agg(list)
        multi = per_client[per_client.map(len) > 1]
        if len(multi):
            def therapists_of(codes):
                names = sorted(str(ther_levels[t]) for t in codes)
                return ", ".join(short_label(n) for n in names[:MAX_LISTED])

            listed = "; ".join(f"client {short_label(str(client_levels[c]))}: therapists [{therapists_of(ts)}]"
                               for c, ts in list(multi.items())[:MAX_LISTED])
            more = f" … ({len(multi)} clients in all)" if len(multi) > MAX_LISTED else ""
            problems.append(f"column {therapist_col!r}: client under more than one therapist ({listed}{more}); "
                            "clients must be nested in therapists — correct the ids or split the client.")
    if problems:
        raise SchemaError(problems, source=where)

    result[client_col] = client_text
    if has_therapist:
        result[therapist_col] = ther_text
    result[session_col] = result[session_col].astype(np.int64)
    for name in result.columns:
        if name in sch.names and sch.field(name).get("type") == "integer" and name != session_col:
            if result[name].notna().all():
                result[name] = result[name].astype(np.int64)

    levels = pd.Index(client_levels).astype(str)
    numeric_levels = pd.to_numeric(levels, errors="coerce")
    # numeric ids in numeric order, ties ('7', '007') and text ids by their text
    text_rank = np.argsort(np.argsort(np.asarray(levels), kind="stable"), kind="stable")
    if not np.isnan(np.asarray(numeric_levels, dtype=float)).any():
        level_rank = np.lexsort((text_rank, np.asarray(numeric_levels, dtype=float)))
        level_rank = np.argsort(level_rank, kind="stable")
    else:
        level_rank = text_rank
    order = np.lexsort((result[session_col].to_numpy(), level_rank[client_codes]))
    result = result.iloc[order].reset_index(drop=True)
    _warn(result, sch, client_col, session_col)
    result.attrs["allianceStats"] = {"schema": sch.name, "source": where,
                                     "roles": {"client": client_col, "session": session_col,
                                               "therapist": therapist_col if has_therapist else None}}
    return result


def _check_column_names(frame: pd.DataFrame, where: str, how: str) -> None:
    """One SchemaError for repeated column names (pandas would rename a CSV's second 'alliance' 'alliance.1')."""
    names = pd.Index([str(c) if how == "once the names are text" else c for c in frame.columns])
    dup = names[names.duplicated()].unique()
    if len(dup):
        counts = names.value_counts()
        listed = ", ".join(f"{short_label(d)} ({int(counts[d])} times)" for d in dup[:MAX_LISTED])
        raise SchemaError([f"duplicate column name(s) {how}: {listed}; every column needs its own name — rename "
                           "or drop the copies (a repeated column would be read as a different variable or "
                           "silently ignored)."], source=where)


def _warn(result, sch, client_col, session_col):
    n_sessions = result.groupby(client_col, sort=False).size()
    single = n_sessions[n_sessions == 1]
    if len(single):
        shown = ", ".join(map(short_label, single.index[:5]))
        warnings.warn(f"{len(single)} client(s) with a single session (e.g. {shown}): they inform "
                      "between-client but not within-client estimates.", DataWarning, stacklevel=3)
    measures = [f["name"] for f in sch.fields if f.get("role") == "measure" and f["name"] in result.columns]
    if measures:
        all_missing = result[measures].isna().groupby(result[client_col], sort=False).all()
        for name in measures:
            who = all_missing.index[all_missing[name].to_numpy()]
            if 0 < len(who) < len(all_missing):
                warnings.warn(f"column {name!r} is missing for every session of {len(who)} client(s) "
                              f"(e.g. {', '.join(map(short_label, who[:5]))}).", DataWarning, stacklevel=3)
            elif len(who) == len(all_missing):
                warnings.warn(f"column {name!r} is missing in every row.", DataWarning, stacklevel=3)
