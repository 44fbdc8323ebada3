"""Mediation for the SDT need-satisfaction hypotheses (docs/design.md, Q5).

- :func:`fit_mediation` — single, parallel and serial mediation with observed variables: the saturated path model
  by ML (= OLS), delta-method standard errors, vectorised row / client bootstrap (percentile, BCa), Monte Carlo or
  delta-method intervals (Preacher & Hayes 2008; Hayes 2013; MacKinnon 2008; Efron 1987; Selig & Preacher 2008).
- :func:`fit_multilevel_mediation` — 1-1-1 mediation in session data: within- and between-client indirect effects
  (Zhang, Zyphur & Preacher 2009) with random a and b slopes and their covariance (Bauer, Preacher & Gil 2006),
  on the stacked likelihood of :mod:`allianceStats.mixed.stacked`.
- :func:`fit_wave_mediation` — within-person indirect effects x[t-2] -> m[t-1] -> y[t] from a three-variable
  RI-CLPM (Hamaker et al. 2015; Cole & Maxwell 2003).
- :func:`hypotheses` / :func:`evaluate_hypotheses` — the SDT hypothesis registry as data (module
  :mod:`~allianceStats.mediation.registry`), and a runner that maps a data set's columns to the registry's
  roles and fits the model each hypothesis names; :data:`CYCLE` lists the arrows of the review's cycle.

The three ``fit_*`` functions share their arguments (``data`` first; ``client=``, ``ci=`` ∈ ``"percentile"``,
``"bca"``, ``"monte_carlo"``, ``"delta"`` with one meaning, ``n_draws=``, ``conf_level=``, ``seed=``) and their
result layout (``effects``, and ``paths`` with ``lhs, op, rhs, label, estimate, std_error, statistic, p_value,
ci_lower, ci_upper``; :mod:`~allianceStats.mediation.tables`). References are listed in each module's docstring.

Deprecated until 0.3.0: the old names ``mediation``, ``multilevel_mediation``, ``wave_mediation`` and
``test_hypotheses`` still work with a :class:`FutureWarning` naming the new one. ``allianceStats.mediation`` is
this subpackage; calling it (``als.mediation(data, ...)``, the old function) forwards to :func:`fit_mediation`
with that warning.

Example
-------
>>> import allianceStats as als
>>> from allianceStats.mediation import fit_mediation
>>> fit_mediation.__module__, als.mediation.__name__
('allianceStats.mediation.observed', 'allianceStats.mediation')
"""
import sys
import types

from .._deprecation import renamed_function
from .multilevel import MultilevelMediationResult, fit_multilevel_mediation
from .observed import MediationResult, fit_mediation
from .registry import CYCLE, REGISTRY, HypothesesResult, Hypothesis, evaluate_hypotheses, hypotheses
from .waves import WaveMediationResult, fit_wave_mediation

__all__ = ["fit_mediation", "fit_multilevel_mediation", "fit_wave_mediation", "hypotheses", "evaluate_hypotheses",
           "MediationResult", "MultilevelMediationResult", "WaveMediationResult", "HypothesesResult", "Hypothesis",
           "REGISTRY", "CYCLE"]

# old name -> new function; removed in 0.3.0 (CHANGELOG.md)
_RENAMED = {"mediation": fit_mediation, "multilevel_mediation": fit_multilevel_mediation,
            "wave_mediation": fit_wave_mediation, "test_hypotheses": evaluate_hypotheses}


def __getattr__(name: str):
    if name in _RENAMED:
        alias = renamed_function(name, _RENAMED[name])
        alias.__test__ = False  # pytest must not collect the old name 'test_hypotheses' where it is imported
        return alias
    raise AttributeError(f"module 'allianceStats.mediation' has no attribute {name!r}")


class _DeprecatedCallableModule(types.ModuleType):
    """Until 0.3.0 the subpackage stays callable: ``als.mediation(...)`` was the function now called
    :func:`fit_mediation`. The call warns and forwards."""

    def __call__(self, *args, **kwargs):
        from .._deprecation import _warn

        _warn("allianceStats.mediation() is renamed fit_mediation(); allianceStats.mediation is the subpackage")
        return fit_mediation(*args, **kwargs)


sys.modules[__name__].__class__ = _DeprecatedCallableModule
