"""icc(), r2(), compare_mlm() and profile_ci() against lme4 1.1-31 / lmerTest 3.1-3 (fixtures written by
fixtures/extras_fixtures.R, which fits with tightened optimiser tolerances so that the references are optima).

Tolerances: variances, ICCs and R² (functions of the estimates) 1e-5 relative; ICC standard errors and CI
limits 1e-4 relative (they use the numerical Hessian of the deviance, as SEs elsewhere); log-likelihood,
AIC, BIC and deviance 1e-4 absolute (about 4e-8 relative at these values: the optimisers' own precision);
chi-square 1e-4 absolute; p-values 1e-4 relative; profile CI limits 1e-5 of the standard error.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from allianceStats.errors import OptionError, SchemaError

FIXTURES = Path(__file__).resolve().parent / "fixtures"
REF = json.loads((FIXTURES / "extras_reference.json").read_text())

mixed = pytest.importorskip("allianceStats.mixed", reason="the mixed-model engine (fit_mlm) is not importable")
fit_mlm, icc, r2, compare_mlm, profile_ci = mixed.fit_mlm, mixed.icc, mixed.r2, mixed.compare_mlm, mixed.profile_ci


@pytest.fixture(scope="module")
def data() -> pd.DataFrame:
    return pd.read_csv(FIXTURES / "extras_data.csv", dtype={"therapist": str, "client": str})


@pytest.fixture(scope="module")
def centred(data) -> pd.DataFrame:
    """Rows with an alliance rating, alliance split at the client mean of these rows (as the R script)."""
    d = data.dropna(subset=["alliance"]).copy()
    d["alliance_cm"] = d.groupby("client")["alliance"].transform("mean")
    d["alliance_within"] = d["alliance"] - d["alliance_cm"]
    return d


@pytest.fixture(scope="module")
def decomposed(data) -> pd.DataFrame:
    from allianceStats.decomposition import decompose

    return decompose(data, "alliance", therapist="therapist")


# ---------------------------------------------------------------------------------------------- ICC
@pytest.mark.parametrize("case", ["two_level_reml", "three_level_reml", "three_level_ml"])
def test_icc_matches_lme4(data, case):
    ref = REF["icc"][case]
    outcome = ref["formula"].split("~")[0].strip()
    therapist = "therapist" if "var_therapist" in ref else None
    res = icc(data, outcome, therapist=therapist, reml=ref["reml"])
    tab = res.table.set_index("level")
    assert res.n_obs == ref["nobs"] and res.converged and not res.singular and res.reml is ref["reml"]
    np.testing.assert_allclose(tab.loc["client", "variance"], ref["var_client"], rtol=1e-5)
    np.testing.assert_allclose(tab.loc["residual", "variance"], ref["var_residual"], rtol=1e-5)
    np.testing.assert_allclose(tab.loc["client", "icc"], ref["icc_client"], rtol=1e-5)
    levels = ["client", "residual"] + (["therapist", "same_client"] if therapist else [])
    for level in levels:
        ci = ref[f"ci_{level}"]
        np.testing.assert_allclose(tab.loc[level, "icc"], ci["icc"], rtol=1e-5, err_msg=level)
        for col in ["std_error", "ci_lower", "ci_upper"]:
            np.testing.assert_allclose(tab.loc[level, col], ci[col], rtol=1e-4, err_msg=f"{level} {col}")
    if therapist:
        np.testing.assert_allclose(tab.loc["therapist", "variance"], ref["var_therapist"], rtol=1e-5)
        np.testing.assert_allclose(tab.loc["therapist", "icc"], ref["icc_therapist"], rtol=1e-5)
        np.testing.assert_allclose(tab.loc["same_client", "icc"], ref["icc_same_client"], rtol=1e-5)
        assert list(tab.index) == ["therapist", "client", "same_client", "residual"]
    else:
        assert list(tab.index) == ["client", "residual"]


def test_icc_shares_add_up(data):
    res = icc(data, "outcome", therapist="therapist")
    tab = res.table.set_index("level")
    assert list(res.table.columns) == ["level", "icc", "variance", "std_error", "ci_lower", "ci_upper", "definition"]
    assert res.conf_level == 0.95 and res.formula == "outcome ~ 1 + (1 | therapist) + (1 | client)"
    assert ((tab.ci_lower < tab.icc) & (tab.icc < tab.ci_upper)).all()
    np.testing.assert_allclose(tab.loc[["therapist", "client", "residual"], "icc"].sum(), 1.0, rtol=1e-12)
    np.testing.assert_allclose(tab.loc["same_client", "icc"],
                               tab.loc["therapist", "icc"] + tab.loc["client", "icc"], rtol=1e-12)


def test_icc_does_not_modify_input(data):
    before = data.copy()
    icc(data, "alliance", therapist="therapist")
    pd.testing.assert_frame_equal(data, before)


@pytest.mark.parametrize("kwargs, error, fragment", [
    ({"outcome": "wellbeing"}, SchemaError, "column 'wellbeing' not found in data"),
    ({"outcome": "alliance", "client": "patient"}, SchemaError, "column 'patient' not found in data"),
    ({"outcome": "therapist"}, SchemaError, "column 'therapist' has dtype"),
    ({"outcome": "alliance", "therapist": "client"}, OptionError, "name the same column"),
    ({"outcome": "alliance", "conf_level": 95}, OptionError, "between 0 and 1"),
    ({"outcome": "alliance", "reml": "yes"}, OptionError, "reml='yes' must be True or False"),
])
def test_icc_bad_input_says_what_and_how(data, kwargs, error, fragment):
    with pytest.raises(error, match=fragment):
        icc(data, **kwargs)


@pytest.mark.parametrize("value", [3.0, np.nan])
def test_icc_of_a_constant_measure_is_a_clear_error(data, value):
    """Issue 12: icc() on a constant measure raised numpy's LinAlgError; now a SchemaError naming the column."""
    with pytest.raises(SchemaError, match=r"column 'alliance' has .*needs a measure that varies") as info:
        icc(data.assign(alliance=value), "alliance")
    assert "icc" in str(info.value)


