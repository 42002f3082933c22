"""Both backends on the same workload, in one run: tokens/s, their ratio, FLOP/s, memory, imports.

    python benchmarks/bench_backends.py                  # 10 epochs per stage, batch 1 and 16
    python benchmarks/bench_backends.py --epochs 100     # the full reference schedule
    python benchmarks/bench_backends.py --batch-sizes 1 8 32 --device cuda

The workload is issue 3's reference shape: the bundled corpus, d_model 128, hidden 256, 3 blocks,
max length 80, pre-training at lr 5e-4 then instruction tuning at lr 1e-4, seed 0, float32. By
default each stage runs 10 epochs instead of 100; tokens/s does not depend on the epoch count, and
the full schedule's time is printed scaled up (x epochs/100).

Every measured run is a fresh subprocess, so each backend's peak memory (ru_maxrss of that
process, interpreter and imports included) is its own, and the NumPy run never imports torch.
Model FLOPs count the matmuls of forward and backward (3x forward) on real tokens only, with full
(T x T) attention score matrices; each backend's rate is divided by the rate of a large float32
matmul measured in the same run by the same library.
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


# ----------------------------------------------------------------------------- worker side


def model_flops(config: object, lengths: list[int]) -> float:
    """Training FLOPs (forward + backward = 3x forward) of one pass over sequences of `lengths`."""
    d, h, v = config.d_model, config.d_hidden, config.vocab_size
    projections = 4 if config.attn_out_proj else 3
    per_token = config.n_layers * 2 * (projections * d * d + 2 * d * h) + 2 * d * v
    total = 0.0
    for n in lengths:  # n input positions (the text's tokens minus one)
        attention = config.n_layers * 2 * 2 * n * n * d  # scores and weights @ values
        total += n * per_token + attention
    return 3.0 * total


def matmul_rate(backend: str, device: str, size: int = 2048, repeats: int = 5) -> float:
    """FLOP/s of the best of `repeats` float32 (size x size) @ (size x size) products."""
    if backend == "numpy":
        import numpy as np

        a = np.random.default_rng(0).standard_normal((size, size), dtype=np.float32)
        b = a.T.copy()
        a @ b  # warm up
        best = float("inf")
        for _ in range(repeats):
            start = time.perf_counter()
            a @ b
            best = min(best, time.perf_counter() - start)
    else:
        import torch

        a = torch.randn(size, size, device=device)
        b = a.T.contiguous()
        a @ b
        best = float("inf")
        for _ in range(repeats):
            if device.startswith("cuda"):
                torch.cuda.synchronize()
            start = time.perf_counter()
            a @ b
            if device.startswith("cuda"):
                torch.cuda.synchronize()
            best = min(best, time.perf_counter() - start)
    return 2.0 * size**3 / best


def worker(backend: str, batch_size: int, epochs: int, device: str) -> dict:
    """Train once on the reference-shaped workload; return the figures as a dict."""
    from course_lib.batching import encode_texts
    from course_lib.config import ModelConfig
    from course_lib.corpus import chat_texts, pretraining_texts
    from course_lib.vocab import Vocab

    if backend == "numpy":
        from course_lib import numpy as cl
    else:
        from course_lib import torch as cl

    pretrain, chat = pretraining_texts(), chat_texts()
    vocab = Vocab.build(pretrain + chat)
    config = ModelConfig(vocab_size=len(vocab))
    kwargs = {} if backend == "numpy" else {"device": device}
    model = cl.LLM(config, seed=0, **kwargs)
    lengths = [len(s) - 1 for s in encode_texts(vocab, pretrain) + encode_texts(vocab, chat)]
    tokens = sum(lengths) * epochs
    flops = model_flops(config, lengths) * epochs
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    start = time.perf_counter()
    pre, instruct = cl.train_schedule(
        model, vocab, pretrain, chat, pretrain_epochs=epochs, chat_epochs=epochs,
        batch_size=batch_size, seed=0, progress=False,
    )  # fmt: skip
    seconds = time.perf_counter() - start
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    rate = matmul_rate(backend, device)
    return {
        "backend": backend,
        "device": device if backend == "torch" else "cpu",
        "batch_size": batch_size,
        "epochs": epochs,
        "seconds": seconds,
        "tokens": tokens,
        "tokens_per_s": tokens / seconds,
        "model_flops_per_s": flops / seconds,
        "matmul_flops_per_s": rate,
        "peak_mb": peak_mb,
        "rss_before_training_mb": rss_before,
        "final_losses": [pre[-1], instruct[-1]],
        "torch_imported": "torch" in sys.modules,
        "threads": sys.modules["torch"].get_num_threads() if "torch" in sys.modules else None,
    }


# ----------------------------------------------------------------------------- driver side


def run_worker(backend: str, batch_size: int, epochs: int, device: str, threads: int) -> dict:
    command = [
        sys.executable, __file__, "--worker", backend, "--batch-sizes", str(batch_size),
        "--epochs", str(epochs), "--device", device, "--torch-threads", str(threads),
    ]  # fmt: skip
    result = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise SystemExit(f"{backend} worker failed:\n{result.stderr}")
    return json.loads(result.stdout.strip().splitlines()[-1])


def import_seconds(module: str, repeats: int) -> float:
    """Median wall time of `import module` in fresh interpreters."""
    code = f"import time; t = time.perf_counter(); import {module}; print(time.perf_counter() - t)"
    times = []
    for _ in range(repeats):
        result = subprocess.run(
            [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True
        )
        times.append(float(result.stdout))
    return statistics.median(times)


def main(argv: list[str] | None = None) -> int:
    """Run every measurement and print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=10, help="epochs per stage (100 = full)")
    parser.add_argument("--batch-sizes", type=int, nargs="+", default=[1, 16])
    parser.add_argument("--device", default="cpu", help="torch backend's device (cpu, cuda, mps)")
    parser.add_argument(
        "--torch-threads", type=int, default=0, help="torch.set_num_threads (0: torch's default)"
    )
    parser.add_argument("--import-repeats", type=int, default=5)
    parser.add_argument("--worker", choices=("numpy", "torch"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        if args.worker == "torch" and args.torch_threads:
            import torch

            torch.set_num_threads(args.torch_threads)
        print(json.dumps(worker(args.worker, args.batch_sizes[0], args.epochs, args.device)))
        return 0

    print(
        f"reference-shaped workload, bundled corpus, float32, {args.epochs} epochs per stage "
        f"(the full schedule is 100; times below scaled to it)"
    )
    header = (
        f"{'backend':<14}{'batch':>6}{'train s':>9}{'full s':>8}{'tokens/s':>10}"
        f"{'GFLOP/s':>9}{'matmul':>8}{'frac':>7}{'peak MB':>9}{'losses':>16}"
    )
    print(header)
    rows = {}
    for batch_size in args.batch_sizes:
        for backend in ("numpy", "torch"):
            row = run_worker(backend, batch_size, args.epochs, args.device, args.torch_threads)
            rows[backend, batch_size] = row
            name = backend if backend == "numpy" else f"torch/{row['device']}/{row['threads']}t"
            losses = "/".join(f"{x:.3f}" for x in row["final_losses"])
            print(
                f"{name:<14}{batch_size:>6}{row['seconds']:>9.2f}"
                f"{row['seconds'] * 100 / max(args.epochs, 1):>8.1f}{row['tokens_per_s']:>10,.0f}"
                f"{row['model_flops_per_s'] / 1e9:>9.2f}{row['matmul_flops_per_s'] / 1e9:>8.1f}"
                f"{row['model_flops_per_s'] / row['matmul_flops_per_s']:>7.1%}"
                f"{row['peak_mb']:>9.0f}{losses:>16}"
            )
            if backend == "numpy" and row["torch_imported"]:
                print("  warning: the numpy run imported torch")
    for batch_size in args.batch_sizes:
        ratio = (
            rows["torch", batch_size]["tokens_per_s"] / rows["numpy", batch_size]["tokens_per_s"]
        )
        print(f"batch {batch_size}: torch / numpy tokens/s = {ratio:.2f}")

    repeats = args.import_repeats
    light = import_seconds("course_lib", repeats)
    numpy_path = import_seconds("course_lib.numpy", repeats)
    with_torch = import_seconds("course_lib.torch", repeats)
    print(
        f"import time (median of {repeats} fresh interpreters): course_lib {light * 1000:.0f} ms, "
        f"course_lib.numpy {numpy_path * 1000:.0f} ms, course_lib.torch {with_torch * 1000:.0f} ms"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
