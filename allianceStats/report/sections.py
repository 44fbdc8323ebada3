"""Report sections drawn from the results of an analysis file: one section per analysis, no estimation here.

:func:`build_report` takes what :func:`allianceStats.analysis.run_analysis` returns — a title, one *step* per
analysis holding its fitted result objects, and provenance — and draws each step: paragraphs, tables (the
results' tidy DataFrames) and figures (path diagrams, trajectories, retention and power curves). A step that
failed becomes a visible "could not be computed" section with its reason; warnings raised while fitting are
shown as a note at the top of their section. The lavaan syntax of every fitted SEM-family result goes to the
provenance footer, so a reader can refit the model in R.

What a step must offer is written down in :class:`StepLike` (a :class:`typing.Protocol`); this module reads
result objects only through their public attributes (``params``, ``paths``, ``effects``, ``conf_level``, ...)
and methods (``summary()``, ``to_lavaan()``).

Example
-------
>>> import pandas as pd
>>> from types import SimpleNamespace
>>> fit = SimpleNamespace(params=pd.DataFrame({"term": ["(Intercept)"], "estimate": [1.0]}),
...                       varcomp=pd.DataFrame({"group": ["client"], "vcov": [0.5]}), reml=True, n_obs=40,
...                       converged=True, singular=False, aic=101.5, conf_level=0.95)
>>> step = SimpleNamespace(kind="mlm", name="m", id="mlm-m", options={"formula": "y ~ 1 + (1 | client)"},
...                        seed=1, results={"fit": fit, "therapist_part": False}, status="ok", error="",
...                        notes=(), warnings=(), conf_level=0.95)
>>> report = build_report(SimpleNamespace(title="Demo", steps=[step], provenance={"seed": 1}))
>>> [t.name for t in report.sections[0].tables]
['mlm_m_params', 'mlm_m_varcomp']
"""
from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from typing import Any, Protocol

import pandas as pd

from .diagrams import cycle_diagram, mediation_diagram, riclpm_diagram
from .figures import figure_to_svg, retention_plot, synchrony_plot, trajectory_plot
from .power_curve import power_curve_svg
from .provenance import lock_status
from .render import Figure, Report, Section, Table, unique_names
from .reproduce import NOT_IN_R, RModel, step_models

__all__ = ["StepLike", "RunLike", "build_report", "draw_step", "section_title", "result_tables"]


class StepLike(Protocol):
    """One analysis as :class:`allianceStats.analysis.StepOutcome` describes it."""

    kind: str
    name: str
    options: Mapping[str, Any]
    seed: int
    results: Mapping[str, Any]
    status: str
    error: str
    notes: Sequence[str]
    warnings: Sequence[str]
    conf_level: float

    @property
    def id(self) -> str: ...


class RunLike(Protocol):
    """An analysis run as :class:`allianceStats.analysis.AnalysisRun` describes it."""

    title: str
    steps: Sequence[StepLike]
    provenance: Mapping[str, Any]


_TITLES = {
    "describe": "Data summary",
    "icc": "Intraclass correlations",
    "trajectories": "Trajectories",
    "mlm": "Multilevel model",
    "riclpm": "Cross-lagged panel models",
    "mediation": "Mediation",
    "multilevel_mediation": "Multilevel mediation",
    "wave_mediation": "Mediation across waves",
    "cycle": "The cyclical model: behaviours → alliance → needs → motivation → engagement",
    "hypotheses": "Hypotheses of the review: supported or not",
    "dynamics": "Alliance dynamics",
    "power": "Power analysis",
    "glmm": "Generalised linear mixed model",
    "cox": "Time to event (Cox model)",
    "sequences": "Coded session behaviour: lag-sequential analysis",
    "synchrony": "Synchrony of two signals over the session",
    "invariance": "Measurement invariance",
}


def section_title(step: StepLike) -> str:
    """The heading of a step's section: its kind, and for ``[[list]]`` entries the entry's title or name.

    Parameters
    ----------
    step : StepLike
        A step with ``kind``, ``name`` and ``options``.

    Returns
    -------
    str

    Examples
    --------
    >>> from types import SimpleNamespace
    >>> section_title(SimpleNamespace(kind="mlm", name="ao", options={"title": "outcome on alliance"}))
    'Multilevel model: outcome on alliance'
    """
    base = _TITLES.get(step.kind, step.kind)
    if step.kind == "dynamics":
        return f"{base}: ruptures, variability, dropout ({step.options.get('column', 'alliance')})"
    if step.name:
        return f"{base}: {step.options.get('title', step.name)}"
    return base


