#!/usr/bin/env bash
# The project's test command (README): fresh venv, editable install with torch, then
#   - the code is lint-clean, formatted and type-checked (ruff and mypy, pinned in the dev
#     extra; scripts/typecheck.py),
#   - the project's own tests (tests/; the vectors on disk verify and regenerate byte for
#     byte there, tests/test_vectors.py), in parallel (an idle worker takes tests queued on a
#     busy one: --dist worksteal): the mutant zoo in its own process,
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
.venv/bin/python -m pytest tests -n 2 --dist worksteal -q --ignore=tests/test_mutants.py "$@"
.venv/bin/python -m pytest tests/test_mutants.py -q "$@"
