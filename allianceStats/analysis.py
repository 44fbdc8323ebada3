"""Analysis files: read a TOML file naming the data and the analyses, run each one through the public API.

An *analysis file* names the data, the column roles, the seed and the analyses (*steps*) to run. This module
reads and checks it (:func:`load_analysis`, :func:`parse_analysis`), loads the data (:func:`load_data`) and runs
every step by calling the public estimation API — ``fit_mlm``, ``fit_glmm``, ``icc``, ``fit_riclpm``,
``fit_mediation``, ``fit_multilevel_mediation``, ``fit_wave_mediation``, ``evaluate_hypotheses``,
``detect_ruptures``, ``detect_sudden_gains``, ``fit_level_variability_repair``, ``fit_dropout``,
``survival_intervals``, ``fit_cox``, ``read_events``, ``lag_sequential``, ``synchrony_by_session``,
``measurement_invariance``, ``power`` … (:func:`run_analysis`). The results
come back as an :class:`AnalysisRun`: one :class:`StepOutcome` per step holding the fitted result objects.
Drawing them is the job of :func:`allianceStats.report.build_report`; this module never draws, and the
report never estimates (docs/design.md, "Layout").

Every step is guarded: a step that raises becomes a *failed* step carrying the error message, and the other
steps still run. A step that relies on its default columns (``[icc]``, ``[trajectories]``, ``[riclpm]``,
``[dynamics]`` without their column keys) when those columns are absent, or whose hypotheses (``[cycle]``,
``[hypotheses]``) have no role mapped to a column, is *skipped* with the reason — never reported as computed with
an empty table. Warnings raised by a step (e.g. ``ConvergenceWarning``) are kept with it.

Same file + same data + same seed → the same numbers: step ``k`` (its position in :data:`STEP_ORDER` among the
steps of the file) gets the seed ``seed + 1000·k``, and the ``j``-th table of a ``[[list]]`` step adds ``j``.

The file (every table optional except ``[data]``; relative paths are relative to the TOML file)::

    title = "My study"
    seed = 2025
    conf_level = 0.95             # every interval; a step's own conf_level overrides it
    [data]
    path = "sessions.csv"         # CSV or Parquet; "example" = the bundled example data
    client = "ID"                 # your column holding each role (client, therapist, session) ...
    columns = { WAI = "alliance" }   # ... and any other renames: your name -> the schema's name
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
    waves = [1, 2, 3, 4, 5]
    clpm = true                   # also fit the CLPM and compare
    [[mediation]]
    name = "needs"
    x = "alliance"
    mediators = ["autonomy", "competence", "relatedness"]
    y = "motivation"
    unit = "client"               # "client": client means; "session": sessions, clients resampled
    n_draws = 2000
    [[multilevel_mediation]]
    x = "alliance"
    m = "needs"
    y = "motivation"
    [[wave_mediation]]
    x = "alliance"
    m = "needs"
    y = "outcome"
    [cycle]                       # the SDT cycle of the hypothesis registry, drawn as a diagram
    [hypotheses]
    mapping = { alliance = "alliance", empathic_attunement = "empathy" }   # registry roles -> columns
    [dynamics]
    column = "alliance"
    sudden_gains = { column = "outcome", better = "higher", min_change = 5 }
    [[glmm]]
    formula = "cbind(days_use, days_free) ~ alliance_within + alliance_between + (1 | client)"
    family = "binomial"
    derive = { days_free = "7 - days_use" }   # arithmetic on columns, computed first
    decompose = ["alliance"]
    [[cox]]                       # intervals between sessions; events: dropout from the table, or events = "x.csv"
    formula = "Surv(start, stop, event) ~ alliance_within + alliance_cummean"
    [sequences]
    events = "coded_events.csv"   # client, session, order, code ...; "example": simulated MI sessions
    codes = ["miti_4", "client_language"]
    [synchrony]
    signals = "signals.csv"       # one row per sample; "example": simulated dyads
    x = "client_signal"
    y = "therapist_signal"
    sampling_rate = 10
    lag_seconds = 3
    window_seconds = 30
    step_seconds = 15
    [[invariance]]
    model = "bond =~ wai_3 + wai_5 + wai_7 + wai_9"
    waves = [1, 2, 3]             # or group = "site"
    [power]                       # a small Monte Carlo study; or table = "power_table.csv" of `alliance-stats power`
    design = "within_between"
    n_clients = [40, 80]
    reps = 20

:data:`SCHEMA` lists every key with its type; :func:`parse_analysis` checks them all and raises one
:class:`~allianceStats.errors.SchemaError` listing every problem. Keys of the 0.1 vocabulary (``n_boot``,
``level``, ``cluster``, ``wave``/``time`` inside ``options``; the ``[cycle]`` role keys) keep working with a
:class:`FutureWarning` naming the new key (:data:`RENAMED_OPTIONS`).

Example
-------
>>> spec = parse_analysis({"title": "t", "seed": 1, "data": {"path": "example"}, "describe": {}})
>>> spec.steps, spec.seed
(['describe'], 1)
>>> run = run_analysis(spec)
>>> [(s.id, s.status) for s in run.steps]
[('describe', 'ok')]
"""
from __future__ import annotations

import tomllib
import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

import allianceStats as als

from ._deprecation import warn_renamed
from .data.checks import require_columns
from .errors import AllianceStatsError, DataFileError, OptionError, SchemaError
from .results import data_sha256, package_versions

__all__ = ["DEMO_ANALYSIS", "STEP_ORDER", "SCHEMA", "RENAMED_OPTIONS", "Key", "AnalysisSpec", "StepOutcome",
           "AnalysisRun", "StepSkipped", "parse_analysis", "load_analysis", "load_data", "run_analysis", "run_step",
           "dropout_events", "derive", "expression_problems", "draft_analysis"]

#: the analysis file behind ``alliance-stats demo`` (the bundled example data, every step)
DEMO_ANALYSIS = Path(__file__).resolve().parent / "demo_analysis.toml"
DEFAULT_TITLE = "allianceStats report"
#: step kinds in run (and report) order; a file lists any subset
STEP_ORDER = ["describe", "icc", "trajectories", "mlm", "glmm", "riclpm", "mediation", "multilevel_mediation",
              "wave_mediation", "cycle", "hypotheses", "dynamics", "cox", "sequences", "synchrony", "invariance",
              "power"]
#: steps written as arrays of tables (``[[mlm]]``): each table is one analysis
LIST_STEPS = {"mlm", "glmm", "mediation", "multilevel_mediation", "wave_mediation", "cox", "invariance"}
#: the GLMM families (``[[glmm]] family``)
FAMILIES = ("binomial", "poisson", "negative_binomial")
#: the data-generating designs a ``[power]`` step can run (:func:`allianceStats.power`)
POWER_DESIGNS = ("regression", "within_between", "riclpm", "mediation", "multilevel_mediation")
#: interval methods of the mediation fits and the hypothesis registry (docs/design.md, "Vocabulary")
_INTERVALS = ("percentile", "bca", "monte_carlo", "delta")


@dataclass(frozen=True)
class Key:
    """One key of an analysis file: its ``type`` (see :data:`TYPES`), a one-line ``help``, ``required``,
    and for ``type="choice"`` the valid ``choices``."""

    type: str
    help: str
    required: bool = False
    choices: tuple[str, ...] = ()


_CONF = Key("conf_level", "interval level, a number between 0 and 1 (default: the file's conf_level, else 0.95)")
_OPTIONS = Key("table", "further keyword arguments of the estimation function")

