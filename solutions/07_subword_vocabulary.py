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
# # Chapter 07: Subword vocabularies
#
# Chapter 01 gave the model a vocabulary of **words**. It works for the course corpus, but a
# word the vocabulary never saw can only be an error or `<unk>`, and the model can never write
# a word that was not in its training data, since it has no way to spell. A vocabulary of
# **characters** has neither problem, but every text becomes several times as long.
#
# **Byte-pair encoding** (BPE) sits in between, and it is what large language models use. Start
# from the smallest pieces any text is written in - its bytes - and let the corpus decide which
# pieces to glue together: count every pair of neighbouring pieces, merge the most frequent
# pair into a new piece, and repeat. Frequent words end up as one token; a rare word is cut into
# a few known pieces; a word never seen is still spelled with bytes. Nothing is ever unknown.
#
# In this chapter you build it and train chapter 05's model on it:
#
# 1. bytes as the alphabet, and counting neighbouring pairs,
# 2. merging one pair everywhere (with the catch in `a a a`),
# 3. learning merges from the course corpus,
# 4. encoding a text by applying the merges in the order they were learned,
# 5. decoding ids back to text, even when a token holds half a character,
# 6. special tokens that are never split or merged,
# 7. what changes: lengths, vocabulary sizes, unknown words, and a model trained on subwords.
#
# Each exercise is a function you write; the cell after it checks your function. If you skip
# one, its check says "not done yet" and the chapter goes on with the library's version.

# %%
import time

import matplotlib.pyplot as plt
import numpy as np
from IPython.display import display

from course_lib import checks
from course_lib import numpy as cl
from course_lib.bpe import BPEVocab, pretokenize, show_bytes, split_specials, text_ids
from course_lib.checks import ch07 as check
from course_lib.config import ModelConfig
from course_lib.corpus import chat_texts, pretraining_texts
from course_lib.vocab import UnknownTokenError, Vocab
from course_lib.widgets import TokenViewer

facts, chat = pretraining_texts(), chat_texts()
words = Vocab.build(facts + chat)  # chapter 01's vocabulary

# %% [markdown]
# ## 1. Bytes: an alphabet every text is written in
#
# A computer stores text as **bytes**, numbers from 0 to 255, in the UTF-8 encoding: an ASCII
# letter is one byte, `é` two, an emoji four. With the 256 byte values as the first tokens, any
# text at all can be encoded - accents, emoji, DNA, code. Our vocabulary keeps chapter 01's
# special tokens at ids 0, 1 and 2, so byte `b` gets the id `b + 3`, and the tokens we learn
# later start at id `3 + 256 = 259`.

# %%
SPECIALS = ["<pad>", "</s>", "<unk>"]
FIRST_MERGE_ID = 259  # merge i makes the id 259 + i

sample = "café 🙂"
print(f"{len(sample)} characters, {len(sample.encode('utf-8'))} bytes:", list(sample.encode("utf-8")))
print("their ids:", text_ids(sample))

# %%
# The text above, checked: é is two bytes and the emoji four.
assert len(sample) == 6 and len(sample.encode("utf-8")) == 10
assert text_ids(sample) == [b + 3 for b in sample.encode("utf-8")]

# %% [markdown]
# ## 2. Counting pairs
#
# The first step of learning is counting: how often does each pair of neighbouring ids occur?
#
# ### Exercise 7.1: count adjacent pairs
#
# Write `count_pairs(ids)`, a dict from each pair `(ids[i], ids[i + 1])` to the number of times
# it occurs. Count every position: `a a a` holds the pair `(a, a)` twice, at positions 0 and 1.
# The check tries short lists with repeated and overlapping pairs, one id and none.

# %%
def count_pairs(ids: list[int]) -> dict[tuple[int, int], int]:
    """How often each adjacent pair of `ids` occurs (overlapping pairs count each time)."""
    ### BEGIN SOLUTION
    counts: dict[tuple[int, int], int] = {}
    for pair in zip(ids, ids[1:]):
        counts[pair] = counts.get(pair, 0) + 1
    return counts
    ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "ch07_count_pairs", "points": 2, "locked": true}
count_pairs = check.count_pairs(count_pairs)
### BEGIN HIDDEN TESTS
assert count_pairs([5, 5, 5, 5]) == {(5, 5): 3}
assert count_pairs([7, 8, 9]) == {(7, 8): 1, (8, 9): 1}
### END HIDDEN TESTS

