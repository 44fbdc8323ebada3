"""allianceStats: longitudinal alliance-outcome analysis for substance-use-disorder treatment research.

Sessions nested in clients nested in therapists. The public API is re-exported here and loaded lazily
(PEP 562), so ``import allianceStats`` is fast and an analysis only pays for the engines it uses.

Data flows one way (docs/design.md): ``data`` -> ``decompose`` -> (``mixed`` | ``panel`` -> ``sem`` |
``mediation`` | ``dynamics``) -> results -> ``report``.

Example
-------
>>> import allianceStats as als
>>> data, truth = als.simulate.sdt_cycle(4, 5, 6, seed=1)
>>> sessions = als.read_sessions(data)
>>> sessions["client"].nunique()
20
"""
from __future__ import annotations

import importlib
from importlib import metadata as _metadata

# decompose and compare are both modules and their functions: bind the functions eagerly so that
# ``allianceStats.decompose`` / ``allianceStats.compare`` are always the functions, never the modules.
from .comparison import compare
from .decomposition import decompose
from .errors import (
    AllianceStatsError,
    BoundaryWarning,
    ConvergenceError,
    ConvergenceWarning,
    DataWarning,
    FormulaError,
    IdentificationError,
    OptionError,
    SchemaError,
)

try:
    __version__ = _metadata.version("allianceStats")
except _metadata.PackageNotFoundError:  # running from a source tree without installation
    __version__ = "0.0.0+unknown"

