"""Data figures rendered with matplotlib to inline SVG: trajectories (spaghetti plus mean).

Rendering is deterministic: the Agg-free SVG backend with ``svg.hashsalt`` fixed, text kept as text
(``svg.fonttype = "none"``, so it stays selectable and prints sharply), no date in the metadata, and
element ids prefixed per figure so several figures can share one HTML page. Fonts are 11 px or more;
lines black and grey, readable in black-and-white print.

Example
-------
>>> import pandas as pd
>>> d = pd.DataFrame({"client": ["a", "a", "b", "b"], "session": [1, 2, 1, 2],
...                   "alliance": [3.0, 3.5, 4.0, 4.2]})
>>> svg = trajectory_plot(d, "alliance")
>>> svg.startswith("<svg") and svg == trajectory_plot(d, "alliance")
True
"""
from __future__ import annotations

import io
import re

import numpy as np
import pandas as pd

from .._deprecation import renamed_arguments
from ..data.checks import require_columns
from ..errors import SchemaError

_RC = {
    "svg.hashsalt": "allianceStats",
    "svg.fonttype": "none",
    "font.size": 11,
    "axes.titlesize": 12,
    "axes.labelsize": 11,
    "xtick.labelsize": 10.5,
    "ytick.labelsize": 10.5,
    "font.family": "DejaVu Sans",
}


def figure_to_svg(fig, *, figure_id: str = "fig") -> str:
    """Serialise a matplotlib figure to an inline ``<svg>`` element (no XML prolog, no date, unique ids).

    Parameters
    ----------
    fig : matplotlib.figure.Figure
        The figure to serialise (drawn with the report's style, ``_RC``: text kept as text, fixed hash salt).
    figure_id : str
        Prefix of every ``id`` in the SVG, so several figures can share one HTML page.

    Returns
    -------
    str
        The ``<svg>`` element, byte-identical for the same figure.

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> import matplotlib.pyplot as plt
    >>> fig, ax = plt.subplots()
    >>> _ = ax.plot([1, 2], [3, 4])
    >>> figure_to_svg(fig, figure_id="demo").startswith("<svg")
    True
    >>> plt.close(fig)
    """
    import matplotlib

    buf = io.StringIO()
    with matplotlib.rc_context(_RC):
        fig.savefig(buf, format="svg", metadata={"Date": None, "Creator": "allianceStats"})
    text = buf.getvalue()
    text = text[text.index("<svg"):]
    text = re.sub(r"<metadata>.*?</metadata>\s*", "", text, flags=re.S)
    prefix = re.sub(r"[^A-Za-z0-9_-]", "_", figure_id)
    text = re.sub(r'id="([^"]+)"', rf'id="{prefix}-\1"', text)
    text = re.sub(r"url\(#([^)]+)\)", rf"url(#{prefix}-\1)", text)
    text = re.sub(r'href="#([^"]+)"', rf'href="#{prefix}-\1"', text)
    return text.replace("<svg ", '<svg class="figure" ', 1).strip()


