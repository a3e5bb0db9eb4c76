# Two commands do all set-up: `make dev` runs the whole stack, `make test` runs every check.
SHELL := /bin/bash
.DEFAULT_GOAL := help

UV := $(shell command -v uv 2>/dev/null || echo "python3 -m uv")
RUN := $(UV) run --no-sync

.PHONY: help install services browser env database migrate seed dev test lint fmt typecheck pytest fuzz bench clean

help: ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-10s %s\n", $$1, $$2}'

install: ## Install uv if missing, then the locked dependencies of every package
	@command -v uv >/dev/null 2>&1 || python3 -m uv --version >/dev/null 2>&1 || python3 -m pip install --quiet uv
	$(UV) sync --locked

services: ## Make sure PostgreSQL and Redis answer (start them where installed)
	@./scripts/ensure-services.sh

browser: ## Make sure headless Chromium is there for the browser tests (apt-get, as root)
	@./scripts/ensure-chromium.sh

env:
	@[ -f .env ] || { cp .env.example .env && echo "created .env from .env.example"; }

# Without ENVIRONMENT a process runs as production and refuses the development settings. The
# local stack is development: say so for it, even with an older `.env` that does not (a value
# in the shell or in `.env` still wins: honcho gives `.env` precedence).
dev seed migrate database: export ENVIRONMENT ?= development

database: install services env
	@$(RUN) python scripts/ensure_database.py

migrate: database ## Apply every service's migrations (each section of alembic.ini)
	$(RUN) python -m common.db.migrations upgrade

seed: migrate ## Seed roles, permissions and the signing key (idempotent)
	$(RUN) python -m auth_service.cli seed

dev: seed ## Run the whole stack: gateway (:8000), services, Celery worker and beat, Flower (:5555)
	@mkdir -p var/log
	$(RUN) honcho -f Procfile.dev start

test: install services browser lint typecheck pytest fuzz ## Everything CI checks: lint, types, tests (browser ones too), fuzzing

lint: ## ruff check and ruff format --check
	$(RUN) ruff check .
	$(RUN) ruff format --check .

fmt: ## Format and auto-fix
	$(RUN) ruff format .
	$(RUN) ruff check --fix .

typecheck: ## mypy --strict over the workspace
	$(RUN) mypy .

pytest: ## The test suite (real PostgreSQL and Redis; a fresh database per run)
	$(RUN) pytest --ignore=tests/fuzz

fuzz: install services ## Schemathesis against each service's OpenAPI over HTTP (tests/fuzz, ~1 min)
	$(RUN) pytest tests/fuzz

bench: install services ## Benchmarks; results go to bench/RESULTS.md
	$(RUN) python -m bench

clean: ## Remove caches and local run files
	rm -rf .mypy_cache .ruff_cache .pytest_cache var
