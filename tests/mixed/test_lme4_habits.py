"""fit_mlm reads the formulas lme4 users write (issue 13, section 3), checked against lme4 1.1-31 / lmerTest 3.1-3.

Fixtures: tests/mixed/fixtures/habits/make_habits.R (data, script and JSON with versions). Tolerances, per
quantity: fixed effects 1e-5 relative (absolute 1e-5 of the SE for estimates near 0), standard errors and
variance components 1e-4 relative, Satterthwaite df 1e-4 relative, REML criterion / deviance 1e-6 absolute
(never above lme4's: the same or a better optimum), lme4's column and grouping-factor names exactly.
"""
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from allianceStats.errors import FormulaError, OptionError, SchemaError
from allianceStats.mixed import compare_mlm, fit_mlm
from allianceStats.mixed.formula import parse_formula

HERE = Path(__file__).resolve().parent / "fixtures" / "habits"
REF = json.loads((HERE / "habits_reference.json").read_text())


@pytest.fixture(scope="module")
def habits():
    return pd.read_csv(HERE / "habits.csv")


@pytest.fixture(scope="module")
def orthodont():
    d = pd.read_csv(HERE / "orthodont.csv")
    d["Sex"] = pd.Categorical(d["Sex"], categories=["Male", "Female"])   # nlme's level order
    return d


def _check_fixef(params, ref_rows, *, se_rtol=1e-4, df_rtol=1e-4, df=True):
    ref = pd.DataFrame(ref_rows)
    got = params.set_index("term").loc[ref.term]
    se = ref.std_error.to_numpy()
    np.testing.assert_allclose(got.estimate, ref.estimate, rtol=1e-5, atol=1e-5 * se.min(), err_msg="estimate")
    np.testing.assert_allclose(got.std_error, ref.std_error, rtol=se_rtol, err_msg="std_error")
    if df:
        np.testing.assert_allclose(got.df, ref.df, rtol=df_rtol, err_msg="df")
        np.testing.assert_allclose(got.p_value, ref.p_value, rtol=1e-3, atol=1e-12, err_msg="p_value")


def _check_varcomp(fit, ref_rows, rename=None):
    ref = pd.DataFrame(ref_rows)
    got = fit.varcomp.astype({"var1": object, "var2": object}).fillna({"var1": "", "var2": ""})
    got["group"] = got["group"].replace(rename or {})
    for row in ref.itertuples():
        m = got[(got.group == row.group) & (got.var1 == row.var1) & (got.var2 == row.var2)]
        assert len(m) == 1, (row.group, row.var1, row.var2, got)
        np.testing.assert_allclose(m.vcov.iloc[0], row.vcov, rtol=1e-4, atol=1e-8, err_msg=str(row))


CASES = [k for k in REF["formulas"]]


@pytest.mark.parametrize("name", CASES)
def test_formulas_users_type_match_lme4(habits, name):
    ref = REF["formulas"][name]
    kwargs = {"weights": ref["weights"]} if "weights" in ref else {}
    fit = fit_mlm(habits, ref["formula"], reml=ref["reml"], **kwargs)
    assert fit.converged
    assert list(fit.fixef.index) == ref["colnames_X"]               # lme4's column names, in lme4's order
    _check_fixef(fit.params, ref["fixef"])
    _check_varcomp(fit, ref["varcomp"])
    assert fit.n_obs == ref["nobs"]
    assert ref["deviance"] - 1e-4 <= fit.deviance <= ref["deviance"] + 1e-6
    np.testing.assert_allclose([fit.loglik, fit.aic, fit.bic], [ref["loglik"], ref["aic"], ref["bic"]], atol=1e-4)
    if name not in ("double_bar", "split"):
        assert fit.n_groups == ref["ngrps"]
    else:   # lme4's ngrps counts the factor once; VarCorr names its two terms as here
        assert fit.n_groups == {"therapist.client": 67, "therapist.client.1": 67}


def test_double_bar_is_the_split_form(habits):
    a = fit_mlm(habits, "outcome ~ session0 + (1 + session0 || therapist:client)")
    b = fit_mlm(habits, "outcome ~ session0 + (1 | therapist:client) + (0 + session0 | therapist:client)")
    pd.testing.assert_frame_equal(a.params, b.params)
    assert a.random_terms == {"therapist.client": ["(Intercept)"], "therapist.client.1": ["session0"]}


