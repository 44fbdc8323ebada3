"""One input-checking layer for every public function.

Every public function checks its arguments through these helpers, so a given mistake gets the same message
everywhere. The wording style (also in ``CONTRIBUTING.md``):

- say what was found, where, what was expected and how to fix it, in that order;
- name the argument as the user typed it (``conf_level=1.5``), the column in quotes (``column 'alliance'``),
  rows and clients by their labels, at most five of each and then ``…``;
- a wrong *table* or *column* is a :class:`~allianceStats.errors.SchemaError` (all problems listed at once);
  a wrong *argument value* is an :class:`~allianceStats.errors.OptionError`.

Example
-------
>>> import pandas as pd
>>> from allianceStats.data.checks import require_columns, check_conf_level
>>> data = pd.DataFrame({"client": [1, 1], "alliance": [3.0, 4.0]})
>>> require_columns(data, ["client", "alliance"], where="fit_mediation") is data
True
>>> check_conf_level(0.9)
0.9
"""
from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np
import pandas as pd

from ..errors import OptionError, SchemaError

__all__ = [
    "require_frame",
    "require_columns",
    "require_numeric",
    "check_choice",
    "check_conf_level",
    "check_alpha",
    "check_bool",
    "check_positive_int",
    "check_number",
    "check_fraction",
    "resolve_seed",
    "first_labels",
    "table_and_text",
]

_MAX_SHOWN = 5
_MAX_LABEL = 60


def first_labels(values: Iterable[Any], limit: int = _MAX_SHOWN) -> str:
    """Comma-separated ``repr`` of the first ``limit`` values, each cut at 60 characters, ``…`` if more.

    The one way messages quote rows, clients or columns (at most five, then ``…``).

    Parameters
    ----------
    values : iterable
        Labels to quote (row labels, client ids, column names).
    limit : int
        How many to show.

    Returns
    -------
    str

    Examples
    --------
    >>> first_labels(["a", "b", "c"], limit=2)
    "'a', 'b', …"
    """
    shown = []
    more = False
    for i, v in enumerate(values):
        if i == limit:
            more = True
            break
        shown.append(short_label(v))
    return ", ".join(shown) + (", …" if more else "")


def short_label(value: Any) -> str:
    """``repr(value)`` cut at 60 characters: a 100,000-character id must not flood a message.

    >>> short_label("c" * 100)[-3:]
    'cc…'
    """
    text = repr(value)
    return text if len(text) <= _MAX_LABEL else text[: _MAX_LABEL - 1] + "…"


def rows_text(rows: Sequence[int] | np.ndarray, ids: pd.Series | np.ndarray | None = None, values=None, *,
              limit: int = 10) -> str:
    """``'rows 3 (client 'c1'), 8 (client 'c4') … (25 rows in all)'`` for 0-based positions ``rows``.

    The one way messages quote table rows by position (1-based in the text), with the row's client id from
    ``ids`` (indexed by position) and the offending ``values`` (one per quoted row) where given.

    >>> clients = pd.Series(["c1", "c1", "c1", "c2", "c3", "c3", "c4", "c4"])
    >>> rows_text(np.array([2, 7]), clients)
    "rows 3 (client 'c1'), 8 (client 'c4')"
    >>> rows_text(np.array([0]), values=[-1])
    'row 1 (value -1)'
    """
    shown = []
    for k, r in enumerate(rows[:limit]):
        bits = []
        if ids is not None:
            bits.append(f"client {short_label(ids.iat[r] if isinstance(ids, pd.Series) else ids[r])}")
        if values is not None:
            bits.append(f"value {short_label(values[k])}")
        shown.append(f"{r + 1}" + (f" ({', '.join(bits)})" if bits else ""))
    more = f" … ({len(rows)} rows in all)" if len(rows) > limit else ""
    return ("row " if len(rows) == 1 else "rows ") + ", ".join(shown) + more


def require_frame(data: Any, *, where: str, what: str = "data") -> pd.DataFrame:
    """Return ``data`` if it is a :class:`pandas.DataFrame` with unique column names, else raise :class:`SchemaError`.

    Parameters
    ----------
    data : object
        What the user passed as the table.
    where : str
        The public function checking it (named in the message).
    what : str
        How the message names the argument.

    Returns
    -------
    pandas.DataFrame
        ``data`` itself (not a copy).

    Raises
    ------
    SchemaError
        Not a DataFrame, or duplicate column names.

    Examples
    --------
    >>> require_frame([1, 2], where="decompose")
    Traceback (most recent call last):
    ...
    allianceStats.errors.SchemaError: 1 problem found in decompose:
      1. data must be a pandas DataFrame (one row per session), found list; build one with ...
    """
    if not isinstance(data, pd.DataFrame):
        raise SchemaError([f"{what} must be a pandas DataFrame (one row per session), found {type(data).__name__}; "
                           f"build one with pandas.DataFrame(...) or read_sessions(path)"], source=where)
    dup = data.columns[data.columns.duplicated()].unique()
    if len(dup):
        raise SchemaError([f"{what} has duplicate column name(s) {first_labels(map(str, dup))}; every column "
                           f"needs its own name — rename or drop the copies"], source=where)
    return data


