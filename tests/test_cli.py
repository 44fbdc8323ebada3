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
from allianceStats.errors import ConvergenceError, ConvergenceWarning, DataWarning

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
    for title in ("Generalised linear mixed model", "Time to event (Cox model)", "lag-sequential analysis",
                  "Synchrony of two signals over the session", "Measurement invariance", "Power analysis"):
        assert f"{title}" in html, title
    assert "Could not be computed" not in html and "Skipped:" not in html and "Legibility" not in html
    reproduce = tmp_path / "demo" / "reproduce"
    assert (reproduce / "reproduce.R").is_file() and (reproduce / "mlm_alliance_outcome.csv").is_file()
    assert (tmp_path / "demo" / "tables" / "riclpm_apa.tex").is_file()


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


# -- issue 18: conventions (--version, metavars, --format json) and the commands of the new engines ---------------
def bad_input(result) -> str:
    """Standard error of a command that exited 2 (bad input) with one error message (it may list problems)."""
    assert result.exit_code == 2, (result.exit_code, result.stdout, result.stderr)
    assert len([line for line in result.stderr.splitlines() if line.startswith("error: ")]) == 1, result.stderr
    return result.stderr


def _json(result) -> dict:
    import json

    assert result.exit_code == 0, (result.stdout, result.stderr)
    return json.loads(result.stdout)


def test_version_prints_the_installed_version():
    result = invoke("--version")
    expected = f"alliance-stats (allianceStats) {allianceStats.__version__}"
    assert result.exit_code == 0 and result.stdout.strip() == expected


def _all_commands():
    import click
    import typer

    root = typer.main.get_command(app)
    out = []

    def walk(cmd, path):
        if isinstance(cmd, click.Group):
            for name, sub in cmd.commands.items():
                walk(sub, [*path, name])
        out.append(path)

    walk(root, [])
    return out


@pytest.mark.parametrize("path", _all_commands(), ids=lambda p: " ".join(p) or "alliance-stats")
def test_help_uses_conventional_metavars(path):
    """Issue 18 §6: no <bool>, <list[str]>, <str>, {data} in the help; DATA, FILE, NAME=ROLE instead."""
    result = runner.invoke(app, [*path, "--help"], env={"COLUMNS": "160"})
    assert result.exit_code == 0, result.output
    text = result.stdout
    assert not re.search(r"<(bool|str|int|float|path|list\[[^\]]*\])>|\{[a-z_]+\}", text), text
    assert "--help" in text and "Usage:" in text
    if path == ["fit", "mlm"]:
        assert "[OPTIONS] DATA" in text and "NAME=ROLE" in text and "FILE" in text


def test_fit_glmm_text_json_and_out(data_csv, tmp_path):
    out = tmp_path / "glmm.csv"
    args = ["fit", "glmm", data_csv, "-f", "days_use ~ alliance_within + alliance_between + (1 | client)",
            "--family", "poisson", "--decompose", "alliance"]
    text = invoke(*args, "--out", out)
    assert text.exit_code == 0, text.stderr
    assert "poisson" in text.stdout and "alliance_within" in text.stdout
    assert pd.read_csv(out)["term"].tolist() == ["(Intercept)", "alliance_within", "alliance_between"]
    doc = _json(invoke(*args, "--format", "json"))
    assert doc["command"] == "fit glmm" and doc["result"] == "GLMMResult" and doc["converged"] is True
    params = pd.DataFrame(doc["tables"]["params"])
    assert params["estimate"].to_numpy() == pytest.approx(pd.read_csv(out)["estimate"].to_numpy(), rel=1e-12)
    assert doc["values"]["family"] == "poisson" and doc["provenance"]["function"] == "fit_glmm"
    assert {"group", "vcov", "sdcor"} <= set(doc["tables"]["varcomp"][0])
    bad = one_line_error(invoke(*args[:-4], "--family", "gaussian"), 2)
    assert "gaussian" in bad
    assert "--n-agq=0" in one_line_error(invoke(*args, "--n-agq", "0"), 2)


