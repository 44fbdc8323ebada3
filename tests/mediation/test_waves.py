"""wave_mediation: the within-person indirect effect across waves from a three-variable RI-CLPM.

Checks: lavaan 0.6 (fixtures/make_fixtures.R, section 5: RI-CLPM by FIML on R-generated data with dropout, the
effects as ``:=``): log-likelihood 1e-8 relative, effects 2e-5 relative, delta-method SEs 1e-4 relative (the
tolerances of the panel fixtures: both optimisers stop at ~1e-8 relative change); the estimate and SE equal the
SEM engine's own ``:=`` parameters on the same fit (1e-9 / 1e-5 — the engine differentiates ``:=`` numerically);
and a simulation recovers the true lag-2 indirect and total effects (within 3.5 standard errors).
"""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from allianceStats.errors import AllianceStatsError
from allianceStats.mediation import wave_mediation
from allianceStats.sem import fit_sem

B_TRUE = np.array([[0.3, 0.0, 0.1], [0.4, 0.3, 0.0], [0.0, 0.4, 0.3]])  # rows: x, m, y at t; columns: t - 1


def _panel(n=400, waves=5, seed=11):
    rng = np.random.default_rng(seed)
    w = np.zeros((n, 3, waves))
    w[:, :, 0] = rng.normal(size=(n, 3))
    for t in range(1, waves):
        w[:, :, t] = w[:, :, t - 1] @ B_TRUE.T + rng.normal(size=(n, 3))
    ri = 0.6 * rng.normal(size=(n, 3))
    rows = [{"client": f"c{i}", "session": t + 1, "support": 4 + ri[i, 0] + w[i, 0, t],
             "needs": 3 + ri[i, 1] + w[i, 1, t], "motivation": 5 + ri[i, 2] + w[i, 2, t]}
            for i in range(n) for t in range(waves)]
    return pd.DataFrame(rows)


@pytest.fixture(scope="module")
def fitted():
    data = _panel()
    return data, wave_mediation(data, "support", "needs", "motivation", n_draws=20000, seed=3)


def test_matches_the_sem_engines_defined_parameters(fitted):
    _, res = fitted
    lab = res.paths.set_index(["outcome", "predictor"])["label"]
    a, b, c = lab[("needs", "support")], lab[("motivation", "needs")], lab[("motivation", "support")]
    ax, ay = lab[("support", "support")], lab[("motivation", "motivation")]
    syntax = res.panel.syntax + f"\nind := {a}*{b}\ntotal2 := {c}*{ax} + {a}*{b} + {ay}*{c}\n"
    sem = fit_sem(syntax, res.panel.data, missing="fiml", defaults="none")
    defined = sem.params[sem.params["op"] == ":="].set_index("lhs")
    eff = res.effects.set_index("effect")
    for ours, theirs in [("support[t-2] -> needs[t-1] -> motivation[t]", "ind"),
                         ("support[t-2] -> motivation[t], total", "total2")]:
        assert eff.loc[ours, "estimate"] == pytest.approx(defined.loc[theirs, "estimate"], rel=1e-9)
        assert eff.loc[ours, "std_error"] == pytest.approx(defined.loc[theirs, "std_error"], rel=1e-5)


def test_matches_lavaan(lavaan_waves):
    data, ref = lavaan_waves
    res = wave_mediation(data, "support", "needs", "motivation", ci="delta")
    assert ref["converged"] and res.convergence.converged
    assert res.panel.fit["loglik"] == pytest.approx(ref["loglik"], rel=1e-8)
    want = pd.DataFrame(ref["defined"]).set_index("lhs")
    eff = res.effects.set_index("effect")
    for ours, theirs in [("support[t-2] -> needs[t-1] -> motivation[t]", "ind"),
                         ("support[t-2] -> motivation[t], total", "total2")]:
        assert eff.loc[ours, "estimate"] == pytest.approx(want.loc[theirs, "est"], rel=2e-5)
        assert eff.loc[ours, "std_error"] == pytest.approx(want.loc[theirs, "se"], rel=1e-4)


def test_recovers_true_lag2_effects(fitted):
    _, res = fitted
    eff = res.effects.set_index("effect")
    true_indirect = B_TRUE[1, 0] * B_TRUE[2, 1]
    true_total = (B_TRUE @ B_TRUE)[2, 0]
    ind = eff.loc["support[t-2] -> needs[t-1] -> motivation[t]"]
    tot = eff.loc["support[t-2] -> motivation[t], total"]
    assert abs(ind["estimate"] - true_indirect) < 3.5 * ind["std_error"]
    assert abs(tot["estimate"] - true_total) < 3.5 * tot["std_error"]
    assert ind["ci_lower"] > 0 and res.draws["effects"].dims == ("draw", "effect")
    assert list(res.effects.columns) == ["effect", "estimate", "std_error", "ci_lower", "ci_upper", "p_value"]
    # components add up: other routes + indirect = total
    assert eff["estimate"].iloc[0] + eff["estimate"].iloc[1] == pytest.approx(eff["estimate"].iloc[2], rel=1e-12)


def test_delta_interval_and_bad_input(fitted):
    data, res = fitted
    delta = wave_mediation(data, "support", "needs", "motivation", ci="delta")
    pd.testing.assert_series_equal(delta.effects["estimate"], res.effects["estimate"])
    row = delta.effects.iloc[0]
    assert row["ci_upper"] - row["ci_lower"] == pytest.approx(2 * 1.959963984540054 * row["std_error"], rel=1e-9)
    with pytest.raises(AllianceStatsError, match="not one of"):
        wave_mediation(data, "support", "needs", "motivation", ci="jackknife")
    with pytest.raises(AllianceStatsError, match="three different columns"):
        wave_mediation(data, "support", "support", "motivation")
