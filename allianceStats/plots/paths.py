"""Path diagrams of any fitted SEM, panel or mediation model, drawn from its parameter table (semPlot / tidySEM-like).

The diagram is built from the lavaan-style table every such result has (``lhs, op, rhs, label, estimate, ...``):
regressions ``y ~ x`` are arrows x → y, loadings ``F =~ x`` arrows from the latent F (an ellipse) to its indicator
x (a box), covariances ``a ~~ b`` between two variables double-headed arrows; variances and intercepts are in the
table, not on the drawing.

Layout (Sugiyama-style layered drawing): variables that no arrow points to are on the left, every other variable one
column right of its furthest predictor (longest-path layering), variables in a column ordered by the mean position
of their predictors (barycentre heuristic) to keep crossings few. A latent variable's indicators stand beside it:
to its left in the first column, to its right in the last, below it in between. An arrow that would run through a
node bends around it. Each label sits on its own arrow at the first place (tried from the middle outward) where it
touches no other arrow, arrowhead, node or label; when none is free, the columns and rows are spread and the layout
is tried again, so labels never overlap (checked on the rendered figure by
:func:`allianceStats.plots.collisions.label_collisions`).

Panel models (``fit_clpm``, ``fit_riclpm``, ``fit_dpm``) are drawn as their within-person lagged paths: waves as
columns and variables as rows for up to four waves of two variables (Hamaker, Kuiper & Grasman 2015, figure 2);
larger designs as *small multiples*, one panel per lag (wave t−1 → t), wrapped into rows, or one panel for every
lag when the lagged estimates are equal across waves (``constraints="lagged"``). Random-intercept correlations
are printed below.

A path is drawn solid black when its interval excludes zero (without one, when p < ``alpha``), dashed grey
otherwise, so the distinction survives black-and-white printing; fixed parameters are solid and labelled without
an interval. Figures are vector-friendly (text stays text in SVG / PDF) and sized in points, so a saved figure
prints at its size with 8.5-point labels.

Example
-------
>>> import pandas as pd
>>> t = pd.DataFrame({"lhs": ["m", "y", "y"], "op": ["~", "~", "~"], "rhs": ["x", "m", "x"],
...                   "label": ["a", "b", "c_prime"], "estimate": [0.5, 0.4, 0.1], "std_error": [0.1, 0.1, 0.1],
...                   "ci_lower": [0.3, 0.2, -0.1], "ci_upper": [0.7, 0.6, 0.3], "p_value": [0.001, 0.001, 0.3]})
>>> fig = plot_paths(t)
>>> from allianceStats.plots import label_collisions
>>> label_collisions(fig)
[]
"""
from __future__ import annotations

import math
import re
import textwrap
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from ..data.checks import check_bool, check_choice
from ..errors import OptionError
from ..formatting import format_number, row_digits
from ._canvas import (
    FONT_FAMILY,
    LABEL_FONT,
    NODE_FONT,
    NOTE_FONT,
    Box,
    Point,
    boundary_point,
    draw_arrow,
    draw_label,
    draw_node,
    new_figure,
    style_context,
    text_size,
)

__all__ = ["plot_paths", "parameter_table"]

_MARGIN = 8.0
_MAX_WIDTH = 700.0  # points: wider diagrams put each interval under its estimate
_LABEL_PAD = 2.0


# ---------------------------------------------------------------------------------------------------------------
# the table
# ---------------------------------------------------------------------------------------------------------------
def parameter_table(result) -> pd.DataFrame:
    """The lavaan-style parameter table behind a result's diagram (``lhs, op, rhs, label, estimate, ...``).

    Parameters
    ----------
    result : result or DataFrame
        A fitted SEM / panel / mediation result (its ``params`` when that has ``lhs, op, rhs``, else its
        ``paths``), or such a table itself.

    Returns
    -------
    DataFrame
        The table, with ``label``, ``std_error``, ``ci_lower``, ``ci_upper``, ``p_value`` and ``std_all`` added
        as empty columns where absent.

    Examples
    --------
    >>> import pandas as pd
    >>> parameter_table(pd.DataFrame({"lhs": ["y"], "op": ["~"], "rhs": ["x"], "estimate": [1.0]})).shape
    (1, 10)
    """
    table = None
    if isinstance(result, pd.DataFrame):
        table = result
    else:
        for name in ("params", "paths"):
            try:
                candidate = getattr(result, name, None)
            except Exception:  # a property that cannot be computed for this result
                candidate = None
            if isinstance(candidate, pd.DataFrame) and {"lhs", "op", "rhs"} <= set(candidate.columns):
                table = candidate
                break
    if table is None or not {"lhs", "op", "rhs", "estimate"} <= set(table.columns):
        found = ", ".join(map(str, table.columns)) if isinstance(table, pd.DataFrame) else type(result).__name__
        raise OptionError(f"plot_paths needs a lavaan-style parameter table (columns lhs, op, rhs, estimate); "
                          f"found {found}. Pass a fitted SEM, panel or mediation result, or its params / paths.")
    out = table.copy()
    for col in ("label", "std_error", "ci_lower", "ci_upper", "p_value", "std_all"):
        if col not in out.columns:
            out[col] = "" if col == "label" else np.nan
    out["label"] = out["label"].fillna("").astype(str)
    for col in ("lhs", "op", "rhs"):
        out[col] = out[col].astype(str)
    return out.reset_index(drop=True)


