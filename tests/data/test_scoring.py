"""Tests of instrument scoring keys, score() and reliability().

Reference values come from R (tests/data/fixtures/scoring_fixtures.R -> scoring_fixtures.json, on the
seeded data set scoring_items.csv): alpha by formula and psych::alpha, omega from lavaan one-factor ML fits.
Tolerances: alpha 1e-10 absolute (a closed formula on the same matrix); omega 1e-6 absolute and loadings
1e-5 relative, because R's two ML routines (lavaan's nlminb at its default tolerance and stats::factanal)
themselves agree only to ~6e-7 on these matrices (both are recorded in the fixture), while our Newton
solution is checked separately to have a zero gradient.
"""
from __future__ import annotations

import doctest
import json
import warnings
from pathlib import Path

import jsonschema
import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import allianceStats as als
from allianceStats.data import instruments as ins
from allianceStats.data import internal_consistency as ic
from allianceStats.data import scoring as sc
from allianceStats.errors import AllianceStatsError, BoundaryWarning, DataWarning, OptionError, SchemaError

FIXTURES = Path(__file__).resolve().parent / "fixtures"
KEY_FILES = sorted(p for p in ins.instruments_dir().glob("*.json") if p.name != "instrument.schema.json")


@pytest.fixture(scope="module")
def fixture_data():
    return pd.read_csv(FIXTURES / "scoring_items.csv")


@pytest.fixture(scope="module")
def reference():
    return json.loads((FIXTURES / "scoring_fixtures.json").read_text())


@pytest.fixture(scope="module")
def fixture_reliability(fixture_data):
    return als.reliability(fixture_data, "wai", client="client", session="session")


def wai_frame(n=40, seed=3, client=True):
    rng = np.random.default_rng(seed)
    f = rng.normal(size=(n, 1))
    X = np.clip(np.rint(3 + f + rng.normal(size=(n, 12))), 1, 5)
    d = pd.DataFrame(X, columns=[f"wai_{i}" for i in range(1, 13)])
    if client:
        d.insert(0, "client", [f"c{i // 4:02d}" for i in range(n)])
    return d


MINI = {
    "name": "mini", "title": "Three items, one reversed", "version": "1", "prefix": "mini",
    "citation": "made up for the tests", "method": "mean",
    "items": [{"id": "1", "min": 1, "max": 5, "integer": True},
              {"id": "2", "min": 1, "max": 5, "integer": True},
              {"id": "3", "min": 0, "max": 10, "integer": False}],
    "reverse_items": ["2", "3"],
    "subscales": {"total": {"items": ["1", "2", "3"]}, "pair": {"items": ["1", "2"], "method": "sum"}},
    "proration": {"min_fraction": 0.6, "rule": "2 of 3", "source": "convention"},
}


# ------------------------------------------------------------------------------------------------ keys

@pytest.mark.parametrize("path", KEY_FILES, ids=lambda p: p.stem)
def test_every_key_file_validates_against_the_json_schema(path):
    schema = json.loads((ins.instruments_dir() / "instrument.schema.json").read_text())
    jsonschema.validators.validator_for(schema).check_schema(schema)
    key = json.loads(path.read_text())
    jsonschema.validate(key, schema)
    assert key["name"] == path.stem
    assert ins.validate_key(key, str(path)) == []
    loaded = ins.load_instrument(path)
    assert set(loaded.item_ids) >= {i for s in loaded.subscales.values() for i in s.items}


def test_shipped_instruments_are_the_five_of_the_brief():
    assert ins.list_instruments() == ["bpnsfs", "srs", "sud_outcomes", "tsrq", "wai_sr"]


def test_wai_sr_key_is_the_hatcher_gillaspy_key():
    wai = ins.load_instrument("WAI-SR")
    subs = {k: set(map(int, v.items)) for k, v in wai.subscales.items()}
    assert subs["goal"] == {4, 6, 8, 11} and subs["task"] == {1, 2, 10, 12} and subs["bond"] == {3, 5, 7, 9}
    assert subs["total"] == subs["goal"] | subs["task"] | subs["bond"] == set(range(1, 13))
    assert wai.reverse_items == frozenset() and {(i.min, i.max, i.integer) for i in wai.items} == {(1, 5, True)}


