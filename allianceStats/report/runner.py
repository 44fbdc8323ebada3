"""Run an analysis file (TOML) and assemble the report: the one place where the report calls estimation.

An *analysis file* names the data, the column mapping, the seed and the analyses to run. Every analysis
is one guarded step that calls the public API (``allianceStats.fit_mlm``, ``icc``, ``fit_riclpm``,
``mediation``, ``detect_ruptures`` …) and turns its result into a report :class:`Section`. A step whose
function is not available (module not installed or not yet written) becomes a *skipped* section with
the reason; a step that raises becomes a *failed* section with the error message — the rest of the
report is still written. Warnings raised by a step (e.g. ``ConvergenceWarning``) are shown in its section.

Same file + same data + same seed → the same numbers: each step gets the seed ``seed + 1000·k`` (``k`` its
position in the report, fixed by the file; the j-th mediation of a step adds ``j``), and tables are written at full precision with
deterministic formatting.

File format (all tables optional except ``[data]``; relative paths are relative to the TOML file)::

    title = "My study"
    seed = 2025
    [data]
    path = "sessions.csv"        # CSV or Parquet; "example" = the bundled example data
    columns = { ID = "client", WAI = "alliance" }   # user's names -> schema roles (read_sessions)
    [describe]
    [icc]
    measures = ["alliance", "outcome"]
    [trajectories]
    measures = ["alliance", "outcome"]
    [[mlm]]
    name = "alliance_outcome"
    formula = "outcome ~ alliance_within_lag1 + alliance_between + session0 + (1 | client)"
    decompose = ["alliance"]
    [riclpm]
    variables = ["alliance", "outcome"]
    options = { waves = [1, 2, 3, 4, 5] }   # passed to fit_riclpm / fit_clpm as keywords
    clpm = true                   # also fit the CLPM and show the comparison
    [[mediation]]
    name = "needs"
    x = "alliance"
    mediators = ["autonomy", "competence", "relatedness"]
    y = "motivation"
    unit = "client"               # "client": client means; "session": sessions, clusters = clients
    options = { n_boot = 2000 }
    [cycle]
    [hypotheses]
    mapping = { alliance = "alliance", empathic_attunement = "empathy" }   # registry roles -> columns
    [dynamics]
    column = "alliance"

Example
-------
>>> spec = parse_analysis({"title": "t", "seed": 1, "data": {"path": "example"}, "describe": {}})
>>> spec.steps, spec.seed
(['describe'], 1)
"""
from __future__ import annotations

import importlib
import math
import tomllib
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..errors import AllianceStatsError
from ..results import data_sha256, package_versions
from .diagrams import cycle_diagram, mediation_diagram, riclpm_diagram
from .figures import retention_plot, trajectory_plot
from .power_curve import power_curve_svg
from .render import Figure, Report, Section, Table

#: analysis kinds in report order; a file lists any subset
#: the analysis file behind ``alliance-stats demo``
DEMO_ANALYSIS = Path(__file__).resolve().parent / "demo_analysis.toml"
STEP_ORDER = ["describe", "icc", "trajectories", "mlm", "riclpm", "mediation", "cycle", "hypotheses", "dynamics",
              "power"]
_LIST_STEPS = {"mlm", "mediation"}
#: the options each step understands (``options`` tables are passed to the estimation function as keywords)
STEP_KEYS = {
    "describe": set(),
    "icc": {"measures", "therapist"},
    "trajectories": {"measures", "max_clients"},
    "mlm": {"name", "title", "formula", "decompose", "therapist", "reml"},
    "riclpm": {"variables", "options", "clpm"},
    "mediation": {"name", "title", "x", "mediators", "y", "covariates", "serial", "unit", "options"},
    "cycle": {"behaviours", "alliance", "needs", "motivation", "engagement"},
    "hypotheses": {"mapping", "options"},
    "dynamics": {"column", "ruptures", "variability", "dropout", "dropout_predictors", "km_split"},
    "power": {"table", "targets"},
}
_REQUIRED = {"mlm": {"formula"}, "mediation": {"x", "mediators", "y"}, "power": {"table"}}
DEFAULT_TITLE = "allianceStats report"


class Unavailable(Exception):
    """A public function the step needs is not importable (its module is absent or not yet written)."""


