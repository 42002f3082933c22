"""`generate`: continue a prompt one token at a time (greedy, temperature, top-k);
`generate_batch`: greedy answers to many prompts at once.

The twin of `numpy/generate.py`, through the same decoding loops (`course_lib.sampling`):
the same arguments, the same errors, and - for the same logits and seed - the same tokens. This
file says how to run a torch model there: on its device, without gradients, logits back as NumPy.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch

from course_lib.backends import to_numpy
from course_lib.sampling import Runner, continue_text, greedy_answers
from course_lib.torch.kv_cache import KVCache
from course_lib.torch.model import LLM

__all__ = ["generate", "generate_batch"]


@torch.no_grad()
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
    """The text the model writes after `prompt` (see `numpy/generate.py`): greedy at
    temperature 0, else sampled from softmax(logits / T), cut to `top_k` if given."""
    return continue_text(
        _runner(model), vocab, prompt, max_new_tokens=max_new_tokens, temperature=temperature,
        top_k=top_k, seed=seed,
    )  # fmt: skip


@torch.no_grad()
def generate_batch(
    model: LLM, vocab: Any, prompts: Sequence[str], *, max_new_tokens: int | None = None
) -> list[str]:
    """Greedy answers to many prompts at once, each the text `generate(model, vocab, p)` gives."""
    return greedy_answers(_runner(model), vocab, prompts, max_new_tokens=max_new_tokens)


def _runner(model: LLM) -> Runner:
    def read(ids: Any, cache: KVCache) -> Any:
        logits = model(torch.as_tensor(ids, device=model.device), cache=cache)  # (B, T, vocab)
        return to_numpy(logits, dtype=None)  # bfloat16 widens to float32: the same argmax

    return Runner(
        model.config,
        new_cache=lambda batch: KVCache(model.config, batch, model.dtype, model.device),
        read=read,
    )
