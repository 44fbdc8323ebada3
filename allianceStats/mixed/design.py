"""Model matrices and nesting structure for the nested linear mixed model.

From a parsed :class:`~allianceStats.mixed.formula.Formula` and a DataFrame this builds

* ``y`` (n), ``X`` (n×p, R's ``model.matrix``: intercept, numeric columns as they are, factors treatment
  coded against their first level with columns named ``<var><level>``, interactions as products named
  ``a:b``),
* per grouping factor the row-level random-effect covariates ``Z_f`` (n×q_f) and integer level codes,
* the nesting map inner level -> outer level when there are two grouping factors.

Rows with a missing value in any used column are dropped (R's ``na.omit``) and counted. Designs the engine
cannot fit raise :class:`~allianceStats.errors.IdentificationError`: a grouping factor with fewer than two
levels, as many random effects as observations (lme4's ``check.nobs.vs.nRE``), a factor not nested in the
other (the message names the client and its therapists), a rank-deficient or nearly rank-deficient X (QR
with R's default tolerance 1e-7 on unit-length columns, as lme4's ``check.rankX``; the message names each
redundant column and the columns it is a combination of, or says it is constant), fixed effects that
reproduce the response exactly (no residual variance is left). Data the model cannot use raise
:class:`~allianceStats.errors.SchemaError`: a constant response, and a text predictor with more than
``MAX_TEXT_LEVELS`` distinct values (almost always numbers read as text or an identifier; a factor with
that many levels is accepted when given as a pandas Categorical). lme4's factor order is used: the factor
with more levels first.

Examples
--------
>>> import pandas as pd
>>> from allianceStats.mixed.formula import parse_formula
>>> df = pd.DataFrame({"y": [1., 2, 3, 4, 5, 7], "x": [0., 1, 0, 1, 0, 1], "g": list("aabbcc")})
>>> d = build_design(parse_formula("y ~ x + (1 | g)"), df)
>>> d.xnames, d.factors[0].name, d.factors[0].levels
(['(Intercept)', 'x'], 'g', ['a', 'b', 'c'])
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from pandas.api.types import is_bool_dtype, is_numeric_dtype

from ..data.checks import first_labels, require_columns, require_numeric
from ..errors import FormulaError, IdentificationError, SchemaError
from .formula import Formula

MAX_TEXT_LEVELS = 50   # a text predictor with more distinct values is refused (see the module docstring)
RANK_TOL = 1e-7        # R's qr() tolerance, as lme4's check.rankX uses it
EXACT_FIT_TOL = 1e-10  # residual / total sum of squares below which the fixed effects reproduce y exactly


@dataclass(frozen=True)
class Factor:
    """A grouping factor: name, sorted level labels, integer code per used row, Z columns and their names."""

    name: str
    levels: list[str]
    codes: np.ndarray
    Z: np.ndarray
    znames: list[str]

    @property
    def q(self) -> int:
        return self.Z.shape[1]


@dataclass(frozen=True)
class DesignSpec:
    """What is needed to rebuild X and Z for new data: the formula and the factor levels of the fit."""

    formula: Formula
    xnames: list[str]
    factor_levels: dict[str, list[str]]


@dataclass(frozen=True)
class Design:
    """Model matrices of one fit (rows in the order of ``model_frame``)."""

    y: np.ndarray
    X: np.ndarray
    xnames: list[str]
    factors: list[Factor]              # lme4 order: more levels first
    outer_of_inner: np.ndarray | None  # for two factors: outer level code of each inner level
    model_frame: pd.DataFrame
    n_dropped: int
    spec: DesignSpec


def _levels(col: pd.Series) -> list[str]:
    if isinstance(col.dtype, pd.CategoricalDtype):
        present = set(col.astype(str))
        return [str(c) for c in col.cat.categories if str(c) in present]
    return sorted(col.astype(str).unique())


def _is_factor(col: pd.Series) -> bool:
    return not is_numeric_dtype(col) or is_bool_dtype(col) or isinstance(col.dtype, pd.CategoricalDtype)


def _fixed_columns(formula: Formula, frame: pd.DataFrame, factor_levels: dict[str, list[str]]):
    """Columns of X and their names, R's model.matrix conventions (treatment contrasts)."""
    cols, names = [], []
    n = len(frame)
    if formula.intercept:
        cols.append(np.ones(n))
        names.append("(Intercept)")
    mains = {t[0] for t in formula.fixed_terms if len(t) == 1}

    def pieces(var):
        s = frame[var]
        if var in factor_levels:
            lev = factor_levels[var]
            lab = s.astype(str).to_numpy()
            if is_bool_dtype(s):
                lab = np.where(s.to_numpy(), "TRUE", "FALSE")
            drop_first = formula.intercept or var in used_full
            use = lev[1:] if drop_first else lev
            if not drop_first:
                used_full.add(var)
            return [(lab == lv).astype(float) for lv in use], [f"{var}{lv}" for lv in use]
        return [s.to_numpy(dtype=float)], [var]

    used_full: set[str] = set()
    for term in formula.fixed_terms:
        if len(term) > 1:
            for v in term:
                if v in factor_levels and v not in mains:
                    raise FormulaError(
                        f"interaction {':'.join(term)!r} uses factor {v!r} without its main effect; add "
                        f"'{v}' to the formula (only this coding is supported).")
        parts = [pieces(v) for v in term]
        c, nm = parts[0]
        for c2, nm2 in parts[1:]:
            c = [a * b for a in c for b in c2]
            nm = [f"{a}:{b}" for a in nm for b in nm2]
        cols.extend(c)
        names.extend(nm)
    X = np.column_stack(cols) if cols else np.empty((n, 0))
    return X, names