#: every key of every table of an analysis file (``""``: the top level)
SCHEMA: dict[str, dict[str, Key]] = {
    "": {"title": Key("text", "report title"),
         "seed": Key("seed", "base seed, a non-negative integer: step k gets seed + 1000·k"),
         "conf_level": _CONF,
         "data": Key("table", "the session table", required=True)},
    "data": {"path": Key("text", 'CSV or Parquet file, or "example" (the bundled data)', required=True),
             "columns": Key("renames", "your column name -> schema name (as read_sessions(columns=))"),
             "client": Key("text", "your column holding the client id"),
             "therapist": Key("text", "your column holding the therapist id"),
             "session": Key("text", "your column holding the session number")},
    "describe": {},
    "icc": {"measures": Key("names", "columns (default: alliance, outcome, needs, motivation present)"),
            "therapist": Key("column_or_false", "therapist column, or false for a two-level model"),
            "conf_level": _CONF},
    "trajectories": {"measures": Key("names", "columns to draw (default: alliance, outcome)"),
                     "max_clients": Key("count", "at most this many client lines (default 80)")},
    "mlm": {"name": Key("text", "short name (tables are named mlm_<name>_...)"),
            "title": Key("text", "section title"),
            "formula": Key("text", "lme4-style formula", required=True),
            "decompose": Key("names", "measures split into _within/_between (and lags) first"),
            "therapist": Key("column_or_false", "therapist column for the decomposition, or false"),
            "reml": Key("bool", "REML (true, default) or ML (false)"),
            "conf_level": _CONF},
    "riclpm": {"variables": Key("names", "panel variables (default: alliance, outcome)"),
               "waves": Key("integers", "session numbers used as waves (default: all)"),
               "clpm": Key("bool", "also fit the CLPM and compare the two"),
               "conf_level": _CONF, "options": _OPTIONS},
    "mediation": {"name": Key("text", "short name"), "title": Key("text", "section title"),
                  "x": Key("text", "predictor", required=True),
                  "mediators": Key("names", "mediator(s)", required=True),
                  "y": Key("text", "outcome", required=True),
                  "covariates": Key("names", "covariates of every equation"),
                  "serial": Key("bool", "the mediators form a chain in the given order"),
                  "unit": Key("choice", "client means, or sessions with clients resampled",
                              choices=("client", "session")),
                  "n_draws": Key("count", "bootstrap resamples / Monte Carlo draws"),
                  "ci": Key("choice", "interval method", choices=_INTERVALS),
                  "conf_level": _CONF, "options": _OPTIONS},
    "multilevel_mediation": {"name": Key("text", "short name"), "title": Key("text", "section title"),
                             "x": Key("text", "predictor", required=True),
                             "m": Key("text", "mediator", required=True),
                             "y": Key("text", "outcome", required=True),
                             "ci": Key("choice", "interval method", choices=_INTERVALS),
                             "n_draws": Key("count", "Monte Carlo draws or bootstrap resamples"),
                             "conf_level": _CONF, "options": _OPTIONS},
    "wave_mediation": {"name": Key("text", "short name"), "title": Key("text", "section title"),
                       "x": Key("text", "predictor", required=True),
                       "m": Key("text", "mediator", required=True),
                       "y": Key("text", "outcome", required=True),
                       "waves": Key("integers", "session numbers used as waves (at least three)"),
                       "ci": Key("choice", "interval method", choices=_INTERVALS),
                       "n_draws": Key("count", "Monte Carlo draws or bootstrap resamples"),
                       "conf_level": _CONF, "options": _OPTIONS},
    "cycle": {"mapping": Key("mapping", "registry role -> column(s) (default: [hypotheses] mapping)"),
              "ci": Key("choice", "interval method", choices=_INTERVALS),
              "n_draws": Key("count", "bootstrap resamples per arrow"),
              "conf_level": _CONF},
    "hypotheses": {"mapping": Key("mapping", "registry role -> column(s)", required=True),
                   "ids": Key("names", "hypotheses to test (default: all)"),
                   "ci": Key("choice", "interval method", choices=_INTERVALS),
                   "n_draws": Key("count", "bootstrap resamples / Monte Carlo draws"),
                   "conf_level": _CONF, "options": _OPTIONS},
    "dynamics": {"column": Key("text", "alliance column (default: alliance)"),
                 "ruptures": Key("table", "options of detect_ruptures"),
                 "variability": Key("table", "options of variability"),
                 "sudden_gains": Key("table", "run detect_sudden_gains with these options (column, better, ...)"),
                 "level_variability_repair": Key("table", "run fit_level_variability_repair with these options"),
                 "dropout": Key("table", "options of fit_dropout"),
                 "dropout_predictors": Key("names", "predictors of dropout (default: column)"),
                 "km_split": Key("choice", "split of the Kaplan-Meier curves by early alliance",
                                 choices=("median", "tertile", "quartile")),
                 "conf_level": _CONF},
    "glmm": {"name": Key("text", "short name (tables are named glmm_<name>_...)"),
             "title": Key("text", "section title"),
             "formula": Key("text", "glmer-style formula", required=True),
             "family": Key("choice", "distribution of the outcome", required=True, choices=FAMILIES),
             "link": Key("text", 'link function (default: canonical; binomial also "probit", "cloglog")'),
             "n_agq": Key("count", "adaptive Gauss-Hermite points (1 = Laplace)"),
             "derive": Key("expressions", 'new columns computed first, e.g. { days_free = "7 - days_use" }'),
             "decompose": Key("names", "measures split into _within/_between (and lags) first"),
             "therapist": Key("column_or_false", "therapist column for the decomposition, or false"),
             "conf_level": _CONF, "options": _OPTIONS},
    "cox": {"name": Key("text", "short name (tables are named cox_<name>_...)"),
            "title": Key("text", "section title"),
            "formula": Key("text", 'survival formula, e.g. "Surv(start, stop, event) ~ alliance_lag1"',
                           required=True),
            "events": Key("text", "events table (CSV/Parquet, one row per client: time, event); default: dropout "
                                  "from the session table"),
            "dropout_column": Key("text", "without events: the session table's dropout column (default: dropout)"),
            "covariates": Key("names", "time-varying covariates of the intervals (default: alliance)"),
            "keep": Key("names", "client-level columns copied to every interval"),
            "intervals": Key("table", "further options of survival_intervals"),
            "robust": Key("bool", "robust SEs clustered by client (default true), as coxph(cluster = client)"),
            "ties": Key("choice", "tied event times (exact: the exact partial likelihood; needs robust = false, as R)",
                        choices=("efron", "breslow", "exact")),
            "conf_level": _CONF},
    "sequences": {"events": Key("text", 'coded-event table (CSV/Parquet), or "example" (simulated MI sessions)',
                                required=True),
                  "codes": Key("names", "code sets of the allowed codes (miti_4, misc_2.5, client_language)"),
                  "columns": Key("renames", "your column name -> schema name (as read_events(columns=))"),
                  "lag": Key("count", "lag (default 1)"),
                  "per_session": Key("bool", "also Yule's Q per session, summarised across sessions"),
                  "window": Key("positive", "time-based: seconds after the given code ends"),
                  "n_draws": Key("count", "permutations (codes shuffled within sessions)"),
                  "conf_level": _CONF},
    "synchrony": {"signals": Key("text", 'signal table (CSV/Parquet, one row per sample), or "example" '
                                         "(simulated dyads)", required=True),
                  "x": Key("text", "first signal column"), "y": Key("text", "second signal column"),
                  "sampling_rate": Key("positive", "samples per second"),
                  "lag_seconds": Key("positive", "largest lag either way"),
                  "window_seconds": Key("positive", "window length"),
                  "step_seconds": Key("positive", "step between windows"),
                  "client": Key("text", "client (dyad) column (default: client)"),
                  "session": Key("text", "session column (default: session)"),
                  "fisher_z": Key("bool", "average on Fisher's z scale (default true)"),
                  "absolute": Key("bool", "average absolute correlations (default true)")},
    "invariance": {"name": Key("text", "short name"), "title": Key("text", "section title"),
                   "model": Key("text", "measurement model in lavaan syntax, or a file holding it", required=True),
                   "group": Key("text", "group column: invariance across groups"),
                   "waves": Key("integers", "invariance across these sessions of the same clients"),
                   "ordered": Key("bool_or_names", "true (every item ordered) or the ordered items"),
                   "steps": Key("names", "steps to fit (default: all)"),
                   "partial": Key("names", 'parameters left free, e.g. ["wai_7 ~ 1"]'),
                   "estimator": Key("text", "estimator (default: WLSMV ordered, ML continuous)"),
                   "missing": Key("choice", "continuous items: listwise or FIML", choices=("listwise", "fiml")),
                   "conf_level": _CONF},
    "power": {"table": Key("text", "power_table.csv written by `alliance-stats power` (or give design)"),
              "design": Key("choice", "run a small study here: the data-generating design", choices=POWER_DESIGNS),
              "model": Key("text", "model fitted to each replication (default: the design's)"),
              "n_clients": Key("integers", "numbers of clients (with design)"),
              "n_sessions": Key("integers", "numbers of sessions (with design)"),
              "effects": Key("table", "population values of the design (and variables = [names])"),
              "reps": Key("count", "replications per cell (with design; default 20)"),
              "alpha": Key("conf_level", "significance level of each replication (default 0.05)"),
              "targets": Key("names", "targets to draw (default: all)")},
}
#: keys of a step that exclude each other, one of which is needed: (step, keys)
ONE_OF = [("power", ("table", "design")), ("invariance", ("group", "waves"))]

#: keys of the 0.1 vocabulary inside ``options`` tables -> their new names (FutureWarning until 0.3.0)
RENAMED_OPTIONS = {"n_boot": "n_draws", "level": "conf_level", "cluster": "client", "wave": "session",
                   "time": "session"}
#: the 0.1 ``[cycle]`` keys -> the registry role each one now maps in ``[cycle] mapping``
_CYCLE_ROLE_KEYS = {"behaviours": "therapist_behaviour", "alliance": "alliance", "needs": "needs",
                    "motivation": "motivation", "engagement": "engagement"}

TYPES = {
    "text": "a string in quotes",
    "bool": "true or false (a TOML boolean, without quotes)",
    "count": "a whole number of at least 1",
    "seed": "a non-negative whole number",
    "conf_level": "a number between 0 and 1 (e.g. 0.95)",
    "names": 'a non-empty list of column names (e.g. ["alliance", "outcome"]) or one name',
    "integers": "a list of whole numbers (e.g. [1, 2, 3])",
    "mapping": 'a table of names to a name or a list of names (e.g. { alliance = "WAI" })',
    "renames": 'a table of names to names (e.g. { WAI = "alliance" })',
    "table": "a table (e.g. { key = value } or a [section])",
    "column_or_false": "a column name, or false",
    "choice": "one of the listed choices",
    "positive": "a number above 0",
    "expressions": 'a table of new column names to arithmetic on columns (e.g. { days_free = "7 - days_use" })',
    "bool_or_names": "true, false, or a list of column names",
}


def _toml_type(value: Any) -> str:
    names = {bool: "a boolean", str: "the string", int: "the integer", float: "the number", list: "a list",
             dict: "a table"}
    kind = names.get(type(value), type(value).__name__)
    return f"{kind} {value!r}" if isinstance(value, (bool, str, int, float)) else kind


