"""Behaviour rates -> alliance -> needs: the simulator's truth, the rates, and the merge onto the session table.

The truth is checked two ways. Exactly: with every noise SD set to 0 the ratings are the stated formulas of the
rates that behaviour_rates() computes from the coded events (so the simulator and the helper define the rate the
same way). Statistically: on one seeded data set of 1,600 sessions (200 clients of 20 therapists), each
estimate lies within 3 of its standard errors of the truth. The models are correctly specified for this
simulation (the client means are the observed means that decompose() computes; the ratings depend on them), so
each estimator is approximately normal around the truth with the SD its SE estimates: a band of 3 SE is missed
with probability 0.0027 per quantity, and the data are seeded, so the test is deterministic. The SEs are also
required to be small (3 SE below the gap between the within and between slopes), so a simulator that swapped or
dropped a path would fail.
"""
from __future__ import annotations

import hashlib
import warnings

import numpy as np
import pandas as pd
import pytest

import allianceStats as als
from allianceStats.errors import DataWarning, OptionError, SchemaError
from allianceStats.process import behaviour_rates, merge_session_scores
from allianceStats.simulate.process import CHAIN_DEFAULTS, simulate_behaviour_chain, simulate_mi_sessions

CODES = ["miti_4", "client_language"]
BAND_SE = 3.0


def _table(events, sessions):
    return als.decompose(merge_session_scores(sessions, behaviour_rates(events, CODES)),
                         ["reflection_rate", "alliance"], lags=())


@pytest.fixture(scope="module")
def chain():
    events, sessions, truth = simulate_behaviour_chain(20, 10, 8, turns_per_session=30, seed=2026)
    return _table(events, sessions), truth


def _within_band(params, term, truth):
    row = params.set_index("term").loc[term]
    assert abs(row["estimate"] - truth) < BAND_SE * row["std_error"], (term, row["estimate"], row["std_error"], truth)
    return row["std_error"]


# ---- the simulator ------------------------------------------------------------------------------------------------
def test_ratings_are_the_stated_formulas_of_the_coded_rates():
    quiet = {k: 0.0 for k in CHAIN_DEFAULTS if k.startswith(("sd_alliance", "sd_needs"))}
    events, sessions, truth = simulate_behaviour_chain(3, 4, 5, turns_per_session=20, seed=7, direct_within=0.3,
                                                       direct_between=-0.2, **quiet)
    t = _table(events, sessions)
    r_w, r_b = t["reflection_rate_within"], t["reflection_rate_between"]
    alliance = truth["alliance_intercept"] + truth["alliance_within"] * r_w + truth["alliance_between"] * r_b
    np.testing.assert_allclose(t["alliance"], alliance, rtol=0, atol=1e-12)
    needs = (truth["needs_intercept"] + truth["needs_within"] * t["alliance_within"]
             + truth["needs_between"] * t["alliance_between"] + 0.3 * r_w - 0.2 * r_b)
    np.testing.assert_allclose(t["needs"], needs, rtol=0, atol=1e-12)
    # the rate varies within clients (session to session) and between clients
    assert t["reflection_rate_within"].std() > 0.05 and t.groupby("client")["reflection_rate"].mean().std() > 0.03


def test_alliance_model_recovers_the_within_and_between_slopes(chain):
    table, truth = chain
    fit = als.fit_mlm(table, "alliance ~ reflection_rate_within + reflection_rate_between + (1 | therapist) + "
                             "(1 | client)")
    gap = abs(truth["alliance_within"] - truth["alliance_between"])
    assert _within_band(fit.params, "reflection_rate_within", truth["alliance_within"]) * BAND_SE < gap
    assert _within_band(fit.params, "reflection_rate_between", truth["alliance_between"]) * BAND_SE < 1.5


def test_needs_model_recovers_alliance_paths_and_no_direct_effect(chain):
    table, truth = chain
    fit = als.fit_mlm(table, "needs ~ alliance_within + alliance_between + reflection_rate_within + "
                             "reflection_rate_between + (1 | therapist) + (1 | client)")
    assert _within_band(fit.params, "alliance_within", truth["needs_within"]) * BAND_SE < 0.1
    assert _within_band(fit.params, "alliance_between", truth["needs_between"]) * BAND_SE < 0.25
    _within_band(fit.params, "reflection_rate_within", truth["direct_within"])
    _within_band(fit.params, "reflection_rate_between", truth["direct_between"])


def test_multilevel_mediation_recovers_the_indirect_effects(chain):
    table, truth = chain
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a correctly specified model on clean data: no warning expected
        res = als.fit_multilevel_mediation(table, "reflection_rate", "alliance", "needs", random_slopes=False,
                                           ci="delta")
    effects = res.effects.rename(columns={"effect": "term"})
    assert _within_band(effects, "within indirect", truth["within_indirect"]) * BAND_SE < 0.5
    _within_band(effects, "between indirect", truth["between_indirect"])
    assert truth["within_indirect"] == truth["alliance_within"] * truth["needs_within"]


