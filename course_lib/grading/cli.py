"""`python -m course_lib.grade`: grade a folder of submissions, write the sheet and the feedback.

Learners are graded `--jobs` at a time in worker processes, each learner's kernel in its own
sandbox. The sheet is rewritten as each learner finishes (so an interrupted run keeps what it
had); a learner whose worker dies is graded again once, in a new pool; the exit code is 1 when
any row is a grader error.
"""

from __future__ import annotations

import argparse
import csv
import os
import re
import shutil
import sys
import tempfile
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from datetime import datetime, timezone
from multiprocessing import get_context
from pathlib import Path

from course_lib.grading.chapter import Chapter, GradingError, load_chapter
from course_lib.grading.kernel import RUN_FOLDER
from course_lib.grading.outputs import Outputs, write_feedback, write_outputs
from course_lib.grading.prepare import default_solutions, make_sandbox, measure_solution
from course_lib.grading.report import (
    FORMATS,
    apply_marks,
    cell_value,
    grades_csv,
    read_marks,
    read_roster,
    write_atomically,
)
from course_lib.grading.runner import (
    GradeOptions,
    LearnerResult,
    _nothing,
    grade_submission,
)
from course_lib.grading.sandbox import Limits, Sandbox
from course_lib.grading.submissions import Submission, find_submissions, nbgrader, read_notebook

__all__ = ["grade_all", "main", "make_sandbox"]

GRADER_ERROR = "grader error"


def _worker(args: tuple[Submission, Chapter, Sandbox, GradeOptions]) -> LearnerResult:
    return grade_submission(*args)


def grade_all(
    submissions: list[Submission],
    chapter: Chapter,
    sandbox: Sandbox,
    options: GradeOptions,
    jobs: int = 1,
    on_result=None,  # noqa: ANN001 - called with each LearnerResult as it finishes
) -> list[LearnerResult]:
    """Grade every submission; results sorted by learner."""
    results: dict[str, LearnerResult] = {}

    def done(result: LearnerResult) -> None:
        results[result.learner] = result
        if on_result is not None:
            on_result(result, list(results.values()))

    def run_pool(batch: list[Submission], workers: int) -> list[Submission]:
        """Grade `batch`; return the submissions whose worker process died."""
        broken: list[Submission] = []
        with ProcessPoolExecutor(max_workers=workers, mp_context=get_context("spawn")) as pool:
            futures = {pool.submit(_worker, (s, chapter, sandbox, options)): s for s in batch}
            remaining = set(futures)
            while remaining:
                finished, remaining = wait(remaining, return_when=FIRST_COMPLETED)
                for future in sorted(finished, key=lambda f: futures[f].learner):
                    submission = futures[future]
                    try:
                        done(future.result())
                    except BrokenProcessPool:
                        broken.append(submission)
                    except Exception as error:  # a bug in the grader: say so, go on
                        text = f"{GRADER_ERROR}: {type(error).__name__}: {error}"[:200]
                        done(LearnerResult(submission.learner, text, _nothing(chapter, "not run")))
        return broken

    # A dead worker breaks its whole pool: everyone it was grading gets a second try, each in a
    # pool of its own, so only the learner that kills its worker twice is left ungraded.
    # Every kernel's folder is made inside one folder of the run, removed at the end whatever
    # happened to the workers (a killed worker cannot clean up after itself).
    base = tempfile.gettempdir()
    folder = tempfile.mkdtemp(prefix="course-grade-run-", dir=base if len(base) <= 30 else "/tmp")
    before = os.environ.get(RUN_FOLDER)
    os.environ[RUN_FOLDER] = folder
    try:
        for submission in run_pool(list(submissions), jobs):
            if run_pool([submission], 1):
                nothing = _nothing(chapter, "not run")
                died = f"{GRADER_ERROR}: worker died twice"
                done(LearnerResult(submission.learner, died, nothing))
    finally:
        if before is None:
            os.environ.pop(RUN_FOLDER, None)
        else:
            os.environ[RUN_FOLDER] = before
        shutil.rmtree(folder, ignore_errors=True)
    return [results[key] for key in sorted(results)]


def _pick_chapter(submissions: list[Submission]) -> str:
    found = set()
    for s in submissions:
        if s.path is None:
            continue
        try:
            nb = read_notebook(s.path)
        except (ValueError, OSError):
            continue
        for cell in nb.cells:
            grade_id = str(nbgrader(cell).get("grade_id", ""))
            if m := re.match(r"ch(\d\d)_", grade_id):
                found.add(m.group(1))
                break
        else:
            if m := re.match(r"(\d\d)_", s.path.name):
                found.add(m.group(1))
    if len(found) == 1:
        return found.pop()
    if not found:
        raise GradingError("cannot tell which chapter these submissions are; pass --chapter NN.")
    raise GradingError(
        f"submissions of several chapters {sorted(found)}; grade one with --chapter NN."
    )


