"""`OutputProjection`: hidden states -> logits over the vocabulary, x @ weight.T + bias.

The twin of `numpy/output.py`. With tied weights the projection reuses the token embedding
table (vocab, d_model) as its weight and owns only `bias` (so the state_dict has no
``output.weight``, as in the NumPy backend); autograd adds both uses' gradients into the table.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from course_lib.config import ModelConfig
from course_lib.numpy import output as numpy_output
from course_lib.torch.module import copy_numpy_weights, placement

__all__ = ["OutputProjection"]


class OutputProjection(nn.Module):
    """(batch, time, d_model) -> (batch, time, vocab); `tied` is the token table's module."""

    def __init__(
        self,
        config: ModelConfig,
        seed: int | np.random.Generator | None = 0,
        dtype: Any = None,
        device: Any = None,
        tied: nn.Module | None = None,
    ) -> None:
        super().__init__()
        where = placement(dtype, device)
        self._tied = [tied] if tied is not None else []  # a list: not registered as a child
        if tied is None:
            self.weight = nn.Parameter(torch.empty(config.vocab_size, config.d_model, **where))
        self.bias = nn.Parameter(torch.zeros(config.vocab_size, **where))
        if tied is None:
            copy_numpy_weights(self, numpy_output.OutputProjection(config, seed, dtype=np.float64))

    def __getattr__(self, name: str) -> Any:
        if name == "weight" and self.__dict__.get("_tied"):  # tied: `.weight` is the token table
            return self._tied[0].weight
        return super().__getattr__(name)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(batch, time, d_model) -> logits (batch, time, vocab)."""
        return F.linear(x, self.weight, self.bias)  # weight (vocab, d_model): own or tied
