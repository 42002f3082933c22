"""Finding learners' notebooks, reading them, and taking their answer cells.

The rule an instructor can predict: every path given is a notebook (one learner, named by the
file) or a folder of submissions, in which each `.ipynb` file is one learner (named by the file)
and each sub-folder is one learner (named by the folder) whose notebook is the one `.ipynb` inside
it (when there are several, the one whose name starts with the chapter number). Nothing else in a
folder counts: `notes.txt` beside `alice.ipynb` changes nothing.

Only regular files count, and a link is never followed: a submission that is a symbolic link
(into the instructor's tree, to another learner's notebook, to any file), a folder that is one, or
a FIFO or device file gets a status that says so and is not read. No message ever quotes what a
file holds.
"""

from __future__ import annotations

import ast
import errno
import hashlib
import json
import os
import re
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from course_lib.grading.chapter import Chapter, GradingError, defined_functions

__all__ = [
    "Submission",
    "answers_of",
    "find_submissions",
    "learner_name",
    "nbgrader",
    "other_chapter",
    "read_bytes_safely",
    "read_notebook",
]

MAX_SUBMISSION_BYTES = 100 * 2**20


@dataclass(frozen=True)
class Submission:
    """One learner's notebook (or the reason there is none to run)."""

    learner: str
    path: Path | None
    problem: str = ""  # a status when there is nothing to run


def _visible(path: Path) -> bool:
    return not path.name.startswith(".") and path.name not in ("__pycache__", ".ipynb_checkpoints")


def _kind(path: Path) -> str:
    """ "file", "dir", "link" or "special" for what `path` itself is (links are not followed)."""
    try:
        mode = path.lstat().st_mode
    except OSError:
        return "special"
    if stat.S_ISLNK(mode):
        return "link"
    if stat.S_ISDIR(mode):
        return "dir"
    return "file" if stat.S_ISREG(mode) else "special"


def _problem(kind: str) -> str:
    return {
        "link": "a symbolic link (not followed, not graded)",
        "special": "not a regular file (not read)",
    }[kind]


def learner_name(raw: str) -> str:
    """A learner id as text: bytes that are not UTF-8 shown as \\xNN, control characters escaped;
    an id that had to be escaped ends in `~` and a short hash of the name, so it stays unique."""
    text = raw.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
    text = "".join(c if c.isprintable() else c.encode("unicode_escape").decode() for c in text)
    if text == raw:
        return text
    digest = hashlib.sha256(raw.encode("utf-8", "surrogateescape")).hexdigest()[:6]
    return f"{text}~{digest}"


def _notebooks_in(folder: Path) -> tuple[list[Path], list[Path]]:
    """The `.ipynb` regular files under `folder` without following any link, and the links or
    special files named `.ipynb` met on the way."""
    found: list[Path] = []
    odd: list[Path] = []
    for root, dirs, files in os.walk(folder, followlinks=False):
        here = Path(root)
        dirs[:] = sorted(d for d in dirs if _visible(here / d) and _kind(here / d) == "dir")
        for name in sorted(files):
            path = here / name
            if not name.endswith(".ipynb") or not _visible(path):
                continue
            (found if _kind(path) == "file" else odd).append(path)
    return sorted(found), sorted(odd)


def _folder_submission(folder: Path, chapter: str | None) -> Submission:
    learner = learner_name(folder.name)
    notebooks, odd = _notebooks_in(folder)
    if odd and not notebooks:
        return Submission(learner, None, _problem(_kind(odd[0])))
    if chapter is not None and len(notebooks) > 1:
        matching = [p for p in notebooks if p.name.startswith(f"{chapter}_")]
        notebooks = matching if len(matching) == 1 else notebooks
    if not notebooks:
        return Submission(learner, None, "no notebook")
    if len(notebooks) > 1:
        names = ", ".join(learner_name(str(p.relative_to(folder)))[:80] for p in notebooks[:5])
        return Submission(learner, None, f"several notebooks ({names})")
    return Submission(learner, notebooks[0])


