"""``fit_sem`` for ordered items: the six steps of ``fit.py`` with lavaan's least-squares estimators.

prepare (``ordinal.py``: parameter table, thresholds, polychoric correlations, Γ, weights) → estimate
(``wls.py``: Gauss–Newton on the (D)WLS objective) → vcov (expected information, or its sandwich under
WLSMV/WLSM/ULSMV/ULSM) → baseline and fit measures (``wls.py``) → parameter table (``parameter_estimates.py``,
with the residual variances (delta) or scale factors (theta) that lavaan computes filled in). Definitions and
references: the module docstring of :mod:`allianceStats.sem.wls`.

Example
-------
>>> import numpy as np, pandas as pd
>>> rng = np.random.default_rng(2)
>>> f = rng.normal(size=300)
>>> items = pd.DataFrame({f"i{j}": np.digitize(0.8 * f + 0.6 * rng.normal(size=300), [-0.5, 0.5]) for j in range(4)})
>>> res = fit_sem_ordinal(items, "F =~ i0 + i1 + i2 + i3", ordered=list(items), estimator="WLSMV",
...                       parameterization="delta", group=None, se="standard", defaults="sem", conf_level=0.95,
...                       started=0.0)
>>> res.options["test"], res.options["se"], bool(res.fit["chisq_scaled"] > 0)
('scaled.shifted', 'robust', True)
"""
from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from ..errors import BoundaryWarning, ConvergenceWarning, OptionError
from ..results import Convergence, make_provenance
from ._messages import warn
from .estimate import improper_solution
from .ordinal import prepare_ordinal
from .parameter_estimates import parameter_table, row_estimates
from .result import SEMResult, WLSState
from .syntax import parse_model
from .wls import ROBUST, completed_table, estimate_wls, wls_fit_measures, wls_vcov


def ordered_items(model: str, data: Any, ordered: Sequence[str] | bool | None) -> list[str]:
    """The ordered items as a list (``True``: every observed endogenous variable of the model that is a column of
    ``data`` — as lavaan's ``ordered = TRUE``, not the covariates that only predict).

    >>> ordered_items("F =~ a + b\\nF ~ x", pd.DataFrame({"a": [1], "b": [2], "x": [0.5]}), True)
    ['a', 'b']
    """
    if ordered is None or ordered is False:
        return []
    if ordered is True:
        statements, _ = parse_model(model)
        latent = {s.lhs for s in statements if s.op == "=~"}
        names = [v for s in statements for v in (s.lhs, s.rhs if s.op != "|" else "") if v]
        columns = set(data.columns) if isinstance(data, pd.DataFrame) else set()
        outcomes = {s.lhs for s in statements if s.op == "~"} | {s.rhs for s in statements if s.op == "=~"}
        covariates = {s.rhs for s in statements if s.op == "~"} - outcomes - latent
        return [v for v in dict.fromkeys(names) if v not in latent and v not in covariates and v in columns]
    if isinstance(ordered, str) or not all(isinstance(v, str) for v in ordered):
        raise OptionError(f"ordered= must be a list of column names (or True for all), got {ordered!r}")
    return list(dict.fromkeys(ordered))


def check_ordinal_options(estimator: str | None, se: str) -> str:
    """The estimator to use with ordered items: lavaan's default ``"WLSMV"`` when none was given; ML and MLR are
    refused, as lavaan stops ("estimator ML for ordered data is not supported yet")."""
    if estimator in ("ML", "MLR"):
        raise OptionError(f"estimator={estimator!r} is for continuous variables (lavaan stops too: \"estimator ML for "
                          "ordered data is not supported yet\"); ordered items are fitted by 'WLSMV' (the default "
                          "with ordered=: leave estimator unset), 'WLSM', 'DWLS', 'ULSMV', 'ULSM', 'ULS' or 'WLS'")
    if se == "bootstrap":
        raise OptionError("se='bootstrap' is not available with ordered items; use se='robust' (the WLSMV default) or "
                          "'standard'")
    return estimator or "WLSMV"


