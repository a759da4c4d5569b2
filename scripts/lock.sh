#!/usr/bin/env bash
# Regenerate the lock files (exact versions with hashes) from pyproject.toml's ranges.
# Run after changing a dependency; commit requirements/*.txt with the change.
#   requirements/lock.txt       the service and the replay (runtime dependencies)
#   requirements/lock-test.txt  runtime + the test extra (what scripts/test.sh and .ci/run install)
# uv runs from its own tool venv (UVENV, default /tmp/uvenv), never from the project's.
set -euo pipefail
cd "$(dirname "$0")/.."
UVENV="${UVENV:-/tmp/uvenv}"
if [ ! -x "$UVENV/bin/uv" ]; then
  python3 -m venv "$UVENV"
  "$UVENV/bin/pip" install --quiet "uv>=0.5,<1"
fi
PY="${LOCK_PYTHON:-3.11}"  # the oldest Python pyproject allows: the lock installs there and later
compile() {
  "$UVENV/bin/uv" pip compile pyproject.toml --generate-hashes --python-version "$PY" \
    --no-header --annotation-style line --quiet "$@"
}
compile -o requirements/lock.txt
compile --extra test -o requirements/lock-test.txt
echo "wrote requirements/lock.txt and requirements/lock-test.txt"
