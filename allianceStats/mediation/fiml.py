"""Full-information ML for the mediation path model, through the SEM engine (``fit_mediation(missing="fiml")``).

Model
-----
The same recursive path model as :mod:`allianceStats.mediation.engine` (``v = B v + Gamma x + alpha + zeta``,
``Cov(zeta) = Psi``), written in lavaan syntax and fitted by :func:`allianceStats.fit_sem` with
``missing="fiml"``: the casewise likelihood over missing-data patterns (Arbuckle 1996), lavaan's
``sem(model, data, missing = "ml")``. The predictor and covariates are exogenous and fixed (lavaan's
``fixed.x = TRUE``), so rows with a missing predictor or covariate cannot be used — lavaan deletes them with a
warning, and so does :func:`~allianceStats.fit_mediation`. Given the exogenous values, row ``i`` contributes the
density of its observed endogenous values ``v_io`` under ``v | x ~ N((I - B)^-1 (alpha + Gamma x),
(I - B)^-1 Psi (I - B)^-T)`` (the exogenous moments are fixed, so their part is a constant).

Standard errors: the SEM engine's, from the observed information (lavaan's default under ``missing = "ml"``).
With ``client=``, the cluster-robust sandwich ``V = I^-1 (G / (G - 1) sum_g s_g s_g') I^-1``: ``I^-1`` the
engine's covariance of all free parameters, ``s_g`` the sum over client ``g``'s rows of the casewise scores (the
gradient of each row's log-likelihood above, by central differences at the estimate), ``G / (G - 1)`` lavaan's
small-sample factor — lavaan's ``sem(..., missing = "ml", cluster = "client", estimator = "MLR")``
(``lav_mvnorm_missing_information_firstorder``). A bootstrap refits the model by FIML in every resample (rows,
or whole clients) — about ``n_draws`` times the time of one fit.

References
----------
Arbuckle, J. L. (1996). Full information estimation in the presence of incomplete data. In G. A. Marcoulides &
R. E. Schumacker (Eds.), *Advanced Structural Equation Modeling* (pp. 243-277). Erlbaum.
Enders, C. K. (2010). *Applied Missing Data Analysis*. Guilford.
Rosseel, Y. (2012). lavaan: An R package for structural equation modeling. *J. Stat. Softw.* 48(2).
"""
from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..errors import AllianceStatsError
from .engine import PathModel

__all__ = ["FimlFit", "model_syntax", "fit_fiml", "fiml_cluster_vcov", "fiml_coefficients"]


@dataclass(frozen=True)
class FimlFit:
    """Slopes (in ``model.coef_keys`` order), their covariance, the residual covariance and the SEM fit."""

    coefs: np.ndarray
    vcov: np.ndarray
    psi: np.ndarray
    sem: object


def model_syntax(model: PathModel) -> str:
    """The regressions and free residual covariances of a path model in lavaan syntax (no labels, no ``:=``).

    >>> from allianceStats.mediation.observed import build_model
    >>> print(model_syntax(build_model("x", ["m1", "m2"], "y")))
    m1 ~ x
    m2 ~ x
    y ~ x + m1 + m2
    m1 ~~ m2
    """
    lines = [f"{eq.outcome} ~ {' + '.join(eq.predictors)}" for eq in model.equations]
    eqs = model.equations
    for i, ei in enumerate(eqs):
        free = [ej.outcome for ej in eqs[i + 1:]
                if ei.outcome not in ej.predictors and ej.outcome not in ei.predictors]
        if free:
            lines.append(f"{ei.outcome} ~~ {' + '.join(free)}")
    return "\n".join(lines)


def _free_rows(partable: pd.DataFrame) -> pd.DataFrame:
    free = partable[partable["free"] > 0].sort_values("free")
    if len(free) and len(free) != int(free["free"].max()):
        raise AllianceStatsError("the SEM parameter table has equality constraints; the mediation path model "
                                 "has none (internal error)")
    return free


def fiml_coefficients(sem, model: PathModel) -> np.ndarray:
    """The slopes of ``model.coef_keys`` from a fitted SEM's parameter table."""
    table = sem.partable
    reg = table[table["op"] == "~"].set_index(["lhs", "rhs"])["estimate"]
    return np.array([float(reg.loc[key]) for key in model.coef_keys])


def fit_fiml(frame: pd.DataFrame, model: PathModel, *, se: bool = True) -> FimlFit:
    """Fit the path model to ``frame`` (model variables only; exogenous columns complete) by FIML."""
    from ..sem import fit_sem

    sem = fit_sem(frame[list(model.variables)], model_syntax(model), missing="fiml", estimator="ML",
                  se="standard" if se else "none")
    coefs = fiml_coefficients(sem, model)
    outcomes = [eq.outcome for eq in model.equations]
    table = sem.partable
    cov = table[(table["op"] == "~~") & table["lhs"].isin(outcomes) & table["rhs"].isin(outcomes)]
    psi = pd.DataFrame(0.0, index=outcomes, columns=outcomes)
    for row in cov.itertuples():
        psi.loc[row.lhs, row.rhs] = psi.loc[row.rhs, row.lhs] = float(row.estimate)
    vcov = np.full((len(coefs), len(coefs)), np.nan)
    if se and sem.vcov is not None:
        free = table[table["op"] == "~"].set_index(["lhs", "rhs"])["free"]
        idx = [int(free.loc[key]) - 1 for key in model.coef_keys]
        vcov = sem.vcov.to_numpy()[np.ix_(idx, idx)]
    return FimlFit(coefs, vcov, psi.to_numpy(), sem)