def test_slash_equals_colon_terms_and_reused_ids_need_them(habits):
    slash = fit_mlm(habits, "outcome ~ session0 + (1 | therapist/client)")
    colon = fit_mlm(habits, "outcome ~ session0 + (1 | therapist) + (1 | client:therapist)")
    np.testing.assert_allclose(slash.deviance, colon.deviance, atol=1e-8)
    assert set(slash.ranef()) == {"client:therapist", "therapist"}
    assert slash.ranef()["client:therapist"].index[0] == "c1:T01"        # lme4's labels of the interaction
    # client ids are reused across therapists: (1 | client) alone pools different clients (a different model)
    pooled = fit_mlm(habits, "outcome ~ session0 + (1 | client)")
    assert pooled.n_groups == {"client": 7} and pooled.deviance > slash.deviance + 10


def test_transform_columns_are_computed_as_r_computes_them(habits):
    fit = fit_mlm(habits, REF["formulas"]["transforms"]["formula"])
    mf = fit.model_frame
    x = habits.session0.to_numpy(dtype=float)
    # as R, poly() and scale() see every non-missing value of their argument (they are evaluated before na.omit)
    linear = (x - x.mean()) / np.sqrt(((x - x.mean()) ** 2).sum())
    np.testing.assert_allclose(mf["poly(session0, 2)1"], linear[mf.index], rtol=1e-12)
    a = habits.alliance
    np.testing.assert_allclose(mf["scale(alliance)"], ((a - a.mean()) / a.std())[mf.index])  # all non-missing rows
    assert list(mf["factor(cohort)"].cat.categories) == ["2", "9", "10"]                    # numeric order, as R
    refit = fit_mlm(mf, fit.formula)                       # a refit on the model frame reuses the columns
    np.testing.assert_allclose(refit.fixef, fit.fixef, rtol=1e-10)


def test_offset_is_subtracted_from_the_response(habits):
    fit = fit_mlm(habits, "outcome ~ session0 + offset(2 * female) + (1 | therapist:client)")
    moved = fit_mlm(habits.assign(y2=habits.outcome - 2 * habits.female), "y2 ~ session0 + (1 | therapist:client)")
    np.testing.assert_allclose(fit.fixef, moved.fixef, rtol=1e-10)
    np.testing.assert_allclose(fit.deviance, moved.deviance, rtol=1e-12)


def test_weights_scale_the_residual_variance(habits):
    doubled = fit_mlm(habits, "outcome ~ session0 + (1 | therapist:client)", weights="w")
    again = fit_mlm(habits.assign(w=2 * habits.w), "outcome ~ session0 + (1 | therapist:client)", weights="w")
    np.testing.assert_allclose(again.fixef, doubled.fixef, rtol=1e-8)
    np.testing.assert_allclose(again.sigma, doubled.sigma * np.sqrt(2), rtol=1e-6)   # sigma^2 / w
    assert doubled.provenance.options["weights"] == "w"
    np.testing.assert_allclose(doubled.y, habits.outcome.to_numpy())               # the data's rows, not scaled
    with pytest.raises(SchemaError, match="weights"):
        fit_mlm(habits.assign(w=-habits.w), "outcome ~ session0 + (1 | therapist:client)", weights="w")
    with pytest.raises(OptionError, match="weights"):
        fit_mlm(habits, "outcome ~ session0 + (1 | therapist:client)", weights="w", correlation="ar1")


@pytest.mark.parametrize("formula,match", [
    ("outcome ~ logit(alliance) + (1 | client)", r"logit\(\)"),
    ("outcome ~ poly(session0, 0) + (1 | client)", "degree"),
    ("outcome ~ I(stage * 2) + (1 | client)", "non-numeric"),
    ("outcome ~ session0 + (1 | therapist + client)", "therapist \\+ client"),
    ("outcome ~ (a + b)^x + (1 | client)", "whole number"),
])
def test_formula_errors(habits, formula, match):
    with pytest.raises(FormulaError, match=match):
        fit_mlm(habits, formula)


