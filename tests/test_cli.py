"""The command line, run as users run it: ``python -m course_lib ...`` in a fresh process.

Each behaviour is checked through the exit status, stdout and stderr (a user mistake: one line
starting ``error:``, status 1, no traceback). Training runs use one epoch on small corpora so they
stay quick; the reference schedule's defaults are checked without running them.
"""

from __future__ import annotations

import importlib
import inspect
import json
import subprocess
import sys
from pathlib import Path

import pytest

from course_lib import checkpoint
from course_lib import numpy as cn

PRETRAIN = [
    "The sea is blue. </s>",
    "Rain falls from grey clouds. </s>",
    "Fish swim in the sea. </s>",
]
CHAT = [
    "User: What colour is the sea? Assistant: The sea is blue. </s>",
    "User: Where do fish swim? Assistant: Fish swim in the sea. </s>",
]


def run(*args: str, cwd: Path, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "course_lib", *args],
        cwd=cwd,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=300,
    )


def assert_user_error(result: subprocess.CompletedProcess[str], *fragments: str) -> None:
    assert result.returncode == 1, result.stderr
    assert "Traceback" not in result.stderr and "Traceback" not in result.stdout
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    for fragment in fragments:
        assert fragment in lines[0]


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    folder = tmp_path_factory.mktemp("corpus")
    pretrain = folder / "pretrain.json"
    pretrain.write_text(json.dumps(PRETRAIN), encoding="utf-8")
    chat = folder / "chat.csv"
    chat.write_text("text\n" + "\n".join(f'"{t}"' for t in CHAT) + "\n", encoding="utf-8")
    return pretrain, chat


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory, corpus: tuple[Path, Path]) -> Path:
    """A checkpoint written by ``train`` (numpy backend) on the small corpus."""
    folder = tmp_path_factory.mktemp("trained")
    pretrain, chat = corpus
    result = run(
        "train", "--pretrain", str(pretrain), "--chat", str(chat), "--epochs", "2",
        "--batch-size", "2", "--out", "small.npz", cwd=folder,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    return folder / "small.npz"


# ------------------------------------------------------------------------- train


def test_train_on_files_prints_losses_and_saves_a_checkpoint(trained: Path) -> None:
    model, vocab = cn.load_checkpoint(trained)
    assert "Assistant" in vocab and "Fish" in vocab and model.config.d_model == 128


def record_stages(monkeypatch: pytest.MonkeyPatch) -> list[dict]:
    """Replace the NumPy backend's `train` by a recorder of each stage's schedule."""
    numpy_train = importlib.import_module("course_lib.numpy.train")  # not the function `train`
    asked: list[dict] = []

    def record(model: object, vocab: object, texts: list, **kwargs: object) -> list:
        names = ("epochs", "lr", "batch_size", "seed", "start_epoch")
        asked.append({name: kwargs[name] for name in names})
        return []

    monkeypatch.setattr(numpy_train, "train", record)
    return asked


def test_train_with_no_corpus_options_uses_the_bundled_corpus(tmp_path: Path) -> None:
    from course_lib.corpus import chat_texts, pretraining_texts
    from course_lib.vocab import Vocab

    result = run("train", "--epochs", "1", "--batch-size", "128", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "pre-training: loss" in result.stdout and "instruction tuning: loss" in result.stdout
    assert "saved model.ckpt.npz" in result.stdout
    assert "pre-training" in result.stderr  # the progress bar
    _, vocab = cn.load_checkpoint(tmp_path / "model.ckpt.npz")
    assert vocab == Vocab.build(pretraining_texts() + chat_texts())


def test_the_defaults_are_the_reference_schedule(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`train` with no options asks for train_schedule's defaults, which are the reference's."""
    from course_lib.__main__ import main

    defaults = {
        name: p.default for name, p in inspect.signature(cn.train_schedule).parameters.items()
    }
    assert defaults["pretrain_epochs"] == 100 and defaults["pretrain_lr"] == 5e-4
    assert defaults["chat_epochs"] == 100 and defaults["chat_lr"] == 1e-4
    assert defaults["batch_size"] == 1 and defaults["clip"] == 5.0
    asked = record_stages(monkeypatch)
    assert main(["train", "--out", str(tmp_path / "m.npz")]) == 0
    assert asked == [
        dict(epochs=100, lr=5e-4, batch_size=1, seed=0, start_epoch=0),
        dict(epochs=100, lr=1e-4, batch_size=1, seed=1, start_epoch=0),
    ]  # the stages of train_schedule: the chat stage's order is seeded with seed + 1
    assert (tmp_path / "m.npz").is_file()


def test_options_reach_the_schedule(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from course_lib.__main__ import main

    asked = record_stages(monkeypatch)
    argv = ["train", "--epochs", "7", "--lr", "1e-3", "--batch-size", "4", "--seed", "3"]
    assert main([*argv, "--out", str(tmp_path / "m.npz")]) == 0
    assert asked == [
        dict(epochs=7, lr=1e-3, batch_size=4, seed=3, start_epoch=0),
        dict(epochs=7, lr=2e-4, batch_size=4, seed=4, start_epoch=0),
    ]


def test_the_batch_16_recipe_is_one_command(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """--chat-lr and --chat-epochs set the second stage on their own (benchmarks/bench_training)."""
    from course_lib.__main__ import main

    asked = record_stages(monkeypatch)
    argv = ["train", "--batch-size", "16", "--lr", "4e-3", "--chat-lr", "2.5e-3"]
    argv += ["--epochs", "50", "--chat-epochs", "40", "--out", str(tmp_path / "m.npz")]
    assert main(argv) == 0
    assert asked == [
        dict(epochs=50, lr=4e-3, batch_size=16, seed=0, start_epoch=0),
        dict(epochs=40, lr=2.5e-3, batch_size=16, seed=1, start_epoch=0),
    ]


def test_train_with_the_torch_backend_writes_a_checkpoint_numpy_can_chat_with(
    tmp_path: Path, corpus: tuple[Path, Path]
) -> None:
    pretrain, chat = corpus
    result = run(
        "train", "--pretrain", str(pretrain), "--chat", str(chat), "--epochs", "1",
        "--backend", "torch", "--device", "cpu", "--out", "t.npz", cwd=tmp_path,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "torch backend, cpu" in result.stdout
    assert checkpoint.read(tmp_path / "t.npz").backend == "torch"
    answer = run("chat", "t.npz", "--prompt", "Where do fish swim?", cwd=tmp_path)
    assert answer.returncode == 0, answer.stderr


@pytest.mark.parametrize(
    ("args", "fragments"),
    [
        (["--pretrain", "missing.json"], ["no corpus file at missing.json"]),
        (["--pretrain", "bad.json"], ["not valid JSON"]),
        (["--chat", "bad.txt"], ["unknown corpus format '.txt'"]),
        (["--out", "no/such/folder/m.npz"], ["does not exist"]),
        (["--device", "cuda"], ["needs the torch backend"]),
        (["--pretrain", "long.json"], ["pre-training text 1 has 91 tokens", "at most 81"]),
    ],
    ids=["missing_file", "bad_json", "bad_format", "bad_out", "device_without_torch", "too_long"],
)
def test_train_mistakes_are_one_line_errors(
    tmp_path: Path, args: list[str], fragments: list[str]
) -> None:
    (tmp_path / "bad.json").write_text('["unclosed', encoding="utf-8")
    (tmp_path / "bad.txt").write_text("text", encoding="utf-8")
    long_texts = ["a b </s>", " ".join(["word"] * 90) + " </s>"]
    (tmp_path / "long.json").write_text(json.dumps(long_texts), encoding="utf-8")
    assert_user_error(run("train", "--epochs", "0", *args, cwd=tmp_path), *fragments)


def test_asking_for_cuda_without_a_gpu_is_a_one_line_error(tmp_path: Path) -> None:
    torch = pytest.importorskip("torch")
    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    result = run("train", "--backend", "torch", "--device", "cuda", cwd=tmp_path)
    assert_user_error(result, "no CUDA GPU")


@pytest.mark.parametrize("value", ["-1", "many"])
def test_a_bad_number_is_a_usage_error(tmp_path: Path, value: str) -> None:
    result = run("train", "--epochs", value, cwd=tmp_path)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert "--epochs" in result.stderr


# ------------------------------------------------------------------------- chat


def test_one_shot_prompt_prints_the_answer(trained: Path) -> None:
    result = run("chat", trained.name, "--prompt", "Where do fish swim?", cwd=trained.parent)
    assert result.returncode == 0, result.stderr
    model, vocab = cn.load_checkpoint(trained)

    expected = cn.generate(model, vocab, "User: Where do fish swim? Assistant:")
    assert result.stdout == expected + "\n"


def test_sampling_options_are_accepted_and_seeded(trained: Path) -> None:
    args = ["chat", trained.name, "--prompt", "What colour is the sea?", "--temperature", "1.5"]
    first = run(*args, "--top-k", "5", "--seed", "4", cwd=trained.parent)
    second = run(*args, "--top-k", "5", "--seed", "4", cwd=trained.parent)
    assert first.returncode == 0 and first.stdout == second.stdout


def test_interactive_chat_answers_until_exit(trained: Path) -> None:
    result = run(
        "chat", trained.name, cwd=trained.parent, stdin="Where do fish swim?\n\nexit\nnever read\n"
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("Type a question, or 'exit' to quit.")
    assert result.stdout.count("> ") == 3  # two prompts answered or skipped, then exit


def test_interactive_chat_ends_at_end_of_input(trained: Path) -> None:
    result = run("chat", trained.name, cwd=trained.parent, stdin="Where do fish swim?\n")
    assert result.returncode == 0 and "Traceback" not in result.stderr


def test_an_unknown_word_gets_a_friendly_message_and_the_chat_goes_on(trained: Path) -> None:
    result = run("chat", trained.name, cwd=trained.parent, stdin="Where do sharks swim?\nexit\n")
    assert result.returncode == 0 and "Traceback" not in result.stdout + result.stderr
    assert "I don't know the word 'sharks'" in result.stdout


def test_an_unknown_word_in_a_one_shot_prompt_is_a_one_line_error(trained: Path) -> None:
    result = run("chat", trained.name, "--prompt", "where do fish swim?", cwd=trained.parent)
    assert_user_error(result, "I don't know the word 'where'", "did you mean 'Where'")


def test_chat_with_a_torch_backend_matches_numpy(trained: Path) -> None:
    pytest.importorskip("torch")
    numpy_run = run("chat", trained.name, "--prompt", "Where do fish swim?", cwd=trained.parent)
    torch_run = run(
        "chat", trained.name, "--prompt", "Where do fish swim?", "--backend", "torch",
        cwd=trained.parent,
    )  # fmt: skip
    assert torch_run.returncode == 0, torch_run.stderr
    assert torch_run.stdout == numpy_run.stdout


def test_chat_with_a_missing_checkpoint_is_a_one_line_error(tmp_path: Path) -> None:
    assert_user_error(run("chat", "nothing.npz", cwd=tmp_path), "no checkpoint file at")


def test_chat_with_a_damaged_checkpoint_is_a_one_line_error(tmp_path: Path, trained: Path) -> None:
    damaged = tmp_path / "damaged.npz"
    damaged.write_bytes(trained.read_bytes()[:5000])
    assert_user_error(run("chat", str(damaged), "--prompt", "hi", cwd=tmp_path), "damaged.npz")


# ------------------------------------------------------------------------- staying light


def test_course_lib_and_the_numpy_path_never_import_torch(tmp_path: Path) -> None:
    code = """
import sys
import course_lib
from course_lib import numpy as cl
import course_lib.checkpoint, course_lib.batching, course_lib.corpus, course_lib.vocab
import course_lib.__main__, course_lib.gradcheck
from course_lib.config import ModelConfig
from course_lib.vocab import Vocab
vocab = Vocab.build(["the sea is blue </s>"])
model = cl.LLM(ModelConfig(vocab_size=len(vocab), d_model=8, d_hidden=8, n_layers=1))
cl.train(model, vocab, ["the sea is blue </s>"], epochs=1, lr=1e-3, progress=False)
cl.save_checkpoint("m.npz", model, vocab)
cl.load_checkpoint("m.npz")
assert "torch" not in sys.modules, sorted(m for m in sys.modules if "torch" in m)
print("light")
"""
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "light"


def test_numpy_backend_chat_does_not_import_torch(trained: Path) -> None:
    code = (
        "import sys; from course_lib.__main__ import main; "
        f"main(['chat', {str(trained)!r}, '--prompt', 'Where do fish swim?']); "
        "assert 'torch' not in sys.modules"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr


# ------------------------------------------------------------------------- BPE


def test_train_with_bpe_saves_its_vocabulary_and_chat_reads_it(
    tmp_path: Path, corpus: tuple[Path, Path]
) -> None:
    from course_lib.bpe import BPEVocab

    pretrain, chat = corpus
    result = run(
        "train", "--pretrain", str(pretrain), "--chat", str(chat), "--epochs", "2",
        "--batch-size", "2", "--tokenizer", "bpe", "--vocab-size", "300", "--out", "bpe.npz",
        cwd=tmp_path,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "BPE vocabulary" in result.stdout
    model, vocab = cn.load_checkpoint(tmp_path / "bpe.npz")
    texts = json.loads(pretrain.read_text()) + CHAT
    assert isinstance(vocab, BPEVocab) and vocab == BPEVocab.train(texts, 300)
    assert model.config.vocab_size == len(vocab)
    # A word the corpus never had is no error with subwords.
    answer = run("chat", str(tmp_path / "bpe.npz"), "--prompt", "Do zebras swim?", cwd=tmp_path)
    assert answer.returncode == 0, answer.stderr


def test_vocab_size_without_bpe_is_a_one_line_error(tmp_path: Path) -> None:
    result = run("train", "--vocab-size", "400", "--epochs", "0", cwd=tmp_path)
    assert_user_error(result, "--vocab-size", "--tokenizer bpe")


def test_a_bpe_vocabulary_too_small_for_the_texts_says_to_grow_it(tmp_path: Path) -> None:
    result = run("train", "--tokenizer", "bpe", "--vocab-size", "259", "--epochs", "0",
                 cwd=tmp_path)  # fmt: skip
    assert_user_error(result, "tokens", "a larger --vocab-size")


def test_resume_keeps_the_saved_vocabulary(tmp_path: Path) -> None:
    result = run("train", "--resume", "x.partial.npz", "--tokenizer", "bpe", cwd=tmp_path)
    assert_user_error(result, "leave out --tokenizer and --vocab-size")


def test_a_bpe_answer_is_printed_without_the_space_before_it(
    tmp_path: Path, corpus: tuple[Path, Path]
) -> None:
    pretrain, chat = corpus
    trained = run(
        "train", "--pretrain", str(pretrain), "--chat", str(chat), "--epochs", "60",
        "--batch-size", "5", "--lr", "1e-2", "--tokenizer", "bpe", "--vocab-size", "300",
        "--out", "bpe.npz", cwd=tmp_path,
    )  # fmt: skip
    assert trained.returncode == 0, trained.stderr
    answer = run("chat", "bpe.npz", "--prompt", "Where do fish swim?", cwd=tmp_path)
    assert answer.stdout == "Fish swim in the sea.\n", answer.stdout
