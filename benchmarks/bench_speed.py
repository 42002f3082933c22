"""Speed figures in one run: training at batch 1 and 16 against the step's floor, generation,
torch on the CPU.

    python benchmarks/bench_speed.py                       # this tree only
    python benchmarks/bench_speed.py --before /tmp/before  # and an older tree, interleaved

`--before DIR` is a folder holding an older `course_lib/` (for example the commit before a
change: ``git archive <commit> course_lib | tar -x -C /tmp/before``). Every measurement runs in a
fresh subprocess with that tree or this one first on PYTHONPATH, the two trees alternating, each
`--repeats` times; the figures printed are medians. The machine may be shared, so times are CPU
time (what the work costs, not how long it queued; wall time is printed beside it), and each
worker also times a large 1-thread float32 matmul in the same process, before and after its
workload: the model's rate is given as a fraction of that rate. BLAS and torch run on one thread.

Workloads (the reference shape: vocab 533, d_model 128, hidden 256, 3 blocks, max length 80):
- batch 1: 25 random texts of 6-12 tokens at lr 5e-4, then 53 of 16-29 at lr 1e-4, `--epochs`
  epochs each (the reference runs 100; tokens/s does not depend on the count);
- batch 16: the same texts in random batches (`make_batches`) and in length buckets
  (`bucketed_batches`), FLOP/s on real tokens ("useful") and on all positions ("padded");
- generation: the time per new token after a 1-token and a 70-token prompt (9 new tokens, `</s>`
  made impossible so every run writes all 9), with and without a key/value cache;
- ch05's evaluation: all 84 training questions of the bundled corpus asked again, greedy, of a
  model trained as chapter 05 trains it: one `generate` per question (before) and
  `generate_batch` (after);
- torch on the CPU at batch 1 (one thread), against NumPy;
- where a step's CPU time goes (`--only breakdown`), and the floor of that step in plain NumPy,
  measured in the same process: the step's matrix products alone at its shapes, a plain
  twelve-pass Adam over as many parameters, and the step's other NumPy calls (counted) each at
  the cost of the cheapest call (an add) on arrays of its size. "step / floor" is the figure
  that means the same on another machine.
Model FLOPs count the matmuls of forward and backward (3x forward), with full (T x T) attention.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
VOCAB = 533


# ----------------------------------------------------------------------------- worker side


def matmul_rate(
    threads: int | None = 1,
    n: int = 1024,
    repeats: int = 7,
    clock: Callable[[], float] | None = None,
) -> float:
    """FLOP/s of an n x n float32 matmul on `threads` BLAS threads (None: all), median of
    `repeats`; timed by `clock` (default: wall time; `time.process_time` gives FLOP per CPU
    second, which a busy machine does not change)."""
    import numpy as np
    from threadpoolctl import threadpool_limits

    clock = clock or time.perf_counter
    a = np.random.default_rng(0).standard_normal((n, n), dtype=np.float32)
    b = a.T.copy()
    times = []
    with threadpool_limits(limits=threads, user_api="blas"):
        a @ b
        for _ in range(repeats):
            start = clock()
            a @ b
            times.append(clock() - start)
    return 2.0 * n**3 / statistics.median(times)


def flops(cfg: object, b: int, t: int) -> float:
    """Training FLOPs (3x forward) of a (b, t) batch: matmuls plus the (T x T) attention."""
    n = b * t
    per_block = (
        2 * n * cfg.d_model * (3 * cfg.d_model + 2 * cfg.d_hidden) + 4 * b * t * t * cfg.d_model
    )
    return 3.0 * (cfg.n_layers * per_block + 2 * n * cfg.d_model * cfg.vocab_size)


def texts(seed: int = 0) -> tuple[list[list[int]], list[list[int]]]:
    """The reference-shaped id sequences: 25 of 6-12 tokens, 53 of 16-29, each ending in </s>."""
    import numpy as np

    rng = np.random.default_rng(seed)

    def some(count: int, low: int, high: int) -> list[list[int]]:
        lengths = rng.integers(low, high + 1, size=count)
        return [[int(i) for i in rng.integers(3, VOCAB, size=n - 1)] + [1] for n in lengths]

    return some(25, 6, 12), some(53, 16, 29)


def train_rate(backend: str, batch_size: int, epochs: int, bucket: bool) -> dict:
    """Train on `texts()`; seconds, real and padded FLOPs, padding share."""
    import numpy as np

    from course_lib.batching import make_batches
    from course_lib.config import ModelConfig

    cfg = ModelConfig(vocab_size=VOCAB)
    if backend == "numpy":
        from course_lib import numpy as cl

    else:
        import torch

        from course_lib import torch as cl

        torch.set_num_threads(1)
    model = cl.LLM(cfg, seed=0)
    optimizer = cl.Adam(model, lr=5e-4)
    rng = np.random.default_rng(0)
    phases = list(zip(texts(), (5e-4, 1e-4), strict=True))
    batches = []
    for sequences, lr in phases:
        for _ in range(epochs):
            if bucket:
                from course_lib.batching import bucketed_batches

                batches += [(lr, b) for b in bucketed_batches(sequences, batch_size, rng=rng)]
            else:
                batches += [(lr, b) for b in make_batches(sequences, batch_size, rng=rng)]
    # useful FLOPs: each row as if alone, its real tokens only; padded: the whole (B, T) batch
    real = sum(sum(flops(cfg, 1, int(row.sum())) for row in m) for _, (_, _, m) in batches)
    padded = sum(flops(cfg, *x.shape) for _, (x, _, _) in batches)
    positions = sum(m.size for _, (_, _, m) in batches)
    tokens = sum(int(m.sum()) for _, (_, _, m) in batches)
    start, cpu = time.perf_counter(), time.process_time()
    for lr, (x, y, m) in batches:
        if backend == "numpy":
            optimizer.lr = lr
        else:
            optimizer.param_groups[0]["lr"] = lr
        cl.train_step(model, optimizer, x, y, m)
    seconds, cpu = time.perf_counter() - start, time.process_time() - cpu
    return {"seconds": seconds, "cpu": cpu, "real_flops": real, "padded_flops": padded,
            "steps": len(batches), "padding": 1 - tokens / positions}  # fmt: skip


def step_matmuls(cfg: object, b: int, t: int, rng: object) -> Callable[[], None]:
    """Every matrix product of one training step on a (b, t) batch, on random arrays of the
    model's own shapes: forward, and the two products (input and weight gradient) of each."""
    import numpy as np

    d, h, v, heads = cfg.d_model, cfg.d_hidden, cfg.vocab_size, cfg.n_heads
    n, hd = b * t, cfg.d_model // cfg.n_heads

    def r(*shape: int) -> np.ndarray:
        return rng.standard_normal(shape, dtype=np.float32)

    x, qkv, hid, vocab = r(n, d), r(n, 3 * d), r(n, h), r(n, v)
    w_qkv, w1, w2, w_out = r(3 * d, d), r(h, d), r(d, h), r(v, d)
    q, k, scores = r(b, heads, t, hd), r(b, heads, t, hd), r(b, heads, t, t)
    products = [(x, w_qkv.T), (qkv, w_qkv), (qkv.T, x),  # query, key, value
                (q, k.transpose(0, 1, 3, 2)), (scores, k), (scores, k),  # scores, w @ v; back
                (scores.transpose(0, 1, 3, 2), q), (q, k.transpose(0, 1, 3, 2)),
                (x, w1.T), (hid, w1), (hid.T, x), (hid, w2.T), (x, w2), (x.T, hid)]  # fmt: skip
    head = [(x, w_out.T), (vocab, w_out), (vocab.T, x)]

    def run() -> None:
        for _ in range(cfg.n_layers):
            for a, w in products:
                a @ w
        for a, w in head:
            a @ w

    return run


