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

Profile-likelihood intervals (:func:`profile_ci`) invert the same likelihood-ratio test for one fixed effect
at a time: the limits are where the ML deviance, minimised over every other parameter, has risen by
:math:`z^2_{(1+\text{conf\_level})/2}` above its minimum.

References: Bates, D., Mächler, M., Bolker, B., & Walker, S. (2015). *J. Stat. Softw.* 67(1).
Self, S. G., & Liang, K.-Y. (1987). *JASA* 82(398), 605–610. Stram, D. O., & Lee, J. W. (1994).
*Biometrics* 50(4), 1171–1177. Venzon, D. J., & Moolgavkar, S. H. (1988). *Appl. Stat.* 37(1), 87–94.
"""
from __future__ import annotations

import time

import numpy as np
import pandas as pd
from scipy import stats

from .._deprecation import renamed_arguments
from ..comparison import ComparisonResult, comparison_table
from ..data.checks import check_bool, check_conf_level
from ..errors import IdentificationError, OptionError
from ..results import Convergence, make_provenance
from .result import MixedResult

_FIT_ATTRIBUTES = ("fixef", "theta", "loglik", "reml", "n_obs", "y", "formula", "model_frame", "correlation")


def _refit_options(fit) -> dict:
    """The options of ``fit`` that a refit on its own rows keeps (the AR(1) residual and its session column)."""
    options = {"correlation": fit.correlation}
    if fit.correlation:
        options["session"] = fit.provenance.options["session"]
    return options


def _refit_ml(fit):
    """``fit`` refitted by maximum likelihood on the rows it used."""
    from .engine import fit_mlm

    return fit_mlm(fit.model_frame, fit.formula, reml=False, conf_level=fit.conf_level, **_refit_options(fit))


def _npar(fit) -> int:
    return int(len(fit.fixef) + len(np.ravel(fit.theta)) + 1 + (1 if fit.correlation == "ar1" else 0))


def _check_fits(fits, names, where: str) -> list[str]:
    """The fits are mixed-model fits of the same rows; returns the model labels."""
    if len(fits) < 2:
        raise OptionError(f"{where}() needs at least two fitted models; got {len(fits)}")
    for k, f in enumerate(fits, 1):
        if not isinstance(f, MixedResult) and not all(hasattr(f, a) for a in _FIT_ATTRIBUTES):
            raise OptionError(f"{where}(): argument {k} is a {type(f).__name__}, not a fit of fit_mlm(); compare "
                              "mixed-model fits only")
    if names is None:
        names = [f"model{k}" for k in range(1, len(fits) + 1)]
    elif isinstance(names, str) or len(names) != len(fits):
        raise OptionError(f"{where}(): names={names!r} gives {1 if isinstance(names, str) else len(names)} name(s) "
                          f"for {len(fits)} fits; give a list with one name per fit")
    names = [str(x) for x in names]
    n_obs = {int(f.n_obs) for f in fits}
    same_rows = len(n_obs) == 1 and all(np.allclose(np.asarray(f.y), np.asarray(fits[0].y), equal_nan=True)
                                        for f in fits[1:])
    if not same_rows:
        counts = ", ".join(f"{nm}: {int(f.n_obs)} rows" for nm, f in zip(names, fits))
        raise OptionError(
            f"{where}(): the fits use different rows or responses ({counts}). Likelihoods of different "
            "data cannot be compared; fit every model to the same rows (drop rows with missing values in "
            "any model's variables first).")
    return names


def compare_mlm(*fits, refit: bool = True, names: list[str] | None = None) -> ComparisonResult:
    """Likelihood-ratio tests of nested mixed models, as lme4's ``anova(m1, m2, ...)``.

    Definitions (and when fits are refitted by ML) are in the module docstring. Rows are ordered by the
    number of parameters (ties keep the input order); each row's test is against the row above it.

    Parameters
    ----------
    *fits : MixedResult
        Two or more fits of :func:`allianceStats.mixed.fit_mlm` on the same rows of the same data.
    refit : bool, default True
        Refit REML fits by ML when their fixed effects differ (as lme4). With ``refit=False`` such a
        comparison raises an error instead of returning an invalid test.
    names : list of str, optional
        Model labels; default ``model1``, ``model2``, ... in the order given.

    Returns
    -------
    ComparisonResult
        ``table`` with the columns of :data:`allianceStats.comparison.COMPARISON_COLUMNS`: ``model, npar,
        loglik, aic, bic`` per fit; ``chisq`` and ``df`` (a model's own goodness-of-fit test, which mixed
        models do not have) are NaN; ``chisq_diff, df_diff, p_value`` test each row against the row above
        (NaN on the first row); then ``deviance`` (−2 log-likelihood). ``method`` is ``"likelihood ratio
        (ML)"`` or ``"likelihood ratio (REML)"``; ``notes`` lists refits and non-converged fits;
        ``converged`` is False when any compared fit did not converge.

    Raises
    ------
    OptionError
        Fewer than two fits, something that is not a fit of ``fit_mlm``, fits of different rows, a wrong
        number of ``names``, or REML fits with different fixed effects under ``refit=False``.

    Notes
    -----
    Validated against lme4 1.1-31 ``anova()`` (``tests/mixed/fixtures/extras_fixtures.R``): log-likelihood,
    AIC, BIC and chi-square to 1e-4 absolute (~4e-8 relative), p-values to 1e-4 relative. Before 0.2.0
    this returned a DataFrame whose ``chisq``/``df`` columns were the test (now ``chisq_diff``/``df_diff``);
    DataFrame access on the result still works, with a FutureWarning, until 0.3.0.

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> from allianceStats.mixed import fit_mlm, compare_mlm
    >>> rng = np.random.default_rng(5)
    >>> g = np.repeat(np.arange(40), 5)
    >>> d = pd.DataFrame({"client": g.astype(str), "x": rng.normal(size=200)})
    >>> d["y"] = 0.4 * d.x + rng.normal(0, 1, 40)[g] + rng.normal(size=200)
    >>> res = compare_mlm(fit_mlm(d, "y ~ 1 + (1 | client)"), fit_mlm(d, "y ~ x + (1 | client)"),
    ...                   names=["empty", "with x"])
    >>> cols = ["model", "npar", "loglik", "chisq_diff", "df_diff", "p_value"]
    >>> print(res.table[cols].round(3).to_string(index=False))
     model  npar   loglik  chisq_diff  df_diff  p_value
     empty     3 -303.192         NaN      NaN      NaN
    with x     4 -294.698      16.988      1.0      0.0
    >>> res.method
    'likelihood ratio (ML)'
    >>> print(*res.notes, sep="\\n")
    empty refitted by ML (instead of REML) because their fixed effects differ
    with x refitted by ML (instead of REML) because their fixed effects differ
    """
    started = time.perf_counter()
    names = _check_fits(fits, names, "compare_mlm")
    refit = check_bool("refit", refit)
    fixed_sets = {tuple(sorted(map(str, f.fixef.index))) for f in fits}
    fixed_differ = len(fixed_sets) > 1
    remls = [bool(f.reml) for f in fits]
    notes: list[str] = []
    needs_ml = any(remls) and (fixed_differ or not all(remls))
    if needs_ml:
        why = "their fixed effects differ" if fixed_differ else "REML and ML fits were mixed"
        if not refit:
            raise OptionError(
                f"compare_mlm(): REML fits cannot be compared here because {why}: the REML likelihood "
                "depends on the fixed-effects design. Use refit=True (refit by ML, as lme4's anova()) or fit "
                "the models with reml=False.")
        refitted = []
        for nm, f in zip(names, fits):
            if f.reml:
                refitted.append(_refit_ml(f))
                notes.append(f"{nm} refitted by ML (instead of REML) because {why}")
            else:
                refitted.append(f)
        fits = tuple(refitted)
    likelihood = "REML" if all(f.reml for f in fits) else "ML"
    not_converged = [nm for nm, f in zip(names, fits) if not f.converged]
    if not_converged:
        notes.append(f"did not converge: {', '.join(not_converged)}; the test may be unreliable")

    n = float(fits[0].n_obs)
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
    table = comparison_table([
        {"model": names[i], "npar": int(k), "loglik": ll, "aic": -2.0 * ll + 2.0 * k,
         "bic": -2.0 * ll + k * np.log(n), "chisq_diff": x2, "df_diff": df, "p_value": pv, "deviance": -2.0 * ll}
        for i, k, ll, x2, df, pv in zip(order, npar, loglik, chisq, dfs, p)], extra=("deviance",))
    table["npar"] = table["npar"].astype(np.int64)
    convergence = Convergence(converged=not not_converged, iterations=0, optimizer="closed form",
                              message="likelihood-ratio test of the fits' maximised likelihoods",
                              warnings=tuple(n for n in notes if n.startswith("did not converge")))
    provenance = make_provenance(fits[0].model_frame, options={"refit": refit, "names": names,
                                                               "formulas": [f.formula for f in fits]},
                                 function="compare_mlm", started=started)
    return ComparisonResult(table=table, method=f"likelihood ratio ({likelihood})", n_obs=int(n),
                            provenance=provenance, notes=tuple(notes), conf_level=fits[0].conf_level,
                            convergence=convergence)


PROFILE_COLUMNS = ["term", "estimate", "ci_lower", "ci_upper"]


def _profile_setup(fit, term: str):
    """Reduced formula and offset column for profiling ``term``; ``None`` when the term is not profilable."""
    from .formula import parse_formula

    spec = parse_formula(fit.formula)
    frame = fit.model_frame
    if term == "(Intercept)":
        if not spec.intercept:
            return None
        rest, offset = [":".join(t) for t in spec.fixed_terms], np.ones(len(frame))
        fixed = ["0"] + rest
    else:
        matches = [t for t in spec.fixed_terms if len(t) == 1 and t[0] == term]
        if not matches or not pd.api.types.is_numeric_dtype(frame[term]):
            return None
        offset = frame[term].to_numpy(dtype=np.float64)
        fixed = (["1"] if spec.intercept else ["0"]) + [":".join(t) for t in spec.fixed_terms if t != (term,)]
    response = "profiled_response"
    while response in frame.columns:
        response += "_"
    formula = f"{response} ~ {' + '.join(fixed)} + {' + '.join(r.text for r in spec.random)}"
    return formula, offset, response


def _solve_limit(zeta, b_hat: float, target: float, se: float, term: str) -> float:
    """Solve ``zeta(b) = target`` on one side of ``b_hat``: secant steps from the Wald limit (ζ is nearly
    linear in b), with a bracketing Brent search as the fallback."""
    from scipy import optimize

    tol = 1e-8 * se
    b0, z0 = b_hat, 0.0
    b1 = b_hat + target * se
    z1 = zeta(b1)
    for _ in range(12):
        if abs(z1 - target) < 1e-9 or z1 == z0:
            break
        b2 = b1 + (target - z1) * (b1 - b0) / (z1 - z0)
        if (b2 - b_hat) * target <= 0:  # stepped back across the estimate: not a usable secant step
            break
        b0, z0, b1 = b1, z1, b2
        z1 = zeta(b1)
        if abs(b1 - b0) < tol:
            return b1
    else:
        return b1
    if abs(z1 - target) < 1e-9:
        return b1
    far, tries = b_hat + 2.0 * target * se, 0
    while (zeta(far) - target) * np.sign(target) < 0:
        tries += 1
        if tries > 8:
            raise IdentificationError(f"profile_ci(): the profile of {term!r} stays below the cutoff; the "
                                      "likelihood is too flat for a profile interval.")
        far = b_hat + 2.0 * target * se * 2.0 ** tries
    lo, hi = sorted((b_hat, far))
    return optimize.brentq(lambda v: zeta(v) - target, lo, hi, xtol=tol)


@renamed_arguments(level="conf_level")
def profile_ci(fit, term: str | list[str] | None = None, *, conf_level: float = 0.95) -> pd.DataFrame:
    r"""Profile-likelihood confidence intervals for fixed effects, as lme4's ``confint(fit, method="profile")``.

    For a fixed effect :math:`\beta_k`, the profile is the signed root of the ML deviance, minimised over
    every other parameter with :math:`\beta_k = b` held fixed (an offset :math:`b x_k`):
    :math:`\zeta(b) = \operatorname{sign}(b - \hat\beta_k)\sqrt{D(b) - D(\hat\beta)}`; the limits solve
    :math:`\zeta(b) = \mp z_{(1+\text{conf\_level})/2}` (Bates et al. 2015; Venzon & Moolgavkar 1988).
    As lme4 does, REML fits are profiled on the ML deviance, so the interval is centred on the ML estimate
    (reported in ``estimate``). Unlike Wald intervals, profile intervals need no normal approximation for
    the variance parameters' uncertainty. Each limit is found by root finding on refits, so
    the cost is a few refits per limit (secant steps from the Wald limit).

    Parameters
    ----------
    fit : MixedResult
        A fit of :func:`allianceStats.mixed.fit_mlm`.
    term : str, list of str or None
        Fixed-effect terms to profile (default: all that can be): the intercept or a numeric covariate that
        enters as a main effect (interactions and factor dummies are not profiled).
    conf_level : float, default 0.95
        Confidence level (kept as ``attrs["conf_level"]`` of the table, never in a column name).

    Returns
    -------
    pandas.DataFrame
        Columns ``term, estimate, ci_lower, ci_upper``; ``attrs["conf_level"]`` and ``attrs["method"]``.

    Raises
    ------
    OptionError
        ``fit`` is not a mixed-model fit, a term is not among its fixed effects or cannot be profiled, or
        ``conf_level`` is not in (0, 1).
    IdentificationError
        The profile stays below the cutoff (the likelihood is too flat for a bounded interval).

    Notes
    -----
    Validated against root finding on lme4 1.1-31 refits with offsets, and against lme4's
    spline-interpolated ``confint(method="profile")`` (``tests/mixed/fixtures/extras_fixtures.R``): limits to
    1e-5 relative to the standard error. Renamed in 0.2.0: ``level=`` → ``conf_level=`` (warns until 0.3.0).

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> from allianceStats.mixed import fit_mlm, profile_ci
    >>> rng = np.random.default_rng(2)
    >>> g = np.repeat(np.arange(30), 6)
    >>> d = pd.DataFrame({"client": g.astype(str), "x": rng.normal(size=180)})
    >>> d["y"] = 1 + 0.5 * d.x + rng.normal(0, 1, 30)[g] + rng.normal(size=180)
    >>> ci = profile_ci(fit_mlm(d, "y ~ x + (1 | client)"), "x")
    >>> bool(ci.ci_lower.iloc[0] < 0.5 < ci.ci_upper.iloc[0]), ci.attrs["conf_level"]
    (True, 0.95)
    """
    from .engine import fit_mlm

    if not isinstance(fit, MixedResult) and not all(hasattr(fit, a) for a in _FIT_ATTRIBUTES):
        raise OptionError(f"profile_ci() takes a fit of fit_mlm(); got {type(fit).__name__}")
    conf_level = check_conf_level(conf_level)
    names = list(map(str, fit.fixef.index))
    requested = names if term is None else ([term] if isinstance(term, str) else list(term))
    unknown = [t for t in requested if t not in names]
    if unknown:
        raise OptionError(f"profile_ci(): term={unknown!r} not among the fixed effects {names}")
    setups = {t: _profile_setup(fit, t) for t in requested}
    if term is not None:
        bad = [t for t, s in setups.items() if s is None]
        if bad:
            raise OptionError(
                f"profile_ci(): {bad} cannot be profiled: only the intercept and numeric covariates that enter "
                "as main effects can (compute an interaction or a dummy as its own column to profile it).")
    extra = _refit_options(fit)
    ml = fit if not fit.reml else _refit_ml(fit)
    y = np.asarray(ml.y, dtype=np.float64)
    z = float(stats.norm.ppf(0.5 + conf_level / 2.0))
    se = dict(zip(names, np.sqrt(np.diag(ml.vcov.to_numpy()))))

    rows = []
    for t, setup in setups.items():
        if setup is None:
            continue
        formula, offset, response = setup
        b_hat = float(ml.fixef[t])

        def zeta(b, formula=formula, offset=offset, response=response, b_hat=b_hat):
            frame = ml.model_frame.assign(**{response: y - b * offset})
            dev = fit_mlm(frame, formula, reml=False, **extra).deviance
            return np.sign(b - b_hat) * np.sqrt(max(dev - ml.deviance, 0.0))

        limits = [_solve_limit(zeta, b_hat, side * z, se[t], t) for side in (-1.0, 1.0)]
        rows.append((t, b_hat, limits[0], limits[1]))
    out = pd.DataFrame(rows, columns=PROFILE_COLUMNS)
    out.attrs.update(conf_level=conf_level, method="profile (ML deviance)")
    return out
