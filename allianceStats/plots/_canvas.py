"""Drawing primitives shared by the figures: text measurement, boxes, arrows, figures sized in points.

Path diagrams are laid out in *points* (1/72 inch) with the y axis pointing down, so a text's measured size is its
size on the page, and an axes whose data limits are the layout's extent in points draws it at scale 1. Labels are
placed by geometry here (boxes, segments) and checked afterwards on the rendered figure by
:func:`allianceStats.plots.collisions.label_collisions`.

Every artist that the checker must know about carries a ``gid``: ``node:<key>`` (a node's text, with its box as the
text's bbox patch), ``path:<id>`` (an arrow's shaft), ``head:<id>`` (its head) and ``label:<id>`` (the arrow's label).
"""
from __future__ import annotations

import math
from functools import cache

import matplotlib
from matplotlib.backends.backend_agg import FigureCanvasAgg, RendererAgg
from matplotlib.figure import Figure
from matplotlib.font_manager import FontProperties
from matplotlib.lines import Line2D
from matplotlib.patches import Ellipse, FancyBboxPatch, Polygon

from ..report.svg import Box, Point  # the same rectangle geometry the report's SVG diagrams use

FONT_FAMILY = "DejaVu Sans"  # ships with matplotlib: the same metrics on every machine
NODE_FONT = 10.0
LABEL_FONT = 8.5
NOTE_FONT = 8.5
SIGNIFICANT = "#000000"
NONSIGNIFICANT = "#767676"
#: the smallest font (points, as printed at the figure's size) the collision check accepts
MIN_FONT = 7.0


@cache
def _renderer() -> RendererAgg:
    return RendererAgg(10, 10, 72)  # at 72 dpi a pixel is a point


def text_size(text: str, size: float, *, weight: str = "normal") -> tuple[float, float]:
    """Width and height (points) of ``text`` set in the figures' font at ``size`` points.

    >>> w, h = text_size("alliance", 10)
    >>> 35 < w < 50 and 7 < h < 13
    True
    """
    prop = FontProperties(family=FONT_FAMILY, size=size, weight=weight)
    lines = str(text).split("\n") or [""]
    widths, heights = [], []
    for line in lines:
        w, h, _ = _renderer().get_text_width_height_descent(line or " ", prop, ismath=False)
        widths.append(w)
        heights.append(h)
    return max(widths), sum(heights) + 0.2 * size * (len(lines) - 1)


def boundary_point(box: Box, toward: Point, shape: str = "rect") -> Point:
    """Where the ray from a node's centre toward ``toward`` leaves its rectangle or ellipse."""
    dx, dy = toward[0] - box.cx, toward[1] - box.cy
    if dx == 0 and dy == 0:
        return (box.cx, box.cy)
    if shape == "ellipse":
        a, b = box.w / 2, box.h / 2
        s = 1.0 / math.sqrt((dx / a) ** 2 + (dy / b) ** 2)
    else:
        sx = (box.w / 2) / abs(dx) if dx else math.inf
        sy = (box.h / 2) / abs(dy) if dy else math.inf
        s = min(sx, sy)
    return (box.cx + dx * s, box.cy + dy * s)


def new_figure(width_pt: float, height_pt: float, ax=None):
    """A figure of the layout's size (or the given axes), with data units = layout points, y down, no axis.

    Returns ``(figure, axes, scale)``: ``scale`` < 1 when a given axes is smaller than the layout, by which the
    caller shrinks its fonts so the drawing keeps its proportions.
    """
    if ax is None:
        fig = Figure(figsize=(width_pt / 72, height_pt / 72))
        FigureCanvasAgg(fig)
        ax = fig.add_axes((0, 0, 1, 1))
        scale = 1.0
    else:
        fig = ax.figure
        bbox = ax.get_position()
        w_in, h_in = fig.get_size_inches()
        scale = min(1.0, bbox.width * w_in * 72 / width_pt, bbox.height * h_in * 72 / height_pt)
    ax.set_xlim(0, width_pt)
    ax.set_ylim(height_pt, 0)
    ax.set_aspect("equal", adjustable="datalim" if scale < 1 or ax is not None else "box")
    ax.set_axis_off()
    return fig, ax, scale


