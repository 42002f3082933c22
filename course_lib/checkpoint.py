"""The checkpoint file: a trained model's weights, its config and its vocabulary, in one file.

A checkpoint is a NumPy ``.npz`` archive (a zip of ``.npy`` arrays, readable without this
library: ``np.load(path)``) holding

- ``weights/<key>``: one array per `state_dict()` entry, keys as in CONTRIBUTING.md;
- ``meta``: UTF-8 JSON (stored as a uint8 array) with the format name and version, the backend
  that wrote it, the `ModelConfig`, the vocabulary (a word vocabulary's tokens, a BPE
  vocabulary's merges, a DNA vocabulary's k) and a SHA-256 checksum over all of it.

A checkpoint saved during training (`save(..., training=TrainingState(...))`, format version 2)
also holds the optimizer's state - ``optimizer/m/<key>`` and ``optimizer/v/<key>``, Adam's moments
for each weight - and, in the header, where the run stood (``training``), so that the run can be
continued exactly; it loads for chat like any other checkpoint.

Either backend writes it and either backend reads it. This module knows the file, not the backends'
classes: `save(path, model, vocab)` takes a model of either backend (anything with a `config` and
a `state_dict()`), `read(path)` gives the checked arrays, config and vocabulary, and `assign` /
`load_into` copy them into a model someone else built. Each backend's `load_checkpoint` builds
its own `LLM` on top of these (`course_lib/numpy/checkpoint.py`, `course_lib/torch/checkpoint.py`),
so no backend is imported here.
The file is written atomically (a temporary file in the same folder, then `os.replace`), so a
crash or a SIGTERM mid-save never leaves half a checkpoint under the real name, nor a temporary
file behind. Weights that hold nan or inf are refused: a diverged run never replaces a good file.

Reading is bounded, so a hostile or damaged file cannot make it use much memory or time: the JSON
header is read first (at most `MAX_HEADER_BYTES`), the config it holds must be within
`ModelConfig`'s limits, every entry must be stored uncompressed (as `save` writes them: no zip
bomb) and declare exactly the size its shape implies, all before any weight is read. Nothing is
ever unpickled. The SHA-256 checksum detects damage (a truncated copy, a flipped bit), not
tampering: anyone who edits the file can write a new checksum.

Anything wrong with a checkpoint - not a checkpoint, truncated, corrupt, a checksum that does not
match, missing or extra weights, wrong shapes, a vocabulary that does not fit the config, sizes
beyond the limits - raises
`CheckpointError` (a ``ValueError``) saying what is wrong, before any weight is assigned: a model
given to `assign` or `load_into` is left exactly as it was.
"""

from __future__ import annotations

import hashlib
import json
import math
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from course_lib.backends import is_torch_model, load_state, to_numpy
from course_lib.config import ModelConfig
from course_lib.files import write_atomically

__all__ = [
    "DEFAULT_PATH",
    "FORMAT",
    "FORMAT_VERSION",
    "MAX_HEADER_BYTES",
    "Checkpoint",
    "CheckpointError",
    "TrainingState",
    "assign",
    "expected_shapes",
    "load_into",
    "read",
    "save",
]

FORMAT = "course_lib.checkpoint"
FORMAT_VERSION = 2  # 1: weights only; 2: may also hold the training state
DEFAULT_PATH = "model.ckpt.npz"
MAX_HEADER_BYTES = 8 * 2**20  # the JSON header: config and vocabulary (500,000 tokens fit)
_NPY_HEADER_BYTES = 10_000  # an .npy entry's own header (a dtype and a shape)
_META = "meta"
_PREFIX = "weights/"
_M_PREFIX, _V_PREFIX = "optimizer/m/", "optimizer/v/"
_DNA_FORMAT = "course_lib.dna_vocab"
_BPE_FORMAT = "course_lib.bpe_vocab"


class CheckpointError(ValueError):
    """A checkpoint file cannot be used; the message says what is wrong with it."""


@dataclass(frozen=True)
class TrainingState:
    """Where a training run stood after an epoch: Adam's step count and moments, and `progress`
    (JSON: the schedule, the stage, the epochs done, the losses so far), to continue it exactly."""

    step: int
    m: dict[str, np.ndarray]  # state_dict key -> Adam's first moment, the weight's shape
    v: dict[str, np.ndarray]  # state_dict key -> Adam's second moment
    progress: dict[str, Any]


