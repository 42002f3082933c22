"""Generation with a key/value cache, and batched greedy answering, on both backends.

Oracle: the loop generation used before the cache - the whole text run through the model again
for every new token, the last position's logits taken, `<pad>` and `<unk>` left out - and the
model's own full forward pass.
"""

from __future__ import annotations

import functools

import numpy as np
import pytest

from course_lib import ModelConfig
from course_lib import numpy as cl
from course_lib.backends import load_state
from course_lib.sampling import never_written, next_token_distribution
from course_lib.vocab import EOS_ID, PAD_ID, UNK_ID, Vocab

TEXTS = [
    "the cat sat on the mat . </s>",
    "the dog sat on the log . </s>",
    "a bird sang in the tree . </s>",
    "rain falls on the dog and the cat . </s>",
]
PROMPTS = ["the cat", "a bird sang", "the", "rain falls on the", "the dog sat on the log ."]
OPTIONS = {
    "reference": {},
    "everything": dict(
        n_heads=2, norm="pre", positional="sinusoidal", tie_weights=True, attn_out_proj=True
    ),
}


@functools.cache
def trained(backend: object, name: str) -> tuple[object, Vocab]:
    """A small model of `backend` trained a little on TEXTS (so it answers with real words)."""
    vocab = Vocab.build(TEXTS)
    cfg = ModelConfig(
        vocab_size=len(vocab), d_model=16, d_hidden=32, n_layers=2, max_seq_len=16,
        **OPTIONS[name],
    )  # fmt: skip
    model = backend.LLM(cfg, seed=0)
    backend.train(model, vocab, TEXTS, epochs=30, lr=1e-2, batch_size=4, progress=False)
    return model, vocab


def generate_without_cache(
    model: object, vocab: Vocab, prompt: str, temperature: float = 0.0, top_k=None, seed=None
) -> str:
    """The generation loop before the cache: every step reads the whole text again. It never
    writes <pad> or <unk> (their logits set to -inf)."""
    ids = vocab.encode(prompt)
    rng = np.random.default_rng(seed)
    new: list[int] = []
    for _ in range(model.config.max_seq_len - len(ids)):
        logits = np.asarray(to_numpy(model(np.asarray([ids + new]))), dtype=np.float64)[0, -1]
        logits[[PAD_ID, UNK_ID]] = -np.inf
        if temperature == 0:
            token = int(np.argmax(logits))
        else:
            p = np.exp((logits - logits.max()) / temperature)
            if top_k is not None:
                p[np.argsort(p)[:-top_k]] = 0.0
            p /= p.sum()
            token = int(rng.choice(p.size, p=p))
        if token == EOS_ID:
            break
        new.append(token)
    return vocab.decode(new)


def to_numpy(values: object) -> np.ndarray:
    return values.detach().cpu().numpy() if hasattr(values, "detach") else values


def backends() -> list:
    out = [pytest.param(cl, id="numpy")]
    try:
        from course_lib import torch as ct
    except ImportError:  # pragma: no cover - torch is installed in the test environment
        return out
    import torch

    torch.set_num_threads(1)  # these tiny matrices: one thread is far faster on a shared machine
    return out + [pytest.param(ct, id="torch")]


@pytest.mark.parametrize("name", OPTIONS)
@pytest.mark.parametrize("backend", backends())
def test_greedy_generation_writes_the_same_text_as_without_a_cache(backend, name) -> None:
    model, vocab = trained(backend, name)
    for prompt in PROMPTS:
        assert backend.generate(model, vocab, prompt) == generate_without_cache(
            model, vocab, prompt
        ), prompt


@pytest.mark.parametrize("backend", backends())
def test_seeded_sampling_draws_the_same_tokens_as_without_a_cache(backend) -> None:
    model, vocab = trained(backend, "reference")
    for seed in range(4):
        for prompt in PROMPTS[:3]:
            got = backend.generate(model, vocab, prompt, temperature=1.5, top_k=5, seed=seed)
            assert got == generate_without_cache(model, vocab, prompt, 1.5, 5, seed)


@pytest.mark.parametrize("name", OPTIONS)
@pytest.mark.parametrize("backend", backends())
def test_generate_batch_gives_each_prompt_its_own_greedy_answer(backend, name) -> None:
    model, vocab = trained(backend, name)
    expected = [backend.generate(model, vocab, p) for p in PROMPTS]
    assert backend.generate_batch(model, vocab, PROMPTS) == expected
    short = [backend.generate(model, vocab, p, max_new_tokens=2) for p in PROMPTS]
    assert backend.generate_batch(model, vocab, PROMPTS, max_new_tokens=2) == short
    assert backend.generate_batch(model, vocab, []) == []


