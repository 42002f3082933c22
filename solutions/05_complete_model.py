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
# # Chapter 05: The complete model
#
# Everything is in place: tokens and a vocabulary (chapter 01), embeddings (02), transformer
# blocks (03) and an optimizer (04). This chapter puts them together into a language model
# that learns the course corpus and answers questions about it.
#
# 1. the output projection: from hidden states to a score for every word of the vocabulary,
# 2. softmax cross-entropy, the loss (you write it, stable and ignoring padding),
# 3. the training loop (you write one step), pre-training and then instruction tuning,
# 4. generation: greedy, temperature and top-k (you write the sampling distribution),
# 5. a small chat, a table of the training questions and the model's answers,
# 6. saving, loading, and the same model on the PyTorch backend,
# 7. the whole model on your own code: you write the forward pass and the generation loop, and
#    train the chat model with them beside the library's.
#
# Each exercise is a function you write; the cell after it checks your function. If you skip
# one, its check says "not done yet" and the chapter goes on with the library's version.

# %%
import tempfile
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
from IPython.display import Markdown, display

from course_lib import checks
from course_lib import numpy as cl
from course_lib.batching import encode_texts, make_batches
from course_lib.checks import ch05 as check
from course_lib.config import ModelConfig
from course_lib.corpus import chat_texts, pretraining_texts
from course_lib.vocab import EOS_ID, UNK_ID, Vocab
from course_lib.widgets import ChatBox, TrainingMonitor

# %% [markdown]
# ## 1. The data, as the model sees it
#
# The vocabulary is built from both datasets. A model learns to predict the **next** token, so
# each sequence gives its own training pairs: the inputs are the tokens without the last one,
# the targets the tokens without the first one. Sequences in a batch have different lengths;
# the short ones are padded with `<pad>` (id 0), and the **mask** says which positions are real.

# %%
facts, chat = pretraining_texts(), chat_texts()
vocab = Vocab.build(facts + chat)
config = ModelConfig(vocab_size=len(vocab))
print(f"{len(facts)} facts, {len(chat)} conversations, {len(vocab)} tokens in the vocabulary")

sequences = encode_texts(vocab, facts[:3], max_len=config.max_seq_len + 1)
inputs, targets, mask = next(make_batches(sequences, 3, pad_id=0, shuffle=False))
print("inputs  (batch, time):", inputs.shape)
print(inputs)
print("targets: the same, one step ahead\n", targets)
print("mask: True on real tokens\n", mask.astype(int))

# %% [markdown]
# ## 2. The output projection
#
# The last transformer block leaves one vector of `d_model = 128` numbers per position. The
# **output projection** is a linear layer that turns it into one score per vocabulary token:
# the **logits**, shape (batch, time, vocab). Softmax turns a row of logits into probabilities
# for the next token. An untrained model spreads them out: in our run its favourite tokens get
# about 2 % each, against the 0.2 % each of a perfectly even guess, and for no reason at all.

# %%
model = cl.LLM(config, seed=0)
logits = model(inputs, mask)  # (batch, time, vocab)
print("logits:", logits.shape, "  output weight:", model.output.weight.shape)
probs = cl.softmax(logits[0, 2].astype(np.float64))
print(f"after '{vocab.decode(inputs[0, :3])}' the untrained model's favourite next tokens:")
for i in np.argsort(probs)[::-1][:5]:
    print(f"  {vocab.id_to_token[i]!r:12} {probs[i]:.4f}")
print(f"uniform would be 1 / {len(vocab)} = {1 / len(vocab):.4f}")

# %%
# The text above, checked against this run.
assert 0.01 < probs.max() < 0.05 and abs(1 / len(vocab) - 0.002) < 0.0005

# %% [markdown]
# ## 3. Softmax cross-entropy
#
# The loss at one position is how surprised the model is by the right next token:
# `-log p(target)`, where `p = softmax(logits)`. A perfect prediction costs 0; a uniform guess
# costs `ln(vocab)`. The loss of a batch is the **mean over the real tokens**: padded positions
# are not text and must count for nothing.
#
# Computing `log(softmax(x))` literally fails in practice. With logits in the hundreds, `exp`
# overflows to `inf`; after subtracting the max it no longer overflows, but a very unlikely
# token's probability rounds to exactly 0 and `log(0) = -inf`. The cure is to stay in log
# space with the **log-sum-exp** trick:
#
# $$\log \text{softmax}(x)_i = x_i - \log\sum_j e^{x_j}
#   = (x_i - m) - \log\sum_j e^{x_j - m}, \quad m = \max_j x_j$$
#
# ### Exercise 5.1: a stable cross-entropy that ignores padding
#
# Write `cross_entropy(logits, targets, pad_id)` returning the mean loss (a float) over the
# positions whose target is not `pad_id`. The check tries small logits, padded targets and
# logits in the thousands; it names log(0), counted padding, and the wrong denominator.