def adam_floor(size: int) -> Callable[[], None]:
    """A plain Adam step over one flat float32 array of `size` parameters: the twelve NumPy
    passes the update needs at least (no clipping, nothing else), on arrays of its own."""
    import numpy as np

    rng = np.random.default_rng(1)
    p, g = rng.standard_normal(size, dtype=np.float32), rng.standard_normal(size, dtype=np.float32)
    m, v, tmp = np.zeros_like(p), np.zeros_like(p), np.empty_like(p)
    c1, b2, c2, eps, lr = (np.float32(c) for c in (0.1, 0.999, 0.001, 1e-8, 1e-3))

    def run() -> None:
        np.subtract(g, m, out=tmp)  # m += (1 - beta1) * (g - m): 3 passes
        np.multiply(tmp, c1, out=tmp)
        np.add(m, tmp, out=m)
        np.multiply(v, b2, out=v)  # v = beta2 * v + (1 - beta2) * g * g: 4 passes
        np.multiply(g, g, out=tmp)
        np.multiply(tmp, c2, out=tmp)
        np.add(v, tmp, out=v)
        np.sqrt(v, out=tmp)  # p -= lr * m / (sqrt(v) + eps): 5 passes
        np.add(tmp, eps, out=tmp)
        np.divide(m, tmp, out=tmp)
        np.multiply(tmp, lr, out=tmp)
        np.subtract(p, tmp, out=p)

    return run


