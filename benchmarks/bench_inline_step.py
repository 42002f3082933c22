"""How far the layers' code is from NumPy's own cost: the batch-1 step written inline.

    python benchmarks/bench_inline_step.py --rounds 6

`bench_speed.py` puts a batch-1 training step at some multiple of its floor (its matrix
products, a plain twelve-pass Adam, and each other NumPy call priced as an add of its size). This
script splits that distance in two. It runs the same step a second way: forward, loss and
backward of the reference-shaped model (post-norm, learned positions, one head, no padding)
written as one function with no modules, no checks and no reshapes it can avoid - the same NumPy
calls in the same order, gradients written straight into the flat buffer - followed by the same
Adam. Before timing, its loss and every gradient are compared bit for bit with the layers' (it
stops if they differ: then this file no longer does what the layers do). Then the layers'
`train_step`, the inline step and the floor alternate batch by batch in one process (one BLAS
thread, CPU time of this thread), and it prints the medians and each step's ratio to the floor.

What the inline step is above the floor is NumPy's own cost per call (a reduction, an einsum or
an allocating operation costs more than the in-place add the floor prices it as) and the
gradient clipping and norm Adam does on top of the plain update; what the layers are above the
inline step is the course's code: modules, checks, reshapes.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np  # loaded before threadpoolctl: it limits only a BLAS already loaded
from threadpoolctl import threadpool_limits

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent))

import bench_speed  # noqa: E402

from course_lib import numpy as cl  # noqa: E402
from course_lib.batching import bucketed_batches  # noqa: E402
from course_lib.config import ModelConfig  # noqa: E402


def layer_norm(x: np.ndarray, weight: np.ndarray, bias: np.ndarray, eps: np.ndarray) -> tuple:
    """LayerNorm's forward as `LayerNorm.forward` computes it, on (N, D): (out, x_hat, inv_std)."""
    inv_d = np.asarray(1.0 / x.shape[-1], dtype=x.dtype)
    mean = np.add.reduce(x, axis=-1, keepdims=True)
    mean *= inv_d
    x_hat = np.subtract(x, mean)
    var = np.einsum("nd,nd->n", x_hat, x_hat)[:, None]
    var *= inv_d
    var += eps
    inv_std = np.sqrt(var, out=var)
    np.divide(1.0, inv_std, out=inv_std)
    x_hat *= inv_std
    out = np.multiply(x_hat, weight)
    out += bias
    return out, x_hat, inv_std


def layer_norm_back(grad: np.ndarray, x_hat: np.ndarray, inv_std: np.ndarray, weight: np.ndarray,
                    d_weight: np.ndarray, d_bias: np.ndarray) -> np.ndarray:  # fmt: skip
    """`LayerNorm.backward` with the gradients written, on (N, D)."""
    inv_d = np.asarray(1.0 / grad.shape[-1], dtype=grad.dtype)
    np.einsum("nd,nd->d", grad, x_hat, out=d_weight)
    np.add.reduce(grad, axis=0, out=d_bias)
    dx = np.multiply(grad, weight)
    mean_dx_xhat = np.einsum("nd,nd->n", dx, x_hat)[:, None]
    mean_dx_xhat *= inv_d
    mean_dx = np.add.reduce(dx, axis=-1, keepdims=True)
    mean_dx *= inv_d
    dx -= mean_dx
    dx -= x_hat * mean_dx_xhat
    dx *= inv_std
    return dx


