"""Comparison of nested fits of any model family (likelihood-ratio / chi-square difference tests).

Dispatches on the result type: mixed-model fits go to :func:`allianceStats.mixed.compare_mlm`
(REML fits refitted by ML when their fixed effects differ), SEM fits to
:func:`allianceStats.sem.compare_sem` (scaled difference test under MLR), panel fits (CLPM / RI-CLPM / DPM)
to :func:`allianceStats.panel.compare_panel` (with the chi-bar-square p-value for random-intercept variances
on the boundary).

Example
-------
>>> import allianceStats as als
>>> d = als.decompose(als.load_example(), "alliance")
>>> a = als.fit_mlm("outcome ~ 1 + (1 | client)", d)
>>> b = als.fit_mlm("outcome ~ session0 + (1 | client)", d)
>>> from allianceStats.compare import compare
>>> table = compare(a, b)
>>> list(table.columns)[:3]
['model', 'npar', 'aic']
"""
from __future__ import annotations

from .errors import AllianceStatsError


def compare(*fits, **options):
    """Compare nested fits of one family; returns a table with one row per fit and the difference tests.

    Mixed models: likelihood-ratio test as lme4's ``anova()`` (:func:`allianceStats.mixed.compare_mlm`);
    SEM / panel models: chi-square difference test as lavaan's ``lavTestLRT()``
    (:func:`allianceStats.sem.compare_sem`), scaled (Satorra & Bentler 2001) under MLR.
    Options are passed to the family's function. An example is in this module's docstring.
    """
    if len(fits) < 2:
        raise AllianceStatsError(f"compare() needs at least two fitted models; got {len(fits)}.")
    kinds = {type(f).__module__.split(".")[1] if type(f).__module__.startswith("allianceStats.") else "other"
             for f in fits}
    if kinds == {"mixed"}:
        from .mixed import compare_mlm
        return compare_mlm(*fits, **options)
    if kinds == {"panel"}:
        from .panel import compare_panel  # adds the chi-bar-square p when only random intercepts differ
        return compare_panel(*fits, **options)
    if kinds <= {"sem", "panel"}:
        from .sem import compare_sem
        return compare_sem(*[getattr(f, "sem", f) for f in fits], **options)
    names = ", ".join(sorted(type(f).__name__ for f in fits))
    raise AllianceStatsError(
        f"compare() takes fits of one family (all mixed models, or all SEM / panel models); got {names}. "
        "Compare models of the same family, fitted to the same data."
    )
