r"""Explained variance (R²) of a fitted linear mixed model.

Notation: :math:`\hat y^f_i = x_i^\top\hat\beta` is the fixed-effects prediction of row :math:`i`; for each
grouping factor :math:`g` (client, therapist), :math:`z_{gi}` is the row's vector of random-effect covariates
(1 for an intercept, the value of a random-slope variable) and :math:`\Sigma_g` the estimated covariance of
that factor's random effects; :math:`\sigma^2` is the residual variance. "var" and "cov" are sample
(co)variances over the rows used by the fit (divisor :math:`n-1`).

Nakagawa & Schielzeth (2013), with Johnson's (2014) extension to random slopes
--------------------------------------------------------------------------------
:math:`\sigma^2_f = \operatorname{var}(\hat y^f)`, :math:`\sigma^2_r = \sum_g \frac1n\sum_i z_{gi}^\top
\Sigma_g z_{gi}` (the random-effects variance averaged over the rows; with random intercepts only it is
:math:`\sum_g \tau^2_g`), and

.. math:: R^2_{marginal} = \frac{\sigma^2_f}{\sigma^2_f+\sigma^2_r+\sigma^2},\qquad
          R^2_{conditional} = \frac{\sigma^2_f+\sigma^2_r}{\sigma^2_f+\sigma^2_r+\sigma^2}.

These are the values of ``MuMIn::r.squaredGLMM`` / ``performance::r2_nakagawa`` for linear mixed models.

Rights & Sterba (2019) decomposition
------------------------------------
With clusters = the lowest grouping factor (clients), split every row-level quantity into its cluster mean
(written :math:`\bar{\cdot}_{j}`) and the deviation from it. Then

``f1`` (fixed, within)    :math:`\operatorname{var}(\hat y^f_i - \bar{\hat y}^f_j)`
``f2`` (fixed, between)   :math:`\operatorname{var}(\bar{\hat y}^f_j)` — so :math:`f_1 + f_2 = \sigma^2_f`
``v`` (slope variation)   :math:`\sum_g \operatorname{tr}\{\Sigma_g \operatorname{cov}(z_{gi} - \bar z_{gj})\}`
``m`` (mean variation)    :math:`\sum_g [\operatorname{tr}\{\Sigma_g\operatorname{cov}(\bar z_{gj})\} +
                          \bar z_g^\top \Sigma_g \bar z_g]` (:math:`\bar z_g`: the column means)
``residual``              :math:`\sigma^2`

When level-1 predictors are cluster-mean-centred, level-2 predictors are constant within clusters and random
slopes sit on centred predictors — the design of Rights & Sterba — these are exactly their
:math:`f_1=\gamma_w^\top\Phi_w\gamma_w`, :math:`f_2=\gamma_b^\top\Phi_b\gamma_b`, :math:`v=\operatorname{tr}(T\Phi_w)`
and :math:`m=\tau_{00}` (the fixture script checks this identity in R). For other designs (e.g. a random slope
of time, or a therapist intercept) the same split keeps :math:`f_1+f_2+v+m+\sigma^2` a decomposition of the
model-implied variance and puts everything that is constant within a client (therapist variance, between-client
differences in the random part) in ``m``. The measures, with :math:`T = f_1+f_2+v+m+\sigma^2`,
:math:`W = f_1+v+\sigma^2`, :math:`B = f_2+m`:

total: :math:`R^2_{t}(f_1)=f_1/T`, :math:`R^2_t(f_2)`, :math:`R^2_t(v)`, :math:`R^2_t(m)`,
:math:`R^2_t(f)=(f_1+f_2)/T`, :math:`R^2_t(fv)`, :math:`R^2_t(fvm)`;
within: :math:`R^2_w(f_1)=f_1/W`, :math:`R^2_w(v)=v/W`, :math:`R^2_w(f_1v)`;
between: :math:`R^2_b(f_2)=f_2/B`, :math:`R^2_b(m)=m/B`.

(:math:`R^2_t(f)` differs from Nakagawa's marginal :math:`R^2` only by the divisor of :math:`v + m`, a mean
over rows in Johnson's formula and a sample variance in Rights & Sterba's.)

References: Nakagawa, S., & Schielzeth, H. (2013). *Methods Ecol. Evol.* 4(2), 133–142. Johnson, P. C. D.
(2014). *Methods Ecol. Evol.* 5(9), 944–946. Rights, J. D., & Sterba, S. K. (2019). Quantifying explained
variance in multilevel models. *Psychol. Methods* 24(3), 309–338.
"""
from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
import pandas as pd

