r"""Likelihood-ratio comparison of nested linear mixed models (lme4's ``anova(m1, m2, ...)``) and profile intervals
(lme4's ``confint(fit, method = "profile")``).

Comparison
----------
For fits ordered by their number of parameters :math:`k_1 \le k_2 \le \dots` (fixed effects + variance
parameters θ + residual SD, + φ for an AR(1) residual), row :math:`r` reports

:math:`\mathrm{AIC} = -2\ell + 2k`, :math:`\mathrm{BIC} = -2\ell + k\log n`, ``deviance`` :math:`= -2\ell`,
:math:`\chi^2_r = 2\max(0, \ell_r - \ell_{r-1})` on :math:`k_r - k_{r-1}` df, and its upper-tail p-value.

Which likelihood, as lme4's ``anova()``: by default (``refit=True``) every REML fit is refitted by maximum
likelihood first — whether or not the fixed effects differ — and a note says so. On lme4's example, Orthodont
``distance ~ age + Sex + (1 | Subject)`` against ``(age | Subject)`` (both REML), this gives χ² = 2.0213 on 2 df,
p = 0.3640, lme4's default. ``refit=False`` compares the REML likelihoods themselves (χ² = 2.2787, p = 0.3200,
lme4's ``anova(..., refit = FALSE)``) — valid only when the fixed effects are the same, since the REML criterion
depends on the fixed-effects design; REML fits with different fixed effects (or REML and ML fits mixed) are then
refused instead of returning an invalid test.

A variance tested on its boundary (e.g. adding a random slope) makes the :math:`\chi^2` p-value conservative
(Self & Liang 1987; Stram & Lee 1994: the null distribution is a mixture of :math:`\chi^2` distributions).

Profile intervals
-----------------
:func:`profile_ci` inverts the same likelihood-ratio test one parameter at a time (Venzon & Moolgavkar 1988;
Bates et al. 2015, section 5.1): with :math:`D` the ML deviance and :math:`\hat D` its minimum, the profile of a
parameter :math:`\psi` is :math:`\zeta(v) = \operatorname{sign}(v - \hat\psi)\sqrt{\min D\,|_{\psi = v} - \hat D}`,
the minimum taken over every other parameter, and the limits solve :math:`\zeta = \mp z_{(1+\text{conf\_level})/2}`.
Parameters and names are lme4's: fixed effects (refitted with :math:`X` less that column and an offset
:math:`v x_j`, so factor dummies, interactions and the intercept of a model with factors are profiled alike),
and the variance parameters on the standard-deviation / correlation scale, ``.sig01``, ``.sig02``, … (for each
grouping factor in lme4's order, the lower triangle of its SD / correlation matrix column by column: SDs on the
diagonal, correlations below) and ``.sigma``, each minimised over the others on an unconstrained scale (log SD,
atanh correlation, log σ). As lme4, REML fits are profiled on the ML deviance, and a limit that the profile
does not reach before the parameter's boundary is reported as that boundary (0 for an SD, ±1 for a correlation).

References: Bates, D., Mächler, M., Bolker, B., & Walker, S. (2015). *J. Stat. Softw.* 67(1).
Self, S. G., & Liang, K.-Y. (1987). *JASA* 82(398), 605–610. Stram, D. O., & Lee, J. W. (1994).
*Biometrics* 50(4), 1171–1177. Venzon, D. J., & Moolgavkar, S. H. (1988). *Appl. Stat.* 37(1), 87–94.
"""
from __future__ import annotations

import dataclasses
import time

import numpy as np
import pandas as pd
from scipy import optimize, stats

from .._deprecation import renamed_arguments
from ..comparison import ComparisonResult, comparison_table
from ..data.checks import check_bool, check_conf_level
from ..errors import IdentificationError, OptionError
from ..results import Convergence, make_provenance
from .crossed import deviance_problem, refit_options
from .result import MixedResult

_FIT_ATTRIBUTES = ("fixef", "theta", "loglik", "reml", "n_obs", "y", "formula", "model_frame", "correlation")


def _refit_ml(fit):
    """``fit`` refitted by maximum likelihood on the rows it used."""
    from .engine import fit_mlm

    return fit_mlm(fit.model_frame, fit.formula, reml=False, conf_level=fit.conf_level, **refit_options(fit))


