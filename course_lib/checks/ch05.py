"""Checks for chapter 05, The complete model: a stable cross-entropy that ignores padding, one
training step, and the next-token distribution used for sampling (temperature and top-k).

Each check runs the learner's function on small cases, looks for the usual wrong answers first
(so the hint can name the mistake), then compares with the right answer.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from course_lib.checks import CheckFailed, Exercise, call_catching, expect
from course_lib.checks import call_learner as _call
from course_lib.checks._common import (
    array_result,
    expect_unchanged,
    kind_of,
    number_result,
    show,
    snapshot,
)
from course_lib.checks.ch03 import reference_block_forward, reference_layer_norm

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


def _loss(fn: Callable[..., Any], logits: np.ndarray, targets: np.ndarray, pad_id: int) -> float:
    """The learner's loss, after checking that it left its inputs alone."""
    before = snapshot(logits, targets)
    got = number_result(_call(fn, logits, targets, pad_id), "cross_entropy")
    expect_unchanged("cross_entropy", ("logits", "targets"), before, (logits, targets))
    return got


def _test_cross_entropy(fn: Callable[..., Any]) -> int:
    rng = np.random.default_rng(5)
    logits = rng.normal(size=(2, 4, 6))
    targets = np.array([[3, 1, 4, 0], [2, 5, 0, 0]])  # 0 is padding
    want = reference_cross_entropy(logits, targets)
    got = _loss(fn, logits, targets, 0)
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
    expect(
        not np.isclose(got, want * real.sum()),
        f"that is the sum over the real tokens; the loss is their mean (divide by {real.sum()}).",
    )
    expect(np.isclose(got, want, rtol=1e-6), f"expected a mean loss of {want:.6f}, got {got:.6f}")

    # Another padding id: 0 is now a real class, and 3 marks the padding.
    other = np.array([[3, 1, 0, 3], [0, 5, 3, 3]])
    want_other = reference_cross_entropy(logits, other, pad_id=3)
    got_other = _loss(fn, logits, other, 3)
    expect(
        not np.isclose(got_other, reference_cross_entropy(logits, other, pad_id=0))
        or np.isclose(got_other, want_other),
        "with pad_id=3 your loss still left out the targets equal to 0: use the pad_id argument "
        "(targets != pad_id), not a fixed 0.",
    )
    expect(
        np.isclose(got_other, want_other, rtol=1e-6),
        f"with pad_id=3 the mean loss should be {want_other:.6f}, got {got_other:.6f}: only the "
        "positions whose target is pad_id are left out.",
    )

    big = logits * 1000.0  # a confident model: logits in the thousands
    want_big = reference_cross_entropy(big, targets)
    got_big = _loss(fn, big, targets, 0)
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
    return 6


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


_STEP_MISTAKES = {
    "no zero_grad": (
        "the second step added the first step's gradients again: each layer's backward adds to "
        "its gradients, so call model.zero_grad() before model.backward(grad) on every step."
    ),
    "no clip": (
        "the gradients were not clipped: call cl.clip_grad_norm(model, clip) between "
        "model.backward(grad) and optimizer.step()."
    ),
    "clip after step": (
        "the gradients were clipped after optimizer.step(), so the step used the unclipped "
        "ones: clip between model.backward(grad) and optimizer.step()."
    ),
    "zero_grad after backward": (
        "the gradients were all zero when the optimizer stepped, so no weight moved: "
        "model.zero_grad() after backward erases what backward computed. Call it before "
        "model.backward(grad)."
    ),
    "no step": "no weight changed: call optimizer.step() after clipping.",
    "padding counted": (
        "the padded targets were counted in the loss: pass ignore_index=model.config.pad_id to "
        "cl.cross_entropy, so that padding adds nothing to the loss or the gradients."
    ),
}


def _variant_step(
    variant: str, model: Any, optimizer: Any, batch: tuple[np.ndarray, ...], clip: float
) -> float:
    """One training step done right (`variant` "right") or with one of the usual mistakes."""
    from course_lib import numpy as cl

    inputs, targets, mask = batch
    ignore = None if variant == "padding counted" else model.config.pad_id
    loss, grad = cl.cross_entropy(model(inputs, mask), targets, ignore_index=ignore)
    if variant != "no zero_grad":
        model.zero_grad()
    model.backward(grad)
    if variant == "zero_grad after backward":
        model.zero_grad()
    if variant not in ("no clip", "clip after step"):
        cl.clip_grad_norm(model, clip)
    if variant != "no step":
        optimizer.step()
    if variant == "clip after step":
        cl.clip_grad_norm(model, clip)
    return loss


