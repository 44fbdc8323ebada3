"""Model matrices of a GLMM, and the checks of its response, with messages that name column, rows and clients.

From a :class:`~allianceStats.mixed.glmm_formula.GLMMFormula` and a DataFrame this builds the response
(successes and trials for the binomial, counts otherwise), the offset, the fixed-effects matrix X (R's
``model.matrix``: the coding of :mod:`allianceStats.mixed.design`), the zero-inflation matrix, and one
:class:`GroupingFactor` per random term — nested, crossed or partially crossed alike; the random-effects
block itself is assembled sparsely by :mod:`allianceStats.mixed.sparse`. Terms are ordered as lme4's
``mkReTrms`` orders them: by decreasing number of levels (stable).

Rows with a missing value in any used column are dropped (R's ``na.omit``) and counted. Bad input raises a
:class:`~allianceStats.errors.SchemaError` listing every problem: 0/1 data that are not 0/1, negative or
non-integer counts or successes, successes above trials, a non-positive offset under ``log()``, clients
whose rows all have zero trials, and a response without any event (or without any non-event).

Example
-------
>>> import pandas as pd
>>> from allianceStats.mixed.glmm_formula import parse_glmm_formula
>>> df = pd.DataFrame({"use": [0, 1, 1, 0, 1, 0], "x": [0., 1, 2, 3, 4, 5], "client": list("aabbcc")})
>>> d = build_glmm_design(parse_glmm_formula("use ~ x + (1 | client)"), df, family="binomial")
>>> d.xnames, d.factors[0].name, d.trials.tolist()
(['(Intercept)', 'x'], 'client', [1.0, 1.0, 1.0, 1.0, 1.0, 1.0])
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from pandas.api.types import is_bool_dtype, is_numeric_dtype

from ..data.checks import first_labels, require_columns
from ..errors import FormulaError, IdentificationError, SchemaError
from .design import (
    DesignSpec,
    _check_not_exact,
    _check_rank,
    _factor_levels_of,
    _fixed_columns,
    _is_factor,
    _levels,
    _response_problems,
    _text_predictor_problems,
)
from .formula import Formula
from .glmm_formula import GLMMFormula, parse_zi_formula


@dataclass(frozen=True)
class GroupingFactor:
    """A random term: factor name, level labels, integer code per used row, its Z columns and their names."""

    name: str
    levels: list[str]
    codes: np.ndarray
    Z: np.ndarray
    znames: list[str]

    @property
    def q(self) -> int:
        return self.Z.shape[1]

    @property
    def n_levels(self) -> int:
        return len(self.levels)


@dataclass(frozen=True)
class GLMMDesign:
    """Everything a GLMM fit needs, rows in the order of ``model_frame``."""

    y: np.ndarray                 # successes (binomial) or counts
    trials: np.ndarray            # binomial trials (1 for 0/1 data); ones for counts
    offset: np.ndarray
    X: np.ndarray
    xnames: list[str]
    X_zi: np.ndarray | None
    zinames: list[str]
    factors: list[GroupingFactor]
    model_frame: pd.DataFrame
    n_dropped: int
    spec: DesignSpec
    zi_spec: DesignSpec | None
    response_kind: str            # "binary", "proportion", "cbind", "count"


def _where(frame: pd.DataFrame, bad: np.ndarray, cluster: str | None) -> str:
    rows = first_labels(frame.index[bad])
    text = f"row(s) {rows}"
    if cluster is not None:
        clients = first_labels(pd.unique(frame.loc[bad, cluster].astype(str)))
        text += f" ({cluster} {clients})"
    return text


def _response(gf: GLMMFormula, frame: pd.DataFrame, family: str, weights: str | None, cluster: str | None):
    """(y, trials, kind, problems): the response checked against the family."""
    problems: list[str] = []
    resp = gf.response
    if gf.successes is not None:
        if family != "binomial":
            raise FormulaError(f"cbind() responses are for family='binomial'; family={family!r} takes a count "
                               f"column, e.g. '{resp} ~ ...'.")
        s = frame[gf.successes].to_numpy(dtype=float)
        if len(gf.failures) == 2:
            total = frame[gf.failures[0]].to_numpy(dtype=float)
            f = total - frame[gf.failures[1]].to_numpy(dtype=float)
            fail_text = f"{gf.failures[0]} - {gf.failures[1]}"
        else:
            f = frame[gf.failures[0]].to_numpy(dtype=float)
            fail_text = gf.failures[0]
        for vals, name in ((s, gf.successes), (f, fail_text)):
            bad = (vals < 0) | (vals != np.round(vals))
            if bad.any() and name == fail_text and len(gf.failures) == 2 and np.all(s[bad] >= 0):
                problems.append(f"column {gf.successes!r}: successes exceed the trials in column "
                                f"{gf.failures[0]!r} at {_where(frame, bad, cluster)}; expected "
                                f"0 <= {gf.successes} <= {gf.failures[0]} — correct the counts or the trials")
            elif bad.any():
                problems.append(f"cbind() argument {name!r}: {int(bad.sum())} negative or non-integer value(s) at "
                                f"{_where(frame, bad, cluster)}; expected whole numbers >= 0 (counts of "
                                "successes and failures)")
        return s, s + f, "cbind", problems
    col = frame[resp]
    if family == "gaussian":      # the crossed linear mixed model (sparse_lmm): any finite number, not constant
        yv = col.to_numpy(dtype=float)
        bad = ~np.isfinite(yv)
        if bad.any():
            problems.append(f"column {resp!r}: infinite value(s) at {_where(frame, bad, cluster)}; replace them "
                            "(or set them to NaN to drop those rows)")
        else:
            problems += _response_problems(resp, yv)
        return yv, np.ones(len(col)), "continuous", problems
    if family == "binomial":
        yv = col.to_numpy(dtype=float)
        if weights is not None:
            w = frame[weights].to_numpy(dtype=float)
            badw = (w < 0) | ~np.isfinite(w)
            if badw.any():
                problems.append(f"column {weights!r} (weights = trials): negative or infinite value(s) at "
                                f"{_where(frame, badw, cluster)}; expected the number of trials of each row")
            bad = (yv < 0) | (yv > 1)
            if bad.any():
                problems.append(f"column {resp!r}: value(s) outside [0, 1] at {_where(frame, bad, cluster)}; with "
                                f"weights={weights!r} the response is the proportion of successes")
            s = yv * w
            nonint = ~bad & ~badw & (np.abs(s - np.round(s)) > 1e-8 * np.maximum(1, w))
            if nonint.any():
                problems.append(f"column {resp!r} × column {weights!r}: successes that are not whole numbers at "
                                f"{_where(frame, nonint, cluster)}; the proportion times the trials must be a count")
            return np.round(s), w, "proportion", problems
        bad = (yv != 0) & (yv != 1)
        if bad.any():
            vals = first_labels(pd.unique(col[bad]))
            problems.append(f"column {resp!r}: value(s) {vals} that are not 0 or 1 at {_where(frame, bad, cluster)}; "
                            "family='binomial' takes 0/1 outcomes, proportions with weights= (the trials), or "
                            f"cbind(successes, failures) — e.g. 'cbind(days_use, 7 - days_use)' needs a column "
                            "of failures first")
        return yv, np.ones_like(yv), "binary", problems
    yv = col.to_numpy(dtype=float)
    bad = (yv < 0) | (yv != np.round(yv))
    if bad.any():
        vals = first_labels(pd.unique(col[bad]))
        problems.append(f"column {resp!r}: value(s) {vals} that are not counts (whole numbers >= 0) at "
                        f"{_where(frame, bad, cluster)}; family={family!r} models counts — round or "
                        "correct them, or use fit_mlm for a continuous outcome")
    return yv, np.ones_like(yv), "count", problems


def build_glmm_design(gf: GLMMFormula, data: pd.DataFrame, *, family: str, weights: str | None = None,
                      zi: str | None = None, where: str | None = None) -> GLMMDesign:
    """Build the :class:`GLMMDesign` of ``gf`` on ``data`` (never modified); see the module docstring.

    ``family="gaussian"`` builds the design of a linear mixed model (:mod:`allianceStats.mixed.sparse_lmm`,
    the crossed path of ``fit_mlm``) with the checks of the nested engine's
    :func:`~allianceStats.mixed.design.build_design`: a response that is finite and not constant, fixed effects
    that do not reproduce it exactly, more rows than random effects of each term. For every family a text
    predictor with more than 50 values is refused. ``where`` names the public function in error messages
    (default ``"fit_mlm"`` for ``"gaussian"``, else ``"fit_glmm"``).
    """
    where = where or ("fit_mlm" if family == "gaussian" else "fit_glmm")
    core = gf.core
    zi_f: Formula | None = None
    if zi is not None:
        zi_f = parse_zi_formula(zi, core.response, core.random[0].group)
    used = list(gf.variables) + ([weights] if weights else [])
    if zi_f is not None:
        used += [v for t in zi_f.fixed_terms for v in t]
    used = list(dict.fromkeys(used))
    require_columns(data, used, where=where)
    factor_like = {r.group for r in core.random} | {v for t in core.fixed_terms for v in t}
    if zi_f is not None:
        factor_like |= {v for t in zi_f.fixed_terms for v in t}
    # response, trials, offsets, weights and random slopes must be numbers; grouping and fixed terms may be text
    nonnum = [v for v in used if v not in factor_like and not is_numeric_dtype(data[v]) and not is_bool_dtype(data[v])]
    if nonnum:
        raise SchemaError([f"column {v!r} has dtype {data[v].dtype}; expected numbers (it is used as response, "
                           "trials, offset, weights or random slope)" for v in nonnum], source=where)
    frame = data.loc[:, used]
    keep = frame.notna().all(axis=1).to_numpy()
    n_dropped = int((~keep).sum())
    frame = frame.loc[keep].copy()
    if len(frame) == 0:
        raise IdentificationError(f"no complete rows: every row has a missing value in {used}.")
    groups = [r.group for r in core.random]
    cluster = "client" if "client" in groups else groups[0]

    y, trials, kind, problems = _response(gf, frame, family, weights, cluster)
    offset = np.zeros(len(frame))
    for col, transform in gf.offsets:
        v = frame[col].to_numpy(dtype=float)
        if transform == "log":
            bad = ~(v > 0)
            if bad.any():
                problems.append(f"column {col!r} in offset(log({col})): value(s) <= 0 at "
                                f"{_where(frame, bad, cluster)}; the exposure must be positive (drop rows with "
                                "zero exposure)")
                continue
            v = np.log(v)
        offset = offset + v
    if not problems:
        active = trials > 0
        codes = frame[cluster].astype(str).to_numpy()
        empty = pd.Series(active).groupby(codes).any()
        empty = empty[~empty]
        if len(empty):
            rows = np.isin(codes, empty.index)
            problems.append(f"{cluster} {first_labels(empty.index)}: every row has zero trials at "
                            f"{_where(frame, rows, None)}; these clients carry no information — drop them")
        if family == "binomial":
            s_tot, f_tot = y[active].sum(), (trials - y)[active].sum()
            if s_tot == 0 or f_tot == 0:
                what = "0 (no successes)" if s_tot == 0 else "a success in every trial"
                problems.append(f"column {gf.response!r}: every row is {what}; a model of the probability of "
                                "an event needs both events and non-events")
        elif family != "gaussian" and np.all(y == 0):
            problems.append(f"column {gf.response!r}: every count is 0; a count model needs some non-zero counts")
    problems += _text_predictor_problems(core, frame)
    if problems:
        raise SchemaError(problems, source=where)

    factor_levels = _factor_levels_of(core, frame)
    X, xnames = _fixed_columns(core, frame, factor_levels)
    if not np.all(np.isfinite(X)):
        raise SchemaError(["fixed-effect columns contain infinite values; replace them"], source=where)
    _check_rank(X, xnames)
    if family == "gaussian":
        _check_not_exact(X, y, core.response)
    X_zi, zinames, zi_spec = None, [], None
    if zi_f is not None:
        zl = _factor_levels_of(zi_f, frame)
        X_zi, zinames = _fixed_columns(zi_f, frame, zl)
        _check_rank(X_zi, zinames)
        zi_spec = DesignSpec(zi_f, zinames, zl)

    factors = []
    n = len(frame)
    for r in core.random:
        for v in r.covariates:
            if _is_factor(frame[v]):
                raise FormulaError(f"random-effect covariate {v!r} in {r.text!r} is not numeric (dtype "
                                   f"{frame[v].dtype}); only numeric random slopes are supported.")
        levels = _levels(frame[r.group])
        if len(levels) < 2:
            raise IdentificationError(f"grouping factor {r.group!r} has {len(levels)} level(s) among the used "
                                      "rows; a random effect needs at least two groups.")
        codes = pd.Categorical(frame[r.group].astype(str), categories=levels).codes.astype(np.int64)
        Zc = [np.ones(n)] if r.intercept else []
        Zc += [frame[v].to_numpy(dtype=float) for v in r.covariates]
        n_re = len(Zc) * len(levels)
        if family == "gaussian" and n_re >= n:   # lme4's check.nobs.vs.nRE, as the nested engine
            raise IdentificationError(
                f"number of observations ({n}) <= number of random effects ({n_re}) for term {r.text!r}: the "
                "random-effect variances and the residual variance are probably unidentifiable. Drop the random "
                "slope or collect more rows per level.")
        factors.append(GroupingFactor(r.group, levels, codes, np.column_stack(Zc), r.znames))
    factors.sort(key=lambda f: -f.n_levels)  # lme4's mkReTrms: more levels first (stable)
    spec = DesignSpec(core, xnames, factor_levels)
    return GLMMDesign(y=y, trials=trials, offset=offset, X=X, xnames=xnames, X_zi=X_zi, zinames=zinames,
                      factors=factors, model_frame=frame, n_dropped=n_dropped, spec=spec, zi_spec=zi_spec,
                      response_kind=kind)
