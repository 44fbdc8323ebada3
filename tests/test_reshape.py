"""to_wide / to_long are inverses and lose nothing."""
import numpy as np
import pandas as pd
import pytest

from allianceStats import AllianceStatsError, to_long, to_wide
from allianceStats.data.example import load_example


def test_round_trip_on_example_data():
    d = load_example()[["therapist", "client", "session", "alliance", "outcome"]]
    d = d.dropna(subset=["alliance", "outcome"], how="all").reset_index(drop=True)
    wide = to_wide(d, ["alliance", "outcome"], keep=["therapist"])
    assert len(wide) == d["client"].nunique()
    assert wide.loc[wide["client"] == d["client"].iloc[0], "alliance_1"].item() == d["alliance"].iloc[0]
    back = to_long(wide, ["alliance", "outcome"])
    pd.testing.assert_frame_equal(back[d.columns], d, check_dtype=False)


def test_keep_must_be_client_level():
    d = pd.DataFrame({"client": ["a", "a"], "session": [1, 2], "x": [1.0, 2.0], "y": [1, 2]})
    with pytest.raises(AllianceStatsError, match="vary within a client"):
        to_wide(d, "x", keep=["y"])


def test_to_long_needs_matching_columns():
    with pytest.raises(AllianceStatsError, match="no columns named"):
        to_long(pd.DataFrame({"client": [1], "z_1": [np.nan]}), "x")
