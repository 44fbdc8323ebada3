r"""The ``reproduce/`` folder of a report: the data each model was fitted to, and one R script that refits them.

A reviewer should not have to rebuild the analysis data from the definitions. For every model of the report that
has a standard R call, the folder holds

- ``<name>.csv``: the table the model was fitted to, exactly — the decomposed session table (``x_within``,
  ``x_between``, ``x_within_lag1``, ``session0`` and any derived column) behind a mixed model, the client means
  behind a mediation on client means, the wide panel (one row per client) behind a (RI-)CLPM, the counting-process
  intervals behind a Cox model, the wide item table behind a longitudinal invariance model; only the columns the
  model uses (and the client, therapist and session ids);
- ``reproduce.R``: one script that reads each table and refits the model with the call that gives the same numbers
  — ``lmerTest::lmer(formula, REML = ...)``, ``lme4::glmer(formula, family = binomial(link = ...), nAGQ = ...)``
  (``glmmTMB`` for negative-binomial and zero-inflated models), ``lavaan::lavaan(model, missing = "ml", ...)``
  from the result's own :meth:`to_lavaan` / :meth:`r_call`, ``lavaan::cfa`` for each invariance step,
  ``survival::coxph(formula, ties = ..., cluster = client)`` — prints the numbers the report shows and writes them,
  with the R and package versions, to ``r_results.json`` beside itself.

Run it with ``Rscript reproduce/reproduce.R`` from any folder. Analyses without one standard R call (the
bootstrap intervals of a mediation, multilevel mediation, the hypothesis registry, ruptures, the lag-sequential
and synchrony statistics, power) are listed at the top of the script with the reason; their point estimates are
refitted where a model exists (a mediation's paths and indirect effects by lavaan).

Everything here reads result objects through their public attributes (``formula``, ``family``, ``link``,
``n_agq``, ``reml``, ``to_lavaan()``, ``r_call()``, ``options``) and the data the runner kept with each step:
nothing is estimated.

Example
-------
>>> import pandas as pd
>>> from types import SimpleNamespace
>>> fit = SimpleNamespace(formula="y ~ x + (1 | client)", reml=True)
>>> data = pd.DataFrame({"client": ["a", "a", "b"], "y": [1.0, 2.0, 3.0], "x": [0.1, 0.2, 0.3], "z": [0, 0, 0]})
>>> step = SimpleNamespace(kind="mlm", name="m", id="mlm-m", status="ok", options={}, results={"fit": fit,
...                        "data": data})
>>> (model,) = step_models(step)
>>> model.name, list(model.data.columns)
('mlm_m', ['client', 'y', 'x'])
>>> print(model.code.splitlines()[0])
fit <- lmerTest::lmer(y ~ x + (1 | client), data = d, REML = TRUE)
"""
from __future__ import annotations

import re
from dataclasses import dataclass

import pandas as pd

__all__ = ["RModel", "step_models", "r_script", "R_PACKAGES", "r_string"]

#: the R packages the script loads (all on CRAN)
R_PACKAGES = ("lme4", "lmerTest", "glmmTMB", "lavaan", "survival", "jsonlite")
#: id columns kept with every table (when the data have them)
_IDS = ("therapist", "client", "session")


@dataclass(frozen=True)
class RModel:
    """One model of the report refitted in R: ``name`` (the data file ``<name>.csv`` and the key in
    ``r_results.json``), ``title``, ``kind`` (``lmer``, ``glmer``, ``glmmTMB``, ``lavaan``, ``coxph``), the
    ``data`` it was fitted to, and ``code``: R lines that fit it from the data frame ``d`` into ``fit`` and assign
    the numbers the report shows to ``res``. Models fitted to the same table share it: ``data_file`` names the
    file (default: ``name``)."""

    name: str
    title: str
    kind: str
    data: pd.DataFrame
    code: str
    data_file: str = ""

    @property
    def file(self) -> str:
        """The stem of the data file (``<file>.csv``)."""
        return self.data_file or self.name


def r_string(text: str) -> str:
    r"""An R string literal holding ``text`` exactly (backslashes, quotes and newlines escaped).

    >>> print(r_string('y ~ x\n"a"'))
    "y ~ x\n\"a\""
    """
    escaped = str(text).replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n").replace("\r", "\\r")
    return f'"{escaped}"'


def _named_columns(text: str, columns) -> list[str]:
    """Columns of a table that ``text`` (a formula or lavaan syntax) names as whole words, in the table's order."""
    return [c for c in columns if re.search(rf"(?<![\w.]){re.escape(str(c))}(?![\w.])", text)]


def _subset(data: pd.DataFrame, text: str, extra: tuple[str, ...] = ()) -> pd.DataFrame:
    keep = [c for c in data.columns if c in _IDS or c in extra] + _named_columns(text, data.columns)
    return data[list(dict.fromkeys(keep))].reset_index(drop=True)


