"""``fit_sem``: structural equation models by ML / FIML, and by (D)WLS for ordered items, matching lavaan.

Pipeline (lavaan's, Rosseel 2012), one named step each, in :func:`_fit_sem`:

1. prepare (``prepare.py``): data → parameter table → sample statistics by missing-data pattern;
2. estimate (``estimate.py``): start values → optimisation → check of the optimum and of the solution;
3. vcov: standard errors from the information matrix, the sandwich, or the bootstrap;
4. baseline (``fit_measures.py``): the saturated (H1) and independence models;
5. fit measures (``fit_measures.py``): χ², CFI, TLI, RMSEA, SRMR, AIC, BIC, scaled versions under MLR;
6. parameter table (``parameter_estimates.py``): estimates, tests, intervals, standardized solution.

Model and likelihood: see ``model.py`` (Σ(θ) = Λ(I−B)⁻¹Ψ(I−B)⁻ᵀΛᵀ + Θ, μ(θ) = ν + Λ(I−B)⁻¹α; Jöreskog
1973, Bollen 1989) and ``likelihood.py`` (casewise FIML, Arbuckle 1996; Enders 2010). With complete data
FIML is ordinary ML with a mean structure.

Standard errors (as lavaan 0.6 computes them for the same options)
-----------------------------------------------------------------
* ``missing="listwise"``, ``se="standard"``: inverse expected information (lavaan ``information="expected"``).
* ``missing="fiml"``/``"ml"`` (default): inverse observed information, the Hessian of −ℓ (lavaan's default
  for ``missing="ml"``: ``information="observed"``, ``observed.information="hessian"``).
* ``se="robust"`` or ``estimator="MLR"``: Huber–White sandwich H⁻¹(Σ_i s_i s_iᵀ)H⁻¹ with the observed
  information H and casewise scores s_i (Yuan & Bentler 2000; lavaan ``se="robust.huber.white"``), with the
  Yuan–Bentler (Mplus variant) scaled χ² — lavaan's ``estimator="MLR"``. (With complete data lavaan's own
  ``se="robust"`` means ``"robust.sem"``, a sandwich around the *expected* information; that variant is not
  implemented.)
* ``se="bootstrap"``: ordinary (row-resampling, within groups) bootstrap; SE = SD of the replicates,
  percentile CIs, for defined (``:=``) parameters too (their replicates, not the delta method). Replicates
  are refitted by Fisher scoring from the full-sample estimates.

Test statistic and fit indices: as lavaan's ``fitMeasures``; definitions and references in ``fit_measures.py``.

Ordered items (``ordered=[...]``): the same six steps with lavaan's least-squares estimators for categorical data
(``fit_ordinal.py``; thresholds, polychoric correlations and their asymptotic covariance in ``polychoric.py``,
estimation, standard errors, tests and fit measures in ``wls.py``). WLSMV, the default there, is DWLS with robust
standard errors and the scaled-and-shifted test.

Exogenous observed covariates are handled as ``lavaan::sem()`` with ``fixed.x = TRUE``: their means,
variances and covariances are fixed at the sample values and are not parameters; rows with a missing
covariate are dropped with a :class:`DataWarning` (lavaan does the same).

References: Arbuckle (1996) in Marcoulides & Schumacker (eds.), *Advanced SEM*; Bollen (1989) *Structural
Equations with Latent Variables*; Enders (2010) *Applied Missing Data Analysis*; Jöreskog (1973);
Rosseel (2012) *J. Stat. Softw.* 48(2); Satorra & Bentler (2001) *Psychometrika* 66; Yuan & Bentler (2000)
*Sociological Methodology* 30.
"""
from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from threadpoolctl import threadpool_limits

from .._deprecation import renamed_arguments
from ..data.checks import check_choice, check_conf_level, check_positive_int, resolve_seed, table_and_text
from ..errors import AllianceStatsError, BoundaryWarning, ConvergenceWarning, IdentificationError, OptionError
from ..results import Convergence, make_provenance
from ._messages import warn
from .estimate import OptimizerRecord, improper_solution, optimize, vcov_from_information
from .fit_measures import fit_measures, reference_models
from .fit_ordinal import check_ordinal_options, fit_sem_ordinal, ordered_items
from .parameter_estimates import parameter_table, row_estimates
from .prepare import MISSING, Problem, prepare
from .result import SEMResult
from .wls import ROBUST

