"""The parameter table: the one central representation of a structural equation model.

Following lavaan (Rosseel 2012), a model is a table with one row per model parameter and group::

    lhs, op, rhs, group, user, free, value, label, exo

``op`` is ``=~`` (loading), ``~`` (regression), ``~~`` ((residual) variance / covariance) or ``~1``
(intercept or mean). ``free`` is 0 for a fixed parameter and otherwise the 1-based index of the estimated
parameter; rows sharing a label share the index (equality constraint). ``value`` is the fixed value (or
NaN while free). ``exo`` flags the (co)variances and means of exogenous observed covariates that, as in
``lavaan::sem()`` with ``fixed.x = TRUE``, are fixed at their sample values and not counted as parameters.
``user`` is True for rows written in the syntax, False for rows added by the defaults.

Defaults
--------
``defaults="sem"`` mimics ``lavaan::sem()``: the first loading of each latent variable fixed to 1
(``auto.fix.first``); free residual variances of observed and variances of latent variables
(``auto.var``); free covariances among exogenous latent variables (``auto.cov.lv.x``) and among the
residuals of purely dependent variables — those regressed on something and predicting nothing
(``auto.cov.y``); free intercepts of observed variables (``int.ov.free``); latent means fixed to 0;
the residual variance of the only indicator of a single-indicator latent fixed to 0 (``auto.fix.single``).
``defaults="none"`` mimics ``lavaan::lavaan()``: only what is written, with variances, intercepts and means
not written fixed to 0. In both, exogenous observed covariates (observed, only on the right of ``~``, never
an indicator) get the ``fixed.x`` treatment — unless the syntax itself gives them a variance, covariance or
intercept, in which case, as in lavaan, fixed.x is switched off (with a warning under ``defaults="sem"``) and
they are estimated (``defaults="sem"`` then also frees their covariances).

Ordered items (``ordered``: item → number of thresholds in the data), as lavaan for categorical data (Muthén 1984;
Rosseel 2012) with both defaults: thresholds ``u | t1 … tK`` free; intercepts fixed at 0; under
``parameterization="delta"`` a scale factor ``u ~*~ u`` fixed at 1, and the residual variance is not a parameter
(its row is fixed; its value, 1/Δ² minus the explained variance, is filled in after the fit); under ``"theta"``
the residual variance fixed at 1 and the scale factor not a parameter (1/√Σ*_jj, filled in after the fit). Any of
these written in the syntax overrides the default. Ordered items may be indicators or outcomes; under ``"theta"`` also
predictors of other variables (an ordered mediator: the latent response u* enters the structural part, as in lavaan),
under ``"delta"`` not (lavaan's delta fits of such models do not converge).
A term written twice, once with a value and once with a label, is one parameter with both (as semTools'
``measEq.syntax`` writes ``c(NA, NA)*x + c(a1, a2)*x``).

Example
-------
>>> from allianceStats.sem.syntax import parse_model
>>> stmts, defs = parse_model("y ~ x1 + x2")
>>> pt = build_partable(stmts, defs, observed={"y", "x1", "x2"}, n_groups=1, defaults="sem")
>>> print(*pt.table.loc[0, ["lhs", "op", "rhs", "free", "exo"]])
y ~ x1 1 False
>>> int(pt.table["free"].max())  # two slopes, residual variance, intercept
4
"""
from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..data.checks import check_choice
from ..errors import DataWarning, FormulaError, IdentificationError
from ._messages import warn
from .syntax import _NAME_RE, _NUMBER_RE, Definition, Start, Statement, expression_names, modifier_kind, parse_model

COLUMNS = ["lhs", "op", "rhs", "group", "user", "free", "value", "label", "exo", "start"]
GROUP_EQUAL = ("loadings", "intercepts", "means", "residuals", "residual.covariances", "lv.variances",
               "lv.covariances", "regressions")
"""lavaan's ``group.equal`` classes for continuous variables (``thresholds`` is the ordinal one)."""
RAM_OPS = ("=~", "~", "~~", "~1")
"""Operators of the mean and covariance structure (``model.GroupModel``); ``|`` and ``~*~`` are the ordinal rows."""


