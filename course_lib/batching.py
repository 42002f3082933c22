"""Texts -> token id sequences -> padded (inputs, targets, mask) batches. No backend imports.

A sequence of ids ``[a, b, c, </s>]`` gives inputs ``[a, b, c]`` and targets ``[b, c, </s>]``
(the next token at every position). Shorter sequences in a batch are padded on the right with
`pad_id`; the mask is True on real input positions, and padded targets are `pad_id`, which the
loss ignores.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import numpy as np

__all__ = [
    "run_schedule",
    "TrainingDivergedError",
    "bucketed_batches",
    "check_learning_rate",
    "check_seed",
    "encode_texts",
    "make_batches",
    "pad_batch",
    "padding_fraction",
    "run_epochs",
    "training_sequences",
]


class TrainingDivergedError(ArithmeticError):
    """The loss became nan or inf: the weights are no longer usable and training stopped."""

    def __init__(self, desc: str, epoch: int, loss: float) -> None:
        self.epoch = epoch
        self.loss = loss
        super().__init__(
            f"{desc}: the loss became {loss} in epoch {epoch + 1}, so training stopped (it "
            f"diverged: the learning rate is too high for this model, most likely). The weights "
            f"are now unusable; train again with a lower learning rate."
        )


def check_learning_rate(lr: Any, largest: float = math.inf) -> float:
    """`lr` as a float, or a ValueError: a learning rate is a finite number 0 or more, and no
    larger than `largest` (the largest number the weights' dtype holds)."""
    if isinstance(lr, bool) or not isinstance(lr, (int, float, np.floating)):
        raise ValueError(f"lr must be a number, got {lr!r}")
    if not (math.isfinite(lr) and lr >= 0):
        raise ValueError(f"lr must be a finite number 0 or more, got {lr!r}")
    if lr > largest:
        raise ValueError(
            f"lr {lr:g} is larger than the largest number the weights can hold ({largest:g}); "
            f"learning rates that work here are around 1e-4 to 1e-2"
        )
    return float(lr)


def check_seed(seed: Any, name: str = "seed") -> int:
    """`seed` as an int, or a ValueError that names it: NumPy seeds are whole numbers >= 0."""
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"{name} must be a whole number 0 or more, got {seed!r}")
    return int(seed)


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


def bucketed_batches(
    sequences: Sequence[Sequence[int]],
    batch_size: int,
    *,
    pad_id: int = 0,
    pool: int = 8,
    rng: np.random.Generator | int | None = 0,
) -> Iterator[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """One epoch of padded batches of similar lengths (length buckets), in a seeded order; every
    sequence appears once, as in `make_batches`.

    With texts of 6 to 29 tokens in random order about a fifth of a batch of 16 is padding,
    computed and thrown away. Here the shuffled order is cut into pools of `pool` batches, each
    pool sorted by length and cut into batches, and the batches shuffled: still a fresh order
    every epoch, but each batch holds texts of nearly the same length."""
    if not isinstance(pool, int) or pool < 1:
        raise ValueError(f"pool must be a positive int (batches sorted together), got {pool!r}")
    generator = rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)
    for rows in _bucket_order([len(s) for s in sequences], batch_size, pool, generator):
        yield pad_batch([sequences[i] for i in rows], pad_id)


def _bucket_order(
    lengths: Sequence[int], batch_size: int, pool: int, generator: np.random.Generator
) -> list[np.ndarray]:
    """The rows of each bucketed batch, in the order the batches come (two draws of `generator`)."""
    if not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f"batch_size must be a positive int, got {batch_size!r}")
    order = generator.permutation(len(lengths))
    batches: list[np.ndarray] = []
    span = batch_size * pool
    for start in range(0, len(order), span):
        chunk = order[start : start + span]
        chunk = chunk[np.argsort([lengths[i] for i in chunk], kind="stable")]
        batches += [chunk[i : i + batch_size] for i in range(0, len(chunk), batch_size)]
    return [batches[b] for b in generator.permutation(len(batches))]


