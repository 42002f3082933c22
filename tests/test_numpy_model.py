"""The whole NumPy LLM: finite-difference gradient checks of every parameter through the loss,
state_dict keys and shapes, loading, hidden states - and the reference's two gradient mistakes,
re-created on purpose, failing the same check."""

from __future__ import annotations

import numpy as np
import pytest
from _numpy_helpers import TOL, check_module

from course_lib import ModelConfig
from course_lib.gradcheck import numerical_gradient, rel_error
from course_lib.numpy import LLM, LayerNorm, SelfAttention, cross_entropy

F64 = np.float64


def small(**options: object) -> ModelConfig:
    return ModelConfig(vocab_size=7, d_model=8, d_hidden=12, n_layers=2, max_seq_len=6, **options)


# two sequences, the second padded; id 4 repeats within and across rows
IDS = np.array([[3, 4, 4, 6, 4], [4, 5, 3, 0, 0]])
TARGETS = np.array([[4, 4, 6, 4, 1], [5, 3, 1, 0, 0]])
MASK = IDS != 0


def llm_errors(model: LLM) -> dict[str, float]:
    """Relative error of every parameter's gradient of the masked cross-entropy."""

    def loss(_: np.ndarray) -> float:
        return cross_entropy(model(IDS, MASK), TARGETS, ignore_index=0)[0]

    model.zero_grad()
    _, grad = cross_entropy(model(IDS, MASK), TARGETS, ignore_index=0)
    model.backward(grad)
    analytic = {name: g.copy() for name, g in model.gradients().items()}
    # Five-point differences: a whole model's gradient has entries ~1e-6 of its largest, below
    # what plain central differences resolve to 1e-6 relative error in float64.
    return {
        name: model_rel_error(analytic[name], numerical_gradient(loss, param, h=1e-4, order=4))
        for name, param in model.parameters().items()
    }


def model_rel_error(analytic: np.ndarray, numeric: np.ndarray) -> float:
    """rel_error over the entries the float64 differences resolve: those above ABS_FLOOR. The rest
    (the pad token's row is exactly 0; the differences give +-1e-12 of rounding) must agree to
    ABS_FLOOR in absolute terms, so a wrong small entry still fails (returned as 1.0)."""
    small_entries = np.abs(analytic) + np.abs(numeric) < ABS_FLOOR
    if np.any(np.abs(analytic - numeric)[small_entries] > ABS_FLOOR):
        return 1.0
    return rel_error(analytic[~small_entries], numeric[~small_entries])


ABS_FLOOR = 1e-9


def test_every_llm_gradient_matches_finite_differences(model_options: dict) -> None:
    model = LLM(small(**model_options), seed=0, dtype=F64)
    rng = np.random.default_rng(1)
    for name, p in model.parameters().items():
        if name.startswith("embeddings"):  # N(0, 1) instead of N(0, 0.02): attention not uniform
            p[...] = rng.normal(size=p.shape)
        elif name.endswith("bias") or "norm" in name:  # off 0 and 1, so they matter
            p += rng.normal(scale=0.3, size=p.shape)
    errors = llm_errors(model)
    assert set(errors) == set(model.state_dict())
    bad = {k: v for k, v in errors.items() if not v < TOL}
    assert not bad, f"relative errors above {TOL}: {bad}"


@pytest.mark.parametrize("dtype", [np.float32, F64])
def test_backward_writing_gradients_gives_zero_grad_then_backward(
    model_options: dict, dtype: type
) -> None:
    # oracle: zero_grad() then backward(grad), the loop the chapters write. With
    # accumulate=False every gradient is written instead - also the rows no id used, the tied
    # table both layers add to and the positions past the batch's length - over stale numbers.
    model = LLM(small(**model_options), seed=0, dtype=dtype)
    _, grad = cross_entropy(model(IDS, MASK), TARGETS, ignore_index=0)
    model.zero_grad()
    model.backward(grad)
    expected = {name: g.copy() for name, g in model.gradients().items()}
    model.flat_gradients[...] = np.random.default_rng(3).normal(size=model.flat_gradients.shape)
    _, grad = cross_entropy(model(IDS, MASK), TARGETS, ignore_index=0)
    model.backward(grad, accumulate=False)
    for name, g in model.gradients().items():
        assert np.array_equal(g, expected[name]), name
    model.backward(grad)  # and the default still adds to them
    added = {name: g.copy() for name, g in model.gradients().items()}
    model.zero_grad()
    model.backward(grad)
    model.backward(grad)
    for name, g in model.gradients().items():
        assert np.array_equal(added[name], g), name