@dataclass(frozen=True)
class AnalysisSpec:
    """A parsed analysis file: data source, column mapping, seed and the options of each step."""

    title: str
    seed: int
    data_path: str
    columns: dict[str, str]
    options: dict[str, Any]
    base_dir: Path = Path(".")
    source: str = "<dict>"
    steps: list[str] = field(default_factory=list)


def parse_analysis(raw: dict[str, Any], *, base_dir: Path | str = ".", source: str = "<dict>") -> AnalysisSpec:
    """Check an analysis mapping (as read from TOML) and return an :class:`AnalysisSpec`.

    Unknown top-level keys are an error that lists the valid ones (a typo must not silently drop an
    analysis).

    >>> parse_analysis({"data": {"path": "x.csv"}, "bogus": {}})
    Traceback (most recent call last):
    ...
    allianceStats.errors.AllianceStatsError: analysis file <dict>: unknown key 'bogus'; valid keys: title, seed, data, describe, icc, trajectories, mlm, riclpm, mediation, cycle, hypotheses, dynamics, power.
    """
    valid = ["title", "seed", "data", *STEP_ORDER]
    problems = [f"unknown key {k!r}" for k in raw if k not in valid]
    if problems:
        raise AllianceStatsError(f"analysis file {source}: {'; '.join(problems)}; valid keys: {', '.join(valid)}.")
    data = raw.get("data")
    if not isinstance(data, dict) or not isinstance(data.get("path"), str):
        raise AllianceStatsError(
            f"analysis file {source}: a [data] table with a 'path' (a CSV/Parquet file, or \"example\") is "
            "required, e.g.\n[data]\npath = \"sessions.csv\"")
    seed = raw.get("seed", 0)
    if not isinstance(seed, int) or isinstance(seed, bool) or seed < 0:
        raise AllianceStatsError(f"analysis file {source}: 'seed' must be a non-negative integer; got {seed!r}.")
    columns = data.get("columns", {})
    if not isinstance(columns, dict) or not all(isinstance(v, str) for v in columns.values()):
        raise AllianceStatsError(f"analysis file {source}: [data] columns must map column names to role names "
                                 f"(strings); got {columns!r}.")
    options: dict[str, Any] = {}
    for step in STEP_ORDER:
        if step not in raw:
            continue
        value = raw[step]
        if step in _LIST_STEPS:
            value = [value] if isinstance(value, dict) else value
            if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
                raise AllianceStatsError(f"analysis file {source}: [[{step}]] must be one or more tables.")
        elif not isinstance(value, dict):
            raise AllianceStatsError(f"analysis file {source}: [{step}] must be a table; got {value!r}.")
        for k, table in enumerate(value if isinstance(value, list) else [value]):
            where = f"[[{step}]] number {k + 1}" if step in _LIST_STEPS else f"[{step}]"
            unknown = sorted(set(table) - STEP_KEYS[step])
            if unknown:
                problems.append(f"{where}: unknown option(s) {', '.join(map(repr, unknown))}; valid: "
                                f"{', '.join(sorted(STEP_KEYS[step])) or '(none)'}")
            missing = sorted(_REQUIRED.get(step, set()) - set(table))
            if missing:
                problems.append(f"{where}: missing required option(s) {', '.join(map(repr, missing))}")
        options[step] = value
    if problems:
        raise AllianceStatsError(f"analysis file {source}:\n" + "\n".join(f"  - {p}" for p in problems))
    return AnalysisSpec(title=str(raw.get("title", DEFAULT_TITLE)), seed=seed, data_path=data["path"],
                        columns=dict(columns), options=options, base_dir=Path(base_dir), source=source,
                        steps=[s for s in STEP_ORDER if s in options])


def load_analysis(path: str | Path) -> AnalysisSpec:
    """Read and check an analysis TOML file (see the module docstring for its format).

    >>> from allianceStats.report.runner import DEMO_ANALYSIS
    >>> spec = load_analysis(DEMO_ANALYSIS)
    >>> spec.data_path, spec.steps[:3]
    ('example', ['describe', 'icc', 'trajectories'])
    """
    path = Path(path)
    if not path.is_file():
        raise AllianceStatsError(f"analysis file not found: {path}.")
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as err:
        raise AllianceStatsError(f"analysis file {path} is not valid TOML: {err}.") from None
    return parse_analysis(raw, base_dir=path.resolve().parent, source=str(path))


