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

References: Snijders, T. A. B., & Bosker, R. J. (2012). *Multilevel Analysis* (2nd ed.), ch. 3.3 and 4.9
(three-level ICCs). Raudenbush, S. W., & Bryk, A. S. (2002). *Hierarchical Linear Models* (2nd ed.), ch. 8.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from ..errors import AllianceStatsError

ICC_COLUMNS = ["level", "icc", "variance", "definition"]


def _check_columns(data, needed: dict[str, str | None], where: str) -> None:
    if not isinstance(data, pd.DataFrame):
        raise AllianceStatsError(f"{where} takes a pandas DataFrame; got {type(data).__name__}.")
    absent = [f"{role}={col!r}" for role, col in needed.items() if col is not None and col not in data.columns]
    if absent:
        raise AllianceStatsError(
            f"{where}: column(s) {', '.join(absent)} not in the data (columns: {list(data.columns)}). "
            "Pass the names of your columns, e.g. client='patient_id'."
        )


def icc(data: pd.DataFrame, outcome: str, *, client: str = "client", therapist: str | None = None,
        reml: bool = True) -> pd.DataFrame:
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

    Returns
    -------
    DataFrame with columns ``level, icc, variance, definition``; rows ``therapist`` (three levels only),
    ``client``, ``same_client`` (three levels only) and ``residual``. ``attrs`` holds ``formula``, ``reml``,
    ``nobs``, ``converged`` and ``singular`` of the empty-model fit. Validated against lme4 1.1-31
    (``tests/mixed/fixtures/extras_fixtures.R``) to 1e-5 relative.

    Example
    -------
    >>> import numpy as np, pandas as pd
    >>> from allianceStats.mixed import icc
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
    if therapist is None:
        formula = f"{outcome} ~ 1 + (1 | {client})"
    else:
        formula = f"{outcome} ~ 1 + (1 | {therapist}) + (1 | {client})"
    fit = fit_mlm(formula, data, reml=reml)
    var_c = float(fit.random_cov[client].to_numpy()[0, 0])
    var_e = float(fit.sigma ** 2)
    var_t = float(fit.random_cov[therapist].to_numpy()[0, 0]) if therapist is not None else 0.0
    total = var_t + var_c + var_e
    rows = []
    if therapist is not None:
        rows.append(("therapist", var_t / total, var_t,
                     "tau2_therapist / (tau2_therapist + tau2_client + sigma2): correlation of sessions of "
                     "different clients of one therapist"))
        rows.append(("client", var_c / total, var_c,
                     "tau2_client / (tau2_therapist + tau2_client + sigma2): share between clients within "
                     "therapists"))
        rows.append(("same_client", (var_t + var_c) / total, var_t + var_c,
                     "(tau2_therapist + tau2_client) / total: correlation of two sessions of one client"))
    else:
        rows.append(("client", var_c / total, var_c,
                     "tau2_client / (tau2_client + sigma2): correlation of two sessions of one client"))
    rows.append(("residual", var_e / total, var_e, "sigma2 / total: share of session-level variance"))
    out = pd.DataFrame(rows, columns=ICC_COLUMNS)
    out["icc"] = out["icc"].astype(np.float64)
    out.attrs.update(formula=formula, reml=bool(reml), nobs=int(fit.nobs), converged=bool(fit.converged),
                     singular=bool(fit.singular))
    return out