@dataclass(frozen=True)
class ParTable:
    """Parameter table plus the variable sets derived from it (same for every group)."""

    table: pd.DataFrame
    observed: tuple[str, ...]
    latent: tuple[str, ...]
    exogenous_x: tuple[str, ...]
    definitions: tuple[Definition, ...]
    n_groups: int
    ordered: tuple[str, ...] = ()
    parameterization: str = "delta"
    constraints: tuple[Definition, ...] = ()

    @property
    def npar(self) -> int:
        """Number of distinct free parameters (equality-constrained rows counted once)."""
        return int(self.table["free"].max()) if len(self.table) else 0


def _key(lhs: str, op: str, rhs: str) -> tuple[str, str, str]:
    if op == "~~" and rhs < lhs:
        return rhs, op, lhs
    return lhs, op, rhs


def _per_group(mod, n_groups: int, line: str):
    if isinstance(mod, tuple):
        if len(mod) != n_groups:
            raise FormulaError(f"c(...) in model line {line!r} has {len(mod)} entries but the data have "
                               f"{n_groups} group(s); give one entry per group.")
        return list(mod)
    return [mod] * n_groups


def _is_simple(eq: Definition) -> bool:
    """``label == label`` or ``label == number`` (imposed by sharing or fixing a free parameter)."""
    return bool(eq.kind == "==" and _NAME_RE.match(eq.lhs)
                and (_NAME_RE.match(eq.expression) or _NUMBER_RE.match(eq.expression)))


def _impose_equalities(table, free_idx, label_idx, equalities, pairs=()):
    """``a == b``: the two labels share one free parameter; ``a == 0.5``: the labelled rows are fixed at 0.5;
    ``pairs`` of free indices to share (``group_equal``)."""
    parent = {k: k for k in range(1, int(free_idx.max()) + 1)}

    def root(k):
        while parent[k] != k:
            k = parent[k]
        return k

    for a, b in pairs:
        a, b = root(a), root(b)
        parent[max(a, b)] = min(a, b)
    for eq in equalities:
        if eq.lhs not in label_idx:
            raise FormulaError(f"constraint {eq.line!r}: {eq.lhs!r} is not the label of a free parameter.")
        if eq.expression in label_idx:
            a, b = root(label_idx[eq.lhs]), root(label_idx[eq.expression])
            parent[max(a, b)] = min(a, b)
        elif not _NUMBER_RE.match(eq.expression):
            raise FormulaError(f"constraint {eq.line!r}: {eq.expression!r} is not the label of a free parameter.")
        else:
            rows = free_idx == label_idx[eq.lhs]
            table.loc[rows, "value"] = float(eq.expression)
            free_idx = np.where(rows, 0, free_idx)
    merged = np.array([root(k) if k > 0 else 0 for k in free_idx])
    used = sorted(set(merged[merged > 0]))
    renumber = {k: i for i, k in enumerate(used, start=1)}
    return np.array([renumber.get(k, 0) for k in merged]), len(used)


def _merge_duplicates(statements: list[Statement]) -> list[Statement]:
    """One statement per (lhs, op, rhs): a term written twice, once with a value and once with a label (as semTools'
    ``measEq.syntax`` writes ``c(NA, NA)*x + c(a1, a2)*x``), becomes one term with both modifiers."""
    merged: dict[tuple[str, str, str], Statement] = {}
    out: list[Statement] = []
    for s in statements:
        key = _key(s.lhs, s.op, s.rhs)
        prev = merged.get(key)
        if prev is None:
            merged[key] = s
            out.append(s)
            continue

        kinds = [modifier_kind(m) for m in prev.modifiers + s.modifiers]
        if not prev.modifiers or not s.modifiers or len(kinds) != len(set(kinds)):
            raise FormulaError(f"parameter '{s.lhs} {s.op} {s.rhs}' is specified twice; give it once.")
        both = Statement(prev.lhs, prev.op, prev.rhs, prev.modifiers + s.modifiers, prev.line)
        merged[key] = both
        out[out.index(prev)] = both
    return out