def load_data(spec: AnalysisSpec) -> pd.DataFrame:
    """The validated session table named by the spec (``"example"`` = the bundled example data).

    >>> spec = parse_analysis({"data": {"path": "example"}})
    >>> load_data(spec)["client"].nunique()
    200
    """
    import allianceStats as als

    if spec.data_path == "example":
        return als.load_example()
    path = Path(spec.data_path)
    if not path.is_absolute():
        path = spec.base_dir / path
    with warnings.catch_warnings():
        warnings.simplefilter("default")
        return als.read_sessions(path, columns=spec.columns or None)


def api(name: str):
    """The public function ``allianceStats.<name>``, or :class:`Unavailable` saying which module is missing.

    >>> api("decompose").__name__
    'decompose'
    >>> api("no_such_function")
    Traceback (most recent call last):
    ...
    allianceStats.report.runner.Unavailable: allianceStats.no_such_function.no_such_function is not available (AttributeError: module 'allianceStats' has no attribute 'no_such_function')
    """
    import allianceStats as als

    try:
        return getattr(als, name)
    except (ImportError, AttributeError) as err:
        module = als._LAZY.get(name, f"allianceStats.{name}")
        raise Unavailable(f"{module}.{name} is not available ({type(err).__name__}: {err})") from None


def _frame(obj) -> pd.DataFrame | None:
    if isinstance(obj, pd.DataFrame):
        return obj
    if isinstance(obj, pd.Series):
        return obj.rename("value").rename_axis("measure").reset_index()
    if isinstance(obj, dict) and obj and all(np.isscalar(v) or v is None for v in obj.values()):
        return pd.DataFrame({"measure": list(obj), "value": list(obj.values())})
    return None


def result_tables(name: str, title: str, result, attrs=("params", "effects", "paths", "varcomp", "fit")) -> list[Table]:
    """Tables for every tidy DataFrame attribute of a result (``params``, ``effects``, ``varcomp`` …).

    >>> import pandas as pd
    >>> from types import SimpleNamespace
    >>> res = SimpleNamespace(params=pd.DataFrame({"term": ["x"], "estimate": [0.5]}), fit={"aic": 10.0})
    >>> [t.name for t in result_tables("m", "Model", res)]
    ['m_params', 'm_fit']
    """
    if isinstance(result, pd.DataFrame):
        return [Table(name, title, result)]
    level = getattr(result, "level", 0.95)
    level = level if isinstance(level, float) else 0.95
    out = []
    for attr in attrs:
        frame = _frame(getattr(result, attr, None))
        if frame is not None and len(frame):
            out.append(Table(f"{name}_{attr}", f"{title}: {attr}", frame.reset_index(drop=True), level=level))
    return out


def _columns_present(data: pd.DataFrame, wanted, default) -> list[str]:
    cols = list(wanted) if wanted is not None else [c for c in default if c in data.columns]
    missing = [c for c in cols if c not in data.columns]
    if missing:
        raise AllianceStatsError(f"column(s) {missing} not in the data; available: {', '.join(map(str, data.columns))}.")
    return cols


def _therapist(data: pd.DataFrame) -> str | None:
    return "therapist" if "therapist" in data.columns else None


# -- steps -------------------------------------------------------------------------------------------------
def _step_describe(data, opts, seed, ctx) -> list[Section]:
    desc = api("describe")(data)
    overview = desc.overview.rename_axis("quantity").reset_index()
    measures = desc.measures.rename_axis("measure").reset_index()
    return [Section("describe", "Data summary", paragraphs=[
        "Design counts, attendance, dropout and missingness of the validated session table."],
        tables=[Table("design", "Design and dropout", overview, digits=3),
                Table("measures", "Measures: missingness and distribution", measures)])]


def _step_icc(data, opts, seed, ctx) -> list[Section]:
    icc = api("icc")
    measures = _columns_present(data, opts.get("measures"), ["alliance", "outcome", "needs", "motivation"])
    frames = []
    for m in measures:
        t = icc(data, m, therapist=opts.get("therapist", _therapist(data)) or None)
        frames.append(t.assign(measure=m)[["measure", *[c for c in t.columns if c != "measure"]]])
    table = pd.concat(frames, ignore_index=True)
    # one row per measure for reading; the long table (with variances) goes to the CSV beside it
    wide = table.pivot(index="measure", columns="level", values="icc").reindex(measures)
    wide = wide[[c for c in ("therapist", "client", "same_client", "residual") if c in wide.columns]]
    wide = wide.rename(columns=lambda c: f"icc_{c}").rename_axis(None, axis=1).reset_index()
    definitions = "; ".join(dict.fromkeys(f"{lv}: {d}" for lv, d in zip(table["level"], table["definition"])))
    return [Section("icc", "Intraclass correlations", paragraphs=[
        "Shares of variance between therapists, between clients and within clients (sessions), from "
        "empty mixed models (REML)."],
        tables=[Table("icc", "Intraclass correlations by measure", wide, digits=3, note=definitions),
                Table("icc_long", "Intraclass correlations with variance components", table, digits=3,
                      max_rows=0)])]


