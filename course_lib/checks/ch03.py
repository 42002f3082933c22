"""Checks for chapter 03, The transformer block: softmax, causal attention, heads, layer norm, and
the backward passes of layer norm and attention.

Each check tries the learner's function on small float64 cases, compares it with the usual wrong
answers first (so the hint can name the mistake), then with the right answer, and for backward
passes with finite differences (`course_lib.gradcheck`).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import numpy as np

from course_lib.checks import CheckFailed, Exercise, call_catching, expect
from course_lib.checks import call_learner as _call
from course_lib.checks._common import (
    array_result,
    close,
    expect_shape,
    expect_unchanged,
    gradcheck,
    sequence_result,
    snapshot,
)
from course_lib.numpy.attention import softmax as _library_softmax

__all__ = [
    "attention_backward",
    "causal_attention",
    "layer_norm",
    "layer_norm_backward",
    "reference_attention_backward",
    "reference_causal_attention",
    "reference_layer_norm",
    "reference_layer_norm_backward",
    "reference_softmax",
    "reference_split_heads",
    "softmax",
    "split_heads",
]


# ----------------------------------------------------------------------------- references


def reference_softmax(x: np.ndarray, axis: int = -1) -> np.ndarray:
    """exp(x) / sum(exp(x)) along `axis`, computed without overflow."""
    x = np.asarray(x, dtype=float)
    shifted = x - np.max(x, axis=axis, keepdims=True)  # the largest entry becomes exp(0) = 1
    e = np.exp(shifted)
    return e / np.sum(e, axis=axis, keepdims=True)


def _causal_mask(t: int) -> np.ndarray:
    """(t, t) boolean, True where position i may not look at position j (j > i)."""
    return np.triu(np.ones((t, t), dtype=bool), k=1)


def reference_causal_attention(
    q: np.ndarray, k: np.ndarray, v: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Causal scaled dot-product attention on (..., T, d) arrays: returns (out, weights)."""
    d = q.shape[-1]
    scores = q @ np.swapaxes(k, -1, -2) / np.sqrt(d)  # (..., T, T)
    scores = np.where(_causal_mask(q.shape[-2]), -np.inf, scores)
    weights = reference_softmax(scores, axis=-1)  # (..., T, T), rows sum to 1
    return weights @ v, weights  # (..., T, d), (..., T, T)


