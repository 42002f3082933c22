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
# # Chapter 02: Embeddings
#
# After chapter 01 a text is a list of ids: `[5, 113, 402, 1]`. But an id is only a name. Token
# 402 is not "more" than token 113, and nothing about the number 402 says that it means "sea".
# A model needs something it can compute with: a **vector** of numbers for every token, numbers
# that training can move until tokens used alike end up alike.
#
# Those vectors sit in one big matrix, the **embedding table**: one row per token of the
# vocabulary. In this chapter you build it and look at it:
#
# 1. the lookup, and why it is the same as multiplying a one-hot vector by the table,
# 2. its backward pass, a scatter-add with a well-known trap,
# 3. positions: how the model knows which token came first (learned and sinusoidal),
# 4. similarity: cosine similarity and nearest neighbours,
# 5. a small model trained for a few seconds, to watch the embeddings move, and an inspector.
#
# Each exercise is a function you write; the cell after it checks your function. If you skip
# one, its check says "not done yet" and the chapter goes on with the library's version.

# %%
import time

import matplotlib.pyplot as plt
import numpy as np

from course_lib import checks
from course_lib import numpy as cl
from course_lib.checks import ch02 as check
from course_lib.config import ModelConfig
from course_lib.corpus import chat_texts, pretraining_texts
from course_lib.vocab import Vocab

# %% [markdown]
# ## 1. The embedding table
#
# Take the course vocabulary from chapter 01, and give every token a row of `d_model` numbers.
# Before training, the numbers are small and random (the model of this course draws them from a
# normal distribution with standard deviation 0.02). We use `d_model = 16` here so that a row
# fits on the screen; the real model uses 128.

# %%
facts = pretraining_texts()
chat = chat_texts()
vocab = Vocab.build(facts + chat)

d_model = 16
rng = np.random.default_rng(0)
table = rng.normal(0.0, 0.02, size=(len(vocab), d_model))  # (vocab, d_model)
print("table shape:", table.shape, "- one row per token")
print("the row of 'sea':", np.round(table[vocab.token_to_id["sea"]], 3))

# %% [markdown]
# ### The lookup is a matrix product
#
# Write token `i` as a **one-hot** vector: as long as the vocabulary, all zeros except a 1 at
# position `i`. Multiplying that vector by the table adds up the rows, each weighted by its
# entry - and only row `i` has a weight that is not 0. So `one_hot(ids) @ table` gives exactly the
# rows `table[ids]`: the lookup *is* a matrix product. Here is the picture for a tiny vocabulary
# of 6 tokens and `d_model = 4`:

# %%
tiny_table = np.round(rng.normal(size=(6, 4)), 1)  # (vocab 6, d_model 4)
tiny_ids = np.array([4, 1, 4])
one_hot = np.eye(6)[tiny_ids]  # (3, 6): row t has a 1 at column tiny_ids[t]

fig, axes = plt.subplots(1, 3, figsize=(11, 2.8), gridspec_kw={"width_ratios": [6, 4, 4]})
for ax, matrix, title in zip(
    axes,
    (one_hot, tiny_table, one_hot @ tiny_table),
    ("one_hot(ids)  (3 x 6)", "table  (6 x 4)", "one_hot @ table = table[ids]  (3 x 4)"),
):
    ax.imshow(matrix, cmap="coolwarm", vmin=-2, vmax=2)
    for (row, col), value in np.ndenumerate(matrix):
        ax.text(col, row, f"{value:g}", ha="center", va="center", fontsize=8)
    ax.set_title(title, fontsize=10)
    ax.set_xticks([])
    ax.set_yticks([])
plt.show()
print("one_hot @ table == table[ids]:", np.allclose(one_hot @ tiny_table, tiny_table[tiny_ids]))

# %% [markdown]
# ### Exercise 2.1: look up embeddings
#
# Write `embed(table, ids)`: for every id, the row of the table. `ids` may be a list, a 1-D array
# of one sequence, or a 2-D array `(batch, time)` of several; the result has the shape of `ids`
# with one more axis of length `d_model` at the end. NumPy's indexing does it in one step.
#
# The check compares your answer with the one-hot product, on ids with repeats and on a batch.

# %%
def embed(table: np.ndarray, ids: np.ndarray) -> np.ndarray:
    """The rows of `table` (vocab, d_model) picked by `ids`: shape ids.shape + (d_model,)."""
    ### BEGIN SOLUTION
    return table[np.asarray(ids)]
    ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "ch02_embed", "points": 1, "locked": true}
