"""fit_wave_mediation(ci="percentile" / "bca"): client bootstrap of the lag-2 indirect effect, seeded and consistent."""
import numpy as np
import pandas as pd
import pytest

import allianceStats as als


def _panel(n, seed, ri_sd=0.5):
    rng = np.random.default_rng(seed)
    T = 4
    B = np.array([[0.3, 0.0, 0.0], [0.45, 0.3, 0.0], [0.0, 0.45, 0.3]])
    w = np.zeros((n, 3, T))
    w[:, :, 0] = rng.normal(size=(n, 3))
    for t in range(1, T):
        w[:, :, t] = w[:, :, t - 1] @ B.T + rng.normal(size=(n, 3))
    ri = ri_sd * rng.normal(size=(n, 3))
    rows = [{"client": i, "session": t + 1, "x": ri[i, 0] + w[i, 0, t], "m": ri[i, 1] + w[i, 1, t],
             "y": ri[i, 2] + w[i, 2, t]} for i in range(n) for t in range(T)]
    return pd.DataFrame(rows)


@pytest.fixture(scope="module")
def long_data():
    return _panel(250, seed=7)


def test_bootstrap_interval_agrees_with_the_delta_method_and_is_seeded(long_data):
    boot = als.fit_wave_mediation(long_data, "x", "m", "y", ci="percentile", n_draws=60, seed=3)
    delta = als.fit_wave_mediation(long_data, "x", "m", "y", ci="delta", seed=3)
    pd.testing.assert_series_equal(boot.effects["estimate"], delta.effects["estimate"])
    draws = boot.draws["effects"].values
    assert draws.shape == (60, 3) and boot.ci == "percentile"
    # bootstrap SD of the indirect effect vs its delta-method SE: equal within sampling error of an SD
    # from 60 draws (relative SE about 1/sqrt(2*59) = 0.09; 0.35 is almost 4 of those)
    assert abs(draws[:, 0].std(ddof=1) / delta.effects.loc[0, "std_error"] - 1) < 0.35
    row = boot.effects.iloc[0]
    assert row.ci_lower < row.estimate < row.ci_upper and row.ci_lower > 0
    again = als.fit_wave_mediation(long_data, "x", "m", "y", ci="percentile", n_draws=50, seed=3)
    np.testing.assert_array_equal(again.draws["effects"].values, draws[:50])


def test_bootstrap_needs_enough_resamples(long_data):
    with pytest.raises(als.errors.OptionError, match="n_draws=10 must be an integer of at least 50"):
        als.fit_wave_mediation(long_data, "x", "m", "y", ci="percentile", n_draws=10)


def test_bca_shifts_the_percentile_limits_of_the_same_resamples():
    from allianceStats.mediation.intervals import percentile_interval

    small = _panel(80, seed=15, ri_sd=1.0)  # 80 clients: 80 leave-one-client-out refits for the acceleration
    bca = als.fit_wave_mediation(small, "x", "m", "y", ci="bca", n_draws=50, seed=4)
    lower, upper = percentile_interval(bca.draws["effects"].values, 0.95)
    assert not np.allclose(bca.effects["ci_lower"], lower) and not np.allclose(bca.effects["ci_upper"], upper)
    row = bca.effects.iloc[0]
    assert row.ci_lower < row.estimate < row.ci_upper and bca.ci == "bca" and bca.n_draws == 50
    assert bca.draws["effects"].shape == (50, 3) and bca.draws.attrs["method"] == "client bootstrap"