def test_llm_input_gradient_matches_finite_differences() -> None:
    # LLM.backward returns d loss / d (embeddings' output); check it through the blocks
    model = LLM(small(n_heads=2), seed=0, dtype=F64)
    x = model.embeddings(IDS)

    def rest(h: np.ndarray) -> np.ndarray:
        for block in model.blocks:
            h = block(h, MASK)
        return model.output(h)

    _, grad = cross_entropy(rest(x), TARGETS)
    model.zero_grad()
    dx = model.backward(grad)
    numeric = numerical_gradient(lambda _: cross_entropy(rest(x), TARGETS)[0], x)
    assert rel_error(dx, numeric) < TOL


def test_padding_does_not_change_the_real_tokens_logits() -> None:
    # oracle: the same sequence alone, without padding
    model = LLM(small(), seed=0, dtype=F64)
    alone = model(IDS[1:, :3])
    padded = model(IDS, MASK)[1:, :3]
    np.testing.assert_allclose(padded, alone, atol=1e-12)


# ----------------------------------------------------------------------------- the two mistakes


class MissingScaleAttention(SelfAttention):
    """The reference's mistake: the backward forgets the 1/sqrt(head_dim) of the scores."""

    def backward(self, grad: np.ndarray, accumulate: bool = True) -> np.ndarray:
        if not accumulate:  # this layer only adds to its gradients
            self.zero_grad()
        x2, q, k, v, w = self._cache
        d_heads = self._split(grad)
        d_w = d_heads @ v.transpose(0, 1, 3, 2)
        dv = w.transpose(0, 1, 3, 2) @ d_heads
        d_scores = w * (d_w - (d_w * w).sum(-1, keepdims=True))  # no "* 1/sqrt(d)" here
        dq, dk = d_scores @ k, d_scores.transpose(0, 1, 3, 2) @ q
        d_qkv = np.concatenate([self._merge(dq), self._merge(dk), self._merge(dv)], axis=-1)
        d_qkv = d_qkv.reshape(x2.shape[0], -1)  # (B*T, 3D)
        weight, weight_grad = self._qkv_weight()
        weight_grad += d_qkv.T @ x2
        return (d_qkv @ weight).reshape(grad.shape)


class VarianceTermLayerNorm(LayerNorm):
    """The reference's mistake: the variance path uses x_hat where x - mean belongs, and std + eps
    where sqrt(var + eps) belongs."""

    def forward(self, x: np.ndarray) -> np.ndarray:
        self._x = x
        return super().forward(x)

    def backward(self, grad: np.ndarray, accumulate: bool = True) -> np.ndarray:
        if not accumulate:  # this layer only adds to its gradients
            self.zero_grad()
        x_hat, inv_std = self._cache
        x = self._x
        n = x.shape[-1]
        var = x.var(-1, keepdims=True)
        std = np.sqrt(var)
        self._grads["weight"] += (grad * x_hat).reshape(-1, n).sum(0)
        self._grads["bias"] += grad.reshape(-1, n).sum(0)
        d_xhat = grad * self.weight
        d_var = np.sum(d_xhat * x_hat, -1, keepdims=True) * -0.5 * (var + self.eps) ** -1.5
        d_mean = -np.sum(d_xhat, -1, keepdims=True) / (std + self.eps)
        return d_xhat / (std + self.eps) + d_var * 2 * x_hat / n + d_mean / n