# public name -> module that defines it
_LAZY = {
    # data: reading, validating, scoring, reshaping
    "read_sessions": "allianceStats.data.read",
    "load_schema": "allianceStats.data.schema",
    "score": "allianceStats.data.scoring",
    "reliability": "allianceStats.data.internal_consistency",
    "load_instrument": "allianceStats.data.instruments",
    "list_instruments": "allianceStats.data.instruments",
    "to_wide": "allianceStats.data.reshape",
    "to_long": "allianceStats.data.reshape",
    "load_example": "allianceStats.data.example",
    "describe": "allianceStats.data.description",
    # mixed models
    "fit_mlm": "allianceStats.mixed",
    "MixedResult": "allianceStats.mixed",
    "icc": "allianceStats.mixed",
    "ICCResult": "allianceStats.mixed",
    "r2": "allianceStats.mixed",
    "R2Result": "allianceStats.mixed",
    "AllianceOutcomeResult": "allianceStats.mixed",
    "compare_mlm": "allianceStats.mixed",
    "profile_ci": "allianceStats.mixed",
    "anova": "allianceStats.mixed",
    "AnovaResult": "allianceStats.mixed",
    "coef_test": "allianceStats.mixed",
    "fit_alliance_outcome": "allianceStats.mixed",
    # generalised linear mixed models (issue 14)
    "fit_glmm": "allianceStats.mixed.glmm",
    "GLMMResult": "allianceStats.mixed.glmm",
    # SEM and panel models
    "fit_sem": "allianceStats.sem",
    "SEMResult": "allianceStats.sem",
    "compare_sem": "allianceStats.sem",
    "measurement_invariance": "allianceStats.sem",
    "InvarianceResult": "allianceStats.sem",
    "PanelResult": "allianceStats.panel",
    "fit_clpm": "allianceStats.panel",
    "fit_riclpm": "allianceStats.panel",
    "fit_dpm": "allianceStats.panel",
    "compare_panel": "allianceStats.panel",
    # mediation
    "fit_mediation": "allianceStats.mediation",
    "fit_multilevel_mediation": "allianceStats.mediation",
    "fit_wave_mediation": "allianceStats.mediation",
    "hypotheses": "allianceStats.mediation",
    "evaluate_hypotheses": "allianceStats.mediation",
    # dynamics
    "detect_ruptures": "allianceStats.dynamics",
    "detect_sudden_gains": "allianceStats.dynamics",
    "variability": "allianceStats.dynamics",
    "fit_dropout": "allianceStats.dynamics",
    "kaplan_meier": "allianceStats.dynamics",
    "fit_level_variability_repair": "allianceStats.dynamics",
    # survival: intervals from sessions, Cox, discrete-time hazards, joint models (issue 15)
    "fit_cox": "allianceStats.survival",
    "CoxResult": "allianceStats.survival",
    "survival_intervals": "allianceStats.survival",
    "check_intervals": "allianceStats.survival",
    "survival_curve": "allianceStats.survival",
    "SurvivalCurveResult": "allianceStats.survival",
    "cox_zph": "allianceStats.survival",
    "ZphResult": "allianceStats.survival",
    "cumulative_incidence": "allianceStats.survival",
    "IncidenceResult": "allianceStats.survival",
    "fit_cause_specific": "allianceStats.survival",
    "CauseSpecificResult": "allianceStats.survival",
    "fit_discrete_hazard": "allianceStats.survival",
    "DiscreteHazardResult": "allianceStats.survival",
    "fit_joint": "allianceStats.survival",
    "JointResult": "allianceStats.survival",
    # power
    "power": "allianceStats.power_analysis",
    "load_study": "allianceStats.power_analysis",
    "run_study": "allianceStats.power_analysis",
    # process research: coded session behaviour, sequences, synchrony
    "read_events": "allianceStats.process",
    "load_code_set": "allianceStats.process",
    "list_code_sets": "allianceStats.process",
    "score_codes": "allianceStats.process",
    "behaviour_rates": "allianceStats.process",
    "merge_session_scores": "allianceStats.process",
    "lag_sequential": "allianceStats.process",
    "lag_sequential_from_table": "allianceStats.process",
    "LagSequentialResult": "allianceStats.process",
    "lag_person_period": "allianceStats.process",
    "window_cross_correlation": "allianceStats.process",
    "SynchronyResult": "allianceStats.process",
    "synchrony_by_session": "allianceStats.process",
    "surrogate_synchrony": "allianceStats.process",
    "SurrogateResult": "allianceStats.process",
    "language_style_matching": "allianceStats.process",
    # figures, tables and compact views for people (issue 18)
    "plot_paths": "allianceStats.plots",
    "plot_trajectories": "allianceStats.plots",
    "plot_survival": "allianceStats.plots",
    "plot_power": "allianceStats.plots",
    "plot_transitions": "allianceStats.plots",
    "label_collisions": "allianceStats.plots",
    "to_table": "allianceStats.report.apa",
    "compact": "allianceStats.formatting",
}
_SUBMODULES = {"simulate", "data", "mixed", "sem", "panel", "mediation", "dynamics", "report", "power_analysis",
               "process", "survival", "errors", "results", "plots"}

# old public name -> new public name: the old one keeps working until 0.3.0 with a FutureWarning (CHANGELOG.md).
# Each area adds its renames here; the old names are not in __all__.
_RENAMED = {
    "multilevel_mediation": "fit_multilevel_mediation",
    "wave_mediation": "fit_wave_mediation",
    "test_hypotheses": "evaluate_hypotheses",
    "sudden_gains": "detect_sudden_gains",
    "level_variability_repair": "fit_level_variability_repair",
}

__all__ = sorted(
    [*_LAZY, *_SUBMODULES, "decompose", "compare", "AllianceStatsError", "SchemaError", "OptionError", "FormulaError",
     "IdentificationError", "ConvergenceError", "ConvergenceWarning", "BoundaryWarning", "DataWarning", "__version__"]
)


def __getattr__(name: str):
    if name in _RENAMED:
        from ._deprecation import renamed_function

        new = _RENAMED[name]
        return renamed_function(name, __getattr__(new) if new not in globals() else globals()[new], new_name=new)
    if name in _LAZY:
        module = importlib.import_module(_LAZY[name])
        value = getattr(module, name)
    elif name in _SUBMODULES:
        value = importlib.import_module(f"allianceStats.{name}")
    else:
        raise AttributeError(f"module 'allianceStats' has no attribute {name!r}")
    globals()[name] = value
    return value


def __dir__():
    return __all__
