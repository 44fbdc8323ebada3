r"""Tests of model terms for linear mixed models: lmerTest's ``anova(fit, type = 3, ddf = ...)``.

For every term of the fixed part (``training``, ``stage``, ``training:stage``; a factor with k levels or an
interaction of factors is one term of several columns) an F test of the hypothesis Lβ = 0 that the term has no
effect, where L follows lmerTest 3.1-3 (Kuznetsova, Brockhoff & Christensen 2017, *J. Stat. Softw.* 82(13),
section 3.4):

* type III (default; SAS's type III for the treatment coding used here): with X the model matrix and X̃ the
  "complete" matrix of every term in full dummy coding (``model.matrix(~ 0 + term)`` per term, plus the
  intercept), L₀ = (X⁺X̃)ᵀ; the columns of each term are orthogonalised against the columns of every term that
  contains it (same numeric variables, more factors; higher-order terms first), the rows of X's columns are kept,
  and a term's hypothesis is the transpose of its columns (lmerTest's ``get_contrasts_type3``);
* type I (sequential): the rows of the term's columns in the unit lower-triangular Doolittle factor of XᵀX.

The statistics, as lmerTest's ``contestMD``:

* ``ddf="satterthwaite"``: with LVLᵀ = PDPᵀ (V = cov(β̂), the q positive eigenvalues d_m),
  F = Σ_m (p_mᵀLβ̂)²/d_m / q; each eigen-direction has Satterthwaite df ν_m = 2d_m² / (g_mᵀAg_m) (g_m the
  gradient of p_mᵀLVLᵀp_m in the variance parameters, A their asymptotic covariance,
  :mod:`allianceStats.mixed.satterthwaite`), and the denominator df is 2E/(E − q), E = Σ ν_m/(ν_m − 2) (the
  mean when all ν_m are equal; 2 when any ν_m ≤ 2). One-df terms reduce to the squared t test.
* ``ddf="kenward-roger"``: the scaled Wald statistic with Kenward–Roger's adjusted covariance and denominator
  df (Kenward & Roger 1997; pbkrtest; :mod:`allianceStats.mixed.kenward_roger`). REML fits only.

Example
-------
>>> import numpy as np, pandas as pd
>>> from allianceStats.mixed import fit_mlm
>>> rng = np.random.default_rng(8)
>>> ther = np.repeat(np.arange(12), 24); s = np.tile(np.arange(6.0), 48)
>>> arm = np.where(ther % 2 == 0, "MI", "TAU")
>>> d = pd.DataFrame({"therapist": ther.astype(str), "client": np.repeat(np.arange(48), 6).astype(str),
...                   "arm": arm, "session0": s})
>>> d["y"] = (10 - 0.5 * s + 0.3 * s * (arm == "TAU") + rng.normal(0, 1, 12)[ther]
...           + rng.normal(0, 1, 48)[np.repeat(np.arange(48), 6)] + rng.normal(size=288))
>>> tab = anova(fit_mlm(d, "y ~ arm * session0 + (1 | therapist/client)"))
>>> print(tab.table.round(3).to_string(index=False))
        term      F  num_df  den_df  p_value
         arm  3.111     1.0  11.149    0.105
    session0 74.751     1.0 238.000    0.000
arm:session0  9.694     1.0 238.000    0.002
"""
from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy.special import fdtrc, stdtr

from ..data.checks import check_choice
from ..errors import OptionError
from ..results import Convergence, Provenance, ResultDisplay, make_provenance
from .design import _fixed_columns
from .result import MixedResult
from .satterthwaite import satterthwaite_df, varpar_derivatives

ANOVA_COLUMNS = ["term", "F", "num_df", "den_df", "p_value"]


@dataclass(frozen=True, repr=False)
class AnovaResult(ResultDisplay):
    """F tests of the terms of a fit (:func:`anova`): ``table`` with ``term, F, num_df, den_df, p_value``, the
    ``hypotheses`` (term -> L matrix, columns ``fixef.index``), ``type`` (``"III"`` or ``"I"``), ``ddf``, and the
    result protocol (``n_obs``, ``conf_level`` and ``convergence`` are the fit's)."""

    table: pd.DataFrame
    hypotheses: dict[str, pd.DataFrame]
    type: str
    ddf: str
    n_obs: int
    conf_level: float
    convergence: Convergence
    provenance: Provenance
    formula: str = ""
    notes: tuple[str, ...] = field(default_factory=tuple)
    mean_sq: tuple[float, ...] = ()     # lmerTest's "Mean Sq": the unscaled F times sigma^2

    def summary(self) -> str:
        """The table as lmerTest prints it (heading, F value, NumDF, DenDF, Pr(>F), significance codes)."""
        from .summary import format_anova

        return format_anova(self)

    def __str__(self) -> str:
        return self.summary()


