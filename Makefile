# Set-up and everyday commands. Everything installs into ./.venv; on a CPU-only
# machine torch is pinned to the local CPU build through constraints-cpu.txt.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PIP := $(BIN)/python -m pip
CONSTRAINTS ?= constraints-cpu.txt
SPHINX_BUILD = $(BIN)/python -m sphinx -W --keep-going -q -b html docs docs/_build/html

.PHONY: demo test test-fast docs bench install-%

# `make install-test`, `make install-docs`, `make install-test,docs` ... :
# editable install with extras
install-%:
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --disable-pip-version-check -c $(CONSTRAINTS) -e ".[$*]"

demo: install-benchmarks
	OMP_NUM_THREADS=1 $(BIN)/python examples/quickstart.py

# ruff, the test suite (doctests and the docs pages' code included), then the
# documentation build with warnings as errors (it runs the gallery examples)
test: install-test,docs
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/python -m pytest -n 2 --durations=15
	$(SPHINX_BUILD)

# the edit loop: ruff and the tests not marked slow, stopping at the first
# failure (no docs build)
test-fast: install-test
	$(BIN)/ruff check .
	$(BIN)/python -m pytest -n 2 -x -q -m "not slow"

docs: install-docs
	$(SPHINX_BUILD)

# `make bench` runs every family's speed, memory and accuracy benchmarks and
# writes benchmarks/results/summary.{md,png}; `make bench BENCH_ARGS=--quick`
# is a smoke run. The per-family scripts stay runnable on their own.
BENCH_ARGS ?=
bench: install-benchmarks
	OMP_NUM_THREADS=1 $(BIN)/python -m benchmarks.run_all $(BENCH_ARGS)
