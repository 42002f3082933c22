"""`generate`: continue a prompt one token at a time (greedy, temperature, top-k).

The twin of `course_lib.numpy.generate`: the same arguments, the same errors, and - for the same
logits and seed - the same tokens (sampling draws from the same NumPy generator).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from course_lib.numpy.generate import EOS_ID, next_token_distribution, prepare_prompt
from course_lib.torch.model import LLM

__all__ = ["generate", "next_token_distribution"]


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
    """The text the model writes after `prompt`, up to `</s>` (not included) or the length limit.

    temperature 0 picks the most likely token (greedy); above 0 samples from softmax(logits / T),
    restricted to the `top_k` most likely tokens if given. Unknown words or a prompt that leaves no
    room (at least max_seq_len tokens) raise a ValueError saying what to do.
    """
    ids, steps = prepare_prompt(model.config, vocab, prompt, temperature, top_k, max_new_tokens)
    rng = np.random.default_rng(seed)
    sequence = torch.tensor([ids], dtype=torch.long, device=model.device)  # (1, T)
    new: list[int] = []
    for _ in range(steps):
        logits = model(sequence)[0, -1]  # (vocab,) at the last position
        if temperature == 0:
            token = int(torch.argmax(logits))
        else:
            p = next_token_distribution(logits.double().cpu().numpy(), temperature, top_k)
            token = int(rng.choice(p.size, p=p))
        if token == EOS_ID:
            break
        new.append(token)
        sequence = torch.cat([sequence, sequence.new_tensor([[token]])], dim=1)
    return vocab.decode(new)
