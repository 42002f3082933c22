"""`OutputProjection`: hidden states -> logits over the vocabulary, x @ weight.T + bias.

With tied weights the projection reuses the token embedding table (vocab, d_model) as its weight
and adds its gradient into that table's gradient; it then owns only `bias`.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from course_lib.config import ModelConfig
from course_lib.numpy.module import Module, as_rng, gradient_into

__all__ = ["OutputProjection"]


class OutputProjection(Module):
    """(batch, time, d_model) -> (batch, time, vocab); `tied` is the token table's Module."""

    def __init__(
        self,
        config: ModelConfig,
        seed: int | np.random.Generator | None = 0,
        dtype: Any = np.float32,
        tied: Module | None = None,
    ) -> None:
        super().__init__(dtype)
        rng = as_rng(seed)
        self._tied = tied
        if tied is None:
            std = (1.0 / config.d_model) ** 0.5
            self.add_parameter(
                "weight", rng.normal(0.0, std, size=(config.vocab_size, config.d_model))
            )
        self.bias = self.add_parameter("bias", np.zeros(config.vocab_size))
        self._x: np.ndarray | None = None

    @property
    def weight(self) -> np.ndarray:
        """(vocab, d_model): our own, or the token embedding table when tied."""
        return self._tied._params["weight"] if self._tied is not None else self._params["weight"]

    def _weight_grad(self) -> np.ndarray:
        return self._tied._grads["weight"] if self._tied is not None else self._grads["weight"]

    def forward(self, x: np.ndarray) -> np.ndarray:
        """(batch, time, d_model) -> logits (batch, time, vocab)."""
        self._x = x
        logits = x.reshape(-1, x.shape[-1]) @ self.weight.T  # (N, V)
        logits += self.bias
        return logits.reshape(*x.shape[:-1], logits.shape[-1])

    def backward(self, grad: np.ndarray, accumulate: bool = True) -> np.ndarray:
        """d logits (batch, time, vocab) -> gradient for x (batch, time, d_model); adds into the
        weight's (or tied table's) and bias's gradients (writes them with `accumulate=False`)."""
        if self._x is None:
            raise RuntimeError("OutputProjection.backward called before forward")
        g2 = grad.reshape(-1, grad.shape[-1])  # (N, V)
        x2 = self._x.reshape(-1, self._x.shape[-1])
        gradient_into(self._weight_grad(), accumulate, np.matmul, g2.T, x2)  # (V, D)
        gradient_into(self._grads["bias"], accumulate, np.add.reduce, g2, axis=0)  # g2.sum(0)
        return (g2 @ self.weight).reshape(self._x.shape)
