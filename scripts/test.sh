#!/usr/bin/env bash
# Install Floodwall with its test dependencies in .venv and run the whole test suite.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
[ -x .venv/bin/python ] || "$PY" -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip
.venv/bin/python -m pip install -q -e ".[test]"
bash scripts/services.sh
exec .venv/bin/python -m pytest "$@"
