# Tonne: `make run` serves a demo registry, `make test` runs every test.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
HOST   ?= 127.0.0.1
PORT   ?= 8000

.PHONY: run test lint bench clean

$(BIN)/.installed: pyproject.toml setup.py tonne/ledger/_fastverify.c
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	touch $@

run: $(BIN)/.installed
	$(BIN)/tonne demo
	$(BIN)/tonne serve --host $(HOST) --port $(PORT)

test: $(BIN)/.installed
	$(BIN)/python scripts/run_tests.py

lint: $(BIN)/.installed
	$(BIN)/ruff check tonne benchmarks scripts
	$(BIN)/mypy tonne
	$(BIN)/lint-imports --no-cache
	$(BIN)/python scripts/check_private_imports.py

bench: $(BIN)/.installed
	$(BIN)/python benchmarks/run.py

clean:
	rm -rf $(VENV) data .pytest_cache .hypothesis
