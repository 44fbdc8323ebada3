r"""Joint model of the alliance trajectory and the time to relapse (shared random effects), as JM's ``jointModel``.

Model
-----
Longitudinal submodel (a linear mixed model, lme4 syntax): for client *i* at time *t*,

.. math:: y_i(t) = m_i(t) + \varepsilon_i(t),\qquad m_i(t) = x_i(t)^\top\beta + z_i(t)^\top b_i,\qquad
          b_i \sim N(0, D),\ \varepsilon \sim N(0, \sigma^2).

Event submodel (relative risk on the *current true value*): :math:`h_i(t) = h_0(t)\exp\{w_i^\top\gamma +
\alpha\, m_i(t)\}`, with a piecewise-constant baseline :math:`h_0(t) = \xi_q` on :math:`(\kappa_{q-1}, \kappa_q]`
(``baseline="piecewise"``, JM's ``piecewise-PH-aGH``) or a Weibull baseline :math:`h_0(t) = \xi\, t^{\xi - 1}
e^{\gamma_0}` (``baseline="weibull"``, JM's ``weibull-PH-aGH``: shape ξ estimated as log ξ, printed
``log(shape)``; the log scale γ0 is the event submodel's ``(Intercept)``; ξ = 1 is the exponential model) or a
B-spline baseline :math:`\log h_0(t) = \sum_q \gamma_q B_q(t)` (``baseline="spline"``, JM's ``spline-PH-aGH``:
cubic B-splines, no penalty, coefficients printed ``bs1`` … as JM; the knots are the range of the observed times
and of the integration nodes, repeated four times, and the 1/6, …, 5/6 quantiles of the observed times, events
and censorings alike, as interior knots — JM's ``lng.in.kn = 5``; ``knots=`` overrides these, JM's ``knots``
control; :mod:`allianceStats.survival.bspline`);
``association="slope"`` uses the current slope :math:`\alpha_s m_i'(t)` instead, ``"both"`` both terms (JM's
``parameterization``; Rizopoulos 2012, sec. 5.1) — is the alliance *falling* a risk beyond its level?
The association α is the log hazard ratio per unit of the error-free current value; a Cox model on the last
observed, error-laden value estimates it attenuated towards 0 (regression dilution; Prentice 1982; Tsiatis &
Davidian 2004). Piecewise knots (JM's default): the 1/7, ..., 6/7 quantiles of the observed times plus 1e-6, i.e. seven
intervals (``knots=`` overrides the interior knots); a knot is dropped (with a :class:`DataWarning`) when its
interval would hold no event, whose hazard estimate would be 0 (JM keeps it and its log ξ diverges).

Likelihood (Rizopoulos 2010, 2012): :math:`\ell(\theta) = \sum_i \log \int p(y_i \mid b)\, p(T_i, \delta_i \mid b)\,
p(b)\, db` with :math:`p(T_i, \delta_i \mid b) = h_i(T_i)^{\delta_i}\exp\{-\int_0^{T_i} h_i(s)\,ds\}`. The
cumulative hazard is integrated with the 7-point Gauss–Kronrod (Gauss–Legendre) rule in each baseline interval
(piecewise) or the 15-point Gauss–Kronrod rule on :math:`(0, T_i)` (Weibull, spline), as JM does, and the random
effects with *pseudo-adaptive* Gauss–Hermite quadrature (Rizopoulos 2012, sec. 4.3; JM's
``method = "piecewise-PH-aGH"``): the nodes of client *i* are centred at the empirical Bayes estimates
:math:`\hat b_i` of the separately fitted linear mixed model (REML, as ``lme``) and scaled by
:math:`(Z_i^\top Z_i/\hat\sigma^2 + \hat D^{-1})^{-1/2}`, and stay fixed while θ is estimated; 5 points per
random effect when there are at most 3 random effects and fewer than 2,000 measurements, 3 otherwise (JM's
defaults). With these settings the approximate log-likelihood is JM's, term by term.

Estimation: maximum likelihood over :math:`\theta = (\beta, \log\sigma, \gamma, \alpha, [\alpha_s], \log\xi, L)`
(log ξ: the Q log hazards, the Weibull log shape with γ0 first in γ, or the B-spline coefficients, JM's order;
*L* the Cholesky factor of *D* with log diagonal, as JM's ``chol.transf``) by BFGS with the analytic score,
vectorised over clients × quadrature nodes, then Newton steps on the numerical Hessian of the score (central
differences), whose inverse gives the standard errors (JM: forward differences). Starting values: the LMM, a Cox
model of the survival covariates, α = 0 (Weibull: ξ = 1 and γ0 the log crude event rate; spline: the constant
hazard at the crude rate), then the event parameters at their maximum given the empirical Bayes trajectories.

Validation: JM 1.5-2 on its ``aids`` data (CD4 ~ obstime + obstime:drug, random intercept and slope; drug in the
event submodel), for the value, slope and both associations: the log-likelihood evaluated at JM's estimates with
our nodes equals JM's (1e-8 relative or better) and the analytic score equals the numerical one; JM's optimiser
stops short of the maximum, ours reaches a higher log-likelihood, so estimates agree within JM's convergence
error (value: 0.5 %, SEs 0.2 %; slope models: within half an SE) (``tests/survival/test_joint_reference.py``).
The Weibull baseline against JM's ``weibull-PH-aGH`` on the same data (value and "both" associations;
``tests/survival/test_joint_weibull.py``): the log-likelihood at JM's estimates equals JM's to 1e-9 relative, JM's
Hessian recipe there gives JM's SEs to 1e-5; our optimum is higher (by 0.003 and 0.09) and one Newton step from
JM's estimates reaches it, so the estimates differ by JM's convergence error only (value: 0.07 SE at most, SEs
0.2 %; "both": within half an SE).
The spline baseline against JM's ``spline-PH-aGH`` (value and "both" associations, and the value association with
interior knots 4, 8, 12; ``tests/survival/test_joint_spline.py``): the basis equals ``splines::splineDesign`` to
1e-12 and JM's knots to 1e-13; the log-likelihood at JM's estimates equals JM's to 1e-10 relative and JM's Hessian
recipe there gives JM's SEs to 1e-6. With the default knots JM stops 0.75 (value) and 0.66 ("both") log-likelihood
units short of the maximum: the last B-spline (after 17.4 months, 5 events, none after 19.1) has a coefficient
that keeps falling (JM −6.2, ours −23 with an SE of 18), and our optimiser started at JM's estimates reaches our
optimum; β, γ, α agree within 0.06 SE and their SEs within 1 %. With knots 4, 8, 12 the estimates agree within
0.07 SE and the SEs within 2 %.
A simulation with known truth (:func:`allianceStats.simulate.relapse.relapse_times`) recovers α where the naive
Cox model is attenuated.

Clients with an event row but no complete measurement enter through the event submodel only (their random
effects keep the prior; JM refuses such data). Not implemented: interaction terms in the association (JM's
``interFact``), lagged associations, competing risks and strata in the joint model (JM's spline baseline per
stratum).

References
----------
Rizopoulos, D. (2010). JM: An R package for the joint modelling of longitudinal and time-to-event data. *Journal
of Statistical Software, 35*(9), 1-33.
Rizopoulos, D. (2012). *Joint models for longitudinal and time-to-event data, with applications in R*. Chapman &
Hall/CRC.
Tsiatis, A. A., & Davidian, M. (2004). Joint modeling of longitudinal and time-to-event data: an overview.
*Statistica Sinica, 14*, 809-834.
Prentice, R. L. (1982). Covariate measurement errors and parameter estimation in a failure time regression
model. *Biometrika, 69*(2), 331-342.

Example
-------
>>> from allianceStats.simulate.relapse import relapse_times
>>> sessions, events, truth = relapse_times(300, seed=7)
>>> fit = fit_joint(sessions, "alliance ~ week + (week | client)", events, "Surv(time, relapse) ~ female",
...                 session="week")
>>> row = fit.params.set_index("term").loc["association"]
>>> truth["alpha"], round(float(row["estimate"]), 2), round(float(row["std_error"]), 2), fit.converged
(-1.0, -0.82, 0.17, True)
"""
from __future__ import annotations

