"""The PyTorch backend: the NumPy backend's layers as `torch.nn.Module`s with autograd.

``from course_lib import torch as cl`` gives the same names as the NumPy backend: the same
constructor arguments, state_dict keys and shapes, and - for the same seed - the same initial
weights. It runs on any device (`pick_device()`: cuda, then mps, then cpu; every constructor takes
``device=``), in float32 by default and float64 for checks.
"""

from __future__ import annotations

from torch.nn import Module

from course_lib.torch.adam import Adam, clip_grad_norm
from course_lib.torch.attention import SelfAttention, softmax
from course_lib.torch.block import TransformerBlock
from course_lib.torch.checkpoint import load_checkpoint, save_checkpoint
from course_lib.torch.device import autocast, pick_device, resolve_device, resolve_dtype
from course_lib.torch.embeddings import Embeddings, sinusoidal_positions
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
