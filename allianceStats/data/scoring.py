"""Scoring questionnaires and estimating their reliability, single-level and multilevel.

Scoring (:func:`score`)
    Items are taken from the user's columns (default ``<prefix>_<item>``, e.g. ``wai_1`` ... ``wai_12``),
    checked against the ranges of the instrument's scoring key (``data_schemas/instruments/*.json``),
    reverse-keyed as :math:`x' = \\min + \\max - x`, and combined into subscale and total scores, each the
    mean of its items (or their sum, for sum-scored instruments such as the Session Rating Scale).

    Proration rule for missing items: a subscale of :math:`k` items with :math:`m` items present is scored
    when :math:`m / k \\ge f` (the key's ``min_fraction``; 0.75 for the WAI-SR, BPNSFS and TSRQ, i.e. 3 of
    4 items, 9 of 12, 5 of 6) as the mean of the :math:`m` present items (a sum score is that mean times
    :math:`k`); otherwise the score is missing. The 75% threshold is a convention of this package, not a
    rule of the instruments' authors; proration and its bias (it assumes the missing items resemble the
    present ones) are discussed by Mazza, Enders & Ruehlman (2015) and Newman (2014).

Reliability (:func:`reliability`)
    For :math:`k` items with covariance matrix :math:`S`,

    * Cronbach's alpha (Cronbach 1951): :math:`\\alpha = \\frac{k}{k-1}\\bigl(1 - \\operatorname{tr} S /
      \\mathbf 1^\\top S \\mathbf 1\\bigr)`.
    * McDonald's omega total (McDonald 1999, ch. 6) from a one-factor model
      :math:`\\Sigma = \\lambda\\lambda^\\top + \\Theta` fitted to :math:`S` by maximum likelihood:
      :math:`\\omega = (\\sum_i \\lambda_i)^2 / \\bigl((\\sum_i \\lambda_i)^2 + \\sum_i \\theta_i\\bigr)`, the
      share of the model-implied variance of the unweighted sum that is common-factor variance. The ML fit
      minimises :math:`F = \\log|\\Sigma| + \\operatorname{tr}(S\\Sigma^{-1})` concentrated in the unique
      variances :math:`\\theta` (Joreskog 1967; Lawley & Maxwell 1971): for given :math:`\\theta`, the
      loadings are :math:`\\lambda = \\Theta^{1/2} e_1 \\sqrt{\\max(\\gamma_1 - 1, 0)}` with :math:`(\\gamma_1,
      e_1)` the largest eigenpair of :math:`\\Theta^{-1/2} S \\Theta^{-1/2}`. :math:`\\theta` is found by
      projected Newton iterations (analytic gradient, Hessian by differences of it, backtracking), bounded
      below by :math:`10^{-6}` times the item variance (a Heywood case at the bound raises a
      BoundaryWarning). This is the
      estimator lavaan's ``cfa()`` uses with ``estimator = "ML"``; estimates agree to ~1e-7 (see tests).

    Multilevel reliability for repeated measures (Geldhof, Preacher & Zyphur 2014): alpha and omega are
    computed separately from a within-client and a between-client covariance matrix. We do **not** fit a
    two-level CFA (MLSEM). We use the method-of-moments decomposition (Muthen 1994): the pooled
    within-client covariance of client-mean-centred items,
    :math:`S_{PW} = \\sum_j\\sum_i (y_{ij}-\\bar y_j)(y_{ij}-\\bar y_j)^\\top / (N - J)`, estimates
    :math:`\\Sigma_W`; the between-client covariance of client means,
    :math:`S_B = \\sum_j n_j(\\bar y_j-\\bar y)(\\bar y_j-\\bar y)^\\top / (J - 1)`, is corrected for the
    within-client variance it contains, :math:`\\hat\\Sigma_B = (S_B - S_{PW}) / c` with
    :math:`c = (N^2 - \\sum_j n_j^2) / (N(J-1))`. Within- and between-level alpha use these matrices in the
    formula above; within- and between-level omega come from one-factor ML fits to each matrix. For
    balanced data and positive-definite :math:`\\hat\\Sigma_B` these matrices are the ML estimates of the
    saturated two-level model, so the level-specific fits approximate the simultaneous two-level CFA of
    Geldhof et al.; with unbalanced data they are moment estimates. This is an approximation, stated as
    such: on the package's R fixture (100 clients, 3-10 sessions each, WAI-SR items) the level-specific
    omegas differ from those of a two-level lavaan CFA with one factor per level by at most 0.003 (within)
    and 0.007 (between; ours lower), see ``tests/data/fixtures/scoring_fixtures.R``. The moment estimate :math:`\\hat\\Sigma_B` need not be positive definite (few clients, or items
    without item-specific client variance, so that the between level is close to rank one); ML is then
    impossible and omega for that matrix comes from an unweighted least squares (MINRES, iterated principal
    axes; Harman 1976) one-factor fit with unique variances bounded at 0, with a DataWarning; the
    ``omega_estimator`` column of the result says which fit was used.

    Rows with a missing item are dropped per scale (listwise deletion), as in ``psych::alpha`` with
    complete data and pingouin's ``cronbach_alpha(nan_policy="listwise")``.

References
    Cronbach, L. J. (1951). Coefficient alpha and the internal structure of tests. Psychometrika, 16, 297-334.
    Harman, H. H. (1976). Modern factor analysis (3rd ed.). University of Chicago Press.
    Geldhof, G. J., Preacher, K. J., & Zyphur, M. J. (2014). Reliability estimation in a multilevel
    confirmatory factor analysis framework. Psychological Methods, 19(1), 72-91.
    Joreskog, K. G. (1967). Some contributions to maximum likelihood factor analysis. Psychometrika, 32, 443-482.
    Lawley, D. N., & Maxwell, A. E. (1971). Factor analysis as a statistical method (2nd ed.). Butterworths.
    Mazza, G. L., Enders, C. K., & Ruehlman, L. S. (2015). Addressing item-level missing data: A comparison
    of proration and full information maximum likelihood estimation. Multivariate Behavioral Research,
    50(5), 504-519.
    McDonald, R. P. (1999). Test theory: A unified treatment. Erlbaum.
    Muthen, B. O. (1994). Multilevel covariance structure analysis. Sociological Methods & Research, 22, 376-398.
    Newman, D. A. (2014). Missing data: Five practical guidelines. Organizational Research Methods, 17(4), 372-411.

Example
-------
>>> import numpy as np, pandas as pd
>>> import allianceStats as als
>>> rng = np.random.default_rng(1)
>>> f = rng.normal(size=(200, 1))
>>> items = pd.DataFrame(np.clip(np.rint(3 + f + rng.normal(size=(200, 12))), 1, 5),
...                      columns=[f"wai_{i}" for i in range(1, 13)])
>>> scored = als.score(items, "wai")
>>> [c for c in scored.columns if c.startswith("wai_g")]
['wai_goal', 'wai_goal_n_items']
>>> rel = als.reliability(items, "wai")
>>> list(rel.table.columns)
['scale', 'level', 'n_items', 'n_obs', 'n_clients', 'alpha', 'omega', 'omega_estimator']
"""
from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..errors import AllianceStatsError, BoundaryWarning, ConvergenceWarning, DataWarning, SchemaError
from ..results import Convergence, Provenance, make_provenance
from .instruments import Instrument, load_instrument

