# ruff: noqa: E501 - the sources and labels as written
"""Answers to the exercises added last (3.7-3.10, the derive-it exercises, 4.2, 5.4, 5.5),
written by someone other than the checks' author, from the chapters' text alone: realistic
mistakes and differently written valid solutions, under the writer's own labels.

Changes to what the writer wrote: the names the chapter defines before each exercise are
imported from the references; the 5.4 answers, written before the text asked generation to
leave out <pad> and <unk>, have that step added (their logits set to -inf before picking); and
"updates param in place and returns it", written as a mistake, is a valid 4.2 answer, as the
text now says. Each mistake's phrase is a part of the hint that names the mistake.
"""

from check_corpus import Answers, Mistake

VALID: dict[str, dict[str, str]] = {}
MISTAKES: dict[str, dict[str, Mistake]] = {}


def _valid(grade_id: str, label: str, source: str) -> None:
    VALID.setdefault(grade_id, {})[label] = source


def _mistake(grade_id: str, label: str, phrase: str, source: str) -> None:
    MISTAKES.setdefault(grade_id, {})[label] = Mistake(phrase, source)


_mistake(
    "ch03_merge_heads",
    "independent: single reshape, no axis swap back (heads and time mixed up)",
    "reshaping straight to (batch, time, d_model) mixes positions: swap",
    """
def merge_heads(x):
    b, h, t, d = x.shape
    return x.reshape(b, t, h * d)
""",
)

_mistake(
    "ch03_merge_heads",
    "independent: heads interleaved instead of in blocks (head axis moved last)",
    "the heads' columns are interleaved: after moving time forward the",
    """
def merge_heads(x):
    b, h, t, d = x.shape
    return x.transpose(0, 2, 3, 1).reshape(b, t, h * d)
""",
)

_mistake(
    "ch03_merge_heads",
    "independent: unpacks x.shape in the output order (b, t, h, d): right only when heads == time",
    "x arrives as (batch, heads, time, head_dim), so unpack the sizes in",
    """
def merge_heads(x):
    b, t, h, d = x.shape
    return x.transpose(0, 2, 1, 3).reshape(b, t, h * d)
""",
)

_mistake(
    "ch03_merge_heads",
    "independent: concatenates the heads along time instead of features",
    "the heads were stacked along the time axis. Glue them along the",
    """
def merge_heads(x):
    return np.concatenate([x[:, i] for i in range(x.shape[1])], axis=1)
""",
)

_mistake(
    "ch03_merge_heads",
    "independent: heads concatenated in reverse order (right with one head)",
    "the heads come out in reverse order: head 0 takes the first head_dim",
    """
def merge_heads(x):
    n_heads = x.shape[1]
    return np.concatenate([x[:, i] for i in reversed(range(n_heads))], axis=-1)
""",
)

_mistake(
    "ch03_merge_heads",
    "independent: sums the heads instead of gluing them (right with one head)",
    "merge_heads only rearranges them - no sum or mean over the heads:",
    """
def merge_heads(x):
    return x.sum(axis=1)
""",
)

_mistake(
    "ch03_merge_heads",
    "independent: wrong transpose: swaps time and head_dim, then reshapes",
    "before the reshape the axes were (batch, heads, head_dim, time),",
    """
def merge_heads(x):
    b, h, t, d = x.shape
    return x.transpose(0, 1, 3, 2).reshape(b, t, h * d)
""",
)

_mistake(
    "ch03_merge_heads",
    "independent: squeezes the result: loses a batch (or time) axis of size 1",
    "an axis of size 1 was dropped (np.squeeze?). Keep all three axes,",
    """
def merge_heads(x):
    b, h, t, d = x.shape
    return np.squeeze(np.swapaxes(x, 1, 2).reshape(b, t, h * d))
""",
)

_mistake(
    "ch03_merge_heads",
    "independent: swaps axes back but never reshapes (returns 4-D)",
    "the heads are in place but not glued: reshape (batch, time, heads,",
    """
def merge_heads(x):
    return np.swapaxes(x, 1, 2)
""",
)

_valid(
    "ch03_merge_heads",
    "independent: transpose then reshape",
    """
def merge_heads(x):
    b, h, t, d = x.shape
    return x.transpose(0, 2, 1, 3).reshape(b, t, h * d)
""",
)

_valid(
    "ch03_merge_heads",
    "independent: concatenate the heads along the last axis",
    """
def merge_heads(x):
    return np.concatenate([x[:, head] for head in range(x.shape[1])], axis=-1)
""",
)

_valid(
    "ch03_merge_heads",
    "independent: fill a preallocated output column block by column block",
    """
def merge_heads(x):
    b, h, t, d = x.shape
    out = np.empty((b, t, h * d), dtype=x.dtype)
    for head in range(h):
        out[:, :, head * d:(head + 1) * d] = x[:, head]
    return out
""",
)

_valid(
    "ch03_merge_heads",
    "independent: moveaxis and reshape with -1",
    """
def merge_heads(x):
    moved = np.moveaxis(x, 1, 2)  # (b, t, h, d)
    return moved.reshape(moved.shape[0], moved.shape[1], -1)
""",
)

_mistake(
    "ch03_feed_forward",
    "independent: weights not transposed (x @ w_up)",
    "feed_forward raised ValueError on x of shape (5, 6), w_up (10, 6),",
    """
def feed_forward(x, w_up, b_up, w_down, b_down):
    hidden = np.maximum(x @ w_up + b_up, 0)
    return hidden @ w_down + b_down
""",
)

_mistake(
    "ch03_feed_forward",
    "independent: ReLU missing",
    "the ReLU is missing: hidden = np.maximum(x @ w_up.T + b_up, 0).",
    """
def feed_forward(x, w_up, b_up, w_down, b_down):
    hidden = x @ w_up.T + b_up
    return hidden @ w_down.T + b_down
""",
)

_mistake(
    "ch03_feed_forward",
    "independent: ReLU also applied to the output",
    "there is a ReLU after the second layer too: the output is hidden @",
    """
def feed_forward(x, w_up, b_up, w_down, b_down):
    hidden = np.maximum(x @ w_up.T + b_up, 0)
    return np.maximum(hidden @ w_down.T + b_down, 0)
""",
)

_mistake(
    "ch03_feed_forward",
    "independent: b_up added after the ReLU (right when b_up is zero)",
    "the ReLU came before the bias: add b_up first, then take the ReLU of",
    """
def feed_forward(x, w_up, b_up, w_down, b_down):
    hidden = np.maximum(x @ w_up.T, 0) + b_up
    return hidden @ w_down.T + b_down
""",
)

_mistake(
    "ch03_feed_forward",
    "independent: other activation (GELU, tanh approximation) in the feed-forward",
    "the activation is GELU (tanh approximation), not the ReLU: this",
    """
def feed_forward(x, w_up, b_up, w_down, b_down):
    pre = x @ w_up.T + b_up
    hidden = 0.5 * pre * (1 + np.tanh(np.sqrt(2 / np.pi) * (pre + 0.044715 * pre**3)))
    return hidden @ w_down.T + b_down
""",
)

_mistake(
    "ch03_feed_forward",
    "independent: np.max(a, 0) instead of np.maximum: reduces over axis 0",
    "np.max(a, 0) is the largest entry along axis 0, a reduction. The ReLU",
    """
def feed_forward(x, w_up, b_up, w_down, b_down):
    hidden = np.max(x @ w_up.T + b_up, 0)
    return hidden @ w_down.T + b_down
""",
)

_mistake(
    "ch03_feed_forward",
    "independent: output bias b_down forgotten (right when b_down is zero)",
    "b_down is missing: the second layer is hidden @ w_down.T + b_down.",
    """
def feed_forward(x, w_up, b_up, w_down, b_down):
    hidden = np.maximum(x @ w_up.T + b_up, 0)
    return hidden @ w_down.T
""",
)

_mistake(
    "ch03_feed_forward",
    "independent: the two weight matrices used the wrong way round (shapes still fit)",
    "w_up and w_down are used the wrong way round: w_up, (d_hidden,",
    """
def feed_forward(x, w_up, b_up, w_down, b_down):
    hidden = np.maximum(x @ w_down + b_up, 0)
    return hidden @ w_up + b_down
""",
)

_mistake(
    "ch03_feed_forward",
    "independent: leaky ReLU (slope 0.01) instead of ReLU",
    "the activation is a leaky ReLU (slope 0.01), not the ReLU: this",
    """
def feed_forward(x, w_up, b_up, w_down, b_down):
    pre = x @ w_up.T + b_up
    hidden = np.where(pre > 0, pre, 0.01 * pre)
    return hidden @ w_down.T + b_down
""",
)

_mistake(
    "ch03_feed_forward",
    "independent: ReLU applied to the input instead of the hidden layer",
    "the ReLU was applied to the input x; it belongs between the two",
    """
def feed_forward(x, w_up, b_up, w_down, b_down):
    hidden = np.maximum(x, 0) @ w_up.T + b_up
    return hidden @ w_down.T + b_down
""",
)

_valid(
    "ch03_feed_forward",
    "independent: matmul with transposed weights",
    """
def feed_forward(x, w_up, b_up, w_down, b_down):
    hidden = np.maximum(x @ w_up.T + b_up, 0)
    return hidden @ w_down.T + b_down
""",
)

_valid(
    "ch03_feed_forward",
    "independent: einsum over the feature axis",
    """
def feed_forward(x, w_up, b_up, w_down, b_down):
    pre = np.einsum("...i,hi->...h", x, w_up) + b_up
    hidden = np.where(pre > 0, pre, 0.0)
    return np.einsum("...h,oh->...o", hidden, w_down) + b_down
""",
)

_valid(
    "ch03_feed_forward",
    "independent: flatten positions into rows, np.dot, clip, reshape back",
    """
def feed_forward(x, w_up, b_up, w_down, b_down):
    rows = x.reshape(-1, x.shape[-1])
    hidden = np.clip(np.dot(rows, w_up.T) + b_up, 0, None)
    out = np.dot(hidden, w_down.T) + b_down
    return out.reshape(*x.shape[:-1], w_down.shape[0])
""",
)

_mistake(
    "ch03_feed_forward_backward",
    "independent: weight gradients transposed: (in, out) instead of the weight's (out, in)",
    "dw_up has the shape of w_up, stored (out, in): the transpose of x.T @",
    """
def feed_forward_backward(grad_out, x, w_up, b_up, w_down):
    pre = x @ w_up.T + b_up
    hidden = np.maximum(pre, 0)
    g = grad_out.reshape(-1, grad_out.shape[-1])
    h = hidden.reshape(-1, hidden.shape[-1])
    xs = x.reshape(-1, x.shape[-1])
    dw_down = h.T @ g
    db_down = g.sum(axis=0)
    d_pre = (grad_out @ w_down) * (pre > 0)
    dp = d_pre.reshape(-1, d_pre.shape[-1])
    dw_up = xs.T @ dp
    db_up = dp.sum(axis=0)
    dx = d_pre @ w_up
    return dx, dw_up, db_up, dw_down, db_down
""",
)

_mistake(
    "ch03_feed_forward_backward",
    "independent: ReLU mask forgotten in the backward pass",
    "the ReLU's gradient is missing: multiply grad_out @ w_down by (pre >",
    """
def feed_forward_backward(grad_out, x, w_up, b_up, w_down):
    pre = x @ w_up.T + b_up
    hidden = np.maximum(pre, 0)
    g = grad_out.reshape(-1, grad_out.shape[-1])
    h = hidden.reshape(-1, hidden.shape[-1])
    xs = x.reshape(-1, x.shape[-1])
    dw_down = g.T @ h
    db_down = g.sum(axis=0)
    d_pre = grad_out @ w_down
    dp = d_pre.reshape(-1, d_pre.shape[-1])
    dw_up = dp.T @ xs
    db_up = dp.sum(axis=0)
    dx = d_pre @ w_up
    return dx, dw_up, db_up, dw_down, db_down
""",
)

