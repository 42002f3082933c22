"""Finite-difference gradients and the relative error used to compare them with hand-written ones.

Both work in float64. In float32 a loss keeps about 7 significant digits, and a step of h = 1e-5
leaves only one or two of them in f(x + h) - f(x - h): measured on layer norm, a matmul and a
cross-entropy, the rounding alone gives relative errors of 2e-2 to 1 in the typical entry and 1.0
in the worst, as large as those of a real mistake. In float64 a correct backward gives 1e-11 to
1e-7 (the tests allow 1e-6); a missing factor or a wrong term gives something near 1e-2 to 1.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

__all__ = ["numerical_gradient", "rel_error"]


def numerical_gradient(
    f: Callable[[np.ndarray], float], x: np.ndarray, h: float = 1e-5, order: int = 2
) -> np.ndarray:
    """d f(x) / d x by central differences, (f(x + h) - f(x - h)) / 2h, one entry at a time.

    `f` is called with `x` itself after nudging one entry in place (each entry is put back), so
    `f` may use its argument or a closure over the same array. `x` must be a float64 array.
    ``order=4`` uses the five-point stencil (f(x-2h) - 8f(x-h) + 8f(x+h) - f(x+2h)) / 12h, whose
    error is O(h^4): with h=1e-4 it resolves gradient entries a million times smaller than the
    largest one, which a whole model's gradient has.
    """
    if order not in (2, 4):
        raise ValueError(f"order must be 2 or 4, got {order}")
    if not isinstance(x, np.ndarray):
        raise TypeError(f"numerical_gradient needs a NumPy array, got {type(x).__name__}")
    if x.dtype != np.float64:
        raise TypeError(
            f"numerical_gradient needs a float64 array, got {x.dtype}: in lower precision the "
            "rounding swamps the difference; convert with x.astype(np.float64)"
        )
    grad = np.zeros_like(x)
    it = np.nditer(x, flags=["multi_index"], op_flags=[["readwrite"]])
    for _ in it:
        index = it.multi_index
        original = x[index]

        def at(step: float, index: tuple = index, original: float = original) -> float:
            x[index] = original + step
            return float(f(x))

        if order == 2:
            grad[index] = (at(h) - at(-h)) / (2 * h)
        else:
            grad[index] = (at(-2 * h) - 8 * at(-h) + 8 * at(h) - at(2 * h)) / (12 * h)
        x[index] = original
    return grad


def rel_error(a: np.ndarray, b: np.ndarray) -> float:
    """Largest |a - b| / max(1e-8, |a| + |b|) over all entries; 0.0 for identical arrays."""
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    if a.shape != b.shape:
        raise ValueError(f"rel_error: shapes differ, {a.shape} vs {b.shape}")
    if a.size == 0:
        return 0.0
    return float(np.max(np.abs(a - b) / np.maximum(1e-8, np.abs(a) + np.abs(b))))
