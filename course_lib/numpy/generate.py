"""`generate`: continue a prompt one token at a time (greedy, temperature, top-k);
`generate_batch`: greedy answers to many prompts at once.

Both read the prompt once and keep each position's keys and values (`KVCache`), so a new token
costs one position, however long the text before it."""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from typing import Any

import numpy as np

from course_lib.numpy.kv_cache import KVCache
from course_lib.numpy.model import LLM
from course_lib.sampling import next_token_distribution, prepare_prompt
from course_lib.vocab import EOS_ID  # `</s>`, fixed in every vocabulary

__all__ = ["generate", "generate_batch"]


def generate(
    model: LLM,
    vocab: Any,
    prompt: str,
    *,
    max_new_tokens: int | None = None,
    temperature: float = 0.0,
    top_k: int | None = None,
    seed: int | None = None,
) -> str:
    """The text the model writes after `prompt`, up to `</s>` (not included) or the length limit.

    temperature 0 picks the most likely token (greedy); above 0 samples from softmax(logits / T),
    restricted to the `top_k` most likely tokens if given. Unknown words or a prompt that leaves no
    room (at least max_seq_len tokens) raise a ValueError saying what to do.
    """
    ids, steps = prepare_prompt(model.config, vocab, prompt, temperature, top_k, max_new_tokens)
    rng = np.random.default_rng(seed)
    with one_blas_thread():
        return vocab.decode(_continue(model, ids, steps, temperature, top_k, rng))


def _continue(
    model: LLM, ids: list[int], steps: int, temperature: float, top_k: int | None, rng: Any
) -> list[int]:
    """The new token ids after `ids`: at most `steps`, up to `</s>` (not included)."""
    if steps == 0:
        return []
    cache = KVCache(model.config, batch=1, dtype=model.dtype)
    logits = model(np.asarray([ids]), cache=cache)[0, -1]  # the prompt, read once; (vocab,)
    new: list[int] = []
    for _ in range(steps):
        if temperature == 0:
            token = int(np.argmax(logits))
        else:
            p = next_token_distribution(logits, temperature, top_k)
            token = int(rng.choice(p.size, p=p))
        if token == EOS_ID:
            break
        new.append(token)
        if len(new) < steps:  # one new position, reading the cache of all the earlier ones
            logits = model(np.asarray([[token]]), cache=cache)[0, -1]
    return new


def generate_batch(
    model: LLM, vocab: Any, prompts: Sequence[str], *, max_new_tokens: int | None = None
) -> list[str]:
    """Greedy answers to many prompts at once: the same texts as `generate(model, vocab, p)` for
    each p, from one batched pass over the prompts and one batched step per new token."""
    if isinstance(prompts, str):
        raise TypeError(
            "generate_batch expects a list of prompts, got one string; wrap it in [...]"
        )
    cfg = model.config
    prepared = [prepare_prompt(cfg, vocab, p, 0.0, None, max_new_tokens) for p in prompts]
    answers: list[list[int]] = [[] for _ in prepared]
    rows = np.array([i for i, (_, steps) in enumerate(prepared) if steps > 0], dtype=np.int64)
    if rows.size == 0:
        return ["" for _ in prepared]
    lengths = np.array([len(prepared[i][0]) for i in rows])
    batch = np.full((rows.size, lengths.max()), cfg.pad_id, dtype=np.int64)  # right-padded
    for row, i in enumerate(rows):
        batch[row, : lengths[row]] = prepared[i][0]
    with one_blas_thread():
        _answer(model, batch, lengths, rows, [s for _, s in prepared], answers)
    return [vocab.decode(a) for a in answers]


def _answer(
    model: LLM, batch: np.ndarray, lengths: np.ndarray, rows: np.ndarray, steps: list[int],
    answers: list[list[int]],
) -> None:  # fmt: skip
    """Greedy tokens for the right-padded prompts `batch` (B, T) into `answers[rows[b]]`."""
    cache = KVCache(model.config, batch=rows.size, dtype=model.dtype)
    logits = model(batch, cache=cache)[np.arange(rows.size), lengths - 1]  # (B, vocab)
    cache.lengths[:] = lengths  # each row goes on after its own last real token
    while rows.size:
        tokens = np.argmax(logits, axis=-1)  # (B,)
        going = []
        for row, (i, token) in enumerate(zip(rows, tokens, strict=True)):
            if token != EOS_ID:
                answers[i].append(int(token))
                if len(answers[i]) < steps[i]:
                    going.append(row)
        if len(going) < rows.size:  # drop the finished rows
            rows, tokens = rows[going], tokens[going]
            cache.keep(going)
        if rows.size:
            logits = model(tokens[:, None], cache=cache)[:, 0]  # (B, vocab)


def one_blas_thread() -> Any:
    """A context in which BLAS uses one thread: for the small matrices of generation one is the
    fastest, and far faster than two on a busy machine. Does nothing without threadpoolctl."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # optional
        return contextlib.nullcontext()
    return threadpool_limits(limits=1, user_api="blas")
