r"""Intraclass correlations from the empty (intercept-only) model.

Model
-----
Two levels (sessions :math:`t` in clients :math:`i`):
:math:`y_{ti} = \gamma_{00} + u_i + e_{ti}`, :math:`u_i \sim N(0, \tau^2_c)`, :math:`e_{ti} \sim N(0, \sigma^2)`.

Three levels (clients :math:`i` in therapists :math:`j`):
:math:`y_{tij} = \gamma_{000} + v_j + u_{ij} + e_{tij}` with therapist variance :math:`\tau^2_t`.

With :math:`V = \tau^2_t + \tau^2_c + \sigma^2` (drop :math:`\tau^2_t` for two levels):

``therapist``    :math:`\tau^2_t / V`: the share of outcome variance between therapists, i.e. the correlation of
                 two sessions of *different* clients of the same therapist.
``client``       :math:`\tau^2_c / V`: the share between clients within therapists (for two levels: the usual ICC).
``same_client``  :math:`(\tau^2_t + \tau^2_c) / V`: the correlation of two sessions of the *same* client (three
                 levels only; for two levels it equals ``client``).
``residual``     :math:`\sigma^2`: session-level variance (its share :math:`\sigma^2 / V` is in ``icc``).

The variances are the REML (default) or ML estimates of :func:`allianceStats.mixed.fit_mlm`, so they equal
lme4's ``VarCorr(lmer(y ~ 1 + (1 | therapist) + (1 | client)))``.

Confidence intervals (approximate)
----------------------------------
With lme4's relative parameters :math:`\theta_k = \tau_k/\sigma`, every share is a function of θ alone, e.g.
:math:`\mathrm{ICC}_c = \theta_c^2 / (1 + \theta_c^2 + \theta_t^2)`. Its standard error is the delta method
with the asymptotic covariance of the variance parameters (2 × inverse Hessian of the deviance, as lmerTest's
``vcov_varpar``), and the interval is a Wald interval on the logit scale, back-transformed, so it stays in
(0, 1). It is a large-sample approximation: with few therapists the therapist interval is rough, and at a
boundary (a variance estimated as zero) no interval is given. Profile or bootstrap intervals are better
when it matters (Ukoumunne 2002, *Stat. Med.* 21(24), 3757–3774, compares ICC intervals).

References: Snijders, T. A. B., & Bosker, R. J. (2012). *Multilevel Analysis* (2nd ed.), ch. 3.3 and 4.9
(three-level ICCs). Raudenbush, S. W., & Bryk, A. S. (2002). *Hierarchical Linear Models* (2nd ed.), ch. 8.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import special, stats

from ..errors import AllianceStatsError

ICC_COLUMNS = ["level", "icc", "variance", "std_error", "ci_lower", "ci_upper", "definition"]


def _check_columns(data, needed: dict[str, str | None], where: str) -> None:
    if not isinstance(data, pd.DataFrame):
        raise AllianceStatsError(f"{where} takes a pandas DataFrame; got {type(data).__name__}.")
    absent = [f"{role}={col!r}" for role, col in needed.items() if col is not None and col not in data.columns]
    if absent:
        hint = " (or therapist=None for a two-level model)" if any(a.startswith("therapist=") for a in absent) else ""
        raise AllianceStatsError(
            f"{where}: column(s) {', '.join(absent)} not in the data (columns: {list(data.columns)}). "
            f"Pass the names of your columns, e.g. client='patient_id'{hint}."
        )


def icc(data: pd.DataFrame, outcome: str, *, client: str = "client", therapist: str | None = None,
        reml: bool = True, conf_level: float = 0.95) -> pd.DataFrame:
    """Intraclass correlations of ``outcome`` from the empty two- or three-level model.

    Fits ``outcome ~ 1 + (1 | client)`` or, with ``therapist``, ``outcome ~ 1 + (1 | therapist) +
    (1 | client)`` (clients nested in therapists; client ids must be unique across therapists) and returns
    the variance shares defined in the module docstring (Snijders & Bosker 2012; Raudenbush & Bryk 2002).

    Parameters
    ----------
    data : DataFrame
        Long session table, one row per client and session. Rows with a missing ``outcome`` are dropped.
    outcome, client, therapist : str
        Column names; ``therapist=None`` gives the two-level model.
    reml : bool
        REML (default, as lme4) or maximum-likelihood variance estimates.
    conf_level : float
        Confidence level of ``ci_lower`` / ``ci_upper`` (delta method on the logit scale; module docstring).

    Returns
    -------
    DataFrame with columns ``level, icc, variance, std_error, ci_lower, ci_upper, definition``; rows
    ``therapist`` (three levels only), ``client``, ``same_client`` (three levels only) and ``residual``
    (its ``icc`` is the residual share). ``attrs`` holds ``formula``, ``reml``, ``nobs``, ``converged``,
    ``singular``, ``conf_level`` and ``notes``. Validated against lme4 1.1-31 and lmerTest 3.1-3
    (``tests/mixed/fixtures/extras_fixtures.R``): ICCs and variances to 1e-5 relative, standard errors and
    CI limits to 1e-4 relative.

    Example
    -------
    >>> import numpy as np, pandas as pd
    >>> from allianceStats.mixed.intraclass import icc
    >>> rng = np.random.default_rng(7)
    >>> client = np.repeat(np.arange(40), 6)
    >>> d = pd.DataFrame({"client": client.astype(str),
    ...                   "alliance": 3.5 + rng.normal(0, 0.6, 40)[client] + rng.normal(0, 0.4, 240)})
    >>> tab = icc(d, "alliance")
    >>> list(tab.level)
    ['client', 'residual']
    >>> bool(0.5 < tab.icc.iloc[0] < 0.9)
    True
    """
    from . import fit_mlm

    _check_columns(data, {"outcome": outcome, "client": client, "therapist": therapist}, "icc()")
    if therapist is not None and therapist == client:
        raise AllianceStatsError(f"icc(): client and therapist are the same column ({client!r}); "
                                 "give the therapist column, or therapist=None for two levels.")
    if not 0.0 < conf_level < 1.0:
        raise AllianceStatsError(f"icc(): conf_level must be between 0 and 1 (e.g. 0.95); got {conf_level!r}.")
    if therapist is None:
        formula = f"{outcome} ~ 1 + (1 | {client})"
    else:
        formula = f"{outcome} ~ 1 + (1 | {therapist}) + (1 | {client})"
    fit = fit_mlm(data, formula, reml=reml)
    var_c = float(fit.random_cov[client].to_numpy()[0, 0])
    var_e = float(fit.sigma ** 2)
    var_t = float(fit.random_cov[therapist].to_numpy()[0, 0]) if therapist is not None else 0.0
    total = var_t + var_c + var_e
    # θ_k = τ_k / σ for each intercept-only factor, in the fit's factor order; every share is a function of θ
    factors = list(fit.random_terms)
    theta = np.asarray(fit.theta, dtype=np.float64)
    k_c = factors.index(client)
    k_t = factors.index(therapist) if therapist is not None else None
    cov_theta = np.asarray(fit.varpar_vcov, dtype=np.float64)[:len(theta), :len(theta)]
    z = stats.norm.ppf(0.5 + conf_level / 2.0)
    notes = []

    def share(num: list[int], variance: float, level: str, definition: str):
        denom = 1.0 + float(theta @ theta)
        value = float(np.sum(theta[num] ** 2)) / denom if num else 1.0 / denom
        grad = -2.0 * theta * value / denom
        grad[num] += 2.0 * theta[num] / denom
        se = float(np.sqrt(max(grad @ cov_theta @ grad, 0.0)))
        lo = hi = np.nan
        if 0.0 < value < 1.0 and np.isfinite(se) and se > 0:
            half = z * se / (value * (1.0 - value))
            logit = np.log(value / (1.0 - value))
            lo, hi = special.expit(logit - half), special.expit(logit + half)
        elif not fit.singular:
            notes.append(f"no CI for {level!r}: its standard error is not available")
        return (level, value, variance, se, lo, hi, definition)

    rows = []
    if therapist is not None:
        rows.append(share([k_t], var_t, "therapist",
                          "tau2_therapist / (tau2_therapist + tau2_client + sigma2): correlation of sessions of "
                          "different clients of one therapist"))
        rows.append(share([k_c], var_c, "client",
                          "tau2_client / (tau2_therapist + tau2_client + sigma2): share between clients within "
                          "therapists"))
        rows.append(share([k_t, k_c], var_t + var_c, "same_client",
                          "(tau2_therapist + tau2_client) / total: correlation of two sessions of one client"))
    else:
        rows.append(share([k_c], var_c, "client",
                          "tau2_client / (tau2_client + sigma2): correlation of two sessions of one client"))
    rows.append(share([], var_e, "residual", "sigma2 / total: share of session-level variance"))
    if fit.singular:
        notes.append("boundary (singular) fit: a variance is estimated as zero; its ICC has no CI")
    out = pd.DataFrame(rows, columns=ICC_COLUMNS)
    out.attrs.update(formula=formula, reml=bool(reml), nobs=int(fit.n_obs), converged=bool(fit.converged),
                     singular=bool(fit.singular), conf_level=float(conf_level), notes=tuple(notes))
    return out
