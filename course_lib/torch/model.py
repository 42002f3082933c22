"""`LLM`: embeddings -> n_layers transformer blocks (-> final norm, pre-norm only) -> logits.

The twin of `numpy/model.py`: the same constructor, the same state_dict keys and shapes,
and the same initial weights for the same seed (drawn by the NumPy code, then copied).
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from course_lib.config import ModelConfig
from course_lib.inputs import as_batch
from course_lib.numpy.module import as_rng
from course_lib.torch.block import TransformerBlock
from course_lib.torch.embeddings import Embeddings
from course_lib.torch.kv_cache import KVCache
from course_lib.torch.layernorm import LayerNorm
from course_lib.torch.module import as_tensor, placement
from course_lib.torch.output import OutputProjection

__all__ = ["LLM"]


class LLM(nn.Module):
    """The whole language model: ids (batch, time) + mask -> logits (batch, time, vocab).

    `dtype` is float32 by default (float64 for checks); `device` is the CPU unless given
    (``"auto"`` picks cuda, then mps, then cpu). `use_sdpa` makes attention run through
    `torch.nn.functional.scaled_dot_product_attention` (same result, fused kernels on a GPU).
    """

    def __init__(
        self,
        config: ModelConfig,
        seed: int = 0,
        dtype: Any = None,
        device: Any = None,
        use_sdpa: bool = False,
    ) -> None:
        if not isinstance(config, ModelConfig):
            raise TypeError(
                f"LLM needs a ModelConfig, got {type(config).__name__}; e.g. "
                "LLM(ModelConfig(vocab_size=len(vocab)))"
            )
        super().__init__()
        where = placement(dtype, device)
        dtype, device = where["dtype"], where["device"]
        rng = as_rng(seed)  # one stream, drawn from in the NumPy twin's order
        self.config = config
        self.embeddings = Embeddings(config, rng, dtype, device)
        self.blocks = nn.ModuleList(
            TransformerBlock(config, rng, dtype, device, use_sdpa=use_sdpa)
            for _ in range(config.n_layers)
        )
        self.final_norm = (
            LayerNorm(config.d_model, config.layer_norm_eps, dtype, device)
            if config.norm == "pre"
            else None
        )
        tied = self.embeddings.token if config.tie_weights else None
        self.output = OutputProjection(config, rng, dtype, device, tied=tied)

    @property
    def device(self) -> torch.device:
        """Where the parameters are."""
        return self.output.bias.device

    @property
    def dtype(self) -> torch.dtype:
        """The parameters' dtype."""
        return self.output.bias.dtype

    def set_sdpa(self, use_sdpa: bool) -> None:
        """Switch every attention layer to (or from) `scaled_dot_product_attention`."""
        for block in self.blocks:
            block.attention.use_sdpa = use_sdpa

    def _inputs(self, ids: Any, mask: Any) -> tuple[torch.Tensor, torch.Tensor | None]:
        ids = as_tensor(ids, self.device)
        mask = None if mask is None else as_tensor(mask, self.device).to(torch.bool)
        integer = not (ids.is_floating_point() or ids.dtype == torch.bool)
        ids, mask = as_batch(ids, mask, self.config.pad_id, integer)
        return ids.long(), mask

    def forward(self, ids: Any, mask: Any = None, cache: KVCache | None = None) -> torch.Tensor:
        """ids (batch, time), mask (batch, time) True on real tokens (default: ids != pad_id)
        -> logits (batch, time, vocab). A 1-D ids array is read as a batch of one.

        With a `cache` (generation) the ids continue each row's text after the positions the
        cache holds, and the cache grows by `time`; each position sees the positions before it in
        its row, so right padding needs no mask."""
        ids, mask = self._inputs(ids, mask)
        positions = None if cache is None else cache.positions(ids.shape[1])  # (B, T)
        x = self.embeddings(ids, positions)  # (B, T, D)
        for i, block in enumerate(self.blocks):
            x = block(
                x, mask, None if cache is None else (cache.keys[i], cache.values[i], positions)
            )
        if cache is not None:
            cache.lengths += ids.shape[1]
        if self.final_norm is not None:
            x = self.final_norm(x)
        return self.output(x)  # (B, T, V)

    def hidden_states(self, ids: Any, mask: Any = None) -> list[torch.Tensor]:
        """The embeddings' output and each block's output: n_layers + 1 tensors
        (batch, time, d_model)."""
        ids, mask = self._inputs(ids, mask)
        x = self.embeddings(ids)
        states = [x]
        for block in self.blocks:
            x = block(x, mask)
            states.append(x)
        return states

    def attention_weights(self) -> list[torch.Tensor | None]:
        """Each block's attention weights (batch, heads, time, time) from the last forward pass."""
        return [block.attention.weights for block in self.blocks]

    def num_parameters(self) -> int:
        """How many numbers the parameters hold."""
        return sum(p.numel() for p in self.parameters())

    def __repr__(self) -> str:
        return (
            f"LLM({self.config}, parameters={self.num_parameters():,}, dtype={self.dtype}, "
            f"device={self.device})"
        )
