"""`Module`: the small base class every NumPy layer shares.

A module owns named parameters (NumPy arrays) and a gradient array of the same shape for each;
`backward` adds into the gradients (like PyTorch, so a shared weight collects both uses) and
`zero_grad` clears them; `backward(grad, accumulate=False)` writes them instead (the same numbers
as `zero_grad` then `backward`, without the pass that clears them first). Child modules give
dotted names: ``blocks.0.attention.query.weight``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

__all__ = ["Module", "as_rng", "gradient_into", "state_keeping_views", "state_with_views"]


def as_rng(seed: int | np.random.Generator | None) -> np.random.Generator:
    """A NumPy Generator from a seed (or the Generator itself)."""
    if isinstance(seed, np.random.Generator):
        return seed
    return np.random.default_rng(seed)


def gradient_into(
    target: np.ndarray, accumulate: bool, compute: Any, *args: Any, **kwargs: Any
) -> None:
    """`target += compute(*args)`, or with `accumulate=False` `target = compute(*args)` written
    straight into `target` (`compute` is a NumPy function that takes `out=`: np.matmul, np.einsum,
    np.add.reduce): no temporary array and no pass over a zeroed gradient."""
    if accumulate:
        target += compute(*args, **kwargs)
    else:
        compute(*args, out=target, **kwargs)


def _view_of(base: np.ndarray, offset: int, shape: tuple, strides: tuple, dtype: Any) -> np.ndarray:
    """The view of `base` that starts `offset` bytes in (how `_View` comes back)."""
    return np.ndarray(shape, dtype, buffer=base, offset=offset, strides=strides)


class _View:
    """Stands for a view of another array while an object is pickled or deep-copied.

    Pickling or deep-copying a NumPy view copies its numbers into a new array of its own, so a
    parameter that was a window into the model's flat buffer would come back cut off from it.
    This placeholder comes back as a view of the one copy of that buffer instead (pickle and
    deepcopy each copy an object once, however many views refer to it)."""

    def __init__(self, array: np.ndarray) -> None:
        base = array.base
        offset = array.__array_interface__["data"][0] - base.__array_interface__["data"][0]
        self.args = (base, offset, array.shape, array.strides, array.dtype)

    def __reduce__(self) -> tuple:
        return _view_of, self.args


def _shares_a_buffer(value: Any) -> bool:
    """A view of a NumPy array that owns its memory (the kind `_View` rebuilds)."""
    return (
        isinstance(value, np.ndarray)
        and isinstance(value.base, np.ndarray)
        and value.base.base is None
        and value.base.flags.owndata
        and value.base.flags.c_contiguous
    )


def state_keeping_views(state: dict[str, Any]) -> dict[str, Any]:
    """`state` (an object's `__dict__`) for `__getstate__`, with every array that is a view of
    another array, in it or in its dicts, lists and tuples, replaced by a `_View`: after pickle or
    `copy.deepcopy` those arrays share memory again, as they did before."""
    placeholders: dict[int, _View] = {}  # one per view, so an array named twice comes back once

    def keep(value: Any) -> Any:
        if _shares_a_buffer(value):
            if id(value) not in placeholders:
                placeholders[id(value)] = _View(value)
            return placeholders[id(value)]
        if isinstance(value, dict):
            return {key: keep(item) for key, item in value.items()}
        if isinstance(value, (list, tuple)):
            return type(value)(keep(item) for item in value)
        return value

    return {key: keep(value) for key, value in state.items()}


def state_with_views(state: dict[str, Any]) -> dict[str, Any]:
    """The inverse of `state_keeping_views`, for `__setstate__`: pickle and deepcopy have already
    turned each `_View` back into a view, but `copy.copy` hands the placeholders over as they are
    (a shallow copy shares the arrays, so they become views of the same memory again)."""

    def restore(value: Any) -> Any:
        if isinstance(value, _View):
            return _view_of(*value.args)
        if isinstance(value, dict):
            return {key: restore(item) for key, item in value.items()}
        if isinstance(value, (list, tuple)):
            return type(value)(restore(item) for item in value)
        return value

    return {key: restore(value) for key, value in state.items()}


class Module:
    """Named parameters, their gradients, children, and state_dict / load_state_dict."""

    def __init__(self, dtype: Any = np.float32) -> None:
        self.dtype = np.dtype(dtype)
        if self.dtype.kind != "f":
            raise TypeError(f"dtype must be a floating type (float32 or float64), got {self.dtype}")
        self._params: dict[str, np.ndarray] = {}
        self._grads: dict[str, np.ndarray] = {}
        self._children: dict[str, Module] = {}
        # Set by `flatten()`: every parameter (gradient) is a view into one contiguous array.
        self.flat_parameters: np.ndarray | None = None
        self.flat_gradients: np.ndarray | None = None

    def __getstate__(self) -> dict[str, Any]:
        """For pickle and `copy.deepcopy`: parameters and gradients stay views of one flat
        array each in the copy (see `flatten`), so the copy trains and loads like the original."""
        return state_keeping_views(self.__dict__)

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state_with_views(state))

    # ---------------------------------------------------------------- registration
    def add_parameter(self, name: str, value: np.ndarray) -> np.ndarray:
        """Register `value` (cast to the module's dtype) as parameter `name`, gradient zero."""
        value = np.ascontiguousarray(value, dtype=self.dtype)
        self._params[name] = value
        self._grads[name] = np.zeros_like(value)
        return value

    def add_module(self, name: str, module: Module) -> Module:
        """Register a child module under `name`."""
        self._children[name] = module
        return module

    # ---------------------------------------------------------------- forward / backward
    def forward(self, *args: Any, **kwargs: Any) -> Any:  # pragma: no cover - overridden
        raise NotImplementedError

    def backward(self, grad: np.ndarray, accumulate: bool = True) -> Any:  # pragma: no cover
        raise NotImplementedError  # overridden

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self.forward(*args, **kwargs)

    # ---------------------------------------------------------------- parameters
    def parameters(self) -> dict[str, np.ndarray]:
        """Every parameter by dotted name (the arrays themselves, not copies)."""
        out = dict(self._params)
        for child_name, child in self._children.items():
            for name, value in child.parameters().items():
                out[f"{child_name}.{name}"] = value
        return out

    def gradients(self) -> dict[str, np.ndarray]:
        """The gradient of every parameter, with the same keys as `parameters()`."""
        out = dict(self._grads)
        for child_name, child in self._children.items():
            for name, value in child.gradients().items():
                out[f"{child_name}.{name}"] = value
        return out

    def zero_grad(self) -> None:
        """Set every gradient to zero."""
        if self.flat_gradients is not None:
            self.flat_gradients.fill(0)
            return
        for grad in self.gradients().values():
            grad.fill(0)

    def _owned(self) -> list[tuple[Module, str]]:
        """(module, local name) of every parameter, in `parameters()` order."""
        out = [(self, name) for name in self._params]
        for child in self._children.values():
            out.extend(child._owned())
        return out

    def flatten(self) -> None:
        """Move every parameter and gradient into one contiguous array each (values kept), so an
        optimiser, `zero_grad` and gradient clipping each touch one array instead of dozens.

        Every child module gets the slice of those arrays that holds its own parameters (they are
        laid out depth first, so a module's parameters are contiguous): `SelfAttention` reads its
        query, key and value weights as one (3 * d_model, d_model) matrix this way."""
        owned = self._owned()
        total = sum(m._params[n].size for m, n in owned)
        flat_p = np.empty(total, dtype=self.dtype)
        flat_g = np.zeros(total, dtype=self.dtype)
        offset = 0
        for module, name in owned:
            old = module._params[name]
            view = flat_p[offset : offset + old.size].reshape(old.shape)
            view[...] = old
            module._params[name] = view
            module._grads[name] = flat_g[offset : offset + old.size].reshape(old.shape)
            if getattr(module, name, None) is old:  # attributes like `self.weight` follow
                setattr(module, name, view)
            offset += old.size
        self._share_flat(flat_p, flat_g, 0)

    def _share_flat(self, flat_p: np.ndarray, flat_g: np.ndarray, start: int) -> int:
        """Point this module and its children at their slices of the flat arrays; the end offset."""
        end = start + sum(p.size for p in self._params.values())
        for child in self._children.values():
            end = child._share_flat(flat_p, flat_g, end)
        self.flat_parameters, self.flat_gradients = flat_p[start:end], flat_g[start:end]
        return end

    def num_parameters(self) -> int:
        """How many numbers the parameters hold."""
        return sum(p.size for p in self.parameters().values())

    # ---------------------------------------------------------------- state
    def state_dict(self) -> dict[str, np.ndarray]:
        """A copy of every parameter, by dotted name (PyTorch's keys and shapes)."""
        return {name: value.copy() for name, value in self.parameters().items()}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        """Copy `state` into the parameters; any missing, extra, misshapen or non-numeric entry
        raises a ValueError naming it, and then nothing is changed."""
        params = self.parameters()
        missing = sorted(set(params) - set(state))
        unexpected = sorted(set(state) - set(params))
        problems = []
        if missing:
            problems.append(f"missing keys {missing}")
        if unexpected:
            problems.append(f"unexpected keys {unexpected}")
        converted: dict[str, np.ndarray] = {}
        for name, target in params.items():
            if name not in state:
                continue
            value = state[name]
            if hasattr(value, "detach"):  # a torch tensor
                value = value.detach().cpu().numpy()
            array = np.asarray(value)
            if array.dtype.kind not in "fiu" or array.dtype == np.bool_:
                problems.append(f"{name}: dtype {array.dtype} is not a number type")
                continue
            if array.shape != target.shape:
                problems.append(
                    f"{name}: shape {tuple(array.shape)} in the state, {tuple(target.shape)} in "
                    "the model"
                )
                continue
            converted_value = array.astype(target.dtype)
            if not np.all(np.isfinite(converted_value)):
                problems.append(f"{name}: holds nan or inf (or overflows {target.dtype})")
                continue
            converted[name] = converted_value
        if problems:
            raise ValueError(
                f"load_state_dict into {type(self).__name__}: "
                + "; ".join(problems)
                + ". Nothing was loaded: build the model with the same ModelConfig as the one "
                "that saved the state."
            )
        for name, value in converted.items():
            params[name][...] = value
