"""`FeedForward`: d_model -> d_hidden (ReLU) -> d_model, He-initialised, at each position."""

from __future__ import annotations

from typing import Any

import numpy as np

from course_lib.config import ModelConfig
from course_lib.numpy.linear import Linear
from course_lib.numpy.module import Module, as_rng

__all__ = ["FeedForward"]


class FeedForward(Module):
    """down(relu(up(x))) with `up` (d_hidden, d_model) and `down` (d_model, d_hidden)."""

    def __init__(
        self,
        config: ModelConfig,
        seed: int | np.random.Generator | None = 0,
        dtype: Any = np.float32,
    ) -> None:
        super().__init__(dtype)
        rng = as_rng(seed)
        d, h = config.d_model, config.d_hidden
        # He init: std sqrt(2 / fan_in) keeps the activations' scale through a ReLU.
        self.up = self.add_module("up", Linear(d, h, std=(2.0 / d) ** 0.5, seed=rng, dtype=dtype))
        self.down = self.add_module(
            "down", Linear(h, d, std=(2.0 / h) ** 0.5, seed=rng, dtype=dtype)
        )
        self._active: np.ndarray | None = None

    def forward(self, x: np.ndarray) -> np.ndarray:
        """(batch, time, d_model) -> (batch, time, d_model)."""
        hidden = self.up(x)  # (B, T, H)
        self._active = hidden > 0
        hidden *= self._active  # ReLU in place
        return self.down(hidden)

    def backward(self, grad: np.ndarray, accumulate: bool = True) -> np.ndarray:
        """(batch, time, d_model) -> gradient for x (`accumulate`: see `Module`)."""
        if self._active is None:
            raise RuntimeError("FeedForward.backward called before forward")
        d_hidden = self.down.backward(grad, accumulate)
        d_hidden *= self._active  # ReLU passes gradient only where its input was positive
        return self.up.backward(d_hidden, accumulate)
