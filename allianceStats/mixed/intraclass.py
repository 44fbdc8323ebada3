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

import time
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy import special, stats

from .._deprecation import FormerTable
from ..data.checks import check_bool, check_conf_level, require_columns, require_numeric
from ..errors import OptionError, SchemaError
from ..results import Convergence, Provenance, ResultDisplay, make_provenance
from .result import MixedResult

ICC_COLUMNS = ["level", "icc", "variance", "std_error", "ci_lower", "ci_upper", "definition"]


@dataclass(frozen=True, repr=False)
class ICCResult(ResultDisplay, FormerTable):
    """Intraclass correlations of one measure (see :mod:`allianceStats.mixed.intraclass`).

    Attributes
    ----------
    table : pandas.DataFrame
        Columns ``level, icc, variance, std_error, ci_lower, ci_upper, definition``; rows ``therapist``
        (three levels only), ``client``, ``same_client`` (three levels only) and ``residual`` (its ``icc`` is
        the residual share). Intervals at ``conf_level``.
    outcome, formula : str
        The measure and the empty model fitted.
    reml, singular : bool
        REML or ML; a variance estimated as zero (lme4's ``isSingular``: that share has no interval).
    n_obs : int
        Sessions used (rows with the measure observed).
    conf_level : float
        Level of ``ci_lower`` / ``ci_upper``.
    notes : tuple of str
        What the user should know (missing intervals, boundary fits).
    fit : MixedResult
        The empty model.
    convergence, provenance
        Those of the fit; ``provenance.function`` is ``"icc"``. ``converged`` reads ``convergence``.
    """

    table: pd.DataFrame
    outcome: str
    formula: str
    reml: bool
    singular: bool
    n_obs: int
    conf_level: float
    notes: tuple[str, ...]
    convergence: Convergence
    provenance: Provenance
    fit: MixedResult = field(repr=False, compare=False)

    _former = "icc()"

    def _former_attrs(self) -> dict:
        return {"formula": self.formula, "reml": self.reml, "nobs": self.n_obs, "converged": self.converged,
                "singular": self.singular, "conf_level": self.conf_level, "notes": self.notes}

    def summary(self) -> str:
        """The shares with their intervals, then the notes."""
        pct = f"{100 * self.conf_level:g}%"
        tab = self.table[["level", "icc", "variance", "std_error", "ci_lower", "ci_upper"]]
        lines = [f"Intraclass correlations of {self.outcome} ({'REML' if self.reml else 'ML'}; {self.n_obs} "
                 f"sessions; {pct} intervals, delta method on the logit scale)", f"Model: {self.formula}",
                 tab.to_string(index=False, float_format=lambda v: f"{v:.4f}", na_rep="-")]
        if not self.converged:
            lines.append(f"WARNING: the empty model did not converge: {self.convergence.message}")
        lines += [f"Note: {n}" for n in self.notes]
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.summary()

    def __repr__(self) -> str:
        shares = ", ".join(f"{lv} {v:.3f}" for lv, v in zip(self.table["level"], self.table["icc"]))
        return f"<ICCResult of {self.outcome!r}: {shares}; n = {self.n_obs}>"