# ---------------------------------------------------------------------------------------------- the terms
@dataclass(frozen=True)
class _Term:
    label: str
    columns: list[int]        # columns of X
    variables: frozenset      # R variables of the term
    numerics: frozenset       # its numeric variables


def _terms(fit: MixedResult) -> tuple[list[_Term], bool, pd.DataFrame, dict]:
    """The R terms of the fixed part, each with its columns of X (lmerTest's ``term2colX``)."""
    spec = fit._spec
    plain = spec.formula
    frame = fit.model_frame
    term_of = plain.term_of if plain.term_of is not None else list(range(len(plain.fixed_terms)))
    labels = plain.term_labels or [":".join(t) for t in plain.fixed_terms]
    counts = []
    previous = 1 if plain.intercept else 0
    for k in range(len(plain.fixed_terms)):
        sub = dataclasses.replace(plain, fixed_terms=plain.fixed_terms[:k + 1])
        n_cols = _fixed_columns(sub, frame, spec.factor_levels)[0].shape[1]
        counts.append(n_cols - previous)
        previous = n_cols
    start = 1 if plain.intercept else 0
    columns: dict[int, list[int]] = {}
    plain_vars: dict[int, set] = {}
    for k, c in enumerate(counts):
        columns.setdefault(term_of[k], []).extend(range(start, start + c))
        plain_vars.setdefault(term_of[k], set()).update(plain.fixed_terms[k])
        start += c
    # R variables of each R term: its label split at ':' outside parentheses
    out = []
    for k, label in enumerate(labels):
        variables = frozenset(_split_label(label))
        factors = {v for v in variables if _is_factor_variable(v, plain_vars.get(k, set()), spec.factor_levels)}
        out.append(_Term(label, columns.get(k, []), variables, frozenset(variables - factors)))
    return out, plain.intercept, frame, spec.factor_levels


def _split_label(label: str) -> list[str]:
    parts, depth, cur = [], 0, ""
    for ch in label:
        depth += (ch == "(") - (ch == ")")
        if ch == ":" and depth == 0:
            parts.append(cur)
            cur = ""
        else:
            cur += ch
    parts.append(cur)
    return parts


def _is_factor_variable(variable: str, plain_columns: set, factor_levels: dict) -> bool:
    return variable in factor_levels


# ---------------------------------------------------------------------------------------------- hypotheses
def _zapsmall(x: np.ndarray, digits: int = 7) -> np.ndarray:
    """R's ``zapsmall``: round to ``digits`` significant digits of the largest absolute value."""
    mx = np.max(np.abs(x)) if x.size else 0.0
    if not mx > 0:
        return x
    return np.round(x, max(0, digits - int(np.ceil(np.log10(mx)))))


def _complete_columns(term: _Term, fit: MixedResult, frame: pd.DataFrame, factor_levels: dict) -> tuple:
    """Columns of ``model.matrix(~ 0 + term)``: every factor in full dummy coding (lmerTest's ``get_rdX``)."""
    plain = fit._spec.formula
    labels = plain.term_labels or [":".join(t) for t in plain.fixed_terms]
    k = labels.index(term.label)
    term_of = plain.term_of if plain.term_of is not None else list(range(len(plain.fixed_terms)))
    cols, names = [], []
    for t, origin in zip(plain.fixed_terms, term_of):
        if origin != k:
            continue
        pieces = []
        for v in t:
            s = frame[v]
            if v in factor_levels:
                lev = factor_levels[v]
                lab = np.where(s.to_numpy(), "TRUE", "FALSE") if pd.api.types.is_bool_dtype(s) \
                    else s.astype(str).to_numpy()
                pieces.append(([(lab == lv).astype(float) for lv in lev], [f"{v}{lv}" for lv in lev]))
            else:
                pieces.append(([s.to_numpy(dtype=float)], [v]))
        c, nm = pieces[0]
        for c2, nm2 in pieces[1:]:
            c = [a * b for a in c for b in c2]
            nm = [f"{a}:{b}" for a in nm for b in nm2]
        cols += c
        names += nm
    return cols, names