def fit_sem_ordinal(data: pd.DataFrame, model: str, *, ordered: list[str], estimator: str, parameterization: str,
                    group: str | None, se: str, defaults: str, conf_level: float, started: float,
                    cache: dict | None = None, where: str = "fit_sem", missing: str = "listwise",
                    partable_options: dict | None = None) -> SEMResult:
    """The six steps for ordered items (module docstring); options already checked by ``fit_sem``. ``cache``,
    ``missing`` (``"listwise"`` or ``"pairwise"``) and ``partable_options`` (``std_lv``, ``orthogonal``,
    ``group_equal``, ``group_partial``, lavaan's meanings): see :func:`~allianceStats.sem.ordinal.prepare_ordinal`
    (``measurement_invariance`` passes one cache per sequence)."""
    core, test = ROBUST[estimator]
    robust = se == "robust" or (se == "standard" and test != "standard")
    problem = prepare_ordinal(model, data, ordered=ordered, group=group, defaults=defaults,   # 1. prepare
                              parameterization=parameterization, estimator=core, cache=cache, where=where,
                              missing=missing, partable_options=partable_options)
    est = estimate_wls(problem)                                                               # 2. estimate
    messages = list(est.warnings)
    if not est.converged:
        msg = (f"WLS estimation did not converge ({est.message}); estimates are unreliable. Check identification "
               "(thresholds, scale factors and residual variances per group) or simplify the model.")
        warn(msg, ConvergenceWarning)
        messages.append(msg)
    vcov = None if se == "none" else wls_vcov(problem, est.jacobians, robust=robust)        # 3. vcov
    if vcov is None and se != "none":
        msg = ("the information matrix is singular: the model may not be identified; standard errors are not "
               "available. Check thresholds, scale factors and equality labels across groups.")
        warn(msg, ConvergenceWarning)
        messages.append(msg)
    fit = wls_fit_measures(problem, est.theta, est, test)                                      # 4-5. baseline, fit
    done = problem.with_table(completed_table(problem, est.theta))
    for prob in improper_solution(done, est.theta):  # type: ignore[arg-type]
        msg = f"improper solution: {prob}; interpret with care (lavaan warns likewise)."
        warn(msg, BoundaryWarning)
        messages.append(msg)
    params, vcov_df = parameter_table(done, est.theta, vcov, None, conf_level)  # type: ignore[arg-type]  # 6.
    if problem.covariates:   # lavaan's std.all of a scale factor is 1 (with covariates y* has variance ≠ 1/Δ²)
        params.loc[params["op"] == "~*~", "std_all"] = 1.0
    convergence = Convergence(converged=est.converged, iterations=est.iterations, optimizer="Gauss-Newton",
                              message=est.message, warnings=tuple(messages))
    options = dict(missing=missing, estimator=estimator, group=group,
                   se="none" if se == "none" else ("robust" if robust else "standard"), defaults=defaults,
                   conf_level=conf_level, ordered=list(problem.pt.ordered), parameterization=parameterization,
                   test=test, information="expected",
                   categories={v: list(c) for v, c in problem.categories.items()},
                   n_rows=int(len(data)), n_rows_by_group=list(problem.n_rows_by_group),
                   missing_patterns=list(problem.missing_patterns))
    options.update({k: v for k, v in (partable_options or {}).items() if v})
    if problem.covariates:
        options["conditional_x"] = list(problem.covariates)
    table = done.table.copy()
    table["estimate"] = row_estimates(table, est.theta)
    table.attrs["definitions"] = problem.pt.definitions
    table.attrs["computed"] = computed_rows(table, problem.pt.ordered, parameterization)
    prov = make_provenance(data, options=options, seed=None, function="fit_sem", started=started)
    return SEMResult(model=model, params=params, fit=pd.Series(fit, dtype=float), vcov=vcov_df, partable=table,
                     convergence=convergence, provenance=prov, n_obs=problem.n_obs,
                     n_obs_by_group=problem.n_obs_by_group, group_labels=problem.group_labels, group=group,
                     observed=tuple(problem.observed), conf_level=conf_level, options=options, theta=est.theta,
                     wls=WLSState(problem=problem, theta=est.theta, jacobians=tuple(est.jacobians), test=test))


def computed_rows(table: pd.DataFrame, ordered: Sequence[str], parameterization: str) -> list[int]:
    """Rows whose value lavaan computes from the others (``to_lavaan`` leaves them to lavaan): the residual variances
    of ordered items under delta, their scale factors under theta."""
    is_ord = table["lhs"].isin(list(ordered)) & (table["free"] == 0)
    if parameterization == "delta":
        mask = is_ord & (table["op"] == "~~") & (table["lhs"] == table["rhs"])
    else:
        mask = is_ord & (table["op"] == "~*~")
    return [int(i) for i in np.flatnonzero(mask.to_numpy())]
