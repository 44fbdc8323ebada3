"""measurement_invariance() with ordered AND continuous items in one model equals semTools' measEq.syntax (ordered =
some items, ID.fac = "std.lv", ID.cat = "Wu.Estabrook.2016") fitted by lavaan: across groups (theta and delta, and
missing = "pairwise") and across sessions; bad input.

Reference values: ``fixtures/ordinal/mixed_invariance_fixtures.json``, written by
``fixtures/ordinal/make_mixed_invariance_fixtures.R`` from seeded simulated data (``mixed_invariance.csv``,
``mixed_invariance_missing.csv``, ``mixed_invariance_long.csv``). Tolerances, per quantity (never averaged):
estimates |ours − lavaan| ≤ 1e-5 · max(|lavaan|, 1); SEs 1e-4 relative; χ², df, npar 1e-5 relative; scaled χ² and df,
scaled CFI and RMSEA, SRMR 1e-4 relative (1e-6 absolute near 0); Satorra-2000 differences 1e-4 relative, df exact.
"""
import json
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from allianceStats.errors import OptionError, SchemaError
from allianceStats.sem import measurement_invariance
from allianceStats.sem.invariance import invariance_syntax

FIX = Path(__file__).resolve().parent / "fixtures" / "ordinal"
REF = json.loads((FIX / "mixed_invariance_fixtures.json").read_text())
GROUP_CASES = {"group_theta": ("mixed_invariance.csv", "theta", "listwise"),
               "group_delta": ("mixed_invariance.csv", "delta", "listwise"),
               "group_pairwise": ("mixed_invariance_missing.csv", "theta", "pairwise")}
CONTINUOUS = ("y1", "y2", "y3")
SCALED = ("chisq.scaled", "df.scaled", "cfi.scaled", "rmsea.scaled", "srmr")
# lavaan's SRMR for categorical data (srmr_bentler_nomean) sums the correlation residuals below the diagonal only;
# ours adds the continuous variables' variance residuals, which are zero unless those variances are constrained
# (the strict step): the other steps agree to 1e-4, the strict step does not (reported; sem/wls.py, owned elsewhere)
def _sequence(key):
    file, parameterization, missing = GROUP_CASES[key]
    ref = REF[key]
    return measurement_invariance(pd.read_csv(FIX / file), ref["model"], group="g", ordered=ref["ordered"],
                                  parameterization=parameterization, missing=missing, steps=tuple(ref["steps"]))


@pytest.fixture(scope="module")
def sequences():
    return {key: _sequence(key) for key in GROUP_CASES}


@pytest.fixture(scope="module")
def longitudinal():
    ref = REF["long_theta"]
    long = pd.read_csv(FIX / "mixed_invariance_long.csv")
    return measurement_invariance(long, ref["model"], client="client", session="session", ordered=ref["ordered"],
                                  steps=tuple(ref["steps"]))


def _reference_params(case):
    ref = pd.DataFrame(case["params"])
    # semTools writes the continuous items' scale factors under delta (fixed at 1); lavaan's default has none
    scale = (ref["op"] == "~*~") & ref["lhs"].isin(CONTINUOUS)
    assert (ref.loc[scale, "est"] == 1).all() and (ref.loc[scale, "se"] == 0).all()
    return ref[~scale]


def _check_fit(fit, case, step, *, check_srmr=True):
    ref = _reference_params(case)
    m = fit.params.merge(ref, on=["lhs", "op", "rhs", "group"])
    assert len(m) == len(ref) == len(fit.params), step
    np.testing.assert_array_less(np.abs(m["estimate"] - m["est"]), 1e-5 * np.maximum(np.abs(m["est"]), 1))
    free = m["se"] > 0
    assert free.sum() > 0 and ((m["std_error"] > 0) == free).all()
    np.testing.assert_allclose(m.loc[free, "std_error"], m.loc[free, "se"], rtol=1e-4)
    for key in ("chisq", "df", "npar"):
        assert fit.fit[key] == pytest.approx(case["fit"][key], rel=1e-5), (step, key)
    for key in SCALED:
        if key == "srmr" and not check_srmr:
            continue
        assert fit.fit[key.replace(".", "_")] == pytest.approx(case["fit"][key], rel=1e-4, abs=1e-6), (step, key)


