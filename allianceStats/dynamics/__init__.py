"""Alliance dynamics: ruptures and repair, sudden gains, variability indices, dropout (time-to-event) models.

Modules: :mod:`.rupture` (Stiles et al. 2004; Strauss et al. 2006; Gumz et al. 2012), :mod:`.sudden`
(Tang & DeRubeis 1999; Lutz et al. 2013), :mod:`.indices` (von Neumann et al. 1941; Jahng, Wood & Trull 2008),
:mod:`.survival` (Cox 1972; Efron 1977; Singer & Willett 1993; Kaplan & Meier 1958),
:mod:`.comparison` (level vs variability vs repair, docs/design.md Q4). Each module docstring states its
definitions and edge cases.

``sudden_gains`` and ``level_variability_repair`` are the 0.1 names of :func:`detect_sudden_gains` and
:func:`fit_level_variability_repair`; they keep working with a :class:`FutureWarning` until 0.3.0.
"""
from .comparison import LevelVariabilityRepairResult, fit_level_variability_repair
from .indices import successive_differences, variability
from .rupture import RuptureResult, detect_ruptures
from .sudden import SuddenChangeResult, critical_t, detect_sudden_gains
from .survival import DropoutResult, client_survival, fit_dropout, kaplan_meier, person_period

__all__ = ["detect_ruptures", "RuptureResult", "detect_sudden_gains", "SuddenChangeResult", "critical_t",
           "variability", "successive_differences", "fit_dropout", "DropoutResult", "kaplan_meier",
           "client_survival", "person_period", "fit_level_variability_repair", "LevelVariabilityRepairResult"]

_RENAMED = {"sudden_gains": "detect_sudden_gains", "level_variability_repair": "fit_level_variability_repair"}


def __getattr__(name: str):
    if name in _RENAMED:
        from .._deprecation import renamed_function

        return renamed_function(name, globals()[_RENAMED[name]])
    raise AttributeError(f"module 'allianceStats.dynamics' has no attribute {name!r}")
