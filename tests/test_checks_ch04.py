"""Chapter 04's checks: right answers pass, each usual mistake fails with its own hint, and an
unsolved exercise hands back the reference.

Oracle: the right answers are written here from the textbook formulas, independently of the
references in `course_lib.checks.ch04`; Adam is also compared with `course_lib.numpy.Adam`.
"""

from __future__ import annotations

import numpy as np
import pytest

from course_lib.checks import CheckFailed, ch04
from course_lib.numpy import Adam

# ----------------------------------------------------------------------------- right answers


def good_momentum(param, grad, velocity, lr, beta=0.9):
    v = beta * velocity + grad
    return param - lr * v, v


def good_adam(param, grad, state, lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-8):
    state["t"] = state["t"] + 1
    state["m"] = beta1 * state["m"] + (1 - beta1) * grad
    state["v"] = beta2 * state["v"] + (1 - beta2) * grad * grad
    m_hat = state["m"] / (1 - beta1 ** state["t"])
    v_hat = state["v"] / (1 - beta2 ** state["t"])
    return param - lr * m_hat / (np.sqrt(v_hat) + eps)


def good_clip(grads, max_norm):
    total = np.sqrt(sum((g**2).sum() for g in grads))
    scale = min(1.0, max_norm / (total + 1e-6))
    return [g * scale for g in grads], total


# ----------------------------------------------------------------------------- usual mistakes


def sgd_not_momentum(param, grad, velocity, lr, beta=0.9):
    return param - lr * grad, velocity


def adam_without_bias_correction(param, grad, state, lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-8):
    state["t"] += 1
    state["m"] = beta1 * state["m"] + (1 - beta1) * grad
    state["v"] = beta2 * state["v"] + (1 - beta2) * grad * grad
    return param - lr * state["m"] / (np.sqrt(state["v"]) + eps)


def adam_counter_from_zero(param, grad, state, lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-8):
    t = state["t"]  # used before it is incremented: the first step has t = 0
    state["m"] = beta1 * state["m"] + (1 - beta1) * grad
    state["v"] = beta2 * state["v"] + (1 - beta2) * grad * grad
    m_hat = state["m"] / (1 - beta1**t)
    v_hat = state["v"] / (1 - beta2**t)
    state["t"] += 1
    return param - lr * m_hat / (np.sqrt(v_hat) + eps)


def adam_counter_from_zero_guarded(param, grad, state, lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-8):
    t = max(state["t"], 1) if state["t"] == 0 else state["t"]  # t lags one step behind after 1
    state["m"] = beta1 * state["m"] + (1 - beta1) * grad
    state["v"] = beta2 * state["v"] + (1 - beta2) * grad * grad
    m_hat = state["m"] / (1 - beta1**t)
    v_hat = state["v"] / (1 - beta2**t)
    state["t"] += 1
    return param - lr * m_hat / (np.sqrt(v_hat) + eps)


def clip_per_tensor(grads, max_norm):
    total = np.sqrt(sum((g**2).sum() for g in grads))
    return [g * min(1.0, max_norm / (np.linalg.norm(g) + 1e-6)) for g in grads], total


def clip_scales_up(grads, max_norm):
    total = np.sqrt(sum((g**2).sum() for g in grads))
    return [g * max_norm / total for g in grads], total


def unsolved(*args, **kwargs):
    raise NotImplementedError()


# ----------------------------------------------------------------------------- tests


def test_momentum_right_answer_passes():
    assert ch04.momentum_step(good_momentum) is good_momentum


def test_momentum_without_velocity_is_named_plain_gradient_descent():
    with pytest.raises(CheckFailed, match="plain gradient descent"):
        ch04.momentum_step(sgd_not_momentum)


def test_adam_right_answer_passes():
    assert ch04.adam_step(good_adam) is good_adam


def test_adam_reference_matches_the_library_adam():
    rng = np.random.default_rng(0)
    param = rng.normal(size=(3, 2))
    lib_param, lib_grad = param.copy(), np.zeros_like(param)
    opt = Adam([(lib_param, lib_grad)], lr=0.01)
    state = {"m": np.zeros_like(param), "v": np.zeros_like(param), "t": 0}
    for _ in range(5):
        g = rng.normal(size=param.shape)
        lib_grad[...] = g
        opt.step()
        param = ch04.reference_adam_step(param, g, state, lr=0.01)
    np.testing.assert_allclose(param, lib_param, rtol=1e-10)


def test_adam_without_bias_correction_is_named():
    with pytest.raises(CheckFailed, match="no bias correction"):
        ch04.adam_step(adam_without_bias_correction)


def test_adam_counter_from_zero_is_named():
    with pytest.raises(CheckFailed, match="step counter starts at 0"):
        ch04.adam_step(adam_counter_from_zero)


def test_adam_counter_one_step_behind_is_named():
    with pytest.raises(CheckFailed, match="step counter starts at 0"):
        ch04.adam_step(adam_counter_from_zero_guarded)


def test_clip_right_answer_passes():
    assert ch04.clip_by_global_norm(good_clip) is good_clip


def test_clip_per_tensor_is_named():
    with pytest.raises(CheckFailed, match="per tensor"):
        ch04.clip_by_global_norm(clip_per_tensor)


def test_clip_scaling_up_is_named():
    with pytest.raises(CheckFailed, match="only ever scales down"):
        ch04.clip_by_global_norm(clip_scales_up)
