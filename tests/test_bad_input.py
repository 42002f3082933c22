"""Bad input to the library: each case is refused with one clear message that says what was wrong,
or - where the input is legitimate but extreme - handled without nan or a hang.

Oracle: the message fragment each row of a table names; for the extreme-but-legal cases, what the
definition gives (a temperature near 0 is greedy decoding).
"""

from __future__ import annotations

import json
import math
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from course_lib import checkpoint
from course_lib import numpy as cn
from course_lib.backends import to_numpy
from course_lib.batching import TrainingDivergedError
from course_lib.config import ModelConfig
from course_lib.corpus import load_texts
from course_lib.dna import make_motif_dataset
from course_lib.sampling import next_token_distribution
from course_lib.vocab import DNAVocab, Vocab

TEXTS = ["the sea is blue </s>", "rain falls from the grey sky </s>"]


@pytest.fixture
def vocab() -> Vocab:
    return Vocab.build(TEXTS)


def small(vocab_size: int, **options: Any) -> ModelConfig:
    return ModelConfig(
        vocab_size=vocab_size, d_model=8, d_hidden=12, n_layers=1, max_seq_len=12, **options
    )


# ---------------------------------------------------------------------------------------------
# ModelConfig: every field checked, and bounded


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"init_std": math.nan}, "init_std must be a finite number"),
        ({"init_std": math.inf}, "init_std must be a finite number"),
        ({"init_std": -1.0}, "init_std is the spread of the initial weights"),
        ({"layer_norm_eps": math.inf}, "layer_norm_eps must be a finite number"),
        ({"layer_norm_eps": math.nan}, "layer_norm_eps must be a finite number"),
        ({"layer_norm_eps": 0.0}, "layer_norm_eps must be positive"),
        ({"init_std": "0.02"}, "init_std must be a finite number"),
        ({"max_seq_len": 8000}, "max_seq_len is 8,000; the largest"),
        ({"max_seq_len": 100_000}, "max_seq_len is 100,000; the largest"),
        ({"n_layers": 96, "max_seq_len": 4096}, "attention-mask entries"),
        ({"d_model": 10**6}, "d_model is 1,000,000; the largest"),
        ({"tie_weights": "yes"}, "tie_weights must be True or False"),
        ({"pad_id": 0.5}, "pad_id must be an int"),
    ],
    ids=lambda value: str(value)[:40],
)
def test_a_config_out_of_bounds_is_refused_by_name(options: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        ModelConfig(vocab_size=10, **options)


def test_init_std_zero_is_allowed_and_gives_zero_weights() -> None:
    """0 is a legal spread (every weight starts at its mean), unlike nan or -1."""
    model = cn.LLM(small(10, init_std=0.0), seed=0)
    assert np.all(model.state_dict()["embeddings.token.weight"] == 0)


# ---------------------------------------------------------------------------------------------
# generation: the vocabulary must belong to the model, prompts hold no special tokens


def test_generate_with_a_vocabulary_of_another_size_is_refused(vocab: Vocab) -> None:
    model = cn.LLM(small(len(vocab) + 3), seed=0)
    with pytest.raises(ValueError, match=r"vocabulary has \d+ tokens but the model was built"):
        cn.generate(model, vocab, "the sea")


@pytest.mark.parametrize("special", ["<pad>", "</s>", "<unk>"])
def test_a_typed_special_token_in_a_prompt_is_refused(vocab: Vocab, special: str) -> None:
    model = cn.LLM(small(len(vocab)), seed=0)
    with pytest.raises(ValueError, match=f"the prompt contains '{special}'"):
        cn.generate(model, vocab, f"the sea {special} is")


@pytest.mark.parametrize(
    ("temperature", "message"),
    [(math.nan, "temperature must be a finite number"), (math.inf, "finite"), (-1.0, ">= 0")],
)
def test_a_temperature_that_is_not_a_finite_number_is_refused(
    vocab: Vocab, temperature: float, message: str
) -> None:
    model = cn.LLM(small(len(vocab)), seed=0)
    with pytest.raises(ValueError, match=message):
        cn.generate(model, vocab, "the sea", temperature=temperature)


def test_a_temperature_near_zero_samples_the_most_likely_token() -> None:
    """Oracle: softmax(logits / T) tends to a one-hot on the argmax as T -> 0; no nan."""
    logits = np.array([1.0, 3.0, 2.0, 3.0 - 1e-9])
    p = next_token_distribution(logits, temperature=1e-320)
    assert np.all(np.isfinite(p)) and p.sum() == pytest.approx(1.0)
    assert p.argmax() == 1 and p[1] == 1.0


def test_generate_at_a_tiny_temperature_equals_greedy(vocab: Vocab) -> None:
    model = cn.LLM(small(len(vocab)), seed=3)
    greedy = cn.generate(model, vocab, "the sea", max_new_tokens=5)
    assert cn.generate(model, vocab, "the sea", max_new_tokens=5, temperature=1e-320) == greedy


def test_generate_continues_a_dna_prompt_with_a_dna_vocabulary() -> None:
    """A DNA model saves and loads, so it generates too: k-mers in, bases out."""
    vocab = DNAVocab(2)
    model = cn.LLM(small(len(vocab)), seed=0)
    answer = cn.generate(model, vocab, "ACGTAC", max_new_tokens=3)
    assert set(answer) <= set("ACGTN") and len(answer) <= 6


# ---------------------------------------------------------------------------------------------
# corpus and vocabulary files


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("quote.csv", 'text\n"a first text </s>\nsecond </s>\nthird </s>\n', "never closed"),
        ("huge.csv", "text\n" + "a" * 140_000 + "\n", "a text longer than 131,072 characters"),
        ("deep.json", "[" * 100_000 + "]" * 100_000, "nested too deeply"),
        ("surrogate.json", '["the sea \\ud800 is blue </s>"]', "half of a UTF-16 pair"),
        ("columns.csv", "a,b\n", "2 columns"),
    ],
    ids=["unterminated-quote", "field-over-limit", "deep-json", "lone-surrogate", "columns"],
)
def test_a_damaged_corpus_file_is_refused_with_its_reason(
    tmp_path: Path, name: str, content: str, message: str
) -> None:
    path = tmp_path / name
    path.write_text(content, encoding="utf-8")
    with pytest.raises(ValueError, match=message):
        load_texts(path)


