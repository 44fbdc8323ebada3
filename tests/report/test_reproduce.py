"""Issue 18 §4: every report folder carries reproduce/ (the exact data of each model and one R script), and the demo's
script reproduces the report's numbers in R.

The R side ran once on a machine with R (tests/report/fixtures/make_demo_reproduce.py ran the report's own
reproduce/reproduce.R) and its output, with R and package versions, is fixtures/demo_reproduce_r.json; CI has no R.
Tolerances per quantity, from what each R function promises:

- lmer (lmerTest): estimates 1e-5 of their SE, SEs and Satterthwaite df 1e-4 relative, variances 1e-4 relative;
- glmer: estimates 5e-4 of their SE, SEs 5e-4 relative, variances 1e-3 relative (the call is glmer's default, whose
  PIRLS tolerance tolPwrss = 1e-7 stops about 1e-4 SE short of the optimum on this fixture; see
  tests/mixed/test_glmm_pirls_tolerance.py);
- lavaan (RI-CLPM, CLPM, the panel of the wave mediation, invariance): free estimates 1e-4 of their SE, SEs 1e-4
  relative, chi-square and log-likelihood 1e-6 relative, df exactly;
- mediation: path estimates and the defined indirect, direct and total effects 1e-6 relative or 1e-8 absolute (ML
  on a saturated path model is OLS; lavaan stops within ~1e-9; a total near 0 is a difference of larger paths);
  their SEs are not compared (the report's are bootstrap SEs, lavaan's are ML SEs);
- coxph with cluster = client: estimates 1e-8 relative, robust SEs 1e-6 relative.
"""
from __future__ import annotations

import importlib.util
import json
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

HERE = Path(__file__).resolve().parent
FIXTURE = json.loads((HERE / "fixtures" / "demo_reproduce_r.json").read_text(encoding="utf-8"))
R = FIXTURE["models"]

_spec = importlib.util.spec_from_file_location("reproduce_demo", HERE / "reproduce_demo.py")
reproduce_demo = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(reproduce_demo)


@pytest.fixture(scope="module")
def demo(tmp_path_factory) -> Path:
    return reproduce_demo.write_reproducible_demo(tmp_path_factory.mktemp("reproduce") / "demo")


def _table(folder: Path, name: str) -> pd.DataFrame:
    table = pd.read_csv(folder / "tables" / f"{name}.csv")
    if "op" in table.columns:  # CSV cells starting with "=" are written "'=~" (spreadsheet formulas)
        table["op"] = table["op"].str.lstrip("'")
    return table


def _vector(value) -> list:
    return value if isinstance(value, list) else [value]


def _r_frame(name: str, columns) -> pd.DataFrame:
    model = R[name]
    return pd.DataFrame({c: _vector(model[c]) for c in columns})


def test_the_fixture_came_from_r():
    assert FIXTURE["failed"] == []
    assert FIXTURE["versions"]["lme4"] and FIXTURE["versions"]["lavaan"] and FIXTURE["versions"]["R"].startswith("R ")


def test_the_script_refits_exactly_the_models_of_the_fixture(demo):
    script = (demo / "reproduce" / "reproduce.R").read_text(encoding="utf-8")
    refitted = re.findall(r'^refit\("([^"]+)"', script, flags=re.M)
    assert sorted(refitted) == sorted(R), "regenerate fixtures/demo_reproduce_r.json (make_demo_reproduce.py)"
    for call in ("lmerTest::lmer(", "lme4::glmer(", 'family = binomial(link = "logit")',
                 "lavaan::lavaan(model, data = d", 'missing = "ml"', "lavaan::sem(model", "lavaan::cfa(model",
                 "survival::coxph(Surv(start, stop, event)", "cluster = client"):
        assert call in script, call


def test_each_model_reads_the_data_it_was_fitted_to(demo):
    from allianceStats import decompose
    from allianceStats.analysis import DEMO_ANALYSIS, load_analysis, load_data

    folder = demo / "reproduce"
    mlm = pd.read_csv(folder / "mlm_alliance_outcome.csv")
    spec = load_analysis(DEMO_ANALYSIS)
    parts = decompose(load_data(spec), ["alliance"], therapist="therapist")
    assert {"alliance_within_lag1", "alliance_between", "alliance_therapist", "session0", "outcome", "client",
            "therapist"} <= set(mlm.columns)
    assert np.allclose(mlm["alliance_within_lag1"], parts["alliance_within_lag1"], equal_nan=True, rtol=0, atol=1e-12)
    glmm = pd.read_csv(folder / "glmm_days_used.csv")
    assert np.allclose(glmm["days_free"], 7 - glmm["days_use"], equal_nan=True)  # the derived column is there
    means = pd.read_csv(folder / "mediation_needs_parallel.csv")
    assert len(means) == means["client"].nunique() == 200  # client means, one row per client
    wide = pd.read_csv(folder / "riclpm.csv")
    assert {"alliance_1", "outcome_5"} <= set(wide.columns) and wide["client"].is_unique
    cox = pd.read_csv(folder / "cox_dropout.csv")
    assert {"start", "stop", "event", "alliance_within", "alliance_cummean", "client", "session"} == set(cox.columns)
    assert cox[["alliance_within", "alliance_cummean"]].notna().all().all()  # the rows coxph keeps are the rows fitted
    inv = pd.read_csv(folder / "invariance_bond_over_sessions.csv")
    assert {"wai_3_1", "wai_9_3"} <= set(inv.columns)


