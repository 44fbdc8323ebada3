"""Step 1 of ``fit_sem``: data → parameter table → sample statistics (lavaan's ``lavData``, ``lavParTable``,
``lavSampleStats``).

:func:`prepare` parses the syntax (``syntax.py``), builds the parameter table with lavaan's defaults
(``partable.py``), checks the data through :mod:`allianceStats.data.checks`, splits it into one numeric array per
group with the rows the estimator can use, and bundles everything an estimation needs in a :class:`Problem`:
the table with the ``fixed.x`` covariate moments filled in, one :class:`~allianceStats.sem.model.GroupModel` and
one :class:`~allianceStats.sem.likelihood.PatternData` (rows grouped by missing-data pattern) per group, and
the objective −ℓ(θ). The bootstrap builds a new :class:`Problem` from resampled rows with :meth:`Problem.resampled`.

Rows: under ``missing="listwise"`` only complete rows are used; under FIML every row with at least one
observed model variable, except rows with a missing exogenous covariate (``fixed.x``: lavaan drops them too).

Example
-------
>>> import numpy as np, pandas as pd
>>> rng = np.random.default_rng(0)
>>> data = pd.DataFrame({"x": rng.normal(size=50), "y": rng.normal(size=50)})
>>> data.loc[:4, "y"] = np.nan
>>> problem = prepare("y ~ x", data, missing="fiml", group=None, defaults="sem")
>>> problem.observed, problem.n_obs_by_group, problem.pt.npar
(('y', 'x'), (50,), 3)
"""
from __future__ import annotations

from collections.abc import Hashable, Sequence

import numpy as np
import pandas as pd

from ..data.checks import first_labels, require_columns, require_numeric
from ..errors import DataWarning, IdentificationError, SchemaError
from ._messages import warn
from .estimate import Objective
from .likelihood import PatternData
from .model import GroupModel
from .partable import ParTable, build_partable
from .syntax import parse_model

MISSING = {"fiml": "fiml", "ml": "fiml", "listwise": "listwise"}
"""Accepted ``missing=`` values and what they mean (``"ml"`` is lavaan's name for FIML)."""


def prepare(model: str, data: pd.DataFrame, *, missing: str, group: str | None, defaults: str) -> Problem:
    """Parse ``model``, build the parameter table for ``data`` and return the estimation :class:`Problem`.

    ``missing`` is ``"fiml"`` or ``"listwise"`` (already resolved through :data:`MISSING`).
    """
    data = require_columns(data, [group], where="fit_sem")
    statements, definitions = parse_model(model)
    n_groups = 1 if group is None else int(pd.unique(data[group].dropna()).size)
    pt = build_partable(statements, definitions, observed=set(data.columns), n_groups=n_groups,
                        defaults=defaults)
    labels, frames = prepare_frames(data, pt.observed, group, missing, pt.exogenous_x)
    return Problem(pt, frames, missing, group_labels=tuple(labels))


