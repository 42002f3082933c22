"""What both backends' `generate` share: checking a prompt and turning one position's logits
into the probabilities the next token is drawn from (NumPy, on the CPU, whatever the model)."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from course_lib.config import ModelConfig
from course_lib.vocab import SPECIAL_TOKENS, Vocab

__all__ = ["next_token_distribution", "prepare_prompt"]


def next_token_distribution(
    logits: np.ndarray, temperature: float = 1.0, top_k: int | None = None
) -> np.ndarray:
    """Probabilities (vocab,) from one position's logits, sharpened by temperature, cut to top_k."""
    if not (temperature > 0 and math.isfinite(temperature)):
        raise ValueError(f"temperature must be a finite number above 0 here, got {temperature}")
    logits = np.asarray(logits, dtype=np.float64)
    if not np.all(np.isfinite(logits)):
        raise ValueError("the logits hold nan or inf: the model's weights are broken")
    # Shift before dividing: every scaled value is then <= 0 with the largest exactly 0, so even
    # a temperature of 1e-320 gives -inf (probability 0) or 0 (probability 1), never nan.
    with np.errstate(over="ignore"):  # -x / 1e-320 overflows to -inf: probability 0, as meant
        scaled = (logits - logits.max()) / temperature
    if top_k is not None and top_k < scaled.size:
        kth = np.partition(scaled, -top_k)[-top_k]
        scaled = np.where(scaled < kth, -np.inf, scaled)
    p = np.exp(scaled)
    return p / p.sum()


def prepare_prompt(
    config: ModelConfig | int,
    vocab: Any,
    prompt: str,
    temperature: float,
    top_k: int | None,
    max_new_tokens: int | None,
) -> tuple[list[int], int]:
    """The prompt's ids and how many tokens may follow; a ValueError that says what to do when
    the arguments, the vocabulary, a word of the prompt or its length will not do. `config` is
    the model's (or just its max_seq_len). Both backends share it."""
    if isinstance(config, ModelConfig):
        limit = config.max_seq_len
        if len(vocab) != config.vocab_size:
            raise ValueError(
                f"the vocabulary has {len(vocab)} tokens but the model was built for "
                f"{config.vocab_size}: they do not belong together. Use the vocabulary the model "
                f"was trained with (checkpoint.load returns both)."
            )
    else:
        limit = int(config)
    if not isinstance(prompt, str):
        raise TypeError(f"the prompt must be a str, got {type(prompt).__name__}")
    if isinstance(temperature, bool) or not isinstance(temperature, (int, float, np.floating)):
        raise ValueError(f"temperature must be a number (0 = greedy), got {temperature!r}")
    if not (temperature >= 0 and math.isfinite(temperature)):
        raise ValueError(
            f"temperature must be a finite number >= 0 (0 = greedy), got {temperature}"
        )
    if top_k is not None and (isinstance(top_k, bool) or not isinstance(top_k, int) or top_k < 1):
        raise ValueError(f"top_k must be a positive int or None, got {top_k!r}")
    if max_new_tokens is not None and (
        isinstance(max_new_tokens, bool)
        or not isinstance(max_new_tokens, int)
        or max_new_tokens < 0
    ):
        raise ValueError(f"max_new_tokens must be an int >= 0 or None, got {max_new_tokens!r}")
    if isinstance(vocab, Vocab):
        typed = [token for token in SPECIAL_TOKENS if token in prompt]
        if typed:
            raise ValueError(
                f"the prompt contains {typed[0]!r}, one of the special tokens "
                f"{', '.join(SPECIAL_TOKENS)} that only the model writes; remove it"
            )
        ids = list(vocab.encode(prompt, unknown="error"))
    else:  # a DNAVocab: k-mers of the bases, no words to be unknown
        ids = list(vocab.encode(prompt))
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