def _state(model: Any) -> list[np.ndarray]:
    """Every weight and every gradient of `model`, copied."""
    weights = [v.copy() for _, v in sorted(model.parameters().items())]
    return weights + [g.copy() for _, g in sorted(model.gradients().items())]


def _same_state(a: list[np.ndarray], b: list[np.ndarray]) -> bool:
    return len(a) == len(b) and all(
        x.shape == y.shape and np.allclose(x, y, rtol=1e-8, atol=1e-12)
        for x, y in zip(a, b, strict=True)
    )


def _test_train_step(fn: Callable[..., Any]) -> int:
    from course_lib import numpy as cl

    model, _, inputs, targets, mask = _small_setup()
    optimizer = cl.Adam(model, lr=0.01)
    batch = (inputs, targets, mask)
    clip = 0.05  # small enough that clipping changes the step
    # The same model (same seed) trained right and with each usual mistake, next to the learner's.
    twins = {}
    for variant in ("right", *_STEP_MISTAKES):
        twin = _small_setup()[0]
        twins[variant] = (twin, cl.Adam(twin, lr=0.01), [])
    my_losses: list[float] = []
    my_states: list[list[np.ndarray]] = []
    for step in range(2):
        before = snapshot(inputs, targets, mask)
        got = _call(fn, model, optimizer, inputs, targets, mask, clip)
        expect_unchanged("train_step", ("inputs", "targets", "mask"), before, batch)
        my_losses.append(number_result(got, "train_step"))
        my_states.append(_state(model))
        for variant, (twin, twin_optimizer, log) in twins.items():
            loss = _variant_step(variant, twin, twin_optimizer, batch, clip)
            log.append((loss, _state(twin)))

        def follows(variant: str, weights_only: bool = False) -> bool:
            """The learner's losses and model so far are those of `variant`'s twin."""
            for loss, state, (twin_loss, twin_state) in zip(
                my_losses, my_states, twins[variant][2], strict=True
            ):
                half = len(state) // 2 if weights_only else len(state)
                same = _same_state(state[:half], twin_state[:half])
                if not (np.isclose(loss, twin_loss) and same):
                    return False
            return True

        if follows("right", weights_only=True):
            continue
        for variant, hint in _STEP_MISTAKES.items():
            # Without a step the weights tell it all, whatever happened to the gradients.
            expect(not follows(variant, weights_only=variant == "no step"), hint)
        right_loss = twins["right"][2][step][0]
        expect(
            np.isclose(my_losses[-1], right_loss),
            f"train_step should return the batch's loss (the float cl.cross_entropy gives "
            f"before the update), {right_loss:.6f} on step {step + 1}, got {my_losses[-1]:.6f}.",
        )
        expect(
            False,
            f"after step {step + 1} the weights differ from forward, loss, zero_grad, backward, "
            "clip, step (in that order).",
        )
    return 4


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


def _probs(fn: Callable[..., Any], logits: np.ndarray, *args: Any) -> np.ndarray:
    """The learner's probabilities, after checking that the logits came back unchanged."""
    before = snapshot(logits)
    got = array_result(_call(fn, logits, *args), "next_token_probs")
    expect_unchanged("next_token_probs", ("logits",), before, (logits,))
    return got


def _same_probs(got: np.ndarray, want: np.ndarray) -> bool:
    return got.shape == want.shape and bool(np.allclose(got, want, atol=1e-9))