def _frame(obj: Any) -> pd.DataFrame | None:
    if isinstance(obj, pd.DataFrame):
        return obj
    if isinstance(obj, pd.Series):
        return obj.rename("value").rename_axis("measure").reset_index()
    if isinstance(obj, Mapping) and obj and all(pd.api.types.is_scalar(v) or v is None for v in obj.values()):
        return pd.DataFrame({"measure": list(obj), "value": list(obj.values())})
    return None


def result_tables(name: str, title: str, result: Any, attrs: Sequence[str] = ("params", "effects", "paths",
                                                                              "varcomp", "fit"),
                  *, conf_level: float = 0.95) -> list[Table]:
    """Tables for the tidy DataFrame (or ``{measure: value}``) attributes of a result that are present.

    Parameters
    ----------
    name : str
        Stem of the table names (``<name>_<attr>``, the files' names).
    title : str
        Stem of the captions.
    result : object or DataFrame
        A fitted result (or one table).
    attrs : sequence of str
        The attributes to look for, in order.
    conf_level : float
        Level of the intervals in the tables (the CI column's header).

    Returns
    -------
    list of Table

    Examples
    --------
    >>> import pandas as pd
    >>> from types import SimpleNamespace
    >>> res = SimpleNamespace(params=pd.DataFrame({"term": ["x"], "estimate": [0.5]}), fit={"aic": 10.0})
    >>> [t.name for t in result_tables("m", "Model", res)]
    ['m_params', 'm_fit']
    """
    if isinstance(result, pd.DataFrame):
        return [Table(name, title, result.reset_index(drop=True), conf_level=conf_level)]
    out = []
    for attr in attrs:
        frame = _frame(getattr(result, attr, None))
        if frame is not None and len(frame):
            out.append(Table(f"{name}_{attr}", f"{title}: {attr}", frame.reset_index(drop=True), conf_level=conf_level))
    return out


def lavaan_snippet(result) -> str:
    """The R code that refits an SEM-family result in lavaan: the model syntax and the full call with every option
    that decides the numbers (``r_call``), so pasting it into R gives the report's numbers on the same data
    (``data``: the table the model was fitted to, written to ``reproduce/`` beside the report).

    Parameters
    ----------
    result
        A fitted result with ``to_lavaan()`` and ``r_call(data_name)``.

    Returns
    -------
    str

    Examples
    --------
    >>> class Fit:
    ...     def to_lavaan(self): return "y ~ x"
    ...     def r_call(self, data_name): return f"lavaan::sem(model, data = {data_name})"
    >>> print(lavaan_snippet(Fit()))
    model <- '
    y ~ x
    '
    fit <- lavaan::sem(model, data = data)
    """
    return "model <- '\n" + result.to_lavaan() + "\n'\nfit <- " + result.r_call("data")


# -- one drawer per kind: (step, syntax) -> Section; ``syntax`` collects lavaan calls for the footer --------------
def _draw_describe(step, syntax) -> Section:
    desc = step.results["description"]
    overview = desc.overview.rename_axis("quantity").reset_index()
    measures = desc.measures.rename_axis("measure").reset_index()
    return Section(step.id, section_title(step), paragraphs=[
        "Design counts, attendance, dropout and missingness of the validated session table."],
        tables=[Table("design", "Design and dropout", overview, digits=3),
                Table("measures", "Measures: missingness and distribution", measures)])


def _draw_icc(step, syntax) -> Section:
    fits = step.results["icc"]
    table = pd.concat([res.table.assign(measure=m)[["measure", *[c for c in res.table.columns if c != "measure"]]]
                       for m, res in fits.items()], ignore_index=True)
    # one row per measure for reading; the long table (with variances) goes to the CSV beside it
    wide = table.pivot(index="measure", columns="level", values="icc").reindex(list(fits))
    wide = wide[[c for c in ("therapist", "client", "same_client", "residual") if c in wide.columns]]
    wide = wide.rename(columns=lambda c: f"icc_{c}").rename_axis(None, axis=1).reset_index()
    definitions = "; ".join(dict.fromkeys(f"{lv}: {d}" for lv, d in zip(table["level"], table["definition"])))
    return Section(step.id, section_title(step), paragraphs=[
        "Shares of variance between therapists, between clients and within clients (sessions), from "
        "empty mixed models (REML)."],
        tables=[Table("icc", "Intraclass correlations by measure", wide, digits=3, note=definitions),
                Table("icc_long", "Intraclass correlations with variance components", table, digits=3,
                      max_rows=0, conf_level=step.conf_level)])


def _draw_trajectories(step, syntax) -> Section:
    data, measures = step.results["data"], step.results["measures"]
    figs = [Figure(trajectory_plot(data, m, max_clients=int(step.options.get("max_clients", 80)), seed=step.seed,
                                   figure_id=f"traj-{k}"),
                   caption=f"{m} by session: clients in grey, mean of all observed clients in black.")
            for k, m in enumerate(measures)]
    return Section(step.id, section_title(step), figures=figs)