# %% [markdown]
# The most frequent pairs of bytes in the whole corpus, shown as text (`·` is a space):

# %%
corpus_counts: dict[tuple[int, int], int] = {}
for text in facts + chat:
    for pair, n in count_pairs(text_ids(text)).items():
        corpus_counts[pair] = corpus_counts.get(pair, 0) + n
top_pairs = sorted(corpus_counts.items(), key=lambda item: -item[1])[:8]
for (a, b), n in top_pairs:
    print(f"{bytes([a - 3, b - 3]).decode().replace(' ', '·')!r:8} {n}")

# %% [markdown]
# ## 3. Merging a pair
#
# Once we pick a pair, every occurrence of it becomes one new id. Read the ids from left to
# right and, each time the pair starts at the current position, write the new id and skip both
# ids of the pair. That settles the overlapping case: in `a a a` the pair `(a, a)` is merged
# once, giving `X a` - the middle `a` cannot belong to two tokens.
#
# ### Exercise 7.2: merge one pair everywhere
#
# Write `merge_pair(ids, pair, new_id)` returning a new list (leave `ids` as it was). The check
# tries `a a a`, `a a a a a`, the pair at the end, the pair the other way round and empty lists.

# %%
def merge_pair(ids: list[int], pair: tuple[int, int], new_id: int) -> list[int]:
    """`ids` with every occurrence of `pair`, read left to right, replaced by `new_id`."""
    ### BEGIN SOLUTION
    out, i = [], 0
    while i < len(ids):
        if i + 1 < len(ids) and ids[i] == pair[0] and ids[i + 1] == pair[1]:
            out.append(new_id)
            i += 2
        else:
            out.append(ids[i])
            i += 1
    return out
    ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "ch07_merge_pair", "points": 2, "locked": true}
merge_pair = check.merge_pair(merge_pair)
### BEGIN HIDDEN TESTS
assert merge_pair([1, 4, 4, 4, 1], (4, 4), 9) == [1, 9, 4, 1]
assert merge_pair([4, 5, 4, 5], (4, 5), 9) == [9, 9]
### END HIDDEN TESTS

# %%
aaa = text_ids("aaa")
print(aaa, "->", merge_pair(aaa, (aaa[0], aaa[0]), FIRST_MERGE_ID))

# %% [markdown]
# ## 4. Learning merges
#
# Learning repeats the two steps: count the pairs, merge the most frequent one into a new id,
# count again (the merge changed the counts around it), merge again... Merge `i` makes the id
# `259 + i`. Three rules keep the tokens sensible:
#
# - **Chunks.** Texts are first cut into chunks, each word with the space before it, and pairs
#   never cross from one chunk to the next. Without this, the corpus's most frequent pairs would
#   soon glue the end of one word to the start of the next (`"s t"` in "is the"). The library's
#   `pretokenize` does the cut; `learn_merges` gets the chunks as lists of ids.
# - **Special tokens never merge.** Any pair holding id 0, 1 or 2 is skipped.
# - **Stop** after `n_merges`, or earlier when the most frequent pair occurs fewer than twice (a
#   merge seen once saves nothing).
#
# When two pairs are equally frequent, either may go first. The library takes the smaller pair
# (`min(counts, key=lambda p: (-counts[p], p))`); break ties that way too and your merges will be
# the library's, one for one.

# %%
print(pretokenize("User: What is rain? Assistant: Rain is water."))

# %% [markdown]
# ### Exercise 7.3: learn N merges
#
# Write `learn_merges(sequences, n_merges)` returning the list of merged pairs, in the order they
# were learned. Use your `count_pairs` and `merge_pair`, and leave `sequences` as it was (work on
# copies). The check replays your merges: each must be a most frequent pair at its turn. It
# tries merges that change the counts after them, sequences whose pairs would only form across
# two sequences, special ids as the most frequent neighbours, and pairs that occur only once.