def find_submissions(paths: list[Path], chapter: str | None = None) -> list[Submission]:
    """Every submission under `paths`, sorted by learner id."""
    found: list[Submission] = []
    for path in paths:
        kind = _kind(path)
        if kind in ("file", "link", "special") and path.suffix == ".ipynb":
            # A notebook named on the command line: still never a link or a special file.
            problem = "" if kind == "file" else _problem(kind)
            found.append(Submission(learner_name(path.stem), None if problem else path, problem))
        elif kind == "file" or (kind != "dir" and path.exists()):
            raise GradingError(f"{path} is not a notebook (.ipynb); pass notebooks or folders.")
        elif path.is_dir():  # the folder you name may be a link; nothing inside it is followed
            for child in sorted(p for p in path.iterdir() if _visible(p)):
                child_kind = _kind(child)
                if child.suffix == ".ipynb" and child_kind != "dir":
                    problem = "" if child_kind == "file" else _problem(child_kind)
                    submission = Submission(
                        learner_name(child.stem), None if problem else child, problem
                    )
                    found.append(submission)
                elif child_kind == "dir":
                    found.append(_folder_submission(child, chapter))
                elif child_kind == "link" and child.is_dir():
                    found.append(Submission(learner_name(child.name), None, _problem("link")))
        else:
            raise GradingError(f"{path} does not exist; pass notebooks or folders of them.")
    by_id: dict[str, Submission] = {}
    twice: set[str] = set()
    for submission in found:
        if submission.learner in by_id:
            twice.add(submission.learner)  # alice.ipynb beside a folder alice/: neither is run
        by_id[submission.learner] = submission
    for learner in twice:
        by_id[learner] = Submission(learner, None, "two submissions with this id (not run)")
    return [by_id[key] for key in sorted(by_id)]


def read_bytes_safely(path: Path, limit: int = MAX_SUBMISSION_BYTES) -> bytes:
    """The bytes of the regular file `path`, never through a link and never blocking on a FIFO;
    ValueError (with no word of the file's content) otherwise."""
    flags = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0)
    try:
        fd = os.open(path, flags)
    except OSError as error:
        if error.errno == errno.ELOOP:
            raise ValueError("the submission is a symbolic link (not followed)") from None
        code = errno.errorcode.get(error.errno or 0, "error")
        raise ValueError(f"the submission cannot be opened ({code})") from None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise ValueError("the submission is not a regular file")
        if info.st_size > limit:
            raise ValueError(f"the submission is larger than {limit // 2**20} MB")
        chunks, size = [], 0
        while chunk := os.read(fd, 1 << 20):
            size += len(chunk)
            if size > limit:
                raise ValueError(f"the submission is larger than {limit // 2**20} MB")
            chunks.append(chunk)
        return b"".join(chunks)
    finally:
        os.close(fd)


def _why_not(error: Exception) -> str:
    """Why a file is not a notebook, without quoting any of it."""
    if isinstance(error, UnicodeDecodeError):
        return f"it is not UTF-8 text (byte {error.start})"
    if isinstance(error, json.JSONDecodeError):
        return f"it is not JSON (line {error.lineno}, column {error.colno})"
    if isinstance(error, RecursionError):
        return "its JSON is nested too deeply"
    return f"its structure is not a notebook's ({type(error).__name__})"


def _clean(nb: Any) -> Any:
    """The notebook with every cell's parts of the expected types: metadata a dict, nbgrader
    metadata a dict (or gone), source text, an id that is a string (or none)."""
    if not isinstance(nb.get("cells"), list):
        raise ValueError("no list of cells")
    for cell in nb["cells"]:
        if not isinstance(cell, dict):
            raise ValueError("a cell is not an object")
        if cell.get("cell_type") not in ("code", "markdown", "raw"):
            raise ValueError("a cell of unknown type")
        if not isinstance(cell.get("source", ""), str):
            raise ValueError("a cell's source is not text")
        if not isinstance(cell.get("metadata"), dict):
            cell["metadata"] = type(nb)() if isinstance(nb, dict) else {}
        grader = cell["metadata"].get("nbgrader")
        if grader is not None and not isinstance(grader, dict):
            del cell["metadata"]["nbgrader"]
        if "id" in cell and not isinstance(cell["id"], str):
            del cell["id"]
    return nb


def read_notebook(path: Path) -> Any:
    """The submission as an nbformat notebook; raises ValueError with the reason otherwise (the
    reason never quotes the file)."""
    import nbformat

    data = read_bytes_safely(path)
    try:
        raw = json.loads(data.decode("utf-8"))
        if isinstance(raw, dict) and isinstance(raw.get("cells"), list):
            for cell in raw["cells"]:  # metadata of the wrong type is set aside, not fatal
                if isinstance(cell, dict) and not isinstance(cell.get("metadata", {}), dict):
                    cell["metadata"] = {}
                if isinstance(cell, dict) and not isinstance(cell.get("id", ""), str):
                    del cell["id"]
        nb = _clean(nbformat.reads(json.dumps(raw), as_version=4))
    except Exception as error:
        raise ValueError(f"cannot be read as a notebook: {_why_not(error)}") from None
    return nb


def nbgrader(cell: Any) -> dict[str, Any]:
    """A cell's nbgrader metadata, {} when it has none or it is not a dict."""
    metadata = cell.get("metadata") if isinstance(cell, dict) else None
    found = metadata.get("nbgrader") if isinstance(metadata, dict) else None
    return found if isinstance(found, dict) else {}


