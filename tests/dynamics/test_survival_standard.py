"""fit_dropout and kaplan_meier on a standard survival table (one row per client: time, event, covariates;
issue 13 section 4), their delegation to allianceStats.survival, and the new Kaplan-Meier options."""
import json
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from allianceStats.dynamics import client_survival, fit_dropout, kaplan_meier
from allianceStats.errors import DataWarning, SchemaError
from allianceStats.survival import fit_cox, survival_curve

FIX = Path(__file__).resolve().parent / "fixtures"
REF = json.loads((FIX / "dropout_reference.json").read_text())
SESSIONS = pd.read_csv(FIX / "dropout_sessions.csv")
PRED = ["alliance", "severity"]


@pytest.fixture(scope="module")
def table():
    """The standard table R builds in make_fixtures.R: one row per client, complete cases."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DataWarning)
        cl = client_survival(SESSIONS, PRED).dropna().reset_index(drop=True)
    return cl.rename(columns={"event": "dropout"})


@pytest.mark.parametrize("ties", ["efron", "breslow"])
def test_standard_table_cox_matches_coxph(table, ties):
    fit = fit_dropout(table, predictors=PRED, event="dropout", ties=ties)
    r = REF[f"cox_{ties}"]
    np.testing.assert_allclose(fit.params["estimate"], r["estimate"], rtol=1e-6)
    np.testing.assert_allclose(fit.params["std_error"], r["std_error"], rtol=1e-5)
    assert fit.loglik == pytest.approx(r["loglik"], rel=1e-8)
    assert fit.n_clients == r["n"] and fit.provenance.options["duration"] == "time"


def test_standard_table_discrete_and_landmark_match_r(table):
    fit = fit_dropout(table, predictors=PRED, event="dropout", method="discrete", baseline="factor")
    r = REF["discrete_factor"]
    np.testing.assert_allclose(fit.params["estimate"], r["estimate"], rtol=1e-6)
    lm = fit_dropout(table, predictors=PRED, event="dropout", landmark=True)
    np.testing.assert_allclose(lm.params["estimate"], REF["cox_landmark"]["estimate"], rtol=1e-6)


def test_standard_table_names_and_auto_event(table):
    renamed = table.rename(columns={"time": "weeks", "dropout": "event"}).drop(columns="client")
    a = fit_dropout(renamed, predictors=PRED, duration="weeks")  # event falls back to the 'event' column
    b = fit_dropout(table, predictors=PRED, event="dropout")
    np.testing.assert_allclose(a.params["estimate"], b.params["estimate"], rtol=1e-12)
    assert a.clients["client"].tolist() == list(range(len(table)))  # row labels identify the clients


def test_standard_table_predictors_need_not_be_early_means(table):
    """Any client-level covariate enters as it is; the engine is fit_cox."""
    t = table.assign(total=table["alliance"] * 3 + table["severity"])
    fit = fit_dropout(t, predictors=["total"], event="dropout")
    direct = fit_cox(t, "Surv(time, dropout) ~ total")
    np.testing.assert_allclose(fit.params["estimate"], direct.params["estimate"], rtol=1e-12)
    np.testing.assert_allclose(fit.params["std_error"], direct.params["std_error"], rtol=1e-12)


def test_standard_table_kaplan_meier_matches_survfit(table):
    km = kaplan_meier(table, split="median", event="dropout").sort_values(["group", "time"]).reset_index(drop=True)
    ref = REF["kaplan_meier_median"]
    r = pd.DataFrame({k: ref[k] for k in ["group", "time", "survival", "std_error", "ci_lower", "ci_upper"]})
    r = r.sort_values(["group", "time"]).reset_index(drop=True)
    for col in ["survival", "std_error", "ci_lower", "ci_upper"]:
        np.testing.assert_allclose(km[col], r[col], rtol=1e-10, err_msg=col)


def test_kaplan_meier_options_agree_with_survival_curve(table):
    km = kaplan_meier(table, event="dropout", conf_type="log-log", conf_level=0.9, censored=True)
    sc = survival_curve(table, "Surv(time, dropout) ~ 1", conf_type="log-log", conf_level=0.9).table
    assert km.attrs["conf_type"] == "log-log"
    np.testing.assert_array_equal(km["time"], sc["time"])
    np.testing.assert_array_equal(km["n_censor"], sc["n_censor"])
    np.testing.assert_allclose(km["ci_lower"], sc["ci_lower"], rtol=1e-12, equal_nan=True)
    events_only = kaplan_meier(table, event="dropout")
    assert (events_only["n_events"] > 0).all() and len(events_only) < len(km)


def test_bad_standard_table_lists_every_problem(table):
    bad = table.copy()
    bad.loc[3, "time"] = -1
    bad.loc[5, "dropout"] = 2
    bad.loc[7, "client"] = bad.loc[8, "client"]
    with pytest.raises(SchemaError) as err:
        fit_dropout(bad, predictors=PRED, event="dropout")
    assert len(err.value.problems) == 3
    text = str(err.value)
    assert "or negative at row(s) 3" in text and "found 2 at row(s) 5" in text and "several rows" in text
