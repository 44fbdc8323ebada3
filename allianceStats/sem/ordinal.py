"""Step 1 of ``fit_sem`` for ordered items: data → parameter table → thresholds, polychoric correlations, Γ and
the weight matrix (lavaan's ``lavData`` / ``lavSampleStats`` for categorical data).

:func:`prepare_ordinal` checks the ordered columns, turns each item's observed values into category codes,
drops incomplete rows (listwise, lavaan's default for categorical data), computes per group the sample
statistics of :mod:`~allianceStats.sem.polychoric` and the weight matrix of the estimator, and returns an
:class:`OrdinalProblem`.

Categories: an item's categories are the distinct values observed in the whole table, in increasing order (as
lavaan's ``ordered()``); the values must be whole numbers (``1, 2, 3`` or ``0, 1``) or a pandas ordered
``Categorical``. Every category must be observed in every group: a category empty in one group is an error,
as it is in lavaan ("some categories of variable `u1' are empty in group 2"), because a threshold between two
categories is then not identified in that group; collapse the rare category with its neighbour, or drop the
group.

Weight matrices (lavaan's ``WLS.V``): DWLS the inverse of the diagonal of Γ; WLS the inverse of Γ; ULS the
identity.

Example
-------
>>> import numpy as np, pandas as pd
>>> rng = np.random.default_rng(4)
>>> f = rng.normal(size=400)
>>> data = pd.DataFrame({f"u{j}": np.digitize(0.7 * f + 0.7 * rng.normal(size=400), [-0.8, 0.2, 1.0]) + 1
...                      for j in range(1, 5)})
>>> problem = prepare_ordinal("F =~ u1 + u2 + u3 + u4", data, ordered=["u1", "u2", "u3", "u4"], group=None,
...                           defaults="sem", parameterization="delta", estimator="DWLS")
>>> problem.n_obs, problem.pt.npar, len(problem.stats[0].wls_obs)   # 3 loadings, 12 thresholds, 1 variance
(400, 16, 18)
"""
from __future__ import annotations

from collections.abc import Hashable, Sequence
from dataclasses import dataclass, replace

import numpy as np
import pandas as pd

from ..data.checks import first_labels, require_columns
from ..errors import DataWarning, FormulaError, IdentificationError, SchemaError
from ._messages import warn
from .model import GroupModel
from .partable import RAM_OPS, ParTable, build_partable
from .polychoric import OrdinalStatistics, ordinal_statistics
from .syntax import parse_model


@dataclass(frozen=True)
class GroupLayout:
    """Where the model's thresholds and scale factors of one group sit in θ (0 = fixed, then ``*_value``)."""

    th_item: np.ndarray       # item index of each threshold, in the order of the sample statistics
    th_free: np.ndarray
    th_value: np.ndarray
    scale_free: np.ndarray    # per item (delta parameterization; all 0 and value 1 under theta)
    scale_value: np.ndarray
    residual_rows: np.ndarray  # rows of the table holding the items' residual variances (delta: computed)
    scale_rows: np.ndarray     # rows of the table holding the items' scale factors (theta: computed)


@dataclass(frozen=True)
class OrdinalProblem:
    """Everything one WLS estimation needs (see the module docstring).

    ``table`` is the parameter table (with ``|`` and ``~*~`` rows); ``models`` one
    :class:`~allianceStats.sem.model.GroupModel` per group built from its mean and covariance rows; ``stats`` the
    sample statistics per group; ``weights`` the diagonal of the weight matrix (DWLS, ULS) or the full matrix
    (WLS) per group; ``categories`` the observed values of each item.
    """

    pt: ParTable
    table: pd.DataFrame
    models: tuple[GroupModel, ...]
    stats: tuple[OrdinalStatistics, ...]
    layouts: tuple[GroupLayout, ...]
    weights: tuple[np.ndarray, ...]
    estimator: str
    categories: dict[str, tuple]
    group_labels: tuple[Hashable, ...]
    missing: str = "listwise"

    @property
    def observed(self) -> tuple[str, ...]:
        return self.pt.observed

    @property
    def n_obs_by_group(self) -> tuple[int, ...]:
        return tuple(s.n for s in self.stats)

    @property
    def n_obs(self) -> int:
        return sum(s.n for s in self.stats)

    @property
    def parameterization(self) -> str:
        return self.pt.parameterization

    def with_table(self, table: pd.DataFrame) -> OrdinalProblem:
        """The same problem with another table (e.g. with the computed residual variances filled in)."""
        return replace(self, table=table, models=group_models(table, self.pt))


