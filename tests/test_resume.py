"""A training run that stops - Ctrl-C, a crash - continues from its last finished epoch to the very
weights an uninterrupted run reaches.

Oracle: the uninterrupted run with the same seed and schedule; the resumed run's final weights
must equal it exactly (same backend, same thread count, so the arithmetic is the same).
"""

from __future__ import annotations

import importlib
import json
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from course_lib import checkpoint
from course_lib import numpy as cn
from course_lib.backends import to_numpy
from course_lib.config import ModelConfig
from course_lib.vocab import Vocab

PRETRAIN = [
    "The sea is blue. </s>",
    "Rain falls from grey clouds. </s>",
    "Fish swim in the sea. </s>",
]
CHAT = [
    "User: What colour is the sea? Assistant: The sea is blue. </s>",
    "User: Where do fish swim? Assistant: Fish swim in the sea. </s>",
]


class Stop(Exception):
    """Stands in for a crash in the middle of a run."""


def weights(model: Any) -> dict[str, np.ndarray]:
    return {k: to_numpy(v, dtype=None) for k, v in model.state_dict().items()}


@pytest.mark.parametrize("buckets", [False, True], ids=["random_batches", "length_buckets"])
@pytest.mark.parametrize("backend", ["numpy", "torch"])
def test_a_run_resumed_from_its_saved_state_ends_with_the_uninterrupted_weights(
    tmp_path: Path, backend: str, buckets: bool
) -> None:
    cl = pytest.importorskip(f"course_lib.{backend}")
    train_module = importlib.import_module(f"course_lib.{backend}.train")
    vocab = Vocab.build(PRETRAIN)
    config = ModelConfig(vocab_size=len(vocab), d_model=16, d_hidden=24, n_layers=2, n_heads=2)
    options = dict(epochs=6, lr=3e-3, batch_size=2, buckets=buckets, seed=5, progress=False)

    whole = cl.LLM(config, seed=1)
    whole_losses = cl.train(whole, vocab, PRETRAIN, optimizer=cl.Adam(whole), **options)

    first = cl.LLM(config, seed=1)
    optimizer = cl.Adam(first)
    path = tmp_path / "run.npz"

    def save_then_stop(epoch: int, loss: float) -> None:
        state = train_module.optimizer_state(first, optimizer)
        progress = {"epochs_done": epoch + 1}
        training = checkpoint.TrainingState(state.step, state.m, state.v, progress)
        checkpoint.save(path, first, vocab, training=training)
        if epoch == 2:
            raise Stop

    with pytest.raises(Stop):
        cl.train(first, vocab, PRETRAIN, optimizer=optimizer, callback=save_then_stop, **options)

    saved = checkpoint.read(path)
    assert saved.training is not None and saved.training.progress == {"epochs_done": 3}
    resumed = cl.LLM(config, seed=99)  # other initial weights: everything must come from the file
    checkpoint.load_into(path, resumed)
    optimizer = cl.Adam(resumed)
    train_module.load_optimizer_state(resumed, optimizer, saved.training)
    rest = cl.train(resumed, vocab, PRETRAIN, optimizer=optimizer, start_epoch=3, **options)

    assert rest == whole_losses[3:]
    final, expected = weights(resumed), weights(whole)
    assert all(np.array_equal(final[k], expected[k]) for k in expected)


def test_a_checkpoint_with_training_state_still_loads_for_chat(tmp_path: Path) -> None:
    from course_lib.numpy.train import optimizer_state

    vocab = Vocab.build(PRETRAIN)
    model = cn.LLM(ModelConfig(vocab_size=len(vocab), d_model=8, d_hidden=8, n_layers=1), seed=0)
    training = optimizer_state(model, cn.Adam(model))
    path = checkpoint.save(tmp_path / "run.npz", model, vocab, training=training)
    loaded, _ = cn.load_checkpoint(path)
    assert checkpoint.read(path).version == 2
    expected = weights(model)
    assert all(np.array_equal(a, expected[k]) for k, a in weights(loaded).items())


# ---------------------------------------------------------------------------------------------
# the command line: a real Ctrl-C (SIGINT) in the middle of a training subprocess


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    folder = tmp_path_factory.mktemp("corpus")
    pretrain, chat = folder / "pretrain.json", folder / "chat.json"
    pretrain.write_text(json.dumps(PRETRAIN), encoding="utf-8")
    chat.write_text(json.dumps(CHAT), encoding="utf-8")
    return pretrain, chat


def cli(*args: str) -> list[str]:
    return [sys.executable, "-m", "course_lib", *args]