__all__ = ["score", "reliability", "ReliabilityResult", "cronbach_alpha", "omega_total"]

_ABOUT = 1e-9  # slack when comparing the fraction of present items with the proration threshold


# ----------------------------------------------------------------------------------------------------------
# item columns: mapping and validation
# ----------------------------------------------------------------------------------------------------------

def _resolve_columns(key: Instrument, items, prefix: str | None) -> dict[str, str]:
    """Item id -> column of the user's data (defaults ``<prefix>_<id>``, overridden by ``items``)."""
    columns = key.default_columns(prefix)
    if items is None:
        return columns
    if isinstance(items, Mapping):
        unknown = [k for k in items if str(k) not in columns]
        if unknown:
            raise AllianceStatsError(
                f"items: {unknown} are not items of {key.name!r}; its item ids are {list(key.item_ids)}. "
                "Map item ids (numbers as on the form) to your column names, e.g. items={1: 'q1'}.")
        columns.update({str(k): str(v) for k, v in items.items()})
        return columns
    if isinstance(items, Sequence) and not isinstance(items, str):
        if len(items) != len(key.items):
            raise AllianceStatsError(
                f"items: {len(items)} column names given, but {key.name!r} has {len(key.items)} items "
                f"({list(key.item_ids)}); give one column per item in that order, or a dict item -> column.")
        return dict(zip(key.item_ids, map(str, items)))
    raise AllianceStatsError(f"items must be a dict (item id -> column) or a list of columns; got "
                             f"{type(items).__name__}.")


