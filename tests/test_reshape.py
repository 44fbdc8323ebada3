"""to_wide / to_long are inverses and lose nothing; panel_wide is a deprecated alias of to_wide."""
import numpy as np
import pandas as pd
import pytest

from allianceStats import SchemaError, to_long, to_wide
from allianceStats.data.example import load_example
from allianceStats.errors import OptionError
from allianceStats.panel import panel_wide


def test_round_trip_on_example_data():
    d = load_example()[["therapist", "client", "session", "alliance", "outcome"]]
    d = d.dropna(subset=["alliance", "outcome"], how="all").reset_index(drop=True)
    before = d.copy()
    wide = to_wide(d, ["alliance", "outcome"], keep=["therapist"])
    pd.testing.assert_frame_equal(d, before)  # input not modified
    assert len(wide) == d["client"].nunique()
    assert list(wide.columns[:3]) == ["client", "therapist", "alliance_1"]
    assert wide.loc[wide["client"] == d["client"].iloc[0], "alliance_1"].item() == d["alliance"].iloc[0]
    back = to_long(wide, ["alliance", "outcome"])
    pd.testing.assert_frame_equal(back[d.columns], d, check_dtype=False)


def test_waves_select_sessions_and_absent_ones_are_nan_columns():
    d = pd.DataFrame({"client": ["a", "a", "b"], "session": [1, 3, 2], "y": [1.0, 3.0, 2.0]})
    wide = to_wide(d, "y", waves=[3, 1, 4])
    assert wide.columns.tolist() == ["client", "y_3", "y_1", "y_4"]
    assert wide["y_4"].isna().all() and wide["y_3"].tolist()[0] == 3.0
    assert np.isnan(wide.loc[wide["client"] == "b", "y_1"].item())  # b was not seen at session 1
    float_sessions = d.assign(session=d["session"].astype(float))
    assert to_wide(float_sessions, "y").columns.tolist() == ["client", "y_1", "y_2", "y_3"]  # not y_1.0
    with pytest.raises(OptionError, match="more than once"):
        to_wide(d, "y", waves=[1, 1])


def test_keep_must_be_client_level_and_every_problem_is_listed():
    d = pd.DataFrame({"client": ["a", "a", "b", "b"], "session": [1, 2, 1, 1], "x": [1.0, 2.0, 3.0, 4.0],
                      "y": [1, 2, 5, 5]})
    with pytest.raises(SchemaError) as err:
        to_wide(d, "x", keep=["y"])
    assert len(err.value.problems) == 2
    assert "varies within client(s) 'a'" in str(err.value) and "more than one row" in str(err.value)
    # a client-level column recorded only on some rows is fine: missing values are ignored
    sparse = pd.DataFrame({"client": ["a", "a"], "session": [1, 2], "x": [1.0, 2.0], "arm": ["t", None]})
    assert to_wide(sparse, "x", keep="arm")["arm"].tolist() == ["t"]


def test_missing_ids_and_columns_are_schema_errors():
    d = pd.DataFrame({"client": ["a", None], "session": [1, 2], "x": [1.0, 2.0]})
    with pytest.raises(SchemaError, match="'client' is missing at 1 row"):
        to_wide(d, "x")
    with pytest.raises(SchemaError, match="column 'z' not found"):
        to_wide(d, ["x", "z"])


def test_to_long_needs_matching_columns():
    with pytest.raises(SchemaError, match="no columns named 'x_<session>'"):
        to_long(pd.DataFrame({"client": [1], "z_1": [np.nan]}), "x")


def test_old_argument_names_warn():
    d = pd.DataFrame({"client": ["a", "a"], "visit": [1, 2], "x": [1.0, 2.0]})
    with pytest.warns(FutureWarning, match="time= is renamed session="):
        wide = to_wide(d, "x", time="visit")
    assert wide.columns.tolist() == ["client", "x_1", "x_2"]
    with pytest.warns(FutureWarning) as caught:
        back = to_long(df=wide, columns="x", time="visit")
    messages = " ".join(str(w.message) for w in caught)
    assert "df= is renamed data=" in messages and "time= is renamed session=" in messages
    assert back.columns.tolist() == ["client", "visit", "x"]


def test_panel_wide_is_a_deprecated_alias_with_its_old_layout():
    long = pd.DataFrame({"client": ["b", "b", "a"], "session": [1, 2, 1], "x": [1.0, 2.0, 3.0],
                         "arm": ["t", "t", "c"]})
    with pytest.warns(FutureWarning, match=r"panel_wide\(\.\.\., wave=\) is renamed to_wide\(\.\.\., session=\)"):
        old = panel_wide(long, ["x"], keep=["arm"])
    assert old.columns.tolist() == ["client", "x_1", "x_2", "arm"] and old["client"].tolist() == ["a", "b"]
    new = to_wide(long, "x", keep="arm")
    assert new["client"].tolist() == ["b", "a"]
    pd.testing.assert_frame_equal(old, new.sort_values("client")[old.columns].reset_index(drop=True))