def _significant(row, alpha: float) -> bool:
    lo, hi = row["ci_lower"], row["ci_upper"]
    if pd.notna(lo) and pd.notna(hi) and not (lo == hi):
        return bool(lo > 0 or hi < 0)
    if pd.notna(row["p_value"]):
        return bool(row["p_value"] < alpha)
    return True


def _fixed(row) -> bool:
    se = row["std_error"]
    return bool((pd.isna(se) or se == 0) and pd.isna(row.get("statistic", np.nan)) and row["op"] != ":=")


def _edge_text(row, what: str, show_ci: bool, show_labels: bool, digits: int | None) -> str:
    value = row[what]
    if pd.isna(value):
        return "n.e."
    fixed = _fixed(row)
    d = digits if digits is not None else (2 if what == "std_all" else row_digits(row["std_error"], value))
    text = format_number(value, d, bounded=what == "std_all")
    if fixed and what == "estimate":
        text += " (fixed)"
    elif show_ci and what == "estimate" and pd.notna(row["ci_lower"]) and pd.notna(row["ci_upper"]):
        text += f" [{format_number(row['ci_lower'], d)}, {format_number(row['ci_upper'], d)}]"
    label = row["label"]
    if show_labels and label and len(label) <= 10 and not re.fullmatch(r"\.?p\d+\.?", label):
        text = f"{label} = {text}"
    return text


# ---------------------------------------------------------------------------------------------------------------
# the graph and its layout
# ---------------------------------------------------------------------------------------------------------------
@dataclass
class _Edge:
    ident: str
    src: str
    dst: str
    kind: str  # "reg", "load", "cov"
    text: str
    significant: bool
    fixed: bool = False
    prefer: tuple[float, ...] = (0.5, 0.4, 0.6, 0.3, 0.7, 0.35, 0.65, 0.25, 0.75, 0.45, 0.55, 0.2, 0.8)
    points: list[Point] = field(default_factory=list)
    label_box: Box | None = None


@dataclass
class _Graph:
    names: dict[str, str]  # key -> displayed text
    shapes: dict[str, str]  # key -> "rect" | "ellipse"
    edges: list[_Edge]
    layers: dict[str, int] | None = None  # fixed columns (panels); None: longest-path layering
    order: list[str] | None = None  # fixed order within columns (panels)
    title: str = ""


@dataclass
class _Layout:
    boxes: dict[str, Box]
    edges: list[_Edge]
    width: float
    height: float
    title: str = ""
    notes: list[str] = field(default_factory=list)
    problems: int = 0


def _node_box(text: str, shape: str, cx: float = 0.0, cy: float = 0.0) -> Box:
    w, h = text_size(text, NODE_FONT)
    if shape == "ellipse":
        return Box(cx, cy, w * 1.25 + 18, h * 1.6 + 14)
    return Box(cx, cy, w + 16, h + 12)


def _layers(graph: _Graph, structural: list[str]) -> dict[str, int]:
    if graph.layers is not None:
        return {k: graph.layers[k] for k in structural}
    preds: dict[str, list[str]] = {k: [] for k in structural}
    for e in graph.edges:
        if e.kind == "reg" and e.src in preds and e.dst in preds and e.src != e.dst:
            preds[e.dst].append(e.src)
    layer: dict[str, int] = {}
    visiting: set[str] = set()

    def depth(k: str) -> int:
        if k in layer:
            return layer[k]
        if k in visiting:  # a feedback loop: the back edge does not push the column further
            return 0
        visiting.add(k)
        d = 1 + max((depth(p) for p in preds[k]), default=-1)
        visiting.discard(k)
        layer[k] = d
        return d

    for k in structural:
        depth(k)
    return layer


