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
from dataclasses import dataclass, field
from typing import cast

import numpy as np
import pandas as pd

from ..data.checks import first_labels, require_columns, require_numeric
from ..errors import DataWarning, FormulaError, IdentificationError, SchemaError
from ._messages import warn
from .estimate import Objective
from .likelihood import PatternData
from .model import GroupModel
from .ordinal import check_covariate_types
from .partable import ParTable, build_partable
from .sample_stats import SampleStatistics
from .syntax import Definition, evaluate_expression, expression_names, parse_model

MISSING = {"fiml": "fiml", "ml": "fiml", "listwise": "listwise"}
"""Accepted ``missing=`` values and what they mean (``"ml"`` is lavaan's name for FIML)."""


def prepare(model: str, data: pd.DataFrame | None, *, missing: str, group: str | None, defaults: str,
            meanstructure: bool = True, std_lv: bool = False, orthogonal: bool = False,
            group_equal: Sequence[str] = (), group_partial: Sequence[str] = (),
            sample: SampleStatistics | None = None) -> Problem:
    """Parse ``model``, build the parameter table for ``data`` (or the summary statistics ``sample``) and return
    the estimation :class:`Problem`.

    ``missing`` is ``"fiml"`` or ``"listwise"`` (already resolved through :data:`MISSING`). Without a mean
    structure the intercepts of the observed variables are free whatever ``defaults`` (saturated means: the
    covariance structure alone is fitted, as lavaan does with ``meanstructure = FALSE``).
    """
    statements, definitions = parse_model(model)
    if sample is not None:
        observed, n_groups = set(sample.names), len(sample.covs)
    else:
        data = require_columns(data, [group], where="fit_sem")
        observed = set(data.columns)
        n_groups = 1 if group is None else int(pd.unique(data[group].dropna()).size)
    pt = build_partable(statements, definitions, observed=observed, n_groups=n_groups, defaults=defaults,
                        std_lv=std_lv, orthogonal=orthogonal, group_equal=group_equal,
                        group_partial=group_partial, int_ov_free=not meanstructure)
    constraints = linear_constraints(pt)
    if sample is not None:
        order = [sample.names.index(v) for v in pt.observed]
        datas = []
        for cov, mean, n in zip(sample.covs, sample.means, sample.nobs):
            m = np.zeros(len(order)) if mean is None else mean[order]
            datas.append(PatternData.from_moments(m, cov[np.ix_(order, order)], n))
        return Problem(pt, None, missing, group_labels=sample.group_labels, datas=datas,
                       meanstructure=meanstructure, constraints=constraints)
    # summary-statistics input took the branch above, so data is a table here
    table = cast(pd.DataFrame, data)
    labels, frames, index = prepare_frames(table, pt.observed, group, missing, pt.exogenous_x, with_index=True)
    problem = Problem(pt, frames, missing, group_labels=tuple(labels), meanstructure=meanstructure,
                      constraints=constraints)
    problem.row_index = index
    return problem


@dataclass(frozen=True)
class Constraints:
    """Linear constraints on the free parameters θ: equalities A θ = b (lavaan's ``ceq``, other than the simple
    ``a == b`` / ``a == 0.5`` imposed in the parameter table) and inequalities G θ ≥ h (``a > 0``, ``a < b``;
    imposed as equalities while active). ``lines`` names each inequality's syntax line."""

    A: np.ndarray
    b: np.ndarray
    G: np.ndarray
    h: np.ndarray
    lines: tuple[str, ...] = field(default=())

    @property
    def rank(self) -> int:
        """Number of independent equality constraints (they reduce npar, as in lavaan's ``fitMeasures``)."""
        return int(np.linalg.matrix_rank(self.A)) if len(self.A) else 0

    def reduction(self, active: Sequence[int] = ()) -> tuple[np.ndarray, np.ndarray] | None:
        """(K, t) with θ = t + K u for all θ satisfying the equalities and the ``active`` inequalities as equalities
        (K an orthonormal basis of the null space), or None when nothing constrains θ."""
        A = np.vstack([self.A, self.G[list(active)]]) if len(active) else self.A
        b = np.r_[self.b, self.h[list(active)]] if len(active) else self.b
        if not len(A):
            return None
        _, sv, vt = np.linalg.svd(A)
        rank = int(np.sum(sv > 1e-10 * max(sv.max(), 1.0)))
        K = vt[rank:].T
        t = np.linalg.lstsq(A, b, rcond=None)[0]
        return K, t


