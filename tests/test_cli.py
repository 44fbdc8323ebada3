"""The alliance-stats command line: exit codes (0 / 1 / 2), messages without tracebacks, byte-identical reruns."""
from __future__ import annotations

import re
import subprocess
import sys
import warnings
from pathlib import Path
from types import SimpleNamespace

import pandas as pd
import pytest
from typer.testing import CliRunner

import allianceStats
from allianceStats.cli import app
from allianceStats.errors import ConvergenceError, ConvergenceWarning

runner = CliRunner()


@pytest.fixture(scope="module")
def data_csv(tmp_path_factory) -> Path:
    from allianceStats.simulate import sdt_cycle

    data, _ = sdt_cycle(6, 6, 6, seed=11)
    path = tmp_path_factory.mktemp("data") / "sessions.csv"
    data.to_csv(path, index=False)
    return path


def invoke(*args):
    result = runner.invoke(app, [str(a) for a in args])
    assert "Traceback" not in result.output and "Traceback" not in result.stderr
    return result


def test_validate_ok_and_mapping(data_csv, tmp_path):
    ok = invoke("validate", data_csv)
    assert ok.exit_code == 0 and ok.stdout.startswith("OK: ")
    renamed = pd.read_csv(data_csv).rename(columns={"client": "ID", "alliance": "WAI"})
    path = tmp_path / "renamed.csv"
    renamed.to_csv(path, index=False)
    assert invoke("validate", path).exit_code == 2  # no client column without a mapping
    mapped = invoke("validate", path, "--column", "ID=client", "-c", "WAI=alliance")
    assert mapped.exit_code == 0, mapped.stderr
    bad = invoke("validate", path, "--column", "ID")
    assert bad.exit_code == 2 and "NAME=ROLE" in bad.stderr
    by_role = invoke("validate", path, "--client", "ID", "-c", "WAI=alliance")
    assert by_role.exit_code == 0 and by_role.stdout == mapped.stdout
    both = invoke("validate", path, "--client", "ID", "-c", "ID=therapist")
    assert both.exit_code == 2 and "column 'ID' is given both as --client and as --column ID=therapist" in both.stderr


def test_validate_bad_input_lists_every_problem(tmp_path):
    path = tmp_path / "bad.csv"
    path.write_text("client,session,alliance\na,1,3\na,1,9\nb,x,2\n")
    result = invoke("validate", path)
    assert result.exit_code == 2
    assert "3 problems found" in result.stderr
    for needle in ("column 'session'", "column 'alliance'", "duplicate (client, session)"):
        assert needle in result.stderr
    missing = invoke("describe", tmp_path / "absent.csv")
    assert missing.exit_code == 2 and "not found" in missing.stderr


def test_describe(data_csv):
    result = invoke("describe", data_csv)
    assert result.exit_code == 0 and "36 clients of 6 therapists" in result.stdout


def test_fit_mlm_writes_params(data_csv, tmp_path):
    out = tmp_path / "params.csv"
    result = invoke("fit", "mlm", data_csv, "-f", "outcome ~ alliance_within + alliance_between + (1 | client)",
                    "--decompose", "alliance", "--out", out)
    assert result.exit_code == 0, result.stderr
    assert "alliance_within" in result.stdout
    params = pd.read_csv(out)
    assert params.columns.tolist()[:3] == ["term", "estimate", "std_error"]
    assert params["term"].tolist() == ["(Intercept)", "alliance_within", "alliance_between"]


def test_fit_mlm_bad_formula_is_bad_input(data_csv):
    result = invoke("fit", "mlm", data_csv, "-f", "outcome ~ nope + (1 | client)")
    assert result.exit_code == 2 and "nope" in result.stderr


