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

from course_lib.batching import encode_texts, make_batches
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
    for group in optimizer.param_groups:
        group["lr"] = lr
    rng = np.random.default_rng(seed)
    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=epochs, desc=desc, unit="epoch", leave=True)
    losses: list[float] = []
    model.train()
    try:
        for epoch in range(epochs):
            batch_losses = [
                _step(model, optimizer, inputs, targets, mask, clip, autocast)
                for inputs, targets, mask in make_batches(
                    sequences, batch_size, pad_id=model.config.pad_id, shuffle=shuffle, rng=rng
                )
            ]
            # One device sync per epoch; the mean in float64, as the NumPy twin's np.mean.
            loss = float(np.mean(torch.stack(batch_losses).double().cpu().numpy()))
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
