"""Post-fit tools of an ML fit, as lavaan's: modification indices, residuals, fitted moments, factor scores, R².

Modification indices (:func:`modification_indices`; Sörbom 1989; Saris, Satorra & Sörbom 1987; lavaan's
``modindices``): the score test of freeing one fixed parameter at a time. The model is extended by every parameter
lavaan considers (``lav_partable_full``: loadings of each latent variable on every indicator-type observed variable,
residual covariances among indicators, (co)variances of the latent variables, regressions among the variables of
the structural part, means when there is a mean structure) and by the model's own fixed parameters; with g the
gradient of ℓ and I the expected information of the extended model at θ̂, V = I₁₁ − I₁₂ I₂₂⁻¹ I₂₁ (I₂₂⁻¹ the
constrained inverse of the model's information), MI = g²/V, EPC = g/V (the expected change), and SEPC the EPC
standardised as ``std.lv`` and ``std.all`` are. Parameters whose V is ~0 (not identified once freed: a marker
loading, a regression equivalent to a free covariance) are left out, as lavaan does (per observation
V < ε^(1/3)).

Residuals (:func:`residual_moments`; lavaan's ``residuals`` / ``lavResiduals``): ``"raw"`` H1 − implied moments (H1:
the sample moments, or the EM estimates under FIML); ``"cor"`` (Bollen's: the difference of the two correlation
matrices, means scaled by their own SDs); ``"cor.bentler"`` (both scaled by the observed SDs; what SRMR squares);
``"standardized"``: raw residuals divided by their asymptotic standard errors, the diagonal of
Q·ACOV(s)·Qᵀ with Q = I − Δ(Δᵀ A Δ)⁻¹Δᵀ A (A the H1 information at the implied moments; ACOV(s) = Ā⁻¹/n, Ā at the
H1 moments, or the sandwich Ā⁻¹ J̄ Ā⁻¹/n with the first-order J̄ under robust standard errors) — lavaan's
``type = "standardized"``. Near-zero residuals (below 1e-5) are
left unscaled, as lavaan does.

Factor scores (:func:`factor_scores`; lavaan's ``lavPredict``): ``"regression"`` (Thurstone 1935) E(η | y) =
μ_η + Cov(η, y) Σ_yy⁻¹ (y − μ_y); ``"bartlett"`` (Bartlett 1937) μ_η + (Λᵀ Θ⁻¹ Λ)⁻¹ Λᵀ Θ⁻¹ (y − μ_y); with missing
values each row uses its observed variables.

R² (:func:`r_squared`; lavaan's ``inspect(fit, "r2")``): 1 − residual variance / implied variance of each
endogenous variable (indicators, and variables regressed on others).

Example
-------
>>> import numpy as np, pandas as pd
>>> from allianceStats.sem import fit_sem
>>> rng = np.random.default_rng(0)
>>> f = rng.normal(size=(500, 1))
>>> items = pd.DataFrame(f @ [[1.0, 0.8, 0.6, 0.7]] + rng.normal(size=(500, 4)) * 0.7, columns=["a", "b", "c", "d"])
>>> fit = fit_sem(items, "F =~ a + b + c + d")
>>> mi = fit.modindices()
>>> list(mi.columns)
['lhs', 'op', 'rhs', 'group', 'mi', 'epc', 'sepc_lv', 'sepc_all']
>>> round(float(fit.r2["a"]), 2), fit.predict().shape
(0.68, (500, 1))
"""
from __future__ import annotations

import itertools
from collections.abc import Hashable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..errors import OptionError
from .estimate import Objective
from .fit_measures import h1_information, moment_jacobian, non_x, saturated_scores_info
from .model import GroupModel
from .parameter_estimates import row_estimates, std_all


@dataclass(frozen=True)
class GroupMoments:
    """Moments of one group: a covariance-type matrix and (with a mean structure) a mean-type vector."""

    cov: pd.DataFrame
    mean: pd.Series | None = None