def _doolittle_L(x: np.ndarray, eps: float = 1e-6) -> np.ndarray:
    """The unit lower-triangular factor of lmerTest's ``doolittle(x)`` (x = LU)."""
    n = x.shape[0]
    L = np.eye(n)
    U = np.zeros((n, n))
    for i in range(n):
        for j in range(n):
            U[i, j] = x[i, j] - L[i, :i] @ U[:i, j]
        for j in range(i + 1, n):
            L[j, i] = 0.0 if abs(U[i, i]) < eps else (x[j, i] - L[j, :i] @ U[:i, i]) / U[i, i]
    L[np.abs(L) < eps] = 0.0
    return L


def hypotheses(fit: MixedResult, type: str = "III") -> dict[str, pd.DataFrame]:
    """The hypothesis matrix L of every term (rows: its contrasts; columns: the fixed effects), as lmerTest's
    ``get_contrasts_type3`` / ``get_contrasts_type1`` (module docstring).

    Parameters
    ----------
    fit : MixedResult
        A fit of :func:`allianceStats.mixed.fit_mlm`.
    type : {"III", "I"}, default "III"

    Returns
    -------
    dict
        Term label -> DataFrame (rows of L, columns ``fit.fixef.index``).

    Examples
    --------
    With an interaction, the type III hypothesis of the factor ``arm`` is its own coefficient ``army`` (the
    interaction is orthogonalised out):

    >>> import numpy as np, pandas as pd
    >>> from allianceStats.mixed import fit_mlm
    >>> rng = np.random.default_rng(4)
    >>> d = pd.DataFrame({"g": np.repeat(list("abcdefgh"), 5), "arm": ["x", "y"] * 20, "s": np.arange(40.0) % 5})
    >>> d["y"] = d.s + rng.normal(size=8)[np.repeat(np.arange(8), 5)] + rng.normal(size=40)
    >>> L = hypotheses(fit_mlm(d, "y ~ arm * s + (1 | g)"))["arm"]
    >>> print((L.round(3) + 0.0).to_string())
          (Intercept)  army    s  army:s
    army          0.0   1.0  0.0     0.0
    """
    type = check_choice("type", type, ("III", "I"))
    # computed once per fit and type (they depend on the design only); copies, so the kept ones cannot change
    kept = fit._cached(f"hypotheses {type}", lambda: _hypotheses(fit, type), fit.X, fit.model_frame, fit._spec,
                       fit.formula)
    return {label: L.copy() for label, L in kept.items()}


def _hypotheses(fit: MixedResult, type: str) -> dict[str, pd.DataFrame]:
    terms, intercept, frame, factor_levels = _terms(fit)
    X = np.asarray(fit.X, dtype=float)
    names = list(fit.fixef.index)
    p = X.shape[1]
    out: dict[str, pd.DataFrame] = {}
    if type == "I" or p <= 1 or len(terms) <= 1:
        if p == 0:
            return {t.label: pd.DataFrame(np.zeros((0, 0))) for t in terms}
        Lt = _doolittle_L(X.T @ X).T if p > 1 else np.ones((1, 1))
        for t in terms:
            out[t.label] = pd.DataFrame(Lt[t.columns], index=[names[c] for c in t.columns], columns=names)
        return out
    cols, rd_names = ([np.ones(len(frame))], ["(Intercept)"]) if intercept else ([], [])
    owner = ["(Intercept)"] if intercept else []
    for t in terms:
        c, nm = _complete_columns(t, fit, frame, factor_levels)
        cols += c
        rd_names += nm
        owner += [t.label] * len(nm)
    rdX = np.column_stack(cols)
    L = _zapsmall((np.linalg.pinv(X) @ rdX).T)            # rows: complete columns; columns: X's columns
    by_label = {t.label: t for t in terms}
    contained = {t.label: [u.label for u in terms if t.variables < u.variables and t.numerics == u.numerics]
                 for t in terms}
    order = sorted(terms, key=lambda t: -len(t.variables))
    for t in order:
        if not contained[t.label]:
            continue
        xc = L[:, [c for lab in contained[t.label] for c in by_label[lab].columns]]
        yc = L[:, t.columns]
        coef = np.linalg.lstsq(xc, yc, rcond=None)[0]
        L[:, t.columns] = _zapsmall(yc - xc @ coef)
    row_of = {nm: i for i, nm in enumerate(rd_names)}
    missing = [nm for nm in names if nm not in row_of]
    if missing:
        raise OptionError(f"anova(): cannot map the fixed effects {missing} to lmerTest's type III hypotheses "
                          "(a factor in an interaction without its main effect?); use type='I'.")
    L = L[[row_of[nm] for nm in names]]
    for t in terms:
        Lt = L[:, t.columns].T
        keep = np.abs(Lt).sum(axis=1) > 1e-8
        out[t.label] = pd.DataFrame(Lt[keep], index=[names[c] for c in np.array(t.columns)[keep]], columns=names)
    return out


