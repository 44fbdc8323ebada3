"""Steps 4 and 5 of ``fit_sem``: the reference models (H1 and baseline) and the fit measures, as lavaan's
``fitMeasures`` (names with ``_`` for ``.``).

Reference models (:func:`reference_models`): H1 is the saturated model (free means and covariance matrix; by EM
under missing data, as lavaan's ``h1``); the baseline is the independence model with free means and variances
(the ``fixed.x`` block of exogenous covariates kept saturated). As in lavaan, with exogenous covariates the
reported log-likelihoods (and so AIC, BIC) are conditional on them: the covariates' own marginal
log-likelihood is subtracted (χ² is unaffected).

Test statistic and fit indices (:func:`fit_measures`): χ² = 2(ℓ_H1 − ℓ_H0) with
df = Σ_g [p_g(p_g+3)/2 − p_x(p_x+3)/2] − npar; CFI (Bentler 1990), TLI (Tucker & Lewis 1973);
RMSEA = √G·√(max(χ² − df, 0)/(df·N)) with a 90% CI from the non-central χ² (Steiger 1990); SRMR (Bentler),
including mean residuals, against the H1 moments; AIC = −2ℓ + 2q; BIC = −2ℓ + q·log N.
Under MLR (or ``se="robust"``) also the Yuan–Bentler (Mplus variant) scaled χ², c = [tr(A1⁻¹B1) − tr(H0⁻¹B0)]/df
(Yuan & Bentler 2000), and the ``*_scaled`` CFI, TLI and RMSEA from the scaled χ² of the model and of the
baseline (the latter with its own scaling factor, as lavaan's ``cfi.scaled`` etc.; the scaled RMSEA's CI from
the unscaled χ² on c·df degrees of freedom); with complete data also the ``*_robust`` CFI, TLI and RMSEA of
Brosseau-Liard & Savalei (2014) — not under FIML, where lavaan uses another correction (Savalei 2018).

References: Bentler (1990) *Psychol. Bull.* 107; Brosseau-Liard, Savalei & Li (2012) *Multivar. Behav. Res.*
47; Brosseau-Liard & Savalei (2014) *Multivar. Behav. Res.* 49; Steiger (1990) *Multivar. Behav. Res.* 25;
Tucker & Lewis (1973) *Psychometrika* 38; Yuan & Bentler (2000) *Sociological Methodology* 30.

Example
-------
>>> indices = baseline_indices(30.0, 10.0, 400.0, 15.0, -900.0, -885.0, 11, 200, 1)  # χ²(10) = 30, N = 200
>>> round(float(indices["cfi"]), 4), round(float(indices["rmsea"]), 4)  # 1 - 20/385, sqrt(20 / (10 * 200))
(0.9481, 0.1)
>>> round(float(rmsea_ci(30.0, 10.0, 200, 1)[1]), 4)  # upper end of the 90% RMSEA interval
0.1421
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy import optimize, stats
from scipy.linalg import block_diag

from .estimate import optimize as optimize_problem
from .likelihood import LOG2PI, PatternData
from .partable import build_partable
from .prepare import Problem
from .syntax import parse_model

Moments = tuple[np.ndarray, np.ndarray]


@dataclass(frozen=True)
class ReferenceModels:
    """Log-likelihoods of the reference models (conditional on fixed.x covariates) and the H1 moments per group."""

    loglik_x: float          # the covariates' marginal log-likelihood (subtracted from every log-likelihood)
    loglik_h1: float         # saturated model
    loglik_baseline: float   # independence model
    h1_moments: list[Moments]


def reference_models(problem: Problem, theta: np.ndarray) -> ReferenceModels:
    """Step 4: fit the saturated (H1) and independence (baseline) models to the data of ``problem``.

    H1's EM starts from the moments implied by θ, which makes it converge in a few iterations.
    """
    observed, exo = list(problem.pt.observed), list(problem.pt.exogenous_x)
    ll_x = sum(exo_loglik(dat, observed, exo) for dat in problem.datas)
    ll_h1 = -ll_x
    ll_base = -ll_x
    h1_moments = []
    for gm, dat in zip(problem.models, problem.datas):
        mu1, sig1, llg, _ = dat.saturated(start=gm.implied(theta))
        ll_h1 += llg
        h1_moments.append((mu1, sig1))
        ll_base += baseline_loglik(dat, observed, exo)
    return ReferenceModels(float(ll_x), float(ll_h1), float(ll_base), h1_moments)


def fit_measures(problem: Problem, theta: np.ndarray, vcov: np.ndarray | None, reference: ReferenceModels, *,
                 robust: bool) -> dict[str, float]:
    """Step 5: χ², df, the indices and (``robust``: MLR) their scaled versions; under FIML lavaan's ``*_robust``
    indices (FIML-corrected, :func:`fiml_corrected`) for ML and MLR alike.

    ``vcov`` is the inverse of the information matrix the standard errors use (None when singular: then no
    scaled or robust statistics).
    """
    pt = problem.pt
    N = problem.n_obs
    G = len(problem.datas)
    p, px = len(pt.observed), len(pt.exogenous_x)
    ll = problem.objective.loglik(theta) - reference.loglik_x
    ll_h1, ll_base = reference.loglik_h1, reference.loglik_baseline
    if problem.meanstructure:
        ndat = G * (p * (p + 3) // 2 - px * (px + 3) // 2)
    else:
        ndat = G * (p * (p + 1) // 2 - px * (px + 1) // 2)
    npar = problem.npar
    df = float(ndat - npar)
    df_base = float(ndat - G * (2 if problem.meanstructure else 1) * (p - px))
    chisq = max(2.0 * (ll_h1 - ll), 0.0) if df > 0 else 2.0 * (ll_h1 - ll)
    chisq_base = 2.0 * (ll_h1 - ll_base)
    fit = baseline_indices(chisq, df, chisq_base, df_base, ll, ll_h1, npar, N, G)
    value = 0.0
    for gm, dat, (mu1, sig1) in zip(problem.models, problem.datas, reference.h1_moments):
        mu, sigma = gm.implied(theta)
        value += dat.n / N * srmr(mu1, sig1, mu, sigma, means=problem.meanstructure)
    fit["srmr"] = value
    if robust:
        if vcov is not None and df > 0:
            scaling = yuan_bentler_scaling(problem, theta, vcov, df, reference.h1_moments)
            fit["chisq_scaled"] = chisq / scaling
            fit["pvalue_scaled"] = float(stats.chi2.sf(chisq / scaling, df))
            fit["chisq_scaling_factor"] = scaling
            fit.update(scaled_indices(problem, reference.h1_moments, fit, N, G))
        else:
            fit["chisq_scaled"] = chisq if df == 0 else np.nan
            fit["pvalue_scaled"] = np.nan
            fit["chisq_scaling_factor"] = np.nan
    if problem.missing == "fiml" and vcov is not None and df > 0 and problem.has_rows:
        try:
            if not np.isfinite(ll_h1):
                raise np.linalg.LinAlgError("no H1 estimate")
            fiml = fiml_corrected(problem, theta, reference.h1_moments, version="V3" if robust else "V6")
        except (np.linalg.LinAlgError, FloatingPointError):
            # lavaan likewise reports NA ("computation of robust RMSEA failed") when H1 has no ML estimate
            fiml = {"chisq": np.nan, "c_hat": np.nan, "chisq_null": np.nan, "c_hat_null": np.nan}
        fit.update(robust_indices(fiml["chisq"], df, fiml["c_hat"], fiml["chisq_null"], df_base, fiml["c_hat_null"],
                                  N, G))
    return fit


def baseline_indices(chisq: float, df: float, chisq_b: float, df_b: float, ll: float, ll_h1: float, npar: int,
                     N: int, G: int) -> dict[str, float]:
    """χ² test, CFI, TLI, RMSEA (with its 90% CI and p-value of close fit), log-likelihoods, AIC, BIC."""
    fit: dict[str, Any] = {
        "chisq": chisq, "df": df, "pvalue": float(stats.chi2.sf(chisq, df)) if df > 0 else np.nan,
        "baseline_chisq": chisq_b, "baseline_df": df_b,
        "baseline_pvalue": float(stats.chi2.sf(chisq_b, df_b)) if df_b > 0 else np.nan}
    d0 = max(chisq - df, 0.0)
    denom = max(chisq - df, chisq_b - df_b, 0.0)
    fit["cfi"] = 1.0 if denom == 0 else 1.0 - d0 / denom
    if df > 0 and df_b > 0:
        t1, t2 = chisq_b / df_b, chisq / df
        fit["tli"] = (t1 - t2) / (t1 - 1.0)
    else:
        fit["tli"] = 1.0
    if df > 0:
        fit["rmsea"] = np.sqrt(max(chisq - df, 0.0) / (df * N)) * np.sqrt(G)
    else:
        fit["rmsea"] = 0.0
    fit["rmsea_ci_lower"], fit["rmsea_ci_upper"] = rmsea_ci(chisq, df, N, G)
    fit["rmsea_pvalue"] = (float(stats.ncx2.sf(chisq, df, 0.05 ** 2 * N * df / G)) if df > 0 else np.nan)
    fit["rmsea_notclose_pvalue"] = (float(stats.ncx2.cdf(chisq, df, 0.08 ** 2 * N * df / G)) if df > 0 else np.nan)
    fit["loglik"] = ll
    fit["unrestricted_loglik"] = ll_h1
    fit["npar"] = float(npar)
    fit["aic"] = -2 * ll + 2 * npar
    fit["bic"] = -2 * ll + np.log(N) * npar
    fit["sabic"] = -2 * ll + np.log((N + 2) / 24) * npar
    fit["ntotal"] = float(N)
    return fit


def rmsea_ci(chisq: float, df: float, n: int, G: int, conf_level: float = 0.90) -> tuple[float, float]:
    """RMSEA confidence interval from the non-central χ² (Steiger 1990), lavaan's 90% by default."""
    if df <= 0 or not np.isfinite(chisq):
        return np.nan, np.nan
    lo_p, hi_p = (1 + conf_level) / 2, (1 - conf_level) / 2

    def lam_for(target: float) -> float:
        def f(lam: float) -> float:
            return stats.ncx2.cdf(chisq, df, lam) - target if lam > 0 else stats.chi2.cdf(chisq, df) - target

        if f(0.0) < 0:
            return 0.0
        hi = max(chisq, 1.0)
        while f(hi) > 0:
            hi *= 2
        return float(optimize.brentq(f, 0.0, hi, xtol=1e-12))

    lo, hi = lam_for(lo_p), lam_for(hi_p)
    return np.sqrt(lo / (n * df)) * np.sqrt(G), np.sqrt(hi / (n * df)) * np.sqrt(G)


