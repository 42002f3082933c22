"""Chapter 05's checks: right answers pass, each usual mistake fails with its own hint, and an
unsolved exercise hands back the reference.

Oracle: the right answers here are written independently of `course_lib.checks.ch05`; the
cross-entropy reference is also compared with `course_lib.numpy.cross_entropy`, and the
probabilities with `course_lib.sampling.next_token_distribution`.
"""

from __future__ import annotations

import numpy as np
import pytest

from course_lib import numpy as cl
from course_lib.checks import CheckFailed, ch05
from course_lib.sampling import next_token_distribution

# ----------------------------------------------------------------------------- right answers


def good_cross_entropy(logits, targets, pad_id=0):
    m = logits.max(axis=-1, keepdims=True)
    lse = m[..., 0] + np.log(np.exp(logits - m).sum(axis=-1))
    picked = np.take_along_axis(logits, targets[..., None], axis=-1)[..., 0]
    keep = targets != pad_id
    return float((lse - picked)[keep].mean())


def good_train_step(model, optimizer, inputs, targets, mask, clip=5.0):
    loss, grad = cl.cross_entropy(model(inputs, mask), targets)
    model.zero_grad()
    model.backward(grad)
    cl.clip_grad_norm(model, clip)
    optimizer.step()
    return loss


def good_probabilities(logits, temperature=1.0, top_k=None):
    z = logits / temperature
    if top_k is not None:
        z = np.where(z >= np.sort(z)[-top_k], z, -np.inf)
    e = np.exp(z - z.max())
    return e / e.sum()


# ----------------------------------------------------------------------------- usual mistakes


def ce_log_of_softmax(logits, targets, pad_id=0):
    p = np.exp(logits) / np.exp(logits).sum(axis=-1, keepdims=True)  # overflows, then log(0)
    picked = np.take_along_axis(p, targets[..., None], axis=-1)[..., 0]
    keep = targets != pad_id
    return float(-np.log(picked)[keep].mean())


def ce_shifted_softmax_then_log(logits, targets, pad_id=0):
    e = np.exp(logits - logits.max(axis=-1, keepdims=True))  # no overflow, but p underflows to 0
    p = e / e.sum(axis=-1, keepdims=True)
    picked = np.take_along_axis(p, targets[..., None], axis=-1)[..., 0]
    keep = targets != pad_id
    return float(-np.log(picked)[keep].mean())


def ce_padding_counted(logits, targets, pad_id=0):
    return good_cross_entropy(logits, targets, pad_id=-1)


def ce_divided_by_all_positions(logits, targets, pad_id=0):
    keep = targets != pad_id
    return good_cross_entropy(logits, targets, pad_id) * keep.sum() / keep.size


def step_without_zero_grad(model, optimizer, inputs, targets, mask, clip=5.0):
    loss, grad = cl.cross_entropy(model(inputs, mask), targets)
    model.backward(grad)
    cl.clip_grad_norm(model, clip)
    optimizer.step()
    return loss


def step_without_clip(model, optimizer, inputs, targets, mask, clip=5.0):
    loss, grad = cl.cross_entropy(model(inputs, mask), targets)
    model.zero_grad()
    model.backward(grad)
    optimizer.step()
    return loss


def step_without_update(model, optimizer, inputs, targets, mask, clip=5.0):
    loss, grad = cl.cross_entropy(model(inputs, mask), targets)
    model.zero_grad()
    model.backward(grad)
    return loss


def probabilities_times_temperature(logits, temperature=1.0, top_k=None):
    return good_probabilities(logits * temperature * temperature, temperature, top_k)


def probabilities_bottom_k(logits, temperature=1.0, top_k=None):
    z = logits / temperature
    if top_k is not None:
        z = np.where(z <= np.sort(z)[top_k - 1], z, -np.inf)
    e = np.exp(z - z.max())
    return e / e.sum()


def unsolved(*args, **kwargs):
    raise NotImplementedError()


# ----------------------------------------------------------------------------- tests


def test_cross_entropy_reference_matches_the_library():
    rng = np.random.default_rng(1)
    logits = rng.normal(size=(3, 5, 7)) * 50
    targets = rng.integers(0, 7, size=(3, 5))
    targets[0, 0] = 3
    assert np.isclose(
        ch05.reference_cross_entropy(logits, targets), cl.cross_entropy(logits, targets)[0]
    )


def test_cross_entropy_right_answer_passes():
    assert ch05.cross_entropy(good_cross_entropy) is good_cross_entropy


@pytest.mark.parametrize("wrong", [ce_log_of_softmax, ce_shifted_softmax_then_log])
def test_cross_entropy_log_of_zero_is_named(wrong):
    with pytest.raises(CheckFailed, match="log-sum-exp"):
        ch05.cross_entropy(wrong)


def test_cross_entropy_counting_padding_is_named():
    with pytest.raises(CheckFailed, match="padding positions"):
        ch05.cross_entropy(ce_padding_counted)


def test_cross_entropy_dividing_by_all_positions_is_named():
    with pytest.raises(CheckFailed, match="number of real"):
        ch05.cross_entropy(ce_divided_by_all_positions)


def test_train_step_right_answer_passes():
    assert ch05.train_step(good_train_step) is good_train_step


def test_train_step_without_zero_grad_is_named():
    with pytest.raises(CheckFailed, match="zero_grad"):
        ch05.train_step(step_without_zero_grad)


def test_train_step_without_clipping_is_named():
    with pytest.raises(CheckFailed, match="not clipped"):
        ch05.train_step(step_without_clip)


def test_train_step_without_optimizer_step_is_named():
    with pytest.raises(CheckFailed, match="optimizer.step"):
        ch05.train_step(step_without_update)


def test_probabilities_reference_matches_the_library():
    logits = np.array([0.3, 2.0, -1.0, 1.5])
    for t, k in [(1.0, None), (0.5, 2), (2.0, 3)]:
        np.testing.assert_allclose(
            ch05.reference_next_token_probs(logits, t, k),
            next_token_distribution(logits, t, k),
        )


def test_probabilities_right_answer_passes():
    assert ch05.next_token_probs(good_probabilities) is good_probabilities


def test_probabilities_multiplying_by_temperature_is_named():
    with pytest.raises(CheckFailed, match="multiplied by the temperature"):
        ch05.next_token_probs(probabilities_times_temperature)


def test_probabilities_keeping_the_smallest_is_named():
    with pytest.raises(CheckFailed, match="wrong tokens"):
        ch05.next_token_probs(probabilities_bottom_k)