@renamed_arguments(time="session")
def trajectory_plot(data: pd.DataFrame, column: str, *, client: str = "client", session: str = "session",
                    max_clients: int = 80, seed: int = 0, title: str | None = None,
                    figure_id: str | None = None) -> str:
    """Spaghetti plot of ``column`` over ``session``: one thin grey line per client, the mean in black.

    At most ``max_clients`` clients are drawn (a seeded random subset, so the figure is reproducible);
    the mean line uses *all* clients, and below the session axis (up to 16 sessions) the number of clients
    observed at each session makes dropout visible.

    Parameters
    ----------
    data : DataFrame
        Long session table (one row per session); never modified.
    column : str
        The measure to draw.
    client, session : str
        The client and session-number columns (``time=`` is the 0.1 name of ``session=`` and warns).
    max_clients : int
        At most this many client lines.
    seed : int
        Seed of the random subset of clients.
    title : str, optional
        Figure title; default: the measure and the number of clients drawn.
    figure_id : str, optional
        Prefix of the SVG's ids (default ``traj-<column>``).

    Returns
    -------
    str
        SVG text.

    Raises
    ------
    SchemaError
        A column is missing, or the measure has no value to draw.

    Examples
    --------
    >>> import pandas as pd
    >>> d = pd.DataFrame({"client": ["a", "a", "b"], "session": [1, 2, 1], "outcome": [40.0, 55.0, 70.0]})
    >>> "<path" in trajectory_plot(d, "outcome", title="Outcome")
    True
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    require_columns(data, [client, session, column], where="trajectory_plot")
    time = session
    d = data[[client, time, column]].dropna()
    if d.empty:
        raise SchemaError([f"column {column!r} has no non-missing value (with client and session) to draw"],
                          source="trajectory_plot")
    ids = pd.unique(d[client])
    if len(ids) > max_clients:
        rng = np.random.default_rng(seed)
        ids = np.sort(rng.choice(ids, size=max_clients, replace=False))
    shown = d[d[client].isin(ids)]
    means = d.groupby(time)[column].agg(["mean", "size"])
    with matplotlib.rc_context(_RC):
        fig, ax = plt.subplots(figsize=(6.4, 3.6), dpi=100)
        try:
            for _, g in shown.groupby(client, sort=True):
                g = g.sort_values(time)
                ax.plot(g[time], g[column], color="#9a9a9a", linewidth=0.7, alpha=0.6)
            ax.plot(means.index, means["mean"], color="#000000", linewidth=2.4, marker="o", markersize=4,
                    label="mean (all clients)")
            ax.set_xlabel(str(time))
            ax.set_ylabel(str(column))
            ax.set_title(title if title is not None else f"{column}: {len(ids)} of {d[client].nunique()} "
                         f"clients (grey), mean (black)")
            ax.spines[["top", "right"]].set_visible(False)
            if len(means) <= 16:
                # the number of clients observed at each session shows dropout under the time axis
                ax.set_xticks(list(means.index))
                ax.set_xticklabels([f"{t}\nn={n}" for t, n in means["size"].items()])
            fig.tight_layout()
            return figure_to_svg(fig, figure_id=figure_id or f"traj-{column}")
        finally:
            plt.close(fig)


def retention_plot(curves: pd.DataFrame, *, title: str = "Retention (Kaplan–Meier)", time_label: str = "session",
                   figure_id: str = "km") -> str:
    """Step curves of the share of clients still in treatment, one per group, from a tidy table.

    Groups are told apart by line style (solid, dashed, dotted …), not colour, so the figure prints in
    black and white.

    Parameters
    ----------
    curves : DataFrame
        Columns ``group, time, survival`` (+ optional ``ci_lower, ci_upper``), one row per group and event
        time, as :func:`allianceStats.kaplan_meier` returns (the curve is 1 before the first event).
    title : str
        Figure title.
    time_label : str
        Label of the time axis.
    figure_id : str
        Prefix of the SVG's ids.

    Returns
    -------
    str
        SVG text.

    Examples
    --------
    >>> import pandas as pd
    >>> km = pd.DataFrame({"group": ["low", "low", "high"], "time": [2, 4, 3], "survival": [0.8, 0.5, 0.9]})
    >>> svg = retention_plot(km)
    >>> svg.startswith("<svg") and "low" in svg and "high" in svg
    True
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    require_columns(curves, ["group", "time", "survival"], where="retention_plot", what="curves")
    styles = ["-", "--", ":", "-."]
    with matplotlib.rc_context(_RC):
        fig, ax = plt.subplots(figsize=(6.4, 3.4), dpi=100)
        try:
            for k, (name, g) in enumerate(curves.groupby("group", sort=True)):
                g = g.sort_values("time")
                t = np.concatenate([[0.0], g["time"].to_numpy(float)])
                s = np.concatenate([[1.0], g["survival"].to_numpy(float)])
                ax.step(t, s, where="post", color="#000000", linestyle=styles[k % len(styles)], linewidth=1.8,
                        label=str(name))
            ax.set_ylim(0, 1.02)
            ax.set_xlabel(time_label)
            ax.set_ylabel("share still in treatment")
            ax.set_title(title)
            ax.spines[["top", "right"]].set_visible(False)
            ax.legend(frameon=False, loc="lower left")
            fig.tight_layout()
            return figure_to_svg(fig, figure_id=figure_id)
        finally:
            plt.close(fig)


def synchrony_plot(windows: pd.DataFrame, *, value: str = "all_lags", client: str = "client",
                   session: str = "session", label: str = "synchrony", title: str = "Synchrony over the session",
                   figure_id: str = "sync", return_figure: bool = False):
    """Windowed synchrony across the session: one grey line per session, their mean in black.

    Parameters
    ----------
    windows : DataFrame
        One row per session and window: ``client``, ``session``, ``start_seconds`` and ``value`` (the windows of
        :class:`allianceStats.process.SynchronyResult`, stacked over sessions).
    value : str
        The column drawn (``all_lags``: the window's mean over lags; ``lag_zero``, ``x_leads``, ``y_leads``).
    client, session : str
        Columns identifying a session.
    label : str
        Label of the vertical axis.
    title : str
        Figure title.
    figure_id : str
        Prefix of the SVG's ids.
    return_figure : bool
        Return the matplotlib figure (open; close it after use) instead of its SVG.

    Returns
    -------
    str or matplotlib.figure.Figure

    Examples
    --------
    >>> w = pd.DataFrame({"client": ["a"] * 3 + ["b"] * 3, "session": 1, "start_seconds": [0, 15, 30] * 2,
    ...                   "all_lags": [0.2, 0.3, 0.25, 0.1, 0.2, 0.15]})
    >>> svg = synchrony_plot(w)
    >>> svg.startswith("<svg") and "start of the window" in svg
    True
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    require_columns(windows, [client, session, "start_seconds", value], where="synchrony_plot", what="windows")
    with matplotlib.rc_context(_RC):
        fig, ax = plt.subplots(figsize=(6.4, 3.4), dpi=100)
        try:
            for _, g in windows.groupby([client, session], sort=True):
                g = g.sort_values("start_seconds")
                ax.plot(g["start_seconds"], g[value], color="#9a9a9a", linewidth=0.9)
            mean = windows.groupby("start_seconds", sort=True)[value].mean()
            ax.plot(mean.index, mean.to_numpy(), color="#000000", linewidth=2.2,
                    label=f"mean of {windows.groupby([client, session]).ngroups} sessions")
            ax.set_xlabel("start of the window (seconds into the session)")
            ax.set_ylabel(label)
            ax.set_title(title)
            ax.spines[["top", "right"]].set_visible(False)
            ax.legend(frameon=False, loc="best")
            fig.tight_layout()
            if return_figure:
                return fig
            return figure_to_svg(fig, figure_id=figure_id)
        finally:
            if not return_figure:
                plt.close(fig)