def _step_trajectories(data, opts, seed, ctx) -> list[Section]:
    measures = _columns_present(data, opts.get("measures"), ["alliance", "outcome"])
    figs = [Figure(trajectory_plot(data, m, max_clients=int(opts.get("max_clients", 80)), seed=seed,
                                   figure_id=f"traj-{k}"),
                   caption=f"{m} by session: clients in grey, mean of all observed clients in black.")
            for k, m in enumerate(measures)]
    return [Section("trajectories", "Trajectories", figures=figs)]


def _step_mlm(data, specs, seed, ctx) -> list[Section]:
    fit_mlm, decompose = api("fit_mlm"), None
    sections = []
    for k, spec in enumerate(specs):
        name = str(spec.get("name", f"mlm{k + 1}"))
        title = f"Multilevel model: {spec.get('title', name)}"
        try:
            d = data
            if spec.get("decompose"):
                decompose = decompose or api("decompose")
                therapist = spec.get("therapist", _therapist(data)) or None  # false in the file: two levels
                d = decompose(data, list(spec["decompose"]), therapist=therapist)
            res = fit_mlm(spec["formula"], d, reml=bool(spec.get("reml", True)))
        except Unavailable as err:
            sections.append(Section.skipped(f"mlm-{name}", title, str(err)))
            continue
        except Exception as err:  # noqa: BLE001 - shown in the report
            sections.append(Section.failed(f"mlm-{name}", title, f"{type(err).__name__}: {err}"))
            continue
        paras = [f"Formula: {spec['formula']}",
                 f"{'REML' if getattr(res, 'reml', True) else 'ML'} fit on {getattr(res, 'nobs', '?')} sessions; "
                 f"converged: {getattr(res, 'converged', '?')}; singular: {getattr(res, 'singular', '?')}; "
                 f"AIC {getattr(res, 'aic', float('nan')):.2f}."]
        if spec.get("decompose") and "therapist" in d.columns and spec.get("therapist", "therapist"):
            paras.append("Decomposition (Curran & Bauer 2011; Baldwin, Wampold & Imel 2007): x_within = x − "
                         "client mean (state-like); x_between = client mean − therapist mean (trait-like); "
                         "x_therapist = mean of the therapist's client means; x_within_lag1 = previous "
                         "session's x_within.")
        elif spec.get("decompose"):
            paras.append("Decomposition (Curran & Bauer 2011): x_within = x − client mean (state-like); "
                         "x_between = client mean (trait-like); x_within_lag1 = previous session's x_within.")
        sections.append(Section(f"mlm-{name}", title, paragraphs=paras,
                                tables=result_tables(f"mlm_{name}", name, res, attrs=("params", "varcomp"))))
    return sections


