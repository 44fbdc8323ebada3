"""Study files: every key validated with a helpful message; run_study = power() with the same values, on any
executor."""
import json
from pathlib import Path

import pandas as pd
import pytest

import allianceStats as als
from allianceStats import AllianceStatsError
from allianceStats.power_analysis import study as study_module
from allianceStats.power_analysis import studyfile
from allianceStats.power_analysis.studyfile import load_study, run_study

STUDIES = Path(__file__).resolve().parents[2] / "analyses" / "studies"

TINY = """
title = "tiny regression study"
design = "regression"
reps = 30
alpha = 0.1
seed = 42
out_dir = "out"

[grid]
n_clients = [12, 25]

[effects]
slope = 0.6
sd_error = 1.5
"""


def write(tmp_path, text, name="study.toml"):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


@pytest.mark.parametrize("path", sorted(STUDIES.glob("*.toml")), ids=lambda p: p.name)
def test_example_study_files_are_valid(path):
    study = load_study(path)
    assert study["design"] in studyfile.DESIGNS
    # running a shipped study never writes into the source tree (issue 12): the results go to the user's cache
    assert STUDIES not in study["out_dir"].parents and study["out_dir"] != STUDIES
    assert isinstance(study["seed"], int) and study["reps"] >= 100


def test_riclpm_example_keeps_the_nested_lagged_matrix_and_the_issue_target_cell():
    study = load_study(STUDIES / "riclpm_power.toml")
    assert study["effects"]["lagged"] == [[0.30, 0.10], [0.15, 0.30]]
    assert study["effects"]["dropout"] == 0.10
    assert 300 in study["n_clients"] and 5 in study["n_sessions"] and study["reps"] == 1000


GOOD = {"design": "riclpm", "seed": 1, "grid": {"n_clients": 100, "n_sessions": 4}}


@pytest.mark.parametrize("change,needles", [
    ({"rep": 10}, ["unknown key 'rep'", "valid keys: title, design, model, reps"]),
    ({"grid": {"n_clients": 100, "n_session": 4}},
     ["unknown key 'n_session' in [grid]", "valid: n_clients, n_sessions", "n_sessions is required"]),
    ({"effects": {"drop_out": 0.1}}, ["unknown key 'drop_out' in [effects]", "dropout, dropout_slope"]),
    ({"design": "riclmp"}, ["design = 'riclmp'", "regression, within_between, riclpm, mediation"]),
    ({"seed": None}, ["seed is required"]),
    ({"seed": 1.5, "reps": 1, "alpha": 1.5}, ["seed = 1.5", "reps = 1 must", "alpha = 1.5 must"]),
    ({"grid": {"n_clients": [100, "200"], "n_sessions": 4}}, ["n_clients = [100, '200']"]),
    ({"scheduler": "localhost:8786"}, ["scheduler = 'localhost:8786'", "tcp://"]),
    ({"workers": 0}, ["workers = 0 must be a positive integer"]),
    ({"effects": {"lagged": [[1.0, 0.2], [0.1, 0.3]]}}, ["rejected by design 'riclpm'", "not stationary"]),
    ({"effects": {"lagged": [[0.3, 0.1, 0.0], [0.1, 0.3, 0.0]]}}, ["rejected by design 'riclpm'", "must be 2x2"]),
    ({"effects": 0.3}, ["'effects' must be a table"]),
])
def test_invalid_study_is_rejected_with_every_problem_named(change, needles):
    raw = {**GOOD, **change}
    raw = {k: v for k, v in raw.items() if v is not None}
    with pytest.raises(AllianceStatsError) as err:
        studyfile.parse_study(raw, source="s.toml")
    message = str(err.value)
    assert message.startswith("study s.toml: ")
    for needle in needles:
        assert needle in message


def test_single_level_design_rejects_sessions_and_multilevel_design_requires_them():
    with pytest.raises(AllianceStatsError, match="not used by the single-level design 'mediation'"):
        studyfile.parse_study({"design": "mediation", "seed": 1, "grid": {"n_clients": 50, "n_sessions": 3}})
    with pytest.raises(AllianceStatsError, match="n_sessions is required by design 'within_between'"):
        studyfile.parse_study({"design": "within_between", "seed": 1, "grid": {"n_clients": 50}})


def test_file_errors_name_the_file(tmp_path):
    with pytest.raises(AllianceStatsError, match="not valid TOML"):
        load_study(write(tmp_path, 'design = "regression"\nseed = \n'))
    with pytest.raises(AllianceStatsError, match="cannot be read"):
        load_study(tmp_path / "absent.toml")