import time as _time
import warnings
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy import optimize, stats
from scipy.special import logsumexp

from ..data.checks import check_choice, check_conf_level, check_positive_int, require_columns, require_frame
from ..errors import ConvergenceWarning, DataWarning, FormulaError, IdentificationError, OptionError, SchemaError
from ..results import Convergence, Provenance, ResultDisplay, make_provenance
from ._messages import labels_of
from .bspline import bspline_design, spline_knots
from .surv_data import event_indicator
from .surv_formula import SurvSpec, Term, build_design, parse_surv_formula

PARAM_COLUMNS = ["submodel", "term", "estimate", "std_error", "statistic", "p_value", "ci_lower", "ci_upper"]

# 7-point Gauss-Kronrod nodes (the Gauss-Legendre part of the 15-point rule) and weights, as JM's gaussKronrod(7)
GK7_NODES = np.array([-0.949107912342758524526189684047851, -0.741531185599394439863864773280788,
                      -0.405845151377397166906606412076961, 0.0, 0.405845151377397166906606412076961,
                      0.741531185599394439863864773280788, 0.949107912342758524526189684047851])
GK7_WEIGHTS = np.array([0.129484966168869693270611432679082, 0.279705391489276667901467771423780,
                        0.381830050505118944950369775488975, 0.417959183673469387755102040816327,
                        0.381830050505118944950369775488975, 0.279705391489276667901467771423780,
                        0.129484966168869693270611432679082])
# 15-point Gauss-Kronrod nodes and weights on (-1, 1), as JM's gaussKronrod(15) (JM's Weibull baseline)
GK15_NODES = np.concatenate([GK7_NODES, [-0.991455371120812639206854697526329, -0.864864423359769072789712788640926,
                                         -0.586087235467691130294144838258730, -0.207784955007898467600689403773245,
                                         0.207784955007898467600689403773245, 0.586087235467691130294144838258730,
                                         0.864864423359769072789712788640926, 0.991455371120812639206854697526329]])
GK15_WEIGHTS = np.array([0.063092092629978553290700663189204, 0.140653259715525918745189590510238,
                         0.190350578064785409913256402421014, 0.209482141084727828012999174891714,
                         0.190350578064785409913256402421014, 0.140653259715525918745189590510238,
                         0.063092092629978553290700663189204, 0.022935322010529224963732008058970,
                         0.104790010322250183839876322541518, 0.169004726639267902826583426598550,
                         0.204432940075298892414161999234649, 0.204432940075298892414161999234649,
                         0.169004726639267902826583426598550, 0.104790010322250183839876322541518,
                         0.022935322010529224963732008058970])


# ---------------------------------------------------------------------------------------------------------------
# Building the pieces
# ---------------------------------------------------------------------------------------------------------------
def default_knots(times: np.ndarray, n_intervals: int = 7) -> np.ndarray:
    """JM's interior knots: quantiles 1/Q..(Q-1)/Q of the observed times (R type 7), made unique, plus 1e-6.

    Parameters
    ----------
    times : numpy.ndarray
        Observed (event or censoring) times, one per client.
    n_intervals : int
        Number of baseline intervals Q (JM: ``lng.in.kn + 1`` = 7).

    Returns
    -------
    numpy.ndarray
        Interior knots.

    Examples
    --------
    >>> default_knots(np.arange(1.0, 15.0), 2)
    array([7.500001])
    """
    q = np.unique(np.quantile(times, np.linspace(0, 1, n_intervals + 1)[1:-1])) + 1e-6
    if q.max() > times.max():
        q[np.argmax(q)] = times.max() - 1e-6
    return q


def gauss_hermite(n: int) -> tuple[np.ndarray, np.ndarray]:
    """Gauss–Hermite nodes and weights for the weight :math:`e^{-x^2}` (``numpy.polynomial.hermite.hermgauss``)."""
    return np.polynomial.hermite.hermgauss(n)


def _knots_with_events(inner: np.ndarray, T: np.ndarray, d: np.ndarray, where: str) -> np.ndarray:
    """Drop interior knots until every baseline interval holds an event (an interval without events has the
    hazard MLE 0, log ξ = -inf). JM's quantile knots give such an interval when many clients are censored at the
    end of follow-up: the last knot then sits just below the common censoring time."""
    inner = np.asarray(inner, float)
    while len(inner):
        qs = np.concatenate([[0.0], inner, [np.inf]])
        q_T = np.searchsorted(qs, T, side="right") - 1
        counts = np.bincount(q_T[d > 0], minlength=len(qs) - 1)
        empty = np.flatnonzero(counts == 0)
        if not len(empty):
            break
        k = empty[-1]
        inner = np.delete(inner, k - 1 if k > 0 else 0)  # merge the empty interval with its left neighbour
        warnings.warn(f"{where}: a baseline interval had no events; its knot was removed (knots now "
                      f"{np.round(inner, 4).tolist()})", DataWarning, stacklevel=4)
    return inner


@dataclass
class JointData:
    """Arrays of a joint model: the longitudinal rows, the clients' event data and the quadrature set-up."""

    y: np.ndarray            # (N,) responses
    X: np.ndarray            # (N, p) fixed design of the measurements
    Z: np.ndarray            # (N, q) random design
    id: np.ndarray           # (N,) client index 0..n-1
    W: np.ndarray            # (n, r) survival covariates
    T: np.ndarray            # (n,) observed times
    d: np.ndarray            # (n,) event indicator
    XT: np.ndarray           # (n, p) fixed design at T
    ZT: np.ndarray           # (n, q) random design at T
    Xs: np.ndarray           # (M, p) fixed design at the Gauss-Kronrod nodes
    Zs: np.ndarray           # (M, q)
    XdT: np.ndarray          # (n, p) time derivative of the fixed design at T (slope association)
    ZdT: np.ndarray          # (n, q)
    Xds: np.ndarray          # (M, p) time derivatives at the Gauss-Kronrod nodes
    Zds: np.ndarray          # (M, q)
    id_s: np.ndarray         # (M,) client of each node
    q_s: np.ndarray          # (M,) baseline interval of each node
    wP: np.ndarray           # (M,) Gauss-Kronrod weight x half-width
    q_T: np.ndarray          # (n,) baseline interval of T
    knots: np.ndarray        # interior knots (with JM's 1e-6)
    nodes: np.ndarray        # (n, K, q) random-effect nodes per client
    log_w: np.ndarray        # (n, K) log quadrature weights (incl. the scaling determinant)
    names: dict = field(default_factory=dict)
    st: np.ndarray | None = None   # (M,) times of the Gauss-Kronrod nodes (the Weibull baseline needs them)
    baseline: str = "piecewise"    # "piecewise" (ξ per interval), "weibull" (log ξ = log shape) or "spline"
    B_T: np.ndarray | None = None  # (n, Q) B-spline basis at T (spline baseline: log h0(T) = B_T @ log ξ)
    B_s: np.ndarray | None = None  # (M, Q) B-spline basis at the Gauss-Kronrod nodes


def _fixed_spec(terms: list[tuple[str, ...]]) -> SurvSpec:
    return SurvSpec(text="", start=None, stop="", event="", event_value=None,
                    terms=tuple(Term(t, (False,) * len(t)) for t in terms))


