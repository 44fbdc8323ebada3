"""Comparison of nested fits of any model family: one table schema, one result type.

:func:`compare` dispatches on the result type: :class:`~allianceStats.mixed.MixedResult` fits go to
:func:`allianceStats.mixed.compare_mlm` (lme4's ``anova()``: REML fits are refitted by ML), SEM fits to
:func:`allianceStats.sem.compare_sem` (lavaan's ``lavTestLRT()``; Satorra & Bentler 2001 scaled difference
under MLR), panel fits to :func:`allianceStats.panel.compare_panel` (adds the chi-bar-square p-value when only
random-intercept variances differ; Stoel et al. 2006).

Every comparison returns a :class:`ComparisonResult` whose ``table`` has the columns
``model, npar, loglik, aic, bic, chisq, df, chisq_diff, df_diff, p_value`` — ``chisq``/``df`` are each model's own
goodness-of-fit χ² (SEM; NaN for mixed models), ``chisq_diff``/``df_diff``/``p_value`` the test of each row
against the row above it (NaN on the first row) — followed by family-specific columns (``deviance`` for mixed
models; ``cfi, rmsea`` for SEM). An example is in :func:`compare`.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd

from ._deprecation import FormerTable
from .errors import OptionError
from .results import CLOSED_FORM, Convergence, Provenance, ResultDisplay

COMPARISON_COLUMNS = ("model", "npar", "loglik", "aic", "bic", "chisq", "df", "chisq_diff", "df_diff", "p_value")
"""The fixed leading columns of every comparison table (family-specific columns follow)."""


@dataclass(frozen=True, repr=False)
class ComparisonResult(ResultDisplay, FormerTable):
    """Nested-model comparison: ``table`` (schema :data:`COMPARISON_COLUMNS` + family columns), the test
    ``method`` (``"likelihood ratio (ML)"``, ``"Satorra-Bentler scaled difference"``, ...), ``notes`` on what
    was done (refits), and the result protocol (``n_obs`` is the number of rows every model was fitted to;
    ``converged`` is False when a compared fit did not converge).

    The comparison functions returned a DataFrame before 0.2.0; DataFrame access on the result
    (``res["p_value"]``, ``res.to_string()``, ``res.attrs["notes"]``) still works, with a FutureWarning, until
    0.3.0.
    """

    table: pd.DataFrame
    method: str
    n_obs: int
    provenance: Provenance | None = None
    notes: tuple[str, ...] = ()
    conf_level: float = 0.95
    convergence: Convergence = field(default=CLOSED_FORM)

    _former = "compare() (and compare_mlm, compare_sem, compare_panel)"

    def _former_attrs(self) -> dict:
        return {"method": self.method, "notes": self.notes}

    def summary(self) -> str:
        lines = [f"Model comparison: {self.method} (n = {self.n_obs})", self.table.to_string(index=False)]
        lines += [f"Note: {n}" for n in self.notes]
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.summary()

    def __repr__(self) -> str:
        return f"<ComparisonResult: {len(self.table)} models, {self.method}, n = {self.n_obs}>"


def comparison_table(rows: list[dict], extra: tuple[str, ...] = ()) -> pd.DataFrame:
    """A DataFrame with the :data:`COMPARISON_COLUMNS` first (missing ones NaN), then ``extra`` columns.

    >>> list(comparison_table([{"model": "m1", "aic": 1.0}]).columns)[:3]
    ['model', 'npar', 'loglik']
    """
    return pd.DataFrame(rows).reindex(columns=[*COMPARISON_COLUMNS, *extra])


def compare(*fits, **options) -> ComparisonResult:
    """Compare nested fits of one model family; one row per fit, each tested against the row above it.

    Mixed models: likelihood-ratio test as lme4's ``anova()`` (:func:`allianceStats.mixed.compare_mlm`);
    SEM / panel models: χ² difference test as lavaan's ``lavTestLRT()`` (:func:`allianceStats.sem.compare_sem`,
    :func:`allianceStats.panel.compare_panel`), scaled (Satorra & Bentler 2001) under MLR. The family is read
    from the result types; ``options`` go to the family's function. Definitions and an example are in this
    module's docstring.

    Parameters
    ----------
    *fits : MixedResult, SEMResult or PanelResult
        Two or more fits of one family, fitted to the same data.
    **options : keyword arguments
        Passed on (e.g. ``names=``, and ``refit=`` for mixed models).

    Returns
    -------
    ComparisonResult

    Raises
    ------
    OptionError
        Fewer than two fits, or fits of different families.

    Examples
    --------
    >>> import allianceStats as als
    >>> d = als.decompose(als.load_example(), "alliance")
    >>> a = als.fit_mlm(d, "outcome ~ 1 + (1 | client)")
    >>> b = als.fit_mlm(d, "outcome ~ session0 + (1 | client)")
    >>> result = compare(a, b, names=["empty", "time"])
    >>> list(result.table.columns)[:10] == list(COMPARISON_COLUMNS), list(result.table.model)
    (True, ['empty', 'time'])
    >>> result.method
    'likelihood ratio (ML)'
    """
    if len(fits) < 2:
        raise OptionError(f"compare() needs at least two fitted models; got {len(fits)}.")
    from .mixed.result import MixedResult

    if all(isinstance(f, MixedResult) for f in fits):
        from .mixed.comparison import compare_mlm

        return compare_mlm(*fits, **options)
    # SEM and panel families are imported only when a fit is not a mixed model (they load the SEM engine)
    from .panel.fit import PanelResult
    from .sem.result import SEMResult

    if all(isinstance(f, PanelResult) for f in fits):
        from .panel.fit import compare_panel

        return compare_panel(*fits, **options)
    if all(isinstance(f, (SEMResult, PanelResult)) for f in fits):
        from .sem.comparison import compare_sem

        return compare_sem(*[f.sem if isinstance(f, PanelResult) else f for f in fits], **options)
    names = ", ".join(sorted(type(f).__name__ for f in fits))
    raise OptionError(
        f"compare() takes fits of one family (all mixed models, or all SEM / panel models); got {names}. "
        "Compare models of the same family, fitted to the same data."
    )

