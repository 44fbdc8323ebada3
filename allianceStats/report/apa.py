"""APA tables of any result, as Markdown, booktabs LaTeX, HTML or Word: :func:`to_table`.

The numbers follow the APA Publication Manual (7th ed.) as implemented in :mod:`allianceStats.formatting`:
decimals adapted to each row's standard error (a path from a 1–5 scale to a 0–100 scale reads ``0.012``, not
``0.01, SE 0.00``), *p* as ``< .001`` and never ``0.0000``, bounded quantities (β, CFI, RMSEA, ICC) without the
leading zero, a true minus sign, the interval in one column whose header carries its level, parameters fixed by
the model marked ``fixed``. SEM parameters are grouped under *Regressions*, *Loadings*, *Covariances*,
*Variances*, *Intercepts* and *Defined parameters*; fit measures carry their usual labels (χ², df, CFI, TLI,
RMSEA [90% CI], SRMR); every row is shown (no "first 40 of 41 rows"), and names are never broken inside a word
(LaTeX ``l`` columns; ``white-space: nowrap`` in HTML; no-wrap cells in Word).

Which tables: ``which=`` names result attributes (``"params"``, ``"paths"``, ``"effects"``, ``"varcomp"``,
``"fit"``, …); by default a SEM shows its parameters and fit, a panel model its lagged paths and fit, a mediation
its effects and paths, a mixed model its fixed effects and variance components, anything else its first tidy
table. LaTeX needs ``\\usepackage{booktabs}`` (and ``amsmath`` for the arrows); Word output uses python-docx.

Example
-------
>>> import pandas as pd
>>> t = pd.DataFrame({"term": ["alliance"], "estimate": [0.0123], "std_error": [0.0042], "df": [120.4],
...                   "statistic": [2.93], "p_value": [0.00002], "ci_lower": [0.0041], "ci_upper": [0.0205]})
>>> print(to_table(t))
**Table 1**
<BLANKLINE>
*Estimates*
<BLANKLINE>
| Term | Estimate | SE | df | t | p | 95% CI |
| :--- | ---: | ---: | ---: | ---: | ---: | ---: |
| alliance | 0.012 | 0.004 | 120.4 | 2.93 | < .001 | [0.004, 0.021] |
<BLANKLINE>
*Note.* CI = confidence interval.
"""
from __future__ import annotations

import html
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from ..data.checks import check_choice
from ..errors import OptionError
from ..formatting import apa_frame, display_tables, fit_measures_table

__all__ = ["to_table", "apa_tables", "ApaTable", "FORMATS"]

FORMATS = ("markdown", "latex", "html", "docx")
TITLES = {
    "params": "Parameter estimates", "paths": "Path estimates", "effects": "Indirect, direct and total effects",
    "varcomp": "Variance components", "fit": "Model fit", "table": "Estimates", "cross_lagged": "Cross-lagged paths",
    "autoregressive": "Autoregressive paths", "measures": "Explained variance", "comparison": "Model comparison",
    "tests": "Tests", "zi_params": "Zero-inflation parameters", "outcome_params": "Outcome model",
}
_SECTIONS = {"~": "Regressions", "=~": "Loadings", "~~": "Covariances", "var": "Variances", "~1": "Intercepts",
             "|": "Thresholds", ":=": "Defined parameters"}
_ITALIC = {"SE", "p", "t", "z", "df", "N", "n", "M", "SD", "F", "r", "R²", "χ²", "β"}


@dataclass
class ApaTable:
    """One table: APA display strings, a title, section headings (row index -> heading) and a note."""

    title: str
    frame: pd.DataFrame
    note: str = ""
    sections: dict[int, str] = field(default_factory=dict)


def _sem_sections(table: pd.DataFrame) -> tuple[pd.DataFrame, dict[int, str]]:
    kind = [("var" if (o == "~~" and a == b) else o) for a, o, b in zip(table["lhs"], table["op"], table["rhs"])]
    order = {k: i for i, k in enumerate(_SECTIONS)}
    ranked = table.assign(_kind=kind, _rank=[order.get(k, len(order)) for k in kind])
    ranked = ranked.sort_values("_rank", kind="stable")
    sections, start = {}, 0
    for _, rows in ranked.groupby("_rank", sort=True):
        sections[start] = _SECTIONS.get(rows["_kind"].iloc[0], str(rows["_kind"].iloc[0]))
        start += len(rows)
    return ranked.drop(columns=["_kind", "_rank"]).reset_index(drop=True), sections