def _design(frame: pd.DataFrame, terms, intercept: bool, levels) -> tuple[np.ndarray, list[str], dict]:
    des = build_design(frame, _fixed_spec(terms), levels) if terms else None
    parts = [np.ones((len(frame), 1))] if intercept else []
    names = ["(Intercept)"] if intercept else []
    if des is not None:
        parts.append(des.X)
        names += des.columns
    X = np.hstack(parts) if parts else np.empty((len(frame), 0))
    return X, names, (des.levels if des is not None else {})


def _at_times(base: pd.DataFrame, rows: np.ndarray, times: np.ndarray, session: str) -> pd.DataFrame:
    out = base.iloc[rows].reset_index(drop=True)
    out[session] = times
    return out


# ---------------------------------------------------------------------------------------------------------------
# Parameters
# ---------------------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Layout:
    """Positions of the parameter blocks in θ = (β, log σ, γ, [α], [α_s], log ξ, L): α for the current value,
    α_s for the current slope (``association`` "value", "slope" or "both"); log ξ is the piecewise baseline's
    log hazards (``n_xi`` of them), for the Weibull baseline the log shape (``n_xi = 1``; its log scale is
    the intercept in γ), for the spline baseline the B-spline coefficients of log h0 (JM's ``gammas.bs``)."""

    p: int
    r: int
    n_xi: int
    q: int
    value: bool = True
    slope: bool = False
    baseline: str = "piecewise"

    @property
    def n_assoc(self) -> int:
        return int(self.value) + int(self.slope)

    @property
    def size(self) -> int:
        return self.p + 1 + self.r + self.n_assoc + self.n_xi + self.q * (self.q + 1) // 2

    @property
    def event_block(self) -> np.ndarray:
        """Indices of γ, the associations and log ξ (the event submodel)."""
        return np.arange(self.p + 1, self.p + 1 + self.r + self.n_assoc + self.n_xi)

    def split(self, theta):
        """``(beta, log_sigma, gamma, alpha, alpha_slope, log_xi, chol)``; an absent association is 0."""
        p, r, Q = self.p, self.r, self.n_xi
        beta = theta[:p]
        log_sigma = theta[p]
        gamma = theta[p + 1:p + 1 + r]
        k = p + 1 + r
        alpha = theta[k] if self.value else 0.0
        alpha_s = theta[k + int(self.value)] if self.slope else 0.0
        k += self.n_assoc
        log_xi = theta[k:k + Q]
        chol = theta[k + Q:]
        return beta, log_sigma, gamma, alpha, alpha_s, log_xi, chol


def chol_to_D(par: np.ndarray, q: int) -> tuple[np.ndarray, np.ndarray]:
    """D = U'U from the upper-triangular U whose diagonal is stored on the log scale (JM's ``chol.transf``)."""
    U = np.zeros((q, q))
    U[np.triu_indices(q)] = par
    U[np.diag_indices(q)] = np.exp(U[np.diag_indices(q)])
    return U.T @ U, U


def D_to_chol(D: np.ndarray) -> np.ndarray:
    """Inverse of :func:`chol_to_D`."""
    U = np.linalg.cholesky(D).T
    U[np.diag_indices(len(D))] = np.log(np.diag(U))
    return U[np.triu_indices(len(D))]


