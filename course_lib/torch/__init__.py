"""The PyTorch backend: the same layers as `course_lib.numpy`, as `torch.nn.Module`s with autograd.

``from course_lib import torch as cl`` gives the same names as ``course_lib.numpy``: the same
constructor arguments, state_dict keys and shapes, and - for the same seed - the same initial
weights. It runs on any device (`pick_device()`: cuda, then mps, then cpu; every constructor takes
``device=``), in float32 by default and float64 for checks.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from torch.nn import Module

from course_lib.torch.adam import Adam, clip_grad_norm
from course_lib.torch.attention import SelfAttention
from course_lib.torch.block import TransformerBlock
from course_lib.torch.device import autocast, pick_device, resolve_device, resolve_dtype
from course_lib.torch.embeddings import Embeddings
from course_lib.torch.feedforward import FeedForward
from course_lib.torch.generate import generate, generate_batch
from course_lib.torch.kv_cache import KVCache
from course_lib.torch.layernorm import LayerNorm
from course_lib.torch.linear import Linear
from course_lib.torch.loss import cross_entropy
from course_lib.torch.model import LLM
from course_lib.torch.output import OutputProjection
from course_lib.torch.train import train, train_schedule, train_step

__all__ = [
    "LLM",
    "Adam",
    "Embeddings",
    "FeedForward",
    "KVCache",
    "LayerNorm",
    "Linear",
    "Module",
    "OutputProjection",
    "SelfAttention",
    "TransformerBlock",
    "autocast",
    "clip_grad_norm",
    "cross_entropy",
    "generate",
    "generate_batch",
    "load_checkpoint",
    "pick_device",
    "resolve_device",
    "resolve_dtype",
    "save_checkpoint",
    "sinusoidal_positions",
    "softmax",
    "train",
    "train_schedule",
    "train_step",
]


def softmax(x: torch.Tensor, axis: int = -1) -> torch.Tensor:
    """exp(x) / sum(exp(x)) along `axis` (`torch.softmax`, which never overflows)."""
    return torch.softmax(x, dim=axis)


def sinusoidal_positions(
    max_seq_len: int, d_model: int, dtype: Any = torch.float64, device: Any = None
) -> torch.Tensor:
    """(max_seq_len, d_model) table of sines (even columns) and cosines (odd columns)."""
    from course_lib.numpy.embeddings import sinusoidal_positions as numpy_table

    return torch.as_tensor(numpy_table(max_seq_len, d_model), dtype=dtype, device=device)


def save_checkpoint(path: str | Path, model: LLM, vocab: Any) -> Path:
    """Write `model` (weights and config) and `vocab` to `path` (course_lib.checkpoint's format)."""
    from course_lib import checkpoint

    return checkpoint.save(path, model, vocab)


def load_checkpoint(path: str | Path, device: Any = None, dtype: Any = None) -> tuple[LLM, Any]:
    """(model, vocab) read from a checkpoint written by either backend, on `device`
    (default: the best device present)."""
    from course_lib import checkpoint

    return checkpoint.load(path, backend="torch", device=device, dtype=dtype)
