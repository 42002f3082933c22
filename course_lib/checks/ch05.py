"""Checks for chapter 05, The complete model: a stable cross-entropy that ignores padding, one
training step, and the next-token distribution used for sampling (temperature and top-k).

Each check runs the learner's function on small cases, looks for the usual wrong answers first
(so the hint can name the mistake), then compares with the right answer.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from course_lib.checks import Exercise, expect
from course_lib.checks import call_learner as _call

__all__ = [
    "cross_entropy",
    "next_token_probs",
    "reference_cross_entropy",
    "reference_next_token_probs",
    "reference_train_step",
    "train_step",
]


# --- Exercise 5.1: cross-entropy ----------------------------------------------------------------


def reference_cross_entropy(logits: np.ndarray, targets: np.ndarray, pad_id: int = 0) -> float:
    """Mean of -log softmax(logits)[target] over the positions whose target is not `pad_id`.
    logits (batch, time, vocab), targets (batch, time)."""
    logits = np.asarray(logits, dtype=np.float64)
    shifted = logits - logits.max(axis=-1, keepdims=True)  # largest logit becomes 0: no overflow
    log_probs = shifted - np.log(np.exp(shifted).sum(axis=-1, keepdims=True))  # log-sum-exp
    picked = np.take_along_axis(log_probs, targets[..., None], axis=-1)[..., 0]  # (batch, time)
    real = targets != pad_id
    return float(-picked[real].sum() / real.sum())


def _test_cross_entropy(fn: Callable[..., Any]) -> int:
    rng = np.random.default_rng(5)
    logits = rng.normal(size=(2, 4, 6))
    targets = np.array([[3, 1, 4, 0], [2, 5, 0, 0]])  # 0 is padding
    want = reference_cross_entropy(logits, targets)
    got = float(_call(fn, logits.copy(), targets.copy(), 0))
    every = reference_cross_entropy(logits, targets, pad_id=-1)
    expect(
        not np.isclose(got, every),
        "the padding positions (target == pad_id) were counted: they are not real tokens. Keep "
        "only the positions where targets != pad_id, and average over those.",
    )
    real = targets != 0
    expect(
        not np.isclose(got, want * real.sum() / real.size),
        f"the sum over the {real.sum()} real tokens was divided by all {real.size} positions; "
        "divide by the number of real (non-padding) tokens.",
    )
    expect(np.isclose(got, want, rtol=1e-6), f"expected a mean loss of {want:.6f}, got {got:.6f}")
    big = logits * 1000.0  # a confident model: logits in the thousands
    want_big = reference_cross_entropy(big, targets)
    got_big = float(_call(fn, big.copy(), targets.copy(), 0))
    expect(
        np.isfinite(got_big),
        f"on large logits (up to {np.abs(big).max():.0f}) your loss is {got_big}: exp overflowed, "
        "or a probability rounded to 0 and you took log(0). Compute log-softmax with log-sum-exp: "
        "subtract the max logit, then log_probs = shifted - log(sum(exp(shifted))); never "
        "log(softmax(x)).",
    )
    expect(
        np.isclose(got_big, want_big, rtol=1e-6),
        f"on large logits the loss should be {want_big:.3f}, got {got_big:.3f}: use log-sum-exp.",
    )
    return 4


cross_entropy = Exercise(
    "ch05_cross_entropy",
    "cross_entropy",
    reference_cross_entropy,
    _test_cross_entropy,
    points=2,
    doc="Check exercise 5.1, `cross_entropy(logits, targets, pad_id)`.",
)


# --- Exercise 5.2: one training step ------------------------------------------------------------


def reference_train_step(
    model: Any,
    optimizer: Any,
    inputs: np.ndarray,
    targets: np.ndarray,
    mask: np.ndarray,
    clip: float = 5.0,
) -> float:
    """Forward, loss, backward, clip, Adam step on one batch of a course_lib.numpy model."""
    from course_lib import numpy as cl

    logits = model(inputs, mask)  # (batch, time, vocab)
    loss, grad = cl.cross_entropy(logits, targets, ignore_index=model.config.pad_id)
    model.zero_grad()  # gradients add up across backward calls: clear the last step's
    model.backward(grad)
    cl.clip_grad_norm(model, clip)
    optimizer.step()
    return loss


def _small_setup() -> tuple[Any, Any, np.ndarray, np.ndarray, np.ndarray]:
    from course_lib import numpy as cl
    from course_lib.config import ModelConfig

    cfg = ModelConfig(vocab_size=11, d_model=8, d_hidden=16, n_layers=1, max_seq_len=8)
    model = cl.LLM(cfg, seed=3, dtype=np.float64)
    rng = np.random.default_rng(3)
    ids = rng.integers(3, 11, size=(2, 6))
    ids[1, 4:] = 0  # the second sequence is padded
    inputs, targets = ids[:, :-1], ids[:, 1:]
    mask = inputs != 0
    return model, cl, inputs, targets, mask


def _test_train_step(fn: Callable[..., Any]) -> int:
    model, cl, inputs, targets, mask = _small_setup()
    twin = _small_setup()[0]  # the same weights (same seed), trained by the reference
    optimizer, twin_optimizer = cl.Adam(model, lr=0.01), cl.Adam(twin, lr=0.01)
    before = {k: v.copy() for k, v in model.parameters().items()}
    clip = 0.05  # small enough that clipping changes the step
    for step in range(2):
        got = _call(fn, model, optimizer, inputs, targets, mask, clip)
        want = reference_train_step(twin, twin_optimizer, inputs, targets, mask, clip)
        expect(
            isinstance(got, (float, np.floating)) and np.isclose(float(got), want),
            f"train_step should return the batch's loss, {want:.6f}, got {got!r}",
        )
        if step == 0:
            expect(
                any(not np.array_equal(before[k], v) for k, v in model.parameters().items()),
                "no weight changed: call optimizer.step() after the backward pass.",
            )
            expect(
                float(np.sqrt(sum((g * g).sum() for g in model.gradients().values())))
                <= clip * (1 + 1e-6),
                f"the gradients were not clipped: after the step their global norm should be at "
                f"most clip = {clip}. Call cl.clip_grad_norm(model, clip) between backward and "
                "step.",
            )
    params, twin_params = model.parameters(), twin.parameters()
    expect(
        all(np.allclose(params[k], twin_params[k], rtol=1e-8, atol=1e-12) for k in params),
        "after two steps the weights differ from forward, loss, zero_grad, backward, clip, step. "
        "Did you call model.zero_grad() before backward? Without it the second step adds the "
        "first step's gradients again.",
    )
    return 5


train_step = Exercise(
    "ch05_train_step",
    "train_step",
    reference_train_step,
    _test_train_step,
    points=2,
    doc="Check exercise 5.2, `train_step(model, optimizer, inputs, targets, mask, clip)`.",
)


# --- Exercise 5.3: next-token probabilities -----------------------------------------------------


def reference_next_token_probs(
    logits: np.ndarray, temperature: float = 1.0, top_k: int | None = None
) -> np.ndarray:
    """Probabilities (vocab,) from one position's logits: softmax(logits / temperature), keeping
    only the `top_k` largest (the rest get probability 0) when top_k is given."""
    scaled = np.asarray(logits, dtype=np.float64) / temperature
    if top_k is not None:
        kth_largest = np.sort(scaled)[-top_k]
        scaled = np.where(scaled < kth_largest, -np.inf, scaled)
    scaled = scaled - scaled.max()
    p = np.exp(scaled)
    return p / p.sum()


def _test_probabilities(fn: Callable[..., Any]) -> int:
    logits = np.array([2.0, -1.0, 0.5, 3.0, 0.0, 1.0])
    count = 0
    for temperature, top_k in [(1.0, None), (0.5, None), (2.0, None), (1.0, 2), (0.7, 3)]:
        got = np.asarray(_call(fn, logits.copy(), temperature, top_k), dtype=float)
        want = reference_next_token_probs(logits, temperature, top_k)
        expect(
            got.shape == want.shape and np.isclose(got.sum(), 1.0),
            f"the result should be {want.shape[0]} probabilities summing to 1, got {got!r}",
        )
        if temperature != 1.0 and top_k is None:
            wrong = reference_next_token_probs(logits * temperature, 1.0)
            expect(
                not np.allclose(got, wrong),
                "the logits were multiplied by the temperature; divide them: a low temperature "
                "must make the distribution sharper, a high one flatter.",
            )
        if top_k is not None:
            expect(
                int((got > 0).sum()) == top_k,
                f"with top_k={top_k} exactly {top_k} tokens should keep a probability above 0 "
                f"(the {top_k} largest logits), got {int((got > 0).sum())}",
            )
            expect(
                set(np.flatnonzero(got > 0)) == set(np.argsort(logits)[-top_k:]),
                f"top_k={top_k} kept the wrong tokens: keep the {top_k} largest logits.",
            )
        expect(
            np.allclose(got, want, atol=1e-9),
            f"temperature={temperature}, top_k={top_k}: expected {np.round(want, 4)}, "
            f"got {np.round(got, 4)}",
        )
        count += 1
    huge = np.array([1000.0, 999.0, -1000.0])
    got = np.asarray(_call(fn, huge, 1.0, None), dtype=float)
    expect(
        np.all(np.isfinite(got)) and np.allclose(got, reference_next_token_probs(huge)),
        "logits of 1000 overflow exp(): subtract the largest logit before exponentiating.",
    )
    return count + 1


next_token_probs = Exercise(
    "ch05_next_token_probs",
    "next_token_probs",
    reference_next_token_probs,
    _test_probabilities,
    points=1,
    doc="Check exercise 5.3, `next_token_probs(logits, temperature, top_k)`.",
)


# ============================================================================= the whole model
#
# Exercise 5.4 writes the generation loop, exercise 5.5 assembles the model's forward pass from
# its parts. Both take plain data or the NumPy `LLM`, so a check can send them to another
# process: `llm_forward(ids, params, config)` gets the weights as the dict `model.state_dict()`
# returns and the configuration as `config.to_dict()`.

__all__ += [
    "generate",
    "llm_forward",
    "reference_generate",
    "reference_llm_forward",
]


def _block_params(params: dict[str, np.ndarray], i: int) -> dict[str, np.ndarray]:
    """Block i's weights with the `blocks.{i}.` prefix taken off."""
    prefix = f"blocks.{i}."
    return {k[len(prefix) :]: v for k, v in params.items() if k.startswith(prefix)}


