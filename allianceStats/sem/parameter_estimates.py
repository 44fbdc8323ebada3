"""Step 6 of ``fit_sem``: the tidy parameter table, as lavaan's ``parameterEstimates`` and
``standardizedSolution`` (type ``"std.all"``).

One row per parameter-table row (free and fixed), then one per defined parameter (``op == ":="``, group 0):
``lhs, op, rhs, label, group, estimate, std_error, statistic, p_value, ci_lower, ci_upper, std_all, std_lv``.
Wald z tests and normal-theory intervals at ``conf_level``; fixed parameters have ``std_error = 0`` and no test.
Defined parameters get delta-method standard errors (numerical Jacobian of the definitions), or under the
bootstrap the SD and percentile interval of their own replicates. ``std_all`` standardises loadings and
regressions by the total SDs of both variables and turns residual covariances into residual correlations
(lavaan's ``std.all`` with ``cov.std = TRUE``); thresholds of ordered items are divided by the SD of the latent
response, scale factors multiplied by it. ``std_lv`` (lavaan's ``std.lv``) standardises the latent variables only.

Example
-------
>>> import numpy as np
>>> from allianceStats.sem.syntax import Definition
>>> import pandas as pd
>>> table = pd.DataFrame({"label": ["a", "b", ""], "free": [1, 2, 0], "value": [np.nan, np.nan, 1.0]})
>>> defined_values((Definition("ab", "a*b", "ab := a*b"),), table, np.array([0.5, 0.4])).round(3).tolist()
[0.2]
"""
from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
from scipy import stats

from ..errors import AllianceStatsWarning
from ._messages import warn
from .syntax import Definition, evaluate_expression

if TYPE_CHECKING:
    from .prepare import Problem


def row_estimates(table: pd.DataFrame, theta: np.ndarray) -> np.ndarray:
    """The value of every parameter-table row: θ for free rows, the fixed value otherwise."""
    free = table["free"].to_numpy()
    return np.where(free > 0, theta[np.maximum(free, 1) - 1], table["value"].to_numpy(dtype=float))


def _label_values(table: pd.DataFrame, est: np.ndarray) -> dict[str, float]:
    vals: dict[str, float] = {}
    for lab, e in zip(table["label"], est):
        if lab and lab not in vals:
            vals[lab] = e
    return vals


def defined_values(definitions: Sequence[Definition], table: pd.DataFrame, theta: np.ndarray) -> np.ndarray:
    """Values of the ``:=`` parameters at θ (each may use the labels and the definitions before it)."""
    vals = _label_values(table, row_estimates(table, theta))
    out = []
    for d in definitions:
        v = evaluate_expression(d.expression, vals)
        vals[d.lhs] = v
        out.append(v)
    return np.array(out)


def std_all(table: pd.DataFrame, problem: Problem, theta: np.ndarray, est: np.ndarray, *,
            latent_only: bool = False) -> np.ndarray:
    """lavaan's std.all: loadings/regressions by total SDs; residual covariances as residual correlations.

    ``latent_only``: lavaan's std.lv — only the latent variables are standardised (observed variables keep their
    scale: their SDs count as 1)."""
    out = np.full(len(table), np.nan)
    lhs_all, op_all, rhs_all = (table[c].to_numpy() for c in ("lhs", "op", "rhs"))
    group_all = table["group"].to_numpy()
    for g, gm in enumerate(problem.models, start=1):
        _, C, Psi = gm.all_moments(theta)
        sd = np.sqrt(np.clip(np.diag(C), 0, None))
        psi_sd = np.sqrt(np.abs(np.diag(Psi)))
        if latent_only:
            sd[:gm.p] = 1.0
            psi_sd[:gm.p] = 1.0
        rows = np.flatnonzero(group_all == g)
        li = np.array([gm.pos[v] for v in lhs_all[rows]])
        ri = np.array([gm.pos.get(v, 0) for v in rhs_all[rows]])
        op, e = op_all[rows], est[rows]
        with np.errstate(divide="ignore", invalid="ignore"):
            val = np.select(
                [op == "=~", op == "~", (op == "~1") | (op == "|"), (op == "~~") & (li == ri), op == "~*~"],
                [e * sd[li] / sd[ri], e * sd[ri] / sd[li], e / sd[li], e / sd[li] ** 2, e * sd[li]],
                default=e / (psi_sd[li] * psi_sd[ri]))
        out[rows] = val
    return out


def _defined_standardized(defs: Sequence[Definition], table: pd.DataFrame, standardized: np.ndarray) -> list[float]:
    """Defined parameters evaluated at the standardised values of their labels (as lavaan's standardizedSolution)."""
    std_vals = _label_values(table, standardized)
    out = []
    for d in defs:
        try:
            v = evaluate_expression(d.expression, std_vals)
        except (KeyError, ZeroDivisionError, ValueError):
            v = np.nan
        std_vals[d.lhs] = v
        out.append(v)
    return out