def _check_lrt(res, ref):
    table = res.table.set_index("step")
    assert len(ref["lrt"]) == len(res.steps) - 1
    for lrt in ref["lrt"]:
        assert "satorra.2000" in lrt["method"]
        assert table.loc[lrt["step"], "df_diff"] == lrt["df_diff"]
        assert table.loc[lrt["step"], "chisq_diff"] == pytest.approx(lrt["chisq_diff"], rel=1e-4)
        assert table.loc[lrt["step"], "p_value"] == pytest.approx(lrt["p_value"], rel=1e-4)
    assert res.method == "Satorra (2000) scaled chi-square difference, scaled and shifted"


def test_the_fixture_records_versions():
    assert REF["versions"]["lavaan"] == "0.6.14" and REF["versions"]["semTools"] == "0.5.6"
    assert "Residual variances cannot be tested" in REF["delta_strict_message"]


@pytest.mark.parametrize("key", list(GROUP_CASES))
def test_group_sequence_equals_semtools(sequences, key):
    res, ref = sequences[key], REF[key]
    assert res.steps == tuple(ref["steps"]) and res.ordered == tuple(ref["ordered"])
    assert res.estimator == "WLSMV" and res.parameterization == GROUP_CASES[key][1]
    for step, case in ref["steps"].items():
        _check_fit(res.fits[step], case, step, check_srmr=step != "strict")
    _check_lrt(res, ref)
    # the sample statistics (thresholds, means, variances, polyserial and polychoric correlations) are lavaan's
    for st, sample in zip(res.fits["configural"].wls.problem.stats, ref["steps"]["configural"]["sample"].values()):
        np.testing.assert_array_less(np.abs(st.wls_obs - np.array(sample["wls_obs"])), 1e-6)


@pytest.mark.parametrize("which", ["group", "long"])
def test_srmr_of_the_strict_step_equals_lavaan(sequences, longitudinal, which):
    """Equal residual variances of the continuous items: lavaan's SRMR leaves the variances' residuals out."""
    res, ref = (sequences["group_theta"], REF["group_theta"]) if which == "group" else \
        (longitudinal, REF["long_theta"])
    assert res.fits["strict"].fit["srmr"] == pytest.approx(ref["steps"]["strict"]["fit"]["srmr"], rel=1e-4)


def test_group_syntax_is_semtools_measeq_syntax(sequences):
    """Line for line the syntax semTools writes (up to order), except the delta scale factors of continuous items."""
    def lines(text):
        return {line.strip() for line in text.splitlines() if line.strip() and not line.startswith("#")}

    for key in ("group_theta", "group_delta"):
        for step, case in REF[key]["steps"].items():
            theirs = {line for line in lines(case["model"])
                      if not any(line.startswith(f"{y} ~*~") for y in CONTINUOUS)}
            assert lines(sequences[key].to_lavaan(step)) == theirs, (key, step)


def test_continuous_items_keep_free_intercepts_and_residuals_until_scalar_and_strict(sequences):
    syntax = sequences["group_theta"].syntax
    assert "y2 ~ c(NA, NA)*1 + c(nu.4.g1, nu.4.g2)*1" in syntax["metric"]
    assert "y2 ~ c(NA, NA)*1 + c(nu.4, nu.4)*1" in syntax["scalar"]
    assert "y2 ~~ c(NA, NA)*y2 + c(theta.4_4, theta.4_4)*y2" in syntax["strict"]
    assert not any(line.startswith("y") and "|" in line for line in syntax["strict"].splitlines())
    # the ordered items follow Wu & Estabrook: u4 (binary) gets a free residual variance only with equal intercepts
    assert "u4 ~~ c(1, 1)*u4" in syntax["metric"] and "u4 ~~ c(1, NA)*u4" in syntax["scalar"]
    # the simulated non-invariance (y2's intercept, u3's thresholds) shows at the scalar step, not before
    table = sequences["group_theta"].table.set_index("step")
    assert table.loc["scalar", "p_value"] < 0.001 and table.loc["metric", "p_value"] > 0.05
    text = sequences["group_theta"].summary()
    assert "5 ordered items (u1, u2, u3, u4, u5) and 3 continuous" in text


def test_longitudinal_sequence_equals_semtools(longitudinal):
    res, ref = longitudinal, REF["long_theta"]
    assert res.waves == (1, 2) and res.n_obs == 400 and res.ordered == ("u1", "u2", "u3")
    for step, case in ref["steps"].items():
        _check_fit(res.fits[step], case, step, check_srmr=step != "strict")
    _check_lrt(res, ref)
    assert "y1_1 ~~ NA*y1_2" in res.to_lavaan("configural")    # residuals correlated over time, continuous too
    assert 'ordered = c("u1_1", "u1_2", "u2_1", "u2_2", "u3_1", "u3_2")' in res.r_call("scalar")


