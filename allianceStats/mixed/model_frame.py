r"""The model frame of an lme4 formula: its variables evaluated on the data (R's ``model.frame``).

:func:`model_frame` takes a formula parsed with ``parse_formula(..., extended=True)`` and the data, and returns a
*working table* (a new DataFrame; the input is never modified) with one column per model variable, plus a
*materialised* :class:`~allianceStats.mixed.formula.Formula` whose every term is a column of that table — the
form the estimation engines read (:mod:`allianceStats.mixed.design`, :mod:`allianceStats.mixed.glmm_design`).

Variables (R's semantics, R Core Team, *R: A Language and Environment for Statistical Computing*, ``stats``):

* arithmetic ``+ - * / ^ %%``, comparisons (a logical variable is coded as a factor, ``I(x > 1)TRUE``),
  ``I()``, ``log(x)`` / ``log(x, base)``, ``log2``, ``log10``, ``log1p``, ``exp``, ``expm1``, ``sqrt``, ``abs``,
  ``as.numeric``;
* ``scale(x, center = TRUE, scale = TRUE)``: (x − mean) / SD (SD with n − 1);
* ``poly(x, degree)``: orthogonal polynomials exactly as R's ``poly()`` (centred powers orthogonalised by a QR
  decomposition and scaled to unit length; Kennedy & Gentle 1980, *Statistical Computing*, sec. 8.7), columns
  ``poly(x, 2)1``, ``poly(x, 2)2``; ``raw = TRUE`` gives the powers;
* ``factor(x)`` / ``as.factor(x)``: levels in R's order (numbers sorted as numbers, labels as R prints them:
  ``2, 9, 10``), columns ``factor(cohort)9``;
* ``offset(expr)``: a term with coefficient 1. For the linear mixed model it is subtracted from the response
  (the working response column is named ``y - offset(...)``); estimates and likelihood are unchanged by this.

As in R, stateful transformations (``scale``, ``poly``) are computed from the non-missing values of their
argument in the data given (R evaluates them before ``na.omit``); R's ``poly()`` refuses missing values, here
they become missing rows. A column whose name is exactly a variable's label (``log(x)``, ``poly(x, 2)1``) is used
as it is: this is how a refit on a fit's ``model_frame`` reuses the values of the original fit.

Random-effects terms get their Z columns (``(1 + phase | g)`` → ``phaselate``; ``(0 + phase | g)`` → both
levels), coded from the complete rows as ``model.matrix`` codes them; grouping interactions ``g1:g2`` get a column
of labels ``g1:g2`` (lme4's names, e.g. ``T01:c1``). When ``||`` splits one grouping factor into several terms,
their columns are named as lme4 names them in ``VarCorr`` (R's ``make.names(unique = TRUE)``:
``therapist.client``, ``therapist.client.1``).

Example
-------
>>> import numpy as np, pandas as pd
>>> from allianceStats.mixed.formula import parse_formula
>>> d = pd.DataFrame({"y": [1.0, 2, 4, 3, 5, 8], "s": [0.0, 1, 2, 0, 1, 2], "t": list("aabbcc"),
...                   "c": ["c1", "c2"] * 3})
>>> frame, plain = model_frame(parse_formula("log(y) ~ poly(s, 2) + (1 | t:c)", extended=True), d)
>>> plain.response, plain.fixed_terms, plain.random[0].group
('log(y)', [('poly(s, 2)1',), ('poly(s, 2)2',)], 't:c')
>>> frame["t:c"].tolist()[:2], np.round(frame["poly(s, 2)1"].to_numpy()[:3], 4).tolist()
(['a:c1', 'a:c2'], [-0.5, 0.0, 0.5])
"""
from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from pandas.api.types import is_bool_dtype, is_numeric_dtype

from ..data.checks import require_columns, require_frame
from ..errors import FormulaError
from .design import _factor_levels_of, _fixed_columns
from .formula import Formula, Node, RandomTerm, _r_number

_UNARY_FUNCTIONS = {
    "exp": np.exp, "sqrt": np.sqrt, "abs": np.abs, "log2": np.log2, "log10": np.log10, "log1p": np.log1p,
    "expm1": np.expm1, "sin": np.sin, "cos": np.cos, "tan": np.tan, "as.numeric": lambda v: v.astype(float),
}


