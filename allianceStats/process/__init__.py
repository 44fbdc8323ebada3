"""Process research on coded sessions: coded-event tables, lag-sequential statistics, multilevel lag models,
synchrony of dyad signals and language style matching.

Modules (one job each): :mod:`~allianceStats.process.events` (read and validate coded-event tables),
:mod:`~allianceStats.process.codes` (MISC 2.5 / MITI 4 code sets and summary scores),
:mod:`~allianceStats.process.behaviour` (behaviour rates per session, merged onto the session table),
:mod:`~allianceStats.process.sequential` (lag-sequential statistics), :mod:`~allianceStats.process.multilevel`
(person-period tables for multilevel lag models), :mod:`~allianceStats.process.synchrony` (windowed
cross-correlation and surrogate tests), :mod:`~allianceStats.process.style_matching` (language style matching).

Example
-------
>>> from allianceStats.process import lag_sequential
>>> import pandas as pd
>>> ev = pd.DataFrame({"client": "a", "session": 1, "order": range(1, 9),
...                    "code": ["Q", "CT", "R", "CT", "Q", "ST", "R", "CT"]})
>>> res = lag_sequential(ev)
>>> print(res.table.query("given == 'R'")[["target", "observed", "transitional_probability"]].to_string(index=False))
target  observed  transitional_probability
    CT         2                       1.0
     Q         0                       0.0
     R         0                       0.0
    ST         0                       0.0
"""
from __future__ import annotations

from .behaviour import behaviour_rates, merge_session_scores
from .codes import CodeSet, list_code_sets, load_code_set, score_codes
from .events import read_events
from .multilevel import lag_person_period
from .sequential import LagSequentialResult, lag_sequential, lag_sequential_from_table
from .style_matching import language_style_matching
from .synchrony import (
                        SurrogateResult,
                        SynchronyResult,
                        surrogate_synchrony,
                        synchrony_by_session,
                        window_cross_correlation,
)

__all__ = ["read_events", "CodeSet", "load_code_set", "list_code_sets", "score_codes", "behaviour_rates",
           "merge_session_scores", "lag_sequential",
           "lag_sequential_from_table",
           "LagSequentialResult", "lag_person_period", "window_cross_correlation", "SynchronyResult",
           "surrogate_synchrony", "SurrogateResult", "synchrony_by_session", "language_style_matching"]