def _assembled_forward(
    ids: np.ndarray,
    params: dict[str, np.ndarray],
    config: dict[str, Any],
    *,
    positions: str = "by position",
    final_norm: str = "when pre-norm",
    block_order: str = "in order",
    n_heads: int | None = None,
    output_bias: bool = True,
) -> np.ndarray:
    """The forward pass from chapter 03's reference block; the keywords plant the usual mistakes."""
    from course_lib.checks.ch03 import reference_block_forward, reference_layer_norm

    eps = float(config.get("layer_norm_eps", 1e-5))
    heads = int(config["n_heads"]) if n_heads is None else n_heads
    x = params["embeddings.token.weight"][ids]  # (batch, time, d_model)
    table = params["embeddings.position.weight"]  # (max_seq_len, d_model)
    if positions == "by position":
        x = x + table[: ids.shape[1]]
    elif positions == "by token id":
        x = x + table[ids]
    order = list(range(int(config["n_layers"])))
    if block_order == "reversed":
        order.reverse()
    elif block_order == "first only":
        order = [0] * len(order)
    for i in order:
        x = reference_block_forward(x, _block_params(params, i), heads, config["norm"], eps)
    if final_norm == "always" or (final_norm == "when pre-norm" and config["norm"] == "pre"):
        # Only a pre-norm model has final_norm.*: a post-norm block already ends in a norm.
        gamma = params.get("final_norm.weight", np.ones(x.shape[-1]))
        beta = params.get("final_norm.bias", np.zeros(x.shape[-1]))
        x = reference_layer_norm(x, gamma, beta, eps)
    logits = x @ params["output.weight"].T  # (batch, time, vocab)
    return logits + params["output.bias"] if output_bias else logits


