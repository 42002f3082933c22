"""`TransformerBlock`: attention and feed-forward, each with a residual connection and a LayerNorm.

post-norm (the reference): h = norm1(x + attn(x));        y = norm2(h + ff(h))
pre-norm:                  h = x + attn(norm1(x));        y = h + ff(norm2(h))

The twin of `numpy/block.py`.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch import nn

from course_lib.config import ModelConfig
from course_lib.numpy.module import as_rng
from course_lib.torch.attention import SelfAttention
from course_lib.torch.feedforward import FeedForward
from course_lib.torch.layernorm import LayerNorm

__all__ = ["TransformerBlock"]


class TransformerBlock(nn.Module):
    """One block: attention, norm1, feed_forward, norm2 (post- or pre-norm per the config)."""

    def __init__(
        self,
        config: ModelConfig,
        seed: int | np.random.Generator | None = 0,
        dtype: Any = None,
        device: Any = None,
        use_sdpa: bool = False,
    ) -> None:
        super().__init__()
        rng = as_rng(seed)  # one stream, drawn from in the NumPy twin's order
        self.pre_norm = config.norm == "pre"
        eps = config.layer_norm_eps
        self.attention = SelfAttention(config, rng, dtype, device, use_sdpa=use_sdpa)
        self.norm1 = LayerNorm(config.d_model, eps, dtype, device)
        self.feed_forward = FeedForward(config, rng, dtype, device)
        self.norm2 = LayerNorm(config.d_model, eps, dtype, device)

    def forward(
        self, x: torch.Tensor, mask: torch.Tensor | None = None, cache: tuple | None = None
    ) -> torch.Tensor:
        """(batch, time, d_model), mask (batch, time) -> (batch, time, d_model); `cache` is
        passed to the attention (generation)."""
        if self.pre_norm:
            h = x + self.attention(self.norm1(x), mask, cache)
            return h + self.feed_forward(self.norm2(h))
        h = self.norm1(x + self.attention(x, mask, cache))
        return self.norm2(h + self.feed_forward(h))