def icc(data: pd.DataFrame, outcome: str, *, client: str = "client", therapist: str | None = None,
        reml: bool = True, conf_level: float = 0.95) -> ICCResult:
    """Intraclass correlations of ``outcome`` from the empty two- or three-level model.

    Fits ``outcome ~ 1 + (1 | client)`` or, with ``therapist``, ``outcome ~ 1 + (1 | therapist) +
    (1 | client)`` (clients nested in therapists; client ids must be unique across therapists) and returns
    the variance shares defined in the module docstring (Snijders & Bosker 2012; Raudenbush & Bryk 2002).

    Parameters
    ----------
    data : pandas.DataFrame
        Long session table, one row per client and session; never modified. Rows with a missing
        ``outcome`` are dropped.
    outcome : str
        The measure (a numeric column).
    client, therapist : str
        Column roles; ``therapist=None`` (default) gives the two-level model.
    reml : bool, default True
        REML (as lme4) or maximum-likelihood variance estimates.
    conf_level : float, default 0.95
        Level of ``ci_lower`` / ``ci_upper`` (delta method on the logit scale; module docstring).

    Returns
    -------
    ICCResult
        ``table`` with columns ``level, icc, variance, std_error, ci_lower, ci_upper, definition``, plus
        ``converged``, ``singular``, ``n_obs``, ``notes``, the empty model ``fit`` and provenance.

    Raises
    ------
    SchemaError
        ``data`` lacks a named column, ``outcome`` is not numeric, or it is constant (no variance to share).
    OptionError
        ``client`` and ``therapist`` name the same column; ``reml`` or ``conf_level`` is invalid.

    Notes
    -----
    Validated against lme4 1.1-31 and lmerTest 3.1-3 (``tests/mixed/fixtures/extras_fixtures.R``): ICCs and
    variances to 1e-5 relative, standard errors and CI limits to 1e-4 relative. Before 0.2.0 ``icc()``
    returned the table itself with ``attrs``; DataFrame access on the result still works, with a
    FutureWarning, until 0.3.0.

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> from allianceStats.mixed import icc
    >>> rng = np.random.default_rng(7)
    >>> client = np.repeat(np.arange(40), 6)
    >>> d = pd.DataFrame({"client": client.astype(str),
    ...                   "alliance": 3.5 + rng.normal(0, 0.6, 40)[client] + rng.normal(0, 0.4, 240)})
    >>> res = icc(d, "alliance")
    >>> print(res.table[["level", "icc", "ci_lower", "ci_upper"]].round(3).to_string(index=False))
       level   icc  ci_lower  ci_upper
      client 0.615     0.483     0.732
    residual 0.385     0.268     0.517
    >>> res.converged, res.singular, res.n_obs
    (True, False, 240)
    """
    from .engine import fit_mlm

    started = time.perf_counter()
    require_columns(data, [outcome, client, therapist], where="icc")
    require_numeric(data, [outcome], where="icc")
    if therapist is not None and therapist == client:
        raise OptionError(f"client={client!r} and therapist={therapist!r} name the same column; give the "
                          "therapist column, or therapist=None for two levels")
    reml = check_bool("reml", reml)
    conf_level = check_conf_level(conf_level)
    values = data[outcome].dropna()
    if values.nunique() < 2:
        found = "no values" if values.empty else f"the same value {values.iloc[0]:g} in all {len(values)} rows"
        raise SchemaError([f"column {outcome!r} has {found}: an intraclass correlation needs a measure that "
                           "varies (it is a share of the variance, undefined when the variance is 0). Check that "
                           "the right column is named and that it was read correctly."], source="icc")
    if therapist is None:
        formula = f"{outcome} ~ 1 + (1 | {client})"
    else:
        formula = f"{outcome} ~ 1 + (1 | {therapist}) + (1 | {client})"
    fit = fit_mlm(data, formula, reml=reml)
    var_c = float(fit.random_cov[client].to_numpy()[0, 0])
    var_e = float(fit.sigma ** 2)
    var_t = float(fit.random_cov[therapist].to_numpy()[0, 0]) if therapist is not None else 0.0
    # θ_k = τ_k / σ for each intercept-only factor, in the fit's factor order; every share is a function of θ
    factors = list(fit.random_terms)
    theta = np.asarray(fit.theta, dtype=np.float64)
    k_c = factors.index(client)
    k_t = factors.index(therapist) if therapist is not None else None
    cov_theta = np.asarray(fit.varpar_vcov, dtype=np.float64)[:len(theta), :len(theta)]
    z = stats.norm.ppf(0.5 + conf_level / 2.0)
    notes = []

    def share(num: list[int], variance: float, part: str, definition: str):
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
            notes.append(f"no CI for {part!r}: its standard error is not available")
        return (part, value, variance, se, lo, hi, definition)

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
    table = pd.DataFrame(rows, columns=ICC_COLUMNS)
    provenance = make_provenance(data.loc[:, [c for c in (outcome, client, therapist) if c is not None]],
                                 options={"outcome": outcome, "client": client, "therapist": therapist, "reml": reml,
                                          "conf_level": conf_level}, extra_versions=("nlopt",), function="icc",
                                 started=started)
    return ICCResult(table=table, outcome=outcome, formula=formula, reml=reml, singular=fit.singular,
                     n_obs=fit.n_obs, conf_level=conf_level, notes=tuple(notes), convergence=fit.convergence,
                     provenance=provenance, fit=fit)