def reference_llm_forward(
    ids: np.ndarray, params: dict[str, np.ndarray], config: dict[str, Any]
) -> np.ndarray:
    """Logits (batch, time, vocab) of the model with weights `params` (the keys of
    `LLM.state_dict()`) and configuration `config` (`ModelConfig.to_dict()`), for ids (batch,
    time) with no padding: token + position embeddings -> n_layers blocks -> (pre-norm: final
    norm) -> output projection."""
    ids = np.asarray(ids)
    if config.get("positional", "learned") != "learned" or config.get("tie_weights", False):
        raise ValueError("llm_forward covers learned positions and untied output weights only")
    return _assembled_forward(ids, params, config)


def _model_case(seed: int, norm: str, n_heads: int) -> tuple[Any, dict, dict, np.ndarray]:
    """A small float64 LLM with non-trivial norms and output bias, its weights, config and ids."""
    from course_lib import numpy as cl
    from course_lib.config import ModelConfig

    config = ModelConfig(
        vocab_size=13,
        d_model=8,
        d_hidden=12,
        n_layers=2,
        n_heads=n_heads,
        max_seq_len=16,
        norm=norm,
    )
    model = cl.LLM(config, seed=seed, dtype=np.float64)
    rng = np.random.default_rng(seed)
    params = model.state_dict()
    for key, value in params.items():
        if key.endswith("norm1.weight") or key.endswith("norm2.weight") or key.startswith("final"):
            params[key] = value + rng.normal(size=value.shape) * 0.5  # gammas and betas != 1, 0
        elif key.endswith(".bias"):
            params[key] = rng.normal(size=value.shape) * 0.3
        elif key.startswith("embeddings."):
            params[key] = value * 30.0  # embeddings as large as a trained model's
    model.load_state_dict(params)
    ids = rng.integers(3, config.vocab_size, size=(2, 7))
    return model, model.state_dict(), config.to_dict(), ids


