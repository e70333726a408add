# The catalogue of commands. `make run` and `make test` are all a newcomer needs.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test chaos lint bench bench-live docs clean chromium axe promtool

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e ".[dev]"
	touch $(STAMP)

## Start the whole system on the embedded default (NATS + services, data under ./var/).
run: $(STAMP)
	$(BIN)/expertshare up

## Run every test: unit, integration (real nats-server, SQLite, PostgreSQL if EXPERTSHARE_TEST_PG), e2e
## (the portal's browser tests drive Debian's chromium through Playwright; never `playwright install`).
## The browser tests photograph every page of every role, phone and desktop, into var/screenshots/.
test: $(STAMP) chromium axe promtool
	$(BIN)/pytest; status=$$?; echo "Screenshots of every page (phone and desktop): $(CURDIR)/var/screenshots/"; exit $$status

## The cluster test, longer: three NATS nodes, two copies of every service, more rounds of racing
## decisions and more kills (PostgreSQL when EXPERTSHARE_TEST_PG is set). Figures: docs/reliability.md.
chaos: $(STAMP)
	mkdir -p var && EXPERTSHARE_CHAOS_REPORT=var/chaos.json EXPERTSHARE_CHAOS_ROUNDS=$${EXPERTSHARE_CHAOS_ROUNDS:-8} $(BIN)/pytest -q -p no:cacheprovider tests/cluster

## Debian's chromium for the browser tests, installed when missing (needs root or sudo).
chromium:
	@test -x /usr/bin/chromium || { \
	  if [ "$$(id -u)" = 0 ]; then apt-get update && apt-get install -y chromium; \
	  else sudo apt-get update && sudo apt-get install -y chromium; fi; }

## promtool for the alert rules' test (tests/unit/test_observability_files.py): the binary alone, taken
## from Debian's prometheus package into .venv/bin (no Prometheus daemon installed or started).
## Without it that test is skipped, so a machine without Debian's archive still runs the rest.
promtool: $(STAMP)
	@test -x $(BIN)/promtool || command -v promtool >/dev/null || { \
	  d=$$(mktemp -d); ( cd $$d && { apt-get download prometheus >/dev/null 2>&1 || \
	    { apt-get update -qq && apt-get download prometheus >/dev/null 2>&1; }; } && \
	    dpkg-deb -x prometheus_*.deb x && cp x/usr/bin/promtool $(CURDIR)/$(BIN)/promtool ) || \
	    echo "promtool could not be had from Debian's archive: the alert rules' promtool test is skipped"; \
	  rm -rf $$d; }

## axe-core from npm for the browser tests' accessibility check (var/cache/axe, once).
AXE := var/cache/axe/node_modules/axe-core/axe.min.js
axe: $(AXE)
$(AXE):
	@command -v npm >/dev/null || { \
	  if [ "$$(id -u)" = 0 ]; then apt-get update && apt-get install -y npm; \
	  else sudo apt-get update && sudo apt-get install -y npm; fi; }
	mkdir -p var/cache/axe
	npm install --silent --no-audit --no-fund --prefix var/cache/axe axe-core@4

## Lint: ruff (rules and format), mypy over the code that ships, and the import contracts.
lint: $(STAMP)
	$(BIN)/ruff check shared services cli scenarios tests bench
	$(BIN)/ruff format --check shared services cli scenarios tests bench
	$(BIN)/mypy shared services cli scenarios
	$(BIN)/lint-imports

## Solver benchmark: figures go into docs/performance.md.
bench: $(STAMP)
	$(BIN)/python bench/bench_solver.py

## The live system measured from outside (bench/bench_live.py): a province's backlog (200 open x 60
## experts) on a fresh `expertshare up --no-demo`, then 50 new requests at 10/s; about a minute.
## Other sizes and the replay of a day: see bench/bench_live.py and bench/bench_replay.py.
bench-live: $(STAMP)
	$(BIN)/python -m bench.bench_live --size province --rate 10 --count 50 --deadline 60 --notify-grace 10

## Regenerate the AsyncAPI document of every subject and the permission tables of docs/security.md (tests check both are current).
docs: $(STAMP)
	$(BIN)/python -m cli.asyncapi
	$(BIN)/python -m cli.security_doc

clean:
	rm -rf $(VENV) var .pytest_cache
