# The two commands of README.md: `make up` (run the system) and `make test` (run the tests); `make lint` checks
# style and the layers (CI runs it before the tests).
# Both bootstrap what they need on a fresh clone: a virtualenv with the project, and node_modules.
# The venv's interpreter: Debian's python3.11 where it can make venvs, else python3. Debian builds it with PGO and
# LTO, as the production image's python:3.11-slim is built; pyenv's default build has neither. On pyenv's, every
# process spent about a third more CPU: placeOrder at 10 clients ran 62-64 orders/s, on Debian's 78-81, each service
# using about 25% less CPU per order (bench/place_order.py, back to back). A changed PYTHON rebuilds the venv.
ifeq ($(origin PYTHON), undefined)
PYTHON := $(shell /usr/bin/python3.11 -c 'import ensurepip, venv' >/dev/null 2>&1 && echo /usr/bin/python3.11 || echo python3)
endif
VENV := .venv
BIN := $(VENV)/bin
VENV_PYTHON := build/venv-python
# ariadne-codegen's own venv and lock (the `partner-client` target).
CODEGEN_VENV := build/codegen/venv
CODEGEN_LOCK := requirements/codegen.txt
# The reference storefront (its own npm packages; the `storefront-types` target).
STOREFRONT := examples/storefront
# pytest-xdist workers of `make test`, each with databases, Redis keys and servers of its own (2 on 2 cores:
# the run is CPU-bound, and a third worker's stack only adds CPU; tests/shipping + tests/payments took 258 s
# and 104 CPU-s with 2 workers, 376 s and 142 CPU-s with 3, back to back on the loaded machine).
TEST_WORKERS ?= 2
# program:package of each Debian package a test drives.
# The admin console's build (`make console`) and what it is built from.
CONSOLE_BUILT := myshop/console/static/index.html
CONSOLE_SOURCES := $(wildcard myshop/console/web/*.* myshop/console/web/src/*.* myshop/console/web/src/*/*.*)
TEST_DEBIAN_PACKAGES := /usr/bin/chromium:chromium /usr/bin/redis-server:redis-server /usr/sbin/haproxy:haproxy \
	/usr/sbin/pgbouncer:pgbouncer

.PHONY: up test lint compose bench fuzz clean lock partner-client console storefront storefront-types

up: $(VENV)/.installed node_modules/.installed $(CONSOLE_BUILT) $(STOREFRONT)/dist/index.html
	$(BIN)/myshop up

test: $(VENV)/.installed node_modules/.installed $(CODEGEN_VENV)/.installed $(CONSOLE_BUILT) $(STOREFRONT)/dist/index.html
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

