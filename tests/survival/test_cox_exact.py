"""fit_cox(ties="exact") against R survival::coxph(ties = "exact") 3.5-3 (fixtures/make_exact_fixture.R, eps 1e-11).

Right-censored data (R's coxexact.fit, the recursion of Gail et al. 1981) on veteran with times in weeks and in
months (up to 41 deaths at one time), with strata; counting-process data (R's agexact.fit, which enumerates the
subsets) on heart. Tolerances (per quantity, never averaged): coefficients 1e-6 relative, standard errors 1e-5,
log-likelihoods 1e-8, global tests 1e-5; the observed agreement is ~1e-10.
"""
import json
import warnings
from itertools import combinations
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from allianceStats.errors import OptionError
from allianceStats.survival import fit_cox
from allianceStats.survival.exact_ties import ExactRiskSets

FIX = Path(__file__).resolve().parent / "fixtures"
WEEKS = "Surv(weeks, status) ~ karno + age + trt + prior"


@pytest.fixture(scope="module")
def xref():
    return json.loads((FIX / "cox_exact_reference.json").read_text())


@pytest.fixture(scope="module")
def weeks():
    return pd.read_csv(FIX / "veteran_weeks.csv")


@pytest.fixture
def check(check_cox):
    """coxph(ties = "exact") stores its model-based SEs as ``std_error`` (no robust variance)."""
    def _check(fit, r):
        check_cox(fit, r, std_error_model_key="std_error")
        assert fit.ties == "exact"
    return _check


def test_weeks(check, weeks, xref):
    assert xref["weeks"]["max_tied"] >= 10 and xref["weeks"]["times_with_ties"] >= 20  # the data are heavily tied
    check(fit_cox(weeks, WEEKS, ties="exact"), xref["weeks"])


def test_weeks_strata(check, weeks, xref):
    fit = fit_cox(weeks, "Surv(weeks, status) ~ karno + age + trt + strata(celltype)", ties="exact")
    check(fit, xref["weeks_strata"])
    assert len(fit.strata) == 4


def test_months_many_ties_and_factor(check, weeks, xref):
    assert xref["months"]["max_tied"] == 41
    check(fit_cox(weeks, "Surv(months, status) ~ karno + trt + celltype", ties="exact"), xref["months"])


def test_counting_process(check, heart, xref):
    check(fit_cox(heart, "Surv(start, stop, event) ~ age + year + surgery + transplant", ties="exact"),
           xref["heart"])


def test_counting_process_strata(check, heart, xref):
    check(fit_cox(heart, "Surv(start, stop, event) ~ age + year + transplant + strata(surgery)", ties="exact"),
           xref["heart_strata"])


def test_differs_from_efron_and_breslow(weeks, xref):
    """On tied data the three likelihoods differ; ours match R's for each."""
    lls = {t: fit_cox(weeks, WEEKS, ties=t).loglik for t in ("exact", "efron", "breslow")}
    np.testing.assert_allclose(lls["efron"], xref["weeks_efron_loglik"][1], rtol=1e-8)
    np.testing.assert_allclose(lls["breslow"], xref["weeks_breslow_loglik"][1], rtol=1e-8)
    assert abs(lls["exact"] - lls["efron"]) > 50 and abs(lls["efron"] - lls["breslow"]) > 1


def test_baseline_hazard_is_breslows_at_the_exact_beta(weeks, xref):
    """As R's basehaz/survfit after coxph(ties = "exact")."""
    bh = fit_cox(weeks, WEEKS, ties="exact").baseline_hazard(centered=False)
    np.testing.assert_allclose(bh["time"], xref["weeks_basehaz"]["time"])
    np.testing.assert_allclose(bh["cumulative_hazard"], xref["weeks_basehaz"]["zero"], rtol=1e-6)


def test_right_censored_equals_counting_process_split(weeks):
    """Splitting every row at week 10 (a counting-process table) leaves the exact likelihood unchanged."""
    rows = []
    for r in weeks.itertuples():
        if r.weeks > 10:
            rows.append((r.Index, 0, 10, 0, r.karno, r.age, r.trt, r.prior))
            rows.append((r.Index, 10, r.weeks, r.status, r.karno, r.age, r.trt, r.prior))
        else:
            rows.append((r.Index, 0, r.weeks, r.status, r.karno, r.age, r.trt, r.prior))
    split = pd.DataFrame(rows, columns=["id", "start", "stop", "status", "karno", "age", "trt", "prior"])
    a = fit_cox(weeks, WEEKS, ties="exact")
    b = fit_cox(split, "Surv(start, stop, status) ~ karno + age + trt + prior", ties="exact")
    np.testing.assert_allclose(b.params["estimate"], a.params["estimate"], rtol=1e-9)
    np.testing.assert_allclose(b.params["std_error"], a.params["std_error"], rtol=1e-8)
    np.testing.assert_allclose(b.loglik, a.loglik, rtol=1e-12)


