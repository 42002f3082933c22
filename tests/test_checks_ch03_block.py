"""Chapter 03's block-building checks (exercises 3.7-3.10 and the "derive it" variants): valid
solutions written in different ways pass, and each usual mistake fails with its own hint - in
this process as the notebook runs a check, and through the grader's remote path.

Oracle: the library's layers (`cl.FeedForward`, `cl.TransformerBlock`) for the references; for a
planted mistake, a phrase that only that mistake's hint contains; for the two paths, the same
`Outcome` (status, points and message) from both.
"""

from __future__ import annotations

import numpy as np
import pytest
from _grading_helpers import Grader, in_process

from course_lib import numpy as cl
from course_lib.checks import ch03
from course_lib.config import ModelConfig

# The chapter's own pieces, correct, for the block's sources (the block calls them).
PIECES = """
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
PARTS = """
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


def block(body: str) -> str:
    """A `block_forward` source: the pieces, the parts, then `body` (indented 4)."""
    return PIECES + "\ndef block_forward(x, p, n_heads=1, norm='post', eps=1e-5):" + PARTS + body


VALID = {
    ch03.merge_heads: [
        "def merge_heads(x):\n    b, h, t, hd = x.shape\n"
        "    return x.transpose(0, 2, 1, 3).reshape(b, t, h * hd)\n",
        "def merge_heads(x):\n"
        "    return np.concatenate([x[:, h] for h in range(x.shape[1])], -1)\n",
        "def merge_heads(x):\n"
        "    return np.moveaxis(x, 1, 2).reshape(x.shape[0], x.shape[2], -1)\n",
    ],
    ch03.feed_forward: [
        "def feed_forward(x, w_up, b_up, w_down, b_down):\n"
        "    return np.maximum(x @ w_up.T + b_up, 0) @ w_down.T + b_down\n",
        "def feed_forward(x, w_up, b_up, w_down, b_down):\n"
        "    h = np.einsum('...i,hi->...h', x, w_up) + b_up\n"
        "    h = h * (h > 0)\n"
        "    return np.einsum('...h,dh->...d', h, w_down) + b_down\n",
        "def feed_forward(x, w_up, b_up, w_down, b_down):\n"
        "    rows = x.reshape(-1, x.shape[-1])\n"
        "    h = rows @ w_up.T\n"
        "    h += b_up\n"
        "    np.maximum(h, 0, out=h)  # in place, but on a new array\n"
        "    return (np.dot(h, w_down.T) + b_down).reshape(*x.shape[:-1], -1)\n",
    ],
    ch03.feed_forward_backward: [
        "def feed_forward_backward(g, x, w_up, b_up, w_down):\n"
        "    pre = x @ w_up.T + b_up\n"
        "    rows = lambda a: a.reshape(-1, a.shape[-1])\n"
        "    d_pre = (g @ w_down) * (pre > 0)\n"
        "    return (d_pre @ w_up, rows(d_pre).T @ rows(x), rows(d_pre).sum(0),\n"
        "            rows(g).T @ rows(np.maximum(pre, 0)), rows(g).sum(0))\n",
        # einsum over positions: the leading axes flattened into one, 'n', whatever their number.
        "def feed_forward_backward(g, x, w_up, b_up, w_down):\n"
        "    pre = np.einsum('...i,hi->...h', x, w_up) + b_up\n"
        "    d_pre = np.einsum('...d,dh->...h', g, w_down) * np.heaviside(pre, 0.0)\n"
        "    n = lambda a: a.reshape(-1, a.shape[-1])\n"
        "    hidden = np.maximum(pre, 0)\n"
        "    return (np.einsum('...h,hi->...i', d_pre, w_up),\n"
        "            np.einsum('nh,ni->hi', n(d_pre), n(x)), np.einsum('nh->h', n(d_pre)),\n"
        "            np.einsum('nd,nh->dh', n(g), n(hidden)), np.einsum('nd->d', n(g)))\n",
        "def feed_forward_backward(g, x, w_up, b_up, w_down):\n"
        "    lead = tuple(range(x.ndim - 1))\n"
        "    pre = x @ w_up.T + b_up\n"
        "    hidden = np.where(pre > 0, pre, 0.0)\n"
        "    d_pre = np.where(pre > 0, g @ w_down, 0.0)\n"
        "    return (d_pre @ w_up, np.tensordot(d_pre, x, axes=(lead, lead)),\n"
        "            d_pre.sum(lead), np.tensordot(g, hidden, axes=(lead, lead)), g.sum(lead))\n",
    ],
    ch03.block_forward: [
        block(
            "    if norm == 'post':\n"
            "        h = norm1(x + attention(x))\n"
            "        return norm2(h + ff(h))\n"
            "    h = x + attention(norm1(x))\n"
            "    return h + ff(norm2(h))\n"
        ),
        # Heads as a loop over column slices, no split_heads or merge_heads.
        PIECES + "def block_forward(x, p, n_heads=1, norm='post', eps=1e-5):\n"
        "    d = x.shape[-1] // n_heads\n"
        "    def attention(h):\n"
        "        q, k, v = (h @ p[f'attention.{n}.weight'].T for n in ('query', 'key', 'value'))\n"
        "        cols = [slice(i * d, (i + 1) * d) for i in range(n_heads)]\n"
        "        return np.concatenate([causal_attention(q[..., c], k[..., c], v[..., c])[0]\n"
        "                               for c in cols], axis=-1)\n"
        "    ln = lambda h, n: layer_norm(h, p[n + '.weight'], p[n + '.bias'], eps)\n"
        "    ff = lambda h: feed_forward(h, *(p['feed_forward.' + k] for k in\n"
        "        ('up.weight', 'up.bias', 'down.weight', 'down.bias')))\n"
        "    if norm == 'pre':\n"
        "        x = x + attention(ln(x, 'norm1'))  # a new array: x itself is untouched\n"
        "        return x + ff(ln(x, 'norm2'))\n"
        "    x = ln(x + attention(x), 'norm1')\n"
        "    return ln(x + ff(x), 'norm2')\n",
        # One helper for both sub-layers.
        block(
            "    def sublayer(h, f, n):\n"
            "        return h + f(n(h)) if norm == 'pre' else n(h + f(h))\n"
            "    return sublayer(sublayer(x, attention, norm1), ff, norm2)\n"
        ),
    ],
    ch03.layer_norm_backward_derived: [
        "def layer_norm_backward_derived(g, x, gamma, eps=1e-5):\n"
        "    n = x.shape[-1]\n"
        "    mu = x.mean(-1, keepdims=True)\n"
        "    xmu = x - mu\n"
        "    var = (xmu ** 2).mean(-1, keepdims=True)\n"
        "    inv = 1 / np.sqrt(var + eps)\n"
        "    dxhat = g * gamma\n"
        "    dvar = np.sum(dxhat * xmu, -1, keepdims=True) * -0.5 * inv ** 3\n"
        "    dmu = -np.sum(dxhat * inv, -1, keepdims=True)\n"
        "    dmu = dmu + dvar * np.mean(-2 * xmu, -1, keepdims=True)\n"
        "    dx = dxhat * inv + dvar * 2 * xmu / n + dmu / n\n"
        "    lead = tuple(range(x.ndim - 1))\n"
        "    return dx, np.sum(g * xmu * inv, axis=lead), np.sum(g, axis=lead)\n",
        "def layer_norm_backward_derived(g, x, gamma, eps=1e-5):\n"
        "    std = np.sqrt(x.var(-1, keepdims=True) + eps)\n"
        "    xh = (x - x.mean(-1, keepdims=True)) / std\n"
        "    gg = g * gamma\n"
        "    dx = gg - gg.mean(-1, keepdims=True) - xh * (gg * xh).mean(-1, keepdims=True)\n"
        "    dx = dx / std\n"
        "    lead = tuple(range(x.ndim - 1))\n"
        "    return dx, (g * xh).sum(lead), g.sum(lead)\n",
        # The Jacobian of each row, built in full: slow, but right.
        "def layer_norm_backward_derived(g, x, gamma, eps=1e-5):\n"
        "    d = x.shape[-1]\n"
        "    std = np.sqrt(x.var(-1, keepdims=True) + eps)\n"
        "    xh = (x - x.mean(-1, keepdims=True)) / std\n"
        "    eye = np.eye(d)\n"
        "    jac = (eye - 1 / d - xh[..., :, None] * xh[..., None, :] / d) / std[..., None]\n"
        "    dx = np.einsum('...i,...ij->...j', g * gamma, jac)\n"
        "    return dx, (g * xh).reshape(-1, d).sum(0), g.reshape(-1, d).sum(0)\n",
    ],
    ch03.attention_backward_derived: [
        "def attention_backward_derived(g, q, k, v, w):\n"
        "    dw = g @ np.swapaxes(v, -1, -2)\n"
        "    ds = w * (dw - (dw * w).sum(-1, keepdims=True)) / np.sqrt(q.shape[-1])\n"
        "    return ds @ k, np.swapaxes(ds, -1, -2) @ q, np.swapaxes(w, -1, -2) @ g\n",
        "def attention_backward_derived(g, q, k, v, w):\n"
        "    dw = np.einsum('...id,...jd->...ij', g, v)\n"
        "    ds = w * dw - w * np.einsum('...ij,...ij->...i', w, dw)[..., None]\n"
        "    ds = ds / np.sqrt(q.shape[-1])\n"
        "    return (np.einsum('...ij,...jd->...id', ds, k),\n"
        "            np.einsum('...ij,...id->...jd', ds, q),\n"
        "            np.einsum('...ij,...id->...jd', w, g))\n",
        # The softmax Jacobian of each row, in full.
        "def attention_backward_derived(g, q, k, v, w):\n"
        "    dw = g @ np.swapaxes(v, -1, -2)\n"
        "    jac = w[..., :, None] * np.eye(w.shape[-1]) - w[..., :, None] * w[..., None, :]\n"
        "    ds = np.einsum('...ij,...ijk->...ik', dw, jac) / np.sqrt(q.shape[-1])\n"
        "    return ds @ k, np.swapaxes(ds, -1, -2) @ q, np.swapaxes(w, -1, -2) @ g\n",
    ],
}

