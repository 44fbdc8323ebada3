r"""Cox proportional hazards regression with time-varying covariates, strata and cluster-robust variance.

Model
-----
For client *i* in stratum *g*, :math:`h_i(t) = h_{0g}(t)\exp\{x_i(t)^\top\beta\}`, where :math:`x_i(t)` is
constant on each counting-process row :math:`(s, t]` of the client (Cox 1972; Andersen & Gill 1982). A row
enters the risk sets of the event times in :math:`(s, t]` only, which gives time-varying covariates, left
truncation (delayed entry) and gaps for free. β maximises the log partial likelihood with Efron's (default, as
R's ``coxph``) or Breslow's handling of tied event times, or the exact partial likelihood of Kalbfleisch &
Prentice (1973) (``ties="exact"``, R's ``coxph(ties = "exact")``; the recursion of Gail, Lubin & Rubinstein
1981 in :mod:`allianceStats.survival.exact_ties`), by Newton–Raphson from β = 0 with step halving,
until the log-likelihood changes by less than 1e-11 (relative) and one more Newton step would move no
estimate by more than 1e-8 (relative to 1 + |β|). The sums over risk sets are vectorised
(:mod:`allianceStats.survival.risk_sets`).

Variance
--------
Covariates are centred for the computation at their means, except columns with values in {-1, 0, 1} (left at 0,
as R's ``nocenter``); the estimates do not depend on it, the "centered" baseline hazard refers to it.

Model-based: the inverse of the observed information :math:`\mathcal I(\hat\beta)^{-1}`
(``std_error_model``). With ``client=`` (R's ``cluster(id)``): the robust sandwich of Lin & Wei (1989),
:math:`\hat V = D^\top D` with :math:`D` the score residuals :math:`U_i` times :math:`\mathcal I^{-1}`
(R's dfbeta residuals), summed within client — it allows any dependence among a client's rows (recurrent
events, several rows per client). ``std_error`` is the robust SE when ``client=`` is given, otherwise the
model-based one; ``statistic`` (Wald z), ``p_value`` and the intervals use ``std_error``, as R's
``summary(coxph)`` does.

Tests of all coefficients = 0: likelihood ratio :math:`2(\ell(\hat\beta) - \ell(0))`, Wald
:math:`\hat\beta^\top \hat V^{-1}\hat\beta`, score (log-rank) :math:`U(0)^\top\mathcal I(0)^{-1}U(0)` and, with
``client=``, the robust score test with :math:`U(0)` and its clustered variance (R's ``robscore``).

Validation: R ``survival::coxph`` 3.5-3 on ``heart`` (counting process; Efron, Breslow, clustered by id,
strata, an interaction), on ``jasa`` split by ``tmerge`` (Breslow), ``veteran`` (right-censored, factors) and
``mgus2`` (cause-specific); coefficients, SEs, log-likelihoods and the three tests agree to 1e-9 or better
(``tests/survival/fixtures``). Exact ties: ``coxph(ties = "exact")`` on ``veteran`` with times in weeks and
months (up to 41 deaths at one time; strata, a factor) and on ``heart`` (counting process, strata), to ~1e-10
(``make_exact_fixture.R``).

References
----------
Cox, D. R. (1972). Regression models and life-tables. *JRSS B, 34*(2), 187-220.
Andersen, P. K., & Gill, R. D. (1982). Cox's regression model for counting processes. *Ann. Stat., 10*, 1100-1120.
Efron, B. (1977). The efficiency of Cox's likelihood function for censored data. *JASA, 72*(359), 557-565.
Gail, M. H., Lubin, J. H., & Rubinstein, L. V. (1981). Likelihood calculations for matched case-control studies
and survival studies with tied death times. *Biometrika, 68*(3), 703-707.
Kalbfleisch, J. D., & Prentice, R. L. (1973). Marginal likelihoods based on Cox's regression and life model.
*Biometrika, 60*(2), 267-278.
Lin, D. Y., & Wei, L. J. (1989). The robust inference for the Cox proportional hazards model. *JASA, 84*(408),
1074-1078.
Therneau, T. M., & Grambsch, P. M. (2000). *Modeling survival data: Extending the Cox model*. Springer.

Example
-------
Time to relapse on the current alliance (counting-process rows, one per session interval):

>>> import numpy as np, pandas as pd
>>> rng = np.random.default_rng(4)
>>> rows = []
>>> for c in range(150):
...     a = rng.normal(4, 0.6)
...     for s in range(12):
...         cur = a + rng.normal(0, 0.3)
...         event = rng.random() < 0.08 * np.exp(-0.9 * (cur - 4))
...         rows.append((c, s, s + 1, int(event), cur))
...         if event:
...             break
>>> intervals = pd.DataFrame(rows, columns=["client", "start", "stop", "relapse", "alliance"])
>>> fit = fit_cox(intervals, "Surv(start, stop, relapse) ~ alliance", client="client")
>>> fit.params[["term", "estimate", "std_error", "std_error_model"]].round(3)
       term  estimate  std_error  std_error_model
0  alliance     -0.84      0.149            0.151
>>> fit.n_obs, fit.n_events, fit.n_clients
(1108, 97, 150)
"""
from __future__ import annotations