def srmr(mu_h1: np.ndarray, sig_h1: np.ndarray, mu: np.ndarray, sigma: np.ndarray, *, means: bool = True) -> float:
    """Standardised root mean square residual of one group (lavaan's ``srmr``, Bentler's): covariance residuals
    scaled by the H1 standard deviations, and the mean residuals when the model has a mean structure."""
    sd = np.sqrt(np.diag(sig_h1))
    r = (sig_h1 - sigma) / np.outer(sd, sd)
    iu = np.triu_indices(len(mu))
    if not means:
        return float(np.sqrt(np.mean(r[iu] ** 2)))
    m = (mu_h1 - mu) / sd
    return float(np.sqrt((np.sum(r[iu] ** 2) + np.sum(m ** 2)) / (len(iu[0]) + len(mu))))


def baseline_loglik(dat: PatternData, observed: list[str], exo: list[str]) -> float:
    """Independence model (free means and variances; the fixed.x block saturated) by ML on available data."""
    xi = [observed.index(x) for x in exo]
    n_j, _, var = dat.available_moments()
    keep = np.array([j not in xi for j in range(len(n_j))], dtype=bool)
    ll = float(np.sum(-0.5 * n_j[keep] * (LOG2PI + np.log(var[keep]) + 1.0)))
    return ll + exo_loglik(dat, observed, exo)


