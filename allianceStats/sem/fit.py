"""``fit_sem``: structural equation models by ML / FIML, matching lavaan.

Pipeline (lavaan's, Rosseel 2012): data → parameter table → sample statistics by missing-data pattern →
start values → model matrices → optimisation → standard errors → test statistics → baseline model.

Model and likelihood: see ``model.py`` (Σ(θ) = Λ(I−B)⁻¹Ψ(I−B)⁻ᵀΛᵀ + Θ, μ(θ) = ν + Λ(I−B)⁻¹α; Jöreskog
1973, Bollen 1989) and ``likelihood.py`` (casewise FIML, Arbuckle 1996; Enders 2010). With complete data
FIML is ordinary ML with a mean structure.

Standard errors (as lavaan 0.6 computes them for the same options)
-----------------------------------------------------------------
* ``missing="listwise"``, ``se="standard"``: inverse expected information (lavaan ``information="expected"``).
* ``missing="fiml"``/``"ml"`` (default): inverse observed information, the Hessian of −ℓ (lavaan's default
  for ``missing="ml"``: ``information="observed"``, ``observed.information="hessian"``).
* ``se="robust"`` or ``estimator="MLR"``: Huber–White sandwich H⁻¹(Σ_i s_i s_iᵀ)H⁻¹ with the observed
  information H and casewise scores s_i (Yuan & Bentler 2000; lavaan ``se="robust.huber.white"``), with the
  Yuan–Bentler (Mplus variant) scaled χ² — lavaan's ``estimator="MLR"``. (With complete data lavaan's own
  ``se="robust"`` means ``"robust.sem"``, a sandwich around the *expected* information; that variant is not
  implemented.)
* ``se="bootstrap"``: ordinary (row-resampling, within groups) bootstrap; SE = SD of the replicates,
  percentile CIs, for defined (``:=``) parameters too (their replicates, not the delta method). Replicates
  are refitted by Fisher scoring from the full-sample estimates.

Test statistic and fit indices (lavaan ``fitMeasures``): χ² = 2(ℓ_H1 − ℓ_H0) with H1 the saturated model
(EM under missing data), df = Σ_g [p_g(p_g+3)/2 − p_x(p_x+3)/2] − npar; baseline = independence model with
free means and variances (and the fixed.x block kept); CFI, TLI (Bentler 1990; Tucker & Lewis 1973);
RMSEA = √G·√(max(χ² − df, 0)/(df·N)) with a 90% CI from the non-central χ² (Steiger 1990); SRMR (Bentler),
with MLR also the ``*_scaled`` versions (CFI, TLI, RMSEA from the scaled χ² of the model and of the baseline,
the latter with its own scaling factor, as lavaan's ``cfi.scaled`` etc.; the scaled RMSEA's CI from the
unscaled χ² on c·df degrees of freedom; with complete data also the ``*_robust`` CFI, TLI and RMSEA of
Brosseau-Liard & Savalei — not under FIML, where lavaan uses another correction);
including mean residuals, against the H1 moments; AIC = −2ℓ + 2q; BIC = −2ℓ + q·log N. As in lavaan, with
exogenous covariates (fixed.x) the reported log-likelihoods (and so AIC, BIC) are conditional on them: the
covariates' own marginal log-likelihood is subtracted (χ² is unaffected).

Exogenous observed covariates are handled as ``lavaan::sem()`` with ``fixed.x = TRUE``: their means,
variances and covariances are fixed at the sample values and are not parameters; rows with a missing
covariate are dropped with a :class:`DataWarning` (lavaan does the same).

References: Arbuckle (1996) in Marcoulides & Schumacker (eds.), *Advanced SEM*; Bollen (1989) *Structural
Equations with Latent Variables*; Enders (2010) *Applied Missing Data Analysis*; Jöreskog (1973);
Rosseel (2012) *J. Stat. Softw.* 48(2); Satorra & Bentler (2001) *Psychometrika* 66; Yuan & Bentler (2000)
*Sociological Methodology* 30.
"""
from __future__ import annotations

import time
import warnings

import numpy as np
import pandas as pd
from scipy import optimize, stats
from threadpoolctl import threadpool_limits

from ..errors import (AllianceStatsError, BoundaryWarning, ConvergenceWarning, DataWarning,
                      IdentificationError)
from ..results import Convergence, make_provenance
from .estimate import Objective, fisher_scoring, newton_polish
from .likelihood import LOG2PI, PatternData
from .model import GroupModel
from .partable import build_partable
from .result import SEMResult
from .syntax import evaluate_expression, parse_model

_MISSING = {"fiml": "fiml", "ml": "fiml", "listwise": "listwise"}