ESTIMATORS = ["ML", "MLR", *ROBUST]
"""``estimator=`` values: ML and MLR for continuous data, lavaan's least-squares family for ordered items."""


@renamed_arguments(n_boot="n_draws")
def fit_sem(data: pd.DataFrame, model: str, *, missing: str = "fiml", estimator: str = "ML",
            group: str | None = None, se: str = "standard", defaults: str = "sem", conf_level: float = 0.95,
            n_draws: int = 1000, seed: int | None = None, ordered: Sequence[str] | bool | None = None,
            parameterization: str = "delta") -> SEMResult:
    """Fit a structural equation model written in lavaan syntax, by ML / FIML, or by WLSMV for ordered items, as
    lavaan does.

    Definition: maximum-likelihood estimation of the mean and covariance structure μ(θ), Σ(θ) implied by the
    model (Jöreskog 1973; Bollen 1989); with missing values the casewise (full-information) likelihood over
    missing-data patterns (Arbuckle 1996), which is lavaan's ``missing="ml"`` (Rosseel 2012). With ``ordered``
    items, thresholds and polychoric correlations fitted by diagonally weighted least squares with robust
    standard errors and the scaled-and-shifted test (WLSMV; Muthén 1984; Muthén, du Toit & Spisic 1997;
    Asparouhov & Muthén 2010; :mod:`allianceStats.sem.wls`). Standard errors, test statistics and fit indices
    follow lavaan 0.6 for the same options; see the module docstring. Validated against lavaan 0.6.14 on 18
    continuous models (``tests/sem/test_lavaan_fixtures.py``) and on ordinal models and invariance sequences
    (``tests/sem/test_ordinal_fixtures.py``).

    The table comes first, as everywhere in allianceStats; lavaan's order ``fit_sem(model, data)`` (as in
    ``sem(model, data)``) is accepted as typed.

    Parameters
    ----------
    data : DataFrame
        One column per observed variable (NaN = missing); never modified.
    model : str
        lavaan-subset syntax (``=~ ~ ~~ ~1 := ==``, ``1*x``, ``a*x``, ``NA*x``, ``c(a, b)*x``).
    missing : {"fiml", "listwise"}
        Full-information ML over missing-data patterns (default) or complete rows only. (lavaan's own name for
        FIML, ml, is accepted too.) With ordered items, rows with a missing value are dropped (listwise,
        lavaan's default for categorical data).
    estimator : {"ML", "MLR", "WLSMV", "WLSM", "DWLS", "ULSMV", "ULSM", "ULS", "WLS"}
        ML, or ML estimates with robust (sandwich) standard errors and the Yuan–Bentler scaled χ². With
        ``ordered`` items lavaan's least-squares estimators (the default ``"ML"`` then means ``"WLSMV"``, as in
        lavaan): DWLS, ULS or WLS with standard errors from the expected information and the plain χ², or with
        robust standard errors and a mean-adjusted (``"WLSM"``, ``"ULSM"``) or scaled-and-shifted (``"WLSMV"``,
        ``"ULSMV"``) test.
    group : str, optional
        Column defining groups (multigroup model; groups in order of appearance).
    se : {"standard", "robust", "bootstrap", "none"}
        How standard errors are computed (module docstring); under MLR, WLSMV, WLSM, ULSMV and ULSM
        ``"standard"`` means the estimator's robust standard errors. The bootstrap is for continuous data.
    defaults : {"sem", "none"}
        ``"sem"`` adds lavaan ``sem()``'s default parameters; ``"none"`` fits only what is written, like
        ``lavaan::lavaan()``.
    conf_level : float
        Level of the intervals in ``params`` (Wald, or percentile under the bootstrap).
    n_draws : int
        Bootstrap replicates (``se="bootstrap"``).
    seed : int, optional
        Seed of the bootstrap; when None a fresh one is drawn and recorded in ``provenance.seed``.
    ordered : list of str or True, optional
        The ordered (ordinal) items, as lavaan's ``ordered=``; True means every observed variable of the model.
        Their values must be whole-number category codes or an ordered pandas Categorical, every category
        observed in every group (:mod:`allianceStats.sem.ordinal`). Thresholds are written ``u | t1 + t2``.
    parameterization : {"delta", "theta"}
        Identification of the latent responses of ordered items (lavaan's ``parameterization=``): scale factors
        (``u ~*~ u``) as parameters and residual variances computed, or residual variances as parameters.

    Returns
    -------
    SEMResult
        ``params`` (``lhs, op, rhs, label, group, estimate, std_error, statistic, p_value, ci_lower,
        ci_upper, std_all``), ``paths`` (the regressions), ``fit``, ``convergence``, ``provenance``, ``n_obs``,
        ``conf_level``.

    Raises
    ------
    FormulaError
        The syntax cannot be parsed or names a variable that is neither a column nor a latent variable.
    SchemaError
        ``data`` is not a DataFrame, or a model column is not numeric or has no observed value.
    OptionError
        An option has a value not listed above.

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> import allianceStats as als
    >>> rng = np.random.default_rng(3)
    >>> x = rng.normal(size=300); m = 0.5 * x + rng.normal(size=300); y = 0.4 * m + rng.normal(size=300)
    >>> df = pd.DataFrame({"x": x, "m": m, "y": y})
    >>> res = als.fit_sem(df, "m ~ a*x\\n y ~ b*m + x\\n ab := a*b")
    >>> int(res.fit["df"]), int(res.fit["npar"]), res.n_obs
    (0, 7, 300)
    >>> row = res.params.query("lhs == 'ab'").iloc[0]
    >>> bool(0.1 < row["estimate"] < 0.35)
    True
    >>> boot = als.fit_sem(df, "m ~ a*x\\n y ~ b*m + x\\n ab := a*b", se="bootstrap", n_draws=200, seed=1)
    >>> boot.provenance.seed, boot.provenance.function
    (1, 'fit_sem')

    Ordered items (five-point ratings) by WLSMV:

    >>> f = rng.normal(size=400)
    >>> items = pd.DataFrame({f"i{j}": np.digitize(0.8 * f + 0.6 * rng.normal(size=400), [-1.2, -0.3, 0.5, 1.3]) + 1
    ...                       for j in range(1, 5)})
    >>> cfa = als.fit_sem(items, "F =~ i1 + i2 + i3 + i4", ordered=["i1", "i2", "i3", "i4"])
    >>> cfa.options["estimator"], int(cfa.fit["df"]), int((cfa.params["op"] == "|").sum())
    ('WLSMV', 2, 16)
    """
    started = time.perf_counter()
    data, model = table_and_text(data, model, where="fit_sem", text="model")
    if not isinstance(model, str):
        raise OptionError(f"model must be lavaan syntax (a str), found {type(model).__name__}")
    if missing not in MISSING:
        check_choice("missing", missing, ["fiml", "listwise"])
    check_choice("estimator", estimator, ESTIMATORS)
    check_choice("se", se, ["standard", "robust", "bootstrap", "none"])
    check_choice("defaults", defaults, ["sem", "none"])
    check_choice("parameterization", parameterization, ["delta", "theta"])
    conf_level = check_conf_level(conf_level)
    n_draws = check_positive_int("n_draws", n_draws, minimum=2)
    if seed is not None:
        resolve_seed(seed)  # a bad seed is an error even where it is not used
    items = ordered_items(model, data, ordered)
    if items:
        estimator = check_ordinal_options(estimator, se)
        with threadpool_limits(limits=1, user_api="blas"):
            return fit_sem_ordinal(data, model, ordered=items, estimator=estimator, parameterization=parameterization,
                                   group=group, se=se, defaults=defaults, conf_level=conf_level, started=started)
    if estimator not in ("ML", "MLR"):
        raise OptionError(f"estimator={estimator!r} is not supported for continuous variables; it is for ordered "
                          "items, named in ordered=[...] (continuous variables are fitted by 'ML' or 'MLR')")
    # randomness only under the bootstrap: its seed is always recorded (a fresh one when None was given)
    seed = resolve_seed(seed) if se == "bootstrap" else None
    with threadpool_limits(limits=1, user_api="blas"):
        return _fit_sem(model, data, missing=MISSING[missing], estimator=estimator, group=group, se=se,
                        defaults=defaults, conf_level=conf_level, n_draws=n_draws, seed=seed, started=started)


