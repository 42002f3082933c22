"""`generate`: continue a prompt one token at a time (greedy, temperature, top-k);
`generate_batch`: greedy answers to many prompts at once.

Both read the prompt once and keep each position's keys and values (`KVCache`), so a new token
costs one position, however long the text before it. The decoding loops are
`course_lib.sampling`'s, shared with the torch backend; this file says how to run a NumPy model.
"""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from typing import Any

from course_lib.numpy.kv_cache import KVCache
from course_lib.numpy.model import LLM
from course_lib.sampling import Runner, continue_text, greedy_answers

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
    with one_blas_thread():
        return continue_text(
            _runner(model), vocab, prompt, max_new_tokens=max_new_tokens,
            temperature=temperature, top_k=top_k, seed=seed,
        )  # fmt: skip


def generate_batch(
    model: LLM, vocab: Any, prompts: Sequence[str], *, max_new_tokens: int | None = None
) -> list[str]:
    """Greedy answers to many prompts at once: the same texts as `generate(model, vocab, p)` for
    each p, from one batched pass over the prompts and one batched step per new token."""
    with one_blas_thread():
        return greedy_answers(_runner(model), vocab, prompts, max_new_tokens=max_new_tokens)


def _runner(model: LLM) -> Runner:
    return Runner(
        model.config,
        new_cache=lambda batch: KVCache(model.config, batch=batch, dtype=model.dtype),
        read=lambda ids, cache: model(ids, cache=cache),  # (B, T, vocab)
    )


def one_blas_thread() -> Any:
    """A context in which BLAS uses one thread: for the small matrices of generation one is the
    fastest, and far faster than two on a busy machine. Does nothing without threadpoolctl."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # optional
        return contextlib.nullcontext()
    return threadpool_limits(limits=1, user_api="blas")
