# ---
# jupyter:
#   jupytext:
#     cell_metadata_filter: nbgrader,-all
#     formats: ipynb,py:percent
#     notebook_metadata_filter: kernelspec,jupytext,-jupytext.text_representation
#   kernelspec:
#     display_name: Python 3 (ipykernel)
#     language: python
#     name: python3
# ---

# %% [markdown]
# # Chapter 03: The transformer block
#
# After chapter 02 every token is a vector: its embedding plus its position. But each vector
# still knows only its own token. In "Rain falls from grey clouds", the vector of "clouds" has no
# idea that "grey" came just before it. A **transformer block** changes that. It has two parts:
#
# - **attention**, where every token looks back at the tokens before it and takes in what it
#   finds useful,
# - a **feed-forward** network, which works on each token's vector on its own,
#
# each wrapped in a **residual** connection and a **layer norm**. The model of this course stacks
# three such blocks. In this chapter you build the pieces and check each backward pass against
# finite differences:
#
# 1. softmax, done so that it never overflows,
# 2. causal scaled dot-product attention, and why it divides by sqrt(d),
# 3. several heads at once,
# 4. the feed-forward network, layer norm (forward and backward), residuals, post-norm and
#    pre-norm,
# 5. the backward pass of attention,
# 6. a look at what a briefly trained model attends to in a real sentence,
# 7. and the block itself, assembled by you: the heads glued back together, the feed-forward
#    network forward and backward, the residuals and norms in both placements.
#
# Each exercise is a function you write; the cell after it checks your function. If you skip
# one, its check says "not done yet" and the chapter goes on with the library's version.

# %%
import matplotlib.pyplot as plt
import numpy as np

from course_lib import checks
from course_lib import numpy as cl
from course_lib.checks import ch03 as check
from course_lib.config import ModelConfig
from course_lib.gradcheck import numerical_gradient, rel_error

rng = np.random.default_rng(0)

# %% [markdown]
# ## 1. Softmax
#
# Attention turns scores into weights that are positive and add up to 1, with the **softmax**:
#
# `softmax(x)_i = exp(x_i) / sum_j exp(x_j)`
#
# Written like that, it breaks on large scores: `exp(1000)` is too big for a float and becomes
# `inf`, and `inf / inf` is `nan`.

# %%
def naive_softmax(x: np.ndarray) -> np.ndarray:
    e = np.exp(x)
    return e / e.sum()


with np.errstate(over="ignore", invalid="ignore"):
    print("naive softmax of [1, 2, 3]:         ", naive_softmax(np.array([1.0, 2.0, 3.0])))
    print("naive softmax of [1000, 1001, 1002]:", naive_softmax(np.array([1000.0, 1001.0, 1002.0])))

# %% [markdown]
# The fix costs one line. Adding the same number `c` to every score does not change the softmax
# (`exp(x_i - c) = exp(x_i) / exp(c)`, and `exp(c)` cancels). Choose `c = max(x)`: then the
# largest exponent is `exp(0) = 1`, nothing can overflow, and at least one term of the sum is 1,
# so nothing divides by 0 either.
#
# ### Exercise 3.1: a stable softmax
#
# Write `softmax(x, axis=-1)`: subtract the max along `axis` (keep the axis with
# `keepdims=True` so it broadcasts), exponentiate, divide by the sum along the same axis. Do not
# change `x` itself. The check tries large scores, rows of very different size, `-inf` entries
# (masked positions, coming soon), another axis and no axis at all: the chapter calls
# `softmax(scores)` and relies on the default, the last axis.

# %%
def softmax(x: np.ndarray, axis: int = -1) -> np.ndarray:
    """exp(x) / sum(exp(x)) along `axis`, computed without overflow."""
    ### BEGIN SOLUTION
    shifted = x - np.max(x, axis=axis, keepdims=True)
    e = np.exp(shifted)
    return e / np.sum(e, axis=axis, keepdims=True)
    ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "ch03_softmax", "points": 1, "locked": true}
softmax = check.softmax(softmax)
### BEGIN HIDDEN TESTS
assert np.allclose(softmax(np.array([[0.0, 0.0]])), [[0.5, 0.5]])
assert np.allclose(softmax(np.array([[-1e4, 0.0]])), [[0.0, 1.0]])
### END HIDDEN TESTS

# %%
print(softmax(np.array([1000.0, 1001.0, 1002.0])))

# %% [markdown]
# ## 2. Attention
#
# Each token's vector `x[t]` is turned into three vectors by three weight matrices:
#
# - a **query** `q[t] = W_q x[t]`: what this token is looking for,
# - a **key** `k[t] = W_k x[t]`: what this token offers to those who look,
# - a **value** `v[t] = W_v x[t]`: what it hands over when chosen.
#
# Token `i` scores every token `j` by how well its query matches their key, the dot product
# `q[i] . k[j]`; for all pairs at once that is the matrix `q @ k.T`, of shape `(time, time)`.
# The softmax of each row turns the scores into **weights**, and token `i`'s output is the
# weighted mix of the values: `out = weights @ v`.
#
# ### Why divide by sqrt(d)?
#
# A dot product of two vectors with `d` random entries of variance 1 has variance `d`: the wider
# the vectors, the larger the scores. Large scores push the softmax to a corner - one weight
# near 1, the rest near 0 - and there its gradient almost vanishes, so training stalls. Dividing
# by `sqrt(d)` brings the variance back to 1 whatever `d` is:

# %%
fig, axes = plt.subplots(1, 2, figsize=(11, 3.2))
for d in (4, 64, 512):
    q = rng.normal(size=(2000, d))
    k = rng.normal(size=(2000, d))
    scores = np.sum(q * k, axis=1)  # 2000 random dot products
    axes[0].hist(scores, bins=60, histtype="step", label=f"d = {d}: std {scores.std():.1f}")
    axes[1].hist(scores / np.sqrt(d), bins=60, histtype="step", label=f"d = {d}")
axes[0].set_title("q . k")
axes[1].set_title("q . k / sqrt(d)")
for ax in axes:
    ax.legend(fontsize=8)
plt.show()

scores = rng.normal(size=8) * np.sqrt(512)  # eight scores as large as they are with d = 512
print("weights without scaling:", np.round(softmax(scores), 3))
print("weights with scaling:   ", np.round(softmax(scores / np.sqrt(512)), 3))

# %% [markdown]
# ### The causal mask
#
# The model learns to predict the next token, so when it reads token `i` it must not see the
# tokens after it - otherwise it would learn to copy the answer. So we **mask** the scores: every
# entry above the diagonal (`j > i`, the future) is set to `-inf` *before* the softmax. The
# softmax turns `-inf` into a weight of exactly 0 and shares the whole weight among the rest.
# (Setting the weights to 0 *after* the softmax instead would leave rows that no longer add up to
# 1; setting the scores to 0 would still give the future a weight, since `exp(0) = 1`.)

# %%
T = 5
future = np.triu(np.ones((T, T), dtype=bool), k=1)  # True above the diagonal
toy_scores = np.round(rng.normal(size=(T, T)), 1)
masked = np.where(future, -np.inf, toy_scores)

