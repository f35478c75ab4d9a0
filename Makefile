# PostPact: `make run` (embedded default, no services needed) and `make test` (the whole suite).
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
HTMX := static/vendor/htmx.min.js
HOST ?= 127.0.0.1
PORT ?= 8000
# Two workers: this machine has two cores. Override with `make test PYTEST_ARGS="-x tests/unit"`.
PYTEST_WORKERS ?= 2
PYTEST_ARGS ?=

.PHONY: run test install htmx translations messages migrate seed worker beat lint format bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e ".[dev]"
	@touch $(STAMP)

install: $(STAMP)

# htmx and Swagger UI (for /schema) come from the pinned npm packages; without npm the pages still work (htmx only
# enhances them) and /schema/openapi.json is still served.
htmx: $(HTMX)
$(HTMX): package.json package-lock.json
	@if command -v npm >/dev/null 2>&1; then \
		npm ci --ignore-scripts --no-audit --no-fund --loglevel=error && mkdir -p static/vendor/swagger-ui && \
		cp node_modules/htmx.org/dist/htmx.min.js $(HTMX) && \
		cp node_modules/swagger-ui-dist/{swagger-ui-bundle.js,swagger-ui-standalone-preset.js,swagger-ui.css} \
			static/vendor/swagger-ui/; \
	else \
		echo "npm is not installed: skipping htmx. Every page works without JavaScript; install Node.js/npm for the enhancements."; \
	fi

# Message catalogs: the .po files are the source (committed); the .mo files are compiled here, never committed.
TRANSLATIONS := marketplace/translations
MO_FILES := $(patsubst %.po,%.mo,$(wildcard $(TRANSLATIONS)/*/LC_MESSAGES/messages.po))
translations: $(MO_FILES)
$(TRANSLATIONS)/%/LC_MESSAGES/messages.mo: $(TRANSLATIONS)/%/LC_MESSAGES/messages.po | $(STAMP)
	$(BIN)/pybabel compile --statistics -l $* -i $< -o $@

# After marking new text: extract it and merge it into every catalog, then translate the new entries.
messages: install
	$(BIN)/pybabel extract -F babel.cfg -k lazy_gettext -o $(TRANSLATIONS)/messages.pot --sort-by-file .
	$(BIN)/pybabel update -i $(TRANSLATIONS)/messages.pot -d $(TRANSLATIONS) --no-fuzzy-matching

migrate: install
	@mkdir -p var
	$(BIN)/postpact db upgrade

seed: migrate
	$(BIN)/postpact seed --if-empty

run: install htmx translations seed
	$(BIN)/postpact run --host $(HOST) --port $(PORT)

# Production-style background processing: Celery worker + beat against REDIS_URL.
worker: install
	$(BIN)/celery -A worker.celery_app worker --beat --loglevel=INFO -Q default,verification --concurrency=2

# Bytecode is cached even where PYTHONDONTWRITEBYTECODE is set: without it each xdist worker (and each process a
# test starts) compiles every module and pytest rewrites every test module's asserts again (~9 s of CPU a worker).
test: install htmx translations
	@if [ "$$CI" = "true" ]; then $(BIN)/python -m tests.support.preflight; fi
	PYTHONDONTWRITEBYTECODE= $(BIN)/python -m pytest -n $(PYTEST_WORKERS) --dist loadgroup $(PYTEST_ARGS)

lint: install
	$(BIN)/ruff check .

format: install
	$(BIN)/ruff format .

# bench/web.py drives the servers with wrk (a C load generator), installed from Debian when missing.
bench: install
	@command -v wrk >/dev/null 2>&1 || { echo "installing wrk (Debian package)"; SUDO=$$([ "$$(id -u)" = 0 ] || echo sudo); \
		$$SUDO apt-get install -y wrk || { $$SUDO apt-get update && $$SUDO apt-get install -y wrk; }; }
	@ls bench/*.py | while read f; do echo "== $$f"; $(BIN)/python $$f || exit 1; done

clean:
	rm -rf $(VENV) node_modules static/vendor .pytest_cache .ruff_cache
