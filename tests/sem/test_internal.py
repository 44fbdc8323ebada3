"""Internal consistency of the SEM engine: OLS, analytic gradient, CLPM nesting, semopy, bootstrap, inputs.

Tolerances: OLS agreement 1e-6 (both closed form at the optimum); gradient vs central differences 1e-6
relative; semopy 2e-3 relative (its SLSQP optimiser stops ~1e-4 short of the optimum, measured here; it is an
independent cross-check of the model, not of the last digit).
"""
import sys
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm
from hypothesis import given, settings
from hypothesis import strategies as st

from allianceStats.errors import BoundaryWarning, ConvergenceWarning
from allianceStats.sem import estimate as estimate_module
from allianceStats.sem import fit_sem
from allianceStats.sem.partable import build_partable
from allianceStats.sem.prepare import Problem, prepare_frames
from allianceStats.sem.syntax import parse_model

FIX = Path(__file__).resolve().parent / "fixtures"
sys.path.insert(0, str(FIX))
from generate_data import riclpm_syntax  # noqa: E402  (the fixture generator is the one source of the syntax)


def _riclpm(waves=4, ri=True):
    return riclpm_syntax(waves, random_intercepts=ri)


def test_saturated_path_model_equals_ols():
    rng = np.random.default_rng(11)
    n = 250
    df = pd.DataFrame({"x1": rng.normal(size=n), "x2": rng.normal(size=n)})
    df["y"] = 1.0 + 0.5 * df["x1"] - 0.3 * df["x2"] + rng.normal(size=n)
    res = fit_sem("y ~ x1 + x2", df, missing="listwise", meanstructure=True)
    ols = sm.OLS(df["y"], sm.add_constant(df[["x1", "x2"]])).fit()
    p = res.params.set_index(["lhs", "op", "rhs"])
    assert np.allclose(p.loc[("y", "~", "x1"), "estimate"], ols.params["x1"], atol=1e-6)
    assert np.allclose(p.loc[("y", "~", "x2"), "estimate"], ols.params["x2"], atol=1e-6)
    assert np.allclose(p.loc[("y", "~1", ""), "estimate"], ols.params["const"], atol=1e-6)
    assert np.allclose(p.loc[("y", "~~", "y"), "estimate"], ols.ssr / n, rtol=1e-6)
    # ML standard errors (expected information, fixed.x) = OLS SEs rescaled from n - k to n
    k = 3
    for v in ("x1", "x2"):
        assert np.allclose(p.loc[("y", "~", v), "std_error"], ols.bse[v] * np.sqrt((n - k) / n), rtol=1e-6)
    assert res.fit["df"] == 0 and abs(res.fit["chisq"]) < 1e-8


def test_analytic_gradient_matches_numerical_under_fiml():
    data = pd.read_csv(FIX / "panel.csv")
    stmts, defs = parse_model(_riclpm())
    pt = build_partable(stmts, defs, observed=set(data.columns), n_groups=1, defaults="none")
    labels, frames = prepare_frames(data, pt.observed, None, "fiml", pt.exogenous_x)
    work = Problem(pt, frames, "fiml")
    theta = estimate_module.start_values(work.table, list(pt.observed), list(pt.latent), work.datas)
    theta = theta + np.random.default_rng(0).normal(scale=0.02, size=len(theta))
    g = work.objective.gradient(theta)
    num = np.zeros_like(g)
    for k in range(len(theta)):
        e = np.zeros_like(theta)
        e[k] = 1e-5
        num[k] = (work.objective.loglik(theta + e) - work.objective.loglik(theta - e)) / 2e-5
    assert np.allclose(g, num, rtol=1e-6, atol=1e-6 * np.abs(g).max())


