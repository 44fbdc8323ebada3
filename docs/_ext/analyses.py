"""Build-time pages of the allianceStats docs: the API reference (from the package's public names) and the worked
analyses (each script with its docstring as prose and, when executed, its printed output).

The API pages are generated from ``allianceStats._LAZY`` (the top-level public names, grouped by the module that
defines them), so a new public function appears in the reference without editing the docs. The analyses are run
at build time (``ALLIANCE_DOCS_EXECUTE=1``, the default of ``make docs``), each in a fresh interpreter from the
repository root with a 300 s limit, two at a time; their output is cached by the script's SHA-256 in
``docs/_build/analyses-cache`` so an unchanged script is not run again. With ``ALLIANCE_DOCS_EXECUTE=0`` the pages
show the scripts only.
"""
from __future__ import annotations

import ast
import hashlib
import json
import os
import re
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

DOCS = Path(__file__).resolve().parents[1]
ROOT = DOCS.parent
GENERATED = DOCS / "_generated"
CACHE = DOCS / "_build" / "analyses-cache"
TIMEOUT_S = 300

AREAS = [
    ("data", "Data: reading, checking, scoring, reshaping", ("allianceStats.data",)),
    ("decomposition", "Within / between decomposition and model comparison",
     ("allianceStats.decomposition", "allianceStats.comparison")),
    ("mixed", "Mixed models (lme4 / lmerTest / glmer)", ("allianceStats.mixed",)),
    ("sem", "SEM and cross-lagged panel models (lavaan)", ("allianceStats.sem", "allianceStats.panel")),
    ("mediation", "Mediation and the SDT hypotheses", ("allianceStats.mediation",)),
    ("dynamics", "Alliance dynamics: ruptures, variability, dropout", ("allianceStats.dynamics",)),
    ("survival", "Survival: intervals from sessions, Cox, discrete-time hazards, joint models",
     ("allianceStats.survival",)),
    ("process", "Process research: coded sessions, sequences, synchrony", ("allianceStats.process",)),
    ("power", "Power analysis", ("allianceStats.power_analysis",)),
    ("display", "Figures, tables and display", ("allianceStats.plots", "allianceStats.report",
                                                 "allianceStats.formatting")),
]


def _write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    if not path.exists() or path.read_text(encoding="utf-8") != text:
        path.write_text(text, encoding="utf-8")


def _api_pages() -> list[str]:
    import allianceStats

    lazy = dict(allianceStats._LAZY)
    lazy.update({"decompose": "allianceStats.decomposition", "compare": "allianceStats.comparison"})
    pages = []
    # a public name no area claims still gets a page, so the reference never silently misses one
    claimed = tuple(prefix for _, _, prefixes in AREAS for prefix in prefixes)
    areas = [*AREAS, ("other", "Other public names",
                      tuple(sorted({m for m in lazy.values() if not m.startswith(claimed)})))]
    for slug, title, prefixes in areas:
        names = sorted((n for n, m in lazy.items() if m.startswith(prefixes)),
                       key=lambda n: (n[0].isupper(), n.lower()))
        if not names:
            continue
        lines = [title, "=" * len(title), "", ".. currentmodule:: allianceStats", ""]
        for name in names:
            obj = getattr(allianceStats, name)
            kind = "autoclass" if isinstance(obj, type) else "autofunction"
            lines += [f".. {kind}:: {name}", ""]
        _write(GENERATED / "api" / f"{slug}.rst", "\n".join(lines))
        pages.append(f"api/{slug}")
    extra = ["Results and errors", "==================", "", ".. currentmodule:: allianceStats.results", "",
             ".. autoclass:: ResultDisplay", "", ".. autoclass:: Convergence", "", ".. autoclass:: Provenance", "",
             ".. autofunction:: make_provenance", "", ".. currentmodule:: allianceStats.errors", ""]
    for name in ("AllianceStatsError", "SchemaError", "OptionError", "FormulaError", "IdentificationError",
                 "ConvergenceError", "ConvergenceWarning", "BoundaryWarning", "DataWarning"):
        extra += [f".. autoclass:: {name}", ""]
    _write(GENERATED / "api" / "results.rst", "\n".join(extra))
    pages.append("api/results")
    index = ["API reference", "=============", "",
             "Every public function and result class, as ``import allianceStats as als; als.<name>``. Each entry is "
             "the function's own docstring: the model, its source and a runnable example (the examples run in the "
             "test suite).", "", ".. toctree::", "   :maxdepth: 1", ""] + [f"   {p[4:]}" for p in pages]
    _write(GENERATED / "api" / "index.rst", "\n".join(index))
    return pages