def test_run_study_equals_power_called_directly_and_writes_its_outputs(tmp_path):
    path = write(tmp_path, TINY)
    res = run_study(path, dask_client="sync", progress=False)
    direct = als.power("regression", n_clients=[12, 25], effects={"slope": 0.6, "sd_error": 1.5}, reps=30,
                       alpha=0.1, seed=42, dask_client="sync", progress=False)
    pd.testing.assert_frame_equal(res.table, direct.table)
    pd.testing.assert_frame_equal(res.replications, direct.replications)
    out = tmp_path / "out"
    assert len(list(out.glob("cell-*.parquet"))) == 2
    csv = pd.read_csv(out / "power_table.csv")
    pd.testing.assert_frame_equal(csv, res.table, check_exact=False, rtol=1e-9, check_dtype=False)
    record = json.loads((out / "study.json").read_text())
    assert record["study"]["seed"] == 42 and record["provenance"]["options"]["reps"] == 30
    # a rerun reads the finished cells from out_dir (resume) and gives the same table
    pd.testing.assert_frame_equal(run_study(path, dask_client="sync", progress=False).table, res.table)


def test_client_argument_takes_precedence_over_the_files_scheduler(tmp_path):
    path = write(tmp_path, TINY.replace('out_dir = "out"', 'scheduler = "tcp://127.0.0.1:9"'))
    res = run_study(path, dask_client="sync", progress=False)
    assert res.table["reps"].tolist() == [30, 30]
    assert (load_study(path)["out_dir"] / "power_table.csv").is_file()  # default out_dir: in the user's cache
    assert not (tmp_path / "study_results").exists()
    with pytest.raises(AllianceStatsError, match="either dask_client= or scheduler="):
        run_study(path, dask_client="sync", scheduler="tcp://127.0.0.1:9")


def test_unreachable_scheduler_is_an_error_that_says_how_to_fix_it(tmp_path, monkeypatch):
    monkeypatch.setattr(study_module, "CONNECT_TIMEOUT", "1s")
    with pytest.raises(AllianceStatsError, match="cannot connect to the Dask scheduler at 'tcp://127.0.0.1:9'"):
        run_study(write(tmp_path, TINY), scheduler="tcp://127.0.0.1:9", progress=False)


def test_scheduler_address_of_an_existing_cluster_gives_identical_results(tmp_path):
    from distributed import LocalCluster

    sync = run_study(write(tmp_path, TINY.replace('"out"', '"sync"'), "a.toml"), dask_client="sync",
                     progress=False)
    # worker threads behind a real TCP scheduler: the client side is exactly as for a remote cluster, without
    # the seconds it takes to spawn worker processes (process workers are covered in test_power.py)
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=False, protocol="tcp://",
                      dashboard_address=None) as cluster:
        assert cluster.scheduler_address.startswith("tcp://")
        address = cluster.scheduler_address
        by_argument = run_study(write(tmp_path, TINY, "b.toml"), scheduler=address, progress=False)
        in_file = write(tmp_path, f'scheduler = "{address}"\n' + TINY.replace('"out"', '"file"'), "c.toml")
        by_file = run_study(in_file, progress=False)
        direct = als.power("regression", n_clients=[12, 25], effects={"slope": 0.6, "sd_error": 1.5}, reps=30,
                           alpha=0.1, seed=42, scheduler=address, progress=False)
        assert "run_batch" in cluster.scheduler.task_prefixes  # the replications ran on this cluster
    for other in (by_argument, by_file, direct):
        pd.testing.assert_frame_equal(other.replications, sync.replications)
        pd.testing.assert_frame_equal(other.table, sync.table)


def test_nested_lagged_matrix_and_dropout_reach_the_design_unchanged(tmp_path):
    path = write(tmp_path, """
design = "riclpm"
reps = 4
seed = 3
[grid]
n_clients = 60
n_sessions = 4
[effects]
variables = ["alliance", "outcome"]
lagged = [[0.30, 0.10],
          [0.15, 0.25]]
dropout = 0.2
""")
    res = run_study(path, dask_client="sync", progress=False)
    truth = res.table.set_index("target")["truth"].to_dict()
    # lagged[i][j] is the effect of variable j at wave t-1 on variable i at wave t
    assert truth == {"alliance -> alliance": 0.30, "outcome -> alliance": 0.10, "alliance -> outcome": 0.15,
                     "outcome -> outcome": 0.25}
    assert set(res.table["n_sessions"]) == {4} and set(res.table["reps"]) == {4}
    assert res.effects["dropout"] == 0.2
    csv = pd.read_csv(load_study(path)["out_dir"] / "power_table.csv")
    assert sorted(csv["target"]) == sorted(truth)


def test_study_outputs_follow_the_umask(tmp_path):
    import os

    path = write(tmp_path, TINY)
    old = os.umask(0o077)
    try:
        run_study(path, dask_client="sync", progress=False)
    finally:
        os.umask(old)
    written = [p for p in (tmp_path / "out").iterdir()]
    assert {p.suffix for p in written} == {".parquet", ".csv", ".json"}
    for p in written:
        assert p.stat().st_mode & 0o777 == 0o600, p
