"""Power studies: reproducible across executors, correct against the noncentral t, resumable, honest about failures."""
import numpy as np
import pandas as pd
import pytest
from scipy import stats

import allianceStats as als
from allianceStats import AllianceStatsError
from allianceStats.power_analysis import families
from allianceStats.simulate import designs


def test_analytic_power_of_a_regression_slope_matches_noncentral_t():
    n, slope, alpha = 30, 0.4, 0.05
    res = als.power("regression", n_clients=n, effects={"slope": slope}, reps=1500, alpha=alpha, seed=11,
                    client="sync", progress=False)
    row = res.table.iloc[0]
    df = n - 2
    ncp = slope * np.sqrt(n - 1)  # x has sample variance 1, error SD 1
    crit = stats.t.ppf(1 - alpha / 2, df)
    exact = stats.nct.sf(crit, df, ncp) + stats.nct.cdf(-crit, df, ncp)
    assert abs(row["power"] - exact) < 3.5 * row["power_mcse"], (row["power"], exact)
    # OLS intervals are exact here: coverage 0.95 within Monte Carlo error
    assert abs(row["coverage"] - 0.95) < 3.5 * row["coverage_mcse"]


def test_same_seed_same_results_in_process_two_workers_and_a_given_cluster():
    from distributed import Client, LocalCluster

    kw = dict(n_clients=[25, 40], effects={"slope": 0.3}, reps=60, seed=5, progress=False)
    sync = als.power("regression", client="sync", **kw)
    two = als.power("regression", client=None, workers=2, **kw)
    with LocalCluster(n_workers=1, threads_per_worker=1, processes=True, dashboard_address=None) as cluster, \
            Client(cluster) as client:
        given = als.power("regression", client=client, **kw)
    for other in (two, given):
        pd.testing.assert_frame_equal(sync.replications, other.replications)
        pd.testing.assert_frame_equal(sync.table, other.table)


def test_interrupted_study_resumes_to_the_uninterrupted_table(tmp_path):
    kw = dict(n_clients=[20, 30, 45], effects={"slope": 0.3}, reps=30, seed=8, client="sync", progress=False)
    whole = als.power("regression", **kw)
    with pytest.raises(AllianceStatsError, match="resume"):
        als.power("regression", out_dir=tmp_path, _stop_after=1, **kw)
    assert len(list(tmp_path.glob("cell-*.parquet"))) == 1
    resumed = als.power("regression", out_dir=tmp_path, **kw)
    pd.testing.assert_frame_equal(resumed.table, whole.table)
    assert len(list(tmp_path.glob("cell-*.parquet"))) == 3
    # a rerun reads every cell from disk: same numbers again
    pd.testing.assert_frame_equal(als.power("regression", out_dir=tmp_path, **kw).table, whole.table)


def test_killed_study_keeps_finished_cells_and_resumes(tmp_path, monkeypatch):
    """A study that dies in the middle (here: an exception inside a replication) keeps its finished cells."""
    kw = dict(n_clients=[20, 30], effects={"slope": 0.3}, reps=30, seed=4, client="sync", progress=False)
    whole = als.power("regression", **kw)
    original = families.FAMILIES["regression"]

    def dies_in_second_cell(data, alpha, seed):
        if len(data) == 30:
            raise KeyboardInterrupt
        return original.fit(data, alpha, seed)

    monkeypatch.setitem(families.FAMILIES, "regression",
                        families.Family("regression", original.simulate, dies_in_second_cell, False))
    with pytest.raises(KeyboardInterrupt):
        als.power("regression", out_dir=tmp_path, **kw)
    assert len(list(tmp_path.glob("cell-*.parquet"))) == 1
    monkeypatch.setitem(families.FAMILIES, "regression", original)
    pd.testing.assert_frame_equal(als.power("regression", out_dir=tmp_path, **kw).table, whole.table)


def test_a_cells_results_do_not_depend_on_the_rest_of_the_grid():
    kw = dict(effects={"slope": 0.3}, reps=20, seed=6, client="sync", progress=False)
    alone = als.power("regression", n_clients=30, **kw)
    in_grid = als.power("regression", n_clients=[20, 30, 50], **kw)
    pd.testing.assert_frame_equal(alone.table.reset_index(drop=True),
                                  in_grid.table[in_grid.table["n_clients"] == 30].reset_index(drop=True))