def _default_which(result, tables: dict) -> list[str]:
    names = list(tables)
    if not names:
        return []
    if hasattr(result, "variables") and "paths" in names:  # panel models: the lagged paths
        chosen = ["paths"]
    elif "fit" in names and "params" in names:  # SEM: every parameter
        chosen = ["params"]
    elif "effects" in names:
        chosen = ["effects"] + (["paths"] if "paths" in names else [])
    else:
        chosen = [next(n for n in names if n != "fit")] if any(n != "fit" for n in names) else []
    for extra in ("varcomp", "fit"):
        if extra in names and extra not in chosen:
            chosen.append(extra)
    return chosen


def apa_tables(result, *, which: str | list[str] | None = None) -> list[ApaTable]:
    """The APA tables of a result (or of one tidy DataFrame), ready for any output format.

    Parameters
    ----------
    result : result or DataFrame
        A fitted result, or a tidy table.
    which : str or list of str, optional
        Result attributes to tabulate (default: see the module docstring).

    Returns
    -------
    list of ApaTable

    Examples
    --------
    >>> import pandas as pd
    >>> [t.title for t in apa_tables(pd.DataFrame({"term": ["x"], "estimate": [1.0]}))]
    ['Estimates']
    """
    if isinstance(result, pd.DataFrame | pd.Series):
        tables = {"fit" if isinstance(result, pd.Series) else "table": result}
        names = list(tables)
        level = 0.95
    else:
        tables = display_tables(result)
        level = getattr(result, "conf_level", 0.95)
        if which is None:
            names = _default_which(result, tables)
        else:
            names = [which] if isinstance(which, str) else list(which)
            for name in names:
                if name not in tables:
                    value = getattr(result, name, None)
                    if isinstance(value, pd.DataFrame | pd.Series):
                        tables[name] = value
                    else:
                        raise OptionError(f"which={name!r}: {type(result).__name__} has no table of that name; "
                                          f"its tables are {sorted(tables)}.")
        if not names:
            raise OptionError(f"{type(result).__name__} has no tidy table to format.")
    out = []
    n = getattr(result, "n_obs", None)
    for name in names:
        table = tables[name]
        sections: dict[int, str] = {}
        if isinstance(table, pd.Series):
            frame = fit_measures_table(table).rename(columns={"measure": "Measure", "value": "Value"})
            note = "RMSEA = root mean square error of approximation (90% CI); CFI = comparative fit index; " \
                   "TLI = Tucker–Lewis index; SRMR = standardized root mean square residual."
        else:
            if {"lhs", "op", "rhs"} <= set(table.columns) and table["op"].nunique() > 1:
                table, sections = _sem_sections(table)
            frame = apa_frame(table, conf_level=level)
            notes = []
            if any(c.endswith("CI") for c in frame.columns):
                notes.append("CI = confidence interval")
            if "β" in frame.columns:
                notes.append("β = standardized estimate (std.all)")
            if frame.attrs.get("fixed"):
                notes.append("fixed = value fixed by the model, not estimated")
            note = "; ".join(notes) + "." if notes else ""
        if n is not None and name in ("params", "paths", "effects"):
            note = (note + " " if note else "") + f"N = {n}."
        out.append(ApaTable(TITLES.get(name, name.replace("_", " ").capitalize()), frame, note, sections))
    return out


# ---------------------------------------------------------------------------------------------------------------
# writers
# ---------------------------------------------------------------------------------------------------------------
def _md_cell(text: str) -> str:
    return str(text).replace("\\", "\\\\").replace("|", "\\|").replace("\n", " ")


def _numeric_column(frame: pd.DataFrame, col) -> bool:
    return col != frame.columns[0] and frame[col].map(
        lambda v: str(v)[:1] in "−-.0123456789<>[—" or str(v) == "fixed").all()


def _markdown(tables: list[ApaTable], start: int) -> str:
    parts = []
    for i, t in enumerate(tables):
        cols = list(t.frame.columns)
        align = ["---:" if _numeric_column(t.frame, c) else ":---" for c in cols]
        lines = [f"**Table {start + i}**", "", f"*{t.title}*", "",
                 "| " + " | ".join(_md_cell(c) for c in cols) + " |", "| " + " | ".join(align) + " |"]
        for r, row in enumerate(t.frame.itertuples(index=False)):
            if r in t.sections:
                lines.append("| " + " | ".join([f"*{t.sections[r]}*"] + [""] * (len(cols) - 1)) + " |")
            lines.append("| " + " | ".join(_md_cell(v) for v in row) + " |")
        if t.note:
            lines += ["", f"*Note.* {t.note}"]
        parts.append("\n".join(lines))
    return "\n\n".join(parts)