def _factor_levels_of(formula: Formula, frame: pd.DataFrame) -> dict[str, list[str]]:
    out = {}
    for t in formula.fixed_terms:
        for v in t:
            if _is_factor(frame[v]):
                s = frame[v]
                out[v] = ["FALSE", "TRUE"] if is_bool_dtype(s) else _levels(s)
    return out


def _require_model_columns(formula: Formula, data: pd.DataFrame, extra_columns: tuple[str, ...], where: str) -> None:
    """Every used column exists; the response and random-slope covariates are numbers; no ±inf anywhere used."""
    used = list(dict.fromkeys(formula.variables + list(extra_columns)))
    require_columns(data, used, where=where)
    numbers = [formula.response] + [v for r in formula.random for v in r.covariates]
    numeric_used = [c for c in used if is_numeric_dtype(data[c]) and not is_bool_dtype(data[c])]
    require_numeric(data, numbers + numeric_used, where=where, finite=True)


def build_design(formula: Formula, data: pd.DataFrame, extra_columns: tuple[str, ...] = (), *,
                 where: str = "fit_mlm") -> Design:
    """Build the :class:`Design` of ``formula`` on ``data`` (never modifies ``data``); see the module docstring.

    Parameters
    ----------
    formula : Formula
        From :func:`~allianceStats.mixed.formula.parse_formula`.
    data : pandas.DataFrame
        The table; rows with a missing value in a used column are dropped and counted.
    extra_columns : tuple of str
        Kept in ``model_frame`` and taking part in dropping incomplete rows (e.g. the session time of a
        residual AR(1)).
    where : str
        The public function named in error messages.

    Returns
    -------
    Design

    Raises
    ------
    SchemaError
        A used column is missing, a response or random-slope column is not numeric, or a value is ±inf
        (every problem listed).
    IdentificationError, FormulaError
        See the module docstring.
    """
    _require_model_columns(formula, data, extra_columns, where)
    used = list(dict.fromkeys(formula.variables + list(extra_columns)))
    frame = data.loc[:, used]
    keep = frame.notna().all(axis=1).to_numpy()
    n_dropped = int((~keep).sum())
    frame = frame.loc[keep].copy()
    n = len(frame)
    if n == 0:
        raise IdentificationError(f"no complete rows: every row has a missing value in {used}.")
    y = frame[formula.response].to_numpy(dtype=float)
    problems = _response_problems(formula.response, y) + _text_predictor_problems(formula, frame)
    if problems:
        raise SchemaError(problems, source=where)
    factor_levels = _factor_levels_of(formula, frame)
    X, xnames = _fixed_columns(formula, frame, factor_levels)
    _check_rank(X, xnames)
    _check_not_exact(X, y, formula.response)

    factors = []
    for r in formula.random:
        g = frame[r.group].astype(str)
        levels = _levels(frame[r.group])
        codes = pd.Categorical(g, categories=levels).codes.astype(np.int64)
        Zc = [np.ones(n)] if r.intercept else []
        Zc += [frame[v].to_numpy(dtype=float) for v in r.covariates]
        Z = np.column_stack(Zc)
        if len(levels) < 2:
            raise IdentificationError(f"grouping factor {r.group!r} has {len(levels)} level(s) among the used "
                                      "rows; a random effect needs at least two groups.")
        if Z.shape[1] * len(levels) >= n:
            raise IdentificationError(
                f"number of observations ({n}) <= number of random effects ({Z.shape[1] * len(levels)}) for "
                f"term {r.text!r}: the random-effect variances and the residual variance are probably "
                "unidentifiable. Drop the random slope or collect more sessions per client.")
        factors.append(Factor(r.group, levels, codes, Z, r.znames))
    if len(factors) > 2:
        raise FormulaError(f"{formula.text!r} has {len(factors)} grouping factors; this engine fits two or "
                           "three levels (sessions in clients [in therapists]).")
    factors.sort(key=lambda f: -len(f.levels))  # lme4: the factor with more levels first
    outer_of_inner = None
    if len(factors) == 2:
        inner, outer = factors
        pairs = pd.DataFrame({"i": inner.codes, "o": outer.codes}).drop_duplicates()
        counts = pairs.groupby("i")["o"].nunique()
        bad = counts[counts > 1]
        if len(bad):
            i0 = int(bad.index[0])
            outs = [outer.levels[o] for o in pairs.loc[pairs.i == i0, "o"]]
            raise IdentificationError(
                f"{inner.name!r} is not nested in {outer.name!r}: {inner.name} {inner.levels[i0]!r} occurs with "
                f"{outer.name}s {outs} ({len(bad)} {inner.name}(s) in total). This engine fits nested designs "
                f"only; if ids are reused across {outer.name}s, make them unique (e.g. "
                f"df['{inner.name}'] = df['{outer.name}'] + '/' + df['{inner.name}']).")
        outer_of_inner = np.zeros(len(inner.levels), dtype=np.int64)
        outer_of_inner[pairs.i.to_numpy()] = pairs.o.to_numpy()
    spec = DesignSpec(formula, xnames, factor_levels)
    return Design(y, X, xnames, factors, outer_of_inner, frame, n_dropped, spec)


