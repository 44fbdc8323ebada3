"""The analysis runner: TOML parsing, guarded steps (skipped / failed / warnings), provenance.

Estimation functions are replaced by small fakes here, so these tests check the runner's own logic and
do not depend on the engines (those are exercised end to end in tests/test_cli.py).
"""
from __future__ import annotations

import warnings
from types import SimpleNamespace

import pandas as pd
import pytest

from allianceStats.errors import AllianceStatsError, ConvergenceWarning
from allianceStats.report import runner
from allianceStats.report.render import render_html
from allianceStats.report.runner import Unavailable, build_report, parse_analysis


def _spec(**steps):
    return parse_analysis({"title": "t", "seed": 5, "data": {"path": "unused.csv"}, **steps})


def _fake_api(table):
    def api(name):
        if name not in table:
            raise Unavailable(f"allianceStats.x.{name} is not available (AttributeError: test)")
        return table[name]
    return api


def test_parse_analysis_orders_steps_and_checks_types():
    spec = _spec(dynamics={}, describe={}, mlm={"formula": "y ~ 1 + (1 | client)"})
    assert spec.steps == ["describe", "mlm", "dynamics"]
    assert spec.options["mlm"] == [{"formula": "y ~ 1 + (1 | client)"}]  # one table becomes a list
    with pytest.raises(AllianceStatsError, match=r"\[icc\] must be a table"):
        _spec(icc=3)
    with pytest.raises(AllianceStatsError) as err:
        _spec(mlm=[{"formla": "y ~ 1"}, {"formula": "y ~ 1"}], mediation={"x": "a", "y": "b"}, cycle={"needs": []})
    text = str(err.value)
    assert "[[mlm]] number 1: unknown option(s) 'formla'; valid: decompose, formula" in text
    assert "[[mlm]] number 1: missing required option(s) 'formula'" in text
    assert "[[mediation]] number 1: missing required option(s) 'mediators'" in text
    assert "number 2" not in text and "[cycle]" not in text
    with pytest.raises(AllianceStatsError, match="columns must map"):
        parse_analysis({"data": {"path": "x.csv", "columns": {"a": 1}}})


def test_unavailable_module_gives_visible_skipped_section(monkeypatch, sessions):
    monkeypatch.setattr(runner, "api", _fake_api({}))
    rep = build_report(_spec(hypotheses={"mapping": {}}, riclpm={}), sessions)
    assert [s.status for s in rep.sections] == ["skipped", "skipped"]
    html = render_html(rep)
    assert "<strong>Skipped:</strong> allianceStats.x.test_hypotheses is not available" in html


def test_real_api_reports_missing_names_as_unavailable():
    with pytest.raises(Unavailable, match="no_such_function is not available"):
        runner.api("no_such_function")


def test_failing_step_is_kept_and_others_run(monkeypatch, sessions):
    def icc(*a, **k):
        raise FloatingPointError("boom")

    monkeypatch.setattr(runner, "api", _fake_api({"icc": icc}))
    rep = build_report(_spec(icc={"measures": ["alliance"]}, trajectories={"measures": ["alliance"]}), sessions)
    assert [s.status for s in rep.sections] == ["failed", "ok"]
    assert rep.sections[0].note == "FloatingPointError: boom"
    assert rep.sections[1].figures[0].svg.startswith("<svg")


def test_warnings_are_shown_in_the_section(monkeypatch, sessions):
    def icc(data, m, **k):
        warnings.warn("singular fit", ConvergenceWarning, stacklevel=2)
        return pd.DataFrame({"level": ["client"], "icc": [0.4], "variance": [1.0], "definition": ["d"]})

    monkeypatch.setattr(runner, "api", _fake_api({"icc": icc}))
    rep = build_report(_spec(icc={"measures": ["alliance", "outcome"]}), sessions)
    sec = rep.sections[0]
    assert sec.status == "ok" and "ConvergenceWarning: singular fit" in sec.note
    assert sec.tables[0].data["measure"].tolist() == ["alliance", "outcome"]


def test_riclpm_step_draws_diagram_and_records_syntax(monkeypatch, sessions, riclpm_params):
    calls = {}

    def fit_riclpm(data, variables, **options):
        calls["args"] = (variables, options)
        return SimpleNamespace(params=riclpm_params, fit={"chisq": 25.8, "df": 21}, converged=True,
                               to_lavaan=lambda: "RI_alliance =~ 1*alliance_1")

    monkeypatch.setattr(runner, "api", _fake_api({"fit_riclpm": fit_riclpm}))
    rep = build_report(_spec(riclpm={"variables": ["alliance", "outcome"], "options": {"waves": 5}}), sessions)
    sec = rep.sections[0]
    assert calls["args"] == (["alliance", "outcome"], {"waves": 5})
    assert sec.status == "ok" and "w_alliance_2" in sec.figures[0].svg
    assert [t.name for t in sec.tables] == ["riclpm_params", "riclpm_fit"]
    assert rep.provenance["syntax"] == {"RI-CLPM": "RI_alliance =~ 1*alliance_1"}
    assert "RI_alliance =~ 1*alliance_1" in render_html(rep)


def test_hypotheses_and_provenance(monkeypatch, sessions):
    table = pd.DataFrame({"hypothesis": ["H1 empathy -> relatedness"], "estimate": [0.2], "ci_lower": [0.1],
                          "ci_upper": [0.3], "supported": [True], "model": ["mediation"]})
    seen = {}

    def test_hypotheses(data, mapping=None, *, seed, **k):
        seen["seed"] = seed
        return table

    monkeypatch.setattr(runner, "api", _fake_api({"test_hypotheses": test_hypotheses}))
    rep = build_report(_spec(hypotheses={"mapping": {"alliance": "alliance"}}), sessions)
    assert seen["seed"] == 5
    assert rep.sections[0].tables[0].display["Supported"].tolist() == ["yes"]
    prov = rep.provenance
    assert len(prov["data_sha256"]) == 64 and prov["seed"] == 5 and "jinja2" in prov["versions"]


def test_dynamics_parts_fail_alone_and_all_missing_is_skipped(monkeypatch, sessions):
    def ruptures(data, column, **k):
        raise FloatingPointError("bad sd")

    monkeypatch.setattr(runner, "api", _fake_api({"detect_ruptures": ruptures}))
    sec = build_report(_spec(dynamics={"dropout_predictors": ["alliance"]}), sessions).sections[0]
    assert sec.status == "ok"
    assert "ruptures: could not be computed — FloatingPointError: bad sd" in sec.paragraphs
    assert any(p.startswith("dropout: skipped") for p in sec.paragraphs)
    monkeypatch.setattr(runner, "api", _fake_api({}))
    assert build_report(_spec(dynamics={}), sessions).sections[0].status == "skipped"
