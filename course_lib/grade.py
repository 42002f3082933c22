"""The instructors' grader: run learners' notebooks, score each graded cell, write grades, feedback.

    python -m course_lib.grade submissions/ --chapter 01 --out grades.csv --feedback feedback/

Each submission runs in a fresh kernel (with `COURSE_LIB_GRADING=1`, so an unsolved exercise fails
its check), in a scratch copy inside its own temporary working directory, with a per-cell and a
whole-notebook time limit. Before running, every graded cell is restored from the chapter's
solution notebook by its `grade_id` (hidden tests included; a deleted check comes back at its
place), and `--tests DIR` appends an instructor's private test `DIR/<grade_id>.py` to its cell.
A graded cell that runs without an error scores its points. Submissions are only ever read.
"""

from __future__ import annotations

import argparse
import asyncio
import copy
import csv
import io
import math
import os
import re
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from multiprocessing import get_context
from pathlib import Path
from typing import Any

__all__ = [
    "Chapter",
    "ExerciseResult",
    "GradeOptions",
    "LearnerResult",
    "Submission",
    "feedback_markdown",
    "find_submissions",
    "grade_all",
    "grade_submission",
    "grades_csv",
    "load_chapter",
    "main",
    "prepare",
]

MAX_SUBMISSION_BYTES = 100 * 1024 * 1024
MAX_OUTPUT_CHARS = 20_000  # stored output per cell; the rest is dropped as it arrives
MESSAGE_CHARS = 600  # a failing check's message in the feedback
MAX_RESTARTS = 3  # kernel restarts after a crash or a hang before the rest counts as not run
RECOVER_SECONDS = 3.0  # how long an interrupted kernel gets to become responsive again
CHECK_IMPORT = re.compile(
    r"^[ \t]*(?:from[ \t]+[\w.]+[ \t]+import[ \t]+\w+|import[ \t]+[\w.]+)"
    r"[ \t]+as[ \t]+check[ \t]*$",
    re.MULTILINE,
)
ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
TIMEOUT_ENAME = "CellTimeout"


class GradingError(ValueError):
    """The grading run cannot start (bad arguments, missing solutions); the message says why."""


# ---------------------------------------------------------------------------- the chapter


@dataclass(frozen=True)
class Exercise:
    """A graded cell of the solution notebook."""

    grade_id: str
    points: float
    source: str  # the cell as it runs when grading: check import, solution source, private test


@dataclass(frozen=True)
class Chapter:
    """The solution notebook a chapter's submissions are graded against."""

    name: str  # e.g. "01_vocabulary"
    cells: list[Any]  # the solution notebook's cells (nbformat nodes)
    exercises: list[Exercise]

    @property
    def max_score(self) -> float:
        return sum(e.points for e in self.exercises)


def _solution_file(solutions: Path, chapter: str) -> Path:
    candidates = sorted(solutions.glob(f"{chapter}_*.py")) or sorted(
        solutions.glob(f"{chapter}_*.ipynb")
    )
    if not candidates:
        found = sorted(p.name for p in solutions.glob("[0-9][0-9]_*.py"))
        raise GradingError(
            f"no solution notebook for chapter {chapter} in {solutions} "
            f"(found: {found or 'none'}); "
            "pass --solutions DIR or a --chapter that exists."
        )
    return candidates[0]