# ---------------------------------------------------------------------------------------------------------------
# Log-likelihood and score
# ---------------------------------------------------------------------------------------------------------------
class JointLikelihood:
    """JM's piecewise-PH pseudo-adaptive GH log-likelihood and its analytic score (module docstring)."""

    def __init__(self, jd: JointData, layout: Layout):
        self.jd = jd
        self.lay = layout
        n, K, q = jd.nodes.shape
        self.n, self.K, self.q = n, K, q
        # Z b for every measurement / node and quadrature point (nodes fixed: computed once)
        self.Zb = np.einsum("jc,jkc->jk", jd.Z, jd.nodes[jd.id])            # (N, K)
        self.ZTb = np.einsum("ic,ikc->ik", jd.ZT, jd.nodes)                  # (n, K)
        self.Zsb = np.einsum("lc,lkc->lk", jd.Zs, jd.nodes[jd.id_s])        # (M, K)
        self.slope = layout.slope
        if self.slope:
            self.ZdTb = np.einsum("ic,ikc->ik", jd.ZdT, jd.nodes)
            self.Zdsb = np.einsum("lc,lkc->lk", jd.Zds, jd.nodes[jd.id_s])
        self.bb = jd.nodes[:, :, :, None] * jd.nodes[:, :, None, :]          # (n, K, q, q)
        self.N = len(jd.y)
        # per-client sums as sparse indicator products (fast; a client may have no measurement)
        from scipy import sparse

        self.sum_y = sparse.csr_matrix((np.ones(len(jd.id)), (jd.id, np.arange(len(jd.id)))), shape=(n, len(jd.id)))
        self.sum_s = sparse.csr_matrix((np.ones(len(jd.id_s)), (jd.id_s, np.arange(len(jd.id_s)))),
                                       shape=(n, len(jd.id_s)))
        self.n_y = np.bincount(jd.id, minlength=n)
        self.weibull = jd.baseline == "weibull"
        self.spline = jd.baseline == "spline"
        if self.weibull:
            self.log_T = np.log(jd.T)
            self.log_st = np.log(jd.st)

    def _by_client_y(self, values):
        return self.sum_y @ values

    def _by_client_s(self, values):
        return self.sum_s @ values

    def _parts(self, theta):
        jd, lay = self.jd, self.lay
        beta, log_sigma, gamma, alpha, alpha_s, log_xi, chol = lay.split(theta)
        sigma = np.exp(log_sigma)
        D, _ = chol_to_D(chol, self.q)
        e = jd.y - jd.X @ beta
        res = e[:, None] - self.Zb                                            # (N, K)
        ss = self._by_client_y(res * res)
        ll_y = -0.5 * ss / sigma**2 - self.n_y[:, None] * (np.log(sigma) + 0.5 * np.log(2 * np.pi))
        mT = (jd.XT @ beta)[:, None] + self.ZTb                              # (n, K)
        ms = (jd.Xs @ beta)[:, None] + self.Zsb                              # (M, K)
        eta_T, eta_s = alpha * mT, alpha * ms
        mdT = mds = None
        if self.slope:
            mdT = (jd.XdT @ beta)[:, None] + self.ZdTb                       # current slope at T
            mds = (jd.Xds @ beta)[:, None] + self.Zdsb
            eta_T, eta_s = eta_T + alpha_s * mdT, eta_s + alpha_s * mds
        xi = np.exp(log_xi)
        if self.weibull:   # h0(t) = ξ t^(ξ-1), log ξ = log shape (JM's weibull-PH: sigma.t)
            log_h0T = log_xi[0] + (xi[0] - 1) * self.log_T
            h0s = np.exp(log_xi[0] + (xi[0] - 1) * self.log_st)
        elif self.spline:  # log h0(t) = sum_q γ_q B_q(t) (JM's spline-PH: gammas.bs)
            log_h0T = jd.B_T @ log_xi
            h0s = np.exp(jd.B_s @ log_xi)
        else:              # h0(t) = ξ_q on the q-th interval
            log_h0T = log_xi[jd.q_T]
            h0s = xi[jd.q_s]
        ew = np.exp(jd.W @ gamma) if jd.W.shape[1] else np.ones(self.n)
        contrib = (h0s * jd.wP)[:, None] * np.exp(eta_s)                      # (M, K)
        cumhaz = self._by_client_s(contrib) * ew[:, None]
        lw = jd.W @ gamma if jd.W.shape[1] else np.zeros(self.n)
        ll_t = jd.d[:, None] * ((log_h0T + lw)[:, None] + eta_T) - cumhaz
        Dinv = np.linalg.inv(D)
        quad = np.einsum("ikc,cd,ikd->ik", jd.nodes, Dinv, jd.nodes)
        ll_b = -0.5 * quad - 0.5 * np.linalg.slogdet(D)[1] - 0.5 * self.q * np.log(2 * np.pi)
        total = ll_y + ll_t + ll_b + jd.log_w
        return dict(beta=beta, sigma=sigma, gamma=gamma, alpha=alpha, alpha_s=alpha_s, xi=xi, D=D, Dinv=Dinv,
                    chol=chol, e=e, res=res, ss=ss, mT=mT, ms=ms, mdT=mdT, mds=mds, contrib=contrib, ew=ew,
                    cumhaz=cumhaz, total=total)

    def loglik(self, theta) -> float:
        """The approximate marginal log-likelihood at θ."""
        with np.errstate(over="ignore", invalid="ignore"):
            total = self._parts(theta)["total"]
        out = float(np.sum(logsumexp(total, axis=1)))
        return out if np.isfinite(out) else -np.inf

    def loglik_and_score(self, theta) -> tuple[float, np.ndarray]:
        """Log-likelihood and its gradient in θ (analytic: posterior expectations of the complete-data score)."""
        jd, lay = self.jd, self.lay
        with np.errstate(over="ignore", invalid="ignore"):
            P = self._parts(theta)
        lse = logsumexp(P["total"], axis=1)
        ll = float(lse.sum())
        if not np.isfinite(ll):
            return -np.inf, np.full(lay.size, np.nan)
        post = np.exp(P["total"] - lse[:, None])                             # (n, K) posterior weights
        sigma, alpha, alpha_s, ew = P["sigma"], P["alpha"], P["alpha_s"], P["ew"]
        post_s = post[jd.id_s]                                               # (M, K)
        E_exp = (P["contrib"] * post_s)                                      # xi wP exp(alpha m) * pi
        # beta
        res_bar = (P["res"] * post[jd.id]).sum(axis=1)                        # E[e - Zb] per measurement
        g_beta = jd.X.T @ res_bar / sigma**2
        s_beta = (E_exp.sum(axis=1) * ew[jd.id_s])                           # (M,)
        g_beta += alpha * (jd.d @ jd.XT) - alpha * (jd.Xs.T @ s_beta)
        if self.slope:
            g_beta += alpha_s * (jd.d @ jd.XdT) - alpha_s * (jd.Xds.T @ s_beta)
        # log sigma
        g_lsig = float((post * P["ss"]).sum() / sigma**2 - self.N)
        # gamma
        S = (P["cumhaz"] * post).sum(axis=1)                                 # E[cumulative hazard]
        g_gamma = jd.W.T @ (jd.d - S) if jd.W.shape[1] else np.zeros(0)
        # associations: value and slope
        g_assoc = []
        for on, mT, ms in ((lay.value, P["mT"], P["ms"]), (lay.slope, P["mdT"], P["mds"])):
            if on:
                g_assoc.append(float(np.sum(jd.d * (post * mT).sum(axis=1))
                                     - np.sum(ew[jd.id_s] * (E_exp * ms).sum(axis=1))))
        # log xi (piecewise: one per interval; Weibull: log shape, d log h0(t) / d log ξ = 1 + ξ log t)
        if self.weibull:
            shape = P["xi"][0]
            g_lxi = np.array([float(jd.d @ (1 + shape * self.log_T)
                                    - (ew[jd.id_s] * E_exp.sum(axis=1)) @ (1 + shape * self.log_st))])
        elif self.spline:  # d log h0(t) / d γ_q = B_q(t)
            g_lxi = jd.B_T.T @ jd.d - jd.B_s.T @ (ew[jd.id_s] * E_exp.sum(axis=1))
        else:
            g_lxi = np.bincount(jd.q_T, weights=jd.d, minlength=lay.n_xi) \
                - np.bincount(jd.q_s, weights=ew[jd.id_s] * E_exp.sum(axis=1), minlength=lay.n_xi)
        # D through its log-Cholesky parameters
        Ebb = np.einsum("ik,ikcd->cd", post, self.bb)                         # sum_i E[b b']
        Dinv = P["Dinv"]
        G = -0.5 * self.n * Dinv + 0.5 * Dinv @ Ebb @ Dinv                    # d ll / d D (symmetric)
        _, U = chol_to_D(P["chol"], self.q)
        iu = np.triu_indices(self.q)
        g_chol = np.zeros(len(iu[0]))
        for m, (a, c) in enumerate(zip(*iu)):
            dU = np.zeros((self.q, self.q))
            dU[a, c] = U[a, c] if a == c else 1.0
            dD = dU.T @ U + U.T @ dU
            g_chol[m] = np.sum(G * dD)
        grad = np.concatenate([g_beta, [g_lsig], g_gamma, g_assoc, g_lxi, g_chol])
        return ll, grad


# ---------------------------------------------------------------------------------------------------------------
# Result
# ---------------------------------------------------------------------------------------------------------------
@dataclass(frozen=True, repr=False)
class JointResult(ResultDisplay):
    """A fitted joint model (:func:`fit_joint`).

    ``params``: ``submodel`` (``"longitudinal"`` or ``"event"``), ``term``, ``estimate, std_error, statistic,
    p_value, ci_lower, ci_upper`` (Wald, at ``conf_level``); the event rows are the survival covariates,
    ``association`` (α, the log hazard ratio per unit of the current true value) and/or ``association_slope``
    (α_s, per unit of its current slope), and the log baseline hazards
    ``log(xi.1)`` … (as JM prints them) or, with ``baseline == "weibull"``, ``(Intercept)`` (first; the log scale
    γ0) and ``log(shape)`` (last) or, with ``baseline == "spline"``, the B-spline coefficients of log h0
    ``bs1`` … (last, as JM). ``varcomp``: lme4's layout (``group, var1, var2, vcov, sdcor``) for D and
    the residual. ``knots``: interior knots (empty for the Weibull baseline); ``loglik``: the approximate
    log-likelihood (JM's ``logLik``); ``vcov``: inverse Hessian of θ (``theta_names``). ``n_obs``: measurements
    used; ``n_clients``, ``n_events``. ``baseline``: ``"piecewise"``, ``"weibull"`` or ``"spline"``.
    """

    formula: str
    surv_formula: str
    params: pd.DataFrame
    varcomp: pd.DataFrame
    knots: np.ndarray
    loglik: float
    vcov: pd.DataFrame
    theta: np.ndarray
    theta_names: list
    n_obs: int
    n_clients: int
    n_events: int
    n_quadrature: int
    conf_level: float
    convergence: Convergence
    provenance: Provenance
    baseline: str = "piecewise"

    @property
    def association(self) -> float:
        """α: log hazard ratio of the event per unit of the current true longitudinal value (NaN if the model
        has only the slope association)."""
        rows = self.params.loc[self.params["term"] == "association", "estimate"]
        return float(rows.iloc[0]) if len(rows) else float("nan")

    @property
    def association_slope(self) -> float:
        """α_s: log hazard ratio per unit of the current slope of the true trajectory (NaN unless fitted)."""
        rows = self.params.loc[self.params["term"] == "association_slope", "estimate"]
        return float(rows.iloc[0]) if len(rows) else float("nan")

    def __repr__(self) -> str:
        return (f"JointResult({self.formula!r}, {self.surv_formula!r}, baseline={self.baseline!r}, "
                f"association={self.association:.4f}, loglik={self.loglik:.4f}, n_clients={self.n_clients}"
                f"{'' if self.converged else ', NOT converged'})")

    def summary(self) -> str:
        """Both submodels, the association and the variance components, laid out like JM's ``summary``."""
        fmt = {"index": False, "float_format": lambda v: f"{v:.4f}"}
        cols = ["term", "estimate", "std_error", "statistic", "p_value"]
        lon = self.params[self.params["submodel"] == "longitudinal"][cols]
        ev = self.params[self.params["submodel"] == "event"][cols]
        conv = "" if self.converged else f"\nWARNING: not converged ({self.convergence.message})"
        base = {"weibull": "Weibull baseline h0(t) = shape t^(shape-1) exp((Intercept))",
                "spline": f"B-spline baseline log h0(t) = sum_q bs_q B_q(t), cubic, interior knots "
                          f"{np.round(self.knots, 4).tolist()}"}.get(self.baseline, "piecewise-constant baseline")
        return (f"Joint model ({base}, pseudo-adaptive Gauss-Hermite, {self.n_quadrature} "
                f"points per random effect)\nlongitudinal: {self.formula}\nevent: {self.surv_formula}\n"
                f"{self.n_obs} measurements, {self.n_clients} clients, {self.n_events} events; "
                f"log-likelihood {self.loglik:.4f}\n\nLongitudinal process\n{lon.to_string(**fmt)}\n\n"
                f"Event process ('association' = current true value, 'association_slope' = its current slope)\n"
                f"{ev.to_string(**fmt)}\n\nVariance components\n{self.varcomp.to_string(index=False)}{conv}")


