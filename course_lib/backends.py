"""The one place backend-neutral code asks "is this a torch model?", turns its arrays into NumPy
and puts NumPy weights back into it: checkpoints, widgets and the DNA helpers all come here.
torch is never imported unless the model in hand is already a torch model, and no backend
module is imported at all.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping
from typing import Any

import numpy as np

__all__ = ["forward", "hidden_states", "is_torch_model", "load_state", "to_numpy"]


def is_torch_model(model: Any) -> bool:
    """True for a `torch.nn.Module` (checked without importing torch)."""
    torch = sys.modules.get("torch")
    return torch is not None and isinstance(model, torch.nn.Module)


def to_numpy(value: Any, dtype: Any = np.float64) -> np.ndarray:
    """A NumPy copy of an array, a list or a torch tensor (any device, out of the graph).

    Floats are widened on torch's side first (NumPy has no bfloat16); `dtype=None` keeps the
    dtype (bfloat16 becomes float32), any other `dtype` converts to it (the default, float64, is
    what plots and tables want)."""
    if hasattr(value, "detach"):
        tensor = value.detach().cpu()
        widen = dtype is not None and tensor.is_floating_point()
        if widen or str(tensor.dtype) == "torch.bfloat16":
            tensor = tensor.float() if dtype is None else tensor.double()
        value = tensor.numpy()
    return np.array(value, dtype=dtype, copy=True)


def load_state(model: Any, state: Mapping[str, np.ndarray]) -> None:
    """Put NumPy arrays into `model`'s weights (either backend), each cast to that weight's own
    dtype and moved to its device; the keys must be exactly the model's `state_dict()` keys."""
    current = model.state_dict()
    if is_torch_model(model):
        import torch

        tensors = {
            key: torch.as_tensor(array).to(dtype=current[key].dtype, device=current[key].device)
            for key, array in state.items()
        }
        model.load_state_dict(tensors, strict=True)
    else:
        model.load_state_dict({k: np.asarray(a, dtype=current[k].dtype) for k, a in state.items()})


def _inputs(model: Any, *arrays: np.ndarray) -> list[Any]:
    if not is_torch_model(model):
        return list(arrays)
    import torch

    device = next(model.parameters()).device
    return [torch.as_tensor(a, device=device) for a in arrays]


def forward(model: Any, ids: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Logits (batch, time, vocab) of a model of either backend, without gradients, as NumPy;
    afterwards each attention layer holds its weights, as after any forward pass."""
    if is_torch_model(model):
        import torch

        with torch.no_grad():
            return to_numpy(model(*_inputs(model, ids, mask)))
    return to_numpy(model.forward(ids, mask))


def hidden_states(model: Any, ids: np.ndarray, mask: np.ndarray) -> list[np.ndarray]:
    """`model.hidden_states(ids, mask)` of either backend: n_layers + 1 NumPy arrays
    (batch, time, d_model), the embeddings' output first."""
    if is_torch_model(model):
        import torch

        with torch.no_grad():
            return [to_numpy(s) for s in model.hidden_states(*_inputs(model, ids, mask))]
    return [to_numpy(s) for s in model.hidden_states(ids, mask)]