_MIXED_RECORD = """co <- summary(fit)$coefficients
vc <- as.data.frame(lme4::VarCorr(fit))
res <- list(term = rownames(co), estimate = unname(co[, 1]), std_error = unname(co[, 2]),
            df = if ("df" %in% colnames(co)) unname(co[, "df"]) else NULL,
            varcomp = list(group = vc$grp, var1 = vc$var1, var2 = vc$var2, vcov = vc$vcov, sdcor = vc$sdcor),
            loglik = as.numeric(logLik(fit)))
print(summary(fit))"""

_LAVAAN_RECORD = """pe <- lavaan::parameterEstimates(fit)
fm <- lavaan::fitMeasures(fit)
keep <- intersect(c("npar", "chisq", "df", "pvalue", "cfi", "tli", "rmsea", "srmr", "logl", "aic", "bic"), names(fm))
res <- list(lhs = pe$lhs, op = pe$op, rhs = pe$rhs, label = pe$label,
            group = if ("group" %in% names(pe)) pe$group else rep(1L, nrow(pe)),
            estimate = pe$est, std_error = pe$se, fit = as.list(unclass(fm)[keep]))
print(lavaan::summary(fit, fit.measures = TRUE))"""


def _lavaan(name: str, title: str, syntax: str, call: str, data: pd.DataFrame, data_file: str = "") -> RModel:
    code = f"model <- {r_string(syntax)}\nfit <- {call}\n{_LAVAAN_RECORD}"
    return RModel(name, title, "lavaan", data.reset_index(drop=True), code, data_file)


def _mlm(step) -> list[RModel]:
    fit, data = step.results["fit"], step.results["data"]
    reml = "TRUE" if getattr(fit, "reml", True) else "FALSE"
    code = f"fit <- lmerTest::lmer({fit.formula}, data = d, REML = {reml})\n{_MIXED_RECORD}"
    return [RModel(f"mlm_{step.name}", f"Multilevel model {step.name}", "lmer", _subset(data, fit.formula), code)]


def _glmm(step) -> list[RModel]:
    fit, data = step.results["fit"], step.results["data"]
    if fit.family in ("binomial", "poisson") and getattr(fit, "zi", None) in (None, False, ""):
        family = f"{fit.family}(link = {r_string(fit.link)})"
        call = f"lme4::glmer({fit.formula}, data = d, family = {family}, nAGQ = {int(fit.n_agq)})"
        kind = "glmer"
        record = _MIXED_RECORD
    else:
        zi = getattr(fit, "zi", None)
        family = ("glmmTMB::nbinom2" if fit.family == "negative_binomial"
                  else f"{fit.family}(link = {r_string(fit.link)})")
        call = (f"glmmTMB::glmmTMB({fit.formula}, data = d, family = {family}"
                + (f", ziformula = {zi}" if isinstance(zi, str) and zi else "") + ")")
        kind = "glmmTMB"
        record = """co <- summary(fit)$coefficients$cond
res <- list(term = rownames(co), estimate = unname(co[, 1]), std_error = unname(co[, 2]),
            loglik = as.numeric(logLik(fit)))
print(summary(fit))"""
    return [RModel(f"glmm_{step.name}", f"GLMM {step.name}", kind, _subset(data, fit.formula),
                   f"fit <- {call}\n{record}")]


def _panel(name: str, title: str, res) -> RModel:
    return _lavaan(name, title, res.to_lavaan(), res.r_call("d"), res.data)


def _riclpm(step) -> list[RModel]:
    out = [_panel("riclpm", "RI-CLPM", step.results["riclpm"])]
    if step.results.get("clpm") is not None:
        out.append(_panel("clpm", "CLPM", step.results["clpm"]))
    return out


def _mediation(step) -> list[RModel]:
    fit, data = step.results["fit"], step.results["data"]
    syntax = fit.to_lavaan()
    # observed-variable mediation by ML: the saturated path model's estimates are the OLS estimates
    call = "lavaan::sem(model, data = d, meanstructure = TRUE)"
    return [_lavaan(f"mediation_{step.name}", f"Mediation {step.name} (point estimates; the report's intervals are "
                    f"{fit.ci})", syntax, call, _subset(data, syntax))]


def _wave_mediation(step) -> list[RModel]:
    return [_panel(f"wave_mediation_{step.name}", f"Mediation across waves {step.name} (its RI-CLPM)",
                   step.results["fit"].panel)]


def _cox(step) -> list[RModel]:
    fit, data, opts = step.results["fit"], step.results["data"], step.options
    formula = opts["formula"]
    cluster = ", cluster = client" if fit.robust else ""
    code = ("Surv <- survival::Surv\n"
            f"fit <- survival::coxph({formula}, data = d, ties = {r_string(fit.ties)}{cluster})\n"
            "s <- summary(fit)$coefficients\n"
            "se <- if (\"robust se\" %in% colnames(s)) \"robust se\" else \"se(coef)\"\n"
            "res <- list(term = rownames(s), estimate = unname(s[, \"coef\"]), std_error = unname(s[, se]),\n"
            "            hazard_ratio = unname(s[, \"exp(coef)\"]), loglik = fit$loglik)\n"
            "print(summary(fit))")
    return [RModel(f"cox_{step.name}", f"Cox model {step.name}", "coxph", _subset(data, formula, ("client",)),
                   code)]