def _test_llm_forward(fn: Callable[..., Any]) -> int:
    checks = 0
    for seed, norm, n_heads in ((51, "post", 2), (52, "pre", 2), (53, "pre", 1)):
        model, params, config, ids = _model_case(seed, norm, n_heads)
        saved = {k: v.copy() for k, v in params.items()}
        ids_before = ids.copy()
        got = np.asarray(_call(fn, ids, params, dict(config)))
        want = model(ids)  # the library's model with the same weights
        expect(
            got.shape == want.shape,
            f"llm_forward returned shape {got.shape}, expected {want.shape}: (batch, time, "
            "vocab), one score per vocabulary token at every position.",
        )
        expect(
            np.array_equal(ids, ids_before)
            and all(np.array_equal(params[k], saved[k]) for k in saved),
            "llm_forward changed the ids or a weight: compute into new arrays.",
        )
        if not np.allclose(got, want, rtol=1e-7, atol=1e-9):
            wrong = [
                (
                    {"positions": "none"},
                    "the position embeddings are missing: x = token_table[ids] + "
                    "position_table[:time], so the model knows where each token stands.",
                ),
                (
                    {"positions": "by token id"},
                    "the position table was indexed by token id: position t gets row t, "
                    "position_table[:time] (one row per position, the same in every sequence).",
                ),
                (
                    {"block_order": "reversed"},
                    "the blocks ran in reverse order: block 0 first, then block 1, ...",
                ),
                (
                    {"block_order": "first only"},
                    "every block used block 0's weights: block i reads the keys starting with "
                    "f'blocks.{i}.' (with that prefix taken off for block_forward).",
                ),
                (
                    {"final_norm": "never"},
                    "the final norm is missing: a pre-norm model normalizes the stream once more "
                    "after the last block, with final_norm.weight and final_norm.bias.",
                ),
                (
                    {"final_norm": "always"},
                    "a post-norm model has no final norm: its last block already ends in norm2.",
                ),
                ({"output_bias": False}, "the output bias is missing: logits = x @ W.T + b."),
            ]
            if n_heads > 1:
                wrong.append(
                    (
                        {"n_heads": 1},
                        f"the blocks ran with one head: pass config['n_heads'] ({n_heads}) to "
                        "block_forward.",
                    )
                )
            for planted, hint in wrong:
                value = _assembled_forward(ids, params, config, **planted)
                expect(not np.allclose(got, value, rtol=1e-7, atol=1e-9), hint)
            expect(
                False,
                f"the logits differ from the library's model with the same weights ({norm}-norm, "
                f"{n_heads} heads) by up to {np.abs(got - want).max():.2g}: embeddings, then "
                "every block in order, then (pre-norm only) the final norm, then x @ "
                "output.weight.T + output.bias.",
            )
        checks += 3
    return checks