def linear_constraints(pt: ParTable) -> Constraints | None:
    """The constraints of the syntax (``pt.constraints``) as matrices over θ; a non-linear one is a FormulaError."""
    if not pt.constraints:
        return None
    q = pt.npar
    table = pt.table
    index: dict = {}
    for lab, free in zip(table["label"], table["free"]):
        if lab and free > 0:
            index.setdefault(lab, int(free) - 1)

    def f(d: Definition, theta: np.ndarray) -> float:
        values = {lab: float(theta[k]) for lab, k in index.items()}
        return evaluate_expression(d.lhs, values) - evaluate_expression(d.expression, values)

    rows: dict[str, list] = {"==": [], ">": []}
    rng = np.random.default_rng(0)
    for d in pt.constraints:
        for name in expression_names(d.lhs) + expression_names(d.expression):
            if name not in index:
                raise FormulaError(f"constraint {d.line!r}: {name!r} is not the label of a free parameter.")
        zero = f(d, np.zeros(q))
        a = np.array([f(d, np.eye(q)[k]) - zero for k in range(q)])
        probe = rng.normal(size=q)
        if abs(f(d, probe) - (a @ probe + zero)) > 1e-8 * max(1.0, float(np.abs(probe).sum())):
            raise FormulaError(f"constraint {d.line!r} is not linear in the labelled parameters; only linear "
                               "constraints (e.g. 'a == 2*b', 'a + b == 1', 'a > 0') are supported.")
        if d.kind == "<":
            a, zero = -a, -zero
        rows["==" if d.kind == "==" else ">"].append((a, -zero, d.line))
    A = np.array([r[0] for r in rows["=="]]).reshape(-1, q)
    b = np.array([r[1] for r in rows["=="]])
    G = np.array([r[0] for r in rows[">"]]).reshape(-1, q)
    h = np.array([r[1] for r in rows[">"]])
    return Constraints(A, b, G, h, tuple(r[2] for r in rows[">"]))


def _check_sample_covariance(y: np.ndarray, cols: Sequence[str], where: str) -> None:
    """Complete data: the sample covariance matrix must be positive definite for ML (lavaan stops with "sample
    covariance matrix is not positive-definite"); say which variables are (nearly) linearly dependent."""
    if len(cols) < 2:
        return
    corr = np.corrcoef(y, rowvar=False) if len(y) > 1 else np.eye(len(cols))
    values, vectors = np.linalg.eigh(corr)
    if values[0] > 1e-10 * max(values[-1], 1.0) and len(y) > len(cols):
        return
    if len(y) <= len(cols):
        detail = f"{len(y)} usable rows for {len(cols)} variables"
        involved = list(cols)
    else:
        w = np.abs(vectors[:, 0])
        involved = [c for c, v in zip(cols, w) if v > 0.1 * w.max()]
        detail = f"{first_labels(involved)} are (nearly) linearly dependent (e.g. one is the sum of the others)"
    raise IdentificationError(f"the sample covariance matrix of the model variables is not positive definite"
                              f"{where}: {detail}. lavaan stops here too (\"sample covariance matrix is not "
                              "positive-definite\"). Drop one of the variables involved (or a total score next "
                              "to its items), or use more rows.")


def prepare_frames(data: pd.DataFrame, observed: Sequence[str], group: str | None, missing: str,
                   exo: Sequence[str], *, with_index: bool = False):
    """Group labels (in order of appearance) and one float array per group of the rows the estimator uses (and, with
    ``with_index``, the index labels of those rows in ``data``)."""
    cols = list(observed)
    data = require_columns(data, [*cols, group], where="fit_sem")
    if exo:
        check_covariate_types(data, exo, "fit_sem")
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
    indexes = []
    dropped = 0
    for lab in labels:
        sub = data if group is None else data[data[group] == lab]
        y = sub[cols].to_numpy(dtype=float, na_value=np.nan)
        never = [c for c, k in zip(cols, np.isnan(y).all(axis=0)) if k]
        if never:
            where = "" if group is None else f" in group {lab!r}"
            raise SchemaError([f"variable(s) {never} have no observed value{where}; drop them from the model "
                               "or from that group"], source="fit_sem")
        keep = np.ones(len(y), dtype=bool)
        if missing == "listwise":
            keep &= ~np.isnan(y).any(axis=1)
            dropped += int((~keep).sum())
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
        indexes.append(sub.index[keep])
        if len(y) < 2:
            hint = " (complete rows: missing='fiml' uses incomplete ones)" if missing == "listwise" else ""
            raise IdentificationError(f"group {lab!r} has {len(y)} usable row(s){hint}; at least 2 are needed.")
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
        if missing == "listwise":
            _check_sample_covariance(y, cols, where)
        frames.append(y)
    if dropped:
        total = sum(len(y) for y in frames) + dropped
        warn(f"{dropped} of {total} rows have a missing value in a model variable and were dropped (missing="
             "'listwise', lavaan's default); missing='fiml' (full-information ML, lavaan's missing = \"ml\") uses "
             "them.", DataWarning)
    if with_index:
        return labels, frames, indexes
    return labels, frames


