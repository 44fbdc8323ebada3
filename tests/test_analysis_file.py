"""Analysis files (allianceStats.analysis): the key schema, renamed keys, guarded steps, seeds and provenance.

The estimation functions are replaced by small fakes here (monkeypatched on the ``allianceStats`` package, which
is what the runner calls), so these tests check the runner's own logic; the engines run end to end in
tests/test_cli.py.
"""
from __future__ import annotations

import warnings
from types import SimpleNamespace

import pandas as pd
import pytest

import allianceStats
from allianceStats import analysis
from allianceStats.analysis import DEMO_ANALYSIS, SCHEMA, load_analysis, parse_analysis, run_analysis, run_step
from allianceStats.errors import ConvergenceWarning, DataFileError, SchemaError


def _spec(**steps):
    return parse_analysis({"title": "t", "seed": 5, "data": {"path": "unused.csv"}, **steps})


def _problems(raw) -> list[str]:
    with pytest.raises(SchemaError) as err:
        parse_analysis(raw)
    return err.value.problems


@pytest.fixture
def sessions() -> pd.DataFrame:
    rows = [{"therapist": f"t{c % 2}", "client": f"c{c}", "session": s, "alliance": 3.0 + 0.1 * s + 0.2 * c,
             "outcome": 50.0 + s + c, "dropout": 0} for c in range(6) for s in range(1, 5)]
    return pd.DataFrame(rows)


def test_steps_are_ordered_and_list_steps_are_lists():
    spec = _spec(dynamics={}, describe={}, mlm={"formula": "y ~ 1 + (1 | client)"})
    assert spec.steps == ["describe", "mlm", "dynamics"]
    assert spec.options["mlm"] == [{"formula": "y ~ 1 + (1 | client)"}]  # one table becomes a list


def test_every_key_type_is_checked_and_all_problems_listed_at_once():
    problems = _problems({
        "seed": -1, "conf_level": 95, "data": {"path": "x.csv", "columns": {"a": 1}},
        "mlm": [{"formla": "y ~ 1", "reml": "false"}, {"formula": "y ~ 1", "decompose": [1]}],
        "mediation": {"x": "a", "y": "b", "n_draws": 0, "ci": "bootstrap"},
        "icc": 3, "trajectories": {"max_clients": True}, "riclpm": {"waves": "1-5"},
        "hypotheses": {"mapping": "alliance"}, "bogus": {},
    })
    expected = [
        "unknown key 'bogus'",
        "seed must be a non-negative whole number; found the integer -1",
        "conf_level must be a number between 0 and 1 (e.g. 0.95); found the integer 95",
        "[data]: columns must be a table of names to names",
        "[icc] must be a table; found the integer 3",
        "[trajectories]: max_clients must be a whole number of at least 1; found a boolean True",
        "[[mlm]] number 1: unknown key 'formla'",
        "[[mlm]] number 1: reml must be true or false (a TOML boolean, without quotes); found the string 'false'",
        "[[mlm]] number 1: missing required key 'formula'",
        "[[mlm]] number 2: decompose must be a non-empty list of column names",
        "[riclpm]: waves must be a list of whole numbers (e.g. [1, 2, 3]); found the string '1-5'",
        "[[mediation]] number 1: n_draws must be a whole number of at least 1; found the integer 0",
        "[[mediation]] number 1: ci must be one of ['percentile', 'bca', 'monte_carlo', 'delta']; found the string "
        "'bootstrap'",
        "[[mediation]] number 1: missing required key 'mediators'",
        "[hypotheses]: mapping must be a table of names to a name or a list of names",
    ]
    for needle in expected:
        assert any(p.startswith(needle) for p in problems), (needle, problems)
    assert len(problems) == len(expected)


def test_a_single_name_is_one_name_not_its_letters():
    spec = _spec(icc={"measures": "alliance"}, mediation={"x": "a", "mediators": "m", "y": "b"})
    assert spec.options["icc"]["measures"] == ["alliance"]
    assert spec.options["mediation"][0]["mediators"] == ["m"]


def test_data_roles_become_the_column_mapping():
    spec = parse_analysis({"data": {"path": "x.csv", "client": "ID", "session": "visit",
                                    "columns": {"WAI": "alliance"}}})
    assert spec.columns == {"WAI": "alliance", "ID": "client", "visit": "session"}
    problems = _problems({"data": {"path": "x.csv", "client": "ID", "columns": {"ID": "therapist"}}})
    assert problems == ["[data]: column 'ID' is mapped to both 'client' and 'therapist'"]
    assert _problems({"title": "x"}) == ["missing required key 'data' (the session table)"]


