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

Path labels: ``a_k`` (x -> m_k), ``b_k`` (m_k -> y), ``d_kl`` (m_l -> m_k in a chain) and ``c_prime`` (x -> y).

Estimation: the saturated path model by maximum likelihood, which equals OLS equation by equation (see
:mod:`allianceStats.mediation.engine`); standard errors of paths are lavaan's ML standard errors (residual
variances with divisor ``n``), those of effects are delta-method (first-order) standard errors from the joint
covariance of all paths, with z-tests, as in lavaan's ``:=``. Confidence intervals of effects (``ci=``, see
:mod:`allianceStats.mediation.intervals`) are from the vectorised nonparametric bootstrap (``"percentile"`` or
``"bca"``, Efron 1987), resampling rows or whole clients, from the Monte Carlo method (``"monte_carlo"``, Selig &
Preacher 2008) or the delta method (``"delta"``).

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
import math
import time
import warnings
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
import xarray as xr

from .._deprecation import renamed_arguments
from ..data.checks import (
    check_bool,
    check_choice,
    check_conf_level,
    check_positive_int,
    require_columns,
    require_numeric,
    resolve_seed,
)
from ..errors import DataWarning, IdentificationError, OptionError
from ..results import Convergence, Provenance, ResultDisplay, make_provenance
from .engine import Effect, Equation, PathModel, bootstrap_coefficients, data_matrix, jackknife_coefficients
from .intervals import CI_METHODS, effect_interval, monte_carlo_coefficients
from .tables import EFFECT_COLUMNS, PATH_COLUMNS, check_roles, effects_frame, paths_frame, renamed_attribute

__all__ = ["fit_mediation", "MediationResult", "build_model", "lavaan_syntax", "fit_path_model",
           "EFFECT_COLUMNS", "PATH_COLUMNS"]

MIN_BOOTSTRAP_CLIENTS = 5
"""Fewest clients a client bootstrap accepts: G clients give only C(2G-1, G) different resamples (1 for one
client, 3 for two, 126 for five); fewer than 10 still warn (:class:`~allianceStats.errors.DataWarning`)."""


@dataclass(frozen=True, repr=False)
class MediationResult(ResultDisplay):
    """A fitted mediation model (follows :class:`allianceStats.results.Result`).

    Attributes
    ----------
    effects : DataFrame
        ``effect, estimate, std_error, statistic, p_value, ci_lower, ci_upper`` — every specific indirect effect
        (the route written out, ``"x -> m -> y"``), ``"total indirect"``, ``"direct"``, ``"total"``.
        ``std_error``/``statistic``/``p_value``: delta method, z test (lavaan ``:=``); ``ci_*``: by ``ci``.
    paths : DataFrame
        ``lhs, op, rhs, label, estimate, std_error, statistic, p_value, ci_lower, ci_upper`` — every regression
        slope (labels ``a1``.., ``b1``.., ``d21``.., ``c_prime``; empty for covariates), ML standard errors and
        Wald intervals at ``conf_level``.
    draws : xarray.Dataset or None
        ``effects`` (dims ``draw, effect``) and ``paths`` (dims ``draw, path``): the bootstrap or Monte Carlo
        draws (``None`` for ``ci="delta"``). For arviz: ``arviz.summary(draws.expand_dims("chain"))``.
    conf_level, ci, n_draws (0 for ``"delta"``), n_obs (rows used), n_clients (clients resampled, or None)
        The interval settings and sample sizes.
    residual_cov : DataFrame
        ML residual covariance of the equations.
    convergence, provenance
        Closed form (always converged); seed actually used, options, data hash, ``function="fit_mediation"``.
    """

    effects: pd.DataFrame
    paths: pd.DataFrame
    draws: xr.Dataset | None
    conf_level: float
    ci: str
    n_draws: int
    n_obs: int
    n_clients: int | None
    residual_cov: pd.DataFrame
    convergence: Convergence
    provenance: Provenance
    syntax: str = ""

    level = renamed_attribute("level", "conf_level")
    ci_method = renamed_attribute("ci_method", "ci")
    n_boot = renamed_attribute("n_boot", "n_draws")
    n_clusters = renamed_attribute("n_clusters", "n_clients")

    @property
    def converged(self) -> bool:
        """``convergence.converged`` (a closed-form fit always converges)."""
        return self.convergence.converged

    def to_lavaan(self) -> str:
        """lavaan syntax of the fitted model, with the effects as ``:=`` lines; ``sem(syntax, data)`` in R gives
        the same estimates and delta-method standard errors (add ``se = "bootstrap"`` for bootstrap ones)."""
        return self.syntax

    def summary(self) -> str:
        """Plain-text summary: model size, interval method, effects table and paths table."""
        pct = f"{100 * self.conf_level:g}%"
        clus = f", {self.n_clients} clients resampled" if self.n_clients else ""
        draws = f", {self.n_draws} draws, seed {self.provenance.seed}" if self.n_draws else ""
        head = (f"Mediation (saturated path model, ML = OLS): n = {self.n_obs}{clus}\n"
                f"{pct} intervals: {self.ci}{draws}\n"
                "std_error / p_value of effects: delta method (z test)\n")
        with pd.option_context("display.width", 140, "display.max_colwidth", 60):
            return (head + "\nEffects\n" + self.effects.to_string(index=False, float_format="{:.4f}".format)
                    + "\n\nPaths\n" + self.paths.to_string(index=False, float_format="{:.4f}".format))


