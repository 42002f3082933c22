"""Claims that hold on one floating-point path only are caught by `make notebooks`.

Oracles: the last bits of one float32 matrix product, which differ between OpenBLAS kernels, and
the Makefile's own `notebooks` target run on a planted notebook. The bands of course_lib.claims
hold what they say they measured.
"""

from __future__ import annotations

import importlib.util
import math
import os
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from course_lib.claims import BANDS, Band, within

ROOT = Path(__file__).resolve().parents[1]
spec = importlib.util.spec_from_file_location("portability", ROOT / "benchmarks/portability.py")
portability = importlib.util.module_from_spec(spec)
spec.loader.exec_module(portability)

FINGERPRINT = """
import hashlib
import numpy as np

rng = np.random.default_rng(0)
a = rng.standard_normal((64, 200), dtype=np.float32)
b = rng.standard_normal((200, 64), dtype=np.float32)
fingerprint = hashlib.sha256((a @ b).tobytes()).hexdigest()
"""


def fingerprint(extra_env: dict[str, str]) -> str:
    done = subprocess.run(
        [sys.executable, "-c", FINGERPRINT + "print(fingerprint)"],
        env={**os.environ, **extra_env},
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    return done.stdout.strip()


def planted_notebook(folder: Path, claim: str) -> Path:
    cells = [
        nbformat.v4.new_code_cell(FINGERPRINT),
        nbformat.v4.new_code_cell("# The text above, checked against this run.\n" + claim),
    ]
    path = folder / "planted.ipynb"
    nbformat.write(nbformat.v4.new_notebook(cells=cells), path)
    return path


def make_notebooks(notebook: Path) -> subprocess.CompletedProcess:
    """`make notebooks` on one notebook, as CI runs it (its set-up step taken as done)."""
    return subprocess.run(
        ["make", "--no-print-directory", "-o", "test-env", "notebooks", f"NOTEBOOKS={notebook}"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )


needs_make = pytest.mark.skipif(
    shutil.which("make") is None or not (ROOT / ".venv").exists(),
    reason="needs make and the project's .venv (make test-env)",
)


def test_the_second_path_gives_other_last_bits() -> None:
    assert fingerprint({}) != fingerprint(portability.second_path())


def test_the_second_path_is_never_the_environments_own() -> None:
    for current in ("", "Haswell", "SkylakeX", "Prescott", "prescott"):
        chosen = portability.second_path({"OPENBLAS_CORETYPE": current}, "x86_64")
        assert chosen["OPENBLAS_CORETYPE"].lower() != current.lower()
        assert chosen["OPENBLAS_NUM_THREADS"] == "1"
    assert "OPENBLAS_CORETYPE" not in portability.second_path({}, "arm64")


@needs_make
def test_a_claim_true_on_one_path_only_fails_make_notebooks(tmp_path: Path) -> None:
    # Planted: a claim about the exact bits this machine's own kernels produce.
    notebook = planted_notebook(tmp_path, f"assert fingerprint == {fingerprint({})!r}")
    done = make_notebooks(notebook)
    assert done.returncode != 0
    first, second = done.stdout.split("==> notebooks again on a second path")
    assert "2 passed" in first  # true on this machine's path...
    assert "1 failed" in second and "AssertionError" in second  # ...and false on the second


@needs_make
def test_a_claim_that_holds_on_every_path_passes_make_notebooks(tmp_path: Path) -> None:
    claim = "import numpy as np\nassert np.allclose(a @ b, (a.astype(float) @ b), atol=1e-3)"
    done = make_notebooks(planted_notebook(tmp_path, claim))
    assert done.returncode == 0, done.stdout[-2000:]
    assert done.stdout.count("2 passed") == 2


@pytest.mark.parametrize("name", sorted(BANDS))
def test_each_band_holds_what_it_measured_with_a_margin(name: str) -> None:
    band = BANDS[name]
    assert band.low <= band.measured[0] <= band.measured[1] <= band.high
    assert band.margin > 0, f"{name}: a measured value sits on the band's edge"


def test_within_passes_inside_and_names_the_band_outside(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    band = Band(0.0, 1.0, "a test quantity", (0.4, 0.6))
    monkeypatch.setitem(BANDS, "test.quantity", band)
    log = tmp_path / "claims.jsonl"
    monkeypatch.setenv("COURSE_CLAIMS_LOG", str(log))
    assert within("test.quantity", 0.5) == 0.5
    for outside in (-0.1, 1.5, math.nan):
        with pytest.raises(AssertionError, match="a test quantity"):
            within("test.quantity", outside)
    assert log.read_text().count('"test.quantity"') == 4  # every value is recorded


def test_a_band_that_does_not_hold_its_measurements_is_refused() -> None:
    with pytest.raises(ValueError, match="does not hold"):
        Band(0.0, 1.0, "x", (0.5, 1.2))