def _npar(fit) -> int:
    return int(len(fit.fixef) + len(np.ravel(fit.theta)) + 1 + (1 if fit.correlation == "ar1" else 0))


def _check_fits(fits, names, where: str) -> list[str]:
    """The fits are mixed-model fits of the same rows; returns the model labels."""
    if len(fits) < 2:
        raise OptionError(f"{where}() needs at least two fitted models; got {len(fits)}")
    for k, f in enumerate(fits, 1):
        if not isinstance(f, MixedResult) and not all(hasattr(f, a) for a in _FIT_ATTRIBUTES):
            raise OptionError(f"{where}(): argument {k} is a {type(f).__name__}, not a fit of fit_mlm(); compare "
                              "mixed-model fits only")
    if names is None:
        names = [f"model{k}" for k in range(1, len(fits) + 1)]
    elif isinstance(names, str) or len(names) != len(fits):
        raise OptionError(f"{where}(): names={names!r} gives {1 if isinstance(names, str) else len(names)} name(s) "
                          f"for {len(fits)} fits; give a list with one name per fit")
    names = [str(x) for x in names]
    n_obs = {int(f.n_obs) for f in fits}
    same_rows = len(n_obs) == 1 and all(np.allclose(np.asarray(f.y), np.asarray(fits[0].y), equal_nan=True)
                                        for f in fits[1:])
    if not same_rows:
        counts = ", ".join(f"{nm}: {int(f.n_obs)} rows" for nm, f in zip(names, fits))
        raise OptionError(
            f"{where}(): the fits use different rows or responses ({counts}). Likelihoods of different "
            "data cannot be compared; fit every model to the same rows (drop rows with missing values in "
            "any model's variables first).")
    return names


