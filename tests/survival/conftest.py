"""Shared fixtures of tests/survival: the R reference values and the data sets they were computed on."""
import json
from pathlib import Path

import pandas as pd
import pytest

FIX = Path(__file__).resolve().parent / "fixtures"


@pytest.fixture(scope="session")
def ref():
    return json.loads((FIX / "survival_reference.json").read_text())


@pytest.fixture(scope="session")
def heart():
    return pd.read_csv(FIX / "heart.csv")


@pytest.fixture(scope="session")
def veteran():
    return pd.read_csv(FIX / "veteran.csv")


@pytest.fixture(scope="session")
def mgus2():
    return pd.read_csv(FIX / "mgus2.csv")


@pytest.fixture(scope="session")
def jasa():
    return pd.read_csv(FIX / "jasa.csv")


@pytest.fixture(scope="session")
def ref38():
    """Reference values from survival 3.8-11 (make_fixtures_survival38.R): survival curves along covariate paths."""
    return json.loads((FIX / "survival38_reference.json").read_text())
