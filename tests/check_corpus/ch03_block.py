"""Chapter 03, building the block: merge_heads, feed_forward, feed_forward_backward,
block_forward, and the optional "derive it" variants of layer norm and attention backward."""

from check_corpus import Answers, Mistake, independent

CORPUS: dict[str, Answers] = {}

# The chapter's own pieces, correct, for the block's sources (the block calls them).
_PIECES = """
def softmax(x, axis=-1):
    e = np.exp(x - x.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)

def causal_attention(q, k, v):
    t = q.shape[-2]
    scores = q @ np.swapaxes(k, -1, -2) / np.sqrt(q.shape[-1])
    scores = np.where(np.triu(np.ones((t, t), dtype=bool), 1), -np.inf, scores)
    w = softmax(scores)
    return w @ v, w

def split_heads(x, n_heads):
    b, t, d = x.shape
    return x.reshape(b, t, n_heads, d // n_heads).transpose(0, 2, 1, 3)

def merge_heads(x):
    b, h, t, hd = x.shape
    return x.transpose(0, 2, 1, 3).reshape(b, t, h * hd)

def layer_norm(x, gamma, beta, eps=1e-5):
    mean = x.mean(-1, keepdims=True)
    return gamma * (x - mean) / np.sqrt(x.var(-1, keepdims=True) + eps) + beta

def feed_forward(x, w_up, b_up, w_down, b_down):
    return np.maximum(x @ w_up.T + b_up, 0) @ w_down.T + b_down
"""

# The parts of a block, for the block's sources: attention, ff, norm1, norm2 from `p`.
_PARTS = """
    def attention(h, heads=n_heads):
        q, k, v = (split_heads(h @ p[f"attention.{n}.weight"].T, heads)
                   for n in ("query", "key", "value"))
        return merge_heads(causal_attention(q, k, v)[0])
    def ff(h):
        return feed_forward(h, p["feed_forward.up.weight"], p["feed_forward.up.bias"],
                            p["feed_forward.down.weight"], p["feed_forward.down.bias"])
    def norm1(h):
        return layer_norm(h, p["norm1.weight"], p["norm1.bias"], eps)
    def norm2(h):
        return layer_norm(h, p["norm2.weight"], p["norm2.bias"], eps)
"""


def _block(body: str) -> str:
    """A `block_forward` source: the pieces, the parts, then `body` (indented 4)."""
    return _PIECES + "\ndef block_forward(x, p, n_heads=1, norm='post', eps=1e-5):" + _PARTS + body


_POST_PRE = "    if norm == 'post':\n{}\n    else:\n{}\n"
_RIGHT_POST = "        h = norm1(x + attention(x))\n        return norm2(h + ff(h))"
_RIGHT_PRE = "        h = x + attention(norm1(x))\n        return h + ff(norm2(h))"


def _post(lines: str) -> str:
    """A block whose post-norm branch is `lines` and whose pre-norm branch is right."""
    return _block(_POST_PRE.format(lines, _RIGHT_PRE))


def _pre(lines: str) -> str:
    """A block whose pre-norm branch is `lines` and whose post-norm branch is right."""
    return _block(_POST_PRE.format(_RIGHT_POST, lines))


# ----------------------------------------------------------------------------- 3.7 merge_heads

_MERGE = "def merge_heads(x):\n    b, h, t, hd = x.shape\n    return {}\n"

CORPUS["ch03_merge_heads"] = Answers(
    valid={
        "transpose, then reshape": _MERGE.format("x.transpose(0, 2, 1, 3).reshape(b, t, h * hd)"),
        "the heads concatenated": """
def merge_heads(x):
    return np.concatenate([x[:, h] for h in range(x.shape[1])], -1)
""",
        "moveaxis, then reshape to -1": """
def merge_heads(x):
    return np.moveaxis(x, 1, 2).reshape(x.shape[0], x.shape[2], -1)
""",
    },
    mistakes={
        "reshaped without the transpose": Mistake(
            "reshaping straight to", _MERGE.format("x.reshape(b, t, h * hd)")
        ),
        "head_dim moved before heads": Mistake(
            "columns are interleaved",
            _MERGE.format("x.transpose(0, 2, 3, 1).reshape(b, t, h * hd)"),
        ),
        "transposed, never reshaped": Mistake(
            "not glued", _MERGE.format("x.transpose(0, 2, 1, 3)")
        ),
        "heads reversed": Mistake(
            "reverse order",
            _MERGE.format("x[:, ::-1].transpose(0, 2, 1, 3).reshape(b, t, h * hd)"),
        ),
        "heads summed": Mistake("only rearranges them - no sum", _MERGE.format("x.sum(axis=1)")),
        "sizes read in the wrong order": Mistake(
            "unpack the sizes in that order, b, h, t, hd = x.shape",
            "def merge_heads(x):\n    b, t, h, hd = x.shape\n"
            "    return x.transpose(0, 2, 1, 3).reshape(b, t, h * hd)\n",
        ),
    },
)