def reference_split_heads(x: np.ndarray, n_heads: int) -> np.ndarray:
    """(batch, time, d_model) -> (batch, heads, time, d_model // heads)."""
    b, t, d = x.shape
    if d % n_heads:
        raise ValueError(f"d_model ({d}) must be divisible by n_heads ({n_heads})")
    return x.reshape(b, t, n_heads, d // n_heads).transpose(0, 2, 1, 3)


def reference_layer_norm(
    x: np.ndarray, gamma: np.ndarray, beta: np.ndarray, eps: float = 1e-5
) -> np.ndarray:
    """Normalize each position's features to mean 0, variance 1, then scale and shift."""
    mean = x.mean(axis=-1, keepdims=True)  # (..., 1)
    var = x.var(axis=-1, keepdims=True)  # (..., 1), population variance
    return gamma * (x - mean) / np.sqrt(var + eps) + beta


def reference_layer_norm_backward(
    grad_out: np.ndarray, x: np.ndarray, gamma: np.ndarray, eps: float = 1e-5
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Gradients of layer norm with respect to x, gamma and beta."""
    mean = x.mean(axis=-1, keepdims=True)
    std = np.sqrt(x.var(axis=-1, keepdims=True) + eps)  # (..., 1)
    x_hat = (x - mean) / std  # (..., d)
    g = grad_out * gamma  # gradient with respect to x_hat
    dx = g - g.mean(axis=-1, keepdims=True) - x_hat * (g * x_hat).mean(axis=-1, keepdims=True)
    dx /= std
    lead = tuple(range(x.ndim - 1))  # every axis but the features
    return dx, np.sum(grad_out * x_hat, axis=lead), np.sum(grad_out, axis=lead)


def reference_attention_backward(
    grad_out: np.ndarray, q: np.ndarray, k: np.ndarray, v: np.ndarray, weights: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Gradients of causal attention's output with respect to q, k and v."""
    scale = 1.0 / np.sqrt(q.shape[-1])
    dv = np.swapaxes(weights, -1, -2) @ grad_out  # (..., T, d)
    d_weights = grad_out @ np.swapaxes(v, -1, -2)  # (..., T, T)
    # Softmax backward, row by row; masked entries have weight 0, so their gradient is 0 too.
    d_scores = weights * (d_weights - np.sum(d_weights * weights, axis=-1, keepdims=True))
    dq = d_scores @ k * scale
    dk = np.swapaxes(d_scores, -1, -2) @ q * scale
    return dq, dk, dv


# ----------------------------------------------------------------------------- helpers


def _tuple(value: Any, n: int, what: str, names: str) -> tuple[np.ndarray, ...]:
    """A tuple of `n` arrays, or a hint naming what the function must return."""
    return tuple(array_result(part, what) for part in sequence_result(value, n, what, names))


def _order_hint(
    got: tuple[Any, ...], right: tuple[np.ndarray, ...], names: tuple[str, ...], what: str
) -> str:
    """'' unless `got` holds the right gradients in another order; then a hint naming it."""
    if len(got) != len(right):
        return ""
    found = []
    for value in got:
        match = [
            n
            for n, (name, r) in enumerate(zip(names, right, strict=True))
            if np.shape(value) == r.shape and close(value, r) and n not in found
        ]
        if not match:
            return ""
        found.append(match[0])
    if found == list(range(len(names))):
        return ""
    returned = ", ".join(names[n] for n in found)
    return (
        f"{what} returned the right gradients in the wrong order, ({returned}): return them "
        f"as ({', '.join(names)})."
    )


def _call_or_explain_shape(
    fn: Callable[..., Any], what: str, shape_text: str, hint: str, *args: np.ndarray
) -> Any:
    """`fn(*args)`; when it raised, a CheckFailed naming the shape (`shape_text`), plus `hint`
    when the error is a ValueError or an IndexError (what a wrong reading of the shapes gives)."""
    result, raised = call_catching(fn, *args)
    if raised is None:
        return result
    if not (raised.is_a("ValueError") or raised.is_a("IndexError")):
        raise CheckFailed(f"{what} raised {raised} on {shape_text}.")
    raise CheckFailed(f"{hint} ({what} raised {raised} on {shape_text}.)")


def _call_any_rank(fn: Callable[..., Any], what: str, *args: np.ndarray) -> Any:
    """`fn(*args)`, with a hint on batched shapes when it raised on 2-D, 3-D or 4-D input."""
    return _call_or_explain_shape(
        fn, what, f"inputs of shape {args[0].shape}",
        "The text promises arrays of shape (..., time, d): one sequence (time, d), a batch "
        "(batch, time, d) and later heads (batch, heads, time, d). Transpose only the last two "
        "axes, np.swapaxes(a, -1, -2), never .T or transpose(0, 2, 1), and take the sizes from "
        "the end (q.shape[-2], q.shape[-1]).",
        *args,
    )  # fmt: skip


# ----------------------------------------------------------------------------- exercise 3.1


def _test_softmax(fn: Callable[..., np.ndarray]) -> int:
    rng = np.random.default_rng(31)
    x = rng.normal(size=(3, 5))
    before = x.copy()
    out = array_result(_call(fn, x), "softmax")
    expect_shape(out, x.shape, "softmax", "one probability per input number.")
    expect(np.array_equal(x, before), "softmax changed its input: compute into a new array.")
    if not close(out, reference_softmax(x)):
        # The call above left `axis` to the signature, as the chapter's calls do.
        explicit = array_result(_call(fn, x, axis=-1), "softmax")
        along = next((a for a in range(x.ndim) if close(out, reference_softmax(x, axis=a))), None)
        did = "differs from" if along is None else f"normalized along axis {along}, unlike"
        expect(
            not close(explicit, reference_softmax(x)),
            f"called without `axis`, softmax(x) {did} softmax(x, axis=-1), which is right: keep "
            "the signature's default, axis=-1 (the last axis), which the chapter relies on (it "
            "calls softmax(scores)).",
        )
    expect(
        np.allclose(out.sum(axis=-1), 1.0),
        "the rows do not sum to 1: sum the exponentials along `axis` with keepdims=True (not over "
        "the whole array), so each row is divided by its own total.",
    )
    expect(close(out, reference_softmax(x)), "softmax(x) is not exp(x) / sum(exp(x)) row by row.")

    big = np.array([[1000.0, 1001.0, 1002.0]])
    out = array_result(_call(fn, big), "softmax")
    expect(
        bool(np.all(np.isfinite(out))),
        "softmax of large logits like [1000, 1001, 1002] gives nan or inf: exp(1000) overflows. "
        "Subtract the max of each row first (x - x.max(axis, keepdims=True)); the answer is the "
        "same, since softmax(x) = softmax(x - c).",
    )
    expect(close(out, reference_softmax(big)), "softmax([1000, 1001, 1002]) is wrong.")

    spread = np.array([[1000.0, 1001.0], [0.0, 1.0]])
    out = array_result(_call(fn, spread), "softmax")
    expect(
        close(out, reference_softmax(spread)),
        "rows of very different size break your softmax: subtract each row's own max "
        "(keepdims=True), not the max of the whole array - a row far below it underflows to 0/0.",
    )

    masked = np.array([[0.5, -np.inf, -np.inf], [0.1, 0.2, -np.inf]])
    out = array_result(_call(fn, masked), "softmax")
    expect(
        close(out, reference_softmax(masked)),
        "a score of -inf (a masked position) must get probability exactly 0.",
    )

    cube = rng.normal(size=(2, 3, 4))
    out = array_result(_call(fn, cube, axis=1), "softmax")
    expect(
        close(out, reference_softmax(cube, axis=1)),
        "softmax(x, axis=1) should normalize along axis 1: use the `axis` argument in the max "
        "and in the sum.",
    )
    return 8


softmax = Exercise(
    "ch03_softmax",
    "softmax",
    _library_softmax,
    _test_softmax,
    points=1,
    doc="Check exercise 3.1: a numerically stable softmax.",
)


# ----------------------------------------------------------------------------- exercise 3.2


def _attention_variants(
    q: np.ndarray, k: np.ndarray, v: np.ndarray
) -> list[tuple[np.ndarray, str]]:
    """The usual wrong attention weights, each with the hint that names its mistake."""
    d = q.shape[-1]
    future = _causal_mask(q.shape[-2])
    raw = q @ np.swapaxes(k, -1, -2)  # (..., T, T), unscaled scores
    scaled = raw / np.sqrt(d)
    masked = np.where(future, -np.inf, scaled)
    after = reference_softmax(scaled, axis=-1)
    scale_hint = (
        "the scores are not scaled right: divide q @ k.T by sqrt(d) (d = {d}, the width of q), "
        "not by {by}. Without 1/sqrt(d) the scores grow with d and the softmax saturates."
    )
    return [
        (
            np.where(future, 0.0, after),
            "the mask was applied after the softmax: the rows no longer sum to 1. Mask the "
            "scores first (future scores = -inf), then take the softmax, so the remaining "
            "weights share the whole probability.",
        ),
        (
            reference_softmax(masked, axis=-2),
            "the softmax ran over the query axis (axis=-2), so each column sums to 1. Each "
            "query's row of weights is a distribution over the keys: softmax over the last "
            "axis (axis=-1).",
        ),
        (
            reference_softmax(np.where(future, 0.0, scaled), axis=-1),
            "positions attend to the future: the future scores were set to 0, but exp(0) = 1 "
            "still gives them weight. Set them to -inf before the softmax.",
        ),
        (after, "positions attend to the future: weights[i, j] for j > i must be 0."),
        (
            reference_softmax(np.where(future, -np.inf, raw), axis=-1),
            scale_hint.format(d=d, by=1),
        ),
        (
            reference_softmax(np.where(future, -np.inf, raw / d), axis=-1),
            scale_hint.format(d=d, by=d),
        ),
    ]


def _test_causal_attention(fn: Callable[..., tuple[np.ndarray, np.ndarray]]) -> int:
    rng = np.random.default_rng(32)
    checks = 0
    # One sequence, a batch and a batch of heads: the text promises (..., time, d).
    for shape in ((5, 16), (2, 6, 16), (2, 3, 4, 8)):
        # Large q and k: scaling then matters a lot, and the 1/sqrt(d) mistake cannot hide.
        q, k, v = (rng.normal(size=shape) * 1.5 for _ in range(3))
        t = shape[-2]
        before = snapshot(q, k, v)
        result = _call_any_rank(fn, "causal_attention", q, k, v)
        expect_unchanged("causal_attention", ("q", "k", "v"), before, (q, k, v))
        out, weights = _tuple(result, 2, "causal_attention", "out, weights")
        expect_shape(
            weights,
            shape[:-1] + (t,),
            "causal_attention's weights",
            "one row per query position, one column per key position, (..., time, time).",
        )
        expect_shape(out, shape, "causal_attention's out", "one d-vector per position, like v.")
        future = _causal_mask(t)
        expect(
            not np.any(np.isneginf(weights)),
            "some weights are -inf: the mask goes on the scores before the softmax, and the "
            "softmax turns -inf into a weight of exactly 0.",
        )
        expect(
            bool(np.all(np.isfinite(weights))),
            "some weights are nan: does a row have every score masked? A token may look at "
            "itself, so mask only j > i (np.triu(..., k=1)), keeping the diagonal.",
        )
        expected_out, expected_weights = reference_causal_attention(q, k, v)
        if not close(weights, expected_weights):
            for wrong, hint in _attention_variants(q, k, v):
                expect(not close(weights, wrong), hint)
            expect(
                bool(np.all(np.abs(weights[..., future]) < 1e-12)),
                "positions attend to the future: weights[i, j] for j > i must be 0. Set those "
                "scores to -inf before the softmax.",
            )
            expect(
                np.allclose(weights.sum(axis=-1), 1.0),
                "the rows of the weights do not sum to 1: each row is the softmax, over the last "
                "axis, of one query's masked scores.",
            )
            expect(
                False,
                "the weights are wrong: softmax over the masked scores q @ k.T / sqrt(d), with "
                "k transposed in its last two axes (np.swapaxes(k, -1, -2)) so batches work too.",
            )
        expect(
            close(out, expected_out),
            "the weights are right but out is not: out = weights @ v.",
        )
        checks += 6
    return checks


causal_attention = Exercise(
    "ch03_causal_attention",
    "causal_attention",
    reference_causal_attention,
    _test_causal_attention,
    points=2,
    doc="Check exercise 3.2: causal scaled dot-product attention.",
)


# ----------------------------------------------------------------------------- exercise 3.3


def _test_split_heads(fn: Callable[[np.ndarray, int], np.ndarray]) -> int:
    b, t, d, h = 2, 3, 8, 4
    x = np.arange(b * t * d, dtype=float).reshape(b, t, d)
    before = snapshot(x)
    out = array_result(_call(fn, x, h), "split_heads")
    expect_unchanged("split_heads", ("x",), before, (x,))
    expect_shape(
        out,
        (b, h, t, d // h),
        "split_heads",
        "(batch, heads, time, d_model // heads), so each head is a (time, head_dim) block.",
    )
    expect(
        not np.array_equal(out, x.reshape(b, h, t, d // h)),
        "reshaping straight to (batch, heads, time, head_dim) mixes positions into heads. "
        "Reshape to (batch, time, heads, head_dim) first - each position's vector cut into "
        "pieces - then swap the heads and time axes (transpose(0, 2, 1, 3)).",
    )
    expect(
        not np.array_equal(out, x.reshape(b, t, d // h, h).transpose(0, 3, 1, 2)),
        "each head took every n_heads-th column: a head is a contiguous block of head_dim "
        "columns. Reshape to (batch, time, heads, head_dim), not (batch, time, head_dim, heads).",
    )
    for head in range(h):
        expect(
            np.array_equal(out[:, head], x[:, :, head * (d // h) : (head + 1) * (d // h)]),
            f"head {head} should hold columns {head * (d // h)}..{(head + 1) * (d // h) - 1} of "
            "every position's vector.",
        )
    return 2 + h


split_heads = Exercise(
    "ch03_split_heads",
    "split_heads",
    reference_split_heads,
    _test_split_heads,
    points=1,
    doc="Check exercise 3.3: cutting d_model into heads.",
)


# ----------------------------------------------------------------------------- exercise 3.4


def _layer_norm_variants(
    x: np.ndarray, gamma: np.ndarray, beta: np.ndarray, eps: float
) -> list[tuple[np.ndarray, str]]:
    """The usual wrong layer norms, each with the hint that names its mistake."""
    centred = x - x.mean(axis=-1, keepdims=True)
    x_hat = centred / np.sqrt(x.var(axis=-1, keepdims=True) + eps)
    with np.errstate(divide="ignore", invalid="ignore"):
        no_eps = centred / x.std(axis=-1, keepdims=True)
    batch_axis = (x - x.mean(axis=0)) / np.sqrt(x.var(axis=0) + eps)
    sample = centred / np.sqrt(x.var(axis=-1, ddof=1, keepdims=True) + eps)
    return [
        (x_hat, "gamma and beta are missing: out = gamma * x_hat + beta."),
        (x_hat * beta + gamma, "gamma and beta are swapped: out = gamma * x_hat + beta."),
        (
            batch_axis * gamma + beta,
            "you normalized over the batch axis: layer norm normalizes each position's own "
            "features, over the last axis (axis=-1, keepdims=True).",
        ),
        (
            sample * gamma + beta,
            "use the plain (population) variance, np.var(..., ddof=0), not the sample variance.",
        ),
        (
            no_eps * gamma + beta,
            "eps is missing: divide by sqrt(var + eps). Without it a row whose entries are all "
            "equal (variance 0) divides by 0.",
        ),
        (
            centred / (x.std(axis=-1, keepdims=True) + eps) * gamma + beta,
            "eps belongs inside the square root: divide by sqrt(var + eps), not std + eps.",
        ),
    ]


def _test_layer_norm(fn: Callable[..., np.ndarray]) -> int:
    rng = np.random.default_rng(34)
    d = 6
    gamma = rng.normal(size=d)
    beta = rng.normal(size=d)
    x = rng.normal(size=(2, 4, d)) * 3.0 + 2.0  # mean far from 0, std far from 1
    # A large eps makes its place visible; a constant row shows whether it is there at all.
    small = rng.normal(size=(3, d)) * 0.3
    small[2] = 1.5  # a constant row: variance 0
    checks = 0
    for data, eps in ((x, 1e-5), (small, 0.5)):
        before = snapshot(data, gamma, beta)
        out = array_result(_call(fn, data, gamma, beta, eps=eps), "layer_norm")
        expect_unchanged("layer_norm", ("x", "gamma", "beta"), before, (data, gamma, beta))
        expect_shape(out, data.shape, "layer_norm", "the same shape as x.")
        if not close(out, reference_layer_norm(data, gamma, beta, eps)):
            for wrong, hint in _layer_norm_variants(data, gamma, beta, eps):
                expect(not close(out, wrong), hint)
            expect(
                bool(np.all(np.isfinite(out))),
                "a row whose entries are all equal (variance 0) gives nan: eps belongs inside "
                "the square root, sqrt(var + eps), so the division is always safe.",
            )
            expect(
                False,
                f"layer_norm(x, gamma, beta, eps={eps:g}) is wrong: x_hat = (x - mean) / "
                "sqrt(var + eps) over the last axis, then gamma * x_hat + beta. Does your "
                "function use its `eps` argument?",
            )
        checks += 2
    # The chapter calls layer_norm(x, gamma, beta) and relies on the default. Rows of variance
    # about 0.1, where eps = 1e-5 moves the result well beyond rounding.
    varied = rng.normal(size=(3, d)) * 0.3
    out = array_result(_call(fn, varied, gamma, beta), "layer_norm")
    if not close(out, reference_layer_norm(varied, gamma, beta)):
        given = array_result(_call(fn, varied, gamma, beta, eps=1e-5), "layer_norm")
        expect(
            not close(given, reference_layer_norm(varied, gamma, beta)),
            "called without eps, layer_norm(x, gamma, beta) differs from layer_norm(x, gamma, "
            "beta, eps=1e-5), which is right: keep the signature's default, eps=1e-5 (the "
            "library's LayerNorm's), which the chapter relies on.",
        )
        expect(False, "layer_norm(x, gamma, beta, eps=1e-5) is wrong on rows of small variance.")
    return checks + 1


layer_norm = Exercise(
    "ch03_layer_norm",
    "layer_norm",
    reference_layer_norm,
    _test_layer_norm,
    points=1,
    doc="Check exercise 3.4: layer norm forward.",
)


# ----------------------------------------------------------------------------- exercise 3.5


def _layer_norm_dx_variants(
    grad_out: np.ndarray, x: np.ndarray, gamma: np.ndarray, eps: float
) -> list[tuple[np.ndarray, str, str]]:
    """The usual wrong dx, each with its hint: (dx, hint with the formula, hint for the
    derive-it exercise, which names the wrong step without printing the formula)."""
    d = x.shape[-1]
    mean = x.mean(-1, keepdims=True)
    centred = x - mean
    std = np.sqrt(x.var(-1, keepdims=True) + eps)
    x_hat = centred / std
    g = grad_out * gamma
    g_mean = g.mean(-1, keepdims=True)
    var_term = x_hat * (g * x_hat).mean(-1, keepdims=True)
    x_hat_hint = (
        "dx uses the normalized x where x - mean belongs: the variance's gradient is "
        "dvar = sum(g * (x - mean)) * -0.5 * (var + eps) ** -1.5, and it reaches x through "
        "2 * (x - mean) / d. Use x - mean in both places, not x_hat."
    )
    # The three paths, as a derivation writes them: direct, through var, through the mean.
    d_var = np.sum(g * centred, axis=-1, keepdims=True) * -0.5 * std**-3
    d_mean = -np.sum(g, axis=-1, keepdims=True) / std
    sample_std = np.sqrt(x.var(-1, ddof=1, keepdims=True) + eps)
    sample_hat = centred / sample_std
    sample = (g - g_mean - sample_hat * (g * sample_hat).mean(-1, keepdims=True)) / sample_std
    variants = [
        (
            g / std,
            "dx = grad * gamma / std forgets that the mean and the variance depend on every x "
            "of the row: subtract the mean term and the variance term too.",
            "only the direct path reaches x: the mean and var depend on every x of the row "
            "too, so x reaches x_hat along two more paths (through var and through the mean), "
            "whose gradients add to the direct one.",
        ),
        (
            (g - g_mean) / std,
            "dx drops the variance term: the variance depends on x too, which adds "
            "- x_hat * mean(g * x_hat) (g = grad * gamma) inside the bracket.",
            "the path through var is missing: var = mean((x - mean) ** 2) depends on x, so "
            "find the gradient reaching var and send it on to x.",
        ),
        ((g - g_mean - var_term / std) / std, x_hat_hint, x_hat_hint),
        ((g - g_mean - var_term / std**2) / std, x_hat_hint, x_hat_hint),
        (
            (g - var_term) / std,
            "dx drops the mean term: the mean depends on every x of the row, which adds "
            "- mean(g) (g = grad * gamma) inside the bracket.",
            "the path through the mean is missing: mean = sum(x) / d depends on every x, so "
            "find the gradient reaching the mean and send it on to x (1/d to each).",
        ),
        (
            (g - g.sum(-1, keepdims=True) - var_term) / std,
            "the mean term sums g where it averages: mean = sum(x) / d, so it is - mean(g) "
            "(g = grad * gamma), not - sum(g).",
            "the path through the mean is d times too strong: mean = sum(x) / d, so each x "
            "receives 1/d of the gradient that reaches the mean (a mean, not a sum).",
        ),
        (
            sample,
            "the recomputed forward pass uses the sample variance (ddof=1): layer norm's var "
            "is the plain mean of (x - mean) ** 2, np.var(..., ddof=0).",
            "the recomputed forward pass uses the sample variance (ddof=1): layer norm's var "
            "is the plain mean of (x - mean) ** 2, np.var(..., ddof=0).",
        ),
    ]
    for factor, name in ((1.0, "1"), (2.0, "2"), (1.0 / d, "1/d"), (float(d), "d")):
        wrong = g / std + d_var * factor * centred + d_mean / d
        hint = (
            f"the path through var carries the factor {name} where d var / d x = "
            "2 * (x - mean) / d belongs: var is the mean over the d features of (x - mean) ** 2."
        )
        variants.append((wrong, hint, hint))
    variants += [
        (
            (h - h.mean(-1, keepdims=True) - x_hat * (h * x_hat).mean(-1, keepdims=True)) / std,
            f"dx {how}: the forward pass multiplied x_hat by gamma once, so the gradient "
            "reaching x_hat is g = grad * gamma, once.",
            f"dx {how}: the forward pass multiplied x_hat by gamma once, so the gradient "
            "reaching x_hat is grad * gamma, once.",
        )
        for h, how in ((grad_out, "ignores gamma"), (g * gamma, "multiplies by gamma twice"))
    ]
    return variants


def _layer_norm_backward_test(
    name: str, derived: bool
) -> Callable[[Callable[..., tuple[np.ndarray, ...]]], int]:
    """The check of `name` (exercise 3.5, or its derive-it twin when `derived`: the same
    cases, hints that name the wrong step without printing the formula). A partial of a
    module-level function, not a closure: the grader sends checks to its workers by pickle."""
    return functools.partial(_check_layer_norm_backward, name=name, derived=derived)


def _check_layer_norm_backward(
    fn: Callable[..., tuple[np.ndarray, ...]], name: str, derived: bool
) -> int:
    rng = np.random.default_rng(35)
    d = 5
    gamma = rng.normal(size=d)
    beta = rng.normal(size=d)  # used only by the finite differences
    eps = 1e-5
    checks = 0
    names = ("dx", "dgamma", "dbeta")
    # A batch (batch, time, d) and one sequence (time, d): the text promises (..., d_model).
    for shape in ((2, 3, d), (4, d)):
        # Mean far from 0 and std far from 1, so x, x - mean and x_hat all differ.
        x = rng.normal(size=shape) * 3.0 + 1.5
        grad_out = rng.normal(size=x.shape)
        lead = tuple(range(x.ndim - 1))  # every axis but the features
        before = snapshot(grad_out, x, gamma)
        result, raised = call_catching(fn, grad_out, x, gamma, eps)
        if raised is not None:
            where = f"{name} raised {raised} on x of shape {shape} (d = {d}, eps={eps:g})"
            expect(not (raised.is_a("ValueError") or raised.is_a("IndexError")), (
                "The text promises x of shape (..., d): reduce over the last axis only "
                "(axis=-1, keepdims=True), and sum dgamma and dbeta over "
                f"axis=tuple(range(x.ndim - 1)). ({where}.)"
            ))  # fmt: skip
            raise CheckFailed(f"{where}.")
        expect_unchanged(name, ("grad_out", "x", "gamma"), before, (grad_out, x, gamma))
        got = _tuple(result, 3, name, "dx, dgamma, dbeta")
        ref = reference_layer_norm_backward(grad_out, x, gamma, eps)
        order = _order_hint(got, ref, names, name)
        expect(not order, order)
        dx, dgamma, dbeta = got
        expect_shape(dx, x.shape, f"{name}'s dx", "dx has the shape of x.")
        for part, value in (("dgamma", dgamma), ("dbeta", dbeta)):
            expect_shape(
                value,
                (d,),
                f"{name}'s {part} for x of shape {shape}",
                f"{part} has the shape of {part[1:]}: sum over every axis but the last, "
                "axis=tuple(range(x.ndim - 1)), so that a 2-D x works as well as a 3-D one.",
            )
        ref_dx, ref_dgamma, ref_dbeta = ref
        if not close(dx, ref_dx):
            for wrong, hint, derived_hint in _layer_norm_dx_variants(grad_out, x, gamma, eps):
                expect(not close(dx, wrong), derived_hint if derived else hint)
            expect(
                False,
                "dx is wrong. Go back one line at a time: grad * gamma reaches x_hat, and "
                "x_hat = (x - mean) / sqrt(var + eps) sends it on to x along three paths - "
                "directly, through var and through the mean - whose gradients add up. Try each "
                "path against finite differences on a small x."
                if derived
                else "dx is wrong: with g = grad * gamma and x_hat = (x - mean) / sqrt(var + "
                "eps), dx = (g - mean(g) - x_hat * mean(g * x_hat)) / sqrt(var + eps), means "
                "over the last axis.",
            )
        expect(
            not close(dgamma, np.sum(grad_out * x, axis=lead)),
            "dgamma multiplies the gradient by the normalized x_hat (what gamma multiplied in "
            "the forward pass), not by x.",
        )
        expect(
            close(dgamma, ref_dgamma),
            "dgamma is wrong: it is sum(grad * x_hat) over every axis but the last.",
        )
        expect(
            close(dbeta, ref_dbeta), "dbeta is wrong: it is sum(grad) over every axis but the last."
        )
        checks += 6
        if len(shape) == 2:
            continue

        # Finite differences on all three, with the loss sum(layer_norm(x) * grad_out).
        def loss_x(x_: np.ndarray, grad_out: np.ndarray = grad_out) -> float:
            return float(np.sum(reference_layer_norm(x_, gamma, beta, eps) * grad_out))

        def loss_gamma(
            gamma_: np.ndarray, x: np.ndarray = x, grad_out: np.ndarray = grad_out
        ) -> float:
            return float(np.sum(reference_layer_norm(x, gamma_, beta, eps) * grad_out))

        def loss_beta(
            beta_: np.ndarray, x: np.ndarray = x, grad_out: np.ndarray = grad_out
        ) -> float:
            return float(np.sum(reference_layer_norm(x, gamma, beta_, eps) * grad_out))

        gradcheck(dx, loss_x, x, "dx")
        gradcheck(dgamma, loss_gamma, gamma, "dgamma")
        gradcheck(dbeta, loss_beta, beta, "dbeta")
        checks += 3
    # The chapter calls the function as (grad_out, x, gamma) and compares the result with
    # finite differences of layer_norm at its default eps. Rows of variance about 0.01, where
    # eps = 1e-5 moves dx well beyond rounding.
    x = rng.normal(size=(3, d)) * 0.1
    grad_out = rng.normal(size=x.shape)
    ref_dx = reference_layer_norm_backward(grad_out, x, gamma)[0]
    dx = _tuple(_call(fn, grad_out, x, gamma), 3, name, "dx, dgamma, dbeta")[0]
    if not close(dx, ref_dx):
        given = _tuple(_call(fn, grad_out, x, gamma, eps), 3, name, "...")[0]
        expect(
            not close(given, ref_dx),
            f"called without eps, {name}(grad_out, x, gamma) gives another dx than with "
            "eps=1e-5, which is right: keep the signature's default, eps=1e-5 (layer_norm's), "
            "which the chapter's gradient check relies on.",
        )
        expect(False, "dx is wrong on rows of small variance (with eps=1e-5).")
    return checks + 1


layer_norm_backward = Exercise(
    "ch03_layer_norm_backward",
    "layer_norm_backward",
    reference_layer_norm_backward,
    _layer_norm_backward_test("layer_norm_backward", derived=False),
    points=2,
    doc="Check exercise 3.5: layer norm backward.",
)


# ----------------------------------------------------------------------------- exercise 3.6


def _scale_hint(
    dq: np.ndarray, dk: np.ndarray, ref_dq: np.ndarray, ref_dk: np.ndarray, d: int, t: int
) -> str:
    """'' unless dq and dk are both the right ones times one factor other than 1; then a hint
    that names where the factor comes from."""
    norm = float(np.sum(ref_dq * ref_dq) + np.sum(ref_dk * ref_dk))
    if norm == 0.0:
        return ""
    c = float(np.sum(dq * ref_dq) + np.sum(dk * ref_dk)) / norm
    if not (close(dq, c * ref_dq) and close(dk, c * ref_dk)) or np.isclose(c, 1.0):
        return ""
    root = np.sqrt(d)
    start = f"dq and dk are {c:.3g} times the right ones"
    rule = (
        "The scores were q @ k^T / sqrt(d), with d = q.shape[-1], the width of q: the "
        "backward pass divides by the same sqrt(d), once."
    )
    if np.isclose(c, root):
        return f"{start} (sqrt(d) = {root:.3g} times): the 1/sqrt(d) is missing. {rule}"
    if np.isclose(c, 1.0 / root):
        return f"{start} (1/sqrt(d)): divided by d, or by sqrt(d) twice. {rule}"
    if np.isclose(c, float(d)):
        return f"{start} (d): multiplied by sqrt(d) where it divides. {rule}"
    if np.isclose(c, root / np.sqrt(t)):
        return f"{start}: the scale came from the time axis, sqrt(q.shape[-2]). {rule}"
    return f"{start}. {rule}"


def _attention_backward_test(
    name: str, derived: bool
) -> Callable[[Callable[..., tuple[np.ndarray, ...]]], int]:
    """The check of `name` (exercise 3.6, or its derive-it twin when `derived`); picklable,
    like the one above."""
    return functools.partial(_check_attention_backward, name=name, derived=derived)


def _check_attention_backward(
    fn: Callable[..., tuple[np.ndarray, ...]], name: str, derived: bool
) -> int:
    rng = np.random.default_rng(36)
    checks = 0
    names = ("dq", "dk", "dv")
    # (batch, time, d) with d = 16, so a missing 1/sqrt(d) is a factor 4; then one sequence and
    # a batch of heads, the other shapes the text promises.
    for shape in ((2, 5, 16), (4, 8), (2, 2, 3, 4)):
        q, k, v = (rng.normal(size=shape) for _ in range(3))
        grad_out = rng.normal(size=shape)
        _, weights = reference_causal_attention(q, k, v)
        before = snapshot(grad_out, q, k, v, weights)
        result = _call_any_rank(fn, name, grad_out, q, k, v, weights)
        expect_unchanged(
            name, ("grad_out", "q", "k", "v", "weights"), before, (grad_out, q, k, v, weights)
        )
        got = _tuple(result, 3, name, "dq, dk, dv")
        ref = reference_attention_backward(grad_out, q, k, v, weights)
        order = _order_hint(got, ref, names, name)
        expect(not order, order)
        dq, dk, dv = got
        for part, value in zip(names, got, strict=True):
            expect_shape(value, shape, f"{name}'s {part}", f"{part} has the shape of {part[1:]}.")
        ref_dq, ref_dk, ref_dv = ref
        expect(
            not close(dv, weights @ grad_out),
            "dv = weights @ grad: the weights must be transposed (in their last two axes). "
            "out = weights @ v, so the gradient reaching v is weights^T @ grad.",
        )
        expect(
            close(dv, ref_dv),
            "dv is wrong: out = weights @ v, so the gradient reaching v is weights^T @ grad "
            "(transpose the last two axes)."
            if derived
            else "dv is wrong: out = weights @ v, so dv = weights.T @ grad (transpose the last "
            "two axes).",
        )
        d, t = shape[-1], shape[-2]
        root_d = np.sqrt(d)
        expect(
            not (close(dq, ref_dq * root_d) or close(dk, ref_dk * root_d)),
            "dq and dk are sqrt(d) times too large: the scores were q @ k.T / sqrt(d), so the "
            "backward pass multiplies by the same 1/sqrt(d).",
        )
        scale = _scale_hint(dq, dk, ref_dq, ref_dk, d, t)
        expect(not scale, scale)
        d_weights = grad_out @ np.swapaxes(v, -1, -2)
        no_jacobian = weights * d_weights / root_d
        expect(
            not (close(dq, no_jacobian @ k) or close(dk, np.swapaxes(no_jacobian, -1, -2) @ q)),
            "the softmax backward is missing its second term: each weight of a row depends on "
            "every score of that row, so d p_i / d s_j is not 0 for i != j. Work out that case "
            "too, and add what it sends back."
            if derived
            else "the softmax backward is missing its second term: each weight depends on every "
            "score of its row, so d_scores = weights * (d_weights - sum(d_weights * weights, "
            "axis=-1, keepdims=True)).",
        )
        columns = weights * (d_weights - np.sum(d_weights * weights, axis=-2, keepdims=True))
        expect(
            not (
                close(dq, columns @ k / root_d)
                or close(dk, np.swapaxes(columns, -1, -2) @ q / root_d)
            ),  # fmt: skip
            "the softmax backward sums over the wrong axis: each row of weights is one softmax "
            "over the keys, so the sum of d_weights * weights runs along the row, axis=-1 "
            "(keepdims=True), not axis=-2.",
        )
        d_scores = weights * (d_weights - np.sum(d_weights * weights, axis=-1, keepdims=True))
        expect(
            not close(dk, d_scores @ q / root_d),
            "dk is not transposed: the scores are q @ k^T, so the gradient reaching k is "
            "d_scores^T @ q / sqrt(d) (transpose d_scores in its last two axes).",
        )
        expect(
            not (close(dq, ref_dk) and close(dk, ref_dq)),
            "dq and dk are swapped: dq = d_scores @ k / sqrt(d), dk = d_scores.T @ q / sqrt(d).",
        )
        expect(
            close(dq, ref_dq),
            "dq is wrong: go back from out = weights @ v to the weights, through the row-wise "
            "softmax to the scores, then through scores = q @ k^T / sqrt(d) to q."
            if derived
            else "dq is wrong: dq = d_scores @ k / sqrt(d), with d_scores the softmax backward "
            "of d_weights = grad @ v.T.",
        )
        expect(
            close(dk, ref_dk),
            "dk is wrong: the scores are q @ k^T / sqrt(d), so k's gradient comes from the "
            "transposed score gradient."
            if derived
            else "dk is wrong: the scores are q @ k.T, so dk = d_scores.T @ q / sqrt(d) "
            "(d_scores transposed in its last two axes).",
        )
        checks += 6
        if shape != (2, 5, 16):
            continue

        # Finite differences through the whole forward pass, loss = sum(out * grad_out).
        def loss(which: int, q=q, k=k, v=v, grad_out=grad_out) -> Callable[[np.ndarray], float]:
            def f(value: np.ndarray) -> float:
                args = [q, k, v]
                args[which] = value  # noqa: B023 - f is called before the loop moves on
                return float(np.sum(reference_causal_attention(*args)[0] * grad_out))

            return f

        for which, (part, analytic) in enumerate(zip(names, got, strict=True)):
            gradcheck(analytic, loss(which), (q, k, v)[which], part)
        checks += 3
    return checks


attention_backward = Exercise(
    "ch03_attention_backward",
    "attention_backward",
    reference_attention_backward,
    _attention_backward_test("attention_backward", derived=False),
    points=2,
    doc="Check exercise 3.6: attention backward.",
)


# ============================================================================= building the block
#
# Exercises 3.7 to 3.10 (merging heads, the feed-forward network forward and backward, the whole
# block in post-norm and pre-norm) and the optional "derive it" variants of exercises 3.5 and
# 3.6. Every function takes arrays and a dict of named weight arrays (the keys of
# `cl.TransformerBlock.state_dict()`), so a check can send them to another process as plain data.

__all__ += [
    "BLOCK_KEYS",
    "attention_backward_derived",
    "block_forward",
    "feed_forward",
    "feed_forward_backward",
    "layer_norm_backward_derived",
    "merge_heads",
    "reference_block_forward",
    "reference_feed_forward",
    "reference_feed_forward_backward",
    "reference_merge_heads",
]

# The weights of one block, named as in `cl.TransformerBlock.state_dict()`; Linear weights are
# stored (out, in), as in PyTorch, so a layer computes x @ weight.T + bias.
BLOCK_KEYS = (
    "attention.query.weight",
    "attention.key.weight",
    "attention.value.weight",
    "norm1.weight",
    "norm1.bias",
    "feed_forward.up.weight",
    "feed_forward.up.bias",
    "feed_forward.down.weight",
    "feed_forward.down.bias",
    "norm2.weight",
    "norm2.bias",
)


def reference_feed_forward(
    x: np.ndarray, w_up: np.ndarray, b_up: np.ndarray, w_down: np.ndarray, b_down: np.ndarray
) -> np.ndarray:
    """relu(x @ w_up.T + b_up) @ w_down.T + b_down at every position; weights stored (out, in)."""
    hidden = np.maximum(x @ w_up.T + b_up, 0.0)  # (..., d_hidden)
    return hidden @ w_down.T + b_down  # (..., d_model)


def _rows(a: np.ndarray) -> np.ndarray:
    """(..., n) -> (positions, n): every position of every sequence as one row."""
    return a.reshape(-1, a.shape[-1])


def reference_feed_forward_backward(
    grad_out: np.ndarray, x: np.ndarray, w_up: np.ndarray, b_up: np.ndarray, w_down: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Gradients of the feed-forward network: (dx, dw_up, db_up, dw_down, db_down)."""
    pre = x @ w_up.T + b_up  # (..., d_hidden), before the ReLU
    hidden = np.maximum(pre, 0.0)
    lead = tuple(range(x.ndim - 1))  # every axis but the features
    dw_down = _rows(grad_out).T @ _rows(hidden)  # (d_model, d_hidden), like w_down
    db_down = grad_out.sum(axis=lead)
    d_pre = (grad_out @ w_down) * (pre > 0)  # the ReLU passes gradient where its input was > 0
    dw_up = _rows(d_pre).T @ _rows(x)  # (d_hidden, d_model), like w_up
    db_up = d_pre.sum(axis=lead)
    return d_pre @ w_up, dw_up, db_up, dw_down, db_down


def reference_merge_heads(x: np.ndarray) -> np.ndarray:
    """(batch, heads, time, head_dim) -> (batch, time, heads * head_dim)."""
    b, h, t, hd = x.shape
    return x.transpose(0, 2, 1, 3).reshape(b, t, h * hd)


def _block_parts(
    params: dict[str, np.ndarray], n_heads: int, eps: float
) -> tuple[Callable[..., np.ndarray], ...]:
    """The block's three sub-layers as functions of (batch, time, d_model) arrays."""

    def attention(h: np.ndarray) -> np.ndarray:
        q, k, v = (
            reference_split_heads(h @ params[f"attention.{name}.weight"].T, n_heads)
            for name in ("query", "key", "value")
        )  # each (batch, heads, time, head_dim)
        return reference_merge_heads(reference_causal_attention(q, k, v)[0])

    def ff(h: np.ndarray) -> np.ndarray:
        return reference_feed_forward(
            h,
            params["feed_forward.up.weight"],
            params["feed_forward.up.bias"],
            params["feed_forward.down.weight"],
            params["feed_forward.down.bias"],
        )

    def norm(which: str) -> Callable[[np.ndarray], np.ndarray]:
        return lambda h: reference_layer_norm(
            h, params[f"{which}.weight"], params[f"{which}.bias"], eps
        )

    return attention, ff, norm("norm1"), norm("norm2")


def reference_block_forward(
    x: np.ndarray,
    params: dict[str, np.ndarray],
    n_heads: int = 1,
    norm: str = "post",
    eps: float = 1e-5,
) -> np.ndarray:
    """One transformer block on x (batch, time, d_model); `params` has the keys `BLOCK_KEYS`.

    post-norm: h = norm1(x + attention(x)); y = norm2(h + ff(h))
    pre-norm:  h = x + attention(norm1(x)); y = h + ff(norm2(h))
    """
    if norm not in ("post", "pre"):
        raise ValueError(f"norm must be 'post' or 'pre', got {norm!r}")
    attention, ff, norm1, norm2 = _block_parts(params, n_heads, eps)
    if norm == "pre":
        h = x + attention(norm1(x))
        return h + ff(norm2(h))
    h = norm1(x + attention(x))
    return norm2(h + ff(h))


# ----------------------------------------------------------------------------- exercise 3.8


def _feed_forward_case(
    seed: int, lead: tuple[int, ...], d: int = 6, hidden: int = 10
) -> tuple[np.ndarray, ...]:
    """x and weights where every mistake shows: d != hidden, biases far from 0."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(*lead, d))
    w_up, w_down = rng.normal(size=(hidden, d)), rng.normal(size=(d, hidden))
    b_up, b_down = rng.normal(size=hidden) * 1.5, rng.normal(size=d) + 1.0
    return x, w_up, b_up, w_down, b_down


def _activations(pre: np.ndarray) -> list[tuple[str, np.ndarray]]:
    """Other activations a network might use, applied to `pre`, by name."""
    from math import erf

    gelu_erf = 0.5 * pre * (1.0 + np.vectorize(erf)(pre / np.sqrt(2.0)))
    gelu_tanh = 0.5 * pre * (1.0 + np.tanh(np.sqrt(2.0 / np.pi) * (pre + 0.044715 * pre**3)))
    sigmoid = 1.0 / (1.0 + np.exp(-pre))
    named = [
        ("GELU", gelu_erf),
        ("GELU (tanh approximation)", gelu_tanh),
        ("tanh", np.tanh(pre)),
        ("the sigmoid", sigmoid),
        ("SiLU (x * sigmoid(x))", pre * sigmoid),
        ("softplus", np.log1p(np.exp(pre))),
        ("ELU", np.where(pre > 0, pre, np.expm1(np.minimum(pre, 0)))),
        ("abs", np.abs(pre)),
    ]
    named += [(f"a leaky ReLU (slope {a:g})", np.where(pre > 0, pre, a * pre))
              for a in (0.01, 0.02, 0.05, 0.1, 0.2, 0.3)]  # fmt: skip
    return named


def _feed_forward_raised(raised: Any, x: np.ndarray, w_up: np.ndarray, w_down: np.ndarray) -> str:
    """The hint for a feed_forward that raised on x (..., d) with weights stored (out, in)."""
    shapes = f"x of shape {x.shape}, w_up {w_up.shape}, w_down {w_down.shape}"
    if raised.is_a("ValueError"):
        return (
            f"feed_forward raised {raised.type_name} on {shapes}: the matrix shapes do not fit. "
            "The weights are stored (out, in) as in the library: w_up is (d_hidden, d_model), "
            "so the first layer is x @ w_up.T + b_up and the second hidden @ w_down.T + b_down."
        )
    return f"feed_forward raised {raised} on {shapes}."


def _test_feed_forward(fn: Callable[..., np.ndarray]) -> int:
    checks = 0
    for seed, lead in ((37, (5,)), (38, (2, 4))):
        x, w_up, b_up, w_down, b_down = _feed_forward_case(seed, lead)
        before = [a.copy() for a in (x, w_up, b_up, w_down, b_down)]
        result, raised = call_catching(fn, x, w_up, b_up, w_down, b_down)
        if raised is not None:
            raise CheckFailed(_feed_forward_raised(raised, x, w_up, w_down))
        out = array_result(result, "feed_forward")
        pre = x @ w_up.T + b_up  # (..., hidden)
        if out.shape != x.shape:
            squashed = np.max(pre, 0) @ w_down.T + b_down
            expect(
                not close(out, squashed),
                f"feed_forward returned shape {out.shape} for x of shape {x.shape}: "
                "np.max(a, 0) is the largest entry along axis 0, a reduction. The ReLU is "
                "np.maximum(a, 0), which compares every entry with 0.",
            )
        expect_shape(
            out, x.shape, "feed_forward", "the network maps each d_model-vector to another."
        )
        expect(
            all(
                np.array_equal(a, b)
                for a, b in zip((x, w_up, b_up, w_down, b_down), before, strict=True)
            ),
            "feed_forward changed one of its arguments: compute into new arrays (no `+=` or "
            "`np.maximum(..., out=...)` on an input).",
        )
        wrong = [
            (
                np.maximum(x @ w_up.T, 0) @ w_down.T + b_down,
                "b_up is missing: the first layer is x @ w_up.T + b_up, before the ReLU.",
            ),
            (
                pre @ w_down.T + b_down,
                "the ReLU is missing: hidden = np.maximum(x @ w_up.T + b_up, 0). Without it "
                "the two layers collapse into one linear map.",
            ),
            (
                (np.maximum(x @ w_up.T, 0) + b_up) @ w_down.T + b_down,
                "the ReLU came before the bias: add b_up first, then take the ReLU of the sum.",
            ),
            (
                np.maximum(np.maximum(pre, 0) @ w_down.T + b_down, 0),
                "there is a ReLU after the second layer too: the output is "
                "hidden @ w_down.T + b_down, which may be negative.",
            ),
            (
                (np.maximum(x, 0) @ w_up.T + b_up) @ w_down.T + b_down,
                "the ReLU was applied to the input x; it belongs between the two layers: "
                "hidden = np.maximum(x @ w_up.T + b_up, 0).",
            ),
            (
                np.maximum(x, 0) @ w_up.T @ w_down.T + b_up @ w_down.T + b_down,
                "the ReLU was applied to the input x; it belongs between the two layers: "
                "hidden = np.maximum(x @ w_up.T + b_up, 0).",
            ),
            (
                np.maximum(x @ w_up.T, 0) @ w_down.T,
                "the biases are missing: add b_up to the first layer and b_down to the second.",
            ),
            (
                np.maximum(pre, 0) @ w_down.T,
                "b_down is missing: the second layer is hidden @ w_down.T + b_down.",
            ),
            (
                np.maximum(x @ w_down + b_up, 0) @ w_up + b_down,
                "w_up and w_down are used the wrong way round: w_up, (d_hidden, d_model), is "
                "the first layer, x @ w_up.T + b_up; w_down, (d_model, d_hidden), the second, "
                "hidden @ w_down.T + b_down.",
            ),
        ]
        wrong += [
            (
                act @ w_down.T + b_down,
                f"the activation is {name}, not the ReLU: this network uses relu(a) = "
                "np.maximum(a, 0), exactly 0 for every negative a.",
            )
            for name, act in _activations(pre)
        ]
        if not close(out, reference_feed_forward(x, w_up, b_up, w_down, b_down)):
            for value, hint in wrong:
                expect(not close(out, value), hint)
            expect(
                False,
                "feed_forward is wrong: relu(x @ w_up.T + b_up) @ w_down.T + b_down, with the "
                "weights stored (out, in) as in the library, so each is transposed.",
            )
        checks += 3
    return checks


feed_forward = Exercise(
    "ch03_feed_forward",
    "feed_forward",
    reference_feed_forward,
    _test_feed_forward,
    points=1,
    doc="Check exercise 3.8: the feed-forward network's forward pass.",
)


# ----------------------------------------------------------------------------- exercise 3.9


def _call_feed_forward_backward(fn: Callable[..., Any], *args: np.ndarray) -> Any:
    """`fn(*args)`, with a hint on the promised shapes when it raised on this rank of x only,
    and on the weights' (out, in) layout when it raises on one sequence too."""
    result, raised = call_catching(fn, *args)
    if raised is None:
        return result
    if raised.is_a("ValueError") and args[1].ndim != 2:
        grad_out, x, *weights = args
        rows = (grad_out.reshape(-1, grad_out.shape[-1]), x.reshape(-1, x.shape[-1]))
        _, again = call_catching(fn, *rows, *weights)
        expect(again is None or not again.is_a("ValueError"), (
            "The weights are stored (out, in): the forward pass computed x @ w_up.T and "
            "hidden @ w_down.T, so going back d_hidden = grad_out @ w_down and dx = d_pre @ "
            "w_up, with no .T; dw_down = grad_out^T @ hidden and dw_up = d_pre^T @ x have the "
            f"weights' shapes. (feed_forward_backward raised {raised} on x of shape "
            f"{x.shape}, w_up {weights[0].shape}, w_down {weights[2].shape}, and on one "
            "sequence too.)"
        ))  # fmt: skip
    return _call_or_explain_shape(
        fn, "feed_forward_backward", f"x of shape {args[1].shape}",
        "The text promises x of shape (..., d_model), like feed_forward: one sequence "
        "(time, d_model) as well as a batch (batch, time, d_model). Flatten every axis but the "
        "last into rows (a.reshape(-1, a.shape[-1])) or sum over axis=tuple(range(x.ndim - 1)). "
        "An einsum cannot sum over '...': flatten the rows first and write 'nh,ni->hi', not "
        "'bth,bti->hi'.",
        *args,
    )  # fmt: skip


def _test_feed_forward_backward(fn: Callable[..., tuple[np.ndarray, ...]]) -> int:
    checks = 0
    # A batch, then one sequence: the text promises x of shape (..., d_model), as for 3.8.
    for seed, lead in ((39, (2, 4)), (44, (5,))):
        checks += _check_feed_forward_backward(fn, seed, lead)
    return checks + _check_relu_at_zero(fn)


def _check_feed_forward_backward(
    fn: Callable[..., tuple[np.ndarray, ...]], seed: int, lead_shape: tuple[int, ...]
) -> int:
    x, w_up, b_up, w_down, b_down = _feed_forward_case(seed, lead_shape)
    # A bias far below 0 on some hidden units: x @ w_up.T > 0 and x @ w_up.T + b_up > 0 differ.
    b_up = b_up - 1.0
    grad_out = np.random.default_rng(seed + 1).normal(size=x.shape)
    lead = tuple(range(x.ndim - 1))  # every axis but the features
    before = [a.copy() for a in (grad_out, x, w_up, b_up, w_down)]
    result = _call_feed_forward_backward(fn, grad_out, x, w_up, b_up, w_down)
    names = ("dx", "dw_up", "db_up", "dw_down", "db_down")
    got = _tuple(result, 5, "feed_forward_backward", ", ".join(names))
    expect(
        all(
            np.array_equal(a, b)
            for a, b in zip((grad_out, x, w_up, b_up, w_down), before, strict=True)
        ),
        "feed_forward_backward changed one of its arguments: compute into new arrays.",
    )
    ref = reference_feed_forward_backward(grad_out, x, w_up, b_up, w_down)
    order = _order_hint(got, ref, names, "feed_forward_backward")
    expect(not order, order)
    like = {"dx": x, "dw_up": w_up, "db_up": b_up, "dw_down": w_down, "db_down": b_down}
    for name, value in zip(names, got, strict=True):
        shape = like[name].shape
        why = f"{name} has the shape of {name[1:]}"
        if name.startswith("dw") and value.shape == lead_shape[:1] + shape and x.ndim > 2:
            why += (
                ": one gradient per sequence came back, but a weight is shared by every "
                "position of every sequence, so its gradient is their sum. Flatten every axis "
                "but the last into rows first, a.reshape(-1, a.shape[-1])"
            )
        elif name.startswith("dw"):
            why += ", stored (out, in): the transpose of x.T @ grad is grad.T @ x"
        elif name.startswith("db"):
            why += (
                ": sum over every axis but the last, axis=tuple(range(x.ndim - 1)), so that a "
                "2-D x works as well as a 3-D one"
            )
        elif name == "dx" and value.size == x.size:
            why += ": reshape it back to x.shape after working on rows"
        expect_shape(
            value,
            shape,
            f"feed_forward_backward's {name} for x of shape {x.shape}",
            why + ".",
        )
    dx, dw_up, db_up, dw_down, db_down = got
    pre = x @ w_up.T + b_up
    hidden = np.maximum(pre, 0)
    d_hidden = grad_out @ w_down
    positions = int(np.prod(lead_shape))
    expect(
        not close(db_down, ref[4] / positions),
        "db_down is the mean of grad_out over the positions; the bias is added at every "
        "position, so its gradient is their sum: grad_out summed over every axis but the last.",
    )
    expect(close(db_down, ref[4]), "db_down is wrong: it is grad_out summed over every position.")
    expect(
        not close(dw_down, _rows(grad_out).T @ _rows(pre)),
        "dw_down uses the hidden values before the ReLU: the second layer multiplied "
        "relu(pre), so dw_down = grad_out.T @ relu(pre) (over every position).",
    )
    expect(
        close(dw_down, ref[3]),
        "dw_down is wrong: grad_out.T @ hidden over every position, hidden = relu(x @ w_up.T + "
        "b_up) (flatten every axis but the last into rows first).",
    )
    wrong_d_pre = [
        (
            d_hidden,
            "the ReLU's gradient is missing: multiply grad_out @ w_down by (pre > 0), where "
            "pre = x @ w_up.T + b_up - the ReLU passes gradient only where its input was positive.",
        ),
        (
            d_hidden * (x @ w_up.T > 0),
            "the ReLU's mask forgets the bias: the ReLU's input was x @ w_up.T + b_up, so the "
            "mask is (x @ w_up.T + b_up > 0).",
        ),
        (
            d_hidden * hidden,
            "the gradient was multiplied by the ReLU's output; the ReLU's derivative is 1 where "
            "its input was > 0 and 0 elsewhere: multiply by (pre > 0).",
        ),
        (
            d_hidden * (d_hidden > 0),
            "the ReLU's mask was taken from the gradient (d_hidden > 0); it comes from the "
            "forward pass: the ReLU let through what its input pre = x @ w_up.T + b_up had "
            "above 0, so multiply by (pre > 0).",
        ),
    ]
    for d_pre, hint in wrong_d_pre:
        expect(not (close(db_up, d_pre.sum(axis=lead)) or close(dx, d_pre @ w_up)), hint)
    expect(
        not close(db_up, ref[2] / positions),
        "db_up is the mean over the positions; the bias is added at every position, so its "
        "gradient is the sum of d_pre over every axis but the last.",
    )
    expect(close(db_up, ref[2]), "db_up is wrong: the gradient at the ReLU's input, summed.")
    expect(
        close(dw_up, ref[1]),
        "dw_up is wrong: d_pre.T @ x over every position, with d_pre the gradient at the "
        "ReLU's input.",
    )
    expect(
        not close(dx, d_hidden @ w_up),
        "dx skips the ReLU: dx = d_pre @ w_up with d_pre = (grad_out @ w_down) * (pre > 0), the "
        "gradient at the ReLU's input.",
    )
    expect(
        close(dx, ref[0]),
        "dx is wrong: dx = d_pre @ w_up (the forward pass computed x @ w_up.T), with d_pre "
        "the gradient at the ReLU's input.",
    )

    # Finite differences through the forward pass, loss = sum(feed_forward(...) * grad_out).
    args = [x, w_up, b_up, w_down, b_down]

    def loss(which: int) -> Callable[[np.ndarray], float]:
        def f(value: np.ndarray) -> float:
            changed = list(args)
            changed[which] = value
            return float(np.sum(reference_feed_forward(*changed) * grad_out))

        return f

    for which, (name, analytic) in enumerate(zip(names, got, strict=True)):
        gradcheck(analytic, loss(which), args[which].copy(), name)
    return 12


def _check_relu_at_zero(fn: Callable[..., tuple[np.ndarray, ...]]) -> int:
    """Whole numbers where some ReLU inputs are exactly 0: the ReLU passes no gradient there
    (its output is flat on the left), as in the library and in PyTorch."""
    x = np.array([[1.0, 2.0, -1.0], [0.0, 1.0, 1.0]])  # (time, d_model)
    w_up = np.array([[1.0, 0.0, 1.0], [0.0, 1.0, 0.0], [1.0, -1.0, 2.0], [2.0, 1.0, 0.0]])
    b_up = np.array([0.0, -2.0, 0.0, -1.0])  # pre = x @ w_up.T + b_up has zeros
    w_down = np.array([[1.0, 2.0, -1.0, 0.5], [0.0, 1.0, 1.0, -1.0], [2.0, 0.0, 1.0, 1.0]])
    grad_out = np.array([[1.0, -1.0, 2.0], [0.5, 1.0, -2.0]])
    pre = x @ w_up.T + b_up
    result = _call_feed_forward_backward(fn, grad_out, x, w_up, b_up, w_down)
    got = _tuple(result, 5, "feed_forward_backward", "dx, dw_up, db_up, dw_down, db_down")
    ref = reference_feed_forward_backward(grad_out, x, w_up, b_up, w_down)
    if all(close(g, r) for g, r in zip(got, ref, strict=True)):
        return 1
    at_zero = (grad_out @ w_down) * (pre >= 0)
    expect(
        not close(got[2], at_zero.sum(axis=0)),
        f"where the ReLU's input is exactly 0 ({int(np.sum(pre == 0))} places in this case) your "
        "mask lets the gradient through: the ReLU is flat at and below 0, so the mask is "
        "(pre > 0), not (pre >= 0), as in the library and PyTorch.",
    )
    expect(
        False,
        "feed_forward_backward is wrong on whole-number inputs where some ReLU inputs are "
        "exactly 0: the mask is (pre > 0).",
    )
    return 1


feed_forward_backward = Exercise(
    "ch03_feed_forward_backward",
    "feed_forward_backward",
    reference_feed_forward_backward,
    _test_feed_forward_backward,
    points=2,
    doc="Check exercise 3.9: the feed-forward network's backward pass.",
)


# ----------------------------------------------------------------------------- exercise 3.7


_AXIS_NAMES = ("batch", "heads", "time", "head_dim")


def _merge_heads_shape_hint(out: np.ndarray, x: np.ndarray) -> str:
    """Why `out` has another shape than (batch, time, heads * head_dim), for x (b, h, t, hd)."""
    b, h, t, hd = x.shape
    start = f"merge_heads returned shape {out.shape} for x of shape {x.shape}"
    if out.size != x.size:
        return (
            f"{start}: {out.size} numbers for {x.size}. merge_heads only rearranges them - no "
            "sum or mean over the heads: each head's head_dim columns go side by side."
        )
    if out.shape == (b, t, h, hd):
        return (
            f"{start}: the heads are in place but not glued: reshape (batch, time, heads, "
            "head_dim) to (batch, time, heads * head_dim) at the end."
        )
    if out.ndim < 3:
        return (
            f"{start}: an axis of size 1 was dropped (np.squeeze?). Keep all three axes, "
            "(batch, time, heads * head_dim), even when batch or time is 1."
        )
    if out.shape == (b, h, t * hd) and h != t:
        return (
            f"{start}, which is (batch, heads, time * head_dim): x arrives as (batch, heads, "
            "time, head_dim), so unpack the sizes in that order, b, h, t, hd = x.shape."
        )
    if out.shape == (b, h * t, hd):
        return (
            f"{start}, which is (batch, heads * time, head_dim): the heads were stacked along "
            "the time axis. Glue them along the features instead, so that each position gets "
            "heads * head_dim numbers."
        )
    return f"{start}, expected {(b, t, h * hd)}: (batch, time, heads * head_dim)."


def _test_merge_heads(fn: Callable[[np.ndarray], np.ndarray]) -> int:
    import itertools

    checks = 0
    for b, h, t, hd in ((2, 4, 3, 2), (1, 2, 5, 3)):
        x = np.arange(b * h * t * hd, dtype=float).reshape(b, h, t, hd)
        before = x.copy()
        out = array_result(_call(fn, x), "merge_heads")
        expect(np.array_equal(x, before), "merge_heads changed its input.")
        expect(out.shape == (b, t, h * hd), _merge_heads_shape_hint(out, x))
        expect(
            not np.array_equal(out, x.reshape(b, t, h * hd)),
            "reshaping straight to (batch, time, d_model) mixes positions: swap the heads and "
            "time axes first (transpose(0, 2, 1, 3)), then reshape.",
        )
        expect(
            not np.array_equal(out, x.transpose(0, 2, 3, 1).reshape(b, t, h * hd)),
            "the heads' columns are interleaved: after moving time forward the axes must be "
            "(batch, time, heads, head_dim) - transpose(0, 2, 1, 3), not (0, 2, 3, 1) - so "
            "each head's head_dim columns stay together.",
        )
        expect(
            not np.array_equal(out, x[:, ::-1].transpose(0, 2, 1, 3).reshape(b, t, h * hd)),
            "the heads come out in reverse order: head 0 takes the first head_dim columns.",
        )
        for order in itertools.permutations((1, 2, 3)):
            axes = (0, *order)
            if axes == (0, 2, 1, 3):
                continue
            names = ", ".join(_AXIS_NAMES[a] for a in axes)
            expect(
                not np.array_equal(out, x.transpose(axes).reshape(b, t, h * hd)),
                f"before the reshape the axes were ({names}), transpose{axes}: they must be "
                "(batch, time, heads, head_dim), transpose(0, 2, 1, 3) - swap only heads and "
                "time - so that each position's row holds every head's head_dim numbers, head "
                "after head.",
            )
        for head in range(h):
            expect(
                np.array_equal(out[..., head * hd : (head + 1) * hd], x[:, head]),
                f"columns {head * hd}..{(head + 1) * hd - 1} should hold head {head}'s output "
                "at every position - the inverse of split_heads.",
            )
        checks += 4 + h
    return checks


merge_heads = Exercise(
    "ch03_merge_heads",
    "merge_heads",
    reference_merge_heads,
    _test_merge_heads,
    points=1,
    doc="Check exercise 3.7: gluing the heads back together.",
)


# ----------------------------------------------------------------------------- exercise 3.10


def block_params(seed: int, d: int = 8, hidden: int = 12) -> dict[str, np.ndarray]:
    """Random float64 weights of one block, with gammas and betas far from 1 and 0 so that
    swapping the two norms, or leaving one out, changes the result."""
    rng = np.random.default_rng(seed)
    shapes = {
        "attention.query.weight": (d, d),
        "attention.key.weight": (d, d),
        "attention.value.weight": (d, d),
        "feed_forward.up.weight": (hidden, d),
        "feed_forward.up.bias": (hidden,),
        "feed_forward.down.weight": (d, hidden),
        "feed_forward.down.bias": (d,),
    }
    params = {k: rng.normal(size=s) / np.sqrt(s[-1]) for k, s in shapes.items()}
    for name in ("norm1", "norm2"):
        params[f"{name}.weight"] = 1.0 + rng.normal(size=d) * 0.5
        params[f"{name}.bias"] = rng.normal(size=d) * 0.5
    return {k: params[k] for k in BLOCK_KEYS}


def _block_variants(
    x: np.ndarray, params: dict[str, np.ndarray], n_heads: int, norm: str, eps: float
) -> list[tuple[np.ndarray, str]]:
    """The usual wrong blocks, each with the hint that names its mistake."""
    attention, ff, norm1, norm2 = _block_parts(params, n_heads, eps)
    swapped = {**params}
    for part in ("weight", "bias"):
        swapped[f"norm1.{part}"], swapped[f"norm2.{part}"] = (
            params[f"norm2.{part}"],
            params[f"norm1.{part}"],
        )
    other = "pre" if norm == "post" else "post"
    variants = [
        (
            reference_block_forward(x, params, n_heads, other, eps),
            f"you built a {other}-norm block, but norm={norm!r} asks for {norm}-norm: "
            + (
                "post-norm normalizes after the residual sum, h = norm1(x + attention(x)), "
                "y = norm2(h + ff(h))."
                if norm == "post"
                else "pre-norm normalizes what each sub-layer reads, h = x + attention(norm1(x)), "
                "y = h + ff(norm2(h))."
            ),
        ),
        (
            reference_block_forward(x, swapped, n_heads, norm, eps),
            "norm1 and norm2 are swapped: norm1 goes with attention, norm2 with the "
            "feed-forward network.",
        ),
    ]
    if n_heads > 1:
        variants.append(
            (
                reference_block_forward(x, params, 1, norm, eps),
                f"the attention ran as one head: split q, k and v into n_heads={n_heads} "
                "heads (split_heads), attend, then merge_heads.",
            )
        )
    if norm == "post":
        h_none = norm1(attention(x))
        h_outside = norm1(x) + attention(x)
        h_twice = norm1(x + x + attention(x))
        variants += [
            (
                norm2(ff(h_none)),
                "the residuals are missing: each sub-layer's output is added to its input, "
                "h = norm1(x + attention(x)), y = norm2(h + ff(h)).",
            ),
            (
                norm2(h_outside) + ff(norm2(h_outside)),
                "the residual is in the wrong place: post-norm normalizes the sum, "
                "h = norm1(x + attention(x)) and y = norm2(h + ff(h)), not norm1(x) + "
                "attention(x).",
            ),
            (
                norm2(h_outside + ff(h_outside)),
                "the first residual is in the wrong place: post-norm normalizes the sum, "
                "h = norm1(x + attention(x)), not norm1(x) + attention(x).",
            ),
            (
                norm2(h_twice + h_twice + ff(h_twice)),
                "the residual is added twice: x + attention(x) already holds x once; "
                "h = norm1(x + attention(x)), y = norm2(h + ff(h)).",
            ),
            (
                norm2(x + norm1(x + attention(x)) + ff(norm1(x + attention(x)))),
                "the residual is added twice: the second sub-layer's residual is h, the first "
                "sub-layer's output, not x as well: y = norm2(h + ff(h)).",
            ),
        ]
    else:
        h_normed = norm1(x) + attention(norm1(x))
        h = x + attention(norm1(x))
        h_twice = x + x + attention(norm1(x))
        variants += [
            (
                ff(norm2(attention(norm1(x)))),
                "the residuals are missing: pre-norm adds each sub-layer's output to the "
                "stream, h = x + attention(norm1(x)), y = h + ff(norm2(h)).",
            ),
            (
                h_normed + ff(norm2(h_normed)),
                "the residual is in the wrong place: the stream carries x itself, "
                "h = x + attention(norm1(x)), not norm1(x) + attention(norm1(x)).",
            ),
            (
                h + norm2(ff(h)),
                "the norm is after the feed-forward network: pre-norm normalizes what the "
                "sub-layer reads, y = h + ff(norm2(h)).",
            ),
            (
                x + norm1(attention(x)) + ff(norm2(x + norm1(attention(x)))),
                "the first norm is after attention: pre-norm normalizes what attention reads, "
                "h = x + attention(norm1(x)).",
            ),
            (
                h_twice + h_twice + ff(norm2(h_twice)),
                "the residual is added twice: h = x + attention(norm1(x)) holds x once.",
            ),
            (
                h + h + ff(norm2(h)),
                "the residual is added twice: y = h + ff(norm2(h)), h only once.",
            ),
            (
                x + h + ff(norm2(h)),
                "the residual is added twice: the second residual is h, which already holds x: "
                "y = h + ff(norm2(h)).",
            ),
        ]
    variants += _block_variants_more(x, params, n_heads, norm, eps)
    return variants


def _heads_attention(
    params: dict[str, np.ndarray], n_heads: int, split: str, merge: str
) -> Callable[[np.ndarray], np.ndarray]:
    """Attention whose heads are cut (`split`) and glued (`merge`) "right", by one plain
    "reshape", or "interleaved" (every n_heads-th column)."""

    def cut(a: np.ndarray) -> np.ndarray:
        b, t, d = a.shape
        if split == "reshape":
            return a.reshape(b, n_heads, t, d // n_heads)
        if split == "interleaved":
            return a.reshape(b, t, d // n_heads, n_heads).transpose(0, 3, 1, 2)
        return reference_split_heads(a, n_heads)

    def glue(a: np.ndarray) -> np.ndarray:
        b, h, t, hd = a.shape
        if merge == "reshape":
            return a.reshape(b, t, h * hd)
        if merge == "interleaved":
            return a.transpose(0, 2, 3, 1).reshape(b, t, h * hd)
        return reference_merge_heads(a)

    def attention(h: np.ndarray) -> np.ndarray:
        q, k, v = (cut(h @ params[f"attention.{n}.weight"].T) for n in ("query", "key", "value"))
        return glue(reference_causal_attention(q, k, v)[0])

    return attention


def _wired(
    x: np.ndarray,
    norm: str,
    attention: Callable[[np.ndarray], np.ndarray],
    ff: Callable[[np.ndarray], np.ndarray],
    norm1: Callable[[np.ndarray], np.ndarray],
    norm2: Callable[[np.ndarray], np.ndarray],
) -> np.ndarray:
    """The block wired right from the given sub-layers."""
    if norm == "pre":
        h = x + attention(norm1(x))
        return h + ff(norm2(h))
    h = norm1(x + attention(x))
    return norm2(h + ff(h))


def _block_variants_more(
    x: np.ndarray, params: dict[str, np.ndarray], n_heads: int, norm: str, eps: float
) -> list[tuple[np.ndarray, str]]:
    """More wrong blocks: one residual missing, one norm used twice, heads cut or glued wrong."""
    attention, ff, norm1, norm2 = _block_parts(params, n_heads, eps)
    if norm == "post":
        h = norm1(x + attention(x))
        variants = [
            (
                norm2(norm1(attention(x)) + ff(norm1(attention(x)))),
                "the first residual is missing: attention's output is added to its input "
                "before the norm, h = norm1(x + attention(x)).",
            ),
            (
                norm2(ff(h)),
                "the second residual is missing: the feed-forward network's output is added to "
                "its input before the norm, y = norm2(h + ff(h)).",
            ),
            (
                norm2(x + h + ff(x + h)),
                "x was added again after norm1: the first residual is inside the norm, "
                "h = norm1(x + attention(x)), and h goes on as it is: y = norm2(h + ff(h)).",
            ),
        ]
    else:
        h = x + attention(norm1(x))
        a = norm1(x)
        h_normed = a + attention(a)
        variants = [
            (
                attention(norm1(x)) + ff(norm2(attention(norm1(x)))),
                "the first residual is missing: pre-norm adds attention's output to the stream "
                "x, h = x + attention(norm1(x)).",
            ),
            (
                ff(norm2(h)),
                "the second residual is missing: pre-norm adds the feed-forward network's "
                "output to the stream h, y = h + ff(norm2(h)).",
            ),
            (
                norm2(h_normed) + ff(norm2(h_normed)),
                "the residuals carry the normalized values: in pre-norm the stream is never "
                "normalized, only what each sub-layer reads: h = x + attention(norm1(x)), "
                "y = h + ff(norm2(h)).",
            ),
        ]

    def untransposed(h: np.ndarray) -> np.ndarray:
        q, k, v = (
            reference_split_heads(h @ params[f"attention.{n}.weight"], n_heads)
            for n in ("query", "key", "value")
        )
        return reference_merge_heads(reference_causal_attention(q, k, v)[0])

    variants += [
        (
            _wired(x, norm, untransposed, ff, norm1, norm2),
            "q, k and v were computed with untransposed weights: they are stored (out, in), so "
            "q = x @ params['attention.query.weight'].T (and the same for key and value).",
        ),
        (
            _wired(x, norm, attention, ff, norm1, norm1),
            "norm1 was used in both places: the feed-forward sub-layer has a norm of its own, "
            "with params['norm2.weight'] and params['norm2.bias'].",
        ),
        (
            _wired(x, norm, attention, ff, norm2, norm2),
            "norm2 was used in both places: attention has a norm of its own, with "
            "params['norm1.weight'] and params['norm1.bias'].",
        ),
    ]
    if n_heads > 1:
        heads = [
            (
                "reshape",
                "reshape",
                "the heads were cut and glued with plain reshapes, which mix positions into "
                "heads: split_heads reshapes to (batch, time, heads, head_dim) and then swaps "
                "heads and time; merge_heads undoes both.",
            ),
            (
                "right",
                "reshape",
                "the heads were glued with a plain reshape of (batch, heads, time, head_dim), "
                "which mixes positions: use merge_heads (swap heads and time back, then "
                "reshape).",
            ),
            (
                "reshape",
                "right",
                "the heads were cut with a plain reshape to (batch, heads, time, head_dim), "
                "which mixes positions into heads: use split_heads.",
            ),
            (
                "interleaved",
                "interleaved",
                "each head took every n_heads-th column: a head is a block of head_dim "
                "neighbouring columns, as split_heads and merge_heads cut and glue them.",
            ),
        ]
        variants += [
            (_wired(x, norm, _heads_attention(params, n_heads, cut, glue), ff, norm1, norm2), hint)
            for cut, glue, hint in heads
        ]
    return variants


def _test_block_forward(fn: Callable[..., np.ndarray]) -> int:
    checks = 0
    # Three blocks at the default eps, then one where eps = 0.5 on inputs of variance about
    # 0.01, where passing eps on to layer_norm changes every number.
    for seed, n_heads, norm, eps in (
        (41, 2, "post", None),
        (42, 2, "pre", None),
        (43, 1, "post", None),
        (45, 2, "pre", 0.5),
    ):
        params = block_params(seed)
        scale, shift = (2.0, 0.5) if eps is None else (0.1, 0.0)
        x = np.random.default_rng(seed + 100).normal(size=(2, 5, 8)) * scale + shift
        saved = {k: v.copy() for k, v in params.items()}
        x_before = x.copy()
        given = () if eps is None else (eps,)
        what = f"block_forward(x, params, n_heads={n_heads}, norm={norm!r}" + (
            f", eps={eps:g})" if eps is not None else ")"
        )
        result, raised = call_catching(fn, x, params, n_heads, norm, *given)
        if raised is not None:
            raise CheckFailed(f"{what} raised {raised}, for x of shape {x.shape} (d_model 8).")
        out = array_result(result, "block_forward")
        expect_shape(
            out, x.shape, "block_forward", "a block keeps the shape (batch, time, d_model)."
        )
        expect(
            np.array_equal(x, x_before)
            and set(params) == set(saved)
            and all(np.array_equal(params[k], saved[k]) for k in saved),
            "block_forward changed x or a weight: compute into new arrays (h = x + ..., "
            "not x += ...).",
        )
        expect(bool(np.all(np.isfinite(out))), f"{what} returned nan or inf.")
        used = 1e-5 if eps is None else eps
        want = reference_block_forward(x, params, n_heads, norm, used)
        if not close(out, want):
            if eps is None:
                # The call above left eps to the signature, as the chapter's comparison with
                # the library's block does.
                explicit, _ = call_catching(fn, x, params, n_heads, norm, 1e-5)
                expect(
                    not close(explicit, want),
                    f"called without eps, {what} differs from the same call with eps=1e-5, "
                    "which is right: keep the signature's default, eps=1e-5 (that of the "
                    "library's blocks), which the chapter relies on.",
                )
            else:
                expect(
                    not close(out, reference_block_forward(x, params, n_heads, norm, 1e-5)),
                    f"eps={eps:g} made no difference: your norms use layer_norm's default. Pass "
                    "the block's eps on, layer_norm(h, gamma, beta, eps), in both norms.",
                )
            for value, hint in _block_variants(x, params, n_heads, norm, used):
                expect(not close(out, value), hint)
            expect(
                False,
                f"{what} is wrong. Check each sub-layer on its own: q = x @ W_q.T split into "
                "heads, causal_attention, merge_heads; layer_norm with params['norm1.weight'] "
                "and ['norm1.bias']; feed_forward with the feed_forward.* weights.",
            )
        checks += 3
    return checks


block_forward = Exercise(
    "ch03_block_forward",
    "block_forward",
    reference_block_forward,
    _test_block_forward,
    points=2,
    doc="Check exercise 3.10: a whole block's forward pass, post-norm and pre-norm.",
)


# ----------------------------------------------------------------------------- derive it

# The optional "derive it" exercises: the formula is not printed, only the forward pass and a
# hint; the check tries the same cases as for exercises 3.5 and 3.6, under the `_derived` name,
# with hints that name the wrong step of the derivation without printing the formula. They
# count for no points.

layer_norm_backward_derived = Exercise(
    "ch03_layer_norm_backward_derived",
    "layer_norm_backward_derived",
    reference_layer_norm_backward,
    _layer_norm_backward_test("layer_norm_backward_derived", derived=True),
    points=0,
    doc="Check the optional exercise: layer norm backward, derived without the formula.",
)

attention_backward_derived = Exercise(
    "ch03_attention_backward_derived",
    "attention_backward_derived",
    reference_attention_backward,
    _attention_backward_test("attention_backward_derived", derived=True),
    points=0,
    doc="Check the optional exercise: attention backward, derived without the formula.",
)
