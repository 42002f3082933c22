"""Plain data on the wire: what a learner's function may receive and return in a check.

A check never trusts an object that came out of a learner's code. Every argument and every result
goes through `encode` and `decode`: JSON-ready plain data (None, bool, int, float, str, list,
tuple, dict, NumPy arrays as bytes + dtype + shape) and, for the model exercises, the course's
NumPy `LLM` and `Adam` as their weights and state. Nothing is pickled; anything else is a
`WireError` that says what was returned. The grader sends a check's inputs into the learner's
kernel and gets the results back this way; in a notebook the check round-trips the result through
the same functions, so both see the very same values (a `list` subclass that claims to equal
everything is a plain `list` afterwards).

Identity survives the trip: an object that appears twice (the same array passed as two
arguments, a result that is one of the arguments) is sent once and referred to by its number, and
`decode(..., into=...)` writes what the call changed back into the caller's own objects.
"""

from __future__ import annotations

import base64
import math
from dataclasses import asdict
from typing import Any

import numpy as np

__all__ = ["WireError", "decode", "encode", "roundtrip"]

MAX_DEPTH = 40
# The largest model a reply may ask to be built: a few times the course's own reference model
# (vocab 533, d_model 128, d_hidden 256, 3 layers, 80 positions) and far below what ModelConfig
# allows, so that a few hundred bytes of config cannot make the receiver allocate gigabytes.
MODEL_LIMITS = {
    "vocab_size": 4096,
    "d_model": 256,
    "d_hidden": 1024,
    "n_layers": 6,
    "n_heads": 16,
    "max_seq_len": 256,
}
MAX_BYTES = 256 * 2**20  # arrays, strings and items in one message
MAX_ITEMS = 1_000_000  # list, tuple and dict items one decoded value may hold
ARRAY_KINDS = "biufc"  # bool, signed, unsigned, float, complex


class WireError(TypeError):
    """A value cannot be sent as plain data; the message names its type and where it was."""


class _Encoder:
    def __init__(self, ids: dict[int, int] | None = None, first_id: int = 0) -> None:
        self.ids = dict(ids or {})  # id(obj) -> wire number, fixed before the call
        self.next_id = max([first_id - 1, *self.ids.values()]) + 1
        self.sent: set[int] = set()
        self.keep: list[Any] = []  # keeps encoded objects alive, so id() stays unique
        self.bytes = 0

    def number(self, obj: Any) -> int:
        key = id(obj)
        if key not in self.ids:
            self.ids[key] = self.next_id
            self.next_id += 1
        self.keep.append(obj)
        return self.ids[key]

    def count(self, n: int, where: str) -> None:
        self.bytes += n
        if self.bytes > MAX_BYTES:
            raise WireError(f"{where}: more than {MAX_BYTES // 2**20} MB of data")

    def __call__(self, value: Any, where: str = "value", depth: int = 0) -> Any:
        if depth > MAX_DEPTH:
            raise WireError(f"{where}: nested more than {MAX_DEPTH} levels deep")
        if value is None or isinstance(value, bool):
            return value
        if type(value) is int or (isinstance(value, int) and not isinstance(value, np.integer)):
            return int(value)
        if isinstance(value, float) and not isinstance(value, np.floating):
            value = float(value)
            return value if math.isfinite(value) else {"float": repr(value)}
        if isinstance(value, str):
            self.count(len(value), where)
            return str(value)
        if isinstance(value, np.generic):
            if value.dtype.kind not in ARRAY_KINDS:
                raise WireError(f"{where}: a NumPy {value.dtype} scalar cannot be sent")
            return {"scalar": _array_fields(np.asarray(value))}
        if isinstance(value, (list, tuple, dict, np.ndarray)) or _codec(value) is not None:
            number = self.number(value)
            if number in self.sent:
                return {"ref": number}
            self.sent.add(number)
            return {"id": number, **self.body(value, where, depth)}
        raise WireError(
            f"{where} is a {type(value).__module__}.{type(value).__qualname__}; "
            "only numbers, strings, lists, tuples, dicts and NumPy arrays can be checked"
        )

    def body(self, value: Any, where: str, depth: int) -> dict[str, Any]:
        if isinstance(value, np.ndarray):
            if value.dtype.kind not in ARRAY_KINDS:
                raise WireError(
                    f"{where} is an array of dtype {value.dtype}; "
                    "use numbers (int, float or bool arrays)"
                )
            self.count(value.nbytes, where)
            return {"array": _array_fields(value)}
        if isinstance(value, (list, tuple)):
            self.count(len(value), where)
            kind = "tuple" if isinstance(value, tuple) else "list"
            items = [self(v, f"{where}[{i}]", depth + 1) for i, v in enumerate(list(value))]
            return {kind: items}
        if isinstance(value, dict):
            self.count(len(value), where)
            pairs = []
            for key, item in list(value.items()):
                if not _plain_key(key):
                    raise WireError(
                        f"{where} has a key of type {type(key).__name__}; use str, int or a "
                        "tuple of them"
                    )
                pairs.append(
                    [self(key, where, depth + 1), self(item, f"{where}[{key!r}]", depth + 1)]
                )
            return {"dict": pairs}
        kind, codec = _codec(value)
        return {"object": kind, "state": self(codec.state(value, self), where, depth + 1)}


