"""`train` (one phase) and `train_schedule` (pre-training, then instruction tuning)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from course_lib.batching import check_learning_rate, run_epochs, run_schedule, training_sequences
from course_lib.checkpoint import TrainingState
from course_lib.numpy.adam import Adam, clip_grad_norm
from course_lib.numpy.loss import cross_entropy
from course_lib.numpy.model import LLM

__all__ = ["load_optimizer_state", "optimizer_state", "train", "train_schedule", "train_step"]


def train_step(
    model: LLM,
    optimizer: Adam,
    inputs: np.ndarray,
    targets: np.ndarray,
    mask: np.ndarray,
    clip: float | None = 5.0,
) -> float:
    """Forward, loss, backward, clip, Adam step on one batch; returns the batch's mean loss.
    `optimizer` may be any object whose `step()` updates the model from its gradients."""
    logits = model(inputs, mask)  # (B, T, V)
    loss, grad = cross_entropy(logits, targets, ignore_index=model.config.pad_id)
    model.backward(grad, accumulate=False)  # = zero_grad() then backward(grad), one pass fewer
    if clip is not None and isinstance(optimizer, Adam) and optimizer.module is model:
        optimizer._clip_then_step(clip, zero_grad=False)  # clip_grad_norm then step, one call
        return loss
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
    buckets: bool = False,
    seed: int = 0,
    clip: float | None = 5.0,
    shuffle: bool = True,
    optimizer: Adam | None = None,
    callback: Callable[[int, float], Any] | None = None,
    progress: bool = True,
    print_every: int = 0,
    desc: str = "training",
    threads: int | None = 1,
    start_epoch: int = 0,
) -> list[float]:
    """Train `model` on `texts` for `epochs`; returns each epoch's mean batch loss.

    The order is shuffled each epoch from `seed` (same seed, same losses). A given `optimizer`
    keeps its state and gets `lr`; otherwise a fresh Adam is made. `callback(epoch, loss)` runs
    after each epoch; `print_every` > 0 prints the loss every that many epochs. `buckets`
    batches texts of similar lengths together (`bucketed_batches`: far less padding, a faster
    epoch at batch sizes above 1, a different order than without).
    `threads` caps the BLAS threads while training (None: leave as is); one thread is fastest
    for these small matmuls, especially on a busy machine. `start_epoch` continues a run that
    stopped after that many epochs (with its weights and optimizer state restored): the epochs
    left get the batch order they would have had, and only their losses are returned. A loss
    that becomes nan or inf raises `TrainingDivergedError`.
    """
    cfg = model.config
    weights = next(iter(model.parameters().values()))
    lr = check_learning_rate(lr, float(np.finfo(weights.dtype).max))
    sequences = training_sequences(vocab, texts, cfg.vocab_size, cfg.max_seq_len, epochs)
    if optimizer is None:
        optimizer = Adam(model, lr=lr)
    optimizer.lr = lr

    def step(inputs: np.ndarray, targets: np.ndarray, mask: np.ndarray) -> float:
        return train_step(model, optimizer, inputs, targets, mask, clip)

    limiter = _blas_threads(threads)
    try:
        return run_epochs(
            sequences, step, lambda batch_losses: float(np.mean(batch_losses)), epochs=epochs,
            batch_size=batch_size, pad_id=cfg.pad_id, shuffle=shuffle, seed=seed,
            progress=progress, desc=desc, print_every=print_every, callback=callback,
            start_epoch=start_epoch, buckets=buckets,
        )  # fmt: skip
    finally:
        if limiter is not None:
            limiter.restore_original_limits()


def optimizer_state(model: LLM, optimizer: Adam) -> TrainingState:
    """A copy of Adam's step count and moments, by `state_dict` key (progress left empty)."""
    missing = sorted(set(model.parameters()) - set(optimizer.m))
    if missing:
        raise ValueError(f"the optimizer does not hold the model's weights {missing[:3]}")
    return TrainingState(
        step=int(optimizer.t),
        m={k: optimizer.m[k].copy() for k in model.parameters()},
        v={k: optimizer.v[k].copy() for k in model.parameters()},
        progress={},
    )


def load_optimizer_state(model: LLM, optimizer: Adam, training: TrainingState) -> None:
    """Put `training`'s step count and moments into `optimizer` (made for `model`)."""
    state = optimizer.state_dict()
    state.update(t=training.step, m=dict(training.m), v=dict(training.v))
    optimizer.load_state_dict(state)


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
    buckets: bool = False,
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
    return run_schedule(
        train,
        Adam(model, lr=pretrain_lr),
        model,
        vocab,
        pretrain_texts,
        chat_texts,
        pretrain_epochs=pretrain_epochs,
        pretrain_lr=pretrain_lr,
        chat_epochs=chat_epochs,
        chat_lr=chat_lr,
        seed=seed,
        batch_size=batch_size,
        buckets=buckets,
        clip=clip,
        shuffle=shuffle,
        callback=callback,
        progress=progress,
        print_every=print_every,
        threads=threads,
    )