def _grade_ids(nb: Any) -> list[str]:
    return [str(nbgrader(c).get("grade_id")) for c in nb.cells if nbgrader(c).get("grade_id")]


def other_chapter(nb: Any, chapter: Chapter) -> str | None:
    """The chapter a notebook belongs to when it is clearly not `chapter` (by its grade ids)."""
    ids = _grade_ids(nb)
    if not ids or set(ids) & set(chapter.grade_ids):
        return None
    numbers = sorted({m.group(1) for i in ids if (m := re.match(r"ch(\d\d)_", i))})
    return numbers[0] if numbers else "?"


def answers_of(nb: Any, chapter: Chapter) -> dict[str, tuple[str, str]]:
    """For each answer cell of the chapter (by its cell id): the learner's source and how it was
    found ("id" or "defines"). An answer cell the learner deleted is missing (the stub runs)."""
    code = [c for c in nb.cells if c.get("cell_type") == "code"]
    # A notebook saved without cell ids (nbformat 4.0-4.4, as several editors write it) is
    # matched by what its cells define, and that is no sign of tampering.
    has_ids = any(c.get("id") for c in nb.cells)
    by_id = {}
    for cell in code:
        by_id.setdefault(str(cell.get("id", "")), cell)
    taken: set[int] = set()
    found: dict[str, tuple[str, str]] = {}
    for step in chapter.steps:
        if step.kind != "answer":
            continue
        cell = by_id.get(step.cell_id)
        how = "id"
        if cell is None and step.defines:
            # Recreated cell: the last cell that defines the same function.
            cell = next(
                (c for c in reversed(code) if set(step.defines) & set(defined_functions(c.source))),
                None,
            )
            how = "defines" if has_ids else "no ids"
        if cell is not None and id(cell) not in taken:
            taken.add(id(cell))
            found[step.cell_id] = (cell.source, how)
    return _with_helpers(found, code, chapter, taken)


def _literal(node: ast.AST) -> bool:
    try:
        ast.literal_eval(node)
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
        return False
    return True


def _only_definitions(source: str) -> dict[str, set[str]] | None:
    """For a cell that only defines functions and constants (imports and a docstring allowed):
    each name it defines -> the names that definition uses; None for any other cell."""
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return None
    defined: dict[str, set[str]] = {}
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            defined[node.name] = {n.id for n in ast.walk(node) if isinstance(n, ast.Name)}
        elif (
            isinstance(node, ast.Assign)
            and all(isinstance(t, ast.Name) for t in node.targets)
            and _literal(node.value)
        ):
            defined.update({t.id: set() for t in node.targets if isinstance(t, ast.Name)})
        elif not isinstance(node, (ast.Import, ast.ImportFrom)) and not (
            isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant)
        ):
            return None
    return defined or None


def _with_helpers(
    found: dict[str, tuple[str, str]], code: list[Any], chapter: Chapter, taken: set[int]
) -> dict[str, tuple[str, str]]:
    """Each answer with the learner's helper cells before it: cells of the learner's own that
    only define functions and constants, taken when the answer uses one of them (directly or
    through another helper). Locally such a helper counts, so it counts when grading too."""
    known = {s.cell_id for s in chapter.steps}
    same = {s.source.strip() for s in chapter.steps}
    helpers: list[tuple[Any, dict[str, set[str]]]] = []
    for cell in code:
        if id(cell) in taken or str(cell.get("id", "")) in known or cell.source.strip() in same:
            continue
        functions = _only_definitions(cell.source)
        if functions:
            helpers.append((cell, functions))
    if not helpers:
        return found
    out = {}
    for cell_id, (source, how) in found.items():
        try:
            wanted = {n.id for n in ast.walk(ast.parse(source)) if isinstance(n, ast.Name)}
        except SyntaxError:
            out[cell_id] = (source, how)
            continue
        chosen: list[int] = []
        grew = True
        while grew:
            grew = False
            for index, (_, functions) in enumerate(helpers):
                if index not in chosen and wanted & set(functions):
                    chosen.append(index)
                    wanted |= set().union(*functions.values())
                    grew = True
        parts = [helpers[i][0].source for i in sorted(chosen)]
        out[cell_id] = ("\n\n".join([*parts, source]), how)
    return out


def top_level_names(source: str) -> set[str]:
    """Every name and dotted attribute a piece of code mentions (for the tampering report)."""
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return set()
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Name):
            names.add(node.id)
        elif isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name):
            names.add(f"{node.value.id}.{node.attr}")
        elif isinstance(node, ast.Import):
            names.update(f"import {a.name}" for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            names.add(f"import {node.module or ''}")
    return names