# ----------------------------------------------------------------------------- 3.8 feed_forward

_FF = "def feed_forward(x, w_up, b_up, w_down, b_down):\n    return {}\n"

CORPUS["ch03_feed_forward"] = Answers(
    valid={
        "matrix products": _FF.format("np.maximum(x @ w_up.T + b_up, 0) @ w_down.T + b_down"),
        "einsum, ReLU as a product with a mask": """
def feed_forward(x, w_up, b_up, w_down, b_down):
    h = np.einsum('...i,hi->...h', x, w_up) + b_up
    h = h * (h > 0)
    return np.einsum('...h,dh->...d', h, w_down) + b_down
""",
        "rows, and np.maximum into a new array": """
def feed_forward(x, w_up, b_up, w_down, b_down):
    rows = x.reshape(-1, x.shape[-1])
    h = rows @ w_up.T
    h += b_up
    np.maximum(h, 0, out=h)  # in place, but on a new array
    return (np.dot(h, w_down.T) + b_down).reshape(*x.shape[:-1], -1)
""",
    },
    mistakes={
        "no ReLU": Mistake(
            "ReLU is missing", _FF.format("(x @ w_up.T + b_up) @ w_down.T + b_down")
        ),
        "ReLU before the bias": Mistake(
            "ReLU came before the bias",
            _FF.format("(np.maximum(x @ w_up.T, 0) + b_up) @ w_down.T + b_down"),
        ),
        "a second ReLU": Mistake(
            "ReLU after the second layer",
            _FF.format("np.maximum(np.maximum(x @ w_up.T + b_up, 0) @ w_down.T + b_down, 0)"),
        ),
        "no biases": Mistake(
            "the biases are missing", _FF.format("np.maximum(x @ w_up.T, 0) @ w_down.T")
        ),
        "no b_down": Mistake(
            "b_down is missing", _FF.format("np.maximum(x @ w_up.T + b_up, 0) @ w_down.T")
        ),
        "no b_up": Mistake(
            "b_up is missing", _FF.format("np.maximum(x @ w_up.T, 0) @ w_down.T + b_down")
        ),
        "x shifted in place": Mistake(
            "changed one of its arguments",
            "def feed_forward(x, w_up, b_up, w_down, b_down):\n"
            "    x += 0.0 * x + 1.0  # shifts the caller's array\n"
            "    return np.maximum(x @ w_up.T + b_up, 0) @ w_down.T + b_down\n",
        ),
    },
)

# ----------------------------------------------------------------------------- 3.9 backward

_FF_BACKWARD = (
    "def feed_forward_backward(g, x, w_up, b_up, w_down):\n"
    "    pre = x @ w_up.T + b_up\n"
    "    hidden = np.maximum(pre, 0)\n"
    "    rows = lambda a: a.reshape(-1, a.shape[-1])\n"
    "    d_hidden = g @ w_down\n"
    "    d_pre = {d_pre}\n"
    "    dw_up, db_up = {dw_up}, {db_up}\n"
    "    dw_down, db_down = {dw_down}, {db_down}\n"
    "    return d_pre @ w_up, dw_up, db_up, dw_down, db_down\n"
)


def _ff_backward(**changes: str) -> str:
    """A `feed_forward_backward` source, right except for `changes`."""
    parts = {
        "d_pre": "d_hidden * (pre > 0)",
        "dw_up": "rows(d_pre).T @ rows(x)",
        "db_up": "rows(d_pre).sum(0)",
        "dw_down": "rows(g).T @ rows(hidden)",
        "db_down": "rows(g).sum(0)",
    }
    return _FF_BACKWARD.format(**{**parts, **changes})


