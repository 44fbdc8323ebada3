"""decompose: definitions hold exactly for any data (hypothesis), lags never cross clients or gaps."""
import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from allianceStats import decompose
from allianceStats.errors import OptionError, SchemaError


@st.composite
def session_tables(draw):
    n_clients = draw(st.integers(1, 6))
    rows = []
    for c in range(n_clients):
        sessions = draw(st.lists(st.integers(1, 12), min_size=1, max_size=8, unique=True))
        therapist = f"t{draw(st.integers(0, 2))}"
        for s in sessions:
            value = draw(st.one_of(st.none(), st.floats(-1e3, 1e3, allow_nan=False, allow_infinity=False)))
            rows.append({"therapist": therapist, "client": f"c{c}", "session": s,
                         "x": np.nan if value is None else value})
    frame = pd.DataFrame(rows)
    order = draw(st.permutations(list(range(len(frame)))))
    return frame.iloc[list(order)].reset_index(drop=True)


@settings(max_examples=100, deadline=None)
@given(session_tables(), st.sampled_from(["person_mean", "detrend"]), st.booleans())
def test_parts_reconstruct_the_value_and_input_is_untouched(frame, method, with_therapist):
    before = frame.copy(deep=True)
    out = decompose(frame, "x", therapist="therapist" if with_therapist else None, method=method, lags=(1, 2))
    pd.testing.assert_frame_equal(frame, before)
    parts = out["x_within"] + out["x_between"]
    if with_therapist:
        parts = parts + out["x_therapist"]
    if method == "detrend":
        parts = parts + out["x_trend"]
    ok = frame["x"].notna()
    scale = 1 + frame["x"].abs().max() if ok.any() else 1
    assert np.allclose(parts[ok], frame["x"][ok], atol=1e-9 * scale)
    assert out.loc[~ok, "x_within"].isna().all()
    sums = out.groupby("client")["x_within"].sum()
    assert np.allclose(sums, 0.0, atol=1e-8 * scale)


@settings(max_examples=100, deadline=None)
@given(session_tables())
def test_lag_is_same_client_exact_previous_session(frame):
    out = decompose(frame, "x", lags=(1, 2))
    lookup = {(c, s): w for c, s, w in zip(out["client"], out["session"], out["x_within"])}
    for k in (1, 2):
        for c, s, lag in zip(out["client"], out["session"], out[f"x_within_lag{k}"]):
            expected = lookup.get((c, s - k), np.nan)
            assert (np.isnan(lag) and np.isnan(expected)) or lag == expected


def test_therapist_mean_is_unweighted_mean_of_client_means():
    d = pd.DataFrame({"therapist": ["t"] * 4, "client": ["a", "a", "a", "b"], "session": [1, 2, 3, 1],
                      "x": [1.0, 2.0, 3.0, 10.0]})
    out = decompose(d, "x", therapist="therapist")
    assert out["x_therapist"].iloc[0] == pytest.approx((2.0 + 10.0) / 2)
    assert out["x_between"].tolist() == pytest.approx([-4.0, -4.0, -4.0, 4.0])


def test_detrend_removes_a_clients_linear_trend():
    d = pd.DataFrame({"client": ["a"] * 4, "session": [1, 2, 3, 5], "x": [1.0, 3.0, 5.0, 9.0]})
    out = decompose(d, "x", method="detrend")
    assert np.allclose(out["x_within"], 0.0)
    assert np.allclose(out["x_trend"], [-3.5, -1.5, 0.5, 4.5])  # slope 2 around mean session 2.75


def test_session0_and_index_preserved():
    d = pd.DataFrame({"client": ["a", "a"], "session": [1, 2], "x": [1.0, 2.0]}, index=[7, 3])
    out = decompose(d, "x")
    assert out.index.tolist() == [7, 3] and out["session0"].tolist() == [0, 1]


@pytest.mark.parametrize("kwargs,error,needle", [
    ({"columns": "nope"}, SchemaError, "column 'nope' not found in data"),
    ({"columns": "x", "method": "spline"}, OptionError, "method='spline' is not supported"),
    ({"columns": "x", "lags": (0,)}, OptionError, "positive integers"),
    ({"columns": "x", "overwrite": "yes"}, OptionError, "overwrite='yes' must be True or False"),
    ({"columns": "label"}, SchemaError, "column 'label' has dtype"),
])
def test_bad_arguments(kwargs, error, needle):
    d = pd.DataFrame({"client": ["a", "a"], "session": [1, 2], "x": [1.0, 2.0], "label": ["p", "q"]})
    with pytest.raises(error, match=needle):
        decompose(d, **kwargs)