def _submission_times(path: Path | None, submissions: list[Submission]) -> dict[str, datetime]:
    """When each learner submitted: from a CSV (student_id, submitted_at) or the file times."""
    if path is not None:
        with path.open(newline="", encoding="utf-8") as handle:
            rows = list(csv.DictReader(handle))
        if rows and not {"student_id", "submitted_at"} <= set(rows[0]):
            raise GradingError(f"{path}: needs columns student_id and submitted_at (ISO 8601)")
        return {cell_value(r["student_id"]): _when(r["submitted_at"], path) for r in rows}
    return {
        s.learner: datetime.fromtimestamp(s.path.stat().st_mtime, timezone.utc)
        for s in submissions
        if s.path is not None
    }


def _when(text: str, where: Path) -> datetime:
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        raise GradingError(
            f"{where}: {text!r} is not an ISO 8601 time (2026-12-01T23:59)"
        ) from None
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


def _apply_late(result: LearnerResult, late: bool, penalty: float) -> LearnerResult:
    if not late:
        return result
    for e in result.exercises:
        e.points = round(e.points * (1 - penalty), 6)
    result.status = f"{result.status}; late (-{penalty:.0%})"
    return result


def main(argv: list[str] | None = None) -> int:
    """Command line: grade submissions, write the grade sheet, feedback and the report."""
    parser = argparse.ArgumentParser(
        prog="python -m course_lib.grade",
        description="Grade learners' chapter notebooks: grades.csv, feedback and a report.",
    )
    parser.add_argument("submissions", nargs="*", type=Path, help="notebooks or folders of them")
    parser.add_argument("--single", type=Path, help="grade this one notebook (see --json)")
    parser.add_argument("--json", type=Path, help="with --single: write its result as JSON here")
    parser.add_argument("--chapter", help="chapter number, e.g. 01 (default: from the notebooks)")
    parser.add_argument("--solutions", type=Path, help="folder of NN_*.py solution notebooks")
    parser.add_argument("--tests", type=Path, help="folder of private tests, <grade_id>.py each")
    parser.add_argument(
        "--timeout", type=float, default=600.0, help="seconds per learner, in all (default 600)"
    )
    parser.add_argument(
        "--cell-timeout",
        type=float,
        default=60.0,
        help="seconds per cell of the learner's or call of their function (default 60); the "
        "chapter's own cells get limits measured on the solved chapter",
    )
    parser.add_argument("--jobs", type=int, default=1, help="notebooks graded in parallel")
    parser.add_argument("--memory", type=int, default=4096, help="MB of address space per kernel")
    parser.add_argument("--out", type=Path, default=Path("grades.csv"), help="the grade sheet")
    parser.add_argument("--feedback", type=Path, help="folder for <learner>.md feedback files")
    parser.add_argument("--report", type=Path, help="tampering report (default: beside --out)")
    parser.add_argument("--require-sandbox", action="store_true", help="refuse to run unboxed")
    parser.add_argument(
        "--no-sandbox", action="store_true", help="no bubblewrap (e.g. inside a container)"
    )
    parser.add_argument("--deadline", help="ISO 8601 time; later submissions lose --late-penalty")
    parser.add_argument("--late-penalty", type=float, default=0.1, help="fraction (default 0.1)")
    parser.add_argument("--times", type=Path, help="CSV student_id,submitted_at (else file times)")
    parser.add_argument("--format", choices=FORMATS, help="also write an LMS import file")
    parser.add_argument("--roster", type=Path, help="CSV with student_id and LMS ids/emails")
    parser.add_argument(
        "--answers", type=Path, help="folder for written answers (default: beside --out)"
    )
    parser.add_argument("--manual", type=Path, help="CSV of marks: student_id,grade_id,points")
    parser.add_argument("--quiet", action="store_true", help="no progress lines")
    parser.add_argument(
        "--no-originality",
        action="store_true",
        help="skip the second run against a wrong library (halves the time; no such flags)",
    )
    parser.add_argument(
        "--shard", help="K/N: grade only the K-th of N parts of the class (see `merge`)"
    )
    parser.add_argument(
        "--release-hidden",
        action="store_true",
        help="feedback shows the hidden properties' results and the final score",
    )
    parser.add_argument(
        "--measured",
        type=Path,
        help="JSON of the solved chapter's step times: read when it exists (and is of these "
        "solutions), else measured and written there",
    )
    parser.add_argument(
        "--gradescope-bundle", type=Path, help="write Gradescope's autograder zip for --chapter"
    )
    parser.add_argument(
        "--classroom-workflow",
        type=Path,
        help="write a GitHub Classroom workflow for --chapter into this learner repository",
    )
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv[:1] == ["merge"]:
        from course_lib.grading.shards import merge_main

        return merge_main(argv[1:])
    args = parser.parse_args(argv)
    if args.gradescope_bundle is not None or args.classroom_workflow is not None:
        from course_lib.grading.platforms import platform_main

        return platform_main(args)
    try:
        shard = None
        if args.shard is not None:
            from course_lib.grading.shards import parse_shard

            shard = parse_shard(args.shard)
            if args.single is not None:
                raise GradingError("--shard splits a class; it does not go with --single.")
        if args.single is not None:
            if args.submissions:
                raise GradingError("--single NOTEBOOK grades one notebook; give no other paths.")
            if args.single.suffix != ".ipynb":
                raise GradingError(f"--single {args.single}: give a notebook (.ipynb).")
            args.submissions = [args.single]
        elif args.json is not None:
            raise GradingError("--json goes with --single NOTEBOOK.")
        if not args.submissions:
            raise GradingError("give notebooks or folders of them (or --single NOTEBOOK).")
        if args.jobs < 1 or args.timeout <= 0 or args.cell_timeout <= 0 or args.memory < 256:
            raise GradingError(
                "--jobs, --timeout and --cell-timeout must be positive, --memory >= 256."
            )
        if not 0 <= args.late_penalty <= 1:
            raise GradingError("--late-penalty is a fraction between 0 and 1.")
        if args.chapter is not None and not re.fullmatch(r"\d\d", args.chapter):
            if not re.fullmatch(r"\d", args.chapter):
                raise GradingError(f"--chapter {args.chapter!r}: give the number, e.g. 01.")
            args.chapter = "0" + args.chapter
        submissions = find_submissions(args.submissions, args.chapter)
        if not submissions:
            raise GradingError("no submissions (.ipynb files or folders) in the given paths.")
        number = args.chapter or _pick_chapter(submissions)
        learners = [s.learner for s in submissions]
        if shard is not None:
            from course_lib.grading.shards import pick_shard

            submissions = pick_shard(submissions, *shard)
        solutions = args.solutions or default_solutions()
        if not solutions.is_dir():
            raise GradingError(f"{solutions} is not a folder; pass --solutions DIR.")
        chapter = load_chapter(solutions, number, args.tests)
        deadline = _when(args.deadline, Path("--deadline")) if args.deadline else None
        times = _submission_times(args.times, submissions) if deadline else {}
        roster = read_roster(args.roster) if args.roster else None
        marks = read_marks(args.manual, chapter) if args.manual else {}
        if args.no_sandbox and args.require_sandbox:
            raise GradingError("--no-sandbox and --require-sandbox contradict each other.")
        limits = Limits(memory_mb=args.memory)
        sandbox = make_sandbox(chapter, args.require_sandbox, limits, not args.no_sandbox)
    except (GradingError, ValueError, OSError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    threads = max(1, (os.cpu_count() or 1) // args.jobs)
    options = GradeOptions(
        args.cell_timeout, args.timeout, threads, originality=not args.no_originality
    )
    options = measure_solution(chapter, sandbox, options, args.quiet, args.measured)
    outputs = Outputs.from_args(args, roster, args.json)
    report_path = outputs.report_path

    def finished(result: LearnerResult, so_far: list[LearnerResult]) -> None:
        apply_marks(result, marks)
        if deadline is not None:
            when = times.get(result.learner)
            _apply_late(result, when is not None and when > deadline, args.late_penalty)
        write_atomically(args.out, grades_csv(so_far, chapter))
        write_feedback(outputs, result, chapter)  # one learner's file never ends the run
        if not args.quiet:
            print(
                f"{result.learner}: {result.score:g}/{result.max_score:g} {result.status} "
                f"({result.seconds:.1f} s)",
                file=sys.stderr,
            )

    results = grade_all(submissions, chapter, sandbox, options, args.jobs, finished)
    from course_lib.grading.shards import state_json

    described = sandbox.describe()
    state = state_json(results, chapter, number, described, shard or (1, 1), learners)
    write_outputs(outputs, results, chapter, described, state)
    if not args.quiet:
        print(f"wrote {args.out} ({len(results)} learners) and {report_path}", file=sys.stderr)
    return 1 if any(r.status.startswith(GRADER_ERROR) for r in results) else 0
