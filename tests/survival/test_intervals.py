"""survival_intervals (R's tmerge for session data) and check_intervals: R fixtures, semantics, bad input."""
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from allianceStats.errors import SchemaError
from allianceStats.survival import check_intervals, fit_cox, survival_intervals

FIX = Path(__file__).resolve().parent / "fixtures"


@pytest.fixture(scope="module")
def relapse():
    return pd.read_csv(FIX / "relapse_sessions.csv"), pd.read_csv(FIX / "relapse_events.csv")


def test_person_period_rows_equal_those_built_in_r(relapse, ref):
    sessions, events = relapse
    before = sessions.copy(), events.copy()
    pp = survival_intervals(sessions, events, event="relapse", periods=True, keep=["female", "therapist"])
    r = ref["person_period"]
    assert len(pp) == r["n"] and int(pp["event"].sum()) == r["events"]
    assert pp["client"].tolist() == r["client"] and pp["period"].tolist() == r["period"]
    np.testing.assert_array_equal(pp["event"], r["event"])
    np.testing.assert_allclose(pp["alliance"], np.array(r["alliance"], dtype=float), rtol=0)
    pd.testing.assert_frame_equal(sessions, before[0])
    pd.testing.assert_frame_equal(events, before[1])


def _jasa_sessions(jasa):
    """Transplant as a time-varying covariate: 0 from acceptance (day 0), 1 from the transplant day on."""
    rows = []
    for r in jasa.itertuples():
        if pd.isna(r.txtime) or r.txtime > 0:
            rows.append((r.subject, 0.0, 0))
        if not pd.isna(r.txtime):
            rows.append((r.subject, r.txtime, 1))
    ses = pd.DataFrame(rows, columns=["subject", "day", "trt"])
    ses["session"] = ses.groupby("subject").cumcount() + 1
    return ses


def test_jasa_equals_tmerge_and_coxph(jasa, ref):
    iv = survival_intervals(_jasa_sessions(jasa), jasa, client="subject", time_scale="day", covariates=["trt"],
                            event="fustat", event_time="futime")
    t = ref["jasa_tmerge"]
    np.testing.assert_allclose(iv["start"], t["tstart"])
    np.testing.assert_allclose(iv["stop"], t["tstop"])
    np.testing.assert_array_equal(iv["event"], t["death"])
    np.testing.assert_array_equal(iv["trt"], t["trt"])
    cov = jasa[["subject", "age", "surgery", "year"]].rename(columns={"subject": "client"})
    iv = iv.merge(cov, on="client").assign(age=lambda d: d.age - 48)
    fit = fit_cox(iv, "Surv(start, stop, event) ~ age * trt + surgery + year", ties="breslow")
    r = ref["jasa_breslow"]
    assert fit.params["term"].tolist() == r["term"]
    np.testing.assert_allclose(fit.params["estimate"], r["estimate"], rtol=1e-6)
    np.testing.assert_allclose(fit.params["std_error"], r["std_error"], rtol=1e-5)
    np.testing.assert_allclose([fit.loglik_null, fit.loglik], r["loglik"], rtol=1e-8)
    assert round(fit.loglik, 4) == -290.2977  # issue 15


def _toy():
    sessions = pd.DataFrame({"client": ["a"] * 6 + ["b"] * 4,
                             "session": [1, 2, 3, 4, 5, 6, 1, 2, 3, 4],
                             "alliance": [4.0, 4.2, 3.8, 4.1, 2.0, 4.0, 3.0, np.nan, 3.4, 3.6]})
    events = pd.DataFrame({"client": ["a", "b"], "time": [5.5, 4], "event": ["relapse", 0]})
    return sessions, events


