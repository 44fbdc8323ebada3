"""Reports: path diagrams, figures, tables and the self-contained HTML report (no estimation here).

Everything in this package *draws* results that were fitted elsewhere: diagrams and tables take a
result object or a plain tidy DataFrame (see :func:`allianceStats.report.diagrams.paths_table`). The
analysis runner (:mod:`allianceStats.report.runner`) is the only module that calls estimation
functions, and it does so through the public API, one guarded step per report section.

Example
-------
>>> import pandas as pd
>>> from allianceStats.report import mediation_diagram
>>> t = pd.DataFrame({"from": ["x", "m", "x"], "to": ["m", "y", "y"], "estimate": [0.5, 0.4, 0.1]})
>>> mediation_diagram(t).svg.startswith("<svg")
True
"""
from __future__ import annotations

from .diagrams import cycle_diagram, mediation_diagram, paths_table, riclpm_diagram
from .figures import figure_to_svg, retention_plot, trajectory_plot
from .power_curve import power_curve_svg

__all__ = ["cycle_diagram", "mediation_diagram", "paths_table", "riclpm_diagram", "figure_to_svg",
           "retention_plot", "trajectory_plot", "power_curve_svg"]
