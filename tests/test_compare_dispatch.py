"""allianceStats.compare dispatches on the model family and refuses mixtures."""
import pytest

import allianceStats as als
from allianceStats.compare import compare


@pytest.fixture(scope="module")
def example():
    return als.load_example()


def test_panel_fits_go_to_compare_panel(example):
    ri = als.fit_riclpm(example, ["alliance", "outcome"], waves=range(1, 5), constraints="lagged")
    clpm = als.fit_clpm(example, ["alliance", "outcome"], waves=range(1, 5), constraints="lagged")
    table = compare(ri, clpm)
    direct = als.compare_panel(ri, clpm)
    assert table.equals(direct)


def test_mixed_fits_go_to_compare_mlm_and_families_do_not_mix(example):
    d = als.decompose(example, "alliance")
    a = als.fit_mlm("outcome ~ 1 + (1 | client)", d, reml=False)
    b = als.fit_mlm("outcome ~ session0 + (1 | client)", d, reml=False)
    assert compare(a, b).equals(als.compare_mlm(a, b))
    ri = als.fit_riclpm(example, ["alliance", "outcome"], waves=range(1, 4))
    with pytest.raises(als.AllianceStatsError, match="one family"):
        compare(a, ri)
    with pytest.raises(als.AllianceStatsError, match="at least two"):
        compare(a)