_LATEX = {"&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#", "_": r"\_", "{": r"\{", "}": r"\}",
          "~": r"\textasciitilde{}", "^": r"\textasciicircum{}", "\\": r"\textbackslash{}",
          "→": r"$\rightarrow$", "↔": r"$\leftrightarrow$", "−": r"$-$", "—": "---", "–": "--", "…": r"\ldots{}",
          "χ": r"$\chi$", "²": r"$^2$", "β": r"$\beta$", "Δ": r"$\Delta$", "∞": r"$\infty$", "<": r"$<$",
          ">": r"$>$", "≥": r"$\geq$", "≤": r"$\leq$"}


def latex_escape(text: object) -> str:
    """Escape a cell for LaTeX (special characters, arrows, Greek letters and the minus sign in math mode).

    >>> latex_escape("a_1 → y: 50% −0.2")
    'a\\\\_1 $\\\\rightarrow$ y: 50\\\\% $-$0.2'
    """
    return "".join(_LATEX.get(ch, ch) for ch in str(text)).replace("$$", "")


def _latex_header(col: str) -> str:
    if col in _ITALIC:
        return r"\textit{" + latex_escape(col) + "}"
    if col.endswith("% CI"):
        return latex_escape(col)
    return latex_escape(col)


def _latex(tables: list[ApaTable], start: int) -> str:
    parts = []
    for i, t in enumerate(tables):
        cols = list(t.frame.columns)
        spec = "".join("r" if _numeric_column(t.frame, c) else "l" for c in cols)
        lines = [r"\begin{table}[htbp]", r"\centering", r"\caption{" + latex_escape(t.title) + "}",
                 rf"\label{{tab:{start + i}}}", rf"\begin{{tabular}}{{{spec}}}", r"\toprule",
                 " & ".join(_latex_header(c) for c in cols) + r" \\", r"\midrule"]
        for r, row in enumerate(t.frame.itertuples(index=False)):
            if r in t.sections:
                if r:
                    lines.append(r"\addlinespace")
                lines.append(rf"\multicolumn{{{len(cols)}}}{{l}}{{\textit{{{latex_escape(t.sections[r])}}}}} \\")
            lines.append(" & ".join(latex_escape(v) for v in row) + r" \\")
        lines += [r"\bottomrule", r"\end{tabular}"]
        if t.note:
            lines.append(r"\par\smallskip{\footnotesize\textit{Note.} " + latex_escape(t.note) + "}")
        lines.append(r"\end{table}")
        parts.append("\n".join(lines))
    return "\n\n".join(parts)


def _html(tables: list[ApaTable], start: int) -> str:
    esc = html.escape
    parts = []
    for i, t in enumerate(tables):
        cols = list(t.frame.columns)
        head = "".join(f"<th>{'<em>' + esc(c) + '</em>' if c in _ITALIC else esc(c)}</th>" for c in cols)
        rows = []
        for r, row in enumerate(t.frame.itertuples(index=False)):
            if r in t.sections:
                rows.append(f'<tr class="section"><td colspan="{len(cols)}"><em>{esc(t.sections[r])}</em></td></tr>')
            right = [bool(j) and _numeric_column(t.frame, c) for j, c in enumerate(cols)]
            cells = "".join(f'<td style="white-space:nowrap{";text-align:right" if r_ else ""}">{esc(str(v))}</td>'
                            for r_, v in zip(right, row))
            rows.append(f"<tr>{cells}</tr>")
        note = (f'<tfoot><tr><td colspan="{len(cols)}"><em>Note.</em> {esc(t.note)}</td></tr></tfoot>'
                if t.note else "")
        parts.append(f'<table class="apa"><caption><strong>Table {start + i}</strong><br><em>{esc(t.title)}</em>'
                     f"</caption><thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody>{note}</table>")
    return "\n".join(parts)


