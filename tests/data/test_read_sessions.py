"""read_sessions: every bad-input class gets a SchemaError naming column, row and client; nothing is lost."""
import warnings

import numpy as np
import pandas as pd
import pytest

from allianceStats import AllianceStatsError, SchemaError, read_sessions
from allianceStats.errors import DataFileError, DataWarning


def good():
    return pd.DataFrame({
        "therapist": ["t1"] * 5 + ["t2"] * 2,
        "client": ["c1", "c1", "c1", "c2", "c2", "c3", "c3"],
        "session": [1, 2, 3, 1, 2, 1, 2],
        "alliance": [3.0, 3.5, 4.0, 2.5, 3.0, 4.5, 5.0],
        "outcome": [40.0, 50.0, 60.0, 20.0, 25.0, 80.0, 90.0],
        "note": ["x", "u", "y", "z", "s", "w", "v"],
    })


def problems_of(frame, **kw):
    with pytest.raises(SchemaError) as info:
        read_sessions(frame, **kw)
    err = info.value
    assert isinstance(err, AllianceStatsError) and isinstance(err, ValueError)
    return err.problems, str(err)


def test_valid_table_is_typed_sorted_and_keeps_unknown_columns():
    raw = good().sample(frac=1.0, random_state=1)
    out = read_sessions(raw)
    assert out["client"].tolist() == ["c1", "c1", "c1", "c2", "c2", "c3", "c3"]
    assert out["session"].dtype == np.int64 and out["alliance"].dtype == np.float64
    assert "note" in out.columns  # not in the schema: kept unchanged
    assert out.index.equals(pd.RangeIndex(len(out)))


def test_input_dataframe_is_not_modified():
    raw = good().astype({"session": float})
    raw.loc[0, "session"] = 2.5  # an error, so validation runs its error paths too
    before = raw.copy(deep=True)
    with pytest.raises(SchemaError):
        read_sessions(raw)
    pd.testing.assert_frame_equal(raw, before)
    ok = good()
    keep = ok.copy(deep=True)
    read_sessions(ok.rename(columns={"client": "ID"}), columns={"ID": "client"})
    pd.testing.assert_frame_equal(ok, keep)


def test_csv_and_parquet_files_are_read_and_not_modified(tmp_path):
    path = tmp_path / "s.csv"
    good().to_csv(path, index=False)
    before = path.read_bytes()
    out = read_sessions(path)
    assert path.read_bytes() == before
    assert len(out) == 7
    pq = tmp_path / "s.parquet"
    good().to_parquet(pq)
    pd.testing.assert_frame_equal(read_sessions(pq), out)


def test_column_mapping_to_roles():
    raw = good().rename(columns={"client": "ID", "session": "visit", "alliance": "WAI"})
    out = read_sessions(raw, columns={"ID": "client", "visit": "session", "WAI": "alliance"})
    assert {"client", "session", "alliance"} <= set(out.columns)


def test_missing_required_column():
    probs, text = problems_of(good().drop(columns="session"))
    assert "missing required column" in text and "'session'" in text


def test_mapping_to_absent_column_is_reported():
    probs, text = problems_of(good(), columns={"nope": "alliance"})
    assert "'nope'" in text and "not in the data" in text


def test_text_in_numeric_column_names_column_row_and_client():
    raw = good().astype({"alliance": object})
    raw.loc[3, "alliance"] = "high"
    probs, text = problems_of(raw)
    assert "column 'alliance'" in text and "text" in text and "row 4" in text and "'c2'" in text and "'high'" in text


def test_value_outside_range():
    raw = good()
    raw.loc[2, "outcome"] = 140.0
    probs, text = problems_of(raw)
    assert "column 'outcome'" in text and "outside the allowed range [0, 100]" in text
    assert "row 3" in text and "'c1'" in text


def test_infinite_value():
    raw = good()
    raw.loc[5, "alliance"] = np.inf
    _, text = problems_of(raw)
    assert "column 'alliance'" in text and "infinite" in text and "row 6" in text and "'c3'" in text


def test_nan_like_identifier_is_an_error():
    raw = good()
    raw.loc[1, "client"] = None
    _, text = problems_of(raw)
    assert "column 'client'" in text and "missing identifier" in text and "row 2" in text


def test_nan_like_strings_in_csv_are_missing_measures(tmp_path):
    path = tmp_path / "s.csv"
    g = good()
    g.to_csv(path, index=False)
    text = path.read_text().replace("3.5", "NA", 1)
    path.write_text(text)
    out = read_sessions(path)
    assert out["alliance"].isna().sum() == 1


def test_duplicate_client_session_rows():
    raw = good()
    raw.loc[1, "session"] = 1
    _, text = problems_of(raw)
    assert "duplicate (client, session)" in text and "rows 1 (client 'c1'" in text and "2 (client 'c1'" in text


@pytest.mark.parametrize("bad", [0, -2, 1.5])
def test_non_positive_or_non_integer_session(bad):
    raw = good().astype({"session": float})
    raw.loc[4, "session"] = bad
    _, text = problems_of(raw)
    assert "column 'session'" in text and "row 5" in text and "'c2'" in text
    assert ("outside the allowed range" in text) or ("non-integer" in text)


def test_client_under_two_therapists():
    raw = good()
    raw.loc[2, "therapist"] = "t9"
    _, text = problems_of(raw)
    assert "client 'c1'" in text and "['t1', 't9']" in text and "nested" in text


def test_empty_table():
    _, text = problems_of(good().iloc[0:0])
    assert "empty" in text


def test_every_problem_is_listed_not_only_the_first():
    raw = good().astype({"alliance": object})
    raw.loc[0, "alliance"] = "x"
    raw.loc[1, "outcome"] = -5
    raw.loc[2, "session"] = 2  # duplicates (c1, 2)
    raw.loc[6, "therapist"] = "t1"  # c3 under t2 and t1
    probs, _ = problems_of(raw)
    kinds = " | ".join(probs)
    for needle in ("text in a numeric column", "outside the allowed range", "duplicate", "more than one therapist"):
        assert needle in kinds
    assert len(probs) == 4


def test_single_session_client_and_all_missing_measure_are_warnings():
    raw = good()
    raw = pd.concat([raw, pd.DataFrame({"therapist": ["t2"], "client": ["c4"], "session": [1],
                                        "alliance": [3.0], "outcome": [np.nan], "note": [""]})])
    with pytest.warns(DataWarning) as rec:
        out = read_sessions(raw)
    messages = " ".join(str(w.message) for w in rec)
    assert "single session" in messages and "'c4'" in messages
    assert "'outcome' is missing for every session of 1 client" in messages
    assert len(out) == 8


def test_file_errors(tmp_path):
    with pytest.raises(DataFileError, match="not found"):
        read_sessions(tmp_path / "nope.csv")
    (tmp_path / "x.xlsx").write_text("")
    with pytest.raises(DataFileError, match="unsupported file type"):
        read_sessions(tmp_path / "x.xlsx")


def test_numeric_ids_sort_numerically():
    raw = pd.DataFrame({"client": [10, 2, 2], "session": [1, 2, 1], "alliance": [3.0, 3.0, 3.0]})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DataWarning)
        out = read_sessions(raw)
    assert out["client"].tolist() == ["2", "2", "10"]