def compare_mlm(*fits, refit: bool = True, names: list[str] | None = None) -> ComparisonResult:
    """Likelihood-ratio tests of nested mixed models, as lme4's ``anova(m1, m2, ...)``.

    Definitions, and when fits are refitted by ML, are in the module docstring. Rows are ordered by the number
    of parameters (ties keep the input order); each row's test is against the row above it.

    Parameters
    ----------
    *fits : MixedResult
        Two or more fits of :func:`allianceStats.mixed.fit_mlm` on the same rows of the same data.
    refit : bool, default True
        Refit every REML fit by ML before comparing (lme4's default). ``False`` compares REML likelihoods as
        they are (lme4's ``refit = FALSE``), which is allowed only when every fit is REML with the same fixed
        effects (a test of the random part); otherwise an error says why.
    names : list of str, optional
        Model labels; default ``model1``, ``model2``, ... in the order given.

    Returns
    -------
    ComparisonResult
        ``table`` with the columns of :data:`allianceStats.comparison.COMPARISON_COLUMNS`: ``model, npar,
        loglik, aic, bic`` per fit; ``chisq`` and ``df`` (a model's own goodness-of-fit test, which mixed
        models do not have) are NaN; ``chisq_diff, df_diff, p_value`` test each row against the row above
        (NaN on the first row); then ``deviance`` (−2 log-likelihood). ``method`` is ``"likelihood ratio
        (ML)"`` or ``"likelihood ratio (REML)"``; ``notes`` lists refits and non-converged fits;
        ``converged`` is False when any compared fit did not converge.

    Raises
    ------
    OptionError
        Fewer than two fits, something that is not a fit of ``fit_mlm``, fits of different rows, a wrong
        number of ``names``, or under ``refit=False`` REML fits with different fixed effects or REML and ML fits
        mixed.

    Notes
    -----
    Validated against lme4 1.1-31 ``anova()``: Orthodont (``tests/mixed/fixtures/habits``; default and
    ``refit = FALSE``) and a simulated three-level set (``tests/mixed/fixtures/extras_fixtures.R``):
    log-likelihood, AIC, BIC and chi-square to 1e-4 absolute, p-values to 1e-4 relative. Before 0.2.0 this
    returned a DataFrame whose ``chisq``/``df`` columns were the test (now ``chisq_diff``/``df_diff``); DataFrame
    access on the result still works, with a FutureWarning, until 0.3.0. Before issue 13, REML fits with the
    same fixed effects were compared on the REML likelihood by default; that is now ``refit=False``.

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> from allianceStats.mixed import fit_mlm, compare_mlm
    >>> rng = np.random.default_rng(5)
    >>> g = np.repeat(np.arange(40), 5)
    >>> d = pd.DataFrame({"client": g.astype(str), "x": rng.normal(size=200)})
    >>> d["y"] = 0.4 * d.x + rng.normal(0, 1, 40)[g] + rng.normal(size=200)
    >>> res = compare_mlm(fit_mlm(d, "y ~ 1 + (1 | client)"), fit_mlm(d, "y ~ x + (1 | client)"),
    ...                   names=["empty", "with x"])
    >>> cols = ["model", "npar", "loglik", "chisq_diff", "df_diff", "p_value"]
    >>> print(res.table[cols].round(3).to_string(index=False))
     model  npar   loglik  chisq_diff  df_diff  p_value
     empty     3 -303.192         NaN      NaN      NaN
    with x     4 -294.698      16.988      1.0      0.0
    >>> res.method
    'likelihood ratio (ML)'
    >>> print(*res.notes, sep="\\n")
    empty refitted by ML (instead of REML), as lme4's anova() does
    with x refitted by ML (instead of REML), as lme4's anova() does
    """
    started = time.perf_counter()
    names = _check_fits(fits, names, "compare_mlm")
    refit = check_bool("refit", refit)
    fixed_sets = {tuple(sorted(map(str, f.fixef.index))) for f in fits}
    remls = [bool(f.reml) for f in fits]
    notes: list[str] = []
    if refit and any(remls):
        fits = tuple(_refit_ml(f) if f.reml else f for f in fits)
        notes += [f"{nm} refitted by ML (instead of REML), as lme4's anova() does" for nm, r in zip(names, remls) if r]
    elif not refit and any(remls):
        why = ("their fixed effects differ" if len(fixed_sets) > 1 else "REML and ML fits are mixed"
               if not all(remls) else None)
        if why is not None:
            raise OptionError(
                f"compare_mlm(): REML fits cannot be compared with refit=False because {why}: the REML "
                "likelihood depends on the fixed-effects design. Use refit=True (refit by ML, as lme4's anova()) or "
                "fit the models with reml=False.")
    likelihood = "REML" if all(f.reml for f in fits) else "ML"
    not_converged = [nm for nm, f in zip(names, fits) if not f.converged]
    if not_converged:
        notes.append(f"did not converge: {', '.join(not_converged)}; the test may be unreliable")

    n = float(fits[0].n_obs)
    npar = np.array([_npar(f) for f in fits])
    loglik = np.array([float(f.loglik) for f in fits])
    order = np.argsort(npar, kind="stable")
    npar, loglik = npar[order], loglik[order]
    chisq = np.full(len(fits), np.nan)
    dfs = np.full(len(fits), np.nan)
    chisq[1:] = 2.0 * np.maximum(0.0, np.diff(loglik))
    dfs[1:] = np.diff(npar)
    with np.errstate(invalid="ignore"):
        p = np.where(dfs > 0, stats.chi2.sf(chisq, np.where(dfs > 0, dfs, 1.0)), np.nan)
    p[0] = np.nan
    if np.any(dfs[1:] == 0):
        notes.append("models with equal numbers of parameters are not nested: no test (p_value NaN)")
    table = comparison_table([
        {"model": names[i], "npar": int(k), "loglik": ll, "aic": -2.0 * ll + 2.0 * k,
         "bic": -2.0 * ll + k * np.log(n), "chisq_diff": x2, "df_diff": df, "p_value": pv, "deviance": -2.0 * ll}
        for i, k, ll, x2, df, pv in zip(order, npar, loglik, chisq, dfs, p)], extra=("deviance",))
    table["npar"] = table["npar"].astype(np.int64)
    convergence = Convergence(converged=not not_converged, iterations=0, optimizer="closed form",
                              message="likelihood-ratio test of the fits' maximised likelihoods",
                              warnings=tuple(n for n in notes if n.startswith("did not converge")))
    provenance = make_provenance(fits[0].model_frame, options={"refit": refit, "names": names,
                                                               "formulas": [f.formula for f in fits]},
                                 function="compare_mlm", started=started)
    return ComparisonResult(table=table, method=f"likelihood ratio ({likelihood})", n_obs=int(n),
                            provenance=provenance, notes=tuple(notes), conf_level=fits[0].conf_level,
                            convergence=convergence)