def _test_probabilities(fn: Callable[..., Any]) -> int:
    logits = np.array([2.0, -1.0, 0.5, 3.0, 0.0, 1.0])
    count = 0
    for temperature, top_k in [(1.0, None), (0.5, None), (2.0, None), (1.0, 2), (0.7, 3)]:
        got = _probs(fn, logits, temperature, top_k)
        want = reference_next_token_probs(logits, temperature, top_k)
        expect(
            got.shape == want.shape,
            f"the result should be {want.shape[0]} probabilities, one per token of the "
            f"vocabulary, got shape {got.shape}.",
        )
        if top_k is not None:
            expect(
                not np.allclose(got, np.where(want > 0, reference_next_token_probs(logits), 0)),
                f"with top_k={top_k} the kept probabilities no longer sum to 1: set the other "
                "logits to -inf before the softmax (or divide by the kept total afterwards).",
            )
        expect(
            bool(np.isclose(got.sum(), 1.0)),
            f"the probabilities should sum to 1, got a sum of {got.sum():.6f}.",
        )
        if temperature != 1.0 and top_k is None:
            wrong = reference_next_token_probs(logits * temperature, 1.0)
            expect(
                not np.allclose(got, wrong),
                "the logits were multiplied by the temperature; divide them: a low temperature "
                "must make the distribution sharper, a high one flatter.",
            )
        if top_k is not None:
            kept = int((got > 0).sum())
            expect(
                kept == top_k,
                f"with top_k={top_k} exactly {top_k} tokens should keep a probability above 0 "
                f"(the {top_k} largest logits), got {kept}: the k-th largest logit is "
                f"np.sort(logits)[-top_k]; keep every logit >= it.",
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
    # Exercise 5.4 sets the logits of <pad> and <unk> to -inf before calling this function.
    left_out = np.array([2.0, -np.inf, 0.5, 3.0, -np.inf, 1.0])
    for temperature, top_k in ((0.7, None), (1.5, 2)):
        got = _probs(fn, left_out, temperature, top_k)
        want = reference_next_token_probs(left_out, temperature, top_k)
        expect(
            got.shape == want.shape and bool(np.all(np.isfinite(got))) and _same_probs(got, want),
            f"with logits of -inf, {left_out.tolist()} (the tokens exercise 5.4 leaves out), "
            f"temperature={temperature}, top_k={top_k}, expected {np.round(want, 4)}, got "
            f"{np.round(got, 4)}: a logit of -inf gets probability exactly 0 and the others "
            "share the whole probability. Subtract the largest logit (which is finite), not "
            "the mean.",
        )
    huge = np.array([1000.0, 999.0, -1000.0])
    got = _probs(fn, huge, 1.0, None)
    expect(
        np.all(np.isfinite(got)) and np.allclose(got, reference_next_token_probs(huge)),
        "logits of 1000 overflow exp(): subtract the largest logit before exponentiating.",
    )
    # The chapter calls next_token_probs(logits, temperature) and relies on the default top_k:
    # as many logits as a small vocabulary has, so that a default cut of up to 64 shows.
    many = np.random.default_rng(53).normal(size=64) * 2.0
    want = reference_next_token_probs(many, 0.5)
    got, raised = call_catching(fn, many, 0.5)
    if raised is None:
        got = array_result(got, "next_token_probs")
    if raised is not None or not _same_probs(got, want):
        explicit = _probs(fn, many, 0.5, None)
        kept = "" if raised is not None else f"kept {np.count_nonzero(got > 0)} of 64 tokens"
        what = kept or f"raised {raised}"
        expect(
            not _same_probs(explicit, want),
            f"called without top_k, next_token_probs(logits, 0.5) {what}, though "
            "next_token_probs(logits, 0.5, None) is right: keep the signature's default, "
            "top_k=None (no cut: every token keeps its probability), which the chapter relies on.",
        )
        expect(False, "next_token_probs(logits, 0.5, None) is wrong on 64 logits.")
    return count + 4


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
    norm: str | None = None,
    eps: float | None = None,
    final_eps: float | None = None,
    output_bias: bool = True,
) -> np.ndarray:
    """The forward pass from chapter 03's reference block; the keywords plant the usual mistakes."""
    eps = float(config.get("layer_norm_eps", 1e-5)) if eps is None else eps
    heads = int(config["n_heads"]) if n_heads is None else n_heads
    placement = config["norm"] if norm is None else norm
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
    d = x.shape[-1]
    gamma = params.get("final_norm.weight", np.ones(d))
    beta = params.get("final_norm.bias", np.zeros(d))
    for i in order:
        x = reference_block_forward(x, _block_params(params, i), heads, placement, eps)
        if final_norm == "after every block":
            x = reference_layer_norm(x, gamma, beta, eps)
    if positions == "after the blocks":
        x = x + table[: ids.shape[1]]
    if final_norm == "always" or (final_norm == "when pre-norm" and config["norm"] == "pre"):
        # Only a pre-norm model has final_norm.*: a post-norm block already ends in a norm.
        x = reference_layer_norm(x, gamma, beta, eps if final_eps is None else final_eps)
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


def _model_case(
    seed: int, norm: str, n_heads: int, eps: float = 1e-5
) -> tuple[Any, dict, dict, np.ndarray]:
    """A small float64 LLM with non-trivial norms and output bias, its weights, config and ids.
    With a large `eps` the embeddings stay small, so that eps changes the logits."""
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
        layer_norm_eps=eps,
    )
    model = cl.LLM(config, seed=seed, dtype=np.float64)
    rng = np.random.default_rng(seed)
    params = model.state_dict()
    for key, value in params.items():
        if key.endswith("norm1.weight") or key.endswith("norm2.weight") or key.startswith("final"):
            params[key] = value + rng.normal(size=value.shape) * 0.5  # gammas and betas != 1, 0
        elif key.endswith(".bias"):
            params[key] = rng.normal(size=value.shape) * 0.3
        elif key.startswith("embeddings.") and eps < 1e-3:
            params[key] = value * 30.0  # embeddings as large as a trained model's
    model.load_state_dict(params)
    ids = rng.integers(3, config.vocab_size, size=(2, 7))
    return model, model.state_dict(), config.to_dict(), ids