def build_model(x: str, mediators: Sequence[str], y: str, covariates: Sequence[str] = (),
                serial: bool = False) -> PathModel:
    """The path model of a parallel (or serial) mediation, with labels a_k, b_k, d_kl, c_prime and its effects.

    >>> model = build_model("x", ["m1", "m2"], "y", serial=True)
    >>> [e.name for e in model.effects][:3]
    ['x -> m1 -> y', 'x -> m2 -> y', 'x -> m1 -> m2 -> y']
    """
    mediators, covariates = tuple(mediators), tuple(covariates)
    eqs, labels = [], {}
    for k, m in enumerate(mediators, start=1):
        earlier = mediators[:k - 1] if serial else ()
        eqs.append(Equation(m, (x, *earlier, *covariates)))
        labels[(m, x)] = f"a{k}"
        for j, prev in enumerate(earlier, start=1):
            labels[(m, prev)] = f"d{k}{j}" if len(mediators) < 10 else f"d{k}_{j}"
    eqs.append(Equation(y, (x, *mediators, *covariates)))
    labels[(y, x)] = "c_prime"
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
    y ~ c_prime*x + b1*m
    # x -> m -> y
    ind_m := a1*b1
    total_indirect := a1*b1
    direct := c_prime
    total := c_prime + a1*b1
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


def _as_tuple(value) -> tuple:
    return (value,) if isinstance(value, str) else tuple(value)


