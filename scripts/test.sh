#!/usr/bin/env bash
# Install Floodwall with its test dependencies in .venv, check the import contracts, run the whole test suite.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
[ -x .venv/bin/python ] || "$PY" -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip
# Exactly the locked versions (runtime + test), each checked against its hash; then the project, adding nothing.
.venv/bin/python -m pip install -q --require-hashes -r requirements/lock-test.txt
.venv/bin/python -m pip install -q --no-deps -e .
.venv/bin/python -m pip check
bash scripts/services.sh
# The layer contracts (pyproject.toml [tool.importlinter]) before the tests: a broken layer fails fast.
.venv/bin/lint-imports --no-logo
exec .venv/bin/python -m pytest "$@"