def _plain_key(key: Any) -> bool:
    """A dict key a check may receive: a str, an int, or a flat tuple of them (a pair of ids)."""
    if type(key) is tuple:
        return all(type(k) is not tuple and _plain_key(k) for k in key)
    return isinstance(key, (str, int)) and not isinstance(key, (bool, np.integer))


def _array_fields(array: np.ndarray) -> dict[str, Any]:
    array = np.array(array, order="C", copy=True)  # (ascontiguousarray makes 0-d arrays 1-d)
    return {
        "dtype": array.dtype.str,
        "shape": list(array.shape),
        "data": base64.b64encode(array.tobytes()).decode("ascii"),
    }


def _array_from(fields: dict[str, Any]) -> np.ndarray:
    dtype = np.dtype(str(fields["dtype"]))
    if dtype.kind not in ARRAY_KINDS:
        raise WireError(f"an array of dtype {dtype} cannot be received")
    shape = tuple(int(n) for n in fields["shape"])
    data = base64.b64decode(str(fields["data"]), validate=True)
    if len(data) != dtype.itemsize * math.prod(shape):
        raise WireError(f"an array of shape {shape} and dtype {dtype} has {len(data)} bytes")
    return np.frombuffer(data, dtype=dtype).reshape(shape).copy()


# --------------------------------------------------------------------------- model objects


class _LLMCodec:
    """The NumPy backend's `LLM`: its config, dtype, weights and gradients."""

    @staticmethod
    def state(model: Any, encoder: _Encoder) -> dict[str, Any]:
        return {
            "config": asdict(model.config),
            "dtype": np.dtype(model.dtype).str,
            "weights": {k: v.copy() for k, v in model.state_dict().items()},
            "grads": {k: v.copy() for k, v in model.gradients().items()},
        }

    @staticmethod
    def build(state: dict[str, Any]) -> Any:
        from course_lib import numpy as cl
        from course_lib.config import ModelConfig

        config = state["config"]
        if not isinstance(config, dict) or not all(isinstance(k, str) for k in config):
            raise WireError("a model's config on the wire is not a dict of fields")
        for name, limit in MODEL_LIMITS.items():
            value = config.get(name, 0)
            if not isinstance(value, int) or value > limit:
                raise WireError(
                    f"a model with {name}={value!r} is larger than a check's models "
                    f"(at most {limit}); return the model you were given"
                )
        dtype = np.dtype(str(state["dtype"]))
        if dtype.kind != "f":
            raise WireError(f"a model of dtype {dtype} cannot be received")
        model = cl.LLM(ModelConfig(**config), dtype=dtype)
        _LLMCodec.load(model, state)
        return model

    @staticmethod
    def load(model: Any, state: dict[str, Any]) -> None:
        model.load_state_dict(state["weights"])
        grads = model.gradients()
        if set(grads) != set(state["grads"]):
            raise WireError("a model came back with other gradient names")
        for name, grad in grads.items():
            grad[...] = state["grads"][name]


class _AdamCodec:
    """The NumPy backend's `Adam` over a whole model: the model and the optimizer state."""

    @staticmethod
    def state(optimizer: Any, encoder: _Encoder) -> dict[str, Any]:
        model = getattr(optimizer, "module", None)
        if model is None:
            raise WireError("only an Adam built on a whole model can be sent to a check")
        return {"model": model, "state": optimizer.state_dict()}

    @staticmethod
    def build(state: dict[str, Any]) -> Any:
        from course_lib import numpy as cl

        saved = state["state"]
        optimizer = cl.Adam(
            state["model"],
            lr=saved["lr"],
            betas=tuple(saved["betas"]),
            eps=saved["eps"],
            weight_decay=saved["weight_decay"],
        )
        optimizer.load_state_dict(saved)
        return optimizer

    @staticmethod
    def load(optimizer: Any, state: dict[str, Any]) -> None:
        optimizer.load_state_dict(state["state"])


_CODECS = {"numpy.LLM": _LLMCodec, "numpy.Adam": _AdamCodec}


def _codec(value: Any) -> tuple[str, Any] | None:
    module = type(value).__module__
    if not module.startswith("course_lib.numpy"):
        return None
    name = type(value).__name__
    if name == "LLM":
        return "numpy.LLM", _LLMCodec
    if name == "Adam":
        return "numpy.Adam", _AdamCodec
    return None


# --------------------------------------------------------------------------- decoding


