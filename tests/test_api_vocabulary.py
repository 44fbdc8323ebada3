"""The glossary of docs/design.md ("Vocabulary"), enforced on every public signature and result class.

Built like ``test_architecture.py``: it inspects, it never fits a model. The public API is every callable in
``allianceStats.__all__`` and in the ``__all__`` of the public subpackages (``allianceStats._SUBMODULES``), and
every result class (a class whose name ends in ``Result``, plus ``Reliability``) defined anywhere in the package.
Each rule below is one test; a violation reads ``"<rule>: <public path>: <what is wrong>"``.

Rules (docs/design.md "Vocabulary", docs/changelog.d/README.md):

- ``data-first``: a function that takes the session table takes it first, as ``data``. Tolerated (the lme4 /
  lavaan order): a first parameter ``formula`` or ``model`` followed by ``data``. ``fit_mlm(data, formula)`` and
  ``fit_sem(data, model)`` take the table first and accept R's order as typed (``data.checks.table_and_text``).
- ``x-before-y``: where both ``x`` and ``y`` are parameters, ``x`` comes first (``fit_dpm(data, x, y)``).
- ``forbidden-name``: no ``df``, ``cluster``, ``time``, ``wave``, ``level``, ``n_boot``, ``nboot``, ``n_sim``; no
  ``method`` that chooses an interval (that is ``ci=``); no ``client`` meaning a Dask client (``dask_client=``).
- ``conf-level``: every function that reports an interval (its docs or its result's docs mention ``ci_lower``, it
  has ``ci=`` or ``conf_level=``, or it is one of the model fits the issue names) has ``conf_level=0.95``. The
  report's drawing functions are exempt: they draw intervals a result computed at the result's ``conf_level``.
- ``alpha``: ``alpha`` only in power analysis or as a documented test level (p-value threshold), never an interval.
- ``seed``: ``seed=`` wherever ``n_draws=`` or ``reps=`` appears or ``ci=`` defaults to a random method.
- ``choices``: ``ci=`` values within the glossary set; ``missing=`` within ``"listwise"``, ``"fiml"``, ``"pairwise"``
  (lavaan's pairwise statistics for ordered/mixed items, issue 16).
- ``result-protocol``: result classes are frozen dataclasses with ``convergence``, a ``converged`` property,
  ``provenance``, an int ``n_obs``, ``conf_level`` and ``summary()``; no old attribute names (``nobs``, ``level``),
  and ``paths``, where present, is a table, not a method.
- ``module-names``: no public module shares its name with a public function of its parent package, and no module
  is callable (the callable-module trick).
- ``fit-summary``: every ``fit_*`` is annotated to return a class with ``summary()``.
- ``subpackage-all``: every public subpackage declares ``__all__`` and every listed name resolves.
- ``docstring-sections`` / ``docstring-parameters`` (numpydoc): ``Parameters`` (when there are any), ``Returns``
  and ``Examples`` (or ``Example``) sections; the ``Parameters`` section names exactly the signature's parameters.

Deprecated names (``allianceStats._RENAMED``, a subpackage's ``_RENAMED``, and anything wrapped by
``allianceStats._deprecation``) are excluded from the rules and instead must warn with a ``FutureWarning`` naming
the new name.

``KNOWN_VIOLATIONS`` lists cases that belong to work still open (each entry is checked to still be a violation,
so the list cannot go stale); empty it as they are fixed.
"""
from __future__ import annotations

import dataclasses
import functools
import importlib
import inspect
import pkgutil
import re
import sys
import types
import typing
import warnings
from dataclasses import dataclass, field

import pytest

import allianceStats

