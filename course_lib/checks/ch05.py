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
from course_lib.checks._common import (
    array_result,
    expect_unchanged,
    number_result,
    snapshot,
)

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
    huge = np.array([1000.0, 999.0, -1000.0])
    got = _probs(fn, huge, 1.0, None)
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