fig, axes = plt.subplots(1, 3, figsize=(12, 3.4))
for ax, matrix, title in zip(
    axes,
    (future, masked, softmax(masked)),
    ("future (j > i)", "scores, future = -inf", "softmax: weights"),
):
    ax.imshow(np.where(np.isinf(matrix), np.nan, matrix), cmap="viridis")
    for (row, col), value in np.ndenumerate(matrix):
        colour = "black" if np.isinf(value) else "white"
        ax.text(col, row, f"{value:.2g}", ha="center", va="center", fontsize=8, c=colour)
    ax.set_title(title)
    ax.set_xlabel("key j")
    ax.set_ylabel("query i")
plt.show()

# %% [markdown]
# ### Exercise 3.2: causal attention
#
# Write `causal_attention(q, k, v)` for arrays of shape `(..., time, d)` - one sequence
# `(time, d)` or a batch `(batch, time, d)`, and later heads too. Return `(out, weights)`:
#
# 1. `scores = q @ k^T / sqrt(d)`, where `k^T` swaps the last two axes (`np.swapaxes(k, -1, -2)`,
#    which works for any number of leading axes),
# 2. set the scores with `j > i` to `-inf` (`np.triu(..., k=1)` gives the mask, `np.where` applies
#    it),
# 3. `weights = softmax(scores)` over the last axis, with your softmax,
# 4. `out = weights @ v`.
#
# The check looks for the usual mistakes: a missing (or wrong) scale, no mask, the mask applied
# after the softmax, a masked diagonal.