# %%
def cross_entropy(logits: np.ndarray, targets: np.ndarray, pad_id: int = 0) -> float:
    """Mean of -log softmax(logits)[target] over the positions where targets != pad_id.
    logits (batch, time, vocab), targets (batch, time) ints."""
    ### BEGIN SOLUTION
    logits = logits.astype(np.float64)
    shifted = logits - logits.max(axis=-1, keepdims=True)
    log_probs = shifted - np.log(np.exp(shifted).sum(axis=-1, keepdims=True))
    picked = np.take_along_axis(log_probs, targets[..., None], axis=-1)[..., 0]
    real = targets != pad_id
    return float(-picked[real].sum() / real.sum())
    ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "ch05_cross_entropy", "points": 2, "locked": true}
cross_entropy = check.cross_entropy(cross_entropy)
### BEGIN HIDDEN TESTS
_l = np.array([[[0.0, 0.0], [1e4, 0.0]]])
assert np.isclose(cross_entropy(_l, np.array([[1, 0]]), 0), np.log(2))
### END HIDDEN TESTS

# %% [markdown]
# Your loss on the untrained model's batch, next to the library's `cl.cross_entropy` (which
# also returns the gradient with respect to the logits, `softmax - one_hot`, divided by the
# number of real tokens). Both come out about half a nat above `ln(vocab)`, the cost of a
# uniform guess, and that half is no accident. The last layer norm hands the output layer
# features of mean 0 and variance 1, and the output weights start as random numbers of
# variance `1 / d_model`, so each logit is a sum of `d_model` small random terms: close to a
# normal random number of mean 0 and variance 1. For such logits `z`, of variance `s²`, the
# expected loss `E[log sum_j exp(z_j)] - E[z_target]` is about `ln(vocab * E[exp(z)])`, and for
# a normal `z` that is `ln(vocab) + s² / 2`. With `s = 1` an untrained model starts near
# `ln(vocab) + 1/2`:

# %%
library_loss, grad_logits = cl.cross_entropy(logits, targets, ignore_index=0)
print(f"yours {cross_entropy(logits, targets, 0):.4f}   library {library_loss:.4f}   "
      f"ln(vocab) {np.log(len(vocab)):.4f}")  # fmt: skip
print("gradient on padded positions is zero:", bool(np.all(grad_logits[~mask] == 0)))

# %%
# The text above, checked against this run: logits of standard deviation about 1, and a loss
# near ln(vocab) + 1/2.
real_logits = logits[mask].astype(np.float64)  # (real positions, vocab)
print(f"logits: standard deviation {real_logits.std():.2f}; "
      f"ln(vocab) + 1/2 = {np.log(len(vocab)) + 0.5:.4f}")  # fmt: skip
assert 0.9 < real_logits.std() < 1.15
assert abs(library_loss - (np.log(len(vocab)) + 0.5)) < 0.15
assert np.isclose(cross_entropy(logits, targets, 0), library_loss)

# %% [markdown]
# ## 4. One training step
#
# Training repeats one step over and over:
#
# 1. **forward**: `logits = model(inputs, mask)`,
# 2. **loss**: `loss, grad = cl.cross_entropy(logits, targets, ignore_index=pad_id)`,
# 3. **backward**: `model.zero_grad()`, then `model.backward(grad)` (each layer *adds* its
#    gradients, so the previous step's must be cleared first),
# 4. **clip**: `cl.clip_grad_norm(model, clip)` (chapter 04),
# 5. **step**: `optimizer.step()` (Adam, chapter 04).
#
# ### Exercise 5.2: one training step
#
# Write `train_step(model, optimizer, inputs, targets, mask, clip)` returning the loss. The
# check runs two steps on a tiny model next to the library's own step and compares every weight.


# %%
def train_step(
    model: cl.LLM,
    optimizer: cl.Adam,
    inputs: np.ndarray,
    targets: np.ndarray,
    mask: np.ndarray,
    clip: float = 5.0,
) -> float:
    """Forward, loss, backward, clip, optimizer step on one batch; returns the loss."""
    ### BEGIN SOLUTION
    logits = model(inputs, mask)
    loss, grad = cl.cross_entropy(logits, targets, ignore_index=model.config.pad_id)
    model.zero_grad()
    model.backward(grad)
    cl.clip_grad_norm(model, clip)
    optimizer.step()
    return loss
    ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "ch05_train_step", "points": 2, "locked": true}
train_step = check.train_step(train_step)
### BEGIN HIDDEN TESTS
from course_lib import numpy as _cl
from course_lib.config import ModelConfig as _Config

_m = _cl.LLM(_Config(vocab_size=12, d_model=16, d_hidden=32, n_layers=1, max_seq_len=8), seed=1)
_o = _cl.Adam(_m, lr=1e-2)
_ids = np.array([[3, 5, 7, 9, 4, 6], [8, 3, 11, 0, 0, 0]])  # the second sequence is padded
_batch = (_ids[:, :-1], _ids[:, 1:], _ids[:, :-1] != 0)
_first = train_step(_m, _o, *_batch, 5.0)
assert all(train_step(_m, _o, *_batch, 5.0) < _first for _ in range(3))
### END HIDDEN TESTS

# %% [markdown]
# A few steps of your `train_step` on the same batch: the loss goes down.

