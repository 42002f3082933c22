"""The checkpoint file: a trained model's weights, its config and its vocabulary, in one file.

A checkpoint is a NumPy ``.npz`` archive (a zip of ``.npy`` arrays, readable without this
library: ``np.load(path)``) holding

- ``weights/<key>``: one array per `state_dict()` entry, keys as in CONTRIBUTING.md;
- ``meta``: UTF-8 JSON (stored as a uint8 array) with the format name and version, the backend
  that wrote it, the `ModelConfig`, the vocabulary and a SHA-256 checksum over all of it.

Either backend writes it and either backend reads it: `save(path, model, vocab)` takes a model of
the NumPy or the PyTorch backend, `load(path, backend=...)` builds a model of the backend asked for.
The file is written atomically (a temporary file in the same folder, then `os.replace`), so a
crash mid-save never leaves half a checkpoint under the real name.

Anything wrong with a checkpoint - not a checkpoint, truncated, corrupt, a checksum that does not
match, missing or extra weights, wrong shapes, a vocabulary that does not fit the config - raises
`CheckpointError` (a ``ValueError``) saying what is wrong, before any weight is assigned: a model
given to `load_into` is left exactly as it was.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import os
import sys
import tempfile
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np

from course_lib.config import ModelConfig

__all__ = [
    "DEFAULT_PATH",
    "FORMAT",
    "FORMAT_VERSION",
    "Checkpoint",
    "CheckpointError",
    "load",
    "expected_shapes",
    "load_into",
    "read",
    "save",
]

FORMAT = "course_lib.checkpoint"
FORMAT_VERSION = 1
DEFAULT_PATH = "model.ckpt.npz"
_META = "meta"
_PREFIX = "weights/"
_DNA_FORMAT = "course_lib.dna_vocab"


class CheckpointError(ValueError):
    """A checkpoint file cannot be used; the message says what is wrong with it."""


@dataclass(frozen=True)
class Checkpoint:
    """What a checkpoint file holds, checked and ready to load into a model."""

    config: ModelConfig
    vocab: Any  # course_lib.vocab.Vocab or DNAVocab
    state: dict[str, np.ndarray]  # state_dict key -> array
    backend: str  # the backend that wrote it: "numpy" or "torch"
    version: int


# ---------------------------------------------------------------------------------------------
# helpers shared by save and load


def _is_torch_model(model: Any) -> bool:
    torch = sys.modules.get("torch")  # never import torch here: the NumPy path stays torch-free
    return torch is not None and isinstance(model, torch.nn.Module)


def _to_numpy(value: Any) -> np.ndarray:
    """A NumPy copy of an array or a tensor (any device; bfloat16 widened to float32)."""
    if hasattr(value, "detach"):
        tensor = value.detach().cpu()
        if str(tensor.dtype) == "torch.bfloat16":  # NumPy has no bfloat16
            tensor = tensor.float()
        return tensor.numpy().copy()
    return np.array(value, copy=True)


def _vocab_to_dict(vocab: Any) -> dict[str, Any]:
    if hasattr(vocab, "to_dict"):
        return vocab.to_dict()
    if hasattr(vocab, "k") and type(vocab).__name__ == "DNAVocab":
        return {"format": _DNA_FORMAT, "k": int(vocab.k)}
    raise TypeError(
        f"cannot save a vocabulary of type {type(vocab).__name__}; pass a course_lib.vocab.Vocab "
        f"or DNAVocab"
    )


def _vocab_from_dict(data: Any) -> Any:
    from course_lib.vocab import DNAVocab, Vocab

    if isinstance(data, dict) and data.get("format") == _DNA_FORMAT:
        return DNAVocab(int(data["k"]))
    return Vocab.from_dict(data)


def _checksum(meta: Mapping[str, Any], state: Mapping[str, np.ndarray]) -> str:
    """SHA-256 over the metadata (without its checksum) and every array's name, dtype, shape
    and bytes, in key order."""
    digest = hashlib.sha256()
    body = {k: v for k, v in meta.items() if k != "checksum"}
    digest.update(json.dumps(body, sort_keys=True, ensure_ascii=True).encode())
    for key in sorted(state):
        array = np.ascontiguousarray(state[key])
        digest.update(f"\0{key}\0{array.dtype.str}\0{array.shape}\0".encode())
        digest.update(array.tobytes())
    return digest.hexdigest()


# ---------------------------------------------------------------------------------------------
# save


def save(path: str | Path, model: Any, vocab: Any) -> Path:
    """Write `model` (either backend) and `vocab` to `path` as one checkpoint file; return the path.

    The file name is used as given (``model.ckpt.npz`` is the CLI's default). Writing is atomic.
    """
    config = getattr(model, "config", None)
    if not isinstance(config, ModelConfig):
        raise TypeError(
            f"save needs a course_lib model (an LLM with a .config); got {type(model).__name__}"
        )
    if len(vocab) != config.vocab_size:
        raise ValueError(
            f"the vocabulary has {len(vocab)} tokens but the model was built for "
            f"{config.vocab_size}; save the model with the vocabulary it was trained with"
        )
    state = {key: _to_numpy(value) for key, value in model.state_dict().items()}
    meta: dict[str, Any] = {
        "format": FORMAT,
        "version": FORMAT_VERSION,
        "backend": "torch" if _is_torch_model(model) else "numpy",
        "config": config.to_dict(),
        "vocab": _vocab_to_dict(vocab),
        "keys": sorted(state),
    }
    meta["checksum"] = _checksum(meta, state)
    meta_bytes = np.frombuffer(json.dumps(meta, ensure_ascii=False).encode("utf-8"), np.uint8)

    path = Path(path)
    folder = path.parent if str(path.parent) else Path(".")
    if not folder.is_dir():
        raise FileNotFoundError(f"cannot save to {path}: the folder {folder} does not exist")
    arrays = {_META: meta_bytes, **{_PREFIX + key: value for key, value in state.items()}}
    handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=folder)
    try:
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(temporary, 0o666 & ~umask)  # mkstemp makes it private; a checkpoint need not be
        with os.fdopen(handle, "wb") as file:  # a file object: np.savez adds no ".npz" suffix
            np.savez(file, **arrays)
            file.flush()
            os.fsync(file.fileno())
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise
    return path


# ---------------------------------------------------------------------------------------------
# read and check


def read(path: str | Path) -> Checkpoint:
    """Read and check the checkpoint at `path`; `CheckpointError` says what is wrong with it."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no checkpoint file at {path}")
    where = str(path)
    try:
        raw = path.read_bytes()
        archive = np.load(io.BytesIO(raw), allow_pickle=False)
        if not isinstance(archive, np.lib.npyio.NpzFile):
            raise CheckpointError(
                f"{where} is a single NumPy array, not a checkpoint; save one with "
                f"course_lib.checkpoint.save(path, model, vocab)"
            )
        with archive:
            names = list(archive.files)
            if _META not in names:
                raise CheckpointError(
                    f"{where} is an .npz archive but not a course_lib checkpoint (it has no "
                    f"'{_META}' entry); save one with checkpoint.save(path, model, vocab)"
                )
            meta_array = archive[_META]
            state = {n[len(_PREFIX) :]: archive[n] for n in names if n.startswith(_PREFIX)}
            strays = sorted(n for n in names if n != _META and not n.startswith(_PREFIX))
    except CheckpointError:
        raise
    except (zipfile.BadZipFile, ValueError, OSError, EOFError, KeyError) as error:
        raise CheckpointError(
            f"{where} is not a readable checkpoint: it is damaged, truncated or not a course_lib "
            f"checkpoint file ({type(error).__name__}: {error}). Save the model again."
        ) from None
    if strays:
        raise CheckpointError(f"{where} holds entries a checkpoint does not have: {strays}")
    meta = _parse_meta(meta_array, where)
    return _check(meta, state, where)


