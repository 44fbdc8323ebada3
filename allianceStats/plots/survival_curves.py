"""Kaplan–Meier curves with confidence bands, censoring marks and the numbers at risk underneath.

Draws the table of :func:`allianceStats.kaplan_meier` (``group, time, n_risk, n_events, survival, ci_lower,
ci_upper``, ``n_censor``) or of :func:`allianceStats.survival.survival_curve` (its ``table``): one step function
per group starting at 1, the pointwise band as a shaded step, a ``+`` where clients were censored (rows with
``n_censor > 0``; ask ``kaplan_meier(..., censored=True)`` for the censoring-only times), and a risk table — the
number still at risk at each time tick, per group — below the axis (as survminer's ``ggsurvplot``).

Example
-------
>>> import pandas as pd
>>> km = pd.DataFrame({"group": "all", "time": [2, 4, 6], "n_risk": [10, 8, 5], "n_events": [2, 1, 0],
...                    "n_censor": [0, 2, 5], "survival": [0.8, 0.7, 0.7], "ci_lower": [0.6, 0.5, 0.5],
...                    "ci_upper": [0.95, 0.9, 0.9]})
>>> fig = plot_survival(km)
>>> len(fig.axes)   # the curves and the risk table
2
"""
from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.ticker import MaxNLocator
from mpl_toolkits.axes_grid1 import make_axes_locatable

from ..data.checks import check_bool, require_columns
from ..errors import OptionError
from ._canvas import figure, style_context

__all__ = ["plot_survival", "numbers_at_risk"]

_STYLES = [("-", "#000000"), ("--", "#555555"), (":", "#000000"), ("-.", "#777777"), ((0, (5, 1, 1, 1)), "#333333")]


def _curve_table(km) -> pd.DataFrame:
    table = km.table if not isinstance(km, pd.DataFrame) and hasattr(km, "table") else km
    if not isinstance(table, pd.DataFrame):
        raise OptionError(f"plot_survival takes a Kaplan–Meier table or a result with one (.table); got a "
                          f"{type(km).__name__}.")
    require_columns(table, ["time", "n_risk", "survival"], where="plot_survival", what="the Kaplan–Meier table")
    table = table.copy()
    if "group" not in table.columns:
        table["group"] = table["curve"] if "curve" in table.columns else "all"
    for col in ("n_events", "n_censor", "ci_lower", "ci_upper"):
        if col not in table.columns:
            table[col] = np.nan if col.startswith("ci") else 0
    return table


def numbers_at_risk(table: pd.DataFrame, times) -> pd.DataFrame:
    """Clients at risk just before each of ``times``, per group (the risk table under the curves).

    The number at risk at t is ``n_risk`` of the group's first row at or after t; after the last row it is that
    row's ``n_risk`` less its events and censorings.

    Parameters
    ----------
    table : DataFrame
        A Kaplan–Meier table (``group, time, n_risk, n_events, n_censor``).
    times : sequence of float
        The times.

    Returns
    -------
    DataFrame
        Groups as rows, times as columns.

    Examples
    --------
    >>> import pandas as pd
    >>> t = pd.DataFrame({"group": "all", "time": [2, 4], "n_risk": [10, 8], "n_events": [2, 1], "n_censor": [0, 1]})
    >>> numbers_at_risk(t, [0, 3, 5]).values.tolist()
    [[10, 8, 6]]
    """
    out = {}
    for g, tab in table.groupby("group", sort=False):
        tab = tab.sort_values("time")
        row = []
        for t in times:
            later = tab[tab["time"] >= t]
            if len(later):
                row.append(int(later["n_risk"].iloc[0]))
            else:
                last = tab.iloc[-1]
                row.append(int(max(0, last["n_risk"] - last.get("n_events", 0) - last.get("n_censor", 0))))
        out[g] = row
    return pd.DataFrame.from_dict(out, orient="index", columns=list(times))


