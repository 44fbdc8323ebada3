"""Structural equation models: lavaan-subset syntax, parameter table, ML and FIML, SEs, fit indices.

Public API: :func:`fit_sem` (fit a model), :func:`compare_sem` (χ²-difference tests of nested fits),
:class:`SEMResult` (the fitted model). Modules, in pipeline order: ``syntax`` (parser), ``partable``
(parameter table and lavaan defaults), ``model`` (matrices and derivatives), ``likelihood`` (FIML over
missing-data patterns, EM for H1), ``prepare`` (step 1: data, parameter table, sample statistics),
``estimate`` (step 2: start values, optimisation, information), ``fit_measures`` (steps 4-5: reference models
and fit indices), ``parameter_estimates`` (step 6: the tidy parameter table), ``fit`` (``fit_sem``, which runs
the steps, with lavaan's defaults), ``sample_stats`` (summary-statistics input), ``result`` (``SEMResult``),
``postfit`` (modification indices, residuals, fitted moments, factor scores, R²), ``summary`` (the lavaan-style
text), ``comparison`` (``compare_sem``); for ordered items ``polychoric``
(thresholds, polychoric correlations, Γ), ``ordinal`` (step 1), ``wls`` (steps 2-5: DWLS/WLS/ULS, robust SEs,
scaled tests, Satorra 2000 differences), ``fit_ordinal`` (the steps); ``invariance`` (``measurement_invariance``).
See ``fit.py`` for the methods and references.

Example
-------
>>> import numpy as np, pandas as pd
>>> import allianceStats.sem as sem
>>> x = np.random.default_rng(2).normal(size=200)
>>> noise = np.random.default_rng(5).normal(size=200)
>>> res = sem.fit_sem("y ~ x", pd.DataFrame({"x": x, "y": 2 * x + noise}))
>>> round(float(res.params.query("op == '~'")["estimate"].iloc[0]), 1)
2.1
"""
from .comparison import compare_sem
from .fit import fit_sem
from .invariance import InvarianceResult, measurement_invariance
from .result import SEMResult

__all__ = ["fit_sem", "compare_sem", "SEMResult", "measurement_invariance", "InvarianceResult"]