# ---------------------------------------------------------------------------------------------------------------
# Fitting
# ---------------------------------------------------------------------------------------------------------------
def _prepare(data, formula, events, surv_formula, client, session, knots, where, baseline="piecewise"):
    from ..mixed.formula import parse_formula

    lf = parse_formula(formula)
    if len(lf.random) != 1 or lf.random[0].group != client:
        raise FormulaError(f"the longitudinal formula needs one random-effects term grouped by the client column "
                           f"{client!r}, e.g. 'alliance ~ {session} + ({session} | {client})'; found "
                           f"{[r.text or r.group for r in lf.random]}")
    spec = parse_surv_formula(surv_formula, require_terms=False)
    if spec.start is not None:
        raise FormulaError("the event submodel takes one row per client: Surv(time, event) ~ covariates")
    if spec.strata or spec.cluster:
        raise FormulaError("strata() and cluster() are not supported in the event submodel of a joint model")
    rterm = lf.random[0]
    needed = [lf.response, client, session, *[v for t in lf.fixed_terms for v in t], *rterm.covariates]
    require_columns(data, needed, where=where)
    require_columns(events, [client, *spec.columns], where=where, what="events")
    problems = []
    ev = events.reset_index(drop=True)
    dup = ev[client].duplicated(keep=False)
    if dup.any():
        problems.append(f"events has several rows for client(s) {labels_of(pd.unique(ev.loc[dup, client]))}")
    d, problem = event_indicator(ev[spec.event], spec)
    if problem:
        problems.append(problem)
    T = pd.to_numeric(ev[spec.stop], errors="coerce").to_numpy(float)
    bad = ~np.isfinite(T) | (T <= 0)
    if bad.any():
        problems.append(f"event times must be positive numbers; found {labels_of(ev.loc[bad, spec.stop])} for "
                        f"client(s) {labels_of(ev.loc[bad, client])}")
    sess = data[list(dict.fromkeys(needed))]
    used = sess.dropna()
    only_s = sorted(set(pd.unique(used[client])) - set(pd.unique(ev[client])), key=str)
    if only_s:
        problems.append(f"client(s) {labels_of(only_s)} have measurements but no row in events")
    if problems:
        raise SchemaError(problems, source=where)
    n_drop = len(sess) - len(used)
    if n_drop:
        warnings.warn(f"{n_drop} measurement row(s) with a missing value in {list(dict.fromkeys(needed))} are left "
                      f"out of the longitudinal submodel", DataWarning, stacklevel=3)
    order = {c: i for i, c in enumerate(ev[client])}
    used = used.assign(_id=used[client].map(order)).sort_values("_id", kind="mergesort").reset_index(drop=True)
    after = used[session].to_numpy(float) > T[used["_id"].to_numpy()]
    if after.any():
        ids = pd.unique(used.loc[after, client])
        warnings.warn(f"{int(after.sum())} measurement(s) of client(s) {labels_of(ids)} were taken after the "
                      f"client's event or censoring time; they are used in the longitudinal submodel (as JM does)",
                      DataWarning, stacklevel=3)
    X, xnames, levels = _design(used, lf.fixed_terms, lf.intercept, None)
    Z, znames, zlevels = _design(used, [(c,) for c in rterm.covariates], rterm.intercept, None)
    if spec.terms:
        W_des = build_design(ev, spec)
        if np.isnan(W_des.X).any():
            bad = np.isnan(W_des.X).any(axis=1)
            raise SchemaError([f"missing survival covariate(s) for client(s) {labels_of(ev.loc[bad, client])}"],
                              source=where)
        W, wnames = W_des.X, W_des.columns
    else:
        W, wnames = np.empty((len(ev), 0)), []
    if baseline == "weibull":  # JM's Weibull PH: exp(gamma0) is the scale, an intercept of the event submodel
        W, wnames = np.hstack([np.ones((len(ev), 1)), W]), ["(Intercept)", *wnames]
    # client-level rows for the designs at arbitrary times: each client's first row (with a missing response
    # allowed: a client without any complete measurement still enters the event submodel)
    allrows = sess.assign(_id=sess[client].map(order)).dropna(subset=["_id"])
    base = allrows.sort_values("_id", kind="mergesort").groupby("_id", sort=True).head(1)
    base = base.set_index(base["_id"].astype(int)).sort_index()
    n = len(ev)
    no_rows = sorted(set(range(n)) - set(base.index))
    if no_rows:
        raise SchemaError([f"client(s) {labels_of(ev.loc[no_rows, client])} are in events but have no row in "
                           f"data (their longitudinal covariates are unknown)"], source=where)
    XT = _design(_at_times(base, np.arange(n), T, session), lf.fixed_terms, lf.intercept, levels)[0]
    ZT = _design(_at_times(base, np.arange(n), T, session), [(c,) for c in rterm.covariates], rterm.intercept,
                 zlevels)[0]
    B_T = B_s = None
    if baseline in ("weibull", "spline"):  # JM: the 15-point Gauss-Kronrod rule on (0, T_i)
        inner = np.empty(0)
        q_T = np.zeros(n, dtype=int)
        st = ((T / 2)[:, None] * (GK15_NODES[None, :] + 1)).ravel()
        id_s = np.repeat(np.arange(n), len(GK15_NODES))
        q_s = np.zeros(len(st), dtype=int)
        wP = ((T / 2)[:, None] * GK15_WEIGHTS[None, :]).ravel()
        if baseline == "spline":
            inner, B_T, B_s = _spline_basis(T, np.asarray(d, float), st, knots, where)
    else:                      # JM: the 7-point Gauss-Legendre part in each baseline interval
        inner = default_knots(T) if knots is None else np.sort(np.asarray(knots, float)) + 1e-6
        inner = _knots_with_events(inner, T, np.asarray(d, float), where)
        qs = np.concatenate([[0.0], inner, [T.max() + 1]])
        Q = len(qs) - 1
        q_T = np.clip(np.searchsorted(qs, T, side="right") - 1, 0, Q - 1)
        lo = np.minimum(T[:, None], qs[None, :-1])
        up = np.minimum(T[:, None], qs[None, 1:])
        half = (up - lo) / 2
        mid = (up + lo) / 2
        keep = half >= np.sqrt(np.finfo(float).eps)                          # JM's tol3
        ii, qq = np.nonzero(keep)
        st = (half[ii, qq][:, None] * GK7_NODES[None, :] + mid[ii, qq][:, None]).ravel()
        id_s = np.repeat(ii, len(GK7_NODES))
        q_s = np.repeat(qq, len(GK7_NODES))
        wP = (half[ii, qq][:, None] * GK7_WEIGHTS[None, :]).ravel()
    if np.isnan(XT).any() or np.isnan(ZT).any():
        bad = np.isnan(XT).any(axis=1) | np.isnan(ZT).any(axis=1)
        raise SchemaError([f"client(s) {labels_of(ev.loc[bad, client])} have a missing longitudinal covariate in "
                           f"their first row of data; the trajectory cannot be evaluated at other times"],
                          source=where)
    frame_s = _at_times(base, id_s, st, session)
    Xs = _design(frame_s, lf.fixed_terms, lf.intercept, levels)[0]
    Zs = _design(frame_s, [(c,) for c in rterm.covariates], rterm.intercept, zlevels)[0]

    def derivative(rows, times, terms, intercept, lev):
        """d/dt of the design at ``times``: a central difference, exact for designs linear or quadratic in time."""
        h = 1e-3 * np.maximum(1.0, np.abs(times))
        up = _design(_at_times(base, rows, times + h, session), terms, intercept, lev)[0]
        down = _design(_at_times(base, rows, times - h, session), terms, intercept, lev)[0]
        return (up - down) / (2 * h)[:, None]

    rand = [(c,) for c in rterm.covariates]
    XdT = derivative(np.arange(n), T, lf.fixed_terms, lf.intercept, levels)
    ZdT = derivative(np.arange(n), T, rand, rterm.intercept, zlevels)
    Xds = derivative(id_s, st, lf.fixed_terms, lf.intercept, levels)
    Zds = derivative(id_s, st, rand, rterm.intercept, zlevels)
    names = {"x": xnames, "z": znames, "w": wnames, "response": lf.response}
    arrays = dict(y=used[lf.response].to_numpy(float), X=X, Z=Z, id=used["_id"].to_numpy(), W=W, T=T,
                  d=np.asarray(d, float), XT=XT, ZT=ZT, Xs=Xs, Zs=Zs, XdT=XdT, ZdT=ZdT, Xds=Xds, Zds=Zds, id_s=id_s,
                  q_s=q_s, wP=wP, q_T=q_T,
                  knots=inner, st=st, baseline=baseline, B_T=B_T, B_s=B_s)
    return arrays, names, used, ev