_mistake(
    "ch03_feed_forward_backward",
    "independent: bias gradients summed over axis 0 only (right for one sequence, wrong for a batch)",
    "sum over every axis but the last, axis=tuple(range(x.ndim - 1)), so",
    """
def feed_forward_backward(grad_out, x, w_up, b_up, w_down):
    pre = x @ w_up.T + b_up
    hidden = np.maximum(pre, 0)
    d_pre = (grad_out @ w_down) * (pre > 0)
    g = grad_out.reshape(-1, grad_out.shape[-1])
    dp = d_pre.reshape(-1, d_pre.shape[-1])
    dw_down = g.T @ hidden.reshape(-1, hidden.shape[-1])
    dw_up = dp.T @ x.reshape(-1, x.shape[-1])
    db_down = grad_out.sum(axis=0)
    db_up = d_pre.sum(axis=0)
    dx = d_pre @ w_up
    return dx, dw_up, db_up, dw_down, db_down
""",
)

_mistake(
    "ch03_feed_forward_backward",
    "independent: no flattening: weight gradient per sequence, not summed over the batch",
    "one gradient per sequence came back, but a weight is shared by every",
    """
def feed_forward_backward(grad_out, x, w_up, b_up, w_down):
    pre = x @ w_up.T + b_up
    hidden = np.maximum(pre, 0)
    dw_down = np.swapaxes(grad_out, -1, -2) @ hidden
    db_down = grad_out.sum(axis=-2)
    d_pre = (grad_out @ w_down) * (pre > 0)
    dw_up = np.swapaxes(d_pre, -1, -2) @ x
    db_up = d_pre.sum(axis=-2)
    dx = d_pre @ w_up
    return dx, dw_up, db_up, dw_down, db_down
""",
)

_mistake(
    "ch03_feed_forward_backward",
    "independent: gradients returned in the wrong order (down before up)",
    "feed_forward_backward returned the right gradients in the wrong",
    """
def feed_forward_backward(grad_out, x, w_up, b_up, w_down):
    pre = x @ w_up.T + b_up
    hidden = np.maximum(pre, 0)
    g = grad_out.reshape(-1, grad_out.shape[-1])
    dw_down = g.T @ hidden.reshape(-1, hidden.shape[-1])
    db_down = g.sum(axis=0)
    d_pre = (grad_out @ w_down) * (pre > 0)
    dp = d_pre.reshape(-1, d_pre.shape[-1])
    dw_up = dp.T @ x.reshape(-1, x.shape[-1])
    db_up = dp.sum(axis=0)
    dx = d_pre @ w_up
    return dx, dw_down, db_down, dw_up, db_up
""",
)

_mistake(
    "ch03_feed_forward_backward",
    "independent: dx left flattened to (rows, d_model) (right only for a 2-D input)",
    "reshape it back to x.shape after working on rows.",
    """
def feed_forward_backward(grad_out, x, w_up, b_up, w_down):
    xs = x.reshape(-1, x.shape[-1])
    g = grad_out.reshape(-1, grad_out.shape[-1])
    pre = xs @ w_up.T + b_up
    hidden = np.maximum(pre, 0)
    dw_down = g.T @ hidden
    db_down = g.sum(axis=0)
    d_pre = (g @ w_down) * (pre > 0)
    dw_up = d_pre.T @ xs
    db_up = d_pre.sum(axis=0)
    dx = d_pre @ w_up
    return dx, dw_up, db_up, dw_down, db_down
""",
)

_mistake(
    "ch03_feed_forward_backward",
    "independent: bias gradients averaged over positions instead of summed",
    "db_down is the mean of grad_out over the positions; the bias is added",
    """
def feed_forward_backward(grad_out, x, w_up, b_up, w_down):
    pre = x @ w_up.T + b_up
    hidden = np.maximum(pre, 0)
    g = grad_out.reshape(-1, grad_out.shape[-1])
    dw_down = g.T @ hidden.reshape(-1, hidden.shape[-1])
    db_down = g.mean(axis=0)
    d_pre = (grad_out @ w_down) * (pre > 0)
    dp = d_pre.reshape(-1, d_pre.shape[-1])
    dw_up = dp.T @ x.reshape(-1, x.shape[-1])
    db_up = dp.mean(axis=0)
    dx = d_pre @ w_up
    return dx, dw_up, db_up, dw_down, db_down
""",
)

_mistake(
    "ch03_feed_forward_backward",
    "independent: ReLU mask taken from the incoming gradient (d_hidden > 0) instead of pre > 0",
    "the ReLU's mask was taken from the gradient (d_hidden > 0); it comes",
    """
def feed_forward_backward(grad_out, x, w_up, b_up, w_down):
    pre = x @ w_up.T + b_up
    hidden = np.maximum(pre, 0)
    g = grad_out.reshape(-1, grad_out.shape[-1])
    dw_down = g.T @ hidden.reshape(-1, hidden.shape[-1])
    db_down = g.sum(axis=0)
    d_hidden = grad_out @ w_down
    d_pre = d_hidden * (d_hidden > 0)
    dp = d_pre.reshape(-1, d_pre.shape[-1])
    dw_up = dp.T @ x.reshape(-1, x.shape[-1])
    db_up = dp.sum(axis=0)
    dx = d_pre @ w_up
    return dx, dw_up, db_up, dw_down, db_down
""",
)

_mistake(
    "ch03_feed_forward_backward",
    "independent: dw_down from the pre-activation instead of the ReLU output",
    "dw_down uses the hidden values before the ReLU: the second layer",
    """
def feed_forward_backward(grad_out, x, w_up, b_up, w_down):
    pre = x @ w_up.T + b_up
    g = grad_out.reshape(-1, grad_out.shape[-1])
    dw_down = g.T @ pre.reshape(-1, pre.shape[-1])
    db_down = g.sum(axis=0)
    d_pre = (grad_out @ w_down) * (pre > 0)
    dp = d_pre.reshape(-1, d_pre.shape[-1])
    dw_up = dp.T @ x.reshape(-1, x.shape[-1])
    db_up = dp.sum(axis=0)
    dx = d_pre @ w_up
    return dx, dw_up, db_up, dw_down, db_down
""",
)

_mistake(
    "ch03_feed_forward_backward",
    "independent: ReLU mask pre >= 0 (differs only where pre is exactly 0)",
    "where the ReLU's input is exactly 0 (3 places in this case) your mask",
    """
def feed_forward_backward(grad_out, x, w_up, b_up, w_down):
    pre = x @ w_up.T + b_up
    hidden = np.maximum(pre, 0)
    g = grad_out.reshape(-1, grad_out.shape[-1])
    dw_down = g.T @ hidden.reshape(-1, hidden.shape[-1])
    db_down = g.sum(axis=0)
    d_pre = (grad_out @ w_down) * (pre >= 0)
    dp = d_pre.reshape(-1, d_pre.shape[-1])
    dw_up = dp.T @ x.reshape(-1, x.shape[-1])
    db_up = dp.sum(axis=0)
    dx = d_pre @ w_up
    return dx, dw_up, db_up, dw_down, db_down
""",
)

_valid(
    "ch03_feed_forward_backward",
    "independent: flatten to rows, matrix products, reshape dx back",
    """
def feed_forward_backward(grad_out, x, w_up, b_up, w_down):
    xs = x.reshape(-1, x.shape[-1])
    g = grad_out.reshape(-1, grad_out.shape[-1])
    pre = xs @ w_up.T + b_up
    hidden = np.maximum(pre, 0)
    dw_down = g.T @ hidden
    db_down = g.sum(axis=0)
    d_pre = (g @ w_down) * (pre > 0)
    dw_up = d_pre.T @ xs
    db_up = d_pre.sum(axis=0)
    dx = (d_pre @ w_up).reshape(x.shape)
    return dx, dw_up, db_up, dw_down, db_down
""",
)

_valid(
    "ch03_feed_forward_backward",
    "independent: einsum on rows flattened from every leading axis; mask from hidden > 0",
    """
def feed_forward_backward(grad_out, x, w_up, b_up, w_down):
    xs = x.reshape(-1, x.shape[-1])
    gs = grad_out.reshape(-1, grad_out.shape[-1])
    hidden = np.maximum(np.einsum("ni,hi->nh", xs, w_up) + b_up, 0)
    dw_down = np.einsum("no,nh->oh", gs, hidden)
    db_down = np.einsum("no->o", gs)
    d_pre = np.einsum("no,oh->nh", gs, w_down) * (hidden > 0)
    dw_up = np.einsum("nh,ni->hi", d_pre, xs)
    db_up = np.einsum("nh->h", d_pre)
    dx = np.einsum("nh,hi->ni", d_pre, w_up).reshape(x.shape)
    return dx, dw_up, db_up, dw_down, db_down
""",
)

_valid(
    "ch03_feed_forward_backward",
    "independent: tensordot over the leading axes, np.where for the ReLU",
    """
def feed_forward_backward(grad_out, x, w_up, b_up, w_down):
    pre = x @ w_up.T + b_up
    hidden = np.where(pre > 0, pre, 0.0)
    lead = list(range(x.ndim - 1))
    dw_down = np.tensordot(grad_out, hidden, axes=(lead, lead))
    db_down = grad_out.reshape(-1, grad_out.shape[-1]).sum(axis=0)
    d_pre = np.where(pre > 0, grad_out @ w_down, 0.0)
    dw_up = np.tensordot(d_pre, x, axes=(lead, lead))
    db_up = d_pre.reshape(-1, d_pre.shape[-1]).sum(axis=0)
    dx = d_pre @ w_up
    return dx, dw_up, db_up, dw_down, db_down
""",
)

_mistake(
    "ch03_block_forward",
    "independent: attention residual missing (post-norm: norm1(attention(x)))",
    "the first residual is missing: attention's output is added to its",
    """
from course_lib.checks.ch03 import reference_causal_attention as causal_attention
from course_lib.checks.ch03 import reference_feed_forward as feed_forward
from course_lib.checks.ch03 import reference_layer_norm as layer_norm
from course_lib.checks.ch03 import reference_merge_heads as merge_heads
from course_lib.checks.ch03 import reference_softmax as softmax
from course_lib.checks.ch03 import reference_split_heads as split_heads
def block_forward(x, params, n_heads=1, norm="post", eps=1e-5):
    def attention(h):
        q, k, v = (split_heads(h @ params[f"attention.{n}.weight"].T, n_heads)
                   for n in ("query", "key", "value"))
        return merge_heads(causal_attention(q, k, v)[0])

    def ff(h):
        return feed_forward(h, params["feed_forward.up.weight"], params["feed_forward.up.bias"],
                            params["feed_forward.down.weight"], params["feed_forward.down.bias"])

    def norm1(h):
        return layer_norm(h, params["norm1.weight"], params["norm1.bias"], eps)

    def norm2(h):
        return layer_norm(h, params["norm2.weight"], params["norm2.bias"], eps)

    if norm == "pre":
        h = attention(norm1(x))
        return h + ff(norm2(h))
    h = norm1(attention(x))
    return norm2(h + ff(h))
""",
)

