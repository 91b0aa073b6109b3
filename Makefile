# Two commands for a fresh machine: `make quickstart` and `make test`.
# Both create .venv and install tlcore with its pins (constraints.txt) first.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
export HF_HUB_OFFLINE ?= 1
export NO_MKDOCS_2_WARNING ?= 1

.PHONY: setup quickstart test lint typecheck docs clean

$(STAMP): pyproject.toml constraints.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c constraints.txt -e ".[dev]"
	# The quickstart's real images (MIT). --no-deps: its own loader needs TensorFlow, which tlcore never uses.
	$(BIN)/python -m pip install --quiet --no-deps animal-mnist==0.4
	touch $@

setup: $(STAMP)

quickstart: $(STAMP)
	$(BIN)/tlcore quickstart --out quickstart_run

lint: $(STAMP)
	$(BIN)/ruff check tlcore plugins tests benchmarks

typecheck: $(STAMP)
	$(BIN)/mypy

docs: $(STAMP)
	$(BIN)/mkdocs build --strict --quiet --site-dir site

test: $(STAMP) lint typecheck docs
	$(BIN)/pytest

clean:
	rm -rf $(VENV) site .pytest_cache .mypy_cache .ruff_cache
