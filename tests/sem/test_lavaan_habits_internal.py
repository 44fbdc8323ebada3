"""fit_sem's lavaan habits (issue 13) beyond the R fixtures: the default's warning, option checks and errors, the
panel builders' FIML default, and internal identities (the two routes of the information matrix, meanstructure=False
as a covariance-only fit, summary statistics as the raw data with the same moments)."""
import json
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import allianceStats as als
from allianceStats.errors import DataWarning, FormulaError, OptionError, SchemaError
from allianceStats.sem import fit_sem
from allianceStats.sem.likelihood import _pair_form, _pair_kernel

FIX = Path(__file__).resolve().parent / "fixtures" / "lavaan_habits"
REF = json.loads((FIX / "lavaan_habits.json").read_text(encoding="utf-8"))
HS_MODEL = REF["hs_cfa"]["model"]


@pytest.fixture(scope="module")
def hs():
    return pd.read_csv(FIX / "hs.csv")


@pytest.fixture(scope="module")
def hs_missing():
    return pd.read_csv(FIX / "hs_missing.csv")


def test_listwise_default_says_how_many_rows_it_dropped_and_what_fiml_does(hs_missing):
    complete = int(hs_missing[[f"x{i}" for i in range(1, 10)]].notna().all(axis=1).sum())
    dropped = len(hs_missing) - complete
    with pytest.warns(DataWarning, match=rf"{dropped} of {len(hs_missing)} rows have a missing value.*"
                                         r"missing='fiml'"):
        res = fit_sem(hs_missing, HS_MODEL)
    assert res.n_obs == complete and res.options["missing"] == "listwise"
    with warnings.catch_warnings():
        warnings.simplefilter("error", DataWarning)
        fiml = fit_sem(hs_missing, HS_MODEL, missing="ml")   # lavaan's name for FIML, no rows dropped
    assert fiml.n_obs == len(hs_missing) and fiml.options["missing"] == "fiml"
    assert fiml.options["information"] == "observed" and fiml.options["meanstructure"] is True


def test_the_panel_builders_keep_fiml(hs_missing):
    data = als.load_example()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ri = als.fit_riclpm(data, ["alliance", "outcome"], waves=range(1, 5))
    assert ri.options["missing"] == "fiml" and ri.options["information"] == "observed"


def test_complete_data_defaults_match_sem_in_r_and_fiml_gives_the_old_numbers(hs):
    default = fit_sem(hs, HS_MODEL)
    old = fit_sem(hs, HS_MODEL, missing="fiml")
    assert default.fit["npar"] == 21 and old.fit["npar"] == 30
    x9 = ("speed", "=~", "x9")
    se = {r: f.params.set_index(["lhs", "op", "rhs"]).loc[x9, "std_error"] for r, f in (("new", default), ("old", old))}
    assert se["new"] == pytest.approx(0.1512, abs=5e-5) and se["old"] == pytest.approx(0.1951, abs=5e-5)
    # same estimates, chi-square and df either way: the difference is the information and the mean structure
    assert np.allclose(default.fit[["chisq", "df"]], old.fit[["chisq", "df"]], rtol=1e-8)


def test_meanstructure_false_is_the_covariance_only_fit(hs):
    with_means = fit_sem(hs, HS_MODEL, meanstructure=True)
    without = fit_sem(hs, HS_MODEL)
    a = with_means.params[with_means.params["op"] != "~1"].reset_index(drop=True)
    pd.testing.assert_frame_equal(a.drop(columns=["ci_lower", "ci_upper"]),
                                  without.params.drop(columns=["ci_lower", "ci_upper"]), rtol=1e-7)
    assert with_means.fit["npar"] - without.fit["npar"] == 9
    assert with_means.fit["aic"] - without.fit["aic"] == pytest.approx(18, abs=1e-8)
    assert not any(line.endswith("~ 1") for line in without.to_lavaan().splitlines())
    assert "meanstructure = FALSE" in without.r_call()


