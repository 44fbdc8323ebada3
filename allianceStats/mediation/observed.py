"""Single, parallel and serial mediation with observed variables (Preacher & Hayes 2008; Hayes 2013).

Model
-----
Parallel mediators ``m_1..m_K`` (Preacher & Hayes 2008, Hayes 2013 model 4)::

    m_k = i_k + a_k x + g_k' w + e_k          (k = 1..K; the residuals e_k correlate freely)
    y   = i_y + c' x + sum_k b_k m_k + g_y' w + e_y

Serial chain (Hayes 2013 model 6): ``m_k = i_k + a_k x + sum_{l<k} d_kl m_l + g_k' w + e_k``.
``w`` are covariates. Specific indirect effects are products of the paths along each route from ``x`` to ``y``
(``a_k b_k``; in a chain also ``a_1 d_21 b_2``, ``a_1 d_21 d_32 b_3`` ...), the total indirect effect is their
sum, the direct effect is ``c'`` and the total effect ``c = c' + total indirect`` (MacKinnon 2008, ch. 5).

Estimation: the saturated path model by maximum likelihood, which equals OLS equation by equation (see
:mod:`allianceStats.mediation.engine`); standard errors of paths are lavaan's ML standard errors (residual
variances with divisor ``n``), those of effects are delta-method (first-order) standard errors from the joint
covariance of all paths, with z-tests, as in lavaan's ``:=``. Confidence intervals of effects are from the
vectorised nonparametric bootstrap (percentile or BCa, Efron 1987), optionally by cluster, or from the
Monte Carlo method (Selig & Preacher 2008).

References
----------
Preacher, K. J., & Hayes, A. F. (2008). Asymptotic and resampling strategies for assessing and comparing
indirect effects in multiple mediator models. *Behavior Research Methods* 40(3), 879-891.
Hayes, A. F. (2013). *Introduction to Mediation, Moderation, and Conditional Process Analysis*. Guilford.
MacKinnon, D. P. (2008). *Introduction to Statistical Mediation Analysis*. Erlbaum.
Efron, B. (1987). Better bootstrap confidence intervals. *JASA* 82(397), 171-185.
Selig, J. P., & Preacher, K. J. (2008). Monte Carlo method for assessing mediation [computer software].
"""
from __future__ import annotations

import itertools
import warnings
from dataclasses import dataclass
from typing import Sequence

import numpy as np
import pandas as pd
import xarray as xr
from scipy import stats

from ..errors import AllianceStatsError, DataWarning, IdentificationError
from ..results import Convergence, Provenance, make_provenance
from .engine import (Effect, Equation, PathModel, bootstrap_coefficients, data_matrix,
                     jackknife_coefficients)
from .intervals import CI_METHODS, bca_interval, monte_carlo_coefficients, percentile_interval

EFFECT_COLUMNS = ["effect", "estimate", "std_error", "ci_lower", "ci_upper", "p_value"]
PATH_COLUMNS = ["label", "lhs", "op", "rhs", "estimate", "std_error", "statistic", "p_value",
                "ci_lower", "ci_upper"]


@dataclass(frozen=True)
class MediationResult:
    """A fitted mediation model.

    Attributes
    ----------
    effects : DataFrame ``effect, estimate, std_error, ci_lower, ci_upper, p_value`` — every specific indirect
        effect (the route written out, ``"x -> m -> y"``), ``"total indirect"``, ``"direct"``, ``"total"``.
        ``std_error``/``p_value``: delta method, z-test (lavaan ``:=``); ``ci_*``: from ``ci_method``.
    paths : DataFrame ``label, lhs, op, rhs, estimate, std_error, statistic, p_value, ci_lower, ci_upper`` — every
        regression slope (a, b, d and cp = c' paths, covariates; ``label`` empty for covariates), ML standard errors and
        Wald intervals at ``level``.
    draws : xarray Dataset with ``effects`` (dims ``draw, effect``) and ``paths`` (dims ``draw, path``): the bootstrap
        or Monte Carlo draws. For arviz: ``arviz.summary(draws.expand_dims("chain"))``.
    level, ci_method, n_boot, n_obs, n_clusters, residual_cov (ML residual covariance of the equations),
    convergence (closed form: always converged), provenance (seed actually used, options, data hash).
    """

    effects: pd.DataFrame
    paths: pd.DataFrame
    draws: xr.Dataset
    level: float
    ci_method: str
    n_boot: int
    n_obs: int
    n_clusters: int | None
    residual_cov: pd.DataFrame
    convergence: Convergence
    provenance: Provenance
    syntax: str = ""

    def to_lavaan(self) -> str:
        """lavaan syntax of the fitted model, with the effects as ``:=`` lines; ``sem(syntax, data)`` in R gives
        the same estimates and delta-method standard errors (add ``se = "bootstrap"`` for bootstrap ones)."""
        return self.syntax

    def summary(self) -> str:
        """Plain-text summary: model size, interval method, effects table and paths table."""
        pct = f"{100 * self.level:g}%"
        clus = f", {self.n_clusters} clusters resampled" if self.n_clusters else ""
        head = (f"Mediation (saturated path model, ML = OLS): n = {self.n_obs}{clus}\n"
                f"{pct} intervals: {self.ci_method}, {self.n_boot} draws, seed {self.provenance.seed}\n"
                "std_error / p_value of effects: delta method (z test)\n")
        with pd.option_context("display.width", 140, "display.max_colwidth", 60):
            return (head + "\nEffects\n" + self.effects.to_string(index=False, float_format="{:.4f}".format)
                    + "\n\nPaths\n" + self.paths.to_string(index=False, float_format="{:.4f}".format))

    def __repr__(self) -> str:
        return self.summary()


