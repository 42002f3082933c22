"""`cross_entropy`: softmax cross-entropy averaged over the positions whose target is not padding.

The twin of `numpy/loss.py`. The NumPy function returns (loss, d loss / d logits); here
autograd finds the gradient, so the loss tensor alone comes back (call ``.backward()`` on it).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

__all__ = ["cross_entropy"]


def cross_entropy(
    logits: torch.Tensor, targets: torch.Tensor, ignore_index: int | None = 0
) -> torch.Tensor:
    """Mean of -log softmax(logits)[target] over targets != ignore_index: a scalar tensor.

    logits (..., vocab), targets (...) ints. Computed in at least float32 (bfloat16 logits are
    widened), so the mean over many positions does not lose precision.
    """
    if logits.shape[:-1] != targets.shape:
        raise ValueError(
            f"cross_entropy: logits {tuple(logits.shape)} need targets of shape "
            f"{tuple(logits.shape[:-1])}, got {tuple(targets.shape)}"
        )
    v = logits.shape[-1]
    flat_targets = targets.reshape(-1).long()  # (N,)
    keep = (
        torch.ones_like(flat_targets, dtype=torch.bool)
        if ignore_index is None
        else flat_targets != ignore_index
    )
    if not bool(keep.any()):
        raise ValueError("cross_entropy: every target is padding (ignore_index); nothing to learn")
    kept = flat_targets[keep]
    if int(kept.min()) < 0 or int(kept.max()) >= v:
        raise ValueError(
            f"cross_entropy: targets must be in [0, {v}), got {int(kept.min())}..{int(kept.max())}"
        )
    flat_logits = logits.reshape(-1, v)  # (N, V)
    if flat_logits.dtype in (torch.float16, torch.bfloat16):
        flat_logits = flat_logits.float()
    return F.cross_entropy(
        flat_logits, flat_targets, ignore_index=-100 if ignore_index is None else ignore_index
    )
