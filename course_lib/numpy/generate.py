"""`generate`: continue a prompt one token at a time (greedy, temperature, top-k)."""

from __future__ import annotations

from typing import Any

import numpy as np

from course_lib.numpy.model import LLM
from course_lib.vocab import EOS_ID  # `</s>`, fixed in every vocabulary

__all__ = ["generate", "next_token_distribution", "prepare_prompt"]


def next_token_distribution(
    logits: np.ndarray, temperature: float = 1.0, top_k: int | None = None
) -> np.ndarray:
    """Probabilities (vocab,) from one position's logits, sharpened by temperature, cut to top_k."""
    scaled = logits.astype(np.float64) / temperature
    if top_k is not None and top_k < scaled.size:
        kth = np.partition(scaled, -top_k)[-top_k]
        scaled = np.where(scaled < kth, -np.inf, scaled)
    scaled -= scaled.max()
    p = np.exp(scaled)
    return p / p.sum()


def prepare_prompt(
    max_seq_len: int,
    vocab: Any,
    prompt: str,
    temperature: float,
    top_k: int | None,
    max_new_tokens: int | None,
) -> tuple[list[int], int]:
    """The prompt's ids and how many tokens may follow; a ValueError that says what to do when
    the arguments, a word of the prompt or its length will not do. Both backends share it."""
    if temperature < 0:
        raise ValueError(f"temperature must be >= 0 (0 = greedy), got {temperature}")
    if top_k is not None and (not isinstance(top_k, int) or top_k < 1):
        raise ValueError(f"top_k must be a positive int or None, got {top_k!r}")
    limit = max_seq_len
    ids = list(vocab.encode(prompt, unknown="error"))
    if not ids:
        raise ValueError("the prompt is empty; give the model at least one word to continue")
    if len(ids) >= limit:
        raise ValueError(
            f"the prompt is {len(ids)} tokens long, which leaves no room to write: the model reads "
            f"at most max_seq_len={limit} tokens. Shorten the prompt."
        )
    room = limit - len(ids)
    steps = room if max_new_tokens is None else min(int(max_new_tokens), room)
    return ids, steps


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
    ids, steps = prepare_prompt(
        model.config.max_seq_len, vocab, prompt, temperature, top_k, max_new_tokens
    )
    rng = np.random.default_rng(seed)
    new: list[int] = []
    for _ in range(steps):
        logits = model(np.asarray([ids + new]))[0, -1]  # (vocab,) at the last position
        if temperature == 0:
            token = int(np.argmax(logits))
        else:
            p = next_token_distribution(logits, temperature, top_k)
            token = int(rng.choice(p.size, p=p))
        if token == EOS_ID:
            break
        new.append(token)
    return vocab.decode(new)