def test_icc_result_protocol_and_former_table_access(data):
    from allianceStats.results import Result

    res = icc(data, "alliance", therapist="therapist")
    assert isinstance(res, Result) and type(res.n_obs) is int
    assert res.provenance.function == "icc" and res.provenance.options["therapist"] == "therapist"
    assert res.fit.formula == res.formula and res.convergence is res.fit.convergence
    assert "Intraclass correlations of alliance" in res.summary() and "same_client" in res.summary()
    assert repr(res).startswith("<ICCResult of 'alliance': therapist ")
    # the DataFrame that icc() returned before 0.2.0: still readable, with a FutureWarning at the caller
    former = r"icc\(\) now returns a result object \(ICCResult\), not a DataFrame"
    with pytest.warns(FutureWarning, match=former) as caught:
        assert list(res["level"]) == list(res.table["level"])
        assert res.set_index("level").loc["client", "icc"] == res.table.icc.iloc[1]
        assert res.attrs["nobs"] == res.n_obs and res.attrs["singular"] is False
    assert len(caught) == 4 and all(w.filename == __file__ for w in caught)
    with pytest.raises(AttributeError, match="no attribute 'nonsense'"):
        res.nonsense  # noqa: B018


# ----------------------------------------------------------------------------------------------- R2
R2_MEASURES = ["marginal", "conditional", "total_f1", "total_f2", "total_v", "total_m", "total_f", "total_fv",
               "total_fvm", "within_f1", "within_v", "within_f1v", "between_f2", "between_m"]


@pytest.mark.parametrize("case", ["ri_cwc", "rs_cwc", "rs_time_3l"])
def test_r2_matches_explicit_formulas_on_lme4_fits(case, centred, decomposed):
    ref = REF["r2"][case]
    frame = decomposed if case == "rs_time_3l" else centred
    fit = fit_mlm(frame, ref["formula"])
    assert fit.n_obs == ref["nobs"]
    # the estimates the R² are functions of
    np.testing.assert_allclose(fit.fixef[list(ref["fixef"])].to_numpy(), list(ref["fixef"].values()),
                               rtol=1e-5)
    res = r2(fit)
    got = res.measures.set_index("measure")["value"]
    assert list(got.index) == R2_MEASURES
    for name in R2_MEASURES:
        np.testing.assert_allclose(got[name], ref[name], rtol=1e-5, atol=1e-12, err_msg=name)
    comps = res.variances.set_index("component")["variance"]
    for name in ["var_fixed", "var_random", "f1", "f2", "v", "m", "residual"]:
        np.testing.assert_allclose(comps[name], ref[name], rtol=1e-5, atol=1e-10, err_msg=name)
    by = res.by_factor.set_index("group")
    assert list(by.index) == [b["group"] for b in ref["by_factor"]]
    for b in ref["by_factor"]:
        for col in ["var_random", "v", "m"]:
            np.testing.assert_allclose(by.loc[b["group"], col], b[col], rtol=1e-5, atol=1e-10,
                                       err_msg=f"{b['group']} {col}")
    assert res.marginal == got["marginal"] and res.conditional == got["conditional"]
    assert res["within_f1"] == got["within_f1"]
    assert res.cluster == "client"