def group_models(table: pd.DataFrame, pt: ParTable) -> tuple[GroupModel, ...]:
    """One :class:`GroupModel` per group from the mean and covariance rows (``=~ ~ ~~ ~1``) of ``table``."""
    ram = table[table["op"].isin(RAM_OPS)]
    return tuple(GroupModel(ram[ram["group"] == g], pt.observed, pt.latent, npar=pt.npar)
                 for g in range(1, pt.n_groups + 1))


def _codes(column: pd.Series, name: str) -> tuple[np.ndarray | None, tuple, str | None]:
    """(float codes with NaN, category values, problem text or None) of one ordered column."""
    if isinstance(column.dtype, pd.CategoricalDtype):
        if not column.cat.ordered:
            return None, (), (f"column {name!r} is an unordered Categorical; make it ordered "
                              "(pd.Categorical(values, categories=[...], ordered=True)) or give integer codes")
        codes = column.cat.codes.to_numpy().astype(float)
        codes[codes < 0] = np.nan
        used = np.unique(codes[~np.isnan(codes)])
        cats = tuple(column.cat.categories[used.astype(int)])
        out = np.full(len(codes), np.nan)
        ok = ~np.isnan(codes)
        out[ok] = np.searchsorted(used, codes[ok])
        return out, cats, None
    if not pd.api.types.is_numeric_dtype(column) or pd.api.types.is_bool_dtype(column):
        return None, (), (f"column {name!r} has dtype {column.dtype}; an ordered item needs whole-number codes "
                          "(1, 2, 3, …) or an ordered pandas Categorical")
    values = column.to_numpy(dtype=float, na_value=np.nan)
    obs = values[~np.isnan(values)]
    bad = np.isinf(obs) | (obs != np.round(obs))
    if bad.any():
        rows = column.index[~np.isnan(values)][bad]
        values_shown = first_labels(float(v) for v in np.unique(obs[bad]))
        return None, (), (f"column {name!r} has non-integer value(s) {values_shown} at row(s) {first_labels(rows)}; "
                          "an ordered item needs whole-number category codes (round or recode them, or leave the "
                          "item out of ordered=)")
    levels = np.unique(obs)
    out = np.full(len(values), np.nan)
    ok = ~np.isnan(values)
    out[ok] = np.searchsorted(levels, values[ok])
    return out, tuple(int(v) for v in levels), None


