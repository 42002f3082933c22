"""What a model takes in - token ids (batch, time) and a padding mask - checked the same way, with
the same messages, in both backends. The checks read shapes, dtypes and the ids' range, so they
work on NumPy arrays and torch tensors alike; each backend converts its input first and computes
the range its own way (`id_range`).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from course_lib.config import ModelConfig

__all__ = ["as_batch", "check_cache_room", "check_token_ids"]


def as_batch(ids: Any, mask: Any, pad_id: int, integer: bool) -> tuple[Any, Any]:
    """`LLM`'s inputs as (ids (batch, time), mask (batch, time) or None when nothing is padded).

    1-D ids (and mask) are one sequence: a batch of one. `mask=None` means ids != pad_id.
    `integer` says whether the ids' dtype holds whole numbers; a ValueError says what is wrong.
    """
    if ids.ndim == 1:
        ids = ids[None, :]  # one sequence: a batch of one
    if ids.ndim != 2 or (math.prod(ids.shape) and not integer):
        raise ValueError(
            f"LLM expects integer token ids of shape (batch, time), got {ids.dtype} "
            f"{tuple(ids.shape)}"
        )
    if mask is None:
        mask = ids != pad_id
    else:
        if mask.ndim == 1:
            mask = mask[None, :]
        if tuple(mask.shape) != tuple(ids.shape):
            raise ValueError(
                f"mask {tuple(mask.shape)} must have the ids' shape {tuple(ids.shape)}"
            )
    if bool(mask.all()):
        mask = None  # no padding: checked once here, not again in every attention layer
    return ids, mask


def check_token_ids(
    shape: tuple[int, ...], config: ModelConfig, id_range: Callable[[], tuple[int, int]]
) -> None:
    """A ValueError unless ids of `shape` fit `Embeddings`: (batch, time), at most max_seq_len
    positions, every id in [0, vocab_size); `id_range()` gives the smallest and largest id."""
    if len(shape) != 2:
        raise ValueError(f"Embeddings expects ids of shape (batch, time), got {tuple(shape)}")
    if shape[1] > config.max_seq_len:
        raise ValueError(
            f"sequence of {shape[1]} tokens is longer than max_seq_len={config.max_seq_len}; "
            "shorten it or build the model with a larger max_seq_len"
        )
    if math.prod(shape):
        low, high = id_range()
        if low < 0 or high >= config.vocab_size:
            raise ValueError(
                f"token ids must be in [0, {config.vocab_size}), got ids from {low} to {high}; "
                f"encode the text with the same vocabulary the model was built for"
            )


def check_cache_room(lengths: Any, t: int, max_seq_len: int) -> None:
    """A ValueError when `t` more positions would take a row of a key/value cache whose rows hold
    `lengths` (batch,) positions past max_seq_len: generation must stop at the length limit."""
    if t and len(lengths) and int(lengths.max()) + t > max_seq_len:
        raise ValueError(
            f"the cache holds {int(lengths.max())} positions; {t} more would pass "
            f"max_seq_len={max_seq_len}. Stop generating at the model's length limit."
        )