def test_r2_matches_performance_package_when_it_was_available():
    check = REF.get("r2_performance_check")
    if not check:
        pytest.skip(reason="performance was not installed when the fixtures were written")
    for case, vals in check.items():
        np.testing.assert_allclose(vals["marginal"], REF["r2"][case]["marginal"], rtol=1e-8)
        np.testing.assert_allclose(vals["conditional"], REF["r2"][case]["conditional"], rtol=1e-8)


def test_r2_decomposition_identities(decomposed):
    fit = fit_mlm(decomposed, "outcome ~ alliance_within + alliance_between + session0 + (1 + session0 | client) + "
                  "(1 | therapist)")
    res = r2(fit)
    c = res.variances.set_index("component")["variance"]
    np.testing.assert_allclose(c["f1"] + c["f2"], c["var_fixed"], rtol=1e-10)
    # Johnson's mean of z' Sigma z and Rights & Sterba's v + m differ only in the divisor (n vs n - 1)
    n = res.n_obs
    assert abs((c["v"] + c["m"]) - c["var_random"]) < c["var_random"] * 2.0 / (n - 1)
    np.testing.assert_allclose(res["within_f1"] + res["within_v"], res["within_f1v"], rtol=1e-12)
    np.testing.assert_allclose(res["between_f2"] + res["between_m"], 1.0, rtol=1e-12)
    assert 0 < res["total_f"] < res["total_fv"] < res["total_fvm"] < 1


def test_r2_random_intercepts_only_is_the_variance_sum(decomposed):
    fit = fit_mlm(decomposed, "outcome ~ alliance_within + (1 | client) + (1 | therapist)")
    res = r2(fit)
    tau = sum(float(v.to_numpy()[0, 0]) for v in fit.random_cov.values())
    c = res.variances.set_index("component")["variance"]
    np.testing.assert_allclose(c["var_random"], tau, rtol=1e-12)
    np.testing.assert_allclose(c["m"], tau, rtol=1e-12)
    assert c["v"] == 0.0


def test_r2_rejects_non_fits():
    with pytest.raises(OptionError, match="fit_mlm"):
        r2(pd.DataFrame({"x": [1.0]}))


def test_r2_result_protocol(decomposed):
    from allianceStats.results import Result

    fit = fit_mlm(decomposed, "outcome ~ alliance_within + (1 | client)")
    res = r2(fit)
    assert isinstance(res, Result) and res.n_obs == fit.n_obs and type(res.n_obs) is int
    assert res.convergence is fit.convergence and res.converged and res.conf_level == fit.conf_level
    assert res.provenance.function == "r2" and res.provenance.options == {"formula": fit.formula}
    assert "Nakagawa & Schielzeth marginal" in res.summary()
    with pytest.warns(FutureWarning, match="R2Result.nobs is renamed R2Result.n_obs") as caught:
        assert res.nobs == res.n_obs
    assert caught[0].filename == __file__


# ---------------------------------------------------------------------------------------- compare
@pytest.fixture(scope="module")
def anova_fits(decomposed):
    dd = decomposed.dropna(subset=["alliance"])  # the same rows for every model, as in the R script
    f = REF["anova"]
    forms = {"m_time": f["fixed_differ"]["formulas"][0], "m_all": f["fixed_differ"]["formulas"][1],
             "m_all_rs": f["same_fixed_reml"]["formulas"][1]}
    return {name: {reml: fit_mlm(dd, form, reml=reml) for reml in (True, False)} for name, form in forms.items()}


def _check_table(res, ref_rows):
    from allianceStats.comparison import COMPARISON_COLUMNS, ComparisonResult

    assert isinstance(res, ComparisonResult)
    tab, ref = res.table, pd.DataFrame(ref_rows)
    assert list(tab.columns) == [*COMPARISON_COLUMNS, "deviance"]
    assert list(tab.model) == list(ref.model)
    assert list(tab.npar) == list(ref.npar)
    for col in ["aic", "bic", "loglik", "deviance"]:
        np.testing.assert_allclose(tab[col], ref[col].astype(float), rtol=0, atol=1e-4, err_msg=col)
    assert tab.chisq.isna().all() and tab.df.isna().all()  # a mixed model has no goodness-of-fit test of its own
    assert np.isnan(tab.chisq_diff.iloc[0]) and np.isnan(tab.p_value.iloc[0])
    np.testing.assert_allclose(tab.chisq_diff.iloc[1:], ref.chisq.iloc[1:].astype(float), rtol=0, atol=1e-4)
    np.testing.assert_array_equal(tab.df_diff.iloc[1:], ref.df.iloc[1:].astype(float))
    np.testing.assert_allclose(tab.p_value.iloc[1:], ref.p_value.iloc[1:].astype(float), rtol=1e-4)


