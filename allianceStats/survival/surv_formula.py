r"""Survival formulas as R's ``survival`` package reads them, and the covariate matrix they imply.

Syntax
------
``Surv(time, event) ~ x1 + x2``  right-censored times (one row per client);
``Surv(start, stop, event) ~ x1 + x2``  counting-process rows :math:`(start, stop]` (Andersen & Gill 1982):
time-varying covariates, left truncation (delayed entry) and recurrent intervals.

The event argument is a 0/1 column, ``TRUE``/``FALSE``, or a comparison ``status == 1`` (``status == "relapse"``)
that makes one cause the event (cause-specific hazards). Right-hand side: numeric columns; ``a:b`` (product),
``a*b`` (``a + b + a:b``); text, categorical and boolean columns and ``factor(x)`` are treatment coded with the
first (sorted) level as reference and columns named as R names them (``celltypelarge``, ``factor(x)2``);
``strata(g)`` (or ``strata(g1, g2)``) gives each level its own baseline hazard (no coefficient);
``cluster(id)`` is the same as the ``cluster=`` argument. Terms are ordered as R's ``terms()`` orders them: main
effects in the order written, then two-way interactions, and so on. There is no intercept (a Cox model's
baseline absorbs it); ``+ 1`` is accepted and ignored, ``- 1`` / ``+ 0`` too.

Not supported (a :class:`~allianceStats.errors.FormulaError` quoting the text): transformations (``log(x)``,
``I(x^2)``, ``pspline()``; compute the column first), ``tt()``, ``frailty()``, ``offset()``, ``.``, three-way
products of two or more factors.

Reference: Therneau, T. M., & Grambsch, P. M. (2000). *Modeling survival data: Extending the Cox model*.
Springer, ch. 3 (counting-process data) and R's ``?Surv``, ``?coxph``, ``?strata``.

Example
-------
>>> spec = parse_surv_formula("Surv(start, stop, event) ~ age * transplant + strata(surgery)")
>>> spec.start, spec.stop, spec.event, spec.strata
('start', 'stop', 'event', ('surgery',))
>>> [t.label for t in spec.terms]
['age', 'transplant', 'age:transplant']
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from ..errors import FormulaError, SchemaError
from ._messages import labels_of

_NAME = re.compile(r"^[A-Za-z_.][A-Za-z0-9_.]*$")
_EVENT_CMP = re.compile(r"^([A-Za-z_.][A-Za-z0-9_.]*)\s*==\s*(.+)$")


@dataclass(frozen=True)
class Term:
    """One model term: the variables it multiplies (``("age", "trt")`` for ``age:trt``) and which of them are
    forced to be factors (``factor(x)``)."""

    variables: tuple[str, ...]
    forced_factor: tuple[bool, ...]

    @property
    def label(self) -> str:
        """The term as R labels it (``age:trt``, ``factor(x)``)."""
        return ":".join(f"factor({v})" if f else v for v, f in zip(self.variables, self.forced_factor))


@dataclass(frozen=True)
class SurvSpec:
    """A parsed survival formula (:func:`parse_surv_formula`)."""

    text: str
    start: str | None
    stop: str
    event: str
    event_value: object | None
    terms: tuple[Term, ...]
    strata: tuple[str, ...] = ()
    cluster: str | None = None

    @property
    def counting_process(self) -> bool:
        """``Surv(start, stop, event)``: rows are (start, stop] intervals."""
        return self.start is not None

    @property
    def covariates(self) -> list[str]:
        """Every covariate column the right-hand side uses (strata and cluster excluded)."""
        return list(dict.fromkeys(v for t in self.terms for v in t.variables))

    @property
    def columns(self) -> list[str]:
        """Every data column the formula names."""
        cols = [c for c in (self.start, self.stop, self.event) if c is not None]
        cols += self.covariates + list(self.strata) + ([self.cluster] if self.cluster else [])
        return list(dict.fromkeys(cols))


def _split_top(text: str, sep: str) -> list[str]:
    parts, depth, cur = [], 0, ""
    for ch in text:
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        if depth < 0:
            raise FormulaError(f"unbalanced parentheses in {text!r}")
        if depth == 0 and ch in sep:
            parts.append(cur.strip())
            cur = ""
            continue
        cur += ch
    if depth != 0:
        raise FormulaError(f"unbalanced parentheses in {text!r}")
    parts.append(cur.strip())
    return parts


def _name(text: str, formula: str) -> str:
    text = text.strip()
    if text.startswith("`") and text.endswith("`") and len(text) > 2:
        return text[1:-1]
    if not _NAME.match(text):
        raise FormulaError(f"{text!r} in {formula!r} is not a column name; transformations are not supported — "
                           f"compute the column first (e.g. data.assign(log_x=np.log(data.x)))")
    return text


def _parse_value(text: str):
    text = text.strip()
    if len(text) >= 2 and text[0] == text[-1] and text[0] in "'\"":
        return text[1:-1]
    if text in ("TRUE", "True"):
        return True
    if text in ("FALSE", "False"):
        return False
    try:
        value = float(text)
    except ValueError:
        raise FormulaError(f"event comparison value {text!r} is neither a number nor a quoted label") from None
    return int(value) if value.is_integer() else value


def _parse_lhs(lhs: str, formula: str):
    m = re.fullmatch(r"\s*Surv\s*\((.*)\)\s*", lhs)
    if not m:
        raise FormulaError(f"the left-hand side of {formula!r} must be Surv(time, event) or "
                           f"Surv(start, stop, event); found {lhs.strip()!r}")
    args = _split_top(m.group(1), ",")
    if len(args) not in (2, 3) or any(not a for a in args):
        raise FormulaError(f"Surv() takes (time, event) or (start, stop, event); found {len(args)} argument(s) "
                           f"in {lhs.strip()!r}")
    event_text = args[-1]
    cmp = _EVENT_CMP.match(event_text)
    if cmp:
        event, value = _name(cmp.group(1), formula), _parse_value(cmp.group(2))
    else:
        event, value = _name(event_text, formula), None
    times = [_name(a, formula) for a in args[:-1]]
    start, stop = (None, times[0]) if len(times) == 1 else (times[0], times[1])
    return start, stop, event, value


def _factor_arg(text: str, formula: str) -> tuple[str, bool]:
    m = re.fullmatch(r"factor\s*\((.*)\)", text.strip())
    if m:
        return _name(m.group(1), formula), True
    return _name(text, formula), False


def parse_surv_formula(formula: str, *, require_terms: bool = True) -> SurvSpec:
    """Parse ``Surv(...) ~ terms`` (module docstring) into a :class:`SurvSpec`.

    Parameters
    ----------
    formula : str
        R's survival formula, e.g. ``"Surv(start, stop, relapse) ~ alliance + strata(site)"``.
    require_terms : bool
        Refuse a right-hand side without covariates (a Cox model needs one; a survival curve does not).

    Returns
    -------
    SurvSpec
        Time, event and covariate names, terms in R's order, strata and cluster columns.

    Raises
    ------
    FormulaError
        The text is not a formula this parser reads; the message quotes the offending part.

    Examples
    --------
    >>> parse_surv_formula("Surv(time, status == 2) ~ age + sex").event_value
    2
    """
    if not isinstance(formula, str) or "~" not in formula:
        raise FormulaError(f"formula={formula!r}: expected a string such as 'Surv(time, event) ~ x'")
    lhs, rhs = formula.split("~", 1)
    start, stop, event, value = _parse_lhs(lhs, formula)
    mains: list[Term] = []
    inter: list[Term] = []
    strata: list[str] = []
    cluster = None
    pieces = [p for p in _split_top(rhs.replace("-", "+-"), "+") if p]
    for piece in pieces:
        if piece in ("1", "0", "-1", "-0"):
            continue
        if piece.startswith("-"):
            raise FormulaError(f"removing terms ({piece!r}) is not supported in {formula!r}")
        if piece == ".":
            raise FormulaError(f"'.' is not supported in {formula!r}; name the covariates")
        m = re.fullmatch(r"(strata|cluster)\s*\((.*)\)", piece)
        if m:
            names = [_name(a, formula) for a in _split_top(m.group(2), ",")]
            if m.group(1) == "strata":
                strata.extend(names)
            else:
                if len(names) != 1 or cluster is not None:
                    raise FormulaError(f"cluster() takes one column, once; found {piece!r} in {formula!r}")
                cluster = names[0]
            continue
        if re.match(r"(tt|frailty|offset|pspline|ns|I|log|exp|sqrt)\s*\(", piece):
            raise FormulaError(f"{piece!r} in {formula!r} is not supported; compute the column first")
        if "*" in piece:
            factors = [_factor_arg(p, formula) for p in _split_top(piece, "*")]
            for size in range(1, len(factors) + 1):
                for combo in _combinations(factors, size):
                    (mains if size == 1 else inter).append(Term(tuple(v for v, _ in combo),
                                                                tuple(f for _, f in combo)))
            continue
        factors = [_factor_arg(p, formula) for p in _split_top(piece, ":")]
        (mains if len(factors) == 1 else inter).append(Term(tuple(v for v, _ in factors),
                                                            tuple(f for _, f in factors)))
    terms: list[Term] = []
    seen: set[frozenset] = set()
    for t in sorted(mains + inter, key=lambda t: len(t.variables)):  # stable: R's order by degree
        key = frozenset(t.variables)
        if key not in seen:
            seen.add(key)
            terms.append(t)
    if not terms and require_terms:
        raise FormulaError(f"{formula!r} has no covariate; a Cox model needs at least one (for a curve without "
                           f"covariates use kaplan_meier)")
    return SurvSpec(text=formula, start=start, stop=stop, event=event, event_value=value, terms=tuple(terms),
                    strata=tuple(strata), cluster=cluster)


def _combinations(items, size):
    from itertools import combinations

    return list(combinations(items, size))


# ---------------------------------------------------------------------------------------------------------------
# The covariate matrix
# ---------------------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Design:
    """Covariate matrix of a :class:`SurvSpec` on a table, with what is needed to rebuild it on new data.

    ``columns`` are R's coefficient names; ``assign[i]`` is the term (index into ``spec.terms``) of column *i*;
    ``levels`` maps each factor variable to its levels (the first is the reference).
    """

    X: np.ndarray
    columns: list[str]
    assign: list[int]
    levels: dict[str, list] = field(default_factory=dict)


def _is_factor(series: pd.Series, forced: bool) -> bool:
    return forced or not pd.api.types.is_numeric_dtype(series) or pd.api.types.is_bool_dtype(series)


def factor_levels(data: pd.DataFrame, spec: SurvSpec) -> dict[str, list]:
    """Levels of every factor variable of ``spec`` in ``data`` (sorted, as R's ``factor()``; categorical columns
    keep their category order)."""
    levels: dict[str, list] = {}
    for term in spec.terms:
        for v, forced in zip(term.variables, term.forced_factor):
            s = data[v]
            if _is_factor(s, forced):
                if isinstance(s.dtype, pd.CategoricalDtype):
                    levels[v] = [c for c in s.cat.categories if (s == c).any()]
                else:
                    levels[v] = sorted(pd.unique(s.dropna()).tolist(), key=lambda x: (str(type(x)), x))
    return levels


def build_design(data: pd.DataFrame, spec: SurvSpec, levels: dict[str, list] | None = None) -> Design:
    """The covariate matrix of ``spec`` on ``data``: numeric columns as they are, factors treatment coded.

    ``levels`` (from a fitted model) rebuilds the same columns on new data; a level not seen in the fit is an
    error. Rows with a missing covariate give NaN (the caller reports them).

    Parameters
    ----------
    data : pandas.DataFrame
        Holds every covariate column of ``spec``.
    spec : SurvSpec
        The parsed formula.
    levels : dict, optional
        Factor levels to use (default: from ``data``).

    Returns
    -------
    Design

    Raises
    ------
    SchemaError
        A level of a factor not seen when the model was fitted.

    Examples
    --------
    >>> import pandas as pd
    >>> d = pd.DataFrame({"age": [50.0, 60.0, 70.0], "arm": ["b", "a", "b"]})
    >>> des = build_design(d, parse_surv_formula("Surv(t, e) ~ age * arm"))
    >>> des.columns, des.X[:, 2].tolist()
    (['age', 'armb', 'age:armb'], [50.0, 0.0, 70.0])
    """
    levels = factor_levels(data, spec) if levels is None else levels
    n = len(data)
    blocks: list[np.ndarray] = []
    names: list[str] = []
    assign: list[int] = []
    problems = []
    for v, lev in levels.items():
        if v in data.columns:
            bad = ~data[v].isin(lev) & data[v].notna()
            if bad.any():
                problems.append(f"column {v!r} has level(s) {labels_of(pd.unique(data.loc[bad, v]))} not seen "
                                f"when the model was fitted (levels {labels_of(lev)})")
    if problems:
        raise SchemaError(problems, source="build_design")
    for k, term in enumerate(spec.terms):
        cols = [(np.ones(n), "")]
        for v, forced in zip(term.variables, term.forced_factor):
            label = f"factor({v})" if forced else v
            if v in levels:
                s = data[v]
                dummies = [((s == lev).to_numpy(float) * np.where(s.isna(), np.nan, 1.0), f"{label}{lev}")
                           for lev in levels[v][1:]]
                # in an interaction whose lower-order term lacks this factor R codes all levels; we require
                # the main effects to be present, so the reference level is always dropped
                cols = [(a * b, f"{na}:{nb}" if na else nb) for a, na in cols for b, nb in dummies]
            else:
                x = pd.to_numeric(data[v], errors="coerce").to_numpy(float)
                cols = [(a * x, f"{na}:{label}" if na else label) for a, na in cols]
        for x, name in cols:
            blocks.append(x)
            names.append(name)
            assign.append(k)
    X = np.column_stack(blocks) if blocks else np.empty((n, 0))
    return Design(X=X, columns=names, assign=assign, levels=levels)