def prepare_frames(data: pd.DataFrame, observed: Sequence[str], group: str | None, missing: str,
                   exo: Sequence[str]) -> tuple[list[Hashable], list[np.ndarray]]:
    """Group labels (in order of appearance) and one float array per group of the rows the estimator uses."""
    cols = list(observed)
    data = require_columns(data, [*cols, group], where="fit_sem")
    require_numeric(data, cols, where="fit_sem", finite=True)
    if group is not None:
        gvals = data[group]
        if gvals.isna().any():
            raise SchemaError([f"group column {group!r} is missing at {int(gvals.isna().sum())} row(s) "
                               f"({first_labels(data.index[gvals.isna().to_numpy()])}); drop those rows or "
                               "assign them a group"], source="fit_sem")
        labels: list[Hashable] = list(pd.unique(gvals))
    else:
        labels = [1]
    frames = []
    for lab in labels:
        sub = data if group is None else data[data[group] == lab]
        y = sub[cols].to_numpy(dtype=float, na_value=np.nan)
        keep = np.ones(len(y), dtype=bool)
        if missing == "listwise":
            keep &= ~np.isnan(y).any(axis=1)
        else:
            empty = np.isnan(y).all(axis=1)
            if empty.any():
                warn(f"{int(empty.sum())} row(s) with all model variables missing were dropped"
                     f"{'' if group is None else f' (group {lab!r})'}.", DataWarning)
            keep &= ~empty
            xi = [cols.index(x) for x in exo]
            if xi:
                miss_x = np.isnan(y[:, xi]).any(axis=1) & keep
                if miss_x.any():
                    warn(f"{int(miss_x.sum())} row(s) with a missing exogenous covariate {list(exo)} were "
                         "dropped (fixed.x, as lavaan does); add the covariate to the model as an "
                         "endogenous variable (e.g. 'x ~ 1') to keep them.", DataWarning)
                keep &= ~miss_x
        y = y[keep]
        never = [c for c, k in zip(cols, np.isnan(y).all(axis=0)) if k]
        if never:
            where = "" if group is None else f" in group {lab!r}"
            raise SchemaError([f"variable(s) {never} have no observed value{where}; drop them from the model "
                               "or from that group"], source="fit_sem")
        if len(y) < 2:
            raise IdentificationError(f"group {lab!r} has {len(y)} usable row(s); at least 2 are needed.")
        where = "" if group is None else f" in group {lab!r}"
        spread = np.nanmax(y, axis=0) - np.nanmin(y, axis=0)
        constant = [c for c, r in zip(cols, spread) if r == 0]
        if constant:
            raise SchemaError([f"variable {c!r} has the same value in all {len(y)} usable rows{where}; a constant "
                               "has no variance to model: drop it from the model" for c in constant],
                              source="fit_sem")
        xi = [cols.index(x) for x in exo]
        if xi:
            x = y[:, xi][~np.isnan(y[:, xi]).any(axis=1)]
            if len(x) <= len(xi) or np.linalg.matrix_rank(x - x.mean(axis=0)) < len(xi):
                raise IdentificationError(
                    f"the exogenous covariates {list(exo)} have a singular sample covariance matrix{where} "
                    f"({len(x)} complete rows for {len(xi)} covariates, or a covariate that is a linear "
                    f"combination of the others); fixed.x needs more than {len(xi)} rows and covariates that are "
                    "not collinear. Use more rows or fewer covariates.")
        frames.append(y)
    return labels, frames


def fill_exogenous(table: pd.DataFrame, observed: list[str], exo: list[str], frames: list[np.ndarray]) -> pd.DataFrame:
    """The table with the ``fixed.x`` rows (covariate means, variances, covariances) set to the sample moments."""
    table = table.copy()
    for g, y in enumerate(frames, start=1):
        if not exo:
            break
        idx = [observed.index(x) for x in exo]
        x = y[:, idx]
        mean = x.mean(axis=0)
        cov: np.ndarray = np.cov(x.T, bias=True).reshape(len(idx), len(idx))
        for r in np.flatnonzero(table["exo"].to_numpy() & (table["group"].to_numpy() == g)):
            lhs, op, rhs = str(table.at[r, "lhs"]), table.at[r, "op"], str(table.at[r, "rhs"])
            if op == "~1":
                table.at[r, "value"] = float(mean[exo.index(lhs)])
            else:
                table.at[r, "value"] = float(cov[exo.index(lhs), exo.index(rhs)])
    return table


class Problem:
    """Everything one estimation needs: parameter table, data by group and pattern, model matrices, objective.

    Attributes: ``pt`` (:class:`~allianceStats.sem.partable.ParTable`), ``table`` (its table with the fixed.x
    moments filled in), ``frames`` (one array per group, columns in ``pt.observed`` order), ``models``,
    ``datas``, ``objective``, ``complete`` (no missing value anywhere), ``missing``, ``group_labels``.
    """

    def __init__(self, pt: ParTable, frames: list[np.ndarray], missing: str,
                 group_labels: tuple[Hashable, ...] = (1,)):
        self.pt = pt
        self.table = fill_exogenous(pt.table, list(pt.observed), list(pt.exogenous_x), frames)
        self.frames = frames
        self.models = [GroupModel(self.table[self.table["group"] == g], pt.observed, pt.latent, npar=pt.npar)
                       for g in range(1, len(frames) + 1)]
        self.datas = [PatternData.from_array(y) for y in frames]
        self.objective = Objective(self.models, self.datas)
        self.complete = all(d.complete for d in self.datas)
        self.missing = missing
        self.group_labels = tuple(group_labels)

    @property
    def observed(self) -> tuple[str, ...]:
        return self.pt.observed

    @property
    def n_obs_by_group(self) -> tuple[int, ...]:
        """Rows used in each group."""
        return tuple(d.n for d in self.datas)

    @property
    def n_obs(self) -> int:
        """Rows used in all groups together (lavaan's ``ntotal``)."""
        return sum(d.n for d in self.datas)

    def resampled(self, frames: list[np.ndarray]) -> Problem:
        """The same model on other rows (a bootstrap resample), with its own fixed.x moments."""
        return Problem(self.pt, frames, self.missing, self.group_labels)