def _layout(graph: _Graph, col_gap: float, row_gap: float, load_gap: float = 46.0) -> _Layout:
    loads = [e for e in graph.edges if e.kind == "load"]
    regressed = {k for e in graph.edges if e.kind == "reg" for k in (e.src, e.dst)}
    latents = list(dict.fromkeys(e.src for e in loads))
    indicators: dict[str, list[str]] = {}
    placed_ind: set[str] = set()
    for e in loads:
        if e.dst not in regressed and e.dst not in latents and e.dst not in placed_ind:
            indicators.setdefault(e.src, []).append(e.dst)
            placed_ind.add(e.dst)
    structural = [k for k in graph.names if k not in placed_ind]
    layer = _layers(graph, structural)
    n_layers = max(layer.values(), default=0) + 1
    # an arrow across several columns passes through a placeholder in each column between (Sugiyama's dummy
    # nodes), so it runs beside the variables there instead of through them, and its label has room
    dummy_h = text_size("0", LABEL_FONT)[1] + 2 * _LABEL_PAD + 10
    chains: dict[str, list[str]] = {}
    preds: dict[str, list[str]] = {}
    dummy_layer: dict[str, int] = {}
    for e in graph.edges:
        if e.kind == "load" or e.src not in layer or e.dst not in layer:
            continue
        a, b = layer[e.src], layer[e.dst]
        lo, hi = min(a, b), max(a, b)
        first, last = (e.src, e.dst) if a <= b else (e.dst, e.src)
        chain = [f"\x00{e.ident}\x00{c}" for c in range(lo + 1, hi)]
        if chain:
            chains[e.ident] = chain
            dummy_layer.update({d: c for d, c in zip(chain, range(lo + 1, hi))})
        seq = [first, *chain, last]
        if lo != hi:
            for u, v in zip(seq[:-1], seq[1:]):
                preds.setdefault(v, []).append(u)
    columns: list[list[str]] = [[] for _ in range(n_layers)]
    for k in (graph.order or structural):
        if k in layer:
            columns[layer[k]].append(k)
    for d, c in dummy_layer.items():
        columns[c].append(d)
    if graph.order is None:  # barycentre sweeps: order a column by its predictors' positions
        for _ in range(2):
            pos = {k: i for col in columns for i, k in enumerate(col)}
            for c in range(1, n_layers):
                columns[c].sort(key=lambda k: np.mean([pos[p] for p in preds.get(k, []) if p in pos] or [pos[k]]))
                pos.update({k: i for i, k in enumerate(columns[c])})
    side = {k: ("left" if layer[k] == 0 else "right" if layer[k] == n_layers - 1 else "below")
            for k in indicators}
    base = {k: _node_box(graph.names[k], graph.shapes[k]) for k in graph.names}
    base.update({d: Box(0, 0, 2, dummy_h) for d in dummy_layer})
    ind_gap = 8.0

    def block(k: str) -> tuple[float, float, float, float]:
        """Extents of a node with its indicators around its centre: left, right, up, down."""
        b = base[k]
        left, right, up, down = b.w / 2, b.w / 2, b.h / 2, b.h / 2
        inds = indicators.get(k, [])
        if inds:
            iw = max(base[i].w for i in inds)
            stack = sum(base[i].h for i in inds) + ind_gap * (len(inds) - 1)
            if side[k] == "below":
                row = sum(base[i].w for i in inds) + ind_gap * (len(inds) - 1)
                left, right = max(left, row / 2), max(right, row / 2)
                down = b.h / 2 + load_gap + max(base[i].h for i in inds)
            else:
                reach = b.w / 2 + load_gap + iw
                left, right = (reach, right) if side[k] == "left" else (left, reach)
                up = down = max(b.h / 2, stack / 2)
        return left, right, up, down

    extents = {k: block(k) for k in [*structural, *dummy_layer]}
    xs: list[float] = []
    x = _MARGIN
    for c, col in enumerate(columns):
        left = max((extents[k][0] for k in col), default=0.0)
        right = max((extents[k][1] for k in col), default=0.0)
        x = x + left if c == 0 else x + col_gap + left
        xs.append(x)
        x += right
    heights = [sum(extents[k][2] + extents[k][3] for k in col) + row_gap * max(len(col) - 1, 0) for col in columns]
    top = _MARGIN + (text_size(graph.title, NODE_FONT)[1] + 8 if graph.title else 0)
    total_h = max(heights, default=0.0)
    boxes: dict[str, Box] = {}
    for c, col in enumerate(columns):
        y = top + (total_h - heights[c]) / 2
        for k in col:
            _, _, up, down = extents[k]
            cy = y + up
            boxes[k] = Box(xs[c], cy, base[k].w, base[k].h)
            inds = indicators.get(k, [])
            if inds:
                if side[k] == "below":
                    row = sum(base[i].w for i in inds) + ind_gap * (len(inds) - 1)
                    ix = xs[c] - row / 2
                    iy = cy + base[k].h / 2 + load_gap + max(base[i].h for i in inds) / 2
                    for i in inds:
                        boxes[i] = Box(ix + base[i].w / 2, iy, base[i].w, base[i].h)
                        ix += base[i].w + ind_gap
                else:
                    iw = max(base[i].w for i in inds)
                    stack = sum(base[i].h for i in inds) + ind_gap * (len(inds) - 1)
                    off = base[k].w / 2 + load_gap + iw / 2
                    ix = xs[c] - off if side[k] == "left" else xs[c] + off
                    iy = cy - stack / 2
                    for i in inds:
                        boxes[i] = Box(ix, iy + base[i].h / 2, iw, base[i].h)
                        iy += base[i].h + ind_gap
            y += up + down + row_gap
    via = {ident: [(boxes[d].cx, boxes[d].cy) for d in chain] for ident, chain in chains.items()}
    for d in dummy_layer:
        del boxes[d]
    edges = [_Edge(**{**e.__dict__, "points": [], "label_box": None}) for e in graph.edges]
    _route(edges, boxes, graph.shapes, columns, layer, side, via)
    lay = _Layout(boxes, edges, 0.0, 0.0, graph.title)
    lay.problems = _place_labels(lay, graph.shapes)
    return _fit_canvas(lay, top)


