"""Hand-built alliance series with known ruptures and repairs, one per edge case, plus input errors."""
import numpy as np
import pandas as pd
import pytest

from allianceStats.dynamics import detect_ruptures
from allianceStats.errors import AllianceStatsError, SchemaError


def _long(series: dict[str, tuple[list, list]]) -> pd.DataFrame:
    rows = [(c, s, x) for c, (sessions, scores) in series.items() for s, x in zip(sessions, scores)]
    return pd.DataFrame(rows, columns=["client", "session", "alliance"])


# [5, 6, 6, 1, 6, 6]: mean 5, SD exactly 2, the dip of 4 is exactly 2 SD (exact in binary floating point)
EXACT = ([1, 2, 3, 4, 5, 6], [5.0, 6.0, 6.0, 1.0, 6.0, 6.0])
TWO_SESSIONS = ([1, 2], [5.0, 1.0])
NEVER_REPAIRED = (list(range(1, 14)), [4.0] * 8 + [0.5, 3.0, 3.0, 3.0, 3.0])
# session 6 is the dip; sessions 7 and 8 were missed, the return comes at session 9
GAP = ([1, 2, 3, 4, 5, 6, 9, 10, 11, 12], [4.0, 4, 4, 4, 4, 1, 4, 4, 4, 4])


def test_drop_exactly_at_threshold_counts():
    res = detect_ruptures(_long({"edge": EXACT}))
    ev = res.events
    assert len(ev) == 1
    row = ev.iloc[0]
    assert row["rupture_session"] == 4
    assert row["reference"] == 5.0 and row["sd"] == 2.0 and row["threshold"] == 1.0
    assert row["depth"] == 4.0 and row["depth_sd"] == 2.0
    assert row["repaired"] and row["repair_session"] == 5


def test_drop_just_short_of_threshold_is_not_a_rupture():
    res = detect_ruptures(_long({"edge": EXACT}), k=2.001)
    assert res.events.empty
    assert res.clients.loc[0, "n_ruptures"] == 0


def test_strauss_k1_and_method_names():
    df = _long({"edge": EXACT})
    assert detect_ruptures(df, method="strauss2006").k == 1.0
    assert detect_ruptures(df, method="stiles2004").k == 2.0
    assert detect_ruptures(df, method="stiles2004", k=1.5).k == 1.5


def test_client_with_two_sessions_is_not_screened():
    df = _long({"two": TWO_SESSIONS, "edge": EXACT})
    res = detect_ruptures(df)
    two = res.clients.set_index("client").loc["two"]
    assert not two["screened"] and two["reason"] == "fewer than 3 scores"
    assert np.isnan(two["n_ruptures"])
    assert (res.events["client"] != "two").all()
    # with the pooled SD the two-session client is still not screened but its scores enter the pooled SD
    res_p = detect_ruptures(df, sd="pooled")
    ss = np.sum((np.array(TWO_SESSIONS[1]) - 3.0) ** 2) + np.sum((np.array(EXACT[1]) - 5.0) ** 2)
    expected = np.sqrt(ss / (1 + 5))
    assert res_p.clients["sd"].tolist() == pytest.approx([expected, expected], rel=1e-14)
    assert not res_p.clients.set_index("client").loc["two", "screened"]


def test_rupture_never_repaired():
    res = detect_ruptures(_long({"never": NEVER_REPAIRED}))
    ev = res.events
    assert ev["rupture_session"].tolist() == [9]
    x = np.array(NEVER_REPAIRED[1])
    assert ev["depth"].iloc[0] == pytest.approx(x.mean() - 0.5, rel=1e-14)
    assert not ev["repaired"].iloc[0] and np.isnan(ev["repair_session"].iloc[0])
    assert ev["window_observed"].iloc[0]  # seen through sessions 10-12, still below the mean
    # the same dip at the end of treatment: window not observed
    short = (NEVER_REPAIRED[0][:10], NEVER_REPAIRED[1][:10])
    ev2 = detect_ruptures(_long({"short": short})).events
    assert ev2["rupture_session"].tolist() == [9]
    assert not ev2["repaired"].iloc[0] and not ev2["window_observed"].iloc[0]