@renamed_arguments(cluster="client", n_boot="n_draws", level="conf_level")
def fit_mediation(data: pd.DataFrame, x: str, mediators: str | Sequence[str], y: str, *,
                  covariates: str | Sequence[str] = (), serial: bool = False, client: str | None = None,
                  ci: str = "percentile", n_draws: int = 5000, conf_level: float = 0.95,
                  seed: int | None = None) -> MediationResult:
    """Indirect, direct and total effects of ``x`` on ``y`` through one or several observed mediators.

    Parallel mediators by default (Preacher & Hayes 2008; Hayes 2013, model 4); ``serial=True`` makes them a chain
    in the given order (Hayes 2013, model 6), with every specific route written out, e.g.
    ``"support -> alliance -> needs -> engagement"``. Paths are ML (= OLS) estimates of the saturated path model
    with lavaan's ML standard errors; effects have delta-method standard errors (MacKinnon 2008). Rows with a
    missing value in a used column are dropped (listwise, lavaan's default) with a :class:`DataWarning`.

    Validated against lavaan 0.6 ``sem()`` with ``:=`` (estimates ~1e-8, standard errors ~1e-6 relative) and
    ``se = "bootstrap"`` percentile intervals (within Monte Carlo error), and pingouin's ``mediation_analysis``.

    Parameters
    ----------
    data : DataFrame
        Numeric columns ``x``, ``mediators``, ``y``, ``covariates``; never modified.
    x, mediators, y : str, str or list of str, str
        Predictor, mediator column(s), outcome.
    covariates : str or list of str
        Columns entered in every equation.
    serial : bool
        Mediators form a chain in the given order.
    client : str or None
        Column identifying clients: the bootstrap resamples whole clients (sessions of one client are not
        independent; Field & Welsh 2007); at least 5 clients are needed (fewer than 10 warn). ``None``
        (default): rows are independent and resampled one by one.
    ci : {"percentile", "bca", "monte_carlo", "delta"}
        Interval of the effects (:mod:`allianceStats.mediation.intervals`): bootstrap percentile or BCa
        (Efron 1987), Monte Carlo (Selig & Preacher 2008), or delta-method Wald.
    n_draws : int
        Bootstrap resamples or Monte Carlo draws (at least 100; ignored for ``"delta"``).
    conf_level : float
        Confidence level of every interval in the result.
    seed : int or None
        Seed of the ``numpy.random.Generator``; the same seed gives bit-for-bit the same draws. ``None`` draws a
        fresh seed; either way it is recorded in ``result.provenance.seed``.

    Returns
    -------
    MediationResult

    Raises
    ------
    OptionError
        An argument value is invalid, or one column is given two roles (``x == y``, a mediator equal to ``x``
        or ``y``, ...).
    SchemaError
        A column is missing, not numeric or holds an infinite value (the message names column and rows).
    IdentificationError
        Too few complete rows for the regressions, a rank-deficient regression, or a client bootstrap
        (``ci="percentile"`` / ``"bca"`` with ``client=``) over fewer than 5 clients.

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> import allianceStats as als
    >>> rng = np.random.default_rng(3)
    >>> support = rng.normal(size=300)
    >>> autonomy = 0.5 * support + rng.normal(size=300)
    >>> motivation = 0.4 * autonomy + 0.1 * support + rng.normal(size=300)
    >>> data = pd.DataFrame({"support": support, "autonomy": autonomy, "motivation": motivation})
    >>> res = als.fit_mediation(data, "support", ["autonomy"], "motivation", n_draws=1000, seed=1)
    >>> res.effects["effect"].tolist()
    ['support -> autonomy -> motivation', 'total indirect', 'direct', 'total']
    >>> bool(res.effects.loc[0, "ci_lower"] > 0), res.conf_level, res.paths["label"].tolist()
    (True, 0.95, ['a1', 'c_prime', 'b1'])
    """
    started = time.perf_counter()
    where = "fit_mediation"
    mediators, covariates = _as_tuple(mediators), _as_tuple(covariates)
    if not mediators:
        raise OptionError(f"{where}(): no mediator given; pass mediators=['m1', ...] (at least one column)")
    check_roles(where, [("x", x), ("y", y), *(("a mediator", m) for m in mediators),
                        *(("a covariate", c) for c in covariates), *([("client", client)] if client else [])])
    serial = check_bool("serial", serial)
    check_choice("ci", ci, CI_METHODS)
    conf_level = check_conf_level(conf_level)
    n_draws = check_positive_int("n_draws", n_draws, minimum=100)
    seed = resolve_seed(seed)
    require_columns(data, [x, *mediators, y, *covariates, client], where=where)
    require_numeric(data, [x, *mediators, y, *covariates], where=where, finite=True)

    model = build_model(x, mediators, y, covariates, serial)
    used = list(model.variables) + ([client] if client is not None else [])
    complete = data[used].dropna()
    if len(complete) < len(data):
        warnings.warn(f"{where}(): {len(data) - len(complete)} of {len(data)} rows have a missing value in "
                      f"{used} and were dropped (listwise deletion).", DataWarning,
                      stacklevel=3)  # 2 + the renamed_arguments wrapper
    options = {"x": x, "mediators": list(mediators), "y": y, "covariates": list(covariates), "serial": serial,
               "client": client, "ci": ci, "n_draws": n_draws, "conf_level": conf_level}
    return fit_path_model(complete, model, client=client, n_draws=n_draws, ci=ci, conf_level=conf_level,
                          seed=seed, options=options, function=where, started=started)