def prepare_ordinal(model: str, data: pd.DataFrame, *, ordered: Sequence[str], group: str | None, defaults: str,
                    parameterization: str, estimator: str, cache: dict | None = None,
                    where: str = "fit_sem") -> OrdinalProblem:
    """Parse ``model``, check and code the ordered items, compute the sample statistics per group.

    ``estimator`` is the core estimator (``"DWLS"``, ``"WLS"`` or ``"ULS"``) that decides the weight matrix.
    ``cache`` (a dict the caller keeps for one table, e.g. across the steps of an invariance sequence) stores the
    sample statistics by item set, group and estimator, so that models of the same items reuse them. ``where``
    names the public function in error messages.
    """
    data = require_columns(data, [group, *ordered], where=where)
    statements, definitions = parse_model(model)
    names = {s.lhs for s in statements} | {s.rhs for s in statements if s.op != "|"}
    ordered = [v for v in dict.fromkeys(ordered) if v in names]
    if not ordered:
        raise FormulaError("none of the ordered= items appears in the model; list the ordered indicators of the "
                           "model in ordered=[...].")
    problems = []
    coded: dict[str, np.ndarray] = {}
    categories: dict[str, tuple] = {}
    for v in ordered:
        codes, cats, problem = _codes(data[v], v)
        if problem:
            problems.append(problem)
            continue
        if codes is not None:
            coded[v] = codes
            categories[v] = cats
    if problems:
        raise SchemaError(problems, source=where)
    if group is not None and data[group].isna().any():
        rows = data.index[data[group].isna().to_numpy()]
        raise SchemaError([f"group column {group!r} is missing at {len(rows)} row(s) ({first_labels(rows)}); drop "
                           "those rows or assign them a group"], source=where)
    n_th = {v: len(c) - 1 for v, c in categories.items()}
    n_groups = 1 if group is None else int(pd.unique(data[group]).size)
    pt = build_partable(statements, definitions, observed=set(data.columns), n_groups=n_groups, defaults=defaults,
                        ordered=n_th, parameterization=parameterization)
    continuous = [v for v in pt.observed if v not in n_th]
    if continuous:
        raise FormulaError(f"model variable(s) {continuous} are not in ordered=; with ordered items every observed "
                           "variable of the model must be ordered (continuous variables next to ordered ones — "
                           "polyserial correlations — are not supported yet).")
    single = [f"{v!r} (only the value {categories[v][0]!r})" for v in pt.observed if n_th[v] == 0]
    if single:
        raise SchemaError([f"ordered item {s} has a single observed category; it carries no information — drop it "
                           "from the model" for s in single], source=where)
    Y = np.column_stack([coded[v] for v in pt.observed])
    incomplete = np.isnan(Y).any(axis=1)
    if incomplete.any():
        warn(f"{int(incomplete.sum())} row(s) with a missing value in the ordered items were dropped (listwise "
             "deletion, lavaan's default for categorical data).", DataWarning)
    labels: list[Hashable] = [1] if group is None else list(pd.unique(data[group]))
    gcol = None if group is None else data[group].to_numpy()
    stats, layouts, weights = [], [], []
    empty = []
    for g, lab in enumerate(labels, start=1):
        rows = ~incomplete if gcol is None else (~incomplete & (gcol == lab))
        codes = Y[rows].astype(int)
        if len(codes) < 2:
            raise IdentificationError(f"group {lab!r} has {len(codes)} complete row(s); at least 2 are needed.")
        for j, v in enumerate(pt.observed):
            counts = np.bincount(codes[:, j], minlength=n_th[v] + 1)
            if (counts == 0).any():
                missing_cats = [categories[v][k] for k in np.flatnonzero(counts == 0)]
                in_group = "" if group is None else f" in group {lab!r}"
                empty.append(f"ordered item {v!r} has no row in category {first_labels(missing_cats)}{in_group} "
                             f"(counts per category {dict(zip(categories[v], counts.tolist()))}); lavaan stops "
                             "here too ('some categories of variable ... are empty in group ...'). Collapse that "
                             "category with a neighbouring one for all groups, or drop the group")
        if empty:
            continue
        key = (tuple(pt.observed), group, lab)
        if cache is not None and key in cache:
            st = cache[key]
        else:
            st = ordinal_statistics(codes, [n_th[v] + 1 for v in pt.observed])
            if cache is not None:
                cache[key] = st
        stats.append(st)
        layouts.append(_layout(pt, g))
        wkey = (*key, estimator)
        if cache is not None and wkey in cache:
            weights.append(cache[wkey])
        else:
            weights.append(_weights(st, estimator))
            if cache is not None:
                cache[wkey] = weights[-1]
    if empty:
        raise SchemaError(empty, source=where)
    return OrdinalProblem(pt=pt, table=pt.table, models=group_models(pt.table, pt), stats=tuple(stats),
                          layouts=tuple(layouts), weights=tuple(weights), estimator=estimator,
                          categories=categories, group_labels=tuple(labels))


def _layout(pt: ParTable, g: int) -> GroupLayout:
    tab = pt.table
    item = {v: j for j, v in enumerate(pt.observed)}
    lhs, op, rhs = tab["lhs"].to_numpy(), tab["op"].to_numpy(), tab["rhs"].to_numpy()
    in_g = tab["group"].to_numpy() == g
    th = np.flatnonzero(in_g & (op == "|"))
    j = np.array([item[v] for v in lhs[th]], dtype=int)
    k = np.array([int(t[1:]) for t in rhs[th]], dtype=int)
    th = th[np.lexsort((k, j))]
    scale = np.flatnonzero(in_g & (op == "~*~"))
    scale = scale[np.argsort([item[v] for v in lhs[scale]])]
    resid = np.flatnonzero(in_g & (op == "~~") & (lhs == rhs) & np.isin(lhs, list(item)))
    resid = resid[np.argsort([item[v] for v in lhs[resid]])]
    free, value = tab["free"].to_numpy(dtype=int), tab["value"].to_numpy(dtype=float)
    return GroupLayout(np.array([item[v] for v in lhs[th]], dtype=int), free[th], value[th], free[scale],
                       value[scale], tab.index[resid].to_numpy(dtype=int), tab.index[scale].to_numpy(dtype=int))


def _weights(stats: OrdinalStatistics, estimator: str) -> np.ndarray:
    if estimator == "ULS":
        return np.ones(len(stats.wls_obs))
    if estimator == "DWLS":
        return 1.0 / np.diag(stats.gamma)
    try:
        return np.linalg.inv(stats.gamma)
    except np.linalg.LinAlgError:
        raise IdentificationError("the asymptotic covariance matrix Γ of the thresholds and polychoric correlations "
                                  "is singular, so full WLS is not possible; use estimator='WLSMV' (diagonal "
                                  "weights).") from None
