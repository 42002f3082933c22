"""Batches of similar lengths (bucketing), so a batch pads its rows far less.

`make_batches` pads every batch to its longest row; with texts of 6 to 29 tokens in random order
about a fifth of a batch of 16 is padding, computed and thrown away. Here each epoch shuffles the
texts, cuts the order into pools of `pool` batches, sorts each pool by length and cuts it into
batches, then shuffles the batches: still a fresh, seeded order every epoch, but each batch holds
texts of nearly the same length. No backend imports.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import numpy as np

from course_lib.batching import pad_batch

__all__ = ["bucketed_batches", "padding_fraction"]


def bucketed_batches(
    sequences: Sequence[Sequence[int]],
    batch_size: int,
    *,
    pad_id: int = 0,
    pool: int = 8,
    rng: np.random.Generator | int | None = 0,
) -> Iterator[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """One epoch of padded (inputs, targets, mask) batches of similar lengths, in a seeded order;
    every sequence appears once, as in `make_batches`."""
    if not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f"batch_size must be a positive int, got {batch_size!r}")
    if not isinstance(pool, int) or pool < 1:
        raise ValueError(f"pool must be a positive int (batches sorted together), got {pool!r}")
    generator = rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)
    order = generator.permutation(len(sequences))
    batches: list[np.ndarray] = []
    span = batch_size * pool
    for start in range(0, len(order), span):
        chunk = order[start : start + span]
        chunk = chunk[np.argsort([len(sequences[i]) for i in chunk], kind="stable")]
        batches += [chunk[i : i + batch_size] for i in range(0, len(chunk), batch_size)]
    for b in generator.permutation(len(batches)):
        yield pad_batch([sequences[i] for i in batches[b]], pad_id)


def padding_fraction(batches: Sequence[tuple[np.ndarray, np.ndarray, np.ndarray]]) -> float:
    """The share of (batch x time) positions that are padding, over all `batches`."""
    total = sum(mask.size for _, _, mask in batches)
    return 1.0 - sum(int(mask.sum()) for _, _, mask in batches) / max(total, 1)
