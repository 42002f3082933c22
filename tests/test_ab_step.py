"""benchmarks/ab_step.py: an older tree's training step against this tree's, in one process.

Oracle: this tree against a copy of itself must train to the same weights bit for bit (the
older tree is imported under another name, so the two copies really are two modules).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_this_tree_against_a_copy_of_itself_ends_with_the_same_weights(tmp_path: Path) -> None:
    shutil.copytree(ROOT / "course_lib", tmp_path / "course_lib",
                    ignore=shutil.ignore_patterns("__pycache__"))  # fmt: skip
    done = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "ab_step.py"), str(tmp_path), "--rounds", "1"],
        capture_output=True, text=True, timeout=600, check=False, cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "same weights at the end, bit for bit: True" in done.stdout
    assert "new / old, median of the per-batch ratios:" in done.stdout


def test_a_folder_without_course_lib_is_named(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "ab_step.py"), str(tmp_path)],
        capture_output=True, text=True, timeout=120, check=False,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )  # fmt: skip
    assert done.returncode != 0
    assert "holds no course_lib/" in done.stderr
