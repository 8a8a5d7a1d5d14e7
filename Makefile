# Quick start: `make demo` (the bundled example end to end) and `make test` (everything CI runs).
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.mlscope-installed
DEMO_STAMP := $(VENV)/.mlscope-demo-installed
EXAMPLE := examples/caravan

.PHONY: demo test lint typecheck unit golden bench bench-store bench-gates bench-startup clean help

help:
	@echo "make demo   - install, run the Caravan example end to end, print where the report is"
	@echo "make test   - install dev tools, run ruff, mypy and the whole test suite"
	@echo "make bench  - benchmarks (results in benchmarks/results/)"
	@echo "make bench-store - the store's read timings only (benchmarks/results/store.md)"
	@echo "make bench-gates - power and size of the slice gates (benchmarks/results/slice-gates.md)"
	@echo "make bench-startup - start-up of short commands (benchmarks/results/startup-r*.md)"
	@echo "make lint   - ruff and mypy only"

# Two steps: the demo installs only what it runs (the core and the example's scikit-learn);
# `make test` adds the development tools (ruff, mypy, Spark, Playwright, MLflow, ...).
# --no-compile: bytecode is written when a module is first imported, not for every module
# installed (about 140 MB of .pyc the demo never reads).
$(DEMO_STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet --no-compile -e ".[example]"
	# ISLP ships the Caravan table; its own dependencies (torch, lifelines, ...) are not
	# needed to read it, so it is installed without them.
	$(PY) -m pip install --quiet --no-compile --no-deps "ISLP==0.6.0"
	touch $(DEMO_STAMP)

$(STAMP): $(DEMO_STAMP)
	$(PY) -m pip install --quiet -e ".[dev]"
	touch $(STAMP)

demo: $(DEMO_STAMP)
	$(PY) $(EXAMPLE)/prepare.py --out $(EXAMPLE)/data
	@# Exit code 1 means "a decision was made but a requirement is not met": still a
	@# successful demo. 2 (bad input) and 3 (bug) fail it.
	$(VENV)/bin/mlscope run $(EXAMPLE)/mlscope.yaml --out $(EXAMPLE)/out || [ $$? -eq 1 ]
	@echo
	@echo "Report: $(abspath $(EXAMPLE)/out/report.html)"
	@echo "Result: $(abspath $(EXAMPLE)/out/result.json)"

lint: $(STAMP)
	$(VENV)/bin/ruff check src tests examples benchmarks
	$(VENV)/bin/mypy
	$(VENV)/bin/lint-imports

unit: $(STAMP)
	$(VENV)/bin/pytest -q

test: lint unit

# make bench                          1M rows, every method (a few minutes)
# make bench ROWS=10000000            10M rows; the slow references run subsampled
# make bench ROWS=100000000 METHODS=mlscope,mlscope-boot,floor
# make bench SCORES=mixed              the version-1 table (two of five models rounded)
# BENCH_ARGS passes further options (python benchmarks/bench_evaluate.py --help).
ROWS ?= 1000000
METHODS ?= all
# continuous: every model's scores unrounded float32 (the realistic case); rounded; mixed
SCORES ?= continuous
BENCH_ARGS ?=
BENCH_STAMP := $(VENV)/.mlscope-bench-installed

$(BENCH_STAMP): $(STAMP)
	$(PY) -m pip install --quiet -e ".[bench]"
	touch $(BENCH_STAMP)

# Rewrite the bundled example's golden digests (tests/golden/): only when a change is meant
# to alter the numbers; say so in the commit.
golden: $(STAMP)
	MLSCOPE_GOLDEN_WRITE=1 $(PY) -m pytest -q tests/test_example.py

bench: $(BENCH_STAMP) bench-store bench-gates bench-startup
	$(PY) benchmarks/bench_evaluate.py --rows $(ROWS) --methods $(METHODS) --scores $(SCORES) \
		$(BENCH_ARGS)

# Power and size of the slice gates by simulation (more runs than the unit suite's), into
# benchmarks/results/slice-gates.md.
bench-gates: $(STAMP)
	$(PY) benchmarks/bench_slice_gates.py

# Timings never go in the unit suite (a loaded machine fails them): the store's reads on
# 1,000 runs are timed here, into benchmarks/results/store.md and store.json.
bench-store: $(STAMP)
	$(PY) benchmarks/bench_store.py

# Start-up of --version, validate, evaluate and run against `import numpy, pyarrow`
# (medians of fresh processes), with and without intervals.
bench-startup: $(STAMP)
	PYTHONPATH=src $(PY) benchmarks/bench_startup.py --resamples 50
	PYTHONPATH=src $(PY) benchmarks/bench_startup.py --resamples 0 --only version,evaluate,run,run-no-store

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache $(EXAMPLE)/data $(EXAMPLE)/out