def _check(key: Key, value: Any) -> tuple[Any, str | None]:
    """``(normalised value, None)`` when ``value`` has the key's type, else ``(None, problem)``."""
    t, ok, out = key.type, False, value
    if t == "text":
        ok = isinstance(value, str) and value != ""
    elif t == "bool":
        ok = isinstance(value, bool)
    elif t in ("count", "seed"):
        ok = isinstance(value, int) and not isinstance(value, bool) and value >= (1 if t == "count" else 0)
    elif t == "conf_level":
        ok = isinstance(value, (int, float)) and not isinstance(value, bool) and 0 < value < 1
        out = float(value) if ok else value
    elif t == "names":
        out = [value] if isinstance(value, str) else value
        ok = isinstance(out, list) and bool(out) and all(isinstance(v, str) and v for v in out)
    elif t == "integers":
        ok = isinstance(value, list) and all(isinstance(v, int) and not isinstance(v, bool) for v in value)
    elif t == "mapping":
        ok = isinstance(value, dict) and all(isinstance(v, str) or (isinstance(v, list) and v and all(
            isinstance(c, str) for c in v)) for v in value.values())
    elif t == "renames":
        ok = isinstance(value, dict) and all(isinstance(v, str) for v in value.values())
    elif t == "table":
        ok = isinstance(value, dict)
    elif t == "column_or_false":
        ok = value is False or (isinstance(value, str) and value != "")
        out = None if value is False else value
    elif t == "positive":
        ok = isinstance(value, (int, float)) and not isinstance(value, bool) and value > 0
        out = float(value) if ok else value
    elif t == "expressions":
        ok = isinstance(value, dict) and all(isinstance(v, str) and v.strip() for v in value.values())
        if ok:
            problems = [f"{name} = {p.split(': ', 1)[1]}" for name, expr in value.items()
                        for p in expression_problems(name, expr)]
            if problems:
                return None, "must be arithmetic on columns: " + "; ".join(problems)
    elif t == "bool_or_names":
        ok = isinstance(value, bool) or (isinstance(value, list) and bool(value)
                                         and all(isinstance(v, str) and v for v in value))
    elif t == "choice":
        ok = value in key.choices
        if not ok:
            return None, f"must be one of {list(key.choices)}; found {_toml_type(value)}"
    if ok:
        return out, None
    return None, f"must be {TYPES[t]}; found {_toml_type(value)}"


def _check_table(table: Mapping[str, Any], schema: Mapping[str, Key], where: str) -> tuple[dict, list[str]]:
    """Check every key of one table against its schema; return the normalised table and the problems."""
    problems, out = [], {}
    for k, v in table.items():
        if k not in schema:
            problems.append(f"{where}: unknown key {k!r}; valid keys: {', '.join(schema) or '(none)'}")
            continue
        value, problem = _check(schema[k], v)
        if problem:
            problems.append(f"{where}: {k} {problem}")
        else:
            out[k] = value
    missing = [k for k, key in schema.items() if key.required and k not in table]
    problems += [f"{where}: missing required key {k!r} ({schema[k].help})" for k in missing]
    return out, problems


#: the free-form tables of a step and the function they are passed to, with the arguments the runner sets itself
#: (which the table may not give): their keys are that function's keyword arguments, typed by its signature
ARGUMENT_TABLES: dict[tuple[str, str], tuple[str, frozenset[str]]] = {
    ("riclpm", "options"): ("fit_riclpm", frozenset({"variables"})),
    ("mediation", "options"): ("fit_mediation", frozenset({"x", "mediators", "y", "covariates", "serial", "seed"})),
    ("multilevel_mediation", "options"): ("fit_multilevel_mediation", frozenset({"x", "m", "y", "seed"})),
    ("wave_mediation", "options"): ("fit_wave_mediation", frozenset({"x", "m", "y", "seed"})),
    ("hypotheses", "options"): ("evaluate_hypotheses", frozenset({"mapping", "seed"})),
    ("dynamics", "ruptures"): ("detect_ruptures", frozenset({"column"})),
    ("dynamics", "variability"): ("variability", frozenset({"column"})),
    ("dynamics", "sudden_gains"): ("detect_sudden_gains", frozenset()),
    ("dynamics", "level_variability_repair"): ("fit_level_variability_repair", frozenset()),
    ("dynamics", "dropout"): ("fit_dropout", frozenset({"predictors", "conf_level"})),
    ("glmm", "options"): ("fit_glmm", frozenset({"formula", "family", "link", "n_agq", "conf_level"})),
    ("cox", "intervals"): ("survival_intervals", frozenset({"events", "covariates", "keep", "periods"})),
}
#: TOML types of the annotations used by the estimation functions' keyword arguments
_ANNOTATION_WORDS = {"bool": "true or false (without quotes)", "int": "a whole number", "float": "a number",
                     "str": "a string in quotes", "list": "a list", "Mapping": "a table", "dict": "a table"}
_SEQUENCES = {"Sequence", "list", "tuple", "Iterable", "Collection"}


def _alternatives(annotation: str) -> list[str]:
    """``"Sequence[str] | str | None"`` -> ``["Sequence[str]", "str", "None"]`` (``|`` outside brackets)."""
    parts, depth, current = [], 0, ""
    for ch in annotation:
        depth += ch == "["
        depth -= ch == "]"
        if ch == "|" and depth == 0:
            parts.append(current.strip())
            current = ""
        else:
            current += ch
    return [*parts, current.strip()]


def _accepts(annotation: str, value: Any) -> bool | None:
    """Whether a TOML value fits an annotation (``None``: the annotation is not one this check knows)."""
    verdicts = []
    for alt in _alternatives(annotation):
        base, _, inner = alt.partition("[")
        base, inner = base.strip().rsplit(".", 1)[-1], inner[:-1].strip()
        if base in ("Any", "object"):
            return True
        if base == "None":
            continue
        number = isinstance(value, (int, float)) and not isinstance(value, bool)
        if base == "bool":
            verdicts.append(isinstance(value, bool))
        elif base == "int":
            verdicts.append(isinstance(value, int) and not isinstance(value, bool))
        elif base == "float":
            verdicts.append(number)
        elif base == "str":
            verdicts.append(isinstance(value, str))
        elif base in _SEQUENCES:
            element = inner if base != "tuple" and "," not in inner else ""
            verdicts.append(isinstance(value, list) and all(_accepts(element, v) is not False for v in value)
                            if element else isinstance(value, list))
        elif base in ("Mapping", "dict"):
            verdicts.append(isinstance(value, dict))
        else:
            return None
    return any(verdicts) if verdicts else None


def _describe_annotation(annotation: str) -> str:
    words = []
    for alt in _alternatives(annotation):
        base, _, inner = alt.partition("[")
        base = base.strip().rsplit(".", 1)[-1]
        if base == "None":
            continue
        if base in _SEQUENCES:
            inner_word = _ANNOTATION_WORDS.get(inner[:-1].strip(), "")
            words.append(f"a list of {inner_word.replace('a ', '', 1)}s" if inner_word and "," not in inner
                         else "a list")
        else:
            words.append(_ANNOTATION_WORDS.get(base, base))
    return " or ".join(dict.fromkeys(words))


def _check_arguments(step: str, table: Mapping[str, Any], where: str) -> list[str]:
    """Problems of the free-form tables of a step (:data:`ARGUMENT_TABLES`): unknown keys, wrong TOML types."""
    import inspect

    problems = []
    for (kind, key), (function, runner_sets) in ARGUMENT_TABLES.items():
        if kind != step or not isinstance(table.get(key), dict):
            continue
        try:
            params = inspect.signature(getattr(als, function)).parameters
        except (AttributeError, TypeError, ValueError):  # not introspectable: the function itself checks
            continue
        if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values()):
            continue
        valid = [n for n, p in params.items() if n != "data" and n not in runner_sets
                 and p.kind in (inspect.Parameter.KEYWORD_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)]
        for name, value in table[key].items():
            if name not in valid:
                set_by = (" (set from the step's own keys or the file's seed)"
                          if name in runner_sets or name == "data" else "")
                problems.append(f"{where}: {key}: unknown key {name!r}{set_by}; valid keys of {function}: "
                                f"{', '.join(valid)}")
                continue
            annotation = params[name].annotation
            if annotation is inspect.Parameter.empty:
                continue
            text = annotation if isinstance(annotation, str) else getattr(annotation, "__name__", str(annotation))
            if _accepts(text, value) is False:
                problems.append(f"{where}: {key}.{name} must be {_describe_annotation(text)}; found "
                                f"{_toml_type(value)}")
    return problems


def _rename_options(step: str, table: dict, where: str, source: str) -> tuple[dict, list[str]]:
    """Translate 0.1 keys inside ``options`` (with a FutureWarning) and lift keys the step itself knows."""
    options = table.get("options")
    if not isinstance(options, dict):
        return table, []
    table, options, problems = dict(table), dict(options), []
    for old, new in RENAMED_OPTIONS.items():
        if old in options:
            warn_renamed(f"analysis file {source}: {where} options.{old}", f"{new}", stacklevel=4)
            if new in options:
                problems.append(f"{where}: options has both {old!r} (old name) and {new!r}; keep only {new!r}")
            options[new] = options.pop(old)
    for k in [k for k in options if k in SCHEMA[step] and k != "options"]:
        if k in table:
            problems.append(f"{where}: {k!r} is given both as a key and in options; give it once, as a key")
        else:
            table[k] = options.pop(k)
    table["options"] = options
    return table, problems


def _rename_cycle_keys(table: dict, source: str) -> dict:
    """The 0.1 ``[cycle]`` keys (``alliance = "WAI"``, ``needs = [...]``) become ``mapping`` entries."""
    old = [k for k in _CYCLE_ROLE_KEYS if k in table]
    if not old:
        return table
    table, mapping = dict(table), dict(table.get("mapping", {}))
    for k in old:
        value = table.pop(k)
        warn_renamed(f"analysis file {source}: [cycle] {k}", "[cycle] mapping (registry role -> column; the cycle "
                     "is the hypothesis registry's)", stacklevel=4)
        mapping.setdefault(_CYCLE_ROLE_KEYS[k], value)  # its type is checked with the mapping
    if mapping:
        table["mapping"] = mapping
    return table


@dataclass(frozen=True)
class AnalysisSpec:
    """A checked analysis file: data source and column mapping, seed, level and the options of each step.

    ``options[step]`` is a dict for single steps and a list of dicts for :data:`LIST_STEPS`; ``steps`` lists
    the file's steps in :data:`STEP_ORDER`.
    """

    title: str
    seed: int
    data_path: str
    columns: dict[str, str]
    options: dict[str, Any]
    base_dir: Path = Path(".")
    source: str = "<dict>"
    steps: list[str] = field(default_factory=list)
    conf_level: float = 0.95


