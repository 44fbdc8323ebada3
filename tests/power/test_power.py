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
                    dask_client="sync", progress=False)
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
    sync = als.power("regression", dask_client="sync", **kw)
    two = als.power("regression", dask_client=None, workers=2, **kw)
    with LocalCluster(n_workers=1, threads_per_worker=1, processes=True, dashboard_address=None) as cluster, \
            Client(cluster) as client:
        given = als.power("regression", dask_client=client, **kw)
    for other in (two, given):
        pd.testing.assert_frame_equal(sync.replications, other.replications)
        pd.testing.assert_frame_equal(sync.table, other.table)


def test_interrupted_study_resumes_to_the_uninterrupted_table(tmp_path):
    kw = dict(n_clients=[20, 30, 45], effects={"slope": 0.3}, reps=30, seed=8, dask_client="sync", progress=False)
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
    kw = dict(n_clients=[20, 30], effects={"slope": 0.3}, reps=30, seed=4, dask_client="sync", progress=False)
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
    kw = dict(effects={"slope": 0.3}, reps=20, seed=6, dask_client="sync", progress=False)
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
    res = als.power("regression", n_clients=30, reps=40, seed=2, dask_client="sync", progress=False)
    row = res.table.iloc[0]
    assert row["reps"] == 40 and row["usable"] == 30 and row["failed_share"] == pytest.approx(0.25)
    assert res.replications["error"].str.contains("synthetic failure").sum() == 10


@pytest.mark.parametrize("kwargs,needle", [
    (dict(design="nope", n_clients=10), "design=.nope. is not supported"),
    (dict(design="regression", model="mlm", n_clients=10), "analysed by model"),
    (dict(design="within_between", n_clients=10), "needs n_sessions"),
    (dict(design="regression", n_clients=[1.5]), "integers >= 2"),
    (dict(design="regression", n_clients=10, reps=1), "reps"),
])
def test_bad_arguments(kwargs, needle):
    design = kwargs.pop("design")
    with pytest.raises(AllianceStatsError, match=needle):
        als.power(design, seed=1, dask_client="sync", progress=False, **kwargs)


# --- the designs' truth is what their model estimates at n -> infinity (pseudo-true values) ----------------

def test_within_between_truth_recovered_on_a_large_draw():
    data, truth = designs.within_between(3000, 2, within=0.1, between=0.9, seed=1)
    fit = als.fit_mlm(als.decompose(data, "x", lags=()), "y ~ x_within + x_between + (1 | client)")
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
    res = als.fit_mediation(data, "x", ["m"], "y", n_draws=200, ci="monte_carlo", seed=1)
    e = res.effects.set_index("effect")
    for effect, target in (("x -> m -> y", "indirect"), ("direct", "direct")):
        assert abs(e.loc[effect, "estimate"] - truth["targets"][target]) < 4 * e.loc[effect, "std_error"]


def test_multilevel_mediation_family_and_its_truth():
    data, truth = designs.multilevel_mediation(800, 6, seed=4)
    res = als.fit_multilevel_mediation(data, "x", "m", "y", n_draws=2000, seed=1)
    e = res.effects.set_index("effect")
    for name, target in truth["targets"].items():
        assert abs(e.loc[name, "estimate"] - target) < 4 * e.loc[name, "std_error"], name
    study = als.power("multilevel_mediation", n_clients=40, n_sessions=5, reps=4, seed=2, dask_client="sync",
                      progress=False)
    assert sorted(study.table["target"]) == sorted(truth["targets"])
    assert (study.table["usable"] == 4).all()


# --- the vocabulary of issue 11: dask_client= / scheduler=, old client= warns, result protocol ------------

def test_old_client_argument_warns_and_gives_the_same_study(tmp_path):
    from allianceStats.power_analysis import run_study

    kw = dict(n_clients=20, effects={"slope": 0.3}, reps=10, seed=9, progress=False)
    new = als.power("regression", dask_client="sync", **kw)
    with pytest.warns(FutureWarning, match="argument client= is renamed dask_client="):
        old = als.power("regression", client="sync", **kw)
    pd.testing.assert_frame_equal(new.table, old.table)
    with pytest.raises(als.errors.OptionError, match="give only dask_client="):
        als.power("regression", client="sync", dask_client="sync", **kw)
    study = tmp_path / "s.toml"
    study.write_text('design = "regression"\nreps = 10\nseed = 9\n[grid]\nn_clients = 20\n[effects]\nslope = 0.3\n')
    with pytest.warns(FutureWarning, match="argument client= is renamed dask_client="):
        from_file = run_study(study, client="sync", progress=False)
    pd.testing.assert_frame_equal(from_file.table, new.table)


@pytest.mark.parametrize("kwargs,needle", [
    (dict(dask_client="sync", scheduler="tcp://127.0.0.1:9"), "either dask_client= or scheduler="),
    (dict(scheduler="localhost:8786"), "scheduler='localhost:8786' must be an address"),
    (dict(dask_client="tcp://127.0.0.1:9"), "an address goes to scheduler="),
    (dict(dask_client="sync", alpha=5), "alpha=5"),
    (dict(dask_client="sync", seed=-3), "seed=-3"),
    (dict(dask_client="sync", workers=0), "workers=0"),
    (dict(dask_client="sync", reps=2.5), "reps=2.5"),
    (dict(dask_client="sync", progress="no"), "progress='no'"),
])
def test_bad_options_are_option_errors(kwargs, needle):
    with pytest.raises(als.errors.OptionError, match=needle):
        als.power("regression", n_clients=20, reps=kwargs.pop("reps", 10), **kwargs)


def test_power_result_follows_the_result_protocol_and_records_a_fresh_seed():
    from allianceStats.results import CLOSED_FORM, Result

    res = als.power("regression", n_clients=[20, 30], effects={"slope": 0.3}, reps=6, alpha=0.1,
                    dask_client="sync", progress=False)
    assert isinstance(res, Result)
    assert res.n_obs == 12 and isinstance(res.n_obs, int)
    assert res.conf_level == pytest.approx(0.9) and res.convergence == CLOSED_FORM and res.converged
    assert res.provenance.function == "power" and res.provenance.elapsed_seconds >= 0
    seed = res.provenance.seed
    assert isinstance(seed, int)  # seed=None: a fresh seed, recorded, that repeats the study exactly
    again = als.power("regression", n_clients=[20, 30], effects={"slope": 0.3}, reps=6, alpha=0.1, seed=seed,
                      dask_client="sync", progress=False)
    pd.testing.assert_frame_equal(again.replications, res.replications)
    assert "alpha = 0.1" in res.summary()


@pytest.mark.parametrize("name,cell", [("regression", {"n_clients": 30}), ("mlm", {"n_clients": 20, "n_sessions": 4}),
                                       ("riclpm", {"n_clients": 60, "n_sessions": 4}),
                                       ("mediation", {"n_clients": 60}),
                                       ("multilevel_mediation", {"n_clients": 20, "n_sessions": 4})])
def test_families_call_the_current_api_without_deprecation_warnings(name, cell):
    import warnings

    fam = families.FAMILIES[name]
    data, truth = fam.simulate(cell, {}, np.random.SeedSequence(3))
    with warnings.catch_warnings():
        warnings.simplefilter("error", FutureWarning)
        rows = fam.fit(data, 0.05, 1)
    assert {r["target"] for r in rows} >= set(truth["targets"])
