"""fit_alliance_outcome() against lme4 1.1-31 and R's lm(... + factor(client)) (fixtures/extras_fixtures.R).

Tolerances: derived columns 1e-10 absolute (pure arithmetic); fixed effects 1e-5 relative; their SEs 1e-4
relative; variance components 1e-4 relative (the random-slope covariance is the least well determined
quantity of the optimum; 1e-4 relative is still ~5e-5 absolute on a value of 0.5); fixed-effects (within)
estimates 1e-8 relative (closed-form least squares on both sides).
"""
from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from allianceStats.errors import AllianceStatsError

FIXTURES = Path(__file__).resolve().parent / "fixtures"
REF = json.loads((FIXTURES / "extras_reference.json").read_text())["alliance_outcome"]

mixed = pytest.importorskip("allianceStats.mixed", reason="the mixed-model engine (fit_mlm) is not importable")
fit_alliance_outcome = mixed.fit_alliance_outcome


@pytest.fixture(scope="module")
def data() -> pd.DataFrame:
    return pd.read_csv(FIXTURES / "extras_data.csv", dtype={"therapist": str, "client": str})


@pytest.fixture(scope="module")
def three_level(data):
    return fit_alliance_outcome(data)


def test_lagged_columns_match_r(data):
    from allianceStats.mixed.alliance_outcome import _lagged

    got = _lagged(data, "outcome", "alliance", "client", "therapist", "session")
    ref = pd.DataFrame(REF["derived"])
    merged = ref.merge(got, on=["client", "session"], suffixes=("_r", ""), validate="one_to_one")
    assert len(merged) == len(data)
    for col in ["alliance_therapist", "alliance_between", "alliance_within", "alliance_within_lag1",
                "outcome_lag1", "session0"]:
        r = merged[f"{col}_r"].astype(float).to_numpy()
        p = merged[col].astype(float).to_numpy()
        np.testing.assert_array_equal(np.isnan(p), np.isnan(r), err_msg=f"{col}: missing pattern")
        np.testing.assert_allclose(p[~np.isnan(p)], r[~np.isnan(r)], rtol=0, atol=1e-10, err_msg=col)


def _check_against_r(res, ref):
    assert res.formula == ref["formula"]
    assert res.mixed.n_obs == ref["nobs"] == len(res.data)
    fe = pd.DataFrame(ref["fixef"]).set_index("term")
    params = res.mixed.params.set_index("term")
    assert list(params.index) == list(fe.index)
    np.testing.assert_allclose(params["estimate"], fe["estimate"], rtol=1e-5)
    np.testing.assert_allclose(params["std_error"], fe["std_error"], rtol=1e-4)
    vc = pd.DataFrame(ref["varcomp"])
    np.testing.assert_allclose(res.mixed.varcomp["vcov"].to_numpy(), vc["vcov"].to_numpy(), rtol=1e-4)
    within = res.comparison[res.comparison.estimator == "fixed_effects"].set_index("term")
    assert list(within.index) == ref["fe_terms"]
    np.testing.assert_allclose(within["estimate"], ref["fe_estimate"], rtol=1e-8)
    assert int(res.fixed_effects.nobs) == ref["fe_nobs"]


def test_three_level_model_matches_lme4_and_lm(three_level):
    _check_against_r(three_level, REF["three_level"])


def test_two_level_model_without_prior_outcome_matches_lme4_and_lm(data):
    res = fit_alliance_outcome(data, therapist=None, prior_outcome=False, random_slope=False)
    _check_against_r(res, REF["two_level"])
    assert res.nickell_bias is None
    assert not any("Nickell" in n for n in res.notes)


def test_comparison_table_and_nickell_note(three_level, data):
    res = three_level
    assert list(res.comparison.columns) == ["term", "estimator", "estimate", "std_error", "statistic",
                                            "p_value", "ci_lower", "ci_upper"]
    mixed_rows = res.comparison[res.comparison.estimator == "mixed"].reset_index(drop=True)
    pd.testing.assert_frame_equal(mixed_rows.drop(columns="estimator"),
                                  res.mixed.params.drop(columns="df")[mixed_rows.columns.drop("estimator")],
                                  check_dtype=False)
    fe = res.comparison[res.comparison.estimator == "fixed_effects"].set_index("term")
    assert (fe.ci_lower < fe.estimate).all() and (fe.estimate < fe.ci_upper).all()
    # T = mean analysed sessions per client, counted here independently of the implementation
    used = data.sort_values(["client", "session"]).copy()
    prev = used.groupby("client").session.shift(1) == used.session - 1
    prev_alliance = used.groupby("client").alliance.shift(1).notna()
    ok = prev & prev_alliance & used.outcome.notna() & used.groupby("client").outcome.shift(1).notna()
    t_mean = used[ok].groupby("client").size().mean()
    np.testing.assert_allclose(res.sessions_per_client, t_mean, rtol=1e-12)
    rho = fe.loc["outcome_lag1", "estimate"]
    np.testing.assert_allclose(res.nickell_bias, -(1 + rho) / (t_mean - 1), rtol=1e-12)
    assert any("Nickell (1981)" in n and f"{res.nickell_bias:.3f}" in n for n in res.notes)
    assert "Nickell" in res.summary() and "fixed_effects" in res.summary()


