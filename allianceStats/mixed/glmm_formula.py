"""The GLMM parts of lme4's formula syntax, on top of :func:`allianceStats.mixed.formula.parse_formula`.

lme4's ``glmer`` (Bates, Mächler, Bolker & Walker 2015, *J. Stat. Softw.* 67(1), section 2.1) and glmmTMB
(Brooks et al. 2017, *R J.* 9(2)) accept, besides the linear-mixed-model syntax,

* a two-column binomial response ``cbind(successes, failures) ~ ...``, where each argument is a column or a
  difference of two columns (``cbind(incidence, size - incidence)``);
* offsets ``offset(exposure)`` or ``offset(log(exposure))`` in the fixed part (more than one are added);
* a zero-inflation formula ``~ 1`` or ``~ x + f`` (no random effects) passed separately (``zi=``).

This module strips those pieces and hands the rest to the LMM parser, so both models read formulas the same
way (fixed terms ordered as R's ``terms()``, ``a*b``, ``0 +``, random terms ``(1 + x | g)``).

Example
-------
>>> f = parse_glmm_formula("cbind(incidence, size - incidence) ~ period + offset(log(days)) + (1 | herd)")
>>> f.successes, f.failures, f.offsets, f.core.fixed_terms
('incidence', ('size', 'incidence'), [('days', 'log')], [('period',)])
"""
from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass, field

from ..errors import FormulaError
from .formula import Formula, parse_formula

_NAME = re.compile(r"^[A-Za-z_.][A-Za-z0-9_.]*$")


@dataclass(frozen=True)
class GLMMFormula:
    """A parsed GLMM formula.

    ``core`` is the LMM-parser :class:`~allianceStats.mixed.formula.Formula` of ``response ~ fixed + random``
    (its response is the successes column for ``cbind``); ``failures`` is ``(column,)`` or ``(total, minus)``
    for ``cbind(s, total - minus)``, None without ``cbind``; ``offsets`` are ``(column, transform)`` pairs
    with transform ``None`` or ``"log"``.
    """

    text: str
    core: Formula
    successes: str | None = None
    failures: tuple[str, ...] | None = None
    offsets: list[tuple[str, str | None]] = field(default_factory=list)

    @property
    def response(self) -> str:
        return self.core.response

    @property
    def variables(self) -> list[str]:
        """Every data column used: the core formula's, the failures' and the offsets'."""
        out = list(self.core.variables) + list(self.failures or ()) + [c for c, _ in self.offsets]
        return list(dict.fromkeys(out))


def _split_top(text: str, sep: str) -> list[str]:
    parts, depth, cur = [], 0, ""
    for ch in text:
        depth += (ch == "(") - (ch == ")")
        if depth < 0:
            raise FormulaError(f"unbalanced parentheses in {text!r}")
        if depth == 0 and ch == sep:
            parts.append(cur)
            cur = ""
        else:
            cur += ch
    if depth != 0:
        raise FormulaError(f"unbalanced parentheses in {text!r}")
    parts.append(cur)
    return [p.strip() for p in parts]


def _column(text: str, where: str) -> str:
    t = text.strip()
    if not _NAME.match(t):
        raise FormulaError(f"{where}: {t!r} is not a column name; compute the column in the data first.")
    return t


def _parse_cbind(lhs: str, formula: str) -> tuple[str, tuple[str, ...]]:
    inner = lhs[len("cbind("):-1]
    args = _split_top(inner, ",")
    if len(args) != 2:
        raise FormulaError(f"cbind() in {formula!r} needs exactly two arguments: cbind(successes, failures).")
    succ = _column(args[0], f"first argument of cbind() in {formula!r}")
    fail = args[1].replace(" ", "")
    if "-" in fail:
        pieces = fail.split("-")
        if len(pieces) != 2:
            raise FormulaError(f"second argument of cbind() in {formula!r} must be a column or 'total - successes'.")
        return succ, (_column(pieces[0], formula), _column(pieces[1], formula))
    return succ, (_column(fail, f"second argument of cbind() in {formula!r}"),)


def _parse_offset(term: str, formula: str) -> tuple[str, str | None]:
    inner = term[len("offset("):-1].strip().replace(" ", "")
    if inner.startswith("log(") and inner.endswith(")"):
        return _column(inner[4:-1], f"offset {term!r} in {formula!r}"), "log"
    return _column(inner, f"offset {term!r} in {formula!r} (only offset(x) and offset(log(x)) are read)"), None


def parse_glmm_formula(formula: str) -> GLMMFormula:
    """Parse an lme4 GLMM formula (module docstring) into a :class:`GLMMFormula`.

    >>> parse_glmm_formula("use ~ alliance + (1 | client)").core.response
    'use'
    """
    if not isinstance(formula, str) or formula.count("~") != 1:
        raise FormulaError(f"formula {formula!r} must be a string with exactly one '~' (e.g. 'y ~ x + (1 | g)').")
    lhs, rhs = (s.strip() for s in formula.split("~"))
    succ = fail = None
    lhs_c = lhs.replace(" ", "")
    if lhs_c.startswith("cbind(") and lhs_c.endswith(")"):
        succ, fail = _parse_cbind(lhs_c, formula)
        lhs = succ
    offsets, kept = [], []
    for piece in _split_top(rhs, "+"):
        p = piece.replace(" ", "")
        if p.startswith("offset(") and p.endswith(")"):
            offsets.append(_parse_offset(p, formula))
        elif p:
            kept.append(piece)
    if not kept:
        raise FormulaError(f"formula {formula!r} has no terms besides its offset(s).")
    core = parse_formula(f"{lhs} ~ {' + '.join(kept)}")
    core = dataclasses.replace(core, text=formula)
    return GLMMFormula(text=formula, core=core, successes=succ, failures=fail, offsets=offsets)


def parse_zi_formula(zi: str, response: str, any_group: str) -> Formula:
    """The fixed-effects-only :class:`Formula` of a zero-inflation formula such as ``"~1"`` or ``"~ mined"``.

    >>> parse_zi_formula("~ 1", "y", "g").intercept, parse_zi_formula("~ x", "y", "g").fixed_terms
    (True, [('x',)])
    """
    if not isinstance(zi, str) or not zi.strip().startswith("~") or zi.count("~") != 1:
        raise FormulaError(f"zi={zi!r} must be a one-sided formula such as '~1' or '~ x'.")
    rhs = zi.strip()[1:].strip()
    if "|" in rhs:
        raise FormulaError(f"zi={zi!r}: random effects in the zero-inflation part are not supported.")
    if not rhs:
        raise FormulaError(f"zi={zi!r} has no terms; write '~1' for a constant zero-inflation probability.")
    f = parse_formula(f"{response} ~ {rhs} + (1 | {any_group})")
    return dataclasses.replace(f, text=zi, random=[])