# %%
optimizer = cl.Adam(model, lr=3e-3)
print([round(train_step(model, optimizer, inputs, targets, mask, 5.0), 3) for _ in range(6)])

# %%
# The text above, checked against this run: after six steps the loss is far below its start.
assert cl.cross_entropy(model(inputs, mask), targets, ignore_index=0)[0] < library_loss / 4

# %% [markdown]
# Training is that step over and over, one batch after another; one pass over all the batches
# is an **epoch**. In one picture, with what passes along each arrow:

# %%
from course_lib import diagrams

diagrams.training_loop();

# %% [markdown]
# ## 5. Pre-training, then instruction tuning
#
# Training runs in two phases, as for large models:
#
# - **pre-training** on the facts: the model learns the words and what is true in its little
#   world;
# - **instruction tuning** on the conversations (`User: ... Assistant: ... </s>`): it learns to
#   answer a question and to stop.
#
# `cl.train` loops your kind of `train_step` over shuffled batches for a number of epochs (an
# epoch is one pass over the data). The Rust model this course rebuilds (chapter 01) trains one
# sequence at a time for 100 + 100 epochs and ends near a loss of 0.02 after pre-training and
# 0.4 after instruction tuning (0.016-0.024 and 0.37-0.42 over three of its runs). Batches of 8
# sequences make each step far faster (one large matrix product instead of eight small ones)
# and allow a larger learning rate, so 50 + 40 epochs end instruction tuning lower than that on
# every machine the course was tried on. Pre-training usually ends far lower too, near 0.002;
# but at such a rate the loss can also jump up late in a run and take epochs to come back down
# (in one of fifteen runs we tried, pre-training ended at 0.08), and instruction tuning then
# makes up for it. The same Adam (with its running averages) carries over from one phase to the
# next.
#
# The monitor below shows a progress bar and the loss curve as it trains.

# %%
BATCH, PRE_EPOCHS, PRE_LR, CHAT_EPOCHS, CHAT_LR = 8, 50, 3e-3, 40, 2.5e-3

model = cl.LLM(config, seed=0)
optimizer = cl.Adam(model, lr=PRE_LR)
monitor = TrainingMonitor(title="pre-training, then instruction tuning")
display(monitor)
monitor.new_run("pre-training", PRE_EPOCHS)
pre_losses = cl.train(
    model, vocab, facts, epochs=PRE_EPOCHS, lr=PRE_LR, batch_size=BATCH, seed=0,
    optimizer=optimizer, callback=monitor, progress=False,
)  # fmt: skip
monitor.new_run("instruction tuning", CHAT_EPOCHS)
chat_losses = cl.train(
    model, vocab, chat, epochs=CHAT_EPOCHS, lr=CHAT_LR, batch_size=BATCH, seed=1,
    optimizer=optimizer, callback=monitor, progress=False,
)  # fmt: skip
monitor.finish()
print(f"final loss: pre-training {pre_losses[-1]:.4f}, instruction tuning {chat_losses[-1]:.3f}")

# %%
# The text above, checked against this run: instruction tuning ends below the Rust model's
# final loss (the bands hold on every machine; course_lib.claims).
from course_lib.claims import BANDS, within

within("ch05.pretrain_loss", pre_losses[-1])
within("ch05.chat_loss", chat_losses[-1])
assert BANDS["ch05.chat_loss"].high < 0.37

# %% [markdown]
# The same curves as a static picture (it stays in the saved notebook):

# %%
monitor.static()

# %% [markdown]
# How low could the loss go? If ten facts started with "The", then after "The" no model could
# know which fact comes next: the best it could do is spread its bet over the words that follow
# "The", and the loss would stay above 0 however long it trained. The course's facts are written
# so that each starts with a word of its own. Counting, for every prefix, how the facts continue
# gives the lowest mean loss any model can reach on this data (try it on the conversations too:
# they all begin with "User :"):

# %%
fact_ids = [tuple(vocab.encode(text)) for text in facts]
prefix_count: dict[tuple, int] = {}
for ids in fact_ids:
    for end in range(1, len(ids) + 1):
        prefix_count[ids[:end]] = prefix_count.get(ids[:end], 0) + 1
surprise = [
    -np.log(prefix_count[ids[: i + 1]] / prefix_count[ids[:i]])
    for ids in fact_ids
    for i in range(1, len(ids))
]
print(f"lowest reachable pre-training loss: {np.mean(surprise):.3f}; "
      f"this model's: {pre_losses[-1]:.3f}")  # fmt: skip

# %%
# The text above, checked: every fact starts with a word of its own, so nothing is left to
# chance after the first word and the lowest reachable loss is 0.
assert len({ids[0] for ids in fact_ids}) == len(facts) and np.mean(surprise) == 0

