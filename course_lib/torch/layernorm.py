"""`LayerNorm`: normalise each position's features to mean 0, variance 1, then scale and shift.

The twin of `numpy/layernorm.py`; the same computation as `torch.nn.LayerNorm`.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from course_lib.torch.module import placement

__all__ = ["LayerNorm"]


class LayerNorm(nn.Module):
    """y = weight * (x - mean) / sqrt(var + eps) + bias over the last axis."""

    def __init__(
        self, d_model: int, eps: float = 1e-5, dtype: Any = None, device: Any = None
    ) -> None:
        super().__init__()
        where = placement(dtype, device)
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(d_model, **where))
        self.bias = nn.Parameter(torch.zeros(d_model, **where))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(..., d_model) -> (..., d_model)."""
        return F.layer_norm(x, self.weight.shape, self.weight, self.bias, self.eps)
