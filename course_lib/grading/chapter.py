"""The instructor's copy of a chapter, as the grader runs it.

A chapter is read from `solutions/NN_topic.py` and becomes a list of steps: ordinary cells (run
as the learner's chapter has them, exercise stubs included), answer cells (the code cells holding
`### BEGIN SOLUTION`: the only cells taken from a submission) and checks (the graded cells: never
run in the kernel; the grader runs the check's `Exercise` in its own process instead). Each
check's hidden tests and an instructor's private tests are code run by the grader too, with the
learner's functions as `RemoteFunction`s. The grading kernel cannot import the check modules:
the chapter's own cells run there without their imports of the checks (`kernel_cell`), and each
exercise's reference is bound from code that does not need them (`Graded.binding`).
"""

from __future__ import annotations

import ast
import hashlib
import importlib
import inspect
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from course_lib.checks import Exercise
from course_lib.grading.references import (
    HIDDEN_PACKAGE,
    UnshippableReference,
    binding_code,
    is_hidden,
    reference_binding,
)

__all__ = [
    "Chapter",
    "Graded",
    "GradingError",
    "Step",
    "chapter_fingerprint",
    "hidden_properties",
    "load_chapter",
]

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
    check_module: str  # import path of the check module (never imported in the kernel)
    check_attr: str  # the Exercise's name in that module
    hidden: str = ""  # hidden tests (grader-side code)
    private: str = ""  # the instructor's private tests (grader-side code)
    binding: str = ""  # kernel code binding `name` to the reference, without the check module


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
    kernel: str = ""  # what the grading kernel runs instead of `source` (no check imports)

    @property
    def code(self) -> str:
        """The code the grading kernel runs for this cell."""
        return self.kernel or self.source