def _item_matrix(df: pd.DataFrame, key: Instrument, columns: Mapping[str, str],
                 client: str | None = "client") -> np.ndarray:
    """Float matrix of the items (rows x items, in key order) after checking every cell.

    Raises SchemaError listing each missing column and each bad cell (text, infinite, out of range,
    non-integer where whole numbers are required) with its column, 1-based row and client id.
    """
    if not isinstance(df, pd.DataFrame):
        raise AllianceStatsError(f"expected a pandas DataFrame of item responses; got {type(df).__name__}.")
    problems: list[str] = []
    missing = [(i, c) for i, c in columns.items() if c not in df.columns]
    for item_id, col in missing:
        problems.append(f"item {item_id} of {key.name!r}: column {col!r} is not in the data; pass "
                        f"items={{{item_id!r}: '<your column>'}} or prefix='<your stem>' to score it.")
    if problems:
        raise SchemaError(problems, source=f"items of {key.name!r}")
    ids = df[client] if client is not None and client in df.columns else None
    n = len(df)
    X = np.empty((n, len(key.items)), dtype=np.float64, order="F")  # column-major: items are read by column
    for j, it in enumerate(key.items):
        col = columns[it.id]
        raw = df[col]
        if pd.api.types.is_bool_dtype(raw):
            raw = raw.astype(np.int64)
        num = pd.to_numeric(raw, errors="coerce") if not pd.api.types.is_numeric_dtype(raw) else raw
        x = num.to_numpy(dtype=np.float64, na_value=np.nan)
        given = raw.notna().to_numpy()
        X[:, j] = x
        text = np.isnan(x) & given
        inf = np.isinf(x)
        finite = np.isfinite(x)
        low_high = finite & ((x < it.min) | (x > it.max))
        frac = finite & ~low_high & (x != np.round(x)) if it.integer else np.zeros(n, bool)
        rng = f"{it.min:g}-{it.max:g}"
        for r in np.flatnonzero(text | inf | low_high | frac):
            where = f"column {col!r} (item {it.id}): row {r + 1}"
            if ids is not None:
                where += f" (client {ids.iat[r]!r})"
            value = raw.iat[r]
            if text[r]:
                what = f"text {value!r} where a number {rng} is expected"
            elif inf[r]:
                what = f"infinite value {value!r}; expected {rng} or missing"
            elif low_high[r]:
                what = f"value {value!r} is outside the allowed range {rng}"
            else:
                what = f"value {value!r} is not a whole number (answers are integers {rng})"
            problems.append(f"{where}: {what}.")
    if problems:
        raise SchemaError(problems, source=f"items of {key.name!r}")
    return X


def _reverse(X: np.ndarray, key: Instrument) -> np.ndarray:
    if not key.reverse_items:
        return X
    out = X.copy(order="K")
    for j, it in enumerate(key.items):
        if it.id in key.reverse_items:
            out[:, j] = it.min + it.max - out[:, j]
    return out


def _min_fraction(key: Instrument, prorate) -> float:
    if prorate is True:
        return key.min_fraction
    if prorate is False:
        return 1.0
    if isinstance(prorate, (int, float)) and 0 < float(prorate) <= 1:
        return float(prorate)
    raise AllianceStatsError(f"prorate must be True (the key's rule: at least {key.min_fraction:.0%} of a "
                             f"subscale's items), False (all items required) or a fraction in (0, 1]; "
                             f"got {prorate!r}.")


# ----------------------------------------------------------------------------------------------------------
# score
# ----------------------------------------------------------------------------------------------------------