def test_ctrl_c_saves_the_run_and_resume_reaches_the_uninterrupted_weights(
    tmp_path: Path, corpus: tuple[Path, Path]
) -> None:
    pretrain, chat = corpus
    data = ["--pretrain", str(pretrain), "--chat", str(chat)]
    schedule = ["--epochs", "12", "--chat-epochs", "10", "--lr", "2e-3", "--seed", "4"]

    whole = subprocess.run(
        cli("train", *data, *schedule, "--out", "whole.npz"),
        cwd=tmp_path, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert whole.returncode == 0, whole.stderr

    partial = tmp_path / "cut.partial.npz"
    process = subprocess.Popen(
        cli("train", *data, *schedule, "--out", "cut.npz", "--save-every", "1"),
        cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    deadline = time.monotonic() + 300
    while not partial.exists() and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.005)
    process.send_signal(signal.SIGINT)  # what Ctrl-C in a terminal sends
    stdout, stderr = process.communicate(timeout=300)

    assert process.returncode == 130, stderr
    assert "Traceback" not in stderr
    assert "interrupted; saved the run after epoch" in stderr
    assert "--resume cut.partial.npz" in stderr
    assert not (tmp_path / "cut.npz").exists()
    progress = checkpoint.read(partial).training.progress  # type: ignore[union-attr]
    assert (progress["stage"], progress["epochs_done"]) < (1, 10)  # stopped before the end

    resumed = subprocess.run(
        cli("train", "--resume", "cut.partial.npz", *data),
        cwd=tmp_path, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert resumed.returncode == 0, resumed.stderr
    assert "resuming after epoch" in resumed.stdout and "saved cut.npz" in resumed.stdout
    assert not partial.exists()  # the run is complete: nothing left to resume

    final = checkpoint.read(tmp_path / "cut.npz").state
    expected = checkpoint.read(tmp_path / "whole.npz").state
    assert final.keys() == expected.keys()
    assert all(np.array_equal(final[k], expected[k]) for k in expected)
    assert resumed.stdout.splitlines()[-3:-1] == whole.stdout.splitlines()[-3:-1]  # the losses


@pytest.fixture(scope="module")
def partial_run(
    tmp_path_factory: pytest.TempPathFactory, corpus: tuple[Path, Path]
) -> tuple[Path, list[str]]:
    """A finished one-epoch run, with its last --save-every file kept aside."""
    folder = tmp_path_factory.mktemp("partial")
    pretrain, chat = corpus
    data = ["--pretrain", str(pretrain), "--chat", str(chat)]
    result = subprocess.run(
        cli("train", *data, "--epochs", "2", "--chat-epochs", "0", "--save-every", "1",
            "--out", "m.npz", "--batch-size", "8"),
        cwd=folder, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert not (folder / "m.partial.npz").exists()
    # Rebuild a partial file as a crash after epoch 1 would have left it.
    model, vocab = cn.load_checkpoint(folder / "m.npz")
    from course_lib.__main__ import _fingerprint
    from course_lib.numpy.train import optimizer_state

    schedule = dict(
        pretrain_epochs=2, chat_epochs=0, pretrain_lr=5e-4, chat_lr=1e-4, batch_size=8, seed=0
    )
    training = optimizer_state(model, cn.Adam(model))
    texts = [_fingerprint(t) for t in (PRETRAIN, CHAT)]
    progress = dict(
        schedule=schedule, stage=0, epochs_done=1, losses=[[1.0], []], texts=texts, out="m.npz"
    )
    training = checkpoint.TrainingState(training.step, training.m, training.v, progress)
    checkpoint.save(folder / "m.partial.npz", model, vocab, training=training)
    return folder, data


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--lr", "1e-2"], "these options differ from it: pretrain_lr 0.01 (saved 0.0005)"),
        (["--batch-size", "2"], "batch_size 2 (saved 8)"),
        # the saved run predates --buckets: it is read as a run without buckets
        (["--buckets"], "buckets True (saved False)"),
    ],
)
def test_resume_refuses_options_that_change_the_run(
    partial_run: tuple[Path, list[str]], extra: list[str], message: str
) -> None:
    folder, data = partial_run
    result = subprocess.run(
        cli("train", "--resume", "m.partial.npz", *data, *extra),
        cwd=folder, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert result.stderr.count("\n") == 1 and message in result.stderr


def test_resume_refuses_other_texts(partial_run: tuple[Path, list[str]]) -> None:
    folder, _ = partial_run
    result = subprocess.run(
        cli("train", "--resume", "m.partial.npz"),  # the bundled corpus, not the run's
        cwd=folder, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert result.returncode == 1
    assert "the --pretrain texts differ from those of the run being resumed" in result.stderr


def test_resume_refuses_a_finished_model(partial_run: tuple[Path, list[str]]) -> None:
    folder, data = partial_run
    result = subprocess.run(
        cli("train", "--resume", "m.npz", *data),
        cwd=folder, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert result.returncode == 1
    assert "holds no training run to continue" in result.stderr


def test_a_new_run_does_not_overwrite_an_interrupted_one(
    partial_run: tuple[Path, list[str]],
) -> None:
    folder, data = partial_run
    before = (folder / "m.partial.npz").read_bytes()
    result = subprocess.run(
        cli("train", *data, "--epochs", "1", "--out", "m.npz"),
        cwd=folder, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert result.returncode == 1
    assert "m.partial.npz holds an interrupted run; continue it with --resume" in result.stderr
    assert (folder / "m.partial.npz").read_bytes() == before


def test_a_damaged_saved_run_is_refused_in_one_line(partial_run: tuple[Path, list[str]]) -> None:
    folder, data = partial_run
    saved = checkpoint.read(folder / "m.partial.npz")
    assert saved.training is not None
    progress = dict(saved.training.progress, stage=7)  # no such stage
    training = checkpoint.TrainingState(saved.training.step, saved.training.m, saved.training.v,
                                        progress)  # fmt: skip
    model, vocab = cn.load_checkpoint(folder / "m.partial.npz")
    checkpoint.save(folder / "odd.npz", model, vocab, training=training)
    result = subprocess.run(
        cli("train", "--resume", "odd.npz", *data),
        cwd=folder, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert "the saved state of the run is damaged" in result.stderr