def _spline_basis(T, d, st, knots, where, order: int = 4):
    """JM's cubic B-spline basis of log h0 at T and at the Gauss-Kronrod nodes (:mod:`.bspline`): boundary knots
    the range of T and the nodes, interior knots ``knots`` or the 1/6..5/6 quantiles of T, those at or above max(T)
    dropped. Refuses a basis the events cannot identify (a coefficient whose B-spline holds no event diverges to
    -inf, and fewer distinct event times than coefficients leave the baseline's shape undetermined)."""
    lower = float(min(T.min(), st.min()))
    if knots is not None:
        given = np.sort(np.asarray(knots, float).ravel())
        bad = given[~np.isfinite(given) | (given <= lower)]
        if len(bad):
            raise OptionError(f"knots={list(map(float, np.asarray(knots, float).ravel()))!r}: the interior knots of "
                              f"the spline baseline must be finite times above the lower boundary knot {lower:.6g} "
                              f"(the smallest integration node); found {bad.tolist()}")
        above = given[given >= T.max()]
        if len(above):
            warnings.warn(f"{where}: knot(s) {above.tolist()} at or above the largest observed time {T.max():.6g} "
                          f"were dropped (as JM does)", DataWarning, stacklevel=4)
    full = spline_knots(T, lower, None if knots is None else given, order=order)
    inner = full[order:-order]
    _, mult = np.unique(inner, return_counts=True)
    n_coef = len(full) - order
    times_ev = T[d > 0]
    n_distinct = len(np.unique(times_ev))
    B_T = bspline_design(full, T, order)
    empty = np.flatnonzero((B_T[d > 0] > 0).sum(axis=0) == 0)
    if n_distinct < n_coef or len(empty) or (len(mult) and mult.max() >= order):
        why = (f"{n_distinct} distinct event time(s) for {n_coef} B-spline coefficients ({len(inner)} interior "
               f"knot(s) + {order})" if n_distinct < n_coef else
               f"B-spline(s) {', '.join(f'bs{j + 1}' for j in empty)} hold no event time, so their coefficients "
               f"diverge to -inf" if len(empty) else
               f"an interior knot repeated {mult.max()} times (the observed times are too concentrated)")
        raise IdentificationError(f"{where}: the spline baseline cannot be estimated with these data and knots: "
                                  f"{why}; interior knots {np.round(inner, 4).tolist()}, {int(d.sum())} event(s). "
                                  f"Give fewer interior knots (knots=[...], e.g. the median event time) or use "
                                  f"baseline='weibull' or 'piecewise'")
    return inner, B_T, bspline_design(full, st, order)


def _lmm_start(arr, names, n_clients):
    """REML fit of the longitudinal submodel (lme's default) with :func:`allianceStats.mixed.fit_mlm`."""
    from ..mixed import fit_mlm

    X, Z = arr["X"], arr["Z"]
    cols = {f"x{j}": X[:, j] for j in range(X.shape[1])}
    zcols = {f"z{j}": Z[:, j] for j in range(Z.shape[1])}
    frame = pd.DataFrame({"y": arr["y"], **cols, **zcols, "g": arr["id"]})
    zint = names["z"][:1] == ["(Intercept)"]
    zterms = [f"z{j}" for j in range(Z.shape[1]) if not (zint and j == 0)]
    rand = ("1" if zint else "0") + "".join(f" + {t}" for t in zterms)
    f = "y ~ 0 + " + " + ".join(cols) + f" + ({rand} | g)"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = fit_mlm(frame, f)
    beta = res.fixef.to_numpy()
    sigma = float(res.sigma)
    D = res.random_cov["g"].to_numpy()
    re = res.ranef()["g"]
    re.index = re.index.astype(int)
    bhat = re.reindex(range(n_clients)).fillna(0.0).to_numpy()  # a client without measurements: the prior mean
    return beta, sigma, D, bhat, res


def _nodes(arr, sigma, D, bhat, n_gh):
    """Pseudo-adaptive Gauss-Hermite nodes and log weights per client (JM's lis.b, wGH and VCdets)."""
    Z, ids = arr["Z"], arr["id"]
    n, q = bhat.shape
    x, w = gauss_hermite(n_gh)
    grid = np.array(np.meshgrid(*[x] * q, indexing="ij")).reshape(q, -1).T          # (K, q)
    wgrid = np.array(np.meshgrid(*[w] * q, indexing="ij")).reshape(q, -1).T
    log_wgh = q / 2 * np.log(2) + np.log(wgrid).sum(axis=1) + (grid**2).sum(axis=1)
    u = np.sqrt(2) * grid
    ZtZ = np.zeros((n, q, q))
    np.add.at(ZtZ, ids, Z[:, :, None] * Z[:, None, :])
    prec = ZtZ / sigma**2 + np.linalg.inv(D)[None]
    U = np.linalg.cholesky(prec).transpose(0, 2, 1)                                 # upper: prec = U'U
    Uinv = np.linalg.inv(U)
    nodes = np.einsum("icd,kd->ikc", Uinv, u) + bhat[:, None, :]
    log_det = np.log(np.abs(np.linalg.det(Uinv)))
    return nodes, log_wgh[None, :] + log_det[:, None]