def test_list_entries_need_distinct_names():
    problems = _problems({"data": {"path": "x.csv"},
                          "mlm": [{"formula": "y ~ 1"}, {"name": "mlm1", "formula": "y ~ 1"}]})
    assert problems == ["[[mlm]]: name 'mlm1' is used by more than one table; give each its own name"]


@pytest.mark.parametrize("old,new,value", [("n_boot", "n_draws", 300), ("level", "conf_level", 0.9)])
def test_old_option_names_warn_and_become_the_new_keys(old, new, value):
    with pytest.warns(FutureWarning, match=rf"\[\[mediation\]\] number 1 options\.{old} is renamed {new}"):
        spec = _spec(mediation={"x": "a", "mediators": ["m"], "y": "b", "options": {old: value}})
    assert spec.options["mediation"][0][new] == value
    assert spec.options["mediation"][0]["options"] == {}


def test_old_option_passthrough_names_are_translated():
    with pytest.warns(FutureWarning, match=r"options\.cluster is renamed client"):
        spec = _spec(riclpm={"options": {"cluster": "ID", "waves": [1, 2, 3]}})
    assert spec.options["riclpm"] == {"options": {"client": "ID"}, "waves": [1, 2, 3]}  # waves lifted to its key


def test_old_and_new_name_together_is_an_error():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        problems = _problems({"data": {"path": "x.csv"},
                              "hypotheses": {"mapping": {}, "n_draws": 10, "options": {"n_boot": 20}}})
    assert problems == ["[hypotheses]: 'n_draws' is given both as a key and in options; give it once, as a key"]


def test_old_cycle_keys_become_the_mapping():
    with pytest.warns(FutureWarning) as caught:
        spec = _spec(cycle={"alliance": "WAI", "needs": ["autonomy", "competence"], "behaviours": "empathy"})
    assert [str(w.message).split(": ")[1].split(" is renamed")[0] for w in caught] == [
        "[cycle] behaviours", "[cycle] alliance", "[cycle] needs"]
    assert all("is renamed [cycle] mapping" in str(w.message) for w in caught)
    assert spec.options["cycle"]["mapping"] == {"alliance": "WAI", "needs": ["autonomy", "competence"],
                                                "therapist_behaviour": "empathy"}


def test_load_analysis_file_errors(tmp_path):
    with pytest.raises(DataFileError, match="not found"):
        load_analysis(tmp_path / "absent.toml")
    bad = tmp_path / "bad.toml"
    bad.write_text("[data\n")
    with pytest.raises(DataFileError, match="not valid TOML"):
        load_analysis(bad)


def test_demo_file_uses_only_the_new_vocabulary():
    with warnings.catch_warnings():
        warnings.simplefilter("error", FutureWarning)
        spec = load_analysis(DEMO_ANALYSIS)
    assert spec.data_path == "example" and spec.steps[0] == "describe"
    assert set(spec.steps) == set(SCHEMA) - {"", "data", "multilevel_mediation"}


def test_failing_step_is_kept_and_the_others_run(monkeypatch, sessions):
    def icc(*args, **kwargs):
        raise FloatingPointError("boom")

    monkeypatch.setattr(allianceStats, "icc", icc)
    run = run_analysis(_spec(icc={"measures": ["alliance"]}, trajectories={"measures": ["alliance"]}), sessions)
    assert [(s.id, s.status) for s in run.steps] == [("icc", "failed"), ("trajectories", "ok")]
    assert run.steps[0].error == "FloatingPointError: boom"
    assert run.failed == [run.steps[0]]


def test_warnings_stay_with_their_step(monkeypatch, sessions):
    def icc(data, measure, **kwargs):
        warnings.warn("singular fit", ConvergenceWarning, stacklevel=2)
        return SimpleNamespace(measure=measure, kwargs=kwargs)

    monkeypatch.setattr(allianceStats, "icc", icc)
    step = run_step(sessions, "icc", {"measures": ["alliance", "outcome"], "therapist": False}, 1)
    assert step.status == "ok" and step.warnings == ("ConvergenceWarning: singular fit",)
    assert list(step.results["icc"]) == ["alliance", "outcome"]
    assert step.results["icc"]["alliance"].kwargs == {"therapist": None, "conf_level": 0.95}


