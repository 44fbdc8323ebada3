"""``fit_sem``: structural equation models by ML / FIML, matching lavaan.

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
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from threadpoolctl import threadpool_limits

from ..errors import AllianceStatsError, BoundaryWarning, ConvergenceWarning, IdentificationError
from ..results import Convergence, make_provenance
from ._messages import warn
from .estimate import OptimizerRecord, improper_solution, optimize, vcov_from_information
from .fit_measures import fit_measures, reference_models
from .parameter_estimates import parameter_table, row_estimates
from .prepare import MISSING, Problem, prepare
from .result import SEMResult


def fit_sem(model: str, data: pd.DataFrame, *, missing: str = "fiml", estimator: str = "ML",
            group: str | None = None, se: str = "standard", defaults: str = "sem", n_boot: int = 1000,
            seed: int | None = None) -> SEMResult:
    """Fit a structural equation model written in lavaan syntax, by ML / FIML, as lavaan does.

    Definition: maximum-likelihood estimation of the mean and covariance structure μ(θ), Σ(θ) implied by the
    model (Jöreskog 1973; Bollen 1989); with missing values the casewise (full-information) likelihood over
    missing-data patterns (Arbuckle 1996), which is lavaan's ``missing="ml"`` (Rosseel 2012). Standard errors,
    test statistics and fit indices follow lavaan 0.6 for the same options; see the module docstring.

    Parameters
    ----------
    model : lavaan-subset syntax (``=~ ~ ~~ ~1 :=``, ``1*x``, ``a*x``, ``NA*x``, ``c(a, b)*x``).
    data : DataFrame with one column per observed variable (NaN = missing); never modified.
    missing : ``"fiml"`` (= ``"ml"``, default) or ``"listwise"``.
    estimator : ``"ML"`` or ``"MLR"`` (ML estimates, robust SEs and Yuan–Bentler scaled χ²).
    group : column defining groups (multigroup model; groups in order of appearance).
    se : ``"standard"``, ``"robust"``, ``"bootstrap"`` or ``"none"``.
    defaults : ``"sem"`` (like ``lavaan::sem()``) or ``"none"`` (like ``lavaan::lavaan()``).
    n_boot, seed : bootstrap replicates and seed (``se="bootstrap"``).

    Returns
    -------
    SEMResult with ``params`` (``lhs, op, rhs, label, group, estimate, std_error, statistic, p_value,
    ci_lower, ci_upper, std_all``; ``params.attrs["level"]``), ``fit``, ``convergence``, ``provenance``.

    Example
    -------
    >>> import numpy as np, pandas as pd
    >>> import allianceStats as als
    >>> rng = np.random.default_rng(3)
    >>> x = rng.normal(size=300); m = 0.5 * x + rng.normal(size=300); y = 0.4 * m + rng.normal(size=300)
    >>> df = pd.DataFrame({"x": x, "m": m, "y": y})
    >>> res = als.fit_sem("m ~ a*x\\n y ~ b*m + x\\n ab := a*b", df)
    >>> int(res.fit["df"]), int(res.fit["npar"])
    (0, 7)
    >>> row = res.params.query("lhs == 'ab'").iloc[0]
    >>> bool(0.1 < row["estimate"] < 0.35)
    True
    """
    with threadpool_limits(limits=1, user_api="blas"):
        return _fit_sem(model, data, missing=missing, estimator=estimator, group=group, se=se, defaults=defaults,
                        n_boot=n_boot, seed=seed)


def _fit_sem(model, data, *, missing, estimator, group, se, defaults, n_boot, seed):
    # many small batched matrices: BLAS threads only add overhead here (2-3x measured), hence the limit above
    t0 = time.perf_counter()
    if missing not in MISSING:
        raise AllianceStatsError(f"missing={missing!r} is not known; use 'fiml' (or 'ml') or 'listwise'.")
    missing = MISSING[missing]
    if estimator not in ("ML", "MLR"):
        raise AllianceStatsError(f"estimator={estimator!r} is not known; use 'ML' or 'MLR'.")
    if se not in ("standard", "robust", "bootstrap", "none"):
        raise AllianceStatsError(f"se={se!r} is not known; use 'standard', 'robust', 'bootstrap' or 'none'.")
    if estimator == "MLR":
        if se == "standard":
            se = "robust"
    problem = prepare(model, data, missing=missing, group=group, defaults=defaults)         # 1. prepare
    est = _estimate(problem, se=se)                                                           # 2. estimate
    vcov_model, vcov, boot = _vcov(problem, est, se=se, n_boot=n_boot, seed=seed)          # 3. vcov
    reference = reference_models(problem, est.theta)                                          # 4. baseline
    fit = fit_measures(problem, est.theta, est.information, vcov_model, reference,            # 5. fit measures
                       robust=estimator == "MLR" or se == "robust")
    params, vcov_df = parameter_table(problem, est.theta, vcov, boot, 0.95)                  # 6. parameter table

    elapsed = time.perf_counter() - t0
    rec = est.record
    convergence = Convergence(converged=est.converged, iterations=int(rec["iterations"] + rec["newton_steps"]),
                              optimizer=("Fisher scoring" + (" + BFGS" if rec.get("fallback") else "")
                                         + (" + Newton (observed information)" if missing == "fiml" else "")),
                              message=rec["message"], warnings=tuple(est.warnings))
    options = dict(missing=missing, estimator=estimator, group=group, se=se, defaults=defaults, n_boot=n_boot,
                   exogenous_fixed_x=list(problem.pt.exogenous_x), meanstructure=True,
                   information="observed" if est.observed_information else "expected", elapsed_seconds=elapsed)
    prov = make_provenance(data, options=options, seed=seed)
    table = problem.table.copy()
    table["estimate"] = row_estimates(table, est.theta)
    table.attrs["definitions"] = problem.pt.definitions
    return SEMResult(model=model, params=params, fit=pd.Series(fit, dtype=float), vcov=vcov_df,
                     partable=table, convergence=convergence, provenance=prov, n_obs=problem.n_obs_by_group,
                     group_labels=problem.group_labels, group=group, observed=tuple(problem.observed),
                     options=options, theta=est.theta)


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


def _vcov(problem: Problem, est: Estimation, *, se: str, n_boot: int,
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
        vcov, boot = _bootstrap(problem, est.theta, n_boot, seed)
    elif se == "none":
        vcov = None
    return vcov_model, vcov, boot


def _bootstrap(problem: Problem, theta: np.ndarray, n_boot: int, seed: int | None) -> tuple[np.ndarray, np.ndarray]:
    """Ordinary bootstrap (rows resampled within groups), each replicate refitted from θ̂ by Fisher scoring."""
    if not isinstance(n_boot, (int, np.integer)) or n_boot < 2:
        raise AllianceStatsError(f"n_boot must be an integer >= 2, got {n_boot!r}.")
    rng = np.random.default_rng(seed)
    draws = np.full((n_boot, len(theta)), np.nan)
    for b in range(n_boot):
        frames = [y[rng.integers(0, len(y), len(y))] for y in problem.frames]
        try:
            th, _, rec = optimize(problem.resampled(frames), theta.copy(), polish=False)
            if rec["converged"]:
                draws[b] = th
        except (FloatingPointError, AllianceStatsError, np.linalg.LinAlgError):
            continue
    ok = np.isfinite(draws).all(axis=1)
    if ok.sum() < n_boot:
        warn(f"{n_boot - int(ok.sum())} of {n_boot} bootstrap replicates failed and were dropped.", ConvergenceWarning)
    good = draws[ok]
    return np.cov(good.T, ddof=1).reshape(len(theta), len(theta)), good