def _docx(tables: list[ApaTable], start: int):
    try:
        import docx
        from docx.oxml import OxmlElement
        from docx.oxml.ns import qn
        from docx.shared import Pt
    except ImportError as exc:  # pragma: no cover - python-docx is a dependency
        raise OptionError("format='docx' needs python-docx (pip install python-docx).") from exc

    def border(cell, edge: str, size: int = 8) -> None:
        tc_pr = cell._tc.get_or_add_tcPr()
        borders = tc_pr.find(qn("w:tcBorders"))
        if borders is None:
            borders = OxmlElement("w:tcBorders")
            tc_pr.append(borders)
        el = OxmlElement(f"w:{edge}")
        el.set(qn("w:val"), "single")
        el.set(qn("w:sz"), str(size))
        el.set(qn("w:color"), "000000")
        borders.append(el)

    def no_wrap(cell) -> None:
        tc_pr = cell._tc.get_or_add_tcPr()
        tc_pr.append(OxmlElement("w:noWrap"))

    document = docx.Document()
    style = document.styles["Normal"]
    style.font.name = "Times New Roman"
    style.font.size = Pt(11)
    for i, t in enumerate(tables):
        document.add_paragraph().add_run(f"Table {start + i}").bold = True
        document.add_paragraph().add_run(t.title).italic = True
        cols = list(t.frame.columns)
        n_rows = 1 + len(t.frame) + len(t.sections)
        table = document.add_table(rows=n_rows, cols=len(cols))
        grid = [row.cells for row in table.rows]  # table.cell() rebuilds every cell on each call: quadratic
        for j, c in enumerate(cols):
            cell = grid[0][j]
            run = cell.paragraphs[0].add_run(str(c))
            run.italic = c in _ITALIC
            border(cell, "top")
            border(cell, "bottom")
            no_wrap(cell)
        r = 1
        for k, row in enumerate(t.frame.itertuples(index=False)):
            if k in t.sections:
                merged = grid[r][0].merge(grid[r][len(cols) - 1])
                merged.paragraphs[0].add_run(t.sections[k]).italic = True
                r += 1
            for j, v in enumerate(row):
                cell = grid[r][j]
                cell.paragraphs[0].add_run(str(v))
                no_wrap(cell)
            r += 1
        for j in range(len(cols)):
            border(grid[n_rows - 1][j], "bottom")
        if t.note:
            p = document.add_paragraph()
            p.add_run("Note. ").italic = True
            p.add_run(t.note)
    return document


def to_table(result, format: str = "markdown", *, which: str | list[str] | None = None,
             path: str | os.PathLike | None = None, start: int = 1):
    """Format a result's tables for a paper: Markdown, booktabs LaTeX, HTML or Word (APA rules, module docstring).

    Parameters
    ----------
    result : result or DataFrame
        Any fitted result (``fit_sem``, ``fit_riclpm``, ``fit_mlm``, ``fit_mediation``, …) or a tidy table.
    format : {"markdown", "latex", "html", "docx"}
        Output format. ``"docx"`` returns a python-docx ``Document`` (save it, or pass ``path=``).
    which : str or list of str, optional
        The result's tables to include (``"params"``, ``"paths"``, ``"effects"``, ``"varcomp"``, ``"fit"`` …).
    path : str or PathLike, optional
        Also write the output there (written to a temporary file in the same folder, then renamed).
    start : int
        Number of the first table ("Table 1").

    Returns
    -------
    str or docx.document.Document
        The tables as text, or the Word document.

    Raises
    ------
    OptionError
        Unknown ``format``, or ``which`` names no table of the result.

    Examples
    --------
    >>> import allianceStats as als
    >>> data = als.simulate.designs.mediation(300, seed=1)[0]
    >>> fit = als.fit_sem(data, "m ~ a*x\\ny ~ b*m + x\\nind := a*b")
    >>> tex = to_table(fit, "latex")
    >>> r"\\toprule" in tex and r"$\\chi^2$(0)" in tex and "0.0000" not in tex
    True
    >>> print(to_table(fit, which="fit").splitlines()[6])
    | χ²(0) | 0.00 |
    """
    format = check_choice("format", format, FORMATS)
    tables = apa_tables(result, which=which)
    if format == "markdown":
        out = _markdown(tables, start)
    elif format == "latex":
        out = _latex(tables, start)
    elif format == "html":
        out = _html(tables, start)
    else:
        out = _docx(tables, start)
    if path is not None:
        target = Path(path)
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
        os.close(fd)
        try:
            if format == "docx":
                out.save(tmp)
            else:
                Path(tmp).write_text(out + "\n", encoding="utf-8", newline="\n")
            os.replace(tmp, target)
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)
    return out
