"""Path diagrams: geometry (labels never overlap arrows), styles by significance, escaping, determinism.

The geometric checks re-read the *written SVG* (label rectangles and path coordinates), so they test the
output, not only the placement code's own bookkeeping.
"""
from __future__ import annotations

import re
import xml.etree.ElementTree as ET

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from allianceStats.errors import AllianceStatsError
from allianceStats.report.diagrams import cycle_diagram, mediation_diagram, paths_table, riclpm_diagram
from allianceStats.report.svg import Box

NS = {"s": "http://www.w3.org/2000/svg"}


def _segments(svg: str):
    root = ET.fromstring(svg)
    out = []
    for path in root.iter("{http://www.w3.org/2000/svg}path"):
        if "path" not in (path.get("class") or ""):
            continue
        pts = [tuple(map(float, xy.split(","))) for xy in re.findall(r"[-\d.]+,[-\d.]+", path.get("d"))]
        out.append((path, list(zip(pts[:-1], pts[1:]))))
    return root, out


def _label_boxes(root):
    boxes = []
    for g in root.iter("{http://www.w3.org/2000/svg}g"):
        if g.get("class") == "label":
            r = g.find("s:rect", NS)
            x, y, w, h = (float(r.get(k)) for k in ("x", "y", "width", "height"))
            boxes.append((g.find("s:text", NS).text, Box(x + w / 2, y + h / 2, w, h)))
    return boxes


def _node_boxes(root):
    boxes = []
    for g in root.iter("{http://www.w3.org/2000/svg}g"):
        if g.get("class") == "node":
            r = g.find("s:rect", NS)
            if r is not None:
                x, y, w, h = (float(r.get(k)) for k in ("x", "y", "width", "height"))
                boxes.append(Box(x + w / 2, y + h / 2, w, h))
            else:
                e = g.find("s:ellipse", NS)
                cx, cy, rx, ry = (float(e.get(k)) for k in ("cx", "cy", "rx", "ry"))
                boxes.append(Box(cx, cy, 2 * rx, 2 * ry))
    return boxes


def assert_no_overlap(svg: str, expected_labels: int):
    root, paths = _segments(svg)
    labels = _label_boxes(root)
    nodes = _node_boxes(root)
    assert len(labels) == expected_labels
    for text, box in labels:
        for _, segs in paths:
            assert not any(box.hits_segment(p, q) for p, q in segs), f"label {text!r} crosses an arrow"
        assert not any(box.overlaps(n) for n in nodes), f"label {text!r} overlaps a node"
        assert not any(box.overlaps(o) for t, o in labels if o is not box), f"label {text!r} overlaps a label"


def test_box_geometry_primitives():
    b = Box(10, 10, 4, 2)
    assert b.hits_segment((0, 10), (20, 10))
    assert not b.hits_segment((0, 0), (20, 0))
    assert b.hits_segment((10, 10), (10, 10.5))  # segment inside the box
    assert not b.hits_segment((0, 0), (7.9, 10))  # stops short of the left edge at x = 8
    assert b.overlaps(Box(13, 10, 4, 2)) and not b.overlaps(Box(14.1, 10, 4, 2))
    assert b.boundary_point((20, 10)) == (12, 10)


def test_parallel_mediation_labels_clear_and_styles(parallel_paths):
    d = mediation_diagram(parallel_paths, "support", ["autonomy", "competence", "relatedness"], "motivation")
    svg = d.svg
    assert d.label_collisions() == []
    assert_no_overlap(svg, expected_labels=7)
    root, paths = _segments(svg)
    by_edge = {(p.get("data-from"), p.get("data-to")): p for p, _ in paths}
    sig = by_edge[("support", "autonomy")]
    ns = by_edge[("support", "motivation")]
    assert sig.get("stroke") == "#000000" and sig.get("stroke-dasharray") is None
    assert ns.get("stroke-dasharray") == "6 4" and ns.get("stroke") != "#000000"
    texts = [t for t, _ in _label_boxes(root)]
    assert "0.40 [0.20, 0.60]" in texts and "−0.05 [−0.20, 0.10]" in texts