def _fit_canvas(lay: _Layout, top: float) -> _Layout:
    """Shift the drawing so that nodes, arrows and labels all lie inside the canvas, and size the canvas."""
    rects = [*lay.boxes.values(), *(e.label_box for e in lay.edges if e.label_box is not None)]
    xs = [v for b in rects for v in (b.left, b.right)] + [p[0] for e in lay.edges for p in e.points]
    ys = [v for b in rects for v in (b.top, b.bottom)] + [p[1] for e in lay.edges for p in e.points]
    if not xs:
        lay.width, lay.height = 2 * _MARGIN, top + _MARGIN
        return lay
    dx, dy = _MARGIN - min(xs), max(0.0, top - min(ys))

    def sh(b: Box) -> Box:
        return Box(b.cx + dx, b.cy + dy, b.w, b.h)

    lay.boxes = {k: sh(b) for k, b in lay.boxes.items()}
    for e in lay.edges:
        e.points = [(x + dx, y + dy) for x, y in e.points]
        e.label_box = sh(e.label_box) if e.label_box is not None else None
    lay.width = max(xs) + dx + _MARGIN
    lay.height = max(ys) + dy + _MARGIN
    return lay


def _blocked(points: list[Point], boxes: dict[str, Box], skip: tuple[str, ...]) -> bool:
    for key, box in boxes.items():
        if key in skip:
            continue
        grown = box.grow(4)
        if any(grown.hits_segment(p, q) for p, q in zip(points[:-1], points[1:])):
            return True
    return False


def _route(edges: list[_Edge], boxes: dict[str, Box], shapes: dict[str, str], columns, layer, side,
           via: dict[str, list[Point]]) -> None:
    depth: dict[tuple[int, str], int] = {}
    for e in sorted(edges, key=lambda e: (e.kind == "cov", abs(boxes[e.src].cy - boxes[e.dst].cy))):
        a, b = boxes[e.src], boxes[e.dst]
        sa, sb = shapes.get(e.src, "rect"), shapes.get(e.dst, "rect")
        if e.ident in via:
            inner = via[e.ident] if a.cx <= b.cx else via[e.ident][::-1]
            e.points = [boundary_point(a, inner[0], sa), *inner, boundary_point(b, inner[-1], sb)]
            continue
        same_column = e.kind == "cov" and abs(a.cx - b.cx) < 1e-6
        if same_column:
            c = layer.get(e.src, 0)
            has_left = any(side.get(k) == "left" for k in columns[c]) if c < len(columns) else False
            go_left = c == 0 and not has_left
            key = (c, "left" if go_left else "right")
            depth[key] = depth.get(key, 0) + 1
            reach = max(a.w, b.w) / 2 + 14 + 12 * depth[key]
            x_out = a.cx - reach if go_left else a.cx + reach
            pa = boundary_point(a, (x_out, a.cy), sa)
            pb = boundary_point(b, (x_out, b.cy), sb)
            e.points = [pa, (x_out, a.cy), (x_out, b.cy), pb]
            continue
        straight = [boundary_point(a, (b.cx, b.cy), sa), boundary_point(b, (a.cx, a.cy), sb)]
        if not _blocked(straight, boxes, (e.src, e.dst)):
            e.points = straight
            continue
        dx, dy = b.cx - a.cx, b.cy - a.cy
        length = math.hypot(dx, dy) or 1.0
        nx, ny = -dy / length, dx / length
        mx, my = (a.cx + b.cx) / 2, (a.cy + b.cy) / 2
        e.points = straight
        for k in range(1, 60):
            found = False
            for sign in (1, -1):
                off = sign * 14 * k
                bend = (mx + nx * off, my + ny * off)
                pts = [boundary_point(a, bend, sa), bend, boundary_point(b, bend, sb)]
                if not _blocked(pts, boxes, (e.src, e.dst)):
                    e.points, found = pts, True
                    break
            if found:
                break


def _head_boxes(edges: list[_Edge]) -> list[tuple[str, Box]]:
    out = []
    for e in edges:
        if len(e.points) >= 2:
            out.append((e.ident, Box(e.points[-1][0], e.points[-1][1], 14, 14)))
            if e.kind == "cov":
                out.append((e.ident, Box(e.points[0][0], e.points[0][1], 14, 14)))
    return out


