"""Grade one submission: its answer cells in the instructor's chapter, in a kernel of its own.

Each step of the chapter runs in turn. Ordinary cells come from the instructor's copy; answer
cells from the submission. At each check the grader runs the chapter's `Exercise` in this process
with the learner's function as a `RemoteFunction` and decides the points here. An exercise that
did not pass is bound to its reference in the kernel before the next cell (from the reference's
source: the kernel cannot import the checks), exactly as the learner's own check does, so it
costs no other exercise. Hidden and private tests send inputs the learner never sees: they run
only once every public check of the chapter has computed its hint, on the functions as they were
when each check passed, so no hint is ever computed after a secret input entered the kernel. A
kernel that dies, exits or hangs is restarted and brought back by replaying the steps that ran
before (without the one that broke it), at most `MAX_RESTARTS` times.
"""

from __future__ import annotations

import functools
import signal
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from course_lib.checks import CheckFailed, Outcome
from course_lib.checks.mistakes import fixed_template
from course_lib.grading.chapter import Chapter, Graded, Step, defined_functions, hidden_properties
from course_lib.grading.kernel import (
    START_SECONDS,
    WIRE_BUDGET,
    Execution,
    KernelDied,
    KernelSession,
)
from course_lib.grading.references import is_hidden
from course_lib.grading.remote import RemoteFunction, RemoteStopped, kernel_prelude
from course_lib.grading.sandbox import Sandbox
from course_lib.grading.submissions import (
    Submission,
    answers_of,
    nbgrader,
    other_chapter,
    read_notebook,
)
from course_lib.grading.tamper import flags

__all__ = [
    "ExerciseResult",
    "GradeOptions",
    "LearnerResult",
    "cell_limits",
    "grade_submission",
]

MAX_RESTARTS = 3
MESSAGE_CHARS = 600
STOPPED = {"timeout": "timeout", "died": "kernel died", "exit": "exit"}  # a call's end -> status
GRACE_SECONDS = 5.0  # past --timeout before grader-side work is cut off (a kernel call ends first)


@dataclass(frozen=True)
class GradeOptions:
    """Limits of one grading run."""

    cell_timeout: float = 60.0  # the learner's own cells and functions
    timeout: float = 600.0  # the learner's total: cells, check calls and grader-side work
    threads: int | None = None  # BLAS/torch threads per kernel
    # Instructor cells and checks (cell id or grade id -> seconds), measured on the solution.
    cell_limits: tuple[tuple[str, float], ...] = ()
    wire_budget: int = WIRE_BUDGET
    originality: bool = True  # replay the answers once more against a wrong library


@dataclass
class ExerciseResult:
    """One exercise's score and why."""

    grade_id: str
    points: float
    max_points: float
    status: str  # pass, fail, not done, timeout, kernel died, exit, not run
    message: str = ""
    mistake: str = ""  # the mistake's stable id ('' when it passed or did not run)
    template: str = ""  # its hint without the learner's values (the course's text only)
    # The public check alone (see `tiers`): None when nothing beyond it ran.
    public_points: float | None = None
    public_status: str = ""
    public_message: str = ""
    hidden: dict[str, str] = field(default_factory=dict)  # hidden property -> pass, fail, ...


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
    timings: dict[str, float] = field(default_factory=dict)  # step -> seconds it took

    @property
    def score(self) -> float:
        return sum(e.points for e in self.exercises)

    @property
    def max_score(self) -> float:
        return sum(e.max_points for e in self.exercises)


def _trim(text: str, limit: int = MESSAGE_CHARS) -> str:
    text = text.strip()
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def _fixed(grade_id: str, name: str) -> tuple[str, str]:
    """A fixed mistake of an exercise (a timeout, a hidden test, ...): its id and template."""
    return f"{grade_id}/{name}", fixed_template(name)


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


def _exception_name(name: str) -> str:
    """`name` when it names one of Python's own exceptions, else "an error": a learner's code
    can give an exception class any name, a secret input's included."""
    import builtins

    found = getattr(builtins, name, None) if name.isidentifier() else None
    is_error = isinstance(found, type) and issubclass(found, BaseException)
    return name if is_error else "an error"


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
        return f"your function raised {_exception_name(kind)} in a {label}"
    except AssertionError:
        return f"the checks above pass, but a {label} failed: try your function on edge cases"
    except RemoteStopped:
        raise
    except Exception as error:  # an instructor's test that breaks is the instructor's to see
        return f"a {label} could not run ({type(error).__name__})"
    return ""


class OutOfTime(BaseException):
    """The learner's total time (`--timeout`) ran out during work in the grader's process."""


