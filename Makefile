# PhoenixFlight: one entry point. `make run` serves, `make test` checks everything.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
BUF    := node_modules/.bin/buf
LISTEN ?= 127.0.0.1:7400
# The REST/JSON routes of `make run`, at the address the seeds' examples use.
HTTP_LISTEN ?= 127.0.0.1:8000
DATA   ?= ./.phoenixflight
# The compiled kernel's sources: a change to any of them rebuilds the extension.
KERNEL_SOURCES := $(wildcard phoenixd/kernel/*.pyx phoenixd/kernel/*.pxd phoenixd/kernel/*.pxi)

.PHONY: venv chromium run test screenshots readme charts check lint gen check-gen proto-lint typecheck ts-test bench bench-smoke bench-scale soak clean

# The set-up: a venv with the API contract (generated code), the SDK and the daemon (its Cython
# kernel compiled at install), plus buf from npm. Redone when a build file changes.
$(STAMP): pyproject.toml setup.py api/python/pyproject.toml clients/python/pyproject.toml $(KERNEL_SOURCES) package.json package-lock.json clients/typescript/package.json clients/typescript/package-lock.json
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e ./api/python
	$(BIN)/pip install --quiet -e ./clients/python
	PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 $(BIN)/pip install --quiet -e '.[dev,plots,browser]'
	npm ci --no-audit --no-fund --loglevel=error
	cd clients/typescript && npm ci --no-audit --no-fund --loglevel=error
	touch $(STAMP)

venv: $(STAMP)

# The browser the console's tests drive: Debian's chromium, installed when missing (root on CI).
# Playwright never downloads one of its own (the browser extra, PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD).
chromium:
	command -v chromium || (apt-get update && apt-get install -y chromium)

run: venv
	$(BIN)/phoenixd --listen $(LISTEN) --http-listen $(HTTP_LISTEN) --data-dir $(DATA)

# The suite in 4 worker processes (pytest-xdist): most tests wait on a real daemon's timers
# and sockets, so four at once keep two cores busy. `.venv/bin/pytest` alone runs it serially.
# loadgroup keeps the browser tests (one chromium, one daemon) on one worker.
test: venv chromium check-gen proto-lint lint typecheck ts-test bench-smoke
	$(BIN)/pytest -n 4 --dist loadgroup
	PHOENIX_NO_EXTENSIONS=1 $(BIN)/pytest -q tests/kernel

# The console's screenshots in the README (docs/console/*.png): a daemon with a few members and
# packets, each tab captured by the browser tests' Playwright and chromium.
screenshots: venv chromium
	PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 $(BIN)/python scripts/console_screenshots.py docs/console

# The README's console examples, rerun against a real phoenixd and written back (make test
# checks them with --check).
readme: venv
	$(BIN)/python scripts/readme_examples.py --write

# The simulator's charts in the README (docs/sim/*.png), redrawn from fixed presets and seeds:
# a rerun gives the same bytes (with the pinned matplotlib of the plots extra and its Pillow).
charts: venv
	$(BIN)/phoenix simulate --preset zone-outage --members 24 --packets 480 --steps 12 \
		--seed 1 --charts docs/sim/zone-outage > /dev/null
	$(BIN)/phoenix simulate --mode binpack --preset flash-crowd --members 12 --packets 120 \
		--steps 8 --seed 1 --compare ring,binpack,trust --charts docs/sim/compare > /dev/null

# The TypeScript client: compiled with tsc, tested with Node's runner against a live phoenixd.
ts-test: venv
	cd clients/typescript && npx --no-install tsc -p tsconfig.json && \
		PHOENIXD=$(CURDIR)/$(BIN)/phoenixd node --test dist/test/

# Benchmarks print side-by-side figures; bench-smoke runs each once at tiny sizes so they
# never rot (part of make test). Figures and their commands: README, Figures.
bench: venv
	PHOENIX_BENCH_PACKETS=1000000 $(BIN)/pytest bench/ --benchmark-only \
		--benchmark-columns=min,median,ops \
		--benchmark-sort=name --benchmark-max-time=0.5
	$(BIN)/python bench/load.py --seconds 5
	$(BIN)/python bench/rest.py --seconds 5 --rounds 3
	$(BIN)/python bench/fanout.py --events 2000 --watchers 1 4 16 100
	$(BIN)/python bench/failover.py --members 4 --packets 100 --ttl 1
	$(BIN)/python bench/scale.py --members 1000 --packets 10000

# The scale run at full size (about an hour on 2 cores): 10k members and 1M packets in one
# daemon, ~4 GB of journal in a temporary directory.
bench-scale: venv
	$(BIN)/python bench/scale.py --members 10000 --packets 1000000

bench-smoke: venv
	$(BIN)/pytest -q bench/ --benchmark-disable
	$(BIN)/python bench/load.py --seconds 0.5
	$(BIN)/python bench/rest.py --seconds 0.5 --rounds 1
	$(BIN)/python bench/fanout.py --events 200 --watchers 1 2 --live-seconds 0.5
	$(BIN)/python bench/failover.py --members 2 --packets 10 --ttl 1
	$(BIN)/python bench/scale.py --members 20 --packets 100

# The reliability suite at its long size (make test runs it CI-sized): 1,000 kill -9 cycles,
# longer churn and load. Figures are printed at the end.
soak: venv
	PHOENIX_SOAK=1 $(BIN)/pytest tests/reliability --timeout=7200

gen: venv
	$(BIN)/python scripts/gen_protos.py
	$(BIN)/python scripts/gen_sync_client.py
	$(BIN)/python scripts/gen_openapi.py

check-gen: venv
	$(BIN)/python scripts/gen_protos.py --check
	$(BIN)/python scripts/gen_sync_client.py --check
	$(BIN)/python scripts/gen_openapi.py --check

# buf lint over proto/, beside the google/api protos of the installed googleapis-common-protos
# (which proto/ imports; never linted).
proto-lint: venv
	$(BIN)/python scripts/gen_protos.py --lint

lint: venv
	$(BIN)/ruff check .

typecheck: venv
	$(BIN)/mypy

clean:
	rm -rf $(VENV) node_modules build phoenixd/kernel/_compiled.c phoenixd/kernel/*.so *.egg-info \
		clients/typescript/node_modules clients/typescript/dist
