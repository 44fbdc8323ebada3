"""Mediation for the SDT need-satisfaction hypotheses (docs/design.md, Q5).

- :func:`mediation` — single, parallel and serial mediation with observed variables: the saturated path model
  by ML (= OLS), delta-method standard errors, vectorised case / cluster bootstrap (percentile, BCa) or Monte
  Carlo intervals (Preacher & Hayes 2008; Hayes 2013; MacKinnon 2008; Efron 1987; Selig & Preacher 2008).
- :func:`multilevel_mediation` — 1-1-1 mediation in session data: within- and between-client indirect effects
  (Zhang, Zyphur & Preacher 2009) with random a and b slopes and their covariance (Bauer, Preacher & Gil 2006).
- :func:`wave_mediation` — within-person indirect effects x[t-2] -> m[t-1] -> y[t] from a three-variable
  RI-CLPM (Hamaker et al. 2015; Cole & Maxwell 2003), delta-method and Monte Carlo intervals.
- :func:`hypotheses` / :func:`test_hypotheses` — the SDT hypothesis registry as data, and a runner that maps a
  data set's columns to the registry's roles and fits the model each hypothesis names.

References are listed in each module's docstring.

``allianceStats.mediation`` is both this subpackage and the function :func:`mediation` (the public API maps the
name to the function; Python binds the subpackage to the same attribute once it is imported). The subpackage is
therefore callable and forwards the call to :func:`mediation`, so ``als.mediation(...)`` works either way.

Example
-------
>>> import allianceStats as als
>>> from allianceStats.mediation import mediation
>>> callable(als.mediation) and mediation.__module__
'allianceStats.mediation.observed'
"""
import sys
import types

from .registry import REGISTRY, Hypothesis, hypotheses, test_hypotheses
from .multilevel import MultilevelMediationResult, multilevel_mediation
from .observed import MediationResult, mediation
from .waves import WaveMediationResult, wave_mediation

__all__ = ["mediation", "multilevel_mediation", "wave_mediation", "hypotheses", "test_hypotheses",
           "MediationResult", "MultilevelMediationResult", "WaveMediationResult", "Hypothesis", "REGISTRY"]


class _CallableModule(types.ModuleType):
    def __call__(self, *args, **kwargs):
        return mediation(*args, **kwargs)


sys.modules[__name__].__class__ = _CallableModule