def parse_analysis(raw: Mapping[str, Any], *, base_dir: Path | str = ".", source: str = "<dict>") -> AnalysisSpec:
    """Check an analysis mapping (as read from TOML) against :data:`SCHEMA` and return an :class:`AnalysisSpec`.

    Every key's type is checked (``reml = "false"`` is text, not a boolean, and is an error; a single name
    where a list is expected becomes a one-element list), unknown keys are errors that list the valid ones
    (a typo must not silently drop an analysis), and all problems are reported at once.

    Parameters
    ----------
    raw : mapping
        The parsed TOML document.
    base_dir : path
        Folder against which relative paths in the file are resolved.
    source : str
        Name of the file, used in messages.

    Returns
    -------
    AnalysisSpec

    Raises
    ------
    SchemaError
        Listing every problem found in the file.

    Examples
    --------
    >>> parse_analysis({"data": {"path": "x.csv"}, "mlm": {"formula": "y ~ 1", "reml": "false"}, "bogus": {}})
    Traceback (most recent call last):
    ...
    allianceStats.errors.SchemaError: 2 problems found in analysis file <dict>:
      1. unknown key 'bogus'; valid keys: title, seed, conf_level, data, describe, icc, trajectories, mlm, ...
      2. [[mlm]] number 1: reml must be true or false (a TOML boolean, without quotes); found the string 'false'
    >>> parse_analysis({"data": {"path": "x.csv"}, "icc": {"measures": "alliance"}}).options["icc"]
    {'measures': ['alliance']}
    """
    valid = [*SCHEMA[""], *STEP_ORDER]
    problems = [f"unknown key {k!r}; valid keys: {', '.join(valid)}" for k in raw if k not in valid]
    top, top_problems = _check_table({k: v for k, v in raw.items() if k in SCHEMA[""]}, SCHEMA[""], "top level")
    problems += [p.replace("top level: ", "", 1) for p in top_problems]
    data: dict[str, Any] = {}
    if isinstance(raw.get("data"), dict):
        data, data_problems = _check_table(raw["data"], SCHEMA["data"], "[data]")
        problems += data_problems
    columns = dict(data.get("columns", {}))
    for role in ("client", "therapist", "session"):
        if role in data:
            if columns.get(data[role], role) != role:
                problems.append(f"[data]: column {data[role]!r} is mapped to both {role!r} and "
                                f"{columns[data[role]]!r}")
            columns[data[role]] = role
    options: dict[str, Any] = {}
    for step in STEP_ORDER:
        if step not in raw:
            continue
        value = raw[step]
        tables = value if step in LIST_STEPS and isinstance(value, list) else [value]
        if not all(isinstance(t, dict) for t in tables) or not tables:
            shape = f"[[{step}]] must be one or more tables" if step in LIST_STEPS else f"[{step}] must be a table"
            problems.append(f"{shape}; found {_toml_type(value)}")
            continue
        checked = []
        for k, table in enumerate(tables):
            where = f"[[{step}]] number {k + 1}" if step in LIST_STEPS else f"[{step}]"
            if step == "cycle":
                table = _rename_cycle_keys(table, source)
            table, renamed = _rename_options(step, table, where, source)
            table, found = _check_table(table, SCHEMA[step], where)
            problems += renamed + found + _check_arguments(step, table, where)
            problems += [f"{where}: give one of {' or '.join(keys)}, not both" if all(k in table for k in keys)
                         else f"{where}: give {' or '.join(keys)}" for kind, keys in ONE_OF
                         if kind == step and sum(k in table for k in keys) != 1]
            if step == "synchrony" and table.get("signals") != "example":
                problems += [f"[synchrony]: missing required key {k!r} (needed unless signals = \"example\")"
                             for k in ("x", "y", "sampling_rate", "lag_seconds", "window_seconds", "step_seconds")
                             if k not in table]
            checked.append(table)
        options[step] = checked if step in LIST_STEPS else checked[0]
        names = [str(t.get("name", f"{step}{j + 1}")) for j, t in enumerate(checked)]
        problems += [f"[[{step}]]: name {n!r} is used by more than one table; give each its own name"
                     for n in sorted({n for n in names if names.count(n) > 1})]
    if problems:
        raise SchemaError(problems, source=f"analysis file {source}")
    return AnalysisSpec(title=top.get("title", DEFAULT_TITLE), seed=top.get("seed", 0), data_path=data["path"],
                        columns=columns, options=options, base_dir=Path(base_dir), source=source,
                        steps=[s for s in STEP_ORDER if s in options], conf_level=top.get("conf_level", 0.95))


def load_analysis(path: str | Path) -> AnalysisSpec:
    """Read and check an analysis TOML file (format: the module docstring; keys: :data:`SCHEMA`).

    Parameters
    ----------
    path : path of the TOML file.

    Returns
    -------
    AnalysisSpec

    Raises
    ------
    DataFileError
        The file does not exist or is not valid TOML.
    SchemaError
        Listing every problem in its keys.

    Examples
    --------
    >>> spec = load_analysis(DEMO_ANALYSIS)
    >>> spec.data_path, spec.steps[:3]
    ('example', ['describe', 'icc', 'trajectories'])
    """
    path = Path(path)
    if not path.is_file():
        raise DataFileError(f"analysis file not found: {path}; give the path of a TOML file "
                            "(alliance-stats demo shows one: allianceStats/demo_analysis.toml)")
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as err:
        raise DataFileError(f"analysis file {path} is not valid TOML: {err}") from None
    return parse_analysis(raw, base_dir=path.resolve().parent, source=str(path))


def load_data(spec: AnalysisSpec) -> pd.DataFrame:
    """The validated session table named by the spec (``"example"``: :func:`allianceStats.load_example`).

    Read with :func:`allianceStats.read_sessions`, which checks it against the session schema and raises a
    :class:`~allianceStats.errors.SchemaError` listing every problem.

    Parameters
    ----------
    spec : AnalysisSpec
        The checked analysis file: ``data_path`` (relative to ``base_dir``) and the column mapping.

    Returns
    -------
    DataFrame
        One row per session, with the schema's column names.

    Examples
    --------
    >>> spec = parse_analysis({"data": {"path": "example"}})
    >>> load_data(spec)["client"].nunique()
    200
    """
    if spec.data_path == "example":
        return als.load_example()
    path = Path(spec.data_path)
    if not path.is_absolute():
        path = spec.base_dir / path
    return als.read_sessions(path, columns=spec.columns or None)


def dropout_events(data: pd.DataFrame, column: str = "dropout", *, client: str = "client",
                   session: str = "session") -> pd.DataFrame:
    """One row per client: the time to dropout from a session table (the events table of survival_intervals).

    The convention of the session schema and :func:`allianceStats.fit_dropout`: ``column`` is 1 on the last
    attended session of a client who dropped out and 0 elsewhere; the event time is that last session, and a
    client who completed is censored at the last session attended. A client seen at one session only has no
    interval between sessions and is left out (with a :class:`~allianceStats.errors.DataWarning` naming them).

    Parameters
    ----------
    data : DataFrame
        Long session table (never modified).
    column : str
        The dropout column.
    client, session : str
        Client-id and session-number columns.

    Returns
    -------
    DataFrame
        ``client, time, event`` (``event`` 1 = dropout, 0 = censored), one row per client with two or more
        sessions.

    Raises
    ------
    SchemaError
        A column is missing.

    Examples
    --------
    >>> d = pd.DataFrame({"client": ["a", "a", "a", "b", "b"], "session": [1, 2, 3, 1, 2],
    ...                   "dropout": [0, 0, 1, 0, 0]})
    >>> dropout_events(d)
      client  time  event
    0      a     3      1
    1      b     2      0
    """
    from .errors import DataWarning

    require_columns(data, [client, session, column], where="dropout_events")
    last = data.sort_values([client, session], kind="stable").groupby(client, sort=True).agg(
        time=(session, "max"), first=(session, "min"), event=(column, "last"))
    single = last.index[last["time"] == last["first"]].tolist()
    if single:
        shown = ", ".join(map(repr, single[:5])) + (f" and {len(single) - 5} more" if len(single) > 5 else "")
        warnings.warn(f"{len(single)} client(s) seen at one session only are left out of the dropout events "
                      f"(no interval between sessions): {shown}", DataWarning, stacklevel=2)
    out = last.drop(index=single).reset_index()[[client, "time", "event"]]
    out["event"] = out["event"].fillna(0).astype(int)
    return out.rename(columns={client: "client"})


#: operators allowed in a derived column (arithmetic, comparison, and/or/not on columns and numbers)
_EXPRESSION_NODES = ("Expression", "BinOp", "UnaryOp", "Compare", "BoolOp", "Name", "Constant", "Load", "Add", "Sub",
                     "Mult", "Div", "Pow", "USub", "UAdd", "Not", "Gt", "GtE", "Lt", "LtE", "Eq", "NotEq", "And",
                     "Or")


def expression_problems(name: str, expression: str) -> list[str]:
    """What is wrong with a derived-column expression (empty when it is arithmetic on columns and numbers).

    Examples
    --------
    >>> expression_problems("days_free", "7 - days_use")
    []
    >>> expression_problems("x", "open(path).read()")
    ["derive.x: 'open(path).read()' may use only column names, numbers, + - * / **, comparisons, and, or, not"]
    """
    import ast

    try:
        tree = ast.parse(expression, mode="eval")
    except SyntaxError:
        return [f"derive.{name}: {expression!r} is not an expression (e.g. \"7 - days_use\" or \"days_use >= 4\")"]
    bad = any(type(node).__name__ not in _EXPRESSION_NODES for node in ast.walk(tree)) or any(
        isinstance(node, ast.Constant) and (isinstance(node.value, bool) or not isinstance(node.value, (int, float)))
        for node in ast.walk(tree))
    return [f"derive.{name}: {expression!r} may use only column names, numbers, + - * / **, comparisons, and, or, "
            "not"] if bad else []