def test_seeds_levels_and_the_vocabulary_reach_the_functions(monkeypatch, sessions):
    calls = []

    def fit_mediation(data, x, mediators, y, **kwargs):
        calls.append((len(data), kwargs))
        return SimpleNamespace()

    monkeypatch.setattr(allianceStats, "fit_mediation", fit_mediation, raising=False)
    spec = parse_analysis({"seed": 7, "conf_level": 0.9, "data": {"path": "x.csv"}, "describe": {},
                           "mediation": [{"x": "alliance", "mediators": "outcome", "y": "alliance", "n_draws": 50},
                                         {"name": "s", "x": "alliance", "mediators": "outcome", "y": "alliance",
                                          "unit": "session", "ci": "bca", "conf_level": 0.8}]})
    monkeypatch.setattr(allianceStats, "describe", lambda data: "described")
    run = run_analysis(spec, sessions)
    assert [s.id for s in run.steps] == ["describe", "mediation-mediation1", "mediation-s"]
    assert [s.seed for s in run.steps] == [7, 1007, 1008]  # seed + 1000 * position (+ j within [[list]])
    (n1, first), (n2, second) = calls
    assert n1 == 6 and first == {"covariates": [], "serial": False, "seed": 1007, "conf_level": 0.9, "n_draws": 50}
    assert n2 == len(sessions) and second == {"covariates": [], "serial": False, "seed": 1008, "client": "client",
                                              "conf_level": 0.8, "ci": "bca"}
    assert run.steps[2].conf_level == 0.8


def test_riclpm_with_clpm_and_comparison(monkeypatch, sessions):
    seen = {}

    def fit(kind):
        def f(data, variables, **kwargs):
            seen[kind] = (variables, kwargs)
            if kind == "clpm":
                raise FloatingPointError("not positive definite")
            return SimpleNamespace(kind=kind)
        return f

    monkeypatch.setattr(allianceStats, "fit_riclpm", fit("riclpm"))
    monkeypatch.setattr(allianceStats, "fit_clpm", fit("clpm"))
    step = run_step(sessions, "riclpm", {"waves": [1, 2, 3], "clpm": True, "options": {"constraints": "lagged"}}, 1)
    assert seen["riclpm"] == (["alliance", "outcome"], {"constraints": "lagged", "conf_level": 0.95,
                                                        "waves": [1, 2, 3]})
    assert step.status == "ok" and set(step.results) == {"riclpm", "variables"}
    assert step.notes == ("CLPM not fitted: FloatingPointError: not positive definite",)


def test_dynamics_parts_fail_alone_and_all_failing_fails_the_step(monkeypatch, sessions):
    def broken(*args, **kwargs):
        raise FloatingPointError("bad sd")

    for name in ("detect_ruptures", "variability", "fit_dropout", "kaplan_meier", "detect_sudden_gains"):
        monkeypatch.setattr(allianceStats, name, broken, raising=False)
    gains = {}
    monkeypatch.setattr(allianceStats, "detect_sudden_gains", lambda data, **k: gains.update(k) or "gains",
                        raising=False)
    step = run_step(sessions, "dynamics", {"sudden_gains": {"better": "higher", "min_change": 5}}, 1)
    assert step.status == "ok" and step.results == {"sudden_gains": "gains"}
    assert gains == {"column": "outcome", "better": "higher", "min_change": 5}
    assert "ruptures: could not be computed — FloatingPointError: bad sd" in step.notes and len(step.notes) == 4
    failed = run_step(sessions, "dynamics", {}, 1)
    assert failed.status == "failed" and "no part of the dynamics step could be computed" in failed.error


def test_provenance_records_data_seed_and_versions(sessions):
    run = run_analysis(_spec(trajectories={}), sessions)
    prov = run.provenance
    assert len(prov["data_sha256"]) == 64 and prov["seed"] == 5 and "jinja2" in prov["versions"]
    assert prov["analysis_file"] == "<dict>" and prov["data_source"] == "unused.csv"