# %% [markdown]
# ## 6. Generation
#
# To write, the model predicts a distribution for the next token, one token is chosen and
# appended, and the longer text goes back in, until `</s>` or the length limit.
#
# - **greedy**: always take the most likely token. Deterministic; for a memorized answer this
#   is what we want.
# - **temperature** `T`: sample from `softmax(logits / T)`. `T < 1` sharpens the distribution
#   (towards greedy), `T > 1` flattens it (more surprising, more mistakes).
# - **top-k**: sample only among the `k` most likely tokens, so the long tail of unlikely
#   tokens can never be picked.
#
# ### Exercise 5.3: the sampling distribution
#
# Write `next_token_probs(logits, temperature, top_k)`: the probabilities (vocab,)
# of `softmax(logits / temperature)`, where with a `top_k` only the `top_k` largest logits
# keep a probability (the others get 0). Keep it stable for large logits. Without a `top_k`
# nothing is cut: the plot below calls `next_token_probs(logits, temperature)`. A logit of
# `-inf` (a token exercise 5.4 leaves out) gets probability 0.


# %%
def next_token_probs(
    logits: np.ndarray, temperature: float = 1.0, top_k: int | None = None
) -> np.ndarray:
    """Probabilities of the next token from one position's logits (vocab,)."""
    ### BEGIN SOLUTION
    scaled = logits.astype(np.float64) / temperature
    if top_k is not None:
        kth_largest = np.sort(scaled)[-top_k]
        scaled = np.where(scaled < kth_largest, -np.inf, scaled)
    p = np.exp(scaled - scaled.max())
    return p / p.sum()
    ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "ch05_next_token_probs", "points": 1, "locked": true}
next_token_probs = check.next_token_probs(next_token_probs)
### BEGIN HIDDEN TESTS
_p = next_token_probs(np.array([1.0, 3.0, 2.0]), 1.0, 1)
assert np.allclose(_p, [0.0, 1.0, 0.0])
### END HIDDEN TESTS

# %% [markdown]
# Your distribution for the word after "User: What is rain? Assistant: Rain is", at three
# temperatures:

# %%
prompt = "User: What is rain? Assistant: Rain is"
last_logits = model(np.array([vocab.encode(prompt)]))[0, -1]  # (vocab,)
top = np.argsort(last_logits)[::-1][:8]
fig, ax = plt.subplots(figsize=(8, 3))
for shift, temperature in zip([-0.27, 0, 0.27], [0.5, 1.0, 2.0], strict=True):
    p = next_token_probs(last_logits, temperature)
    ax.bar(np.arange(8) + shift, p[top], width=0.27, label=f"T = {temperature}")
ax.set_xticks(np.arange(8), [vocab.id_to_token[i] for i in top])
ax.set_ylabel("probability")
ax.legend()
plt.show()

# %% [markdown]
# ### Exercise 5.4: the generation loop
#
# Write `generate(model, prompt_ids, max_new_tokens=20, temperature=0.0, top_k=None, seed=0)`
# returning the list of new token ids the model writes after `prompt_ids`:
#
# 1. make one random generator before the loop, `rng = np.random.default_rng(seed)`;
# 2. run the model on the prompt and the tokens written so far, `model(np.array([ids]))`, and
#    take the scores of the **last** position, `[0, -1]`: they are about the next token;
# 3. leave out the tokens a model never writes, `<pad>` (`model.config.pad_id`) and `<unk>`
#    (`UNK_ID`): padding is never a training target and `<unk>` is no word. Copy the logits and
#    set theirs to `-np.inf`, `logits[[model.config.pad_id, UNK_ID]] = -np.inf`, before picking
#    (so that `top_k` counts only tokens the model may write);
# 4. pick a token: the argmax when `temperature == 0` (greedy), else
#    `int(rng.choice(len(p), p=p))` with `p = next_token_probs(logits, temperature, top_k)`;
# 5. stop when the token is `</s>` (`EOS_ID`, not added to the result), after `max_new_tokens`
#    tokens, or when prompt and new tokens fill the model's `model.config.max_seq_len` positions.
#
# The check runs it on a small model greedily (it ends in `</s>` after a few tokens), with
# `max_new_tokens` 2 and 0, with a model that never says `</s>` (the length limit must stop
# it), with models whose likeliest token is always `<pad>` or always `<unk>`, sampled twice with
# the same seed (the same tokens both times) and at four temperatures, with and without `top_k`,
# on a model where every temperature and `top_k` changes the tokens drawn, and without a
# temperature, which must mean greedy: section 11 calls it that way. The library's `cl.generate`
# follows the same rules.


# %%
def generate(
    model: cl.LLM,
    prompt_ids: list[int],
    max_new_tokens: int = 20,
    temperature: float = 0.0,
    top_k: int | None = None,
    seed: int = 0,
) -> list[int]:
    """The ids the model writes after `prompt_ids`, up to </s> (not included) or a limit."""
    ### BEGIN SOLUTION
    rng = np.random.default_rng(seed)
    ids = list(prompt_ids)
    new: list[int] = []
    while len(new) < max_new_tokens and len(ids) + len(new) < model.config.max_seq_len:
        logits = model(np.array([ids + new]))[0, -1].copy()  # (vocab,)
        logits[[model.config.pad_id, UNK_ID]] = -np.inf  # never written
        if temperature == 0:
            token = int(np.argmax(logits))
        else:
            p = next_token_probs(logits, temperature, top_k)
            token = int(rng.choice(len(p), p=p))
        if token == EOS_ID:  # </s>
            break
        new.append(token)
    return new
    ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "ch05_generate", "points": 2, "locked": true}
