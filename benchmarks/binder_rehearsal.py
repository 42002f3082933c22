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


def index_reachable(url: str, timeout: float = 5.0) -> bool:
    """True when `url` answers at all (any HTTP status); False on no route, no name, time-out."""
    import urllib.error
    import urllib.request

    try:
        urllib.request.urlopen(url, timeout=timeout).close()
    except urllib.error.HTTPError:
        return True
    except OSError:
        return False
    return True


def usable_requirements(path: Path, scratch: Path) -> Path:
    """binder/requirements.txt itself, or - when an index it names cannot be reached here - a copy
    without that index line, so pip takes the same pinned torch from its configured sources
    instead of retrying the unreachable index for every package."""
    lines = path.read_text().splitlines()
    kept = []
    for line in lines:
        words = line.split()
        if words[:1] in (["--extra-index-url"], ["--index-url"]) and len(words) > 1:
            if not index_reachable(words[1]):
                print(f"-- {words[1]} cannot be reached here: installing without it", flush=True)
                continue
        kept.append(line)
    if kept == lines:
        return path
    copy = scratch / "requirements.txt"
    # -e . inside the copy must still mean the repository root.
    copy.write_text("\n".join(line.replace("-e .", f"-e {ROOT}") for line in kept) + "\n")
    return copy


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
        requirements = usable_requirements(ROOT / "binder" / "requirements.txt", base)
        times["install"] = step("install", [*pip, "-r", str(requirements)], env)
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
