"""Review of issue 17's additions: bad input, independent cross-checks, and what the results say about themselves.

Each bad-input test pins one fix (an AllianceStatsError that names what was found, where and the fix, instead of a
raw numpy / pandas exception or a silent result) and checks that the input was not modified.
"""
from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

from allianceStats.errors import AllianceStatsError, OptionError, SchemaError
from allianceStats.process import behaviour_rates, lag_sequential, merge_session_scores
from allianceStats.process.sequential import _example_bq2011
from allianceStats.simulate.process import simulate_behaviour_chain

CODES = ["miti_4", "client_language"]


@pytest.fixture(scope="module")
def chain():
    events, sessions, _ = simulate_behaviour_chain(2, 3, 3, turns_per_session=12, seed=11)
    return events, sessions


@pytest.fixture()
def stream():
    return pd.DataFrame({"client": "a", "session": [1] * 6 + [2] * 6, "order": list(range(1, 7)) * 2,
                         "code": list("ABCABC") + list("ACBACB"),
                         "onset": [0, 3, 6, 9, 12, 15] * 2, "offset": [2, 5, 8, 11, 14, 17] * 2})


def _refused(kind, call, data, *words):
    before = data.copy(deep=True)
    with pytest.raises(kind) as info:
        call()
    text = str(info.value)
    for w in words:
        assert w in text, (w, text)
    pd.testing.assert_frame_equal(data, before)
    return text


# ---- behaviour_rates: bad input --------------------------------------------------------------------------------
def test_rates_refuse_missing_codes_clients_and_sessions(chain):
    events = chain[0].copy()
    events.loc[3, "code"] = np.nan
    events.loc[5, "session"] = np.nan
    events.loc[7, "client"] = None
    text = _refused(SchemaError, lambda: behaviour_rates(events, CODES), events, "3 problems",
                    "without a code (rows 4)", "without a session (rows 6)", "without a client (rows 8)")
    assert "drop or fill" in text


def test_rates_refuse_an_empty_table_and_wrong_arguments(chain):
    events = chain[0]
    _refused(SchemaError, lambda: behaviour_rates(events.iloc[:0], CODES), events, "empty")
    _refused(OptionError, lambda: behaviour_rates(events, 5), events, "codes=5", "miti_4")
    _refused(OptionError, lambda: behaviour_rates(events, CODES, client=None), events, "client=None")


def test_rates_per_minute_refuse_reversed_or_negative_times(chain):
    events = chain[0].copy()
    events.loc[2, "offset"] = events.loc[2, "onset"] - 1.0
    events.loc[9, "onset"] = -1.0
    _refused(SchemaError, lambda: behaviour_rates(events, CODES, per="minute"), events,
             "2 utterance(s) with a negative time or an offset before the onset (rows 3, 10)")


def test_rates_name_the_users_code_column_in_unknown_code_messages(chain):
    events = chain[0].rename(columns={"code": "behaviour"}).copy()
    events.loc[0, "behaviour"] = "XX"
    text = _refused(SchemaError, lambda: behaviour_rates(events, CODES, code="behaviour"), events,
                    "column 'behaviour': unknown code 'XX' (rows 1)")
    assert "column 'code'" not in text


def test_multiindex_columns_are_refused(chain):
    events, sessions = chain
    rates = behaviour_rates(events, CODES)
    wide = rates.set_axis(pd.MultiIndex.from_tuples([(c, "") for c in rates.columns]), axis=1)
    _refused(SchemaError, lambda: merge_session_scores(sessions, wide), sessions, "MultiIndex", "flatten")
    _refused(OptionError, lambda: merge_session_scores(sessions, rates, client="session"), sessions,
             "two different key columns")