def derive(data: pd.DataFrame, expressions: Mapping[str, str], *, where: str = "derive") -> pd.DataFrame:
    """A copy of ``data`` with new columns computed from arithmetic on its columns (``[[glmm]] derive``).

    Each expression uses column names, numbers, ``+ - * / **``, comparisons, ``and``, ``or`` and ``not``, and
    is evaluated row by row in the order given (a later one may use an earlier one). A comparison gives 1.0 /
    0.0, and a missing value in any column it reads stays missing. Nothing is evaluated as Python code.

    Parameters
    ----------
    data : DataFrame
        The session table (never modified).
    expressions : mapping
        New column name -> expression, e.g. ``{"days_free": "7 - days_use", "heavy": "days_use >= 4"}``.
    where : str
        Where the expressions come from (for messages).

    Returns
    -------
    DataFrame

    Raises
    ------
    SchemaError
        An expression that is not arithmetic on columns, or names a column the data do not have.

    Examples
    --------
    >>> d = pd.DataFrame({"days_use": [0.0, 5.0, None]})
    >>> derive(d, {"days_free": "7 - days_use", "heavy": "days_use >= 4"})
       days_use  days_free  heavy
    0       0.0        7.0    0.0
    1       5.0        2.0    1.0
    2       NaN        NaN    NaN
    """
    import ast
    import operator

    import numpy as np

    problems = [p for name, expr in expressions.items() for p in expression_problems(name, expr)]
    if problems:
        raise SchemaError(problems, source=where)
    out = data.copy()
    binary = {ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul, ast.Div: operator.truediv,
              ast.Pow: operator.pow}
    compare = {ast.Gt: operator.gt, ast.GtE: operator.ge, ast.Lt: operator.lt, ast.LtE: operator.le,
               ast.Eq: operator.eq, ast.NotEq: operator.ne}
    for name, expression in expressions.items():
        tree = ast.parse(expression, mode="eval")
        names = sorted({n.id for n in ast.walk(tree) if isinstance(n, ast.Name)})
        absent = [n for n in names if n not in out.columns]
        if absent:
            raise SchemaError([f"derive.{name}: column(s) {', '.join(absent)} named in {expression!r} are not in "
                               f"the data"], source=where)

        def value(node):
            if isinstance(node, ast.Expression):
                return value(node.body)
            if isinstance(node, ast.Name):
                return pd.to_numeric(out[node.id], errors="coerce").astype(float)
            if isinstance(node, ast.Constant):
                return float(node.value)
            if isinstance(node, ast.BinOp):
                return binary[type(node.op)](value(node.left), value(node.right))
            if isinstance(node, ast.UnaryOp):
                v = value(node.operand)
                return -v if isinstance(node.op, ast.USub) else (v if isinstance(node.op, ast.UAdd) else v == 0)
            if isinstance(node, ast.BoolOp):
                parts = [value(v) != 0 for v in node.values]
                combined = parts[0]
                for part in parts[1:]:
                    combined = (combined & part) if isinstance(node.op, ast.And) else (combined | part)
                return combined
            left, result = value(node.left), None
            for op, right_node in zip(node.ops, node.comparators):
                right = value(right_node)
                step = compare[type(op)](left, right)
                result = step if result is None else (result & step)
                left = right
            return result

        result = value(tree)
        column = pd.Series(result, index=out.index) if not isinstance(result, pd.Series) else result
        column = column.astype(float)
        if names:
            column = column.where(out[names].notna().all(axis=1), np.nan)
        out[name] = column
    return out


def _toml(value: Any) -> str:
    """A TOML value (strings as basic strings, lists and inline tables) for :func:`draft_analysis`."""
    import json

    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_toml(v) for v in value) + "]"
    return "{ " + ", ".join(f"{json.dumps(str(k), ensure_ascii=False)} = {_toml(v)}" for k, v in value.items()) + " }"


#: what each drafted analysis needs (column sets; one of several sets where a tuple of alternatives is given)
_NEEDS = {
    "icc": ["alliance", "outcome", "needs", "motivation", "engagement"],
    "mlm": ["alliance", "outcome"],
    "glmm": ["alliance", "days_use"],
    "riclpm": ["alliance", "outcome"],
    "mediation": ["alliance", "autonomy", "competence", "relatedness", "motivation"],
    "serial": ["autonomy_support", "alliance", "needs", "engagement"],
    "wave_mediation": ["alliance", "needs", "outcome"],
    "cycle": ["alliance", "autonomy", "competence", "relatedness", "motivation", "engagement"],
    "dynamics": ["alliance"],
    "cox": ["alliance", "dropout"],
    "invariance": ["wai_3", "wai_5", "wai_7", "wai_9"],
}
#: the registry roles of the demo's hypotheses and the columns of the session schema that play them
_HYPOTHESIS_ROLES = {"empathic_attunement": "empathy", "motivational_calibration": "autonomy_support",
                     "therapist_behaviour": "autonomy_support", "alliance": "alliance", "autonomy": "autonomy",
                     "competence": "competence", "relatedness": "relatedness", "needs": "needs",
                     "motivation": "motivation", "engagement": "engagement", "outcome": "outcome"}


def draft_analysis(data: pd.DataFrame, path: str, *, columns: Mapping[str, str] | None = None,
                   title: str | None = None, seed: int = 1) -> str:
    """The text of an analysis file for the columns a session table has (``alliance-stats init``).

    Every analysis of the demo (``allianceStats/demo_analysis.toml``) whose columns the data have is written
    out; one whose columns are absent is left out, with a comment saying which columns it needs. The analyses
    that read other files (coded events, signals) and the power study are written as comments to fill in.

    Parameters
    ----------
    data : DataFrame
        The validated session table (schema column names: after the mapping).
    path : str
        The ``[data] path`` to write (relative to the analysis file, or ``"example"``).
    columns : mapping, optional
        Your column name -> schema name (written as ``[data] columns``).
    title : str, optional
        The report title (default: from the file name).
    seed : int
        The base seed.

    Returns
    -------
    str
        TOML text that :func:`load_analysis` reads without a problem.

    Examples
    --------
    >>> d = pd.DataFrame({"client": ["a", "a", "b", "b"], "session": [1, 2, 1, 2], "alliance": [3.0, 3.5, 4.0, 4.5]})
    >>> text = draft_analysis(d, "sessions.csv")
    >>> spec = parse_analysis(tomllib.loads(text))
    >>> spec.steps
    ['describe', 'icc', 'trajectories', 'dynamics']
    >>> print(next(line for line in text.splitlines() if line.startswith("# [[mlm]]")))
    # [[mlm]] left out: it needs the column(s) outcome, which the data do not have.
    """
    have = set(map(str, data.columns))
    lines = ["# Analysis file written by `alliance-stats init` for the columns of the data. Edit it, then run",
             "#   alliance-stats report <this file> -o reports/<name>/",
             "# Every key is listed, with its type, in allianceStats.analysis.SCHEMA (allianceStats/demo_analysis.toml",
             "# shows every analysis). Analyses whose columns are absent are left out below, with the reason.",
             f"title = {_toml(title or f'Analysis of {Path(path).name}')}",
             f"seed = {seed}", "conf_level = 0.95", "", "[data]", f"path = {_toml(path)}"]
    if columns:
        lines.append(f"columns = {_toml(dict(columns))}")

    def missing(kind: str, needs: list[str] | None = None) -> list[str]:
        return [c for c in (needs or _NEEDS[kind]) if c not in have]

    def section(header: str, body: list[str], absent: list[str]) -> None:
        lines.append("")
        if absent:
            lines.append(f"# {header} left out: it needs the column(s) {', '.join(absent)}, which the data do not "
                         "have.")
        else:
            lines.extend([header, *body])

    therapist = "therapist" in have
    lines += ["", "[describe]"]
    measures = [c for c in _NEEDS["icc"] if c in have]
    section("[icc]", [f"measures = {_toml(measures)}"], [] if measures else _NEEDS["icc"])
    traj = [c for c in ("alliance", "outcome") if c in have]
    section("[trajectories]", [f"measures = {_toml(traj)}"], [] if traj else ["alliance or outcome"])
    section("[[mlm]]", ['name = "alliance_outcome"',
                        "title = \"outcome on the last session's within-client alliance and the client mean\"",
                        "formula = " + _toml("outcome ~ alliance_within_lag1 + alliance_between + session0 + "
                                             + ("alliance_therapist + (1 | client) + (1 | therapist)" if therapist
                                                else "(1 | client)")),
                        'decompose = ["alliance"]'], missing("mlm"))
    section("[[glmm]]", ['name = "days_used"', 'title = "days of use out of 7 on the within- and between-client '
                         'alliance"', "formula = " + _toml("cbind(days_use, days_free) ~ alliance_within + "
                                                           "alliance_between + session0 + (1 | client)"
                                                           + (" + (1 | therapist)" if therapist else "")),
                         'family = "binomial"', 'derive = { days_free = "7 - days_use" }',
                         'decompose = ["alliance"]'], missing("glmm"))
    n_waves = int(min(5, data["session"].max())) if "session" in have and len(data) else 0
    section("[riclpm]", ['variables = ["alliance", "outcome"]', f"waves = {_toml(list(range(1, n_waves + 1)))}",
                         "clpm = true"], missing("riclpm") or ([] if n_waves >= 3 else ["3 or more sessions"]))
    section("[[mediation]]", ['name = "needs_parallel"', 'x = "alliance"',
                              'mediators = ["autonomy", "competence", "relatedness"]', 'y = "motivation"',
                              'unit = "client"', "n_draws = 2000"], missing("mediation"))
    section("[[mediation]]", ['name = "serial_chain"', 'x = "autonomy_support"', 'mediators = ["alliance", "needs"]',
                              'y = "engagement"', "serial = true", 'unit = "client"', "n_draws = 2000"],
            missing("serial"))
    section("[[wave_mediation]]", ['name = "alliance_needs_outcome"', 'x = "alliance"', 'm = "needs"',
                                   'y = "outcome"', f"waves = {_toml(list(range(1, max(n_waves, 3) + 1)))}"],
            missing("wave_mediation") or ([] if n_waves >= 3 else ["3 or more sessions"]))
    behaviours = [c for c in ("empathy", "autonomy_support") if c in have]
    section("[cycle]", ["mapping = " + _toml({"therapist_behaviour": behaviours, "alliance": "alliance",
                                              "needs": ["autonomy", "competence", "relatedness"],
                                              "motivation": "motivation", "engagement": "engagement"}),
                        "n_draws = 1000"], missing("cycle") + ([] if behaviours else ["empathy or autonomy_support"]))
    roles = {role: col for role, col in _HYPOTHESIS_ROLES.items() if col in have}
    section("[hypotheses]", [f"mapping = {_toml(roles)}", "n_draws = 1000"],
            [] if {"alliance"} < set(roles.values()) else ["alliance and at least one other role of the registry"])
    body = ['column = "alliance"']
    if "outcome" in have:
        body += ['sudden_gains = { column = "outcome", better = "higher", min_change = 10 }',
                 'level_variability_repair = { outcome = "outcome" }']
    section("[dynamics]", body, missing("dynamics"))
    section("[[cox]]", ['name = "dropout"', 'title = "time to dropout on the alliance of the last session"',
                        'formula = "Surv(start, stop, event) ~ alliance_within + alliance_cummean"'], missing("cox"))
    section("[[invariance]]", ['name = "bond_over_sessions"',
                               'title = "the WAI-SR bond items at sessions 1-3 of the same clients"',
                               'model = "bond =~ wai_3 + wai_5 + wai_7 + wai_9"', "waves = [1, 2, 3]"],
            missing("invariance") + ([] if n_waves >= 3 else ["3 or more sessions"]))
    lines += ["", "# Analyses of other files: fill in and uncomment.",
              "# [sequences]                     # coded session events (client, session, order, code)",
              '# events = "events.csv"',
              '# codes = ["miti_4", "client_language"]',
              "# [synchrony]                     # two signals per session, one row per sample",
              '# signals = "signals.csv"',
              '# x = "client_signal"',
              '# y = "therapist_signal"',
              "# sampling_rate = 10",
              "# lag_seconds = 3",
              "# window_seconds = 30",
              "# step_seconds = 15",
              "# [power]                         # a small Monte Carlo power study (few reps: a sketch)",
              '# design = "within_between"',
              "# n_clients = [40, 80, 160]",
              "# n_sessions = [6]",
              "# reps = 20", ""]
    return "\n".join(lines)


