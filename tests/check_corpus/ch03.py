"""Chapter 03: softmax, causal_attention, split_heads, layer_norm, layer_norm_backward,
attention_backward."""

from check_corpus import Answers, Mistake

CORPUS: dict[str, Answers] = {}

_ARRAY = "it should return a NumPy array"

# ----------------------------------------------------------------------------- 3.1 softmax

CORPUS["ch03_softmax"] = Answers(
    valid={
        "shift, exp, divide": """
def softmax(x, axis=-1):
    e = np.exp(x - np.max(x, axis=axis, keepdims=True))
    return e / np.sum(e, axis=axis, keepdims=True)
""",
        "log-sum-exp": """
def softmax(x, axis=-1):
    m = np.max(x, axis=axis, keepdims=True)
    return np.exp(x - m - np.log(np.sum(np.exp(x - m), axis=axis, keepdims=True)))
""",
        "axis moved last, a loop over rows": """
def softmax(x, axis=-1):
    moved = np.moveaxis(np.asarray(x, dtype=float), axis, -1)
    rows = moved.reshape(-1, moved.shape[-1])
    out = np.empty_like(rows)
    for i, row in enumerate(rows):
        e = np.exp(row - row.max())
        out[i] = e / e.sum()
    return np.moveaxis(out.reshape(moved.shape), -1, axis)
""",
    },
    mistakes={
        "no shift": Mistake(
            "exp(1000) overflows",
            "def softmax(x, axis=-1):\n"
            "    return np.exp(x) / np.sum(np.exp(x), axis=axis, keepdims=True)\n",
        ),
        "the global max": Mistake(
            "subtract each row's own max",
            "def softmax(x, axis=-1):\n"
            "    e = np.exp(x - np.max(x))\n"
            "    return e / np.sum(e, axis=axis, keepdims=True)\n",
        ),
        "sum over the whole array": Mistake(
            "the rows do not sum to 1",
            "def softmax(x, axis=-1):\n"
            "    e = np.exp(x - np.max(x, axis=axis, keepdims=True))\n"
            "    return e / np.sum(e)\n",
        ),
        "axis ignored": Mistake(
            "should normalize along axis 1",
            "def softmax(x, axis=-1):\n"
            "    e = np.exp(x - np.max(x, axis=-1, keepdims=True))\n"
            "    return e / np.sum(e, axis=-1, keepdims=True)\n",
        ),
        "input shifted in place": Mistake(
            "softmax changed its input",
            "def softmax(x, axis=-1):\n"
            "    x -= np.max(x, axis=axis, keepdims=True)\n"
            "    e = np.exp(x)\n"
            "    return e / np.sum(e, axis=axis, keepdims=True)\n",
        ),
        "axis 0 by default": Mistake(
            "keep the signature's default, axis=-1",
            "def softmax(x, axis=0):\n"
            "    e = np.exp(x - np.max(x, axis=axis, keepdims=True))\n"
            "    return e / np.sum(e, axis=axis, keepdims=True)\n",
        ),
        "a nested list": Mistake(
            _ARRAY,
            "def softmax(x, axis=-1):\n"
            "    e = np.exp(x - np.max(x, axis=axis, keepdims=True))\n"
            "    return (e / np.sum(e, axis=axis, keepdims=True)).tolist()\n",
        ),
    },
)

# ----------------------------------------------------------------------------- 3.2 attention

_SOFTMAX = """
def softmax(x, axis=-1):
    e = np.exp(x - np.max(x, axis=axis, keepdims=True))
    return e / np.sum(e, axis=axis, keepdims=True)
"""


def _attention(scores: str, mask: str, weights: str, out: str = "weights @ v") -> str:
    return (
        _SOFTMAX
        + f"""
def causal_attention(q, k, v):
    d = q.shape[-1]
    t = q.shape[-2]
    future = np.triu(np.ones((t, t), dtype=bool), k=1)
    scores = {scores}
    scores = {mask}
    weights = {weights}
    return {out}, weights
"""
    )


_RIGHT = ("q @ np.swapaxes(k, -1, -2) / np.sqrt(d)", "np.where(future, -np.inf, scores)")

