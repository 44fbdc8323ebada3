"""Syntax parser, parameter-table defaults (npar/df as lavaan), bad input and the lavaan export."""
import json
import shutil
import subprocess
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from allianceStats.errors import AllianceStatsError, DataWarning, FormulaError, IdentificationError, SchemaError
from allianceStats.sem import fit_sem
from allianceStats.sem.partable import build_partable
from allianceStats.sem.syntax import evaluate_expression, parse_model

FIX = Path(__file__).resolve().parent / "fixtures"


def test_parser_reads_modifiers_labels_and_multiple_sides():
    stmts, defs = parse_model("""
        # comment line
        f =~ NA*x1 + c(a, b)*x2 + -0.5*x3 ! lavaan-style comment
        y ~ 1 + g*f; RIx + RIy ~~ 0*w
        y ~ 0.2*1
        ind := g*a + 1
    """)
    got = [(s.lhs, s.op, s.rhs, s.modifiers) for s in stmts]
    assert got[:3] == [("f", "=~", "x1", (None,)), ("f", "=~", "x2", (("a", "b"),)), ("f", "=~", "x3", (-0.5,))]
    assert ("y", "~1", "", ()) in got and ("y", "~", "f", ("g",)) in got
    assert ("RIx", "~~", "w", (0.0,)) in got and ("RIy", "~~", "w", (0.0,)) in got
    assert ("y", "~1", "", (0.2,)) in got
    assert defs[0].lhs == "ind" and evaluate_expression(defs[0].expression, {"g": 2.0, "a": 3.0}) == 7.0


def test_continuation_lines_are_joined():
    stmts, _ = parse_model("f =~ x1 +\n  x2\n  + x3")
    assert [s.rhs for s in stmts] == ["x1", "x2", "x3"]


@pytest.mark.parametrize("line, quoted", [("f <~ x1 + x2", "'f <~ x1 + x2'"), ("a ==", "'a =='"),
                                          ("y ~ x | t1", "'y ~ x | t1'"), ("y ~ lower(0)*x", "'y ~ lower(0)*x'"),
                                          ("y ? x", "'y ? x'"), ("ab := a; import_os", "'import_os'")])
def test_unknown_syntax_is_an_error_quoting_the_line(line, quoted):
    with pytest.raises(FormulaError) as err:
        parse_model("y ~ a*x\n" + line)
    assert quoted in str(err.value)


def test_unknown_variable_and_group_count_errors():
    df = pd.DataFrame({"x": [1.0, 2, 3, 4], "y": [2.0, 1, 4, 3], "g": ["a", "a", "b", "b"]})
    with pytest.raises(FormulaError, match="neither data columns nor latent"):
        fit_sem("y ~ z", df)
    with pytest.raises(FormulaError, match="3 entries but the data have 2 group"):
        fit_sem("y ~ c(a, b, c)*x", df, group="g")
    with pytest.raises(AllianceStatsError, match="missing='pairwise'"):
        fit_sem("y ~ x", df, missing="pairwise")
    with pytest.raises(FormulaError, match="specified twice"):
        fit_sem("y ~ x\ny ~ x", df)


@pytest.mark.filterwarnings("ignore::allianceStats.errors.DataWarning")
def test_variable_never_observed_in_a_group_is_an_error():
    data = pd.read_csv(FIX / "panel_mg.csv")
    data.loc[data["site"] == "B", "y3"] = np.nan
    with pytest.raises(AllianceStatsError, match=r"\['y3'\] have no observed value in group 'B'"):
        fit_sem("y3 ~ y2\ny2 ~ y1", data, group="site")


def test_sem_defaults_match_lavaan_counts():
    # lavaan 0.6.14 sem(meanstructure = TRUE): 15 free parameters for this model (checked in R: parTable)
    stmts, defs = parse_model("f =~ a*y + m\ng =~ x1 + x2\nf ~ g\nh =~ x1")
    pt = build_partable(stmts, defs, observed={"y", "m", "x1", "x2"}, n_groups=1, defaults="sem")
    t = pt.table
    assert pt.npar == 15
    first = t[(t["op"] == "=~") & (t["rhs"].isin(["y", "x1"]))]
    assert (first["free"] == 0).all() and (first["value"] == 1).all()
    assert ((t["lhs"] == "g") & (t["rhs"] == "h") & (t["op"] == "~~") & (t["free"] > 0)).any()


def test_none_defaults_only_what_is_written():
    stmts, defs = parse_model("y ~ x\nm ~ x")
    pt = build_partable(stmts, defs, observed={"y", "m", "x"}, n_groups=1, defaults="none")
    assert pt.npar == 2
    assert not ((pt.table["lhs"] == "y") & (pt.table["rhs"] == "m")).any()


def test_fixed_x_drops_rows_with_missing_covariates_with_a_warning():
    data = pd.read_csv(FIX / "path.csv")
    data.loc[:4, "x"] = np.nan
    with pytest.warns(DataWarning, match="missing exogenous covariate"):
        res = fit_sem("m1 ~ x\ny ~ m1", data, missing="fiml")
    assert res.n_obs == len(data) - 5