from .._deprecation import renamed_attribute
from ..errors import OptionError
from ..results import Convergence, Provenance, ResultDisplay, make_provenance

_DEFINITIONS = {
    "marginal": "var_fixed / (var_fixed + var_random + sigma2)  [Nakagawa & Schielzeth; Johnson]",
    "conditional": "(var_fixed + var_random) / (var_fixed + var_random + sigma2)",
    "total_f1": "f1 / total: within-client fixed effects",
    "total_f2": "f2 / total: between-client fixed effects",
    "total_v": "v / total: random-slope variation",
    "total_m": "m / total: random-intercept (cluster-mean) variation",
    "total_f": "(f1 + f2) / total",
    "total_fv": "(f1 + f2 + v) / total",
    "total_fvm": "(f1 + f2 + v + m) / total",
    "within_f1": "f1 / (f1 + v + sigma2)",
    "within_v": "v / (f1 + v + sigma2)",
    "within_f1v": "(f1 + v) / (f1 + v + sigma2)",
    "between_f2": "f2 / (f2 + m)",
    "between_m": "m / (f2 + m)",
}
_COMPONENTS = {
    "var_fixed": "var(X beta)",
    "var_random": "sum over factors of mean over rows of z' Sigma z  [Johnson 2014]",
    "f1": "var(X beta - client mean of X beta)",
    "f2": "var(client mean of X beta)",
    "v": "sum over factors of tr(Sigma cov(z - client mean of z))",
    "m": "sum over factors of tr(Sigma cov(client mean of z)) + zbar' Sigma zbar",
    "residual": "sigma2",
}


@dataclass(frozen=True, repr=False)
class R2Result(ResultDisplay):
    """R² of a mixed model: Nakagawa–Schielzeth–Johnson and the Rights & Sterba (2019) set.

    Attributes
    ----------
    marginal, conditional : float
        Nakagawa & Schielzeth's (2013) R² with Johnson's (2014) random-slope term.
    variances : pandas.DataFrame
        Columns ``component, variance, definition`` (``var_fixed, var_random, f1, f2, v, m, residual``).
    measures : pandas.DataFrame
        Columns ``measure, value, definition`` (``marginal, conditional, total_*, within_*, between_*``; see
        :mod:`allianceStats.mixed.explained_variance`); ``res["within_f1"]`` reads one value.
    by_factor : pandas.DataFrame
        Columns ``group, var_random, v, m``: each grouping factor's share of the random-effects variances
        (e.g. how much of ``m`` is therapist variance in a three-level model).
    cluster : str
        The grouping factor that defines "within" and "between".
    n_obs : int
        Rows of the fit.
    conf_level : float
        The fit's confidence level (these R² are point values; no interval is computed).
    convergence, provenance
        The fit's convergence (R² of a non-converged fit inherit its doubt); provenance of this call
        (``function="r2"``). ``converged`` reads ``convergence``; ``nobs`` is the pre-0.2.0 name of
        ``n_obs`` (warns until 0.3.0).
    """

    marginal: float
    conditional: float
    variances: pd.DataFrame
    measures: pd.DataFrame
    by_factor: pd.DataFrame
    cluster: str
    n_obs: int
    conf_level: float
    convergence: Convergence
    provenance: Provenance

    nobs = renamed_attribute("nobs", "n_obs")

    def __getitem__(self, measure: str) -> float:
        """The value of one measure by name, e.g. ``res["within_f1"]``."""
        hit = self.measures.loc[self.measures.measure == measure, "value"]
        if hit.empty:
            raise KeyError(f"no R² measure {measure!r}; choose from {list(self.measures.measure)}")
        return float(hit.iloc[0])

    def summary(self) -> str:
        """A short text table of all measures."""
        lines = [f"R² of a linear mixed model ({self.n_obs} rows; within/between with respect to "
                 f"{self.cluster!r})",
                 f"  Nakagawa & Schielzeth marginal    {self.marginal:.4f}",
                 f"  Nakagawa & Schielzeth conditional {self.conditional:.4f}",
                 "  Rights & Sterba (2019):"]
        for _, row in self.measures.iloc[2:].iterrows():
            lines.append(f"    {row.measure:<11} {row.value:.4f}   {row.definition}")
        lines.append("  Random-effects variance by grouping factor (Johnson's mean; R&S v and m):")
        for _, row in self.by_factor.iterrows():
            lines.append(f"    {row.group:<11} {row.var_random:.4g}   v {row.v:.4g}   m {row.m:.4g}")
        if not self.converged:
            lines.append(f"WARNING: the fit did not converge: {self.convergence.message}")
        return "\n".join(lines)

    def __str__(self) -> str:  # pragma: no cover - convenience
        return self.summary()


