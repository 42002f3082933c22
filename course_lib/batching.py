"""Texts -> token id sequences -> padded (inputs, targets, mask) batches. No backend imports.

A sequence of ids ``[a, b, c, </s>]`` gives inputs ``[a, b, c]`` and targets ``[b, c, </s>]``
(the next token at every position). Shorter sequences in a batch are padded on the right with
`pad_id`; the mask is True on real input positions, and padded targets are `pad_id`, which the
loss ignores.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np

__all__ = ["encode_texts", "make_batches", "pad_batch"]


def encode_texts(vocab: Any, texts: Sequence[str], max_len: int | None = None) -> list[list[int]]:
    """Each text as a list of ids (unknown words and over-long texts raise the vocab's errors)."""
    if isinstance(texts, str):
        raise TypeError("encode_texts expects a list of texts, got one string; wrap it in [...]")
    sequences = []
    for i, text in enumerate(texts):
        ids = list(vocab.encode(text, max_len=max_len))
        if len(ids) < 2:
            raise ValueError(
                f"text {i} ({text!r:.40}) has {len(ids)} token(s); next-token training needs at "
                "least 2 (add </s> at its end)"
            )
        sequences.append(ids)
    return sequences


def pad_batch(
    sequences: Sequence[Sequence[int]], pad_id: int = 0
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(inputs, targets, mask), each (batch, longest - 1): inputs/targets int64, mask bool."""
    if not sequences:
        raise ValueError("pad_batch: no sequences")
    t = max(len(s) for s in sequences) - 1
    b = len(sequences)
    inputs = np.full((b, t), pad_id, dtype=np.int64)
    targets = np.full((b, t), pad_id, dtype=np.int64)
    mask = np.zeros((b, t), dtype=bool)
    for row, seq in enumerate(sequences):
        n = len(seq) - 1
        inputs[row, :n] = seq[:-1]
        targets[row, :n] = seq[1:]
        mask[row, :n] = True
    return inputs, targets, mask


def make_batches(
    sequences: Sequence[Sequence[int]],
    batch_size: int = 1,
    *,
    pad_id: int = 0,
    shuffle: bool = True,
    rng: np.random.Generator | int | None = 0,
) -> Iterator[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """One epoch of padded batches; `shuffle` orders them by `rng` (a seed or a Generator)."""
    if not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f"batch_size must be a positive int, got {batch_size!r}")
    order = np.arange(len(sequences))
    if shuffle:
        generator = rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)
        generator.shuffle(order)
    for start in range(0, len(order), batch_size):
        yield pad_batch([sequences[i] for i in order[start : start + batch_size]], pad_id)
