"""Nested linear mixed models (sessions in clients in therapists) that match lme4 / lmerTest.

:func:`fit_mlm` fits lme4-syntax formulas with nested random effects by profiled REML or ML
(Bates, Mächler, Bolker & Walker 2015, J. Stat. Softw. 67(1)), with Satterthwaite degrees of freedom as
lmerTest computes them (Kuznetsova, Brockhoff & Christensen 2017, J. Stat. Softw. 82(13)) and an optional
residual AR(1) within client (nlme's ``corAR1``). See :mod:`allianceStats.mixed.engine` for the methods.

On a fit: :func:`icc` (intraclass correlations, an :class:`ICCResult`), :func:`r2` (explained variance,
an :class:`R2Result`), :func:`compare_mlm` (likelihood-ratio tests, a
:class:`~allianceStats.comparison.ComparisonResult`), :func:`profile_ci` (profile-likelihood intervals),
:func:`anova` (type III / I F tests of terms with Satterthwaite or Kenward–Roger df, an :class:`AnovaResult`),
:func:`coef_test` (cluster-robust CR2 t tests) and :func:`fit_alliance_outcome` (the lagged alliance–outcome model
beside the fixed-effects within estimator).
Modules: ``engine`` (estimation), ``optimizer``, ``design``, ``formula``, ``model_frame``, ``crossed``, ``ar1``,
``satterthwaite``, ``kenward_roger``, ``robust``, ``term_tests``, ``inference``, ``result``, ``summary``,
``intraclass``, ``explained_variance``, ``comparison``, ``alliance_outcome``.
"""
from __future__ import annotations

from .alliance_outcome import AllianceOutcomeResult, fit_alliance_outcome
from .comparison import compare_mlm, profile_ci
from .engine import fit_mlm
from .explained_variance import R2Result, r2
from .intraclass import ICCResult, icc
from .result import MixedResult
from .robust import coef_test
from .term_tests import AnovaResult, anova

__all__ = ["fit_mlm", "MixedResult", "icc", "ICCResult", "r2", "R2Result", "compare_mlm", "profile_ci",
           "anova", "AnovaResult", "coef_test", "fit_alliance_outcome", "AllianceOutcomeResult"]