# ---------------------------------------------------------------------------------------------------------------
# The glossary
# ---------------------------------------------------------------------------------------------------------------
FORBIDDEN = {
    "df": "data",
    "cluster": "client",
    "time": "session",
    "wave": "session",
    "level": "conf_level",
    "n_boot": "n_draws",
    "nboot": "n_draws",
    "n_sim": "n_draws (or reps= in power studies)",
}
CI_METHODS = {"percentile", "bca", "monte_carlo", "delta", "wald", "profile"}
RANDOM_CI = {"percentile", "bca", "monte_carlo"}
# values that name an interval method when they appear as a `method=` default (old spellings included)
INTERVAL_WORDS = CI_METHODS | {"bootstrap", "boot", "mc", "bc", "basic", "norm", "normal"}
MISSING = {"listwise", "fiml", "pairwise"}
FORMULA_FIRST = {"model", "formula"}  # tolerated lme4 / lavaan order: (formula, data), (model, data)
# model fits the issue names as reporting intervals (their CIs are in result tables, whatever the docs say)
REPORTS_INTERVAL = {"fit_mlm", "fit_sem", "fit_clpm", "fit_riclpm", "fit_dpm"}
RESULT_MEMBERS = ("convergence", "provenance", "n_obs", "conf_level")
OLD_RESULT_NAMES = {"nobs": "n_obs", "level": "conf_level"}

KNOWN_VIOLATIONS: set[str] = set()


# ---------------------------------------------------------------------------------------------------------------
# Collecting the public API (lazily, inside the tests: an import error is a failing test, not a collection error)
# ---------------------------------------------------------------------------------------------------------------
@dataclass
class Api:
    functions: dict[str, typing.Callable] = field(default_factory=dict)  # public path -> function
    results: dict[str, type] = field(default_factory=dict)  # module.Class -> result class
    packages: dict[str, types.ModuleType] = field(default_factory=dict)  # "allianceStats[.sub]" -> module
    deprecated: dict[str, tuple[typing.Callable, str]] = field(default_factory=dict)  # old path -> (wrapper, new)
    problems: list[str] = field(default_factory=list)  # import failures, unresolvable names


def _name(new) -> str:
    """A ``_RENAMED`` value is the new name or the new function itself."""
    return new if isinstance(new, str) else new.__name__