CORPUS["ch03_causal_attention"] = Answers(
    valid={
        "swapaxes, np.where, softmax": _attention(*_RIGHT, "softmax(scores, axis=-1)"),
        "einsum and a large negative number": _SOFTMAX
        + """
def causal_attention(q, k, v):
    t, d = q.shape[-2:]
    scores = np.einsum("...id,...jd->...ij", q, k) / d ** 0.5
    allowed = np.tril(np.ones((t, t), dtype=bool))
    weights = softmax(np.where(allowed, scores, -1e9))
    return np.einsum("...ij,...jd->...id", weights, v), weights
""",
        "a loop over every leading index": _SOFTMAX
        + """
def causal_attention(q, k, v):
    t, d = q.shape[-2:]
    lead = q.shape[:-2]
    qs, ks, vs = (a.reshape(-1, t, d) for a in (q, k, v))
    outs, all_weights = [], []
    for q1, k1, v1 in zip(qs, ks, vs):
        scores = q1 @ k1.T / np.sqrt(d)
        scores[np.triu_indices(t, 1)] = -np.inf
        w = softmax(scores)
        outs.append(w @ v1)
        all_weights.append(w)
    return np.array(outs).reshape(lead + (t, d)), np.array(all_weights).reshape(lead + (t, t))
""",
    },
    mistakes={
        "no scale": Mistake(
            "not by 1.",
            _attention("q @ np.swapaxes(k, -1, -2)", _RIGHT[1], "softmax(scores)"),
        ),
        "divided by d": Mistake(
            "not by 16.",
            _attention("q @ np.swapaxes(k, -1, -2) / d", _RIGHT[1], "softmax(scores)"),
        ),
        "no mask": Mistake(
            "weights[i, j] for j > i must be 0",
            _attention(_RIGHT[0], "scores", "softmax(scores)"),
        ),
        "masked with 0": Mistake(
            "the future scores were set to 0",
            _attention(_RIGHT[0], "np.where(future, 0.0, scores)", "softmax(scores)"),
        ),
        "mask after the softmax": Mistake(
            "the mask was applied after the softmax",
            _attention(_RIGHT[0], "scores", "np.where(future, 0.0, softmax(scores))"),
        ),
        "-inf after the softmax": Mistake(
            "some weights are -inf",
            _attention(_RIGHT[0], "scores", "np.where(future, -np.inf, softmax(scores))"),
        ),
        "softmax over the query axis": Mistake(
            "the softmax ran over the query axis",
            _attention(*_RIGHT, "softmax(scores, axis=-2)"),
        ),
        "diagonal masked": Mistake(
            "some weights are nan",
            _attention(
                _RIGHT[0], "np.where(np.triu(future | True), -np.inf, scores)", "softmax(scores)"
            ),
        ),
        "transpose for 3-D input only": Mistake(
            "The text promises arrays of shape (..., time, d)",
            _attention("q @ k.transpose(0, 2, 1) / np.sqrt(d)", _RIGHT[1], "softmax(scores)"),
        ),
        "out from the transposed weights": Mistake(
            "the weights are right but out is not",
            _attention(*_RIGHT, "softmax(scores)", "np.swapaxes(weights, -1, -2) @ v"),
        ),
        "q scaled in place": Mistake(
            "changed its argument `q` in place",
            _attention("q", _RIGHT[1], "softmax(scores)").replace(
                "    scores = q\n", "    q /= np.sqrt(d)\n    scores = q @ np.swapaxes(k, -1, -2)\n"
            ),
        ),
    },
)

# ----------------------------------------------------------------------------- 3.3 split_heads