# ---------------------------------------------------------------------------------------------- profile intervals
PROFILE_COLUMNS = ["term", "estimate", "ci_lower", "ci_upper"]


def _chol_psd(S: np.ndarray) -> np.ndarray:
    """Lower Cholesky factor of a positive semi-definite matrix (zero columns where S is singular)."""
    q = S.shape[0]
    L = np.zeros_like(S)
    for j in range(q):
        d = S[j, j] - L[j, :j] @ L[j, :j]
        if d <= 1e-14 * max(S[j, j], 1e-300):
            continue
        L[j, j] = np.sqrt(d)
        for i in range(j + 1, q):
            L[i, j] = (S[i, j] - L[i, :j] @ L[j, :j]) / L[j, j]
    return L


class _VarianceProfile:
    """The ML deviance on lme4's SD / correlation scale, ψ = (.sig01, …, .sigma[, φ]), σ not profiled out."""

    def __init__(self, problem, obj, x_ml: np.ndarray):
        self.obj = obj
        self.sizes = problem.sizes
        self.n = obj.n
        self.ar1 = problem.nested and problem.times is not None
        self.slots = []   # (factor, row, col) of each θ / ψ element, lme4's order
        for f, q in enumerate(self.sizes):
            for j in range(q):
                for i in range(j, q):
                    self.slots.append((f, i, j))
        n_theta = len(self.slots)
        theta = x_ml[:n_theta]
        a, r2 = obj.deviance_parts(x_ml)
        sigma = float(np.sqrt(r2 / self.n))
        psi = []
        for f, S in enumerate(self._covariances(theta, sigma)):
            for (g, i, j) in self.slots:
                if g != f:
                    continue
                sd_i, sd_j = np.sqrt(S[i, i]), np.sqrt(S[j, j])
                psi.append(sd_i if i == j else (S[i, j] / (sd_i * sd_j) if sd_i * sd_j > 0 else 0.0))
        psi.append(sigma)
        self.kind = ["sd" if i == j else "cor" for (_, i, j) in self.slots] + ["sigma"]
        if self.ar1:
            psi.append(float(x_ml[-1]))
            self.kind.append("phi")
        self.psi_hat = np.array(psi)
        self.n_reported = n_theta + 1
        self.base = self.deviance(self.psi_hat)

    def _covariances(self, theta, sigma):
        out = []
        for f, q in enumerate(self.sizes):
            L = np.zeros((q, q))
            for k, (g, i, j) in enumerate(self.slots):
                if g == f:
                    L[i, j] = theta[k]
            out.append(sigma ** 2 * L @ L.T)
        return out

    def deviance(self, psi: np.ndarray) -> float:
        sigma = psi[self.n_reported - 1]
        if not sigma > 0:
            return np.inf
        theta = np.empty(len(self.slots))
        for f, q in enumerate(self.sizes):
            idx = [k for k, (g, _, _) in enumerate(self.slots) if g == f]
            sd = np.zeros(q)
            C = np.eye(q)
            for k in idx:
                _, i, j = self.slots[k]
                if i == j:
                    sd[i] = psi[k]
                else:
                    C[i, j] = C[j, i] = psi[k]
            L = _chol_psd(sd[:, None] * C * sd[None, :]) / sigma
            for k in idx:
                _, i, j = self.slots[k]
                theta[k] = L[i, j]
        par = np.r_[theta, psi[-1]] if self.ar1 else theta
        try:
            a, r2 = self.obj.deviance_parts(par)
        except np.linalg.LinAlgError:
            return np.inf
        return float(a + r2 / sigma ** 2 + self.n * np.log(2 * np.pi * sigma ** 2))

    def _coordinates(self, i: int) -> tuple[float, float, bool]:
        """(lower, upper, atanh-transformed) of ψ_i as an optimisation coordinate: SDs, σ and the correlation of
        a 2×2 block on their own scale with bounds (so a correlation of ±1 or an SD of 0 can be reached), the
        correlations of larger blocks on the atanh scale (every value then gives a valid matrix)."""
        kind = self.kind[i]
        if kind in ("sd", "sigma"):
            return (0.0 if kind == "sd" else 1e-8 * self.psi_hat[-1 if not self.ar1 else -2]), np.inf, False
        if kind == "phi":
            return -0.999999, 0.999999, False
        f = self.slots[i][0]
        return (-1.0, 1.0, False) if self.sizes[f] == 2 else (-np.inf, np.inf, True)

    def zeta(self, k: int, v: float, start: dict) -> float:
        """The signed root of the deviance increase with ψ_k = v, minimised over the other parameters."""
        from .optimizer import bobyqa

        rest = [i for i in range(len(self.psi_hat)) if i != k]
        coords = [self._coordinates(i) for i in rest]
        lower = np.array([c[0] for c in coords])
        upper = np.array([c[1] for c in coords])
        tanh = np.array([c[2] for c in coords], dtype=bool)

        def f(u):
            psi = self.psi_hat.copy()
            psi[k] = v
            psi[rest] = np.where(tanh, np.tanh(u), u)
            return self.deviance(psi)

        if len(rest) == 0:
            return float(np.sign(v - self.psi_hat[k]) * np.sqrt(max(f(np.array([])) - self.base, 0.0)))
        # the deviance can have a second, boundary minimum (an SD at 0): minimise from the estimates, from the
        # estimates with every correlation 0, and from the previous solution (continuation), keep the best
        own = self.psi_hat[rest]
        uncorrelated = np.where(np.isin(np.array(self.kind)[rest], ["cor"]), 0.0, own)
        candidates = [np.where(tanh, np.arctanh(np.clip(c, -1 + 1e-12, 1 - 1e-12)), c) for c in (own, uncorrelated)]
        if k in start:
            candidates.append(start[k])
        best_x, best = None, np.inf
        for u0 in candidates:
            run = bobyqa(f, np.clip(u0, lower, upper), lower, upper, xtol=1e-11, ftol=1e-13)
            run = bobyqa(f, run.x, lower, upper, xtol=1e-12, ftol=1e-14)
            if run.deviance < best:
                best_x, best = run.x, run.deviance
        start[k] = best_x
        return float(np.sign(v - self.psi_hat[k]) * np.sqrt(max(best - self.base, 0.0)))

    def limits(self, k: int, z: float) -> tuple[float, float]:
        est, kind = self.psi_hat[k], self.kind[k]
        start: dict = {}
        out = []
        for side in (-1.0, 1.0):
            target = side * z
            g = lambda v, target=target: self.zeta(k, v, start) - target   # noqa: E731
            if kind == "cor":
                edge = side * 1.0
                if g(edge) * side < 0:          # the profile stays inside the cutoff up to ±1: lme4 reports ±1
                    out.append(edge)
                    continue
            elif side < 0 and kind == "sd":
                edge = 0.0
                if g(edge) > 0:
                    out.append(0.0)
                    continue
            else:
                edge, tries = est, 0
                scale = est if est > 0 else 1.0
                while True:
                    edge = est * 0.5 ** (tries + 1) if side < 0 else est + scale * 2.0 ** tries
                    if g(edge) * side >= 0:
                        break
                    tries += 1
                    if tries > 30:
                        raise IdentificationError(f"profile_ci(): the profile of {self.names()[k]!r} stays below "
                                                  "the cutoff; the likelihood is too flat for a profile interval.")
            lo, hi = sorted((est, edge))
            out.append(optimize.brentq(g, lo, hi, xtol=1e-12 * max(abs(est), 1e-3), rtol=1e-12))
        return out[0], out[1]

    def names(self) -> list[str]:
        return [f".sig{k + 1:02d}" for k in range(self.n_reported - 1)] + [".sigma"]


