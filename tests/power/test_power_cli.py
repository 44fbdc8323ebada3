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
    curve = tmp_path / "out" / "power_curve_slope.svg"
    assert ET.fromstring(curve.read_text()).tag.endswith("svg")


def test_power_command_bad_study_is_exit_2(tmp_path):
    study = tmp_path / "bad.toml"
    study.write_text('design = "regression"\nrep = 20\nseed = 3\n[grid]\nn_clients = [20]\n')
    result = CliRunner().invoke(app, ["power", str(study)])
    assert result.exit_code == 2
    assert "unknown key 'rep'" in result.output
