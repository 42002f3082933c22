"""The references behind chapter 03's block-building checks (exercises 3.7-3.10 and the "derive
it" variants) are the library's own layers, so a check that compares with them compares with
the model the chapter goes on to use. Their answers - valid solutions and planted mistakes -
are in `tests/check_corpus/ch03_block.py`, run by `test_check_corpus.py`.

Oracle: the library's layers (`cl.FeedForward`, `cl.TransformerBlock`) with the same weights.
"""

from __future__ import annotations

import numpy as np
import pytest

from course_lib import numpy as cl
from course_lib.checks import ch03
from course_lib.config import ModelConfig


@pytest.mark.parametrize("norm", ["post", "pre"])
@pytest.mark.parametrize("n_heads", [1, 2])
def test_reference_block_is_the_library_block(norm: str, n_heads: int) -> None:
    config = ModelConfig(
        vocab_size=10, d_model=8, d_hidden=12, max_seq_len=8, n_heads=n_heads, norm=norm
    )
    library = cl.TransformerBlock(config, seed=1, dtype=np.float64)
    params = ch03.block_params(7)
    library.load_state_dict(params)
    x = np.random.default_rng(2).normal(size=(2, 6, 8))
    assert np.allclose(ch03.reference_block_forward(x, params, n_heads, norm), library.forward(x))


@pytest.mark.parametrize("shape", [(2, 5, 6), (5, 6)], ids=["batch", "one sequence"])
def test_reference_feed_forward_and_backward_are_the_library_layer(shape) -> None:
    config = ModelConfig(vocab_size=10, d_model=6, d_hidden=10)
    layer = cl.FeedForward(config, seed=3, dtype=np.float64)
    p = layer.state_dict()
    rng = np.random.default_rng(4)
    x, grad = rng.normal(size=shape), rng.normal(size=shape)
    out = ch03.reference_feed_forward(
        x, p["up.weight"], p["up.bias"], p["down.weight"], p["down.bias"]
    )
    assert np.allclose(out, layer.forward(x))
    dx, dw_up, db_up, dw_down, db_down = ch03.reference_feed_forward_backward(
        grad, x, p["up.weight"], p["up.bias"], p["down.weight"]
    )
    layer.zero_grad()
    assert np.allclose(dx, layer.backward(grad))
    grads = layer.gradients()
    for name, value in (("up.weight", dw_up), ("up.bias", db_up), ("down.weight", dw_down)):
        assert np.allclose(value, grads[name]), name
    assert np.allclose(db_down, grads["down.bias"])


def test_reference_merge_heads_undoes_split_heads() -> None:
    x = np.random.default_rng(5).normal(size=(2, 7, 12))
    assert np.array_equal(ch03.reference_merge_heads(ch03.reference_split_heads(x, 3)), x)


def test_the_derived_variants_count_for_no_points() -> None:
    assert ch03.layer_norm_backward_derived.points == 0
    assert ch03.attention_backward_derived.points == 0


def off_by_a_tenth_dx(grad_out, x, gamma, eps=1e-5):
    """Layer norm backward whose dx is 1.1 times the right one: no usual mistake."""
    dx, dgamma, dbeta = ch03.reference_layer_norm_backward(grad_out, x, gamma, eps)
    return dx * 1.1, dgamma, dbeta


def off_by_a_tenth_dq(grad_out, q, k, v, weights):
    """Attention backward whose dq alone is 1.1 times the right one."""
    dq, dk, dv = ch03.reference_attention_backward(grad_out, q, k, v, weights)
    return dq * 1.1, dk, dv


@pytest.mark.parametrize(
    ("exercise", "wrong", "formula"),
    [
        (ch03.layer_norm_backward_derived, off_by_a_tenth_dx, "mean(g * x_hat)"),
        (ch03.attention_backward_derived, off_by_a_tenth_dq, "d_scores @ k"),
    ],
)
def test_a_derive_it_check_points_at_a_step_without_printing_the_formula(
    exercise, wrong, formula
) -> None:
    # Oracle: the formula exercises 3.5 and 3.6 print, which their own checks' hints quote.
    derived = exercise.run(wrong)
    assert derived.status == "fail"
    assert formula not in derived.message and "go back" in derived.message.lower()
    printed = {ch03.layer_norm_backward_derived: ch03.layer_norm_backward}
    printed[ch03.attention_backward_derived] = ch03.attention_backward
    assert formula in printed[exercise].run(wrong).message


@pytest.mark.parametrize(
    ("exercise", "swap"),
    [
        (ch03.layer_norm_backward_derived, lambda g: (g[0], g[2], g[1])),
        (ch03.attention_backward_derived, lambda g: (g[2], g[1], g[0])),
    ],
)
def test_a_derive_it_check_names_the_derived_function(exercise, swap) -> None:
    def returned_in_another_order(*args):
        return swap(exercise.reference(*args))

    outcome = exercise.run(returned_in_another_order)
    assert outcome.message.startswith(f"{exercise.name} returned the right gradients in the wrong")
