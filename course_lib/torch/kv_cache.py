"""`KVCache`: the keys and values of the positions a model has already read, for generation.

The twin of `numpy/kv_cache.py`: the prompt is read once, then each new token costs one
position. Row b of a batch holds `lengths[b]` positions; its next tokens go there and after.
"""

from __future__ import annotations

from typing import Any

import torch

from course_lib.config import ModelConfig
from course_lib.inputs import check_cache_room

__all__ = ["KVCache"]


class KVCache:
    """Per layer, keys and values (batch, heads, max_seq_len, head_dim); `lengths` (batch,)."""

    def __init__(
        self, config: ModelConfig, batch: int, dtype: torch.dtype, device: torch.device
    ) -> None:
        shape = (batch, config.n_heads, config.max_seq_len, config.head_dim)
        where: dict[str, Any] = {"dtype": dtype, "device": device}
        self.keys = [torch.zeros(shape, **where) for _ in range(config.n_layers)]
        self.values = [torch.zeros(shape, **where) for _ in range(config.n_layers)]
        self.lengths = torch.zeros(batch, dtype=torch.long, device=device)  # positions per row
        self.max_seq_len = config.max_seq_len

    def positions(self, t: int) -> torch.Tensor:
        """(batch, t) positions of the next t tokens of each row; a ValueError past the limit."""
        check_cache_room(self.lengths, t, self.max_seq_len)
        return self.lengths[:, None] + torch.arange(t, device=self.lengths.device)  # (B, T)

    def truncate(self, lengths: Any) -> None:
        """Row b keeps its first `lengths[b]` positions and goes on from there: what it held after
        them (the padding after a prompt shorter than the batch's longest) is overwritten."""
        self.lengths = torch.tensor(lengths, dtype=torch.long, device=self.lengths.device)  # a copy

    def keep(self, rows: Any) -> None:
        """Keep only these rows (e.g. the texts not finished yet), in this order."""
        rows = torch.as_tensor(rows, dtype=torch.long, device=self.lengths.device)
        self.lengths = self.lengths[rows]
        used = int(self.lengths.max()) if len(rows) else 0  # the slots any row still reads
        self.keys = [self._rows(k, rows, used) for k in self.keys]
        self.values = [self._rows(v, rows, used) for v in self.values]

    @staticmethod
    def _rows(tensor: torch.Tensor, rows: torch.Tensor, used: int) -> torch.Tensor:
        """tensor[rows] (batch, heads, max_seq_len, head_dim), moved to the first rows in place;
        only the slots in use are copied (a row never reads past its own position)."""
        tensor[: len(rows), :, :used] = tensor[rows, :, :used]  # the right side is a copy
        return tensor[: len(rows)]
