"""`LayerNorm`: normalise each position's features to mean 0, variance 1, then scale and shift.

Matches `torch.nn.LayerNorm(d_model, eps)`: population variance, sqrt(var + eps).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from course_lib.numpy.module import Module

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
        centred = x - x.mean(axis=-1, keepdims=True)  # (..., D)
        var = np.mean(centred * centred, axis=-1, keepdims=True)  # (..., 1)
        inv_std = 1.0 / np.sqrt(var + np.asarray(self.eps, dtype=x.dtype))  # (..., 1)
        x_hat = centred * inv_std
        self._cache = (x_hat, inv_std)
        return x_hat * self.weight + self.bias

    def backward(self, grad: np.ndarray) -> np.ndarray:
        """(..., d_model) -> gradient for x; adds into weight's and bias's gradients."""
        if self._cache is None:
            raise RuntimeError("LayerNorm.backward called before forward")
        x_hat, inv_std = self._cache
        d = grad.shape[-1]
        g2 = grad.reshape(-1, d)
        self._grads["weight"] += np.einsum("nd,nd->d", g2, x_hat.reshape(-1, d))
        self._grads["bias"] += g2.sum(axis=0)
        d_xhat = grad * self.weight  # (..., D)
        # dx = (dxhat - mean(dxhat) - x_hat * mean(dxhat * x_hat)) / sqrt(var + eps)
        dx = d_xhat - d_xhat.mean(axis=-1, keepdims=True)
        dx -= x_hat * (d_xhat * x_hat).mean(axis=-1, keepdims=True)
        dx *= inv_std
        return dx
