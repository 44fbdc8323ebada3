"""Check a rendered figure for text that a reader cannot read: overlaps, clipping, tiny fonts, crossed labels.

:func:`label_collisions` draws the figure with matplotlib's Agg renderer and measures every text that was actually
drawn (titles, axis and tick labels, legends, annotations, node and arrow labels) by its rendered bounding box —
real font metrics, not estimates. It reports

- two texts that overlap (tick labels included, so a crowded axis fails);
- a text that sticks out of the figure (it would be cut off when saved);
- a text smaller than ``min_font`` points at the figure's size (the 10-wave diagram shrunk to 5 px labels);
- in path diagrams: an arrow label that sits on another arrow, on a node or on an arrowhead; an arrow that runs
  through a node it does not join; a node name wider than its box;
- a figure wider than ``max_width`` inches, when given (it would be shrunk to fit a page).

The tests render every figure type at the demo size and at stress sizes and require an empty list.

Example
-------
>>> from matplotlib.figure import Figure
>>> fig = Figure(figsize=(3, 2), layout="constrained")
>>> ax = fig.add_subplot()
>>> _ = ax.text(0.5, 0.5, "one", fontsize=12)
>>> _ = ax.text(0.52, 0.5, "two", fontsize=12)
>>> label_collisions(fig)[0]
"text 'one' overlaps text 'two'"
"""
from __future__ import annotations

from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.lines import Line2D
from matplotlib.text import Text
from matplotlib.transforms import Bbox

from ._canvas import MIN_FONT, Box

__all__ = ["label_collisions"]

_TOL = 0.75  # pixels of overlap tolerated (anti-aliasing, rounding)


def _drawn_tick_labels(ax: Axes) -> list[Text]:
    out = []
    if not ax.axison or not ax.get_visible():
        return out
    for axis in (ax.xaxis, ax.yaxis):
        if not axis.get_visible():
            continue
        lo, hi = sorted(axis.get_view_interval())
        span = (hi - lo) or 1.0
        for tick in [*axis.get_major_ticks(), *axis.get_minor_ticks()]:
            loc = tick.get_loc()
            if loc is None or not (lo - 1e-9 * span <= loc <= hi + 1e-9 * span):
                continue
            for label in (tick.label1, tick.label2):
                if label.get_visible() and label.get_text().strip():
                    out.append(label)
    return out


def _texts(fig) -> list[Text]:
    ticks: set[int] = set()
    for ax in fig.get_axes():
        for axis in (ax.xaxis, ax.yaxis):
            for tick in [*axis.get_major_ticks(), *axis.get_minor_ticks()]:
                ticks.update({id(tick.label1), id(tick.label2)})
    texts = []
    for t in fig.findobj(Text):
        if id(t) in ticks or not t.get_visible() or not t.get_text().strip():
            continue
        ax = t.axes
        if ax is not None and (not ax.get_visible() or (not ax.axison and t in (ax.xaxis.label, ax.yaxis.label,
                                                                                 ax.xaxis.offsetText,
                                                                                 ax.yaxis.offsetText))):
            continue
        texts.append(t)
    for ax in fig.get_axes():
        texts.extend(_drawn_tick_labels(ax))
    seen, unique = set(), []
    for t in texts:
        if id(t) not in seen:
            seen.add(id(t))
            unique.append(t)
    return unique


def _box(bb: Bbox, grow: float = 0.0) -> Box:
    return Box((bb.x0 + bb.x1) / 2, (bb.y0 + bb.y1) / 2, bb.width + 2 * grow, bb.height + 2 * grow)


def _overlap(a: Bbox, b: Bbox) -> bool:
    return (min(a.x1, b.x1) - max(a.x0, b.x0) > _TOL) and (min(a.y1, b.y1) - max(a.y0, b.y0) > _TOL)


def _name(t: Text) -> str:
    text = t.get_text().replace("\n", " ")
    return repr(text if len(text) <= 40 else text[:39] + "…")


