"""The tampering report: what in a submission an instructor should look at by hand.

Nothing here changes a score (only answer cells run, and checks run in the grader), but it tells
the instructor where a learner tried: answer cells that do more than define their function
(imports of course_lib internals, IPython hooks, the environment, patched modules), an exercise
whose function is not written in its cell, and edited, removed, renamed or duplicated check cells
or inserted cells that touch course_lib, IPython or the environment.
"""

from __future__ import annotations

import ast
from typing import Any

from course_lib.grading.chapter import HIDDEN, Chapter, defined_functions
from course_lib.grading.submissions import nbgrader, top_level_names

__all__ = ["flags"]

SUSPICIOUS = {
    "get_ipython": "uses get_ipython()",
    "os.environ": "touches os.environ",
    "environ": "touches the environment",
    "sys.modules": "touches sys.modules",
    "builtins": "touches builtins",
    "__builtins__": "touches builtins",
    "setattr": "calls setattr",
    "__import__": "calls __import__",
    "exec": "calls exec",
    "eval": "calls eval",
    "globals": "calls globals()",
    "signal": "uses signal",
    "subprocess": "uses subprocess",
    "importlib": "uses importlib",
    "import importlib": "imports importlib",
}


def _suspicious(source: str, allowed: set[str]) -> list[str]:
    names = top_level_names(source) - allowed
    found = [text for name, text in SUSPICIOUS.items() if name in names]
    found += [f"imports {n[7:]}" for n in sorted(names) if n.startswith("import course_lib")]
    found += [f"imports {n[7:]}" for n in sorted(names) if n in ("import os", "import sys")]
    if any(line.lstrip().startswith(("%", "!")) for line in source.splitlines()):
        found.append("uses IPython magics or shell commands")
    return found


def _module_assignments(source: str) -> list[str]:
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return []
    out = []
    for node in tree.body:
        targets = node.targets if isinstance(node, ast.Assign) else []
        for target in targets:
            if isinstance(target, ast.Attribute):
                out.append(f"assigns to {ast.unparse(target)}")
    return out


def flags(nb: Any, chapter: Chapter, answers: dict[str, tuple[str, str]]) -> list[str]:
    """Everything worth an instructor's look in this submission, one line each."""
    out: list[str] = []
    for step in chapter.steps:
        if step.kind != "answer":
            continue
        label = step.grade_id or step.cell_id
        if step.cell_id not in answers:
            out.append(f"{label}: the answer cell is missing (the stub ran)")
            continue
        source, how = answers[step.cell_id]
        allowed = top_level_names(step.source)
        found = _suspicious(source, allowed) + _module_assignments(source)
        if how == "defines":
            found.append("answer cell found by the function it defines (its id changed)")
        wanted = chapter.by_id(step.grade_id).name if step.grade_id else None
        if wanted and wanted in step.defines and wanted not in defined_functions(source):
            found.append(f"does not define {wanted}() itself")
        out += [f"{label}: {text}" for text in found]
    cells = [c for c in nb.cells if c.get("cell_type") == "code"]
    ids = [str(nbgrader(c).get("grade_id")) for c in cells if nbgrader(c).get("grade_id")]
    for grade_id, source in chapter.check_sources.items():
        if grade_id not in ids:
            out.append(f"{grade_id}: the check cell was removed or renamed")
        elif ids.count(grade_id) > 1:
            out.append(f"{grade_id}: the check cell appears {ids.count(grade_id)} times")
        else:
            cell = next(c for c in cells if str(nbgrader(c).get("grade_id")) == grade_id)
            if HIDDEN.sub("", cell.source).strip() != source.strip():
                out.append(f"{grade_id}: the check cell was edited")
    known = {s.cell_id for s in chapter.steps}
    # Cells of the chapter as handed out, and the answers taken, whatever their ids say.
    same = {s.source.strip() for s in chapter.steps} | {a[0].strip() for a in answers.values()}
    for cell in cells:
        if str(cell.get("id", "")) in known or cell.source.strip() in same:
            continue
        found = _suspicious(cell.source, set())
        if found:
            first = cell.source.strip().split("\n")[0][:50]
            out.append(f"inserted cell `{first}`: {', '.join(found)}")
    return out
