#!/usr/bin/env bash
# What the browser tests and the web UI need beyond .venv: Debian's chromium (the
# Playwright driver comes with the Python package; no `playwright install`, which
# downloads a browser build) and supabase-js from npm into web/node_modules.
# Idempotent: each step runs only when its result is missing or stale.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ "${1:-}" != "--web-only" ] && [ ! -x /usr/bin/chromium ]; then
    if [ "$(id -u)" != "0" ]; then
        # the browser tests then skip, saying why (under CI they fail instead)
        echo "install-browser: /usr/bin/chromium is missing and this is not root:" \
             "sudo apt-get install chromium" >&2
    else
        echo "== apt-get install chromium"
        export DEBIAN_FRONTEND=noninteractive
        apt-get update -qq
        apt-get install -y -qq --no-install-recommends chromium fonts-dejavu-core >/dev/null
    fi
fi

# npm ci only when web/node_modules is missing or was installed from another lock file
stamp=web/node_modules/.runner-installed-lock.json
if ! cmp -s web/package-lock.json "$stamp"; then
    echo "== npm ci --prefix web"
    # engine warnings are noise here: the page loads the browser (UMD) bundle only
    npm ci --prefix web --no-audit --no-fund --loglevel=error
    cp web/package-lock.json "$stamp"
fi