# %%
def causal_attention(q: np.ndarray, k: np.ndarray, v: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Causal scaled dot-product attention on (..., T, d) arrays: returns (out, weights)."""
    ### BEGIN SOLUTION
    d = q.shape[-1]
    t = q.shape[-2]
    scores = q @ np.swapaxes(k, -1, -2) / np.sqrt(d)  # (..., T, T)
    future = np.triu(np.ones((t, t), dtype=bool), k=1)
    scores = np.where(future, -np.inf, scores)
    weights = softmax(scores, axis=-1)
    return weights @ v, weights
    ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "ch03_causal_attention", "points": 2, "locked": true}
causal_attention = check.causal_attention(causal_attention)
### BEGIN HIDDEN TESTS
_out, _w = causal_attention(np.zeros((3, 2)), np.zeros((3, 2)), np.eye(3, 2))
assert np.allclose(_w[2], [1 / 3, 1 / 3, 1 / 3]) and np.allclose(_w[0], [1.0, 0.0, 0.0])
### END HIDDEN TESTS

# %% [markdown]
# ### The library's attention layer
#
# `cl.SelfAttention` is your function with the three projections in front: Linear layers without
# bias, whose weights are stored `(out, in)` as in PyTorch, so `q = x @ W_q.T`. Given the same
# weights, it gives the same numbers as your `causal_attention` (and keeps its weights in
# `.weights`, shape `(batch, heads, time, time)`):

# %%
small = ModelConfig(vocab_size=10, d_model=16, d_hidden=32, max_seq_len=8)
attention = cl.SelfAttention(small, seed=1, dtype=np.float64)
x = rng.normal(size=(2, 6, 16))  # (batch, time, d_model)
params = attention.state_dict()  # "query.weight", "key.weight", "value.weight"
q, k, v = (x @ params[f"{name}.weight"].T for name in ("query", "key", "value"))
mine, my_weights = causal_attention(q, k, v)
print("same output: ", np.allclose(attention.forward(x), mine))
print("same weights:", np.allclose(attention.weights[:, 0], my_weights))

# %% [markdown]
# ## 3. Several heads
#
# One softmax row can only point in one main direction: "look at the previous word", say. But a
# token may need several things at once - the word before it, and the subject of the sentence.
# **Multi-head attention** runs several smaller attentions side by side. With `n_heads` heads,
# each query, key and value vector of width `d_model` is cut into `n_heads` pieces of width
# `head_dim = d_model // n_heads`, head `h` taking columns `h * head_dim` to
# `(h + 1) * head_dim - 1`. Each head attends on its own piece, and the outputs are glued back
# together.
#
# Your `causal_attention` already works on `(..., time, d)`, so all heads run in one call if we
# arrange the arrays as `(batch, heads, time, head_dim)`.
#
# ### Exercise 3.3: split into heads
#
# Write `split_heads(x, n_heads)`: `(batch, time, d_model)` -> `(batch, heads, time, head_dim)`.
# A single `reshape` to the final shape is not it: it would fill the heads with the wrong
# numbers. Reshape to `(batch, time, heads, head_dim)` first - each position's vector cut into
# pieces - then swap the heads and time axes.

# %%
def split_heads(x: np.ndarray, n_heads: int) -> np.ndarray:
    """(batch, time, d_model) -> (batch, heads, time, d_model // heads)."""
    ### BEGIN SOLUTION
    b, t, d = x.shape
    return x.reshape(b, t, n_heads, d // n_heads).transpose(0, 2, 1, 3)
    ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "ch03_split_heads", "points": 1, "locked": true}
split_heads = check.split_heads(split_heads)
### BEGIN HIDDEN TESTS
assert split_heads(np.arange(8.0).reshape(1, 2, 4), 2)[0, 1].tolist() == [[2.0, 3.0], [6.0, 7.0]]
### END HIDDEN TESTS

# %% [markdown]
# Gluing the heads back is the same steps in reverse: swap the axes back, then reshape to
# `(batch, time, d_model)`. You write it in exercise 3.7, in section 9; until then the library's
# `merge_heads` does it. Here four heads on random vectors; each head gets its own pattern:

# %%
from course_lib.checks.ch03 import reference_merge_heads as merge_heads

x = rng.normal(size=(1, 6, 16))  # (batch, time, d_model)
w_q, w_k, w_v = (rng.normal(size=(16, 16)) for _ in range(3))  # random projections
q, k, v = (split_heads(x @ w.T, 4) for w in (w_q, w_k, w_v))  # each (1, 4, 6, 4)
heads_out, heads_weights = causal_attention(q, k, v)
print("per head:", heads_out.shape, "-> merged:", merge_heads(heads_out).shape)

fig, axes = plt.subplots(1, 4, figsize=(12, 3))
for h, ax in enumerate(axes):
    ax.imshow(heads_weights[0, h], cmap="viridis", vmin=0, vmax=1)
    ax.set_title(f"head {h}")
    ax.set_xticks([])
    ax.set_yticks([])
plt.show()

# %% [markdown]
# ## 4. The feed-forward network
#
# After attention has mixed information between positions, each position's vector goes through a
# small two-layer network of its own: up to `d_hidden` features (twice `d_model` here), a ReLU,
# and back down,
#
# `ff(x) = W_down relu(W_up x + b_up) + b_down`.
#
# Attention is where tokens exchange information; the feed-forward network is where each one
# works on what it gathered. It never looks at other positions. Nudge the input at position 3
# and compare which outputs move, in the feed-forward network and in attention:

# %%
feed_forward = cl.FeedForward(small, seed=2, dtype=np.float64)
nudged = x.copy()
nudged[:, 3] += 1.0  # change position 3 only
for name, layer in (("feed-forward", feed_forward), ("attention", attention)):
    moved = np.abs(layer.forward(nudged) - layer.forward(x)).max(axis=(0, 2))  # per position
    print(f"{name:>12}: largest change at positions 0..5 = {np.round(moved, 3)}")

# %%
# The text below, checked against this run: which positions moved in each layer.
for layer, expected in ((feed_forward, [3]), (attention, [3, 4, 5])):
    change = np.abs(layer.forward(nudged) - layer.forward(x)).max(axis=(0, 2))  # (time,)
    assert np.flatnonzero(change > 1e-12).tolist() == expected

# %% [markdown]
# The feed-forward network moves only position 3. Attention moves position 3 and the positions
# after it, which look back at it - and never the positions before it: the causal mask at work.

# %% [markdown]
# ## 5. Layer norm
#
# As vectors pass through layer after layer, their scale drifts: some positions grow, others
# shrink, and the next layer's weights see inputs of ever-changing size. **Layer norm** resets
# every position's vector to mean 0 and variance 1 across its `d_model` features, then lets the
# model choose a scale `gamma` and a shift `beta` of its own (one per feature, learned):
#
# `x_hat = (x - mean(x)) / sqrt(var(x) + eps)`, `out = gamma * x_hat + beta`
#
# The mean and the variance are taken over the **last** axis, separately for every position of
# every sequence. `eps` (1e-5) keeps the division safe when all features are equal.
#
# ### Exercise 3.4: layer norm forward
#
# Write `layer_norm(x, gamma, beta, eps=1e-5)` for `x` of shape `(..., d_model)`. Use
# `keepdims=True` so the mean and the variance broadcast back over the features, and the plain
# variance `np.var` (which divides by `d_model`).

# %%
def layer_norm(
    x: np.ndarray, gamma: np.ndarray, beta: np.ndarray, eps: float = 1e-5
) -> np.ndarray:
    """Normalize each position's features to mean 0, variance 1, then scale and shift."""
    ### BEGIN SOLUTION
    mean = x.mean(axis=-1, keepdims=True)  # (..., 1)
    var = x.var(axis=-1, keepdims=True)  # (..., 1)
    return gamma * (x - mean) / np.sqrt(var + eps) + beta
    ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "ch03_layer_norm", "points": 1, "locked": true}
layer_norm = check.layer_norm(layer_norm)
### BEGIN HIDDEN TESTS
_y = layer_norm(np.array([[1.0, 3.0]]), np.ones(2), np.zeros(2), eps=0.0)
assert np.allclose(_y, [[-1.0, 1.0]])
### END HIDDEN TESTS

# %% [markdown]
# Six positions with very different means and scales, before and after (gamma = 1, beta = 0):
# every position comes out centred at 0 with the same spread.

# %%
drifting = rng.normal(size=(6, 128)) * np.arange(1, 7)[:, None] + np.arange(6)[:, None] * 3
normed = layer_norm(drifting, np.ones(128), np.zeros(128))
fig, axes = plt.subplots(1, 2, figsize=(11, 3), sharey=True)
axes[0].boxplot(drifting.T)
axes[0].set_title("before: each position's 128 features")
axes[1].boxplot(normed.T)
axes[1].set_title("after layer norm")
for ax in axes:
    ax.set_xlabel("position")
plt.show()

# %%
# The text above, checked against this run: mean 0 and standard deviation 1 at every position.
assert np.allclose(normed.mean(axis=-1), 0.0) and np.allclose(normed.std(axis=-1), 1.0, atol=1e-4)

# %% [markdown]
# ### Optional: derive it yourself first
#
# Before you read on: the next part prints the formula for layer norm's backward pass. If you
# like a puzzle, derive it yourself first, from the forward pass alone:
#
# `mean = mean(x)`, `var = mean((x - mean) ** 2)`, `x_hat = (x - mean) / sqrt(var + eps)`,
# `out = gamma * x_hat + beta` (means over the last axis).
#
# Write `layer_norm_backward_derived(grad_out, x, gamma, eps)` returning `(dx, dgamma, dbeta)`,
# the gradients of `sum(out * grad_out)`. Hint: go backward one line at a time, and remember that
# `x` reaches `x_hat` along three paths - directly, through `mean` and through `var` - whose
# gradients add up. Work on one position's vector of `d` features first; `keepdims=True` makes it
# work for all positions at once. The check tries the cases of exercise 3.5 (a batch and one
# sequence, finite differences, the default `eps`) and, when something is off, names the path or
# step of your derivation that is wrong without giving the formula away. This exercise counts
# for no points, so skip it freely.

# %%
def layer_norm_backward_derived(
    grad_out: np.ndarray, x: np.ndarray, gamma: np.ndarray, eps: float = 1e-5
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Gradients of layer norm with respect to x, gamma and beta, derived step by step."""
    ### BEGIN SOLUTION
    d = x.shape[-1]
    centred = x - x.mean(axis=-1, keepdims=True)
    var = (centred**2).mean(axis=-1, keepdims=True)
    inv_std = 1.0 / np.sqrt(var + eps)
    x_hat = centred * inv_std
    d_x_hat = grad_out * gamma
    d_var = np.sum(d_x_hat * centred, axis=-1, keepdims=True) * -0.5 * inv_std**3
    d_centred = d_x_hat * inv_std + d_var * 2.0 * centred / d  # direct path and through var
    dx = d_centred - d_centred.mean(axis=-1, keepdims=True)  # through the mean
    lead = tuple(range(x.ndim - 1))
    return dx, np.sum(grad_out * x_hat, axis=lead), np.sum(grad_out, axis=lead)
    ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "ch03_layer_norm_backward_derived", "points": 0, "locked": true}
layer_norm_backward_derived = check.layer_norm_backward_derived(layer_norm_backward_derived)
### BEGIN HIDDEN TESTS
# x = [0, 2] normalizes to x_hat = [-1, 1] (eps 0); with d = 2 the output cannot move, so dx = 0.
_g, _x = np.array([[1.0, 3.0]]), np.array([[0.0, 2.0]])
_dx, _dg, _db = layer_norm_backward_derived(_g, _x, np.ones(2), 0.0)
assert np.allclose(_dx, 0.0, atol=1e-6)
assert np.allclose(_dg, [-1.0, 3.0]) and np.allclose(_db, [1.0, 3.0])
### END HIDDEN TESTS

# %% [markdown]
# ### Layer norm backward
#
# Backward is where layer norm gets interesting. Every output feature depends on its own input
# *and*, through the mean and the variance, on every other feature of the same position. With
# `g = grad * gamma` (the gradient reaching `x_hat`) and `std = sqrt(var + eps)`, the chain rule
# gives three terms:
#
# `dx = (g - mean(g) - x_hat * mean(g * x_hat)) / std`
#
# - `g / std`: the direct path, as if the mean and variance were constants;
# - `- mean(g) / std`: the path through the mean (moving one feature moves the mean, which
#   moves every `x_hat` of the row);
# - `- x_hat * mean(g * x_hat) / std`: the path through the variance. Written out step by step,
#   it is `dvar = sum(g * (x - mean)) * -0.5 * std ** -3`, reaching each `x` through
#   `2 * (x - mean) / d_model`.
#
# The last term is where mistakes hide. The reference model (RustGPT, chapter 01) used the
# normalized `x_hat` in the step-by-step form where `x - mean` belongs, and its shape-only tests
# never noticed. A gradient check would have, at once.
#
# The parameters are simpler: `dgamma = sum(grad * x_hat)` and `dbeta = sum(grad)`, summed over
# every axis except the features (every position of every sequence used the same gamma).
#
# ### Exercise 3.5: layer norm backward
#
# Write `layer_norm_backward(grad_out, x, gamma, eps=1e-5)` returning `(dx, dgamma, dbeta)`,
# for `x` of shape `(..., d_model)`: recompute the mean, `std` and `x_hat` from `x`, then use the
# formulas above. The check compares with finite differences, on inputs whose mean is far from 0
# and whose spread is far from 1, so `x`, `x - mean` and `x_hat` cannot stand in for each other.
# It also calls your function without `eps`, as the gradient check below does.

# %%
def layer_norm_backward(
    grad_out: np.ndarray, x: np.ndarray, gamma: np.ndarray, eps: float = 1e-5
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Gradients of layer norm with respect to x, gamma and beta."""
    ### BEGIN SOLUTION
    mean = x.mean(axis=-1, keepdims=True)
    std = np.sqrt(x.var(axis=-1, keepdims=True) + eps)  # (..., 1)
    x_hat = (x - mean) / std
    g = grad_out * gamma
    g_mean = g.mean(axis=-1, keepdims=True)  # the path through the mean
    variance_term = x_hat * (g * x_hat).mean(axis=-1, keepdims=True)  # through the variance
    dx = (g - g_mean - variance_term) / std
    lead = tuple(range(x.ndim - 1))  # every axis but the features
    return dx, np.sum(grad_out * x_hat, axis=lead), np.sum(grad_out, axis=lead)
    ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "ch03_layer_norm_backward", "points": 2, "locked": true}
layer_norm_backward = check.layer_norm_backward(layer_norm_backward)
### BEGIN HIDDEN TESTS
_x = np.array([[1.0, 2.0, 4.0], [0.0, 0.0, 3.0]])
_dx, _dg, _db = layer_norm_backward(np.ones((2, 3)), _x, np.ones(3))
assert np.allclose(_dx, 0.0, atol=1e-6) and np.allclose(_db, [2.0, 2.0, 2.0])
### END HIDDEN TESTS

# %% [markdown]
# Here is the gradient check, done in the open. The loss is `sum(layer_norm(x) * grad_out)`,
# whose gradient is exactly what `layer_norm_backward(grad_out, ...)` returns; `numerical_gradient`
# nudges every entry of `x` (then of gamma, then of beta) by a tiny step (`h = 1e-5`) and
# watches the loss. Everything runs in float64; the next cells show why.

# %%
x = rng.normal(size=(2, 4, 8)) * 3.0 + 1.0  # (batch, time, d_model)
gamma, beta = rng.normal(size=8), rng.normal(size=8)
grad_out = rng.normal(size=x.shape)
dx, dgamma, dbeta = layer_norm_backward(grad_out, x, gamma)

numeric_dx = numerical_gradient(lambda x_: np.sum(layer_norm(x_, gamma, beta) * grad_out), x)
numeric_dgamma = numerical_gradient(lambda g_: np.sum(layer_norm(x, g_, beta) * grad_out), gamma)
numeric_dbeta = numerical_gradient(lambda b_: np.sum(layer_norm(x, gamma, b_) * grad_out), beta)
print(f"dx     relative error {rel_error(dx, numeric_dx):.1e}")
print(f"dgamma relative error {rel_error(dgamma, numeric_dgamma):.1e}")
print(f"dbeta  relative error {rel_error(dbeta, numeric_dbeta):.1e}")

# %%
# The text above, checked against this run: a right backward gives a tiny error.
assert max(rel_error(dx, numeric_dx), rel_error(dgamma, numeric_dgamma)) < 1e-6
assert rel_error(dbeta, numeric_dbeta) < 1e-6

# %% [markdown]
# Why float64? A float32 number keeps only about 7 significant digits. Nudging by `h = 1e-5`
# changes the loss in about its fifth or sixth digit, so the difference `L(x + h) - L(x - h)`
# keeps only a digit or two. The rounding alone then gives relative errors around 1e-1 in a
# typical entry and up to 1 in the worst, as large as those of a real mistake. The same check on
# `x` in float32:

# %%
def float32_gradient(f, x: np.ndarray, h: float = 1e-5) -> np.ndarray:
    """Central differences like numerical_gradient, but on a float32 copy of x."""
    x32 = x.astype(np.float32)
    grad = np.zeros(x.shape)
    for index in np.ndindex(x.shape):
        original = x32[index]
        x32[index] = original + np.float32(h)
        up = float(f(x32))
        x32[index] = original - np.float32(h)
        down = float(f(x32))
        x32[index] = original
        grad[index] = (up - down) / (2 * h)
    return grad


gamma32, beta32, grad_out32 = (a.astype(np.float32) for a in (gamma, beta, grad_out))
numeric32 = float32_gradient(lambda x_: np.sum(layer_norm(x_, gamma32, beta32) * grad_out32), x)
errors32 = np.abs(dx - numeric32) / (np.abs(dx) + np.abs(numeric32))  # per entry
print(f"float32: relative error {rel_error(dx, numeric32):.1e} "
      f"(half the entries above {np.median(errors32):.0e})")  # fmt: skip
# The text above, checked against this run: around 1e-1 typically, up to 1 at worst.
assert 3e-2 < np.median(errors32) < 0.3 and rel_error(dx, numeric32) > 0.5

# %% [markdown]
# And the mistake from above, for comparison - the variance path with `x_hat` in place of
# `x - mean`:

# %%
def layer_norm_backward_with_x_hat_bug(grad_out, x, gamma, eps=1e-5):
    d = x.shape[-1]
    mean = x.mean(axis=-1, keepdims=True)
    std = np.sqrt(x.var(axis=-1, keepdims=True) + eps)
    x_hat = (x - mean) / std
    g = grad_out * gamma
    dvar = np.sum(g * x_hat, axis=-1, keepdims=True) * -0.5 * std**-3  # x_hat: should be x - mean
    dmean = -np.sum(g, axis=-1, keepdims=True) / std
    return g / std + dvar * 2 * x_hat / d + dmean / d  # and here again


buggy_dx = layer_norm_backward_with_x_hat_bug(grad_out, x, gamma)
print(f"dx with the bug: relative error {rel_error(buggy_dx, numeric_dx):.1e}")

# %%
# The text above, checked against this run: the mistake shows up at once.
assert rel_error(buggy_dx, numeric_dx) > 0.1

# %% [markdown]
# ## 6. Residuals, post-norm and pre-norm
#
# A block does not replace its input with the output of attention; it **adds** it:
# `x + attention(x)`. The same for the feed-forward network. These **residual connections** let
# every layer make a small correction instead of rebuilding the whole vector, and they give the
# gradient a direct path back through the block (the derivative of `x` is 1).
#
# Where do the layer norms go? There are two customs:
#
# - **post-norm** (the original transformer, and the model of this course):
#   `h = norm1(x + attention(x))`, then `y = norm2(h + ff(h))`;
# - **pre-norm** (GPT-2 and most models since): `h = x + attention(norm1(x))`, then
#   `y = h + ff(norm2(h))`, and one last norm after the final block.
#
# Post-norm normalizes the running sum itself after every step. Pre-norm normalizes only what
# each sub-layer reads and leaves the sum - the "residual stream" - untouched, so it keeps
# growing from block to block, and the gradient flows back along it unchanged; deep models train
# more easily that way. `cl.TransformerBlock` does either (`ModelConfig(norm="post" | "pre")`).
# Here is the size of each position's vector after each of twelve untrained blocks:

# %%
plt.figure(figsize=(6, 3.2))
for norm in ("post", "pre"):
    config = ModelConfig(vocab_size=10, d_model=32, d_hidden=64, max_seq_len=16, norm=norm)
    h = rng.normal(size=(4, 16, 32))  # (batch, time, d_model)
    sizes = [np.linalg.norm(h, axis=-1).mean()]
    for seed in range(12):
        h = cl.TransformerBlock(config, seed=seed, dtype=np.float64).forward(h)
        sizes.append(np.linalg.norm(h, axis=-1).mean())
    plt.plot(sizes, marker="o", label=f"{norm}-norm")
plt.xlabel("after block")
plt.ylabel("mean length of a position's vector")
plt.legend()
plt.show()

# %% [markdown]
# With post-norm every block ends in a layer norm, so every vector comes out with length
# `sqrt(d_model)` (about 5.7 here). With pre-norm the stream grows as each block adds its part.
#
# The two kinds of block, drawn with the shape of the data at every arrow (`B` sequences of `T`
# tokens, `d_model = 128` as in the course's model). Follow the dashed residual paths: in
# post-norm each one ends before a norm, in pre-norm it runs past every norm.

# %%
from course_lib import diagrams

diagrams.block_data_flow("post"), diagrams.block_data_flow("pre");

# %% [markdown]
# ### Optional: derive attention's backward pass yourself first
#
# Section 7 prints the backward pass of attention. To derive it yourself first, from the forward
# pass alone:
#
# `scores = q @ k^T / sqrt(d)`, masked (`j > i` set to `-inf`), `weights = softmax(scores)` row by
# row, `out = weights @ v`.
#
# Write `attention_backward_derived(grad_out, q, k, v, weights)` returning `(dq, dk, dv)`, the
# gradients of `sum(out * grad_out)`, for arrays of shape `(..., time, d)`. Hints: a matrix
# product `C = A @ B` sends the gradient `G` back as `G @ B^T` to `A` and `A^T @ G` to `B`. For one
# row of the softmax, `p = softmax(s)`, work out `d p_i / d s_j` on paper (two cases: `i = j` and
# `i != j`) and multiply by the gradient of `p`. A masked score has weight 0: what does that make
# its gradient? The check tries the cases of exercise 3.6 (one sequence, a batch, a batch of
# heads) and names the step that is off without giving the formula away; no points.

# %%
def attention_backward_derived(
    grad_out: np.ndarray, q: np.ndarray, k: np.ndarray, v: np.ndarray, weights: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Gradients of causal attention's output with respect to q, k and v, derived."""
    ### BEGIN SOLUTION
    d_weights = grad_out @ np.swapaxes(v, -1, -2)  # (..., T, T)
    dv = np.swapaxes(weights, -1, -2) @ grad_out
    # d p_i / d s_j = p_i (delta_ij - p_j): a Jacobian per row, applied without building it.
    row_dot = np.einsum("...ij,...ij->...i", d_weights, weights)[..., None]
    d_scores = weights * (d_weights - row_dot) / np.sqrt(q.shape[-1])
    return d_scores @ k, np.swapaxes(d_scores, -1, -2) @ q, dv
    ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "ch03_attention_backward_derived", "points": 0, "locked": true}
attention_backward_derived = check.attention_backward_derived(attention_backward_derived)
### BEGIN HIDDEN TESTS
# One position attends only to itself with weight 1: q and k get no gradient, v gets all of it.
_g = np.array([[1.0, 2.0]])
_dq, _dk, _dv = attention_backward_derived(_g, _g, _g, _g, np.ones((1, 1)))
assert np.allclose(_dq, 0.0) and np.allclose(_dk, 0.0) and np.allclose(_dv, _g)
### END HIDDEN TESTS

# %%
# The text above, checked on twelve fresh blocks of each kind (own random numbers).
def vector_lengths(norm: str) -> list[np.ndarray]:
    config = ModelConfig(vocab_size=10, d_model=32, d_hidden=64, max_seq_len=16, norm=norm)
    h = np.random.default_rng(1).normal(size=(4, 16, 32))  # (batch, time, d_model)
    lengths = []
    for seed in range(12):
        h = cl.TransformerBlock(config, seed=seed, dtype=np.float64).forward(h)
        lengths.append(np.linalg.norm(h, axis=-1))  # (batch, time)
    return lengths


assert all(np.allclose(length, np.sqrt(32), rtol=1e-3) for length in vector_lengths("post"))
pre_lengths = [length.mean() for length in vector_lengths("pre")]
assert np.all(np.diff(pre_lengths) > 0)

# %% [markdown]
# ## 7. Attention backward
#
# The last backward pass of the block, and the one with the most steps. Going backward through
# `out = weights @ v`, the softmax and `scores = q @ k^T / sqrt(d)`, with `grad` the gradient
# of `out`:
#
# 1. `dv = weights^T @ grad` and `d_weights = grad @ v^T` (a matrix product's two gradients);
# 2. the softmax: each weight of a row depends on every score of that row, so
#    `d_scores = weights * (d_weights - sum(d_weights * weights, axis=-1, keepdims=True))`.
#    Masked scores have weight 0, so their gradient is 0 by itself - no mask needed here;
# 3. the scaled product: `dq = d_scores @ k / sqrt(d)` and `dk = d_scores^T @ q / sqrt(d)`.
#
# The forward pass divided by `sqrt(d)`, so the backward pass must too. The reference model
# (RustGPT) forgot it: its `dq` and `dk` were `sqrt(128)`, about 11, times too large, and
# since it trained anyway, nobody noticed. Only a gradient check tells you.
#
# ### Exercise 3.6: attention backward
#
# Write `attention_backward(grad_out, q, k, v, weights)` returning `(dq, dk, dv)` for arrays of
# shape `(..., time, d)`; `weights` are the ones your forward pass returned. Use
# `np.swapaxes(a, -1, -2)` for every transpose.

# %%
def attention_backward(
    grad_out: np.ndarray, q: np.ndarray, k: np.ndarray, v: np.ndarray, weights: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Gradients of causal attention's output with respect to q, k and v."""
    ### BEGIN SOLUTION
    scale = 1.0 / np.sqrt(q.shape[-1])
    dv = np.swapaxes(weights, -1, -2) @ grad_out  # (..., T, d)
    d_weights = grad_out @ np.swapaxes(v, -1, -2)  # (..., T, T)
    d_scores = weights * (d_weights - np.sum(d_weights * weights, axis=-1, keepdims=True))
    dq = d_scores @ k * scale
    dk = np.swapaxes(d_scores, -1, -2) @ q * scale
    return dq, dk, dv
    ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "ch03_attention_backward", "points": 2, "locked": true}
attention_backward = check.attention_backward(attention_backward)
### BEGIN HIDDEN TESTS
_q = np.ones((2, 4))
_w = np.array([[1.0, 0.0], [0.5, 0.5]])  # causal weights of equal queries and keys
_dq, _dk, _dv = attention_backward(np.ones((2, 4)), _q, _q, _q, _w)
assert np.allclose(_dq, 0.0) and np.allclose(_dv.sum(), 8.0)
### END HIDDEN TESTS

# %% [markdown]
# The gradient check once more, for all three inputs, through your forward pass:

# %%
q, k, v = (rng.normal(size=(2, 5, 8)) for _ in range(3))
grad_out = rng.normal(size=(2, 5, 8))
_, weights = causal_attention(q, k, v)
grads = attention_backward(grad_out, q, k, v, weights)

inputs = {"q": q, "k": k, "v": v}
for (name, value), analytic in zip(inputs.items(), grads):

    def loss(changed: np.ndarray, name: str = name) -> float:
        args = {**inputs, name: changed}
        return float(np.sum(causal_attention(args["q"], args["k"], args["v"])[0] * grad_out))

    print(f"d{name} relative error {rel_error(analytic, numerical_gradient(loss, value)):.1e}")

# %%
# The text above, checked against this run: all three gradients are right.
for (name, value), analytic in zip(inputs.items(), grads):

    def changed_loss(changed: np.ndarray, name: str = name) -> float:
        args = {**inputs, name: changed}
        return float(np.sum(causal_attention(args["q"], args["k"], args["v"])[0] * grad_out))

    assert rel_error(analytic, numerical_gradient(changed_loss, value)) < 1e-6, name

# %% [markdown]
# ## 8. What a trained model looks at
#
# Time to see attention at work on a real sentence. We train a small model on the course corpus
# for a few seconds - two blocks of two heads each, `d_model = 32` - with the library's
# `cl.train`, as in chapter 02 (25 epochs, that is passes over the corpus, at learning rate
# `lr`; chapter 05 is where you write the training loop yourself), then look at its attention
# weights for a conversation from the corpus.

# %%
from course_lib.corpus import chat_texts, pretraining_texts
from course_lib.vocab import Vocab

facts, chat = pretraining_texts(), chat_texts()
vocab = Vocab.build(facts + chat)
config = ModelConfig(vocab_size=len(vocab), d_model=32, d_hidden=64, n_layers=2, n_heads=2)
model = cl.LLM(config, seed=0)
losses = cl.train(model, vocab, facts + chat, epochs=25, lr=5e-3, batch_size=16)
print(f"loss: {losses[0]:.2f} in the first epoch, {losses[-1]:.2f} in the last")

# %% [markdown]
# In the viewer each row is a token of the prompt and each column a token it may look at; a
# bright square means a large weight. Everything above the diagonal is dark: the causal mask.
# It opens on the second layer (layer 1), second head; pick others with the sliders, or type your
# own prompt (words the vocabulary knows) and press Enter.
#
# Things to look for. In the first layer (layer 0) the weights are spread almost evenly over
# everything before: each token takes an average of the sentence so far. The second layer is
# much sharper, and its two heads share out the work. Take the `:` after `Assistant`, the point
# where the answer begins. In head 1, where the viewer opens, it keeps most of its weight on
# itself and on `Assistant`: it marks *where* the answer starts. Switch to head 0: there the same
# `:` looks back into the question, at the words the model needs to know before it starts
# answering. Which question word gets the most weight differs from machine to machine (the
# check after the viewer prints it for yours); that the weight goes to the question does not.

# %%
from course_lib.widgets import AttentionViewer

viewer = AttentionViewer(model, vocab, prompt=chat[0].replace(" </s>", ""), layer=1, head=1)
viewer

# %%
# The text above, checked against this run (the bands hold on every machine: course_lib.claims).
from course_lib.claims import within
from course_lib.widgets.attention_viewer import attention_maps

shown, maps = attention_maps(model, vocab, chat[0].replace(" </s>", ""))  # (layers, heads, T, T)
answer_colon = shown.index("Assistant") + 1  # the `:` after Assistant
question = slice(shown.index(":") + 1, shown.index("Assistant"))  # "What is rain ?"
entropy = -np.sum(maps * np.log(np.maximum(maps, 1e-12)), axis=-1)  # (layers, heads, T)
evenness = entropy[..., 1:] / np.log(np.arange(2, len(shown) + 1))  # 1 = perfectly even
within("ch03.layer0_evenness", evenness[0].min())  # layer 0: almost even
within("ch03.layer1_sharpness", maps[1].max(axis=-1).mean() / maps[0].max(axis=-1).mean())
head1, head0 = maps[1, 1, answer_colon], maps[1, 0, answer_colon]
within("ch03.head1_colon_on_answer_start", head1[answer_colon] + head1[answer_colon - 1])
within("ch03.head0_colon_on_question", head0[question].sum())
print(f"head 1: {head1[answer_colon] + head1[answer_colon - 1]:.0%} of the weight on itself and "
      f"`Assistant`; head 0: {head0[question].sum():.0%} on the question, most on "
      f"`{shown[question.start + head0[question].argmax()]}`")  # fmt: skip

# %% [markdown]
# Every layer and head of the same prompt as a still picture: it stays in the saved notebook and
# shows without a running kernel (a widget needs one).

# %%
viewer.static()

# %% [markdown]
# ## 9. Build the block yourself
#
# Every piece of the block is now yours except three: gluing the heads back, the feed-forward
# network, and the block itself, which wires the pieces together with the residuals and norms.
# Each function below takes arrays and returns arrays; the weights come as a dict of named
# arrays, the same names and shapes the library's layers keep in their `state_dict()`.
#
# ### Exercise 3.7: merge the heads
#
# Write `merge_heads(x)`: `(batch, heads, time, head_dim)` -> `(batch, time, heads * head_dim)`,
# the inverse of `split_heads`. Head `h`'s output must land in columns `h * head_dim` to
# `(h + 1) * head_dim - 1`. Read the sizes from `x.shape`, in its order. The check tries two
# shapes, one with a batch of 1 (keep every axis), and names heads glued in the wrong order or
# interleaved, positions mixed into heads, and the heads stacked along time.

# %%
def merge_heads(x: np.ndarray) -> np.ndarray:
    """(batch, heads, time, head_dim) -> (batch, time, heads * head_dim)."""
    ### BEGIN SOLUTION
    b, h, t, hd = x.shape
    return x.transpose(0, 2, 1, 3).reshape(b, t, h * hd)
    ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "ch03_merge_heads", "points": 1, "locked": true}
