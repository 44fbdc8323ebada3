"""Monte Carlo power analysis and simulation studies (see :mod:`allianceStats.power_analysis.study`)."""
from .families import FAMILIES
from .study import PowerResult, power

__all__ = ["power", "PowerResult", "FAMILIES"]
