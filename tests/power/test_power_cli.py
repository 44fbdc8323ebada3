"""`alliance-stats power study.toml`: runs the study, writes the table and one power curve per target."""
import xml.etree.ElementTree as ET

import pandas as pd
from typer.testing import CliRunner

from allianceStats.cli import app


def test_power_command_writes_table_and_curves(tmp_path):
    study = tmp_path / "slope.toml"
    study.write_text('design = "regression"\nreps = 20\nseed = 3\nworkers = 1\nout_dir = "out"\n'
                     '[grid]\nn_clients = [20, 40]\n[effects]\nslope = 0.5\n')
    result = CliRunner().invoke(app, ["power", str(study), "--no-progress"])
    assert result.exit_code == 0, result.output
    assert "Power study: regression" in result.stdout
    table = pd.read_csv(tmp_path / "out" / "power_table.csv")
    assert sorted(table["n_clients"]) == [20, 40]
    curve = tmp_path / "out" / "power_curve_x_-_y.svg"  # target "x -> y"
    assert ET.fromstring(curve.read_text()).tag.endswith("svg")


def test_power_command_bad_study_is_exit_2(tmp_path):
    study = tmp_path / "bad.toml"
    study.write_text('design = "regression"\nrep = 20\nseed = 3\n[grid]\nn_clients = [20]\n')
    result = CliRunner().invoke(app, ["power", str(study)])
    assert result.exit_code == 2
    assert "unknown key 'rep'" in result.output


STUDY = 'design = "regression"\nreps = 20\nseed = 3\nworkers = 1\nout_dir = "{out}"\n[grid]\nn_clients = [20]\n' \
        '[effects]\nslope = 0.5\n'


def _error_line(result) -> str:
    assert "Traceback" not in result.output
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1, result.stderr
    return errors[0]


def test_power_out_dir_that_is_a_file_is_bad_input(tmp_path):
    """Issue 12: a study whose out_dir is a file ended in `File exists` after the study started."""
    (tmp_path / "taken").write_text("x")
    for out, needle in (("taken", "is an existing file; give a folder"), ("taken/sub", "is a file, not a folder")):
        study = tmp_path / "s.toml"
        study.write_text(STUDY.format(out=out))
        result = CliRunner().invoke(app, ["power", str(study), "--no-progress"])
        assert result.exit_code == 2
        line = _error_line(result)
        assert "the study's out_dir" in line and needle in line


def test_power_scheduler_that_is_not_an_address_is_bad_input(tmp_path):
    study = tmp_path / "s.toml"
    study.write_text(STUDY.format(out="out"))
    result = CliRunner().invoke(app, ["power", str(study), "--no-progress", "--scheduler", "notanaddress"])
    assert result.exit_code == 2
    assert "notanaddress" in _error_line(result)