def test_intervals_from_dropout_then_fit_cox(data_csv, tmp_path):
    iv = tmp_path / "intervals.csv"
    result = invoke("intervals", data_csv, "--out", iv)
    assert result.exit_code == 0, result.stderr
    table = pd.read_csv(iv)
    assert {"client", "start", "stop", "event", "alliance", "alliance_lag1", "alliance_cummean"} <= set(table.columns)
    frame = pd.read_csv(data_csv)
    assert table["event"].sum() == frame["dropout"].sum()  # one dropout per dropped-out client
    assert (table["stop"] > table["start"]).all()
    csv = invoke("intervals", data_csv, "--format", "csv")
    assert csv.exit_code == 0 and pd.read_csv(__import__("io").StringIO(csv.stdout)).shape == table.shape
    fit = _json(invoke("fit", "cox", iv, "-f", "Surv(start, stop, event) ~ alliance", "--client", "client",
                       "--format", "json"))
    assert fit["result"] == "CoxResult" and fit["values"]["robust"] is True
    assert fit["tables"]["params"][0]["term"] == "alliance"
    naive = invoke("fit", "cox", iv, "-f", "Surv(start, stop, event) ~ alliance")
    assert naive.exit_code == 0 and "give --client client for robust SEs" in naive.stderr
    assert "left out (as coxph's default na.omit)" in naive.stderr or table["alliance"].notna().all()
    assert "nope" in bad_input(invoke("fit", "cox", iv, "-f", "Surv(start, stop, event) ~ nope"))


def test_intervals_with_an_events_file(data_csv, tmp_path):
    frame = pd.read_csv(data_csv)
    last = frame.groupby("client")["session"].max()
    events = pd.DataFrame({"client": last.index, "time": last.to_numpy() + 0.5,
                           "event": ["relapse" if i % 3 == 0 else "completed" for i in range(len(last))]})
    path = tmp_path / "events.csv"
    events.to_csv(path, index=False)
    doc = _json(invoke("intervals", data_csv, path, "--censored", "completed", "--covariate", "alliance",
                       "--covariate", "needs", "--keep", "therapist", "--format", "json"))
    table = pd.DataFrame(doc["tables"]["table"])
    assert {"needs_lag1", "therapist"} <= set(table.columns)
    assert set(table["event"]) == {0, "relapse"} or set(table["event"].astype(str)) == {"0", "relapse"}
    missing = one_line_error(invoke("intervals", data_csv, tmp_path / "absent.csv"), 2)
    assert "absent.csv" in missing and "not found" in missing


@pytest.fixture(scope="module")
def process_files(tmp_path_factory) -> dict[str, Path]:
    from allianceStats.simulate.process import simulate_dyad_signals, simulate_mi_sessions

    folder = tmp_path_factory.mktemp("process")
    raw, _ = simulate_mi_sessions(2, 3, 2, 30, seed=4)
    raw.to_csv(folder / "events.csv", index=False)
    signals, _ = simulate_dyad_signals(n_dyads=3, minutes=2, sampling_rate=10, coupling=0.5, lag_seconds=1, ar=0.8,
                                       seed=5)
    signals.rename(columns={"dyad": "client"}).assign(session=1).to_csv(folder / "signals.csv", index=False)
    return {"events": folder / "events.csv", "signals": folder / "signals.csv"}


def test_sequences_lag_table(process_files, tmp_path):
    out = tmp_path / "lag.csv"
    result = invoke("sequences", process_files["events"], "--codes", "miti_4", "--codes", "client_language",
                    "--out", out)
    assert result.exit_code == 0, result.stderr
    assert result.stdout.startswith("Lag-sequential analysis")
    table = pd.read_csv(out)
    assert {"given", "target", "observed", "expected", "adjusted_residual", "yules_q"} <= set(table.columns)
    doc = _json(invoke("sequences", process_files["events"], "--per-session", "--n-draws", "20", "--seed", "2",
                       "--format", "json"))
    assert doc["values"]["p_permutation"] is not None and "session_summary" in doc["tables"]
    assert "not in code set 'misc_2.5'" in bad_input(invoke("sequences", process_files["events"], "--codes",
                                                            "misc_2.5"))