def test_registry_c1_c2_are_supported(chain):
    table, truth = chain
    res = als.evaluate_hypotheses(table, {"therapist_behaviour": "reflection_rate", "alliance": "alliance",
                                          "needs": "needs"}, ids=["C1", "C2"], n_draws=200, seed=1)
    got = res.table.set_index("hypothesis")
    assert got["supported"].all()
    assert abs(got.loc["C1", "estimate"] - truth["alliance_within"]) < BAND_SE * got.loc["C1", "std_error"]
    assert abs(got.loc["C2", "estimate"] - truth["needs_within"]) < BAND_SE * got.loc["C2", "std_error"]


def test_simulator_is_seeded_and_validates_its_options():
    a = simulate_behaviour_chain(2, 2, 3, turns_per_session=8, seed=11)
    b = simulate_behaviour_chain(2, 2, 3, turns_per_session=8, seed=11)
    pd.testing.assert_frame_equal(a[0], b[0])
    pd.testing.assert_frame_equal(a[1], b[1])
    c = simulate_behaviour_chain(2, 2, 3, turns_per_session=8, seed=12)
    assert not np.allclose(a[1]["alliance"], c[1]["alliance"])
    assert a[2]["seed"] == 11 and isinstance(simulate_behaviour_chain(1, 1, 2, 2)[2]["seed"], int)
    with pytest.raises(OptionError, match="alliance_withn"):
        simulate_behaviour_chain(seed=1, alliance_withn=1.0)
    with pytest.raises(OptionError, match="sd_needs_client"):
        simulate_behaviour_chain(seed=1, sd_needs_client=-0.1)
    with pytest.raises(OptionError, match="reflection_rate"):
        simulate_behaviour_chain(seed=1, reflection_rate=1.0)
    assert als.simulate.simulate_behaviour_chain is simulate_behaviour_chain


def test_simulate_mi_sessions_output_is_unchanged():
    """The coded-session generator was factored out of simulate_mi_sessions; its seeded output must not move.

    The digest is that of the function's output before the refactoring (commit 0c16296), as CSV text.
    """
    events, _ = simulate_mi_sessions(3, 2, 2, 15, seed=5)
    digest = hashlib.sha256(events.to_csv(index=False).encode()).hexdigest()
    assert digest == "4a987335aae09cf049ce150f46706b680a47419697ee316229eb03356b1959f6"


# ---- behaviour_rates --------------------------------------------------------------------------------------------
@pytest.fixture
def events():
    return pd.DataFrame({"client": ["a"] * 6 + ["b"] * 4, "session": [1] * 6 + [2] * 4,
                         "order": [*range(1, 7), *range(1, 5)],
                         "code": ["Q", "CT", "SR", "CT", "CR", "ST", "FN", "GI", "ST", "AF"],
                         "onset": [0.0, 10, 20, 30, 40, 50, 0, 30, 60, 90],
                         "offset": [5.0, 15, 25, 35, 45, 60, 20, 50, 80, 120]})


def test_rates_per_utterance_and_per_minute(events):
    before = events.copy()
    rates = behaviour_rates(events, CODES).set_index("client")
    assert rates.loc["a", "therapist_utterances"] == 3 and rates.loc["a", "client_utterances"] == 3
    assert rates.loc["a", "reflection_rate"] == pytest.approx(2 / 3)
    assert rates.loc["a", "complex_reflection_rate"] == pytest.approx(1 / 3)
    assert rates.loc["a", "change_talk_rate"] == pytest.approx(2 / 3)  # per client utterance
    assert rates.loc["b", "mi_adherent_rate"] == pytest.approx(1 / 2)
    assert rates.loc["b", "question_rate"] == 0.0
    minute = behaviour_rates(events, CODES, per="minute").set_index("client")
    assert minute.loc["a", "minutes"] == pytest.approx(1.0) and minute.loc["b", "minutes"] == pytest.approx(2.0)
    assert minute.loc["a", "reflection_rate"] == pytest.approx(2.0)  # two reflections in one minute
    assert minute.loc["b", "sustain_talk_rate"] == pytest.approx(0.5)
    pd.testing.assert_frame_equal(events, before)


def test_rate_with_zero_denominator_is_missing(events):
    only_client = events[events["code"].isin(["CT", "ST", "FN"])]
    rates = behaviour_rates(only_client, CODES)
    assert (rates["therapist_utterances"] == 0).all() and rates["reflection_rate"].isna().all()
    still = events.assign(onset=0.0, offset=0.0)  # sessions of no length
    assert behaviour_rates(still, CODES, per="minute")["reflection_rate"].isna().all()


def test_rates_agree_with_score_codes(events):
    rates = behaviour_rates(events, CODES)
    scores = als.score_codes(events, CODES)
    np.testing.assert_allclose(rates["reflection_rate"] / rates["question_rate"].replace(0, np.nan),
                               scores["reflection_to_question"], equal_nan=True)