generate = check.generate(generate)
### BEGIN HIDDEN TESTS
from course_lib import numpy as _cl
from course_lib.config import ModelConfig as _Config

_m = _cl.LLM(_Config(vocab_size=9, d_model=8, d_hidden=8, n_layers=1, max_seq_len=6), seed=2)
assert len(generate(_m, [4, 5], 50, 0.0, None, 0)) <= 4
assert list(generate(_m, [4, 5], 0, 0.0, None, 0)) == []  # the check takes a tuple too
### END HIDDEN TESTS

# %% [markdown]
# Your loop, wrapped to take and give text: greedy when the temperature is 0.


# %%
def write(prompt: str, temperature: float = 0.0, top_k: int | None = None, seed: int = 0) -> str:
    """The model's continuation of `prompt`, up to </s>."""
    new = generate(model, vocab.encode(prompt), config.max_seq_len, temperature, top_k, seed)
    return vocab.decode(new)


question = "User: What are clouds made of? Assistant:"
print("greedy:        ", write(question))
print("cl.generate:   ", cl.generate(model, vocab, question))  # the library's loop, the same
for seed in range(3):
    print(f"T=1.5, seed {seed}: ", write(question, 1.5, seed=seed))
for seed in range(2):
    print(f"T=1.5, top-3, seed {seed}:", write(question, 1.5, top_k=3, seed=seed))

# %%
# The text below, checked against this run: 20 seeds of each kind (the bands hold on every
# machine, although which seed writes what does not; course_lib.claims).
greedy = write(question)
assert greedy == cl.generate(model, vocab, question)
strays = sum(write(question, 1.5, seed=seed) != greedy for seed in range(20))
keeps = sum(write(question, 1.5, top_k=3, seed=seed) == greedy for seed in range(20))
within("ch05.t15_samples_that_stray", strays)
within("ch05.t15_top3_samples_that_keep", keeps)
print(f"of 20 seeds at T = 1.5, {strays} stray from the trained answer; with top-3, {keeps} keep it")

# %% [markdown]
# The library's `cl.generate(model, vocab, prompt, temperature=..., top_k=..., seed=...)` is
# the same loop. High temperature without top-k wanders off: at `T = 1.5` most samples stray
# from the trained answer, some into nonsense. With top-3 the unlikely tokens are out of reach,
# and most samples give the trained answer. Which seed writes what depends on the last bits of
# your machine's arithmetic; that most stray without top-k, and most keep the answer with it,
# does not (the cell above counts both).
#
# ## 7. A small chat
#
# The chat box wraps your question in the training format and shows the model's answer; the
# sliders set temperature and top-k. Try a training question, then one it has never seen.

# %%
chat_box = ChatBox(model, vocab, template="User: {prompt} Assistant:")
display(chat_box)
for q in ["What is rain?", "Why is the sea salty?", "What do bees make?"]:
    seen = any(text.startswith(f"User: {q} Assistant:") for text in chat)
    try:
        answer = chat_box.ask(q)
    except ValueError as error:  # a word the vocabulary does not know
        answer = f"[{error}]"
    print(f"> {q}   ({'a training question' if seen else 'not in the training data'})\n  {answer}")


# %% [markdown]
# ## 8. Does it answer the training questions?
#
# Every conversation of the instruction data, asked again with greedy decoding: the question,
# the answer it was trained on, the model's answer, and whether they match.
#
# `cl.generate_batch` asks all the questions at once. Like `cl.generate` it reads each prompt
# only once and keeps every position's keys and values (a *key/value cache*), so each new token
# costs one position instead of the whole text again; and it moves all the questions forward
# together, one batched step per token. The answers are the ones `cl.generate` writes.

# %%
prompts = [text.split("Assistant:", 1)[0] + "Assistant:" for text in chat]
answers = cl.generate_batch(model, vocab, prompts)
assert answers[:5] == [cl.generate(model, vocab, prompt) for prompt in prompts[:5]]
rows = []
for text, prompt, answer in zip(chat, prompts, answers, strict=True):
    trained = vocab.decode(vocab.encode(text.split("Assistant:", 1)[1].replace("</s>", "")))
    question = prompt.removeprefix("User:").removesuffix("Assistant:").strip()
    rows.append((question, trained, answer, answer == trained))
matches = sum(row[3] for row in rows)
table = ["| question | trained answer | model's answer | match |", "|---|---|---|---|"]
table += [f"| {q} | {t} | {a} | {'yes' if ok else '**no**'} |" for q, t, a, ok in rows]
display(Markdown("\n".join(table)))
print(f"{matches} of {len(rows)} training questions answered word for word "
      f"({matches / len(rows):.0%})")  # fmt: skip