@dataclass(frozen=True)
class Checkpoint:
    """What a checkpoint file holds, checked and ready to load into a model."""

    config: ModelConfig
    vocab: Any  # course_lib.vocab.Vocab or DNAVocab, or course_lib.bpe.BPEVocab
    state: dict[str, np.ndarray]  # state_dict key -> array
    backend: str  # the backend that wrote it: "numpy" or "torch"
    version: int
    training: TrainingState | None = None  # present in a checkpoint saved to resume training

    @property
    def dtype(self) -> np.dtype:
        """The dtype the weights were saved in (a model loads in it unless told otherwise)."""
        return next(iter(self.state.values())).dtype


# ---------------------------------------------------------------------------------------------
# helpers shared by save and load


def _vocab_to_dict(vocab: Any) -> dict[str, Any]:
    if hasattr(vocab, "to_dict"):
        return vocab.to_dict()
    if hasattr(vocab, "k") and type(vocab).__name__ == "DNAVocab":
        return {"format": _DNA_FORMAT, "k": int(vocab.k)}
    raise TypeError(
        f"cannot save a vocabulary of type {type(vocab).__name__}; pass a course_lib.vocab.Vocab, "
        f"DNAVocab or course_lib.bpe.BPEVocab"
    )


def _vocab_from_dict(data: Any) -> Any:
    from course_lib.bpe import BPEVocab
    from course_lib.vocab import DNAVocab, Vocab

    if isinstance(data, dict) and data.get("format") == _DNA_FORMAT:
        return DNAVocab(int(data["k"]))
    if isinstance(data, dict) and data.get("format") == _BPE_FORMAT:
        return BPEVocab.from_dict(data)
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


def save(
    path: str | Path, model: Any, vocab: Any, *, training: TrainingState | None = None
) -> Path:
    """Write `model` (either backend) and `vocab` to `path` as one checkpoint file; return the path.

    `training` adds the optimizer state and progress of a run, so that it can be resumed. The
    file name is used as given (``model.ckpt.npz`` is the CLI's default). Writing is atomic, and
    weights holding nan or inf are refused (ValueError) before anything is written.
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
    state = {key: to_numpy(value, dtype=None) for key, value in model.state_dict().items()}
    for key, array in sorted(state.items()):
        if not np.all(np.isfinite(array)):
            raise ValueError(
                f"weight {key!r} holds nan or inf (training diverged?); not saved, so no good "
                f"checkpoint is replaced by a broken one. Train again with a lower learning rate."
            )
    arrays = {_PREFIX + key: value for key, value in state.items()}
    meta: dict[str, Any] = {
        "format": FORMAT,
        "version": 1,
        "backend": "torch" if is_torch_model(model) else "numpy",
        "config": config.to_dict(),
        "vocab": _vocab_to_dict(vocab),
        "keys": sorted(state),
    }
    if training is not None:
        for name, moments in (("m", training.m), ("v", training.v)):
            if set(moments) != set(state):
                raise ValueError(f"the training state's {name} does not have the model's weights")
        arrays.update({_M_PREFIX + k: to_numpy(a, dtype=None) for k, a in training.m.items()})
        arrays.update({_V_PREFIX + k: to_numpy(a, dtype=None) for k, a in training.v.items()})
        meta["version"] = 2
        meta["training"] = {"step": int(training.step), "progress": training.progress}
    meta["checksum"] = _checksum(meta, _checksummed(arrays))
    try:
        header = json.dumps(meta, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError as error:
        raise ValueError(
            f"the vocabulary holds text that cannot be written as UTF-8 ({error.reason}: "
            f"{error.object[error.start : error.end]!r}); remove it from the texts"
        ) from None
    arrays = {_META: np.frombuffer(header, np.uint8), **arrays}

    def write(file: Any) -> None:
        np.savez(file, **arrays)  # a file object: np.savez adds no ".npz" suffix

    return write_atomically(path, write)


def _checksummed(arrays: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    """The arrays the checksum covers, named as in version 1: weights by their key, the
    optimizer's moments by their full entry name."""
    return {(k[len(_PREFIX) :] if k.startswith(_PREFIX) else k): a for k, a in arrays.items()}


# ---------------------------------------------------------------------------------------------
# read and check


