"""`Linear`: y = x W^T + b, the weight stored (out, in) like `torch.nn.Linear`."""

from __future__ import annotations

from typing import Any

import numpy as np

from course_lib.numpy.module import Module, as_rng, gradient_into

__all__ = ["Linear"]


class Linear(Module):
    """y = x @ weight.T + bias on (..., d_in) -> (..., d_out); weights drawn from N(0, std^2)."""

    def __init__(
        self,
        d_in: int,
        d_out: int,
        *,
        bias: bool = True,
        std: float | None = None,
        seed: int | np.random.Generator | None = 0,
        dtype: Any = np.float32,
    ) -> None:
        super().__init__(dtype)
        rng = as_rng(seed)
        std = (1.0 / d_in) ** 0.5 if std is None else std
        self.weight = self.add_parameter("weight", rng.normal(0.0, std, size=(d_out, d_in)))
        self.bias = self.add_parameter("bias", np.zeros(d_out)) if bias else None
        self._x: np.ndarray | None = None

    def forward(self, x: np.ndarray) -> np.ndarray:
        """(..., d_in) -> (..., d_out)."""
        self._x = x
        y = x.reshape(-1, x.shape[-1]) @ self.weight.T  # (N, d_out): one 2-D matmul
        if self.bias is not None:
            y += self.bias
        return y.reshape(*x.shape[:-1], y.shape[-1])

    def backward(self, grad: np.ndarray, accumulate: bool = True) -> np.ndarray:
        """(..., d_out) -> (..., d_in); adds into the weight's and bias's gradients (writes them
        with `accumulate=False`)."""
        if self._x is None:
            raise RuntimeError("Linear.backward called before forward")
        x2 = self._x.reshape(-1, self._x.shape[-1])  # (N, d_in)
        g2 = grad.reshape(-1, grad.shape[-1])  # (N, d_out)
        grads = self._grads
        gradient_into(grads["weight"], accumulate, np.matmul, g2.T, x2)  # (d_out, d_in)
        if self.bias is not None:
            gradient_into(grads["bias"], accumulate, np.add.reduce, g2, axis=0)  # g2.sum(axis=0)
        return (g2 @ self.weight).reshape(*grad.shape[:-1], x2.shape[-1])  # (..., d_in)
