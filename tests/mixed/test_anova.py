"""Tests of terms (lmerTest's anova(type = 3 / 1, ddf = "Satterthwaite" / "Kenward-Roger")), Kenward-Roger df for
single coefficients (summary(fit, ddf = "Kenward-Roger"), pbkrtest's vcovAdj) and lmerTest's printed summary.

Fixtures: tests/mixed/fixtures/habits (lmerTest 3.1-3, pbkrtest 0.5.2; versions in the JSON). Tolerances, per
quantity: F 1e-5 relative, numerator df exactly, denominator df 1e-5 relative, p-values 1e-4 relative; KR standard
errors 1e-5 and df 1e-5 relative; the KR-adjusted covariance 1e-5 relative to its largest element.
"""
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from allianceStats.errors import OptionError
from allianceStats.mixed import AnovaResult, anova, fit_mlm
from allianceStats.mixed.kenward_roger import vcov_adjusted
from allianceStats.results import Result

HERE = Path(__file__).resolve().parent / "fixtures" / "habits"
REF = json.loads((HERE / "habits_reference.json").read_text())
CASES = list(REF["tests_of_terms"])


def _data(name):
    if name == "orthodont.csv":
        d = pd.read_csv(HERE / name)
        d["Sex"] = pd.Categorical(d["Sex"], categories=["Male", "Female"])
        return d
    return pd.read_csv(HERE / name)


@pytest.fixture(scope="module", params=CASES)
def case(request):
    ref = REF["tests_of_terms"][request.param]
    return ref, fit_mlm(_data(ref["data"]), ref["formula"])


@pytest.mark.parametrize("key, kwargs", [("satterthwaite", {}), ("kenward_roger", {"ddf": "kenward-roger"}),
                                         ("satterthwaite_type1", {"type": "I"})])
def test_anova_matches_lmertest(case, key, kwargs):
    ref, fit = case
    res = anova(fit, **kwargs)
    assert isinstance(res, AnovaResult) and isinstance(res, Result) and res.converged
    expected = pd.DataFrame(ref[key])
    got = res.table
    assert list(got.columns) == ["term", "F", "num_df", "den_df", "p_value"]
    assert list(got.term) == list(expected.term)
    np.testing.assert_allclose(got.F, expected.F, rtol=1e-5)
    np.testing.assert_array_equal(got.num_df, expected.num_df)
    np.testing.assert_allclose(got.den_df, expected.den_df, rtol=1e-5)
    np.testing.assert_allclose(got.p_value, expected.p_value, rtol=1e-4)
    assert res.provenance.function == "anova" and res.n_obs == fit.n_obs


def test_kenward_roger_single_coefficients_match_lmertest_summary(case):
    ref, fit = case
    kr = fit_mlm(_data(ref["data"]), ref["formula"], ddf="kenward-roger")
    expected = pd.DataFrame(ref["fixef_kr"])
    got = kr.params.set_index("term").loc[expected.term]
    np.testing.assert_allclose(got.estimate, expected.estimate, rtol=1e-5)
    np.testing.assert_allclose(got.std_error, expected.std_error, rtol=1e-5)
    np.testing.assert_allclose(got.df, expected.df, rtol=1e-5)
    np.testing.assert_allclose(got.p_value, expected.p_value, rtol=1e-4)
    adj = vcov_adjusted(fit).vcov_adjusted
    V = np.array(ref["kr_vcov"])
    assert np.max(np.abs(adj - V)) < 1e-5 * np.abs(V).max()
    assert kr.provenance.options["ddf"] == "kenward-roger"
    np.testing.assert_allclose(kr.vcov, fit.vcov)                       # lme4's vcov stays the model's
    assert "Kenward-Roger's method" in kr.summary()


def test_kenward_roger_needs_reml_and_no_weights():
    d = _data("habits.csv")
    with pytest.raises(OptionError, match="REML"):
        anova(fit_mlm(d, "outcome ~ training + (1 | therapist)", reml=False), ddf="kenward-roger")
    with pytest.raises(OptionError, match="weights"):
        fit_mlm(d, "outcome ~ training + (1 | therapist)", weights="w", ddf="kenward-roger")
    with pytest.raises(OptionError, match="ddf"):
        anova(fit_mlm(d, "outcome ~ training + (1 | therapist)"), ddf="containment")


def test_the_highest_order_one_df_term_is_the_squared_t_test(case):
    _, fit = case
    tab = anova(fit).table
    last = fit.params.iloc[-1]                      # type III of the last term tests its own coefficient
    assert tab.num_df.iloc[-1] in (1, 2)
    if tab.num_df.iloc[-1] == 1:
        np.testing.assert_allclose(tab.F.iloc[-1], last.statistic ** 2, rtol=1e-8)
        np.testing.assert_allclose(tab.den_df.iloc[-1], last.df, rtol=1e-6)
    else:
        assert tab.F.iloc[-1] > 0


def test_printed_summary_and_anova_as_lmertest():
    ref = REF["tests_of_terms"]["orthodont_interaction"]
    fit = fit_mlm(_data("orthodont.csv"), ref["formula"])
    text = fit.summary(correlation=True)
    printed = REF["printed"]["summary_orthodont"]
    # the numeric lines lmerTest prints (trailing spaces and quote characters aside)
    for line in ["REML criterion at convergence: 432.6", "-3.1681 -0.3859  0.0071  0.4452  3.8495",
                 "(Intercept)    16.3406     1.0185 25.0000  16.043 1.14e-14 ***",
                 "age:SexFemale  -0.3048     0.1347 25.0000  -2.262   0.0326 *",
                 "age:SexFeml  0.562 -0.638 -0.880", "Number of obs: 108, groups:  Subject, 27"]:
        assert line in printed and line in text, line
    assert "help(" not in text and "Signif. codes:" in text
    tab = anova(fit).summary()
    for line in ["Type III Analysis of Variance Table with Satterthwaite's method",
                 "age     151.024 151.024     1    25 87.9987 1.146e-09 ***"]:
        assert line in REF["printed"]["anova_orthodont"] and line in tab, line


def test_p_values_below_machine_precision_print_as_r():
    from allianceStats.mixed.summary import format_pvalues

    assert format_pvalues([0.0, 1e-300, 0.5]) == ["<2e-16", "<2e-16", "0.5"]
