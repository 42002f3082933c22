"""The unit tests and chapters 01-02 on every Python version the README names.

For each version: a virtual environment of its own (`.venv-3.X`, made by `make test-env`), then
the unit tests (the browser tests aside: they drive the same JupyterLab on any Python) and nbval
on chapters 01 and 02 in both folders. Prints one row per version and exits 1 if any failed.

    python benchmarks/python_matrix.py                 # 3.10 3.11 3.12 3.13
    python benchmarks/python_matrix.py --versions 3.13 --keep-going

The interpreter `python3.X` is taken from PATH, else from pyenv's versions folder. PyTorch comes
from its CPU wheel index when that can be reached; otherwise from PyPI (TORCH=cuda: the CUDA
build, several GB, which runs on the CPU too), and the table says so.
"""

from __future__ import annotations

import argparse
import glob
import os
import re
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CPU_INDEX = "download.pytorch.org"


def interpreter(version: str) -> str | None:
    """A working `python3.X` for `version`, or None."""
    candidates = [shutil.which(f"python{version}")]
    pyenv = os.environ.get("PYENV_ROOT", os.path.expanduser("~/.pyenv"))
    candidates += sorted(glob.glob(f"{pyenv}/versions/{version}.*/bin/python{version}"))
    for candidate in candidates:
        if not candidate:
            continue
        probe = subprocess.run([candidate, "-c", ""], capture_output=True, timeout=60)
        if probe.returncode == 0:
            return candidate
    return None


def cpu_index_reachable() -> bool:
    try:
        socket.create_connection((CPU_INDEX, 443), timeout=10).close()
        return True
    except OSError:
        return False


def run(command: list[str], log: Path, timeout: int, env: dict | None = None) -> tuple[int, str]:
    """Run `command` from the project root, its output appended to `log`; (exit code, output)."""
    try:
        done = subprocess.run(
            command, cwd=ROOT, capture_output=True, text=True, timeout=timeout, env=env
        )
        code, output = done.returncode, done.stdout + done.stderr
    except subprocess.TimeoutExpired as expired:
        code, output = -1, f"timed out after {timeout} s\n{expired.stdout or ''}"
    with log.open("a") as file:
        file.write(f"$ {' '.join(command)}\n{output}\n")
    return code, output


def summary(output: str) -> str:
    """pytest's closing counts, e.g. '1739 passed, 5 skipped'."""
    found = re.findall(r"^=* ?(\d+ (?:passed|failed|error).*?) in [\d.]+s", output, re.MULTILINE)
    return found[-1] if found else "(no summary)"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--versions", nargs="+", default=["3.10", "3.11", "3.12", "3.13"])
    parser.add_argument("--keep-going", action="store_true", help="continue after a failure")
    args = parser.parse_args(argv)
    torch_build = "cpu" if cpu_index_reachable() else "cuda"
    rows, failed = [], False
    for version in args.versions:
        python = interpreter(version)
        if python is None:
            rows.append((version, "no interpreter found", "", ""))
            failed = True
            continue
        venv = f".venv-{version}"
        log = ROOT / f"{venv}.log"
        log.unlink(missing_ok=True)
        start = time.perf_counter()
        # Python 3.11 takes the CPU wheel the set-up finds on disk, if any, like `make test`.
        build = "cpu" if version == "3.11" else torch_build
        code, _ = run(
            ["make", "test-env", f"VENV={venv}", f"PYTHON={python}", f"TORCH={build}"], log, 3600
        )
        if code != 0:
            rows.append((version, f"set-up failed (see {log.name})", "", ""))
            failed = True
            if not args.keep_going:
                break
            continue
        bin_python = str(ROOT / venv / "bin" / "python")
        # Kernels import course_lib from this tree, whatever the venv's editable install names.
        env = {**os.environ, "MPLBACKEND": "agg", "PYTHONPATH": str(ROOT)}
        pytest = [bin_python, "-m", "pytest", "-p", "no:cacheprovider", "-q", "-n", "2"]
        unit_code, unit = run(
            [*pytest, "--dist", "loadgroup", "-m", "not browser", "tests"], log, 5400, env
        )
        notebooks = sorted(glob.glob(str(ROOT / "chapters/0[12]_*.ipynb")))
        notebooks += sorted(glob.glob(str(ROOT / "solutions/0[12]_*.ipynb")))
        nbval = ["--nbval-lax", "--nbval-current-env", "--nbval-cell-timeout=300"]
        nb_code, nb = run([*pytest, "--dist", "loadfile", *nbval, *notebooks], log, 1800, env)
        minutes = (time.perf_counter() - start) / 60
        exact = subprocess.run(
            [
                bin_python,
                "-c",
                "import platform, torch; print(platform.python_version(), torch.__version__)",
            ],
            capture_output=True,
            text=True,
            timeout=120,
        ).stdout.strip()
        rows.append((f"{version} ({exact}, {minutes:.0f} min)", summary(unit), summary(nb), ""))
        failed |= unit_code != 0 or nb_code != 0
        if failed and not args.keep_going:
            break
    print("| Python (torch, minutes) | unit tests | nbval, chapters 01-02 |")
    print("|---|---|---|")
    for version, unit, nb, _ in rows:
        print(f"| {version} | {unit} | {nb} |")
    if torch_build == "cuda":
        print("(PyTorch's CPU index could not be reached: 3.10, 3.12 and 3.13 took PyPI's build)")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