def test_riclpm_with_zero_random_intercepts_equals_clpm():
    data = pd.read_csv(FIX / "panel.csv")
    fixed = _riclpm().replace("RIx ~~ RIx", "RIx ~~ 0*RIx").replace("RIy ~~ RIy", "RIy ~~ 0*RIy") \
        .replace("RIx ~~ RIy", "RIx ~~ 0*RIy")
    a = fit_sem(fixed, data, defaults="none")
    b = fit_sem(_riclpm(ri=False), data, defaults="none")
    assert abs(a.fit["loglik"] - b.fit["loglik"]) < 1e-7 * abs(b.fit["loglik"])
    assert a.fit["df"] == b.fit["df"]
    pa = a.params.set_index(["lhs", "op", "rhs"])["estimate"]
    pb = b.params.set_index(["lhs", "op", "rhs"])["estimate"]
    common = pb.index
    assert np.allclose(pa.loc[common], pb.loc[common], atol=1e-6)


def test_semopy_agrees_on_complete_data():
    semopy = pytest.importorskip("semopy")
    data = pd.read_csv(FIX / "cfa.csv").dropna().reset_index(drop=True)
    model = "fa =~ a1 + a2 + a3\nfb =~ b1 + b2 + b3"
    sm_model = semopy.Model(model)
    sm_model.fit(data, obj="MLW")
    theirs = sm_model.inspect()
    ours = fit_sem(model, data, missing="listwise").params
    for _, r in theirs.iterrows():
        if r["op"] == "~":  # semopy writes loadings as indicator ~ factor
            mine = ours.query("op == '=~' and lhs == @r.rval and rhs == @r.lval")["estimate"]
        else:
            mine = ours.query("op == '~~' and ((lhs == @r.lval and rhs == @r.rval) or "
                              "(lhs == @r.rval and rhs == @r.lval))")["estimate"]
        assert len(mine) == 1
        assert np.isclose(mine.iloc[0], float(r["Estimate"]), rtol=2e-3, atol=1e-4)


def test_fitting_does_not_mutate_inputs():
    data = pd.read_csv(FIX / "path.csv")
    before = data.copy()
    model = "m1 ~ x\n y ~ m1"
    fit_sem(model, data)
    pd.testing.assert_frame_equal(data, before)


def test_bootstrap_is_seeded_and_near_the_information_se():
    rng = np.random.default_rng(5)
    n = 400
    x = rng.normal(size=n)
    df = pd.DataFrame({"x": x, "y": 0.5 * x + rng.normal(size=n)})
    model = "y ~ b*x\nb2 := b^2"
    a = fit_sem(model, df, se="bootstrap", n_draws=200, seed=7)
    b = fit_sem(model, df, se="bootstrap", n_draws=200, seed=7)
    std = fit_sem(model, df)
    pd.testing.assert_frame_equal(a.params, b.params)
    se_boot = a.params.query("op == '~'")["std_error"].iloc[0]
    se_info = std.params.query("op == '~'")["std_error"].iloc[0]
    # SE of a bootstrap SD with 200 replicates is about 5%; allow 4 of those
    assert abs(se_boot / se_info - 1) < 0.2
    row = a.params.query("op == '~'").iloc[0]
    assert row["ci_lower"] < row["estimate"] < row["ci_upper"]
    # the defined parameter's percentile interval is the square of the slope's (a monotone map here)
    d = a.params.query("op == ':='").iloc[0]
    assert np.isclose(d["ci_lower"], row["ci_lower"] ** 2, rtol=0.05) and d["ci_upper"] > d["estimate"]


def test_heywood_case_is_reported():
    rng = np.random.default_rng(3)
    n = 60
    f = rng.normal(size=n)
    # x1 nearly equal to the factor, tiny sample: the residual variance goes negative
    df = pd.DataFrame({"x1": f + rng.normal(scale=0.01, size=n), "x2": 0.3 * f + rng.normal(size=n),
                       "x3": 0.3 * f + rng.normal(size=n)})
    df["x1"] = df["x1"] * 1.0
    with warnings.catch_warnings(record=True) as rec:
        warnings.simplefilter("always")
        res = fit_sem("f =~ x2 + x1 + x3", df)
    theta_x1 = res.params.query("lhs == 'x1' and op == '~~'")["estimate"].iloc[0]
    if theta_x1 < 0:
        assert any("Heywood" in str(w.message) for w in rec)
        assert any("Heywood" in w for w in res.convergence.warnings)
    else:
        pytest.fail(f"the constructed data did not produce a Heywood case (theta = {theta_x1})")


