# RongMail — two commands on a fresh machine: `make run` and `make test`.
SHELL := /bin/bash
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
DATA ?= data
DEMO_DOMAIN ?= rongmail.test
PYTEST_ARGS ?=
# pytest-xdist workers for `make test` / `make test-fast` (0 = one process). Most end-to-end
# time is spent waiting on subprocess start-up, sockets and fsync, so more workers than cores
# pay: on a 2-core box the full suite took 15.6 min in one process, 6.6 min with 3, 6.4 with 4.
PYTEST_WORKERS ?= 4

.PHONY: run test test-fast lint bench web venv venv-dev test-deps lock clean config-reference

$(BIN)/python:
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip

# Runtime dependencies from the lock file, then the package itself (editable).
$(VENV)/.runtime: requirements.lock pyproject.toml | $(BIN)/python
	$(BIN)/pip install -q -r requirements.lock
	$(BIN)/pip install -q --no-deps -e .
	touch $@

$(VENV)/.dev: requirements-dev.lock $(VENV)/.runtime
	$(BIN)/pip install -q -r requirements-dev.lock
	touch $@

venv: $(VENV)/.runtime
venv-dev: $(VENV)/.dev

# Front-end assets (Vue 3 + Vite). Skipped with a note when npm is missing.
WEB_SRC := $(shell find web/src web/index.html web/package.json web/vite.config.ts 2>/dev/null)
src/rongmail/static/web/index.html: $(WEB_SRC)
	@if [ -f web/package.json ] && command -v npm >/dev/null; then \
	  cd web && (npm ci --no-audit --no-fund --loglevel=error || npm install --no-audit --no-fund --loglevel=error) && npm run build; \
	else echo "web: npm or web/package.json missing; webmail assets not built"; fi
web: src/rongmail/static/web/index.html

run: venv web
	@if [ ! -f $(DATA)/rongmail.toml ]; then \
	  $(BIN)/rongmail init --data-dir $(DATA) --domain $(DEMO_DOMAIN) --admin-email admin@$(DEMO_DOMAIN); \
	else echo "Data directory $(DATA) exists; reset the admin password with: $(BIN)/rongmail user passwd --data-dir $(DATA) admin@$(DEMO_DOMAIN)"; fi
	$(BIN)/rongmail serve --data-dir $(DATA)

test-deps:
	@bash scripts/test-deps.sh

test: venv-dev web test-deps
	$(BIN)/python -m pytest -q -ra --durations=25 -n $(PYTEST_WORKERS) $(PYTEST_ARGS)

test-fast: venv-dev
	$(BIN)/python -m pytest -q -n $(PYTEST_WORKERS) -m "not peer and not browser and not slow and not corpus" $(PYTEST_ARGS)

lint: venv-dev
	$(BIN)/ruff check src tests bench
	$(BIN)/mypy
	$(BIN)/lint-imports

bench: venv-dev test-deps
	@for b in bench/*.py; do echo "== $$b"; $(BIN)/python $$b || exit 1; done

config-reference: venv
	$(BIN)/rongmail config-reference > docs/config-reference.md

# Regenerate the pinned lock files from pyproject.toml (needs network to PyPI).
lock: | $(BIN)/python
	$(BIN)/pip install -q uv
	$(BIN)/uv pip compile -q pyproject.toml -o requirements.lock
	$(BIN)/uv pip compile -q pyproject.toml --extra dev -o requirements-dev.lock

clean:
	rm -rf $(VENV) src/rongmail/static/web web/node_modules
