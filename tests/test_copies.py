"""A model, its optimizer and a key/value cache survive `copy.deepcopy` and pickle (both backends).

Learners copy a model to keep the best one. In the NumPy backend every parameter is a view into
one flat array (attention reads query, key and value through it as one matrix, Adam updates the
whole array in one pass); a copy must keep those views tied, or loading weights into the copy
misses some layers and Adam on the copy moves nothing.

Oracles: the model whose weights are loaded into the copy (same logits, exactly); the original
continued the same way as the copy (same weights and logits, exactly: same backend, same
arithmetic); and the original left untouched by whatever happens to the copy.
"""

from __future__ import annotations

import copy
import pickle
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

from course_lib.backends import forward, load_state, to_numpy
from course_lib.config import ModelConfig

CONFIG = ModelConfig(vocab_size=40, d_model=16, d_hidden=32, n_layers=2, n_heads=2, max_seq_len=12)
IDS = np.array([[3, 4, 5, 6, 7], [8, 9, 10, 0, 0]])
MASK = IDS != 0
TARGETS = np.array([[4, 5, 6, 7, 1], [9, 10, 1, 0, 0]])

COPIES: dict[str, Callable[[Any], Any]] = {
    "deepcopy": copy.deepcopy,
    "pickle": lambda obj: pickle.loads(pickle.dumps(obj)),
}


def backend(name: str) -> Any:
    if name == "torch":
        pytest.importorskip("torch")
        from course_lib import torch as cl
    else:
        from course_lib import numpy as cl
    return cl


@pytest.fixture(params=["numpy", "torch"])
def cl(request: pytest.FixtureRequest) -> Any:
    return backend(request.param)


@pytest.fixture(params=list(COPIES), ids=list(COPIES))
def copier(request: pytest.FixtureRequest) -> Callable[[Any], Any]:
    return COPIES[request.param]


def weights(model: Any) -> dict[str, np.ndarray]:
    return {name: to_numpy(value, None) for name, value in model.state_dict().items()}


def step(cl: Any, model: Any, optimizer: Any) -> None:
    """One training step (clipped) on the fixed batch."""
    cl.train_step(model, optimizer, IDS, TARGETS, MASK, clip=1.0)


@pytest.mark.parametrize(
    "options", [{}, {"norm": "pre", "tie_weights": True, "attn_out_proj": True}]
)
def test_weights_loaded_into_a_copy_reach_every_layer(
    cl: Any, copier: Callable, options: dict
) -> None:
    config = ModelConfig(**{**CONFIG.to_dict(), **options})
    source, other = cl.LLM(config, seed=0), cl.LLM(config, seed=1)
    duplicate = copier(source)
    load_state(duplicate, weights(other))
    np.testing.assert_array_equal(forward(duplicate, IDS, MASK), forward(other, IDS, MASK))


def test_a_copy_gives_the_original_logits_and_changing_it_leaves_the_original(
    cl: Any, copier: Callable
) -> None:
    model = cl.LLM(CONFIG, seed=0)
    before = forward(model, IDS, MASK)
    duplicate = copier(model)
    np.testing.assert_array_equal(forward(duplicate, IDS, MASK), before)
    load_state(duplicate, weights(cl.LLM(CONFIG, seed=1)))
    np.testing.assert_array_equal(forward(model, IDS, MASK), before)


def test_adam_made_for_a_copy_moves_every_weight_of_the_copy(cl: Any, copier: Callable) -> None:
    duplicate = copier(cl.LLM(CONFIG, seed=0))
    start = weights(duplicate)
    step(cl, duplicate, cl.Adam(duplicate, lr=1e-2))
    unmoved = [
        name for name, value in weights(duplicate).items() if np.array_equal(value, start[name])
    ]
    assert unmoved == []


