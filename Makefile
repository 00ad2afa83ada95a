# Every target does its own set-up: a fresh clone needs nothing but `make demo` or `make test`.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# One stamp per set of extras: `make demo` installs `.[demo]` only; `make test` (and every other
# target) `.[dev,deploy]`, which `make demo` before it does not satisfy.
STAMP := $(VENV)/.installed-dev-deploy
DEMO_STAMP := $(VENV)/.installed-demo
TOOLS := .tools
export JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION := 20
export JSII_RUNTIME_PACKAGE_CACHE_ROOT ?= $(HOME)/.cache/aws/jsii

.PHONY: demo test lint typecheck docs unit tools synth bench bench-loopback clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[dev,deploy]'
	touch $@

$(DEMO_STAMP): pyproject.toml | $(BIN)/python
	@echo "make demo: installing what the demo needs only, '.[demo]' (moto in-process; no CDK," \
		"test or docs tools). make test installs the rest."
	$(BIN)/python -m pip install --quiet -e '.[demo]'
	touch $@

# External servers the tests run for real: Prometheus/promtool (Debian) and dynalite (npm).
tools: $(TOOLS)/.installed
$(TOOLS)/.installed: scripts/install-tools.sh
	bash scripts/install-tools.sh $(TOOLS)
	touch $@

demo: $(DEMO_STAMP)
	$(BIN)/reconciler demo

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports

typecheck: $(STAMP)
	$(BIN)/mypy

# The documentation site; --strict turns a broken link or anchor into a failure. site/ is ignored.
docs: $(STAMP)
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict --site-dir site

test: $(STAMP) tools lint typecheck docs
	PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/pytest -n 2 --dist loadgroup

synth: $(STAMP)
	$(BIN)/python -m deploy.app --out cdk.out

# Benchmarks (not part of `make test`): the passes against their floors with a 5 ms round
# trip on every request (docs/benchmarks.md), a recount of 1M to 10M-item exports (generated
# once into .bench-cache/, about 3 minutes the first time), and on loopback with a million items.
bench: $(STAMP) tools
	$(BIN)/python -m benchmarks.latency
	$(BIN)/python -m benchmarks.handler
	$(BIN)/python -m benchmarks.export

bench-loopback: $(STAMP) tools
	$(BIN)/python -m benchmarks.run

clean:
	rm -rf $(VENV) $(TOOLS) cdk.out site .mypy_cache .ruff_cache .pytest_cache .bench-cache
