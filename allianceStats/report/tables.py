"""Tables for reports: APA-style formatting, CSV and Markdown export (deterministic bytes).

A report table is a tidy DataFrame with the project's fixed column names (``term`` or ``lhs, op, rhs``,
``estimate, std_error, statistic, p_value, ci_lower, ci_upper`` …). :func:`apa_table` turns it into
display strings following the APA Publication Manual (7th ed.): estimates to two decimals, *p* to three
decimals without a leading zero and ``< .001`` below that, the confidence interval as ``[lower, upper]``
in one column whose header carries the level (the level is an attribute, never a column name in the
data). Exports: the raw tidy table as CSV (full precision, ``\\n`` line ends, no index) and the APA
version as a GitHub-flavoured Markdown table.

Files are safe to open: a CSV text cell (or header) that starts with ``=``, ``+``, ``-``, ``@``, a tab or a
carriage return gets a leading ``'``, so a spreadsheet shows it as text instead of running it as a formula
(OWASP, "CSV Injection"); numbers, and text that reads as a number (``-0.5``), stay as they are. Markdown cells
have a ``<`` that would open an HTML tag and an ``&`` that would start an entity escaped, so a viewer that
renders HTML inside Markdown shows a column named ``<script>`` as text. Files are written atomically
(:func:`atomic_write`) with the permissions the user's umask gives new files; :func:`check_output_file` and
:func:`check_output_folder` say in one sentence why a path cannot be written, before any work is done.

Example
-------
>>> import pandas as pd
>>> t = pd.DataFrame({"term": ["alliance"], "estimate": [0.4213], "std_error": [0.1],
...                   "p_value": [0.0004], "ci_lower": [0.22], "ci_upper": [0.62]})
>>> apa_table(t).iloc[0].tolist()
['alliance', '0.42', '0.10', '< .001', '[0.22, 0.62]']
>>> print(to_markdown(apa_table(t)))
| Term | Estimate | SE | p | 95% CI |
| --- | --- | --- | --- | --- |
| alliance | 0.42 | 0.10 | < .001 | [0.22, 0.62] |
"""
from __future__ import annotations

import errno
import math
import os
import re
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd

from .._deprecation import renamed_arguments
from ..data.output import current_umask, neutralise_formulas
from ..errors import OptionError
from .diagrams import fmt_number

HEADERS = {
    "term": "Term", "effect": "Effect", "lhs": "lhs", "op": "op", "rhs": "rhs", "label": "Label",
    "estimate": "Estimate", "std_error": "SE", "statistic": "Statistic", "df": "df", "p_value": "p",
    "std_all": "β (std.)", "hazard_ratio": "HR", "group": "Group", "var1": "Var 1", "var2": "Var 2",
    "vcov": "Variance", "sdcor": "SD / r", "measure": "Measure", "icc": "ICC", "supported": "Supported",
    "hypothesis": "Hypothesis", "model": "Model", "statement": "Statement", "note": "Note",
    "icc_therapist": "ICC therapist", "icc_client": "ICC client",
    "icc_same_client": "ICC same client", "icc_residual": "Residual share",
    # survival, process, invariance and power tables (issue 18)
    "test": "Test", "given": "Given", "target": "Target", "expected": "Expected",
    "transitional_probability": "P(target | given)", "adjusted_residual": "z (adj. residual)", "yules_q": "Yule's Q",
    "synchrony": "Synchrony", "synchrony_lag_zero": "Lag 0",
    "synchrony_x_leads": "x leads", "synchrony_y_leads": "y leads", "synchrony_best_lag": "Best lag (s)",
    "step": "Step", "chisq": "χ²", "cfi": "CFI", "rmsea": "RMSEA", "srmr": "SRMR", "chisq_diff": "Δχ²",
    "delta_cfi": "ΔCFI", "delta_rmsea": "ΔRMSEA", "converged": "Converged", "truth": "Truth", "power": "Power",
    "power_mcse": "MCSE", "bias": "Bias", "rmse": "RMSE", "coverage": "Coverage", "failed_share": "Failed",
    "improper_share": "Improper",
}
#: columns of whole numbers, shown without decimals, and their headers
COUNT_HEADERS = {"df_diff": "Δdf", "n_clients": "Clients", "n_sessions": "Sessions", "synchrony_windows": "Windows",
                 "n_sessions_used": "Sessions", "reps": "Replications", "usable": "Usable", "npar": "Parameters",
                 "n_events": "Events", "n_risk": "At risk", "observed": "Observed", "client": "Client",
                 "session": "Session"}


def fmt_p(p: float) -> str:
    """APA p value: ``< .001``, else three decimals without the leading zero (``.034``); ``—`` if missing.

    >>> fmt_p(0.0004), fmt_p(0.0341)
    ('< .001', '.034')
    """
    if p is None or (isinstance(p, float) and math.isnan(p)):
        return "—"
    if p < 0.001:
        return "< .001"
    return f"{p:.3f}".lstrip("0") if p < 1 else "1.000"


