"""Property-based checks (hypothesis) of the event definitions and variability indices."""
import numpy as np
import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from allianceStats.dynamics import detect_ruptures, variability

# scores on a 0.01 grid in [1, 5] and integer shifts keep the arithmetic close to exact
score = st.integers(100, 500).map(lambda v: v / 100)
client_series = st.lists(score, min_size=2, max_size=12)
panel = st.lists(client_series, min_size=1, max_size=5)


def _frame(series_list, shifts=None, names=None):
    rows = []
    for i, xs in enumerate(series_list):
        c = 0.0 if shifts is None else shifts[i]
        name = f"c{i}" if names is None else names[i]
        rows += [(name, t + 1, x + c) for t, x in enumerate(xs)]
    return pd.DataFrame(rows, columns=["client", "session", "alliance"])


def _key(events):
    return events[["client", "rupture_session", "repair_session", "repaired", "window_observed"]]


@settings(max_examples=20, deadline=None)
@given(panel, st.lists(st.integers(-20, 20), min_size=5, max_size=5),
       st.sampled_from(["within", "pooled", "combined"]), st.sampled_from(["mean", "median", "others"]),
       st.sampled_from([1.0, 2.0]))
def test_ruptures_invariant_to_adding_a_constant_per_client(series, shifts, sd, ref, k):
    base = detect_ruptures(_frame(series), sd=sd, reference=ref, k=k)
    moved = detect_ruptures(_frame(series, shifts), sd=sd, reference=ref, k=k)
    pd.testing.assert_frame_equal(_key(base.events), _key(moved.events))
    np.testing.assert_allclose(base.events["depth"], moved.events["depth"], rtol=1e-9, atol=1e-9)


@settings(max_examples=20, deadline=None)
@given(panel, st.sampled_from(["mean", "median", "others"]))
def test_within_sd_events_of_a_client_do_not_depend_on_other_clients(series, ref):
    whole = detect_ruptures(_frame(series), sd="within", reference=ref).events
    i = len(series) - 1
    alone = detect_ruptures(_frame([series[i]], names=[f"c{i}"]), sd="within", reference=ref).events
    mine = whole[whole["client"] == f"c{i}"]
    pd.testing.assert_frame_equal(mine.reset_index(drop=True), alone.reset_index(drop=True))


def test_pooled_sd_events_do_depend_on_other_clients():
    me = [4.0, 4.2, 3.8, 4.0, 3.0, 4.0, 4.1, 3.9]
    calm = [[4.0, 4.01, 3.99, 4.0]] * 3
    wild = [[1.0, 5.0, 1.0, 5.0]] * 3
    with_calm = detect_ruptures(_frame([me, *calm]), sd="pooled").events
    with_wild = detect_ruptures(_frame([me, *wild]), sd="pooled").events
    assert with_calm["rupture_session"].tolist() == [5] and with_wild.empty
    assert detect_ruptures(_frame([me, *calm]), sd="within").events.equals(
        detect_ruptures(_frame([me, *wild]), sd="within").events)


@settings(max_examples=20, deadline=None)
@given(panel, st.lists(st.integers(-20, 20), min_size=5, max_size=5))
def test_variability_indices_invariant_to_shifts(series, shifts):
    base = variability(_frame(series), pac_cutoff=0.505)  # off the 0.01 grid: no ties
    moved = variability(_frame(series, shifts), pac_cutoff=0.505)  # off the 0.01 grid: no ties
    invariant = ["n_scores", "sd", "mssd", "rmssd", "n_successive", "slope", "pac", "n_ruptures", "n_repaired"]
    pd.testing.assert_frame_equal(base[invariant], moved[invariant], rtol=1e-9, atol=1e-9)
    np.testing.assert_allclose(moved["mean"] - base["mean"], np.asarray(shifts[:len(series)], float),
                               rtol=0, atol=1e-9)


@settings(max_examples=20, deadline=None)
@given(panel, st.sampled_from(["within", "pooled", "combined"]), st.sampled_from([1.0, 2.0]),
       st.integers(1, 4))
def test_rupture_events_are_well_formed(series, sd, k, window):
    res = detect_ruptures(_frame(series), sd=sd, k=k, repair_window=window)
    for _, ev in res.events.groupby("client"):
        assert (ev["depth_sd"] >= k - 1e-9).all()
        rep = ev[ev["repaired"]]
        assert ((rep["repair_session"] > rep["rupture_session"])
                & (rep["repair_session"] - rep["rupture_session"] <= window)).all()
        assert ev["repair_session"].isna().eq(~ev["repaired"]).all()
        # a new episode starts only after the previous one returned to the reference
        starts = ev["rupture_session"].to_numpy()
        assert np.all(np.diff(starts) > 0)


@settings(max_examples=20, deadline=None)
@given(panel)
def test_sudden_gains_of_a_client_do_not_depend_on_other_clients(series):
    from allianceStats.dynamics import detect_sudden_gains

    frame = _frame(series).rename(columns={"alliance": "y"}).assign(y=lambda d: d["y"] * 10)
    whole = detect_sudden_gains(frame, "y", better="higher", min_change=5).candidates
    last = f"c{len(series) - 1}"
    alone = detect_sudden_gains(frame[frame["client"] == last], "y", better="higher", min_change=5).candidates
    pd.testing.assert_frame_equal(whole[whole["client"] == last].reset_index(drop=True), alone)
