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


# --- issue 12: ids stay the text they were, bad files are one-line DataFileErrors, nothing passes silently ------

def quiet_read(*args, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DataWarning)
        return read_sessions(*args, **kwargs)


def test_numeric_looking_ids_in_a_csv_are_read_as_text_and_stay_distinct(tmp_path):
    path = tmp_path / "ids.csv"
    path.write_text("client,therapist,session,alliance\n007,01,1,3\n7,1,1,3\n1.10,1,1,2\n1.1,1,1,2\n"
                    "1e3,2,1,2\n1000,2,1,2\n")
    out = quiet_read(path)
    assert sorted(out["client"]) == sorted(["007", "7", "1.10", "1.1", "1e3", "1000"])
    assert sorted(out["therapist"].unique()) == ["01", "1", "2"]
    assert "007" in out.to_string()
    mapped = tmp_path / "mapped.csv"
    mapped.write_text("ID,visit,WAI\n007,1,3\n7,1,4\n")
    assert sorted(quiet_read(mapped, columns={"ID": "client", "visit": "session", "WAI": "alliance"})["client"]) \
        == ["007", "7"]


def test_an_id_given_as_number_and_as_text_is_one_client():
    raw = pd.DataFrame({"client": pd.Series([7, "7"], dtype=object), "session": [1, 1]})
    problems, _ = problems_of(raw)
    assert any("duplicate (client, session)" in p for p in problems)


@pytest.mark.parametrize("how", ["csv", "frame"])
def test_duplicate_column_names_are_one_schema_error(tmp_path, how):
    if how == "csv":
        source = tmp_path / "dup.csv"
        source.write_text("client,session,alliance,alliance\na,1,3,9\na,2,4,9\n")
    else:
        source = pd.DataFrame([["a", 1, 3.0, 9.0]], columns=["client", "session", "alliance", "alliance"])
    problems, _ = problems_of(source)
    assert len(problems) == 1 and "duplicate column name" in problems[0] and "'alliance' (2 times)" in problems[0]


def test_names_that_become_equal_as_text_are_duplicates():
    raw = pd.DataFrame([["a", 1, 3.0, 4.0]], columns=["client", "session", 1, "1"])
    problems, _ = problems_of(raw)
    assert "duplicate column name" in problems[0]


@pytest.mark.parametrize("sessions", [pd.to_datetime(["2024-01-01", "2024-01-08"]),
                                      pd.to_timedelta([1, 8], unit="D")])
@pytest.mark.parametrize("as_parquet", [False, True])
def test_dates_or_durations_as_sessions_are_rejected_with_rows(tmp_path, sessions, as_parquet):
    raw = pd.DataFrame({"client": ["a", "a"], "session": sessions, "alliance": [3.0, 4.0]})
    source = raw
    if as_parquet:
        source = tmp_path / "dates.parquet"
        raw.to_parquet(source)
    problems, _ = problems_of(source)
    assert len(problems) == 1
    assert "column 'session'" in problems[0] and "rows 1 (client 'a'), 2 (client 'a')" in problems[0]
    assert "dates or times" in problems[0] or "durations" in problems[0]


@pytest.mark.parametrize("huge", [2**63 - 1, 1e20])
def test_session_numbers_too_large_to_be_exact_are_rejected(huge):
    raw = pd.DataFrame({"client": ["a", "a"], "session": [huge, 1], "alliance": [3.0, 4.0]})
    problems, _ = problems_of(raw)
    assert len(problems) == 1 and "too large" in problems[0] and "row 1 (client 'a'" in problems[0]


def test_duplicate_check_does_not_collide_for_negative_or_huge_sessions():
    # the old key client_code * span + session (span = max |session| + 1 = 11) made (b, -6) collide with (a, 5)
    problems, _ = problems_of(pd.DataFrame({"client": ["a", "a", "b"], "session": [5, 10, -6]}))
    assert not any("duplicate (client, session)" in p for p in problems)
    assert any("outside the allowed range" in p for p in problems)
    # ... and, as a float, (b, 2**52 - 1) with (b, 2**52) once the key passed 2**53
    huge = pd.DataFrame({"client": ["a", "a", "b", "b"], "session": [2**52 - 1, 2**52] * 2})
    assert len(quiet_read(huge)) == 4
    rng = np.random.default_rng(1)
    n = 20000
    big = pd.DataFrame({"client": rng.integers(0, 5000, n).astype(str), "session": rng.integers(1, 2**40, n)})
    big = big.drop_duplicates(["client", "session"])
    assert len(quiet_read(big)) == len(big)  # no false duplicates among valid rows