@contextmanager
def _alarm(seconds: float) -> Iterator[None]:
    """Raise `OutOfTime` after `seconds`, even in grader-side work (a check's hint computed on
    learner-sized data, a hidden test): only in the main thread, where signals arrive."""
    if threading.current_thread() is not threading.main_thread() or not hasattr(
        signal, "setitimer"
    ):
        yield
        return

    def ring(signum: int, frame: object) -> None:
        raise OutOfTime()

    previous = signal.signal(signal.SIGALRM, ring)
    signal.setitimer(signal.ITIMER_REAL, max(seconds, 0.01))
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


class _Run:
    """The state of one submission's run: the kernel, what ran, what it scored."""

    def __init__(
        self, chapter: Chapter, sandbox: Sandbox, options: GradeOptions, mutate: bool = False
    ) -> None:
        self.chapter = chapter
        self.options = options
        self.mutate = mutate  # the originality run: the library's implementations are wrong
        self.session = KernelSession(sandbox, options.threads, options.wire_budget)
        self.deadline = time.monotonic() + options.timeout
        # Code that ran, in order: brings a new kernel back. Every kernel starts with the wire
        # module and the import hook; the originality run first makes the chapter's references
        # wrong (where the kernel can import them: not the check modules under bubblewrap).
        self.replay: list[tuple[str, str | None]] = (
            [(mutation_code(chapter), "originality")] if mutate else []
        ) + [(kernel_prelude(chapter.hidden), "prelude")]
        self.events: list[str] = []
        self.restarts = 0
        self.other_errors: list[str] = []
        self.broken = False  # a cell failed: errors in later instructor cells follow from it
        self.follow_on = 0
        self.said: list[str] = []  # texts the learner's code produced or tests sent: not shown
        self.timings: dict[str, float] = {}  # step key -> seconds (for measuring the solution)
        self.kept: list[str] = []  # exercises that passed their check, their hidden tests to run
        self.tested: set[str] = set()  # those whose hidden and private tests have run
        self.secret = False  # hidden or private tests have sent inputs into the kernel

    def event(self, text: str) -> None:
        if text not in self.events:
            self.events.append(text)

    def left(self) -> float:
        return self.deadline - time.monotonic()

    def limit(self, key: str | None = None) -> float:
        """Seconds the next piece of code may take: --cell-timeout for the learner's code, the
        measured limit for an instructor's cell or check (`key`), never past the total."""
        base = self.options.cell_timeout
        if key is not None:
            base = max(base, dict(self.options.cell_limits).get(key, 0.0))
        return max(0.0, min(base, self.left()))

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
            self.session.start(min(self.left(), START_SECONDS))
        except KernelDied as error:
            self.event(f"kernel did not start: {error}")
            return False
        for code, key in self.replay:
            done = self.session.run(code, self.limit(key))
            if done.status in ("died", "timeout", "exit"):
                self.event("replay failed")
                return False
        return True

    def run(self, code: str, label: str, key: str | None = None, mine: bool = True) -> Execution:
        """Run a cell; `key` names an instructor's step (its measured limit), `mine` says the
        cell is the learner's (its errors are always listed)."""
        began = time.monotonic()
        done = self.session.run(code, self.limit(key))
        if key is not None:
            self.timings[key] = time.monotonic() - began
        if done.status in ("ok", "error"):
            self.replay.append((code, key))
        if done.status == "timeout":
            self.event("timeout")  # not replayed after a restart: it would time out again
        elif done.status == "died":
            self.event("kernel died")
        elif done.status == "exit":
            self.event("exit()")
        failed = done.status != "ok" and done.ename != "NotImplementedError"
        if failed and not mine and self.broken:
            self.follow_on += 1  # a NameError after a timeout, say: not the learner's to read
        elif done.status == "error" and done.ename != "NotImplementedError":
            # After secret inputs entered the kernel, only the names of Python's own exceptions.
            ename = _exception_name(done.ename) if self.secret else done.ename
            self.other_errors.append(_trim(f"{label}: {ename or 'an error'}", 300))
            self.said.append(done.evalue)
        elif done.status in ("timeout", "died", "exit"):
            self.other_errors.append(_trim(f"{label}: {done.evalue or done.status}", 300))
        if failed:
            self.broken = True
        return done

    def bind_reference(self, graded: Graded) -> None:
        """Bind this exercise's reference (and nothing else of the checks) to its name."""
        code = graded.binding
        module, _ = _reference_place(graded)
        if self.mutate and not is_hidden(module, self.chapter.hidden):
            code = _fresh_reference(graded)  # the library's copy is wrong here: a fresh one
        if self.ensure_kernel():
            self.run(code, f"binding the reference for {graded.grade_id}", graded.grade_id, False)

    def grade(self, graded: Graded) -> ExerciseResult:
        began = time.monotonic()
        key = graded.grade_id
        remotes = {
            g.name: RemoteFunction(self.session, g.name, lambda: self.limit(key))
            for g in self.chapter.graded
        }
        fn = remotes[graded.name]
        properties = hidden_properties(graded)
        hidden = {name: "not run" for name, _, _ in properties}
        public: tuple[float, str, str] | None = None
        try:
            outcome: Outcome = graded.exercise.run(fn)
            message = outcome.message
            points = outcome.points
            status = outcome.status
            public = (points, status, message)
            mistake, template = outcome.mistake, outcome.template
        except RemoteStopped as stopped:
            status = STOPPED[stopped.status]
            self.event({"kernel died": "kernel died", "exit": "exit()"}.get(status, status))
            points, message = 0.0, str(stopped)
            mistake, template = _fixed(key, status.replace(" ", "-"))
        except (OutOfTime, KeyboardInterrupt):
            raise
        except Exception as error:  # noqa: BLE001 - the check met data it could not use
            status, points = "fail", 0.0
            message = (
                f"your function's result could not be checked ({type(error).__name__}): "
                "return the type and shape the exercise asks for"
            )
            mistake, template = _fixed(key, "unreadable-result")
        for remote in remotes.values():
            self.said.extend(remote.said)
        self.timings[key] = time.monotonic() - began
        if status == "pass" and (graded.hidden.strip() or graded.private.strip()):
            self.keep(graded)
        scale = graded.points / graded.exercise.points if graded.exercise.points else 0.0
        result = ExerciseResult(
            graded.grade_id,
            round(points * scale, 6),
            graded.points,
            status,
            _trim(message),
            mistake,
            template,
        )
        if public is not None and properties:
            result.public_points = round(public[0] * scale, 6)
            result.public_status, result.public_message = public[1], _trim(public[2])
            result.hidden = hidden
        return result

    def keep(self, graded: Graded) -> None:
        """Keep, in the kernel, the chapter's functions as they are now that this exercise's check
        passed: its hidden and private tests run on them after the last public check."""
        names = [g.name for g in self.chapter.graded]
        code = (
            "_course_kept = globals().setdefault('_course_kept', {})\n"
            f"_course_kept[{graded.grade_id!r}] = {{n: globals().get(n) for n in {names!r}}}\n"
        )
        if self.ensure_kernel():
            self.run(code, f"keeping {graded.grade_id} for its hidden tests", None, False)
            self.kept.append(graded.grade_id)

    def secret_tests(self, results: dict[str, ExerciseResult]) -> None:
        """The hidden and private tests of every exercise kept, on the functions as they were when
        its check passed. Run once every public check has computed its hint: from here on,
        nothing the kernel does reaches a hint (these tests' own failures have generic ones)."""
        self.secret = True
        for grade_id in self.kept:
            graded = self.chapter.by_id(grade_id)
            if results[grade_id].status != "pass":
                continue
            began = time.monotonic()
            seconds = functools.partial(self.limit, grade_id)
            remotes = {
                g.name: RemoteFunction(self.session, g.name, seconds, kept=grade_id)
                for g in self.chapter.graded
            }
            hidden = dict(results[grade_id].hidden)
            problem, status, label = "", "fail", ""
            try:
                if not self.ensure_kernel():
                    raise RemoteStopped("died", "the kernel could not be brought back")
                # Every hidden property runs (each is reported by name); the first that fails
                # sets the exercise's status and hint.
                for name, code, kind in hidden_properties(graded):
                    failed = _tests_pass(code, remotes, kind)
                    hidden[name] = "fail" if failed else "pass"
                    if failed and not problem:
                        problem, label = failed, kind
            except RemoteStopped as stopped:
                status = STOPPED[stopped.status]
                self.event({"kernel died": "kernel died", "exit": "exit()"}.get(status, status))
                first = next((n for n, v in hidden.items() if v == "not run"), None)
                if first is not None:
                    hidden[first] = status
                problem, label = f"the hidden tests did not finish ({status})", status
            for remote in remotes.values():
                self.said.extend(remote.said + remote.sent)
            self.timings[grade_id] = self.timings.get(grade_id, 0.0) + time.monotonic() - began
            self.tested.add(grade_id)
            if problem:
                mistake, template = _fixed(grade_id, label.replace(" ", "-"))
                results[grade_id] = replace(
                    results[grade_id],
                    points=0.0,
                    status=status,
                    message=_trim(problem),
                    mistake=mistake,
                    template=template,
                    hidden=hidden,
                )
                self.bind_reference(graded)  # for the chapter's cells after the last check
            else:
                results[grade_id] = replace(results[grade_id], hidden=hidden)

    @property
    def verified(self) -> bool:
        """True when every kept exercise has had its hidden and private tests."""
        return set(self.kept) <= self.tested

    def unverified(self, results: dict[str, ExerciseResult]) -> None:
        """Exercises whose hidden tests never ran (the run stopped before the last check): no
        points, since passing the public check alone does not earn them."""
        stopped = "notebook timeout" in self.events
        for grade_id in self.kept:
            if grade_id in self.tested:
                continue
            if results.get(grade_id) and results[grade_id].status == "pass":
                status = "timeout" if stopped else "not run"
                mistake, template = _fixed(grade_id, status.replace(" ", "-"))
                why = "its check passed, but the run stopped before its hidden tests could run"
                results[grade_id] = replace(
                    results[grade_id],
                    points=0.0,
                    status=status,
                    message=why,
                    mistake=mistake,
                    template=template,
                )


