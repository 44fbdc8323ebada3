"""fit_discrete_hazard (GLM path): R's functions in the formula, and unreadable formulas as FormulaError."""
import numpy as np
import pandas as pd
import pytest

from allianceStats.errors import FormulaError
from allianceStats.survival import fit_discrete_hazard


@pytest.fixture(scope="module")
def person_period():
    rng = np.random.default_rng(11)
    rows = []
    for c in range(300):
        a = rng.normal()
        for p in range(1, 9):
            e = rng.random() < 1 - np.exp(-np.exp(-2.0 - 0.4 * a + 0.3 * np.log(p)))
            rows.append((c, p, a, int(e)))
            if e:
                break
    return pd.DataFrame(rows, columns=["client", "period", "alliance", "event"])


def test_log_in_formula_equals_a_precomputed_column(person_period):
    with_fn = fit_discrete_hazard(person_period, "event ~ log(period) + alliance")
    column = person_period.assign(lp=np.log(person_period["period"]))
    with_col = fit_discrete_hazard(column, "event ~ lp + alliance")
    a = with_fn.params.set_index("term")
    b = with_col.params.set_index("term").rename(index={"lp": "log(period)"})
    assert list(a.index) == ["(Intercept)", "log(period)", "alliance"]
    np.testing.assert_allclose(a[["estimate", "std_error"]].to_numpy(), b.loc[a.index, ["estimate", "std_error"]]
                               .to_numpy(), rtol=1e-10)
    assert with_fn.loglik == pytest.approx(with_col.loglik, rel=1e-12)


def test_unknown_function_is_a_formula_error_naming_what_works(person_period):
    before = person_period.copy()
    with pytest.raises(FormulaError, match=r"could not be read.*foo.*'log'"):
        fit_discrete_hazard(person_period, "event ~ foo(period) + alliance")
    pd.testing.assert_frame_equal(person_period, before)
