#!/usr/bin/env bash
# The test command (README, second command; .ci/run runs exactly this).
# Installs what the tests need into .venv, then runs ruff, mypy and pytest.
# Needs nothing running beforehand: the tests start the embedded PostgreSQL themselves.
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON="${PYTHON:-python3}"
if [ ! -x .venv/bin/python ]; then
    "$PYTHON" -m venv .venv
fi
.venv/bin/python -m pip install --quiet --disable-pip-version-check --upgrade pip 2>/dev/null || true
.venv/bin/python -m pip install --quiet --disable-pip-version-check -e '.[dev]'
bash scripts/install-browser.sh  # chromium and web/node_modules for tests/browser

echo "== ruff"
.venv/bin/ruff check src tests examples tools
.venv/bin/ruff format --check src tests examples tools
echo "== mypy (strict)"
.venv/bin/mypy
echo "== pytest"
.venv/bin/pytest -q "$@"
