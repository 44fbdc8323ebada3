"""Behaviour of allianceStats.fit_mediation: vectorised bootstrap = naive refits, seeding, clusters, BCa's jackknife,
Monte Carlo intervals, and errors on bad input."""
from __future__ import annotations

import dataclasses
import warnings

import numpy as np
import pandas as pd
import pytest

from allianceStats.errors import DataWarning, IdentificationError, OptionError, SchemaError
from allianceStats.mediation import fit_mediation
from allianceStats.mediation.engine import data_matrix, jackknife_coefficients
from allianceStats.mediation.observed import build_model

PARALLEL = dict(x="support", mediators=["autonomy", "competence", "relatedness"], y="motivation",
                covariates=["baseline"])


def _ols(frame, outcome, predictors):
    x = np.column_stack([np.ones(len(frame)), frame[predictors].to_numpy()])
    return np.linalg.lstsq(x, frame[outcome].to_numpy(), rcond=None)[0][1:]


def test_vectorised_bootstrap_equals_refitting_each_resample(paths_data):
    n_boot, seed = 200, 11
    res = fit_mediation(paths_data, **PARALLEL, n_draws=n_boot, seed=seed)
    idx = np.random.default_rng(seed).integers(0, len(paths_data), size=(n_boot, len(paths_data)))
    draws = res.draws["paths"]
    for b in (0, 57, 199):
        sample = paths_data.iloc[idx[b]]
        a1 = _ols(sample, "autonomy", ["support", "baseline"])[0]
        b_paths = _ols(sample, "motivation", ["support", "autonomy", "competence", "relatedness", "baseline"])
        assert draws.sel(draw=b, path="autonomy ~ support").item() == pytest.approx(a1, rel=1e-9)
        assert draws.sel(draw=b, path="motivation ~ autonomy").item() == pytest.approx(b_paths[1], rel=1e-9)
        ind = res.draws["effects"].sel(draw=b, effect="support -> autonomy -> motivation").item()
        assert ind == pytest.approx(a1 * b_paths[1], rel=1e-9)


def test_seeded_runs_are_bit_for_bit_repeatable(paths_data):
    for ci in ("percentile", "bca", "monte_carlo"):
        one = fit_mediation(paths_data, **PARALLEL, n_draws=300, seed=5, ci=ci)
        two = fit_mediation(paths_data, **PARALLEL, n_draws=300, seed=5, ci=ci)
        assert np.array_equal(one.draws["effects"].values, two.draws["effects"].values)
        assert one.effects.equals(two.effects)
        other = fit_mediation(paths_data, **PARALLEL, n_draws=300, seed=6, ci=ci)
        assert not np.array_equal(one.draws["effects"].values, other.draws["effects"].values)
    fresh = fit_mediation(paths_data, **PARALLEL, n_draws=100)
    again = fit_mediation(paths_data, **PARALLEL, n_draws=100, seed=fresh.provenance.seed)
    assert np.array_equal(fresh.draws["effects"].values, again.draws["effects"].values)


def test_cluster_bootstrap_on_duplicated_rows_equals_case_bootstrap(paths_data):
    # every row twice, the pair forming one cluster: resampling clusters = resampling the original rows
    doubled = pd.concat([paths_data.assign(case=np.arange(len(paths_data)))] * 2, ignore_index=True)
    case = fit_mediation(paths_data, **PARALLEL, n_draws=300, seed=3)
    clus = fit_mediation(doubled, **PARALLEL, n_draws=300, seed=3, client="case")
    np.testing.assert_allclose(clus.draws["effects"].values, case.draws["effects"].values, rtol=1e-9)
    np.testing.assert_allclose(clus.effects["estimate"], case.effects["estimate"], rtol=1e-12)
    assert clus.n_clients == len(paths_data) and clus.n_obs == 2 * len(paths_data)


