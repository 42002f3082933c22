"""Torch on the CPU: training with 1 thread (the course's default) against torch's own default.

Trains the reference-size model on the bundled pre-training texts for a few epochs at batch size
1, alternating the two settings in one process so that both see the same machine; prints the
median wall time of each and their ratio.

    python benchmarks/bench_threads.py [--epochs 2] [--repeats 3]
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch

from course_lib import torch as cl
from course_lib.config import ModelConfig
from course_lib.corpus import chat_texts, pretraining_texts
from course_lib.vocab import Vocab


def one_run(threads: int | None, epochs: int) -> float:
    texts = pretraining_texts()
    vocab = Vocab.build(texts + chat_texts())
    model = cl.LLM(ModelConfig(vocab_size=len(vocab)), seed=0, device="cpu")
    start = time.perf_counter()
    cl.train(model, vocab, texts, epochs=epochs, lr=5e-4, progress=False, threads=threads)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    default = torch.get_num_threads()
    times: dict[str, list[float]] = {"1 thread": [], f"torch default ({default})": []}
    for _ in range(args.repeats):
        times["1 thread"].append(one_run(1, args.epochs))
        times[f"torch default ({default})"].append(one_run(None, args.epochs))
    medians = {name: statistics.median(values) for name, values in times.items()}
    for name, median in medians.items():
        print(f"{name}: median {median:.2f} s for {args.epochs} epochs ({times[name]})")
    one, other = medians.values()
    print(f"torch default / 1 thread: {other / one:.1f}x")


if __name__ == "__main__":
    main()