def test_power_table_is_read_relative_to_the_file(tmp_path, sessions):
    pd.DataFrame({"target": ["slope", "slope"], "n_clients": [20, 40], "power": [0.3, 0.6]}).to_csv(
        tmp_path / "power_table.csv", index=False)
    spec = parse_analysis({"data": {"path": "x.csv"}, "power": {"table": "power_table.csv"}}, base_dir=tmp_path)
    (step,) = run_analysis(spec, sessions).steps
    assert step.status == "ok" and step.results["targets"] == ["slope"]
    missing = run_analysis(parse_analysis({"data": {"path": "x.csv"}, "power": {"table": "nope.csv"}},
                                          base_dir=tmp_path), sessions).steps[0]
    assert missing.status == "failed" and "alliance-stats power" in missing.error


def test_the_runner_calls_the_public_api_only():
    """Every step reaches estimation through ``allianceStats.<name>`` (no private module, no fallback)."""
    import ast
    import inspect

    source = inspect.getsource(analysis)
    assert "_LAZY" not in source and "hasattr" not in source and "Unavailable" not in source
    imported = {node.module for node in ast.walk(ast.parse(source)) if isinstance(node, ast.ImportFrom)}
    # simulate.process: the generators of the simulated coded sessions and dyad signals of `events = "example"`
    assert imported <= {"__future__", "collections.abc", "dataclasses", "pathlib", "typing", "_deprecation",
                        "errors", "results", "data.checks", "simulate.process"}, imported


def _registry():
    rows = [("B1", {"x": "empathic_attunement", "y": "relatedness"}, False),
            ("C1", {"x": "therapist_behaviour", "y": "alliance"}, True),
            ("C2", {"x": "alliance", "y": "needs"}, True),
            ("C3", {"x": "needs", "y": "motivation"}, True),
            ("C4", {"x": "motivation", "y": "engagement"}, True),
            ("C6", {"x": "engagement", "y": "alliance"}, True)]
    return pd.DataFrame({"id": [r[0] for r in rows], "roles": [r[1] for r in rows], "cycle": [r[2] for r in rows]})


def test_cycle_is_the_registry_cycle_tested_by_evaluate_hypotheses(monkeypatch, sessions):
    calls = []
    monkeypatch.setattr(allianceStats, "hypotheses", _registry)
    monkeypatch.setattr(allianceStats, "evaluate_hypotheses",
                        lambda data, mapping, **kwargs: calls.append((mapping, kwargs)) or "tested", raising=False)
    mapping = {"therapist_behaviour": ["empathy", "autonomy_support"], "alliance": "alliance",
               "needs": ["autonomy", "competence"], "motivation": "motivation", "engagement": "engagement"}
    step = run_step(sessions, "cycle", {"mapping": mapping, "n_draws": 50}, 9, conf_level=0.9)
    assert step.status == "ok", step.error
    assert calls == [(mapping, {"ids": ["C1", "C2", "C3", "C4", "C6"], "seed": 9, "conf_level": 0.9,
                                "n_draws": 50})]
    assert step.results["layout"] == {"behaviours": ["empathy", "autonomy_support"], "alliance": "alliance",
                                      "needs": ["autonomy", "competence"], "motivation": "motivation",
                                      "engagement": "engagement"}
    # without a mapping: the [hypotheses] mapping, else the roles that name a column of the data
    run_step(sessions, "cycle", {}, 9, mapping_default={"alliance": "WAI"})
    assert calls[-1][0] == {"alliance": "WAI"}
    run_step(sessions, "cycle", {}, 9)
    assert calls[-1][0] == {"alliance": "alliance"}


# -- issue 12 ------------------------------------------------------------------------------------------------------
def test_text_booleans_and_single_names_issue_12():
    """`reml = "false"` fitted REML, `serial = "false"` a serial model, `measures = "alliance"` became letters."""
    problems = _problems({"data": {"path": "x.csv"}, "mlm": {"formula": "y ~ 1", "reml": "false"},
                          "mediation": {"x": "a", "mediators": ["m"], "y": "b", "serial": "false"},
                          "riclpm": {"clpm": "true"}})
    assert problems == [
        "[[mlm]] number 1: reml must be true or false (a TOML boolean, without quotes); found the string 'false'",
        "[riclpm]: clpm must be true or false (a TOML boolean, without quotes); found the string 'true'",
        "[[mediation]] number 1: serial must be true or false (a TOML boolean, without quotes); found the string "
        "'false'"]
    assert _spec(icc={"measures": "alliance"}).options["icc"]["measures"] == ["alliance"]


