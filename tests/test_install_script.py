"""The set-up scripts: tests/browser/install.sh installs chromium and bubblewrap where it can,
never failing elsewhere; the Makefile's PyTorch step stops when its wheel index cannot be reached.

Oracle: the scripts' exit codes and what they print, run with a PATH that has no apt-get (as on
macOS, or for a normal user), so nothing is installed and the tests that need them skip; and a
log of every call of the environment's Python, which shows whether pip ran.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parent / "browser" / "install.sh"
ROOT = Path(__file__).resolve().parents[1]
BASH = shutil.which("bash")
MAKE = shutil.which("make")

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


def logging_venv(tmp_path: Path, fake_pip: bool = False) -> tuple[Path, Path]:
    """A virtual environment whose python runs this one and logs its arguments: (venv, log).
    With `fake_pip`, `python -m pip ...` is only logged (nothing is downloaded or installed)."""
    venv = tmp_path / "venv"
    (venv / "bin").mkdir(parents=True)
    log = tmp_path / "python-calls.log"
    python = venv / "bin" / "python"
    skip = 'case "$1 $2" in "-m pip") exit 0;; esac\n' if fake_pip else ""
    python.write_text(f'#!/bin/sh\necho "$*" >> "{log}"\n{skip}exec "{sys.executable}" "$@"\n')
    python.chmod(0o755)
    return venv, log


@pytest.mark.skipif(MAKE is None, reason="make is not installed")
def test_a_reachable_index_is_the_only_place_torch_comes_from(tmp_path: Path) -> None:
    # A local PEP 503 page for torch stands in for the CPU index; pip itself is faked.
    (tmp_path / "index" / "torch").mkdir(parents=True)
    (tmp_path / "index" / "torch" / "index.html").write_text("<html></html>")
    server = subprocess.Popen(
        [sys.executable, "-m", "http.server", "0", "--bind", "127.0.0.1"],
        cwd=tmp_path / "index",
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        line = server.stdout.readline()  # "Serving HTTP on 127.0.0.1 port N ..."
        port = line.split(" port ")[1].split()[0]
        venv, log = logging_venv(tmp_path, fake_pip=True)
        index = f"http://127.0.0.1:{port}/"
        done = subprocess.run(
            [MAKE, "-C", str(ROOT), "env", f"VENV={venv}", f"TORCH_INDEX={index}"],
            capture_output=True,
            text=True,
            timeout=120,
        )
    finally:
        server.terminate()
        server.wait(timeout=30)
    assert done.returncode == 0, done.stderr
    calls = log.read_text()
    assert f"-m pip install torch==2.13.0 --index-url {index}" in calls
    assert "extra-index-url" not in calls


@pytest.mark.skipif(MAKE is None, reason="make is not installed")
@pytest.mark.parametrize("target", ["lab", "test"])
def test_an_unreachable_torch_index_stops_the_set_up_and_says_what_to_choose(
    tmp_path: Path, target: str
) -> None:
    # Nothing listens on port 9: as when download.pytorch.org cannot be reached. pip must never
    # run (it took PyPI's CUDA build, several GB, when the CPU index failed), and the message
    # names the three ways on, on one line.
    venv, log = logging_venv(tmp_path)
    started = time.monotonic()
    done = subprocess.run(
        [MAKE, "-C", str(ROOT), target, f"VENV={venv}", "TORCH_INDEX=https://127.0.0.1:9/"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode != 0
    assert time.monotonic() - started < 60
    errors = [line for line in done.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1, done.stderr
    assert "https://127.0.0.1:9/ cannot be reached" in errors[0]
    for way in ("TORCH_INDEX=URL", "TORCH_WHEEL=", "TORCH=cuda"):
        assert way in errors[0]
    assert "-m pip" not in log.read_text()
    assert not list(venv.glob(".torch-*")) and not (venv / ".installed").exists()


@pytest.mark.skipif(MAKE is None, reason="make is not installed")
def test_a_torch_wheel_that_is_not_there_is_named(tmp_path: Path) -> None:
    venv, log = logging_venv(tmp_path)
    wheel = tmp_path / "torch-2.13.0-cp311-none-linux_x86_64.whl"
    done = subprocess.run(
        [MAKE, "-C", str(ROOT), "env", f"VENV={venv}", f"TORCH_WHEEL={wheel}"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode != 0
    assert f"error: TORCH_WHEEL={wheel} is not a file" in done.stderr
    assert not log.exists() or "-m pip" not in log.read_text()