def test_sequences_per_session_with_a_time_window(process_files):
    # --per-session with --window: each session's 2 x 2 time-unit tables, Yule's Q summarised across sessions
    doc = _json(invoke("sequences", process_files["events"], "--per-session", "--window", "3", "--format", "json"))
    summary = pd.DataFrame(doc["tables"]["session_summary"])
    assert {"given", "target", "n_sessions", "estimate", "sd", "statistic", "p_value", "ci_lower",
            "ci_upper"} <= set(summary.columns)
    assert summary["n_sessions"].max() == doc["values"]["n_sessions"] == 12
    text = invoke("sequences", process_files["events"], "--per-session", "--window", "3")
    assert text.exit_code == 0, text.stderr
    assert "time-based" in text.stdout and "mean Yule's Q of each session's 2 x 2 time-unit tables" in text.stdout
    assert "lag=2 has no meaning with window=" in bad_input(invoke("sequences", process_files["events"], "--window",
                                                                   "3", "--lag", "2"))

def test_synchrony_by_session(process_files, tmp_path):
    args = ["synchrony", process_files["signals"], "--x", "client_signal", "--y", "therapist_signal",
            "--sampling-rate", "10", "--lag-seconds", "2", "--window-seconds", "20", "--step-seconds", "10"]
    result = invoke(*args, "--out", tmp_path / "sync.csv")
    assert result.exit_code == 0, result.stderr
    table = pd.read_csv(tmp_path / "sync.csv")
    assert len(table) == 3 and (table["synchrony"] > 0).all()
    signed = pd.read_csv(__import__("io").StringIO(invoke(*args, "--no-absolute", "--format", "csv").stdout))
    assert signed["synchrony"].tolist() != table["synchrony"].tolist()
    assert "nope" in bad_input(invoke(*args[:2], "--x", "nope", *args[4:]))


def test_invariance_across_sessions(data_csv, tmp_path):
    model = tmp_path / "bond.lav"
    model.write_text("bond =~ wai_3 + wai_5 + wai_7 + wai_9\n")
    doc = _json(invoke("invariance", data_csv, "-m", model, "--waves", "1-3", "--format", "json"))
    steps = pd.DataFrame(doc["tables"]["table"])
    assert steps["step"].tolist() == ["configural", "metric", "scalar", "strict"]
    assert "bond_1 =~" in doc["lavaan"]["metric"]
    by_group = invoke("invariance", data_csv, "-m", "bond =~ wai_3 + wai_5 + wai_7 + wai_9", "--group", "therapist",
                      "--step", "configural", "--step", "metric")
    assert by_group.exit_code in (0, 1), by_group.stderr  # 6 therapists with 6 clients each: may not converge
    both = one_line_error(invoke("invariance", data_csv, "-m", model), 2)
    assert "--group" in both and "--waves" in both


MIXED_MISSING = Path(__file__).resolve().parent / "sem" / "fixtures" / "ordinal" / "mixed_missing.csv"