@dataclass(frozen=True)
class FrameSpec:
    """How each variable was computed, for new data: the parameters of ``scale()`` and ``poly()`` (by label) and
    the levels of the factors in random terms (by column)."""

    params: dict[str, Any] = field(default_factory=dict)
    levels: dict[str, list[str]] = field(default_factory=dict)


# ---------------------------------------------------------------------------------------------- evaluation
def _column(data: pd.DataFrame, name: str):
    col = data[name]
    if isinstance(col.dtype, pd.CategoricalDtype) or not (is_numeric_dtype(col) or is_bool_dtype(col)):
        return col.to_numpy(dtype=object)
    if is_bool_dtype(col):
        return col.to_numpy(dtype=bool)
    return col.to_numpy(dtype=float)


def _numeric(v, where: str) -> np.ndarray | float:
    if isinstance(v, pd.Categorical) or (isinstance(v, np.ndarray) and v.dtype == object):
        raise FormulaError(f"{where}: arithmetic on a non-numeric column; only numbers can be transformed.")
    if isinstance(v, np.ndarray) and v.dtype == bool:
        return v.astype(float)
    return v


def _r_label(v) -> str:
    if isinstance(v, (bool, np.bool_)):
        return "TRUE" if v else "FALSE"
    if isinstance(v, (int, float, np.integer, np.floating)):
        return _r_number(float(v))
    return str(v)


def _missing(v) -> np.ndarray:
    return np.asarray(pd.isna(np.asarray(v, dtype=object)), dtype=bool)


def _flag(node: Node, name: str, default: bool, where: str) -> bool:
    for k, v in node.kwargs:
        if k == name:
            if v.kind == "name" and v.value in ("TRUE", "T", "FALSE", "F"):
                return v.value in ("TRUE", "T")
            raise FormulaError(f"{where}: {name} = {v.deparse()} must be TRUE or FALSE.")
    return default


def _poly(x: np.ndarray, node: Node, where: str) -> tuple[np.ndarray, dict]:
    """R's ``poly(x, degree, raw = FALSE)`` on the non-missing values (NaN rows stay NaN)."""
    args = node.args
    if len(args) < 1 or len(args) > 2:
        raise FormulaError(f"{where}: write poly(x, degree) or poly(x, degree, raw = TRUE).")
    degree = 1
    deg_node = args[1] if len(args) == 2 else dict(node.kwargs).get("degree")
    if deg_node is not None:
        if deg_node.kind != "num" or deg_node.value != int(deg_node.value) or deg_node.value < 1:
            raise FormulaError(f"{where}: the degree must be a whole number >= 1.")
        degree = int(deg_node.value)
    unknown = [k for k, _ in node.kwargs if k not in ("degree", "raw")]
    if unknown:
        raise FormulaError(f"{where}: poly() argument(s) {unknown} are not supported (only degree and raw).")
    raw = _flag(node, "raw", False, where)
    ok = ~np.isnan(x)
    out = np.full((len(x), degree), np.nan)
    if raw:
        out[ok] = np.vander(x[ok], degree + 1, increasing=True)[:, 1:]
        return out, {"raw": True, "degree": degree}
    if len(np.unique(x[ok])) <= degree:
        raise FormulaError(f"{where}: 'degree' must be less than the number of unique points "
                           f"({len(np.unique(x[ok]))}), as in R.")
    xbar = float(x[ok].mean())
    xc = x[ok] - xbar
    X = np.vander(xc, degree + 1, increasing=True)
    Q, R = np.linalg.qr(X)
    Z = Q * np.diag(R)
    norm2 = (Z ** 2).sum(axis=0)
    alpha = ((xc[:, None] * Z ** 2).sum(axis=0) / norm2 + xbar)[:degree]
    out[ok] = (Z / np.sqrt(norm2))[:, 1:]
    return out, {"raw": False, "degree": degree, "alpha": alpha.tolist(), "norm2": [1.0, *norm2.tolist()]}


def _poly_predict(x: np.ndarray, params: dict) -> np.ndarray:
    """R's ``predict(poly(...), newdata)``: the three-term recurrence with the fit's ``alpha`` and ``norm2``."""
    degree = params["degree"]
    if params["raw"]:
        return np.column_stack([x ** k for k in range(1, degree + 1)])
    alpha, norm2 = params["alpha"], params["norm2"]
    Z = np.ones((len(x), degree + 1))
    Z[:, 1] = x - alpha[0]
    for i in range(2, degree + 1):
        Z[:, i] = (x - alpha[i - 1]) * Z[:, i - 1] - (norm2[i] / norm2[i - 1]) * Z[:, i - 2]
    return (Z / np.sqrt(norm2[1:]))[:, 1:]


