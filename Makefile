# ordermon: the two commands of the README, and the steps behind them.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test install system-deps node-deps lint typecheck pytest bench suite clean

demo: $(STAMP)
	$(BIN)/ordermon demo

test: $(STAMP) system-deps node-deps lint typecheck pytest

$(STAMP): pyproject.toml constraints.txt
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[dev]' -c constraints.txt
	touch $(STAMP)

install: $(STAMP)

# Debian packages the ops and alerting tests run for real (promtool, amtool, prometheus, alertmanager).
system-deps:
	@if ! command -v promtool >/dev/null || ! command -v amtool >/dev/null; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends prometheus prometheus-alertmanager >/dev/null; \
	  else echo "warning: promtool/amtool missing and apt-get unavailable; ops tests will be skipped"; fi; \
	fi

# The AsyncAPI project's parser (npm) that validates asyncapi.json; Node.js from Debian if missing.
NODE_STAMP := tests/contract/node_modules/.installed
node-deps: $(NODE_STAMP)
$(NODE_STAMP): tests/contract/package.json tests/contract/package-lock.json
	@if ! command -v npm >/dev/null; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends nodejs npm >/dev/null; \
	  else echo "warning: npm missing and apt-get unavailable; the AsyncAPI check will be skipped"; fi; \
	fi
	@if command -v npm >/dev/null; then \
	  cd tests/contract && npm ci --no-audit --no-fund --silent && touch node_modules/.installed; \
	fi

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(STAMP)
	$(BIN)/mypy

pytest: $(STAMP)
	$(BIN)/pytest -q -p no:cacheprovider -n 3 --dist loadfile --durations=25 -rfER

bench: $(STAMP)
	$(BIN)/python -m ordermon.devtools.bench

# The realistic alert-quality suite in full (every scenario at full size, three seeds; long).
suite: $(STAMP)
	$(BIN)/python -m ordermon.devtools.suite

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache .hypothesis tests/contract/node_modules
