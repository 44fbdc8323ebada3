"""Every docstring example runs (doctest), for the modules whose area has no doctest runner of its own.

Areas with their own runner: mixed, dynamics, mediation, report (tests/<area>/test_docstrings.py or
test_doctests.py) and data.scoring / data.instruments (tests/data/test_scoring.py).
"""
import doctest
import importlib
import pkgutil

import pytest

import allianceStats

OWN_RUNNERS = ("allianceStats.mixed", "allianceStats.dynamics", "allianceStats.mediation", "allianceStats.report",
               "allianceStats.data.scoring", "allianceStats.data.instruments")


def _modules():
    names = ["allianceStats"]
    for info in pkgutil.walk_packages(allianceStats.__path__, prefix="allianceStats."):
        if not info.name.startswith(OWN_RUNNERS):
            names.append(info.name)
    return sorted(names)


@pytest.mark.parametrize("name", _modules())
def test_docstring_examples_run(name):
    module = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=doctest.NORMALIZE_WHITESPACE | doctest.ELLIPSIS, verbose=False)
    assert result.failed == 0, f"{result.failed} of {result.attempted} docstring examples failed in {name}"


def _public_callables():
    out = []
    for name in allianceStats.__all__:
        obj = getattr(allianceStats, name)
        if callable(obj) and not isinstance(obj, type):
            out.append(name)
    return out


@pytest.mark.parametrize("name", _public_callables())
def test_public_function_documents_model_source_and_example(name):
    doc = getattr(allianceStats, name).__doc__ or ""
    assert len(doc.strip().splitlines()) >= 3, f"allianceStats.{name} has no real docstring"
    assert ">>>" in doc or ">>>" in (importlib.import_module(getattr(allianceStats, name).__module__).__doc__ or ""), \
        f"allianceStats.{name}: no runnable example in its docstring or its module's"