def fit_path_model(complete: pd.DataFrame, model: PathModel, *, client: str | None, n_draws: int, ci: str,
                   conf_level: float, seed: int, options: dict, function: str,
                   started: float | None = None) -> MediationResult:
    """Estimate any recursive path model (and its effects) on complete rows: the engine behind
    :func:`fit_mediation` and the path hypotheses of :func:`allianceStats.evaluate_hypotheses`.

    ``seed`` is an integer (resolved by the caller); ``function`` the public function recorded in provenance.
    An example is in :func:`fit_mediation`.
    """
    # every caller's way in (fit_mediation, evaluate_hypotheses) meets this check: an infinite value would
    # otherwise turn every estimate into NaN (or stop numpy's SVD) without saying where it came from
    require_numeric(complete, list(model.variables), where=function, finite=True)
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

    rng = np.random.default_rng(seed)
    groups, n_clients = None, None
    if client is not None:
        groups, uniques = pd.factorize(complete[client], sort=True)
        n_clients = len(uniques)
        if n_clients < MIN_BOOTSTRAP_CLIENTS and ci in ("percentile", "bca"):
            distinct = math.comb(2 * n_clients - 1, n_clients)
            raise IdentificationError(
                f"{function}(): the client bootstrap (ci={ci!r}) resamples whole clients, and '{client}' has "
                f"{n_clients} client(s) among the {n} complete rows; at least {MIN_BOOTSTRAP_CLIENTS} are needed "
                f"({n_clients} client(s) allow only {distinct} different resample(s): the interval would be "
                "degenerate, a point for one client). Use more clients, or client=None if the rows are "
                "independent.")
        if n_clients < 10 and ci in ("percentile", "bca"):
            warnings.warn(f"{function}(): only {n_clients} clients in '{client}'; a bootstrap over fewer than ~30 "
                          "clients gives unreliable intervals.", DataWarning, stacklevel=4)
    coef_draws = jack = None
    if ci == "monte_carlo":
        coef_draws = monte_carlo_coefficients(coefs, vcov, n_draws, rng)
    elif ci in ("percentile", "bca"):
        coef_draws = bootstrap_coefficients(model, design, n_draws, rng, groups)
        if ci == "bca":
            jack = model.effect_values(jackknife_coefficients(model, design, groups))
    effect_draws = None if coef_draws is None else model.effect_values(coef_draws)
    lower, upper = effect_interval(ci, conf_level, estimate, effect_se, effect_draws, jack)
    effects = effects_frame([e.name for e in model.effects], estimate, effect_se, lower, upper)
    paths = paths_frame([k[0] for k in model.coef_keys], [k[1] for k in model.coef_keys],
                        [model.labels.get(k, "") for k in model.coef_keys], coefs, np.sqrt(np.diag(vcov)),
                        conf_level)
    outcomes = [eq.outcome for eq in model.equations]
    draws = None
    if coef_draws is not None:
        method = "monte_carlo" if ci == "monte_carlo" else ("client bootstrap" if client is not None
                                                             else "case bootstrap")
        draws = xr.Dataset(
            {"effects": (("draw", "effect"), effect_draws), "paths": (("draw", "path"), coef_draws)},
            coords={"draw": np.arange(n_draws), "effect": effects["effect"].to_numpy(),
                    "path": [f"{k[0]} ~ {k[1]}" for k in model.coef_keys]},
            attrs={"method": method, "seed": seed})
    return MediationResult(
        effects=effects, paths=paths, draws=draws, conf_level=float(conf_level), ci=ci,
        n_draws=0 if ci == "delta" else int(n_draws), n_obs=n, n_clients=n_clients,
        residual_cov=pd.DataFrame(psi, index=outcomes, columns=outcomes),
        convergence=Convergence(True, 0, "closed form (OLS normal equations)"), syntax=lavaan_syntax(model),
        provenance=make_provenance(complete, options=options, seed=seed, extra_versions=("xarray",),
                                   function=function, started=started))
