"""The command line under bad input and faults, run as users run it (a fresh process each time).

Each failure ends with exit status 1 and ONE line on stderr, ``error: <what was wrong and what to
do>``, never a traceback (argparse's own syntax errors: status 2); nothing that was there before is
lost. Oracle: the message fragment in each row of the tables, and the bytes of files that must not
change.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from course_lib import checkpoint
from course_lib import numpy as cn
from course_lib.config import ModelConfig
from course_lib.vocab import DNAVocab

PRETRAIN = ["The sea is blue. </s>", "Fish swim in the sea. </s>"]
CHAT = ["User: Where do fish swim? Assistant: Fish swim in the sea. </s>"]


def run(*args: str, cwd: Path, **options: object) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "course_lib", *args],
        cwd=cwd, capture_output=True, text=True, timeout=600, **options,
    )  # fmt: skip


def assert_one_line_error(result: subprocess.CompletedProcess[str], fragment: str) -> None:
    assert "Traceback" not in result.stderr + result.stdout, result.stderr
    lines = [line for line in result.stderr.splitlines() if not line.startswith("warning: ")]
    lines = [line for line in lines if line.strip() and "epoch/s" not in line]  # not the bar
    assert result.returncode == 1, result.stderr
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    assert fragment in lines[0], lines[0]


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder with the corpus files and a trained (one epoch) checkpoint, model.ckpt.npz."""
    here = tmp_path_factory.mktemp("cli")
    (here / "pre.json").write_text(json.dumps(PRETRAIN), encoding="utf-8")
    (here / "chat.json").write_text(json.dumps(CHAT), encoding="utf-8")
    result = run(
        "train", "--pretrain", "pre.json", "--chat", "chat.json", "--epochs", "1",
        "--batch-size", "8", cwd=here,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    return here


TRAIN = ["train", "--pretrain", "pre.json", "--chat", "chat.json", "--epochs", "1"]


# ---------------------------------------------------------------------------------------------
# chat


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (
            ["--template", "{prompt} {x}"],
            "--template may only hold {prompt}, but it also holds {x}",
        ),
        (["--template", "{prompt"], "is not a valid template"),
        (["--template", "no field"], "--template must contain {prompt}"),
        (["--backend", "torch", "--device", "meta"], "runs on cpu, cuda or mps, not meta"),
        (["--backend", "torch", "--device", "xpu"], "runs on cpu, cuda or mps, not xpu"),
        (["--backend", "torch", "--device", "gpu"], "--device: unknown device 'gpu'"),
        (["--device", "cuda"], "needs the torch backend"),
        (["--prompt", "the <pad> sea"], "the prompt contains '<pad>'"),
    ],
    ids=lambda value: " ".join(value) if isinstance(value, list) else value,
)
def test_chat_refuses_bad_options_in_one_line(
    folder: Path, options: list[str], message: str
) -> None:
    prompt = [] if "--prompt" in options else ["--prompt", "Where do fish swim?"]
    assert_one_line_error(run("chat", "model.ckpt.npz", *prompt, *options, cwd=folder), message)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (["--seed", "-1"], "--seed must be at least 0, got -1"),
        (["--temperature", "nan"], "--temperature must be a number 0 or more, got nan"),
        (["--temperature", "inf"], "--temperature must be a number 0 or more"),
        (["--threads", "0"], "--threads must be at least 1"),
        (["--top-k", "x"], "--top-k expects a whole number, got 'x'"),
    ],
)
def test_chat_option_syntax_errors_name_the_option(
    folder: Path, options: list[str], message: str
) -> None:
    result = run("chat", "model.ckpt.npz", "--prompt", "hi", *options, cwd=folder)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert message in result.stderr


def test_a_temperature_near_zero_answers_like_greedy(folder: Path) -> None:
    question = ["--prompt", "Where do fish swim?"]
    greedy = run("chat", "model.ckpt.npz", *question, cwd=folder)
    tiny = run("chat", "model.ckpt.npz", *question, "--temperature", "1e-320", cwd=folder)
    assert greedy.returncode == 0 and tiny.returncode == 0, tiny.stderr
    assert tiny.stdout == greedy.stdout


