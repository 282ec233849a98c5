# The two commands of the README: `make start` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: start test check lint bench messages monitor

# The runtime for `make start`; the runtime and the tests' tools for everything else.
$(BIN)/.installed: requirements.txt requirements-local.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -r requirements-local.txt
	touch $@

$(BIN)/.installed-dev: $(BIN)/.installed requirements-dev.txt
	$(BIN)/pip install --quiet -r requirements-dev.txt
	touch $@

start: $(BIN)/.installed
	scripts/start.sh

# The system packages the tests start or drive: Debian's Chromium for the browser tests (no
# browser is downloaded), redis-server for the fault tests, nginx for the buffering front of
# compose (tests/test_front.py), gettext for the check that the French catalogue holds every
# string of the code (tests/test_i18n.py), iproute2 for the test host whose network vanishes
# (tests/test_events.py), Prometheus and promtool for the monitoring's tests
# (tests/test_monitoring.py). PostgreSQL comes from a wheel (devtools/postgres.py).
SYSTEM_PACKAGES := /usr/bin/chromium=chromium redis-server=redis-server \
	/usr/sbin/nginx=nginx-light msgfmt=gettext ip=iproute2 /usr/bin/promtool=prometheus

# Tests use Redis databases 14 (broker) and 15 (cache) so they never touch the platform's data
# (the second of the two processes they run in, 10 and 11: tests/parallel.py),
# the local PostgreSQL (or DATABASE_URL's) for their own test database, and never .env.
test: $(BIN)/.installed-dev
	scripts/system-packages $(SYSTEM_PACKAGES)
	ENV_FILE=/dev/null SECRET_KEY=tests-only REDIS_URL=$${TEST_REDIS_URL:-redis://127.0.0.1:6379/14} \
	REDIS_CACHE_URL=$${TEST_REDIS_CACHE_URL:-redis://127.0.0.1:6379/15} \
	scripts/with-services $(BIN)/python -m pytest -p tests.parallel -n $${TEST_PROCESSES:-2} \
		--dist loadfile $(PYTEST_ARGS)

# The fast loop: lint, then the tests that start no other process (no worker, server,
# browser or cluster), on the local database and Redis.
check: lint
	ENV_FILE=/dev/null SECRET_KEY=tests-only REDIS_URL=$${TEST_REDIS_URL:-redis://127.0.0.1:6379/14} \
	REDIS_CACHE_URL=$${TEST_REDIS_CACHE_URL:-redis://127.0.0.1:6379/15} \
	scripts/with-services $(BIN)/pytest -q -m "not e2e and not browser and not cluster" $(PYTEST_ARGS)

lint: $(BIN)/.installed-dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

# Prometheus (Debian's package) scraping `make start`'s processes, with the platform's alert
# rules: http://127.0.0.1:9090/ (deploy/prometheus/; Grafana comes with compose's profile).
monitor: $(BIN)/.installed-dev
	scripts/system-packages /usr/bin/prometheus=prometheus
	$(BIN)/python -m devtools.monitor

# The end-to-end benchmark (gunicorn, a Celery worker, wrk): figures into docs/benchmarks.md.
bench: $(BIN)/.installed-dev
	@command -v wrk >/dev/null || (apt-get update -qq && apt-get install -y -qq wrk)
	scripts/with-services $(BIN)/python -m bench

# The French catalogue: gather the code's strings into locale/fr/LC_MESSAGES/django.po
# (translations kept), then, once translated, compile django.mo (both are committed, so
# installing needs no gettext). tests/test_i18n.py runs the same gathering and fails on a
# string left untranslated.
MAKEMESSAGES_IGNORE := -i .venv -i bench -i tests -i scripts -i docs -i staticfiles -i media -i reports
messages: $(BIN)/.installed-dev
	scripts/system-packages msgfmt=gettext
	SECRET_KEY=messages $(BIN)/python manage.py makemessages -l fr --no-location --no-wrap \
		$(MAKEMESSAGES_IGNORE)
	SECRET_KEY=messages $(BIN)/python manage.py compilemessages -l fr $(MAKEMESSAGES_IGNORE)