def exo_loglik(dat: PatternData, observed: list[str], exo: list[str]) -> float:
    """Log-likelihood of the exogenous covariates at their sample moments (0 without covariates)."""
    xi = [observed.index(x) for x in exo]
    if not xi:
        return 0.0
    _, s = dat.block_moments(xi)
    return float(-0.5 * dat.n * (len(xi) * LOG2PI + np.linalg.slogdet(s)[1] + len(xi)))


def saturated_scores_info(dat: PatternData, mu: np.ndarray, sigma: np.ndarray,
                          x_idx: list[int] | tuple[int, ...] = ()) -> tuple[np.ndarray, np.ndarray]:
    """Casewise scores and observed information of the saturated model in (μ, vech Σ) coordinates."""
    p = len(mu)
    iu = np.triu_indices(p)

    def unpack(v: np.ndarray) -> Moments:
        m = v[:p]
        s = np.zeros((p, p))
        s[iu] = v[p:]
        s = s + s.T - np.diag(np.diag(s))
        return m, s

    def grad(v: np.ndarray) -> np.ndarray:
        m, s = unpack(v)
        _, gm, gs = dat.loglik(m, s, gradient=True)
        gsv = (gs + gs.T)[iu]
        gsv[iu[0] == iu[1]] /= 2.0
        return np.r_[gm, gsv]

    v0 = np.r_[mu, sigma[iu]]
    k = len(v0)
    H = np.zeros((k, k))
    h = 1e-6
    for j in range(k):
        e = np.zeros(k)
        e[j] = h
        g = [grad(v0 + c * e) for c in (-2, -1, 1, 2)]
        H[:, j] = -(g[0] - 8 * g[1] + 8 * g[2] - g[3]) / (12 * h)
    H = 0.5 * (H + H.T)
    s_mu, s_sig = dat.case_scores(mu, sigma)
    s_sigv = (s_sig + s_sig.transpose(0, 2, 1))[:, iu[0], iu[1]]
    s_sigv[:, iu[0] == iu[1]] /= 2.0
    scores = np.c_[s_mu, s_sigv]
    # fixed.x: the covariates' means and (co)variances are not modelled, so they leave A1 and B1 (as lavaan)
    keep = np.r_[~np.isin(np.arange(p), x_idx), ~(np.isin(iu[0], x_idx) & np.isin(iu[1], x_idx))]
    return scores[:, keep], H[np.ix_(keep, keep)]


