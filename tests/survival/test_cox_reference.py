"""fit_cox against R survival::coxph 3.5-3 (tests/survival/fixtures/make_fixtures.R, eps = 1e-11).

Tolerances (per quantity, never averaged): coefficients 1e-6 relative, standard errors (model-based and robust)
1e-5 relative, log-likelihoods 1e-8 relative, global tests 1e-5 relative, residuals 1e-8 absolute. Both
programs iterate to the optimum, so the observed agreement is ~1e-10; the tolerances are those of the issue.
"""
import numpy as np
import pandas as pd
import pytest

from allianceStats.survival import fit_cox

HEART = "Surv(start, stop, event) ~ age + year + surgery + transplant"


@pytest.fixture
def check(check_cox):
    def _check(fit, r, robust=False):
        tests = check_cox(fit, r)
        np.testing.assert_allclose(fit.params["hazard_ratio"], np.exp(r["estimate"]), rtol=1e-6)
        if robust:
            np.testing.assert_allclose(tests.loc["robust score", "statistic"], r["robust_test"], rtol=1e-5)
    return _check


@pytest.mark.parametrize("ties", ["efron", "breslow"])
def test_heart_counting_process(check, heart, ref, ties):
    check(fit_cox(heart, HEART, ties=ties), ref[f"heart_{ties}"])


@pytest.mark.parametrize("ties", ["efron", "breslow"])
def test_heart_cluster_robust(check, heart, ref, ties):
    fit = fit_cox(heart, HEART, ties=ties, client="id")
    check(fit, ref[f"heart_{ties}_cluster"], robust=True)
    assert fit.n_clients == heart["id"].nunique() and fit.robust


def test_issue_numbers(heart):
    """The values quoted in issue 15, rounded as quoted there."""
    fit = fit_cox(heart, HEART, client="id")
    np.testing.assert_allclose(fit.params["estimate"], [.02716664, -.14634635, -.63720989, -.01025077], atol=5e-9)
    np.testing.assert_allclose(fit.params["std_error"], [.01389189, .07307986, .35821020, .31688235], atol=5e-9)
    np.testing.assert_allclose(fit.params["std_error_model"][[0, 3]], [.01371412, .31375480], atol=5e-9)
    assert round(fit.loglik_null, 4) == -298.1214 and round(fit.loglik, 4) == -290.5656
    assert round(fit_cox(heart, HEART, ties="breslow").loglik, 4) == -290.7945


def test_cluster_in_formula_equals_client_argument(heart):
    a = fit_cox(heart, HEART + " + cluster(id)")
    b = fit_cox(heart, HEART, client="id")
    pd.testing.assert_frame_equal(a.params, b.params)


def test_heart_strata_cluster(check, heart, ref):
    fit = fit_cox(heart, "Surv(start, stop, event) ~ age + year + transplant + strata(surgery)", client="id")
    check(fit, ref["heart_strata_cluster"], robust=True)
    assert fit.strata == (0, 1)


def test_heart_interaction(check, heart, ref):
    check(fit_cox(heart, "Surv(start, stop, event) ~ age * transplant + year"), ref["heart_interaction"])


def test_jasa_right_censored_factor(check, veteran, ref):
    check(fit_cox(veteran, "Surv(time, status) ~ trt + karno + age"), ref["veteran_efron"])
    check(fit_cox(veteran, "Surv(time, status) ~ karno + celltype"), ref["veteran_celltype"])


@pytest.mark.parametrize("cause,key", [(1, "mgus2_cs_pcm"), (2, "mgus2_cs_death")])
def test_cause_specific_by_event_comparison(check, mgus2, ref, cause, key):
    check(fit_cox(mgus2, f"Surv(etime, status == {cause}) ~ age + sex"), ref[key])


def test_score_and_dfbeta_residuals(heart, ref):
    fit = fit_cox(heart, HEART)
    np.testing.assert_allclose(fit.residuals("score").to_numpy(), np.array(ref["heart_score_resid"]), atol=1e-8)
    fitc = fit_cox(heart, HEART, client="id")
    dfb = fitc.residuals("dfbeta")
    np.testing.assert_allclose(dfb.drop(columns="client").to_numpy(), np.array(ref["heart_dfbeta_cluster"]),
                               atol=1e-8)
    # the robust variance is the cross-product of the collapsed dfbeta residuals
    D = dfb.drop(columns="client").to_numpy()
    np.testing.assert_allclose(D.T @ D, fitc.vcov.to_numpy(), rtol=1e-12)
