"""Checks for chapter 04, The Adam optimizer: a momentum step, an Adam step with bias correction,
and clipping by the global gradient norm.

Each check runs the learner's function on small float64 cases, compares the result with the usual
wrong answers first (so the hint can name the mistake), then with the right answer.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from course_lib.checks import Exercise, expect
from course_lib.checks import call_learner as _call
from course_lib.checks._common import (
    array_result,
    expect_unchanged,
    number_result,
    sequence_result,
    snapshot,
)

__all__ = [
    "adam_step",
    "clip_by_global_norm",
    "momentum_step",
    "reference_adam_step",
    "reference_clip_by_global_norm",
    "reference_momentum_step",
]


def _close(a: Any, b: Any) -> bool:
    """Same shape and equal up to float rounding (relative 1e-6, absolute 1e-9)."""
    try:
        a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    except (TypeError, ValueError):
        return False
    return a.shape == b.shape and bool(np.allclose(a, b, rtol=1e-6, atol=1e-9))


# --- Exercise 4.1: momentum step ----------------------------------------------------------------


def reference_momentum_step(
    param: np.ndarray, grad: np.ndarray, velocity: np.ndarray, lr: float, beta: float = 0.9
) -> tuple[np.ndarray, np.ndarray]:
    """One step of SGD with momentum: (new param, new velocity)."""
    velocity = beta * velocity + grad  # a running sum of gradients, older ones fading by beta
    return param - lr * velocity, velocity


def _test_momentum_step(fn: Callable[..., Any]) -> int:
    rng = np.random.default_rng(4)
    param, velocity = rng.normal(size=(3, 2)), rng.normal(size=(3, 2))
    grad = rng.normal(size=(3, 2))
    lr, beta = 0.1, 0.8
    before = snapshot(param, grad, velocity)
    got = _call(fn, param, grad, velocity, lr, beta)
    expect_unchanged(
        "momentum_step", ("param", "grad", "velocity"), before, (param, grad, velocity)
    )
    new_param, new_velocity = (
        array_result(g, "momentum_step")
        for g in sequence_result(got, 2, "momentum_step", "new_param, new_velocity")
    )
    want_param, want_velocity = reference_momentum_step(param, grad, velocity, lr, beta)
    expect(
        not _close(new_param, param - lr * grad),
        "this is plain gradient descent: the velocity is not used. First update the velocity, "
        "v = beta * v + grad, then step along it: param - lr * v.",
    )
    expect(
        not _close(new_velocity, velocity),
        "the velocity came back unchanged: return the updated velocity beta * v + grad.",
    )
    expect(
        not _close(new_param, param - lr * velocity),
        "the step used the old velocity: update v = beta * v + grad first, then step with it.",
    )
    expect(
        not _close(new_velocity, beta * velocity + (1 - beta) * grad)
        or _close(new_velocity, want_velocity),
        "the velocity is an average, beta * v + (1 - beta) * grad; this chapter's momentum sums "
        "the gradients: v = beta * v + grad (the form PyTorch's SGD uses).",
    )
    expect(
        _close(new_velocity, want_velocity),
        "the new velocity should be beta * velocity + grad.",
    )
    expect(
        not _close(new_param, param + lr * want_velocity),
        "the step went uphill: the new param is param - lr * new_velocity (a minus sign).",
    )
    expect(
        _close(new_param, want_param),
        "the new param should be param - lr * new_velocity.",
    )
    return 5


momentum_step = Exercise(
    "ch04_momentum_step",
    "momentum_step",
    reference_momentum_step,
    _test_momentum_step,
    points=1,
    doc="Check exercise 4.1, `momentum_step(param, grad, velocity, lr, beta)`.",
)


# --- Exercise 4.2: Adam step with bias correction -----------------------------------------------


def reference_adam_step(
    param: np.ndarray,
    grad: np.ndarray,
    state: dict[str, Any],
    lr: float = 1e-3,
    beta1: float = 0.9,
    beta2: float = 0.999,
    eps: float = 1e-8,
) -> np.ndarray:
    """One Adam step; `state` holds m, v and t (steps taken so far) and is updated in place.
    Returns the new param."""
    state["t"] += 1  # this is step number t, counted from 1
    t = state["t"]
    state["m"] = beta1 * state["m"] + (1 - beta1) * grad  # running mean of gradients
    state["v"] = beta2 * state["v"] + (1 - beta2) * grad**2  # running mean of squared gradients
    m_hat = state["m"] / (1 - beta1**t)  # bias correction: m and v start at 0
    v_hat = state["v"] / (1 - beta2**t)
    return param - lr * m_hat / (np.sqrt(v_hat) + eps)


def _adam_variant(
    param: np.ndarray,
    grads: Sequence[np.ndarray],
    lr: float,
    beta1: float,
    beta2: float,
    eps: float,
    correct: bool | str = True,
    eps_inside: bool = False,
    swapped: bool = False,
    m_sums: bool = False,
    v_of_abs: bool = False,
) -> list[np.ndarray]:
    """Adam's trajectory over `grads`; `correct=False` drops the bias correction ("m" or "v":
    corrects that one only), `eps_inside` divides by sqrt(v_hat + eps) instead of
    sqrt(v_hat) + eps, `swapped` gives m the squares and v the gradients, `m_sums` makes m a sum
    (beta1 * m + grad), `v_of_abs` averages |grad| where grad**2 belongs."""
    m = np.zeros_like(param)
    v = np.zeros_like(param)
    out = []
    for t, grad in enumerate(grads, start=1):
        first, second = (grad**2, grad) if swapped else (grad, grad**2)
        if v_of_abs:
            second = np.abs(grad)
        m = beta1 * m + (1.0 if m_sums else 1 - beta1) * first
        v = beta2 * v + (1 - beta2) * second
        with np.errstate(all="ignore"):
            m_hat = m / (1 - beta1**t) if correct in (True, "m") else m
            v_hat = v / (1 - beta2**t) if correct in (True, "v") else v
            root = np.sqrt(v_hat + eps) if eps_inside else np.sqrt(v_hat) + eps
            param = param - lr * m_hat / root
        out.append(param)
    return out


# The signature's defaults, which the chapter's training loop relies on.
_ADAM_DEFAULTS = {"beta1": "0.9", "beta2": "0.999", "eps": "1e-8"}

_COUNTER_HINT = (
    "the step counter starts at 0: on the first step 1 - beta**0 = 0, so the bias correction "
    "divides by zero (or every correction is one step behind). Increment state['t'] first, so "
    "the first step is t = 1, then use that t in 1 - beta1**t and 1 - beta2**t."
)


def _adam_run(
    fn: Callable[..., Any], start: np.ndarray, grads: list[np.ndarray], hp: tuple[float, ...]
) -> tuple[list[np.ndarray], dict[str, Any]]:
    """The learner's params after each step from a fresh state, and the state at the end."""
    shape = start.shape
    state: dict[str, Any] = {"m": np.zeros(shape), "v": np.zeros(shape), "t": 0}
    param = start.copy()
    got = []
    for grad in grads:
        before = snapshot(grad)
        new = _call(fn, param.copy(), grad, state, *hp)  # a copy: `got` keeps every step
        # param may be updated in place (as the library's Adam does), as long as the new one
        # is returned too; grad must stay as it was.
        expect_unchanged("adam_step", ("grad",), before, (grad,))
        expect(
            new is not None,
            "adam_step returned None: return the new param (also when you updated param in "
            "place: end with return param).",
        )
        param = array_result(new, "adam_step")
        expect(
            param.shape == shape,
            f"adam_step should return the new param, an array of shape {shape}, got shape "
            f"{param.shape}.",
        )
        got.append(param)
    return got, state


