"""fit_mlm against lme4 1.1-31 / lmerTest 3.1-3 / nlme 3.1-162 (values from fixtures/make_fixtures.R).

Tolerances, per quantity (each checked element by element, never averaged):
  fixed effects, variance components (vcov, sdcor), theta, sigma, BLUPs, fitted values: 1e-5 relative
  (BLUPs / fitted values near zero: 1e-5 x max|BLUP| / 1e-6 x SD(fitted) absolute, i.e. relative to
  the scale of the vector: a BLUP near 0 moves with theta at the 1e-6 level)
  standard errors, Satterthwaite df, t statistics:                                        1e-4 relative
  p-values:                                                       1e-4 relative (and 1e-12 absolute)
  REML criterion / deviance, logLik, AIC, BIC:                                             1e-6 absolute
The R reference fits use BOBYQA with xtol_abs = 1e-12 (lme4's default 1e-8 stops a few 1e-6 short in
theta); the default fit's criterion is also recorded and we must be at least as good (to 1e-7).
AR(1) (nlme, whose optimiser stops at a relative tolerance of its own): estimates 1e-5 rel, SEs 1e-4 rel,
phi 1e-4 abs, logLik 1e-6 abs.
"""
import warnings

import numpy as np
import pytest

from allianceStats.errors import BoundaryWarning
from allianceStats.mixed import fit_mlm

CASES = {
    "sleep_ri_reml": ("Reaction ~ Days + (1 | Subject)", "sleep", True),
    "sleep_ri_ml": ("Reaction ~ Days + (1 | Subject)", "sleep", False),
    "sleep_rs_reml": ("Reaction ~ Days + (Days | Subject)", "sleep", True),
    "sleep_rs_ml": ("Reaction ~ Days + (Days | Subject)", "sleep", False),
    "three_reml": ("y ~ x + time + (1 + time | client) + (1 | therapist)", "three", True),
    "three_ml": ("y ~ x + time + (1 + time | client) + (1 | therapist)", "three", False),
    "three_tslope_reml": ("y ~ x + (1 | client) + (1 + time | therapist)", "three", True),
    "edge_reml": ("outcome ~ alliance_within_lag1 + alliance_between + alliance_therapist + session0 + "
                  "outcome_lag1 + (1 + session0 | client) + (1 | therapist)", "boundary_escape", True),
    "singular_reml": ("y ~ time + (1 + time | g)", "near_singular", True),
}


@pytest.fixture(scope="module")
def fits(request):
    out = {}
    for key, (formula, data_name, reml) in CASES.items():
        data = request.getfixturevalue(data_name)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", BoundaryWarning)
            out[key] = fit_mlm(data, formula, reml=reml)
    return out


def _close(actual, expected, rtol, atol=0.0):
    np.testing.assert_allclose(np.asarray(actual, dtype=float), np.asarray(expected, dtype=float),
                               rtol=rtol, atol=atol)


@pytest.mark.parametrize("key", list(CASES))
def test_fixed_effects_match_lmertest(fits, reference, key):
    res, ref = fits[key], reference[key]
    assert res.params.term.tolist() == ref["term"]
    _close(res.params.estimate, ref["estimate"], 1e-5)
    _close(res.params.std_error, ref["std_error"], 1e-4)
    _close(res.params.df, ref["df"], 1e-4)
    _close(res.params.statistic, ref["statistic"], 1e-4)
    _close(res.params.p_value, ref["p_value"], 1e-4, atol=1e-12)


@pytest.mark.parametrize("key", list(CASES))
def test_variance_components_match_lme4(fits, reference, key):
    res, ref = fits[key], reference[key]
    vc, rv = res.varcomp, ref["varcomp"]
    assert vc.group.tolist() == rv["group"]
    assert [None if v != v else v for v in vc.var1] == rv["var1"]
    assert [None if v != v else v for v in vc.var2] == rv["var2"]
    _close(vc.vcov, rv["vcov"], 1e-5, atol=1e-10)
    _close(vc.sdcor, rv["sdcor"], 1e-5, atol=1e-8)
    _close(res.theta, ref["theta"], 1e-5, atol=1e-6)
    _close(res.sigma, ref["sigma"], 1e-5)


@pytest.mark.parametrize("key", list(CASES))
def test_criteria_match_lme4(fits, reference, key):
    res, ref = fits[key], reference[key]
    _close(res.deviance, ref["deviance"], 0, atol=1e-6)
    assert res.deviance <= ref["dev_default"] + 1e-7
    _close(res.loglik, ref["loglik"], 0, atol=1e-6)
    _close(res.aic, ref["aic"], 0, atol=1e-6)
    _close(res.bic, ref["bic"], 0, atol=1e-6)
    assert res.n_obs == ref["nobs"]
    assert res.n_groups == ref["ngroups"]
    assert res.singular == ref["singular"]
    assert res.converged


@pytest.mark.parametrize("key", list(CASES))
def test_blups_and_fitted_match_lme4(fits, reference, key):
    res, ref = fits[key], reference[key]
    re = res.ranef()
    for fac, r in ref["ranef"].items():
        assert re[fac].index.tolist() == r["level"]
        for col, vals in r["values"].items():
            _close(re[fac][col], vals, 1e-5, atol=1e-5 * np.max(np.abs(vals)))
    _close(res.fitted(), ref["fitted"], 1e-5, atol=1e-6 * np.std(ref["fitted"]))  # values near 0


@pytest.mark.parametrize("key,reml", [("ar1_reml", True), ("ar1_ml", False)])
def test_ar1_matches_nlme(reference, ar1_data, key, reml):
    """nlme::lme(y ~ session + x, random = ~1|client, correlation = corAR1(form = ~session|client)).

    The data have gaps in session numbers, where nlme switches to corARMA(1, 0) on the session times
    (correlation phi^|t - s|), as fit_mlm does. nlme scales the ML covariance of the fixed effects by
    N / (N - p); fit_mlm follows lme4 (no scaling), so the factor is applied before comparing ML SEs.
    """
    ref = reference[key]
    res = fit_mlm(ar1_data, ref["formula"], reml=reml, correlation="ar1")
    assert res.params.term.tolist() == ref["term"]
    _close(res.params.estimate, ref["estimate"], 1e-5)
    scale = 1.0 if reml else np.sqrt(res.n_obs / (res.n_obs - len(ref["term"])))
    _close(res.params.std_error * scale, ref["std_error"], 1e-4)
    _close(res.ar1_phi, ref["phi"], 0, atol=1e-4)
    _close(res.sigma, ref["sigma"], 1e-4)
    _close(res.varcomp.vcov.iloc[0], ref["var_client"], 1e-4)
    _close(res.loglik, ref["loglik"], 0, atol=1e-6)
    _close(res.aic, ref["aic"], 0, atol=1e-6)
    assert res.converged and res.correlation == "ar1"
