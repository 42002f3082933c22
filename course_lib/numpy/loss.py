"""`cross_entropy`: softmax cross-entropy averaged over the positions whose target is real."""

from __future__ import annotations

import numpy as np

__all__ = ["cross_entropy"]


def cross_entropy(
    logits: np.ndarray, targets: np.ndarray, ignore_index: int | None = 0
) -> tuple[float, np.ndarray]:
    """Mean of -log softmax(logits)[target] over targets != ignore_index, and d loss / d logits.

    logits (..., vocab), targets (...) ints. Uses log-sum-exp, so huge logits do not overflow.
    Positions whose target is `ignore_index` add nothing to the loss and get zero gradient.
    """
    logits = np.asarray(logits)
    targets = np.asarray(targets)
    if logits.shape[:-1] != targets.shape:
        raise ValueError(
            f"cross_entropy: logits {logits.shape} need targets of shape {logits.shape[:-1]}, "
            f"got {targets.shape}"
        )
    v = logits.shape[-1]
    flat = logits.reshape(-1, v)  # (N, V)
    t = targets.reshape(-1)  # (N,)
    keep = None if ignore_index is None else t != ignore_index
    n = t.size if keep is None else int(np.count_nonzero(keep))
    if n == 0:
        raise ValueError("cross_entropy: every target is padding (ignore_index); nothing to learn")
    every = n == t.size  # no target ignored: no masking needed below
    kept = t if every else t[keep]
    low, high = np.minimum.reduce(kept), np.maximum.reduce(kept)  # .min(), .max() unwrapped
    if low < 0 or high >= v:
        raise ValueError(f"cross_entropy: targets must be in [0, {v}), got {low}..{high}")
    shifted = flat - np.maximum.reduce(flat, axis=1, keepdims=True)  # (N, V), max entry 0
    rows = np.arange(t.size)
    safe_t = t if every else np.where(keep, t, 0)
    picked = shifted[rows, safe_t]  # (N,) the targets' shifted logits
    exp = np.exp(shifted, out=shifted)
    total = np.add.reduce(exp, axis=1, keepdims=True)  # (N, 1)
    log_prob = picked - np.log(total[:, 0])  # (N,)
    loss = float(-np.add.reduce(log_prob if every else log_prob[keep], dtype=np.float64) / n)
    grad = exp
    grad /= total  # softmax
    grad[rows, safe_t] -= 1.0
    if every:
        grad *= np.asarray(1.0 / n, dtype=grad.dtype)  # the mean over the N positions
    else:
        grad *= (keep / n).astype(grad.dtype)[:, None]  # ignored positions get zero
    return loss, grad.reshape(logits.shape)