def yuan_bentler_scaling(problem: Problem, theta: np.ndarray, vcov0: np.ndarray, df: float,
                         h1_moments: list[Moments]) -> float:
    """Yuan–Bentler (Mplus variant) scaling factor c = [tr(A1⁻¹B1) − tr(H0⁻¹B0)]/df.

    A1, B1: observed and first-order information of the saturated model at its own (sample or EM)
    estimates — lavaan uses ``h1.information = "unstructured"`` here; H0⁻¹ (``vcov0``, under constraints the
    constrained inverse), B0: inverse observed information and outer product of casewise scores of the fitted
    model.
    """
    trace_h1 = 0.0
    for gm, dat, (mu, sigma) in zip(problem.models, problem.datas, h1_moments):
        x_idx = [gm.observed.index(x) for x in problem.pt.exogenous_x]
        scores, A1 = saturated_scores_info(dat, mu, sigma, x_idx)
        B1 = scores.T @ scores
        trace_h1 += float(np.trace(np.linalg.solve(A1, B1)))
    scores0 = np.vstack(problem.objective.case_scores(theta))
    B0 = scores0.T @ scores0
    trace_h0 = float(np.sum(vcov0 * B0))   # tr(H0⁻¹ B0), both symmetric
    return (trace_h1 - trace_h0) / df if df > 0 else np.nan


def baseline_problem(problem: Problem) -> tuple[Problem, list[int]]:
    """The independence model as a fit of its own: free means and variances; covariates kept (fixed.x)."""
    pt = problem.pt
    exo = list(pt.exogenous_x)
    ys = [v for v in pt.observed if v not in exo]
    lines = [f"{v} ~~ {v}" for v in ys] + [f"{v} ~ 1" for v in ys]
    if exo:
        lines.append(f"{ys[0]} ~ " + " + ".join(f"0*{x}" for x in exo))   # makes them fixed.x covariates
    stmts, defs = parse_model("\n".join(lines))
    bpt = build_partable(stmts, defs, observed=set(pt.observed), n_groups=pt.n_groups, defaults="none")
    order = [list(pt.observed).index(v) for v in bpt.observed]
    frames = None if problem.frames is None else [y[:, order] for y in problem.frames]
    datas = [d.reordered(order) for d in problem.datas]
    return Problem(bpt, frames, problem.missing, problem.group_labels, datas=datas,
                   meanstructure=problem.meanstructure), order