def test_compare_refits_reml_fits_with_different_fixed_effects_by_ml(anova_fits):
    res = compare_mlm(anova_fits["m_time"][True], anova_fits["m_all"][True], names=["m_time", "m_all"])
    _check_table(res, REF["anova"]["fixed_differ"]["table"])
    assert res.n_obs == anova_fits["m_time"][True].n_obs and type(res.n_obs) is int
    assert res.method == "likelihood ratio (ML)" and res.converged
    assert any("refitted by ML" in n for n in res.notes)
    assert res.provenance.function == "compare_mlm" and res.provenance.options["names"] == ["m_time", "m_all"]


def test_compare_keeps_reml_when_fixed_effects_are_the_same(anova_fits):
    # lme4's anova(..., refit = FALSE); the default refits by ML as lme4 does (issue 13, test_lme4_habits.py)
    res = compare_mlm(anova_fits["m_all"][True], anova_fits["m_all_rs"][True], names=["m_all", "m_all_rs"],
                      refit=False)
    _check_table(res, REF["anova"]["same_fixed_reml"]["table"])
    assert res.method == "likelihood ratio (REML)" and res.notes == ()


def test_compare_three_ml_fits_sorted_by_npar(anova_fits):
    res = compare_mlm(anova_fits["m_all"][False], anova_fits["m_time"][False], anova_fits["m_all_rs"][False],
                      names=["m_all_ml", "m_time_ml", "m_all_rs_ml"])
    _check_table(res, REF["anova"]["three_ml"]["table"])


def test_compare_refuses_invalid_reml_comparison_without_refit(anova_fits):
    with pytest.raises(OptionError, match="refit=True"):
        compare_mlm(anova_fits["m_time"][True], anova_fits["m_all"][True], refit=False)
    with pytest.raises(OptionError, match="refit='no' must be True or False"):
        compare_mlm(anova_fits["m_time"][False], anova_fits["m_all"][False], refit="no")


def test_compare_refuses_fits_to_different_rows(data, anova_fits):
    other = fit_mlm(data.assign(session0=data.session - 1), "outcome ~ session0 + (1 | client)")
    with pytest.raises(OptionError, match="different rows"):
        compare_mlm(anova_fits["m_time"][False], other)


@pytest.mark.parametrize("args, kwargs, fragment", [((), {}, "at least two"), ((1, 2), {}, "not a fit"),
                                                     (None, {"names": ["only one"]}, "1 name")])
def test_compare_bad_arguments(anova_fits, args, kwargs, fragment):
    fits = (anova_fits["m_time"][False], anova_fits["m_all"][False]) if args is None else args
    with pytest.raises(OptionError, match=fragment):
        compare_mlm(*fits, **kwargs)


def test_compare_refits_ar1_fits_by_ml_like_direct_ml_fits(decomposed):
    rows = decomposed.dropna(subset=["alliance"])
    small = "outcome ~ session0 + (1 | client)"
    large = "outcome ~ session0 + alliance_within + (1 | client)"
    via_refit = compare_mlm(fit_mlm(rows, small, correlation="ar1"), fit_mlm(rows, large, correlation="ar1"))
    direct = compare_mlm(fit_mlm(rows, small, reml=False, correlation="ar1"),
                         fit_mlm(rows, large, reml=False, correlation="ar1"))
    assert list(via_refit.table.npar) == [5, 6]  # 2 (or 3) fixed effects + theta + sigma + phi
    np.testing.assert_allclose(via_refit.table.loglik, direct.table.loglik, rtol=0, atol=1e-6)
    np.testing.assert_allclose(via_refit.table.p_value.iloc[1], direct.table.p_value.iloc[1], rtol=1e-6)


def test_compare_says_when_a_fit_did_not_converge(anova_fits):
    import dataclasses

    from allianceStats.results import Convergence

    bad = dataclasses.replace(anova_fits["m_all"][False], convergence=Convergence(False, 9, "BOBYQA (nlopt)"))
    res = compare_mlm(anova_fits["m_time"][False], bad, names=["time", "all"])
    assert not res.converged and "did not converge: all" in res.notes[-1]
    assert res.convergence.warnings == (res.notes[-1],)


