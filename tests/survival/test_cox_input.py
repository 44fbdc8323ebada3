"""fit_cox and friends on bad input: one clear error naming rows and clients; nothing modified; options checked."""
import warnings

import numpy as np
import pandas as pd
import pytest

from allianceStats.errors import ConvergenceWarning, FormulaError, IdentificationError, OptionError, SchemaError
from allianceStats.survival import fit_cox, parse_surv_formula, survival_curve

HEART = "Surv(start, stop, event) ~ age + year + surgery + transplant"


def test_every_problem_in_one_error_with_rows_and_clients(heart):
    bad = heart.copy()
    bad.loc[3, "stop"] = bad.loc[3, "start"]            # stop <= start
    bad.loc[10, "event"] = 3                            # not 0/1
    bad.loc[[20, 21], "age"] = np.nan                   # missing covariate
    before = bad.copy()
    with pytest.raises(SchemaError) as err:
        fit_cox(bad, HEART, client="id")
    problems = err.value.problems
    assert len(problems) == 3
    cid = heart.loc[3, "id"]
    assert problems[0].startswith("stop <= start at row(s) 3") and f"client(s) {cid}" in problems[0]
    assert "must be coded 0/1" in problems[1] and "found 3 at row(s) 10" in problems[1]
    assert "missing covariate value(s) at row(s) 20, 21" in problems[2] and "'age'" in problems[2]
    pd.testing.assert_frame_equal(bad, before)


def test_surv_naming_missing_columns(heart):
    with pytest.raises(SchemaError) as err:
        fit_cox(heart, "Surv(begin, stop, died) ~ age + weight")
    text = str(err.value)
    assert all(f"column {c!r} not found" in text for c in ("begin", "died", "weight"))


def test_one_two_coding_is_read_as_r_does(heart):
    a = fit_cox(heart, HEART)
    b = fit_cox(heart.assign(event=heart["event"] + 1), HEART)
    pd.testing.assert_frame_equal(a.params, b.params)


def test_overlapping_intervals_of_a_client(heart):
    bad = heart.copy()
    rows = bad.index[bad["id"] == bad.loc[3, "id"]]
    bad.loc[rows[1], "start"] = bad.loc[rows[0], "stop"] - 0.5
    with pytest.raises(SchemaError, match=r"overlapping intervals within client\(s\) 3"):
        fit_cox(bad, HEART, client="id")


@pytest.mark.parametrize("formula,match", [
    ("time ~ x", "left-hand side"),
    ("Surv(time) ~ x", "takes"),
    ("Surv(time, event) ~ log(x)", "not a column name|not supported"),
    ("Surv(time, event) ~ x + tt(x)", "not supported"),
    ("Surv(time, event) ~ 1", "no covariate"),
])
def test_formula_errors_quote_the_text(formula, match):
    with pytest.raises(FormulaError, match=match):
        parse_surv_formula(formula)


def test_options_and_order(heart):
    with pytest.raises(OptionError, match="ties='discrete' is not supported"):
        fit_cox(heart, HEART, ties="discrete")
    with pytest.raises(OptionError, match="conf_level=95"):
        fit_cox(heart, HEART, conf_level=95)
    # R's order coxph(formula, data) is accepted as typed
    pd.testing.assert_frame_equal(fit_cox(HEART, heart).params, fit_cox(heart, HEART).params)
    with pytest.raises(OptionError, match="different columns"):
        fit_cox(heart, HEART + " + cluster(id)", client="surgery")


def test_identification(heart):
    with pytest.raises(IdentificationError, match="no events"):
        fit_cox(heart.assign(event=0), HEART)
    with pytest.raises(IdentificationError, match="constant"):
        fit_cox(heart.assign(k=1.0), HEART + " + k")
    with pytest.raises(IdentificationError, match="collinear"):
        fit_cox(heart.assign(age2=2 * heart["age"] + heart["year"]), HEART + " + age2")


def test_monotone_likelihood_is_flagged_not_silent():
    d = pd.DataFrame({"time": np.arange(1, 11), "event": [1] * 5 + [0] * 5, "x": np.arange(10.0)})
    with pytest.warns(ConvergenceWarning, match="did not converge"):
        fit = fit_cox(d, "Surv(time, event) ~ x")
    assert not fit.converged and "NOT converged" in repr(fit) and "WARNING" in fit.summary()


def test_result_protocol_and_summary(heart):
    fit = fit_cox(heart, HEART, client="id", conf_level=0.9)
    assert fit.conf_level == 0.9 and fit.n_obs == len(heart) and isinstance(fit.n_obs, int)
    assert fit.provenance.function == "fit_cox" and fit.provenance.options["client"] == "id"
    row = fit.params.iloc[0]
    assert row["ci_upper"] == pytest.approx(row["estimate"] + 1.6448536269514722 * row["std_error"], rel=1e-12)
    text = fit.summary()
    assert "robust SE" in text and "likelihood ratio" in text and "exp(coef)" in text
    with pytest.raises(AttributeError):
        fit.ties = "breslow"


def test_predict_survival_input(heart):
    fit = fit_cox(heart, HEART)
    with pytest.raises(SchemaError, match="'surgery' \\(a covariate of the model\\) not found in newdata"):
        fit.predict_survival(pd.DataFrame({"age": [0.0], "year": [1.0], "transplant": [0]}))
    strat = fit_cox(heart, "Surv(start, stop, event) ~ age + strata(surgery)")
    with pytest.raises(SchemaError, match="stratum value"):
        strat.predict_survival(pd.DataFrame({"age": [0.0], "surgery": [5]}))


def test_survival_curve_input(heart):
    with pytest.raises(FormulaError, match="one grouping column"):
        survival_curve(heart, "Surv(start, stop, event) ~ surgery + transplant")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        km = survival_curve(heart, "Surv(start, stop, event) ~ surgery")
    assert km.groups == (0, 1) and km.n_events == int(heart["event"].sum())
