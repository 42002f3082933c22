#!/usr/bin/env bash
# Install the system packages some tests need, only if they are missing:
#   - Debian's `chromium` (tests/test_browser.py and tests/test_book.py launch /usr/bin/chromium);
#   - Debian's `bubblewrap` (the grader's sandbox, `bwrap`);
#   - PyPI's `playwright` in the course's virtual environment.
# Packages come from apt, and only where we are root and apt-get exists. Anywhere else (a normal
# user, macOS, Windows) nothing is installed and this exits 0: the tests that need a missing
# program skip and say why. Never `playwright install`: it downloads a browser build of its own.
#
# Usage: bash tests/browser/install.sh [VENV_BIN]   (default: .venv/bin)
set -euo pipefail

BIN="${1:-.venv/bin}"
CHROMIUM="${CHROMIUM:-/usr/bin/chromium}"

if [ ! -x "$BIN/python" ]; then
    echo "install.sh: no Python at $BIN/python; create the environment first (make test-env)" >&2
    exit 1
fi

can_apt() {
    command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" -eq 0 ]
}

UPDATED=""
apt_install() {  # apt_install PACKAGE: returns 1 when it cannot be installed here
    if ! can_apt; then
        return 1
    fi
    if [ -z "$UPDATED" ]; then
        apt-get update -qq
        UPDATED=1
    fi
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$1"
}

need() {  # need PROGRAM PACKAGE WHAT-SKIPS
    if [ -x "$1" ] || command -v "$1" >/dev/null 2>&1; then
        echo "$2: present"
    elif apt_install "$2"; then
        echo "$2: installed from Debian's packages"
    else
        echo "$2: missing and not installed (apt-get needs root here, or there is no apt-get);" \
            "$3 skip. Install it yourself to run them: sudo apt-get install $2"
    fi
}

need "$CHROMIUM" chromium "the browser tests"
need bwrap bubblewrap "the grader's sandbox tests"

if "$BIN/python" -c "import playwright.sync_api" >/dev/null 2>&1; then
    echo "playwright: present"
else
    echo "playwright: installing from PyPI"
    "$BIN/python" -m pip install "playwright>=1.40"
fi
