"""The README's ten-line example runs as written (on the example data saved under the README's column names)."""
import os
import re
from pathlib import Path

import pytest

from allianceStats.data.example import load_example

README = Path(__file__).resolve().parents[1] / "README.md"


def test_readme_example_runs(tmp_path, capsys):
    text = README.read_text(encoding="utf-8")
    blocks = re.findall(r"```python\n(.*?)```", text, flags=re.S)
    assert blocks, "README has no python example"
    code = blocks[0]
    assert len(code.strip().splitlines()) <= 12
    d = load_example()
    d.rename(columns={"client": "ID", "therapist": "TherapistID", "session": "Visit", "alliance": "WAI",
                      "outcome": "PDA"})[["ID", "TherapistID", "Visit", "WAI", "PDA"]].to_csv(
        tmp_path / "my_sessions.csv", index=False)
    cwd = os.getcwd()
    os.chdir(tmp_path)
    try:
        exec(compile(code, "README.md", "exec"), {})
    finally:
        os.chdir(cwd)
    out = capsys.readouterr().out
    assert "alliance_within_lag1" in out and "w_outcome" in out


SPEED_UPS = {"n_boot=5000": "n_boot=300", "reps=1000": "reps=3", "[100, 200, 300]": "[100]", "[3, 5]": "[3]"}


def _area_blocks():
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(encoding="utf-8"), flags=re.S)
    return blocks[1:]


@pytest.mark.parametrize("index", range(len(_area_blocks())))
def test_readme_area_examples_run(index):
    """Every other README example runs as written (fewer resamples / replications, same calls)."""
    code = _area_blocks()[index]
    for slow, fast in SPEED_UPS.items():
        code = code.replace(slow, fast)
    exec(compile("import allianceStats as als\n" + code, f"README.md block {index + 2}", "exec"), {})