def _factor(v, where: str, categories: list | None = None) -> pd.Categorical:
    """R's ``factor(x)``: levels sorted by value (or the given order), labelled as R prints them."""
    miss = _missing(v)
    present = [x for x, m in zip(v, miss) if not m]
    if categories is not None:
        levels = [c for c in categories if c in set(present)]
    else:
        try:
            levels = sorted(set(present))
        except TypeError:
            levels = sorted(set(present), key=str)
    labels = [_r_label(x) for x in levels]
    lookup = dict(zip(levels, labels))
    return pd.Categorical([None if m else lookup[x] for x, m in zip(v, miss)], categories=labels)


class _Evaluator:
    """Evaluates variable expressions on the data, recording the parameters of stateful transformations."""

    def __init__(self, data: pd.DataFrame, formula_text: str, fitted: dict[str, Any] | None = None):
        self.data = data
        self.text = formula_text
        self.params: dict[str, Any] = {}
        self.fitted = fitted          # parameters of a fit: evaluate new data as R's predict() does

    def __call__(self, node: Node):
        where = f"{node.deparse()!r} in {self.text!r}"
        k = node.kind
        if k in ("num", "str"):
            return node.value
        if k == "name":
            if node.value in ("TRUE", "T"):
                return True
            if node.value in ("FALSE", "F"):
                return False
            if node.value == "pi":
                return np.pi
            return _column(self.data, node.value)
        if k == "paren":
            return self(node.args[0])
        if k == "un":
            v = self(node.args[0])
            if node.value == "!":
                return ~np.asarray(v, dtype=bool)
            v = _numeric(v, where)
            return -v if node.value == "-" else v
        if k == "bin":
            op = node.value
            a, b = self(node.args[0]), self(node.args[1])
            if op in ("==", "!="):
                a = np.asarray(a, dtype=object) if isinstance(a, np.ndarray) and a.dtype == object else a
                res = np.asarray(a == b) if op == "==" else np.asarray(a != b)
                return res.astype(bool)
            a, b = _numeric(a, where), _numeric(b, where)
            with np.errstate(all="ignore"):
                if op == "+":
                    return a + b
                if op == "-":
                    return a - b
                if op == "*":
                    return a * b
                if op == "/":
                    return a / b
                if op == "^":
                    return np.power(a, b)
                if op == "%%":
                    return np.mod(a, b)
                if op in ("<", ">", "<=", ">="):
                    res = np.asarray({"<": np.less, ">": np.greater, "<=": np.less_equal,
                                      ">=": np.greater_equal}[op](a, b), dtype=bool)
                    miss = np.isnan(np.asarray(a + b, dtype=float))
                    if not np.any(miss):
                        return res
                    # a logical with missing values: a factor (R codes logical variables as factors)
                    return pd.Categorical(np.where(miss, None, np.where(res, "TRUE", "FALSE")),
                                          categories=["FALSE", "TRUE"])
            raise FormulaError(f"operator {op!r} in {where} cannot be evaluated; wrap arithmetic in I().")
        return self._call(node, where)

    def _call(self, node: Node, where: str):
        fn = node.value
        if fn in ("I", "as.vector"):
            if len(node.args) != 1:
                raise FormulaError(f"{where}: {fn}() takes one argument.")
            return self(node.args[0])
        if fn in ("factor", "as.factor"):
            if len(node.args) != 1 or node.kwargs:
                raise FormulaError(f"{where}: {fn}() takes one column; give levels as a pandas Categorical instead.")
            arg = node.args[0]
            categories = None
            if arg.kind == "name" and arg.value in self.data.columns:
                col = self.data[arg.value]
                if isinstance(col.dtype, pd.CategoricalDtype):
                    categories = list(col.cat.categories)
            return _factor(self(arg), where, categories)
        if fn == "poly":
            x = np.asarray(_numeric(self(node.args[0]), where), dtype=float) if node.args else None
            if x is None:
                raise FormulaError(f"{where}: poly() needs a variable.")
            if self.fitted is not None and node.deparse() in self.fitted:
                return _poly_predict(x, self.fitted[node.deparse()])
            out, params = _poly(x, node, where)
            self.params[node.deparse()] = params
            return out
        if fn == "scale":
            if len(node.args) != 1:
                raise FormulaError(f"{where}: write scale(x) (centre and scale), scale(x, scale = FALSE) or "
                                   "scale(x, center = FALSE).")
            x = np.asarray(_numeric(self(node.args[0]), where), dtype=float)
            center, scale = _flag(node, "center", True, where), _flag(node, "scale", True, where)
            if self.fitted is not None and node.deparse() in self.fitted:
                fp = self.fitted[node.deparse()]
                return (x - fp["center"]) / fp["scale"]
            ok = ~np.isnan(x)
            m = float(x[ok].mean()) if center else 0.0
            xc = x - m
            s = float(np.sqrt((xc[ok] ** 2).sum() / max(ok.sum() - 1, 1))) if scale else 1.0
            self.params[node.deparse()] = {"center": m, "scale": s}
            return xc / s
        if fn == "log":
            if not 1 <= len(node.args) + len(node.kwargs) <= 2:
                raise FormulaError(f"{where}: write log(x) or log(x, base).")
            x = _numeric(self(node.args[0]), where)
            base_node = node.args[1] if len(node.args) == 2 else dict(node.kwargs).get("base")
            with np.errstate(all="ignore"):
                out = np.log(x)
                return out / np.log(float(self(base_node))) if base_node is not None else out
        if fn in _UNARY_FUNCTIONS:
            if len(node.args) != 1 or node.kwargs:
                raise FormulaError(f"{where}: {fn}() takes one argument.")
            with np.errstate(all="ignore"):
                return _UNARY_FUNCTIONS[fn](np.asarray(_numeric(self(node.args[0]), where), dtype=float))
        raise FormulaError(
            f"function {fn}() in {where} is not supported; the functions read in formulas are I(), log(), exp(), "
            "sqrt(), abs(), log2(), log10(), log1p(), expm1(), scale(), poly(), factor(), as.numeric() and "
            "offset(). Compute other transformations as a column first.")