def _step_riclpm(data, opts, seed, ctx) -> list[Section]:
    fit_riclpm = api("fit_riclpm")
    variables = list(opts.get("variables", ["alliance", "outcome"]))
    kwargs = dict(opts.get("options", {}))
    res = fit_riclpm(data, variables, **kwargs)
    tables = result_tables("riclpm", "RI-CLPM", res, attrs=("params", "fit"))
    figs = [Figure(riclpm_diagram(res.params, variables).to_svg(title="RI-CLPM path diagram"),
                   caption="RI-CLPM, within-person part: autoregressive (horizontal) and cross-lagged "
                           "(diagonal) paths, standardized.")]
    if hasattr(res, "to_lavaan"):
        ctx["syntax"]["RI-CLPM"] = res.to_lavaan()
    paras = [f"Random-intercept cross-lagged panel model of {', '.join(variables)} (Hamaker, Kuiper & "
             "Grasman 2015): stable between-client differences are separated from within-client dynamics."]
    if opts.get("clpm", False):
        try:
            clpm = api("fit_clpm")(data, variables, **kwargs)
            tables += result_tables("clpm", "CLPM", clpm, attrs=("params", "fit"))
            figs.append(Figure(riclpm_diagram(clpm.params, variables, prefix="").to_svg(title="CLPM path diagram"),
                               caption="CLPM for comparison: lagged paths between the observed scores, "
                                       "standardized (between- and within-client variance mixed)."))
            if hasattr(clpm, "to_lavaan"):
                ctx["syntax"]["CLPM"] = clpm.to_lavaan()
            try:
                panel = importlib.import_module("allianceStats.panel")
                if hasattr(panel, "compare_panel"):
                    comparison = panel.compare_panel(res, clpm, names=["RI-CLPM", "CLPM"])
                else:
                    comparison = api("compare")(res, clpm)
                tables.append(Table("clpm_vs_riclpm", "CLPM vs RI-CLPM (χ² difference test)",
                                    comparison.reset_index(drop=True)))
            except Exception as err:  # noqa: BLE001
                paras.append(f"CLPM vs RI-CLPM comparison not available: {type(err).__name__}: {err}")
        except Exception as err:  # noqa: BLE001
            paras.append(f"CLPM not fitted: {type(err).__name__}: {err}")
    return [Section("riclpm", "Cross-lagged panel models", paragraphs=paras, figures=figs, tables=tables)]


def _client_means(data: pd.DataFrame, cols: list[str]) -> pd.DataFrame:
    return data.groupby("client", sort=True)[cols].mean().reset_index()


def mediation_syntax(paths: pd.DataFrame, effects: pd.DataFrame | None = None) -> str:
    """lavaan syntax of a fitted path model (``paths``: ``label, lhs, op, rhs``) with its indirect effects.

    Regressions keep the fitted labels; each route ``"x -> m -> y"`` of ``effects`` becomes a ``:=``
    product of the labels along it, so ``lavaan::sem(syntax, data)`` re-fits the same model in R.

    >>> import pandas as pd
    >>> p = pd.DataFrame({"label": ["a1", "b1", "cp"], "lhs": ["m", "y", "y"], "op": ["~"] * 3,
    ...                   "rhs": ["x", "m", "x"]})
    >>> print(mediation_syntax(p, pd.DataFrame({"effect": ["x -> m -> y", "total indirect"]})))
    m ~ a1*x
    y ~ b1*m + cp*x
    ind1 := a1*b1
    total_indirect := ind1
    total := cp + total_indirect
    """
    reg = paths[paths["op"] == "~"]
    label_of = {(r.rhs, r.lhs): (r.label if isinstance(r.label, str) and r.label else "")
                for r in reg.itertuples(index=False)}
    lines = []
    for lhs, group in reg.groupby("lhs", sort=False):
        terms = [f"{r.label}*{r.rhs}" if isinstance(r.label, str) and r.label else str(r.rhs)
                 for r in group.itertuples(index=False)]
        lines.append(f"{lhs} ~ {' + '.join(terms)}")
    routes = [] if effects is None else [e for e in effects["effect"] if "->" in str(e)]
    names = []
    for k, route in enumerate(routes, 1):
        nodes = [n.strip() for n in str(route).split("->")]
        labels = [label_of.get((a, b), "") for a, b in zip(nodes[:-1], nodes[1:])]
        if all(labels):
            names.append(f"ind{k}")
            lines.append(f"ind{k} := {'*'.join(labels)}")
    if names:
        lines.append(f"total_indirect := {' + '.join(names)}")
        first = [n.strip() for n in str(routes[0]).split("->")]
        direct = label_of.get((first[0], first[-1]))
        if direct:
            lines.append(f"total := {direct} + total_indirect")
    return "\n".join(lines)


