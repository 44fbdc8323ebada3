r"""Which engine fits a materialised formula, and the pieces both engines share (prior weights, refits).

:func:`allianceStats.mixed.fit_mlm` uses the batched nested engine (:mod:`allianceStats.mixed.engine`) when the
random part has at most two grouping factors and one is nested in the other — sessions in clients in
therapists, which that engine eliminates client by client. Any other random part — three or more grouping
factors (``(1 | site/therapist/client)``), crossed or partially crossed factors (clients who change therapist,
raters), or a grouping factor split into more than two terms by ``||`` — goes to the sparse engine of
:mod:`allianceStats.mixed.sparse_lmm` (the same profiled REML / ML criterion, Bates et al. 2015, *J. Stat. Softw.*
67(1), sections 3.1–3.4), through :func:`fit_sparse_design`.

Prior weights (lme4's ``weights=``): the residual of row i has variance σ²/wᵢ. Scaling y, X and Z of row i by
√wᵢ turns the model into one with unit weights whose profiled deviance differs by −Σ log wᵢ (lme4's ``ldW``
term in ``devfun2`` and ``lmerResp``), so both engines fit the scaled design and :func:`unweight_result` restores
the rows and the likelihood (:func:`weight_design`).

Example
-------
>>> import pandas as pd
>>> from allianceStats.mixed.formula import parse_formula
>>> from allianceStats.mixed.model_frame import model_frame
>>> d = pd.DataFrame({"y": [1.0, 2, 3, 4, 5, 6, 7, 8], "g": list("aabbccdd"), "h": list("xyxyxyxy")})
>>> frame, plain = model_frame(parse_formula("y ~ 1 + (1 | g) + (1 | h)", extended=True), d)
>>> nested_engine_fits(plain, frame)          # g and h are crossed
False
"""
from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass

import numpy as np
import pandas as pd
from threadpoolctl import threadpool_limits

from ..errors import SchemaError
from .formula import Formula


def nested_engine_fits(plain: Formula, frame: pd.DataFrame) -> bool:
    """True when the random part has one or two grouping factors and, with two, one is nested in the other.

    Rows with a missing value in a used column are left out of the check, as they are left out of the fit.
    """
    groups = [r.group for r in plain.random]
    if len(groups) == 1:
        return True
    if len(groups) > 2:
        return False
    used = frame[[c for c in dict.fromkeys(plain.variables) if c in frame.columns]].dropna()
    a, b = (used[g].astype(str) for g in groups)
    inner, outer = (a, b) if a.nunique() >= b.nunique() else (b, a)
    return bool((pd.DataFrame({"i": inner, "o": outer}).groupby("i")["o"].nunique() <= 1).all())


def warn_if_ids_look_reused(plain: Formula, frame: pd.DataFrame, stacklevel: int = 4) -> None:
    """A DataWarning when two grouping factors are *almost* nested: most inner ids belong to one outer level and
    a few to several — the usual sign of client ids reused across therapists, which lme4 (and this fit) treats
    as crossed. Fully crossed designs (raters, rotating therapists) are not warned about."""
    import warnings

    from ..data.checks import first_labels
    from ..errors import DataWarning

    groups = [r.group for r in plain.random]
    if len(set(groups)) != 2:
        return
    used = frame[[c for c in dict.fromkeys(plain.variables) if c in frame.columns]].dropna()
    a, b = (used[g].astype(str) for g in dict.fromkeys(groups))
    (inner, iname), (outer, oname) = sorted([(a, groups[0]), (b, [g for g in groups if g != groups[0]][0])],
                                            key=lambda t: -t[0].nunique())
    n_outer = pd.DataFrame({"i": inner, "o": outer}).groupby("i")["o"].unique()
    shared = n_outer[n_outer.map(len) > 1]
    if len(shared) and len(shared) <= 0.1 * len(n_outer):
        first = shared.index[0]
        warnings.warn(
            f"{iname} {first!r} occurs with {oname}s {first_labels(sorted(shared.iloc[0]))} ({len(shared)} of "
            f"{len(n_outer)} {iname}s occur with more than one {oname}): the two grouping factors are not nested, "
            f"so they are fitted as crossed, as lme4 does. If {iname} ids are reused across {oname}s, write "
            f"(1 | {oname}/{iname}) or make the ids unique.", DataWarning, stacklevel=stacklevel)


