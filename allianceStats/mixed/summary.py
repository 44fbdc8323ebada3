"""Text output of linear mixed models laid out as lmerTest 3.1-3 prints it (``print(summary(fit))``, ``anova(fit)``).

The numbers follow R's formatting rules (R Core Team, ``format``, ``format.pval``, ``printCoefmat``; lme4's
``.prt.resids`` and ``formatVC``): a column is printed with the number of decimals its element needing the most
requires to show ``digits`` significant digits (trailing zeros of an element do not count), p-values below 1e-3
in scientific notation and below machine precision as ``<2e-16``, significance stars with R's codes.

Example
-------
>>> r_format([16.34062, 0.784375, 1.032102, -0.3048295], 4)
['16.3406', ' 0.7844', ' 1.0321', '-0.3048']
>>> format_pvalues([1.137e-14, 1.986e-09, 0.523663, 0.0326138, 1e-20])
['1.14e-14', '1.99e-09', '0.5237', '0.0326', '<2e-16']
>>> [signif_stars(p) for p in (0.0004, 0.004, 0.04, 0.08, 0.5)]
['***', '**', '*', '.', '']
"""
from __future__ import annotations

import math

import numpy as np

SIGNIF_LEGEND = "Signif. codes:  0 '***' 0.001 '**' 0.01 '*' 0.05 '.' 0.1 ' ' 1"
_EPS = np.finfo(float).eps


def _decimals(x: float, digits: int) -> int:
    """Decimals R needs to show ``x`` with at most ``digits`` significant digits (trailing zeros dropped)."""
    if x == 0 or not math.isfinite(x):
        return 0
    mant, _, exponent = f"{abs(x):.{digits - 1}e}".partition("e")
    mant = mant.replace(".", "").rstrip("0")
    e = int(exponent)
    return max(0, len(mant) - 1 - e)


def r_format(values, digits: int = 4) -> list[str]:
    """R's ``format(x, digits)`` for a numeric column in fixed notation: common decimals, common width."""
    vals = [float(v) for v in values]
    finite = [v for v in vals if math.isfinite(v)]
    rgt = min(15, max((_decimals(v, digits) for v in finite), default=0))
    out = [f"{v:.{rgt}f}" if math.isfinite(v) else ("NA" if math.isnan(v) else ("Inf" if v > 0 else "-Inf"))
           for v in vals]
    width = max((len(o) for o in out), default=0)
    return [o.rjust(width) for o in out]


def _round_coef(values, digits: int = 4) -> list[float]:
    """``printCoefmat``'s rounding of the estimate / SE / df columns before formatting them together."""
    acs = np.abs(np.asarray(values, dtype=float))
    acs = acs[np.isfinite(acs) & (acs != 0)]
    if not len(acs):
        return list(values)
    digmin = 1 + np.floor(np.log10([acs.min(), acs.max()]))
    return list(np.round(np.asarray(values, dtype=float), int(max(1, *(digits - digmin)))))


def _sci(values, digits: int) -> list[str]:
    sig = 1
    for v in values:
        mant = f"{abs(v):.{digits - 1}e}".split("e")[0].replace(".", "").rstrip("0")
        sig = max(sig, len(mant))
    out = []
    for v in values:
        m, e = f"{v:.{sig - 1}e}".split("e")
        out.append(f"{m}e{'-' if int(e) < 0 else '+'}{abs(int(e)):02d}")
    return out


def format_pvalues(p, digits: int = 3, eps: float = _EPS) -> list[str]:
    """R's ``format.pval``: fixed notation from 1e-3 up, scientific below, ``<2e-16`` below ``eps``."""
    p = [float(v) for v in p]
    out = [""] * len(p)
    fixed = [i for i, v in enumerate(p) if math.isfinite(v) and v >= eps and math.floor(math.log10(v)) >= -3]
    sci = [i for i, v in enumerate(p) if math.isfinite(v) and v >= eps and i not in fixed]
    for i, s in zip(fixed, r_format([p[i] for i in fixed], digits)):
        out[i] = s
    for i, s in zip(sci, _sci([p[i] for i in sci], digits)):
        out[i] = s
    for i, v in enumerate(p):
        if math.isfinite(v) and v < eps:
            out[i] = "<2e-16"
        elif not math.isfinite(v):
            out[i] = "NA"
    return out


def signif_stars(p: float) -> str:
    """R's significance codes: *** < 0.001 < ** < 0.01 < * < 0.05 < . < 0.1."""
    if not math.isfinite(p):
        return ""
    for cut, star in ((0.001, "***"), (0.01, "**"), (0.05, "*"), (0.1, ".")):
        if p < cut:
            return star
    return ""


