"""The notebook pipeline: `solutions/NN_topic.py` -> `chapters/NN_topic.py` and `.ipynb` files.

    python -m course_lib.notebooks            # write chapters/ and every .ipynb
    python -m course_lib.notebooks --check    # exit 1 and list the files that drifted

Every notebook is paired for real by jupytext (`jupytext.toml`, and `formats` in each file's own
metadata): `solutions/NN_topic.py` with `solutions/NN_topic.ipynb`, `chapters/NN_topic.py` with
`chapters/NN_topic.ipynb`. Each `.py` starts with the same header (the pairing and the kernel, so
opening it in JupyterLab asks for no kernel); this module writes that header into the solution
sources too, and the drift check covers it.

In the learner's version every `### BEGIN SOLUTION` ... `### END SOLUTION` block becomes a stub
(`# YOUR CODE HERE` + `raise NotImplementedError()` in code, "YOUR ANSWER HERE" in Markdown) and
every `### BEGIN HIDDEN TESTS` ... `### END HIDDEN TESTS` block is removed. The same input always
gives the same bytes, so the drift check compares file contents directly.
"""

from __future__ import annotations

import argparse
import copy
import re
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = [
    "BEGIN_HIDDEN",
    "BEGIN_SOLUTION",
    "END_HIDDEN",
    "END_SOLUTION",
    "NotebookSourceError",
    "build",
    "check",
    "graded_cells",
    "learner_source",
    "main",
    "py_header",
    "read_solution",
    "with_py_header",
    "write",
]

BEGIN_SOLUTION = "### BEGIN SOLUTION"
END_SOLUTION = "### END SOLUTION"
BEGIN_HIDDEN = "### BEGIN HIDDEN TESTS"
END_HIDDEN = "### END HIDDEN TESTS"
MARKERS = (BEGIN_SOLUTION, END_SOLUTION, BEGIN_HIDDEN, END_HIDDEN)
CODE_STUB = ("# YOUR CODE HERE", "raise NotImplementedError()")
MARKDOWN_STUB = "YOUR ANSWER HERE"
CHAPTER_NAME = re.compile(r"^\d\d_[A-Za-z0-9_]+\.py$")
# The nbgrader keys a cell keeps; everything else in a cell's metadata is dropped.
NBGRADER_KEYS = ("grade", "grade_id", "locked", "points", "solution")
# Keep these in step with jupytext.toml (tests/test_notebooks.py compares them).
PAIRING = {
    "formats": "ipynb,py:percent",
    # The .py keeps the kernel and the pairing, not jupytext's version (that would drift).
    "notebook_metadata_filter": "kernelspec,jupytext,-jupytext.text_representation",
    "cell_metadata_filter": "nbgrader,-all",
}
NOTEBOOK_METADATA = {
    "jupytext": PAIRING,
    "kernelspec": {"display_name": "Python 3 (ipykernel)", "language": "python", "name": "python3"},
    "language_info": {"name": "python"},
}


class NotebookSourceError(ValueError):
    """A solution notebook breaks the conventions (markers, grade ids); the message says where."""


@dataclass(frozen=True)
class Where:
    """A cell of a solution notebook, for error messages."""

    path: Path
    index: int
    first_line: str

    def __str__(self) -> str:
        return f"{self.path}, cell {self.index + 1} ({self.first_line!r})"


def _marker(line: str, where: Where) -> str | None:
    """The marker this line is, or None; a marker sharing its line with code is an error."""
    stripped = line.strip()
    for marker in MARKERS:
        if stripped == marker:
            return marker
        if marker in stripped:
            raise NotebookSourceError(
                f"{where}: the line {line.strip()!r} mixes the marker {marker!r} with other text; "
                "put the marker alone on its own line."
            )
    return None


def learner_source(source: str, cell_type: str, where: Where) -> str:
    """A cell's source with solution blocks stubbed and hidden-test blocks removed."""
    out: list[str] = []
    open_marker: str | None = None
    for line in source.split("\n"):
        marker = _marker(line, where)
        if marker in (BEGIN_SOLUTION, BEGIN_HIDDEN):
            if open_marker is not None:
                raise NotebookSourceError(
                    f"{where}: {marker!r} inside an open {open_marker!r} block; "
                    "blocks cannot nest: close the first block before opening the next."
                )
            if marker == BEGIN_HIDDEN and cell_type != "code":
                raise NotebookSourceError(
                    f"{where}: hidden tests in a {cell_type} cell; put them in a graded code cell."
                )
            open_marker = marker
            if marker == BEGIN_SOLUTION:
                indent = line[: len(line) - len(line.lstrip())]
                stub = (MARKDOWN_STUB,) if cell_type == "markdown" else CODE_STUB
                out.extend(indent + stub_line for stub_line in stub)
        elif marker in (END_SOLUTION, END_HIDDEN):
            expected = BEGIN_SOLUTION if marker == END_SOLUTION else BEGIN_HIDDEN
            if open_marker != expected:
                raise NotebookSourceError(
                    f"{where}: {marker!r} without a matching {expected!r} before it."
                )
            open_marker = None
        elif open_marker is None:
            out.append(line)
    if open_marker is not None:
        closing = END_SOLUTION if open_marker == BEGIN_SOLUTION else END_HIDDEN
        raise NotebookSourceError(f"{where}: {open_marker!r} is never closed; add {closing!r}.")
    return "\n".join(out).rstrip("\n")


