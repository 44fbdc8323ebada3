"""measurement_invariance(): the generated sequence equals semTools' measEq.syntax + lavaan (ordered items) and
lavaan's group.equal (continuous items); the result protocol; bad input; known truth on simulated WAI-SR items.

Reference values: ``fixtures/ordinal/ordinal_fixtures.json`` (``make_ordinal_fixtures.R``). Tolerances as in
``test_ordinal_fixtures.py``; for the continuous ML sequence on HolzingerSwineford1939 the estimates are compared
to 3e-5 · max(|lavaan|, 1): lavaan's nlminb stops short of the ML optimum there (its log-likelihood is below ours at
every step, checked below), which neither its BFGS nor restarts close.
"""
import json
import shutil
import subprocess
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from allianceStats.comparison import ComparisonResult
from allianceStats.errors import FormulaError, OptionError, SchemaError
from allianceStats.results import Result
from allianceStats.sem import InvarianceResult, measurement_invariance
from allianceStats.sem.invariance import TABLE_COLUMNS, invariance_syntax
from allianceStats.simulate.items import simulate_alliance_items, simulate_alliance_sessions

FIX = Path(__file__).resolve().parent / "fixtures" / "ordinal"
REF = json.loads((FIX / "ordinal_fixtures.json").read_text())
M2 = "FU1 =~ u1 + u2 + u3 + u4\nFU2 =~ u5 + u6 + u7 + u8"
HS = "visual =~ x1 + x2 + x3\ntextual =~ x4 + x5 + x6\nspeed =~ x7 + x8 + x9"


@pytest.fixture(scope="module")
def datcat():
    return pd.read_csv(FIX / "datCat.csv")


@pytest.fixture(scope="module")
def theta_sequence(datcat):
    return measurement_invariance(datcat, M2, group="g", ordered=True)


def _matched(fit, case):
    ref = pd.DataFrame(case["params"])
    flip = ref[ref["op"] == "~~"].rename(columns={"lhs": "rhs", "rhs": "lhs"})
    ref = pd.concat([ref, flip[flip["lhs"] != flip["rhs"]]], ignore_index=True)
    merged = fit.params.merge(ref, on=["lhs", "op", "rhs", "group"])
    assert len(merged) == len(case["params"]) == len(fit.params)
    return merged


def _check_step(fit, case, est_tol=1e-5):
    m = _matched(fit, case)
    np.testing.assert_array_less(np.abs(m["estimate"] - m["est"]), est_tol * np.maximum(np.abs(m["est"]), 1))
    free = m["se"] > 0
    np.testing.assert_allclose(m.loc[free, "std_error"], m.loc[free, "se"], rtol=1e-4)
    for key in ("chisq", "df", "npar"):
        assert fit.fit[key] == pytest.approx(case["fit"][key], rel=1e-5), key
    for key in ("chisq.scaled", "cfi.scaled", "tli.scaled", "rmsea.scaled", "srmr", "cfi", "rmsea"):
        if case["fit"].get(key) is not None:
            assert fit.fit[key.replace(".", "_")] == pytest.approx(case["fit"][key], rel=1e-4, abs=1e-6), key


def test_ordinal_theta_sequence_equals_semtools(theta_sequence):
    res = theta_sequence
    assert list(res.table["step"]) == list(REF["mi_cat_theta"]["steps"])
    for step, case in REF["mi_cat_theta"]["steps"].items():
        _check_step(res.fits[step], case)
    table = res.table.set_index("step")
    for ref in REF["mi_cat_theta"]["lrt"]:
        assert table.loc[ref["step"], "df_diff"] == ref["df_diff"]
        assert table.loc[ref["step"], "chisq_diff"] == pytest.approx(ref["chisq_diff"], rel=1e-4)
        assert table.loc[ref["step"], "p_value"] == pytest.approx(ref["p_value"], rel=1e-4)
    assert res.method == "Satorra (2000) scaled chi-square difference, scaled and shifted"


def test_ordinal_delta_sequence_equals_semtools(datcat):
    steps = tuple(REF["mi_cat_delta"]["steps"])
    res = measurement_invariance(datcat, M2, group="g", ordered=True, parameterization="delta", steps=steps)
    for step, case in REF["mi_cat_delta"]["steps"].items():
        _check_step(res.fits[step], case)
    table = res.table.set_index("step")
    for ref in REF["mi_cat_delta"]["lrt"]:
        assert table.loc[ref["step"], "chisq_diff"] == pytest.approx(ref["chisq_diff"], rel=1e-4)