@pytest.mark.parametrize("backend", backends())
def test_generate_batch_explains_one_string_and_unknown_words(backend) -> None:
    model, vocab = trained(backend, "reference")
    with pytest.raises(TypeError, match="list of prompts"):
        backend.generate_batch(model, vocab, "the cat")
    with pytest.raises(ValueError, match="not in the vocabulary"):
        backend.generate_batch(model, vocab, ["the cat", "the zebra"])


@pytest.mark.parametrize("name", OPTIONS)
def test_cached_logits_equal_the_full_forward_pass_in_float64(name: str) -> None:
    # Right-padded prompts of different lengths, then one token per row at different positions.
    vocab = Vocab.build(TEXTS)
    cfg = ModelConfig(vocab_size=len(vocab), d_model=16, d_hidden=32, n_layers=2, max_seq_len=12,
                      **OPTIONS[name])  # fmt: skip
    model = cl.LLM(cfg, seed=1, dtype=np.float64)
    rng = np.random.default_rng(0)
    texts = [list(rng.integers(3, len(vocab), size=n)) for n in (5, 2, 7)]
    batch = np.zeros((3, 7), dtype=np.int64)
    for row, ids in enumerate(texts):
        batch[row, : len(ids)] = ids
    cache = cl.KVCache(cfg, batch=3, dtype=np.float64)
    prompt_logits = model(batch, cache=cache)
    cache.lengths[:] = [len(ids) for ids in texts]
    for row, ids in enumerate(texts):
        full = model(np.asarray([ids]))[0]
        np.testing.assert_allclose(prompt_logits[row, : len(ids)], full, rtol=0, atol=1e-12)
    for _ in range(3):
        new = rng.integers(3, len(vocab), size=3)
        step_logits = model(new[:, None], cache=cache)[:, 0]
        for row, ids in enumerate(texts):
            ids.append(int(new[row]))
            full = model(np.asarray([ids]))[0, -1]
            np.testing.assert_allclose(step_logits[row], full, rtol=0, atol=1e-12)


def model_and_cache(backend, max_seq_len: int) -> tuple:
    """A small model of `backend` and an empty one-row cache for it."""
    cfg = ModelConfig(vocab_size=9, d_model=8, d_hidden=8, n_layers=1, max_seq_len=max_seq_len)
    model = backend.LLM(cfg, seed=0)
    where = {"device": model.device} if backend is not cl else {}
    return model, backend.KVCache(cfg, batch=1, dtype=model.dtype, **where)


@pytest.mark.parametrize("backend", backends())
def test_a_cache_refuses_to_grow_past_max_seq_len(backend) -> None:
    model, cache = model_and_cache(backend, max_seq_len=4)
    model(np.array([[3, 4, 5]]), cache=cache)
    model(np.array([[6]]), cache=cache)
    message = "the cache holds 4 positions; 1 more would pass max_seq_len=4. Stop generating"
    with pytest.raises(ValueError, match=message):
        model(np.array([[7]]), cache=cache)


@pytest.mark.parametrize("backend", backends())
def test_a_truncated_cache_row_goes_on_after_its_own_length(backend) -> None:
    # Oracle: the full forward pass of the shorter text, one token longer.
    model, cache = model_and_cache(backend, max_seq_len=6)
    model(np.array([[3, 4, 0]]), cache=cache)  # a two-token prompt padded to three
    cache.truncate([2])
    step = to_numpy(model(np.array([[5]]), cache=cache))[0, 0]
    np.testing.assert_allclose(step, to_numpy(model(np.array([[3, 4, 5]])))[0, -1], atol=1e-5)


@pytest.mark.parametrize("backend", backends())
def test_a_cache_that_keeps_some_rows_goes_on_as_each_row_alone(backend) -> None:
    # Oracle: each kept row's whole text through the full forward pass. Rows of different
    # lengths are dropped and reordered, then both kept rows read two more tokens.
    cfg = ModelConfig(vocab_size=12, d_model=8, d_hidden=8, n_layers=2, max_seq_len=10)
    model = backend.LLM(cfg, seed=2)
    where = {"device": model.device} if backend is not cl else {}
    cache = backend.KVCache(cfg, batch=3, dtype=model.dtype, **where)
    texts = [[3, 4, 5, 6, 0], [7, 8, 0, 0, 0], [9, 10, 11, 3, 4]]  # right-padded prompts
    model(np.array(texts), cache=cache)
    cache.truncate([4, 2, 5])
    texts = [text[:n] for text, n in zip(texts, (4, 2, 5), strict=True)]
    cache.keep([2, 1])
    texts = [texts[2], texts[1]]
    for token in (5, 6):
        step = to_numpy(model(np.array([[token], [token]]), cache=cache))[:, 0]
        for row, text in enumerate(texts):
            text.append(token)
            full = to_numpy(model(np.array([text])))[0, -1]
            np.testing.assert_allclose(step[row], full, atol=1e-5)


