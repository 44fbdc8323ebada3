"""The text of :meth:`SEMResult.summary`, laid out as lavaan's ``summary(fit, fit.measures = TRUE, standardized =
TRUE, rsquare = TRUE)``.

Blocks, in lavaan's order: the estimator and counts; the test of the user model (and its scaled version, with the
scaling factor, under MLR or the robust least-squares estimators); the baseline model; CFI and TLI (scaled and robust
versions when present); log-likelihoods, AIC, BIC and SABIC (ML only); RMSEA with its 90% interval and the
p-values of close and not-close fit; SRMR; how the standard errors were computed; then, per group, the parameter
sections Latent Variables, Regressions, Covariances, Intercepts, Thresholds, Variances, Scales y*, the Defined
Parameters and R-Square, with the columns Estimate, Std.Err, z-value, P(>|z|), Std.lv, Std.all. Residual
(co)variances and intercepts of endogenous variables carry lavaan's leading dot (``.x1``); labels are shown in
parentheses; fixed parameters show their value with the test columns left blank; the fixed.x covariates' own
moments are not listed (lavaan does not either). The last line is the R call that reproduces the fit
(:meth:`SEMResult.r_call`).

Example
-------
>>> import numpy as np, pandas as pd
>>> from allianceStats.sem import fit_sem
>>> rng = np.random.default_rng(0)
>>> f = rng.normal(size=(300, 1))
>>> data = pd.DataFrame(f + 0.7 * rng.normal(size=(300, 3)), columns=["a", "b", "c"])
>>> text = fit_sem(data, "F =~ a + b + c").summary()
>>> print(text.splitlines()[0])
fit_sem (allianceStats) ended normally after 4 iterations
>>> "Latent Variables:" in text and "R-Square:" in text
True
"""
from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

_W = 54   # width of the label + value blocks, as lavaan's
_CORE = {"WLSMV": "DWLS", "WLSM": "DWLS", "ULSMV": "ULS", "ULSM": "ULS"}
"""lavaan's ``Estimator`` line names the estimator behind the robust variants."""


def _value(v: Any, digits: int = 3) -> str:
    if v is None or (isinstance(v, float) and not np.isfinite(v)):
        return ""
    if isinstance(v, str):
        return v
    if float(v).is_integer() and digits == 0:
        return f"{int(v)}"
    return f"{float(v):.{digits}f}"


def _line(label: str, value: str) -> str:
    """``  label ..... value`` with the value right-aligned at lavaan's width."""
    return f"  {label}{' ' * max(_W - 2 - len(label) - len(value), 1)}{value}"


def _two(label: str, a: str, b: str) -> str:
    """A row with a standard and a scaled column (lavaan's two-column test blocks)."""
    return f"  {label:<40}{a:>12}{b:>12}"