def test_bpnsfs_and_tsrq_subscales_partition_their_items():
    bp = ins.load_instrument("bpnsfs")
    six = [s for n, s in bp.subscales.items() if n not in ("satisfaction", "frustration")]
    assert sorted(int(i) for s in six for i in s.items) == list(range(1, 25))
    assert set(bp.subscales["satisfaction"].items) | set(bp.subscales["frustration"].items) == set(bp.item_ids)
    ts = ins.load_instrument("tsrq")
    assert sorted(int(i) for s in ts.subscales.values() for i in s.items) == list(range(1, 16))


def test_schema_dir_source_tree_and_installed_wheel(tmp_path, monkeypatch):
    assert (ins.schema_dir() / "instruments" / "wai_sr.json").is_file()
    # an installed wheel carries data_schemas/ as allianceStats/data_schemas/: it must win when present
    packaged = tmp_path / "allianceStats"
    (packaged / "data_schemas").mkdir(parents=True)
    from allianceStats.data import schema as sch  # the one resource locator, shared by instruments

    monkeypatch.setattr(sch.resources, "files", lambda name: packaged)
    assert ins.schema_dir() == packaged / "data_schemas"
    monkeypatch.setattr(sch.resources, "files", lambda name: tmp_path / "nowhere")
    assert ins.schema_dir() == Path(ins.__file__).resolve().parents[2] / "data_schemas"


def test_unknown_instrument_lists_the_shipped_keys():
    with pytest.raises(AllianceStatsError, match=r"unknown instrument 'wia'.*'wai_sr'"):
        ins.load_instrument("wia")


def test_invalid_key_lists_every_problem():
    bad = json.loads(json.dumps(MINI))
    bad["subscales"]["total"]["items"].append("9")
    bad["reverse_items"] = ["7"]
    bad["items"][0]["max"] = 1
    with pytest.raises(AllianceStatsError) as err:
        ins.load_instrument(bad)
    text = str(err.value)
    assert "'9'" in text and "'7'" in text and "min 1 is not below max 1" in text
    with pytest.raises(AllianceStatsError, match="method"):
        ins.load_instrument({**MINI, "method": "median"})


# ------------------------------------------------------------------------------------------------ score

def test_score_means_match_the_item_means_and_count_items():
    d = wai_frame()
    out = als.score(d, "wai")
    for name, items in {"goal": [4, 6, 8, 11], "task": [1, 2, 10, 12], "bond": [3, 5, 7, 9],
                        "total": range(1, 13)}.items():
        expect = d[[f"wai_{i}" for i in items]].mean(axis=1)
        np.testing.assert_allclose(out[f"wai_{name}"], expect, rtol=0, atol=1e-12)
        assert (out[f"wai_{name}_n_items"] == len(list(items))).all()
    assert list(out.columns[: d.shape[1]]) == list(d.columns)


def test_reverse_scoring_uses_min_plus_max_minus_x():
    d = pd.DataFrame({"mini_1": [1, 5, 2], "mini_2": [1, 5, 4], "mini_3": [0.0, 10.0, 2.5]})
    out = als.score(d, MINI)
    # item 2 reversed on 1-5 (6 - x), item 3 reversed on 0-10 (10 - x)
    np.testing.assert_allclose(out["mini_total"], [(1 + 5 + 10) / 3, (5 + 1 + 0) / 3, (2 + 2 + 7.5) / 3])
    np.testing.assert_allclose(out["mini_pair"], [1 + 5, 5 + 1, 2 + 2])  # sum-scored subscale


def test_sum_scored_srs_total():
    d = pd.DataFrame({f"srs_{i}": [10.0, 0.0, 7.3] for i in range(1, 5)})
    np.testing.assert_allclose(als.score(d, "srs")["srs_total"], [40.0, 0.0, 29.2])


