"""`save_checkpoint` and `load_checkpoint`: a NumPy `LLM` to and from the checkpoint file.

The file itself - its format, its checks, reading and writing it - is `course_lib.checkpoint`,
which knows no backend; here the NumPy backend builds its own model from what it reads.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from course_lib import checkpoint
from course_lib.numpy.model import LLM

__all__ = ["load_checkpoint", "save_checkpoint"]


def save_checkpoint(path: str | Path, model: LLM, vocab: Any) -> Path:
    """Write `model` (weights and config) and `vocab` to `path` (course_lib.checkpoint's format);
    return the path."""
    return checkpoint.save(path, model, vocab)


def load_checkpoint(path: str | Path, dtype: Any = None) -> tuple[LLM, Any]:
    """(model, vocab) read from a checkpoint written by either backend, in `dtype` (default: the
    dtype its weights were saved in)."""
    saved = checkpoint.read(path)
    model = LLM(saved.config, seed=0, dtype=saved.dtype if dtype is None else np.dtype(dtype))
    checkpoint.assign(model, saved, str(path))
    return model, saved.vocab