embed = check.embed(embed)
### BEGIN HIDDEN TESTS
_t = np.arange(12.0).reshape(4, 3)
assert embed(_t, np.array([2, 2])).tolist() == [[6.0, 7.0, 8.0], [6.0, 7.0, 8.0]]
assert embed(_t, np.array([[0], [3]])).shape == (2, 1, 3)
### END HIDDEN TESTS

# %%
ids = np.array(vocab.encode("The sea is salty."))
vectors = embed(table, ids)  # (time, d_model)
print(ids, "->", vectors.shape)

# %% [markdown]
# Your lookup and the one-hot product give the same numbers, at very different cost. The product
# multiplies every zero of the one-hot matrix too: `time x vocab x d_model` multiplications,
# almost all by 0. The lookup just copies `time x d_model` numbers. With the real vocabulary:

# %%
batch_ids = rng.integers(0, len(vocab), size=(8, 40))  # 8 sequences of 40 tokens
start = time.perf_counter()
by_product = np.eye(len(vocab))[batch_ids] @ table
product_ms = 1000 * (time.perf_counter() - start)
start = time.perf_counter()
by_lookup = embed(table, batch_ids)
lookup_ms = 1000 * (time.perf_counter() - start)
print(f"one-hot product: {product_ms:.2f} ms, lookup: {lookup_ms:.3f} ms")
print("same numbers:", np.allclose(by_product, by_lookup))

# %% [markdown]
# So the layer is stored and used as a table, but it *is* a linear layer without bias, and that
# tells us how its gradient works.
#
# ## 2. The backward pass: a scatter-add
#
# A word on training first (chapters 04 and 05 build it in full). The model predicts the next
# token of a text, and one number, the **loss**, measures how wrong those predictions are: low
# is good. Training changes every weight a little in the direction that lowers the loss. That
# direction comes from the **gradient**: for each number in the model, how much the loss
# changes when that number changes a little. Each layer has a **backward pass** that receives
# the gradient of its output and works out the gradient of its weights and of its input.
#
# In training, the layers above send back a gradient for every output vector: an array `grad`
# of the same shape as `embed(table, ids)`. Which rows of the table did each output come from?
# Output `t` is a copy of row `ids[t]`, so its gradient goes to row `ids[t]` - and a token that
# appears twice in the batch collects **both** gradients, added. Rows of tokens that did not
# appear get 0. (In the matrix picture: `d_table = one_hot.T @ grad`.)
#
# The obvious NumPy line has a trap. Look what happens when id 5 appears twice:

# %%
trap_ids = np.array([5, 3, 5])
trap_grad = np.ones((3, 2))  # every position sends back (1, 1)

d_table = np.zeros((6, 2))
d_table[trap_ids] += trap_grad
print("d_table[ids] += grad gives row 5 =", d_table[5], "- but two positions sent (1, 1)!")

d_table = np.zeros((6, 2))
np.add.at(d_table, trap_ids, trap_grad)
print("np.add.at(d_table, ids, grad) gives row 5 =", d_table[5])

# %% [markdown]
# `d_table[ids] += grad` reads the selected rows, adds, and writes them back; when row 5 is
# written twice, the second write simply replaces the first, and one gradient is lost without a
# word. `np.add.at` really adds once per occurrence (PyTorch has `index_add_` for the same job).
# In real text, repeated tokens are everywhere - "the", ".", `</s>` - so the trap is not rare.
#
# ### Exercise 2.2: the embedding backward pass
#
# Write `embed_backward(grad, ids, vocab_size)`: the gradient of the table, shape
# `(vocab_size, d_model)`. `grad` has shape `ids.shape + (d_model,)`; `ids` may be 1-D or 2-D.
# The check uses ids that repeat (within a sequence and across a batch) and compares with finite
# differences.

# %%
def embed_backward(grad: np.ndarray, ids: np.ndarray, vocab_size: int) -> np.ndarray:
    """Gradient of the table: each row of `grad` added to the row of its id."""
    ### BEGIN SOLUTION
    ids = np.asarray(ids)
    d_table = np.zeros((vocab_size, grad.shape[-1]))
    np.add.at(d_table, ids.reshape(-1), grad.reshape(-1, grad.shape[-1]))
    return d_table
    ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "ch02_embed_backward", "points": 2, "locked": true}
