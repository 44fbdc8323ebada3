"""Reliability of questionnaire scales: Cronbach's alpha and McDonald's omega, single-level and multilevel.

Definitions (:func:`reliability`)
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
    and 0.007 (between; ours lower), see ``tests/data/fixtures/scoring_fixtures.R``. The moment estimate
    :math:`\\hat\\Sigma_B` need not be positive definite (few clients, or items without item-specific client
    variance, so that the between level is close to rank one); ML is then impossible and omega for that matrix
    comes from an unweighted least squares (MINRES, iterated principal axes; Harman 1976) one-factor fit with
    unique variances bounded at 0, with a DataWarning; the ``omega_estimator`` column of the result says which
    fit was used.

    Rows with a missing item are dropped per scale (listwise deletion), as in ``psych::alpha`` with
    complete data and pingouin's ``cronbach_alpha(nan_policy="listwise")``.

References
    Cronbach, L. J. (1951). Coefficient alpha and the internal structure of tests. Psychometrika, 16, 297-334.
    Harman, H. H. (1976). Modern factor analysis (3rd ed.). University of Chicago Press.
    Geldhof, G. J., Preacher, K. J., & Zyphur, M. J. (2014). Reliability estimation in a multilevel
    confirmatory factor analysis framework. Psychological Methods, 19(1), 72-91.
    Joreskog, K. G. (1967). Some contributions to maximum likelihood factor analysis. Psychometrika, 32, 443-482.
    Lawley, D. N., & Maxwell, A. E. (1971). Factor analysis as a statistical method (2nd ed.). Butterworths.
    McDonald, R. P. (1999). Test theory: A unified treatment. Erlbaum.
    Muthen, B. O. (1994). Multilevel covariance structure analysis. Sociological Methods & Research, 22, 376-398.

Example
-------
>>> import numpy as np, pandas as pd
>>> import allianceStats as als
>>> rng = np.random.default_rng(1)
>>> f = rng.normal(size=(200, 1))
>>> items = pd.DataFrame(np.clip(np.rint(3 + f + rng.normal(size=(200, 12))), 1, 5),
...                      columns=[f"wai_{i}" for i in range(1, 13)])
>>> rel = als.reliability(items, "wai")
>>> list(rel.table.columns)
['scale', 'level', 'n_items', 'n_obs', 'n_clients', 'alpha', 'omega', 'omega_estimator']
>>> rel.n_obs, rel.converged
(200, True)
"""
from __future__ import annotations

import time
import warnings
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd

from .._deprecation import renamed_arguments
from ..errors import BoundaryWarning, ConvergenceWarning, DataWarning, IdentificationError, OptionError, SchemaError
from ..results import Convergence, Provenance, ResultDisplay, make_provenance
from ._items import item_matrix, resolve_columns, reverse
from .checks import first_labels, require_columns
from .instruments import load_instrument

__all__ = ["reliability", "ReliabilityResult", "cronbach_alpha", "omega_total"]

