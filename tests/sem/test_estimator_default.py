"""fit_sem's estimator default is lavaan's "default": ML for continuous variables, WLSMV with ordered items; an
explicit ML or MLR with ordered items stops, as lavaan 0.6.14 does ("estimator ML for ordered data is not
supported yet")."""
import numpy as np
import pandas as pd
import pytest

from allianceStats.errors import OptionError
from allianceStats.sem import fit_sem

MODEL = "F =~ u1 + u2 + u3 + u4"


@pytest.fixture(scope="module")
def items():
    rng = np.random.default_rng(4)
    f = rng.normal(size=400)
    return pd.DataFrame({f"u{j}": np.digitize(0.7 * f + 0.7 * rng.normal(size=400), [-0.8, 0.2, 1.0]) + 1
                         for j in range(1, 5)})


def test_unset_estimator_is_ml_for_continuous_and_wlsmv_for_ordered(items):
    assert fit_sem(items.astype(float), MODEL).options["estimator"] == "ML"
    assert fit_sem(items, MODEL, ordered=True).options["estimator"] == "WLSMV"
    assert fit_sem(items, MODEL, ordered=True, estimator="ULSMV").options["estimator"] == "ULSMV"


@pytest.mark.parametrize("estimator", ["ML", "MLR"])
def test_ml_with_ordered_items_is_refused_as_in_lavaan(items, estimator):
    with pytest.raises(OptionError, match=rf"estimator='{estimator}' is for continuous variables.*leave estimator "
                                          "unset"):
        fit_sem(items, MODEL, ordered=True, estimator=estimator)