# ---------------------------------------------------------------------------------------------- the frame
def _make_names(names: list[str]) -> list[str]:
    """R's ``make.names(names, unique = TRUE)`` (lme4's ``VarCorr`` names when a grouping factor repeats)."""
    out, seen = [], {}
    for nm in names:
        valid = re.sub(r"[^A-Za-z0-9._]", ".", nm)
        if not re.match(r"^([A-Za-z]|\.(?![0-9]))", valid):
            valid = "X" + valid
        base, k = valid, seen.get(valid, 0)
        while valid in out:
            k += 1
            valid = f"{base}.{k}"
        seen[base] = k
        out.append(valid)
    return out


def _needed_columns(formula: Formula, data: pd.DataFrame, extra: tuple[str, ...], response: bool = True) -> list[str]:
    """Data columns to read: a variable's own column when present (reuse), else the columns its expression reads."""
    labels = [*[v for t in formula.fixed_terms for v in t], *[v for r in formula.random for t in r.terms for v in t]]
    if not response:
        pass
    elif not (formula.offsets and _offset_label(formula) in data.columns):
        labels = [formula.response, *formula.offsets, *labels]
    need: list[str] = [_offset_label(formula)] if (response and formula.offsets
                                                   and _offset_label(formula) in data.columns) else []
    for lab in dict.fromkeys(labels):
        node = formula.expressions.get(lab)
        if node is None:
            need.append(lab)
        elif _reusable(lab, node, data):
            degree = _poly_degree(node)
            need += [lab] if degree is None else [f"{lab}{k}" for k in range(1, degree + 1)]
        else:
            need += node.names()
    for r in formula.random:
        need += list(r.group_vars or (r.group,))
    need += [c for c in extra if c is not None]
    return list(dict.fromkeys(need))


def _offset_label(formula: Formula) -> str:
    """The working response of a formula with offsets: ``y - offset(a) - offset(b)``."""
    return f"{formula.response} - " + " - ".join(f"offset({o})" for o in formula.offsets)


def _poly_degree(node: Node) -> int | None:
    if node.kind != "call" or node.value != "poly":
        return None
    deg = node.args[1] if len(node.args) >= 2 else dict(node.kwargs).get("degree")
    return int(deg.value) if deg is not None and deg.kind == "num" else 1


