"""The instructor's copy of a chapter, as the grader runs it.

A chapter is read from `solutions/NN_topic.py` and becomes a list of steps: ordinary cells (run
as the learner's chapter has them, exercise stubs included), answer cells (the code cells holding
`### BEGIN SOLUTION`: the only cells taken from a submission) and checks (the graded cells: never
run in the kernel; the grader runs the check's `Exercise` in its own process instead). Each
check's hidden tests and an instructor's private tests are code run by the grader too, with the
learner's functions as `RemoteFunction`s.
"""

from __future__ import annotations

import ast
import importlib
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from course_lib.checks import Exercise

__all__ = ["Chapter", "Graded", "GradingError", "Step", "load_chapter"]

CHECK_IMPORT = re.compile(
    r"^[ \t]*(?:from[ \t]+(?P<package>[\w.]+)[ \t]+import[ \t]+(?P<module>\w+)"
    r"|import[ \t]+(?P<plain>[\w.]+))[ \t]+as[ \t]+check[ \t]*$",
    re.MULTILINE,
)
CHECK_CALL = re.compile(r"^(?P<name>\w+)[ \t]*=[ \t]*check\.(?P<attr>\w+)\([ \t]*(?P=name)[ \t]*\)")
HIDDEN = re.compile(
    r"^[ \t]*### BEGIN HIDDEN TESTS[ \t]*\n(.*?)^[ \t]*### END HIDDEN TESTS", re.M | re.S
)


class GradingError(ValueError):
    """The grading run cannot start (bad arguments, a broken solution); the message says why."""


@dataclass(frozen=True)
class Graded:
    """One graded exercise: its check, the function it tests and its tests beyond the check."""

    grade_id: str
    name: str  # the function the check tests, as the notebook names it
    points: float  # from the cell's nbgrader metadata (the check's parts are scaled to it)
    exercise: Exercise
    check_module: str  # import path of the check module, for binding the reference
    check_attr: str  # the Exercise's name in that module
    hidden: str = ""  # hidden tests (grader-side code)
    private: str = ""  # the instructor's private tests (grader-side code)


@dataclass(frozen=True)
class Written:
    """A written answer (a graded Markdown cell): collected for the instructor, marked by hand."""

    grade_id: str
    points: float
    question: str  # the Markdown cell before it, for the collected answers' file


@dataclass(frozen=True)
class Step:
    """A cell of the chapter: "cell" (instructor's), "answer" (learner's) or "check"."""

    kind: str
    cell_id: str
    source: str  # the learner version of the cell (a stub for an answer)
    grade_id: str | None = None  # the exercise an answer or a check belongs to
    defines: tuple[str, ...] = ()  # top-level functions an answer cell defines
    solution: str = ""  # an answer cell as solutions/ has it (to time the solved chapter)


@dataclass(frozen=True)
class Chapter:
    """A chapter ready to grade: its steps and its graded exercises, in order."""

    name: str  # e.g. "01_vocabulary"
    steps: tuple[Step, ...]
    graded: tuple[Graded, ...]
    check_sources: dict[str, str]  # grade_id -> the check cell as learners have it
    extra_paths: tuple[Path, ...] = ()  # import folders of a check module outside course_lib
    written: tuple[Written, ...] = ()
    columns: tuple[str, ...] = ()  # every grade id, checks and written answers, in order

    @property
    def max_score(self) -> float:
        return sum(g.points for g in self.graded) + sum(w.points for w in self.written)

    @property
    def grade_ids(self) -> list[str]:
        return list(self.columns) or [g.grade_id for g in self.graded]

    def by_id(self, grade_id: str) -> Graded:
        return next(g for g in self.graded if g.grade_id == grade_id)


def defined_functions(source: str) -> tuple[str, ...]:
    """Names of the top-level functions `source` defines (none when it does not parse)."""
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return ()
    return tuple(
        n.name for n in tree.body if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))
    )


def solution_file(solutions: Path, chapter: str) -> Path:
    """`solutions/NN_*.py` (or `.ipynb`) of chapter `NN`."""
    candidates = sorted(solutions.glob(f"{chapter}_*.py")) or sorted(
        solutions.glob(f"{chapter}_*.ipynb")
    )
    if not candidates:
        found = sorted(p.name for p in solutions.glob("[0-9][0-9]_*.py"))
        raise GradingError(
            f"no solution notebook for chapter {chapter} in {solutions} "
            f"(found: {found or 'none'}); pass --solutions DIR or a --chapter that exists."
        )
    return candidates[0]


def _check_module(code: str, path: Path) -> Any:
    match = CHECK_IMPORT.search(code)
    if match is None:
        raise GradingError(f"{path} never imports its checks `as check`; nothing to grade with.")
    name = match["plain"] or f"{match['package']}.{match['module']}"
    try:
        return importlib.import_module(name)
    except ImportError as error:
        raise GradingError(f"{path}: cannot import its check module {name!r}: {error}") from None


