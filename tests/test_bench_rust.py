"""benchmarks/bench_rust.py: the side by side with the Rust reference measures only a binary it is
given, and says how to build one otherwise.

Oracle: the script's output and exit status; a stand-in "binary" (a shell script that reads its
standard input like the Rust model's prompt loop) checks the machinery without the real model.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "benchmarks" / "bench_rust.py"
ENV = {**os.environ, "PYTHONPATH": str(ROOT)}


def bench(*args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(SCRIPT), *args], capture_output=True, text=True,
                          env=ENV, timeout=timeout, check=False)  # fmt: skip


def test_without_a_binary_it_measures_nothing_and_says_how_to_build_one() -> None:
    done = bench()
    assert done.returncode == 0
    assert "nothing measured" in done.stdout
    assert "github.com/tekaratzas/RustGPT" in done.stdout
    assert "cargo build --release" in done.stdout


def test_a_path_that_is_not_an_executable_is_skipped_with_its_name(tmp_path: Path) -> None:
    done = bench(str(tmp_path / "target" / "release" / "llm"))
    assert done.returncode == 0
    assert "is not an executable file: nothing measured" in done.stdout


def test_a_checkout_without_the_reference_data_is_named(tmp_path: Path) -> None:
    binary = tmp_path / "target" / "release" / "llm"
    binary.parent.mkdir(parents=True)
    binary.write_text("#!/bin/sh\ncat > /dev/null\n")
    binary.chmod(0o755)
    done = bench(str(binary))
    assert done.returncode == 2
    assert "data/pretraining_data.json" in done.stdout


def test_a_given_binary_runs_in_its_checkout_next_to_ours_and_gets_a_ratio(tmp_path: Path) -> None:
    # a stand-in that, like the Rust model, reads its data relative to its checkout and then
    # reads prompts until `exit`: it fails unless run in the checkout with `exit` on stdin
    (tmp_path / "data").mkdir()
    pre = ["the sun is hot </s>", "water is wet </s>"]
    chat = ["User: what is hot? Assistant: the sun </s>"]
    (tmp_path / "data" / "pretraining_data.json").write_text(json.dumps(pre))
    (tmp_path / "data" / "chat_training_data.json").write_text(json.dumps(chat))
    binary = tmp_path / "target" / "release" / "llm"
    binary.parent.mkdir(parents=True)
    binary.write_text(
        "#!/bin/sh\ntest -f data/pretraining_data.json || exit 3\n"
        'read line; test "$line" = exit || exit 4\n'
    )
    binary.chmod(0o755)
    done = bench(str(binary), "--repeats", "1", "--epochs", "1", timeout=600)
    assert done.returncode == 0, done.stderr + done.stdout
    rows = {line.split("  ")[0]: line for line in done.stdout.splitlines()}
    for name in ("Rust reference (batch 1)", "NumPy, batch 1", "NumPy, batch 16 in length "
                 "buckets", "torch on the CPU, batch 1"):  # fmt: skip
        assert name in rows, done.stdout
        assert rows[name].rstrip().endswith("x")
    assert rows["Rust reference (batch 1)"].rstrip().endswith("1.00x")