def test_gap_window_counts_session_numbers_not_rows():
    df = _long({"gap": GAP})
    ev2 = detect_ruptures(df, repair_window=2).events
    ev3 = detect_ruptures(df, repair_window=3).events
    assert ev2["rupture_session"].tolist() == [6] == ev3["rupture_session"].tolist()
    assert not ev2["repaired"].iloc[0]  # next row, but 3 session numbers later
    assert ev3["repaired"].iloc[0] and ev3["repair_session"].iloc[0] == 9
    # a missing score is a missed session: same answer as an absent row
    full = _long({"gap": ([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12],
                          [4.0, 4, 4, 4, 4, 1, np.nan, np.nan, 4, 4, 4, 4])})
    pd.testing.assert_frame_equal(detect_ruptures(full, repair_window=2).events, ev2)


def test_episode_below_reference_is_one_event_and_new_dip_after_return_is_another():
    sessions = list(range(1, 13))
    x = [4.0, 4, 4, 1, 1.2, 4, 4, 4, 1, 4, 4, 4]
    ev = detect_ruptures(_long({"c": (sessions, x)}), k=1).events
    assert ev["rupture_session"].tolist() == [4, 9]
    assert ev["repair_session"].tolist() == [6, 10]


def test_reference_others_and_median():
    sessions = list(range(1, 9))
    x = [4.0, 4.1, 3.9, 4.0, 2.0, 4.1, 4.0, 3.9]
    df = _long({"c": (sessions, x)})
    ev = detect_ruptures(df, reference="others").events
    arr = np.array(x)
    assert ev["rupture_session"].tolist() == [5]
    assert ev["reference"].iloc[0] == pytest.approx(np.delete(arr, 4).mean(), rel=1e-14)
    evm = detect_ruptures(df, reference="median").events
    assert evm["reference"].iloc[0] == pytest.approx(np.median(arr), rel=1e-14)


def test_combined_sd_is_the_larger_one():
    df = _long({"edge": EXACT, "wild": ([1, 2, 3, 4], [1.0, 5.0, 1.0, 5.0])})
    w = detect_ruptures(df, sd="within").clients.set_index("client")["sd"]
    p = detect_ruptures(df, sd="pooled").clients.set_index("client")["sd"]
    c = detect_ruptures(df, sd="combined").clients.set_index("client")["sd"]
    assert (c == np.maximum(w, p)).all()
    assert w["edge"] < p["edge"] and w["wild"] > p["wild"]


def test_zero_sd_client_is_not_screened():
    res = detect_ruptures(_long({"flat": ([1, 2, 3, 4], [4.0] * 4)}))
    assert res.clients.loc[0, "reason"] == "zero SD" and res.events.empty


def test_input_is_not_modified_and_summary_mentions_counts():
    df = _long({"edge": EXACT, "two": TWO_SESSIONS})
    before = df.copy()
    res = detect_ruptures(df)
    pd.testing.assert_frame_equal(df, before)
    text = res.summary()
    assert "ruptures: 1 in 1 clients; repaired: 1" in text and "1 not screened" in text
    assert len(res.provenance.data_sha256) == 64 and res.provenance.options["k"] == 2.0


def test_bad_input_messages():
    df = _long({"edge": EXACT})
    with pytest.raises(SchemaError, match="column 'wai' not found"):
        detect_ruptures(df, "wai")
    with pytest.raises(AllianceStatsError, match="choose one of"):
        detect_ruptures(df, sd="total")
    with pytest.raises(AllianceStatsError, match="positive"):
        detect_ruptures(df, k=0)
    dup = pd.concat([df, df.iloc[[0]]])
    with pytest.raises(SchemaError, match=r"repeat a \(client, session\) pair"):
        detect_ruptures(dup)
    txt = df.assign(alliance=df["alliance"].astype(str))
    with pytest.raises(SchemaError, match="expected numbers"):
        detect_ruptures(txt)


def test_min_sessions_rules():
    df = _long({"two": TWO_SESSIONS, "edge": EXACT})
    with pytest.raises(AllianceStatsError, match="at least 3 with sd='within'"):
        detect_ruptures(df, min_sessions=2)
    pooled = detect_ruptures(df, sd="pooled", k=1, min_sessions=2).clients.set_index("client")
    assert pooled.loc["two", "screened"]  # with the pooled SD a two-session client can be screened
