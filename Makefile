# Two entry points (README Quick start): `make pipeline` and `make test`.
# Both install from requirements-lock.txt (pip-compile's full pin set, PyTorch's CPU build included);
# `make lock` refreshes it after a dependency changes in pyproject.toml (docs/scaling.md).
PY ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
LOCK := requirements-lock.txt
LOCK_VENV := build/lock-venv
PIP_TOOLS := pip-tools==7.6.2

.PHONY: setup pipeline test test-slow bench clean lock

$(STAMP): pyproject.toml $(LOCK)
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -r $(LOCK)
	$(BIN)/python -m pip install -q --no-deps -e .
	$(BIN)/python -m pip check
	touch $(STAMP)

setup: $(STAMP)

## Set up, then run the whole pipeline offline on the bundled sample export. Stages DVC restores
## from its cache run no command: the last step records a light MLflow run for each of them.
pipeline: $(STAMP)
	PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/dvc repro
	PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/python -m rftlab.tracking.restored dvc.lock

## Set up, then run the tests in two tiers (docs/testing.md): `make test` runs every test but the
## slow end-to-end ones (whole pipelines, fresh clones, trained models); `make test-slow` runs those.
## Both spread the tests over PYTEST_WORKERS processes (pytest-xdist); pytest's exit 5 ("collected
## no tests", e.g. a -k that matches nothing) is not a failure.
PYTEST_WORKERS ?= 2
PYTEST := PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/python -m pytest -q -n $(PYTEST_WORKERS) --durations=10
NO_TESTS_OK := rc=$$?; if [ $$rc -eq 5 ]; then echo "pytest collected no tests"; rc=0; fi; exit $$rc

test: $(STAMP)
	$(PYTEST) -m "not slow" $(PYTEST_ARGS); $(NO_TESTS_OK)

test-slow: $(STAMP)
	$(PYTEST) -m slow $(PYTEST_ARGS); $(NO_TESTS_OK)

bench: $(STAMP)
	PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/python benchmarks/run_all.py

## Re-pin after editing dependencies in pyproject.toml: keeps existing pins where they still fit;
## `make lock LOCK_ARGS=--upgrade` moves everything to the newest allowed release. Refuses CUDA wheels.
lock:
	test -x $(LOCK_VENV)/bin/pip-compile || { $(PY) -m venv $(LOCK_VENV) && $(LOCK_VENV)/bin/python -m pip install -q $(PIP_TOOLS); }
	$(LOCK_VENV)/bin/pip-compile -q --extra dev --extra team --strip-extras --no-emit-index-url --no-emit-find-links \
	  $(LOCK_ARGS) --output-file $(LOCK) pyproject.toml 2> $(LOCK_VENV)/compile.log || { tail -20 $(LOCK_VENV)/compile.log; exit 1; }
	! grep -En '^(nvidia-|triton==|torch==[^+]*$$)' $(LOCK) || { echo "$(LOCK) pulls a CUDA build of PyTorch: pin torch's +cpu build"; exit 1; }

## Everything that holds state, so the next `make pipeline` starts from nothing but DVC's cache: data
## products (the Optuna studies in data/grader/ and data/search/ included), job states and
## checkpoints (.rftlab/), the MLflow store and its artifacts, metrics, plots and reports.
clean:
	rm -rf data/sample data/interim data/grader data/prompts data/models data/rft data/search data/jobs
	rm -rf .rftlab mlflow.db mlflow.db-* mlruns mlartifacts metrics plots reports dvc_plots