def _fmt_cell(value, digits: int, *, counts: bool = False) -> str:
    if isinstance(value, (bool, np.bool_)):
        return "yes" if value else "no"
    if isinstance(value, (int, np.integer)):
        return str(int(value))
    if isinstance(value, (float, np.floating)):
        if math.isnan(value):
            return "—"
        if counts and float(value).is_integer() and abs(value) < 1e15:
            return str(int(value))
        return fmt_number(float(value), digits)
    if value is None or value is pd.NA or value is pd.NaT:
        return "—"
    return str(value)


@renamed_arguments(level="conf_level")
def apa_table(table: pd.DataFrame, *, conf_level: float = 0.95, digits: int = 2) -> pd.DataFrame:
    """Format a tidy result table for display: strings only, APA rules, CI merged into one column.

    ``df`` gets one decimal; ``p_value`` uses :func:`fmt_p`; ``ci_lower``/``ci_upper`` become one column
    headed ``"95% CI"`` (from ``conf_level``); ``statistic`` keeps two decimals. Other columns are formatted by
    type; their headers come from ``HEADERS`` or the column name itself (escaped later by the template).

    >>> import pandas as pd
    >>> apa_table(pd.DataFrame({"measure": ["alliance"], "icc": [0.4567]}), digits=3).columns.tolist()
    ['Measure', 'ICC']
    """
    out = {}
    ci_done = False
    for col in table.columns:
        values = table[col]
        if col in ("ci_lower", "ci_upper"):
            if ci_done or not {"ci_lower", "ci_upper"} <= set(table.columns):
                continue
            ci_done = True
            out[f"{conf_level:.0%} CI"] = [
                "—" if (pd.isna(lo) or pd.isna(hi)) else f"[{fmt_number(lo, digits)}, {fmt_number(hi, digits)}]"
                for lo, hi in zip(table["ci_lower"], table["ci_upper"])]
            continue
        if col == "p_value":
            out[HEADERS[col]] = [fmt_p(v) for v in values]
        elif col == "df":
            out[HEADERS[col]] = [_fmt_cell(v, 1) for v in values]
        elif col in COUNT_HEADERS:
            out[COUNT_HEADERS[col]] = [_fmt_cell(v, digits, counts=True) for v in values]
        else:
            # columns of no known statistic (e.g. a generic "value") show whole numbers as counts
            counts = col not in HEADERS and col not in ("mean", "sd", "min", "max", "missing_share")
            out[HEADERS.get(col, str(col))] = [_fmt_cell(v, digits, counts=counts) for v in values]
    return pd.DataFrame(out, index=range(len(table)))


_TAG_START = re.compile(r"<(?=[A-Za-z/!?])")
_ENTITY = re.compile(r"&(?=#?[A-Za-z0-9]+;)")


def to_markdown_text(text: object) -> str:
    """Text for a Markdown file, on one line, with HTML disarmed: a ``<`` that would open a tag (``<b``,
    ``</``, ``<!``, ``<?``) becomes ``&lt;`` and an ``&`` that would start an entity becomes ``&amp;``, so a
    viewer rendering HTML in Markdown shows the text; ``< .001`` and ``a & b`` stay readable.

    >>> to_markdown_text("<b>x</b> & y &amp; p < .001")
    '&lt;b>x&lt;/b> & y &amp;amp; p < .001'
    """
    text = _ENTITY.sub("&amp;", str(text))
    return _TAG_START.sub("&lt;", text).replace("\r", " ").replace("\n", " ")


def _md_cell(text: str) -> str:
    return to_markdown_text(str(text).replace("\\", "\\\\").replace("|", "\\|"))


def to_markdown(table: pd.DataFrame) -> str:
    """A GitHub-flavoured Markdown table of string cells (``|`` and HTML escaped); no trailing newline.

    >>> print(to_markdown(pd.DataFrame({"<i>x</i>": ["a|b"]})))
    | &lt;i>x&lt;/i> |
    | --- |
    | a\\|b |
    """
    head = "| " + " | ".join(_md_cell(c) for c in table.columns) + " |"
    rule = "| " + " | ".join("---" for _ in table.columns) + " |"
    rows = ["| " + " | ".join(_md_cell(v) for v in row) + " |" for row in table.astype(str).itertuples(index=False)]
    return "\n".join([head, rule, *rows])


def to_csv_text(table: pd.DataFrame) -> str:
    """The tidy table as CSV text: full precision (shortest round-trip repr), ``\\n`` line ends, no index.

    Text cells and headers that a spreadsheet would read as a formula get a leading ``'``
    (:func:`allianceStats.data.output.neutralise_formulas`, the rule of every CSV the package writes); numeric
    columns are written as numbers.

    >>> to_csv_text(pd.DataFrame({"x": [0.1 + 0.2]}))
    'x\\n0.30000000000000004\\n'
    >>> print(to_csv_text(pd.DataFrame({"op": ["=~", "~~"], "estimate": [-1.5, 2.0]})), end="")
    op,estimate
    '=~,-1.5
    ~~,2.0
    """
    return neutralise_formulas(table).to_csv(index=False, lineterminator="\n")