def test_fit_failures_exit_1_with_reason(data_csv, monkeypatch):
    def no_convergence(*args, **kwargs):
        raise ConvergenceError("the optimiser stopped after 0 iterations")

    monkeypatch.setattr(allianceStats, "fit_mlm", no_convergence)
    result = invoke("fit", "mlm", data_csv, "-f", "outcome ~ 1 + (1 | client)")
    assert result.exit_code == 1 and "could not fit the model" in result.stderr
    assert "stopped after 0 iterations" in result.stderr

    def crash(*args, **kwargs):
        raise FloatingPointError("overflow in exp")

    monkeypatch.setattr(allianceStats, "fit_mlm", crash)
    result = invoke("fit", "mlm", data_csv, "-f", "outcome ~ 1 + (1 | client)")
    assert result.exit_code == 1 and "FloatingPointError: overflow in exp" in result.stderr

    def not_converged(*args, **kwargs):
        warnings.warn("iteration limit reached", ConvergenceWarning, stacklevel=2)
        return SimpleNamespace(converged=False, convergence=SimpleNamespace(message="max evaluations"),
                               params=pd.DataFrame({"term": ["(Intercept)"], "estimate": [1.0]}),
                               summary=lambda: "fake summary")

    monkeypatch.setattr(allianceStats, "fit_mlm", not_converged)
    result = invoke("fit", "mlm", data_csv, "-f", "outcome ~ 1 + (1 | client)")
    assert result.exit_code == 1 and "fake summary" in result.stdout
    assert "warning: ConvergenceWarning: iteration limit reached" in result.stderr
    assert "did not converge" in result.stderr and "max evaluations" in result.stderr


def test_fit_mediation_and_ruptures(data_csv, tmp_path):
    out = tmp_path / "effects.csv"
    result = invoke("fit", "mediation", data_csv, "--x", "alliance", "-m", "autonomy", "-m", "competence",
                    "--y", "motivation", "--n-draws", "200", "--seed", "3", "--conf-level", "0.9", "--out", out)
    assert result.exit_code == 0, result.stderr
    assert "FutureWarning" not in result.stderr
    effects = pd.read_csv(out)
    assert {"total indirect", "direct", "total"} <= set(effects["effect"])
    old = invoke("fit", "mediation", data_csv, "--x", "alliance", "-m", "autonomy", "-m", "competence",
                 "--y", "motivation", "--n-boot", "200", "--seed", "3", "--conf-level", "0.9", "--out", out)
    assert old.exit_code == 0 and "--n-boot is renamed --n-draws" in old.stderr
    assert pd.read_csv(out).equals(effects)  # the old option gives the same numbers
    bad_unit = invoke("fit", "mediation", data_csv, "--x", "alliance", "-m", "autonomy", "--y", "motivation",
                      "--unit", "clients")
    assert bad_unit.exit_code == 2 and "--unit='clients' is not supported" in bad_unit.stderr
    bad = invoke("fit", "mediation", data_csv, "--x", "alliance", "-m", "nope", "--y", "motivation")
    assert bad.exit_code == 2 and "nope" in bad.stderr
    rup = invoke("ruptures", data_csv, "--out", tmp_path / "events.csv")
    assert rup.exit_code == 0 and "Ruptures in 'alliance'" in rup.stdout


ANALYSIS = """
title = "Test <b>study</b>"
seed = 42
[data]
path = "{data}"
[describe]
[icc]
measures = ["alliance", "outcome"]
[trajectories]
measures = ["alliance"]
[[mlm]]
name = "ao"
formula = "outcome ~ alliance_within_lag1 + alliance_between + session0 + (1 | client)"
decompose = ["alliance"]
therapist = false
[[mlm]]
name = "broken"
formula = "outcome ~ nothing_here + (1 | client)"
[[mediation]]
name = "needs"
x = "alliance"
mediators = ["autonomy", "relatedness"]
y = "motivation"
n_draws = 300
[cycle]
n_draws = 200
[dynamics]
"""


