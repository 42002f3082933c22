"""`Embeddings`: token embedding plus a positional embedding (learned table or fixed sinusoids).

The twin of `numpy/embeddings.py`; sinusoidal positions are a buffer, not a parameter, so
they are not in the state_dict (as in the NumPy backend).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch import nn

from course_lib.config import ModelConfig
from course_lib.inputs import check_token_ids
from course_lib.numpy import embeddings as numpy_embeddings
from course_lib.positions import sinusoidal_positions as position_table
from course_lib.torch.module import copy_numpy_weights, placement

__all__ = ["Embeddings", "sinusoidal_positions"]


def sinusoidal_positions(
    max_seq_len: int, d_model: int, dtype: Any = torch.float64, device: Any = None
) -> torch.Tensor:
    """(max_seq_len, d_model) table of sines (even columns) and cosines (odd columns): the NumPy
    backend's numbers (`course_lib.positions`), as a tensor of `dtype` on `device`."""
    return torch.as_tensor(position_table(max_seq_len, d_model), dtype=dtype, device=device)


def _id_range(ids: torch.Tensor) -> tuple[int, int]:
    low, high = torch.aminmax(ids)  # one pass, one device sync
    return int(low), int(high)


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
            table = sinusoidal_positions(config.max_seq_len, config.d_model, **where)
            self.register_buffer("sinusoids", table, persistent=False)
        copy_numpy_weights(self, numpy_embeddings.Embeddings(config, seed, dtype=np.float64))

    def positions(self, t: int) -> torch.Tensor:
        """The (t, d_model) position vectors of the first t positions."""
        table = self.position.weight if self.position is not None else self.sinusoids
        return table[:t]

    def forward(self, ids: torch.Tensor, positions: torch.Tensor | None = None) -> torch.Tensor:
        """(batch, time) int ids -> (batch, time, d_model). `positions` (batch, time) places the
        tokens (generation with a cache); by default they sit at 0 .. time - 1."""
        check_token_ids(tuple(ids.shape), self.config, lambda: _id_range(ids))
        t = ids.shape[1]
        if positions is not None:
            table = self.position.weight if self.position is not None else self.sinusoids
            return self.token(ids) + table[positions]  # (B, T, D) + (B, T, D)
        return self.token(ids) + self.positions(t)  # (B, T, D) + (T, D)
