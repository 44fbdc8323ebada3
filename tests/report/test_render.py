"""HTML report rendering: escaping of user text, self-containment, skipped sections, exported tables."""
from __future__ import annotations

import re
from html.parser import HTMLParser

import pandas as pd
import pytest

from allianceStats.errors import OptionError
from allianceStats.report.diagrams import mediation_diagram
from allianceStats.report.figures import trajectory_plot
from allianceStats.report.render import Figure, Report, Section, Table, render_html, write_report
from allianceStats.report.tables import apa_table, fmt_p, to_markdown

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


def test_duplicate_table_names_rejected():
    t = Table("same", "A", pd.DataFrame({"x": [1]}))
    with pytest.raises(OptionError, match="repeated"):
        render_html(Report("r", [Section("a", "A", tables=[t]), Section("b", "B", tables=[t])]))


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
                                 '<svg><a href="javascript:alert(1)">x</a></svg>', "<div>not svg</div>"])
def test_figure_refuses_active_content(svg):
    with pytest.raises(OptionError, match="without scripts"):
        Figure(svg)