def inline_step(model: cl.LLM, ids: np.ndarray, targets: np.ndarray) -> float:
    """Forward, loss and backward of a batch of one unpadded sequence, every gradient written
    into the model's flat buffer; returns the loss. Reference configuration only."""
    t = ids.shape[1]
    d = model.config.d_model
    params, grads = model.parameters(), model.gradients()
    eps = np.asarray(model.config.layer_norm_eps, dtype=model.dtype)
    x = params["embeddings.token.weight"][ids[0]] + params["embeddings.position.weight"][:t]
    saved = []
    for i, block in enumerate(model.blocks):
        p = f"blocks.{i}."
        attention = block.attention
        w_qkv = attention.flat_parameters[: 3 * d * d].reshape(3 * d, d)
        qkv = x @ w_qkv.T
        q, k, v = qkv[:, :d], qkv[:, d : 2 * d], qkv[:, 2 * d :]
        scores = q @ k.T
        scores *= np.asarray(attention._scale, dtype=x.dtype)
        np.copyto(scores, -np.inf, where=attention._future[:t, :t])
        weights = np.subtract(scores, np.maximum.reduce(scores, axis=-1, keepdims=True))
        np.exp(weights, out=weights)
        weights /= np.add.reduce(weights, axis=-1, keepdims=True)
        h = weights @ v
        h += x
        h, x_hat1, inv1 = layer_norm(h, params[p + "norm1.weight"], params[p + "norm1.bias"], eps)
        hidden = h @ params[p + "feed_forward.up.weight"].T
        hidden += params[p + "feed_forward.up.bias"]
        active = hidden > 0
        hidden *= active
        out = hidden @ params[p + "feed_forward.down.weight"].T
        out += params[p + "feed_forward.down.bias"]
        out += h
        out, x_hat2, inv2 = layer_norm(
            out, params[p + "norm2.weight"], params[p + "norm2.bias"], eps
        )
        saved.append((x, q, k, v, weights, h, x_hat1, inv1, hidden, active, x_hat2, inv2))
        x = out
    logits = x @ params["output.weight"].T
    logits += params["output.bias"]
    # the loss (cross_entropy without its checks)
    rows, target = np.arange(t), targets[0]
    shifted = logits - np.maximum.reduce(logits, axis=1, keepdims=True)
    picked = shifted[rows, target]
    exp = np.exp(shifted, out=shifted)
    total = np.add.reduce(exp, axis=1, keepdims=True)
    loss = float(-np.add.reduce(picked - np.log(total[:, 0]), dtype=np.float64) / t)
    grad = exp
    grad /= total
    grad[rows, target] -= 1.0
    grad *= np.asarray(1.0 / t, dtype=grad.dtype)
    # backward
    np.matmul(grad.T, x, out=grads["output.weight"])
    np.add.reduce(grad, axis=0, out=grads["output.bias"])
    grad = grad @ params["output.weight"]
    for i in reversed(range(len(model.blocks))):
        x, q, k, v, weights, h, x_hat1, inv1, hidden, active, x_hat2, inv2 = saved[i]
        p = f"blocks.{i}."
        attention = model.blocks[i].attention
        d_out = layer_norm_back(grad, x_hat2, inv2, params[p + "norm2.weight"],
                                grads[p + "norm2.weight"], grads[p + "norm2.bias"])  # fmt: skip
        np.matmul(d_out.T, hidden, out=grads[p + "feed_forward.down.weight"])
        np.add.reduce(d_out, axis=0, out=grads[p + "feed_forward.down.bias"])
        d_hidden = d_out @ params[p + "feed_forward.down.weight"]
        d_hidden *= active
        np.matmul(d_hidden.T, h, out=grads[p + "feed_forward.up.weight"])
        np.add.reduce(d_hidden, axis=0, out=grads[p + "feed_forward.up.bias"])
        d_h = d_hidden @ params[p + "feed_forward.up.weight"]
        d_h += d_out
        d_sum = layer_norm_back(d_h, x_hat1, inv1, params[p + "norm1.weight"],
                                grads[p + "norm1.weight"], grads[p + "norm1.bias"])  # fmt: skip
        d_weights = d_sum @ v.T
        d_qkv = np.empty((t, 3 * d), dtype=grad.dtype)
        np.matmul(weights.T, d_sum, out=d_qkv[:, 2 * d :])
        d_weights -= np.add.reduce(d_weights * weights, axis=-1, keepdims=True)
        d_weights *= weights
        d_weights *= np.asarray(attention._scale, dtype=d_weights.dtype)
        np.matmul(d_weights, k, out=d_qkv[:, :d])
        np.matmul(d_weights.T, q, out=d_qkv[:, d : 2 * d])
        w_qkv = attention.flat_parameters[: 3 * d * d].reshape(3 * d, d)
        np.matmul(d_qkv.T, x, out=attention.flat_gradients[: 3 * d * d].reshape(3 * d, d))
        grad = d_qkv @ w_qkv
        grad += d_sum
    table = grads["embeddings.token.weight"]
    table.fill(0)
    where = ids.reshape(-1, 1).astype(np.intp, copy=False) * d + np.arange(d)
    np.add.at(table.reshape(-1), where.reshape(-1), grad.reshape(-1))
    positions = grads["embeddings.position.weight"]
    np.copyto(positions[:t], grad)  # one row per position: the sum over the batch of one
    positions[t:] = 0
    return loss