def oneline(err):
    text = str(err.value)
    assert "\n" not in text and "Traceback" not in text
    return text


@pytest.mark.parametrize("content,needle", [
    (b"", "empty"),
    (b"   \n \n", "empty"),
    (b"client,session\n\x00\x01\x02\xff\xfe,1\n", "binary"),
    ("client,session,note\nJos\u00e9,1,\u00fc\n".encode("latin-1"), "not UTF-8"),
    (b"PK\x03\x04\x14\x00\x06\x00" + bytes(range(256)), "zip archive"),
])
def test_unreadable_csv_files_are_one_line_data_file_errors(tmp_path, content, needle):
    path = tmp_path / "bad.csv"
    path.write_bytes(content)
    with pytest.raises(DataFileError) as info:
        read_sessions(path)
    assert needle in oneline(info)


def test_random_bytes_are_data_file_errors(tmp_path):
    rng = np.random.default_rng(0)
    for k in range(20):
        for suffix in (".csv", ".parquet"):
            path = tmp_path / f"noise{k}{suffix}"
            path.write_bytes(rng.bytes(2000))
            with pytest.raises(DataFileError) as info:
                read_sessions(path)
            oneline(info)
    empty = tmp_path / "empty.parquet"
    empty.write_bytes(b"")
    with pytest.raises(DataFileError, match="as Parquet"):
        read_sessions(empty)


def test_permission_denied_and_folders_are_data_file_errors(tmp_path, monkeypatch):
    import pathlib

    path = tmp_path / "locked.csv"
    path.write_text("client,session\na,1\n")
    real_open = pathlib.Path.open

    def denied(self, *args, **kwargs):
        if self == path:
            raise PermissionError(13, "Permission denied", str(self))
        return real_open(self, *args, **kwargs)

    monkeypatch.setattr(pathlib.Path, "open", denied)
    with pytest.raises(DataFileError, match="Permission denied") as info:
        read_sessions(path)
    oneline(info)
    with pytest.raises(DataFileError, match="is a folder"):
        read_sessions(tmp_path)


def test_semicolon_separated_csv_gets_a_hint(tmp_path):
    path = tmp_path / "semi.csv"
    path.write_text("client;session;alliance\na;1;3\n")
    problems, _ = problems_of(path)
    assert any("separated by ';'" in p and "sep=';'" in p for p in problems)


def test_a_huge_id_is_cut_in_messages_and_warnings():
    long_id = "x" * 100_000
    problems, text = problems_of(pd.DataFrame({"client": [long_id, long_id], "session": [1, 1]}))
    assert len(text) < 1000 and "…" in text
    problems, text = problems_of(pd.DataFrame({"client": [long_id] * 2, "therapist": ["a", "b"], "session": [1, 2]}))
    assert len(text) < 1000
    with pytest.warns(DataWarning) as caught:
        read_sessions(pd.DataFrame({"client": [long_id, "b", "b"], "session": [1, 1, 2]}))
    assert all(len(str(w.message)) < 500 for w in caught)


def test_schema_file_that_is_not_json_is_a_clear_error(tmp_path):
    from allianceStats.errors import OptionError

    bad = tmp_path / "s.json"
    bad.write_text("{not json")
    with pytest.raises(OptionError, match=r"not valid JSON \(.* at line 1, column 2\)"):
        read_sessions(good(), schema=bad)
    listing = tmp_path / "list.json"
    listing.write_text("[1, 2]")
    with pytest.raises(OptionError, match="JSON list, not an object"):
        read_sessions(good(), schema=listing)


def test_describe_on_an_empty_table_is_a_schema_error():
    from allianceStats import describe

    with pytest.raises(SchemaError, match="data has no rows"):
        describe(pd.DataFrame({"client": [], "session": []}))