def test_an_unterminated_quote_names_the_line_it_starts_on(tmp_path: Path) -> None:
    path = tmp_path / "quote.csv"
    path.write_text('text\nfirst </s>\n"second </s>\nthird </s>\n', encoding="utf-8")
    with pytest.raises(ValueError, match="line 3: a double quote"):
        load_texts(path)


def test_a_vocabulary_file_nested_too_deeply_is_a_value_error(tmp_path: Path) -> None:
    path = tmp_path / "vocab.json"
    path.write_text('{"a": ' * 100_000 + "1" + "}" * 100_000, encoding="utf-8")
    with pytest.raises(ValueError, match="nested too deeply"):
        Vocab.load(path)


def test_a_vocabulary_with_a_lone_surrogate_is_refused_when_built() -> None:
    """Found at build time, before any training, not when saving after it."""
    with pytest.raises(ValueError, match="cannot be saved as UTF-8"):
        Vocab.build(["the sea \ud800 </s>"])


def test_vocab_save_leaves_the_old_file_whole_when_writing_fails(
    tmp_path: Path, vocab: Vocab, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "vocab.json"
    vocab.save(path)
    before = path.read_bytes()
    bigger = Vocab.build([*TEXTS, "a new word </s>"])

    def fail(*args: Any, **kwargs: Any) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr("os.fsync", fail)  # the write fails after the bytes went out
    with pytest.raises(OSError, match="No space left"):
        bigger.save(path)
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["vocab.json"]  # no temporary file left


# ---------------------------------------------------------------------------------------------
# training


@pytest.mark.parametrize("backend", ["numpy", "torch"])
def test_training_stops_with_a_clear_error_when_the_loss_becomes_nan(
    vocab: Vocab, backend: str
) -> None:
    """Both backends alike: TrainingDivergedError (an ArithmeticError) naming the epoch."""
    cl = pytest.importorskip(f"course_lib.{backend}")
    model = cl.LLM(small(len(vocab)), seed=0)
    with (
        warnings.catch_warnings(),
        pytest.raises(TrainingDivergedError, match="the loss became nan in epoch 1"),
    ):
        warnings.simplefilter("ignore", RuntimeWarning)  # NumPy's overflow notes on the way
        cl.train(model, vocab, TEXTS, epochs=3, lr=1e30, progress=False)


@pytest.mark.parametrize("backend", ["numpy", "torch"])
def test_a_learning_rate_beyond_float32_is_refused_before_training(
    vocab: Vocab, backend: str
) -> None:
    cl = pytest.importorskip(f"course_lib.{backend}")
    model = cl.LLM(small(len(vocab)), seed=0)
    before = {k: to_numpy(v, dtype=None) for k, v in model.state_dict().items()}
    with pytest.raises(ValueError, match="larger than the largest number the weights can hold"):
        cl.train(model, vocab, TEXTS, epochs=3, lr=1e300, progress=False)
    after = model.state_dict()
    assert all(np.array_equal(before[k], to_numpy(after[k], dtype=None)) for k in before)


@pytest.mark.parametrize("seed", [-1, 1.5, "0"])
def test_a_seed_that_is_not_a_non_negative_int_is_named(vocab: Vocab, seed: Any) -> None:
    model = cn.LLM(small(len(vocab)), seed=0)
    with pytest.raises(ValueError, match="seed must be a whole number 0 or more"):
        cn.train(model, vocab, TEXTS, epochs=1, lr=1e-3, seed=seed, progress=False)


def test_training_on_texts_without_an_end_token_warns(vocab: Vocab) -> None:
    model = cn.LLM(small(len(vocab)), seed=0)
    with pytest.warns(UserWarning, match="1 of 2 texts do not end with </s>"):
        cn.train(model, vocab, ["the sea is blue", TEXTS[1]], epochs=1, lr=1e-3, progress=False)


def test_training_dna_sequences_does_not_warn_about_end_tokens() -> None:
    """DNA sequences have no end token by design (chapter 06)."""
    vocab = DNAVocab(1)
    model = cn.LLM(small(len(vocab)), seed=0)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        cn.train(model, vocab, ["ACGTACGT", "TTGACA"], epochs=1, lr=1e-3, progress=False)


def test_save_refuses_weights_that_hold_nan(tmp_path: Path, vocab: Vocab) -> None:
    path = tmp_path / "good.npz"
    model = cn.LLM(small(len(vocab)), seed=0)
    checkpoint.save(path, model, vocab)
    before = path.read_bytes()
    model.parameters()["output.bias"][0] = np.nan
    with pytest.raises(ValueError, match="holds nan or inf"):
        checkpoint.save(path, model, vocab)
    assert path.read_bytes() == before


# ---------------------------------------------------------------------------------------------
# DNA data and widgets


def test_a_motif_too_short_to_avoid_by_chance_is_an_error_not_a_hang() -> None:
    with pytest.raises(ValueError, match="could not write a sequence of 100 bases"):
        make_motif_dataset(4, motif="AC")


def test_the_default_motif_dataset_is_unchanged_by_the_bound() -> None:
    """Oracle: every sequence holds its planted word exactly where `starts` says."""
    data = make_motif_dataset(20, seed=1)
    for sequence, start, words in zip(data.sequences, data.starts, data.planted, strict=True):
        assert sequence[start[0] : start[0] + 6] == words[0]


def test_the_chat_box_refuses_a_vocabulary_of_another_size(vocab: Vocab) -> None:
    pytest.importorskip("ipywidgets")
    from course_lib.widgets import ChatBox

    model = cn.LLM(small(len(vocab) + 1), seed=0)
    with pytest.raises(ValueError, match="do not belong together"):
        ChatBox(model, vocab)


def test_the_attention_viewer_refuses_a_vocabulary_of_another_size(vocab: Vocab) -> None:
    pytest.importorskip("ipywidgets")
    from course_lib.widgets import AttentionViewer

    model = cn.LLM(small(len(vocab) + 1), seed=0)
    with pytest.raises(ValueError, match="do not belong together"):
        AttentionViewer(model, vocab, prompt="the sea")


def test_an_inspector_label_with_dollar_signs_is_drawn_as_typed() -> None:
    """'$\\foo{$' would be a mathtext error; the figure draws it as plain text."""
    pytest.importorskip("ipywidgets")
    import matplotlib

    matplotlib.use("agg")
    from course_lib.widgets import EmbeddingInspector

    labels = ["$\\foo{$", "a", "b", "$x$"]
    inspector = EmbeddingInspector(np.eye(4, 3) + 0.1, labels)
    figure = inspector.static("$\\foo{$")
    figure.canvas.draw()  # the text is laid out here: a mathtext error would raise
    drawn = [t.get_text() for ax in figure.axes for t in ax.texts + ax.get_yticklabels()]
    assert "\\$\\foo{\\$" in drawn  # escaped "$": matplotlib shows it as the typed label


def test_json_header_of_a_saved_checkpoint_is_valid_json(tmp_path: Path, vocab: Vocab) -> None:
    """The header stays plain JSON readable by np.load (the format stays open)."""
    path = checkpoint.save(tmp_path / "m.npz", cn.LLM(small(len(vocab)), seed=0), vocab)
    with np.load(path) as archive:
        assert json.loads(archive["meta"].tobytes())["format"] == checkpoint.FORMAT


@pytest.mark.parametrize(
    ("targets", "ignore_index", "named"),
    [
        ([[1, 2, 7]], 0, "got 1..7"),  # nothing ignored: the fast path checks every target
        ([[0, 2, -1]], 0, "got -1..2"),  # a target ignored: only the others are checked
        ([[5, 2, 1]], None, "got 1..5"),  # no ignore_index at all
    ],
)
def test_a_target_outside_the_vocabulary_is_refused_with_the_range_found(
    targets: list, ignore_index: int | None, named: str
) -> None:
    logits = np.zeros((1, 3, 5), dtype=np.float32)
    with pytest.raises(ValueError, match=rf"targets must be in \[0, 5\), {named}"):
        cn.cross_entropy(logits, np.array(targets), ignore_index=ignore_index)


def test_ignored_targets_may_lie_outside_the_vocabulary() -> None:
    # oracle: the loss over the one real position, computed by hand (uniform logits: log 5)
    logits = np.zeros((1, 2, 5), dtype=np.float64)
    loss, grad = cn.cross_entropy(logits, np.array([[3, -100]]), ignore_index=-100)
    assert loss == pytest.approx(math.log(5))
    assert not grad[0, 1].any()