# ---- behaviour_rates / merge: numbers against a groupby written here ------------------------------------------
def test_rates_equal_a_groupby_whatever_the_row_order_dtype_and_column_names(chain):
    events = chain[0]
    refl = events["code"].isin(["SR", "CR"])
    ther = events["speaker"].eq("therapist")
    grouped = (events.assign(r=refl, t=ther, ct=events["code"].eq("CT"), c=~ther)
               .groupby(["client", "session"]).agg(r=("r", "sum"), t=("t", "sum"), ct=("ct", "sum"), c=("c", "sum"),
                                                   first=("onset", "min"), last=("offset", "max")))
    expect_refl = (grouped["r"] / grouped["t"]).to_numpy()
    expect_ct = (grouped["ct"] / grouped["c"]).to_numpy()
    expect_refl_min = (grouped["r"] / ((grouped["last"] - grouped["first"]) / 60)).to_numpy()
    shuffled = (events.sample(frac=1.0, random_state=3)
                .assign(code=lambda d: d["code"].astype("category"))
                .rename(columns={"client": "id", "session": "visit", "code": "misc"}))
    rates = behaviour_rates(shuffled, CODES, client="id", session="visit", code="misc")
    np.testing.assert_allclose(rates["reflection_rate"], expect_refl, rtol=1e-12)
    np.testing.assert_allclose(rates["change_talk_rate"], expect_ct, rtol=1e-12)
    per_min = behaviour_rates(shuffled, CODES, client="id", session="visit", code="misc", per="minute")
    np.testing.assert_allclose(per_min["reflection_rate"], expect_refl_min, rtol=1e-12)


def test_merge_equals_a_pandas_merge(chain):
    events, sessions = chain
    rates = behaviour_rates(events, CODES).sample(frac=1.0, random_state=5)
    ours = merge_session_scores(sessions, rates)
    theirs = sessions.merge(rates, on=["client", "session"], how="left")
    pd.testing.assert_frame_equal(ours.reset_index(drop=True), theirs)


# ---- lag_sequential: bad input ------------------------------------------------------------------------------------
def test_lag_sequential_refuses_an_empty_table(stream):
    for window in (None, 2.0):
        _refused(SchemaError, lambda w=window: lag_sequential(stream.iloc[:0], window=w), stream, "empty")


def test_lag_sequential_lists_missing_keys_and_codes_together(stream):
    bad = stream.copy()
    bad.loc[0, "client"] = None
    bad.loc[4, "session"] = np.nan
    bad.loc[7, "code"] = np.nan
    _refused(SchemaError, lambda: lag_sequential(bad), bad, "3 problems", "missing code at rows 8",
             "column 'client': missing client at rows 1", "column 'session': missing session at rows 5")


def test_lag_larger_than_every_session_says_how_long_they_are(stream):
    text = _refused(SchemaError, lambda: lag_sequential(stream, lag=7), stream, "the longest session has 6 event(s)",
                    "use a lag below 6")
    assert "at most 7" not in text
    one = stream.iloc[[0, 6]]
    _refused(SchemaError, lambda: lag_sequential(one), one, "every session has a single event")


def test_wrong_types_of_codes_structural_zeros_and_seed(stream):
    _refused(OptionError, lambda: lag_sequential(stream, codes=5), stream, "codes=5", "list of codes")
    _refused(OptionError, lambda: lag_sequential(stream, structural_zeros=5), stream, "structural_zeros=5",
             "'diagonal'")
    _refused(OptionError, lambda: lag_sequential(stream, seed="1"), stream, "seed='1'")
    _refused(OptionError, lambda: lag_sequential(stream, session=None), stream, "session=None")


def test_time_based_refuses_text_times_tiny_units_and_empty_windows(stream):
    text_times = stream.assign(onset=stream["onset"].astype(str))
    _refused(SchemaError, lambda: lag_sequential(text_times, window=2.0), text_times, "column 'onset'",
             "pandas.to_numeric")
    _refused(OptionError, lambda: lag_sequential(stream, window=2.0, time_unit=1e-9), stream, "time_unit=1e-09",
             "use a larger time_unit")
    _refused(SchemaError, lambda: lag_sequential(stream, window=2.0, time_unit=1e6), stream,
             "no time unit lies in a 2 s window")


def test_n_draws_too_large_for_memory_is_an_option_error(stream):
    _refused(OptionError, lambda: lag_sequential(stream, n_draws=10**12, seed=1), stream, "n_draws=1,000,000,000,000",
             "9,999")


def test_simulator_refuses_an_absurd_design():
    with pytest.raises(OptionError, match="coded events"):
        simulate_behaviour_chain(2, 2, 2, turns_per_session=10**12, seed=1)


