"""fit_level_variability_repair: both models equal statsmodels fitted by hand on tables built independently."""
import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm
from statsmodels.duration.hazard_regression import PHReg

from allianceStats.dynamics import detect_ruptures, fit_level_variability_repair
from allianceStats.errors import IdentificationError

OPTS = {"k": 1.5}


def _data(seed=7, n=80):
    rng = np.random.default_rng(seed)
    rows = []
    for i in range(n):
        a, last = rng.normal(4, .5), int(rng.integers(4, 13))
        x = a + rng.normal(0, .4, last)
        y = 40 + 8 * a + rng.normal(0, 5, last).cumsum() / 3
        rows += [(f"c{i:02d}", s + 1, x[s], y[s], int(s + 1 == last < 12)) for s in range(last)]
    return pd.DataFrame(rows, columns=["client", "session", "alliance", "outcome", "dropout"])


def _by_hand(df, upto=None):
    d = df if upto is None else df[df["session"] <= upto]
    rows = []
    for c, g in d.groupby("client"):
        x = g["alliance"].to_numpy()
        diffs = np.diff(x)  # the simulated sessions have no gaps
        rows.append((c, x.mean(), np.sqrt(np.mean(diffs ** 2)), len(x), g["outcome"].iloc[-1],
                     g["outcome"].iloc[0]))
    t = pd.DataFrame(rows, columns=["client", "level", "variability", "sessions", "y", "y0"]).set_index("client")
    ev = detect_ruptures(d, **OPTS).events
    t["repaired"] = ev[ev["repaired"]].groupby("client").size().reindex(t.index, fill_value=0)
    t["unrepaired"] = ev[~ev["repaired"]].groupby("client").size().reindex(t.index, fill_value=0)
    return t


def test_outcome_model_equals_ols_on_a_hand_built_table():
    df = _data()
    res = fit_level_variability_repair(df, rupture_options=OPTS)
    t = _by_hand(df)
    Z = t[["level", "variability", "repaired", "unrepaired"]]
    Z = (Z - Z.mean()) / Z.std(ddof=1)
    X = sm.add_constant(pd.concat([Z, t[["sessions", "y0"]]], axis=1))
    ols = sm.OLS(t["y"], X).fit()
    np.testing.assert_allclose(res.outcome_params["estimate"], ols.params, rtol=1e-9)
    np.testing.assert_allclose(res.outcome_params["std_error"], ols.bse, rtol=1e-9)
    np.testing.assert_allclose(res.outcome_params["p_value"], ols.pvalues, rtol=1e-8)
    assert res.outcome_fit["r2"] == pytest.approx(ols.rsquared, rel=1e-12)
    # raw-unit coefficients are the per-SD ones divided by the predictor SD
    raw = fit_level_variability_repair(df, rupture_options=OPTS, standardize=False, landmark=None)
    sd = t[["level", "variability", "repaired", "unrepaired"]].std(ddof=1).to_numpy()
    np.testing.assert_allclose(raw.outcome_params["estimate"].iloc[1:5] * sd,
                               res.outcome_params["estimate"].iloc[1:5], rtol=1e-9)
    assert raw.retention is None


def test_retention_model_is_a_landmark_cox_on_early_predictors():
    df = _data()
    res = fit_level_variability_repair(df, rupture_options=OPTS, landmark=5)
    t = _by_hand(df, upto=5)
    g = df.groupby("client")
    t["time"], t["event"] = g["session"].max(), g["dropout"].max()
    t = t[t["time"] > 5]
    Z = t[["level", "variability", "repaired", "unrepaired"]]
    Z = (Z - Z.mean()) / Z.std(ddof=1)
    cox = PHReg(t["time"], Z, status=t["event"], ties="efron").fit()
    np.testing.assert_allclose(res.retention.params["estimate"], cox.params, rtol=1e-7)
    np.testing.assert_allclose(res.retention.params["std_error"], cox.bse, rtol=1e-7)
    assert res.retention.n_clients == len(t) and res.retention.landmark


def test_no_repaired_rupture_anywhere_is_an_identification_error():
    with pytest.raises(IdentificationError, match="does not vary"):
        fit_level_variability_repair(_data(), rupture_options={"k": 50})


def test_summary_names_both_models():
    text = fit_level_variability_repair(_data(), rupture_options=OPTS).summary()
    assert "Outcome model" in text and "Retention model (landmark after session 6)" in text


def test_mean_outcome_without_baseline_and_without_retention():
    df = _data()
    res = fit_level_variability_repair(df, rupture_options=OPTS, outcome_at="mean", baseline=False, event=None)
    assert res.retention is None
    assert res.outcome_params["term"].tolist() == ["intercept", "level", "variability", "repaired", "unrepaired",
                                                   "sessions"]
    y = df.groupby("client")["outcome"].mean()
    np.testing.assert_allclose(res.clients.set_index("client")["outcome_y"], y.loc[res.clients["client"]],
                               rtol=1e-14)
