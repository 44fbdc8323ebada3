"""Power-curve SVG: valid XML, one line per number of sessions, error bars at ±1.96 MCSE, escaped text, no
estimation."""
import subprocess
import sys
import xml.etree.ElementTree as ET

import numpy as np
import pandas as pd
import pytest

import allianceStats as als
from allianceStats import AllianceStatsError
from allianceStats.report.power_curve import power_curve_svg

NS = {"s": "http://www.w3.org/2000/svg"}
EVIL = "<script>alert(1)</script>"


def grid_table(target="x -> y", sessions=(3, 5, 8), clients=(50, 100, 200, 300)):
    rows = []
    for s in sessions:
        for c in clients:
            p = 1 - np.exp(-c * s / 600)
            rows.append({"model": "riclpm", "n_clients": c, "n_sessions": s, "target": target, "power": p,
                         "power_mcse": np.sqrt(p * (1 - p) / 200)})
    return pd.DataFrame(rows)


def points(polyline):
    return [tuple(map(float, p.split(","))) for p in polyline.get("points").split()]


def axes(root):
    """Pixel y of power 0 and power 1, read from the drawn y axis."""
    y_axis = root.findall("s:g[@class='axes']/s:line", NS)[1]
    return float(y_axis.get("y1")), float(y_axis.get("y2"))


def test_one_line_per_number_of_sessions_with_one_point_per_cell():
    table = grid_table()
    root = ET.fromstring(power_curve_svg(table, target="x -> y"))
    lines = root.findall(".//s:polyline[@class='power-line']", NS)
    assert [line.get("data-n-sessions") for line in lines] == ["3", "5", "8"]
    assert len(root.findall(".//s:polyline", NS)) == 3
    y0, y1 = axes(root)
    for line, (_s, g) in zip(lines, table.groupby("n_sessions")):
        pts = points(line)
        assert len(pts) == 4
        assert [x for x, _ in pts] == sorted(x for x, _ in pts)  # in order of the number of clients
        np.testing.assert_allclose([(y0 - y) / (y0 - y1) for _, y in pts], g["power"], atol=0.05 / (y0 - y1))


def test_error_bars_span_196_mcse_and_are_clipped_to_the_unit_interval():
    table = pd.DataFrame({"n_clients": [20, 40], "target": "slope", "power": [0.5, 0.99], "power_mcse": [0.05, 0.02]})
    root = ET.fromstring(power_curve_svg(table, target="slope"))
    y0, y1 = axes(root)
    bars = root.findall(".//s:path[@class='error-bar']", NS)
    assert len(bars) == 2
    ends = []
    for bar in bars:
        d = bar.get("d").split()
        lo = float(d[0].split(",")[1])
        hi = float(d[1].lstrip("V"))
        ends.append(((y0 - lo) / (y0 - y1), (y0 - hi) / (y0 - y1)))
    tol = 0.06 / (y0 - y1)  # coordinates are written to 0.1 px
    assert ends[0] == pytest.approx((0.5 - 1.96 * 0.05, 0.5 + 1.96 * 0.05), abs=tol)
    assert ends[1] == pytest.approx((0.99 - 1.96 * 0.02, 1.0), abs=tol)


def test_dashed_reference_line_at_080():
    root = ET.fromstring(power_curve_svg(grid_table(), target="x -> y"))
    y0, y1 = axes(root)
    ref = root.find(".//s:line[@class='reference']", NS)
    assert ref.get("stroke-dasharray")
    assert (y0 - float(ref.get("y1"))) / (y0 - y1) == pytest.approx(0.80, abs=0.06 / (y0 - y1))
    assert root.find(".//s:line[@class='reference']", NS) is not None
    assert ET.fromstring(power_curve_svg(grid_table(), target="x -> y", reference=None)).find(
        ".//s:line[@class='reference']", NS) is None


def test_user_text_is_escaped():
    title = 'Power & "quotes" </svg><script>alert(2)</script>'
    svg = power_curve_svg(grid_table(target=EVIL), target=EVIL, title=title)
    assert "<script" not in svg
    root = ET.fromstring(svg)  # parses: nothing broke out of its element
    assert not root.findall(".//s:script", NS) and not root.findall(".//script")
    assert root.find("s:title", NS).text == title
    default = ET.fromstring(power_curve_svg(grid_table(target=EVIL), target=EVIL))
    assert default.find("s:title", NS).text == f"Power: {EVIL}"


def test_deterministic_output():
    assert power_curve_svg(grid_table(), target="x -> y") == power_curve_svg(grid_table(), target="x -> y")


def test_a_real_single_level_power_table_draws_one_line_without_missing_points():
    res = als.power("regression", n_clients=[10, 20, 40], effects={"slope": 0.5}, reps=20, seed=3, dask_client="sync",
                    progress=False)
    root = ET.fromstring(power_curve_svg(res.table, target="x -> y"))
    lines = root.findall(".//s:polyline", NS)
    assert len(lines) == 1 and len(points(lines[0])) == 3


def test_cells_without_usable_replications_are_left_out_of_their_line():
    table = grid_table()
    table.loc[(table["n_sessions"] == 5) & (table["n_clients"] == 100), ["power", "power_mcse"]] = np.nan
    root = ET.fromstring(power_curve_svg(table, target="x -> y"))
    counts = [len(points(p)) for p in root.findall(".//s:polyline", NS)]
    assert counts == [4, 3, 4]


def test_bad_input_names_what_is_wrong():
    with pytest.raises(AllianceStatsError, match=r"target 'beta' is not in the table; targets: 'x -> y'"):
        power_curve_svg(grid_table(), target="beta")
    with pytest.raises(AllianceStatsError, match=r"lacks column\(s\) \['power_mcse'\]"):
        power_curve_svg(grid_table().drop(columns="power_mcse"), target="x -> y")


def test_module_imports_no_estimation_code():
    code = ("import sys, allianceStats.report.power_curve\n"
            "bad = [m for m in sys.modules if m.split('.')[:2] in (['allianceStats', p] for p in "
            "('mixed', 'sem', 'panel', 'mediation', 'dynamics', 'power_analysis', 'simulate'))]\n"
            "print(bad)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
