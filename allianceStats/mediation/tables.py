"""The table layouts every mediation result shares: ``paths`` and ``effects`` (docs/design.md, "Result objects").

- ``paths``: one row per regression slope, columns :data:`PATH_COLUMNS` =
  ``lhs, op, rhs, label, estimate, std_error, statistic, p_value, ci_lower, ci_upper``; ``op`` is ``"~"``, ``lhs``
  the outcome, ``rhs`` the predictor, ``label`` the path's role (``a1``, ``b1``, ``d21``, ``c_prime``; in
  multilevel results with ``_within`` / ``_between``; in the hypothesis table the hypothesis id).
- ``effects``: one row per effect, columns :data:`EFFECT_COLUMNS` =
  ``effect, estimate, std_error, statistic, p_value, ci_lower, ci_upper``.

How ``std_error``, ``statistic``, ``p_value`` and the interval are obtained is each result's ``ci`` (and, for
:func:`~allianceStats.fit_mediation`, its ``inference``): Wald with model or delta-method standard errors, or
from draws with the p-value that inverts the interval (:func:`allianceStats.mediation.intervals.draw_inference`).

Example
-------
>>> import numpy as np
>>> t = paths_frame(["m"], ["x"], ["a1"], np.array([0.5]), np.array([0.1]), 0.95)
>>> list(t.columns) == PATH_COLUMNS, round(float(t.loc[0, "ci_lower"]), 4)
(True, 0.304)
"""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from scipy import stats

from .._deprecation import _warn
from .._deprecation import renamed_attribute as _renamed_attribute

PATH_COLUMNS = ["lhs", "op", "rhs", "label", "estimate", "std_error", "statistic", "p_value", "ci_lower", "ci_upper"]
EFFECT_COLUMNS = ["effect", "estimate", "std_error", "statistic", "p_value", "ci_lower", "ci_upper"]


def _z_and_p(estimate: np.ndarray, std_error: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    with np.errstate(divide="ignore", invalid="ignore"):
        z = np.where(std_error > 0, estimate / std_error, np.nan)
    return z, 2 * stats.norm.sf(np.abs(z))


def paths_frame(lhs: Sequence[str], rhs: Sequence[str], labels: Sequence[str], estimate: np.ndarray,
                std_error: np.ndarray, conf_level: float, *, columns: dict | None = None) -> pd.DataFrame:
    """The ``paths`` table: Wald z statistics, p-values and intervals at ``conf_level`` from estimates and SEs,
    or the ``std_error, statistic, p_value, ci_lower, ci_upper`` given in ``columns``
    (:func:`~allianceStats.mediation.intervals.draw_inference`)."""
    estimate, std_error = np.asarray(estimate, dtype=float), np.asarray(std_error, dtype=float)
    if columns is not None:
        return pd.DataFrame({"lhs": list(lhs), "op": "~", "rhs": list(rhs), "label": list(labels),
                             "estimate": estimate, **columns}, columns=PATH_COLUMNS)
    z, p = _z_and_p(estimate, std_error)
    crit = stats.norm.ppf(0.5 + conf_level / 2.0)
    return pd.DataFrame({"lhs": list(lhs), "op": "~", "rhs": list(rhs), "label": list(labels),
                         "estimate": estimate, "std_error": std_error, "statistic": z, "p_value": p,
                         "ci_lower": estimate - crit * std_error, "ci_upper": estimate + crit * std_error},
                        columns=PATH_COLUMNS)


def effects_frame(names: Sequence[str], estimate: np.ndarray, std_error: np.ndarray, lower: np.ndarray,
                  upper: np.ndarray, *, columns: dict | None = None) -> pd.DataFrame:
    """The ``effects`` table: delta-method z tests, and the interval computed by the result's ``ci`` method; or
    the ``std_error, statistic, p_value, ci_lower, ci_upper`` given in ``columns``
    (:func:`~allianceStats.mediation.intervals.draw_inference`).

    >>> effects_frame(["x -> m -> y"], np.array([0.2]), np.array([0.1]), np.array([0.05]),
    ...               np.array([0.4])).columns.tolist() == EFFECT_COLUMNS
    True
    """
    estimate, std_error = np.asarray(estimate, dtype=float), np.asarray(std_error, dtype=float)
    if columns is not None:
        return pd.DataFrame({"effect": list(names), "estimate": estimate, **columns}, columns=EFFECT_COLUMNS)
    z, p = _z_and_p(estimate, std_error)
    return pd.DataFrame({"effect": list(names), "estimate": estimate, "std_error": std_error, "statistic": z,
                         "p_value": p, "ci_lower": np.asarray(lower, dtype=float),
                         "ci_upper": np.asarray(upper, dtype=float)}, columns=EFFECT_COLUMNS)


def format_p_value(p: float, resolution: float = 0.0) -> str:
    """A p-value as text: ``< .001`` (never ``0.0000``), else three decimals (:func:`allianceStats.formatting.
    format_p`); a p-value from draws below their resolution (``resolution`` = 2 / n_draws) as ``< resolution``.

    >>> format_p_value(0.0), format_p_value(0.0312), format_p_value(0.0, resolution=2 / 500)
    ('< .001', '.031', '< .004')
    """
    from ..formatting import format_p

    if resolution > 0.001 and np.isfinite(p) and p < resolution:
        return "< " + f"{resolution:.3f}".lstrip("0")
    return format_p(p)


def renamed_attribute(old: str, new: str, *, translate=None) -> property:
    """:func:`allianceStats._deprecation.renamed_attribute` (a read-only ``old`` that warns and returns ``new``),
    optionally with ``translate`` mapping the new value to what the old attribute held (``ci="percentile"`` to
    the old ``method="bootstrap"``). Removed in 0.3.0 with the other old names.

    >>> import warnings
    >>> class R:
    ...     ci = "percentile"
    ...     method = renamed_attribute("method", "ci", translate=lambda v: "bootstrap")
    >>> with warnings.catch_warnings(record=True) as caught:
    ...     warnings.simplefilter("always")
    ...     R().method, caught[0].category.__name__, R.method.__deprecated_alias_of__
    ('bootstrap', 'FutureWarning', 'ci')
    """
    alias = _renamed_attribute(old, new)
    if translate is None:
        return alias

    def getter(self):
        _warn(f"{type(self).__name__}.{old} is renamed {type(self).__name__}.{new}", stacklevel=3)
        return translate(getattr(self, new))

    getter.__name__ = old
    translated = type(alias)(getter, doc=alias.__doc__)
    translated.__deprecated_alias_of__ = new  # type: ignore[attr-defined]
    return translated


def check_roles(where: str, roles: Sequence[tuple[str, object]]) -> None:
    """Each role (``x``, ``y``, a mediator …) names one column, as text, and no column plays two roles.

    Raises :class:`~allianceStats.errors.OptionError` listing every offending role.

    >>> check_roles("fit_mediation", [("x", "support"), ("y", "support")])
    Traceback (most recent call last):
    ...
    allianceStats.errors.OptionError: fit_mediation(): column 'support' is given as x and y; each column ...
    """
    from ..errors import OptionError

    problems = [f"{role}={name!r} must be a column name (text)" for role, name in roles if not isinstance(name, str)]
    seen: dict[str, list[str]] = {}
    for role, name in roles:
        if isinstance(name, str):
            seen.setdefault(name, []).append(role)
    problems += [f"column {name!r} is given as {' and '.join(rs)}; each column plays one role — pass a different "
                 "column for each" for name, rs in seen.items() if len(rs) > 1]
    if problems:
        raise OptionError(f"{where}(): " + "; ".join(problems))