def test_no_raw_exception_from_edge_cases(stream):
    same = pd.DataFrame({"session": [1] * 5 + [2] * 2, "order": list(range(5)) + [0, 1],
                         "code": ["A"] * 5 + ["A", "B"]})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for call in (lambda: lag_sequential(stream, n_draws=1, seed=1),
                     lambda: lag_sequential(stream, n_draws=1, seed=1, window=2.0),
                     lambda: lag_sequential(stream, n_draws=1, seed=1, structural_zeros=[("A", "A")]),
                     lambda: lag_sequential(same, client=None, n_draws=5, seed=1, structural_zeros=[("B", "A")]),
                     lambda: lag_sequential(stream, window=1e9, n_draws=3, seed=1)):
            try:
                call()
            except AllianceStatsError:
                pass


# ---- lag_sequential: numbers --------------------------------------------------------------------------------------
def test_degrees_of_freedom_are_never_negative():
    # one session A B A B with no code following itself: 2 free cells, fitted exactly; df 0, not (2-1)(2-1) - 2 = -1
    abab = pd.DataFrame({"session": 1, "order": range(4), "code": list("ABAB")})
    res = lag_sequential(abab, client=None, structural_zeros="diagonal", per_session=True)
    assert res.df == 0 and res.chisq == pytest.approx(0.0, abs=1e-12) and np.isnan(res.p_value)
    assert (res.sessions["df"] >= 0).all()


def test_time_based_g2_of_a_tiny_table_by_hand():
    # R 0-2, CT 3-5, Q 6-8, R 9-10, CT 11-14, Q 15-16; 2 s windows in 1 s units (the docstring example). Units in a
    # window of i with j on, counted here from the definitions with plain loops:
    ev = pd.DataFrame({"session": 1, "order": range(6), "code": ["R", "CT", "Q", "R", "CT", "Q"],
                       "onset": [0, 3, 6, 9, 11, 15], "offset": [2, 5, 8, 10, 14, 16]})
    codes = ["CT", "Q", "R"]
    n_units = 16
    on = {c: set() for c in codes}
    win = {c: set() for c in codes}
    for _, e in ev.iterrows():
        on[e["code"]].update(range(int(e["onset"]), int(e["offset"])))
        win[e["code"]].update(u for u in range(int(e["offset"]), int(e["offset"]) + 2) if u < n_units)
    obs = np.array([[len(win[i] & on[j]) for j in codes] for i in codes], float)
    exp = obs.sum(1)[:, None] * obs.sum(0)[None, :] / obs.sum()
    g2 = 2 * sum(o * np.log(o / e) for o, e in zip(obs.ravel(), exp.ravel()) if o > 0)
    res = lag_sequential(ev, client=None, window=2.0)
    np.testing.assert_array_equal(res.matrix("observed").to_numpy(), obs)
    assert res.chisq == pytest.approx(g2, rel=1e-12) and res.df == 4


def test_permutation_p_reports_its_monte_carlo_error():
    codes = _example_bq2011()["code"]
    merged = codes[codes != codes.shift()].to_frame().assign(session=1)
    merged["order"] = range(len(merged))
    res = lag_sequential(merged, client=None, structural_zeros="diagonal", n_draws=199, seed=1)
    p = res.p_permutation
    assert res.p_permutation_mc_se == pytest.approx(np.sqrt(p * (1 - p) / 199), rel=1e-12)
    assert f"Monte Carlo SE {res.p_permutation_mc_se:.3f}" in res.summary()
    assert lag_sequential(merged, client=None).p_permutation_mc_se is None


# ---- display ------------------------------------------------------------------------------------------------------
def test_each_variant_says_what_it_is(stream):
    codes = _example_bq2011()["code"]
    merged = codes[codes != codes.shift()].to_frame().assign(session=1)
    merged["order"] = range(len(merged))
    variants = {
        "free": lag_sequential(stream, n_draws=19, seed=1),
        "constrained": lag_sequential(merged, client=None, structural_zeros="diagonal", n_draws=19, seed=1),
        "time": lag_sequential(stream, window=2.0, n_draws=19, seed=1),
    }
    said = {"free": "permutation test: p =", "constrained": "constrained permutation test: p =",
            "time": "time-based permutation test: p ="}
    for kind, res in variants.items():
        assert res.permutation == kind
        text = repr(res)
        assert len(text) < 1000 and f"n_obs={res.n_obs}" in text and f"{kind} permutation p=" in text
        assert str(res) == res.summary() and said[kind] in res.summary()
        assert "<table" in res._repr_html_()
    assert "structural zeros kept empty" in variants["constrained"].summary()
    assert "time-based" in repr(variants["time"]) and "approximate" in variants["time"].summary()
