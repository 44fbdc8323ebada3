"""The syntax builders, without any estimation engine.

Two kinds of evidence: structural checks of the generated text (names, constraints, groups, errors), and
lavaan itself: ``fixtures/make_fixtures.R`` fitted the committed ``fixtures/syntax/*.lav`` (written by
``make_syntax.py`` from these builders) on the Mulder & Hamaker (2021) tutorial data, and the fits must
reproduce the tutorial's published lavaan 0.6.14 output (parsed, never typed).
"""
from __future__ import annotations

import importlib.util
import re

import pytest
from panel_reference import FIXTURES, lavaan_params, tutorial_name

from allianceStats.errors import OptionError
from allianceStats.panel import clpm_syntax, dpm_syntax, riclpm_syntax

CYCLE = ["alliance", "needs", "motivation", "outcome"]


def _lines(s: str) -> list[str]:
    return [ln for ln in s.splitlines() if ln and not ln.startswith("#")]


def test_riclpm_four_variables_structure():
    s = riclpm_syntax(CYCLE, 4)
    lines = _lines(s)
    for v in CYCLE:
        assert f"RI_{v} =~ " + " + ".join(f"1*{v}_{t}" for t in range(1, 5)) in lines
        assert all(f"w_{v}_{t} =~ 1*{v}_{t}" in lines for t in range(1, 5))
        assert all(f"{v}_{t} ~~ 0*{v}_{t}" in lines for t in range(1, 5))
        assert all(f"{v}_{t} ~ 1" in lines for t in range(1, 5))
    # every within component at t >= 2 on all four at t - 1: the effect of outcome(2) on alliance(3) is
    # the row w_alliance_3 ~ w_outcome_2
    assert "w_alliance_3 ~ w_alliance_2 + w_needs_2 + w_motivation_2 + w_outcome_2" in lines
    assert sum(ln.count(" ~ w_") + ln.count(" + w_") for ln in lines if " ~ " in ln) == 4 * 4 * 3
    # random intercepts covary among themselves (10 = 4 variances + 6 covariances), never with wave-1 w
    ri_lines = [ln for ln in lines if ln.startswith("RI_") and "~~" in ln]
    assert len(ri_lines) == 10 and not any("w_" in ln for ln in ri_lines)
    # wave-1 (co)variances and residual (co)variances at waves 2..4: 10 per wave
    assert len([ln for ln in lines if ln.startswith("w_") and "~~" in ln]) == 4 * 10


def test_free_parameter_count_matches_lavaan(lavaan_panel):
    """Counting free parameters in the text (distinct labels count once) gives lavaan's npar."""
    import allianceStats.panel.syntax as sx  # noqa: F401  (the builders produced the fixture files)
    for name, model in lavaan_panel["models"].items():
        if "_mg" in name:
            continue
        text = (FIXTURES / model["syntax_file"]).read_text()
        free, labels = 0, set()
        for ln in _lines(text):
            lhs, op, rhs = re.match(r"^(.*?)\s*(=~|~~|~)\s*(.*)$", ln).groups()
            n_lhs = len(lhs.split(" + "))
            for term in rhs.split(" + "):
                mods = term.split("*")[:-1]
                if mods and re.fullmatch(r"-?[\d.]+", mods[0]):
                    continue
                if mods:
                    new = mods[0] not in labels
                    labels.add(mods[0])
                    free += int(new)
                else:
                    free += n_lhs
        assert free == model["fit"]["npar"], name


@pytest.mark.parametrize("constraints", ["lagged", "stationary"])
def test_time_constraints_use_one_label_per_effect(constraints):
    s = riclpm_syntax(["alliance", "outcome"], 4, constraints=constraints)
    lines = _lines(s)
    for t in (2, 3, 4):
        assert (f"w_alliance_{t} ~ ar_alliance*w_alliance_{t - 1} + cl_alliance_outcome*w_outcome_{t - 1}"
                in lines)
    residual = [ln for ln in lines if re.match(r"w_\w+_[234] ~~", ln)]
    if constraints == "stationary":
        assert all(re.search(r"~~ r[vc]_", ln) for ln in residual) and len(residual) == 9
        assert "w_alliance_1 ~~ w_outcome_1" in lines  # wave 1 stays free
    else:
        assert not any("*" in ln for ln in residual)