def _mixed(demo, name: str, table: str, est_se: float, se_rel: float, var_rel: float, df: bool) -> None:
    ours = _table(demo, f"{table}_params").set_index("term")
    theirs = _r_frame(name, ["term", "estimate", "std_error"]).set_index("term")
    assert list(ours.index) == list(theirs.index)
    assert np.all(np.abs(ours["estimate"] - theirs["estimate"]) <= est_se * ours["std_error"])
    assert ours["std_error"].to_numpy() == pytest.approx(theirs["std_error"].to_numpy(), rel=se_rel)
    if df:
        assert ours["df"].to_numpy() == pytest.approx(_vector(R[name]["df"]), rel=1e-4)
    vc = R[name]["varcomp"]
    theirs_vc = pd.DataFrame({"group": _vector(vc["group"]), "vcov": _vector(vc["vcov"])}).set_index("group")
    ours_vc = _table(demo, f"{table}_varcomp").set_index("group")
    assert ours_vc["vcov"].to_numpy() == pytest.approx(theirs_vc.loc[ours_vc.index, "vcov"].to_numpy(), rel=var_rel)


def test_lmer_reproduces_the_multilevel_model(demo):
    _mixed(demo, "mlm_alliance_outcome", "mlm_alliance_outcome", 1e-5, 1e-4, 1e-4, df=True)


def test_glmer_reproduces_the_glmm(demo):
    _mixed(demo, "glmm_days_used", "glmm_days_used", 5e-4, 5e-4, 1e-3, df=False)


def _free(demo_params: pd.DataFrame, name: str) -> pd.DataFrame:
    theirs = _r_frame(name, ["lhs", "op", "rhs", "estimate", "std_error"])
    merged = demo_params.merge(theirs, on=["lhs", "op", "rhs"], suffixes=("", "_r"))
    return merged[merged["std_error_r"] > 0]


@pytest.mark.parametrize("name", ["riclpm", "clpm"])
def test_lavaan_reproduces_the_panel_models(demo, name):
    ours = _table(demo, f"{name}_params")
    free = _free(ours.drop_duplicates(["lhs", "op", "rhs"]), name)
    assert len(free) >= 30
    assert np.all(np.abs(free["estimate"] - free["estimate_r"]) <= 1e-4 * free["std_error"])
    assert free["std_error"].to_numpy() == pytest.approx(free["std_error_r"].to_numpy(), rel=1e-4)
    fit = _table(demo, f"{name}_fit").set_index("measure")["value"]
    theirs = R[name]["fit"]
    assert fit["chisq"] == pytest.approx(theirs["chisq"], rel=1e-6)
    assert fit["loglik"] == pytest.approx(theirs["logl"], rel=1e-6)
    assert fit["df"] == theirs["df"] and fit["npar"] == theirs["npar"]


@pytest.mark.parametrize("name", ["needs_parallel", "serial_chain"])
def test_lavaan_reproduces_the_mediation_estimates(demo, name):
    key = f"mediation_{name}"
    paths = _free(_table(demo, f"{key}_paths"), key)
    assert len(paths) == len(_table(demo, f"{key}_paths"))
    assert paths["estimate"].to_numpy() == pytest.approx(paths["estimate_r"].to_numpy(), rel=1e-6, abs=1e-8)
    defined = _r_frame(key, ["op", "label", "estimate"]).query("op == ':='")
    effects = _table(demo, f"{key}_effects")
    assert len(defined) == len(effects)  # one := per effect row, in the same order (the result's to_lavaan)
    assert effects["estimate"].to_numpy() == pytest.approx(defined["estimate"].to_numpy(), rel=1e-6, abs=1e-8)


def test_lavaan_reproduces_the_wave_mediation_paths(demo):
    """The report's paths of a wave mediation are the RI-CLPM's lagged paths (x[t] ~ y[t-1]); their SEs there are
    Monte Carlo SDs, so only the estimates are compared (the panel's own SEs are checked like the RI-CLPM's)."""
    key = "wave_mediation_alliance_needs_outcome"
    ours = _table(demo, f"{key}_paths")
    theirs = _r_frame(key, ["lhs", "op", "rhs", "label", "estimate", "std_error"])
    by_label = theirs.drop_duplicates("label").set_index("label")
    for row in ours.itertuples():
        y, x = row.lhs.split("[")[0], row.rhs.split("[")[0]
        label = f"ar_{y}" if x == y else f"cl_{y}_{x}"
        r = by_label.loc[label]
        assert abs(row.estimate - r["estimate"]) <= 1e-4 * r["std_error"], label


def test_coxph_reproduces_the_cox_model(demo):
    ours = _table(demo, "cox_dropout_params").set_index("term")
    theirs = _r_frame("cox_dropout", ["term", "estimate", "std_error", "hazard_ratio"]).set_index("term")
    assert list(ours.index) == list(theirs.index)
    assert ours["estimate"].to_numpy() == pytest.approx(theirs["estimate"].to_numpy(), rel=1e-8)
    assert ours["std_error"].to_numpy() == pytest.approx(theirs["std_error"].to_numpy(), rel=1e-6)
    assert ours["hazard_ratio"].to_numpy() == pytest.approx(theirs["hazard_ratio"].to_numpy(), rel=1e-8)


def test_lavaan_reproduces_every_invariance_step(demo):
    steps = _table(demo, "invariance_bond_over_sessions_steps")
    for row in steps.itertuples():
        theirs = R[f"invariance_bond_over_sessions_{row.step}"]["fit"]
        assert row.chisq == pytest.approx(theirs["chisq"], rel=1e-6), row.step
        assert row.df == theirs["df"], row.step