FF_BACKWARD = (
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


def ff_backward(**changes: str) -> str:
    parts = {
        "d_pre": "d_hidden * (pre > 0)",
        "dw_up": "rows(d_pre).T @ rows(x)",
        "db_up": "rows(d_pre).sum(0)",
        "dw_down": "rows(g).T @ rows(hidden)",
        "db_down": "rows(g).sum(0)",
    }
    return FF_BACKWARD.format(**{**parts, **changes})


FF = "def feed_forward(x, w_up, b_up, w_down, b_down):\n    return {}\n"
MERGE = "def merge_heads(x):\n    b, h, t, hd = x.shape\n    return {}\n"
POST_PRE = "    if norm == 'post':\n{}\n    else:\n{}\n"
RIGHT_POST = "        h = norm1(x + attention(x))\n        return norm2(h + ff(h))"
RIGHT_PRE = "        h = x + attention(norm1(x))\n        return h + ff(norm2(h))"


def post(lines: str) -> str:
    return block(POST_PRE.format(lines, RIGHT_PRE))


def pre(lines: str) -> str:
    return block(POST_PRE.format(RIGHT_POST, lines))


# (exercise, source, a phrase only this mistake's hint contains)
MISTAKES = [
    (ch03.merge_heads, MERGE.format("x.reshape(b, t, h * hd)"), "reshaping straight to"),
    (
        ch03.merge_heads,
        MERGE.format("x.transpose(0, 2, 3, 1).reshape(b, t, h * hd)"),
        "columns are interleaved",
    ),
    (ch03.merge_heads, MERGE.format("x.transpose(0, 2, 1, 3)"), "not glued"),
    (
        ch03.merge_heads,
        MERGE.format("x[:, ::-1].transpose(0, 2, 1, 3).reshape(b, t, h * hd)"),
        "reverse order",
    ),
    (ch03.merge_heads, MERGE.format("x.sum(axis=1)"), "it only rearranges them"),
    (
        ch03.merge_heads,
        "def merge_heads(x):\n    b, t, h, hd = x.shape\n"
        "    return x.transpose(0, 2, 1, 3).reshape(b, t, h * hd)\n",
        "read the sizes from x.shape",
    ),
    (ch03.feed_forward, FF.format("(x @ w_up.T + b_up) @ w_down.T + b_down"), "ReLU is missing"),
    (
        ch03.feed_forward,
        FF.format("(np.maximum(x @ w_up.T, 0) + b_up) @ w_down.T + b_down"),
        "ReLU came before the bias",
    ),
    (
        ch03.feed_forward,
        FF.format("np.maximum(np.maximum(x @ w_up.T + b_up, 0) @ w_down.T + b_down, 0)"),
        "ReLU after the second layer",
    ),
    (
        ch03.feed_forward,
        FF.format("np.maximum(x @ w_up.T, 0) @ w_down.T"),
        "the biases are missing",
    ),
    (
        ch03.feed_forward,
        FF.format("np.maximum(x @ w_up.T + b_up, 0) @ w_down.T"),
        "b_down is missing",
    ),
    (
        ch03.feed_forward,
        FF.format("np.maximum(x @ w_up.T, 0) @ w_down.T + b_down"),
        "b_up is missing",
    ),
    (
        ch03.feed_forward,
        "def feed_forward(x, w_up, b_up, w_down, b_down):\n"
        "    x += 0.0 * x + 1.0  # shifts the caller's array\n"
        "    return np.maximum(x @ w_up.T + b_up, 0) @ w_down.T + b_down\n",
        "changed one of its arguments",
    ),
    (ch03.feed_forward_backward, ff_backward(d_pre="d_hidden"), "the ReLU's gradient is missing"),
    (
        ch03.feed_forward_backward,
        ff_backward(d_pre="d_hidden * (x @ w_up.T > 0)"),
        "mask forgets the bias",
    ),
    (
        ch03.feed_forward_backward,
        ff_backward(d_pre="d_hidden * hidden"),
        "multiplied by the ReLU's output",
    ),
    (
        ch03.feed_forward_backward,
        ff_backward(dw_down="rows(g).T @ rows(pre)"),
        "before the ReLU: the second layer",
    ),
    (ch03.feed_forward_backward, ff_backward(dw_up="rows(x).T @ rows(d_pre)"), "stored (out, in)"),
    (
        ch03.feed_forward_backward,
        ff_backward(db_down="g.sum(axis=0)"),
        "sum over every axis but the last",
    ),
    (ch03.feed_forward_backward, ff_backward(db_down="rows(g).mean(0)"), "db_down is wrong"),
    (
        ch03.feed_forward_backward,
        # Right for a batch, but its subscripts name the batch and time axes: one sequence fails.
        "def feed_forward_backward(g, x, w_up, b_up, w_down):\n"
        "    pre = np.einsum('...i,hi->...h', x, w_up) + b_up\n"
        "    d_pre = np.einsum('...d,dh->...h', g, w_down) * np.heaviside(pre, 0.0)\n"
        "    return (np.einsum('...h,hi->...i', d_pre, w_up),\n"
        "            np.einsum('bth,bti->hi', d_pre, x), d_pre.sum(axis=(0, 1)),\n"
        "            np.einsum('btd,bth->dh', g, np.maximum(pre, 0)), g.sum(axis=(0, 1)))\n",
        "An einsum cannot sum over '...'",
    ),
    (
        ch03.feed_forward_backward,
        ff_backward(db_up="d_pre.sum(axis=(0, 1))", db_down="g.sum(axis=(0, 1))"),
        "so that a 2-D x works as well",
    ),
    (
        ch03.block_forward,
        block(RIGHT_PRE.replace("        ", "    ") + "\n"),
        "you built a pre-norm block",
    ),
    (
        ch03.block_forward,
        block(
            POST_PRE.format(
                "        h = norm2(x + attention(x))\n        return norm1(h + ff(h))",
                "        h = x + attention(norm2(x))\n        return h + ff(norm1(h))",
            )
        ),
        "norm1 and norm2 are swapped",
    ),
    (
        ch03.block_forward,
        block(
            POST_PRE.format(
                "        h = norm1(x + attention(x, 1))\n        return norm2(h + ff(h))",
                "        h = x + attention(norm1(x), 1)\n        return h + ff(norm2(h))",
            )
        ),
        "ran as one head",
    ),
    (
        ch03.block_forward,
        post("        h = norm1(attention(x))\n        return norm2(ff(h))"),
        "residuals are missing",
    ),
    (
        ch03.block_forward,
        post("        h = norm1(x) + attention(x)\n        return norm2(h) + ff(norm2(h))"),
        "residual is in the wrong place",
    ),
    (
        ch03.block_forward,
        post("        h = norm1(x + x + attention(x))\n        return norm2(h + h + ff(h))"),
        "residual is added twice",
    ),
    (
        ch03.block_forward,
        pre("        h = x + attention(norm1(x))\n        return h + norm2(ff(h))"),
        "the norm is after the feed-forward",
    ),
    (
        ch03.block_forward,
        pre("        h = norm1(x) + attention(norm1(x))\n        return h + ff(norm2(h))"),
        "the stream carries x itself",
    ),
    (
        ch03.block_forward,
        post("        x += attention(x)\n        h = norm1(x)\n        return norm2(h + ff(h))"),
        "changed x or a weight",
    ),
]

# The derived variants share the checks of exercises 3.5 and 3.6; their mistakes are the usual.
LN = (
    "def layer_norm_backward_derived(g, x, gamma, eps=1e-5):\n"
    "    d = x.shape[-1]\n"
    "    std = np.sqrt(x.var(-1, keepdims=True) + eps)\n"
    "    xh = (x - x.mean(-1, keepdims=True)) / std\n"
    "    gg = g * gamma\n"
    "    dx = {}\n"
    "    return dx, {}, g.sum(axis=(0, 1))\n"
)
LN_RIGHT_DX = "(gg - gg.mean(-1, keepdims=True) - xh * (gg * xh).mean(-1, keepdims=True)) / std"
ATT = (
    "def attention_backward_derived(g, q, k, v, w):\n"
    "    dw = g @ np.swapaxes(v, -1, -2)\n"
    "    ds = {} / np.sqrt(q.shape[-1]) ** {}\n"
    "    return {}\n"
)
ATT_RIGHT_DS = "w * (dw - (dw * w).sum(-1, keepdims=True))"
ATT_RIGHT_OUT = "ds @ k, np.swapaxes(ds, -1, -2) @ q, np.swapaxes(w, -1, -2) @ g"
MISTAKES += [
    (
        ch03.layer_norm_backward_derived,
        LN.format("gg / std", "(g * xh).sum(axis=(0, 1))"),
        "forgets that the mean and the variance",
    ),
    (
        ch03.layer_norm_backward_derived,
        LN.format("(gg - gg.mean(-1, keepdims=True)) / std", "(g * xh).sum(axis=(0, 1))"),
        "drops the variance term",
    ),
    (
        ch03.layer_norm_backward_derived,
        LN.format(
            "(gg - xh * (gg * xh).mean(-1, keepdims=True)) / std", "(g * xh).sum(axis=(0, 1))"
        ),
        "drops the mean term",
    ),
    (
        ch03.layer_norm_backward_derived,
        LN.format(
            "(gg - gg.mean(-1, keepdims=True)"
            " - xh * (gg * xh).mean(-1, keepdims=True) / std) / std",
            "(g * xh).sum(axis=(0, 1))",
        ),
        "uses the normalized x where x - mean belongs",
    ),
    (
        ch03.layer_norm_backward_derived,
        LN.format(LN_RIGHT_DX, "(g * x).sum(axis=(0, 1))"),
        "not by x",
    ),
    (
        ch03.layer_norm_backward_derived,
        LN.format(LN_RIGHT_DX, "(g * xh).sum(axis=0)"),
        "sum over every axis but the last",
    ),
    (
        ch03.attention_backward_derived,
        ATT.format(ATT_RIGHT_DS, 0, ATT_RIGHT_OUT),
        "sqrt(d) times too large",
    ),
    (
        ch03.attention_backward_derived,
        ATT.format("w * dw", 1, ATT_RIGHT_OUT),
        "missing its second term",
    ),
    (
        ch03.attention_backward_derived,
        ATT.format(
            ATT_RIGHT_DS, 1, "np.swapaxes(ds, -1, -2) @ q, ds @ k, np.swapaxes(w, -1, -2) @ g"
        ),
        "dq and dk are swapped",
    ),
    (
        ch03.attention_backward_derived,
        ATT.format(ATT_RIGHT_DS, 1, "ds @ k, np.swapaxes(ds, -1, -2) @ q, w @ g"),
        "dv is wrong",
    ),
    (
        ch03.attention_backward_derived,
        ATT.format(ATT_RIGHT_DS, 1, "ds @ k, ds @ q, np.swapaxes(w, -1, -2) @ g"),
        "dk is wrong",
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


@pytest.mark.parametrize("norm", ["post", "pre"])
@pytest.mark.parametrize("n_heads", [1, 2])
def test_reference_block_is_the_library_block(norm: str, n_heads: int) -> None:
    config = ModelConfig(
        vocab_size=10, d_model=8, d_hidden=12, max_seq_len=8, n_heads=n_heads, norm=norm
    )
    library = cl.TransformerBlock(config, seed=1, dtype=np.float64)
    params = ch03.block_params(7)
    library.load_state_dict(params)
    x = np.random.default_rng(2).normal(size=(2, 6, 8))
    assert np.allclose(ch03.reference_block_forward(x, params, n_heads, norm), library.forward(x))


def test_reference_feed_forward_and_backward_are_the_library_layer() -> None:
    config = ModelConfig(vocab_size=10, d_model=6, d_hidden=10)
    layer = cl.FeedForward(config, seed=3, dtype=np.float64)
    p = layer.state_dict()
    rng = np.random.default_rng(4)
    x, grad = rng.normal(size=(2, 5, 6)), rng.normal(size=(2, 5, 6))
    out = ch03.reference_feed_forward(
        x, p["up.weight"], p["up.bias"], p["down.weight"], p["down.bias"]
    )
    assert np.allclose(out, layer.forward(x))
    dx, dw_up, db_up, dw_down, db_down = ch03.reference_feed_forward_backward(
        grad, x, p["up.weight"], p["up.bias"], p["down.weight"]
    )
    layer.zero_grad()
    assert np.allclose(dx, layer.backward(grad))
    grads = layer.gradients()
    for name, value in (("up.weight", dw_up), ("up.bias", db_up), ("down.weight", dw_down)):
        assert np.allclose(value, grads[name]), name
    assert np.allclose(db_down, grads["down.bias"])


def test_reference_merge_heads_undoes_split_heads() -> None:
    x = np.random.default_rng(5).normal(size=(2, 7, 12))
    assert np.array_equal(ch03.reference_merge_heads(ch03.reference_split_heads(x, 3)), x)


@pytest.mark.parametrize("exercise", list(VALID), ids=lambda e: e.name)
def test_each_reference_passes_its_own_check(exercise) -> None:
    assert exercise.run(exercise.reference).status == "pass"


def test_the_derived_variants_count_for_no_points() -> None:
    assert ch03.layer_norm_backward_derived.points == 0
    assert ch03.attention_backward_derived.points == 0


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