def test_unidentified_model_warns_and_gives_no_standard_errors():
    rng = np.random.default_rng(9)
    df = pd.DataFrame({"x1": rng.normal(size=100), "x2": rng.normal(size=100)})
    with warnings.catch_warnings(record=True) as rec:
        warnings.simplefilter("always")
        res = fit_sem("f =~ NA*x1 + x2", df)
    assert any("not be identified" in str(w.message) for w in rec)
    assert res.params.query("op == '=~'")["std_error"].isna().all()


@pytest.mark.parametrize("name, model, defaults", [
    ("panel.csv", _riclpm(), "none"),
    ("path.csv", "m1 ~ a1*x + w\nm2 ~ a2*x + d*m1\ny ~ b1*m1 + b2*m2 + cp*x", "sem"),
    ("cfa.csv", "fa =~ a1 + a2 + a3\nfb =~ b1 + b2 + b3", "sem"),
])
def test_analytic_observed_information_matches_numerical_hessian(name, model, defaults):
    data = pd.read_csv(FIX / name)
    stmts, defs = parse_model(model)
    pt = build_partable(stmts, defs, observed=set(data.columns), n_groups=1, defaults=defaults)
    _, frames = prepare_frames(data, pt.observed, None, "fiml", pt.exogenous_x)
    work = Problem(pt, frames, "fiml")
    theta, _, _ = estimate_module.optimize(work, polish=False)
    theta = theta + np.random.default_rng(1).normal(scale=0.01, size=len(theta))  # away from the optimum
    analytic = work.objective.observed_information(theta)
    numerical = work.objective.numerical_observed_information(theta)
    assert np.abs(analytic - numerical).max() <= 1e-7 * np.abs(numerical).max()


def test_non_positive_definite_latent_covariance_is_reported():
    # on this fixture lavaan 0.6.14 also warns: the random intercepts correlate beyond 1
    data = pd.read_csv(FIX / "panel.csv")
    with pytest.warns(BoundaryWarning, match="latent variables is not positive definite"):
        res = fit_sem(_riclpm(), data, defaults="none", missing="fiml")
    assert any("not positive definite" in w for w in res.convergence.warnings)


def _one_fisher_step(monkeypatch):
    real = estimate_module.fisher_scoring

    def one_step(obj, theta0, **kw):
        return real(obj, theta0, max_iter=1)

    monkeypatch.setattr(estimate_module, "fisher_scoring", one_step)


def test_second_optimiser_takes_over_and_says_so(monkeypatch):
    _one_fisher_step(monkeypatch)
    data = pd.read_csv(FIX / "cfa.csv").dropna()
    model = "fa =~ a1 + a2 + a3\nfb =~ b1 + b2 + b3"
    with pytest.warns(ConvergenceWarning, match="continued with BFGS"):
        res = fit_sem(model, data, missing="listwise")
    monkeypatch.undo()
    ref = fit_sem(model, data, missing="listwise")
    assert res.convergence.converged and "BFGS" in res.convergence.optimizer
    assert np.allclose(res.params["estimate"], ref.params["estimate"], atol=1e-5)


def test_non_convergence_is_flagged_and_warned(monkeypatch):
    _one_fisher_step(monkeypatch)
    monkeypatch.setattr(estimate_module, "_fallback", lambda obj, n, theta, rec: (theta, rec))
    data = pd.read_csv(FIX / "cfa.csv").dropna()
    with pytest.warns(ConvergenceWarning, match="did not converge"):
        res = fit_sem("fa =~ a1 + a2 + a3\nfb =~ b1 + b2 + b3", data, missing="listwise")
    assert res.convergence.converged is False
    assert "WARNING" in res.summary()