def fitted_baseline(problem: Problem) -> tuple[Problem, list[int], np.ndarray, np.ndarray | None]:
    """The independence model fitted to the problem's data (computed once per problem: the scaled and the
    FIML-corrected indices both need it)."""
    cached = problem._fitted_baseline
    if cached is None:
        bw, order = baseline_problem(problem)
        theta_b, hess_b, _ = optimize_problem(bw)
        cached = (bw, order, theta_b, hess_b)
        problem._fitted_baseline = cached
    return cached


def scaled_indices(problem: Problem, h1_moments: list[Moments], fit: dict[str, float], N: int,
                   G: int) -> dict[str, float]:
    """lavaan's *.scaled indices: the baseline χ² scaled by its own Yuan–Bentler factor, then CFI, TLI, RMSEA."""
    bw, order, theta_b, hess_b = fitted_baseline(problem)
    H_b = hess_b if hess_b is not None else bw.objective.observed_information(theta_b)
    df, df_b = fit["df"], fit["baseline_df"]
    h1_b = [(mu[order], sig[np.ix_(order, order)]) for mu, sig in h1_moments]
    c_b = yuan_bentler_scaling(bw, theta_b, np.linalg.inv(H_b), df_b, h1_b)
    t, t_b = fit["chisq_scaled"], fit["baseline_chisq"] / c_b
    out = {"baseline_chisq_scaled": t_b, "baseline_chisq_scaling_factor": c_b}
    denom = max(t - df, t_b - df_b, 0.0)
    out["cfi_scaled"] = 1.0 if denom == 0 else 1.0 - max(t - df, 0.0) / denom
    out["tli_scaled"] = ((t_b / df_b - t / df) / (t_b / df_b - 1.0)) if df > 0 else 1.0
    out["rmsea_scaled"] = np.sqrt(max(t - df, 0.0) / (df * N)) * np.sqrt(G) if df > 0 else 0.0
    # lavaan (Mplus variant): CI from the unscaled χ² on c·df degrees of freedom (same point estimate as above)
    out["rmsea_ci_lower_scaled"], out["rmsea_ci_upper_scaled"] = rmsea_ci(
        fit["chisq"], fit["chisq_scaling_factor"] * df, N, G)
    if problem.missing != "fiml" and df > 0:
        # population-corrected "robust" indices (Brosseau-Liard, Savalei & Li 2012; Brosseau-Liard & Savalei
        # 2014) on complete data; under FIML fit_measures adds lavaan's FIML-corrected ones (fiml_corrected)
        out.update(robust_indices(fit["chisq"], df, fit["chisq_scaling_factor"], fit["baseline_chisq"], df_b, c_b,
                                  N, G))
    return out


def robust_indices(chisq: float, df: float, c_hat: float, chisq_null: float, df_null: float, c_hat_null: float,
                   N: int, G: int) -> dict[str, float]:
    """lavaan's ``*.robust`` CFI, TLI, RMSEA (with its 90% interval and p-value of close fit) from the unscaled χ²
    of the model and of the baseline and their correction factors ĉ, ĉ_B (Brosseau-Liard, Savalei & Li 2012;
    Brosseau-Liard & Savalei 2014; under FIML the corrected statistics of Savalei 2018 / Zhang & Savalei 2020):
    RMSEA = √G·√max(χ²/(N·df) − ĉ/N, 0), its interval from the χ²/ĉ on df scaled by √ĉ, CFI = 1 − max(χ² − ĉ·df, 0)
    / max(χ² − ĉ·df, χ²_B − ĉ_B·df_B, 0), TLI = 1 − (χ² − ĉ·df)·df_B / ((χ²_B − ĉ_B·df_B)·df)."""
    out: dict[str, float] = {}
    if not all(np.isfinite([chisq, c_hat, chisq_null, c_hat_null])) or df <= 0:
        return {k: np.nan for k in ("cfi_robust", "tli_robust", "rmsea_robust", "rmsea_ci_lower_robust",
                                    "rmsea_ci_upper_robust", "rmsea_pvalue_robust")}
    d0, db = chisq - c_hat * df, chisq_null - c_hat_null * df_null
    t2 = max(d0, db, 0.0)
    out["cfi_robust"] = 1.0 if max(d0, 0.0) == 0 and t2 == 0 else 1.0 - max(d0, 0.0) / t2
    out["tli_robust"] = 1.0 - (d0 * df_null) / (db * df) if db != 0 else 1.0
    out["rmsea_robust"] = np.sqrt(max(chisq / N / df - c_hat / N, 0.0)) * np.sqrt(G)
    lo, hi = rmsea_ci(chisq / c_hat, df, N, G)
    out["rmsea_ci_lower_robust"], out["rmsea_ci_upper_robust"] = lo * np.sqrt(c_hat), hi * np.sqrt(c_hat)
    out["rmsea_pvalue_robust"] = float(stats.ncx2.sf(chisq / c_hat, df, N * df / c_hat * 0.05 ** 2 / G))
    return out


