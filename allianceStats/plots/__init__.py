"""Figures for papers, on matplotlib: path diagrams, trajectories, survival curves, power curves, transitions.

Every function takes a fitted result (or a table) and an optional ``ax=``, and returns the matplotlib ``Figure``,
so a figure can be restyled and saved as PDF, SVG or PNG (``fig.savefig("figure.pdf")``). Text stays text in
vector files; fonts are the DejaVu Sans that ships with matplotlib, 8.5 points or more at the figure's size.
:func:`label_collisions` checks a rendered figure for overlapping, cut-off or too-small text (the tests render
every figure type at the demo size and at stress sizes and require it to be empty).

Estimation never imports this package (docs/design.md, "Layout"); it imports only the formatting helpers, the
checks and the errors.

Example
-------
>>> import allianceStats as als
>>> from allianceStats.plots import plot_trajectories, label_collisions
>>> fig = plot_trajectories(als.load_example(), "alliance", client="client", session="session")
>>> label_collisions(fig)
[]
"""
from .collisions import label_collisions
from .paths import plot_paths
from .power_curves import plot_power
from .survival_curves import plot_survival
from .trajectories import plot_trajectories
from .transitions import plot_transitions

__all__ = ["plot_paths", "plot_trajectories", "plot_survival", "plot_power", "plot_transitions",
           "label_collisions"]