def _fit_blocks(res) -> list[str]:
    f = res.fit
    opts = res.options
    scaled = "chisq_scaled" in f.index and np.isfinite(f.get("chisq_scaled", np.nan))
    out: list[str] = []
    g = lambda k: f.get(k, np.nan)  # noqa: E731

    out += ["", "Model Test User Model:"]
    if scaled:
        out.append(_two("", "Standard", "Scaled"))
        out.append(_two("Test statistic", _value(g("chisq")), _value(g("chisq_scaled"))))
        out.append(_two("Degrees of freedom", _value(g("df"), 0), _value(g("df_scaled") if "df_scaled" in f.index
                                                                          else g("df"), 0)))
        out.append(_two("P-value (Chi-square)", _value(g("pvalue")), _value(g("pvalue_scaled"))))
        out.append(_two("Scaling correction factor", "", _value(g("chisq_scaling_factor"))))
        if "chisq_shift_parameter" in f.index:
            out.append(_two("Shift parameter", "", _value(g("chisq_shift_parameter"))))
        test = opts.get("test", "")
        out.append("    " + {"yuan.bentler.mplus": "Yuan-Bentler correction (Mplus variant)",
                             "scaled.shifted": "scaled and shifted (simple second-order correction)",
                             "satorra.bentler": "Satorra-Bentler correction"}.get(test, "scaled test"))
    else:
        out += [_line("Test statistic", _value(g("chisq"))), _line("Degrees of freedom", _value(g("df"), 0)),
                _line("P-value (Chi-square)", _value(g("pvalue")))]

    out += ["", "Model Test Baseline Model:", ""]
    if scaled and "baseline_chisq_scaled" in f.index:
        out.append(_two("Test statistic", _value(g("baseline_chisq")), _value(g("baseline_chisq_scaled"))))
        out.append(_two("Degrees of freedom", _value(g("baseline_df"), 0), _value(g("baseline_df"), 0)))
        out.append(_two("P-value", _value(g("baseline_pvalue")), ""))
    else:
        out += [_line("Test statistic", _value(g("baseline_chisq"))),
                _line("Degrees of freedom", _value(g("baseline_df"), 0)),
                _line("P-value", _value(g("baseline_pvalue")))]

    out += ["", "User Model versus Baseline Model:", ""]
    if scaled and "cfi_scaled" in f.index:
        out.append(_two("Comparative Fit Index (CFI)", _value(g("cfi")), _value(g("cfi_scaled"))))
        out.append(_two("Tucker-Lewis Index (TLI)", _value(g("tli")), _value(g("tli_scaled"))))
        if "cfi_robust" in f.index:
            out += ["", _two("Robust Comparative Fit Index (CFI)", "", _value(g("cfi_robust"))),
                    _two("Robust Tucker-Lewis Index (TLI)", "", _value(g("tli_robust")))]
    else:
        out += [_line("Comparative Fit Index (CFI)", _value(g("cfi"))),
                _line("Tucker-Lewis Index (TLI)", _value(g("tli")))]
        if "cfi_robust" in f.index:
            out += ["", _line("Robust Comparative Fit Index (CFI)", _value(g("cfi_robust"))),
                    _line("Robust Tucker-Lewis Index (TLI)", _value(g("tli_robust")))]

    if np.isfinite(g("loglik")):
        out += ["", "Loglikelihood and Information Criteria:", "",
                _line("Loglikelihood user model (H0)", _value(g("loglik"))),
                _line("Loglikelihood unrestricted model (H1)", _value(g("unrestricted_loglik"))), "",
                _line("Akaike (AIC)", _value(g("aic"))), _line("Bayesian (BIC)", _value(g("bic"))),
                _line("Sample-size adjusted Bayesian (SABIC)", _value(g("sabic")))]

    out += ["", "Root Mean Square Error of Approximation:", ""]
    rows = [("RMSEA", "rmsea"), ("90 Percent confidence interval - lower", "rmsea_ci_lower"),
            ("90 Percent confidence interval - upper", "rmsea_ci_upper"),
            ("P-value H_0: RMSEA <= 0.050", "rmsea_pvalue"), ("P-value H_0: RMSEA >= 0.080", "rmsea_notclose_pvalue")]
    if scaled and "rmsea_scaled" in f.index:
        for label, key in rows:
            a, b = _value(g(key)), _value(g(key + "_scaled"))
            if a or b:
                out.append(_two(label, a, b))
    else:
        out += [_line(label, _value(g(key))) for label, key in rows if _value(g(key))]
    if "rmsea_robust" in f.index:
        out += ["", _line("Robust RMSEA", _value(g("rmsea_robust"))),
                _line("90 Percent confidence interval - lower", _value(g("rmsea_ci_lower_robust"))),
                _line("90 Percent confidence interval - upper", _value(g("rmsea_ci_upper_robust"))),
                _line("P-value H_0: Robust RMSEA <= 0.050", _value(g("rmsea_pvalue_robust")))]

    out += ["", "Standardized Root Mean Square Residual:", "", _line("SRMR", _value(g("srmr")))]
    return out


