"""Chapter 05, the whole model: generate (exercise 5.4) and llm_forward (exercise 5.5)."""

from check_corpus import Answers, Mistake

CORPUS: dict[str, Answers] = {}

# ----------------------------------------------------------------------------- 5.4 generate

_GENERATE = (
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
_GOOD = {
    "budget": "max_new_tokens",
    "limit": "model.config.max_seq_len",
    "position": "-1",
    "greedy": "temperature == 0",
    "rng": "rng",
    "stop": "",
    "result": "new",
}


def _generation(**changes: str) -> str:
    """A `generate` source, right except for `changes`."""
    return _GENERATE.format(**{**_GOOD, **changes})


CORPUS["ch05_generate"] = Answers(
    valid={
        "a while loop": _generation(),
        "a for loop over the budget, the library's sampler": """
from course_lib.sampling import next_token_distribution
def generate(model, prompt_ids, max_new_tokens=20, temperature=0.0, top_k=None, seed=0):
    rng = np.random.default_rng(seed)
    seq = [int(i) for i in prompt_ids]
    start = len(seq)
    for _ in range(max_new_tokens):
        if len(seq) >= model.config.max_seq_len:
            break
        logits = model(np.asarray(seq)[None, :])[0][-1]
        if temperature > 0:
            p = next_token_distribution(logits, temperature, top_k)
            nxt = int(rng.choice(p.size, p=p))
        else:
            nxt = int(logits.argmax())
        if nxt == 1:
            break
        seq.append(nxt)
    return seq[start:]
""",
        "recursion: one token, then the rest": """
from course_lib.checks.ch05 import reference_next_token_probs as next_token_probs
def generate(model, prompt_ids, max_new_tokens=20, temperature=0.0, top_k=None, seed=0,
             rng=None):
    rng = np.random.default_rng(seed) if rng is None else rng
    if max_new_tokens == 0 or len(prompt_ids) >= model.config.max_seq_len:
        return []
    logits = model(np.array([list(prompt_ids)]))[0, -1]
    if temperature == 0:
        token = int(np.argmax(logits))
    else:
        p = next_token_probs(logits, temperature, top_k)
        token = int(rng.choice(len(p), p=p))
    if token == 1:
        return []
    rest = generate(model, list(prompt_ids) + [token], max_new_tokens - 1, temperature,
                    top_k, seed, rng)
    return [token] + rest
""",
        # The check takes ids as a list or a tuple, so the hidden tests must too.
        "a tuple": _generation(result="tuple(new)"),
    },
    mistakes={
        "the prompt returned too": Mistake(
            "starts with the prompt", _generation(result="list(prompt_ids) + new")
        ),
        "</s> kept": Mistake(
            "</s> is in the result",
            _generation().replace(
                "        if token == EOS_ID:\n            break\n",
                "        if token == EOS_ID:\n            return new + [EOS_ID]\n",
            ),
        ),
        "no stop at </s>": Mistake("went on after </s>", _generation(stop=" and False")),
        "logits of the first position": Mistake("first position", _generation(position="0")),
        "one position short": Mistake(
            "new tokens fit", _generation(limit="model.config.max_seq_len - 1")
        ),
        "max_new_tokens ignored": Mistake("with max_new_tokens=2", _generation(budget="10 ** 6")),
        "the budget tested after each token": Mistake(
            "with max_new_tokens=0",
            """
from course_lib.checks.ch05 import reference_next_token_probs as next_token_probs
def generate(model, prompt_ids, max_new_tokens=20, temperature=0.0, top_k=None, seed=0):
    rng = np.random.default_rng(seed)
    ids = list(prompt_ids)
    while True:
        logits = model(np.array([ids]))[0, -1]
        if temperature == 0:
            token = int(np.argmax(logits))
        else:
            p = next_token_probs(logits, temperature, top_k)
            token = int(rng.choice(len(p), p=p))
        if token == 1:
            break
        ids.append(token)
        if len(ids) - len(prompt_ids) >= max_new_tokens or len(ids) >= model.config.max_seq_len:
            break
    return ids[len(prompt_ids):]
""",
        ),
        "always greedy": Mistake("gave the greedy answer", _generation(greedy="True")),
        "temperature=1.0 by default": Mistake(
            "keep the signature's default, temperature=0.0 (greedy)",
            _generation().replace("temperature=0.0", "temperature=1.0"),
        ),
        "a new generator at every step": Mistake(
            "a new random generator was made at every step",
            _generation(rng="np.random.default_rng(seed)"),
        ),
    },
)

# ----------------------------------------------------------------------------- 5.5 llm_forward

_BLOCK = (
    "from course_lib.checks.ch03 import reference_block_forward as block_forward\n"
    "from course_lib.checks.ch03 import reference_layer_norm as layer_norm\n"
)

_FORWARD = _BLOCK + (
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
_RIGHT = {
    "embed": "params['embeddings.token.weight'][ids] + params['embeddings.position.weight'][:t]",
    "order": "range(config['n_layers'])",
    "block": "i",
    "heads": "config['n_heads']",
    "final": "config['norm'] == 'pre'",
    "bias": " + params['output.bias']",
}


def _forward(**changes: str) -> str:
    """An `llm_forward` source, right except for `changes`."""
    return _FORWARD.format(**{**_RIGHT, **changes})


CORPUS["ch05_llm_forward"] = Answers(
    valid={
        "blocks by index, prefixes removed": _forward(),
        "np.take, blocks found from the keys, einsum for the output": _BLOCK
        + """
def llm_forward(ids, params, config):
    x = np.take(params['embeddings.token.weight'], ids, axis=0)
    x = x + params['embeddings.position.weight'][np.arange(ids.shape[1])]
    n = 1 + max(int(k.split('.')[1]) for k in params if k.startswith('blocks.'))
    for i in range(n):
        p = {k[len(f'blocks.{i}.'):]: v for k, v in params.items()
             if k.startswith(f'blocks.{i}.')}
        x = block_forward(x, p, n_heads=config['n_heads'], norm=config['norm'],
                          eps=config['layer_norm_eps'])
    if 'final_norm.weight' in params:
        x = layer_norm(x, params['final_norm.weight'], params['final_norm.bias'],
                       config['layer_norm_eps'])
    return np.einsum('btd,vd->btv', x, params['output.weight']) + params['output.bias']
""",
        "one-hot rows times the table, functools.reduce over the blocks": _BLOCK
        + """
import functools
def llm_forward(ids, params, config):
    table = params['embeddings.token.weight']
    one_hot = np.eye(table.shape[0])[ids]
    x = one_hot @ table + params['embeddings.position.weight'][: ids.shape[-1]][None]
    def step(x, i):
        pre = 'blocks.%d.' % i
        p = {k[len(pre):]: params[k] for k in params if k.startswith(pre)}
        return block_forward(x, p, config['n_heads'], config['norm'])
    x = functools.reduce(step, range(config['n_layers']), x)
    if config['norm'] == 'pre':
        x = layer_norm(x, params['final_norm.weight'], params['final_norm.bias'])
    logits = x.reshape(-1, x.shape[-1]) @ params['output.weight'].T
    return (logits + params['output.bias']).reshape(*ids.shape, -1)
""",
    },
    mistakes={
        "no position embeddings": Mistake(
            "position embeddings are missing",
            _forward(embed="params['embeddings.token.weight'][ids]"),
        ),
        "positions looked up by token id": Mistake(
            "indexed by token id", _forward(embed=_RIGHT["embed"].replace("[:t]", "[ids]"))
        ),
        "blocks in reverse order": Mistake(
            "reverse order", _forward(order="reversed(range(config['n_layers']))")
        ),
        "block 0's weights every time": Mistake("block 0's weights", _forward(block="0")),
        "no final norm": Mistake("the final norm is missing", _forward(final="False")),
        "a final norm in post-norm too": Mistake(
            "has no final norm",
            _forward(final="True")
            .replace("params['final_norm.weight']", "params.get('final_norm.weight', 1.0)")
            .replace("params['final_norm.bias']", "params.get('final_norm.bias', 0.0)"),
        ),
        "no output bias": Mistake("output bias is missing", _forward(bias="")),
        "one head": Mistake("with one head", _forward(heads="1")),
    },
)
