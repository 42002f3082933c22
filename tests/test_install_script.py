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
import zipfile
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
        [BASH, str(SCRIPT), str(tmp_path / "nothing")],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 1 and "make test-env" in done.stderr


def logging_venv(tmp_path: Path) -> tuple[Path, Path]:
    """A virtual environment whose python runs this one and logs its arguments: (venv, log).
    `python -m pip ...` is only logged (nothing is downloaded or installed), except a
    `--dry-run`, which runs (it installs nothing)."""
    venv = tmp_path / "venv"
    (venv / "bin").mkdir(parents=True)
    log = tmp_path / "python-calls.log"
    python = venv / "bin" / "python"
    python.write_text(
        f'#!/bin/sh\necho "$*" >> "{log}"\n'
        'case "$*" in *--dry-run*) ;; "-m pip"*) exit 0;; esac\n'
        f'exec "{sys.executable}" "$@"\n'
    )
    python.chmod(0o755)
    return venv, log


def make(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    """`make -C <course> ARGS` with a learner's environment: no PIP_* settings of this machine
    (its wheelhouse in PIP_FIND_LINKS holds torch), plus `env`."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith("PIP_")}
    return subprocess.run(
        [MAKE, "-C", str(ROOT), *args],
        capture_output=True,
        text=True,
        timeout=120,
        env={**clean, "PIP_CONFIG_FILE": os.devnull, **env},
    )


def fake_torch_wheel(folder: Path) -> Path:
    """A minimal valid wheel named torch 2.13.0 (metadata only), as a wheelhouse would hold."""
    folder.mkdir(parents=True, exist_ok=True)
    wheel = folder / "torch-2.13.0-py3-none-any.whl"
    info = "torch-2.13.0.dist-info"
    with zipfile.ZipFile(wheel, "w") as archive:
        archive.writestr(
            f"{info}/METADATA", "Metadata-Version: 2.1\nName: torch\nVersion: 2.13.0\n"
        )
        archive.writestr(
            f"{info}/WHEEL",
            "Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
        )
        archive.writestr(f"{info}/RECORD", "")
    return wheel


@pytest.mark.skipif(MAKE is None, reason="make is not installed")
@pytest.mark.parametrize("target", ["lab", "test"])
def test_an_unreachable_torch_index_stops_the_set_up_and_says_what_to_choose(
    tmp_path: Path, target: str
) -> None:
    # Nothing listens on port 9: as when download.pytorch.org cannot be reached. pip must never
    # install (it took PyPI's CUDA build, several GB, when the CPU index failed), and the message
    # names the three ways on, on one line.
    venv, log = logging_venv(tmp_path)
    started = time.monotonic()
    done = make(target, f"VENV={venv}", "TORCH_INDEX=https://127.0.0.1:9/")
    assert done.returncode != 0
    assert time.monotonic() - started < 60
    errors = [line for line in done.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1, done.stderr
    assert "https://127.0.0.1:9/ cannot be reached" in errors[0]
    for way in ("TORCH_INDEX=URL", "TORCH_WHEEL=", "TORCH=cuda"):
        assert way in errors[0]
    installs = [
        c for c in log.read_text().splitlines() if "pip install" in c and "--dry-run" not in c
    ]
    assert installs == []
    assert not list(venv.glob(".torch-*")) and not (venv / ".installed").exists()


@pytest.mark.skipif(MAKE is None, reason="make is not installed")
def test_an_unreachable_index_takes_a_torch_wheel_pip_has_on_disk(tmp_path: Path) -> None:
    venv, log = logging_venv(tmp_path)
    fake_torch_wheel(tmp_path / "wheels")
    done = make(
        "env",
        f"VENV={venv}",
        "TORCH_INDEX=https://127.0.0.1:9/",
        PIP_FIND_LINKS=str(tmp_path / "wheels"),
    )
    assert done.returncode == 0, done.stderr
    wheel = tmp_path / "wheels" / "torch-2.13.0-py3-none-any.whl"
    assert f"torch 2.13.0 is on disk (pip's find-links): {wheel}" in done.stdout
    assert f"-m pip install {wheel}" in log.read_text()


@pytest.mark.skipif(MAKE is None, reason="make is not installed")
def test_a_torch_wheel_that_is_not_there_is_named(tmp_path: Path) -> None:
    venv, log = logging_venv(tmp_path)
    wheel = tmp_path / "torch-2.13.0-cp311-none-linux_x86_64.whl"
    done = make("env", f"VENV={venv}", f"TORCH_WHEEL={wheel}")
    assert done.returncode != 0
    assert f"error: TORCH_WHEEL={wheel} is not a file" in done.stderr
    assert not log.exists() or "-m pip" not in log.read_text()


@pytest.mark.skipif(MAKE is None, reason="make is not installed")
def test_a_torch_wheel_on_disk_is_installed_without_an_index(tmp_path: Path) -> None:
    venv, log = logging_venv(tmp_path)
    wheel = fake_torch_wheel(tmp_path / "wheels")
    done = make("env", f"VENV={venv}", f"TORCH_WHEEL={wheel}", "TORCH_INDEX=https://127.0.0.1:9/")
    assert done.returncode == 0, done.stderr
    assert f"-m pip install {wheel}" in log.read_text()


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
        venv, log = logging_venv(tmp_path)
        index = f"http://127.0.0.1:{port}/"
        done = make("env", f"VENV={venv}", f"TORCH_INDEX={index}")
    finally:
        server.terminate()
        server.wait(timeout=30)
    assert done.returncode == 0, done.stderr
    calls = log.read_text()
    assert f"-m pip install torch==2.13.0 --index-url {index}" in calls
    assert "extra-index-url" not in calls


def test_the_readmes_pip_command_gives_up_at_once_on_an_unreachable_index(tmp_path: Path) -> None:
    # The README's own line (Linux and macOS), with the index swapped for one nothing listens on;
    # `--dry-run --ignore-installed` so pip changes nothing here even if it found a wheel.
    readme = (ROOT / "README.md").read_text()
    lines = [line for line in readme.splitlines() if line.startswith(".venv/bin/python -m pip")]
    command = next(line for line in lines if "torch==" in line).split()
    assert "--index-url" in command and "--extra-index-url" not in command
    index = command[command.index("--index-url") + 1]
    assert index == "https://download.pytorch.org/whl/cpu"
    command[command.index(index)] = "https://127.0.0.1:9/"
    command[0] = sys.executable
    # No PIP_* settings of this machine (a wheelhouse in PIP_FIND_LINKS would supply torch).
    learners_env = {k: v for k, v in os.environ.items() if not k.startswith("PIP_")}
    started = time.monotonic()
    done = subprocess.run(
        [*command, "--dry-run", "--ignore-installed", "--no-cache-dir"],
        capture_output=True,
        text=True,
        timeout=300,
        env={**learners_env, "PIP_CONFIG_FILE": os.devnull, "HOME": str(tmp_path)},
    )
    assert done.returncode != 0
    assert "No matching distribution found for torch==" in done.stderr
    assert time.monotonic() - started < 60