def test_cluster_bootstrap_widens_intervals_for_clustered_data():
    rng = np.random.default_rng(8)
    g = np.repeat(np.arange(60), 8)
    u = rng.normal(size=(60, 3))[g]  # strong cluster effects in x, m and y
    x = u[:, 0] + 0.3 * rng.normal(size=g.size)
    m = 0.5 * x + u[:, 1] + 0.3 * rng.normal(size=g.size)
    y = 0.5 * m + u[:, 2] + 0.3 * rng.normal(size=g.size)
    df = pd.DataFrame({"x": x, "m": m, "y": y, "client": g})
    naive = fit_mediation(df, "x", ["m"], "y", n_draws=2000, seed=1)
    clus = fit_mediation(df, "x", ["m"], "y", n_draws=2000, seed=1, client="client")
    sd_naive = naive.draws["effects"].std("draw").sel(effect="x -> m -> y").item()
    sd_clus = clus.draws["effects"].std("draw").sel(effect="x -> m -> y").item()
    assert sd_clus > 1.5 * sd_naive


def test_jackknife_is_leave_one_out(paths_data):
    model = build_model("support", ["alliance", "needs"], "engagement", serial=True)
    design = data_matrix(paths_data[list(model.variables)].to_numpy())
    jack = jackknife_coefficients(model, design)
    pos = model.coef_keys.index(("needs", "alliance"))
    for i in (0, 200, 419):
        kept = paths_data.drop(index=i)
        assert jack[i, pos] == pytest.approx(_ols(kept, "needs", ["support", "alliance"])[1], rel=1e-9)


def test_bca_and_percentile_bracket_the_estimate_and_differ_for_a_skewed_indirect_effect(paths_data):
    kw = dict(n_draws=3000, seed=2)
    per = fit_mediation(paths_data, **PARALLEL, ci="percentile", **kw).effects.set_index("effect")
    bca = fit_mediation(paths_data, **PARALLEL, ci="bca", **kw).effects.set_index("effect")
    assert np.all(bca["ci_lower"] < bca["estimate"]) and np.all(bca["estimate"] < bca["ci_upper"])
    assert not np.allclose(per["ci_lower"], bca["ci_lower"], rtol=1e-6)
    # same draws, only the quantile levels differ: the limits stay within the range of the draws
    assert np.all(np.abs(per["ci_lower"] - bca["ci_lower"]) < 0.5 * (per["ci_upper"] - per["ci_lower"]))


def test_monte_carlo_interval_of_a_linear_effect_equals_wald_interval(paths_data):
    res = fit_mediation(paths_data, **PARALLEL, ci="monte_carlo", n_draws=20000, seed=4)
    direct = res.effects.set_index("effect").loc["direct"]
    wald = res.paths.set_index("label").loc["c_prime"]
    # quantile of 20000 normal draws: SE of a 2.5% limit ~ 0.0134 SD; allow 4 of them
    assert direct["ci_lower"] == pytest.approx(wald["ci_lower"], abs=4 * 0.0134 * wald["std_error"])
    assert direct["ci_upper"] == pytest.approx(wald["ci_upper"], abs=4 * 0.0134 * wald["std_error"])
    assert res.draws.attrs["method"] == "monte_carlo"


def test_result_follows_the_result_protocol(paths_data):
    from allianceStats.mediation.tables import EFFECT_COLUMNS, PATH_COLUMNS
    from allianceStats.results import Result

    res = fit_mediation(paths_data, **PARALLEL, n_draws=200, seed=1, conf_level=0.9)
    assert isinstance(res, Result) and res.converged and isinstance(res.n_obs, int)
    assert list(res.effects.columns) == EFFECT_COLUMNS and list(res.paths.columns) == PATH_COLUMNS
    assert set(res.paths["op"]) == {"~"}
    assert res.paths.loc[res.paths["label"] != "", "label"].tolist() == ["a1", "a2", "a3", "c_prime", "b1", "b2",
                                                                          "b3"]
    assert res.conf_level == 0.9 and res.ci == "percentile" and res.n_draws == 200
    assert res.draws["effects"].dims == ("draw", "effect") and res.draws.sizes["draw"] == 200
    prov = res.provenance
    assert prov.seed == 1 and prov.function == "fit_mediation" and prov.elapsed_seconds >= 0
    assert prov.options["ci"] == "percentile" and prov.options["conf_level"] == 0.9
    assert "support -> autonomy -> motivation" in res.summary() and "90% intervals" in res.summary()
    # the paths have the result's inference too: percentile limits, SD of the draws, no z statistic
    cp = res.paths.set_index("label").loc["c_prime"]
    cp_draws = res.draws["paths"].sel(path="motivation ~ support").values
    assert cp["ci_upper"] == pytest.approx(np.quantile(cp_draws, 0.95), rel=1e-12)
    assert cp["std_error"] == pytest.approx(np.std(cp_draws, ddof=1), rel=1e-12) and np.isnan(cp["statistic"])
    wald = fit_mediation(paths_data, **PARALLEL, ci="delta", conf_level=0.9).paths.set_index("label").loc["c_prime"]
    assert wald["ci_upper"] - wald["estimate"] == pytest.approx(1.6448536269514722 * wald["std_error"], rel=1e-9)
    assert wald["statistic"] == pytest.approx(wald["estimate"] / wald["std_error"], rel=1e-12)
    import arviz as az  # the documented route into arviz: add a chain dimension

    stats_table = az.summary(res.draws.expand_dims("chain"), var_names=["effects"], kind="stats")
    assert stats_table.loc["effects[total]", "sd"] == pytest.approx(
        float(res.draws["effects"].sel(effect="total").std()), rel=1e-2)
    with pytest.raises(dataclasses.FrozenInstanceError):
        res.conf_level = 0.5  # type: ignore[misc]


