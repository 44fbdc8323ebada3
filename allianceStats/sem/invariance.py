"""Measurement invariance across groups: the configural → thresholds → metric → scalar → strict sequence, as
semTools' ``measEq.syntax`` writes it and ``lavTestLRT`` tests it.

Do the items measure the same construct in each group (culture, language, setting)? Each step constrains one more
kind of measurement parameter to be equal across groups and is compared with the step before it:

=============  =============================================================================================
configural     the same factor structure in every group, every parameter free
thresholds     (ordered items) the thresholds equal
metric         + the loadings equal ("weak" invariance)
scalar         + the intercepts equal ("strong"): latent means become comparable
strict         + the residual variances equal
=============  =============================================================================================

Identification
--------------
*Ordered items* (Wu & Estabrook 2016, semTools' ``ID.cat = "Wu.Estabrook.2016"`` with ``ID.fac = "std.lv"``): in
every group the latent variances are 1 and means 0, item intercepts 0 and residual variances 1 (theta) or scale
factors 1 (delta), thresholds free. In groups after the first, an item with at least one equal threshold gets a
free intercept (unless intercepts are equal), and with at least two equal thresholds — or one, and equal
intercepts — a free residual variance (scale factor) (unless residuals are equal); a factor's variance is freed
once one of its loadings is equal, its mean once an item measuring only that factor has an equal intercept;
strict fixes the residual variances at 1 again (theta parameterization only: under delta the residual variances
are not parameters, as in semTools). The result equals
``measEq.syntax(..., ID.fac = "std.lv", ID.cat = "Wu.Estabrook.2016")`` fitted by ``lavaan::cfa`` (checked on
semTools' ``datCat``, both parameterizations, with partial invariance and with binary and three-category items).

*Continuous items* (lavaan's ``group.equal``): the first loading of each factor fixed at 1 (marker variable);
intercepts, residual variances, latent variances and covariances free in every group; latent means 0, freed in
groups after the first once intercepts are equal. Equal to ``lavaan::cfa(model, group = , group.equal = ...)``
(checked on ``HolzingerSwineford1939`` by school).

*Ordered and continuous items together* (e.g. Likert items next to a visual-analogue scale; semTools'
``measEq.syntax(..., ordered = <some items>, ID.fac = "std.lv", ID.cat = "Wu.Estabrook.2016")``): the ordered
items follow Wu & Estabrook's rules above, the factors are identified as there (variances 1 and means 0 in the
first group, freed by the same rules), and a continuous item has a free loading, a free intercept and a free
residual variance in every group, made equal by the scalar and strict steps; it has no thresholds (the thresholds
step constrains the ordered items only). Under the delta parameterization the continuous items have no scale
factor (lavaan's default; semTools writes them fixed at 1). Across sessions the same construction holds wave by
wave (semTools' ``longFacNames``). Checked against lavaan 0.6.14 + semTools 0.5.6 on simulated data (theta and
delta, across groups and sessions, and with ``missing = "pairwise"``) in ``tests/sem/test_invariance_mixed.py``.

Tests: each step against the previous one by the χ² difference (ML), Satorra–Bentler (2001) (MLR) or Satorra's
(2000) scaled-and-shifted difference (WLSMV), as ``lavTestLRT`` — :func:`allianceStats.sem.compare_sem`; and the
changes in CFI and RMSEA (scaled versions where the estimator has them; Cheung & Rensvold 2002 suggest
ΔCFI ≤ −0.01 as a sign of non-invariance, Chen 2007 adds ΔRMSEA ≥ 0.015).

Partial invariance: ``partial=["F =~ u3", "u4 | t2", "u2 ~ 1", "u1 ~~ u1"]`` leaves those parameters free across
groups in every step that would constrain them (semTools' ``group.partial``).

References: Chen (2007) *Struct. Equ. Modeling* 14; Cheung & Rensvold (2002) *Struct. Equ. Modeling* 9; Meredith
(1993) *Psychometrika* 58; Millsap & Tein (2004) *Multivar. Behav. Res.* 39; Satorra (2000) in Heijmans et al.
(eds.) *Innovations in Multivariate Statistical Analysis*; Wu & Estabrook (2016) *Psychometrika* 81.

Example
-------
>>> lines = invariance_syntax("F =~ a + b + c", ["a", "b", "c"], n_groups=2, step="metric",
...                           thresholds={}).splitlines()
>>> lines[0], lines[1]
('F =~ c(1, 1)*a', 'F =~ c(NA, NA)*b + c(lambda.2_1, lambda.2_1)*b')
"""
from __future__ import annotations

import itertools
import time
import warnings
from collections.abc import Hashable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from threadpoolctl import threadpool_limits

from ..comparison import ComparisonResult
from ..data.checks import check_choice, check_conf_level, first_labels, require_columns, table_and_text
from ..data.reshape import to_wide
from ..errors import DataWarning, FormulaError, OptionError, SchemaError
from ..results import Convergence, Provenance, ResultDisplay, make_provenance
from .comparison import compare_sem
from .fit import fit_sem
from .fit_ordinal import fit_sem_ordinal
from .ordinal import _codes
from .result import SEMResult
from .syntax import parse_model

