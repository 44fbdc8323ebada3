"""Power studies: reproducible across executors, correct against the noncentral t, resumable, honest about failures."""
import json
import re
import warnings

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
        assert abs(est - truth["targets"][f"x -> y ({name})"]) < 4 * se, name
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
    for effect, target in (("x -> m -> y", "x -> m -> y"), ("direct", "x -> y (direct)")):
        assert abs(e.loc[effect, "estimate"] - truth["targets"][target]) < 4 * e.loc[effect, "std_error"]


def test_multilevel_mediation_family_and_its_truth():
    data, truth = designs.multilevel_mediation(800, 6, seed=4)
    res = als.fit_multilevel_mediation(data, "x", "m", "y", n_draws=2000, seed=1)
    e = res.effects.set_index("effect")
    names = {"x -> m -> y (within)": "within indirect", "x -> m -> y (between)": "between indirect",
             "x -> y (within)": "within direct", "x -> y (between)": "between direct"}
    for name, target in truth["targets"].items():
        assert abs(e.loc[names[name], "estimate"] - target) < 4 * e.loc[names[name], "std_error"], name
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


# --- issue 12: self-describing cells, a default resumable folder, clear errors, progress in logs, the main guard --

SMALL = dict(effects={"slope": 0.3}, reps=10, seed=6, dask_client="sync", progress=False)


def _by_n(res):
    return res.table.set_index("n_clients")[["power", "bias", "reps", "usable"]]


def test_extending_or_reordering_the_grid_keeps_every_n_with_its_own_results(tmp_path):
    als.power("regression", n_clients=[30, 60], out_dir=tmp_path, **SMALL)
    extended = als.power("regression", n_clients=[20, 30, 60], out_dir=tmp_path, **SMALL)
    fresh = als.power("regression", n_clients=[20, 30, 60], out_dir=False, **SMALL)
    pd.testing.assert_frame_equal(extended.table, fresh.table)
    assert extended.table["n_clients"].tolist() == [20, 30, 60] and (extended.table["reps"] == 10).all()
    reordered = als.power("regression", n_clients=[60, 20, 30], out_dir=tmp_path, **SMALL)
    assert reordered.table["n_clients"].tolist() == [60, 20, 30]
    pd.testing.assert_frame_equal(_by_n(reordered).sort_index(), _by_n(fresh).sort_index())
    # every stored replication names its cell's sizes, and the replications table says which cell it is
    assert set(reordered.replications.groupby("cell")["n_clients"].first()) == {60, 20, 30}
    assert (reordered.replications.groupby("cell")["n_clients"].nunique() == 1).all()


def test_cell_files_describe_their_cell_and_a_foreign_file_is_recomputed(tmp_path):
    import pyarrow.parquet as pq

    from allianceStats.errors import DataWarning

    first = als.power("regression", n_clients=[20, 40], out_dir=tmp_path, **SMALL)
    files = sorted(tmp_path.glob("cell-*.parquet"))
    meta = [json.loads(pq.read_schema(f).metadata[b"allianceStats.cell"]) for f in files]
    assert sorted(m["cell"]["n_clients"] for m in meta) == [20, 40]
    assert {m["seed"] for m in meta} == {6} and {m["reps"] for m in meta} == {10}
    # swap the two files: each now describes the other cell
    a, b = files
    a.rename(tmp_path / "swap"), b.rename(a), (tmp_path / "swap").rename(b)
    with pytest.warns(DataWarning, match="2 cell file.s. .* cannot be used and are recomputed.*describes another"):
        again = als.power("regression", n_clients=[20, 40], out_dir=tmp_path, **SMALL)
    pd.testing.assert_frame_equal(again.table, first.table)


@pytest.mark.parametrize("damage", ["truncate", "empty", "legacy"])
def test_a_damaged_or_old_cell_file_is_recomputed_with_a_warning(tmp_path, damage):
    from allianceStats.errors import DataWarning

    first = als.power("regression", n_clients=[20], out_dir=tmp_path, **SMALL)
    (path,) = tmp_path.glob("cell-*.parquet")
    if damage == "truncate":
        path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    elif damage == "empty":
        path.write_bytes(b"")
    else:  # a 0.1 cell file: the grid position, no description
        legacy = first.replications.drop(columns=["n_clients"])
        legacy.to_parquet(path, index=False)
    with pytest.warns(DataWarning, match="recomputed"):
        again = als.power("regression", n_clients=[20], out_dir=tmp_path, **SMALL)
    pd.testing.assert_frame_equal(again.table, first.table)
    with warnings.catch_warnings():
        warnings.simplefilter("error", DataWarning)  # rewritten: the next run uses it silently
        als.power("regression", n_clients=[20], out_dir=tmp_path, **SMALL)