llm_forward = Exercise(
    "ch05_llm_forward",
    "llm_forward",
    reference_llm_forward,
    _test_llm_forward,
    points=2,
    doc="Check exercise 5.5, `llm_forward(ids, params, config)`, against the library's model.",
)


# --- Exercise 5.4: the generation loop -----------------------------------------------------------


def reference_generate(
    model: Any,
    prompt_ids: list[int],
    max_new_tokens: int = 20,
    temperature: float = 0.0,
    top_k: int | None = None,
    seed: int = 0,
) -> list[int]:
    """The ids the model writes after `prompt_ids`: one token at a time, greedy when temperature
    is 0, else sampled from `next_token_probs` with one random generator seeded once; stops
    before `</s>` (not included), after `max_new_tokens`, or when the sequence reaches
    max_seq_len."""
    from course_lib.vocab import EOS_ID

    rng = np.random.default_rng(seed)
    ids = [int(i) for i in prompt_ids]
    new: list[int] = []
    while len(new) < max_new_tokens and len(ids) + len(new) < model.config.max_seq_len:
        logits = model(np.array([ids + new]))[0, -1]  # (vocab,): the last position's scores
        if temperature == 0:
            token = int(np.argmax(logits))
        else:
            p = reference_next_token_probs(logits, temperature, top_k)
            token = int(rng.choice(len(p), p=p))
        if token == EOS_ID:
            break
        new.append(token)
    return new


def _generation_model(eos_bias: float | None) -> tuple[Any, list[int]]:
    """A small float64 model and a prompt whose greedy continuation ends in `</s>` after a few
    tokens (found by trying seeds: the same every time), or never, with `eos_bias=-1e3`."""
    from course_lib import numpy as cl
    from course_lib.config import ModelConfig
    from course_lib.vocab import EOS_ID

    config = ModelConfig(vocab_size=12, d_model=8, d_hidden=16, n_layers=1, max_seq_len=12)
    prompt = [5, 7, 3]
    for seed in range(200):
        model = cl.LLM(config, seed=seed, dtype=np.float64)
        params = model.state_dict()
        params["output.weight"] = params["output.weight"] * 4.0  # decisive logits
        model.load_state_dict(params)
        if eos_bias is not None:
            model.output.bias[EOS_ID] = eos_bias
            return model, prompt
        greedy = reference_generate(model, prompt, 20)
        if 3 <= len(greedy) <= 6 and len(set(greedy)) >= 3:
            return model, prompt
    raise RuntimeError("no small model ends its answer in </s>")  # pragma: no cover


