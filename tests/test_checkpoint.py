"""The checkpoint file: a round trip through either backend, and a clear error for every way a
file can be wrong - with the model it was loading into left untouched.

Oracle: the logits of the model that was saved (a checkpoint must reproduce them exactly in the
same dtype, and to 1e-10 across backends in float64).
"""

from __future__ import annotations

import io
import json
import os
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from course_lib import checkpoint
from course_lib import numpy as cn
from course_lib.checkpoint import CheckpointError
from course_lib.config import ModelConfig
from course_lib.vocab import DNAVocab, Vocab

TEXTS = ["the sea is blue </s>", "rain falls from the grey sky </s>"]
IDS = np.array([[3, 4, 5, 6, 0], [7, 8, 9, 10, 11]])


@pytest.fixture
def vocab() -> Vocab:
    return Vocab.build(TEXTS)


def small_config(vocab_size: int, **options: object) -> ModelConfig:
    return ModelConfig(
        vocab_size=vocab_size, d_model=8, d_hidden=12, n_layers=2, max_seq_len=8, **options
    )


@pytest.fixture
def model(vocab: Vocab) -> cn.LLM:
    return cn.LLM(small_config(len(vocab), n_heads=2), seed=1, dtype=np.float64)


@pytest.fixture
def saved(tmp_path: Path, model: cn.LLM, vocab: Vocab) -> Path:
    return checkpoint.save(tmp_path / "model.ckpt.npz", model, vocab)


def rewrite(
    path: Path,
    edit_meta: Callable[[dict], object] | None = None,
    edit_state: Callable[[dict], object] | None = None,
    resign: bool = True,
) -> None:
    """Rewrite a checkpoint with edited header and weights, with a fresh checksum (`resign`)."""
    with np.load(path) as archive:
        meta = json.loads(archive["meta"].tobytes())
        state = {n[len("weights/") :]: archive[n] for n in archive.files if n != "meta"}
    if edit_meta:
        edit_meta(meta)
    if edit_state:
        edit_state(state)
    if resign:
        meta["checksum"] = checkpoint._checksum(meta, state)
    arrays = {"meta": np.frombuffer(json.dumps(meta).encode(), np.uint8)}
    arrays.update({"weights/" + k: v for k, v in state.items()})
    with open(path, "wb") as file:
        np.savez(file, **arrays)


def snapshot(model: cn.LLM) -> dict[str, np.ndarray]:
    return model.state_dict()


# ------------------------------------------------------------------------- round trips


def test_numpy_round_trip_gives_identical_logits_config_and_vocab(
    saved: Path, model: cn.LLM, vocab: Vocab
) -> None:
    loaded, loaded_vocab = cn.load_checkpoint(saved)
    assert loaded.config == model.config and loaded_vocab == vocab
    assert loaded.dtype == np.float64  # the dtype it was saved in
    np.testing.assert_array_equal(loaded(IDS), model(IDS))


def test_the_file_name_is_used_as_given_and_no_temporary_file_is_left(
    tmp_path: Path, model: cn.LLM, vocab: Vocab
) -> None:
    path = checkpoint.save(tmp_path / "trained.ckpt", model, vocab)
    assert path == tmp_path / "trained.ckpt"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["trained.ckpt"]
    assert checkpoint.read(path).config == model.config


def test_a_failed_save_leaves_the_previous_checkpoint_intact(
    saved: Path, model: cn.LLM, vocab: Vocab, monkeypatch: pytest.MonkeyPatch
) -> None:
    before = saved.read_bytes()

    def crash(*args: object, **kwargs: object) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(np, "savez", crash)
    with pytest.raises(OSError, match="disk full"):
        checkpoint.save(saved, model, vocab)
    assert saved.read_bytes() == before
    assert [p.name for p in saved.parent.iterdir()] == [saved.name]