def build_model(x: str, mediators: Sequence[str], y: str, covariates: Sequence[str] = (),
                serial: bool = False) -> PathModel:
    """The path model of a parallel (or serial) mediation, with labels a_k, b_k, d_kl, c' and its effects."""
    mediators, covariates = tuple(mediators), tuple(covariates)
    eqs, labels = [], {}
    for k, m in enumerate(mediators, start=1):
        earlier = mediators[:k - 1] if serial else ()
        eqs.append(Equation(m, (x, *earlier, *covariates)))
        labels[(m, x)] = f"a{k}"
        for l, prev in enumerate(earlier, start=1):
            labels[(m, prev)] = f"d{k}{l}" if len(mediators) < 10 else f"d{k}_{l}"
    eqs.append(Equation(y, (x, *mediators, *covariates)))
    labels[(y, x)] = "cp"  # c' (a valid lavaan label)
    for k, m in enumerate(mediators, start=1):
        labels[(y, m)] = f"b{k}"

    routes = []
    if serial:
        for r in range(1, len(mediators) + 1):
            routes.extend(itertools.combinations(mediators, r))  # ordered subsequences of the chain
    else:
        routes = [(m,) for m in mediators]
    specific = []
    for route in routes:
        chain = (x, *route, y)
        term = tuple((chain[i + 1], chain[i]) for i in range(len(chain) - 1))
        specific.append(Effect(" -> ".join(chain), (term,)))
    all_terms = tuple(t for e in specific for t in e.terms)
    direct = ((y, x),)
    effects = (*specific, Effect("total indirect", all_terms), Effect("direct", (direct,)),
               Effect("total", (direct, *all_terms)))
    variables = tuple(dict.fromkeys((x, *covariates, *mediators, y)))
    return PathModel(variables, tuple(eqs), labels, effects)


def lavaan_syntax(model: PathModel) -> str:
    """lavaan syntax of a path model: labelled regressions, the free residual covariances and ``:=`` effects.

    >>> print(lavaan_syntax(build_model("x", ["m"], "y")))
    m ~ a1*x
    y ~ cp*x + b1*m
    # x -> m -> y
    ind_m := a1*b1
    total_indirect := a1*b1
    direct := cp
    total := cp + a1*b1
    """
    used = {k for eff in model.effects for term in eff.terms for k in term}
    labels = {k: model.labels.get(k) or f"p{j}" for j, k in enumerate(model.coef_keys)
              if k in model.labels or k in used}
    lines = []
    for eq in model.equations:
        terms = [f"{labels[(eq.outcome, p)]}*{p}" if (eq.outcome, p) in labels else p for p in eq.predictors]
        lines.append(f"{eq.outcome} ~ {' + '.join(terms)}")
    eqs = model.equations
    for i, ei in enumerate(eqs):
        free = [ej.outcome for ej in eqs[i + 1:]
                if ei.outcome not in ej.predictors and ej.outcome not in ei.predictors]
        if free:
            lines.append(f"{ei.outcome} ~~ {' + '.join(free)}")
    for eff in model.effects:
        expr = " + ".join("*".join(labels[k] for k in term) for term in eff.terms)
        if " -> " in eff.name:
            lines.append(f"# {eff.name}")
            route = eff.name.split(" -> ")
            name = "ind_" + "_".join(route[1:-1]) if len(route) > 2 else "_".join(route)
        else:
            name = eff.name.replace(" ", "_")
        lines.append(f"{name} := {expr}")
    return "\n".join(lines)