def test_report_runs_and_reruns_byte_identically(data_csv, tmp_path):
    toml = tmp_path / "analysis.toml"
    toml.write_text(ANALYSIS.format(data=data_csv.as_posix()))
    first = invoke("report", toml, "-o", tmp_path / "a")
    second = invoke("report", toml, "-o", tmp_path / "b")
    assert first.exit_code == 1 and second.exit_code == 1, first.stderr  # one section failed: exit 1
    assert "failed: Multilevel model: broken" in first.stderr
    assert "1 of 8 sections not computed" in first.stderr and "report written to" in first.stdout
    files = sorted(p.relative_to(tmp_path / "a") for p in (tmp_path / "a" / "tables").iterdir())
    assert Path("tables/mlm_ao_params.csv") in files and Path("tables/mediation_needs_effects.md") in files
    for rel in files:
        assert (tmp_path / "a" / rel).read_bytes() == (tmp_path / "b" / rel).read_bytes(), rel
    html = (tmp_path / "a" / "index.html").read_text(encoding="utf-8")
    assert "Test &lt;b&gt;study&lt;/b&gt;" in html and "<b>study</b>" not in html
    broken = tmp_path / "broken.toml"
    broken.write_text(f"[data]\npath = '{data_csv.as_posix()}'\n[[mlm]]\n"
                      "formula = 'outcome ~ nothing_here + (1 | client)'\n")
    strict = invoke("report", broken, "-o", tmp_path / "c", "--strict")
    assert strict.exit_code == 1 and "1 section(s) failed" in strict.stderr
    assert (tmp_path / "c" / "index.html").is_file()  # the report is still written


def test_report_seed_changes_bootstrap(data_csv, tmp_path):
    text = (f"seed = 42\n[data]\npath = '{data_csv.as_posix()}'\n[[mediation]]\nname = 'needs'\nx = 'alliance'\n"
            "mediators = ['autonomy']\ny = 'motivation'\nn_draws = 300\n")
    (tmp_path / "s1.toml").write_text(text)
    (tmp_path / "s2.toml").write_text(text.replace("seed = 42", "seed = 43"))
    for name in ("s1", "s2"):
        assert invoke("report", tmp_path / f"{name}.toml", "-o", tmp_path / name).exit_code == 0
    a = (tmp_path / "s1" / "tables" / "mediation_needs_effects.csv").read_bytes()
    b = (tmp_path / "s2" / "tables" / "mediation_needs_effects.csv").read_bytes()
    assert a != b  # the seed reaches the bootstrap


@pytest.mark.parametrize("text,needle", [
    ("title = 'x'\n", "missing required key 'data'"),
    ("[data]\npath = 'x.csv'\n[mlmm]\n", "unknown key 'mlmm'"),
    ("[data\n", "not valid TOML"),
    ("seed = -1\n[data]\npath = 'x.csv'\n", "seed must be a non-negative whole number"),
    ("[data]\npath = 'x.csv'\n[[mlm]]\nformula = 'y ~ 1'\nreml = 'false'\n",
     "reml must be true or false (a TOML boolean, without quotes); found the string 'false'"),
    ("[data]\npath = 'no_such_file.csv'\n[describe]\n", "not found"),
])
def test_report_bad_analysis_file(tmp_path, text, needle):
    toml = tmp_path / "bad.toml"
    toml.write_text(text)
    result = invoke("report", toml, "-o", tmp_path / "out")
    assert result.exit_code == 2 and needle in result.stderr
    assert not (tmp_path / "out").exists()  # nothing is written for a file that does not check


def test_report_old_analysis_keys_warn_and_still_work(data_csv, tmp_path):
    toml = tmp_path / "old.toml"
    toml.write_text(f"[data]\npath = '{data_csv.as_posix()}'\n[[mediation]]\nname = 'needs'\nx = 'alliance'\n"
                    "mediators = ['autonomy']\ny = 'motivation'\noptions = { n_boot = 100 }\n")
    result = invoke("report", toml, "-o", tmp_path / "out")
    assert result.exit_code == 0, result.stderr
    assert "warning: FutureWarning: analysis file" in result.stderr
    assert "[[mediation]] number 1 options.n_boot is renamed n_draws" in result.stderr
    assert (tmp_path / "out" / "tables" / "mediation_needs_effects.csv").is_file()


