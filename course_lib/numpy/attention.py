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
from course_lib.numpy.module import Module, as_rng, gradient_into

__all__ = ["SelfAttention", "softmax"]


def softmax(x: np.ndarray, axis: int = -1) -> np.ndarray:
    """exp(x) / sum(exp(x)) along `axis`, shifted by the max so it never overflows."""
    if x.size == 0:  # no positions (ids of shape (batch, 0)): nothing to normalise
        return np.zeros_like(x)
    e = np.subtract(x, np.maximum.reduce(x, axis=axis, keepdims=True))
    np.exp(e, out=e)
    e /= np.add.reduce(e, axis=axis, keepdims=True)
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
        self._scale = 1.0 / np.sqrt(self.head_dim)  # scores are divided by sqrt(head_dim)
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
        self.flatten()  # query, key, value weights side by side: one (3D, D) matmul

    def _split(self, x: np.ndarray) -> np.ndarray:
        b, t, _ = x.shape  # (B, T, D) -> (B, H, T, hd)
        return x.reshape(b, t, self.n_heads, self.head_dim).transpose(0, 2, 1, 3)

    def _merge(self, x: np.ndarray) -> np.ndarray:
        b, _, t, _ = x.shape  # (B, H, T, hd) -> (B, T, D)
        return x.transpose(0, 2, 1, 3).reshape(b, t, self.n_heads * self.head_dim)

    def _qkv_weight(self) -> tuple[np.ndarray, np.ndarray]:
        """query, key and value weights stacked (3 * d_model, d_model), and their gradient: views
        of the flat arrays, where the three lie one after the other (see `Module.flatten`)."""
        d = self.n_heads * self.head_dim
        return (
            self.flat_parameters[: 3 * d * d].reshape(3 * d, d),
            self.flat_gradients[: 3 * d * d].reshape(3 * d, d),
        )

    def forward(
        self, x: np.ndarray, mask: np.ndarray | None = None, cache: tuple | None = None
    ) -> np.ndarray:
        """x (batch, time, d_model), mask (batch, time) True on real tokens -> same shape as x.

        With `cache` = (keys, values, positions) the tokens continue a text whose keys and values
        are kept (see `KVCache`); no backward then."""
        b, t, d = x.shape
        x2 = x.reshape(b * t, d)
        qkv = x2 @ self._qkv_weight()[0].T  # (B*T, 3D): one matmul for the three projections
        q, k, v = (self._split(qkv[:, i * d : (i + 1) * d].reshape(b, t, d)) for i in range(3))
        if cache is not None:
            out = self._attend_cached(q, k, v, *cache)
            return self.out(out) if self.out is not None else out
        scores = q @ k.transpose(0, 1, 3, 2)  # (B, H, T, T)
        scores *= np.asarray(self._scale, dtype=x.dtype)
        hidden = self._future[:t, :t]  # (T, T)
        if mask is not None and not mask.all():
            # (B, 1, T, T): future keys and padded keys are hidden, except each row's own position.
            hidden = hidden | (~mask[:, None, None, :] & ~np.eye(t, dtype=bool))
        np.copyto(scores, -np.inf, where=hidden)
        weights = softmax(scores, axis=-1)  # (B, H, T, T), rows sum to 1
        self.weights = weights
        out = self._merge(weights @ v)  # (B, T, D)
        self._cache = (x2, q, k, v, weights)
        if self.out is not None:
            out = self.out(out)
        return out

    def _attend_cached(
        self, q: np.ndarray, k: np.ndarray, v: np.ndarray, keys: np.ndarray, values: np.ndarray,
        positions: np.ndarray,
    ) -> np.ndarray:  # fmt: skip
        """q, k, v (B, H, T, hd) of tokens at `positions` (B, T): store k, v in the cache
        (B, H, L, hd) there, and let each query look at the cache up to its own position."""
        starts = positions[:, 0]  # (B,)
        if (starts == starts[0]).all():  # every row at the same place: a plain slice
            where = slice(int(starts[0]), int(starts[0]) + q.shape[2])
            keys[:, :, where], values[:, :, where] = k, v
        else:
            rows = np.arange(q.shape[0])[:, None]  # (B, 1)
            keys[rows, :, positions] = k.transpose(0, 2, 1, 3)  # (B, T, H, hd) into the cache
            values[rows, :, positions] = v.transpose(0, 2, 1, 3)
        length = int(positions.max()) + 1  # the slots anyone can see
        scores = q @ keys[:, :, :length].transpose(0, 1, 3, 2)  # (B, H, T, length)
        scores *= np.asarray(self._scale, dtype=q.dtype)
        if positions.min() < length - 1:  # some query must not see some slots: hide its future
            later = np.arange(length) > positions[:, None, :, None]  # (B, 1, T, length)
            np.copyto(scores, -np.inf, where=later)
        return self._merge(softmax(scores, axis=-1) @ values[:, :, :length])  # (B, T, D)

    def backward(self, grad: np.ndarray, accumulate: bool = True) -> np.ndarray:
        """(batch, time, d_model) -> gradient for x; adds into the weights' gradients (writes them
        with `accumulate=False`)."""
        if self._cache is None:
            raise RuntimeError("SelfAttention.backward called before forward")
        x2, q, k, v, weights = self._cache
        if self.out is not None:
            grad = self.out.backward(grad, accumulate)
        b, t, d = grad.shape
        d_heads = self._split(grad)  # (B, H, T, hd)
        d_weights = d_heads @ v.transpose(0, 1, 3, 2)  # (B, H, T, T)
        d_qkv = np.empty((b, t, 3 * d), dtype=grad.dtype)  # (B, T, 3D): dq | dk | dv
        # each product is written straight into its third of d_qkv, seen as (B, H, T, hd)
        dq, dk, dv = (self._split(d_qkv[..., i * d : (i + 1) * d]) for i in range(3))
        np.matmul(weights.transpose(0, 1, 3, 2), d_heads, out=dv)
        # softmax backward, row by row: dS = W * (dW - sum(dW * W))
        d_scores = d_weights
        d_scores -= np.add.reduce(d_weights * weights, axis=-1, keepdims=True)
        d_scores *= weights
        d_scores *= np.asarray(self._scale, dtype=d_scores.dtype)  # the scale
        np.matmul(d_scores, k, out=dq)
        np.matmul(d_scores.transpose(0, 1, 3, 2), q, out=dk)
        d_qkv = d_qkv.reshape(b * t, 3 * d)
        weight, weight_grad = self._qkv_weight()
        # (3D, D): the query, key and value gradients at once
        gradient_into(weight_grad, accumulate, np.matmul, d_qkv.T, x2)
        return (d_qkv @ weight).reshape(b, t, d)  # (B, T, D)
