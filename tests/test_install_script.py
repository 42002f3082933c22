"""tests/browser/install.sh installs chromium and bubblewrap where it can, never failing elsewhere.

Oracle: the script's exit code and what it prints, run with a PATH that has no apt-get (as on
macOS, or for a normal user), so nothing is installed and the tests that need them skip.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parent / "browser" / "install.sh"
BASH = shutil.which("bash")

pytestmark = pytest.mark.skipif(BASH is None, reason="bash is not installed")


def run_without_apt(tmp_path: Path) -> subprocess.CompletedProcess[str]:
    """Run the script with only `id` and this Python on PATH, and no chromium or bwrap."""
    tools = tmp_path / "tools"
    tools.mkdir()
    os.symlink(shutil.which("id"), tools / "id")
    venv_bin = tmp_path / "venv" / "bin"
    venv_bin.mkdir(parents=True)
    # A wrapper, not a symlink: a symlinked venv Python outside its venv loses its packages.
    python = venv_bin / "python"
    python.write_text(f'#!/bin/sh\nexec "{sys.executable}" "$@"\n')
    python.chmod(0o755)
    env = {"PATH": str(tools), "CHROMIUM": str(tmp_path / "no-chromium"), "HOME": str(tmp_path)}
    return subprocess.run(
        [BASH, str(SCRIPT), str(venv_bin)], env=env, capture_output=True, text=True, timeout=120
    )


def test_without_apt_it_installs_nothing_says_what_skips_and_succeeds(tmp_path: Path) -> None:
    pytest.importorskip("playwright", reason="with playwright missing the script would pip it")
    before = sorted(p.name for p in Path(sys.prefix).glob("lib/python*/site-packages/*"))
    done = run_without_apt(tmp_path)
    assert done.returncode == 0, done.stderr
    assert "chromium: missing and not installed" in done.stdout
    assert "the browser tests skip" in done.stdout
    assert "bubblewrap: missing and not installed" in done.stdout
    assert "the grader's sandbox tests skip" in done.stdout
    assert "playwright: present" in done.stdout
    assert sorted(p.name for p in Path(sys.prefix).glob("lib/python*/site-packages/*")) == before


def test_without_a_virtual_environment_it_says_how_to_make_one(tmp_path: Path) -> None:
    done = subprocess.run(
        [BASH, str(SCRIPT), str(tmp_path / "nothing")], capture_output=True, text=True
    )
    assert done.returncode == 1 and "make test-env" in done.stderr