def score(df: pd.DataFrame, instrument, items=None, *, prorate: bool | float = True,
          prefix: str | None = None) -> pd.DataFrame:
    """Score an instrument: reverse keys, subscale and total scores, proration of missing items.

    For each subscale of the scoring key (see :mod:`allianceStats.data.instruments`), the score is the mean
    of its items after reverse keying (:math:`x' = \\min + \\max - x`), or their sum for sum-scored
    instruments. Proration: with :math:`m` of :math:`k` items present the score is computed when
    :math:`m/k \\ge f` as the mean of the present items (times :math:`k` for a sum), else it is NaN;
    :math:`f` is the key's ``min_fraction`` (0.75 for the WAI-SR, BPNSFS and TSRQ; 1 for the SRS and the
    single-item outcomes). The 75% threshold is a convention (see the module docstring; Mazza, Enders &
    Ruehlman 2015 on proration). Keys and citations: WAI-SR, Hatcher & Gillaspy (2006); SRS, Duncan et al.
    (2003); BPNSFS, Chen et al. (2015); TSRQ, Levesque et al. (2007).

    Parameters
    ----------
    df : DataFrame with one column per item; never modified.
    instrument : name or alias of a shipped key (``"wai"``, ``"srs"``, ``"bpnsfs"``, ``"tsrq"``,
        ``"sud_outcomes"``), a path to a JSON key, a dict following ``instrument.schema.json``, or an
        :class:`~allianceStats.data.instruments.Instrument`.
    items : dict item id -> column (ids as printed on the form, ``{1: "q1"}``; ids not given keep their
        default column), or a list of columns in item order. Default: ``<prefix>_<id>``.
    prorate : True for the key's rule, False to require every item, or a fraction in (0, 1].
    prefix : stem of the default item columns (default: the key's prefix, e.g. ``wai``).

    Returns
    -------
    A new DataFrame: the columns of ``df`` followed by, per subscale, ``<instrument prefix>_<subscale>``
    (the score) and ``<instrument prefix>_<subscale>_n_items`` (items present). An existing column of the
    same name is dropped from the copy and replaced by the score, with a DataWarning.

    Raises
    ------
    SchemaError listing every missing item column and every bad cell (text, infinite, outside the item's
    range, a fraction where whole numbers are required) with column, 1-based row and, when the data have a
    ``client`` column, the client id.

    Example
    -------
    >>> import pandas as pd
    >>> from allianceStats import score
    >>> d = pd.DataFrame({"client": ["a", "b"], **{f"srs_{i}": [8.5, 9.0] for i in (1, 2, 3)},
    ...                   "srs_4": [7.0, None]})
    >>> score(d, "srs")[["client", "srs_total", "srs_total_n_items"]]
      client  srs_total  srs_total_n_items
    0      a       32.5                  4
    1      b        NaN                  3
    """
    key = load_instrument(instrument)
    columns = _resolve_columns(key, items, prefix)
    fraction = _min_fraction(key, prorate)
    X = _reverse(_item_matrix(df, key, columns), key)
    position = {it.id: j for j, it in enumerate(key.items)}
    present = ~np.isnan(X)
    filled = np.where(present, X, 0.0)
    scores = {}
    for name, sub in key.subscales.items():
        idx = [position[i] for i in sub.items]
        k = len(idx)
        n_present = np.zeros(X.shape[0], dtype=np.int64)
        total = np.zeros(X.shape[0])
        for j in idx:
            n_present += present[:, j]
            total += filled[:, j]
        with np.errstate(invalid="ignore", divide="ignore"):
            mean = total / n_present
        ok = (n_present > 0) & (n_present >= fraction * k - _ABOUT)
        scores[f"{key.prefix}_{name}"] = np.where(ok, mean * (k if sub.method == "sum" else 1), np.nan)
        scores[f"{key.prefix}_{name}_n_items"] = n_present
    replaced = [c for c in scores if c in df.columns]
    if replaced:
        warnings.warn(f"score(): columns {replaced} already exist; they are replaced in the returned copy by the "
                      f"{key.name} scores (your input is unchanged).", DataWarning, stacklevel=2)
    out = df.drop(columns=replaced)
    return pd.concat([out, pd.DataFrame(scores, index=df.index)], axis=1)


# ----------------------------------------------------------------------------------------------------------
# alpha and omega
# ----------------------------------------------------------------------------------------------------------

def cronbach_alpha(cov: np.ndarray) -> float:
    """Cronbach's (1951) alpha of the unweighted sum of items with covariance matrix ``cov``.

    :math:`\\alpha = \\frac{k}{k-1}(1 - \\operatorname{tr} S / \\mathbf 1^\\top S \\mathbf 1)`.

    >>> import numpy as np
    >>> round(cronbach_alpha(np.array([[1.0, 0.5], [0.5, 1.0]])), 6)
    0.666667
    """
    S = np.asarray(cov, dtype=np.float64)
    k = S.shape[0]
    if k < 2:
        raise AllianceStatsError(f"alpha needs at least 2 items; got {k}.")
    return float(k / (k - 1) * (1.0 - np.trace(S) / S.sum()))


@dataclass(frozen=True)
class _OneFactor:
    loadings: np.ndarray
    residuals: np.ndarray
    converged: bool
    iterations: int
    at_bound: tuple[int, ...]
    message: str


def _loadings(psi: np.ndarray, S: np.ndarray):
    s = 1.0 / np.sqrt(psi)
    Sstar = S * s[:, None] * s[None, :]
    vals, vecs = np.linalg.eigh(Sstar)
    gamma, e = vals[::-1], vecs[:, ::-1]
    lam = np.sqrt(psi) * e[:, 0] * np.sqrt(max(gamma[0] - 1.0, 0.0))
    return lam, gamma


def _objective(psi: np.ndarray, S: np.ndarray) -> float:
    _, gamma = _loadings(psi, S)
    rest = gamma[1:]
    if np.any(rest <= 0):
        return np.inf
    return float(np.sum(rest - np.log(rest)) - rest.size)


def _gradient(psi: np.ndarray, S: np.ndarray) -> np.ndarray:
    lam, _ = _loadings(psi, S)
    resid = np.outer(lam, lam) + np.diag(psi) - S
    return np.diag(resid) / psi**2


