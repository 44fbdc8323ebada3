"""Report sections drawn from analysis results: one section per step, failures visible, warnings as notes.

The steps here are built by hand from small fake results (no estimation), so these tests check only the
drawing; tests/test_cli.py runs the real analyses end to end.
"""
from __future__ import annotations

from types import SimpleNamespace

import pandas as pd
import pytest

from allianceStats.analysis import StepOutcome
from allianceStats.report import build_report, draw_step
from allianceStats.report.render import render_html
from allianceStats.report.sections import section_title


def _run(*steps, provenance=None):
    return SimpleNamespace(title="t", steps=list(steps), provenance=provenance or {"seed": 5})


def _step(kind, results, name="", status="ok", **kw):
    return StepOutcome(kind, name, kw.pop("options", {}), kw.pop("seed", 1), results=results, status=status, **kw)


def test_failed_step_is_a_visible_section_and_the_others_are_drawn(sessions):
    failed = _step("icc", {}, status="failed", error="FloatingPointError: boom")
    ok = _step("trajectories", {"data": sessions, "measures": ["alliance"]})
    report = build_report(_run(failed, ok))
    assert [(s.id, s.status) for s in report.sections] == [("icc", "failed"), ("trajectories", "ok")]
    assert report.sections[0].note == "FloatingPointError: boom"
    assert report.sections[1].figures[0].svg.startswith("<svg")
    assert "<strong>Could not be computed:</strong> FloatingPointError: boom" in render_html(report)


def test_warnings_become_the_section_note(sessions):
    step = _step("trajectories", {"data": sessions, "measures": ["alliance"]},
                 warnings=("ConvergenceWarning: singular fit",))
    assert draw_step(step).note == "Warnings: ConvergenceWarning: singular fit"


def test_results_that_cannot_be_drawn_fail_their_section_only():
    section = draw_step(_step("mlm", {"fit": SimpleNamespace()}, name="m", options={"formula": "y ~ 1"}))
    assert section.status == "failed" and section.note.startswith("the results could not be drawn: AttributeError")


def test_icc_tables_one_row_per_measure():
    def icc_result(value):
        return SimpleNamespace(table=pd.DataFrame({"level": ["client", "residual"], "icc": [value, 1 - value],
                                                   "variance": [value, 1 - value], "definition": ["d1", "d2"]}))

    section = draw_step(_step("icc", {"icc": {"alliance": icc_result(0.4), "outcome": icc_result(0.6)}}))
    wide, long = section.tables
    assert wide.data.columns.tolist() == ["measure", "icc_client", "icc_residual"]
    assert wide.data["measure"].tolist() == ["alliance", "outcome"] and wide.data["icc_client"].tolist() == [0.4, 0.6]
    assert len(long.data) == 4 and long.max_rows == 0 and wide.note == "client: d1; residual: d2"


def test_riclpm_diagram_tables_and_syntax(riclpm_params):
    def panel(params, syntax):
        return SimpleNamespace(params=params, fit={"chisq": 25.8, "df": 21}, conf_level=0.95,
                               to_lavaan=lambda: syntax, r_call=lambda name: f"lavaan::lavaan(model, data = {name})")

    observed = riclpm_params.assign(lhs=riclpm_params["lhs"].str.removeprefix("w_"),
                                    rhs=riclpm_params["rhs"].str.removeprefix("w_"))
    comparison = SimpleNamespace(table=pd.DataFrame({"model": ["RI-CLPM", "CLPM"], "chisq_diff": [float("nan"), 9.1]}))
    step = _step("riclpm", {"riclpm": panel(riclpm_params, "RI_alliance =~ 1*alliance_1"),
                            "clpm": panel(observed, "alliance_2 ~ alliance_1"), "comparison": comparison,
                            "variables": ["alliance", "outcome"]})
    report = build_report(_run(step))
    sec = report.sections[0]
    assert sec.status == "ok" and "w_alliance_2" in sec.figures[0].svg and len(sec.figures) == 2
    assert [t.name for t in sec.tables] == ["riclpm_params", "riclpm_fit", "clpm_params", "clpm_fit", "clpm_vs_riclpm"]
    call = "\n'\nfit <- lavaan::lavaan(model, data = data)"  # the footer shows the full R call (issue 13)
    assert report.provenance["syntax"] == {"RI-CLPM": "model <- '\nRI_alliance =~ 1*alliance_1" + call,
                                           "CLPM": "model <- '\nalliance_2 ~ alliance_1" + call}
    assert report.provenance["seed"] == 5
    assert "RI_alliance =~ 1*alliance_1" in render_html(report)


def test_mediation_diagram_at_the_result_level():
    paths = pd.DataFrame({"lhs": ["m", "y", "y"], "op": ["~"] * 3, "rhs": ["x", "m", "x"], "label": ["a1", "b1", "cp"],
                          "estimate": [0.5, 0.4, 0.1], "ci_lower": [0.3, 0.2, -0.1], "ci_upper": [0.7, 0.6, 0.3]})
    effects = pd.DataFrame({"effect": ["x -> m -> y", "direct"], "estimate": [0.2, 0.1]})
    fit = SimpleNamespace(paths=paths, effects=effects, conf_level=0.9, to_lavaan=lambda: "m ~ a1*x",
                          r_call=lambda name: f"lavaan::sem(model, data = {name})")
    section = draw_step(_step("mediation", {"fit": fit}, name="needs", seed=12,
                              options={"x": "x", "mediators": ["m"], "y": "y", "title": "X to Y"}))
    assert section.title == "Mediation: X to Y" and "seed 12" in section.paragraphs[0]
    assert [t.name for t in section.tables] == ["mediation_needs_effects", "mediation_needs_paths"]
    assert {t.conf_level for t in section.tables} == {0.9}
    assert section.figures[0].svg.count("stroke-dasharray") >= 1  # the direct path's CI includes 0