CORPUS["ch03_feed_forward_backward"] = Answers(
    valid={
        "rows, then matrix products": """
def feed_forward_backward(g, x, w_up, b_up, w_down):
    pre = x @ w_up.T + b_up
    rows = lambda a: a.reshape(-1, a.shape[-1])
    d_pre = (g @ w_down) * (pre > 0)
    return (d_pre @ w_up, rows(d_pre).T @ rows(x), rows(d_pre).sum(0),
            rows(g).T @ rows(np.maximum(pre, 0)), rows(g).sum(0))
""",
        # einsum cannot sum over '...': the leading axes are flattened into one, 'n', first.
        "einsum over the flattened positions": """
def feed_forward_backward(g, x, w_up, b_up, w_down):
    pre = np.einsum('...i,hi->...h', x, w_up) + b_up
    d_pre = np.einsum('...d,dh->...h', g, w_down) * np.heaviside(pre, 0.0)
    n = lambda a: a.reshape(-1, a.shape[-1])
    hidden = np.maximum(pre, 0)
    return (np.einsum('...h,hi->...i', d_pre, w_up),
            np.einsum('nh,ni->hi', n(d_pre), n(x)), np.einsum('nh->h', n(d_pre)),
            np.einsum('nd,nh->dh', n(g), n(hidden)), np.einsum('nd->d', n(g)))
""",
        "tensordot over the leading axes": """
def feed_forward_backward(g, x, w_up, b_up, w_down):
    lead = tuple(range(x.ndim - 1))
    pre = x @ w_up.T + b_up
    hidden = np.where(pre > 0, pre, 0.0)
    d_pre = np.where(pre > 0, g @ w_down, 0.0)
    return (d_pre @ w_up, np.tensordot(d_pre, x, axes=(lead, lead)),
            d_pre.sum(lead), np.tensordot(g, hidden, axes=(lead, lead)), g.sum(lead))
""",
    },
    mistakes={
        "no ReLU gradient": Mistake(
            "the ReLU's gradient is missing", _ff_backward(d_pre="d_hidden")
        ),
        "dx and d_hidden through transposed weights": Mistake(
            "so going back d_hidden = grad_out @ w_down and dx = d_pre @ w_up, with no .T",
            _ff_backward()
            .replace("g @ w_down", "g @ w_down.T")
            .replace("d_pre @ w_up,", "d_pre @ w_up.T,"),
        ),
        "mask without the bias": Mistake(
            "mask forgets the bias", _ff_backward(d_pre="d_hidden * (x @ w_up.T > 0)")
        ),
        "times the ReLU's output": Mistake(
            "multiplied by the ReLU's output", _ff_backward(d_pre="d_hidden * hidden")
        ),
        "dw_down from the values before the ReLU": Mistake(
            "before the ReLU: the second layer", _ff_backward(dw_down="rows(g).T @ rows(pre)")
        ),
        "dw_up stored (in, out)": Mistake(
            "stored (out, in)", _ff_backward(dw_up="rows(x).T @ rows(d_pre)")
        ),
        "db_down summed over the batch only": Mistake(
            "sum over every axis but the last", _ff_backward(db_down="g.sum(axis=0)")
        ),
        "db_down averaged": Mistake(
            "db_down is the mean of grad_out", _ff_backward(db_down="rows(g).mean(0)")
        ),
        # Right for a batch, but its subscripts name the batch and time axes: one sequence fails,
        # as it does in the hidden test.
        "einsum over batch and time only": Mistake(
            "An einsum cannot sum over '...'",
            """
def feed_forward_backward(g, x, w_up, b_up, w_down):
    pre = np.einsum('...i,hi->...h', x, w_up) + b_up
    d_pre = np.einsum('...d,dh->...h', g, w_down) * np.heaviside(pre, 0.0)
    return (np.einsum('...h,hi->...i', d_pre, w_up),
            np.einsum('bth,bti->hi', d_pre, x), d_pre.sum(axis=(0, 1)),
            np.einsum('btd,bth->dh', g, np.maximum(pre, 0)), g.sum(axis=(0, 1)))
""",
        ),
        "biases summed over batch and time only": Mistake(
            "so that a 2-D x works as well",
            _ff_backward(db_up="d_pre.sum(axis=(0, 1))", db_down="g.sum(axis=(0, 1))"),
        ),
    },
)

# ----------------------------------------------------------------------------- 3.10 the block