def _moment_coordinates(p: int) -> tuple[np.ndarray, np.ndarray, tuple[np.ndarray, np.ndarray]]:
    """dμ, dΣ of the saturated model's own coordinates (μ, vech Σ): the identity Jacobian, and vech's indices."""
    iu = np.triu_indices(p)
    k = p + len(iu[0])
    dmu = np.zeros((k, p))
    dmu[np.arange(p), np.arange(p)] = 1.0
    dsig = np.zeros((k, p, p))
    r = np.arange(p, k)
    dsig[r, iu[0], iu[1]] = 1.0
    dsig[r, iu[1], iu[0]] = 1.0
    return dmu, dsig, iu


def moment_jacobian(gm, theta: np.ndarray) -> np.ndarray:
    """Δ = ∂(μ, vech Σ)/∂θ (rows: means, then the upper triangle of Σ row by row) of one group."""
    _, _, dmu, dsig = gm.jacobian(theta)
    iu = np.triu_indices(dmu.shape[1])
    return np.vstack([dmu.T, dsig[:, iu[0], iu[1]].T])


def h1_information(dat: PatternData, mu: np.ndarray, sigma: np.ndarray, kind: str) -> np.ndarray:
    """Information of the saturated model at (μ, Σ) in (μ, vech Σ) coordinates, summed over rows: ``"observed"``
    (the Hessian of −ℓ; with missing data over the patterns) or ``"expected"``."""
    dmu, dsig, _ = _moment_coordinates(len(mu))
    if kind == "observed":
        return dat.observed_information_moments(mu, sigma, dmu, dsig)
    return dat.expected_information(sigma, dmu, dsig)


def non_x(p: int, x_idx) -> np.ndarray:
    """Mask of the (μ, vech Σ) coordinates that do not belong to fixed.x covariates only (lavaan drops them)."""
    iu = np.triu_indices(p)
    return np.r_[~np.isin(np.arange(p), x_idx), ~(np.isin(iu[0], x_idx) & np.isin(iu[1], x_idx))]


def _complete_chisq(problem: Problem, theta: np.ndarray, h1_moments: list[Moments]) -> float:
    """χ² of the model at θ against the H1 moments taken as complete-data summary statistics (lavaan's fit.tilde)."""
    total = 0.0
    for gm, dat, (mu1, sig1) in zip(problem.models, problem.datas, h1_moments):
        tilde = PatternData.from_moments(mu1, sig1, dat.n)
        mu, sigma = gm.implied(theta)
        total += 2.0 * (tilde.loglik(mu1, sig1)[0] - tilde.loglik(mu, sigma)[0])
    return total