def _key(lhs: str, op: str, rhs: str) -> tuple[str, str, str]:
    if op == "~~" and rhs < lhs:
        return rhs, op, lhs
    return lhs, op, rhs


def candidate_rows(table: pd.DataFrame, observed: list[str], latent: list[str], exo: list[str],
                   meanstructure: bool) -> list[tuple[str, str, str]]:
    """The parameters lavaan's ``lav_partable_full`` lists for one group (before removing those in the model)."""
    user = table[table["user"]]
    indicators = [v for v in dict.fromkeys(user.loc[user["op"] == "=~", "rhs"]) if v in observed]
    eqs = list(dict.fromkeys(list(user.loc[user["op"] == "~", "lhs"]) + list(user.loc[user["op"] == "~", "rhs"])))
    ov_nox = [v for v in observed if v not in exo]
    rows: list[tuple[str, str, str]] = []
    rows += [(f, "=~", v) for f in latent for v in ov_nox if v not in eqs]
    other = [v for v in observed if v not in indicators]
    rows += [(a, "~~", b) for a, b in itertools.combinations_with_replacement(ov_nox, 2)
             if a not in other and b not in other]
    rows += [(a, "~~", b) for a, b in itertools.combinations_with_replacement(latent, 2)]
    rows += [(y, "~", x) for y in eqs for x in eqs
             if y != x and y not in exo and not (y in indicators and x in latent)]
    if meanstructure:
        rows += [(v, "~1", "") for v in ov_nox + latent]
    return rows


def _extended(state, table: pd.DataFrame) -> tuple[pd.DataFrame, np.ndarray, np.ndarray]:
    """The table extended by the candidate parameters and the model's own fixed parameters (freed), θ at θ̂ and the
    extras at their current values, and a flag per row: extra (True) or a parameter of the model."""
    problem = state.problem
    pt = problem.pt
    meanstructure = problem.meanstructure
    q = pt.npar
    tab = table.copy()
    tab["extra"] = False
    extra_free = q
    # the model's own fixed parameters, freed (lavaan: all.free); not fixed.x rows, not means without mean structure
    fixed = (tab["free"] == 0) & ~tab["exo"] & tab["op"].isin(["=~", "~", "~~", "~1"])
    if not meanstructure:
        fixed &= tab["op"] != "~1"
    rows_fixed = np.flatnonzero(fixed.to_numpy())
    free_col = tab["free"].to_numpy().copy()
    free_col[rows_fixed] = q + 1 + np.arange(len(rows_fixed))
    tab["free"] = free_col
    tab["extra"] = fixed.to_numpy()
    extra_free += len(rows_fixed)
    present = {(_key(lhs, op, rhs), g) for lhs, op, rhs, g in zip(tab["lhs"], tab["op"], tab["rhs"], tab["group"])}
    new = []
    for g in range(1, pt.n_groups + 1):
        for lhs, op, rhs in candidate_rows(tab[tab["group"] == g], list(pt.observed), list(pt.latent),
                                           list(pt.exogenous_x), meanstructure):
            key = _key(lhs, op, rhs)
            if (key, g) in present:
                continue
            present.add((key, g))
            extra_free += 1
            new.append(dict(lhs=key[0], op=op, rhs=key[2], group=g, user=False, free=extra_free, value=0.0, label="",
                            exo=False, start=np.nan, extra=True))
    ext = pd.concat([tab, pd.DataFrame(new, columns=tab.columns)], ignore_index=True) if new else tab
    current = row_estimates(table, state.theta)
    theta = np.r_[state.theta, np.zeros(extra_free - q)]
    values = np.r_[current, np.zeros(len(new))]
    extra_rows = ext["extra"].to_numpy(dtype=bool)
    theta[ext.loc[extra_rows, "free"].to_numpy() - 1] = values[extra_rows]
    ext["value"] = np.where(ext["free"].to_numpy() > 0, np.nan, ext["value"].to_numpy(dtype=float))
    return ext, theta, extra_rows