def test_proration_edge_cases_wai():
    d = wai_frame(n=6)
    goal = ["wai_4", "wai_6", "wai_8", "wai_11"]
    d.loc[0, goal[:1]] = np.nan          # 3 of 4 present: prorated mean of the 3
    d.loc[1, goal[:2]] = np.nan          # 2 of 4: below 75%, missing
    d.loc[2, goal] = np.nan              # none present
    d.loc[3, [f"wai_{i}" for i in (1, 2, 3)]] = np.nan   # 9 of 12 for the total: scored
    d.loc[4, [f"wai_{i}" for i in (1, 2, 3, 5)]] = np.nan  # 8 of 12: total missing
    out = als.score(d, "wai")
    assert out.loc[0, "wai_goal"] == pytest.approx(d.loc[0, goal[1:]].mean(), abs=1e-12)
    assert out.loc[0, "wai_goal_n_items"] == 3
    assert np.isnan(out.loc[1, "wai_goal"]) and out.loc[1, "wai_goal_n_items"] == 2
    assert np.isnan(out.loc[2, "wai_goal"]) and out.loc[2, "wai_goal_n_items"] == 0
    assert out.loc[3, "wai_total"] == pytest.approx(d.loc[3, [f"wai_{i}" for i in range(4, 13)]].mean())
    assert np.isnan(out.loc[4, "wai_total"]) and not np.isnan(out.loc[4, "wai_goal"])
    strict = als.score(d, "wai", prorate=False)
    assert np.isnan(strict.loc[0, "wai_goal"]) and not np.isnan(strict.loc[5, "wai_goal"])
    loose = als.score(d, "wai", prorate=0.5)
    assert loose.loc[1, "wai_goal"] == pytest.approx(d.loc[1, goal[2:]].mean())


def test_prorated_sum_is_mean_times_number_of_items_and_tsrq_three_item_rule():
    d = pd.DataFrame({"srs_1": [8.0], "srs_2": [6.0], "srs_3": [np.nan], "srs_4": [7.0]})
    assert np.isnan(als.score(d, "srs")["srs_total"].iat[0])          # SRS key: all four lines needed
    assert als.score(d, "srs", prorate=0.75)["srs_total"].iat[0] == pytest.approx(7.0 * 4)
    t = pd.DataFrame({f"tsrq_{i}": [4.0] for i in range(1, 16)})
    t.loc[0, ["tsrq_8", "tsrq_1"]] = np.nan
    out = als.score(t, "tsrq")
    assert np.isnan(out["tsrq_amotivation"].iat[0])      # 2 of 3 < 75%
    assert out["tsrq_autonomous"].iat[0] == 4.0           # 5 of 6 >= 75%


@pytest.mark.parametrize("bad", [0, 1.5, -1, "all", None])
def test_invalid_prorate_is_refused(bad):
    with pytest.raises(OptionError, match=f"prorate={bad!r} is not supported"):
        als.score(wai_frame(n=4), "wai", prorate=bad)


def test_out_of_range_text_fraction_and_infinite_cells_are_all_listed():
    d = wai_frame(n=8).astype({"wai_3": object})
    d.loc[2, "wai_1"] = 7
    d.loc[5, "wai_1"] = 0
    d.loc[4, "wai_3"] = "often"
    d.loc[6, "wai_12"] = 2.5
    d.loc[7, "wai_9"] = np.inf
    with pytest.raises(SchemaError) as err:
        als.score(d, "wai")
    problems = err.value.problems
    assert len(problems) == 5
    assert any("column 'wai_1'" in p and "row 3" in p and "client 'c00'" in p and "7" in p for p in problems)
    assert any("column 'wai_1'" in p and "row 6" in p and "client 'c01'" in p for p in problems)
    assert any("column 'wai_3'" in p and "row 5" in p and "'often'" in p for p in problems)
    assert any("column 'wai_12'" in p and "row 7" in p and "whole number" in p for p in problems)
    assert any("column 'wai_9'" in p and "row 8" in p and "infinite" in p for p in problems)
    assert isinstance(err.value, ValueError)


def test_missing_item_columns_are_named_with_the_fix():
    d = wai_frame(n=4).drop(columns=["wai_2", "wai_7"])
    with pytest.raises(SchemaError) as err:
        als.score(d, "wai")
    assert len(err.value.problems) == 2
    assert "column 'wai_2' is not in the data" in str(err.value) and "items=" in str(err.value)


