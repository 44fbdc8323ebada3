"""The derivatives behind Satterthwaite's df (lmerTest's ``Jac_list`` and ``vcov_varpar``), the hypothesis matrices
and Kenward-Roger's adjusted covariance are computed once per fit and kept on it (``MixedResult._cache``).

What could go wrong with a cache, and is checked here: a second call that differs from the first; values that
differ from computing afresh; a kept value that can be changed from outside; a fit (another model, a refit, or a
copy made by ``dataclasses.replace`` with other estimates, which shares the cache dict) that gets another fit's
values. Tolerances: the derivatives the fit kept against the ones computed again from the deviance function,
1e-8 relative (the same numDeriv scheme on the same function; only rounding differs); everything a cache hit
returns, exactly.
"""
import dataclasses
import pickle
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from allianceStats.mixed import anova, fit_mlm
from allianceStats.mixed.kenward_roger import vcov_adjusted
from allianceStats.mixed.satterthwaite import _compute_varpar_derivatives, satterthwaite_df, varpar_derivatives
from allianceStats.mixed.term_tests import hypotheses

HABITS = Path(__file__).resolve().parent / "fixtures" / "habits" / "habits.csv"
FORMULA = "outcome ~ training * session0 + stage + (1 + session0 | therapist:client) + (1 | therapist)"
OTHER = "outcome ~ training * stage + session0 + (1 | therapist/client)"


@pytest.fixture(scope="module")
def data():
    return pd.read_csv(HABITS)


@pytest.fixture(scope="module")
def fit(data):
    return fit_mlm(data, FORMULA)


def test_second_anova_call_returns_an_identical_table(fit):
    for ddf in ("satterthwaite", "kenward-roger"):
        first, second = anova(fit, ddf=ddf), anova(fit, ddf=ddf)
        pd.testing.assert_frame_equal(first.table, second.table, check_exact=True)
        assert first.mean_sq == second.mean_sq
        for term, L in first.hypotheses.items():
            pd.testing.assert_frame_equal(L, second.hypotheses[term], check_exact=True)
    assert varpar_derivatives(fit) is varpar_derivatives(fit)
    assert vcov_adjusted(fit) is vcov_adjusted(fit)


def test_fit_keeps_the_derivatives_its_params_df_came_from(fit):
    """summary()/params and anova() share one Jacobian: the df of params are exactly those of the kept pieces."""
    pieces = varpar_derivatives(fit)
    np.testing.assert_array_equal(satterthwaite_df(*pieces), fit.params.df.to_numpy())
    np.testing.assert_array_equal(pieces.vcov_beta, fit.vcov.to_numpy())
    np.testing.assert_array_equal(pieces.vcov_varpar, fit.varpar_vcov)
    k = len(fit.theta) + 1
    assert pieces.jac.shape == (len(fit.fixef), len(fit.fixef), k)


def test_cache_does_not_change_the_results(data, fit):
    kept = varpar_derivatives(fit)
    fresh = _compute_varpar_derivatives(fit)
    np.testing.assert_allclose(kept.jac, fresh.jac, rtol=1e-8, atol=1e-8 * np.abs(fresh.jac).max())
    # an anova computed with nothing kept (a fit whose cache is emptied) gives the same table
    cached = anova(fit).table
    bare = dataclasses.replace(fit, _cache={})
    assert "satterthwaite" not in bare._cache
    uncached = anova(bare).table
    assert "satterthwaite" in bare._cache
    pd.testing.assert_frame_equal(cached[["term", "num_df"]], uncached[["term", "num_df"]])
    np.testing.assert_allclose(cached.F, uncached.F, rtol=1e-12)
    np.testing.assert_allclose(cached.den_df, uncached.den_df, rtol=1e-8)
    np.testing.assert_allclose(cached.p_value, uncached.p_value, rtol=1e-7)
    kr = anova(fit, ddf="kenward-roger").table
    kr_bare = anova(dataclasses.replace(fit, _cache={}), ddf="kenward-roger").table
    pd.testing.assert_frame_equal(kr, kr_bare, check_exact=True)


def test_kept_values_cannot_be_changed_from_outside(fit):
    pieces = varpar_derivatives(fit)
    for a in pieces:
        assert not a.flags.writeable
    adj = vcov_adjusted(fit)
    with pytest.raises(ValueError, match="read-only"):
        adj.vcov_adjusted[0, 0] = 0.0
    L = hypotheses(fit)["stage"]
    before = L.to_numpy().copy()
    L.iloc[:, :] = 99.0
    np.testing.assert_array_equal(hypotheses(fit)["stage"].to_numpy(), before)
    res = anova(fit)
    res.hypotheses["stage"].iloc[:, :] = 99.0
    np.testing.assert_array_equal(anova(fit).hypotheses["stage"].to_numpy(), before)