def _place_labels(lay: _Layout, shapes) -> int:
    """Put each label on its arrow where it touches nothing else; returns the number of labels that could not."""
    placed: list[Box] = []
    heads = _head_boxes(lay.edges)
    failures = 0
    for e in lay.edges:
        if not e.text or len(e.points) < 2:
            continue
        w, h = text_size(e.text, LABEL_FONT)
        w, h = w + 2 * _LABEL_PAD + 2, h + 2 * _LABEL_PAD + 1
        segs = list(zip(e.points[:-1], e.points[1:]))
        lengths = [math.dist(p, q) for p, q in segs]
        total = sum(lengths) or 1.0
        best, best_score = None, math.inf
        for frac in e.prefer:
            dist, k = frac * total, 0
            while k < len(segs) - 1 and dist > lengths[k]:
                dist -= lengths[k]
                k += 1
            (px, py), (qx, qy) = segs[k]
            t = dist / (lengths[k] or 1.0)
            cx, cy = px + (qx - px) * t, py + (qy - py) * t
            box = Box(cx, cy, w, h)
            # keep clear of the arrow's own ends (its head and its source node)
            ux, uy = (qx - px) / (lengths[k] or 1.0), (qy - py) / (lengths[k] or 1.0)
            along = abs(ux) * w / 2 + abs(uy) * h / 2
            if frac * total < along + 4 or (1 - frac) * total < along + 12:
                continue
            score = _score(box, e, lay, placed, heads)
            if score == 0:
                best, best_score = box, 0
                break
            if score < best_score:
                best, best_score = box, score
        if best is None:  # an arrow too short for its label: centre it and let the layout grow
            (px, py), (qx, qy) = e.points[0], e.points[-1]
            best, best_score = Box((px + qx) / 2, (py + qy) / 2, w, h), 1
        e.label_box = best
        placed.append(best)
        failures += best_score > 0
    return failures


def _score(box: Box, edge: _Edge, lay: _Layout, placed: list[Box], heads) -> int:
    n = 0
    inner = box.grow(1.5)
    for other in lay.edges:
        if other is edge:
            continue
        n += sum(inner.hits_segment(p, q) for p, q in zip(other.points[:-1], other.points[1:]))
    n += sum(inner.overlaps(b.grow(2)) for b in lay.boxes.values())
    n += sum(inner.overlaps(b.grow(1)) for b in placed)
    n += sum(inner.overlaps(b) for ident, b in heads if ident != edge.ident)
    return n


def _solve(graph: _Graph, *, col_gap: float | None = None, row_gap: float = 26.0) -> tuple[_Layout, float, float]:
    """Lay out, spreading columns and rows until every label has a free place; returns the layout and its gaps."""
    widest = max((text_size(e.text, LABEL_FONT)[0] for e in graph.edges if e.text and e.kind != "load"),
                 default=20.0)
    widest_load = max((text_size(e.text, LABEL_FONT)[0] for e in graph.edges if e.text and e.kind == "load"),
                      default=0.0)
    gap = col_gap if col_gap is not None else max(70.0, widest + 44)
    load_gap = max(46.0, widest_load + 40)
    lay = _layout(graph, gap, row_gap, load_gap)
    for _ in range(7):
        if lay.problems == 0:
            break
        gap, row_gap, load_gap = gap * 1.15, row_gap * 1.4 + 6, load_gap * 1.2
        lay = _layout(graph, gap, row_gap, load_gap)
    if lay.width > _MAX_WIDTH and col_gap is None and any(" [" in e.text for e in graph.edges):
        # too wide for a page: intervals go under their estimates, which halves the room a label needs
        wrapped = _Graph(graph.names, graph.shapes, [_Edge(**{**e.__dict__, "text": e.text.replace(" [", "\n[")})
                                                     for e in graph.edges], graph.layers, graph.order, graph.title)
        narrow = _solve(wrapped, row_gap=26.0)
        if narrow[0].width < lay.width:
            return narrow
    return lay, gap, row_gap