@pytest.mark.parametrize("rows", [[0, 3, 6], [0, 1, 3, 4, 6]])
def test_single_and_two_mediator_layouts(parallel_paths, rows):
    d = mediation_diagram(parallel_paths.iloc[rows])
    assert_no_overlap(d.svg, expected_labels=len(rows))


def test_serial_mediation_routes_around_nodes():
    t = pd.DataFrame({"from": ["x", "x", "x", "m1", "m1", "m2", "m1", "m2", "m3", "x"],
                      "to": ["m1", "m2", "m3", "m2", "m3", "m3", "y", "y", "y", "y"],
                      "estimate": [.1, .2, .3, .4, .5, .6, .7, .8, .9, .05],
                      "p_value": [.01, .2, .01, .01, .5, .01, .01, .3, .01, .6]})
    d = mediation_diagram(t)
    assert_no_overlap(d.svg, expected_labels=10)
    node_boxes = {k: n.box for k, n in d.nodes.items()}
    for arrow in d.arrows:  # no arrow passes through a node it does not join
        for key, box in node_boxes.items():
            if key not in (arrow.source, arrow.target):
                assert not any(box.hits_segment(p, q) for p, q in arrow.segments()), (arrow.source, key)


@pytest.mark.parametrize("variables,waves", [(["alliance", "outcome"], 5), (["alliance", "needs", "outcome"], 4)])
def test_riclpm_diagram(variables, waves):
    rows = [{"lhs": f"w_{a}_{t}", "op": "~", "rhs": f"w_{b}_{t - 1}", "estimate": 0.2, "p_value": 0.3,
             "std_all": 0.1 * i} for t in range(2, waves + 1) for i, a in enumerate(variables) for b in variables]
    d = riclpm_diagram(pd.DataFrame(rows), variables)
    n = len(rows)
    assert len(d.arrows) == n
    assert_no_overlap(d.svg, expected_labels=n)


def test_riclpm_uses_standardized_values_and_ri_note(riclpm_params):
    svg = riclpm_diagram(riclpm_params, ["alliance", "outcome"]).svg
    assert ">0.45<" in svg and ">0.12<" in svg and ">0.30<" not in svg
    assert "r(RI_alliance, RI_outcome) = 0.38" in svg
    clpm = riclpm_params.assign(lhs=riclpm_params["lhs"].str.replace("w_", ""),
                                rhs=riclpm_params["rhs"].str.replace("w_", ""))
    assert len(riclpm_diagram(clpm, ["alliance", "outcome"], prefix="").arrows) == 16
    with pytest.raises(AllianceStatsError, match="w_<variable>_<wave>"):
        riclpm_diagram(riclpm_params, ["empathy"])


def test_cycle_diagram_full_and_empty():
    t = pd.DataFrame({
        "from": ["empathy", "autonomy_support", "alliance", "alliance", "alliance", "autonomy", "competence",
                 "relatedness", "motivation", "engagement_within_lag1"],
        "to": ["alliance", "alliance", "autonomy", "competence", "relatedness", "motivation", "motivation",
               "motivation", "engagement", "alliance"],
        "estimate": [0.4, 0.3, 0.2, 0.5, 0.2, -0.05, 0.1, 0.3, 0.4, 0.12],
        "p_value": [0.001] * 5 + [0.6] + [0.01] * 4})
    d = cycle_diagram(t)
    assert_no_overlap(d.svg, expected_labels=10)
    assert ">0.12<" in d.svg  # the lagged feedback path was found under its lag name
    empty = cycle_diagram(None)
    assert_no_overlap(empty.svg, expected_labels=10)
    assert empty.svg.count(">n.e.<") == 10 and 'class="path sig"' not in empty.svg


