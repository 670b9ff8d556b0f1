# Cocreate's commands: the contract ops and CI rely on (see README.md and docs/).
SHELL := /bin/bash
.DEFAULT_GOAL := help
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
export COCREATE_VAR_DIR ?= $(CURDIR)/var

.PHONY: help install run up down infra-up infra-down test test-unit bench clean

help:
	@echo "make run        install, start Kafka, the store, all services and the edge on :$${EDGE_PORT:-8080}; Ctrl-C stops"
	@echo "make test       install, start what the tests need, run the whole suite, stop what it started"
	@echo "make up / down  make run in the background / stop it"
	@echo "make infra-up / infra-down   only Kafka and the store"
	@echo "make bench      the benchmarks; results in bench/results/ and docs/benchmarks.md"

# The virtualenv is rebuilt only when the pinned requirements change.
$(VENV)/.installed: requirements.txt requirements-dev.txt
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	@$(PY) -m pip install -q --disable-pip-version-check --upgrade pip
	@$(PY) -m pip install -q --disable-pip-version-check -r requirements-dev.txt
	@touch $@

# nginx for the edge, and Chromium for the browser tests of `make test` (installed only when missing).
install: $(VENV)/.installed
	@bash deploy/local/system-deps.sh --browser

infra-up:
	@bash deploy/local/infra.sh up

infra-down:
	@bash deploy/local/infra.sh down

run: install
	@$(PY) deploy/local/stack.py run

up: install
	@$(PY) deploy/local/stack.py up

down:
	@test -x $(PY) && $(PY) deploy/local/stack.py down || true

test: install
	@bash deploy/local/test.sh $(PYTEST_ARGS)

test-unit: install
	@$(PY) -m pytest -m "not integration" -q $(PYTEST_ARGS)

bench: install
	@bash deploy/local/bench.sh $(BENCH_ARGS)

clean: down infra-down
	rm -rf var
