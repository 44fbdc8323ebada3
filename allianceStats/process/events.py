"""Read and validate a coded-event table: utterances or behaviours coded within sessions.

A coded-event table has one row per event (an utterance coded with MISC 2.5 or MITI 4, a behaviour coded from
video): ``client``, ``session``, ``order`` (the event's position within its session) and ``code`` are required;
``therapist``, ``speaker`` and ``onset`` / ``offset`` (seconds from the start of the session) are validated when
present (``data_schemas/coded_events.schema.json``). :func:`read_events` works like
:func:`allianceStats.read_sessions`: it maps the user's column names to the schema's, checks every column, lists
*every* problem in one :class:`~allianceStats.errors.SchemaError` (column, 1-based row numbers, client ids), never
modifies its input, and returns a typed copy sorted by client, session and order.

Checks (errors): an empty table; missing required columns; missing identifiers or codes; non-positive or
non-integer session and order numbers; duplicate order numbers within a session; text, negative or infinite
onsets and offsets, an offset before its onset, onset without offset; events whose onsets run against their
order; time-coded events of one speaker (of the session, without a speaker column) that overlap; a client under
two therapists; with a code set, codes it does not know (listed with their rows) and codes used by the wrong
speaker.

Example
-------
>>> import pandas as pd
>>> from allianceStats.process import read_events
>>> raw = pd.DataFrame({"id": ["a", "a", "a"], "session": [1, 1, 1], "utt": [2, 1, 3],
...                     "code": ["CT", "Q", "SR"]})
>>> read_events(raw, columns={"id": "client", "utt": "order"}, codes=["miti_4", "client_language"])
  client  session  order code
0      a        1      1    Q
1      a        1      2   CT
2      a        1      3   SR
"""
from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path

import numpy as np
import pandas as pd

from ..data.checks import rows_text
from ..data.schema import load_schema
from ..errors import DataFileError, SchemaError
from .codes import CodeSet, load_code_set

__all__ = ["read_events", "EVENT_ROLES"]

EVENT_ROLES = ("client", "therapist", "session", "order", "speaker", "code", "onset", "offset")
MAX_LISTED = 10


def _read(source) -> tuple[pd.DataFrame, str]:
    if isinstance(source, pd.DataFrame):
        return source.copy(), "<DataFrame>"
    if not isinstance(source, (str, Path)):
        raise DataFileError(f"read_events() takes a CSV or Parquet path or a pandas DataFrame; "
                            f"got {type(source).__name__}.")
    path = Path(source)
    if not path.is_file():
        raise DataFileError(f"data file not found: {path} (working directory {Path.cwd()}).")
    suffix = path.suffix.lower()
    if suffix in (".csv", ".txt", ".tsv"):
        frame = pd.read_csv(path, sep="\t" if suffix == ".tsv" else ",", keep_default_na=False, na_values=[""],
                            dtype={"client": str, "therapist": str, "code": str, "speaker": str}, low_memory=False)
    elif suffix in (".parquet", ".pq"):
        frame = pd.read_parquet(path)
    else:
        raise DataFileError(f"cannot read {path}: unsupported file type {suffix!r}; use .csv, .tsv or .parquet, "
                            "or pass a DataFrame.")
    return frame, str(path)


def _as_code_set(codes) -> CodeSet | None:
    if codes is None or isinstance(codes, CodeSet):
        return codes
    if isinstance(codes, str):
        return load_code_set(codes)
    codes = list(codes)
    if all(isinstance(c, CodeSet) for c in codes):
        return CodeSet.union(codes)
    names = [c for c in codes if isinstance(c, str)]
    if names and all(n.replace("_", "").replace(".", "").isalnum() and n.islower() for n in names) \
            and len(names) == len(codes):
        try:
            return CodeSet.union([load_code_set(n) for n in names])
        except SchemaError:
            pass
    return CodeSet.from_codes(codes)


