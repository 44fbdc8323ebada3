r"""Likelihood-ratio comparison of nested linear mixed models (lme4's ``anova(m1, m2, ...)``).

For fits ordered by their number of parameters :math:`k_1 \le k_2 \le \dots` (fixed effects + variance
parameters θ + residual SD, + φ for an AR(1) residual), row :math:`r` reports

:math:`\mathrm{AIC} = -2\ell + 2k`, :math:`\mathrm{BIC} = -2\ell + k\log n`, ``deviance`` :math:`= -2\ell`,
:math:`\chi^2_r = 2\max(0, \ell_r - \ell_{r-1})` on :math:`k_r - k_{r-1}` df, and its upper-tail p-value.

Which likelihood: REML likelihoods of models with different fixed effects are not comparable (the REML
criterion depends on :math:`X`); so, when the fixed effects differ (or REML and ML fits are mixed), the REML
fits are refitted by maximum likelihood first, as lme4's ``anova()`` does, and a note says so. When every fit
is REML and the fixed effects are the same, the REML likelihoods are compared — a valid test of the random
part, and the same numbers as lme4's ``anova(..., refit = FALSE)`` (lme4's default would refit by ML).

A variance tested on its boundary (e.g. adding a random slope) makes the :math:`\chi^2` p-value conservative
(Self & Liang 1987; Stram & Lee 1994: the null distribution is a mixture of :math:`\chi^2` distributions).

References: Bates, D., Mächler, M., Bolker, B., & Walker, S. (2015). *J. Stat. Softw.* 67(1).
Self, S. G., & Liang, K.-Y. (1987). *JASA* 82(398), 605–610. Stram, D. O., & Lee, J. W. (1994).
*Biometrics* 50(4), 1171–1177.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats

from ..errors import AllianceStatsError

COMPARE_COLUMNS = ["model", "npar", "aic", "bic", "loglik", "deviance", "chisq", "df", "p_value"]


def _npar(fit) -> int:
    return int(len(fit.fixef) + len(np.ravel(fit.theta)) + 1 + (1 if fit.correlation == "ar1" else 0))


def compare_mlm(*fits, refit: bool = True, names: list[str] | None = None) -> pd.DataFrame:
    """Likelihood-ratio tests of nested mixed models, as lme4's ``anova(m1, m2, ...)``.

    Definitions (and when fits are refitted by ML) are in the module docstring. Rows are ordered by the
    number of parameters (ties keep the input order); each row's test is against the row above it.

    Parameters
    ----------
    *fits : MixedResult
        Two or more fits of :func:`allianceStats.mixed.fit_mlm` on the same rows of the same data.
    refit : bool
        Refit REML fits by ML when their fixed effects differ (default, as lme4). With ``refit=False`` such
        a comparison raises an error instead of returning an invalid test.
    names : list of str, optional
        Model labels; default ``model1``, ``model2``, ... in the order given.

    Returns
    -------
    DataFrame with columns ``model, npar, aic, bic, loglik, deviance, chisq, df, p_value`` (the first row's
    test columns are NaN). ``attrs["notes"]`` lists what was done (refits); ``attrs["method"]`` is ``"ML"``
    or ``"REML"``. Validated against lme4 1.1-31 ``anova()`` (``tests/mixed/fixtures/extras_fixtures.R``):
    log-likelihood, AIC, BIC and chi-square to 1e-4 absolute (~4e-8 relative), p-values to 1e-4 relative.

    Example
    -------
    >>> import numpy as np, pandas as pd
    >>> from allianceStats.mixed import fit_mlm, compare_mlm
    >>> rng = np.random.default_rng(5)
    >>> g = np.repeat(np.arange(40), 5)
    >>> d = pd.DataFrame({"client": g.astype(str), "x": rng.normal(size=200)})
    >>> d["y"] = 0.4 * d.x + rng.normal(0, 1, 40)[g] + rng.normal(size=200)
    >>> tab = compare_mlm(fit_mlm("y ~ 1 + (1 | client)", d), fit_mlm("y ~ x + (1 | client)", d),
    ...                   names=["empty", "with x"])
    >>> list(tab.model), int(tab.df.iloc[1]), tab.attrs["method"]
    (['empty', 'with x'], 1, 'ML')
    >>> bool(tab.p_value.iloc[1] < 0.05)
    True
    """
    from . import fit_mlm

    if len(fits) < 2:
        raise AllianceStatsError(f"compare_mlm() needs at least two fitted models; got {len(fits)}.")
    for k, f in enumerate(fits, 1):
        missing = [a for a in ("fixef", "theta", "loglik", "reml", "nobs", "y", "formula", "model_frame")
                   if not hasattr(f, a)]
        if missing:
            raise AllianceStatsError(f"compare_mlm(): argument {k} is a {type(f).__name__}, not a fit of "
                                     "fit_mlm(); compare mixed-model fits only.")
    if names is None:
        names = [f"model{k}" for k in range(1, len(fits) + 1)]
    elif len(names) != len(fits):
        raise AllianceStatsError(f"compare_mlm(): {len(names)} names for {len(fits)} fits; give one per fit.")
    names = [str(x) for x in names]

    nobs = {int(f.nobs) for f in fits}
    same_rows = len(nobs) == 1 and all(np.allclose(np.asarray(f.y), np.asarray(fits[0].y), equal_nan=True)
                                      for f in fits[1:])
    if not same_rows:
        counts = ", ".join(f"{nm}: {int(f.nobs)} rows" for nm, f in zip(names, fits))
        raise AllianceStatsError(
            f"compare_mlm(): the fits use different rows or responses ({counts}). Likelihoods of different "
            "data cannot be compared; fit every model to the same rows (drop rows with missing values in "
            "any model's variables first).")

    fixed_sets = {tuple(sorted(map(str, f.fixef.index))) for f in fits}
    fixed_differ = len(fixed_sets) > 1
    remls = [bool(f.reml) for f in fits]
    notes: list[str] = []
    needs_ml = any(remls) and (fixed_differ or not all(remls))
    if needs_ml:
        why = "their fixed effects differ" if fixed_differ else "REML and ML fits were mixed"
        if not refit:
            raise AllianceStatsError(
                f"compare_mlm(): REML fits cannot be compared here because {why}: the REML likelihood "
                "depends on the fixed-effects design. Use refit=True (refit by ML, as lme4's anova()) or fit "
                "the models with reml=False.")
        refitted = []
        for nm, f in zip(names, fits):
            if f.reml:
                opts = dict(getattr(getattr(f, "provenance", None), "options", {}) or {})
                extra = {"time": opts["time"]} if f.correlation and "time" in opts else {}
                refitted.append(fit_mlm(f.formula, f.model_frame, reml=False, correlation=f.correlation,
                                        level=f.level, **extra))
                notes.append(f"{nm} refitted by ML (instead of REML) because {why}")
            else:
                refitted.append(f)
        fits = tuple(refitted)
    method = "REML" if all(f.reml for f in fits) else "ML"
    not_converged = [nm for nm, f in zip(names, fits) if not getattr(f, "converged", True)]
    if not_converged:
        notes.append(f"did not converge: {', '.join(not_converged)}; the test may be unreliable")

    n = float(fits[0].nobs)
    npar = np.array([_npar(f) for f in fits])
    loglik = np.array([float(f.loglik) for f in fits])
    order = np.argsort(npar, kind="stable")
    npar, loglik = npar[order], loglik[order]
    chisq = np.full(len(fits), np.nan)
    dfs = np.full(len(fits), np.nan)
    chisq[1:] = 2.0 * np.maximum(0.0, np.diff(loglik))
    dfs[1:] = np.diff(npar)
    with np.errstate(invalid="ignore"):
        p = np.where(dfs > 0, stats.chi2.sf(chisq, np.where(dfs > 0, dfs, 1.0)), np.nan)
    p[0] = np.nan
    if np.any(dfs[1:] == 0):
        notes.append("models with equal numbers of parameters are not nested: no test (p_value NaN)")
    table = pd.DataFrame({
        "model": [names[i] for i in order], "npar": npar.astype(np.int64),
        "aic": -2.0 * loglik + 2.0 * npar, "bic": -2.0 * loglik + npar * np.log(n),
        "loglik": loglik, "deviance": -2.0 * loglik, "chisq": chisq, "df": dfs, "p_value": p,
    }, columns=COMPARE_COLUMNS)
    table.attrs.update(notes=tuple(notes), method=method)
    return table
