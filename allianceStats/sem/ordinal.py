"""Step 1 of ``fit_sem`` for ordered items: data → parameter table → thresholds, polychoric correlations, Γ and
the weight matrix (lavaan's ``lavData`` / ``lavSampleStats`` for categorical data).

:func:`prepare_ordinal` checks the ordered columns, turns each item's observed values into category codes,
drops incomplete rows (listwise, lavaan's default for categorical data) or, with ``missing="pairwise"``, keeps
them, computes per group the sample statistics of :mod:`~allianceStats.sem.polychoric` (all items ordered,
complete rows) or :mod:`~allianceStats.sem.polyserial` (continuous variables next to the ordered items — every
model variable not in ``ordered`` — or missing values) and the weight matrix of the estimator, and returns an
:class:`OrdinalProblem`.

Covariates (lavaan's ``conditional.x = TRUE``, its default with ordered items): an observed continuous or binary
(0/1) variable that only predicts (``F ~ culture + age`` in a MIMIC model, ``u3 ~ culture`` for a direct effect)
is conditioned on, as in lavaan: the statistics are the items' thresholds and slopes from probit regressions on
the covariates and their residual polychoric correlations (:mod:`~allianceStats.sem.conditional`; Muthén 1984;
Muthén, du Toit & Spisic 1997), the covariates' variances, covariances and means are fixed at their sample values
(divisor n − 1, lavaan's ``cov.x``), and rows with a missing covariate are dropped (with ``missing="pairwise"``
too, and then rows missing every item; each probit regression and correlation uses the available values).
Continuous outcomes or indicators next to covariates are regressed linearly on them (intercepts, slopes, residual
variances; residual polyserial and Pearson correlations), as lavaan. An ordered item that only predicts becomes a
numeric covariate with its values as they are, with a warning, as lavaan ("exogenous variable(s) declared as
ordered in data"). Ordered items that are themselves outcomes or indicators may predict under
``parameterization="theta"`` (their latent responses enter the structural part); under ``"delta"`` that is
refused (:mod:`~allianceStats.sem.partable`).

Categories: an item's categories are the distinct values observed in the whole table, in increasing order (as
lavaan's ``ordered()``); the values must be whole numbers (``1, 2, 3`` or ``0, 1``) or a pandas ordered
``Categorical``. Every category must be observed in every group among the rows used (listwise: the complete rows;
pairwise: the rows left after dropping those missing a covariate or every other variable, as lavaan counts them):
a category empty in one group is an error,
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
from dataclasses import dataclass, field, replace

import numpy as np
import pandas as pd

from ..data.checks import first_labels, require_columns, require_numeric
from ..errors import DataWarning, FormulaError, IdentificationError, SchemaError
from ._messages import warn
from .conditional import conditional_statistics
from .model import GroupModel
from .partable import RAM_OPS, ParTable, build_partable
from .polychoric import OrdinalStatistics, ordinal_statistics
from .polyserial import mixed_statistics
from .syntax import parse_model


@dataclass(frozen=True)
class GroupLayout:
    """Where the model's thresholds and scale factors of one group sit in θ (0 = fixed, then ``*_value``)."""

    th_item: np.ndarray       # item index of each threshold (or −mean), in the order of the sample statistics
    th_free: np.ndarray       # a continuous variable's entry: 0 and value 0 (the statistic is −μ_j)
    th_value: np.ndarray
    scale_free: np.ndarray    # per variable (delta parameterization; all 0 and value 1 under theta and for
    scale_value: np.ndarray   # continuous variables)
    residual_rows: np.ndarray  # rows of the table holding the items' residual variances (delta: computed)
    scale_rows: np.ndarray     # rows of the table holding the items' scale factors (theta: computed)
    ordinal: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=int))   # indices of the ordered items
    numeric: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=int))   # of the continuous variables
    # conditional.x: the observed indices of the variables with statistics (y) and of the covariates (x); all the
    # indices above then count within y
    endo: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=int))
    exo: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=int))


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
    covariates: tuple[str, ...] = ()
    n_rows_by_group: tuple[int, ...] = ()      # rows of each group in the table, before any deletion (lavaan's Total)
    missing_patterns: tuple[int, ...] = ()     # missing-data patterns among the rows used, per group

    @property
    def observed(self) -> tuple[str, ...]:
        return self.pt.observed

    @property
    def variables(self) -> tuple[str, ...]:
        """The variables the sample statistics describe (the observed ones except the covariates)."""
        return tuple(v for v in self.pt.observed if v not in self.covariates)

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
                    where: str = "fit_sem", missing: str = "listwise",
                    partable_options: dict | None = None) -> OrdinalProblem:
    """Parse ``model``, check and code the ordered items, compute the sample statistics per group.

    ``estimator`` is the core estimator (``"DWLS"``, ``"WLS"`` or ``"ULS"``) that decides the weight matrix.
    ``cache`` (a dict the caller keeps for one table, e.g. across the steps of an invariance sequence) stores the
    sample statistics by item set, group and estimator, so that models of the same items reuse them. ``where``
    names the public function in error messages. ``missing``: ``"listwise"`` drops every row with a missing model
    variable; ``"pairwise"`` keeps them (rows missing every model variable excepted) and computes each statistic
    from the available values (:mod:`~allianceStats.sem.polyserial`). Model variables not in ``ordered`` are
    continuous (their means, variances and covariances are statistics too). ``partable_options``: ``std_lv``,
    ``orthogonal``, ``group_equal``, ``group_partial`` for :func:`~allianceStats.sem.partable.build_partable`.
    """
    data = require_columns(data, [group, *ordered], where=where)
    statements, definitions = parse_model(model)
    names = {s.lhs for s in statements} | {s.rhs for s in statements if s.op != "|"}
    ordered = [v for v in dict.fromkeys(ordered) if v in names]
    outcomes = {s.lhs for s in statements if s.op == "~"} | {s.rhs for s in statements if s.op == "=~"}
    exo_ordered = [v for v in ordered if v not in outcomes and any(s.op == "~" and s.rhs == v for s in statements)]
    if exo_ordered:   # lavaan: "exogenous variable(s) declared as ordered in data", then a numeric covariate
        warn(f"ordered item(s) {exo_ordered} only predict ('~' right-hand side only); as lavaan ('exogenous "
             "variable(s) declared as ordered in data'), they are used as numeric covariates with their values as "
             "they are (conditioned on, fixed.x). To model a latent response instead, make the item an indicator "
             "or an outcome.", DataWarning)
        ordered = [v for v in ordered if v not in exo_ordered]
    if not ordered:
        raise FormulaError("none of the ordered= items appears in the model as an indicator or outcome; list the "
                           "ordered indicators of the model in ordered=[...].")
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
    problems += [f"model variable {v!r} has no observed value (all {len(data)} rows are missing); drop it from the "
                 "model or fill it in" for v in data.columns if v in names and not data[v].notna().any()]
    if problems:
        raise SchemaError(problems, source=where)
    if group is not None and data[group].isna().any():
        rows = data.index[data[group].isna().to_numpy()]
        raise SchemaError([f"group column {group!r} is missing at {len(rows)} row(s) ({first_labels(rows)}); drop "
                           "those rows or assign them a group"], source=where)
    n_th = {v: len(c) - 1 for v, c in categories.items()}
    n_groups = 1 if group is None else int(pd.unique(data[group]).size)
    pt = build_partable(statements, definitions, observed=set(data.columns), n_groups=n_groups, defaults=defaults,
                        ordered=n_th, parameterization=parameterization, **(partable_options or {}))
    continuous = [v for v in pt.observed if v not in n_th]
    exogenous = [v for v in continuous if v not in outcomes and any(s.op == "~" and s.rhs == v for s in statements)]
    if exogenous:
        _check_covariates(pt, exogenous)
        check_covariate_types(data, exogenous, where)
    if continuous:
        require_numeric(data, continuous, where=where)
    single = [f"{v!r} (only the value {categories[v][0]!r})" for v in pt.observed if v in n_th and n_th[v] == 0]
    if single:
        raise SchemaError([f"ordered item {s} has a single observed category; it carries no information — drop it "
                           "from the model" for s in single], source=where)
    numeric = [v not in n_th for v in pt.observed]
    Y = np.column_stack([coded[v] if v in n_th else data[v].to_numpy(dtype=float, na_value=np.nan)
                         for v in pt.observed])
    if continuous:
        inf_cols = [v for v, j in zip(pt.observed, range(Y.shape[1])) if numeric[j] and np.isinf(Y[:, j]).any()]
        if inf_cols:
            raise SchemaError([f"column {v!r} has infinite values; replace them or set them missing"
                               for v in inf_cols], source=where)
    if missing == "pairwise" and exogenous:   # lavaan: rows missing a covariate go (fixed.x), then empty rows
        is_x = np.array([v in exogenous for v in pt.observed])
        miss_x = np.isnan(Y[:, is_x]).any(axis=1)
        if miss_x.any():
            warn(f"{int(miss_x.sum())} row(s) with a missing covariate {list(exogenous)} were dropped (as lavaan "
                 "does with fixed.x = TRUE).", DataWarning)
        empty_y = ~miss_x & np.isnan(Y[:, ~is_x]).all(axis=1)
        if empty_y.any():
            what = "ordered item" if all(v in n_th for v in pt.observed if v not in exogenous) else \
                "outcome and indicator"
            warn(f"{int(empty_y.sum())} row(s) missing every {what} were dropped (as lavaan does).", DataWarning)
        incomplete = miss_x | empty_y
        x_rows_out = miss_x     # lavaan's cov.x and mean.x still count the empty rows
    elif missing == "pairwise":
        incomplete = np.isnan(Y).all(axis=1)
        if incomplete.any():
            warn(f"{int(incomplete.sum())} row(s) missing every model variable were dropped (as lavaan does).",
                 DataWarning)
    else:
        incomplete = np.isnan(Y).any(axis=1)
        if incomplete.any():
            warn(f"{int(incomplete.sum())} row(s) with a missing value in the model variables were dropped "
                 "(listwise deletion, lavaan's default for categorical data; missing='pairwise' uses them).",
                 DataWarning)
    if not (missing == "pairwise" and exogenous):
        x_rows_out = incomplete
    labels: list[Hashable] = [1] if group is None else list(pd.unique(data[group]))
    gcol = None if group is None else data[group].to_numpy()
    stats, layouts, weights = [], [], []
    empty: list[str] = []
    patterns: list[int] = []
    totals: list[int] = []
    n_cat = [n_th[v] + 1 if v in n_th else 1 for v in pt.observed]
    for g, lab in enumerate(labels, start=1):
        rows = ~incomplete if gcol is None else (~incomplete & (gcol == lab))
        values = Y[rows]
        if len(values) < 2:
            whose = "the data have" if group is None else f"group {lab!r} of {group!r} has"
            total = int(len(data)) if gcol is None else int((gcol == lab).sum())
            deletion = ("rows missing a covariate or every other model variable" if missing == "pairwise"
                        else "rows with a missing model variable (listwise)")
            raise IdentificationError(f"{whose} {len(values)} usable row(s) of {total} after dropping {deletion}; "
                                      "at least 2 are needed. "
                                      + ("Merge or drop that group." if group is not None else
                                         "Check which model columns are missing (data[columns].isna().sum()) or "
                                         "use missing='pairwise'."))
        patterns.append(int(len(np.unique(np.isnan(values), axis=0))))
        totals.append(int(len(data)) if gcol is None else int((gcol == lab).sum()))
        for j, v in enumerate(pt.observed):
            col = values[:, j]
            col = col[~np.isnan(col)]
            in_group = "" if group is None else f" in group {lab!r}"
            if numeric[j]:
                if len(col) < 2 or np.all(col == col[0]):
                    empty.append(f"continuous variable {v!r} has {len(col)} observed value(s){in_group} and no "
                                 "variance; drop it or the group")
                continue
            if not len(col):
                empty.append(f"ordered item {v!r} has no observed value{in_group} among the rows used; its "
                             "thresholds cannot be estimated there — drop the item or the group")
                continue
            counts = np.bincount(col.astype(int), minlength=n_th[v] + 1)
            if (counts == 0).any():
                missing_cats = [categories[v][k] for k in np.flatnonzero(counts == 0)]
                empty.append(f"ordered item {v!r} has no row in category {first_labels(missing_cats)}{in_group} "
                             f"among the {len(col)} row(s) where it is observed and used (counts per category "
                             f"{dict(zip(categories[v], counts.tolist()))}); lavaan stops here too ('some categories "
                             "of variable ... are empty in group ...'). Collapse that "
                             "category with a neighbouring one for all groups, or drop the group")
        if missing == "pairwise":
            both = ~np.isnan(values)
            together = both.T.astype(float) @ both.astype(float)
            none = [f"{pt.observed[b]!r} and {pt.observed[a]!r}" for a in range(len(numeric))
                    for b in range(a) if together[a, b] < 2]
            if none:
                in_group = "" if group is None else f" in group {lab!r}"
                shown = "; ".join(none[:5]) + ("; …" if len(none) > 5 else "")
                empty.append(f"{len(none)} pair(s) of variables are observed together in fewer than 2 rows{in_group} "
                             f"({shown}); their correlation cannot be estimated pairwise — drop one of each pair "
                             "from the model or use the group's complete rows")
        if empty:
            continue
        key = (tuple(pt.observed), tuple(exogenous), group, lab, missing)
        if cache is not None and key in cache:
            st = cache[key]
        else:
            if exogenous:
                st = _conditional(values, pt.observed, exogenous, n_cat, lab if group is not None else None)
            elif any(numeric) or np.isnan(values).any():
                st = mixed_statistics(values, numeric, n_cat)
            else:
                st = ordinal_statistics(values.astype(int), n_cat)
            if cache is not None:
                cache[key] = st
        stats.append(st)
        layouts.append(_layout(pt, g, exogenous))
        wkey = (*key, estimator)
        if cache is not None and wkey in cache:
            weights.append(cache[wkey])
        else:
            weights.append(_weights(st, estimator))
            if cache is not None:
                cache[wkey] = weights[-1]
    if empty:
        raise SchemaError(empty, source=where)
    table = pt.table
    if exogenous:
        table = _fill_covariates(table, pt.observed, exogenous, Y, x_rows_out, gcol, labels)
    return OrdinalProblem(pt=pt, table=table, models=group_models(table, pt), stats=tuple(stats),
                          layouts=tuple(layouts), weights=tuple(weights), estimator=estimator,
                          categories=categories, group_labels=tuple(labels), missing=missing,
                          covariates=tuple(exogenous), n_rows_by_group=tuple(totals),
                          missing_patterns=tuple(patterns))