# ---------------------------------------------------------------------------------------------------------------
# building graphs from tables
# ---------------------------------------------------------------------------------------------------------------
def _sem_graph(table: pd.DataFrame, *, what, show_ci, show_labels, digits, alpha, covariances,
               names: dict[str, str]) -> _Graph:
    latents = set(table.loc[table["op"] == "=~", "lhs"])
    keep_ops = ["~", "=~"] + (["~~"] if covariances else [])
    rows = table[table["op"].isin(keep_ops) & ~((table["op"] == "~~") & (table["lhs"] == table["rhs"]))]
    node_order = list(dict.fromkeys([*rows.loc[rows["op"] == "~", "rhs"], *rows.loc[rows["op"] == "=~", "lhs"],
                                     *rows["lhs"], *rows["rhs"]]))
    edges = []
    seen = set()
    for i, row in rows.iterrows():
        op = row["op"]
        src, dst = (row["rhs"], row["lhs"]) if op == "~" else (row["lhs"], row["rhs"])
        key = (op, src, dst, row.get("group", 1))
        if key in seen:  # multigroup tables: the first group is drawn
            continue
        seen.add(key)
        kind = {"~": "reg", "=~": "load", "~~": "cov"}[op]
        edge = _Edge(str(i), src, dst, kind, _edge_text(row, what, show_ci, show_labels, digits),
                     _significant(row, alpha), _fixed(row))
        if kind == "load":  # loadings fan out from the latent: their labels go where the fan has spread
            edge.prefer = (0.7, 0.75, 0.65, 0.8, 0.6, 0.55, 0.5, 0.45)
        edges.append(edge)
    return _Graph({k: names.get(k, k) for k in node_order},
                  {k: "ellipse" if k in latents else "rect" for k in node_order}, edges)


_WAVE = re.compile(r"^(?P<prefix>w_)?(?P<var>.+)_(?P<wave>\d+)$")


def _panel_parts(table: pd.DataFrame, variables: list[str]):
    """Lagged regressions between wave-indexed components: (outcome var, wave, predictor var, wave, row)."""
    names = set(table["lhs"]) | set(table["rhs"])
    prefix = "w_" if any(n.startswith("w_") for n in names) else ""
    out = []
    pattern = re.compile(rf"^{re.escape(prefix)}(?P<var>{'|'.join(map(re.escape, variables))})_(?P<wave>\d+)$")
    for _, row in table[table["op"] == "~"].iterrows():
        a, b = pattern.match(row["lhs"]), pattern.match(row["rhs"])
        if a and b:
            out.append((a["var"], int(a["wave"]), b["var"], int(b["wave"]), row))
    return out, prefix


def _panel_graphs(result, table: pd.DataFrame, *, what, show_ci, show_labels, digits, alpha,
                  names: dict[str, str]) -> tuple[list[_Graph], list[str]]:
    variables = [str(v) for v in getattr(result, "variables", [])]
    parts, prefix = _panel_parts(table, variables)
    if not parts:
        raise OptionError(f"no lagged paths between <variable>_<wave> components of {variables} in the parameter "
                          "table; pass a fit_clpm / fit_riclpm / fit_dpm result.")
    waves = sorted({w for p in parts for w in (p[1], p[3])})
    lags = sorted({(p[3], p[1]) for p in parts})
    nv = len(variables)
    shape = "ellipse" if prefix else "rect"
    notes = []

    def text(row):
        return _edge_text(row, what, show_ci, show_labels and False, digits)

    def label(var):
        return names.get(var, var)

    by_lag: dict[tuple[int, int], dict[tuple[str, str], pd.Series]] = {}
    for yv, yw, xv, xw, row in parts:
        by_lag.setdefault((xw, yw), {})[(xv, yv)] = row
    shown = {lag: {k: text(r) for k, r in rows.items()} for lag, rows in by_lag.items()}
    equal = len(lags) > 1 and all(shown[lag] == shown[lags[0]] for lag in lags[1:])
    graphs = []
    if nv <= 2 and len(waves) <= 4 and not equal:
        keys = {(v, w): f"{v}@{w}" for v in variables for w in waves}
        g_names = {keys[(v, w)]: f"{label(v)} {w}" for w in waves for v in variables}
        edges = []
        for (xw, yw), rows in by_lag.items():
            for (xv, yv), row in rows.items():
                cross = xv != yv
                edges.append(_Edge(f"{xv}{xw}-{yv}{yw}", keys[(xv, xw)], keys[(yv, yw)], "reg", text(row),
                                   _significant(row, alpha), prefer=(0.3, 0.25, 0.35, 0.22, 0.4, 0.45) if cross
                                   else (0.5, 0.4, 0.6, 0.3, 0.7)))
        graphs.append(_Graph(g_names, dict.fromkeys(g_names, shape), edges,
                             layers={keys[(v, w)]: waves.index(w) for v in variables for w in waves},
                             order=[keys[(v, w)] for w in waves for v in variables]))
    else:
        for lag in ([lags[0]] if equal else lags):
            xw, yw = lag
            left = {v: f"{v}@L" for v in variables}
            right = {v: f"{v}@R" for v in variables}
            g_names = {**{left[v]: label(v) for v in variables}, **{right[v]: label(v) for v in variables}}
            edges = []
            for (xv, yv), row in by_lag[lag].items():
                cross = xv != yv
                edges.append(_Edge(f"{xv}-{yv}", left[xv], right[yv], "reg", text(row), _significant(row, alpha),
                                   prefer=(0.28, 0.22, 0.34, 0.4, 0.18, 0.46) if cross
                                   else (0.5, 0.4, 0.6, 0.3, 0.7, 0.22, 0.78)))
            title = "every lag: t − 1 → t" if equal else f"wave {xw} → {yw}"
            graphs.append(_Graph(g_names, dict.fromkeys(g_names, shape), edges,
                                 layers={**dict.fromkeys(left.values(), 0), **dict.fromkeys(right.values(), 1)},
                                 order=[*left.values(), *right.values()], title=title))
        if equal:
            notes.append(f"The lagged paths are equal across the {len(lags)} lags (waves {waves[0]}–{waves[-1]}).")
    ri = table[(table["op"] == "~~") & table["lhs"].str.startswith("RI_") & table["rhs"].str.startswith("RI_")
               & (table["lhs"] != table["rhs"])]
    for _, row in ri.iterrows():
        a, b = row["lhs"][3:], row["rhs"][3:]
        if pd.notna(row["std_all"]):
            r = format_number(row["std_all"], 2, bounded=True)
            notes.append(f"Random intercepts: r({label(a)}, {label(b)}) = {r}"
                         f"{'' if _significant(row, alpha) else ' (n.s.)'}.")
    part = "Within-person lagged paths" if prefix else "Lagged paths"
    notes.append(f"{part}, {'standardized (std_all)' if what == 'std_all' else 'unstandardized estimates'}.")
    return graphs, notes


