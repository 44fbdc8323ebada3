"""CSV files the package writes: spreadsheet formulas neutralised, numbers kept numbers, permissions by umask."""
import os

import numpy as np
import pandas as pd
import pytest

from allianceStats.data.output import neutralise_formulas, write_csv

PAYLOADS = ["=HYPERLINK(\"http://x\")", "+SUM(A1)", "-2+3+cmd|' /C calc'!A0", "@SUM(1)", "\tTAB", "\rCR"]


def test_text_cells_and_names_that_start_a_formula_get_a_quote_and_numbers_stay_numbers():
    table = pd.DataFrame({"target": PAYLOADS, "estimate": np.linspace(-1, 1, len(PAYLOADS)),
                          "=name": ["-0.5", "+1", "1e3", "a", "-", "x"]})
    before = table.copy()
    out = neutralise_formulas(table)
    pd.testing.assert_frame_equal(table, before)  # the input is not modified
    assert all(v.startswith("'") for v in out["target"])
    assert out["estimate"].tolist() == table["estimate"].tolist() and out["estimate"].dtype == np.float64
    assert out["'=name"].tolist() == ["-0.5", "+1", "1e3", "a", "'-", "x"]  # text that reads as a number stays


def test_write_csv_writes_neutralised_cells_atomically(tmp_path):
    path = write_csv(pd.DataFrame({"target": ["=1+1"], "bias": [-0.25]}), tmp_path / "t.csv")
    assert path.read_text() == "target,bias\n'=1+1,-0.25\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["t.csv"]  # no temporary file left
    back = pd.read_csv(path)
    assert back["bias"].iloc[0] == -0.25


@pytest.mark.parametrize("umask", [0o022, 0o077, 0o002])
def test_written_files_follow_the_umask(tmp_path, umask):
    old = os.umask(umask)
    try:
        new = write_csv(pd.DataFrame({"a": [1]}), tmp_path / "new.csv")
        from allianceStats.data.example import write_example

        example = write_example(tmp_path / "example.csv")
    finally:
        os.umask(old)
    for path in (new, example):
        assert path.stat().st_mode & 0o777 == 0o666 & ~umask, path
