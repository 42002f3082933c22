"""The references behind chapter 05's whole-model checks (exercises 5.4 `generate` and 5.5
`llm_forward`) are the library's own model and generation, so a check that compares with them
compares with what the chapter goes on to use. Their answers - valid solutions and planted
mistakes - are in `tests/check_corpus/ch05_model.py`, run by `test_check_corpus.py`.

Oracle: the library's model (`cl.LLM` logits, `cl.generate` for the token sequences).
"""

from __future__ import annotations

import numpy as np
import pytest

from course_lib import numpy as cl
from course_lib.checks import ch05
from course_lib.config import ModelConfig
from course_lib.vocab import Vocab


@pytest.mark.parametrize(("norm", "n_heads"), [("post", 1), ("post", 2), ("pre", 2)])
def test_reference_forward_is_the_library_model(norm: str, n_heads: int) -> None:
    config = ModelConfig(
        vocab_size=17, d_model=8, d_hidden=16, n_layers=3, n_heads=n_heads, norm=norm
    )
    model = cl.LLM(config, seed=5, dtype=np.float64)
    ids = np.random.default_rng(6).integers(3, 17, size=(3, 9))
    logits = ch05.reference_llm_forward(ids, model.state_dict(), config.to_dict())
    assert np.allclose(logits, model(ids))


def test_reference_forward_refuses_what_it_does_not_cover() -> None:
    config = ModelConfig(vocab_size=17, d_model=8, tie_weights=True)
    model = cl.LLM(config, seed=5)
    with pytest.raises(ValueError, match="untied"):
        ch05.reference_llm_forward(np.array([[3, 4]]), model.state_dict(), config.to_dict())


@pytest.mark.parametrize(
    ("temperature", "top_k", "seed"), [(0.0, None, 0), (1.0, None, 3), (0.7, 4, 9)]
)
def test_reference_generate_writes_what_cl_generate_writes(temperature, top_k, seed) -> None:
    vocab = Vocab.build(["User : rain is water . sea is salt ! </s>"])
    config = ModelConfig(vocab_size=len(vocab), d_model=8, d_hidden=16, n_layers=1, max_seq_len=12)
    model = cl.LLM(config, seed=2, dtype=np.float64)
    prompt = "User : rain is"
    ours = ch05.reference_generate(model, vocab.encode(prompt), 50, temperature, top_k, seed)
    library = cl.generate(model, vocab, prompt, temperature=temperature, top_k=top_k, seed=seed)
    assert vocab.decode(ours) == library


def test_the_generation_model_ends_in_eos_and_the_endless_one_never_does() -> None:
    model, prompt = ch05._generation_model(None)
    assert 3 <= len(ch05.reference_generate(model, prompt, 50)) <= 6
    endless, _ = ch05._generation_model(-1e3)
    assert len(ch05.reference_generate(endless, prompt, 50)) == 12 - len(prompt)


@pytest.mark.parametrize("variant", list(ch05._SAMPLING_MISTAKES))
def test_every_sampling_mistake_changes_at_least_two_of_the_sampled_cases(variant: str) -> None:
    # The check names a sampling mistake only when it explains every case; so each must show
    # on more than one case, or a learner's right answer on one case would hide it.
    model, prompt = ch05._generation_model(**ch05._SAMPLING_MODEL)
    differing = [
        case
        for case in ch05.SAMPLED_CASES
        if ch05._sampled_variant(model, prompt, *case, variant)
        != ch05.reference_generate(model, prompt, 20, *case)
    ]
    assert len(differing) >= 2, variant


@pytest.mark.parametrize(("temperature", "top_k", "seed"), [(0.0, None, 0), (1.5, 3, 1)])
def test_reference_generate_never_writes_pad_or_unk_like_cl_generate(
    temperature, top_k, seed
) -> None:
    vocab = Vocab.build(["User : rain is water . sea is salt ! </s>"])
    config = ModelConfig(vocab_size=len(vocab), d_model=8, d_hidden=16, n_layers=1, max_seq_len=12)
    model = cl.LLM(config, seed=2, dtype=np.float64)
    model.output.bias[[0, 2]] += 6.0  # <pad> and <unk> the likeliest tokens
    prompt = "User : rain is"
    ours = ch05.reference_generate(model, vocab.encode(prompt), 50, temperature, top_k, seed)
    assert 0 not in ours and 2 not in ours
    library = cl.generate(model, vocab, prompt, temperature=temperature, top_k=top_k, seed=seed)
    assert vocab.decode(ours) == library