_REFERENCE_ORDER = fit_sem("m1 ~ a1*x + w\nm2 ~ a2*x + d*m1\ny ~ b1*m1 + b2*m2 + cp*x\nind := a1*b1\nm1 ~~ m2",
                           pd.read_csv(FIX / "path.csv"), missing="fiml")


@settings(max_examples=8, deadline=None)
@given(st.permutations(["m1 ~ a1*x + w", "m2 ~ a2*x + d*m1", "y ~ b1*m1 + b2*m2 + cp*x", "ind := a1*b1",
                        "m1 ~~ m2"]))
def test_statement_order_does_not_change_the_fit(lines):
    """The parameter table, not the order of the syntax, defines the model."""
    data = pd.read_csv(FIX / "path.csv")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = fit_sem("\n".join(lines), data, missing="fiml")
    key = res.params.set_index(["lhs", "op", "rhs"])["estimate"]
    assert abs(res.fit["loglik"] - _REFERENCE_ORDER.fit["loglik"]) < 1e-8 * abs(res.fit["loglik"])
    ref = _REFERENCE_ORDER.params.set_index(["lhs", "op", "rhs"])["estimate"]
    assert np.allclose(key.loc[ref.index], ref, atol=1e-7)


def test_nullable_integer_columns_are_read():
    data = pd.read_csv(FIX / "path.csv")
    data["y"] = (data["y"] * 10).round().astype("Int64")
    data.loc[:9, "y"] = pd.NA
    res = fit_sem("y ~ x", data, missing="fiml")
    same = fit_sem("y ~ x", data.astype({"y": float}), missing="fiml")
    assert res.n_obs == same.n_obs == len(data)   # rows with y missing still carry x (FIML, as lavaan)
    assert res.n_obs_by_group == (len(data),)
    assert np.allclose(res.params["estimate"], same.params["estimate"], rtol=1e-12)


def test_variables_on_very_different_scales_and_a_negative_loading():
    # start values scaled by the marker indicator: converges by Fisher scoring, no false identification alarm
    data = pd.read_csv(FIX / "cfa.csv")
    scaled = data.assign(a3=-100 * data["a3"], b2=data["b2"] / 50)
    model = "fa =~ a1 + a2 + a3\nfb =~ b1 + b2 + b3\nfb ~ fa"
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        res = fit_sem(model, scaled, missing="fiml")
        ref = fit_sem(model, data, missing="fiml")
    assert res.convergence.converged and "BFGS" not in res.convergence.optimizer
    p, q = res.params.set_index(["lhs", "op", "rhs"]), ref.params.set_index(["lhs", "op", "rhs"])
    assert np.isclose(p.loc[("fa", "=~", "a3"), "estimate"], -100 * q.loc[("fa", "=~", "a3"), "estimate"], rtol=1e-6)
    assert np.isclose(p.loc[("fa", "=~", "a3"), "std_error"], 100 * q.loc[("fa", "=~", "a3"), "std_error"], rtol=1e-5)
    assert np.isclose(res.fit["chisq"], ref.fit["chisq"], rtol=1e-6)


@pytest.mark.filterwarnings("ignore::allianceStats.errors.DataWarning")
def test_multigroup_fiml_bootstrap_and_no_standard_errors():
    data = pd.read_csv(FIX / "panel_mg.csv")
    model = "x2 ~ c(a, a)*x1\ny2 ~ x2"
    boot = fit_sem(model, data, group="site", se="bootstrap", n_draws=60, seed=3)
    info = fit_sem(model, data, group="site")
    none = fit_sem(model, data, group="site", se="none")
    a_boot = boot.params.query("label == 'a'")["std_error"]
    a_info = info.params.query("label == 'a'")["std_error"]
    assert a_boot.nunique() == 1 and abs(a_boot.iloc[0] / a_info.iloc[0] - 1) < 0.35   # 60 replicates: ~9% MC SE
    assert np.allclose(boot.params["estimate"], info.params["estimate"])
    assert none.vcov is None and none.params.query("op == '~'")["std_error"].isna().all()
