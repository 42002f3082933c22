"""Chapter 06: kmer_counts, mean_pool, cosine_top_k."""

from check_corpus import Answers, Mistake

CORPUS: dict[str, Answers] = {}

# ----------------------------------------------------------------------------- 6.1 kmer_counts


def _counts(starts: str, extra: str = "", result: str = "counts") -> str:
    return f"""
from course_lib import dna
def kmer_counts(sequences, k, overlapping=True):
    column = {{kmer: j for j, kmer in enumerate(dna.kmer_columns(k))}}
    counts = np.zeros((len(sequences), 4**k))
    for row, seq in enumerate(sequences):
        for i in {starts}:
            counts[row, column[seq[i : i + k]]] += 1
{extra}    return {result}
"""


_STARTS = "range(0, len(seq) - k + 1, 1 if overlapping else k)"

CORPUS["ch06_kmer_counts"] = Answers(
    valid={
        "a window at each start": _counts(_STARTS),
        "Counter per sequence": """
from collections import Counter
from course_lib import dna
def kmer_counts(sequences, k, overlapping=True):
    columns = dna.kmer_columns(k)
    step = 1 if overlapping else k
    rows = []
    for seq in sequences:
        found = Counter(seq[i : i + k] for i in range(0, len(seq) - k + 1, step))
        rows.append([found[c] for c in columns])
    return np.array(rows, dtype=float).reshape(len(sequences), 4**k)
""",
        "base-4 column numbers": """
def kmer_counts(sequences, k, overlapping=True):
    digit = {"A": 0, "C": 1, "G": 2, "T": 3}
    out = np.zeros((len(sequences), 4**k), dtype=int)
    for row, seq in enumerate(sequences):
        for i in range(0, len(seq) - k + 1, 1 if overlapping else k):
            j = 0
            for base in seq[i : i + k]:
                j = 4 * j + digit[base]
            out[row, j] += 1
    return out
""",
    },
    mistakes={
        "last window missing": Mistake(
            "off by one: the last k-mer is missing",
            _counts("range(0, len(seq) - k, 1 if overlapping else k)"),
        ),
        "str.count": Mistake(
            "those are str.count numbers",
            """
from course_lib import dna
def kmer_counts(sequences, k, overlapping=True):
    return np.array([[s.count(c) for c in dna.kmer_columns(k)] for s in sequences], dtype=float)
""",
        ),
        "always side by side": Mistake(
            "you stepped by k", _counts("range(0, len(seq) - k + 1, k)")
        ),
        "always overlapping": Mistake(
            "you counted a window at every base", _counts("range(0, len(seq) - k + 1)")
        ),
        "frequencies": Mistake(
            "gave frequencies",
            _counts(_STARTS, result="counts / np.maximum(counts.sum(axis=1, keepdims=True), 1)"),
        ),
        "columns in the order the k-mers were met": Mistake(
            "the right numbers in the wrong columns",
            _counts(_STARTS).replace(
                "column = {kmer: j for j, kmer in enumerate(dna.kmer_columns(k))}",
                "column = {kmer: j for j, kmer in enumerate(dna.kmer_columns(k)[::-1])}",
            ),
        ),
        "transposed": Mistake("that is transposed", _counts(_STARTS, result="counts.T")),
        "a nested list": Mistake(
            "it should return a NumPy array", _counts(_STARTS, result="counts.tolist()")
        ),
        "side by side by default": Mistake(
            "keep the signature's default",
            _counts(_STARTS).replace("overlapping=True", "overlapping=False"),
        ),
    },
)

# ----------------------------------------------------------------------------- 6.2 mean_pool

CORPUS["ch06_mean_pool"] = Answers(
    valid={
        "mask with a last axis": """
def mean_pool(hidden, mask):
    weights = mask[:, :, None].astype(hidden.dtype)
    return (hidden * weights).sum(axis=1) / weights.sum(axis=1)
""",
        "a loop over the batch": """
def mean_pool(hidden, mask):
    return np.stack([hidden[b][mask[b]].mean(axis=0) for b in range(len(hidden))])
""",
        "einsum": """
def mean_pool(hidden, mask):
    m = mask.astype(float)
    return np.einsum("bt,btd->bd", m, hidden) / m.sum(axis=1, keepdims=True)
""",
    },
    mistakes={
        "mean over the padding too": Mistake(
            "that is hidden.mean(axis=1)",
            "def mean_pool(hidden, mask):\n    return hidden.mean(axis=1)\n",
        ),
        "divided by the padded length": Mistake(
            "instead of each sequence's own number of real tokens",
            "def mean_pool(hidden, mask):\n"
            "    return (hidden * mask[:, :, None]).sum(axis=1) / hidden.shape[1]\n",
        ),
        "padding summed": Mistake(
            "but the sum still includes the padded positions",
            "def mean_pool(hidden, mask):\n"
            "    return hidden.sum(axis=1) / mask.sum(axis=1, keepdims=True)\n",
        ),
        "mean over the batch axis": Mistake(
            "average over the time axis (axis=1)",
            "def mean_pool(hidden, mask):\n"
            "    return (hidden * mask[:, :, None]).sum(axis=0) / mask.sum(axis=0)[:, None]\n",
        ),
        "mask without a last axis": Mistake(
            "Give the mask a last axis of length 1",
            "def mean_pool(hidden, mask):\n"
            "    return (hidden * mask).sum(axis=1) / mask.sum(axis=1, keepdims=True)\n",
        ),
        "denominator without keepdims": Mistake(
            "Keep the axis, mask.sum(axis=1, keepdims=True)",
            "def mean_pool(hidden, mask):\n"
            "    return (hidden * mask[:, :, None]).sum(axis=1) / mask.sum(axis=1)\n",
        ),
        "padding zeroed in place": Mistake(
            "mean_pool changed `hidden` in place",
            "def mean_pool(hidden, mask):\n"
            "    hidden[~mask] = 0.0\n"
            "    return hidden.sum(axis=1) / mask.sum(axis=1, keepdims=True)\n",
        ),
    },
)