_mistake(
    "ch03_block_forward",
    "independent: second residual missing",
    "the second residual is missing: the feed-forward network's output is",
    """
from course_lib.checks.ch03 import reference_causal_attention as causal_attention
from course_lib.checks.ch03 import reference_feed_forward as feed_forward
from course_lib.checks.ch03 import reference_layer_norm as layer_norm
from course_lib.checks.ch03 import reference_merge_heads as merge_heads
from course_lib.checks.ch03 import reference_softmax as softmax
from course_lib.checks.ch03 import reference_split_heads as split_heads
def block_forward(x, params, n_heads=1, norm="post", eps=1e-5):
    def attention(h):
        q, k, v = (split_heads(h @ params[f"attention.{n}.weight"].T, n_heads)
                   for n in ("query", "key", "value"))
        return merge_heads(causal_attention(q, k, v)[0])

    def ff(h):
        return feed_forward(h, params["feed_forward.up.weight"], params["feed_forward.up.bias"],
                            params["feed_forward.down.weight"], params["feed_forward.down.bias"])

    def norm1(h):
        return layer_norm(h, params["norm1.weight"], params["norm1.bias"], eps)

    def norm2(h):
        return layer_norm(h, params["norm2.weight"], params["norm2.bias"], eps)

    if norm == "pre":
        h = x + attention(norm1(x))
        return ff(norm2(h))
    h = norm1(x + attention(x))
    return norm2(ff(h))
""",
)

_mistake(
    "ch03_block_forward",
    "independent: pre-norm residual taken from the normed input",
    "the residuals carry the normalized values: in pre-norm the stream is",
    """
from course_lib.checks.ch03 import reference_causal_attention as causal_attention
from course_lib.checks.ch03 import reference_feed_forward as feed_forward
from course_lib.checks.ch03 import reference_layer_norm as layer_norm
from course_lib.checks.ch03 import reference_merge_heads as merge_heads
from course_lib.checks.ch03 import reference_softmax as softmax
from course_lib.checks.ch03 import reference_split_heads as split_heads
def block_forward(x, params, n_heads=1, norm="post", eps=1e-5):
    def attention(h):
        q, k, v = (split_heads(h @ params[f"attention.{n}.weight"].T, n_heads)
                   for n in ("query", "key", "value"))
        return merge_heads(causal_attention(q, k, v)[0])

    def ff(h):
        return feed_forward(h, params["feed_forward.up.weight"], params["feed_forward.up.bias"],
                            params["feed_forward.down.weight"], params["feed_forward.down.bias"])

    def norm1(h):
        return layer_norm(h, params["norm1.weight"], params["norm1.bias"], eps)

    def norm2(h):
        return layer_norm(h, params["norm2.weight"], params["norm2.bias"], eps)

    if norm == "pre":
        a = norm1(x)
        h = a + attention(a)
        b = norm2(h)
        return b + ff(b)
    h = norm1(x + attention(x))
    return norm2(h + ff(h))
""",
)

_mistake(
    "ch03_block_forward",
    "independent: norm1 and norm2 swapped (right while both norms hold their initial 1 and 0)",
    "norm1 and norm2 are swapped: norm1 goes with attention, norm2 with",
    """
from course_lib.checks.ch03 import reference_causal_attention as causal_attention
from course_lib.checks.ch03 import reference_feed_forward as feed_forward
from course_lib.checks.ch03 import reference_layer_norm as layer_norm
from course_lib.checks.ch03 import reference_merge_heads as merge_heads
from course_lib.checks.ch03 import reference_softmax as softmax
from course_lib.checks.ch03 import reference_split_heads as split_heads
def block_forward(x, params, n_heads=1, norm="post", eps=1e-5):
    def attention(h):
        q, k, v = (split_heads(h @ params[f"attention.{n}.weight"].T, n_heads)
                   for n in ("query", "key", "value"))
        return merge_heads(causal_attention(q, k, v)[0])

    def ff(h):
        return feed_forward(h, params["feed_forward.up.weight"], params["feed_forward.up.bias"],
                            params["feed_forward.down.weight"], params["feed_forward.down.bias"])

    def ln(h, name):
        return layer_norm(h, params[f"{name}.weight"], params[f"{name}.bias"], eps)

    if norm == "pre":
        h = x + attention(ln(x, "norm2"))
        return h + ff(ln(h, "norm1"))
    h = ln(x + attention(x), "norm2")
    return ln(h + ff(h), "norm1")
""",
)

_mistake(
    "ch03_block_forward",
    "independent: one layer norm (norm1) used twice (right while both norms are equal)",
    "norm1 was used in both places: the feed-forward sub-layer has a norm",
    """
from course_lib.checks.ch03 import reference_causal_attention as causal_attention
from course_lib.checks.ch03 import reference_feed_forward as feed_forward
from course_lib.checks.ch03 import reference_layer_norm as layer_norm
from course_lib.checks.ch03 import reference_merge_heads as merge_heads
from course_lib.checks.ch03 import reference_softmax as softmax
from course_lib.checks.ch03 import reference_split_heads as split_heads
def block_forward(x, params, n_heads=1, norm="post", eps=1e-5):
    def attention(h):
        q, k, v = (split_heads(h @ params[f"attention.{n}.weight"].T, n_heads)
                   for n in ("query", "key", "value"))
        return merge_heads(causal_attention(q, k, v)[0])

    def ff(h):
        return feed_forward(h, params["feed_forward.up.weight"], params["feed_forward.up.bias"],
                            params["feed_forward.down.weight"], params["feed_forward.down.bias"])

    def ln(h):
        return layer_norm(h, params["norm1.weight"], params["norm1.bias"], eps)

    if norm == "pre":
        h = x + attention(ln(x))
        return h + ff(ln(h))
    h = ln(x + attention(x))
    return ln(h + ff(h))
""",
)

_mistake(
    "ch03_block_forward",
    "independent: n_heads ignored: always one head (right when n_heads == 1)",
    "the attention ran as one head: split q, k and v into n_heads=2 heads",
    """
from course_lib.checks.ch03 import reference_causal_attention as causal_attention
from course_lib.checks.ch03 import reference_feed_forward as feed_forward
from course_lib.checks.ch03 import reference_layer_norm as layer_norm
from course_lib.checks.ch03 import reference_merge_heads as merge_heads
from course_lib.checks.ch03 import reference_softmax as softmax
from course_lib.checks.ch03 import reference_split_heads as split_heads
def block_forward(x, params, n_heads=1, norm="post", eps=1e-5):
    def attention(h):
        q = h @ params["attention.query.weight"].T
        k = h @ params["attention.key.weight"].T
        v = h @ params["attention.value.weight"].T
        return causal_attention(q, k, v)[0]

    def ff(h):
        return feed_forward(h, params["feed_forward.up.weight"], params["feed_forward.up.bias"],
                            params["feed_forward.down.weight"], params["feed_forward.down.bias"])

    def norm1(h):
        return layer_norm(h, params["norm1.weight"], params["norm1.bias"], eps)

    def norm2(h):
        return layer_norm(h, params["norm2.weight"], params["norm2.bias"], eps)

    if norm == "pre":
        h = x + attention(norm1(x))
        return h + ff(norm2(h))
    h = norm1(x + attention(x))
    return norm2(h + ff(h))
""",
)

_mistake(
    "ch03_block_forward",
    "independent: norm argument ignored: always post-norm (right for post)",
    "you built a post-norm block, but norm='pre' asks for pre-norm:",
    """
from course_lib.checks.ch03 import reference_causal_attention as causal_attention
from course_lib.checks.ch03 import reference_feed_forward as feed_forward
from course_lib.checks.ch03 import reference_layer_norm as layer_norm
from course_lib.checks.ch03 import reference_merge_heads as merge_heads
from course_lib.checks.ch03 import reference_softmax as softmax
from course_lib.checks.ch03 import reference_split_heads as split_heads
def block_forward(x, params, n_heads=1, norm="post", eps=1e-5):
    def attention(h):
        q, k, v = (split_heads(h @ params[f"attention.{n}.weight"].T, n_heads)
                   for n in ("query", "key", "value"))
        return merge_heads(causal_attention(q, k, v)[0])

    def ff(h):
        return feed_forward(h, params["feed_forward.up.weight"], params["feed_forward.up.bias"],
                            params["feed_forward.down.weight"], params["feed_forward.down.bias"])

    h = layer_norm(x + attention(x), params["norm1.weight"], params["norm1.bias"], eps)
    return layer_norm(h + ff(h), params["norm2.weight"], params["norm2.bias"], eps)
""",
)

_mistake(
    "ch03_block_forward",
    "independent: residual added twice in post-norm (x added again after norm1)",
    "x was added again after norm1: the first residual is inside the norm,",
    """
from course_lib.checks.ch03 import reference_causal_attention as causal_attention
from course_lib.checks.ch03 import reference_feed_forward as feed_forward
from course_lib.checks.ch03 import reference_layer_norm as layer_norm
from course_lib.checks.ch03 import reference_merge_heads as merge_heads
from course_lib.checks.ch03 import reference_softmax as softmax
from course_lib.checks.ch03 import reference_split_heads as split_heads
def block_forward(x, params, n_heads=1, norm="post", eps=1e-5):
    def attention(h):
        q, k, v = (split_heads(h @ params[f"attention.{n}.weight"].T, n_heads)
                   for n in ("query", "key", "value"))
        return merge_heads(causal_attention(q, k, v)[0])

    def ff(h):
        return feed_forward(h, params["feed_forward.up.weight"], params["feed_forward.up.bias"],
                            params["feed_forward.down.weight"], params["feed_forward.down.bias"])

    def norm1(h):
        return layer_norm(h, params["norm1.weight"], params["norm1.bias"], eps)

    def norm2(h):
        return layer_norm(h, params["norm2.weight"], params["norm2.bias"], eps)

    if norm == "pre":
        h = x + attention(norm1(x))
        return h + ff(norm2(h))
    h = x + norm1(x + attention(x))
    return norm2(h + ff(h))
""",
)

_mistake(
    "ch03_block_forward",
    "independent: heads split with a single reshape (right with one head)",
    "the heads were cut and glued with plain reshapes, which mix positions",
    """
from course_lib.checks.ch03 import reference_causal_attention as causal_attention
from course_lib.checks.ch03 import reference_feed_forward as feed_forward
from course_lib.checks.ch03 import reference_layer_norm as layer_norm
from course_lib.checks.ch03 import reference_merge_heads as merge_heads
from course_lib.checks.ch03 import reference_softmax as softmax
from course_lib.checks.ch03 import reference_split_heads as split_heads
def block_forward(x, params, n_heads=1, norm="post", eps=1e-5):
    b, t, d = x.shape

    def attention(h):
        q, k, v = (
            (h @ params[f"attention.{n}.weight"].T).reshape(b, n_heads, t, d // n_heads)
            for n in ("query", "key", "value")
        )
        out, _ = causal_attention(q, k, v)
        return out.reshape(b, t, d)

    def ff(h):
        return feed_forward(h, params["feed_forward.up.weight"], params["feed_forward.up.bias"],
                            params["feed_forward.down.weight"], params["feed_forward.down.bias"])

    def norm1(h):
        return layer_norm(h, params["norm1.weight"], params["norm1.bias"], eps)

    def norm2(h):
        return layer_norm(h, params["norm2.weight"], params["norm2.bias"], eps)

    if norm == "pre":
        h = x + attention(norm1(x))
        return h + ff(norm2(h))
    h = norm1(x + attention(x))
    return norm2(h + ff(h))
""",
)

_mistake(
    "ch03_block_forward",
    "independent: ignores eps, layer_norm called with its default 1e-5",
    "eps=0.5 made no difference: your norms use layer_norm's default. Pass",
    """
from course_lib.checks.ch03 import reference_causal_attention as causal_attention
from course_lib.checks.ch03 import reference_feed_forward as feed_forward
from course_lib.checks.ch03 import reference_layer_norm as layer_norm
from course_lib.checks.ch03 import reference_merge_heads as merge_heads
from course_lib.checks.ch03 import reference_softmax as softmax
from course_lib.checks.ch03 import reference_split_heads as split_heads
def block_forward(x, params, n_heads=1, norm="post", eps=1e-5):
    def attention(h):
        q, k, v = (split_heads(h @ params[f"attention.{n}.weight"].T, n_heads)
                   for n in ("query", "key", "value"))
        return merge_heads(causal_attention(q, k, v)[0])

    def ff(h):
        return feed_forward(h, params["feed_forward.up.weight"], params["feed_forward.up.bias"],
                            params["feed_forward.down.weight"], params["feed_forward.down.bias"])

    def norm1(h):
        return layer_norm(h, params["norm1.weight"], params["norm1.bias"])

    def norm2(h):
        return layer_norm(h, params["norm2.weight"], params["norm2.bias"])

    if norm == "pre":
        h = x + attention(norm1(x))
        return h + ff(norm2(h))
    h = norm1(x + attention(x))
    return norm2(h + ff(h))
""",
)