class _CasewiseLikelihood:
    """Each row's log-likelihood of its observed endogenous values given the exogenous ones (module docstring),
    as a function of the SEM's free parameters (in the order of their ``free`` index)."""

    def __init__(self, frame: pd.DataFrame, model: PathModel, partable: pd.DataFrame):
        self.endo = [eq.outcome for eq in model.equations]
        self.exo = [v for v in model.variables if v not in self.endo]
        self.free = _free_rows(partable)
        known = ((self.free["op"] == "~") | ((self.free["op"] == "~~") & self.free["lhs"].isin(self.endo))
                 | ((self.free["op"] == "~1") & self.free["lhs"].isin(self.endo)))
        if not bool(known.all()):
            raise AllianceStatsError("the SEM parameter table has free parameters the path model does not have "
                                     f"({self.free.loc[~known, ['lhs', 'op', 'rhs']].values.tolist()}; internal error)")
        self.theta = self.free["estimate"].to_numpy(dtype=float)
        self.y = frame[self.endo].to_numpy(dtype=float)
        self.x = frame[self.exo].to_numpy(dtype=float)
        observed = ~np.isnan(self.y)
        patterns, self.pattern_of = np.unique(observed, axis=0, return_inverse=True)
        self.patterns = patterns
        self.pattern_of = self.pattern_of.ravel()
        pos_endo = {v: i for i, v in enumerate(self.endo)}
        pos_exo = {v: i for i, v in enumerate(self.exo)}
        self.slots = []
        for row in self.free.itertuples():
            if row.op == "~" and row.rhs in pos_endo:
                self.slots.append(("B", pos_endo[row.lhs], pos_endo[row.rhs]))
            elif row.op == "~":
                self.slots.append(("G", pos_endo[row.lhs], pos_exo[row.rhs]))
            elif row.op == "~~":
                self.slots.append(("P", pos_endo[row.lhs], pos_endo[row.rhs]))
            else:
                self.slots.append(("a", pos_endo[row.lhs], 0))

    def __call__(self, theta: np.ndarray) -> np.ndarray:
        k, e = len(self.endo), len(self.exo)
        B, G, P, alpha = np.zeros((k, k)), np.zeros((k, e)), np.zeros((k, k)), np.zeros(k)
        for value, (kind, i, j) in zip(theta, self.slots):
            if kind == "B":
                B[i, j] = value
            elif kind == "G":
                G[i, j] = value
            elif kind == "P":
                P[i, j] = P[j, i] = value
            else:
                alpha[i] = value
        inv = np.linalg.inv(np.eye(k) - B)
        mean = (alpha + self.x @ G.T) @ inv.T
        omega = inv @ P @ inv.T
        out = np.zeros(self.y.shape[0])
        for p, obs in enumerate(self.patterns):
            if not obs.any():
                continue
            rows = self.pattern_of == p
            resid = self.y[np.ix_(rows, obs)] - mean[np.ix_(rows, obs)]
            sub = omega[np.ix_(obs, obs)]
            _, logdet = np.linalg.slogdet(sub)
            quad = np.einsum("ij,ij->i", resid @ np.linalg.inv(sub), resid)
            out[rows] = -0.5 * (obs.sum() * np.log(2 * np.pi) + logdet + quad)
        return out

    def scores(self) -> np.ndarray:
        """Casewise scores (n, n_free) by central differences at the estimate."""
        out = np.empty((self.y.shape[0], self.theta.size))
        for j in range(self.theta.size):
            h = 1e-5 * max(1.0, abs(self.theta[j]))
            up, down = self.theta.copy(), self.theta.copy()
            up[j] += h
            down[j] -= h
            out[:, j] = (self(up) - self(down)) / (2 * h)
        return out


def fiml_cluster_vcov(frame: pd.DataFrame, model: PathModel, fit: FimlFit, groups: np.ndarray) -> np.ndarray:
    """Cluster-robust covariance of the slopes of a FIML fit (module docstring), clusters by integer codes."""
    sem = fit.sem
    if sem.vcov is None:
        raise AllianceStatsError("the FIML fit has no standard errors; cluster-robust ones need them")
    lik = _CasewiseLikelihood(frame, model, sem.partable)
    scores = lik.scores()
    n_groups = int(groups.max()) + 1
    summed = np.zeros((n_groups, scores.shape[1]))
    np.add.at(summed, groups, scores)
    bread = sem.vcov.to_numpy()
    full = bread @ (summed.T @ summed) @ bread * (n_groups / (n_groups - 1.0))
    free = sem.partable[sem.partable["op"] == "~"].set_index(["lhs", "rhs"])["free"]
    idx = [int(free.loc[key]) - 1 for key in model.coef_keys]
    return full[np.ix_(idx, idx)]


def fiml_resampled_coefficients(frame: pd.DataFrame, model: PathModel, samples: list[np.ndarray]) -> tuple[
        np.ndarray, int]:
    """Slopes refitted by FIML on each resample (row indices into ``frame``); NaN where a refit fails.
    Returns the (len(samples), n_coef) array and the number of failed refits."""
    out = np.full((len(samples), len(model.coef_keys)), np.nan)
    failed = 0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # one warning per failed resample would drown the caller's
        for b, rows in enumerate(samples):
            try:
                fit = fit_fiml(frame.iloc[rows], model, se=False)
            except (AllianceStatsError, np.linalg.LinAlgError, ValueError):
                failed += 1
                continue
            if not fit.sem.convergence.converged:
                failed += 1
                continue
            out[b] = fit.coefs
    return out, failed
