"""`Adam` and `clip_grad_norm`: PyTorch's own optimiser and clipping, called like the NumPy twins::

    opt = cl.Adam(model, lr=5e-4)        # a Module, or an iterable of parameters
    loss = cl.cross_entropy(model(inputs, mask), targets)
    opt.zero_grad()
    loss.backward()
    cl.clip_grad_norm(model, 5.0)         # global L2 norm over all gradients
    opt.step()

`Adam` is `torch.optim.Adam` (bias-corrected, not AdamW) with the same defaults as
the NumPy backend's `Adam`; `clip_grad_norm` is `torch.nn.utils.clip_grad_norm_`, returning the norm
before clipping as a float, as the NumPy one does.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import torch
from torch import nn

__all__ = ["Adam", "clip_grad_norm"]


def _parameters(source: Any) -> list[torch.Tensor]:
    params = list(source.parameters()) if isinstance(source, nn.Module) else list(source)
    if not params:
        raise ValueError("Adam / clip_grad_norm: no parameters given")
    return params


class Adam(torch.optim.Adam):
    """`torch.optim.Adam` that also takes a Module (its parameters), like the NumPy `Adam`."""

    def __init__(
        self,
        params: nn.Module | Iterable[Any],
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0.0,
        fused: bool | None = None,
    ) -> None:
        if not lr >= 0:
            raise ValueError(f"Adam: lr must be >= 0, got {lr}")
        params = _parameters(params)
        if fused is None:
            # torch's fused kernel: the whole update in one pass over each parameter, about 4x
            # faster on the CPU than one batched operation per step of the formula ("foreach").
            fused = all(
                isinstance(p, torch.Tensor) and p.device.type in ("cpu", "cuda") for p in params
            )
        super().__init__(
            params,
            lr=lr,
            betas=betas,
            eps=eps,
            weight_decay=weight_decay,
            fused=fused,
            foreach=None if fused else True,
        )


def clip_grad_norm(params: nn.Module | Iterable[torch.Tensor], max_norm: float) -> float:
    """Scale all gradients together so their global L2 norm is at most `max_norm`, like
    `torch.nn.utils.clip_grad_norm_`; returns the norm before clipping."""
    total = torch.nn.utils.clip_grad_norm_(_parameters(params), max_norm)
    return float(total)