def padding_fraction(batches: Sequence[tuple[np.ndarray, np.ndarray, np.ndarray]]) -> float:
    """The share of (batch x time) positions that are padding, over all `batches`."""
    total = sum(mask.size for _, _, mask in batches)
    return 1.0 - sum(int(mask.sum()) for _, _, mask in batches) / max(total, 1)


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
    sequences = encode_texts(vocab, texts, max_len=max_seq_len + 1)
    _warn_without_end(vocab, sequences)
    return sequences


def _warn_without_end(vocab: Any, sequences: Sequence[Sequence[int]]) -> None:
    """Warn when texts (not DNA) do not end with </s>: the model would never learn to stop."""
    from course_lib.bpe import BPEVocab
    from course_lib.vocab import EOS, EOS_ID, Vocab

    if not isinstance(vocab, (Vocab, BPEVocab)):
        return
    open_ended = [i for i, ids in enumerate(sequences) if ids[-1] != EOS_ID]
    if open_ended:
        warnings.warn(
            f"{len(open_ended)} of {len(sequences)} texts do not end with {EOS} (the first is "
            f"text {open_ended[0]}): a model trained on them does not learn where an answer "
            f"stops, so generation runs on to the length limit. Add ' {EOS}' to their ends.",
            UserWarning,
            stacklevel=4,
        )


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
    start_epoch: int = 0,
    buckets: bool = False,
) -> list[float]:
    """The epoch loop both backends' `train` share: `step(inputs, targets, mask)` on every batch
    in the seeded order, `epoch_loss(batch losses)` per epoch, a progress bar, prints, callback.
    `buckets` makes the batches with `bucketed_batches` (texts of similar lengths together, far
    less padding) instead of `make_batches`.

    `start_epoch` > 0 continues a run that stopped after that many epochs: the batch order of
    the epochs skipped is drawn and thrown away, so the epochs run get the order they would have
    had. A loss that is nan or inf stops training with `TrainingDivergedError`.
    """
    seed = check_seed(seed)
    if isinstance(start_epoch, bool) or not isinstance(start_epoch, int) or start_epoch < 0:
        raise ValueError(f"start_epoch must be a whole number 0 or more, got {start_epoch!r}")
    if start_epoch > epochs:
        raise ValueError(f"start_epoch ({start_epoch}) is beyond the last epoch ({epochs})")
    if buckets and not shuffle:
        raise ValueError("buckets=True draws a fresh order every epoch; it needs shuffle=True")
    rng = np.random.default_rng(seed)
    if shuffle:
        for _ in range(start_epoch):  # the orders the epochs skipped would have drawn
            if buckets:
                _bucket_order([len(s) for s in sequences], batch_size, 8, rng)
            else:
                rng.shuffle(np.arange(len(sequences)))
    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=epochs, initial=start_epoch, desc=desc, unit="epoch", leave=True)
    losses: list[float] = []
    try:
        for epoch in range(start_epoch, epochs):
            if buckets:
                batches = bucketed_batches(sequences, batch_size, pad_id=pad_id, rng=rng)
            else:
                batches = make_batches(
                    sequences, batch_size, pad_id=pad_id, shuffle=shuffle, rng=rng
                )
            loss = epoch_loss([step(inputs, targets, mask) for inputs, targets, mask in batches])
            if not math.isfinite(loss):
                raise TrainingDivergedError(desc, epoch, loss)
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


def run_schedule(
    train: Callable[..., list[float]],
    optimizer: Any,
    model: Any,
    vocab: Any,
    pretrain_texts: Sequence[str],
    chat_texts: Sequence[str],
    *,
    pretrain_epochs: int,
    pretrain_lr: float,
    chat_epochs: int,
    chat_lr: float,
    seed: int,
    **options: Any,
) -> tuple[list[float], list[float]]:
    """Pre-training, then instruction tuning with the same optimizer, through either backend's
    `train`; the second stage's order is seeded with seed + 1. Returns both stages' losses."""
    pre = train(
        model, vocab, pretrain_texts, epochs=pretrain_epochs, lr=pretrain_lr, seed=seed,
        optimizer=optimizer, desc="pre-training", **options,
    )  # fmt: skip
    chat = train(
        model, vocab, chat_texts, epochs=chat_epochs, lr=chat_lr, seed=seed + 1,
        optimizer=optimizer, desc="instruction tuning", **options,
    )  # fmt: skip
    return pre, chat
