"""`train` (one phase) and `train_schedule` (pre-training, then instruction tuning).

The twin of `course_lib.numpy.train`, with the same signatures and the same semantics: the same
seeded batch order (`course_lib.batching`), Adam with the same settings (`torch.optim.Adam`), the
same clipping at global norm 5.0, the mean batch loss of each epoch. Extra: ``autocast=True`` runs
forward passes in bfloat16 on CUDA (ignored elsewhere).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import torch

from course_lib.batching import run_epochs, training_sequences
from course_lib.torch.adam import Adam
from course_lib.torch.device import autocast as autocast_context
from course_lib.torch.loss import cross_entropy
from course_lib.torch.model import LLM

__all__ = ["train", "train_schedule", "train_step"]


def _step(
    model: LLM,
    optimizer: Adam,
    inputs: Any,
    targets: Any,
    mask: Any,
    clip: float | None,
    autocast: bool,
) -> torch.Tensor:
    """One update; the batch's mean loss as a detached tensor (no device sync)."""
    device = model.device
    inputs = torch.as_tensor(inputs, device=device)
    targets = torch.as_tensor(targets, device=device)
    mask = torch.as_tensor(mask, device=device)
    with autocast_context(device, autocast):
        logits = model(inputs, mask)  # (B, T, V)
    loss = cross_entropy(logits, targets, ignore_index=model.config.pad_id)
    optimizer.zero_grad(set_to_none=False)
    loss.backward()
    if clip is not None:
        torch.nn.utils.clip_grad_norm_(model.parameters(), clip)
    optimizer.step()
    return loss.detach()


def train_step(
    model: LLM,
    optimizer: Adam,
    inputs: Any,
    targets: Any,
    mask: Any,
    clip: float | None = 5.0,
    autocast: bool = False,
) -> float:
    """Forward, loss, backward, clip, Adam step on one batch; returns the batch's mean loss."""
    return float(_step(model, optimizer, inputs, targets, mask, clip, autocast))


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
    autocast: bool = False,
) -> list[float]:
    """Train `model` on `texts` for `epochs`; returns each epoch's mean batch loss.

    The order is shuffled each epoch from `seed` (same seed, same losses, the same order as the
    NumPy backend). A given `optimizer` keeps its state and gets `lr`; otherwise a fresh Adam is
    made. `callback(epoch, loss)` runs after each epoch; `print_every` > 0 prints the loss every
    that many epochs.
    """
    cfg = model.config
    sequences = training_sequences(vocab, texts, cfg.vocab_size, cfg.max_seq_len, epochs)
    if optimizer is None:
        optimizer = Adam(model, lr=lr)
    for group in optimizer.param_groups:
        group["lr"] = lr

    def step(inputs: Any, targets: Any, mask: Any) -> torch.Tensor:
        return _step(model, optimizer, inputs, targets, mask, clip, autocast)

    def epoch_loss(batch_losses: list[torch.Tensor]) -> float:
        # One device sync per epoch; the mean in float64, as the NumPy twin's np.mean.
        return float(np.mean(torch.stack(batch_losses).double().cpu().numpy()))

    model.train()
    return run_epochs(
        sequences, step, epoch_loss, epochs=epochs, batch_size=batch_size, pad_id=cfg.pad_id,
        shuffle=shuffle, seed=seed, progress=progress, desc=desc, print_every=print_every,
        callback=callback,
    )  # fmt: skip


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
    autocast: bool = False,
) -> tuple[list[float], list[float]]:
    """The reference schedule (defaults): pre-training, then instruction tuning with the same Adam.
    Returns (pre-training losses, instruction-tuning losses)."""
    optimizer = Adam(model, lr=pretrain_lr)
    common: dict[str, Any] = dict(
        batch_size=batch_size,
        clip=clip,
        shuffle=shuffle,
        optimizer=optimizer,
        callback=callback,
        progress=progress,
        print_every=print_every,
        autocast=autocast,
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
