"""The HTML report: sections of figures and tables, rendered with jinja2 into one self-contained file.

A :class:`Report` is a list of :class:`Section` objects plus a provenance record. A section holds
paragraphs, figures (SVG text produced by :mod:`~allianceStats.report.diagrams` or
:mod:`~allianceStats.report.figures`) and :class:`Table` objects (tidy DataFrames). A section whose
analysis could not run is kept with ``status="skipped"`` (module not available) or ``"failed"`` (the fit
failed) and its reason, and is shown as a visible note — the report renders from whatever exists.

Safety: the template environment autoescapes everything. Only SVG produced by this package is marked
safe (:class:`Figure` wraps it; all user text inside it is XML-escaped by the drawing code). No script,
no external stylesheet, font or image: the file works offline and prints on white.

:func:`write_report` writes ``index.html`` plus ``tables/<name>.csv`` (tidy, full precision) and
``tables/<name>.md`` (APA formatting) for every table; each file is written to a temporary file and then
renamed, so a reader never sees half a report.

Example
-------
>>> import pandas as pd, tempfile, pathlib
>>> sec = Section("icc", "Intraclass correlations",
...               tables=[Table("icc", "ICCs", pd.DataFrame({"measure": ["alliance"], "icc": [0.41]}))])
>>> rep = Report("Demo", [sec, Section.skipped("sem", "SEM", "allianceStats.sem is not available")])
>>> html = render_html(rep)
>>> "Intraclass correlations" in html and "Skipped" in html and "<script" not in html
True
>>> out = write_report(rep, pathlib.Path(tempfile.mkdtemp()))
>>> sorted(p.name for p in out.parent.joinpath("tables").iterdir())
['icc.csv', 'icc.md']
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jinja2
import pandas as pd
from markupsafe import Markup

from ..errors import OptionError
from .tables import apa_table, atomic_write, to_csv_text, to_markdown

_ACTIVE_CONTENT = re.compile(r"<\s*script|<\s*foreignObject|<\s*iframe|<[^>]*\son[a-z]+\s*=|javascript:", re.I)


def slug(text: str) -> str:
    """A file- and anchor-safe name: lowercase ASCII letters, digits, ``_`` and ``-``.

    >>> slug("Mediation: needs (parallel)")
    'mediation-needs-parallel'
    """
    s = re.sub(r"[^a-z0-9_-]+", "-", str(text).lower()).strip("-")
    return s or "item"


@dataclass(frozen=True)
class Table:
    """A tidy table shown APA-formatted in the report and exported as ``<name>.csv`` / ``<name>.md``.

    The HTML shows at most ``max_rows`` rows (``0``: only links to the files) and, when ``show`` names columns,
    only those; the files hold every row and column. ``conf_level`` heads the interval column (``95% CI``);
    ``digits`` is the number of decimals shown.
    """

    name: str
    title: str
    data: pd.DataFrame
    note: str = ""
    conf_level: float = 0.95
    digits: int = 2
    max_rows: int = 40
    show: tuple[str, ...] = ()

    @property
    def display(self) -> pd.DataFrame:
        """APA-formatted strings of the first ``max_rows`` rows and the ``show`` columns (the files hold all)."""
        shown = self.data[[c for c in self.show if c in self.data.columns]] if self.show else self.data
        return apa_table(shown.head(self.max_rows), conf_level=self.conf_level, digits=self.digits)

    @property
    def truncated(self) -> bool:
        return len(self.data) > self.max_rows


@dataclass(frozen=True)
class Figure:
    """An inline SVG figure drawn by this package, with a caption (caption text is escaped)."""

    svg: str
    caption: str = ""

    def __post_init__(self):
        # defence in depth: the only unescaped markup in a report must be a plain, script-free <svg>
        if not self.svg.lstrip().startswith("<svg") or _ACTIVE_CONTENT.search(self.svg):
            raise OptionError("Figure.svg must be an <svg> element without scripts, event handlers, "
                             "foreignObject or javascript: links (draw it with allianceStats.report).")

    @property
    def markup(self) -> Markup:
        # trusted: produced by allianceStats.report.diagrams / figures, which escape all user text
        return Markup(self.svg)


@dataclass
class Section:
    """One part of the report. ``status`` is ``"ok"``, ``"skipped"`` (module absent) or ``"failed"``."""

    id: str
    title: str
    paragraphs: list[str] = field(default_factory=list)
    figures: list[Figure] = field(default_factory=list)
    tables: list[Table] = field(default_factory=list)
    status: str = "ok"
    note: str = ""

    @classmethod
    def skipped(cls, id: str, title: str, reason: str) -> Section:
        """A section shown only as a visible 'Skipped: reason' note."""
        return cls(id, title, status="skipped", note=reason)

    @classmethod
    def failed(cls, id: str, title: str, reason: str) -> Section:
        """A section whose analysis raised an error; the reason is shown."""
        return cls(id, title, status="failed", note=reason)


@dataclass
class Report:
    """Title, sections, and provenance (``data_sha256``, ``versions``, ``seed``, ``syntax``: name → lavaan)."""

    title: str
    sections: list[Section]
    provenance: dict[str, Any] = field(default_factory=dict)

    def tables(self) -> list[Table]:
        return [t for s in self.sections for t in s.tables]


_ENV = jinja2.Environment(
    loader=jinja2.PackageLoader("allianceStats.report", "templates"),
    autoescape=True,
    undefined=jinja2.StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
    keep_trailing_newline=True,
)


def render_html(report: Report) -> str:
    """Render the report to one HTML string (autoescaped; inline SVG; no script, no network).

    Parameters
    ----------
    report : Report
        Title, sections and provenance (e.g. from :func:`allianceStats.report.build_report`).

    Returns
    -------
    str
        A self-contained HTML document.

    Raises
    ------
    OptionError
        Two tables share a name (their files would overwrite each other).

    Examples
    --------
    >>> html = render_html(Report("Demo <1>", [Section("a", "Section A", paragraphs=["x < y"])]))
    >>> "Demo &lt;1&gt;" in html and "x &lt; y" in html
    True
    """
    names = [t.name for t in report.tables()]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise OptionError(f"table names must be unique within a report; repeated: {dupes}; give each table its "
                          "own name")
    return _ENV.get_template("report.html.j2").render(report=report, slug=slug)


def write_report(report: Report, outdir: str | Path) -> Path:
    """Write ``index.html`` and ``tables/<name>.csv|.md`` under ``outdir``; return the HTML path.

    Each file goes to a temporary name in its folder first and is then renamed (atomic on POSIX).

    Parameters
    ----------
    report : Report
        The report to write.
    outdir : str or Path
        Output folder (created if needed).

    Returns
    -------
    Path
        The path of ``index.html``.

    Examples
    --------
    >>> import tempfile
    >>> path = write_report(Report("Demo", [Section("a", "A")]), tempfile.mkdtemp())
    >>> path.name, path.read_text(encoding="utf-8").startswith("<!DOCTYPE html>")
    ('index.html', True)
    """
    outdir = Path(outdir)
    html = render_html(report)
    for table in report.tables():
        stem = slug(table.name)
        atomic_write(outdir / "tables" / f"{stem}.csv", to_csv_text(table.data))
        full = apa_table(table.data, conf_level=table.conf_level, digits=table.digits)
        md = f"**{table.title}**\n\n{to_markdown(full)}\n"
        if table.note:
            md += f"\n*Note.* {table.note}\n"
        atomic_write(outdir / "tables" / f"{stem}.md", md)
    target = outdir / "index.html"
    atomic_write(target, html)
    return target
