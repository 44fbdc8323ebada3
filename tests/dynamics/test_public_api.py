"""The public names of allianceStats.dynamics: top-level mapping, the vocabulary of issue 11 (old names and old
arguments warn and give the same result), option errors, and the result protocol."""
import warnings

import numpy as np
import pandas as pd
import pytest

import allianceStats as als
import allianceStats.dynamics as dyn
from allianceStats import _LAZY
from allianceStats.errors import OptionError
from allianceStats.results import CLOSED_FORM, Result


def _series():
    return pd.DataFrame({"client": ["a"] * 8 + ["b"] * 6, "session": list(range(1, 9)) + list(range(1, 7)),
                         "alliance": [4.0, 4.1, 3.9, 4.0, 2.0, 4.1, 4.0, 3.9, 5, 6, 6, 1, 6, 6]})


def _panel(n=60, seed=1):
    rng = np.random.default_rng(seed)
    rows = []
    for i in range(n):
        a = rng.normal(4, 0.6)
        last = min(12, 1 + rng.geometric(0.08 * np.exp(-1.0 * (a - 4))))
        y0 = rng.normal(50, 10)
        rows += [(f"c{i}", s, a + rng.normal(0, .4), y0 + 3 * a + rng.normal(0, 5), int(s == last < 12))
                 for s in range(1, last + 1)]
    return pd.DataFrame(rows, columns=["client", "session", "alliance", "outcome", "dropout"])


def test_lazy_names_resolve_to_dynamics_objects():
    names = [n for n, mod in _LAZY.items() if mod == "allianceStats.dynamics"]
    assert sorted(names) == sorted(["detect_ruptures", "detect_sudden_gains", "variability", "fit_dropout",
                                    "kaplan_meier", "fit_level_variability_repair"])
    for name in names:
        assert getattr(als, name) is getattr(dyn, name)
        assert name in dyn.__all__
    assert "sudden_gains" not in als.__all__ and "level_variability_repair" not in als.__all__


@pytest.mark.parametrize("module", [als, dyn], ids=["top-level", "dynamics"])
@pytest.mark.parametrize("old,new", [("sudden_gains", "detect_sudden_gains"),
                                     ("level_variability_repair", "fit_level_variability_repair")])
def test_old_function_names_warn_and_forward(module, old, new):
    alias = getattr(module, old)
    df = _series().assign(outcome=lambda d: d["alliance"] * 10, dropout=0)
    args = {"sudden_gains": ((df, "outcome"), {"better": "higher", "min_change": 5}),
            "level_variability_repair": ((df,), {"landmark": None, "standardize": False})}[old]
    with pytest.warns(FutureWarning, match=rf"{old}\(\) is renamed {new}\(\)"):
        try:
            alias(*args[0], **args[1])
        except als.AllianceStatsError:  # too few clients for the outcome model: the warning came first
            pass


def test_custom_column_names_for_ruptures_and_variability():
    df = _series()
    renamed = df.rename(columns={"client": "id", "session": "visit", "alliance": "wai"})
    a = dyn.detect_ruptures(df)
    b = dyn.detect_ruptures(renamed, "wai", client="id", session="visit")
    pd.testing.assert_frame_equal(a.events, b.events)
    va = dyn.variability(df, pac_cutoff=1.0)
    vb = dyn.variability(renamed, "wai", client="id", session="visit", pac_cutoff=1.0)
    pd.testing.assert_frame_equal(va, vb)


def test_old_time_argument_warns_and_gives_the_same_result_everywhere():
    df = _series()
    renamed = df.rename(columns={"session": "visit"})
    panel = _panel()
    panel_renamed = panel.rename(columns={"session": "visit"})
    calls = [
        (dyn.detect_ruptures, (df,), {}, lambda r: r.events),
        (dyn.variability, (df,), {"pac_cutoff": 1.0}, lambda r: r),
        (dyn.detect_sudden_gains, (df, "alliance"), {"better": "higher", "min_change": 1}, lambda r: r.candidates),
        (dyn.fit_dropout, (panel,), {"predictors": ["alliance"]}, lambda r: r.params),
        (dyn.kaplan_meier, (panel,), {}, lambda r: r),
        (dyn.client_survival, (panel, ["alliance"]), {}, lambda r: r),
        (dyn.fit_level_variability_repair, (panel,), {"rupture_options": {"k": 1, "sd": "pooled"}, "event": None},
         lambda r: r.outcome_params),
    ]
    for func, args, kwargs, table in calls:
        new = table(func(*args, **kwargs))
        old_args = ((panel_renamed if args[0] is panel else renamed), *args[1:])
        with pytest.warns(FutureWarning, match="argument time= is renamed session="):
            old = table(func(*old_args, time="visit", **kwargs))
        pd.testing.assert_frame_equal(new, old)
        with pytest.raises(OptionError, match="give only session="):
            func(*old_args, time="visit", session="visit", **kwargs)