def test_partial_invariance_equals_semtools_group_partial(datcat):
    case = REF["mi_partial"]
    res = measurement_invariance(datcat, M2, group="g", ordered=True, partial=case["args"]["partial"],
                                 steps=("configural", "thresholds", "metric", "scalar"))
    _check_step(res.fits["scalar"], case)
    syntax = res.to_lavaan("scalar")
    assert "c(lambda.3_1.g1, lambda.3_1.g2)*u3" in syntax and "c(u4.thr2.g1, u4.thr2.g2)*t2" in syntax


def test_binary_and_three_category_items_follow_wu_estabrook(datcat):
    data = pd.read_csv(FIX / "datCat_mixed.csv")
    steps = REF["mi_mixed"]["steps"]
    res = measurement_invariance(data, "F =~ u1 + u2 + u3 + u4", group="g", ordered=True, steps=tuple(steps))
    for step, case in steps.items():
        _check_step(res.fits[step], case)
    # the binary item's residual variance stays fixed until the intercepts are equal (semTools' rule)
    assert "u1 ~~ c(1, 1)*u1" in res.to_lavaan("thresholds") and "u1 ~~ c(1, NA)*u1" in res.to_lavaan("scalar")


def test_continuous_sequence_equals_lavaan_group_equal():
    hs = pd.read_csv(FIX / "HolzingerSwineford1939.csv")
    res = measurement_invariance(hs, HS, group="school")
    assert res.steps == ("configural", "metric", "scalar", "strict")   # no thresholds for continuous items
    assert res.method == "chi-square difference (likelihood ratio)"
    for step, case in REF["mi_hs"]["steps"].items():
        fit = res.fits[step]
        _check_step(fit, case, est_tol=3e-5)
        # our optimum is at least as good as lavaan's (the estimate gaps are lavaan's stopping rule)
        assert fit.fit["loglik"] >= case["fit"]["logl"] - 1e-9 * abs(case["fit"]["logl"])
    table = res.table.set_index("step")
    for ref in REF["mi_hs"]["lrt"]:
        assert table.loc[ref["step"], "chisq_diff"] == pytest.approx(ref["chisq_diff"], rel=1e-5)
        assert table.loc[ref["step"], "p_value"] == pytest.approx(ref["p_value"], rel=1e-4)
    assert np.isnan(table["chisq_scaled"]).all()
    cfi = table["cfi"]
    assert table.loc["metric", "delta_cfi"] == pytest.approx(cfi["metric"] - cfi["configural"])


def test_result_protocol_and_table(theta_sequence):
    res = theta_sequence
    assert isinstance(res, Result) and isinstance(res, InvarianceResult)
    assert res.converged and isinstance(res.n_obs, int) and res.n_obs == 200
    assert res.provenance.function == "measurement_invariance" and res.provenance.elapsed_seconds > 0
    assert res.provenance.options["steps"] == list(res.steps)
    assert tuple(res.table.columns) == TABLE_COLUMNS
    assert np.isnan(res.table.loc[0, "chisq_diff"])
    cfi = res.table["cfi_scaled"].to_numpy()
    np.testing.assert_allclose(res.table["delta_cfi"].to_numpy()[1:], np.diff(cfi))
    assert isinstance(res.comparison, ComparisonResult) and res.comparison.method == res.method
    assert "Measurement invariance across 'g'" in res.summary() and "Cheung & Rensvold" in res.summary()
    assert repr(res).startswith("<InvarianceResult: configural, thresholds")
    assert 'ordered = c("u1"' in res.r_call("metric", "datCat")
    with pytest.raises(OptionError, match="is not one of the fitted steps"):
        res.to_lavaan("means")


def test_skipped_steps_are_merged_into_the_next(datcat, theta_sequence):
    metric = measurement_invariance(datcat, M2, group="g", ordered=True, steps=("configural", "metric"))
    row = metric.table.set_index("step").loc["metric"]
    assert row["df"] == theta_sequence.table.set_index("step").loc["metric", "df"]
    assert row["chisq"] == pytest.approx(theta_sequence.table.set_index("step").loc["metric", "chisq"], rel=1e-10)
    assert row["df_diff"] == 22   # thresholds (16) and loadings (6) together