def test_out_dir_that_is_a_file_or_below_a_file_is_an_option_error(tmp_path):
    taken = tmp_path / "taken"
    taken.write_text("x")
    with pytest.raises(als.errors.OptionError, match="is a file, not a folder"):
        als.power("regression", n_clients=[20], out_dir=taken, **SMALL)
    with pytest.raises(als.errors.OptionError, match="a folder above it is a file"):
        als.power("regression", n_clients=[20], out_dir=taken / "sub", **SMALL)
    with pytest.raises(als.errors.OptionError, match="out_dir=3"):
        als.power("regression", n_clients=[20], out_dir=3, **SMALL)


def test_rerunning_a_finished_study_starts_no_cluster(tmp_path, monkeypatch):
    import distributed

    kw = {k: v for k, v in SMALL.items() if k != "dask_client"}
    done = als.power("regression", n_clients=[20, 30], out_dir=tmp_path, dask_client="sync", **kw)

    def no_cluster(*args, **kwargs):
        raise AssertionError("a finished study must not start a cluster")

    monkeypatch.setattr(distributed, "LocalCluster", no_cluster)
    monkeypatch.setattr(distributed, "Client", no_cluster)
    again = als.power("regression", n_clients=[20, 30], out_dir=tmp_path, **kw)  # default executor
    pd.testing.assert_frame_equal(again.table, done.table)


def test_default_out_dir_is_a_resumable_git_ignored_cache_folder(temporary_cache):
    from allianceStats.power_analysis.study import default_out_dir

    res = als.power("regression", n_clients=[20, 30], **SMALL)
    folder = default_out_dir("regression", "regression", {"slope": 0.3}, 10, 0.05, 6)
    assert res.provenance.options["out_dir"] == str(folder)
    assert folder.parent.parent == temporary_cache and len(list(folder.glob("cell-*.parquet"))) == 2
    assert (temporary_cache / ".gitignore").read_text().splitlines()[-1] == "*"
    # a crash loses nothing: the rerun reads both cells (here: fitting anything would fail)
    original = families.FAMILIES["regression"]

    def must_not_fit(data, alpha, seed):
        raise AssertionError("finished cells are read, not refitted")

    families.FAMILIES["regression"] = families.Family("regression", original.simulate, must_not_fit, False)
    try:
        pd.testing.assert_frame_equal(als.power("regression", n_clients=[20, 30], **SMALL).table, res.table)
    finally:
        families.FAMILIES["regression"] = original
    before = set(temporary_cache.rglob("*"))
    als.power("regression", n_clients=[25], out_dir=False, **SMALL)
    assert set(temporary_cache.rglob("*")) == before  # out_dir=False writes nothing


def test_progress_outside_a_terminal_is_one_line_per_finished_cell(capsys):
    als.power("regression", n_clients=[20, 30], out_dir=False, **{**SMALL, "progress": True})
    lines = [line for line in capsys.readouterr().err.splitlines() if line.startswith("power regression:")]
    assert lines[0] == "power regression: 2 of 2 cells to run (2 batches)"
    assert len(lines) == 3
    for k, n in ((1, 20), (2, 30)):
        assert re.fullmatch(rf"power regression: cell {k}/2 finished \(n_clients={n}\): 10 replications, 0 failed, "
                            r"0 improper; \d+\.\d s elapsed", lines[k]), lines[k]


def test_targets_are_named_with_the_users_variables():
    kw = dict(reps=2, seed=1, dask_client="sync", progress=False, out_dir=False)
    mlm = als.power("within_between", n_clients=20, n_sessions=4, effects={"variables": ["alliance", "outcome"]}, **kw)
    assert sorted(mlm.table["target"]) == ["alliance -> outcome (between)", "alliance -> outcome (within)"]
    med = als.power("mediation", n_clients=40, effects={"variables": ["alliance", "needs", "motivation"]}, **kw)
    assert "alliance -> needs -> motivation" in set(med.table["target"])
    reg = als.power("regression", n_clients=20, effects={"variables": ["alliance", "outcome"]}, **kw)
    assert reg.table["target"].tolist() == ["alliance -> outcome"]
    with pytest.raises(als.errors.OptionError, match="variables="):
        als.power("regression", n_clients=20, effects={"variables": ["alliance", "client"]}, **kw)