CORPUS["ch03_split_heads"] = Answers(
    valid={
        "reshape, then transpose": """
def split_heads(x, n_heads):
    b, t, d = x.shape
    return x.reshape(b, t, n_heads, d // n_heads).transpose(0, 2, 1, 3)
""",
        "a stack of column blocks": """
def split_heads(x, n_heads):
    size = x.shape[-1] // n_heads
    return np.stack([x[:, :, h * size : (h + 1) * size] for h in range(n_heads)], axis=1)
""",
        "np.split and moveaxis": """
def split_heads(x, n_heads):
    return np.moveaxis(np.array(np.split(x, n_heads, axis=-1)), 0, 1)
""",
    },
    mistakes={
        "one reshape": Mistake(
            "mixes positions into heads",
            "def split_heads(x, n_heads):\n"
            "    b, t, d = x.shape\n"
            "    return x.reshape(b, n_heads, t, d // n_heads)\n",
        ),
        "no transpose": Mistake(
            "expected (2, 4, 3, 2)",
            "def split_heads(x, n_heads):\n"
            "    b, t, d = x.shape\n"
            "    return x.reshape(b, t, n_heads, d // n_heads)\n",
        ),
        "heads strided": Mistake(
            "took every n_heads-th column",
            "def split_heads(x, n_heads):\n"
            "    b, t, d = x.shape\n"
            "    return x.reshape(b, t, d // n_heads, n_heads).transpose(0, 3, 1, 2)\n",
        ),
        "a list of heads": Mistake(
            _ARRAY,
            "def split_heads(x, n_heads):\n"
            "    size = x.shape[-1] // n_heads\n"
            "    return [x[:, :, h * size : (h + 1) * size] for h in range(n_heads)]\n",
        ),
        "no return": Mistake(
            "did you forget the `return`",
            "def split_heads(x, n_heads):\n"
            "    b, t, d = x.shape\n"
            "    heads = x.reshape(b, t, n_heads, d // n_heads).transpose(0, 2, 1, 3)\n",
        ),
    },
)

# ----------------------------------------------------------------------------- 3.4 layer_norm


def _norm(body: str) -> str:
    return f"def layer_norm(x, gamma, beta, eps=1e-5):\n{body}"


CORPUS["ch03_layer_norm"] = Answers(
    valid={
        "mean and var with keepdims": _norm(
            "    mean = x.mean(axis=-1, keepdims=True)\n"
            "    var = x.var(axis=-1, keepdims=True)\n"
            "    return gamma * (x - mean) / np.sqrt(var + eps) + beta\n"
        ),
        "centred squares by hand": _norm(
            "    c = x - np.mean(x, axis=-1)[..., None]\n"
            "    return c / np.sqrt(np.mean(c**2, axis=-1)[..., None] + eps) * gamma + beta\n"
        ),
        "a loop over the rows": _norm(
            "    rows = x.reshape(-1, x.shape[-1])\n"
            "    out = np.empty_like(rows, dtype=float)\n"
            "    for i, r in enumerate(rows):\n"
            "        out[i] = (r - r.mean()) / np.sqrt(r.var() + eps)\n"
            "    return out.reshape(x.shape) * gamma + beta\n"
        ),
    },
    mistakes={
        "no gamma and beta": Mistake(
            "gamma and beta are missing",
            _norm(
                "    m = x.mean(-1, keepdims=True)\n"
                "    return (x - m) / np.sqrt(x.var(-1, keepdims=True) + eps)\n"
            ),
        ),
        "gamma and beta swapped": Mistake(
            "gamma and beta are swapped",
            _norm(
                "    m = x.mean(-1, keepdims=True)\n"
                "    return beta * (x - m) / np.sqrt(x.var(-1, keepdims=True) + eps) + gamma\n"
            ),
        ),
        "over the batch axis": Mistake(
            "you normalized over the batch axis",
            _norm("    return gamma * (x - x.mean(0)) / np.sqrt(x.var(0) + eps) + beta\n"),
        ),
        "sample variance": Mistake(
            "population) variance",
            _norm(
                "    m = x.mean(-1, keepdims=True)\n"
                "    v = x.var(-1, ddof=1, keepdims=True)\n"
                "    return gamma * (x - m) / np.sqrt(v + eps) + beta\n"
            ),
        ),
        "no eps": Mistake(
            "eps is missing",
            _norm(
                "    m = x.mean(-1, keepdims=True)\n"
                "    return gamma * (x - m) / x.std(-1, keepdims=True) + beta\n"
            ),
        ),
        "eps outside the square root": Mistake(
            "not std + eps",
            _norm(
                "    m = x.mean(-1, keepdims=True)\n"
                "    return gamma * (x - m) / (x.std(-1, keepdims=True) + eps) + beta\n"
            ),
        ),
        "eps fixed": Mistake(
            "Does your function use its `eps` argument?",
            _norm(
                "    m = x.mean(-1, keepdims=True)\n"
                "    return gamma * (x - m) / np.sqrt(x.var(-1, keepdims=True) + 1e-5) + beta\n"
            ),
        ),
        "eps=1e-6 by default": Mistake(
            "keep the signature's default, eps=1e-5 (the library's LayerNorm's)",
            _norm(
                "    m = x.mean(-1, keepdims=True)\n"
                "    return gamma * (x - m) / np.sqrt(x.var(-1, keepdims=True) + eps) + beta\n"
            ).replace("eps=1e-5", "eps=1e-6"),
        ),
        "x centred in place": Mistake(
            "changed its argument `x` in place",
            _norm(
                "    x -= x.mean(-1, keepdims=True)\n"
                "    return gamma * x / np.sqrt(x.var(-1, keepdims=True) + eps) + beta\n"
            ),
        ),
    },
)