def test_summary_statistics_equal_the_raw_data_with_the_same_moments(hs):
    xs = [f"x{i}" for i in range(1, 10)]
    raw = fit_sem(hs, HS_MODEL, meanstructure=True)
    summ = fit_sem(HS_MODEL, sample_cov=hs[xs].cov(), sample_mean=hs[xs].mean(), sample_nobs=len(hs))  # R's order
    pd.testing.assert_frame_equal(raw.params, summ.params, rtol=1e-7, atol=1e-9)
    assert np.allclose(raw.fit[summ.fit.index], summ.fit, rtol=1e-7, equal_nan=True)
    assert summ.options["sample_statistics"] and "sample.cov = S" in summ.r_call("S")


@pytest.mark.parametrize("kwargs, error, match", [
    (dict(se="robust.sem"), OptionError, "need the rows of the data"),
    (dict(estimator="MLR"), OptionError, "need the rows of the data"),
    (dict(missing="fiml"), OptionError, "needs the rows"),
    (dict(meanstructure=True), OptionError, "needs sample_mean"),
    (dict(group="school"), OptionError, "one matrix per group"),
])
def test_summary_statistics_refuse_what_needs_the_rows(hs, kwargs, error, match):
    xs = [f"x{i}" for i in range(1, 10)]
    with pytest.raises(error, match=match):
        fit_sem(None, HS_MODEL, sample_cov=hs[xs].cov(), sample_nobs=len(hs), **kwargs)


def test_summary_statistics_are_checked(hs):
    xs = [f"x{i}" for i in range(1, 10)]
    cov = hs[xs].cov()
    with pytest.raises(SchemaError, match="must be a pandas DataFrame"):
        fit_sem(None, HS_MODEL, sample_cov=cov.to_numpy(), sample_nobs=301)
    with pytest.raises(SchemaError, match="not symmetric"):
        fit_sem(None, HS_MODEL, sample_cov=cov.assign(x1=cov["x1"] + np.r_[0, 1, np.zeros(7)]), sample_nobs=301)
    bad = cov.copy()
    bad.loc["x1", "x1"] = -1.0
    with pytest.raises(SchemaError, match="not positive definite"):
        fit_sem(None, HS_MODEL, sample_cov=bad, sample_nobs=301)
    with pytest.raises(OptionError, match="needs sample_nobs"):
        fit_sem(None, HS_MODEL, sample_cov=cov)
    with pytest.raises(OptionError, match="either data or sample_cov"):
        fit_sem(hs, HS_MODEL, sample_cov=cov, sample_nobs=301)
    with pytest.raises(SchemaError, match="no mean for"):
        fit_sem(None, HS_MODEL, sample_cov=cov, sample_mean=hs[xs[:5]].mean(), sample_nobs=301)
    res = fit_sem(None, HS_MODEL, sample_cov=cov, sample_nobs=301)
    with pytest.raises(OptionError, match="summary statistics"):
        res.predict()


def test_option_values_are_checked(hs):
    with pytest.raises(OptionError, match="group_equal='slopes' is not supported"):
        fit_sem(hs, HS_MODEL, group="school", group_equal=["loadings", "slopes"])
    with pytest.raises(OptionError, match="information='hessian' is not supported"):
        fit_sem(hs, HS_MODEL, information="hessian")
    with pytest.raises(OptionError, match="meanstructure=False is not possible with missing='fiml'"):
        fit_sem(hs, HS_MODEL, missing="fiml", meanstructure=False)
    with pytest.raises(OptionError, match="robust.sem' is for complete data"):
        fit_sem(hs, HS_MODEL, missing="fiml", se="robust.sem")
    with pytest.raises(OptionError, match="std_lv=1 must be"):
        fit_sem(hs, HS_MODEL, std_lv=1)


def test_se_robust_is_lavaans_shorthand(hs, hs_missing):
    assert fit_sem(hs, HS_MODEL, se="robust").options["se"] == "robust.sem"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DataWarning)
        fiml = fit_sem(hs_missing, HS_MODEL, se="robust", missing="fiml")
    assert fiml.options["se"] == "robust.huber.white" and "chisq_scaled" not in fiml.fit  # the test stays ML's
    sem_se = fit_sem(hs, HS_MODEL, se="robust.sem").params["std_error"]
    assert np.allclose(fit_sem(hs, HS_MODEL, se="robust").params["std_error"], sem_se)


