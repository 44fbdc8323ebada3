"""lag_sequential: behaviour beyond the reference fixtures — sessions, permutations, time windows, bad input."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from allianceStats.errors import OptionError, SchemaError
from allianceStats.process import lag_sequential
from allianceStats.process.sequential import TABLE_COLUMNS
from allianceStats.results import Result
from allianceStats.simulate.process import simulate_mi_sessions


@pytest.fixture(scope="module")
def sessions():
    return simulate_mi_sessions(n_therapists=4, clients_per_therapist=3, sessions_per_client=2,
                                turns_per_session=30, seed=7)


def test_result_protocol_and_table_columns(sessions):
    ev, _ = sessions
    res = lag_sequential(ev)
    assert isinstance(res, Result) and res.converged and res.conf_level == 0.95
    assert list(res.table.columns) == TABLE_COLUMNS
    assert res.n_obs == len(ev) and res.n_sessions == 24
    assert res.n_transitions == len(ev) - 24  # one fewer pair than events in each session
    assert res.provenance.function == "lag_sequential" and res.provenance.seed is None
    assert "chisq=" in repr(res) and "adjusted residual" in res.summary()
    # reflections raise change talk next: the strongest positive residual in the reflection rows
    m = res.matrix()
    assert m.loc["CR", "CT"] > 3 and m.loc["SR", "CT"] > 3
    # rows sum: transitional probabilities of an observed given add up to 1
    tp = res.matrix("transitional_probability")
    np.testing.assert_allclose(tp.sum(axis=1), 1.0)


def test_row_order_and_input_do_not_matter(sessions):
    ev, _ = sessions
    shuffled = ev.sample(frac=1.0, random_state=1)
    before = shuffled.copy()
    a = lag_sequential(ev).table
    b = lag_sequential(shuffled).table
    pd.testing.assert_frame_equal(a, b)
    pd.testing.assert_frame_equal(shuffled, before)


def test_no_transition_crosses_sessions():
    ev = pd.DataFrame({"client": ["a", "a", "b", "b"], "session": 1, "order": [1, 2, 1, 2],
                       "code": ["X", "Y", "X", "Y"]})
    t = lag_sequential(ev).table.set_index(["given", "target"])["observed"]
    assert t[("X", "Y")] == 2 and t[("Y", "X")] == 0


def test_permutation_test_is_seeded_and_detects_the_effect(sessions):
    ev, _ = sessions
    a = lag_sequential(ev, n_draws=200, seed=3)
    b = lag_sequential(ev, n_draws=200, seed=3)
    pd.testing.assert_frame_equal(a.table, b.table)
    assert a.provenance.seed == 3 and a.p_permutation == pytest.approx(1 / 201)
    t = a.table.set_index(["given", "target"])
    assert t.loc[("CR", "CT"), "p_permutation"] < 0.01
    # an unseeded run records the seed it drew, and repeating with it gives the same p-values
    c = lag_sequential(ev, n_draws=50)
    d = lag_sequential(ev, n_draws=50, seed=c.provenance.seed)
    np.testing.assert_array_equal(c.table["p_permutation"], d.table["p_permutation"])


def test_permutation_null_is_uniform_ish():
    rng = np.random.default_rng(5)
    ev = pd.DataFrame({"client": np.repeat(np.arange(20), 50), "session": 1, "order": np.tile(np.arange(50), 20),
                       "code": rng.choice(list("ABC"), 1000)})
    res = lag_sequential(ev, n_draws=300, seed=1)
    assert 0.05 < res.p_permutation and (res.table["p_permutation"] > 0.01).all()


def test_per_session_summary(sessions):
    ev, _ = sessions
    res = lag_sequential(ev, per_session=True, conf_level=0.9)
    assert len(res.sessions) == 24 * len(res.codes) ** 2
    row = res.session_summary.set_index(["given", "target"]).loc[("CR", "CT")]
    per = res.sessions.set_index(["given", "target"]).loc[("CR", "CT"), "yules_q"].dropna()
    assert row["n_sessions"] == len(per) and row["estimate"] == pytest.approx(per.mean())
    assert row["ci_lower"] < row["estimate"] < row["ci_upper"]
    assert row["statistic"] == pytest.approx(row["estimate"] / row["std_error"])
    half = row["ci_upper"] - row["estimate"]
    assert half == pytest.approx(row["std_error"] * 1.7138715, rel=1e-6)  # t(0.95, 23)
    assert "mean Yule's Q" in res.summary()


def test_structural_zeros_declared_but_observed_is_an_error():
    ev = pd.DataFrame({"client": "a", "session": 1, "order": range(1, 6), "code": list("ABBAB")})
    with pytest.raises(SchemaError, match="B->B \\(1\\)"):
        lag_sequential(ev, structural_zeros="diagonal")
    with pytest.raises(OptionError, match="not in the data"):
        lag_sequential(ev, structural_zeros=[("A", "Z")])
    # the permutation test respects the structural zeros (issue 17: it used to refuse them)
    res = lag_sequential(ev.iloc[[0, 1, 3, 4]], structural_zeros=[("A", "A")], n_draws=10, seed=1)
    assert 0 < res.p_permutation <= 1 and np.isnan(res.table.set_index(["given", "target"]).loc[("A", "A"),
                                                                                                "p_permutation"])


def test_time_based_window_by_hand():
    # one session of 10 s, units of 1 s: A on 0-2, B on 2-4, A on 5-6, B on 8-10
    ev = pd.DataFrame({"client": "a", "session": 1, "order": [1, 2, 3, 4], "code": list("ABAB"),
                       "onset": [0.0, 2.0, 5.0, 8.0], "offset": [2.0, 4.0, 6.0, 10.0]})
    res = lag_sequential(ev, window=2.0)
    t = res.table.set_index(["given", "target"])
    # A's windows: units 2,3 (after 0-2) and 6,7 (after 5-6): 4 units; B is on in units 2,3,8,9 -> 2 in the window
    assert t.loc[("A", "B"), "observed"] == 2
    assert t.loc[("A", "B"), "transitional_probability"] == pytest.approx(0.5)
    assert t.loc[("A", "B"), "expected"] == pytest.approx(4 * 4 / 10)
    # 2 x 2: a=2, b=2, c=2, d=4 -> Q = (8 - 4) / (8 + 4)
    assert t.loc[("A", "B"), "yules_q"] == pytest.approx(1 / 3)
    assert res.mode == "time" and res.n_transitions == 10
    # the table-wide G^2 of the tally table [[0, 2], [1, 0]] (A->A, A->B; B->A, B->B), expected from its margins
    assert res.df == 1 and res.chisq == pytest.approx(2 * (2 * np.log(2 / (4 / 3)) + np.log(1 / (1 / 3))))


def test_bad_input_is_listed():
    ev = pd.DataFrame({"client": "a", "session": 1, "order": [1, 1, 2], "code": ["A", "B", None]})
    with pytest.raises(SchemaError, match="missing code at rows 3"):
        lag_sequential(ev)
    with pytest.raises(SchemaError, match="duplicate order numbers within a session at rows 1, 2"):
        lag_sequential(ev.fillna("A"))
    with pytest.raises(SchemaError, match="unknown code 'C' at rows 3"):
        lag_sequential(ev.fillna("C").assign(order=[1, 2, 3]), codes=["A", "B"])
    with pytest.raises(SchemaError, match="column 'order' not found"):
        lag_sequential(ev.drop(columns="order"))
    with pytest.raises(OptionError, match="lag=0"):
        lag_sequential(ev.fillna("A").assign(order=[1, 2, 3]), lag=0)
    with pytest.raises(OptionError, match="window=-1"):
        lag_sequential(ev.fillna("A").assign(order=[1, 2, 3], onset=0.0, offset=1.0), window=-1)
    with pytest.raises(SchemaError, match="no transitions at lag 5"):
        lag_sequential(ev.fillna("A").assign(order=[1, 2, 3]), lag=5)