def test_the_file_is_an_ordinary_npz_with_the_weights_and_a_json_header(saved: Path) -> None:
    with np.load(saved, allow_pickle=False) as archive:
        meta = json.loads(archive["meta"].tobytes())
        assert meta["format"] == "course_lib.checkpoint" and meta["version"] == 1
        assert meta["backend"] == "numpy"
        assert archive["weights/output.bias"].shape == (meta["config"]["vocab_size"],)
    assert len(meta["checksum"]) == 64


def test_dna_vocab_round_trips(tmp_path: Path) -> None:
    dna = DNAVocab(3)
    model = cn.LLM(small_config(len(dna)), seed=0)
    _, loaded_vocab = cn.load_checkpoint(checkpoint.save(tmp_path / "dna.npz", model, dna))
    assert isinstance(loaded_vocab, DNAVocab) and loaded_vocab.k == 3


def test_a_bpe_vocabulary_travels_with_the_weights(tmp_path: Path) -> None:
    from course_lib.bpe import BPEVocab

    texts = ["The sea is blue. </s>", "The sea is deep. </s>", "Rain is water. </s>"]
    bpe = BPEVocab.train(texts, 280)
    model = cn.LLM(small_config(len(bpe)), seed=0)
    loaded, loaded_vocab = cn.load_checkpoint(checkpoint.save(tmp_path / "bpe.npz", model, bpe))
    assert isinstance(loaded_vocab, BPEVocab) and loaded_vocab == bpe
    assert loaded_vocab.encode("The zebra.") == bpe.encode("The zebra.")
    ids = np.array([bpe.encode("The sea")])
    np.testing.assert_array_equal(loaded(ids), model(ids))


def test_a_bpe_checkpoint_loads_in_the_torch_backend_with_its_vocabulary(tmp_path: Path) -> None:
    torch = pytest.importorskip("torch")
    from course_lib import torch as ct
    from course_lib.bpe import BPEVocab

    bpe = BPEVocab.train(["The sea is blue. </s>", "The sea is deep. </s>"], 270)
    model = cn.LLM(small_config(len(bpe)), seed=0, dtype=np.float64)
    path = checkpoint.save(tmp_path / "bpe.npz", model, bpe)
    torch_model, torch_vocab = ct.load_checkpoint(path)
    ids = np.array([bpe.encode("The sea")])
    with torch.no_grad():
        logits = torch_model(torch.as_tensor(ids)).cpu().numpy()
    assert torch_vocab == bpe
    np.testing.assert_allclose(logits, model(ids), atol=1e-10)


def test_a_checkpoint_with_a_broken_bpe_vocabulary_is_refused(tmp_path: Path) -> None:
    from course_lib.bpe import BPEVocab

    bpe = BPEVocab([(100, 101)])
    model = cn.LLM(small_config(len(bpe)), seed=0)
    path = checkpoint.save(tmp_path / "bpe.npz", model, bpe)
    with np.load(path) as archive:
        arrays = {k: archive[k] for k in archive.files}
    meta = json.loads(arrays["meta"].tobytes())
    meta["vocab"]["merges"] = [[1, 101]]  # a special token in a merge
    arrays["meta"] = np.frombuffer(json.dumps(meta).encode(), np.uint8)
    np.savez(tmp_path / "broken.npz", **arrays)
    with pytest.raises(checkpoint.CheckpointError, match="vocabulary is not valid.*special"):
        checkpoint.read(tmp_path / "broken.npz")


def test_load_into_an_existing_model_copies_the_weights(saved: Path, model: cn.LLM) -> None:
    other = cn.LLM(model.config, seed=99, dtype=np.float64)
    assert not np.array_equal(other(IDS), model(IDS))
    checkpoint.load_into(saved, other)
    np.testing.assert_array_equal(other(IDS), model(IDS))


def test_a_float64_checkpoint_loads_as_float32_when_asked(saved: Path, model: cn.LLM) -> None:
    loaded, _ = cn.load_checkpoint(saved, dtype=np.float32)
    assert loaded.dtype == np.float32
    np.testing.assert_allclose(loaded(IDS), model(IDS), atol=1e-5)


