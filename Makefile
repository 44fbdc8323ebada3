# The two commands of the README (demo, test), plus lint and bench. Each creates .venv if it is missing and installs
# the project into it from the lock (requirements.lock: exact versions of every dependency, the test tools included),
# so every machine tests and reproduces with the same versions. `make lock` regenerates the lock from pyproject's
# ranges (uv; run it when a dependency changes and commit both files).
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed

.PHONY: demo test lint install bench clean lock

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

bench: $(STAMP)
	$(PY) benchmarks/run_all.py

lock:
	test -x .venv-lock/bin/uv || ($(PYTHON) -m venv .venv-lock && .venv-lock/bin/pip install --quiet uv)
	.venv-lock/bin/uv pip compile pyproject.toml --extra test --universal --python-version 3.11 --no-header \
		--output-file requirements.lock

clean:
	rm -rf $(VENV) .venv-lock build dist .pytest_cache .ruff_cache .mypy_cache