@dataclass(frozen=True)
class Chapter:
    """A chapter ready to grade: its steps and its graded exercises, in order."""

    name: str  # e.g. "01_vocabulary"
    steps: tuple[Step, ...]
    graded: tuple[Graded, ...]
    check_sources: dict[str, str]  # grade_id -> the check cell as learners have it
    extra_paths: tuple[Path, ...] = ()  # none: the kernel never imports the check module
    written: tuple[Written, ...] = ()
    columns: tuple[str, ...] = ()  # every grade id, checks and written answers, in order
    hidden: tuple[str, ...] = (HIDDEN_PACKAGE,)  # modules the grading kernel cannot import

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
    hiding = hidden_modules(module.__name__)
    dropped: set[str] = set()  # names the chapter binds to a check module
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
            try:
                binding = reference_binding(call["name"], exercise.reference, hiding)
            except UnshippableReference as error:
                raise GradingError(
                    f"{where}: the reference of {grade_id} cannot be sent to the grading kernel "
                    f"without its check module: {error}"
                ) from None
            graded.append(
                Graded(
                    grade_id,
                    call["name"],
                    float(grader.get("points", exercise.points)),
                    exercise,
                    module.__name__,
                    call["attr"],
                    hidden,
                    binding=binding,
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
            kernel = kernel_cell(learner, hiding, where, dropped)
            steps.append(Step("cell", cell.id, learner, kernel=kernel if kernel != learner else ""))
    if not graded:
        raise GradingError(f"{path} has no graded cells (nbgrader grade: true); nothing to grade.")
    graded = _with_private_tests(graded, tests, path)
    return Chapter(
        path.stem,
        tuple(steps),
        tuple(graded),
        check_sources,
        (),
        tuple(written),
        tuple(columns),
        hiding,
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
                g.binding,
            )
        )
    return out


def hidden_modules(check_module: str) -> tuple[str, ...]:
    """What the grading kernel may not import: `course_lib.checks`, and a check module of the
    instructor's own outside it with its whole top-level package."""
    if is_hidden(check_module, (HIDDEN_PACKAGE,)):
        return (HIDDEN_PACKAGE,)
    return (HIDDEN_PACKAGE, check_module.split(".")[0])


def kernel_cell(
    source: str, hidden: tuple[str, ...], where: object = "a cell", dropped: set[str] | None = None
) -> str:
    """An instructor's cell as the grading kernel runs it, where the check modules (`hidden`)
    cannot be imported: their imports are left out (`from course_lib import checks, dna` keeps
    `dna`), a function imported from them (`from course_lib.checks.ch03 import
    reference_merge_heads as merge_heads`) is bound from its source, and a statement that only
    calls on a check module (`checks.summary()`) is left out. A cell that uses a check module in
    any other way cannot be graded: `GradingError` says where. `dropped` (names bound to a check
    module by earlier cells) grows with this cell's."""
    dropped = set() if dropped is None else dropped
    try:
        tree = ast.parse(source)
    except SyntaxError:  # IPython syntax (magics): it must not name a check module at all
        if any(name.split(".")[-1] in source for name in hidden):
            raise GradingError(
                f"{where}: a cell with IPython syntax names a check module; the grading kernel "
                "cannot import it. Move the import into a cell of plain Python."
            ) from None
        return source
    edits: list[tuple[ast.stmt, str]] = []
    for stmt in tree.body:
        if isinstance(stmt, ast.Import):
            kept = [a for a in stmt.names if not is_hidden(a.name, hidden)]
            for a in stmt.names:
                if a not in kept:
                    dropped.add(a.asname or a.name.split(".")[0])
            if len(kept) != len(stmt.names):
                edits.append((stmt, ast.unparse(ast.Import(kept)) if kept else "pass"))
        elif isinstance(stmt, ast.ImportFrom) and stmt.level == 0 and stmt.module:
            kept, binds = [], []
            for a in stmt.names:
                target = a.asname or a.name
                if is_hidden(stmt.module, hidden):
                    if a.name == "*":
                        raise GradingError(f"{where}: `from {stmt.module} import *` while grading")
                    value = getattr(importlib.import_module(stmt.module), a.name, None)
                    if value is None or inspect.ismodule(value):
                        dropped.add(target)
                        continue
                    try:
                        binds.append(binding_code(target, value, hidden))
                    except UnshippableReference as error:
                        raise GradingError(f"{where}: {error}") from None
                elif is_hidden(f"{stmt.module}.{a.name}", hidden):
                    dropped.add(target)
                else:
                    kept.append(a)
            if len(kept) != len(stmt.names):
                if kept:
                    binds.insert(0, ast.unparse(ast.ImportFrom(stmt.module, kept, 0)))
                edits.append((stmt, "; ".join(binds) or "pass"))
        elif isinstance(stmt, ast.Expr) and _names(stmt) & dropped:
            edits.append((stmt, "pass"))
    lines = source.encode("utf-8").split(b"\n")
    for stmt, text in sorted(edits, key=lambda e: (e[0].lineno, e[0].col_offset), reverse=True):
        first, last = stmt.lineno - 1, (stmt.end_lineno or stmt.lineno) - 1
        head = lines[first][: stmt.col_offset]
        tail = lines[last][stmt.end_col_offset or 0 :]
        lines[first : last + 1] = [head + text.encode("utf-8") + tail]
    out = b"\n".join(lines).decode("utf-8") if edits else source
    left = ast.parse(out)
    for node in ast.walk(left):
        names = {a.name for a in getattr(node, "names", []) if isinstance(node, ast.Import)}
        module = getattr(node, "module", None) if isinstance(node, ast.ImportFrom) else None
        if any(is_hidden(n, hidden) for n in names) or (module and is_hidden(module, hidden)):
            raise GradingError(f"{where}: imports a check module inside a block; grading cannot")
    if _names(left) & dropped:
        raise GradingError(
            f"{where}: uses {sorted(_names(left) & dropped)} outside a check cell; the grading "
            "kernel has no check module."
        )
    return out


def _names(tree: ast.AST) -> set[str]:
    return {n.id for n in ast.walk(tree) if isinstance(n, ast.Name)}


KINDS = (("hidden", "hidden tests"), ("private", "private tests"))


def hidden_properties(graded: Graded) -> list[tuple[str, str, str]]:
    """(name, code, label) of each hidden property of an exercise, in the order they run:
    its hidden tests, then the instructor's private tests (only those that exist)."""
    found = []
    for attribute, label in KINDS:
        code = getattr(graded, attribute)
        if code.strip():
            found.append((f"{graded.grade_id}: {label}", code, label[:-1]))
    return found


def chapter_fingerprint(chapter: Chapter) -> str:
    """A hash of what decides the grades: every step's code, every exercise's points, hidden
    and private tests, check and written questions. Two runs on different solutions or tests
    differ here."""
    parts: list[Any] = [chapter.name, list(chapter.grade_ids)]
    parts += [[s.kind, s.cell_id, s.source, s.solution, s.grade_id] for s in chapter.steps]
    parts += [
        [g.grade_id, g.name, g.points, g.check_module, g.check_attr, g.hidden, g.private]
        for g in chapter.graded
    ]
    parts += [[w.grade_id, w.points, w.question] for w in chapter.written]
    text = json.dumps(parts, ensure_ascii=False, sort_keys=True)
    return hashlib.sha256(text.encode("utf-8", "surrogateescape")).hexdigest()