def count_calls(model: object, x: object, y: object, m: object) -> list[int]:
    """The NumPy calls besides matrix products that one training step's forward, loss and
    backward make (elementwise operations, reductions, einsum, copyto, add.at, fancy indexing):
    for each, how many numbers its largest array holds. Found by running the step on a copy of
    `model` whose arrays are an ndarray subclass that notes every call it takes part in (calls
    on the integer ids and targets alone are not seen; views, reshapes and allocations are not
    calls here)."""
    import copy
    import types

    import numpy as np

    import course_lib.numpy.loss as loss_module
    from course_lib import numpy as cl

    calls: list[int] = []

    def note(*arrays: object) -> None:
        calls.append(max((a.size for a in arrays if isinstance(a, np.ndarray)), default=1))

    def plain(a: object) -> object:
        if isinstance(a, Counted):
            return a.view(np.ndarray)
        if isinstance(a, (list, tuple)):
            return type(a)(plain(item) for item in a)
        return a

    def counted(r: object) -> object:
        if isinstance(r, np.ndarray) and not isinstance(r, Counted):
            return r.view(Counted)
        if isinstance(r, tuple):
            return tuple(counted(item) for item in r)
        return r

    class Counted(np.ndarray):
        def __array_ufunc__(self, ufunc, method, *inputs, out=None, **kwargs):  # noqa: ANN001, ANN204
            if ufunc is not np.matmul:
                note(*inputs, *(out or ()))
            if out is not None:
                kwargs["out"] = plain(out)
            result = getattr(ufunc, method)(*plain(inputs), **kwargs)
            if out is not None:
                return out[0] if len(out) == 1 else out
            return counted(result)

        def __array_function__(self, func, types, args, kwargs):  # noqa: ANN001, ANN204
            note(*args, *kwargs.values())
            return counted(func(*plain(args), **{k: plain(a) for k, a in kwargs.items()}))

        def __getitem__(self, index):  # noqa: ANN001, ANN204
            parts = index if isinstance(index, tuple) else (index,)
            result = super().__getitem__(index)
            if any(isinstance(part, (np.ndarray, list)) for part in parts):
                note(result)
            return result

    model = copy.deepcopy(model)
    modules = [model]
    while modules:
        module = modules.pop()
        modules.extend(module._children.values())
        for arrays in (module._params, module._grads):
            for name, array in arrays.items():
                arrays[name] = array.view(Counted)
                if getattr(module, name, None) is array:
                    setattr(module, name, arrays[name])
        if module.flat_parameters is not None:
            module.flat_parameters = module.flat_parameters.view(Counted)
            module.flat_gradients = module.flat_gradients.view(Counted)
    numpy_for_loss = types.SimpleNamespace(**{**vars(np), "asarray": np.asanyarray})
    loss_module.np, original = numpy_for_loss, loss_module.np  # the loss keeps the subclass
    try:
        _, grad = cl.cross_entropy(model(x, m), y)
        backward_as_train_step(model, grad)
    finally:
        loss_module.np = original
    return calls


def backward_as_train_step(model: object, grad: object) -> None:
    """The backward pass as the tree's `train_step` runs it: gradients written, not added
    (`accumulate=False`), or in a tree without that option `zero_grad()` then `backward`."""
    import inspect

    if "accumulate" in inspect.signature(model.backward).parameters:
        model.backward(grad, accumulate=False)
    else:
        model.zero_grad()
        model.backward(grad)