def test_items_mapping_list_and_prefix():
    d = wai_frame(n=10)
    ref = als.score(d, "wai")
    renamed = d.rename(columns={f"wai_{i}": f"q{i}" for i in range(1, 13)})
    by_dict = als.score(renamed, "wai", items={i: f"q{i}" for i in range(1, 13)})
    by_list = als.score(renamed, "wai", items=[f"q{i}" for i in range(1, 13)])
    by_prefix = als.score(renamed.rename(columns=lambda c: c.replace("q", "w_") if c != "client" else c),
                          "wai", prefix="w")
    for other in (by_dict, by_list, by_prefix):
        pd.testing.assert_series_equal(other["wai_total"], ref["wai_total"])
    with pytest.raises(AllianceStatsError, match="not items of 'wai_sr'"):
        als.score(d, "wai", items={13: "wai_1"})
    with pytest.raises(AllianceStatsError, match="has 12 items"):
        als.score(d, "wai", items=["wai_1"])


def test_outcome_block_uses_bare_columns_and_mapping():
    d = pd.DataFrame({"days_use": [0, 7, 3], "outcome": [100.0, 0.0, 57.1]})
    out = als.score(d, "sud_outcomes", items={"pda": "outcome"})
    assert out["sud_days_use"].tolist() == [0, 7, 3] and out["sud_pda"].tolist() == [100.0, 0.0, 57.1]
    with pytest.raises(SchemaError, match="row 2"):
        als.score(d.assign(days_use=[0, 8, 3]), "sud_outcomes", items={"pda": "outcome"})


def test_score_never_mutates_input_and_warns_on_replaced_columns():
    d = wai_frame(n=12)
    d["wai_goal"] = 1.0
    d.loc[0, "wai_5"] = np.nan
    before = d.copy(deep=True)
    with pytest.warns(DataWarning, match=r"columns \['wai_goal'\] already exist"):
        out = als.score(d, "wai")
    pd.testing.assert_frame_equal(d, before)
    assert out is not d and not (out["wai_goal"] == 1.0).all()


# ------------------------------------------------------------------------------------------------ reliability

def test_alpha_equals_pingouin(fixture_data):
    pingouin = pytest.importorskip("pingouin")
    cols = [f"wai_{i}" for i in range(1, 13)]
    rel = als.reliability(fixture_data, items=cols)
    expect = pingouin.cronbach_alpha(data=fixture_data[cols], nan_policy="listwise")[0]
    assert rel.table["alpha"].iat[0] == pytest.approx(expect, abs=1e-12)
    gen = wai_frame(n=300, seed=11, client=False)
    assert ic.cronbach_alpha(np.cov(gen.to_numpy(), rowvar=False)) == pytest.approx(
        pingouin.cronbach_alpha(data=gen)[0], abs=1e-12)


@pytest.mark.parametrize("level", ["single", "within", "between"])
def test_alpha_and_omega_match_r_fixture(fixture_reliability, reference, level):
    assert reference["packages"]["lavaan"] and reference["R_version"].startswith("R version")
    table = fixture_reliability.table.set_index(["scale", "level"])
    loads = fixture_reliability.loadings
    for scale, ref in reference["results"].items():
        row = table.loc[(scale, level)]
        assert row["n_obs"] == ref["n_obs"] and row["n_clients"] == ref["n_clients"]
        assert row["alpha"] == pytest.approx(ref[level]["alpha"], abs=1e-10)
        if level == "single":
            assert row["alpha"] == pytest.approx(ref["psych_raw_alpha"], abs=1e-10)
        assert ref[level]["lavaan_converged"] is True
        assert row["omega"] == pytest.approx(ref[level]["omega"], abs=1e-6)
        mine = loads[(loads.scale == scale) & (loads.level == level)]
        np.testing.assert_allclose(mine["loading"], ref[level]["loadings"], rtol=1e-5)
        np.testing.assert_allclose(mine["residual_variance"], ref[level]["residual_variances"], rtol=1e-5)


def test_documented_distance_to_a_two_level_cfa(fixture_reliability, reference):
    """The module docstring claims: level omegas within 0.003 (within) / 0.007 (between) of lavaan's two-level
    CFA on the fixture. This checks that documented claim; it is not a reference-equality test."""
    table = fixture_reliability.table.set_index(["scale", "level"])
    for scale, ref in reference["results"].items():
        two = ref["lavaan_twolevel_documentation_only"]
        assert two["converged"] is True
        assert abs(table.loc[(scale, "within"), "omega"] - two["omega_within"]) <= 0.003
        assert abs(table.loc[(scale, "between"), "omega"] - two["omega_between"]) <= 0.007


