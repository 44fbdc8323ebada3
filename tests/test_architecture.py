"""docs/design.md's one-way data flow: estimation never imports reporting, plotting or the CLI; the report never
estimates."""
import ast
from pathlib import Path

import pytest

PKG = Path(__file__).resolve().parents[1] / "allianceStats"
ESTIMATION = ["data", "mixed", "sem", "panel", "mediation", "dynamics", "survival", "process", "simulate",
              "power_analysis",
              "decomposition.py", "comparison.py", "errors.py", "results.py"]
ESTIMATORS = {"mixed", "sem", "panel", "mediation", "dynamics", "survival", "process", "power_analysis"}


def _imports(path: Path, source: str | None = None) -> set[str]:
    """Absolute module names imported by a file (relative imports resolved against the package).

    ``import allianceStats`` yields ``"allianceStats"``; ``from .. import errors`` yields only
    ``"allianceStats.errors"`` (the package itself is not what such a line is after).
    """
    rel = path.relative_to(PKG.parent).with_suffix("")
    parts = list(rel.parts[:-1])
    found = set()
    tree = ast.parse(source if source is not None else path.read_text(encoding="utf-8"))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = parts[: len(parts) - node.level + 1] if node.level else []
            mod = ".".join(base + ([node.module] if node.module else []))
            if node.module:
                found.add(mod)
            found.update(f"{mod}.{a.name}" for a in node.names)
    return found


def _files(names):
    for name in names:
        target = PKG / name
        yield from ([target] if target.is_file() else sorted(target.rglob("*.py")))


@pytest.mark.parametrize("path", list(_files(ESTIMATION)), ids=lambda p: str(p.relative_to(PKG)))
def test_estimation_never_imports_report_or_cli(path):
    drawing = ("allianceStats.report", "allianceStats.cli", "allianceStats.plots", "matplotlib")
    bad = {m for m in _imports(path) if m.startswith(drawing)}
    assert not bad, f"{path.relative_to(PKG)} imports {sorted(bad)}"


#: what the report must not import: the estimation modules, the analysis-file runner (which calls them), the
#: CLI, and the top-level package (``import allianceStats`` reaches every estimator through its lazy API)
NOT_IN_REPORT = {f"allianceStats.{m}" for m in (*ESTIMATORS, "decomposition", "comparison", "simulate", "analysis",
                                                 "cli")}


def _estimation_imports(path: Path, source: str | None = None) -> set[str]:
    found = _imports(path, source)
    return {m for m in found if m == "allianceStats" or any(m == b or m.startswith(b + ".") for b in NOT_IN_REPORT)}


@pytest.mark.parametrize("path", list(_files(["report"])), ids=lambda p: str(p.relative_to(PKG)))
def test_report_never_estimates(path):
    """No file in report/ imports an estimation module: the report draws results it is given (no exemption)."""
    bad = _estimation_imports(path)
    assert not bad, f"{path.relative_to(PKG)} imports {sorted(bad)}"


@pytest.mark.parametrize("source,expected", [
    ("import allianceStats as als\n", {"allianceStats"}),
    ("from ..mixed import fit_mlm\n", {"allianceStats.mixed", "allianceStats.mixed.fit_mlm"}),
    ("from allianceStats.analysis import run_analysis\n",
     {"allianceStats.analysis", "allianceStats.analysis.run_analysis"}),
    ("from .. import decomposition, errors\n", {"allianceStats.decomposition"}),
    ("from ..errors import SchemaError\nfrom .render import Report\n", set()),
])
def test_the_report_check_sees_every_way_to_an_estimator(source, expected):
    assert _estimation_imports(PKG / "report" / "probe.py", source) == expected


def test_analysis_runner_never_draws():
    """The analysis-file runner hands results to the report; it does not import the report or the CLI."""
    bad = {m for m in _imports(PKG / "analysis.py") if m.startswith(("allianceStats.report", "allianceStats.cli"))}
    assert not bad, f"analysis.py imports {sorted(bad)}"
