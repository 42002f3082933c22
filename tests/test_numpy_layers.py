"""Every NumPy layer's backward against finite differences in float64 (max relative error < 1e-6),
for every parameter and the input, with padding masks, repeated ids and each config option."""

from __future__ import annotations

import numpy as np
import pytest
from _numpy_helpers import TOL, check_module

from course_lib import ModelConfig
from course_lib.gradcheck import numerical_gradient, rel_error
from course_lib.numpy import (
    Embeddings,
    FeedForward,
    LayerNorm,
    OutputProjection,
    SelfAttention,
    TransformerBlock,
)

F64 = np.float64


def small(**options: object) -> ModelConfig:
    return ModelConfig(vocab_size=7, d_model=8, d_hidden=12, n_layers=2, max_seq_len=6, **options)


def inputs(b: int = 2, t: int = 5, d: int = 8, seed: int = 1) -> np.ndarray:
    return np.random.default_rng(seed).normal(size=(b, t, d))


PADDED = np.array([[True, True, True, True, True], [True, True, True, False, False]])


def assert_all_pass(errors: dict[str, float]) -> None:
    bad = {k: v for k, v in errors.items() if not v < TOL}
    assert not bad, f"relative errors above {TOL}: {bad}"


def test_layer_norm_backward_matches_finite_differences() -> None:
    layer = LayerNorm(8, dtype=F64)
    rng = np.random.default_rng(3)
    layer.weight[...] = rng.normal(size=8)  # not all ones, so dgamma matters
    layer.bias[...] = rng.normal(size=8)
    x = inputs() * 3 + 1
    errors = check_module(layer, x, layer.forward)
    assert set(errors) == {"x", "weight", "bias"}
    assert_all_pass(errors)


def test_feed_forward_backward_matches_finite_differences() -> None:
    layer = FeedForward(small(), seed=0, dtype=F64)
    assert_all_pass(check_module(layer, inputs(), layer.forward))


@pytest.mark.parametrize(
    "options",
    [{}, {"n_heads": 2}, {"n_heads": 4, "attn_out_proj": True}, {"attn_out_proj": True}],
    ids=["one-head", "two-heads", "four-heads-out-proj", "out-proj"],
)
@pytest.mark.parametrize("mask", [None, PADDED], ids=["no-padding", "padding"])
def test_attention_backward_matches_finite_differences(
    options: dict, mask: np.ndarray | None
) -> None:
    layer = SelfAttention(small(**options), seed=0, dtype=F64)
    errors = check_module(layer, inputs(), lambda x: layer.forward(x, mask))
    expected = {"x", "query.weight", "key.weight", "value.weight"}
    if options.get("attn_out_proj"):
        expected |= {"out.weight", "out.bias"}
    assert set(errors) == expected
    assert_all_pass(errors)


@pytest.mark.parametrize("norm", ["post", "pre"])
@pytest.mark.parametrize("n_heads", [1, 2])
def test_transformer_block_backward_matches_finite_differences(norm: str, n_heads: int) -> None:
    block = TransformerBlock(small(norm=norm, n_heads=n_heads, attn_out_proj=True), 0, F64)
    assert_all_pass(check_module(block, inputs(), lambda x: block.forward(x, PADDED)))


def test_output_projection_backward_matches_finite_differences() -> None:
    layer = OutputProjection(small(), seed=0, dtype=F64)
    layer.bias[...] = np.random.default_rng(5).normal(size=7)
    errors = check_module(layer, inputs(), layer.forward)
    assert set(errors) == {"x", "weight", "bias"}
    assert_all_pass(errors)


@pytest.mark.parametrize("positional", ["learned", "sinusoidal"])
def test_embeddings_backward_keeps_repeated_ids(positional: str) -> None:
    # oracle: finite differences of sum(E(ids) * G) with respect to both tables
    layer = Embeddings(small(positional=positional), seed=0, dtype=F64)
    ids = np.array([[3, 3, 1, 3, 0], [1, 0, 3, 5, 5]])  # id 3 four times, across rows too
    upstream = np.random.default_rng(2).normal(size=(2, 5, 8))
    layer.zero_grad()
    layer.forward(ids)
    assert layer.backward(upstream) is None  # ids have no gradient
    grads = {k: g.copy() for k, g in layer.gradients().items()}
    expected_keys = {"token.weight"} | ({"position.weight"} if positional == "learned" else set())
    assert set(grads) == expected_keys
    for name, param in layer.parameters().items():
        numeric = numerical_gradient(lambda _: float(np.sum(layer.forward(ids) * upstream)), param)
        assert rel_error(grads[name], numeric) < TOL, name
    # the lost-repeats mistake (table[ids] += grad) would differ from ours on row 3
    lost = np.zeros((7, 8))
    lost[ids.reshape(-1)] += upstream.reshape(-1, 8)
    assert rel_error(lost, grads["token.weight"]) > 0.1


def test_sinusoidal_positions_follow_the_formula() -> None:
    # oracle: the formula written out for two entries
    layer = Embeddings(small(positional="sinusoidal"), dtype=F64)
    table = layer.positions(6)
    assert table[3, 2] == pytest.approx(np.sin(3 / 10000 ** (2 / 8)))
    assert table[3, 3] == pytest.approx(np.cos(3 / 10000 ** (2 / 8)))
    assert "position.weight" not in layer.state_dict()


def test_attention_keeps_causal_weights_that_skip_padding() -> None:
    layer = SelfAttention(small(n_heads=2), seed=0, dtype=F64)
    layer.forward(inputs(), PADDED)
    w = layer.weights
    assert w.shape == (2, 2, 5, 5)
    np.testing.assert_allclose(w.sum(-1), 1.0)
    assert np.all(np.triu(w, k=1) == 0)  # no position looks ahead
    assert np.all(w[1, :, :3, 3:] == 0)  # real tokens never look at padding
    assert np.all(np.isfinite(w))  # padded rows still have a finite distribution


def test_attention_heads_are_independent_slices() -> None:
    # oracle: two heads of width 4 == two single-head attentions on the column halves
    cfg = small(n_heads=2)
    layer = SelfAttention(cfg, seed=0, dtype=F64)
    x = inputs()
    out = layer.forward(x)
    q, k, v = (x @ m.weight.T for m in (layer.query, layer.key, layer.value))
    for h in range(2):
        cols = slice(4 * h, 4 * h + 4)
        scores = q[..., cols] @ k[..., cols].transpose(0, 2, 1) / 2.0
        scores = np.where(np.triu(np.ones((5, 5), bool), 1), -np.inf, scores)
        w = np.exp(scores - scores.max(-1, keepdims=True))
        w /= w.sum(-1, keepdims=True)
        np.testing.assert_allclose(out[..., cols], w @ v[..., cols], atol=1e-12)
