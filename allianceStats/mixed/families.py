r"""Conditional distributions of the generalised linear mixed model: log-likelihood and its η-derivatives.

Model
-----
Given the random effects, observation i has linear predictor η_i = x_iᵀβ + z_iᵀb + o_i (o an offset) and
mean μ_i = g⁻¹(η_i). This module gives, per observation and as vectors over η,

* ``loglik``  ℓ_i(η) with *all* constants (binomial coefficients, log y!), as R's ``family()$aic`` / glmmTMB's
  ``dbinom``, ``dpois``, ``dnbinom2`` use them, so that −2 Σ ℓ_i is lme4's and glmmTMB's scale;
* ``score``   ∂ℓ_i/∂η;
* ``weight``  the curvature used by the inner Newton (PIRLS) step and by the Laplace determinant:
  ``"expected"`` (Fisher scoring, w_i = m_i μ'(η)² / V(μ), lme4's ``glmer``) or ``"observed"``
  (w_i = −∂²ℓ_i/∂η², TMB's exact Laplace, glmmTMB). For canonical links (logit, log with the Poisson)
  the two coincide.

Families (McCullagh & Nelder 1989, *Generalized Linear Models*, 2nd ed., ch. 4 and 6)

``binomial``           m_i trials, s_i successes: ℓ = log C(m,s) + s log μ + (m−s) log(1−μ); links logit,
                       probit, cloglog (numerically stable forms through log Φ and log1p/expm1).
``poisson``            ℓ = y η − μ − log y!; log link.
``negative_binomial``  NB2 (Hilbe 2011, *Negative Binomial Regression*, ch. 8; glmmTMB's ``nbinom2``):
                       Var(y) = μ + μ²/θ, ℓ = log Γ(y+θ) − log Γ(θ) − log y! + θ log(θ/(θ+μ)) + y log(μ/(θ+μ));
                       log link; θ is estimated (on the log scale) by the caller. Computed as
                       Σ_{k<y} log(1 + k/θ) − log y! + yη − (θ+y) log1p(μ/θ) (:func:`log_rising_ratio`), which
                       tends to the Poisson ℓ without cancellation as θ → ∞.

Zero inflation (Lambert 1992, *Technometrics* 34(1); glmmTMB's ``ziformula``, Brooks et al. 2017, *R J.* 9(2)):
with structural-zero probability π_i = logit⁻¹(ζ_i), ℓ = log(π + (1−π) f(0)) for y = 0 and
log(1−π) + log f(y) for y > 0. With r = (1−π) f(0) / (π + (1−π) f(0)) the η-derivatives at y = 0 are
r g′ and r g″ + r(1−r) g′², g = log f(0 | η) — so the observed weight can be negative for single
observations (the Laplace determinant stays positive at a mode because of the +I of the random-effects prior).

Example
-------
>>> import numpy as np
>>> fam = get_family("binomial", "logit")
>>> resp = Response(fam, y=np.array([2.0]), trials=np.array([5.0]))
>>> float(np.round(resp.loglik(np.array([0.0])).sum(), 6))  # log dbinom(2, 5, 0.5)
-1.163151
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.special import expit, gammaln, log_expit, log_ndtr, ndtr

from ..data.checks import check_choice

FAMILIES = ("binomial", "poisson", "negative_binomial")
LINKS = {"binomial": ("logit", "probit", "cloglog"), "poisson": ("log",), "negative_binomial": ("log",)}
_SQRT_2PI = np.sqrt(2.0 * np.pi)


@dataclass(frozen=True)
class Family:
    """A conditional distribution and its link (see the module docstring)."""

    name: str
    link: str

    @property
    def canonical(self) -> bool:
        """True where expected and observed information coincide (logit binomial, log Poisson)."""
        return (self.name, self.link) in (("binomial", "logit"), ("poisson", "log"))

    @property
    def is_count(self) -> bool:
        return self.name in ("poisson", "negative_binomial")

    def linkinv(self, eta: np.ndarray) -> np.ndarray:
        """μ = g⁻¹(η)."""
        if self.link == "logit":
            return expit(eta)
        if self.link == "probit":
            return ndtr(eta)
        if self.link == "cloglog":
            return -np.expm1(-np.exp(np.minimum(eta, 700.0)))
        return np.exp(np.minimum(eta, 700.0))

    def link_fun(self, mu: np.ndarray) -> np.ndarray:
        """η = g(μ) (used for starting values only)."""
        from scipy.special import logit, ndtri

        if self.link == "logit":
            return logit(mu)
        if self.link == "probit":
            return ndtri(mu)
        if self.link == "cloglog":
            return np.log(-np.log1p(-mu))
        return np.log(mu)

    # log μ and log(1 − μ) for the binomial links, stable in both tails
    def _log_mu(self, eta):
        if self.link == "logit":
            return log_expit(eta)
        if self.link == "probit":
            return log_ndtr(eta)
        e = np.exp(np.minimum(eta, 700.0))
        return np.log(-np.expm1(-e))

    def _log_1mmu(self, eta):
        if self.link == "logit":
            return log_expit(-eta)
        if self.link == "probit":
            return log_ndtr(-eta)
        return -np.exp(np.minimum(eta, 700.0))

    def _dlog_mu(self, eta):
        """(first, second) derivatives in η of log μ and of log(1 − μ) (binomial links)."""
        if self.link == "logit":
            mu = expit(eta)
            return (1.0 - mu, -mu * (1.0 - mu)), (-mu, -mu * (1.0 - mu))
        if self.link == "probit":
            lam_p = np.exp(-0.5 * eta ** 2 - log_ndtr(eta)) / _SQRT_2PI     # φ/Φ
            lam_m = np.exp(-0.5 * eta ** 2 - log_ndtr(-eta)) / _SQRT_2PI    # φ/(1−Φ)
            return (lam_p, -lam_p * (eta + lam_p)), (-lam_m, -lam_m * (lam_m - eta))
        e = np.exp(np.minimum(eta, 700.0))
        one_m = -np.expm1(-e)                      # 1 − exp(−e) = μ, stable for small and large e
        d1 = e * np.exp(-e) / one_m                # e / (exp(e) − 1)
        d2 = d1 * (1.0 - e / one_m)
        return (d1, d2), (-e, -e)


def get_family(family: str, link: str | None = None) -> Family:
    """The :class:`Family` for a family name and link (default: the canonical link), checked.

    >>> get_family("binomial").link, get_family("poisson").link
    ('logit', 'log')
    """
    check_choice("family", family, FAMILIES)
    link = LINKS[family][0] if link is None else link
    check_choice("link", link, LINKS[family])
    return Family(family, link)


_STIRLING_FROM = 10.0
# B_2k / (2k (2k − 1)) for k = 1..7 (Abramowitz & Stegun 1964, 6.1.41)
_STIRLING = (1 / 12, -1 / 360, 1 / 1260, -1 / 1680, 1 / 1188, -691 / 360360, 1 / 156)


def _stirling_tail(x: np.ndarray) -> np.ndarray:
    """log Γ(x) − [(x − ½) log x − x + ½ log 2π] by the Stirling series Σ_k B_2k / (2k(2k−1) x^(2k−1)), seven
    terms: the error is below 3617/(122400 x¹⁵), 3e-17 for x ≥ 10."""
    inv = 1.0 / x
    inv2 = inv * inv
    out = np.zeros_like(inv)
    for c in reversed(_STIRLING):
        out = out * inv2 + c
    return out * inv


def log_rising_ratio(y: np.ndarray, theta: float) -> np.ndarray:
    """log Γ(y + θ) − log Γ(θ) − y log θ = Σ_{k<y} log(1 + k/θ) for counts y, without cancellation at large θ.

    For θ < 10 the log-gamma functions are subtracted directly; for θ ≥ 10 the Stirling series gives
    (θ + y − ½) log1p(y/θ) − y + S(θ + y) − S(θ) (S: :func:`_stirling_tail`), accurate to ~1e-15 absolute for
    small counts where ``gammaln(y + θ) − gammaln(θ)`` loses everything (θ = 1e12: errors of 1e-3; θ = 1e15: of 1).

    >>> th = 1e9                       # log(1 + 1/θ) + log(1 + 2/θ) = 3e-9
    >>> exact = np.log1p(1 / th) + np.log1p(2 / th)
    >>> bool(np.isclose(log_rising_ratio(np.array([3.0]), th)[0], exact, rtol=1e-6, atol=0))
    True
    >>> bool(np.isclose(gammaln(3 + th) - gammaln(th) - 3 * np.log(th), exact, rtol=1e-6, atol=0))
    False
    """
    y = np.asarray(y, dtype=float)
    if theta < _STIRLING_FROM:
        return gammaln(y + theta) - gammaln(theta) - y * np.log(theta)
    return (theta + y - 0.5) * np.log1p(y / theta) - y + (_stirling_tail(theta + y) - _stirling_tail(theta))


class Response:
    """The response of a fit and its conditional log-likelihood as a function of the linear predictor.

    ``y`` holds successes (binomial) or counts; ``trials`` the binomial trials (1 for 0/1 data).
    ``nb_theta`` is the NB2 dispersion; ``zi_eta`` the zero-inflation linear predictor (None: no zero
    inflation). Both may be reset between evaluations with :meth:`set_extra`.
    """

    def __init__(self, family: Family, y: np.ndarray, trials: np.ndarray | None = None,
                 hessian: str = "expected"):
        self.family = family
        self.y = np.asarray(y, dtype=float)
        self.trials = np.ones_like(self.y) if trials is None else np.asarray(trials, dtype=float)
        self.hessian = hessian
        self.nb_theta: float | None = None
        self.zi_eta: np.ndarray | None = None
        if family.name == "binomial":
            m, s = self.trials, self.y
            self._const = gammaln(m + 1) - gammaln(s + 1) - gammaln(m - s + 1)
        else:
            self._const = -gammaln(self.y + 1)
        self._zero = self.y == 0

    def set_extra(self, nb_theta: float | None = None, zi_eta: np.ndarray | None = None) -> None:
        self.nb_theta = nb_theta
        self.zi_eta = zi_eta

    # ------------------------------------------------------------------ count part, no zero inflation
    def _count_parts(self, eta):
        """(ℓ, ∂ℓ/∂η, −∂²ℓ/∂η² observed, Fisher weight) of the count or binomial part."""
        fam, y = self.family, self.y
        if fam.name == "binomial":
            m = self.trials
            if fam.link == "logit":
                # y log μ + (m−y) log(1−μ) = yη + m log(1−μ): one log-expit instead of two
                l1m = log_expit(-eta)
                mu = -np.expm1(l1m)
                fisher = m * mu * (1 - mu)
                return self._const + y * eta + m * l1m, y - m * mu, fisher, fisher
            lm, l1m = fam._log_mu(eta), fam._log_1mmu(eta)
            ll = self._const + y * lm + (m - y) * l1m
            (a1, a2), (b1, b2) = fam._dlog_mu(eta)
            score = y * a1 + (m - y) * b1
            obs = -(y * a2 + (m - y) * b2)
            # m μ'(η)² / (μ(1−μ)) = m μ' (∂log μ − ∂log(1−μ)), μ' = μ ∂log μ
            fisher = m * np.exp(lm) * a1 * (a1 - b1)
            return ll, score, obs, fisher
        mu = np.exp(np.minimum(eta, 700.0))
        if fam.name == "poisson":
            ll = self._const + y * eta - mu
            return ll, y - mu, mu, mu
        th = self.nb_theta
        # ℓ = [log Γ(y+θ) − log Γ(θ) − y log θ] − log y! + yη − (θ + y) log1p(μ/θ): the same terms regrouped so
        # that nothing cancels as θ → ∞ (then ℓ → yη − μ − log y!, the Poisson log-likelihood)
        mu_th = np.exp(np.minimum(eta - np.log(th), 700.0))      # μ/θ
        ll = log_rising_ratio(y, th) + self._const + y * eta - (th + y) * np.log1p(mu_th)
        frac = mu / (th + mu)
        score = th * (y - mu) / (th + mu)
        obs = th * frac * (y + th) / (th + mu)
        fisher = th * frac
        return ll, score, obs, fisher

    def _zero_count(self, eta):
        """log f(0 | η) and its first two η-derivatives (count families)."""
        mu = np.exp(np.minimum(eta, 700.0))
        if self.family.name == "poisson":
            return -mu, -mu, -mu
        th = self.nb_theta
        g = -th * np.log1p(mu / th)
        g1 = -th * mu / (th + mu)
        g2 = -th * th * mu / (th + mu) ** 2
        return g, g1, g2

    # ------------------------------------------------------------------ public
    def loglik(self, eta: np.ndarray) -> np.ndarray:
        """ℓ_i(η) per observation (full constants)."""
        ll = self._count_parts(eta)[0]
        if self.zi_eta is None:
            return ll
        lpi, l1pi = log_expit(self.zi_eta), log_expit(-self.zi_eta)
        g = self._zero_count(eta)[0]
        return np.where(self._zero, np.logaddexp(lpi, l1pi + g), l1pi + ll)

    def derivatives(self, eta: np.ndarray, hessian: str | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(ℓ_i, ∂ℓ_i/∂η, weight_i) with the weight of ``hessian`` (default ``self.hessian``; module docstring)."""
        ll, score, obs, fisher = self._count_parts(eta)
        w = fisher if (hessian or self.hessian) == "expected" else obs
        if self.zi_eta is None:
            return ll, score, w
        lpi, l1pi = log_expit(self.zi_eta), log_expit(-self.zi_eta)
        g, g1, g2 = self._zero_count(eta)
        lz = np.logaddexp(lpi, l1pi + g)
        r = np.exp(l1pi + g - lz)
        ll = np.where(self._zero, lz, l1pi + ll)
        score = np.where(self._zero, r * g1, score)
        w = np.where(self._zero, -(r * g2 + r * (1 - r) * g1 ** 2), w)
        return ll, score, w

    def weight_derivative(self, eta: np.ndarray) -> np.ndarray:
        """∂w_i/∂η_i of the weight in use: closed form for the canonical links without zero inflation
        (logit: w(1 − 2μ); Poisson: μ), else a central difference (step 1e-6 relative)."""
        if self.zi_eta is None and self.family.canonical:
            if self.family.name == "poisson":
                return np.exp(np.minimum(eta, 700.0))
            mu = expit(eta)
            return self.trials * mu * (1 - mu) * (1 - 2 * mu)
        eps = 1e-6 * np.maximum(1.0, np.abs(eta))
        return (self.derivatives(eta + eps)[2] - self.derivatives(eta - eps)[2]) / (2 * eps)

    def saturated_loglik(self) -> np.ndarray:
        """ℓ_i at μ = y (binomial: μ = s/m; counts: μ = y), no zero inflation — R's deviance residuals are
        2 (ℓ_sat − ℓ); lme4's nAGQ > 1 objective is on that scale."""
        fam, y = self.family, self.y
        if fam.name == "binomial":
            m = self.trials
            p = np.where(m > 0, y / np.where(m > 0, m, 1), 0.0)
            with np.errstate(divide="ignore", invalid="ignore"):
                t1 = np.where(y > 0, y * np.log(np.where(p > 0, p, 1.0)), 0.0)
                t2 = np.where(m - y > 0, (m - y) * np.log(np.where(p < 1, 1 - p, 1.0)), 0.0)
            return self._const + t1 + t2
        with np.errstate(divide="ignore", invalid="ignore"):
            ylogy = np.where(y > 0, y * np.log(np.where(y > 0, y, 1.0)), 0.0)
        if fam.name == "poisson":
            return self._const + ylogy - y
        th = self.nb_theta
        return log_rising_ratio(y, th) + self._const + ylogy - (th + y) * np.log1p(y / th)

    def mean(self, eta: np.ndarray) -> np.ndarray:
        """E(y | η): μ for binomial proportions and counts, (1 − π) μ with zero inflation."""
        mu = self.family.linkinv(eta)
        if self.zi_eta is not None:
            mu = mu * expit(-self.zi_eta)
        return mu
