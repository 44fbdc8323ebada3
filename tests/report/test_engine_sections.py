"""Issue 18 §3: report sections of the engines of issues 14-17 — GLMM tables, Cox / relapse, the lag-sequential heat
map, synchrony over the session, invariance steps, a power study run by the analysis file — drawn from what the
runner gives, with their figures checked for label collisions, and the APA tables of every model in tables/."""
from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import allianceStats as als
from allianceStats.analysis import run_step
from allianceStats.report import build_report, draw_step, write_report


@pytest.fixture(scope="module")
def example() -> pd.DataFrame:
    return als.load_example()


def _step(data, kind, opts, name="", seed=7):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        step = run_step(data, kind, opts, seed, name=name)
    assert step.status == "ok", step.error
    return step


def _no_legibility_problem(section):
    assert section.status == "ok", section.note
    for fig in section.figures:
        assert "Legibility" not in fig.caption, fig.caption
        assert fig.svg.startswith("<svg")


def test_glmm_section_tables_and_ratios(example):
    step = _step(example, "glmm", {"formula": "cbind(days_use, days_free) ~ alliance_within + alliance_between + "
                                              "(1 | client)", "family": "binomial",
                                   "derive": {"days_free": "7 - days_use"}, "decompose": ["alliance"]}, "days")
    section = draw_step(step)
    assert section.status == "ok", section.note
    assert [t.name for t in section.tables] == ["glmm_days_params", "glmm_days_ratios", "glmm_days_varcomp"]
    ratios = section.tables[1].data.set_index("term")["estimate"]
    params = section.tables[0].data.set_index("term")["estimate"]
    assert ratios.to_numpy() == pytest.approx(np.exp(params.to_numpy()), rel=1e-12)
    assert "odds ratio" in section.tables[1].title
    assert any("Derived first: days_free = 7 - days_use" in p for p in section.paragraphs)
    assert section.papers[0][0] == "glmm_days"


def test_cox_section_with_kaplan_meier_from_the_dropout_column(example):
    step = _step(example, "cox", {"formula": "Surv(start, stop, event) ~ alliance_within + alliance_cummean"}, "d")
    assert step.results["curve"] is not None and step.results["fit"].robust
    section = draw_step(step)
    _no_legibility_problem(section)
    assert [t.name for t in section.tables] == ["cox_d_params", "cox_d_hazard_ratios", "cox_d_tests"]
    hr = section.tables[1].data.set_index("term")["estimate"]
    fit = step.results["fit"].params.set_index("term")
    assert hr.to_numpy() == pytest.approx(fit["hazard_ratio"].to_numpy())
    assert len(section.figures) == 1 and "numbers at risk" in section.figures[0].caption
    assert any("robust (Lin-Wei)" in p for p in section.paragraphs)


def test_cox_step_with_exact_ties_runs_without_robust_errors_and_says_why_with_them(example):
    formula = "Surv(start, stop, event) ~ alliance_within + alliance_cummean"
    step = _step(example, "cox", {"formula": formula, "ties": "exact", "robust": False}, "x")
    assert step.results["fit"].ties == "exact"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        refused = run_step(example, "cox", {"formula": formula, "ties": "exact"}, 7, name="y")
    assert refused.status != "ok" and "exact" in refused.error


def test_cox_step_is_skipped_without_a_dropout_column_and_reads_an_events_file(example, tmp_path):
    no_dropout = example.drop(columns="dropout")
    skipped = run_step(no_dropout, "cox", {"formula": "Surv(start, stop, event) ~ alliance"}, 1)
    assert skipped.status == "skipped" and "dropout" in skipped.error
    last = example.groupby("client")["session"].max()
    events = pd.DataFrame({"client": last.index, "weeks": last.to_numpy() + 0.5,
                           "relapse": [int(i % 4 == 0) for i in range(len(last))]})
    events.to_csv(tmp_path / "events.csv", index=False)
    step = run_step(no_dropout, "cox", {"formula": "Surv(start, stop, event) ~ alliance", "events": "events.csv",
                                        "intervals": {"event": "relapse", "event_time": "weeks"}}, 1,
                    base_dir=tmp_path)
    assert step.status == "ok", step.error
    assert step.results["fit"].n_events == events["relapse"].sum()
    assert step.results["curve"] is not None and not any("dropout" in n for n in step.notes)
    missing = run_step(no_dropout, "cox", {"formula": "Surv(start, stop, event) ~ alliance", "events": "no.csv"}, 1,
                       base_dir=tmp_path)
    assert missing.status == "failed" and "no.csv" in missing.error


def test_sequences_section_heat_map(example):
    step = _step(example, "sequences", {"events": "example", "n_draws": 20})
    section = draw_step(step)
    _no_legibility_problem(section)
    assert "simulated MI sessions" in section.paragraphs[0]
    assert "permutation p" in section.paragraphs[1] and "Monte Carlo SE" in section.paragraphs[1]
    assert "shuffles of the codes within sessions" in section.paragraphs[1]
    svg = section.figures[0].svg
    assert "Adjusted residuals" in svg and "Target" in svg
    assert section.tables[0].max_rows == 0 and {"adjusted_residual", "yules_q"} <= set(section.tables[0].data.columns)