@pytest.mark.skipif(shutil.which("Rscript") is None, reason="Rscript with lavaan is not installed")
def test_to_lavaan_and_r_call_refit_each_kind_in_lavaan(sequences, longitudinal, tmp_path):
    cases = {"group": (sequences["group_delta"], "scalar", FIX / "mixed_invariance.csv"),
             "long": (longitudinal, "strict", tmp_path / "wide.csv")}
    longitudinal.wide.to_csv(tmp_path / "wide.csv", index=False)
    for name, (res, step, csv) in cases.items():
        (tmp_path / f"{name}.lav").write_text(res.to_lavaan(step))
        out = tmp_path / f"{name}.json"
        script = (f'suppressPackageStartupMessages(library(lavaan)); d <- read.csv("{csv}"); '
                  f'model <- paste(readLines("{tmp_path / f"{name}.lav"}"), collapse = "\\n"); '
                  f'f <- {res.r_call(step, "d")}; jsonlite::write_json(as.list(fitMeasures(f, c("chisq", "df", '
                  f'"chisq.scaled", "npar"))), "{out}", digits = NA, auto_unbox = TRUE)')
        subprocess.run(["Rscript", "-e", script], check=True, capture_output=True)
        r = json.loads(out.read_text())
        fit = res.fits[step].fit
        assert r["df"] == fit["df"] and r["npar"] == fit["npar"], name
        assert r["chisq"] == pytest.approx(fit["chisq"], rel=1e-5), name
        assert r["chisq.scaled"] == pytest.approx(fit["chisq_scaled"], rel=1e-4), name


# ---------------------------------------------------------------------------------------------------------------
# bad input


@pytest.fixture(scope="module")
def data():
    return pd.read_csv(FIX / "mixed_invariance.csv")


MODEL = REF["group_theta"]["model"]


def test_ordered_names_outside_the_model_are_refused(data):
    with pytest.raises(OptionError, match=r"ordered= names \['u9', 'z'\], not among the model's items \['y1', "
                                          r"'u1', .*'u5'\] \(lavaan would ignore them"):
        measurement_invariance(data.assign(u9=1, z=2), MODEL, group="g", ordered=["u1", "u9", "z"])
    with pytest.raises(OptionError, match="ordered= must be a list of item names or True"):
        measurement_invariance(data, MODEL, group="g", ordered="u1")


def test_mixed_options_that_lavaan_or_semtools_refuse(data):
    ordered = REF["group_theta"]["ordered"]
    with pytest.raises(OptionError, match="strict invariance .* parameterization='delta'"):
        measurement_invariance(data, MODEL, group="g", ordered=ordered, parameterization="delta")
    with pytest.raises(OptionError, match="missing='fiml' is not available with ordered items"):
        measurement_invariance(data, MODEL, group="g", ordered=ordered, missing="fiml")
    with pytest.raises(OptionError, match="estimator='ML'"):
        measurement_invariance(data, MODEL, group="g", ordered=ordered, estimator="ML")


def test_a_continuous_column_listed_as_ordered_is_a_schema_error(data):
    with pytest.raises(SchemaError, match="'y1' has non-integer value"):
        measurement_invariance(data, MODEL, group="g", ordered=["u1", "y1"], steps=("configural",))


def test_syntax_builder_mixed_thresholds():
    text = invariance_syntax("F =~ a + b + c", ["a", "b", "c"], n_groups=2, step="strict", thresholds={"b": 2},
                             parameterization="theta")
    assert "F =~ c(NA, NA)*a + c(lambda.1_1, lambda.1_1)*a" in text and "F ~~ c(1, NA)*F" in text   # std.lv
    assert "a ~ c(NA, NA)*1 + c(nu.1, nu.1)*1" in text and "b ~ c(0, 0)*1 + c(nu.2, nu.2)*1" in text
    assert "a ~~ c(NA, NA)*a + c(theta.1_1, theta.1_1)*a" in text and "b ~~ c(1, 1)*b" in text
    assert "a |" not in text and "b | c(NA, NA)*t2 + c(b.thr2, b.thr2)*t2" in text
    delta = invariance_syntax("F =~ a + b + c", ["a", "b", "c"], n_groups=2, step="scalar", thresholds={"b": 2},
                              parameterization="delta")
    assert "b ~*~ c(1, NA)*b" in delta and "a ~*~" not in delta and "a ~~ c(NA, NA)*a" in delta
