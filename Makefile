# Sidekick: `make run` starts everything, `make test` runs the checks. Both set up .venv first.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin

SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: run test lint stop venv clean chromium wrk bench

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.runtime: requirements.txt | $(BIN)/python
	$(BIN)/pip install --quiet -r requirements.txt
	touch $@

$(VENV)/.dev: requirements.txt requirements-dev.txt | $(BIN)/python
	$(BIN)/pip install --quiet -r requirements-dev.txt
	touch $@ $(VENV)/.runtime

venv: $(VENV)/.runtime

run: $(VENV)/.runtime
	$(BIN)/python -m sidekick_project.runner

lint: $(VENV)/.dev
	$(BIN)/ruff check .

# Browser tests drive Debian's Chromium through Playwright (never a downloaded browser build).
chromium:
	@command -v chromium >/dev/null || { echo "Installing Debian's chromium for the browser tests"; \
	  $(SUDO) apt-get update -qq && $(SUDO) apt-get install -y -qq chromium >/dev/null; }

test: $(VENV)/.dev chromium
	$(BIN)/ruff check .
	$(BIN)/python -m pytest -n 2 -q

# bench/webhook.py drives gunicorn with Debian's wrk (a C load generator: the Python fallback takes a
# core's share from the server on a small machine).
wrk:
	@command -v wrk >/dev/null || { echo "Installing Debian's wrk for bench/webhook.py"; \
	  $(SUDO) apt-get update -qq && $(SUDO) apt-get install -y -qq wrk >/dev/null; }

# Every benchmark in turn (about 20 minutes the first time: the retrieval data is built once and kept
# under var/bench). dashboard, retrieval and insights rewrite their sections of BENCHMARKS.md; webhook and
# pipeline print their figures for it. Run on an otherwise idle machine.
bench: $(VENV)/.dev wrk
	$(BIN)/python bench/webhook.py
	$(BIN)/python bench/pipeline.py
	$(BIN)/python bench/dashboard.py
	$(BIN)/python bench/retrieval.py
	$(BIN)/python bench/insights.py

stop: $(VENV)/.runtime
	$(BIN)/python -c "from sidekick_project import embedded; from pathlib import Path; print('stopped:', embedded.stop(Path('var')) or 'nothing')"

clean: stop
	rm -rf var staticfiles