embed_backward = check.embed_backward(embed_backward)
### BEGIN HIDDEN TESTS
_g = embed_backward(np.ones((2, 2, 1)), np.array([[1, 1], [1, 0]]), 3)
assert _g.ravel().tolist() == [1.0, 3.0, 0.0]
### END HIDDEN TESTS

# %% [markdown]
# ### A gradient check
#
# How do we know a hand-written gradient is right? Nudge each entry of the table by a tiny `h`,
# see how much the loss moves, and compare with the formula. `course_lib.gradcheck` does that
# (central differences: `(L(w + h) - L(w - h)) / 2h`) and `rel_error` compares the two. Here the
# loss is `sum(embed(table, ids) * grad)`, whose gradient with respect to the table is exactly
# what `embed_backward` computes. A relative error around 1e-10 means "right"; a lost repeated
# id would show up as an error of 0.1 or more.

# %%
from course_lib.gradcheck import numerical_gradient, rel_error

small_table = rng.normal(size=(5, 3))
check_ids = np.array([[0, 3, 3], [3, 1, 0]])
check_grad = rng.normal(size=(2, 3, 3))
numeric = numerical_gradient(lambda t: np.sum(embed(t, check_ids) * check_grad), small_table)
analytic = embed_backward(check_grad, check_ids, 5)
print(f"relative error: {rel_error(analytic, numeric):.1e}")

# %%
# The text above, checked against this run: a tiny error for the scatter-add, and a large one
# for `+=` on fancy indices, which loses the repeated ids 0 and 3.
assert rel_error(analytic, numeric) < 1e-8
lossy = np.zeros((5, 3))
lossy[check_ids] += check_grad
assert rel_error(lossy, numeric) > 0.1

# %% [markdown]
# ## 3. Where is each token? Positions
#
# The next chapter's attention compares every token with every other, and nothing in that
# comparison knows the order: "dogs chase cats" and "cats chase dogs" would look the same. So
# each position gets a vector too, and the model's input is the sum
#
# `x[t] = token_table[ids[t]] + position_table[t]`
#
# There are two common ways to get the position table:
#
# - **learned**: a second table of shape `(max_seq_len, d_model)`, random at first and trained
#   like the token table (the model of this course does this, with `max_seq_len = 80`);
# - **sinusoidal**: fixed waves, nothing to train. Column pair `(2i, 2i + 1)` holds
#   `sin(pos / 10000 ** (2i / d_model))` and `cos(...)` of the same angle. The first columns
#   change fast with the position, later ones ever more slowly, like the hands of a clock.
#
# ### Exercise 2.3: sinusoidal positions
#
# Write `sinusoidal_positions(max_len, d_model)`, shape `(max_len, d_model)`, with positions
# `0 .. max_len - 1`: column `2i` is `sin(pos / 10000 ** (2i / d_model))` and column `2i + 1`
# the cos of the same angle. Mind an odd `d_model`: the last column is then a lone sin.
# Broadcasting a column of positions `(max_len, 1)` against a row of frequencies does it without
# a loop.