_valid(
    "ch03_block_forward",
    "independent: small inner functions, as the text suggests",
    """
from course_lib.checks.ch03 import reference_causal_attention as causal_attention
from course_lib.checks.ch03 import reference_feed_forward as feed_forward
from course_lib.checks.ch03 import reference_layer_norm as layer_norm
from course_lib.checks.ch03 import reference_merge_heads as merge_heads
from course_lib.checks.ch03 import reference_softmax as softmax
from course_lib.checks.ch03 import reference_split_heads as split_heads
def block_forward(x, params, n_heads=1, norm="post", eps=1e-5):
    def attention(h):
        q = split_heads(h @ params["attention.query.weight"].T, n_heads)
        k = split_heads(h @ params["attention.key.weight"].T, n_heads)
        v = split_heads(h @ params["attention.value.weight"].T, n_heads)
        out, _ = causal_attention(q, k, v)
        return merge_heads(out)

    def ff(h):
        return feed_forward(h, params["feed_forward.up.weight"], params["feed_forward.up.bias"],
                            params["feed_forward.down.weight"], params["feed_forward.down.bias"])

    def norm1(h):
        return layer_norm(h, params["norm1.weight"], params["norm1.bias"], eps)

    def norm2(h):
        return layer_norm(h, params["norm2.weight"], params["norm2.bias"], eps)

    if norm == "post":
        h = norm1(x + attention(x))
        return norm2(h + ff(h))
    if norm == "pre":
        h = x + attention(norm1(x))
        return h + ff(norm2(h))
    raise ValueError(f"norm must be 'post' or 'pre', got {norm!r}")
""",
)

_valid(
    "ch03_block_forward",
    "independent: generic sub-layer loop: (norm name, sub-layer) pairs",
    """
from course_lib.checks.ch03 import reference_causal_attention as causal_attention
from course_lib.checks.ch03 import reference_feed_forward as feed_forward
from course_lib.checks.ch03 import reference_layer_norm as layer_norm
from course_lib.checks.ch03 import reference_merge_heads as merge_heads
from course_lib.checks.ch03 import reference_softmax as softmax
from course_lib.checks.ch03 import reference_split_heads as split_heads
def block_forward(x, params, n_heads=1, norm="post", eps=1e-5):
    def ln(h, name):
        return layer_norm(h, params[name + ".weight"], params[name + ".bias"], eps)

    def attention(h):
        heads = [split_heads(h @ params["attention." + n + ".weight"].T, n_heads)
                 for n in ("query", "key", "value")]
        return merge_heads(causal_attention(*heads)[0])

    def ff(h):
        p = "feed_forward."
        return feed_forward(h, params[p + "up.weight"], params[p + "up.bias"],
                            params[p + "down.weight"], params[p + "down.bias"])

    h = x
    for name, sublayer in (("norm1", attention), ("norm2", ff)):
        if norm == "pre":
            h = h + sublayer(ln(h, name))
        else:
            h = ln(h + sublayer(h), name)
    return h
""",
)

_valid(
    "ch03_block_forward",
    "independent: everything written out inline with einsum (own heads, mask, softmax and norm)",
    """
from course_lib.checks.ch03 import reference_causal_attention as causal_attention
from course_lib.checks.ch03 import reference_feed_forward as feed_forward
from course_lib.checks.ch03 import reference_layer_norm as layer_norm
from course_lib.checks.ch03 import reference_merge_heads as merge_heads
from course_lib.checks.ch03 import reference_softmax as softmax
from course_lib.checks.ch03 import reference_split_heads as split_heads
def block_forward(x, params, n_heads=1, norm="post", eps=1e-5):
    b, t, d = x.shape
    hd = d // n_heads

    def ln(h, name):
        mu = h.mean(axis=-1, keepdims=True)
        var = ((h - mu) ** 2).mean(axis=-1, keepdims=True)
        return (h - mu) / np.sqrt(var + eps) * params[name + ".weight"] + params[name + ".bias"]

    def attention(h):
        def heads(name):
            y = np.einsum("bti,oi->bto", h, params["attention." + name + ".weight"])
            return y.reshape(b, t, n_heads, hd)

        q, k, v = heads("query"), heads("key"), heads("value")
        scores = np.einsum("bihd,bjhd->bhij", q, k) / np.sqrt(hd)
        scores = np.where(np.triu(np.ones((t, t), dtype=bool), k=1), -np.inf, scores)
        scores = scores - scores.max(axis=-1, keepdims=True)
        w = np.exp(scores)
        w = w / w.sum(axis=-1, keepdims=True)
        return np.einsum("bhij,bjhd->bihd", w, v).reshape(b, t, d)

    def ff(h):
        pre = np.einsum("bti,hi->bth", h, params["feed_forward.up.weight"])
        hidden = np.maximum(pre + params["feed_forward.up.bias"], 0)
        out = np.einsum("bth,oh->bto", hidden, params["feed_forward.down.weight"])
        return out + params["feed_forward.down.bias"]

    if norm == "pre":
        h = x + attention(ln(x, "norm1"))
        return h + ff(ln(h, "norm2"))
    h = ln(x + attention(x), "norm1")
    return ln(h + ff(h), "norm2")
""",
)

_mistake(
    "ch03_layer_norm_backward_derived",
    "independent: variance path uses x_hat where x - mean belongs",
    "dx uses the normalized x where x - mean belongs: the variance's",
    """
def layer_norm_backward_derived(grad_out, x, gamma, eps=1e-5):
    d = x.shape[-1]
    mean = x.mean(axis=-1, keepdims=True)
    std = np.sqrt(x.var(axis=-1, keepdims=True) + eps)
    x_hat = (x - mean) / std
    g = grad_out * gamma
    dvar = np.sum(g * x_hat, axis=-1, keepdims=True) * -0.5 * std**-3
    dmean = -np.sum(g, axis=-1, keepdims=True) / std
    dx = g / std + dvar * 2 * x_hat / d + dmean / d
    lead = tuple(range(x.ndim - 1))
    return dx, np.sum(grad_out * x_hat, axis=lead), np.sum(grad_out, axis=lead)
""",
)

_mistake(
    "ch03_layer_norm_backward_derived",
    "independent: only the direct path: mean and variance treated as constants",
    "only the direct path reaches x: the mean and var depend on every x of",
    """
def layer_norm_backward_derived(grad_out, x, gamma, eps=1e-5):
    mean = x.mean(axis=-1, keepdims=True)
    std = np.sqrt(x.var(axis=-1, keepdims=True) + eps)
    x_hat = (x - mean) / std
    dx = grad_out * gamma / std
    lead = tuple(range(x.ndim - 1))
    return dx, np.sum(grad_out * x_hat, axis=lead), np.sum(grad_out, axis=lead)
""",
)

_mistake(
    "ch03_layer_norm_backward_derived",
    "independent: variance path missing (direct and mean paths only)",
    "the path through var is missing: var = mean((x - mean) ** 2) depends",
    """
def layer_norm_backward_derived(grad_out, x, gamma, eps=1e-5):
    mean = x.mean(axis=-1, keepdims=True)
    std = np.sqrt(x.var(axis=-1, keepdims=True) + eps)
    x_hat = (x - mean) / std
    g = grad_out * gamma
    dx = (g - g.mean(axis=-1, keepdims=True)) / std
    lead = tuple(range(x.ndim - 1))
    return dx, np.sum(grad_out * x_hat, axis=lead), np.sum(grad_out, axis=lead)
""",
)

_mistake(
    "ch03_layer_norm_backward_derived",
    "independent: gamma left out of the gradient reaching x_hat (right when gamma = 1)",
    "dx ignores gamma: the forward pass multiplied x_hat by gamma once, so",
    """
def layer_norm_backward_derived(grad_out, x, gamma, eps=1e-5):
    mean = x.mean(axis=-1, keepdims=True)
    std = np.sqrt(x.var(axis=-1, keepdims=True) + eps)
    x_hat = (x - mean) / std
    g = grad_out
    dx = (g - g.mean(axis=-1, keepdims=True)
          - x_hat * (g * x_hat).mean(axis=-1, keepdims=True)) / std
    lead = tuple(range(x.ndim - 1))
    return dx, np.sum(grad_out * x_hat, axis=lead), np.sum(grad_out, axis=lead)
""",
)

_mistake(
    "ch03_layer_norm_backward_derived",
    "independent: dgamma and dbeta summed over axis 0 only (right for 2-D input)",
    "sum over every axis but the last, axis=tuple(range(x.ndim - 1)), so",
    """
def layer_norm_backward_derived(grad_out, x, gamma, eps=1e-5):
    mean = x.mean(axis=-1, keepdims=True)
    std = np.sqrt(x.var(axis=-1, keepdims=True) + eps)
    x_hat = (x - mean) / std
    g = grad_out * gamma
    dx = (g - g.mean(axis=-1, keepdims=True)
          - x_hat * (g * x_hat).mean(axis=-1, keepdims=True)) / std
    return dx, np.sum(grad_out * x_hat, axis=0), np.sum(grad_out, axis=0)
""",
)

_mistake(
    "ch03_layer_norm_backward_derived",
    "independent: dgamma and dbeta not summed over positions (full shape returned)",
    "sum over every axis but the last, axis=tuple(range(x.ndim - 1)), so",
    """
def layer_norm_backward_derived(grad_out, x, gamma, eps=1e-5):
    mean = x.mean(axis=-1, keepdims=True)
    std = np.sqrt(x.var(axis=-1, keepdims=True) + eps)
    x_hat = (x - mean) / std
    g = grad_out * gamma
    dx = (g - g.mean(axis=-1, keepdims=True)
          - x_hat * (g * x_hat).mean(axis=-1, keepdims=True)) / std
    return dx, grad_out * x_hat, grad_out
""",
)

_mistake(
    "ch03_layer_norm_backward_derived",
    "independent: unbiased variance (ddof=1) in the recomputed forward",
    "the recomputed forward pass uses the sample variance (ddof=1): layer",
    """
def layer_norm_backward_derived(grad_out, x, gamma, eps=1e-5):
    mean = x.mean(axis=-1, keepdims=True)
    std = np.sqrt(x.var(axis=-1, ddof=1, keepdims=True) + eps)
    x_hat = (x - mean) / std
    g = grad_out * gamma
    dx = (g - g.mean(axis=-1, keepdims=True)
          - x_hat * (g * x_hat).mean(axis=-1, keepdims=True)) / std
    lead = tuple(range(x.ndim - 1))
    return dx, np.sum(grad_out * x_hat, axis=lead), np.sum(grad_out, axis=lead)
""",
)

_mistake(
    "ch03_layer_norm_backward_derived",
    "independent: variance path without the 2 / d factor of d var / d x",
    "the path through var carries the factor 1 where d var / d x = 2 * (x",
    """
def layer_norm_backward_derived(grad_out, x, gamma, eps=1e-5):
    d = x.shape[-1]
    mean = x.mean(axis=-1, keepdims=True)
    xc = x - mean
    var = (xc**2).mean(axis=-1, keepdims=True)
    std = np.sqrt(var + eps)
    x_hat = xc / std
    g = grad_out * gamma
    dvar = np.sum(g * xc, axis=-1, keepdims=True) * -0.5 * std**-3
    dmean = -np.sum(g, axis=-1, keepdims=True) / std
    dx = g / std + dvar * xc + dmean / d
    lead = tuple(range(x.ndim - 1))
    return dx, np.sum(grad_out * x_hat, axis=lead), np.sum(grad_out, axis=lead)
""",
)