def modification_indices(state, table: pd.DataFrame) -> pd.DataFrame:
    """Modification indices with EPC and standardised EPC (module docstring), one row per parameter that could be
    freed: ``lhs, op, rhs, group, mi, epc, sepc_lv, sepc_all``."""
    problem = state.problem
    if state.vcov_model is None:
        raise OptionError("modification indices need the model's information matrix, which is singular (the model "
                          "is not identified)")
    ext, theta, extra_rows = _extended(state, table)
    npar = len(theta)
    models = [GroupModel(ext[ext["group"] == g], problem.pt.observed, problem.pt.latent, npar=npar)
              for g in range(1, problem.pt.n_groups + 1)]
    objective = Objective(models, problem.datas)
    info = objective.expected_information(theta)
    grad = objective.gradient(theta)
    q = problem.pt.npar
    model_idx, extra_idx = np.arange(q), np.arange(q, npar)
    own = Objective(problem.models, problem.datas).expected_information(state.theta)
    from .estimate import vcov_from_information
    inv22 = (vcov_from_information(own) if problem.reduction is None
             else vcov_from_information(own, problem.reduction))
    if inv22 is None:
        raise OptionError("modification indices need the expected information of the model, which is singular")
    I11 = info[np.ix_(extra_idx, extra_idx)]
    I12 = info[np.ix_(extra_idx, model_idx)]
    V = np.diag(I11 - I12 @ inv22 @ I12.T).copy()
    N = problem.n_obs
    V[V / N < np.finfo(float).eps ** (1 / 3)] = np.nan
    g = grad[extra_idx]
    with np.errstate(invalid="ignore", divide="ignore"):
        mi = g ** 2 / V
        epc = g / V
    rows = ext[extra_rows]
    free = rows["free"].to_numpy() - 1
    out = pd.DataFrame({"lhs": rows["lhs"].to_numpy(), "op": rows["op"].to_numpy(), "rhs": rows["rhs"].to_numpy(),
                        "group": rows["group"].to_numpy(dtype=int), "mi": mi[free - q], "epc": epc[free - q]})
    # standardised EPC: |EPC| standardised as the estimates are, with the model's moments at θ̂ (variances of
    # extra variance rows: the current values, lavaan's cov.std)
    est = row_estimates(table, state.theta)
    est_ext = np.r_[est, np.zeros(len(ext) - len(table))]
    epc_rows = np.full(len(ext), np.nan)
    epc_rows[np.flatnonzero(extra_rows)] = out["epc"].to_numpy()
    std_in = np.where(extra_rows, np.abs(epc_rows), est_ext)
    variance = (ext["op"] == "~~").to_numpy() & (ext["lhs"] == ext["rhs"]).to_numpy()
    std_in = np.where(variance & extra_rows, est_ext, std_in)
    sign = np.sign(epc_rows[extra_rows])
    out["sepc_lv"] = sign * std_all(ext, problem, state.theta, std_in, latent_only=True)[extra_rows]
    out["sepc_all"] = sign * std_all(ext, problem, state.theta, std_in)[extra_rows]
    out = out[np.isfinite(out["mi"])].reset_index(drop=True)
    return out


# ----------------------------------------------------------------------------------------------------
# residuals and fitted moments


def _moments_frame(names: list[str], cov: np.ndarray, mean: np.ndarray | None) -> GroupMoments:
    return GroupMoments(cov=pd.DataFrame(cov, index=names, columns=names),
                        mean=None if mean is None else pd.Series(mean, index=names))


def fitted_moments(state) -> list[GroupMoments]:
    """Model-implied covariance matrix and (with a mean structure) means of the observed variables, per group."""
    problem = state.problem
    names = list(problem.pt.observed)
    out = []
    for gm in problem.models:
        mu, sigma = gm.implied(state.theta)
        out.append(_moments_frame(names, sigma, mu if problem.meanstructure else None))
    return out