def _test_adam_step(fn: Callable[..., Any]) -> int:
    rng = np.random.default_rng(40)
    shape = (4, 3)
    start = rng.normal(size=shape)
    grads = [rng.normal(size=shape) for _ in range(4)]
    lr, beta1, beta2, eps = 0.01, 0.9, 0.999, 1e-8
    hp = (lr, beta1, beta2, eps)
    got, state = _adam_run(fn, start, grads, hp)
    swapped = _adam_variant(start, grads, *hp, swapped=True)[0]
    expect(
        not np.allclose(got[0], swapped, rtol=1e-6, atol=1e-9, equal_nan=True),
        "m and v are swapped: m is the running mean of the gradients (with beta1), v of their "
        "squares (with beta2); the square root of a negative v gives nan.",
    )
    expect(all(np.all(np.isfinite(g)) for g in got), _COUNTER_HINT)
    expect(
        not _close(got[0], _adam_variant(start, grads, *hp, correct=False)[0]),
        "no bias correction: m and v start at zero, so early on they are far too small. Divide "
        "m by (1 - beta1**t) and v by (1 - beta2**t) before the update.",
    )
    swapped_correction = []
    m_, v_ = np.zeros(shape), np.zeros(shape)
    for t, grad in enumerate(grads[:1], start=1):
        m_ = beta1 * m_ + (1 - beta1) * grad
        v_ = beta2 * v_ + (1 - beta2) * grad**2
        root = np.sqrt(v_ / (1 - beta1**t)) + eps
        swapped_correction.append(start - lr * (m_ / (1 - beta2**t)) / root)
    expect(
        not _close(got[0], swapped_correction[0]),
        "the bias corrections are swapped: m is corrected with its own beta, "
        "m_hat = m / (1 - beta1**t), and v with beta2, v_hat = v / (1 - beta2**t).",
    )
    for only, other in (("m", "v"), ("v", "m")):
        expect(
            not _close(got[0], _adam_variant(start, grads, *hp, correct=only)[0]),
            f"only {only} is bias-corrected: {other} starts at zero too, so divide m by "
            "(1 - beta1**t) and v by (1 - beta2**t), both, before the update.",
        )
    expect(
        not _close(got[0], _adam_variant(start, grads, *hp, m_sums=True)[0]),
        "m sums the gradients (m = beta1 * m + grad, momentum's velocity); Adam's m is a "
        "running mean: m = beta1 * m + (1 - beta1) * grad, which the bias correction expects.",
    )
    expect(
        not _close(got[0], _adam_variant(start, grads, *hp, v_of_abs=True)[0]),
        "v averages |grad|; Adam's v is the running mean of the squared gradients, "
        "v = beta2 * v + (1 - beta2) * grad**2, whose square root is a gradient's size.",
    )
    # Each step's update, recomputed from the learner's own previous param, with t one behind.
    m, v, prev, behind = np.zeros(shape), np.zeros(shape), start, []
    for step, (grad, g) in enumerate(zip(grads, got, strict=True), start=1):
        m = beta1 * m + (1 - beta1) * grad
        v = beta2 * v + (1 - beta2) * grad**2
        if step > 1:
            lag = step - 1
            m_hat, v_hat = m / (1 - beta1**lag), v / (1 - beta2**lag)
            behind.append(_close(g, prev - lr * m_hat / (np.sqrt(v_hat) + eps)))
        prev = g
    expect(not all(behind), _COUNTER_HINT)
    t = state.get("t")
    expect(
        isinstance(t, (int, float, np.integer, np.floating)) and t == len(grads),
        f"after {len(grads)} steps state['t'] should be {len(grads)}, got {t!r}: add 1 to "
        "state['t'] on every step (and store it back in the dict).",
    )
    want = _adam_variant(start, grads, *hp)
    expect(
        _close(got[0], start - lr * np.sign(grads[0])),
        "the first step of Adam (with bias correction) moves every weight by about lr, against "
        "the sign of its gradient; yours does not. Compare your m_hat and v_hat with the formulas.",
    )
    expect(
        _close(state.get("m"), m) and _close(state.get("v"), v),
        f"after {len(grads)} steps state['m'] and state['v'] should hold the running means of "
        "the gradients and of their squares: store the new m and v back in the dict "
        "(state['m'] = ...), so the next step continues from them.",
    )
    for step, (g, w) in enumerate(zip(got, want, strict=True), start=1):
        expect(
            _close(g, w),
            f"step {step} differs from Adam's update param - lr * m_hat / (sqrt(v_hat) + eps); "
            "check that m uses beta1 and grad, and v uses beta2 and grad**2.",
        )

    # Gradients around 1e-6, the size many real gradients have: sqrt(v_hat) is then about 1e-6
    # too, and where eps sits decides the step.
    tiny = [g * 1e-6 for g in grads]
    got, _ = _adam_run(fn, start, tiny, hp)
    want = _adam_variant(start, tiny, *hp)
    expect(
        not _close(got[0], _adam_variant(start, tiny, *hp, eps_inside=True)[0])
        or _close(got[0], want[0]),
        "eps sits inside the square root: with gradients around 1e-6, sqrt(v_hat + eps) is "
        "about 1e-4 instead of 1e-6, and the steps come out 100 times too small. Divide by "
        "np.sqrt(v_hat) + eps.",
    )
    for step, (g, w) in enumerate(zip(got, want, strict=True), start=1):
        expect(
            _close(g, w),
            f"with gradients around 1e-6, step {step} differs from Adam's update "
            "param - lr * m_hat / (np.sqrt(v_hat) + eps).",
        )

    # An eps of 1e-6 with gradients around 1e-6: eps then changes every step by about half.
    got, _ = _adam_run(fn, start, tiny[:2], (lr, beta1, beta2, 1e-6))
    want = _adam_variant(start, tiny[:2], lr, beta1, beta2, 1e-6)
    if not all(_close(g, w) for g, w in zip(got, want, strict=True)):
        ignored = _adam_variant(start, tiny[:2], lr, beta1, beta2, 1e-8)
        expect(
            not all(_close(g, w) for g, w in zip(got, ignored, strict=True)),
            "eps=1e-6 made no difference: your step uses 1e-8 whatever eps is given. Use the "
            "eps argument in the denominator, np.sqrt(v_hat) + eps.",
        )
        expect(False, "with eps=1e-6 and gradients around 1e-6 the steps differ from Adam's.")

    # The chapter's training loop calls adam_step(w, grad, state, lr): beta1, beta2 and eps come
    # from the signature. Two steps with gradients around 1e-6: eps changes the first, beta1 and
    # beta2 the second (the bias correction makes the first the same for any betas).
    defaults = [float(value) for value in _ADAM_DEFAULTS.values()]
    want = _adam_variant(start, tiny[:2], lr, *defaults)
    got, _ = _adam_run(fn, start, tiny[:2], (lr,))
    if not all(_close(g, w) for g, w in zip(got, want, strict=True)):
        # Give the defaults one by one, by position as the check does: the first call that
        # comes out right names a default that is off.
        off = "eps"
        for n, name in enumerate(_ADAM_DEFAULTS, start=1):
            got, _ = _adam_run(fn, start, tiny[:2], (lr, *defaults[:n]))
            if all(_close(g, w) for g, w in zip(got, want, strict=True)):
                off = name
                break
        expect(
            False,
            f"adam_step(param, grad, state, lr), as the chapter's training loop calls it, takes "
            f"beta1, beta2 and eps from the signature, and your default for {off} is not "
            f"{_ADAM_DEFAULTS[off]}: keep the signature's defaults beta1=0.9, beta2=0.999, "
            "eps=1e-8 (those of PyTorch's Adam).",
        )
    return 2 * len(grads) + 8