_mistake(
    "ch03_layer_norm_backward_derived",
    "independent: gradients returned in the wrong order (dx, dbeta, dgamma)",
    "layer_norm_backward_derived returned the right gradients in the wrong",
    """
def layer_norm_backward_derived(grad_out, x, gamma, eps=1e-5):
    mean = x.mean(axis=-1, keepdims=True)
    std = np.sqrt(x.var(axis=-1, keepdims=True) + eps)
    x_hat = (x - mean) / std
    g = grad_out * gamma
    dx = (g - g.mean(axis=-1, keepdims=True)
          - x_hat * (g * x_hat).mean(axis=-1, keepdims=True)) / std
    lead = tuple(range(x.ndim - 1))
    return dx, np.sum(grad_out, axis=lead), np.sum(grad_out * x_hat, axis=lead)
""",
)

_mistake(
    "ch03_layer_norm_backward_derived",
    "independent: mean path sums instead of averaging (missing / d)",
    "the path through the mean is d times too strong: mean = sum(x) / d,",
    """
def layer_norm_backward_derived(grad_out, x, gamma, eps=1e-5):
    mean = x.mean(axis=-1, keepdims=True)
    std = np.sqrt(x.var(axis=-1, keepdims=True) + eps)
    x_hat = (x - mean) / std
    g = grad_out * gamma
    dx = (g - g.sum(axis=-1, keepdims=True)
          - x_hat * (g * x_hat).mean(axis=-1, keepdims=True)) / std
    lead = tuple(range(x.ndim - 1))
    return dx, np.sum(grad_out * x_hat, axis=lead), np.sum(grad_out, axis=lead)
""",
)

_valid(
    "ch03_layer_norm_backward_derived",
    "independent: step by step: dx_hat, dvar, dmean, then the three paths",
    """
def layer_norm_backward_derived(grad_out, x, gamma, eps=1e-5):
    d = x.shape[-1]
    mean = x.mean(axis=-1, keepdims=True)
    xc = x - mean
    var = np.mean(xc**2, axis=-1, keepdims=True)
    inv_std = 1.0 / np.sqrt(var + eps)
    x_hat = xc * inv_std
    dx_hat = grad_out * gamma
    dvar = np.sum(dx_hat * xc, axis=-1, keepdims=True) * -0.5 * inv_std**3
    dmean = (-np.sum(dx_hat, axis=-1, keepdims=True) * inv_std
             + dvar * np.mean(-2.0 * xc, axis=-1, keepdims=True))
    dx = dx_hat * inv_std + dvar * 2.0 * xc / d + dmean / d
    rows = grad_out.reshape(-1, d)
    dgamma = np.sum(rows * x_hat.reshape(-1, d), axis=0)
    dbeta = np.sum(rows, axis=0)
    return dx, dgamma, dbeta
""",
)

_valid(
    "ch03_layer_norm_backward_derived",
    "independent: compact form with sums and d",
    """
def layer_norm_backward_derived(grad_out, x, gamma, eps=1e-5):
    d = x.shape[-1]
    mean = x.mean(axis=-1, keepdims=True)
    std = np.sqrt(((x - mean) ** 2).mean(axis=-1, keepdims=True) + eps)
    x_hat = (x - mean) / std
    g = grad_out * gamma
    dx = (d * g - g.sum(axis=-1, keepdims=True)
          - x_hat * (g * x_hat).sum(axis=-1, keepdims=True)) / (d * std)
    lead = tuple(range(x.ndim - 1))
    return dx, (grad_out * x_hat).sum(axis=lead), grad_out.sum(axis=lead)
""",
)

_valid(
    "ch03_layer_norm_backward_derived",
    "independent: explicit Jacobian of each position's vector, in a loop",
    """
def layer_norm_backward_derived(grad_out, x, gamma, eps=1e-5):
    d = x.shape[-1]
    xs = x.reshape(-1, d)
    gs = grad_out.reshape(-1, d)
    dx = np.empty_like(xs, dtype=np.result_type(x, grad_out, gamma))
    dgamma = np.zeros(d)
    dbeta = np.zeros(d)
    eye = np.eye(d)
    for r in range(xs.shape[0]):
        row = xs[r]
        xc = row - row.mean()
        std = np.sqrt(np.mean(xc**2) + eps)
        x_hat = xc / std
        # d x_hat_i / d x_j = (delta_ij - 1/d - x_hat_i x_hat_j / d) / std
        jac = (eye - 1.0 / d - np.outer(x_hat, x_hat) / d) / std
        dx[r] = jac.T @ (gs[r] * gamma)
        dgamma += gs[r] * x_hat
        dbeta += gs[r]
    return dx.reshape(x.shape), dgamma, dbeta
""",
)

_mistake(
    "ch03_attention_backward_derived",
    "independent: forgets 1 / sqrt(d) in dq and dk",
    "dq and dk are sqrt(d) times too large: the scores were q @ k.T /",
    """
def attention_backward_derived(grad_out, q, k, v, weights):
    t = lambda a: np.swapaxes(a, -1, -2)
    dv = t(weights) @ grad_out
    dw = grad_out @ t(v)
    ds = weights * (dw - np.sum(dw * weights, axis=-1, keepdims=True))
    dq = ds @ k
    dk = t(ds) @ q
    return dq, dk, dv
""",
)

_mistake(
    "ch03_attention_backward_derived",
    "independent: softmax backward without the row sum (elementwise p * dp only)",
    "the softmax backward is missing its second term: each weight of a row",
    """
def attention_backward_derived(grad_out, q, k, v, weights):
    d = q.shape[-1]
    dv = np.swapaxes(weights, -1, -2) @ grad_out
    dw = grad_out @ np.swapaxes(v, -1, -2)
    ds = weights * dw
    dq = ds @ k / np.sqrt(d)
    dk = np.swapaxes(ds, -1, -2) @ q / np.sqrt(d)
    return dq, dk, dv
""",
)

_mistake(
    "ch03_attention_backward_derived",
    "independent: .T instead of swapaxes (right for one sequence, wrong with batch axes)",
    "The text promises arrays of shape (..., time, d): one sequence (time,",
    """
def attention_backward_derived(grad_out, q, k, v, weights):
    d = q.shape[-1]
    dv = weights.T @ grad_out
    dw = grad_out @ v.T
    ds = weights * (dw - np.sum(dw * weights, axis=-1, keepdims=True))
    dq = ds @ k / np.sqrt(d)
    dk = ds.T @ q / np.sqrt(d)
    return dq, dk, dv
""",
)

_mistake(
    "ch03_attention_backward_derived",
    "independent: dk = d_scores @ q (not transposed)",
    "dk is not transposed: the scores are q @ k^T, so the gradient",
    """
def attention_backward_derived(grad_out, q, k, v, weights):
    d = q.shape[-1]
    dv = np.swapaxes(weights, -1, -2) @ grad_out
    dw = grad_out @ np.swapaxes(v, -1, -2)
    ds = weights * (dw - np.sum(dw * weights, axis=-1, keepdims=True))
    dq = ds @ k / np.sqrt(d)
    dk = ds @ q / np.sqrt(d)
    return dq, dk, dv
""",
)

_mistake(
    "ch03_attention_backward_derived",
    "independent: dv = weights @ grad_out (weights not transposed)",
    "dv = weights @ grad: the weights must be transposed (in their last",
    """
def attention_backward_derived(grad_out, q, k, v, weights):
    d = q.shape[-1]
    dv = weights @ grad_out
    dw = grad_out @ np.swapaxes(v, -1, -2)
    ds = weights * (dw - np.sum(dw * weights, axis=-1, keepdims=True))
    dq = ds @ k / np.sqrt(d)
    dk = np.swapaxes(ds, -1, -2) @ q / np.sqrt(d)
    return dq, dk, dv
""",
)

_mistake(
    "ch03_attention_backward_derived",
    "independent: softmax row sum taken over the wrong axis (-2)",
    "the softmax backward sums over the wrong axis: each row of weights is",
    """
def attention_backward_derived(grad_out, q, k, v, weights):
    d = q.shape[-1]
    dv = np.swapaxes(weights, -1, -2) @ grad_out
    dw = grad_out @ np.swapaxes(v, -1, -2)
    ds = weights * (dw - np.sum(dw * weights, axis=-2, keepdims=True))
    dq = ds @ k / np.sqrt(d)
    dk = np.swapaxes(ds, -1, -2) @ q / np.sqrt(d)
    return dq, dk, dv
""",
)

_mistake(
    "ch03_attention_backward_derived",
    "independent: divides by d instead of sqrt(d)",
    "dq and dk are 0.25 times the right ones (1/sqrt(d)): divided by d, or",
    """
def attention_backward_derived(grad_out, q, k, v, weights):
    d = q.shape[-1]
    dv = np.swapaxes(weights, -1, -2) @ grad_out
    dw = grad_out @ np.swapaxes(v, -1, -2)
    ds = weights * (dw - np.sum(dw * weights, axis=-1, keepdims=True))
    dq = ds @ k / d
    dk = np.swapaxes(ds, -1, -2) @ q / d
    return dq, dk, dv
""",
)

_mistake(
    "ch03_attention_backward_derived",
    "independent: scale read from the time axis (q.shape[-2]): right only when time == d",
    "dq and dk are 1.79 times the right ones: the scale came from the time",
    """
def attention_backward_derived(grad_out, q, k, v, weights):
    scale = np.sqrt(q.shape[-2])
    dv = np.swapaxes(weights, -1, -2) @ grad_out
    dw = grad_out @ np.swapaxes(v, -1, -2)
    ds = weights * (dw - np.sum(dw * weights, axis=-1, keepdims=True))
    dq = ds @ k / scale
    dk = np.swapaxes(ds, -1, -2) @ q / scale
    return dq, dk, dv
""",
)

_mistake(
    "ch03_attention_backward_derived",
    "independent: multiplies by sqrt(d) in the backward instead of dividing",
    "dq and dk are 16 times the right ones (d): multiplied by sqrt(d)",
    """
def attention_backward_derived(grad_out, q, k, v, weights):
    d = q.shape[-1]
    dv = np.swapaxes(weights, -1, -2) @ grad_out
    dw = grad_out @ np.swapaxes(v, -1, -2)
    ds = weights * (dw - np.sum(dw * weights, axis=-1, keepdims=True))
    dq = ds @ k * np.sqrt(d)
    dk = np.swapaxes(ds, -1, -2) @ q * np.sqrt(d)
    return dq, dk, dv
""",
)

_mistake(
    "ch03_attention_backward_derived",
    "independent: gradients returned in the wrong order (dv, dk, dq)",
    "attention_backward_derived returned the right gradients in the wrong",
    """
def attention_backward_derived(grad_out, q, k, v, weights):
    d = q.shape[-1]
    dv = np.swapaxes(weights, -1, -2) @ grad_out
    dw = grad_out @ np.swapaxes(v, -1, -2)
    ds = weights * (dw - np.sum(dw * weights, axis=-1, keepdims=True))
    dq = ds @ k / np.sqrt(d)
    dk = np.swapaxes(ds, -1, -2) @ q / np.sqrt(d)
    return dv, dk, dq
""",
)

_valid(
    "ch03_attention_backward_derived",
    "independent: matmul with swapaxes",
    """
def attention_backward_derived(grad_out, q, k, v, weights):
    scale = 1.0 / np.sqrt(q.shape[-1])
    dv = np.swapaxes(weights, -1, -2) @ grad_out
    d_weights = grad_out @ np.swapaxes(v, -1, -2)
    d_scores = weights * (d_weights - np.sum(d_weights * weights, axis=-1, keepdims=True))
    dq = d_scores @ k * scale
    dk = np.swapaxes(d_scores, -1, -2) @ q * scale
    return dq, dk, dv
""",
)