# %%
def sinusoidal_positions(max_len: int, d_model: int) -> np.ndarray:
    """Fixed position table (max_len, d_model): sin in even columns, cos in odd ones."""
    ### BEGIN SOLUTION
    positions = np.arange(max_len)[:, None]  # (max_len, 1)
    even = np.arange(0, d_model, 2)  # 0, 2, 4, ...
    angles = positions / 10000.0 ** (even / d_model)  # (max_len, ceil(d_model / 2))
    table = np.zeros((max_len, d_model))
    table[:, 0::2] = np.sin(angles)
    table[:, 1::2] = np.cos(angles[:, : d_model // 2])
    return table
    ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "ch02_sinusoidal_positions", "points": 1, "locked": true}
sinusoidal_positions = check.sinusoidal_positions(sinusoidal_positions)
### BEGIN HIDDEN TESTS
assert np.allclose(sinusoidal_positions(2, 2), [[0.0, 1.0], [np.sin(1.0), np.cos(1.0)]])
assert sinusoidal_positions(3, 3).shape == (3, 3)
### END HIDDEN TESTS

# %% [markdown]
# Here are the two kinds side by side, for 80 positions and 128 columns as in the real model:
# a learned table before training (pure noise - training has to find any structure) and the
# sinusoidal one. On the right: how similar position 20 is to every other position (the dot
# product of their sinusoidal rows). It is largest at 20 itself, falls off steeply over the
# nearest ten or so positions and stays lower beyond, and its shape depends only on the
# distance, not on where you start - which is what lets attention reason about "how far
# back".

# %%
sinusoid = sinusoidal_positions(80, 128)  # (80, 128)
learned_before = rng.normal(0.0, 0.02, size=(80, 128))

fig, axes = plt.subplots(1, 3, figsize=(14, 3.6))
image = axes[0].imshow(learned_before, aspect="auto", cmap="coolwarm")
axes[0].set_title("learned positions, before training")
fig.colorbar(image, ax=axes[0])
image = axes[1].imshow(sinusoid, aspect="auto", cmap="coolwarm", vmin=-1, vmax=1)
axes[1].set_title("sinusoidal positions")
fig.colorbar(image, ax=axes[1])
for ax in axes[:2]:
    ax.set_xlabel("column")
    ax.set_ylabel("position")
axes[2].plot(sinusoid @ sinusoid[20], marker=".")
axes[2].set_title("sinusoidal: position 20 . every position")
axes[2].set_xlabel("position")
fig.tight_layout()
plt.show()

# %%
# The text above, checked: largest at 20, falling over the next ten, lower beyond; and the
# dot product of two positions depends only on their distance.
sin_table = sinusoidal_positions(80, 128)  # (80, 128)
near_20 = sin_table @ sin_table[20]  # (80,)
assert np.argmax(near_20) == 20 and np.all(np.diff(near_20[20:30]) < 0)
assert np.all(near_20[np.abs(np.arange(80) - 20) >= 10] < near_20[25])
for distance in (1, 5, 30):
    products = np.sum(sin_table[:-distance] * sin_table[distance:], axis=1)
    assert np.allclose(products, products[0])

# %% [markdown]
# The library's `Embeddings` layer does both steps of this chapter so far: it looks up the
# tokens and adds the positions. With `positional="sinusoidal"` its position table is exactly
# the one you just wrote:

# %%
config = ModelConfig(vocab_size=len(vocab), d_model=128, positional="sinusoidal")
layer = cl.Embeddings(config, seed=0, dtype=np.float64)
batch = np.array([vocab.encode("The sea is salty."), vocab.encode("Rain falls from clouds.")])
out = layer.forward(batch)  # (batch 2, time 5, d_model 128)
token_table = layer.state_dict()["token.weight"]
print(out.shape, np.allclose(out, embed(token_table, batch) + sinusoidal_positions(5, 128)))

# %%
# The text above, checked against this run.
assert np.allclose(out, embed(token_table, batch) + sinusoidal_positions(5, 128))

# %% [markdown]
# Its backward pass is your scatter-add; it adds the gradient into the table's gradient, which the
# optimizer then uses to move the rows:

# %%
grad = rng.normal(size=out.shape)
layer.backward(grad)
library_grad = layer.gradients()["token.weight"]
print(np.allclose(library_grad, embed_backward(grad, batch, len(vocab))))

# %%
# The text above, checked against this run.
assert np.allclose(library_grad, embed_backward(grad, batch, len(vocab)))

# %% [markdown]
# ## 4. Which tokens are alike? Cosine similarity
#
# Two embeddings are alike when they point the same way. The **cosine similarity** measures
# exactly that, ignoring length:
#
# `cos(a, b) = (a . b) / (|a| |b|)`,
#
# 1 for the same direction, 0 for perpendicular, -1 for opposite. Length is left out on
# purpose: training can make a vector longer or shorter for reasons that have little to do with
# meaning (how often its token occurs, for one), and we want to compare what two vectors say,
# not how loudly they say it.
#
# ### Exercise 2.4: cosine similarity
#
# Write `cosine_similarity(table, query)`: the cosine of every row of `table` `(n, d)` with the
# vector `query` `(d,)`, shape `(n,)`. The check uses rows of very different lengths.

# %%
def cosine_similarity(table: np.ndarray, query: np.ndarray) -> np.ndarray:
    """Cosine of the angle between each row of `table` (n, d) and `query` (d,): shape (n,)."""
    ### BEGIN SOLUTION
    row_lengths = np.linalg.norm(table, axis=1)  # (n,)
    return table @ query / (row_lengths * np.linalg.norm(query))
    ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "ch02_cosine_similarity", "points": 1, "locked": true}