def _ml_optimum(problem, obj, fit):
    start = np.asarray(fit.theta, dtype=float)
    if problem.nested and problem.times is not None:
        start = np.r_[start, fit.ar1_phi]
    return problem.minimise(obj, start)


def _beta_cov(problem, obj, x):
    """β̂ and its ML covariance at the optimum ``x`` of a deviance object."""
    if problem.nested:
        theta, phi = obj.split(x)
        _, F, _, _ = obj.solve(theta, phi)
        p = obj.p
        beta = np.linalg.solve(F[:p, :p], F[:p, p])
        r2 = F[p, p] - F[:p, p] @ beta
        return beta, r2 / obj.n * np.linalg.inv(F[:p, :p])
    _, RtR, beta, _, r2 = obj.solve(x)
    return beta, r2 / obj.n * np.linalg.inv(RtR)


def _solve_limit(zeta, b_hat: float, target: float, se: float, term: str) -> float:
    """Solve ``zeta(b) = target`` on one side of ``b_hat``: secant steps from the Wald limit (ζ is nearly
    linear in b), with a bracketing Brent search as the fallback."""
    tol = 1e-8 * se
    b0, z0 = b_hat, 0.0
    b1 = b_hat + target * se
    z1 = zeta(b1)
    for _ in range(12):
        if abs(z1 - target) < 1e-9 or z1 == z0:
            break
        b2 = b1 + (target - z1) * (b1 - b0) / (z1 - z0)
        if (b2 - b_hat) * target <= 0:  # stepped back across the estimate: not a usable secant step
            break
        b0, z0, b1 = b1, z1, b2
        z1 = zeta(b1)
        if abs(b1 - b0) < tol:
            return b1
    else:
        return b1
    if abs(z1 - target) < 1e-9:
        return b1
    far, tries = b_hat + 2.0 * target * se, 0
    while (zeta(far) - target) * np.sign(target) < 0:
        tries += 1
        if tries > 8:
            raise IdentificationError(f"profile_ci(): the profile of {term!r} stays below the cutoff; the "
                                      "likelihood is too flat for a profile interval.")
        far = b_hat + 2.0 * target * se * 2.0 ** tries
    lo, hi = sorted((b_hat, far))
    return optimize.brentq(lambda v: zeta(v) - target, lo, hi, xtol=tol)


