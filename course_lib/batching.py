"""Texts -> token id sequences -> padded (inputs, targets, mask) batches. No backend imports.

A sequence of ids ``[a, b, c, </s>]`` gives inputs ``[a, b, c]`` and targets ``[b, c, </s>]``
(the next token at every position). Shorter sequences in a batch are padded on the right with
`pad_id`; the mask is True on real input positions, and padded targets are `pad_id`, which the
loss ignores.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from typing import Any

import numpy as np

__all__ = ["encode_texts", "make_batches", "pad_batch", "run_epochs", "training_sequences"]


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


def training_sequences(
    vocab: Any, texts: Sequence[str], vocab_size: int, max_seq_len: int, epochs: Any
) -> list[list[int]]:
    """The texts as id sequences for a model of `vocab_size` reading `max_seq_len` tokens; a
    ValueError that says what to do when the epochs, the vocabulary or a text will not do."""
    if not isinstance(epochs, int) or epochs < 0:
        raise ValueError(f"epochs must be a non-negative int, got {epochs!r}")
    if len(vocab) != vocab_size:
        raise ValueError(
            f"the vocabulary has {len(vocab)} tokens but the model was built for "
            f"{vocab_size}; build the model with ModelConfig(vocab_size=len(vocab))"
        )
    return encode_texts(vocab, texts, max_len=max_seq_len + 1)


def run_epochs(
    sequences: Sequence[Sequence[int]],
    step: Callable[[np.ndarray, np.ndarray, np.ndarray], Any],
    epoch_loss: Callable[[list[Any]], float],
    *,
    epochs: int,
    batch_size: int,
    pad_id: int,
    shuffle: bool,
    seed: int,
    progress: bool,
    desc: str,
    print_every: int,
    callback: Callable[[int, float], Any] | None,
) -> list[float]:
    """The epoch loop both backends' `train` share: `step(inputs, targets, mask)` on every batch
    in the seeded order, `epoch_loss(batch losses)` per epoch, a progress bar, prints, callback."""
    rng = np.random.default_rng(seed)
    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=epochs, desc=desc, unit="epoch", leave=True)
    losses: list[float] = []
    try:
        for epoch in range(epochs):
            batches = make_batches(sequences, batch_size, pad_id=pad_id, shuffle=shuffle, rng=rng)
            loss = epoch_loss([step(inputs, targets, mask) for inputs, targets, mask in batches])
            losses.append(loss)
            if bar is not None:
                bar.update(1)
                bar.set_postfix(loss=f"{loss:.4f}")
            if print_every and (epoch + 1) % print_every == 0:
                print(f"{desc} epoch {epoch + 1}/{epochs}: loss {loss:.4f}")
            if callback is not None:
                callback(epoch, loss)
    finally:
        if bar is not None:
            bar.close()
    return losses
