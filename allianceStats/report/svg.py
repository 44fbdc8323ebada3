"""Path diagrams written directly as SVG: geometry, label placement and serialisation.

No system binary (graphviz) is needed. A diagram is a set of rectangular or elliptical *nodes* and
straight (or once-bent) *arrows* between them; each arrow may carry a text label. Labels sit in white
boxes placed near the arrow's midpoint and moved along and across the arrow until the box touches no
arrow, no node and no other label (checked geometrically; the tests check the placed result again).

Output is deterministic (same input, same bytes), black on white, fonts of at least 11 px, so the
figures print well. All text is XML-escaped.

Example
-------
>>> d = Diagram(width=300, height=120)
>>> _ = d.add_node("x", "Alliance", 60, 60)
>>> _ = d.add_node("y", "Outcome", 240, 60)
>>> _ = d.add_arrow("x", "y", label="0.31 [0.12, 0.50]", significant=True)
>>> svg = d.to_svg(title="x to y")
>>> svg.startswith("<svg") and "0.31 [0.12, 0.50]" in svg
True
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from xml.sax.saxutils import escape as _xml_escape

FONT_FAMILY = "DejaVu Sans, Helvetica, Arial, sans-serif"
NODE_FONT = 13
LABEL_FONT = 11
#: generous average glyph width as a fraction of the font size, so estimated boxes cover the real text
CHAR_WIDTH = 0.62
SIGNIFICANT_COLOR = "#000000"
NONSIGNIFICANT_COLOR = "#6e6e6e"

Point = tuple[float, float]


def escape(text: object) -> str:
    """XML-escape any value for use in SVG text or attributes (quotes included).

    >>> escape('<b a="1">&</b>')
    '&lt;b a=&quot;1&quot;&gt;&amp;&lt;/b&gt;'
    """
    return _xml_escape(str(text), {'"': "&quot;", "'": "&#39;"})


def text_width(text: str, size: float) -> float:
    """Conservative width estimate of ``text`` at font ``size`` (px); no font metrics needed.

    >>> round(text_width("alliance", 10), 1)
    49.6
    """
    return max(len(text), 1) * size * CHAR_WIDTH


def node_width(text: str, min_width: float = 70) -> float:
    """Width (px) of the box drawn around a node's text, so layouts can be sized before drawing.

    >>> node_width("x"), round(node_width("autonomy_support"), 1)
    (70, 147.0)
    """
    return max(min_width, text_width(text, NODE_FONT) + 18)


@dataclass(frozen=True)
class Box:
    """Axis-aligned rectangle given by its centre ``(cx, cy)`` and size ``(w, h)``.

    >>> b = Box(10, 10, 4, 2)
    >>> b.hits_segment((0, 10), (20, 10)), b.overlaps(Box(20, 10, 4, 2))
    (True, False)
    """

    cx: float
    cy: float
    w: float
    h: float

    @property
    def left(self) -> float:
        return self.cx - self.w / 2

    @property
    def right(self) -> float:
        return self.cx + self.w / 2

    @property
    def top(self) -> float:
        return self.cy - self.h / 2

    @property
    def bottom(self) -> float:
        return self.cy + self.h / 2

    def grow(self, margin: float) -> Box:
        return Box(self.cx, self.cy, self.w + 2 * margin, self.h + 2 * margin)

    def overlaps(self, other: Box) -> bool:
        """True when the two rectangles share interior area."""
        return (self.left < other.right and other.left < self.right
                and self.top < other.bottom and other.top < self.bottom)

    def contains(self, p: Point) -> bool:
        return self.left <= p[0] <= self.right and self.top <= p[1] <= self.bottom

    def hits_segment(self, p: Point, q: Point) -> bool:
        """True when segment ``p``–``q`` passes through the rectangle (Liang–Barsky clipping)."""
        dx, dy = q[0] - p[0], q[1] - p[1]
        t0, t1 = 0.0, 1.0
        for edge_p, edge_q in ((-dx, p[0] - self.left), (dx, self.right - p[0]),
                               (-dy, p[1] - self.top), (dy, self.bottom - p[1])):
            if edge_p == 0:
                if edge_q < 0:
                    return False
                continue
            t = edge_q / edge_p
            if edge_p < 0:
                t0 = max(t0, t)
            else:
                t1 = min(t1, t)
            if t0 > t1:
                return False
        return True

    def boundary_point(self, toward: Point) -> Point:
        """Where the ray from the centre toward ``toward`` leaves the rectangle."""
        dx, dy = toward[0] - self.cx, toward[1] - self.cy
        if dx == 0 and dy == 0:
            return (self.cx, self.cy)
        sx = (self.w / 2) / abs(dx) if dx else math.inf
        sy = (self.h / 2) / abs(dy) if dy else math.inf
        s = min(sx, sy)
        return (self.cx + dx * s, self.cy + dy * s)


@dataclass(frozen=True)
class Node:
    """A variable: a box (observed) or an ellipse (latent) with a centred text."""

    key: str
    text: str
    box: Box
    shape: str = "rect"


@dataclass
class Arrow:
    """A directed path ``points[0]`` → ``points[-1]`` (clipped to the node boxes), with an optional label."""

    source: str
    target: str
    points: list[Point]
    label: str = ""
    significant: bool = True
    label_box: Box | None = None
    bidirectional: bool = False
    label_at: float | None = None

    def segments(self) -> list[tuple[Point, Point]]:
        return list(zip(self.points[:-1], self.points[1:]))


@dataclass
class Diagram:
    """A path diagram in pixel coordinates (origin top left). Add nodes, then arrows, then ``to_svg()``."""

    width: float
    height: float
    nodes: dict[str, Node] = field(default_factory=dict)
    arrows: list[Arrow] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def add_node(self, key: str, text: str, cx: float, cy: float, *, shape: str = "rect",
                 min_width: float = 70) -> Node:
        """Place a node centred at ``(cx, cy)``; its width follows its text (:func:`node_width`)."""
        w = node_width(text, min_width)
        node = Node(key, text, Box(cx, cy, w, NODE_FONT * 2.4), shape)
        self.nodes[key] = node
        return node

    def add_arrow(self, source: str, target: str, *, label: str = "", significant: bool = True,
                  bidirectional: bool = False, label_at: float | None = None) -> Arrow:
        """Join two nodes; the route bends once, sideways, if a straight line would cross another node.

        ``label_at`` (0–1, fraction of the arrow from its source) is the preferred label position;
        by default the label goes to the middle, or toward the end whose node has fewer arrows (where
        a fan of arrows has spread out).
        """
        a, b = self.nodes[source].box, self.nodes[target].box
        route = self._route(source, target, a, b)
        arrow = Arrow(source, target, route, label, significant, bidirectional=bidirectional,
                      label_at=label_at)
        self.arrows.append(arrow)
        return arrow

    def _blocked(self, pts: list[Point], skip: tuple[str, ...]) -> bool:
        for key, node in self.nodes.items():
            if key in skip:
                continue
            box = node.box.grow(4)
            if any(box.hits_segment(p, q) for p, q in zip(pts[:-1], pts[1:])):
                return True
        return False

    def _route(self, source: str, target: str, a: Box, b: Box) -> list[Point]:
        straight = [a.boundary_point((b.cx, b.cy)), b.boundary_point((a.cx, a.cy))]
        if not self._blocked(straight, (source, target)):
            return straight
        dx, dy = b.cx - a.cx, b.cy - a.cy
        length = math.hypot(dx, dy) or 1.0
        nx, ny = -dy / length, dx / length
        mx, my = (a.cx + b.cx) / 2, (a.cy + b.cy) / 2
        for offset in (30, -30, 50, -50, 75, -75, 105, -105, 140, -140):
            bend = (mx + nx * offset, my + ny * offset)
            pts = [a.boundary_point(bend), bend, b.boundary_point(bend)]
            if not self._blocked(pts, (source, target)):
                return pts
        return straight

    def route_via(self, source: str, target: str, via: list[Point], *, label: str = "",
                  significant: bool = True) -> Arrow:
        """Join two nodes through explicit waypoints (e.g. a feedback loop drawn below the diagram)."""
        a, b = self.nodes[source].box, self.nodes[target].box
        pts = [a.boundary_point(via[0]), *via, b.boundary_point(via[-1])]
        arrow = Arrow(source, target, pts, label, significant)
        self.arrows.append(arrow)
        return arrow

    # -- label placement ---------------------------------------------------------------------------
    def place_labels(self) -> None:
        """Give every labelled arrow a label box that touches no arrow, no node and no other label.

        Candidates are tried from the arrow's midpoint outward, along the arrow (fractions of its
        length) and across it (perpendicular offsets, both sides). When no free spot exists the least
        crowded candidate is used; :meth:`label_collisions` then reports it.
        """
        placed: list[Box] = []
        for arrow in self.arrows:
            if not arrow.label:
                continue
            w = text_width(arrow.label, LABEL_FONT) + 8
            h = LABEL_FONT + 7
            best, best_score = None, math.inf
            for cand in self._label_candidates(arrow, w, h):
                score = self._collisions(cand, placed)
                if score == 0:
                    best = cand
                    break
                if score < best_score:
                    best, best_score = cand, score
            arrow.label_box = best
            placed.append(best)

    def _label_candidates(self, arrow: Arrow, w: float, h: float):
        segs = arrow.segments()
        lengths = [math.dist(p, q) for p, q in segs]
        total = sum(lengths) or 1.0
        if arrow.label_at is not None:
            start = arrow.label_at
        else:
            deg = {key: 0 for key in self.nodes}
            for other in self.arrows:
                deg[other.source] += 1
                deg[other.target] += 1
            start = 0.5 if deg[arrow.source] == deg[arrow.target] else (
                0.68 if deg[arrow.source] > deg[arrow.target] else 0.32)
        fractions = [start]
        for step in (0.08, 0.16, 0.24, 0.32, 0.4):
            fractions += [f for f in (start + step, start - step) if 0.15 <= f <= 0.85]
        for frac in fractions:
            # locate the point at fraction `frac` of the polyline's length
            dist, k = frac * total, 0
            while k < len(segs) - 1 and dist > lengths[k]:
                dist -= lengths[k]
                k += 1
            (px, py), (qx, qy) = segs[k]
            t = dist / (lengths[k] or 1.0)
            mx, my = px + (qx - px) * t, py + (qy - py) * t
            ux, uy = (qx - px) / (lengths[k] or 1.0), (qy - py) / (lengths[k] or 1.0)
            nx, ny = -uy, ux
            # distance across the arrow at which the box just clears the line, plus a gap
            clear = abs(nx) * w / 2 + abs(ny) * h / 2 + 3
            for extra in (0, 8, 18, 30):
                for side in (1, -1):
                    off = side * (clear + extra)
                    yield Box(mx + nx * off, my + ny * off, w, h)

    def _collisions(self, box: Box, placed: list[Box]) -> int:
        n = 0
        inner = box.grow(1)
        if box.left < 0 or box.top < 0 or box.right > self.width or box.bottom > self.height:
            n += 5
        for arrow in self.arrows:
            n += sum(inner.hits_segment(p, q) for p, q in arrow.segments())
        n += sum(inner.overlaps(node.box) for node in self.nodes.values())
        n += sum(inner.overlaps(other) for other in placed)
        return n

    def label_collisions(self) -> list[str]:
        """Describe every label that overlaps an arrow, a node or another label (empty when clean)."""
        problems = []
        boxes = [(a, a.label_box) for a in self.arrows if a.label_box is not None]
        for i, (arrow, box) in enumerate(boxes):
            for other in self.arrows:
                if any(box.hits_segment(p, q) for p, q in other.segments()):
                    problems.append(f"label {arrow.label!r} crosses arrow {other.source}->{other.target}")
            for node in self.nodes.values():
                if box.overlaps(node.box):
                    problems.append(f"label {arrow.label!r} overlaps node {node.key}")
            for other_arrow, other_box in boxes[i + 1:]:
                if box.overlaps(other_box):
                    problems.append(f"label {arrow.label!r} overlaps label {other_arrow.label!r}")
        return problems

    # -- output ------------------------------------------------------------------------------------
    @property
    def svg(self) -> str:
        """The diagram as SVG text (same as ``to_svg()`` without title)."""
        return self.to_svg()

    def _repr_svg_(self) -> str:  # Jupyter display
        return self.to_svg()

    def to_svg(self, *, title: str = "", description: str = "") -> str:
        """Serialise to a standalone ``<svg>`` element (places labels first if not yet placed)."""
        if any(a.label and a.label_box is None for a in self.arrows):
            self.place_labels()
        extra_h = 18 * len(self.notes)
        height = self.height + extra_h
        out = [
            f'<svg xmlns="http://www.w3.org/2000/svg" class="diagram" role="img" '
            f'width="{self.width:.0f}" height="{height:.0f}" viewBox="0 0 {self.width:.0f} {height:.0f}" '
            f'font-family="{FONT_FAMILY}">',
            f"<title>{escape(title)}</title>" if title else "",
            f"<desc>{escape(description)}</desc>" if description else "",
            "<defs>"
            '<marker id="ah-sig" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="8" markerHeight="8" '
            f'orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" fill="{SIGNIFICANT_COLOR}"/></marker>'
            '<marker id="ah-ns" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="8" markerHeight="8" '
            f'orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" fill="{NONSIGNIFICANT_COLOR}"/></marker>'
            "</defs>",
            f'<rect x="0" y="0" width="{self.width:.0f}" height="{height:.0f}" fill="#ffffff"/>',
        ]
        for arrow in self.arrows:
            out.append(self._arrow_svg(arrow))
        for node in self.nodes.values():
            out.append(self._node_svg(node))
        for arrow in self.arrows:
            if arrow.label and arrow.label_box is not None:
                b = arrow.label_box
                out.append(
                    f'<g class="label"><rect x="{b.left:.1f}" y="{b.top:.1f}" width="{b.w:.1f}" '
                    f'height="{b.h:.1f}" fill="#ffffff" stroke="#d0d0d0" stroke-width="0.6"/>'
                    f'<text x="{b.cx:.1f}" y="{b.cy + LABEL_FONT * 0.36:.1f}" font-size="{LABEL_FONT}" '
                    f'text-anchor="middle" fill="#000000">{escape(arrow.label)}</text></g>')
        for i, note in enumerate(self.notes):
            out.append(f'<text class="note" x="8" y="{self.height + 14 + 18 * i:.0f}" font-size="11" '
                       f'fill="#000000">{escape(note)}</text>')
        out.append("</svg>")
        return "".join(part for part in out if part)

    @staticmethod
    def _arrow_svg(arrow: Arrow) -> str:
        color = SIGNIFICANT_COLOR if arrow.significant else NONSIGNIFICANT_COLOR
        marker = "ah-sig" if arrow.significant else "ah-ns"
        dash = "" if arrow.significant else ' stroke-dasharray="6 4"'
        width = 1.8 if arrow.significant else 1.3
        d = " ".join(f"{'M' if i == 0 else 'L'}{x:.1f},{y:.1f}" for i, (x, y) in enumerate(arrow.points))
        start = f' marker-start="url(#{marker})"' if arrow.bidirectional else ""
        cls = "path sig" if arrow.significant else "path ns"
        return (f'<path class="{cls}" data-from="{escape(arrow.source)}" data-to="{escape(arrow.target)}" '
                f'd="{d}" fill="none" stroke="{color}" stroke-width="{width}"{dash}{start} '
                f'marker-end="url(#{marker})"/>')

    @staticmethod
    def _node_svg(node: Node) -> str:
        b = node.box
        if node.shape == "ellipse":
            shape = (f'<ellipse cx="{b.cx:.1f}" cy="{b.cy:.1f}" rx="{b.w / 2:.1f}" ry="{b.h / 2:.1f}" '
                     'fill="#ffffff" stroke="#000000" stroke-width="1.4"/>')
        else:
            shape = (f'<rect x="{b.left:.1f}" y="{b.top:.1f}" width="{b.w:.1f}" height="{b.h:.1f}" rx="3" '
                     'fill="#ffffff" stroke="#000000" stroke-width="1.4"/>')
        return (f'<g class="node" data-key="{escape(node.key)}">{shape}<text x="{b.cx:.1f}" '
                f'y="{b.cy + NODE_FONT * 0.36:.1f}" font-size="{NODE_FONT}" text-anchor="middle" '
                f'fill="#000000">{escape(node.text)}</text></g>')
