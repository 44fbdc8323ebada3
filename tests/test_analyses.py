"""Every worked analysis in analyses/ runs top to bottom (exit 0) and is listed in analyses/README.md.

The scripts are the student-facing documentation (docs/design.md, "Who uses it"), so a script that no longer
runs is a broken document. Each runs in a fresh interpreter, from the repository root, with a non-GUI
matplotlib backend, two at a time. Scripts that read ``../shared/reference`` handle its absence themselves.

They run with ``-W error::FutureWarning``: a renamed function or argument (which keeps working with a
FutureWarning until 0.3.0) makes the script fail, so students only ever see the current names. R's argument
order (``fit_mlm(formula, data)``) is accepted without a warning, so the table-first order is checked on the code
(the same check as the README's, in tests/test_readme.py).
"""
from __future__ import annotations

import ast
import importlib.util
import os
import re
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SCRIPTS = sorted((ROOT / "analyses").glob("[0-9]*.py"))
TIMEOUT_S = 300
_spec = importlib.util.spec_from_file_location("readme_checks", Path(__file__).with_name("test_readme.py"))
_readme_checks = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_readme_checks)
order_problems = _readme_checks.order_problems


def _run(script: Path) -> subprocess.CompletedProcess | str:
    env = {**os.environ, "MPLBACKEND": "Agg", "PYTHONHASHSEED": "0"}
    try:
        return subprocess.run([sys.executable, "-W", "error::FutureWarning", str(script)], cwd=ROOT, env=env,
                              capture_output=True, text=True, timeout=TIMEOUT_S)
    except subprocess.TimeoutExpired:
        return f"{script.name} did not finish within {TIMEOUT_S} s"


@pytest.fixture(scope="module")
def script_runs():
    """Start every script at once, two at a time (the suite runs on 2 cores); tests wait for their own."""
    with ThreadPoolExecutor(max_workers=2) as pool:
        yield {script: pool.submit(_run, script) for script in SCRIPTS}


@pytest.mark.parametrize("script", SCRIPTS or [None], ids=[p.name for p in SCRIPTS] or ["none"])
def test_analysis_script_runs(script, script_runs):
    if script is None:
        pytest.skip(reason="no worked analyses in analyses/ yet")
    proc = script_runs[script].result()
    if isinstance(proc, str):
        pytest.fail(proc)
    assert proc.returncode == 0, (f"{script.name} exited {proc.returncode}\n--- stdout (tail) ---\n"
                                  f"{proc.stdout[-2000:]}\n--- stderr (tail) ---\n{proc.stderr[-3000:]}")
    assert proc.stdout.strip(), f"{script.name} printed nothing; a worked analysis shows its results"


@pytest.mark.parametrize("script", SCRIPTS or [None], ids=[p.name for p in SCRIPTS] or ["none"])
def test_analysis_script_is_documented_and_indexed(script):
    if script is None:
        pytest.skip(reason="no worked analyses in analyses/ yet")
    doc = ast.get_docstring(ast.parse(script.read_text(encoding="utf-8")))
    assert doc and len(doc) > 200, f"{script.name} needs a module docstring explaining what it teaches"
    number = re.match(r"(\d+)", script.name).group(1)
    index = (ROOT / "analyses" / "README.md").read_text(encoding="utf-8")
    assert re.search(rf"^\| (\[{number}\]\({re.escape(script.name)}\)|{number}) \|", index, flags=re.M), \
        f"analysis {number} ({script.name}) is missing from analyses/README.md"


@pytest.mark.parametrize("script", SCRIPTS or [None], ids=[p.name for p in SCRIPTS] or ["none"])
def test_analysis_script_puts_the_table_first(script):
    """fit_mlm(data, formula), fit_sem(data, model), fit_dpm(data, x=, y=): the order the docs teach."""
    if script is None:
        pytest.skip(reason="no worked analyses in analyses/ yet")
    problems = order_problems(script.read_text(encoding="utf-8"), script.name)
    assert not problems, "\n".join(problems)