def test_result_is_frozen_and_input_untouched(data):
    before = data.copy()
    res = fit_alliance_outcome(data, random_slope=False)
    pd.testing.assert_frame_equal(data, before)
    with pytest.raises(dataclasses.FrozenInstanceError):
        res.formula = "y ~ 1"
    assert res.provenance.options["random_slope"] is False
    assert "(1 | client)" in res.formula and "session0 |" not in res.formula


@pytest.mark.parametrize("change, kwargs, fragment", [
    (lambda d: d, {"alliance": "wai"}, "column 'wai' not found in data"),
    (lambda d: d.drop(columns="therapist"), {}, "therapist=None for a two-level model"),
    (lambda d: d.assign(alliance=d.alliance.astype(str)), {}, "column 'alliance' has dtype"),
    (lambda d: d, {"random_slope": "no"}, "random_slope='no' must be True or False"),
    (lambda d: d, {"conf_level": 1.5}, "conf_level=1.5 must be a number between 0 and 1"),
    (lambda d: d[d.session == 1], {}, "two consecutive"),
])
def test_bad_input_says_what_and_how(data, change, kwargs, fragment):
    with pytest.raises(AllianceStatsError, match=fragment):
        fit_alliance_outcome(change(data), **kwargs)


@pytest.mark.slow  # a subprocess with its own imports: ~3 s CPU, longer wall time on a busy machine
def test_worked_analysis_runs_top_to_bottom():
    import resource
    import subprocess
    import sys

    root = Path(__file__).resolve().parents[2]
    script = root / "analyses" / "02_multilevel_within_between.py"
    # CPU time of the child, not wall time: the budget (< 30 s) must not fail because the machine is busy
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    run = subprocess.run([sys.executable, str(script)], cwd=root, capture_output=True, text=True, timeout=300)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    assert run.returncode == 0, run.stderr[-2000:]
    for step in range(1, 8):
        assert f"Step {step}" in run.stdout
    # Nickell's bias is large here (about -0.2 against a standard error of about 0.03): the fixed-effects
    # estimate of the previous-outcome coefficient falls below the simulated truth, and removing the
    # approximate bias moves it closer
    line = next(x for x in run.stdout.splitlines() if "previous-outcome coefficient" in x)
    fe, truth, corrected = (float(line.split(word)[1].split()[0].rstrip(",;")) for word in
                            ("fixed effects ", "truth ", "bias "))
    assert fe < truth
    assert abs(corrected - truth) < abs(fe - truth)
    assert cpu < 30


def test_row_order_does_not_matter(data):
    # lags go by client and session number, not by row position
    shuffled = data.sample(frac=1.0, random_state=11).reset_index(drop=True)
    a = fit_alliance_outcome(data, random_slope=False).comparison
    b = fit_alliance_outcome(shuffled, random_slope=False).comparison
    np.testing.assert_allclose(b["estimate"], a["estimate"], rtol=1e-6)
    np.testing.assert_allclose(b["std_error"], a["std_error"], rtol=1e-4)


def test_result_protocol_and_renamed_arguments(data):
    from allianceStats.results import Result

    res = fit_alliance_outcome(data, random_slope=False, conf_level=0.9)
    assert isinstance(res, Result) and type(res.n_obs) is int and res.n_obs == len(res.data)
    assert res.conf_level == res.mixed.conf_level == 0.9 and res.converged is res.mixed.converged
    assert res.provenance.function == "fit_alliance_outcome" and res.provenance.options["conf_level"] == 0.9
    fe = res.comparison[res.comparison.estimator == "fixed_effects"]
    # 90% intervals of the within estimator: estimate -/+ t_0.95 x SE (clustered), linearmodels' residual df
    from scipy import stats
    q = stats.t.ppf(0.95, res.fixed_effects.df_resid)
    np.testing.assert_allclose(fe.ci_upper - fe.estimate, q * fe.std_error, rtol=1e-6)
    with pytest.warns(FutureWarning, match="time= is renamed session="):
        old = fit_alliance_outcome(data, random_slope=False, conf_level=0.9, time="session")
    pd.testing.assert_frame_equal(old.comparison, res.comparison)
    with pytest.warns(FutureWarning, match="AllianceOutcomeResult.level is renamed"):
        assert res.level == 0.9
