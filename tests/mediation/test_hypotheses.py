"""The SDT hypothesis registry, its runner evaluate_hypotheses, and the cycle defined once in the registry."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from allianceStats.errors import OptionError, SchemaError
from allianceStats.mediation import CYCLE, REGISTRY, evaluate_hypotheses, hypotheses
from allianceStats.mediation.registry import MODELS, RESULT_COLUMNS
from allianceStats.mediation.tables import PATH_COLUMNS
from allianceStats.results import Result


def test_registry_holds_the_reviews_behaviour_to_need_map_and_the_cycle():
    reg = hypotheses()
    assert reg["id"].is_unique and set(reg["model"]) <= set(MODELS)
    assert all(reg["statement"].str.len() > 20) and all(reg["citation"].str.len() > 10)
    paths = {(r["x"], r["y"]) for r, model in zip(reg["roles"], reg["model"]) if model == "path"}
    behaviour_need = {
        ("empathic_attunement", "relatedness"), ("motivational_calibration", "autonomy"),
        ("transparency_collaboration", "competence"), ("transparency_collaboration", "autonomy"),
        ("emotional_presence", "relatedness"), ("rupture_repair", "relatedness"), ("rupture_repair", "autonomy"),
        ("responsiveness", "competence"), ("responsiveness", "relatedness")}
    assert behaviour_need <= paths
    chain = reg.set_index("id").loc["C7", "roles"]
    assert list(chain.values()) == ["therapist_behaviour", "alliance", "needs", "motivation", "engagement"]
    # the cycle: behaviour -> alliance -> needs -> motivation -> engagement -> (next session's) alliance
    arrows = [(h.roles["x"], h.roles["y"]) for h in REGISTRY if h.id in CYCLE]
    assert arrows == [("therapist_behaviour", "alliance"), ("alliance", "needs"), ("needs", "motivation"),
                      ("motivation", "engagement"), ("engagement", "alliance")]
    assert reg.loc[reg["cycle"], "id"].tolist() == list(CYCLE)
    assert {h.model for h in REGISTRY if h.id in CYCLE} == {"within_path", "lagged_path"}
    reg.loc[0, "statement"] = "changed"  # a copy: the registry itself is immutable
    assert hypotheses().loc[0, "statement"] == REGISTRY[0].statement


def _sessions(seed=0, n_clients=80, n_sessions=8):
    rng = np.random.default_rng(seed)
    g = np.repeat(np.arange(n_clients), n_sessions)
    empathy = rng.normal(size=n_clients)[g] + rng.normal(size=g.size)
    support = rng.normal(size=n_clients)[g] + rng.normal(size=g.size)
    alliance = 0.5 * empathy + 0.3 * support + rng.normal(size=n_clients)[g] + rng.normal(size=g.size)
    relatedness = 0.4 * empathy + 0.5 * alliance + rng.normal(size=g.size)
    needs = 0.5 * alliance + rng.normal(size=g.size)
    autonomy = 0.4 * alliance + rng.normal(size=g.size)
    motivation = 0.5 * needs + 0.3 * autonomy + rng.normal(size=g.size)
    engagement = 0.5 * motivation + rng.normal(size=g.size)
    noise = rng.normal(size=g.size)  # unrelated to everything: its hypothesis must not be supported
    return pd.DataFrame({"client": [f"c{j}" for j in g], "session": np.tile(np.arange(1, n_sessions + 1), n_clients),
                         "empathy": empathy, "support": support, "alliance": alliance, "relatedness": relatedness,
                         "needs": needs, "autonomy": autonomy, "motivation": motivation, "engagement": engagement,
                         "noise": noise})


MAPPING = {"empathic_attunement": "empathy", "relatedness": "relatedness", "therapist_behaviour": "empathy",
           "alliance": "alliance", "needs": "needs", "motivation": "motivation", "engagement": "engagement",
           "outcome": "noise"}


def test_runner_fits_maps_and_skips():
    data = _sessions()
    before = data.copy()
    res = evaluate_hypotheses(data, MAPPING, ids=["B1", "B2", "C5", "C6", "C7"], seed=3, n_draws=500)
    pd.testing.assert_frame_equal(data, before)
    assert isinstance(res, Result) and res.converged and res.n_obs == len(data) and res.conf_level == 0.95
    assert res.provenance.function == "evaluate_hypotheses" and res.provenance.seed == 3
    out = res.table
    assert list(out.columns) == RESULT_COLUMNS
    tab = out.set_index("hypothesis")
    assert tab.loc["B1", "estimate"] == pytest.approx(np.polyfit(data["empathy"], data["relatedness"], 1)[0],
                                                      rel=1e-10)
    assert bool(tab.loc["B1", "supported"]) and bool(tab.loc["C7", "supported"])
    assert tab.loc["C7", "model"] == "serial mediation empathy -> alliance -> needs -> motivation -> engagement"
    assert not bool(tab.loc["C5", "supported"])  # motivation -> noise
    assert pd.isna(tab.loc["B2", "supported"]) and "motivational_calibration" in tab.loc["B2", "note"]
    # lagged path: the same numbers as a hand-built regression of alliance[t+1] on engagement_within[t] etc.
    d = data.sort_values(["client", "session"]).copy()
    d["eng_w"] = d["engagement"] - d.groupby("client")["engagement"].transform("mean")
    d["eng_b"] = d.groupby("client")["engagement"].transform("mean")
    d["next"] = d.groupby("client")["alliance"].shift(-1)
    d = d.dropna(subset=["next"])
    x = np.column_stack([np.ones(len(d)), d[["eng_w", "eng_b", "alliance"]]])
    slope = np.linalg.lstsq(x, d["next"], rcond=None)[0][1]
    assert tab.loc["C6", "estimate"] == pytest.approx(slope, rel=1e-9)
    assert set(res.fits) == {"B1", "C5", "C6", "C7"}


def test_within_path_is_the_fixed_effects_estimator():
    """Mundlak (1978): with the client mean in the model, the slope of the within part is the within-client
    (fixed-effects) estimator: the regression of the demeaned outcome on the demeaned predictor."""
    data = _sessions(seed=1)
    res = evaluate_hypotheses(data, {"alliance": "alliance", "needs": "needs"}, ids=["C2"], n_draws=200, seed=1)
    demeaned = data[["alliance", "needs"]] - data.groupby("client")[["alliance", "needs"]].transform("mean")
    fe = (demeaned["alliance"] * demeaned["needs"]).sum() / (demeaned["alliance"] ** 2).sum()
    assert res.table.loc[0, "estimate"] == pytest.approx(fe, rel=1e-10)
    assert res.table.loc[0, "effect"] == "alliance -> needs"


def test_the_cycle_from_evaluate_hypotheses_alone():
    """Roles mapped to several columns: predictors enter one model together, outcomes get one model each; the
    paths table holds one arrow per row with the table's numbers, labelled by hypothesis."""
    data = _sessions(seed=2)
    mapping = {"therapist_behaviour": ["empathy", "support"], "alliance": "alliance",
               "needs": ["autonomy", "relatedness"], "motivation": "motivation", "engagement": "engagement"}
    res = evaluate_hypotheses(data, mapping, ids=CYCLE, n_draws=300, seed=5)
    paths = res.paths
    assert list(paths.columns) == PATH_COLUMNS and set(paths["op"]) == {"~"}
    assert paths[["label", "rhs", "lhs"]].values.tolist() == [
        ["C1", "empathy", "alliance"], ["C1", "support", "alliance"], ["C2", "alliance", "autonomy"],
        ["C2", "alliance", "relatedness"], ["C3", "autonomy", "motivation"], ["C3", "relatedness", "motivation"],
        ["C4", "motivation", "engagement"], ["C6", "engagement", "alliance"]]
    table = res.table
    for col in ("estimate", "std_error", "p_value", "ci_lower", "ci_upper"):
        np.testing.assert_array_equal(paths[col].to_numpy(), table[col].to_numpy())
    # C1 is one joint model: each behaviour's within slope controls the other's within and between parts
    d = data.copy()
    for c in ("empathy", "support"):
        d[f"{c}_b"] = d.groupby("client")[c].transform("mean")
        d[f"{c}_w"] = d[c] - d[f"{c}_b"]
    x = np.column_stack([np.ones(len(d)), d[["empathy_w", "empathy_b", "support_w", "support_b"]]])
    beta = np.linalg.lstsq(x, d["alliance"], rcond=None)[0]
    np.testing.assert_allclose(paths.loc[:1, "estimate"], beta[[1, 3]], rtol=1e-10)
    assert table.loc[table["hypothesis"] != "C6", "supported"].all()  # no lagged effect simulated
    assert len(res.fits["C1"]) == 1 and len(res.fits["C2"]) == 2  # several outcomes: one model each


