# Two commands for a newcomer: `make run` and `make test`. Everything else they need is made on the way.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
export PYTHONPATH := $(CURDIR):$(CURDIR)/protos

PROTOS := $(shell find protos -name '*.proto')
GENERATED := $(PROTOS:.proto=_pb2_grpc.py)
# The buf CLI, pinned in scripts/buf/package-lock.json; the npm package ships the binary for each platform.
BUF := scripts/buf/node_modules/.bin/buf

.PHONY: run test bench proto deps shadow clean browser-tools

run: deps proto
	$(PY) -m backend

test: deps proto $(BUF) browser-tools
	$(VENV)/bin/ruff check backend services tests
	cd protos && $(CURDIR)/$(BUF) lint
	$(PY) -m pytest $(PYTEST_ARGS)

# BENCH=page (names separated by spaces) runs only those benchmarks.
bench: deps proto
	$(PY) -m tests.bench $(BENCH)

shadow: deps
	$(PY) -m backend.database.migration.shadow_tree $(SOURCE) $(if $(SYNTHETIC),--synthetic $(SYNTHETIC) --previews $(or $(PREVIEWS),0))

deps: $(VENV)/.installed

# Reinstalled whenever pyproject.toml (the pins) changes.
$(VENV)/.installed: pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11) and "Python 3.11 or newer is needed")'
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test]'
	touch $@

proto: $(GENERATED)

$(BUF): scripts/buf/package-lock.json
	cd scripts/buf && npm ci --no-audit --no-fund --ignore-scripts --silent
	touch $@

# axe-core for the page's accessibility test, from the lock file. Without npm that test skips (or fails in CI).
BROWSER_TOOLS := tests/browser/node_modules/.installed
browser-tools: $(BROWSER_TOOLS)

$(BROWSER_TOOLS): tests/browser/package-lock.json
	@if command -v npm >/dev/null; then \
		cd tests/browser && npm ci --no-audit --no-fund --silent && touch node_modules/.installed; \
	else echo "npm not found: the page's accessibility test will be skipped"; fi

protos/%_pb2_grpc.py: protos/%.proto $(VENV)/.installed
	$(PY) -m grpc_tools.protoc -I protos --python_out=protos --pyi_out=protos --grpc_python_out=protos $<

clean:
	rm -rf $(VENV) build *.egg-info scripts/buf/node_modules tests/browser/node_modules
	find protos -name '*_pb2*.py*' -delete