def test_equal_means_and_ri_zero():
    s = riclpm_syntax(["x", "y"], 3, equal_means=True, ri_variances="zero")
    assert "x_3 ~ m_x*1" in s and "RI_x ~~ 0*RI_y" in s and "RI_y ~~ 0*RI_y" in s


def test_multigroup_labels():
    free = riclpm_syntax(["x", "y"], 3, groups=2)
    assert "c(" not in free and "*w_" not in free  # extension 2, everything free across groups
    eq = riclpm_syntax(["x", "y"], 3, groups=2, group_equal="lagged")
    assert "w_x_3 ~ ar_x_3*w_x_2 + cl_x_y_3*w_y_2" in eq  # one plain label = equal in every group
    lagged = riclpm_syntax(["x", "y"], 3, groups=["A", "B"], constraints="lagged")
    assert "w_x_3 ~ c(ar_x_g1, ar_x_g2)*w_x_2" in lagged  # equal over time, free across groups


def test_predictors_observed_and_ri():
    obs = riclpm_syntax(["x", "y"], 3, predictors=["z"])
    assert "x_1 + x_2 + x_3 ~ s_x_z*z" in obs
    ri = riclpm_syntax(["x", "y"], 3, predictors="z", predictors_on="ri")
    assert "RI_x ~ z" in ri and "z ~~" not in ri  # exogenous predictors follow lavaan's fixed.x


def test_indicators_invariance_sequence():
    items = {"alliance": ["goal", "task", "bond"], "outcome": ["pda", "urine"]}
    conf = riclpm_syntax(["alliance", "outcome"], 3, indicators=items)
    assert "w_alliance_2 =~ 1*goal_2 + task_2 + bond_2" in conf
    assert "RI_task =~ 1*task_1 + 1*task_2 + 1*task_3" in conf
    weak = riclpm_syntax(["alliance", "outcome"], 3, indicators=items, invariance="weak")
    assert "w_alliance_3 =~ 1*goal_3 + l_task*task_3 + l_bond*bond_3" in weak
    strong = riclpm_syntax(["alliance", "outcome"], 3, indicators=items, invariance="strong", between="factor")
    assert "task_2 ~ i_task*1" in strong and "w_alliance_2 ~ 1" in strong and "w_alliance_1 ~ 1" not in strong
    assert strong.count("RI_alliance =~ 1*goal_1 + l_task*task_1") == 1
    with pytest.raises(OptionError, match="weak"):
        riclpm_syntax(["alliance", "outcome"], 3, indicators=items, between="factor")


def test_clpm_and_dpm_structure():
    c = _lines(clpm_syntax(["alliance", "outcome"], 3, constraints="lagged"))
    assert "outcome_3 ~ cl_outcome_alliance*alliance_2 + ar_outcome*outcome_2" in c
    d = dpm_syntax(x=["alliance", "needs"], y="outcome", waves=4)
    dl = _lines(d)
    assert "FE_outcome =~ 1*outcome_2 + 1*outcome_3 + 1*outcome_4" in dl
    assert "outcome_4 ~ rho*outcome_3 + beta_alliance*alliance_3 + beta_needs*needs_3" in dl
    # predetermined: the residual of outcome_2 covaries with x at wave 3, not wave 2 (x_4 is not in the model
    # with lag 1, so outcome_3's residual has no later x)
    assert "outcome_2 ~~ alliance_3 + needs_3" in dl and "alliance_4" not in d
    assert "outcome_2 ~~ alliance_2" not in d and "outcome_3 ~~" not in d.replace("outcome_3 ~~ outcome_3", "")
    assert "FE_outcome ~~ outcome_1" in dl and "FE_outcome ~~ alliance_3" in dl
    strict = dpm_syntax(x="alliance", y="outcome", waves=4, predetermined=False, error_invariance=True)
    assert "outcome_2 ~~ alliance" not in strict and "outcome_3 ~~ sigma2*outcome_3" in strict


