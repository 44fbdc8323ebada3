"""lag_sequential against LagSequential 0.1.1, R's loglin and Poisson glm (fixtures/make_lag_fixtures.R).

Tolerances: the closed-form statistics (expected, transitional probabilities, adjusted residuals, Yule's Q, the
likelihood-ratio chi-square and its p) to 1e-9 relative (they are the same formulas; differences are rounding);
with structural zeros, the expected frequencies to 1e-8 relative against loglin (eps 1e-12) and the adjusted
residuals to 1e-6 against the standardized Pearson residuals of glm (IRLS stops at 1e-14 relative deviance change);
LagSequential's own structural-zero values only to 1e-3, because its iterative proportional fitting stops when the
margins are within 1e-4.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from allianceStats.process import lag_sequential, lag_sequential_from_table

from .conftest import FIXTURES, as_float

COLUMNS = ["observed", "expected", "transitional_probability", "adjusted_residual", "yules_q"]


def _aligned(result, ref, columns=COLUMNS):
    t = result.table.set_index(["given", "target"])
    idx = list(zip(ref["given"], ref["target"]))
    return {c: t.loc[idx, c].to_numpy(dtype=float) for c in columns + ["yules_q_se", "p_value"]}


def _check(result, ref, rtol=1e-9, atol=1e-12):
    got = _aligned(result, ref)
    for col in COLUMNS:
        np.testing.assert_allclose(got[col], as_float(ref[col]), rtol=rtol, atol=atol, err_msg=col)
    np.testing.assert_allclose(result.chisq, ref["chisq"], rtol=rtol)
    assert result.df == ref["df"]
    np.testing.assert_allclose(result.p_value, ref["p_value"], rtol=1e-7, atol=1e-15)


def _events(name):
    return pd.read_csv(FIXTURES / name)


def test_bakeman_quera_2011_p159(lag_reference):
    ref = lag_reference["bq2011"]
    res = lag_sequential(_events("lag_bq2011.csv"), client=None)
    _check(res, ref)
    got = _aligned(res, ref)
    # LagSequential's p of the adjusted residuals (tailed = 2)
    np.testing.assert_allclose(got["p_value"], as_float(ref["p_adjusted_residual"]), rtol=1e-9, atol=1e-15)
    # Yule's Q standard errors against the delta method on glm's log odds ratio SE
    np.testing.assert_allclose(got["yules_q_se"], as_float(ref["yules_q_se"]), rtol=1e-7, equal_nan=True)
    assert np.isnan(as_float(ref["yules_q_se"])).sum() == np.isnan(got["yules_q_se"]).sum() > 0


def test_bakeman_quera_2011_lag2(lag_reference):
    _check(lag_sequential(_events("lag_bq2011.csv"), client=None, lag=2), lag_reference["bq2011_lag2"])


def test_griffin_gottman_matrix(lag_reference):
    ref = lag_reference["griffin_gottman"]
    labels = ref["labels"]
    freq = pd.DataFrame(np.array(ref["observed"]).reshape(len(labels), -1), index=labels, columns=labels)
    _check(lag_sequential_from_table(freq), ref)


@pytest.mark.parametrize("name, data, lag", [("wampold1984", "lag_wampold1984.csv", 1), ("trial", "lag_trial.csv", 1),
                                             ("trial_lag3", "lag_trial.csv", 3)])
def test_lagsequential_shipped_sequences(lag_reference, name, data, lag):
    _check(lag_sequential(_events(data), client=None, lag=lag, codes=lag_reference[name]["labels"]),
           lag_reference[name])


def test_pooled_sessions_are_the_summed_tables(lag_reference):
    ref = lag_reference["sessions_pooled"]
    res = lag_sequential(_events("lag_sessions.csv"), client=None, codes=ref["labels"])
    _check(res, ref)
    np.testing.assert_allclose(_aligned(res, ref)["yules_q_se"], as_float(ref["yules_q_se"]), rtol=1e-7,
                               equal_nan=True)
    # 450 events in 6 sessions: 444 transitions (none crosses a session boundary)
    assert res.n_obs == 450 and res.n_transitions == 444 == sum(ref["observed"])


def test_each_session_on_its_own(lag_reference):
    res = lag_sequential(_events("lag_sessions.csv"), client=None, per_session=True,
                         codes=lag_reference["sessions_pooled"]["labels"])
    for s, ref in enumerate(lag_reference["sessions_each"], start=1):
        part = res.sessions[res.sessions["session"] == s].set_index(["given", "target"])
        idx = list(zip(ref["given"], ref["target"]))
        for col in COLUMNS:
            np.testing.assert_allclose(part.loc[idx, col].to_numpy(dtype=float), as_float(ref[col]), rtol=1e-9,
                                       atol=1e-12, err_msg=f"session {s} {col}")
        np.testing.assert_allclose(part["chisq"].iloc[0], ref["chisq"], rtol=1e-9)
        assert part["df"].iloc[0] == ref["df"]


def test_structural_zeros_against_loglin_and_glm(lag_reference):
    ref = lag_reference["no_repeats"]
    res = lag_sequential(_events("lag_no_repeats.csv"), client=None, structural_zeros="diagonal",
                         codes=ref["lagsequential"]["labels"])
    assert res.converged and res.convergence.optimizer == "iterative proportional fitting"
    t = res.table.set_index(["given", "target"])
    idx = list(zip(ref["given"], ref["target"]))
    free = np.array([g != tt for g, tt in idx])
    np.testing.assert_allclose(t.loc[idx, "expected"].to_numpy(), as_float(ref["expected_loglin"]), rtol=1e-8,
                               atol=1e-12)
    np.testing.assert_allclose(t.loc[idx, "expected"].to_numpy(), as_float(ref["expected_glm"]), rtol=1e-8,
                               atol=1e-12)
    np.testing.assert_allclose(t.loc[idx, "adjusted_residual"].to_numpy()[free],
                               as_float(ref["adjusted_residual_glm"])[free], rtol=1e-6)
    assert np.isnan(t.loc[idx, "adjusted_residual"].to_numpy()[~free]).all()
    np.testing.assert_allclose(res.chisq, ref["chisq_loglin"], rtol=1e-8)
    np.testing.assert_allclose(res.chisq, ref["deviance_glm"], rtol=1e-8)
    assert res.df == ref["df_glm"] == ref["lagsequential"]["df"] == 5
    # LagSequential itself, within its IPF tolerance of 1e-4 on the margins
    ls = ref["lagsequential"]
    np.testing.assert_allclose(t.loc[idx, "expected"].to_numpy(), as_float(ls["expected"]), rtol=1e-3, atol=1e-3)
    np.testing.assert_allclose(t.loc[idx, "adjusted_residual"].to_numpy()[free],
                               as_float(ls["adjusted_residual"])[free], atol=1e-3)
    np.testing.assert_allclose(res.chisq, ls["chisq"], rtol=1e-6)