def call_costs(sizes: set[int], repeats: int = 5, calls: int = 20) -> dict[int, float]:
    """CPU seconds of the cheapest NumPy call on arrays of each size: an add of two float32
    arrays of that many numbers into the first (median of `repeats` runs of `calls` calls)."""
    import numpy as np

    costs = {}
    for size in sizes:
        a, c = np.ones(size, np.float32), np.ones(size, np.float32)
        times = []
        for _ in range(repeats):
            start = time.thread_time()
            for _ in range(calls):
                np.add(a, c, out=a)
            times.append((time.thread_time() - start) / calls)
        costs[size] = statistics.median(times)
    return costs


def step_breakdown(batch_size: int, repeats: int = 5) -> dict:
    """CPU milliseconds per training step in forward, loss, backward, and Adam with clipping; and
    the floor of that step in plain NumPy: its matrix products alone at the same shapes
    (`step_matmuls`), a plain twelve-pass Adam over as many parameters (`adam_floor`), and each
    of its other NumPy calls (`count_calls`) at the cost of the cheapest call on arrays of its
    size (`call_costs`), all measured in this process, interleaved with the steps."""
    import numpy as np

    from course_lib import numpy as cl
    from course_lib.batching import bucketed_batches
    from course_lib.config import ModelConfig

    cfg = ModelConfig(vocab_size=VOCAB)
    model = cl.LLM(cfg, seed=0)
    optimizer = cl.Adam(model, lr=5e-4)
    rng = np.random.default_rng(0)
    batches = [b for seqs in texts() for b in bucketed_batches(seqs, batch_size, rng=rng)]
    matmuls = [step_matmuls(cfg, *x.shape, rng) for x, _, _ in batches]
    sizes = [count_calls(model, x, y, m) for x, y, m in batches]
    adam = adam_floor(model.num_parameters())
    keys = ("forward", "loss", "backward", "adam", "matmuls", "adam floor", "calls")
    parts: dict[str, list[float]] = {key: [] for key in keys}
    clock = (
        time.thread_time
    )  # CPU time of this thread: what the step costs, however busy the machine
    for _ in range(repeats):
        spent = dict.fromkeys(parts, 0.0)
        costs = call_costs({size for step in sizes for size in step})
        for (x, y, m), products, step_sizes in zip(batches, matmuls, sizes, strict=True):
            t0 = clock()
            logits = model(x, m)
            t1 = clock()
            _, grad = cl.cross_entropy(logits, y)
            t2 = clock()
            backward_as_train_step(model, grad)
            t3 = clock()
            optimizer._clip_then_step(5.0, zero_grad=False)  # what train_step calls
            t4 = clock()
            products()
            t5 = clock()
            adam()
            t6 = clock()
            calls = sum(costs[size] for size in step_sizes)
            times = (t1 - t0, t2 - t1, t3 - t2, t4 - t3, t5 - t4, t6 - t5, calls)
            for key, dt in zip(parts, times, strict=True):
                spent[key] += dt
        for key in parts:
            parts[key].append(spent[key] / len(batches) * 1e3)
    out = {key: statistics.median(values) for key, values in parts.items()}
    out["small calls"] = statistics.mean(len(step) for step in sizes)
    return out


def generation_cost(prompt_tokens: int, cached: bool, repeats: int = 15) -> float:
    """CPU seconds per new token after a prompt of `prompt_tokens` (9 new tokens, no `</s>`)."""
    import numpy as np

    from course_lib import numpy as cl
    from course_lib.config import ModelConfig
    from course_lib.vocab import EOS_ID, Vocab

    words = [f"w{i}" for i in range(VOCAB - 3)]
    vocab = Vocab.build([" ".join(words)])
    model = cl.LLM(ModelConfig(vocab_size=len(vocab)), seed=0)
    model.output.bias[EOS_ID] = -1e4  # never stop early: every run writes all its tokens
    prompt = " ".join(words[:prompt_tokens])
    new = 9
    times = []
    for _ in range(repeats):
        start = time.process_time()
        if cached:
            text = cl.generate(model, vocab, prompt, max_new_tokens=new)
        else:  # the loop without a cache: the whole text again for every token
            ids = vocab.encode(prompt)
            for _ in range(new):
                ids.append(int(np.argmax(model(np.asarray([ids]))[0, -1])))
            text = vocab.decode(ids[prompt_tokens:])
        times.append(time.process_time() - start)
        assert len(text.split()) == new
    return statistics.median(times) / new