CORPUS["ch03_block_forward"] = Answers(
    valid={
        "the two placements written out": _block(
            "    if norm == 'post':\n"
            "        h = norm1(x + attention(x))\n"
            "        return norm2(h + ff(h))\n"
            "    h = x + attention(norm1(x))\n"
            "    return h + ff(norm2(h))\n"
        ),
        "heads as column slices, no split_heads or merge_heads": _PIECES
        + """
def block_forward(x, p, n_heads=1, norm='post', eps=1e-5):
    d = x.shape[-1] // n_heads
    def attention(h):
        q, k, v = (h @ p[f'attention.{n}.weight'].T for n in ('query', 'key', 'value'))
        cols = [slice(i * d, (i + 1) * d) for i in range(n_heads)]
        return np.concatenate([causal_attention(q[..., c], k[..., c], v[..., c])[0]
                               for c in cols], axis=-1)
    ln = lambda h, n: layer_norm(h, p[n + '.weight'], p[n + '.bias'], eps)
    ff = lambda h: feed_forward(h, *(p['feed_forward.' + k] for k in
        ('up.weight', 'up.bias', 'down.weight', 'down.bias')))
    if norm == 'pre':
        x = x + attention(ln(x, 'norm1'))  # a new array: x itself is untouched
        return x + ff(ln(x, 'norm2'))
    x = ln(x + attention(x), 'norm1')
    return ln(x + ff(x), 'norm2')
""",
        "one helper for both sub-layers": _block(
            "    def sublayer(h, f, n):\n"
            "        return h + f(n(h)) if norm == 'pre' else n(h + f(h))\n"
            "    return sublayer(sublayer(x, attention, norm1), ff, norm2)\n"
        ),
    },
    mistakes={
        "always pre-norm": Mistake(
            "you built a pre-norm block", _block(_RIGHT_PRE.replace("        ", "    ") + "\n")
        ),
        "norms swapped": Mistake(
            "norm1 and norm2 are swapped",
            _block(
                _POST_PRE.format(
                    "        h = norm2(x + attention(x))\n        return norm1(h + ff(h))",
                    "        h = x + attention(norm2(x))\n        return h + ff(norm1(h))",
                )
            ),
        ),
        "one head": Mistake(
            "ran as one head",
            _block(
                _POST_PRE.format(
                    "        h = norm1(x + attention(x, 1))\n        return norm2(h + ff(h))",
                    "        h = x + attention(norm1(x), 1)\n        return h + ff(norm2(h))",
                )
            ),
        ),
        "no residuals": Mistake(
            "residuals are missing",
            _post("        h = norm1(attention(x))\n        return norm2(ff(h))"),
        ),
        "residual outside the norm": Mistake(
            "residual is in the wrong place",
            _post("        h = norm1(x) + attention(x)\n        return norm2(h) + ff(norm2(h))"),
        ),
        "residual added twice": Mistake(
            "residual is added twice",
            _post("        h = norm1(x + x + attention(x))\n        return norm2(h + h + ff(h))"),
        ),
        "pre-norm: the norm after the feed-forward": Mistake(
            "the norm is after the feed-forward",
            _pre("        h = x + attention(norm1(x))\n        return h + norm2(ff(h))"),
        ),
        "pre-norm: the stream carries norm1(x)": Mistake(
            "the stream carries x itself",
            _pre("        h = norm1(x) + attention(norm1(x))\n        return h + ff(norm2(h))"),
        ),
        "eps=1e-6 by default": Mistake(
            "keep the signature's default, eps=1e-5 (that of the library's blocks)",
            _block(_POST_PRE.format(_RIGHT_POST, _RIGHT_PRE)).replace(
                "norm='post', eps=1e-5", "norm='post', eps=1e-6"
            ),
        ),
        "heads interleaved": Mistake(
            "each head took every n_heads-th column",
            _block(_POST_PRE.format(_RIGHT_POST, _RIGHT_PRE))
            .replace(
                'split_heads(h @ p[f"attention.{n}.weight"].T, heads)',
                '(h @ p[f"attention.{n}.weight"].T).reshape('
                "*h.shape[:2], -1, heads).transpose(0, 3, 1, 2)",
            )
            .replace(
                "return merge_heads(causal_attention(q, k, v)[0])",
                "o = causal_attention(q, k, v)[0]\n"
                "        return o.transpose(0, 2, 3, 1).reshape(*h.shape)",
            ),
        ),
        "the second residual missing": Mistake(
            "the second residual is missing",
            _pre("        h = x + attention(norm1(x))\n        return ff(norm2(h))"),
        ),
        "norm2 in both places": Mistake(
            "norm2 was used in both places",
            _block(_POST_PRE.format(_RIGHT_POST.replace("norm1", "norm2"), _RIGHT_PRE)),
        ),
        "q, k, v from untransposed weights": Mistake(
            "computed with untransposed weights",
            _block(_POST_PRE.format(_RIGHT_POST, _RIGHT_PRE)).replace(
                'h @ p[f"attention.{n}.weight"].T', 'h @ p[f"attention.{n}.weight"]'
            ),
        ),
        "eps not passed on": Mistake(
            "made no difference: your norms use layer_norm's default",
            _block(_POST_PRE.format(_RIGHT_POST, _RIGHT_PRE))
            .replace(', p["norm1.bias"], eps)', ', p["norm1.bias"])')
            .replace(', p["norm2.bias"], eps)', ', p["norm2.bias"])'),
        ),
        "x changed in place": Mistake(
            "changed x or a weight",
            _post(
                "        x += attention(x)\n        h = norm1(x)\n        return norm2(h + ff(h))"
            ),
        ),
    },
)

