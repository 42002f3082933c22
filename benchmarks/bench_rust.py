"""The course's model side by side with the Rust model it rebuilds (RustGPT), in CPU time.

Nothing of the Rust model is part of this repository: build it yourself from its public sources,
then give this script the binary:

    git clone https://github.com/tekaratzas/RustGPT /tmp/RustGPT
    (cd /tmp/RustGPT && cargo build --release)
    python benchmarks/bench_rust.py /tmp/RustGPT/target/release/llm --repeats 3

The Rust binary trains on its own data (`data/pretraining_data.json` and
`data/chat_training_data.json`, read from its checkout, the folder above `target/`) with its own
schedule (100 epochs at lr 5e-4, then 100 at lr 1e-4, batch 1), then waits for prompts: it gets
`exit` on its standard input. The course's model trains on the same two files with the same
schedule through the command line (`python -m course_lib train --pretrain ... --chat ...`, one
BLAS thread), at batch 1, with the batch-16 recipe (`--batch-size 16 --buckets`), and with the
torch backend on the CPU. Each run is a fresh process; the runs alternate, `--repeats` times;
the figures are medians of each process's CPU time (user + system, from the operating system),
which a busy machine changes far less than wall time. Without a binary the script says how to
build one and exits without measuring.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DATA = ("data/pretraining_data.json", "data/chat_training_data.json")
HOW_TO_BUILD = (
    "no Rust binary given: nothing measured. Build the reference from its public repository and "
    "pass the binary:\n"
    "  git clone https://github.com/tekaratzas/RustGPT /tmp/RustGPT\n"
    "  (cd /tmp/RustGPT && cargo build --release)\n"
    "  python benchmarks/bench_rust.py /tmp/RustGPT/target/release/llm"
)


def timed(command: list[str], cwd: Path, stdin: str, env: dict, timeout: float) -> dict:
    """Run `command` to its end; its CPU seconds (user + system, the process and its children)
    and wall seconds. A failure or a run longer than `timeout` seconds stops the benchmark."""
    cpu_before, start = _children_cpu(), time.perf_counter()
    process = subprocess.Popen(
        command, cwd=cwd, env=env, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        _, errors = process.communicate(stdin, timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.communicate()
        raise SystemExit(f"{command[0]} ran longer than {timeout:.0f} s; stopped") from None
    wall = time.perf_counter() - start
    cpu = _children_cpu() - cpu_before  # the one child waited for since `cpu_before`
    if process.returncode != 0:
        raise SystemExit(f"{' '.join(command)} failed (exit {process.returncode}):\n{errors}")
    return {"wall": wall, "cpu": cpu}


def _children_cpu() -> float:
    """CPU seconds of every child process this one has waited for so far."""
    import resource

    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def runs(binary: Path, data: Path, epochs: int | None) -> dict[str, tuple[list[str], Path, str]]:
    """Each contender: (command, working folder, standard input)."""
    ours = [
        sys.executable, "-m", "course_lib", "train", "--pretrain", str(data / DATA[0]),
        "--chat", str(data / DATA[1]), "--threads", "1",
    ]  # fmt: skip
    if epochs is not None:  # a quick run of the machinery (tests); the Rust schedule is fixed
        ours += ["--epochs", str(epochs)]
    return {
        "Rust reference (batch 1)": ([str(binary)], data, "exit\n"),
        "NumPy, batch 1": (ours, ROOT, ""),
        "NumPy, batch 16 in length buckets": (ours + ["--batch-size", "16", "--buckets"], ROOT, ""),
        "torch on the CPU, batch 1": (ours + ["--backend", "torch", "--device", "cpu"], ROOT, ""),
    }


def main(argv: list[str] | None = None) -> int:
    """Time the Rust binary and the course's model alternately; print medians and ratios."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("binary", nargs="?", type=Path, help="the built RustGPT binary (llm)")
    parser.add_argument("--data", type=Path, help="the RustGPT checkout (default: above target/)")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--timeout", type=float, default=1800, help="seconds per run")
    parser.add_argument("--epochs", type=int, help=argparse.SUPPRESS)  # tests only
    args = parser.parse_args(argv)
    if args.binary is None:
        print(HOW_TO_BUILD)
        return 0
    binary = args.binary.resolve()
    if not (binary.is_file() and os.access(binary, os.X_OK)):
        print(f"{args.binary} is not an executable file: nothing measured.\n{HOW_TO_BUILD}")
        return 0
    data = args.data or binary.parent.parent.parent  # <checkout>/target/release/llm
    missing = [name for name in DATA if not (data / name).is_file()]
    if missing:
        print(f"{data} has no {', '.join(missing)}: give the RustGPT checkout with --data")
        return 2
    contenders = runs(binary, data, args.epochs)
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    print(f"load average at start: {os.getloadavg()}  ({os.cpu_count()} cores)")
    print(f"Rust binary: {binary}; data: {data}; {args.repeats} repeats, alternating, medians")
    results: dict[str, list[dict]] = {name: [] for name in contenders}
    with tempfile.TemporaryDirectory() as folder:
        for _ in range(args.repeats):
            for name, (command, cwd, stdin) in contenders.items():
                if command[0] == sys.executable:
                    command = command + ["--out", str(Path(folder) / "model.ckpt.npz")]
                results[name].append(timed(command, cwd, stdin, env, args.timeout))
    rust = results["Rust reference (batch 1)"]
    print(f"\n{'run':<36}{'CPU s':>8}{'wall s':>8}{'CPU / Rust':>12}")
    for name, rows in results.items():
        ratio = statistics.median(r["cpu"] / ref["cpu"] for r, ref in zip(rows, rust, strict=True))
        cpu = statistics.median(r["cpu"] for r in rows)
        wall = statistics.median(r["wall"] for r in rows)
        print(f"{name:<36}{cpu:>8.2f}{wall:>8.2f}{ratio:>11.2f}x")
    print(f"\nload average at end: {os.getloadavg()}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