def load_chapter(solutions: Path, chapter: str, tests: Path | None = None) -> Chapter:
    """Chapter `chapter` ("01") from `solutions/`, with private tests from `tests/<grade_id>.py`."""
    from course_lib import notebooks

    path = solution_file(solutions, chapter)
    try:
        nb = notebooks.read_solution(path)
    except notebooks.NotebookSourceError as error:
        raise GradingError(str(error)) from None
    code = "\n".join(c.source for c in nb.cells if c.cell_type == "code")
    module = _check_module(code, path)
    graded: list[Graded] = []
    steps: list[Step] = []
    check_sources: dict[str, str] = {}
    pending_answers: list[int] = []  # answer steps waiting for the check that follows them
    written: list[Written] = []
    columns: list[str] = []
    previous = ""
    for index, cell in enumerate(nb.cells):
        if cell.cell_type == "markdown" and cell.metadata.get("nbgrader", {}).get("grade"):
            grader = cell.metadata["nbgrader"]
            written.append(Written(str(grader["grade_id"]), float(grader["points"]), previous))
            columns.append(str(grader["grade_id"]))
            continue
        if cell.cell_type != "code":
            previous = cell.source
            continue
        where = notebooks.Where(path, index, cell.source.strip().split("\n")[0][:60])
        learner = notebooks.learner_source(cell.source, "code", where)
        grader = cell.metadata.get("nbgrader", {})
        if grader.get("grade"):
            grade_id = str(grader["grade_id"])
            call = CHECK_CALL.search(learner)
            if call is None:
                raise GradingError(
                    f"{where}: a graded cell must read `name = check.name(name)`; got {learner!r}"
                )
            exercise = getattr(module, call["attr"], None)
            if not isinstance(exercise, Exercise) or exercise.grade_id != grade_id:
                raise GradingError(
                    f"{where}: check.{call['attr']} is not the check of {grade_id!r} in "
                    f"{module.__name__}."
                )
            hidden = "\n".join(m.group(1) for m in HIDDEN.finditer(cell.source))
            graded.append(
                Graded(
                    grade_id,
                    call["name"],
                    float(grader.get("points", exercise.points)),
                    exercise,
                    module.__name__,
                    call["attr"],
                    hidden,
                )
            )
            check_sources[grade_id] = learner
            columns.append(grade_id)
            for i in pending_answers:
                s = steps[i]
                steps[i] = Step("answer", s.cell_id, s.source, grade_id, s.defines, s.solution)
            pending_answers = []
            steps.append(Step("check", cell.id, learner, grade_id))
        elif notebooks.BEGIN_SOLUTION in cell.source:
            pending_answers.append(len(steps))
            defines = defined_functions(cell.source)
            steps.append(Step("answer", cell.id, learner, None, defines, cell.source))
        elif learner.strip():
            steps.append(Step("cell", cell.id, learner))
    if not graded:
        raise GradingError(f"{path} has no graded cells (nbgrader grade: true); nothing to grade.")
    graded = _with_private_tests(graded, tests, path)
    extra: tuple[Path, ...] = ()
    module_file = Path(getattr(module, "__file__", "") or "")
    package = Path(importlib.import_module("course_lib").__file__).parent
    if module_file.name and package not in module_file.resolve().parents:
        extra = (module_file.resolve().parent,)
    return Chapter(
        path.stem, tuple(steps), tuple(graded), check_sources, extra, tuple(written), tuple(columns)
    )


def _with_private_tests(graded: list[Graded], tests: Path | None, path: Path) -> list[Graded]:
    if tests is None:
        return graded
    if not tests.is_dir():
        raise GradingError(f"--tests {tests} is not a folder of <grade_id>.py files.")
    found = {p.stem: p.read_text(encoding="utf-8") for p in sorted(tests.glob("*.py"))}
    ids = [g.grade_id for g in graded]
    unknown = sorted(set(found) - set(ids))
    if unknown:
        raise GradingError(
            f"private tests {unknown} in {tests} match no graded cell of {path.name}; "
            f"its grade ids are {ids}."
        )
    out = []
    for g in graded:
        text = found.get(g.grade_id, "")
        if text:
            try:
                compile(text, f"{tests}/{g.grade_id}.py", "exec")
            except SyntaxError as error:
                raise GradingError(
                    f"private test {g.grade_id}.py does not parse: {error}"
                ) from None
        out.append(
            Graded(
                g.grade_id,
                g.name,
                g.points,
                g.exercise,
                g.check_module,
                g.check_attr,
                g.hidden,
                text,
            )
        )
    return out
