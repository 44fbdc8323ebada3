"""The names allianceStats maps to the dynamics package resolve to the same objects, and column names are free."""
import pandas as pd

import allianceStats as als
import allianceStats.dynamics as dyn
from allianceStats import _LAZY


def test_lazy_names_resolve_to_dynamics_objects():
    names = [n for n, mod in _LAZY.items() if mod == "allianceStats.dynamics"]
    assert sorted(names) == sorted(["detect_ruptures", "sudden_gains", "variability", "fit_dropout",
                                    "kaplan_meier", "level_variability_repair"])
    for name in names:
        assert getattr(als, name) is getattr(dyn, name)
        assert name in dyn.__all__


def test_custom_column_names_for_ruptures_and_variability():
    df = pd.DataFrame({"client": ["a"] * 8 + ["b"] * 6, "session": list(range(1, 9)) + list(range(1, 7)),
                       "alliance": [4.0, 4.1, 3.9, 4.0, 2.0, 4.1, 4.0, 3.9, 5, 6, 6, 1, 6, 6]})
    renamed = df.rename(columns={"client": "id", "session": "visit", "alliance": "wai"})
    a = dyn.detect_ruptures(df)
    b = dyn.detect_ruptures(renamed, "wai", client="id", time="visit")
    pd.testing.assert_frame_equal(a.events, b.events)
    va = dyn.variability(df, pac_cutoff=1.0)
    vb = dyn.variability(renamed, "wai", client="id", time="visit", pac_cutoff=1.0)
    pd.testing.assert_frame_equal(va, vb)