def _step_mediation(data, specs, seed, ctx) -> list[Section]:
    mediation = api("mediation")
    sections = []
    for k, spec in enumerate(specs):
        name = str(spec.get("name", f"mediation{k + 1}"))
        title = f"Mediation: {spec.get('title', name)}"
        try:
            x, y = spec["x"], spec["y"]
            mediators = [spec["mediators"]] if isinstance(spec["mediators"], str) else list(spec["mediators"])
            covariates = list(spec.get("covariates", []))
            kwargs = dict(spec.get("options", {}))
            cols = [x, *mediators, y, *covariates]
            unit = spec.get("unit", "client")
            if unit == "client":
                d = _client_means(data, cols)
            elif unit == "session":
                d, kwargs = data, {"cluster": "client", **kwargs}
            else:
                raise AllianceStatsError(f"[[mediation]] {name}: unit must be 'client' or 'session'; got {unit!r}.")
            res = mediation(d, x, mediators, y, covariates=covariates, serial=bool(spec.get("serial", False)),
                            seed=seed + k, **kwargs)
        except Unavailable as err:
            sections.append(Section.skipped(f"mediation-{name}", title, str(err)))
            continue
        except Exception as err:  # noqa: BLE001
            sections.append(Section.failed(f"mediation-{name}", title, f"{type(err).__name__}: {err}"))
            continue
        paths = res.paths if hasattr(res, "paths") else res
        if hasattr(res, "to_lavaan"):
            ctx["syntax"][f"mediation {name}"] = res.to_lavaan()
        elif {"label", "lhs", "op", "rhs"} <= set(paths.columns):
            ctx["syntax"][f"mediation {name}"] = mediation_syntax(paths, getattr(res, "effects", None))
        diagram = mediation_diagram(paths, x, mediators, y, serial=bool(spec.get("serial", False)),
                                    alpha=1 - getattr(res, "level", 0.95))
        what = "client means (one row per client)" if unit == "client" else "sessions, clients resampled"
        sections.append(Section(
            f"mediation-{name}", title,
            paragraphs=[f"{x} → {', '.join(mediators)} → {y}; data: {what}; seed {seed + k}."],
            figures=[Figure(diagram.to_svg(title=f"Mediation path diagram: {name}"),
                            caption=f"Path diagram: {spec.get('title', name)}.")],
            tables=result_tables(f"mediation_{name}", name, res, attrs=("effects", "paths"))))
    return sections


def _step_cycle(data, opts, seed, ctx) -> list[Section]:
    fit_mlm, decompose = api("fit_mlm"), api("decompose")
    behaviours = [b for b in opts.get("behaviours", ["empathy", "autonomy_support"]) if b in data.columns]
    alliance = opts.get("alliance", "alliance")
    needs = [n for n in opts.get("needs", ["autonomy", "competence", "relatedness"]) if n in data.columns]
    motivation, engagement = opts.get("motivation", "motivation"), opts.get("engagement", "engagement")
    cols = [c for c in dict.fromkeys([*behaviours, alliance, *needs, motivation, engagement]) if c in data.columns]
    d = decompose(data, cols)
    # one within-client model per arrow head: y ~ x_within + x_between + (1 | client)
    models = [(alliance, [(b, f"{b}_within", f"{b}_between") for b in behaviours])]
    models += [(n, [(alliance, f"{alliance}_within", f"{alliance}_between")]) for n in needs]
    models += [(motivation, [(n, f"{n}_within", f"{n}_between") for n in needs]),
               (engagement, [(motivation, f"{motivation}_within", f"{motivation}_between")]),
               (alliance, [(engagement, f"{engagement}_within_lag1", f"{engagement}_between")])]
    rows, failures = [], []
    for target, preds in models:
        if target not in d.columns or not preds or any(p[1] not in d.columns for p in preds):
            continue
        formula = f"{target} ~ {' + '.join(t for _, w, b in preds for t in (w, b))} + (1 | client)"
        try:
            res = fit_mlm(formula, d)
        except Exception as err:  # noqa: BLE001
            failures.append(f"{formula}: {type(err).__name__}: {err}")
            continue
        params = res.params.set_index("term")
        for source, within, _ in preds:
            r = params.loc[within]
            rows.append({"from": source, "to": target, "term": within, "estimate": r["estimate"],
                         "std_error": r["std_error"], "df": r.get("df", math.nan), "p_value": r["p_value"],
                         "ci_lower": r["ci_lower"], "ci_upper": r["ci_upper"], "model": formula})
    table = pd.DataFrame(rows, columns=["from", "to", "term", "estimate", "std_error", "df", "p_value",
                                        "ci_lower", "ci_upper", "model"])
    diagram = cycle_diagram(table, behaviours=behaviours, alliance=alliance, needs=needs,
                            motivation=motivation, engagement=engagement)
    paras = ["Each arrow is the within-client effect from a multilevel model of its head variable on the "
             "within-client part of its tail variable, controlling the tail's client mean (random intercept "
             "for client). The feedback arrow uses the previous session's engagement."]
    return [Section("cycle", "The cyclical model: behaviours → alliance → needs → motivation → engagement",
                    paragraphs=paras + [f"Not fitted: {f}" for f in failures],
                    figures=[Figure(diagram.to_svg(title="Cyclical SDT model"),
                                    caption="Within-client estimates on the arrows.")],
                    tables=[Table("cycle_paths", "Cyclical model: within-client paths", table)])]


