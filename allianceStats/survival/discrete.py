r"""Discrete-time hazard models on person-period data, with or without client / therapist random effects.

Model
-----
With time measured in whole periods (sessions, weeks), the hazard of period *p* for client *i* is
:math:`h_{ip} = P(T_i = p \mid T_i \ge p, x_{ip})` and

.. math:: g(h_{ip}) = \alpha_p + x_{ip}^\top\beta\ [+\ b_i + u_{j(i)}],

fitted as a binary regression on one row per client and period at risk (person-period data from
:func:`~allianceStats.survival.survival_intervals` with ``periods=True``: the event is 1 only in the last period
of a client with the event; Singer & Willett 1993, 2003 ch. 10–12). ``link="cloglog"`` makes
:math:`e^{\beta}` the hazard ratio of the underlying continuous-time proportional-hazards model observed in
grouped time (Prentice & Gloeckler 1978); ``link="logit"`` makes it the odds ratio of the discrete hazard. The
baseline :math:`\alpha_p` is whatever the formula says: ``factor(period)`` (one parameter per period, the general
choice), ``period`` (linear), or a centred / polynomial version. Time-varying covariates are simply columns of
the person-period table (the builder carries the last value measured at or before the period's start).

Random effects ``(1 | client)`` (a frailty: unobserved client-level risk) or ``(1 | therapist)`` make it a
GLMM, fitted by maximum likelihood with the Laplace approximation (or adaptive Gauss–Hermite quadrature,
``n_agq``) by :func:`allianceStats.mixed.glmm.fit_glmm`, lme4's ``glmer`` algorithm. Without random effects the
model is a GLM fitted by IRLS (statsmodels).

Validation: R ``glm(binomial(link = "cloglog"))`` and ``glm(binomial)`` and lme4 1.1-31 ``glmer(...,
binomial(link = "cloglog"))`` with a client and with a therapist random intercept, on person-period data built
independently in R from the same simulated sessions (``tests/survival/fixtures``).

References
----------
Singer, J. D., & Willett, J. B. (1993). It's about time: Using discrete-time survival analysis to study
duration and the timing of events. *Journal of Educational Statistics, 18*(2), 155-195.
Singer, J. D., & Willett, J. B. (2003). *Applied longitudinal data analysis*. Oxford University Press.
Prentice, R. L., & Gloeckler, L. A. (1978). Regression analysis of grouped survival data with application to
breast cancer data. *Biometrics, 34*(1), 57-67.

Example
-------
>>> import pandas as pd
>>> from allianceStats.survival import survival_intervals
>>> sessions = pd.DataFrame({"client": [1, 1, 1, 2, 2, 3, 3, 3, 3, 4, 4, 5, 5, 5],
...                          "session": [1, 2, 3, 1, 2, 1, 2, 3, 4, 1, 2, 1, 2, 3],
...                          "alliance": [4.1, 3.2, 2.9, 4.5, 4.6, 3.9, 3.1, 3.0, 2.8, 4.8, 4.2, 3.3, 3.5, 4.0]})
>>> events = pd.DataFrame({"client": [1, 2, 3, 4, 5], "time": [4, 4, 5, 3, 5], "event": [1, 0, 1, 0, 1]})
>>> pp = survival_intervals(sessions, events, periods=True)
>>> fit = fit_discrete_hazard(pp, "event ~ alliance")
>>> fit.n_obs, fit.n_events, fit.params["term"].tolist()
(16, 3, ['(Intercept)', 'alliance'])
"""
from __future__ import annotations

import re
import time as _time
import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

from ..data.checks import check_choice, check_conf_level, check_positive_int, table_and_text
from ..errors import ConvergenceWarning, FormulaError, SchemaError
from ..results import Convergence, Provenance, ResultDisplay, make_provenance
from ._messages import labels_of

PARAM_COLUMNS = ["term", "estimate", "std_error", "statistic", "p_value", "ci_lower", "ci_upper", "ratio",
                 "ratio_ci_lower", "ratio_ci_upper"]
_RATIO = {"cloglog": "hazard ratio (grouped-time proportional hazards)", "logit": "odds ratio of the hazard"}


