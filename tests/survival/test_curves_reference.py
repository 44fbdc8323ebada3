"""Kaplan-Meier (survival_curve) and curves from a Cox model (baseline_hazard, predict_survival) against R's
survfit / basehaz (survival 3.5-3). Closed-form quantities: survival, cumulative hazard, SEs and bands to 1e-9
relative; counts exactly.
"""
import numpy as np
import pandas as pd
import pytest

from allianceStats.survival import fit_cox, survival_curve

HEART = "Surv(start, stop, event) ~ age + year + surgery + transplant"


def _km_check(tab, r, rtol=1e-9):
    np.testing.assert_allclose(tab["time"], r["time"], rtol=0)
    np.testing.assert_array_equal(tab["n_risk"], r["n_risk"])
    np.testing.assert_array_equal(tab["n_events"], r["n_event"])
    np.testing.assert_array_equal(tab["n_censor"], r["n_censor"])
    np.testing.assert_allclose(tab["survival"], r["surv"], rtol=rtol)
    se = np.array(r["std_error"], dtype=float)  # R's Inf (all remaining at risk fail) is null in the JSON
    fin = np.isfinite(tab["std_error_log"].to_numpy())
    np.testing.assert_array_equal(fin, ~np.isnan(se))
    np.testing.assert_allclose(tab["std_error_log"][fin], se[fin], rtol=rtol)
    fin = ~np.isnan(np.array(r["lower"], dtype=float))
    np.testing.assert_allclose(tab["ci_lower"][fin], np.array(r["lower"], dtype=float)[fin], rtol=rtol)
    np.testing.assert_allclose(tab["ci_upper"][fin], np.array(r["upper"], dtype=float)[fin], rtol=rtol)


def test_km_by_group_log_intervals(veteran, ref):
    r = ref["km_veteran_trt"]
    km = survival_curve(veteran, "Surv(time, status) ~ trt")
    assert km.groups == (1, 2)
    sizes = list(r["strata"].values())
    start = 0
    for g, size in zip(km.groups, sizes):
        tab = km.table[km.table["group"] == g].reset_index(drop=True)
        sub = {k: (v[start:start + size] if isinstance(v, list) else v) for k, v in r.items()}
        _km_check(tab, sub)
        start += size


@pytest.mark.parametrize("key,conf_type,level", [("km_veteran_loglog", "log-log", 0.9),
                                                  ("km_veteran_plain", "plain", 0.95)])
def test_km_interval_types(veteran, ref, key, conf_type, level):
    km = survival_curve(veteran, "Surv(time, status) ~ 1", conf_type=conf_type, conf_level=level)
    _km_check(km.table, ref[key])


def test_km_counting_process_delayed_entry(heart, ref):
    _km_check(survival_curve(heart, "Surv(start, stop, event) ~ 1").table, ref["km_heart"])


def test_km_numbers_at_risk_and_summary(veteran):
    km = survival_curve(veteran, "Surv(time, status) ~ trt")
    risk = km.at_risk([0, 100, 1000])
    assert risk.loc[risk["time"] == 0, "n_risk"].tolist() == veteran.groupby("trt").size().tolist()
    assert risk.loc[risk["time"] == 1000, "n_risk"].tolist() == [0, 0]
    assert "median" in km.summary() and km.converged


def test_basehaz(heart, ref):
    fit = fit_cox(heart, HEART)
    r = ref["heart_basehaz"]
    np.testing.assert_allclose(fit.baseline_hazard()["time"], r["time"])
    np.testing.assert_allclose(fit.baseline_hazard()["cumulative_hazard"], r["centered"], rtol=1e-9)
    np.testing.assert_allclose(fit.baseline_hazard(centered=False)["cumulative_hazard"], r["zero"], rtol=1e-9)


def _pred_check(tab, r, n_curves):
    surv = np.array(r["surv"], dtype=float).reshape(-1, n_curves, order="F") if n_curves > 1 else \
        np.array(r["surv"], dtype=float)[:, None]
    se = np.array(r["std_error"], dtype=float).reshape(surv.shape, order="F")
    cum = np.array(r["cumhaz"], dtype=float).reshape(surv.shape, order="F")
    for i, (_, g) in enumerate(tab.groupby("curve", sort=False)):
        np.testing.assert_allclose(g["time"], r["time"])
        np.testing.assert_array_equal(g["n_risk"], r["n_risk"])
        np.testing.assert_allclose(g["survival"], surv[:, i], rtol=1e-9)
        np.testing.assert_allclose(g["cumulative_hazard"], cum[:, i], rtol=1e-9)
        np.testing.assert_allclose(g["std_error_log"], se[:, i], rtol=1e-9)


@pytest.mark.parametrize("ties", ["efron", "breslow"])
def test_survfit_newdata(heart, ref, ties):
    fit = fit_cox(heart, HEART, ties=ties)
    nd = pd.DataFrame(ref["heart_newdata"]["newdata"])
    _pred_check(fit.predict_survival(nd), ref["heart_newdata"][ties], len(nd))


def test_survfit_covariate_path(heart, ref, ref38):
    """Survival and cumulative hazard along a path as survival 3.5-3 and 3.8-11 compute them; the standard error
    as 3.8-11 does (3.5-3 underestimates it after a covariate change: survival NEWS 3.8-0, GitHub issue 282)."""
    fit = fit_cox(heart, HEART)
    path = pd.DataFrame(ref["heart_path"]["newdata"])
    tab = fit.predict_survival(path, client="id")
    r35 = ref["heart_path"]["efron"]
    np.testing.assert_allclose(tab["time"], r35["time"])
    np.testing.assert_allclose(tab["survival"], r35["surv"], rtol=1e-9)
    before = tab["time"].to_numpy() <= 30  # identical in both versions before the covariate changes
    np.testing.assert_allclose(tab["std_error_log"][before], np.array(r35["std_error"])[before], rtol=1e-9)
    for key in ("one_path", "two_paths"):
        r = ref38[key]["fit"]
        tab = fit.predict_survival(pd.DataFrame(ref38[key]["newdata"]), client="id")
        np.testing.assert_allclose(tab["time"], r["time"])
        np.testing.assert_array_equal(tab["n_risk"], r["n_risk"])
        for col, rc in [("survival", "surv"), ("cumulative_hazard", "cumhaz"), ("std_error_log", "std_error"),
                        ("ci_lower", "lower"), ("ci_upper", "upper")]:
            np.testing.assert_allclose(tab[col], np.array(r[rc], dtype=float), rtol=1e-9, err_msg=f"{key} {col}")
        if key == "two_paths":
            assert tab["curve"].unique().tolist() == [1, 2]


def test_survfit_stratified(heart, ref):
    fit = fit_cox(heart, "Surv(start, stop, event) ~ age + year + transplant + strata(surgery)")
    nd = pd.DataFrame(ref["heart_strata_newdata"]["newdata"]).iloc[:1]
    r = ref["heart_strata_newdata"]["fit"]
    tab = fit.predict_survival(nd)
    # R returns the curve in every stratum for one newdata row; the stratum of the row (surgery = 0) first
    size = list(r["strata"].values())[0]
    sub = {k: (v[:size] if isinstance(v, list) else v) for k, v in r.items()}
    _pred_check(tab, sub, 1)