def test_a_model_and_its_optimizer_copied_together_train_on_like_the_original(
    cl: Any, copier: Callable
) -> None:
    model = cl.LLM(CONFIG, seed=0)
    optimizer = cl.Adam(model, lr=1e-2)
    step(cl, model, optimizer)
    model_copy, optimizer_copy = copier((model, optimizer))
    for _ in range(2):
        step(cl, model, optimizer)
        step(cl, model_copy, optimizer_copy)
    copied = weights(model_copy)
    for name, value in weights(model).items():
        np.testing.assert_array_equal(copied[name], value, err_msg=name)


def test_an_optimizer_copied_alone_updates_the_copy_of_its_model(copier: Callable) -> None:
    cl = backend("numpy")
    model = cl.LLM(CONFIG, seed=0)
    optimizer = cl.Adam(model, lr=1e-2)
    start = weights(model)
    optimizer_copy = copier(optimizer)
    step(cl, optimizer_copy.module, optimizer_copy)
    assert all(np.array_equal(value, start[name]) for name, value in weights(model).items())
    moved = weights(optimizer_copy.module)
    assert all(not np.array_equal(moved[name], value) for name, value in start.items())


def test_gradients_survive_a_copy_and_zero_grad_on_the_copy_clears_them_all(
    copier: Callable,
) -> None:
    cl = backend("numpy")
    model = cl.LLM(CONFIG, seed=0)
    _, grad = cl.cross_entropy(model(IDS, MASK), TARGETS)
    model.backward(grad)
    duplicate = copier(model)
    for name, value in model.gradients().items():
        np.testing.assert_array_equal(duplicate.gradients()[name], value, err_msg=name)
    duplicate.zero_grad()
    assert all(not g.any() for g in duplicate.gradients().values())
    assert any(g.any() for g in model.gradients().values())


def test_a_cache_copied_mid_text_continues_like_the_original(cl: Any, copier: Callable) -> None:
    model = cl.LLM(CONFIG, seed=0)
    if cl.__name__.endswith("torch"):
        import torch

        def run(ids: np.ndarray, cache: Any) -> np.ndarray:
            with torch.no_grad():
                return to_numpy(model(torch.as_tensor(ids, device=model.device), cache=cache))

        def new_cache() -> Any:
            return cl.KVCache(CONFIG, 3, model.dtype, model.device)
    else:

        def run(ids: np.ndarray, cache: Any) -> np.ndarray:
            return model(ids, cache=cache)

        def new_cache() -> Any:
            return cl.KVCache(CONFIG, 3)

    prompt, after = np.array([[3, 4, 5], [6, 7, 8], [9, 10, 11]]), np.array([[12], [13]])
    caches = []
    for _ in range(2):
        caches.append(new_cache())
        run(prompt, caches[-1])
        caches[-1].keep([2, 0])  # drop a row: the arrays kept are views in the NumPy backend
    expected = run(after, caches[0])  # oracle: the same steps, no copy
    duplicate = copier(caches[1])
    run(np.array([[14], [15]]), duplicate)  # the copy goes its own way first
    np.testing.assert_array_equal(run(after, caches[1]), expected)
    other = copier(caches[1])  # and a copy continues as the original did
    np.testing.assert_array_equal(
        run(np.array([[16], [17]]), other), run(np.array([[16], [17]]), caches[1])
    )


def addresses(model: Any) -> dict[str, int]:
    """Where each parameter's numbers live in memory."""
    if hasattr(model, "named_parameters"):  # torch
        return {name: p.data_ptr() for name, p in model.named_parameters()}
    return {name: p.__array_interface__["data"][0] for name, p in model.parameters().items()}


def test_a_shallow_copy_shares_the_weights_as_before(cl: Any) -> None:
    model = cl.LLM(CONFIG, seed=0)
    duplicate = copy.copy(model)
    assert addresses(duplicate) == addresses(model)
    np.testing.assert_array_equal(forward(duplicate, IDS, MASK), forward(model, IDS, MASK))
    optimizer = copy.copy(cl.Adam(model, lr=1e-2))  # a shallow copy updates the same arrays
    start = weights(model)
    step(cl, model, optimizer)
    assert all(not np.array_equal(v, start[k]) for k, v in weights(duplicate).items())
