"""Model families for power studies: how one replication is simulated and fitted.

A family pairs a data-generating process of :mod:`allianceStats.simulate.designs` (whose ``truth`` is the
model's pseudo-true value) with the estimator a researcher would use, and returns, per target parameter,
the estimate, its standard error, the confidence interval at level 1 - alpha and the p-value, plus whether
the fit converged and whether the solution was proper (no boundary / Heywood warning). Targets are named with the
design's ``variables`` (``"alliance -> outcome (within)"``), which the fits read from the columns after client
and session.

Families (family: data; model):

* ``regression``: :func:`designs.regression`; OLS t test (statsmodels), the analytic check
* ``mlm``: :func:`designs.within_between`; ``y ~ x_within + x_between + (1 | client)``, REML, Satterthwaite df
* ``glmm_binary``: :func:`designs.binary_within_between`; ``y ~ x_within + x_between + (1 | client)`` for a 0/1
  outcome, :func:`allianceStats.fit_glmm` (binomial, logit, Laplace), Wald z tests and intervals of the log odds
  ratios
* ``riclpm``: :func:`designs.riclpm`; :func:`allianceStats.fit_riclpm`, lagged effects constrained equal, FIML
* ``mediation``: :func:`designs.mediation`; :func:`allianceStats.fit_mediation`, Monte Carlo CI
  (Selig & Preacher 2008)
* ``multilevel_mediation``: :func:`designs.multilevel_mediation`; :func:`allianceStats.fit_multilevel_mediation`,
  Monte Carlo CI

Example
-------
>>> from allianceStats.power_analysis.families import FAMILIES, run_replication
>>> row = run_replication("regression", {"n_clients": 40}, {"slope": 0.5, "variables": ["alliance", "outcome"]},
...                       0.05, 123)
>>> row[0]["target"], row[0]["truth"], row[0]["converged"]
('alliance -> outcome', 0.5, True)
"""
from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from scipy import stats

from ..errors import AllianceStatsError, BoundaryWarning, ConvergenceWarning, OptionError
from ..simulate import designs


@dataclass(frozen=True)
class Family:
    """One model family: ``simulate(cell, effects, seed) -> (data, truth)`` and ``fit(data, alpha, seed) -> rows``
    (``seed``: an integer for any randomness in the fit itself, e.g. Monte Carlo intervals)."""

    name: str
    simulate: Callable
    fit: Callable
    needs_sessions: bool


def _row(target, estimate, se, lo, hi, p):
    return {"target": target, "estimate": float(estimate), "std_error": float(se), "ci_lower": float(lo),
            "ci_upper": float(hi), "p_value": float(p)}


def _variables(data):
    """The design's variables, in order (the designs put them after client and session)."""
    return [c for c in data.columns if c not in ("client", "session")]


def _fit_regression(data, alpha, seed):
    import statsmodels.api as sm

    x, y = _variables(data)
    res = sm.OLS(data[y].to_numpy(), sm.add_constant(data[x].to_numpy())).fit()
    lo, hi = res.conf_int(alpha)[1]
    return [_row(f"{x} -> {y}", res.params[1], res.bse[1], lo, hi, res.pvalues[1])]


def _fit_mlm(data, alpha, seed):
    from .. import decompose
    from ..mixed import fit_mlm

    x, y = _variables(data)
    d = decompose(data, x, lags=())
    fit = fit_mlm(d, f"{y} ~ {x}_within + {x}_between + (1 | client)", conf_level=1 - alpha)
    p = fit.params.set_index("term")
    return [_row(f"{x} -> {y} ({t})", *p.loc[f"{x}_{t}", ["estimate", "std_error", "ci_lower", "ci_upper", "p_value"]])
            for t in ("within", "between")]


def _fit_glmm_binary(data, alpha, seed):
    from .. import decompose
    from ..mixed.glmm import fit_glmm

    x, y = _variables(data)
    d = decompose(data, x, lags=())
    fit = fit_glmm(d, f"{y} ~ {x}_within + {x}_between + (1 | client)", family="binomial", conf_level=1 - alpha)
    p = fit.params.set_index("term")
    return [_row(f"{x} -> {y} ({t})", *p.loc[f"{x}_{t}", ["estimate", "std_error", "ci_lower", "ci_upper", "p_value"]])
            for t in ("within", "between")]


def _fit_riclpm(data, alpha, seed):
    from ..panel import fit_riclpm

    fit = fit_riclpm(data, _variables(data), constraints="lagged")
    z = stats.norm.ppf(1 - alpha / 2)  # Wald interval at level 1 - alpha, as lavaan's parameterEstimates()
    rows = []
    for table in (fit.autoregressive, fit.cross_lagged):
        last = table.groupby(["outcome", "predictor"], sort=False).tail(1)
        for r in last.itertuples():
            rows.append(_row(f"{r.predictor} -> {r.outcome}", r.estimate, r.std_error, r.estimate - z * r.std_error,
                             r.estimate + z * r.std_error, r.p_value))
    return rows