def test_one_factor_ml_solution_has_zero_gradient(fixture_reliability):
    """Internal check: at our (lambda, theta) the ML discrepancy's numerical gradient vanishes."""
    for (scale, level), S in fixture_reliability.covariances.items():
        S = S.to_numpy()
        fit = ic._fit_one_factor(S)
        assert fit.converged and fit.at_bound == ()
        theta = np.concatenate([fit.loadings, fit.residuals])
        k = S.shape[0]

        def F(t, k=k, S=S):
            Sigma = np.outer(t[:k], t[:k]) + np.diag(t[k:])
            return np.linalg.slogdet(Sigma)[1] + np.trace(S @ np.linalg.inv(Sigma))

        h = 1e-6
        grad = [(F(theta + h * e) - F(theta - h * e)) / (2 * h) for e in np.eye(2 * k)]
        assert np.max(np.abs(grad)) < 1e-7, (scale, level)


def test_omega_of_compound_symmetry_is_closed_form():
    # 4 items, loadings sqrt(.5), unique .5: omega = (4 sqrt(.5))^2 / ((4 sqrt(.5))^2 + 4 * .5) = 0.8
    S = np.full((4, 4), 0.5) + 0.5 * np.eye(4)
    assert ic.omega_total(S) == pytest.approx(0.8, abs=1e-12)
    assert ic.cronbach_alpha(S) == pytest.approx(0.8, abs=1e-12)  # tau-equivalent: alpha = omega
    with pytest.raises(AllianceStatsError, match="at least 3 items"):
        ic.omega_total(S[:2, :2])


def exact_cov_frame(S, n=200, seed=5):
    """Data whose sample covariance is exactly S (whitened normal draws)."""
    rng = np.random.default_rng(seed)
    Z = rng.normal(size=(n, S.shape[0]))
    Z -= Z.mean(axis=0)
    Q, _ = np.linalg.qr(Z)
    X = Q * np.sqrt(n - 1) @ np.linalg.cholesky(S).T
    return pd.DataFrame(X, columns=[f"x{i}" for i in range(S.shape[0])])


def test_heywood_case_is_reported_with_boundary_warning():
    S = np.array([[1.0, 0.8, 0.8], [0.8, 1.0, 0.5], [0.8, 0.5, 1.0]])  # lambda_1^2 = .64/.5 > 1
    d = exact_cov_frame(S)
    with pytest.warns(BoundaryWarning, match="x0"):
        rel = als.reliability(d, items=list(d.columns))
    assert rel.convergence.warnings and "x0" in rel.convergence.warnings[0]
    assert 0 < rel.table["omega"].iat[0] <= 1


def test_non_positive_definite_between_matrix_falls_back_to_uls(reference):
    """Between-client moment matrix not positive definite: omega from a bounded ULS fit, vs R (optim and PAF)."""
    ref = reference["nonpd"]
    assert min(ref["between_eigenvalues"]) < 0
    d = pd.read_csv(FIXTURES / ref["data"])
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        rel = als.reliability(d, items=ref["items"], client="client", session="session")
    caught = [(w.category, str(w.message)) for w in caught]
    assert any(c is DataWarning and "between covariance matrix of 'scale' is not positive definite" in m
               for c, m in caught), caught
    assert any(c is BoundaryWarning and "Heywood case in 'scale' (between)" in m for c, m in caught), caught
    t = rel.table.set_index("level")
    assert t.loc["between", "omega_estimator"] == "ULS" and t.loc["within", "omega_estimator"] == "ML"
    assert t.loc["between", "alpha"] == pytest.approx(ref["between_alpha"], abs=1e-10)
    assert t.loc["within", "alpha"] == pytest.approx(ref["within_alpha"], abs=1e-10)
    assert t.loc["within", "omega"] == pytest.approx(ref["within_omega"], abs=1e-6)
    # R's two ULS routes agree to ~1e-10; optim's L-BFGS-B stops a little earlier than the fixed point
    assert t.loc["between", "omega"] == pytest.approx(ref["between_omega_uls_paf"], abs=1e-9)
    assert t.loc["between", "omega"] == pytest.approx(ref["between_omega_uls_optim"], abs=1e-7)
    b = rel.loadings[rel.loadings.level == "between"]
    np.testing.assert_allclose(b["loading"], ref["between_uls_paf_loadings"], rtol=1e-8)
    np.testing.assert_allclose(b["residual_variance"], ref["between_uls_paf_residual_variances"], atol=1e-10)
    assert any("ULS" in n for n in rel.convergence.warnings)