def _header(res) -> list[str]:
    opts = res.options
    conv = res.convergence
    state = "ended normally" if conv.converged else "did NOT converge"
    tab = res.partable
    means = opts.get("meanstructure", True)
    free_rows = tab[(tab["free"] > 0) & (means | (tab["op"] != "~1"))]
    npar = int(res.fit.get("npar", np.nan)) if np.isfinite(res.fit.get("npar", np.nan)) else len(free_rows)
    n_eq = len(free_rows) - npar
    estimator = opts.get("estimator", "ML")
    if res.wls is not None:   # lavaan names the core estimator (DWLS for WLSMV); the robust parts show below
        estimator = _CORE.get(estimator, estimator)
    lines = [f"fit_sem (allianceStats) {state} after {conv.iterations} iterations", "",
             _line("Estimator", estimator),
             _line("Optimization method", conv.optimizer.split(" + ")[0].split(" with ")[0]),
             _line("Number of model parameters", str(len(free_rows)))]
    if n_eq > 0:
        lines.append(_line("Number of equality constraints", str(n_eq)))
    lines.append("")
    total = opts.get("n_rows")
    totals = list(opts.get("n_rows_by_group") or [])
    if res.group:
        if len(totals) == len(res.n_obs_by_group) and totals != list(res.n_obs_by_group):
            lines.append(f"  {'Number of observations per group:':<40}{'Used':>12}{'Total':>12}")
            lines += [f"    {str(lab):<38}{n:>12}{t:>12}"
                      for lab, n, t in zip(res.group_labels, res.n_obs_by_group, totals)]
        else:
            lines.append("  Number of observations per group:")
            lines += [_line("  " + str(lab), str(n)) for lab, n in zip(res.group_labels, res.n_obs_by_group)]
    elif total is not None and total != res.n_obs:
        lines.append(f"  {'':<40}{'Used':>12}{'Total':>12}")
        lines.append(f"  {'Number of observations':<40}{res.n_obs:>12}{total:>12}")
    else:
        lines.append(_line("Number of observations", str(res.n_obs)))
    patterns = opts.get("missing_patterns")
    if opts.get("missing") == "fiml" and patterns:
        lines.append(_line("Number of missing patterns", str(patterns)))
    elif opts.get("missing") == "pairwise" and patterns:   # lavaan's count among the rows used
        if res.group:
            lines.append("  Number of missing patterns per group:")
            lines += [_line("  " + str(lab), str(k)) for lab, k in zip(res.group_labels, patterns)]
        else:
            lines.append(_line("Number of missing patterns", str(patterns[0])))
    return lines


def _se_block(res) -> list[str]:
    opts = res.options
    se = {"standard": "Standard", "robust.huber.white": "Sandwich", "robust.sem": "Robust.sem",
          "bootstrap": "Bootstrap", "none": "None", "robust": "Robust.sem"}.get(opts.get("se", "standard"), "Standard")
    lines = ["", "Parameter Estimates:", "", _line("Standard errors", se)]
    if opts.get("se") == "bootstrap":
        lines.append(_line("Number of requested bootstrap draws", str(opts.get("n_draws"))))
    info = (opts.get("information") or "expected").capitalize()
    lines.append(_line("Information", info))
    if info == "Observed":
        lines.append(_line("Observed information based on", "Hessian"))
    # least squares: the saturated model's moments are the sample statistics themselves (lavaan's wording)
    lines.append(_line("Information saturated (h1) model", "Unstructured" if res.wls is not None else "Structured"))
    return lines


_COLS = ("Estimate", "Std.Err", "z-value", "P(>|z|)", "Std.lv", "Std.all")


def _row(name: str, label: str, r: pd.Series, free: bool) -> str:
    left = f"   {name}" if name.startswith(".") else f"    {name}"
    tag = f"({label})" if label else ""
    width = max(18, len(left) + len(tag) + 1)
    head = left + " " * (width - len(left) - len(tag)) + tag
    vals = [_value(r["estimate"])]
    if free:
        vals += [_value(r["std_error"]), _value(r["statistic"]), _value(r["p_value"])]
    else:
        vals += ["", "", ""]
    vals += [_value(r.get("std_lv", np.nan)), _value(r.get("std_all", np.nan))]
    return head + "".join(f"{v:>9}" for v in vals)