def _draw_mlm(step, syntax) -> Section:
    fit, opts = step.results["fit"], step.options
    paras = [f"Formula: {opts['formula']}",
             f"{'REML' if fit.reml else 'ML'} fit on {fit.n_obs} sessions; converged: {fit.converged}; "
             f"singular: {fit.singular}; AIC {fit.aic:.2f}."]
    if opts.get("decompose") and step.results.get("therapist_part"):
        paras.append("Decomposition (Curran & Bauer 2011; Baldwin, Wampold & Imel 2007): x_within = x − "
                     "client mean (state-like); x_between = client mean − therapist mean (trait-like); "
                     "x_therapist = mean of the therapist's client means; x_within_lag1 = previous "
                     "session's x_within.")
    elif opts.get("decompose"):
        paras.append("Decomposition (Curran & Bauer 2011): x_within = x − client mean (state-like); "
                     "x_between = client mean (trait-like); x_within_lag1 = previous session's x_within.")
    return Section(step.id, section_title(step), paragraphs=paras,
                   tables=result_tables(f"mlm_{step.name}", step.name, fit, attrs=("params", "varcomp"),
                                        conf_level=fit.conf_level))


def _draw_riclpm(step, syntax) -> Section:
    res, variables = step.results["riclpm"], step.results["variables"]
    tables = result_tables("riclpm", "RI-CLPM", res, attrs=("params", "fit"), conf_level=res.conf_level)
    figs = [Figure(riclpm_diagram(res.params, variables).to_svg(title="RI-CLPM path diagram"),
                   caption="RI-CLPM, within-person part: autoregressive (horizontal) and cross-lagged "
                           "(diagonal) paths, standardized.")]
    syntax["RI-CLPM"] = lavaan_snippet(res)
    paras = [f"Random-intercept cross-lagged panel model of {', '.join(variables)} (Hamaker, Kuiper & "
             "Grasman 2015): stable between-client differences are separated from within-client dynamics."]
    clpm = step.results.get("clpm")
    if clpm is not None:
        tables += result_tables("clpm", "CLPM", clpm, attrs=("params", "fit"), conf_level=clpm.conf_level)
        figs.append(Figure(riclpm_diagram(clpm.params, variables, prefix="").to_svg(title="CLPM path diagram"),
                           caption="CLPM for comparison: lagged paths between the observed scores, "
                                   "standardized (between- and within-client variance mixed)."))
        syntax["CLPM"] = lavaan_snippet(clpm)
    comparison = step.results.get("comparison")
    if comparison is not None:
        tables.append(Table("clpm_vs_riclpm", "CLPM vs RI-CLPM (χ² difference test)",
                            comparison.table.reset_index(drop=True)))
    return Section(step.id, section_title(step), paragraphs=paras + list(step.notes), figures=figs, tables=tables)


def _draw_mediation(step, syntax) -> Section:
    fit, opts, name = step.results["fit"], step.options, step.name
    x, y, mediators = opts["x"], opts["y"], list(opts["mediators"])
    serial = bool(opts.get("serial", False))
    syntax[f"mediation {name}"] = lavaan_snippet(fit)
    diagram = mediation_diagram(fit.paths, x, mediators, y, serial=serial, alpha=1 - fit.conf_level)
    what = ("client means (one row per client)" if opts.get("unit", "client") == "client"
            else "sessions, clients resampled")
    return Section(step.id, section_title(step),
                   paragraphs=[f"{x} → {', '.join(mediators)} → {y}; data: {what}; seed {step.seed}."],
                   figures=[Figure(diagram.to_svg(title=f"Mediation path diagram: {name}"),
                                   caption=f"Path diagram: {opts.get('title', name)}.")],
                   tables=result_tables(f"mediation_{name}", name, fit, attrs=("effects", "paths"),
                                        conf_level=fit.conf_level))


def _draw_multilevel_mediation(step, syntax) -> Section:
    fit, opts, name = step.results["fit"], step.options, step.name
    return Section(step.id, section_title(step), paragraphs=[
        f"{opts['x']} → {opts['m']} → {opts['y']} in session data, clients as clusters (1-1-1 design; Bauer, "
        "Preacher & Gil 2006; Zhang, Zyphur & Preacher 2009): the within-client indirect effect (sessions above "
        "the client's own mean) and the between-client indirect effect (clients with higher means); "
        f"seed {step.seed}."],
        tables=result_tables(f"multilevel_mediation_{name}", name, fit, attrs=("effects", "params", "varcomp"),
                             conf_level=fit.conf_level))