def build_partable(statements: list[Statement], definitions: list[Definition], *, observed: set[str],
                   n_groups: int, defaults: str = "sem", ordered: dict[str, int] | None = None,
                   parameterization: str = "delta", std_lv: bool = False, orthogonal: bool = False,
                   group_equal: Sequence[str] = (), group_partial: Sequence[str] = (),
                   int_ov_free: bool = False) -> ParTable:
    """Build the parameter table from parsed statements (see module docstring for the defaults).

    ``observed`` is the set of column names of the data; names in the model that are neither a latent
    variable (left of ``=~``) nor a data column raise :class:`FormulaError`. Defaults follow lavaan 0.6
    (``lavaanify``; Rosseel 2012), see the module docstring; ``std_lv``, ``orthogonal``, ``group_equal`` and
    ``group_partial`` are lavaan's ``std.lv``, ``orthogonal``, ``group.equal`` and ``group.partial``;
    ``int_ov_free`` frees the intercepts of the observed variables whatever ``defaults`` (a model without a mean
    structure is fitted with saturated means).

    >>> from allianceStats.sem.syntax import parse_model
    >>> pt = build_partable(*parse_model("f =~ x1 + x2 + x3"), observed={"x1", "x2", "x3"}, n_groups=1)
    >>> pt.npar, pt.latent   # 2 loadings, 3 residual variances, 1 latent variance, 3 intercepts
    (9, ('f',))
    """
    check_choice("defaults", defaults, ["sem", "none"])
    check_choice("parameterization", parameterization, ["delta", "theta"])
    group_equal = [group_equal] if isinstance(group_equal, str) else list(group_equal)
    for item in group_equal:
        check_choice("group_equal", item, [*GROUP_EQUAL, "thresholds"])
    partial = _partial_keys(group_partial)
    statements = _merge_duplicates(statements)
    latent = list(dict.fromkeys(s.lhs for s in statements if s.op == "=~"))
    clash = [v for v in latent if v in observed]
    if clash:
        raise FormulaError(f"latent variable name(s) {clash} are also data columns; rename the latent variable(s).")
    names = []
    for s in statements:
        for v in (s.lhs, s.rhs if s.op != "|" else ""):
            if v and v not in names:
                names.append(v)
    ov = [v for v in names if v not in latent]
    missing = [v for v in ov if v not in observed]
    if missing:
        raise FormulaError(f"variable(s) {missing} in the model are neither data columns nor latent variables "
                           "(defined with =~); check spelling or add the column.")
    indicators = {s.rhs for s in statements if s.op == "=~"}
    eqs_y = {s.lhs for s in statements if s.op == "~"}
    eqs_x = {s.rhs for s in statements if s.op == "~"}
    ordered = {v: k for v, k in (ordered or {}).items() if v in ov}
    _check_ordinal_statements(statements, ordered, latent, eqs_x, parameterization)
    ov_x = [v for v in ov if v in eqs_x and v not in eqs_y and v not in indicators]
    # lavaan: syntax with parameters of the exogenous covariates themselves switches fixed.x off
    fixed_x = not any((s.op == "~~" and s.lhs in ov_x and s.rhs in ov_x) or (s.op == "~1" and s.lhs in ov_x)
                      for s in statements)
    exo_free = [] if fixed_x else ov_x
    if not fixed_x:
        if defaults == "sem":
            # under defaults="none" (lavaan::lavaan) only what is written is estimated, so written parameters
            # of covariates are intended and there is nothing to warn about; under "sem" they override fixed.x
            warn("the syntax contains parameters of exogenous covariates "
                 f"{ov_x}; switching to fixed.x = FALSE (they are estimated, as lavaan does).", DataWarning)
        ov_x = []
    ov_y = [v for v in ov if v in eqs_y and v not in eqs_x and v not in indicators]
    lv_x = [v for v in latent if v not in eqs_y and v not in indicators]
    lv_y = [v for v in latent if v in eqs_y and v not in eqs_x and v not in indicators]

    rows: dict[tuple, dict] = {}

    def add(lhs, op, rhs, group, user, free, value, label, exo=False, start=np.nan):
        key = _key(lhs, op, rhs) + (group,)
        if key in rows:
            if user and rows[key]["user"]:
                raise FormulaError(f"parameter '{lhs} {op} {rhs}' is specified twice; give it once.")
            return
        lhs, op, rhs = key[:3]
        rows[key] = dict(lhs=lhs, op=op, rhs=rhs, group=group, user=user, free=free, value=value,
                         label=label, exo=exo, start=start)

    first_loading = set()
    for s in statements:
        per_group = [_per_group(m, n_groups, s.line) for m in s.modifiers]
        for g in range(1, n_groups + 1):
            value, label, explicit_free, start = np.nan, "", False, np.nan
            for mods in per_group:
                m = mods[g - 1]
                if m is None:
                    explicit_free = True
                elif isinstance(m, Start):
                    start = m.value
                elif isinstance(m, float):
                    value = m
                else:
                    label = m
            free = bool(np.isnan(value))
            if (s.op == "=~" and s.lhs not in first_loading and defaults == "sem" and free and not explicit_free
                    and not std_lv):
                free, value = False, 1.0
            add(s.lhs, s.op, s.rhs, g, True, free, value, label, start=start)
        if s.op == "=~":
            first_loading.add(s.lhs)

    single: dict[str, list[str]] = {}
    for s in statements:
        if s.op == "=~":
            single.setdefault(s.lhs, []).append(s.rhs)
    fix_single = {inds[0] for lv, inds in single.items() if len(inds) == 1
                  and sum(s.op == "=~" and s.rhs == inds[0] for s in statements) == 1}
    auto = defaults == "sem"
    for g in range(1, n_groups + 1):
        # lavaan (lav_partable_flat): with thresholds equal across groups, the scale factors (delta) or the residual
        # variances of the ordered items (theta) are free after the first group
        free_scale = g > 1 and "thresholds" in group_equal
        for v, n_th in ordered.items():
            for k in range(1, n_th + 1):
                add(v, "|", f"t{k}", g, False, True, np.nan, "")
            add(v, "~1", "", g, False, False, 0.0, "")
            # delta: the residual variance is computed from the other parameters; theta: the scale factor is (both
            # values are filled in after the fit, as lavaan reports them)
            free_delta = free_scale and parameterization == "delta"
            add(v, "~*~", v, g, False, free_delta, np.nan if free_delta else 1.0, "")
            free_theta = free_scale and parameterization == "theta"
            add(v, "~~", v, g, False, free_theta, np.nan if free_theta else 1.0, "")
        for v in ov:
            if v in ov_x:
                continue
            if auto and v in fix_single:
                add(v, "~~", v, g, False, False, 0.0, "")
            add(v, "~~", v, g, False, auto, np.nan if auto else 0.0, "")
        for v in latent:
            # lavaan std.lv: the (residual) variances of the latent variables fixed at 1 — after the first group free
            # when the loadings are equal across groups and the latent variances are not (lavaan 0.6-4)
            if std_lv and not (g > 1 and "loadings" in group_equal and "lv.variances" not in group_equal):
                add(v, "~~", v, g, False, False, 1.0, "")
            add(v, "~~", v, g, False, auto, np.nan if auto else 0.0, "")
        if auto:
            for a, b in itertools.combinations(lv_x, 2):
                add(a, "~~", b, g, False, not orthogonal, 0.0 if orthogonal else np.nan, "")
            for a, b in itertools.combinations(ov_y + lv_y, 2):
                fix = orthogonal and a in lv_y and b in lv_y
                add(a, "~~", b, g, False, not fix, 0.0 if fix else np.nan, "")
            for a, b in itertools.combinations(exo_free, 2):
                add(a, "~~", b, g, False, True, np.nan, "")
        for a, b in itertools.combinations_with_replacement(ov_x, 2):
            add(a, "~~", b, g, False, False, np.nan, "", exo=True)
        for v in ov:
            if v in ov_x:
                add(v, "~1", "", g, False, False, np.nan, "", exo=True)
            else:
                ov_free = auto or int_ov_free
                add(v, "~1", "", g, False, ov_free, np.nan if ov_free else 0.0, "")
        for v in latent:
            # lavaan: once intercepts or thresholds are equal across groups, latent means are free after the first
            free_mean = g > 1 and bool({"intercepts", "thresholds"} & set(group_equal)) and "means" not in group_equal
            add(v, "~1", "", g, False, free_mean, np.nan if free_mean else 0.0, "")

    table = pd.DataFrame(list(rows.values()), columns=COLUMNS)
    # free-parameter index: one per free row, shared by rows with the same label
    free_idx = np.zeros(len(table), dtype=int)
    label_idx: dict[str, int] = {}
    fixed_labels = set(table.loc[~table["free"].astype(bool) & (table["label"] != ""), "label"])
    nxt = 0
    for i, (is_free, label) in enumerate(zip(table["free"], table["label"])):
        if not is_free:
            continue
        if label and label in fixed_labels:
            raise FormulaError(f"label {label!r} is on both a fixed and a free parameter; equal labels mean equal "
                               "parameters, so fix or free all of them.")
        if label and label in label_idx:
            free_idx[i] = label_idx[label]
            continue
        nxt += 1
        free_idx[i] = nxt
        if label:
            label_idx[label] = nxt
    equalities = [d for d in definitions if _is_simple(d)]
    constraints = [d for d in definitions if d.kind != ":=" and not _is_simple(d)]
    definitions = [d for d in definitions if d.kind == ":="]
    pairs, fixed = _group_equal_pairs(table, free_idx, group_equal, partial, set(ov), set(latent))
    for i, value in fixed:   # lavaan: equal to a fixed first-group parameter means fixed at its value
        free_idx[i] = 0
        table.loc[i, ["free", "value"]] = [False, value]
    if equalities or pairs or fixed:
        free_idx, nxt = _impose_equalities(table, free_idx, label_idx, equalities, pairs)
    table["free"] = free_idx
    table["user"] = table["user"].astype(bool)
    table["exo"] = table["exo"].astype(bool)
    known = set(table["label"]) | {d.lhs for d in definitions}
    for d in constraints:
        unknown = [n for n in expression_names(d.lhs) + expression_names(d.expression) if n not in label_idx]
        if unknown:
            raise FormulaError(f"constraint {d.line!r} uses {unknown}, which are not labels of free parameters; "
                               "label them first, e.g. 'y ~ a*x'.")
    for d in definitions:
        unknown = [n for n in expression_names(d.expression) if n not in known]
        if unknown:
            raise FormulaError(f"defined parameter in model line {d.line!r} uses unknown label(s) {unknown}; "
                               "label a parameter first, e.g. 'y ~ a*x'.")
        known.add(d.lhs)
    if nxt == 0:
        raise IdentificationError("the model has no free parameters.")
    for v, n_th in ordered.items():
        written = table[(table["lhs"] == v) & (table["op"] == "|")]["rhs"].map(lambda t: int(t[1:]))
        if len(written) and written.max() > n_th:
            raise FormulaError(f"the model gives ordered item {v!r} threshold t{written.max()}, but its data have "
                               f"{n_th + 1} categories, so {n_th} threshold(s) t1..t{n_th}.")
    return ParTable(table=table, observed=tuple(ov), latent=tuple(latent), exogenous_x=tuple(ov_x),
                    definitions=tuple(definitions), n_groups=n_groups, ordered=tuple(ordered),
                    parameterization=parameterization, constraints=tuple(constraints))