import time
import warnings
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy import stats

from ..data.checks import check_choice, check_conf_level, table_and_text
from ..errors import ConvergenceWarning, IdentificationError, OptionError
from ..results import Convergence, Provenance, ResultDisplay, make_provenance
from .exact_ties import MANY_TIES, ExactRiskSets
from .risk_sets import RiskSets
from .surv_data import SurvData, prepare_surv_data
from .surv_formula import SurvSpec, parse_surv_formula

PARAM_COLUMNS = ["term", "estimate", "std_error", "statistic", "p_value", "ci_lower", "ci_upper",
                 "std_error_model", "hazard_ratio", "hazard_ratio_ci_lower", "hazard_ratio_ci_upper"]
TEST_COLUMNS = ["test", "statistic", "df", "p_value"]


@dataclass(frozen=True)
class CoxFitData:
    """What a fitted Cox model keeps of its data for curves, residuals and diagnostics (not public API)."""

    spec: SurvSpec
    data: SurvData
    means: np.ndarray
    risk_sets: RiskSets
    vcov_model: np.ndarray


@dataclass(frozen=True, repr=False)
class CoxResult(ResultDisplay):
    """A fitted Cox model (:func:`fit_cox`).

    ``params``: ``term, estimate`` (log hazard ratio), ``std_error`` (robust with ``client=``, else model-based),
    ``statistic`` (Wald z), ``p_value, ci_lower, ci_upper`` (Wald, at ``conf_level``), ``std_error_model``,
    ``hazard_ratio`` and its interval. ``vcov`` / ``vcov_model``: the variance matrices (DataFrames).
    ``loglik`` and ``loglik_null`` (β = 0); ``tests``: likelihood-ratio, Wald, score and (with ``client=``)
    robust score tests. ``n_obs``: rows (intervals) used; ``n_events``; ``n_clients``: clusters (or ``None``).
    Methods: :meth:`summary`, :meth:`baseline_hazard`, :meth:`predict_survival`, :meth:`cox_zph`,
    :meth:`residuals`.
    """

    formula: str
    params: pd.DataFrame
    vcov: pd.DataFrame
    vcov_model: pd.DataFrame
    loglik: float
    loglik_null: float
    tests: pd.DataFrame
    ties: str
    robust: bool
    strata: tuple
    n_obs: int
    n_events: int
    n_clients: int | None
    conf_level: float
    convergence: Convergence
    provenance: Provenance
    fit_data: CoxFitData = field(repr=False, compare=False)

    @property
    def coefficients(self) -> pd.Series:
        """Estimates (log hazard ratios) indexed by term."""
        return self.params.set_index("term")["estimate"]

    def __repr__(self) -> str:
        return (f"CoxResult({self.formula!r}, ties={self.ties!r}, n_obs={self.n_obs}, n_events={self.n_events}, "
                f"loglik={self.loglik:.4f}{', robust' if self.robust else ''}"
                f"{'' if self.converged else ', NOT converged'})")

    def summary(self) -> str:
        """Coefficients, hazard ratios with intervals, and the global tests, laid out like R's ``summary(coxph)``."""
        se = "robust SE (Lin-Wei, by client)" if self.robust else "model-based SE"
        head = [f"Cox proportional hazards: {self.formula}",
                f"ties: {self.ties}; n = {self.n_obs} rows, {self.n_events} events"
                + (f", {self.n_clients} clients" if self.n_clients is not None else "")
                + (f"; strata: {', '.join(map(str, self.strata))}" if self.strata else ""),
                f"z, p and {self.conf_level:.0%} intervals use the {se}"]
        cols = ["term", "estimate", "hazard_ratio", "std_error_model"] + (["std_error"] if self.robust else []) \
            + ["statistic", "p_value"]
        tab = self.params[cols].rename(columns={"estimate": "coef", "hazard_ratio": "exp(coef)",
                                                "std_error_model": "se(coef)", "std_error": "robust se",
                                                "statistic": "z", "p_value": "p"})
        ci = self.params[["term", "hazard_ratio", "hazard_ratio_ci_lower", "hazard_ratio_ci_upper"]].rename(
            columns={"hazard_ratio_ci_lower": "lower", "hazard_ratio_ci_upper": "upper"})
        fmt = {"float_format": lambda v: f"{v:.5g}", "index": False}
        tests = "\n".join(f"{r.test:<22} {r.statistic:10.4f} on {int(r.df)} df, p = {_p(r.p_value)}"
                          for r in self.tests.itertuples())
        conv = "" if self.converged else f"\nWARNING: not converged ({self.convergence.message})"
        return ("\n".join(head) + "\n\n" + tab.to_string(**fmt) + "\n\n" + ci.to_string(**fmt)
                + f"\n\nlog-likelihood: {self.loglik_null:.4f} (null) -> {self.loglik:.4f}\n" + tests + conv)

    def baseline_hazard(self, centered: bool = True) -> pd.DataFrame:
        """Cumulative baseline hazard at every observed stop time, as R's ``basehaz``.

        Parameters
        ----------
        centered : bool
            At the covariate means (R's default) or at covariates = 0.

        Returns
        -------
        pandas.DataFrame
            ``time, cumulative_hazard`` (+ ``stratum`` with strata).

        Examples
        --------
        >>> import numpy as np, pandas as pd
        >>> d = pd.DataFrame({"time": [1, 2, 3, 4, 5], "event": [1, 1, 0, 1, 1], "x": [0.5, 0., 1., 0., 1.]})
        >>> fit_cox(d, "Surv(time, event) ~ x").baseline_hazard().round(3)
           time  cumulative_hazard
        0   1.0              0.151
        1   2.0              0.329
        2   3.0              0.329
        3   4.0              0.685
        4   5.0              3.075
        """
        from .curves import baseline_hazard

        return baseline_hazard(self, centered=centered)

    def predict_survival(self, newdata: pd.DataFrame, *, client: str | None = None,
                         conf_level: float | None = None) -> pd.DataFrame:
        """Predicted survival curves for new covariate values or covariate paths, as R's ``survfit(fit, newdata)``.

        See :func:`allianceStats.survival.curves.predict_survival`.

        Parameters
        ----------
        newdata : pandas.DataFrame
            One row per curve (fixed covariates), or, with ``client=``, counting-process rows
            (start, stop, covariates) describing each client's covariate path.
        client : str, optional
            Column identifying the paths (R's ``id=``).
        conf_level : float, optional
            Level of the pointwise intervals (default: the fit's ``conf_level``).

        Returns
        -------
        pandas.DataFrame
            ``curve, time, n_risk, n_events, n_censor, cumulative_hazard, survival, std_error, ci_lower, ci_upper``.

        Examples
        --------
        >>> import pandas as pd
        >>> d = pd.DataFrame({"time": [1, 2, 3, 4, 5], "event": [1, 1, 0, 1, 1], "x": [0.5, 0., 1., 0., 1.]})
        >>> fit = fit_cox(d, "Surv(time, event) ~ x")
        >>> fit.predict_survival(pd.DataFrame({"x": [0.0]}))[["time", "survival"]].round(3).head(2)
           time  survival
        0   1.0     0.697
        1   2.0     0.455
        """
        from .curves import predict_survival

        return predict_survival(self, newdata, client=client,
                                conf_level=self.conf_level if conf_level is None else conf_level)

    def cox_zph(self, transform: str = "km"):
        """Test of proportional hazards and scaled Schoenfeld residuals, as R's ``cox.zph``.

        See :func:`allianceStats.survival.zph.cox_zph`.

        Parameters
        ----------
        transform : {"km", "rank", "identity", "log"}
            Function of time the residuals are tested against.

        Returns
        -------
        ZphResult

        Examples
        --------
        >>> import pandas as pd
        >>> d = pd.DataFrame({"time": [1, 2, 3, 4, 5, 6], "event": [1, 1, 0, 1, 1, 1],
        ...                   "x": [0.5, 0., 1., 0., 1., .2]})
        >>> fit_cox(d, "Surv(time, event) ~ x").cox_zph().table.columns.tolist()
        ['term', 'chisq', 'df', 'p_value']
        """
        from .zph import cox_zph

        if self.ties == "exact":
            raise OptionError("cox_zph is not available after ties='exact' (its Schoenfeld residuals are not defined "
                              "for the exact likelihood; R's cox.zph substitutes another computation, which this "
                              "toolkit has not validated): refit with ties='efron' to test proportional hazards")
        return cox_zph(self, transform=transform)

    def residuals(self, kind: str = "score") -> pd.DataFrame:
        """Score, dfbeta or Schoenfeld residuals, as R's ``residuals(fit, type = ...)``.

        ``"score"``: :math:`U_i` per row; ``"dfbeta"``: :math:`U_i\\mathcal I^{-1}` per row (approximate change
        in β when the row is left out); with ``client=``, ``"dfbeta"`` is summed per client (R's ``collapse``);
        ``"schoenfeld"``: one row per event, :math:`x_i - \\bar x(t_i)` (Efron-averaged with ties).
        Not available after ``ties="exact"`` (an ``OptionError``, as R refuses).

        Parameters
        ----------
        kind : {"score", "dfbeta", "schoenfeld"}
            Which residuals.

        Returns
        -------
        pandas.DataFrame
            One column per coefficient (plus ``client`` for collapsed dfbeta, ``time`` for Schoenfeld).

        Examples
        --------
        >>> import pandas as pd
        >>> d = pd.DataFrame({"time": [1, 2, 3, 4, 5], "event": [1, 1, 0, 1, 1], "x": [0.5, 0., 1., 0., 1.]})
        >>> abs(float(fit_cox(d, "Surv(time, event) ~ x").residuals("score")["x"].sum())) < 1e-10  # = score at the MLE
        True
        """
        check_choice("kind", kind, ("score", "dfbeta", "schoenfeld"))
        if self.ties == "exact":
            raise OptionError(f"{kind} residuals are not available for the exact method (ties='exact'), as in R's "
                              f"residuals.coxph: the exact likelihood has no per-row score; refit with ties='efron'")
        fd = self.fit_data
        X = fd.data.design.X - fd.means
        beta = self.params["estimate"].to_numpy()
        terms = self.params["term"].tolist()
        if kind == "schoenfeld":
            res = fd.risk_sets.schoenfeld(X, beta)
            out = pd.DataFrame(res, columns=terms)
            out.insert(0, "time", fd.data.stop[fd.risk_sets.dead])
            return out.sort_values("time", kind="mergesort").reset_index(drop=True)
        res = fd.risk_sets.score_residuals(X, beta)
        if kind == "dfbeta":
            res = res @ fd.vcov_model
            if fd.data.cluster is not None:
                summed = np.zeros((len(fd.data.cluster_labels), res.shape[1]))
                np.add.at(summed, fd.data.cluster, res)
                out = pd.DataFrame(summed, columns=terms)
                out.insert(0, "client", fd.data.cluster_labels)
                return out
        return pd.DataFrame(res, columns=terms)


