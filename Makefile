# The two commands of the README: `make demo` and `make test`. Both set up .venv first.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp

.PHONY: demo test lint bench docs screens clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/fengqiao demo

test: $(STAMP)
	$(BIN)/lint-imports --no-cache
	$(BIN)/pytest

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy models rules workflows fengqiao scheduler.py
	$(BIN)/lint-imports --no-cache

bench: $(STAMP)
	$(BIN)/python bench/record_events.py
	$(BIN)/python bench/sweep_side_by_side.py --sizes county

screens: $(STAMP)
	FENGQIAO_SCREENS=docs/screens $(BIN)/pytest -q tests/e2e/test_browser.py -k for_the_docs

docs: $(STAMP)
	$(BIN)/python -m fengqiao.docs docs/rules.md docs/web.md

clean:
	rm -rf $(VENV) .pytest_cache fengqiao.db
