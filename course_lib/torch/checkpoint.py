"""`save_checkpoint` and `load_checkpoint`: a torch `LLM` to and from the checkpoint file.

The twin of `numpy/checkpoint.py`. The file itself is `course_lib.checkpoint`, which
knows no backend; here the torch backend builds its own model, on a device, from what it reads.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from course_lib import checkpoint
from course_lib.torch.model import LLM

__all__ = ["load_checkpoint", "save_checkpoint"]


def save_checkpoint(path: str | Path, model: LLM, vocab: Any) -> Path:
    """Write `model` (weights and config) and `vocab` to `path` (course_lib.checkpoint's format);
    return the path."""
    return checkpoint.save(path, model, vocab)


def load_checkpoint(path: str | Path, device: Any = None, dtype: Any = None) -> tuple[LLM, Any]:
    """(model, vocab) read from a checkpoint written by either backend, on `device` (default: the
    best device present) in `dtype` (default: the dtype its weights were saved in; float16, which
    this backend does not compute in, loads as float32)."""
    saved = checkpoint.read(path)
    if dtype is None:
        dtype = np.float32 if saved.dtype == np.float16 else saved.dtype
    model = LLM(saved.config, seed=0, dtype=dtype, device="auto" if device is None else device)
    checkpoint.assign(model, saved, str(path))
    return model, saved.vocab
