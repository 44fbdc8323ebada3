r"""Power curves: estimated power against the number of clients, one line per number of sessions.

Each point is the Monte Carlo estimate of power :math:`\hat P` of one cell of a power study
(:attr:`allianceStats.power_analysis.PowerResult.table`), drawn with an error bar of
:math:`\pm z \cdot \mathrm{MCSE}(\hat P)`, :math:`\mathrm{MCSE} = \sqrt{\hat P(1-\hat P)/R}` over the
:math:`R` usable replications, :math:`z = 1.96` (Morris, White & Crowther 2019, Table 6), clipped to
[0, 1]. A dashed horizontal line marks the conventional target power of 0.80 (Cohen 1988).

The SVG is written directly (no plotting library, no estimation code): deterministic (same table, same
bytes), black on white with a distinct marker and dash pattern per line so it reads in black-and-white print,
fonts of at least 11 px, and every piece of user-controlled text (target names, titles) XML-escaped.
Each line is one ``<polyline class="power-line" data-n-sessions="...">``.

References: Morris, T. P., White, I. R., & Crowther, M. J. (2019). Using simulation studies to evaluate
statistical methods. *Statistics in Medicine* 38(11), 2074–2102. Cohen, J. (1988). *Statistical Power
Analysis for the Behavioral Sciences* (2nd ed.). Erlbaum.

Example
-------
>>> import pandas as pd
>>> t = pd.DataFrame({"n_clients": [50, 100, 50, 100], "n_sessions": [3, 3, 5, 5], "target": "x -> y",
...                   "power": [0.31, 0.58, 0.45, 0.79], "power_mcse": [0.015, 0.016, 0.016, 0.013]})
>>> svg = power_curve_svg(t, target="x -> y")
>>> svg.startswith("<svg") and svg.count('class="power-line"') == 2 and "x -&gt; y" in svg
True
"""
from __future__ import annotations

import math

import numpy as np
import pandas as pd

from ..errors import AllianceStatsError
from .svg import FONT_FAMILY, escape

#: marker shape and dash pattern per line, cycled (distinguishable without colour)
_STYLES = (("circle", ""), ("square", "6,3"), ("triangle", "2,3"), ("diamond", "8,3,2,3"), ("cross", "12,4"))
_REQUIRED = ("n_clients", "target", "power", "power_mcse")


def _fmt(v: float) -> str:
    return f"{v:.1f}"


def _marker(shape: str, x: float, y: float, r: float = 4.0) -> str:
    if shape == "circle":
        return f'<circle cx="{_fmt(x)}" cy="{_fmt(y)}" r="{r:.1f}" fill="#ffffff" stroke="#000000" stroke-width="1.5"/>'
    if shape == "square":
        return (f'<rect x="{_fmt(x - r)}" y="{_fmt(y - r)}" width="{2 * r:.1f}" height="{2 * r:.1f}" '
                'fill="#000000"/>')
    if shape == "triangle":
        pts = (f"{_fmt(x)},{_fmt(y - r * 1.2)} {_fmt(x + r * 1.1)},{_fmt(y + r * 0.8)} "
               f"{_fmt(x - r * 1.1)},{_fmt(y + r * 0.8)}")
        return f'<polygon points="{pts}" fill="#ffffff" stroke="#000000" stroke-width="1.5"/>'
    if shape == "diamond":
        pts = (f"{_fmt(x)},{_fmt(y - r * 1.3)} {_fmt(x + r)},{_fmt(y)} {_fmt(x)},{_fmt(y + r * 1.3)} "
               f"{_fmt(x - r)},{_fmt(y)}")
        return f'<polygon points="{pts}" fill="#000000"/>'
    return (f'<path d="M{_fmt(x - r)},{_fmt(y - r)} L{_fmt(x + r)},{_fmt(y + r)} M{_fmt(x - r)},{_fmt(y + r)} '
            f'L{_fmt(x + r)},{_fmt(y - r)}" stroke="#000000" stroke-width="1.8"/>')


def _nice_ticks(lo: float, hi: float, n: int = 6) -> list[float]:
    """Round tick values covering [lo, hi] (steps 1, 2 or 5 times a power of ten)."""
    span = max(hi - lo, 1e-9)
    raw = span / max(n - 1, 1)
    mag = 10 ** math.floor(math.log10(raw))
    step = next(m * mag for m in (1, 2, 5, 10) if m * mag >= raw)
    first = math.ceil(lo / step - 1e-9) * step
    return [round(first + i * step, 10) for i in range(int((hi - first) / step + 1e-9) + 1)]