def _blocking_file(path: Path) -> Path | None:
    """The first existing non-folder among the parents of ``path`` (a file where a folder is needed)."""
    for parent in reversed(path.parents):
        if parent.exists() and not parent.is_dir():
            return parent
    return None


def _writable_base(path: Path) -> Path:
    """The nearest existing folder at or above ``path`` (where new files and folders would be created)."""
    for candidate in (path, *path.parents):
        if candidate.is_dir():
            return candidate
    return Path(".")


def _check_writable(folder: Path, what: str, path: Path) -> None:
    if not os.access(folder, os.W_OK | os.X_OK):
        raise OptionError(f"{what} {path} cannot be written: permission denied in {folder}; choose a folder you "
                          "can write to")


def check_output_file(path, *, what: str = "the output file") -> Path:
    """``path`` as a Path if a file can be written there; else an :class:`~allianceStats.errors.OptionError`
    saying why (it is a folder, a folder above it is a file, or the folder is not writable).

    >>> import tempfile, pathlib
    >>> folder = pathlib.Path(tempfile.mkdtemp())
    >>> check_output_file(folder / "new" / "t.csv") == folder / "new" / "t.csv"
    True
    >>> check_output_file(folder, what="--out")
    Traceback (most recent call last):
    ...
    allianceStats.errors.OptionError: --out ... is a folder; give a file name, e.g. .../table.csv
    """
    path = Path(path)
    if path.is_dir():
        raise OptionError(f"{what} {path} is a folder; give a file name, e.g. {path / 'table.csv'}")
    blocking = _blocking_file(path)
    if blocking is not None:
        raise OptionError(f"{what} {path} cannot be created: {blocking} is a file, not a folder")
    _check_writable(_writable_base(path.parent), what, path)
    if path.exists() and not os.access(path, os.W_OK):
        raise OptionError(f"{what} {path} cannot be replaced: permission denied")
    return path


def check_output_folder(path, *, what: str = "the output folder") -> Path:
    """``path`` as a Path if a folder can be used or created there; else an
    :class:`~allianceStats.errors.OptionError` saying why (it is a file, a folder above it is a file, or it is
    not writable).

    >>> import tempfile, pathlib
    >>> folder = pathlib.Path(tempfile.mkdtemp())
    >>> (folder / "f.txt").write_text("x")
    1
    >>> check_output_folder(folder / "f.txt", what="--out")
    Traceback (most recent call last):
    ...
    allianceStats.errors.OptionError: --out .../f.txt is an existing file; give a folder (it is created if needed)
    """
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise OptionError(f"{what} {path} is an existing file; give a folder (it is created if needed)")
    blocking = _blocking_file(path)
    if blocking is not None:
        raise OptionError(f"{what} {path} cannot be created: {blocking} is a file, not a folder")
    _check_writable(_writable_base(path), what, path)
    return path


def atomic_write(path: Path, text: str | bytes) -> None:
    """Write ``text`` (UTF-8; or ``bytes`` as they are) to a temporary file in the same folder, then rename it over
    ``path``.

    A new file gets the permissions the umask allows (``0o666 & ~umask``, as ``open()`` would give); a file
    that is replaced keeps its permissions.

    Raises
    ------
    OptionError
        ``path`` is a folder, or a folder above it is a file, or the folder is not writable
        (:func:`check_output_file`).
    OSError
        Writing failed (e.g. the disk is full); the error names ``path``, never the temporary file.

    >>> import tempfile, pathlib
    >>> target = pathlib.Path(tempfile.mkdtemp()) / "out" / "t.md"
    >>> atomic_write(target, "| a |\\n")
    >>> target.read_text(), [p.name for p in target.parent.iterdir()]
    ('| a |\\n', ['t.md'])
    >>> oct(target.stat().st_mode & 0o777) == oct(0o666 & ~current_umask())
    True
    """
    path = check_output_file(path)
    try:
        mode = path.stat().st_mode & 0o7777 if path.exists() else 0o666 & ~current_umask()
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    except OSError as err:
        raise type(err)(err.errno or errno.EIO, err.strerror or str(err), str(path)) from None
    try:
        if isinstance(text, bytes):
            with os.fdopen(fd, "wb") as fh:
                fh.write(text)
        else:
            with os.fdopen(fd, "w", encoding="utf-8", newline="") as fh:
                fh.write(text)
        # mkstemp creates the file readable by its owner only; give it what a plain open() would
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except OSError as err:
        Path(tmp).unlink(missing_ok=True)
        raise type(err)(err.errno or errno.EIO, err.strerror or str(err), str(path)) from None
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
