"""What every chapter's checks share: comparing arrays, reading a learner's result against the
exercise's contract, and making sure the inputs came back unchanged.

A check sees the learner's result after its trip through `course_lib.checks.wire`, so these
helpers only ever meet plain data: numbers, strings, lists, tuples, dicts and NumPy arrays. Each
one either returns the value in the form the check compares, or raises `CheckFailed` with a hint
that says what came back and what the exercise asks for.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from course_lib.checks import CheckFailed, expect

__all__ = [
    "array_result",
    "close",
    "expect_shape",
    "gradcheck",
    "ids_result",
    "kind_of",
    "number_result",
    "sequence_result",
    "show",
    "snapshot",
    "expect_unchanged",
]


def show(value: Any, limit: int = 160) -> str:
    """`repr(value)`, cut to `limit` characters."""
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def kind_of(value: Any) -> str:
    """What a value is, in a learner's words: 'a list', 'an array of shape (2, 3)', 'None'."""
    if value is None:
        return "None"
    if isinstance(value, np.ndarray):
        return f"an array of shape {value.shape}"
    if isinstance(value, (list, tuple)):
        return f"a {type(value).__name__} of {len(value)} items"
    name = type(value).__name__
    return f"{'an' if name[:1] in 'aeiou' else 'a'} {name}"


def close(a: Any, b: Any, tol: float = 1e-8) -> bool:
    """Same shape, all finite, and equal up to `tol` relative to the size of `b`."""
    try:
        a = np.asarray(a, dtype=float)
        b = np.asarray(b, dtype=float)
    except (TypeError, ValueError):
        return False
    if a.shape != b.shape or not np.all(np.isfinite(a)):
        return False
    scale = max(1.0, float(np.max(np.abs(b), initial=0.0)))
    return bool(np.max(np.abs(a - b), initial=0.0) <= tol * scale)


def array_result(value: Any, what: str) -> np.ndarray:
    """`value`, which the exercise says is a NumPy array of numbers, as a float array."""
    expect(value is not None, f"{what} returned None: did you forget the `return`?")
    if isinstance(value, np.generic):  # a NumPy scalar: the shape check says what is wrong
        value = np.asarray(value)
    if isinstance(value, (list, tuple)):
        raise CheckFailed(
            f"{what} returned {kind_of(value)}; it should return a NumPy array (the chapter goes "
            "on to use .shape and array arithmetic on it): build it with NumPy operations, or "
            "wrap the result in np.array(...)."
        )
    expect(
        isinstance(value, np.ndarray),
        f"{what} should return a NumPy array of numbers, got {kind_of(value)}.",
    )
    expect(
        value.dtype.kind in "biuf",
        f"{what} should return an array of real numbers, got dtype {value.dtype}.",
    )
    return value.astype(float)


def sequence_result(value: Any, n: int, what: str, names: str) -> tuple[Any, ...]:
    """The `n` results of a function that returns a tuple `(names)`; a list of n is fine too."""
    expect(value is not None, f"{what} returned None: did you forget the `return`?")
    expect(
        isinstance(value, (tuple, list)) and len(value) == n,
        f"{what} should return a tuple of {n}, ({names}), got {kind_of(value)}.",
    )
    return tuple(value)


def ids_result(value: Any, what: str) -> list[int]:
    """Token ids or row indices: a list of ints or a 1-D integer array, as a list of ints."""
    expect(value is not None, f"{what} returned None: did you forget the `return`?")
    if isinstance(value, (list, tuple)) or (isinstance(value, np.ndarray) and value.ndim == 1):
        items = list(value)
        if all(
            isinstance(i, (int, np.integer)) and not isinstance(i, (bool, np.bool_)) for i in items
        ):
            return [int(i) for i in items]
    raise CheckFailed(
        f"{what} should return the ids as a list of ints (or a 1-D integer array), got "
        f"{kind_of(value)}: {show(value, 80)}."
    )


def number_result(value: Any, what: str) -> float:
    """A single number (a Python or NumPy scalar, or a 0-d array) as a float."""
    expect(value is not None, f"{what} returned None: did you forget the `return`?")
    if isinstance(value, np.ndarray):
        expect(
            value.ndim == 0 and value.dtype.kind in "biuf",
            f"{what} should return one number (a float), got {kind_of(value)}: average down to "
            "a single number, or take float(...) of a one-element result.",
        )
        return float(value)
    expect(
        isinstance(value, (int, float, np.integer, np.floating))
        and not isinstance(value, (bool, np.bool_)),
        f"{what} should return one number (a float), got {kind_of(value)}: {show(value, 80)}.",
    )
    return float(value)


def expect_shape(out: np.ndarray, shape: tuple[int, ...], what: str, why: str) -> None:
    """A hint that names both shapes when `out` has another shape than `shape`."""
    expect(out.shape == shape, f"{what} returned shape {out.shape}, expected {shape}: {why}")


def snapshot(*values: Any) -> list[Any]:
    """Deep copies of the arguments a check passes, to compare with after the call."""
    import copy

    return [copy.deepcopy(v) for v in values]


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        if not (isinstance(a, np.ndarray) and isinstance(b, np.ndarray)):
            return False
        if a.shape != b.shape or a.dtype != b.dtype:
            return False
        return bool(np.array_equal(a, b, equal_nan=a.dtype.kind in "fc"))
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        return type(a) is type(b) and len(a) == len(b) and all(map(_same, a, b))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    return bool(a == b)


def expect_unchanged(
    what: str, names: Sequence[str], before: Sequence[Any], after: Sequence[Any]
) -> None:
    """A hint naming the first argument that the call changed in place."""
    for name, old, new in zip(names, before, after, strict=True):
        expect(
            _same(old, new),
            f"{what} changed its argument `{name}` in place; the caller's `{name}` must stay as "
            f"it was. Compute into a new array (x = x - m, not x -= m; no x[...] = ... on an "
            "argument).",
        )


def gradcheck(
    analytic: np.ndarray, loss: Callable[[np.ndarray], float], x: np.ndarray, name: str
) -> None:
    """A hint when a hand-written gradient disagrees with finite differences of `loss` at `x`."""
    from course_lib.gradcheck import numerical_gradient, rel_error

    numeric = numerical_gradient(loss, np.array(x, dtype=float))
    error = rel_error(analytic, numeric)
    expect(
        error < 1e-6,
        f"{name} disagrees with finite differences (relative error {error:.1e}, should be < 1e-6).",
    )
