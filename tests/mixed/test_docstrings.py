"""The examples in the docstrings of the mixed-model engine modules run and print what they say."""
import doctest
import importlib

import pytest

MODULES = ["allianceStats.mixed.engine", "allianceStats.mixed.formula", "allianceStats.mixed.design",
           "allianceStats.mixed.satterthwaite", "allianceStats.mixed.ar1", "allianceStats.mixed.result"]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name):
    module = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.attempted > 0, f"{name} has no docstring example"
    assert result.failed == 0