def _prepare_data(data, pt_observed, group, missing, exo):
    if not isinstance(data, pd.DataFrame):
        raise AllianceStatsError(f"data must be a pandas DataFrame, got {type(data).__name__}.")
    cols = list(pt_observed)
    bad = [c for c in cols if not pd.api.types.is_numeric_dtype(data[c])]
    if bad:
        raise AllianceStatsError(f"column(s) {bad} are not numeric; SEM needs numeric observed variables.")
    if group is not None:
        if group not in data.columns:
            raise AllianceStatsError(f"group column {group!r} not found in data; columns are {list(data.columns)}.")
        gvals = data[group]
        if gvals.isna().any():
            raise AllianceStatsError(f"group column {group!r} has {int(gvals.isna().sum())} missing value(s); "
                                     "drop those rows first.")
        labels = list(pd.unique(gvals))
    else:
        labels = [1]
    frames = []
    for lab in labels:
        sub = data if group is None else data[data[group] == lab]
        y = sub[cols].to_numpy(dtype=float, na_value=np.nan)
        keep = np.ones(len(y), dtype=bool)
        if missing == "listwise":
            keep &= ~np.isnan(y).any(axis=1)
        else:
            empty = np.isnan(y).all(axis=1)
            if empty.any():
                warnings.warn(f"{int(empty.sum())} row(s) with all model variables missing were dropped"
                              f"{'' if group is None else f' (group {lab!r})'}.", DataWarning, stacklevel=4)
            keep &= ~empty
            xi = [cols.index(x) for x in exo]
            if xi:
                miss_x = np.isnan(y[:, xi]).any(axis=1) & keep
                if miss_x.any():
                    warnings.warn(f"{int(miss_x.sum())} row(s) with a missing exogenous covariate {list(exo)} were "
                                  "dropped (fixed.x, as lavaan does); add the covariate to the model as an "
                                  "endogenous variable (e.g. 'x ~ 1') to keep them.", DataWarning, stacklevel=4)
                keep &= ~miss_x
        y = y[keep]
        never = [c for c, k in zip(cols, np.isnan(y).all(axis=0)) if k]
        if never:
            where = "" if group is None else f" in group {lab!r}"
            raise AllianceStatsError(f"variable(s) {never} have no observed value{where}; drop them from the model "
                                     "or from that group.")
        if len(y) < 2:
            raise IdentificationError(f"group {lab!r} has {len(y)} usable row(s); at least 2 are needed.")
        frames.append(y)
    return labels, frames


def _fill_exo(table, observed, exo, frames):
    table = table.copy()
    for g, y in enumerate(frames, start=1):
        if not exo:
            break
        idx = [observed.index(x) for x in exo]
        x = y[:, idx]
        mean = x.mean(axis=0)
        cov = np.cov(x.T, bias=True).reshape(len(idx), len(idx))
        for r in np.flatnonzero(table["exo"].to_numpy() & (table["group"].to_numpy() == g)):
            lhs, op, rhs = table.at[r, "lhs"], table.at[r, "op"], table.at[r, "rhs"]
            if op == "~1":
                table.at[r, "value"] = mean[exo.index(lhs)]
            else:
                table.at[r, "value"] = cov[exo.index(lhs), exo.index(rhs)]
    return table


def _pair_cov(y, i, j):
    both = ~np.isnan(y[:, i]) & ~np.isnan(y[:, j])
    if both.sum() < 2:
        return 0.0
    a, b = y[both, i], y[both, j]
    return float(np.mean((a - a.mean()) * (b - b.mean())))


def _start_values(table, observed, latent, frames):
    """Start values: intercepts at the means, residual variances at half the variances, regressions 0.

    Each latent variable is scaled by its marker indicator (the first one with a fixed non-zero loading c):
    variance start 0.5·var(marker)/c², other loadings c·sign(cov(x, marker))·sd(x)/sd(marker), so that signs
    and very different scales (a 1-5 rating next to a 0-100 percentage) start in the right region.
    """
    npar = int(table["free"].max())
    theta = np.zeros(npar)
    counts = np.zeros(npar)
    for g, y in enumerate(frames, start=1):
        var = np.nanvar(y, axis=0)
        mean = np.nanmean(y, axis=0)
        sub = table[table["group"] == g]
        markers: dict[str, tuple[int, float]] = {}
        first: dict[str, int] = {}
        for lhs, op, rhs, free, value in zip(sub["lhs"], sub["op"], sub["rhs"], sub["free"], sub["value"]):
            if op == "=~" and rhs in observed:
                first.setdefault(lhs, observed.index(rhs))
                if free == 0 and value != 0 and lhs not in markers:
                    markers[lhs] = (observed.index(rhs), float(value))
        for lhs, op, rhs, free in zip(sub["lhs"], sub["op"], sub["rhs"], sub["free"]):
            if free == 0:
                continue
            k = free - 1
            if op == "=~":
                v = 1.0
                if rhs in observed:
                    j = observed.index(rhs)
                    ref, c = markers.get(lhs, (first.get(lhs, j), 1.0))
                    if ref != j and var[ref] > 0:
                        v = c * np.sign(_pair_cov(y, j, ref) or 1.0) * np.sqrt(var[j] / var[ref])
                    elif lhs not in markers:
                        v = np.sqrt(0.5 * var[j])
            elif op == "~":
                v = 0.0
            elif op == "~1":
                v = mean[observed.index(lhs)] if lhs in observed else 0.0
            elif lhs != rhs:
                v = 0.0
            elif lhs in observed:
                v = 0.5 * var[observed.index(lhs)]
            elif lhs in markers:
                ref, c = markers[lhs]
                v = 0.5 * var[ref] / c ** 2
            else:
                v = 0.05
            theta[k] += v
            counts[k] += 1
    return theta / np.maximum(counts, 1)