def test_duplicates_non_nested_and_missing_sessions_are_schema_errors():
    d = pd.DataFrame({"therapist": ["t1", "t2"], "client": ["a", "a"], "session": [1, 2], "x": [1.0, 2.0]})
    with pytest.raises(SchemaError, match="nested"):
        decompose(d, "x", therapist="therapist")
    with pytest.raises(SchemaError, match="duplicate"):
        decompose(d.assign(session=1), "x")
    with pytest.raises(SchemaError, match="non-integer session"):
        decompose(d.assign(session=[1.0, np.nan]), "x")
    with pytest.raises(SchemaError, match="must be a pandas DataFrame"):
        decompose(d.to_dict(), "x")


def test_existing_output_columns_are_not_overwritten_unless_asked():
    d = pd.DataFrame({"client": ["a", "a", "b", "b"], "session": [1, 2, 1, 2], "x": [1.0, 2.0, 3.0, 5.0],
                      "y": [0.0, 1.0, 1.0, 0.0]})
    once = decompose(d, "x")
    with pytest.raises(SchemaError, match=r"'x_within', 'x_between', 'x_within_lag1'.*overwrite=True") as err:
        decompose(once, "x")
    assert len(err.value.problems) == 1
    user = d.assign(x_within=9.0)
    with pytest.raises(SchemaError, match="'x_within'"):
        decompose(user, "x")
    pd.testing.assert_frame_equal(user, d.assign(x_within=9.0))  # input untouched
    again = decompose(user, "x", overwrite=True)
    pd.testing.assert_frame_equal(again[once.columns], once[once.columns].assign(x_within=once["x_within"]),
                                  check_like=True)
    assert list(again.columns[:5]) == ["client", "session", "x", "y", "x_within"]  # replaced in place
    # another measure on an already decomposed table: session0 is recomputed, nothing else clashes
    both = decompose(once, "y")
    assert both["session0"].tolist() == [0, 1, 0, 1] and "y_within" in both
    with pytest.raises(SchemaError, match="'session0'"):
        decompose(d.assign(session0=7), "x")


def test_old_argument_names_warn_and_give_the_same_table():
    d = pd.DataFrame({"client": ["a", "a", "b"], "visit": [1, 2, 1], "x": [1.0, 2.0, 4.0]})
    new = decompose(d, "x", session="visit")
    with pytest.warns(FutureWarning, match="argument time= is renamed session="):
        old = decompose(d, "x", time="visit")
    pd.testing.assert_frame_equal(new, old)
    assert "visit0" in new
    with pytest.warns(FutureWarning, match="argument df= is renamed data="):
        old = decompose(df=d, columns="x", session="visit")
    pd.testing.assert_frame_equal(new, old)
    with pytest.raises(OptionError, match="give only session="):
        decompose(d, "x", time="visit", session="visit")


# --- issue 12: unvalidated tables get a SchemaError naming the cause, never numpy's or pandas' own error ----

@pytest.mark.parametrize("change,needle", [
    (dict(client=["a", None, "b", "b"]), "missing client id at row.s. 1"),
    (dict(session=[1, 2.5, 1, 2]), "non-integer session number.s. at row.s. 1"),
    (dict(session=[1, np.nan, 1, 2]), "non-integer session number.s. at row.s. 1"),
    (dict(therapist=["t", None, "u", "u"]), "missing therapist id at row.s. 1"),
    (dict(session=[1, 1e20, 1, 2]), "beyond ±2\\*\\*53 at row.s. 1"),
    (dict(session=pd.to_datetime(["2024-01-01", "2024-01-08", "2024-01-01", "2024-01-08"])), "dates, times"),
])
def test_unvalidated_tables_with_bad_ids_or_sessions_are_schema_errors(change, needle):
    d = pd.DataFrame({"therapist": ["t", "t", "u", "u"], "client": ["a", "a", "b", "b"], "session": [1, 2, 1, 2],
                      "x": [1.0, 2.0, 3.0, 4.0]}).assign(**change)
    with pytest.raises(SchemaError, match=needle):
        decompose(d, "x", therapist="therapist")


def test_lags_are_right_for_large_and_negative_session_numbers():
    """The lag lookup matches (client, session) pairs: no packed integer key to overflow or collide."""
    big = 2**52
    d = pd.DataFrame({"client": ["a", "a", "b", "b", "c", "c"],
                      "session": [big - 1, big, -5, -4, 1, 2], "x": [1.0, 3.0, 2.0, 6.0, 0.0, 4.0]})
    out = decompose(d, "x")
    np.testing.assert_array_equal(out["x_within_lag1"].to_numpy(), [np.nan, -1.0, np.nan, -2.0, np.nan, -2.0])
