"""Cross-lagged panel models on the SEM engine: CLPM, RI-CLPM (and its extensions) and the dynamic panel model.

Builders write lavaan syntax (:mod:`allianceStats.panel.syntax`); the fit functions
(:mod:`allianceStats.panel.fit`) pivot long session data to one row per client (:func:`allianceStats.to_wide`), fit
the syntax with :func:`allianceStats.fit_sem` (FIML by default, ``defaults="none"`` as
``lavaan::lavaan()``), and return a :class:`PanelResult` with tidy cross-lagged and autoregressive tables.

References: Hamaker, Kuiper & Grasman (2015), *Psychological Methods* 20(1); Mulder & Hamaker (2021),
*Structural Equation Modeling* 28(4); Allison, Williams & Moral-Benito (2017), *Socius* 3.
"""
from .fit import PanelResult, compare_panel, fit_clpm, fit_dpm, fit_riclpm
from .reshape import panel_wide as panel_wide  # deprecated alias of allianceStats.to_wide (removed in 0.3.0)
from .syntax import clpm_syntax, dpm_syntax, riclpm_syntax

__all__ = ["fit_clpm", "fit_riclpm", "fit_dpm", "compare_panel", "PanelResult", "clpm_syntax", "riclpm_syntax",
           "dpm_syntax"]