def _invariance(step) -> list[RModel]:
    res, data = step.results["result"], step.results["data"]
    syntax = {s: res.to_lavaan(s) for s in res.table["step"]}
    shared = _subset(data, "\n".join(syntax.values()), (res.group or "",))
    return [_lavaan(f"invariance_{step.name}_{s}", f"Invariance {step.name}: {s}", text, res.r_call(s, data_name="d"),
                    shared, data_file=f"invariance_{step.name}") for s, text in syntax.items()]


_MODELS = {"mlm": _mlm, "glmm": _glmm, "riclpm": _riclpm, "mediation": _mediation,
           "wave_mediation": _wave_mediation, "cox": _cox, "invariance": _invariance}
#: why a kind of analysis has no R call in the script
NOT_IN_R = {
    "describe": "descriptive counts (no model)",
    "icc": "empty lmer models: the mixed-model calls above show the form",
    "trajectories": "a figure of the data",
    "multilevel_mediation": "a 1-1-1 multilevel mediation by Monte Carlo / bootstrap over two mixed models",
    "cycle": "each arrow is a bootstrap over clients (evaluate_hypotheses)",
    "hypotheses": "each hypothesis is a bootstrap over clients (evaluate_hypotheses)",
    "dynamics": "rupture detection and variability indices are definitions, not fitted models",
    "sequences": "lag-sequential statistics (no CRAN package in this bundle)",
    "synchrony": "windowed cross-correlation as rMEA (no CRAN package in this bundle)",
    "power": "a Monte Carlo study of simulated data",
}


def step_models(step) -> list[RModel]:
    """The R refits of one computed step (empty for analyses without a standard R call, :data:`NOT_IN_R`).

    Parameters
    ----------
    step : StepLike
        A step of an analysis run with ``status == "ok"`` (its ``results`` hold the fitted result and its data).

    Returns
    -------
    list of RModel
    """
    if step.status != "ok" or step.kind not in _MODELS:
        return []
    return _MODELS[step.kind](step)


def r_script(models: list[RModel], *, skipped: dict[str, str] | None = None, version: str = "") -> str:
    """The text of ``reproduce.R``: read each model's table, refit it, print it, write ``r_results.json``.

    Parameters
    ----------
    models : list of RModel
        The refits, in report order (their ``name`` is unique).
    skipped : dict, optional
        Analyses of the report not refitted in R -> the reason (listed at the top).
    version : str
        The allianceStats version that wrote the report.

    Returns
    -------
    str

    Examples
    --------
    >>> import pandas as pd
    >>> m = RModel("m", "Model m", "lmer", pd.DataFrame({"y": [1.0]}), "fit <- 1\\nres <- list(x = 1)")
    >>> text = r_script([m])
    >>> 'd <- utils::read.csv(file.path(here, "m.csv"), check.names = FALSE)' in text
    True
    """
    lines = ["# Refit the models of this report in R, print them, and write the numbers to r_results.json.",
             f"# Written by allianceStats {version} with the report. Run from any folder:".rstrip(),
             "#   Rscript reproduce/reproduce.R",
             f"# Needs the CRAN packages {', '.join(R_PACKAGES)}.",
             "# Each model reads the exact table it was fitted to (<name>.csv beside this script)."]
    if skipped:
        lines.append("# Not refitted here (no single standard R call):")
        lines += [f"#   {name}: {why}" for name, why in skipped.items()]
    lines += ["",
              "args <- commandArgs(trailingOnly = FALSE)",
              'script <- sub("^--file=", "", args[grep("^--file=", args)])',
              'here <- if (length(script)) dirname(normalizePath(script)) else getwd()',
              "out <- list()",
              "failed <- character(0)",
              "refit <- function(name, title, body) {",
              '  cat("\\n==========", title, "==========\\n")',
              "  value <- tryCatch(body(), error = function(e) {",
              '    message("could not refit ", name, ": ", conditionMessage(e))',
              "    NULL",
              "  })",
              "  if (is.null(value)) failed <<- c(failed, name) else out[[name]] <<- value",
              "}"]
    for m in models:
        body = "\n".join("  " + line if line else line for line in m.code.splitlines())
        lines += ["", f"refit({r_string(m.name)}, {r_string(m.title)}, function() {{",
                  f"  d <- utils::read.csv(file.path(here, {r_string(m.file + '.csv')}), check.names = FALSE)",
                  body, "  res", "})"]
    lines += ["",
              "versions <- list(R = R.version.string)",
              f"for (p in c({', '.join(r_string(p) for p in R_PACKAGES)})) {{",
              "  versions[[p]] <- tryCatch(as.character(utils::packageVersion(p)), error = function(e) NA)",
              "}",
              'target <- file.path(here, "r_results.json")',
              "jsonlite::write_json(list(versions = versions, models = out, failed = failed), target, digits = NA,",
              "                     auto_unbox = TRUE, pretty = TRUE, na = \"null\")",
              'cat("\\nwrote", target, "\\n")',
              'if (length(failed)) quit(status = 1)', ""]
    return "\n".join(lines)
