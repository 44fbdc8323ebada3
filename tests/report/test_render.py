"""HTML report rendering: escaping of user text, self-containment, skipped sections, exported tables."""
from __future__ import annotations

import io
import os
import re
import stat
from html.parser import HTMLParser

import pandas as pd
import pytest

from allianceStats.errors import AllianceStatsWarning, OptionError
from allianceStats.report.diagrams import mediation_diagram
from allianceStats.report.figures import trajectory_plot
from allianceStats.report.render import Figure, Report, Section, Table, render_html, write_report
from allianceStats.report.svg import escape
from allianceStats.report.tables import apa_table, fmt_p, to_csv_text, to_markdown

EVIL = "<script>alert(1)</script>"


class _Tags(HTMLParser):
    def __init__(self):
        super().__init__()
        self.tags: list[str] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)


def _report(parallel_paths, sessions) -> Report:
    evil_table = pd.DataFrame({EVIL: [1.5], "term": [EVIL], "estimate": [0.25], "p_value": [0.03]})
    return Report(
        title=f"Report {EVIL}",
        sections=[
            Section("data", f"Data {EVIL}", paragraphs=[f"Column {EVIL} & more"],
                    tables=[Table("evil", f"Table {EVIL}", evil_table, note=EVIL)],
                    figures=[Figure(trajectory_plot(sessions, "alliance"), caption=EVIL)]),
            Section("med", "Mediation", figures=[Figure(mediation_diagram(parallel_paths).svg)]),
            Section.skipped("sem", "SEM", f"allianceStats.sem is not available ({EVIL})"),
            Section.failed("mlm", "Multilevel", "ConvergenceError: did not converge"),
        ],
        provenance={"data_sha256": "ab" * 32, "seed": 7, "versions": {"numpy": "2.0"},
                    "syntax": {EVIL: f"y ~ x\n# {EVIL}"}},
    )


def test_user_text_is_escaped_everywhere(parallel_paths, sessions):
    html = render_html(_report(parallel_paths, sessions))
    assert "<script" not in html.lower()
    assert html.count("&lt;script&gt;alert(1)&lt;/script&gt;") >= 8  # title, heading, cell, header, note, syntax ...
    parser = _Tags()
    parser.feed(html)
    assert "script" not in parser.tags


def test_self_contained_no_network(parallel_paths, sessions):
    html = render_html(_report(parallel_paths, sessions))
    stripped = html.replace("http://www.w3.org/2000/svg", "").replace("http://www.w3.org/1999/xlink", "")
    assert not re.search(r"https?://", stripped)
    assert "<link" not in html and not re.search(r"\ssrc=", html) and "@import" not in html
    assert html.count("<svg") == 2
    px = [float(v) for v in re.findall(r"font-size:\s*([\d.]+)px", html)]
    assert px and min(px) >= 10  # printable: no text below 10 px


def test_skipped_and_failed_sections_are_visible(parallel_paths, sessions):
    html = render_html(_report(parallel_paths, sessions))
    assert "<strong>Skipped:</strong> allianceStats.sem is not available" in html
    assert "<strong>Could not be computed:</strong> ConvergenceError: did not converge" in html


def test_write_report_exports_tables_atomically(tmp_path, parallel_paths, sessions):
    rep = _report(parallel_paths, sessions)
    path = write_report(rep, tmp_path / "out")
    assert path.name == "index.html" and path.read_text(encoding="utf-8").startswith("<!DOCTYPE html>")
    csv = (tmp_path / "out" / "tables" / "evil.csv").read_bytes()
    md = (tmp_path / "out" / "tables" / "evil.md").read_text(encoding="utf-8")
    assert csv.splitlines()[0] == b"<script>alert(1)</script>,term,estimate,p_value"  # raw data, not HTML
    assert "| .030 |" in md and md.startswith("**Table")
    write_report(rep, tmp_path / "out")
    assert (tmp_path / "out" / "tables" / "evil.csv").read_bytes() == csv
    assert not list((tmp_path / "out").rglob("*.tmp"))


