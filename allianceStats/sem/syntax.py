"""Model syntax: a documented subset of lavaan's model language, parsed into statements.

Grammar (Rosseel 2012, *J. Stat. Softw.* 48(2), section 3; lavaan's ``model.syntax`` help page)
------------------------------------------------------------------------------------------------
A model is a sequence of statements separated by newlines or ``;``. ``#`` and ``!`` start a comment.
A statement ending in an operator or ``+`` (or a line starting with ``+``) continues on the next line.

=========================  ==========================================================
``f =~ x1 + x2``            latent ``f`` measured by ``x1``, ``x2`` (loadings, Λ)
``y ~ x + m``               regression of ``y`` on ``x`` and ``m`` (B)
``x ~~ y``                  (residual) covariance; ``x ~~ x`` a (residual) variance (Ψ)
``x ~ 1``                   intercept of an observed / mean of a latent variable (ν, α)
``u | t1 + t2``             thresholds of an ordered item ``u`` (``t1`` < ``t2`` < …; ``fit_sem(ordered=...)``)
``u ~*~ u``                 scale factor of an ordered item (delta parameterization)
``ab := a*b``               defined parameter, a function of labels (delta-method SEs)
=========================  ==========================================================

Each right-hand term may carry modifiers joined by ``*``: a number fixes the parameter (``1*x``, ``0*x``,
``-0.5*x``), ``NA`` frees it (``NA*x``), an identifier labels it (``a*x``; equal labels mean equal
parameters), and ``c(...)`` gives one value or label per group (``c(a, b)*x``, ``c(1, NA)*x``). lavaan's named
modifiers are read too: ``start(0.5)*x`` (a start value; the parameter stays free), ``label(a)*x`` or
``label("a")*x`` (a label) and ``equal("a")*x`` (equal to the parameter labelled ``a``), each also with ``c(...)``.
A term may appear twice with different modifiers, a value in one and a label in the other
(``c(NA, NA)*x + c(a1, a2)*x``, as semTools' ``measEq.syntax`` writes); the two are merged. ``a == b`` makes two
labelled parameters equal and ``a == 0.5`` fixes one (imposed by sharing one free parameter, which gives lavaan's
estimates and standard errors); any other linear equality of labels (``a == 2*b``, ``a + b == 1``) is imposed by
reparameterisation, and ``a > 0``, ``a < b`` (linear inequalities) by an active set, as lavaan's
``nlminb.constr`` reaches the same optimum. Several left-hand variables may be joined by ``+``
(``RIx + RIy ~~ 0*wx1``). Variable names may use any letters (``größe =~ héllo``). Anything else — non-linear
constraints, ``<~`` composites — raises :class:`FormulaError` quoting the line.

Example
-------
>>> stmts, defined = parse_model("f =~ 1*x1 + a*x2 + c(b, b)*x3  # a comment\\n y ~ f; ab := a*b")
>>> [(s.lhs, s.op, s.rhs, s.modifiers) for s in stmts][:2]
[('f', '=~', 'x1', (1.0,)), ('f', '=~', 'x2', ('a',))]
>>> defined[0].lhs, defined[0].expression
('ab', 'a*b')
"""
from __future__ import annotations

import ast
import math
import re
from collections.abc import Callable
from dataclasses import dataclass

from ..errors import FormulaError

_NAME = r"(?:[^\W\d]|\.)[\w.]*"   # any letter (unicode), digit, "_" or "."; not starting with a digit
_NAME_RE = re.compile(rf"^{_NAME}$")
_NUMBER_RE = re.compile(r"^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$")
_OPERATORS = ("=~", "~*~", "~~", ":=", "~", "|")
_UNSUPPORTED = ("<~", "==", "<", ">", "|", "~*~")
_THRESHOLD_RE = re.compile(r"^t[1-9][0-9]*$")

Modifier = float | str | None  # number = fixed value, str = label, None = explicitly free (NA)


@dataclass(frozen=True)
class Start:
    """A start value given with lavaan's ``start()`` modifier (the parameter stays free)."""

    value: float


