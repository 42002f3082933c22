"""Grade one submission: its answer cells in the instructor's chapter, in a kernel of its own.

Each step of the chapter runs in turn. Ordinary cells come from the instructor's copy; answer
cells from the submission. At each check the grader runs the chapter's `Exercise` in this process
with the learner's function as a `RemoteFunction`, then its hidden and private tests the same way,
and decides the points here. An exercise that did not pass is bound to the library's reference in
the kernel before the next cell, exactly as the learner's own check does, so it costs no other
exercise. A kernel that dies, exits or hangs is restarted and brought back by replaying the steps
that ran before (without the one that broke it), at most `MAX_RESTARTS` times.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from course_lib.checks import CheckFailed, Outcome
from course_lib.grading.chapter import Chapter, Graded, Step, defined_functions
from course_lib.grading.kernel import Execution, KernelDied, KernelSession
from course_lib.grading.remote import RemoteFunction, RemoteStopped
from course_lib.grading.sandbox import Sandbox
from course_lib.grading.submissions import (
    Submission,
    answers_of,
    nbgrader,
    other_chapter,
    read_notebook,
)
from course_lib.grading.tamper import flags

__all__ = ["ExerciseResult", "GradeOptions", "LearnerResult", "grade_submission"]

MAX_RESTARTS = 3
MESSAGE_CHARS = 600


@dataclass(frozen=True)
class GradeOptions:
    """Limits of one grading run."""

    cell_timeout: float = 60.0
    timeout: float = 600.0
    threads: int | None = None  # BLAS/torch threads per kernel


@dataclass
class ExerciseResult:
    """One exercise's score and why."""

    grade_id: str
    points: float
    max_points: float
    status: str  # pass, fail, not done, timeout, kernel died, exit, not run
    message: str = ""


@dataclass
class LearnerResult:
    """One learner's grades, the run's status and what else happened."""

    learner: str
    status: str
    exercises: list[ExerciseResult]
    other_errors: list[str] = field(default_factory=list)
    flags: list[str] = field(default_factory=list)
    seconds: float = 0.0
    notebook_ran: bool = True
    written: dict[str, str] = field(default_factory=dict)  # grade_id -> the learner's answer

    @property
    def score(self) -> float:
        return sum(e.points for e in self.exercises)

    @property
    def max_score(self) -> float:
        return sum(e.max_points for e in self.exercises)


def _trim(text: str, limit: int = MESSAGE_CHARS) -> str:
    text = text.strip()
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def _nothing(chapter: Chapter, status: str) -> list[ExerciseResult]:
    auto = [ExerciseResult(g.grade_id, 0.0, g.points, status) for g in chapter.graded]
    return auto + [ExerciseResult(w.grade_id, 0.0, w.points, status) for w in chapter.written]


def written_answers(nb: Any, chapter: Chapter) -> dict[str, str]:
    """The learner's text for each written question (by cell id or grade id); '' if none."""
    from course_lib.notebooks import MARKDOWN_STUB

    found: dict[str, str] = {}
    for cell in nb.cells:
        if cell.get("cell_type") != "markdown":
            continue
        grade_id = nbgrader(cell).get("grade_id")
        for key in (str(cell.get("id", "")), str(grade_id or "")):
            if key in {w.grade_id for w in chapter.written} and key not in found:
                text = cell.source.strip()
                found[key] = "" if text in ("", MARKDOWN_STUB) else text
    return {w.grade_id: found.get(w.grade_id, "") for w in chapter.written}