cosine_similarity = check.cosine_similarity(cosine_similarity)
### BEGIN HIDDEN TESTS
_t = np.array([[2.0, 0.0], [0.0, 3.0]])
assert np.allclose(cosine_similarity(_t, np.array([1.0, 0.0])), [1.0, 0.0])
### END HIDDEN TESTS

# %% [markdown]
# ### Exercise 2.5: nearest neighbours
#
# Write `nearest_neighbours(table, token_id, k)`: the ids of the `k` rows most similar to row
# `token_id`, most similar first, leaving out `token_id` itself (it is always its own best
# match). Use your `cosine_similarity` and `np.argsort` - which sorts from small to large.

# %%
def nearest_neighbours(table: np.ndarray, token_id: int, k: int = 5) -> list[int]:
    """The `k` ids most cosine-similar to row `token_id`, best first, itself left out."""
    ### BEGIN SOLUTION
    similarity = cosine_similarity(table, table[token_id])
    order = np.argsort(-similarity)  # most similar first
    return [int(i) for i in order if i != token_id][:k]
    ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "ch02_nearest_neighbours", "points": 1, "locked": true}
nearest_neighbours = check.nearest_neighbours(nearest_neighbours)
### BEGIN HIDDEN TESTS
_t = np.array([[1.0, 0.0], [0.9, 0.1], [-1.0, 0.0], [0.0, 1.0]])
assert [int(i) for i in nearest_neighbours(_t, 0, 2)] == [1, 3]
### END HIDDEN TESTS

# %% [markdown]
# On the random table of section 1 the neighbours of a word mean nothing yet:

# %%
def show_neighbours(table: np.ndarray, word: str, k: int = 5) -> None:
    """Print the k nearest neighbours of `word` with their cosine similarity."""
    token_id = vocab.token_to_id[word]
    similarity = cosine_similarity(table, table[token_id])
    neighbours = nearest_neighbours(table, token_id, k)
    found = [f"{vocab.id_to_token[i]} ({similarity[i]:.2f})" for i in neighbours]
    print(f"{word:>8}: {', '.join(found)}")


for word in ["rain", "sea", "bees"]:
    show_neighbours(table, word)

# %% [markdown]
# ## 5. Training moves the embeddings
#
# Random rows know nothing. Let us train a small model on the course corpus for a few seconds
# and watch its token table change. The model is the complete one of chapter 05, only narrow
# (`d_model = 32`, one block) so that it trains quickly.
#
# `cl.train(model, vocab, texts, epochs, lr, batch_size)` is the library's training loop; you
# will write its heart yourself in chapter 05. It cuts the texts into batches of `batch_size`,
# and for each batch it computes the loss, runs the backward pass and moves every weight a
# step against its gradient. The **learning rate** `lr` sets the size of those steps (chapter
# 04), and an **epoch** is one pass over all the texts. It returns the mean loss of each epoch.
# Every five epochs we keep a copy of the token table.

# %%
small = ModelConfig(vocab_size=len(vocab), d_model=32, d_hidden=64, n_layers=1)
model = cl.LLM(small, seed=0)
TOKEN_TABLE = "embeddings.token.weight"
snapshots = [("before training", model.state_dict()[TOKEN_TABLE].copy())]


def keep_snapshot(epoch: int, loss: float) -> None:
    """Called by cl.train after each epoch (counted from 0)."""
    if (epoch + 1) % 5 == 0:
        snapshots.append((f"epoch {epoch + 1}", model.state_dict()[TOKEN_TABLE].copy()))


losses = cl.train(
    model, vocab, facts + chat, epochs=25, lr=5e-3, batch_size=16, callback=keep_snapshot
)
print(f"loss: {losses[0]:.2f} in the first epoch, {losses[-1]:.2f} in the last")

# %% [markdown]
# Which rows moved? Remember the backward pass: a row gets a gradient only when its token is
# *read* by the model. Here is how far each row travelled, against how often its token occurs in
# the training texts:

# %%
before, after = snapshots[0][1], snapshots[-1][1]
moved = np.linalg.norm(after - before, axis=1)  # (vocab,)
counts = np.zeros(len(vocab))
for text in facts + chat:
    for token_id in vocab.encode(text):
        counts[token_id] += 1