# (seed, norm, n_heads, layer_norm_eps): post-norm and pre-norm, one head and two, and a model
# whose layer_norm_eps (0.05, on embeddings of variance about 3e-4) changes every logit.
_FORWARD_CASES = ((51, "post", 2, 1e-5), (52, "pre", 2, 1e-5), (53, "pre", 1, 1e-5),
                  (54, "pre", 2, 0.05))  # fmt: skip


def _forward_raised(raised: Any, config: dict[str, Any]) -> str:
    """The hint for an llm_forward that raised on a model of `config`."""
    text = str(raised)
    model = (
        f"a {config['norm']}-norm model with {config['n_layers']} blocks and "
        f"{config['n_heads']} head(s)"
    )
    why = ""
    if raised.is_a("KeyError") and "final_norm" in text:
        why = (
            " A post-norm model has no final norm (its last block already ends in norm2), "
            "so it has no final_norm.* weights: apply the final norm only when "
            "config['norm'] == 'pre'."
        )
    elif raised.is_a("KeyError") and "blocks." not in text:
        why = (
            " block_forward got the weights of a block the model does not have: loop over "
            "range(config['n_layers']) and give block i the keys that start with "
            "f'blocks.{i}.', that prefix taken off."
        )
    elif raised.is_a("KeyError"):
        why = " Only the keys of model.state_dict() are in params: print(sorted(params))."
    elif raised.is_a("IndexError"):
        why = (
            " The position table has max_seq_len rows, one per position: take the first time "
            "rows, params['embeddings.position.weight'][:ids.shape[1]], not rows by token id."
        )
    elif raised.is_a("AttributeError") and "dict" in text:
        why = (
            " config is a dict (ModelConfig.to_dict()), not a ModelConfig: read its entries "
            "as config['n_layers'], config['n_heads'], config['norm'], "
            "config['layer_norm_eps']."
        )
    elif raised.is_a("ValueError") and "broadcast" in text:
        why = (
            " Shapes that do not add up: the token embeddings are (batch, time, d_model), and "
            "the rows to add are the position table's first time rows, "
            "params['embeddings.position.weight'][:ids.shape[1]], (time, d_model)."
        )
    elif raised.is_a("ValueError"):
        why = (
            " Check the shapes: x is (batch, time, d_model), the output weight (vocab, "
            "d_model), so the logits are x @ params['output.weight'].T."
        )
    where = f"llm_forward raised {raised} on {model}, ids of shape (2, 7)"
    return f"{why.strip()} ({where}.)" if why else f"{where}."


