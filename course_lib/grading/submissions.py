"""Finding learners' notebooks, reading them, and taking their answer cells.

The rule an instructor can predict: every path given is a notebook (one learner, named by the
file) or a folder of submissions, in which each `.ipynb` file is one learner (named by the file)
and each sub-folder is one learner (named by the folder) whose notebook is the one `.ipynb` inside
it (when there are several, the one whose name starts with the chapter number). Nothing else in a
folder counts: `notes.txt` beside `alice.ipynb` changes nothing.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from course_lib.grading.chapter import Chapter, GradingError, defined_functions

__all__ = ["Submission", "answers_of", "find_submissions", "other_chapter", "read_notebook"]

MAX_SUBMISSION_BYTES = 100 * 2**20


@dataclass(frozen=True)
class Submission:
    """One learner's notebook (or the reason there is none to run)."""

    learner: str
    path: Path | None
    problem: str = ""  # a status when there is nothing to run


def _visible(path: Path) -> bool:
    return not path.name.startswith(".") and path.name not in ("__pycache__", ".ipynb_checkpoints")


def _notebooks_in(folder: Path) -> list[Path]:
    return sorted(
        p
        for p in folder.rglob("*.ipynb")
        if p.is_file() and all(_visible(part) for part in [p, *p.relative_to(folder).parents][:-1])
    )


def _folder_submission(folder: Path, chapter: str | None) -> Submission:
    notebooks = _notebooks_in(folder)
    if chapter is not None and len(notebooks) > 1:
        matching = [p for p in notebooks if p.name.startswith(f"{chapter}_")]
        notebooks = matching if len(matching) == 1 else notebooks
    if not notebooks:
        return Submission(folder.name, None, "no notebook")
    if len(notebooks) > 1:
        names = ", ".join(str(p.relative_to(folder)) for p in notebooks[:5])
        return Submission(folder.name, None, f"several notebooks ({names})")
    return Submission(folder.name, notebooks[0])


def find_submissions(paths: list[Path], chapter: str | None = None) -> list[Submission]:
    """Every submission under `paths`, sorted by learner id."""
    found: list[Submission] = []
    for path in paths:
        if path.is_file():
            if path.suffix != ".ipynb":
                raise GradingError(f"{path} is not a notebook (.ipynb); pass notebooks or folders.")
            found.append(Submission(path.stem, path))
        elif path.is_dir():
            for child in sorted(p for p in path.iterdir() if _visible(p)):
                if child.is_file() and child.suffix == ".ipynb":
                    found.append(Submission(child.stem, child))
                elif child.is_dir():
                    found.append(_folder_submission(child, chapter))
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


def read_notebook(path: Path) -> Any:
    """The submission as an nbformat notebook; raises ValueError with the reason otherwise."""
    import nbformat

    if path.stat().st_size > MAX_SUBMISSION_BYTES:
        raise ValueError(f"{path.name} is larger than {MAX_SUBMISSION_BYTES // 2**20} MB")
    try:
        nb = nbformat.reads(path.read_bytes().decode("utf-8"), as_version=4)
        for cell in nb["cells"]:
            if cell.get("cell_type") not in ("code", "markdown", "raw"):
                raise ValueError(f"unknown cell type {cell.get('cell_type')!r}")
            if not isinstance(cell.get("source", ""), str):
                raise ValueError("a cell's source is not text")
    except Exception as error:
        raise ValueError(f"{path.name} cannot be read as a notebook: {error}") from None
    return nb


def _grade_ids(nb: Any) -> list[str]:
    return [
        str(c.get("metadata", {}).get("nbgrader", {}).get("grade_id"))
        for c in nb.cells
        if c.get("metadata", {}).get("nbgrader", {}).get("grade_id")
    ]


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
            how = "defines"
        if cell is not None and id(cell) not in taken:
            taken.add(id(cell))
            found[step.cell_id] = (cell.source, how)
    return found


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