def test_gradient_check_catches_the_missing_attention_scale() -> None:
    x = np.random.default_rng(1).normal(size=(2, 5, 8))
    cfg = small()
    ours = SelfAttention(cfg, seed=0, dtype=F64)
    buggy = MissingScaleAttention(cfg, seed=0, dtype=F64)
    good = check_module(ours, x.copy(), ours.forward)
    bad = check_module(buggy, x.copy(), buggy.forward)
    assert max(good.values()) < TOL
    # dW_q and dW_k come out sqrt(8) times too large: relative error (s-1)/(s+1) = 0.48
    expected = (np.sqrt(8) - 1) / (np.sqrt(8) + 1)
    for name in ("query.weight", "key.weight"):
        assert bad[name] == pytest.approx(expected, rel=1e-3)
    assert bad["value.weight"] < TOL  # the value path has no scale: the check pins the culprit
    assert bad["x"] > 1e-2


def test_gradient_check_catches_the_layer_norm_variance_term() -> None:
    x = np.random.default_rng(2).normal(loc=1.0, scale=3.0, size=(2, 5, 8))
    ours, buggy = LayerNorm(8, dtype=F64), VarianceTermLayerNorm(8, dtype=F64)
    good = check_module(ours, x.copy(), ours.forward)
    bad = check_module(buggy, x.copy(), buggy.forward)
    assert max(good.values()) < TOL
    assert bad["x"] > 1e-2  # caught: the input gradient is wrong
    assert bad["weight"] < TOL and bad["bias"] < TOL  # the parameters' gradients were right


def test_the_mistakes_also_fail_the_whole_model_check() -> None:
    model = LLM(small(), seed=0, dtype=F64)
    for block in model.blocks:  # swap the layers' classes for the mistaken ones
        block.attention.__class__ = MissingScaleAttention
    errors = llm_errors(model)
    assert errors["blocks.0.attention.query.weight"] > 1e-2


# ----------------------------------------------------------------------------- state and shapes


def test_state_dict_has_the_contributing_keys_and_shapes() -> None:
    cfg = ModelConfig(vocab_size=11, d_model=8, d_hidden=12, n_layers=2, max_seq_len=6)
    state = LLM(cfg).state_dict()
    expected = {
        "embeddings.token.weight": (11, 8),
        "embeddings.position.weight": (6, 8),
        "output.weight": (11, 8),
        "output.bias": (11,),
    }
    for i in range(2):
        p = f"blocks.{i}."
        expected |= {
            p + "attention.query.weight": (8, 8),
            p + "attention.key.weight": (8, 8),
            p + "attention.value.weight": (8, 8),
            p + "norm1.weight": (8,),
            p + "norm1.bias": (8,),
            p + "feed_forward.up.weight": (12, 8),
            p + "feed_forward.up.bias": (12,),
            p + "feed_forward.down.weight": (8, 12),
            p + "feed_forward.down.bias": (8,),
            p + "norm2.weight": (8,),
            p + "norm2.bias": (8,),
        }
    assert {k: v.shape for k, v in state.items()} == expected
    assert all(v.dtype == np.float32 for v in state.values())


def test_options_add_and_remove_the_documented_keys() -> None:
    state = LLM(small(norm="pre", positional="sinusoidal", tie_weights=True, attn_out_proj=True))
    keys = set(state.state_dict())
    assert {"final_norm.weight", "final_norm.bias", "blocks.1.attention.out.weight"} <= keys
    assert "blocks.1.attention.out.bias" in keys
    assert "embeddings.position.weight" not in keys and "output.weight" not in keys


def test_reference_size_has_the_reference_parameter_count() -> None:
    # oracle: FACTS.md, 493,973 parameters for vocab 533
    assert LLM(ModelConfig(vocab_size=533)).num_parameters() == 493_973


def test_state_dict_is_a_copy_and_load_round_trips() -> None:
    a, b = LLM(small(), seed=0), LLM(small(), seed=1)
    state = a.state_dict()
    state["output.bias"][:] = 7.0
    assert not np.any(a.output.bias == 7.0)  # a copy, not the live array
    b.load_state_dict(a.state_dict())
    np.testing.assert_array_equal(b(IDS), a(IDS))


