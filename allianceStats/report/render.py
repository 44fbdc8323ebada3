"""The HTML report: sections of figures and tables, rendered with jinja2 into one self-contained file.

A :class:`Report` is a list of :class:`Section` objects plus a provenance record. A section holds
paragraphs, figures (SVG text produced by :mod:`~allianceStats.report.diagrams` or
:mod:`~allianceStats.report.figures`) and :class:`Table` objects (tidy DataFrames). A section whose
analysis could not run is kept with ``status="skipped"`` (module not available) or ``"failed"`` (the fit
failed) and its reason, and is shown as a visible note — the report renders from whatever exists.

Safety: the template environment autoescapes everything. Only SVG produced by this package is marked
safe (:class:`Figure` wraps it; all user text inside it is XML-escaped by the drawing code) after a check
that reads it as XML — so a column named ``seen online = 1`` is text, while a ``<script>`` element, an
``on…=`` attribute or a ``javascript:`` link is refused. No script, no external stylesheet, font or image: the
file works offline and prints on white.

Names: every section, table and figure gets an id and every table a file name that is unique in the report,
even when two analysis names slug alike (``Model A`` and ``model-a`` become ``…model-a…`` and
``…model-a-2…``); the ids inside each inline SVG are prefixed per figure.

The top of the report lists the sections that failed or were skipped, with their reasons
(:attr:`Report.problems`).

:func:`write_report` writes ``index.html`` plus ``tables/<name>.csv`` (tidy, full precision, spreadsheet
formulas neutralised) and ``tables/<name>.md`` (APA formatting, HTML escaped) for every table; each file is
written to a temporary file and then renamed, so a reader never sees half a report, with the permissions the
user's umask gives new files. A list of the files written (``.alliance-stats-files``) lets the next run into the
same folder delete the tables it no longer writes; other files found in ``tables/`` are reported, never deleted.

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

import io
import json
import re
import warnings
import xml.etree.ElementTree as ET
import zipfile
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import jinja2
import pandas as pd
from markupsafe import Markup

from ..errors import AllianceStatsWarning, OptionError
from .tables import apa_table, atomic_write, check_output_folder, to_csv_text, to_markdown, to_markdown_text

#: elements that run code, embed other documents or change attributes over time: never in a report figure
_ACTIVE_ELEMENTS = frozenset({"script", "foreignobject", "iframe", "object", "embed", "handler", "listener",
                              "animate", "animatemotion", "animatetransform", "set", "discard"})
#: attributes whose value a browser may follow as a link
_LINK_ATTRIBUTES = frozenset({"href", "src", "action", "formaction", "values", "from", "to", "by"})
_SCRIPT_URL = re.compile(r"^(javascript|vbscript|data:text/html)", re.I)
#: the list of files a report folder was written with (so the next run can delete the tables it drops)
MANIFEST = ".alliance-stats-files"


def _local(name: str) -> str:
    """An XML name without its namespace: ``{http://www.w3.org/2000/svg}svg`` -> ``svg``."""
    return name.rsplit("}", 1)[-1].rsplit(":", 1)[-1].lower()


def active_content(svg: str) -> str | None:
    """What makes ``svg`` unsafe to inline, or ``None`` for a plain, script-free ``<svg>`` element.

    The text is read as XML, so only real elements and attributes count: escaped user text such as
    ``seen online = 1`` or ``&lt;script&gt;`` is text and passes, while a ``<script>`` or ``<foreignObject>``
    element, an ``on…=`` event attribute, a ``javascript:`` link or a DOCTYPE / entity declaration is reported.

    >>> active_content('<svg xmlns="http://www.w3.org/2000/svg"><g data-key="seen online = 1"/></svg>') is None
    True
    >>> active_content('<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"/>')
    'an event-handler attribute onload='
    """
    if not svg.lstrip().startswith("<svg"):
        return "it does not start with <svg"
    if "<!" in svg:  # DOCTYPE, ENTITY, CDATA, comments: none of ours has any, and entities can expand
        return "a <! declaration (DOCTYPE, ENTITY, CDATA or comment)"
    try:
        root = ET.fromstring(svg)
    except ET.ParseError as err:
        return f"it is not well-formed XML ({err})"
    if _local(root.tag) != "svg":
        return "its root element is not <svg>"
    for element in root.iter():
        name = _local(element.tag)
        if name in _ACTIVE_ELEMENTS:
            return f"a <{name}> element"
        for attr, value in element.attrib.items():
            attr = _local(attr)
            if attr.startswith("on"):
                return f"an event-handler attribute {attr}="
            if attr in _LINK_ATTRIBUTES and _SCRIPT_URL.match(re.sub(r"[\s\x00-\x1f]+", "", value)):
                return f"a script link in {attr}="
    return None


def prefix_ids(svg: str, prefix: str) -> str:
    """Prefix every ``id`` of an SVG and every reference to it (``url(#…)``, ``href="#…"``).

    Several inline SVGs share one HTML page, where ids must be unique (two diagrams both define their
    arrowheads).

    >>> prefix_ids('<svg><marker id="ah"/><path marker-end="url(#ah)"/></svg>', "f2")
    '<svg><marker id="f2-ah"/><path marker-end="url(#f2-ah)"/></svg>'
    """
    svg = re.sub(r'(?<![\w:-])id="([^"]+)"', rf'id="{prefix}-\1"', svg)
    svg = re.sub(r"url\(#([^)]+)\)", rf"url(#{prefix}-\1)", svg)
    return re.sub(r'((?<![\w-])(?:xlink:)?href)="#([^"]+)"', rf'\1="#{prefix}-\2"', svg)


def unique_names(names, *, taken=()) -> list[str]:
    """Slug each name; a slug already used gets ``-2``, ``-3``, … (so no two files or ids collide).

    >>> unique_names(["Model A", "model-a", "model-a-2", "x"])
    ['model-a', 'model-a-2', 'model-a-2-2', 'x']
    """
    used = set(taken)
    out = []
    for name in names:
        base = candidate = slug(name)
        k = 1
        while candidate in used:
            k += 1
            candidate = f"{base}-{k}"
        used.add(candidate)
        out.append(candidate)
    return out


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
        problem = active_content(self.svg)
        if problem:
            raise OptionError(f"Figure.svg must be an <svg> element without scripts, event handlers, "
                              f"foreignObject or javascript: links (draw it with allianceStats.report); found "
                              f"{problem}.")

    @property
    def markup(self) -> Markup:
        # trusted: produced by allianceStats.report.diagrams / figures, which escape all user text
        return Markup(self.svg)

    def markup_with_prefix(self, prefix: str) -> Markup:
        """The SVG with its ids prefixed (:func:`prefix_ids`), so several figures can share one page."""
        return Markup(prefix_ids(self.svg, prefix))


@dataclass
class Section:
    """One part of the report. ``status`` is ``"ok"``, ``"skipped"`` (not run: its module or its data columns
    are absent; ``note`` says which) or ``"failed"`` (the analysis raised an error; ``note`` holds it)."""

    id: str
    title: str
    paragraphs: list[str] = field(default_factory=list)
    figures: list[Figure] = field(default_factory=list)
    tables: list[Table] = field(default_factory=list)
    status: str = "ok"
    note: str = ""
    #: results written as APA tables for papers (``tables/<stem>.tex`` and ``.docx``, by ``to_table``)
    papers: list[tuple[str, Any]] = field(default_factory=list)

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
    """Title, sections, and provenance (``data_sha256``, ``versions``, ``seed``, ``syntax``: name → lavaan,
    ``lock``: installed versions of the key packages against ``requirements.lock``, as
    :func:`allianceStats.report.provenance.lock_status` returns them)."""

    title: str
    sections: list[Section]
    provenance: dict[str, Any] = field(default_factory=dict)
    #: the models refitted by ``reproduce/reproduce.R`` (:class:`~allianceStats.report.reproduce.RModel`)
    reproduce: list[Any] = field(default_factory=list)
    #: analyses of the report the R script does not refit -> why
    not_reproduced: dict[str, str] = field(default_factory=dict)

    def tables(self) -> list[Table]:
        return [t for s in self.sections for t in s.tables]

    @property
    def problems(self) -> list[Section]:
        """The sections that failed or were skipped (listed at the top of the report), in report order."""
        return [s for s in self.sections if s.status != "ok"]

    @property
    def failed(self) -> list[Section]:
        """The sections whose analysis raised an error."""
        return [s for s in self.sections if s.status == "failed"]

    @property
    def skipped(self) -> list[Section]:
        """The sections that were not run (their module or data columns are absent)."""
        return [s for s in self.sections if s.status == "skipped"]


@dataclass(frozen=True)
class _Names:
    """Unique HTML ids and file stems of one report: ``sections[i]``, ``stems[i][j]`` / ``table_ids[i][j]``
    for table ``j`` of section ``i``, ``figures[i][j]`` the id prefix of figure ``j`` of section ``i``."""

    sections: list[str]
    stems: list[list[str]]
    table_ids: list[list[str]]
    figures: list[list[str]]
    papers: list[list[str]] = field(default_factory=list)


#: ids the page itself uses (the problem list, the provenance footer and its version table)
_PAGE_IDS = frozenset({"provenance", "problems", "versions"})


def _names(report: Report) -> _Names:
    section_ids = unique_names([s.id for s in report.sections], taken=_PAGE_IDS)
    flat = unique_names([t.name for t in report.tables()])
    html = unique_names([f"table-{stem}" for stem in flat], taken=set(section_ids) | _PAGE_IDS)
    paper_stems = unique_names([f"{stem}_apa" for s in report.sections for stem, _ in s.papers])
    stems, table_ids, figures, papers, k, f, q = [], [], [], [], 0, 0, 0
    for section in report.sections:
        n = len(section.tables)
        stems.append(flat[k:k + n])
        table_ids.append(html[k:k + n])
        k += n
        figures.append([f"fig{f + j + 1}" for j in range(len(section.figures))])
        f += len(section.figures)
        papers.append(paper_stems[q:q + len(section.papers)])
        q += len(section.papers)
    return _Names(section_ids, stems, table_ids, figures, papers)


def table_files(report: Report) -> list[tuple[Table, str]]:
    """Each table of the report with its unique file stem (``tables/<stem>.csv`` / ``.md``), in report order.

    >>> import pandas as pd
    >>> t = pd.DataFrame({"x": [1]})
    >>> rep = Report("r", [Section("a", "A", tables=[Table("Model A", "A", t)]),
    ...                    Section("b", "B", tables=[Table("model-a", "B", t)])])
    >>> [stem for _, stem in table_files(rep)]
    ['model-a', 'model-a-2']
    """
    names = _names(report)
    return [(t, stem) for section, stems in zip(report.sections, names.stems)
            for t, stem in zip(section.tables, stems)]


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

    Examples
    --------
    >>> html = render_html(Report("Demo <1>", [Section("a", "Section A", paragraphs=["x < y"])]))
    >>> "Demo &lt;1&gt;" in html and "x &lt; y" in html
    True
    """
    report = replace(report, sections=[_renderable(s) for s in report.sections])
    return _render(report, written=None)


def _render(report: Report, written: dict[str, Any] | None) -> str:
    """The page; ``written`` lists the files write_report wrote beside it (``papers``: section index -> stems,
    ``reproduce``: the R script's models), which the page links to."""
    names = _names(report)
    written = written or {"papers": {}, "reproduce": []}
    return _ENV.get_template("report.html.j2").render(report=report, names=names, written=written)


def stable_docx(document) -> bytes:
    """A python-docx ``Document`` as bytes that are the same on every run (zip entries dated 1980-01-01).

    >>> import docx
    >>> stable_docx(docx.Document()) == stable_docx(docx.Document())
    True
    """
    raw = io.BytesIO()
    document.save(raw)
    out = io.BytesIO()
    with zipfile.ZipFile(raw) as src, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            fixed = zipfile.ZipInfo(info.filename, date_time=(1980, 1, 1, 0, 0, 0))
            fixed.compress_type = zipfile.ZIP_DEFLATED
            fixed.external_attr = info.external_attr
            dst.writestr(fixed, src.read(info.filename))
    return out.getvalue()


def _paper_files(report: Report, names: _Names) -> tuple[dict[tuple[str, str], Any], dict[int, list[str]]]:
    """The APA tables for papers of every section: ``{(path, kind): content}`` and the stems per section."""
    from .apa import to_table

    files: dict[tuple[str, str], Any] = {}
    stems: dict[int, list[str]] = {}
    for i, section in enumerate(report.sections):
        if section.status != "ok":
            continue
        for (_, result), stem in zip(section.papers, names.papers[i]):
            try:
                latex = to_table(result, "latex")
                document = stable_docx(to_table(result, "docx"))
            except Exception as err:  # noqa: BLE001 - a table for papers that cannot be made leaves the report
                warnings.warn(f"the APA tables of {section.title!r} could not be written: {type(err).__name__}: "
                              f"{err}", AllianceStatsWarning, stacklevel=3)
                continue
            files[(f"tables/{stem}.tex", "text")] = latex + "\n"
            files[(f"tables/{stem}.docx", "bytes")] = document
            stems.setdefault(i, []).append(stem)
    return files, stems


def _reproduce_files(report: Report) -> dict[tuple[str, str], Any]:
    """``reproduce/<model>.csv`` for every model of the R script and ``reproduce/reproduce.R`` itself."""
    from .reproduce import r_script

    if not report.reproduce:
        return {}
    files: dict[tuple[str, str], Any] = {}
    for m in report.reproduce:
        files.setdefault((f"reproduce/{m.file}.csv", "text"), to_csv_text(m.data))
    version = str((report.provenance.get("versions") or {}).get("allianceStats", ""))
    files[("reproduce/reproduce.R", "text")] = r_script(report.reproduce, skipped=report.not_reproduced,
                                                        version=version)
    return files


def _renderable(section: Section) -> Section:
    """The section itself, or a failed section with the reason when its tables cannot be formatted."""
    if section.status != "ok":
        return section
    try:
        for table in section.tables:
            table.display  # noqa: B018 - formats the table; an error here fails this section only
    except Exception as err:  # noqa: BLE001 - one section that cannot be rendered leaves the others
        return Section.failed(section.id, section.title,
                              f"the section could not be rendered: {type(err).__name__}: {err}")
    return section


def write_report(report: Report, outdir: str | Path) -> Path:
    """Write ``index.html`` and ``tables/<name>.csv|.md`` under ``outdir``; return the HTML path.

    Each file goes to a temporary name in its folder first and is then renamed (atomic on POSIX); new files get
    the permissions the umask gives. Table files get unique names (:func:`table_files`). The folder keeps a list
    of the files written (``.alliance-stats-files``): tables an earlier report wrote there and this one does not
    are deleted, so the folder never mixes two runs; files in ``tables/`` that no report wrote are left alone and
    named in an :class:`~allianceStats.errors.AllianceStatsWarning`.

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

    Raises
    ------
    OptionError
        ``outdir`` (or a folder above it) is an existing file, or it cannot be written to.

    Examples
    --------
    >>> import tempfile
    >>> path = write_report(Report("Demo", [Section("a", "A")]), tempfile.mkdtemp())
    >>> path.name, path.read_text(encoding="utf-8").startswith("<!DOCTYPE html>")
    ('index.html', True)
    """
    outdir = check_output_folder(outdir, what="the report folder")
    report = replace(report, sections=[_renderable(s) for s in report.sections])
    papers, paper_stems = _paper_files(report, _names(report))
    extra = {**papers, **_reproduce_files(report)}
    html = _render(report, written={"papers": paper_stems, "reproduce": report.reproduce})
    previous = _read_manifest(outdir)
    written = []
    for (rel, _kind), content in extra.items():
        atomic_write(outdir / rel, content)
        written.append(rel)
    for table, stem in table_files(report):
        atomic_write(outdir / "tables" / f"{stem}.csv", to_csv_text(table.data))
        full = apa_table(table.data, conf_level=table.conf_level, digits=table.digits)
        md = f"**{to_markdown_text(table.title)}**\n\n{to_markdown(full)}\n"
        if table.note:
            md += f"\n*Note.* {to_markdown_text(table.note)}\n"
        atomic_write(outdir / "tables" / f"{stem}.md", md)
        written += [f"tables/{stem}.csv", f"tables/{stem}.md"]
    for rel in sorted(previous - set(written)):
        (outdir / rel).unlink(missing_ok=True)
    tables_dir = outdir / "tables"
    foreign = sorted(p.name for p in tables_dir.iterdir() if f"tables/{p.name}" not in written
                     and not p.name.startswith(".")) if tables_dir.is_dir() else []
    if foreign:
        shown = ", ".join(foreign[:5]) + (f" and {len(foreign) - 5} more" if len(foreign) > 5 else "")
        warnings.warn(f"{tables_dir} holds {len(foreign)} file(s) this report did not write ({shown}); they are "
                      "left in place — delete them or write the report to an empty folder", AllianceStatsWarning,
                      stacklevel=2)
    target = outdir / "index.html"
    atomic_write(target, html)
    atomic_write(outdir / MANIFEST, json.dumps(["index.html", *written], indent=0) + "\n")
    return target


#: the only names a manifest may list (it is read back from disk: never follow it outside tables/)
_MANIFEST_ENTRY = re.compile(r"tables/[a-z0-9_-]+\.(csv|md|tex|docx)|reproduce/[A-Za-z0-9_.-]+\.(csv|R)")


def _read_manifest(outdir: Path) -> set[str]:
    """The table files an earlier report wrote into ``outdir`` (empty when there is no readable list)."""
    try:
        entries = json.loads((outdir / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return set()
    if not isinstance(entries, list):
        return set()
    return {e for e in entries if isinstance(e, str) and _MANIFEST_ENTRY.fullmatch(e)}