class _Work:
    """Everything one estimation needs (so the bootstrap can refit on resampled rows)."""

    def __init__(self, pt, frames, missing):
        self.pt = pt
        self.table = _fill_exo(pt.table, list(pt.observed), list(pt.exogenous_x), frames)
        self.frames = frames
        self.models = [GroupModel(self.table[self.table["group"] == g], pt.observed, pt.latent, npar=pt.npar)
                       for g in range(1, len(frames) + 1)]
        self.datas = [PatternData.from_array(y) for y in frames]
        self.objective = Objective(self.models, self.datas)
        self.complete = all(d.complete for d in self.datas)
        self.missing = missing

    def estimate(self, theta0=None, *, polish=True):
        obj = self.objective
        if theta0 is None:
            theta0 = _start_values(self.table, list(self.pt.observed), list(self.pt.latent), self.frames)
            if not np.isfinite(obj.loglik(theta0)):
                theta0 = self._inflate(theta0)
        fiml = polish and self.missing == "fiml"
        # under FIML, Fisher scoring converges only linearly: stop it early and finish with Newton steps
        theta, rec = fisher_scoring(obj, theta0, tol=1e-9 if fiml else 1e-12, step_tol=1e-4 if fiml else 1e-7)
        rec["fallback"] = None
        if not rec["converged"] and polish:
            theta, rec = self._fallback(theta, rec)
        hess = None
        steps = 0
        if fiml:
            theta, hess, steps = newton_polish(obj, theta)
            rec["loglik"] = obj.loglik(theta)
        rec["newton_steps"] = steps
        return theta, hess, rec

    def _fallback(self, theta, rec):
        """Second optimiser when Fisher scoring stops early: BFGS on −ℓ/N with the analytic gradient."""
        obj = self.objective
        N = sum(d.n for d in self.datas)

        def f(th):
            ll = obj.loglik(th)
            return -ll / N if np.isfinite(ll) else 1e10

        def g(th):
            grad = obj.gradient(th)
            return -grad / N if np.all(np.isfinite(grad)) else np.zeros_like(th)

        out = optimize.minimize(f, theta, jac=g, method="BFGS", options={"gtol": 1e-10, "maxiter": 5000})
        ll = obj.loglik(out.x)
        if np.isfinite(ll) and ll >= rec["loglik"]:
            theta = out.x
            rec = dict(rec, loglik=ll, iterations=rec["iterations"] + int(out.nit),
                       message=f"Fisher scoring stopped ({rec['message']}); continued with BFGS: {out.message}")
        rec["fallback"] = "BFGS"
        return theta, rec

    def _inflate(self, theta0):
        tab = self.table
        var_rows = tab[(tab["op"] == "~~") & (tab["lhs"] == tab["rhs"]) & (tab["free"] > 0)]
        for factor in (2.0, 4.0, 10.0):
            th = theta0.copy()
            for k in var_rows["free"].unique():
                th[k - 1] = abs(th[k - 1]) * factor + 0.1
            if np.isfinite(self.objective.loglik(th)):
                return th
        raise IdentificationError("no positive-definite implied covariance matrix at the start values; check "
                                  "for variances fixed at 0 that leave an observed variable without variance.")


def _vcov(info):
    try:
        vc = np.linalg.inv(info)
    except np.linalg.LinAlgError:
        return None
    if not np.all(np.isfinite(vc)) or np.any(np.diag(vc) < 0):
        return None
    # identification check on the scale-free (correlation) form of the information, so that variables on very
    # different scales do not look like a rank deficiency
    d = np.sqrt(np.abs(np.diag(info)))
    if np.any(d == 0):
        return None
    ev = np.linalg.eigvalsh(info / np.outer(d, d))
    if ev.min() <= 1e-10 * max(ev.max(), 1e-300):
        return None
    return vc


def _saturated_scores_info(dat, mu, sigma, x_idx=()):
    """Casewise scores and observed information of the saturated model in (μ, vech Σ) coordinates."""
    p = len(mu)
    iu = np.triu_indices(p)

    def unpack(v):
        m = v[:p]
        s = np.zeros((p, p))
        s[iu] = v[p:]
        s = s + s.T - np.diag(np.diag(s))
        return m, s

    def grad(v):
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