def test_shown_columns_on_the_page_all_columns_in_the_files(tmp_path):
    t = Table("h", "H", pd.DataFrame({"term": ["a"], "estimate": [0.5], "std_error": [0.1], "note": ["n"]}),
              show=("term", "estimate", "absent"))
    assert t.display.columns.tolist() == ["Term", "Estimate"]
    write_report(Report("r", [Section("s", "S", tables=[t])]), tmp_path)
    assert (tmp_path / "tables" / "h.csv").read_text().splitlines()[0] == "term,estimate,std_error,note"


class _Ids(HTMLParser):
    """Every id of a page and every reference to one (``href="#x"``, ``url(#x)``), SVG included."""

    def __init__(self):
        super().__init__()
        self.ids: list[str] = []
        self.refs: list[str] = []
        self.links: list[str] = []

    def handle_starttag(self, tag, attrs):
        for name, value in attrs:
            if name == "id":
                self.ids.append(value)
            elif name in ("href", "xlink:href") and value.startswith("#"):
                self.refs.append(value[1:])
            elif name == "href":
                self.links.append(value)
            self.refs += re.findall(r"url\(#([^)]+)\)", value or "")


def test_names_that_slug_alike_get_their_own_files_and_ids(tmp_path, parallel_paths):
    """Issue 12: `Model A` / `model-a` wrote one table file over the other, and the HTML repeated ids."""
    sections = [Section(f"mlm-{name}", f"Model {name}",
                        tables=[Table(f"mlm_{name}_params", name, pd.DataFrame({"term": [name], "estimate": [k]}))],
                        figures=[Figure(mediation_diagram(parallel_paths).svg)])
                for k, name in enumerate(["Model A", "model-a"])]
    same = Table("same", "A", pd.DataFrame({"x": [1]}))  # one table object in two sections
    sections += [Section("a", "A", tables=[same]), Section("b", "B", tables=[same])]
    path = write_report(Report("r", sections), tmp_path)
    parser = _Ids()
    parser.feed(path.read_text(encoding="utf-8"))
    assert len(parser.ids) == len(set(parser.ids)), sorted(i for i in parser.ids if parser.ids.count(i) > 1)
    assert set(parser.refs) <= set(parser.ids)  # every anchor and arrowhead reference resolves
    assert {"mlm-model-a", "mlm-model-a-2"} <= set(parser.ids)
    files = sorted(p.name for p in (tmp_path / "tables").iterdir())
    assert files == ["mlm_model-a_params-2.csv", "mlm_model-a_params-2.md", "mlm_model-a_params.csv",
                     "mlm_model-a_params.md", "same-2.csv", "same-2.md", "same.csv", "same.md"]
    assert pd.read_csv(tmp_path / "tables" / "mlm_model-a_params.csv")["term"].tolist() == ["Model A"]
    assert pd.read_csv(tmp_path / "tables" / "mlm_model-a_params-2.csv")["term"].tolist() == ["model-a"]
    assert all((tmp_path / link).is_file() for link in parser.links)  # every file link points at its file


def test_a_section_that_cannot_be_rendered_fails_alone(parallel_paths):
    broken = Section("b", "Broken", tables=[Table("x", "X", "not a table")])  # type: ignore[arg-type]
    html = render_html(Report("r", [broken, Section("ok", "Fine", paragraphs=["still here"])]))
    assert "still here" in html
    assert "<strong>Could not be computed:</strong> the section could not be rendered: AttributeError" in html


