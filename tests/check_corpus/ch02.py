"""Chapter 02: embed, embed_backward, sinusoidal_positions, cosine_similarity,
nearest_neighbours."""

from check_corpus import Answers, Mistake

CORPUS: dict[str, Answers] = {}

_ARRAY = "it should return a NumPy array"

# ----------------------------------------------------------------------------- 2.1 embed

CORPUS["ch02_embed"] = Answers(
    valid={
        "fancy indexing": "def embed(table, ids):\n    return table[np.asarray(ids)]\n",
        "np.take": "def embed(table, ids):\n    return np.take(table, ids, axis=0)\n",
        "one-hot product": "def embed(table, ids):\n    return np.eye(len(table))[ids] @ table\n",
        "loop over the flattened ids": """
def embed(table, ids):
    ids = np.asarray(ids)
    rows = [table[i] for i in ids.reshape(-1)]
    return np.stack(rows).reshape(ids.shape + (table.shape[1],))
""",
    },
    mistakes={
        "a list of rows": Mistake(
            _ARRAY, "def embed(table, ids):\n    return [table[i] for i in ids]\n"
        ),
        "table normalised in place": Mistake(
            "embed changed its argument `table` in place",
            """
def embed(table, ids):
    table /= np.linalg.norm(table, axis=1, keepdims=True)
    return table[ids]
""",
        ),
        "ids off by one": Mistake(
            "differs from one_hot(ids) @ table",
            "def embed(table, ids):\n    return table[ids - 1]\n",
        ),
        "rows summed": Mistake(
            "one row of the table (d_model numbers) per id",
            "def embed(table, ids):\n    return table[ids].sum(axis=0)\n",
        ),
        "ids taken for an array": Mistake(
            "ids may be a plain list too",
            "def embed(table, ids):\n"
            "    flat = np.eye(len(table))[ids.reshape(-1)] @ table\n"
            "    return flat.reshape(ids.shape + (table.shape[1],))\n",
        ),
        "no return": Mistake(
            "did you forget the `return`", "def embed(table, ids):\n    vectors = table[ids]\n"
        ),
    },
)

# ----------------------------------------------------------------------------- 2.2 embed_backward

CORPUS["ch02_embed_backward"] = Answers(
    valid={
        "np.add.at": """
def embed_backward(grad, ids, vocab_size):
    d_table = np.zeros((vocab_size, grad.shape[-1]))
    np.add.at(d_table, ids, grad)
    return d_table
""",
        "loop over positions": """
def embed_backward(grad, ids, vocab_size):
    d_table = np.zeros((vocab_size, grad.shape[-1]))
    for i, row in zip(np.ravel(ids), grad.reshape(-1, grad.shape[-1])):
        d_table[i] += row
    return d_table
""",
        "transposed one-hot product": """
def embed_backward(grad, ids, vocab_size):
    one_hot = np.eye(vocab_size)[np.ravel(ids)]  # (N, vocab)
    return one_hot.T @ grad.reshape(-1, grad.shape[-1])
""",
        "bincount per column": """
def embed_backward(grad, ids, vocab_size):
    flat = grad.reshape(-1, grad.shape[-1])
    columns = [np.bincount(np.ravel(ids), weights=flat[:, j], minlength=vocab_size)
               for j in range(flat.shape[1])]
    return np.stack(columns, axis=1)
""",
    },
    mistakes={
        "fancy-index +=": Mistake(
            "some gradient is lost",
            """
def embed_backward(grad, ids, vocab_size):
    d_table = np.zeros((vocab_size, grad.shape[-1]))
    d_table[ids] += grad
    return d_table
""",
        ),
        "transposed": Mistake(
            "that is transposed",
            """
def embed_backward(grad, ids, vocab_size):
    d_table = np.zeros((grad.shape[-1], vocab_size))
    np.add.at(d_table.T, ids, grad)
    return d_table
""",
        ),
        "rows only up to the largest id": Mistake(
            "even for ids that never appear",
            """
def embed_backward(grad, ids, vocab_size):
    d_table = np.zeros((np.max(ids) + 1, grad.shape[-1]))
    np.add.at(d_table, ids, grad)
    return d_table
""",
        ),
        "counts instead of gradients": Mistake(
            "counts how often each id occurs",
            """
def embed_backward(grad, ids, vocab_size):
    d_table = np.zeros((vocab_size, grad.shape[-1]))
    np.add.at(d_table, ids, 1.0)
    return d_table
""",
        ),
        "a list of lists": Mistake(
            _ARRAY,
            """
def embed_backward(grad, ids, vocab_size):
    d_table = np.zeros((vocab_size, grad.shape[-1]))
    np.add.at(d_table, ids, grad)
    return d_table.tolist()
""",
        ),
        "loop over the first axis only": Mistake(
            "row i of the result must be the sum of the rows of `grad`",
            """
def embed_backward(grad, ids, vocab_size):
    d_table = np.zeros((vocab_size, grad.shape[-1]))
    for i, g in zip(ids, grad):
        d_table[i] += g
    return d_table
""",
        ),
    },
)