def _parse_meta(meta_array: np.ndarray, where: str) -> dict[str, Any]:
    if meta_array.dtype != np.uint8 or meta_array.ndim != 1:
        raise CheckpointError(f"{where}: its '{_META}' entry is not the checkpoint's JSON header")
    try:
        meta = json.loads(meta_array.tobytes().decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise CheckpointError(f"{where}: its JSON header is damaged ({error})") from None
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise CheckpointError(
            f"{where}: not a course_lib checkpoint (expected format {FORMAT!r}, found "
            f"{meta.get('format') if isinstance(meta, dict) else type(meta).__name__!r})"
        )
    version = meta.get("version")
    if not isinstance(version, int) or version < 1:
        raise CheckpointError(f"{where}: the header has no valid version number ({version!r})")
    if version > FORMAT_VERSION:
        raise CheckpointError(
            f"{where} has checkpoint format version {version}; this course_lib reads up to "
            f"version {FORMAT_VERSION}. Update course_lib to load it."
        )
    for field in ("config", "vocab", "checksum", "backend"):
        if field not in meta:
            raise CheckpointError(f"{where}: the header has no {field!r} field")
    return meta


def _check(meta: dict[str, Any], state: dict[str, np.ndarray], where: str) -> Checkpoint:
    if meta["checksum"] != _checksum(meta, state):
        raise CheckpointError(
            f"{where}: checksum mismatch - the weights or the header changed after the file "
            f"was written (a damaged copy, or an edit). Save the model again."
        )
    try:
        config = ModelConfig.from_dict(meta["config"])
    except (TypeError, ValueError) as error:
        raise CheckpointError(f"{where}: its model config is not valid ({error})") from None
    try:
        vocab = _vocab_from_dict(meta["vocab"])
    except (TypeError, ValueError, KeyError) as error:
        raise CheckpointError(f"{where}: its vocabulary is not valid ({error})") from None
    if len(vocab) != config.vocab_size:
        raise CheckpointError(
            f"{where}: the vocabulary has {len(vocab)} tokens but the config says vocab_size "
            f"{config.vocab_size}"
        )
    _check_state(state, expected_shapes(config), where)
    for key, array in sorted(state.items()):
        if array.dtype.kind != "f":
            raise CheckpointError(f"{where}: weight {key!r} has dtype {array.dtype}, not a float")
        if not np.all(np.isfinite(array)):
            raise CheckpointError(
                f"{where}: weight {key!r} holds nan or inf (training diverged before it was "
                f"saved?); train again, perhaps with a lower learning rate"
            )
    return Checkpoint(config, vocab, state, str(meta["backend"]), int(meta["version"]))


def expected_shapes(config: ModelConfig) -> dict[str, tuple[int, ...]]:
    """Every `state_dict()` key a model of `config` has, with its shape (CONTRIBUTING.md)."""
    d, h, v = config.d_model, config.d_hidden, config.vocab_size
    shapes: dict[str, tuple[int, ...]] = {"embeddings.token.weight": (v, d)}
    if config.positional == "learned":
        shapes["embeddings.position.weight"] = (config.max_seq_len, d)
    for i in range(config.n_layers):
        block = f"blocks.{i}."
        for name in ("query", "key", "value"):
            shapes[f"{block}attention.{name}.weight"] = (d, d)
        if config.attn_out_proj:
            shapes[f"{block}attention.out.weight"] = (d, d)
            shapes[f"{block}attention.out.bias"] = (d,)
        for norm in ("norm1", "norm2"):
            shapes[f"{block}{norm}.weight"] = (d,)
            shapes[f"{block}{norm}.bias"] = (d,)
        shapes[f"{block}feed_forward.up.weight"] = (h, d)
        shapes[f"{block}feed_forward.up.bias"] = (h,)
        shapes[f"{block}feed_forward.down.weight"] = (d, h)
        shapes[f"{block}feed_forward.down.bias"] = (d,)
    if config.norm == "pre":
        shapes["final_norm.weight"] = (d,)
        shapes["final_norm.bias"] = (d,)
    if not config.tie_weights:
        shapes["output.weight"] = (v, d)
    shapes["output.bias"] = (v,)
    return shapes


def _check_state(
    state: Mapping[str, Any], shapes: Mapping[str, tuple[int, ...]], where: str
) -> None:
    """Raise CheckpointError unless `state` has exactly the keys of `shapes`, each that shape."""
    missing = sorted(set(shapes) - set(state))
    extra = sorted(set(state) - set(shapes))
    if missing or extra:
        parts = []
        if missing:
            parts.append(f"missing weights {missing}")
        if extra:
            parts.append(f"unexpected weights {extra}")
        raise CheckpointError(f"{where}: {' and '.join(parts)} for this model's config")
    wrong = [
        f"{key}: {tuple(state[key].shape)} (expected {shapes[key]})"
        for key in sorted(shapes)
        if tuple(state[key].shape) != tuple(shapes[key])
    ]
    if wrong:
        raise CheckpointError(f"{where}: weights of the wrong shape: {'; '.join(wrong)}")


# ---------------------------------------------------------------------------------------------
# load


def load(
    path: str | Path,
    backend: Literal["numpy", "torch"] = "numpy",
    device: Any = None,
    dtype: Any = None,
) -> tuple[Any, Any]:
    """The model and vocabulary saved at `path`, as a model of `backend`.

    `dtype` defaults to the dtype the weights were saved in; `device` (torch only) defaults to
    the best device present (`course_lib.torch.device.pick_device`).
    """
    if backend not in ("numpy", "torch"):
        raise ValueError(f"backend must be 'numpy' or 'torch', got {backend!r}")
    if backend == "numpy" and device not in (None, "cpu"):
        raise ValueError(f"the numpy backend runs on the CPU only; got device={device!r}")
    checkpoint = read(path)
    saved_dtype = next(iter(checkpoint.state.values())).dtype
    dtype = saved_dtype if dtype is None else dtype
    if backend == "torch":
        from course_lib.torch import LLM as TorchLLM

        device = "auto" if device is None else device  # the best device present
        model = TorchLLM(checkpoint.config, seed=0, dtype=dtype, device=device)
    else:
        from course_lib.numpy import LLM as NumpyLLM

        model = NumpyLLM(checkpoint.config, seed=0, dtype=np.dtype(dtype))
    _assign(model, checkpoint, str(path))
    return model, checkpoint.vocab


def load_into(path: str | Path, model: Any) -> Any:
    """Load the weights at `path` into an existing `model` (either backend); return the vocabulary.

    Everything is checked first - the config must equal the model's, every key and shape must
    match - so on any error the model is left unchanged.
    """
    checkpoint = read(path)
    config = getattr(model, "config", None)
    if config != checkpoint.config:
        differences = (
            [
                f"{name}: model {value!r}, checkpoint {checkpoint.config.to_dict()[name]!r}"
                for name, value in config.to_dict().items()
                if checkpoint.config.to_dict()[name] != value
            ]
            if isinstance(config, ModelConfig)
            else ["the model has no ModelConfig"]
        )
        raise CheckpointError(
            f"{path}: the checkpoint's config does not match the model's ({'; '.join(differences)})"
        )
    _assign(model, checkpoint, str(path))
    return checkpoint.vocab


def _assign(model: Any, checkpoint: Checkpoint, where: str) -> None:
    """Copy the checkpoint's weights into `model`, after checking them against its state_dict."""
    current = model.state_dict()
    _check_state(checkpoint.state, {k: tuple(v.shape) for k, v in current.items()}, where)
    if _is_torch_model(model):
        import torch

        tensors = {
            key: torch.as_tensor(array).to(dtype=current[key].dtype, device=current[key].device)
            for key, array in checkpoint.state.items()
        }
        model.load_state_dict(tensors, strict=True)
    else:
        model.load_state_dict(
            {k: np.asarray(a, dtype=current[k].dtype) for k, a in checkpoint.state.items()}
        )
