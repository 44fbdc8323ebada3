# The two commands of the README (demo, test), plus lint and bench. Each creates .venv if it is missing and installs
# the project into it from the lock (requirements.lock: exact versions of every dependency, the test tools included),
# so every machine tests and reproduces with the same versions. `make lock` regenerates the lock from pyproject's
# ranges (uv; run it when a dependency changes and commit both files).
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed

.PHONY: demo test lint install bench clean lock docs docs-check

$(STAMP): pyproject.toml requirements.lock
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.lock
	$(PY) -m pip install --quiet --no-deps -e .
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(VENV)/bin/alliance-stats demo

test: $(STAMP)
	$(PY) -m pytest -n 2 --dist loadfile

# ruff (rules in pyproject [tool.ruff]) over the whole tree; mypy over the modules in pyproject [tool.mypy] files
lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/mypy

# the documentation site (Sphinx + numpydoc + MyST: docs/conf.py says why): API reference from the docstrings, the
# worked analyses run at build time (ALLIANCE_DOCS_EXECUTE=0 shows the scripts without running them), the
# "coming from lavaan / lme4" pages and the design notes -> docs/_build/html/index.html. Warnings are errors.
DOCS_DEPS := sphinx>=8 numpydoc>=1.8 myst-parser>=4
docs: $(STAMP)
	$(PY) -c "import sphinx, numpydoc, myst_parser" 2>/dev/null || $(PY) -m pip install --quiet $(foreach d,$(DOCS_DEPS),"$(d)")
	$(PY) -m sphinx -W --keep-going -q -b html docs docs/_build/html

# `make docs`, then the checks of the built site (tests/test_docs_build.py: no warnings, every public name documented)
docs-check: docs
	$(PY) -m pytest -q -p no:cacheprovider tests/test_docs_build.py

bench: $(STAMP)
	$(PY) benchmarks/run_all.py

lock:
	test -x .venv-lock/bin/uv || ($(PYTHON) -m venv .venv-lock && .venv-lock/bin/pip install --quiet uv)
	.venv-lock/bin/uv pip compile pyproject.toml --extra test --extra docs --universal --python-version 3.11 --no-header \
		--output-file requirements.lock

clean:
	rm -rf $(VENV) .venv-lock build dist .pytest_cache .ruff_cache .mypy_cache docs/_build docs/_generated
