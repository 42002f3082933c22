"""`TransformerBlock`: attention and feed-forward, each with a residual connection and a LayerNorm.

post-norm (the reference): h = norm1(x + attn(x));        y = norm2(h + ff(h))
pre-norm:                  h = x + attn(norm1(x));        y = h + ff(norm2(h))
"""

from __future__ import annotations

from typing import Any

import numpy as np

from course_lib.config import ModelConfig
from course_lib.numpy.attention import SelfAttention
from course_lib.numpy.feedforward import FeedForward
from course_lib.numpy.layernorm import LayerNorm
from course_lib.numpy.module import Module, as_rng

__all__ = ["TransformerBlock"]


class TransformerBlock(Module):
    """One block: attention, norm1, feed_forward, norm2 (post- or pre-norm per the config)."""

    def __init__(
        self,
        config: ModelConfig,
        seed: int | np.random.Generator | None = 0,
        dtype: Any = np.float32,
    ) -> None:
        super().__init__(dtype)
        rng = as_rng(seed)
        self.pre_norm = config.norm == "pre"
        eps = config.layer_norm_eps
        self.attention = self.add_module("attention", SelfAttention(config, rng, dtype))
        self.norm1 = self.add_module("norm1", LayerNorm(config.d_model, eps, dtype))
        self.feed_forward = self.add_module("feed_forward", FeedForward(config, rng, dtype))
        self.norm2 = self.add_module("norm2", LayerNorm(config.d_model, eps, dtype))

    def forward(
        self, x: np.ndarray, mask: np.ndarray | None = None, cache: tuple | None = None
    ) -> np.ndarray:
        """(batch, time, d_model), mask (batch, time) -> (batch, time, d_model); `cache` is
        passed to the attention (generation)."""
        # Each residual sum is added into the sublayer's fresh output (a + x is x + a, bit for bit).
        if self.pre_norm:
            h = self.attention(self.norm1(x), mask, cache)
            h += x
            out = self.feed_forward(self.norm2(h))
            out += h
            return out
        h = self.attention(x, mask, cache)
        h += x
        h = self.norm1(h)
        out = self.feed_forward(h)
        out += h
        return self.norm2(out)

    def backward(self, grad: np.ndarray, accumulate: bool = True) -> np.ndarray:
        """(batch, time, d_model) -> gradient for x (`accumulate`: see `Module`)."""
        if self.pre_norm:
            d_h = self.norm2.backward(self.feed_forward.backward(grad, accumulate), accumulate)
            d_h += grad
            d_x = self.norm1.backward(self.attention.backward(d_h, accumulate), accumulate)
            d_x += d_h
            return d_x
        d_sum2 = self.norm2.backward(grad, accumulate)  # gradient of h + ff(h)
        d_h = self.feed_forward.backward(d_sum2, accumulate)
        d_h += d_sum2
        d_sum1 = self.norm1.backward(d_h, accumulate)  # gradient of x + attn(x)
        d_x = self.attention.backward(d_sum1, accumulate)
        d_x += d_sum1
        return d_x