def fiml_corrected(problem: Problem, theta: np.ndarray, h1_moments: list[Moments], *,
                   version: str) -> dict[str, float]:
    """lavaan's FIML-corrected χ² and correction factors behind the ``*_robust`` indices under missing data
    (``lav_fit_fiml_corrected``; Savalei 2018; Zhang & Savalei 2020, "FIML-C").

    T̃: the model at θ̂ tested against the EM moments as if they were complete data; ĉ = k/df with, in the
    saturated model's coordinates (fixed.x moments dropped) and per-observation scale, W_m and J_m the observed
    and first-order information of the missing-data H1 at the EM moments, W_c the complete-data information there,
    U = W_m − W_m Δ (Δᵀ W_m Δ)⁻¹ Δᵀ W_m, Γ = W_m⁻¹ J_m W_m⁻¹ and k = tr(W_c W_m⁻¹ U W_m⁻¹) (``"V6"``, for ML) or
    tr(U W_m⁻¹ W_c W_m⁻¹ U Γ) (``"V3"``, for MLR); the same for the independence model gives ĉ_B.
    """
    N = problem.n_obs
    x_idx = [list(problem.pt.observed).index(x) for x in problem.pt.exogenous_x]
    Wm, Wmi, Wc, Gam = [], [], [], []
    for dat, (mu1, sig1) in zip(problem.datas, h1_moments):
        if not np.isfinite(dat.loglik(mu1, sig1)[0]):
            raise np.linalg.LinAlgError("the H1 covariance matrix is not positive definite")
        keep = non_x(len(mu1), x_idx)
        H = h1_information(dat, mu1, sig1, "observed")[np.ix_(keep, keep)]
        Wm.append(H / N)
        Hi = np.linalg.inv(H)
        Wmi.append(N * Hi)
        Wc.append(dat.n / N * h1_information(PatternData.from_moments(mu1, sig1, 1), mu1, sig1, "expected")
                  [np.ix_(keep, keep)])
        if version == "V3":
            scores, _ = saturated_scores_info(dat, mu1, sig1, x_idx)
            Gam.append(N * Hi @ (scores.T @ scores) @ Hi)
    Wm_all, Wmi_all, Wc_all = block_diag(*Wm), block_diag(*Wmi), block_diag(*Wc)
    Gam_all = block_diag(*Gam) if Gam else None

    def trace_k(delta: np.ndarray, reduction=None) -> float:
        E = delta.T @ Wm_all @ delta
        if reduction is not None:
            K = reduction[0]
            E_inv = K @ np.linalg.inv(K.T @ E @ K) @ K.T
        else:
            E_inv = np.linalg.inv(E)
        U = Wm_all - Wm_all @ delta @ E_inv @ delta.T @ Wm_all
        if version == "V3":
            return float(np.trace(U @ Wmi_all @ Wc_all @ Wmi_all @ U @ Gam_all))
        return float(np.trace(Wc_all @ Wmi_all @ U @ Wmi_all))

    def stacked_delta(prob: Problem, th: np.ndarray, order: list[int]) -> np.ndarray:
        blocks = []
        p = len(order)
        back = np.argsort(order)   # position in prob's variable order of each of the main problem's variables
        for gm in prob.models:
            _, _, dmu, dsig = gm.jacobian(th)
            dmu, dsig = dmu[:, back], dsig[:, back][:, :, back]
            iu = np.triu_indices(p)
            delta = np.vstack([dmu.T, dsig[:, iu[0], iu[1]].T])
            blocks.append(delta[non_x(p, x_idx)])
        return np.vstack(blocks)

    p = len(problem.pt.observed)
    df = _df(problem)
    xx3 = _complete_chisq(problem, theta, h1_moments)
    c_hat = trace_k(stacked_delta(problem, theta, list(range(p))), problem.reduction) / df
    bw, order, theta_b, _ = fitted_baseline(problem)
    h1_b = [(mu[order], sig[np.ix_(order, order)]) for mu, sig in h1_moments]
    xx3_null = _complete_chisq(bw, theta_b, h1_b)
    df_b = _df(bw)
    c_hat_null = trace_k(stacked_delta(bw, theta_b, order)) / df_b
    return {"chisq": xx3, "c_hat": c_hat, "chisq_null": xx3_null, "c_hat_null": c_hat_null}


def _df(problem: Problem) -> float:
    G = len(problem.datas)
    p, px = len(problem.pt.observed), len(problem.pt.exogenous_x)
    ndat = G * (p * (p + 3) // 2 - px * (px + 3) // 2)
    return float(ndat - problem.npar) if problem.meanstructure else float(
        G * (p * (p + 1) // 2 - px * (px + 1) // 2) - problem.npar)