def test_failed_and_skipped_sections_are_listed_at_the_top():
    rep = Report("r", [Section("a", "Alpha"), Section.failed("b", "Beta", "ConvergenceError: no"),
                       Section.skipped("c", "Gamma", "column 'engagement' is not in the data")])
    assert [s.id for s in rep.problems] == ["b", "c"] and [s.id for s in rep.failed] == ["b"]
    html = render_html(rep)
    top = html[html.index('<div class="problems"'):html.index("<nav>")]
    assert "2 of 3 sections not computed" in top
    assert "<strong>Failed:</strong> <a href=\"#b\">Beta</a> — ConvergenceError: no" in top
    assert "<strong>Skipped:</strong> <a href=\"#c\">Gamma</a> — column &#39;engagement&#39; is not in the data" in top
    assert 'class="problems"' not in render_html(Report("r", [Section("a", "Alpha")]))


def test_csv_files_neutralise_spreadsheet_formulas_numbers_stay_numbers(tmp_path):
    evil = pd.DataFrame({"=cmd|' /C calc'!A0": ["=1+1", "+SUM(A1)", "-x", "@A1", "\tx", "-0.5", "a=b", "~~"],
                         "estimate": [-1.5, 2.0, -3.0, 0.0, 1.0, 2.0, 3.0, 4.0]})
    text = to_csv_text(evil)
    lines = text.splitlines()
    assert lines[0] == "'=cmd|' /C calc'!A0,estimate"
    assert lines[1:5] == ["'=1+1,-1.5", "'+SUM(A1),2.0", "'-x,-3.0", "'@A1,0.0"]
    assert lines[5:] == ["'\tx,1.0", "-0.5,2.0", "a=b,3.0", "~~,4.0"]
    back = pd.read_csv(io.StringIO(text))
    assert back["estimate"].tolist() == evil["estimate"].tolist()  # numbers are still numbers
    assert evil.iloc[0, 0] == "=1+1"  # the table itself is not modified
    write_report(Report("r", [Section("s", "S", tables=[Table("evil", "Evil", evil)])]), tmp_path)
    assert (tmp_path / "tables" / "evil.csv").read_text(encoding="utf-8") == text


def test_markdown_files_escape_html(tmp_path):
    table = pd.DataFrame({EVIL: ["<img src=x onerror=alert(1)>", "p < .001 & more"]})
    md = to_markdown(table)
    assert "<script" not in md and "<img" not in md
    assert "&lt;script>alert(1)&lt;/script>" in md and "p < .001 & more" in md
    write_report(Report("r", [Section("s", "S", tables=[Table("t", f"T {EVIL}", table, note=EVIL)])]), tmp_path)
    written = (tmp_path / "tables" / "t.md").read_text(encoding="utf-8")
    assert "<script" not in written and "<img" not in written and written.startswith("**T &lt;script>")


@pytest.mark.parametrize("umask", [0o077, 0o022, 0o002])
def test_written_files_respect_the_umask(tmp_path, umask):
    old = os.umask(umask)
    try:
        path = write_report(Report("r", [Section("s", "S", tables=[Table("t", "T", pd.DataFrame({"x": [1]}))])]),
                            tmp_path / "out")
    finally:
        os.umask(old)
    for written in (path, tmp_path / "out" / "tables" / "t.csv", tmp_path / "out" / "tables" / "t.md"):
        assert stat.S_IMODE(written.stat().st_mode) == 0o666 & ~umask, written


def test_stale_tables_of_an_earlier_run_are_removed_foreign_files_reported(tmp_path):
    def report(*names):
        return Report("r", [Section("s", "S", tables=[Table(n, n, pd.DataFrame({"x": [1]})) for n in names])])

    write_report(report("kept", "dropped"), tmp_path)
    (tmp_path / "tables" / "mine.csv").write_text("my own notes\n")
    with pytest.warns(AllianceStatsWarning, match=r"1 file\(s\) this report did not write \(mine.csv\)"):
        write_report(report("kept"), tmp_path)
    assert sorted(p.name for p in (tmp_path / "tables").iterdir()) == ["kept.csv", "kept.md", "mine.csv"]
    (tmp_path / ".alliance-stats-files").write_text('["../../etc/passwd", "tables/mine.csv/../x"]')
    with pytest.warns(AllianceStatsWarning):
        write_report(report("kept"), tmp_path)  # a tampered list is never followed outside tables/
    assert (tmp_path / "tables" / "mine.csv").is_file()