_COLUMNS = ["estimate", "std_error", "ci_lower", "ci_upper", "p_value"]


def _fit_mediation(data, alpha, seed):
    from ..mediation import fit_mediation

    x, m, y = _variables(data)
    res = fit_mediation(data, x, [m], y, n_draws=2000, ci="monte_carlo", conf_level=1 - alpha, seed=seed)
    e = res.effects.set_index("effect")
    rows = [_row(f"{x} -> {m} -> {y}", *e.loc[f"{x} -> {m} -> {y}", _COLUMNS]),
            _row(f"{x} -> {y} (direct)", *e.loc["direct", _COLUMNS])]
    p = res.paths.set_index("label")
    for name, label in ((f"{x} -> {m}", "a1"), (f"{m} -> {y}", "b1")):
        if label in p.index:
            rows.append(_row(name, *p.loc[label, _COLUMNS]))
    return rows


def _fit_multilevel_mediation(data, alpha, seed):
    from ..mediation import fit_multilevel_mediation

    x, m, y = _variables(data)
    res = fit_multilevel_mediation(data, x, m, y, client="client", ci="monte_carlo", n_draws=2000,
                                   conf_level=1 - alpha, seed=seed)
    names = {"within indirect": f"{x} -> {m} -> {y} (within)", "between indirect": f"{x} -> {m} -> {y} (between)",
             "within direct": f"{x} -> {y} (within)", "between direct": f"{x} -> {y} (between)"}
    return [_row(names.get(r.effect, r.effect), r.estimate, r.std_error, r.ci_lower, r.ci_upper, r.p_value)
            for r in res.effects.itertuples()]


FAMILIES = {
    "regression": Family("regression", lambda c, e, s: designs.regression(c["n_clients"], **e, seed=s),
                         _fit_regression, False),
    "mlm": Family("mlm", lambda c, e, s: designs.within_between(c["n_clients"], c["n_sessions"], **e, seed=s),
                  _fit_mlm, True),
    "glmm_binary": Family(
        "glmm_binary",
        lambda c, e, s: designs.binary_within_between(c["n_clients"], c["n_sessions"], **e, seed=s),
        _fit_glmm_binary, True),
    "riclpm": Family("riclpm", lambda c, e, s: designs.riclpm(c["n_clients"], c["n_sessions"], **e, seed=s),
                     _fit_riclpm, True),
    "mediation": Family("mediation", lambda c, e, s: designs.mediation(c["n_clients"], **e, seed=s),
                        _fit_mediation, False),
    "multilevel_mediation": Family(
        "multilevel_mediation",
        lambda c, e, s: designs.multilevel_mediation(c["n_clients"], c["n_sessions"], **e, seed=s),
        _fit_multilevel_mediation, True),
}


def get_family(name: str) -> Family:
    """The family called ``name``; an error lists the valid names."""
    try:
        return FAMILIES[name]
    except KeyError:
        raise OptionError(f"model={name!r} is not supported; choose one of {sorted(FAMILIES)}.") from None


def run_replication(family: str, cell: dict, effects: dict, alpha: float, seed) -> list[dict]:
    """Simulate and fit one replication; one dict per target with estimate, CI, p-value, truth and status.

    A fit that raises an AllianceStatsError or warns of non-convergence is recorded (``converged=False``,
    estimates NaN) — never dropped; a boundary / Heywood warning marks the replication ``proper=False``.
    """
    fam = get_family(family)
    seq = np.random.SeedSequence(seed) if isinstance(seed, (int, np.integer)) else seed
    data_seq, fit_seq = seq.spawn(2)  # independent streams for the data and for the fit's own draws
    data, truth = fam.simulate(cell, effects, data_seq)
    fit_seed = int(fit_seq.generate_state(1)[0])
    targets = truth["targets"]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            rows = fam.fit(data, alpha, fit_seed)
            error = ""
        except (AllianceStatsError, np.linalg.LinAlgError) as exc:
            rows, error = [], f"{type(exc).__name__}: {exc}"[:300]
    converged = not error and not any(issubclass(w.category, ConvergenceWarning) for w in caught)
    proper = not any(issubclass(w.category, BoundaryWarning) for w in caught)
    by_target = {r["target"]: r for r in rows}
    out = []
    for name, value in targets.items():
        r = by_target.get(name, _row(name, np.nan, np.nan, np.nan, np.nan, np.nan))
        out.append({**r, "truth": float(value), "converged": bool(converged and name in by_target),
                    "proper": bool(proper), "error": error})
    return out
