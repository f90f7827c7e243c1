#!/usr/bin/env bash
# The project's test command (README): fresh venv, editable install with torch, then
#   - the code is lint-clean, formatted and type-checked (ruff and mypy, pinned in the dev
#     extra; scripts/typecheck.py),
#   - the vectors on disk verify and regenerate byte for byte,
#   - the project's own tests (tests/), in parallel: the mutant zoo in its own process,
#     which keeps two `poolconf check` runs going at a time (spread over pytest-xdist
#     workers its long tests would end the run on one core).
set -euo pipefail
cd "$(dirname "$0")/.."
PY="${PYTHON:-python3}"
[ -x .venv/bin/python ] || "$PY" -m venv .venv
.venv/bin/pip install -q --upgrade pip
.venv/bin/pip install -q -e ".[dev]"
.venv/bin/ruff check .
.venv/bin/ruff format --check .
.venv/bin/python scripts/typecheck.py
.venv/bin/poolconf vectors verify --no-recompute  # generate --check below recomputes every case
.venv/bin/poolconf vectors generate --check
.venv/bin/python -m pytest tests -n 2 -q --ignore=tests/test_mutants.py "$@"
.venv/bin/python -m pytest tests/test_mutants.py -q "$@"