adam_step = Exercise(
    "ch04_adam_step",
    "adam_step",
    reference_adam_step,
    _test_adam_step,
    points=2,
    doc="Check exercise 4.2, `adam_step(param, grad, state, lr, beta1, beta2, eps)`.",
)


# --- Exercise 4.3: clip by global norm ----------------------------------------------------------


def reference_clip_by_global_norm(
    grads: Sequence[np.ndarray], max_norm: float
) -> tuple[list[np.ndarray], float]:
    """Scale every gradient by the same factor so that their global L2 norm is at most `max_norm`.
    Returns (clipped gradients, norm before clipping)."""
    total = float(np.sqrt(sum(float(np.sum(g * g)) for g in grads)))  # one norm over all tensors
    scale = min(1.0, max_norm / (total + 1e-6))  # never scale up
    return [g * scale for g in grads], total


def _test_clip(fn: Callable[..., Any]) -> int:
    rng = np.random.default_rng(7)
    grads = [rng.normal(size=(3, 4)) * 3, rng.normal(size=(5,)), rng.normal(size=(2, 2)) * 0.1]
    max_norm = 2.0
    before = snapshot(grads)
    got = _call(fn, grads, max_norm)
    expect_unchanged("clip_by_global_norm", ("grads",), before, (grads,))
    clipped, total = sequence_result(got, 2, "clip_by_global_norm", "clipped_grads, total_norm")
    total = number_result(total, "clip_by_global_norm's total_norm")
    expect(
        isinstance(clipped, (list, tuple)) and len(clipped) == len(grads),
        f"clip_by_global_norm should return a list of {len(grads)} clipped gradients first, got "
        f"{type(clipped).__name__}.",
    )
    clipped = [array_result(c, "clip_by_global_norm") for c in clipped]
    want, want_total = reference_clip_by_global_norm(grads, max_norm)
    per_tensor = [g * min(1.0, max_norm / (np.linalg.norm(g) + 1e-6)) for g in grads]
    expect(
        not all(_close(c, p) for c, p in zip(clipped, per_tensor, strict=True)),
        "each tensor was clipped on its own (per tensor): that changes the direction of the whole "
        "gradient. Compute one global norm, sqrt of the sum of squares over all tensors, and scale "
        "every tensor by the same factor.",
    )
    expect(
        not np.isclose(total, want_total**2, rtol=1e-6),
        f"the norm before clipping is the square root of the sum of squares: you returned the "
        f"sum of squares itself ({total:.6f}; its square root is {want_total:.6f}).",
    )
    expect(
        not np.isclose(total, max_norm, rtol=1e-6),
        f"the norm returned is the norm after clipping ({total:.6f} = max_norm); return the "
        f"norm before clipping, {want_total:.6f}, which says how far the gradient was cut.",
    )
    expect(
        np.isclose(total, want_total, rtol=1e-6),
        f"the norm before clipping should be {want_total:.6f} (sqrt of the sum of every "
        f"gradient's squares), got {total:.6f}",
    )
    expect(
        all(_close(c, w) for c, w in zip(clipped, want, strict=True)),
        "the clipped gradients should be each gradient times max_norm / total_norm.",
    )
    small = [g * 0.01 for g in grads]
    got_small = sequence_result(_call(fn, small, max_norm), 2, "clip_by_global_norm", "...")[0]
    expect(
        isinstance(got_small, (list, tuple))
        and len(got_small) == len(small)
        and all(_close(c, g) for c, g in zip(got_small, small, strict=True)),
        "gradients whose global norm is already below max_norm must come back unchanged: clipping "
        "only ever scales down (scale = min(1, max_norm / norm)).",
    )
    return 4


clip_by_global_norm = Exercise(
    "ch04_clip_by_global_norm",
    "clip_by_global_norm",
    reference_clip_by_global_norm,
    _test_clip,
    points=1,
    doc="Check exercise 4.3, `clip_by_global_norm(grads, max_norm)`.",
)