def test_model_first_order_gives_the_same_sequence(datcat, theta_sequence):
    other = measurement_invariance(M2, datcat, group="g", ordered=True, steps=("configural", "thresholds"))
    assert other.table["chisq"].tolist() == theta_sequence.table["chisq"].iloc[:2].tolist()


@pytest.mark.skipif(shutil.which("Rscript") is None, reason="Rscript with lavaan is not installed")
def test_generated_syntax_runs_in_lavaan(theta_sequence, tmp_path):
    (tmp_path / "m.lav").write_text(theta_sequence.to_lavaan("scalar"))
    out = tmp_path / "o.json"
    call = theta_sequence.r_call("scalar", "d")
    script = (f'suppressPackageStartupMessages(library(lavaan)); d <- read.csv("{FIX / "datCat.csv"}"); '
              f'model <- paste(readLines("{tmp_path / "m.lav"}"), collapse = "\\n"); f <- {call}; '
              f'jsonlite::write_json(as.list(fitMeasures(f, c("chisq", "df", "chisq.scaled"))), "{out}", digits = NA, '
              "auto_unbox = TRUE)")
    subprocess.run(["Rscript", "-e", script], check=True, capture_output=True)
    r = json.loads(out.read_text())
    fit = theta_sequence.fits["scalar"].fit
    assert r["df"] == fit["df"]
    assert r["chisq"] == pytest.approx(fit["chisq"], rel=1e-5)
    assert r["chisq.scaled"] == pytest.approx(fit["chisq_scaled"], rel=1e-4)


# ---------------------------------------------------------------------------------------------------------------
# bad input


def test_category_empty_in_one_group_names_item_group_and_lavaan(datcat):
    data = datcat.copy()
    data.loc[(data["g"] == "female") & (data["u1"] == 5), "u1"] = 4
    with pytest.raises(SchemaError) as err:
        measurement_invariance(data, M2, group="g", ordered=True, steps=("configural",))
    text = str(err.value)
    assert "'u1'" in text and "category 5" in text and "group 'female'" in text and "lavaan stops here too" in text
    assert "empty" in REF["lavaan_messages"]["empty_category_in_group"]   # what lavaan says (fixture)


def test_single_category_and_non_integer_codes_are_schema_errors(datcat):
    data = datcat.copy()
    data["u8"] = 3
    with pytest.raises(SchemaError, match="'u8' .*single observed category"):
        measurement_invariance(data, M2, group="g", ordered=True, steps=("configural",))
    data = datcat.astype({"u2": float})
    data.loc[[3, 7], "u2"] = 2.5
    with pytest.raises(SchemaError, match=r"'u2' has non-integer value\(s\) 2.5 at row\(s\) 3, 7"):
        measurement_invariance(data, M2, group="g", ordered=True)
    data = datcat.astype({"u3": str})
    with pytest.raises(SchemaError, match="'u3' has dtype"):
        measurement_invariance(data, M2, group="g", ordered=True)


@pytest.mark.parametrize("kwargs, error, match", [
    (dict(steps=("metric", "configural")), OptionError, "must be in the order"),
    (dict(steps=("configural", "means")), OptionError, "must be a subset"),
    (dict(parameterization="delta"), OptionError, "strict invariance .* parameterization='delta'"),
    (dict(ordered=["u1", "u9"]), OptionError, r"ordered= names \['u9'\], not among the model's items"),
    (dict(estimator="MLR"), OptionError, "estimator='MLR' is not supported"),
    (dict(partial=["u1 is free"]), OptionError, "partial= entry 'u1 is free'"),
    (dict(group="nope"), SchemaError, "column 'nope' not found"),
])
def test_bad_options(datcat, kwargs, error, match):
    args = dict(group="g", ordered=True) | kwargs
    with pytest.raises(error, match=match):
        measurement_invariance(datcat, M2, **args)


def test_models_that_are_not_measurement_models_are_refused(datcat):
    with pytest.raises(FormulaError, match="measurement model"):
        measurement_invariance(datcat, M2 + "\nFU2 ~ FU1", group="g", ordered=True)
    with pytest.raises(FormulaError, match="without modifiers"):
        measurement_invariance(datcat, "FU1 =~ 1*u1 + u2 + u3", group="g", ordered=True)
    one = datcat.assign(g="male")
    with pytest.raises(SchemaError, match="at least two"):
        measurement_invariance(one, M2, group="g", ordered=True)