def _partial_keys(group_partial: Sequence[str] | str) -> set[tuple[str, str, str]]:
    """``group_partial`` entries (``"f =~ x2"``, ``"x7 ~ 1"``, ``"x3 ~~ x3"``) as (lhs, op, rhs) keys."""
    items = [group_partial] if isinstance(group_partial, str) else list(group_partial)
    keys: set = set()
    for item in items:
        if not isinstance(item, str):
            raise FormulaError(f"group_partial entries are parameters written as in the syntax ('f =~ x2', "
                               f"'x1 ~ 1'), found {item!r}")
        stmts, _ = parse_model(item)
        keys.update(_key(st.lhs, st.op, st.rhs) for st in stmts)
    return keys


def _group_equal_pairs(table: pd.DataFrame, free_idx: np.ndarray, group_equal: Sequence[str],
                       partial: set[tuple[str, str, str]], ov: set[str], latent: set[str]
                       ) -> tuple[list[tuple[int, int]], list[tuple[int, float]]]:
    """Pairs of free indices that lavaan's ``group.equal`` makes equal: each free parameter of a listed class in
    groups 2, 3, ... with its counterpart in group 1, except the ``group.partial`` ones and rows with a label of
    their own (lavaan's label wins). Second: the rows (index, value) whose group-1 counterpart is fixed, which lavaan
    fixes at that value (``lav_partable``: an equality involving a fixed parameter fixes them all)."""
    if not group_equal or int(table["group"].max()) < 2:
        return [], []

    def kind(lhs: str, op: str, rhs: str) -> str:
        if op == "=~":
            return "loadings"
        if op == "~":
            return "regressions"
        if op == "~1":
            return "intercepts" if lhs in ov else "means"
        if op == "|":
            return "thresholds"
        if op == "~~":
            if lhs in latent and rhs in latent:
                return "lv.variances" if lhs == rhs else "lv.covariances"
            if lhs in ov and rhs in ov:
                return "residuals" if lhs == rhs else "residual.covariances"
        return ""

    first, first_fixed = {}, {}
    values = table["value"].to_numpy(dtype=float)
    for i, (lhs, op, rhs, g, label, exo) in enumerate(zip(table["lhs"], table["op"], table["rhs"], table["group"],
                                                          table["label"], table["exo"])):
        if g != 1 or label or exo:
            continue
        if free_idx[i] > 0:
            first[(lhs, op, rhs)] = free_idx[i]
        elif not np.isnan(values[i]):
            first_fixed[(lhs, op, rhs)] = float(values[i])
    pairs, fixed = [], []
    for i, (lhs, op, rhs, g, label, exo) in enumerate(zip(table["lhs"], table["op"], table["rhs"], table["group"],
                                                          table["label"], table["exo"])):
        key = (lhs, op, rhs)
        if g == 1 or free_idx[i] == 0 or exo or label or key in partial or kind(lhs, op, rhs) not in group_equal:
            continue
        if key in first:
            pairs.append((int(first[key]), int(free_idx[i])))
        elif key in first_fixed:
            fixed.append((i, first_fixed[key]))
    return pairs, fixed


