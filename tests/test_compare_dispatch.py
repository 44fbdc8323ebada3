"""allianceStats.compare (comparison.py) dispatches on the model family and refuses mixtures."""
import pytest

import allianceStats as als
from allianceStats.comparison import ComparisonResult, compare


@pytest.fixture(scope="module")
def example():
    return als.load_example()


def test_panel_fits_go_to_compare_panel(example):
    ri = als.fit_riclpm(example, ["alliance", "outcome"], waves=range(1, 5), constraints="lagged")
    clpm = als.fit_clpm(example, ["alliance", "outcome"], waves=range(1, 5), constraints="lagged")
    result = compare(ri, clpm)
    direct = als.compare_panel(ri, clpm)
    assert isinstance(result, ComparisonResult) and isinstance(direct, ComparisonResult)
    assert result.table["chisq_diff"].equals(direct.table["chisq_diff"])
    assert result.table["p_value"].equals(direct.table["p_value"])
    # the SEM fits underneath go to compare_sem: the same chi-square difference, without the chi-bar-square
    sem = compare(ri.sem, clpm.sem)
    assert isinstance(sem, ComparisonResult)
    assert sem.table["chisq_diff"].iloc[1] == pytest.approx(direct.table["chisq_diff"].iloc[1], rel=1e-12)


def test_mixed_fits_go_to_compare_mlm_and_families_do_not_mix(example):
    d = als.decompose(example, "alliance")
    a = als.fit_mlm(d, "outcome ~ 1 + (1 | client)", reml=False)
    b = als.fit_mlm(d, "outcome ~ session0 + (1 | client)", reml=False)
    direct = als.compare_mlm(a, b)
    result = compare(a, b, names=["empty", "time"])
    assert isinstance(result, ComparisonResult) and type(result) is type(direct)
    assert result.table["loglik"].equals(direct.table["loglik"])
    assert result.table["p_value"].equals(direct.table["p_value"])
    assert list(result.table.model) == ["empty", "time"] and result.method == direct.method
    ri = als.fit_riclpm(example, ["alliance", "outcome"], waves=range(1, 4))
    with pytest.raises(als.AllianceStatsError, match="one family"):
        compare(a, ri)
    with pytest.raises(als.AllianceStatsError, match="at least two"):
        compare(a)