# ----------------------------------------------------------------------------- 2.3 sinusoidal

_ANGLES = """
def _angles(max_len, d_model):
    return np.arange(max_len)[:, None] / 10000.0 ** (np.arange(0, d_model, 2) / d_model)
"""


def _table(sin: str, cos: str) -> str:
    return (
        _ANGLES
        + f"""
def sinusoidal_positions(max_len, d_model):
    a = _angles(max_len, d_model)
    table = np.zeros((max_len, d_model))
    table[:, 0::2] = {sin}
    table[:, 1::2] = {cos}
    return table
"""
    )


CORPUS["ch02_sinusoidal_positions"] = Answers(
    valid={
        "broadcast angles": _table("np.sin(a)", "np.cos(a[:, : d_model // 2])"),
        "double loop": """
import math
def sinusoidal_positions(max_len, d_model):
    table = np.zeros((max_len, d_model))
    for pos in range(max_len):
        for i in range(0, d_model, 2):
            angle = pos / 10000 ** (i / d_model)
            table[pos, i] = math.sin(angle)
            if i + 1 < d_model:
                table[pos, i + 1] = math.cos(angle)
    return table
""",
        "a frequency per column, then np.where": """
def sinusoidal_positions(max_len, d_model):
    columns = np.arange(d_model)
    angles = np.arange(max_len)[:, None] / 10000.0 ** ((columns - columns % 2) / d_model)
    return np.where(columns % 2 == 0, np.sin(angles), np.cos(angles))
""",
    },
    mistakes={
        "sin and cos swapped": Mistake(
            "sin and cos are swapped", _table("np.cos(a)", "np.sin(a[:, : d_model // 2])")
        ),
        "positions from 1": Mistake(
            "positions start at 0",
            _ANGLES.replace("np.arange(max_len)[:, None]", "np.arange(1, max_len + 1)[:, None]")
            + _table("np.sin(a)", "np.cos(a[:, : d_model // 2])").replace(_ANGLES, ""),
        ),
        "sines, then cosines": Mistake(
            "all the sines come first",
            _ANGLES
            + """
def sinusoidal_positions(max_len, d_model):
    a = _angles(max_len, d_model)
    return np.concatenate([np.sin(a), np.cos(a[:, : d_model // 2])], axis=1)
""",
        ),
        "a frequency of its own for each column": Mistake(
            "each sin/cos pair shares one frequency",
            """
def sinusoidal_positions(max_len, d_model):
    columns = np.arange(d_model)
    angles = np.arange(max_len)[:, None] / 10000.0 ** (columns / d_model)
    return np.where(columns % 2 == 0, np.sin(angles), np.cos(angles))
""",
        ),
        "multiplied by the frequency term": Mistake(
            "(a division)",
            _ANGLES.replace(" / 10000.0 **", " * 10000.0 **")
            + _table("np.sin(a)", "np.cos(a[:, : d_model // 2])").replace(_ANGLES, ""),
        ),
        "odd d_model forgotten": Mistake(
            "the last column is a lone sin", _table("np.sin(a)", "np.cos(a)")
        ),
        "a nested list": Mistake(
            _ARRAY,
            _ANGLES
            + """
def sinusoidal_positions(max_len, d_model):
    a = _angles(max_len, d_model)
    table = np.zeros((max_len, d_model))
    table[:, 0::2] = np.sin(a)
    table[:, 1::2] = np.cos(a[:, : d_model // 2])
    return table.tolist()
""",
        ),
    },
)

# ----------------------------------------------------------------------------- 2.4 cosine