def require_columns(data: Any, columns: Iterable[str | None], *, where: str,
                    what: str = "data") -> pd.DataFrame:
    """Check that ``data`` is a DataFrame holding every named column (``None`` entries are ignored).

    All missing columns are listed in one :class:`SchemaError`, with the columns the table does have.

    Parameters
    ----------
    data : object
        What the user passed as the table (checked with :func:`require_frame`).
    columns : iterable of str or None
        Column names the call needs; ``None`` entries (optional roles not given) are skipped.
    where : str
        The public function checking it (named in the message).
    what : str
        How the message names the table.

    Returns
    -------
    pandas.DataFrame
        ``data`` itself (not a copy).

    Raises
    ------
    SchemaError
        Not a DataFrame, or one problem per missing column.

    Examples
    --------
    >>> import pandas as pd
    >>> require_columns(pd.DataFrame({"a": [1]}), ["a", "b", "c"], where="fit_mediation")
    Traceback (most recent call last):
    ...
    allianceStats.errors.SchemaError: 2 problems found in fit_mediation:
      1. column 'b' not found in data; it has columns ['a']
      2. column 'c' not found in data; it has columns ['a']
    """
    data = require_frame(data, where=where, what=what)
    have = list(map(str, data.columns))
    shown = have if len(have) <= 20 else have[:20] + ["…"]
    missing = [c for c in dict.fromkeys(c for c in columns if c is not None) if c not in data.columns]
    if missing:
        raise SchemaError([f"column {c!r} not found in {what}; it has columns {shown}" for c in missing],
                          source=where)
    return data


def require_numeric(data: pd.DataFrame, columns: Iterable[str], *, where: str,
                    finite: bool = False) -> None:
    """Check that each column is numeric (not boolean, not text); with ``finite=True`` also no ``±inf``.

    Missing values (NaN) are allowed; each caller says how it treats them.

    Parameters
    ----------
    data : pandas.DataFrame
        A table already checked by :func:`require_columns`.
    columns : iterable of str
        Columns that must hold numbers.
    where : str
        The public function checking it (named in the message).
    finite : bool
        Also refuse ``±inf``.

    Returns
    -------
    None

    Raises
    ------
    SchemaError
        One problem per non-numeric column (and per column with infinite values).

    Examples
    --------
    >>> import pandas as pd
    >>> require_numeric(pd.DataFrame({"x": [True]}), ["x"], where="fit_mediation")
    Traceback (most recent call last):
    ...
    allianceStats.errors.SchemaError: 1 problem found in fit_mediation:
      1. column 'x' has dtype bool; expected numbers — convert it with pandas.to_numeric
    """
    problems = []
    for col in dict.fromkeys(columns):
        s = data[col]
        if pd.api.types.is_datetime64_any_dtype(s) or pd.api.types.is_timedelta64_dtype(s) \
                or isinstance(s.dtype, pd.PeriodDtype):
            problems.append(f"column {col!r} holds dates, times or durations (dtype {s.dtype}); expected numbers — "
                            f"a session column counts sessions (1, 2, 3 …): number them per client, e.g. by date "
                            f"order with data.groupby(client)[{col!r}].rank(method='first')")
            continue
        if not pd.api.types.is_numeric_dtype(s) or pd.api.types.is_bool_dtype(s):
            problems.append(f"column {col!r} has dtype {s.dtype}; expected numbers — convert it with "
                            f"pandas.to_numeric")
            continue
        if finite:
            bad = np.isinf(s.to_numpy(dtype=float))
            if bad.any():
                problems.append(f"column {col!r}: {int(bad.sum())} infinite value(s) at row(s) "
                                f"{first_labels(data.index[bad])}; replace them with NaN or a finite value")
    if problems:
        raise SchemaError(problems, source=where)


