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

# make bench [SIZES=county,province] [POSTGRES=postgresql://postgres@127.0.0.1:5432/test]
SIZES ?= county
BENCH_DB := $(if $(POSTGRES),--postgres $(POSTGRES),)
# The parties' data of the generated databases is sealed with this key (PostgreSQL has no
# key file of its own; a SQLite file's would do, but one key serves both).
BENCH_KEY := $(CURDIR)/bench-data.key
bench: export FENGQIAO_DATA_KEY_FILE := $(BENCH_KEY)
bench: $(STAMP)
	test -f $(BENCH_KEY) || $(BIN)/fengqiao keys new --out $(BENCH_KEY)
	$(BIN)/python bench/record_events.py $(BENCH_DB)
	$(BIN)/python bench/sweep_side_by_side.py --sizes $(SIZES) --methods A,W,B --runs 3 $(BENCH_DB)
	$(BIN)/python bench/org_load.py $(BENCH_DB)
	$(BIN)/python bench/ledger.py $(BENCH_DB)
	$(BIN)/python bench/reports.py $(BENCH_DB)

screens: $(STAMP)
	FENGQIAO_SCREENS=docs/screens $(BIN)/pytest -q tests/e2e/test_browser.py -k for_the_docs

docs: $(STAMP)
	$(BIN)/python -m fengqiao.docs docs/rules.md docs/web.md

clean:
	rm -rf $(VENV) .pytest_cache fengqiao.db
