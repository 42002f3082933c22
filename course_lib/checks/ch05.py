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