def test_delta_interval_is_wald_on_the_delta_method_se(paths_data):
    res = fit_mediation(paths_data, **PARALLEL, ci="delta", seed=1)
    eff = res.effects
    np.testing.assert_allclose(eff["ci_upper"] - eff["estimate"], 1.959963984540054 * eff["std_error"], rtol=1e-9)
    assert res.draws is None and res.n_draws == 0 and "delta" in res.summary()
    boot = fit_mediation(paths_data, **PARALLEL, n_draws=200, seed=1)
    np.testing.assert_allclose(eff["estimate"], boot.effects["estimate"], rtol=1e-12)


def test_inputs_are_not_mutated_and_missing_rows_are_dropped_with_warning(paths_data):
    df = paths_data.copy()
    df.loc[[3, 10], "autonomy"] = np.nan
    before = df.copy()
    with pytest.warns(DataWarning, match="2 of 420 rows") as caught:
        res = fit_mediation(df, **PARALLEL, n_draws=100, seed=1)
    assert caught[0].filename == __file__  # the warning points at the caller's line
    pd.testing.assert_frame_equal(df, before)
    assert res.n_obs == 418


def test_bad_inputs_raise_clear_errors(paths_data):
    with pytest.raises(SchemaError, match="column 'nope' not found in data"):
        fit_mediation(paths_data, "support", ["nope"], "motivation")
    with pytest.raises(OptionError, match="column 'support' is given as x and a mediator"):
        fit_mediation(paths_data, "support", ["support"], "motivation")
    with pytest.raises(OptionError, match=r"ci='normal' is not supported; choose one of \['percentile', 'bca', "
                                          r"'monte_carlo', 'delta'\]"):
        fit_mediation(paths_data, "support", ["autonomy"], "motivation", ci="normal")
    with pytest.raises(OptionError, match="conf_level=95 must be a number between 0 and 1"):
        fit_mediation(paths_data, "support", ["autonomy"], "motivation", conf_level=95)
    with pytest.raises(OptionError, match="n_draws=10 must be an integer of at least 100"):
        fit_mediation(paths_data, "support", ["autonomy"], "motivation", n_draws=10)
    with pytest.raises(OptionError, match="seed=-3"):
        fit_mediation(paths_data, "support", ["autonomy"], "motivation", seed=-3)
    with pytest.raises(OptionError, match="serial='yes' must be True or False"):
        fit_mediation(paths_data, "support", ["autonomy"], "motivation", serial="yes")
    with pytest.raises(OptionError, match="no mediator given"):
        fit_mediation(paths_data, "support", [], "motivation")
    with pytest.raises(SchemaError, match="column 's' has dtype"):
        fit_mediation(paths_data.assign(s=paths_data["support"].astype(str)), "s", ["autonomy"], "motivation")
    with pytest.raises(SchemaError, match="data must be a pandas DataFrame"):
        fit_mediation(paths_data.to_dict(), "support", ["autonomy"], "motivation")
    with pytest.raises(SchemaError) as err:  # every missing column at once
        fit_mediation(paths_data, "support", ["nope", "nix"], "motivation", client="client")
    assert len(err.value.problems) == 3
    with pytest.raises(IdentificationError, match="rank deficient"):
        fit_mediation(paths_data.assign(b2=2 * paths_data["baseline"]), "support", ["autonomy"], "motivation",
                      covariates=["baseline", "b2"], n_draws=100)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        one = fit_mediation(paths_data, "support", "autonomy", "motivation", covariates="baseline", n_draws=100,
                            seed=1)
    assert one.paths["rhs"].tolist() == ["support", "baseline", "support", "autonomy", "baseline"]  # names as str


