"""APA tables (issue 18, section 3): to_table(result, format=...) for every result type and format, and the APA
rules the issue lists — digits adapted to the scale, p as "< .001", fit measures with human labels, fixed
parameters marked, every row shown, names never broken, booktabs LaTeX and Word through python-docx."""
from __future__ import annotations

import importlib.util
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import allianceStats as als
from allianceStats.errors import OptionError
from allianceStats.report.apa import apa_tables, latex_escape, to_table

_spec = importlib.util.spec_from_file_location("result_cases", Path(__file__).with_name("result_cases.py"))
cases = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(cases)


@pytest.fixture(scope="module")
def built():
    return {}


def _get(store, name):
    if name not in store:
        store[name] = cases.build(name)
    return store[name]


@pytest.mark.parametrize("name", sorted(cases.CASES))
def test_every_result_type_in_every_format(name, built):
    result = _get(built, name)
    md = to_table(result)
    assert md.startswith("**Table 1**") and "| --- " not in md.split("\n")[4]
    assert not re.search(r"\b0\.0000\b", md), "APA: never p = 0.0000"
    tex = to_table(result, "latex")
    assert tex.count(r"\toprule") == tex.count(r"\bottomrule") == tex.count(r"\begin{table}") >= 1
    assert not re.search(r"(?<!\\)_", tex.replace(r"\_", "")), "an underscore was not escaped"
    page = to_table(result, "html")
    assert page.count("<table") == page.count("</table>") >= 1
    doc = to_table(result, "docx")
    assert len(doc.tables) == len(apa_tables(result))


def test_digits_follow_the_scale_of_the_path():
    """A path from a 0-100 scale to a 1-5 scale: 0.012 (SE 0.004), not 0.01 (SE 0.00)."""
    rng = np.random.default_rng(5)
    x = rng.uniform(0, 100, 400)
    y = np.clip(2.5 + 0.012 * x + rng.normal(0, 0.8, 400), 1, 5)
    fit = als.fit_sem(pd.DataFrame({"x": x, "y": y}), "y ~ x")
    row = apa_tables(fit)[0].frame.iloc[0]
    assert row["Parameter"] == "x → y"
    est, se = fit.params.iloc[0][["estimate", "std_error"]]
    assert row["Estimate"] == f"{est:.3f}" and row["SE"] == f"{se:.3f}"
    assert row["SE"] != "0.00"


def test_p_values_fit_labels_and_fixed_parameters(built):
    riclpm = _get(built, "PanelResult")
    md = to_table(riclpm, which=["params", "fit"])
    assert "< .001" in md and "p = 0.000" not in md
    for label in ("χ²(", "CFI", "TLI", "RMSEA [90% CI]", "SRMR"):
        assert label in md
    for raw in ("baseline", "pvalue", "rmsea_ci_lower", "npar"):
        assert raw not in md
    assert "| fixed |" in md and "fixed = value fixed by the model" in md
    first = md.split("**Table 2**")[0].splitlines()
    body = [line for line in first if line.startswith("| ") and not line.startswith(("| *", "| :---", "| Parameter"))]
    assert len(body) == len(riclpm.params)  # every row
    assert "w_alliance_1 → w_alliance_2" in md or "w_alliance_1 → w_outcome_2" in md


def test_sem_sections_and_latex_booktabs():
    fit = cases.sem()
    tex = to_table(fit, "latex")
    for section in ("Regressions", "Variances", "Intercepts", "Defined parameters"):
        assert rf"\textit{{{section}}}" in tex
    assert r"a: x $\rightarrow$ m" in tex and r"\textit{SE}" in tex and r"$<$ .001" in tex
    assert r"\begin{tabular}{lrrrrrr" in tex  # names left-aligned in one l column: never wrapped


def test_html_and_markdown_escape_user_text():
    t = pd.DataFrame({"term": ["<b>x|y</b>"], "estimate": [1.0], "std_error": [0.5]})
    page = to_table(t, "html")
    assert "<b>" not in page and "&lt;b&gt;" in page and "white-space:nowrap" in page
    assert r"x\|y" in to_table(t)
    assert latex_escape("50%_a & b") == r"50\%\_a \& b"


def test_docx_cells_and_file(tmp_path):
    import docx

    fit = cases.sem()
    path = tmp_path / "tables.docx"
    doc = to_table(fit, "docx", path=path)
    again = docx.Document(str(path))
    assert len(again.tables) == 2
    header = [c.text for c in again.tables[0].rows[0].cells]
    assert header[:3] == ["Parameter", "Estimate", "SE"]
    assert again.tables[0].rows[1].cells[0].text == "Regressions"  # a merged section row
    assert "a: x → m" in [r.cells[0].text for r in again.tables[0].rows]
    assert len(doc.tables[0]._tbl.xpath(".//w:noWrap")) > 0
    assert [f.name for f in tmp_path.iterdir()] == ["tables.docx"]  # the temporary file was renamed


def test_written_text_files(tmp_path):
    path = tmp_path / "t.tex"
    text = to_table(cases.sem(), "latex", path=path, start=3)
    assert path.read_text(encoding="utf-8") == text + "\n" and r"\label{tab:3}" in text


def test_bad_options_say_what_is_possible(built):
    with pytest.raises(OptionError, match="markdown"):
        to_table(pd.DataFrame({"term": ["x"], "estimate": [1.0]}), "pdf")
    with pytest.raises(OptionError, match="its tables are"):
        to_table(_get(built, "MediationResult"), which="nothing")