STEPS = ("configural", "thresholds", "metric", "scalar", "strict")
"""The steps, in the order they constrain (each adds one kind of parameter)."""
CONSTRAINS = {"thresholds": "thresholds", "metric": "loadings", "scalar": "intercepts", "strict": "residuals"}
"""What each step constrains to equality across groups (semTools' ``group.equal`` names)."""
TABLE_COLUMNS = ("step", "chisq", "df", "chisq_scaled", "df_scaled", "cfi_scaled", "rmsea_scaled", "srmr",
                 "chisq_diff", "df_diff", "p_value", "delta_cfi", "delta_rmsea", "cfi", "rmsea", "npar", "converged")
"""Columns of :attr:`InvarianceResult.table` (``delta_cfi``/``delta_rmsea`` use the scaled indices where the
estimator has them, else the ordinary ones)."""


# ----------------------------------------------------------------------------------------------------
# the syntax of each step


@dataclass(frozen=True)
class _Measurement:
    factors: tuple[str, ...]
    loadings: tuple[tuple[str, str], ...]      # (factor, item)
    items: tuple[str, ...]
    residual_covariances: tuple[tuple[str, str], ...]


def _read_model(model: str) -> _Measurement:
    statements, definitions = parse_model(model)
    if definitions:
        raise FormulaError("measurement_invariance() takes a measurement model ('F =~ i1 + i2 + ...', optional "
                           "'~~' covariances); defined parameters and constraints (':=', '==') are not allowed")
    loadings: list[tuple[str, str]] = []
    covs: list[tuple[str, str]] = []
    for s in statements:
        if s.op == "=~":
            if s.modifiers:
                raise FormulaError(f"model line {s.line!r}: write the configural model without modifiers; "
                                   "measurement_invariance() sets the identification and the equality labels")
            loadings.append((s.lhs, s.rhs))
        elif s.op == "~~":
            covs.append((s.lhs, s.rhs))
        else:
            raise FormulaError(f"model line {s.line!r}: measurement_invariance() takes a measurement model (=~ and "
                               "~~ lines); fit structural paths on the invariant model with fit_sem()")
    factors = tuple(dict.fromkeys(f for f, _ in loadings))
    items = tuple(dict.fromkeys(i for _, i in loadings))
    bad = [i for i in items if i in factors]
    if bad:
        raise FormulaError(f"{bad} are both factors and items; measurement_invariance() takes first-order factors "
                           "measured by observed items")
    for a, b in covs:
        if a == b:
            raise FormulaError(f"'{a} ~~ {b}': variances are set by measurement_invariance(); write only "
                               "covariances")
    return _Measurement(factors, tuple(loadings), items, tuple(covs))


def _c(values: Sequence[Any]) -> str:
    return "c(" + ", ".join("NA" if v is None else (f"{v:g}" if isinstance(v, float) else str(v)) for v in values) \
        + ")"


def _partial_keys(partial: Sequence[str] | None) -> set[tuple[str, str, str]]:
    keys: set[tuple[str, str, str]] = set()
    for text in partial or ():
        if not isinstance(text, str):
            raise OptionError(f"partial= takes lavaan-style parameter names such as 'F =~ u3', 'u4 | t2', 'u2 ~ 1', "
                              f"'u1 ~~ u1'; got {text!r}")
        try:
            statements, _ = parse_model(text)
        except FormulaError:
            raise OptionError(f"partial= entry {text!r} is not a parameter name; write e.g. 'F =~ u3', 'u4 | t2', "
                              "'u2 ~ 1' or 'u1 ~~ u1'") from None
        for s in statements:
            keys.add((s.lhs, s.op, s.rhs))
    return keys


class _Writer:
    """Writes one parameter across the instances (groups or waves) of the sequence.

    Across groups a parameter is one line with a value term and a label term (``c(NA, NA)*x + c(l.g1, l.g2)*x``);
    across waves the instances are different variables of one group (``x_1``, ``x_2``), one line each
    (``F_1 =~ NA*x_1 + l*x_1``). A parameter equal across instances shares one label; otherwise each instance
    gets its own (``.g<k>`` or ``.t<k>`` added).
    """

    def __init__(self, n_groups: int, waves: Sequence[Any] | None, sep: str):
        self.waves = list(waves) if waves is not None else None
        self.G = n_groups if waves is None else len(self.waves)  # type: ignore[arg-type]
        self.sep = sep
        self.lines: list[str] = []

    def name(self, v: str, k: int) -> str:
        return v if self.waves is None else f"{v}{self.sep}{self.waves[k]}"

    def add(self, lhs: str, op: str, rhs: str, free: Sequence[bool], fixed: Sequence[float], label: str | None,
            equal: bool = False) -> None:
        G = self.G
        if self.waves is None:
            values = [None if f else v for f, v in zip(free, fixed)]
            term = f"{_c(values)}*{rhs}"
            if label is not None:
                labels = [label] * G if equal else [f"{label}.g{g}" for g in range(1, G + 1)]
                term += f" + {_c(labels)}*{rhs}"
            self.lines.append(f"{lhs} {op} {term}")
            return
        for k in range(G):
            r = rhs if rhs == "1" or op == "|" else self.name(rhs, k)
            value = "NA" if free[k] else f"{fixed[k]:g}"
            term = f"{value}*{r}"
            if label is not None:
                term += f" + {label if equal else f'{label}.t{k + 1}'}*{r}"
            self.lines.append(f"{self.name(lhs, k)} {op} {term}")