def label_collisions(fig, *, min_font: float = MIN_FONT, max_width: float | None = None) -> list[str]:
    """Every legibility problem of a rendered figure, as sentences (empty when the figure is clean).

    Parameters
    ----------
    fig : matplotlib.figure.Figure
        The figure, as returned by the ``plot_*`` functions (drawn here with Agg; the figure is not changed).
    min_font : float
        Smallest acceptable font size, in points at the figure's size.
    max_width : float, optional
        Widest acceptable figure, in inches (e.g. 7.5 for a journal page); not checked when None.

    Returns
    -------
    list of str
        One sentence per problem: what overlaps what, which text is cut off or too small.

    Examples
    --------
    >>> from matplotlib.figure import Figure
    >>> fig = Figure(figsize=(3, 2), layout="constrained")
    >>> _ = fig.add_subplot().set_title("fine")
    >>> label_collisions(fig)
    []
    """
    if not hasattr(fig.canvas, "get_renderer"):
        FigureCanvasAgg(fig)
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    problems: list[str] = []
    width_in = fig.get_size_inches()[0]
    if max_width is not None and width_in > max_width + 1e-9:
        problems.append(f"figure is {width_in:.1f} in wide (at most {max_width:g} in)")
    texts = _texts(fig)
    extents = {id(t): t.get_window_extent(renderer) for t in texts}
    fig_box = fig.bbox
    for t in texts:
        bb = extents[id(t)]
        if bb.width <= 0 or bb.height <= 0:
            continue
        # 2 px: a text's box includes the descent below digits, which draw nothing there
        if bb.x0 < fig_box.x0 - 2 or bb.y0 < fig_box.y0 - 2 or bb.x1 > fig_box.x1 + 2 or bb.y1 > fig_box.y1 + 2:
            problems.append(f"text {_name(t)} is cut off at the figure's edge")
        if t.get_fontsize() < min_font - 1e-9:
            problems.append(f"text {_name(t)} is {t.get_fontsize():.1f} pt (at least {min_font:g} pt)")
    for i, a in enumerate(texts):
        for b in texts[i + 1:]:
            if _overlap(extents[id(a)], extents[id(b)]):
                problems.append(f"text {_name(a)} overlaps text {_name(b)}")
    problems.extend(_diagram_problems(fig, texts, extents, renderer))
    return problems


def _diagram_problems(fig, texts, extents, renderer) -> list[str]:
    """Arrow labels against other arrows, nodes and heads; arrows through nodes; node names outside their boxes."""
    problems = []
    for ax in fig.get_axes():
        edges = getattr(ax, "_alliance_edges", None)
        if not edges:
            continue
        lines = {a.get_gid()[5:]: a for a in ax.get_children() if isinstance(a, Line2D)
                 and str(a.get_gid()).startswith("path:")}
        heads = [(str(a.get_gid())[5:].split(":")[0], a.get_window_extent(renderer)) for a in ax.patches
                 if str(a.get_gid()).startswith("head:")]
        nodes = {str(a.get_gid())[8:]: a.get_window_extent(renderer) for a in ax.patches
                 if str(a.get_gid()).startswith("nodebox:")}
        segments = {}
        for ident, line in lines.items():
            pts = line.get_transform().transform(line.get_xydata())
            segments[ident] = list(zip(map(tuple, pts[:-1]), map(tuple, pts[1:])))
        for t in texts:
            gid = str(t.get_gid())
            if t.axes is not ax:
                continue
            bb = extents[id(t)]
            if gid.startswith("label:"):
                own = gid[6:]
                box = _box(bb, 0.5)
                for ident, segs in segments.items():
                    if ident != own and any(box.hits_segment(p, q) for p, q in segs):
                        src, dst = edges[ident][2:]
                        problems.append(f"label {_name(t)} sits on the arrow {src} -> {dst}")
                for key, nb in nodes.items():
                    if _overlap(bb, nb):
                        problems.append(f"label {_name(t)} overlaps node {key}")
                for ident, hb in heads:
                    if ident != own and _overlap(bb, hb):
                        src, dst = edges[ident][2:]
                        problems.append(f"label {_name(t)} covers the arrowhead of {src} -> {dst}")
            elif gid.startswith("node:"):
                key = gid[5:]
                nb = nodes.get(key)
                if nb is not None and (bb.x0 < nb.x0 - 1 or bb.x1 > nb.x1 + 1 or bb.y0 < nb.y0 - 1
                                       or bb.y1 > nb.y1 + 1):
                    problems.append(f"node name {_name(t)} is wider than its box")
        for ident, segs in segments.items():
            src_key, dst_key, src, dst = edges[ident]
            for key, nb in nodes.items():
                if key in (src_key, dst_key):
                    continue
                box = _box(nb, -1.0)
                if box.w > 0 and box.h > 0 and any(box.hits_segment(p, q) for p, q in segs):
                    problems.append(f"the arrow {src} -> {dst} runs through node {key}")
    return problems