def _warns_future(call, new: str) -> bool:
    """Whether ``call()`` gives a FutureWarning naming ``new``. Called without arguments: an alias warns first,
    then the new function rejects the call; only the warning matters here."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            call()
        except Exception:
            pass
    return any(issubclass(w.category, FutureWarning) and new in str(w.message) for w in caught)


def _is_deprecated(obj) -> bool:
    return hasattr(obj, "__deprecated_alias_of__")


def _is_function(obj) -> bool:
    return callable(obj) and not inspect.isclass(obj) and not inspect.ismodule(obj)


def _public_modules(api: Api) -> list[str]:
    """Every importable module of the package, private ones (``_x``) excluded."""
    names = []
    for info in pkgutil.walk_packages(allianceStats.__path__, prefix="allianceStats.",
                                      onerror=lambda name: api.problems.append(f"import: {name}: failed")):
        if not any(part.startswith("_") for part in info.name.split(".")):
            names.append(info.name)
    return sorted(names)


def _import(api: Api, name: str) -> types.ModuleType | None:
    try:
        return importlib.import_module(name)
    except Exception as exc:  # any import failure is a finding here
        api.problems.append(f"import: {name}: {type(exc).__name__}: {exc}")
        return None


@functools.cache
def public_api() -> Api:
    api = Api()
    top = allianceStats
    api.packages["allianceStats"] = top
    renamed = dict(getattr(top, "_RENAMED", {}))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        for name in sorted(top.__all__):
            if name in renamed:
                continue
            try:
                obj = getattr(top, name)
            except Exception as exc:
                api.problems.append(f"import: allianceStats.{name}: {type(exc).__name__}: {exc}")
                continue
            if _is_deprecated(obj):
                api.deprecated[name] = (obj, obj.__deprecated_alias_of__)
            elif _is_function(obj):
                api.functions.setdefault(name, obj)
        for old, new in renamed.items():
            try:
                api.deprecated[old] = (getattr(top, old), new)
            except Exception as exc:
                api.problems.append(f"import: allianceStats.{old} (renamed {new}): {type(exc).__name__}: {exc}")
        seen = {id(f) for f in api.functions.values()}
        for sub in sorted(getattr(top, "_SUBMODULES", ())):
            module = _import(api, f"allianceStats.{sub}")
            if module is None:
                continue
            api.packages[f"allianceStats.{sub}"] = module
            sub_renamed = dict(getattr(module, "_RENAMED", {}))
            for old, new in sub_renamed.items():
                try:
                    api.deprecated[f"{sub}.{old}"] = (getattr(module, old), _name(new))
                except Exception as exc:
                    api.problems.append(f"import: allianceStats.{sub}.{old}: {type(exc).__name__}: {exc}")
            for name in getattr(module, "__all__", ()):
                if name in sub_renamed:
                    continue
                try:
                    obj = getattr(module, name)
                except Exception as exc:
                    api.problems.append(f"import: allianceStats.{sub}.{name}: {type(exc).__name__}: {exc}")
                    continue
                if _is_deprecated(obj):
                    api.deprecated[f"{sub}.{name}"] = (obj, obj.__deprecated_alias_of__)
                elif _is_function(obj) and id(obj) not in seen:
                    seen.add(id(obj))
                    api.functions[f"{sub}.{name}"] = obj
        for name in _public_modules(api):
            module = _import(api, name)
            if module is None:
                continue
            for cname, cls in vars(module).items():
                if (inspect.isclass(cls) and cls.__module__ == name and not cname.startswith("_")
                        and (cname.endswith("Result") or cname == "Reliability")
                        and typing.Protocol not in cls.__mro__):
                    api.results[f"{name.removeprefix('allianceStats.')}.{cname}"] = cls
    return api


# ---------------------------------------------------------------------------------------------------------------
# Reading signatures and numpydoc docstrings
# ---------------------------------------------------------------------------------------------------------------
def _params(func) -> list[inspect.Parameter]:
    return [p for p in inspect.signature(func).parameters.values()
            if p.name not in ("self", "cls") and not p.name.startswith("_")]


def _doc(func) -> str:
    return inspect.getdoc(func) or ""


def _sections(doc: str) -> dict[str, list[str]]:
    """numpydoc sections: a title line underlined by dashes -> the lines below it, up to the next title."""
    lines = doc.splitlines()
    heads = [i for i in range(len(lines) - 1)
             if lines[i].strip() and re.fullmatch(r"\s*-{3,}\s*", lines[i + 1])
             and re.fullmatch(r"\s*[A-Z][A-Za-z ]*\s*", lines[i])]
    out: dict[str, list[str]] = {}
    for k, i in enumerate(heads):
        end = heads[k + 1] if k + 1 < len(heads) else len(lines)
        out[lines[i].strip()] = lines[i + 2:end]
    return out


_ENTRY = re.compile(r"(?P<names>\*{0,2}[A-Za-z_]\w*(?:\s*,\s*\*{0,2}[A-Za-z_]\w*)*)\s*(?::(?P<rest>.*))?$")


def _documented_parameters(doc: str) -> dict[str, str]:
    """Parameter name -> its text (type line and description), from the ``Parameters`` section."""
    body = _sections(doc).get("Parameters", [])
    indents = [len(line) - len(line.lstrip()) for line in body if line.strip()]
    if not indents:
        return {}
    base = min(indents)
    out: dict[str, str] = {}
    current: list[str] = []
    for line in body:
        if line.strip() and len(line) - len(line.lstrip()) == base:
            m = _ENTRY.fullmatch(line.strip())
            if m and (m.group("rest") is not None or "," in m.group("names") or line.strip().isidentifier()):
                current = []
                for name in re.split(r"\s*,\s*", m.group("names")):
                    out[name.lstrip("*")] = current  # type: ignore[assignment]
                current.append(m.group("rest") or "")
                continue
        current.append(line.strip())
    return {name: " ".join(text) for name, text in out.items()}


def _returned_class(func):
    """The class named by the return annotation, or None when there is none or it cannot be resolved."""
    try:
        hints = typing.get_type_hints(func)
        ret = hints.get("return")
    except Exception:  # a TYPE_CHECKING-only import; evaluate the bare name below
        ann = inspect.signature(func).return_annotation
        ret = ann
        if isinstance(ann, str):
            target = inspect.unwrap(func)
            try:
                ret = eval(ann, dict(vars(sys.modules[target.__module__])))  # our own annotation
            except Exception:
                return None
    return ret if inspect.isclass(ret) else None


def _module_of(func) -> str:
    return getattr(inspect.unwrap(func), "__module__", "") or ""


# ---------------------------------------------------------------------------------------------------------------
# The rules: each yields violation strings
# ---------------------------------------------------------------------------------------------------------------
def rule_data_first(api: Api):
    for path, func in api.functions.items():
        params = _params(func)
        names = [p.name for p in params]
        in_report = _module_of(func).startswith("allianceStats.report")
        table_first = bool(params) and "DataFrame" in str(params[0].annotation) and not in_report
        if not ({"data", "df"} & set(names) or table_first):
            continue
        if names[0] == "data":
            continue
        if names[0] in FORMULA_FIRST and names[1:2] == ["data"]:
            continue
        yield f"data-first: {path}: the table must be the first parameter, named data (found {names[:3]})"


def rule_x_before_y(api: Api):
    for path, func in api.functions.items():
        names = [p.name for p in _params(func)]
        if "x" in names and "y" in names and names.index("y") < names.index("x"):
            yield f"x-before-y: {path}: y comes before x"


def rule_forbidden_names(api: Api):
    for path, func in api.functions.items():
        docs = _documented_parameters(_doc(func))
        power = _module_of(func).startswith("allianceStats.power_analysis")
        for p in _params(func):
            if p.name in FORBIDDEN:
                yield f"forbidden-name: {path}: {p.name}= (use {FORBIDDEN[p.name]}=)"
            elif p.name == "method":
                text = docs.get("method", "").lower()
                if p.default in INTERVAL_WORDS or "interval" in text:
                    yield f"forbidden-name: {path}: method= chooses an interval (use ci=)"
            elif p.name == "client" and (power or "dask" in docs.get("client", "").lower()):
                yield f"forbidden-name: {path}: client= is a Dask client (use dask_client=)"


def _reports_interval(path: str, func) -> bool:
    names = {p.name for p in _params(func)}
    if names & {"ci", "conf_level"} or path.rsplit(".", 1)[-1] in REPORTS_INTERVAL:
        return True
    if "ci_lower" in _doc(func):
        return True
    cls = _returned_class(func)
    return cls is not None and "ci_lower" in (inspect.getdoc(cls) or "")


def rule_conf_level(api: Api):
    for path, func in api.functions.items():
        if _module_of(func).startswith("allianceStats.report"):
            continue  # the report draws intervals a result computed at the result's conf_level
        if not _reports_interval(path, func):
            continue
        params = {p.name: p for p in _params(func)}
        if "conf_level" not in params:
            yield f"conf-level: {path}: reports an interval but has no conf_level="
        elif params["conf_level"].default != 0.95:
            yield f"conf-level: {path}: conf_level defaults to {params['conf_level'].default!r}, not 0.95"


TEST_WORDS = ("test", "p_value", "p-value", "p value", "significan", "p <")


def rule_alpha(api: Api):
    for path, func in api.functions.items():
        if "alpha" not in {p.name for p in _params(func)}:
            continue
        if _module_of(func).startswith("allianceStats.power_analysis"):
            continue
        text = _documented_parameters(_doc(func)).get("alpha", "").lower()
        if not any(w in text for w in TEST_WORDS) or "interval" in text or "confidence" in text:
            yield f"alpha: {path}: alpha= is only a test level (documented as such) or a power setting"


def rule_seed(api: Api):
    for path, func in api.functions.items():
        params = {p.name: p for p in _params(func)}
        ci_default = params["ci"].default if "ci" in params else None
        random = bool({"n_draws", "reps"} & set(params)) or ci_default in RANDOM_CI
        if random and "seed" not in params:
            yield f"seed: {path}: draws at random (n_draws/reps/ci) but has no seed="


def _quoted(text: str) -> set[str]:
    return set(re.findall(r"""["']([A-Za-z_]+)["']""", text))


def rule_choices(api: Api):
    for path, func in api.functions.items():
        params = {p.name: p for p in _params(func)}
        docs = _documented_parameters(_doc(func))
        for name, allowed in (("ci", CI_METHODS), ("missing", MISSING)):
            if name not in params:
                continue
            p = params[name]
            values = set()
            if isinstance(p.default, str):
                values.add(p.default)
            values |= {v for v in _quoted(str(p.annotation)) if "Literal" in str(p.annotation)}
            values |= _quoted(docs.get(name, "").split(".")[0])
            bad = sorted(values - allowed)
            if bad:
                yield f"choices: {path}: {name}= takes {bad}, outside the glossary {sorted(allowed)}"


def _members(cls) -> set[str]:
    names = set(dir(cls))
    if dataclasses.is_dataclass(cls):
        names |= {f.name for f in dataclasses.fields(cls)}
    return names


def rule_result_protocol(api: Api):
    for path, cls in api.results.items():
        if not dataclasses.is_dataclass(cls):
            yield f"result-protocol: {path}: not a dataclass"
        elif not cls.__dataclass_params__.frozen:  # type: ignore[attr-defined]
            yield f"result-protocol: {path}: not frozen"
        members = _members(cls)
        for name in RESULT_MEMBERS:
            if name not in members:
                yield f"result-protocol: {path}: no {name}"
        fields = {f.name for f in dataclasses.fields(cls)} if dataclasses.is_dataclass(cls) else set()
        converged = inspect.getattr_static(cls, "converged", None)
        if not isinstance(converged, (property, functools.cached_property)) and "converged" not in fields:
            yield f"result-protocol: {path}: no converged property"
        if not callable(getattr(cls, "summary", None)):
            yield f"result-protocol: {path}: no summary() method"
        if dataclasses.is_dataclass(cls):
            types_ = {f.name: f.type for f in dataclasses.fields(cls)}
            if "n_obs" in types_ and types_["n_obs"] not in ("int", int):
                yield f"result-protocol: {path}: n_obs is {types_['n_obs']}, not int"
        for old, new in OLD_RESULT_NAMES.items():
            if old in members and not _is_deprecated(inspect.getattr_static(cls, old, None)):
                yield f"result-protocol: {path}: attribute {old} (use {new})"
        if inspect.isfunction(inspect.getattr_static(cls, "paths", None)):
            yield f"result-protocol: {path}: paths is a method (it is a table in every result)"


def rule_module_names(api: Api):
    for pkg_name, pkg in api.packages.items():
        if not hasattr(pkg, "__path__"):
            continue
        modules = {info.name for info in pkgutil.iter_modules(pkg.__path__) if not info.name.startswith("_")}
        lazy = getattr(pkg, "_LAZY", {})
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", FutureWarning)
            for name in sorted(modules):
                if name in lazy or _is_function(getattr(pkg, name, None)):
                    yield f"module-names: {pkg_name}.{name}: is both a module and a public function"
    for name, mod in sorted(sys.modules.items()):
        if name.startswith("allianceStats") and (type(mod) is not types.ModuleType or callable(mod)):
            # the one allowed callable module is the deprecation shim of a subpackage that used to be a function
            # (``allianceStats.mediation(...)`` until 0.3.0): calling it must warn, naming the fit_ function
            if not (callable(mod) and _warns_future(mod, "fit_")):
                yield f"module-names: {name}: callable module ({type(mod).__name__})"


def rule_fit_summary(api: Api):
    for path, func in api.functions.items():
        if not path.rsplit(".", 1)[-1].startswith("fit_"):
            continue
        cls = _returned_class(func)
        if cls is None:
            yield f"fit-summary: {path}: return annotation missing or not a class"
        elif not callable(getattr(cls, "summary", None)):
            yield f"fit-summary: {path}: returns {cls.__name__}, which has no summary()"


def rule_subpackage_all(api: Api):
    yield from api.problems
    for pkg_name, pkg in api.packages.items():
        if hasattr(pkg, "__path__") and not hasattr(pkg, "__all__"):
            yield f"subpackage-all: {pkg_name}: no __all__"


def rule_docstring_sections(api: Api):
    for path, func in api.functions.items():
        sections = _sections(_doc(func))
        if _params(func) and "Parameters" not in sections:
            yield f"docstring-sections: {path}: no Parameters section"
        if "Returns" not in sections and "Yields" not in sections:
            yield f"docstring-sections: {path}: no Returns section"
        if "Examples" not in sections and "Example" not in sections:
            yield f"docstring-sections: {path}: no Examples section"


def rule_docstring_parameters(api: Api):
    for path, func in api.functions.items():
        if "Parameters" not in _sections(_doc(func)):
            continue  # reported by docstring-sections
        documented = set(_documented_parameters(_doc(func)))
        actual = {p.name for p in _params(func)}
        for name in sorted(actual - documented):
            yield f"docstring-parameters: {path}: {name} is not documented"
        for name in sorted(documented - actual):
            yield f"docstring-parameters: {path}: documents {name}, which is not a parameter"


RULES = {
    "data-first": rule_data_first,
    "x-before-y": rule_x_before_y,
    "forbidden-name": rule_forbidden_names,
    "conf-level": rule_conf_level,
    "alpha": rule_alpha,
    "seed": rule_seed,
    "choices": rule_choices,
    "result-protocol": rule_result_protocol,
    "module-names": rule_module_names,
    "fit-summary": rule_fit_summary,
    "subpackage-all": rule_subpackage_all,
    "docstring-sections": rule_docstring_sections,
    "docstring-parameters": rule_docstring_parameters,
}


# ---------------------------------------------------------------------------------------------------------------
# Tests
# ---------------------------------------------------------------------------------------------------------------
def test_the_public_api_is_found():
    """The collection itself can fail silently (an empty __all__ passes every rule): check it finds the API."""
    api = public_api()
    for name in ("fit_mlm", "fit_sem", "fit_riclpm", "decompose", "read_sessions"):
        assert name in api.functions, f"{name} not collected from allianceStats.__all__"
    assert len(api.functions) >= 30, sorted(api.functions)
    for name in ("mixed.result.MixedResult", "sem.result.SEMResult", "panel.fit.PanelResult"):
        assert any(path.endswith(name.rsplit(".", 1)[-1]) for path in api.results), sorted(api.results)


@pytest.mark.parametrize("rule", list(RULES))
def test_vocabulary_rule(rule):
    found = set(RULES[rule](public_api()))
    known = {v for v in KNOWN_VIOLATIONS if v.startswith(("import:", "subpackage-all:") if rule == "subpackage-all"
                                                          else f"{rule}:")}
    new = sorted(found - known)
    stale = sorted(known - found)
    assert not new, f"{len(new)} violation(s) of the vocabulary rule {rule!r}:\n  " + "\n  ".join(new)
    assert not stale, "fixed, remove from KNOWN_VIOLATIONS:\n  " + "\n  ".join(stale)


def test_known_violations_name_a_rule():
    prefixes = tuple(f"{rule}:" for rule in RULES) + ("import:",)
    assert all(v.startswith(prefixes) for v in KNOWN_VIOLATIONS), sorted(KNOWN_VIOLATIONS)


def test_rules_catch_what_they_should():
    """Each rule on a small made-up API with one mistake of each kind (so a rule that can never fire fails)."""
    def fit_thing(df, y, x, *, cluster="client", level=0.9, n_boot=10, method="bootstrap", ci="bca",
                  missing="ml", alpha=0.05):
        """Thing.

        Parameters
        ----------
        df : DataFrame
        alpha : float
            Interval level.
        """

    def power_thing(design, *, reps=10, client=None):
        """Power.

        Returns
        -------
        Nothing.

        Examples
        --------
        >>> 1
        1
        """

    @dataclass
    class ThingResult:
        nobs: int
        level: float

        def paths(self):
            return None

    power_thing.__module__ = "allianceStats.power_analysis.made_up"
    api = Api(functions={"fit_thing": fit_thing, "power_thing": power_thing}, results={"x.ThingResult": ThingResult})
    found = {rule: set(check(api)) for rule, check in RULES.items() if rule not in ("module-names", "subpackage-all")}
    expected = {
        "data-first": {"fit_thing"}, "x-before-y": {"fit_thing"}, "forbidden-name": {"fit_thing", "power_thing"},
        "conf-level": {"fit_thing"}, "alpha": {"fit_thing"}, "seed": {"fit_thing", "power_thing"},
        "choices": {"fit_thing"}, "result-protocol": {"x.ThingResult"}, "fit-summary": {"fit_thing"},
        "docstring-sections": {"fit_thing", "power_thing"}, "docstring-parameters": {"fit_thing"},
    }
    for rule, paths in expected.items():
        assert {v.split(": ")[1] for v in found[rule]} == paths, (rule, found[rule])
    forbidden = " ".join(found["forbidden-name"])
    for name in ("df=", "cluster=", "level=", "n_boot=", "method=", "client="):
        assert name in forbidden, name
    protocol = " ".join(found["result-protocol"])
    for what in ("not frozen", "no convergence", "no converged", "no summary", "attribute nobs", "paths is a method"):
        assert what in protocol, what


def _renamed_cases():
    cases = [(old, new) for old, new in getattr(allianceStats, "_RENAMED", {}).items()]
    return cases or [pytest.param(None, None, marks=pytest.mark.skip(reason="no renamed names"))]


@pytest.mark.parametrize(("old", "new"), _renamed_cases())
def test_renamed_top_level_name_warns(old, new):
    assert old not in public_api().functions
    assert new in allianceStats.__all__, f"the new name {new} is not public"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        alias = getattr(allianceStats, old)
    assert _warns_future(alias, new), f"allianceStats.{old}() gives no FutureWarning naming {new}"


def test_deprecated_aliases_warn():
    """Every deprecated alias the collection met (top level and subpackages) warns, naming its new name."""
    deprecated = public_api().deprecated
    assert deprecated, "no deprecated alias found: the _RENAMED tables are not read"
    silent = [path for path, (alias, new) in deprecated.items() if not _warns_future(alias, new)]
    assert not silent, f"deprecated aliases that do not warn with FutureWarning: {silent}"


def test_renamed_arguments_warn():
    """Old keyword names kept by ``_deprecation.renamed_arguments`` warn and are not in the new signature."""
    problems = []
    for path, func in public_api().functions.items():
        mapping = getattr(func, "__renamed_arguments__", {})
        names = {p.name for p in _params(func)}
        for old, new in mapping.items():
            if old in names or new not in names:
                problems.append(f"{path}: {old}= -> {new}= does not match the signature {sorted(names)}")
            elif not _warns_future(functools.partial(func, **{old: None}), f"{old}= is renamed {new}="):
                problems.append(f"{path}: {old}= gives no FutureWarning naming {new}=")
    assert not problems, "\n".join(problems)