def test_fit_sem_and_invariance_with_ordered_items_next_to_continuous_ones_pairwise(tmp_path):
    """--ordered NAME for some items, --missing pairwise: the CLI gives what fit_sem gives (lavaan's statistics)."""
    model = "F1 =~ y1 + u1 + u2 + y2"
    doc = _json(invoke("fit", "sem", MIXED_MISSING, "-m", model, "--ordered", "u1", "--ordered", "u2", "--missing",
                       "pairwise", "--format", "json"))
    direct = allianceStats.fit_sem(pd.read_csv(MIXED_MISSING), model, ordered=["u1", "u2"], missing="pairwise")
    params = pd.DataFrame(doc["tables"]["params"])
    assert params["estimate"].to_numpy() == pytest.approx(direct.params["estimate"].to_numpy(), rel=1e-9)
    assert 'missing = "pairwise"' in doc["r_call"]
    parquet = tmp_path / "items.parquet"
    pd.read_csv(MIXED_MISSING).to_parquet(parquet)
    from_parquet = _json(invoke("fit", "sem", parquet, "-m", model, "--ordered", "u1", "--ordered", "u2",
                                "--missing", "pairwise", "--format", "json"))
    assert pd.DataFrame(from_parquet["tables"]["params"])["estimate"].tolist() == params["estimate"].tolist()
    steps = _json(invoke("invariance", MIXED_MISSING, "-m", "F =~ u1 + u2 + u3 + u4", "--group", "g", "--ordered",
                         "--missing", "pairwise", "--step", "configural", "--step", "thresholds", "--format", "json"))
    table = pd.DataFrame(steps["tables"]["table"])
    assert table["step"].tolist() == ["configural", "thresholds"] and table["chisq_scaled"].notna().all()
    assert "pairwise" in bad_input(invoke("invariance", MIXED_MISSING, "-m", model, "--group", "g", "--missing",
                                          "pairwise"))


def test_invariance_with_ordered_items_next_to_continuous_ones():
    """--ordered-item NAME (repeatable) for a mix: the CLI gives what measurement_invariance gives; with --ordered too,
    or naming a variable outside the model, it is bad input."""
    data = Path(__file__).resolve().parent / "sem" / "fixtures" / "ordinal" / "mixed_invariance.csv"
    model = "F1 =~ y1 + u1 + u2 + y2\nF2 =~ u3 + u4 + y3 + u5"
    items = ["u1", "u2", "u3", "u4", "u5"]
    args = ["invariance", data, "-m", model, "--group", "g", "--step", "configural", "--step", "scalar"]
    doc = _json(invoke(*args, *[a for u in items for a in ("--ordered-item", u)], "--format", "json"))
    direct = allianceStats.measurement_invariance(pd.read_csv(data), model, group="g", ordered=items,
                                                  steps=("configural", "scalar"))
    table = pd.DataFrame(doc["tables"]["table"])
    assert table["chisq_scaled"].to_numpy() == pytest.approx(direct.table["chisq_scaled"].to_numpy(), rel=1e-9)
    assert "y1 ~ c(NA, NA)*1 + c(nu.1, nu.1)*1" in doc["lavaan"]["scalar"] and "y1 |" not in doc["lavaan"]["scalar"]
    both = one_line_error(invoke(*args, "--ordered", "--ordered-item", "u1"), 2)
    assert "--ordered" in both and "--ordered-item" in both and "not both" in both
    assert "not among the model's items" in bad_input(invoke(*args, "--ordered-item", "u9"))


def test_fit_sem_estimator_missing_and_se(data_csv):
    base = ["fit", "sem", data_csv, "-m", "motivation ~ autonomy + competence", "--format", "json"]
    doc = _json(invoke(*base, "--estimator", "MLR", "--missing", "listwise"))
    options = doc["provenance"]["options"]
    assert options["estimator"] == "MLR" and options["missing"] == "listwise"
    assert 'estimator = "MLR"' in doc["r_call"]
    robust = _json(invoke(*base, "--se", "robust"))
    plain = _json(invoke(*base))
    se = [pd.DataFrame(d["tables"]["params"]).query("op == '~'")["std_error"].to_numpy() for d in (robust, plain)]
    assert not (se[0] == pytest.approx(se[1], rel=1e-6))
    assert "OLS" in bad_input(invoke(*base, "--estimator", "OLS"))


