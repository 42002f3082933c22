"""`SelfAttention`: causal, scaled dot-product, multi-head self-attention.

Heads are a reshape, not a loop: (batch, time, d_model) -> (batch, heads, time, head_dim). Scores
are divided by sqrt(head_dim) - and so is their gradient. Position i sees positions j <= i that are
real tokens (mask True); it always sees itself, so a padded row never becomes all -inf. The layer
returns the attention output only; the residual connection lives in `TransformerBlock`. After
`forward`, `.weights` holds the attention weights (batch, heads, time, time).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from course_lib.config import ModelConfig
from course_lib.numpy.linear import Linear
from course_lib.numpy.module import Module, as_rng

__all__ = ["SelfAttention", "softmax"]


def softmax(x: np.ndarray, axis: int = -1) -> np.ndarray:
    """exp(x) / sum(exp(x)) along `axis`, shifted by the max so it never overflows."""
    e = np.exp(x - x.max(axis=axis, keepdims=True))
    e /= e.sum(axis=axis, keepdims=True)
    return e


class SelfAttention(Module):
    """Causal multi-head self-attention; query/key/value (and optional out) Linear children."""

    def __init__(
        self,
        config: ModelConfig,
        seed: int | np.random.Generator | None = 0,
        dtype: Any = np.float32,
    ) -> None:
        super().__init__(dtype)
        rng = as_rng(seed)
        d = config.d_model
        self.n_heads = config.n_heads
        self.head_dim = config.head_dim
        self.query = self.add_module("query", Linear(d, d, bias=False, seed=rng, dtype=dtype))
        self.key = self.add_module("key", Linear(d, d, bias=False, seed=rng, dtype=dtype))
        self.value = self.add_module("value", Linear(d, d, bias=False, seed=rng, dtype=dtype))
        self.out = (
            self.add_module("out", Linear(d, d, seed=rng, dtype=dtype))
            if config.attn_out_proj
            else None
        )
        # (max_seq_len, max_seq_len) True above the diagonal: the future, never attended to.
        self._future = np.triu(np.ones((config.max_seq_len,) * 2, dtype=bool), k=1)
        self.weights: np.ndarray | None = None
        self._cache: tuple[np.ndarray, ...] | None = None

    def _split(self, x: np.ndarray) -> np.ndarray:
        b, t, _ = x.shape  # (B, T, D) -> (B, H, T, hd)
        return x.reshape(b, t, self.n_heads, self.head_dim).transpose(0, 2, 1, 3)

    def _merge(self, x: np.ndarray) -> np.ndarray:
        b, _, t, _ = x.shape  # (B, H, T, hd) -> (B, T, D)
        return x.transpose(0, 2, 1, 3).reshape(b, t, self.n_heads * self.head_dim)

    def forward(self, x: np.ndarray, mask: np.ndarray | None = None) -> np.ndarray:
        """x (batch, time, d_model), mask (batch, time) True on real tokens -> same shape as x."""
        b, t, _ = x.shape
        q = self._split(self.query(x))  # (B, H, T, hd)
        k = self._split(self.key(x))
        v = self._split(self.value(x))
        scale = 1.0 / np.sqrt(self.head_dim)
        scores = (q @ k.transpose(0, 1, 3, 2)) * np.asarray(scale, dtype=x.dtype)  # (B, H, T, T)
        hidden = self._future[:t, :t]  # (T, T)
        if mask is not None and not mask.all():
            # (B, 1, T, T): future keys and padded keys are hidden, except each row's own position.
            hidden = hidden | (~mask[:, None, None, :] & ~np.eye(t, dtype=bool))
        scores = np.where(hidden, -np.inf, scores)
        weights = softmax(scores, axis=-1)  # (B, H, T, T), rows sum to 1
        self.weights = weights
        out = self._merge(weights @ v)  # (B, T, D)
        self._cache = (q, k, v, weights)
        if self.out is not None:
            out = self.out(out)
        return out

    def backward(self, grad: np.ndarray) -> np.ndarray:
        """(batch, time, d_model) -> gradient for x; adds into the weights' gradients."""
        if self._cache is None:
            raise RuntimeError("SelfAttention.backward called before forward")
        q, k, v, weights = self._cache
        if self.out is not None:
            grad = self.out.backward(grad)
        d_heads = self._split(grad)  # (B, H, T, hd)
        d_weights = d_heads @ v.transpose(0, 1, 3, 2)  # (B, H, T, T)
        dv = weights.transpose(0, 1, 3, 2) @ d_heads  # (B, H, T, hd)
        # softmax backward, row by row: dS = W * (dW - sum(dW * W))
        d_scores = d_weights
        d_scores -= (d_weights * weights).sum(axis=-1, keepdims=True)
        d_scores *= weights
        d_scores *= np.asarray(1.0 / np.sqrt(self.head_dim), dtype=d_scores.dtype)  # the scale
        dq = d_scores @ k  # (B, H, T, hd)
        dk = d_scores.transpose(0, 1, 3, 2) @ q  # (B, H, T, hd)
        dx = self.query.backward(self._merge(dq))
        dx += self.key.backward(self._merge(dk))
        dx += self.value.backward(self._merge(dv))
        return dx
