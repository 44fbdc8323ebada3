"""fit_sem / compare_sem / SEMResult follow the package vocabulary (docs/changelog.d/README.md): conf_level,
n_draws, a recorded seed, OptionError for bad values, the result protocol, one paths schema, ComparisonResult."""
import math
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from allianceStats.comparison import COMPARISON_COLUMNS, ComparisonResult
from allianceStats.errors import OptionError, SchemaError
from allianceStats.results import Result
from allianceStats.sem import compare_sem, fit_sem
from allianceStats.sem.result import PATH_COLUMNS

FIX = Path(__file__).resolve().parent / "fixtures"
pytestmark = pytest.mark.filterwarnings("ignore::allianceStats.errors.DataWarning")  # path.csv has missing x
MODEL = "m1 ~ a*x + w\ny ~ b*m1 + x\nab := a*b"


@pytest.fixture(scope="module")
def path_data():
    return pd.read_csv(FIX / "path.csv")


@pytest.fixture(scope="module")
def fitted(path_data):
    return fit_sem(MODEL, path_data, missing="fiml")   # FIML: every row counts (path.csv has missing values)


def test_result_protocol(fitted, path_data):
    assert isinstance(fitted, Result)
    assert fitted.converged is True and fitted.converged == fitted.convergence.converged
    assert isinstance(fitted.n_obs, int) and fitted.n_obs == len(path_data)
    assert fitted.n_obs_by_group == (len(path_data),)
    assert fitted.conf_level == 0.95 and fitted.params.attrs["conf_level"] == 0.95
    assert fitted.provenance.function == "fit_sem"
    assert fitted.provenance.elapsed_seconds is not None and fitted.provenance.elapsed_seconds > 0
    assert fitted.provenance.seed is None  # no randomness without the bootstrap
    assert fitted.provenance.options["conf_level"] == 0.95
    assert "95% confidence intervals" in fitted.summary() and "Regressions:" in fitted.summary()
    assert repr(fitted).startswith("<SEMResult: ML, n = ") and len(repr(fitted)) < 120


def test_paths_schema(fitted):
    paths = fitted.paths
    assert tuple(paths.columns[:10]) == PATH_COLUMNS
    assert (paths["op"] == "~").all()
    assert set(zip(paths["lhs"], paths["rhs"])) == {("m1", "x"), ("m1", "w"), ("y", "m1"), ("y", "x")}
    assert paths.set_index("label").loc["b", "estimate"] == pytest.approx(
        fitted.params.query("label == 'b'")["estimate"].iloc[0])


def test_conf_level_sets_the_wald_intervals(path_data, fitted):
    narrow = fit_sem(MODEL, path_data, conf_level=0.8, missing="fiml")
    assert narrow.conf_level == 0.8
    pd.testing.assert_series_equal(narrow.params["estimate"], fitted.params["estimate"])
    wide, thin = fitted.params.query("op != '~~' or lhs != rhs"), narrow.params.query("op != '~~' or lhs != rhs")
    free = wide["std_error"] > 0
    ratio = ((thin["ci_upper"] - thin["ci_lower"]) / (wide["ci_upper"] - wide["ci_lower"]))[free]
    expected = stats.norm.ppf(0.9) / stats.norm.ppf(0.975)
    np.testing.assert_allclose(ratio, expected, rtol=1e-10)


def test_bootstrap_seed_is_always_recorded_and_repeats_the_draws(path_data):
    model = "y ~ b*m1\nb2 := b^2"
    first = fit_sem(model, path_data, se="bootstrap", n_draws=30)
    seed = first.provenance.seed
    assert isinstance(seed, int) and seed >= 0
    again = fit_sem(model, path_data, se="bootstrap", n_draws=30, seed=seed)
    pd.testing.assert_frame_equal(first.params, again.params)
    assert first.provenance.options["n_draws"] == 30
    other = fit_sem(model, path_data, se="bootstrap", n_draws=30, seed=seed + 1)
    assert not np.allclose(other.params["std_error"], first.params["std_error"])


def test_bootstrap_intervals_follow_conf_level(path_data):
    kw = dict(se="bootstrap", n_draws=40, seed=2)
    a = fit_sem("y ~ b*m1", path_data, conf_level=0.95, **kw).params.query("label == 'b'").iloc[0]
    b = fit_sem("y ~ b*m1", path_data, conf_level=0.5, **kw).params.query("label == 'b'").iloc[0]
    assert a["ci_lower"] < b["ci_lower"] < b["estimate"] < b["ci_upper"] < a["ci_upper"]


