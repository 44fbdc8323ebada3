"""cox_zph against R survival::cox.zph 3.5-3: test statistics 1e-7 relative, transformed times and scaled
Schoenfeld residuals 1e-7 relative (both are closed-form given the fit)."""
import numpy as np
import pytest

from allianceStats.survival import cox_zph, fit_cox

HEART = "Surv(start, stop, event) ~ age + year + surgery + transplant"


def _check(z, r):
    assert z.table["term"].tolist()[:-1] == r["term"][:-1] and z.table["term"].iloc[-1] == "GLOBAL"
    np.testing.assert_allclose(z.table["chisq"], r["chisq"], rtol=1e-7)
    np.testing.assert_array_equal(z.table["df"], r["df"])
    np.testing.assert_allclose(z.table["p_value"], r["p_value"], rtol=1e-6)
    np.testing.assert_allclose(z.residuals["event_time"], r["time"])
    np.testing.assert_allclose(z.residuals["transformed_time"], r["x"], rtol=1e-9)
    y = np.array(r["y"], dtype=float)
    if y.ndim == 1:
        y = y[:, None]
    terms = [t for t in z.table["term"] if t != "GLOBAL"]
    np.testing.assert_allclose(z.residuals[terms].to_numpy(), y, rtol=1e-7, atol=1e-10)
    assert z.n_obs == len(r["time"]) and z.converged


@pytest.mark.parametrize("ties,transform,key", [("efron", "km", "heart_zph"), ("breslow", "km", "heart_zph_breslow"),
                                                ("efron", "identity", "heart_zph_identity"),
                                                ("efron", "rank", "heart_zph_rank")])
def test_heart(heart, ref, ties, transform, key):
    _check(cox_zph(fit_cox(heart, HEART, ties=ties), transform=transform), ref[key])


def test_heart_strata(heart, ref):
    fit = fit_cox(heart, "Surv(start, stop, event) ~ age + year + transplant + strata(surgery)")
    _check(fit.cox_zph(), ref["heart_zph_strata"])


@pytest.mark.parametrize("transform,key", [("km", "veteran_zph"), ("log", "veteran_zph_log")])
def test_veteran_right_censored(veteran, ref, transform, key):
    _check(cox_zph(fit_cox(veteran, "Surv(time, status) ~ trt + karno + age"), transform=transform), ref[key])


def test_bad_transform(heart):
    with pytest.raises(ValueError, match="transform='sqrt' is not supported"):
        cox_zph(fit_cox(heart, HEART), transform="sqrt")
