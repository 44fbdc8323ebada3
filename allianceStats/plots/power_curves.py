"""Power curves of a Monte Carlo power study: power against the number of clients, per target.

Draws :class:`allianceStats.power_analysis.study.PowerResult` (``table``: ``n_clients, n_sessions, target, power,
power_mcse``): one line per target (and per number of sessions when that varies), the Monte Carlo interval
power ± z·MCSE at each design point, and the conventional .80 line. The x ticks are the studied numbers of clients.

Example
-------
>>> import pandas as pd
>>> t = pd.DataFrame({"n_clients": [20, 40, 80], "n_sessions": 6, "target": "a", "power": [0.3, 0.6, 0.9],
...                   "power_mcse": [0.02, 0.02, 0.01]})
>>> fig = plot_power(t)
>>> [x.get_text() for x in fig.axes[0].get_xticklabels()]
['20', '40', '80']
"""
from __future__ import annotations

import pandas as pd
from scipy import stats

from ..data.checks import check_conf_level, require_columns
from ..errors import OptionError
from ._canvas import figure, style_context

__all__ = ["plot_power"]

_MARKERS = ["o", "s", "^", "D", "v", "P", "X"]
_LINES = ["-", "--", ":", "-."]


def plot_power(power_result, ax=None, *, target: str | list[str] | None = None, conf_level: float = 0.95,
               goal: float | None = 0.8, title: str | None = None):
    """Plot power against the number of clients, with Monte Carlo intervals.

    Parameters
    ----------
    power_result : PowerResult or DataFrame
        ``power(...)`` / ``run_study(...)``'s result, or its ``table``.
    ax : matplotlib.axes.Axes, optional
        Draw into this axes (default: a new 6 × 4 in figure).
    target : str or list of str, optional
        The targets to draw (default: all).
    conf_level : float
        Level of the Monte Carlo interval around each power estimate (from ``power_mcse``).
    goal : float, optional
        Draw a dashed line at this power (None: no line).
    title : str, optional
        Axes title.

    Returns
    -------
    matplotlib.figure.Figure

    Examples
    --------
    >>> import allianceStats as als
    >>> res = als.power("regression", n_clients=[20, 40], effects={"slope": 0.5}, reps=20, seed=1,
    ...                 dask_client="sync", progress=False)
    >>> fig = plot_power(res)
    >>> [float(v) for v in fig.axes[0].get_ylim()]
    [0.0, 1.02]
    """
    table = getattr(power_result, "table", power_result)
    if not isinstance(table, pd.DataFrame):
        raise OptionError(f"plot_power takes a power study result or its table; got {type(power_result).__name__}.")
    require_columns(table, ["n_clients", "target", "power"], where="plot_power", what="the power table")
    conf_level = check_conf_level(conf_level)
    if target is not None:
        wanted = [target] if isinstance(target, str) else list(target)
        unknown = sorted(set(wanted) - set(table["target"].astype(str)))
        if unknown:
            raise OptionError(f"target {unknown} is not in the power table; its targets are "
                              f"{sorted(table['target'].astype(str).unique())}.")
        table = table[table["target"].astype(str).isin(wanted)]
    z = stats.norm.ppf(0.5 + conf_level / 2)
    by = ["target"] + (["n_sessions"] if "n_sessions" in table.columns and table["n_sessions"].nunique() > 1 else [])
    with style_context():
        fig, ax = figure(6.0, 4.0, ax)
        for i, (key, g) in enumerate(table.groupby(by, sort=False)):
            g = g.sort_values("n_clients")
            key = key if isinstance(key, tuple) else (key,)
            label = str(key[0]) + (f", {key[1]} sessions" if len(key) > 1 else "")
            err = z * g["power_mcse"] if "power_mcse" in g.columns else None
            ax.errorbar(g["n_clients"], g["power"], yerr=err, marker=_MARKERS[i % len(_MARKERS)],
                        linestyle=_LINES[i % len(_LINES)], color="black" if i % 2 == 0 else "#555555",
                        markersize=4.5, linewidth=1.4, capsize=3, label=label)
        if goal is not None:
            ax.axhline(goal, color="#777777", linestyle="--", linewidth=0.9, zorder=0)
            ax.annotate(f"{goal:.2f}".lstrip("0"), (1.0, goal), xycoords=("axes fraction", "data"),
                        xytext=(3, 0), textcoords="offset points", va="center", fontsize=8.5, color="#555555")
        ns = sorted(table["n_clients"].unique())
        ax.set_xticks(ns, [str(int(n)) for n in ns])
        ax.set_ylim(0.0, 1.02)
        ax.set_xlabel("Clients")
        ax.set_ylabel("Power")
        ax.spines[["top", "right"]].set_visible(False)
        ax.legend(frameon=False, loc="lower right")
        if title:
            ax.set_title(title)
    return fig
