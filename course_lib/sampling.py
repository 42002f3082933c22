"""What both backends' `generate` and `generate_batch` share: checking a prompt, turning one
position's logits into the probabilities the next token is drawn from, and the decoding loops
themselves (NumPy, on the CPU, whatever the model).

A backend takes part through a `Runner`: its model's config, a fresh key/value cache, and a
forward pass that continues the cache and hands back NumPy logits. Everything else - when to
stop, greedy or sampled, which rows of a batch are still writing - is decided here, once.

One rule holds for every token written here: the model never writes `<pad>` or `<unk>`
(`never_written`). Padding is never a training target, and `<unk>` stands for a word the
vocabulary lacks, so neither is something to say; `</s>` stays, it ends the text. A forward pass
without a mask hides padding (ids == pad_id) while the key/value cache attends to every token it
is given, so a written `<pad>` would also make cached and uncached generation disagree.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from course_lib.bpe import BPEVocab
from course_lib.config import ModelConfig
from course_lib.vocab import EOS_ID, SPECIAL_TOKENS, UNK_ID, Vocab

__all__ = [
    "Runner",
    "check_vocab_size",
    "continue_text",
    "greedy_answers",
    "never_written",
    "next_token_distribution",
    "pick_greedy",
    "prepare_prompt",
]


@dataclass(frozen=True)
class Runner:
    """How the decoding loops run one backend's model.

    `new_cache(batch)` is a fresh `KVCache` of that backend for `batch` rows; `read(ids, cache)`
    runs the model on ids (batch, time), NumPy int64, after the positions the cache holds (which
    grows by `time`) and returns the logits (batch, time, vocab) as NumPy.
    """

    config: ModelConfig
    new_cache: Callable[[int], Any]
    read: Callable[[np.ndarray, Any], np.ndarray]


def never_written(config: ModelConfig) -> tuple[int, ...]:
    """The ids generation never writes for a model of `config`: its padding id and `<unk>`
    (those inside the vocabulary). `</s>` is never among them: writing it ends the text."""
    ids = {config.pad_id, UNK_ID} - {EOS_ID}
    return tuple(sorted(i for i in ids if i < config.vocab_size))


def _writable(logits: np.ndarray, never: Sequence[int]) -> np.ndarray:
    """`logits` (..., vocab) as float64 with the ids `never` set to -inf; a ValueError when
    the logits are not finite or nothing is left to write."""
    logits = np.array(logits, dtype=np.float64)  # a copy: the caller's logits stay as they were
    if not np.all(np.isfinite(logits)):
        raise ValueError("the logits hold nan or inf: the model's weights are broken")
    if never:
        if len(set(never)) >= logits.shape[-1]:
            raise ValueError(
                f"a vocabulary of {logits.shape[-1]} tokens leaves nothing to write besides "
                "the special tokens <pad> and <unk>"
            )
        logits[..., list(never)] = -np.inf
    return logits


def pick_greedy(logits: np.ndarray, never: Sequence[int] = ()) -> np.ndarray:
    """The most likely id of each row of `logits` (..., vocab), leaving out the ids `never`."""
    return np.argmax(_writable(logits, never), axis=-1)


def next_token_distribution(
    logits: np.ndarray,
    temperature: float = 1.0,
    top_k: int | None = None,
    never: Sequence[int] = (),
) -> np.ndarray:
    """Probabilities (vocab,) from one position's logits, sharpened by temperature, cut to
    top_k; the ids `never` (see `never_written`) get probability 0 and top_k counts the rest."""
    if not (temperature > 0 and math.isfinite(temperature)):
        raise ValueError(f"temperature must be a finite number above 0 here, got {temperature}")
    logits = _writable(logits, never)
    # Shift before dividing: every scaled value is then <= 0 with the largest exactly 0, so even
    # a temperature of 1e-320 gives -inf (probability 0) or 0 (probability 1), never nan.
    with np.errstate(over="ignore"):  # -x / 1e-320 overflows to -inf: probability 0, as meant
        scaled = (logits - logits.max()) / temperature
    if top_k is not None and top_k < scaled.size:
        kth = np.partition(scaled, -top_k)[-top_k]
        scaled = np.where(scaled < kth, -np.inf, scaled)
    p = np.exp(scaled)
    return p / p.sum()


def check_vocab_size(vocab: Any, config: ModelConfig | None) -> None:
    """A ValueError when `vocab` is not the vocabulary a model of `config` was built for (its size
    differs): the model would read and write tokens it never saw. None: nothing to check against."""
    if config is not None and len(vocab) != config.vocab_size:
        raise ValueError(
            f"the vocabulary has {len(vocab)} tokens but the model was built for "
            f"{config.vocab_size}: they do not belong together. Use the vocabulary the model was "
            f"trained with (load_checkpoint returns both)."
        )


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
        check_vocab_size(vocab, config)
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
    if isinstance(vocab, (Vocab, BPEVocab)):
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


def continue_text(
    runner: Runner,
    vocab: Any,
    prompt: str,
    *,
    max_new_tokens: int | None,
    temperature: float,
    top_k: int | None,
    seed: int | None,
) -> str:
    """`generate` for either backend: the text after `prompt`, up to `</s>` (not included) or the
    length limit; greedy at temperature 0, else drawn from NumPy's generator seeded by `seed`, so
    both backends draw the same tokens from the same logits. Never writes `<pad>` or `<unk>`."""
    ids, steps = prepare_prompt(runner.config, vocab, prompt, temperature, top_k, max_new_tokens)
    never = never_written(runner.config)
    rng = np.random.default_rng(seed)
    if steps == 0:
        return ""
    cache = runner.new_cache(1)
    logits = runner.read(np.asarray([ids], dtype=np.int64), cache)[0, -1]  # the prompt, once
    new: list[int] = []
    for _ in range(steps):
        if temperature == 0:
            token = int(pick_greedy(logits, never))
        else:
            p = next_token_distribution(logits, temperature, top_k, never)
            token = int(rng.choice(p.size, p=p))
        if token == EOS_ID:
            break
        new.append(token)
        if len(new) < steps:  # one new position, reading the cache of all the earlier ones
            logits = runner.read(np.asarray([[token]], dtype=np.int64), cache)[0, -1]  # (vocab,)
    return vocab.decode(new)


def greedy_answers(
    runner: Runner, vocab: Any, prompts: Sequence[str], *, max_new_tokens: int | None
) -> list[str]:
    """`generate_batch` for either backend: the greedy text after each prompt, the same as one
    `continue_text` per prompt, from one batched pass over the prompts and one batched step per
    new token."""
    if isinstance(prompts, str):
        raise TypeError(
            "generate_batch expects a list of prompts, got one string; wrap it in [...]"
        )
    prepared = [prepare_prompt(runner.config, vocab, p, 0.0, None, max_new_tokens) for p in prompts]
    answers: list[list[int]] = [[] for _ in prepared]
    never = never_written(runner.config)
    rows = [i for i, (_, steps) in enumerate(prepared) if steps > 0]  # the prompts still writing
    if rows:
        lengths = np.array([len(prepared[i][0]) for i in rows])  # (B,)
        batch = np.full((len(rows), lengths.max()), runner.config.pad_id, dtype=np.int64)
        for row, i in enumerate(rows):
            batch[row, : lengths[row]] = prepared[i][0]  # right-padded: (B, T)
        cache = runner.new_cache(len(rows))
        logits = runner.read(batch, cache)[np.arange(len(rows)), lengths - 1]  # (B, vocab)
        cache.truncate(lengths)  # each row goes on after its own last real token
        while rows:
            tokens = pick_greedy(logits, never)  # (B,)
            going = []
            for row, (i, token) in enumerate(zip(rows, tokens.tolist(), strict=True)):
                if token != EOS_ID:
                    answers[i].append(token)
                    if len(answers[i]) < prepared[i][1]:
                        going.append(row)
            if len(going) < len(rows):  # drop the finished rows
                rows, tokens = [rows[row] for row in going], tokens[going]
                cache.keep(going)
            if rows:
                logits = runner.read(tokens[:, None], cache)[:, 0]  # (B, vocab)
    return [vocab.decode(a) for a in answers]
