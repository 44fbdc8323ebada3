"""Survival analysis of alliance data: intervals from sessions, Cox models, curves, competing risks, discrete-time
hazards and joint models.

Modules (each docstring is a methods section with its sources): :mod:`.surv_formula` (R's ``Surv()`` syntax),
:mod:`.surv_data` (checks), :mod:`.risk_sets` (vectorised partial-likelihood sums), :mod:`.cox` (:func:`fit_cox`),
:mod:`.curves` (Kaplan–Meier, baseline hazard, predicted survival), :mod:`.zph` (:func:`cox_zph`),
:mod:`.competing` (Aalen–Johansen, cause-specific hazards), :mod:`.intervals` (:func:`survival_intervals`, R's
``tmerge`` for sessions), :mod:`.discrete` (discrete-time hazards), :mod:`.joint` (:func:`fit_joint`, JM's
piecewise-, Weibull- and spline-PH-aGH joint models), :mod:`.bspline` (the spline baseline's B-spline basis and
JM's knots).
"""
from .competing import CauseSpecificResult, IncidenceResult, cumulative_incidence, fit_cause_specific
from .cox import CoxResult, fit_cox
from .curves import SurvivalCurveResult, baseline_hazard, predict_survival, survival_curve
from .discrete import DiscreteHazardResult, fit_discrete_hazard
from .intervals import check_intervals, survival_intervals
from .joint import JointResult, fit_joint
from .surv_formula import parse_surv_formula
from .zph import ZphResult, cox_zph

__all__ = ["fit_cox", "CoxResult", "survival_curve", "SurvivalCurveResult", "baseline_hazard", "predict_survival",
           "parse_surv_formula", "cox_zph", "ZphResult",
           "cumulative_incidence", "IncidenceResult", "fit_cause_specific", "CauseSpecificResult",
           "survival_intervals", "check_intervals", "fit_discrete_hazard", "DiscreteHazardResult",
           "fit_joint", "JointResult"]
