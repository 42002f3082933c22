#!/usr/bin/env bash
# Install what tests/test_browser.py needs, only if it is missing:
#   - Debian's `chromium` package (the test launches /usr/bin/chromium);
#   - PyPI's `playwright` in the course's virtual environment.
# Never `playwright install`: it downloads a browser build of its own; Debian's chromium is used.
#
# Usage: bash tests/browser/install.sh [VENV_BIN]   (default: .venv/bin)
set -euo pipefail

BIN="${1:-.venv/bin}"
CHROMIUM="${CHROMIUM:-/usr/bin/chromium}"

if [ ! -x "$BIN/python" ]; then
    echo "install.sh: no Python at $BIN/python; create the environment first (make test-env)" >&2
    exit 1
fi

if [ -x "$CHROMIUM" ]; then
    echo "chromium: present ($("$CHROMIUM" --version 2>/dev/null || echo "$CHROMIUM"))"
else
    if ! command -v apt-get >/dev/null 2>&1; then
        echo "install.sh: $CHROMIUM is missing and apt-get is not available;" \
            "install Chromium by hand (or set CHROMIUM=/path/to/chromium)" >&2
        exit 1
    fi
    SUDO=""
    if [ "$(id -u)" -ne 0 ]; then
        if command -v sudo >/dev/null 2>&1; then
            SUDO="sudo"
        else
            echo "install.sh: installing chromium needs root (or sudo): apt-get install chromium" >&2
            exit 1
        fi
    fi
    echo "chromium: installing Debian's package"
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends chromium
fi

if "$BIN/python" -c "import playwright.sync_api" >/dev/null 2>&1; then
    echo "playwright: present"
else
    echo "playwright: installing from PyPI"
    "$BIN/python" -m pip install --quiet "playwright>=1.40"
fi