@dataclass(frozen=True)
class Statement:
    """One parameter statement: ``lhs op rhs`` with modifiers (one per group, or one for all groups)."""

    lhs: str
    op: str
    rhs: str
    modifiers: tuple  # each element: Modifier, or a tuple of Modifiers (a ``c(...)`` list)
    line: str


@dataclass(frozen=True)
class Definition:
    """A defined parameter ``lhs := expression`` (``kind=":="``), or a constraint ``lhs == expression``
    (``kind="=="``), ``lhs > expression`` (``">"``, also for ``>=``) or ``lhs < expression`` (``"<"``, also ``<=``)."""

    lhs: str
    expression: str
    line: str
    kind: str = ":="


def _logical_lines(model: str) -> list[str]:
    raw: list[str] = []
    for line in model.replace("\r", "\n").split("\n"):
        line = re.split(r"[#!]", line, maxsplit=1)[0]
        raw.extend(part.strip() for part in line.split(";"))
    out: list[str] = []
    for part in raw:
        if not part:
            continue
        if out and (part.startswith("+") or out[-1].endswith(("+", "=~", "~~", "~", ":=", "*", "|"))):
            out[-1] = out[-1] + " " + part
        else:
            out.append(part)
    return out


def _split_top(text: str, sep: str) -> list[str]:
    """Split at ``sep`` outside parentheses."""
    parts: list[str] = []
    cur: list[str] = []
    depth = 0
    for ch in text:
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        if ch == sep and depth == 0:
            parts.append("".join(cur))
            cur = []
        else:
            cur.append(ch)
    parts.append("".join(cur))
    return [p.strip() for p in parts]


def _modifier_value(token: str, line: str) -> Modifier:
    if _NUMBER_RE.match(token):
        return float(token)
    if token == "NA":
        return None
    if _NAME_RE.match(token):
        return token
    raise FormulaError(f"cannot read modifier {token!r} in model line {line!r}: expected a number (fixed value), "
                       "NA (free), a label, or c(...) with one of those per group.")


def _named_modifier(kind: str, token: str, line: str):
    """The value of ``start(...)``, ``label(...)`` or ``equal(...)`` (one entry, or a tuple from ``c(...)``)."""
    token = token.strip()
    m = re.match(r"^c\s*\((.*)\)$", token)
    items = [t.strip() for t in m.group(1).split(",")] if m else [token]
    out: list = []
    for item in items:
        if kind == "start":
            if not _NUMBER_RE.match(item):
                raise FormulaError(f"start({item}) in model line {line!r}: a start value is a number.")
            out.append(Start(float(item)))
        else:
            name = item.strip("\"'")
            if not _NAME_RE.match(name):
                raise FormulaError(f"{kind}({item}) in model line {line!r}: expected a label such as {kind}(\"a\").")
            out.append(name)
    return tuple(out) if m else out[0]


def _parse_modifier(token: str, line: str):
    token = token.strip()
    named = re.match(r"^(start|label|equal)\s*\((.*)\)$", token)
    if named:
        return _named_modifier(named.group(1), named.group(2), line)
    if re.match(r"^(lower|upper|prior)\s*\(", token):
        raise FormulaError(f"modifier {token!r} in model line {line!r} is not supported (bounds: write a constraint "
                           "such as 'a > 0' on a labelled parameter).")
    m = re.match(r"^c\s*\((.*)\)$", token)
    if m:
        return tuple(_modifier_value(t.strip(), line) for t in m.group(1).split(","))
    return _modifier_value(token, line)


def modifier_kind(mod) -> str:
    """``"value"`` (a fixed value or NA), ``"label"`` or ``"start"`` — of a modifier or of the first entry of c(...)."""
    first = mod[0] if isinstance(mod, tuple) and mod else mod
    if isinstance(first, Start):
        return "start"
    return "label" if isinstance(first, str) else "value"


