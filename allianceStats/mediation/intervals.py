"""Confidence intervals of effects: percentile, bias-corrected and accelerated (BCa), Monte Carlo and delta method.

The interval method is chosen with ``ci=`` and means the same in :func:`~allianceStats.fit_mediation`,
:func:`~allianceStats.fit_multilevel_mediation` and :func:`~allianceStats.fit_wave_mediation`
(docs/design.md, "Vocabulary"):

- ``"percentile"``: nonparametric bootstrap (rows, or whole clients when the data are clustered), the
  ``(1 - conf_level)/2`` and ``(1 + conf_level)/2`` quantiles of the bootstrap draws (numpy's default
  linear interpolation, R's ``quantile(type = 7)``, which lavaan uses).
- ``"bca"``: the same bootstrap draws, bias-corrected and accelerated limits (Efron 1987): the quantiles at
  ``Phi(z0 + (z0 + z_q) / (1 - acc (z0 + z_q)))`` with the bias correction ``z0 = Phi^-1(#{draws < estimate} / B)``
  (ties counted half) and the jackknife acceleration ``acc = sum(d^3) / (6 (sum(d^2))^{3/2})``,
  ``d = mean(jack) - jack_i`` (leave one row out, or one client where clients are resampled).
- ``"monte_carlo"`` (Selig & Preacher 2008): the path coefficients are drawn from their asymptotic normal
  distribution ``N(estimate, vcov)``, the effects computed from each draw, and the percentile interval taken.
- ``"delta"``: the Wald interval ``estimate ± z_(1+conf_level)/2 · SE`` with the delta-method (first-order) standard
  error (MacKinnon 2008, ch. 4); no draws.

References: Efron, B. (1987). Better bootstrap confidence intervals. *JASA* 82(397), 171-185.
Selig, J. P., & Preacher, K. J. (2008). Monte Carlo method for assessing mediation [computer software].
Preacher, K. J., & Selig, J. P. (2012). Advantages of Monte Carlo confidence intervals for indirect effects.
*Communication Methods and Measures* 6(2), 77-98.
MacKinnon, D. P. (2008). *Introduction to Statistical Mediation Analysis*. Erlbaum.
"""
from __future__ import annotations

import numpy as np
from scipy import stats

CI_METHODS = ("percentile", "bca", "monte_carlo", "delta")
"""The values of ``ci=`` in every mediation function."""


def percentile_interval(draws: np.ndarray, conf_level: float) -> tuple[np.ndarray, np.ndarray]:
    """Column-wise percentile interval of ``draws`` (B, k), ignoring NaN draws.

    >>> lo, hi = percentile_interval(np.arange(101.0)[:, None], 0.9)
    >>> round(float(lo[0]), 9), round(float(hi[0]), 9)
    (5.0, 95.0)
    """
    tail = (1.0 - conf_level) / 2.0
    q = np.nanquantile(draws, [tail, 1.0 - tail], axis=0)
    return q[0], q[1]


def bca_interval(draws: np.ndarray, estimate: np.ndarray, jackknife: np.ndarray,
                 conf_level: float) -> tuple[np.ndarray, np.ndarray]:
    """Column-wise BCa interval (Efron 1987) from bootstrap ``draws`` (B, k), the ``estimate`` (k,) and the
    leave-one-out ``jackknife`` estimates (n, k).

    With no skew and no bias (symmetric draws centred on the estimate, symmetric jackknife) it equals the
    percentile interval:

    >>> d = np.linspace(-1, 1, 2001)[:, None]
    >>> lo, hi = bca_interval(d, np.zeros(1), np.linspace(-1, 1, 11)[:, None], 0.9)
    >>> round(float(lo[0]), 3), round(float(hi[0]), 3)
    (-0.9, 0.9)
    """
    tail = (1.0 - conf_level) / 2.0
    valid = ~np.isnan(draws)
    n_valid = valid.sum(axis=0)
    below = (draws < estimate).sum(axis=0) + 0.5 * (draws == estimate).sum(axis=0)
    prop = np.clip(below / n_valid, 0.5 / n_valid, 1.0 - 0.5 / n_valid)
    z0 = stats.norm.ppf(prop)
    d = jackknife.mean(axis=0) - jackknife
    denom = 6.0 * (d ** 2).sum(axis=0) ** 1.5
    acc = np.divide((d ** 3).sum(axis=0), denom, out=np.zeros(d.shape[1]), where=denom > 0)
    lo, hi = np.empty(draws.shape[1]), np.empty(draws.shape[1])
    for j in range(draws.shape[1]):
        probs = []
        for q in (tail, 1.0 - tail):
            zq = stats.norm.ppf(q)
            probs.append(stats.norm.cdf(z0[j] + (z0[j] + zq) / (1.0 - acc[j] * (z0[j] + zq))))
        lo[j], hi[j] = np.nanquantile(draws[:, j], probs)
    return lo, hi


def monte_carlo_coefficients(estimate: np.ndarray, vcov: np.ndarray, n_draws: int,
                             rng: np.random.Generator) -> np.ndarray:
    """Draws (n_draws, k) of coefficients from ``N(estimate, vcov)`` (Selig & Preacher 2008).

    >>> d = monte_carlo_coefficients(np.zeros(2), np.eye(2), 20000, np.random.default_rng(1))
    >>> bool(np.allclose(d.std(axis=0), 1.0, atol=0.02))
    True
    """
    # eigen-decomposition rather than Cholesky: a covariance with exact zeros or a zero variance is allowed
    vals, vecs = np.linalg.eigh((vcov + vcov.T) / 2.0)
    root = vecs * np.sqrt(np.clip(vals, 0.0, None))
    return estimate + rng.standard_normal((n_draws, estimate.size)) @ root.T


def delta_interval(estimate: np.ndarray, std_error: np.ndarray, conf_level: float) -> tuple[np.ndarray, np.ndarray]:
    """Wald interval ``estimate ± z · std_error`` (the delta method when ``std_error`` is a delta-method SE).

    >>> lo, hi = delta_interval(np.array([1.0]), np.array([0.5]), 0.95)
    >>> round(float(lo[0]), 4), round(float(hi[0]), 4)
    (0.02, 1.98)
    """
    z = stats.norm.ppf(0.5 + conf_level / 2.0)
    return estimate - z * std_error, estimate + z * std_error


def effect_interval(ci: str, conf_level: float, estimate: np.ndarray, std_error: np.ndarray,
                    draws: np.ndarray | None = None,
                    jackknife: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """The interval of ``ci`` (one of :data:`CI_METHODS`) from the draws (bootstrap or Monte Carlo, (B, k)), the
    leave-one-out estimates (BCa only, (n, k)) or the standard errors (delta method).

    >>> est, se = np.array([0.0]), np.array([1.0])
    >>> [round(float(v[0]), 2) for v in effect_interval("delta", 0.9, est, se)]
    [-1.64, 1.64]
    """
    if ci == "delta":
        return delta_interval(estimate, std_error, conf_level)
    if ci == "bca":
        return bca_interval(draws, estimate, jackknife, conf_level)
    return percentile_interval(draws, conf_level)
