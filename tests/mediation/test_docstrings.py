"""Every docstring example in allianceStats.mediation runs and prints what it says."""
from __future__ import annotations

import doctest
import importlib
import pkgutil

import pytest

# import_module, not "import allianceStats.mediation as ...": that name may be bound to the function mediation()
mediation_pkg = importlib.import_module("allianceStats.mediation")

MODULES = sorted({"allianceStats.mediation", *(f"allianceStats.mediation.{m.name}"
                                               for m in pkgutil.iter_modules(mediation_pkg.__path__))})


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name):
    module = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert result.failed == 0
    assert result.attempted > 0