_valid(
    "ch03_attention_backward_derived",
    "independent: einsum, with the mask re-applied explicitly (harmless)",
    """
def attention_backward_derived(grad_out, q, k, v, weights):
    d = q.shape[-1]
    T = q.shape[-2]
    dv = np.einsum("...ij,...id->...jd", weights, grad_out)
    dw = np.einsum("...id,...jd->...ij", grad_out, v)
    row = np.einsum("...ij,...ij->...i", dw, weights)[..., None]
    ds = weights * (dw - row)
    ds = np.where(np.triu(np.ones((T, T), dtype=bool), k=1), 0.0, ds)
    dq = np.einsum("...ij,...jd->...id", ds, k) / np.sqrt(d)
    dk = np.einsum("...ij,...id->...jd", ds, q) / np.sqrt(d)
    return dq, dk, dv
""",
)

_valid(
    "ch03_attention_backward_derived",
    "independent: softmax Jacobian diag(p) - p p^T, row by row in a loop",
    """
def attention_backward_derived(grad_out, q, k, v, weights):
    d = q.shape[-1]
    swap = lambda a: np.swapaxes(a, -1, -2)
    dv = swap(weights) @ grad_out
    dw = grad_out @ swap(v)
    ds = np.zeros_like(dw)
    for index in np.ndindex(weights.shape[:-1]):
        p = weights[index]
        jac = np.diag(p) - np.outer(p, p)  # d p_i / d s_j
        ds[index] = jac.T @ dw[index]
    dq = ds @ k / np.sqrt(d)
    dk = swap(ds) @ q / np.sqrt(d)
    return dq, dk, dv
""",
)

_mistake(
    "ch04_adam_step",
    "independent: no bias correction",
    "no bias correction: m and v start at zero, so early on they are far",
    """
def adam_step(param, grad, state, lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-8):
    state["t"] += 1
    state["m"] = beta1 * state["m"] + (1 - beta1) * grad
    state["v"] = beta2 * state["v"] + (1 - beta2) * grad**2
    return param - lr * state["m"] / (np.sqrt(state["v"]) + eps)
""",
)

_mistake(
    "ch04_adam_step",
    "independent: step counter used before it is incremented (first step divides by 1 - beta**0 = 0)",
    "the step counter starts at 0: on the first step 1 - beta**0 = 0, so",
    """
def adam_step(param, grad, state, lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-8):
    t = state["t"]
    m = beta1 * state["m"] + (1 - beta1) * grad
    v = beta2 * state["v"] + (1 - beta2) * grad**2
    m_hat = m / (1 - beta1**t)
    v_hat = v / (1 - beta2**t)
    state["m"], state["v"], state["t"] = m, v, t + 1
    return param - lr * m_hat / (np.sqrt(v_hat) + eps)
""",
)

_mistake(
    "ch04_adam_step",
    "independent: eps inside the square root",
    "eps sits inside the square root: with gradients around 1e-6,",
    """
def adam_step(param, grad, state, lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-8):
    state["t"] += 1
    t = state["t"]
    state["m"] = beta1 * state["m"] + (1 - beta1) * grad
    state["v"] = beta2 * state["v"] + (1 - beta2) * grad**2
    m_hat = state["m"] / (1 - beta1**t)
    v_hat = state["v"] / (1 - beta2**t)
    return param - lr * m_hat / np.sqrt(v_hat + eps)
""",
)

_mistake(
    "ch04_adam_step",
    "independent: state not written back (m, v, t stay at their start values)",
    "after 4 steps state['t'] should be 4, got 0: add 1 to state['t'] on",
    """
def adam_step(param, grad, state, lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-8):
    t = state["t"] + 1
    m = beta1 * state["m"] + (1 - beta1) * grad
    v = beta2 * state["v"] + (1 - beta2) * grad**2
    m_hat = m / (1 - beta1**t)
    v_hat = v / (1 - beta2**t)
    return param - lr * m_hat / (np.sqrt(v_hat) + eps)
""",
)

_mistake(
    "ch04_adam_step",
    "independent: m and v stored but the step counter never saved (first step right, later ones wrong)",
    "after 4 steps state['t'] should be 4, got 0: add 1 to state['t'] on",
    """
def adam_step(param, grad, state, lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-8):
    t = state["t"] + 1
    state["m"] = beta1 * state["m"] + (1 - beta1) * grad
    state["v"] = beta2 * state["v"] + (1 - beta2) * grad**2
    m_hat = state["m"] / (1 - beta1**t)
    v_hat = state["v"] / (1 - beta2**t)
    return param - lr * m_hat / (np.sqrt(v_hat) + eps)
""",
)

_mistake(
    "ch04_adam_step",
    "independent: momentum sums instead of averaging (m = beta1 m + g)",
    "m sums the gradients (m = beta1 * m + grad, momentum's velocity);",
    """
def adam_step(param, grad, state, lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-8):
    state["t"] += 1
    t = state["t"]
    state["m"] = beta1 * state["m"] + grad
    state["v"] = beta2 * state["v"] + (1 - beta2) * grad**2
    m_hat = state["m"] / (1 - beta1**t)
    v_hat = state["v"] / (1 - beta2**t)
    return param - lr * m_hat / (np.sqrt(v_hat) + eps)
""",
)

_mistake(
    "ch04_adam_step",
    "independent: v averages |g| instead of g squared",
    "v averages |grad|; Adam's v is the running mean of the squared",
    """
def adam_step(param, grad, state, lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-8):
    state["t"] += 1
    t = state["t"]
    state["m"] = beta1 * state["m"] + (1 - beta1) * grad
    state["v"] = beta2 * state["v"] + (1 - beta2) * np.abs(grad)
    m_hat = state["m"] / (1 - beta1**t)
    v_hat = state["v"] / (1 - beta2**t)
    return param - lr * m_hat / (np.sqrt(v_hat) + eps)
""",
)

_mistake(
    "ch04_adam_step",
    "independent: bias correction applied to m only",
    "only m is bias-corrected: v starts at zero too, so divide m by (1 -",
    """
def adam_step(param, grad, state, lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-8):
    state["t"] += 1
    t = state["t"]
    state["m"] = beta1 * state["m"] + (1 - beta1) * grad
    state["v"] = beta2 * state["v"] + (1 - beta2) * grad**2
    m_hat = state["m"] / (1 - beta1**t)
    return param - lr * m_hat / (np.sqrt(state["v"]) + eps)
""",
)

_valid(
    "ch04_adam_step",
    "independent: updates param in place and returns it",
    """
def adam_step(param, grad, state, lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-8):
    state["t"] += 1
    t = state["t"]
    state["m"] = beta1 * state["m"] + (1 - beta1) * grad
    state["v"] = beta2 * state["v"] + (1 - beta2) * grad**2
    m_hat = state["m"] / (1 - beta1**t)
    v_hat = state["v"] / (1 - beta2**t)
    param -= lr * m_hat / (np.sqrt(v_hat) + eps)
    return param
""",
)

_mistake(
    "ch04_adam_step",
    "independent: ignores the eps argument, hard-codes 1e-8 (right with the default)",
    "eps=1e-6 made no difference: your step uses 1e-8 whatever eps is",
    """
def adam_step(param, grad, state, lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-8):
    state["t"] += 1
    t = state["t"]
    state["m"] = beta1 * state["m"] + (1 - beta1) * grad
    state["v"] = beta2 * state["v"] + (1 - beta2) * grad**2
    m_hat = state["m"] / (1 - beta1**t)
    v_hat = state["v"] / (1 - beta2**t)
    return param - lr * m_hat / (np.sqrt(v_hat) + 1e-8)
""",
)

_valid(
    "ch04_adam_step",
    "independent: textbook formulas, new arrays stored in the dict",
    """
def adam_step(param, grad, state, lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-8):
    t = state["t"] + 1
    m = beta1 * state["m"] + (1 - beta1) * grad
    v = beta2 * state["v"] + (1 - beta2) * grad * grad
    m_hat = m / (1 - beta1**t)
    v_hat = v / (1 - beta2**t)
    state["m"], state["v"], state["t"] = m, v, t
    return param - lr * m_hat / (np.sqrt(v_hat) + eps)
""",
)

_valid(
    "ch04_adam_step",
    "independent: torch-style: lerp for m, correction folded into lr and denominator",
    """
def adam_step(param, grad, state, lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-8):
    import math

    state["t"] = t = state["t"] + 1
    state["m"] = state["m"] + (1 - beta1) * (grad - state["m"])
    state["v"] = beta2 * state["v"] + (1 - beta2) * np.square(grad)
    denom = np.sqrt(state["v"]) / math.sqrt(1 - beta2**t) + eps
    return param - (lr / (1 - beta1**t)) * (state["m"] / denom)
""",
)

_valid(
    "ch04_adam_step",
    "independent: state arrays copied once, then updated in place; param copied before the step",
    """
def adam_step(param, grad, state, lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-8):
    m = np.array(state["m"], dtype=np.result_type(state["m"], grad), copy=True)
    v = np.array(state["v"], dtype=np.result_type(state["v"], grad), copy=True)
    m *= beta1
    m += (1 - beta1) * grad
    v *= beta2
    v += (1 - beta2) * grad**2
    state["t"] += 1
    state["m"], state["v"] = m, v
    correction1 = 1 - beta1 ** state["t"]
    correction2 = 1 - beta2 ** state["t"]
    new_param = np.array(param, copy=True)
    new_param -= lr * (m / correction1) / (np.sqrt(v / correction2) + eps)
    return new_param
""",
)

_mistake(
    "ch05_generate",
    "independent: samples with global np.random instead of the seeded generator",
    "two calls with the same seed (prompt [5, 7, 3], temperature=0.5,",
    """
from course_lib.checks.ch05 import reference_next_token_probs as next_token_probs
from course_lib.vocab import EOS_ID, UNK_ID
def generate(model, prompt_ids, max_new_tokens=20, temperature=0.0, top_k=None, seed=0):
    ids = list(prompt_ids)
    new = []
    while len(new) < max_new_tokens and len(ids) < model.config.max_seq_len:
        logits = np.array(model(np.array([ids]))[0, -1], dtype=float)
        logits[[model.config.pad_id, UNK_ID]] = -np.inf
        if temperature == 0:
            token = int(np.argmax(logits))
        else:
            p = next_token_probs(logits, temperature, top_k)
            token = int(np.random.choice(len(p), p=p))
        if token == EOS_ID:
            break
        new.append(token)
        ids.append(token)
    return new
""",
)

_mistake(
    "ch05_generate",
    "independent: new generator made inside the loop (same draw every step)",
    "a new random generator was made at every step: make it once, rng =",
    """
from course_lib.checks.ch05 import reference_next_token_probs as next_token_probs
from course_lib.vocab import EOS_ID, UNK_ID
def generate(model, prompt_ids, max_new_tokens=20, temperature=0.0, top_k=None, seed=0):
    ids = list(prompt_ids)
    new = []
    for _ in range(max_new_tokens):
        if len(ids) >= model.config.max_seq_len:
            break
        logits = np.array(model(np.array([ids]))[0, -1], dtype=float)
        logits[[model.config.pad_id, UNK_ID]] = -np.inf
        if temperature == 0:
            token = int(np.argmax(logits))
        else:
            rng = np.random.default_rng(seed)
            p = next_token_probs(logits, temperature, top_k)
            token = int(rng.choice(len(p), p=p))
        if token == EOS_ID:
            break
        new.append(token)
        ids.append(token)
    return new
""",
)