def load_chapter(solutions: Path, chapter: str, tests: Path | None = None) -> Chapter:
    """The graded cells of chapter `chapter` ("01") from `solutions/`, plus private tests."""
    from course_lib.notebooks import graded_cells, read_solution

    path = _solution_file(solutions, chapter)
    nb = read_solution(path)
    code = "\n".join(c.source for c in nb.cells if c.cell_type == "code")
    check_import = CHECK_IMPORT.search(code)
    private = _private_tests(
        tests, [str(c.metadata["nbgrader"]["grade_id"]) for _, c in graded_cells(nb)], path
    )
    exercises = []
    for _, cell in graded_cells(nb):
        grader = cell.metadata["nbgrader"]
        grade_id = str(grader["grade_id"])
        parts = []
        if check_import:
            # Re-bind `check` so a learner who shadowed it is still graded by the real checks.
            parts.append(check_import.group(0).strip() + "  # restored by the grader")
        parts.append(cell.source)
        if grade_id in private:
            parts.append(f"# instructor's private tests\n{private[grade_id]}")
        exercises.append(Exercise(grade_id, float(grader.get("points", 0)), "\n".join(parts)))
    if not exercises:
        raise GradingError(f"{path} has no graded cells (nbgrader grade: true); nothing to grade.")
    return Chapter(path.stem, list(nb.cells), exercises)


def _private_tests(tests: Path | None, grade_ids: list[str], solution: Path) -> dict[str, str]:
    if tests is None:
        return {}
    if not tests.is_dir():
        raise GradingError(f"--tests {tests} is not a folder of <grade_id>.py files.")
    found = {p.stem: p.read_text(encoding="utf-8") for p in sorted(tests.glob("*.py"))}
    unknown = sorted(set(found) - set(grade_ids))
    if unknown:
        raise GradingError(
            f"private tests {unknown} in {tests} match no graded cell of {solution.name}; "
            f"its grade ids are {grade_ids}."
        )
    return found


# ---------------------------------------------------------------------------- submissions


@dataclass(frozen=True)
class Submission:
    """One learner's notebook (or the reason there is none)."""

    learner: str
    path: Path | None
    problem: str = ""  # a status when there is nothing to run


def _visible(path: Path) -> bool:
    return not path.name.startswith(".") and path.name != "__pycache__"


def _notebooks_in(folder: Path) -> list[Path]:
    return sorted(
        p
        for p in folder.rglob("*.ipynb")
        if p.is_file()
        and all(_visible(part) for part in p.relative_to(folder).parents if part.name)
        and _visible(p)
        and ".ipynb_checkpoints" not in p.parts
    )


def find_submissions(paths: list[Path], chapter: str | None = None) -> list[Submission]:
    """Every submission under `paths`, sorted by learner id.

    A file is one learner (id: its stem); a folder holding one notebook is one learner (id: the
    folder's name); any other folder holds submissions: each visible file and sub-folder in it.
    """
    found: list[Submission] = []

    def folder_submission(folder: Path) -> Submission:
        notebooks = _notebooks_in(folder)
        if chapter is not None and len(notebooks) > 1:
            matching = [p for p in notebooks if p.name.startswith(f"{chapter}_")]
            notebooks = matching if len(matching) == 1 else notebooks
        if not notebooks:
            return Submission(folder.name, None, "no notebook")
        if len(notebooks) > 1:
            return Submission(folder.name, None, "several notebooks")
        return Submission(folder.name, notebooks[0])

    for path in paths:
        if path.is_file():
            found.append(Submission(path.stem, path))
        elif path.is_dir():
            children = sorted(p for p in path.iterdir() if _visible(p))
            direct = [p for p in children if p.is_file() and p.suffix == ".ipynb"]
            subdirs = [p for p in children if p.is_dir() and p.name != ".ipynb_checkpoints"]
            if len(direct) == 1 and not any(_notebooks_in(d) for d in subdirs):
                found.append(Submission(path.name, direct[0]))
                continue
            for child in children:
                if child.is_file():
                    found.append(Submission(child.stem, child))
                elif child.is_dir() and child.name != ".ipynb_checkpoints":
                    found.append(folder_submission(child))
        else:
            raise GradingError(f"{path} does not exist; pass notebooks or folders of them.")
    by_id: dict[str, Submission] = {}
    for submission in found:
        if submission.learner in by_id:
            raise GradingError(
                f"two submissions have the learner id {submission.learner!r}: "
                f"{by_id[submission.learner].path} and {submission.path}; rename one."
            )
        by_id[submission.learner] = submission
    return [by_id[key] for key in sorted(by_id)]


