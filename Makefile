# `make run` and `make test` set everything up on a fresh machine: they create .venv when it is
# missing and (re)install the project into it whenever pyproject.toml changed.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: run test lint install bench clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test,lint]'
	touch $(STAMP)

install: $(STAMP)

run: $(STAMP)
	$(BIN)/monitor run --once

test: $(STAMP)
	$(BIN)/python -m pytest

# ruff (style, imports, likely bugs) over everything, mypy over the package
lint: $(STAMP)
	$(BIN)/ruff check monitor tests bench
	$(BIN)/mypy

bench: $(STAMP)
	$(BIN)/python bench/ingest.py
	$(BIN)/python bench/match.py
	$(BIN)/python bench/stories.py
	$(BIN)/python bench/deliver.py

clean:
	rm -rf $(VENV) data build *.egg-info .pytest_cache .hypothesis