def _check_inputs(data, x, mediators, y, covariates, cluster, n_boot, ci, level):
    problems = []
    if not isinstance(data, pd.DataFrame):
        raise AllianceStatsError(f"data must be a pandas DataFrame, found {type(data).__name__}.")
    if isinstance(mediators, str):
        mediators = (mediators,)
    if isinstance(covariates, str):
        covariates = (covariates,)
    mediators, covariates = tuple(mediators), tuple(covariates)
    if not mediators:
        problems.append("no mediator given: pass mediators=['m1', ...] (at least one column).")
    roles = [("x", x), ("y", y)] + [("mediator", m) for m in mediators] + [("covariate", c) for c in covariates]
    names = [n for _, n in roles]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        problems.append(f"column(s) {dupes} given in more than one role (x, y, mediators, covariates); "
                        "each column may play one role.")
    for role, name in roles:
        if name not in data.columns:
            problems.append(f"{role} column '{name}' not found; available columns: {list(data.columns)}.")
        elif not pd.api.types.is_numeric_dtype(data[name]) or pd.api.types.is_bool_dtype(data[name]):
            problems.append(f"{role} column '{name}' has dtype {data[name].dtype}; a numeric column is needed "
                            "(code categories as 0/1 dummies).")
    if cluster is not None and cluster not in data.columns:
        problems.append(f"cluster column '{cluster}' not found; available columns: {list(data.columns)}.")
    if ci not in CI_METHODS:
        problems.append(f"ci={ci!r} is not one of {list(CI_METHODS)}.")
    if not (isinstance(level, float | int) and 0.0 < level < 1.0):
        problems.append(f"level={level!r} must be a number strictly between 0 and 1 (e.g. 0.95).")
    if not (isinstance(n_boot, int | np.integer) and n_boot >= 100):
        problems.append(f"n_boot={n_boot!r}: at least 100 draws are needed (5000 recommended for intervals).")
    if problems:
        raise AllianceStatsError("mediation(): " + " ".join(problems))
    return mediators, covariates


def mediation(data: pd.DataFrame, x: str, mediators: str | Sequence[str], y: str, *,
              covariates: Sequence[str] = (), serial: bool = False, cluster: str | None = None,
              n_boot: int = 5000, ci: str = "percentile", level: float = 0.95,
              seed: int | None = None) -> MediationResult:
    """Indirect, direct and total effects of ``x`` on ``y`` through one or several mediators.

    Parallel mediators by default (Preacher & Hayes 2008); ``serial=True`` makes them a chain in the given order
    (Hayes 2013, model 6), with every specific route written out, e.g.
    ``"support -> alliance -> needs -> engagement"``. Paths are ML (= OLS) estimates of the saturated path model
    with lavaan's ML standard errors; effects have delta-method standard errors (MacKinnon 2008) and intervals
    from the vectorised bootstrap (``ci="percentile"`` or ``"bca"``, Efron 1987; resampling whole clusters when
    ``cluster`` names a column) or the Monte Carlo method (``ci="monte_carlo"``, Selig & Preacher 2008).
    Rows with a missing value in a used column are dropped (listwise, as lavaan's default) with a DataWarning.

    Validated against lavaan 0.6 ``sem()`` with ``:=`` (estimates ~1e-8, standard errors ~1e-6 relative) and
    ``se = "bootstrap"`` percentile intervals (within Monte Carlo error), and pingouin's ``mediation_analysis``.

    Parameters
    ----------
    data : DataFrame with numeric columns ``x``, ``mediators``, ``y``, ``covariates``; never modified.
    covariates : columns entered in every equation.
    cluster : column whose values identify clusters (e.g. ``"client"``) to resample whole; ``None`` resamples rows.
    n_boot : number of bootstrap (or Monte Carlo) draws.
    ci : ``"percentile"``, ``"bca"`` or ``"monte_carlo"``.
    level : confidence level, kept as the attribute ``result.level``.
    seed : seed of a ``numpy.random.Generator``; the same seed gives bit-for-bit the same draws. ``None`` draws
        a fresh seed, recorded in ``result.provenance.seed``.

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> import allianceStats as als
    >>> rng = np.random.default_rng(3)
    >>> support = rng.normal(size=300)
    >>> autonomy = 0.5 * support + rng.normal(size=300)
    >>> motivation = 0.4 * autonomy + 0.1 * support + rng.normal(size=300)
    >>> df = pd.DataFrame({"support": support, "autonomy": autonomy, "motivation": motivation})
    >>> res = als.mediation(df, "support", ["autonomy"], "motivation", n_boot=1000, seed=1)
    >>> res.effects["effect"].tolist()
    ['support -> autonomy -> motivation', 'total indirect', 'direct', 'total']
    >>> row = res.effects.iloc[0]
    >>> bool(row.ci_lower > 0), res.level
    (True, 0.95)
    """
    mediators, covariates = _check_inputs(data, x, mediators, y, covariates, cluster, n_boot, ci, level)
    model = build_model(x, mediators, y, covariates, serial)
    used = list(model.variables) + ([cluster] if cluster is not None else [])
    complete = data[used].dropna()
    if len(complete) < len(data):
        warnings.warn(f"mediation(): {len(data) - len(complete)} of {len(data)} rows have a missing value in "
                      f"{used} and were dropped (listwise deletion).", DataWarning, stacklevel=2)
    options = {"x": x, "mediators": list(mediators), "y": y, "covariates": list(covariates), "serial": serial,
               "cluster": cluster, "n_boot": n_boot, "ci": ci, "level": level}
    return fit_path_model(complete, model, cluster=cluster, n_boot=n_boot, ci=ci, level=level, seed=seed,
                          options=options)