# %%
def learn_merges(sequences: list[list[int]], n_merges: int) -> list[tuple[int, int]]:
    """Up to `n_merges` merges, each the most frequent pair (never across sequences, never with
    a special id), while it occurs at least twice; merge i makes id 259 + i."""
    ### BEGIN SOLUTION
    sequences = [list(seq) for seq in sequences]
    merges: list[tuple[int, int]] = []
    for i in range(n_merges):
        counts: dict[tuple[int, int], int] = {}
        for seq in sequences:
            for pair, n in count_pairs(seq).items():
                if min(pair) >= 3:  # special tokens never merge
                    counts[pair] = counts.get(pair, 0) + n
        if not counts or max(counts.values()) < 2:
            break
        pair = min(counts, key=lambda p: (-counts[p], p))  # most frequent; ties: smallest
        merges.append(pair)
        sequences = [merge_pair(seq, pair, FIRST_MERGE_ID + i) for seq in sequences]
    return merges
    ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "ch07_learn_merges", "points": 2, "locked": true}
learn_merges = check.learn_merges(learn_merges)
### BEGIN HIDDEN TESTS
assert learn_merges([[10, 11, 12], [10, 11]], 5) == [(10, 11)]
assert learn_merges([[10, 1], [10, 1], [10, 1]], 3) == []
assert learn_merges([[10, 11], [10, 11]], 0) == []
### END HIDDEN TESTS

# %% [markdown]
# Now on the course corpus: every text cut around its special tokens, then into chunks, each
# chunk a list of byte ids. Your `learn_merges` learns 100 merges from them:

# %%
chunks = [
    text_ids(chunk)
    for text in facts + chat
    for piece in split_specials(text)
    if piece not in SPECIALS
    for chunk in pretokenize(piece)
]
start = time.perf_counter()
your_merges = learn_merges(chunks, 100)
print(f"{len(chunks)} chunks; 100 merges learned in {time.perf_counter() - start:.2f} s")

# %% [markdown]
# `BPEVocab.train` learns the same way, and keeps its counts up to date instead of recounting
# after every merge (only the chunks that hold the merged pair are looked at again). Its first
# merges, as the text each new token stands for:

# %%
bpe = BPEVocab.train(facts + chat, vocab_size=FIRST_MERGE_ID + 100)
same = sum(mine == theirs for mine, theirs in zip(your_merges, bpe.merges))
print(f"your merges and the library's: {same} of 100 the same, in the same place")
print("the library's first merges:")
print(" | ".join(bpe.id_to_token[FIRST_MERGE_ID : FIRST_MERGE_ID + 24]))

# %%
# The text above, checked (counts are whole numbers: the same on every machine): the first
# merges glue frequent pieces, and " the" is among the first ten new tokens.
assert " the" in bpe.id_to_token[FIRST_MERGE_ID : FIRST_MERGE_ID + 10]
assert all(len(bpe.token_bytes[i]) >= 2 for i in range(FIRST_MERGE_ID, len(bpe)))

# %% [markdown]
# ## 5. Encoding: the merges in the order they were learned
#
# To encode a chunk, start from its byte ids and replay the merges in the order they were
# learned: among the neighbouring pairs present, merge the one learned **earliest** (the lowest
# rank), everywhere, and repeat until no pair present was ever merged. Rank order matters: a
# later merge may build on an earlier one, and the same bytes can be cut differently. Taking
# the longest known token from the left, for example, is a different tokenizer - its pieces are
# not the ones the corpus statistics chose.
#
# ### Exercise 7.4: encode by applying merges in rank order
#
# Write `bpe_encode(text, merges)`: the byte ids of `text` (a chunk, no special tokens in it),
# merged in rank order; merge `r` (the `r`-th pair of `merges`) makes the id `259 + r`. The
# check uses merges where rank order, the longest match and a left-to-right sweep give different
# tokens.

# %%
def bpe_encode(text: str, merges: list[tuple[int, int]]) -> list[int]:
    """The ids of `text` (no special tokens in it): its byte ids, merged in rank order."""
    ### BEGIN SOLUTION
    rank = {tuple(pair): r for r, pair in enumerate(merges)}
    ids = [b + 3 for b in text.encode("utf-8")]
    while len(ids) > 1:
        pair = min(zip(ids, ids[1:]), key=lambda p: rank.get(p, len(merges)))
        if pair not in rank:
            break
        ids = merge_pair(ids, pair, FIRST_MERGE_ID + rank[pair])
    return ids
    ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "ch07_bpe_encode", "points": 2, "locked": true}
bpe_encode = check.bpe_encode(bpe_encode)
### BEGIN HIDDEN TESTS
_m = [(100, 101), (259, 102)]  # "ab", then "ab" + "c"
assert bpe_encode("abcab", _m) == [260, 259]
assert bpe_encode("", _m) == []
### END HIDDEN TESTS