def _cluster_means(values: np.ndarray, codes: np.ndarray, n_clusters: int) -> np.ndarray:
    """Per-row cluster means of the columns of ``values`` (n × k)."""
    counts = np.bincount(codes, minlength=n_clusters).astype(np.float64)
    sums = np.stack([np.bincount(codes, weights=values[:, k], minlength=n_clusters)
                     for k in range(values.shape[1])], axis=1)
    return (sums / counts[:, None])[codes]


def _cov(a: np.ndarray) -> np.ndarray:
    return np.atleast_2d(np.cov(a, rowvar=False, ddof=1))


def r2(fit) -> R2Result:
    """Marginal / conditional R² (Nakagawa & Schielzeth 2013; Johnson 2014) and Rights & Sterba (2019) R².

    Definitions and the treatment of random slopes and three-level models are in the module docstring.
    "Within" and "between" refer to the lowest grouping factor of the fit (clients), so three-level fits put
    the therapist variance in the between-client part ``m``.

    Parameters
    ----------
    fit : MixedResult
        A fit from :func:`allianceStats.mixed.fit_mlm` (REML or ML).

    Returns
    -------
    R2Result
        The two Nakagawa–Schielzeth values, the Rights & Sterba measures and the variances they divide, and
        the result protocol (``n_obs``, ``converged`` — the fit's —, ``provenance``).

    Raises
    ------
    OptionError
        ``fit`` is not a mixed-model fit, or it has no random effects.

    Notes
    -----
    Validated against explicit formulas evaluated on lme4 1.1-31 fits
    (``tests/mixed/fixtures/extras_fixtures.R``; marginal and conditional R² also equal
    ``performance::r2_nakagawa`` 0.10.2 there) to 1e-5.

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> from allianceStats.mixed import fit_mlm
    >>> from allianceStats.mixed.explained_variance import r2
    >>> rng = np.random.default_rng(3)
    >>> g = np.repeat(np.arange(50), 6)
    >>> x = rng.normal(size=300)
    >>> d = pd.DataFrame({"client": g.astype(str), "x": x})
    >>> d["x_w"] = d.x - d.groupby("client").x.transform("mean")
    >>> d["x_b"] = d.x - d.x_w
    >>> d["y"] = 0.5 * d.x_w + 0.8 * d.x_b + rng.normal(0, 1, 50)[g] + rng.normal(size=300)
    >>> res = r2(fit_mlm(d, "y ~ x_w + x_b + (1 | client)"))
    >>> bool(0 < res.marginal < res.conditional < 1), res.n_obs, res.converged
    (True, 300, True)
    >>> round(res["total_f1"] + res["total_f2"], 10) == round(res["total_f"], 10)
    True
    """
    started = time.perf_counter()
    for attr in ("X", "fixef", "Z", "random_cov", "groups", "random_terms", "sigma"):
        if not hasattr(fit, attr):
            raise OptionError(
                f"r2() takes a fitted mixed model from fit_mlm(); got {type(fit).__name__} without .{attr}.")
    factors = list(fit.random_terms)
    if not factors:
        raise OptionError("r2(): the fit has no random effects; use an ordinary R² for a linear model.")
    # lme4 orders factors by number of levels (most first): in a nested design the first is the lowest level
    cluster = factors[0]
    codes, uniques = pd.factorize(fit.groups[cluster], sort=False)
    n_clusters = len(uniques)
    yf = np.asarray(fit.X, dtype=np.float64) @ fit.fixef.to_numpy(dtype=np.float64)
    n = yf.shape[0]
    sigma2 = float(fit.sigma) ** 2

    var_fixed = float(np.var(yf, ddof=1))
    yf_between = _cluster_means(yf[:, None], codes, n_clusters)[:, 0]
    f1 = float(np.var(yf - yf_between, ddof=1))
    f2 = float(np.var(yf_between, ddof=1))

    per_factor = []
    for fac in factors:
        Z = np.asarray(fit.Z[fac], dtype=np.float64).reshape(n, -1)
        S = fit.random_cov[fac].to_numpy(dtype=np.float64)
        Zb = _cluster_means(Z, codes, n_clusters)
        zbar = Z.mean(axis=0)
        per_factor.append((str(fac), float(np.mean(np.einsum("ij,jk,ik->i", Z, S, Z))),
                           float(np.trace(S @ _cov(Z - Zb))), float(np.trace(S @ _cov(Zb)) + zbar @ S @ zbar)))
    by_factor = pd.DataFrame(per_factor, columns=["group", "var_random", "v", "m"])
    var_random, v, m = (float(by_factor[c].sum()) for c in ("var_random", "v", "m"))

    denom_ns = var_fixed + var_random + sigma2
    total = f1 + f2 + v + m + sigma2
    within = f1 + v + sigma2
    between = f2 + m
    values = {
        "marginal": var_fixed / denom_ns,
        "conditional": (var_fixed + var_random) / denom_ns,
        "total_f1": f1 / total, "total_f2": f2 / total, "total_v": v / total, "total_m": m / total,
        "total_f": (f1 + f2) / total, "total_fv": (f1 + f2 + v) / total, "total_fvm": (f1 + f2 + v + m) / total,
        "within_f1": f1 / within, "within_v": v / within, "within_f1v": (f1 + v) / within,
        "between_f2": f2 / between if between > 0 else np.nan,
        "between_m": m / between if between > 0 else np.nan,
    }
    measures = pd.DataFrame({"measure": list(values), "value": np.array(list(values.values()), dtype=float),
                             "definition": [_DEFINITIONS[k] for k in values]})
    comps = {"var_fixed": var_fixed, "var_random": var_random, "f1": f1, "f2": f2, "v": v, "m": m,
             "residual": sigma2}
    variances = pd.DataFrame({"component": list(comps), "variance": np.array(list(comps.values()), dtype=float),
                              "definition": [_COMPONENTS[k] for k in comps]})
    return R2Result(marginal=float(values["marginal"]), conditional=float(values["conditional"]),
                    variances=variances, measures=measures, by_factor=by_factor, cluster=str(cluster),
                    n_obs=int(n), conf_level=fit.conf_level, convergence=fit.convergence,
                    provenance=make_provenance(fit.model_frame, options={"formula": fit.formula}, function="r2",
                                               started=started))