# ----------------------------------------------------------------------------- 6.3 cosine_top_k


def _top_k(prepare: str, order: str = "np.argsort(-similarity)[:k]", result: str = "") -> str:
    return f"""
def cosine_top_k(matrix, query, k=5, centre=True):
{prepare}    unit = matrix / np.linalg.norm(matrix, axis=1, keepdims=True)
    similarity = unit @ unit[query]
    similarity[query] = -np.inf
    order = {order}
    return {result or "order, similarity[order]"}
"""


_CENTRE = "    if centre:\n        matrix = matrix - matrix.mean(axis=0)\n"

CORPUS["ch06_cosine_top_k"] = Answers(
    valid={
        "unit rows, argsort": _top_k(_CENTRE),
        "a loop, lists back": """
import math
def cosine_top_k(matrix, query, k=5, centre=True):
    rows = [list(map(float, r)) for r in matrix]
    if centre:
        means = [sum(col) / len(rows) for col in zip(*rows)]
        rows = [[x - m for x, m in zip(r, means)] for r in rows]
    q = rows[query]
    def cos(r):
        dot = sum(a * b for a, b in zip(r, q))
        return dot / math.sqrt(sum(a * a for a in r) * sum(b * b for b in q))
    scored = sorted(((cos(r), i) for i, r in enumerate(rows) if i != query), reverse=True)[:k]
    return [i for _, i in scored], [s for s, _ in scored]
""",
        "norms divided after the dot product": """
def cosine_top_k(matrix, query, k=5, centre=True):
    m = matrix - matrix.mean(axis=0) if centre else np.array(matrix, dtype=float)
    norms = np.linalg.norm(m, axis=1)
    sims = m @ m[query] / (norms * norms[query])
    candidates = np.delete(np.arange(len(m)), query)
    best = candidates[np.argsort(sims[candidates])[::-1][:k]]
    return best, sims[best]
""",
    },
    mistakes={
        "the query among its neighbours": Mistake(
            "returned the query itself among its neighbours",
            _top_k(_CENTRE).replace("    similarity[query] = -np.inf\n", ""),
        ),
        "no normalising": Mistake(
            "that ranks by the dot product",
            _top_k(_CENTRE).replace(
                "unit = matrix / np.linalg.norm(matrix, axis=1, keepdims=True)", "unit = matrix"
            ),
        ),
        "no centring": Mistake("the rows were not centred", _top_k("")),
        "centre=False by default": Mistake(
            "keep the signature's default, centre=True",
            _top_k(_CENTRE).replace("centre=True", "centre=False"),
        ),
        "each row centred": Mistake(
            "you subtracted each row's own mean",
            _top_k(
                "    if centre:\n        matrix = matrix - matrix.mean(axis=1, keepdims=True)\n"
            ),
        ),
        "ascending": Mistake(
            "the order is backwards",
            _top_k(
                _CENTRE, "np.array([i for i in np.argsort(similarity) if i != query][:k])"
            ).replace("    similarity[query] = -np.inf\n", ""),
        ),
        "always centred": Mistake(
            "with centre=False the cosine uses the rows as given",
            _top_k("    matrix = matrix - matrix.mean(axis=0)\n"),
        ),
        "only the indices": Mistake(
            "should return two arrays, (indices, similarities)", _top_k(_CENTRE, result="order")
        ),
        "similarities of the uncentred rows": Mistake(
            "the similarities should be their centred cosines",
            _top_k(
                "    original = matrix\n" + _CENTRE,
                result="order, (original / np.linalg.norm(original, axis=1, keepdims=True))[order]"
                " @ (original[query] / np.linalg.norm(original[query]))",
            ),
        ),
        "centred in place": Mistake(
            "cosine_top_k changed the matrix in place",
            _top_k("    if centre:\n        matrix -= matrix.mean(axis=0)\n"),
        ),
    },
)