def _section(title: str, rows: pd.DataFrame, names, group_by: str | None, endogenous: set[str]) -> list[str]:
    if rows.empty:
        return []
    header = " " * 18 + "".join(f"{c:>9}" for c in _COLS)
    out = ["", f"{title}:", header]
    dot = lambda v: ("." + v) if v in endogenous else v  # noqa: E731
    if group_by is None:
        for _, r in rows.iterrows():
            out.append(_row(names(r), r["label"] if r["op"] != ":=" else "", r, r["free_row"]))
        return out
    for lhs, block in rows.groupby(group_by, sort=False):
        name = str(dot(lhs) if title == "Covariances" else lhs)
        out.append(f"{' ' if name.startswith('.') else '  '}{name} {block['op'].iloc[0]}")
        for _, r in block.iterrows():
            out.append(_row(names(r), r["label"], r, r["free_row"]))
    return out


def summary_text(res) -> str:
    """The whole summary (module docstring)."""
    lines = _header(res) + _fit_blocks(res) + _se_block(res)
    params = res.params.copy()
    tab = res.partable
    # a free row shows its test (a fixed one, or an active inequality with SE 0, only its value); the fixed.x
    # covariates' own moments are not listed (lavaan does not either)
    info = {(lhs, op, rhs, grp): (free > 0, exo)
            for lhs, op, rhs, grp, free, exo in zip(tab["lhs"], tab["op"], tab["rhs"], tab["group"], tab["free"],
                                                    tab["exo"])}
    free, exo = [], []
    for lhs, op, rhs, grp, se in zip(params["lhs"], params["op"], params["rhs"], params["group"],
                                     params["std_error"]):
        is_free, is_exo = info.get((lhs, op, rhs, grp), (True, False))
        free.append(bool(is_free and np.isfinite(se) and se > 0) or (op == ":=" and np.isfinite(se)))
        exo.append(bool(is_exo))
    params["free_row"] = free
    params = params[~np.array(exo, dtype=bool)]
    user = tab[tab["user"]]
    endogenous = set(user.loc[user["op"] == "=~", "rhs"]) | set(user.loc[user["op"] == "~", "lhs"])
    dot = lambda v: ("." + v) if v in endogenous else v  # noqa: E731
    groups = sorted(g for g in params["group"].unique() if g > 0)
    labels = dict(zip(range(1, len(res.group_labels) + 1), res.group_labels))
    for grp in groups:
        p = params[params["group"] == grp]
        if len(groups) > 1:
            lines += ["", "", f"Group {grp} [{labels.get(grp, grp)}]:"]
        lines += _section("Latent Variables", p[p["op"] == "=~"], lambda r: r["rhs"], "lhs", endogenous)
        lines += _section("Regressions", p[p["op"] == "~"], lambda r: r["rhs"], "lhs", endogenous)
        cov = p[(p["op"] == "~~") & (p["lhs"] != p["rhs"])]
        lines += _section("Covariances", cov, lambda r: dot(r["rhs"]), "lhs", endogenous)
        lines += _section("Intercepts", p[p["op"] == "~1"], lambda r: dot(r["lhs"]), None, endogenous)
        lines += _section("Thresholds", p[p["op"] == "|"], lambda r: f"{r['lhs']}|{r['rhs']}", None, endogenous)
        var = p[(p["op"] == "~~") & (p["lhs"] == p["rhs"])]
        lines += _section("Variances", var, lambda r: dot(r["lhs"]), None, endogenous)
        lines += _section("Scales y*", p[p["op"] == "~*~"], lambda r: r["lhs"], None, endogenous)
        if res.ml is not None:
            r2 = res.r2 if len(res.group_labels) == 1 else res.r2[labels[grp]]
            if len(r2):
                lines += ["", "R-Square:", " " * 18 + f"{'Estimate':>9}"]
                lines += [f"    {name:<14}{_value(v):>9}" for name, v in r2.items()]
    lines += _section("Defined Parameters", params[params["op"] == ":="], lambda r: r["lhs"], None, endogenous)
    for w in res.convergence.warnings:
        lines += ["", f"WARNING: {w}"]
    lines += ["", f"{100 * res.conf_level:g}% confidence intervals: params (ci_lower, ci_upper).",
              "Reproduce in R (model <- to_lavaan()): " + res.r_call("data")]
    return "\n".join(lines)
