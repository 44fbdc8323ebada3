r"""The fitted generalised linear mixed model: :class:`GLMMResult`.

A frozen dataclass in lme4's / glmmTMB's vocabulary (Bates et al. 2015, *J. Stat. Softw.* 67(1); Brooks et
al. 2017, *R J.* 9(2)), following the result protocol of :mod:`allianceStats.results`. Filled in once by
:func:`allianceStats.mixed.glmm.fit_glmm`, never changed afterwards.

Attributes
----------
``params``        fixed effects of the conditional model: ``term, estimate, std_error, statistic, p_value,
                  ci_lower, ci_upper`` (Wald z tests and intervals at ``conf_level``; SEs from the Hessian of
                  the approximate deviance, as lme4's ``vcov`` with ``use.hessian = TRUE`` and glmmTMB).
``zi_params``     the same for the zero-inflation model (logit scale), or None.
``varcomp``       lme4's ``as.data.frame(VarCorr(fit))``: ``group, var1, var2, vcov, sdcor`` (variances, then
                  covariances with correlations in ``sdcor``; no residual row).
``theta``         NB2 dispersion θ (Var = μ + μ²/θ; glmmTMB's ``sigma()``), None for other families.
``re_theta``      lme4's θ (``getME(fit, "theta")``): lower-triangular elements of each relative factor Λ_f.
``loglik``        the approximate marginal log-likelihood with all constants (Laplace, or AGQ with
                  ``n_agq > 1``). lme4's ``logLik`` agrees for the Laplace approximation; for nAGQ > 1 lme4
                  omits the saturated log-likelihood (its deviance-function value is ``−2 loglik + 2 Σ ℓ_sat``,
                  see ``lme4_devfun``).
``deviance``      −2 ``loglik`` (the minimised objective). lme4's ``deviance(glmerMod)`` is the *conditional*
                  deviance Σ d_i(y_i, μ̂_i) at the conditional modes: ``conditional_deviance``.
``aic, bic``      −2 loglik + 2k, + k log(n_obs), k = number of fixed effects, θ elements and NB/zero-inflation
                  parameters (lme4 and glmmTMB count the same way).
``overdispersion`` Poisson fits: Pearson χ² check (:mod:`allianceStats.mixed.glmm_checks`); else None.
``cluster_separation`` per grouping factor with a random intercept: levels whose outcome never varies and the
                  intercept SD, ``flagged`` where the SD has run away on them (near-separation by cluster; the fit
                  is then not converged, :func:`~allianceStats.mixed.glmm_checks.cluster_separation`).
``convergence``, ``provenance``, ``n_obs``, ``n_dropped``, ``n_groups``, ``conf_level``, ``singular``.

Methods: ``ranef()``, ``predict(newdata=None, *, type="link" | "response", include_random=True)``,
``fitted()``, ``residuals(type="response" | "pearson")``, ``ratios(conf_level=None)`` (odds, rate or hazard
ratios with Wald intervals), ``icc()`` (latent-scale intraclass correlations), ``summary()``.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from scipy.special import expit, ndtri

from ..data.checks import check_choice, check_conf_level
from ..errors import OptionError
from ..results import Convergence, Provenance, ResultDisplay
from .families import Family

PARAM_COLUMNS = ["term", "estimate", "std_error", "statistic", "p_value", "ci_lower", "ci_upper"]
VARCOMP_COLUMNS = ["group", "var1", "var2", "vcov", "sdcor"]
_DIST_VARIANCE = {"logit": np.pi ** 2 / 3, "probit": 1.0, "cloglog": np.pi ** 2 / 6}
_RATIO = {"logit": "odds ratio", "log": "rate ratio", "cloglog": "hazard ratio"}


@dataclass(frozen=True, repr=False)
class GLMMResult(ResultDisplay):
    """A fitted GLMM (see the module docstring for every attribute).

    Example
    -------
    >>> import numpy as np, pandas as pd
    >>> from allianceStats.mixed.glmm import fit_glmm
    >>> rng = np.random.default_rng(3)
    >>> g = np.repeat(np.arange(40), 6)
    >>> df = pd.DataFrame({"client": g.astype(str), "x": rng.normal(size=240)})
    >>> df["use"] = rng.binomial(1, 1 / (1 + np.exp(-(-0.5 + 0.8 * df.x + rng.normal(0, 1, 40)[g]))))
    >>> res = fit_glmm(df, "use ~ x + (1 | client)", family="binomial")
    >>> list(res.params.columns)
    ['term', 'estimate', 'std_error', 'statistic', 'p_value', 'ci_lower', 'ci_upper']
    >>> res.converged, res.n_obs, list(res.varcomp.group)
    (True, 240, ['client'])
    """

    formula: str
    family: str
    link: str
    n_agq: int
    params: pd.DataFrame
    zi_params: pd.DataFrame | None
    varcomp: pd.DataFrame
    fixef: pd.Series
    vcov: pd.DataFrame
    theta: float | None
    re_theta: np.ndarray
    random_cov: dict[str, pd.DataFrame]
    loglik: float
    deviance: float
    conditional_deviance: float
    lme4_devfun: float
    aic: float
    bic: float
    n_par: int
    n_obs: int
    n_dropped: int
    n_groups: dict[str, int]
    singular: bool
    conf_level: float
    convergence: Convergence
    provenance: Provenance
    overdispersion: Any
    zi: str | None
    X: np.ndarray
    y: np.ndarray
    trials: np.ndarray
    offset: np.ndarray
    groups: pd.DataFrame
    random_terms: dict[str, list[str]]
    model_frame: pd.DataFrame
    par_vcov: pd.DataFrame
    cluster_separation: pd.DataFrame | None = None
    _ranef: dict[str, pd.DataFrame] = field(default_factory=dict, repr=False)
    _eta_re: np.ndarray | None = field(default=None, repr=False)
    _zi_eta: np.ndarray | None = field(default=None, repr=False)
    _spec: Any = field(default=None, repr=False)
    _zi_spec: Any = field(default=None, repr=False)
    _offsets: tuple = field(default=(), repr=False)

    # ------------------------------------------------------------------ protocol

    @property
    def _family(self) -> Family:
        return Family(self.family, self.link)

    # ------------------------------------------------------------------ random effects and predictions
    def ranef(self) -> dict[str, pd.DataFrame]:
        """Conditional modes of the random effects (lme4's ``ranef``, glmmTMB's ``ranef()$cond``): factor ->
        DataFrame indexed by level, one column per random-effect term. Copies."""
        return {k: v.copy() for k, v in self._ranef.items()}

    def _link_predictor(self, newdata: pd.DataFrame | None, include_random: bool):
        from .design import model_matrices_for_prediction

        beta = self.fixef.to_numpy()
        if newdata is None:
            eta = self.X @ beta + self.offset
            if include_random:
                eta = eta + self._eta_re
            return eta, self._zi_eta
        X, Zs, grp = model_matrices_for_prediction(self._spec, newdata)
        eta = X @ beta
        for col, transform in self._offsets:
            if col not in newdata.columns:
                raise OptionError(f"newdata lacks the offset column {col!r} used by the model")
            v = newdata[col].to_numpy(dtype=float)
            eta = eta + (np.log(v) if transform == "log" else v)
        if include_random:
            for fac, Zf in Zs.items():
                b = self._ranef[fac]
                idx = b.index.get_indexer(grp[fac].astype(str))
                bb = np.where((idx >= 0)[:, None], b.to_numpy()[np.maximum(idx, 0)], 0.0)
                eta = eta + np.einsum("ij,ij->i", Zf, bb)
        zi_eta = None
        if self._zi_spec is not None:
            Xz, _, _ = model_matrices_for_prediction(self._zi_spec, newdata)
            zi_eta = Xz @ self.zi_params.estimate.to_numpy()
        return eta, zi_eta

    def predict(self, newdata: pd.DataFrame | None = None, *, type: str = "link",
                include_random: bool = True) -> np.ndarray:
        """Predictions on the link scale (η = Xβ + Zb + offset) or the response scale (E(y): the probability
        for binomial models, the mean count (1 − π)μ for counts). ``include_random=False`` gives the population
        prediction (lme4's ``re.form = NA``); with ``newdata``, unseen levels get 0 (``allow.new.levels``)."""
        check_choice("type", type, ("link", "response"))
        eta, zi_eta = self._link_predictor(newdata, include_random)
        if type == "link":
            return eta
        mu = self._family.linkinv(eta)
        if zi_eta is not None:
            mu = mu * expit(-zi_eta)
        return mu

    def fitted(self) -> np.ndarray:
        """Conditional fitted means E(y | b̂) per row (proportions for binomial models; lme4's ``fitted``)."""
        return self.predict(type="response")

    def residuals(self, type: str = "response") -> np.ndarray:
        """Response (y/m − μ̂) or Pearson residuals ((y/m − μ̂)/sqrt(V(μ̂)/m)) at the conditional modes."""
        check_choice("type", type, ("response", "pearson"))
        mu = self.fitted()
        yy = self.y / self.trials if self.family == "binomial" else self.y
        r = yy - mu
        if type == "response":
            return r
        if self.family == "binomial":
            var = mu * (1 - mu) / self.trials
        elif self.family == "poisson":
            var = mu
        else:
            var = mu + mu ** 2 / self.theta
        if self._zi_eta is not None:
            pi = expit(self._zi_eta)
            mc = mu / (1 - pi)
            vc = mc if self.family == "poisson" else mc + mc ** 2 / self.theta
            var = (1 - pi) * (vc + pi * mc ** 2)
        return r / np.sqrt(var)

    # ------------------------------------------------------------------ effect sizes
    def ratios(self, conf_level: float | None = None) -> pd.DataFrame:
        """exp(β) with Wald intervals: odds ratios (logit), rate ratios (log), hazard ratios (cloglog: grouped-
        time proportional hazards, Prentice & Gloeckler 1978). Columns ``term, ratio, ci_lower, ci_upper``;
        ``attrs["kind"]`` names the ratio. Not defined for the probit link (OptionError)."""
        if self.link not in _RATIO:
            raise OptionError(f"ratios() needs a logit, log or cloglog link; this model uses link={self.link!r}, "
                              "whose coefficients are not log ratios (report them on the probit scale)")
        level = self.conf_level if conf_level is None else check_conf_level(conf_level)
        z = ndtri(0.5 + level / 2)
        est, se = self.params.estimate.to_numpy(), self.params.std_error.to_numpy()
        out = pd.DataFrame({"term": self.params.term, "ratio": np.exp(est), "ci_lower": np.exp(est - z * se),
                            "ci_upper": np.exp(est + z * se)})
        out.attrs["kind"] = _RATIO[self.link]
        out.attrs["conf_level"] = level
        return out

    def icc(self) -> pd.DataFrame:
        """Latent-scale intraclass correlations of the random intercepts (Nakagawa, Johnson & Schielzeth 2017,
        *J. R. Soc. Interface* 14: 20170213).

        ICC_g = σ²_g / (Σ_h σ²_h + σ²_d), σ²_h the random-intercept variances. σ²_d is π²/3 (logit), 1 (probit),
        π²/6 (cloglog) — the latent-variable scale — and for counts the lognormal approximation
        log(1 + 1/λ) (Poisson) or log(1 + 1/λ + 1/θ) (NB2), λ = exp(mean(Xβ + offset) + Σσ²_h/2). Random slopes
        are left out (the intercept variance is the one at covariate 0). Columns ``group, variance, icc``;
        the last row ``"distribution"`` holds σ²_d. Not defined for zero-inflated models.
        """
        if self.zi is not None:
            raise OptionError("icc() is not defined for zero-inflated models (the zero part has no latent scale)")
        rows = []
        for g, cov in self.random_cov.items():
            if "(Intercept)" in cov.index:
                rows.append((g, float(cov.loc["(Intercept)", "(Intercept)"])))
        total = sum(v for _, v in rows)
        if self.family == "binomial":
            dist = _DIST_VARIANCE[self.link]
        else:
            lam = np.exp(np.mean(self.X @ self.fixef.to_numpy() + self.offset) + total / 2)
            dist = float(np.log1p(1 / lam + (1 / self.theta if self.family == "negative_binomial" else 0.0)))
        out = pd.DataFrame([(g, v, v / (total + dist)) for g, v in rows] + [("distribution", dist, np.nan)],
                           columns=["group", "variance", "icc"])
        return out

    # ------------------------------------------------------------------ text
    def summary(self) -> str:
        """A text summary laid out like lme4's ``summary(glmer(...))``."""
        approx = ("Laplace approximation" if self.n_agq == 1
                  else f"adaptive Gauss-Hermite quadrature (nAGQ = {self.n_agq})")
        lines = [f"Generalized linear mixed model fit by maximum likelihood ({approx})",
                 f" Family: {self.family} ( {self.link} )" + (f", theta = {self.theta:.4g}" if self.theta else ""),
                 f"Formula: {self.formula}"]
        if self.zi:
            lines.append(f"Zero inflation: {self.zi}")
        lines += ["", "     AIC      BIC   logLik deviance",
                  f"{self.aic:8.1f} {self.bic:8.1f} {self.loglik:8.1f} {self.deviance:8.1f}", "", "Random effects:"]
        rows = [("Groups", "Name", "Variance", "Std.Dev.", "Corr")]
        for fac, names in self.random_terms.items():
            cov = self.random_cov[fac].to_numpy()
            sd = np.sqrt(np.diag(cov))
            for k, nm in enumerate(names):
                corr = ""
                if k > 0:
                    with np.errstate(invalid="ignore", divide="ignore"):
                        corr = " ".join(f"{c:5.2f}" for c in cov[k, :k] / (sd[k] * sd[:k]))
                rows.append((fac if k == 0 else "", nm, f"{cov[k, k]:.4g}", f"{sd[k]:.4g}", corr))
        widths = [max(len(r[i]) for r in rows) for i in range(5)]
        lines += [" " + " ".join(s.ljust(w) for s, w in zip(r, widths)).rstrip() for r in rows]
        lines.append(f"Number of obs: {self.n_obs}, groups:  "
                     + "; ".join(f"{k}, {v}" for k, v in self.n_groups.items()))
        if self.n_dropped:
            lines.append(f"({self.n_dropped} rows dropped for missing values)")
        for title, tab in (("Fixed effects:", self.params), ("Zero-inflation model:", self.zi_params)):
            if tab is None:
                continue
            t = tab.set_index("term")[["estimate", "std_error", "statistic", "p_value"]]
            t.columns = ["Estimate", "Std. Error", "z value", "Pr(>|z|)"]
            t.index.name = None
            lines += ["", title, t.to_string(float_format=lambda v: f"{v:.4g}")]
        lines.append(f"Wald z intervals at level {self.conf_level:g} in .params")
        if self.overdispersion is not None and self.overdispersion.overdispersed:
            od = self.overdispersion
            lines.append(f"Overdispersion: Pearson chi2/df = {od.ratio:.3g} (p = {od.p_value:.2g}); consider "
                         "family='negative_binomial'")
        if self.singular:
            lines.append("boundary (singular) fit: see help('isSingular')")
        if not self.converged:
            lines.append(f"WARNING: convergence check failed: {'; '.join(self.convergence.warnings)}")
        return "\n".join(lines)

    def __repr__(self) -> str:
        state = "converged" if self.converged else "NOT converged"
        extra = f", theta={self.theta:.4g}" if self.theta else ""
        return (f"GLMMResult({self.family}/{self.link}{extra}, {self.formula!r}, n_obs={self.n_obs}, "
                f"logLik={self.loglik:.4f}, {state}{', singular' if self.singular else ''})")
