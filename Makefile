# Two set-up commands on a fresh machine: `make demo` and `make test`.
# Each creates .venv if needed, installs the CPU build of torch *before* anything that
# depends on torch (a plain `torch` requirement would pull a multi-GB CUDA build), then runs.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
TORCH_VERSION := 2.13.0
STAMP := $(VENV)/.installed

.PHONY: demo test lint bench clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet "torch==$(TORCH_VERSION)"
	$(BIN)/pip install --quiet -e ".[export,dev]"
	touch $(STAMP)

# The main job: train the digits CNN if needed, then export -> INT8 -> check -> pack from one config.
demo: $(STAMP)
	$(BIN)/python examples/digits/train.py --if-missing
	$(BIN)/mlpack build examples/digits/mlpack.toml -o dist/digits
	$(BIN)/mlpack inspect dist/digits/digits-cnn-1.0.0.mlpack

# Two workers, each taking whole test files (module fixtures are built once): CI has 2 cores.
test: $(STAMP)
	$(BIN)/python -m pytest -q -n 2 --dist loadfile

lint: $(STAMP)
	$(BIN)/python -m ruff check .
	$(BIN)/python -m mypy
	$(BIN)/lint-imports
	ZIZMOR=$(BIN)/zizmor .ci/lint_workflows.sh

bench: $(STAMP)
	$(BIN)/python benchmarks/cli_startup.py

clean:
	rm -rf $(VENV) examples/digits/out dist .pytest_cache