# The Python packages: exactly the versions of $(LOCK), each file checked against its hashes (a package the
# lock lacks fails the install), then the project itself, editable, without resolving anything and built with
# the locked setuptools and Cython (no isolated build environment fetched unchecked).
# setup.py compiles the router's hot modules (router/execution/compiled.py HOT_MODULES, all in that folder):
# an edit there reinstalls, so the tests run what was written (a .py newer than its build runs as Python).
LOCK := requirements/lock.txt
$(VENV)/.installed: $(VENV_PYTHON) $(LOCK) pyproject.toml setup.py $(wildcard router/execution/*.py)
	test -x $(BIN)/python && cmp -s $(VENV_PYTHON) $(VENV)/.made-by || $(PYTHON) -m venv --clear $(VENV)
	cp $(VENV_PYTHON) $(VENV)/.made-by
	$(BIN)/python -m pip install --quiet --require-hashes -r $(LOCK)
	$(BIN)/python -m pip install --quiet --no-deps --no-build-isolation -e .
	touch $@

# Which interpreter the venv is to be made by, rewritten only when that changes (so `.installed` is remade then).
$(VENV_PYTHON): FORCE
	@mkdir -p $(@D)
	@echo '$(PYTHON)' | cmp -s - $@ || echo '$(PYTHON)' > $@

FORCE:

# Rewrites $(LOCK) from pyproject.toml: its dependencies, the test and bench extras and the build's own
# requirements ([build-system]), for CPython 3.11 on Linux x86_64 (CI), with the hashes of every file of each
# pinned version (other platforms install from the same lock). Pins already in the lock stay unless
# pyproject.toml needs otherwise; `make lock LOCK_FLAGS=--upgrade` moves every pin to the newest release,
# `LOCK_FLAGS='--upgrade-package sqlalchemy'` one package. $(RUNTIME_LOCK) is the same pins without the extras
# (the Dockerfile's image installs it). uv runs from a venv of its own under build/.
RUNTIME_LOCK := requirements/runtime.txt
LOCK_TOOL := uv==0.13.9
LOCK_FLAGS ?=
LOCK_DIR := build/lock
lock:
	test -x $(LOCK_DIR)/venv/bin/python || $(PYTHON) -m venv $(LOCK_DIR)/venv
	$(LOCK_DIR)/venv/bin/python -m pip install --quiet '$(LOCK_TOOL)'
	$(PYTHON) -c 'import tomllib; print(*tomllib.load(open("pyproject.toml", "rb"))["build-system"]["requires"], sep="\n")' \
		> $(LOCK_DIR)/build-system.txt
	$(LOCK_DIR)/venv/bin/uv pip compile --quiet pyproject.toml $(LOCK_DIR)/build-system.txt --extra test --extra bench \
		--generate-hashes --python-version 3.11 --python-platform x86_64-manylinux_2_28 \
		--custom-compile-command 'make lock' $(LOCK_FLAGS) --output-file $(LOCK)
	$(LOCK_DIR)/venv/bin/uv pip compile --quiet pyproject.toml $(LOCK_DIR)/build-system.txt --constraint $(LOCK) \
		--generate-hashes --python-version 3.11 --python-platform x86_64-manylinux_2_28 \
		--custom-compile-command 'make lock' --output-file $(RUNTIME_LOCK)
	$(LOCK_DIR)/venv/bin/uv pip compile --quiet --group pyproject.toml:codegen \
		--generate-hashes --python-version 3.11 --python-platform x86_64-manylinux_2_28 \
		--custom-compile-command 'make lock' $(LOCK_FLAGS) --output-file $(CODEGEN_LOCK)

# The partner's typed client (examples/partner/client/), generated by ariadne-codegen from the router's API
# schema and examples/partner/operations.graphql; tests/test_partner_codegen.py fails while it is stale.
# ariadne-codegen needs an older graphql-core and ruff than the project's: it runs from a venv of its own,
# installed hash-checked from $(CODEGEN_LOCK) (pyproject.toml's `codegen` dependency group, `make lock`).
partner-client: $(VENV)/.installed $(CODEGEN_VENV)/.installed
	$(BIN)/python examples/partner/generate.py

$(CODEGEN_VENV)/.installed: $(CODEGEN_LOCK)
	test -x $(CODEGEN_VENV)/bin/python || $(PYTHON) -m venv $(CODEGEN_VENV)
	$(CODEGEN_VENV)/bin/python -m pip install --quiet --require-hashes -r $(CODEGEN_LOCK)
	touch $@

# The admin console (myshop/console/web/, React + chart.js from the pinned npm packages): type-checked by tsc and
# built by vite into myshop/console/static/ (gitignored), which `myshop up` serves (myshop/sites.py) and the
# wheel carries (setup.py); rebuilt when a source changes.
console: $(CONSOLE_BUILT)

$(CONSOLE_BUILT): node_modules/.installed $(CONSOLE_SOURCES)
	node_modules/.bin/tsc -p myshop/console/web
	node_modules/.bin/vite build --config myshop/console/web/vite.config.ts

# The reference storefront (examples/storefront/): npm packages of its own (its package-lock.json), built into
# dist/ (which `myshop up` serves, myshop/sites.py) after `tsc --noEmit` checks it against its committed
# generated types (tests/test_storefront_codegen.py fails while they are stale). `make storefront-types` generates them again from the router's API schema, as
# examples/partner/generate.py prints it.
storefront: $(STOREFRONT)/dist/index.html

$(STOREFRONT)/node_modules/.installed: $(STOREFRONT)/package.json $(STOREFRONT)/package-lock.json
	cd $(STOREFRONT) && npm ci --no-audit --no-fund --loglevel=error
	touch $@

$(STOREFRONT)/dist/index.html: $(STOREFRONT)/node_modules/.installed $(shell find $(STOREFRONT)/src $(STOREFRONT)/public -type f) \
		$(addprefix $(STOREFRONT)/,index.html tsconfig.json vite.config.ts)
	cd $(STOREFRONT) && npm run --silent build

storefront-types: $(VENV)/.installed $(STOREFRONT)/node_modules/.installed
	mkdir -p build/storefront
	$(BIN)/python -c 'import runpy; print(runpy.run_path("examples/partner/generate.py")["api_schema_sdl"](), end="")' \
		> build/storefront/api.graphql
	cd $(STOREFRONT) && STOREFRONT_SCHEMA=../../build/storefront/api.graphql node_modules/.bin/graphql-codegen --config codegen.ts

node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

clean:
	rm -rf $(VENV) node_modules $(STOREFRONT)/node_modules $(STOREFRONT)/dist myshop/console/static
