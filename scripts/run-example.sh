#!/usr/bin/env bash
# The first command (README): install the project into .venv and run the example suite
# against the bundled demo shop API, recording everything in the embedded PostgreSQL.
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON="${PYTHON:-python3}"
if [ ! -x .venv/bin/python ]; then
    "$PYTHON" -m venv .venv
fi
.venv/bin/python -m pip install --quiet --disable-pip-version-check -e .
bash scripts/install-browser.sh --web-only  # supabase-js for the web UI of `runner serve`

.venv/bin/python -m runner db migrate
.venv/bin/python -m runner run-suite examples/shop.yaml "$@"