# ---------------------------------------------------------------------------------------------- issue 12
def test_one_infinite_value_is_a_schema_error_naming_column_and_row(paths_data):
    """Issue 12: one infinite value gave all-NaN effects and no error; now a SchemaError naming column and row."""
    bad = paths_data.copy()
    bad.loc[7, "autonomy"] = np.inf
    with pytest.raises(SchemaError, match=r"column 'autonomy': 1 infinite value\(s\) at row\(s\) 7"):
        fit_mediation(bad, "support", ["autonomy"], "motivation", n_draws=100, seed=1)


def test_path_model_engine_refuses_infinite_values_whoever_calls_it(paths_data):
    """fit_path_model is also reached from evaluate_hypotheses; an infinite value stopped numpy's SVD there."""
    from allianceStats.mediation.observed import fit_path_model

    bad = paths_data.copy()
    bad.loc[[3, 9], "motivation"] = -np.inf
    with pytest.raises(SchemaError, match=r"column 'motivation': 2 infinite value\(s\) at row\(s\) 3, 9"):
        fit_path_model(bad, build_model("support", ["autonomy"], "motivation"), client=None, n_draws=100,
                       ci="percentile", conf_level=0.95, seed=1, options={}, function="fit_x")


@pytest.mark.parametrize("n_clients", [1, 2, 4])
@pytest.mark.parametrize("ci", ["percentile", "bca"])
def test_client_bootstrap_over_too_few_clients_is_an_error(paths_data, n_clients, ci):
    """Issue 12: one client gave a zero-width interval with p < .001; a client bootstrap needs 5 clients."""
    few = paths_data.assign(client=np.arange(len(paths_data)) % n_clients)
    with pytest.raises(IdentificationError, match=rf"'client' has {n_clients} client\(s\).*at least 5 are needed"):
        fit_mediation(few, "support", ["autonomy"], "motivation", client="client", ci=ci, n_draws=100, seed=1)


def test_client_bootstrap_over_five_clients_runs_with_a_warning(paths_data):
    five = paths_data.assign(client=np.arange(len(paths_data)) % 5)
    with pytest.warns(DataWarning, match="only 5 clients"):
        res = fit_mediation(five, "support", ["autonomy"], "motivation", client="client", n_draws=100, seed=1)
    assert res.n_clients == 5 and (res.effects["ci_upper"] > res.effects["ci_lower"]).all()
    # cluster-robust standard errors need the clients too (issue 13: every method respects the clustering)
    with pytest.raises(IdentificationError, match="cluster-robust standard errors.*has 1 client"):
        fit_mediation(paths_data.assign(client=0), "support", ["autonomy"], "motivation", client="client",
                      ci="delta")


@pytest.mark.parametrize("x, mediators, y, roles", [
    ("support", ["autonomy"], "support", "x and y"),
    ("support", ["support"], "motivation", "x and a mediator"),
    ("support", ["motivation"], "motivation", "y and a mediator"),
    ("support", ["autonomy", "autonomy"], "motivation", "a mediator and a mediator"),
])
def test_one_column_in_two_roles_is_an_option_error(paths_data, x, mediators, y, roles):
    """Issue 12: fit_mediation(data, x='alliance', ..., y='alliance') raised AttributeError."""
    with pytest.raises(OptionError, match=f"is given as {roles}; each column plays one role"):
        fit_mediation(paths_data, x=x, mediators=mediators, y=y, n_draws=100, seed=1)