def _hessian(psi: np.ndarray, S: np.ndarray, idx: np.ndarray) -> np.ndarray:
    """Hessian of the concentrated objective over ``idx``, by central differences of the analytic gradient."""
    H = np.empty((idx.size, idx.size))
    for a, j in enumerate(idx):
        h = 1e-5 * psi[j]
        up, dn = psi.copy(), psi.copy()
        up[j] += h
        dn[j] -= h
        H[:, a] = (_gradient(up, S)[idx] - _gradient(dn, S)[idx]) / (2 * h)
    return 0.5 * (H + H.T)


def _fit_one_factor(S: np.ndarray, *, tol: float = 1e-11, max_iter: int = 200) -> _OneFactor:
    """ML one-factor model for covariance matrix S (concentrated in the unique variances, see module doc).

    Projected Newton iterations with backtracking on the bounded unique variances; converged when every
    free unique variance has a scaled gradient ``|dF/dtheta_i| * theta_i`` below ``tol``. (A small dense
    Newton solver, not scipy's L-BFGS-B, because the latter's cost is dominated by BLAS thread start-up
    for matrices this small.)
    """
    S = np.asarray(S, dtype=np.float64)
    d = np.diag(S).copy()
    lower = 1e-6 * d
    # start as factanal does: unique variance = 1 / diag(S^-1), the residual variance of each item on the others
    psi = np.clip(1.0 / np.diag(np.linalg.inv(S)), 10 * lower, d)
    f = _objective(psi, S)
    converged, message, iterations = False, "iteration limit reached", 0
    for iterations in range(1, max_iter + 1):
        g = _gradient(psi, S)
        free = (psi > lower * (1 + 1e-9)) | (g < 0)
        if np.all(np.abs(g[free]) * psi[free] < tol):
            converged, message = True, "scaled gradient below tolerance"
            break
        idx = np.flatnonzero(free)
        H = _hessian(psi, S, idx)
        try:
            np.linalg.cholesky(H)
            step = np.linalg.solve(H, g[idx])
        except np.linalg.LinAlgError:  # not positive definite far from the optimum: scaled gradient step
            step = g[idx] * psi[idx] ** 2
        t, moved = 1.0, False
        for _ in range(50):
            trial = psi.copy()
            trial[idx] = np.maximum(psi[idx] - t * step, lower[idx])
            f_trial = _objective(trial, S)
            # Armijo condition, with slack for rounding once the discrepancy is flat at machine precision
            if f_trial <= f - 1e-4 * float(g[idx] @ (psi[idx] - trial[idx])) + 1e-14 * max(1.0, abs(f)):
                moved = True
                break
            t *= 0.5
        if not moved:
            converged = bool(np.all(np.abs(g[free]) * psi[free] < 1e-7))
            message = "no further decrease of the ML discrepancy (at numerical precision)"
            break
        psi, f = trial, f_trial
    lam, _ = _loadings(psi, S)
    if lam.sum() < 0:
        lam = -lam
    at_bound = tuple(int(j) for j in np.flatnonzero(psi <= lower * (1 + 1e-9)))
    return _OneFactor(lam, psi, converged, iterations, at_bound, message)


def _fit_one_factor_uls(S: np.ndarray, *, tol: float = 1e-13, max_iter: int = 100_000) -> _OneFactor:
    """Unweighted least squares one-factor fit (iterated principal axes = MINRES), for matrices ML cannot take.

    Minimises :math:`\\tfrac12\\operatorname{tr}\\{(S - \\lambda\\lambda^\\top - \\Theta)^2\\}` with
    :math:`\\theta_i \\ge 0`: for given :math:`\\Theta`, :math:`\\lambda = e_1\\sqrt{\\gamma_1}` from the largest
    eigenpair of :math:`S - \\Theta`; then :math:`\\theta_i = \\max(S_{ii} - \\lambda_i^2, 0)`; repeated to a
    fixed point (Harman 1976). It needs no inverse or determinant of :math:`S`, so it works when a
    between-client moment estimate is not positive definite.
    """
    S = np.asarray(S, dtype=np.float64)
    d = np.diag(S).copy()
    theta = np.clip(1.0 / np.diag(np.linalg.pinv(S)), 0.0, d) if np.all(d > 0) else np.zeros_like(d)
    converged, iterations = False, 0
    lam = np.zeros_like(d)
    for iterations in range(1, max_iter + 1):
        vals, vecs = np.linalg.eigh(S - np.diag(theta))
        lam = vecs[:, -1] * np.sqrt(max(vals[-1], 0.0))
        new = np.maximum(d - lam**2, 0.0)
        change = np.max(np.abs(new - theta))
        theta = new
        if change < tol * max(d.max(), 1e-300):
            converged = True
            break
    vals, vecs = np.linalg.eigh(S - np.diag(theta))
    lam = vecs[:, -1] * np.sqrt(max(vals[-1], 0.0))
    if lam.sum() < 0:
        lam = -lam
    at_bound = tuple(int(j) for j in np.flatnonzero(theta <= 0.0))
    message = "fixed point reached" if converged else "iteration limit reached"
    return _OneFactor(lam, theta, converged, iterations, at_bound, message)


