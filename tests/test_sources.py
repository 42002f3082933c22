"""The package's own sources compile on every Python the README names.

Oracle: the parsed sources. Python 3.13 dedents docstrings when it compiles them and cannot encode
a lone surrogate there (`import` then fails with UnicodeEncodeError), so no
docstring in course_lib may hold one: write such a character as an escape ("\\\\ud800") in
prose. (Code may hold them: only docstrings are dedented.)
"""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "course_lib"


def lone_surrogates(text: str) -> list[str]:
    return [hex(ord(c)) for c in text if 0xD800 <= ord(c) <= 0xDFFF]


DOCUMENTED = (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)


def test_no_docstring_in_the_package_holds_a_lone_surrogate() -> None:
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            docstring = ast.get_docstring(node) if isinstance(node, DOCUMENTED) else None
            if docstring and lone_surrogates(docstring):
                found.append(f"{path.relative_to(PACKAGE)}:{getattr(node, 'lineno', 1)}")
    assert found == []


def test_the_check_finds_an_escaped_surrogate_in_a_docstring() -> None:
    source = 'def f():\n    """JSON\'s \\ud800 escapes."""\n'
    docstring = ast.get_docstring(ast.parse(source).body[0])
    assert lone_surrogates(docstring) == ["0xd800"]