def _draw_wave_mediation(step, syntax) -> Section:
    fit, opts, name = step.results["fit"], step.options, step.name
    syntax[f"wave mediation {name}"] = lavaan_snippet(fit.panel)
    return Section(step.id, section_title(step), paragraphs=[
        f"Within-person indirect effect {opts['x']}[t−2] → {opts['m']}[t−1] → {opts['y']}[t] from a "
        "three-variable RI-CLPM with lagged paths equal over waves (Hamaker et al. 2015; Cole & Maxwell 2003); "
        f"seed {step.seed}."],
        tables=result_tables(f"wave_mediation_{name}", name, fit, attrs=("effects", "paths"),
                             conf_level=fit.conf_level))


#: the page shows these columns of a hypothesis table (standard errors, z and the model formula are in the files)
_HYPOTHESIS_SHOWN = ("hypothesis", "statement", "effect", "estimate", "p_value", "ci_lower", "ci_upper", "supported",
                     "note")


def _draw_cycle(step, syntax) -> Section:
    result, layout = step.results["hypotheses"], step.results["layout"]
    diagram = cycle_diagram(result.paths, alpha=1 - result.conf_level, **layout)
    paras = ["Each arrow is a hypothesis of the SDT registry (allianceStats.hypotheses(), those marked 'cycle'), "
             "tested by evaluate_hypotheses: a within-client effect with a bootstrap interval over clients. The "
             "feedback arrow is the effect of one session's engagement on the next session's alliance."]
    table = result.table
    paras += [f"Not estimated: {r['hypothesis']}: {r['note']}" for _, r in table[table["model"] == "not fitted"]
              .iterrows()]
    return Section(step.id, section_title(step), paragraphs=paras,
                   figures=[Figure(diagram.to_svg(title="Cyclical SDT model"),
                                   caption="Within-client estimates on the arrows; intervals in the table.")],
                   tables=[Table("cycle_paths", "Cyclical model: one hypothesis per arrow",
                                 table.reset_index(drop=True), conf_level=result.conf_level, show=_HYPOTHESIS_SHOWN)])


def _draw_hypotheses(step, syntax) -> Section:
    result = step.results["hypotheses"]
    return Section(step.id, section_title(step), paragraphs=[
        "Each claim of the review and its estimate with its interval (bootstrap or Monte Carlo); 'supported' "
        "means the interval lies above zero. Hypotheses whose roles are not mapped to columns are listed with a "
        "note. The model behind each estimate, its standard error and z statistic are in the table's files."],
        tables=[Table("hypotheses", "Hypothesis tests", result.table.reset_index(drop=True),
                      conf_level=result.conf_level, show=_HYPOTHESIS_SHOWN)])


def _draw_dynamics(step, syntax) -> Section:
    r, column, level = step.results, step.options.get("column", "alliance"), step.conf_level
    paras: list[str] = []
    tables: list[Table] = []
    figures: list[Figure] = []
    if "ruptures" in r:
        paras += r["ruptures"].summary().splitlines()
        # one row per client is for the files; the page shows the events
        tables += [replace(t, max_rows=0) if t.name.endswith("_clients") else t
                   for t in result_tables("ruptures", "Ruptures", r["ruptures"], attrs=("events", "clients"))]
    if "variability" in r:
        tables.append(Table("variability", f"Variability of {column} per client", r["variability"], max_rows=10))
    if "sudden_gains" in r:
        paras += r["sudden_gains"].summary().splitlines()
        tables += result_tables("sudden_gains", "Sudden gains", r["sudden_gains"], attrs=("events",))
    if "level_variability_repair" in r:
        lvr = r["level_variability_repair"]
        paras.append(f"Level vs variability vs repaired ruptures of {column} (Q4): outcome model on "
                     f"{lvr.outcome_fit['n']} clients, R² = {lvr.outcome_fit['r2']:.3f}.")
        tables += result_tables("level_variability_repair", "Level, variability and repair: outcome", lvr,
                                attrs=("outcome_params",), conf_level=lvr.conf_level)
        if lvr.retention is not None:
            tables += result_tables("level_variability_repair_retention",
                                    "Level, variability and repair: retention", lvr.retention, attrs=("params",),
                                    conf_level=lvr.conf_level)
    if "dropout" in r:
        res = r["dropout"]
        paras += list(res.notes)
        tables += result_tables("dropout", f"Time to dropout ({res.method}; {res.ratio_name} in 'ratio')", res,
                                attrs=("params",), conf_level=res.conf_level)
    if "retention" in r:
        split = step.options.get("km_split", "median")
        figures.append(Figure(retention_plot(r["retention"], title=f"Retention by early {column} (Kaplan–Meier)",
                                             figure_id="km"),
                              caption=f"Clients grouped by their mean {column} in sessions 1–2 ({split} split)."))
        tables.append(Table("kaplan_meier", "Kaplan–Meier retention", r["retention"].reset_index(drop=True),
                            max_rows=0, conf_level=level))
    return Section(step.id, section_title(step), paragraphs=paras + list(step.notes), tables=tables,
                   figures=figures)