def omega_total(cov: np.ndarray) -> float:
    """McDonald's (1999) omega total of the unweighted sum, from an ML one-factor model fitted to ``cov``.

    :math:`\\omega = (\\sum\\lambda)^2 / ((\\sum\\lambda)^2 + \\sum\\theta)` with loadings :math:`\\lambda` and
    unique variances :math:`\\theta` of the ML fit (the estimator of lavaan ``cfa(..., estimator = "ML")``).
    Needs at least 3 items (a one-factor model of 2 items is not identified).

    >>> import numpy as np
    >>> S = np.full((4, 4), 0.5) + 0.5 * np.eye(4)
    >>> round(omega_total(S), 6)
    0.8
    """
    S = np.asarray(cov, dtype=np.float64)
    if S.shape[0] < 3:
        raise AllianceStatsError(f"omega needs at least 3 items (a one-factor model of {S.shape[0]} items is "
                                 "not identified).")
    fit = _fit_one_factor(S)
    return _omega(fit)


def _omega(fit: _OneFactor) -> float:
    common = fit.loadings.sum() ** 2
    return float(common / (common + fit.residuals.sum()))


def _is_pd(S: np.ndarray) -> bool:
    try:
        np.linalg.cholesky(S)
    except np.linalg.LinAlgError:
        return False
    return True


def _level_covariances(X: np.ndarray, groups: np.ndarray):
    """Pooled within-client covariance S_PW and corrected between-client covariance (Muthen 1994)."""
    codes, g = np.unique(groups, return_inverse=True)
    J, N = codes.size, X.shape[0]
    n_j = np.bincount(g, minlength=J).astype(np.float64)
    sums = np.zeros((J, X.shape[1]))
    np.add.at(sums, g, X)
    means = sums / n_j[:, None]
    W = X - means[g]
    S_pw = W.T @ W / (N - J)
    grand = X.mean(axis=0)
    D = means - grand
    S_b = (D * n_j[:, None]).T @ D / (J - 1)
    c = (N**2 - np.sum(n_j**2)) / (N * (J - 1))
    return S_pw, (S_b - S_pw) / c, N, J


# ----------------------------------------------------------------------------------------------------------
# reliability
# ----------------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class ReliabilityResult:
    """Alpha and omega per scale and level.

    ``table``: one row per (scale, level) with columns ``scale, level, n_items, n_obs, n_clients, alpha,
    omega, omega_estimator`` (``"ML"``, or ``"ULS"`` for a matrix that is not positive definite, or ``""``
    when omega is not defined for fewer than 3 items); ``level`` is ``"single"`` (all rows, nesting ignored), ``"within"`` or ``"between"``
    (Geldhof et al. 2014, via the covariance decomposition described in the module docstring).
    ``loadings``: the one-factor ML solutions (``scale, level, item, loading, residual_variance``).
    ``covariances``: ``{(scale, level): DataFrame}`` — the matrix each row of ``table`` was computed from.
    """

    table: pd.DataFrame
    loadings: pd.DataFrame
    covariances: Mapping[tuple[str, str], pd.DataFrame]
    instrument: str | None
    estimator: str
    convergence: Convergence
    provenance: Provenance

    def summary(self) -> str:
        """Readable table of alpha and omega with the estimator used.

        >>> import numpy as np, pandas as pd
        >>> rng = np.random.default_rng(3)
        >>> f = rng.normal(size=(100, 1))
        >>> d = pd.DataFrame(f + rng.normal(size=(100, 3)), columns=["a", "b", "c"])
        >>> print(reliability(d, items=["a", "b", "c"]).summary().splitlines()[1])
        scale  level  n_items  n_obs  n_clients  alpha  omega omega_estimator
        """
        head = f"Reliability{f' of {self.instrument}' if self.instrument else ''} ({self.estimator})"
        body = self.table.to_string(index=False, float_format=lambda v: f"{v:.3f}")
        flag = "" if self.convergence.converged else "\nWARNING: a one-factor fit did not converge: " + \
            "; ".join(self.convergence.warnings)
        return f"{head}\n{body}{flag}"