def special_minded(backend: object) -> tuple[object, Vocab]:
    """A small model of `backend` whose output bias makes <pad> and <unk> its two likeliest
    tokens at every position, by far."""
    vocab = Vocab.build(TEXTS)
    cfg = ModelConfig(vocab_size=len(vocab), d_model=16, d_hidden=32, n_layers=2, max_seq_len=16)
    model = backend.LLM(cfg, seed=3)
    params = {k: np.array(to_numpy(v)) for k, v in model.state_dict().items()}
    params["output.bias"][[PAD_ID, UNK_ID]] += 8.0
    load_state(model, params)
    return model, vocab


def test_generation_never_writes_padding_or_unk_and_keeps_the_end_token() -> None:
    config = ModelConfig(vocab_size=20, d_model=8, pad_id=5)
    assert never_written(config) == (2, 5)
    assert never_written(ModelConfig(vocab_size=20, d_model=8)) == (PAD_ID, UNK_ID)
    assert EOS_ID not in never_written(ModelConfig(vocab_size=20, d_model=8, pad_id=EOS_ID))
    p = next_token_distribution(np.array([9.0, 0.0, 8.0, 1.0, 2.0]), 1.0, 2, (0, 2))
    assert p[0] == p[2] == 0.0 and np.count_nonzero(p) == 2  # top-2 among the rest


@pytest.mark.parametrize("backend", backends())
def test_a_model_that_favours_pad_and_unk_writes_neither_with_or_without_a_cache(backend) -> None:
    model, vocab = special_minded(backend)
    logits = to_numpy(model(np.asarray([vocab.encode("the cat")])))[0, -1]
    assert set(np.argsort(logits)[-2:]) == {PAD_ID, UNK_ID}  # the two likeliest, unfiltered
    for prompt in PROMPTS:
        greedy = backend.generate(model, vocab, prompt)
        assert greedy == generate_without_cache(model, vocab, prompt), prompt
        assert "<pad>" not in greedy and "<unk>" not in greedy
        for seed in range(3):
            sampled = backend.generate(model, vocab, prompt, temperature=2.0, seed=seed)
            assert sampled == generate_without_cache(model, vocab, prompt, 2.0, None, seed)
            assert "<pad>" not in sampled and "<unk>" not in sampled
    assert backend.generate_batch(model, vocab, PROMPTS) == [
        backend.generate(model, vocab, p) for p in PROMPTS
    ]


@pytest.mark.parametrize("backend", backends())
def test_cached_logits_equal_the_full_pass_on_a_text_holding_every_special_id(backend) -> None:
    # The cache attends to every token it is given, as the full pass does with a mask of all
    # True; the full pass's default mask (ids != pad_id) hides a <pad>, which is why generation
    # never writes one (test above). Oracle: the full forward pass.
    model, vocab = special_minded(backend)
    text = vocab.encode("the cat") + [PAD_ID, EOS_ID, UNK_ID] + vocab.encode("sat on")
    where = {"device": model.device} if backend is not cl else {}
    cache = backend.KVCache(model.config, batch=1, dtype=model.dtype, **where)
    cached = [to_numpy(model(np.array([text[:3]]), cache=cache))[0]]
    cached += [to_numpy(model(np.array([[token]]), cache=cache))[0] for token in text[3:]]
    every = np.ones((1, len(text)), dtype=bool)
    full = to_numpy(model(np.array([text]), every))[0]
    np.testing.assert_allclose(np.concatenate(cached), full, atol=1e-5)
    without_pad = [t for t in text if t != PAD_ID]  # no <pad>: the default mask hides nothing
    cache = backend.KVCache(model.config, batch=1, dtype=model.dtype, **where)
    cached = to_numpy(model(np.array([without_pad]), cache=cache))[0]
    np.testing.assert_allclose(cached, to_numpy(model(np.array([without_pad])))[0], atol=1e-5)
