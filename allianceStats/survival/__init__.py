"""Survival analysis of alliance data: Cox models with time-varying covariates, survival curves, diagnostics.

Modules (each docstring is a methods section with its sources): :mod:`.surv_formula` (R's ``Surv()`` syntax),
:mod:`.surv_data` (checks), :mod:`.risk_sets` (vectorised partial-likelihood sums), :mod:`.cox` (:func:`fit_cox`),
:mod:`.curves` (Kaplan–Meier, baseline hazard, predicted survival), :mod:`.zph` (:func:`cox_zph`).
"""
from .cox import CoxResult, fit_cox
from .curves import SurvivalCurveResult, baseline_hazard, predict_survival, survival_curve
from .surv_formula import parse_surv_formula
from .zph import ZphResult, cox_zph

__all__ = ["fit_cox", "CoxResult", "survival_curve", "SurvivalCurveResult", "baseline_hazard", "predict_survival",
           "parse_surv_formula", "cox_zph", "ZphResult"]