def test_constraints_and_modifiers_that_are_not_supported_say_so(hs):
    with pytest.raises(FormulaError, match="not linear"):
        fit_sem(hs, "visual =~ x1 + a*x2 + b*x3\na == b^2")
    with pytest.raises(FormulaError, match="not the label of a free parameter|not labels of free parameters"):
        fit_sem(hs, "visual =~ x1 + a*x2 + x3\na > zz")
    with pytest.raises(FormulaError, match="lower\\(0\\)\\*x2.*not supported"):
        fit_sem(hs, "visual =~ x1 + lower(0)*x2 + x3")


def test_an_inactive_inequality_changes_nothing_and_a_binding_one_holds_exactly():
    pd_data = pd.read_csv(FIX / "poldem.csv")
    free = REF["pd_inequality_inactive"]["model"].replace("y1 ~~ v*y1\nv > 1", "y1 ~~ v*y1")
    a = fit_sem(pd_data, REF["pd_inequality_inactive"]["model"])
    b = fit_sem(pd_data, free)
    pd.testing.assert_frame_equal(a.params, b.params)
    binding = fit_sem(pd_data, REF["pd_inequality_binding"]["model"])
    v = binding.params.query("label == 'v'").iloc[0]
    assert v["estimate"] == pytest.approx(3.0, abs=1e-12) and v["std_error"] == 0 and np.isnan(v["p_value"])
    assert "active set" in binding.convergence.optimizer


def test_group_partial_releases_exactly_the_named_parameters(hs):
    model = HS_MODEL
    res = fit_sem(hs, model, group="school", group_equal=["loadings", "intercepts"], group_partial=["visual =~ x2"])
    p = res.params.set_index(["lhs", "op", "rhs", "group"])["estimate"]
    assert p[("visual", "=~", "x2", 1)] != pytest.approx(p[("visual", "=~", "x2", 2)], abs=1e-3)
    assert p[("visual", "=~", "x3", 1)] == pytest.approx(p[("visual", "=~", "x3", 2)], abs=1e-12)
    assert p[("x5", "~1", "", 1)] == pytest.approx(p[("x5", "~1", "", 2)], abs=1e-12)


def test_post_fit_tools_for_groups_and_their_errors(hs):
    res = fit_sem(hs, HS_MODEL, group="school", group_equal="loadings")
    assert set(res.r2) == {"Pasteur", "Grant-White"} and set(res.fitted()) == {"Pasteur", "Grant-White"}
    one = res.residuals("cor", group="Pasteur")
    assert one.cov.shape == (9, 9) and one.mean is not None
    with pytest.raises(OptionError, match="not one of the fit's groups"):
        res.fitted(group="Nowhere")
    with pytest.raises(OptionError, match="type='normalized' is not supported"):
        res.residuals("normalized")
    boot = fit_sem(hs, "visual =~ x1 + x2 + x3", se="bootstrap", n_draws=20, seed=1)
    with pytest.raises(OptionError, match="se='bootstrap'"):
        boot.residuals("standardized")
    assert len(boot.residuals("raw").cov) == 3
    mi = fit_sem(hs, HS_MODEL).modindices(sort=True, minimum_value=10, op="=~")
    assert (mi["op"] == "=~").all() and (mi["mi"] > 10).all() and mi["mi"].is_monotonic_decreasing


def test_both_routes_of_the_information_kernel_agree():
    rng = np.random.default_rng(5)
    for P, p, q in ((1, 7, 40), (6, 5, 3)):
        A = np.array([np.cov(rng.normal(size=(20, p)).T) for _ in range(P)])
        B = np.array([np.cov(rng.normal(size=(20, p)).T) for _ in range(P)])
        dsig = rng.normal(size=(q, p, p))
        dsig = dsig + dsig.transpose(0, 2, 1)
        n = rng.integers(1, 9, size=P).astype(float)
        D = dsig.reshape(q, p * p)
        assert np.allclose(_pair_form(n, A, B, dsig), D @ _pair_kernel(n, A, B) @ D.T, rtol=1e-12, atol=1e-10)


def test_unicode_names_and_the_lavaan_order_of_arguments():
    data = pd.read_csv(FIX / "hs_unicode.csv", encoding="utf-8")
    res = fit_sem(REF["hs_unicode"]["model"], data)
    assert "größe" in set(res.params["rhs"]) and "vïsual" in set(res.params["lhs"])
    assert "vïsual =~ 1*héllo + größe + Ωmega" in res.to_lavaan()