CORPUS["ch02_cosine_similarity"] = Answers(
    valid={
        "divide by both lengths": """
def cosine_similarity(table, query):
    return table @ query / (np.linalg.norm(table, axis=1) * np.linalg.norm(query))
""",
        "normalise first, then dot": """
def cosine_similarity(table, query):
    unit_rows = table / np.linalg.norm(table, axis=1, keepdims=True)
    return unit_rows @ (query / np.linalg.norm(query))
""",
        "einsum and square roots": """
def cosine_similarity(table, query):
    dots = np.einsum("nd,d->n", table, query)
    return dots / np.sqrt(np.einsum("nd,nd->n", table, table) * query.dot(query))
""",
        "loop over rows": """
import math
def cosine_similarity(table, query):
    q = math.sqrt(sum(x * x for x in query))
    out = []
    for row in table:
        dot = sum(a * b for a, b in zip(row, query))
        out.append(dot / (math.sqrt(sum(a * a for a in row)) * q))
    return np.array(out)
""",
    },
    mistakes={
        "plain dot product": Mistake(
            "that is the plain dot product",
            "def cosine_similarity(table, query):\n    return table @ query\n",
        ),
        "only the query's length": Mistake(
            "you divided by the query's length but not by each row's",
            "def cosine_similarity(table, query):\n"
            "    return table @ query / np.linalg.norm(query)\n",
        ),
        "only the rows' lengths": Mistake(
            "you divided by each row's length but not by the query's",
            "def cosine_similarity(table, query):\n"
            "    return table @ query / np.linalg.norm(table, axis=1)\n",
        ),
        "length of the whole table": Mistake(
            "the length of the whole table",
            "def cosine_similarity(table, query):\n"
            "    return table @ query / (np.linalg.norm(table) * np.linalg.norm(query))\n",
        ),
        "row lengths kept as a column": Mistake(
            "keepdims=True, shape (n, 1)",
            "def cosine_similarity(table, query):\n"
            "    return table @ query / (np.linalg.norm(table, axis=1, keepdims=True)"
            " * np.linalg.norm(query))\n",
        ),
        "rows normalised in place": Mistake(
            "changed its argument `table` in place",
            """
def cosine_similarity(table, query):
    table /= np.linalg.norm(table, axis=1, keepdims=True)
    return table @ query / np.linalg.norm(query)
""",
        ),
        "a list": Mistake(
            _ARRAY,
            "def cosine_similarity(table, query):\n"
            "    q = np.linalg.norm(query)\n"
            "    return [float(r @ query / np.linalg.norm(r) / q) for r in table]\n",
        ),
    },
)

# ----------------------------------------------------------------------------- 2.5 nearest

_COSINE = """
def cosine_similarity(table, query):
    return table @ query / (np.linalg.norm(table, axis=1) * np.linalg.norm(query))
"""

CORPUS["ch02_nearest_neighbours"] = Answers(
    valid={
        "argsort of -similarity, a list": _COSINE
        + """
def nearest_neighbours(table, token_id, k=5):
    order = np.argsort(-cosine_similarity(table, table[token_id]))
    return [int(i) for i in order if i != token_id][:k]
""",
        "argsort reversed, an array": _COSINE
        + """
def nearest_neighbours(table, token_id, k=5):
    order = np.argsort(cosine_similarity(table, table[token_id]))[::-1]
    return order[order != token_id][:k]
""",
        "sorted() with a key": _COSINE
        + """
def nearest_neighbours(table, token_id, k=5):
    s = cosine_similarity(table, table[token_id])
    others = [i for i in range(len(table)) if i != token_id]
    return sorted(others, key=lambda i: s[i], reverse=True)[:k]
""",
        "itself set to -inf": _COSINE
        + """
def nearest_neighbours(table, token_id, k=5):
    s = cosine_similarity(table, table[token_id])
    s[token_id] = -np.inf
    return list(np.argsort(-s)[:k])
""",
    },
    mistakes={
        "itself included": Mistake(
            "the token itself is in its own neighbour list",
            _COSINE + "def nearest_neighbours(table, token_id, k=5):\n"
            "    order = np.argsort(-cosine_similarity(table, table[token_id]))\n"
            "    return [int(i) for i in order[:k]]\n",
        ),
        "ascending order": Mistake(
            "the order is backwards",
            _COSINE + "def nearest_neighbours(table, token_id, k=5):\n"
            "    order = np.argsort(cosine_similarity(table, table[token_id]))\n"
            "    return [int(i) for i in order if i != token_id][:k]\n",
        ),
        "dot product": Mistake(
            "that ranks by the dot product",
            "def nearest_neighbours(table, token_id, k=5):\n"
            "    order = np.argsort(-(table @ table[token_id]))\n"
            "    return [int(i) for i in order if i != token_id][:k]\n",
        ),
        "Euclidean distance": Mistake(
            "that ranks by Euclidean distance",
            "def nearest_neighbours(table, token_id, k=5):\n"
            "    order = np.argsort(np.linalg.norm(table - table[token_id], axis=1))\n"
            "    return [int(i) for i in order if i != token_id][:k]\n",
        ),
        "cut to k before leaving itself out": Mistake(
            "expected k = 3",
            _COSINE + "def nearest_neighbours(table, token_id, k=5):\n"
            "    order = np.argsort(-cosine_similarity(table, table[token_id]))[:k]\n"
            "    return [int(i) for i in order if i != token_id]\n",
        ),
        "the similarities instead of the ids": Mistake(
            "should return the ids as a list of ints",
            _COSINE + "def nearest_neighbours(table, token_id, k=5):\n"
            "    s = np.sort(cosine_similarity(table, table[token_id]))[::-1]\n"
            "    return s[1 : k + 1]\n",
        ),
        "rows normalised in place": Mistake(
            "changed its argument `table` in place",
            """
def nearest_neighbours(table, token_id, k=5):
    table /= np.linalg.norm(table, axis=1, keepdims=True)
    order = np.argsort(-(table @ table[token_id]))
    return [int(i) for i in order if i != token_id][:k]
""",
        ),
    },
)
