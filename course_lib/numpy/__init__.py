"""The NumPy backend: every layer with a hand-written forward and backward.

``from course_lib import numpy as cl`` gives the same names as ``course_lib.torch``.
"""

from __future__ import annotations

from course_lib.numpy.adam import Adam, clip_grad_norm
from course_lib.numpy.attention import SelfAttention, softmax
from course_lib.numpy.block import TransformerBlock
from course_lib.numpy.checkpoint import load_checkpoint, save_checkpoint
from course_lib.numpy.embeddings import Embeddings, sinusoidal_positions
from course_lib.numpy.feedforward import FeedForward
from course_lib.numpy.generate import generate, generate_batch
from course_lib.numpy.kv_cache import KVCache
from course_lib.numpy.layernorm import LayerNorm
from course_lib.numpy.linear import Linear
from course_lib.numpy.loss import cross_entropy
from course_lib.numpy.model import LLM
from course_lib.numpy.module import Module
from course_lib.numpy.output import OutputProjection
from course_lib.numpy.train import train, train_schedule, train_step

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
    "clip_grad_norm",
    "cross_entropy",
    "generate",
    "generate_batch",
    "load_checkpoint",
    "save_checkpoint",
    "sinusoidal_positions",
    "softmax",
    "train",
    "train_schedule",
    "train_step",
]