def read(path: str | Path) -> Checkpoint:
    """Read and check the checkpoint at `path`; `CheckpointError` says what is wrong with it."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no checkpoint file at {path}")
    where = str(path)
    try:
        with zipfile.ZipFile(path) as archive:
            return _read_archive(archive, path.stat().st_size, where)
    except CheckpointError:
        raise
    except zipfile.BadZipFile:
        with open(path, "rb") as file:
            start = file.read(6)
        if start == b"\x93NUMPY":
            raise CheckpointError(
                f"{where} is a single NumPy array, not a checkpoint; save one with "
                f"course_lib.checkpoint.save(path, model, vocab)"
            ) from None
        raise CheckpointError(
            f"{where} is not a readable checkpoint: it is not an .npz (zip) archive, or it is "
            f"truncated or damaged. Save the model again with checkpoint.save(path, model, vocab)."
        ) from None
    except (ValueError, OSError, EOFError, KeyError, zipfile.LargeZipFile) as error:
        raise CheckpointError(
            f"{where} is not a readable checkpoint: it is damaged, truncated or not a course_lib "
            f"checkpoint file ({type(error).__name__}: {error}). Save the model again."
        ) from None


def _read_archive(archive: zipfile.ZipFile, file_size: int, where: str) -> Checkpoint:
    """The checked checkpoint in `archive`; sizes are checked before anything is read."""
    entries: dict[str, zipfile.ZipInfo] = {}
    for info in archive.infolist():
        name = info.filename[: -len(".npy")] if info.filename.endswith(".npy") else info.filename
        if name in entries:
            raise CheckpointError(f"{where}: the entry {name!r} appears twice")
        if info.compress_type != zipfile.ZIP_STORED:
            raise CheckpointError(
                f"{where}: the entry {name!r} is compressed; checkpoint.save stores every entry "
                f"uncompressed, so this file was not written by it (or was repacked). Save the "
                f"model again."
            )
        if info.file_size > file_size:  # stored entries hold their bytes in the file itself
            raise CheckpointError(
                f"{where}: the entry {name!r} claims {info.file_size:,} bytes, more than the "
                f"whole file ({file_size:,}); the file is damaged"
            )
        entries[name] = info
    if _META not in entries:
        raise CheckpointError(
            f"{where} is an .npz archive but not a course_lib checkpoint (it has no "
            f"'{_META}' entry); save one with checkpoint.save(path, model, vocab)"
        )
    if entries[_META].file_size > MAX_HEADER_BYTES:
        raise CheckpointError(
            f"{where}: its header entry is {entries[_META].file_size:,} bytes; a checkpoint's "
            f"header is at most {MAX_HEADER_BYTES:,}"
        )
    meta = _parse_meta(_read_entry(archive, entries[_META], None, where, header=True), where)
    config, vocab = _parse_config_and_vocab(meta, where)
    shapes = {_PREFIX + key: shape for key, shape in expected_shapes(config).items()}
    if "training" in meta:
        keys = list(shapes)
        for prefix in (_M_PREFIX, _V_PREFIX):
            shapes.update({prefix + k[len(_PREFIX) :]: shapes[k] for k in keys})
    names = set(entries) - {_META}
    strays = sorted(n for n in names if not n.startswith((_PREFIX, _M_PREFIX, _V_PREFIX)))
    if strays:
        raise CheckpointError(f"{where} holds entries a checkpoint does not have: {strays}")
    missing = sorted(n[len(_PREFIX) :] for n in set(shapes) - names if n.startswith(_PREFIX))
    extra = sorted(n[len(_PREFIX) :] for n in names - set(shapes) if n.startswith(_PREFIX))
    if missing or extra:
        parts = [f"missing weights {missing}"] if missing else []
        parts += [f"unexpected weights {extra}"] if extra else []
        raise CheckpointError(f"{where}: {' and '.join(parts)} for this model's config")
    if set(shapes) != names:
        raise CheckpointError(
            f"{where}: the optimizer state does not match the weights (missing "
            f"{sorted(set(shapes) - names)}, unexpected {sorted(names - set(shapes))})"
        )
    arrays = {name: _read_entry(archive, entries[name], shapes[name], where) for name in shapes}
    if meta["checksum"] != _checksum(meta, _checksummed(arrays)):
        raise CheckpointError(
            f"{where}: checksum mismatch - the weights or the header changed after the file "
            f"was written (a damaged copy, or an edit). Save the model again."
        )
    state = {k[len(_PREFIX) :]: a for k, a in arrays.items() if k.startswith(_PREFIX)}
    training = None
    if "training" in meta:
        training = _parse_training(meta["training"], arrays, where)
    for key, array in sorted(arrays.items()):
        if not np.all(np.isfinite(array)):
            raise CheckpointError(
                f"{where}: {key!r} holds nan or inf (training diverged before it was "
                f"saved?); train again, perhaps with a lower learning rate"
            )
    return Checkpoint(config, vocab, state, str(meta["backend"]), int(meta["version"]), training)


def _read_entry(
    archive: zipfile.ZipFile,
    info: zipfile.ZipInfo,
    shape: tuple[int, ...] | None,
    where: str,
    header: bool = False,
) -> np.ndarray:
    """The array in one .npy entry, after checking its dtype (a float, or the header's uint8),
    its shape (`shape`, when known) and that the entry's size is exactly what they imply."""
    name = info.filename
    with archive.open(info) as file:
        version = np.lib.format.read_magic(file)
        if version == (1, 0):
            read_header = np.lib.format.read_array_header_1_0
        elif version in ((2, 0), (3, 0)):
            read_header = np.lib.format.read_array_header_2_0
        else:
            raise CheckpointError(f"{where}: the entry {name!r} has .npy version {version}")
        found, fortran, dtype = read_header(file, max_header_size=_NPY_HEADER_BYTES)
        if dtype.hasobject or dtype.kind != ("u" if header else "f") or dtype.itemsize > 8:
            kind = "not the header's bytes (uint8)" if header else "not a float"
            raise CheckpointError(f"{where}: the entry {name!r} has dtype {dtype}, {kind}")
        if header and (dtype != np.uint8 or len(found) != 1):
            raise CheckpointError(f"{where}: its '{_META}' entry is not the checkpoint's header")
        if shape is not None and tuple(found) != tuple(shape):
            key = name[len(_PREFIX) : -len(".npy")] if name.startswith(_PREFIX) else name
            raise CheckpointError(
                f"{where}: weights of the wrong shape: {key}: {tuple(found)} (expected "
                f"{tuple(shape)})"
            )
        size = math.prod(found) * dtype.itemsize
        if info.file_size != file.tell() + size:
            raise CheckpointError(
                f"{where}: the entry {name!r} is {info.file_size:,} bytes, but its shape "
                f"{tuple(found)} and dtype {dtype} make {file.tell() + size:,}; it is damaged"
            )
        order_shape = tuple(reversed(found)) if fortran else tuple(found)
        array = np.empty(order_shape, dtype=dtype)
        view = memoryview(array.reshape(-1).view(np.uint8))
        if size and file.readinto(view) != size:
            raise CheckpointError(f"{where}: the entry {name!r} is truncated")
    return array.T if fortran else array


def _parse_meta(meta_array: np.ndarray, where: str) -> dict[str, Any]:
    try:
        meta = json.loads(meta_array.tobytes().decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise CheckpointError(f"{where}: its JSON header is damaged ({error})") from None
    except RecursionError:
        raise CheckpointError(f"{where}: its JSON header is nested too deeply") from None
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        found = meta.get("format") if isinstance(meta, dict) else type(meta).__name__
        raise CheckpointError(
            f"{where}: not a course_lib checkpoint (expected format {FORMAT!r}, found "
            f"{found!r:.80})"
        )
    version = meta.get("version")
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        raise CheckpointError(f"{where}: the header has no valid version number ({version!r:.40})")
    if version > FORMAT_VERSION:
        raise CheckpointError(
            f"{where} has checkpoint format version {version}; this course_lib reads up to "
            f"version {FORMAT_VERSION}. Update course_lib to load it."
        )
    for field in ("config", "vocab", "checksum", "backend"):
        if field not in meta:
            raise CheckpointError(f"{where}: the header has no {field!r} field")
    if version < 2 and "training" in meta:
        raise CheckpointError(f"{where}: a version 1 checkpoint cannot hold a training state")
    return meta


def _parse_config_and_vocab(meta: dict[str, Any], where: str) -> tuple[ModelConfig, Any]:
    if not isinstance(meta["config"], dict):
        raise CheckpointError(f"{where}: its model config is not a JSON object")
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
    return config, vocab


def _parse_training(training: Any, arrays: Mapping[str, np.ndarray], where: str) -> TrainingState:
    if not isinstance(training, dict) or not isinstance(training.get("progress"), dict):
        raise CheckpointError(f"{where}: its training state is not valid")
    step = training.get("step")
    if not isinstance(step, int) or isinstance(step, bool) or step < 0:
        raise CheckpointError(f"{where}: its training state has no valid step ({step!r:.40})")
    m = {k[len(_M_PREFIX) :]: a for k, a in arrays.items() if k.startswith(_M_PREFIX)}
    v = {k[len(_V_PREFIX) :]: a for k, a in arrays.items() if k.startswith(_V_PREFIX)}
    return TrainingState(step, m, v, training["progress"])


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
    assign(model, checkpoint, str(path))
    return checkpoint.vocab


def assign(model: Any, checkpoint: Checkpoint, where: str = "the checkpoint") -> None:
    """Copy the weights of a read `checkpoint` into `model` (either backend), each in the model's
    own dtype and device, after checking every key and shape against its state_dict: on an error
    (`CheckpointError`, naming `where`) the model is left unchanged."""
    current = model.state_dict()
    _check_state(checkpoint.state, {k: tuple(v.shape) for k, v in current.items()}, where)
    load_state(model, checkpoint.state)