merge_heads = check.merge_heads(merge_heads)
### BEGIN HIDDEN TESTS
_x = np.arange(12.0).reshape(1, 3, 4)
assert np.array_equal(merge_heads(split_heads(_x, 2)), _x)
### END HIDDEN TESTS

# %% [markdown]
# ### Exercise 3.8: the feed-forward network
#
# Write `feed_forward(x, w_up, b_up, w_down, b_down)` for `x` of shape `(..., d_model)`:
#
# `hidden = relu(x @ w_up.T + b_up)`, `out = hidden @ w_down.T + b_down`.
#
# The weights are stored `(out, in)` as in the library (and PyTorch): `w_up` is
# `(d_hidden, d_model)`, `w_down` is `(d_model, d_hidden)`. `np.maximum(a, 0)` is the ReLU
# (`np.max(a, 0)` is something else: the largest entry along axis 0). The check tries one
# sequence and a batch, with biases far from 0; it names a missing or misplaced ReLU or bias,
# the weights used untransposed or the wrong way round, and another activation (GELU, leaky
# ReLU, ...): this network uses the ReLU.

# %%
def feed_forward(
    x: np.ndarray, w_up: np.ndarray, b_up: np.ndarray, w_down: np.ndarray, b_down: np.ndarray
) -> np.ndarray:
    """relu(x @ w_up.T + b_up) @ w_down.T + b_down at every position."""
    ### BEGIN SOLUTION
    hidden = np.maximum(x @ w_up.T + b_up, 0.0)  # (..., d_hidden)
    return hidden @ w_down.T + b_down  # (..., d_model)
    ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "ch03_feed_forward", "points": 1, "locked": true}