# %% [markdown]
# A word of the corpus, and a word it never had, encoded with the 100 merges:

# %%
for chunk in [" Assistant", " zebra"]:
    ids = bpe_encode(chunk, bpe.merges)
    print(f"{chunk!r:13} -> {[show_bytes(bpe.token_bytes[i]) for i in ids]}")

# %% [markdown]
# ## 6. Decoding: bytes back to text
#
# Each id stands for some bytes: a special token for its own text, a byte id `i` for the byte
# `i - 3`, a merge for its first token's bytes followed by its second's. Decoding joins the
# bytes of all the ids into **one** byte string and reads it as UTF-8 once. Decoding each token
# on its own fails: a character of several bytes can be cut between two tokens, and neither
# half is a character. And a token can hold half a character even alone, so decode with
# `errors="replace"`: a broken character becomes `�` (U+FFFD) instead of an exception.
#
# ### Exercise 7.5: decode
#
# Write `decode(ids, merges)` returning the text. The check decodes tokens that cut `é` in two,
# a byte alone, merges built from merges, and the special tokens.

# %%
def decode(ids: list[int], merges: list[tuple[int, int]]) -> str:
    """The text of `ids`: every token's bytes joined, read as UTF-8 once (errors replaced)."""
    ### BEGIN SOLUTION
    table = [token.encode("utf-8") for token in SPECIALS] + [bytes([b]) for b in range(256)]
    for a, b in merges:
        table.append(table[a] + table[b])
    return b"".join(table[i] for i in ids).decode("utf-8", errors="replace")
    ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "ch07_decode", "points": 2, "locked": true}
decode = check.decode(decode)
### BEGIN HIDDEN TESTS
assert decode([107, 108, 1], [(107, 108)]) == "hi</s>"
assert decode([261], [(100, 101), (102, 103), (259, 260)]) == "abcd"
### END HIDDEN TESTS

# %%
e_ids = text_ids("é")
print(e_ids, "together:", repr(decode(e_ids, [])), " one at a time:",
      [decode([i], []) for i in e_ids])  # fmt: skip

# %%
# The text above, checked: together the two bytes are é, alone each is a broken character.
assert decode(e_ids, []) == "é" and [decode([i], []) for i in e_ids] == ["\ufffd", "\ufffd"]

# %% [markdown]
# ## 7. Special tokens stay whole
#
# `</s>` in a text is one token, id 1, and so are `<pad>` (0) and `<unk>` (2). If they went
# through the bytes, `</s>` would become four tokens that merges could glue to their neighbours,
# and the model would never see "the end" as one event. So encoding first cuts the text around
# the special tokens, gives each its id, and encodes the pieces in between chunk by chunk.
#
# ### Exercise 7.6: encode a whole text
#
# Write `encode(text, merges)`: each special token of `text` becomes its id; every other piece
# is cut with `pretokenize(piece)` and each chunk encoded with your `bpe_encode`. (`re.split`
# with a group, `re.split("(<pad>|</s>|<unk>)", text)`, keeps the separators in the list.) The
# check puts special tokens at the start, in the middle and at the end, one after another, and
# two spaces before a word.

# %%
import re  # noqa: E402


def encode(text: str, merges: list[tuple[int, int]]) -> list[int]:
    """The ids of `text`: special tokens whole, every other chunk by `bpe_encode`."""
    ### BEGIN SOLUTION
    ids: list[int] = []
    for piece in re.split("(<pad>|</s>|<unk>)", text):
        if piece in SPECIALS:
            ids.append(SPECIALS.index(piece))
        elif piece:
            for chunk in pretokenize(piece):
                ids += bpe_encode(chunk, merges)
    return ids
    ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "ch07_encode", "points": 2, "locked": true}
encode = check.encode(encode)
### BEGIN HIDDEN TESTS
assert encode("</s></s>", []) == [1, 1]
assert encode("a<unk>", []) == [100, 2]
### END HIDDEN TESTS

# %% [markdown]
# Your encoder and decoder on the whole corpus, beside the library's `BPEVocab` with the same
# merges:

# %%
yours = [encode(text, bpe.merges) for text in facts + chat]
library = [bpe.encode(text) for text in facts + chat]
back = sum(decode(ids, bpe.merges) == text for ids, text in zip(yours, facts + chat))
print(f"the same ids as the library for {sum(a == b for a, b in zip(yours, library))} of "
      f"{len(library)} texts; {back} come back unchanged")  # fmt: skip