def _p(p: float) -> str:
    return "< 2e-16" if p < 2e-16 else f"{p:.3g}"


def newton_raphson(rs: RiskSets, X: np.ndarray, *, max_iter: int = 50, eps: float = 1e-11):
    """Maximise the log partial likelihood from β = 0: Newton-Raphson with step halving (as R's agfit4).

    Returns ``(beta, loglik, score, information, loglik_null, score_null, info_null, iterations, converged,
    message)``.
    """
    p = X.shape[1]
    beta = np.zeros(p)
    ll, u, info = rs.loglik(X, beta)
    ll0, u0, info0 = ll, u, info
    message = ""
    it = 0
    for it in range(1, max_iter + 1):
        try:
            step = np.linalg.solve(info, u)
        except np.linalg.LinAlgError:
            return beta, ll, u, info, ll0, u0, info0, it, False, "information matrix singular"
        new = beta + step
        ll_new, u_new, info_new = rs.loglik(X, new)
        halvings = 0
        while not (np.isfinite(ll_new) and ll_new >= ll - 1e-12 * abs(ll)) and halvings < 30:
            new = (new + beta) / 2
            ll_new, u_new, info_new = rs.loglik(X, new)
            halvings += 1
        change = abs(ll_new - ll) / max(abs(ll_new), 1e-300)
        beta, ll, u, info = new, ll_new, u_new, info_new
        if change < eps:
            break
    ok, message = _at_optimum(info, u, beta)
    return beta, ll, u, info, ll0, u0, info0, it, ok, message