@pytest.mark.parametrize("where", ["file", "below_file"])
def test_report_folder_that_is_a_file_is_an_option_error(tmp_path, where):
    blocker = tmp_path / "taken"
    blocker.write_text("x")
    target = blocker if where == "file" else blocker / "report"
    with pytest.raises(OptionError, match="is an existing file|is a file, not a folder"):
        write_report(Report("r", [Section("s", "S")]), target)


def test_apa_formatting():
    t = pd.DataFrame({"term": ["a", "b"], "estimate": [-0.004, 1.23456], "df": [12.345, 80.0],
                      "p_value": [0.0004, 0.0456], "ci_lower": [-0.1, 1.0], "ci_upper": [0.09, float("nan")],
                      "supported": [True, False]})
    out = apa_table(t, conf_level=0.9)
    with pytest.warns(FutureWarning, match="argument level= is renamed conf_level="):
        assert apa_table(t, level=0.9).equals(out)
    assert out.columns.tolist() == ["Term", "Estimate", "df", "p", "90% CI", "Supported"]
    assert out.iloc[0].tolist() == ["a", "0.00", "12.3", "< .001", "[−0.10, 0.09]", "yes"]
    assert out.iloc[1].tolist() == ["b", "1.23", "80.0", ".046", "—", "no"]
    assert fmt_p(1.0) == "1.000" and fmt_p(float("nan")) == "—"
    assert to_markdown(pd.DataFrame({"a|b": ["x|y"]})) == "| a\\|b |\n| --- |\n| x\\|y |"


@pytest.mark.parametrize("svg", ["<script>alert(1)</script>", '<svg onload="alert(1)"></svg>',
                                 "<svg><foreignObject><p>x</p></foreignObject></svg>",
                                 '<svg><a href="javascript:alert(1)">x</a></svg>', "<div>not svg</div>",
                                 '<svg xmlns="http://www.w3.org/2000/svg"><SCRIPT>x</SCRIPT></svg>',
                                 '<svg xmlns:x="http://www.w3.org/1999/xlink"><a x:href=" java\tscript:1">y</a></svg>',
                                 '<svg><set attributeName="href" to="javascript:alert(1)"/></svg>',
                                 '<svg><g ONCLICK="x()"/></svg>', '<svg><g>unclosed</svg>',
                                 '<!DOCTYPE svg [<!ENTITY a "b">]><svg>&a;</svg>', '<svg><!ENTITY a "b"></svg>'])
def test_figure_refuses_active_content(svg):
    with pytest.raises(OptionError, match="without scripts"):
        Figure(svg)


@pytest.mark.parametrize("name", ["seen online = 1", "button onclick=go", "javascript: notes", "<script>x</script>",
                                  'a "quoted" on=1'])
def test_escaped_user_text_passes_the_figure_check(parallel_paths, name):
    """Issue 12: a column named `seen online = 1` tripped the check after correct escaping."""
    paths = parallel_paths.replace("autonomy", name)
    figure = Figure(mediation_diagram(paths).svg)  # raised OptionError before
    assert escape(name) in figure.svg and "<script" not in figure.svg


def test_report_csv_neutralises_every_formula_start_keeps_numbers_booleans_and_missing():
    """The report's CSV tables follow the package's one rule (allianceStats.data.output.neutralise_formulas)."""
    table = pd.DataFrame({"=x": ["=1", "+a", "-b", "@c", "\tt", "\rr", "-1.5", "ok", None],
                          "n": [1, -2, 3, 4, 5, 6, 7, 8, 9], "flag": [True, False] * 4 + [True]})
    assert to_csv_text(table) == ("'=x,n,flag\n'=1,1,True\n'+a,-2,False\n'-b,3,True\n'@c,4,False\n'\tt,5,True\n"
                                  "'\rr,6,False\n-1.5,7,True\nok,8,False\n,9,True\n")
