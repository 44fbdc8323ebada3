"""Variability indices on hand-built series: gaps, PAC cut-offs, ruptures carried over, input checks."""
import numpy as np
import pandas as pd
import pytest

from allianceStats.dynamics import detect_ruptures, variability
from allianceStats.errors import AllianceStatsError

SESSIONS_A = [1, 2, 3, 5, 6]
SCORES_A = [4.0, 3.0, 3.5, 1.0, 2.0]


def _df():
    return pd.DataFrame({
        "client": ["a"] * 5 + ["b"] * 8 + ["c"] * 2,
        "session": SESSIONS_A + list(range(1, 9)) + [1, 2],
        "alliance": SCORES_A + [4.0, 4.1, 3.9, 4.0, 2.0, 4.1, 4.0, 3.9] + [3.0, np.nan],
    })


def test_indices_by_hand_with_a_gap():
    v = variability(_df(), pac_cutoff=1.0).set_index("client")
    x = np.array(SCORES_A)
    d = np.array([3.0 - 4.0, 3.5 - 3.0, 2.0 - 1.0])  # 3 -> 5 is skipped: session 4 was missed
    a = v.loc["a"]
    assert a["n_scores"] == 5 and a["n_successive"] == 3
    assert a["mean"] == pytest.approx(x.mean(), rel=1e-14)
    assert a["sd"] == pytest.approx(x.std(ddof=1), rel=1e-14)
    assert a["mssd"] == pytest.approx(np.mean(d ** 2), rel=1e-14)
    assert a["rmssd"] == pytest.approx(np.sqrt(np.mean(d ** 2)), rel=1e-14)
    s = np.array(SESSIONS_A, dtype=float)
    slope = np.sum((s - s.mean()) * (x - x.mean())) / np.sum((s - s.mean()) ** 2)
    assert a["slope"] == pytest.approx(slope, rel=1e-12)
    assert a["pac"] == pytest.approx(2 / 3, rel=1e-14)


def test_single_score_client_and_missing_scores():
    c = variability(_df(), pac_cutoff=1.0).set_index("client").loc["c"]
    assert c["n_scores"] == 1 and c["n_successive"] == 0
    assert np.isnan(c["sd"]) and np.isnan(c["mssd"]) and np.isnan(c["slope"]) and np.isnan(c["pac"])
    assert np.isnan(c["n_ruptures"])


def test_pac_directions_and_default_cutoff():
    df = _df()
    v = variability(df, pac_cutoff=1.0, pac_direction="decrease").set_index("client")
    assert v.loc["a", "pac"] == pytest.approx(1 / 3, rel=1e-14)  # only the drop of 1.0
    inc = variability(df, pac_cutoff=1.0, pac_direction="increase").set_index("client")
    assert inc.loc["a", "pac"] == pytest.approx(1 / 3, rel=1e-14)
    auto = variability(df)
    diffs = np.abs(np.concatenate([[-1.0, 0.5, 1.0], np.diff([4.0, 4.1, 3.9, 4.0, 2.0, 4.1, 4.0, 3.9])]))
    assert auto.attrs["pac_cutoff"] == pytest.approx(np.quantile(diffs, 0.9), rel=1e-14)


def test_rupture_counts_come_from_detect_ruptures():
    df = _df()
    v = variability(df, rupture_options={"k": 1.0}).set_index("client")
    r = detect_ruptures(df, k=1.0).clients.set_index("client")
    assert v.loc["b", "n_ruptures"] == r.loc["b", "n_ruptures"] == 1
    assert v.loc["b", "n_repaired"] == 1


def test_bad_arguments():
    with pytest.raises(AllianceStatsError, match="pac_direction"):
        variability(_df(), pac_direction="down")
    flat = pd.DataFrame({"client": "a", "session": [1, 2, 3], "alliance": [3.0, 3.0, 3.0]})
    with pytest.raises(AllianceStatsError, match="pass pac_cutoff"):
        variability(flat)


def test_matches_psych_mssd_sd_and_lm_where_nothing_is_missing():
    # fixture: tests/dynamics/fixtures/make_fixtures.R (psych 2.2.9); clients with a score at every session
    import json
    from pathlib import Path

    fix = Path(__file__).resolve().parent / "fixtures"
    ref = pd.DataFrame(json.loads((fix / "dropout_reference.json").read_text())["variability"])
    sessions = pd.read_csv(fix / "dropout_sessions.csv")
    ours = variability(sessions, pac_cutoff=0.5).set_index("client").loc[ref["client"]]
    assert len(ref) > 50
    np.testing.assert_array_equal(ours["n_scores"], ref["n_scores"])
    for col in ["mean", "sd", "mssd", "rmssd", "slope"]:
        np.testing.assert_allclose(ours[col], ref[col], rtol=1e-10, err_msg=col)