def _read_notebook(path: Path) -> Any:
    """The submission as an nbformat notebook; raises ValueError with the reason otherwise."""
    import nbformat

    if path.suffix != ".ipynb":
        raise ValueError(f"{path.name} is not an .ipynb file")
    if path.stat().st_size > MAX_SUBMISSION_BYTES:
        raise ValueError(f"{path.name} is larger than {MAX_SUBMISSION_BYTES // 2**20} MB")
    try:
        nb = nbformat.reads(path.read_bytes().decode("utf-8"), as_version=4)
        cells = nb["cells"]
        for cell in cells:
            if cell.get("cell_type") not in ("code", "markdown", "raw"):
                raise ValueError(f"unknown cell type {cell.get('cell_type')!r}")
            if not isinstance(cell.get("source", ""), str):
                raise ValueError("a cell's source is not text")
    except Exception as error:
        raise ValueError(f"{path.name} cannot be read as a notebook: {error}") from None
    return nb


def _chapter_of(path: Path) -> str | None:
    """The chapter a submission belongs to, from its grade ids or else its file name."""
    try:
        nb = _read_notebook(path)
    except (ValueError, OSError):
        return None
    for cell in nb.cells:
        grade_id = str(cell.get("metadata", {}).get("nbgrader", {}).get("grade_id", ""))
        match = re.match(r"ch(\d\d)_", grade_id)
        if match:
            return match.group(1)
    match = re.match(r"(\d\d)_", path.name)
    return match.group(1) if match else None


# ---------------------------------------------------------------------------- preparing a run


def _grade_id(cell: Any) -> str | None:
    grader = cell.get("metadata", {}).get("nbgrader", {}) or {}
    return str(grader["grade_id"]) if grader.get("grade") and grader.get("grade_id") else None


def prepare(submission: Any, chapter: Chapter) -> tuple[Any, dict[int, str]]:
    """The notebook to run and which cell index holds which grade id.

    The learner's cells run as written (outputs cleared); each graded cell is replaced by the
    solution's version; a deleted one is inserted after the nearest earlier cell of the solution
    that the submission still has (matched by cell id or grade id), or at the end.
    """
    import nbformat

    learner_cells = []
    for cell in submission.cells:
        cell = copy.deepcopy(cell)
        if cell.cell_type == "code":
            cell.outputs = []
            cell.execution_count = None
        learner_cells.append(cell)
    wanted = {e.grade_id: e for e in chapter.exercises}
    # Keys by which a learner cell can be recognised: its id and its nbgrader grade_id.
    position: dict[str, int] = {}
    for index, cell in enumerate(learner_cells):
        grade_id = cell.get("metadata", {}).get("nbgrader", {}).get("grade_id")
        for key in (cell.get("id"), grade_id):
            if key and str(key) not in position:
                position[str(key)] = index
    placed: dict[str, int] = {}  # grade id -> learner index it replaces
    for index, cell in enumerate(learner_cells):
        grade_id = _grade_id(cell)
        if grade_id in wanted and grade_id not in placed:
            placed[grade_id] = index
        elif grade_id is not None:
            # A copy of a graded cell, or one of another chapter: it runs as an ordinary cell.
            cell.metadata.get("nbgrader", {}).pop("grade", None)
    inserts: dict[int, list[str]] = {}  # learner index to insert after (-1: at the end)
    floor = -1  # graded cells keep the solution's order
    for sol_index, sol_cell in enumerate(chapter.cells):
        grade_id = _grade_id(sol_cell)
        if grade_id is None:
            continue
        if grade_id in placed:
            floor = max(floor, placed[grade_id])
            continue
        anchor = None
        for earlier in reversed(chapter.cells[:sol_index]):
            keys = (
                earlier.get("id"),
                earlier.get("metadata", {}).get("nbgrader", {}).get("grade_id"),
            )
            hits = [position[str(k)] for k in keys if k and str(k) in position]
            if hits:
                anchor = hits[0]
                break
        after = len(learner_cells) - 1 if anchor is None else max(anchor, floor)
        inserts.setdefault(after, []).append(grade_id)
        floor = after
    cells: list[Any] = []
    graded: dict[int, str] = {}
    replaced = {index: grade_id for grade_id, index in placed.items()}

    def add_graded(grade_id: str) -> None:
        metadata = {
            "nbgrader": {
                "grade": True,
                "grade_id": grade_id,
                "locked": True,
                "points": wanted[grade_id].points,
            }
        }
        graded[len(cells)] = grade_id
        cells.append(
            nbformat.v4.new_code_cell(
                wanted[grade_id].source, metadata=metadata, id=f"graded-{grade_id}"[:64]
            )
        )

    for grade_id in inserts.get(-1, []):
        add_graded(grade_id)
    for index, cell in enumerate(learner_cells):
        if index in replaced:
            add_graded(replaced[index])
        else:
            cells.append(cell)
        for grade_id in inserts.get(index, []):
            add_graded(grade_id)
    nb = nbformat.v4.new_notebook(
        cells=cells,
        metadata={
            "kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"}
        },
    )
    # Ids may repeat in a hand-edited submission; nbformat wants them unique.
    for index, cell in enumerate(nb.cells):
        cell["id"] = f"c{index:04d}"
    return nb, graded


