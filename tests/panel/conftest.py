"""Fixtures of the panel tests (reference data, lavaan fixture JSON); helpers live in panel_reference.py."""
from __future__ import annotations

import importlib.util
import json
import re
import sys
from pathlib import Path

import pandas as pd
import pytest

# the suite runs with --import-mode=importlib (no test directory on sys.path): load the helper module by
# path and register it, so test modules can write ``from panel_reference import ...``
_spec = importlib.util.spec_from_file_location("panel_reference", Path(__file__).with_name("panel_reference.py"))
panel_reference = importlib.util.module_from_spec(_spec)
sys.modules["panel_reference"] = panel_reference
_spec.loader.exec_module(panel_reference)
FIXTURES, TUTORIAL, parse_lavaan_output = (panel_reference.FIXTURES, panel_reference.TUTORIAL,
                                           panel_reference.parse_lavaan_output)


@pytest.fixture(scope="session")
def tutorial_dir() -> Path:
    if not (TUTORIAL / "lavaan-0.6.14-output.txt").exists():
        pytest.skip(reason=f"tutorial reference data not found at {TUTORIAL.resolve()} (the committed copy "
                           "reference/riclpm-tutorial is missing from this checkout)")
    return TUTORIAL


@pytest.fixture(scope="session")
def tutorial_output(tutorial_dir) -> dict[str, dict]:
    return parse_lavaan_output(tutorial_dir / "lavaan-0.6.14-output.txt")


@pytest.fixture(scope="session")
def tutorial_ext3_delta(tutorial_dir) -> dict[str, float]:
    """Extension 3's published between- vs within-level invariance test, parsed from the README."""
    text = (tutorial_dir / "README.md").read_text(encoding="utf-8")
    m = re.search(r"Δχ²\((\d+)\)\s*=\s*([\d.]+),\s*p\s*=\s*(\d*\.\d+)", text)
    assert m, "the README no longer states extension 3's chi-square difference"
    return {"df": int(m.group(1)), "chisq": float(m.group(2)), "pvalue": float(m.group(3))}


@pytest.fixture(scope="session")
def lavaan_panel() -> dict:
    return json.loads((FIXTURES / "lavaan_panel.json").read_text())


@pytest.fixture(scope="session")
def lavaan_tutorial() -> dict:
    path = FIXTURES / "lavaan_tutorial.json"
    if not path.exists():
        pytest.skip(reason="lavaan_tutorial.json is written by make_fixtures.R only where the tutorial data exist")
    return json.loads(path.read_text())


@pytest.fixture(scope="session")
def panel_long() -> pd.DataFrame:
    return pd.read_csv(FIXTURES / "panel_long.csv")
