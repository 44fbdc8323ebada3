"""The SDT hypothesis registry and its runner."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from allianceStats.errors import AllianceStatsError
from allianceStats.mediation import REGISTRY, hypotheses
from allianceStats.mediation import test_hypotheses as run_hypotheses
from allianceStats.mediation.registry import MODELS, RESULT_COLUMNS


def test_registry_holds_the_reviews_behaviour_to_need_map():
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
    reg.loc[0, "statement"] = "changed"  # a copy: the registry itself is immutable
    assert hypotheses().loc[0, "statement"] == REGISTRY[0].statement


def _sessions(seed=0, n_clients=80, n_sessions=8):
    rng = np.random.default_rng(seed)
    g = np.repeat(np.arange(n_clients), n_sessions)
    empathy = rng.normal(size=n_clients)[g] + rng.normal(size=g.size)
    alliance = 0.5 * empathy + rng.normal(size=n_clients)[g] + rng.normal(size=g.size)
    relatedness = 0.4 * empathy + rng.normal(size=g.size)
    needs = 0.5 * alliance + rng.normal(size=g.size)
    motivation = 0.5 * needs + rng.normal(size=g.size)
    engagement = 0.5 * motivation + rng.normal(size=g.size)
    noise = rng.normal(size=g.size)  # unrelated to everything: its hypothesis must not be supported
    return pd.DataFrame({"client": [f"c{j}" for j in g], "session": np.tile(np.arange(1, n_sessions + 1), n_clients),
                         "empathy": empathy, "alliance": alliance, "relatedness": relatedness, "needs": needs,
                         "motivation": motivation, "engagement": engagement, "noise": noise})


def test_runner_fits_maps_and_skips():
    data = _sessions()
    before = data.copy()
    mapping = {"empathic_attunement": "empathy", "relatedness": "relatedness", "therapist_behaviour": "empathy",
               "alliance": "alliance", "needs": "needs", "motivation": "motivation", "engagement": "engagement",
               "outcome": "noise"}
    out = run_hypotheses(data, mapping, ids=["B1", "B2", "C5", "C6", "C7"], seed=3, n_boot=500)
    pd.testing.assert_frame_equal(data, before)
    assert list(out.columns) == RESULT_COLUMNS and out.attrs["level"] == 0.95
    res = out.set_index("hypothesis")
    assert res.loc["B1", "estimate"] == pytest.approx(np.polyfit(data["empathy"], data["relatedness"], 1)[0],
                                                      rel=1e-10)
    assert bool(res.loc["B1", "supported"]) and bool(res.loc["C7", "supported"])
    assert res.loc["C7", "model"] == "serial mediation empathy -> alliance -> needs -> motivation -> engagement"
    assert not bool(res.loc["C5", "supported"])  # motivation -> noise
    assert pd.isna(res.loc["B2", "supported"]) and "motivational_calibration" in res.loc["B2", "note"]
    # lagged path: the same numbers as a hand-built regression of alliance[t+1] on engagement_within[t] etc.
    d = data.sort_values(["client", "session"]).copy()
    d["eng_w"] = d["engagement"] - d.groupby("client")["engagement"].transform("mean")
    d["eng_b"] = d.groupby("client")["engagement"].transform("mean")
    d["next"] = d.groupby("client")["alliance"].shift(-1)
    d = d.dropna(subset=["next"])
    x = np.column_stack([np.ones(len(d)), d[["eng_w", "eng_b", "alliance"]]])
    slope = np.linalg.lstsq(x, d["next"], rcond=None)[0][1]
    assert res.loc["C6", "estimate"] == pytest.approx(slope, rel=1e-9)


def test_runner_rejects_unknown_roles_columns_and_ids():
    data = _sessions(n_clients=20, n_sessions=3)
    with pytest.raises(AllianceStatsError) as err:
        run_hypotheses(data, {"empathy_rating": "empathy", "alliance": "WAI"}, ids=["Z9"])
    msg = str(err.value)
    assert "role 'empathy_rating'" in msg and "column 'WAI'" in msg and "'Z9'" in msg
