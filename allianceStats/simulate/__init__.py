"""Data-generating processes with known truth, for tests, demos and power analysis.

Example
-------
>>> from allianceStats.simulate import sdt_cycle
>>> data, truth = sdt_cycle(3, 4, 5, seed=2)
>>> sorted(truth)[:3]
['client_effects', 'dropout', 'icc']
"""
from . import designs
from .process import simulate_behaviour_chain
from .sdt import SDT_DEFAULTS, sdt_cycle

__all__ = ["sdt_cycle", "SDT_DEFAULTS", "designs", "simulate_behaviour_chain"]
