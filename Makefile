# `make demo` and `make test` work on a fresh machine with only Python 3.11+ and pip.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: demo test lint typecheck pytest schema bench clean browser

$(STAMP): pyproject.toml adapters/ticketdesk/pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	$(BIN)/python -m pip install --quiet -e 'adapters/ticketdesk[dev]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/crm-complaints demo --source examples/complaints.jsonl --config examples/config.toml

test: $(STAMP) browser lint typecheck pytest

# The HTML report is tested in a real headless Chromium (Debian's package).
browser:
	@command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1 || \
	  { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; }

lint: $(STAMP)
	$(BIN)/ruff check src tests benchmarks adapters
	$(BIN)/ruff format --check src tests benchmarks adapters

typecheck: $(STAMP)
	$(BIN)/mypy src

pytest: $(STAMP)
	$(BIN)/pytest -q
	$(BIN)/pytest -q adapters/ticketdesk/tests

schema: $(STAMP)
	$(BIN)/crm-complaints schema export

bench: $(STAMP)
	$(BIN)/python benchmarks/plan.py
	$(BIN)/python benchmarks/hubspot_sync.py

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
