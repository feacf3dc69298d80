# The two commands of README.md: `make up` (run the system) and `make test` (run the tests); `make lint` checks
# style and the layers (CI runs it before the tests).
# Both bootstrap what they need on a fresh clone: a virtualenv with the project, and node_modules.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# pytest-xdist workers of `make test`, each with databases, Redis keys and servers of its own (2 on 2 cores:
# the run is CPU-bound, and a third worker's stack only adds CPU; tests/shipping + tests/payments took 258 s
# and 104 CPU-s with 2 workers, 376 s and 142 CPU-s with 3, back to back on the loaded machine).
TEST_WORKERS ?= 2
# program:package of each Debian package a test drives.
TEST_DEBIAN_PACKAGES := /usr/bin/chromium:chromium /usr/bin/redis-server:redis-server /usr/sbin/haproxy:haproxy \
	/usr/sbin/pgbouncer:pgbouncer

.PHONY: up test lint compose bench fuzz clean

up: $(VENV)/.installed node_modules/.installed
	$(BIN)/myshop up

test: $(VENV)/.installed node_modules/.installed
	@# The Debian packages the tests drive, installed where we may (root with apt-get): Chromium (GraphiQL),
	@# redis-server (tests/redis_cluster), HAProxy (tests/chaos), PgBouncer (tests/test_pgbouncer.py).
	@missing=$$(for need in $(TEST_DEBIAN_PACKAGES); do [ -x "$${need%%:*}" ] || echo "$${need#*:}"; done); \
	[ -z "$$missing" ] || [ "$$(id -u)" != 0 ] || ! command -v apt-get >/dev/null || \
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null || true
	$(BIN)/pytest -n $(TEST_WORKERS)

# Style (ruff) and the layers: the import contracts of pyproject.toml ([tool.importlinter]).
lint: $(VENV)/.installed
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports

compose: $(VENV)/.installed node_modules/.installed
	$(BIN)/myshop compose

# The headline benchmarks in a short form and one table: figure | ours | reference (same run) | ratio | target |
# holds? (bench/summary.py; about ten minutes). BENCH_BASELINE=DIR: a checkout of main with its own .venv, measured
# beside this one by the benchmarks that take --baseline.
BENCH_BASELINE ?=
bench: $(VENV)/.installed node_modules/.installed
	$(BIN)/python bench/summary.py $(if $(BENCH_BASELINE),--baseline $(BENCH_BASELINE))

# The router fuzzed at length (tests/security/test_fuzz.py runs 500 operations of the same generator in CI).
FUZZ_OPERATIONS ?= 20000
fuzz: $(VENV)/.installed
	$(BIN)/python bench/fuzz_router.py --operations $(FUZZ_OPERATIONS)

# setup.py compiles the router's hot modules (router/execution/compiled.py HOT_MODULES, all in that folder):
# an edit there reinstalls, so the tests run what was written (a .py newer than its build runs as Python).
$(VENV)/.installed: pyproject.toml setup.py $(wildcard router/execution/*.py)
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $@

node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

clean:
	rm -rf $(VENV) node_modules
