"""Reports: path diagrams, figures, tables and the self-contained HTML report (drawing only, never estimation).

Everything in this package *draws* results that were fitted elsewhere. :func:`build_report` turns the results
of an analysis file (:func:`allianceStats.analysis.run_analysis`) into a :class:`~.render.Report` of sections,
:func:`write_report` writes it as ``index.html`` with its tables; diagrams and tables take a result object or a
plain tidy DataFrame (see :func:`allianceStats.report.diagrams.paths_table`). No module here imports an
estimation module (checked by ``tests/test_architecture.py``).

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
from .render import Figure, Report, Section, Table, render_html, write_report
from .sections import build_report, draw_step

__all__ = ["build_report", "draw_step", "render_html", "write_report", "Report", "Section", "Table", "Figure",
           "cycle_diagram", "mediation_diagram", "paths_table", "riclpm_diagram", "figure_to_svg",
           "retention_plot", "trajectory_plot", "power_curve_svg"]
