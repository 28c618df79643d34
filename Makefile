# Veche — `make run` and `make test` do all set-up on a fresh clone.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
PY := $(BIN)/python
STAMP := $(VENV)/.installed
export PIP_DISABLE_PIP_VERSION_CHECK := 1

.PHONY: help install run serve migrate seed test test-sqlite test-postgres lint typecheck messages screenshots bench bench-ranking bench-dedup bench-cost bench-budgets bench-polls load eval clean

help:  ## list the targets
	@grep -E '^[a-z-]+:.*##' $(MAKEFILE_LIST) | sed 's/:.*##/ —/'

$(STAMP): pyproject.toml constraints.txt
	@command -v $(PYTHON) >/dev/null 2>&1 || { echo "error: $(PYTHON) not found (Veche needs Python 3.11)"; exit 1; }
	test -d $(VENV) || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	# CPU build of torch first, pinned by constraints.txt, so no CUDA build is ever pulled.
	$(BIN)/pip install -q -c constraints.txt "torch==2.13.0"
	$(BIN)/pip install -q -c constraints.txt -e ".[dev]"
	touch $(STAMP)

install: $(STAMP)  ## create .venv and install Veche with its dev tools

run: install  ## migrate a SQLite database, seed demo data if empty, serve on http://127.0.0.1:8000
	$(BIN)/veche migrate
	$(BIN)/veche seed-demo --if-empty
	$(BIN)/veche serve

serve: install  ## serve without migrating or seeding
	$(BIN)/veche serve

migrate: install  ## upgrade the database to the latest schema
	$(BIN)/veche migrate

seed: install  ## load the demo data (from the shipped extract, or --data DIR)
	$(BIN)/veche seed-demo

# Test processes (pytest-xdist; each has its own database and Redis prefixes). 3 was fastest on
# a 2-core machine: -n 2 294 s, -n 3 240 s, -n 4 306 s for the SQLite suite. 0: one process.
PYTEST_WORKERS ?= 3

test: install  ## the whole suite in PYTEST_WORKERS processes (PostgreSQL instead of SQLite when TEST_DATABASE_URL is set)
	$(BIN)/pytest -q -n $(PYTEST_WORKERS)

test-sqlite: install  ## the whole suite on SQLite, whatever TEST_DATABASE_URL says
	TEST_DATABASE_URL= $(BIN)/pytest -q -n $(PYTEST_WORKERS)

test-postgres: install  ## the whole suite on PostgreSQL (TEST_DATABASE_URL, else the local server as postgres)
	TEST_DATABASE_URL=$${TEST_DATABASE_URL:-postgresql://postgres@127.0.0.1:5432/postgres} $(BIN)/pytest -q -n $(PYTEST_WORKERS)

lint: install  ## ruff (lint and format), the import-linter contracts (domains, layers, no cycles)
	$(BIN)/ruff check webapp ranking ml tests migrations tools bench
	$(BIN)/ruff format --check webapp ranking ml tests migrations tools bench
	$(BIN)/lint-imports

typecheck: install  ## mypy, strict for webapp/, ranking/ and ml/, and the tests
	$(BIN)/mypy webapp ranking ml tests

messages: install  ## re-extract translatable strings, update the ru/en catalogs, fill from webapp/i18n/pending/*.json
	flock /tmp/veche-i18n.lock $(PY) tools/i18n_sync.py

.PHONY: docs
docs: install  ## regenerate docs/settings.md and docs/cli.md from the code (tests/test_docs.py fails when they are stale)
	$(PY) tools/gen_docs.py

screenshots: install  ## run the end-to-end browser flows (needs /usr/bin/chromium), save a PNG per step and the main pages on a 360x740 phone in docs/screenshots/
	$(PY) -m tools.screenshots --out docs/screenshots

bench: bench-ranking bench-dedup bench-cost bench-budgets bench-polls  ## run every benchmark (results in bench/results/, summary in docs/benchmarks.md)

bench-ranking: install  ## ranking at 100M votes vs PostgreSQL GROUP BY at 10M (BENCH_ARGS="--votes 1000000" for a quick run)
	$(PY) -m bench.ranking_bench $(BENCH_ARGS)

bench-dedup: install  ## similar-ideas search at 10k/100k/1M: exact vs ANN vs pg_trgm, encoder threads, then end-to-end HTTP (DEDUP_ARGS="--sizes 10000" HTTP_SIZES=10000 for a quick run)
	$(PY) -m bench.dedup_bench --data $(DATA) $(DEDUP_ARGS)
	$(PY) -m bench.similar_http --sizes $(HTTP_SIZES) --json bench/results/similar_http.json

HTTP_SIZES ?= 10000,100000,1000000

bench-cost: install  ## CPU per request and per client per minute of every expensive anonymous path, real model, vs today's uncapped text (COST_ARGS=--quick for a dry run)
	$(PY) -m bench.cost_bounds $(COST_ARGS)

bench-budgets: install  ## greedy and equal shares on Warsaw 2023 pooled and 1M x 2,000 synthetic ballots vs pabutools (BUDGETS_ARGS="--voters 100000 --pabutools-voters 1000 --pabutools-cap 30" for a quick run)
	$(PY) -m bench.budgets_bench --pabulib-dir $(PABULIB) $(BUDGETS_ARGS)

PABULIB ?= ../shared/data/pabulib

bench-polls: install  ## a city poll of 1,000,000 respondents x 10 questions: tally, district and okrug breakdown, post-stratification vs SQL GROUP BY on SQLite and PostgreSQL (POLLS_ARGS="--respondents 100000 --no-postgres" for a quick run)
	$(PY) -m bench.polls_bench $(POLLS_ARGS)

load: install  ## 200 citizens over real HTTP against `veche serve --workers 2` on PostgreSQL and SQLite (WAL), with a ledger of every vote (bench/results/load.json, docs/benchmarks.md; LOAD_ARGS="--duration 20 --backends postgres" for a quick run)
	$(PY) -m bench.load $(LOAD_ARGS)

DATA ?= ../shared/data

eval: install  ## duplicate detection on the labelled data (DATA=../shared/data), methods side by side (docs/dedup.md)
	$(BIN)/veche eval --data $(DATA)

clean:  ## remove the virtual environment and caches
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