# ---------------------------------------------------------------------------- running


@dataclass
class CellOutcome:
    """What happened to one cell: ok, error, timeout, died or not run."""

    status: str
    ename: str = ""
    evalue: str = ""


def _trim(text: str, limit: int = MESSAGE_CHARS) -> str:
    text = ANSI.sub("", text).strip()
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def _capped_client_class() -> type:
    from nbclient import NotebookClient

    class CappedClient(NotebookClient):  # type: ignore[misc]
        """A NotebookClient that keeps at most MAX_OUTPUT_CHARS of output per cell."""

        def reset_cell_budget(self, cell_index: int) -> None:
            budgets = self.__dict__.setdefault("_budgets", {})
            budgets[cell_index] = [0, False]

        def output(self, outs, msg, display_id, cell_index):  # type: ignore[no-untyped-def]
            budget = self.__dict__.setdefault("_budgets", {}).setdefault(cell_index, [0, False])
            content = msg.get("content", {})
            if msg["msg_type"] == "error":
                content["evalue"] = _trim(str(content.get("evalue", "")), 4000)
                content["traceback"] = [
                    _trim(str(t), 2000) for t in content.get("traceback", [])[-20:]
                ]
                return super().output(outs, msg, display_id, cell_index)
            size = len(content.get("text", "")) + sum(
                len(v) if isinstance(v, str) else len(str(v))
                for v in content.get("data", {}).values()
            )
            if budget[0] + size > MAX_OUTPUT_CHARS:
                if not budget[1]:
                    budget[1] = True
                    note = f"[output cut by the grader after {MAX_OUTPUT_CHARS} characters]\n"
                    outs.append(_stream(note))
                return None
            budget[0] += size
            return super().output(outs, msg, display_id, cell_index)

    return CappedClient


def _stream(text: str) -> Any:
    import nbformat

    return nbformat.v4.new_output("stream", name="stderr", text=text)


async def _responsive(client: Any, seconds: float) -> bool:
    """True when the kernel answers a silent, empty execution within `seconds`."""
    from jupyter_core.utils import ensure_async

    try:
        msg_id = client.kc.execute("", silent=True, store_history=False)
        deadline = time.monotonic() + seconds
        while (left := deadline - time.monotonic()) > 0:
            msg = await ensure_async(client.kc.shell_channel.get_msg(timeout=left))
            if msg["parent_header"].get("msg_id") == msg_id:
                return True
    except Exception:
        return False
    return False


