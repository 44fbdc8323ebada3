r"""Test of the proportional-hazards assumption and scaled Schoenfeld residuals, as R's ``cox.zph``.

Method
------
Under proportional hazards a coefficient does not change with time. Grambsch & Therneau (1994) test
:math:`\beta_j(t) = \beta_j + \theta_j g(t)` by the score test of :math:`\theta = 0` in the model with the
added covariates :math:`x_j\,g(t)`, at :math:`(\hat\beta, \theta = 0)`; survival 3.x computes exactly this score
test (earlier versions used an approximation). With :math:`\bar x_{kl}` and :math:`V_{kl}` the mean and variance
of the covariates over the *l*-th Efron pseudo risk set at event time :math:`\tau_k` (one per event with
Breslow), and :math:`g_k = g(\tau_k)` centred at its mean over events,

.. math:: U_\theta = \sum_k g_k \Big(\sum_{i:\,\text{event at }\tau_k} x_i - \sum_l \bar x_{kl}\Big),\qquad
          \mathcal I = \sum_{k,l} \begin{pmatrix} 1 & g_k \\ g_k & g_k^2 \end{pmatrix} \otimes V_{kl},

and the statistic for term *j* (its columns *J*) is :math:`U^\top \mathcal I_{[\beta, \theta_J]}^{-1} U` with
:math:`U = (0, U_{\theta_J})`, :math:`\chi^2` with :math:`|J|` df; ``GLOBAL`` tests all :math:`\theta` at once.

Time transforms :math:`g` (``transform=``): ``"km"`` (default) :math:`1 - \hat S(t^-)`, one minus the left-continuous
Kaplan–Meier curve of all the data; ``"rank"`` the rank of the time; ``"identity"``; ``"log"``.

Scaled Schoenfeld residuals (plot them against ``x`` to see :math:`\beta_j(t)`; Grambsch & Therneau 1994):
:math:`r^*_i = \hat\beta + \bar V^{-1} r_i` with :math:`r_i` the Schoenfeld residual of event *i* and
:math:`\bar V = \mathcal I_{\beta\beta}/d` the average information per event (per stratum, counting only the
strata where the covariate varies, as R does).

Validation: R ``survival::cox.zph`` 3.5-3 on ``heart`` (counting process; Efron and Breslow; km, rank and
identity transforms; strata) and ``veteran`` (right-censored; km and log): test statistics, transformed times
and scaled residuals to 1e-8 (``tests/survival``).

References
----------
Grambsch, P. M., & Therneau, T. M. (1994). Proportional hazards tests and diagnostics based on weighted
residuals. *Biometrika, 81*(3), 515-526.
Therneau, T. M., & Grambsch, P. M. (2000). *Modeling survival data*. Springer, ch. 6.

Example
-------
>>> import numpy as np, pandas as pd
>>> from allianceStats.survival import fit_cox
>>> rng = np.random.default_rng(2)
>>> d = pd.DataFrame({"x": rng.normal(size=200)})
>>> d["time"] = rng.exponential(1 / np.exp(0.5 * d.x))
>>> d["event"] = (rng.random(200) < 0.8).astype(int)
>>> z = cox_zph(fit_cox(d, "Surv(time, event) ~ x"))
>>> z.table.round(3)
     term  chisq  df  p_value
0       x  0.231   1    0.631
1  GLOBAL  0.231   1    0.631
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats
from scipy.stats import rankdata

from ..data.checks import check_choice
from ..results import CLOSED_FORM, Convergence, Provenance, ResultDisplay
from .curves import product_limit

TRANSFORMS = ("km", "rank", "identity", "log")


@dataclass(frozen=True, repr=False)
class ZphResult(ResultDisplay):
    """Proportional-hazards tests and scaled Schoenfeld residuals of a Cox fit (:func:`cox_zph`).

    ``table``: ``term, chisq, df, p_value`` (one row per model term and ``GLOBAL``). ``residuals``: one row per
    event in time order (within stratum), columns ``event_time``, ``transformed_time`` (R's ``x``, the x-axis of
    ``plot(cox.zph)``), optional ``stratum`` first, and one scaled residual per term (R's ``y``). ``n_obs``: events.
    """

    table: pd.DataFrame
    residuals: pd.DataFrame
    transform: str
    n_obs: int
    conf_level: float
    convergence: Convergence
    provenance: Provenance

    def summary(self) -> str:
        """The test table, as ``print(cox.zph(fit))``."""
        return (f"Proportional hazards (Grambsch-Therneau score tests, transform = {self.transform!r}):\n"
                + self.table.to_string(index=False, float_format=lambda v: f"{v:.4g}"))


def _time_transform(fd, transform: str) -> np.ndarray:
    sd = fd.data
    t = sd.stop
    if transform == "identity":
        return t.copy()
    if transform == "log":
        return np.log(t)
    if transform == "rank":
        return rankdata(t)
    km = product_limit(sd.start, sd.stop, sd.event.astype(float))
    idx = np.searchsorted(km["time"].to_numpy(), t, side="left")  # number of curve times strictly below t
    return 1.0 - np.concatenate([[1.0], km["survival"].to_numpy()])[idx]


def cox_zph(fit, transform: str = "km") -> ZphResult:
    """Grambsch–Therneau tests of proportional hazards and scaled Schoenfeld residuals (R's ``cox.zph``).

    Method and validation: module docstring (:mod:`allianceStats.survival.zph`).

    Parameters
    ----------
    fit : CoxResult
        A model from :func:`~allianceStats.survival.fit_cox`.
    transform : {"km", "rank", "identity", "log"}
        Function of time the coefficients are allowed to change with under the alternative.

    Returns
    -------
    ZphResult
        ``table`` of tests and ``residuals`` for plots.

    Raises
    ------
    OptionError
        ``transform`` is not one of the choices.

    Examples
    --------
    >>> import pandas as pd
    >>> from allianceStats.survival import fit_cox
    >>> d = pd.DataFrame({"time": [2, 3, 5, 7, 8, 11, 12, 15], "event": [1, 1, 0, 1, 1, 1, 0, 1],
    ...                   "x": [1.2, 0.4, 0.8, -0.3, 0.9, -1.0, 0.1, -0.6]})
    >>> cox_zph(fit_cox(d, "Surv(time, event) ~ x"), transform="rank").table["term"].tolist()
    ['x', 'GLOBAL']
    """
    check_choice("transform", transform, TRANSFORMS)
    fd = fit.fit_data
    sd = fd.data
    rs = fd.risk_sets
    beta = fit.params["estimate"].to_numpy()
    X = sd.design.X - fd.means
    p = X.shape[1]
    tt = _time_transform(fd, transform)
    dead = rs.dead
    g_rows = tt - tt[dead].mean()
    # one g per event time (every event at a time has the same transformed time)
    K = rs.grid.size
    g_k = np.zeros(K)
    g_k[rs.dead_k] = g_rows[dead]
    # per pseudo event: mean and covariance of x over its risk set (the increments of the information)
    eta = X @ beta
    r = np.exp(eta - eta.max())
    S0, S1, S2u, D0, D1, D2u = rs._sums(X, r, second=True)
    k, f = rs.pk, rs.pf
    den = S0[k] - f * D0[k]
    xbar = (S1[k] - f[:, None] * D1[k]) / den[:, None]
    iu = np.triu_indices(p)
    m2 = np.zeros((len(k), p, p))
    m2[:, iu[0], iu[1]] = (S2u[k] - f[:, None] * D2u[k]) / den[:, None]
    m2 = m2 + np.triu(m2, 1).transpose(0, 2, 1)
    V = m2 - xbar[:, :, None] * xbar[:, None, :]
    g = g_k[k]
    I11 = V.sum(axis=0)
    I12 = np.einsum("m,mij->ij", g, V)
    I22 = np.einsum("m,mij->ij", g * g, V)
    imat = np.block([[I11, I12], [I12.T, I22]])
    u2 = (g_rows[dead][:, None] * X[dead]).sum(axis=0) - (g[:, None] * xbar).sum(axis=0)
    assign = np.asarray(sd.design.assign)
    terms = [t.label for t in fd.spec.terms]
    rows = []
    for j, name in enumerate(terms):
        jj = np.flatnonzero(assign == j)
        kk = np.concatenate([np.arange(p), p + jj])
        u = np.concatenate([np.zeros(p), u2[jj]])
        stat = float(u @ np.linalg.solve(imat[np.ix_(kk, kk)], u))
        rows.append((name, stat, len(jj)))
    u = np.concatenate([np.zeros(p), u2])
    rows.append(("GLOBAL", float(u @ np.linalg.solve(imat, u)), p))
    table = pd.DataFrame([(n, s, d, float(stats.chi2.sf(s, d))) for n, s, d in rows],
                         columns=["term", "chisq", "df", "p_value"])
    residuals = _scaled_residuals(fit, X, beta, tt, I11, assign, terms)
    return ZphResult(table=table, residuals=residuals, transform=transform, n_obs=int(len(dead)),
                     conf_level=fit.conf_level, convergence=CLOSED_FORM, provenance=fit.provenance)


def _scaled_residuals(fit, X, beta, tt, I11, assign, terms) -> pd.DataFrame:
    fd = fit.fit_data
    sd = fd.data
    rs = fd.risk_sets
    dead = rs.dead
    schoen = rs.schoenfeld(X, beta)
    counting = fd.spec.start is not None
    # R's order: by stratum and time; tied events in reverse row order for (start, stop] data
    order = np.lexsort((-dead if counting else dead, sd.stop[dead], sd.strata[dead]))
    schoen, ev_rows = schoen[order], dead[order]
    n_strata = max(len(sd.strata_labels), 1)
    p = X.shape[1]
    used = np.zeros((n_strata, p))
    for s in range(n_strata):
        m = sd.strata == s
        varies = np.array([np.any(sd.design.X[m, j] != sd.design.X[m, j][0]) for j in range(p)]) if m.any() \
            else np.zeros(p, bool)
        used[s] = np.where(varies, sd.event[m].sum(), 0)
    # terms with several columns (factors) are combined through their coefficients, as R's terms = TRUE
    nterm = len(terms)
    T = np.zeros((p, nterm))
    for i in range(nterm):
        cols = np.flatnonzero(assign == i)
        T[cols, i] = 1.0 if len(cols) == 1 else beta[cols]
    multi = any((assign == i).sum() > 1 for i in range(nterm))
    if multi:
        for i in range(nterm):
            cols = np.flatnonzero(assign == i)
            if len(cols) > 1:
                used[:, cols] = used[:, cols].max(axis=1, keepdims=True)
    wt = np.zeros((p, p))
    for s in range(n_strata):
        wt += np.minimum.outer(used[s], used[s])
    vmean = I11 / np.where(wt == 0, 1.0, wt)
    sres = schoen
    if multi:
        sres = schoen @ T
        vmean = T.T @ vmean @ T
        used = used[:, [int(np.flatnonzero(assign == i)[0]) for i in range(nterm)]]
    sres = sres.copy()
    ev_strata = sd.strata[ev_rows]
    for s in range(n_strata):
        k = np.flatnonzero(used[s] > 0)
        rows = np.flatnonzero(ev_strata == s)
        if len(k):
            sres[np.ix_(rows, k)] = np.linalg.solve(vmean[np.ix_(k, k)], sres[np.ix_(rows, k)].T).T
            other = np.setdiff1d(np.arange(sres.shape[1]), k)
            sres[np.ix_(rows, other)] = np.nan
    for i in range(nterm):
        cols = np.flatnonzero(assign == i)
        sres[:, i] += beta[cols[0]] if len(cols) == 1 else 1.0
    out = pd.DataFrame(sres[:, :nterm], columns=terms)
    out.insert(0, "transformed_time", tt[ev_rows])
    out.insert(0, "event_time", sd.stop[ev_rows])
    if sd.strata_labels:
        out.insert(0, "stratum", [sd.strata_labels[s] for s in ev_strata])
    return out
