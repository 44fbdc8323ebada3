"""Power for a 0/1 outcome (issue 14): design binary_within_between, family glmm_binary (fit_glmm, Wald z)."""
import numpy as np
import pandas as pd
import pytest

import allianceStats as als
from allianceStats.errors import OptionError
from allianceStats.power_analysis import FAMILIES, studyfile
from allianceStats.power_analysis.families import run_replication
from allianceStats.power_analysis.study import _DEFAULT_MODEL, effect_names
from allianceStats.simulate import designs

KW = dict(dask_client="sync", progress=False)


def test_the_binary_family_is_listed_where_families_and_designs_are():
    assert "glmm_binary" in FAMILIES and FAMILIES["glmm_binary"].needs_sessions
    assert _DEFAULT_MODEL["binary_within_between"] == "glmm_binary"
    assert "binary_within_between" in studyfile.DESIGNS
    assert effect_names("binary_within_between") == ["within", "between", "intercept", "client_sd",
                                                     "var_x_between", "var_x_within", "variables"]


def test_design_is_seeded_binary_and_names_targets_with_the_variables():
    d1, t1 = designs.binary_within_between(20, 4, variables=("alliance", "use"), seed=9)
    d2, _ = designs.binary_within_between(20, 4, variables=("alliance", "use"), seed=9)
    pd.testing.assert_frame_equal(d1, d2)
    assert list(d1.columns) == ["client", "session", "alliance", "use"] and len(d1) == 80
    assert set(d1["use"].unique()) <= {0, 1}
    assert sorted(t1["targets"]) == ["alliance -> use (between)", "alliance -> use (within)"]
    assert t1["seed"] == 9 and t1["params"]["client_sd"] == 1.0
    # a different seed gives different data
    assert not d1["use"].equals(designs.binary_within_between(20, 4, variables=("alliance", "use"), seed=10)[0]["use"])


def test_truth_is_recovered_by_fit_glmm_on_a_large_draw():
    from allianceStats.mixed.glmm import fit_glmm

    data, truth = designs.binary_within_between(3000, 4, within=0.3, between=1.2, client_sd=0.8, seed=1)
    d = als.decompose(data, "x", lags=())
    p = fit_glmm(d, "y ~ x_within + x_between + (1 | client)", family="binomial").params.set_index("term")
    for term, target in (("x_within", "x -> y (within)"), ("x_between", "x -> y (between)")):
        est, se = p.loc[term, ["estimate", "std_error"]]
        assert abs(est - truth["targets"][target]) < 3 * se, (term, est, se, truth["targets"][target])
    # the between target is the attenuated value with observed client means, not the population 1.2
    assert truth["targets"]["x -> y (between)"] == pytest.approx((1.2 * 0.5 + 0.3 * 0.125) / 0.625)


def test_tiny_study_runs_writes_its_cells_and_resumes(tmp_path):
    kw = dict(n_clients=[12, 16], n_sessions=4, effects={"within": 0.8, "variables": ["alliance", "use"]}, reps=3,
              seed=5, **KW)
    res = als.power("binary_within_between", out_dir=tmp_path, **kw)
    assert res.model == "glmm_binary" and res.n_obs == 6
    assert sorted(res.table["target"].unique()) == ["alliance -> use (between)", "alliance -> use (within)"]
    assert len(res.replications) == 2 * 3 * 2
    assert len(list(tmp_path.glob("cell-*.parquet"))) == 2
    pd.testing.assert_frame_equal(als.power("binary_within_between", out_dir=tmp_path, **kw).table, res.table)


def test_large_within_effect_has_high_power():
    res = als.power("binary_within_between", n_clients=40, n_sessions=6, effects={"within": 1.5}, reps=25, seed=2,
                    out_dir=False, **KW)
    row = res.table.set_index("target").loc["x -> y (within)"]
    assert row["usable"] >= 20 and row["power"] >= 0.9, row


def test_zero_effect_rejects_at_about_alpha():
    """Wald z of fit_glmm under the null: rejection rate and coverage within 3.5 Monte Carlo SEs of nominal."""
    res = als.power("binary_within_between", n_clients=30, n_sessions=6,
                    effects={"within": 0.0, "between": 0.0}, reps=150, seed=3, out_dir=False, **KW)
    assert len(res.table) == 2
    for row in res.table.itertuples():
        assert row.usable >= 140 and row.failed_share == 0, row
        mcse = np.sqrt(0.05 * 0.95 / row.usable)
        assert abs(row.power - 0.05) < 3.5 * mcse, (row.target, row.power, mcse)
        assert abs(row.coverage - 0.95) < 3.5 * mcse, (row.target, row.coverage, mcse)


def test_replications_without_events_are_counted_as_failed_not_dropped():
    rows = run_replication("glmm_binary", {"n_clients": 5, "n_sessions": 3}, {"intercept": -40.0}, 0.05, 1)
    assert [r["target"] for r in rows] == ["x -> y (within)", "x -> y (between)"]
    assert all(not r["converged"] and np.isnan(r["estimate"]) and r["error"] for r in rows)
    res = als.power("binary_within_between", n_clients=5, n_sessions=3, effects={"intercept": -40.0}, reps=2,
                    seed=1, out_dir=False, **KW)
    assert (res.table["failed_share"] == 1.0).all() and (res.table["usable"] == 0).all()


@pytest.mark.parametrize("effects, match", [
    ({"withn": 0.3}, "unknown name.*'withn'.*binary_within_between"),
    ({"client_sd": -1.0}, "client_sd=-1.0"),
    ({"var_x_within": 0.0}, "var_x_within=0.0"),
    ({"within": "big"}, "within='big'"),
    ({"variables": ["x", "client"]}, "not 'client'"),
])
def test_bad_effects_are_option_errors(effects, match):
    with pytest.raises(OptionError, match=match):
        als.power("binary_within_between", n_clients=20, n_sessions=4, effects=effects, reps=2, seed=1,
                  out_dir=False, **KW)


def test_design_rejects_too_small_a_grid():
    with pytest.raises(OptionError, match="at least 3 clients and 2 sessions"):
        designs.binary_within_between(2, 4, seed=1)
    with pytest.raises(OptionError, match="model 'glmm_binary'"):
        als.power("binary_within_between", "mlm", n_clients=20, n_sessions=4, reps=2, seed=1, out_dir=False, **KW)
