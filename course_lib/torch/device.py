"""Which device and dtype the torch backend runs on: cuda, then mps, then cpu.

Nothing here assumes a GPU: on a machine without one every helper answers "cpu". Every function
and class of the backend also takes an explicit ``device=`` (a string such as ``"cpu"`` or
``"cuda:0"``, or a ``torch.device``); `resolve_device` turns that into a ``torch.device`` and says
clearly when the device asked for is not there.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

import torch

__all__ = ["autocast", "pick_device", "resolve_device", "resolve_dtype"]

_DTYPES = {
    "float32": torch.float32,
    "float64": torch.float64,
    "bfloat16": torch.bfloat16,
}


def pick_device() -> torch.device:
    """The fastest device present: ``cuda`` if a CUDA GPU is there, else ``mps``, else ``cpu``."""
    if torch.cuda.is_available():
        return torch.device("cuda")
    mps = getattr(torch.backends, "mps", None)
    if mps is not None and mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


def resolve_device(device: str | torch.device | None = None) -> torch.device:
    """``device`` as a ``torch.device``; None or ``"auto"`` means `pick_device()`.

    Asking for ``cuda`` or ``mps`` on a machine that does not have it is an error that says so.
    """
    if device is None or device == "auto":
        return pick_device()
    try:
        resolved = torch.device(device)
    except (RuntimeError, TypeError) as error:
        raise ValueError(
            f"unknown device {device!r} ({error}); use 'cpu', 'cuda', 'cuda:0', 'mps' or 'auto'"
        ) from None
    if resolved.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(
            f"device {device!r} asked for, but this machine has no CUDA GPU that torch can use; "
            f"use device='cpu' (or 'auto' to take the best device present)"
        )
    if resolved.type == "mps":
        mps = getattr(torch.backends, "mps", None)
        if mps is None or not mps.is_available():
            raise ValueError(
                f"device {device!r} asked for, but MPS (Apple GPU) is not available here; "
                f"use device='cpu' (or 'auto')"
            )
    return resolved


def resolve_dtype(dtype: Any = None) -> torch.dtype:
    """``dtype`` as a torch floating dtype; None means float32.

    Accepts a ``torch.dtype``, a NumPy dtype (``np.float64``) or a name (``"float64"``).
    """
    if dtype is None:
        return torch.float32
    if isinstance(dtype, torch.dtype):
        resolved = dtype
    else:
        name = dtype if isinstance(dtype, str) else getattr(dtype, "__name__", None)
        if name is None:  # a numpy.dtype instance
            name = str(dtype)
        resolved = _DTYPES.get(str(name).replace("torch.", ""))
        if resolved is None:
            raise ValueError(f"unsupported dtype {dtype!r}; use float32, float64 or bfloat16")
    if resolved not in _DTYPES.values():
        raise ValueError(f"unsupported dtype {resolved}; use float32, float64 or bfloat16")
    return resolved


@contextlib.contextmanager
def autocast(device: torch.device, enabled: bool = False) -> Iterator[None]:
    """bfloat16 autocast on CUDA when ``enabled``; elsewhere (or when off) a no-op.

    Only CUDA gets it: on the CPU autocast is slower than float32 for models this small, and the
    results of the course's checks are stated for float32 and float64.
    """
    if enabled and device.type == "cuda":
        with torch.autocast(device_type="cuda", dtype=torch.bfloat16):
            yield
    else:
        yield