def main(argv: list[str] | None = None) -> int:
    """Check the inline step against the layers, then time both against the floor."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=6, help="passes over the batches")
    args = parser.parse_args(argv)
    cfg = ModelConfig(vocab_size=bench_speed.VOCAB)
    rng = np.random.default_rng(0)
    batches = [b for texts in bench_speed.texts() for b in bucketed_batches(texts, 1, rng=rng)]
    with threadpool_limits(limits=1, user_api="blas"):
        layers, inline = cl.LLM(cfg, seed=0), cl.LLM(cfg, seed=0)
        for x, y, m in batches[:8]:  # the same numbers, bit for bit, or no timing
            assert m is None or m.all()
            _, grad = cl.cross_entropy(layers(x, m), y)
            layers.backward(grad, accumulate=False)
            loss = inline_step(inline, x, y)
            if loss != cl.cross_entropy(layers(x, m), y)[0] or not np.array_equal(
                layers.flat_gradients, inline.flat_gradients
            ):
                print("the inline step's numbers differ from the layers': update this file")
                return 1
        optimizers = {"layers": cl.Adam(layers, lr=5e-4), "inline": cl.Adam(inline, lr=5e-4)}
        products = [bench_speed.step_matmuls(cfg, *x.shape, rng) for x, _, _ in batches]
        sizes = [bench_speed.count_calls(layers, x, y, m) for x, y, m in batches]
        adam_floor = bench_speed.adam_floor(layers.num_parameters())
        times: dict[str, list[float]] = {"layers": [], "inline": [], "floor": []}
        clock = time.thread_time
        for _ in range(args.rounds):
            costs = bench_speed.call_costs({size for step in sizes for size in step})
            for (x, y, m), matmuls, step_sizes in zip(batches, products, sizes, strict=True):
                start = clock()
                cl.train_step(layers, optimizers["layers"], x, y, m)
                middle = clock()
                inline_step(inline, x, y)
                optimizers["inline"]._clip_then_step(5.0, zero_grad=False)
                end = clock()
                matmuls()
                adam_floor()
                floor = clock() - end + sum(costs[size] for size in step_sizes)
                times["layers"].append(middle - start)
                times["inline"].append(end - middle)
                times["floor"].append(floor)
    same = all(
        np.array_equal(a, b)
        for a, b in zip(layers.state_dict().values(), inline.state_dict().values(), strict=True)
    )
    ms = {name: statistics.median(values) * 1e3 for name, values in times.items()}
    print(f"batch 1, {len(times['floor'])} steps each, CPU ms per step (medians), one BLAS thread:")
    for name in ("layers", "inline"):
        print(f"  {name:7s} {ms[name]:6.3f} ms = {ms[name] / ms['floor']:.2f}x the floor")
    print(f"  floor   {ms['floor']:6.3f} ms")
    print(f"  the layers over the inline step: {ms['layers'] / ms['inline']:.2f}x")
    print(f"  the same weights at the end, bit for bit: {same}")
    return 0 if same else 1


if __name__ == "__main__":
    raise SystemExit(main())
