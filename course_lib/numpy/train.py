"""`train` (one phase) and `train_schedule` (pre-training, then instruction tuning)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from course_lib.batching import encode_texts, make_batches
from course_lib.numpy.adam import Adam, clip_grad_norm
from course_lib.numpy.loss import cross_entropy
from course_lib.numpy.model import LLM

__all__ = ["train", "train_schedule", "train_step"]


def train_step(
    model: LLM,
    optimizer: Adam,
    inputs: np.ndarray,
    targets: np.ndarray,
    mask: np.ndarray,
    clip: float | None = 5.0,
) -> float:
    """Forward, loss, backward, clip, Adam step on one batch; returns the batch's mean loss."""
    logits = model(inputs, mask)  # (B, T, V)
    loss, grad = cross_entropy(logits, targets, ignore_index=model.config.pad_id)
    model.zero_grad()
    model.backward(grad)
    if clip is not None:
        clip_grad_norm(model, clip)
    optimizer.step()
    return loss


def train(
    model: LLM,
    vocab: Any,
    texts: Sequence[str],
    *,
    epochs: int,
    lr: float,
    batch_size: int = 1,
    seed: int = 0,
    clip: float | None = 5.0,
    shuffle: bool = True,
    optimizer: Adam | None = None,
    callback: Callable[[int, float], Any] | None = None,
    progress: bool = True,
    print_every: int = 0,
    desc: str = "training",
    threads: int | None = 1,
) -> list[float]:
    """Train `model` on `texts` for `epochs`; returns each epoch's mean batch loss.

    The order is shuffled each epoch from `seed` (same seed, same losses). A given `optimizer`
    keeps its state and gets `lr`; otherwise a fresh Adam is made. `callback(epoch, loss)` runs
    after each epoch; `print_every` > 0 prints the loss every that many epochs.
    `threads` caps the BLAS threads while training (None: leave as is); one thread is fastest
    for these small matmuls, especially on a busy machine.
    """
    if not isinstance(epochs, int) or epochs < 0:
        raise ValueError(f"epochs must be a non-negative int, got {epochs!r}")
    if len(vocab) != model.config.vocab_size:
        raise ValueError(
            f"the vocabulary has {len(vocab)} tokens but the model was built for "
            f"{model.config.vocab_size}; build the model with ModelConfig(vocab_size=len(vocab))"
        )
    sequences = encode_texts(vocab, texts, max_len=model.config.max_seq_len + 1)
    if optimizer is None:
        optimizer = Adam(model, lr=lr)
    optimizer.lr = lr
    rng = np.random.default_rng(seed)
    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=epochs, desc=desc, unit="epoch", leave=True)
    losses: list[float] = []
    limiter = _blas_threads(threads)
    try:
        for epoch in range(epochs):
            batch_losses = [
                train_step(model, optimizer, inputs, targets, mask, clip)
                for inputs, targets, mask in make_batches(
                    sequences, batch_size, pad_id=model.config.pad_id, shuffle=shuffle, rng=rng
                )
            ]
            loss = float(np.mean(batch_losses))
            losses.append(loss)
            if bar is not None:
                bar.update(1)
                bar.set_postfix(loss=f"{loss:.4f}")
            if print_every and (epoch + 1) % print_every == 0:
                print(f"{desc} epoch {epoch + 1}/{epochs}: loss {loss:.4f}")
            if callback is not None:
                callback(epoch, loss)
    finally:
        if limiter is not None:
            limiter.restore_original_limits()
        if bar is not None:
            bar.close()
    return losses


def _blas_threads(threads: int | None) -> Any:
    """Limit BLAS to `threads` threads (a threadpoolctl limiter to restore), or None."""
    if threads is None:
        return None
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # optional: without it BLAS keeps its own thread count
        return None
    return threadpool_limits(limits=threads, user_api="blas")


def train_schedule(
    model: LLM,
    vocab: Any,
    pretrain_texts: Sequence[str],
    chat_texts: Sequence[str],
    *,
    pretrain_epochs: int = 100,
    pretrain_lr: float = 5e-4,
    chat_epochs: int = 100,
    chat_lr: float = 1e-4,
    batch_size: int = 1,
    seed: int = 0,
    clip: float | None = 5.0,
    shuffle: bool = True,
    callback: Callable[[int, float], Any] | None = None,
    progress: bool = True,
    print_every: int = 0,
    threads: int | None = 1,
) -> tuple[list[float], list[float]]:
    """The reference schedule (defaults): pre-training, then instruction tuning with the same Adam.
    Returns (pre-training losses, instruction-tuning losses)."""
    optimizer = Adam(model, lr=pretrain_lr)
    common = dict(
        batch_size=batch_size,
        clip=clip,
        shuffle=shuffle,
        optimizer=optimizer,
        callback=callback,
        progress=progress,
        print_every=print_every,
        threads=threads,
    )
    pre = train(
        model, vocab, pretrain_texts, epochs=pretrain_epochs, lr=pretrain_lr, seed=seed,
        desc="pre-training", **common,
    )  # fmt: skip
    chat = train(
        model, vocab, chat_texts, epochs=chat_epochs, lr=chat_lr, seed=seed + 1,
        desc="instruction tuning", **common,
    )  # fmt: skip
    return pre, chat
