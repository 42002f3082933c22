"""The NumPy layers against PyTorch's own modules, with weights loaded from the NumPy state_dict.

Oracles: `torch.nn.LayerNorm`, `torch.nn.Linear`, `torch.nn.Embedding`,
`torch.nn.functional.scaled_dot_product_attention(is_causal=True)` and
`torch.nn.functional.cross_entropy(ignore_index=...)`. Forward outputs and (through autograd) the
gradients of the NumPy backward passes are compared in float64.
"""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")
F = torch.nn.functional

from course_lib import numpy as cn  # noqa: E402
from course_lib.config import ModelConfig  # noqa: E402

TOL = 1e-10


def tensor_state(module: cn.Module) -> dict[str, torch.Tensor]:
    return {k: torch.as_tensor(v) for k, v in module.state_dict().items()}


def randomise(module: cn.Module, seed: int) -> None:
    """Fill every parameter with N(0, 1) numbers (the defaults, ones and zeros, hide mistakes)."""
    rng = np.random.default_rng(seed)
    module.load_state_dict({k: rng.normal(size=v.shape) for k, v in module.state_dict().items()})


def close(a: np.ndarray, b: torch.Tensor) -> bool:
    return a.shape == tuple(b.shape) and float(np.max(np.abs(a - b.detach().numpy()))) < TOL


def test_layer_norm_matches_torch_nn_layer_norm_forward_and_backward() -> None:
    ours = cn.LayerNorm(6, eps=1e-5, dtype=np.float64)
    randomise(ours, 0)
    theirs = torch.nn.LayerNorm(6, eps=1e-5, dtype=torch.float64)
    theirs.load_state_dict(tensor_state(ours))
    rng = np.random.default_rng(1)
    x = rng.normal(2.0, 3.0, size=(2, 5, 6))
    upstream = rng.normal(size=(2, 5, 6))
    x_t = torch.tensor(x, requires_grad=True)
    out_t = theirs(x_t)
    out_t.backward(torch.tensor(upstream))
    assert close(ours(x), out_t)
    ours.zero_grad()
    assert close(ours.backward(upstream), x_t.grad)
    assert close(ours.gradients()["weight"], theirs.weight.grad)
    assert close(ours.gradients()["bias"], theirs.bias.grad)


@pytest.mark.parametrize("bias", [True, False])
def test_linear_matches_torch_nn_linear_forward_and_backward(bias: bool) -> None:
    ours = cn.Linear(5, 3, bias=bias, seed=0, dtype=np.float64)
    randomise(ours, 2)
    theirs = torch.nn.Linear(5, 3, bias=bias, dtype=torch.float64)
    theirs.load_state_dict(tensor_state(ours))
    rng = np.random.default_rng(3)
    x = rng.normal(size=(2, 4, 5))
    upstream = rng.normal(size=(2, 4, 3))
    x_t = torch.tensor(x, requires_grad=True)
    theirs(x_t).backward(torch.tensor(upstream))
    assert close(ours(x), theirs(x_t))
    ours.zero_grad()
    assert close(ours.backward(upstream), x_t.grad)
    assert close(ours.gradients()["weight"], theirs.weight.grad)
    if bias:
        assert close(ours.gradients()["bias"], theirs.bias.grad)


def test_token_embedding_matches_torch_nn_embedding_with_repeated_ids() -> None:
    cfg = ModelConfig(vocab_size=9, d_model=4, max_seq_len=6, positional="sinusoidal")
    ours = cn.Embeddings(cfg, seed=0, dtype=np.float64)
    theirs = torch.nn.Embedding(9, 4, dtype=torch.float64)
    theirs.load_state_dict({"weight": torch.as_tensor(ours.state_dict()["token.weight"])})
    ids = np.array([[1, 3, 3, 3, 8], [3, 0, 1, 1, 2]])  # 3 four times, 1 three times
    upstream = np.random.default_rng(4).normal(size=(2, 5, 4))
    out_t = theirs(torch.as_tensor(ids))
    out_t.backward(torch.tensor(upstream))
    positions = cn.sinusoidal_positions(6, 4)[:5]
    assert close(ours(ids) - positions, out_t)  # sinusoids are the only other term
    ours.zero_grad()
    ours.backward(upstream)
    assert close(ours.gradients()["token.weight"], theirs.weight.grad)


