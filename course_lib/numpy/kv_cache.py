"""`KVCache`: the keys and values of the positions a model has already read, for generation.

Without it every new token re-runs the whole text through the model. With it the prompt is read
once, and each new token costs one position: its query looks at the keys and values kept here.
Row b of a batch holds `lengths[b]` positions; the next tokens of that row go at those positions
and after, so rows of different lengths (prompts padded on the right) continue side by side.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from course_lib.config import ModelConfig
from course_lib.inputs import check_cache_room

__all__ = ["KVCache"]


class KVCache:
    """Per layer, keys and values (batch, heads, max_seq_len, head_dim); `lengths` (batch,)."""

    def __init__(self, config: ModelConfig, batch: int, dtype: Any = np.float32) -> None:
        shape = (batch, config.n_heads, config.max_seq_len, config.head_dim)
        self.keys = [np.zeros(shape, dtype=dtype) for _ in range(config.n_layers)]
        self.values = [np.zeros(shape, dtype=dtype) for _ in range(config.n_layers)]
        self.lengths = np.zeros(batch, dtype=np.int64)  # positions held by each row
        self.max_seq_len = config.max_seq_len

    def positions(self, t: int) -> np.ndarray:
        """(batch, t) positions of the next t tokens of each row; a ValueError past the limit."""
        check_cache_room(self.lengths, t, self.max_seq_len)
        return self.lengths[:, None] + np.arange(t)  # (B, T)

    def truncate(self, lengths: Any) -> None:
        """Row b keeps its first `lengths[b]` positions and goes on from there: what it held after
        them (the padding after a prompt shorter than the batch's longest) is overwritten."""
        self.lengths = np.array(lengths, dtype=np.int64)  # (batch,), a copy

    def keep(self, rows: Any) -> None:
        """Keep only these rows (e.g. the texts not finished yet), in this order."""
        rows = np.asarray(rows, dtype=np.int64)
        self.lengths = self.lengths[rows]
        used = int(self.lengths.max(initial=0))  # the slots any row still reads
        self.keys = [self._rows(k, rows, used) for k in self.keys]
        self.values = [self._rows(v, rows, used) for v in self.values]

    @staticmethod
    def _rows(array: np.ndarray, rows: np.ndarray, used: int) -> np.ndarray:
        """array[rows] (batch, heads, max_seq_len, head_dim), moved to the first rows in place;
        only the slots in use are copied (a row never reads past its own position)."""
        array[: len(rows), :, :used] = array[rows, :, :used]  # the right side is a copy
        return array[: len(rows)]