def _text_predictor_problems(formula: Formula, frame: pd.DataFrame) -> list[str]:
    """Text predictors with more than ``MAX_TEXT_LEVELS`` values (each value would become a dummy column)."""
    problems = []
    seen = set()
    for term in formula.fixed_terms:
        for v in term:
            s = frame[v]
            if v in seen or is_numeric_dtype(s) or is_bool_dtype(s) or isinstance(s.dtype, pd.CategoricalDtype):
                continue
            seen.add(v)
            k = s.nunique()
            if k <= MAX_TEXT_LEVELS:
                continue
            as_numbers = pd.to_numeric(s, errors="coerce")
            if as_numbers.notna().all():
                hint = (f"its values are numbers stored as text (e.g. {first_labels(s.unique(), 3)}): convert "
                        f"them with data[{v!r}] = pd.to_numeric(data[{v!r}])")
            else:
                hint = (f"if it identifies clients or sessions, use it as a grouping factor ((1 | {v})) or leave "
                        f"it out; if you do mean a {k}-level factor, pass it as a pandas Categorical "
                        f"(data[{v!r}] = data[{v!r}].astype('category'))")
            problems.append(f"column {v!r} is text with {k} distinct values among the {len(frame)} used rows, so "
                            f"it would enter the model as {k - 1} dummy columns (at most {MAX_TEXT_LEVELS} values "
                            f"are accepted for a text predictor); {hint}")
    return problems


def _response_problems(response: str, y: np.ndarray) -> list[str]:
    """A constant response has no variance to model (every variance estimate would be 0)."""
    if len(y) and np.ptp(y) <= 1e-10 * float(np.max(np.abs(y))):
        return [f"column {response!r} (the response) has the same value {y[0]:g} in all {len(y)} used rows; a "
                "model needs an outcome that varies. Check that the right column is named and that it was read "
                "correctly."]
    return []


def _combination_of(Xs: np.ndarray, j: int, kept: np.ndarray, xnames: list[str], limit: int = 6) -> str:
    """Which kept columns make up column j (largest least-squares coefficients on unit-length columns)."""
    coef = np.linalg.lstsq(Xs[:, kept], Xs[:, j], rcond=None)[0]
    order = np.argsort(-np.abs(coef))
    used = [xnames[kept[i]] for i in order if abs(coef[i]) > 1e-3 * np.abs(coef).max()]
    more = f" and {len(used) - limit} more" if len(used) > limit else ""
    return f"{used[:limit]}{more}"


