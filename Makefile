# The commands README names. `make lab` sets everything up and opens the course; `make test` runs
# the whole test suite. Both create and reuse the project-local .venv/.
SHELL := /bin/bash
VENV := .venv
BIN := $(VENV)/bin
export JUPYTER_CONFIG_PATH := $(CURDIR)/grading
export HF_HUB_OFFLINE := 1
LAB ?= 00_inference_path

.PHONY: setup lab up down test test-fast lint release autograde feedback export

setup:  ## create .venv, install the locked dependencies, prepare the model and llama.cpp
	@bash scripts/setup.sh

lab: setup  ## set up, start the embedded stack, open JupyterLab on labs/
	@bash scripts/lab.sh

up: setup  ## start the embedded reference stack
	@$(BIN)/servelab up

down:  ## stop the embedded reference stack
	@$(BIN)/servelab down

test: setup  ## the whole test suite (what CI runs)
	@bash scripts/test.sh

test-fast: setup  ## only the tests that need no running stack
	@bash scripts/test.sh -m "not stack and not slow"

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