@pytest.mark.skipif(shutil.which("Rscript") is None, reason="Rscript with lavaan is not installed")
def test_to_lavaan_reproduces_the_fit_in_r(tmp_path):
    data = pd.read_csv(FIX / "panel_mg.csv")
    model = ("x2 ~ c(ax, ax)*x1 + y1\ny2 ~ x1 + c(ay1, ay2)*y1\nx3 ~ c(ax, ax)*x2 + y2\ny3 ~ x2 + c(ay1, ay2)*y2\n"
             "x2 ~~ y2\nd := ay1 - ay2")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = fit_sem(model, data, group="site")
    (tmp_path / "m.lav").write_text(res.to_lavaan())
    out = tmp_path / "o.json"
    script = (f'suppressPackageStartupMessages(library(lavaan)); data <- read.csv("{FIX / "panel_mg.csv"}"); '
              f'model <- paste(readLines("{tmp_path / "m.lav"}"), collapse = "\\n"); '
              f"f <- suppressWarnings({res.r_call('data')}); pe <- parameterEstimates(f); "
              f'jsonlite::write_json(list(logl = fitMeasures(f, "logl")[[1]], npar = fitMeasures(f, "npar")[[1]], '
              f'est = pe$est[pe$op == ":="], se = pe$se[pe$op == ":="]), "{out}", digits = NA, auto_unbox = TRUE)')
    subprocess.run(["Rscript", "-e", script], check=True, capture_output=True)
    r = json.loads(out.read_text())
    assert abs(r["logl"] - res.fit["loglik"]) <= 1e-6 * abs(r["logl"])
    assert r["npar"] == res.fit["npar"]
    d = res.params.query("op == ':='").iloc[0]
    assert abs(r["est"] - d["estimate"]) < 1e-5 and abs(r["se"] - d["std_error"]) < 1e-4


def test_equality_to_a_number_fixes_the_labelled_parameter():
    data = pd.read_csv(FIX / "path.csv")
    a = fit_sem("m1 ~ x\ny ~ b*m1 + c*x\nc == 0.25", data)
    b = fit_sem("m1 ~ x\ny ~ b*m1 + 0.25*x", data)
    assert a.fit["npar"] == b.fit["npar"] and abs(a.fit["loglik"] - b.fit["loglik"]) < 1e-9 * abs(b.fit["loglik"])
    with pytest.raises(FormulaError, match="is not the label of a free parameter"):
        fit_sem("m1 ~ x\ny ~ b*m1\nb == zz", data)


# ---------------------------------------------------------------------------------------------- issue 12
def _mediation_rows(n=200, seed=1):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=n)
    m = 0.5 * x + rng.normal(size=n)
    return pd.DataFrame({"x": x, "m": m, "y": 0.4 * m + rng.normal(size=n)})


@pytest.mark.parametrize("expression", ["sqrt(a - 10)", "log(-a)", "a/(b - b)", "exp(1000*a)", "(a*1e200)^2"])
def test_defined_parameters_that_are_not_numbers_are_nan_with_a_warning(expression):
    from allianceStats.errors import AllianceStatsWarning

    with pytest.warns(AllianceStatsWarning, match="not finite numbers at the estimate"):
        res = fit_sem(_mediation_rows(), f"m ~ a*x\ny ~ b*m\nd := {expression}")
    row = res.params.set_index("lhs").loc["d"]
    assert np.isnan(row["std_error"]) and np.isnan(row["p_value"]) and np.isnan(row["ci_lower"])


def test_an_infinite_value_is_named():
    data = _mediation_rows()
    data.loc[3, "m"] = np.inf
    with pytest.raises(SchemaError, match=r"column 'm': 1 infinite value\(s\) at row\(s\) 3"):
        fit_sem(data, "m ~ x\ny ~ m")


@pytest.mark.parametrize("model", ["y ~ x + c", "y ~ x\nc ~ x"])
def test_a_constant_variable_is_named(model):
    with pytest.raises(SchemaError, match="variable 'c' has the same value in all 200 usable rows"):
        fit_sem(_mediation_rows().assign(c=1.0), model)


def test_too_few_rows_for_the_covariates_names_the_cause():
    data = _mediation_rows().assign(w=lambda d: d.x ** 2)
    with pytest.raises(IdentificationError, match=r"exogenous covariates \['x', 'm', 'w'\] have a singular"):
        fit_sem(data.head(3), "y ~ x + m + w")


def test_an_unidentified_model_is_not_converged():
    from allianceStats.errors import ConvergenceWarning

    with pytest.warns(ConvergenceWarning, match="the model is not identified"):
        res = fit_sem(_mediation_rows(), "f =~ NA*x + m\nf ~~ f")
    assert res.converged is False and "not identified" in res.convergence.message