def test_old_argument_and_attribute_names_warn(path_data):
    with pytest.warns(FutureWarning, match="n_boot= is renamed n_draws="):
        old = fit_sem("y ~ b*m1", path_data, se="bootstrap", n_boot=20, seed=4)
    new = fit_sem("y ~ b*m1", path_data, se="bootstrap", n_draws=20, seed=4)
    pd.testing.assert_frame_equal(old.params, new.params)
    with pytest.warns(FutureWarning, match=r"SEMResult.level is renamed SEMResult.conf_level") as caught:
        assert new.level == 0.95
    assert caught[0].filename == __file__  # the warning points at the caller's line
    with pytest.raises(OptionError, match="give only n_draws="):
        fit_sem("y ~ m1", path_data, n_boot=20, n_draws=20)


@pytest.mark.parametrize("kwargs, match", [
    (dict(se="bootstrapped"), "se='bootstrapped' is not supported; choose one of"),
    (dict(missing="pairwise"), "missing='pairwise' is only available with ordered items"),
    (dict(estimator="WLSMV"), "estimator='WLSMV' is not supported"),
    (dict(defaults="lavaan"), "defaults='lavaan' is not supported"),
    (dict(conf_level=95), "conf_level=95 must be a number between 0 and 1"),
    (dict(n_draws=1), "n_draws=1 must be an integer of at least 2"),
    (dict(seed=-3), "seed=-3 must be a non-negative integer"),
])
def test_bad_option_values_are_option_errors(path_data, kwargs, match):
    with pytest.raises(OptionError, match=match):
        fit_sem("y ~ m1", path_data, **kwargs)


def test_table_first_and_lavaan_order_give_the_same_fit(path_data):
    a = fit_sem(path_data, "y ~ m1")
    b = fit_sem("y ~ m1", path_data)  # lavaan's sem(model, data) order, accepted as typed
    pd.testing.assert_frame_equal(a.params, b.params)


def test_bad_data_is_a_schema_error(path_data):
    with pytest.raises(SchemaError, match="must be a pandas DataFrame"):
        fit_sem("y ~ m1", path_data.to_numpy())
    with pytest.raises(SchemaError, match="column 'site' not found"):
        fit_sem("y ~ m1", path_data, group="site")
    with pytest.raises(SchemaError, match="column 'y' has dtype"):
        fit_sem("y ~ m1", path_data.assign(y=path_data["y"].astype(str)))
    with pytest.raises(SchemaError, match="group column 'g' is missing at 1 row"):
        fit_sem("y ~ m1", path_data.assign(g=["a"] * (len(path_data) - 1) + [None]), group="g")


def test_compare_sem_returns_a_comparison_result(path_data):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        full = fit_sem("m1 ~ x + w\ny ~ m1 + x", path_data)
        reduced = fit_sem("m1 ~ x + w\ny ~ m1", path_data)
    result = compare_sem(reduced, full, names=["no direct path", "direct path"])
    assert isinstance(result, ComparisonResult) and isinstance(result, Result)
    assert tuple(result.table.columns[:10]) == COMPARISON_COLUMNS
    assert list(result.table.columns[10:]) == ["cfi", "rmsea", "rmsea_diff"]
    assert result.table["model"].tolist() == ["direct path", "no direct path"]  # least restricted first
    row = result.table.iloc[1]
    assert row["chisq_diff"] == pytest.approx(2 * (full.fit["loglik"] - reduced.fit["loglik"]), rel=1e-8)
    assert row["p_value"] == pytest.approx(stats.chi2.sf(row["chisq_diff"], 1))
    assert math.isnan(result.table["p_value"].iloc[0]) and result.n_obs == full.n_obs
    assert result.provenance.function == "compare_sem"
    assert result.provenance.data_sha256 == full.provenance.data_sha256
    with pytest.raises(OptionError, match="at least two"):
        compare_sem(full)
    with pytest.raises(OptionError, match="one name per model"):
        compare_sem(full, reduced, names=["a"])
    with pytest.raises(OptionError, match="different numbers of rows"):
        compare_sem(full, fit_sem("m1 ~ x + w\ny ~ m1", path_data.iloc[:-10]))
    with pytest.raises(OptionError, match="cannot compare a scaled"):
        compare_sem(full, fit_sem("m1 ~ x + w\ny ~ m1", path_data, estimator="MLR"))