def test_several_columns_where_a_model_needs_one_and_ci_for_every_model():
    data = _sessions(n_clients=40, n_sessions=5)
    res = evaluate_hypotheses(data, {**MAPPING, "needs": ["needs", "autonomy"]}, ids=["C7", "C4"], ci="delta",
                              seed=1)
    tab = res.table.set_index("hypothesis")
    assert tab.loc["C7", "model"] == "not fitted" and "mapped to 2 columns" in tab.loc["C7", "note"]
    row = tab.loc["C4"]
    assert row["ci_upper"] - row["estimate"] == pytest.approx(1.959963984540054 * row["std_error"], rel=1e-9)
    assert res.ci == "delta" and res.provenance.options["ci"] == "delta"


def test_result_can_still_be_used_like_the_old_table_with_a_warning():
    data = _sessions(n_clients=30, n_sessions=4)
    res = evaluate_hypotheses(data, MAPPING, ids=["B1"], n_draws=200, seed=1)
    with pytest.warns(FutureWarning, match=r"test_hypotheses\(\) now returns a result object") as caught:
        column = res["estimate"]
    assert caught[0].filename == __file__
    pd.testing.assert_series_equal(column, res.table["estimate"])
    with pytest.warns(FutureWarning, match="use .table"):
        assert res.loc[0, "hypothesis"] == "B1"
    assert len(res) == 1
    with pytest.raises(AttributeError):
        res.no_such_attribute  # noqa: B018


