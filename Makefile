# `make demo` and `make test` work on a fresh machine with only Python 3.11+ and pip.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: demo test lint typecheck pytest schema bench clean browser postgres wheel-check

$(STAMP): pyproject.toml adapters/ticketdesk/pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	$(BIN)/python -m pip install --quiet -e 'adapters/ticketdesk[dev]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/crm-complaints demo --source examples/complaints.jsonl --config examples/config.toml

test: $(STAMP) browser postgres lint typecheck wheel-check pytest

# The HTML report is tested in a real headless Chromium (Debian's package).
browser:
	@command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1 || \
	  { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; }
	@fc-list 2>/dev/null | grep -qi "Noto Sans CJK" || \
	  { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq fonts-noto-cjk >/dev/null; }

# The tests need a PostgreSQL at 127.0.0.1:5432 (trust auth, user postgres, database test),
# or the one named by CRM_COMPLAINTS_TEST_POSTGRES. When nothing answers there, Debian's
# postgresql is installed if missing, a cluster created if none exists, local trust set for
# user postgres on 127.0.0.1, and the cluster started as the postgres user; database test is
# created if missing (a cluster of its own when none listens on PG_PORT). Quick and idempotent
# when a server is already up.
PG_PORT ?= 5432
PG_UP = $(BIN)/python -c "import socket; socket.create_connection(('127.0.0.1', $(PG_PORT)), 1).close()"
PG_TRUST = host all postgres 127.0.0.1/32 trust

postgres: $(STAMP)
	@if [ -n "$$CRM_COMPLAINTS_TEST_POSTGRES" ]; then exit 0; fi; \
	if ! $(PG_UP) 2>/dev/null; then \
	  echo "starting PostgreSQL for the tests"; \
	  command -v pg_ctlcluster >/dev/null 2>&1 || { apt-get update -qq && \
	    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null; }; \
	  if [ -z "$$(pg_lsclusters -h | awk '$$3 == $(PG_PORT)')" ]; then \
	    pg_createcluster --port $(PG_PORT) "$$(ls /usr/lib/postgresql | sort -n | tail -1)" \
	      "crm_test_$(PG_PORT)" >/dev/null; fi; \
	  set -- $$(pg_lsclusters -h | awk '$$3 == $(PG_PORT) { print $$1, $$2; exit }'); \
	  hba="$$(pg_conftool -s "$$1" "$$2" show hba_file)"; \
	  grep -qx '$(PG_TRUST)' "$$hba" || sed -i '1i $(PG_TRUST)' "$$hba"; \
	  pg_ctlcluster "$$1" "$$2" start 2>/dev/null || pg_ctlcluster "$$1" "$$2" reload; \
	  for i in $$(seq 100); do $(PG_UP) 2>/dev/null && break; sleep 0.2; done; \
	fi; \
	$(BIN)/python -c "import psycopg; \
	c = psycopg.connect('postgresql://postgres@127.0.0.1:$(PG_PORT)/postgres', autocommit=True); \
	made = c.execute(\"select 1 from pg_database where datname = 'test'\").fetchone(); \
	made or c.execute('create database test')"

# crm-complaints is not on a package index: the wheel built from this checkout must install
# and run on its own (the Dockerfile installs the same wheel).
WHEEL_VENV := .venv-wheel
wheel-check: $(STAMP)
	rm -rf dist $(WHEEL_VENV)
	$(BIN)/python -m pip wheel --quiet --no-deps --wheel-dir dist .
	$(PYTHON) -m venv $(WHEEL_VENV)
	$(WHEEL_VENV)/bin/python -m pip install --quiet --disable-pip-version-check "$$(ls dist/crm_complaints-*.whl)[postgres]"
	cd /tmp && $(CURDIR)/$(WHEEL_VENV)/bin/crm-complaints version
	cd /tmp && $(CURDIR)/$(WHEEL_VENV)/bin/crm-complaints plan $(CURDIR)/examples/complaints.jsonl \
	  --config $(CURDIR)/examples/config.toml --format json >/dev/null
	cd /tmp && $(CURDIR)/$(WHEEL_VENV)/bin/python -c "import crm_complaints, pathlib; \
	assert 'site-packages' in crm_complaints.__file__, crm_complaints.__file__; \
	assert list(pathlib.Path(crm_complaints.__file__).parent.glob('emulator/specs/*.json'))"

lint: $(STAMP)
	$(BIN)/ruff check src tests benchmarks adapters examples
	$(BIN)/ruff format --check src tests benchmarks adapters examples

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
	$(BIN)/python benchmarks/many_portals.py

clean:
	rm -rf $(VENV) $(WHEEL_VENV) dist .pytest_cache .mypy_cache .ruff_cache
