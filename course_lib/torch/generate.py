"""`generate`: continue a prompt one token at a time (greedy, temperature, top-k);
`generate_batch`: greedy answers to many prompts at once.

The twin of `course_lib.numpy.generate`: the same arguments, the same errors, and - for the same
logits and seed - the same tokens (sampling draws from the same NumPy generator). Both read the
prompt once and keep each position's keys and values (`KVCache`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch

from course_lib.sampling import next_token_distribution, prepare_prompt
from course_lib.torch.kv_cache import KVCache
from course_lib.torch.model import LLM
from course_lib.vocab import EOS_ID

__all__ = ["generate", "generate_batch", "next_token_distribution"]


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
    if steps == 0:
        return ""
    rng = np.random.default_rng(seed)
    cache = KVCache(model.config, batch=1, dtype=model.dtype, device=model.device)
    sequence = torch.tensor([ids], dtype=torch.long, device=model.device)  # (1, T)
    logits = model(sequence, cache=cache)[0, -1]  # the prompt, read once; (vocab,)
    new: list[int] = []
    for _ in range(steps):
        if temperature == 0:
            token = int(torch.argmax(logits))
        else:
            p = next_token_distribution(logits.double().cpu().numpy(), temperature, top_k)
            token = int(rng.choice(p.size, p=p))
        if token == EOS_ID:
            break
        new.append(token)
        if len(new) < steps:  # one new position, reading the cache of all the earlier ones
            logits = model(sequence.new_tensor([[token]]), cache=cache)[0, -1]
    return vocab.decode(new)


@torch.no_grad()
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
    rows = [i for i, (_, steps) in enumerate(prepared) if steps > 0]
    if not rows:
        return ["" for _ in prepared]
    lengths = [len(prepared[i][0]) for i in rows]
    batch = torch.full((len(rows), max(lengths)), cfg.pad_id, dtype=torch.long)  # right-padded
    for row, i in enumerate(rows):
        batch[row, : lengths[row]] = torch.tensor(prepared[i][0])
    cache = KVCache(cfg, batch=len(rows), dtype=model.dtype, device=model.device)
    last = torch.tensor(lengths, device=model.device) - 1
    logits = model(batch.to(model.device), cache=cache)  # (B, T, vocab)
    logits = logits[torch.arange(len(rows), device=model.device), last]  # (B, vocab)
    cache.lengths = last + 1  # each row goes on after its own last real token
    while rows:
        tokens = torch.argmax(logits, dim=-1)  # (B,)
        going = []
        for row, (i, token) in enumerate(zip(rows, tokens.tolist(), strict=True)):
            if token != EOS_ID:
                answers[i].append(token)
                if len(answers[i]) < prepared[i][1]:
                    going.append(row)
        if len(going) < len(rows):  # drop the finished rows
            rows = [rows[row] for row in going]
            tokens = tokens[going]
            cache.keep(going)
        if rows:
            logits = model(tokens[:, None], cache=cache)[:, 0]  # (B, vocab)
    return [vocab.decode(a) for a in answers]
