"""fit_wave_mediation: the within-person indirect effect across waves from a three-variable RI-CLPM.

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

from allianceStats.errors import OptionError
from allianceStats.mediation import fit_wave_mediation
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
    return data, fit_wave_mediation(data, "support", "needs", "motivation", n_draws=20000, seed=3)


def test_matches_the_sem_engines_defined_parameters(fitted):
    data, mc = fitted
    res = fit_wave_mediation(data, "support", "needs", "motivation", ci="delta")  # delta-method SEs, as := gives
    # with Monte Carlo draws the standard errors are the draws' SDs: within 2% of the delta method (20000 draws)
    np.testing.assert_allclose(mc.effects["std_error"], res.effects["std_error"], rtol=0.02)
    lagged = pd.concat([res.panel.cross_lagged, res.panel.autoregressive])
    lab = lagged.drop_duplicates(["outcome", "predictor"]).set_index(["outcome", "predictor"])["label"]
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
    res = fit_wave_mediation(data, "support", "needs", "motivation", ci="delta")
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
    assert list(res.effects.columns) == ["effect", "estimate", "std_error", "statistic", "p_value", "ci_lower",
                                         "ci_upper"]
    # components add up: other routes + indirect = total
    assert eff["estimate"].iloc[0] + eff["estimate"].iloc[1] == pytest.approx(eff["estimate"].iloc[2], rel=1e-12)


def test_delta_interval_and_bad_input(fitted):
    data, res = fitted
    delta = fit_wave_mediation(data, "support", "needs", "motivation", ci="delta")
    pd.testing.assert_series_equal(delta.effects["estimate"], res.effects["estimate"])
    row = delta.effects.iloc[0]
    assert row["ci_upper"] - row["ci_lower"] == pytest.approx(2 * 1.959963984540054 * row["std_error"], rel=1e-9)
    assert delta.draws is None and delta.n_draws == 0 and delta.ci == "delta"
    with pytest.raises(OptionError, match="ci='jackknife' is not supported"):
        fit_wave_mediation(data, "support", "needs", "motivation", ci="jackknife")
    with pytest.raises(OptionError, match="column 'support' is given as x and m"):
        fit_wave_mediation(data, "support", "support", "motivation")
    with pytest.raises(OptionError, match="conf_level=1.5"):
        fit_wave_mediation(data, "support", "needs", "motivation", conf_level=1.5)


def test_result_protocol_and_paths_table(fitted):
    from allianceStats.mediation.tables import PATH_COLUMNS
    from allianceStats.results import Result

    data, res = fitted
    assert isinstance(res, Result) and res.converged and res.n_obs == data["client"].nunique()
    assert res.conf_level == 0.95 and res.ci == "monte_carlo" and res.n_draws == 20000
    assert res.provenance.function == "fit_wave_mediation" and res.provenance.seed == 3
    paths = res.paths
    assert list(paths.columns) == PATH_COLUMNS and set(paths["op"]) == {"~"}
    assert paths[["lhs", "rhs", "label"]].values.tolist() == [
        ["needs[t]", "support[t-1]", "a1"], ["motivation[t]", "needs[t-1]", "b1"],
        ["motivation[t]", "support[t-1]", "c_prime"], ["support[t]", "support[t-1]", "ar_x"],
        ["motivation[t]", "motivation[t-1]", "ar_y"]]
    p = paths.set_index("label")["estimate"]
    assert res.effects.loc[0, "estimate"] == pytest.approx(p["a1"] * p["b1"], rel=1e-12)
    # other column names for the roles: the same fit
    renamed = data.rename(columns={"client": "id", "session": "visit"})
    again = fit_wave_mediation(renamed, "support", "needs", "motivation", client="id", session="visit", ci="delta")
    np.testing.assert_allclose(again.effects["estimate"], res.effects["estimate"], rtol=1e-12)


@pytest.mark.filterwarnings("ignore::UserWarning")
def test_an_unidentified_panel_is_an_identification_error_not_an_attribute_error(monkeypatch):
    """Issue 12: when the RI-CLPM's information matrix is singular there is no covariance matrix to take the
    effects' standard errors from (it was ``None.to_numpy()``, an AttributeError); the panel fit's reason is
    raised as an IdentificationError."""
    import allianceStats.sem.fit as sem_fit
    from allianceStats.errors import IdentificationError

    monkeypatch.setattr(sem_fit, "vcov_from_information", lambda *args, **kwargs: None)
    with pytest.raises(IdentificationError, match="fit_wave_mediation\\(\\): the RI-CLPM is not identified"):
        fit_wave_mediation(_panel(n=150, waves=3), "support", "needs", "motivation", n_draws=200, seed=1)