def _at_optimum(info: np.ndarray, score: np.ndarray, beta: np.ndarray) -> tuple[bool, str]:
    """The optimum, not only the flag: information positive definite and one more Newton step below 1e-8
    (relative). A diverging coefficient (monotone likelihood) keeps a large step with vanishing curvature."""
    if not np.all(np.isfinite(beta)):
        return False, "non-finite estimates"
    eig = np.linalg.eigvalsh((info + info.T) / 2)
    if eig.min() <= 1e-10 * max(1.0, eig.max()):
        return False, f"information matrix (near) singular: smallest eigenvalue {eig.min():.3g}"
    step = np.linalg.solve(info, score)
    size = float(np.max(np.abs(step) / (1.0 + np.abs(beta)))) if len(beta) else 0.0
    if size > 1e-8:
        return False, (f"one more Newton step would change an estimate by {size:.3g} (relative): the likelihood "
                       f"keeps rising, e.g. a covariate separates events from non-events (monotone likelihood)")
    return True, f"Newton step at the estimate {size:.2e} (relative), max |score| {np.max(np.abs(score)):.2e}"


def _check_rank(X: np.ndarray, names: list[str]) -> None:
    if X.shape[1] == 0:
        return
    q, r = np.linalg.qr(X)
    d = np.abs(np.diag(r))
    tol = 1e-9 * max(d.max(), 1.0)
    bad = [names[i] for i in np.flatnonzero(d < tol)]
    const = [names[i] for i in range(X.shape[1]) if np.ptp(X[:, i]) == 0]
    if const:
        raise IdentificationError(f"covariate column(s) {const} are constant in the data; a Cox model has no "
                                  f"intercept, so a constant has no effect to estimate — drop it")
    if bad:
        raise IdentificationError(f"covariate column(s) {bad} are linear combinations of the others (collinear); "
                                  f"R would report NA for them — drop or recode them")


