"""Chapter 05, the whole model: generate (exercise 5.4) and llm_forward (exercise 5.5)."""

from check_corpus import Answers, Mistake, independent

CORPUS: dict[str, Answers] = {}

# ----------------------------------------------------------------------------- 5.4 generate

_GENERATE = (
    "from course_lib.checks.ch05 import reference_next_token_probs as next_token_probs\n"
    "EOS_ID = 1\n"
    "def generate(model, prompt_ids, max_new_tokens=20, temperature=0.0, top_k=None, seed=0):\n"
    "    rng = np.random.default_rng(seed)\n"
    "    ids, new = list(prompt_ids), []\n"
    "    while len(new) < {budget} and len(ids) + len(new) < {limit}:\n"
    "        logits = model(np.array([ids + new]))[0, {position}].copy()\n"
    "        {rule}\n"
    "        if {greedy}:\n"
    "            token = int(np.argmax(logits))\n"
    "        else:\n"
    "            p = next_token_probs({probs})\n"
    "            token = int({rng}.choice(len(p), p=p))\n"
    "        if token == EOS_ID{stop}:\n"
    "            break\n"
    "        new.append(token)\n"
    "    return {result}\n"
)
_GOOD = {
    "rule": "logits[[model.config.pad_id, 2]] = -np.inf",
    "probs": "logits, temperature, top_k",
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
from course_lib.sampling import never_written, next_token_distribution, pick_greedy
def generate(model, prompt_ids, max_new_tokens=20, temperature=0.0, top_k=None, seed=0):
    rng = np.random.default_rng(seed)
    seq = [int(i) for i in prompt_ids]
    start = len(seq)
    never = never_written(model.config)
    for _ in range(max_new_tokens):
        if len(seq) >= model.config.max_seq_len:
            break
        logits = model(np.asarray(seq)[None, :])[0][-1]
        if temperature > 0:
            p = next_token_distribution(logits, temperature, top_k, never)
            nxt = int(rng.choice(p.size, p=p))
        else:
            nxt = int(pick_greedy(logits, never))
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
    logits = np.where(np.isin(np.arange(model.config.vocab_size), [0, 2]), -np.inf,
                      model(np.array([list(prompt_ids)]))[0, -1])
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
        # <pad> is never written, so reading every token (a mask of all True, or the library's
        # key/value cache, which attends to every token it is given) changes nothing.
        "every token read (a mask of all True)": _generation().replace(
            "model(np.array([ids + new]))",
            "model(np.array([ids + new]), np.ones((1, len(ids) + len(new)), dtype=bool))",
        ),
        "the library's key/value cache": """
from course_lib.checks.ch05 import reference_next_token_probs as next_token_probs
from course_lib.vocab import UNK_ID
def generate(model, prompt_ids, max_new_tokens=20, temperature=0.0, top_k=None, seed=0):
    rng = np.random.default_rng(seed)
    room = min(max_new_tokens, model.config.max_seq_len - len(prompt_ids))
    cache = cl.KVCache(model.config, batch=1, dtype=model.dtype)
    step = np.array([list(prompt_ids)])
    new = []
    while len(new) < room:
        logits = model(step, cache=cache)[0, -1].copy()
        logits[[model.config.pad_id, UNK_ID]] = -np.inf
        if temperature == 0:
            token = int(np.argmax(logits))
        else:
            token = int(rng.choice(logits.size, p=next_token_probs(logits, temperature, top_k)))
        if token == 1:
            break
        new.append(token)
        step = np.array([[token]])
    return new
""",
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
        logits = model(np.array([ids]))[0, -1].copy()
        logits[[0, 2]] = -np.inf
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
        "<pad> and <unk> written": Mistake("never writes <pad> or <unk>", _generation(rule="")),
        "only <pad> left out": Mistake(
            "the model wrote <unk>", _generation(rule="logits[model.config.pad_id] = -np.inf")
        ),
        "<pad> taken for the end": Mistake(
            "only </s> ends the text", _generation(rule="", stop=" or token in (0, 2)")
        ),
        "top_k not passed on": Mistake(
            "made no difference: the tokens are those of sampling from every token",
            _generation(probs="logits, temperature"),
        ),
        "the temperature applied twice": Mistake(
            "the temperature was applied twice",
            _generation(probs="logits / temperature, temperature, top_k"),
        ),
        "the temperature not passed on": Mistake(
            "the tokens are those of temperature 1", _generation(probs="logits, top_k=top_k")
        ),
        "NumPy's global generator": Mistake(
            "NumPy's global generator",
            _generation(rng="np.random").replace(
                "rng = np.random.default_rng(seed)", "np.random.seed(seed)"
            ),
        ),
        "an unseeded generator": Mistake(
            "two calls with the same seed",
            _generation().replace("np.random.default_rng(seed)", "np.random.default_rng()"),
        ),
        "no stop at max_seq_len": Mistake(
            "The model reads at most max_seq_len=12 tokens", _generation(limit="10 ** 6")
        ),
        "<pad> and <unk> zeroed after the cut": Mistake(
            "used up places of the top_k",
            _generation().replace(
                "p = next_token_probs(logits, temperature, top_k)\n",
                "p = next_token_probs(model(np.array([ids + new]))[0, -1], temperature, top_k)\n"
                "            p[[0, 2]] = 0.0\n            p = p / p.sum()\n",
            ),
        ),
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
        return block_forward(x, p, config['n_heads'], config['norm'], config['layer_norm_eps'])
    x = functools.reduce(step, range(config['n_layers']), x)
    if config['norm'] == 'pre':
        x = layer_norm(x, params['final_norm.weight'], params['final_norm.bias'],
                       config['layer_norm_eps'])
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
        "layer_norm_eps left out": Mistake(
            "made no difference: your norms use 1e-5",
            _forward().replace(", eps)", ")").replace("config['norm'], eps)", "config['norm'])"),
        ),
        "positions added after the blocks": Mistake(
            "added after the blocks",
            _forward(embed="params['embeddings.token.weight'][ids]").replace(
                "    if ", "    x = x + params['embeddings.position.weight'][:t]\n    if ", 1
            ),
        ),
        "the final norm inside the loop": Mistake(
            "ran after every block",
            _forward(final="False").replace(
                "        x = block_forward(x, p, config['n_heads'], config['norm'], eps)\n",
                "        x = block_forward(x, p, config['n_heads'], config['norm'], eps)\n"
                "        if config['norm'] == 'pre':\n"
                "            x = layer_norm(x, params['final_norm.weight'], "
                "params['final_norm.bias'], eps)\n",
            ),
        ),
        "a final norm in post-norm, looked up directly": Mistake(
            "has no final norm (its last block already ends in norm2)", _forward(final="True")
        ),
        "config read as attributes": Mistake(
            "config is a dict (ModelConfig.to_dict()), not a ModelConfig",
            _forward(order="range(config.n_layers)"),
        ),
        "the position table cut at the batch size": Mistake(
            "the position table's first time rows",
            _forward(embed=_RIGHT["embed"].replace("[:t]", "[: ids.shape[0]]")),
        ),
        "the final norm without eps": Mistake(
            "the final norm uses eps 1e-5",
            _forward().replace("params['final_norm.bias'], eps)", "params['final_norm.bias'])"),
        ),
        "three blocks, whatever the config": Mistake(
            "loop over range(config['n_layers'])", _forward(order="range(3)")
        ),
    },
)

# The answers written independently of the checks, from the chapter text alone.
independent.merge(CORPUS)