def _brute_force(x, beta, stop, event):
    """Log-likelihood, score and information by enumerating the subsets (R's agexact) and numerical derivatives."""
    def ll(b):
        eta = x @ b
        total = 0.0
        for t in np.unique(stop[event == 1]):
            dead = np.flatnonzero((stop == t) & (event == 1))
            risk = np.flatnonzero(stop >= t)
            den = sum(np.exp(eta[list(s)].sum()) for s in combinations(risk, len(dead)))
            total += eta[dead].sum() - np.log(den)
        return total
    h = 1e-5
    p = len(beta)
    grad = np.array([(ll(beta + h * e) - ll(beta - h * e)) / (2 * h) for e in np.eye(p)])
    hess = np.array([[(ll(beta + h * (ei + ej)) - ll(beta + h * (ei - ej)) - ll(beta - h * (ei - ej))
                       + ll(beta - h * (ei + ej))) / (4 * h * h) for ej in np.eye(p)] for ei in np.eye(p)])
    return ll(beta), grad, -hess


def test_recursion_equals_enumeration():
    rng = np.random.default_rng(8)
    n = 14
    stop = rng.integers(1, 5, n).astype(float)
    event = (rng.random(n) < 0.8).astype(int)
    x = rng.normal(size=(n, 2))
    beta = np.array([0.4, -0.7])
    ers = ExactRiskSets(np.full(n, -np.inf), stop, event, np.zeros(n, int))
    assert ers.max_tied >= 3
    ll, u, info = ers.loglik(x, beta)
    ll_b, u_b, info_b = _brute_force(x, beta, stop, event)
    np.testing.assert_allclose(ll, ll_b, rtol=1e-12)
    np.testing.assert_allclose(u, u_b, rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(info, info_b, rtol=1e-4, atol=1e-6)


def test_no_overflow_with_many_ties():
    """300 deaths at one time among 2,000 rows: B(d, n) ~ C(2000, 300) ~ 1e400 overflows a double unless scaled."""
    rng = np.random.default_rng(3)
    n = 2000
    d = pd.DataFrame({"time": np.where(np.arange(n) < 300, 1.0, rng.integers(2, 50, n).astype(float)),
                      "status": 1, "x": rng.normal(size=n)})
    with pytest.warns(UserWarning, match="300 events share one time"):
        fit = fit_cox(d, "Surv(time, status) ~ x", ties="exact")
    assert fit.converged and np.isfinite(fit.loglik) and np.isfinite(fit.params["std_error"]).all()


def test_refusals_as_r(weeks, xref):
    with pytest.raises(OptionError, match="dfbeta residuals are not available") as err:
        fit_cox(weeks, WEEKS, ties="exact", client="trt")
    assert xref["refusals"]["cluster"] in str(err.value)
    with pytest.raises(OptionError, match="dfbeta residuals are not available"):
        fit_cox(weeks, WEEKS.replace("prior", "prior + cluster(celltype)"), ties="exact")
    fit = fit_cox(weeks, WEEKS, ties="exact")
    for kind in ("score", "dfbeta", "schoenfeld"):
        with pytest.raises(OptionError, match=f"{kind} residuals are not available for the exact method"):
            fit.residuals(kind)
    with pytest.raises(OptionError, match="cox_zph"):
        fit.cox_zph()


def test_repr_and_summary_name_the_method(weeks):
    fit = fit_cox(weeks, WEEKS, ties="exact")
    assert "ties='exact'" in repr(fit)
    assert "ties: exact" in fit.summary()
    assert fit.provenance.options["ties"] == "exact"


def test_few_ties_no_warning(weeks):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        fit_cox(weeks, WEEKS, ties="exact")


def test_nested_pass_equals_per_time_recursion(monkeypatch):
    """The one-pass recursion over nested risk sets (right-censored data) equals the recursion run on each risk
    set, including a time whose value underflows in the shared scale and is recomputed on its own."""
    import allianceStats.survival.exact_ties as et

    rng = np.random.default_rng(5)
    early = 1000
    stop = np.r_[rng.integers(1, 10, early), np.full(150, 10)].astype(float)
    x = np.r_[rng.normal(1, 0.3, early), np.full(150, -3.0) + rng.normal(0, 0.1, 150)][:, None]
    event = np.ones(len(stop), int)
    ers = ExactRiskSets(np.full(len(stop), -np.inf), stop, event, np.zeros(len(stop), int))
    assert ers.nested and not ers.tied_rows
    per_time = ExactRiskSets(np.full(len(stop), -np.inf), stop, event, np.zeros(len(stop), int))
    per_time.tied_rows = [(rows[:n], int(d)) for rows, _, ds, n_at in per_time.nested for d, n in zip(ds, n_at)]
    per_time.nested = []
    calls = []
    real = et._elementary
    monkeypatch.setattr(et, "_elementary", lambda *a: calls.append(a[2]) or real(*a))
    beta = np.array([2.0])
    got = ers.loglik(x, beta)
    assert calls == [150]  # the 150 deaths at time 10 went through the fallback
    want = per_time.loglik(x, beta)
    np.testing.assert_allclose(got[0], want[0], rtol=1e-12)
    np.testing.assert_allclose(got[1], want[1], rtol=1e-9)
    np.testing.assert_allclose(got[2], want[2], rtol=1e-9)