def _wald_table(terms, est, se, se_model, conf_level: float) -> pd.DataFrame:
    q = stats.norm.ppf(0.5 + conf_level / 2)
    z = est / se
    lo, hi = est - q * se, est + q * se
    with np.errstate(over="ignore"):
        hr = {"hazard_ratio": np.exp(est), "hazard_ratio_ci_lower": np.exp(lo), "hazard_ratio_ci_upper": np.exp(hi)}
    return pd.DataFrame({"term": list(terms), "estimate": est, "std_error": se, "statistic": z,
                         "p_value": 2 * stats.norm.sf(np.abs(z)), "ci_lower": lo, "ci_upper": hi,
                         "std_error_model": se_model, **hr}, columns=PARAM_COLUMNS)


def _quadratic_test(vec: np.ndarray, mat: np.ndarray) -> float:
    return float(vec @ np.linalg.solve(mat, vec))


def fit_cox(data: pd.DataFrame, formula: str, *, ties: str = "efron", client: str | None = None,
            conf_level: float = 0.95) -> CoxResult:
    """Fit a Cox proportional hazards model, with time-varying covariates, strata and robust SEs, as R's ``coxph``.

    The model, estimation, variance and tests are described in the module docstring
    (:mod:`allianceStats.survival.cox`); R's formula syntax in :mod:`allianceStats.survival.surv_formula`.

    Parameters
    ----------
    data : pandas.DataFrame
        One row per client (``Surv(time, event)``) or per counting-process interval (``Surv(start, stop,
        event)``, e.g. from :func:`~allianceStats.survival.survival_intervals`). Never modified.
    formula : str
        ``"Surv(start, stop, relapse) ~ alliance + alliance_lag1 + strata(site)"``. R's order
        ``fit_cox(formula, data)`` (as ``coxph(formula, data)``) is accepted too.
    ties : {"efron", "breslow", "exact"}
        Handling of tied event times (R's default is Efron). ``"exact"``: the exact (discrete, conditional
        logistic) partial likelihood of Kalbfleisch & Prentice (1973), by the recursion of Gail, Lubin &
        Rubinstein (1981) (:mod:`allianceStats.survival.exact_ties`), as ``coxph(..., ties = "exact")`` — for
        right-censored and counting-process data, with strata; no ``client=`` (R refuses robust SEs for it too);
        ``residuals()`` and ``cox_zph()`` are refused; curves use Breslow's hazard at its β, as ``survfit``. It
        costs rows at risk × tied events per tied time and Newton step; with more than 100 events at one time a
        warning gives the cost.
    client : str, optional
        Client (cluster) column: robust Lin–Wei SEs summed within client become ``std_error`` (R's
        ``cluster = client``; ``cluster(id)`` in the formula does the same).
    conf_level : float
        Level of the Wald intervals.

    Returns
    -------
    CoxResult
        Estimates, robust and model-based SEs, hazard ratios, log-likelihoods, global tests; baseline hazard,
        predicted survival and ``cox_zph`` as methods.

    Raises
    ------
    FormulaError
        The formula is not R's survival syntax (or uses what is not supported).
    SchemaError
        Missing columns, stop <= start, an event not coded 0/1, missing covariates, overlapping intervals of a
        client — every problem listed with its rows and clients.
    IdentificationError
        No events, or constant or collinear covariates.
    OptionError
        ``ties`` or ``conf_level`` outside their choices; ``ties="exact"`` with ``client=`` (or ``cluster()``).

    Examples
    --------
    >>> import pandas as pd
    >>> d = pd.DataFrame({"time": [5, 8, 12, 3, 9, 14, 6, 11, 7, 10], "event": [1, 1, 0, 1, 0, 1, 1, 0, 1, 1],
    ...                   "alliance": [3.1, 4.5, 4.6, 2.8, 3.9, 3.4, 3.0, 4.8, 4.2, 3.6]})
    >>> fit = fit_cox(d, "Surv(time, event) ~ alliance")
    >>> fit.params[["term", "estimate", "std_error", "hazard_ratio"]].round(3)
           term  estimate  std_error  hazard_ratio
    0  alliance     -1.62      0.907         0.198

    Relapse recorded in weeks, so several clients relapse in the same week: the exact partial likelihood
    (R: ``coxph(Surv(week, relapse) ~ alliance, data, ties = "exact")``):

    >>> w = pd.DataFrame({"week": [2, 2, 2, 3, 3, 4, 4, 4, 5, 6], "relapse": [1, 1, 0, 1, 1, 1, 1, 0, 1, 0],
    ...                   "alliance": [3.1, 3.9, 4.6, 2.8, 3.9, 3.4, 3.0, 4.8, 4.2, 3.6]})
    >>> exact = fit_cox(w, "Surv(week, relapse) ~ alliance", ties="exact")
    >>> exact
    CoxResult('Surv(week, relapse) ~ alliance', ties='exact', n_obs=10, n_events=7, loglik=-8.8230)
    >>> exact.params[["term", "estimate", "std_error"]].round(3)
           term  estimate  std_error
    0  alliance    -1.086      0.821
    """
    started = time.perf_counter()
    data, formula = table_and_text(data, formula, where="fit_cox")
    check_choice("ties", ties, ("efron", "breslow", "exact"))
    conf_level = check_conf_level(conf_level)
    spec = parse_surv_formula(formula)
    if client is not None and spec.cluster is not None and client != spec.cluster:
        raise OptionError(f"client={client!r} and cluster({spec.cluster}) in the formula name different columns; "
                          f"give one")
    cluster_col = client or spec.cluster
    if ties == "exact" and cluster_col is not None:
        raise OptionError(f"robust SEs (client={cluster_col!r}) are not available with ties='exact': they need the "
                          f"score (dfbeta) residuals, which the exact likelihood does not define; R's coxph refuses "
                          f"too ('dfbeta residuals are not available for the exact method'). Use ties='efron' "
                          f"(or 'breslow') with client=, or drop client= for model-based SEs")
    sd = prepare_surv_data(data, spec, where="fit_cox", client=cluster_col)
    names = sd.design.columns
    if sd.event.sum() == 0:
        raise IdentificationError(f"no events in column {spec.event!r}"
                                  + (f" (== {spec.event_value!r})" if spec.event_value is not None else "")
                                  + "; a Cox model needs at least one")
    means = centering(sd.design.X)
    X = sd.design.X - means
    _check_rank(X, names)
    if ties == "exact":
        rs = ExactRiskSets(sd.start, sd.stop, sd.event, sd.strata)
        if rs.max_tied > MANY_TIES:
            warnings.warn(f"ties='exact': {rs.max_tied} events share one time; the exact likelihood costs about "
                          f"{rs.cost:,} row-levels (x {1 + len(names) + len(names) ** 2} terms) per Newton step over "
                          f"the times with ties (rows at risk times tied events); ties='efron' approximates it at the "
                          f"cost of one pass", UserWarning, stacklevel=2)
    else:
        rs = RiskSets(sd.start, sd.stop, sd.event, sd.strata, ties=ties)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        beta, ll, u, info, ll0, u0, info0, iters, ok, message = newton_raphson(rs, X)
    try:
        vmodel = np.linalg.inv(info)
    except np.linalg.LinAlgError:
        vmodel = np.full_like(info, np.nan)
    robust = cluster_col is not None
    if robust:
        resid = rs.score_residuals(X, beta)
        D = _collapse(resid @ vmodel, sd.cluster, len(sd.cluster_labels))
        vcov = D.T @ D
    else:
        vcov = vmodel
    with np.errstate(invalid="ignore"):  # a diverging fit (reported as not converged) can give negative variances
        se = np.sqrt(np.diag(vcov))
        se_model = np.sqrt(np.diag(vmodel))
    params = _wald_table(names, beta, se, se_model, conf_level)
    p = len(names)
    tests = [("likelihood ratio", 2 * (ll - ll0), p), ("Wald", _quadratic_test(beta, vcov), p),
             ("score (log-rank)", _quadratic_test(u0, info0), p)]
    if robust:
        r0 = _collapse(rs.score_residuals(X, np.zeros(p)), sd.cluster, len(sd.cluster_labels))
        tests.append(("robust score", _quadratic_test(r0.sum(axis=0), r0.T @ r0), p))
    tests_df = pd.DataFrame([(t, s, d, float(stats.chi2.sf(s, d))) for t, s, d in tests], columns=TEST_COLUMNS)
    conv = Convergence(converged=ok, iterations=iters, optimizer="Newton-Raphson with step halving",
                       message=message, warnings=tuple(str(w.message) for w in caught))
    if not ok:
        warnings.warn(f"fit_cox did not converge: {message}; the estimates are unreliable", ConvergenceWarning,
                      stacklevel=2)
    options = {"formula": formula, "ties": ties, "client": cluster_col, "conf_level": conf_level}
    prov = make_provenance(data[spec.columns + ([cluster_col] if cluster_col and cluster_col not in spec.columns
                                                 else [])],
                           options=options, function="fit_cox", started=started)
    vc = pd.DataFrame(vcov, index=names, columns=names)
    vm = pd.DataFrame(vmodel, index=names, columns=names)
    return CoxResult(formula=formula, params=params, vcov=vc, vcov_model=vm, loglik=float(ll),
                     loglik_null=float(ll0), tests=tests_df, ties=ties, robust=robust, strata=tuple(sd.strata_labels),
                     n_obs=int(len(data)), n_events=int(sd.event.sum()),
                     n_clients=len(sd.cluster_labels) if sd.cluster_labels is not None else None,
                     conf_level=conf_level, convergence=conv, provenance=prov,
                     fit_data=CoxFitData(spec=spec, data=sd, means=means, vcov_model=vmodel,
                                         # curves after an exact fit: Breslow's hazard at its beta, as survfit
                                         risk_sets=rs.breslow if ties == "exact" else rs))


def centering(X: np.ndarray) -> np.ndarray:
    """Column means, with 0 for columns whose values are all in {-1, 0, 1} (R's ``nocenter``): the reference of
    ``baseline_hazard(centered=True)`` is then the mean of continuous covariates and the 0 level of indicators."""
    means = X.mean(axis=0) if len(X) else np.zeros(X.shape[1])
    nocenter = np.all(np.isin(X, (-1.0, 0.0, 1.0)), axis=0)
    return np.where(nocenter, 0.0, means)


def _collapse(values: np.ndarray, codes: np.ndarray, n: int) -> np.ndarray:
    out = np.zeros((n, values.shape[1]))
    for j in range(values.shape[1]):
        out[:, j] = np.bincount(codes, values[:, j], n)
    return out