feed_forward = check.feed_forward(feed_forward)
### BEGIN HIDDEN TESTS
_y = feed_forward(np.ones((1, 2)), np.eye(2), -2.0 * np.ones(2), np.eye(2), np.ones(2))
assert np.allclose(_y, 1.0)  # the ReLU cuts 1 - 2 to 0, then + 1
### END HIDDEN TESTS

# %% [markdown]
# With the weights of the library's `cl.FeedForward` (from section 4), your function gives the
# same numbers:

# %%
library_ff = cl.FeedForward(small, seed=2, dtype=np.float64)
weights = library_ff.state_dict()  # "up.weight" (32, 16), "up.bias", "down.weight" (16, 32), ...
x = rng.normal(size=(2, 6, 16))  # (batch, time, d_model)
w_up, b_up = weights["up.weight"], weights["up.bias"]
w_down, b_down = weights["down.weight"], weights["down.bias"]
mine = feed_forward(x, w_up, b_up, w_down, b_down)
print("same as cl.FeedForward:", np.allclose(mine, library_ff.forward(x)))

# %% [markdown]
# ### Exercise 3.9: the feed-forward network, backward
#
# Write `feed_forward_backward(grad_out, x, w_up, b_up, w_down)` returning
# `(dx, dw_up, db_up, dw_down, db_down)`, the gradients of `sum(feed_forward(...) * grad_out)`,
# for `x` and `grad_out` of shape `(..., d_model)` as in exercise 3.8: the check tries a batch
# `(batch, time, d_model)` and one sequence `(time, d_model)`. Recompute
# `pre = x @ w_up.T + b_up` and `hidden = relu(pre)`, then go backward:
#
# - the second layer: `dw_down = grad_out^T @ hidden` and `db_down = sum(grad_out)` over every
#   position, and `d_hidden = grad_out @ w_down`;
# - the ReLU passes gradient only where its input was positive: `d_pre = d_hidden * (pre > 0)`;
# - the first layer the same way: `dw_up`, `db_up` from `d_pre` and `x`, and `dx = d_pre @ w_up`.
#
# A weight's gradient has the weight's shape, `(out, in)`. Flatten every axis but the last into
# rows (`a.reshape(-1, a.shape[-1])`) so one matrix product sums over every position, whatever
# the number of leading axes. Return the five in the order of the signature. Where `pre` is
# exactly 0 the ReLU passes no gradient (`pre > 0`, as in the library and PyTorch): the check
# also tries whole numbers where that happens.