@dataclass(frozen=True, repr=False)
class DiscreteHazardResult(ResultDisplay):
    """A fitted discrete-time hazard model (:func:`fit_discrete_hazard`).

    ``params``: ``term, estimate, std_error, statistic, p_value, ci_lower, ci_upper`` (Wald z at ``conf_level``)
    and ``ratio`` = exp(estimate) with its interval (``ratio_name`` says which ratio). ``varcomp``: random-effect
    variances (lme4's ``VarCorr`` layout) or ``None``; ``glmm``: the underlying
    :class:`~allianceStats.mixed.glmm_result.GLMMResult` when there are random effects. ``n_obs``: person-period
    rows; ``n_events``.
    """

    formula: str
    link: str
    params: pd.DataFrame
    varcomp: pd.DataFrame | None
    loglik: float
    ratio_name: str
    n_obs: int
    n_events: int
    conf_level: float
    convergence: Convergence
    provenance: Provenance
    glmm: object | None = None

    def summary(self) -> str:
        """Coefficients with ratios and intervals; random-effect SDs if any."""
        head = [f"Discrete-time hazard ({self.link} link): {self.formula}",
                f"{self.n_obs} person-periods, {self.n_events} events, log-likelihood {self.loglik:.4f}",
                f"ratio = {self.ratio_name}; {self.conf_level:.0%} Wald intervals"]
        tab = self.params.to_string(index=False, float_format=lambda v: f"{v:.4g}")
        vc = "" if self.varcomp is None else "\n\nrandom effects:\n" + self.varcomp.to_string(index=False)
        conv = "" if self.converged else f"\nWARNING: not converged ({self.convergence.message})"
        return "\n".join(head) + "\n" + tab + vc + conv


def _with_ratios(params: pd.DataFrame) -> pd.DataFrame:
    out = params.copy()
    with np.errstate(over="ignore"):
        out["ratio"] = np.exp(out["estimate"])
        out["ratio_ci_lower"] = np.exp(out["ci_lower"])
        out["ratio_ci_upper"] = np.exp(out["ci_upper"])
    return out[PARAM_COLUMNS]


def _r_name(name: str) -> str:
    if name == "Intercept":
        return "(Intercept)"
    return re.sub(r"C\(([^)]*)\)\[T\.([^\]]*)\]", r"factor(\1)\2", name)


#: functions the GLM formula may call, under R's names (R's log is the natural logarithm)
_R_FUNCTIONS = {"log": np.log, "exp": np.exp, "sqrt": np.sqrt, "log1p": np.log1p, "log2": np.log2,
                "log10": np.log10, "abs": np.abs}


def _fit_glm(data: pd.DataFrame, formula: str, response: str, link: str, conf_level: float):
    import statsmodels.api as sm
    import statsmodels.formula.api as smf

    links = {"cloglog": sm.families.links.CLogLog(), "logit": sm.families.links.Logit()}
    sm_formula = re.sub(r"factor\(", "C(", formula)
    try:
        model = smf.glm(sm_formula, data, family=sm.families.Binomial(link=links[link]), eval_env=_R_FUNCTIONS)
    except Exception as exc:   # patsy reports unknown functions, bad syntax and missing columns with its own error
        detail = str(exc).splitlines()[0]
        raise FormulaError(f"formula {formula!r} could not be read: {detail}. The fixed part takes column names, "
                           f"factor(x), interactions (a:b, a*b), I(...) and the functions {sorted(_R_FUNCTIONS)}; "
                           "compute anything else as a column first.") from None
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        res = model.fit(tol=1e-12, maxiter=200)
    est = res.params.to_numpy()
    se = res.bse.to_numpy()
    q = stats.norm.ppf(0.5 + conf_level / 2)
    z = est / se
    params = pd.DataFrame({"term": [_r_name(n) for n in res.params.index], "estimate": est, "std_error": se,
                           "statistic": z, "p_value": 2 * stats.norm.sf(np.abs(z)), "ci_lower": est - q * se,
                           "ci_upper": est + q * se})
    grad = model.score(est)
    hess = model.hessian(est)
    try:
        step = np.linalg.solve(-hess, grad)
        size = float(np.max(np.abs(step) / (1 + np.abs(est))))
    except np.linalg.LinAlgError:
        size = np.inf
    ok = bool(res.converged) and size < 1e-6
    msg = (f"IRLS converged; Newton step at the estimate {size:.2e} (relative)" if ok else
           f"one more Newton step would change an estimate by {size:.3g} (relative): separation or a period "
           f"without events under factor(period)?")
    conv = Convergence(converged=ok, iterations=int(res.fit_history.get("iteration", -1)), optimizer="IRLS",
                       message=msg, warnings=tuple(str(w.message) for w in caught))
    return params, float(res.llf), conv, int(res.nobs)