def fill_exogenous(table: pd.DataFrame, observed: list[str], exo: list[str], datas: list[PatternData]) -> pd.DataFrame:
    """The table with the ``fixed.x`` rows (covariate means, variances, covariances) set to the sample moments."""
    table = table.copy()
    if not exo:
        return table
    idx = [observed.index(x) for x in exo]
    for g, dat in enumerate(datas, start=1):
        mean, cov = dat.block_moments(idx)
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
    moments filled in), ``frames`` (one array per group, columns in ``pt.observed`` order; None for summary
    statistics), ``models``, ``datas``, ``objective``, ``complete`` (no missing value anywhere), ``missing``,
    ``group_labels``, ``meanstructure`` (whether the means are part of the model, lavaan's ``meanstructure``; without
    one the intercepts are free and left out of npar and of the results), ``constraints`` (linear
    :class:`Constraints` or None) and ``active`` (the inequalities imposed as equalities).
    """

    def __init__(self, pt: ParTable, frames: list[np.ndarray] | None, missing: str,
                 group_labels: tuple[Hashable, ...] = (1,), *, datas: list[PatternData] | None = None,
                 meanstructure: bool = True, constraints: Constraints | None = None,
                 active: tuple[int, ...] = ()):
        self.pt = pt
        self.frames = frames
        self.datas = datas if datas is not None else [PatternData.from_array(y) for y in frames or []]
        self.table = fill_exogenous(pt.table, list(pt.observed), list(pt.exogenous_x), self.datas)
        self.models = [GroupModel(self.table[self.table["group"] == g], pt.observed, pt.latent, npar=pt.npar)
                       for g in range(1, len(self.datas) + 1)]
        self.objective = Objective(self.models, self.datas)
        self.complete = all(d.complete for d in self.datas)
        self.missing = missing
        self.group_labels = tuple(group_labels)
        self.meanstructure = meanstructure
        self.constraints = constraints
        self.active = tuple(active)
        self.reduction = constraints.reduction(self.active) if constraints is not None else None
        self.row_index: list[pd.Index] | None = None   # index labels of the rows used, per group (set by prepare)
        self._fitted_baseline: tuple | None = None      # the independence model's fit (fit_measures.fitted_baseline)

    @property
    def observed(self) -> tuple[str, ...]:
        return self.pt.observed

    @property
    def has_rows(self) -> bool:
        """Whether the rows are known (False for summary statistics: no casewise scores, no bootstrap)."""
        return self.frames is not None

    @property
    def n_obs_by_group(self) -> tuple[int, ...]:
        """Rows used in each group."""
        return tuple(d.n for d in self.datas)

    @property
    def n_obs(self) -> int:
        """Rows used in all groups together (lavaan's ``ntotal``)."""
        return sum(d.n for d in self.datas)

    @property
    def mean_parameters(self) -> np.ndarray:
        """Free indices (1-based) that only intercepts and means use: the mean structure's parameters."""
        tab = self.table
        means = set(tab.loc[(tab["op"] == "~1") & (tab["free"] > 0), "free"])
        others = set(tab.loc[(tab["op"] != "~1") & (tab["free"] > 0), "free"])
        return np.array(sorted(means - others), dtype=int)

    @property
    def npar(self) -> int:
        """Free parameters as lavaan counts them: less the equality constraints, less the intercepts when there is
        no mean structure (the θ vector itself has ``pt.npar`` entries)."""
        n = self.pt.npar - (self.constraints.rank if self.constraints is not None else 0)
        return n if self.meanstructure else n - len(self.mean_parameters)

    def with_active(self, active: Sequence[int]) -> Problem:
        """The same problem with other inequalities active (imposed as equalities)."""
        other = Problem(self.pt, self.frames, self.missing, self.group_labels, datas=self.datas,
                        meanstructure=self.meanstructure, constraints=self.constraints, active=tuple(sorted(active)))
        other.row_index = self.row_index
        return other

    def resampled(self, frames: list[np.ndarray]) -> Problem:
        """The same model on other rows (a bootstrap resample), with its own fixed.x moments."""
        return Problem(self.pt, frames, self.missing, self.group_labels, meanstructure=self.meanstructure,
                       constraints=self.constraints, active=self.active)
