"""Rehearse a Binder session here: build the environment from binder/ alone, then run every chapter.

    python benchmarks/binder_rehearsal.py [--keep DIR]

1. a fresh virtual environment with only `pip install -r binder/requirements.txt` (where PyTorch's
   CPU index cannot be reached, pip takes the same torch release from its configured local wheels);
2. binder/postBuild, run with a temporary HOME as Binder's user would;
3. every notebook in chapters/ executed with one thread (OMP_NUM_THREADS=1 and friends; torch
   reads OMP_NUM_THREADS), its wall time and kernel peak memory printed by benchmarks/budget.py.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def step(title: str, command: list[str], env: dict[str, str]) -> float:
    """Run one command from the repository root; return its wall time, stop on failure."""
    print(f"\n== {title}: {' '.join(command)}", flush=True)
    start = time.perf_counter()
    done = subprocess.run(command, cwd=ROOT, env=env)
    seconds = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"{title} failed (exit {done.returncode}) after {seconds:.0f} s")
    print(f"-- {title}: {seconds:.0f} s", flush=True)
    return seconds


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--keep", type=Path, help="build the environment here and keep it")
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory(prefix="binder-") as scratch:
        base = args.keep or Path(scratch)
        venv, home = base / "venv", base / "home"
        home.mkdir(parents=True, exist_ok=True)
        bin_dir = venv / "bin"
        env = dict(os.environ, HOME=str(home), PATH=f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
        env.pop("VIRTUAL_ENV", None)
        env.pop("PYTHONPATH", None)

        times = {}
        if not (bin_dir / "python").exists():
            times["venv"] = step("venv", [sys.executable, "-m", "venv", str(venv)], env)
        pip = [str(bin_dir / "python"), "-m", "pip", "install", "--quiet"]
        times["install"] = step("install", [*pip, "-r", "binder/requirements.txt"], env)
        times["postBuild"] = step("postBuild", ["binder/postBuild"], env)
        budget = [str(bin_dir / "python"), "benchmarks/budget.py", "--threads", "1", "chapters"]
        times["chapters"] = step("chapters, one thread", budget, env)
        size = subprocess.run(["du", "-sm", str(venv)], capture_output=True, text=True)
        print("\n== summary")
        for name, seconds in times.items():
            print(f"{name:<10} {seconds:6.0f} s")
        print(f"environment size: {size.stdout.split()[0]} MB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