def test_rates_bad_input(events):
    with pytest.raises(SchemaError) as err:
        behaviour_rates(events.assign(code=["Q", "CT", "REFLECT", *events["code"][3:]]), CODES)
    assert "REFLECT" in str(err.value) and "rows 3" in str(err.value)
    with pytest.raises(SchemaError, match="offset"):
        behaviour_rates(events.drop(columns="offset"), CODES, per="minute")
    with pytest.raises(SchemaError, match=r"without a time \(rows 1\)"):
        behaviour_rates(events.assign(onset=[np.nan, *events["onset"][1:]]), CODES, per="minute")
    with pytest.raises(OptionError, match="per="):
        behaviour_rates(events, CODES, per="hour")
    with pytest.raises(OptionError, match="no categories"):
        behaviour_rates(events, ["Q", "CT", "SR", "CR", "ST", "FN", "GI", "AF"])
    assert behaviour_rates(events.drop(columns=["onset", "offset"]), CODES)["reflection_rate"].notna().all()


# ---- merge_session_scores ---------------------------------------------------------------------------------------
@pytest.fixture
def ratings():
    return pd.DataFrame({"client": ["a", "a", "b", "b"], "session": [1, 2, 1, 2],
                         "alliance": [3.0, 3.5, 4.0, 4.5]}, index=[10, 11, 12, 13])


@pytest.fixture
def rates():
    return pd.DataFrame({"client": ["b", "a", "a", "b"], "session": [2, 1, 2, 1], "reflection_rate": [.4, .1, .2, .3]})


def test_merge_keeps_rows_order_and_index(ratings, rates):
    before_r, before_s = ratings.copy(), rates.copy()
    out = merge_session_scores(ratings, rates)
    assert out.index.tolist() == [10, 11, 12, 13]
    assert out["reflection_rate"].tolist() == [.1, .2, .3, .4]
    assert out.columns.tolist() == ["client", "session", "alliance", "reflection_rate"]
    pd.testing.assert_frame_equal(ratings, before_r)
    pd.testing.assert_frame_equal(rates, before_s)


def test_merge_lists_sessions_in_one_table_only(ratings, rates):
    scores = pd.concat([rates.iloc[1:], pd.DataFrame({"client": ["c"], "session": [1], "reflection_rate": [.5]})])
    with pytest.raises(SchemaError) as err:
        merge_session_scores(ratings, scores)
    problems = err.value.problems
    assert len(problems) == 2
    assert "1 session(s) of scores have no row in data" in problems[0] and "('c', 1)" in problems[0]
    assert "1 session(s) of data have no row in scores" in problems[1] and "('b', 2)" in problems[1]
    # keep: every session of data stays; scored sessions unknown to data are still an error
    with pytest.raises(SchemaError, match=r"\('c', 1\)"):
        merge_session_scores(ratings, scores, unmatched="keep")
    kept = merge_session_scores(ratings, rates.iloc[1:], unmatched="keep")
    assert kept["reflection_rate"].isna().tolist() == [False, False, False, True] and len(kept) == 4
    with pytest.warns(DataWarning, match="left out 1 session") as rec:
        dropped = merge_session_scores(ratings, scores, unmatched="drop")
    assert "('c', 1)" in str(rec[0].message) and "('b', 2)" in str(rec[0].message)
    assert dropped.index.tolist() == [10, 11, 12] and dropped["reflection_rate"].notna().all()


def test_merge_bad_tables(ratings, rates):
    with pytest.raises(SchemaError) as err:
        merge_session_scores(pd.concat([ratings, ratings.iloc[[0]]]), rates.assign(alliance=1.0))
    text = str(err.value)
    assert "'alliance'" in text and "in both data and scores" in text
    assert "listed more than once" in text and "('a', 1)" in text
    with pytest.raises(SchemaError, match="holds numbers in scores"):
        merge_session_scores(ratings, rates.assign(client=[2, 1, 1, 2]))
    with pytest.raises(SchemaError, match=r"without a 'client' or 'session' value \(rows 3\)"):
        merge_session_scores(ratings, rates.assign(session=[2.0, 1.0, np.nan, 1.0]))
    with pytest.raises(SchemaError, match="column 'session' not found in scores"):
        merge_session_scores(ratings, rates.drop(columns="session"))
    with pytest.raises(OptionError, match="unmatched"):
        merge_session_scores(ratings, rates, unmatched="ignore")


def test_top_level_names():
    assert als.behaviour_rates is behaviour_rates and als.merge_session_scores is merge_session_scores


def test_one_session_per_client_warns_that_within_paths_are_not_identified():
    from allianceStats.errors import DataWarning
    from allianceStats.simulate import simulate_behaviour_chain

    with pytest.warns(DataWarning, match="one session per client"):
        _, sessions, _ = simulate_behaviour_chain(2, 2, 1, turns_per_session=5, seed=3)
    assert sessions.groupby("client").size().eq(1).all()