def test_failed_fits_are_counted_not_dropped(monkeypatch):
    calls = {"n": 0}
    original = families.FAMILIES["regression"]

    def flaky(data, alpha, seed):
        calls["n"] += 1
        if calls["n"] % 4 == 0:
            raise AllianceStatsError("synthetic failure")
        return original.fit(data, alpha, seed)

    monkeypatch.setitem(families.FAMILIES, "regression", families.Family("regression", original.simulate, flaky, False))
    res = als.power("regression", n_clients=30, reps=40, seed=2, client="sync", progress=False)
    row = res.table.iloc[0]
    assert row["reps"] == 40 and row["usable"] == 30 and row["failed_share"] == pytest.approx(0.25)
    assert res.replications["error"].str.contains("synthetic failure").sum() == 10


@pytest.mark.parametrize("kwargs,needle", [
    (dict(design="nope", n_clients=10), "unknown design"),
    (dict(design="regression", model="mlm", n_clients=10), "analysed by model"),
    (dict(design="within_between", n_clients=10), "needs n_sessions"),
    (dict(design="regression", n_clients=[1.5]), "integers >= 2"),
    (dict(design="regression", n_clients=10, reps=1), "reps"),
])
def test_bad_arguments(kwargs, needle):
    design = kwargs.pop("design")
    with pytest.raises(AllianceStatsError, match=needle):
        als.power(design, seed=1, client="sync", progress=False, **kwargs)


# --- the designs' truth is what their model estimates at n -> infinity (pseudo-true values) ----------------

def test_within_between_truth_recovered_on_a_large_draw():
    data, truth = designs.within_between(3000, 2, within=0.1, between=0.9, seed=1)
    fit = als.fit_mlm("y ~ x_within + x_between + (1 | client)", als.decompose(data, "x", lags=()))
    p = fit.params.set_index("term")
    for name in ("within", "between"):
        est, se = p.loc[f"x_{name}", ["estimate", "std_error"]]
        assert abs(est - truth["targets"][name]) < 4 * se, name
    # the between target is attenuated, and the test can tell: the raw population value is far outside
    assert abs(p.loc["x_between", "estimate"] - 0.9) > 4 * p.loc["x_between", "std_error"]


def test_riclpm_truth_recovered_on_a_large_draw_with_dropout():
    data, truth = designs.riclpm(4000, 4, dropout=0.15, seed=2)
    fit = als.fit_riclpm(data, ["x", "y"], constraints="lagged")
    for table in (fit.autoregressive, fit.cross_lagged):
        for r in table.groupby(["outcome", "predictor"]).tail(1).itertuples():
            target = truth["targets"][f"{r.predictor} -> {r.outcome}"]
            assert abs(r.estimate - target) < 4 * r.std_error, (r.predictor, r.outcome, r.estimate, target)


def test_mediation_truth_recovered_on_a_large_draw():
    data, truth = designs.mediation(20000, a=0.3, b=0.4, direct=0.1, seed=3)
    res = als.mediation(data, "x", ["m"], "y", n_boot=200, ci="monte_carlo", seed=1)
    e = res.effects.set_index("effect")
    for effect, target in (("x -> m -> y", "indirect"), ("direct", "direct")):
        assert abs(e.loc[effect, "estimate"] - truth["targets"][target]) < 4 * e.loc[effect, "std_error"]


def test_multilevel_mediation_family_and_its_truth():
    data, truth = designs.multilevel_mediation(800, 6, seed=4)
    res = als.multilevel_mediation(data, "x", "m", "y", n_draws=2000, seed=1)
    e = res.effects.set_index("effect")
    for name, target in truth["targets"].items():
        assert abs(e.loc[name, "estimate"] - target) < 4 * e.loc[name, "std_error"], name
    study = als.power("multilevel_mediation", n_clients=40, n_sessions=5, reps=4, seed=2, client="sync",
                      progress=False)
    assert sorted(study.table["target"]) == sorted(truth["targets"])
    assert (study.table["usable"] == 4).all()