# ------------------------------------------------------------------------- save errors


def test_save_refuses_a_vocab_that_does_not_fit_the_model(tmp_path: Path, model: cn.LLM) -> None:
    with pytest.raises(ValueError, match="vocabulary has 6 tokens but the model was built for"):
        checkpoint.save(tmp_path / "x.npz", model, Vocab.build(["a b c"]))


def test_save_into_a_missing_folder_says_so(tmp_path: Path, model: cn.LLM, vocab: Vocab) -> None:
    with pytest.raises(FileNotFoundError, match="does not exist"):
        checkpoint.save(tmp_path / "nowhere" / "x.npz", model, vocab)


# ------------------------------------------------------------------------- bad files


def test_a_missing_file_is_file_not_found(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="no checkpoint file at"):
        cn.load_checkpoint(tmp_path / "absent.npz")


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "not a readable checkpoint"),
        (b"hello, I am a text file", "not a readable checkpoint"),
        (json.dumps(["a JSON corpus"]).encode(), "not a readable checkpoint"),
    ],
    ids=["empty", "text", "json"],
)
def test_a_file_that_is_not_a_checkpoint_is_a_checkpoint_error(
    tmp_path: Path, content: bytes, message: str
) -> None:
    path = tmp_path / "bad.npz"
    path.write_bytes(content)
    with pytest.raises(CheckpointError, match=message):
        cn.load_checkpoint(path)


def test_a_single_npy_array_is_not_a_checkpoint(tmp_path: Path) -> None:
    path = tmp_path / "array.npy"
    np.save(path, np.zeros(3))
    with pytest.raises(CheckpointError, match="single NumPy array"):
        checkpoint.read(path)


def test_an_npz_without_a_header_is_not_a_checkpoint(tmp_path: Path) -> None:
    path = tmp_path / "other.npz"
    np.savez(path, weights=np.zeros(3))
    with pytest.raises(CheckpointError, match="not a course_lib checkpoint"):
        checkpoint.read(path)


@pytest.mark.parametrize("keep", [0.3, 0.9, 0.999])
def test_a_truncated_checkpoint_is_a_checkpoint_error(saved: Path, keep: float) -> None:
    data = saved.read_bytes()
    saved.write_bytes(data[: int(len(data) * keep)])
    with pytest.raises(CheckpointError):
        checkpoint.read(saved)


def test_a_flipped_byte_in_the_weights_is_caught(saved: Path) -> None:
    data = bytearray(saved.read_bytes())
    with np.load(saved) as archive:
        value = archive["weights/output.bias"]
    raw = value.tobytes()
    position = bytes(data).find(raw)
    assert position > 0  # stored uncompressed, so the bytes are there to damage
    data[position + 3] ^= 0x40
    saved.write_bytes(bytes(data))
    with pytest.raises(CheckpointError, match="checksum mismatch|damaged"):
        checkpoint.read(saved)


def test_edited_weights_without_a_new_checksum_are_caught(saved: Path) -> None:
    def nudge(state: dict) -> None:
        state["output.bias"] = state["output.bias"] + 1.0

    rewrite(saved, edit_state=nudge, resign=False)
    with pytest.raises(CheckpointError, match="checksum mismatch"):
        checkpoint.read(saved)


def test_an_edited_config_without_a_new_checksum_is_caught(saved: Path) -> None:
    rewrite(saved, edit_meta=lambda m: m["config"].update(n_heads=1), resign=False)
    with pytest.raises(CheckpointError, match="checksum mismatch"):
        checkpoint.read(saved)


def test_a_missing_weight_is_named(saved: Path) -> None:
    rewrite(saved, edit_state=lambda s: s.pop("blocks.1.norm2.bias"))
    with pytest.raises(CheckpointError, match=r"missing weights \['blocks.1.norm2.bias'\]"):
        checkpoint.read(saved)


