"""docs/design.md's one-way data flow: estimation never imports reporting or the CLI; the report never estimates."""
import ast
from pathlib import Path

import pytest

PKG = Path(__file__).resolve().parents[1] / "allianceStats"
ESTIMATION = ["data", "mixed", "sem", "panel", "mediation", "dynamics", "simulate", "power_analysis",
              "decomposition.py", "comparison.py", "errors.py", "results.py"]
ESTIMATORS = {"mixed", "sem", "panel", "mediation", "dynamics", "power_analysis"}


def _imports(path: Path) -> set[str]:
    """Absolute module names imported by a file (relative imports resolved against the package)."""
    rel = path.relative_to(PKG.parent).with_suffix("")
    parts = list(rel.parts[:-1]) if rel.name != "__init__" else list(rel.parts[:-1])
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = parts[: len(parts) - node.level + 1] if node.level else []
            mod = ".".join(base + ([node.module] if node.module else []))
            found.add(mod)
            found.update(f"{mod}.{a.name}" for a in node.names)
    return found


def _files(names):
    for name in names:
        target = PKG / name
        yield from ([target] if target.is_file() else sorted(target.rglob("*.py")))


@pytest.mark.parametrize("path", list(_files(ESTIMATION)), ids=lambda p: str(p.relative_to(PKG)))
def test_estimation_never_imports_report_or_cli(path):
    bad = {m for m in _imports(path) if m.startswith(("allianceStats.report", "allianceStats.cli"))}
    assert not bad, f"{path.relative_to(PKG)} imports {sorted(bad)}"


@pytest.mark.parametrize("path", [p for p in _files(["report"]) if p.name != "runner.py"],
                         ids=lambda p: str(p.relative_to(PKG)))
def test_report_drawing_code_never_estimates(path):
    """Only report/runner.py (the orchestrator behind the CLI) calls estimation functions."""
    bad = {m for m in _imports(path) if m.split(".")[1:2] and m.split(".")[1] in ESTIMATORS}
    assert not bad, f"{path.relative_to(PKG)} imports estimation modules {sorted(bad)}"