def _tests_pass(code: str, remotes: dict[str, RemoteFunction], label: str) -> str:
    """'' when `code` (hidden or private tests, run here) passes, else a hint without its text."""
    if not code.strip():
        return ""
    namespace: dict[str, Any] = {"np": np, "numpy": np, "__name__": "__grader__", **remotes}
    try:
        exec(compile(code, f"<{label}>", "exec"), namespace)
    except NotImplementedError:
        return f"a {label} called an exercise that is not done"
    except CheckFailed as failure:
        cause = failure.__cause__
        kind = getattr(getattr(cause, "raised", None), "type_name", "") or "an error"
        return f"your function raised {kind} in a {label}"
    except AssertionError:
        return f"the checks above pass, but a {label} failed: try your function on edge cases"
    except RemoteStopped:
        raise
    except Exception as error:  # an instructor's test that breaks is the instructor's to see
        return f"a {label} could not run ({type(error).__name__})"
    return ""


class _Run:
    """The state of one submission's run: the kernel, what ran, what it scored."""

    def __init__(self, chapter: Chapter, sandbox: Sandbox, options: GradeOptions) -> None:
        self.chapter = chapter
        self.options = options
        self.session = KernelSession(sandbox, options.threads)
        self.deadline = time.monotonic() + options.timeout
        self.replay: list[str] = []  # code that ran, in order: brings a new kernel back
        self.events: list[str] = []
        self.restarts = 0
        self.other_errors: list[str] = []

    def event(self, text: str) -> None:
        if text not in self.events:
            self.events.append(text)

    def left(self) -> float:
        return self.deadline - time.monotonic()

    def limit(self) -> float:
        return max(1.0, min(self.options.cell_timeout, self.left()))

    def ensure_kernel(self) -> bool:
        """A running kernel at the state of `replay`; False when that is no longer possible."""
        if self.session.alive():
            return True
        if self.session.process is not None or self.restarts:
            self.restarts += 1
        if self.restarts > MAX_RESTARTS:
            self.event("too many restarts")
            return False
        try:
            self.session.start()
        except KernelDied as error:
            self.event(f"kernel did not start: {error}")
            return False
        for code in self.replay:
            done = self.session.run(code, self.limit())
            if done.status in ("died", "timeout", "exit"):
                self.event("replay failed")
                return False
        return True

    def run(self, code: str, label: str) -> Execution:
        done = self.session.run(code, self.limit())
        if done.status in ("ok", "error"):
            self.replay.append(code)
        if done.status == "timeout":
            self.event("timeout")  # not replayed after a restart: it would time out again
        elif done.status == "died":
            self.event("kernel died")
        elif done.status == "exit":
            self.event("exit()")
        if done.status == "error" and done.ename not in ("NotImplementedError",):
            what = f"{done.ename}: {done.evalue}" if done.evalue else done.ename
            self.other_errors.append(_trim(f"{label}: {what}", 300))
        elif done.status in ("timeout", "died", "exit"):
            self.other_errors.append(_trim(f"{label}: {done.evalue or done.status}", 300))
        return done

    def bind_reference(self, graded: Graded) -> None:
        code = (
            f"import {graded.check_module} as _course_check\n"
            f"{graded.name} = _course_check.{graded.check_attr}.reference\n"
            "del _course_check"
        )
        if self.ensure_kernel():
            self.run(code, f"binding the reference for {graded.grade_id}")

    def grade(self, graded: Graded) -> ExerciseResult:
        remotes = {
            g.name: RemoteFunction(self.session, g.name, self.limit()) for g in self.chapter.graded
        }
        fn = remotes[graded.name]
        try:
            outcome: Outcome = graded.exercise.run(fn)
            message = outcome.message
            points = outcome.points
            status = outcome.status
            if status == "pass":
                for code, label in (
                    (graded.hidden, "hidden test"),
                    (graded.private, "private test"),
                ):
                    problem = _tests_pass(code, remotes, label)
                    if problem:
                        status, points, message = "fail", 0.0, problem
                        break
        except RemoteStopped as stopped:
            status = {"timeout": "timeout", "died": "kernel died", "exit": "exit"}[stopped.status]
            self.event({"kernel died": "kernel died", "exit": "exit()"}.get(status, status))
            points, message = 0.0, str(stopped)
        scale = graded.points / graded.exercise.points if graded.exercise.points else 0.0
        return ExerciseResult(
            graded.grade_id, round(points * scale, 6), graded.points, status, _trim(message)
        )