def test_free_form_tables_are_checked_against_the_function_signature():
    """Issue 12: the keys of `options` and of the [dynamics] sub-tables were passed on unchecked."""
    problems = _problems({
        "data": {"path": "x.csv"},
        "riclpm": {"options": {"equal_means": "no", "constraints": 1}},
        "mediation": {"x": "a", "mediators": ["m"], "y": "b", "options": {"seed": 3, "bogus": 1}},
        "dynamics": {"ruptures": {"k": "2", "column": "x"},
                     "sudden_gains": {"column": "outcome", "better": "higher", "min_change": "5", "adjust": "true"},
                     "dropout": {"early_sessions": [1, 2], "landmark": 1}},
    })
    import inspect

    valid = ", ".join(n for n in inspect.signature(allianceStats.fit_mediation).parameters
                      if n not in {"data", "x", "mediators", "y", "covariates", "serial", "seed"})
    assert problems == [
        "[riclpm]: options.equal_means must be true or false (without quotes); found the string 'no'",
        "[riclpm]: options.constraints must be a string in quotes; found the integer 1",
        "[[mediation]] number 1: options: unknown key 'seed' (set from the step's own keys or the file's seed); "
        f"valid keys of fit_mediation: {valid}",
        f"[[mediation]] number 1: options: unknown key 'bogus'; valid keys of fit_mediation: {valid}",
        "[dynamics]: ruptures.k must be a number; found the string '2'",
        "[dynamics]: ruptures: unknown key 'column' (set from the step's own keys or the file's seed); valid keys "
        "of detect_ruptures: client, session, method, k, sd, reference, repair_window, min_sessions",
        "[dynamics]: sudden_gains.min_change must be a number; found the string '5'",
        "[dynamics]: sudden_gains.adjust must be true or false (without quotes); found the string 'true'",
        "[dynamics]: dropout.landmark must be true or false (without quotes); found the integer 1",
    ]
    ok = _spec(dynamics={"ruptures": {"k": 2, "repair_window": 3.5}, "dropout": {"early_sessions": [1, 2]},
                         "sudden_gains": {"column": "outcome", "better": "higher", "min_change": 5}},
               riclpm={"options": {"group_equal": ["a"], "predictors": "z", "constraints": "lagged"}})
    assert ok.options["dynamics"]["ruptures"] == {"k": 2, "repair_window": 3.5}


def test_steps_whose_default_columns_are_absent_are_skipped_with_the_reason():
    """Issue 12: the SDT-cycle section was 'OK' with an empty table when its columns were absent."""
    data = pd.DataFrame({"client": [f"c{c}" for c in range(8) for _ in range(4)],
                         "session": [s for _ in range(8) for s in range(1, 5)],
                         "x1": [float(k % 5) for k in range(32)]})
    spec = parse_analysis({"data": {"path": "unused.csv"}, "describe": {}, "icc": {}, "trajectories": {},
                           "riclpm": {}, "cycle": {}, "hypotheses": {"mapping": {"outcome": "x1"}},
                           "dynamics": {}})
    run = run_analysis(spec, data)
    status = {s.id: (s.status, s.error) for s in run.steps}
    assert status["describe"] == ("ok", "")
    assert status["icc"] == ("skipped", "none of its default columns (alliance, outcome, needs, motivation) is "
                                        "in the data; name the columns with measures = [...] in [icc]")
    assert status["trajectories"][0] == "skipped" and "measures = [...] in [trajectories]" in status["trajectories"][1]
    assert status["riclpm"] == ("skipped", "its default columns alliance, outcome are not all in the data (absent: "
                                           "alliance, outcome); name the columns with variables = ... in [riclpm]")
    assert status["dynamics"] == ("skipped", "its default column alliance is not in the data; name the column "
                                             "with column = ... in [dynamics]")
    assert status["cycle"][0] == "skipped"
    assert status["cycle"][1].startswith("no arrow of the cycle could be estimated — C1: roles "
                                         "['therapist_behaviour', 'alliance'] are not mapped to columns")
    assert status["hypotheses"][0] == "skipped" and "no hypothesis could be estimated" in status["hypotheses"][1]
    assert [s.id for s in run.skipped] == ["icc", "trajectories", "riclpm", "cycle", "hypotheses", "dynamics"]
    assert run.failed == []
    explicit = run_step(data, "icc", {"measures": ["alliance"]}, 1)  # a column the file names is an error
    assert explicit.status == "failed" and "alliance" in explicit.error


