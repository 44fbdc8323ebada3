"""Shared fixtures of the mixed-model tests: the committed data sets and the R reference values."""
import json
from pathlib import Path

import pandas as pd
import pytest

FIXTURES = Path(__file__).resolve().parent / "fixtures"


@pytest.fixture(scope="session")
def reference():
    """Values written by fixtures/make_fixtures.R (lme4, lmerTest, nlme; versions inside)."""
    return json.loads((FIXTURES / "reference.json").read_text())


@pytest.fixture(scope="session")
def sleep():
    return pd.read_csv(FIXTURES / "sleepstudy.csv", dtype={"Subject": str})


@pytest.fixture(scope="session")
def three():
    return pd.read_csv(FIXTURES / "three_level.csv", dtype={"client": str, "therapist": str})


@pytest.fixture(scope="session")
def near_singular():
    return pd.read_csv(FIXTURES / "near_singular.csv", dtype={"g": str})


@pytest.fixture(scope="session")
def ar1_data():
    return pd.read_csv(FIXTURES / "ar1.csv", dtype={"client": str})


@pytest.fixture(scope="session")
def boundary_escape():
    return pd.read_csv(FIXTURES / "boundary_escape.csv", dtype={"client": str, "therapist": str})