def test_time_based_sequences_section_says_its_p_is_approximate(example):
    step = _step(example, "sequences", {"events": "example", "window": 5})
    text = draw_step(step).paragraphs[1]
    assert "time units are not independent" in text and "χ²(" in text and "nan" not in text
    event_based = draw_step(_step(example, "sequences", {"events": "example"})).paragraphs[1]
    assert "not independent" not in event_based


def test_synchrony_section_over_the_session(example, tmp_path):
    step = _step(example, "synchrony", {"signals": "example"})
    section = draw_step(step)
    _no_legibility_problem(section)
    windows = step.results["windows"]
    assert windows.groupby(["client", "session"]).ngroups == len(step.results["table"]) == 6
    assert "seconds into the session" in section.figures[0].svg
    # a file of the user's: columns named in the step
    from allianceStats.simulate.process import simulate_dyad_signals

    sig, _ = simulate_dyad_signals(n_dyads=2, minutes=2, sampling_rate=10, coupling=0.5, lag_seconds=1, ar=0.8,
                                   seed=1)
    sig.rename(columns={"dyad": "pair", "client_signal": "a", "therapist_signal": "b"}).assign(visit=1).to_csv(
        tmp_path / "sig.csv", index=False)
    own = run_step(example, "synchrony", {"signals": "sig.csv", "x": "a", "y": "b", "client": "pair",
                                          "session": "visit", "sampling_rate": 10, "lag_seconds": 2,
                                          "window_seconds": 20, "step_seconds": 10}, 1, base_dir=tmp_path)
    assert own.status == "ok", own.error
    assert list(own.results["table"]["pair"]) == ["d01", "d02"]  # the user's column names are kept


def test_invariance_section_steps_and_syntax(example):
    step = _step(example, "invariance", {"model": "bond =~ wai_3 + wai_5 + wai_7 + wai_9", "waves": [1, 2, 3]},
                 "bond")
    syntax: dict[str, str] = {}
    section = draw_step(step, syntax)
    assert section.status == "ok", section.note
    table = section.tables[0]
    assert table.name == "invariance_bond_steps" and list(table.data["step"]) == ["configural", "metric", "scalar",
                                                                                 "strict"]
    verdicts = [p for p in section.paragraphs if p.startswith(("metric:", "scalar:", "strict:"))]
    assert len(verdicts) == 3 and all("retained" in p for p in verdicts)
    assert set(syntax) == {f"invariance bond ({s})" for s in table.data["step"]}


def test_power_section_runs_a_small_study_with_the_file_seed(example):
    opts = {"design": "within_between", "n_clients": [20, 30], "n_sessions": [4], "reps": 4,
            "effects": {"variables": ["alliance", "outcome"]}}
    a, b = _step(example, "power", opts, seed=3), _step(example, "power", opts, seed=3)
    assert a.results["table"].equals(b.results["table"])
    assert set(a.results["targets"]) == {"alliance -> outcome (within)", "alliance -> outcome (between)"}
    section = draw_step(a)
    assert section.status == "ok" and len(section.figures) == 2


def test_apa_tables_of_each_model_are_written_to_tables(example, tmp_path):
    steps = [_step(example, "mlm", {"formula": "outcome ~ alliance + (1 | client)"}, "m"),
             _step(example, "cox", {"formula": "Surv(start, stop, event) ~ alliance"}, "c")]
    run = type("Run", (), {"title": "t", "steps": steps, "provenance": {"seed": 1}})()
    report = build_report(run)
    first = write_report(report, tmp_path / "a").parent
    second = write_report(build_report(run), tmp_path / "b").parent
    for stem in ("mlm_m_apa", "cox_c_apa"):
        tex = (first / "tables" / f"{stem}.tex").read_text(encoding="utf-8")
        assert r"\toprule" in tex and r"\bottomrule" in tex
        docx = first / "tables" / f"{stem}.docx"
        assert docx.read_bytes()[:2] == b"PK"
        assert docx.read_bytes() == (second / "tables" / f"{stem}.docx").read_bytes()  # the same bytes every run
    html = (first / "index.html").read_text(encoding="utf-8")
    assert 'href="tables/mlm_m_apa.docx"' in html and 'href="reproduce/reproduce.R"' in html
    assert sorted(p.name for p in (first / "reproduce").iterdir()) == ["cox_c.csv", "mlm_m.csv", "reproduce.R"]


def test_demo_file_lists_every_new_section_and_the_power_study():
    from allianceStats.analysis import DEMO_ANALYSIS, load_analysis

    spec = load_analysis(DEMO_ANALYSIS)
    assert {"glmm", "cox", "sequences", "synchrony", "invariance", "power"} <= set(spec.steps)
    assert spec.options["power"]["reps"] <= 25  # a sketch that keeps the demo fast
    assert Path(DEMO_ANALYSIS).read_text(encoding="utf-8").count("example") >= 3
