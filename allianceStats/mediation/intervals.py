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

With draws (bootstrap or Monte Carlo) the p-value of an effect is the interval inverted as a test
(:func:`interval_p_value`), so that ``p < 1 - conf_level`` exactly when the interval excludes 0, and the standard
error is the standard deviation of the draws (:func:`draw_inference`); with ``"delta"`` both are the Wald ones.

References: Efron, B. (1987). Better bootstrap confidence intervals. *JASA* 82(397), 171-185.
Selig, J. P., & Preacher, K. J. (2008). Monte Carlo method for assessing mediation [computer software].
Preacher, K. J., & Selig, J. P. (2012). Advantages of Monte Carlo confidence intervals for indirect effects.
*Communication Methods and Measures* 6(2), 77-98.
MacKinnon, D. P. (2008). *Introduction to Statistical Mediation Analysis*. Erlbaum.
Davison, A. C., & Hinkley, D. V. (1997). *Bootstrap Methods and their Application*. Cambridge University Press.
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


def _bca_constants(draws: np.ndarray, estimate: np.ndarray, jackknife: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """BCa's bias correction ``z0`` and jackknife acceleration ``acc`` per column (Efron 1987)."""
    valid = ~np.isnan(draws)
    n_valid = valid.sum(axis=0)
    below = (draws < estimate).sum(axis=0) + 0.5 * (draws == estimate).sum(axis=0)
    prop = np.clip(below / n_valid, 0.5 / n_valid, 1.0 - 0.5 / n_valid)
    z0 = stats.norm.ppf(prop)
    d = jackknife.mean(axis=0) - jackknife
    denom = 6.0 * (d ** 2).sum(axis=0) ** 1.5
    acc = np.divide((d ** 3).sum(axis=0), denom, out=np.zeros(d.shape[1]), where=denom > 0)
    return z0, acc


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
    z0, acc = _bca_constants(draws, estimate, jackknife)
    lo, hi = np.empty(draws.shape[1]), np.empty(draws.shape[1])
    for j in range(draws.shape[1]):
        probs = []
        for q in (tail, 1.0 - tail):
            zq = stats.norm.ppf(q)
            probs.append(stats.norm.cdf(z0[j] + (z0[j] + zq) / (1.0 - acc[j] * (z0[j] + zq))))
        lo[j], hi[j] = np.nanquantile(draws[:, j], probs)
    return lo, hi


def zero_quantile_level(draws: np.ndarray) -> np.ndarray:
    """Column-wise level ``q0`` at which the quantile function of the draws (R's type 7, numpy's default, as in
    the intervals) passes through 0: 0 when every draw is above 0, 1 when every draw is below; NaN draws ignored.

    >>> zero_quantile_level(np.array([[-1.0], [1.0], [2.0]]))
    array([0.25])
    """
    out = np.full(draws.shape[1], np.nan)
    for j in range(draws.shape[1]):
        s = np.sort(draws[~np.isnan(draws[:, j]), j])
        if s.size < 2:
            continue
        n_neg, n_zero = int((s < 0).sum()), int((s == 0).sum())
        if n_neg == 0 and n_zero == 0:
            out[j] = 0.0
        elif n_neg == s.size:
            out[j] = 1.0
        elif n_zero:  # the quantile function is 0 over a run of draws: its middle
            out[j] = (n_neg + (n_zero - 1) / 2.0) / (s.size - 1)
        else:  # linear interpolation between the last negative and the first positive draw
            k = n_neg - 1
            out[j] = (k + (0.0 - s[k]) / (s[k + 1] - s[k])) / (s.size - 1)
    return out


def interval_p_value(ci: str, estimate: np.ndarray, draws: np.ndarray,
                     jackknife: np.ndarray | None = None) -> np.ndarray:
    """Two-sided p-value of ``estimate = 0`` that agrees with the interval of ``ci`` by construction: the smallest
    ``1 - conf_level`` at which the ``"percentile"`` (also ``"monte_carlo"``) or ``"bca"`` interval of the same
    draws excludes 0, so ``p < 1 - conf_level`` exactly when the interval at ``conf_level`` excludes 0 (the
    interval inverted as a test; Davison & Hinkley 1997, ch. 4-5).

    Percentile: ``p = 2 min(q0, 1 - q0)`` with ``q0`` the level at which the draws' quantile function is 0
    (:func:`zero_quantile_level`). BCa: the BCa limit at nominal level ``tau`` is the draws' quantile at
    ``Phi(z0 + (z0 + z_tau) / (1 - acc (z0 + z_tau)))``; solving for the ``tau`` whose limit is 0 gives
    ``z_tau = w / (1 + acc w) - z0`` with ``w = Phi^-1(q0) - z0``, and ``p = 2 min(tau, 1 - tau)``. A p-value of
    0 means that 0 lies beyond every draw: it is below the resolution of the draws (about ``2 / n_draws``).

    >>> d = np.linspace(-0.5, 1.5, 2001)[:, None]  # 25% of the draws below 0
    >>> round(float(interval_p_value("percentile", np.array([0.5]), d)[0]), 6)
    0.5
    """
    q0 = zero_quantile_level(draws)
    if ci == "bca":
        z0, acc = _bca_constants(draws, estimate, jackknife)
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            w = stats.norm.ppf(q0) - z0
            inside = np.where(np.isinf(w), True, 1.0 + acc * w > 0)
            u = np.where(np.isinf(w), np.where(acc == 0, w, 1.0 / np.where(acc == 0, 1.0, acc)),
                         w / (1.0 + acc * w))
            # beyond the range BCa's mapping can reach: 0 is outside the interval at every level
            tau = np.where(inside, stats.norm.cdf(u - z0), np.where(acc > 0, 0.0, 1.0))
        tau = np.where(np.isnan(q0), np.nan, tau)
    else:
        tau = q0
    return np.minimum(1.0, 2.0 * np.minimum(tau, 1.0 - tau))


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


def draw_inference(ci: str, conf_level: float, estimate: np.ndarray, std_error: np.ndarray,
                   draws: np.ndarray | None = None, jackknife: np.ndarray | None = None) -> dict[str, np.ndarray]:
    """``std_error, statistic, p_value, ci_lower, ci_upper`` of every quantity by one method, so that no column
    contradicts another.

    - ``"delta"``: the given (model or delta-method) standard errors, Wald z, its p-value and the Wald interval.
    - draws (``"percentile"``, ``"bca"``, ``"monte_carlo"``): the standard deviation of the draws, no test
      statistic (NaN: the p-value is not a z test), the interval of ``ci`` and the p-value that inverts it
      (:func:`interval_p_value`).

    >>> out = draw_inference("delta", 0.95, np.array([0.4]), np.array([0.2]))
    >>> round(float(out["statistic"][0]), 6), round(float(out["p_value"][0]), 4)
    (2.0, 0.0455)
    """
    estimate = np.asarray(estimate, dtype=float)
    if ci == "delta":
        std_error = np.asarray(std_error, dtype=float)
        with np.errstate(divide="ignore", invalid="ignore"):
            z = np.where(std_error > 0, estimate / std_error, np.nan)
        lower, upper = delta_interval(estimate, std_error, conf_level)
        return {"std_error": std_error, "statistic": z, "p_value": 2 * stats.norm.sf(np.abs(z)),
                "ci_lower": lower, "ci_upper": upper}
    lower, upper = effect_interval(ci, conf_level, estimate, std_error, draws, jackknife)
    with np.errstate(invalid="ignore"):  # row by row of the transpose: equal draws give bit-for-bit equal SDs
        sd = np.nanstd(np.ascontiguousarray(np.asarray(draws, dtype=float).T), axis=1, ddof=1)
    return {"std_error": sd, "statistic": np.full(estimate.shape, np.nan),
            "p_value": interval_p_value(ci, estimate, draws, jackknife), "ci_lower": lower, "ci_upper": upper}