@pytest.mark.parametrize("call,needle", [
    (lambda d: dyn.detect_ruptures(d, method="stiles"), "method='stiles' is not supported"),
    (lambda d: dyn.detect_ruptures(d, k=-1), "k=-1 must be a number above 0"),
    (lambda d: dyn.detect_ruptures(d, repair_window=0), "repair_window=0"),
    (lambda d: dyn.detect_ruptures(d, min_sessions=2.5), "min_sessions=2.5"),
    (lambda d: dyn.variability(d, pac_quantile=90), "pac_quantile=90"),
    (lambda d: dyn.variability(d, pac_cutoff=0), "pac_cutoff=0"),
    (lambda d: dyn.variability(d, pac_direction="down"), "pac_direction='down'"),
    (lambda d: dyn.detect_sudden_gains(d, "alliance", better="up", min_change=1), "better='up'"),
    (lambda d: dyn.detect_sudden_gains(d, "alliance", better="lower", min_change=1, adjust="yes"), "adjust='yes'"),
    (lambda d: dyn.detect_sudden_gains(d, "alliance", better="lower", min_change=1, alpha=5), "alpha=5"),
    (lambda d: dyn.fit_dropout(d, predictors=["alliance"], conf_level=95), "conf_level=95"),
    (lambda d: dyn.fit_dropout(d, predictors=["alliance"], method="weibull"), "method='weibull'"),
    (lambda d: dyn.fit_dropout(d, predictors=["alliance"], landmark="yes"), "landmark='yes'"),
    (lambda d: dyn.fit_dropout(d, predictors=["alliance"], early_sessions=2), "early_sessions=2"),
    (lambda d: dyn.kaplan_meier(d, conf_level=1.0), "conf_level=1.0"),
    (lambda d: dyn.kaplan_meier(d, split="quartiles"), "split='quartiles'"),
    (lambda d: dyn.fit_level_variability_repair(d, landmark=2), "landmark=2"),
    (lambda d: dyn.fit_level_variability_repair(d, variability_index="iqr"), "variability_index='iqr'"),
])
def test_bad_option_values_are_option_errors(call, needle):
    with pytest.raises(OptionError, match=needle.replace("(", r"\(").replace(")", r"\)")):
        call(_panel(20))


def test_results_follow_the_result_protocol():
    panel = _panel()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        results = {
            "detect_ruptures": dyn.detect_ruptures(panel),
            "detect_sudden_gains": dyn.detect_sudden_gains(panel, "outcome", better="higher", min_change=5),
            "fit_dropout": dyn.fit_dropout(panel, predictors=["alliance"], conf_level=0.9),
            "fit_level_variability_repair": dyn.fit_level_variability_repair(
                panel, rupture_options={"k": 1, "sd": "pooled"}, conf_level=0.9),
        }
    n_scores = int(panel["alliance"].notna().sum())
    for name, res in results.items():
        assert isinstance(res, Result), name
        assert res.provenance.function == name
        assert res.provenance.elapsed_seconds is not None and res.provenance.elapsed_seconds >= 0
        assert isinstance(res.n_obs, int) and res.n_obs > 0
        assert res.converged is res.convergence.converged
        assert isinstance(res.summary(), str) and res.summary()
        assert "session" in res.provenance.options and "time" not in res.provenance.options
    assert results["detect_ruptures"].convergence == CLOSED_FORM
    assert results["detect_ruptures"].n_obs == n_scores
    assert results["detect_sudden_gains"].convergence == CLOSED_FORM
    assert results["fit_dropout"].n_obs == results["fit_dropout"].n_clients == panel["client"].nunique()
    assert results["fit_dropout"].conf_level == 0.9
    lvr = results["fit_level_variability_repair"]
    assert lvr.conf_level == 0.9 and lvr.n_obs == lvr.outcome_fit["n"]
    assert lvr.converged == lvr.retention.converged
    assert "retention" in lvr.convergence.optimizer


def test_person_period_takes_data_first_and_the_old_name_warns():
    clients = pd.DataFrame({"client": ["a", "b"], "time": [2, 3], "event": [1, 0], "x": [0.5, 1.0]})
    new = dyn.person_period(clients)
    with pytest.warns(FutureWarning, match="argument clients= is renamed data="):
        old = dyn.person_period(clients=clients)
    pd.testing.assert_frame_equal(new, old)
    assert new["event"].tolist() == [0, 1, 0, 0, 0]
