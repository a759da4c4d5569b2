#!/usr/bin/env bash
# Install Floodwall in .venv and run the main job: the December 22 replay, manual vs floodwall.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
[ -x .venv/bin/python ] || "$PY" -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip
# Exactly the locked versions, each checked against its hash; then the project itself, adding nothing.
.venv/bin/python -m pip install -q --require-hashes -r requirements/lock.txt
.venv/bin/python -m pip install -q --no-deps -e .
.venv/bin/python -m pip check
mkdir -p out
exec .venv/bin/floodwall replay kuaishou-2025-12-22 --policy manual --policy floodwall --seed 1 --scale 0.1 \
  --json out/replay.json --html out/replay.html "$@"