def _check_rank(X: np.ndarray, xnames: list[str]) -> None:
    """X must have full column rank (lme4's check.rankX: QR, tolerance 1e-7, on unit-length columns)."""
    if X.shape[1] == 0:
        return
    scale = np.sqrt((X ** 2).sum(axis=0))
    if np.any(scale == 0):
        zero = [xnames[j] for j in np.flatnonzero(scale == 0)]
        raise IdentificationError(f"fixed-effect column(s) {zero} are all zero among the used rows; drop them.")
    from scipy.linalg import qr

    Xs = X / scale
    _, R, piv = qr(Xs, mode="economic", pivoting=True)
    d = np.abs(np.diag(R))
    rank = int((d > RANK_TOL * d.max()).sum())
    if rank == X.shape[1]:
        return
    kept = np.sort(piv[:rank])
    intercept = "(Intercept)" in xnames
    lines = []
    for j in sorted(piv[rank:]):
        col = X[:, j]
        if intercept and xnames[j] != "(Intercept)" and np.ptp(col) <= 1e-12 * np.abs(col).max():
            lines.append(f"{xnames[j]!r} is constant ({col[0]:g} in every used row), so it cannot be told apart "
                         "from the intercept")
        else:
            lines.append(f"{xnames[j]!r} is (nearly) a linear combination of {_combination_of(Xs, j, kept, xnames)}")
    raise IdentificationError(
        f"the fixed-effects design is rank deficient (rank {rank} of {X.shape[1]} columns, QR tolerance "
        f"{RANK_TOL:g}): " + "; ".join(lines) + ". Remove the redundant column(s) or combine the collinear "
        "predictors (e.g. a client-mean predictor that is constant within a one-client-per-therapist design).")


def _check_not_exact(X: np.ndarray, y: np.ndarray, response: str) -> None:
    """The fixed effects must leave a residual: an exact fit has no residual variance to estimate."""
    if X.shape[1] == 0:
        return
    beta = np.linalg.lstsq(X, y, rcond=None)[0]
    rss = float(np.sum((y - X @ beta) ** 2))
    tss = float(np.sum((y - y.mean()) ** 2))
    if rss <= EXACT_FIT_TOL * tss:
        raise IdentificationError(
            f"the fixed effects reproduce the response {response!r} exactly (residual sum of squares "
            f"{rss:.3g}, total {tss:.3g}): there is no residual variance to estimate. The response is probably "
            "computed from the predictors; remove the predictor(s) it is made of.")


def model_matrices_for_prediction(spec: DesignSpec, newdata: pd.DataFrame):
    """X, Z per factor and grouping labels for ``newdata`` with the coding of the fit (for ``predict``).

    Raises :class:`~allianceStats.errors.SchemaError` listing missing columns, missing values and factor
    levels the fit did not see.

    >>> import pandas as pd
    >>> from allianceStats.mixed.formula import parse_formula
    >>> fit_rows = pd.DataFrame({"y": [1., 2, 3, 4], "x": [0., 1, 0, 1], "g": list("aabb")})
    >>> spec = build_design(parse_formula("y ~ x + (1 | g)"), fit_rows).spec
    >>> X, Z, groups = model_matrices_for_prediction(spec, pd.DataFrame({"x": [2.0], "g": ["new"]}))
    >>> X.tolist(), Z["g"].tolist(), groups["g"].tolist()
    ([[1.0, 2.0]], [[1.0]], ['new'])
    """
    f = spec.formula
    if getattr(f, "frame_spec", None) is not None:   # a formula with transformations: R's predict() (issue 13)
        from .model_frame import frame_for_prediction

        newdata = frame_for_prediction(f, newdata)
    need = [v for v in f.variables if v != f.response]
    frame = require_columns(newdata, need, where="MixedResult.predict", what="newdata").loc[:, need]
    problems = []
    for c in need:
        missing = frame[c].isna().to_numpy()
        if missing.any():
            problems.append(f"column {c!r} of newdata has missing values at row(s) "
                            f"{first_labels(frame.index[missing])}; drop or impute those rows first")
    for v, lev in spec.factor_levels.items():
        new = set(frame[v].astype(str)) - set(lev) - {"TRUE", "FALSE"}
        if new and not is_bool_dtype(frame[v]):
            problems.append(f"column {v!r} of newdata has level(s) {first_labels(sorted(new))} not seen in the fit; "
                            f"the fit's levels are {first_labels(lev)}")
    if problems:
        raise SchemaError(problems, source="MixedResult.predict")
    X, names = _fixed_columns(f, frame, spec.factor_levels)
    if names != spec.xnames:
        raise SchemaError([f"newdata gives fixed-effect columns {names}, the fit had {spec.xnames}; give every "
                           "factor the levels it had in the fit (e.g. as a pandas Categorical)"],
                          source="MixedResult.predict")
    Zs, grp = {}, {}
    for r in f.random:
        Zc = [np.ones(len(frame))] if r.intercept else []
        Zc += [frame[v].to_numpy(dtype=float) for v in r.covariates]
        Zs[r.group] = np.column_stack(Zc)
        grp[r.group] = frame[r.group].astype(str).to_numpy()
    return X, Zs, pd.DataFrame(grp)
