"""Chapter 05's whole-model checks (exercises 5.4 `generate` and 5.5 `llm_forward`): valid
solutions written in different ways pass, and each usual mistake fails with its own hint - in
this process as the notebook runs a check, and through the grader's remote path.

Oracle: the library's model (`cl.LLM` logits, `cl.generate` for the token sequences) for the
references; for a planted mistake, a phrase that only that mistake's hint contains; for the two
paths, the same `Outcome` from both.
"""

from __future__ import annotations

import numpy as np
import pytest
from _grading_helpers import Grader, in_process

from course_lib import numpy as cl
from course_lib.checks import ch05
from course_lib.config import ModelConfig
from course_lib.vocab import Vocab

BLOCK = (
    "from course_lib.checks.ch03 import reference_block_forward as block_forward\n"
    "from course_lib.checks.ch03 import reference_layer_norm as layer_norm\n"
)

FORWARD = BLOCK + (
    "def llm_forward(ids, params, config):\n"
    "    eps, t = config['layer_norm_eps'], ids.shape[1]\n"
    "    x = {embed}\n"
    "    for i in {order}:\n"
    "        prefix = f'blocks.{{{block}}}.'\n"
    "        p = {{k.removeprefix(prefix): v for k, v in params.items() if k.startswith(prefix)}}\n"
    "        x = block_forward(x, p, {heads}, config['norm'], eps)\n"
    "    if {final}:\n"
    "        x = layer_norm(x, params['final_norm.weight'], params['final_norm.bias'], eps)\n"
    "    return x @ params['output.weight'].T{bias}\n"
)
RIGHT = {
    "embed": "params['embeddings.token.weight'][ids] + params['embeddings.position.weight'][:t]",
    "order": "range(config['n_layers'])",
    "block": "i",
    "heads": "config['n_heads']",
    "final": "config['norm'] == 'pre'",
    "bias": " + params['output.bias']",
}


def forward(**changes: str) -> str:
    return FORWARD.format(**{**RIGHT, **changes})


GENERATE = (
    "from course_lib.checks.ch05 import reference_next_token_probs as next_token_probs\n"
    "EOS_ID = 1\n"
    "def generate(model, prompt_ids, max_new_tokens=20, temperature=0.0, top_k=None, seed=0):\n"
    "    rng = np.random.default_rng(seed)\n"
    "    ids, new = list(prompt_ids), []\n"
    "    while len(new) < {budget} and len(ids) + len(new) < {limit}:\n"
    "        logits = model(np.array([ids + new]))[0, {position}]\n"
    "        if {greedy}:\n"
    "            token = int(np.argmax(logits))\n"
    "        else:\n"
    "            p = next_token_probs(logits, temperature, top_k)\n"
    "            token = int({rng}.choice(len(p), p=p))\n"
    "        if token == EOS_ID{stop}:\n"
    "            break\n"
    "        new.append(token)\n"
    "    return {result}\n"
)
GOOD = {
    "budget": "max_new_tokens",
    "limit": "model.config.max_seq_len",
    "position": "-1",
    "greedy": "temperature == 0",
    "rng": "rng",
    "stop": "",
    "result": "new",
}


def generation(**changes: str) -> str:
    return GENERATE.format(**{**GOOD, **changes})


