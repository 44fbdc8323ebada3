"""Shared helpers of the process tests: the fixture folder and JSON readers that turn R's NA into NaN."""
from __future__ import annotations

import gzip
import json
from pathlib import Path

import numpy as np
import pytest

FIXTURES = Path(__file__).parent / "fixtures"


def as_float(values) -> np.ndarray:
    """A JSON list (or list of lists) from R as a float array; R's NA (written "NA" or null) becomes NaN."""
    def one(v):
        return np.nan if v is None or v == "NA" else v
    if values and isinstance(values[0], list):
        return np.array([[one(v) for v in row] for row in values], dtype=float)
    return np.array([one(v) for v in values], dtype=float)


@pytest.fixture(scope="session")
def lag_reference():
    return json.loads((FIXTURES / "lag_reference.json").read_text())


@pytest.fixture(scope="session")
def rmea_reference():
    with gzip.open(FIXTURES / "rmea_reference.json.gz", "rt") as fh:
        return json.load(fh)
