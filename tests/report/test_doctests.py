"""Every docstring example in allianceStats.report and allianceStats.cli runs and prints what it says."""
from __future__ import annotations

import doctest
import importlib
import pkgutil

import pytest

import allianceStats.report as report_pkg

MODULES = sorted({"allianceStats.report", "allianceStats.cli", *(f"allianceStats.report.{m.name}"
                                            for m in pkgutil.iter_modules(report_pkg.__path__))})


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name):
    module = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert result.failed == 0