def fit_discrete_hazard(data: pd.DataFrame, formula: str, *, link: str = "cloglog", n_agq: int = 1,
                        conf_level: float = 0.95) -> DiscreteHazardResult:
    """Discrete-time hazard model on person-period data: GLM, or GLMM with client / therapist random effects.

    Model, links and validation: module docstring (:mod:`allianceStats.survival.discrete`).

    Parameters
    ----------
    data : pandas.DataFrame
        Person-period table (one row per client and period at risk), e.g. from ``survival_intervals(...,
        periods=True)``. Never modified.
    formula : str
        ``"event ~ factor(period) + alliance + female"`` (GLM) or ``"event ~ period_c + alliance + (1 | client)"``
        (GLMM, lme4 syntax; see :func:`~allianceStats.mixed.glmm.fit_glmm` for what it reads). The response is
        the 0/1 event column. The GLM's fixed part reads column names, ``factor(x)``, ``a:b``, ``a*b``,
        ``I(...)`` and R's ``log``, ``exp``, ``sqrt``, ``log1p``, ``log2``, ``log10``, ``abs``; anything else
        raises :class:`~allianceStats.errors.FormulaError`.
    link : {"cloglog", "logit"}
        ``cloglog``: hazard ratios of grouped-time proportional hazards; ``logit``: odds ratios.
    n_agq : int
        Adaptive Gauss–Hermite points for a GLMM with one random intercept (1 = Laplace, lme4's default).
    conf_level : float
        Level of the Wald intervals.

    Returns
    -------
    DiscreteHazardResult

    Raises
    ------
    SchemaError
        A response that is not 0/1, missing columns (from the fitting engine).
    FormulaError
        A formula without ``~``.
    OptionError
        ``link`` or ``conf_level`` outside their choices.

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> rng = np.random.default_rng(8)
    >>> rows = []
    >>> for c in range(300):
    ...     a = rng.normal(0, 1)
    ...     for p in range(1, 11):
    ...         e = rng.random() < 1 - np.exp(-np.exp(-2.5 - 0.5 * a))
    ...         rows.append((c, p, a, int(e)))
    ...         if e:
    ...             break
    >>> pp = pd.DataFrame(rows, columns=["client", "period", "alliance", "event"])
    >>> fit = fit_discrete_hazard(pp, "event ~ period + alliance")
    >>> round(float(fit.params.set_index("term").loc["alliance", "ratio"]), 2)
    0.61
    """
    started = _time.perf_counter()
    data, formula = table_and_text(data, formula, where="fit_discrete_hazard")
    check_choice("link", link, ("cloglog", "logit"))
    conf_level = check_conf_level(conf_level)
    n_agq = check_positive_int("n_agq", n_agq)
    if not isinstance(formula, str) or "~" not in formula:
        raise FormulaError(f"formula={formula!r}: expected 'event ~ period + covariates [+ (1 | client)]'")
    response = formula.split("~", 1)[0].strip()
    if response not in data.columns:
        raise SchemaError([f"column {response!r} (the response) not found in data; it has columns "
                           f"{list(map(str, data.columns))[:20]}"], source="fit_discrete_hazard")
    y = data[response]
    bad = ~y.isin([0, 1, True, False])
    if bad.any():
        raise SchemaError([f"column {response!r} must be 0/1 (1 = event in this period); found "
                           f"{labels_of(pd.unique(y[bad]))} at row(s) {labels_of(data.index[bad])}"],
                          source="fit_discrete_hazard")
    used = [c for c in map(str, data.columns) if re.search(rf"(?<![A-Za-z0-9_.]){re.escape(c)}(?![A-Za-z0-9_.])",
                                                           formula)]
    miss = data[used].isna().any(axis=1)
    if miss.any():
        cols = [c for c in used if data.loc[miss, c].isna().any()]
        raise SchemaError([f"missing value(s) in column(s) {labels_of(cols)} at row(s) "
                           f"{labels_of(data.index[miss])}; a period without its covariates cannot be used — "
                           f"drop those rows first (e.g. periods before the first alliance rating)"],
                          source="fit_discrete_hazard")
    glmm = None
    if "|" in formula:
        from ..mixed.glmm import fit_glmm

        glmm = fit_glmm(data, formula, family="binomial", link=link, n_agq=n_agq, conf_level=conf_level)
        params, loglik, conv, n_obs = glmm.params, float(glmm.loglik), glmm.convergence, int(glmm.n_obs)
        varcomp = glmm.varcomp
    else:
        params, loglik, conv, n_obs = _fit_glm(data, formula, response, link, conf_level)
        varcomp = None
        if not conv.converged:
            warnings.warn(f"fit_discrete_hazard did not converge: {conv.message}", ConvergenceWarning,
                          stacklevel=2)
    prov = make_provenance(data, options={"formula": formula, "link": link, "n_agq": n_agq,
                                          "conf_level": conf_level},
                           function="fit_discrete_hazard", started=started)
    return DiscreteHazardResult(formula=formula, link=link, params=_with_ratios(params), varcomp=varcomp,
                                loglik=loglik, ratio_name=_RATIO[link], n_obs=n_obs,
                                n_events=int(pd.to_numeric(y).sum()), conf_level=conf_level, convergence=conv,
                                provenance=prov, glmm=glmm)