def _redact(text: str, said: list[str]) -> str:
    """`text` without any of the texts in `said` (longest first)."""
    for words in sorted({w.strip() for w in said if len(w.strip()) >= 3}, key=len, reverse=True):
        text = text.replace(words, "…")
    return text


def grade_submission(
    submission: Submission,
    chapter: Chapter,
    sandbox: Sandbox,
    options: GradeOptions,
    solved: bool = False,
) -> LearnerResult:
    """Run one submission's answers in the chapter and score every exercise. `solved` runs the
    chapter's own solutions instead (to measure them); the result's `timings` say how long each
    step took."""
    start = time.monotonic()
    if solved:
        nb, other, report = None, None, []
        answers = {s.cell_id: (s.solution, "id") for s in chapter.steps if s.kind == "answer"}
    elif submission.path is None:
        result = LearnerResult(submission.learner, submission.problem, _nothing(chapter, "not run"))
        result.notebook_ran = False
        return result
    else:
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
    results = _run_steps(run, chapter, answers, undefined)
    run.unverified(results)
    if run.session.over_budget:
        run.event("too much data from the kernel")
    passed = [g for g, r in results.items() if r.status == "pass"]
    if options.originality and passed and not solved and "notebook timeout" not in run.events:
        report = report + originality_flags(chapter, sandbox, options, answers, undefined, passed)
    exercises = [
        results.get(g.grade_id) or ExerciseResult(g.grade_id, 0.0, g.points, "not run")
        for g in chapter.graded
    ]
    for e in exercises:
        e.message = _redact(e.message, run.said)
        e.public_message = _redact(e.public_message, run.said)
    written = written_answers(nb, chapter) if nb is not None else {}
    for w in chapter.written:
        status = "to mark" if written.get(w.grade_id) else "not answered"
        exercises.append(ExerciseResult(w.grade_id, 0.0, w.points, status))
    order = {grade_id: i for i, grade_id in enumerate(chapter.grade_ids)}
    exercises.sort(key=lambda e: order[e.grade_id])
    status = "; ".join(run.events) if run.events else "ok"
    errors = [_redact(text, run.said) for text in run.other_errors]
    if run.follow_on:
        errors.append(
            f"{run.follow_on} later cell(s) of the chapter failed after that: follow-on "
            "errors of the cell above, not counted against you"
        )
    result = LearnerResult(
        submission.learner,
        status,
        exercises,
        errors,
        report,
        time.monotonic() - start,
        written=written,
    )
    result.timings = dict(run.timings)
    return result