def _fit_sem(model: str, data: pd.DataFrame, *, missing: str, estimator: str, group: str | None, se: str,
             defaults: str, conf_level: float, n_draws: int, seed: int | None, started: float) -> SEMResult:
    # many small batched matrices: BLAS threads only add overhead here (2-3x measured), hence the limit above
    if estimator == "MLR" and se == "standard":
        se = "robust"
    problem = prepare(model, data, missing=missing, group=group, defaults=defaults)         # 1. prepare
    est = _estimate(problem, se=se)                                                           # 2. estimate
    vcov_model, vcov, boot = _vcov(problem, est, se=se, n_draws=n_draws, seed=seed)        # 3. vcov
    reference = reference_models(problem, est.theta)                                          # 4. baseline
    fit = fit_measures(problem, est.theta, est.information, vcov_model, reference,            # 5. fit measures
                       robust=estimator == "MLR" or se == "robust")
    params, vcov_df = parameter_table(problem, est.theta, vcov, boot, conf_level)            # 6. parameter table

    rec = est.record
    message, converged = rec["message"], est.converged
    reasons = ([f"df = {fit['df']:.0f} < 0 (more free parameters than means and (co)variances)"]
               if fit["df"] < 0 else []) + (["the information matrix is singular"] if vcov_model is None else [])
    if reasons:  # an optimum of a model that is not identified is one of many: not a converged fit
        message = ("the model is not identified: " + "; ".join(reasons) + ". Fix a loading or variance per "
                   "latent variable, check equality labels, or simplify the model.")
        warn(message, ConvergenceWarning)
        est.warnings.append(message)
        converged = False
    convergence = Convergence(converged=converged, iterations=int(rec["iterations"] + rec["newton_steps"]),
                              optimizer=("Fisher scoring" + (" + BFGS" if rec.get("fallback") else "")
                                         + (" + Newton (observed information)" if missing == "fiml" else "")),
                              message=message, warnings=tuple(est.warnings))
    options = dict(missing=missing, estimator=estimator, group=group, se=se, defaults=defaults,
                   conf_level=conf_level, n_draws=n_draws if se == "bootstrap" else None,
                   exogenous_fixed_x=list(problem.pt.exogenous_x), meanstructure=True,
                   information="observed" if est.observed_information else "expected")
    table = problem.table.copy()
    table["estimate"] = row_estimates(table, est.theta)
    table.attrs["definitions"] = problem.pt.definitions
    prov = make_provenance(data, options=options, seed=seed, function="fit_sem", started=started)
    return SEMResult(model=model, params=params, fit=pd.Series(fit, dtype=float), vcov=vcov_df,
                     partable=table, convergence=convergence, provenance=prov, n_obs=problem.n_obs,
                     n_obs_by_group=problem.n_obs_by_group, group_labels=problem.group_labels, group=group,
                     observed=tuple(problem.observed), conf_level=conf_level, options=options, theta=est.theta)


