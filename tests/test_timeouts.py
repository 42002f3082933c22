"""No test can wait forever: every subprocess and every notebook client a test starts has a
time limit of its own (the global pytest-timeout guard is the last resort, not the plan).

Oracle: the tests' own sources, parsed. A call of `subprocess.run`, `check_output`, `check_call`
or `call` must pass `timeout=`; a `NotebookClient(...)` must pass `timeout=` (per cell) and
`startup_timeout=` (the kernel's start); a file that starts a `Popen` must wait for processes
with a timeout somewhere (`.wait(timeout=...)` or `.communicate(timeout=...)`, often in the
function that stops it).
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

TESTS = Path(__file__).resolve().parent
SOURCES = sorted(TESTS.rglob("*.py"))
RUNS = {"run", "check_output", "check_call", "call"}


def called_name(node: ast.Call) -> str:
    func = node.func
    if isinstance(func, ast.Attribute):
        return func.attr
    return func.id if isinstance(func, ast.Name) else ""


def keywords(node: ast.Call) -> set[str]:
    return {k.arg for k in node.keywords if k.arg} | ({"**"} if any(
        k.arg is None for k in node.keywords) else set())  # fmt: skip


def missing_timeouts(source: str) -> list[str]:
    """'line N: what is missing' for each call in `source` that could wait forever."""
    tree = ast.parse(source)
    found = []
    calls = [n for n in ast.walk(tree) if isinstance(n, ast.Call)]
    waited = any(
        called_name(c) in ("wait", "communicate") and "timeout" in keywords(c) for c in calls
    )
    for call in sorted(calls, key=lambda c: c.lineno):
        name, given = called_name(call), keywords(call)
        is_subprocess = (
            isinstance(call.func, ast.Attribute)
            and isinstance(call.func.value, ast.Name)
            and call.func.value.id == "subprocess"
        )
        if is_subprocess and name in RUNS and not given & {"timeout", "**"}:
            found.append(f"line {call.lineno}: subprocess.{name} without timeout=")
        if is_subprocess and name == "Popen" and not waited:
            found.append(f"line {call.lineno}: Popen never waited for with a timeout")
        if name == "NotebookClient" and not {"timeout", "startup_timeout"} <= given:
            found.append(
                f"line {call.lineno}: NotebookClient without timeout= and startup_timeout="
            )
    return found


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: str(p.relative_to(TESTS)))
def test_every_subprocess_and_kernel_a_test_starts_has_a_timeout(path: Path) -> None:
    assert missing_timeouts(path.read_text(encoding="utf-8")) == []


def test_the_scan_finds_each_kind_of_unbounded_wait() -> None:
    source = """
import subprocess
def f():
    subprocess.run(["true"])
    subprocess.run(["true"], timeout=5)
    NotebookClient(nb, timeout=60)
    NotebookClient(nb, timeout=60, startup_timeout=60)
def g():
    p = subprocess.Popen(["sleep", "1"])
    p.wait()
"""
    assert missing_timeouts(source) == [
        "line 4: subprocess.run without timeout=",
        "line 6: NotebookClient without timeout= and startup_timeout=",
        "line 9: Popen never waited for with a timeout",
    ]
    waited_elsewhere = source + "def stop(p):\n    p.wait(timeout=5)\n"
    assert "line 9: Popen never waited for with a timeout" not in missing_timeouts(waited_elsewhere)