def test_another_model_or_a_refit_does_not_reuse_a_stale_cache(data, fit):
    before = anova(fit).table
    other = fit_mlm(data, OTHER)
    refit = fit_mlm(data.assign(outcome=data.outcome + 0.5 * data.session0 ** 2 / 10), FORMULA)
    for new in (other, refit):
        assert new._cache is not fit._cache
        assert varpar_derivatives(new) is not varpar_derivatives(fit)
    assert list(anova(other).table.term) == ["training", "stage", "session0", "training:stage"]
    assert not np.allclose(anova(refit).table.F, before.F)
    # the refit's table is the one its own derivatives give, computed afresh
    fresh = dataclasses.replace(refit, _cache={})
    np.testing.assert_allclose(anova(refit).table.den_df, anova(fresh).table.den_df, rtol=1e-8)
    pd.testing.assert_frame_equal(anova(fit).table, before, check_exact=True)     # the first fit is untouched


def test_a_copy_with_other_estimates_sharing_the_cache_dict_is_recomputed(data, fit):
    """dataclasses.replace copies the cache dict reference: a copy carrying another fit's estimates (and design)
    must get that fit's table, and the original its own, in either order."""
    refit = fit_mlm(data.assign(outcome=data.outcome * 1.3 + data.session0), FORMULA)
    want_fit, want_refit = anova(fit).table, anova(dataclasses.replace(refit, _cache={})).table
    kr_fit = anova(fit, ddf="kenward-roger").table
    changed = {f.name: getattr(refit, f.name) for f in dataclasses.fields(refit) if f.name != "_cache"}
    mixed = dataclasses.replace(fit, **changed)
    assert mixed._cache is fit._cache
    pd.testing.assert_frame_equal(anova(mixed).table, want_refit, check_exact=True)
    assert not np.allclose(anova(mixed, ddf="kenward-roger").table.F, kr_fit.F)
    pd.testing.assert_frame_equal(anova(fit).table, want_fit, check_exact=True)
    pd.testing.assert_frame_equal(anova(fit, ddf="kenward-roger").table, kr_fit, check_exact=True)
    # only σ replaced (θ, cov(β̂) kept): the derivatives are recomputed, not taken from the shared dict
    moved = dataclasses.replace(fit, sigma=fit.sigma * 2.0)
    assert varpar_derivatives(moved) is not varpar_derivatives(fit)


def test_copies_that_keep_the_estimates_share_the_kept_values(data):
    """A Kenward-Roger summary (fit_mlm(ddf='kenward-roger') replaces params only) reuses the adjusted covariance
    its params came from; a pickle round trip gives the same tables."""
    kr = fit_mlm(data, OTHER, ddf="kenward-roger")
    adj = vcov_adjusted(kr)
    assert "kenward-roger" in kr._cache and vcov_adjusted(kr) is adj
    np.testing.assert_array_equal(np.sqrt(np.diag(adj.vcov_adjusted)), kr.params.std_error.to_numpy())
    back = pickle.loads(pickle.dumps(kr))
    for ddf in ("satterthwaite", "kenward-roger"):
        pd.testing.assert_frame_equal(anova(back, ddf=ddf).table, anova(kr, ddf=ddf).table, check_exact=True)


def test_crossed_design_keeps_the_derivatives_from_the_fit():
    """The sparse (crossed) path keeps the Jacobian it computed for params' df, as the nested engine: anova reuses
    it, and it equals what a first anova would compute from the deviance function of the fit."""
    rng = np.random.default_rng(11)
    a, b = np.repeat(np.arange(12), 8), np.tile(np.arange(8), 12)
    d = pd.DataFrame({"rater": a.astype(str), "item": b.astype(str), "x": rng.normal(size=96)})
    d["y"] = d.x + rng.normal(size=12)[a] + rng.normal(size=8)[b] + rng.normal(size=96)
    crossed = fit_mlm(d, "y ~ x + (1 | rater) + (1 | item)")
    kept = crossed._cache["satterthwaite"][1]
    np.testing.assert_allclose(satterthwaite_df(*kept), crossed.params.df, rtol=1e-12)
    first = anova(crossed).table
    assert varpar_derivatives(crossed) is kept
    pd.testing.assert_frame_equal(anova(crossed).table, first, check_exact=True)
    crossed._cache.clear()                       # what the first anova would compute without the kept Jacobian
    recomputed = varpar_derivatives(crossed)
    assert recomputed is not kept
    np.testing.assert_allclose(recomputed.jac, kept.jac, rtol=1e-7, atol=1e-12 * np.abs(kept.jac).max())
    pd.testing.assert_frame_equal(anova(crossed).table, first, rtol=1e-7)