# %% [markdown]
# The model has memorized its small world: it repeats the trained answer to (nearly) every
# training question. Asked something outside the data, it falls back on what it knows. A
# question like "What do bees make?" often gets a trained answer word for word, the answer to
# some other question; another gets fluent-looking nonsense built from the same words. Which
# question gets which differs from machine to machine (the cell below prints what yours did).
# That is the behaviour of a language model far too small and trained on far too little to
# generalize.

# %%
# The text above, checked against this run (the band holds on every machine; course_lib.claims).
trained_answers = {
    vocab.decode(vocab.encode(text.split("Assistant:", 1)[1].replace("</s>", ""))): text
    for text in chat
}
within("ch05.training_questions_answered", matches)
for question in ["What do bees make?", "Why is the sea salty?"]:  # not in the training data
    answer = cl.generate(model, vocab, f"User: {question} Assistant:")
    known = trained_answers.get(answer)
    source = f"the trained answer to: {known.split(' Assistant:')[0]}" if known else "new text"
    print(f"{question} -> {answer!r}\n   {source}")

# %% [markdown]
# ## 9. Saving and loading
#
# `save_checkpoint` writes the weights, the configuration and the vocabulary to one file;
# `load_checkpoint` rebuilds the model from it. The reloaded model must give exactly the same
# logits.

# %%
folder = Path(tempfile.mkdtemp())
path = cl.save_checkpoint(folder / "course_model.npz", model, vocab)
print(f"saved {path.name}: {path.stat().st_size / 1e6:.1f} MB")
loaded, loaded_vocab = cl.load_checkpoint(path)
probe = np.array([vocab.encode(question)])
same = np.array_equal(model(probe), loaded(probe))
print("same logits after reload:", same)
assert same and loaded_vocab.id_to_token == vocab.id_to_token

# %% [markdown]
# ## 10. The same model on PyTorch
#
# `course_lib.torch` has the same classes, built on `torch.nn` with automatic gradients. The
# checkpoint file is the same for both backends, so the model trained here in NumPy loads
# straight into PyTorch (on a GPU if there is one) and answers the same.

# %%
from course_lib import torch as tcl  # noqa: E402  (importing torch takes a few seconds)

torch_model, torch_vocab = tcl.load_checkpoint(path)
import torch  # noqa: E402

with torch.no_grad():
    torch_logits = torch_model(torch.as_tensor(probe)).cpu().numpy()
print(
    "largest logit difference NumPy vs PyTorch:", float(np.abs(torch_logits - model(probe)).max())
)
for asked, _, answer, _ in rows[:3]:
    torch_answer = tcl.generate(torch_model, torch_vocab, f"User: {asked} Assistant:")
    print(f"> {asked}\n  numpy: {answer}\n  torch: {torch_answer}")

# %%
# The text above, checked against this run: the same logits (to float32 rounding), the same
# answers.
assert np.abs(torch_logits - model(probe)).max() < 1e-4
for asked, _, answer, _ in rows[:3]:
    assert tcl.generate(torch_model, torch_vocab, f"User: {asked} Assistant:") == answer

# %% [markdown]
# ## 11. The whole model on your own code
#
# One piece is still the library's: the forward pass of the whole model, `model(ids)`. You have
# written every part of it - the embedding lookup (chapter 02), the transformer block (chapter
# 03's `block_forward`) and the output projection - so now assemble them.
#
# `block_forward` lives in chapter 03's notebook. The next cell brings in the library's copy of
# it, the one the check of exercise 3.10 compared yours with. To run this section on your own
# code alone, paste your `block_forward` from chapter 03 into that cell instead, with the
# functions it calls (`softmax`, `causal_attention`, `split_heads`, `merge_heads`, `layer_norm`,
# `feed_forward`).

# %%
from course_lib.checks.ch03 import reference_block_forward as block_forward
from course_lib.checks.ch03 import reference_layer_norm as layer_norm

# %% [markdown]
# ### Exercise 5.5: the model's forward pass
#
# Write `llm_forward(ids, params, config)`: the logits `(batch, time, vocab)` for ids
# `(batch, time)`. `params` holds the weights as `model.state_dict()` names them, and `config`
# is `ModelConfig.to_dict()`, a dict with `"n_layers"`, `"n_heads"`, `"norm"` and
# `"layer_norm_eps"` among others:
#
# 1. embeddings: `x = params["embeddings.token.weight"][ids]` plus the position table's first
#    `time` rows, `params["embeddings.position.weight"][:time]`;
# 2. every block in order: block `i`'s weights are the keys that start with `f"blocks.{i}."`;
#    take that prefix off (`key.removeprefix(prefix)`) and call
#    `block_forward(x, block_params, n_heads, norm, eps)`;
# 3. a pre-norm model only: one last `layer_norm` with `params["final_norm.weight"]` and
#    `params["final_norm.bias"]`;
# 4. the output projection: `x @ params["output.weight"].T + params["output.bias"]`.
#
# The check compares your logits with the library's model holding the same weights, post-norm
# and pre-norm, one head and two, and a model whose `layer_norm_eps` is 0.05 (so every norm must
# use `config["layer_norm_eps"]`, not 1e-5). It names the usual slips: positions missing, looked
# up by token id or added after the blocks; blocks in the wrong order, all with block 0's
# weights, or as many as some other model has; the final norm missing, inside the loop or in a
# post-norm model (which has no `final_norm.*` weights); `n_heads`, `norm` or eps not passed on;
# the output bias forgotten.