def invariance_syntax(model: str, items: Sequence[str], *, n_groups: int, step: str,
                      thresholds: dict[str, int], parameterization: str = "theta",
                      partial: Sequence[str] | None = None, waves: Sequence[Any] | None = None,
                      sep: str = "_") -> str:
    """lavaan syntax of one step of the invariance sequence (module docstring), across ``n_groups`` groups or, with
    ``waves``, across waves of one group.

    Parameters
    ----------
    model : str
        The configural measurement model of one group or wave (``=~`` lines, optional ``~~`` covariances).
    items : sequence of str
        The observed items, in the order they appear (used for the labels ``lambda.<item>_<factor>``).
    n_groups : int
        Number of groups (ignored with ``waves``).
    step : str
        One of :data:`STEPS`; it constrains what it and every step before it in :data:`STEPS` constrain.
    thresholds : dict
        Ordered item → number of thresholds; the items not in it are continuous (empty: all continuous, the
        marker-variable identification of lavaan's ``group.equal``; otherwise ``std.lv`` with Wu & Estabrook's
        rules for the ordered items and free intercepts and residual variances for the continuous ones).
    parameterization : {"theta", "delta"}
        Identification of the ordered items.
    partial : sequence of str, optional
        Parameters left free across groups or waves (``"F =~ u3"``, ``"u4 | t2"``, ``"u2 ~ 1"``, ``"u1 ~~ u1"``).
    waves : sequence, optional
        Longitudinal invariance: the waves (session numbers); item ``x`` at wave ``w`` is the column
        ``x<sep><w>``, factor ``F`` at wave ``w`` is ``F<sep><w>``. The residuals of the same item are correlated
        across waves (every pair of waves), and the factors at all waves covary.
    sep : str
        Separator of the wide column names (:func:`allianceStats.data.to_wide`'s).

    Returns
    -------
    str
        The syntax, in semTools' ``measEq.syntax`` form (a value term and a label term per parameter).

    Examples
    --------
    >>> print(invariance_syntax("F =~ u1 + u2", ["u1", "u2"], n_groups=2, step="thresholds",
    ...                         thresholds={"u1": 1, "u2": 2}).splitlines()[5])
    u1 ~ c(0, NA)*1 + c(nu.1.g1, nu.1.g2)*1
    >>> print(invariance_syntax("F =~ a + b", ["a", "b"], n_groups=1, step="metric", thresholds={},
    ...                         waves=[1, 2]).splitlines()[2])
    F_1 =~ NA*b_1 + lambda.2_1*b_1
    """
    meas = _read_model(model)
    ordinal = bool(thresholds)
    equal = {CONSTRAINS[s] for s in STEPS[: STEPS.index(step) + 1] if s in CONSTRAINS}
    free_keys = _partial_keys(partial)
    out = _Writer(n_groups, waves, sep)
    G = out.G
    idx = {v: k for k, v in enumerate(items, start=1)}
    fidx = {f: k for k, f in enumerate(meas.factors, start=1)}
    every = [True] * G
    eq_loadings = {f: False for f in meas.factors}
    for f, i in meas.loadings:
        eq = "loadings" in equal and (f, "=~", i) not in free_keys
        eq_loadings[f] |= eq
        if not ordinal and i == next(it for ff, it in meas.loadings if ff == f):
            out.add(f, "=~", i, [False] * G, [1.0] * G, None)     # marker variable (lavaan's default, continuous)
            continue
        out.add(f, "=~", i, every, [0.0] * G, f"lambda.{idx[i]}_{fidx[f]}", eq)
    for i in items:
        for k in range(1, thresholds.get(i, 0) + 1):
            eq = "thresholds" in equal and (i, "|", f"t{k}") not in free_keys
            out.add(i, "|", f"t{k}", every, [0.0] * G, f"{i}.thr{k}", eq)
    # Wu & Estabrook's rules hang on the number of equal thresholds of each item (n_eq)
    n_eq = {i: sum("thresholds" in equal and (i, "|", f"t{k}") not in free_keys
                   for k in range(1, thresholds.get(i, 0) + 1)) for i in items}
    int_eq = {i: "intercepts" in equal and (i, "~1", "") not in free_keys for i in items}
    # a continuous item keeps its own intercept and residual variance in every group, also next to ordered items
    # (semTools applies Wu & Estabrook's rules to the ordered items only)
    for i in items:
        free = [False] + [n_eq[i] >= 1 and not int_eq[i]] * (G - 1) if i in thresholds else every
        out.add(i, "~", "1", free, [0.0] * G, f"nu.{idx[i]}", int_eq[i])
    for i in items:
        eq = "residuals" in equal and (i, "~~", i) not in free_keys
        label = f"theta.{idx[i]}_{idx[i]}"
        if i not in thresholds:
            out.add(i, "~~", i, every, [0.0] * G, label, eq)
            continue
        release = (n_eq[i] >= 2 or (n_eq[i] >= 1 and int_eq[i])) and not eq
        free = [False] + [release] * (G - 1)
        if parameterization == "theta":
            out.add(i, "~~", i, free, [1.0] * G, label, eq)
        else:
            out.add(i, "~*~", i, free, [1.0] * G, None)
    for a, b in meas.residual_covariances:
        if a in fidx and b in fidx:
            continue
        out.add(a, "~~", b, every, [0.0] * G, f"theta.{idx.get(b, b)}_{idx.get(a, a)}")
    if waves is not None:   # the residuals of the same item, correlated over time
        for i in items:
            for s_, t_ in itertools.combinations(range(G), 2):
                out.lines.append(f"{out.name(i, s_)} ~~ NA*{out.name(i, t_)}")
    loads_on: dict[str, list[str]] = {}
    for f, i in meas.loadings:
        loads_on.setdefault(i, []).append(f)
    for f in meas.factors:
        release = (any(int_eq[i] and loads_on[i] == [f] for i in items) if ordinal else "intercepts" in equal)
        out.add(f, "~", "1", [False] + [release] * (G - 1), [0.0] * G, f"alpha.{fidx[f]}")
    for f in meas.factors:
        if ordinal:
            out.add(f, "~~", f, [False] + [eq_loadings[f]] * (G - 1), [1.0] * G, f"psi.{fidx[f]}_{fidx[f]}")
        else:
            out.add(f, "~~", f, every, [0.0] * G, f"psi.{fidx[f]}_{fidx[f]}")
    if waves is None:
        for a_i, a in enumerate(meas.factors):
            for b in meas.factors[a_i + 1:]:
                out.add(a, "~~", b, every, [0.0] * G, f"psi.{fidx[b]}_{fidx[a]}")
    else:
        instances = [out.name(f, k) for k in range(G) for f in meas.factors]
        for a, b in itertools.combinations(instances, 2):
            out.lines.append(f"{a} ~~ NA*{b}")
    return "\n".join(out.lines)