# ----------------------------------------------------------------------------------------------------
# 2. estimate


@dataclass
class Estimation:
    """Step 2's outcome: θ̂, the information matrix the standard errors use, the optimiser's record, the
    verdict on convergence and the warnings raised (also recorded in ``convergence.warnings``)."""

    theta: np.ndarray
    information: np.ndarray
    observed_information: bool
    record: OptimizerRecord
    converged: bool
    warnings: list[str] = field(default_factory=list)


def _estimate(problem: Problem, *, se: str) -> Estimation:
    """Optimise, then check the optimum (gradient and Newton decrement) and the solution (Heywood cases)."""
    messages: list[str] = []
    try:
        theta, hess, rec = optimize(problem)
    except FloatingPointError as exc:
        raise IdentificationError(f"estimation could not start: {exc}.") from None
    obj = problem.objective
    if rec.get("fallback"):
        msg = f"the first optimiser did not converge; {rec['message']}."
        warn(msg, ConvergenceWarning)
        messages.append(msg)
    grad = obj.gradient(theta)
    max_grad = float(np.max(np.abs(grad))) / problem.n_obs
    use_observed = problem.missing == "fiml" or se == "robust"
    if use_observed:
        H = hess if hess is not None else obj.observed_information(theta)
    else:
        H = obj.expected_information(theta)
    # scale-free check too: the Newton decrement gᵀH⁻¹g (twice the log-likelihood still to gain)
    try:
        decrement = float(grad @ np.linalg.solve(H, grad))
    except np.linalg.LinAlgError:
        decrement = np.inf
    converged = bool(np.isfinite(rec["loglik"]) and (max_grad < 1e-5 or 0 <= decrement < 1e-8))
    if not converged:
        msg = (f"SEM estimation did not converge ({rec['message']}; max |gradient|/N = {max_grad:.2e}); "
               "estimates are unreliable. Check identification, scaling of variables, or simplify the model.")
        warn(msg, ConvergenceWarning)
        messages.append(msg)
    for prob in improper_solution(problem, theta):
        msg = f"improper solution: {prob}; interpret with care (lavaan warns likewise)."
        warn(msg, BoundaryWarning)
        messages.append(msg)
    return Estimation(theta, H, use_observed, rec, converged, messages)