# %%
def llm_forward(ids: np.ndarray, params: dict[str, np.ndarray], config: dict) -> np.ndarray:
    """Logits (batch, time, vocab) of the model with weights `params` for ids (batch, time)."""
    ### BEGIN SOLUTION
    eps = config["layer_norm_eps"]
    positions = params["embeddings.position.weight"][: ids.shape[1]]  # (time, d_model)
    x = params["embeddings.token.weight"][ids] + positions  # (batch, time, d_model)
    for i in range(config["n_layers"]):
        prefix = f"blocks.{i}."
        block = {k.removeprefix(prefix): v for k, v in params.items() if k.startswith(prefix)}
        x = block_forward(x, block, config["n_heads"], config["norm"], eps)
    if config["norm"] == "pre":
        x = layer_norm(x, params["final_norm.weight"], params["final_norm.bias"], eps)
    return x @ params["output.weight"].T + params["output.bias"]
    ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "ch05_llm_forward", "points": 2, "locked": true}
llm_forward = check.llm_forward(llm_forward)
### BEGIN HIDDEN TESTS
from course_lib import numpy as _cl
from course_lib.config import ModelConfig as _Config

_c = _Config(vocab_size=10, d_model=8, d_hidden=8, n_layers=3, max_seq_len=6, norm="pre")
_m = _cl.LLM(_c, seed=4, dtype=np.float64)
_ids = np.array([[3, 4, 5, 6]])
assert np.allclose(llm_forward(_ids, _m.state_dict(), _c.to_dict()), _m(_ids))
### END HIDDEN TESTS

# %% [markdown]
# Your forward pass on the model trained in section 5, against `model(ids)`:

# %%
trained_params = model.state_dict()
difference = np.abs(llm_forward(probe, trained_params, config.to_dict()) - model(probe)).max()
print(f"largest logit difference: {difference:.1e} (float32 rounding)")

# %% [markdown]
# ### Training on your own code
#
# Now section 5 once more, on your code: your `llm_forward` computes every batch's logits, your
# `cross_entropy` their loss, and your `train_step` updates the weights. (`train_step` runs the
# backward pass through `model.backward`, the library's chain of the backward passes you wrote
# and checked one by one in chapters 02 and 03.) `YourModel` wraps your forward pass so that it
# is called like a model, and your `generate` can write with it. The model starts from the same
# random weights as in section 5 and sees the batches in the same order, so its losses must be
# the library's, epoch for epoch.


# %%
class YourModel:
    """Your `llm_forward` on a model's current weights, called like a model: ids -> logits."""

    def __init__(self, model: cl.LLM) -> None:
        self.model, self.config = model, model.config

    def __call__(self, ids: np.ndarray, mask: np.ndarray | None = None) -> np.ndarray:
        # No mask needed: padding sits at the end, where causal attention never looks back.
        return llm_forward(np.asarray(ids), self.model.state_dict(), self.config.to_dict())


def train_on_your_code(
    model: cl.LLM, optimizer: cl.Adam, texts: list[str], epochs: int, lr: float, seed: int
) -> list[float]:
    """The loop of `cl.train`, with your forward pass, loss and step: each epoch's mean loss."""
    sequences = encode_texts(vocab, texts, max_len=config.max_seq_len + 1)
    rng = np.random.default_rng(seed)  # the batch order of cl.train(..., seed=seed)
    optimizer.lr = lr
    yours = YourModel(model)
    losses = []
    for _ in range(epochs):
        batch_losses = []
        for inputs, targets, mask in make_batches(sequences, BATCH, pad_id=0, rng=rng):
            batch_losses.append(cross_entropy(yours(inputs), targets, 0))  # your forward, loss
            train_step(model, optimizer, inputs, targets, mask, 5.0)  # your step
        losses.append(float(np.mean(batch_losses)))
    return losses


# %% [markdown]
# Pre-training on your code, then instruction tuning (one phase per cell):

# %%
from threadpoolctl import threadpool_limits  # noqa: E402

your_model = cl.LLM(config, seed=0)  # the same start as section 5's model
your_optimizer = cl.Adam(your_model, lr=PRE_LR)
with threadpool_limits(limits=1, user_api="blas"):  # as cl.train: one thread is fastest here
    your_pre = train_on_your_code(your_model, your_optimizer, facts, PRE_EPOCHS, PRE_LR, seed=0)
print(f"pre-training on your code: loss {your_pre[0]:.3f} -> {your_pre[-1]:.4f}")

# %%
with threadpool_limits(limits=1, user_api="blas"):
    your_chat = train_on_your_code(your_model, your_optimizer, chat, CHAT_EPOCHS, CHAT_LR, seed=1)
print(f"instruction tuning on your code: loss {your_chat[0]:.3f} -> {your_chat[-1]:.4f}")