@dataclass(frozen=True)
class StepOutcome:
    """What one step of an analysis file produced.

    ``kind`` is the step's key in the file (``"mlm"``), ``name`` the ``name`` of a ``[[list]]`` entry (``""``
    for single steps), ``options`` its checked options, ``seed`` the seed it was given, ``results`` the fitted
    result objects by name (``{"fit": MixedResult}``, ``{"riclpm": ..., "clpm": ..., "comparison": ...}``),
    ``status`` ``"ok"``, ``"failed"`` (then ``error`` says why) or ``"skipped"`` (its columns are absent; then
    ``error`` says which), ``notes`` parts of the step that could not be computed while the rest was,
    ``warnings`` the warnings it raised (``"ConvergenceWarning: ..."``).
    """

    kind: str
    name: str
    options: Mapping[str, Any]
    seed: int
    results: Mapping[str, Any] = field(default_factory=dict)
    status: str = "ok"
    error: str = ""
    notes: tuple[str, ...] = ()
    warnings: tuple[str, ...] = ()
    conf_level: float = 0.95

    @property
    def id(self) -> str:
        """Unique id within a run: ``kind`` or ``kind-name``."""
        return f"{self.kind}-{self.name}" if self.name else self.kind


@dataclass(frozen=True)
class AnalysisRun:
    """The results of an analysis file: ``title``, one :class:`StepOutcome` per analysis (in file order) and
    ``provenance`` (analysis file, data source and SHA-256, seed, package versions)."""

    title: str
    steps: tuple[StepOutcome, ...]
    provenance: Mapping[str, Any]

    @property
    def failed(self) -> list[StepOutcome]:
        """The steps that raised an error."""
        return [s for s in self.steps if s.status == "failed"]

    @property
    def skipped(self) -> list[StepOutcome]:
        """The steps that were not run because their columns are absent (``error`` says which)."""
        return [s for s in self.steps if s.status == "skipped"]


class StepSkipped(Exception):
    """Raised inside a step whose columns are absent: :func:`run_step` records it as skipped, with this reason."""


# -- steps: each returns (results, notes); they call the public API only -----------------------------------------
@dataclass(frozen=True)
class _Context:
    """What a step may need beyond its own options: where it is (for messages) and the file's settings."""

    where: str = "the analysis file"
    base_dir: Path = Path(".")
    mapping_default: Mapping[str, Any] | None = None


def _columns_present(data: pd.DataFrame, wanted, default, ctx: _Context, key: str = "measures") -> list[str]:
    """The columns named by the step, else the default columns the data have; none of them: skipped."""
    if wanted is not None:
        cols = list(wanted)
        require_columns(data, cols, where=ctx.where)
        return cols
    cols = [c for c in default if c in data.columns]
    if not cols:
        raise StepSkipped(f"none of its default columns ({', '.join(default)}) is in the data; name the columns "
                          f"with {key} = [...] in {ctx.where}")
    return cols


def _default_columns(data: pd.DataFrame, default: list[str], ctx: _Context, key: str) -> None:
    """A step that needs all of its default columns: skipped, naming the absent ones, when one is missing."""
    absent = [c for c in default if c not in data.columns]
    if absent and len(default) == 1:
        raise StepSkipped(f"its default column {default[0]} is not in the data; name the column with {key} = ... "
                          f"in {ctx.where}")
    if absent:
        raise StepSkipped(f"its default columns {', '.join(default)} are not all in the data (absent: "
                          f"{', '.join(absent)}); name the columns with {key} = ... in {ctx.where}")


def _nothing_estimated(result, what: str, ctx: _Context) -> None:
    """Skip a hypothesis step when no hypothesis has its roles mapped to columns (the table would be empty)."""
    table = getattr(result, "table", None)
    if not isinstance(table, pd.DataFrame) or not {"model", "hypothesis", "note"} <= set(table.columns):
        return
    if len(table) and (table["model"] == "not fitted").all():
        reasons = "; ".join(dict.fromkeys(f"{h}: {n}" for h, n in zip(table["hypothesis"], table["note"])))
        raise StepSkipped(f"no {what} could be estimated — {reasons}; map the registry roles to your columns "
                          f"with mapping = {{ role = \"column\" }} in {ctx.where}")


def _therapist(data: pd.DataFrame, opts: Mapping[str, Any]) -> str | None:
    """The therapist column for three-level analyses: the option's (``false``/None: none), if the data have one."""
    return (opts.get("therapist", "therapist") or None) if "therapist" in data.columns else None


def _level(opts: Mapping[str, Any]) -> dict[str, float]:
    return {"conf_level": opts["conf_level"]} if "conf_level" in opts else {}


def _run_describe(data, opts, seed, ctx):
    return {"description": als.describe(data)}, []


def _run_icc(data, opts, seed, ctx):
    measures = _columns_present(data, opts.get("measures"), ["alliance", "outcome", "needs", "motivation"], ctx)
    therapist = _therapist(data, opts)
    return {"icc": {m: als.icc(data, m, therapist=therapist, **_level(opts)) for m in measures}}, []


def _run_trajectories(data, opts, seed, ctx):
    measures = _columns_present(data, opts.get("measures"), ["alliance", "outcome"], ctx)
    return {"data": data, "measures": measures}, []


def _run_mlm(data, opts, seed, ctx):
    d = data
    if opts.get("decompose"):
        d = als.decompose(data, list(opts["decompose"]), therapist=_therapist(data, opts))
    fit = als.fit_mlm(d, opts["formula"], reml=opts.get("reml", True), **_level(opts))
    return {"fit": fit, "data": d, "therapist_part": any(c.endswith("_therapist") for c in d.columns)}, []


def _run_glmm(data, opts, seed, ctx):
    d = derive(data, opts["derive"], where=ctx.where) if opts.get("derive") else data
    if opts.get("decompose"):
        d = als.decompose(d, list(opts["decompose"]), therapist=_therapist(d, opts))
    kwargs = {**opts.get("options", {}), **_level(opts), **{k: opts[k] for k in ("link", "n_agq") if k in opts}}
    fit = als.fit_glmm(d, opts["formula"], family=opts["family"], **kwargs)
    return {"fit": fit, "data": d, "therapist_part": any(c.endswith("_therapist") for c in d.columns)}, []


def _run_riclpm(data, opts, seed, ctx):
    if "variables" not in opts:
        _default_columns(data, ["alliance", "outcome"], ctx, "variables")
    variables = list(opts.get("variables", ["alliance", "outcome"]))
    kwargs = {**opts.get("options", {}), **_level(opts)}
    if "waves" in opts:
        kwargs["waves"] = opts["waves"]
    results, notes = {"riclpm": als.fit_riclpm(data, variables, **kwargs), "variables": variables}, []
    if opts.get("clpm", False):
        try:
            results["clpm"] = als.fit_clpm(data, variables, **kwargs)
        except Exception as err:  # noqa: BLE001 - the RI-CLPM stands on its own
            notes.append(f"CLPM not fitted: {type(err).__name__}: {err}")
        else:
            try:
                results["comparison"] = als.compare(results["riclpm"], results["clpm"], names=["RI-CLPM", "CLPM"])
            except Exception as err:  # noqa: BLE001
                notes.append(f"CLPM vs RI-CLPM comparison not available: {type(err).__name__}: {err}")
    return results, notes