VALID = {
    ch05.llm_forward: [
        forward(),
        # np.take, blocks found from the keys, einsum for the output.
        BLOCK + "def llm_forward(ids, params, config):\n"
        "    x = np.take(params['embeddings.token.weight'], ids, axis=0)\n"
        "    x = x + params['embeddings.position.weight'][np.arange(ids.shape[1])]\n"
        "    n = 1 + max(int(k.split('.')[1]) for k in params if k.startswith('blocks.'))\n"
        "    for i in range(n):\n"
        "        p = {k[len(f'blocks.{i}.'):]: v for k, v in params.items()\n"
        "             if k.startswith(f'blocks.{i}.')}\n"
        "        x = block_forward(x, p, n_heads=config['n_heads'], norm=config['norm'],\n"
        "                          eps=config['layer_norm_eps'])\n"
        "    if 'final_norm.weight' in params:\n"
        "        x = layer_norm(x, params['final_norm.weight'], params['final_norm.bias'],\n"
        "                       config['layer_norm_eps'])\n"
        "    return np.einsum('btd,vd->btv', x, params['output.weight']) + params['output.bias']\n",
        # One-hot rows times the table, and functools.reduce over the blocks.
        BLOCK + "import functools\n"
        "def llm_forward(ids, params, config):\n"
        "    table = params['embeddings.token.weight']\n"
        "    one_hot = np.eye(table.shape[0])[ids]\n"
        "    x = one_hot @ table + params['embeddings.position.weight'][: ids.shape[-1]][None]\n"
        "    def step(x, i):\n"
        "        pre = 'blocks.%d.' % i\n"
        "        p = {k[len(pre):]: params[k] for k in params if k.startswith(pre)}\n"
        "        return block_forward(x, p, config['n_heads'], config['norm'])\n"
        "    x = functools.reduce(step, range(config['n_layers']), x)\n"
        "    if config['norm'] == 'pre':\n"
        "        x = layer_norm(x, params['final_norm.weight'], params['final_norm.bias'])\n"
        "    logits = x.reshape(-1, x.shape[-1]) @ params['output.weight'].T\n"
        "    return (logits + params['output.bias']).reshape(*ids.shape, -1)\n",
    ],
    ch05.generate: [
        generation(),
        # A for loop over the budget; the distribution from the library's sampler.
        "from course_lib.sampling import next_token_distribution\n"
        "def generate(model, prompt_ids, max_new_tokens=20, temperature=0.0, top_k=None, seed=0):\n"
        "    rng = np.random.default_rng(seed)\n"
        "    seq = [int(i) for i in prompt_ids]\n"
        "    start = len(seq)\n"
        "    for _ in range(max_new_tokens):\n"
        "        if len(seq) >= model.config.max_seq_len:\n"
        "            break\n"
        "        logits = model(np.asarray(seq)[None, :])[0][-1]\n"
        "        if temperature > 0:\n"
        "            p = next_token_distribution(logits, temperature, top_k)\n"
        "            nxt = int(rng.choice(p.size, p=p))\n"
        "        else:\n"
        "            nxt = int(logits.argmax())\n"
        "        if nxt == 1:\n"
        "            break\n"
        "        seq.append(nxt)\n"
        "    return seq[start:]\n",
        # Recursion: one token, then the rest.
        "from course_lib.checks.ch05 import reference_next_token_probs as next_token_probs\n"
        "def generate(model, prompt_ids, max_new_tokens=20, temperature=0.0, top_k=None, seed=0,\n"
        "             rng=None):\n"
        "    rng = np.random.default_rng(seed) if rng is None else rng\n"
        "    if max_new_tokens == 0 or len(prompt_ids) >= model.config.max_seq_len:\n"
        "        return []\n"
        "    logits = model(np.array([list(prompt_ids)]))[0, -1]\n"
        "    if temperature == 0:\n"
        "        token = int(np.argmax(logits))\n"
        "    else:\n"
        "        p = next_token_probs(logits, temperature, top_k)\n"
        "        token = int(rng.choice(len(p), p=p))\n"
        "    if token == 1:\n"
        "        return []\n"
        "    rest = generate(model, list(prompt_ids) + [token], max_new_tokens - 1, temperature,\n"
        "                    top_k, seed, rng)\n"
        "    return [token] + rest\n",
    ],
}