def _reusable(label: str, node: Node, data: pd.DataFrame) -> bool:
    degree = _poly_degree(node)
    if degree is None:
        return label in data.columns
    return degree >= 1 and all(f"{label}{k}" in data.columns for k in range(1, degree + 1))


def model_frame(formula: Formula, data: pd.DataFrame, *, extra_columns: tuple[str, ...] = (),
                where: str = "fit_mlm", fitted: FrameSpec | None = None) -> tuple[pd.DataFrame, Formula]:
    """Evaluate the variables of ``formula`` on ``data``: the working table and the materialised formula.

    Parameters
    ----------
    formula : Formula
        From ``parse_formula(text, extended=True)``.
    data : pandas.DataFrame
        The table (never modified).
    extra_columns : tuple of str
        Other columns to keep in the working table (session time of an AR(1) residual, weights).
    where : str
        The public function named in error messages.
    fitted : FrameSpec, optional
        The ``frame_spec`` of a fit: evaluate ``scale()`` and ``poly()`` with the fit's parameters and code the
        factors of random terms with the fit's levels (R's ``predict()``), for new data.

    Returns
    -------
    frame : pandas.DataFrame
        The data's used columns plus one column per evaluated variable, Z column and grouping interaction.
    plain : Formula
        The same model with every term a column of ``frame``; ``term_of`` maps its fixed terms to R's terms
        (``term_labels``) and ``frame_spec`` records the parameters of ``scale()`` and ``poly()``.

    Raises
    ------
    SchemaError
        A column the formula reads is missing (every missing column listed).
    FormulaError
        An expression cannot be evaluated (unknown function, arithmetic on text, bad ``poly()`` degree).

    Examples
    --------
    The module docstring has an example.
    """
    data = require_frame(data, where=where)
    predicting = fitted is not None                  # new data: no response needed
    needed = _needed_columns(formula, data, extra_columns, response=not predicting)
    require_columns(data, needed, where=where, what="newdata" if predicting else "data")
    ev = _Evaluator(data, formula.text, None if fitted is None else fitted.params)
    random_levels: dict[str, list[str]] = {}
    frame = data.loc[:, needed].copy()
    columns_of: dict[str, list[str]] = {}

    def materialise(label: str) -> list[str]:
        if label in columns_of:
            return columns_of[label]
        node = formula.expressions.get(label)
        if node is None:
            cols = [label]
        elif _reusable(label, node, data):
            degree = _poly_degree(node)
            cols = [label] if degree is None else [f"{label}{k}" for k in range(1, degree + 1)]
            for c in cols:
                frame[c] = data[c]
        else:
            value = ev(node)
            if isinstance(value, np.ndarray) and value.ndim == 2:
                cols = [f"{label}{k}" for k in range(1, value.shape[1] + 1)]
                for k, c in enumerate(cols):
                    frame[c] = value[:, k]
            else:
                if np.ndim(value) == 0:
                    raise FormulaError(f"{label!r} in {formula.text!r} is a constant, not a variable.")
                frame[label] = value
                cols = [label]
        columns_of[label] = cols
        return cols

    if predicting:
        response = formula.response
    elif formula.offsets and _offset_label(formula) in data.columns:
        response = _offset_label(formula)
    else:
        cols = materialise(formula.response)
        if len(cols) != 1:
            raise FormulaError(f"the response {formula.response!r} of {formula.text!r} must be one column.")
        response = cols[0]
    if formula.offsets and not predicting and response != _offset_label(formula):
        total = 0.0
        for lab in formula.offsets:
            cols = materialise(lab)
            if len(cols) != 1 or not is_numeric_dtype(frame[cols[0]]):
                raise FormulaError(f"offset({lab}) in {formula.text!r} must be one numeric variable.")
            total = total + frame[cols[0]].to_numpy(dtype=float)
        label = _offset_label(formula)
        frame[label] = pd.to_numeric(frame[response], errors="coerce").to_numpy(dtype=float) - total
        response = label

    fixed, term_of = [], []
    for k, term in enumerate(formula.fixed_terms):
        pieces = [materialise(v) for v in term]
        combos: list[tuple[str, ...]] = [()]
        for cols in pieces:
            combos = [c + (x,) for c in combos for x in cols]
        fixed += combos
        term_of += [k] * len(combos)

    # grouping columns (lme4's names; make.names when a factor appears in several terms, as lme4's VarCorr)
    names = [r.group for r in formula.random]
    keys = _make_names(names) if len(set(names)) < len(names) else names
    for r, key in zip(formula.random, keys):
        cols = list(r.group_vars or (r.group,))
        if cols == [key]:
            continue
        parts = [frame[c] for c in cols]
        miss = np.zeros(len(frame), dtype=bool)
        for p in parts:
            miss |= p.isna().to_numpy()
        text = parts[0].map(_r_label).astype(str)
        for p in parts[1:]:
            text = text + ":" + p.map(_r_label).astype(str)
        frame[key] = text.where(~miss, None)

    # random-effect covariates: Z columns coded on the complete rows, as model.matrix codes them
    base_cols = [*([] if predicting else [response]), *[c for t in fixed for c in t], *keys,
                 *[c for c in extra_columns if c]]
    lhs_cols = {lab: materialise(lab) for r in formula.random for t in r.terms for lab in t}
    complete = frame[list(dict.fromkeys(base_cols + [c for v in lhs_cols.values() for c in v]))].notna().all(axis=1)
    random = []
    for r, key in zip(formula.random, keys):
        cov_names: list[str] = []
        if r.terms:
            mini_terms = []
            for t in r.terms:
                combos = [()]
                for lab in t:
                    combos = [c + (x,) for c in combos for x in lhs_cols[lab]]
                mini_terms += combos
            mini = Formula(text=r.text, response=response, intercept=r.intercept, fixed_terms=mini_terms, random=[])
            sub = frame.loc[complete.to_numpy()]
            levels = _factor_levels_of(mini, sub) if fitted is None else \
                {v: fitted.levels[v] for t in mini_terms for v in t if v in fitted.levels}
            random_levels.update(levels)
            Z, znames = _fixed_columns(mini, frame, levels)
            for j, nm in enumerate(znames):
                if nm == "(Intercept)":
                    continue
                values = np.where(complete.to_numpy(), Z[:, j], np.nan)
                if nm in frame.columns and nm not in lhs_cols.get(nm, []):
                    old = pd.to_numeric(frame[nm], errors="coerce").to_numpy(dtype=float)
                    if not np.allclose(old[complete.to_numpy()], values[complete.to_numpy()], equal_nan=True):
                        raise FormulaError(f"random term {r.text!r} of {formula.text!r} creates a column {nm!r}, "
                                           "but the data already have a different column of that name; rename it.")
                frame[nm] = values
                cov_names.append(nm)
        random.append(RandomTerm(group=key, intercept=r.intercept, covariates=cov_names, text=r.text,
                                 terms=[(c,) for c in cov_names], group_vars=(key,)))
    plain = Formula(text=formula.text, response=response, intercept=formula.intercept, fixed_terms=fixed,
                    random=random, term_labels=list(formula.term_labels), term_of=term_of,
                    frame_spec=FrameSpec(dict(ev.params), random_levels) if fitted is None else fitted)
    return frame, plain