def parameter_table(problem: Problem, theta: np.ndarray, vcov: np.ndarray | None, boot: np.ndarray | None,
                    conf_level: float) -> tuple[pd.DataFrame, pd.DataFrame | None]:
    """The tidy parameter table (module docstring) and the covariance matrix of the free parameters ``p1..pq``.

    ``boot`` holds the bootstrap replicates of θ (rows) when ``se="bootstrap"``: intervals are then their
    percentiles.
    """
    table = problem.table
    est = row_estimates(table, theta)
    free = table["free"].to_numpy()
    se = np.zeros(len(table))
    if vcov is not None:
        sd = np.sqrt(np.clip(np.diag(vcov), 0, None))
        se = np.where(free > 0, sd[np.maximum(free, 1) - 1], 0.0)
    else:
        se = np.where(free > 0, np.nan, 0.0)
    z = stats.norm.ppf(0.5 + conf_level / 2)
    standardized = std_all(table, problem, theta, est)
    standardized_lv = std_all(table, problem, theta, est, latent_only=True)
    defs = problem.pt.definitions
    rows = pd.DataFrame({"lhs": table["lhs"], "op": table["op"], "rhs": table["rhs"], "label": table["label"],
                         "group": table["group"], "estimate": est, "std_error": se})
    dboot = None
    if defs:
        with np.errstate(all="ignore"):
            dvals = defined_values(defs, table, theta)
            J = np.zeros((len(defs), len(theta)))
            for k in range(len(theta)):
                h = 1e-6 * max(1.0, abs(theta[k]))
                e = np.zeros(len(theta))
                e[k] = h
                J[:, k] = (defined_values(defs, table, theta + e) - defined_values(defs, table, theta - e)) / (2 * h)
            dse = (np.sqrt(np.clip(np.diag(J @ vcov @ J.T), 0, None)) if vcov is not None
                   else np.full(len(defs), np.nan))
        bad = ~np.isfinite(dvals) | ~np.isfinite(dse)
        if bad.any():
            names = [f"{d.lhs} := {d.expression}" for d, b in zip(defs, bad) if b]
            warn(f"defined parameter(s) {names} or their standard errors are not finite numbers at the estimate "
                 "(a square root or log of a negative value, a division by 0, or an overflow); what is not a number "
                 "is NaN, and so are their p-values and intervals.", AllianceStatsWarning)
            dvals = np.where(np.isfinite(dvals), dvals, np.nan)
            dse = np.where(bad, np.nan, dse)
        if boot is not None:
            # bootstrap: the defined parameters' own replicates (not the delta method)
            dboot = np.array([defined_values(defs, table, th) for th in boot])
            dse = dboot.std(axis=0, ddof=1)
        drows = pd.DataFrame({"lhs": [d.lhs for d in defs], "op": ":=", "rhs": [d.expression for d in defs],
                              "label": [d.lhs for d in defs], "group": 0, "estimate": dvals, "std_error": dse})
        rows = pd.concat([rows, drows], ignore_index=True)
        standardized = np.r_[standardized, _defined_standardized(defs, table, standardized)]
        standardized_lv = np.r_[standardized_lv, _defined_standardized(defs, table, standardized_lv)]
    is_free = np.r_[free > 0, np.ones(len(defs), dtype=bool)]
    is_free &= ~(rows["std_error"].to_numpy() == 0)   # an active inequality constraint: a fixed direction (lavaan)
    with np.errstate(divide="ignore", invalid="ignore"):
        stat = np.where(is_free, rows["estimate"] / rows["std_error"], np.nan)
    rows["statistic"] = stat
    rows["p_value"] = np.where(is_free, 2 * stats.norm.sf(np.abs(stat)), np.nan)
    rows["ci_lower"] = np.where(is_free, rows["estimate"] - z * rows["std_error"], rows["estimate"])
    rows["ci_upper"] = np.where(is_free, rows["estimate"] + z * rows["std_error"], rows["estimate"])
    if boot is not None:
        lo, hi = (1 - conf_level) / 2, (1 + conf_level) / 2
        qlo = np.nanquantile(boot, lo, axis=0)
        qhi = np.nanquantile(boot, hi, axis=0)
        idx = np.maximum(free, 1) - 1
        lower, upper = np.where(free > 0, qlo[idx], est), np.where(free > 0, qhi[idx], est)
        if dboot is not None:
            lower = np.r_[lower, np.nanquantile(dboot, lo, axis=0)]
            upper = np.r_[upper, np.nanquantile(dboot, hi, axis=0)]
        rows["ci_lower"], rows["ci_upper"] = lower, upper
    rows["std_all"] = standardized
    rows["std_lv"] = standardized_lv
    rows["group"] = rows["group"].astype(int)
    rows.attrs["conf_level"] = conf_level
    rows.attrs["group_labels"] = dict(enumerate(problem.group_labels, start=1))
    names = [f"p{k}" for k in range(1, len(theta) + 1)]
    vcov_df = pd.DataFrame(vcov, index=names, columns=names) if vcov is not None else None
    return rows, vcov_df