# ----------------------------------------------------------------------------- derive it

# The derived variants share the checks of exercises 3.5 and 3.6; their mistakes are the usual.

_LN = (
    "def layer_norm_backward_derived(g, x, gamma, eps=1e-5):\n"
    "    d = x.shape[-1]\n"
    "    std = np.sqrt(x.var(-1, keepdims=True) + eps)\n"
    "    xh = (x - x.mean(-1, keepdims=True)) / std\n"
    "    gg = g * gamma\n"
    "    dx = {}\n"
    "    return dx, {}, g.sum(axis=(0, 1))\n"
)
_LN_RIGHT_DX = "(gg - gg.mean(-1, keepdims=True) - xh * (gg * xh).mean(-1, keepdims=True)) / std"
_LN_DGAMMA = "(g * xh).sum(axis=(0, 1))"

CORPUS["ch03_layer_norm_backward_derived"] = Answers(
    valid={
        "step by step through mean and variance": """
def layer_norm_backward_derived(g, x, gamma, eps=1e-5):
    n = x.shape[-1]
    mu = x.mean(-1, keepdims=True)
    xmu = x - mu
    var = (xmu ** 2).mean(-1, keepdims=True)
    inv = 1 / np.sqrt(var + eps)
    dxhat = g * gamma
    dvar = np.sum(dxhat * xmu, -1, keepdims=True) * -0.5 * inv ** 3
    dmu = -np.sum(dxhat * inv, -1, keepdims=True)
    dmu = dmu + dvar * np.mean(-2 * xmu, -1, keepdims=True)
    dx = dxhat * inv + dvar * 2 * xmu / n + dmu / n
    lead = tuple(range(x.ndim - 1))
    return dx, np.sum(g * xmu * inv, axis=lead), np.sum(g, axis=lead)
""",
        "the compact formula": """
def layer_norm_backward_derived(g, x, gamma, eps=1e-5):
    std = np.sqrt(x.var(-1, keepdims=True) + eps)
    xh = (x - x.mean(-1, keepdims=True)) / std
    gg = g * gamma
    dx = gg - gg.mean(-1, keepdims=True) - xh * (gg * xh).mean(-1, keepdims=True)
    dx = dx / std
    lead = tuple(range(x.ndim - 1))
    return dx, (g * xh).sum(lead), g.sum(lead)
""",
        # The Jacobian of each row, built in full: slow, but right.
        "each row's Jacobian in full": """
def layer_norm_backward_derived(g, x, gamma, eps=1e-5):
    d = x.shape[-1]
    std = np.sqrt(x.var(-1, keepdims=True) + eps)
    xh = (x - x.mean(-1, keepdims=True)) / std
    eye = np.eye(d)
    jac = (eye - 1 / d - xh[..., :, None] * xh[..., None, :] / d) / std[..., None]
    dx = np.einsum('...i,...ij->...j', g * gamma, jac)
    return dx, (g * xh).reshape(-1, d).sum(0), g.reshape(-1, d).sum(0)
""",
    },
    mistakes={
        "direct path only": Mistake(
            "only the direct path reaches x", _LN.format("gg / std", _LN_DGAMMA)
        ),
        "no variance term": Mistake(
            "the path through var is missing",
            _LN.format("(gg - gg.mean(-1, keepdims=True)) / std", _LN_DGAMMA),
        ),
        "no mean term": Mistake(
            "the path through the mean is missing",
            _LN.format("(gg - xh * (gg * xh).mean(-1, keepdims=True)) / std", _LN_DGAMMA),
        ),
        "x_hat where x - mean belongs": Mistake(
            "uses the normalized x where x - mean belongs",
            _LN.format(
                "(gg - gg.mean(-1, keepdims=True)"
                " - xh * (gg * xh).mean(-1, keepdims=True) / std) / std",
                _LN_DGAMMA,
            ),
        ),
        "dgamma from x": Mistake("not by x", _LN.format(_LN_RIGHT_DX, "(g * x).sum(axis=(0, 1))")),
        "dgamma summed over the batch only": Mistake(
            "sum over every axis but the last", _LN.format(_LN_RIGHT_DX, "(g * xh).sum(axis=0)")
        ),
        "eps=1e-6 by default": Mistake(
            "keep the signature's default, eps=1e-5 (layer_norm's)",
            """
def layer_norm_backward_derived(g, x, gamma, eps=1e-6):
    std = np.sqrt(x.var(-1, keepdims=True) + eps)
    xh = (x - x.mean(-1, keepdims=True)) / std
    gg = g * gamma
    dx = (gg - gg.mean(-1, keepdims=True) - xh * (gg * xh).mean(-1, keepdims=True)) / std
    lead = tuple(range(x.ndim - 1))
    return dx, (g * xh).sum(lead), g.sum(lead)
""",
        ),
    },
)