def _steps(
    run: _Run,
    chapter: Chapter,
    answers: dict[str, tuple[str, str]],
    undefined: set[str],
    results: dict[str, ExerciseResult],
) -> None:
    last_check = max(i for i, s in enumerate(chapter.steps, 1) if s.kind == "check")
    for number, step in enumerate(chapter.steps, 1):
        if run.left() <= 0:
            run.event("notebook timeout")
            break
        if run.session.over_budget:
            break  # the kernel sent more than a learner's budget: it is stopped, not restarted
        if not run.ensure_kernel():
            break
        if step.kind == "check":
            graded = chapter.by_id(step.grade_id or "")
            if graded.grade_id in undefined:
                # The answer never wrote the function (an import of the library's, say).
                hint = f"your answer cell does not define {graded.name}() itself: write it there"
                mistake, template = _fixed(graded.grade_id, "not-defined")
                result = ExerciseResult(
                    graded.grade_id, 0.0, graded.points, "fail", hint, mistake, template
                )
            else:
                result = run.grade(graded)
            results[graded.grade_id] = result
            if result.status != "pass":
                run.bind_reference(graded)
            if number == last_check:
                run.secret_tests(results)
            continue
        label = _label(step, number)
        if step.kind == "answer" and step.cell_id in answers:
            run.run(answers[step.cell_id][0], label)  # left out of the replay if it breaks
        else:
            run.run(step.code, label, step.cell_id or f"cell {number}", step.kind == "answer")


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