# ----------------------------------------------------------------------------- 3.5 backward

_LN_HEAD = """
def layer_norm_backward(grad_out, x, gamma, eps=1e-5):
    mean = x.mean(axis=-1, keepdims=True)
    std = np.sqrt(x.var(axis=-1, keepdims=True) + eps)
    x_hat = (x - mean) / std
    g = grad_out * gamma
    lead = tuple(range(x.ndim - 1))
"""


def _ln_backward(dx: str, dgamma: str = "np.sum(grad_out * x_hat, axis=lead)") -> str:
    return _LN_HEAD + f"    dx = {dx}\n    return dx, {dgamma}, np.sum(grad_out, axis=lead)\n"


_DX = "(g - g.mean(-1, keepdims=True) - x_hat * (g * x_hat).mean(-1, keepdims=True)) / std"

CORPUS["ch03_layer_norm_backward"] = Answers(
    valid={
        "means of g and g * x_hat": _ln_backward(_DX),
        "chain rule through var and mean": """
def layer_norm_backward(grad_out, x, gamma, eps=1e-5):
    n = x.shape[-1]
    mu = x.mean(-1, keepdims=True)
    var = x.var(-1, keepdims=True)
    xc = x - mu
    inv = 1.0 / np.sqrt(var + eps)
    dxhat = grad_out * gamma
    dvar = np.sum(dxhat * xc, -1, keepdims=True) * -0.5 * inv**3
    dmu = np.sum(-dxhat * inv, -1, keepdims=True) + dvar * np.mean(-2.0 * xc, -1, keepdims=True)
    dx = dxhat * inv + dvar * 2.0 * xc / n + dmu / n
    flat = grad_out.reshape(-1, n)
    return dx, np.sum(flat * (xc * inv).reshape(-1, n), 0), flat.sum(0)
""",
        "sums instead of means": _ln_backward(
            "(x.shape[-1] * g - g.sum(-1, keepdims=True)"
            " - x_hat * (g * x_hat).sum(-1, keepdims=True)) / (x.shape[-1] * std)"
        ),
    },
    mistakes={
        "mean and variance as constants": Mistake(
            "forgets that the mean and the variance depend on every x", _ln_backward("g / std")
        ),
        "no variance term": Mistake(
            "dx drops the variance term", _ln_backward("(g - g.mean(-1, keepdims=True)) / std")
        ),
        "no mean term": Mistake(
            "dx drops the mean term",
            _ln_backward("(g - x_hat * (g * x_hat).mean(-1, keepdims=True)) / std"),
        ),
        "x_hat where x - mean belongs": Mistake(
            "uses the normalized x where x - mean belongs",
            _ln_backward(
                "(g - g.mean(-1, keepdims=True)"
                " - x_hat * (g * x_hat).mean(-1, keepdims=True) / std) / std"
            ),
        ),
        "gamma left out": Mistake(
            "dx ignores gamma",
            _ln_backward(
                _DX.replace("g", "grad_out").replace("grad_out * x_hat", "grad_out * x_hat")
            ),
        ),
        "dgamma from x": Mistake("not by x", _ln_backward(_DX, "np.sum(grad_out * x, axis=lead)")),
        "sums over axes (0, 1)": Mistake(
            "axis=tuple(range(x.ndim - 1))",
            _ln_backward(_DX).replace("lead = tuple(range(x.ndim - 1))", "lead = (0, 1)"),
        ),
        "eps=1e-8 by default": Mistake(
            "which the chapter's gradient check relies on",
            _ln_backward(_DX).replace("eps=1e-5", "eps=1e-8"),
        ),
    },
)