# %%
# The text above, checked: every text comes back exactly, and ends with the one token </s>.
assert back == len(facts + chat) and all(ids[-1] == 1 for ids in library)

# %% [markdown]
# ## 8. What changes: lengths and vocabulary sizes
#
# The number of merges is the knob. No merges: 259 tokens (specials and bytes) and very long
# texts. Each merge adds one token and makes the texts shorter. Below, the library's `BPEVocab`
# at several sizes, beside chapter 01's word vocabulary (`BPEVocab.train(texts, vocab_size)`
# learns `vocab_size - 259` merges, or fewer when no pair occurs twice any more).

# %%
sizes = [259, 300, 400, len(words), 800, 1200]
rows = [("words (chapter 01)", len(words), [len(words.encode(t)) for t in facts + chat])]
for size in sizes:
    vocab = BPEVocab.train(facts + chat, size)
    rows.append((f"BPE, {size} asked", len(vocab), [len(vocab.encode(t)) for t in facts + chat]))
print(f"{'vocabulary':22} {'tokens':>7} {'tokens per text':>16} {'longest':>8}")
for name, n, lengths in rows:
    print(f"{name:22} {n:7d} {np.mean(lengths):16.1f} {max(lengths):8d}")

fig, ax = plt.subplots(figsize=(7, 3))
ax.plot([n for _, n, _ in rows[1:]], [np.mean(x) for *_, x in rows[1:]], "o-", label="BPE")
ax.plot([len(words)], [np.mean(rows[0][2])], "s", ms=9, label="words (chapter 01)")
ax.set_xlabel("vocabulary size (tokens)")
ax.set_ylabel("mean tokens per text")
ax.legend()
plt.show()

# %%
# The text below, checked against this run.
bpe_means = [np.mean(x) for *_, x in rows[1:]]
word_mean = np.mean(rows[0][2])
same_size = rows[1 + sizes.index(len(words))]
assert all(a > b for a, b in zip(bpe_means, bpe_means[1:-1]))  # more merges, shorter texts
assert 3.5 < bpe_means[0] / word_mean < 5  # bytes alone: about four times as long
assert 1.3 < np.mean(same_size[2]) / word_mean < 2  # the same size: about 1.6 times as long
assert rows[-1][1] < 1200  # the corpus runs out of pairs that occur twice
largest = BPEVocab.train(facts + chat, 1200)
pieces = [
    chunk
    for text in facts + chat
    for piece in split_specials(text)
    if piece not in SPECIALS
    for chunk in pretokenize(piece)
]
single = np.mean([len(largest.encode(chunk)) == 1 for chunk in pieces])
print(f"with {len(largest)} tokens, {single:.0%} of the corpus's chunks are one token each")
assert single > 0.8
assert max(same_size[2]) <= ModelConfig(vocab_size=len(words)).max_seq_len

# %% [markdown]
# With bytes alone a text is about four times as many tokens as with words. At the size of the
# word vocabulary, BPE texts are about 1.6 times as long as word-level ones: BPE spends part of
# its vocabulary on pieces and on the spaces, which the word vocabulary leaves to `decode`. Asked
# for 1200 tokens, BPE stops early: in a corpus this small, no pair occurs twice any more, and
# most chunks are then a single token - a word vocabulary again, learned from statistics alone.
#
# Type your own text below and switch between the vocabularies (the picture under it shows one
# example for readers without a kernel):

# %%
bpe_300 = BPEVocab.train(facts + chat, 300)
bpe_same = BPEVocab.train(facts + chat, len(words))
viewer = TokenViewer(
    {f"BPE, {len(bpe_same)} tokens": bpe_same, "BPE, 300 tokens": bpe_300, "words": words},
    text="User: Why do zebras have stripes? Assistant:",
)
display(viewer)
viewer.static()

# %% [markdown]
# ## 9. No unknown words
#
# The word vocabulary must refuse "zebra" (or turn it into `<unk>`); BPE spells it with pieces
# it has, so the text comes back exactly, whatever it holds:

# %%
question = "User: Why do zebras have stripes? Assistant:"
try:
    words.encode(question)
except UnknownTokenError as error:
    print("words:", type(error).__name__, str(error).split(".")[0])
