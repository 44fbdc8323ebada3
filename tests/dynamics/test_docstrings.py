"""Every example in the docstrings of allianceStats.dynamics runs and prints what it shows."""
import doctest
import importlib
import pkgutil

import pytest

import allianceStats.dynamics as dyn

MODULES = [m.name for m in pkgutil.iter_modules(dyn.__path__, "allianceStats.dynamics.")]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples_run(name):
    module = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.failed == 0


def test_public_functions_have_an_example():
    for name in dyn.__all__:
        obj = getattr(dyn, name)
        if callable(obj) and not isinstance(obj, type):
            assert ">>>" in (obj.__doc__ or ""), f"{name} has no runnable example"