def _numeric(frame, name, ids, problems, *, integer: bool, minimum: float) -> np.ndarray:
    col = frame[name]
    num = pd.to_numeric(col, errors="coerce") if not pd.api.types.is_numeric_dtype(col) else col
    if pd.api.types.is_bool_dtype(num):
        num = num.astype(np.int64)
    values = num.to_numpy(dtype=float, na_value=np.nan)
    text = np.flatnonzero(np.isnan(values) & col.notna().to_numpy())
    if text.size:
        problems.append(f"column {name!r}: text in a numeric column at "
                        f"{rows_text(text, ids, col.iloc[text[:MAX_LISTED]].tolist())}; expected numbers.")
    missing = np.flatnonzero(col.isna().to_numpy())
    if missing.size:
        problems.append(f"column {name!r}: missing value at {rows_text(missing, ids)}; every event needs a {name}.")
    inf = np.flatnonzero(np.isinf(values))
    if inf.size:
        problems.append(f"column {name!r}: infinite value at {rows_text(inf, ids)}; expected a finite number.")
    finite = np.isfinite(values)
    low = np.flatnonzero(finite & (values < minimum))
    if low.size:
        problems.append(f"column {name!r}: value below {minimum:g} at "
                        f"{rows_text(low, ids, values[low[:MAX_LISTED]].tolist())}.")
    if integer:
        frac = np.flatnonzero(finite & (values != np.round(values)))
        if frac.size:
            problems.append(f"column {name!r}: non-integer value at "
                            f"{rows_text(frac, ids, values[frac[:MAX_LISTED]].tolist())}; expected whole numbers.")
    return values


def _as_id(col: pd.Series) -> pd.Series:
    if pd.api.types.is_float_dtype(col) and np.all(np.mod(col.dropna(), 1) == 0):
        col = col.astype("Int64")
    return col.astype(str).where(col.notna(), None)


def _your_names(problems: list[str], columns: Mapping[str, str] | None) -> list[str]:
    """Problems name the schema's roles ("column 'code'"); where the user mapped a column of theirs to a role, name
    theirs too ("column 'Beh' (code)")."""
    for user, role in (columns or {}).items():
        problems = [p.replace(f"column {role!r}", f"column {str(user)!r} ({role})") for p in problems]
    return problems