def weight_values(frame: pd.DataFrame, weights: str, where: str = "fit_mlm") -> None:
    """Check a weights column: numbers, finite and > 0 on the rows that have one (every problem listed)."""
    col = frame[weights]
    problems = []
    if not pd.api.types.is_numeric_dtype(col) or pd.api.types.is_bool_dtype(col):
        problems.append(f"column {weights!r} (weights) has dtype {col.dtype}; expected positive numbers")
    else:
        v = col.to_numpy(dtype=float)
        bad = ~np.isnan(v) & ~(np.isfinite(v) & (v > 0))
        if bad.any():
            from ..data.checks import first_labels

            problems.append(f"column {weights!r} (weights) has value(s) <= 0 or infinite at row(s) "
                            f"{first_labels(frame.index[bad])}; prior weights must be positive (the residual "
                            "variance of a row is sigma^2 / weight): drop those rows or correct the weights")
    if problems:
        raise SchemaError(problems, source=where)


def weight_design(design, w: np.ndarray):
    """The design with y, X and every Z scaled by √w (a Design of the nested engine or a GLMMDesign)."""
    sw = np.sqrt(w)
    factors = [dataclasses.replace(f, Z=f.Z * sw[:, None]) for f in design.factors]
    return dataclasses.replace(design, y=design.y * sw, X=design.X * sw[:, None], factors=factors)


def unweight_result(result, design, w: np.ndarray, weights: str):
    """Undo :func:`weight_design` in a fitted :class:`~allianceStats.mixed.result.MixedResult`: the rows of the
    data, and the likelihood with the −Σ log w term (lme4's)."""
    log_w = float(np.log(w).sum())
    dev = result.deviance - log_w
    npar = result.aic / 2.0 - result.deviance / 2.0   # aic = dev + 2 npar
    options = dict(result.provenance.options, weights=weights)
    return dataclasses.replace(
        result, deviance=dev, loglik=-dev / 2.0, aic=dev + 2 * npar, bic=dev + npar * np.log(result.n_obs),
        X=design.X.copy(), y=design.y.copy(), Z={f.name: f.Z.copy() for f in design.factors},
        provenance=dataclasses.replace(result.provenance, options=options))


def fit_sparse_design(plain: Formula, frame: pd.DataFrame, data: pd.DataFrame, *, reml: bool, conf_level: float,
                      weights: str | None, started: float, extra_columns: tuple[str, ...] = ()):
    """Fit a materialised formula with the sparse engine (crossed, partially crossed, three or more factors).

    Returns the :class:`~allianceStats.mixed.result.MixedResult` (provenance ``function="fit_mlm"``, option
    ``engine="sparse"``); ``extra_columns`` are kept in its ``model_frame`` (the data columns a refit needs).
    """
    from .glmm_design import build_glmm_design
    from .glmm_formula import GLMMFormula
    from .glmm_optim import minimise
    from .sparse_lmm import SparseProfiledDeviance, _assemble

    warn_if_ids_look_reused(plain, frame)
    gf = GLMMFormula(text=plain.text, core=plain)
    design = build_glmm_design(gf, frame, family="gaussian", weights=None)
    unweighted = design
    w = None
    if weights is not None:
        w = frame.loc[design.model_frame.index, weights].to_numpy(dtype=float)
        design = weight_design(design, w)
    with threadpool_limits(limits=1, user_api="blas"):
        prob = SparseProfiledDeviance(design, reml)
        lower = prob.layout.theta_lower()
        run = minimise(prob.deviance, prob.layout.theta_start(), lower, np.full_like(lower, np.inf),
                       np.full(len(lower), 0.25), decrease_tol=1e-12)
        result = _assemble(prob, run, plain.text, data, reml, conf_level, started, 0)
    options = {"formula": plain.text, "reml": reml, "correlation": None, "conf_level": conf_level,
               "engine": "sparse"}
    keep = list(dict.fromkeys([*design.model_frame.columns, *(c for c in extra_columns if c in frame.columns)]))
    result = dataclasses.replace(result, model_frame=frame.loc[design.model_frame.index, keep].copy(),
                                 provenance=dataclasses.replace(result.provenance, function="fit_mlm",
                                                                options=options,
                                                                elapsed_seconds=time.perf_counter() - started))
    if w is not None:
        result = unweight_result(result, unweighted, w, weights)
    return result


