# The commands README names. `make lab` sets everything up and opens the course; `make test-all`
# runs the whole test suite (CI: .ci/run), `make test` all of it but the `system` tests. Both create and reuse the project-local .venv/.
SHELL := /bin/bash
VENV := .venv
BIN := $(VENV)/bin
export JUPYTER_CONFIG_PATH := $(CURDIR)/grading
export HF_HUB_OFFLINE := 1
LAB ?= 00_inference_path

.PHONY: setup lab instructor up down test test-all test-fast test-hub hub lint release autograde feedback export

setup:  ## create .venv, install the locked dependencies, prepare the model and llama.cpp
	@bash scripts/setup.sh

lab: setup  ## set up, start the embedded stack, open JupyterLab on your own copy of labs/ (my-labs/)
	@bash scripts/lab.sh

instructor: setup  ## JupyterLab on the course root, with nbgrader's formgrader (docs/instructor.md)
	@$(BIN)/servelab lab --instructor

up: setup  ## start the embedded reference stack
	@$(BIN)/servelab up

down:  ## stop the embedded reference stack
	@$(BIN)/servelab down

test: setup  ## the everyday suite: everything but the `system` tests (about 11 min on 2 cores)
	@bash scripts/test.sh -m "not system"

test-all: setup  ## the whole test suite (what CI runs): `make test` and the `system` tests
	@bash scripts/test.sh

test-fast: setup  ## only the tests that need no running stack
	@bash scripts/test.sh -m "not stack and not slow"

test-hub: setup  ## only the course server's tests (a real JupyterHub; needs root)
	@bash scripts/test.sh tests/unit/hub tests/integration/hub

hub: setup  ## run the course server's JupyterHub (docs/course-server.md; needs root)
	@$(BIN)/jupyterhub -f deploy/jupyterhub/jupyterhub_config.py

lint: setup
	@$(BIN)/ruff format . && $(BIN)/ruff check .

release: setup  ## regenerate labs/ from solutions/ (nbgrader generate_assignment)
	@$(BIN)/servelab course release

autograde: setup  ## autograde submissions of LAB in grading/submitted/
	@$(BIN)/servelab grade autograde $(LAB)

feedback: setup  ## feedback for LAB (hidden tests cleared)
	@$(BIN)/servelab grade feedback $(LAB)

export: setup  ## grades per student and per question, as CSV in grading/exports/
	@$(BIN)/servelab grade export