# ----------------------------------------------------------------------------------------------------
# the result


@dataclass(frozen=True, repr=False)
class InvarianceResult(ResultDisplay):
    """A measurement-invariance sequence, as returned by :func:`measurement_invariance`.

    Attributes
    ----------
    table : DataFrame
        One row per step: :data:`TABLE_COLUMNS` (each step's fit, its test against the step before, and the
        changes in CFI and RMSEA).
    fits : dict
        Step → :class:`~allianceStats.sem.SEMResult`.
    syntax : dict
        Step → the lavaan syntax fitted (also ``to_lavaan(step)``).
    comparison : ComparisonResult
        The nested-model tests (``compare_sem`` of the fits in order).
    method : str
        The difference test (``comparison.method``).
    steps, group, group_labels, ordered, estimator, parameterization
        What was fitted (``group`` None across sessions).
    session, waves, wide
        Across sessions: the session column, the waves compared and the wide table fitted (one row per client,
        ``<item>_<session>`` columns); None / () / None across groups.
    convergence, provenance, n_obs, conf_level
        The result protocol: converged when every step converged; ``n_obs`` rows used (all groups).

    Examples
    --------
    >>> from allianceStats.simulate.items import simulate_alliance_items
    >>> data, truth = simulate_alliance_items(n_per_group=300, seed=3)
    >>> res = measurement_invariance(data, "bond =~ wai3 + wai5 + wai7 + wai9", group="culture",
    ...                              ordered=True, steps=("configural", "thresholds", "metric"))
    >>> list(res.table["step"]), res.method.split(",")[0]
    (['configural', 'thresholds', 'metric'], 'Satorra (2000) scaled chi-square difference')
    >>> print(res.to_lavaan("configural").splitlines()[0])
    bond =~ c(NA, NA)*wai3 + c(lambda.1_1.g1, lambda.1_1.g2)*wai3
    """

    table: pd.DataFrame
    fits: dict[str, SEMResult]
    syntax: dict[str, str]
    comparison: ComparisonResult
    method: str
    steps: tuple[str, ...]
    group: str | None
    group_labels: tuple[Hashable, ...]
    ordered: tuple[str, ...]
    estimator: str
    parameterization: str | None
    convergence: Convergence
    provenance: Provenance
    n_obs: int
    conf_level: float = 0.95
    options: dict[str, Any] = field(default_factory=dict)
    session: str | None = None
    waves: tuple[Any, ...] = ()
    wide: pd.DataFrame | None = field(default=None, repr=False)

    def to_lavaan(self, step: str) -> str:
        """The lavaan syntax of ``step`` (run it with :meth:`r_call`)."""
        if step not in self.syntax:
            raise OptionError(f"step={step!r} is not one of the fitted steps {list(self.syntax)}")
        return self.syntax[step]

    def r_call(self, step: str, data_name: str = "data") -> str:
        """The R call that fits ``to_lavaan(step)`` (saved as ``model``) to a data frame named ``data_name`` (across
        sessions: the wide table, :attr:`wide`). ``ordered`` lists the ordered items only (at every wave across
        sessions); the others are continuous, as in the fit."""
        self.to_lavaan(step)
        grp = f', group = "{self.group}"' if self.group else ""
        missing = {"pairwise": ', missing = "pairwise"', "fiml": ', missing = "ml"', "ml": ', missing = "ml"'}.get(
            str(self.options.get("missing", "listwise")), "")
        if self.ordered:
            names = [f"{v}_{w}" for v in self.ordered for w in self.waves] if self.waves else self.ordered
            items = ", ".join(f'"{v}"' for v in names)
            return (f"lavaan::cfa(model, data = {data_name}{grp}, ordered = c({items}), estimator = "
                    f'"{self.estimator}", parameterization = "{self.parameterization}"{missing})')
        return f'lavaan::cfa(model, data = {data_name}{grp}, estimator = "{self.estimator}"{missing})'

    def summary(self) -> str:
        """The table of steps with the test used and the conventional cut-offs."""
        n_items = len(self.options.get("items", ())) or len(self.ordered)
        which = ("ordered items" if len(self.ordered) >= n_items
                 else f"{len(self.ordered)} ordered items ({', '.join(self.ordered)}) and "
                      f"{n_items - len(self.ordered)} continuous")
        kind = f"{which}, {self.estimator}, {self.parameterization} parameterization" if self.ordered \
            else f"continuous items, {self.estimator}"
        across = (f"{self.group!r} ({len(self.group_labels)} groups: {', '.join(map(str, self.group_labels))}"
                  if self.group else f"sessions {', '.join(map(str, self.waves))} of {self.session!r} "
                  f"({len(self.waves)} waves, residuals of each item correlated over time")
        head = [f"Measurement invariance across {across}; {kind}), n = {self.n_obs}",
                f"  difference tests: {self.method}",
                "  a step is usually retained when its test is not significant and CFI drops by no more than 0.01 "
                "(Cheung & Rensvold 2002) and RMSEA rises by less than 0.015 (Chen 2007)"]
        for w in self.convergence.warnings:
            head.append(f"  WARNING: {w}")
        cols = [c for c in ("step", "chisq", "df", "chisq_scaled", "cfi_scaled", "rmsea_scaled", "cfi", "rmsea",
                            "srmr", "chisq_diff", "df_diff", "p_value", "delta_cfi", "delta_rmsea")
                if c in self.table and self.table[c].notna().any()]
        body = self.table[cols].to_string(index=False, float_format=lambda v: f"{v:.4f}")
        return "\n".join(head) + "\n\n" + body

    def __repr__(self) -> str:
        state = "converged" if self.converged else "NOT converged"
        across = repr(self.group) if self.group else f"sessions {list(self.waves)}"
        return (f"<InvarianceResult: {', '.join(self.steps)} across {across}, {self.estimator}, "
                f"n = {self.n_obs}, {state}>")