def test_user_text_is_escaped_and_fonts_are_printable():
    evil = "<script>alert(1)</script>"
    t = pd.DataFrame({"from": [evil, "m", evil], "to": ["m", "y&z", "y&z"], "estimate": [1.0, 2.0, 3.0]})
    svg = mediation_diagram(t).svg
    assert "<script>" not in svg and "&lt;script&gt;alert(1)&lt;/script&gt;" in svg
    ET.fromstring(svg)  # well-formed XML
    sizes = [float(s) for s in re.findall(r'font-size="([\d.]+)"', svg)]
    assert sizes and min(sizes) >= 10


def test_deterministic(parallel_paths):
    assert mediation_diagram(parallel_paths).svg == mediation_diagram(parallel_paths.copy()).svg


def test_paths_table_layouts_and_errors():
    sem = pd.DataFrame({"lhs": ["m", "y", "m"], "op": ["~", "~", "~~"], "rhs": ["x", "m", "m"],
                        "estimate": [0.5, 0.4, 1.0], "ci_lower": [0.1, -0.2, 0.5], "ci_upper": [0.9, 0.6, 1.5]})
    t = paths_table(sem)
    assert t[["from", "to"]].values.tolist() == [["x", "m"], ["m", "y"]]
    assert t["significant"].tolist() == [True, False]
    eff = paths_table(pd.DataFrame({"path": ["x -> m", "x -> m -> y"], "estimate": [1.0, 2.0]}))
    assert eff[["from", "to"]].values.tolist() == [["x", "m"]]
    with pytest.raises(AllianceStatsError, match="'from' and 'to'"):
        paths_table(pd.DataFrame({"a": [1]}))
    with pytest.raises(AllianceStatsError, match="cannot draw paths from a int"):
        paths_table(3)


def _inside_and_apart(d):
    boxes = [n.box for n in d.nodes.values()] + [a.label_box for a in d.arrows if a.label_box is not None]
    for b in boxes:
        assert b.left >= 0 and b.top >= 0 and b.right <= d.width and b.bottom <= d.height, b
    nodes = list(d.nodes.values())
    for i, a in enumerate(nodes):
        for b in nodes[i + 1:]:
            assert not a.box.grow(5).overlaps(b.box), (a.key, b.key)


names = st.text(alphabet="abcdefghijklmnopqrstuvwxyz_", min_size=1, max_size=34)


@settings(max_examples=25, deadline=None)
@given(names=st.lists(names, min_size=3, max_size=5, unique=True), serial=st.booleans(),
       est=st.floats(-9.99, 9.99))
def test_mediation_layout_any_names(names, serial, est):
    x, *mediators, y = names
    rows = [(x, m) for m in mediators] + [(m, y) for m in mediators] + [(x, y)]
    if serial:
        rows += list(zip(mediators[:-1], mediators[1:]))
    t = pd.DataFrame({"from": [r[0] for r in rows], "to": [r[1] for r in rows], "estimate": est,
                      "ci_lower": est - 1, "ci_upper": est + 1})
    d = mediation_diagram(t, x, mediators, y, serial=serial)
    _inside_and_apart(d)
    assert d.label_collisions() == []


@settings(max_examples=15, deadline=None)
@given(long=names)
def test_cycle_and_riclpm_layouts_with_long_names(long):
    d = cycle_diagram(None, behaviours=(long, "empathy"), needs=("autonomy", long + "x", "relatedness"))
    _inside_and_apart(d)
    assert d.label_collisions() == []
    rows = [{"lhs": f"w_{a}_{t}", "op": "~", "rhs": f"w_{b}_{t - 1}", "estimate": 0.1, "p_value": 0.5}
            for t in (2, 3) for a in (long, "outcome") for b in (long, "outcome")]
    r = riclpm_diagram(pd.DataFrame(rows), [long, "outcome"])
    _inside_and_apart(r)
    assert r.label_collisions() == []
