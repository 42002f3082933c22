"""What the TrainingMonitor costs: chapter 05's training cell with and without it.

Runs the chapter's schedule (batches of 8, 50 + 40 epochs, the same seeds) in fresh processes,
with the monitor and without it, alternating, and prints each run's CPU time (the process's own,
which shared-machine load hardly changes) and wall time, the medians and their ratio.

    python benchmarks/bench_monitor.py [--repeats 3] [--epochs 50 40]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys

CHILD = r"""
import json, sys, time
from threadpoolctl import threadpool_limits
import numpy as np
import matplotlib
matplotlib.use("agg")
from course_lib import numpy as cl
from course_lib.config import ModelConfig
from course_lib.corpus import chat_texts, pretraining_texts
from course_lib.vocab import Vocab

with_monitor, pre_epochs, chat_epochs = sys.argv[1] == "1", int(sys.argv[2]), int(sys.argv[3])
facts, chat = pretraining_texts(), chat_texts()
vocab = Vocab.build(facts + chat)
config = ModelConfig(vocab_size=len(vocab))
monitor = None
if with_monitor:
    from course_lib.widgets import TrainingMonitor
    monitor = TrainingMonitor(title="pre-training, then instruction tuning")
cpu, wall = time.process_time(), time.perf_counter()
model = cl.LLM(config, seed=0)
optimizer = cl.Adam(model, lr=3e-3)
if monitor is not None:
    monitor.new_run("pre-training", pre_epochs)
cl.train(model, vocab, facts, epochs=pre_epochs, lr=3e-3, batch_size=8, seed=0,
         optimizer=optimizer, callback=monitor, progress=False)
if monitor is not None:
    monitor.new_run("instruction tuning", chat_epochs)
cl.train(model, vocab, chat, epochs=chat_epochs, lr=2.5e-3, batch_size=8, seed=1,
         optimizer=optimizer, callback=monitor, progress=False)
if monitor is not None:
    monitor.finish()
draws = getattr(monitor, "draws", None)
print(json.dumps({"cpu": time.process_time() - cpu, "wall": time.perf_counter() - wall,
                  "draws": draws}))
"""


def one_run(with_monitor: bool, pre_epochs: int, chat_epochs: int) -> dict:
    env = dict(os.environ, MPLBACKEND="agg")
    flag = "1" if with_monitor else "0"
    result = subprocess.run(
        [sys.executable, "-c", CHILD, flag, str(pre_epochs), str(chat_epochs)],
        capture_output=True,
        text=True,
        env=env,
        timeout=1200,
        check=True,
    )
    return json.loads(result.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--epochs", type=int, nargs=2, default=[50, 40], metavar=("PRE", "CHAT"))
    args = parser.parse_args(argv)
    runs: dict[str, list[dict]] = {"without monitor": [], "with monitor": []}
    for _ in range(args.repeats):
        for name, flag in (("without monitor", False), ("with monitor", True)):
            run = one_run(flag, *args.epochs)
            runs[name].append(run)
            draws = f", {run['draws']} redraws" if run["draws"] is not None else ""
            print(f"{name:16s} cpu {run['cpu']:6.2f} s  wall {run['wall']:6.2f} s{draws}")
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    cpu = {name: statistics.median(r["cpu"] for r in values) for name, values in runs.items()}
    wall = {name: statistics.median(r["wall"] for r in values) for name, values in runs.items()}
    for name in runs:
        print(f"median {name}: cpu {cpu[name]:.2f} s, wall {wall[name]:.2f} s")
    ratio = cpu["with monitor"] / cpu["without monitor"]
    print(f"CPU time with / without the monitor: {ratio:.2f}x (load average {load:.1f})")


if __name__ == "__main__":
    main()
