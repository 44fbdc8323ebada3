"""Review of issue 16's additions (ordered items next to continuous variables, covariates as conditional.x,
missing='pairwise', mixed-item invariance): bad input gives AllianceStatsError subclasses that name the column,
group and fix; the input is never modified; summary() reports what lavaan reports (estimator, used / total rows
per group, missing patterns, robust standard errors); r_call() writes every option that changes the numbers."""
from __future__ import annotations

import shutil
import subprocess
import warnings

import numpy as np
import pandas as pd
import pytest

import allianceStats as als
from allianceStats.errors import DataWarning, IdentificationError, OptionError, SchemaError

ITEMS = ["u1", "u2", "u3", "u4"]
MIXED = "F =~ u1 + u2 + u3 + u4 + y"
MIMIC = "F =~ u1 + u2 + u3 + u4 + y\nF ~ x"


def _data(n: int = 300, seed: int = 1) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=n)
    f = rng.normal(size=n) + 0.5 * x
    d = pd.DataFrame({v: np.digitize(0.8 * f + 0.6 * rng.normal(size=n), [-0.8, 0.2, 1.0]) + 1 for v in ITEMS})
    d["y"] = 0.5 * f + rng.normal(size=n)
    d["x"] = x
    d["g"] = np.where(np.arange(n) < n // 2, "a", "b")
    return d


def _with_missing(seed: int = 3) -> pd.DataFrame:
    d = _data()
    rng = np.random.default_rng(seed)
    d.loc[rng.random(len(d)) < 0.1, "u2"] = np.nan
    d.loc[rng.random(len(d)) < 0.1, "y"] = np.nan
    d.loc[rng.choice(len(d), 12, replace=False), "x"] = np.nan
    d.loc[6, ["u1", "u2", "u3", "u4", "y"]] = np.nan      # a row missing every outcome and indicator
    return d


def _fit(data, model=MIMIC, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DataWarning)
        return als.fit_sem(data, model, ordered=ITEMS, **kw)


# ----------------------------------------------------------------------------------------------------
# 1. bad input


@pytest.mark.parametrize("kind, expected", [
    ("text", "pd.get_dummies(data['x']"),
    ("category", "pd.get_dummies(data['x']"),
    ("numbers_as_text", "pd.to_numeric(data['x'])"),
    ("bool", "data['x'].astype(int)"),
])
def test_a_covariate_that_is_not_numeric_says_how_to_code_it(kind, expected):
    d = _data()
    d["x"] = {"text": np.where(d["x"] > 0, "high", "low"),
              "category": pd.Categorical(np.where(d["x"] > 0, "high", "low")),
              "numbers_as_text": d["x"].round(3).astype(str),
              "bool": d["x"] > 0}[kind]
    before = d.copy()
    with pytest.raises(SchemaError) as err:
        _fit(d)
    assert expected in str(err.value) and "covariate 'x'" in str(err.value)
    pd.testing.assert_frame_equal(d, before)


@pytest.mark.parametrize("missing", ["listwise", "pairwise"])
@pytest.mark.parametrize("column", ["u4", "y", "x"])
def test_a_model_variable_without_any_observed_value_is_named(column, missing):
    d = _data()
    d[column] = np.nan
    with pytest.raises(SchemaError) as err:
        _fit(d, missing=missing)
    assert f"model variable {column!r} has no observed value (all 300 rows are missing)" in str(err.value)


def test_an_item_missing_in_a_whole_group_is_named_under_pairwise():
    d = _data()
    d.loc[d["g"] == "b", "u4"] = np.nan
    with pytest.raises(SchemaError) as err:
        _fit(d, model=MIXED, missing="pairwise", group="g")
    assert "ordered item 'u4' has no observed value in group 'b'" in str(err.value)


def test_a_categorical_covariate_of_a_continuous_model_says_to_make_dummies():
    d = _data()
    d["x"] = np.where(d["x"] > 0, "high", "low")
    with pytest.raises(SchemaError, match=r"pd.get_dummies\(data\['x'\]"):
        als.fit_sem(d, "y ~ x")


def test_a_group_with_one_row_names_the_group_and_the_rows():
    d = _data()
    d.loc[0, "g"] = "z"
    with pytest.raises(IdentificationError) as err:
        _fit(d, group="g")
    assert "group 'z' of 'g' has 1 usable row(s) of 1" in str(err.value) and "Merge or drop" in str(err.value)


def test_pairwise_variables_never_observed_together_are_listed_plainly():
    d = _data()
    d.loc[: 149, "y"] = np.nan
    d.loc[150:, "u4"] = np.nan
    with pytest.raises(SchemaError) as err:
        _fit(d, model=MIXED, missing="pairwise")
    text = str(err.value)
    assert "1 pair(s) of variables are observed together in fewer than 2 rows ('u4' and 'y')" in text
    assert "\"'" not in text


def test_an_empty_category_counts_the_rows_used_as_lavaan():
    """Under pairwise, rows dropped for a missing covariate do not count (lavaan: "frequencies are [39 55 31 0]" on
    this table, checked with lavaan 0.6.14); rows with the item alone observed do."""
    d = _data()
    top = (d["g"] == "b") & (d["u1"] == 4)
    dropped = d.copy()
    dropped.loc[top, "x"] = np.nan
    with pytest.raises(SchemaError) as err:
        _fit(dropped, model="F =~ u1 + u2 + u3 + u4\nF ~ x", missing="pairwise", group="g")
    n_used = int(((d["g"] == "b") & ~top).sum())
    assert f"ordered item 'u1' has no row in category 4 in group 'b' among the {n_used} row(s)" in str(err.value)
    alone = d.copy()
    alone.loc[top, ["u2", "u3", "u4", "y"]] = np.nan
    fit = _fit(alone, model=MIXED, missing="pairwise", group="g")
    assert fit.converged and fit.n_obs_by_group == (150, 150)


@pytest.mark.parametrize("kw, message", [
    (dict(missing="fiml"), "missing='fiml' is not available with ordered items"),
    (dict(estimator="MLR"), "estimator='MLR' is for continuous variables"),
])
def test_options_lavaans_least_squares_do_not_take(kw, message):
    with pytest.raises(OptionError, match=message):
        _fit(_data(), **kw)


def test_estimator_ml_ordered_true_and_an_ordered_covariate_behave_as_lavaan():
    d = _data()
    listed = _fit(d)
    assert listed.options["estimator"] == "WLSMV"    # lavaan's default with ordered items
    every = als.fit_sem(d[[*ITEMS, "y", "x"]].assign(y=d["u1"]), "F =~ u1 + u2 + u3 + u4\nF ~ x", ordered=True)
    assert every.options["ordered"] == ITEMS and every.options["conditional_x"] == ["x"]
    with pytest.warns(DataWarning, match="declared as ordered"):
        named = als.fit_sem(d, MIMIC, ordered=[*ITEMS, "x"])
    np.testing.assert_allclose(named.params["estimate"], listed.params["estimate"], rtol=1e-10)


@pytest.mark.parametrize("model, kw", [
    (MIXED, dict(missing="pairwise")),
    (MIMIC, dict(missing="pairwise", group="g", parameterization="theta")),
    (MIMIC, dict()),
])
def test_the_input_table_is_not_modified(model, kw):
    d = _with_missing()
    d["g"] = pd.Categorical(d["g"])
    before = d.copy()
    _fit(d, model=model, **kw)
    pd.testing.assert_frame_equal(d, before)


# ----------------------------------------------------------------------------------------------------
# 2. what a user sees


def test_summary_of_a_pairwise_mimic_fit_reports_rows_and_patterns_as_lavaan():
    d = _with_missing()
    fit = _fit(d, missing="pairwise", group="g")
    lines = fit.summary().splitlines()
    outcomes = ["u1", "u2", "u3", "u4", "y"]
    used = d["x"].notna() & d[outcomes].notna().any(axis=1)
    for lab in ("a", "b"):
        rows = used & (d["g"] == lab)
        patterns = len(d.loc[rows, outcomes].isna().drop_duplicates())
        assert f"    {lab:<38}{int(rows.sum()):>12}{int((d['g'] == lab).sum()):>12}" in lines
        assert any(line.split() == [lab, str(patterns)] for line in lines[lines.index(
            "  Number of missing patterns per group:"):])
    assert "  Number of observations per group:               Used       Total" in lines
    for label, value in (("Estimator", "DWLS"), ("Standard errors", "Robust.sem"),
                         ("Information saturated (h1) model", "Unstructured")):
        assert any(line.strip().startswith(label) and line.split()[-1] == value for line in lines)
    assert "scaled and shifted" in fit.summary() and "x ~~ x" not in fit.summary()
    assert len(repr(fit)) < 1000 and "WLSMV" in repr(fit)


def test_summary_of_a_single_group_listwise_fit_shows_used_and_total():
    d = _with_missing()
    fit = _fit(d, model=MIXED)
    used = int(d[[*ITEMS, "y"]].notna().all(axis=1).sum())
    assert f"  {'Number of observations':<40}{used:>12}{len(d):>12}" in fit.summary().splitlines()
    assert "Number of missing patterns" not in fit.summary()


def test_r_call_writes_the_options_that_change_the_numbers():
    d = _with_missing()
    items = 'ordered = c("u1", "u2", "u3", "u4")'
    assert _fit(d, missing="pairwise", group="g", parameterization="theta").r_call("d") == (
        f'lavaan::lavaan(model, data = d, {items}, estimator = "WLSMV", parameterization = "theta", group = "g", '
        'missing = "pairwise")')
    assert _fit(d, estimator="DWLS", se="robust").r_call("d") == (
        f'lavaan::lavaan(model, data = d, {items}, estimator = "DWLS", se = "robust.sem", '
        'parameterization = "delta")')
    assert _fit(d, se="none").r_call("d") == (
        f'lavaan::lavaan(model, data = d, {items}, estimator = "WLSMV", se = "none", parameterization = "delta")')
    assert _fit(d, estimator="DWLS").r_call("d") == (
        f'lavaan::lavaan(model, data = d, {items}, estimator = "DWLS", parameterization = "delta")')
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DataWarning)
        mi = als.measurement_invariance(d, MIXED, group="g", ordered=ITEMS, missing="pairwise",
                                        steps=("configural", "thresholds"))
    assert mi.r_call("thresholds", "d") == (
        f'lavaan::cfa(model, data = d, group = "g", {items}, estimator = "WLSMV", parameterization = "theta", '
        'missing = "pairwise")')
    noise = np.random.default_rng(5).normal(size=(len(d), 2))
    cont = d.assign(y2=d["u1"] + d["u3"] + noise[:, 0], y3=d["u2"] + d["u4"] + noise[:, 1])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DataWarning)
        mi_ml = als.measurement_invariance(cont, "F =~ y + y2 + y3", group="g", missing="fiml",
                                           steps=("configural", "metric"))
    assert mi_ml.converged
    assert mi_ml.r_call("metric", "d") == 'lavaan::cfa(model, data = d, group = "g", estimator = "ML", missing = "ml")'


