"""The documentation site builds without a single warning (``make docs`` uses ``sphinx -W``), and it documents
every public name, the "coming from lavaan / lme4" pages, the design notes and every worked analysis.

The build here does not run the analyses (``ALLIANCE_DOCS_EXECUTE=0``: the pages show the scripts; the test suite
runs the scripts themselves in tests/test_analyses.py); ``make docs`` runs them and shows their output. It takes
10–40 s, so it is marked ``slow``; it skips, with its reason, where Sphinx is not installed
(``pip install -e .[docs]``).
"""
from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

import allianceStats

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    for module in ("sphinx", "numpydoc", "myst_parser"):
        pytest.importorskip(module, reason=f"{module} is not installed (pip install -e .[docs])")
    out = tmp_path_factory.mktemp("html")
    env = {**os.environ, "ALLIANCE_DOCS_EXECUTE": "0", "MPLBACKEND": "Agg"}
    proc = subprocess.run([sys.executable, "-m", "sphinx", "-W", "--keep-going", "-q", "-E", "-b", "html",
                           str(ROOT / "docs"), str(out), "-d", str(out / ".doctrees")],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    return proc, out


@pytest.mark.slow
def test_the_site_builds_without_warnings(site):
    proc, _ = site
    assert proc.returncode == 0, f"sphinx -W failed:\n{proc.stderr[-4000:]}"
    assert "WARNING" not in proc.stderr and "ERROR" not in proc.stderr, proc.stderr[-4000:]


@pytest.mark.slow
def test_every_public_name_is_in_the_api_reference(site):
    proc, out = site
    assert proc.returncode == 0
    pages = "".join(p.read_text(encoding="utf-8") for p in (out / "_generated" / "api").glob("*.html"))
    missing = [name for name in allianceStats._LAZY if f'id="allianceStats.{name}"' not in pages]
    assert missing == []


@pytest.mark.slow
def test_guides_design_and_analyses_are_there(site):
    proc, out = site
    assert proc.returncode == 0
    lavaan = (out / "coming_from_lavaan.html").read_text(encoding="utf-8")
    assert "parameterEstimates" in lavaan and "fit_sem" in lavaan
    lme4 = (out / "coming_from_lme4.html").read_text(encoding="utf-8")
    assert "VarCorr" in lme4 and "fit_mlm" in lme4
    assert "Vocabulary" in (out / "design.html").read_text(encoding="utf-8")
    scripts = sorted((ROOT / "analyses").glob("[0-9]*.py"))
    for script in scripts:
        page = (out / "_generated" / "analyses" / f"{script.stem}.html").read_text(encoding="utf-8")
        first_code_line = next(line for line in script.read_text(encoding="utf-8").splitlines()
                               if line.startswith(("import ", "from ")))
        assert re.sub(r"\s+", " ", first_code_line.split()[1]) in page, script.name
