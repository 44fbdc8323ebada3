"""The fitted linear mixed model: :class:`MixedResult`.

A frozen dataclass holding everything a fit produced, in the vocabulary of lme4 / lmerTest (Bates et al.
2015, *J. Stat. Softw.* 67(1); Kuznetsova et al. 2017, *J. Stat. Softw.* 82(13)), plus the design pieces
that downstream helpers (ICC, R², likelihood-ratio comparison) build on. Nothing here estimates; the
engine (:mod:`allianceStats.mixed.engine`) fills it in once and it is never changed afterwards.

Stable attributes (other modules rely on these names and meanings)
-------------------------------------------------------------------
``formula`` (str)            the formula as given.
``params`` (DataFrame)       one row per fixed effect; columns exactly ``term, estimate, std_error, df,
                             statistic, p_value, ci_lower, ci_upper``. ``df`` is Satterthwaite's (as
                             lmerTest), ``statistic`` the t value, CIs are Wald t intervals at
                             ``conf_level``.
``conf_level`` (float)       confidence level of ``ci_lower``/``ci_upper`` (default 0.95).
``varcomp`` (DataFrame)      columns exactly ``group, var1, var2, vcov, sdcor`` as lme4's
                             ``as.data.frame(VarCorr(fit))``: per grouping factor (lme4's order: the
                             factor with more levels first) the variances, then the covariances in
                             lower-triangle order, then the ``Residual`` row; ``var2`` is NaN for
                             variances; ``sdcor`` is the SD for variances and the correlation for covariances.
``fixef`` (Series)           fixed-effect estimates indexed by term; ``vcov`` (DataFrame) their covariance.
``theta`` (ndarray)          lme4's θ: the lower-triangular elements (column-major, per factor in
                             ``random_terms`` order) of the relative covariance factors Λ.
``sigma`` (float)            residual standard deviation.
``random_cov`` (dict)        factor -> DataFrame: the covariance matrix of that factor's random effects
                             (σ² Λ Λᵀ), indexed by its Z column names.
``loglik, deviance, aic, bic`` (float)  ``deviance`` is the REML criterion under REML and −2·logLik under
                             ML (lme4's ``REMLcrit`` / ``deviance``); ``loglik`` is the (restricted)
                             log-likelihood; AIC/BIC as lme4's (BIC with log(n_obs)); with a residual
                             AR(1), nlme's (REML BIC with log(n_obs − p)).
``n_obs`` (int)              rows used; ``n_dropped`` rows dropped for missing values in used columns.
``n_groups`` (dict)          factor -> number of levels among the rows used.
``reml``, ``singular`` (bool); ``correlation`` (None or ``"ar1"``), ``ar1_phi`` (float or None): the
                             residual AR(1) parameter when ``correlation="ar1"``.
``convergence`` (:class:`~allianceStats.results.Convergence`; ``converged`` is a property reading it),
                             ``provenance`` (:class:`~allianceStats.results.Provenance`, with
                             ``function="fit_mlm"`` and the resolved options).

Renamed in 0.2.0 (the old names still work, with a FutureWarning, until 0.3.0): ``nobs`` → ``n_obs``,
``level`` → ``conf_level``, ``ngroups`` → ``n_groups``.
Design pieces (rows in the order of ``model_frame``):
``X`` (ndarray n×p)          fixed-effects design, columns named ``fixef.index``.
``y`` (ndarray n)            response.
``groups`` (DataFrame)       grouping labels per used row, one column per factor.
``random_terms`` (dict)      factor -> list of its Z column names, e.g. ``{"client": ["(Intercept)",
                             "session0"], "therapist": ["(Intercept)"]}`` (lme4's factor order).
``Z`` (dict)                 factor -> ndarray n×q: the row-level random-effect covariates of that factor.
``model_frame`` (DataFrame)  the used rows and columns of the input (a copy); refit with
                             ``fit_mlm(res.formula, res.model_frame, reml=..., correlation=res.correlation)``.
``varpar_vcov`` (ndarray)    asymptotic covariance of the variance parameters (θ, [φ,] σ) used for the
                             Satterthwaite df (2 × inverse Hessian of the deviance, as lmerTest).

Methods: ``ranef()``, ``predict(newdata=None, *, include_random=True)``, ``fitted()``, ``residuals()``,
``summary()``.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from .._deprecation import renamed_attribute
from ..results import Convergence, Provenance, ResultDisplay

PARAM_COLUMNS = ["term", "estimate", "std_error", "df", "statistic", "p_value", "ci_lower", "ci_upper"]
VARCOMP_COLUMNS = ["group", "var1", "var2", "vcov", "sdcor"]


@dataclass(frozen=True, repr=False)
class MixedResult(ResultDisplay):
    """A fitted linear mixed model (see the module docstring for every attribute).

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> from allianceStats.mixed import fit_mlm
    >>> rng = np.random.default_rng(1)
    >>> g = np.repeat(np.arange(30), 5)
    >>> df = pd.DataFrame({"g": g.astype(str), "x": rng.normal(size=150)})
    >>> df["y"] = 1 + 0.5 * df.x + rng.normal(size=30)[g] + rng.normal(size=150)
    >>> res = fit_mlm(df, "y ~ x + (1 | g)")
    >>> list(res.params.columns)
    ['term', 'estimate', 'std_error', 'df', 'statistic', 'p_value', 'ci_lower', 'ci_upper']
    >>> list(res.varcomp.group)
    ['g', 'Residual']
    >>> res.n_obs, res.conf_level, res.converged, res.ranef()["g"].shape
    (150, 0.95, True, (30, 1))
    >>> new = pd.DataFrame({"x": [0.0, 0.0], "g": ["0", "a new client"]})
    >>> bool(np.isclose(res.predict(new)[1], res.fixef["(Intercept)"]))  # a new client: no random effect
    True
    """

    formula: str
    params: pd.DataFrame
    varcomp: pd.DataFrame
    fixef: pd.Series
    vcov: pd.DataFrame
    theta: np.ndarray
    sigma: float
    random_cov: dict[str, pd.DataFrame]
    loglik: float
    deviance: float
    aic: float
    bic: float
    n_obs: int
    n_dropped: int
    n_groups: dict[str, int]
    reml: bool
    singular: bool
    conf_level: float
    convergence: Convergence
    provenance: Provenance
    X: np.ndarray
    y: np.ndarray
    groups: pd.DataFrame
    random_terms: dict[str, list[str]]
    Z: dict[str, np.ndarray]
    model_frame: pd.DataFrame
    varpar_vcov: np.ndarray
    correlation: str | None = None
    ar1_phi: float | None = None
    # private: BLUPs per factor and the design specification used by predict()
    _ranef: dict[str, pd.DataFrame] = field(default_factory=dict, repr=False)
    _spec: Any = field(default=None, repr=False)
    # private: what anova() / summary() derive from the fit once (lmerTest keeps vcov_varpar and the Jacobian of
    # cov(β̂) on the fitted object); see _cached. Shared by the copies dataclasses.replace makes, which is safe
    # because every entry is checked against the attributes it was computed from.
    _cache: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    # ------------------------------------------------------------------ the result protocol

    nobs = renamed_attribute("nobs", "n_obs")
    level = renamed_attribute("level", "conf_level")
    ngroups = renamed_attribute("ngroups", "n_groups")

    def _cached(self, key: str, compute, *depends):
        """``compute()`` once per fit: the value stored under ``key`` is reused while ``depends`` (the attributes
        it was computed from) are the very same objects; a copy made by ``dataclasses.replace`` with new values
        (another θ, σ, X …) gets the value recomputed, never a stale one."""
        hit = self._cache.get(key)
        if hit is not None and len(hit[0]) == len(depends) and all(a is b for a, b in zip(hit[0], depends)):
            return hit[1]
        value = compute()
        self._cache[key] = (depends, value)
        return value

    # ------------------------------------------------------------------ random effects and predictions
    def ranef(self) -> dict[str, pd.DataFrame]:
        """Conditional modes (BLUPs) of the random effects, lme4's ``ranef(fit)``.

        Returns a dict factor -> DataFrame indexed by the factor's levels (sorted as lme4 sorts them),
        one column per Z column (``random_terms[factor]``). Copies: changing them changes nothing here.
        """
        return {k: v.copy() for k, v in self._ranef.items()}

    def predict(self, newdata: pd.DataFrame | None = None, *, include_random: bool = True) -> np.ndarray:
        """Predictions ``Xβ̂`` (``include_random=False``) or ``Xβ̂ + Zb̂`` (lme4's ``predict(fit)``).

        Parameters
        ----------
        newdata : pandas.DataFrame, optional
            Rows to predict (default: the rows of the fit). Rows whose grouping level was not in the fit get
            the population prediction for that factor (lme4's ``allow.new.levels=TRUE``).
        include_random : bool, default True
            Add the random effects' conditional modes.

        Returns
        -------
        numpy.ndarray
            One prediction per row.

        Raises
        ------
        SchemaError
            ``newdata`` lacks a column, has missing values, or a factor level the fit did not see.

        Examples
        --------
        The class example predicts for a new client.
        """
        from ..data.checks import check_bool
        from .design import model_matrices_for_prediction

        include_random = check_bool("include_random", include_random)

        if newdata is None:
            out = self.X @ self.fixef.to_numpy()
            if include_random:
                for fac, Zf in self.Z.items():
                    b = self._ranef[fac]
                    idx = b.index.get_indexer(self.groups[fac])
                    out = out + np.einsum("ij,ij->i", Zf, b.to_numpy()[idx])
            return out
        X, Zs, grp = model_matrices_for_prediction(self._spec, newdata)
        out = X @ self.fixef.to_numpy()
        if include_random:
            for fac, Zf in Zs.items():
                b = self._ranef[fac]
                idx = b.index.get_indexer(grp[fac].astype(str))
                bb = np.where((idx >= 0)[:, None], b.to_numpy()[np.maximum(idx, 0)], 0.0)
                out = out + np.einsum("ij,ij->i", Zf, bb)
        return out

    def fitted(self) -> np.ndarray:
        """Conditional fitted values ``Xβ̂ + Zb̂`` for the rows used (lme4's ``fitted(fit)``)."""
        return self.predict()

    def residuals(self) -> np.ndarray:
        """Conditional residuals ``y − Xβ̂ − Zb̂`` (lme4's ``residuals(fit)``)."""
        return self.y - self.predict()

    # ------------------------------------------------------------------ text
    def summary(self, correlation: bool = False) -> str:
        """A text summary laid out as lmerTest prints ``summary(fit)``: criterion, scaled residuals, random
        effects, fixed effects with df, p-values and significance codes, and (``correlation=True``) the correlation
        of the fixed effects (:func:`allianceStats.mixed.summary.format_summary`)."""
        from .summary import format_summary

        return format_summary(self, correlation=correlation)

    def __str__(self) -> str:  # pragma: no cover - convenience
        return self.summary()