def plot_survival(km, ax=None, *, show_ci: bool = True, censor_marks: bool = True, risk_table: bool = True,
                  xlabel: str = "Session", ylabel: str = "Retained (survival probability)", title: str | None = None):
    """Kaplan–Meier curves, one per group, with bands, censoring marks and numbers at risk.

    Parameters
    ----------
    km : DataFrame or result
        ``kaplan_meier(...)``'s table or a ``survival_curve(...)`` result.
    ax : matplotlib.axes.Axes, optional
        Draw into this axes (the risk table is appended below it); default a new 6.5 × 4.8 in figure.
    show_ci : bool
        Shade each curve's confidence band.
    censor_marks : bool
        Mark censoring times with ``+``.
    risk_table : bool
        Print the numbers at risk at the time ticks below the axis.
    xlabel, ylabel : str
        Axis labels.
    title : str, optional
        Axes title.

    Returns
    -------
    matplotlib.figure.Figure

    Examples
    --------
    >>> import allianceStats as als
    >>> km = als.kaplan_meier(als.load_example(), split="tertiles", censored=True)
    >>> fig = plot_survival(km)
    >>> bool(fig.axes[0].get_ylim()[1] <= 1.05)
    True
    """
    show_ci, censor_marks = check_bool("show_ci", show_ci), check_bool("censor_marks", censor_marks)
    risk_table = check_bool("risk_table", risk_table)
    table = _curve_table(km)
    groups = list(dict.fromkeys(table["group"]))
    with style_context():
        rax = None
        if ax is None and risk_table:  # curves and risk table on one grid, so constrained layout sizes both
            fig, _ = figure(6.5, 4.6 + 0.22 * len(groups), None)
            fig.clear()
            grid = fig.add_gridspec(2, 1, height_ratios=[3.4, 0.5 + 0.28 * len(groups)])
            ax = fig.add_subplot(grid[0])
            rax = fig.add_subplot(grid[1], sharex=ax)
        else:
            fig, ax = figure(6.5, 4.8, ax)
        t_max = float(table["time"].max()) if len(table) else 1.0
        for i, g in enumerate(groups):
            tab = table[table["group"] == g].sort_values("time")
            style, color = _STYLES[i % len(_STYLES)]
            times = np.r_[0.0, tab["time"].to_numpy(float)]
            surv = np.r_[1.0, tab["survival"].to_numpy(float)]
            label = str(g) if len(groups) > 1 else None
            ax.step(times, surv, where="post", linestyle=style, color=color, linewidth=1.6, label=label, zorder=3)
            if show_ci and tab["ci_lower"].notna().any():
                lo = np.r_[1.0, tab["ci_lower"].to_numpy(float)]
                hi = np.r_[1.0, tab["ci_upper"].to_numpy(float)]
                ax.fill_between(times, lo, hi, step="post", color=color, alpha=0.12, linewidth=0, zorder=1)
            if censor_marks:
                cens = tab[tab["n_censor"] > 0]
                if len(cens):
                    ax.plot(cens["time"], cens["survival"], linestyle="none", marker="+", markersize=7,
                            color=color, zorder=4)
        ax.set_ylim(0, 1.04)
        ax.set_xlim(0, t_max * 1.02 + 0.2)
        ax.xaxis.set_major_locator(MaxNLocator(integer=True, nbins=10, steps=[1, 2, 5, 10]))
        ax.set_ylabel(ylabel)
        ax.spines[["top", "right"]].set_visible(False)
        if len(groups) > 1:
            ax.legend(title=None, frameon=False, loc="lower left")
        if title:
            ax.set_title(title)
        if risk_table:
            fig.canvas.draw()  # fix the ticks before reading them
            ticks = [t for t in ax.get_xticks() if 0 <= t <= ax.get_xlim()[1]]
            risk = numbers_at_risk(table, ticks)
            if rax is None:  # a given axes: the risk table is appended below it
                rows = 1 + len(groups)
                rax = make_axes_locatable(ax).append_axes("bottom", size=f"{10 + 7 * rows}%", pad=0.55, sharex=ax)
            rax.set_ylim(len(groups) - 0.5, -1.2)
            for r, g in enumerate(risk.index):
                for t, n in zip(ticks, risk.loc[g]):
                    rax.text(t, r, str(n), ha="center", va="center", fontsize=8.5)
            rax.text(0, -1.0, "Number at risk", ha="left", va="center", fontsize=8.5, fontweight="bold",
                     transform=rax.get_yaxis_transform())
            rax.set_yticks(range(len(groups)), [str(g) for g in risk.index] if len(groups) > 1 else ["all"])
            rax.tick_params(axis="y", length=0, pad=14)  # room for the half of a number left of time 0
            rax.tick_params(axis="x", labelbottom=True)
            ax.tick_params(axis="x", labelbottom=False)
            rax.set_xlabel(xlabel)
            rax.spines[["top", "right", "left"]].set_visible(False)
        else:
            ax.set_xlabel(xlabel)
    return fig