# ---------------------------------------------------------------------------------------------------------------
# drawing
# ---------------------------------------------------------------------------------------------------------------
def _wrap(lines: list[str], width_pt: float) -> list[str]:
    per_char = text_size("abcdefghijklmnopqrstuvwxyz", NOTE_FONT)[0] / 26
    chars = max(30, int(width_pt / (per_char * 1.08)))
    out = []
    for line in lines:
        out.extend(textwrap.wrap(line, chars) or [""])
    return out


def _draw_layout(ax, lay: _Layout, shapes: dict[str, str], names: dict[str, str], scale: float, dx: float = 0,
                 dy: float = 0) -> dict[str, tuple[str, str, str, str]]:
    edges_meta = {}

    def sh(b: Box) -> Box:
        return Box(b.cx + dx, b.cy + dy, b.w, b.h)

    for e in lay.edges:
        pts = [(x + dx, y + dy) for x, y in e.points]
        draw_arrow(ax, e.ident, pts, significant=e.significant, both=e.kind == "cov", scale=scale, fixed=e.fixed)
        edges_meta[e.ident] = (e.src, e.dst, names[e.src], names[e.dst])
    for key, box in lay.boxes.items():
        draw_node(ax, key, names[key], sh(box), shapes[key], scale)
    for e in lay.edges:
        if e.label_box is not None:
            draw_label(ax, e.ident, e.text, sh(e.label_box), scale)
    if lay.title:
        ax.text(dx + lay.width / 2, dy + _MARGIN, lay.title, ha="center", va="top", fontsize=NODE_FONT * scale,
                family=FONT_FAMILY, fontweight="bold")
    return edges_meta


