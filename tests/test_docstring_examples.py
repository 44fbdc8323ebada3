"""Every docstring example in the package runs (doctest), and every module that does work shows one.

Package ``__init__`` files that only re-export, and private helper modules, may have none.
data.scoring / data.instruments examples also run in tests/data/test_scoring.py (kept: it checks their output
with fixture data in place).
"""
import doctest
import importlib
import pkgutil

import pytest

import allianceStats

OWN_RUNNER = ("allianceStats.data.scoring", "allianceStats.data.instruments")


def _modules():
    names = ["allianceStats"]
    for info in pkgutil.walk_packages(allianceStats.__path__, prefix="allianceStats."):
        if not info.name.startswith(OWN_RUNNER):
            names.append((info.name, info.ispkg))
    return (sorted(n if isinstance(n, str) else n[0] for n in names),
            {n[0] for n in names if not isinstance(n, str) and n[1]})


MODULES, PACKAGES = _modules()


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples_run(name):
    # import_module, not attribute access: some subpackages share their name with a public function
    module = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=doctest.NORMALIZE_WHITESPACE | doctest.ELLIPSIS, verbose=False)
    assert result.failed == 0, f"{result.failed} of {result.attempted} docstring examples failed in {name}"
    private = name.rsplit(".", 1)[-1].startswith("_")
    if name not in PACKAGES and not private:
        assert result.attempted > 0, f"{name} has no docstring example"


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
