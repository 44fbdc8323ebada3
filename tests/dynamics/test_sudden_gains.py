"""Sudden gains / losses: critical values, hand-built series, edge cases."""
import numpy as np
import pandas as pd
import pytest
from scipy import stats

from allianceStats.dynamics import detect_sudden_gains
from allianceStats.dynamics.sudden import critical_t
from allianceStats.errors import AllianceStatsError


def test_critical_values_match_the_published_ones():
    # The one place published numbers are the reference (Tang & DeRubeis 1999; Lutz et al. 2013), to 3 decimals.
    assert round(critical_t(3, 3, 0.05), 3) == 2.776
    assert round(critical_t(3, 3, 0.01), 3) == 4.604
    assert round(critical_t(2, 2, 0.01), 3) == 9.925
    assert critical_t(3, 2, 0.05) == stats.t.ppf(0.975, 3)


def _df(sessions, scores, client="a"):
    return pd.DataFrame({"client": client, "session": sessions, "bdi": scores})


BDI = [30.0, 29, 31, 30, 15, 14, 16, 15]


def test_textbook_gain_and_its_criteria():
    res = detect_sudden_gains(_df(range(1, 9), BDI), "bdi", better="lower", min_change=7)
    assert res.events["pre_session"].tolist() == [4]
    row = res.events.iloc[0]
    pre, post = np.array([29.0, 31, 30]), np.array([15.0, 14, 16])
    sp = np.sqrt((2 * pre.var(ddof=1) + 2 * post.var(ddof=1)) / 4)
    assert row["pooled_sd"] == pytest.approx(sp, rel=1e-14)
    assert row["t_critical"] == pytest.approx(stats.t.ppf(0.975, 4), rel=1e-14)
    assert row["change"] == -15 and row["relative_change"] == -0.5
    # other intervals fail at least one criterion
    others = res.candidates[res.candidates["pre_session"] != 4]
    assert not others["sudden"].any()


def test_relative_criterion_equality_counts_and_absolute_criterion():
    scores = [20.0, 20, 20, 15, 15, 15]  # 5 points = exactly 25% of 20
    res = detect_sudden_gains(_df(range(1, 7), scores), "bdi", better="lower", min_change=5)
    assert res.events["pre_session"].tolist() == [3]
    res6 = detect_sudden_gains(_df(range(1, 7), scores), "bdi", better="lower", min_change=6)
    assert res6.events.empty and not res6.candidates["crit1"].any()


def test_missing_neighbour_lutz_adjustment():
    # session 7 missing: 3 pre, 2 post -> df 3
    sessions = [1, 2, 3, 4, 5, 6, 8]
    scores = [30.0, 29, 31, 30, 15, 14, 15]
    res = detect_sudden_gains(_df(sessions, scores), "bdi", better="lower", min_change=7)
    row = res.events.iloc[0]
    assert (row["n_pre"], row["n_post"]) == (3, 2)
    assert row["t_critical"] == pytest.approx(stats.t.ppf(0.975, 3), rel=1e-14)
    strict = detect_sudden_gains(_df(sessions, scores), "bdi", better="lower", min_change=7, adjust=False)
    assert strict.events.empty


def test_no_gain_across_a_missed_session():
    sessions = [1, 2, 3, 4, 6, 7, 8, 9]
    res = detect_sudden_gains(_df(sessions, BDI), "bdi", better="lower", min_change=7)
    assert res.events.empty
    assert 4 not in res.candidates["pre_session"].tolist()


def test_losses_and_direction_symmetry():
    worse = [15.0, 14, 16, 15, 30, 29, 31, 30]
    loss = detect_sudden_gains(_df(range(1, 9), worse), "bdi", better="lower", min_change=7, direction="loss")
    assert loss.events["pre_session"].tolist() == [4]
    assert detect_sudden_gains(_df(range(1, 9), worse), "bdi", better="lower", min_change=7).events.empty
    # negating the scale and flipping `better` gives the same events
    flipped = detect_sudden_gains(_df(range(1, 9), [-v for v in worse]), "bdi", better="higher", min_change=7,
                           direction="loss")
    assert flipped.events["pre_session"].tolist() == [4]


def test_bad_arguments():
    df = _df(range(1, 9), BDI)
    with pytest.raises(AllianceStatsError, match="better"):
        detect_sudden_gains(df, "bdi", better="up", min_change=7)
    with pytest.raises(AllianceStatsError, match="alpha"):
        detect_sudden_gains(df, "bdi", better="lower", min_change=7, alpha=1.5)
    with pytest.raises(AllianceStatsError, match="min_change"):
        detect_sudden_gains(df, "bdi", better="lower", min_change=-1)