def power_curve_svg(table: pd.DataFrame, *, target: str, title: str | None = None, reference: float = 0.80,
                    z: float = 1.96, width: int = 640, height: int = 400) -> str:
    r"""Power against the number of clients for one target, one line per number of sessions, as an SVG string.

    Parameters
    ----------
    table : DataFrame
        A power table (``PowerResult.table`` of :func:`allianceStats.power`) with columns ``n_clients, target,
        power, power_mcse`` and, for multilevel and panel designs, ``n_sessions`` (absent or all missing: one
        line).
    target : str
        The parameter to plot (a value of the ``target`` column).
    title : str, optional
        Figure title (escaped); default ``"Power: <target>"``.
    reference : float
        Height of the dashed reference line (target power; default 0.80). ``None`` leaves it out.
    z : float
        Error bars span :math:`\hat P \pm z\,\mathrm{MCSE}` (default 1.96: a 95 % Monte Carlo interval,
        Morris, White & Crowther 2019), clipped to [0, 1].
    width, height : int
        Size in px.

    Cells whose power is missing (no usable replication) are left out of their line.

    Returns
    -------
    str
        The ``<svg>`` element (all text escaped).

    Examples
    --------
    >>> import pandas as pd
    >>> t = pd.DataFrame({"n_clients": [20, 40, 80], "target": "slope", "power": [0.2, 0.5, 0.8],
    ...                   "power_mcse": [0.02, 0.02, 0.015]})
    >>> svg = power_curve_svg(t, target="slope", title="OLS slope")
    >>> svg.count("<polyline"), "OLS slope" in svg
    (1, True)
    >>> power_curve_svg(t, target="beta")
    Traceback (most recent call last):
    ...
    allianceStats.errors.AllianceStatsError: power_curve_svg(): target 'beta' is not in the table; targets: 'slope'.
    """
    missing = [c for c in _REQUIRED if c not in table.columns]
    if missing:
        raise AllianceStatsError(f"power_curve_svg(): the table lacks column(s) {missing}; pass PowerResult.table "
                                 f"(columns found: {list(table.columns)}).")
    rows = table[table["target"] == target]
    if rows.empty:
        targets = ", ".join(repr(t) for t in sorted(table["target"].astype(str).unique()))
        raise AllianceStatsError(f"power_curve_svg(): target {target!r} is not in the table; targets: {targets}.")
    rows = rows.copy()
    if "n_sessions" not in rows or rows["n_sessions"].isna().all():
        rows["n_sessions"] = np.nan
        groups = [(None, rows)]
    else:
        groups = list(rows.groupby("n_sessions", sort=True))
    title = f"Power: {target}" if title is None else title

    left, right, top, bottom = 64.0, 150.0, 44.0, 56.0
    pw, ph = width - left - right, height - top - bottom
    xs = np.sort(rows["n_clients"].astype(float).unique())
    pad = 0.05 * (xs[-1] - xs[0]) if xs[-1] > xs[0] else max(1.0, 0.1 * xs[0])
    x_lo, x_hi = xs[0] - pad, xs[-1] + pad
    sx = lambda v, dodge=0.0: left + (v - x_lo) / (x_hi - x_lo) * pw + dodge  # noqa: E731
    sy = lambda p: top + (1.0 - p) * ph  # noqa: E731

    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="figure power-curve" role="img" width="{width}" '
        f'height="{height}" viewBox="0 0 {width} {height}" font-family="{FONT_FAMILY}">',
        f"<title>{escape(title)}</title>",
        f"<desc>Estimated power (share of replications with p &lt; alpha) against the number of clients, "
        f"one line per number of sessions; error bars ±{z:g} Monte Carlo standard errors.</desc>",
        f'<rect x="0" y="0" width="{width}" height="{height}" fill="#ffffff"/>',
        f'<text x="{left:.1f}" y="24" font-size="14" font-weight="bold">{escape(title)}</text>',
    ]
    # axes, grid and ticks
    out.append(f'<g class="axes" stroke="#000000" stroke-width="1">'
               f'<line x1="{left:.1f}" y1="{sy(0):.1f}" x2="{left + pw:.1f}" y2="{sy(0):.1f}"/>'
               f'<line x1="{left:.1f}" y1="{sy(0):.1f}" x2="{left:.1f}" y2="{sy(1):.1f}"/></g>')
    for p in (0.0, 0.2, 0.4, 0.6, 0.8, 1.0):
        out.append(f'<line x1="{left:.1f}" y1="{sy(p):.1f}" x2="{left + pw:.1f}" y2="{sy(p):.1f}" '
                   'stroke="#e0e0e0" stroke-width="1"/>' if p > 0 else "")
        out.append(f'<line x1="{left - 5:.1f}" y1="{sy(p):.1f}" x2="{left:.1f}" y2="{sy(p):.1f}" stroke="#000000"/>'
                   f'<text x="{left - 8:.1f}" y="{sy(p) + 4:.1f}" font-size="11" text-anchor="end">{p:.1f}</text>')
    ticks = [float(v) for v in xs] if len(xs) <= 8 else [t for t in _nice_ticks(xs[0], xs[-1]) if x_lo <= t <= x_hi]
    for v in ticks:
        out.append(f'<line x1="{sx(v):.1f}" y1="{sy(0):.1f}" x2="{sx(v):.1f}" y2="{sy(0) + 5:.1f}" stroke="#000000"/>'
                   f'<text x="{sx(v):.1f}" y="{sy(0) + 18:.1f}" font-size="11" text-anchor="middle">{v:g}</text>')
    out.append(f'<text x="{left + pw / 2:.1f}" y="{height - 14:.1f}" font-size="12" text-anchor="middle">'
               "Number of clients</text>")
    out.append(f'<text x="16" y="{top + ph / 2:.1f}" font-size="12" text-anchor="middle" '
               f'transform="rotate(-90 16 {top + ph / 2:.1f})">Power</text>')
    if reference is not None:
        out.append(f'<line class="reference" x1="{left:.1f}" y1="{sy(reference):.1f}" x2="{left + pw:.1f}" '
                   f'y2="{sy(reference):.1f}" stroke="#000000" stroke-width="1" stroke-dasharray="5,4"/>')

    # one line per number of sessions, with error bars and markers
    for k, (n_sessions, g) in enumerate(groups):
        g = g[np.isfinite(g["power"].astype(float))].sort_values("n_clients")
        dodge = (k - (len(groups) - 1) / 2) * 3.0  # px, so error bars of equal sample sizes do not overlap
        shape, dash = _STYLES[k % len(_STYLES)]
        label = "single level" if n_sessions is None else f"{int(n_sessions)} sessions"
        attr = "" if n_sessions is None else f' data-n-sessions="{int(n_sessions)}"'
        pts = " ".join(f"{_fmt(sx(c, dodge))},{_fmt(sy(p))}" for c, p in zip(g["n_clients"].astype(float), g["power"]))
        dash_attr = f' stroke-dasharray="{dash}"' if dash else ""
        out.append(f'<g class="series"{attr}><title>{escape(label)}</title>')
        out.append(f'<polyline class="power-line"{attr} points="{pts}" fill="none" stroke="#000000" '
                   f'stroke-width="1.8"{dash_attr}/>')
        for c, p, se in zip(g["n_clients"].astype(float), g["power"].astype(float), g["power_mcse"].astype(float)):
            if np.isfinite(se) and se > 0:
                lo, hi = max(p - z * se, 0.0), min(p + z * se, 1.0)
                x = sx(c, dodge)
                out.append(f'<path class="error-bar" d="M{_fmt(x)},{_fmt(sy(lo))} V{_fmt(sy(hi))} '
                           f'M{_fmt(x - 4)},{_fmt(sy(lo))} H{_fmt(x + 4)} M{_fmt(x - 4)},{_fmt(sy(hi))} '
                           f'H{_fmt(x + 4)}" stroke="#000000" stroke-width="1" fill="none"/>')
            out.append(_marker(shape, sx(c, dodge), sy(p)))
        out.append("</g>")
        # legend entry
        ly = top + 10 + 22 * k
        lx = left + pw + 16
        out.append(f'<g class="legend"><line x1="{lx:.1f}" y1="{ly:.1f}" x2="{lx + 30:.1f}" y2="{ly:.1f}" '
                   f'stroke="#000000" stroke-width="1.8"{dash_attr}/>{_marker(shape, lx + 15, ly)}'
                   f'<text x="{lx + 38:.1f}" y="{ly + 4:.1f}" font-size="11">{escape(label)}</text></g>')
    lx, ly = left + pw + 16, top + 10 + 22 * len(groups)
    if reference is not None:
        out.append(f'<g class="legend"><line x1="{lx:.1f}" y1="{ly:.1f}" x2="{lx + 30:.1f}" y2="{ly:.1f}" '
                   f'stroke="#000000" stroke-width="1" stroke-dasharray="5,4"/>'
                   f'<text x="{lx + 38:.1f}" y="{ly + 4:.1f}" font-size="11">power {reference:.2f}</text></g>')
        ly += 22
    out.append(f'<text x="{lx:.1f}" y="{ly + 4:.1f}" font-size="11">bars: ±{z:g} MCSE</text>')
    out.append("</svg>")
    return "".join(s for s in out if s)