def _yuan_bentler_scaling(work, theta, H0, df, h1_moments):
    """Yuan–Bentler (Mplus variant) scaling factor c = [tr(A1⁻¹B1) − tr(H0⁻¹B0)]/df.

    A1, B1: observed and first-order information of the saturated model at its own (sample or EM)
    estimates — lavaan uses ``h1.information = "unstructured"`` here; H0, B0: observed information and
    outer product of casewise scores of the fitted model.
    """
    trace_h1 = 0.0
    for gm, dat, (mu, sigma) in zip(work.models, work.datas, h1_moments):
        x_idx = [gm.observed.index(x) for x in work.pt.exogenous_x]
        scores, A1 = _saturated_scores_info(dat, mu, sigma, x_idx)
        B1 = scores.T @ scores
        trace_h1 += float(np.trace(np.linalg.solve(A1, B1)))
    scores0 = np.vstack(work.objective.case_scores(theta))
    B0 = scores0.T @ scores0
    trace_h0 = float(np.trace(np.linalg.solve(H0, B0)))
    return (trace_h1 - trace_h0) / df if df > 0 else np.nan


def _baseline_work(work):
    """The independence model as a fit of its own: free means and variances; covariates kept (fixed.x)."""
    pt = work.pt
    exo = list(pt.exogenous_x)
    ys = [v for v in pt.observed if v not in exo]
    lines = [f"{v} ~~ {v}" for v in ys] + [f"{v} ~ 1" for v in ys]
    if exo:
        lines.append(f"{ys[0]} ~ " + " + ".join(f"0*{x}" for x in exo))   # makes them fixed.x covariates
    stmts, defs = parse_model("\n".join(lines))
    bpt = build_partable(stmts, defs, observed=set(pt.observed), n_groups=pt.n_groups, defaults="none")
    order = [list(pt.observed).index(v) for v in bpt.observed]
    return _Work(bpt, [y[:, order] for y in work.frames], work.missing), order


def _scaled_indices(work, h1_moments, fit, N, G):
    """lavaan's *.scaled indices: the baseline χ² scaled by its own Yuan–Bentler factor, then CFI, TLI, RMSEA."""
    bw, order = _baseline_work(work)
    theta_b, hess_b, _ = bw.estimate()
    H_b = hess_b if hess_b is not None else bw.objective.observed_information(theta_b)
    df, df_b = fit["df"], fit["baseline_df"]
    h1_b = [(mu[order], sig[np.ix_(order, order)]) for mu, sig in h1_moments]
    c_b = _yuan_bentler_scaling(bw, theta_b, H_b, df_b, h1_b)
    t, t_b = fit["chisq_scaled"], fit["baseline_chisq"] / c_b
    out = {"baseline_chisq_scaled": t_b, "baseline_chisq_scaling_factor": c_b}
    denom = max(t - df, t_b - df_b, 0.0)
    out["cfi_scaled"] = 1.0 if denom == 0 else 1.0 - max(t - df, 0.0) / denom
    out["tli_scaled"] = ((t_b / df_b - t / df) / (t_b / df_b - 1.0)) if df > 0 else 1.0
    out["rmsea_scaled"] = np.sqrt(max(t - df, 0.0) / (df * N)) * np.sqrt(G) if df > 0 else 0.0
    # lavaan (Mplus variant): CI from the unscaled χ² on c·df degrees of freedom (same point estimate as above)
    out["rmsea_ci_lower_scaled"], out["rmsea_ci_upper_scaled"] = _rmsea_ci(
        fit["chisq"], fit["chisq_scaling_factor"] * df, N, G)
    if work.complete and df > 0:
        # population-corrected "robust" indices (Brosseau-Liard, Savalei & Li 2012; Brosseau-Liard & Savalei
        # 2014), complete data only: under FIML lavaan uses a different correction (Savalei 2018), not done here
        c, X2, X2_b = fit["chisq_scaling_factor"], fit["chisq"], fit["baseline_chisq"]
        d0, db = X2 - c * df, X2_b - c_b * df_b
        out["cfi_robust"] = 1.0 if max(d0, db, 0.0) == 0 else 1.0 - max(d0, 0.0) / max(d0, db, 0.0)
        out["tli_robust"] = 1.0 - (d0 * df_b) / (db * df) if db != 0 else 1.0
        out["rmsea_robust"] = np.sqrt(max(X2 / N / df - c / N, 0.0)) * np.sqrt(G)
        lo, hi = _rmsea_ci(t, df, N, G)
        out["rmsea_ci_lower_robust"], out["rmsea_ci_upper_robust"] = lo * np.sqrt(c), hi * np.sqrt(c)
    return out


def _rmsea_ci(chisq, df, n, G, level=0.90):
    if df <= 0 or not np.isfinite(chisq):
        return np.nan, np.nan
    lo_p, hi_p = (1 + level) / 2, (1 - level) / 2

    def lam_for(target):
        f = lambda lam: stats.ncx2.cdf(chisq, df, lam) - target if lam > 0 else stats.chi2.cdf(chisq, df) - target
        if f(0.0) < 0:
            return 0.0
        hi = max(chisq, 1.0)
        while f(hi) > 0:
            hi *= 2
        return optimize.brentq(f, 0.0, hi, xtol=1e-12)

    lo, hi = lam_for(lo_p), lam_for(hi_p)
    return np.sqrt(lo / (n * df)) * np.sqrt(G), np.sqrt(hi / (n * df)) * np.sqrt(G)


