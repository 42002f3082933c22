"""Grading speed: seconds per submission, `--jobs 1` against `--jobs 2` on the same notebooks.

    python benchmarks/bench_grade.py              # 20 submissions of the fixture chapter
    python benchmarks/bench_grade.py -n 40

Builds the submissions from the test fixture chapter (tests/fixtures/course): solved, untouched and
one-exercise-wrong notebooks in turn. Runs the grader's command line twice and prints both wall
times and whether the two grade sheets are byte-identical (they must be).
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
FIXTURE = ROOT / "tests" / "fixtures" / "course"


def make_submissions(course: Path, folder: Path, count: int) -> None:
    """Write `count` learner notebooks: solved, untouched and one-wrong in turn."""
    solved = json.loads((course / "solutions" / "00_fixture.ipynb").read_text())
    untouched = json.loads((course / "chapters" / "00_fixture.ipynb").read_text())
    wrong = copy.deepcopy(solved)
    for cell in wrong["cells"]:
        if cell["id"] == "ch00_double_answer":
            cell["source"] = "def double(x):\n    return x + 1"
    kinds = [solved, untouched, wrong]
    for i in range(count):
        (folder / f"learner{i:02d}.ipynb").write_text(json.dumps(kinds[i % 3]))


def grade(folder: Path, course: Path, jobs: int, out: Path) -> float:
    """Run the grader's command line; return its wall time in seconds."""
    env = dict(os.environ, PYTHONPATH=str(FIXTURE))
    command = [
        sys.executable,
        "-m",
        "course_lib.grade",
        str(folder),
        "--solutions",
        str(course / "solutions"),
        "--jobs",
        str(jobs),
        "--out",
        str(out),
        "--quiet",
    ]
    start = time.perf_counter()
    subprocess.run(command, check=True, env=env, stderr=subprocess.DEVNULL)
    return time.perf_counter() - start


def main(argv: list[str] | None = None) -> int:
    """Print seconds per submission for --jobs 1 and --jobs 2, and whether the sheets agree."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", type=int, default=20, help="number of submissions (default 20)")
    args = parser.parse_args(argv)
    from course_lib import notebooks

    with tempfile.TemporaryDirectory() as tmp:
        course = Path(tmp) / "course"
        shutil.copytree(FIXTURE, course)
        notebooks.write(course)
        folder = Path(tmp) / "submissions"
        folder.mkdir()
        make_submissions(course, folder, args.n)
        one = grade(folder, course, 1, Path(tmp) / "jobs1.csv")
        two = grade(folder, course, 2, Path(tmp) / "jobs2.csv")
        same = (Path(tmp) / "jobs1.csv").read_bytes() == (Path(tmp) / "jobs2.csv").read_bytes()
    print(f"{args.n} submissions on {os.cpu_count()} CPUs")
    print(f"--jobs 1: {one:6.1f} s  ({one / args.n:.2f} s per submission)")
    print(f"--jobs 2: {two:6.1f} s  ({two / args.n:.2f} s per submission, {one / two:.2f}x)")
    print(f"grades.csv identical: {same}")
    return 0 if same else 1


if __name__ == "__main__":
    raise SystemExit(main())