def test_no_traceback_for_unexpected_errors(data_csv, tmp_path, monkeypatch):
    def bug(*args, **kwargs):
        raise KeyError("internal")

    monkeypatch.setattr(allianceStats, "describe", bug)
    result = invoke("describe", data_csv)
    assert result.exit_code == 1 and result.stderr.startswith("error: unexpected KeyError: 'internal'")
    assert len(result.stderr.strip().splitlines()) == 1
    target = tmp_path / "file"
    target.write_text("not a folder")
    toml = tmp_path / "a.toml"
    toml.write_text(f"[data]\npath = '{data_csv.as_posix()}'\n[trajectories]\n")
    blocked = invoke("report", toml, "-o", target / "out")  # the output folder cannot be created
    assert blocked.exit_code == 2 and blocked.stderr.strip().startswith("error: the report folder")
    assert "is a file, not a folder" in blocked.stderr
    assert len(blocked.stderr.strip().splitlines()) == 1


def test_simulate_then_validate(tmp_path):
    out = tmp_path / "sim.csv"
    result = invoke("simulate", "-o", out, "--therapists", "3", "--clients", "4", "--sessions", "5", "--seed", "9",
                    "--truth", tmp_path / "truth.json")
    assert result.exit_code == 0 and out.is_file() and (tmp_path / "truth.json").is_file()
    assert invoke("validate", out).exit_code == 0
    again = tmp_path / "sim2.csv"
    invoke("simulate", "-o", again, "--therapists", "3", "--clients", "4", "--sessions", "5", "--seed", "9")
    assert again.read_bytes() == out.read_bytes()


def test_demo_writes_report(tmp_path):
    result = invoke("demo", "-o", tmp_path / "demo")
    assert result.exit_code == 0, result.stderr
    assert "demo report written to" in result.stdout
    html = (tmp_path / "demo" / "index.html").read_text(encoding="utf-8")
    assert html.count("<svg") >= 4 and "Provenance" in html


