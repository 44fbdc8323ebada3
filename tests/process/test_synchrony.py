"""Synchrony: simulated truth, surrogate tests, session-level columns, bad input."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from allianceStats.errors import OptionError, SchemaError
from allianceStats.process import surrogate_synchrony, synchrony_by_session, window_cross_correlation
from allianceStats.results import Result
from allianceStats.simulate.process import simulate_dyad_signals

SETTINGS = dict(sampling_rate=5, lag_seconds=3, window_seconds=30, step_seconds=15)


@pytest.fixture(scope="module")
def signals():
    return simulate_dyad_signals(n_dyads=8, minutes=4, sampling_rate=5, coupling=0.5, lag_seconds=2, seed=11)


def test_simulated_lag_is_recovered(signals):
    data, truth = signals
    d = data[data["dyad"] == "d01"]
    res = window_cross_correlation(d["client_signal"], d["therapist_signal"], fisher_z=False, absolute=False,
                                   **SETTINGS)
    assert res.lag_profile.idxmax() == truth["lag_seconds"]
    # the peak correlation is near the coupling (0.5; 30-s windows of AR(1) signals vary) and the mirror lag is near 0
    assert 0.2 < res.lag_profile.max() < 0.8
    assert abs(res.lag_profile.loc[-2.0]) < 0.2
    assert isinstance(res, Result) and res.converged and res.n_obs == len(d)


def test_seeded_simulation_is_reproducible():
    a, _ = simulate_dyad_signals(n_dyads=2, minutes=1, sampling_rate=4, seed=5)
    b, _ = simulate_dyad_signals(n_dyads=2, minutes=1, sampling_rate=4, seed=5)
    pd.testing.assert_frame_equal(a, b)


def test_pseudo_dyads_show_less_synchrony(signals):
    data, _ = signals
    res = surrogate_synchrony(data, x="client_signal", y="therapist_signal", dyad="dyad", n_draws=30, seed=4,
                              **SETTINGS)
    assert res.p_value < 0.01 and res.effect_size > 1
    assert (res.dyads["p_value"] < 0.1).mean() >= 0.75
    assert set(res.surrogates["x_from"]) <= set(res.dyads["dyad"])
    assert (res.surrogates["x_from"] != res.surrogates["y_from"]).all()
    assert res.provenance.seed == 4
    again = surrogate_synchrony(data, x="client_signal", y="therapist_signal", dyad="dyad", n_draws=30, seed=4,
                                **SETTINGS)
    pd.testing.assert_frame_equal(res.surrogates, again.surrogates)


def test_segment_shuffle_and_no_coupling():
    data, _ = simulate_dyad_signals(n_dyads=2, minutes=4, sampling_rate=5, coupling=0.8, ar=0.5, seed=21)
    res = surrogate_synchrony(data, x="client_signal", y="therapist_signal", dyad="dyad", method="segments",
                              segment_seconds=20, n_draws=15, seed=2, **SETTINGS)
    assert len(res.surrogates) == 30 and (res.dyads["z"] > 2).all()
    assert (res.dyads["p_value"] == 1 / 16).all()
    flat, _ = simulate_dyad_signals(n_dyads=6, minutes=4, sampling_rate=5, coupling=0.0, seed=12)
    null = surrogate_synchrony(flat, x="client_signal", y="therapist_signal", dyad="dyad", n_draws=30, seed=3,
                               **SETTINGS)
    assert null.p_value > 0.01


def test_session_level_columns(signals):
    data, _ = signals
    data = data.assign(client=data["dyad"], session=1)
    out = synchrony_by_session(data, x="client_signal", y="therapist_signal", **SETTINGS)
    assert list(out.columns) == ["client", "session", "synchrony", "synchrony_lag_zero", "synchrony_x_leads",
                                 "synchrony_y_leads", "synchrony_best_lag", "synchrony_windows"]
    assert len(out) == 8 and (out["synchrony_best_lag"] == 2.0).mean() >= 0.75
    one = data[data["dyad"] == "d03"]
    direct = window_cross_correlation(one["client_signal"], one["therapist_signal"], **SETTINGS)
    assert out.loc[out["client"] == "d03", "synchrony"].item() == pytest.approx(direct.grand_average, abs=1e-12)


def test_bad_input_is_reported_and_nothing_modified():
    x = pd.Series(np.arange(100.0), index=np.arange(100) / 10.0)
    y = pd.Series(np.arange(100.0) ** 0.5, index=np.arange(100) / 5.0)
    before = x.copy()
    with pytest.raises(SchemaError) as err:
        window_cross_correlation(x, y[:90], sampling_rate=10, lag_seconds=1, window_seconds=3, step_seconds=1)
    text = str(err.value)
    assert "sampled at 5 Hz" in text and "differ in length (100 and 90 samples)" in text
    pd.testing.assert_series_equal(x, before)
    with pytest.raises(OptionError, match="whole number of samples"):
        window_cross_correlation(np.ones(100), np.ones(100), sampling_rate=3, lag_seconds=0.5, window_seconds=10,
                                 step_seconds=5)
    with pytest.raises(OptionError, match="need 45 samples but the signals have 30"):
        window_cross_correlation(np.ones(30), np.ones(30), sampling_rate=1, lag_seconds=5, window_seconds=40,
                                 step_seconds=5)
    with pytest.raises(SchemaError, match="infinite"):
        window_cross_correlation(np.r_[np.inf, np.ones(99)], np.ones(100), sampling_rate=1, lag_seconds=1,
                                 window_seconds=10, step_seconds=5)
    with pytest.raises(OptionError, match="fisher_z"):
        window_cross_correlation(np.ones(100), np.ones(100), sampling_rate=1, lag_seconds=1, window_seconds=10,
                                 step_seconds=5, fisher_z="yes")


def test_constant_and_identical_slices_have_no_correlation():
    rng = np.random.default_rng(0)
    x = rng.normal(size=200)
    x[:60] = 1.0  # constant first window
    res = window_cross_correlation(x, x.copy(), sampling_rate=1, lag_seconds=2, window_seconds=40, step_seconds=20,
                                   fisher_z=False, absolute=False)
    assert np.isnan(res.ccf.iloc[0]).all()
    # identical signals: at lag 0 fewer than two positions differ -> missing (rMEA's rule), other lags defined
    assert np.isnan(res.ccf.loc[3:, 0.0]).all() and res.ccf.loc[3:, 1.0].notna().all()