def test_former_dataframe_access_warns(anova_fits):
    res = compare_mlm(anova_fits["m_time"][False], anova_fits["m_all"][False])
    with pytest.warns(FutureWarning, match=r"now returns a result object \(ComparisonResult\)") as caught:
        assert res["p_value"].equals(res.table["p_value"])
        assert res.attrs == {"method": res.method, "notes": res.notes}
        assert "chisq_diff" in res.to_string()
    assert len(caught) == 3 and all(w.filename == __file__ for w in caught)


# ------------------------------------------------------------------------------- invariance, public API
def test_icc_and_r2_are_invariant_to_rescaling_the_outcome(decomposed):
    # ICCs and R² are ratios of variances: a change of units (y -> 100 - 2.5 y) must leave them unchanged
    # up to the optimiser's tolerance on the relative parameters theta.
    scaled = decomposed.assign(outcome=100.0 - 2.5 * decomposed["outcome"])
    a = icc(decomposed, "outcome", therapist="therapist").table.set_index("level")
    b = icc(scaled, "outcome", therapist="therapist").table.set_index("level")
    np.testing.assert_allclose(b["icc"], a["icc"], rtol=1e-5)
    np.testing.assert_allclose(b["variance"], a["variance"] * 2.5 ** 2, rtol=1e-5)
    form = "outcome ~ alliance_within + alliance_between + session0 + (1 + session0 | client) + (1 | therapist)"
    ra, rb = r2(fit_mlm(decomposed, form)), r2(fit_mlm(scaled, form))
    np.testing.assert_allclose(rb.measures["value"], ra.measures["value"], rtol=1e-5, atol=1e-10)


def test_helpers_are_in_the_public_api():
    import allianceStats as als

    assert als.icc is icc and als.r2 is r2 and als.compare_mlm is compare_mlm
    assert als.fit_alliance_outcome is mixed.fit_alliance_outcome


# ------------------------------------------------------------------------------------- profile CIs
def test_profile_ci_matches_root_finding_on_lme4_refits(decomposed):
    # The fixture's limits solve zeta(b) = -/+ z by uniroot on lme4 ML refits with offsets (and agree with
    # lme4's spline-interpolated confint(method = "profile") to 1e-3 SE). Tolerance: 1e-5 of the SE.
    ref = REF["profile"]
    rows = decomposed.dropna(subset=["alliance"])
    fit = fit_mlm(rows, ref["formula"])  # REML: profiled on the ML deviance, as lme4 does
    refs = {r["term"]: r for r in ref["terms"]}
    terms = ["(Intercept)", "session0"]
    ci = profile_ci(fit, terms, conf_level=ref["level"]).set_index("term")
    assert list(ci.index) == terms and ci.attrs["conf_level"] == 0.95
    se = fit.params.set_index("term")["std_error"]
    for t in terms:
        np.testing.assert_allclose(ci.loc[t, "estimate"], refs[t]["estimate"], rtol=1e-5)
        for col in ["ci_lower", "ci_upper"]:
            assert abs(ci.loc[t, col] - refs[t][col]) < 1e-5 * se[t], (t, col)


@pytest.mark.parametrize("term, kwargs, fragment", [("alliance", {}, "not among"),
                                                    (".sig09", {}, "not among"),
                                                    ("session0", {"conf_level": 0}, "conf_level=0 must be")])
def test_profile_ci_bad_arguments(decomposed, term, kwargs, fragment):
    rows = decomposed.dropna(subset=["alliance"])
    fit = fit_mlm(rows, "outcome ~ session0 + alliance_within + session0:alliance_within + (1 | client)")
    with pytest.raises(OptionError, match=fragment):
        profile_ci(fit, term, **kwargs)
    with pytest.raises(OptionError, match="takes a fit of fit_mlm"):
        profile_ci(rows, term)


def test_profile_ci_level_is_renamed_conf_level(decomposed):
    rows = decomposed.dropna(subset=["alliance"])
    fit = fit_mlm(rows, "outcome ~ session0 + (1 | client)", reml=False)
    with pytest.warns(FutureWarning, match="level= is renamed conf_level="):
        old = profile_ci(fit, "session0", level=0.9)
    pd.testing.assert_frame_equal(old, profile_ci(fit, "session0", conf_level=0.9))
    assert old.attrs["conf_level"] == 0.9