for text in [question, "Le café — très bon 🙂", "ACGTTGCA", "def f(x): return x ** 2"]:
    ids = bpe_same.encode(text)
    print(f"{len(ids):3d} tokens, back unchanged: {bpe_same.decode(ids) == text}:",
          bpe_same.tokens(ids)[:12])  # fmt: skip

# %%
# The text above, checked.
assert all(
    bpe_same.decode(bpe_same.encode(t)) == t
    for t in [question, "Le café — très bon 🙂", "ACGTTGCA", "def f(x): return x ** 2"]
)

# %% [markdown]
# ## 10. The chapter 05 model on subword tokens
#
# Now the same model learns the corpus twice: once on chapter 01's words and once on BPE tokens
# from a vocabulary of the same size. To stay within a minute, both are smaller than chapter
# 05's (width 64, two blocks) and train for 30 + 30 epochs; everything else is chapter 05's
# recipe.
#
# How to compare their losses? The loss of chapter 05 is per **token**, and a BPE text has more,
# shorter tokens, each easier to guess: per token, BPE would look better for no good reason. The
# fair measure is the loss of a whole text divided by its number of **characters**: both models
# read the same texts, so they share that denominator, and the smaller loss per character is
# the model that predicts the text better.

# %%
CONFIG = {"d_model": 64, "d_hidden": 128, "n_layers": 2}
PRE_EPOCHS, PRE_LR, CHAT_EPOCHS, CHAT_LR, BATCH = 30, 3e-3, 30, 2.5e-3, 8


def train_on(vocab) -> tuple[cl.LLM, list[float]]:
    """Chapter 05's two phases on `vocab`'s tokens; the model and every epoch's loss."""
    model = cl.LLM(ModelConfig(vocab_size=len(vocab), **CONFIG), seed=0)
    optimizer = cl.Adam(model, lr=PRE_LR)
    losses = cl.train(model, vocab, facts, epochs=PRE_EPOCHS, lr=PRE_LR, batch_size=BATCH,
                      seed=0, optimizer=optimizer, desc="pre-training")  # fmt: skip
    losses += cl.train(model, vocab, chat, epochs=CHAT_EPOCHS, lr=CHAT_LR, batch_size=BATCH,
                       seed=1, optimizer=optimizer, desc="instruction tuning")  # fmt: skip
    return model, losses


def loss_per_character(model: cl.LLM, vocab, texts: list[str]) -> tuple[float, float]:
    """(nats per token, nats per character) of `model` predicting each text after its first
    token."""
    nats = tokens = characters = 0
    for text in texts:
        ids = np.array([vocab.encode(text)])
        loss, _ = cl.cross_entropy(model(ids[:, :-1]), ids[:, 1:])
        nats += loss * (ids.shape[1] - 1)
        tokens += ids.shape[1] - 1
        characters += len(text)
    return nats / tokens, nats / characters


word_model, word_losses = train_on(words)
bpe_model, bpe_losses = train_on(bpe_same)

# %%
measured = {}
for name, model, vocab in [("words", word_model, words), ("BPE", bpe_model, bpe_same)]:
    measured[name] = loss_per_character(model, vocab, chat)
    per_token, per_char = measured[name]
    print(f"{name:6} {len(vocab)} tokens: {per_token:.4f} nats per token, "
          f"{per_char:.4f} nats per character")  # fmt: skip
fig, ax = plt.subplots(figsize=(7, 3))
ax.plot(word_losses, label="words")
ax.plot(bpe_losses, label="BPE")
ax.axvline(PRE_EPOCHS - 0.5, c="grey", ls=":")
ax.set_yscale("log")
ax.set_xlabel("epoch (pre-training, then instruction tuning)")
ax.set_ylabel("mean loss per token")
ax.legend()
plt.show()

# %% [markdown]
# Per token, the BPE model seems to do better than it does: the same conversations are more
# BPE tokens than words, and per character that flattering factor is divided out again (the
# cell below prints it). Per character, both models end up predicting the conversations they
# were tuned on to a small fraction of a nat, within a factor of three of each other: on a
# corpus this small and this well memorized, the tokenizer changes how long the texts are far
# more than how well they are learned.

# %%
# The text above, checked against this run (the bands hold on every machine; course_lib.claims).
from course_lib.claims import within

(word_token, word_char), (bpe_token, bpe_char) = measured["words"], measured["BPE"]
flattery = (word_token / bpe_token) / (word_char / bpe_char)
print(f"per token, BPE looks {flattery:.2f} times better than per character")
within("ch07.per_token_flattery", flattery)  # more tokens per text: a flattered loss per token
within("ch07.words_nats_per_char", word_char)
within("ch07.bpe_nats_per_char", bpe_char)
within("ch07.bpe_over_words_per_char", bpe_char / word_char)