def _split_operator(line: str) -> tuple[str, str, str]:
    if "<~" in line:
        raise FormulaError(f"operator '<~' (composites) in model line {line!r} is not supported by allianceStats' "
                           "lavaan subset (supported: =~  ~  ~~  ~ 1  |  ~*~  :=  ==  <  >).")
    for op in _OPERATORS:
        idx = line.find(op)
        if idx >= 0:
            if op == "~" and (line[idx:idx + 2] in ("~~",)):
                continue
            return line[:idx].strip(), op, line[idx + len(op):].strip()
    raise FormulaError(f"model line {line!r} has no operator; expected one of =~  ~  ~~  ~ 1  |  ~*~  :=  "
                       "(e.g. 'f =~ x1 + x2', 'y ~ x', 'x ~~ y', 'x ~ 1', 'u | t1 + t2', 'ab := a*b').")


def _check_expression(expr: str, line: str) -> None:
    try:
        tree = ast.parse(expr, mode="eval")
    except SyntaxError:
        raise FormulaError(f"cannot parse the expression of defined parameter in model line {line!r}.") from None
    allowed = (ast.Expression, ast.BinOp, ast.UnaryOp, ast.Constant, ast.Name, ast.Load, ast.Add, ast.Sub,
               ast.Mult, ast.Div, ast.Pow, ast.USub, ast.UAdd, ast.Call)
    for node in ast.walk(tree):
        if not isinstance(node, allowed):
            raise FormulaError(f"unsupported element {type(node).__name__} in defined parameter, model line "
                               f"{line!r}; use labels, numbers, + - * / ^ and sqrt/exp/log/abs.")
        if isinstance(node, ast.Call) and not (isinstance(node.func, ast.Name) and node.func.id in _FUNCS):
            raise FormulaError(f"unsupported function in model line {line!r}; allowed: {sorted(_FUNCS)}.")


_FUNCS: dict[str, Callable[[float], float]] = {"sqrt": math.sqrt, "exp": math.exp, "log": math.log, "abs": abs}


def expression_names(expr: str) -> list[str]:
    """Labels used in a defined-parameter expression (in order of first use).

    >>> expression_names("a*b + c^2")
    ['a', 'b', 'c']
    """
    tree = ast.parse(expr.replace("^", "**"), mode="eval")
    names = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Name) and node.id not in _FUNCS and node.id not in names:
            names.append(node.id)
    return names


def evaluate_expression(expr: str, values: dict[str, float]) -> float:
    """Evaluate a defined-parameter expression at label values (no ``eval`` of user text).

    >>> evaluate_expression("a*b + 1", {"a": 2.0, "b": 3.0})
    7.0
    """
    tree = ast.parse(expr.replace("^", "**"), mode="eval")

    def ev(node: ast.AST) -> float:
        if isinstance(node, ast.Expression):
            return ev(node.body)
        if isinstance(node, ast.Constant) and isinstance(node.value, (int, float)):
            return float(node.value)
        if isinstance(node, ast.Name):
            return values[node.id]
        if isinstance(node, ast.UnaryOp):
            v = ev(node.operand)
            return -v if isinstance(node.op, ast.USub) else v
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
            try:
                return float(_FUNCS[node.func.id](*[ev(a) for a in node.args]))
            except ValueError:      # sqrt / log of a negative number: not a number, as R's NaN
                return math.nan
            except OverflowError:   # exp of a large number
                return math.inf
        if not isinstance(node, ast.BinOp):
            raise FormulaError(f"cannot evaluate {ast.unparse(node)!r} in the defined parameter {expr!r}; use labels, "
                               "numbers, + - * / ^ and sqrt/exp/log/abs.")
        left, right = ev(node.left), ev(node.right)
        op = node.op
        if isinstance(op, ast.Add):
            return left + right
        if isinstance(op, ast.Sub):
            return left - right
        if isinstance(op, ast.Mult):
            return left * right
        if isinstance(op, ast.Div):
            return left / right if right != 0 else (math.copysign(math.inf, left) if left else math.nan)
        try:
            out = left ** right
        except (OverflowError, ZeroDivisionError):   # a huge power, or 0 to a negative power
            return math.inf
        return math.nan if isinstance(out, complex) else out  # a negative number to a fractional power

    return float(ev(tree))