def _start_survival(arr, Q, baseline="piecewise"):
    """γ from a Cox model of the survival covariates, α = 0, ξ the crude event rate of each interval (Weibull:
    shape 1 and the intercept the log of the crude rate, an exponential model; spline: every coefficient the log
    crude rate, a constant hazard since the B-splines sum to one)."""
    from .cox import fit_cox

    W = arr["W"][:, 1:] if baseline == "weibull" else arr["W"]
    gamma = np.zeros(W.shape[1])
    if W.shape[1]:
        frame = pd.DataFrame({"t": arr["T"], "d": arr["d"], **{f"w{j}": W[:, j] for j in range(W.shape[1])}})
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            gamma = fit_cox(frame, "Surv(t, d) ~ " + " + ".join(f"w{j}" for j in range(W.shape[1]))).params[
                "estimate"].to_numpy()
    if baseline == "weibull":
        rate = max(arr["d"].sum(), 0.5) / arr["T"].sum()
        return np.concatenate([[np.log(rate)], gamma]), np.zeros(1)
    if baseline == "spline":
        return gamma, np.full(Q, np.log(max(arr["d"].sum(), 0.5) / arr["T"].sum()))
    exposure = np.bincount(arr["q_s"], weights=arr["wP"], minlength=Q)
    events = np.bincount(arr["q_T"], weights=arr["d"], minlength=Q)
    rate = np.maximum(events, 0.5) / np.maximum(exposure, 1e-8)
    return gamma, np.log(rate)


def _two_stage_start(jd: JointData, lay: Layout, theta0: np.ndarray, bhat: np.ndarray) -> np.ndarray:
    """Start the event parameters (γ, α, log ξ) at their maximum with each client's trajectory fixed at the
    empirical Bayes estimates (one quadrature node, the two-stage estimate; JM starts from a similar Cox fit)."""
    one = JointData(**{**jd.__dict__, "nodes": bhat[:, None, :], "log_w": np.zeros((len(bhat), 1))})
    lik1 = JointLikelihood(one, lay)
    sel = lay.event_block

    def neg(sub):
        t = theta0.copy()
        t[sel] = sub
        ll, g = lik1.loglik_and_score(t)
        return (1e300, np.zeros_like(sub)) if not np.isfinite(ll) else (-ll, -g[sel])

    res = optimize.minimize(neg, theta0[sel], jac=True, method="BFGS", options={"maxiter": 500, "gtol": 1e-4})
    out = theta0.copy()
    if np.all(np.isfinite(res.x)):
        out[sel] = res.x
    return out


def _numeric_hessian(score, theta, step=1e-4):
    k = len(theta)
    H = np.zeros((k, k))
    for j in range(k):
        h = step * max(1.0, abs(theta[j]))
        tp, tm = theta.copy(), theta.copy()
        tp[j] += h
        tm[j] -= h
        H[:, j] = (score(tp) - score(tm)) / (2 * h)
    return (H + H.T) / 2