def test_fit_mediation_says_its_unit_and_defaults_to_rows(data_csv):
    base = ["fit", "mediation", data_csv, "--x", "alliance", "-m", "autonomy", "--y", "motivation", "--n-draws", "100",
            "--format", "json"]
    rows = invoke(*base)
    assert "unit of analysis: rows" in rows.stderr and "--unit client uses client means" in rows.stderr
    doc = _json(rows)
    assert doc["unit"] == "rows" and doc["n_obs"] == len(pd.read_csv(data_csv).dropna(
        subset=["alliance", "autonomy", "motivation"]))
    means = _json(invoke(*base, "--unit", "client"))
    assert means["unit"] == "client" and means["n_obs"] == pd.read_csv(data_csv)["client"].nunique()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DataWarning)  # rows with a missing value are dropped, as by the CLI
        python = allianceStats.fit_mediation(pd.read_csv(data_csv), "alliance", "autonomy", "motivation",
                                             n_draws=100, seed=1)
    total = pd.DataFrame(doc["tables"]["effects"]).set_index("effect").loc["total", "estimate"]
    assert total == pytest.approx(python.effects.set_index("effect").loc["total", "estimate"], rel=1e-12)


@pytest.mark.parametrize("waves,expected", [("4", [1, 2, 3, 4]), ("1,2,4", [1, 2, 4]), ("2-5", [2, 3, 4, 5])])
def test_riclpm_waves_take_a_count_a_list_or_a_range(data_csv, waves, expected):
    doc = _json(invoke("fit", "clpm", data_csv, "-v", "alliance", "-v", "outcome", "--waves", waves, "--format",
                       "json"))
    paths = pd.DataFrame(doc["tables"]["autoregressive"])
    assert sorted(set(paths["wave_to"]) | set(paths["wave_from"])) == expected


@pytest.mark.parametrize("waves", ["1,x", "3-3", "1,1,2", "a"])
def test_riclpm_bad_wave_lists_are_bad_input(data_csv, waves):
    line = one_line_error(invoke("fit", "riclpm", data_csv, "-v", "alliance", "-v", "outcome", "--waves", waves), 2)
    assert "--waves" in line


@pytest.mark.parametrize("command", [["fit", "mlm", "-f", "outcome ~ 1 + (1 | client)"],
                                     ["fit", "glmm", "-f", "days_use ~ 1 + (1 | client)", "--family", "poisson"]])
def test_unknown_format_is_bad_input(data_csv, command):
    line = one_line_error(invoke(*command[:2], data_csv, *command[2:], "--format", "yaml"), 2)
    assert "--format='yaml' is not supported" in line


def test_init_writes_an_analysis_file_for_the_columns_present(data_csv, tmp_path):
    import tomllib

    from allianceStats.analysis import load_analysis

    full = tmp_path / "full.toml"
    result = invoke("init", data_csv, "-o", full)
    assert result.exit_code == 0, result.stderr
    spec = load_analysis(full)
    assert {"mlm", "glmm", "riclpm", "mediation", "cycle", "hypotheses", "dynamics", "cox", "invariance"} <= set(
        spec.steps)
    assert (tmp_path / Path(spec.data_path)).resolve() == data_csv.resolve() or Path(spec.data_path).is_absolute()
    # data with only alliance and outcome (issue 18 §5): the other sections are left out, each with the reason
    few = pd.read_csv(data_csv)[["therapist", "client", "session", "alliance", "outcome"]].rename(
        columns={"client": "ID"})
    path = tmp_path / "few.csv"
    few.to_csv(path, index=False)
    small = tmp_path / "small.toml"
    assert invoke("init", path, "-o", small, "--client", "ID").exit_code == 0
    text = small.read_text(encoding="utf-8")
    spec = load_analysis(small)
    assert spec.steps == ["describe", "icc", "trajectories", "mlm", "riclpm", "hypotheses", "dynamics"]
    assert tomllib.loads(text)["data"]["columns"] == {"ID": "client"}
    assert "# [[glmm]] left out: it needs the column(s) days_use" in text
    assert "# [[mediation]] left out: it needs the column(s) autonomy, competence, relatedness, motivation" in text
    assert "# [[cox]] left out: it needs the column(s) dropout" in text
    again = one_line_error(invoke("init", path, "-o", small), 2)
    assert "exists" in again and "--force" in again
    report = invoke("report", small, "-o", tmp_path / "report")
    assert report.exit_code == 0, report.stderr  # every section the file lists can be computed
