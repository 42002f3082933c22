"""`LLM`: embeddings -> n_layers transformer blocks (-> final norm, pre-norm only) -> logits."""

from __future__ import annotations

from typing import Any

import numpy as np

from course_lib.config import ModelConfig
from course_lib.inputs import as_batch
from course_lib.numpy.block import TransformerBlock
from course_lib.numpy.embeddings import Embeddings
from course_lib.numpy.kv_cache import KVCache
from course_lib.numpy.layernorm import LayerNorm
from course_lib.numpy.module import Module, as_rng
from course_lib.numpy.output import OutputProjection

__all__ = ["LLM"]


class _Blocks(Module):
    """The list of blocks, so their keys read ``blocks.{i}.…``."""

    def __init__(self, blocks: list[TransformerBlock], dtype: Any) -> None:
        super().__init__(dtype)
        for i, block in enumerate(blocks):
            self.add_module(str(i), block)
        self.items = blocks

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, i: int) -> TransformerBlock:
        return self.items[i]

    def __iter__(self):  # noqa: ANN204 - a plain iterator over the blocks
        return iter(self.items)


class LLM(Module):
    """The whole language model: ids (batch, time) + mask -> logits (batch, time, vocab)."""

    def __init__(self, config: ModelConfig, seed: int = 0, dtype: Any = np.float32) -> None:
        if not isinstance(config, ModelConfig):
            raise TypeError(
                f"LLM needs a ModelConfig, got {type(config).__name__}; e.g. "
                "LLM(ModelConfig(vocab_size=len(vocab)))"
            )
        super().__init__(dtype)
        rng = as_rng(seed)
        self.config = config
        self.embeddings = self.add_module("embeddings", Embeddings(config, rng, dtype))
        self.blocks = self.add_module(
            "blocks",
            _Blocks([TransformerBlock(config, rng, dtype) for _ in range(config.n_layers)], dtype),
        )
        self.final_norm = (
            self.add_module("final_norm", LayerNorm(config.d_model, config.layer_norm_eps, dtype))
            if config.norm == "pre"
            else None
        )
        tied = self.embeddings.token if config.tie_weights else None
        self.output = self.add_module("output", OutputProjection(config, rng, dtype, tied=tied))
        self.flatten()  # one array for all parameters, one for all gradients

    def _inputs(self, ids: Any, mask: Any) -> tuple[np.ndarray, np.ndarray | None]:
        ids = np.asarray(ids)
        mask = None if mask is None else np.asarray(mask, dtype=bool)
        return as_batch(ids, mask, self.config.pad_id, integer=ids.dtype.kind in "iu")

    def forward(self, ids: Any, mask: Any = None, cache: KVCache | None = None) -> np.ndarray:
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

    def backward(self, grad_logits: np.ndarray, accumulate: bool = True) -> np.ndarray:
        """d loss / d logits -> d loss / d (embeddings' output); adds into every gradient, or
        with `accumulate=False` writes every gradient (what `zero_grad()` then `backward` give,
        one pass over the gradients fewer)."""
        grad = self.output.backward(grad_logits, accumulate)  # tied: the token table's gradient
        if self.final_norm is not None:
            grad = self.final_norm.backward(grad, accumulate)
        for block in reversed(self.blocks.items):
            grad = block.backward(grad, accumulate)
        tied = self.output._tied is not None  # then the embeddings add to what output wrote
        self.embeddings.backward(grad, accumulate, token_accumulate=accumulate or tied)
        return grad

    def hidden_states(self, ids: Any, mask: Any = None) -> list[np.ndarray]:
        """The embeddings' output and each block's output: n_layers + 1 (batch, time, d_model)."""
        ids, mask = self._inputs(ids, mask)
        x = self.embeddings(ids)
        states = [x]
        for block in self.blocks:
            x = block(x, mask)
            states.append(x)
        return states

    def attention_weights(self) -> list[np.ndarray]:
        """Each block's attention weights (batch, heads, time, time) from the last forward pass."""
        return [block.attention.weights for block in self.blocks]

    def __repr__(self) -> str:
        return f"LLM({self.config}, parameters={self.num_parameters():,}, dtype={self.dtype})"