def test_learned_position_embedding_matches_torch_nn_embedding_of_positions() -> None:
    cfg = ModelConfig(vocab_size=9, d_model=4, max_seq_len=6)
    ours = cn.Embeddings(cfg, seed=1, dtype=np.float64)
    state = ours.state_dict()
    tokens = torch.nn.Embedding(9, 4, dtype=torch.float64)
    positions = torch.nn.Embedding(6, 4, dtype=torch.float64)
    tokens.load_state_dict({"weight": torch.as_tensor(state["token.weight"])})
    positions.load_state_dict({"weight": torch.as_tensor(state["position.weight"])})
    ids = np.array([[4, 4, 2], [0, 7, 4]])
    upstream = np.random.default_rng(5).normal(size=(2, 3, 4))
    out_t = tokens(torch.as_tensor(ids)) + positions(torch.arange(3))
    out_t.backward(torch.tensor(upstream))
    assert close(ours(ids), out_t)
    ours.zero_grad()
    ours.backward(upstream)
    assert close(ours.gradients()["position.weight"], positions.weight.grad)
    assert close(ours.gradients()["token.weight"], tokens.weight.grad)


@pytest.mark.parametrize("n_heads", [1, 2, 4])
def test_attention_matches_scaled_dot_product_attention_is_causal(n_heads: int) -> None:
    cfg = ModelConfig(vocab_size=5, d_model=8, n_heads=n_heads, max_seq_len=7)
    ours = cn.SelfAttention(cfg, seed=0, dtype=np.float64)
    randomise(ours, 6)
    state = tensor_state(ours)
    rng = np.random.default_rng(7)
    x = rng.normal(size=(3, 7, 8))
    upstream = rng.normal(size=(3, 7, 8))
    x_t = torch.tensor(x, requires_grad=True)
    weights = {k: w.clone().requires_grad_(True) for k, w in state.items()}

    def heads(w: torch.Tensor) -> torch.Tensor:  # (B, T, D) -> (B, H, T, hd)
        return (x_t @ w.T).view(3, 7, n_heads, 8 // n_heads).transpose(1, 2)

    q, k, v = (heads(weights[f"{name}.weight"]) for name in ("query", "key", "value"))
    out_t = F.scaled_dot_product_attention(q, k, v, is_causal=True)  # scale 1/sqrt(hd)
    out_t = out_t.transpose(1, 2).reshape(3, 7, 8)
    out_t.backward(torch.tensor(upstream))

    assert close(ours(x, np.ones((3, 7), dtype=bool)), out_t)
    ours.zero_grad()
    assert close(ours.backward(upstream), x_t.grad)
    for name, grad in ours.gradients().items():
        assert close(grad, weights[name].grad), name


def test_cross_entropy_matches_torch_cross_entropy_with_ignore_index() -> None:
    rng = np.random.default_rng(8)
    logits = rng.normal(0.0, 4.0, size=(3, 6, 11))
    targets = rng.integers(0, 11, size=(3, 6))
    targets[0, 4:] = 0
    targets[2, 1:] = 0  # padding (id 0) is ignored: not in the mean, no gradient
    loss, grad = cn.cross_entropy(logits, targets, ignore_index=0)
    logits_t = torch.tensor(logits, requires_grad=True)
    loss_t = F.cross_entropy(
        logits_t.reshape(-1, 11), torch.as_tensor(targets).reshape(-1), ignore_index=0
    )
    loss_t.backward()
    assert abs(loss - float(loss_t.detach())) < TOL
    assert close(grad, logits_t.grad)


def test_cross_entropy_without_ignore_index_matches_torch_mean() -> None:
    rng = np.random.default_rng(9)
    logits = rng.normal(size=(4, 7))
    targets = np.array([0, 3, 6, 0])
    loss, grad = cn.cross_entropy(logits, targets, ignore_index=None)
    logits_t = torch.tensor(logits, requires_grad=True)
    loss_t = F.cross_entropy(logits_t, torch.as_tensor(targets))
    loss_t.backward()
    assert abs(loss - float(loss_t.detach())) < TOL
    assert close(grad, logits_t.grad)
