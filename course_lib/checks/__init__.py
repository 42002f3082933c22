"""The checks a learner runs after each exercise, and the score they add up to.

A chapter's check cell reads::

    tokenize = check.tokenize(tokenize)

`check.tokenize` (in `course_lib/checks/ch01.py`) tests the learner's function. It returns the
learner's function when every check passes, returns the library's reference implementation
(printing "not done yet") when the exercise still raises `NotImplementedError`, and raises
`CheckFailed` with a hint naming the usual mistake when an answer is wrong.

When grading (`COURSE_LIB_GRADING=1`, set by `python -m course_lib.grade`) an unsolved exercise
raises `NotDone` instead, so its cell counts as failed.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

__all__ = [
    "CheckFailed",
    "call_learner",
    "describe",
    "NotDone",
    "Result",
    "expect",
    "grading",
    "results",
    "run_check",
    "summary",
]

F = TypeVar("F", bound=Callable[..., Any])


class CheckFailed(AssertionError):
    """A learner's answer is wrong; the message says how and what to look at."""


class NotDone(AssertionError):
    """The exercise still raises NotImplementedError (raised only when grading)."""


@dataclass
class Result:
    """The outcome of one exercise's check in this session."""

    exercise: str
    status: str  # "pass", "fail" or "not done"
    points: float
    max_points: float
    message: str = ""


_results: dict[str, Result] = {}


def grading() -> bool:
    """True when the notebook runs under the grader."""
    return os.environ.get("COURSE_LIB_GRADING", "") == "1"


def expect(condition: bool, hint: str) -> None:
    """Raise `CheckFailed(hint)` unless `condition` holds."""
    if not condition:
        raise CheckFailed(hint)


def describe(value: Any) -> str:
    """A short description of an argument: an array by its shape (values when tiny), else repr."""
    shape = getattr(value, "shape", None)
    if shape is not None and hasattr(value, "tolist"):
        size = getattr(value, "size", None)
        return f"<array {tuple(shape)}>" if size is None or size > 6 else repr(value.tolist())
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def call_learner(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """`fn(*args, **kwargs)` with NumPy's floating-point warnings silenced (the checks report
    overflow themselves); a crash becomes a `CheckFailed` that shows the call and the error."""
    import numpy as np

    try:
        with np.errstate(all="ignore"):
            return fn(*args, **kwargs)
    except (NotImplementedError, CheckFailed):
        raise
    except Exception as error:
        shown = ", ".join(
            [describe(a) for a in args] + [f"{k}={describe(v)}" for k, v in kwargs.items()]
        )
        name = getattr(fn, "__name__", "your function")
        raise CheckFailed(f"{name}({shown}) raised {type(error).__name__}: {error}") from error


def run_check(
    exercise: str,
    learner: F,
    reference: F,
    test: Callable[[F], Any],
    *,
    points: float = 1,
) -> F:
    """Test `learner` with `test`; return the function the chapter goes on with.

    `test(fn)` raises `CheckFailed` with a hint on a wrong answer and returns normally (optionally
    the number of checks it made) on a right one.
    """
    try:
        count = test(learner)
    except NotImplementedError:
        _results[exercise] = Result(exercise, "not done", 0, points, "not done yet")
        if grading():
            raise NotDone(
                f"{exercise}: not done yet (the function raises NotImplementedError)"
            ) from None
        name = getattr(reference, "__module__", "course_lib") + "." + reference.__name__
        print(
            f"○ {exercise}: not done yet - the chapter goes on with the library's `{name}`.\n"
            f"  Fill in the cell above and run this check again."
        )
        return reference
    except CheckFailed as failure:
        _results[exercise] = Result(exercise, "fail", 0, points, str(failure))
        raise CheckFailed(f"{exercise}: {failure}") from None
    except Exception as error:  # a crash in the learner's code is a failed check too
        _results[exercise] = Result(exercise, "fail", 0, points, f"{type(error).__name__}: {error}")
        raise
    checks = f"all {count} checks pass" if isinstance(count, int) and count > 0 else "passes"
    _results[exercise] = Result(exercise, "pass", points, points, checks)
    print(f"✓ {exercise}: {checks}.")
    return learner


def results() -> list[Result]:
    """Every check run so far in this session, in order."""
    return list(_results.values())


def summary() -> str:
    """Print and return the local score of the checks run in this session."""
    rows = results()
    if not rows:
        text = "No checks have run yet in this session."
    else:
        width = max(len(r.exercise) for r in rows)
        lines = [
            f"{r.exercise:<{width}}  {r.status:<8}  {r.points:g}/{r.max_points:g}" for r in rows
        ]
        got = sum(r.points for r in rows)
        out_of = sum(r.max_points for r in rows)
        lines.append(f"{'total':<{width}}  {'':<8}  {got:g}/{out_of:g}")
        text = "\n".join(lines)
    print(text)
    return text
