#!/usr/bin/env bash
# The test command (README, second command; .ci/run runs exactly this).
# Installs what the tests need into .venv, then runs ruff, mypy, the import contracts,
# and pytest under coverage (subprocesses included), holding lines and branches to floors.
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
echo "== import contracts (lint-imports: the layers of DESIGN.md, no cycles)"
.venv/bin/lint-imports
echo "== pytest (with coverage)"
mkdir -p .runner/coverage
rm -f .runner/coverage/.coverage*
export COVERAGE_FILE="$PWD/.runner/coverage/.coverage"
.venv/bin/pytest -q --cov --cov-report=term:skip-covered \
    --cov-report=json:.runner/coverage/coverage.json "$@"
.venv/bin/python tools/coverage_gate.py .runner/coverage/coverage.json \
    --lines 90 --branches 85