def _step_hypotheses(data, opts, seed, ctx) -> list[Section]:
    test_hypotheses = api("test_hypotheses")
    kwargs = dict(opts.get("options", {}))
    mapping = opts.get("mapping")
    if not isinstance(mapping, dict):
        raise AllianceStatsError("[hypotheses] needs a 'mapping' table from the registry's roles to columns, "
                                 "e.g. mapping = { alliance = \"alliance\", empathic_attunement = \"empathy\" }.")
    result = test_hypotheses(data, mapping, seed=seed, **kwargs)
    table = _frame(result) if _frame(result) is not None else _frame(getattr(result, "table", None))
    if table is None:
        raise AllianceStatsError(f"test_hypotheses returned a {type(result).__name__}, not a table.")
    return [Section("hypotheses", "Hypotheses of the review: supported or not", paragraphs=[
        "Each claim of the review, the model that tests it and its estimate with a bootstrap interval; "
        "'supported' means the interval lies above zero. Hypotheses whose roles are not mapped to columns "
        "are listed with a note."],
        tables=[Table("hypotheses", "Hypothesis tests", table.reset_index(drop=True))])]


def _step_dynamics(data, opts, seed, ctx) -> list[Section]:
    column = opts.get("column", "alliance")
    split = opts.get("km_split", "median")

    def ruptures():
        res = api("detect_ruptures")(data, column, **opts.get("ruptures", {}))
        paras = res.summary().splitlines() if hasattr(res, "summary") else []
        tables = result_tables("ruptures", "Ruptures", res, attrs=("events", "clients"))
        # one row per client is for the files; the page shows the events
        return paras, [replace(t, max_rows=0) if t.name.endswith("_clients") else t for t in tables]

    def variability():
        res = api("variability")(data, column, **opts.get("variability", {}))
        frame = _frame(res) if _frame(res) is not None else _frame(getattr(res, "clients", None))
        return [], [Table("variability", f"Variability of {column} per client", frame, max_rows=10)] \
            if frame is not None else []

    def dropout():
        predictors = list(opts.get("dropout_predictors", [column]))  # default: the early level of `column`
        res = api("fit_dropout")(data, predictors=predictors, **opts.get("dropout", {}))
        what = f"Time to dropout ({getattr(res, 'method', '')}; {getattr(res, 'ratio_name', 'ratio')} in 'ratio')"
        return list(getattr(res, "notes", ())), result_tables("dropout", what, res, attrs=("params",))

    def retention():
        curves = api("kaplan_meier")(data, split=split, variable=column)
        figures.append(Figure(retention_plot(curves, title=f"Retention by early {column} (Kaplan–Meier)",
                                             figure_id="km"),
                              caption=f"Clients grouped by their mean {column} in sessions 1–2 ({split} split)."))
        return [], [Table("kaplan_meier", "Kaplan–Meier retention", curves.reset_index(drop=True), max_rows=0)]

    parts = [("ruptures", ruptures), ("variability", variability), ("dropout", dropout), ("retention", retention)]
    paras, tables, figures, unavailable = [], [], [], []
    for label, fn in parts:
        try:
            p, t = fn()
            paras += p
            tables += t
        except Unavailable as err:
            unavailable.append(str(err))
            paras.append(f"{label}: skipped — {err}")
        except Exception as err:  # noqa: BLE001 - one part failing leaves the others
            paras.append(f"{label}: could not be computed — {type(err).__name__}: {err}")
    title = f"Alliance dynamics: ruptures, variability, dropout ({column})"
    if len(unavailable) == len(parts):
        return [Section.skipped("dynamics", title, "; ".join(unavailable))]
    return [Section("dynamics", title, paragraphs=paras, tables=tables, figures=figures)]