def test_entry_point_installed():
    script = Path(sys.executable).with_name("alliance-stats")
    if not script.exists():
        pytest.skip(reason="the alliance-stats console script is not installed in this environment")
    result = subprocess.run([str(script), "validate", "example"], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0 and result.stdout.startswith("OK:")


def test_fit_panel_and_sem(data_csv, tmp_path):
    out = tmp_path / "riclpm.csv"
    result = invoke("fit", "riclpm", data_csv, "-v", "alliance", "-v", "outcome", "--waves", "4", "--out", out)
    assert result.exit_code == 0, result.stderr
    params = pd.read_csv(out)
    assert ((params["lhs"] == "w_alliance_3") & (params["rhs"] == "w_outcome_2")).any()
    clpm = invoke("fit", "clpm", data_csv, "-v", "alliance", "-v", "outcome", "--waves", "3")
    assert clpm.exit_code == 0, clpm.stderr
    sem = invoke("fit", "sem", data_csv, "-m", "motivation ~ autonomy + competence")
    assert sem.exit_code == 0, sem.stderr
    bad = invoke("fit", "sem", data_csv, "-m", "motivation ~~~ autonomy")
    assert bad.exit_code == 2 and "motivation ~~~ autonomy" in bad.stderr


def test_report_escapes_a_script_column_end_to_end(data_csv, tmp_path):
    evil = "<script>alert(1)</script>"
    frame = pd.read_csv(data_csv).rename(columns={"client": "ID"})
    frame[evil] = frame["alliance"]
    path = tmp_path / "evil.csv"
    frame.to_csv(path, index=False)
    toml = tmp_path / "evil.toml"
    toml.write_text(f"title = '{evil}'\n[data]\npath = '{path.as_posix()}'\ncolumns = {{ ID = 'client' }}\n"
                    f"[describe]\n[trajectories]\nmeasures = ['{evil}']\n")
    result = invoke("report", toml, "-o", tmp_path / "out")
    assert result.exit_code == 0, result.stderr
    html = (tmp_path / "out" / "index.html").read_text(encoding="utf-8")
    assert "<script" not in html.lower()
    assert html.count("&lt;script&gt;alert(1)&lt;/script&gt;") >= 3  # title, measures table, figure text
    measures = pd.read_csv(tmp_path / "out" / "tables" / "measures.csv")
    assert evil in set(measures["measure"])  # the data files keep the real name


# -- issue 12: bad input is exit 2 with one line, a fit that fails exit 1, never a traceback -----------------------
def one_line_error(result, code: int) -> str:
    """The single `error: ...` line of a command that exited with ``code``."""
    assert result.exit_code == code, (result.exit_code, result.stdout, result.stderr)
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1, result.stderr
    return errors[0]


@pytest.fixture(scope="module")
def bad_files(tmp_path_factory) -> dict[str, Path]:
    import random
    import zipfile

    folder = tmp_path_factory.mktemp("bad")
    rng = random.Random(12)
    files = {"empty.csv": b"", "blank.csv": b"  \n\t\n   \n",
             "random.csv": bytes(rng.randrange(256) for _ in range(3000)),
             "random.parquet": bytes(rng.randrange(256) for _ in range(3000)),
             "latin1.csv": "client,session,alliance,note\nJosé,1,3.0,café\nJosé,2,3.5,crème\n".encode("latin-1")}
    for name, content in files.items():
        (folder / name).write_bytes(content)
    with zipfile.ZipFile(folder / "workbook.csv", "w") as book:  # an .xlsx is a zip of XML parts
        book.writestr("[Content_Types].xml", "<Types/>")
        book.writestr("xl/workbook.xml", "<workbook/>")
    return {p.name: p for p in folder.iterdir()}


@pytest.mark.parametrize("name,needle", [
    ("empty.csv", r"\bempty\b"), ("blank.csv", r"\bempty\b"), ("random.csv", r"UTF-8|binary"),
    ("random.parquet", r"Parquet"), ("latin1.csv", r"UTF-8.*0xe9|0xe9.*UTF-8"),
    ("workbook.csv", r"zip.*xlsx|xlsx.*zip"),
])
@pytest.mark.parametrize("command", [["validate"], ["describe"], ["fit", "mlm", "-f", "alliance ~ 1 + (1 | client)"]])
def test_unreadable_data_files_are_bad_input(bad_files, name, needle, command):
    """Issue 12: these ended in `unexpected EmptyDataError / UnicodeDecodeError / ArrowInvalid`, exit 1."""
    result = invoke(*command[:2 if command[0] == "fit" else 1], bad_files[name], *command[2:])
    line = one_line_error(result, 2)
    assert re.search(needle, line) and "unexpected" not in line and name in line, line


def test_permission_denied_is_bad_input(data_csv, tmp_path, monkeypatch):
    def denied(path, **kwargs):
        raise PermissionError(13, "Permission denied", str(path))

    monkeypatch.setattr(allianceStats, "read_sessions", denied)
    for command in (["validate"], ["describe"], ["fit", "mlm"]):
        extra = ["-f", "alliance ~ 1 + (1 | client)"] if command[0] == "fit" else []
        line = one_line_error(invoke(*command, data_csv, *extra), 2)
        assert line == f"error: cannot access {data_csv}: Permission denied"


@pytest.mark.skipif(not hasattr(__import__("os"), "geteuid") or __import__("os").geteuid() == 0,
                    reason="root reads files whatever their permissions")
def test_unreadable_file_on_disk_is_bad_input(data_csv, tmp_path):
    locked = tmp_path / "locked.csv"
    locked.write_bytes(data_csv.read_bytes())
    locked.chmod(0)
    assert "Permission denied" in one_line_error(invoke("validate", locked), 2)


def _out_cases(tmp_path: Path) -> dict[str, tuple[Path, str]]:
    folder, file = tmp_path / "a_folder", tmp_path / "a_file"
    folder.mkdir(exist_ok=True)
    file.write_text("x")
    return {"folder": (folder, "is a folder; give a file name"),
            "below_file": (file / "x.csv", "is a file, not a folder")}


@pytest.mark.parametrize("case", ["folder", "below_file"])
@pytest.mark.parametrize("command", ["fit_mlm", "simulate", "truth"])
def test_output_file_that_cannot_be_written_is_bad_input_before_any_work(data_csv, tmp_path, monkeypatch, case,
                                                                         command):
    def never(*args, **kwargs):
        raise AssertionError("nothing may be fitted or simulated before the output path is checked")

    monkeypatch.setattr(allianceStats, "fit_mlm", never)
    monkeypatch.setattr("allianceStats.simulate.sdt_cycle", never)
    path, needle = _out_cases(tmp_path)[case]
    args = {"fit_mlm": ["fit", "mlm", data_csv, "-f", "outcome ~ 1 + (1 | client)", "--out", path],
            "simulate": ["simulate", "-o", path, "--therapists", "2"],
            "truth": ["simulate", "-o", tmp_path / "ok.csv", "--truth", path, "--therapists", "2"]}[command]
    line = one_line_error(invoke(*args), 2)
    assert needle in line and ("--truth" if command == "truth" else "--out") in line


@pytest.mark.parametrize("command", ["report", "demo"])
def test_report_folder_that_is_a_file_is_bad_input_before_any_work(data_csv, tmp_path, monkeypatch, command):
    def never(*args, **kwargs):
        raise AssertionError("no analysis may run before the report folder is checked")

    monkeypatch.setattr("allianceStats.analysis.run_analysis", never)
    blocker = tmp_path / "taken"
    blocker.write_text("x")
    toml = tmp_path / "a.toml"
    toml.write_text(f"[data]\npath = '{data_csv.as_posix()}'\n[describe]\n")
    for target, needle in ((blocker, "is an existing file; give a folder"),
                           (blocker / "sub", "is a file, not a folder")):
        args = ["report", toml, "-o", target] if command == "report" else ["demo", "-o", target]
        line = one_line_error(invoke(*args), 2)
        assert needle in line and "report folder" in line


def test_unwritable_output_is_bad_input(data_csv, tmp_path, monkeypatch):
    import os

    real_access = os.access
    monkeypatch.setattr(os, "access", lambda path, mode, **kw: False if "locked" in str(path) else real_access(
        path, mode, **kw))
    locked = tmp_path / "locked"
    locked.mkdir()
    line = one_line_error(invoke("fit", "mlm", data_csv, "-f", "outcome ~ 1 + (1 | client)", "--out",
                                 locked / "p.csv"), 2)
    assert f"permission denied in {locked}" in line
    line = one_line_error(invoke("simulate", "-o", locked / "s.csv"), 2)
    assert "permission denied" in line
    toml = tmp_path / "a.toml"
    toml.write_text(f"[data]\npath = '{data_csv.as_posix()}'\n[describe]\n")
    assert "permission denied" in one_line_error(invoke("report", toml, "-o", locked / "r"), 2)


@pytest.mark.parametrize("args", [
    ["simulate", "-o", "{tmp}/s.csv", "--seed", "-1"],
    ["fit", "mediation", "{data}", "--x", "alliance", "-m", "autonomy", "--y", "motivation", "--seed", "-1"],
])
def test_negative_seed_is_bad_input(data_csv, tmp_path, args):
    args = [a.format(tmp=tmp_path, data=data_csv) for a in args]
    assert "--seed=-1 must be a whole number of at least 0" in one_line_error(invoke(*args), 2)
    assert not (tmp_path / "s.csv").exists()


@pytest.mark.parametrize("waves", ["0", "1", "-3"])
def test_waves_below_two_is_an_error_not_all_waves(data_csv, waves):
    """Issue 12: `--waves 0` silently meant all waves."""
    line = one_line_error(invoke("fit", "riclpm", data_csv, "-v", "alliance", "-v", "outcome", "--waves", waves), 2)
    assert f"--waves={waves} must be a whole number of at least 2" in line


@pytest.mark.parametrize("roles", [["--x", "alliance", "-m", "autonomy", "--y", "alliance"],
                                   ["--x", "alliance", "-m", "alliance", "--y", "motivation"],
                                   ["--x", "alliance", "-m", "autonomy", "-m", "autonomy", "--y", "motivation"]])
def test_mediation_with_one_column_in_two_roles_is_bad_input(data_csv, roles):
    line = one_line_error(invoke("fit", "mediation", data_csv, *roles, "--n-draws", "200"), 2)
    assert "more than once among --x, --mediator and --y" in line


def test_fit_sem_unidentified_exits_1_with_the_reason(data_csv):
    """Issue 12: exit 0 and `converged: True` with NaN standard errors."""
    model = "f =~ alliance + outcome\nf ~~ f\nalliance ~~ outcome"
    line = one_line_error(invoke("fit", "sem", data_csv, "-m", model), 1)
    assert line.startswith("error: could not fit the model: the SEM")
    assert "not identified" in line or "did not converge" in line


def test_fit_riclpm_on_a_short_panel_exits_1_cleanly(tmp_path):
    """Issue 12: 20 clients x 6 waves ended in an einsum traceback (the engine fix is elsewhere)."""
    from allianceStats.simulate import sdt_cycle

    data, _ = sdt_cycle(4, 5, 6, seed=2)
    path = tmp_path / "small.csv"
    data.to_csv(path, index=False)
    result = invoke("fit", "riclpm", path, "-v", "alliance", "-v", "outcome")
    assert result.exit_code in (0, 1), result.stderr
    if result.exit_code == 1:
        assert one_line_error(result, 1).startswith("error: could not fit the model")


def test_out_files_neutralise_spreadsheet_formulas(data_csv, tmp_path):
    out = tmp_path / "params.csv"
    result = invoke("fit", "sem", data_csv, "-m", "sdt =~ autonomy + competence + relatedness", "--out", out)
    assert result.exit_code == 0, result.stderr
    lines = out.read_text(encoding="utf-8").splitlines()
    assert any(line.startswith("sdt,'=~,autonomy,") for line in lines)
    assert not any(",=~," in line or line.startswith("=") for line in lines)
    params = pd.read_csv(out)
    assert pd.api.types.is_float_dtype(params["estimate"])  # numbers are still numbers


REPORT_STEPS = {"ok": "[describe]\n", "failed": "[[mlm]]\nformula = 'outcome ~ nothing_here + (1 | client)'\n",
                "skipped": "[icc]\n"}


@pytest.mark.parametrize("steps,code,strict_code", [(["ok"], 0, 0), (["ok", "skipped"], 3, 1),
                                                    (["ok", "failed"], 1, 1), (["skipped", "failed"], 1, 1)])
def test_report_exit_code_says_whether_sections_failed_or_were_skipped(data_csv, tmp_path, steps, code,
                                                                       strict_code):
    """Issue 12: a report with failed sections printed 'report written' and exited 0."""
    frame = pd.read_csv(data_csv)[["therapist", "client", "session", "empathy"]]  # no default icc measure
    path = tmp_path / "few.csv"
    frame.to_csv(path, index=False)
    toml = tmp_path / "a.toml"
    toml.write_text(f"[data]\npath = '{path.as_posix()}'\n" + "".join(REPORT_STEPS[s] for s in steps))
    result = invoke("report", toml, "-o", tmp_path / "out")
    assert result.exit_code == code, result.stderr
    assert "report written to" in result.stdout and (tmp_path / "out" / "index.html").is_file()
    html = (tmp_path / "out" / "index.html").read_text(encoding="utf-8")
    for status in ("failed", "skipped"):
        listed = f"{status}: " in result.stderr
        assert listed == (status in steps), result.stderr
        assert (f"<strong>{status.capitalize()}:</strong>" in html) == (status in steps)
    if "skipped" in steps:
        assert "skipped: Intraclass correlations: none of its default columns" in result.stderr
    assert invoke("report", toml, "-o", tmp_path / "strict", "--strict").exit_code == strict_code