def _draw_power(step, syntax) -> Section:
    table, targets = step.results["table"], step.results["targets"]
    figures = [Figure(power_curve_svg(table, target=t),
                      caption=f"Power for {t}: one line per number of sessions; bars ±1.96 Monte Carlo SE; "
                              "dashed line at 0.80.") for t in targets]
    cols = [c for c in ("n_clients", "n_sessions", "target", "truth", "power", "power_mcse", "bias", "rmse",
                        "coverage", "failed_share", "improper_share") if c in table.columns]
    return Section(step.id, section_title(step), paragraphs=[
        "Monte Carlo power, bias, RMSE and CI coverage per sample size (Morris, White & Crowther 2019); "
        "non-converged and improper replications are counted, not dropped."],
        figures=figures, tables=[Table("power", "Power by sample size", table[cols], digits=3)])


def _matplotlib_figure(fig, caption: str, figure_id: str, fallback: Callable[[], str] | None = None) -> Figure:
    """A figure of :mod:`allianceStats.plots` as inline SVG, after :func:`~allianceStats.plots.label_collisions`.

    A figure with overlapping, clipped or too small text is replaced by ``fallback()`` (the report's own SVG of the
    same data) when there is one; otherwise it is kept and its caption lists the problems.
    """
    import matplotlib.pyplot as plt

    from ..plots import label_collisions

    try:
        problems = label_collisions(fig)
        if problems and fallback is not None:
            return Figure(fallback(), caption=caption)
        if problems:
            caption += " (Legibility: " + "; ".join(problems[:3]) + ".)"
        return Figure(figure_to_svg(fig, figure_id=figure_id), caption=caption)
    finally:
        plt.close(fig)


#: what the ratio of a GLMM's exponentiated coefficient is called, by link
_RATIO_NAMES = {"logit": "odds ratio", "log": "rate ratio", "cloglog": "hazard ratio (discrete time)"}


def _draw_glmm(step, syntax) -> Section:
    fit, opts, name = step.results["fit"], step.options, step.name
    method = "Laplace approximation" if fit.n_agq == 1 else f"adaptive Gauss-Hermite quadrature ({fit.n_agq} points)"
    paras = [f"Formula: {opts['formula']}",
             f"{fit.family} family, {fit.link} link; maximum likelihood ({method}) on {fit.n_obs} sessions"
             + (f" ({fit.n_dropped} with a missing value left out)" if fit.n_dropped else "")
             + f"; converged: {fit.converged}; singular: {fit.singular}; AIC {fit.aic:.2f}."]
    if opts.get("derive"):
        paras.append("Derived first: " + "; ".join(f"{k} = {v}" for k, v in opts["derive"].items()) + ".")
    if opts.get("decompose"):
        paras.append("Decomposition (Curran & Bauer 2011): x_within = x − client mean (state-like); x_between = "
                     "client mean" + (" − therapist mean" if step.results.get("therapist_part") else "")
                     + " (trait-like). The coefficients are conditional on the random effects: they compare sessions "
                     "of the same client (within) or clients with the same random effects (between).")
    tables = result_tables(f"glmm_{name}", name, fit, attrs=("params", "varcomp"), conf_level=fit.conf_level)
    ratio = _RATIO_NAMES.get(fit.link)
    if ratio:
        ratios = fit.ratios().rename(columns={"ratio": "estimate"})
        tables.insert(1, Table(f"glmm_{name}_ratios", f"{name}: {ratio}s (exp of the coefficients)", ratios,
                               conf_level=fit.conf_level, note=f"Estimate = {ratio}; the interval is the exponentiated "
                                                               "Wald interval of the coefficient."))
    if getattr(fit, "zi_params", None) is not None and len(fit.zi_params):
        tables += result_tables(f"glmm_{name}", name, fit, attrs=("zi_params",), conf_level=fit.conf_level)
    return Section(step.id, section_title(step), paragraphs=paras, tables=tables)


