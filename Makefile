# The two commands of the README (demo, test), plus lint and bench. Each creates .venv if it is missing and installs
# the project into it.
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed

.PHONY: demo test lint install bench clean

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test]'
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

bench: $(STAMP)
	$(PY) benchmarks/run_all.py

clean:
	rm -rf $(VENV) build dist .pytest_cache .ruff_cache .mypy_cache