def _rescale(x: np.ndarray, scale: np.ndarray) -> np.ndarray:
    """x·scale, except near-zero entries (|x| < 1e-5), which lavaan leaves unscaled."""
    return np.where(np.abs(x) < 1e-5, x, x * scale)


def residual_moments(state, kind: str) -> list[GroupMoments]:
    """Residual moments per group (module docstring): ``kind`` ∈ raw, cor, cor.bentler, standardized."""
    problem = state.problem
    names = list(problem.pt.observed)
    means = problem.meanstructure
    if kind == "standardized":
        return _standardized_residuals(state)
    out = []
    for gm, (m1, s1) in zip(problem.models, state.h1_moments):
        mu, sigma = gm.implied(state.theta)
        if kind == "raw":
            out.append(_moments_frame(names, s1 - sigma, m1 - mu if means else None))
            continue
        v_obs = np.diag(s1)
        v_est = np.diag(sigma) if kind == "cor" else v_obs
        obs_c = _rescale(s1, 1 / np.sqrt(np.outer(v_obs, v_obs)))
        est_c = _rescale(sigma, 1 / np.sqrt(np.outer(v_est, v_est)))
        obs_m = _rescale(m1, 1 / np.sqrt(v_obs))
        est_m = _rescale(mu, 1 / np.sqrt(v_obs))   # lavaan scales both means by the observed SDs
        out.append(_moments_frame(names, obs_c - est_c, obs_m - est_m if means else None))
    return out


def _standardized_residuals(state) -> list[GroupMoments]:
    problem = state.problem
    robust = state.se in ("robust.huber.white", "robust.sem")
    if not robust and state.se not in ("standard", "none"):
        raise OptionError("standardized residuals need an information-based or sandwich standard error; this fit has "
                          f"se={state.se!r}")
    if robust and not problem.has_rows:
        raise OptionError("robust standardized residuals need the rows of the data")
    names = list(problem.pt.observed)
    p = len(names)
    x_idx = [names.index(x) for x in problem.pt.exogenous_x]
    keep = non_x(p, x_idx)
    N = problem.n_obs
    kind = state.information
    A1, acov_obs, deltas = [], [], []
    for gm, dat, (m1, s1) in zip(problem.models, problem.datas, state.h1_moments):
        mu, sigma = gm.implied(state.theta)
        A1.append(h1_information(dat, mu, sigma, kind)[np.ix_(keep, keep)] / dat.n)
        H_inv = np.linalg.inv(h1_information(dat, m1, s1, kind)[np.ix_(keep, keep)])
        if robust:   # the sample moments' sandwich, as lavaan's h1 ACOV under robust standard errors
            scores, _ = saturated_scores_info(dat, m1, s1, x_idx)
            acov_obs.append(H_inv @ (scores.T @ scores) @ H_inv)
        else:
            acov_obs.append(H_inv)
        deltas.append(moment_jacobian(gm, state.theta)[keep])
    E = sum(dat.n / N * d.T @ a @ d for dat, d, a in zip(problem.datas, deltas, A1))
    if problem.reduction is not None:
        K = problem.reduction[0]
        E_inv = K @ np.linalg.pinv(K.T @ E @ K) @ K.T
    else:
        E_inv = np.linalg.pinv(E)
    out = []
    raw = residual_moments(state, "raw")
    iu = np.triu_indices(p)
    for dat, d, a, acov, res in zip(problem.datas, deltas, A1, acov_obs, raw):
        acov_est = dat.n / N * d @ E_inv @ d.T
        Q = np.eye(len(acov_est)) - acov_est @ a
        se_red = np.sqrt(np.clip(np.diag(Q @ acov @ Q.T), 0, None))
        se = np.zeros(keep.size)
        se[keep] = se_red
        se_mean, se_cov = se[:p], np.zeros((p, p))
        se_cov[iu] = se[p:]
        se_cov = se_cov + np.triu(se_cov, 1).T
        A = res.cov.to_numpy()
        B = np.where((np.abs(A) < 1e-5) | (se_cov == 0), 1.0, se_cov)
        mean = None
        if res.mean is not None:
            a_m = res.mean.to_numpy()
            mean = a_m / np.where((np.abs(a_m) < 1e-5) | (se_mean == 0), 1.0, se_mean)
        out.append(_moments_frame(names, A / B, mean))
    return out