# ---------------------------------------------------------------------------------------------------------------
# known truth: simulated WAI-SR items, one item non-invariant


def test_simulation_is_seeded_and_reproducible():
    a, truth = simulate_alliance_items(n_per_group=100, seed=11)
    b, _ = simulate_alliance_items(n_per_group=100, seed=11)
    pd.testing.assert_frame_equal(a, b)
    assert truth["seed"] == 11 and truth["non_invariant_item"] == "wai7"
    assert set(np.unique(a[[f"wai{i}" for i in range(1, 13)]])) <= {1, 2, 3, 4, 5}
    c, _ = simulate_alliance_items(n_per_group=100, seed=12)
    assert not a.equals(c)
    with pytest.raises(OptionError, match="not a WAI-SR item"):
        simulate_alliance_items(non_invariant="wai13")


def test_invariance_finds_the_shifted_item_and_partial_invariance_recovers_the_latent_mean():
    data, truth = simulate_alliance_items(n_per_group=1500, seed=2026)
    full = measurement_invariance(data, truth["model"], group="culture", ordered=True,
                                  steps=("configural", "thresholds", "metric", "scalar"))
    p = full.table.set_index("step")["p_value"]
    assert p["thresholds"] > 0.05 and p["metric"] > 0.05 and p["scalar"] < 0.001
    # freeing the shifted item's intercept restores scalar invariance and the true latent mean difference
    partial = measurement_invariance(data, truth["model"], group="culture", ordered=True, partial=["wai7 ~ 1"],
                                     steps=("configural", "thresholds", "metric", "scalar"))
    assert partial.table.set_index("step").loc["scalar", "p_value"] > 0.05
    means = partial.fits["scalar"].params.query("op == '~1' and group == 2 and lhs in ['goal', 'task', 'bond']")
    assert np.all(np.abs(means["estimate"] - truth["latent_means"]["B"]) < 2.5 * means["std_error"])
    bond_full = full.fits["scalar"].params.query("op == '~1' and group == 2 and lhs == 'bond'")["estimate"].iloc[0]
    bond = means.set_index("lhs").loc["bond", "estimate"]
    assert abs(bond - truth["latent_means"]["B"]) < abs(bond_full - truth["latent_means"]["B"])


def test_syntax_builder_marker_and_std_lv():
    cont = invariance_syntax("F =~ a + b", ["a", "b"], n_groups=3, step="scalar", thresholds={})
    assert "F =~ c(1, 1, 1)*a" in cont and "F ~ c(0, NA, NA)*1" in cont and "c(nu.2, nu.2, nu.2)*1" in cont
    ordi = invariance_syntax("F =~ a + b", ["a", "b"], n_groups=2, step="configural", thresholds={"a": 2, "b": 2})
    assert "F ~~ c(1, 1)*F" in ordi and "a ~~ c(1, 1)*a" in ordi and "a | c(NA, NA)*t2" in ordi
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert invariance_syntax("F =~ a + b", ["a", "b"], n_groups=2, step="configural", thresholds={"a": 2, "b": 2},
                                 parameterization="delta").count("~*~") == 2


# ---------------------------------------------------------------------------------------------------------------
# longitudinal invariance: datCat's u1-u4 and u5-u8 as items i1-i4 at sessions 1 and 2 (semTools longFacNames,
# longIndNames, auto = "all"); parameters matched through the fixture's name map (u5 -> i1_2, FU2 -> FU_2, ...)


def _renamed(case, names):
    ref = pd.DataFrame(case["params"])
    for col in ("lhs", "rhs"):
        ref[col] = ref[col].map(lambda v: names.get(v, v))
    flip = ref[ref["op"] == "~~"].rename(columns={"lhs": "rhs", "rhs": "lhs"})
    return pd.concat([ref, flip[flip["lhs"] != flip["rhs"]]], ignore_index=True)


