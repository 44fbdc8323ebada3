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

Estimation: the saturated path model by maximum likelihood, which equals OLS equation by equation on the
complete rows (``missing="listwise"``, lavaan's default; see :mod:`allianceStats.mediation.engine`), or by
full-information ML through the SEM engine (``missing="fiml"``; :mod:`allianceStats.mediation.fiml`).

Inference: one method per result, named in ``result.inference``, for every column of both tables — the direct
effect and the ``c_prime`` path are one quantity with one interval. The method is ``ci=``
(:mod:`allianceStats.mediation.intervals`):

- ``"delta"``: standard errors of the paths from the model — lavaan's ML standard errors, or with ``client=``
  cluster-robust ones (the sandwich by client, lavaan's ``cluster = "client", estimator = "MLR"``) — and of the
  effects by the delta method from the joint covariance of the paths; Wald z tests and Wald intervals.
- ``"percentile"`` / ``"bca"``: the nonparametric bootstrap (Efron 1987), resampling rows or, with ``client=``,
  whole clients; ``"monte_carlo"``: draws of the paths from their asymptotic normal distribution (with the
  covariance of ``"delta"``, cluster-robust with ``client=``; Selig & Preacher 2008). Standard errors are the
  standard deviations of the draws, the p-value is the interval inverted as a test (``p < 1 - conf_level``
  exactly when the interval excludes 0), and there is no z statistic.

References
----------
Preacher, K. J., & Hayes, A. F. (2008). Asymptotic and resampling strategies for assessing and comparing
indirect effects in multiple mediator models. *Behavior Research Methods* 40(3), 879-891.
Hayes, A. F. (2013). *Introduction to Mediation, Moderation, and Conditional Process Analysis*. Guilford.
MacKinnon, D. P. (2008). *Introduction to Statistical Mediation Analysis*. Erlbaum.
Efron, B. (1987). Better bootstrap confidence intervals. *JASA* 82(397), 171-185.
Selig, J. P., & Preacher, K. J. (2008). Monte Carlo method for assessing mediation [computer software].
Liang, K.-Y., & Zeger, S. L. (1986). Longitudinal data analysis using generalized linear models.
*Biometrika* 73(1), 13-22.
Arbuckle, J. L. (1996). Full information estimation in the presence of incomplete data. In *Advanced Structural
Equation Modeling* (pp. 243-277). Erlbaum.
Davison, A. C., & Hinkley, D. V. (1997). *Bootstrap Methods and their Application*, ch. 4-5. Cambridge UP.
"""
from __future__ import annotations

import itertools
import math
import time
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field

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
from ..errors import ConvergenceWarning, DataWarning, IdentificationError, OptionError
from ..results import Convergence, Provenance, ResultDisplay, make_provenance
from .engine import Effect, Equation, PathModel, bootstrap_coefficients, data_matrix, jackknife_coefficients
from .fiml import fiml_cluster_vcov, fiml_resampled_coefficients, fit_fiml
from .intervals import CI_METHODS, draw_inference, monte_carlo_coefficients
from .tables import (
    EFFECT_COLUMNS,
    PATH_COLUMNS,
    check_roles,
    effects_frame,
    format_p_value,
    paths_frame,
    renamed_attribute,
)

__all__ = ["fit_mediation", "MediationResult", "build_model", "lavaan_syntax", "fit_path_model",
           "EFFECT_COLUMNS", "PATH_COLUMNS", "MISSING"]

MIN_BOOTSTRAP_CLIENTS = 5
"""Fewest clients clustered inference accepts: a client bootstrap over G clients has only C(2G-1, G) different
resamples (1 for one client, 3 for two, 126 for five), a cluster-robust sandwich rank G - 1 at most; fewer than
10 still warn (:class:`~allianceStats.errors.DataWarning`)."""


@dataclass(frozen=True, repr=False)
class MediationResult(ResultDisplay):
    """A fitted mediation model (follows :class:`allianceStats.results.Result`).

    Attributes
    ----------
    effects : DataFrame
        ``effect, estimate, std_error, statistic, p_value, ci_lower, ci_upper`` — every specific indirect effect
        (the route written out, ``"x -> m -> y"``), ``"total indirect"``, ``"direct"``, ``"total"``.
    paths : DataFrame
        ``lhs, op, rhs, label, estimate, std_error, statistic, p_value, ci_lower, ci_upper`` — every regression
        slope (labels ``a1``.., ``b1``.., ``d21``.., ``c_prime``; empty for covariates).
    inference : dict
        How each column of both tables was obtained (keys ``estimate, std_error, statistic, p_value, interval``):
        one method, ``ci``, for every row of ``effects`` and ``paths`` (the module docstring), so the ``direct``
        effect and the ``c_prime`` path have the same interval, standard error and p-value.
    draws : xarray.Dataset or None
        ``effects`` (dims ``draw, effect``) and ``paths`` (dims ``draw, path``): the bootstrap or Monte Carlo
        draws (``None`` for ``ci="delta"``). For arviz: ``arviz.summary(draws.expand_dims("chain"))``.
    conf_level, ci, n_draws (0 for ``"delta"``), n_obs (rows used), n_clients (clients, or None)
        The interval settings and sample sizes.
    residual_cov : DataFrame
        ML residual covariance of the equations.
    convergence, provenance
        Closed form (listwise) or the SEM engine's (FIML); seed actually used, options, data hash,
        ``function="fit_mediation"``.
    syntax : str
        lavaan syntax of the model (:meth:`to_lavaan`).
    missing : {"listwise", "fiml"}
        How missing values were handled.
    vcov : DataFrame
        Covariance of the paths behind ``"delta"`` and ``"monte_carlo"``: ML, or cluster-robust with ``client=``
        (rows and columns ``"lhs ~ rhs"``).
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
    inference: dict = field(default_factory=dict)
    missing: str = "listwise"
    vcov: pd.DataFrame | None = None

    level = renamed_attribute("level", "conf_level")
    ci_method = renamed_attribute("ci_method", "ci")
    n_boot = renamed_attribute("n_boot", "n_draws")
    n_clusters = renamed_attribute("n_clusters", "n_clients")

    def to_lavaan(self) -> str:
        """lavaan syntax of the fitted model, with the effects as ``:=`` lines; :meth:`r_call` gives the call
        that reproduces the estimates (and, for ``ci="delta"``, the standard errors)."""
        return self.syntax

    def r_call(self, data: str = "data") -> str:
        """The lavaan call that reproduces this fit with the model of :meth:`to_lavaan` in ``model``: the same
        estimates, and with ``ci="delta"`` the same standard errors; a bootstrap adds ``se = "bootstrap"`` (rows
        only: lavaan does not resample clusters).

        >>> import numpy as np, pandas as pd
        >>> rng = np.random.default_rng(2)
        >>> df = pd.DataFrame(rng.normal(size=(60, 3)), columns=["x", "m", "y"]).assign(client=np.arange(60) // 4)
        >>> fit_mediation(df, "x", "m", "y", client="client", ci="delta").r_call()
        'lavaan::sem(model, data = data, cluster = "client", estimator = "MLR")'
        """
        args = [f"data = {data}"]
        if self.missing == "fiml":
            args.append('missing = "ml"')
        client = self.provenance.options.get("client")
        if client is not None and self.ci in ("delta", "monte_carlo"):
            args += [f'cluster = "{client}"', 'estimator = "MLR"']
        elif self.ci in ("percentile", "bca"):
            args += ['se = "bootstrap"', f"bootstrap = {self.n_draws}"]
        return f"lavaan::sem(model, {', '.join(args)})"

    def summary(self) -> str:
        """Plain-text summary: model size, the inference of every column, effects table and paths table
        (p-values as ``< .001``, never ``0.0000``)."""
        pct = f"{100 * self.conf_level:g}%"
        clus = f", {self.n_clients} clients" if self.n_clients else ""
        how = "FIML through the SEM engine" if self.missing == "fiml" else "saturated path model, ML = OLS"
        lines = [f"Mediation ({how}): n = {self.n_obs}{clus}",
                 f"{pct} intervals: {self.inference.get('interval', self.ci)}"]
        lines += [f"{key}: {self.inference[key]}" for key in ("std_error", "p_value") if key in self.inference]
        resolution = 2.0 / self.n_draws if self.n_draws else 0.0
        with pd.option_context("display.width", 140, "display.max_colwidth", 60):
            tables = []
            for title, frame in (("Effects", self.effects), ("Paths", self.paths)):
                shown = frame.copy()
                shown["p_value"] = [format_p_value(p, resolution) for p in frame["p_value"]]
                tables.append(f"\n{title}\n" + shown.to_string(index=False, float_format="{:.4f}".format))
        return "\n".join(lines) + "\n" + "\n".join(tables)


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
                  missing: str = "listwise", ci: str | None = None, n_draws: int = 5000, conf_level: float = 0.95,
                  seed: int | None = None) -> MediationResult:
    """Indirect, direct and total effects of ``x`` on ``y`` through one or several observed mediators.

    Parallel mediators by default (Preacher & Hayes 2008; Hayes 2013, model 4); ``serial=True`` makes them a chain
    in the given order (Hayes 2013, model 6), with every specific route written out, e.g.
    ``"support -> alliance -> needs -> engagement"``. Paths are ML estimates of the saturated path model (= OLS on
    the complete rows, or FIML through the SEM engine with ``missing="fiml"``). Every column of ``effects`` and
    ``paths`` comes from one inference method, ``ci`` (module docstring; ``result.inference`` names it): with
    ``client=`` standard errors, p-values and intervals all respect the clustering — cluster-robust (sandwich)
    for ``"delta"`` and ``"monte_carlo"``, a client bootstrap for ``"percentile"`` and ``"bca"`` — and a p-value
    from draws is the interval inverted, so it never contradicts the interval.

    Validated against lavaan 0.6.14 ``sem()`` with ``:=``: ML estimates ~1e-8 and standard errors ~1e-6
    (``tests/mediation/test_reference_lavaan.py``), ``se = "bootstrap"`` percentile intervals within Monte Carlo
    error; cluster-robust standard errors against ``sem(..., cluster = "client", estimator = "MLR")`` and FIML
    against ``sem(..., missing = "ml")`` with and without ``cluster``/MLR, ~1e-7
    (``tests/mediation/test_inference.py``); pingouin's ``mediation_analysis``.

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
        Column identifying clients (sessions of one client are not independent): standard errors, p-values and
        intervals are clustered by client — the sandwich by client (lavaan's ``cluster=`` with MLR, including
        its small-sample factor G/(G-1)) or the bootstrap of whole clients (Field & Welsh 2007). At least 5
        clients are needed (fewer than 10 warn). ``None`` (default): rows are independent.
    missing : {"listwise", "fiml"}
        ``"listwise"`` (default, lavaan's): rows with a missing value in a used column are dropped, with a
        :class:`DataWarning` saying how many. ``"fiml"``: full-information ML through
        :func:`allianceStats.fit_sem` (lavaan's ``missing = "ml"``), which uses every observed value; rows with a
        missing ``x``, covariate or client are still dropped (the exogenous variables are fixed, as lavaan's
        ``fixed.x = TRUE``; :mod:`allianceStats.mediation.fiml`).
    ci : {None, "percentile", "bca", "monte_carlo", "delta"}
        Inference of every column (:mod:`allianceStats.mediation.intervals`): bootstrap percentile or BCa
        (Efron 1987), Monte Carlo (Selig & Preacher 2008), or delta-method Wald. ``None`` (default):
        ``"percentile"``, or ``"monte_carlo"`` with ``missing="fiml"`` (a FIML bootstrap refits the model in
        every resample; ask for it with ``ci="percentile"``).
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
        Too few complete rows for the regressions, a rank-deficient regression, or ``client=`` with fewer than
        5 clients.

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

    One interval per quantity: the direct effect is the ``c_prime`` path.

    >>> direct = res.effects.set_index("effect").loc["direct", ["ci_lower", "ci_upper", "p_value"]]
    >>> c_prime = res.paths.set_index("label").loc["c_prime", ["ci_lower", "ci_upper", "p_value"]]
    >>> bool((direct == c_prime).all()), res.inference["interval"]
    (True, 'percentile bootstrap (1000 bootstrap resamples of rows)')

    With missing values, FIML uses the incomplete rows:

    >>> data.loc[::4, "motivation"] = np.nan
    >>> fiml = als.fit_mediation(data, "support", "autonomy", "motivation", missing="fiml", seed=1)
    >>> fiml.n_obs, fiml.ci, fiml.missing
    (300, 'monte_carlo', 'fiml')
    """
    started = time.perf_counter()
    where = "fit_mediation"
    mediators, covariates = _as_tuple(mediators), _as_tuple(covariates)
    if not mediators:
        raise OptionError(f"{where}(): no mediator given; pass mediators=['m1', ...] (at least one column)")
    check_roles(where, [("x", x), ("y", y), *(("a mediator", m) for m in mediators),
                        *(("a covariate", c) for c in covariates), *([("client", client)] if client else [])])
    serial = check_bool("serial", serial)
    check_choice("missing", missing, MISSING)
    if ci is None:
        ci = "monte_carlo" if missing == "fiml" else "percentile"
    check_choice("ci", ci, CI_METHODS)
    conf_level = check_conf_level(conf_level)
    n_draws = check_positive_int("n_draws", n_draws, minimum=100)
    seed = resolve_seed(seed)
    require_columns(data, [x, *mediators, y, *covariates, client], where=where)
    require_numeric(data, [x, *mediators, y, *covariates], where=where, finite=True)

    model = build_model(x, mediators, y, covariates, serial)
    used = list(model.variables) + ([client] if client is not None else [])
    options = {"x": x, "mediators": list(mediators), "y": y, "covariates": list(covariates), "serial": serial,
               "client": client, "missing": missing, "ci": ci, "n_draws": n_draws, "conf_level": conf_level}
    # stacklevel 3 = the caller of the renamed_arguments wrapper
    if missing == "fiml":
        fixed = [x, *covariates] + ([client] if client is not None else [])
        frame = data[used].dropna(subset=fixed)
        if len(frame) < len(data):
            warnings.warn(f"{where}(): {len(data) - len(frame)} of {len(data)} rows have a missing value in "
                          f"{fixed} and were dropped: FIML keeps x and the covariates fixed (lavaan's fixed.x = "
                          "TRUE deletes these rows too) and needs each row's client.", DataWarning, stacklevel=3)
        return fit_path_model(frame, model, client=client, n_draws=n_draws, ci=ci, conf_level=conf_level,
                              seed=seed, options=options, function=where, started=started, missing="fiml")
    complete = data[used].dropna()
    if len(complete) < len(data):
        dropped = data[used].drop(index=complete.index)
        fixed = [x, *covariates] + ([client] if client is not None else [])
        usable = int(dropped[fixed].notna().all(axis=1).sum())
        warnings.warn(f"{where}(): {len(dropped)} of {len(data)} rows have a missing value in {used} and were "
                      f"dropped (listwise deletion, lavaan's default); missing='fiml' uses the observed values of "
                      f"{usable} of them (full-information ML).", DataWarning, stacklevel=3)
    return fit_path_model(complete, model, client=client, n_draws=n_draws, ci=ci, conf_level=conf_level,
                          seed=seed, options=options, function=where, started=started)


MISSING = ("listwise", "fiml")
"""The values of ``missing=`` in :func:`fit_mediation`."""


def _clients(frame: pd.DataFrame, client: str | None, ci: str, function: str) -> tuple[np.ndarray | None, int | None]:
    """Integer client codes of the rows, and the number of clients; clustered inference needs 5 clients."""
    if client is None:
        return None, None
    groups, uniques = pd.factorize(frame[client], sort=True)
    n_clients = len(uniques)
    how = (f"the client bootstrap (ci={ci!r}) resamples whole clients" if ci in ("percentile", "bca") else
           f"cluster-robust standard errors (ci={ci!r}) sum the scores of each client")
    if n_clients < MIN_BOOTSTRAP_CLIENTS:
        distinct = math.comb(2 * n_clients - 1, n_clients)
        why = (f"{n_clients} client(s) allow only {distinct} different resample(s): the interval would be "
               "degenerate, a point for one client" if ci in ("percentile", "bca") else
               f"with {n_clients} client(s) the sandwich has rank {max(n_clients - 1, 0)} at most and "
               "the standard errors are meaningless")
        raise IdentificationError(
            f"{function}(): {how}, and '{client}' has {n_clients} client(s) among the {len(frame)} rows used; at "
            f"least {MIN_BOOTSTRAP_CLIENTS} are needed ({why}). Use more clients, or client=None if the rows "
            "are independent.")
    if n_clients < 10:
        warnings.warn(f"{function}(): only {n_clients} clients in '{client}'; clustered inference over fewer than "
                      "~30 clients gives unreliable standard errors and intervals.", DataWarning, stacklevel=4)
    return groups, n_clients


def _resamples(n_units: int, groups: np.ndarray | None, n_draws: int, rng: np.random.Generator) -> list[np.ndarray]:
    """Row indices of ``n_draws`` resamples of rows (or of whole clients, ``groups`` given)."""
    if groups is None:
        return [rng.integers(0, n_units, size=n_units) for _ in range(n_draws)]
    members = [np.flatnonzero(groups == g) for g in range(int(groups.max()) + 1)]
    return [np.concatenate([members[g] for g in rng.integers(0, len(members), size=len(members))])
            for _ in range(n_draws)]


def _leave_one_out(n_units: int, groups: np.ndarray | None) -> list[np.ndarray]:
    if groups is None:
        return [np.delete(np.arange(n_units), i) for i in range(n_units)]
    return [np.flatnonzero(groups != g) for g in range(int(groups.max()) + 1)]


_CI_NAMES = {"percentile": "percentile bootstrap", "bca": "BCa bootstrap", "monte_carlo": "Monte Carlo",
             "delta": "Wald"}


def _inference_text(ci: str, *, client: str | None, n_draws: int, missing: str, n_failed: int = 0) -> dict:
    """``result.inference``: how each column was obtained (one method for every row of both tables)."""
    unit = f"clients ('{client}')" if client is not None else "rows"
    covariance = (f"cluster-robust covariance (sandwich by client '{client}', as lavaan's cluster= with MLR, "
                  "small-sample factor G/(G-1))" if client is not None else
                  "ML covariance" + (" (observed information, FIML)" if missing == "fiml" else " (lavaan's)"))
    estimate = ("FIML through the SEM engine (lavaan's missing = \"ml\")" if missing == "fiml" else
                "ML = OLS on the complete rows (listwise)")
    if ci == "delta":
        return {"estimate": estimate,
                "std_error": f"from the paths' {covariance}; delta method for the effects",
                "statistic": "Wald z = estimate / std_error",
                "p_value": "Wald z test (two-sided) with these standard errors",
                "interval": f"Wald (estimate ± z · std_error), standard errors from the paths' {covariance}"}
    if ci == "monte_carlo":
        source = f"{n_draws} Monte Carlo draws of the paths from N(estimate, {covariance})"
        interval = f"Monte Carlo percentile ({source})"
    else:
        refit = ", FIML refitted in each" if missing == "fiml" else ""
        source = f"{n_draws} bootstrap resamples of {unit}{refit}"
        interval = f"{_CI_NAMES[ci]} ({source})"
        if n_failed:
            interval += f"; {n_failed} resamples could not be fitted and are left out"
    return {"estimate": estimate, "std_error": f"standard deviation of the {source}",
            "statistic": "none (NaN): the p-value is not a z test",
            "p_value": f"the {_CI_NAMES[ci]} interval inverted: p < 1 - conf_level exactly when it excludes 0",
            "interval": interval}


def fit_path_model(complete: pd.DataFrame, model: PathModel, *, client: str | None, n_draws: int, ci: str,
                   conf_level: float, seed: int, options: dict, function: str,
                   started: float | None = None, missing: str = "listwise") -> MediationResult:
    """Estimate any recursive path model (and its effects): the engine behind :func:`fit_mediation` and the path
    hypotheses of :func:`allianceStats.evaluate_hypotheses`, with the inference of the module docstring.

    ``complete`` holds the rows to use: complete ones for ``missing="listwise"``; for ``"fiml"`` rows whose
    exogenous variables (and client) are observed. ``seed`` is an integer (resolved by the caller);
    ``function`` the public function recorded in provenance. An example is in :func:`fit_mediation`.
    """
    # every caller's way in (fit_mediation, evaluate_hypotheses) meets this check: an infinite value would
    # otherwise turn every estimate into NaN (or stop numpy's SVD) without saying where it came from
    require_numeric(complete, list(model.variables), where=function, finite=True)
    n = len(complete)
    n_par = max(len(eq.predictors) + 1 for eq in model.equations)
    if n <= n_par + 1:
        raise IdentificationError(f"{n} complete rows for regressions with {n_par} coefficients; "
                                  "more rows than coefficients are needed.")
    rng = np.random.default_rng(seed)
    groups, n_clients = _clients(complete, client, ci, function)
    coef_draws = jack = None
    n_failed = 0
    if missing == "fiml":
        frame = complete.reset_index(drop=True)
        fitted = fit_fiml(frame, model, se=True)
        coefs, psi, convergence = fitted.coefs, fitted.psi, fitted.sem.convergence
        vcov = fitted.vcov if groups is None else fiml_cluster_vcov(frame, model, fitted, groups)
        if ci in ("percentile", "bca"):
            coef_draws, n_failed = fiml_resampled_coefficients(frame, model, _resamples(n, groups, n_draws, rng))
            if ci == "bca":
                jack, _ = fiml_resampled_coefficients(frame, model, _leave_one_out(n, groups))
            if n_failed:
                warnings.warn(f"{function}(): {n_failed} of {n_draws} bootstrap resamples could not be fitted "
                              "by FIML and are left out of the interval.", ConvergenceWarning, stacklevel=4)
    else:
        design = data_matrix(complete[list(model.variables)].to_numpy(dtype=float))
        coefs, vcov, psi = model.fit(design)
        if groups is not None:
            vcov = model.cluster_vcov(design, groups)
        convergence = Convergence(True, 0, "closed form (OLS normal equations)")
        if ci in ("percentile", "bca"):
            coef_draws = bootstrap_coefficients(model, design, n_draws, rng, groups)
            if ci == "bca":
                jack = jackknife_coefficients(model, design, groups)
    if ci == "monte_carlo":
        coef_draws = monte_carlo_coefficients(coefs, vcov, n_draws, rng)

    estimate = model.effect_values(coefs[None])[0]
    jac = model.effect_jacobian(coefs)
    effect_se = np.sqrt(np.einsum("ij,jk,ik->i", jac, vcov, jac))
    path_se = np.sqrt(np.diag(vcov))
    effect_draws = None if coef_draws is None else model.effect_values(coef_draws)
    effect_jack = None if jack is None else model.effect_values(jack)
    effects = effects_frame([e.name for e in model.effects], estimate, effect_se, None, None,
                            columns=draw_inference(ci, conf_level, estimate, effect_se, effect_draws, effect_jack))
    paths = paths_frame([k[0] for k in model.coef_keys], [k[1] for k in model.coef_keys],
                        [model.labels.get(k, "") for k in model.coef_keys], coefs, path_se, conf_level,
                        columns=draw_inference(ci, conf_level, coefs, path_se, coef_draws, jack))
    outcomes = [eq.outcome for eq in model.equations]
    names = [f"{k[0]} ~ {k[1]}" for k in model.coef_keys]
    draws = None
    if coef_draws is not None:
        method = "monte_carlo" if ci == "monte_carlo" else ("client bootstrap" if client is not None
                                                             else "case bootstrap")
        draws = xr.Dataset(
            {"effects": (("draw", "effect"), effect_draws), "paths": (("draw", "path"), coef_draws)},
            coords={"draw": np.arange(n_draws), "effect": effects["effect"].to_numpy(), "path": names},
            attrs={"method": method, "seed": seed})
    return MediationResult(
        effects=effects, paths=paths, draws=draws, conf_level=float(conf_level), ci=ci,
        n_draws=0 if ci == "delta" else int(n_draws), n_obs=n, n_clients=n_clients,
        residual_cov=pd.DataFrame(psi, index=outcomes, columns=outcomes),
        convergence=convergence, syntax=lavaan_syntax(model),
        provenance=make_provenance(complete, options=options, seed=seed, extra_versions=("xarray",),
                                   function=function, started=started),
        inference=_inference_text(ci, client=client, n_draws=n_draws, missing=missing, n_failed=n_failed),
        missing=missing, vcov=pd.DataFrame(vcov, index=names, columns=names))