plt.figure(figsize=(6, 3.5))
plt.scatter(counts + 1, moved, s=10, alpha=0.6)
plt.xscale("log")
plt.xlabel("how often the token occurs (+ 1)")
plt.ylabel("how far its row moved")
for word in ["<unk>", "</s>", ".", "the", "sea", "honey"]:
    i = vocab.token_to_id[word]
    plt.annotate(word, (counts[i] + 1, moved[i]), fontsize=9)
plt.show()
print("rows that did not move at all:", [vocab.id_to_token[i] for i in np.flatnonzero(moved == 0)])

# %%
# The text below, checked against this run: exactly three rows stayed put, and the tokens seen
# once moved further, in the median, than those seen more than ten times.
distance = np.linalg.norm(snapshots[-1][1] - snapshots[0][1], axis=1)  # (vocab,)
seen = np.bincount([i for text in facts + chat for i in vocab.encode(text)], minlength=len(vocab))
assert [vocab.id_to_token[i] for i in np.flatnonzero(distance == 0)] == ["<pad>", "</s>", "<unk>"]
assert np.median(distance[seen == 1]) > np.median(distance[seen > 10])

# %% [markdown]
# Three rows did not move at all. `<pad>` and `<unk>` never occur in the texts. And `</s>`
# occurs in every text, yet stayed put: it is always the *last* token, so the model only ever has
# to predict it and never reads it as an input - and only the rows of tokens it reads get a
# gradient. (Its row in the output layer, which does the predicting, learned plenty.)
#
# Every other row moved, and rare tokens about as far as frequent ones, often further. That is
# the optimizer: Adam (chapter 04) scales each parameter's step by the typical size of its
# gradient, so a row that gets a gradient only now and then still takes full-sized steps.
#
# ### Before and after, on a map
#
# A row has 32 numbers; to draw it we project all rows onto the two directions along which they
# differ most (PCA). Before training the table is a round cloud of small noise (mind the axes:
# about 0.15 across). After, the cloud is about four times wider: training has pushed the rows
# apart, each in its own direction. On 138 short texts and a few seconds of training, do not
# expect a clean map of meaning yet; the neighbours below are only starting to make sense, and
# a bigger corpus and longer training make them much better.

# %%
from course_lib.widgets import pca_2d

labelled = ["sea", "rain", "snow", "bees", "fish", "birds", "What", "Why", "User", "Assistant", "."]
fig, axes = plt.subplots(1, 2, figsize=(12, 5))
for ax, (name, matrix) in zip(axes, (snapshots[0], snapshots[-1])):
    points = pca_2d(matrix)  # (vocab, 2)
    ax.scatter(points[:, 0], points[:, 1], s=6, alpha=0.3)
    for word in labelled:
        x, y = points[vocab.token_to_id[word]]
        ax.annotate(word, (x, y), fontsize=9, color="crimson")
    ax.set_title(f"token table, {name}")
plt.show()

# %%
# The text above, checked against this run: the width of each map, before and after.
width_before = np.ptp(pca_2d(snapshots[0][1]), axis=0)  # (2,)
width_after = np.ptp(pca_2d(snapshots[-1][1]), axis=0)
assert np.all((0.1 < width_before) & (width_before < 0.2)), width_before
assert np.all((3 < width_after / width_before) & (width_after / width_before < 5))
assert len(facts + chat) == 138

# %%
for word in ["A", "the", "are", "Why", "User", "sea"]:
    show_neighbours(after, word)

# %%
# The text below, checked against this run.
def nearest_word(word: str) -> str:
    return vocab.id_to_token[nearest_neighbours(after, vocab.token_to_id[word], 1)[0]]


assert nearest_word("A") == "a" and nearest_word("the") == "The"

# %% [markdown]
# In our run two neighbours already make sense: the closest row to `A` is `a`, and the closest
# to `the` is `The` - the capitalised and the lower-case form of a word, which stand in the
# same kind of place in the texts. The rest is still noise: the neighbours of `are`, `Why`,
# `User` and `sea` have nothing obvious in common with them.

# %% [markdown]
# The position table learned too. Side by side with the sinusoids: the learned rows of the first
# positions have changed; the rows far down were never used by a training text and are still
# the noise they started as. The longest text has 30 tokens; the model reads all but the last
# (which it only predicts), so positions 0 to 28 are read and the rows from 29 on never change.

