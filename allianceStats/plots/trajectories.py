"""Individual trajectories ("spaghetti") with the mean per session.

One thin grey line per client over session numbers, the mean of the measure at each session on top (black, with
markers) and, optionally, its confidence band (t interval of the session mean). Session ticks are whole numbers,
spaced so their labels never touch (a 20-session axis reads 1, 5, 10, 15, 20 rather than 2.5, 5.0, 7.5).

Example
-------
>>> import pandas as pd
>>> d = pd.DataFrame({"client": ["a", "a", "b", "b"], "session": [1, 2, 1, 2], "alliance": [3.0, 3.5, 4.0, 4.2]})
>>> fig = plot_trajectories(d, "alliance", client="client", session="session")
>>> fig.canvas.draw()
>>> lo, hi = fig.axes[0].get_xlim()
>>> [t.get_text() for t in fig.axes[0].get_xticklabels() if lo <= t.get_position()[0] <= hi]
['1', '2']
"""
from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.ticker import MaxNLocator
from scipy import stats

from ..data.checks import check_bool, check_conf_level, require_columns, require_numeric
from ._canvas import figure, style_context

__all__ = ["plot_trajectories"]


def plot_trajectories(data: pd.DataFrame, y: str, *, client: str = "client", session: str = "session", ax=None,
                      max_clients: int | None = 200, mean: bool = True, band: bool = True,
                      conf_level: float = 0.95, seed: int = 0, title: str | None = None):
    """Plot each client's ``y`` over sessions, with the session means.

    Parameters
    ----------
    data : DataFrame
        Long session table.
    y : str
        The measure.
    client, session : str
        Client-id and session-number columns.
    ax : matplotlib.axes.Axes, optional
        Draw into this axes (default: a new 6.5 × 4 in figure).
    max_clients : int, optional
        Draw at most this many clients' lines (a seeded random subset; the mean uses every client). None: all.
    mean : bool
        Draw the mean per session.
    band : bool
        Shade the confidence band of the session means.
    conf_level : float
        Level of the band.
    seed : int
        Seed of the subset of clients drawn when there are more than ``max_clients``.
    title : str, optional
        Axes title.

    Returns
    -------
    matplotlib.figure.Figure

    Examples
    --------
    >>> import allianceStats as als
    >>> fig = plot_trajectories(als.load_example(), "outcome", client="client", session="session")
    >>> fig.axes[0].get_xlabel(), fig.axes[0].get_ylabel()
    ('Session', 'outcome')
    """
    require_columns(data, [client, session, y], where="plot_trajectories")
    require_numeric(data, [session, y], where="plot_trajectories")
    mean, band = check_bool("mean", mean), check_bool("band", band)
    conf_level = check_conf_level(conf_level)
    d = data[[client, session, y]].dropna().sort_values([client, session])
    with style_context():
        fig, ax = figure(6.5, 4.0, ax)
        ids = d[client].unique()
        if max_clients is not None and len(ids) > max_clients:
            ids = np.random.default_rng(seed).choice(ids, size=max_clients, replace=False)
        shown = d[d[client].isin(set(ids))]
        for _, g in shown.groupby(client, sort=False):
            ax.plot(g[session], g[y], color="#9a9a9a", linewidth=0.6, alpha=0.55, zorder=1)
        if mean and len(d):
            agg = d.groupby(session)[y].agg(["mean", "std", "count"])
            if band:
                se = agg["std"] / np.sqrt(agg["count"])
                half = stats.t.ppf(0.5 + conf_level / 2, np.maximum(agg["count"] - 1, 1)) * se
                ok = agg["count"] > 1
                ax.fill_between(agg.index[ok], (agg["mean"] - half)[ok], (agg["mean"] + half)[ok], color="#000000",
                                alpha=0.15, linewidth=0, zorder=2, label=f"{conf_level:.0%} CI of the mean")
            ax.plot(agg.index, agg["mean"], color="black", linewidth=2.0, marker="o", markersize=3.5, zorder=3,
                    label="mean")
            ax.legend(loc="best", frameon=False)
        ax.xaxis.set_major_locator(MaxNLocator(integer=True, nbins=10, steps=[1, 2, 5, 10]))
        if len(d):
            lo, hi = float(d[session].min()), float(d[session].max())
            ax.set_xlim(lo - 0.5, hi + 0.5)
        ax.set_xlabel("Session")
        ax.set_ylabel(y)
        if title:
            ax.set_title(title)
        ax.spines[["top", "right"]].set_visible(False)
    return fig