def _where(path: Path, index: int, source: str) -> Where:
    first = next((line.strip() for line in source.split("\n") if line.strip()), "")
    return Where(path, index, first[:60])


def _nbgrader(cell: Any) -> dict[str, Any]:
    return dict(cell.get("metadata", {}).get("nbgrader", {}) or {})


def read_solution(path: Path) -> Any:
    """Read a solution notebook (`.py` py:percent or `.ipynb`), validated and normalised.

    Cells keep only their nbgrader metadata; cell ids are deterministic (the grade id for cells
    that have one, `cell-NNN` otherwise); outputs and execution counts are cleared.
    """
    import jupytext
    import nbformat

    text = path.read_text(encoding="utf-8")
    fmt = "ipynb" if path.suffix == ".ipynb" else "py:percent"
    try:
        nb = jupytext.reads(text, fmt=fmt)
    except Exception as error:  # jupytext and nbformat raise many kinds
        raise NotebookSourceError(f"{path}: cannot be read as a {fmt} notebook: {error}") from None
    seen: dict[str, Where] = {}
    cells = []
    for index, cell in enumerate(nb.cells):
        where = _where(path, index, cell.source)
        grader = _nbgrader(cell)
        unknown = sorted(set(grader) - set(NBGRADER_KEYS) - {"schema_version", "cell_type"})
        if unknown:
            raise NotebookSourceError(
                f"{where}: unknown nbgrader metadata {unknown}; use only {list(NBGRADER_KEYS)}."
            )
        grade_id = grader.get("grade_id")
        if grader.get("grade") and not grade_id:
            raise NotebookSourceError(f"{where}: a graded cell needs a 'grade_id'.")
        if grader.get("grade") and "points" not in grader:
            raise NotebookSourceError(f"{where}: the graded cell {grade_id!r} needs 'points'.")
        if grade_id is not None:
            if not re.fullmatch(r"[A-Za-z0-9_-]{1,64}", str(grade_id)):
                raise NotebookSourceError(
                    f"{where}: grade_id {grade_id!r} must be letters, digits, '_' or '-'."
                )
            if grade_id in seen:
                raise NotebookSourceError(
                    f"{where}: grade_id {grade_id!r} is used twice (first in {seen[grade_id]})."
                )
            seen[grade_id] = where
        # Validate the markers now, so errors name the solution file.
        learner_source(cell.source, cell.cell_type, where)
        if BEGIN_HIDDEN in cell.source and not grader.get("grade"):
            raise NotebookSourceError(
                f"{where}: hidden tests in a cell that is not graded would never run; "
                "mark the cell with nbgrader grade/grade_id/points or move the tests."
            )
        metadata = {}
        if grader:
            metadata["nbgrader"] = {key: grader[key] for key in NBGRADER_KEYS if key in grader}
        cell_id = str(grade_id) if grade_id is not None else f"cell-{index:03d}"
        if cell.cell_type == "code":
            new = nbformat.v4.new_code_cell(cell.source, metadata=metadata, id=cell_id)
        elif cell.cell_type == "markdown":
            new = nbformat.v4.new_markdown_cell(cell.source, metadata=metadata, id=cell_id)
        else:
            new = nbformat.v4.new_raw_cell(cell.source, metadata=metadata, id=cell_id)
        cells.append(new)
    out = nbformat.v4.new_notebook(cells=cells, metadata=copy.deepcopy(NOTEBOOK_METADATA))
    out.nbformat_minor = 5
    return out


def graded_cells(nb: Any) -> list[tuple[int, Any]]:
    """(index, cell) of every graded cell (nbgrader `grade: true`), in order."""
    return [(i, c) for i, c in enumerate(nb.cells) if _nbgrader(c).get("grade")]


def _learner_notebook(nb: Any, path: Path) -> Any:
    learner = copy.deepcopy(nb)
    for index, cell in enumerate(learner.cells):
        cell.source = learner_source(cell.source, cell.cell_type, _where(path, index, cell.source))
    return learner


def _ipynb_text(nb: Any) -> str:
    import nbformat

    return nbformat.writes(nb, version=4) + "\n"