# ----------------------------------------------------------------------------------------------------
# 3. vcov


def _vcov(problem: Problem, est: Estimation, *, se: str, n_draws: int,
          seed: int | None) -> tuple[np.ndarray | None, np.ndarray | None, np.ndarray | None]:
    """(inverse information, covariance matrix the standard errors use, bootstrap replicates or None)."""
    vcov_model = vcov_from_information(est.information)
    if vcov_model is None:
        msg = ("the information matrix is singular: the model may not be identified; standard errors are not "
               "available. Fix a loading or variance per latent variable and check equality labels.")
        warn(msg, ConvergenceWarning)
        est.warnings.append(msg)
    vcov = vcov_model
    boot = None
    if se == "robust" and vcov_model is not None:
        scores = np.vstack(problem.objective.case_scores(est.theta))
        B0 = scores.T @ scores
        vcov = vcov_model @ B0 @ vcov_model
    elif se == "bootstrap":
        vcov, boot = _bootstrap(problem, est.theta, n_draws, seed)
    elif se == "none":
        vcov = None
    return vcov_model, vcov, boot


def _bootstrap(problem: Problem, theta: np.ndarray, n_draws: int, seed: int | None) -> tuple[np.ndarray, np.ndarray]:
    """Ordinary bootstrap (rows resampled within groups), each replicate refitted from θ̂ by Fisher scoring."""
    rng = np.random.default_rng(seed)
    draws = np.full((n_draws, len(theta)), np.nan)
    for b in range(n_draws):
        frames = [y[rng.integers(0, len(y), len(y))] for y in problem.frames]
        try:
            th, _, rec = optimize(problem.resampled(frames), theta.copy(), polish=False)
            if rec["converged"]:
                draws[b] = th
        except (FloatingPointError, AllianceStatsError, np.linalg.LinAlgError):
            continue
    ok = np.isfinite(draws).all(axis=1)
    if ok.sum() < n_draws:
        warn(f"{n_draws - int(ok.sum())} of {n_draws} bootstrap replicates failed and were dropped.",
             ConvergenceWarning)
    good = draws[ok]
    return np.cov(good.T, ddof=1).reshape(len(theta), len(theta)), good