def _layout(pt: ParTable, g: int, covariates: Sequence[str] = ()) -> GroupLayout:
    tab = pt.table
    names = [v for v in pt.observed if v not in covariates]
    item = {v: j for j, v in enumerate(names)}
    ordered = set(pt.ordered)
    ord_idx = np.array([j for j, v in enumerate(names) if v in ordered], dtype=int)
    num_idx = np.array([j for j, v in enumerate(names) if v not in ordered], dtype=int)
    lhs, op, rhs = tab["lhs"].to_numpy(), tab["op"].to_numpy(), tab["rhs"].to_numpy()
    in_g = tab["group"].to_numpy() == g
    free, value = tab["free"].to_numpy(dtype=int), tab["value"].to_numpy(dtype=float)
    th = np.flatnonzero(in_g & (op == "|"))
    j = np.array([item[v] for v in lhs[th]], dtype=int)
    k = np.array([int(t[1:]) for t in rhs[th]], dtype=int)
    # a continuous variable sits in the threshold block as one entry (its −mean) with "threshold" 0
    j = np.r_[j, num_idx]
    k = np.r_[k, np.zeros(len(num_idx), dtype=int)]
    th_free = np.r_[free[th], np.zeros(len(num_idx), dtype=int)]
    th_value = np.r_[value[th], np.zeros(len(num_idx))]
    order = np.lexsort((k, j))
    scale = np.flatnonzero(in_g & (op == "~*~"))
    scale = scale[np.argsort([item[v] for v in lhs[scale]])]
    scale_item = np.array([item[v] for v in lhs[scale]], dtype=int)
    scale_free = np.zeros(len(item), dtype=int)
    scale_value = np.ones(len(item))
    scale_free[scale_item], scale_value[scale_item] = free[scale], value[scale]
    resid = np.flatnonzero(in_g & (op == "~~") & (lhs == rhs) & np.isin(lhs, list(ordered)))
    resid = resid[np.argsort([item[v] for v in lhs[resid]])]
    endo = np.array([k for k, v in enumerate(pt.observed) if v not in covariates], dtype=int)
    exo = np.array([k for k, v in enumerate(pt.observed) if v in covariates], dtype=int)
    return GroupLayout(j[order], th_free[order], th_value[order], scale_free, scale_value,
                       tab.index[resid].to_numpy(dtype=int), tab.index[scale].to_numpy(dtype=int), ord_idx, num_idx,
                       endo if len(exo) else np.zeros(0, dtype=int), exo)


