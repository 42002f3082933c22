"""The checks a learner runs after each exercise, and the score they add up to.

A chapter's check cell reads::

    tokenize = check.tokenize(tokenize)

`check.tokenize` (an `Exercise` in `course_lib/checks/ch01.py`) tests the learner's function. It
returns the learner's function when every check passes and the library's reference (printing "not
done yet") while the exercise still raises `NotImplementedError`. On a wrong answer it raises
`CheckFailed` with a hint naming the usual mistake, and the chapter goes on with the reference,
so one mistake never costs the exercises after it.

A check only ever sees plain data (`course_lib.checks.wire`): the learner's function is called
through `call_learner`, whose result is round-tripped through the wire format. The grader runs the
very same `Exercise` in its own process with a `Remote` function that calls the learner's code in
the learner's kernel, so a notebook's local score and its grade come from one definition.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from course_lib.checks import mistakes as _mistakes
from course_lib.checks import wire

__all__ = [
    "CheckFailed",
    "Exercise",
    "LearnerRaised",
    "Met",
    "Outcome",
    "Part",
    "Remote",
    "Result",
    "Raised",
    "call_catching",
    "call_learner",
    "describe",
    "expect",
    "met",
    "results",
    "summary",
]

F = TypeVar("F", bound=Callable[..., Any])


class CheckFailed(AssertionError):
    """A learner's answer is wrong; the message says how and what to look at.

    In a notebook the hint is all the learner sees: IPython shows what `_render_traceback_`
    returns instead of a traceback, whose frames would all be the checks' own code. The cell
    still ends in an error, so Run All stops there as before.

    Each hint is a mistake with a stable name (`course_lib.checks.mistakes`): read from the line
    of the checks that made it, or given by the author, `CheckFailed(hint, mistake="wrong-axis")`.
    """

    def __init__(self, hint: str = "", mistake: str | None = None) -> None:
        super().__init__(hint)
        if mistake is not None and not _mistakes.NAME.fullmatch(mistake):
            raise ValueError(
                f"mistake={mistake!r}: name a mistake with lowercase words and dashes, "
                "e.g. 'wrong-axis'"
            )
        self.mistake_name = mistake
        self._where = () if mistake is not None else _mistakes.where_made(sys._getframe(1))

    def __reduce__(self) -> tuple[type, tuple[str, str | None]]:
        # A copy keeps the hint and an author's name; where it was made stays behind.
        return (type(self), (str(self), self.mistake_name))

    def found(self) -> _mistakes.Found:
        """The mistake this hint names: its site in the checks and its value-free template."""
        if self.mistake_name is not None:
            return _mistakes.Found(
                None, _mistakes.fixed_template(self.mistake_name), self.mistake_name
            )
        return _mistakes.locate(self._where, str(self))

    def _render_traceback_(self) -> list[str]:
        lines = str(self).splitlines() or [""]
        return [f"\x1b[0;31m✗ {lines[0]}\x1b[0m", *lines[1:]]


@dataclass(frozen=True)
class Raised:
    """An exception raised by a learner's function, as plain data: its type's name, the first
    line of its message and the names of the classes it derives from."""

    type_name: str
    message: str
    bases: tuple[str, ...] = ()

    @classmethod
    def from_exception(cls, error: BaseException) -> Raised:
        lines = str(error).strip().splitlines()
        first = lines[0][:300] if lines else ""
        return cls(type(error).__name__, first, tuple(c.__name__ for c in type(error).__mro__))

    def is_a(self, name: str) -> bool:
        """True when the exception is a `name` (e.g. "ValueError") or derives from one."""
        return name in self.bases or name == self.type_name

    def __str__(self) -> str:
        return f"{self.type_name}: {self.message}" if self.message else self.type_name


class LearnerRaised(Exception):
    """The learner's function raised (in the learner's kernel, when grading)."""

    def __init__(self, raised: Raised) -> None:
        super().__init__(str(raised))
        self.raised = raised


class Remote:
    """A learner's function living in another process; `call` returns plain data.

    `call(args, kwargs)` returns the result (and writes back what the call changed in the
    arguments), or raises `NotImplementedError`, `LearnerRaised` or `wire.WireError`.
    """

    __name__ = "your function"

    def call(self, args: tuple, kwargs: dict[str, Any]) -> Any:  # pragma: no cover - abstract
        raise NotImplementedError

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return call_learner(self, *args, **kwargs)


@dataclass
class Result:
    """The outcome of one exercise's check in this session."""

    exercise: str
    status: str  # "pass", "fail" or "not done"
    points: float
    max_points: float
    message: str = ""


