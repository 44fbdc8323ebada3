"""lag_sequential, time-based mode with per_session=True: each session's 2 x 2 time-unit tables and Yule's Q,
summarised across sessions as in event-based mode.

No R package tallies time windows (LagSequential has no time-based mode; GSEQ is a closed Windows program), so the
checks are independent computations: the tallies of every session by a plain loop over its time units (the
definition written out), Yule's Q by its formula on each session's own 2 x 2 table, and the across-session summary
by scipy's one-sample t test on the same Q values.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from allianceStats.errors import OptionError
from allianceStats.process import lag_sequential
from allianceStats.process.sequential import TABLE_COLUMNS, _session_summary

CODES = ["A", "B", "C", "D"]
WINDOW = 2.0


def _sessions(seed=11, n_clients=6, n_sessions=2, n_events=40, absent=None):
    """Non-overlapping events with gaps; after an A the next event is B 0.3 s later with probability 0.6 (a timed
    effect). ``absent=(client, code)`` leaves that code out of that client's first session."""
    rng = np.random.default_rng(seed)
    rows = []
    for cl in range(n_clients):
        for se in range(1, n_sessions + 1):
            t, prev = float(rng.uniform(0, 2)), None
            for i in range(n_events):
                pool = [c for c in CODES if absent is None or (cl, se) != (absent[0], 1) or c != absent[1]]
                c = pool[int(rng.integers(len(pool)))]
                gap = float(rng.exponential(1.5))
                if prev == "A" and rng.random() < 0.6:
                    c, gap = "B", 0.3
                dur = float(rng.uniform(0.5, 4.0))
                rows.append({"client": f"c{cl}", "session": se, "order": i, "code": c, "onset": t + gap,
                             "offset": t + gap + dur})
                t += gap + dur
                prev = c
    return pd.DataFrame(rows)


def _loop_2x2(s: pd.DataFrame, window: float, time_unit: float = 1.0) -> dict:
    """One session by the definition, unit by unit: a (units in i's window with j on), units in i's window, units
    with j on, and the session's units."""
    n = int(np.ceil(s["offset"].max() / time_unit - 1e-9))
    a = {(g, t): 0 for g in CODES for t in CODES}
    n_win, n_on = dict.fromkeys(CODES, 0), dict.fromkeys(CODES, 0)
    for u in range(n):
        start = u * time_unit
        on = {c for c, lo, hi in zip(s["code"], s["onset"], s["offset"]) if lo <= start < hi}
        given = {c for c, hi in zip(s["code"], s["offset"]) if hi <= start < hi + window}
        for g in given:
            n_win[g] += 1
            for t in on:
                a[(g, t)] += 1
        for t in on:
            n_on[t] += 1
    return {"a": a, "n_win": n_win, "n_on": n_on, "n": n}


def _q(a: int, b: int, c: int, d: int) -> float:
    return (a * d - b * c) / (a * d + b * c) if a * d + b * c > 0 else np.nan


@pytest.fixture(scope="module")
def events():
    return _sessions()


@pytest.fixture(scope="module")
def result(events):
    return lag_sequential(events, window=WINDOW, per_session=True, codes=CODES, conf_level=0.9)


def test_per_session_tallies_and_q_equal_a_plain_loop(events, result):
    sessions = result.sessions.set_index(["client", "session", "given", "target"])
    assert list(result.sessions.columns) == ["client", "session", *TABLE_COLUMNS, "chisq", "df"]
    assert len(result.sessions) == events.groupby(["client", "session"]).ngroups * len(CODES) ** 2
    checked_q = 0
    for (cl, se), s in events.groupby(["client", "session"]):
        loop = _loop_2x2(s, WINDOW)
        for g in CODES:
            for t in CODES:
                row = sessions.loc[(cl, se, g, t)]
                a = loop["a"][(g, t)]
                b = loop["n_win"][g] - a
                c = loop["n_on"][t] - a
                d = loop["n"] - a - b - c
                assert row["observed"] == a
                assert row["expected"] == pytest.approx(loop["n_win"][g] * loop["n_on"][t] / loop["n"], rel=1e-12)
                q = _q(a, b, c, d)
                if np.isnan(q):
                    assert np.isnan(row["yules_q"])
                else:
                    assert row["yules_q"] == pytest.approx(q, rel=1e-12, abs=1e-15)
                    checked_q += 1
                if min(a, b, c, d) > 0:
                    se_q = 0.5 * (1 - q**2) * np.sqrt(1 / a + 1 / b + 1 / c + 1 / d)
                    assert row["yules_q_se"] == pytest.approx(se_q, rel=1e-12)
                else:
                    assert np.isnan(row["yules_q_se"])
    assert checked_q > 0.8 * len(result.sessions)


def test_each_session_equals_its_own_time_based_analysis(events, result):
    # a plain loop of lag_sequential over the sessions, one session at a time: the same tables
    for (cl, se), s in events.groupby(["client", "session"]):
        alone = lag_sequential(s, window=WINDOW, codes=CODES)
        mine = result.sessions.loc[(result.sessions["client"] == cl) & (result.sessions["session"] == se)]
        pd.testing.assert_frame_equal(mine[TABLE_COLUMNS].reset_index(drop=True), alone.table, check_exact=False,
                                      rtol=1e-12, atol=1e-14)
        assert mine["chisq"].iloc[0] == pytest.approx(alone.chisq, rel=1e-12)
        assert mine["df"].iloc[0] == alone.df