def _draw_cox(step, syntax) -> Section:
    fit, opts, name = step.results["fit"], step.options, step.name
    paras = [f"Formula: {opts['formula']}",
             f"Cox proportional hazards model (Cox 1972; counting-process intervals, Andersen & Gill 1982) on "
             f"{fit.n_obs} intervals of {fit.n_clients} clients with {fit.n_events} events; ties: {fit.ties}; "
             + ("robust (Lin-Wei) standard errors clustered by client, as coxph(cluster = client)." if fit.robust
                else "model-based standard errors."),
             "Time-varying covariates are measured at the start of each interval (the last session before it), so "
             "nothing measured after an interval describes it (no look-ahead): v = current, v_lag1 = the session "
             "before, v_cummean = mean so far, v_within = current − mean so far."]
    paras += list(step.notes)
    params = fit.params
    shown = ("term", "estimate", "std_error", "statistic", "p_value", "ci_lower", "ci_upper")
    hr = params[["term", "hazard_ratio", "hazard_ratio_ci_lower", "hazard_ratio_ci_upper"]].rename(columns={
        "hazard_ratio": "estimate", "hazard_ratio_ci_lower": "ci_lower", "hazard_ratio_ci_upper": "ci_upper"})
    tables = [Table(f"cox_{name}_params", f"{name}: log hazard ratios", params.reset_index(drop=True),
                    conf_level=fit.conf_level, show=shown),
              Table(f"cox_{name}_hazard_ratios", f"{name}: hazard ratios", hr.reset_index(drop=True),
                    conf_level=fit.conf_level, note="Estimate = hazard ratio per unit of the covariate."),
              Table(f"cox_{name}_tests", f"{name}: global tests", fit.tests.reset_index(drop=True), digits=3)]
    figures = []
    curve = step.results.get("curve")
    if curve is not None:
        from ..plots import plot_survival

        table = curve.table

        def fallback() -> str:
            return retention_plot(table, title="Event-free (Kaplan–Meier)", figure_id=f"km-{name}")

        figures.append(_matplotlib_figure(
            plot_survival(curve, ylabel="Event-free (survival probability)", title="Kaplan–Meier"),
            "Kaplan–Meier curve of the time to the event, with its confidence band, censoring marks (+) and the "
            "numbers at risk.", f"km-{name}", fallback))
    return Section(step.id, section_title(step), paragraphs=paras, figures=figures, tables=tables)


def _draw_sequences(step, syntax) -> Section:
    from ..plots import plot_transitions

    res = step.results["result"]
    mode = "time-based" if res.window is not None else "event-based"
    tallied = (f"{res.n_transitions} transitions at lag {res.lag}" if res.window is None else
               f"{res.n_transitions} time units, window of {res.window:g} s after each given event")
    paras = [f"Data: {step.results['source']}; {step.results['n_events']} coded events in {res.n_sessions} "
             f"session(s), {tallied} ({mode}).",
             f"Likelihood-ratio test of independence: χ²({res.df:g}) = {res.chisq:.2f}, p "
             + ("< .001" if res.p_value < 0.001 else f"= {res.p_value:.3f}")
             + (" (time units are not independent, so this p is approximate and tends to be too small)"
                if res.window is not None else "")
             + (f"; permutation p = {res.p_permutation:.3f} (Monte Carlo SE {res.p_permutation_mc_se:.3f}; "
                f"{res.n_draws} {res.permutation_draws})"
                if res.p_permutation is not None else "") + ".",
             "Adjusted residuals (Allison & Liker 1982; Bakeman & Quera 2011) compare each transition's count with "
             "its count under independence; |z| > 1.96 marks a transition more (red) or less (blue) frequent than "
             "chance. Transitions are pooled over sessions, which treats them as independent: Yule's Q per session "
             "(per_session = true) or a multilevel lag model is the safer test."]
    figures = [_matplotlib_figure(plot_transitions(res, title="Adjusted residuals (given → target)"),
                                  "Lag-sequential heat map: rows are the given code, columns the code that "
                                  "follows; * marks |z| above the two-sided 5% critical value.", "lag-heat")]
    shown = ("given", "target", "observed", "expected", "transitional_probability", "adjusted_residual", "yules_q",
             "p_value")
    tables = [Table("sequences_transitions", "Transitions: observed, expected, adjusted residuals, Yule's Q",
                    res.table.reset_index(drop=True), conf_level=res.conf_level, show=shown, max_rows=0)]
    if res.session_summary is not None:
        of = "" if res.window is None else " (each session's 2 × 2 time-unit tables)"
        tables.append(Table("sequences_sessions", f"Yule's Q per session{of}, summarised across sessions",
                            res.session_summary.reset_index(drop=True), conf_level=res.conf_level))
    return Section(step.id, section_title(step), paragraphs=paras, figures=figures, tables=tables)


