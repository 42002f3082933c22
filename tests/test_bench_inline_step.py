"""benchmarks/bench_inline_step.py: the batch-1 step written inline, against the layers.

Oracle: the layers' own forward, loss and backward. The inline step must give the same loss and
the same gradients bit for bit (the script checks that before it times anything), and an inline
step that differs in one gradient entry must stop it.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))


def test_the_inline_step_times_what_the_layers_compute() -> None:
    done = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "bench_inline_step.py"), "--rounds", "1"],
        capture_output=True, text=True, timeout=600, check=False,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    assert "the same weights at the end, bit for bit: True" in done.stdout
    assert "x the floor" in done.stdout


def test_an_inline_step_with_other_numbers_stops_before_timing(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    import bench_inline_step

    inline = bench_inline_step.inline_step

    def off_by_one_bit(model: object, ids: np.ndarray, targets: np.ndarray) -> float:
        loss = inline(model, ids, targets)
        grads = model.gradients()["blocks.1.norm2.bias"]
        grads[0] = np.nextafter(grads[0], np.float32(np.inf))
        return loss

    monkeypatch.setattr(bench_inline_step, "inline_step", off_by_one_bit)
    assert bench_inline_step.main(["--rounds", "1"]) == 1
    assert "differ from the layers'" in capsys.readouterr().out