def test_pooled_tallies_are_the_sum_of_the_sessions(result):
    summed = result.sessions.groupby(["given", "target"])["observed"].sum()
    pooled = result.table.set_index(["given", "target"])["observed"]
    pd.testing.assert_series_equal(summed.loc[pooled.index], pooled, check_names=False)
    assert result.mode == "time" and result.window == WINDOW and result.n_sessions == 12
    # per_session=True leaves the pooled analysis as it was
    plain = lag_sequential(result_events := _sessions(), window=WINDOW, codes=CODES)
    pd.testing.assert_frame_equal(plain.table, result.table)
    assert plain.chisq == result.chisq and plain.sessions is None and len(result_events) == 480


def test_summary_is_the_event_based_summary_of_the_same_q_values(result):
    again = _session_summary(result.sessions, 0.9)
    pd.testing.assert_frame_equal(result.session_summary, again)
    event = lag_sequential(_sessions(), per_session=True, codes=CODES)
    assert list(result.session_summary.columns) == list(event.session_summary.columns)
    # and by scipy: a one-sample t test of the sessions' Q values against 0, with its 90% interval
    row = result.session_summary.set_index(["given", "target"]).loc[("A", "B")]
    q = result.sessions.set_index(["given", "target"]).loc[("A", "B"), "yules_q"].dropna().to_numpy()
    t = stats.ttest_1samp(q, 0.0)
    ci = t.confidence_interval(0.9)
    assert row["n_sessions"] == q.size == 12 and row["estimate"] == pytest.approx(q.mean(), rel=1e-12)
    assert row["sd"] == pytest.approx(q.std(ddof=1), rel=1e-12)
    assert row["statistic"] == pytest.approx(t.statistic, rel=1e-10)
    assert row["p_value"] == pytest.approx(t.pvalue, rel=1e-8)
    assert (row["ci_lower"], row["ci_upper"]) == pytest.approx((ci.low, ci.high), rel=1e-10)
    assert row["estimate"] > 0.5 and row["p_value"] < 0.001  # B follows A within 0.3 s most of the time
    text = result.summary()
    assert "across 12 sessions: mean Yule's Q of each session's 2 x 2 time-unit tables" in text
    assert result.provenance.options["per_session"] is True


def test_undefined_q_leaves_a_session_out_of_the_count():
    ev = _sessions(seed=3, absent=(2, "C"))  # client c2's first session has no C: Q of (C, *) is undefined there
    res = lag_sequential(ev, window=WINDOW, per_session=True, codes=CODES)
    s = res.sessions.set_index(["client", "session", "given", "target"])
    assert s.xs(("c2", 1, "C"), level=("client", "session", "given"))["yules_q"].isna().all()
    assert (s.xs(("c2", 1, "C"), level=("client", "session", "given"))["observed"] == 0).all()
    summary = res.session_summary.set_index(["given", "target"])
    # C neither given nor target there: a = b = 0 (given rows) or a = c = 0 (target columns), so ad + bc = 0
    with_c = (summary.index.get_level_values("given") == "C") | (summary.index.get_level_values("target") == "C")
    assert (summary.loc[with_c, "n_sessions"] == 11).all() and (summary.loc[~with_c, "n_sessions"] == 12).all()


def test_structural_zeros_and_permutations_with_sessions():
    ev = _sessions(seed=5)
    zeros = [("C", "C")]
    plain = lag_sequential(ev, window=0.2, per_session=True, codes=CODES)
    if plain.matrix("observed").loc["C", "C"] > 0:
        pytest.skip(reason="the seeded data tally C within C's window; the structural-zero check needs it empty")
    res = lag_sequential(ev, window=0.2, per_session=True, codes=CODES, structural_zeros=zeros)
    cc = res.sessions.loc[(res.sessions["given"] == "C") & (res.sessions["target"] == "C")]
    assert cc["yules_q"].isna().all() and (cc["expected"] == 0).all()
    summary = res.session_summary.set_index(["given", "target"])
    assert summary.loc[("C", "C"), "n_sessions"] == 0 and np.isnan(summary.loc[("C", "C"), "estimate"])
    perm = lag_sequential(ev, window=WINDOW, per_session=True, codes=CODES, n_draws=19, seed=1)
    assert perm.p_permutation is not None and perm.session_summary is not None
    pd.testing.assert_frame_equal(perm.session_summary,
                                  lag_sequential(ev, window=WINDOW, per_session=True, codes=CODES).session_summary)


def test_lag_still_has_no_meaning_in_time_based_mode(events):
    with pytest.raises(OptionError, match="lag=2 has no meaning with window=") as err:
        lag_sequential(events, window=WINDOW, per_session=True, lag=2)
    assert "seconds after each given event ends" in str(err.value)
    assert lag_sequential(events, window=WINDOW, lag=1).lag == 1


def test_report_section_draws_the_time_based_session_summary():
    # the analysis-file step and the report's sequences section (allianceStats/report/sections.py::_draw_sequences)
    import warnings

    import allianceStats as als
    from allianceStats.analysis import run_step
    from allianceStats.report import draw_step

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        step = run_step(als.load_example(), "sequences", {"events": "example", "window": 5, "per_session": True}, 7)
    assert step.status == "ok", step.error
    res = step.results["result"]
    assert res.mode == "time" and res.session_summary is not None
    section = draw_step(step)
    assert section.status == "ok", section.note
    assert "time units, window of 5 s after each given event (time-based)" in section.paragraphs[0]
    assert "at lag" not in section.paragraphs[0]
    table = section.tables[1]
    assert table.title == "Yule's Q per session (each session's 2 × 2 time-unit tables), summarised across sessions"
    pd.testing.assert_frame_equal(table.data, res.session_summary.reset_index(drop=True))