def fit_path_model(complete: pd.DataFrame, model: PathModel, *, cluster: str | None, n_boot: int, ci: str,
                   level: float, seed: int | None, options: dict) -> MediationResult:
    """Estimate any recursive path model (and its effects) on complete rows; the engine behind
    :func:`mediation` and the path hypotheses of :func:`allianceStats.test_hypotheses`."""
    n = len(complete)
    n_par = max(len(eq.predictors) + 1 for eq in model.equations)
    if n <= n_par + 1:
        raise IdentificationError(f"{n} complete rows for regressions with {n_par} coefficients; "
                                  "more rows than coefficients are needed.")
    design = data_matrix(complete[list(model.variables)].to_numpy(dtype=float))
    coefs, vcov, psi = model.fit(design)
    estimate = model.effect_values(coefs[None])[0]
    jac = model.effect_jacobian(coefs)
    effect_se = np.sqrt(np.einsum("ij,jk,ik->i", jac, vcov, jac))

    if seed is None:
        seed = int(np.random.SeedSequence().entropy % (2 ** 63))
    rng = np.random.default_rng(seed)
    groups, n_clusters = None, None
    if cluster is not None:
        groups, uniques = pd.factorize(complete[cluster], sort=True)
        n_clusters = len(uniques)
        if n_clusters < 10:
            warnings.warn(f"only {n_clusters} clusters in '{cluster}'; a cluster bootstrap with fewer than ~30 "
                          "clusters gives unreliable intervals.", DataWarning, stacklevel=3)
    if ci == "monte_carlo":
        coef_draws = monte_carlo_coefficients(coefs, vcov, n_boot, rng)
    else:
        coef_draws = bootstrap_coefficients(model, design, n_boot, rng, groups)
    effect_draws = model.effect_values(coef_draws)
    if ci == "bca":
        jack = model.effect_values(jackknife_coefficients(model, design, groups))
        lower, upper = bca_interval(effect_draws, estimate, jack, level)
    else:
        lower, upper = percentile_interval(effect_draws, level)

    z = np.divide(estimate, effect_se, out=np.full_like(estimate, np.nan), where=effect_se > 0)
    effects = pd.DataFrame({"effect": [e.name for e in model.effects], "estimate": estimate,
                            "std_error": effect_se, "ci_lower": lower, "ci_upper": upper,
                            "p_value": 2 * stats.norm.sf(np.abs(z))})[EFFECT_COLUMNS]
    path_se = np.sqrt(np.diag(vcov))
    zcrit = stats.norm.ppf(0.5 + level / 2)
    paths = pd.DataFrame({
        "label": [model.labels.get(k, "") for k in model.coef_keys],
        "lhs": [k[0] for k in model.coef_keys], "op": "~", "rhs": [k[1] for k in model.coef_keys],
        "estimate": coefs, "std_error": path_se, "statistic": coefs / path_se,
        "p_value": 2 * stats.norm.sf(np.abs(coefs / path_se)),
        "ci_lower": coefs - zcrit * path_se, "ci_upper": coefs + zcrit * path_se})[PATH_COLUMNS]
    outcomes = [eq.outcome for eq in model.equations]
    path_names = [f"{k[0]} ~ {k[1]}" for k in model.coef_keys]
    draws = xr.Dataset(
        {"effects": (("draw", "effect"), effect_draws), "paths": (("draw", "path"), coef_draws)},
        coords={"draw": np.arange(n_boot), "effect": effects["effect"].to_numpy(), "path": path_names},
        attrs={"method": "monte_carlo" if ci == "monte_carlo" else
               ("cluster bootstrap" if cluster is not None else "case bootstrap"), "seed": seed})
    return MediationResult(
        effects=effects, paths=paths, draws=draws, level=float(level), ci_method=ci, n_boot=n_boot, n_obs=n,
        n_clusters=n_clusters, residual_cov=pd.DataFrame(psi, index=outcomes, columns=outcomes),
        convergence=Convergence(True, 0, "closed form (OLS normal equations)"), syntax=lavaan_syntax(model),
        provenance=make_provenance(complete, options=options, seed=seed, extra_versions=("xarray",)))
