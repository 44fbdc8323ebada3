"""Tables the package writes as CSV files: safe to open in a spreadsheet, written atomically, permissions by umask.

A text cell (or column name) that starts with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return is run as a
formula by Excel, LibreOffice and Google Sheets (OWASP, "CSV Injection"); a variable name, a target name or an id
the user chose can start that way. Such a cell gets a leading ``'``, which spreadsheets read as "this is text".
Numbers are not text and stay as they are (a negative estimate is written ``-0.5``), as does text that reads as a
number. The report's CSV tables go through the same function (:func:`allianceStats.report.tables.to_csv_text`).

Files are written to a temporary name in the target folder and renamed, so a reader never sees half a file; a new
file gets the permissions a plain ``open()`` would give under the user's umask (``0o666 & ~umask``), a replaced
file keeps its own.

Example
-------
>>> import pandas as pd
>>> from allianceStats.data.output import neutralise_formulas
>>> neutralise_formulas(pd.DataFrame({"target": ["=cmd|' /C calc'!A0", "x -> y"], "power": [-0.5, 0.8]}))
                target  power
0  '=cmd|' /C calc'!A0   -0.5
1               x -> y    0.8
"""
from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pandas as pd

__all__ = ["FORMULA_START", "neutralise_formulas", "write_csv"]

#: first characters that make a spreadsheet read a cell as a formula
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _reads_as_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _neutralise(value):
    if isinstance(value, str) and value.startswith(FORMULA_START) and not _reads_as_number(value):
        return "'" + value
    return value


def neutralise_formulas(table: pd.DataFrame) -> pd.DataFrame:
    """A copy of ``table`` in which text cells and column names a spreadsheet would run get a leading ``'``.

    Parameters
    ----------
    table : pandas.DataFrame
        Any table (not modified).

    Returns
    -------
    pandas.DataFrame
        Numeric, boolean and date columns unchanged; text cells starting with ``=``, ``+``, ``-``, ``@``, a tab or
        a carriage return (and not reading as a number) prefixed with ``'``.

    Examples
    --------
    >>> import pandas as pd
    >>> neutralise_formulas(pd.DataFrame({"@id": ["+1", "+SUM(A1)", "a"]})).to_dict("list")
    {"'@id": ['+1', "'+SUM(A1)", 'a']}
    """
    out = table.rename(columns=lambda c: _neutralise(c) if isinstance(c, str) else c)
    for k in range(out.shape[1]):
        col = out.iloc[:, k]
        if pd.api.types.is_numeric_dtype(col) or pd.api.types.is_datetime64_any_dtype(col) \
                or pd.api.types.is_timedelta64_dtype(col) or isinstance(col.dtype, pd.PeriodDtype):
            continue
        if out is table:
            out = table.copy()
        out.isetitem(k, col.astype(object).map(_neutralise))
    return out


def current_umask() -> int:
    """The process umask, read without changing it where the system allows (Linux), else set and restored.

    >>> 0 <= current_umask() <= 0o777
    True
    """
    try:
        with open("/proc/self/status", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def write_csv(table: pd.DataFrame, path: str | Path, **to_csv_options) -> Path:
    """Write ``table`` as CSV (no index, ``\\n`` line ends) with formula cells neutralised, atomically.

    Parameters
    ----------
    table : pandas.DataFrame
        The table (not modified).
    path : str or pathlib.Path
        The file to write; its folder must exist.
    **to_csv_options
        Passed to :meth:`pandas.DataFrame.to_csv` (e.g. ``float_format="%.10g"``).

    Returns
    -------
    pathlib.Path
        ``path``.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> import pandas as pd
    >>> out = write_csv(pd.DataFrame({"target": ["=1+1", "-x"], "bias": [-0.25, 0.5]}),
    ...                 pathlib.Path(tempfile.mkdtemp()) / "t.csv")
    >>> print(out.read_text(), end="")
    target,bias
    '=1+1,-0.25
    '-x,0.5
    >>> oct(out.stat().st_mode & 0o777) == oct(0o666 & ~current_umask())
    True
    """
    path = Path(path)
    options = {"index": False, "lineterminator": "\n", **to_csv_options}
    mode = path.stat().st_mode & 0o7777 if path.exists() else 0o666 & ~current_umask()
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as fh:
            neutralise_formulas(table).to_csv(fh, **options)
        os.chmod(tmp, mode)  # mkstemp gives 0o600; a plain open() would give the umask's permissions
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path
