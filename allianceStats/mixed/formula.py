"""Read lme4 formulas as R reads them: the expression, the terms, the random-effects terms.

An lme4 formula (Bates, Mächler, Bolker & Walker 2015, *J. Stat. Softw.* 67(1), section 2.1 and Table 2) is an
R expression. This module parses it with R's operator precedence (R Language Definition, section 10.4.2) and
applies R's formula algebra (Chambers & Hastie 1992, *Statistical Models in S*, ch. 2; R's ``terms.formula``):

* fixed part: ``a + b``, ``a - b`` (removal), ``a:b``, ``a*b`` (= ``a + b + a:b``, any number of factors),
  ``a/b`` (= ``a + a:b``), ``a %in% b``, ``(a + b + c)^2``, ``0 +`` / ``- 1`` / ``+ 1``, ``offset(...)``;
* *variables* are column names or calls: ``log(x)``, ``exp()``, ``sqrt()``, ``I(x^2)``, ``scale(x)``,
  ``poly(x, 2)`` (orthogonal, as R) / ``poly(x, 2, raw = TRUE)``, ``factor(x)``, ``abs()``, ``log2()``,
  ``log10()``, ``log1p()``, arithmetic and comparisons inside ``I()``; they are evaluated on the data by
  :mod:`allianceStats.mixed.model_frame`. A variable is labelled by its R deparse (``log(hours + 1)``,
  ``exp(alliance/5)``), which is how lme4 names the columns it creates;
* random part: ``(expr | g)`` with ``expr`` a formula of its own (intercept implied; factors and interactions
  allowed: random slopes of factors), ``(expr || g)`` (uncorrelated: ``(1 | g) + (0 + x | g)`` per term, as
  lme4 1.1's ``expandDoubleVerts``), grouping interactions ``g1:g2`` and nesting ``g1/g2`` (= ``g1`` and
  ``g2:g1``, lme4's ``expandSlash``, any depth: ``site/therapist/client``).

Terms are ordered as R's ``terms()`` orders them: by degree (main effects, two-way, ...), each degree in the order
of the expansion; the variables of an interaction in the order they first appear in the formula.

:func:`parse_formula` keeps, by default, the plain-column subset that every formula consumer supports
(``extended=False``); :func:`allianceStats.mixed.fit_mlm` reads the whole syntax (``extended=True``).

Examples
--------
>>> f = parse_formula("y ~ x + time + (1 + time | client) + (1 | therapist)")
>>> f.response, f.fixed_terms, f.intercept
('y', [('x',), ('time',)], True)
>>> [(r.group, r.intercept, r.covariates) for r in f.random]
[('client', True, ['time']), ('therapist', True, [])]
>>> g = parse_formula("log(y) ~ poly(s, 2) + a*b*c + (1 + s || therapist/client)", extended=True)
>>> g.response, g.term_labels
('log(y)', ['poly(s, 2)', 'a', 'b', 'c', 'a:b', 'a:c', 'b:c', 'a:b:c'])
>>> [(r.group, r.covariates) for r in g.random]
[('therapist', []), ('therapist', ['s']), ('client:therapist', []), ('client:therapist', ['s'])]
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from ..errors import FormulaError

_NAME = re.compile(r"^[A-Za-z_.][A-Za-z0-9_.]*$")
_TOKEN = re.compile(r"""\s*(?:
    (?P<num>(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?L?)
  | (?P<str>"[^"]*"|'[^']*')
  | (?P<name>`[^`]+`|[A-Za-z.][A-Za-z0-9._]*)
  | (?P<op>\|\||%in%|%%|<=|>=|==|!=|[-+*/^:|(),=~<>!])
  )""", re.X)

# binding powers (R Language Definition 10.4.2): higher binds tighter; '^' is right-associative
_BINARY = {"|": 2, "||": 2, "<": 5, ">": 5, "<=": 5, ">=": 5, "==": 5, "!=": 5, "+": 6, "-": 6, "*": 7,
           "/": 7, "%in%": 8, "%%": 8, ":": 9, "^": 11}
_UNARY = 10
_SPACED = {"+", "-", "*", "<", ">", "<=", ">=", "==", "!=", "%in%", "%%", "|", "||"}


# ---------------------------------------------------------------------------------------------- R expressions
@dataclass(frozen=True)
class Node:
    """One node of a parsed R expression: ``kind`` is ``num``, ``name``, ``call``, ``bin``, ``un`` or ``paren``."""

    kind: str                            # also ``str`` (a string literal)
    value: Any = None                    # number, name, function name or operator
    args: tuple[Node, ...] = ()          # operands / positional arguments
    kwargs: tuple[tuple[str, Node], ...] = ()

    def deparse(self) -> str:
        """The expression as R's ``deparse()`` prints it (spacing and number format), e.g. ``log(x + 1)``."""
        if self.kind == "num":
            return _r_number(self.value)
        if self.kind == "str":
            return f'"{self.value}"'
        if self.kind == "name":
            return self.value
        if self.kind == "paren":
            return f"({self.args[0].deparse()})"
        if self.kind == "un":
            return f"{self.value}{self.args[0].deparse()}"
        if self.kind == "bin":
            sep = f" {self.value} " if self.value in _SPACED else self.value
            return f"{self.args[0].deparse()}{sep}{self.args[1].deparse()}"
        parts = [a.deparse() for a in self.args] + [f"{k} = {v.deparse()}" for k, v in self.kwargs]
        return f"{self.value}({', '.join(parts)})"

    def names(self) -> list[str]:
        """Column names the expression reads, in order of appearance (function names excluded)."""
        if self.kind == "name":
            return [] if self.value in ("TRUE", "FALSE", "T", "F", "pi") else [self.value]
        out: list[str] = []
        for a in (*self.args, *(v for _, v in self.kwargs)):
            out += [n for n in a.names() if n not in out]
        return out


def _r_number(v: float) -> str:
    """R's deparse of a number: 15 significant digits, fixed unless scientific notation is shorter."""
    if v == int(v) and abs(v) < 1e15:
        fixed = str(int(v))
    else:
        fixed = f"{v:.15g}"
        if "e" in fixed:
            fixed = f"{v:.15f}".rstrip("0").rstrip(".")
    mant, _, exp = f"{v:.14e}".partition("e")
    mant = mant.rstrip("0").rstrip(".")
    sci = f"{mant}e{'-' if int(exp) < 0 else '+'}{abs(int(exp)):02d}"
    return sci if len(sci) < len(fixed) else fixed


class _Parser:
    """A Pratt parser for the R expressions of model formulas."""

    def __init__(self, text: str):
        self.text = text
        self.tokens: list[tuple[str, str]] = []
        pos = 0
        stripped = text.rstrip()
        while pos < len(stripped):
            m = _TOKEN.match(stripped, pos)
            if not m or m.end() == pos:
                raise FormulaError(f"cannot read {stripped[pos:pos + 12]!r} in formula {text!r}.")
            kind = m.lastgroup
            self.tokens.append((kind, m.group(kind)))
            pos = m.end()
        self.i = 0

    def peek(self) -> tuple[str, str] | None:
        return self.tokens[self.i] if self.i < len(self.tokens) else None

    def take(self, value: str | None = None) -> tuple[str, str]:
        tok = self.peek()
        if tok is None or (value is not None and tok[1] != value):
            found = "the end" if tok is None else repr(tok[1])
            raise FormulaError(f"expected {value!r} but found {found} in formula {self.text!r}.")
        self.i += 1
        return tok

    def expression(self, rbp: int = 0) -> Node:
        kind, val = self.take()
        if kind == "num":
            left = Node("num", float(val.rstrip("L")))
        elif kind == "str":
            left = Node("str", val[1:-1])
        elif kind == "name":
            name = val.strip("`")
            if self.peek() == ("op", "("):
                left = self._call(name)
            else:
                left = Node("name", name)
        elif val == "(":
            inner = self.expression()
            self.take(")")
            left = Node("paren", args=(inner,))
        elif val in ("-", "+", "!"):
            left = Node("un", val, (self.expression(_UNARY if val != "!" else 4),))
        else:
            raise FormulaError(f"unexpected {val!r} in formula {self.text!r}.")
        while True:
            tok = self.peek()
            if tok is None or tok[0] != "op" or tok[1] not in _BINARY:
                return left
            op = tok[1]
            bp = _BINARY[op]
            if bp <= rbp and not (op == "^" and bp == rbp):
                return left
            self.take()
            right = self.expression(bp - 1 if op == "^" else bp)
            left = Node("bin", op, (left, right))

    def _call(self, name: str) -> Node:
        self.take("(")
        args, kwargs = [], []
        if self.peek() != ("op", ")"):
            while True:
                tok = self.peek()
                nxt = self.tokens[self.i + 1] if self.i + 1 < len(self.tokens) else None
                if tok and tok[0] == "name" and nxt == ("op", "="):
                    self.take()
                    self.take("=")
                    kwargs.append((tok[1], self.expression()))
                else:
                    args.append(self.expression())
                if self.peek() == ("op", ","):
                    self.take()
                    continue
                break
        self.take(")")
        return Node("call", name, tuple(args), tuple(kwargs))

    def parse_all(self) -> Node:
        node = self.expression()
        if self.peek() is not None:
            raise FormulaError(f"unexpected {self.peek()[1]!r} in formula {self.text!r}.")
        return node


def parse_expression(text: str) -> Node:
    """Parse one R expression (a formula side, a variable) into a :class:`Node`.

    >>> parse_expression("exp(alliance / 5)").deparse(), parse_expression("x^2:b").deparse()
    ('exp(alliance/5)', 'x^2:b')
    >>> parse_expression("poly(t,3,raw=TRUE)").deparse(), parse_expression("I(x > 1e5)").deparse()
    ('poly(t, 3, raw = TRUE)', 'I(x > 1e+05)')
    """
    return _Parser(text).parse_all()


# ---------------------------------------------------------------------------------------------- formula algebra
@dataclass(frozen=True)
class RandomTerm:
    """One random-effects term ``(expr | group)`` after ``||`` and ``/`` are expanded.

    ``group`` is lme4's name of the grouping factor (``client``, ``therapist:client``, ``client:therapist`` for
    ``therapist/client``); ``group_vars`` the columns whose combination defines it; ``intercept`` and ``terms``
    (tuples of variable labels) the model formula of ``expr``; ``covariates`` its term labels (``x``, ``f``,
    ``x:f``). In a materialised formula (:mod:`allianceStats.mixed.model_frame`) the covariates are the Z
    columns themselves, named as lme4 names them (``session0``, ``phaselate``).
    """

    group: str
    intercept: bool
    covariates: list[str] = field(default_factory=list)
    text: str = ""
    terms: list[tuple[str, ...]] = field(default_factory=list)
    group_vars: tuple[str, ...] = ()

    @property
    def znames(self) -> list[str]:
        """Z column names as lme4 labels them: ``(Intercept)`` first, then the covariates."""
        return (["(Intercept)"] if self.intercept else []) + list(self.covariates)


@dataclass(frozen=True)
class Formula:
    """A parsed formula: response, fixed terms (tuples of variable labels; interactions have > 1) and random terms.

    ``expressions`` maps every variable label that is not a plain column to its :class:`Node`; ``offsets`` are
    the labels inside ``offset()``; ``term_labels`` are R's term labels of the fixed part (``a:b``), one per
    original term. A formula produced by :func:`allianceStats.mixed.model_frame.model_frame` also has
    ``term_of`` (for each entry of ``fixed_terms``, the index of its R term: ``poly(x, 2)`` becomes two
    columns of one term) and ``frame_spec`` (what is needed to evaluate the variables on new data).
    """

    text: str
    response: str
    intercept: bool
    fixed_terms: list[tuple[str, ...]]
    random: list[RandomTerm]
    expressions: dict[str, Node] = field(default_factory=dict)
    offsets: list[str] = field(default_factory=list)
    term_labels: list[str] = field(default_factory=list)
    term_of: list[int] | None = None
    frame_spec: Any = None

    @property
    def variables(self) -> list[str]:
        """Every model-frame column the formula uses (response, fixed, random covariates, grouping factors)."""
        out = [self.response]
        for t in self.fixed_terms:
            out.extend(t)
        for r in self.random:
            out.extend(r.covariates)
            out.append(r.group)
        return list(dict.fromkeys(out))

    @property
    def data_columns(self) -> list[str]:
        """The data columns the formula reads (inside expressions too), in order of appearance."""
        out: list[str] = []
        labels = [self.response, *[v for t in self.fixed_terms for v in t], *self.offsets,
                  *[v for r in self.random for t in r.terms for v in t],
                  *[g for r in self.random for g in (r.group_vars or (r.group,))]]
        for lab in labels:
            node = self.expressions.get(lab)
            for c in (node.names() if node is not None else [lab]):
                if c not in out:
                    out.append(c)
        return out


@dataclass
class _Terms:
    """Intermediate result of the formula algebra: ordered terms (frozensets of labels) and the intercept."""

    terms: list[frozenset]
    intercept: bool | None = None   # None: not said (keeps the default)


def _union(a: list[frozenset], b: list[frozenset]) -> list[frozenset]:
    return a + [t for t in b if t not in a]


def _interact(a: list[frozenset], b: list[frozenset]) -> list[frozenset]:
    out: list[frozenset] = []
    for x in a:
        for y in b:
            t = x | y
            if t not in out:
                out.append(t)
    return out


class _Algebra:
    """R's formula algebra on a parsed right-hand side; records the variables and the special terms."""

    def __init__(self, text: str):
        self.text = text
        self.variables: dict[str, Node] = {}
        self.random: list[tuple[Node, str]] = []   # (bar node, its text)
        self.offsets: list[Node] = []

    def variable(self, node: Node) -> str:
        label = node.deparse()
        if node.kind == "name" and node.value == ".":
            raise FormulaError(f"'.' (all other columns) in {self.text!r} is not supported; list the columns.")
        self.variables.setdefault(label, node)
        return label

    def expand(self, node: Node, top: bool = False) -> _Terms:
        k = node.kind
        if k == "str":
            raise FormulaError(f"the string {node.deparse()} is not a term of {self.text!r}.")
        if k == "num":
            if node.value in (0.0, 1.0):
                return _Terms([], node.value == 1.0)
            raise FormulaError(f"the number {node.deparse()} is not a term in {self.text!r} (only 0 and 1 are).")
        if k == "paren":
            inner = node.args[0]
            if inner.kind == "bin" and inner.value in ("|", "||"):
                if not top:
                    raise FormulaError(f"random term {node.deparse()!r} must be added to the formula, not "
                                       f"combined with other terms, in {self.text!r}.")
                self.random.append((inner, node.deparse()))
                return _Terms([])
            return self.expand(inner)
        if k == "un":
            if node.value == "+":
                return self.expand(node.args[0], top)
            if node.value == "-":
                sub = self.expand(node.args[0])
                return _Terms([], None if sub.intercept is None else not sub.intercept)
            raise FormulaError(f"cannot read {node.deparse()!r} as a term of {self.text!r}.")
        if k == "bin":
            op, (lhs, r) = node.value, node.args
            if op == "+":
                a, b = self.expand(lhs, top), self.expand(r, top)
                return _Terms(_union(a.terms, b.terms), b.intercept if b.intercept is not None else a.intercept)
            if op == "-":
                if r.kind == "paren" and r.args[0].kind == "bin" and r.args[0].value in ("|", "||"):
                    raise FormulaError(f"cannot subtract a random term ({r.deparse()!r}) in {self.text!r}.")
                a, b = self.expand(lhs, top), self.expand(r)
                icpt = a.intercept
                if b.intercept is True:
                    icpt = False
                elif b.intercept is False:
                    icpt = True
                return _Terms([t for t in a.terms if t not in b.terms], icpt)
            if op == ":" or op == "%in%":
                return _Terms(_interact(self.expand(lhs).terms, self.expand(r).terms))
            if op == "*":
                a, b = self.expand(lhs).terms, self.expand(r).terms
                return _Terms(_union(_union(a, b), _interact(a, b)))
            if op == "/":
                a, b = self.expand(lhs).terms, self.expand(r).terms
                whole = [frozenset().union(*a)] if a else []
                return _Terms(_union(a, _interact(whole, b)))
            if op == "^":
                if r.kind != "num" or r.value != int(r.value) or r.value < 1:
                    raise FormulaError(f"'^' in {node.deparse()!r} of {self.text!r} needs a whole number, e.g. "
                                       "'(a + b + c)^2'; write I(x^2) for a power of a variable.")
                base = self.expand(lhs).terms
                out = base
                for _ in range(int(r.value) - 1):
                    out = _union(_union(out, base), _interact(out, base))
                return _Terms([t for t in out if len(t) <= int(r.value)])
            if op in ("|", "||"):
                raise FormulaError(f"random term {node.deparse()!r} in {self.text!r} must be written in "
                                   "parentheses: '(expr | group)'.")
            raise FormulaError(f"operator {op!r} in {node.deparse()!r} of {self.text!r} is not a formula "
                               "operator; wrap arithmetic in I(), e.g. I(a / b).")
        if k == "call" and node.value == "offset":
            if len(node.args) != 1 or node.kwargs:
                raise FormulaError(f"offset() in {self.text!r} takes one expression, e.g. offset(log(hours)).")
            self.offsets.append(node.args[0])
            return _Terms([])
        return _Terms([frozenset([self.variable(node)])])


def _group_expansion(node: Node, term: str, formula: str) -> list[tuple[tuple[str, ...], str]]:
    """Grouping factors of a random term as lme4 expands them: [(columns, lme4 name)], outer first for '/'."""
    if node.kind == "paren":
        return _group_expansion(node.args[0], term, formula)
    if node.kind == "name":
        if not _NAME.match(node.value):
            raise FormulaError(f"grouping factor {node.value!r} in {term!r} is not a column name.")
        return [((node.value,), node.value)]
    if node.kind == "bin" and node.value in (":", "%in%"):
        cols: list[str] = []
        for side in node.args:
            parts = _group_expansion(side, term, formula)
            if len(parts) != 1:
                raise FormulaError(f"cannot read grouping expression {node.deparse()!r} in {term!r}.")
            cols += [c for c in parts[0][0] if c not in cols]
        return [(tuple(cols), node.deparse())]
    if node.kind == "bin" and node.value == "/":
        outer = _group_expansion(node.args[0], term, formula)
        inner = _group_expansion(node.args[1], term, formula)
        if len(inner) != 1:
            raise FormulaError(f"cannot read grouping expression {node.deparse()!r} in {term!r}.")
        last_cols, last_name = outer[-1]
        compound = len(last_cols) > 1
        name = f"{inner[0][1]}:({last_name})" if compound else f"{inner[0][1]}:{last_name}"
        cols = tuple(dict.fromkeys(inner[0][0] + last_cols))
        return outer + [(cols, name)]
    raise FormulaError(f"grouping expression {node.deparse()!r} in {term!r} of {formula!r} is not supported; "
                       "use a column, 'g1:g2' or 'g1/g2'.")


def _ordered(terms: list[frozenset], order: dict[str, int]) -> list[tuple[str, ...]]:
    tuples = [tuple(sorted(t, key=lambda v: order[v])) for t in terms]
    return sorted(tuples, key=len)   # stable: R orders terms by degree, keeping the expansion order within


def _split_formula(formula: Any) -> tuple[str, str]:
    if not isinstance(formula, str) or formula.count("~") != 1:
        raise FormulaError(f"formula {formula!r} must be a string with exactly one '~' (e.g. 'y ~ x + (1 | g)').")
    lhs, rhs = (s.strip() for s in formula.split("~"))
    if not lhs:
        raise FormulaError(f"formula {formula!r} has no response on the left of '~'.")
    if not rhs:
        raise FormulaError(f"formula {formula!r} has no terms on the right of '~'.")
    return lhs, rhs


def _strict_checks(f: Formula, algebra: _Algebra, formula: str) -> None:
    """The plain-column subset (``extended=False``): every variable a column, one term per grouping column."""
    for lab, node in f.expressions.items():
        if node.kind != "name":
            raise FormulaError(
                f"term {lab!r} of {formula!r} is not a plain column name. Function calls and transformations are "
                "not supported here; compute the column in the data first (e.g. df['log_x'] = np.log(df.x)).")
    for node, text in algebra.random:
        if node.value == "||":
            raise FormulaError(f"uncorrelated random effects '||' in {text!r} (formula {formula!r}) are not "
                               "supported here; use one correlated term '(1 + x | g)'.")
        if node.args[1].kind != "name":
            raise FormulaError(f"grouping expression {node.args[1].deparse()!r} in {text!r} is not supported here "
                               "(only a single column).")
    for r in f.random:
        if any(len(t) > 1 for t in r.terms):
            raise FormulaError(f"interactions inside a random term ({r.text!r}) are not supported here; "
                               "compute the product column first.")
    if f.offsets:
        raise FormulaError(f"offset() in {formula!r} is not supported here.")
    groups = [r.group for r in f.random]
    dup = sorted({g for g in groups if groups.count(g) > 1})
    if dup:
        raise FormulaError(f"grouping factor(s) {dup} appear in more than one random term of {formula!r}; "
                           "write one correlated term per factor, e.g. '(1 + x | g)'.")


def parse_formula(formula: str, *, extended: bool = False) -> Formula:
    """Parse an lme4 formula into a :class:`Formula` (syntax and term order: module docstring).

    Parameters
    ----------
    formula : str
        ``response ~ fixed terms + (expr | group) [+ ...]``.
    extended : bool, default False
        Read the whole lme4 syntax (transformations, ``offset()``, ``||``, ``g1:g2`` and ``g1/g2`` grouping,
        several terms per grouping factor, interactions and factors in random terms). With False, only plain
        column names and one ``(expr | column)`` term per grouping column are accepted (what the model
        builders that do not evaluate expressions support).

    Returns
    -------
    Formula
        Response, intercept flag, fixed terms (tuples of variable labels), random terms, and the parsed
        expressions of the variables that are not plain columns.

    Raises
    ------
    FormulaError
        The text cannot be read, or (``extended=False``) is outside the plain-column subset; the message quotes
        the offending part.

    Examples
    --------
    >>> f = parse_formula("y ~ a*b + (1 + a | g)")
    >>> f.fixed_terms, f.random[0].znames, f.variables
    ([('a',), ('b',), ('a', 'b')], ['(Intercept)', 'a'], ['y', 'a', 'b', 'g'])
    >>> g = parse_formula("y ~ x + offset(log(h)) + (1 | therapist:client)", extended=True)
    >>> g.offsets, g.random[0].group, g.random[0].group_vars, g.data_columns
    (['log(h)'], 'therapist:client', ('therapist', 'client'), ['y', 'x', 'h', 'therapist', 'client'])
    """
    lhs, rhs = _split_formula(formula)
    algebra = _Algebra(formula)
    response_node = parse_expression(lhs)
    if response_node.kind == "call" and response_node.value == "cbind":
        raise FormulaError(f"cbind() responses in {formula!r} are for binomial models: use fit_glmm.")
    response = algebra.variable(response_node)
    expanded = algebra.expand(parse_expression(rhs), top=True)
    intercept = True if expanded.intercept is None else expanded.intercept

    order = {v: i for i, v in enumerate(algebra.variables)}
    fixed = _ordered(expanded.terms, order)
    random: list[RandomTerm] = []
    for node, text in algebra.random:
        sub = _Algebra(formula)
        sub.variables = algebra.variables          # one variable table: labels are shared
        lhs_terms = sub.expand(node.args[0])
        if sub.random or sub.offsets:
            raise FormulaError(f"random term {text!r} of {formula!r} cannot contain another random term or offset().")
        order = {v: i for i, v in enumerate(algebra.variables)}
        r_int = True if lhs_terms.intercept is None else lhs_terms.intercept
        r_terms = _ordered(lhs_terms.terms, order)
        groups = _group_expansion(node.args[1], text, formula)
        if node.value == "||":
            pieces = ([(True, [])] if r_int else []) + [(False, [t]) for t in r_terms]
        else:
            pieces = [(r_int, r_terms)]
        for cols, name in groups:
            for icpt, terms in pieces:
                if not icpt and not terms:
                    raise FormulaError(f"random term {text!r} has no random effect (no intercept and no covariate).")
                bar = "||" if node.value == "||" else "|"
                lhs_text = " + ".join((["1"] if icpt else ["0"]) + [":".join(t) for t in terms])
                term_text = text if (len(groups) == 1 and len(pieces) == 1) else f"({lhs_text} {bar[0]} {name})"
                random.append(RandomTerm(group=name, intercept=icpt, covariates=[":".join(t) for t in terms],
                                         text=term_text, terms=list(terms), group_vars=cols))
    if not random:
        raise FormulaError(f"formula {formula!r} has no random term '(expr | group)'; for a model without "
                           "random effects use ordinary regression (statsmodels OLS).")
    for t in fixed:
        if len(set(t)) != len(t):
            raise FormulaError(f"interaction {':'.join(t)!r} in {formula!r} repeats a variable.")
    expressions = {lab: node for lab, node in algebra.variables.items() if node.kind != "name"}
    offsets = [o.deparse() for o in algebra.offsets]
    for o in algebra.offsets:
        expressions.setdefault(o.deparse(), o)
    result = Formula(text=formula, response=response, intercept=intercept, fixed_terms=fixed, random=random,
                     expressions=expressions, offsets=offsets, term_labels=[":".join(t) for t in fixed])
    if not extended:
        _strict_checks(result, algebra, formula)
    return result