def _scales(df, instrument, items, prefix):
    """[(scale name, list of columns, item matrix)] with reverse keying applied."""
    if instrument is not None:
        key = load_instrument(instrument)
        columns = _resolve_columns(key, items, prefix)
        X = _reverse(_item_matrix(df, key, columns), key)
        pos = {it.id: j for j, it in enumerate(key.items)}
        out = []
        for name, sub in key.subscales.items():
            if len(sub.items) < 2:
                continue
            idx = [pos[i] for i in sub.items]
            out.append((name, [columns[i] for i in sub.items], X[:, idx]))
        if not out:
            raise AllianceStatsError(f"instrument {key.name!r} has no subscale with 2 or more items; "
                                     "reliability is not defined for single items.")
        return key.name, out
    if items is None:
        raise AllianceStatsError("reliability() needs an instrument or items= (a list of item columns, or a "
                                 "dict scale name -> list of columns).")
    groups = items if isinstance(items, Mapping) else {"scale": items}
    out, problems = [], []
    for name, cols in groups.items():
        cols = [str(c) for c in cols]
        absent = [c for c in cols if c not in df.columns]
        if absent:
            problems.append(f"scale {name!r}: columns {absent} are not in the data.")
            continue
        if len(cols) < 2:
            problems.append(f"scale {name!r}: needs at least 2 item columns; got {cols}.")
            continue
        block = df[cols].apply(pd.to_numeric, errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)
        bad = np.isnan(block) & df[cols].notna().to_numpy() | np.isinf(block)
        for r, j in zip(*np.nonzero(bad)):
            problems.append(f"column {cols[j]!r}: row {r + 1}: value {df[cols[j]].iat[r]!r} is not a finite "
                            "number.")
        out.append((str(name), cols, block))
    if problems:
        raise SchemaError(problems, source="reliability items")
    return None, out


