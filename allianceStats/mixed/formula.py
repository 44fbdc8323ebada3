"""Parse the lme4 formula subset used for nested linear mixed models.

Supported (Bates et al. 2015, J. Stat. Softw. 67(1), section 2.1, Table 2):

``y ~ x1 + x2 + x1:x2 + x1*x2 + (1 + t | client) + (1 | therapist)``, ``(1 | g)``, ``(t | g)`` (intercept
implied), ``(0 + t | g)`` / ``(-1 + t | g)`` (no intercept), ``0 +`` / ``- 1`` in the fixed part.
Numeric covariates enter as they are; non-numeric ones are treatment coded by the design step.

Not supported, with a :class:`~allianceStats.errors.FormulaError` quoting the text: ``||`` (uncorrelated
terms), ``g1:g2`` / ``g1/g2`` grouping expressions (give clients unique ids instead), the same grouping factor
in two terms, function calls such as ``log(x)`` or ``I(x^2)`` (compute the column first), and ``.``.

Examples
--------
>>> f = parse_formula("y ~ x + time + (1 + time | client) + (1 | therapist)")
>>> f.response, f.fixed_terms, f.intercept
('y', [('x',), ('time',)], True)
>>> [(r.group, r.intercept, r.covariates) for r in f.random]
[('client', True, ['time']), ('therapist', True, [])]
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field

from ..errors import FormulaError

_NAME = re.compile(r"^[A-Za-z_.][A-Za-z0-9_.]*$")


@dataclass(frozen=True)
class RandomTerm:
    """One ``(expr | group)`` term: intercept flag and covariate names, in the order written."""

    group: str
    intercept: bool
    covariates: list[str] = field(default_factory=list)
    text: str = ""

    @property
    def znames(self) -> list[str]:
        """Z column names as lme4 labels them: ``(Intercept)`` first, then the covariates."""
        return (["(Intercept)"] if self.intercept else []) + list(self.covariates)


@dataclass(frozen=True)
class Formula:
    """A parsed formula: response, fixed terms (tuples of variable names; interactions have >1) and random terms."""

    text: str
    response: str
    intercept: bool
    fixed_terms: list[tuple[str, ...]]
    random: list[RandomTerm]

    @property
    def variables(self) -> list[str]:
        """Every data column the formula uses (response, fixed, random covariates, grouping factors)."""
        out = [self.response]
        for t in self.fixed_terms:
            out.extend(t)
        for r in self.random:
            out.extend(r.covariates)
            out.append(r.group)
        return list(dict.fromkeys(out))


def _split_top(text: str, sep: str) -> list[str]:
    """Split on ``sep`` outside parentheses, keeping the sign of '-' pieces."""
    parts, depth, cur = [], 0, ""
    for ch in text:
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        if depth < 0:
            raise FormulaError(f"unbalanced parentheses in formula part {text!r}")
        if depth == 0 and ch in sep:
            parts.append(cur)
            cur = ch if ch == "-" else ""
        else:
            cur += ch
    if depth != 0:
        raise FormulaError(f"unbalanced parentheses in formula part {text!r}")
    parts.append(cur)
    return [p.strip() for p in parts if p.strip() not in ("", "+")]


def _check_name(name: str, where: str) -> str:
    if not _NAME.match(name):
        raise FormulaError(
            f"{where}: {name!r} is not a plain column name. Function calls and transformations are not "
            "supported in formulas; compute the column in the data first (e.g. df['log_x'] = np.log(df.x))."
        )
    return name


def _parse_random(term: str, formula: str) -> RandomTerm:
    inner = term[1:-1].strip()
    if "||" in inner:
        raise FormulaError(f"uncorrelated random effects '||' in {term!r} (formula {formula!r}) are not "
                           "supported; use one correlated term '(1 + x | g)'.")
    if inner.count("|") != 1:
        raise FormulaError(f"random term {term!r} in {formula!r} must have the form '(expr | group)'.")
    expr, group = (s.strip() for s in inner.split("|"))
    if any(c in group for c in ":/*+"):
        raise FormulaError(
            f"grouping expression {group!r} in {term!r} is not supported (only a single column). For clients "
            "nested in therapists, give clients ids unique across therapists and write '(1 | client) + "
            "(1 | therapist)'.")
    _check_name(group, f"grouping factor in {term!r}")
    intercept, covs = True, []
    for piece in _split_top(expr, "+-"):
        p = piece.replace(" ", "")
        if p in ("1", "+1"):
            intercept = True
        elif p in ("0", "-1", "+0"):
            intercept = False
        elif p.startswith("-"):
            raise FormulaError(f"cannot remove {p[1:]!r} in random term {term!r}; only '-1' is supported.")
        elif ":" in p or "*" in p:
            raise FormulaError(f"interactions inside a random term ({p!r} in {term!r}) are not supported; "
                               "compute the product column first.")
        else:
            covs.append(_check_name(p, f"random term {term!r}"))
    if not intercept and not covs:
        raise FormulaError(f"random term {term!r} has no random effect (no intercept and no covariate).")
    if len(set(covs)) != len(covs):
        raise FormulaError(f"random term {term!r} repeats a covariate.")
    return RandomTerm(group=group, intercept=intercept, covariates=covs, text=term)


def parse_formula(formula: str) -> Formula:
    """Parse an lme4-style formula (subset described in the module docstring) into a :class:`Formula`.

    Fixed terms are ordered as R's ``terms()`` orders them: main effects first, then two-way interactions,
    each group in the order written; ``a*b`` expands to ``a + b + a:b``.

    Parameters
    ----------
    formula : str
        ``response ~ fixed terms + (expr | group) [+ (expr | group)]``.

    Returns
    -------
    Formula
        Response, intercept flag, fixed terms (tuples of variable names) and random terms.

    Raises
    ------
    FormulaError
        The text is not in the supported subset; the message quotes the offending part.

    Examples
    --------
    >>> f = parse_formula("y ~ a*b + (1 + a | g)")
    >>> f.fixed_terms, f.random[0].znames, f.variables
    ([('a',), ('b',), ('a', 'b')], ['(Intercept)', 'a'], ['y', 'a', 'b', 'g'])
    """
    if not isinstance(formula, str) or formula.count("~") != 1:
        raise FormulaError(f"formula {formula!r} must be a string with exactly one '~' (e.g. 'y ~ x + (1 | g)').")
    lhs, rhs = (s.strip() for s in formula.split("~"))
    if not lhs:
        raise FormulaError(f"formula {formula!r} has no response on the left of '~'.")
    response = _check_name(lhs, f"response of {formula!r}")
    if "." in [p.strip() for p in _split_top(rhs, "+")]:
        raise FormulaError(f"'.' (all other columns) in {formula!r} is not supported; list the columns.")
    intercept = True
    fixed: list[tuple[str, ...]] = []
    random: list[RandomTerm] = []
    for piece in _split_top(rhs, "+-"):
        p = piece.strip()
        if p.lstrip("+- ").startswith("(") and p.endswith(")") and "|" in p:
            if p.startswith("-"):
                raise FormulaError(f"cannot subtract a random term ({p!r}) in {formula!r}.")
            random.append(_parse_random(p.lstrip("+ "), formula))
            continue
        q = p.replace(" ", "")
        if q in ("1", "+1"):
            intercept = True
        elif q in ("0", "-1", "+0"):
            intercept = False
        elif q.startswith("-"):
            raise FormulaError(f"removing terms ({q!r} in {formula!r}) is not supported except '-1'.")
        elif "*" in q:
            names = [_check_name(v, f"term {q!r} of {formula!r}") for v in q.split("*")]
            if len(names) != 2:
                raise FormulaError(f"only two-way '*' products are supported ({q!r} in {formula!r}).")
            fixed += [(names[0],), (names[1],), tuple(names)]
        elif ":" in q:
            names = tuple(_check_name(v, f"term {q!r} of {formula!r}") for v in q.split(":"))
            fixed.append(names)
        elif "(" in q or "|" in q:
            raise FormulaError(f"cannot parse term {p!r} of {formula!r}; random terms are written '(expr | group)'.")
        else:
            fixed.append((_check_name(q, f"term {q!r} of {formula!r}"),))
    seen, uniq = set(), []
    for t in fixed:
        key = frozenset(t)
        if len(set(t)) != len(t):
            raise FormulaError(f"interaction {':'.join(t)!r} in {formula!r} repeats a variable.")
        if key not in seen:
            seen.add(key)
            uniq.append(t)
    uniq.sort(key=len)  # stable: R orders terms by degree, keeping the written order within a degree
    groups = [r.group for r in random]
    dup = sorted({g for g in groups if groups.count(g) > 1})
    if dup:
        raise FormulaError(f"grouping factor(s) {dup} appear in more than one random term of {formula!r}; "
                           "write one correlated term per factor, e.g. '(1 + x | g)'.")
    if not random:
        raise FormulaError(f"formula {formula!r} has no random term '(expr | group)'; for a model without "
                           "random effects use ordinary regression (statsmodels OLS).")
    return Formula(text=formula, response=response, intercept=intercept, fixed_terms=uniq, random=random)