def test_cycle_is_drawn_from_the_registry_arrows():
    paths = pd.DataFrame({"lhs": ["alliance", "needs"], "op": ["~", "~"], "rhs": ["empathy", "alliance"],
                          "label": ["C1", "C2"], "estimate": [0.3, 0.4], "ci_lower": [0.1, 0.2],
                          "ci_upper": [0.5, 0.6], "p_value": [0.01, 0.001]})
    table = pd.DataFrame({"hypothesis": ["C1", "C2", "C6"], "effect": ["empathy -> alliance", "alliance -> needs", ""],
                          "estimate": [0.3, 0.4, float("nan")], "model": ["OLS", "OLS", "not fitted"],
                          "note": ["", "", "role 'engagement' is not mapped to a column"]})
    result = SimpleNamespace(paths=paths, table=table, conf_level=0.9)
    layout = {"behaviours": ["empathy"], "alliance": "alliance", "needs": ["needs"], "motivation": "motivation",
              "engagement": "engagement"}
    section = draw_step(_step("cycle", {"hypotheses": result, "layout": layout}))
    assert section.status == "ok" and section.tables[0].name == "cycle_paths" and section.tables[0].conf_level == 0.9
    assert "Not estimated: C6: role 'engagement' is not mapped to a column" in section.paragraphs
    svg = section.figures[0].svg
    assert "0.30" in svg and "0.40" in svg and "n.e." in svg


def test_hypotheses_table_shows_support():
    table = pd.DataFrame({"hypothesis": ["B1"], "estimate": [0.2], "ci_lower": [0.1], "ci_upper": [0.3],
                          "supported": [True], "model": ["OLS relatedness ~ empathy"]})
    section = draw_step(_step("hypotheses", {"hypotheses": SimpleNamespace(table=table, conf_level=0.95)}))
    assert section.tables[0].display["Supported"].tolist() == ["yes"]


def test_dynamics_parts_that_exist_are_drawn():
    ruptures = SimpleNamespace(summary=lambda: "Ruptures in 'alliance': 3\nrepaired: 2",
                               events=pd.DataFrame({"client": ["a"], "session": [3]}),
                               clients=pd.DataFrame({"client": ["a", "b"], "ruptures": [1, 0]}))
    step = _step("dynamics", {"ruptures": ruptures}, options={"column": "alliance"},
                 notes=("dropout: could not be computed — FloatingPointError: bad sd",))
    section = draw_step(step)
    assert section.title == "Alliance dynamics: ruptures, variability, dropout (alliance)"
    assert section.paragraphs == ["Ruptures in 'alliance': 3", "repaired: 2",
                                  "dropout: could not be computed — FloatingPointError: bad sd"]
    assert [(t.name, t.max_rows) for t in section.tables] == [("ruptures_events", 40), ("ruptures_clients", 0)]


@pytest.mark.parametrize("kind,name,options,title", [
    ("describe", "", {}, "Data summary"),
    ("mlm", "broken", {}, "Multilevel model: broken"),
    ("wave_mediation", "w", {"title": "A → B"}, "Mediation across waves: A → B"),
])
def test_section_titles(kind, name, options, title):
    assert section_title(SimpleNamespace(kind=kind, name=name, options=options)) == title


def test_skipped_step_is_a_skipped_section_listed_at_the_top():
    """Issue 12: a step whose columns are absent is skipped with its reason, not 'OK' with an empty table."""
    step = _step("cycle", {}, status="skipped", error="no arrow of the cycle could be estimated — C1: ...")
    report = build_report(_run(step))
    assert [(s.status, s.note) for s in report.sections] == [("skipped", step.error)]
    html = render_html(report)
    assert "<strong>Skipped:</strong> no arrow of the cycle" in html
    assert "1 of 1 sections not computed" in html


def test_a_column_named_like_an_event_handler_keeps_every_mediation_section(sessions):
    """Issue 12: `seen online = 1` tripped the SVG check after escaping, and every mediation section was lost."""
    from allianceStats.analysis import parse_analysis, run_analysis

    data = sessions.rename(columns={"autonomy": "seen online = 1"})
    spec = parse_analysis({"data": {"path": "unused.csv"}, "seed": 2, "mediation": [
        {"name": "odd", "x": "alliance", "mediators": ["seen online = 1"], "y": "motivation", "n_draws": 200},
        {"name": "plain", "x": "alliance", "mediators": ["competence"], "y": "motivation", "n_draws": 200}]})
    report = build_report(run_analysis(spec, data))
    assert [(s.id, s.status) for s in report.sections] == [("mediation-odd", "ok"), ("mediation-plain", "ok")], \
        [s.note for s in report.sections]
    html = render_html(report)
    assert html.count("<svg") == 2 and "seen online = 1" in html