def _step_power(data, opts, seed, ctx) -> list[Section]:
    """Power curves from the ``power_table.csv`` that ``alliance-stats power study.toml`` wrote (no estimation)."""
    path = Path(opts["table"])
    if not path.is_absolute():
        path = ctx.get("base_dir", Path(".")) / path
    if not path.is_file():
        raise AllianceStatsError(f"power table {path} not found; run `alliance-stats power <study.toml>` first "
                                 "(it writes power_table.csv in the study's out_dir).")
    table = pd.read_csv(path)
    targets = opts.get("targets") or list(dict.fromkeys(table["target"]))
    figures = [Figure(power_curve_svg(table, target=t),
                      caption=f"Power for {t}: one line per number of sessions; bars ±1.96 Monte Carlo SE; "
                              "dashed line at 0.80.") for t in targets]
    cols = [c for c in ("n_clients", "n_sessions", "target", "truth", "power", "power_mcse", "bias", "rmse",
                        "coverage", "failed_share", "improper_share") if c in table.columns]
    return [Section("power", "Power analysis", paragraphs=[
        "Monte Carlo power, bias, RMSE and CI coverage per sample size (Morris, White & Crowther 2019); "
        "non-converged and improper replications are counted, not dropped."],
        figures=figures, tables=[Table("power", "Power by sample size", table[cols], digits=3)])]


STEPS: dict[str, tuple[str, Callable]] = {
    "describe": ("Data summary", _step_describe),
    "icc": ("Intraclass correlations", _step_icc),
    "trajectories": ("Trajectories", _step_trajectories),
    "mlm": ("Multilevel models", _step_mlm),
    "riclpm": ("Cross-lagged panel models", _step_riclpm),
    "mediation": ("Mediation", _step_mediation),
    "cycle": ("The cyclical model", _step_cycle),
    "hypotheses": ("Hypotheses", _step_hypotheses),
    "dynamics": ("Alliance dynamics", _step_dynamics),
    "power": ("Power analysis", _step_power),
}


def run_step(step: str, data: pd.DataFrame, opts, seed: int, ctx: dict) -> list[Section]:
    """Run one step, guarded: unavailable → skipped section; error → failed section; warnings → notes.

    >>> import pandas as pd
    >>> d = pd.DataFrame({"client": ["a", "a"], "session": [1, 2], "alliance": [3.0, 3.5]})
    >>> [(s.id, s.status) for s in run_step("trajectories", d, {"measures": ["alliance"]}, 1, {})]
    [('trajectories', 'ok')]
    >>> run_step("trajectories", d, {"measures": ["nope"]}, 1, {})[0].status
    'failed'
    """
    title, fn = STEPS[step]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            sections = fn(data, opts, seed, ctx)
        except Unavailable as err:
            return [Section.skipped(step, title, str(err))]
        except Exception as err:  # noqa: BLE001 - the report shows the reason and goes on
            return [Section.failed(step, title, f"{type(err).__name__}: {err}")]
    notes = sorted({f"{w.category.__name__}: {w.message}" for w in caught
                    if not issubclass(w.category, (DeprecationWarning, PendingDeprecationWarning))})
    if notes and sections:
        first = sections[0]
        first.note = " ".join(filter(None, [first.note, "Warnings: " + " | ".join(notes)]))
    return sections


def build_report(spec: AnalysisSpec, data: pd.DataFrame | None = None, *,
                 progress: Callable[[str], None] | None = None) -> Report:
    """Run every step named in the spec on the (validated) data and return the :class:`Report`.

    ``progress`` is called with each step's name before it runs (the CLI shows a progress bar).

    >>> spec = parse_analysis({"title": "Demo", "seed": 3, "data": {"path": "example"}, "describe": {}})
    >>> report = build_report(spec)
    >>> [s.status for s in report.sections], report.provenance["seed"]
    (['ok'], 3)
    """
    if data is None:
        data = load_data(spec)
    ctx: dict[str, Any] = {"syntax": {}, "base_dir": Path(spec.base_dir)}
    sections: list[Section] = []
    for k, step in enumerate(spec.steps):
        if progress:
            progress(step)
        sections += run_step(step, data, spec.options[step], spec.seed + 1000 * k, ctx)
    provenance = {
        "analysis_file": Path(spec.source).name,
        "data_source": "bundled example data" if spec.data_path == "example" else spec.data_path,
        "data_sha256": data_sha256(data),
        "seed": spec.seed,
        "versions": package_versions(("jinja2", "matplotlib", "typer", "rich")),
        "syntax": ctx["syntax"],
    }
    return Report(spec.title, sections, provenance)