def _baseline_loglik(dat, observed, exo):
    """Independence model (free means and variances; the fixed.x block saturated) by ML on available data."""
    y = dat.y
    xi = [observed.index(x) for x in exo]
    ll = 0.0
    for j in range(y.shape[1]):
        if j in xi:
            continue
        v = y[~np.isnan(y[:, j]), j]
        s2 = v.var()
        ll += -0.5 * len(v) * (LOG2PI + np.log(s2) + 1.0)
    return ll + _exo_loglik(dat, observed, exo)


def _exo_loglik(dat, observed, exo):
    """Log-likelihood of the exogenous covariates at their sample moments (0 without covariates)."""
    xi = [observed.index(x) for x in exo]
    if not xi:
        return 0.0
    x = dat.y[:, xi]
    s = np.cov(x.T, bias=True).reshape(len(xi), len(xi))
    return -0.5 * len(x) * (len(xi) * LOG2PI + np.linalg.slogdet(s)[1] + len(xi))


def _srmr(mu_h1, sig_h1, mu, sigma):
    sd = np.sqrt(np.diag(sig_h1))
    r = (sig_h1 - sigma) / np.outer(sd, sd)
    m = (mu_h1 - mu) / sd
    iu = np.triu_indices(len(mu))
    return np.sqrt((np.sum(r[iu] ** 2) + np.sum(m ** 2)) / (len(iu[0]) + len(mu)))


def _std_all(table, work, theta, est):
    """lavaan's std.all: loadings/regressions by total SDs; residual covariances as residual correlations."""
    out = np.full(len(table), np.nan)
    lhs_all, op_all, rhs_all = (table[c].to_numpy() for c in ("lhs", "op", "rhs"))
    group_all = table["group"].to_numpy()
    for g, gm in enumerate(work.models, start=1):
        _, C, Psi = gm.all_moments(theta)
        sd = np.sqrt(np.clip(np.diag(C), 0, None))
        psi_sd = np.sqrt(np.abs(np.diag(Psi)))
        rows = np.flatnonzero(group_all == g)
        li = np.array([gm.pos[v] for v in lhs_all[rows]])
        ri = np.array([gm.pos.get(v, 0) for v in rhs_all[rows]])
        op, e = op_all[rows], est[rows]
        with np.errstate(divide="ignore", invalid="ignore"):
            val = np.select(
                [op == "=~", op == "~", op == "~1", (op == "~~") & (li == ri)],
                [e * sd[li] / sd[ri], e * sd[ri] / sd[li], e / sd[li], e / sd[li] ** 2],
                default=e / (psi_sd[li] * psi_sd[ri]))
        out[rows] = val
    return out


def _check_solution(work, theta):
    problems = []
    for g, gm in enumerate(work.models, start=1):
        _, Psi, _ = gm.matrices(theta)
        tag = "" if len(work.models) == 1 else f" in group {g}"
        names = gm.observed + gm.latent
        neg = [names[i] for i in range(gm.m) if Psi[i, i] < 0]
        if neg:
            problems.append(f"negative (residual) variance(s) of {neg}{tag} (Heywood case)")
        lat = [gm.pos[v] for v in gm.latent]
        if lat:
            ev = np.linalg.eigvalsh(Psi[np.ix_(lat, lat)])
            if ev.min() < -1e-12 and not neg:
                problems.append(f"the covariance matrix of the latent variables{tag} is not positive definite")
    return problems


def fit_sem(model: str, data: pd.DataFrame, *, missing: str = "fiml", estimator: str = "ML",
            group: str | None = None, se: str = "standard", defaults: str = "sem", n_boot: int = 1000,
            seed: int | None = None) -> SEMResult:
    """Fit a structural equation model written in lavaan syntax, by ML / FIML, as lavaan does.

    Definition: maximum-likelihood estimation of the mean and covariance structure μ(θ), Σ(θ) implied by the
    model (Jöreskog 1973; Bollen 1989); with missing values the casewise (full-information) likelihood over
    missing-data patterns (Arbuckle 1996), which is lavaan's ``missing="ml"`` (Rosseel 2012). Standard errors,
    test statistics and fit indices follow lavaan 0.6 for the same options; see the module docstring.

    Parameters
    ----------
    model : lavaan-subset syntax (``=~ ~ ~~ ~1 :=``, ``1*x``, ``a*x``, ``NA*x``, ``c(a, b)*x``).
    data : DataFrame with one column per observed variable (NaN = missing); never modified.
    missing : ``"fiml"`` (= ``"ml"``, default) or ``"listwise"``.
    estimator : ``"ML"`` or ``"MLR"`` (ML estimates, robust SEs and Yuan–Bentler scaled χ²).
    group : column defining groups (multigroup model; groups in order of appearance).
    se : ``"standard"``, ``"robust"``, ``"bootstrap"`` or ``"none"``.
    defaults : ``"sem"`` (like ``lavaan::sem()``) or ``"none"`` (like ``lavaan::lavaan()``).
    n_boot, seed : bootstrap replicates and seed (``se="bootstrap"``).

    Returns
    -------
    SEMResult with ``params`` (``lhs, op, rhs, label, group, estimate, std_error, statistic, p_value,
    ci_lower, ci_upper, std_all``; ``params.attrs["level"]``), ``fit``, ``convergence``, ``provenance``.

    Example
    -------
    >>> import numpy as np, pandas as pd
    >>> import allianceStats as als
    >>> rng = np.random.default_rng(3)
    >>> x = rng.normal(size=300); m = 0.5 * x + rng.normal(size=300); y = 0.4 * m + rng.normal(size=300)
    >>> df = pd.DataFrame({"x": x, "m": m, "y": y})
    >>> res = als.fit_sem("m ~ a*x\\n y ~ b*m + x\\n ab := a*b", df)
    >>> int(res.fit["df"]), int(res.fit["npar"])
    (0, 7)
    >>> row = res.params.query("lhs == 'ab'").iloc[0]
    >>> bool(0.1 < row["estimate"] < 0.35)
    True
    """
    with threadpool_limits(limits=1, user_api="blas"):
        return _fit_sem(model, data, missing=missing, estimator=estimator, group=group, se=se, defaults=defaults,
                        n_boot=n_boot, seed=seed)


