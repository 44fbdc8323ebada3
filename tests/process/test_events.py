"""read_events: every problem listed in one SchemaError, nothing modified, typed sorted output; code sets."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from allianceStats.errors import DataFileError, SchemaError
from allianceStats.process import list_code_sets, load_code_set, read_events, score_codes
from allianceStats.simulate.process import simulate_mi_sessions


def _good():
    return pd.DataFrame({"client": ["a", "a", "a", "b", "b"], "therapist": "t1", "session": [1, 1, 1, 2, 2],
                         "order": [3, 1, 2, 1, 2], "speaker": ["client", "therapist", "client", "therapist", "client"],
                         "code": ["CT", "Q", "ST", "CR", "CT"], "onset": [6.0, 0.0, 2.5, 0.0, 4.0],
                         "offset": [8.0, 2.0, 5.0, 3.5, 6.0]})


def test_valid_table_is_typed_and_sorted_and_input_untouched():
    raw = _good()
    before = raw.copy()
    out = read_events(raw, codes=["miti_4", "client_language"])
    pd.testing.assert_frame_equal(raw, before)
    assert out["order"].tolist() == [1, 2, 3, 1, 2] and out["code"].tolist() == ["Q", "ST", "CT", "CR", "CT"]
    assert out["session"].dtype == np.int64 and out["onset"].dtype == np.float64
    assert out.attrs["allianceStats"]["code_set"] == "miti_4+client_language"


def test_every_problem_is_listed_at_once():
    bad = _good()
    bad.loc[0, "code"] = "XX"            # unknown code
    bad.loc[4, "code"] = "YY"            # another unknown code
    bad.loc[1, "order"] = 2              # duplicate order number with row 3
    bad.loc[2, "session"] = 0            # invalid session number
    bad.loc[4, "client"] = None          # missing client
    with pytest.raises(SchemaError) as err:
        read_events(bad, codes=["miti_4", "client_language"])
    text = "\n".join(err.value.problems)
    assert "unknown code 'XX' (rows 1)" in text and "unknown code 'YY' (rows 5)" in text
    assert "column 'client': missing value at row 5" in text
    assert "column 'session': value below 1 at row 3" in text
    assert len(err.value.problems) >= 4


def test_order_duplicates_time_order_and_overlaps():
    ev = pd.DataFrame({"client": "a", "session": 1, "order": [1, 2, 2, 3, 4],
                       "speaker": ["therapist", "client", "therapist", "client", "therapist"],
                       "code": ["Q", "CT", "SR", "ST", "CR"],
                       "onset": [0.0, 3.0, 5.0, 4.0, 9.0], "offset": [2.0, 4.5, 7.0, 6.0, 10.0]})
    with pytest.raises(SchemaError) as err:
        read_events(ev)
    problems = err.value.problems
    assert any(p.startswith("duplicate order numbers within a session at rows 2") for p in problems)
    assert any(p.startswith("events out of time order") and "row 4" in p for p in problems)
    # client events at 3.0-4.5 and 4.0-6.0 overlap (rows 2 and 4); therapist events do not
    assert any(p.startswith("overlapping events") and "rows 2 (client 'a'), 4 (client 'a')" in p for p in problems)


def test_overlap_across_speakers_is_allowed_but_not_within():
    ev = pd.DataFrame({"client": "a", "session": 1, "order": [1, 2], "speaker": ["therapist", "client"],
                       "code": ["Q", "CT"], "onset": [0.0, 1.0], "offset": [2.0, 3.0]})
    assert len(read_events(ev)) == 2
    with pytest.raises(SchemaError, match="overlapping events"):
        read_events(ev.drop(columns="speaker"))


def test_wrong_speaker_offset_before_onset_and_missing_columns():
    ev = _good()
    ev.loc[1, "speaker"] = "client"      # Q is a therapist code
    ev.loc[2, "offset"] = 1.0            # before its onset 2.5
    with pytest.raises(SchemaError) as err:
        read_events(ev, codes=["miti_4", "client_language"])
    text = "\n".join(err.value.problems)
    assert "code 'Q' belongs to the therapist" in text and "rows 2" in text
    assert "offset before onset at row 3" in text
    with pytest.raises(SchemaError, match=r"missing required column\(s\) \['order'\]"):
        read_events(ev.drop(columns="order"))
    with pytest.raises(SchemaError, match="'onset' found without 'offset'"):
        read_events(_good().drop(columns="offset"))


def test_client_under_two_therapists_and_mapping():
    ev = _good().rename(columns={"order": "utt"})
    ev.loc[4, "therapist"] = "t2"
    ev.loc[3, "therapist"] = "t2"
    ev.loc[0, "therapist"] = "t9"
    with pytest.raises(SchemaError, match="client 'a': therapists \\['t1', 't9'\\]"):
        read_events(ev, columns={"utt": "order"})
    with pytest.raises(SchemaError, match="'turn' is not a role"):
        read_events(_good(), columns={"order": "turn"})


def test_files(tmp_path):
    path = tmp_path / "events.csv"
    _good().to_csv(path, index=False)
    out = read_events(path)
    assert out.attrs["allianceStats"]["source"] == str(path) and len(out) == 5
    with pytest.raises(DataFileError, match="not found"):
        read_events(tmp_path / "nope.csv")


def test_simulated_sessions_validate():
    ev, _ = simulate_mi_sessions(n_therapists=2, clients_per_therapist=2, sessions_per_client=2, seed=3)
    assert len(read_events(ev, codes=["miti_4", "client_language"])) == len(ev)


def test_code_sets_ship_and_validate(tmp_path):
    assert list_code_sets() == ["client_language", "misc_2.5", "miti_4"]
    misc = load_code_set("misc_2.5")
    assert misc.codes_in("mi_consistent") == ("ADP", "AF", "EC", "RCP", "SU")
    assert set(misc.codes_in("change_talk")) == {"C+", "A+", "R+", "D+", "N+", "TS+", "O+"}
    assert "Houck" in misc.source and "Moyers" in load_code_set("miti_4").source
    broken = tmp_path / "broken.json"
    broken.write_text('{"name": "Broken Set", "title": "x", "source": "nowhere at all", "codes": [], '
                      '"summary_scores": []}')
    with pytest.raises(SchemaError) as err:
        load_code_set(broken)
    assert len(err.value.problems) == 2  # the name pattern and the empty code list


def test_summary_scores_by_hand():
    # MISC 2.5 session: 2 open + 2 closed questions, 1 simple + 3 complex reflections, AF, SU (MICO 2),
    # CO (MIIN 1), client C+, R+, R-, FN
    codes = ["QUO", "QUO", "QUC", "QUC", "RES", "REC", "REC", "REC", "AF", "SU", "CO", "C+", "R+", "R-", "FN"]
    ev = pd.DataFrame({"client": "a", "session": 1, "order": range(1, 16), "code": codes})
    s = score_codes(ev, "misc_2.5").iloc[0]
    assert s["reflection_to_question"] == pytest.approx(4 / 4)
    assert s["percent_complex_reflections"] == pytest.approx(75.0)
    assert s["percent_open_questions"] == pytest.approx(50.0)
    assert s["mi_consistent"] == 2 and s["mi_inconsistent"] == 1
    assert s["percent_mi_consistent"] == pytest.approx(200 / 3)
    assert s["percent_change_talk"] == pytest.approx(200 / 3)
    assert s["n_REC"] == 3 and s["n_WA"] == 0
    # a session without questions has a missing ratio, not infinity
    none = score_codes(ev[ev["code"].isin(["RES", "REC"])], "misc_2.5").iloc[0]
    assert np.isnan(none["reflection_to_question"])
    with pytest.raises(SchemaError, match="unknown code 'Q'"):
        score_codes(ev.assign(code="Q"), "misc_2.5")


def test_unknown_code_messages_name_the_users_column():
    events = pd.DataFrame({"client": ["c1"] * 3, "session": [1, 1, 1], "behaviour": ["SR", "XX", "CT"]})
    with pytest.raises(SchemaError, match=r"column 'behaviour': unknown code 'XX' \(rows 2\)"):
        score_codes(events, ["miti_4", "client_language"], code="behaviour")


def test_problems_name_the_users_column_beside_its_role():
    events = pd.DataFrame({"ID": ["c1"] * 3, "Visit": [1, 1, 1], "n": [1, 2, 3], "Beh": ["SR", "XX", "CT"]})
    with pytest.raises(SchemaError, match=r"column 'Beh' \(code\): unknown code 'XX'"):
        read_events(events, columns={"ID": "client", "Visit": "session", "n": "order", "Beh": "code"},
                    codes=["miti_4", "client_language"])