def _check_covariates(pt: ParTable, exogenous: list[str]) -> None:
    """What the conditional.x path (:mod:`~allianceStats.sem.conditional`) covers: covariates fixed at their sample
    values (fixed.x), not given parameters of their own in the syntax."""
    tab = pt.table
    own = tab[tab["lhs"].isin(exogenous) & tab["op"].isin(["~~", "~1"]) & tab["rhs"].isin([*exogenous, ""])]
    if not own["exo"].all():
        raise FormulaError(f"the syntax gives the covariates {exogenous} their own (co)variances or means; with "
                           "ordered items they are conditioned on (lavaan's conditional.x = TRUE, fixed at the "
                           "sample values). Remove those lines.")


def check_covariate_types(data: pd.DataFrame, covariates: Sequence[str], where: str) -> None:
    """Covariates next to ordered items must be numbers: text, categories and booleans get a message that says how
    to code them (lavaan turns a two-level factor or a logical into 0/1 itself and refuses more levels)."""
    problems = []
    for v in covariates:
        col = data[v]
        if pd.api.types.is_bool_dtype(col):
            problems.append(f"covariate {v!r} is boolean; code it 0/1 (data[{v!r}].astype(int), True = 1) as lavaan "
                            "does with a logical")
        elif not pd.api.types.is_numeric_dtype(col) and pd.to_numeric(col.dropna().astype(str),
                                                                      errors="coerce").notna().all():
            problems.append(f"covariate {v!r} holds numbers stored as text (dtype {col.dtype}); convert it with "
                            f"pd.to_numeric(data[{v!r}])")
        elif not pd.api.types.is_numeric_dtype(col):
            levels = pd.unique(col.dropna())
            problems.append(
                f"covariate {v!r} has dtype {col.dtype} ({len(levels)} level(s): {first_labels(levels)}); a "
                "categorical covariate enters as dummy variables: pd.get_dummies(data[" + repr(v) + "], prefix="
                + repr(v) + ", drop_first=True, dtype=float), joined to the data and named in the model in place of "
                f"{v!r} (lavaan codes a two-level factor 0/1 itself and refuses more levels)")
    if problems:
        raise SchemaError(problems, source=where)