def _test_llm_forward(fn: Callable[..., Any]) -> int:
    checks = 0
    for seed, norm, n_heads, eps in _FORWARD_CASES:
        model, params, config, ids = _model_case(seed, norm, n_heads, eps)
        saved = {k: v.copy() for k, v in params.items()}
        ids_before = ids.copy()
        got, raised = call_catching(fn, ids, params, dict(config))
        if raised is not None:
            raise CheckFailed(_forward_raised(raised, config))
        got = array_result(got, "llm_forward")
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
                    {"eps": 1e-5},
                    f"config['layer_norm_eps'] ({eps:g}) made no difference: your norms use "
                    "1e-5. Pass eps = config['layer_norm_eps'] to every block_forward and to "
                    "the final layer_norm.",
                ),
                (
                    {"final_eps": 1e-5},
                    f"the final norm uses eps 1e-5, not config['layer_norm_eps'] ({eps:g}): pass "
                    "it to the final layer_norm too.",
                ),
                (
                    {"eps": 1e-5, "final_eps": eps},
                    f"the blocks' norms use eps 1e-5, not config['layer_norm_eps'] ({eps:g}): "
                    "pass it to every block_forward too.",
                ),
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
                    {"positions": "after the blocks"},
                    "the position embeddings were added after the blocks: add them to the token "
                    "embeddings before the first block, x = token_table[ids] + "
                    "position_table[:time], so that attention knows where each token stands.",
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
                    {"final_norm": "after every block"},
                    "the final norm ran after every block: it runs once, after the loop over "
                    "the blocks (check its indentation).",
                ),
                (
                    {"final_norm": "always"},
                    "a post-norm model has no final norm: its last block already ends in norm2.",
                ),
                ({"output_bias": False}, "the output bias is missing: logits = x @ W.T + b."),
                (
                    {"norm": "post" if norm == "pre" else "pre"},
                    f"the blocks ran {'post' if norm == 'pre' else 'pre'}-norm: pass "
                    f"config['norm'] ({norm!r}) to block_forward.",
                ),
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
                f"{n_heads} heads, layer_norm_eps {eps:g}) by up to "
                f"{np.abs(got - want).max():.2g}: embeddings, then every block in order, then "
                "(pre-norm only) the final norm, then x @ output.weight.T + output.bias.",
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
    is 0, else sampled from `next_token_probs` with one random generator seeded once; `<pad>` and
    `<unk>` are never written (their logits are -inf before picking); stops before `</s>` (not
    included), after `max_new_tokens`, or when the sequence reaches max_seq_len."""
    from course_lib.vocab import EOS_ID, UNK_ID

    rng = np.random.default_rng(seed)
    ids = [int(i) for i in prompt_ids]
    new: list[int] = []
    while len(new) < max_new_tokens and len(ids) + len(new) < model.config.max_seq_len:
        logits = model(np.array([ids + new]))[0, -1].copy()  # (vocab,): the last position's
        logits[[model.config.pad_id, UNK_ID]] = -np.inf  # tokens the model must never write
        if temperature == 0:
            token = int(np.argmax(logits))
        else:
            p = reference_next_token_probs(logits, temperature, top_k)
            token = int(rng.choice(len(p), p=p))
        if token == EOS_ID:
            break
        new.append(token)
    return new


_PROMPT = [5, 7, 3]


def _generation_model(
    eos_bias: float | None, sharpness: float = 4.0, seed: int | None = None
) -> tuple[Any, list[int]]:
    """A small float64 model and a prompt whose greedy continuation ends in `</s>` after a few
    tokens (found by trying seeds: the same every time), or, with `eos_bias=-1e3` (and the
    model's `seed`), never. The output weights are scaled by `sharpness`: 4 makes the logits
    decisive, 1.5 leaves every token a fair chance, 0.5 makes them almost flat."""
    from course_lib import numpy as cl
    from course_lib.config import ModelConfig
    from course_lib.vocab import EOS_ID

    config = ModelConfig(vocab_size=12, d_model=8, d_hidden=16, n_layers=1, max_seq_len=12)
    found = _FOUND_SEEDS.get(sharpness) if seed is None and eos_bias is None else None
    candidates = (found,) if found is not None else range(200) if seed is None else (seed,)
    for model_seed in candidates:
        model = cl.LLM(config, seed=model_seed, dtype=np.float64)
        params = model.state_dict()
        params["output.weight"] = params["output.weight"] * sharpness
        model.load_state_dict(params)
        if eos_bias is not None:
            model.output.bias[EOS_ID] = eos_bias
            return model, list(_PROMPT)
        greedy = reference_generate(model, _PROMPT, 20)
        if 3 <= len(greedy) <= 6 and len(set(greedy)) >= 3:
            _FOUND_SEEDS[sharpness] = model_seed  # the search gives the same seed every time
            return model, list(_PROMPT)
    raise RuntimeError("no small model ends its answer in </s>")  # pragma: no cover


_FOUND_SEEDS: dict[float, int] = {}  # sharpness -> the seed `_generation_model` found


def _greedy_until_special(model: Any, prompt: list[int]) -> list[int]:
    """Greedy generation that takes <pad> and <unk> for the end of the text, as </s> is."""
    from course_lib.vocab import EOS_ID, UNK_ID

    new: list[int] = []
    while len(prompt) + len(new) < model.config.max_seq_len and len(new) < 20:
        token = int(np.argmax(model(np.array([prompt + new]))[0, -1]))
        if token in (EOS_ID, UNK_ID, model.config.pad_id):
            break
        new.append(token)
    return new


def _favouring(model: Any, token: int) -> Any:
    """A copy of `model` whose output bias makes `token` the likeliest at every position."""
    from course_lib import numpy as cl

    twin = cl.LLM(model.config, dtype=np.float64)
    params = model.state_dict()
    params["output.bias"] = params["output.bias"].copy()
    params["output.bias"][token] += 50.0
    twin.load_state_dict(params)
    return twin


# The sampled cases: (temperature, top_k, seed) on a model that leaves every token a fair chance
# (`_generation_model(-1e3, 1.5, seed=0)`, no `</s>`: nine tokens each), where dropping top_k,
# applying the temperature twice or not at all, top_k off by one, a new generator at each step,
# NumPy's global generator and writing <pad> or <unk> each change at least two of the four
# (`tests/test_checks_ch05_model.py` keeps it so).
SAMPLED_CASES = ((0.5, None, 1), (0.8, 3, 2), (1.0, None, 3), (2.0, 4, 4))
_SAMPLING_MODEL = {"eos_bias": -1e3, "sharpness": 1.5, "seed": 0}


def _sampled_variant(
    model: Any, prompt: list[int], temperature: float, top_k: int | None, seed: int, variant: str
) -> list[int]:
    """`reference_generate` sampling with one of the usual mistakes (see `_SAMPLING_MISTAKES`)."""
    from course_lib.vocab import EOS_ID, UNK_ID

    rng = np.random.default_rng(seed)
    legacy = np.random.RandomState(seed)  # what np.random.seed(seed); np.random.choice draw
    never = [model.config.pad_id, UNK_ID]
    new: list[int] = []
    while len(prompt) + len(new) < model.config.max_seq_len and len(new) < 20:
        raw = model(np.array([prompt + new]))[0, -1]
        logits = raw.copy()
        if variant != "special tokens written":
            logits[never] = -np.inf
        t, k = temperature, top_k
        if variant == "top_k dropped":
            k = None
        elif variant == "temperature twice":
            logits = logits / t
        elif variant == "temperature not passed":
            t = 1.0
        elif variant == "temperature multiplied":
            logits, t = logits * t, 1.0
        elif variant in ("top_k plus one", "top_k minus one") and k is not None:
            k = k + 1 if variant == "top_k plus one" else max(1, k - 1)
        if variant == "special tokens removed after the cut":
            p = reference_next_token_probs(raw, t, k)
            p[never] = 0.0
            p = p / p.sum()
        else:
            p = reference_next_token_probs(logits, t, k)
        if variant == "a new generator at each step":
            token = int(np.random.default_rng(seed).choice(len(p), p=p))
        elif variant == "the global generator":
            token = int(legacy.choice(len(p), p=p))
        else:
            token = int(rng.choice(len(p), p=p))
        if token == EOS_ID:
            break
        new.append(token)
    return new


_SAMPLING_MISTAKES = {
    "top_k dropped": (
        "top_k={top_k} made no difference: the tokens are those of sampling from every token. "
        "Pass it on, p = next_token_probs(logits, temperature, top_k)."
    ),
    "temperature twice": (
        "the temperature was applied twice: next_token_probs already divides the logits by it, "
        "so give it the model's logits as they are, next_token_probs(logits, temperature, top_k)."
    ),
    "temperature not passed": (
        "temperature={temperature} made no difference: the tokens are those of temperature 1. "
        "Pass it on, p = next_token_probs(logits, temperature, top_k)."
    ),
    "temperature multiplied": (
        "the logits were multiplied by the temperature: a temperature divides them (low T "
        "sharpens, high T flattens). Let next_token_probs(logits, temperature, top_k) do it."
    ),
    "top_k plus one": (
        "top_k={top_k} kept one token too many: pass top_k to next_token_probs unchanged."
    ),
    "top_k minus one": (
        "top_k={top_k} kept one token too few: pass top_k to next_token_probs unchanged."
    ),
    "special tokens removed after the cut": (
        "<pad> and <unk> were taken out after next_token_probs, so they used up places of the "
        "top_k: set their logits to -inf before calling next_token_probs, so that top_k counts "
        "only tokens the model may write."
    ),
    "a new generator at each step": (
        "a new random generator was made at every step: make it once, "
        "rng = np.random.default_rng(seed), before the loop, and draw from it each step."
    ),
    "the global generator": (
        "the tokens come from NumPy's global generator (np.random.seed, np.random.choice): "
        "make your own, rng = np.random.default_rng(seed), once before the loop, and draw "
        "token = int(rng.choice(len(p), p=p))."
    ),
}

_SPECIAL_HINT = (
    "the model wrote {token} (id {id}): a model never writes <pad> or <unk> - padding is never a "
    "training target and <unk> is no word. Before picking (argmax or next_token_probs), set "
    "their logits to -inf on a copy: logits[[model.config.pad_id, UNK_ID]] = -np.inf."
)


def _special_written(got: list[int], pad_id: int) -> str:
    """The hint for a result that holds <pad> or <unk>, else ''."""
    from course_lib.vocab import UNK_ID

    for token in got:
        if token in (pad_id, UNK_ID):
            name = "<pad>" if token == pad_id else "<unk>"
            return _SPECIAL_HINT.format(token=name, id=token)
    return ""


def _generated(fn: Callable[..., Any], what: str, model: Any, *args: Any, **kwargs: Any) -> list:
    """The learner's ids for `generate(model, *args, **kwargs)`; a hint that says which call
    (`what`) raised, and why when the error is a usual one."""
    prompt = args[0]
    before = list(prompt)
    value, raised = call_catching(fn, model, *args, **kwargs)
    limit = model.config.max_seq_len
    temperature = args[2] if len(args) > 2 else kwargs.get("temperature")
    if raised is not None:
        text = str(raised)
        why = ""
        if temperature == 0 and (
            "probabilit" in text.lower() or raised.is_a("ZeroDivisionError") or "nan" in text
        ):
            why = (
                " At temperature 0 generation is greedy: take int(np.argmax(logits)) and call "
                "no sampler - next_token_probs divides the logits by the temperature, and a "
                "division by 0 gives nan."
            )
        elif "max_seq_len" in text:
            why = (
                f" The model reads at most max_seq_len={limit} tokens: stop when prompt and new "
                "tokens reach model.config.max_seq_len (while ... and len(ids) + len(new) < "
                "model.config.max_seq_len)."
            )
        elif "probabilities" in text:
            why = (
                " rng.choice needs probabilities that sum to 1, without nan: pass it "
                "p = next_token_probs(logits, temperature, top_k) as it is. To leave out "
                "<pad> and <unk>, set their logits to -inf before next_token_probs, not their "
                "probabilities to 0 afterwards."
            )
        elif raised.is_a("IndexError"):
            why = (
                " model(np.array([ids])) returns (1, time, vocab): the next token's scores are "
                "logits[0, -1], one number per vocabulary token."
            )
        if why:  # the hint first, then what raised and where
            raise CheckFailed(f"{why.strip()} (generate raised {raised} on {what}.)")
        raise CheckFailed(f"generate raised {raised} on {what}.")
    expect(
        list(prompt) == before,
        f"generate changed the caller's prompt_ids ({what}): it was {before}, and is "
        f"{list(prompt)} after the call. Work on a copy, ids = list(prompt_ids), and leave the "
        "caller's list as it was.",
    )
    expect(
        isinstance(value, (list, tuple))
        and all(isinstance(i, (int, np.integer)) and not isinstance(i, bool) for i in value),
        f"{what}: generate should return a list of token ids (ints), got {kind_of(value)}"
        + (f": {show(value, 80)}" if value is not None else ": did you forget the `return`?"),
    )
    return [int(i) for i in value]


def _test_generate(fn: Callable[..., Any]) -> int:
    from course_lib.vocab import EOS_ID, UNK_ID

    model, prompt = _generation_model(None)
    pad = model.config.pad_id
    want = reference_generate(model, prompt, 20)
    what = f"a small model (max_seq_len 12), prompt {prompt}, greedy"
    got = _generated(fn, what, model, list(prompt), 20, 0.0, None, 0)
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
        logits = model(np.array([prompt + first_position]))[0, 0].copy()
        logits[[pad, UNK_ID]] = -np.inf
        first_position.append(int(np.argmax(logits)))
    expect(
        got != first_position[: len(got)] or got == want,
        "every step took the logits of the first position: the next token's scores are at "
        "the last position, logits[0, -1].",
    )
    expect(not _special_written(got, pad), _special_written(got, pad))
    expect(
        got != _greedy_until_special(model, prompt) or got == want,
        "generation stopped at <pad> or <unk>: only </s> ends the text. Leave them out before "
        "picking - logits[[model.config.pad_id, UNK_ID]] = -np.inf - so that the argmax is the "
        "likeliest token the model may write.",
    )
    expect(
        got == want,
        f"greedy generation after {prompt} should give {want}, got {got}: take the argmax of "
        "the last position's logits, append it, run the model on the longer sequence again.",
    )
    got = _generated(fn, f"{what}, max_new_tokens=2", model, list(prompt), 2, 0.0, None, 0)
    expect(got == want[:2], f"with max_new_tokens=2 expected {want[:2]}, got {got}.")
    got = _generated(fn, f"{what}, max_new_tokens=0", model, list(prompt), 0, 0.0, None, 0)
    expect(
        got == [],
        f"with max_new_tokens=0 expected no new token, [], got {got}: test the budget before "
        "each token is made (while len(new) < max_new_tokens ...), not after.",
    )

    endless, _ = _generation_model(-1e3)  # </s> never wins: only the length limit stops it
    limit = endless.config.max_seq_len
    want = reference_generate(endless, prompt, 50)
    what = f"a model that never writes </s> (max_seq_len {limit}), prompt {prompt}"
    got = _generated(fn, what, endless, list(prompt), 50, 0.0, None, 0)
    expect(
        len(got) == len(want),
        f"with a {len(prompt)}-token prompt and max_seq_len={limit}, at most "
        f"{limit - len(prompt)} new tokens fit; got {len(got)}. Stop when prompt + new tokens "
        "reach max_seq_len (the model reads no more).",
    )
    expect(not _special_written(got, pad), _special_written(got, pad))
    expect(got == want, f"expected {want}, got {got}")

    # Models whose likeliest token is always <pad>, or always <unk>: neither may be written.
    for token, name in ((pad, "<pad>"), (UNK_ID, "<unk>")):
        favouring = _favouring(model, token)
        want = reference_generate(favouring, prompt, 20)
        what = f"a model whose likeliest token is always {name}, prompt {prompt}, greedy"
        got = _generated(fn, what, favouring, list(prompt), 20, 0.0, None, 0)
        expect(not _special_written(got, pad), _special_written(got, pad))
        expect(
            got != [] or want == [],
            f"on a model whose likeliest token is always {name}, generate wrote nothing: "
            f"{name} is not the end of the text (only </s> is). Leave it out before picking: "
            "logits[[model.config.pad_id, UNK_ID]] = -np.inf, then the argmax.",
        )
        expect(
            got == want,
            f"on a model whose likeliest token is always {name}, greedy generation should give "
            f"{want}, the likeliest tokens other than {name}, got {got}.",
        )

    # Sampling, on a model that leaves every token a fair chance.
    flat, _ = _generation_model(**_SAMPLING_MODEL)
    greedy = reference_generate(flat, prompt, 20)
    temperature, top_k, seed = SAMPLED_CASES[0]
    what = f"prompt {prompt}, temperature={temperature}, top_k={top_k}, seed={seed}"
    once = _generated(fn, what, flat, list(prompt), 20, temperature, top_k, seed)
    again = _generated(fn, what, flat, list(prompt), 20, temperature, top_k, seed)
    expect(
        once == again,
        f"two calls with the same seed ({what}) gave different tokens: the draws must "
        "come from one generator made from the seed, rng = np.random.default_rng(seed), before "
        "the loop - not from NumPy's global np.random or an unseeded generator.",
    )
    runs = []  # (case, what the learner wrote, what it should write)
    for temperature, top_k, seed in SAMPLED_CASES:
        want = reference_generate(flat, prompt, 20, temperature, top_k, seed)
        what = f"prompt {prompt}, temperature={temperature}, top_k={top_k}, seed={seed}"
        got = _generated(fn, what, flat, list(prompt), 20, temperature, top_k, seed)
        runs.append(((temperature, top_k, seed), got, want))
    wrong = [(case, got, want) for case, got, want in runs if got != want]
    if wrong:
        # A usual mistake explains every case, including those it gets right by chance.
        for _, got, _ in wrong:
            expect(not _special_written(got, pad), _special_written(got, pad))
        expect(
            not all(got == greedy for _, got, _ in runs),
            f"every temperature gave the greedy answer {greedy}: when temperature > 0, sample, "
            "token = int(rng.choice(len(p), p=p)) with p = next_token_probs(logits, "
            "temperature, top_k).",
        )
        (temperature, top_k, seed), got, want = wrong[0]
        for variant, hint in _SAMPLING_MISTAKES.items():
            planted = [_sampled_variant(flat, prompt, *case, variant) for case, _, _ in runs]
            expect(
                [got for _, got, _ in runs] != planted,
                hint.format(temperature=temperature, top_k=top_k),
            )
        expect(
            False,
            f"sampling (prompt {prompt}, temperature={temperature}, top_k={top_k}, seed={seed}) "
            f"should give {want}, got {got}: rng = np.random.default_rng(seed) once, then at "
            "each step p = next_token_probs(logits, temperature, top_k) (the logits of <pad> "
            "and <unk> set to -inf) and token = int(rng.choice(len(p), p=p)).",
        )

    # The chapter calls generate(model, ids, max_new_tokens=30) and relies on the default
    # temperature. On almost flat logits any sampling strays from the greedy answer at once.
    flat, _ = _generation_model(-1e3, sharpness=0.5)
    want = reference_generate(flat, prompt, 20)
    got = _generated(fn, "a call without temperature", flat, list(prompt), max_new_tokens=20)
    if got != want:
        given = _generated(fn, "temperature=0.0", flat, list(prompt), 20, 0.0)
        expect(
            given != want,
            f"called without temperature, generate(model, {prompt}, max_new_tokens=20) gave "
            f"{got}, not the greedy {want} that temperature=0.0 gives: keep the signature's "
            "default, temperature=0.0 (greedy), which the chapter relies on.",
        )
        expect(False, f"greedy generation on almost flat logits should give {want}, got {given}.")
    return 10 + len(SAMPLED_CASES)


generate = Exercise(
    "ch05_generate",
    "generate",
    reference_generate,
    _test_generate,
    points=2,
    doc="Check exercise 5.4, `generate(model, prompt_ids, max_new_tokens, temperature, top_k, "
    "seed)`.",
)
