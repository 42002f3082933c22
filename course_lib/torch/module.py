"""What the torch layers share: `torch.nn.Module` is their base; this file holds the helper that
gives a torch layer the same initial weights as its NumPy twin.

Initial weights are drawn by the NumPy backend's own code from the same seed, so
``LLM(config, seed=0)`` of either backend starts from identical weights: a run on either backend
starts at the same point, and the two can be compared step by step.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch import nn

from course_lib.torch.device import resolve_device, resolve_dtype

__all__ = ["as_tensor", "copy_numpy_weights", "placement"]


def placement(dtype: Any, device: Any) -> dict[str, Any]:
    """``{"dtype": ..., "device": ...}`` for torch factory functions, resolved and checked.

    ``device=None`` means the CPU here, as for every torch factory function; `pick_device()` is
    only used when asked for (``device="auto"``).
    """
    return {
        "dtype": resolve_dtype(dtype),
        "device": torch.device("cpu") if device is None else resolve_device(device),
    }


@torch.no_grad()
def copy_numpy_weights(module: nn.Module, twin: Any) -> None:
    """Copy every parameter of the NumPy layer `twin` into the torch `module` (same keys)."""
    arrays = twin.state_dict()
    params = dict(module.named_parameters())
    if set(arrays) != set(params):  # a bug in the twin's mirror, not a user mistake
        raise RuntimeError(
            f"{type(module).__name__}: parameter names differ from the NumPy twin's: "
            f"{sorted(set(arrays) ^ set(params))}"
        )
    for name, param in params.items():
        param.copy_(torch.as_tensor(np.asarray(arrays[name], dtype=np.float64)))


def as_tensor(values: Any, device: torch.device, dtype: torch.dtype | None = None) -> torch.Tensor:
    """`values` (a tensor, NumPy array or nested list) as a tensor on `device`."""
    tensor = torch.as_tensor(values, device=device)
    return tensor if dtype is None else tensor.to(dtype)
