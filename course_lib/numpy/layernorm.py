"""`LayerNorm`: normalise each position's features to mean 0, variance 1, then scale and shift.

Matches `torch.nn.LayerNorm(d_model, eps)`: population variance, sqrt(var + eps).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from course_lib.numpy.module import Module, gradient_into

__all__ = ["LayerNorm"]


class LayerNorm(Module):
    """y = weight * (x - mean) / sqrt(var + eps) + bias over the last axis."""

    def __init__(self, d_model: int, eps: float = 1e-5, dtype: Any = np.float32) -> None:
        super().__init__(dtype)
        self.eps = eps
        self.weight = self.add_parameter("weight", np.ones(d_model))
        self.bias = self.add_parameter("bias", np.zeros(d_model))
        self._cache: tuple[np.ndarray, np.ndarray] | None = None

    def forward(self, x: np.ndarray) -> np.ndarray:
        """(..., d_model) -> (..., d_model)."""
        inv_d = np.asarray(1.0 / x.shape[-1], dtype=x.dtype)
        mean = np.add.reduce(x, axis=-1, keepdims=True)  # (..., 1): x.sum without its wrapper
        mean *= inv_d
        x_hat = np.subtract(x, mean)  # (..., D), centred for now
        var = np.einsum("...d,...d->...", x_hat, x_hat)[..., None]  # (..., 1)
        var *= inv_d
        var += np.asarray(self.eps, dtype=x.dtype)
        inv_std = np.sqrt(var, out=var)
        np.divide(1.0, inv_std, out=inv_std)  # 1 / sqrt(var + eps), (..., 1)
        x_hat *= inv_std  # now normalised, in place: no second (..., D) temporary
        self._cache = (x_hat, inv_std)
        out = np.multiply(x_hat, self.weight)
        out += self.bias
        return out

    def backward(self, grad: np.ndarray, accumulate: bool = True) -> np.ndarray:
        """(..., d_model) -> gradient for x; adds into weight's and bias's gradients (writes them
        with `accumulate=False`)."""
        if self._cache is None:
            raise RuntimeError("LayerNorm.backward called before forward")
        x_hat, inv_std = self._cache
        d = grad.shape[-1]
        g2 = grad.reshape(-1, d)
        grads = self._grads
        gradient_into(grads["weight"], accumulate, np.einsum, "nd,nd->d", g2, x_hat.reshape(-1, d))
        gradient_into(grads["bias"], accumulate, np.add.reduce, g2, axis=0)
        inv_d = np.asarray(1.0 / d, dtype=grad.dtype)
        dx = np.multiply(grad, self.weight)  # d x_hat, (..., D)
        # dx = (dxhat - mean(dxhat) - x_hat * mean(dxhat * x_hat)) / sqrt(var + eps)
        mean_dx_xhat = np.einsum("...d,...d->...", dx, x_hat)[..., None]  # (..., 1)
        mean_dx_xhat *= inv_d
        mean_dx = np.add.reduce(dx, axis=-1, keepdims=True)
        mean_dx *= inv_d
        dx -= mean_dx
        dx -= x_hat * mean_dx_xhat
        dx *= inv_std
        return dx