# ----------------------------------------------------------------------------------------------------
# the function


def measurement_invariance(data: pd.DataFrame, model: str, *, group: str | None = None,
                           ordered: Sequence[str] | bool | None = None, steps: Sequence[str] = STEPS,
                           partial: Sequence[str] | None = None, conf_level: float = 0.95,
                           estimator: str | None = None, parameterization: str = "theta", missing: str = "listwise",
                           client: str = "client", session: str | None = None,
                           waves: Sequence[Any] | None = None) -> InvarianceResult:
    """Test measurement invariance across groups, or across sessions, step by step (configural, thresholds,
    metric, scalar, strict).

    Definition: the sequence of nested factor models of Meredith (1993), with Wu & Estabrook's (2016)
    identification for ordered items (semTools' ``measEq.syntax``), each step tested against the previous one as
    lavaan's ``lavTestLRT`` (Satorra 2000 scaled-and-shifted difference under WLSMV) — see the module docstring.
    Across groups (``group=``) or, longitudinally, across the sessions of the same clients (``session=``): the same
    items at each wave, the residuals of an item correlated over time, the factors at all waves correlated (the
    check to run before an RI-CLPM with multiple indicators). Checked against lavaan 0.6.14 + semTools 0.5.6 on
    ``datCat`` (ordered, theta and delta, groups and waves) and ``HolzingerSwineford1939`` (continuous) in
    ``tests/sem/test_invariance.py``, and with ordered and continuous items in one model (Wu & Estabrook 2016 for
    the ordered ones, semTools' ``measEq.syntax``) in ``tests/sem/test_invariance_mixed.py``.

    The data come first, as everywhere in allianceStats (semTools writes the model first; that order is
    accepted as typed).

    Parameters
    ----------
    data : DataFrame
        Across groups: one row per respondent with the items and the group column. Across sessions: the long
        session table (one row per client and session) with the items.
    model : str
        The configural measurement model of one group or session, in lavaan syntax without modifiers
        (``"F =~ i1 + i2 + i3"``; optional ``~~`` residual or factor covariances).
    group : str, optional
        The column defining the groups (order of appearance). Give ``group`` or ``session``.
    ordered : list of str or True, optional
        The ordered items: True means all of the model's items, None (default) none (all continuous), a list
        some of them (the others continuous: the mixed construction of the module docstring, as semTools'
        ``measEq.syntax`` with ``ordered = c(...)``). Every name must be an item of the model.
    steps : sequence of str
        Steps to fit, a subset of ``("configural", "thresholds", "metric", "scalar", "strict")`` in that order.
        Each step constrains what it and every step before it in that order constrain, fitted or not (so
        ``("configural", "metric")`` tests equal thresholds and loadings together). ``"thresholds"`` is skipped
        for continuous items; ``"strict"`` needs ``parameterization="theta"`` with ordered items.
    partial : sequence of str, optional
        Parameters left free across groups or sessions where a step would constrain them (partial invariance):
        ``"F =~ u3"``, ``"u4 | t2"``, ``"u2 ~ 1"``, ``"u1 ~~ u1"`` (item and factor names as in ``model``).
    conf_level : float
        Level of the intervals in each fit's ``params``.
    estimator : str, optional
        ``"WLSMV"`` (default when any item is ordered; also ``"ULSMV"``, ``"WLSM"``, ``"ULSM"``, ``"DWLS"``,
        ``"ULS"``, ``"WLS"``) or ``"ML"`` (default for continuous items; also ``"MLR"``).
    parameterization : {"theta", "delta"}
        Identification of ordered items (theta by default, so that strict invariance can be tested).
    missing : {"listwise", "fiml", "pairwise"}
        Continuous items: complete rows (lavaan ``cfa``'s default) or FIML. Ordered items, alone or next to
        continuous ones: listwise or pairwise (lavaan's ``missing = "pairwise"``, see ``fit_sem``). Across
        sessions a row is a client, so listwise keeps the clients observed at every wave.
    client : str
        Across sessions: the client column.
    session : str, optional
        Across sessions: the session-number column; the table is spread to one row per client with
        :func:`allianceStats.data.to_wide` (columns ``<item>_<session>``, factors ``<factor>_<session>``).
    waves : sequence, optional
        Across sessions: the session numbers to compare, in order (default: all, sorted).

    Returns
    -------
    InvarianceResult
        ``table`` (one row per step), ``fits``, ``syntax``, ``comparison``, ``to_lavaan(step)``.

    Raises
    ------
    FormulaError
        The model is not a measurement model.
    SchemaError
        A column is missing, a continuous item is not numeric, an ordered item is not coded in whole numbers, has
        one category, misses a category in a group among the rows used (lavaan stops there too), or has different
        categories at different sessions.
    IdentificationError
        A group with fewer than 2 usable rows.
    OptionError
        Unknown steps or options, ``ordered=`` naming a variable that is not an item of the model, ``"strict"``
        with ordered items under the delta parameterization (also next to continuous items, as semTools), FIML
        with ordered items, fewer than two groups or sessions, both or neither of ``group`` and ``session``.

    Examples
    --------
    Simulated WAI-SR bond items in two cultures, item 7 rated lower in culture B than its factor predicts:

    >>> from allianceStats.simulate.items import simulate_alliance_items
    >>> data, truth = simulate_alliance_items(n_per_group=800, seed=1)
    >>> res = measurement_invariance(data, "bond =~ wai3 + wai5 + wai7 + wai9", group="culture", ordered=True)
    >>> list(res.table["step"])
    ['configural', 'thresholds', 'metric', 'scalar', 'strict']
    >>> table = res.table.set_index("step")
    >>> int(table.loc["metric", "df_diff"]), bool(table.loc["scalar", "p_value"] < 0.001)
    (3, True)
    >>> partial = measurement_invariance(data, "bond =~ wai3 + wai5 + wai7 + wai9", group="culture",
    ...                                  ordered=True, partial=["wai7 ~ 1"], steps=("configural", "thresholds",
    ...                                                                             "metric", "scalar"))
    >>> bool(partial.table.set_index("step").loc["scalar", "p_value"] > 0.05)
    True

    Ordered and continuous items together — here wai3 is read as a continuous rating (say a visual-analogue
    scale), the others as ordered: wai3 keeps a free intercept in each group and has no thresholds:

    >>> mixed = measurement_invariance(data, "bond =~ wai3 + wai5 + wai7 + wai9", group="culture",
    ...                                ordered=["wai5", "wai7", "wai9"], steps=("configural", "thresholds"))
    >>> mixed.ordered
    ('wai5', 'wai7', 'wai9')
    >>> for line in mixed.to_lavaan("thresholds").splitlines():
    ...     if line.startswith("wai3 ~"):
    ...         print(line)
    wai3 ~ c(NA, NA)*1 + c(nu.1.g1, nu.1.g2)*1
    wai3 ~~ c(NA, NA)*wai3 + c(theta.1_1.g1, theta.1_1.g2)*wai3

    Across two sessions of the same clients (here culture A's and culture B's rows stand in for sessions 1 and 2):

    >>> long = data.assign(client=data["respondent"] % 800, session=(data["culture"] == "B") + 1)
    >>> over = measurement_invariance(long, "bond =~ wai3 + wai5 + wai7 + wai9", session="session", ordered=True,
    ...                               steps=("configural", "metric"))
    >>> over.waves, over.n_obs, over.to_lavaan("metric").splitlines()[0]
    ((1, 2), 800, 'bond_1 =~ NA*wai3_1 + lambda.1_1*wai3_1')
    """
    started = time.perf_counter()
    data, model = table_and_text(data, model, where="measurement_invariance", text="model")
    if not isinstance(model, str):
        raise OptionError(f"model must be lavaan syntax (a str), found {type(model).__name__}")
    conf_level = check_conf_level(conf_level)
    check_choice("parameterization", parameterization, ["theta", "delta"])
    check_choice("missing", missing, ["listwise", "fiml", "pairwise"])
    if isinstance(steps, str):
        steps = (steps,)
    unknown = [s for s in steps if s not in STEPS]
    if unknown or not steps:
        raise OptionError(f"steps= must be a subset of {list(STEPS)}, got {list(steps)}")
    if [s for s in STEPS if s in steps] != list(dict.fromkeys(steps)):
        raise OptionError(f"steps= must be in the order {list(STEPS)} (each step adds constraints to the one before); "
                          f"got {list(steps)}")
    if (group is None) == (session is None):
        raise OptionError("give group= (invariance across groups) or session= (across the sessions of the same "
                          "clients), not " + ("both" if group is not None else "neither"))
    meas = _read_model(model)
    longitudinal = session is not None
    if longitudinal:
        table_in = require_columns(data, [client, session, *meas.items], where="measurement_invariance")
        labels: list[Any] = []
        wide = to_wide(table_in, list(meas.items), client=client, session=str(session), waves=waves)
        wave_list = [w.item() if isinstance(w, np.generic) else w
                     for w in (sorted(pd.unique(table_in[session].dropna())) if waves is None else waves)]
        if len(wave_list) < 2:
            raise SchemaError([f"session column {session!r} has {len(wave_list)} session(s) {wave_list}; "
                               "longitudinal invariance needs at least two"], source="measurement_invariance")
        columns = {i: [f"{i}_{w}" for w in wave_list] for i in meas.items}
        fit_data = wide
    else:
        require_columns(data, [group, *meas.items], where="measurement_invariance")
        labels = list(pd.unique(data[group].dropna()))
        if len(labels) < 2:
            raise SchemaError([f"group column {group!r} has {len(labels)} group(s) {labels}; invariance needs at "
                               "least two"], source="measurement_invariance")
        wave_list = []
        columns = {i: [i] for i in meas.items}
        fit_data = data
    if ordered is True:
        items_ord = list(meas.items)
    elif ordered in (None, False):
        items_ord = []
    else:
        if isinstance(ordered, str) or not all(isinstance(v, str) for v in ordered):  # type: ignore[union-attr]
            raise OptionError(f"ordered= must be a list of item names or True, got {ordered!r}")
        unknown_items = [v for v in dict.fromkeys(ordered) if v not in meas.items]  # type: ignore[arg-type]
        if unknown_items:
            raise OptionError(f"ordered= names {unknown_items}, not among the model's items {list(meas.items)} "
                              "(lavaan would ignore them with a warning); list the ordered items among these (the "
                              "others are fitted as continuous), or give ordered=True for all")
        items_ord = [v for v in meas.items if v in set(ordered)]  # type: ignore[arg-type]
    thresholds: dict[str, int] = {}
    if items_ord and missing == "fiml":
        raise OptionError("missing='fiml' is not available with ordered items; use missing='listwise' (default) or "
                          "'pairwise' (lavaan's choices for its least-squares estimators)")
    if not items_ord and missing == "pairwise":
        raise OptionError("missing='pairwise' is only available with ordered items; for continuous items use "
                          "missing='fiml' or 'listwise'")
    if items_ord:
        estimator = estimator or "WLSMV"
        if estimator in ("ML", "MLR"):
            raise OptionError(f"estimator={estimator!r} is not supported with ordered items "
                              f"({first_labels(items_ord)}): it is for continuous items; use lavaan's "
                              "least-squares estimators: 'WLSMV' (the default; leave estimator unset), 'WLSM', "
                              "'DWLS', 'ULSMV', 'ULSM', 'ULS' or 'WLS'")
        check_choice("estimator", estimator, ["WLSMV", "WLSM", "DWLS", "ULSMV", "ULSM", "ULS", "WLS"])
        if "strict" in steps and parameterization == "delta":
            raise OptionError("strict invariance (equal residual variances) cannot be tested under "
                              "parameterization='delta', where residual variances are not parameters (semTools "
                              "refuses too); use parameterization='theta' or leave 'strict' out of steps=")
        thresholds = _count_thresholds(fit_data, items_ord, columns, longitudinal)
        fitted_steps = tuple(steps)
    else:
        estimator = estimator or "ML"
        check_choice("estimator", estimator, ["ML", "MLR"])
        fitted_steps = tuple(s for s in steps if s != "thresholds")
    syntax = {s: invariance_syntax(model, meas.items, n_groups=max(len(labels), 1), step=s, thresholds=thresholds,
                                   parameterization=parameterization, partial=partial,
                                   waves=wave_list if longitudinal else None)
              for s in fitted_steps}
    fit_group = None if longitudinal else group
    fits: dict[str, SEMResult] = {}
    cache: dict = {}   # the thresholds, polychoric correlations and Γ are the same for every step
    ordered_columns = [c for i in items_ord for c in columns[i]]
    with threadpool_limits(limits=1, user_api="blas"):   # many small matrices: threads only add overhead
        for k, s in enumerate(fitted_steps):
            with warnings.catch_warnings():
                if k:   # every step uses the same rows: the rows dropped are reported once, by the first
                    warnings.simplefilter("ignore", DataWarning)
                if items_ord:
                    fits[s] = fit_sem_ordinal(fit_data, syntax[s], ordered=ordered_columns, estimator=estimator,
                                              parameterization=parameterization, group=fit_group, se="standard",
                                              defaults="sem", conf_level=conf_level, started=time.perf_counter(),
                                              cache=cache, where="measurement_invariance", missing=missing)
                else:
                    fits[s] = fit_sem(fit_data, syntax[s], group=fit_group, estimator=estimator, missing=missing,
                                      conf_level=conf_level)
        comparison = compare_sem(*fits.values(), names=list(fits)) if len(fits) > 1 else None
    table = _table(fits, comparison, scaled=bool(items_ord) or estimator == "MLR")
    step_warnings = tuple(w for f in fits.values() for w in f.convergence.warnings)
    convergence = Convergence(converged=all(f.converged for f in fits.values()),
                              iterations=sum(f.convergence.iterations for f in fits.values()),
                              optimizer=next(iter(fits.values())).convergence.optimizer, warnings=step_warnings)
    options = dict(group=group, session=session, client=client if longitudinal else None,
                   waves=list(wave_list) if longitudinal else None, items=list(meas.items), ordered=items_ord,
                   steps=list(fitted_steps),
                   partial=list(partial or ()), estimator=estimator,
                   parameterization=parameterization if items_ord else None,
                   missing=missing, conf_level=conf_level)
    prov = make_provenance(data, options=options, function="measurement_invariance", started=started)
    first = next(iter(fits.values()))
    if comparison is None:
        from ..comparison import comparison_table
        comparison = ComparisonResult(table=comparison_table([]), method="none (one step)", n_obs=first.n_obs,
                                      provenance=prov)
    return InvarianceResult(table=table, fits=fits, syntax=syntax, comparison=comparison, method=comparison.method,
                            steps=fitted_steps, group=group, group_labels=first.group_labels if group else (),
                            ordered=tuple(items_ord), estimator=estimator,
                            parameterization=parameterization if items_ord else None, convergence=convergence,
                            provenance=prov, n_obs=first.n_obs, conf_level=conf_level, options=options,
                            session=session, waves=tuple(wave_list), wide=fit_data if longitudinal else None)