def check_choice(name: str, value: Any, choices: Sequence[Any]) -> Any:
    """Return ``value`` if it is one of ``choices``; else raise :class:`OptionError` listing them.

    Parameters
    ----------
    name : str
        The argument's name, as the user typed it.
    value : object
        Its value.
    choices : sequence
        The accepted values.

    Returns
    -------
    object
        ``value``.

    Raises
    ------
    OptionError
        ``value`` is not one of ``choices``.

    Examples
    --------
    >>> check_choice("ci", "bca", ["percentile", "bca"])
    'bca'
    >>> check_choice("ci", "bootstrap", ["percentile", "bca"])
    Traceback (most recent call last):
    ...
    allianceStats.errors.OptionError: ci='bootstrap' is not supported; choose one of ['percentile', 'bca']
    """
    try:
        ok = value in choices
    except TypeError:  # unhashable value against a set
        ok = False
    if not ok:
        raise OptionError(f"{name}={value!r} is not supported; choose one of {list(choices)}")
    return value


def check_conf_level(value: Any, name: str = "conf_level") -> float:
    """Return the confidence level as a float in (0, 1), else raise :class:`OptionError`.

    Parameters
    ----------
    value : float
        The level the user gave (e.g. 0.95).
    name : str
        The argument's name, as the user typed it.

    Returns
    -------
    float

    Raises
    ------
    OptionError
        Not a number strictly between 0 and 1 (a percentage such as 95 is refused, with the fix).

    Examples
    --------
    >>> check_conf_level(0.9)
    0.9
    >>> check_conf_level(95)
    Traceback (most recent call last):
    ...
    allianceStats.errors.OptionError: conf_level=95 must be a number between 0 and 1 (e.g. 0.95 for a 95 % interval)
    """
    if isinstance(value, bool) or not isinstance(value, (int, float, np.floating, np.integer)) \
            or not 0.0 < float(value) < 1.0:
        raise OptionError(f"{name}={value!r} must be a number between 0 and 1 (e.g. 0.95 for a 95 % interval)")
    return float(value)


def check_alpha(alpha: Any) -> float:
    """Return the test level ``alpha`` as a float in (0, 1), else raise :class:`OptionError`.

    Parameters
    ----------
    alpha : float
        The significance level of a test (the p-value threshold), e.g. 0.05.

    Returns
    -------
    float

    Raises
    ------
    OptionError
        Not a number strictly between 0 and 1.

    Examples
    --------
    >>> check_alpha(0.05)
    0.05
    """
    return check_conf_level(alpha, name="alpha")


def check_bool(name: str, value: Any) -> bool:
    """Return ``value`` if it is a boolean (Python or numpy); text such as ``"false"`` is an :class:`OptionError`.

    Parameters
    ----------
    name : str
        The argument's name, as the user typed it.
    value : object
        Its value.

    Returns
    -------
    bool

    Raises
    ------
    OptionError
        Anything but ``True`` / ``False`` (``"no"`` and ``0`` included: both are easy to misread).

    Examples
    --------
    >>> check_bool("reml", "no")
    Traceback (most recent call last):
    ...
    allianceStats.errors.OptionError: reml='no' must be True or False (a boolean, not text or a number)
    """
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    raise OptionError(f"{name}={value!r} must be True or False (a boolean, not text or a number)")


def check_positive_int(name: str, value: Any, *, minimum: int = 1) -> int:
    """Return ``value`` as an int if it is an integer ``>= minimum``, else raise :class:`OptionError`.

    Parameters
    ----------
    name : str
        The argument's name, as the user typed it.
    value : int
        Its value (a Python or numpy integer; ``2.0`` and ``True`` are refused).
    minimum : int
        The smallest accepted value.

    Returns
    -------
    int

    Raises
    ------
    OptionError
        Not an integer, or below ``minimum``.

    Examples
    --------
    >>> check_positive_int("n_draws", 2000)
    2000
    >>> check_positive_int("n_draws", 0)
    Traceback (most recent call last):
    ...
    allianceStats.errors.OptionError: n_draws=0 must be an integer of at least 1
    """
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise OptionError(f"{name}={value!r} must be an integer of at least {minimum}")
    return int(value)