def test_chat_answers_with_a_dna_checkpoint(tmp_path: Path) -> None:
    vocab = DNAVocab(2)
    config = ModelConfig(vocab_size=len(vocab), d_model=8, d_hidden=8, n_layers=1, max_seq_len=8)
    checkpoint.save(tmp_path / "dna.npz", cn.LLM(config, seed=0), vocab)
    result = run("chat", "dna.npz", "--prompt", "ACGTAC", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert set(result.stdout.strip()) <= set("ACGTN")


def test_interactive_chat_with_stdin_closed_ends_quietly(folder: Path) -> None:
    result = subprocess.run(
        f"{sys.executable} -m course_lib chat model.ckpt.npz <&-",
        shell=True, cwd=folder, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert result.returncode == 0 and "Traceback" not in result.stderr, result.stderr


def test_a_float16_checkpoint_chats_on_the_torch_backend(tmp_path: Path, folder: Path) -> None:
    pytest.importorskip("torch")
    model, vocab = cn.load_checkpoint(folder / "model.ckpt.npz", dtype=np.float16)
    checkpoint.save(tmp_path / "half.npz", model, vocab)
    assert checkpoint.read(tmp_path / "half.npz").state["output.bias"].dtype == np.float16
    result = run(
        "chat", "half.npz", "--prompt", "Where do fish swim?", "--backend", "torch",
        "--device", "cpu", cwd=tmp_path,
    )  # fmt: skip
    assert result.returncode == 0 and "Traceback" not in result.stderr, result.stderr


# ---------------------------------------------------------------------------------------------
# train: failures found before the first epoch, and a good checkpoint never replaced


@pytest.mark.parametrize(
    ("files", "options", "message"),
    [
        ({"pre.json": '["the sea \\ud800 </s>"]'}, [], "half of a UTF-16 pair"),
        ({"pre.csv": 'text\n"one </s>\ntwo </s>\n'}, ["--pretrain", "pre.csv"], "never closed"),
        ({"pre.json": "[" * 100_000}, [], "nested too deeply"),
        ({}, ["--lr", "1e300"], "larger than the largest number the weights can hold"),
        ({}, ["--chat-lr", "1e300"], "larger than the largest number the weights can hold"),
        ({}, ["--out", "nowhere/m.npz"], "the folder nowhere does not exist"),
        ({}, ["--backend", "torch", "--device", "meta"], "not meta"),
    ],
    ids=[
        "surrogate",
        "unclosed-quote",
        "deep-json",
        "huge-lr",
        "huge-chat-lr",
        "no-folder",
        "meta",
    ],
)
def test_train_refuses_before_the_first_epoch(
    tmp_path: Path, folder: Path, files: dict[str, str], options: list[str], message: str
) -> None:
    shutil.copy(folder / "pre.json", tmp_path)
    shutil.copy(folder / "chat.json", tmp_path)
    for name, content in files.items():
        (tmp_path / name).write_text(content, encoding="utf-8")
    result = run(*TRAIN, *options, cwd=tmp_path)
    assert_one_line_error(result, message)
    assert "training" not in result.stdout  # refused before training started


def test_a_diverging_run_stops_and_keeps_the_good_checkpoint(tmp_path: Path, folder: Path) -> None:
    for name in ("pre.json", "chat.json", "model.ckpt.npz"):
        shutil.copy(folder / name, tmp_path)
    good = (tmp_path / "model.ckpt.npz").read_bytes()
    result = run(*TRAIN, "--lr", "1e30", cwd=tmp_path)
    assert_one_line_error(result, "the loss became nan in epoch 1, so training stopped")
    assert (tmp_path / "model.ckpt.npz").read_bytes() == good
    assert sorted(p.name for p in tmp_path.iterdir()) == ["chat.json", "model.ckpt.npz", "pre.json"]


def test_an_unwritable_output_folder_is_found_before_training(tmp_path: Path, folder: Path) -> None:
    locked = tmp_path / "locked"
    locked.mkdir()
    for name in ("pre.json", "chat.json"):
        shutil.copy(folder / name, tmp_path)
    if (
        subprocess.run(["chattr", "+i", str(locked)], capture_output=True, timeout=60).returncode
        != 0
    ):
        pytest.skip("chattr +i is not available here (needs root on ext2/3/4 or similar)")
    try:
        result = run(*TRAIN, "--out", "locked/model.ckpt.npz", cwd=tmp_path)
    finally:
        subprocess.run(["chattr", "-i", str(locked)], check=True, timeout=60)
    assert_one_line_error(result, "cannot write in the folder locked (Operation not permitted)")
    assert "training" not in result.stdout


def test_a_closed_stdout_does_not_cost_the_checkpoint(tmp_path: Path, folder: Path) -> None:
    """``train | head -1``: the reader goes away after the first line; the model is saved."""
    for name in ("pre.json", "chat.json"):
        shutil.copy(folder / name, tmp_path)
    command = " ".join([sys.executable, "-m", "course_lib", *TRAIN])
    result = subprocess.run(
        ["bash", "-c", f"{command} | head -1; exit ${{PIPESTATUS[0]}}"],
        cwd=tmp_path, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr and "BrokenPipe" not in result.stderr
    assert result.stdout.startswith("training ")
    checkpoint.read(tmp_path / "model.ckpt.npz")  # saved and whole


def test_texts_without_an_end_token_train_with_one_warning_line(
    tmp_path: Path, folder: Path
) -> None:
    (tmp_path / "pre.json").write_text(json.dumps(["The sea is blue."]), encoding="utf-8")
    shutil.copy(folder / "chat.json", tmp_path)
    result = run(*TRAIN, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    warnings = [line for line in result.stderr.splitlines() if line.startswith("warning:")]
    assert warnings == [
        "warning: 1 pre-training texts do not end with </s> (the first is text 0): the model "
        "will not learn where an answer stops"
    ]