def _conditional(values: np.ndarray, observed: Sequence[str], covariates: Sequence[str], n_cat: Sequence[int],
                 label: Hashable | None) -> OrdinalStatistics:
    """The conditional.x statistics of one group (:func:`~allianceStats.sem.conditional.conditional_statistics`)
    after checking that the covariates are not collinear."""
    x = [k for k, v in enumerate(observed) if v in covariates]
    y = [k for k, v in enumerate(observed) if v not in covariates]
    X = values[:, x]
    design = np.column_stack([np.ones(len(X)), X])
    if np.linalg.matrix_rank(design) < design.shape[1]:
        where = "" if label is None else f" in group {label!r}"
        raise IdentificationError(f"the covariates {list(covariates)} are collinear (or constant){where}: the "
                                  "probit regressions of the ordered items on them are not identified; drop one.")
    return conditional_statistics(values[:, y], X, [n_cat[k] for k in y], numeric=[n_cat[k] == 1 for k in y])


def _fill_covariates(table: pd.DataFrame, observed: Sequence[str], covariates: Sequence[str], Y: np.ndarray,
                     incomplete: np.ndarray, gcol: np.ndarray | None, labels: Sequence[Hashable]) -> pd.DataFrame:
    """The fixed.x rows (the covariates' variances, covariances and means) at their sample values per group
    (covariances with divisor n − 1, as lavaan's ``cov.x``), from the rows not in ``incomplete``."""
    table = table.copy()
    idx = [list(observed).index(v) for v in covariates]
    is_exo, grp = table["exo"].to_numpy(dtype=bool), table["group"].to_numpy()
    for g, lab in enumerate(labels, start=1):
        rows = ~incomplete if gcol is None else (~incomplete & (gcol == lab))
        X = Y[rows][:, idx]
        mean, cov = X.mean(axis=0), np.atleast_2d(np.cov(X, rowvar=False, ddof=1))
        pos = {v: k for k, v in enumerate(covariates)}
        for r in np.flatnonzero(is_exo & (grp == g)):
            lhs, op, rhs = str(table.at[r, "lhs"]), str(table.at[r, "op"]), str(table.at[r, "rhs"])
            table.at[r, "value"] = float(mean[pos[lhs]]) if op == "~1" else float(cov[pos[lhs]][pos[rhs]])
    return table


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