def test_an_extra_weight_is_named(saved: Path) -> None:
    rewrite(saved, edit_state=lambda s: s.update({"blocks.0.attention.out.weight": np.eye(8)}))
    with pytest.raises(CheckpointError, match="unexpected weights"):
        checkpoint.read(saved)


def test_a_weight_of_the_wrong_shape_is_named(saved: Path) -> None:
    rewrite(saved, edit_state=lambda s: s.update({"output.bias": np.zeros(3)}))
    with pytest.raises(CheckpointError, match=r"output.bias: \(3,\) \(expected \(12,\)\)"):
        checkpoint.read(saved)


def test_a_vocab_that_does_not_fit_the_config_is_caught(saved: Path) -> None:
    rewrite(saved, edit_meta=lambda m: m["vocab"]["tokens"].append("extra"))
    with pytest.raises(CheckpointError, match="vocabulary has 13 tokens but the config says"):
        checkpoint.read(saved)


def test_an_invalid_config_is_caught(saved: Path) -> None:
    rewrite(saved, edit_meta=lambda m: m["config"].update(n_heads=3))
    with pytest.raises(CheckpointError, match="model config is not valid.*divisible"):
        checkpoint.read(saved)


def test_a_newer_format_version_asks_for_an_update(saved: Path) -> None:
    rewrite(saved, edit_meta=lambda m: m.update(version=99))
    with pytest.raises(CheckpointError, match="version 99.*Update course_lib"):
        checkpoint.read(saved)


def test_another_format_name_is_not_a_checkpoint(saved: Path) -> None:
    rewrite(saved, edit_meta=lambda m: m.update(format="something.else"))
    with pytest.raises(CheckpointError, match="not a course_lib checkpoint"):
        checkpoint.read(saved)


def test_nan_weights_are_refused(saved: Path) -> None:
    def poison(state: dict) -> None:
        state["output.bias"] = np.full_like(state["output.bias"], np.nan)

    rewrite(saved, edit_state=poison)
    with pytest.raises(CheckpointError, match="nan or inf"):
        checkpoint.read(saved)


def test_integer_weights_are_refused(saved: Path) -> None:
    def to_int(state: dict) -> None:
        state["output.bias"] = state["output.bias"].astype(np.int64)

    rewrite(saved, edit_state=to_int)
    with pytest.raises(CheckpointError, match="not a float"):
        checkpoint.read(saved)


def test_checkpoint_error_is_a_value_error() -> None:
    assert issubclass(CheckpointError, ValueError)


# ------------------------------------------------------------------------- nothing changes


def test_a_bad_checkpoint_leaves_the_model_it_was_loading_into_unchanged(
    saved: Path, model: cn.LLM
) -> None:
    target = cn.LLM(model.config, seed=5, dtype=np.float64)
    before = snapshot(target)
    rewrite(saved, edit_state=lambda s: s.update({"output.bias": np.zeros(3)}))
    with pytest.raises(CheckpointError):
        checkpoint.load_into(saved, target)
    for key, value in snapshot(target).items():
        np.testing.assert_array_equal(value, before[key])


def test_a_config_mismatch_names_the_fields_and_changes_nothing(
    saved: Path, model: cn.LLM, vocab: Vocab
) -> None:
    # Same keys and shapes, other head count: only the config comparison can catch it.
    target = cn.LLM(small_config(len(vocab), n_heads=4), seed=5, dtype=np.float64)
    before = snapshot(target)
    with pytest.raises(CheckpointError, match="n_heads: model 4, checkpoint 2"):
        checkpoint.load_into(saved, target)
    for key, value in snapshot(target).items():
        np.testing.assert_array_equal(value, before[key])


