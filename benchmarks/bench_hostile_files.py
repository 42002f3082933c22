"""Peak memory while `load_checkpoint` rejects hostile files: a zip bomb and a huge max_seq_len.

Each file is loaded in a fresh process; the figure is the growth of its peak resident size
(VmHWM) over its resident size (VmRSS) just before the call, in MB. `--tree DIR` measures the
course_lib found in DIR instead (to compare with another checkout).

    python benchmarks/bench_hostile_files.py [--tree /path/to/checkout]
"""

from __future__ import annotations

import argparse
import io
import json
import os
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

import numpy as np

MEASURE = """
import sys, time


def status_kb(field):
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1])


from course_lib import checkpoint, numpy
before = status_kb("VmRSS")  # resident now; the peak after is compared with it
start = time.perf_counter()
try:
    numpy.load_checkpoint(sys.argv[1])
    outcome = "accepted"
except Exception as error:
    outcome = type(error).__name__ + ": " + str(error).split(sys.argv[1])[-1][:90]
seconds = time.perf_counter() - start
after = status_kb("VmHWM")  # the peak resident size so far
print((after - before) / 1024, seconds, outcome, sep="\\t")
"""


def npy(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, array)
    return buffer.getvalue()


def build_files(folder: Path) -> dict[str, Path]:
    """A real small checkpoint, the same with a 512 MB deflated extra entry, and a tiny file
    whose (checksummed) config asks for sinusoidal positions of max_seq_len 8000, 4 layers."""
    from course_lib import checkpoint
    from course_lib import numpy as cn
    from course_lib.config import ModelConfig
    from course_lib.vocab import Vocab

    vocab = Vocab.build(["the sea is blue </s>", "rain falls </s>"])
    small = ModelConfig(vocab_size=len(vocab), d_model=8, d_hidden=8, n_layers=4, max_seq_len=8)
    good = checkpoint.save(folder / "good.npz", cn.LLM(small, seed=0), vocab)

    bomb = folder / "bomb.npz"
    bomb.write_bytes(good.read_bytes())
    with zipfile.ZipFile(bomb, "a", compression=zipfile.ZIP_DEFLATED) as archive:
        with archive.open("weights/extra.npy", "w", force_zip64=True) as entry:
            for _ in range(512):
                entry.write(bytes(2**20))

    with np.load(good) as archive:
        meta = json.loads(archive["meta"].tobytes())
    sinusoidal = ModelConfig(**dict(small.to_dict(), positional="sinusoidal"))
    state = {k: np.zeros(s, np.float32) for k, s in checkpoint.expected_shapes(sinusoidal).items()}
    meta = dict(meta, keys=sorted(state))
    meta["config"] = dict(sinusoidal.to_dict(), max_seq_len=8000)
    del meta["checksum"]
    meta["checksum"] = checkpoint._checksum(meta, state)
    long = folder / "long.npz"
    with zipfile.ZipFile(long, "w") as archive:
        archive.writestr("meta.npy", npy(np.frombuffer(json.dumps(meta).encode(), np.uint8)))
        for key, array in state.items():
            archive.writestr(f"weights/{key}.npy", npy(array))
    return {"zip bomb (512 MB deflated entry)": bomb, "max_seq_len 8000, sinusoidal": long}


def measure(path: Path, tree: str) -> tuple[float, float, str]:
    env = dict(os.environ, PYTHONPATH=tree)
    result = subprocess.run(
        [sys.executable, "-c", MEASURE, str(path)],
        capture_output=True,
        text=True,
        env=env,
        cwd=tree,  # python -c puts the working folder first on sys.path
        timeout=600,
    )
    if result.returncode != 0:
        return float("nan"), float("nan"), result.stderr.strip().splitlines()[-1][:100]
    megabytes, seconds, outcome = result.stdout.strip().split("\t", 2)
    return float(megabytes), float(seconds), outcome


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tree", default=str(Path(__file__).resolve().parents[1]))
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        files = build_files(Path(folder))
        print(f"course_lib from {args.tree}")
        for name, path in files.items():
            megabytes, seconds, outcome = measure(path, args.tree)
            size = path.stat().st_size / 1024
            print(f"{name}: file {size:,.0f} KB, peak growth {megabytes:,.1f} MB, {seconds:.2f} s")
            print(f"    -> {outcome}")


if __name__ == "__main__":
    main()