_mistake(
    "ch05_generate",
    "independent: </s> appended to the result before stopping",
    "</s> is in the result: stop when the model picks </s>, without",
    """
from course_lib.checks.ch05 import reference_next_token_probs as next_token_probs
from course_lib.vocab import EOS_ID, UNK_ID
def generate(model, prompt_ids, max_new_tokens=20, temperature=0.0, top_k=None, seed=0):
    rng = np.random.default_rng(seed)
    ids = list(prompt_ids)
    new = []
    for _ in range(max_new_tokens):
        if len(ids) >= model.config.max_seq_len:
            break
        logits = np.array(model(np.array([ids]))[0, -1], dtype=float)
        logits[[model.config.pad_id, UNK_ID]] = -np.inf
        if temperature == 0:
            token = int(np.argmax(logits))
        else:
            p = next_token_probs(logits, temperature, top_k)
            token = int(rng.choice(len(p), p=p))
        new.append(token)
        ids.append(token)
        if token == EOS_ID:
            break
    return new
""",
)

_mistake(
    "ch05_generate",
    "independent: no max_seq_len stop",
    "The model reads at most max_seq_len=12 tokens: stop when prompt and",
    """
from course_lib.checks.ch05 import reference_next_token_probs as next_token_probs
from course_lib.vocab import EOS_ID, UNK_ID
def generate(model, prompt_ids, max_new_tokens=20, temperature=0.0, top_k=None, seed=0):
    rng = np.random.default_rng(seed)
    ids = list(prompt_ids)
    new = []
    for _ in range(max_new_tokens):
        logits = np.array(model(np.array([ids]))[0, -1], dtype=float)
        logits[[model.config.pad_id, UNK_ID]] = -np.inf
        if temperature == 0:
            token = int(np.argmax(logits))
        else:
            p = next_token_probs(logits, temperature, top_k)
            token = int(rng.choice(len(p), p=p))
        if token == EOS_ID:
            break
        new.append(token)
        ids.append(token)
    return new
""",
)

_mistake(
    "ch05_generate",
    "independent: length limit off by one (model may be fed max_seq_len + 1 tokens)",
    "with a 3-token prompt and max_seq_len=12, at most 9 new tokens fit;",
    """
from course_lib.checks.ch05 import reference_next_token_probs as next_token_probs
from course_lib.vocab import EOS_ID, UNK_ID
def generate(model, prompt_ids, max_new_tokens=20, temperature=0.0, top_k=None, seed=0):
    rng = np.random.default_rng(seed)
    ids = list(prompt_ids)
    new = []
    while len(new) < max_new_tokens and len(ids) <= model.config.max_seq_len:
        logits = np.array(model(np.array([ids]))[0, -1], dtype=float)
        logits[[model.config.pad_id, UNK_ID]] = -np.inf
        if temperature == 0:
            token = int(np.argmax(logits))
        else:
            p = next_token_probs(logits, temperature, top_k)
            token = int(rng.choice(len(p), p=p))
        if token == EOS_ID:
            break
        new.append(token)
        ids.append(token)
    return new
""",
)

_mistake(
    "ch05_generate",
    "independent: drops top_k when sampling",
    "top_k=3 made no difference: the tokens are those of sampling from",
    """
from course_lib.checks.ch05 import reference_next_token_probs as next_token_probs
from course_lib.vocab import EOS_ID, UNK_ID
def generate(model, prompt_ids, max_new_tokens=20, temperature=0.0, top_k=None, seed=0):
    rng = np.random.default_rng(seed)
    ids = list(prompt_ids)
    new = []
    while len(new) < max_new_tokens and len(ids) < model.config.max_seq_len:
        logits = np.array(model(np.array([ids]))[0, -1], dtype=float)
        logits[[model.config.pad_id, UNK_ID]] = -np.inf
        if temperature == 0:
            token = int(np.argmax(logits))
        else:
            p = next_token_probs(logits, temperature)
            token = int(rng.choice(len(p), p=p))
        if token == EOS_ID:
            break
        new.append(token)
        ids.append(token)
    return new
""",
)

_mistake(
    "ch05_generate",
    "independent: applies temperature twice (logits divided before next_token_probs)",
    "the temperature was applied twice: next_token_probs already divides",
    """
from course_lib.checks.ch05 import reference_next_token_probs as next_token_probs
from course_lib.vocab import EOS_ID, UNK_ID
def generate(model, prompt_ids, max_new_tokens=20, temperature=0.0, top_k=None, seed=0):
    rng = np.random.default_rng(seed)
    ids = list(prompt_ids)
    new = []
    while len(new) < max_new_tokens and len(ids) < model.config.max_seq_len:
        logits = np.array(model(np.array([ids]))[0, -1], dtype=float)
        logits[[model.config.pad_id, UNK_ID]] = -np.inf
        if temperature == 0:
            token = int(np.argmax(logits))
        else:
            p = next_token_probs(logits / temperature, temperature, top_k)
            token = int(rng.choice(len(p), p=p))
        if token == EOS_ID:
            break
        new.append(token)
        ids.append(token)
    return new
""",
)

_mistake(
    "ch05_generate",
    "independent: no greedy branch: always samples, even at temperature 0",
    "At temperature 0 generation is greedy: take int(np.argmax(logits))",
    """
from course_lib.checks.ch05 import reference_next_token_probs as next_token_probs
from course_lib.vocab import EOS_ID, UNK_ID
def generate(model, prompt_ids, max_new_tokens=20, temperature=0.0, top_k=None, seed=0):
    rng = np.random.default_rng(seed)
    ids = list(prompt_ids)
    new = []
    while len(new) < max_new_tokens and len(ids) < model.config.max_seq_len:
        logits = np.array(model(np.array([ids]))[0, -1], dtype=float)
        logits[[model.config.pad_id, UNK_ID]] = -np.inf
        p = next_token_probs(logits, temperature, top_k)
        token = int(rng.choice(len(p), p=p))
        if token == EOS_ID:
            break
        new.append(token)
        ids.append(token)
    return new
""",
)

_mistake(
    "ch05_generate",
    "independent: limits checked after appending: max_new_tokens=0 still writes one token",
    "with max_new_tokens=0 expected no new token, [], got [3]: test the",
    """
from course_lib.checks.ch05 import reference_next_token_probs as next_token_probs
from course_lib.vocab import EOS_ID, UNK_ID
def generate(model, prompt_ids, max_new_tokens=20, temperature=0.0, top_k=None, seed=0):
    rng = np.random.default_rng(seed)
    ids = list(prompt_ids)
    new = []
    while True:
        logits = np.array(model(np.array([ids]))[0, -1], dtype=float)
        logits[[model.config.pad_id, UNK_ID]] = -np.inf
        if temperature == 0:
            token = int(np.argmax(logits))
        else:
            p = next_token_probs(logits, temperature, top_k)
            token = int(rng.choice(len(p), p=p))
        if token == EOS_ID:
            break
        new.append(token)
        ids.append(token)
        if len(new) >= max_new_tokens or len(ids) >= model.config.max_seq_len:
            break
    return new
""",
)

_mistake(
    "ch05_generate",
    "independent: appends to the caller's prompt list (output right, prompt_ids changed)",
    "generate changed the caller's prompt_ids (a small model (max_seq_len",
    """
from course_lib.checks.ch05 import reference_next_token_probs as next_token_probs
from course_lib.vocab import EOS_ID, UNK_ID
def generate(model, prompt_ids, max_new_tokens=20, temperature=0.0, top_k=None, seed=0):
    rng = np.random.default_rng(seed)
    ids = prompt_ids
    start = len(ids)
    while len(ids) - start < max_new_tokens and len(ids) < model.config.max_seq_len:
        logits = np.array(model(np.array([ids]))[0, -1], dtype=float)
        logits[[model.config.pad_id, UNK_ID]] = -np.inf
        if temperature == 0:
            token = int(np.argmax(logits))
        else:
            p = next_token_probs(logits, temperature, top_k)
            token = int(rng.choice(len(p), p=p))
        if token == EOS_ID:
            break
        ids.append(token)
    return ids[start:]
""",
)

_valid(
    "ch05_generate",
    "independent: while loop on a copy of the prompt",
    """
from course_lib.checks.ch05 import reference_next_token_probs as next_token_probs
from course_lib.vocab import EOS_ID, UNK_ID
def generate(model, prompt_ids, max_new_tokens=20, temperature=0.0, top_k=None, seed=0):
    rng = np.random.default_rng(seed)
    ids = list(prompt_ids)
    new = []
    while len(new) < max_new_tokens and len(ids) < model.config.max_seq_len:
        logits = np.array(model(np.array([ids]))[0, -1], dtype=float)
        logits[[model.config.pad_id, UNK_ID]] = -np.inf
        if temperature == 0:
            token = int(np.argmax(logits))
        else:
            p = next_token_probs(logits, temperature, top_k)
            token = int(rng.choice(len(p), p=p))
        if token == EOS_ID:
            break
        new.append(token)
        ids.append(token)
    return new
""",
)

_valid(
    "ch05_generate",
    "independent: room computed up front, for loop over it, prompt + new concatenated each step",
    """
from course_lib.checks.ch05 import reference_next_token_probs as next_token_probs
from course_lib.vocab import EOS_ID, UNK_ID
def generate(model, prompt_ids, max_new_tokens=20, temperature=0.0, top_k=None, seed=0):
    rng = np.random.default_rng(seed)
    prompt = [int(i) for i in prompt_ids]
    room = max(0, min(max_new_tokens, model.config.max_seq_len - len(prompt)))
    new = []
    for _ in range(room):
        logits = np.array(np.asarray(model(np.array([prompt + new])))[0, -1], dtype=float)
        logits[[model.config.pad_id, UNK_ID]] = -np.inf
        if not temperature:
            token = int(logits.argmax())
        else:
            probs = next_token_probs(logits, temperature, top_k)
            token = int(rng.choice(probs.size, p=probs))
        if token == EOS_ID:
            return new
        new.append(token)
    return new
""",
)

_valid(
    "ch05_generate",
    "independent: numpy array of ids grown with np.append, helper for picking",
    """
from course_lib.checks.ch05 import reference_next_token_probs as next_token_probs
from course_lib.vocab import EOS_ID, UNK_ID
def generate(model, prompt_ids, max_new_tokens=20, temperature=0.0, top_k=None, seed=0):
    rng = np.random.default_rng(seed)
    limit = model.config.max_seq_len

    def pick(logits):
        logits = np.array(logits, dtype=float)
        logits[[model.config.pad_id, UNK_ID]] = -np.inf
        if temperature == 0:
            return int(np.argmax(logits))
        p = next_token_probs(logits, temperature, top_k)
        return int(rng.choice(len(p), p=p))

    ids = np.asarray(prompt_ids, dtype=np.int64)
    out = []
    while len(out) < max_new_tokens and ids.size < limit:
        token = pick(model(ids[None, :])[0, -1])
        if token == EOS_ID:
            break
        out.append(token)
        ids = np.append(ids, token)
    return out
""",
)

_mistake(
    "ch05_llm_forward",
    "independent: positions missing",
    "the position embeddings are missing: x = token_table[ids] +",
    """
from course_lib.checks.ch03 import reference_block_forward as block_forward
from course_lib.checks.ch03 import reference_layer_norm as layer_norm
def llm_forward(ids, params, config):
    x = params["embeddings.token.weight"][ids]
    for i in range(config["n_layers"]):
        prefix = f"blocks.{i}."
        block = {k.removeprefix(prefix): v for k, v in params.items() if k.startswith(prefix)}
        x = block_forward(x, block, config["n_heads"], config["norm"], config["layer_norm_eps"])
    if config["norm"] == "pre":
        x = layer_norm(x, params["final_norm.weight"], params["final_norm.bias"],
                       config["layer_norm_eps"])
    return x @ params["output.weight"].T + params["output.bias"]
""",
)