def _draw_synchrony(step, syntax) -> Section:
    r = step.results
    s = r["settings"]
    scale = "Fisher z" if s["fisher_z"] else "r"
    paras = [f"Data: {r['source']}; signals {r['x']} and {r['y']}.",
             f"Windowed lagged cross-correlation (Boker et al. 2002; rMEA's definitions): windows of "
             f"{s['window_seconds']:g} s every {s['step_seconds']:g} s, lags up to ±{s['lag_seconds']:g} s, "
             f"averaged as {'absolute ' if s['absolute'] else ''}{scale}. Positive lags: {r['y']} follows {r['x']}."]
    fig = synchrony_plot(r["windows"], label=f"synchrony ({'|' + scale + '|' if s['absolute'] else scale})",
                         return_figure=True)
    figures = [_matplotlib_figure(fig, "Synchrony in each window over the session: one grey line per session, the "
                                       "mean of all sessions in black.", "sync")]
    tables = [Table("synchrony_sessions", "Synchrony per session", r["table"].reset_index(drop=True), digits=3)]
    return Section(step.id, section_title(step), paragraphs=paras, figures=figures, tables=tables)


def _draw_invariance(step, syntax) -> Section:
    res, opts, name = step.results["result"], step.options, step.name
    where = (f"across the groups of {res.group} ({', '.join(map(str, res.group_labels))})" if res.group
             else f"across sessions {', '.join(map(str, res.waves))} of the same clients")
    paras = [f"Model: {opts['model']}", f"Invariance {where}; {res.method}; n = {res.n_obs}.",
             "Each step adds equality constraints to the one before (configural → thresholds → metric: "
             "loadings → scalar: intercepts → strict: residual variances; Meredith 1993) and is tested against "
             "it. A step is usually retained when its test is not significant, CFI drops by no more than .01 "
             "(Cheung & Rensvold 2002) and RMSEA rises by less than .015 (Chen 2007)."]
    table = res.table
    for _, row in table.iloc[1:].iterrows():
        held = (row["p_value"] >= 0.05 and row["delta_cfi"] >= -0.01 and row["delta_rmsea"] < 0.015)
        paras.append(f"{row['step']}: Δχ²({row['df_diff']:g}) = {row['chisq_diff']:.2f}, p = {row['p_value']:.3f}, "
                     f"ΔCFI = {row['delta_cfi']:.3f}, ΔRMSEA = {row['delta_rmsea']:.3f} — "
                     + ("retained." if held else "not retained: compare latent means only after freeing the "
                        "parameters that differ (partial invariance)."))
    for s in table["step"]:
        syntax[f"invariance {name} ({s})"] = res.to_lavaan(s)
    shown = [c for c in ("step", "chisq", "df", "cfi", "rmsea", "srmr", "chisq_diff", "df_diff", "p_value",
                         "delta_cfi", "delta_rmsea", "converged") if c in table.columns]
    return Section(step.id, section_title(step), paragraphs=paras,
                   tables=[Table(f"invariance_{name}_steps", f"{name}: invariance steps", table.reset_index(drop=True),
                                 digits=3, show=tuple(shown))])


DRAWERS: dict[str, Callable[[Any, dict[str, str]], Section]] = {
    "describe": _draw_describe, "icc": _draw_icc, "trajectories": _draw_trajectories, "mlm": _draw_mlm,
    "riclpm": _draw_riclpm, "mediation": _draw_mediation, "multilevel_mediation": _draw_multilevel_mediation,
    "wave_mediation": _draw_wave_mediation, "cycle": _draw_cycle, "hypotheses": _draw_hypotheses,
    "dynamics": _draw_dynamics, "power": _draw_power, "glmm": _draw_glmm, "cox": _draw_cox,
    "sequences": _draw_sequences, "synchrony": _draw_synchrony, "invariance": _draw_invariance,
}


def _papers(step) -> list[tuple[str, Any]]:
    """The results of a step written as APA tables for papers (``to_table``), with their file stems."""
    r, name = step.results, step.name
    if step.kind in ("mlm", "glmm", "cox", "mediation", "multilevel_mediation", "wave_mediation"):
        return [(f"{step.kind}_{name}", r["fit"])]
    if step.kind == "riclpm":
        return [(k, r[k]) for k in ("riclpm", "clpm") if r.get(k) is not None]
    if step.kind == "invariance":
        return [(f"invariance_{name}", r["result"])]
    if step.kind == "sequences":
        return [("sequences", r["result"])]
    if step.kind == "dynamics" and "dropout" in r:
        return [("dropout", r["dropout"])]
    return []