def check_number(name: str, value: Any, *, minimum: float | None = None, maximum: float | None = None,
                 strict: bool = False, hint: str = "") -> float:
    """Return ``value`` as a float if it is a finite real number within ``[minimum, maximum]``, else raise
    :class:`OptionError`.

    Parameters
    ----------
    name : str
        The argument's name, as the user typed it.
    value : float
        Its value (booleans and text are refused).
    minimum, maximum : float, optional
        Bounds; ``None`` for none.
    strict : bool
        Exclude the bounds themselves.
    hint : str
        Ends the message: what the argument means or how to fix it.

    Returns
    -------
    float

    Raises
    ------
    OptionError
        Not a finite number, or outside the bounds.

    Examples
    --------
    >>> check_number("k", 2, minimum=0, strict=True)
    2.0
    >>> check_number("k", -1, minimum=0, strict=True, hint="Stiles et al. (2004) use 2")
    Traceback (most recent call last):
    ...
    allianceStats.errors.OptionError: k=-1 must be a number above 0; Stiles et al. (2004) use 2
    """
    ok = not isinstance(value, (bool, np.bool_)) and isinstance(value, (int, float, np.integer, np.floating)) \
        and bool(np.isfinite(value))
    if ok and minimum is not None:
        ok = value > minimum if strict else value >= minimum
    if ok and maximum is not None:
        ok = value < maximum if strict else value <= maximum
    if not ok:
        low = "above" if strict else "of at least"
        high = "below" if strict else "at most"
        if minimum is not None and maximum is not None:
            span = f"between {minimum:g} and {maximum:g}" + (" (exclusive)" if strict else "")
        elif minimum is not None:
            span = f"{low} {minimum:g}"
        elif maximum is not None:
            span = f"{high} {maximum:g}"
        else:
            span = "(finite)"
        raise OptionError(f"{name}={value!r} must be a number {span}" + (f"; {hint}" if hint else ""))
    return float(value)


def check_fraction(name: str, value: Any, *, hint: str = "") -> float:
    """Return ``value`` as a float strictly between 0 and 1 (a share or a quantile), else raise :class:`OptionError`.

    Parameters
    ----------
    name : str
        The argument's name, as the user typed it.
    value : float
        Its value.
    hint : str
        Ends the message: what the argument means or how to fix it.

    Returns
    -------
    float

    Raises
    ------
    OptionError
        Not a number strictly between 0 and 1.

    Examples
    --------
    >>> check_fraction("pac_quantile", 0.9)
    0.9
    >>> check_fraction("pac_quantile", 90)
    Traceback (most recent call last):
    ...
    allianceStats.errors.OptionError: pac_quantile=90 must be a number between 0 and 1 (exclusive)
    """
    return check_number(name, value, minimum=0.0, maximum=1.0, strict=True, hint=hint)


def resolve_seed(seed: Any) -> int:
    """The integer seed a random result records: ``seed`` itself, or a fresh one drawn from the OS if ``None``.

    A result never draws from an unrecorded stream: even an unseeded call records the seed it used, so it can
    be repeated exactly. Seeds are non-negative integers below 2**63.

    Parameters
    ----------
    seed : int or None
        The user's seed; ``None`` draws a fresh one from the operating system's entropy.

    Returns
    -------
    int
        The seed to use and to record in the result's provenance.

    Raises
    ------
    OptionError
        Not a non-negative integer below 2**63 (or None).

    Examples
    --------
    >>> resolve_seed(42)
    42
    >>> isinstance(resolve_seed(None), int)
    True
    >>> resolve_seed(-1)
    Traceback (most recent call last):
    ...
    allianceStats.errors.OptionError: seed=-1 must be a non-negative integer (or None for a fresh seed, ...)
    """
    if seed is None:
        return int(np.random.SeedSequence().generate_state(1, dtype=np.uint64)[0] >> np.uint64(1))
    if isinstance(seed, (bool, np.bool_)) or not isinstance(seed, (int, np.integer)) or not 0 <= seed < 2**63:
        raise OptionError(f"seed={seed!r} must be a non-negative integer (or None for a fresh seed, which is recorded)")
    return int(seed)


def table_and_text(first: Any, second: Any, *, where: str, text: str = "formula") -> tuple[pd.DataFrame, Any]:
    """``(data, formula)`` from the first two arguments of a formula- or model-taking function, in either order.

    The table comes first in every signature (docs/design.md, "Vocabulary"); R's order — ``lmer(formula, data)``,
    ``sem(model, data)``, ``coxph(formula, data)`` — is accepted as users type it, without a warning, because the
    two arguments cannot be confused (one is a table, the other text).

    Parameters
    ----------
    first, second
        The first two arguments as given.
    where : str
        The public function's name (used in errors).
    text : str, default "formula"
        What the text argument is called (``"formula"``, ``"model"``).

    Returns
    -------
    data : pandas.DataFrame
        Checked with :func:`require_frame`.
    text
        The formula or model, unchanged.

    Examples
    --------
    >>> import pandas as pd
    >>> d, f = table_and_text("y ~ x", pd.DataFrame({"y": [1.0]}), where="fit_mlm")
    >>> f, list(d.columns)
    ('y ~ x', ['y'])
    """
    if isinstance(first, str) and not isinstance(second, str):
        first, second = second, first
    return require_frame(first, where=where), second