_STACK = 3  # warnings point at the caller: reliability -> its renamed-arguments wrapper -> the caller


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
        raise OptionError(f"alpha needs at least 2 items; got a {k} x {k} covariance matrix.")
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
    for it in range(1, max_iter + 1):
        iterations = it  # read after the loop: the number of iterations taken
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
    for it in range(1, max_iter + 1):
        iterations = it  # read after the loop: the number of iterations taken
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
        raise IdentificationError(f"omega needs at least 3 items (a one-factor model of {S.shape[0]} items is "
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


@dataclass(frozen=True, repr=False)
class ReliabilityResult(ResultDisplay):
    """Alpha and omega per scale and level.

    ``table``: one row per (scale, level) with columns ``scale, level, n_items, n_obs, n_clients, alpha,
    omega, omega_estimator`` (``"ML"``, or ``"ULS"`` for a matrix that is not positive definite, or ``""``
    when omega is not defined for fewer than 3 items); ``level`` is ``"single"`` (all rows, nesting ignored),
    ``"within"`` or ``"between"`` (Geldhof et al. 2014, via the covariance decomposition described in the module
    docstring).
    ``loadings``: the one-factor ML solutions (``scale, level, item, loading, residual_variance``).
    ``covariances``: ``{(scale, level): DataFrame}`` — the matrix each row of ``table`` was computed from.

    The result protocol (:class:`allianceStats.results.Result`): ``n_obs`` is the number of rows complete on at
    least one scale (each scale's own count is ``table["n_obs"]``); ``convergence`` covers every one-factor
    fit; no interval is reported (``conf_level`` keeps its default).
    """

    table: pd.DataFrame
    loadings: pd.DataFrame
    covariances: Mapping[tuple[str, str], pd.DataFrame]
    instrument: str | None
    estimator: str
    convergence: Convergence
    provenance: Provenance
    n_obs: int = 0
    conf_level: float = 0.95

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


def _scales(df, instrument, items, prefix, where):
    """[(scale name, list of columns, item matrix)] with reverse keying applied."""
    if instrument is not None:
        key = load_instrument(instrument)
        columns = resolve_columns(key, items, prefix)
        X = reverse(item_matrix(df, key, columns, where=where), key)
        pos = {it.id: j for j, it in enumerate(key.items)}
        out = []
        for name, sub in key.subscales.items():
            if len(sub.items) < 2:
                continue
            idx = [pos[i] for i in sub.items]
            out.append((name, [columns[i] for i in sub.items], X[:, idx]))
        if not out:
            raise OptionError(f"instrument {key.name!r} has no subscale with 2 or more items; "
                                     "reliability is not defined for single items.")
        return key.name, out
    if items is None:
        raise OptionError("reliability() needs an instrument or items= (a list of item columns, or a "
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
        raise SchemaError(problems, source=where)
    return None, out


@renamed_arguments(df="data", time="session")
def reliability(data: pd.DataFrame, instrument=None, items=None, *, client: str | None = None,
                session: str | None = None, prefix: str | None = None) -> ReliabilityResult:
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
    data : pandas.DataFrame
        Item responses; never modified (``df=`` is the old name).
    instrument : str, path, dict or Instrument, optional
        Scoring key (as in :func:`~allianceStats.data.scoring.score`) or None.
    items : dict or list, optional
        With an instrument, the item -> column mapping of :func:`~allianceStats.data.scoring.score`; without,
        a list of columns (one scale) or a dict scale name -> list of columns.
    client : str, optional
        Column of client ids for within/between reliability (repeated measures).
    session : str, optional
        Column of session numbers; when given with ``client``, each (client, session) pair must occur once
        (duplicates raise a SchemaError). ``time=`` is the old name.
    prefix : str, optional
        Stem of the default item columns of the instrument.

    Returns
    -------
    ReliabilityResult
        ``table`` (alpha and omega per scale and level), ``loadings``, ``covariances``.

    Raises
    ------
    SchemaError
        A column is missing, a cell is not a valid answer, a client id is missing or a (client, session) pair
        repeats — every problem listed.
    OptionError
        Neither an instrument nor items, ``session=`` without ``client=``, or a scale of fewer than 2 items.
    IdentificationError
        Too few complete rows or clients for a covariance matrix.

    Examples
    --------
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
    started = time.perf_counter()
    where = "reliability"
    require_columns(data, [client, session], where=where)
    if session is not None and client is None:
        raise OptionError("session= needs client= (session numbers identify occasions within a client); give "
                          "both, or neither for single-level reliability")
    if client is not None:
        missing_id = data[client].isna().to_numpy()
        if missing_id.any():
            raise SchemaError([f"column {client!r}: missing client id at row(s) "
                               f"{first_labels(np.flatnonzero(missing_id) + 1)} (1-based); every row needs its "
                               f"client for within/between reliability"], source=where)
        if session is not None:
            dup = data.duplicated([client, session], keep=False).to_numpy()
            if dup.any():
                raise SchemaError([f"row {r + 1}: client {data[client].iat[r]!r} has more than one row at "
                                   f"{session} {data[session].iat[r]!r}; keep one row per client and session."
                                   for r in np.flatnonzero(dup)], source=where)
    name, scales = _scales(data, instrument, items, prefix, where)
    groups_all = data[client].to_numpy() if client is not None else None
    used = np.zeros(len(data), dtype=bool)
    rows, loads, covs, notes = [], [], {}, []
    converged, iterations = True, 0
    for scale, cols, X in scales:
        keep = ~np.isnan(X).any(axis=1)
        used |= keep
        Xc = X[keep]
        n = Xc.shape[0]
        mats = []
        if n < 3:
            raise IdentificationError(f"scale {scale!r}: only {n} rows have all of {cols}; reliability needs "
                                      "at least 3 complete rows.")
        mats.append(("single", np.cov(Xc, rowvar=False), n, None))
        if groups_all is not None:
            g = groups_all[keep]
            S_pw, S_between, N, J = _level_covariances(Xc, g)
            if J < 2 or N - J < 1:
                raise IdentificationError(f"scale {scale!r}: within/between reliability needs at least 2 "
                                          f"clients and repeated rows; found {J} clients in {N} complete rows.")
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
                                  "of ML, and its alpha should be read with care.", DataWarning, stacklevel=_STACK)
                omega = _omega(fit)
                iterations += fit.iterations
                if not fit.converged:
                    converged = False
                    notes.append(f"{scale}/{level}: one-factor {how} fit stopped ({fit.message})")
                    warnings.warn(f"reliability(): the one-factor {how} fit for {scale!r} ({level}) did not "
                                  f"converge ({fit.message}); its omega may be inaccurate.",
                                  ConvergenceWarning, stacklevel=_STACK)
                if fit.at_bound:
                    bound = [cols[j] for j in fit.at_bound]
                    notes.append(f"{scale}/{level}: unique variance at its lower bound for {bound}")
                    warnings.warn(f"reliability(): Heywood case in {scale!r} ({level}): the unique variance "
                                  f"of {bound} is at its lower bound (near 0).", BoundaryWarning,
                                  stacklevel=_STACK)
                loads.extend({"scale": scale, "level": level, "item": c, "loading": ld,
                              "residual_variance": r} for c, ld, r in zip(cols, fit.loadings, fit.residuals))
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
        provenance=make_provenance(data, options={"instrument": name, "client": client, "session": session,
                                                  "prefix": prefix, "missing": "listwise per scale"},
                                   function=where, started=started),
        n_obs=int(used.sum()),
    )