def read_events(source, *, columns: Mapping[str, str] | None = None,
                codes: str | Iterable[str] | CodeSet | None = None) -> pd.DataFrame:
    """Read a coded-event table, validate it, and return a typed copy sorted by client, session and order.

    Parameters
    ----------
    source : str, pathlib.Path or pandas.DataFrame
        A ``.csv`` / ``.tsv`` / ``.parquet`` file, or a DataFrame (never modified).
    columns : mapping, optional
        The user's column names -> schema roles, e.g. ``{"utterance": "order", "behaviour": "code"}``.
    codes : str, list or CodeSet, optional
        The codes allowed: a shipped code set (``"misc_2.5"``, ``"miti_4"``, ``"client_language"``), a list of
        code-set names (their union), a :class:`~allianceStats.process.codes.CodeSet`, or a plain list of codes.
        Unknown codes are errors listed with their rows; with a code set and a ``speaker`` column, a code used by
        the other speaker is an error too.

    Returns
    -------
    pandas.DataFrame
        ``client`` (and ``therapist``, ``speaker``, ``code``) as text, ``session`` and ``order`` as int64,
        ``onset`` / ``offset`` as float64; sorted by client, session and order, with a fresh RangeIndex.
        ``attrs["allianceStats"]`` records the schema, source and code set.

    Raises
    ------
    SchemaError
        Listing every problem found (module docstring), each with column, 1-based rows and client ids.
    DataFileError
        The file does not exist or has an unsupported type.

    Examples
    --------
    >>> import pandas as pd
    >>> bad = pd.DataFrame({"client": ["a", "a", "a"], "session": [1, 1, 1], "order": [1, 1, 2],
    ...                     "code": ["Q", "XX", "SR"], "onset": [0.0, 2.0, 1.0], "offset": [3.0, 4.0, 2.0]})
    >>> try:
    ...     read_events(bad, codes="miti_4")
    ... except SchemaError as err:
    ...     print("\\n".join(p[:75] + " …" for p in err.problems))
    duplicate order numbers within a session at rows 1 (client 'a', value 1), 2 …
    events out of time order: onset earlier than the previous event's (by order …
    overlapping events: onset before the end of an earlier event at rows 1 (cli …
    column 'code': unknown code 'XX' (rows 2) — not in code set 'miti_4'; its c …
    """
    schema = load_schema("coded_events")
    code_set = _as_code_set(codes)
    frame, where = _read(source)
    problems: list[str] = []
    if columns:
        missing_src = [u for u in columns if u not in frame.columns]
        for u in missing_src:
            problems.append(f"columns mapping: column {u!r} is not in the data; available columns: "
                            f"{list(map(str, frame.columns))}.")
        bad_role = [t for t in columns.values() if t not in schema.names]
        for t in bad_role:
            problems.append(f"columns mapping: {t!r} is not a role of the coded-event schema; roles are "
                            f"{list(schema.names)}.")
        frame = frame.rename(columns={u: t for u, t in columns.items() if u in frame.columns})
    frame.columns = [str(c) for c in frame.columns]
    if frame.columns.duplicated().any():
        problems.append(f"duplicate column name(s) {sorted(set(frame.columns[frame.columns.duplicated()]))} "
                        "(after mapping); every column needs its own name.")
    if len(frame) == 0:
        problems.append("the table is empty (no data rows); expected one row per coded event.")
    missing = [r for r in schema.required_roles if r not in frame.columns]
    if missing:
        problems.append(f"missing required column(s) {missing}; found columns {list(frame.columns)}. "
                        "Rename them, or pass columns={'<your column>': '<role>'}.")
    has_on, has_off = "onset" in frame.columns, "offset" in frame.columns
    if has_on != has_off:
        problems.append(f"column {'onset' if has_on else 'offset'!r} found without "
                        f"{'offset' if has_on else 'onset'!r}; time-coded events need both (seconds from the "
                        "start of the session).")
    if problems and (len(frame) == 0 or missing or frame.columns.duplicated().any()):
        raise SchemaError(_your_names(problems, columns), source=where)

    ids = frame["client"].astype(str).where(frame["client"].notna(), "<missing>").to_numpy()
    for name in ("client", "code") + tuple(c for c in ("therapist", "speaker") if c in frame.columns):
        miss = np.flatnonzero(frame[name].isna().to_numpy())
        if miss.size:
            problems.append(f"column {name!r}: missing value at {rows_text(miss, ids)}; every event needs a {name}.")
    session = _numeric(frame, "session", ids, problems, integer=True, minimum=1)
    order = _numeric(frame, "order", ids, problems, integer=True, minimum=1)
    timed = has_on and has_off
    if timed:
        onset = _numeric(frame, "onset", ids, problems, integer=False, minimum=0)
        offset = _numeric(frame, "offset", ids, problems, integer=False, minimum=0)
        back = np.flatnonzero(offset < onset)
        if back.size:
            problems.append(f"column 'offset': offset before onset at {rows_text(back, ids)}; an event ends after it "
                            "starts.")

    client_codes = pd.factorize(frame["client"])[0]
    ok = (client_codes >= 0) & np.isfinite(session) & np.isfinite(order)
    idx = np.flatnonzero(ok)
    sort = idx[np.lexsort((order[idx], session[idx], client_codes[idx]))]
    c_s, s_s, o_s = client_codes[sort], session[sort], order[sort]
    same = np.r_[False, (c_s[1:] == c_s[:-1]) & (s_s[1:] == s_s[:-1])]
    dup_pair = same & np.r_[False, o_s[1:] == o_s[:-1]]
    dup = np.zeros(len(frame), bool)
    dup[sort[dup_pair]] = True
    dup[sort[np.flatnonzero(dup_pair) - 1]] = True
    dup_rows = np.flatnonzero(dup)
    if dup_rows.size:
        problems.append(f"duplicate order numbers within a session at "
                        f"{rows_text(dup_rows, ids, order[dup_rows[:MAX_LISTED]].astype(int).tolist())}; each event "
                        "needs its own position in its session.")
    if timed:
        on_s = onset[sort]
        early = same & ~dup_pair & np.r_[False, on_s[1:] < on_s[:-1]]
        rows = np.sort(sort[early])
        if rows.size:
            problems.append(f"events out of time order: onset earlier than the previous event's (by order) at "
                            f"{rows_text(rows, ids, on_s[early][np.argsort(sort[early])][:MAX_LISTED].tolist())}; "
                            "check the order and onset columns.")
        spk = pd.factorize(frame["speaker"])[0] if "speaker" in frame.columns else np.zeros(len(frame), int)
        fin = sort[np.isfinite(onset[sort]) & np.isfinite(offset[sort])]
        by_time = fin[np.lexsort((onset[fin], spk[fin], session[fin], client_codes[fin]))]
        grp_same = np.r_[False, (client_codes[by_time][1:] == client_codes[by_time][:-1])
                         & (session[by_time][1:] == session[by_time][:-1]) & (spk[by_time][1:] == spk[by_time][:-1])]
        # running maximum of the end times within each (client, session, speaker) group
        ends = offset[by_time]
        starts_group = ~grp_same
        group_id = np.cumsum(starts_group) - 1
        run_max = pd.Series(ends).groupby(group_id).cummax().to_numpy()
        prev_end = np.r_[-np.inf, run_max[:-1]]
        overlap = grp_same & (onset[by_time] < prev_end)
        if overlap.any():
            first = np.flatnonzero(overlap)
            rows = np.unique(np.r_[by_time[first], by_time[first - 1]])
            problems.append(
                f"overlapping events: onset before the end of an earlier event at {rows_text(rows, ids)}; "
                + ("events of one speaker may not overlap in time." if "speaker" in frame.columns else
                   "events may not overlap in time (with a speaker column, only events of the same speaker are "
                   "compared)."))
    if "therapist" in frame.columns:
        pairs = frame[["client", "therapist"]].dropna().drop_duplicates()
        multi = pairs["client"][pairs["client"].duplicated()].unique()
        if len(multi):
            listed = "; ".join(f"client {str(c)!r}: therapists "
                               f"{sorted(map(str, pairs.loc[pairs['client'] == c, 'therapist']))}"
                               for c in multi[:MAX_LISTED])
            problems.append(f"column 'therapist': client under more than one therapist ({listed}); clients must "
                            "be nested in therapists.")
    if code_set is not None:
        problems.extend(code_set.check(frame["code"], frame["speaker"] if "speaker" in frame.columns else None))
    if problems:
        raise SchemaError(_your_names(problems, columns), source=where)

    out = frame.copy()
    out["client"] = _as_id(frame["client"])
    if "therapist" in out.columns:
        out["therapist"] = _as_id(frame["therapist"])
    for name in ("code", "speaker"):
        if name in out.columns:
            out[name] = frame[name].astype(str)
    out["session"] = session.astype(np.int64)
    out["order"] = order.astype(np.int64)
    if timed:
        out["onset"], out["offset"] = onset, offset
    labels = out["client"].to_numpy(dtype=object)
    as_num = pd.to_numeric(pd.Series(labels), errors="coerce").to_numpy()
    client_rank = (pd.Series(as_num).rank(method="dense") if not np.isnan(as_num).any()
                   else pd.Series(labels).rank(method="dense")).to_numpy()
    out = out.iloc[np.lexsort((order, session, client_rank))].reset_index(drop=True)
    out.attrs["allianceStats"] = {"schema": schema.name, "source": where,
                                  "code_set": None if code_set is None else code_set.name}
    return out