def grade_submission(
    submission: Submission, chapter: Chapter, sandbox: Sandbox, options: GradeOptions
) -> LearnerResult:
    """Run one submission's answers in the chapter and score every exercise."""
    start = time.monotonic()
    if submission.path is None:
        result = LearnerResult(submission.learner, submission.problem, _nothing(chapter, "not run"))
        result.notebook_ran = False
        return result
    try:
        nb = read_notebook(submission.path)
        other = other_chapter(nb, chapter)
        if other is None:
            answers = answers_of(nb, chapter)
            report = flags(nb, chapter, answers)
    except (ValueError, OSError) as error:
        return _not_run(submission, chapter, _read_status(str(error)), str(error))
    except Exception as error:  # an odd notebook costs its own row, never the run
        why = f"the notebook's structure is not understood ({type(error).__name__})"
        return _not_run(submission, chapter, "not a notebook", why)
    if other is not None:
        return _not_run(submission, chapter, f"another chapter ({other})")
    undefined = set()
    for step in chapter.steps:
        if step.kind == "answer" and step.grade_id and step.cell_id in answers:
            name = chapter.by_id(step.grade_id).name
            if name in step.defines and name not in defined_functions(answers[step.cell_id][0]):
                undefined.add(step.grade_id)
    run = _Run(chapter, sandbox, options)
    results: dict[str, ExerciseResult] = {}
    try:
        for number, step in enumerate(chapter.steps, 1):
            if run.left() <= 0:
                run.event("notebook timeout")
                break
            if not run.ensure_kernel():
                break
            if step.kind == "check":
                graded = chapter.by_id(step.grade_id or "")
                if graded.grade_id in undefined:
                    # The answer never wrote the function (an import of the library's, say).
                    hint = (
                        f"your answer cell does not define {graded.name}() itself: write it there"
                    )
                    result = ExerciseResult(graded.grade_id, 0.0, graded.points, "fail", hint)
                else:
                    result = run.grade(graded)
                results[graded.grade_id] = result
                if result.status != "pass":
                    run.bind_reference(graded)
                continue
            source = answers[step.cell_id][0] if step.cell_id in answers else step.source
            label = _label(step, number)
            run.run(source, label)  # an answer that breaks the kernel is left out of the replay
    finally:
        run.session.close()
    exercises = [
        results.get(g.grade_id) or ExerciseResult(g.grade_id, 0.0, g.points, "not run")
        for g in chapter.graded
    ]
    written = written_answers(nb, chapter)
    for w in chapter.written:
        status = "to mark" if written[w.grade_id] else "not answered"
        exercises.append(ExerciseResult(w.grade_id, 0.0, w.points, status))
    order = {grade_id: i for i, grade_id in enumerate(chapter.grade_ids)}
    exercises.sort(key=lambda e: order[e.grade_id])
    status = "; ".join(run.events) if run.events else "ok"
    return LearnerResult(
        submission.learner,
        status,
        exercises,
        run.other_errors,
        report,
        time.monotonic() - start,
        written=written,
    )


def _read_status(reason: str) -> str:
    for words, status in (
        ("larger than", "too large"),
        ("symbolic link", "a symbolic link (not followed, not graded)"),
        ("not a regular file", "not a regular file (not read)"),
    ):
        if words in reason:
            return status
    return "not a notebook"


def _not_run(submission: Submission, chapter: Chapter, status: str, why: str = "") -> LearnerResult:
    result = LearnerResult(submission.learner, status, _nothing(chapter, "not run"))
    if why:
        result.other_errors.append(_trim(why))
    result.notebook_ran = False
    return result


def _label(step: Step, number: int) -> str:
    first = next((ln.strip() for ln in step.source.split("\n") if ln.strip()), "")
    kind = f"answer for {step.grade_id}" if step.kind == "answer" else f"cell {number}"
    return f"{kind} (`{first[:50]}`)"
