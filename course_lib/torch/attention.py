"""`SelfAttention`: causal, scaled dot-product, multi-head self-attention.

The twin of `numpy/attention.py`, with the same masking rule: position i sees positions
j <= i that are real tokens (mask True), and always itself, so a padded row is never all -inf.
The layer returns the attention output only; the residual connection lives in `TransformerBlock`.

Two ways to compute it, with the same result (the parity tests check it):

- ``use_sdpa=False`` (the default): the formula the chapter teaches,
  softmax(QK^T / sqrt(d) + mask) V;
- ``use_sdpa=True``: `torch.nn.functional.scaled_dot_product_attention`, which picks fused kernels
  (flash attention on a GPU) and never materialises the weights.

After `forward`, `.weights` is the attention weights (batch, heads, time, time), detached. The
explicit path keeps them as it goes; after the SDPA path they are computed from the kept queries
and keys the first time `.weights` is read.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from course_lib.config import ModelConfig
from course_lib.numpy import attention as numpy_attention
from course_lib.torch.module import copy_numpy_weights, placement

__all__ = ["SelfAttention", "hidden_positions", "softmax"]


def softmax(x: torch.Tensor, axis: int = -1) -> torch.Tensor:
    """exp(x) / sum(exp(x)) along `axis` (`torch.softmax`, which never overflows)."""
    return torch.softmax(x, dim=axis)


def hidden_positions(
    t: int, mask: torch.Tensor | None, device: torch.device, future: torch.Tensor | None = None
) -> torch.Tensor:
    """True where a query may not look at a key: (T, T), or (B, 1, T, T) with a padding mask.

    The future is hidden, and so are padded keys - except each position's own key. `future`, if
    given, is a larger (L, L) table of the future to cut (T, T) from.
    """
    if future is None:
        future = torch.ones(t, t, dtype=torch.bool, device=device).triu(1)  # (T, T)
    future = future[:t, :t]
    if mask is None or bool(mask.all()):
        return future
    own = torch.eye(t, dtype=torch.bool, device=device)  # (T, T)
    padded_key = ~mask.to(torch.bool)[:, None, None, :]  # (B, 1, 1, T)
    return future | (padded_key & ~own)  # (B, 1, T, T)


class SelfAttention(nn.Module):
    """Causal multi-head self-attention; query/key/value (and optional out) Linear children."""

    def __init__(
        self,
        config: ModelConfig,
        seed: int | np.random.Generator | None = 0,
        dtype: Any = None,
        device: Any = None,
        use_sdpa: bool = False,
    ) -> None:
        super().__init__()
        where = placement(dtype, device)
        d = config.d_model
        self.n_heads = config.n_heads
        self.head_dim = config.head_dim
        self.use_sdpa = use_sdpa
        self.query = nn.Linear(d, d, bias=False, **where)
        self.key = nn.Linear(d, d, bias=False, **where)
        self.value = nn.Linear(d, d, bias=False, **where)
        self.out = nn.Linear(d, d, **where) if config.attn_out_proj else None
        copy_numpy_weights(self, numpy_attention.SelfAttention(config, seed, dtype=np.float64))
        # (max_seq_len, max_seq_len) True above the diagonal: built once, not at every forward.
        future = torch.ones(config.max_seq_len, config.max_seq_len, dtype=torch.bool).triu(1)
        self.register_buffer("_future", future.to(where["device"]), persistent=False)
        self._weights: torch.Tensor | None = None
        self._kept: tuple[torch.Tensor, torch.Tensor, torch.Tensor] | None = None  # q, k, hidden

    def _split(self, x: torch.Tensor) -> torch.Tensor:
        b, t, _ = x.shape  # (B, T, D) -> (B, H, T, hd)
        return x.view(b, t, self.n_heads, self.head_dim).transpose(1, 2)

    def _merge(self, x: torch.Tensor) -> torch.Tensor:
        b, _, t, _ = x.shape  # (B, H, T, hd) -> (B, T, D)
        return x.transpose(1, 2).reshape(b, t, self.n_heads * self.head_dim)

    def _attend_cached(
        self, q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, keys: torch.Tensor,
        values: torch.Tensor, positions: torch.Tensor,
    ) -> torch.Tensor:  # fmt: skip
        """q, k, v (B, H, T, hd) of tokens at `positions` (B, T): store k, v in the cache
        (B, H, L, hd) there, and let each query look at the cache up to its own position."""
        starts = positions[:, 0]  # (B,)
        if bool((starts == starts[0]).all()):  # every row at the same place: a plain slice
            first = int(starts[0])
            keys[:, :, first : first + q.shape[2]] = k
            values[:, :, first : first + q.shape[2]] = v
        else:
            rows = torch.arange(q.shape[0], device=q.device)[:, None]  # (B, 1)
            keys[rows, :, positions] = k.transpose(1, 2)  # (B, T, H, hd) into the cache
            values[rows, :, positions] = v.transpose(1, 2)
        length = int(positions.max()) + 1  # the slots anyone can see
        scores = (q @ keys[:, :, :length].transpose(-2, -1)) / math.sqrt(self.head_dim)
        later = torch.arange(length, device=q.device) > positions[:, None, :, None]  # (B,1,T,L)
        weights = torch.softmax(scores.masked_fill(later, float("-inf")), dim=-1)
        return self._merge(weights @ values[:, :, :length])  # (B, T, D)

    @property
    def weights(self) -> torch.Tensor | None:
        """Attention weights (batch, heads, time, time) of the last forward pass, or None."""
        if self._weights is None and self._kept is not None:
            q, k, hidden = self._kept
            scores = (q @ k.transpose(-2, -1)) / math.sqrt(self.head_dim)  # (B, H, T, T)
            self._weights = torch.softmax(scores.masked_fill(hidden, float("-inf")), dim=-1)
        return self._weights

    def forward(
        self, x: torch.Tensor, mask: torch.Tensor | None = None, cache: tuple | None = None
    ) -> torch.Tensor:
        """x (batch, time, d_model), mask (batch, time) True on real tokens
        -> (batch, time, d_model). With `cache` = (keys, values, positions) the tokens continue
        a text whose keys and values are kept (see `KVCache`)."""
        t = x.shape[1]
        q = self._split(self.query(x))  # (B, H, T, hd)
        k = self._split(self.key(x))
        v = self._split(self.value(x))
        if cache is not None:
            out = self._attend_cached(q, k, v, *cache)
            return self.out(out) if self.out is not None else out
        hidden = hidden_positions(t, mask, x.device, self._future)  # (T, T) or (B, 1, T, T)
        if self.use_sdpa:
            if hidden.ndim == 2:  # no padding: the fused causal kernel
                heads = F.scaled_dot_product_attention(q, k, v, is_causal=True)
            else:  # SDPA's boolean mask is True where attention is allowed
                heads = F.scaled_dot_product_attention(q, k, v, attn_mask=~hidden)
            self._weights = None
            self._kept = (q.detach(), k.detach(), hidden)
        else:
            scores = (q @ k.transpose(-2, -1)) / math.sqrt(self.head_dim)  # (B, H, T, T)
            weights = torch.softmax(scores.masked_fill(hidden, float("-inf")), dim=-1)
            self._weights = weights.detach()
            self._kept = None
            heads = weights @ v  # (B, H, T, hd)
        out = self._merge(heads)  # (B, T, D)
        return self.out(out) if self.out is not None else out