def _table(header: list[str], rows: list[list[str]], left: int = 1) -> list[str]:
    """Columns right-aligned (the first ``left`` left-aligned), one space apart, as R prints a matrix."""
    cols = list(zip(header, *rows))
    widths = [max(len(c) for c in col) for col in cols]
    lines = []
    for r in [header, *rows]:
        cells = [c.ljust(w) if k < left else c.rjust(w) for k, (c, w) in enumerate(zip(r, widths))]
        lines.append(" ".join(cells).rstrip())
    return lines


def _abbreviate(name: str, minlength: int = 6) -> str:
    """R's ``abbreviate(name, minlength)``: drop lower-case vowels from the right, then lower-case letters, never
    the first character, until the name is short enough (``(Intercept)`` → ``(Intr)``, ``SexFemale`` →
    ``SexFml``)."""
    chars = list(name)
    for pool in ("aeiou", "abcdefghijklmnopqrstuvwxyz"):
        i = len(chars) - 1
        while len(chars) > minlength and i > 0:
            if chars[i] in pool:
                del chars[i]
            i -= 1
    return "".join(chars)


def format_summary(fit, correlation: bool = False) -> str:
    """``print(summary(fit))`` of lmerTest for a :class:`~allianceStats.mixed.result.MixedResult` (module docstring).

    >>> import numpy as np, pandas as pd
    >>> from allianceStats.mixed import fit_mlm
    >>> rng = np.random.default_rng(1)
    >>> g = np.repeat(np.arange(20), 5)
    >>> d = pd.DataFrame({"g": g.astype(str), "x": rng.normal(size=100)})
    >>> d["y"] = 2 + d.x + rng.normal(size=20)[g] + rng.normal(size=100)
    >>> print(format_summary(fit_mlm(d, "y ~ x + (1 | g)")).splitlines()[0])
    Linear mixed model fit by REML. t-tests use Satterthwaite's method
    """
    opts = fit.provenance.options
    method = "Kenward-Roger's" if opts.get("ddf") == "kenward-roger" else "Satterthwaite's"
    if opts.get("vcov") == "CR2":
        method = "cluster-robust CR2 standard errors with Satterthwaite's"
    lines = [f"Linear mixed model fit by {'REML' if fit.reml else 'maximum likelihood'}. t-tests use {method} method",
             f"Formula: {fit.formula}"]
    if opts.get("weights"):
        lines.append(f"Weights: {opts['weights']}")
    if fit.correlation == "ar1":
        lines.append(f"Residual correlation: AR(1) within {list(fit.random_terms)[0]}, phi = {fit.ar1_phi:.4f}")
    lines.append("")
    if fit.reml:
        lines.append(f"REML criterion at convergence: {r_format([fit.deviance], 4)[0]}")
    else:
        npar = int(round((fit.aic - fit.deviance) / 2))
        lines += _table(["AIC", "BIC", "logLik", "deviance", "df.resid"],
                        [[f"{fit.aic:.1f}", f"{fit.bic:.1f}", f"{fit.loglik:.1f}", f"{fit.deviance:.1f}",
                          str(fit.n_obs - npar)]], left=0)
    lines += ["", "Scaled residuals: "]
    scaled = fit.residuals() / fit.sigma
    q = np.quantile(scaled, [0, 0.25, 0.5, 0.75, 1])
    mx = np.max(np.abs(q))
    q = np.round(q, max(0, 5 - int(np.ceil(np.log10(mx))))) if mx > 0 else q    # lme4: zapsmall(digits + 1)
    lines += _table(["Min", "1Q", "Median", "3Q", "Max"], [r_format(q, 4)], left=0)
    lines += ["", "Random effects:"]
    rows = []
    for fac, names in fit.random_terms.items():
        cov = fit.random_cov[fac].to_numpy()
        sd = np.sqrt(np.diag(cov))
        for k, nm in enumerate(names):
            with np.errstate(invalid="ignore", divide="ignore"):
                corr = [f"{c:.2f}" for c in cov[k, :k] / (sd[k] * sd[:k])]
            rows.append([fac if k == 0 else "", nm, cov[k, k], sd[k], " ".join(corr)])
    rows.append(["Residual", "", fit.sigma ** 2, fit.sigma, ""])
    var_s, sd_s = r_format([r[2] for r in rows], 4), r_format([r[3] for r in rows], 4)
    body = [[r[0], r[1], v, s, r[4]] for r, v, s in zip(rows, var_s, sd_s)]
    header = ["Groups", "Name", "Variance", "Std.Dev.", "Corr" if any(r[4] for r in rows) else ""]
    widths = [max(len(r[i]) for r in [header, *body]) for i in range(5)]
    for r in [header, *body]:
        lines.append(" " + " ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip())
    lines.append(f"Number of obs: {fit.n_obs}, groups:  " + "; ".join(f"{k}, {v}" for k, v in fit.n_groups.items()))
    if fit.n_dropped:
        lines.append(f"({fit.n_dropped} rows with missing values dropped)")
    lines += ["", "Fixed effects:"]
    tab = fit.params
    p = len(tab)
    est = r_format(_round_coef([*tab.estimate, *tab.std_error, *tab.df]), 4)   # printCoefmat's cs.ind columns
    t_s = r_format(np.round(tab.statistic.to_numpy(), 3), 4)
    p_s = format_pvalues(tab.p_value)
    stars = [signif_stars(v) for v in tab.p_value]
    body = [[term, est[i], est[p + i], est[2 * p + i], t_s[i], p_s[i], stars[i]] for i, term in enumerate(tab.term)]
    lines += _table(["", "Estimate", "Std. Error", "df", "t value", "Pr(>|t|)", ""],
                    [r[:6] + [r[6].ljust(3)] for r in body])
    if any(stars):
        lines += ["---", SIGNIF_LEGEND]
    if correlation and p > 1:
        V = fit.vcov.to_numpy()
        s = np.sqrt(np.diag(V))
        C = V / np.outer(s, s)
        short = [_abbreviate(t) for t in tab.term]
        lines += ["", "Correlation of Fixed Effects:"]
        rows = [[_abbreviate(t, 11)] + [f"{C[i, j]:.3f}" if j < i else "" for j in range(p - 1)]
                for i, t in enumerate(tab.term) if i > 0]
        lines += _table([""] + short[:-1], rows)
    if fit.singular:
        lines += ["", "boundary (singular) fit: a random-effect variance is (near) zero or a correlation is +-1"]
    if not fit.converged:
        lines += ["", f"WARNING: the optimiser did not converge: {fit.convergence.message}"]
    lines.append(f"(Wald t intervals at level {fit.conf_level:g} in .params; correlation of fixed effects with "
                 "summary(correlation=True))" if not correlation else f"(Wald t intervals at level "
                 f"{fit.conf_level:g} in .params)")
    return "\n".join(lines)


def format_anova(res) -> str:
    """lmerTest's printed ``anova(fit)`` table of an :class:`~allianceStats.mixed.term_tests.AnovaResult`.

    >>> import pandas as pd
    >>> tab = pd.DataFrame({"term": ["age"], "F": [87.9987], "num_df": [1.0], "den_df": [25.0], "p_value": [1.1e-9]})
    >>> print(format_anova(type("R", (), {"table": tab, "type": "III", "ddf": "satterthwaite"})()))
    Type III Analysis of Variance Table with Satterthwaite's method
        NumDF DenDF F value  Pr(>F)
    age     1    25  87.999 1.1e-09 ***
    ---
    Signif. codes:  0 '***' 0.001 '**' 0.01 '*' 0.05 '.' 0.1 ' ' 1
    """
    tab = res.table
    method = "Kenward-Roger's" if res.ddf == "kenward-roger" else "Satterthwaite's"
    lines = [f"Type {res.type} Analysis of Variance Table with {method} method"]
    p_s = format_pvalues(tab.p_value, digits=4)
    stars = [signif_stars(v) for v in tab.p_value]
    columns = [list(tab.term)]
    header = [""]
    mean_sq = getattr(res, "mean_sq", None)
    if mean_sq is not None and len(mean_sq) == len(tab):
        ms = np.asarray(mean_sq, dtype=float)
        columns += [r_format(ms * tab.num_df.to_numpy(), 3), r_format(ms, 3)]
        header += ["Sum Sq", "Mean Sq"]
    columns += [r_format(tab.num_df, 5), r_format(tab.den_df, 5), r_format(np.round(tab.F.to_numpy(), 4), 5), p_s]
    header += ["NumDF", "DenDF", "F value", "Pr(>F)"]
    body = [[c[i] for c in columns] for i in range(len(tab))]
    lines += _table(header, body)
    lines = [lines[0], lines[1]] + [ln + (" " + s if s else "") for ln, s in zip(lines[2:], stars)]
    if any(stars):
        lines += ["---", SIGNIF_LEGEND]
    return "\n".join(lines)
