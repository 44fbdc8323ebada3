"""The demo report in a real browser: no console message, every figure rendered, nothing loaded from outside.

Runs when Debian's ``chromium`` is on PATH (``.ci/run`` installs it; ``apt-get install chromium`` locally)
and skips with a reason otherwise. The report itself contains no script, so *any* console message
(an SVG attribute the browser cannot parse, a blocked resource, a JavaScript error) is a failure. A copy of
the report with a small measuring script appended reports, through ``--dump-dom``, the rendered size and
element count of every ``<svg>`` and every resource the page loaded (there must be none).
"""
from __future__ import annotations

import json
import re
import shutil
import subprocess
from html import unescape
from pathlib import Path

import pytest

pytestmark = pytest.mark.browser

CHROMIUM = shutil.which("chromium")
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--enable-logging=stderr", "--v=0"]

MEASURE = """<script>
const figs = [...document.querySelectorAll("svg")].map(s => {
  const r = s.getBoundingClientRect();
  return [Math.round(r.width), Math.round(r.height), s.querySelectorAll("path,text,rect,ellipse,line,use").length];
});
document.body.setAttribute("data-svg", JSON.stringify(figs));
document.body.setAttribute("data-resources",
  JSON.stringify(performance.getEntriesByType("resource").map(e => e.name)));
</script>"""


def _chromium(args: list[str], profile: Path) -> subprocess.CompletedProcess:
    return subprocess.run([CHROMIUM, *FLAGS, f"--user-data-dir={profile}", *args], capture_output=True, text=True,
                          timeout=90)


@pytest.fixture(scope="module")
def demo_report(tmp_path_factory) -> Path:
    if CHROMIUM is None:
        pytest.skip(reason="Debian's chromium is not on PATH (apt-get install chromium; .ci/run installs it)")
    from allianceStats.cli import DEMO_ANALYSIS, _run_report

    return _run_report(DEMO_ANALYSIS, tmp_path_factory.mktemp("demo")).path


def test_demo_report_renders_without_console_messages(demo_report, tmp_path):
    html = demo_report.read_text(encoding="utf-8")
    n_svg = html.count("<svg")
    assert n_svg >= 4  # two trajectories, mediation diagrams, the cycle (RI-CLPM when available)
    harness = demo_report.with_name("harness.html")
    harness.write_text(html.replace("</body>", MEASURE + "</body>"), encoding="utf-8")
    proc = _chromium(["--dump-dom", harness.as_uri()], tmp_path / "profile")
    assert proc.returncode == 0, proc.stderr[-2000:]
    console = [line for line in proc.stderr.splitlines() if ":CONSOLE" in line]
    assert console == [], "browser console:\n" + "\n".join(console)
    body = re.search(r"<body[^>]*>", proc.stdout).group(0)
    figs = json.loads(unescape(re.search(r'data-svg="([^"]*)"', body).group(1)))
    resources = json.loads(unescape(re.search(r'data-resources="([^"]*)"', body).group(1)))
    assert resources == []
    assert len(figs) == n_svg
    for k, (width, height, elements) in enumerate(figs):
        assert width > 100 and height > 80 and elements > 5, \
            f"figure {k} rendered as {width}x{height}, {elements} elements"


def test_demo_report_screenshot_is_readable(demo_report, tmp_path):
    from PIL import Image

    shot = tmp_path / "report.png"
    proc = _chromium([f"--screenshot={shot}", "--window-size=1100,2600", "--hide-scrollbars",
                      demo_report.as_uri()], tmp_path / "profile")
    assert proc.returncode == 0 and shot.is_file(), proc.stderr[-2000:]
    img = Image.open(shot).convert("L")
    assert img.size == (1100, 2600)
    hist = img.histogram()
    dark = sum(hist[:100]) / (img.size[0] * img.size[1])
    white = sum(hist[245:]) / (img.size[0] * img.size[1])
    assert 0.005 < dark < 0.25 and white > 0.6  # black text and lines on a white page