def _check_ordinal_statements(statements: list[Statement], ordered: dict[str, int], latent: list[str],
                              eqs_x: set[str], parameterization: str) -> None:
    """Thresholds and scale factors only for ordered items; ordered items as predictors only under the theta
    parameterization; no free residual variance of an ordered item under the delta parameterization (it is not a
    parameter there)."""
    for s in statements:
        if s.op in ("|", "~*~") and s.lhs not in ordered:
            kind = "thresholds" if s.op == "|" else "a scale factor"
            raise FormulaError(f"model line {s.line!r} gives {kind} to {s.lhs!r}, which is not an ordered item; "
                               "list it in ordered=[...] (only ordered items have thresholds and scale factors).")
        if s.op == "~*~" and parameterization == "theta":
            raise FormulaError(f"model line {s.line!r}: scale factors (~*~) belong to parameterization='delta'; "
                               "under 'theta' write residual variances of the ordered items instead ('u ~~ u').")
        if s.op == "~~" and s.lhs == s.rhs and s.lhs in ordered and parameterization == "delta":
            raise FormulaError(f"model line {s.line!r}: under parameterization='delta' the residual variance of an "
                               "ordered item is not a parameter (it is 1/Δ² minus the explained variance); use "
                               "parameterization='theta' to model residual variances, or scale factors 'u ~*~ u'.")
    predictors = sorted(v for v in ordered if v in eqs_x)
    if predictors and parameterization == "delta":
        raise FormulaError(f"ordered item(s) {predictors} are predictors ('~' right-hand side) under "
                           "parameterization='delta'. There the residual variance of an ordered item is not a "
                           "parameter (it is 1/Δ² minus the explained variance) yet a predictor's latent-response "
                           "variance enters its outcomes' moments; lavaan 0.6.14 accepts such a model (an ordered "
                           "mediator, 'u ~ F' and 'y ~ u') but its delta fit did not converge in our checks. Use "
                           "parameterization='theta' (the latent response u* enters the structural part with its "
                           "residual variance fixed at 1, as lavaan), or a latent variable measured by the item.")
    clash = [v for v in ordered if v in latent]
    if clash:
        raise FormulaError(f"{clash} are both latent variables and ordered items.")