def materialised_copy(plain: Formula, **changes) -> Formula:
    """A copy of a materialised formula with some fields changed (a frozen dataclass)."""
    return dataclasses.replace(plain, **changes)


def frame_for_prediction(plain: Formula, newdata: pd.DataFrame) -> pd.DataFrame:
    """``newdata`` with the model-frame columns of a fitted formula, computed as R's ``predict()`` computes them
    (``scale()`` and ``poly()`` with the fit's parameters, the fit's factor levels); no response is needed. Offsets
    are not part of the prediction (the working response of a fit with ``offset()`` is y − offset).

    >>> import pandas as pd
    >>> from allianceStats.mixed.formula import parse_formula
    >>> d = pd.DataFrame({"y": [1.0, 2, 4, 3, 5, 8], "s": [0.0, 1, 2, 0, 1, 2], "g": list("aabbcc")})
    >>> _, plain = model_frame(parse_formula("y ~ scale(s) + (1 | g)", extended=True), d)
    >>> frame_for_prediction(plain, pd.DataFrame({"s": [1.0, 3.0], "g": ["a", "z"]}))["scale(s)"].round(4).tolist()
    [0.0, 2.2361]
    """
    from .formula import parse_formula

    spec = parse_formula(plain.text, extended=True)
    frame, _ = model_frame(spec, newdata, where="MixedResult.predict", fitted=plain.frame_spec)
    return frame
