"""Grading speed: seconds per submission, `--jobs 1` against `--jobs 2` on the same notebooks.

    python benchmarks/bench_grade.py              # 20 submissions of the fixture chapter
    python benchmarks/bench_grade.py -n 40
    python benchmarks/bench_grade.py --originality   # its cost: with and without, interleaved
    python benchmarks/bench_grade.py --chapters 01 03 05 -n 4   # the course's own chapters

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


def grade(
    folder: Path,
    course: Path,
    jobs: int,
    out: Path,
    sandbox: bool = True,
    originality: bool = True,
) -> float:
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
        *([] if sandbox else ["--no-sandbox"]),
        *([] if originality else ["--no-originality"]),
    ]
    start = time.perf_counter()
    subprocess.run(command, check=True, env=env, stderr=subprocess.DEVNULL)
    return time.perf_counter() - start


def main(argv: list[str] | None = None) -> int:
    """Print seconds per submission with and without the sandbox, --jobs 1 and 2; same sheets?"""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", type=int, default=20, help="number of submissions (default 20)")
    parser.add_argument(
        "--originality", action="store_true", help="time the originality run (A B B A, --jobs 2)"
    )
    parser.add_argument(
        "--chapters",
        nargs="+",
        help="time these chapters of solutions/ instead: per learner, --jobs 1 and 2, and one "
        "--single run (what a Gradescope or Actions container spends on one submission)",
    )
    args = parser.parse_args(argv)
    if args.originality:
        return originality_cost(args.n)
    if args.chapters:
        return chapter_costs(args.chapters, args.n)
    from course_lib import notebooks

    with tempfile.TemporaryDirectory() as tmp:
        course = Path(tmp) / "course"
        shutil.copytree(FIXTURE, course)
        notebooks.write(course)
        folder = Path(tmp) / "submissions"
        folder.mkdir()
        make_submissions(course, folder, args.n)
        # Interleaved: sandboxed and not, one job and two, so machine load hits all alike.
        times: dict[str, float] = {}
        for jobs in (1, 2):
            for boxed in (True, False):
                name = f"jobs{jobs}-{'bwrap' if boxed else 'none'}"
                times[name] = grade(folder, course, jobs, Path(tmp) / f"{name}.csv", boxed)
        sheets = {(Path(tmp) / f"{name}.csv").read_bytes() for name in times}
        same = len(sheets) == 1
    print(f"{args.n} submissions on {os.cpu_count()} CPUs")
    for name, seconds in times.items():
        print(f"{name:12s} {seconds:6.1f} s  ({seconds / args.n:.2f} s per submission)")
    for jobs in (1, 2):
        boxed, bare = times[f"jobs{jobs}-bwrap"], times[f"jobs{jobs}-none"]
        print(f"sandbox overhead, --jobs {jobs}: {(boxed - bare) / args.n:+.2f} s per submission")
    print(f"--jobs 2 vs 1 (sandboxed): {times['jobs1-bwrap'] / times['jobs2-bwrap']:.2f}x")
    print(f"grades.csv identical in all four runs: {same}")
    return 0 if same else 1


def originality_cost(count: int) -> int:
    """Wall time with and without the originality run, interleaved A B B A on one folder."""
    from course_lib import notebooks

    with tempfile.TemporaryDirectory() as tmp:
        course = Path(tmp) / "course"
        shutil.copytree(FIXTURE, course)
        notebooks.write(course)
        folder = Path(tmp) / "submissions"
        folder.mkdir()
        make_submissions(course, folder, count)
        runs: dict[bool, list[float]] = {True: [], False: []}
        for with_it in (True, False, False, True):
            out = Path(tmp) / f"{with_it}.csv"
            runs[with_it].append(grade(folder, course, 2, out, originality=with_it))
    on, off = sum(runs[True]) / 2, sum(runs[False]) / 2
    print(f"{count} submissions, --jobs 2, sandboxed, A B B A")
    print(f"with the originality run    {on:6.1f} s  ({on / count:.2f} s per submission)")
    print(f"without (--no-originality)  {off:6.1f} s  ({off / count:.2f} s per submission)")
    print(f"cost: {on / off:.2f}x")
    return 0


def _timed(command: list[str]) -> tuple[float, str]:
    """Wall seconds of `command` and the load average (1 min) before and after it."""
    before = os.getloadavg()[0]
    start = time.perf_counter()
    subprocess.run(command, check=True, stderr=subprocess.DEVNULL)
    seconds = time.perf_counter() - start
    return seconds, f"{before:.1f}->{os.getloadavg()[0]:.1f}"


def chapter_costs(chapters: list[str], count: int) -> int:
    """Seconds per learner of the course's chapters: `count` learners (solved and untouched in
    turn) graded with --jobs 1 and --jobs 2, the order alternating from chapter to chapter
    (1 2, 2 1, ...) so load drifts hit both alike; then one --single run of a solved notebook.
    Each learner's own seconds come from the run's state file (the solved chapter is measured
    once per run first, which wall time per learner includes)."""
    from statistics import median

    print(f"{count} learners per chapter, sandboxed, originality run on; load average 1 min")
    print("chapter  jobs  wall s  wall/learner  median learner s  load")
    with tempfile.TemporaryDirectory() as tmp:
        for turn, number in enumerate(chapters):
            (stem,) = [p.stem for p in (ROOT / "solutions").glob(f"{number}_*.py")]
            folder = Path(tmp) / number
            folder.mkdir()
            for i in range(count):
                side = "solutions" if i % 2 == 0 else "chapters"
                shutil.copy(ROOT / side / f"{stem}.ipynb", folder / f"learner{i:02d}.ipynb")
            base = [sys.executable, "-m", "course_lib.grade", str(folder), "--quiet"]
            base += ["--solutions", str(ROOT / "solutions"), "--chapter", number]
            for jobs in (1, 2) if turn % 2 == 0 else (2, 1):
                out = Path(tmp) / f"{number}-{jobs}" / "grades.csv"
                seconds, load = _timed([*base, "--jobs", str(jobs), "--out", str(out)])
                state = json.loads(out.with_name("grades.state.json").read_text())
                each = median(r["seconds"] for r in state["results"])
                print(
                    f"{number}       {jobs}  {seconds:6.1f}  {seconds / count:12.1f}  "
                    f"{each:16.1f}  {load}"
                )
            single = [sys.executable, "-m", "course_lib.grade", "--quiet", "--chapter", number]
            single += ["--solutions", str(ROOT / "solutions"), "--single"]
            single += [str(folder / "learner00.ipynb"), "--out", str(Path(tmp) / "s.csv")]
            seconds, load = _timed(single)
            print(f"{number}  single  {seconds:6.1f}  (one container's grading)  {load}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
