"""Tables for reports: APA-style formatting, CSV and Markdown export (deterministic bytes).

A report table is a tidy DataFrame with the project's fixed column names (``term`` or ``lhs, op, rhs``,
``estimate, std_error, statistic, p_value, ci_lower, ci_upper`` …). :func:`apa_table` turns it into
display strings following the APA Publication Manual (7th ed.): estimates to two decimals, *p* to three
decimals without a leading zero and ``< .001`` below that, the confidence interval as ``[lower, upper]``
in one column whose header carries the level (the level is an attribute, never a column name in the
data). Exports: the raw tidy table as CSV (full precision, ``\\n`` line ends, no index) and the APA
version as a GitHub-flavoured Markdown table.

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

import math
import os
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd

from .._deprecation import renamed_arguments
from .diagrams import fmt_number

HEADERS = {
    "term": "Term", "effect": "Effect", "lhs": "lhs", "op": "op", "rhs": "rhs", "label": "Label",
    "estimate": "Estimate", "std_error": "SE", "statistic": "Statistic", "df": "df", "p_value": "p",
    "std_all": "β (std.)", "hazard_ratio": "HR", "group": "Group", "var1": "Var 1", "var2": "Var 2",
    "vcov": "Variance", "sdcor": "SD / r", "measure": "Measure", "icc": "ICC", "supported": "Supported",
    "hypothesis": "Hypothesis", "model": "Model", "statement": "Statement", "note": "Note",
    "icc_therapist": "ICC therapist", "icc_client": "ICC client",
    "icc_same_client": "ICC same client", "icc_residual": "Residual share",
}


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
        else:
            # columns of no known statistic (e.g. a generic "value") show whole numbers as counts
            counts = col not in HEADERS and col not in ("mean", "sd", "min", "max", "missing_share")
            out[HEADERS.get(col, str(col))] = [_fmt_cell(v, digits, counts=counts) for v in values]
    return pd.DataFrame(out, index=range(len(table)))


def _md_cell(text: str) -> str:
    return str(text).replace("\\", "\\\\").replace("|", "\\|").replace("\n", " ")


def to_markdown(table: pd.DataFrame) -> str:
    """A GitHub-flavoured Markdown table of string cells (``|`` escaped); no trailing newline."""
    head = "| " + " | ".join(_md_cell(c) for c in table.columns) + " |"
    rule = "| " + " | ".join("---" for _ in table.columns) + " |"
    rows = ["| " + " | ".join(_md_cell(v) for v in row) + " |" for row in table.astype(str).itertuples(index=False)]
    return "\n".join([head, rule, *rows])


def to_csv_text(table: pd.DataFrame) -> str:
    """The tidy table as CSV text: full precision (shortest round-trip repr), ``\\n`` line ends, no index.

    >>> to_csv_text(pd.DataFrame({"x": [0.1 + 0.2]}))
    'x\\n0.30000000000000004\\n'
    """
    return table.to_csv(index=False, lineterminator="\n")


def atomic_write(path: Path, text: str) -> None:
    """Write ``text`` (UTF-8) to a temporary file in the same folder, then rename it over ``path``.

    >>> import tempfile, pathlib
    >>> target = pathlib.Path(tempfile.mkdtemp()) / "out" / "t.md"
    >>> atomic_write(target, "| a |\\n")
    >>> target.read_text(), [p.name for p in target.parent.iterdir()]
    ('| a |\\n', ['t.md'])
    >>> oct(target.stat().st_mode & 0o044)  # readable by others
    '0o44'
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as fh:
            fh.write(text)
        # mkstemp creates the file readable by its owner only; a report is for sharing (rw-r--r--)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