def _fit_sem(model, data, *, missing, estimator, group, se, defaults, n_boot, seed):
    # many small batched matrices: BLAS threads only add overhead here (2-3x measured), hence the limit above
    t0 = time.perf_counter()
    if missing not in _MISSING:
        raise AllianceStatsError(f"missing={missing!r} is not known; use 'fiml' (or 'ml') or 'listwise'.")
    missing = _MISSING[missing]
    if estimator not in ("ML", "MLR"):
        raise AllianceStatsError(f"estimator={estimator!r} is not known; use 'ML' or 'MLR'.")
    if se not in ("standard", "robust", "bootstrap", "none"):
        raise AllianceStatsError(f"se={se!r} is not known; use 'standard', 'robust', 'bootstrap' or 'none'.")
    if estimator == "MLR":
        if se == "standard":
            se = "robust"
    statements, definitions = parse_model(model)
    if group is not None and group not in getattr(data, "columns", []):
        raise AllianceStatsError(f"group column {group!r} not found in data.")
    n_groups = 1 if group is None else int(pd.unique(data[group].dropna()).size)
    pt = build_partable(statements, definitions, observed=set(data.columns), n_groups=n_groups,
                        defaults=defaults)
    labels, frames = _prepare_data(data, pt.observed, group, missing, pt.exogenous_x)
    work = _Work(pt, frames, missing)
    work.group_labels = tuple(labels)
    warn_list: list[str] = []
    try:
        theta, hess, rec = work.estimate()
    except FloatingPointError as exc:
        raise IdentificationError(f"estimation could not start: {exc}.") from None
    obj = work.objective
    if rec.get("fallback"):
        msg = f"the first optimiser did not converge; {rec['message']}."
        warnings.warn(msg, ConvergenceWarning, stacklevel=3)
        warn_list.append(msg)
    grad = obj.gradient(theta)
    N = sum(d.n for d in work.datas)
    max_grad = float(np.max(np.abs(grad))) / N
    use_observed = missing == "fiml" or se == "robust"
    if use_observed:
        H = hess if hess is not None else obj.observed_information(theta)
    else:
        H = obj.expected_information(theta)
    # scale-free check too: the Newton decrement gᵀH⁻¹g (twice the log-likelihood still to gain)
    try:
        decrement = float(grad @ np.linalg.solve(H, grad))
    except np.linalg.LinAlgError:
        decrement = np.inf
    converged = bool(np.isfinite(rec["loglik"]) and (max_grad < 1e-5 or 0 <= decrement < 1e-8))
    if not converged:
        msg = (f"SEM estimation did not converge ({rec['message']}; max |gradient|/N = {max_grad:.2e}); "
               "estimates are unreliable. Check identification, scaling of variables, or simplify the model.")
        warnings.warn(msg, ConvergenceWarning, stacklevel=3)
        warn_list.append(msg)
    for prob in _check_solution(work, theta):
        msg = f"improper solution: {prob}; interpret with care (lavaan warns likewise)."
        warnings.warn(msg, BoundaryWarning, stacklevel=3)
        warn_list.append(msg)

    vcov_model = _vcov(H)
    if vcov_model is None:
        msg = ("the information matrix is singular: the model may not be identified; standard errors are not "
               "available. Fix a loading or variance per latent variable and check equality labels.")
        warnings.warn(msg, ConvergenceWarning, stacklevel=3)
        warn_list.append(msg)
    vcov = vcov_model
    scaling = np.nan
    boot = None
    if se == "robust" and vcov_model is not None:
        scores = np.vstack(obj.case_scores(theta))
        B0 = scores.T @ scores
        vcov = vcov_model @ B0 @ vcov_model
    elif se == "bootstrap":
        vcov, boot = _bootstrap(work, theta, n_boot, seed)
    elif se == "none":
        vcov = None

    # H1, baseline, fit measures
    # with fixed.x lavaan reports log-likelihoods conditional on the covariates: the x block is removed
    ll_x = sum(_exo_loglik(dat, list(pt.observed), list(pt.exogenous_x)) for dat in work.datas)
    ll = obj.loglik(theta) - ll_x
    ll_h1 = -ll_x
    ll_base = -ll_x
    h1_moments = []
    observed = list(pt.observed)
    p = len(observed)
    px = len(pt.exogenous_x)
    for gm, dat in zip(work.models, work.datas):
        mu1, sig1, llg, _ = dat.saturated(start=gm.implied(theta))
        ll_h1 += llg
        h1_moments.append((mu1, sig1))
        ll_base += _baseline_loglik(dat, observed, list(pt.exogenous_x))
    G = len(work.datas)
    ndat = G * (p * (p + 3) // 2 - px * (px + 3) // 2)
    npar = pt.npar
    df = float(ndat - npar)
    df_base = float(ndat - G * 2 * (p - px))
    chisq = max(2.0 * (ll_h1 - ll), 0.0) if df > 0 else 2.0 * (ll_h1 - ll)
    chisq_base = 2.0 * (ll_h1 - ll_base)
    fit = _fit_measures(chisq, df, chisq_base, df_base, ll, ll_h1, npar, N, G)
    srmr = 0.0
    for gm, dat, (mu1, sig1) in zip(work.models, work.datas, h1_moments):
        mu, sigma = gm.implied(theta)
        srmr += dat.n / N * _srmr(mu1, sig1, mu, sigma)
    fit["srmr"] = srmr
    if estimator == "MLR" or se == "robust":
        if vcov_model is not None and df > 0:
            scaling = _yuan_bentler_scaling(work, theta, H, df, h1_moments)
            fit["chisq_scaled"] = chisq / scaling
            fit["pvalue_scaled"] = float(stats.chi2.sf(chisq / scaling, df))
            fit["chisq_scaling_factor"] = scaling
            fit.update(_scaled_indices(work, h1_moments, fit, N, G))
        else:
            fit["chisq_scaled"] = chisq if df == 0 else np.nan
            fit["pvalue_scaled"] = np.nan
            fit["chisq_scaling_factor"] = np.nan

    params, vcov_df = _params_table(work, theta, vcov, boot, 0.95)
    elapsed = time.perf_counter() - t0
    convergence = Convergence(converged=converged, iterations=int(rec["iterations"] + rec["newton_steps"]),
                              optimizer=("Fisher scoring" + (" + BFGS" if rec.get("fallback") else "")
                                         + (" + Newton (observed information)" if missing == "fiml" else "")),
                              message=rec["message"], warnings=tuple(warn_list))
    options = dict(missing=missing, estimator=estimator, group=group, se=se, defaults=defaults, n_boot=n_boot,
                   exogenous_fixed_x=list(pt.exogenous_x), meanstructure=True,
                   information="observed" if use_observed else "expected", elapsed_seconds=elapsed)
    prov = make_provenance(data, options=options, seed=seed)
    table = work.table.copy()
    table["estimate"] = _row_estimates(table, theta)
    table.attrs["definitions"] = pt.definitions
    return SEMResult(model=model, params=params, fit=pd.Series(fit, dtype=float), vcov=vcov_df,
                     partable=table, convergence=convergence, provenance=prov, n_obs=tuple(d.n for d in work.datas),
                     group_labels=tuple(labels), group=group, observed=tuple(observed), options=options,
                     theta=theta)


def _fit_measures(chisq, df, chisq_b, df_b, ll, ll_h1, npar, N, G):
    fit = {"chisq": chisq, "df": df, "pvalue": float(stats.chi2.sf(chisq, df)) if df > 0 else np.nan,
           "baseline_chisq": chisq_b, "baseline_df": df_b,
           "baseline_pvalue": float(stats.chi2.sf(chisq_b, df_b)) if df_b > 0 else np.nan}
    d0, db = max(chisq - df, 0.0), max(chisq_b - df_b, 0.0)
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
    fit["rmsea_ci_lower"], fit["rmsea_ci_upper"] = _rmsea_ci(chisq, df, N, G)
    fit["rmsea_pvalue"] = (float(stats.ncx2.sf(chisq, df, 0.05 ** 2 * N * df / G)) if df > 0 else np.nan)
    fit["loglik"] = ll
    fit["unrestricted_loglik"] = ll_h1
    fit["npar"] = float(npar)
    fit["aic"] = -2 * ll + 2 * npar
    fit["bic"] = -2 * ll + np.log(N) * npar
    fit["ntotal"] = float(N)
    return fit


def _row_estimates(table, theta):
    free = table["free"].to_numpy()
    return np.where(free > 0, theta[np.maximum(free, 1) - 1], table["value"].to_numpy(dtype=float))


def _label_values(table, est):
    vals = {}
    for lab, e in zip(table["label"], est):
        if lab and lab not in vals:
            vals[lab] = e
    return vals


def _defined_values(definitions, table, theta):
    vals = _label_values(table, _row_estimates(table, theta))
    out = []
    for d in definitions:
        v = evaluate_expression(d.expression, vals)
        vals[d.lhs] = v
        out.append(v)
    return np.array(out)


def _params_table(work, theta, vcov, boot, level):
    table = work.table
    est = _row_estimates(table, theta)
    free = table["free"].to_numpy()
    se = np.zeros(len(table))
    if vcov is not None:
        sd = np.sqrt(np.clip(np.diag(vcov), 0, None))
        se = np.where(free > 0, sd[np.maximum(free, 1) - 1], 0.0)
    else:
        se = np.where(free > 0, np.nan, 0.0)
    z = stats.norm.ppf(0.5 + level / 2)
    std_all = _std_all(table, work, theta, est)
    defs = work.pt.definitions
    rows = pd.DataFrame({"lhs": table["lhs"], "op": table["op"], "rhs": table["rhs"], "label": table["label"],
                         "group": table["group"], "estimate": est, "std_error": se})
    if defs:
        dvals = _defined_values(defs, table, theta)
        J = np.zeros((len(defs), len(theta)))
        for k in range(len(theta)):
            h = 1e-6 * max(1.0, abs(theta[k]))
            e = np.zeros(len(theta))
            e[k] = h
            J[:, k] = (_defined_values(defs, table, theta + e) - _defined_values(defs, table, theta - e)) / (2 * h)
        dse = np.sqrt(np.clip(np.diag(J @ vcov @ J.T), 0, None)) if vcov is not None else np.full(len(defs), np.nan)
        if boot is not None:
            # bootstrap: the defined parameters' own replicates (not the delta method)
            dboot = np.array([_defined_values(defs, table, th) for th in boot])
            dse = dboot.std(axis=0, ddof=1)
        std_vals = _label_values(table, std_all)
        dstd = []
        for d in defs:
            try:
                v = evaluate_expression(d.expression, std_vals)
            except (KeyError, ZeroDivisionError, ValueError):
                v = np.nan
            std_vals[d.lhs] = v
            dstd.append(v)
        drows = pd.DataFrame({"lhs": [d.lhs for d in defs], "op": ":=", "rhs": [d.expression for d in defs],
                              "label": [d.lhs for d in defs], "group": 0, "estimate": dvals, "std_error": dse})
        rows = pd.concat([rows, drows], ignore_index=True)
        std_all = np.r_[std_all, dstd]
    is_free = np.r_[free > 0, np.ones(len(defs), dtype=bool)]
    with np.errstate(divide="ignore", invalid="ignore"):
        stat = np.where(is_free, rows["estimate"] / rows["std_error"], np.nan)
    rows["statistic"] = stat
    rows["p_value"] = np.where(is_free, 2 * stats.norm.sf(np.abs(stat)), np.nan)
    rows["ci_lower"] = np.where(is_free, rows["estimate"] - z * rows["std_error"], rows["estimate"])
    rows["ci_upper"] = np.where(is_free, rows["estimate"] + z * rows["std_error"], rows["estimate"])
    if boot is not None:
        draws = boot
        lo, hi = (1 - level) / 2, (1 + level) / 2
        qlo = np.nanquantile(draws, lo, axis=0)
        qhi = np.nanquantile(draws, hi, axis=0)
        idx = np.maximum(free, 1) - 1
        lower, upper = np.where(free > 0, qlo[idx], est), np.where(free > 0, qhi[idx], est)
        if defs:
            lower = np.r_[lower, np.nanquantile(dboot, lo, axis=0)]
            upper = np.r_[upper, np.nanquantile(dboot, hi, axis=0)]
        rows["ci_lower"], rows["ci_upper"] = lower, upper
    rows["std_all"] = std_all
    rows["group"] = rows["group"].astype(int)
    rows.attrs["level"] = level
    rows.attrs["group_labels"] = dict(enumerate(work.group_labels, start=1))
    names = [f"p{k}" for k in range(1, len(theta) + 1)]
    vcov_df = pd.DataFrame(vcov, index=names, columns=names) if vcov is not None else None
    return rows, vcov_df


def _bootstrap(work, theta, n_boot, seed):
    if not isinstance(n_boot, (int, np.integer)) or n_boot < 2:
        raise AllianceStatsError(f"n_boot must be an integer >= 2, got {n_boot!r}.")
    rng = np.random.default_rng(seed)
    draws = np.full((n_boot, len(theta)), np.nan)
    for b in range(n_boot):
        frames = [y[rng.integers(0, len(y), len(y))] for y in work.frames]
        try:
            bw = _Work(work.pt, frames, work.missing)
            bw.group_labels = work.group_labels
            th, _, rec = bw.estimate(theta.copy(), polish=False)
            if rec["converged"]:
                draws[b] = th
        except (FloatingPointError, AllianceStatsError, np.linalg.LinAlgError):
            continue
    ok = np.isfinite(draws).all(axis=1)
    if ok.sum() < n_boot:
        warnings.warn(f"{n_boot - int(ok.sum())} of {n_boot} bootstrap replicates failed and were dropped.",
                      ConvergenceWarning, stacklevel=4)
    good = draws[ok]
    return np.cov(good.T, ddof=1).reshape(len(theta), len(theta)), good
