"""`Embeddings`: token embedding plus a positional embedding (learned table or fixed sinusoids).

The twin of `course_lib.numpy.embeddings`; sinusoidal positions are a buffer, not a parameter, so
they are not in the state_dict (as in the NumPy backend).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch import nn

from course_lib.config import ModelConfig
from course_lib.numpy import embeddings as numpy_embeddings
from course_lib.torch.module import copy_numpy_weights, placement

__all__ = ["Embeddings"]


class Embeddings(nn.Module):
    """ids (batch, time) -> token vectors + position vectors (batch, time, d_model)."""

    def __init__(
        self,
        config: ModelConfig,
        seed: int | np.random.Generator | None = 0,
        dtype: Any = None,
        device: Any = None,
    ) -> None:
        super().__init__()
        where = placement(dtype, device)
        self.config = config
        self.token = nn.Embedding(config.vocab_size, config.d_model, **where)
        if config.positional == "learned":
            self.position: nn.Embedding | None = nn.Embedding(
                config.max_seq_len, config.d_model, **where
            )
        else:
            self.position = None
            table = numpy_embeddings.sinusoidal_positions(config.max_seq_len, config.d_model)
            self.register_buffer("sinusoids", torch.as_tensor(table, **where), persistent=False)
        copy_numpy_weights(self, numpy_embeddings.Embeddings(config, seed, dtype=np.float64))

    def positions(self, t: int) -> torch.Tensor:
        """The (t, d_model) position vectors of the first t positions."""
        table = self.position.weight if self.position is not None else self.sinusoids
        return table[:t]

    def forward(self, ids: torch.Tensor, positions: torch.Tensor | None = None) -> torch.Tensor:
        """(batch, time) int ids -> (batch, time, d_model). `positions` (batch, time) places the
        tokens (generation with a cache); by default they sit at 0 .. time - 1."""
        if ids.ndim != 2:
            raise ValueError(
                f"Embeddings expects ids of shape (batch, time), got {tuple(ids.shape)}"
            )
        t = ids.shape[1]
        if t > self.config.max_seq_len:
            raise ValueError(
                f"sequence of {t} tokens is longer than max_seq_len={self.config.max_seq_len}; "
                "shorten it or build the model with a larger max_seq_len"
            )
        if ids.numel():
            low, high = (int(i) for i in torch.aminmax(ids))  # one pass, one device sync
            if low < 0 or high >= self.config.vocab_size:
                raise ValueError(
                    f"token ids must be in [0, {self.config.vocab_size}), got ids from {low} to "
                    f"{high}; encode the text with the same vocabulary the model was built for"
                )
        if positions is not None:
            table = self.position.weight if self.position is not None else self.sinusoids
            return self.token(ids) + table[positions]  # (B, T, D) + (B, T, D)
        return self.token(ids) + self.positions(t)  # (B, T, D) + (T, D)