def _py_text(nb: Any) -> str:
    """The paired py:percent text: the pairing header, then cells with their nbgrader metadata."""
    import jupytext

    text_nb = copy.deepcopy(nb)
    text_nb.metadata = copy.deepcopy(NOTEBOOK_METADATA)
    return jupytext.writes(text_nb, fmt="py:percent")


def py_header() -> str:
    """The header every paired `.py` starts with: `# ---` ... `# ---` and one empty line."""
    import nbformat

    text = _py_text(nbformat.v4.new_notebook())
    end = text.index("# ---\n", len("# ---\n")) + len("# ---\n")
    return text[:end] + "\n"


def with_py_header(text: str) -> str:
    """`text` (a py:percent source) with its jupytext header, if any, replaced by `py_header()`."""
    lines = text.split("\n")
    if lines and lines[0] == "# ---" and "# ---" in lines[1:]:
        end = lines.index("# ---", 1) + 1
        while end < len(lines) and not lines[end].strip():
            end += 1  # the blank lines after the header
        text = "\n".join(lines[end:])
    return py_header() + text


def sources(root: Path) -> list[Path]:
    """The chapter sources `solutions/NN_*.py` under `root`, sorted."""
    folder = root / "solutions"
    return sorted(p for p in folder.glob("*.py") if CHAPTER_NAME.match(p.name))


def build(root: Path) -> dict[Path, str]:
    """Every generated file's path (relative to `root`) and its exact text."""
    files: dict[Path, str] = {}
    for source in sources(root):
        relative = source.relative_to(root)
        solution = read_solution(source)
        learner = _learner_notebook(solution, relative)
        stem = source.stem
        files[relative] = with_py_header(source.read_text(encoding="utf-8"))
        files[Path("solutions") / f"{stem}.ipynb"] = _ipynb_text(solution)
        files[Path("chapters") / f"{stem}.py"] = _py_text(learner)
        files[Path("chapters") / f"{stem}.ipynb"] = _ipynb_text(learner)
    return files


def _stale(root: Path, files: dict[Path, str]) -> list[Path]:
    """Generated-looking files with no source any more (a renamed or deleted chapter)."""
    stale = []
    for folder, patterns in (("chapters", ("*.py", "*.ipynb")), ("solutions", ("*.ipynb",))):
        for pattern in patterns:
            for path in (root / folder).glob(pattern):
                relative = path.relative_to(root)
                if re.match(r"^\d\d_", path.name) and relative not in files:
                    stale.append(relative)
    return sorted(stale)


def check(root: Path) -> list[str]:
    """Each drifted file under `root` with what is wrong; empty when everything is up to date."""
    files = build(root)
    problems = []
    for relative, text in sorted(files.items()):
        path = root / relative
        if not path.exists():
            problems.append(f"{relative}: missing")
        elif path.read_text(encoding="utf-8") != text:
            problems.append(f"{relative}: differs from what its solution generates")
    problems += [f"{relative}: has no source in solutions/" for relative in _stale(root, files)]
    return problems


def write(root: Path) -> list[Path]:
    """Write every generated file under `root` (and delete stale ones); return what changed."""
    files = build(root)
    changed = []
    for relative, text in sorted(files.items()):
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        if not path.exists() or path.read_text(encoding="utf-8") != text:
            path.write_text(text, encoding="utf-8")
            changed.append(relative)
    for relative in _stale(root, files):
        (root / relative).unlink()
        changed.append(relative)
    return changed


def _default_root() -> Path:
    here = Path(__file__).resolve().parents[1]
    return here if (here / "solutions").is_dir() else Path.cwd()


def main(argv: list[str] | None = None) -> int:
    """Command line: write the generated notebooks, or with `--check` report drift."""
    parser = argparse.ArgumentParser(
        prog="python -m course_lib.notebooks",
        description="Generate chapters/ and every .ipynb from solutions/NN_*.py.",
    )
    parser.add_argument("--check", action="store_true", help="only compare; exit 1 on drift")
    parser.add_argument("--root", type=Path, default=None, help="course folder (default: repo)")
    args = parser.parse_args(argv)
    root = (args.root or _default_root()).resolve()
    if not (root / "solutions").is_dir():
        print(
            f"error: {root / 'solutions'} does not exist; pass --root COURSE_DIR.", file=sys.stderr
        )
        return 2
    try:
        if args.check:
            problems = check(root)
            if problems:
                print("These generated files drifted from solutions/:", file=sys.stderr)
                for problem in problems:
                    print(f"  {problem}", file=sys.stderr)
                print("Run `make chapters` and commit the result.", file=sys.stderr)
                return 1
            print(f"chapters/ and every .ipynb match solutions/ ({len(sources(root))} chapters).")
            return 0
        changed = write(root)
    except NotebookSourceError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    for relative in changed:
        print(f"wrote {relative}" if (root / relative).exists() else f"removed {relative}")
    print(f"{len(sources(root))} chapters, {len(changed)} files changed.")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