@pytest.mark.parametrize("bad, match", [
    (dict(variables="alliance", waves=3), "list"),
    (dict(variables=["alliance", "out come"], waves=3), "lavaan name"),
    (dict(variables=["x", "y"], waves=1), "at least 2 waves"),
    (dict(variables=["x", "y"], waves=3, constraints="equal"), "constraints"),
    (dict(variables=["x", "y"], waves=3, group_equal="lagged"), "two or more groups"),
    (dict(variables=["x", "y"], waves=3, columns={"x": ["a", "b"]}), "2 names but there are 3 waves"),
])
def test_bad_input_is_reported(bad, match):
    with pytest.raises(OptionError, match=match):
        riclpm_syntax(**bad)


def test_dpm_needs_three_waves():
    with pytest.raises(OptionError, match="at least 3 waves"):
        dpm_syntax(x="alliance", y="outcome", waves=2)


def test_committed_syntax_files_are_current():
    """The files lavaan fitted are exactly what the builders produce now."""
    spec = importlib.util.spec_from_file_location("make_syntax", FIXTURES / "make_syntax.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    for name, text in mod.fixture_models().items():
        assert (FIXTURES / "syntax" / f"{name}.lav").read_text() == text + "\n", name


# the tutorial's sections in lavaan-0.6.14-output.txt and our fixture model of the same specification
TUTORIAL_MODELS = {
    "tut_riclpm": "RICLPM.fit (basic, added)",
    "tut_clpm": "CLPM.fit",
    "tut_riclpm5": "RICLPM5.fit",
    "tut_ext1": "RICLPM.ext1.fit",
    "tut_ext1_ri": "RICLPM1.ext1.fit",
    "tut_ext2": "RICLPM.ext2.fit",
    "tut_ext2_lagged": "RICLPM1.ext2.fit",
}


@pytest.mark.parametrize("ours", sorted(TUTORIAL_MODELS))
def test_generated_syntax_reproduces_tutorial_in_lavaan(ours, tutorial_output, lavaan_tutorial):
    """lavaan on OUR syntax == the tutorial's printed lavaan output (to the printed digits)."""
    published = tutorial_output[TUTORIAL_MODELS[ours]]
    mine = lavaan_tutorial["models"][ours]
    assert (mine["fit"]["npar"], mine["fit"]["df"]) == (published["fit"]["npar"], published["fit"]["df"])
    # printed with 3 decimals after a first rounding to 4 (CFI 0.998460 prints as 0.999): one unit of the last place
    for key in ("chisq", "logl", "cfi", "tli", "rmsea", "srmr", "aic", "bic"):
        assert mine["fit"][key] == pytest.approx(published["fit"][key], abs=1e-3 + 1e-9), key
    est = lavaan_params(mine).set_index(["lhs", "op", "rhs", "group"])
    n = 0
    for row in published["params"]:
        if row["op"] == "~1" or row["se"] in (None, 0.0):
            continue  # fixed parameters and means are covered by the fit; printed free rows are compared
        key = (tutorial_name(row["lhs"]), row["op"], tutorial_name(row["rhs"]), row["group"])
        assert est.loc[key, "est"] == pytest.approx(row["est"], abs=2e-6), key
        assert est.loc[key, "se"] == pytest.approx(row["se"], abs=2e-6), key
        n += 1
    assert n >= 30


def test_generated_ext3_reproduces_published_invariance_test(tutorial_ext3_delta, lavaan_tutorial):
    """Extension 3: strong invariance over time, then across levels: the paper's chi-square difference."""
    a = lavaan_tutorial["models"]["tut_ext3_strong"]["fit"]
    b = lavaan_tutorial["models"]["tut_ext3_strong_between"]["fit"]
    assert b["df"] - a["df"] == tutorial_ext3_delta["df"]
    assert b["chisq"] - a["chisq"] == pytest.approx(tutorial_ext3_delta["chisq"], abs=0.005)
