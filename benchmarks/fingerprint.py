"""A fingerprint of the NumPy backend's numbers: train, step and generate on every path the
chapters use, and hash the weights, losses and outputs each path ends with.

    python benchmarks/fingerprint.py              # one line per path: name and hash
    python benchmarks/fingerprint.py --save F     # and write them to F (JSON)
    python benchmarks/fingerprint.py --compare F  # exit 1 if any path's hash differs from F's

A change meant to make the code faster without changing what it computes must leave every hash
as it was (run before and after on the same machine: another BLAS kernel changes the last bits).
BLAS runs on one thread. The paths:
- `cl.train` on the bundled corpus at the reference size (vocab from the corpus, d_model 128,
  3 blocks), batch 1 and batch 16 (random batches and length buckets), clipping at a norm the
  gradients exceed (so the clipping factor is applied); and without clipping;
- the loop chapters 04 and 05 write out: cross_entropy, zero_grad, backward, clip_grad_norm,
  step; with Adam on a model, on a (param, grad) list and on a layer that is not flattened;
  weight decay;
- float64 models, and the config options (pre-norm, sinusoidal, tied, several heads, output
  projection in attention) with padding;
- `generate` (greedy, sampled), `generate_batch`, `hidden_states`, and the cached forward pass.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys

import numpy as np  # loaded before threadpoolctl: it limits only a BLAS already loaded
from threadpoolctl import threadpool_limits

from course_lib import ModelConfig
from course_lib import numpy as cl
from course_lib.batching import make_batches
from course_lib.corpus import chat_texts, pretraining_texts
from course_lib.vocab import Vocab


def digest(*items: object) -> str:
    """sha256 (first 16 hex digits) of arrays (bytes, dtype, shape), floats (repr) and strings."""
    h = hashlib.sha256()
    for item in items:
        if isinstance(item, dict):
            for key in sorted(item):
                h.update(key.encode())
                h.update(digest(item[key]).encode())
        elif isinstance(item, np.ndarray):
            h.update(f"{item.dtype}{item.shape}".encode())
            h.update(np.ascontiguousarray(item).tobytes())
        elif isinstance(item, (list, tuple)):
            for sub in item:
                h.update(digest(sub).encode())
        else:
            h.update(repr(item).encode())
    return h.hexdigest()[:16]


def model_state(model: cl.LLM) -> dict:
    return model.state_dict()


def optimizer_state(opt: cl.Adam) -> dict:
    state = opt.state_dict()
    return {"t": state["t"], **{f"m.{k}": a for k, a in state["m"].items()},
            **{f"v.{k}": a for k, a in state["v"].items()}}  # fmt: skip


def corpus() -> tuple[Vocab, list[str], list[str]]:
    pre, chat = pretraining_texts(), chat_texts()
    return Vocab.build(pre + chat), pre, chat


def trained(batch_size: int, buckets: bool, clip: float | None, epochs: int = 2) -> str:
    """`cl.train` at the reference size: facts then chat, `epochs` each."""
    vocab, pre, chat = corpus()
    model = cl.LLM(ModelConfig(vocab_size=len(vocab)), seed=0)
    opt = cl.Adam(model, lr=5e-3)
    if clip is not None:  # the first batch's gradient is above `clip`: the factor is applied
        x, y, m = next(iter(make_batches([vocab.encode(t) for t in pre], batch_size)))
        probe = cl.LLM(model.config, seed=0)
        probe.backward(cl.cross_entropy(probe(x, m), y)[1])
        norm = cl.clip_grad_norm(probe, clip)
        assert norm > clip, f"clip {clip} is never applied (first norm {norm})"
    common = dict(batch_size=batch_size, buckets=buckets, clip=clip, optimizer=opt,
                  progress=False)  # fmt: skip
    first = cl.train(model, vocab, pre, epochs=epochs, lr=5e-3, seed=0, **common)
    second = cl.train(model, vocab, chat, epochs=epochs, lr=2e-3, seed=1, **common)
    return digest(model_state(model), optimizer_state(opt), first, second)


def written_loop(kind: str, dtype: type = np.float32, steps: int = 6) -> str:
    """The loop chapters 04 and 05 write: loss, zero_grad, backward, clip_grad_norm, step."""
    vocab, pre, chat = corpus()
    cfg = ModelConfig(vocab_size=len(vocab), d_model=32, d_hidden=64, n_layers=2, n_heads=2)
    model = cl.LLM(cfg, seed=3, dtype=dtype)
    if kind == "pairs":
        grads = model.gradients()
        opt = cl.Adam([(p, grads[n]) for n, p in model.parameters().items()], lr=3e-3)
    elif kind == "decay":
        opt = cl.Adam(model, lr=3e-3, weight_decay=0.01)
    else:
        opt = cl.Adam(model, lr=3e-3)
    sequences = [vocab.encode(t) for t in chat[:24]]
    batches = list(make_batches(sequences, 8, rng=np.random.default_rng(0)))
    losses, norms = [], []
    for step in range(steps):
        x, y, m = batches[step % len(batches)]
        loss, grad = cl.cross_entropy(model(x, m), y)
        model.zero_grad()
        model.backward(grad)
        norms.append(cl.clip_grad_norm(model, 0.5))
        opt.step()
        losses.append(loss)
    return digest(model_state(model), losses, norms)


def layer_steps() -> str:
    """Adam on layers that are not flattened as a whole (a block, a feed-forward layer)."""
    cfg = ModelConfig(vocab_size=50, d_model=16, d_hidden=32, n_heads=2)
    rng = np.random.default_rng(5)
    out = []
    for layer in (cl.TransformerBlock(cfg, seed=1), cl.FeedForward(cfg, seed=2)):
        opt = cl.Adam(layer, lr=1e-2)
        for _ in range(3):
            x = rng.standard_normal((2, 7, 16)).astype(np.float32)
            y = layer.forward(x)
            layer.zero_grad()
            dx = layer.backward(np.ones_like(y) * 0.1 + y)
            opt.step()
            out += [y, dx]
        out.append(layer.state_dict())
    return digest(out)


def options(dtype: type) -> str:
    """Every config option, padded batches, a few clipped train_steps, then the outputs."""
    vocab, pre, chat = corpus()
    out = []
    for extra in (
        {"norm": "pre"},
        {"positional": "sinusoidal"},
        {"tie_weights": True},
        {"n_heads": 4, "attn_out_proj": True},
    ):
        cfg = ModelConfig(vocab_size=len(vocab), d_model=32, d_hidden=64, n_layers=2, **extra)
        model = cl.LLM(cfg, seed=1, dtype=dtype)
        opt = cl.Adam(model, lr=1e-2)
        sequences = [vocab.encode(t) for t in (pre[:6] + chat[:6])]
        for x, y, m in make_batches(sequences, 4, rng=np.random.default_rng(1)):
            out.append(cl.train_step(model, opt, x, y, m, clip=0.5))
        x, _, m = next(iter(make_batches(sequences, 4, rng=np.random.default_rng(2))))
        out += [model(x, m), model.hidden_states(x, m)]
        out.append(model_state(model))
    return digest(out)


def generation() -> str:
    """generate (greedy and sampled), generate_batch and the cached forward pass of a model
    trained a little."""
    vocab, pre, chat = corpus()
    model = cl.LLM(ModelConfig(vocab_size=len(vocab), n_heads=2), seed=0)
    cl.train(model, vocab, chat[:16], epochs=3, lr=3e-3, batch_size=4, progress=False)
    questions = [t.split("Assistant:", 1)[0] + "Assistant:" for t in chat[:6]]
    out = [cl.generate(model, vocab, q) for q in questions]
    out += [cl.generate(model, vocab, q, temperature=0.8, top_k=5, seed=3) for q in questions]
    out.append(cl.generate_batch(model, vocab, questions))
    ids = np.asarray([vocab.encode(questions[0])])
    cache = cl.KVCache(model.config, 1)
    out += [model(ids[:, :5], cache=cache), model(ids[:, 5:], cache=cache), model(ids)]
    return digest(out)


PATHS = {
    "train batch 1, clip 0.5": lambda: trained(1, False, 0.5),
    "train batch 1, no clip": lambda: trained(1, False, None),
    "train batch 16, clip 1.0": lambda: trained(16, False, 1.0, epochs=4),
    "train batch 16 buckets, clip 1.0": lambda: trained(16, True, 1.0, epochs=4),
    "written loop, Adam on model": lambda: written_loop("model"),
    "written loop, Adam on pairs": lambda: written_loop("pairs"),
    "written loop, weight decay": lambda: written_loop("decay"),
    "written loop, float64": lambda: written_loop("model", np.float64),
    "layers' own Adam": layer_steps,
    "config options, float32": lambda: options(np.float32),
    "config options, float64": lambda: options(np.float64),
    "generation": generation,
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--save", help="write the hashes to this JSON file")
    parser.add_argument("--compare", help="compare with the hashes in this JSON file")
    parser.add_argument("--only", nargs="+", help="names (prefixes) of the paths to run")
    args = parser.parse_args(argv)
    with threadpool_limits(limits=1, user_api="blas"):
        hashes = {}
        for name, run in PATHS.items():
            if args.only and not any(name.startswith(p) for p in args.only):
                continue
            hashes[name] = run()
            print(f"{name:<36}{hashes[name]}", flush=True)
    if args.save:
        with open(args.save, "w") as f:
            json.dump(hashes, f, indent=1)
    if args.compare:
        with open(args.compare) as f:
            old = json.load(f)
        changed = [name for name in hashes if old.get(name) != hashes[name]]
        print("changed:", changed or "none")
        return 1 if changed else 0
    return 0


if __name__ == "__main__":
    sys.exit(main())