# %%
library_curve, your_curve = pre_losses + chat_losses, your_pre + your_chat
gap = float(np.max(np.abs(np.array(your_curve) - np.array(library_curve))))
fig, ax = plt.subplots(figsize=(7, 3))
ax.plot(library_curve, lw=4, alpha=0.4, label="the library (section 5)")
ax.plot(your_curve, lw=1.2, c="black", label="your code")
ax.axvline(PRE_EPOCHS - 0.5, c="grey", ls=":")
ax.set_xlabel("epoch (pre-training, then instruction tuning)")
ax.set_ylabel("mean loss")
ax.set_yscale("log")
ax.legend()
plt.show()
print(f"final loss, yours: {your_pre[-1]:.4f} / {your_chat[-1]:.4f}, library: "
      f"{pre_losses[-1]:.4f} / {chat_losses[-1]:.4f}; largest gap {gap:.1e}")  # fmt: skip
assert gap < 1e-4, gap  # float32 rounding of two orders of summation, nothing more

# %% [markdown]
# And your `generate`, writing with your forward pass and your trained weights, asked every
# training question, next to the library's model's answers from section 8:

# %%
same, shown = 0, []
with threadpool_limits(limits=1, user_api="blas"):
    for asked, _, library_answer, _ in rows:
        ids = vocab.encode(f"User: {asked} Assistant:")
        answer = vocab.decode(generate(YourModel(your_model), ids, max_new_tokens=30))  # <= 19
        same += answer == library_answer
        shown.append(f"> {asked}\n  yours:   {answer}\n  library: {library_answer}")
print("\n".join(shown[:3]))
print(f"{same} of {len(rows)} answers word for word the same as the library's model's")

# %% [markdown]
# ## Questions to think about
#
# Answer each in two to four sentences, in the cell under it. There is no check: your instructor
# reads the answers.
#
# **Question 1.** The loss averages over the real tokens only. Suppose the padded positions
# counted too, each with the target `<pad>`. What would the model learn from them, and why is
# that a problem even though generation never asks for `<pad>`?

# %% [markdown] nbgrader={"grade": true, "grade_id": "ch05_written_padding", "points": 1, "solution": true}
# ### BEGIN SOLUTION
# It would learn to predict `<pad>` after `<pad>` (and after `</s>`), which is trivially easy:
# those positions soon cost almost nothing and pull the mean loss down without the model learning
# anything about the text. Worse, how much each real token counts would depend on how long the
# other texts in its batch happen to be: a short text in a batch of long ones would be averaged
# with many padding positions and its gradient diluted. The reported loss would no longer be
# comparable between batch sizes or with the one-sequence-at-a-time reference.
# ### END SOLUTION

# %% [markdown]
# **Question 2.** What do sampling with temperature `T -> 0` and with a very large `T` turn
# into? Why do we ask the training questions with greedy decoding, even though sampled text is
# more varied?

# %% [markdown] nbgrader={"grade": true, "grade_id": "ch05_written_temperature", "points": 1, "solution": true}
# ### BEGIN SOLUTION
# As T -> 0, softmax(logits / T) puts all probability on the largest logit: sampling becomes
# greedy decoding. As T grows, logits / T goes to 0 and the distribution becomes uniform over the
# vocabulary (or over the top k): random words. The memorized answer is the most likely token at
# every step, so greedy reproduces it; sampling risks a less likely token at each of the 10-20
# steps, and one wrong word leads the model into a text it never saw, from which it rarely
# recovers.
# ### END SOLUTION

# %% [markdown]
# **Question 3.** Section 8 shows the model repeating its training answers word for word, and
# section 7 shows it babbling on new questions. Name two changes that would help it answer
# questions it has never seen, and say why each would help.

# %% [markdown] nbgrader={"grade": true, "grade_id": "ch05_written_generalize", "points": 1, "solution": true}
# ### BEGIN SOLUTION
# More and more varied data: many phrasings of each question and facts that recombine, so that
# the cheapest way to lower the loss is to learn the patterns rather than store each string. A
# held-out set of questions to stop training (or pick the model) when its loss stops falling,
# since every epoch past that point only memorizes more. Regularization such as weight decay or
# dropout, which makes storing each string exactly more costly. (A larger model alone would
# memorize even more easily.)
# ### END SOLUTION

# %% [markdown]
# ## Summary
#
# - The output projection turns each position's hidden state into logits over the vocabulary.
# - Cross-entropy is computed in log space (log-sum-exp) and averaged over real tokens only.
# - One training step: forward, loss, zero_grad, backward, clip, optimizer step.
# - Pre-training teaches the facts, instruction tuning the question-and-answer format.
# - Generation is a loop: greedy for the most likely text, temperature and top-k to sample.
# - A checkpoint saves the model; it loads in either backend and gives the same logits.
# - The whole forward pass is embeddings, the blocks in order, (pre-norm only) a final norm and
#   the output projection: with your own parts it trains to the library's losses.
#
# Your local score for this chapter:

# %%
checks.summary();
