"""ML on complete rows needs a positive-definite sample covariance matrix; lavaan stops with "sample covariance
matrix is not positive-definite" (checked with lavaan 0.6.14), fit_sem names the dependent variables."""
import numpy as np
import pandas as pd
import pytest

from allianceStats.errors import IdentificationError
from allianceStats.sem import fit_sem


def _items(seed=1, n=300):
    rng = np.random.default_rng(seed)
    f = rng.normal(size=n)
    return pd.DataFrame({f"x{i}": 0.7 * f + 0.7 * rng.normal(size=n) for i in range(1, 5)})


def test_a_total_next_to_its_items_names_the_dependent_variables():
    data = _items().assign(x5=lambda d: d.x1 + d.x2)
    before = data.copy()
    with pytest.raises(IdentificationError, match=r"not positive definite: 'x1', 'x2', 'x5' are \(nearly\) linearly "
                                                  r"dependent.*lavaan stops here too"):
        fit_sem(data, "F =~ x1 + x2 + x3 + x4 + x5")
    pd.testing.assert_frame_equal(data, before)
    fit_sem(data, "F =~ x1 + x2 + x3 + x4")          # without the total the model fits


def test_the_group_is_named():
    data = pd.concat([_items(1).assign(g="A"), _items(2).assign(g="B")], ignore_index=True)
    data["x5"] = data["x3"] + np.where(data["g"] == "B", 0.0, np.random.default_rng(3).normal(size=len(data)))
    with pytest.raises(IdentificationError, match=r"in group 'B': 'x3', 'x5'"):
        fit_sem(data, "F =~ x1 + x2 + x3 + x4 + x5", group="g")
