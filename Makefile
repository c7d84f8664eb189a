# Two commands for a newcomer: `make run` and `make test`. Everything else they need is made on the way.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
export PYTHONPATH := $(CURDIR):$(CURDIR)/protos

PROTOS := $(shell find protos -name '*.proto')
GENERATED := $(PROTOS:.proto=_pb2_grpc.py)

.PHONY: run test bench proto deps shadow clean

run: deps proto
	$(PY) -m backend

test: deps proto
	$(VENV)/bin/ruff check backend services tests
	$(PY) -m pytest $(PYTEST_ARGS)

bench: deps proto
	$(PY) -m tests.bench $(BENCH)

shadow: deps
	$(PY) -m backend.database.migration.shadow $(SOURCE)

deps: $(VENV)/.installed

# Reinstalled whenever pyproject.toml (the pins) changes.
$(VENV)/.installed: pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11) and "Python 3.11 or newer is needed")'
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test]'
	touch $@

proto: $(GENERATED)

protos/%_pb2_grpc.py: protos/%.proto $(VENV)/.installed
	$(PY) -m grpc_tools.protoc -I protos --python_out=protos --pyi_out=protos --grpc_python_out=protos $<

clean:
	rm -rf $(VENV) build *.egg-info
	find protos -name '*_pb2*.py*' -delete