# ---------------------------------------------------------------------------------------------- Satterthwaite
def _fstat_ddf(nu: np.ndarray, tol: float = 1e-8) -> float:
    if len(nu) == 1:
        return float(nu[0])
    if np.all(np.abs(np.diff(nu)) < tol):
        return float(nu.mean())
    if np.any(nu <= 2):
        return 2.0
    E = float(np.sum(nu / (nu - 2)))
    return 2 * E / (E - len(nu))


def satterthwaite_test(pieces, L: np.ndarray, beta: np.ndarray) -> tuple[float, int, float, float]:
    """Satterthwaite F test of Lβ = 0 as lmerTest's ``contestMD`` (module docstring): (F, q, den_df, p).

    >>> V = np.eye(2); jac = np.stack([np.eye(2)], axis=2); A = np.array([[0.02]])
    >>> F, q, ddf, p = satterthwaite_test((V, jac, A), np.eye(2), np.array([1.0, 1.0]))
    >>> F, q, round(ddf, 6)
    (1.0, 2, 100.0)
    """
    V, jac, A = pieces
    L = np.atleast_2d(np.asarray(L, dtype=float))
    if L.shape[0] == 0:
        return np.nan, 0, np.nan, np.nan
    VL = L @ V @ L.T
    d, P = np.linalg.eigh(VL)
    d, P = d[::-1], P[:, ::-1]
    pos = d > max(np.sqrt(np.finfo(float).eps) * d[0], 0.0)
    q = int(pos.sum())
    PtL = (P.T @ L)[:q]
    t2 = (PtL @ beta) ** 2 / d[:q]
    F = float(t2.sum() / q)
    # all q eigen-directions at once: g_m = gradient of p_mᵀ L V Lᵀ p_m in the variance parameters
    g = np.einsum("mi,ijk,mj->mk", PtL, jac, PtL)
    nu = 2 * d[:q] ** 2 / np.einsum("mk,kl,ml->m", g, A, g)
    ddf = _fstat_ddf(nu)
    return F, q, ddf, float(fdtrc(q, ddf, F))


