"""Hostile and damaged checkpoint files: each is refused with a CheckpointError that names the
problem, before it can make the reader use much memory, and nothing in it is ever unpickled.

Oracle: the message fragment of each case; for memory, the peak resident size of a fresh process
(VmHWM) while it rejects the file, against its resident size (VmRSS) just before (bounded
reading keeps the growth to a few MB; the zip bomb used to cost 1 GB).
"""

from __future__ import annotations

import io
import json
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest

from course_lib import checkpoint
from course_lib import numpy as cn
from course_lib.checkpoint import CheckpointError
from course_lib.config import ModelConfig
from course_lib.vocab import Vocab

TEXTS = ["the sea is blue </s>", "rain falls </s>"]


def npy(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, array, allow_pickle=True)
    return buffer.getvalue()


def header(meta: dict) -> bytes:
    return npy(np.frombuffer(json.dumps(meta).encode(), np.uint8))


def good_parts(tmp_path: Path) -> tuple[dict, dict[str, bytes]]:
    """The header and the entries of a real, small checkpoint."""
    vocab = Vocab.build(TEXTS)
    config = ModelConfig(vocab_size=len(vocab), d_model=8, d_hidden=8, n_layers=1, max_seq_len=8)
    path = checkpoint.save(tmp_path / "good.npz", cn.LLM(config, seed=0), vocab)
    with zipfile.ZipFile(path) as archive:
        entries = {name: archive.read(name) for name in archive.namelist()}
    meta = json.loads(np.load(io.BytesIO(entries["meta.npy"])).tobytes())
    return meta, entries


def write_zip(
    path: Path, entries: dict[str, bytes], deflated: frozenset[str] = frozenset()
) -> Path:
    with zipfile.ZipFile(path, "w") as archive:
        for name, data in entries.items():
            kind = zipfile.ZIP_DEFLATED if name in deflated else zipfile.ZIP_STORED
            archive.writestr(name, data, compress_type=kind)
    return path


def zip_bomb(path: Path, good: dict[str, bytes], megabytes: int = 512) -> Path:
    """A real checkpoint plus one deflated entry of `megabytes` of zeros (about 0.5 MB on disk)."""
    write_zip(path, good)
    with zipfile.ZipFile(path, "a", compression=zipfile.ZIP_DEFLATED) as archive:
        with archive.open("weights/extra.npy", "w", force_zip64=True) as entry:
            entry.write(np.lib.format.header_data_from_array_1_0(np.zeros(1)).__repr__().encode())
            chunk = bytes(2**20)
            for _ in range(megabytes):
                entry.write(chunk)
    return path


def huge_positions(path: Path, meta: dict, max_seq_len: int, n_layers: int = 4) -> Path:
    """A tiny checkpoint whose config asks for sinusoidal positions of `max_seq_len`: nothing
    large is stored, but building the model would make a (max_seq_len, max_seq_len) mask per
    layer. Its checksum is right, so only the bounds can refuse it."""
    vocab = Vocab.from_dict(meta["vocab"])
    config = dict(meta["config"], positional="sinusoidal", n_layers=n_layers)
    small = ModelConfig(**dict(config, max_seq_len=8))
    state = {k: np.zeros(s, np.float32) for k, s in checkpoint.expected_shapes(small).items()}
    new = dict(meta, config=dict(config, max_seq_len=max_seq_len), keys=sorted(state))
    del new["checksum"]
    new["checksum"] = checkpoint._checksum(new, state)
    entries = {"meta.npy": header(new)}
    entries.update({f"weights/{k}.npy": npy(a) for k, a in state.items()})
    assert len(vocab) == config["vocab_size"]
    return write_zip(path, entries)


# ---------------------------------------------------------------------------------------------


def test_a_zip_bomb_is_refused_before_anything_is_decompressed(tmp_path: Path) -> None:
    _, good = good_parts(tmp_path)
    path = zip_bomb(tmp_path / "bomb.npz", good)
    assert path.stat().st_size < 2 * 2**20
    with pytest.raises(CheckpointError, match="'weights/extra' is compressed"):
        checkpoint.read(path)


def test_a_compressed_weight_entry_is_refused(tmp_path: Path) -> None:
    _, good = good_parts(tmp_path)
    path = write_zip(tmp_path / "deflated.npz", good, deflated=frozenset({"meta.npy"}))
    with pytest.raises(CheckpointError, match="is compressed; checkpoint.save stores"):
        checkpoint.read(path)


