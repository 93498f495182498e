# mallbridge: `make run` (demo) and `make test` (whole suite) on a fresh machine.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
MB := $(VENV)/bin/mallbridge
HOST ?= 127.0.0.1
PORT ?= 5000
# The PostgreSQL run of the suite; CI provides this database (trust auth).
PG_TEST_URL ?= postgresql://postgres@127.0.0.1:5432/test
export MALLBRIDGE_DEMO_PORT := $(PORT)

.PHONY: install run test lint test-sqlite test-postgres bench-lookup bench-outbox bench-sync bench-replies bench-helpdesk clean

# Reinstall only when the dependency list changed.
$(VENV)/.installed: pyproject.toml setup.py
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test]'
	touch $@

install: $(VENV)/.installed

run: install
	MALLBRIDGE_DEMO=1 $(MB) db upgrade
	MALLBRIDGE_DEMO=1 $(MB) demo seed
	@echo
	@echo "  mallbridge demo: http://$(HOST):$(PORT)/   (Ctrl-C stops everything)"
	@echo
	MALLBRIDGE_DEMO=1 HOST=$(HOST) PORT=$(PORT) $(VENV)/bin/honcho -f Procfile.demo start

test: install lint test-sqlite test-postgres

# ruff's default rules plus import order (pyproject.toml), pinned in the test extra.
lint: install
	$(VENV)/bin/ruff check .

test-sqlite: install
	$(PY) -m pytest

# Same suite on PostgreSQL (the browser tests already ran once above). Outside CI a missing
# server only skips this run; in CI (CI=1) it is an error.
test-postgres: install
	@if $(PY) -c "import psycopg,sys; psycopg.connect('$(PG_TEST_URL)', connect_timeout=3).close()" 2>/dev/null; then \
	  MALLBRIDGE_TEST_DATABASE_URL=$(PG_TEST_URL) $(PY) -m pytest -m "not browser"; \
	elif [ -n "$$CI" ]; then echo "PostgreSQL at $(PG_TEST_URL) is unreachable" >&2; exit 1; \
	else echo "note: PostgreSQL at $(PG_TEST_URL) unreachable, skipping the PostgreSQL run"; fi

# The lookup bench drives gunicorn with wrk (Debian package `wrk`), installed here when missing.
bench-lookup: install
	@command -v wrk >/dev/null || (apt-get update -qq && apt-get install -y -qq wrk)
	$(PY) -m bench.lookup

bench-outbox: install
	$(PY) -m bench.outbox

bench-sync: install
	$(PY) -m bench.sync

bench-replies: install
	$(PY) -m bench.replies

bench-helpdesk: install
	$(PY) -m bench.helpdesk

clean:
	rm -rf $(VENV) instance artifacts .pytest_cache

.PHONY: bench-scale
bench-scale: install
	$(PY) -m bench.scale