@renamed_arguments(level="conf_level")
def profile_ci(fit, term: str | list[str] | None = None, *, conf_level: float = 0.95) -> pd.DataFrame:
    r"""Profile-likelihood confidence intervals, as lme4's ``confint(fit, method = "profile")``.

    Every parameter lme4 profiles: the variance parameters ``.sig01``, ``.sig02``, … (SDs and correlations of the
    random effects, lme4's order) and ``.sigma``, then the fixed effects. The profile of a parameter is the
    signed root of the ML deviance increase, minimised over every other parameter, and the limits solve
    :math:`\zeta = \mp z_{(1+\text{conf\_level})/2}` (module docstring; Bates et al. 2015; Venzon & Moolgavkar
    1988). As lme4, REML fits are profiled on the ML deviance, so ``estimate`` holds the ML estimates; a limit
    the profile does not reach before a boundary is that boundary (0 for an SD, ±1 for a correlation). Unlike
    Wald intervals, profile intervals need no normal approximation for the variance parameters. Each limit is
    found by root finding on refits (fixed effects: a few refits with an offset; variance parameters: a few
    minimisations of the deviance over the other parameters).

    Parameters
    ----------
    fit : MixedResult
        A fit of :func:`allianceStats.mixed.fit_mlm`.
    term : str, list of str or None
        Parameters to profile, by lme4's names (``".sig01"``, ``".sigma"``, ``"(Intercept)"``, ``"SexFemale"``,
        ``"age:SexFemale"``); default all, variance parameters first (lme4's ``parm``).
    conf_level : float, default 0.95
        Confidence level (kept as ``attrs["conf_level"]`` of the table, never in a column name).

    Returns
    -------
    pandas.DataFrame
        Columns ``term, estimate, ci_lower, ci_upper``; ``attrs["conf_level"]`` and ``attrs["method"]``;
        ``attrs["names"]`` maps ``.sigNN`` to what it is (``"sd (Intercept) | Subject"``, ``"cor age.(Intercept)
        | Subject"``).

    Raises
    ------
    OptionError
        ``fit`` is not a mixed-model fit, a term is not among its parameters, or ``conf_level`` is not in (0, 1).
    IdentificationError
        The profile stays below the cutoff (the likelihood is too flat for a bounded interval).

    Notes
    -----
    Validated against lme4 1.1-31 (``tests/mixed/fixtures/habits``, Orthodont ``distance ~ age + Sex + (age |
    Subject)``): against the same profile solved by root finding in R, fixed-effect limits to 1e-5 of their SE
    and variance-parameter limits to 1e-5 relative; against lme4's spline-interpolated ``confint()`` to 1e-5 of
    the SE (fixed effects) and 3e-4 relative (variance parameters, where lme4's interpolation is the coarser).
    Also ``tests/mixed/fixtures/extras_fixtures.R`` (a three-level model). Renamed in 0.2.0: ``level=`` →
    ``conf_level=`` (warns until 0.3.0).

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> from allianceStats.mixed import fit_mlm, profile_ci
    >>> rng = np.random.default_rng(2)
    >>> g = np.repeat(np.arange(30), 6)
    >>> d = pd.DataFrame({"client": g.astype(str), "x": rng.normal(size=180)})
    >>> d["y"] = 1 + 0.5 * d.x + rng.normal(0, 1, 30)[g] + rng.normal(size=180)
    >>> ci = profile_ci(fit_mlm(d, "y ~ x + (1 | client)"))
    >>> list(ci.term), ci.attrs["names"][".sig01"]
    (['.sig01', '.sigma', '(Intercept)', 'x'], 'sd (Intercept) | client')
    >>> bool(ci.ci_lower.iloc[3] < 0.5 < ci.ci_upper.iloc[3]), ci.attrs["conf_level"]
    (True, 0.95)
    """
    if not isinstance(fit, MixedResult) and not all(hasattr(fit, a) for a in _FIT_ATTRIBUTES):
        raise OptionError(f"profile_ci() takes a fit of fit_mlm(); got {type(fit).__name__}")
    conf_level = check_conf_level(conf_level)
    problem = deviance_problem(fit, reml=False)
    obj = problem.objective()
    x_ml, dev_ml = _ml_optimum(problem, obj, fit)
    vp = _VarianceProfile(problem, obj, x_ml)
    vp_names = vp.names()
    fixed_names = list(map(str, fit.fixef.index))
    names = vp_names + fixed_names
    requested = names if term is None else ([term] if isinstance(term, str) else list(term))
    unknown = [t for t in requested if t not in names]
    if unknown:
        raise OptionError(f"profile_ci(): term={unknown!r} not among the parameters {names}")
    z = float(stats.norm.ppf(0.5 + conf_level / 2.0))

    beta, cov = _beta_cov(problem, obj, x_ml)
    se = np.sqrt(np.diag(cov))
    rows = []
    for t in requested:
        if t in vp_names:
            k = vp_names.index(t)
            lo, hi = vp.limits(k, z)
            rows.append((t, float(vp.psi_hat[k]), lo, hi))
            continue
        j = fixed_names.index(t)
        design = problem.design
        X, y = np.asarray(design.X), np.asarray(design.y)
        keep = [c for c in range(X.shape[1]) if c != j]

        def zeta(b, j=j, keep=keep, X=X, y=y, design=design):
            reduced = dataclasses.replace(design, X=X[:, keep], y=y - b * X[:, j],
                                          **({"xnames": [design.xnames[c] for c in keep]}
                                             if hasattr(design, "xnames") else {}))
            _, dev = problem.minimise(problem.objective(reduced), x_ml)
            return np.sign(b - beta[j]) * np.sqrt(max(dev - dev_ml, 0.0))

        lo, hi = (_solve_limit(zeta, float(beta[j]), side * z, float(se[j]), t) for side in (-1.0, 1.0))
        rows.append((t, float(beta[j]), lo, hi))
    out = pd.DataFrame(rows, columns=PROFILE_COLUMNS)
    labels = {}
    factors = list(fit.random_terms.items())
    for k, (f, i, j) in enumerate(vp.slots):
        fac, znames = factors[f]
        labels[vp_names[k]] = (f"sd {znames[i]} | {fac}" if i == j else f"cor {znames[i]}.{znames[j]} | {fac}")
    labels[".sigma"] = "residual sd"
    out.attrs.update(conf_level=conf_level, method="profile (ML deviance)", names=labels)
    return out