# %% [markdown]
# ## 11. Does the BPE model answer the chat questions?
#
# Every question of the instruction data, asked again with greedy decoding. A BPE answer begins
# with the space after "Assistant:" (the space belongs to the first word's token), so answers are
# compared without the spaces around them.

# %%
prompts = [text.split("Assistant:", 1)[0] + "Assistant:" for text in chat]
trained = [text.split("Assistant:", 1)[1].replace("</s>", "").strip() for text in chat]
answers = cl.generate_batch(bpe_model, bpe_same, prompts)
right = sum(a.strip() == t for a, t in zip(answers, trained))
print(f"{right} of {len(chat)} answered word for word, for example:")
for prompt, answer in list(zip(prompts, answers))[:3]:
    print(f"> {prompt}\n {answer}")

# %%
# The text above, checked against this run: nine answers in ten at least, on every machine.
assert len(chat) == 84
within("ch07.bpe_questions_answered", right)

# %% [markdown]
# ## 12. A word the model never saw
#
# Ask both models about zebras. The word model cannot even read the question. The BPE model
# reads "zebras" byte by byte and answers. It has never seen a zebra, so the answer is made of
# what it learned from questions that look like this one - and since it writes pieces of words,
# it may well spell words that exist nowhere in its training data.

# %%
try:
    cl.generate(word_model, words, question)
except UnknownTokenError as error:
    print("word model:", str(error).split(".")[0])
unseen = cl.generate(bpe_model, bpe_same, question)
print("BPE model: ", unseen)
print("it read the question as:", bpe_same.tokens(bpe_same.encode(question)))

# %%
# The text above, checked: the word model refuses, the BPE model answers with some text.
try:
    cl.generate(word_model, words, question)
    refused = False
except UnknownTokenError:
    refused = True
assert refused and unseen.strip()
assert "zebras" not in " ".join(facts + chat)

# %% [markdown]
# ## Questions to think about
#
# Answer each in two to four sentences, in the cell under it. There is no check: your instructor
# reads the answers.
#
# **Question 1.** Encoding applies the merges in the order they were learned. Give a reason why
# taking the longest known token from the left would be a worse tokenizer for a model trained on
# BPE tokens, even though it also only produces tokens of the vocabulary.

# %% [markdown] nbgrader={"grade": true, "grade_id": "ch07_written_rank_order", "points": 1, "solution": true}
# ### BEGIN SOLUTION
# The model learned from texts cut by the merges in rank order, so it knows those cuts: a
# different cutting rule gives it token sequences it never saw in training, even for the very
# same text, and its predictions for them are unreliable. The rank order also encodes the
# corpus statistics (the pairs that were most frequent were merged first), while the longest
# match can pick a rare long token and leave awkward pieces around it. Finally, two texts that
# share a word would no longer be guaranteed to cut that word the same way.
# ### END SOLUTION

# %% [markdown]
# **Question 2.** Why is the loss per token of a BPE model not comparable with the loss per token
# of a word-level model, and why does dividing by the number of characters fix it? What would
# still differ between the two measurements?

# %% [markdown] nbgrader={"grade": true, "grade_id": "ch07_written_per_character", "points": 1, "solution": true}
# ### BEGIN SOLUTION
# A BPE text has more tokens, and many of them (the second half of a word, a space) are almost
# certain given the ones before, so the average per token is pulled down without the model
# predicting the text any better. The total loss of a text is the number of nats needed to
# encode all of it, whatever the cutting; dividing both totals by the same number of characters
# compares the same thing. What still differs: the word model never predicts the spaces (decode
# adds them by rule), and the first token of each text, which neither predicts, covers a
# different number of characters.
# ### END SOLUTION

# %% [markdown]
# ## Summary
#
# - Bytes are an alphabet for every text: with them as the first tokens, nothing is unknown.
# - BPE learns merges: count neighbouring pairs, merge the most frequent, count again.
# - Encoding replays the merges in the order they were learned; decoding joins the bytes first.
# - Special tokens are cut out first and never split or merged.
# - More merges, shorter texts; compare models on different tokens by their loss per character.
#
# Your local score for this chapter:

# %%
checks.summary();