def parse_model(model: str) -> tuple[list[Statement], list[Definition]]:
    """Parse lavaan-subset model syntax into parameter statements and defined parameters.

    Returns ``(statements, definitions)``; see the module docstring for the grammar. Raises
    :class:`FormulaError`, quoting the line, on anything outside the subset.

    >>> stmts, _ = parse_model("RIx + RIy ~~ 0*wx1")
    >>> [(s.lhs, s.rhs, s.modifiers) for s in stmts]
    [('RIx', 'wx1', (0.0,)), ('RIy', 'wx1', (0.0,))]
    """
    if not isinstance(model, str) or not model.strip():
        raise FormulaError("the SEM model syntax is empty; give lavaan-style statements such as 'y ~ x'.")
    statements: list[Statement] = []
    definitions: list[Definition] = []
    for line in _logical_lines(model):
        constraint = re.search(r"==|<=|>=|<(?!~)|>", line)
        if constraint and ":=" not in line:
            op = constraint.group(0)
            lhs, rhs = line[:constraint.start()].strip(), line[constraint.end():].strip()
            for side in (lhs, rhs):
                if not side:
                    raise FormulaError(f"constraint {line!r} is missing a side; write e.g. 'a == 2*b' or 'a > 0'.")
                _check_expression(side.replace("^", "**"), line)
            definitions.append(Definition(lhs.replace(" ", ""), rhs.replace(" ", ""), line,
                                          kind="==" if op == "==" else op[0]))
            continue
        lhs, op, rhs = _split_operator(line)
        if op == ":=":
            if not _NAME_RE.match(lhs):
                raise FormulaError(f"defined parameter name {lhs!r} in model line {line!r} is not a valid name.")
            _check_expression(rhs.replace("^", "**"), line)
            definitions.append(Definition(lhs, rhs.replace(" ", ""), line))
            continue
        if not lhs or not rhs:
            raise FormulaError(f"model line {line!r} is missing a left- or right-hand side.")
        lhs_names = _split_top(lhs, "+")
        for name in lhs_names:
            if not _NAME_RE.match(name):
                raise FormulaError(f"left-hand side {name!r} in model line {line!r} is not a variable name.")
        for term in _split_top(rhs, "+"):
            if not term:
                raise FormulaError(f"empty term (a doubled or trailing '+') in model line {line!r}.")
            pieces = _split_top(term, "*")
            var = pieces[-1]
            if any(s in var for s in _UNSUPPORTED) or not (var == "1" or _NAME_RE.match(var)):
                raise FormulaError(f"cannot read term {term!r} in model line {line!r}: expected a variable name "
                                   "with optional modifiers such as 1*x, a*x, NA*x or c(a,b)*x.")
            if op == "|" and not _THRESHOLD_RE.match(var):
                raise FormulaError(f"cannot read threshold {term!r} in model line {line!r}: thresholds are named "
                                   "t1, t2, ... (e.g. 'u1 | t1 + t2 + t3').")
            if op == "~*~" and (var != lhs.strip() or "+" in lhs):
                raise FormulaError(f"model line {line!r}: a scale factor is written 'u ~*~ u' (the same ordered "
                                   "item on both sides).")
            mods = tuple(_parse_modifier(p, line) for p in pieces[:-1])
            kinds = [modifier_kind(m) for m in mods]
            if len(kinds) != len(set(kinds)):
                raise FormulaError(f"term {term!r} in model line {line!r} has more modifiers than one value, one "
                                   "label and one start value.")
            this_op = op
            if var == "1":
                if op != "~":
                    raise FormulaError(f"'1' can only appear as 'x ~ 1' (an intercept); model line {line!r}.")
                this_op = "~1"
            for name in lhs_names:
                statements.append(Statement(name, this_op, "" if var == "1" else var, mods, line))
    return statements, definitions