def test_runner_rejects_unknown_roles_columns_and_ids():
    data = _sessions(n_clients=20, n_sessions=3)
    with pytest.raises(OptionError) as err:
        evaluate_hypotheses(data, {"empathy_rating": "empathy", "alliance": "WAI"}, ids=["Z9"])
    msg = str(err.value)
    assert "role 'empathy_rating'" in msg and "'Z9'" in msg
    with pytest.raises(SchemaError) as err:
        evaluate_hypotheses(data, {"alliance": "WAI", "needs": ["needs", "NS"]})
    assert len(err.value.problems) == 2 and "column 'WAI'" in err.value.problems[0]
    with pytest.raises(OptionError, match="role 'needs' is mapped to"):
        evaluate_hypotheses(data, {"needs": ["needs", "needs"]})
    with pytest.raises(OptionError, match="ci='bootstrap' is not supported"):
        evaluate_hypotheses(data, {"alliance": "alliance"}, ci="bootstrap")
    with pytest.raises(OptionError, match="conf_level=0"):
        evaluate_hypotheses(data, {"alliance": "alliance"}, conf_level=0)
    with pytest.raises(SchemaError, match="data must be a pandas DataFrame"):
        evaluate_hypotheses(data.to_numpy(), {"alliance": "alliance"})


def test_an_infinite_value_in_a_mapped_column_is_one_schema_error():
    """Issue 12: an infinite value reached numpy's SVD (LinAlgError traceback); now a SchemaError up front."""
    data = _sessions()
    data.loc[4, "empathy"] = np.inf
    with pytest.raises(SchemaError, match=r"column 'empathy': 1 infinite value\(s\) at row\(s\) 4"):
        evaluate_hypotheses(data, MAPPING, ids=["B1"], n_draws=100, seed=1)


def test_too_few_clients_for_the_client_bootstrap_is_noted_per_hypothesis():
    data = _sessions(n_clients=3)
    res = evaluate_hypotheses(data, MAPPING, ids=["B1"], n_draws=100, seed=1)
    row = res.table.set_index("hypothesis").loc["B1"]
    assert row["model"] == "not fitted" and "at least 5 are needed" in row["note"]