# ----------------------------------------------------------------------------- 3.6 backward


def _attn_backward(dv: str, d_scores: str, dq: str, dk: str) -> str:
    return f"""
def attention_backward(grad_out, q, k, v, weights):
    scale = 1.0 / np.sqrt(q.shape[-1])
    dv = {dv}
    d_weights = grad_out @ np.swapaxes(v, -1, -2)
    d_scores = {d_scores}
    dq = {dq}
    dk = {dk}
    return dq, dk, dv
"""


_AB = (
    "np.swapaxes(weights, -1, -2) @ grad_out",
    "weights * (d_weights - np.sum(d_weights * weights, axis=-1, keepdims=True))",
    "d_scores @ k * scale",
    "np.swapaxes(d_scores, -1, -2) @ q * scale",
)

CORPUS["ch03_attention_backward"] = Answers(
    valid={
        "swapaxes everywhere": _attn_backward(*_AB),
        "einsum": """
def attention_backward(grad_out, q, k, v, weights):
    scale = q.shape[-1] ** -0.5
    dv = np.einsum("...ij,...id->...jd", weights, grad_out)
    dw = np.einsum("...id,...jd->...ij", grad_out, v)
    ds = weights * (dw - np.einsum("...ij,...ij->...i", dw, weights)[..., None])
    return (np.einsum("...ij,...jd->...id", ds, k) * scale,
            np.einsum("...ij,...id->...jd", ds, q) * scale, dv)
""",
        "softmax Jacobian row by row": """
def attention_backward(grad_out, q, k, v, weights):
    t, d = q.shape[-2:]
    flat = [a.reshape(-1, t, a.shape[-1]) for a in (grad_out, q, k, v, weights)]
    dqs, dks, dvs = [], [], []
    for g, q1, k1, v1, w in zip(*flat):
        dw = g @ v1.T
        ds = np.stack([(np.diag(w[i]) - np.outer(w[i], w[i])) @ dw[i] for i in range(t)])
        dqs.append(ds @ k1 / np.sqrt(d))
        dks.append(ds.T @ q1 / np.sqrt(d))
        dvs.append(w.T @ g)
    return tuple(np.array(x).reshape(q.shape) for x in (dqs, dks, dvs))
""",
    },
    mistakes={
        "no 1/sqrt(d)": Mistake(
            "sqrt(d) times too large",
            _attn_backward(_AB[0], _AB[1], "d_scores @ k", "np.swapaxes(d_scores, -1, -2) @ q"),
        ),
        "softmax backward without its sum term": Mistake(
            "missing its second term", _attn_backward(_AB[0], "weights * d_weights", *_AB[2:])
        ),
        "dv from untransposed weights": Mistake(
            "the weights must be transposed", _attn_backward("weights @ grad_out", *_AB[1:])
        ),
        "dq and dk swapped": Mistake(
            "in the wrong order, (dk, dq, dv)", _attn_backward(_AB[0], _AB[1], _AB[3], _AB[2])
        ),
        "dk without transposing d_scores": Mistake(
            "dk is not transposed", _attn_backward(*_AB[:3], "d_scores @ q * scale")
        ),
        "transposes for 3-D input only": Mistake(
            "The text promises arrays of shape (..., time, d)",
            _attn_backward(
                "weights.transpose(0, 2, 1) @ grad_out",
                _AB[1],
                _AB[2],
                "d_scores.transpose(0, 2, 1) @ q * scale",
            ),
        ),
        "weights overwritten": Mistake(
            "changed its argument `weights` in place",
            _attn_backward(
                _AB[0],
                "weights.__imul__(d_weights - np.sum(d_weights * weights, axis=-1, keepdims=True))",
                *_AB[2:],
            ),
        ),
    },
)