def fit_joint(data: pd.DataFrame, formula: str, events: pd.DataFrame, surv_formula: str, *,
              client: str = "client", session: str = "session", association: str = "value",
              baseline: str = "piecewise", knots=None, n_quadrature: int | None = None,
              conf_level: float = 0.95) -> JointResult:
    """Joint model of a longitudinal alliance trajectory and time to relapse (JM's ``piecewise-PH-aGH``,
    ``weibull-PH-aGH`` or ``spline-PH-aGH``).

    Model, likelihood, estimation and validation: module docstring (:mod:`allianceStats.survival.joint`;
    Rizopoulos 2010, 2012). R: ``jointModel(lme(formula), coxph(surv_formula, x = TRUE), timeVar = session,
    method = "piecewise-PH-aGH")`` (``baseline="weibull"``: ``method = "weibull-PH-aGH"``; ``baseline="spline"``:
    ``method = "spline-PH-aGH"``, with ``knots``: ``control = list(knots = knots)``).

    Parameters
    ----------
    data : pandas.DataFrame
        Long table of measurements (one row per client and session); rows with a missing value in a used
        column are left out (with a :class:`DataWarning`). Never modified.
    formula : str
        Longitudinal submodel in lme4 syntax with one random-effects term grouped by ``client``, e.g.
        ``"alliance ~ week + (week | client)"``.
    events : pandas.DataFrame
        One row per client: time to the event or censoring, event indicator and the event covariates.
    surv_formula : str
        ``"Surv(time, relapse) ~ female"`` (``~ 1`` for none).
    client : str
        Client column of both tables.
    session : str
        The time column of ``data`` (JM's ``timeVar``), on the same scale as the event times.
    association : {"value", "slope", "both"}
        What of the trajectory the hazard depends on: the current true value (default), its current slope
        :math:`m_i'(t)`, or both (JM's ``parameterization``; the slope's design is the time derivative of the
        longitudinal design, taken numerically — exact for terms linear or quadratic in time — where JM asks for
        ``derivForm``).
    baseline : {"piecewise", "weibull", "spline"}
        Baseline hazard: piecewise-constant on JM's knots (default), Weibull :math:`\\xi t^{\\xi-1}e^{\\gamma_0}`
        (rows ``(Intercept)`` = γ0 and ``log(shape)`` = log ξ in ``params``), or a cubic B-spline log hazard
        :math:`\\log h_0(t) = \\sum_q \\gamma_q B_q(t)` (rows ``bs1`` …, unpenalised, as JM).
    knots : sequence of float, optional
        Interior knots of the piecewise baseline (JM adds 1e-6 to them) or of the spline baseline (JM's ``knots``
        control; those at or above the largest observed time are dropped, as JM); default JM's (module
        docstring). Not with ``baseline="weibull"``.
    n_quadrature : int, optional
        Gauss–Hermite points per random effect (default JM's: 5, or 3 with more than 3 random effects or 2,000
        measurements).
    conf_level : float
        Level of the Wald intervals.

    Returns
    -------
    JointResult

    Raises
    ------
    FormulaError
        A longitudinal formula without exactly one random term by ``client``, or an unsupported event formula.
    SchemaError
        Missing columns, clients in one table only, several event rows for a client, bad times or events.
    IdentificationError
        No events; a spline baseline with fewer distinct event times than B-spline coefficients, or a B-spline
        holding no event time (give fewer ``knots``).
    OptionError
        ``baseline`` other than "piecewise", "weibull" or "spline", ``knots`` with the Weibull baseline, spline
        knots not above the lower boundary knot, or another bad option value.

    Examples
    --------
    >>> from allianceStats.simulate.relapse import relapse_times
    >>> sessions, events, truth = relapse_times(150, seed=2)
    >>> fit = fit_joint(sessions, "alliance ~ week + (week | client)", events, "Surv(time, relapse) ~ 1",
    ...                 session="week")
    >>> fit.params["submodel"].tolist()[:3], fit.n_clients == len(events)
    (['longitudinal', 'longitudinal', 'event'], True)

    The same with a Weibull baseline (the simulated hazard is constant in time: shape 1):

    >>> fitw = fit_joint(sessions, "alliance ~ week + (week | client)", events, "Surv(time, relapse) ~ 1",
    ...                  session="week", baseline="weibull")
    >>> row = fitw.params.set_index("term").loc["log(shape)"]
    >>> round(float(np.exp(row["estimate"])), 2), round(float(row["std_error"]), 2), fitw.converged
    (0.97, 0.1, True)

    And with JM's B-spline baseline (cubic, interior knots at quantiles of the observed times; those at the common
    end of follow-up, where many clients are censored, are dropped as JM does):

    >>> fits = fit_joint(sessions, "alliance ~ week + (week | client)", events, "Surv(time, relapse) ~ 1",
    ...                  session="week", baseline="spline")
    >>> fits.knots.round(2).tolist(), fits.params["term"].tolist()[-2:], round(fits.association, 2), fits.converged
    ([4.02, 10.05, 16.47], ['bs6', 'bs7'], -0.74, True)
    """
    started = _time.perf_counter()
    where = "fit_joint"
    require_frame(data, where=where)
    require_frame(events, where=where, what="events")
    check_choice("baseline", baseline, ("piecewise", "weibull", "spline"))
    check_choice("association", association, ("value", "slope", "both"))
    if baseline == "weibull" and knots is not None:
        raise OptionError(f"knots={knots!r} was given with baseline='weibull'; knots are the interval bounds of "
                          f"the piecewise-constant baseline. Leave knots=None, or use baseline='piecewise'")
    conf_level = check_conf_level(conf_level)
    arr, names, used, ev = _prepare(data, formula, events, surv_formula, client, session, knots, where,
                                    baseline)
    if arr["d"].sum() == 0:
        raise IdentificationError("no events in the events table; a joint model needs some")
    n = len(arr["T"])
    q = arr["Z"].shape[1]
    if n_quadrature is None:
        n_quadrature = 5 if q <= 3 and len(arr["y"]) < 2000 else 3
    n_quadrature = check_positive_int("n_quadrature", n_quadrature)
    beta0, sigma0, D0, bhat, lmm = _lmm_start(arr, names, n)
    nodes, log_w = _nodes(arr, sigma0, D0, bhat, n_quadrature)
    jd = JointData(**arr, nodes=nodes, log_w=log_w, names=names)
    Q = 1 if baseline == "weibull" else jd.B_T.shape[1] if baseline == "spline" else len(jd.knots) + 1
    lay = Layout(p=jd.X.shape[1], r=jd.W.shape[1], n_xi=Q, q=q, value=association != "slope",
                 slope=association != "value", baseline=baseline)
    lik = JointLikelihood(jd, lay)
    gamma0, lxi0 = _start_survival(arr, Q, baseline)
    theta0 = np.concatenate([beta0, [np.log(sigma0)], gamma0, np.zeros(lay.n_assoc), lxi0, D_to_chol(D0)])
    theta0 = _two_stage_start(jd, lay, theta0, bhat)
    theta, ll, H, conv = optimise(lik, theta0)
    try:
        V = np.linalg.inv(-H)
    except np.linalg.LinAlgError:
        V = np.full_like(H, np.nan)
    if not conv.converged:
        warnings.warn(f"fit_joint did not converge: {conv.message}", ConvergenceWarning, stacklevel=2)
    assoc_names = (["association"] if lay.value else []) + (["association_slope"] if lay.slope else [])
    base_names = {"weibull": ["log(shape)"], "spline": [f"bs{j + 1}" for j in range(Q)]}.get(
        baseline, [f"log(xi.{j + 1})" for j in range(Q)])
    theta_names = ([f"beta:{t}" for t in names["x"]] + ["log(sigma)"] + [f"gamma:{t}" for t in names["w"]]
                   + assoc_names + base_names + [f"chol:D{j + 1}" for j in range(q * (q + 1) // 2)])
    params = _param_table(theta, V, lay, names, assoc_names, base_names, conf_level)
    beta, log_sigma, gamma, alpha, alpha_s, log_xi, chol = lay.split(theta)
    D, _ = chol_to_D(chol, q)
    varcomp = _varcomp(D, float(np.exp(log_sigma)), names["z"], client)
    options = {"formula": formula, "surv_formula": surv_formula, "client": client, "session": session,
               "association": association, "baseline": baseline,
               "knots": None if knots is None else list(map(float, knots)), "n_quadrature": n_quadrature,
               "conf_level": conf_level}
    prov = make_provenance(used.drop(columns="_id"), options=options, function="fit_joint", started=started)
    return JointResult(formula=formula, surv_formula=surv_formula, params=params, varcomp=varcomp, knots=jd.knots,
                       loglik=float(ll), vcov=pd.DataFrame(V, index=theta_names, columns=theta_names), theta=theta,
                       theta_names=theta_names, n_obs=len(jd.y), n_clients=n, n_events=int(jd.d.sum()),
                       n_quadrature=n_quadrature, conf_level=conf_level, convergence=conv, provenance=prov,
                       baseline=baseline)


def optimise(lik: JointLikelihood, theta0: np.ndarray, *, max_newton: int = 5):
    """BFGS with the analytic score, then Newton steps on the numerical Hessian of the score (central
    differences) until one more step moves no parameter by more than 1e-6 (relative to 1 + |θ|).

    Returns θ, the log-likelihood, the Hessian at θ (for the standard errors) and the verdict."""
    def neg(t):
        ll, g = lik.loglik_and_score(t)
        if not np.isfinite(ll):
            return 1e300, np.zeros_like(t)
        return -ll, -g

    res = optimize.minimize(neg, theta0, jac=True, method="BFGS", options={"maxiter": 2000, "gtol": 1e-5})
    theta = res.x
    ll, g = lik.loglik_and_score(theta)
    score = lambda t: lik.loglik_and_score(t)[1]  # noqa: E731
    H = _numeric_hessian(score, theta)
    size, it = np.inf, 0
    while it < max_newton:
        it += 1
        try:
            step = -np.linalg.solve(H, g)
        except np.linalg.LinAlgError:
            break
        size = float(np.max(np.abs(step) / (1 + np.abs(theta))))
        halvings = 0
        ll_new, g_new = lik.loglik_and_score(theta + step)
        while not ll_new >= ll - 1e-9 and halvings < 20:
            step /= 2
            ll_new, g_new = lik.loglik_and_score(theta + step)
            halvings += 1
        if ll_new >= ll - 1e-9:
            theta, ll, g = theta + step, ll_new, g_new
        if size < 1e-6:
            break
        if size > 1e-3:  # far from the optimum: the Hessian is worth recomputing
            H = _numeric_hessian(score, theta)
    eig = np.linalg.eigvalsh(-H)
    ok = bool(eig.min() > 0 and size < 1e-4)
    msg = (f"BFGS ({res.nit} iterations: {res.message}); {it} Newton step(s), the last {size:.1e} (relative); "
           f"max |score| {np.max(np.abs(g)):.1e}; smallest eigenvalue of the information {eig.min():.3g}")
    return theta, ll, H, Convergence(converged=ok, iterations=int(res.nit) + it, optimizer="BFGS + Newton",
                                     message=msg)


def _param_table(theta, V, lay, names, assoc_names, base_names, conf_level) -> pd.DataFrame:
    se = np.sqrt(np.clip(np.diag(V), 0, None))
    p = lay.p
    idx = list(range(p)) + list(lay.event_block)
    rows = ([("longitudinal", t) for t in names["x"]] + [("event", t) for t in names["w"]]
            + [("event", a) for a in assoc_names] + [("event", b) for b in base_names])
    est = theta[idx]
    s = se[idx]
    z = est / s
    qn = stats.norm.ppf(0.5 + conf_level / 2)
    return pd.DataFrame({"submodel": [a for a, _ in rows], "term": [b for _, b in rows], "estimate": est,
                         "std_error": s, "statistic": z, "p_value": 2 * stats.norm.sf(np.abs(z)),
                         "ci_lower": est - qn * s, "ci_upper": est + qn * s}, columns=PARAM_COLUMNS)


def _varcomp(D, sigma, znames, client) -> pd.DataFrame:
    q = len(D)
    rows = [(client, znames[j], np.nan, D[j, j], np.sqrt(D[j, j])) for j in range(q)]
    for a in range(q):
        for c in range(a + 1, q):
            rows.append((client, znames[a], znames[c], D[a, c], D[a, c] / np.sqrt(D[a, a] * D[c, c])))
    rows.append(("Residual", np.nan, np.nan, sigma**2, sigma))
    return pd.DataFrame(rows, columns=["group", "var1", "var2", "vcov", "sdcor"])