# ---------------------------------------------------------------------------------------------- public
def anova(fit: MixedResult, *, ddf: str = "satterthwaite", type: str = "III") -> AnovaResult:
    """F tests of the fixed-effect terms of a linear mixed model, as lmerTest's ``anova(fit, type, ddf)``.

    Hypotheses and statistics: module docstring (Kuznetsova, Brockhoff & Christensen 2017; Kenward & Roger 1997).

    Parameters
    ----------
    fit : MixedResult
        A fit of :func:`allianceStats.mixed.fit_mlm`.
    ddf : {"satterthwaite", "kenward-roger"}, default "satterthwaite"
        Denominator degrees of freedom (lmerTest's ``ddf = "Satterthwaite"`` / ``"Kenward-Roger"``; the latter
        for REML fits without weights or AR(1) residual, as pbkrtest).
    type : {"III", "I"}, default "III"
        Type III (each term adjusted for every other, lmerTest's default) or type I (sequential).

    Returns
    -------
    AnovaResult
        ``table`` with columns ``term, F, num_df, den_df, p_value`` (one row per term, in the formula's order),
        the hypothesis matrices, and ``summary()`` laid out like lmerTest's.

    Raises
    ------
    OptionError
        ``fit`` is not a mixed-model fit; a ``ddf`` or ``type`` not listed; Kenward–Roger on an ML fit.

    Notes
    -----
    Validated against lmerTest 3.1-3 / pbkrtest 0.5.2 (``tests/mixed/fixtures/habits``: Orthodont ``age * Sex``,
    a 2×3 factor interaction with client ids nested in therapists, a factor × time interaction with random
    slopes): F and df to 1e-4 relative, p-values to 1e-4 relative.

    As lmerTest, nothing costly is recomputed per call: the derivatives Satterthwaite's df need are the ones the
    fit computed for ``params`` (:func:`allianceStats.mixed.satterthwaite.varpar_derivatives`), and the hypothesis
    matrices and Kenward–Roger's adjusted covariance are computed on the first call and kept on the fit.

    Examples
    --------
    The module docstring has an example; the same table with Kenward–Roger df:

    >>> import numpy as np, pandas as pd
    >>> from allianceStats.mixed import fit_mlm
    >>> rng = np.random.default_rng(1)
    >>> g = np.repeat(np.arange(10), 6)
    >>> d = pd.DataFrame({"g": g.astype(str), "x": rng.normal(size=60), "arm": np.where(g < 5, "a", "b")})
    >>> d["y"] = d.x + rng.normal(0, 1, 10)[g] + rng.normal(size=60)
    >>> anova(fit_mlm(d, "y ~ x + arm + (1 | g)"), ddf="kenward-roger").table.den_df.round(2).tolist()
    [54.22, 7.88]
    """
    started = time.perf_counter()
    if not isinstance(fit, MixedResult):
        raise OptionError(f"anova() takes a fit of fit_mlm(); got {type_name(fit)}")
    ddf = check_choice("ddf", ddf, ("satterthwaite", "kenward-roger"))
    type = check_choice("type", type, ("III", "I"))
    L_list = hypotheses(fit, type)
    beta = fit.fixef.to_numpy()
    rows, mean_sq = [], []
    s2 = fit.sigma ** 2
    if ddf == "kenward-roger":
        from .kenward_roger import _require_supported, kr_test, vcov_adjusted

        _require_supported(fit, "anova(ddf='kenward-roger')")
        adj = vcov_adjusted(fit)
        for term, L in L_list.items():
            F, q, den, p, unscaled = kr_test(adj, L.to_numpy(), beta, unscaled=True) if len(L) else \
                (np.nan, 0, np.nan, np.nan, np.nan)
            rows.append((term, F, float(q), den, p))
            mean_sq.append(unscaled * s2)
    else:
        pieces = varpar_derivatives(fit)      # computed once per fit (lmerTest's Jac_list, vcov_varpar)
        for term, L in L_list.items():
            rows.append((term, *_as_row(satterthwaite_test(pieces, L.to_numpy(), beta))))
            mean_sq.append(rows[-1][1] * s2)
    table = pd.DataFrame(rows, columns=ANOVA_COLUMNS)
    provenance = make_provenance(fit.model_frame, options={"formula": fit.formula, "ddf": ddf, "type": type},
                                 function="anova", started=started)
    return AnovaResult(table=table, hypotheses=L_list, type=type, ddf=ddf, n_obs=fit.n_obs,
                       conf_level=fit.conf_level, convergence=fit.convergence, provenance=provenance,
                       formula=fit.formula, mean_sq=tuple(float(m) for m in mean_sq))


def _as_row(res):
    F, q, den, p = res
    return F, float(q), den, p


def type_name(x) -> str:
    return type(x).__name__


def t_tests(pieces, beta: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Satterthwaite t tests of every coefficient: (df, p-value), as lmerTest's ``contest1D`` (for checks).

    >>> V = np.eye(1); jac = np.ones((1, 1, 1)); A = np.array([[0.1]])
    >>> df, p = t_tests((V, jac, A), np.array([2.0]))
    >>> df.tolist()
    [20.0]
    """
    V, jac, A = pieces
    df = satterthwaite_df(V, jac, A)
    t = beta / np.sqrt(np.diag(V))
    return df, 2 * stdtr(df, -np.abs(t))
