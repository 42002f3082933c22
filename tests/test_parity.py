"""The NumPy and the PyTorch backend agree: logits, every gradient, Adam, clipping, training.

Oracle: PyTorch autograd and `torch.optim.Adam`, run on the very same weights and batches as the
NumPy backend's hand-written code. Tolerances are issue 4's: logits 1e-10 (float64) and 1e-5
(float32), gradients 1e-8, Adam 1e-10 over 100 steps, training losses 1e-6 over 20 steps.
"""

from __future__ import annotations

import numpy as np
import pytest
from conftest import MODEL_OPTIONS

torch = pytest.importorskip("torch")

from course_lib import numpy as cn  # noqa: E402
from course_lib import torch as ct  # noqa: E402
from course_lib.batching import encode_texts, make_batches  # noqa: E402
from course_lib.config import ModelConfig  # noqa: E402
from course_lib.vocab import Vocab  # noqa: E402

VOCAB = 17
SMALL = dict(vocab_size=VOCAB, d_model=8, d_hidden=12, n_layers=2, max_seq_len=10)
CONFIGS = MODEL_OPTIONS  # tests/conftest.py


def config(name: str) -> ModelConfig:
    return ModelConfig(**SMALL, **CONFIGS[name])


def batch() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(ids, targets, mask) (3, 8): right padding, repeated ids, one full row."""
    ids = np.array(
        [
            [3, 4, 4, 5, 6, 0, 0, 0],
            [7, 8, 9, 10, 11, 12, 13, 14],
            [5, 5, 5, 16, 0, 0, 0, 0],
        ]
    )
    mask = ids != 0
    targets = np.where(mask, np.roll(ids, -1, axis=1), 0)
    targets[1, -1] = 1  # the full row ends with </s>
    targets[mask & (targets == 0)] = 1
    return ids, targets, mask


def twins(cfg: ModelConfig, dtype: str, seed: int = 3) -> tuple[cn.LLM, ct.LLM]:
    """A NumPy and a torch model with the same weights (the torch one loads the NumPy state)."""
    numpy_model = cn.LLM(cfg, seed=seed, dtype=np.dtype(dtype))
    torch_model = ct.LLM(cfg, seed=seed + 100, dtype=getattr(torch, dtype))
    state = {k: torch.as_tensor(v) for k, v in numpy_model.state_dict().items()}
    torch_model.load_state_dict(state, strict=True)
    return numpy_model, torch_model


def scaled_max_diff(a: np.ndarray, b: np.ndarray) -> float:
    """max |a - b| over max(1, max |b|): absolute for small values, relative for large ones."""
    return float(np.max(np.abs(a - b)) / max(1.0, float(np.max(np.abs(b)))))


# ------------------------------------------------------------------------- weights and logits


@pytest.mark.parametrize("name", CONFIGS)
def test_same_seed_gives_the_same_initial_weights_and_keys(name: str) -> None:
    cfg = config(name)
    numpy_state = cn.LLM(cfg, seed=11, dtype=np.float64).state_dict()
    torch_state = ct.LLM(cfg, seed=11, dtype=torch.float64).state_dict()
    assert list(numpy_state) == list(torch_state)
    for key, value in numpy_state.items():
        np.testing.assert_array_equal(torch_state[key].numpy(), value, err_msg=key)


@pytest.mark.parametrize("use_sdpa", [False, True], ids=["explicit", "sdpa"])
@pytest.mark.parametrize("name", CONFIGS)
def test_logits_agree_in_float64(name: str, use_sdpa: bool) -> None:
    numpy_model, torch_model = twins(config(name), "float64")
    torch_model.set_sdpa(use_sdpa)
    ids, _, mask = batch()
    expected = numpy_model(ids, mask)
    with torch.no_grad():
        got = torch_model(torch.as_tensor(ids), torch.as_tensor(mask)).numpy()
    assert np.max(np.abs(got - expected)) < 1e-10


@pytest.mark.parametrize("use_sdpa", [False, True], ids=["explicit", "sdpa"])
@pytest.mark.parametrize("name", CONFIGS)
def test_logits_agree_in_float32(name: str, use_sdpa: bool) -> None:
    numpy_model, torch_model = twins(config(name), "float32")
    torch_model.set_sdpa(use_sdpa)
    ids, _, mask = batch()
    expected = numpy_model(ids, mask)
    assert expected.dtype == np.float32
    with torch.no_grad():
        got = torch_model(torch.as_tensor(ids), torch.as_tensor(mask)).numpy()
    assert got.dtype == np.float32
    assert np.max(np.abs(got - expected)) < 1e-5


@pytest.mark.parametrize("use_sdpa", [False, True], ids=["explicit", "sdpa"])
@pytest.mark.parametrize("name", ["reference", "everything"])
def test_attention_weights_and_hidden_states_agree(name: str, use_sdpa: bool) -> None:
    numpy_model, torch_model = twins(config(name), "float64")
    torch_model.set_sdpa(use_sdpa)
    ids, _, mask = batch()
    numpy_states = numpy_model.hidden_states(ids, mask)
    with torch.no_grad():
        torch_states = torch_model.hidden_states(torch.as_tensor(ids), torch.as_tensor(mask))
    assert len(torch_states) == len(numpy_states) == SMALL["n_layers"] + 1
    for a, b in zip(torch_states, numpy_states, strict=True):
        assert np.max(np.abs(a.numpy() - b)) < 1e-10
    for numpy_block, torch_block in zip(numpy_model.blocks, torch_model.blocks, strict=True):
        weights = torch_block.attention.weights
        assert weights is not None and tuple(weights.shape) == numpy_block.attention.weights.shape
        assert np.max(np.abs(weights.numpy() - numpy_block.attention.weights)) < 1e-12


# ------------------------------------------------------------------------- gradients


@pytest.mark.parametrize("name", CONFIGS)
def test_every_numpy_gradient_equals_torch_autograd(name: str) -> None:
    numpy_model, torch_model = twins(config(name), "float64")
    ids, targets, mask = batch()

    logits = numpy_model(ids, mask)
    loss, grad_logits = cn.cross_entropy(logits, targets, ignore_index=0)
    numpy_model.zero_grad()
    grad_embedded = numpy_model.backward(grad_logits)  # d loss / d (embeddings' output)

    embedded: list[torch.Tensor] = []

    def keep(module: object, inputs: object, output: torch.Tensor) -> None:
        output.retain_grad()
        embedded.append(output)

    hook = torch_model.embeddings.register_forward_hook(keep)
    torch_logits = torch_model(torch.as_tensor(ids), torch.as_tensor(mask))
    hook.remove()
    torch_loss = ct.cross_entropy(torch_logits, torch.as_tensor(targets), ignore_index=0)
    torch_loss.backward()

    assert abs(float(torch_loss.detach()) - loss) < 1e-12
    assert scaled_max_diff(grad_embedded, embedded[0].grad.numpy()) < 1e-8
    numpy_grads = numpy_model.gradients()
    torch_grads = {k: p.grad for k, p in torch_model.named_parameters()}
    assert set(numpy_grads) == set(torch_grads)
    for key, value in numpy_grads.items():
        expected = torch_grads[key].numpy()
        assert np.any(expected != 0), f"{key}: torch's gradient is zero, the test sees nothing"
        assert scaled_max_diff(value, expected) < 1e-8, key


def test_cross_entropy_loss_and_gradient_agree() -> None:
    rng = np.random.default_rng(0)
    logits = rng.normal(0, 3, size=(2, 5, 7))
    logits[0, 0, 3] = 1e4  # huge logits must not overflow
    targets = rng.integers(1, 7, size=(2, 5))
    targets[1, 3:] = 0  # padding, ignored
    loss, grad = cn.cross_entropy(logits, targets, ignore_index=0)
    tensor = torch.tensor(logits, requires_grad=True)
    torch_loss = ct.cross_entropy(tensor, torch.as_tensor(targets), ignore_index=0)
    torch_loss.backward()
    assert abs(float(torch_loss.detach()) - loss) < 1e-12
    assert np.max(np.abs(tensor.grad.numpy() - grad)) < 1e-12
    assert np.all(grad[1, 3:] == 0)


# ------------------------------------------------------------------------- Adam and clipping


@pytest.mark.parametrize("weight_decay", [0.0, 0.01])
def test_numpy_adam_follows_torch_adam_for_100_steps(weight_decay: float) -> None:
    rng = np.random.default_rng(5)
    shapes = [(4, 3), (3,), (2, 2, 2)]
    numpy_params = [rng.normal(size=s) for s in shapes]
    numpy_grads = [np.zeros(s) for s in shapes]
    torch_params = [torch.tensor(p.copy(), requires_grad=True) for p in numpy_params]
    settings = dict(lr=1e-2, betas=(0.8, 0.99), eps=1e-8, weight_decay=weight_decay)
    numpy_adam = cn.Adam(list(zip(numpy_params, numpy_grads, strict=True)), **settings)
    torch_adam = torch.optim.Adam(torch_params, **settings)
    for _ in range(100):
        for numpy_grad, torch_param in zip(numpy_grads, torch_params, strict=True):
            numpy_grad[...] = rng.normal(scale=rng.choice([1e-4, 1.0, 30.0]), size=numpy_grad.shape)
            torch_param.grad = torch.tensor(numpy_grad.copy())
        numpy_adam.step()
        torch_adam.step()
        for numpy_param, torch_param in zip(numpy_params, torch_params, strict=True):
            assert np.max(np.abs(numpy_param - torch_param.detach().numpy())) < 1e-10


def test_the_torch_backends_adam_is_torch_adam_with_the_numpy_defaults() -> None:
    model = ct.LLM(config("reference"), dtype=torch.float64)
    adam = ct.Adam(model, lr=5e-4)
    assert isinstance(adam, torch.optim.Adam)
    group = adam.param_groups[0]
    numpy_adam = cn.Adam(cn.LLM(config("reference"), dtype=np.float64), lr=5e-4)
    assert group["lr"] == numpy_adam.lr and tuple(group["betas"]) == numpy_adam.betas
    assert group["eps"] == numpy_adam.eps and group["weight_decay"] == numpy_adam.weight_decay
    assert len(group["params"]) == len(list(model.parameters()))


@pytest.mark.parametrize("scale", [0.01, 100.0], ids=["below_max", "clipped"])
def test_clip_grad_norm_agrees(scale: float) -> None:
    rng = np.random.default_rng(1)
    grads = [rng.normal(scale=scale, size=s) for s in [(3, 4), (5,)]]
    numpy_pairs = [(np.zeros_like(g), g.copy()) for g in grads]
    torch_params = [torch.zeros(g.shape, dtype=torch.float64, requires_grad=True) for g in grads]
    for param, g in zip(torch_params, grads, strict=True):
        param.grad = torch.tensor(g.copy())
    numpy_norm = cn.clip_grad_norm(numpy_pairs, 5.0)
    torch_norm = ct.clip_grad_norm(torch_params, 5.0)
    assert abs(numpy_norm - torch_norm) < 1e-10
    assert (numpy_norm > 5.0) == (scale > 1)
    for (_, numpy_grad), param in zip(numpy_pairs, torch_params, strict=True):
        assert np.max(np.abs(numpy_grad - param.grad.numpy())) < 1e-12
    clipped = np.sqrt(sum(float(np.sum(g * g)) for _, g in numpy_pairs))
    assert clipped <= 5.0 + 1e-9


# ------------------------------------------------------------------------- training


TEXTS = [
    "the sea is blue </s>",
    "the sky is grey when rain comes </s>",
    "fish swim in the sea </s>",
    "rain falls from the grey sky </s>",
    "the sun is warm </s>",
    "birds fly over the blue sea </s>",
]


@pytest.mark.parametrize("name", ["reference", "everything"])
def test_twenty_training_steps_give_the_same_losses(name: str) -> None:
    vocab = Vocab.build(TEXTS)
    cfg = ModelConfig(**{**SMALL, **CONFIGS[name], "vocab_size": len(vocab)})
    numpy_model, torch_model = twins(cfg, "float64")
    numpy_adam = cn.Adam(numpy_model, lr=1e-2)
    torch_adam = ct.Adam(torch_model, lr=1e-2)
    sequences = encode_texts(vocab, TEXTS)
    rng = np.random.default_rng(0)
    numpy_losses, torch_losses = [], []
    while len(numpy_losses) < 20:
        for inputs, targets, mask in make_batches(sequences, 3, rng=rng):
            numpy_losses.append(cn.train_step(numpy_model, numpy_adam, inputs, targets, mask))
            torch_losses.append(ct.train_step(torch_model, torch_adam, inputs, targets, mask))
    assert numpy_losses[19] < numpy_losses[0] - 0.3  # it learns, so the steps matter
    np.testing.assert_allclose(torch_losses[:20], numpy_losses[:20], rtol=0, atol=1e-6)


def test_clipping_at_five_is_applied_the_same_way_in_training() -> None:
    """A learning rate that drives large gradients: both backends clip, and still agree."""
    vocab = Vocab.build(TEXTS)
    cfg = ModelConfig(**{**SMALL, "vocab_size": len(vocab)})
    numpy_model, torch_model = twins(cfg, "float64")
    numpy_model.output.bias[...] = 40.0 * np.arange(len(vocab)) / len(vocab)  # big, wrong logits
    with torch.no_grad():
        torch_model.output.bias.copy_(torch.as_tensor(numpy_model.output.bias))
    inputs, targets, mask = next(make_batches(encode_texts(vocab, TEXTS), 6, shuffle=False))
    logits = numpy_model(inputs, mask)
    _, grad = cn.cross_entropy(logits, targets)
    numpy_model.zero_grad()
    numpy_model.backward(grad)
    assert cn.clip_grad_norm(numpy_model, float("inf")) > 5.0  # so clipping does trigger
    numpy_loss = cn.train_step(numpy_model, cn.Adam(numpy_model, lr=1e-3), inputs, targets, mask)
    torch_loss = ct.train_step(torch_model, ct.Adam(torch_model, lr=1e-3), inputs, targets, mask)
    assert abs(numpy_loss - torch_loss) < 1e-10
    after = torch_model.state_dict()
    for key, value in numpy_model.state_dict().items():
        assert np.max(np.abs(after[key].numpy() - value)) < 1e-10, key


@pytest.mark.parametrize("buckets", [False, True], ids=["random_batches", "length_buckets"])
def test_train_schedule_gives_the_same_epoch_losses_on_both_backends(buckets: bool) -> None:
    """Same seed, same shuffled order (course_lib.batching), same Adam kept across phases."""
    vocab = Vocab.build(TEXTS)
    cfg = ModelConfig(**{**SMALL, "vocab_size": len(vocab)})
    numpy_model, torch_model = twins(cfg, "float64")
    settings = dict(
        pretrain_epochs=3,
        chat_epochs=2,
        pretrain_lr=5e-3,
        chat_lr=1e-3,
        batch_size=4,
        seed=7,
        buckets=buckets,
    )
    numpy_run = cn.train_schedule(
        numpy_model, vocab, TEXTS[:4], TEXTS[2:], progress=False, **settings
    )
    torch_run = ct.train_schedule(
        torch_model, vocab, TEXTS[:4], TEXTS[2:], progress=False, **settings
    )
    for numpy_losses, torch_losses in zip(numpy_run, torch_run, strict=True):
        np.testing.assert_allclose(torch_losses, numpy_losses, rtol=0, atol=1e-6)


def test_generate_writes_the_same_text_on_both_backends() -> None:
    vocab = Vocab.build(TEXTS)
    cfg = ModelConfig(**{**SMALL, "vocab_size": len(vocab)})
    numpy_model, torch_model = twins(cfg, "float64")
    for kwargs in (dict(), dict(temperature=1.5, seed=4), dict(temperature=0.8, top_k=3, seed=9)):
        expected = cn.generate(numpy_model, vocab, "the sea", **kwargs)
        assert ct.generate(torch_model, vocab, "the sea", **kwargs) == expected
        assert expected  # the untrained model writes something (no </s> at once)


def test_numpy_adam_over_a_whole_flat_model_follows_torch_adam() -> None:
    # The update runs over the model's one flat buffer: a model of three blocks, 30 steps.
    cfg = ModelConfig(vocab_size=300, d_model=64, d_hidden=256, n_layers=3, max_seq_len=16)
    numpy_model, torch_model = twins(cfg, "float64")
    assert numpy_model.flat_parameters is not None
    numpy_adam = cn.Adam(numpy_model, lr=1e-2)
    torch_adam = torch.optim.Adam(torch_model.parameters(), lr=1e-2)
    named = dict(torch_model.named_parameters())
    rng = np.random.default_rng(0)
    for _ in range(30):
        numpy_model.flat_gradients[...] = rng.normal(size=numpy_model.flat_gradients.shape)
        for key, grad in numpy_model.gradients().items():
            named[key].grad = torch.tensor(grad.copy())
        numpy_adam.step()
        torch_adam.step()
    for key, value in numpy_model.state_dict().items():
        assert np.max(np.abs(value - named[key].detach().numpy())) < 1e-10, key


@pytest.mark.parametrize("scale", [0.01, 100.0], ids=["below_max", "clipped"])
def test_clip_step_zero_equals_clip_then_step_then_zero_grad(scale: float) -> None:
    # oracle: the three calls one after the other, on a twin model with the same gradients
    cfg = ModelConfig(vocab_size=300, d_model=64, d_hidden=128, n_layers=2, max_seq_len=16)
    fused_model, model = cn.LLM(cfg, seed=2), cn.LLM(cfg, seed=2)
    fused_adam, adam = cn.Adam(fused_model, lr=1e-2), cn.Adam(model, lr=1e-2)
    rng = np.random.default_rng(0)
    for _ in range(3):
        grads = rng.normal(scale=scale, size=model.flat_gradients.shape)
        fused_model.flat_gradients[...] = grads
        model.flat_gradients[...] = grads
        fused_norm = fused_adam.clip_step_zero(5.0)
        norm = cn.clip_grad_norm(model, 5.0)
        adam.step()
        model.zero_grad()
        assert fused_norm == pytest.approx(norm, rel=1e-6)
        np.testing.assert_array_equal(fused_model.flat_parameters, model.flat_parameters)
        assert not fused_model.flat_gradients.any()


@pytest.mark.parametrize("scale", [0.01, 100.0], ids=["below_max", "clipped"])
def test_train_step_gives_the_numbers_of_clip_grad_norm_then_step(scale: float) -> None:
    # oracle: the documented recipe, forward, loss, zero_grad, backward, clip_grad_norm, step,
    # on a twin model; train_step folds the clipping into Adam's pass and must not change a bit
    vocab = Vocab.build(TEXTS)
    cfg = ModelConfig(**{**SMALL, "vocab_size": len(vocab)})
    fast, plain = cn.LLM(cfg, seed=4), cn.LLM(cfg, seed=4)
    fast_adam, plain_adam = cn.Adam(fast, lr=1e-2), cn.Adam(plain, lr=1e-2)
    fast.output.bias[...] = plain.output.bias[...] = scale * np.arange(len(vocab)) / len(vocab)
    for inputs, targets, mask in make_batches(encode_texts(vocab, TEXTS), 3, rng=1):
        loss = cn.train_step(fast, fast_adam, inputs, targets, mask)
        expected, grad = cn.cross_entropy(plain(inputs, mask), targets)
        plain.zero_grad()
        plain.backward(grad)
        cn.clip_grad_norm(plain, 5.0)
        plain_adam.step()
        assert loss == expected
        np.testing.assert_array_equal(fast.flat_parameters, plain.flat_parameters)