LIMIT_FACTOR = 4.0  # an instructor's cell may take this many times its measured time ...
LIMIT_SLACK = 20.0  # ... plus this many seconds (a loaded machine, another learner's work)


def cell_limits(measured: dict[str, float], options: GradeOptions) -> tuple[tuple[str, float], ...]:
    """Limits for the instructor's cells and checks from their times in a run of the solution on
    this machine: LIMIT_FACTOR times as long plus LIMIT_SLACK seconds, and never less than
    --cell-timeout."""
    return tuple(
        (key, round(max(options.cell_timeout, LIMIT_FACTOR * seconds + LIMIT_SLACK), 1))
        for key, seconds in sorted(measured.items())
    )


WRONG = "replaced by a wrong one for the originality run"


def _reference_place(graded: Graded) -> tuple[str, str]:
    reference = graded.exercise.reference
    return str(reference.__module__), str(reference.__qualname__)


def mutation_code(chapter: Chapter) -> str:
    """Kernel code that makes the library's own implementation of each of the chapter's
    exercises wrong in place: the function object itself gets code that raises, so every way to
    reach it (an attribute, an import, pickle, gc, a check's `.reference`) finds the wrong one."""
    places = sorted({_reference_place(g) for g in chapter.graded})
    return f"""
def _course_mutate(places):
    import importlib

    def wrong(*args, **kwargs):
        raise RuntimeError({WRONG!r})

    for module, qualname in places:
        try:
            target = importlib.import_module(module)
        except ImportError:  # a check module: not in a sandboxed kernel's file system
            continue
        for part in qualname.split("."):
            target = getattr(target, part)
        target = getattr(target, "__func__", target)
        if getattr(getattr(target, "__code__", None), "co_freevars", None) == ():
            target.__code__ = wrong.__code__

_course_mutate({places!r})
del _course_mutate
"""


def _fresh_reference(graded: Graded) -> str:
    """Kernel code binding a fresh copy of the exercise's reference, loaded from its file (the
    imported one is wrong in the originality run)."""
    module, qualname = _reference_place(graded)
    return f"""
def _course_fresh(module, qualname):
    import importlib, importlib.util
    spec = importlib.util.find_spec(module)
    fresh = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(fresh)
    target = fresh
    for part in qualname.split("."):
        target = getattr(target, part)
    return target

{graded.name} = _course_fresh({module!r}, {qualname!r})
del _course_fresh
"""


def _run_steps(
    run: _Run, chapter: Chapter, answers: dict[str, tuple[str, str]], undefined: set[str]
) -> dict[str, ExerciseResult]:
    """Every step of the chapter in `run`, within the learner's total time; the kernel closed."""
    results: dict[str, ExerciseResult] = {}
    try:
        with _alarm(run.options.timeout + GRACE_SECONDS):
            _steps(run, chapter, answers, undefined, results)
    except OutOfTime:
        run.event("notebook timeout")
    finally:
        run.session.close()
    return results


def originality_flags(
    chapter: Chapter,
    sandbox: Sandbox,
    options: GradeOptions,
    answers: dict[str, tuple[str, str]],
    undefined: set[str],
    passed: list[str],
) -> list[str]:
    """The originality run: the same answers in the chapter once more, with the library's own
    implementations of the chapter's exercises replaced by wrong ones. An exercise that passed
    before and does not now passes only through the library: a flag naming it."""
    run = _Run(chapter, sandbox, options, mutate=True)
    results = _run_steps(run, chapter, answers, undefined)
    stopped = ("notebook timeout", "too many restarts", "replay failed")
    if any(e in run.events for e in stopped) or (run.kept and not run.verified):
        return ["originality run: did not finish (not checked)"]
    return [
        f"{grade_id}: depends on the library's own implementation (passes only with it)"
        for grade_id in passed
        if grade_id in results and results[grade_id].status != "pass"
    ]