def _run(script: Path) -> dict:
    digest = hashlib.sha256(script.read_bytes()).hexdigest()
    cached = CACHE / f"{script.stem}-{digest[:16]}.json"
    if cached.exists():
        return json.loads(cached.read_text(encoding="utf-8"))
    env = {**os.environ, "MPLBACKEND": "Agg", "PYTHONHASHSEED": "0"}
    try:
        proc = subprocess.run([sys.executable, str(script)], cwd=ROOT, env=env, capture_output=True, text=True,
                              timeout=TIMEOUT_S)
        out = {"returncode": proc.returncode, "stdout": proc.stdout, "stderr": proc.stderr[-3000:]}
    except subprocess.TimeoutExpired:
        out = {"returncode": -1, "stdout": "", "stderr": f"did not finish within {TIMEOUT_S} s"}
    CACHE.mkdir(parents=True, exist_ok=True)
    cached.write_text(json.dumps(out), encoding="utf-8")
    return out


def _indent(text: str) -> str:
    return "\n".join(("   " + line) if line.strip() else "" for line in text.splitlines())


def _analysis_pages(app) -> list[str]:
    scripts = sorted((ROOT / "analyses").glob("[0-9]*.py"))
    execute = os.environ.get("ALLIANCE_DOCS_EXECUTE", "1") != "0"
    runs = {}
    if execute:
        with ThreadPoolExecutor(max_workers=2) as pool:
            runs = dict(zip(scripts, pool.map(_run, scripts)))
    pages = []
    for script in scripts:
        source = script.read_text(encoding="utf-8")
        doc = ast.get_docstring(ast.parse(source)) or ""
        title = doc.splitlines()[0].strip().rstrip(".") if doc else script.stem
        title = f"{script.stem[:2]} · {title}"
        lines = [title, "=" * len(title), "", f"Script: ``analyses/{script.name}`` (run it from the repository "
                 "root: ``python analyses/" + script.name + "``).", "", ".. code-block:: text", "",
                 _indent(doc), "", "The script", "----------", "",
                 f".. literalinclude:: ../../../analyses/{script.name}", "   :language: python", ""]
        run = runs.get(script)
        if run is not None:
            lines += ["What it prints", "--------------", ""]
            if run["returncode"] == 0:
                lines += ["Output of the script, run when these pages were built:", "", ".. code-block:: text", "",
                          _indent(run["stdout"].rstrip() or "(no output)"), ""]
            else:
                lines += [".. note::", "", f"   The script did not finish when these pages were built "
                          f"(exit {run['returncode']}); its last messages:", "", ".. code-block:: text", "",
                          _indent(run["stderr"].rstrip()), ""]
                from sphinx.util import logging

                logging.getLogger(__name__).warning(f"analyses/{script.name} failed at build time "
                                                    f"(exit {run['returncode']})")
        else:
            lines += [".. note::", "", "   Built with ``ALLIANCE_DOCS_EXECUTE=0``: the output is not shown.", ""]
        _write(GENERATED / "analyses" / f"{script.stem}.rst", "\n".join(lines))
        pages.append(f"analyses/{script.stem}")
    index = ["Worked analyses", "===============", "",
             "The numbered scripts of ``analyses/``, each run top to bottom on the bundled data (or on public "
             "reference data) and explained step by step.", "", ".. toctree::", "   :maxdepth: 1", ""]
    index += [f"   {p[9:]}" for p in pages]
    _write(GENERATED / "analyses" / "index.rst", "\n".join(index))
    return pages


def _generate(app) -> None:
    _api_pages()
    _analysis_pages(app)


_PIPES = re.compile(r"(?<![\\`])\|(?=[^|\s`][^|`\n]*[^|\s`\\]\|)([^|`\n]+)\|")


def _tidy_docstring(app, what, name, obj, options, lines) -> None:
    """Before numpydoc reads a docstring: a lone ``Example`` heading is numpydoc's ``Examples``, and ``|x|``
    (absolute values in prose) is text, not a reStructuredText substitution."""
    for i in range(len(lines) - 1):
        if lines[i].strip() == "Example" and set(lines[i + 1].strip()) == {"-"}:
            indent = lines[i][: len(lines[i]) - len(lines[i].lstrip())]
            lines[i], lines[i + 1] = indent + "Examples", indent + "--------"
    literal = False
    for i, line in enumerate(lines):
        stripped = line.strip()
        if stripped.startswith((">>>", "...")):
            continue
        if stripped.endswith("::"):
            literal = True
            continue
        if literal and stripped and not line.startswith((" ", "\t")):
            literal = False
        if not literal and "|" in line and not stripped.startswith(("+", "|")):
            lines[i] = _PIPES.sub(lambda m: "\\|" + m.group(1) + "\\|", line)


def setup(app):
    app.connect("builder-inited", _generate)
    app.connect("autodoc-process-docstring", _tidy_docstring, priority=400)
    return {"version": "1.0", "parallel_read_safe": True, "parallel_write_safe": True}