def reliability(df: pd.DataFrame, instrument=None, items=None, *, client: str | None = None,
                time: str | None = None, prefix: str | None = None) -> ReliabilityResult:
    """Cronbach's alpha and McDonald's omega, single-level and within/between clients.

    For each scale (each subscale of ``instrument`` with at least 2 items, reverse-keyed, or the columns
    in ``items``) and each level, alpha (Cronbach 1951) and omega total from an ML one-factor model
    (McDonald 1999) are computed from a covariance matrix: the ordinary sample covariance (level
    ``"single"``), and, when ``client`` is given, the pooled within-client covariance (``"within"``) and the
    corrected between-client covariance (``"between"``) of Geldhof, Preacher & Zyphur (2014), obtained by
    the method-of-moments decomposition (Muthen 1994) described in the module docstring — an approximation
    to their two-level CFA, not a two-level fit. Omega needs 3 or more items (NaN for 2). Rows with a
    missing item are dropped per scale.

    Validated against R (``tests/data/fixtures/scoring_fixtures.R``): alpha against ``psych::alpha`` and the
    formula, omega against a lavaan one-factor ``cfa()`` on the same matrices, to 1e-6; single-level alpha
    also against pingouin's ``cronbach_alpha``.

    Parameters
    ----------
    df : DataFrame; never modified.
    instrument : scoring key (as in :func:`score`) or None.
    items : with an instrument, the item -> column mapping of :func:`score`; without, a list of columns
        (one scale) or a dict scale name -> list of columns.
    client : column of client ids for within/between reliability (repeated measures).
    time : column of occasions (e.g. ``"session"``); when given with ``client``, each (client, time) pair
        must occur once (duplicates raise a SchemaError).
    prefix : stem of the default item columns of the instrument.

    Example
    -------
    >>> import numpy as np, pandas as pd
    >>> from allianceStats import reliability
    >>> rng = np.random.default_rng(7)
    >>> person = np.repeat(rng.normal(size=50), 6)           # 50 clients x 6 sessions
    >>> state = rng.normal(size=300)
    >>> d = pd.DataFrame({f"x{i}": person + np.repeat(rng.normal(0, 0.5, 50), 6) + state + rng.normal(size=300)
    ...                   for i in range(4)})
    >>> d["client"] = np.repeat(np.arange(50), 6)
    >>> rel = reliability(d, items=["x0", "x1", "x2", "x3"], client="client")
    >>> rel.table[["level", "n_obs", "n_clients"]]
         level  n_obs  n_clients
    0   single    300         50
    1   within    300         50
    2  between    300         50
    >>> bool(rel.table["alpha"].between(0.5, 1).all())
    True
    """
    if not isinstance(df, pd.DataFrame):
        raise AllianceStatsError(f"expected a pandas DataFrame; got {type(df).__name__}.")
    for role, col in (("client", client), ("time", time)):
        if col is not None and col not in df.columns:
            raise SchemaError([f"{role} column {col!r} is not in the data; columns: {list(map(str, df.columns))}."])
    if time is not None and client is None:
        raise AllianceStatsError("time= needs client= (time identifies occasions within a client).")
    if client is not None:
        if df[client].isna().any():
            rows = np.flatnonzero(df[client].isna().to_numpy()) + 1
            raise SchemaError([f"column {client!r}: missing client id at row {r}." for r in rows])
        if time is not None:
            dup = df.duplicated([client, time], keep=False).to_numpy()
            if dup.any():
                raise SchemaError([f"row {r + 1}: client {df[client].iat[r]!r} has more than one row at "
                                   f"{time} {df[time].iat[r]!r}; keep one row per client and occasion."
                                   for r in np.flatnonzero(dup)])
    name, scales = _scales(df, instrument, items, prefix)
    groups_all = df[client].to_numpy() if client is not None else None
    rows, loads, covs, notes = [], [], {}, []
    converged, iterations = True, 0
    for scale, cols, X in scales:
        keep = ~np.isnan(X).any(axis=1)
        Xc = X[keep]
        n = Xc.shape[0]
        mats = []
        if n < 3:
            raise AllianceStatsError(f"scale {scale!r}: only {n} rows have all of {cols}; reliability needs "
                                     "more complete rows.")
        mats.append(("single", np.cov(Xc, rowvar=False), n, None))
        if groups_all is not None:
            g = groups_all[keep]
            S_pw, S_between, N, J = _level_covariances(Xc, g)
            if J < 2 or N - J < 1:
                raise AllianceStatsError(f"scale {scale!r}: within/between reliability needs at least 2 clients "
                                         f"and repeated rows; found {J} clients in {N} complete rows.")
            mats[0] = ("single", mats[0][1], n, J)
            mats.append(("within", S_pw, N, J))
            mats.append(("between", S_between, N, J))
        for level, S, n_obs, n_clients in mats:
            covs[(scale, level)] = pd.DataFrame(S, index=cols, columns=cols)
            alpha = cronbach_alpha(S)
            omega, how = np.nan, ""
            if len(cols) >= 3:
                if _is_pd(S):
                    fit, how = _fit_one_factor(S), "ML"
                else:
                    fit, how = _fit_one_factor_uls(S), "ULS"
                    notes.append(f"{scale}/{level}: covariance matrix not positive definite; omega from a ULS fit")
                    warnings.warn(f"reliability(): the {level} covariance matrix of {scale!r} is not positive "
                                  f"definite (few clients, or little item-specific {level}-client variance); its "
                                  "omega comes from an unweighted least squares (MINRES) one-factor fit instead "
                                  "of ML, and its alpha should be read with care.", DataWarning, stacklevel=2)
                omega = _omega(fit)
                iterations += fit.iterations
                if not fit.converged:
                    converged = False
                    notes.append(f"{scale}/{level}: one-factor {how} fit stopped ({fit.message})")
                    warnings.warn(f"reliability(): the one-factor {how} fit for {scale!r} ({level}) did not "
                                  f"converge ({fit.message}); its omega may be inaccurate.",
                                  ConvergenceWarning, stacklevel=2)
                if fit.at_bound:
                    bound = [cols[j] for j in fit.at_bound]
                    notes.append(f"{scale}/{level}: unique variance at its lower bound for {bound}")
                    warnings.warn(f"reliability(): Heywood case in {scale!r} ({level}): the unique variance "
                                  f"of {bound} is at its lower bound (near 0).", BoundaryWarning,
                                  stacklevel=2)
                loads.extend({"scale": scale, "level": level, "item": c, "loading": l,
                              "residual_variance": r} for c, l, r in zip(cols, fit.loadings, fit.residuals))
            rows.append({"scale": scale, "level": level, "n_items": len(cols), "n_obs": n_obs,
                         "n_clients": n_clients, "alpha": alpha, "omega": omega, "omega_estimator": how})
    table = pd.DataFrame(rows, columns=["scale", "level", "n_items", "n_obs", "n_clients", "alpha", "omega",
                                        "omega_estimator"])
    table["n_clients"] = table["n_clients"].astype("Int64")
    loadings = pd.DataFrame(loads, columns=["scale", "level", "item", "loading", "residual_variance"])
    estimator = ("alpha: Cronbach (1951); omega total: one-factor model (McDonald 1999), ML, or ULS where the "
                 "covariance matrix is not positive definite"
                 + ("; within/between: moment decomposition of Geldhof et al. (2014) levels" if client else ""))
    return ReliabilityResult(
        table=table,
        loadings=loadings,
        covariances=covs,
        instrument=name,
        estimator=estimator,
        convergence=Convergence(converged=converged, iterations=iterations,
                                optimizer="projected Newton (concentrated ML)",
                                message="ok" if converged else "see warnings", warnings=tuple(notes)),
        provenance=make_provenance(df, options={"instrument": name, "client": client, "time": time,
                                                "prefix": prefix, "missing": "listwise per scale"}),
    )