def _run_mediation(data, opts, seed, ctx):
    x, y, mediators = opts["x"], opts["y"], list(opts["mediators"])
    covariates = list(opts.get("covariates", []))
    kwargs = {**opts.get("options", {}), **_level(opts)}
    kwargs.update({k: opts[k] for k in ("n_draws", "ci") if k in opts})
    if opts.get("unit", "client") == "client":
        cols = list(dict.fromkeys([x, *mediators, y, *covariates]))
        require_columns(data, cols, where=ctx.where)
        d = data.groupby("client", sort=True)[cols].mean().reset_index()
    else:
        d, kwargs = data, {"client": "client", **kwargs}
    fit = als.fit_mediation(d, x, mediators, y, covariates=covariates, serial=opts.get("serial", False),
                            seed=seed, **kwargs)
    return {"fit": fit, "data": d}, []


def _run_multilevel_mediation(data, opts, seed, ctx):
    kwargs = {**opts.get("options", {}), **_level(opts)}
    kwargs.update({k: opts[k] for k in ("n_draws", "ci") if k in opts})
    return {"fit": als.fit_multilevel_mediation(data, opts["x"], opts["m"], opts["y"], seed=seed, **kwargs)}, []


def _run_wave_mediation(data, opts, seed, ctx):
    kwargs = {**opts.get("options", {}), **_level(opts)}
    kwargs.update({k: opts[k] for k in ("n_draws", "ci", "waves") if k in opts})
    return {"fit": als.fit_wave_mediation(data, opts["x"], opts["m"], opts["y"], seed=seed, **kwargs)}, []


def _names(value: str | list[str]) -> list[str]:
    return [value] if isinstance(value, str) else list(value)


def _run_cycle(data, opts, seed, ctx):
    """The registry's cycle (its hypotheses marked ``cycle``), tested by ``evaluate_hypotheses``."""
    registry = als.hypotheses()
    cycle = registry[registry["cycle"]]
    mapping = dict(opts.get("mapping") or ctx.mapping_default or {})
    if not mapping:  # the registry's role names where the data have a column of that name
        roles = {r for h in registry["roles"] for r in h.values()}
        mapping = {r: r for r in sorted(roles) if r in data.columns}
    kwargs = {**_level(opts), **{k: opts[k] for k in ("n_draws", "ci") if k in opts}}
    result = als.evaluate_hypotheses(data, mapping, ids=cycle["id"].tolist(), seed=seed, **kwargs)
    _nothing_estimated(result, "arrow of the cycle", ctx)
    # the cycle's stages: the first arrow's tail, then each arrow's head (the last arrow closes the cycle)
    arrows = cycle["roles"].tolist()
    stages = [_names(mapping.get(role, role)) for role in [arrows[0]["x"], *(a["y"] for a in arrows[:-1])]]
    if len(stages) != 5:
        raise AllianceStatsError(f"the registry's cycle has {len(stages)} stages; the cycle diagram draws five "
                                 "(behaviours, alliance, needs, motivation, engagement)")
    layout = {"behaviours": stages[0], "alliance": stages[1][0], "needs": stages[2], "motivation": stages[3][0],
              "engagement": stages[4][0]}
    return {"hypotheses": result, "layout": layout, "mapping": mapping}, []


def _run_hypotheses(data, opts, seed, ctx):
    kwargs = {**opts.get("options", {}), **_level(opts)}
    kwargs.update({k: opts[k] for k in ("n_draws", "ids", "ci") if k in opts})
    result = als.evaluate_hypotheses(data, opts["mapping"], seed=seed, **kwargs)
    _nothing_estimated(result, "hypothesis", ctx)
    return {"hypotheses": result}, []


def _run_dynamics(data, opts, seed, ctx):
    if "column" not in opts:
        _default_columns(data, ["alliance"], ctx, "column")
    column = opts.get("column", "alliance")
    level = _level(opts)
    parts: list[tuple[str, Callable[[], Any]]] = [
        ("ruptures", lambda: als.detect_ruptures(data, column, **opts.get("ruptures", {}))),
        ("variability", lambda: als.variability(data, column, **opts.get("variability", {})))]
    if "sudden_gains" in opts:
        gains = {"column": "outcome", **opts["sudden_gains"]}
        parts.append(("sudden_gains", lambda: als.detect_sudden_gains(data, **gains)))
    if "level_variability_repair" in opts:
        lvr = {"alliance": column, **level, **opts["level_variability_repair"]}
        parts.append(("level_variability_repair", lambda: als.fit_level_variability_repair(data, **lvr)))
    predictors = list(opts.get("dropout_predictors", [column]))
    parts += [("dropout", lambda: als.fit_dropout(data, predictors=predictors, **level, **opts.get("dropout", {}))),
              ("retention", lambda: als.kaplan_meier(data, split=opts.get("km_split", "median"), variable=column,
                                                     **level))]
    results, notes = {}, []
    for label, fn in parts:
        try:
            results[label] = fn()
        except Exception as err:  # noqa: BLE001 - one part failing leaves the others
            notes.append(f"{label}: could not be computed — {type(err).__name__}: {err}")
    if not results:
        raise AllianceStatsError("no part of the dynamics step could be computed: " + "; ".join(notes))
    return results, notes


def _read_table(value: str, ctx: _Context, what: str) -> pd.DataFrame:
    """A table named in the analysis file (relative to it): CSV, TSV or Parquet, read as it is."""
    path = Path(value)
    if not path.is_absolute():
        path = ctx.base_dir / path
    if not path.is_file():
        raise DataFileError(f"{ctx.where}: {what} {path} not found")
    if path.suffix.lower() in (".parquet", ".pq"):
        return pd.read_parquet(path)
    return pd.read_csv(path, sep="\t" if path.suffix.lower() == ".tsv" else ",")


def _formula_columns(formula: str, columns) -> list[str]:
    """The columns of a table that a formula names (whole words), in the table's order."""
    import re

    return [c for c in columns if re.search(rf"(?<![\w.]){re.escape(str(c))}(?![\w.])", formula)]


def _run_cox(data, opts, seed, ctx):
    notes = []
    if "events" in opts:
        events = _read_table(opts["events"], ctx, "events table")
        options = {**opts.get("intervals", {})}
    else:
        column = opts.get("dropout_column", "dropout")
        if "dropout_column" not in opts and column not in data.columns:
            raise StepSkipped(f"its default column {column} is not in the data; give an events table with events = "
                              f"\"events.csv\" or the dropout column with dropout_column = ... in {ctx.where}")
        events = dropout_events(data, column)
        options = {**opts.get("intervals", {}), "event": "event", "event_time": "time"}
        notes.append(f"Events: dropout at the client's last attended session ({column} = 1 there, as fit_dropout); "
                     "clients who completed are censored at their last session.")
    covariates = list(opts.get("covariates", ["alliance"]))
    intervals = als.survival_intervals(data, events, covariates=covariates, keep=list(opts.get("keep", [])),
                                       **options)
    used = _formula_columns(opts["formula"], intervals.columns)
    complete = intervals.dropna(subset=used).reset_index(drop=True)
    if len(complete) < len(intervals):
        gaps = ", ".join(c for c in used if intervals[c].isna().any())
        notes.append(f"{len(intervals) - len(complete)} of {len(intervals)} intervals have a missing value of {gaps} "
                     "and are left out (as coxph's na.omit).")
    fit = als.fit_cox(complete, opts["formula"], client="client" if opts.get("robust", True) else None,
                      **_level(opts), **{k: opts[k] for k in ("ties",) if k in opts})
    curve = None
    event_col = options.get("event", "event")
    time_col = options.get("event_time", "time")
    if {event_col, time_col} <= set(events.columns) and set(pd.unique(events[event_col].dropna())) <= {0, 1}:
        curve = als.survival_curve(events, f"Surv({time_col}, {event_col}) ~ 1", **_level(opts))
    return {"fit": fit, "data": complete, "events": events, "curve": curve}, notes


#: the simulated coded sessions behind ``[sequences] events = "example"`` (allianceStats.simulate.process)
EXAMPLE_SEQUENCES = {"n_therapists": 4, "clients_per_therapist": 4, "sessions_per_client": 2, "turns_per_session": 40}
#: the simulated dyads behind ``[synchrony] signals = "example"``
EXAMPLE_SIGNALS = {"n_dyads": 6, "minutes": 5, "sampling_rate": 10, "coupling": 0.5, "lag_seconds": 1, "ar": 0.8}
_EXAMPLE_SYNCHRONY = {"x": "client_signal", "y": "therapist_signal", "sampling_rate": 10.0, "lag_seconds": 3.0,
                      "window_seconds": 30.0, "step_seconds": 15.0}


def _run_sequences(data, opts, seed, ctx):
    from .simulate.process import simulate_mi_sessions

    if opts["events"] == "example":
        raw, truth = simulate_mi_sessions(**EXAMPLE_SEQUENCES, seed=seed)
        source = (f"simulated MI sessions (allianceStats.simulate.process.simulate_mi_sessions, seed {seed}; true "
                  f"log odds ratio of change talk after a reflection {truth['lag_log_odds_ratio']})")
        codes = opts.get("codes", ["miti_4", "client_language"])
    else:
        raw, source, codes = _read_table(opts["events"], ctx, "coded-event table"), opts["events"], opts.get("codes")
    events = als.read_events(raw, columns=opts.get("columns") or None, codes=codes)
    kwargs = {**_level(opts), **{k: opts[k] for k in ("lag", "window", "n_draws") if k in opts}}
    result = als.lag_sequential(events, per_session=opts.get("per_session", False),
                                seed=seed if "n_draws" in opts else None, **kwargs)
    return {"result": result, "source": source, "n_events": len(events)}, []