# ----------------------------------------------------------------------------------------------------
# factor scores and R²


def factor_scores(state, method: str) -> pd.DataFrame:
    """Factor scores of the rows used in the fit (module docstring), indexed as the input table."""
    problem = state.problem
    if not problem.has_rows:
        raise OptionError("factor scores need the rows of the data; this model was fitted to summary statistics")
    latent = list(problem.pt.latent)
    if not latent:
        raise OptionError("the model has no latent variables, so there are no factor scores")
    p = len(problem.pt.observed)
    frames = []
    for gm, y, index in zip(problem.models, problem.frames, problem.row_index):
        mean_all, C, Psi = gm.all_moments(state.theta)
        B, _, _ = gm.matrices(state.theta)
        lat = [gm.pos[v] for v in latent]
        mu_y, mu_eta = mean_all[:p], mean_all[lat]
        if method == "bartlett":
            if np.any(B[:p, :p] != 0):
                raise OptionError("Bartlett scores need a measurement model in which observed variables depend "
                                  "only on latent variables (no regressions among observed variables)")
            lam = B[:p][:, lat]
            theta_ = Psi[:p, :p]
        scores = np.full((len(y), len(latent)), np.nan)
        observed = ~np.isnan(y)
        patterns, inverse = np.unique(observed, axis=0, return_inverse=True)
        for k, mask in enumerate(patterns):
            rows = np.flatnonzero(inverse.ravel() == k)
            o = np.flatnonzero(mask)
            dev = y[np.ix_(rows, o)] - mu_y[o]
            if method == "regression":
                weights = np.linalg.solve(C[np.ix_(o, o)], C[np.ix_(o, lat)]).T
            else:
                ti = np.linalg.inv(theta_[np.ix_(o, o)])
                lo = lam[o]
                weights = np.linalg.solve(lo.T @ ti @ lo, lo.T @ ti)
            scores[rows] = mu_eta + dev @ weights.T
        frames.append(pd.DataFrame(scores, index=index, columns=latent))
    return pd.concat(frames).sort_index() if len(frames) > 1 else frames[0]


def r_squared(state, table: pd.DataFrame) -> list[pd.Series]:
    """R² of every endogenous variable (indicators, and variables regressed on others), per group."""
    problem = state.problem
    user = table[table["user"]]
    endogenous = set(user.loc[user["op"] == "=~", "rhs"]) | set(user.loc[user["op"] == "~", "lhs"])
    names = [v for v in list(problem.pt.observed) + list(problem.pt.latent) if v in endogenous]
    out = []
    for gm in problem.models:
        _, C, Psi = gm.all_moments(state.theta)
        idx = [gm.pos[v] for v in names]
        out.append(pd.Series(1.0 - np.diag(Psi)[idx] / np.diag(C)[idx], index=names, name="r2"))
    return out


def by_group(values: list, labels: tuple[Hashable, ...], group: Hashable | None):
    """One group's entry (single-group fits, or ``group=`` given) or a dict label → entry."""
    if group is not None:
        if group not in labels:
            raise OptionError(f"group={group!r} is not one of the fit's groups {list(labels)}")
        return values[labels.index(group)]
    if len(values) == 1:
        return values[0]
    return dict(zip(labels, values))
