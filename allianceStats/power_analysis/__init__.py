"""Monte Carlo power analysis and simulation studies (see :mod:`allianceStats.power_analysis.study`)."""
from .families import FAMILIES
from .study import PowerResult, power
from .studyfile import load_study, run_study

__all__ = ["power", "PowerResult", "FAMILIES", "load_study", "run_study"]