@pytest.mark.parametrize("key, ordered, est_tol", [("mi_long_cat", True, 1e-5), ("mi_long_ml", None, 3e-5)])
def test_longitudinal_sequence_equals_semtools(key, ordered, est_tol):
    ref = REF[key]
    long = pd.read_csv(FIX / "datCat_long.csv")
    res = measurement_invariance(long, "FU =~ i1 + i2 + i3 + i4", client="id", session="session", ordered=ordered,
                                 steps=tuple(ref["steps"]))
    assert res.waves == (1, 2) and res.group is None and res.n_obs == 200 and len(res.wide) == 200
    for step, case in ref["steps"].items():
        fit = res.fits[step]
        lav = _renamed(case, ref["names"])
        m = fit.params.merge(lav, on=["lhs", "op", "rhs"])
        assert len(m) == len(case["params"]) == len(fit.params)
        if ordered is None:
            # semTools' ID.fac = "UL" for continuous items fixes the marker's intercept instead of the latent mean
            # (lavaan's group.equal way, ours): the same model, so only the mean structure differs
            m = m[m["op"].isin(["=~", "~~"])]
        np.testing.assert_array_less(np.abs(m["estimate"] - m["est"]), est_tol * np.maximum(np.abs(m["est"]), 1))
        free = m["se"] > 0
        np.testing.assert_allclose(m.loc[free, "std_error"], m.loc[free, "se"], rtol=1e-4)
        for k in ("chisq", "df", "npar"):
            assert fit.fit[k] == pytest.approx(case["fit"][k], rel=1e-5), (step, k)
        for k in ("chisq.scaled", "cfi.scaled", "rmsea.scaled", "srmr", "cfi", "rmsea"):
            if case["fit"].get(k) is not None:
                assert fit.fit[k.replace(".", "_")] == pytest.approx(case["fit"][k], rel=1e-4, abs=1e-6), (step, k)
    table = res.table.set_index("step")
    for lrt in ref["lrt"]:
        assert table.loc[lrt["step"], "df_diff"] == lrt["df_diff"]
        assert table.loc[lrt["step"], "chisq_diff"] == pytest.approx(lrt["chisq_diff"], rel=1e-4)
    assert "across sessions 1, 2 of 'session'" in res.summary() and "group =" not in res.r_call("metric")


def test_longitudinal_errors():
    long = pd.read_csv(FIX / "datCat_long.csv")
    with pytest.raises(OptionError, match="not both"):
        measurement_invariance(long.assign(g=1), "FU =~ i1 + i2 + i3 + i4", group="g", client="id", session="session")
    with pytest.raises(OptionError, match="not neither"):
        measurement_invariance(long, "FU =~ i1 + i2 + i3 + i4")
    changed = long.copy()
    changed.loc[(changed["session"] == 2) & (changed["i2"] == 1), "i2"] = 2
    with pytest.raises(SchemaError, match="'i2' has different categories at different sessions"):
        measurement_invariance(changed, "FU =~ i1 + i2 + i3 + i4", client="id", session="session", ordered=True)
    with pytest.raises(SchemaError, match="at least two"):
        measurement_invariance(long, "FU =~ i1 + i2 + i3 + i4", client="id", session="session", waves=[1])


def test_longitudinal_invariance_finds_the_drifting_item_and_recovers_the_growth():
    data, truth = simulate_alliance_sessions(n_clients=800, sessions=3, seed=7)
    again, _ = simulate_alliance_sessions(n_clients=800, sessions=3, seed=7)
    pd.testing.assert_frame_equal(data, again)
    full = measurement_invariance(data, truth["model"], client="client", session="session", ordered=True,
                                  steps=("configural", "thresholds", "metric", "scalar"))
    table = full.table.set_index("step")
    # thresholds and loadings are invariant in truth: no practical loss of fit (a 5% test rejects now and then)
    assert table.loc["thresholds", "delta_cfi"] > -0.01 and table.loc["metric", "delta_cfi"] > -0.01
    assert table.loc["scalar", "p_value"] < 0.001 and table.loc["scalar", "delta_cfi"] < -0.01
    partial = measurement_invariance(data, truth["model"], client="client", session="session", ordered=True,
                                     partial=["wai7 ~ 1"], steps=("configural", "thresholds", "metric", "scalar"))
    scalar = partial.table.set_index("step").loc["scalar"]
    assert scalar["delta_cfi"] > -0.01 and scalar["chisq_diff"] < table.loc["scalar", "chisq_diff"] / 5
    means = partial.fits["scalar"].params.query("op == '~1' and lhs in ['bond_2', 'bond_3']")
    expected = np.array([truth["factor_means"][2], truth["factor_means"][3]])
    assert np.all(np.abs(means["estimate"].to_numpy() - expected) < 2.5 * means["std_error"].to_numpy())
