# One command per chore. `make help` lists them.
PYTHON ?= python
SPECS ?=

.PHONY: help install lint fix type test-fast test docs specs check

help:  ## list the targets
	@grep -hE '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sed 's/:.*## /\t/'

install:  ## editable install with the test and dev extras
	$(PYTHON) -m pip install -e '.[test,dev]'

lint:  ## ruff: lint (rules in pyproject.toml)
	ruff check .

fix:  ## ruff: apply the safe fixes (import order, modern syntax)
	ruff check --fix .

type:  ## mypy: strict on sync/, lenient on sandbox/
	mypy

test-fast:  ## every test but the slow scenarios, on every core (under a minute here)
	$(PYTHON) -m pytest -q -m "not slow" -n auto

test:  ## the whole suite, as CI and the README run it
	$(PYTHON) -m pytest -q

docs:  ## regenerate docs/configuration.md from the settings model
	$(PYTHON) -m sync.settings > docs/configuration.md

specs:  ## re-trim the OpenAPI specs: make specs SPECS=/path/to/official/specs
	@test -n "$(SPECS)" || { echo "usage: make specs SPECS=<folder of Atlassian's official spec files>"; exit 2; }
	$(PYTHON) -m tests.contracts.trim_specs $(SPECS)

check: lint type test  ## everything CI checks