# %%
def feed_forward_backward(
    grad_out: np.ndarray, x: np.ndarray, w_up: np.ndarray, b_up: np.ndarray, w_down: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Gradients of the feed-forward network: (dx, dw_up, db_up, dw_down, db_down)."""
    ### BEGIN SOLUTION
    pre = x @ w_up.T + b_up  # (..., d_hidden)
    hidden = np.maximum(pre, 0.0)
    g_rows = grad_out.reshape(-1, grad_out.shape[-1])  # (positions, d_model)
    dw_down = g_rows.T @ hidden.reshape(-1, hidden.shape[-1])  # (d_model, d_hidden)
    db_down = g_rows.sum(axis=0)
    d_pre = (grad_out @ w_down) * (pre > 0)  # (..., d_hidden)
    p_rows = d_pre.reshape(-1, d_pre.shape[-1])
    dw_up = p_rows.T @ x.reshape(-1, x.shape[-1])  # (d_hidden, d_model)
    return d_pre @ w_up, dw_up, p_rows.sum(axis=0), dw_down, db_down
    ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "ch03_feed_forward_backward", "points": 2, "locked": true}
feed_forward_backward = check.feed_forward_backward(feed_forward_backward)
### BEGIN HIDDEN TESTS
_o = np.ones((1, 2))
_g = feed_forward_backward(_o, _o, np.eye(2), -2.0 * np.ones(2), np.eye(2))
assert np.allclose(_g[0], 0.0) and np.allclose(_g[4], 1.0) and np.allclose(_g[2], 0.0)
### END HIDDEN TESTS

# %% [markdown]
# The gradient check, on all five gradients:

# %%
grad_out = rng.normal(size=x.shape)
ff_inputs = {"x": x, "w_up": w_up, "b_up": b_up, "w_down": w_down, "b_down": b_down}
for (name, value), analytic in zip(
    ff_inputs.items(), feed_forward_backward(grad_out, x, w_up, b_up, w_down), strict=True
):

    def loss(changed: np.ndarray, name: str = name) -> float:
        return float(np.sum(feed_forward(**{**ff_inputs, name: changed}) * grad_out))

    print(f"d{name:<7} relative error {rel_error(analytic, numerical_gradient(loss, value)):.1e}")

# %% [markdown]
# ### Exercise 3.10: the whole block
#
# Write `block_forward(x, params, n_heads=1, norm="post", eps=1e-5)` for `x` of shape
# `(batch, time, d_model)`, with your functions:
#
# - attention: `q = x @ params["attention.query.weight"].T` (and the same for `key` and `value`),
#   each split into `n_heads` heads, `causal_attention`, then `merge_heads`;
# - the feed-forward network with `params["feed_forward.up.weight"]`, `["feed_forward.up.bias"]`,
#   `["feed_forward.down.weight"]`, `["feed_forward.down.bias"]`;
# - `norm1` and `norm2`: `layer_norm` with `params["norm1.weight"]` (gamma) and
#   `params["norm1.bias"]` (beta), and the same for `norm2`;
# - wired as in section 6: post-norm `h = norm1(x + attention(x))`, `y = norm2(h + ff(h))`;
#   pre-norm `h = x + attention(norm1(x))`, `y = h + ff(norm2(h))`.
#
# Small inner functions (`def attention(h): ...`) keep it readable. The check compares with the
# library's block for both placements, one head and two, and once with `eps=0.5` on inputs of
# small variance (so pass `eps` on to `layer_norm`). It names the usual mistakes: a residual
# missing, in the wrong place or added twice, the norms before instead of after (or the other way
# round), norm1 and norm2 swapped or one of them used twice, one head where there should be
# several, heads cut or glued without `split_heads` and `merge_heads`.

# %%
def block_forward(
    x: np.ndarray, params: dict[str, np.ndarray], n_heads: int = 1, norm: str = "post",
    eps: float = 1e-5,
) -> np.ndarray:  # fmt: skip
    """One transformer block: (batch, time, d_model) -> (batch, time, d_model)."""
    ### BEGIN SOLUTION
    def attention(h: np.ndarray) -> np.ndarray:
        q, k, v = (
            split_heads(h @ params[f"attention.{name}.weight"].T, n_heads)
            for name in ("query", "key", "value")
        )  # each (batch, heads, time, head_dim)
        return merge_heads(causal_attention(q, k, v)[0])

    def ff(h: np.ndarray) -> np.ndarray:
        up, down = "feed_forward.up", "feed_forward.down"
        return feed_forward(
            h, params[f"{up}.weight"], params[f"{up}.bias"], params[f"{down}.weight"],
            params[f"{down}.bias"],
        )  # fmt: skip

    def norm1(h: np.ndarray) -> np.ndarray:
        return layer_norm(h, params["norm1.weight"], params["norm1.bias"], eps)

    def norm2(h: np.ndarray) -> np.ndarray:
        return layer_norm(h, params["norm2.weight"], params["norm2.bias"], eps)

    if norm == "post":
        h = norm1(x + attention(x))
        return norm2(h + ff(h))
    h = x + attention(norm1(x))
    return h + ff(norm2(h))
    ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "ch03_block_forward", "points": 2, "locked": true}
block_forward = check.block_forward(block_forward)
### BEGIN HIDDEN TESTS
# All weights 0: attention and feed-forward add nothing, so a pre-norm block returns x.
_p = {f"attention.{n}.weight": np.zeros((4, 4)) for n in ("query", "key", "value")}
_p.update({"feed_forward.up.weight": np.zeros((6, 4)), "feed_forward.up.bias": np.zeros(6)})
_p.update({"feed_forward.down.weight": np.zeros((4, 6)), "feed_forward.down.bias": np.zeros(4)})
_p.update({f"norm{i}.weight": np.ones(4) for i in (1, 2)})
_p.update({f"norm{i}.bias": np.zeros(4) for i in (1, 2)})
_x = np.arange(24.0).reshape(1, 6, 4) % 5
assert np.allclose(block_forward(_x, _p, 2, "pre"), _x)
### END HIDDEN TESTS

# %% [markdown]
# Your block against the library's `cl.TransformerBlock` with the same weights, in both
# placements and with two heads:

# %%
for norm in ("post", "pre"):
    config = ModelConfig(
        vocab_size=10, d_model=16, d_hidden=32, max_seq_len=8, n_heads=2, norm=norm
    )
    library_block = cl.TransformerBlock(config, seed=4, dtype=np.float64)
    x = rng.normal(size=(2, 6, 16))
    mine = block_forward(x, library_block.state_dict(), n_heads=2, norm=norm)
    print(f"{norm}-norm: largest difference {np.abs(mine - library_block.forward(x)).max():.1e}")

# %% [markdown]
# ## Questions to think about
#
# Answer each in two to four sentences, in the cell under it. There is no check: your instructor
# reads the answers.
#
# **Question 1.** Section 2 divides the scores by `sqrt(d)`. Someone proposes to divide by `d`
# instead, "to be safe". With `d = 128`, what would the attention weights of an untrained model
# look like, and what would that do to learning?

# %% [markdown] nbgrader={"grade": true, "grade_id": "ch03_written_sqrt_d", "points": 1, "solution": true}
# ### BEGIN SOLUTION
# Dividing by d makes the scores' standard deviation 1 / sqrt(d), about 0.09 for d = 128, so every
# softmax row is almost uniform: each token takes a near-even average of everything before it,
# whatever the queries and keys say. The gradient reaching q and k is divided by d as well (128
# times smaller instead of about 11), so the model learns to focus its attention very slowly; it
# behaves for a long time like a bag of the previous words. sqrt(d) is the factor that keeps the
# scores' variance at 1: neither saturated nor flat.
# ### END SOLUTION

# %% [markdown]
# **Question 2.** What would change if we trained on next-token prediction *without* the causal
# mask, so that every position could attend to every other one (a "bidirectional" mask)? Think
# of the training loss and of generation.

# %% [markdown] nbgrader={"grade": true, "grade_id": "ch03_written_bidirectional", "points": 1, "solution": true}
# ### BEGIN SOLUTION
# Position i could then see token i + 1, which is exactly its target, so the model would learn to
# copy it: the training loss would fall towards 0 quickly without the model learning anything
# about language. At generation time the next token does not exist yet - the last position has
# nothing after it to copy - so the predictions would be poor. And every time a token is added,
# the outputs at the earlier positions would change too, since they now see it.
# ### END SOLUTION

# %% [markdown]
# **Question 3.** Why does the feed-forward network need the ReLU between its two layers? What
# would the block lose without it?

# %% [markdown] nbgrader={"grade": true, "grade_id": "ch03_written_relu", "points": 1, "solution": true}
# ### BEGIN SOLUTION
# Without the ReLU, w_down (w_up x + b_up) + b_down is a single linear map, (w_down w_up) x + b: the
# two layers and the 256 hidden features would be worth no more than one d_model x d_model
# matrix. Attention's output is a weighted average of linear maps of the values, so a block
# without the nonlinearity could only compute linear functions of its input per position; the
# ReLU lets each position's vector be transformed in a nonlinear way (features that switch on
# and off), which is where the model stores most of what it knows.
# ### END SOLUTION

# %% [markdown]
# ## Your score
#
# That is every piece of a transformer block, forward and backward, each one checked against
# finite differences. Chapter 04 builds the optimizer that uses these gradients, and chapter 05
# stacks the blocks into the complete model and trains it.

# %%
checks.summary();
