"""Training speed of the NumPy backend: wall time, tokens/s, FLOP/s and peak memory.

Prints, in one run:
- the reference-shaped workload (vocab 533, d_model 128, hidden 256, 3 blocks, max length 80;
  25 random sequences of 6-12 tokens x 100 epochs at lr 5e-4, then 53 of 16-29 tokens x 100 epochs
  at lr 1e-4) at batch size 1 and batched;
- the bundled corpus with the default schedule at batch size 1 and batched (higher lr), with the
  final losses and how many training answers greedy decoding repeats;
- the model's FLOP/s as a fraction of a large float32 matmul's rate measured in the same run:
  "useful" FLOPs count each text's real tokens only, "padded" the whole padded batch (the work
  done, part of it thrown away); batched runs in random batches and in length buckets;
- peak memory (tracemalloc for NumPy's arrays; ru_maxrss for the whole process).

Usage: python benchmarks/bench_training.py [--quick] [--repeats N] [--batch-size B]
(--quick: 10 epochs per phase and timings only; its losses would mean nothing)
"""

from __future__ import annotations

import argparse
import os
import resource
import time
import tracemalloc

import numpy as np
from bench_speed import matmul_rate  # this folder is on a script's path

from course_lib import ModelConfig
from course_lib import numpy as cl
from course_lib.batching import bucketed_batches, make_batches

REFERENCE = ModelConfig(vocab_size=533)


def step_flops(cfg: ModelConfig, b: int, t: int) -> float:
    """Multiply-add FLOPs of one training step (forward + backward = 3 x forward) on (b, t)."""
    n = b * t
    d, h, v = cfg.d_model, cfg.d_hidden, cfg.vocab_size
    per_block = 2 * n * d * d * (3 + cfg.attn_out_proj) + 2 * n * d * h * 2  # linears
    per_block += 2 * 2 * b * t * t * d  # scores and weights @ values, all heads together
    return 3 * (cfg.n_layers * per_block + 2 * n * d * v)


def random_sequences(rng: np.random.Generator, count: int, low: int, high: int) -> list[list[int]]:
    """`count` id sequences of low..high tokens ending with </s> (id 1)."""
    lengths = rng.integers(low, high + 1, size=count)
    return [list(rng.integers(3, REFERENCE.vocab_size, size=n - 1)) + [1] for n in lengths]


def run_phases(
    model: cl.LLM, phases: list, batch_size: int, seed: int = 0, buckets: bool = False
) -> dict:
    """Train on id sequences: phases = [(sequences, epochs, lr), ...]; returns the time, the
    tokens, useful FLOPs (each row's real tokens alone) and padded FLOPs (the whole batch)."""
    from threadpoolctl import threadpool_limits

    opt = cl.Adam(model, lr=phases[0][2])
    rng = np.random.default_rng(seed)
    tokens = flops = padded = 0.0
    batches = bucketed_batches if buckets else make_batches
    last: list[float] = []
    start = time.perf_counter()
    with threadpool_limits(limits=1, user_api="blas"):
        for sequences, epochs, lr in phases:
            opt.lr = lr
            for _ in range(epochs):
                last = []
                for x, y, m in batches(sequences, batch_size, rng=rng):
                    last.append(cl.train_step(model, opt, x, y, m))
                    tokens += m.sum()
                    flops += sum(step_flops(model.config, 1, int(n)) for n in m.sum(axis=1))
                    padded += step_flops(model.config, *x.shape)
    seconds = time.perf_counter() - start
    return {"seconds": seconds, "tokens": tokens, "flops": flops, "padded_flops": padded,
            "loss": float(np.mean(last))}  # fmt: skip