def ch05_answers(checkpoint: str, batched: bool) -> dict:
    """CPU seconds to re-ask all the corpus's training questions, and how many answers match."""
    from course_lib import numpy as cl
    from course_lib.corpus import chat_texts

    model, vocab = cl.load_checkpoint(checkpoint)
    chat = chat_texts()
    questions = [text.split("Assistant:", 1)[0] + "Assistant:" for text in chat]
    start = time.process_time()
    if batched:
        answers = cl.generate_batch(model, vocab, questions)
    else:
        answers = [cl.generate(model, vocab, q) for q in questions]
    seconds = time.process_time() - start
    return {"seconds": seconds, "questions": len(questions), "answers": answers}


def worker(task: str, options: dict) -> dict:
    """Run one task between two matmul timings; the figures as a dict."""
    import numpy  # noqa: F401  (loaded first: threadpoolctl limits only the BLAS already loaded)
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=None if task == "ch05" else 1, user_api="blas"):
        before = matmul_rate(clock=time.process_time)
        if task == "train":
            result = train_rate(**options)
        elif task == "breakdown":
            result = step_breakdown(**options)
        elif task == "generate":
            result = {"per_token": generation_cost(**options)}
        else:
            result = ch05_answers(**options)
        after = matmul_rate(clock=time.process_time)
    result["matmul"] = statistics.median([before, after])
    return result


# ----------------------------------------------------------------------------- driver side