def test_reliability_input_checks_and_no_mutation(fixture_data):
    before = fixture_data.copy(deep=True)
    als.reliability(fixture_data, "wai", client="client")
    pd.testing.assert_frame_equal(fixture_data, before)
    dup = pd.concat([fixture_data.iloc[:3], fixture_data.iloc[:1]])
    with pytest.raises(SchemaError, match="more than one row"):
        als.reliability(dup, "wai", client="client", session="session")
    with pytest.raises(SchemaError, match="'clinic'"):
        als.reliability(fixture_data, "wai", client="clinic")
    with pytest.raises(AllianceStatsError, match="needs an instrument or items"):
        als.reliability(fixture_data)
    with pytest.raises(AllianceStatsError, match="no subscale with 2 or more items"):
        als.reliability(pd.DataFrame({"days_use": [1, 2, 3], "pda": [1.0, 2.0, 3.0]}), "sud_outcomes")


def test_reliability_result_is_tidy_frozen_and_summarised(fixture_reliability):
    rel = fixture_reliability
    assert list(rel.table.columns) == ["scale", "level", "n_items", "n_obs", "n_clients", "alpha", "omega",
                                       "omega_estimator"]
    assert set(rel.table["omega_estimator"]) == {"ML"}
    assert set(rel.table["level"]) == {"single", "within", "between"}
    assert rel.convergence.converged and len(rel.provenance.data_sha256) == 64
    with pytest.raises(AttributeError):
        rel.instrument = "x"
    text = rel.summary()
    assert "wai_sr" in text and "between" in text and "omega" in text
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        two = als.reliability(pd.read_csv(FIXTURES / "scoring_items.csv"),
                              items={"goal": ["wai_4", "wai_6", "wai_8", "wai_11"], "pair": ["wai_1", "wai_2"]})
    pair = two.table.set_index("scale").loc["pair"]
    assert np.isnan(pair["omega"]) and pair["omega_estimator"] == ""   # omega needs 3 items


@pytest.mark.parametrize("module", [ins, sc, ic], ids=["instruments", "scoring", "internal_consistency"])
def test_docstring_examples_run(module):
    result = doctest.testmod(module, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.attempted > 0 and result.failed == 0


@settings(max_examples=25, deadline=None)
@given(st.integers(1, 25).flatmap(lambda n: st.lists(
    st.lists(st.one_of(st.none(), st.integers(1, 5)), min_size=12, max_size=12), min_size=n, max_size=n)),
    st.sampled_from([True, False, 0.5]))
def test_property_score_equals_a_plain_pandas_computation(rows, prorate):
    d = pd.DataFrame(rows, columns=[f"wai_{i}" for i in range(1, 13)], dtype="float64")
    before = d.copy(deep=True)
    out = als.score(d, "wai", prorate=prorate)
    pd.testing.assert_frame_equal(d, before)
    need = {True: 0.75, False: 1.0, 0.5: 0.5}[prorate]
    for name, items in {"goal": [4, 6, 8, 11], "task": [1, 2, 10, 12], "bond": [3, 5, 7, 9],
                        "total": list(range(1, 13))}.items():
        block = d[[f"wai_{i}" for i in items]]
        count = block.notna().sum(axis=1)
        expect = block.mean(axis=1).where(count >= need * len(items))
        np.testing.assert_allclose(out[f"wai_{name}"], expect, atol=1e-12)
        assert (out[f"wai_{name}_n_items"] == count).all()


@settings(max_examples=30, deadline=None)
@given(st.lists(st.tuples(st.integers(1, 5), st.integers(1, 5), st.floats(0, 10)), min_size=1, max_size=20))
def test_property_reverse_keying_equals_pre_reversed_items(rows):
    d = pd.DataFrame(rows, columns=["mini_1", "mini_2", "mini_3"])
    plain = {**MINI, "reverse_items": []}
    flipped = d.assign(mini_2=6 - d["mini_2"], mini_3=10 - d["mini_3"])
    np.testing.assert_allclose(als.score(d, MINI)["mini_total"], als.score(flipped, plain)["mini_total"],
                               atol=1e-12)