def draw_node(ax, key: str, text: str, box: Box, shape: str, scale: float, *, size: float = NODE_FONT):
    """A node: its outline (a rounded box for an observed variable, an ellipse for a latent one) and centred text."""
    if shape == "ellipse":
        patch = Ellipse((box.cx, box.cy), box.w, box.h)
    else:
        patch = FancyBboxPatch((box.left, box.top), box.w, box.h, boxstyle="round,pad=0,rounding_size=3")
    patch.set(facecolor="white", edgecolor="black", linewidth=1.1 * max(scale, 0.5), zorder=3, gid=f"nodebox:{key}")
    ax.add_patch(patch)
    return ax.text(box.cx, box.cy, text, ha="center", va="center", fontsize=size * scale, family=FONT_FAMILY,
                   zorder=4, gid=f"node:{key}")


def draw_arrow(ax, ident: str, points: list[Point], *, significant: bool, both: bool = False, scale: float = 1.0,
               fixed: bool = False):
    """An arrow along ``points`` (layout points): a polyline shaft and filled heads (at both ends if ``both``)."""
    color = SIGNIFICANT if significant or fixed else NONSIGNIFICANT
    style = "-" if significant or fixed else (0, (5, 3))
    width = (1.3 if significant else 1.0) * max(scale, 0.5)
    head_len, head_w = 7.0 * max(scale, 0.5), 4.5 * max(scale, 0.5)

    def head(tip: Point, base: Point):
        dx, dy = tip[0] - base[0], tip[1] - base[1]
        n = math.hypot(dx, dy) or 1.0
        ux, uy = dx / n, dy / n
        bx, by = tip[0] - ux * head_len, tip[1] - uy * head_len
        return [tip, (bx - uy * head_w / 2, by + ux * head_w / 2), (bx + uy * head_w / 2, by - ux * head_w / 2)]

    pts = list(points)
    # shorten the shaft under the heads so the dashes end where the heads begin
    def pull(tip: Point, base: Point) -> Point:
        dx, dy = tip[0] - base[0], tip[1] - base[1]
        n = math.hypot(dx, dy) or 1.0
        return (tip[0] - dx / n * head_len * 0.8, tip[1] - dy / n * head_len * 0.8)

    shaft = pts[:]
    shaft[-1] = pull(pts[-1], pts[-2])
    if both:
        shaft[0] = pull(pts[0], pts[1])
    xs, ys = zip(*shaft)
    ax.add_line(Line2D(xs, ys, color=color, linewidth=width, linestyle=style, zorder=2, gid=f"path:{ident}",
                       solid_capstyle="butt"))
    ax.add_patch(Polygon(head(pts[-1], pts[-2]), closed=True, facecolor=color, edgecolor=color, linewidth=0,
                         zorder=2, gid=f"head:{ident}"))
    if both:
        ax.add_patch(Polygon(head(pts[0], pts[1]), closed=True, facecolor=color, edgecolor=color, linewidth=0,
                             zorder=2, gid=f"head:{ident}:start"))


def draw_label(ax, ident: str, text: str, box: Box, scale: float, *, size: float = LABEL_FONT):
    """An arrow's label: text on a white box (the box hides the line it sits on)."""
    return ax.text(box.cx, box.cy, text, ha="center", va="center", fontsize=size * scale, family=FONT_FAMILY,
                   zorder=5, gid=f"label:{ident}",
                   bbox={"boxstyle": "square,pad=0.15", "facecolor": "white", "edgecolor": "none"})


def style_context():
    """rc settings of every figure: the bundled font, text kept as text in SVG/PDF (selectable, sharp)."""
    return matplotlib.rc_context({"font.family": FONT_FAMILY, "svg.fonttype": "none", "pdf.fonttype": 42,
                                  "font.size": 9, "axes.titlesize": 10, "axes.labelsize": 9,
                                  "xtick.labelsize": 8.5, "ytick.labelsize": 8.5, "legend.fontsize": 8.5})


def figure(width_in: float, height_in: float, ax=None):
    """A plain figure and axes for the data plots (or the given axes' figure)."""
    if ax is not None:
        return ax.figure, ax
    fig = Figure(figsize=(width_in, height_in), layout="constrained")
    FigureCanvasAgg(fig)
    return fig, fig.add_subplot()