async def _run(
    nb: Any, workdir: Path, cell_timeout: float, timeout: float, env: dict[str, str]
) -> tuple[list[CellOutcome | None], list[str]]:
    """Execute `nb` in place; each cell's outcome (None: not code) and the run's events."""
    client = _capped_client_class()(
        nb,
        timeout=max(1, math.ceil(cell_timeout)),
        allow_errors=True,
        interrupt_on_timeout=True,
        error_on_timeout={"ename": TIMEOUT_ENAME, "evalue": "", "traceback": []},
        kernel_name="python3",
        shutdown_kernel="immediate",
        record_timing=False,
        startup_timeout=120,
        iopub_timeout=4,
        resources={"metadata": {"path": str(workdir)}},
    )
    replies: dict[int, dict[str, Any]] = {}
    client.on_cell_executed = lambda cell, cell_index, execute_reply: replies.__setitem__(
        cell_index, execute_reply.get("content", {}) if execute_reply else {}
    )
    cells = nb.cells
    outcomes: list[CellOutcome | None] = [None] * len(cells)
    events: list[str] = []
    code = [i for i, c in enumerate(cells) if c.cell_type == "code" and c.source.strip()]
    deadline = time.monotonic() + timeout
    ran: list[int] = []  # cells that finished (with or without an error): replayed after a restart
    todo = list(code)
    restarts = 0

    def event(name: str) -> None:
        if name not in events:
            events.append(name)

    while todo:
        restart = False
        try:
            # The kernel's own stdout/stderr (not the notebook's) is noise for the instructor.
            quiet = {"stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL}
            async with client.async_setup_kernel(env=env, cwd=str(workdir), **quiet):
                for index in ran:  # bring a restarted kernel back to where it was
                    left = deadline - time.monotonic()
                    if left <= 0:
                        break
                    client.timeout = max(1, math.ceil(min(cell_timeout, left)))
                    original = cells[index]
                    client.reset_cell_budget(index)
                    try:
                        await client.async_execute_cell(copy.deepcopy(original), index)
                    finally:
                        cells[index] = original  # the replay's outputs are dropped
                    if replies.pop(index, {}).get("ename") == TIMEOUT_ENAME:
                        raise RuntimeError("a replayed cell timed out")
                while todo:
                    index = todo[0]
                    left = deadline - time.monotonic()
                    if left <= 0:
                        break
                    client.timeout = max(1, math.ceil(min(cell_timeout, left)))
                    client.reset_cell_budget(index)
                    try:
                        await client.async_execute_cell(cells[index], index)
                    except Exception as error:
                        if type(error).__name__ != "DeadKernelError":
                            raise
                        todo.pop(0)
                        outcomes[index] = CellOutcome(
                            "died",
                            "",
                            "the kernel died in this cell (os._exit, a crash or out of memory)",
                        )
                        cells[index].outputs.append(_stream("[the kernel died in this cell]\n"))
                        event("kernel died")
                        restart = True
                        break
                    todo.pop(0)
                    reply = replies.pop(index, {})
                    if reply.get("ename") == TIMEOUT_ENAME:
                        limit = client.timeout
                        outcomes[index] = CellOutcome(
                            "timeout", "Timeout", f"the cell ran longer than {limit} s"
                        )
                        cells[index].outputs.append(_stream(f"[stopped after {limit} s]\n"))
                        event("timeout" if limit >= cell_timeout else "notebook timeout")
                        if not await _responsive(client, RECOVER_SECONDS):
                            restart = True
                            break
                    elif reply.get("status") == "error":
                        outcomes[index] = CellOutcome(
                            "error", str(reply.get("ename", "")), str(reply.get("evalue", ""))
                        )
                        ran.append(index)
                    else:
                        outcomes[index] = CellOutcome("ok")
                        ran.append(index)
        except Exception as error:  # the kernel did not start, or a replay failed
            event(f"kernel error: {_trim(str(error), 120)}")
            break
        if deadline - time.monotonic() <= 0:
            event("notebook timeout")
            break
        if restart:
            restarts += 1
            if restarts > MAX_RESTARTS:
                event("too many restarts")
                break
    for index in todo:
        outcomes[index] = CellOutcome("not run")
    return outcomes, events


# ---------------------------------------------------------------------------- grading


@dataclass
class ExerciseResult:
    """One graded cell's score."""

    grade_id: str
    points: float
    max_points: float
    status: str  # pass, fail, not done, error, timeout, kernel died, not run
    message: str = ""


@dataclass
class LearnerResult:
    """One learner's grades, the run's status and what else went wrong."""

    learner: str
    status: str
    exercises: list[ExerciseResult]
    other_errors: list[str] = field(default_factory=list)
    seconds: float = 0.0
    notebook: Any = None  # the executed notebook (outputs capped), for inspection
    notebook_ran: bool = True

    @property
    def score(self) -> float:
        return sum(e.points for e in self.exercises)

    @property
    def max_score(self) -> float:
        return sum(e.max_points for e in self.exercises)


@dataclass(frozen=True)
class GradeOptions:
    """Limits and environment of one grading run."""

    cell_timeout: float = 60.0
    timeout: float = 600.0
    threads: int | None = None  # BLAS/torch threads per kernel (None: leave as is)


def _kernel_env(options: GradeOptions) -> dict[str, str]:
    env = dict(os.environ)
    env["COURSE_LIB_GRADING"] = "1"
    env.setdefault("MPLBACKEND", "agg")
    env["PYDEVD_DISABLE_FILE_VALIDATION"] = "1"
    if options.threads:
        for name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
            env.setdefault(name, str(options.threads))
    return env


def _nothing(chapter: Chapter, status: str) -> list[ExerciseResult]:
    return [ExerciseResult(e.grade_id, 0.0, e.points, status) for e in chapter.exercises]


def grade_submission(
    submission: Submission, chapter: Chapter, options: GradeOptions
) -> LearnerResult:
    """Run one submission in a fresh kernel and score it (never writes to the submission)."""
    start = time.monotonic()
    if submission.path is None:
        result = LearnerResult(submission.learner, submission.problem, _nothing(chapter, "not run"))
        result.notebook_ran = False
        return result
    try:
        learner_nb = _read_notebook(submission.path)
    except (ValueError, OSError) as error:
        status = "too large" if "larger than" in str(error) else "not a notebook"
        result = LearnerResult(submission.learner, status, _nothing(chapter, "not run"))
        result.other_errors.append(_trim(str(error)))
        result.notebook_ran = False
        return result
    nb, graded = prepare(learner_nb, chapter)
    with tempfile.TemporaryDirectory(prefix="course-grade-", ignore_cleanup_errors=True) as tmp:
        workdir = Path(tmp) / "work"
        workdir.mkdir()
        import nbformat

        (Path(tmp) / "submission.ipynb").write_text(nbformat.writes(nb), encoding="utf-8")
        outcomes, events = asyncio.run(
            _run(nb, workdir, options.cell_timeout, options.timeout, _kernel_env(options))
        )
    points = {e.grade_id: e.points for e in chapter.exercises}
    by_id: dict[str, ExerciseResult] = {}
    for index, grade_id in graded.items():
        outcome = outcomes[index] or CellOutcome("not run")
        if outcome.status == "ok":
            by_id[grade_id] = ExerciseResult(grade_id, points[grade_id], points[grade_id], "pass")
            continue
        status = {"error": "error", "timeout": "timeout", "died": "kernel died"}.get(
            outcome.status, "not run"
        )
        if outcome.ename == "CheckFailed":
            status, message = "fail", outcome.evalue
        elif outcome.ename == "NotDone":
            status, message = "not done", outcome.evalue
        elif outcome.ename:
            message = f"{outcome.ename}: {outcome.evalue}" if outcome.evalue else outcome.ename
        else:
            message = outcome.evalue
        by_id[grade_id] = ExerciseResult(grade_id, 0.0, points[grade_id], status, _trim(message))
    other = []
    for index, outcome in enumerate(outcomes):
        if index in graded or outcome is None or outcome.status in ("ok", "not run"):
            continue
        if outcome.ename == "NotImplementedError":  # an unsolved exercise used later on
            continue
        first = next((ln.strip() for ln in nb.cells[index].source.split("\n") if ln.strip()), "")
        what = f"{outcome.ename}: {outcome.evalue}" if outcome.evalue else outcome.ename
        other.append(_trim(f"cell {index + 1} (`{_trim(first, 60)}`): {what}", 300))
    exercises = [by_id[e.grade_id] for e in chapter.exercises]
    status = "; ".join(events) if events else "ok"
    return LearnerResult(submission.learner, status, exercises, other, time.monotonic() - start, nb)


def _grade_worker(args: tuple[Submission, Chapter, GradeOptions]) -> LearnerResult:
    result = grade_submission(*args)
    result.notebook = None  # not worth sending back between processes
    return result


def grade_all(
    submissions: list[Submission],
    chapter: Chapter,
    options: GradeOptions,
    jobs: int = 1,
    progress: bool = True,
) -> list[LearnerResult]:
    """Grade every submission, `jobs` at a time in separate processes; results sorted by learner."""
    results: list[LearnerResult] = []

    def report(result: LearnerResult) -> None:
        results.append(result)
        if progress:
            print(
                f"{result.learner}: {result.score:g}/{result.max_score:g} {result.status} "
                f"({result.seconds:.1f} s)",
                file=sys.stderr,
            )

    if jobs <= 1:
        for submission in submissions:
            report(grade_submission(submission, chapter, options))
    else:
        with ProcessPoolExecutor(max_workers=jobs, mp_context=get_context("spawn")) as pool:
            futures = {pool.submit(_grade_worker, (s, chapter, options)): s for s in submissions}
            for future, submission in futures.items():
                try:
                    report(future.result())
                except Exception as error:  # a worker process died: that learner is not graded
                    problem = f"grader error: {_trim(str(error) or type(error).__name__, 120)}"
                    nothing = _nothing(chapter, "not run")
                    report(LearnerResult(submission.learner, problem, nothing))
    return sorted(results, key=lambda r: r.learner)


# ---------------------------------------------------------------------------- writing


def _number(value: float) -> str:
    return f"{value:g}"


def _cell_text(text: str) -> str:
    # A learner id is a file name; keep spreadsheets from reading it as a formula.
    return "'" + text if text[:1] in ("=", "+", "-", "@") else text


def grades_csv(results: list[LearnerResult], chapter: Chapter) -> str:
    """The grade sheet: one row per learner, a column per grade id, score, max_score, status."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    ids = [e.grade_id for e in chapter.exercises]
    writer.writerow(["student_id", "assignment", *ids, "score", "max_score", "status"])
    for result in sorted(results, key=lambda r: r.learner):
        points = {e.grade_id: e.points for e in result.exercises}
        writer.writerow(
            [
                _cell_text(result.learner),
                chapter.name,
                *(_number(points[i]) for i in ids),
                _number(result.score),
                _number(result.max_score),
                result.status,
            ]
        )
    return buffer.getvalue()


def feedback_markdown(result: LearnerResult, chapter: Chapter) -> str:
    """One learner's feedback: each exercise, its points, and the failing check's message."""
    lines = [
        f"# Feedback: {result.learner}, chapter {chapter.name}",
        "",
        f"Score: **{_number(result.score)} / {_number(result.max_score)}**"
        + ("" if result.status == "ok" else f" (run: {result.status})"),
        "",
        "| exercise | points | result |",
        "|---|---|---|",
    ]
    for e in result.exercises:
        lines.append(
            f"| {e.grade_id} | {_number(e.points)} / {_number(e.max_points)} | {e.status} |"
        )
    for e in result.exercises:
        if e.message:
            lines += [
                "",
                f"## {e.grade_id}: {e.status}",
                "",
                "```",
                e.message.replace("```", "'''"),
                "```",
            ]
    if result.other_errors:
        title = "Other cells that raised an error" if result.notebook_ran else "Problems"
        lines += ["", f"## {title}", ""]
        lines += [f"- {text}" for text in result.other_errors[:10]]
        if len(result.other_errors) > 10:
            lines.append(f"- ... and {len(result.other_errors) - 10} more")
    return "\n".join(lines) + "\n"


def _write_atomically(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, temp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temp, path)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise


# ---------------------------------------------------------------------------- command line


def _default_solutions() -> Path:
    here = Path.cwd() / "solutions"
    return here if here.is_dir() else Path(__file__).resolve().parents[1] / "solutions"


def _pick_chapter(submissions: list[Submission]) -> str:
    chapters = sorted({c for s in submissions if s.path and (c := _chapter_of(s.path))})
    if len(chapters) == 1:
        return chapters[0]
    if not chapters:
        raise GradingError("cannot tell which chapter these submissions are; pass --chapter NN.")
    raise GradingError(f"submissions of several chapters {chapters}; grade one with --chapter NN.")


def main(argv: list[str] | None = None) -> int:
    """Command line: grade submissions, write the grade sheet and the feedback."""
    parser = argparse.ArgumentParser(
        prog="python -m course_lib.grade",
        description="Grade learners' chapter notebooks: grades.csv and per-learner feedback.",
    )
    parser.add_argument(
        "submissions",
        nargs="+",
        type=Path,
        help=".ipynb files, folders holding one notebook, or folders of those",
    )
    parser.add_argument("--chapter", help="chapter number, e.g. 01 (default: from the notebooks)")
    parser.add_argument(
        "--solutions",
        type=Path,
        default=None,
        help="folder of NN_*.py solution notebooks (default: ./solutions)",
    )
    parser.add_argument(
        "--tests",
        type=Path,
        default=None,
        help="folder of private tests, one <grade_id>.py per graded cell",
    )
    parser.add_argument(
        "--timeout", type=float, default=600.0, help="seconds for a whole notebook (default 600)"
    )
    parser.add_argument(
        "--cell-timeout", type=float, default=60.0, help="seconds for one cell (default 60)"
    )
    parser.add_argument("--jobs", type=int, default=1, help="notebooks graded in parallel")
    parser.add_argument("--out", type=Path, default=Path("grades.csv"), help="the grade sheet")
    parser.add_argument(
        "--feedback", type=Path, default=None, help="folder for one <learner>.md feedback file each"
    )
    parser.add_argument("--quiet", action="store_true", help="no progress lines")
    args = parser.parse_args(argv)
    try:
        if args.jobs < 1 or args.timeout <= 0 or args.cell_timeout <= 0:
            raise GradingError("--jobs, --timeout and --cell-timeout must be positive.")
        if args.chapter is not None and not re.fullmatch(r"\d\d", args.chapter):
            if re.fullmatch(r"\d", args.chapter):
                args.chapter = "0" + args.chapter
            else:
                raise GradingError(f"--chapter {args.chapter!r}: give the number, e.g. 01.")
        submissions = find_submissions(args.submissions, args.chapter)
        if not submissions:
            raise GradingError("no submissions found in the given paths.")
        chapter_number = args.chapter or _pick_chapter(submissions)
        solutions = args.solutions or _default_solutions()
        if not solutions.is_dir():
            raise GradingError(f"{solutions} is not a folder; pass --solutions DIR.")
        chapter = load_chapter(solutions, chapter_number, args.tests)
    except (GradingError, ValueError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    threads = max(1, (os.cpu_count() or 1) // args.jobs) if args.jobs > 1 else None
    options = GradeOptions(args.cell_timeout, args.timeout, threads)
    results = grade_all(submissions, chapter, options, args.jobs, progress=not args.quiet)
    _write_atomically(args.out, grades_csv(results, chapter))
    if args.feedback is not None:
        for result in results:
            _write_atomically(
                args.feedback / f"{result.learner}.md", feedback_markdown(result, chapter)
            )
    if not args.quiet:
        print(f"wrote {args.out} ({len(results)} learners)", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