class _Decoder:
    def __init__(self, into: dict[int, Any] | None = None, max_items: int = MAX_ITEMS) -> None:
        self.into = dict(into or {})  # wire number -> the caller's object to update in place
        self.seen: dict[int, Any] = {}
        self.items = 0
        self.max_items = max_items

    def count(self, items: Any) -> None:
        if not isinstance(items, list):
            raise WireError(f"unexpected {type(items).__name__} where a list of items belongs")
        self.items += len(items)
        if self.items > self.max_items:
            raise WireError(f"more than {self.max_items:,} items in one value")

    def __call__(self, data: Any, depth: int = 0) -> Any:
        if depth > MAX_DEPTH:
            raise WireError(f"data nested more than {MAX_DEPTH} levels deep")
        if data is None or isinstance(data, (bool, int, float, str)):
            return data
        if isinstance(data, list):
            raise WireError("a bare list on the wire (lists come tagged)")
        if not isinstance(data, dict):
            raise WireError(f"unexpected {type(data).__name__} on the wire")
        if "float" in data:
            text = str(data["float"])
            if text not in ("nan", "inf", "-inf"):
                raise WireError(f"unexpected float {text!r} on the wire")
            return float(text)
        if "scalar" in data:
            return _array_from(data["scalar"])[()]
        if "ref" in data:
            number = int(data["ref"])
            if number not in self.seen:
                raise WireError(f"reference to object {number} before it was sent")
            return self.seen[number]
        number = int(data["id"])
        target = self.into.get(number)
        if "array" in data:
            array = _array_from(data["array"])
            if (
                isinstance(target, np.ndarray)
                and target.size == array.size
                and target.dtype == array.dtype
                and target.flags.writeable
            ):
                try:
                    if target.shape != array.shape:
                        target.shape = array.shape  # reshaped in place (x.shape = ...)
                    target[...] = array
                    array = target
                except (AttributeError, ValueError):  # a view that cannot take that shape
                    pass
            self.seen[number] = array
            return array
        if "list" in data or "tuple" in data:
            if "tuple" in data:
                # A tuple is immutable: its items may still be updated in place.
                placeholder: list[Any] = []
                self.seen[number] = placeholder
                self.count(data["tuple"])
                items = [self(v, depth + 1) for v in data["tuple"]]
                result = tuple(items)
                self.seen[number] = result
                return result
            result_list = target if isinstance(target, list) else []
            self.seen[number] = result_list
            self.count(data["list"])
            items = [self(v, depth + 1) for v in data["list"]]
            result_list[:] = items
            return result_list
        if "dict" in data:
            result_dict = target if isinstance(target, dict) else {}
            self.seen[number] = result_dict
            self.count(data["dict"])
            pairs = [(self(k, depth + 1), self(v, depth + 1)) for k, v in data["dict"]]
            for key, _ in pairs:
                if not _plain_key(key):
                    raise WireError(f"a dict key of type {type(key).__name__} on the wire")
            result_dict.clear()
            result_dict.update(pairs)
            return result_dict
        if "object" in data:
            kind = str(data["object"])
            if kind not in _CODECS:
                raise WireError(f"unknown object kind {kind!r} on the wire")
            codec = _CODECS[kind]
            self.seen[number] = target
            state = self(data["state"], depth + 1)
            if target is not None and _codec(target) is not None and _codec(target)[0] == kind:
                codec.load(target, state)
                obj = target
            else:
                obj = codec.build(state)
            self.seen[number] = obj
            return obj
        raise WireError(f"unknown item on the wire: {sorted(data)}")


def encode(value: Any, ids: dict[int, int] | None = None, where: str = "value") -> Any:
    """`value` as JSON-ready plain data; `ids` fixes the numbers of objects already sent."""
    return _Encoder(ids)(value, where)


def encode_call(args: tuple, kwargs: dict[str, Any]) -> tuple[Any, dict[int, int], list[Any]]:
    """A call's arguments as plain data, the numbers given to their objects, and those objects."""
    encoder = _Encoder()
    data = encoder([list(args), kwargs], "the arguments")
    by_number = {}
    for obj in encoder.keep:
        by_number[encoder.ids[id(obj)]] = obj
    return data, encoder.ids, [by_number[n] for n in sorted(by_number)]


def encode_reply(
    args: list[Any], kwargs: dict[str, Any], result: Any, ids: dict[int, int], name: str
) -> Any:
    """After a call in the learner's kernel: the arguments as they are now and the result, as
    one list (decoded as `[args, kwargs, result]`), objects keeping the numbers they came with."""
    encoder = _Encoder(ids)
    items = [
        encoder(args, "the arguments"),
        encoder(kwargs, "the arguments"),
        encoder(result, f"the value {name} returned"),
    ]
    return {"id": encoder.next_id, "list": items}


def decode(data: Any, into: dict[int, Any] | None = None, max_items: int = MAX_ITEMS) -> Any:
    """The values `encode` sent; objects numbered in `into` are updated in place and reused.
    More than `max_items` list, tuple and dict items in all is a `WireError`."""
    return _Decoder(into, max_items)(data)


def roundtrip(value: Any, where: str = "the result") -> Any:
    """`value` after a trip through `encode` and `decode`: what a check is allowed to see."""
    return decode(encode(value, where=where))