@pytest.mark.skipif(shutil.which("Rscript") is None, reason="Rscript (with lavaan) is not installed")
def test_r_call_and_to_lavaan_reproduce_robust_dwls_and_pairwise_invariance_in_r(tmp_path):
    d = _with_missing()
    d.to_csv(tmp_path / "d.csv", index=False)
    fit = _fit(d, estimator="DWLS", se="robust")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DataWarning)
        mi = als.measurement_invariance(d, MIXED, group="g", ordered=ITEMS, missing="pairwise",
                                        steps=("configural", "thresholds"))
    (tmp_path / "m1.txt").write_text(fit.to_lavaan() + "\n")
    (tmp_path / "m2.txt").write_text(mi.to_lavaan("thresholds") + "\n")
    script = (
        "suppressMessages(library(lavaan)); d <- read.csv('d.csv')\n"
        "model <- paste(readLines('m1.txt'), collapse = '\\n')\n"
        f"f <- suppressWarnings({fit.r_call('d')})\n"
        "pe <- parameterEstimates(f, standardized = TRUE); pe <- pe[pe$op %in% c('=~', '~', '|'), ]\n"
        "write.csv(data.frame(lhs = pe$lhs, op = pe$op, rhs = pe$rhs, est = pe$est, se = pe$se,"
        " std_all = pe$std.all), 'pe.csv', row.names = FALSE)\n"
        "model <- paste(readLines('m2.txt'), collapse = '\\n')\n"
        f"f2 <- suppressWarnings({mi.r_call('thresholds', 'd')})\n"
        "writeLines(format(fitMeasures(f2, 'chisq'), digits = 15), 'chisq.txt')\n")
    (tmp_path / "run.R").write_text(script)
    done = subprocess.run(["Rscript", "run.R"], cwd=tmp_path, capture_output=True, text=True, timeout=300)
    if done.returncode != 0 and "there is no package called" in done.stderr:
        pytest.skip(reason="lavaan is not installed for Rscript")
    assert done.returncode == 0, done.stderr
    ref = pd.read_csv(tmp_path / "pe.csv", keep_default_na=False, na_values=["NA"])
    ours = fit.params.set_index(["lhs", "op", "rhs"])
    for r in ref.itertuples():
        row = ours.loc[(r.lhs, r.op, r.rhs)]
        assert row["estimate"] == pytest.approx(r.est, rel=1e-5, abs=1e-7)
        if np.isfinite(r.se) and r.se > 0:
            assert row["std_error"] == pytest.approx(r.se, rel=1e-4)
        assert row["std_all"] == pytest.approx(r.std_all, rel=1e-5, abs=1e-7)
    chisq = float((tmp_path / "chisq.txt").read_text())
    assert mi.table.set_index("step").at["thresholds", "chisq"] == pytest.approx(chisq, rel=1e-4)


def test_invariance_with_ordered_items_and_estimator_ml_says_which_estimators_apply():
    with pytest.raises(OptionError,
                       match="estimator='ML' is not supported with ordered items .*'WLSMV' \\(the default"):
        als.measurement_invariance(_data(), MIXED, group="g", ordered=ITEMS, estimator="ML")


@pytest.mark.parametrize("ordered", [ITEMS, None])
def test_invariance_reports_the_rows_dropped_once_not_once_per_step(ordered):
    d = _with_missing()
    model = MIXED if ordered else "F =~ y + u1 + u3"
    with pytest.warns(DataWarning) as record:
        res = als.measurement_invariance(d, model, group="g", ordered=ordered,
                                         steps=("configural", "metric", "scalar"))
    dropped = [w for w in record if "dropped" in str(w.message)]
    assert len(res.fits) == 3 and len(dropped) == 1