def reference_workload(batch_size: int, repeats: int, epochs: int, buckets: bool = False) -> dict:
    """Median over repeats of the reference-shaped schedule at `batch_size`."""
    runs = []
    for r in range(repeats):
        rng = np.random.default_rng(r)
        pre = random_sequences(rng, 25, 6, 12)
        chat = random_sequences(rng, 53, 16, 29)
        model = cl.LLM(REFERENCE, seed=r)
        phases = [(pre, epochs, 5e-4), (chat, epochs, 1e-4)]
        runs.append(run_phases(model, phases, batch_size, buckets=buckets))
    best = sorted(runs, key=lambda x: x["seconds"])[len(runs) // 2]
    best["all_seconds"] = [round(x["seconds"], 2) for x in runs]
    return best


def corpus_run(
    batch_size: int, pre_lr: float, chat_lr: float, pre_epochs: int, chat_epochs: int,
    buckets: bool = False,
) -> dict:  # fmt: skip
    """The bundled corpus through train_schedule; losses, time and answer matches."""
    from course_lib.corpus import chat_texts, pretraining_texts
    from course_lib.vocab import Vocab

    pre, chat = pretraining_texts(), chat_texts()
    vocab = Vocab.build(pre + chat)
    model = cl.LLM(ModelConfig(vocab_size=len(vocab)), seed=0)
    start = time.perf_counter()
    pre_losses, chat_losses = cl.train_schedule(
        model, vocab, pre, chat, batch_size=batch_size, pretrain_lr=pre_lr, chat_lr=chat_lr,
        pretrain_epochs=pre_epochs, chat_epochs=chat_epochs, progress=False, buckets=buckets,
    )  # fmt: skip
    seconds = time.perf_counter() - start
    matches = 0
    for text in chat:
        question, answer = text.split("Assistant:", 1)
        expected = vocab.decode(vocab.encode(answer.replace("</s>", "")))
        matches += cl.generate(model, vocab, question + "Assistant:") == expected
    return {"seconds": seconds, "pre": pre_losses[-1], "chat": chat_losses[-1],
            "matches": f"{matches}/{len(chat)}"}  # fmt: skip


def peak_memory(batch_size: int) -> float:
    """Peak MB of NumPy allocations (tracemalloc) over 3 epochs of the reference workload."""
    rng = np.random.default_rng(0)
    chat = random_sequences(rng, 53, 16, 29)
    tracemalloc.start()
    model = cl.LLM(REFERENCE, seed=0)
    run_phases(model, [(chat, 3, 1e-4)], batch_size)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return peak / 1e6


def main(argv: list[str] | None = None) -> None:
    """Run every measurement and print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--quick", action="store_true", help="10 epochs per phase, 1 repeat, timings only"
    )
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--batched-lr", type=float, nargs=2, default=(4e-3, 2.5e-3))
    parser.add_argument("--batched-epochs", type=int, nargs=2, default=(50, 40))
    args = parser.parse_args(argv)
    epochs = 10 if args.quick else 100
    repeats = 1 if args.quick else args.repeats
    print(f"load average at start: {os.getloadavg()}  (2 cores, shared)")
    rate1, rate_all = matmul_rate(1, n=2048, repeats=5), matmul_rate(None, n=2048, repeats=5)
    print(f"float32 2048^2 matmul: {rate1 / 1e9:.1f} GFLOP/s on 1 thread, "
          f"{rate_all / 1e9:.1f} GFLOP/s on all threads")  # fmt: skip
    print("reference workload (useful FLOP/s: real tokens; padded: every batch position)")
    runs = ((1, 1 if repeats > 1 else repeats, False), (args.batch_size, repeats, False),
            (args.batch_size, repeats, True))  # fmt: skip
    for bs, reps, buckets in runs:
        r = reference_workload(bs, reps, epochs, buckets)
        rate, padded = r["flops"] / r["seconds"], r["padded_flops"] / r["seconds"]
        how = "length buckets" if buckets else "random batches" if bs > 1 else "one text a step"
        print(
            f"  batch {bs:2d}, {how}: {r['seconds']:.2f} s (runs {r['all_seconds']}), "
            f"{r['tokens'] / r['seconds']:,.0f} tokens/s, useful {rate / 1e9:.2f} GFLOP/s = "
            f"{rate / rate1:.0%} of 1-thread matmul ({rate / rate_all:.0%} of all threads), "
            f"padded {padded / 1e9:.2f} GFLOP/s = {padded / rate1:.0%}"
        )
    batched_epochs = (epochs // 2, epochs // 2) if args.quick else tuple(args.batched_epochs)
    for bs, lrs, eps, buckets in (
        (1, (5e-4, 1e-4), (epochs, epochs), False),
        (args.batch_size, tuple(args.batched_lr), batched_epochs, False),
        (args.batch_size, tuple(args.batched_lr), batched_epochs, True),
    ):
        c = corpus_run(bs, *lrs, *eps, buckets=buckets)
        line = f"bundled corpus, batch {bs:2d}{', buckets' if buckets else ''}, lr {lrs}, " + (
            f"epochs {eps}: {c['seconds']:.2f} s"
        )
        if not args.quick:  # after a few epochs the losses and answers say nothing
            line += (
                f", final loss pre-training {c['pre']:.4f}, instruction {c['chat']:.4f}, "
                f"answers {c['matches']}"
            )
        print(line)
    print(f"peak NumPy memory (tracemalloc), batch 1: {peak_memory(1):.1f} MB, "
          f"batch {args.batch_size}: {peak_memory(args.batch_size):.1f} MB")  # fmt: skip
    print(f"process peak RSS: {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB")
    print(f"load average at end: {os.getloadavg()}")


if __name__ == "__main__":
    main()