# %%
positions_after = model.state_dict()["embeddings.position.weight"]  # (80, 32)
longest = max(len(vocab.encode(text)) for text in facts + chat)
fig, axes = plt.subplots(1, 2, figsize=(12, 3.6))
image = axes[0].imshow(positions_after, aspect="auto", cmap="coolwarm")
axes[0].axhline(longest - 0.5, color="black", linewidth=1)
axes[0].set_title(f"learned positions after training (line: longest text, {longest} tokens)")
fig.colorbar(image, ax=axes[0])
image = axes[1].imshow(sinusoidal_positions(80, 32), aspect="auto", cmap="coolwarm")
axes[1].set_title("sinusoidal positions (never trained)")
fig.colorbar(image, ax=axes[1])
for ax in axes:
    ax.set_xlabel("column")
    ax.set_ylabel("position")
plt.show()

# %%
# The text above, checked against this run: the rows the texts reach changed, the rest did not.
untrained = cl.LLM(small, seed=0).state_dict()["embeddings.position.weight"]  # (80, 32)
trained = model.state_dict()["embeddings.position.weight"]
longest_text = max(len(vocab.encode(text)) for text in facts + chat)
assert longest_text == 30
assert np.array_equal(trained[longest_text - 1 :], untrained[longest_text - 1 :])
assert not np.any(np.all(trained[: longest_text - 1] == untrained[: longest_text - 1], axis=1))

# %% [markdown]
# ## 6. The embedding inspector
#
# Numbers and maps are easier to explore by hand. The inspector below shows the trained token
# table: type a token (or pick one from the list) to see its row as a colour strip, its length,
# how often it occurs, its nearest neighbours and where it sits on the map. The slider steps
# through the snapshots we kept, so you can watch a token's row move during training. Try `A`,
# `User` or `</s>` (which, as we saw, never moves).

# %%
from course_lib.widgets import EmbeddingInspector

inspector = EmbeddingInspector.from_model(
    model, vocab, texts=facts + chat, snapshots=snapshots, token="sea"
)
inspector

# %% [markdown]
# The same view as a still picture: it stays in the saved notebook and shows without a running
# kernel (a widget needs one).

# %%
inspector.static("sea")

# %% [markdown]
# ## Questions to think about
#
# Answer each in two to four sentences, in the cell under it. There is no check: your
# instructor reads the answers.
#
# **Question 1.** The backward pass of the embedding lookup adds each position's gradient into the row of its
# token. Why does `W_grad[ids] += grad` give the wrong answer for a sentence in which a word
# appears twice, and what does `np.add.at` do differently?

# %% [markdown] nbgrader={"grade": true, "grade_id": "ch02_written_repeated_ids", "points": 1, "solution": true}
# ### BEGIN SOLUTION
# `W_grad[ids] += grad` is a buffered operation: NumPy reads the rows named by `ids`, adds the
# gradients and writes the rows back, so when a token id appears twice both writes go to the same
# row and the second one overwrites the first. The row then holds only one occurrence's gradient
# instead of their sum, and a word that appears often learns too slowly. `np.add.at` is unbuffered:
# it adds every position's gradient into its row one after another, so repeated ids accumulate,
# which is exactly the chain rule for a parameter used several times.
# ### END SOLUTION

# %% [markdown]
# **Question 2.** A learned position table has one row per position up to `max_seq_len`; sinusoidal positions
# are computed by a formula. What happens with each when a text is longer than anything seen in
# training, and which would you trust more there?

# %% [markdown] nbgrader={"grade": true, "grade_id": "ch02_written_long_sequences", "points": 1, "solution": true}
# ### BEGIN SOLUTION
# A learned table simply has no row for a position past `max_seq_len`, so the model cannot read
# such a text at all (our library raises a clear error instead of crashing), and rows for
# positions that were rare in training stay close to their random start. The sinusoidal formula
# gives a vector for any position, and nearby positions get similar vectors, so the model at
# least receives sensible inputs; but it has never been trained on those positions, so its
# answers there are still a guess. Neither generalises for free; the formula only fails more
# gracefully.
# ### END SOLUTION

# %% [markdown]
# ## Your score
#
# You have built every piece of the embedding layer: the lookup, its backward pass, the
# positions, and the tools to look at what training made of it. The next chapter builds what
# comes after it: attention, the layer where tokens finally look at each other.

# %%
checks.summary();