def test_parse_keeps_the_plain_subset_for_other_model_builders():
    with pytest.raises(FormulaError, match="not a plain column"):
        parse_formula("y ~ log(x) + (1 | g)")
    with pytest.raises(FormulaError, match=r"\|\|"):
        parse_formula("y ~ x + (1 + x || g)")
    f = parse_formula("y ~ a*b*c + (1 | g)")
    assert f.fixed_terms == [("a",), ("b",), ("c",), ("a", "b"), ("a", "c"), ("b", "c"), ("a", "b", "c")]


# ------------------------------------------------------------------------------- anova(m0, m1) of REML fits
def _table_matches(res, ref_rows):
    tab, ref = res.table, pd.DataFrame(ref_rows)
    assert list(tab.npar) == list(ref.npar)
    for col in ["aic", "bic", "loglik", "deviance"]:
        np.testing.assert_allclose(tab[col], ref[col].astype(float), rtol=0, atol=1e-4, err_msg=col)
    np.testing.assert_allclose(tab.chisq_diff.iloc[1], ref.chisq.iloc[1], rtol=0, atol=1e-4)
    np.testing.assert_allclose(tab.p_value.iloc[1], ref.p_value.iloc[1], rtol=1e-4)


@pytest.fixture(scope="module")
def orthodont_fits(orthodont):
    ref = REF["orthodont"]["anova"]
    return [fit_mlm(orthodont, f) for f in ref["formulas"]]


def test_compare_refits_reml_fits_by_ml_by_default_as_lme4(orthodont_fits):
    import allianceStats as als

    ref = REF["orthodont"]["anova"]
    res = als.compare(*orthodont_fits, names=["o0", "o1"])              # lme4: anova(o0, o1)
    _table_matches(res, ref["refit_ml"])
    assert res.method == "likelihood ratio (ML)" and len(res.notes) == 2 and "lme4's anova()" in res.notes[0]
    np.testing.assert_allclose(res.table.chisq_diff.iloc[1], ref["lme4_default_chisq"], atol=1e-4)   # 2.02132
    np.testing.assert_allclose(res.table.p_value.iloc[1], ref["lme4_default_p"], rtol=1e-4)           # 0.3640


def test_compare_refit_false_keeps_the_reml_likelihoods(orthodont_fits):
    ref = REF["orthodont"]["anova"]
    res = compare_mlm(*orthodont_fits, names=["o0", "o1"], refit=False)   # lme4: anova(o0, o1, refit = FALSE)
    _table_matches(res, ref["refit_false"])
    assert res.method == "likelihood ratio (REML)" and res.notes == ()


# ----------------------------------------------------------------------------------- profile intervals
@pytest.fixture(scope="module")
def orthodont_profile(orthodont):
    from allianceStats.mixed import profile_ci

    fit = fit_mlm(orthodont, REF["orthodont"]["fit"]["formula"])
    return fit, profile_ci(fit)


def test_profile_ci_covers_variance_components_and_the_intercept_with_factors(orthodont_profile):
    # Tolerances: against root finding in R on the same profile, fixed effects 1e-5 of the SE and variance
    # parameters 1e-5 relative; against lme4's spline-interpolated confint(), fixed effects 1e-5 of the SE,
    # variance parameters 3e-4 relative (lme4's spline across the kink where the correlation reaches +1).
    fit, ci = orthodont_profile
    ref = REF["orthodont"]["profile"]
    ci = ci.set_index("term")
    assert list(ci.index) == [".sig01", ".sig02", ".sig03", ".sigma", "(Intercept)", "age", "SexFemale"]
    for r in ref["varpar"]:
        got = ci.loc[r["term"]]
        np.testing.assert_allclose(got.estimate, r["estimate"], rtol=1e-6)
        for side in ("ci_lower", "ci_upper"):
            exact, lme4 = r[side], r[f"lme4_{side}"]
            if exact is None:            # no root before the boundary: lme4 reports the boundary (0, -1, 1)
                assert got[side] == lme4, (r["term"], side)
            else:
                np.testing.assert_allclose(got[side], exact, rtol=1e-5, err_msg=f"{r['term']} {side}")
                np.testing.assert_allclose(got[side], lme4, rtol=3e-4, err_msg=f"{r['term']} {side} (lme4)")
    se = fit.params.set_index("term").std_error
    for r in ref["fixef"]:
        got = ci.loc[r["term"]]
        np.testing.assert_allclose(got.estimate, r["estimate"], rtol=1e-6)
        for side in ("ci_lower", "ci_upper"):
            assert abs(got[side] - r[side]) < 1e-5 * se[r["term"]], (r["term"], side)
            assert abs(got[side] - r[f"lme4_{side}"]) < 1e-5 * se[r["term"]], (r["term"], side, "lme4")
    assert ci.attrs["names"][".sig02"] == "cor age.(Intercept) | Subject"