_mistake(
    "ch05_llm_forward",
    "independent: positions looked up by token id",
    "the position table was indexed by token id: position t gets row t,",
    """
from course_lib.checks.ch03 import reference_block_forward as block_forward
from course_lib.checks.ch03 import reference_layer_norm as layer_norm
def llm_forward(ids, params, config):
    x = params["embeddings.token.weight"][ids] + params["embeddings.position.weight"][ids]
    for i in range(config["n_layers"]):
        prefix = f"blocks.{i}."
        block = {k.removeprefix(prefix): v for k, v in params.items() if k.startswith(prefix)}
        x = block_forward(x, block, config["n_heads"], config["norm"], config["layer_norm_eps"])
    if config["norm"] == "pre":
        x = layer_norm(x, params["final_norm.weight"], params["final_norm.bias"],
                       config["layer_norm_eps"])
    return x @ params["output.weight"].T + params["output.bias"]
""",
)

_mistake(
    "ch05_llm_forward",
    "independent: positions added after the blocks",
    "the position embeddings were added after the blocks: add them to the",
    """
from course_lib.checks.ch03 import reference_block_forward as block_forward
from course_lib.checks.ch03 import reference_layer_norm as layer_norm
def llm_forward(ids, params, config):
    T = ids.shape[1]
    x = params["embeddings.token.weight"][ids]
    for i in range(config["n_layers"]):
        prefix = f"blocks.{i}."
        block = {k.removeprefix(prefix): v for k, v in params.items() if k.startswith(prefix)}
        x = block_forward(x, block, config["n_heads"], config["norm"], config["layer_norm_eps"])
    x = x + params["embeddings.position.weight"][:T]
    if config["norm"] == "pre":
        x = layer_norm(x, params["final_norm.weight"], params["final_norm.bias"],
                       config["layer_norm_eps"])
    return x @ params["output.weight"].T + params["output.bias"]
""",
)

_mistake(
    "ch05_llm_forward",
    "independent: blocks run in reverse order",
    "the blocks ran in reverse order: block 0 first, then block 1, ...",
    """
from course_lib.checks.ch03 import reference_block_forward as block_forward
from course_lib.checks.ch03 import reference_layer_norm as layer_norm
def llm_forward(ids, params, config):
    T = ids.shape[1]
    x = params["embeddings.token.weight"][ids] + params["embeddings.position.weight"][:T]
    for i in reversed(range(config["n_layers"])):
        prefix = f"blocks.{i}."
        block = {k.removeprefix(prefix): v for k, v in params.items() if k.startswith(prefix)}
        x = block_forward(x, block, config["n_heads"], config["norm"], config["layer_norm_eps"])
    if config["norm"] == "pre":
        x = layer_norm(x, params["final_norm.weight"], params["final_norm.bias"],
                       config["layer_norm_eps"])
    return x @ params["output.weight"].T + params["output.bias"]
""",
)

_mistake(
    "ch05_llm_forward",
    "independent: every block uses block 0's weights (prefix built outside the loop)",
    "every block used block 0's weights: block i reads the keys starting",
    """
from course_lib.checks.ch03 import reference_block_forward as block_forward
from course_lib.checks.ch03 import reference_layer_norm as layer_norm
def llm_forward(ids, params, config):
    T = ids.shape[1]
    x = params["embeddings.token.weight"][ids] + params["embeddings.position.weight"][:T]
    prefix = "blocks.0."
    block = {k.removeprefix(prefix): v for k, v in params.items() if k.startswith(prefix)}
    for i in range(config["n_layers"]):
        x = block_forward(x, block, config["n_heads"], config["norm"], config["layer_norm_eps"])
    if config["norm"] == "pre":
        x = layer_norm(x, params["final_norm.weight"], params["final_norm.bias"],
                       config["layer_norm_eps"])
    return x @ params["output.weight"].T + params["output.bias"]
""",
)

_mistake(
    "ch05_llm_forward",
    "independent: final norm missing for pre-norm (right for post-norm)",
    "the final norm is missing: a pre-norm model normalizes the stream",
    """
from course_lib.checks.ch03 import reference_block_forward as block_forward
from course_lib.checks.ch03 import reference_layer_norm as layer_norm
def llm_forward(ids, params, config):
    T = ids.shape[1]
    x = params["embeddings.token.weight"][ids] + params["embeddings.position.weight"][:T]
    for i in range(config["n_layers"]):
        prefix = f"blocks.{i}."
        block = {k.removeprefix(prefix): v for k, v in params.items() if k.startswith(prefix)}
        x = block_forward(x, block, config["n_heads"], config["norm"], config["layer_norm_eps"])
    return x @ params["output.weight"].T + params["output.bias"]
""",
)

_mistake(
    "ch05_llm_forward",
    "independent: final norm indented into the loop: applied after every block (pre-norm)",
    "the final norm ran after every block: it runs once, after the loop",
    """
from course_lib.checks.ch03 import reference_block_forward as block_forward
from course_lib.checks.ch03 import reference_layer_norm as layer_norm
def llm_forward(ids, params, config):
    T = ids.shape[1]
    x = params["embeddings.token.weight"][ids] + params["embeddings.position.weight"][:T]
    for i in range(config["n_layers"]):
        prefix = f"blocks.{i}."
        block = {k.removeprefix(prefix): v for k, v in params.items() if k.startswith(prefix)}
        x = block_forward(x, block, config["n_heads"], config["norm"], config["layer_norm_eps"])
        if config["norm"] == "pre":
            x = layer_norm(x, params["final_norm.weight"], params["final_norm.bias"],
                           config["layer_norm_eps"])
    return x @ params["output.weight"].T + params["output.bias"]
""",
)

_mistake(
    "ch05_llm_forward",
    "independent: output bias forgotten (right while the bias is zero)",
    "the output bias is missing: logits = x @ W.T + b.",
    """
from course_lib.checks.ch03 import reference_block_forward as block_forward
from course_lib.checks.ch03 import reference_layer_norm as layer_norm
def llm_forward(ids, params, config):
    T = ids.shape[1]
    x = params["embeddings.token.weight"][ids] + params["embeddings.position.weight"][:T]
    for i in range(config["n_layers"]):
        prefix = f"blocks.{i}."
        block = {k.removeprefix(prefix): v for k, v in params.items() if k.startswith(prefix)}
        x = block_forward(x, block, config["n_heads"], config["norm"], config["layer_norm_eps"])
    if config["norm"] == "pre":
        x = layer_norm(x, params["final_norm.weight"], params["final_norm.bias"],
                       config["layer_norm_eps"])
    return x @ params["output.weight"].T
""",
)

_mistake(
    "ch05_llm_forward",
    "independent: n_heads and norm not passed to block_forward (right for 1 head, post-norm)",
    "the blocks ran with one head: pass config['n_heads'] (2) to",
    """
from course_lib.checks.ch03 import reference_block_forward as block_forward
from course_lib.checks.ch03 import reference_layer_norm as layer_norm
def llm_forward(ids, params, config):
    T = ids.shape[1]
    x = params["embeddings.token.weight"][ids] + params["embeddings.position.weight"][:T]
    for i in range(config["n_layers"]):
        prefix = f"blocks.{i}."
        block = {k.removeprefix(prefix): v for k, v in params.items() if k.startswith(prefix)}
        x = block_forward(x, block)
    if config["norm"] == "pre":
        x = layer_norm(x, params["final_norm.weight"], params["final_norm.bias"],
                       config["layer_norm_eps"])
    return x @ params["output.weight"].T + params["output.bias"]
""",
)

_mistake(
    "ch05_llm_forward",
    "independent: number of blocks hard-coded to 3 (right for the default config)",
    "block_forward got the weights of a block the model does not have:",
    """
from course_lib.checks.ch03 import reference_block_forward as block_forward
from course_lib.checks.ch03 import reference_layer_norm as layer_norm
def llm_forward(ids, params, config):
    T = ids.shape[1]
    x = params["embeddings.token.weight"][ids] + params["embeddings.position.weight"][:T]
    for i in range(3):
        prefix = f"blocks.{i}."
        block = {k.removeprefix(prefix): v for k, v in params.items() if k.startswith(prefix)}
        x = block_forward(x, block, config["n_heads"], config["norm"], config["layer_norm_eps"])
    if config["norm"] == "pre":
        x = layer_norm(x, params["final_norm.weight"], params["final_norm.bias"],
                       config["layer_norm_eps"])
    return x @ params["output.weight"].T + params["output.bias"]
""",
)

_valid(
    "ch05_llm_forward",
    "independent: loop over blocks with a dict comprehension per prefix",
    """
from course_lib.checks.ch03 import reference_block_forward as block_forward
from course_lib.checks.ch03 import reference_layer_norm as layer_norm
def llm_forward(ids, params, config):
    ids = np.asarray(ids)
    time = ids.shape[1]
    eps = config["layer_norm_eps"]
    x = params["embeddings.token.weight"][ids] + params["embeddings.position.weight"][:time]
    for i in range(config["n_layers"]):
        prefix = f"blocks.{i}."
        block_params = {
            key.removeprefix(prefix): value for key, value in params.items()
            if key.startswith(prefix)
        }
        x = block_forward(x, block_params, config["n_heads"], config["norm"], eps)
    if config["norm"] == "pre":
        x = layer_norm(x, params["final_norm.weight"], params["final_norm.bias"], eps)
    return x @ params["output.weight"].T + params["output.bias"]
""",
)

_valid(
    "ch05_llm_forward",
    "independent: keys grouped by block in one pass, np.take and einsum",
    """
from course_lib.checks.ch03 import reference_block_forward as block_forward
from course_lib.checks.ch03 import reference_layer_norm as layer_norm
def llm_forward(ids, params, config):
    ids = np.asarray(ids)
    groups = {}
    for key, value in params.items():
        if key.startswith("blocks."):
            _, index, rest = key.split(".", 2)
            groups.setdefault(int(index), {})[rest] = value
    x = np.take(params["embeddings.token.weight"], ids, axis=0)
    x = x + params["embeddings.position.weight"][: ids.shape[-1]][None]
    for index in sorted(groups):
        x = block_forward(x, groups[index], config["n_heads"], config["norm"],
                          config["layer_norm_eps"])
    if config["norm"] == "pre":
        x = layer_norm(x, params["final_norm.weight"], params["final_norm.bias"],
                       config["layer_norm_eps"])
    return np.einsum("btd,vd->btv", x, params["output.weight"]) + params["output.bias"]
""",
)

_valid(
    "ch05_llm_forward",
    "independent: tied output weights handled, one-hot matmul for the token lookup",
    """
from course_lib.checks.ch03 import reference_block_forward as block_forward
from course_lib.checks.ch03 import reference_layer_norm as layer_norm
def llm_forward(ids, params, config):
    ids = np.asarray(ids)
    B, T = ids.shape
    token_table = params["embeddings.token.weight"]
    one_hot = np.zeros((B, T, token_table.shape[0]), dtype=token_table.dtype)
    np.put_along_axis(one_hot, ids[..., None], 1, axis=-1)
    x = one_hot @ token_table + params["embeddings.position.weight"][np.arange(T)]
    for i in range(config["n_layers"]):
        prefix = "blocks." + str(i) + "."
        block_params = {k[len(prefix):]: v for k, v in params.items() if k.startswith(prefix)}
        x = block_forward(x, block_params, n_heads=config["n_heads"], norm=config["norm"],
                          eps=config["layer_norm_eps"])
    if config["norm"] == "pre":
        x = layer_norm(x, params["final_norm.weight"], params["final_norm.bias"],
                       eps=config["layer_norm_eps"])
    w_out = params.get("output.weight", token_table)
    return x @ w_out.T + params["output.bias"]
""",
)


def merge(corpus: dict[str, Answers]) -> None:
    """Add these answers to a corpus module's `CORPUS`, for the exercises it holds."""
    for grade_id, answers in corpus.items():
        answers.valid.update(VALID.get(grade_id, {}))
        answers.mistakes.update(MISTAKES.get(grade_id, {}))