# -- issue 18: the step kinds of the new engines ---------------------------------------------------------------------
def test_new_step_kinds_are_checked_like_the_others():
    problems = _problems({
        "data": {"path": "x.csv"},
        "glmm": [{"formula": "y ~ 1 + (1 | client)"}, {"formula": "y ~ 1", "family": "gaussian"},
                 {"formula": "y ~ 1", "family": "binomial", "derive": {"z": "__import__('os').system('x')"},
                  "options": {"bogus": 1}}],
        "cox": {"formula": "Surv(start, stop, event) ~ x", "robust": "yes", "intervals": {"periods": True}},
        "sequences": {"lag": 0},
        "synchrony": {"signals": "s.csv", "x": "a"},
        "invariance": [{"model": "f =~ a + b + c"}, {"model": "f =~ a + b + c", "group": "g", "waves": [1, 2]}],
        "power": {"reps": 5},
    })
    expected = [
        "[[glmm]] number 1: missing required key 'family' (distribution of the outcome)",
        "[[glmm]] number 2: family must be one of ['binomial', 'poisson', 'negative_binomial']; found the string "
        "'gaussian'",
        "[[glmm]] number 3: derive must be arithmetic on columns: z = \"__import__('os').system('x')\" may use only",
        "[[glmm]] number 3: options: unknown key 'bogus'",
        "[[cox]] number 1: robust must be true or false",
        "[[cox]] number 1: intervals: unknown key 'periods' (set from the step's own keys",
        "[sequences]: lag must be a whole number of at least 1; found the integer 0",
        "[sequences]: missing required key 'events'",
        "[synchrony]: missing required key 'y' (needed unless signals = \"example\")",
        "[synchrony]: missing required key 'step_seconds' (needed unless signals = \"example\")",
        "[[invariance]] number 1: give group or waves",
        "[[invariance]] number 2: give one of group or waves, not both",
        "[power]: give table or design",
    ]
    for needle in expected:
        assert any(p.startswith(needle) for p in problems), (needle, problems)
    assert any("may use only column names" in p for p in problems)
    assert _spec(synchrony={"signals": "example"}).options["synchrony"] == {"signals": "example"}


def test_derive_computes_columns_without_evaluating_code():
    d = pd.DataFrame({"a": [1.0, 2.0, None], "b": [3.0, 0.0, 1.0]})
    out = analysis.derive(d, {"s": "a + 2 * b", "big": "a >= 2 and not b", "p": "-a ** 2"})
    assert out["s"].tolist()[:2] == [7.0, 2.0] and pd.isna(out["s"].iloc[2])
    assert out["big"].tolist()[:2] == [0.0, 1.0] and pd.isna(out["big"].iloc[2])
    assert out["p"].tolist()[:2] == [-1.0, -4.0]
    assert list(d.columns) == ["a", "b"]  # the input is not modified
    for bad in ("a.__class__", "open('x')", "[a]", "'text'", "a if b else 1", "True"):
        with pytest.raises(SchemaError):
            analysis.derive(d, {"x": bad})
    with pytest.raises(SchemaError, match="column\\(s\\) nope"):
        analysis.derive(d, {"x": "nope + 1"})


def test_dropout_events_follow_the_session_schema():
    d = pd.DataFrame({"client": ["a", "a", "b", "c", "c", "c"], "session": [1, 2, 1, 1, 2, 4],
                      "dropout": [0, 1, 1, 0, 0, 0]})
    with pytest.warns(allianceStats.DataWarning, match="1 client\\(s\\) seen at one session only.*'b'"):
        events = analysis.dropout_events(d)
    assert events.to_dict("list") == {"client": ["a", "c"], "time": [2, 4], "event": [1, 0]}
    with pytest.raises(SchemaError, match="dropout"):
        analysis.dropout_events(d.drop(columns="dropout"))


def test_draft_analysis_for_the_example_reads_back_and_names_what_is_absent():
    full = parse_analysis(__import__("tomllib").loads(analysis.draft_analysis(allianceStats.load_example(),
                                                                              "example")))
    assert {"glmm", "cox", "invariance", "cycle", "mediation", "wave_mediation"} <= set(full.steps)
    text = analysis.draft_analysis(pd.DataFrame({"client": ["a"], "session": [1], "outcome": [1.0]}), "x.csv")
    spec = parse_analysis(__import__("tomllib").loads(text))
    assert spec.steps == ["describe", "icc", "trajectories"]
    assert "# [[mlm]] left out: it needs the column(s) alliance" in text
    assert "# [riclpm] left out: it needs the column(s) alliance" in text