def _run_synchrony(data, opts, seed, ctx):
    from .simulate.process import simulate_dyad_signals

    if opts["signals"] == "example":
        signals, truth = simulate_dyad_signals(**EXAMPLE_SIGNALS, seed=seed)
        signals = signals.rename(columns={"dyad": "client"}).assign(session=1)
        source = (f"simulated dyads (allianceStats.simulate.process.simulate_dyad_signals, seed {seed}; the "
                  f"therapist follows the client by {truth['lag_seconds']} s)")
        opts = {**_EXAMPLE_SYNCHRONY, **opts}
    else:
        signals, source = _read_table(opts["signals"], ctx, "signal table"), opts["signals"]
    client, session = opts.get("client", "client"), opts.get("session", "session")
    x, y = opts["x"], opts["y"]
    settings = {k: opts[k] for k in ("sampling_rate", "lag_seconds", "window_seconds", "step_seconds")}
    settings.update(fisher_z=opts.get("fisher_z", True), absolute=opts.get("absolute", True))
    require_columns(signals, [client, session, x, y], where=ctx.where)
    table = als.synchrony_by_session(signals, x=x, y=y, client=client, session=session, **settings)
    windows = [als.window_cross_correlation(g[x], g[y], **settings).windows.assign(client=c, session=s)
               for (c, s), g in signals.groupby([client, session], sort=True)]
    return {"table": table, "windows": pd.concat(windows, ignore_index=True), "x": x, "y": y, "source": source,
            "settings": settings}, []


def _run_invariance(data, opts, seed, ctx):
    model = opts["model"]
    path = ctx.base_dir / model if not Path(model).is_absolute() else Path(model)
    if "\n" not in model and "=~" not in model and path.suffix in (".lav", ".txt", ".model") and path.is_file():
        model = path.read_text(encoding="utf-8")
    kwargs = {**_level(opts), **{k: opts[k] for k in ("group", "steps", "partial", "estimator", "missing")
                                 if k in opts}}
    if "waves" in opts:
        kwargs.update(session="session", waves=opts["waves"])
    ordered = opts.get("ordered")
    result = als.measurement_invariance(data, model, ordered=ordered if ordered else None, **kwargs)
    return {"result": result, "data": result.wide if result.wide is not None else data}, []


def _run_power(data, opts, seed, ctx):
    if "design" in opts:
        grid = {"n_clients": opts.get("n_clients", [50, 100, 200])}
        if "n_sessions" in opts:
            grid["n_sessions"] = opts["n_sessions"]
        kwargs = {k: opts[k] for k in ("model", "effects", "alpha") if k in opts}
        result = als.power(opts["design"], **grid, **kwargs, reps=opts.get("reps", 20), seed=seed,
                           dask_client="sync", out_dir=False, progress=False)
        targets = opts.get("targets") or list(dict.fromkeys(result.table["target"]))
        return {"table": result.table, "targets": targets, "result": result}, []
    path = Path(opts["table"])
    if not path.is_absolute():
        path = ctx.base_dir / path
    if not path.is_file():
        raise OptionError(f"[power] table: {path} not found; run `alliance-stats power <study.toml>` first "
                          "(it writes power_table.csv in the study's out_dir)")
    table = pd.read_csv(path)
    targets = opts.get("targets") or list(dict.fromkeys(table["target"]))
    return {"table": table, "targets": targets}, []


_RUNNERS: dict[str, Callable[..., tuple[dict[str, Any], list[str]]]] = {
    "describe": _run_describe, "icc": _run_icc, "trajectories": _run_trajectories, "mlm": _run_mlm,
    "riclpm": _run_riclpm, "mediation": _run_mediation, "multilevel_mediation": _run_multilevel_mediation,
    "wave_mediation": _run_wave_mediation, "cycle": _run_cycle, "hypotheses": _run_hypotheses,
    "dynamics": _run_dynamics, "power": _run_power, "glmm": _run_glmm, "cox": _run_cox,
    "sequences": _run_sequences, "synchrony": _run_synchrony, "invariance": _run_invariance,
}


def run_step(data: pd.DataFrame, kind: str, opts: Mapping[str, Any], seed: int, *, name: str = "",
             conf_level: float = 0.95, base_dir: Path | str = ".",
             mapping_default: Mapping[str, Any] | None = None) -> StepOutcome:
    """Run one analysis, guarded: an error becomes a failed :class:`StepOutcome`; warnings are recorded.

    Parameters
    ----------
    data : DataFrame
        The validated session table (never modified).
    kind : str
        A step of :data:`STEP_ORDER`.
    opts : dict
        The step's checked options (one table of the file).
    seed : int
        The seed of its random draws.
    name : str
        The entry's name for ``[[list]]`` steps.
    conf_level : float
        The level of every interval, unless the step sets its own (the file's top-level ``conf_level``).
    base_dir : str or Path
        Folder against which a relative power table is read.
    mapping_default : dict, optional
        The cycle's mapping when its step gives none (the file's ``[hypotheses] mapping``).

    Returns
    -------
    StepOutcome
        ``status="ok"`` with the fitted results, ``"failed"`` with the error message, or ``"skipped"`` with the
        reason (its default columns are absent).

    Examples
    --------
    >>> import pandas as pd
    >>> d = pd.DataFrame({"client": ["a", "a"], "session": [1, 2], "alliance": [3.0, 3.5]})
    >>> run_step(d, "trajectories", {"measures": ["alliance"]}, 1).status
    'ok'
    >>> step = run_step(d, "trajectories", {"measures": ["nope"]}, 1)
    >>> step.status, step.error.splitlines()[0]
    ('failed', 'SchemaError: 1 problem found in [trajectories]:')
    >>> step = run_step(d, "trajectories", {}, 1)  # the default measures: alliance is there
    >>> step.status, step.results["measures"]
    ('ok', ['alliance'])
    >>> step = run_step(d[["client", "session"]], "trajectories", {}, 1)
    >>> step.status, step.error.split(";")[0]
    ('skipped', 'none of its default columns (alliance, outcome) is in the data')
    """
    opts = dict(opts)
    if "conf_level" in SCHEMA[kind]:
        opts.setdefault("conf_level", conf_level)
    ctx = _Context(f"[[{kind}]] {name}" if name else f"[{kind}]", Path(base_dir), mapping_default)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            results, notes = _RUNNERS[kind](data, opts, seed, ctx)
        except StepSkipped as skip:
            return StepOutcome(kind, name, opts, seed, status="skipped", error=str(skip),
                               warnings=_messages(caught), conf_level=opts.get("conf_level", 0.95))
        except Exception as err:  # noqa: BLE001 - the report shows the reason and goes on
            return StepOutcome(kind, name, opts, seed, status="failed", error=f"{type(err).__name__}: {err}",
                              warnings=_messages(caught), conf_level=opts.get("conf_level", 0.95))
    return StepOutcome(kind, name, opts, seed, results=results, notes=tuple(notes), warnings=_messages(caught),
                      conf_level=opts.get("conf_level", 0.95))


def _messages(caught) -> tuple[str, ...]:
    return tuple(sorted({f"{w.category.__name__}: {w.message}" for w in caught
                         if not issubclass(w.category, (DeprecationWarning, PendingDeprecationWarning))}))


def run_analysis(spec: AnalysisSpec, data: pd.DataFrame | None = None, *,
                 progress: Callable[[str], None] | None = None) -> AnalysisRun:
    """Run every step of an analysis file on the (validated) data; return the :class:`AnalysisRun`.

    Step ``k`` of the file gets the seed ``spec.seed + 1000·k`` (the ``j``-th entry of a ``[[list]]`` step adds
    ``j``), so the same file, data and seed give the same numbers. Draw the result with
    :func:`allianceStats.report.build_report`.

    Parameters
    ----------
    spec : the checked analysis file (:func:`load_analysis`).
    data : the session table; default: :func:`load_data`.
    progress : called with each step's kind before it runs (the CLI shows a progress bar).

    Returns
    -------
    AnalysisRun

    Examples
    --------
    >>> spec = parse_analysis({"title": "Demo", "seed": 3, "data": {"path": "example"},
    ...                        "mlm": [{"name": "m", "formula": "outcome ~ 1 + (1 | client)"}]})
    >>> run = run_analysis(spec)
    >>> step = run.steps[0]
    >>> step.id, step.seed, step.results["fit"].converged, run.provenance["seed"]
    ('mlm-m', 3, True, 3)
    """
    if data is None:
        data = load_data(spec)
    context = {"base_dir": Path(spec.base_dir), "mapping_default": spec.options.get("hypotheses", {}).get("mapping")}
    steps: list[StepOutcome] = []
    for k, kind in enumerate(spec.steps):
        if progress:
            progress(kind)
        seed = spec.seed + 1000 * k
        if kind in LIST_STEPS:
            for j, opts in enumerate(spec.options[kind]):
                name = str(opts.get("name", f"{kind}{j + 1}"))
                steps.append(run_step(data, kind, opts, seed + j, name=name, conf_level=spec.conf_level,
                                      **context))
        else:
            steps.append(run_step(data, kind, spec.options[kind], seed, conf_level=spec.conf_level, **context))
    provenance = {
        "analysis_file": Path(spec.source).name,
        "data_source": "bundled example data" if spec.data_path == "example" else spec.data_path,
        "data_sha256": data_sha256(data),
        "seed": spec.seed,
        "versions": package_versions(("jinja2", "matplotlib", "typer", "rich")),
    }
    return AnalysisRun(spec.title, tuple(steps), provenance)