_ATT = (
    "def attention_backward_derived(g, q, k, v, w):\n"
    "    dw = g @ np.swapaxes(v, -1, -2)\n"
    "    ds = {} / np.sqrt(q.shape[-1]) ** {}\n"
    "    return {}\n"
)
_ATT_RIGHT_DS = "w * (dw - (dw * w).sum(-1, keepdims=True))"
_ATT_RIGHT_OUT = "ds @ k, np.swapaxes(ds, -1, -2) @ q, np.swapaxes(w, -1, -2) @ g"

CORPUS["ch03_attention_backward_derived"] = Answers(
    valid={
        "matrix products and swapaxes": """
def attention_backward_derived(g, q, k, v, w):
    dw = g @ np.swapaxes(v, -1, -2)
    ds = w * (dw - (dw * w).sum(-1, keepdims=True)) / np.sqrt(q.shape[-1])
    return ds @ k, np.swapaxes(ds, -1, -2) @ q, np.swapaxes(w, -1, -2) @ g
""",
        "einsum throughout": """
def attention_backward_derived(g, q, k, v, w):
    dw = np.einsum('...id,...jd->...ij', g, v)
    ds = w * dw - w * np.einsum('...ij,...ij->...i', w, dw)[..., None]
    ds = ds / np.sqrt(q.shape[-1])
    return (np.einsum('...ij,...jd->...id', ds, k),
            np.einsum('...ij,...id->...jd', ds, q),
            np.einsum('...ij,...id->...jd', w, g))
""",
        # The softmax Jacobian of each row, in full.
        "each row's softmax Jacobian in full": """
def attention_backward_derived(g, q, k, v, w):
    dw = g @ np.swapaxes(v, -1, -2)
    jac = w[..., :, None] * np.eye(w.shape[-1]) - w[..., :, None] * w[..., None, :]
    ds = np.einsum('...ij,...ijk->...ik', dw, jac) / np.sqrt(q.shape[-1])
    return ds @ k, np.swapaxes(ds, -1, -2) @ q, np.swapaxes(w, -1, -2) @ g
""",
    },
    mistakes={
        "no 1/sqrt(d)": Mistake(
            "sqrt(d) times too large", _ATT.format(_ATT_RIGHT_DS, 0, _ATT_RIGHT_OUT)
        ),
        "softmax backward without its second term": Mistake(
            "missing its second term", _ATT.format("w * dw", 1, _ATT_RIGHT_OUT)
        ),
        "dq and dk swapped": Mistake(
            "in the wrong order, (dk, dq, dv)",
            _ATT.format(
                _ATT_RIGHT_DS,
                1,
                "np.swapaxes(ds, -1, -2) @ q, ds @ k, np.swapaxes(w, -1, -2) @ g",
            ),
        ),
        "dv from untransposed weights": Mistake(
            "the weights must be transposed",
            _ATT.format(_ATT_RIGHT_DS, 1, "ds @ k, np.swapaxes(ds, -1, -2) @ q, w @ g"),
        ),
        "dk without transposing d_scores": Mistake(
            "dk is not transposed",
            _ATT.format(_ATT_RIGHT_DS, 1, "ds @ k, ds @ q, np.swapaxes(w, -1, -2) @ g"),
        ),
    },
)

# The answers written independently of the checks, from the chapter text alone.
independent.merge(CORPUS)