def draw_step(step: StepLike, syntax: dict[str, str] | None = None) -> Section:
    """The report section of one step: drawn from its results, or a visible failure with the reason.

    Warnings raised while fitting become the section's note. A result that cannot be drawn (an attribute
    missing, a figure refused by the SVG check, a table that cannot be formatted) is reported as a failed
    section, never as a crash of the whole report; a skipped step is a skipped section with its reason.

    Parameters
    ----------
    step : StepLike
        One :class:`allianceStats.analysis.StepOutcome`.
    syntax : dict, optional
        Receives the lavaan syntax of the step's SEM-family models, by name (for the provenance footer).

    Returns
    -------
    Section

    Examples
    --------
    >>> from types import SimpleNamespace
    >>> step = SimpleNamespace(kind="icc", name="", id="icc", options={}, seed=1, results={}, status="failed",
    ...                        error="SchemaError: column 'x' is not in the data", notes=(), warnings=(),
    ...                        conf_level=0.95)
    >>> section = draw_step(step)
    >>> section.status, section.note
    ('failed', "SchemaError: column 'x' is not in the data")
    """
    title = section_title(step)
    if step.status == "skipped":
        return Section.skipped(step.id, title, step.error)
    if step.status != "ok":
        return Section.failed(step.id, title, step.error)
    collected: dict[str, str] = {}
    try:
        section = DRAWERS[step.kind](step, collected)
        for table in section.tables:
            table.display  # noqa: B018 - a table that cannot be formatted fails its own section here
        section.papers = _papers(step)
    except Exception as err:  # noqa: BLE001 - one section that cannot be drawn leaves the others
        return Section.failed(step.id, title, f"the results could not be drawn: {type(err).__name__}: {err}")
    if syntax is not None:
        syntax.update(collected)
    if step.warnings:
        section.note = " ".join(filter(None, [section.note, "Warnings: " + " | ".join(step.warnings)]))
    return section


def build_report(run: RunLike) -> Report:
    """The :class:`~allianceStats.report.render.Report` of an analysis run: one section per step, provenance.

    Parameters
    ----------
    run : the value of :func:`allianceStats.analysis.run_analysis` (title, steps, provenance).

    Returns
    -------
    Report
        Render it with :func:`~allianceStats.report.render.render_html` or write it with
        :func:`~allianceStats.report.render.write_report`. Its provenance adds ``syntax``: the lavaan syntax of
        every SEM-family model in the report, by name, and ``lock``: the installed versions of the key packages
        against ``requirements.lock`` (:func:`~allianceStats.report.provenance.lock_status`).

    Examples
    --------
    >>> from allianceStats.analysis import parse_analysis, run_analysis
    >>> run = run_analysis(parse_analysis({"title": "Demo", "seed": 3, "data": {"path": "example"},
    ...                                    "describe": {}}))
    >>> report = build_report(run)
    >>> [s.status for s in report.sections], report.provenance["seed"]
    (['ok'], 3)
    """
    syntax: dict[str, str] = {}
    sections = [draw_step(step, syntax) for step in run.steps]
    provenance = {**run.provenance, "syntax": syntax}
    if "lock" not in provenance:
        provenance["lock"] = lock_status()
    models, not_reproduced = reproducible(run.steps, sections)
    return Report(run.title, sections, provenance, reproduce=models, not_reproduced=not_reproduced)


def reproducible(steps: Sequence[StepLike], sections: Sequence[Section]) -> tuple[list[RModel], dict[str, str]]:
    """The R refits of the computed steps (:mod:`allianceStats.report.reproduce`), with unique file names, and
    the steps the R script leaves out, with the reason.

    Parameters
    ----------
    steps : sequence of StepLike
        The steps of the run.
    sections : sequence of Section
        Their sections (a step whose section could not be drawn is not refitted either).

    Returns
    -------
    (list of RModel, dict)

    Examples
    --------
    >>> from types import SimpleNamespace
    >>> step = SimpleNamespace(kind="icc", name="", id="icc", status="ok", options={}, results={})
    >>> reproducible([step], [Section("icc", "ICC")])
    ([], {'icc': 'empty lmer models: the mixed-model calls above show the form'})
    """
    models: list[RModel] = []
    skipped: dict[str, str] = {}
    for step, section in zip(steps, sections):
        if section.status != "ok":
            skipped[step.id] = f"not computed ({section.status})"
            continue
        if step.kind in NOT_IN_R:
            skipped[step.id] = NOT_IN_R[step.kind]
            continue
        try:
            models += step_models(step)
        except Exception as err:  # noqa: BLE001 - one model that cannot be written leaves the others
            skipped[step.id] = f"its R call could not be written: {type(err).__name__}: {err}"
    names = unique_names([m.name for m in models])
    shared = [m.data_file for m in models if m.data_file]
    files = dict(zip(dict.fromkeys(shared), unique_names(list(dict.fromkeys(shared)), taken=set(names))))
    return [replace(m, name=n, data_file=files.get(m.data_file, "")) for m, n in zip(models, names)], skipped
