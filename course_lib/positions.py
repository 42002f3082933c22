"""The fixed sinusoidal position table, which both backends' `Embeddings` add to the tokens.

``P[pos, 2i] = sin(pos / 10000^(2i / d_model))``,
``P[pos, 2i + 1] = cos(pos / 10000^(2i / d_model))``.

It is computed once, in float64 NumPy, and each backend casts it to its own dtype (and device),
so both add exactly the same numbers. Not trained, not in the state_dict.
"""

from __future__ import annotations

import numpy as np

__all__ = ["sinusoidal_positions"]


def sinusoidal_positions(max_seq_len: int, d_model: int) -> np.ndarray:
    """(max_seq_len, d_model) float64 table of sines (even columns) and cosines (odd columns)."""
    pos = np.arange(max_seq_len)[:, None]  # (T, 1)
    two_i = np.arange(0, d_model, 2)  # (ceil(d/2),)
    angle = pos / np.power(10000.0, two_i / d_model)  # (T, ceil(d/2))
    table = np.zeros((max_seq_len, d_model))
    table[:, 0::2] = np.sin(angle)
    table[:, 1::2] = np.cos(angle[:, : d_model // 2])
    return table
