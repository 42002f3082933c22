"""`FeedForward`: d_model -> d_hidden (ReLU) -> d_model, applied at each position.

The twin of `numpy/feedforward.py` (same He initialisation, drawn by the NumPy code).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from course_lib.config import ModelConfig
from course_lib.numpy import feedforward as numpy_feedforward
from course_lib.torch.module import copy_numpy_weights, placement

__all__ = ["FeedForward"]


class FeedForward(nn.Module):
    """down(relu(up(x))) with `up` (d_hidden, d_model) and `down` (d_model, d_hidden)."""

    def __init__(
        self,
        config: ModelConfig,
        seed: int | np.random.Generator | None = 0,
        dtype: Any = None,
        device: Any = None,
    ) -> None:
        super().__init__()
        where = placement(dtype, device)
        self.up = nn.Linear(config.d_model, config.d_hidden, **where)
        self.down = nn.Linear(config.d_hidden, config.d_model, **where)
        copy_numpy_weights(self, numpy_feedforward.FeedForward(config, seed, dtype=np.float64))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(batch, time, d_model) -> (batch, time, d_model)."""
        return self.down(F.relu(self.up(x)))  # (B, T, H) in between