_results: dict[str, Result] = {}


@dataclass
class Met:
    """A mistake a check found in this session: its name, its template, how many runs."""

    mistake: str
    template: str
    count: int = 1


_met: dict[str, Met] = {}  # every failed check run's mistake, in the order first met


def expect(condition: bool, hint: str, mistake: str | None = None) -> None:
    """Raise `CheckFailed(hint)` unless `condition` holds; `mistake` names it (else the hint's
    line in the checks does)."""
    if not condition:
        raise CheckFailed(hint, mistake)


def describe(value: Any) -> str:
    """A short description of an argument: an array by its shape (values when tiny), else repr."""
    shape = getattr(value, "shape", None)
    if shape is not None and hasattr(value, "tolist"):
        size = getattr(value, "size", None)
        return f"<array {tuple(shape)}>" if size is None or size > 6 else repr(value.tolist())
    if type(value).__module__.startswith("course_lib."):
        return f"<{type(value).__name__}>"
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def call_learner(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """`fn(*args, **kwargs)` as a check may see it: the result as plain data (`wire`).

    NumPy's floating-point warnings are silenced (the checks report overflow themselves); a crash
    becomes a `CheckFailed` that shows the call and the error; `NotImplementedError` passes on.
    """
    import numpy as np

    name = getattr(fn, "__name__", "your function")

    def shown() -> str:
        parts = [describe(a) for a in args] + [f"{k}={describe(v)}" for k, v in kwargs.items()]
        return f"{name}({', '.join(parts)})"

    if isinstance(fn, Remote):
        # Only what the learner's code did becomes a hint; a timeout or a dead kernel passes on.
        try:
            return fn.call(args, kwargs)
        except LearnerRaised as error:
            raised = _mistakes.raised_name(error.raised.type_name, error.raised.bases)
            raise CheckFailed(f"{shown()} raised {error.raised}", raised) from error
        except wire.WireError as error:
            raise CheckFailed(f"{shown()}: {error}", "not-plain-data") from None
    try:
        with np.errstate(all="ignore"):
            result = fn(*args, **kwargs)
    except (NotImplementedError, CheckFailed):
        raise
    except Exception as error:
        raised = _mistakes.raised_name(*_exception_names(error))
        raise CheckFailed(f"{shown()} raised {type(error).__name__}: {error}", raised) from error
    try:
        return wire.roundtrip(result, where=f"the value {name} returned")
    except wire.WireError as error:
        raise CheckFailed(f"{shown()}: {error}", "not-plain-data") from None


def _exception_names(error: BaseException) -> tuple[str, tuple[str, ...]]:
    return type(error).__name__, tuple(c.__name__ for c in type(error).__mro__)


def call_catching(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> tuple[Any, Raised | None]:
    """Like `call_learner`, for checks that expect an exception: (result, None) when `fn`
    returns, (None, Raised) when it raises."""
    try:
        return call_learner(fn, *args, **kwargs), None
    except CheckFailed as failure:
        cause = failure.__cause__
        if isinstance(cause, LearnerRaised):
            return None, cause.raised
        if isinstance(cause, Exception) and not isinstance(cause, wire.WireError):
            return None, Raised.from_exception(cause)
        raise


@dataclass(frozen=True)
class Part:
    """A share of an exercise's points and the test that earns it."""

    label: str
    test: Callable[[Any], Any]  # raises CheckFailed with a hint; may return how many checks
    points: float


@dataclass(frozen=True)
class Outcome:
    """What an exercise's check found: status, points earned and the first hint, with the
    mistake it names ("<grade_id>/<name>", '' on a pass) and the hint's value-free template."""

    status: str  # "pass", "fail" or "not done"
    points: float
    max_points: float
    message: str = ""
    checks: int = 0
    mistake: str = ""
    template: str = ""


class Exercise:
    """One exercise's check: the function's name, its reference and the tests that earn points.

    `exercise(fn)` checks `fn` in this process (the notebook's check cell); `exercise.run(fn)`
    only computes the outcome, and is what the grader calls with a `Remote` function.
    """

    def __init__(
        self,
        grade_id: str,
        name: str,
        reference: Callable[..., Any],
        test: Callable[[Any], Any] | None = None,
        points: float = 1,
        parts: Sequence[Part] | None = None,
        doc: str = "",
    ) -> None:
        if (test is None) == (parts is None):
            raise ValueError("give an Exercise either one `test` or a list of `parts`")
        self.grade_id = grade_id
        self.name = name
        self.reference = reference
        self.parts = tuple(parts) if parts is not None else (Part("all", test, float(points)),)
        self.__doc__ = doc or f"Check `{name}` ({grade_id})."

    @property
    def points(self) -> float:
        return sum(p.points for p in self.parts)

    def __repr__(self) -> str:
        return f"<check {self.grade_id}: {self.name}, {self.points:g} points>"

    def run(self, fn: Callable[..., Any]) -> Outcome:
        """Every part of the check on `fn`; the first failing part's hint is the message."""
        earned, checks, first = 0.0, 0, ""
        found: _mistakes.Found | None = None
        for part in self.parts:
            try:
                count = part.test(fn)
            except NotImplementedError:
                not_done = _mistakes.fixed_template("not-done")
                mistake = f"{self.grade_id}/not-done"
                return Outcome("not done", 0.0, self.points, "not done yet", 0, mistake, not_done)
            except CheckFailed as failure:
                if found is None:
                    first, found = str(failure), failure.found()
                continue
            earned += part.points
            checks += count if isinstance(count, int) and not isinstance(count, bool) else 0
        if found is None:
            return Outcome("pass", earned, self.points, first, checks)
        mistake = _mistakes.mistake_id(self.grade_id, found)
        return Outcome("fail", earned, self.points, first, checks, mistake, found.template)

    @property
    def reference_name(self) -> str:
        return f"{self.reference.__module__}.{self.reference.__qualname__}"

    def __call__(self, fn: F) -> F:
        """Check the learner's `fn`; return the function the chapter goes on with."""
        outcome = self.run(fn)
        message = outcome.message
        if outcome.status == "pass":
            message = f"all {outcome.checks} checks pass" if outcome.checks else "passes"
        _results[self.grade_id] = Result(
            self.grade_id, outcome.status, outcome.points, outcome.max_points, message
        )
        if outcome.status == "fail":
            if outcome.mistake in _met:
                _met[outcome.mistake].count += 1
            else:
                _met[outcome.mistake] = Met(outcome.mistake, outcome.template)
        if outcome.status == "pass":
            print(f"✓ {self.grade_id}: {message}.")
            return fn
        if outcome.status == "not done":
            print(
                f"○ {self.grade_id}: not done yet - the chapter goes on with the library's "
                f"`{self.reference_name}`.\n  Fill in the cell above and run this check again."
            )
            return self.reference  # type: ignore[return-value]
        self._go_on_with_reference(fn)
        earned = f" ({outcome.points:g} of {outcome.max_points:g} points)" if outcome.points else ""
        raise CheckFailed(
            f"{self.grade_id}{earned}: {message}\n(Until this check passes, the cells below use "
            f"the library's `{self.reference_name}`.)"
        )

    def _go_on_with_reference(self, fn: Callable[..., Any]) -> None:
        # The check cell's assignment never happens when the check raises: re-bind the name in
        # the notebook, as the grader does, so the next exercises are not marked down for this one.
        try:
            from IPython import get_ipython
        except ImportError:  # pragma: no cover - IPython comes with Jupyter
            return
        shell = get_ipython()
        namespace = getattr(shell, "user_ns", None)
        if isinstance(namespace, dict) and namespace.get(self.name) is fn:
            namespace[self.name] = self.reference


def results() -> list[Result]:
    """Every check run so far in this session, in order."""
    return list(_results.values())


def met() -> list[Met]:
    """The mistakes the checks found in this session, in the order first met, each once with
    the number of check runs that found it (fixed since, or not)."""
    return [Met(m.mistake, m.template, m.count) for m in _met.values()]


SHOWN_TEMPLATE = 110  # characters of a template in the summary's list of mistakes


def summary() -> str:
    """Print and return the local score of the checks run in this session, then the mistakes
    the checks found on the way (every failed run, not only the last state)."""
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
        found = met()
        if found:
            lines += ["", "Mistakes met on the way (in order; x N: found by N check runs):"]
            for m in found:
                shown = " ".join(m.template.split())
                if len(shown) > SHOWN_TEMPLATE:
                    shown = shown[: SHOWN_TEMPLATE - 1].rstrip() + "…"
                lines.append(f"- {m.mistake} x {m.count}: {shown}")
        text = "\n".join(lines)
    print(text)
    return text