# ---------------------------------------------------------------------------------------------- refits
@dataclass
class DevianceProblem:
    """A fit's model on its own rows, as the engine that fitted it sees it: the (weighted) design, the AR(1)
    session times, and which engine. :meth:`objective` builds the profiled-deviance object of a design;
    :meth:`minimise` finds its optimum (what :func:`allianceStats.mixed.profile_ci` refits with offsets)."""

    design: object
    times: np.ndarray | None
    nested: bool
    reml: bool

    def objective(self, design=None):
        """The profiled deviance of ``design`` (default: this problem's); ``deviance_parts`` gives (a, r²)."""
        design = self.design if design is None else design
        if self.nested:
            from .engine import ProfiledDeviance

            return ProfiledDeviance(design, self.reml, self.times)
        from .sparse_lmm import SparseProfiledDeviance

        return SparseProfiledDeviance(design, self.reml)

    def minimise(self, obj, start: np.ndarray) -> tuple[np.ndarray, float]:
        """Optimum (parameters, deviance) of a deviance object from ``start``."""
        with threadpool_limits(limits=1, user_api="blas"):
            if self.nested:
                from .engine import _minimise_from

                run = _minimise_from(obj, start)
                return run.x, float(run.deviance)
            from .glmm_optim import minimise

            lower = obj.layout.theta_lower()
            run = minimise(obj.deviance, start, lower, np.full_like(lower, np.inf), np.full(len(lower), 0.25),
                           decrease_tol=1e-12)
            return run.x, float(run.f)

    @property
    def sizes(self) -> list[int]:
        """Number of random effects of each grouping factor, in θ order."""
        return [f.Z.shape[1] for f in self.design.factors]


def refit_options(fit) -> dict:
    """The options of ``fit`` that a refit on its own rows keeps (AR(1) residual, its session column, weights)."""
    opts = fit.provenance.options
    out = {"correlation": fit.correlation}
    if fit.correlation:
        out["session"] = opts["session"]
    if opts.get("weights"):
        out["weights"] = opts["weights"]
    return out


def deviance_problem(fit, *, reml: bool = False) -> DevianceProblem:
    """The :class:`DevianceProblem` of a fit of :func:`allianceStats.mixed.fit_mlm` (on ``fit.model_frame``)."""
    from .engine import _model_design
    from .formula import parse_formula
    from .model_frame import model_frame

    opts = refit_options(fit)
    correlation, session, weights = opts["correlation"], opts.get("session", "session"), opts.get("weights")
    spec = parse_formula(fit.formula, extended=True)
    extra = (*spec.data_columns, *((session,) if correlation else ()), *((weights,) if weights else ()))
    frame, plain = model_frame(spec, fit.model_frame, extra_columns=extra, where="profile_ci")
    nested = nested_engine_fits(plain, frame)
    if nested:
        design, times = _model_design(plain, frame, correlation, session, extra)
        w = design.model_frame[weights].to_numpy(dtype=float) if weights else None
    else:
        from .glmm_design import build_glmm_design
        from .glmm_formula import GLMMFormula

        design, times = build_glmm_design(GLMMFormula(text=plain.text, core=plain), frame, family="gaussian"), None
        w = frame.loc[design.model_frame.index, weights].to_numpy(dtype=float) if weights else None
    if w is not None:
        design = weight_design(design, w)
    return DevianceProblem(design, times, nested, reml)