def test_profile_ci_of_one_factor_dummy_and_bad_names(orthodont_profile):
    from allianceStats.mixed import profile_ci

    fit, full = orthodont_profile
    one = profile_ci(fit, "SexFemale")
    pd.testing.assert_frame_equal(one, full[full.term == "SexFemale"].reset_index(drop=True), check_exact=False,
                                  rtol=1e-8)
    with pytest.raises(OptionError, match="not among the parameters"):
        profile_ci(fit, ".sig04")


# ------------------------------------------------------------------------------------------ AR(1) as nlme
@pytest.mark.parametrize("method", ["reml", "ml"])
def test_ar1_information_criteria_and_standard_errors_as_nlme(orthodont, method):
    # Tolerances: estimates 1e-5 relative; phi (a variance parameter) 1e-4; logLik, AIC, BIC 1e-6 absolute; SEs 1e-5.
    ref = REF["ar1"][method]
    fit = fit_mlm(orthodont, "distance ~ age + Sex + (1 | Subject)", correlation="ar1", session="occasion",
                  reml=method == "reml")
    np.testing.assert_allclose(fit.ar1_phi, ref["phi"], rtol=1e-4)
    np.testing.assert_allclose([fit.loglik, fit.aic, fit.bic], [ref["loglik"], ref["aic"], ref["bic"]], atol=1e-6)
    expected = pd.DataFrame(ref["fixef"])
    np.testing.assert_allclose(fit.fixef, expected.estimate, rtol=1e-5)
    from allianceStats.mixed.ar1 import nlme_ml_se_factor

    factor = 1.0 if method == "reml" else nlme_ml_se_factor(fit.n_obs, len(fit.fixef))   # documented difference
    np.testing.assert_allclose(fit.params.std_error * factor, expected.std_error, rtol=1e-5)


def test_ar1_warns_when_the_sign_of_phi_is_not_identified(orthodont):
    from allianceStats.errors import DataWarning

    with pytest.warns(DataWarning, match="sign is not identified"):
        fit = fit_mlm(orthodont, "distance ~ age + Sex + (1 | Subject)", correlation="ar1", session="age")
    np.testing.assert_allclose(fit.ar1_phi ** 2, REF["ar1"]["reml"]["phi"], rtol=1e-4)   # lag 2: phi^2


@pytest.mark.parametrize("name", ["transforms", "factor_slope", "double_bar", "three_levels_deep", "raw_poly"])
def test_predict_on_new_data_evaluates_the_formula_as_r_predict(habits, name):
    # scale() and poly() with the fit's parameters (R's predict()), the fit's factor levels, no response needed
    fit = fit_mlm(habits, REF["formulas"][name]["formula"])
    new = habits.loc[fit.model_frame.index].drop(columns=["outcome"])
    np.testing.assert_allclose(fit.predict(new), fit.predict(), rtol=0, atol=1e-10)
    np.testing.assert_allclose(fit.predict(new.iloc[:5], include_random=False), fit.predict(include_random=False)[:5],
                               rtol=0, atol=1e-10)


def test_weights_on_the_sparse_route_scale_the_residual_variance(habits):
    # three grouping factors go to the sparse engine; prior weights enter it the same way (no R reference here)
    f = "outcome ~ session0 + (1 | site/therapist/client)"
    one = fit_mlm(habits.assign(w1=1.0), f, weights="w1")
    plain = fit_mlm(habits, f)
    np.testing.assert_allclose(one.deviance, plain.deviance, atol=1e-8)        # log(1) = 0
    two = fit_mlm(habits.assign(w2=2.0), f, weights="w2")
    np.testing.assert_allclose(two.fixef, plain.fixef, rtol=1e-6)
    np.testing.assert_allclose(two.sigma, plain.sigma * np.sqrt(2), rtol=1e-5)           # sigma^2 / w
    assert two.provenance.options["engine"] == "sparse" and two.provenance.options["weights"] == "w2"