def plot_paths(result, ax=None, *, what: str = "estimate", show_ci: bool | None = None, show_labels: bool = True,
               covariances: bool = True, alpha: float = 0.05, digits: int | None = None,
               names: dict[str, str] | None = None, title: str | None = None):
    """Path diagram of a fitted SEM, panel or mediation model (layout and rules in the module docstring).

    Parameters
    ----------
    result : result or DataFrame
        A fitted model with a lavaan-style parameter table: ``fit_sem``, ``fit_clpm`` / ``fit_riclpm`` /
        ``fit_dpm``, ``fit_mediation`` / ``fit_multilevel_mediation`` / ``fit_wave_mediation``,
        ``evaluate_hypotheses`` (its ``paths``), or such a table (``lhs, op, rhs, estimate, ...``).
    ax : matplotlib.axes.Axes, optional
        Draw into this axes; by default a new figure sized to the diagram (in points, so labels print at 8.5 pt).
        An axes smaller than the diagram shrinks it, fonts included (check with ``label_collisions``).
    what : {"estimate", "std_all"}
        The value on the arrows: the estimate, or the standardized (``std_all``) value.
    show_ci : bool, optional
        Add the interval to each estimate (``0.42 [0.21, 0.63]``); default True for estimates of SEM and
        mediation models, False for panel models (many arrows) and for ``what="std_all"``.
    show_labels : bool
        Prefix the parameter's label (``a1 = 0.42 ...``) where the table has one.
    covariances : bool
        Draw covariances between distinct variables (double-headed arrows).
    alpha : float
        Test level: a path whose row has no CI bounds is drawn solid (significant) when its p < ``alpha``.
    digits : int, optional
        Decimals of the values; by default from each row's standard error (APA, see
        :func:`allianceStats.formatting.row_digits`), 2 for standardized values.
    names : dict, optional
        Display names for variables (``{"autonomy_support": "autonomy support"}``).
    title : str, optional
        A title above the diagram.

    Returns
    -------
    matplotlib.figure.Figure
        Save it with ``fig.savefig("paths.pdf")`` (or ``.svg``, ``.png``).

    Raises
    ------
    OptionError
        ``what`` is not a column the table has, or the result has no parameter table.

    Examples
    --------
    >>> import allianceStats as als
    >>> data = als.simulate.designs.mediation(200, seed=1)[0]
    >>> fit = als.fit_sem(data, "m ~ a*x\\ny ~ b*m + x")
    >>> fig = plot_paths(fit, what="std_all")
    >>> from allianceStats.plots import label_collisions
    >>> label_collisions(fig), fig.get_size_inches().round(1).tolist()[0] < 7.5
    ([], True)
    """
    what = check_choice("what", what, ("estimate", "std_all"))
    show_labels = check_bool("show_labels", show_labels)
    covariances = check_bool("covariances", covariances)
    table = parameter_table(result)
    if table[what].isna().all():
        raise OptionError(f"what={what!r}: the parameter table has no {what} values (columns: "
                          f"{', '.join(table.columns)}). Use what='estimate'.")
    names = {str(k): str(v) for k, v in (names or {}).items()}
    panel = hasattr(result, "variables") and hasattr(result, "waves") and not isinstance(result, pd.DataFrame)
    if show_ci is None:
        show_ci = what == "estimate" and not panel
    show_ci = check_bool("show_ci", show_ci)
    notes: list[str] = []
    with style_context():
        if panel:
            graphs, notes = _panel_graphs(result, table, what=what, show_ci=show_ci, show_labels=show_labels,
                                          digits=digits, alpha=alpha, names=names)
        else:
            graphs = [_sem_graph(table, what=what, show_ci=show_ci, show_labels=show_labels, digits=digits,
                                 alpha=alpha, covariances=covariances, names=names)]
        level = getattr(result, "conf_level", 0.95)
        legend = (f"Solid black: {level:.0%} CI excludes 0 (or p < {format_number(alpha, 2, bounded=True)}); "
                  "dashed grey: not significant.")
        if show_ci and what == "estimate":
            legend += f" Labels: estimate [{level:.0%} CI]."
        notes.append(legend)
        solved = [_solve(g) for g in graphs]
        if len(solved) > 1:  # small multiples share one geometry so the panels line up
            gap, row_gap = max(s[1] for s in solved), max(s[2] for s in solved)
            solved = [_solve(g, col_gap=gap, row_gap=row_gap) for g in graphs]
        layouts = [s[0] for s in solved]
        cell_w = max(lay.width for lay in layouts)
        cell_h = max(lay.height for lay in layouts)
        ncols = 1 if len(layouts) == 1 else min(len(layouts), max(1, int(700 // cell_w)), 3)
        nrows = math.ceil(len(layouts) / ncols)
        width = max(ncols * cell_w, 300.0)
        title_h = text_size(title, NODE_FONT + 1)[1] + 10 if title else 0.0
        note_lines = _wrap(notes, width - 2 * _MARGIN)
        line_h = text_size("Ag", NOTE_FONT)[1] * 1.45
        height = title_h + nrows * cell_h + len(note_lines) * line_h + _MARGIN
        fig, ax, scale = new_figure(width, height, ax)
        edges_meta: dict[str, tuple[str, str, str, str]] = {}
        for i, (g, lay) in enumerate(zip(graphs, layouts)):
            r, c = divmod(i, ncols)
            off_x = c * cell_w + (cell_w - lay.width) / 2 + (width - ncols * cell_w) / 2
            off_y = title_h + r * cell_h + (cell_h - lay.height) / 2
            prefix = f"p{i}:" if len(layouts) > 1 else ""
            lay_named = _prefixed(lay, prefix)
            meta = _draw_layout(ax, lay_named, {prefix + k: v for k, v in g.shapes.items()},
                                {prefix + k: v for k, v in g.names.items()}, scale, off_x, off_y)
            edges_meta.update(meta)
        if title:
            ax.text(width / 2, 4, title, ha="center", va="top", fontsize=(NODE_FONT + 1) * scale,
                    family=FONT_FAMILY, fontweight="bold")
        y = title_h + nrows * cell_h + 2
        for line in note_lines:
            ax.text(_MARGIN, y, line, ha="left", va="top", fontsize=NOTE_FONT * scale, family=FONT_FAMILY,
                    color="#222222")
            y += line_h
        ax._alliance_edges = edges_meta  # for the collision check: arrow id -> (from key, to key, from, to)
    return fig


def _prefixed(lay: _Layout, prefix: str) -> _Layout:
    if not prefix:
        return lay
    edges = [_Edge(**{**e.__dict__, "ident": prefix + e.ident, "src": prefix + e.src, "dst": prefix + e.dst})
             for e in lay.edges]
    return _Layout({prefix + k: b for k, b in lay.boxes.items()}, edges, lay.width, lay.height, lay.title,
                   lay.notes, lay.problems)
