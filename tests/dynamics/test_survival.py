"""fit_dropout / kaplan_meier: data convention, bad input, non-convergence, groups, landmark."""
import warnings

import numpy as np
import pandas as pd
import pytest

from allianceStats.dynamics import fit_dropout, kaplan_meier
from allianceStats.errors import ConvergenceWarning, IdentificationError, SchemaError


def _panel(n=40, seed=3):
    rng = np.random.default_rng(seed)
    rows = []
    for i in range(n):
        a = rng.normal(4, 0.6)
        last = int(min(10, rng.geometric(0.15 * np.exp(-(a - 4)))))
        arm = "A" if i % 2 else "B"
        rows += [(f"c{i:02d}", s, a + rng.normal(0, 0.3), int(s == last < 10), arm) for s in range(1, last + 1)]
    return pd.DataFrame(rows, columns=["client", "session", "alliance", "dropout", "arm"])


def test_dropout_flag_before_last_row_is_rejected():
    df = _panel()
    bad = df.copy()
    first_multi = bad.groupby("client")["session"].transform("max") > 1
    idx = bad.index[first_multi & (bad["session"] == 1)][0]
    bad.loc[idx, "dropout"] = 1
    bad.loc[bad.index[3], "dropout"] = 2
    with pytest.raises(SchemaError) as err:
        fit_dropout(bad, predictors=["alliance"])
    assert len(err.value.problems) == 2
    assert "0 or 1" in err.value.problems[0] and "before the last observed session" in err.value.problems[1]


def test_no_events_and_empty_predictors():
    df = _panel().assign(dropout=0)
    with pytest.raises(IdentificationError, match="no dropouts"):
        fit_dropout(df, predictors=["alliance"])
    with pytest.raises(ValueError, match="at least one predictor"):
        fit_dropout(_panel(), predictors=[])


def test_separation_is_reported_not_silent():
    # the lowest-alliance clients drop out first: monotone partial likelihood, beta -> -inf
    rows = []
    for i in range(10):
        last = i + 1 if i < 5 else 12
        rows += [(f"c{i}", s, float(i), int(i < 5 and s == last)) for s in range(1, last + 1)]
    df = pd.DataFrame(rows, columns=["client", "session", "alliance", "dropout"])
    with pytest.warns(ConvergenceWarning, match="did not converge"):
        fit = fit_dropout(df, predictors=["alliance"])
    assert not fit.convergence.converged
    assert "WARNING: not converged" in fit.summary()


def test_landmark_keeps_clients_at_risk_after_the_early_sessions():
    df = _panel()
    fit = fit_dropout(df, predictors=["alliance"], landmark=True)
    last = df.groupby("client")["session"].max()
    assert fit.n_clients == int((last > 2).sum())
    assert (fit.clients["time"] > 2).all()
    d = fit_dropout(df, predictors=["alliance"], landmark=True, method="discrete")
    assert d.n_clients == fit.n_clients


def test_summary_and_result_fields():
    df = _panel()
    before = df.copy()
    fit = fit_dropout(df, predictors=["alliance"], conf_level=0.9)
    pd.testing.assert_frame_equal(df, before)
    assert list(fit.params.columns) == ["term", "estimate", "std_error", "statistic", "p_value", "ci_lower",
                                        "ci_upper", "ratio", "ratio_ci_lower", "ratio_ci_upper"]
    assert fit.conf_level == 0.9 and "90% Wald" in fit.summary() and "hazard ratio" in fit.summary()
    z = 1.6448536269514722
    row = fit.params.iloc[0]
    assert row["ci_upper"] == pytest.approx(row["estimate"] + z * row["std_error"], rel=1e-12)
    with pytest.raises(AttributeError):
        fit.method = "discrete"


def test_kaplan_meier_groups_and_tertiles():
    df = _panel()
    arm = kaplan_meier(df, group="arm")
    assert set(arm["group"]) == {"A", "B"}
    ter = kaplan_meier(df, split="tertiles")
    assert list(pd.unique(ter["group"])) == ["low", "middle", "high"]
    # survival is non-increasing and stays within its interval
    for _, g in ter.groupby("group"):
        assert np.all(np.diff(g["survival"]) <= 0)
        assert np.all((g["ci_lower"] <= g["survival"]) & (g["survival"] <= g["ci_upper"]))
    with pytest.raises(ValueError, match="not both"):
        kaplan_meier(df, group="arm", split="median")
    changing = df.assign(arm=np.where(df["session"] == 1, "A", "B"))
    with pytest.raises(ValueError, match="constant within client"):
        kaplan_meier(changing, group="arm")


def test_custom_column_names_give_the_same_results():
    df = _panel()
    renamed = df.rename(columns={"client": "id", "session": "visit", "dropout": "left", "alliance": "wai"})
    a = fit_dropout(df, predictors=["alliance"]).params
    b = fit_dropout(renamed, predictors=["wai"], client="id", session="visit", event="left").params
    pd.testing.assert_frame_equal(a.drop(columns="term"), b.drop(columns="term"))
    km_a = kaplan_meier(df, split="median")
    km_b = kaplan_meier(renamed, split="median", variable="wai", client="id", session="visit", event="left")
    pd.testing.assert_frame_equal(km_a, km_b)


def test_no_early_values_at_all_is_an_identification_error():
    with pytest.raises(IdentificationError, match="no client has a value"):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            fit_dropout(_panel(), predictors=["alliance"], early_sessions=(40,))