def test_the_numpy_backend_wrappers_use_this_format(
    tmp_path: Path, model: cn.LLM, vocab: Vocab
) -> None:
    path = tmp_path / "wrapped.npz"
    cn.save_checkpoint(path, model, vocab)
    loaded, _ = cn.load_checkpoint(path)
    np.testing.assert_array_equal(loaded(IDS), model(IDS))
    assert checkpoint.read(path).backend == "numpy"


# ------------------------------------------------------------------------- across backends


@pytest.mark.parametrize(
    "options",
    [{}, dict(norm="pre", positional="sinusoidal", tie_weights=True, attn_out_proj=True)],
    ids=["reference", "every_option"],
)
def test_a_checkpoint_from_either_backend_loads_in_the_other_with_the_same_logits(
    tmp_path: Path, vocab: Vocab, options: dict
) -> None:
    torch = pytest.importorskip("torch")
    from course_lib import torch as ct

    cfg = small_config(len(vocab), n_heads=2, **options)
    numpy_model = cn.LLM(cfg, seed=2, dtype=np.float64)
    torch_model = ct.LLM(cfg, seed=3, dtype=torch.float64)
    with torch.no_grad():
        torch_model.output.bias.normal_()  # differs from the NumPy model's zeros

    from_numpy, _ = ct.load_checkpoint(checkpoint.save(tmp_path / "n.npz", numpy_model, vocab))
    from_torch, vocab_back = cn.load_checkpoint(
        checkpoint.save(tmp_path / "t.npz", torch_model, vocab)
    )
    assert vocab_back == vocab and checkpoint.read(tmp_path / "t.npz").backend == "torch"
    with torch.no_grad():
        logits_from_numpy = from_numpy(torch.as_tensor(IDS)).numpy()
        torch_logits = torch_model(torch.as_tensor(IDS)).numpy()
    assert np.max(np.abs(logits_from_numpy - numpy_model(IDS))) < 1e-10
    assert np.max(np.abs(from_torch(IDS) - torch_logits)) < 1e-10


def test_a_bfloat16_torch_model_saves_as_float32(tmp_path: Path, vocab: Vocab) -> None:
    torch = pytest.importorskip("torch")
    from course_lib import torch as ct

    model = ct.LLM(small_config(len(vocab)), seed=0, dtype=torch.bfloat16)
    path = checkpoint.save(tmp_path / "bf16.npz", model, vocab)
    state = checkpoint.read(path).state
    assert all(v.dtype == np.float32 for v in state.values())
    expected = model.state_dict()["output.weight"].float().numpy()
    np.testing.assert_array_equal(state["output.weight"], expected)


def test_a_torch_model_loads_into_an_existing_torch_model(
    saved: Path, model: cn.LLM, vocab: Vocab
) -> None:
    torch = pytest.importorskip("torch")
    from course_lib import torch as ct

    target = ct.LLM(model.config, seed=8, dtype=torch.float64)
    bad = io.BytesIO(saved.read_bytes())  # keep a good copy, then damage the file
    rewrite(saved, edit_state=lambda s: s.pop("output.bias"))
    before = {k: v.clone() for k, v in target.state_dict().items()}
    with pytest.raises(CheckpointError, match="missing weights"):
        checkpoint.load_into(saved, target)
    assert all(torch.equal(before[k], v) for k, v in target.state_dict().items())
    saved.write_bytes(bad.getvalue())
    assert checkpoint.load_into(saved, target) == vocab
    with torch.no_grad():
        got = target(torch.as_tensor(IDS)).numpy()
    assert np.max(np.abs(got - model(IDS))) < 1e-10


def test_saving_never_writes_outside_the_target_folder(
    tmp_path: Path, model: cn.LLM, vocab: Vocab
) -> None:
    folder = tmp_path / "out"
    folder.mkdir()
    cwd = os.getcwd()
    try:
        os.chdir(tmp_path)
        checkpoint.save(Path("out") / "m.npz", model, vocab)
    finally:
        os.chdir(cwd)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]
    assert [p.name for p in folder.iterdir()] == ["m.npz"]