def test_semantics_no_look_ahead():
    sessions, events = _toy()
    iv = survival_intervals(sessions, events)
    a = iv[iv["client"] == "a"]
    # intervals from session to session, cut at the event; session 6 (after the relapse) is not used
    assert a[["start", "stop"]].values.tolist() == [[1, 2], [2, 3], [3, 4], [4, 5], [5, 5.5]]
    assert a["event"].tolist() == [0, 0, 0, 0, "relapse"]
    # the covariate of (s, s+1] is the value measured at s
    np.testing.assert_allclose(a["alliance"], [4.0, 4.2, 3.8, 4.1, 2.0])
    np.testing.assert_allclose(a["alliance_lag1"], [np.nan, 4.0, 4.2, 3.8, 4.1])
    np.testing.assert_allclose(a["alliance_cummean"], np.cumsum([4.0, 4.2, 3.8, 4.1, 2.0]) / np.arange(1, 6))
    np.testing.assert_allclose(a["alliance_within"], a["alliance"] - a["alliance_cummean"])
    # session 5 lies (4.025 - 2.0) / 0.17 SDs below the mean of sessions 1-4: a prospective rupture
    assert a["ruptures_so_far"].tolist() == [0, 0, 0, 0, 1]
    b = iv[iv["client"] == "b"]
    # censored at the last session: no interval after it; a missing value is carried forward, measured earlier
    assert b[["start", "stop"]].values.tolist() == [[1, 2], [2, 3], [3, 4]]
    np.testing.assert_allclose(b["alliance"], [3.0, 3.0, 3.4])
    np.testing.assert_allclose(b["alliance_measured"], [1, 1, 3])
    assert (iv["alliance_measured"] <= iv["start"]).all()
    # competing-event labels stay usable in Surv(..., event == "relapse")
    assert iv["event"].isin([0, "relapse"]).all()


def test_dates_time_scale():
    sessions, events = _toy()
    start = pd.Timestamp("2024-01-01")
    sessions = sessions.assign(date=start + pd.to_timedelta(sessions["session"] * 7 - 7, unit="D"))
    events = events.assign(date=[start + pd.Timedelta(days=31), start + pd.Timedelta(days=21)])
    iv = survival_intervals(sessions, events, time_scale="date", event_time="date")
    a = iv[iv["client"] == "a"]
    assert a[["start", "stop"]].values.tolist() == [[0, 7], [7, 14], [14, 21], [21, 28], [28, 31]]
    with pytest.raises(SchemaError, match="same scale"):
        survival_intervals(sessions, events, time_scale="date")


def test_bad_input_lists_every_problem_with_rows_and_clients():
    sessions, events = _toy()
    events2 = pd.concat([events, pd.DataFrame({"client": ["a", "c"], "time": [3, 2], "event": [1, 1]})],
                        ignore_index=True)
    sessions2 = pd.concat([sessions, pd.DataFrame({"client": ["d"], "session": [1], "alliance": [3.0]})],
                          ignore_index=True)
    with pytest.raises(SchemaError) as err:
        survival_intervals(sessions2, events2)
    text = str(err.value)
    assert "several rows for client(s) 'a'" in text
    assert "'d' have sessions but no row in events" in text
    assert "'c' are in events but have no session" in text
    with pytest.raises(SchemaError) as err:
        survival_intervals(sessions, events.assign(time=[5.5, 1]))
    assert "'b' have their event or end of follow-up at or before their first session" in str(err.value)
    with pytest.raises(SchemaError, match="after their end of follow-up"):
        survival_intervals(sessions, events.assign(end=[5, 4]), follow_up="end")
    with pytest.raises(SchemaError) as err:
        survival_intervals(sessions.drop(columns="alliance"), events.drop(columns="event"))
    assert len(err.value.problems) == 2 and "'alliance' not found in data" in err.value.problems[0]
    assert "'event' not found in events" in err.value.problems[1]
    with pytest.raises(SchemaError, match="changes within client"):
        survival_intervals(sessions.assign(arm=np.arange(10)), events, keep=["arm"])
    with pytest.raises(SchemaError, match="whole-number times"):
        survival_intervals(sessions.assign(session=sessions["session"] + 0.5), events, periods=True)


def test_periods_group_a_fractional_end_and_censored_labels():
    sessions, events = _toy()
    pp = survival_intervals(sessions, events.assign(time=[5.5, 3.5], event=["relapse", "completed"]),
                            periods=True, censored="completed")
    a, b = pp[pp["client"] == "a"], pp[pp["client"] == "b"]
    assert a["period"].tolist() == [2, 3, 4, 5, 6] and a["event"].tolist() == [0, 0, 0, 0, "relapse"]
    assert b["period"].tolist() == [2, 3] and (b["event"] == 0).all()  # censored at 3.5: period 4 not complete


def test_check_intervals_accepts_builder_output_and_rejects_look_ahead():
    sessions, events = _toy()
    iv = survival_intervals(sessions, events)
    assert check_intervals(iv, measured=["alliance_measured"]) is iv
    bad = iv.assign(alliance_measured=iv["alliance_measured"] + 1)
    with pytest.raises(SchemaError, match="look-ahead"):
        check_intervals(bad, measured=["alliance_measured"])