def test_load_state_dict_rejects_mismatches_and_changes_nothing() -> None:
    model = LLM(small(), seed=0)
    before = model.state_dict()
    for mutate, message in [
        (lambda s: s.pop("output.bias"), "missing"),
        (lambda s: s.update(extra=np.zeros(3)), "unexpected"),
        (lambda s: s.update({"output.bias": np.zeros(8)}), "shape"),
        (lambda s: s.update({"output.bias": np.array(["x"] * 7)}), "dtype"),
    ]:
        state = LLM(small(), seed=5).state_dict()
        mutate(state)
        with pytest.raises(ValueError, match=message):
            model.load_state_dict(state)
        after = model.state_dict()
        assert all(np.array_equal(before[k], after[k]) for k in before)


def test_load_state_dict_casts_float64_into_a_float32_model() -> None:
    model = LLM(small(), seed=0)
    model.load_state_dict(LLM(small(), seed=3, dtype=F64).state_dict())
    assert model.output.bias.dtype == np.float32
    np.testing.assert_allclose(model(IDS), LLM(small(), seed=3, dtype=F64)(IDS), atol=1e-5)


def test_hidden_states_and_attention_weights_have_the_documented_shapes() -> None:
    model = LLM(small(n_heads=2), seed=0)
    states = model.hidden_states(IDS, MASK)
    assert [s.shape for s in states] == [(2, 5, 8)] * 3
    logits = model(IDS, MASK)
    assert logits.shape == (2, 5, 7) and logits.dtype == np.float32
    assert [b.attention.weights.shape for b in model.blocks] == [(2, 2, 5, 5)] * 2
    # post-norm: the last block's output is what the output projection reads
    np.testing.assert_allclose(model.output(states[-1]), logits, rtol=1e-6)


def test_same_seed_same_weights_other_seed_other_weights() -> None:
    a, b, c = LLM(small(), seed=4), LLM(small(), seed=4), LLM(small(), seed=5)
    assert all(np.array_equal(a.state_dict()[k], b.state_dict()[k]) for k in a.state_dict())
    assert not np.array_equal(a.state_dict()["output.weight"], c.state_dict()["output.weight"])


def test_bad_inputs_get_clear_errors() -> None:
    model = LLM(small())
    with pytest.raises(ValueError, match="max_seq_len"):
        model(np.ones((1, 7), dtype=int))
    with pytest.raises(ValueError, match="token ids must be in"):
        model(np.array([[1, 9]]))
    with pytest.raises(ValueError, match="mask"):
        model(IDS, MASK[:, :3])
    with pytest.raises(TypeError, match="ModelConfig"):
        LLM({"vocab_size": 7})


def test_checkpoint_round_trip_gives_the_same_logits(tmp_path) -> None:  # noqa: ANN001
    from course_lib.numpy import load_checkpoint, save_checkpoint
    from course_lib.vocab import Vocab

    vocab = Vocab.build(["a b c d </s>"])
    model = LLM(ModelConfig(vocab_size=len(vocab), d_model=8, d_hidden=8, n_layers=1), seed=2)
    path = save_checkpoint(tmp_path / "model.npz", model, vocab)
    loaded, loaded_vocab = load_checkpoint(path)
    assert isinstance(loaded, LLM) and len(loaded_vocab) == len(vocab)
    ids = np.array([[3, 4, 5]])
    np.testing.assert_array_equal(loaded(ids), model(ids))


def test_every_child_module_holds_its_slice_of_the_flat_parameters() -> None:
    # oracle: the child's own named parameters, laid out one after the other
    model = LLM(small(), seed=0)
    for child in (model.blocks[1].attention, model.blocks[0].feed_forward.up, model.output):
        own = np.concatenate([p.ravel() for p in child.parameters().values()])
        np.testing.assert_array_equal(child.flat_parameters, own)
        assert np.shares_memory(child.flat_parameters, model.flat_parameters)
        assert np.shares_memory(child.flat_gradients, model.flat_gradients)


def test_ids_with_no_positions_give_empty_logits_like_torch() -> None:
    # torch.nn layers return (batch, 0, vocab) for ids of shape (batch, 0); so does this model
    model = LLM(small(), seed=0)
    logits = model(np.zeros((2, 0), dtype=np.int64))
    assert logits.shape == (2, 0, small().vocab_size)
    assert [h.shape for h in model.hidden_states(np.zeros((2, 0), dtype=np.int64))] == [
        (2, 0, small().d_model)
    ] * (small().n_layers + 1)