def test_a_huge_max_seq_len_is_refused_before_the_model_is_built(tmp_path: Path) -> None:
    meta, _ = good_parts(tmp_path)
    path = huge_positions(tmp_path / "long.npz", meta, max_seq_len=8000)
    assert path.stat().st_size < 64_000  # nothing large is stored
    with pytest.raises(CheckpointError, match="max_seq_len is 8,000; the largest"):
        cn.load_checkpoint(path)


def test_masks_beyond_the_budget_are_refused_even_within_max_seq_len(tmp_path: Path) -> None:
    meta, _ = good_parts(tmp_path)
    path = huge_positions(tmp_path / "deep.npz", meta, max_seq_len=4096, n_layers=16)
    with pytest.raises(CheckpointError, match="attention-mask entries"):
        cn.load_checkpoint(path)


@pytest.mark.parametrize("where", ["header", "vocab"])
def test_json_nested_100000_deep_is_a_checkpoint_error(tmp_path: Path, where: str) -> None:
    meta, good = good_parts(tmp_path)
    deep = "[" * 100_000 + "]" * 100_000
    if where == "header":
        data = npy(np.frombuffer(deep.encode(), np.uint8))
    else:
        text = json.dumps(dict(meta, vocab="VOCAB")).replace('"VOCAB"', deep)
        data = npy(np.frombuffer(text.encode(), np.uint8))
    path = write_zip(tmp_path / "deep.npz", dict(good, **{"meta.npy": data}))
    with pytest.raises(CheckpointError, match="nested too deeply"):
        checkpoint.read(path)


def test_random_bytes_get_our_diagnosis_not_numpys_pickle_advice(tmp_path: Path) -> None:
    path = tmp_path / "random.npz"
    path.write_bytes(np.random.default_rng(0).bytes(4096))
    with pytest.raises(CheckpointError, match="not a readable checkpoint") as caught:
        checkpoint.read(path)
    assert "pickle" not in str(caught.value)


def test_a_pickled_object_entry_is_refused_without_unpickling(tmp_path: Path) -> None:
    """An object array is pickled data: its dtype alone refuses it, nothing is loaded."""
    meta, good = good_parts(tmp_path)
    bad = np.empty(meta["config"]["vocab_size"], dtype=object)
    entries = dict(good, **{"weights/output.bias.npy": npy(bad)})
    path = write_zip(tmp_path / "objects.npz", entries)
    with pytest.raises(CheckpointError, match="dtype object, not a float"):
        checkpoint.read(path)


def test_an_entry_whose_size_does_not_fit_its_shape_is_refused(tmp_path: Path) -> None:
    _, good = good_parts(tmp_path)
    entries = dict(good, **{"weights/output.bias.npy": good["weights/output.bias.npy"] + b"\0" * 8})
    path = write_zip(tmp_path / "long-entry.npz", entries)
    with pytest.raises(CheckpointError, match="but its shape"):
        checkpoint.read(path)


def test_a_header_over_the_cap_is_refused_unread(tmp_path: Path) -> None:
    _, good = good_parts(tmp_path)
    big = npy(np.zeros(checkpoint.MAX_HEADER_BYTES + 1, np.uint8))
    path = write_zip(tmp_path / "big-header.npz", dict(good, **{"meta.npy": big}))
    with pytest.raises(CheckpointError, match="header entry is"):
        checkpoint.read(path)


def test_the_docs_say_the_checksum_detects_damage_not_tampering() -> None:
    assert "detects damage" in checkpoint.__doc__ and "not\ntampering" in checkpoint.__doc__


# ---------------------------------------------------------------------------------------------
# memory: measured in a fresh process


MEASURE = """
import sys

def status_kb(field):
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1])

from course_lib import checkpoint, numpy
before = status_kb("VmRSS")  # resident now; the peak after is compared with it
try:
    numpy.load_checkpoint(sys.argv[1])
except checkpoint.CheckpointError:
    pass
else:
    raise SystemExit("the file was accepted")
after = status_kb("VmHWM")  # the peak resident size so far
print((after - before) / 1024)
"""


def peak_growth_mb(path: Path) -> float:
    result = subprocess.run(
        [sys.executable, "-c", MEASURE, str(path)], capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stderr
    return float(result.stdout)


def test_rejecting_the_zip_bomb_takes_almost_no_memory(tmp_path: Path) -> None:
    _, good = good_parts(tmp_path)
    assert peak_growth_mb(zip_bomb(tmp_path / "bomb.npz", good)) < 20


def test_rejecting_a_huge_max_seq_len_takes_almost_no_memory(tmp_path: Path) -> None:
    meta, _ = good_parts(tmp_path)
    assert peak_growth_mb(huge_positions(tmp_path / "long.npz", meta, 8000)) < 20
