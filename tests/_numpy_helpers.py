"""Shared helpers for the NumPy backend's gradient-check tests (not a test module)."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from course_lib.gradcheck import numerical_gradient, rel_error
from course_lib.numpy.module import Module

TOL = 1e-6  # the course's bar: max relative error of every entry


def check_module(
    module: Module, x: np.ndarray, forward: Callable[[np.ndarray], np.ndarray], seed: int = 0
) -> dict[str, float]:
    """Relative errors of `module`'s backward against finite differences, for the input "x" and
    every parameter, with the loss sum(forward(x) * G) for a fixed random G.

    The five-point stencil (order 4) keeps the finite differences' own truncation error far below
    the bar: with central differences (order 2) an entry a thousand times smaller than the largest
    one already sits at 1e-6 relative error in a correct backward.
    """
    rng = np.random.default_rng(seed)
    upstream = rng.normal(size=forward(x).shape)

    def loss(_: np.ndarray) -> float:
        return float(np.sum(forward(x) * upstream))

    module.zero_grad()
    forward(x)
    dx = module.backward(upstream.copy())
    analytic = {name: g.copy() for name, g in module.gradients().items()}
    errors = {"x": rel_error(dx, numerical_gradient(loss, x, h=1e-4, order=4))}
    for name, param in module.parameters().items():
        errors[name] = rel_error(analytic[name], numerical_gradient(loss, param, h=1e-4, order=4))
    return errors