def run(tree: Path, task: str, **options: object) -> dict:
    """`worker(task, options)` in a fresh interpreter with `tree` first on the path."""
    env = {**os.environ, "PYTHONPATH": str(tree)}
    command = [sys.executable, __file__, "--worker", json.dumps([task, options])]
    done = subprocess.run(
        command, cwd=tempfile.gettempdir(), env=env, capture_output=True, text=True
    )
    if done.returncode != 0:
        raise SystemExit(f"{task} worker ({tree}) failed:\n{done.stderr}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def train_checkpoint(tree: Path, path: Path) -> None:
    """A model trained as chapter 05 trains it (batch 8, 50 + 40 epochs), saved to `path`."""
    code = (
        "from course_lib import ModelConfig, numpy as cl\n"
        "from course_lib.corpus import chat_texts, pretraining_texts\n"
        "from course_lib.vocab import Vocab\n"
        "pre, chat = pretraining_texts(), chat_texts()\n"
        "vocab = Vocab.build(pre + chat)\n"
        "model = cl.LLM(ModelConfig(vocab_size=len(vocab)), seed=0)\n"
        "opt = cl.Adam(model, lr=3e-3)\n"
        "cl.train(model, vocab, pre, epochs=50, lr=3e-3, batch_size=8, optimizer=opt,"
        " progress=False)\n"
        "cl.train(model, vocab, chat, epochs=40, lr=2.5e-3, batch_size=8, seed=1, optimizer=opt,"
        " progress=False)\n"
        f"cl.save_checkpoint({str(path)!r}, model, vocab)\n"
    )
    subprocess.run([sys.executable, "-c", code], env={**os.environ, "PYTHONPATH": str(tree)},
                   check=True, cwd=tempfile.gettempdir())  # fmt: skip


def median_of(rows: list[dict], key: str) -> float:
    return statistics.median(row[key] for row in rows)


def train_options(backend: str, batch: int, epochs: int, bucket: bool) -> dict:
    return {"backend": backend, "batch_size": batch, "epochs": epochs, "bucket": bucket}


def training(trees: dict, interleave: Callable, epochs: int) -> None:
    """NumPy at batch 1 and 16: FLOP/s on real tokens against the 1-thread matmul rate."""
    runs = {  # name: (batch, length buckets); `train_step` (which clips inside Adam's pass now)
        "batch 1": (1, False),
        "batch 16, random batches": (16, False),
        "batch 16, length buckets": (16, True),
    }
    jobs = {}
    for label, tree in trees.items():
        for name, (batch, bucket) in runs.items():
            if label == "after" or not bucket:  # the older tree has no buckets
                options = train_options("numpy", batch, epochs, bucket)
                jobs[f"{label}, {name}"] = (tree, "train", options)
    rows = interleave(jobs)
    print("\nNumPy training, reference shape; useful = real tokens only, padded = all positions; "
          "rates per CPU second, the matmul's too")  # fmt: skip
    print(f"{'run':<44}{'wall s':>7}{'CPU s':>7}{'CPU ms':>8}{'useful':>8}{'padded':>8}"
          f"{'matmul':>8}{'useful /':>9}{'padding':>8}")  # fmt: skip
    print(f"{'':<44}{'':>7}{'':>7}{'/step':>8}{'GFLOP/s':>8}{'GFLOP/s':>8}{'GFLOP/s':>8}"
          f"{'matmul':>9}{'':>8}")  # fmt: skip
    for name, results in rows.items():
        cpu = median_of(results, "cpu")
        useful = statistics.median(r["real_flops"] / r["cpu"] for r in results)
        padded = statistics.median(r["padded_flops"] / r["cpu"] for r in results)
        fraction = statistics.median(r["real_flops"] / r["cpu"] / r["matmul"] for r in results)
        print(f"{name:<44}{median_of(results, 'seconds'):>7.2f}{cpu:>7.2f}"
              f"{cpu / results[0]['steps'] * 1e3:>8.2f}{useful / 1e9:>8.1f}"
              f"{padded / 1e9:>8.1f}{median_of(results, 'matmul') / 1e9:>8.1f}"
              f"{fraction:>9.1%}{results[0]['padding']:>8.1%}")  # fmt: skip


def torch_against_numpy(trees: dict, interleave: Callable, epochs: int) -> None:
    """torch on the CPU (one thread) and NumPy at batch 1, the same steps."""
    jobs = {}
    for label, tree in trees.items():
        numpy_options = train_options("numpy", 1, epochs, False)
        jobs[f"{label}, numpy"] = (tree, "train", numpy_options)
        jobs[f"{label}, torch"] = (tree, "train", train_options("torch", 1, epochs, False))
    rows = interleave(jobs)
    print("\ntorch on the CPU against NumPy, batch 1, one thread each (CPU time):")
    for label in trees:
        numpy_runs, torch_runs = rows[f"{label}, numpy"], rows[f"{label}, torch"]
        pairs = zip(numpy_runs, torch_runs, strict=True)
        ratio = statistics.median(t["cpu"] / n["cpu"] for n, t in pairs)
        numpy_s, torch_s = median_of(numpy_runs, "cpu"), median_of(torch_runs, "cpu")
        print(f"{label:<8}numpy {numpy_s:.2f} s, torch {torch_s:.2f} s: torch takes "
              f"{ratio:.2f}x NumPy's CPU time")  # fmt: skip


def breakdown(trees: dict, interleave: Callable) -> None:
    """Where a NumPy training step's time goes, at batch 1 and 16, and its floor."""
    jobs = {
        f"{label}, batch {b}": (tree, "breakdown", {"batch_size": b})
        for b in (1, 16)
        for label, tree in trees.items()
    }
    rows = interleave(jobs)
    print("\nWhere a NumPy training step goes (CPU ms per step; batches in length buckets). "
          "The floor of the same step in plain NumPy, measured in the same process: its matrix "
          "products alone, a plain 12-pass Adam, and its other NumPy calls (counted) each at the "
          "cost of the cheapest call on arrays of its size:")  # fmt: skip
    keys = ("forward", "loss", "backward", "adam", "matmuls", "adam floor", "calls")
    print(f"{'':<18}" + "".join(f"{k:>9}" for k in keys[:4]) + f"{'step':>8}"
          + "".join(f"{k:>11}" for k in keys[4:]) + f"{'floor':>8}{'step / floor':>14}"
          f"{'NumPy calls':>13}")  # fmt: skip
    for name, results in rows.items():
        ms = {k: median_of(results, k) for k in keys}
        step = sum(ms[k] for k in keys[:4])
        floor = sum(ms[k] for k in keys[4:])
        ratio = statistics.median(
            sum(r[k] for k in keys[:4]) / sum(r[k] for k in keys[4:]) for r in results
        )
        print(f"{name:<18}" + "".join(f"{ms[k]:>9.2f}" for k in keys[:4]) + f"{step:>8.2f}"
              + "".join(f"{ms[k]:>11.2f}" for k in keys[4:]) + f"{floor:>8.2f}{ratio:>13.2f}x"
              f"{median_of(results, 'small calls'):>13.0f}")  # fmt: skip


def generation(trees: dict, interleave: Callable) -> None:
    """Time per new token after a 1-token and a 70-token prompt."""
    jobs = {}
    for label, tree in trees.items():
        for prompt in (1, 70):
            options = {"prompt_tokens": prompt, "cached": label == "after"}
            jobs[f"{label}, {prompt}"] = (tree, "generate", options)
    rows = interleave(jobs)
    print("\nGeneration, NumPy, 1 thread: CPU time per new token (9 new tokens)")
    for label in trees:
        short = median_of(rows[f"{label}, 1"], "per_token")
        long = median_of(rows[f"{label}, 70"], "per_token")
        how = "key/value cache" if label == "after" else "the whole text again per token"
        print(f"{label:<8}({how}): 1-token prompt {short * 1e3:.2f} ms, 70-token prompt "
              f"{long * 1e3:.2f} ms: {long / short:.2f}x")  # fmt: skip


def chapter_05(trees: dict, interleave: Callable) -> None:
    """Chapter 05's evaluation cell: every training question asked again, greedy."""
    with tempfile.TemporaryDirectory() as folder:
        checkpoint = str(Path(folder) / "ch05.npz")
        train_checkpoint(ROOT, Path(checkpoint))
        jobs = {}
        for label, tree in trees.items():
            options = {"checkpoint": checkpoint, "batched": False}
            jobs[f"{label}, one generate per question"] = (tree, "ch05", options)
        options = {"checkpoint": checkpoint, "batched": True}
        jobs["after, generate_batch"] = (ROOT, "ch05", options)
        rows = interleave(jobs)
    print("\nChapter 05's evaluation cell, CPU time (BLAS threads as the notebook leaves them):")
    first = None
    for name, results in rows.items():
        seconds = median_of(results, "seconds")
        first = first or seconds
        print(f"{name:<36}{seconds:>8.2f} s for {results[0]['questions']} questions, "
              f"{first / seconds:.1f}x faster than the first row")  # fmt: skip
    answers = [r["answers"] for results in rows.values() for r in results]
    print("every run wrote the same answers:", all(a == answers[0] for a in answers))


def main(argv: list[str] | None = None) -> int:
    """Run every measurement, interleaved, and print the medians and ratios."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--before", type=Path, help="a folder holding an older course_lib/")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--epochs", type=int, default=10, help="epochs per phase (reference: 100)")
    parser.add_argument(
        "--only", nargs="+", default=["train", "breakdown", "torch", "generate", "ch05"]
    )
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        task, options = json.loads(args.worker)
        print(json.dumps(worker(task, options)))
        return 0

    trees = {"after": ROOT} if args.before is None else {"before": args.before, "after": ROOT}
    print(f"load average at start: {os.getloadavg()}  ({os.cpu_count()} cores, shared)")
    import numpy
    from threadpoolctl import threadpool_info

    blas = [
        f"{i['internal_api']} {i['version']} {i.get('architecture')}" for i in threadpool_info()
    ]
    print(f"NumPy {numpy.__version__}, BLAS: {', '.join(blas) or 'none found'}; "
          f"OPENBLAS_CORETYPE={os.environ.get('OPENBLAS_CORETYPE', '(not set)')}")  # fmt: skip
    print(f"trees: {', '.join(f'{k} = {v}' for k, v in trees.items())}; {args.repeats} repeats, "
          f"medians; epochs per phase: {args.epochs}")  # fmt: skip

    def interleave(jobs: dict[str, tuple]) -> dict[str, list[dict]]:
        """Each job ({name: (tree, task, options)}) once per repeat, the jobs alternating."""
        out: dict[str, list[dict]] = {name: [] for name in jobs}
        for _ in range(args.repeats):
            for name, (tree, task, options) in jobs.items():
                out[name].append(run(tree, task, **options))
        return out

    if "train" in args.only:
        training(trees, interleave, args.epochs)
    if "torch" in args.only:
        torch_against_numpy(trees, interleave, args.epochs)
    if "breakdown" in args.only:
        breakdown(trees, interleave)
    if "generate" in args.only:
        generation(trees, interleave)
    if "ch05" in args.only:
        chapter_05(trees, interleave)
    print(f"\nload average at end: {os.getloadavg()}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