def _count_thresholds(data: pd.DataFrame, items: list[str], columns: dict[str, list[str]],
                      longitudinal: bool) -> dict[str, int]:
    """Number of thresholds of each ordered item; across sessions it must be the same at every wave."""
    problems, thresholds = [], {}
    for v in items:
        counts = {}
        for col in columns[v]:
            _, cats, problem = _codes(data[col], col)
            if problem:
                problems.append(problem)
            else:
                counts[col] = cats
        if len(counts) != len(columns[v]):
            continue
        distinct = {c for c in counts.values()}
        if len(distinct) > 1:
            seen = "; ".join(f"{col}: {list(c)}" for col, c in counts.items())
            problems.append(f"ordered item {v!r} has different categories at different sessions ({seen}); equal "
                            "thresholds need the same categories at every wave — collapse the rare categories the "
                            "same way at every session")
            continue
        thresholds[v] = len(next(iter(counts.values()))) - 1
    if problems:
        raise SchemaError(problems, source="measurement_invariance")
    return thresholds


def _table(fits: dict[str, SEMResult], comparison: ComparisonResult | None, *, scaled: bool) -> pd.DataFrame:
    rows = []
    tests = comparison.table.set_index("model") if comparison is not None else None
    for step, f in fits.items():
        fm = f.fit
        row: dict[str, Any] = {"step": step, "npar": fm["npar"], "converged": f.converged}
        for key in ("chisq", "df", "chisq_scaled", "df_scaled", "cfi_scaled", "rmsea_scaled", "srmr", "cfi",
                    "rmsea"):
            row[key] = float(fm.get(key, np.nan))
        if tests is not None:
            for key in ("chisq_diff", "df_diff", "p_value"):
                row[key] = float(tests.at[step, key])  # type: ignore[arg-type]
        rows.append(row)
    table = pd.DataFrame(rows)
    cfi = table["cfi_scaled"] if scaled and table["cfi_scaled"].notna().all() else table["cfi"]
    rmsea = table["rmsea_scaled"] if scaled and table["rmsea_scaled"].notna().all() else table["rmsea"]
    table["delta_cfi"] = cfi.diff()
    table["delta_rmsea"] = rmsea.diff()
    return table.reindex(columns=list(TABLE_COLUMNS))
