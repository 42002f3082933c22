"""`train` (one phase) and `train_schedule` (pre-training, then instruction tuning).

The twin of `numpy/train.py`, with the same signatures and the same semantics: the same
seeded batch order (`course_lib.batching`), Adam with the same settings (`torch.optim.Adam`), the
same clipping at global norm 5.0, the mean batch loss of each epoch. Extra: ``autocast=True`` runs
forward passes in bfloat16 on CUDA (ignored elsewhere).

`threads` (default 1) sets torch's CPU threads while training: torch's default, one per core, is
many times slower for matmuls this small, and far slower still on a machine other work shares.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import torch

from course_lib.batching import check_learning_rate, run_epochs, run_schedule, training_sequences
from course_lib.checkpoint import TrainingState
from course_lib.torch.adam import Adam
from course_lib.torch.device import autocast as autocast_context
from course_lib.torch.loss import cross_entropy
from course_lib.torch.model import LLM

__all__ = ["load_optimizer_state", "optimizer_state", "train", "train_schedule", "train_step"]


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
    buckets: bool = False,
    seed: int = 0,
    clip: float | None = 5.0,
    shuffle: bool = True,
    optimizer: Adam | None = None,
    callback: Callable[[int, float], Any] | None = None,
    progress: bool = True,
    print_every: int = 0,
    desc: str = "training",
    autocast: bool = False,
    threads: int | None = 1,
    start_epoch: int = 0,
) -> list[float]:
    """Train `model` on `texts` for `epochs`; returns each epoch's mean batch loss.

    The order is shuffled each epoch from `seed` (same seed, same losses, the same order as the
    NumPy backend). A given `optimizer` keeps its state and gets `lr`; otherwise a fresh Adam is
    made. `callback(epoch, loss)` runs after each epoch; `print_every` > 0 prints the loss every
    that many epochs. `buckets` batches texts of similar lengths together (`bucketed_batches`:
    far less padding, the same order as the NumPy backend's). `threads` sets torch's CPU
    threads while training (None: leave as is).
    `start_epoch` continues a run that stopped after that many epochs (with its weights and
    optimizer state restored): the epochs left get the batch order they would have had, and
    only their losses are returned. A loss that becomes nan or inf raises
    `TrainingDivergedError`.
    """
    cfg = model.config
    lr = check_learning_rate(lr, float(torch.finfo(next(model.parameters()).dtype).max))
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
    previous_threads = torch.get_num_threads()
    if threads is not None:
        if isinstance(threads, bool) or not isinstance(threads, int) or threads < 1:
            raise ValueError(f"threads must be a positive int or None, got {threads!r}")
        torch.set_num_threads(threads)
    try:
        return run_epochs(
            sequences, step, epoch_loss, epochs=epochs, batch_size=batch_size,
            pad_id=cfg.pad_id, shuffle=shuffle, seed=seed, progress=progress, desc=desc,
            print_every=print_every, callback=callback, start_epoch=start_epoch, buckets=buckets,
        )  # fmt: skip
    finally:
        if threads is not None:
            torch.set_num_threads(previous_threads)


def optimizer_state(model: LLM, optimizer: Adam) -> TrainingState:
    """A NumPy copy of Adam's step count and moments, by `state_dict` key (progress left
    empty); the same layout as the NumPy backend's, so a run can continue in either."""
    step, m, v = 0, {}, {}
    for name, param in model.named_parameters():
        state = optimizer.state.get(param, {})
        if "exp_avg" in state:
            step = int(state["step"])
            m[name] = state["exp_avg"].detach().cpu().numpy().copy()
            v[name] = state["exp_avg_sq"].detach().cpu().numpy().copy()
        else:  # before the first step torch has no state yet: Adam's zeros
            m[name] = np.zeros(tuple(param.shape), dtype=np.float32)
            v[name] = np.zeros(tuple(param.shape), dtype=np.float32)
    return TrainingState(step=step, m=m, v=v, progress={})


def load_optimizer_state(model: LLM, optimizer: Adam, training: TrainingState) -> None:
    """Put `training`'s step count and moments into `optimizer` (made for `model`)."""
    params = dict(model.named_parameters())
    if set(params) != set(training.m) or set(params) != set(training.v):
        raise ValueError("the optimizer state does not hold this model's weights")
    if training.step == 0:
        return  # nothing has happened yet: torch starts from an empty state
    # torch keeps the step count as a tensor of its "scalar dtype": float64 under a float64
    # default dtype, float32 otherwise.
    step_dtype = torch.float64 if torch.get_default_dtype() == torch.float64 else torch.float32
    for name, param in params.items():
        optimizer.state[param] = {
            "step": torch.tensor(float(training.step), dtype=step_dtype),
            "exp_avg": torch.as_tensor(training.m[name]).to(param).clone(),
            "exp_avg_sq": torch.as_tensor(training.v[name]).to(param).clone(),
        }


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
    autocast: bool = False,
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
        autocast=autocast,
        threads=threads,
    )