MISTAKES = [
    (
        ch05.llm_forward,
        forward(embed="params['embeddings.token.weight'][ids]"),
        "position embeddings are missing",
    ),
    (
        ch05.llm_forward,
        forward(embed=RIGHT["embed"].replace("[:t]", "[ids]")),
        "indexed by token id",
    ),
    (ch05.llm_forward, forward(order="reversed(range(config['n_layers']))"), "reverse order"),
    (ch05.llm_forward, forward(block="0"), "block 0's weights"),
    (ch05.llm_forward, forward(final="False"), "the final norm is missing"),
    (
        ch05.llm_forward,
        forward(final="True")
        .replace("params['final_norm.weight']", "params.get('final_norm.weight', 1.0)")
        .replace("params['final_norm.bias']", "params.get('final_norm.bias', 0.0)"),
        "has no final norm",
    ),
    (ch05.llm_forward, forward(bias=""), "output bias is missing"),
    (ch05.llm_forward, forward(heads="1"), "with one head"),
    (ch05.generate, generation(result="list(prompt_ids) + new"), "starts with the prompt"),
    (
        ch05.generate,
        generation().replace(
            "        if token == EOS_ID:\n            break\n",
            "        if token == EOS_ID:\n            return new + [EOS_ID]\n",
        ),
        "</s> is in the result",
    ),
    (ch05.generate, generation(stop=" and False"), "went on after </s>"),
    (ch05.generate, generation(position="0"), "first position"),
    (ch05.generate, generation(limit="model.config.max_seq_len - 1"), "new tokens fit"),
    (ch05.generate, generation(budget="10 ** 6"), "with max_new_tokens=2"),
    (ch05.generate, generation(greedy="True"), "gave the greedy answer"),
    (
        ch05.generate,
        generation(rng="np.random.default_rng(seed)"),
        "a new random generator was made at every step",
    ),
]

VALID_CASES = [(ex, src) for ex, sources in VALID.items() for src in sources]
VALID_IDS = [f"{ex.name}-{i}" for ex, sources in VALID.items() for i in range(len(sources))]
MISTAKE_IDS = [f"{ex.name}-{phrase.replace(' ', '_')[:32]}" for ex, _, phrase in MISTAKES]


@pytest.fixture(scope="module")
def grader():
    g = Grader()
    yield g
    g.close()


# ----------------------------------------------------------------------------- the references


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


@pytest.mark.parametrize("exercise", list(VALID), ids=lambda e: e.name)
def test_each_reference_passes_its_own_check(exercise) -> None:
    assert exercise.run(exercise.reference).status == "pass"


# ----------------------------------------------------------------------------- valid solutions


@pytest.mark.parametrize("exercise", list(VALID), ids=lambda e: e.name)
def test_at_least_three_valid_solutions_and_five_mistakes_with_their_own_hints(exercise) -> None:
    phrases = [phrase for ex, _, phrase in MISTAKES if ex is exercise]
    assert len(VALID[exercise]) >= 3
    assert len(phrases) >= 5 and len(set(phrases)) == len(phrases)


@pytest.mark.parametrize(("exercise", "source"), VALID_CASES, ids=VALID_IDS)
def test_valid_solution_passes_in_process(exercise, source: str) -> None:
    outcome = in_process(exercise, source)
    assert outcome.status == "pass", outcome.message
    assert outcome.points == exercise.points


@pytest.mark.parametrize(("exercise", "source"), VALID_CASES, ids=VALID_IDS)
def test_valid_solution_passes_through_the_grader(grader, exercise, source: str) -> None:
    outcome = grader.outcome(exercise, source)
    assert outcome.status == "pass", outcome.message
    assert outcome == in_process(exercise, source)


# ----------------------------------------------------------------------------- usual mistakes


@pytest.mark.parametrize(("exercise", "source", "phrase"), MISTAKES, ids=MISTAKE_IDS)
def test_mistake_fails_with_its_hint_in_process(exercise, source: str, phrase: str) -> None:
    outcome = in_process(exercise, source)
    assert outcome.status == "fail"
    assert phrase in outcome.message, outcome.message


@pytest.mark.parametrize(("exercise", "source", "phrase"), MISTAKES, ids=MISTAKE_IDS)
def test_mistake_fails_with_the_same_hint_through_the_grader(
    grader, exercise, source: str, phrase: str
) -> None:
    outcome = grader.outcome(exercise, source)
    assert outcome.status == "fail"
    assert phrase in outcome.message, outcome.message
    assert outcome == in_process(exercise, source)


@pytest.mark.parametrize("exercise", list(VALID), ids=lambda e: e.name)
def test_unsolved_exercise_hands_back_the_reference(exercise, capsys) -> None:
    def unsolved(*args, **kwargs):
        raise NotImplementedError()

    assert exercise(unsolved) is exercise.reference
    assert "not done yet" in capsys.readouterr().out