def _test_generate(fn: Callable[..., Any]) -> int:
    from course_lib.vocab import EOS_ID

    def ids(value: Any, what: str) -> list[int]:
        expect(
            isinstance(value, (list, tuple))
            and all(isinstance(i, (int, np.integer)) for i in value),
            f"{what}: generate should return a list of token ids (ints), got {value!r:.80}",
        )
        return [int(i) for i in value]

    model, prompt = _generation_model(None)
    want = reference_generate(model, prompt, 20)
    got = ids(_call(fn, model, list(prompt), 20, 0.0, None, 0), "greedy")
    expect(
        got[: len(prompt)] != prompt or want[: len(prompt)] == prompt,
        "the result starts with the prompt: return only the new tokens.",
    )
    expect(
        got != want + [EOS_ID],
        "</s> is in the result: stop when the model picks </s>, without appending it.",
    )
    expect(
        len(got) <= len(want) or got[: len(want)] != want,
        f"generation went on after </s> (id {EOS_ID}): stop as soon as the model picks it.",
    )
    first_position: list[int] = []
    while len(prompt) + len(first_position) < model.config.max_seq_len:
        first_position.append(int(np.argmax(model(np.array([prompt + first_position]))[0, 0])))
    expect(
        got != first_position[: len(got)] or got == want,
        "every step took the logits of the first position: the next token's scores are at "
        "the last position, logits[0, -1].",
    )
    expect(
        got == want,
        f"greedy generation after {prompt} should give {want}, got {got}: take the argmax of "
        "the last position's logits, append it, run the model on the longer sequence again.",
    )
    got = ids(_call(fn, model, list(prompt), 2, 0.0, None, 0), "max_new_tokens=2")
    expect(got == want[:2], f"with max_new_tokens=2 expected {want[:2]}, got {got}.")

    endless, _ = _generation_model(-1e3)  # </s> never wins: only the length limit stops it
    want = reference_generate(endless, prompt, 50)
    got = ids(_call(fn, endless, list(prompt), 50, 0.0, None, 0), "the length limit")
    limit = endless.config.max_seq_len
    expect(
        len(got) == len(want),
        f"with a {len(prompt)}-token prompt and max_seq_len={limit}, at most "
        f"{limit - len(prompt)} new tokens fit; got {len(got)}. Stop when prompt + new tokens "
        "reach max_seq_len (the model reads no more).",
    )
    expect(got == want, f"expected {want}, got {got}")

    for temperature, top_k, seed in ((1.0, None, 3), (0.8, 3, 4)):
        want = reference_generate(model, prompt, 20, temperature, top_k, seed)
        got = ids(_call(fn, model, list(prompt), 20, temperature, top_k, seed), "sampled")
        greedy = reference_generate(model, prompt, 20)
        expect(
            got != greedy or want == greedy,
            f"temperature={temperature} gave the greedy answer: sample with "
            "rng.choice(len(p), p=p) from p = next_token_probs(logits, temperature, top_k).",
        )
        reseeded: list[int] = []
        while len(reseeded) < 20 and len(prompt) + len(reseeded) < model.config.max_seq_len:
            logits = model(np.array([prompt + reseeded]))[0, -1]
            p = reference_next_token_probs(logits, temperature, top_k)
            token = int(np.random.default_rng(seed).choice(len(p), p=p))
            if token == EOS_ID:
                break
            reseeded.append(token)
        expect(
            got != reseeded or want == reseeded,
            "a new random generator was made at every step: make it once, "
            "rng = np.random.default_rng(seed), before the loop, and draw from it each step.",
        )
        expect(
            got == want,
            f"sampling at temperature={temperature}, top_k={top_k}, seed={seed} should give "
            f"{want}, got {got}: rng = np.random.default_rng(seed) once, then token = "
            "int(rng.choice(len(p), p=p)) at each step.",
        )
    return 8


generate = Exercise(
    "ch05_generate",
    "generate",
    reference_generate,
    _test_generate,
    points=2,
    doc="Check exercise 5.4, `generate(model, prompt_ids, max_new_tokens, temperature, top_k, "
    "seed)`.",
)