@pytest.mark.parametrize("kwargs,needle", [
    (dict(n_clients=[]), r"n_clients=\[\] is empty"),
    (dict(design="within_between", n_clients=[20], n_sessions=[]), r"n_sessions=\[\] is empty"),
    (dict(n_clients=20, effects={"slop": 0.3}), "unknown name.s. 'slop' for design 'regression'; valid: slope"),
    (dict(n_clients=20, effects={"slope": "big"}), "effects were rejected by design 'regression'"),
    (dict(n_clients=20, effects=[("slope", 0.3)]), "effects=.* must be a dict"),
    (dict(n_clients=20, seed=-1), "seed=-1"),
    (dict(n_clients=20, dask_client=None, scheduler="notanaddress"), "scheduler='notanaddress' must be an address"),
])
def test_bad_grids_effects_seeds_and_schedulers_are_option_errors(kwargs, needle):
    kw = {"reps": 2, "seed": 1, "dask_client": "sync", "progress": False, "out_dir": False, **kwargs}
    design = kw.pop("design", "regression")
    with pytest.raises(als.errors.OptionError, match=needle):
        als.power(design, **kw)


def test_a_scheduler_address_that_cannot_be_parsed_is_a_clear_error():
    with pytest.raises(AllianceStatsError, match="cannot connect to the Dask scheduler at 'tcp://not an address'"):
        als.power("regression", n_clients=20, reps=2, seed=1, scheduler="tcp://not an address", progress=False,
                  out_dir=False)


UNGUARDED = '''import allianceStats as als

res = als.power("regression", n_clients=[20], effects={"slope": 0.5}, reps=4, seed=1, workers=1, out_dir=False)
print(res.table)
'''

UNGUARDED_IN_FUNCTION = '''import allianceStats as als


def main():
    return als.run_study("study.toml", progress=False)


main()
'''

GUARDED = '''import allianceStats as als

if __name__ == "__main__":
    res = als.power("regression", n_clients=[20], effects={"slope": 0.5}, reps=4, seed=1, workers=1,
                    out_dir=False, progress=False)
    print("targets:", res.table["target"].tolist())
'''


def _run_script(tmp_path, text, temporary_cache):
    import os
    import subprocess
    import sys

    (tmp_path / "study.toml").write_text('design = "regression"\nreps = 4\nseed = 1\nworkers = 1\n'
                                         '[grid]\nn_clients = [20]\n')
    (tmp_path / "script.py").write_text(text)
    env = {**os.environ, "ALLIANCESTATS_CACHE_DIR": str(temporary_cache)}
    return subprocess.run([sys.executable, "script.py"], cwd=tmp_path, capture_output=True, text=True, timeout=300,
                          env=env)


@pytest.mark.parametrize("script", [UNGUARDED, UNGUARDED_IN_FUNCTION], ids=["top-level", "in-a-function"])
def test_a_script_without_the_main_guard_gets_one_clear_error_with_the_fix(tmp_path, temporary_cache, script):
    run = _run_script(tmp_path, script, temporary_cache)
    assert run.returncode != 0
    assert "nanny.py" not in run.stderr and "distributed" not in run.stderr and len(run.stderr) < 4000
    last = run.stderr.strip().splitlines()
    assert any("AllianceStatsError: power() starts a local Dask cluster" in line for line in last)
    assert '    if __name__ == "__main__":' in run.stderr
    assert "script.py; line " in run.stderr


def test_a_script_with_the_main_guard_runs_on_a_local_cluster(tmp_path, temporary_cache):
    run = _run_script(tmp_path, GUARDED, temporary_cache)
    assert run.returncode == 0, run.stderr[-3000:]
    assert "targets: ['x -> y']" in run.stdout


@pytest.mark.parametrize("test,guarded", [('__name__ == "__main__"', True), ('"__main__" == __name__', True),
                                          ('__name__ == "__main__" and fast', True), ('__name__ != "x"', False),
                                          ("True", False)])
def test_the_main_guard_is_recognised_in_its_usual_spellings(test, guarded):
    import ast

    from allianceStats.power_analysis.study import _is_main_test

    assert _is_main_test(ast.parse(f"if {test}:\n    pass\n").body[0].test) is guarded
