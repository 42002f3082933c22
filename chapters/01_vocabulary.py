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
# # Chapter 01: Vocabulary and tokenization
#
# A language model never sees letters. It sees numbers: every piece of text is cut into
# **tokens**, and every token is looked up in a **vocabulary** that gives it an id. The model
# reads ids and predicts ids; a last step turns ids back into text.
#
# In this chapter you build that first and last step:
#
# 1. a tokenizer that splits text into words and punctuation,
# 2. a vocabulary with a few special tokens at fixed ids,
# 3. `encode` (text to ids) and `decode` (ids back to text), and what to do with unknown words,
# 4. a look at how often each token occurs,
# 5. the same idea for DNA, cut into k-mers (chapter 06 comes back to it).
#
# Each exercise is a function you write; the cell after it checks your function. If you skip
# one, its check says "not done yet" and the chapter goes on with the library's version.
# A helper in a cell of your own counts too, when that cell only defines functions or constants.
#
# ### The model this course re-builds
#
# The model you build is a re-build of **RustGPT**, a small language model written from scratch
# in about 1,050 lines of Rust: a word-and-punctuation tokenizer, token and position
# embeddings, three transformer blocks of width 128, an output layer, the Adam optimizer and
# greedy text generation. We call it **the reference model**. Its training recipe, **the
# reference schedule**, is 100 epochs (passes over the data) of pre-training on short facts,
# then 100 epochs of instruction tuning on short conversations, one text at a time.
#
# Why build it again? It is small enough to understand completely, yet it has the parts large
# language models are made of. And building it piece by piece, with a check after every piece,
# fixes what it got wrong: it silently dropped words it did not know, it crashed on texts
# longer than its 80 positions, and two of its hand-written gradients were wrong in a way its
# own tests never noticed (chapter 03 shows both). Our model has the same sizes; chapter 05
# trains it in batches, which is faster than one text at a time, on this course's own corpus.

# %%
import string
from collections import Counter

import matplotlib.pyplot as plt

from course_lib import checks
from course_lib.checks import ch01 as check
from course_lib.corpus import chat_texts, pretraining_texts
from course_lib.vocab import DNAVocab, SequenceTooLongError, UnknownTokenError, Vocab

# %% [markdown]
# ### The whole course on one page
#
# Here is where this chapter sits. The model of this course turns a text into a score for every
# possible next token, in the steps below; each step is built in the chapter named above it.
# Under each box is what comes out of it: an array's shape, with `T` the number of tokens, `d`
# the numbers the model keeps per token and `V` the size of the vocabulary. This chapter builds
# the first two arrows, and the way back from ids to text.

# %%
from course_lib import diagrams

diagrams.tokens_to_logits();

# %% [markdown]
# ## 1. The course corpus
#
# The model you build in this course learns from two small datasets. The first holds one-sentence facts
# about a little world of weather, the sea, plants and animals; the model reads them first
# (pre-training). The second holds short conversations whose answers use those facts; the model
# reads them next, to learn to answer (instruction tuning). Every text ends with `</s>`, the
# end-of-sequence token.

# %%
facts = pretraining_texts()
chat = chat_texts()
print(f"{len(facts)} facts and {len(chat)} conversations, for example:\n")
print(facts[0])
print(chat[0])

# %% [markdown]
# ## 2. What is a token?
#
# A token is the smallest piece of text the model treats as one symbol. It could be a single
# character, a whole word, or a piece of a word. Our model uses **words and punctuation**, with
# this rule:
#
# - split the text on whitespace (spaces, tabs, new lines);
# - every ASCII punctuation character (`string.punctuation`: `.` `,` `:` `?` `!` `-` ...) is a
#   token of its own, so `"Assistant:"` becomes `"Assistant"` and `":"`;
# - keep the case: `"Sea"` and `"sea"` are different tokens;
# - the end-of-sequence token `</s>` stays whole, even though it is made of punctuation.
#
# Why cut punctuation off? Otherwise `"sea"`, `"sea."` and `"sea?"` would be three unrelated
# tokens, and the model would have to learn each of them from scratch.

# %% [markdown]
# ### Exercise 1.1: split text into tokens
#
# Write `tokenize(text)` following the rule above. Walk through each whitespace-separated chunk
# character by character: collect letters into a word, and whenever you meet a punctuation
# character, finish the word and add the punctuation as a token of its own. Check for `</s>`
# before you look at single characters (`chunk.startswith(END, i)` helps).
#
# The check tries, among others, `"User: Hi, there!"`, `"Rain falls.</s>"`, text with several
# spaces and new lines, `"Wait... what?!"`, the empty text and `"café — tea"`. Only ASCII
# punctuation splits words, so letters like `é` and symbols like `—` belong to the word they touch.

# %%
END = "</s>"


def tokenize(text: str) -> list[str]:
    """Split on whitespace; every ASCII punctuation character is a token of its own."""
    # YOUR CODE HERE
    raise NotImplementedError()


# %% nbgrader={"grade": true, "grade_id": "ch01_tokenize", "locked": true, "points": 2}
tokenize = check.tokenize(tokenize)

# %% [markdown]
# Here is a conversation from the corpus, cut into tokens:

# %%
print(tokenize(chat[0]))

# %% [markdown]
# ## 3. The vocabulary
#
# The vocabulary is the list of every distinct token; a token's id is its position in the list.
# Three **special tokens** come first, at ids that never change:
#
# | id | token | meaning |
# |---|---|---|
# | 0 | `<pad>` | padding: fills up short sequences so that a batch has one length |
# | 1 | `</s>` | end of sequence: the model writes it when its answer is finished |
# | 2 | `<unk>` | unknown: stands in for a word the vocabulary does not know |
#
# All other tokens follow in **sorted** order. Sorting matters more than it looks: Python's
# `set` iterates in an order that depends on string hashes, and those are randomized each time
# Python starts. A vocabulary in set order gives different ids on every run, so a model saved
# yesterday would read today's ids as the wrong words.

# %% [markdown]
# ### Exercise 1.2: build the vocabulary
#
# Write `build_vocab(texts)`: tokenize every text, collect the distinct tokens, and return the
# list `SPECIALS` followed by the other tokens, sorted. `</s>` occurs in the texts, but it must
# appear only once, at id 1. The check also feeds the same texts in another order: the ids must
# not change.

# %%
SPECIALS = ["<pad>", "</s>", "<unk>"]


def build_vocab(texts: list[str]) -> list[str]:
    """Every token of `texts`: SPECIALS first, then the other tokens sorted."""
    # YOUR CODE HERE
    raise NotImplementedError()


# %% nbgrader={"grade": true, "grade_id": "ch01_build_vocab", "locked": true, "points": 2}
build_vocab = check.build_vocab(build_vocab)

# %% [markdown]
# Now the vocabulary of the whole corpus, and the dictionary that goes the other way, from a
# token to its id:

# %%
tokens = build_vocab(facts + chat)
token_to_id = {token: i for i, token in enumerate(tokens)}
print(f"{len(tokens)} tokens; the first twelve: {tokens[:12]}")
print("the id of 'sea':", token_to_id["sea"])

# %%
# The text above, checked against this run: punctuation, then capitals, then lower case.
KINDS = ("punctuation", "capital", "lower case")
kinds = [
    KINDS[0] if t[0] in string.punctuation else KINDS[1] if t[0].isupper() else KINDS[2]
    for t in tokens[len(SPECIALS) :]
]
assert kinds == sorted(kinds, key=KINDS.index), "the corpus now has tokens of another order"
assert sorted(["a", "_", "Z"]) == ["Z", "_", "a"]  # ASCII in general: _ between the cases

# %% [markdown]
# The library's `Vocab` builds the very same list:
# Python sorts strings character by character, by their code points (`ord`). The punctuation
# of this corpus (`!` `,` `.` `:` `?`) comes before every capital letter, and capitals come
# before lower-case letters, which is why `!`, `,` and `.` follow the special tokens, then the
# words with a capital, then the rest. That is a fact about this corpus, not a rule of ASCII:
# `[`, `^`, `_` and a few other punctuation characters sort between `Z` and `a`.

# %%
vocab = Vocab.build(facts + chat)
print(vocab, "- the same ids as yours:", vocab.id_to_token == tokens)


# %% [markdown]
# ## 4. Encoding, and words the vocabulary does not know
#
# Encoding turns a text into ids: tokenize, then look each token up. But what if a token is not
# in the vocabulary? The reference model silently **dropped** such words, so
# `"The Whale sings."` quietly became `"The ."` - and nobody noticed. There are two honest
# choices:
#
# - **raise an error** that names the word, so you can fix the text or the vocabulary;
# - **use `<unk>`** (id 2), so the model at least sees that some word was there.
#
# ### Exercise 1.3: encode
#
# Write `encode(text, token_to_id, unknown="error")`. With `unknown="error"` (the default) an
# unknown word raises `ValueError` with a message that names the word; with `unknown="unk"` it
# becomes the id of `<unk>`. Use your `tokenize`.

# %%
def encode(text: str, token_to_id: dict[str, int], unknown: str = "error") -> list[int]:
    """The id of each token of `text`; an unknown word raises ValueError or becomes <unk>."""
    # YOUR CODE HERE
    raise NotImplementedError()


# %% nbgrader={"grade": true, "grade_id": "ch01_encode", "locked": true, "points": 2}
encode = check.encode(encode)

# %%
ids = encode("User: What is rain?", token_to_id)
print(ids)

# %% [markdown]
# The library's `Vocab.encode` does the same, and its error also suggests the nearest spelling it
# knows and tells you how to get `<unk>` instead:

# %%
try:
    vocab.encode("The Whale sings.")
except UnknownTokenError as error:
    print("UnknownTokenError:", error)

# %%
print(vocab.encode("The Whale sings.", unknown="unk"))

# %% [markdown]
# ### Decoding
#
# Decoding turns ids back into text: look up each token and join them with spaces - except that
# no space goes before `.` `,` `:` `;` `?` `!`. The corpus is written that way, so every text
# comes back exactly as it was:

# %%
print(vocab.decode(ids))
round_trips = sum(vocab.decode(vocab.encode(text)) == text for text in facts + chat)
print(f"{round_trips} of {len(facts + chat)} texts come back unchanged")

# %%
# The text above, checked against this run: every text comes back exactly.
assert round_trips == len(facts + chat)

# %% [markdown]
# `decode(ids, skip_special=True)` leaves the special tokens out, which is handy when you show a
# model's answer:

# %%
answer = vocab.encode("Rain is water. </s>")
print(repr(vocab.decode(answer)), "->", repr(vocab.decode(answer, skip_special=True)))

# %% [markdown]
# ## 5. Padding and the length limit
#
# A model is trained on batches of several texts at once, and a batch is a table: every row must
# have the same length. Short texts are filled up with `<pad>` (id 0); later chapters tell the
# model to ignore those positions.

# %%
batch = [vocab.encode(text) for text in facts[:3]]
width = max(len(row) for row in batch)
for row in batch:
    print(row + [vocab.PAD_ID] * (width - len(row)))

# %% [markdown]
# The model also reads at most a fixed number of tokens at a time: it keeps one learned vector
# for each position in a text (chapter 02 builds them), 80 of them as in the reference model
# (`max_seq_len` in its configuration). A longer text cannot go in. `max_len` turns that into a
# clear error instead of a crash deep inside the model:

# %%
long_text = " ".join(facts[:12])
try:
    vocab.encode(long_text, max_len=80)
except SequenceTooLongError as error:
    print("SequenceTooLongError:", error)

# %%
# The text above, checked: the model's configuration has 80 positions.
from course_lib.config import ModelConfig

assert ModelConfig(vocab_size=len(vocab)).max_seq_len == 80

# %% [markdown]
# And text that is not plain English? Only ASCII punctuation splits words, so accented letters,
# dashes and emoji simply belong to the word they touch:

# %%
print(tokenize("Le café — très bon 🙂!"))

# %% [markdown]
# ## 6. How often does each token occur?
#
# A few tokens occur all the time and most occur only once or twice. The bars on the left show
# the 25 most frequent tokens; the right plot shows every token's count against its rank, on
# log scales, where such a "long tail" looks like a falling line.

# %%
counts = Counter(token for text in facts + chat for token in tokenize(text))
top = counts.most_common(25)
ranked = sorted(counts.values(), reverse=True)

fig, (left, right) = plt.subplots(1, 2, figsize=(12, 4))
left.bar([token for token, _ in top], [n for _, n in top])
left.set_title("The 25 most frequent tokens")
left.set_ylabel("count")
left.tick_params(axis="x", rotation=90)
right.loglog(range(1, len(ranked) + 1), ranked, marker=".", linestyle="none")
right.set_title("Every token: count against rank")
right.set_xlabel("rank")
right.set_ylabel("count")
fig.tight_layout()
plt.show()
once = sum(n == 1 for n in counts.values())
print(f"{once} of {len(counts)} tokens occur only once")

# %%
# The text above, checked against this run: most tokens occur once or twice, a few very often.
assert sum(n <= 2 for n in counts.values()) > len(counts) / 2
assert top[0][1] > 100


# %% [markdown]
# ## 7. DNA: k-mers
#
# DNA is a text too, written in four letters: A, C, G and T. It has no spaces, so we cut it into
# pieces of `k` letters, called **k-mers**. There are two ways to do that:
#
# - **side by side** (no overlap): `ACGTAC` with k = 3 gives `ACG`, `TAC`. A remainder shorter
#   than k at the end is dropped;
# - **overlapping**: a k-mer starts at every letter: `ACGTAC` gives `ACG`, `CGT`, `GTA`, `TAC`.
#
# `N` marks a base nobody could read; for now it is just another letter.
#
# ### Exercise 1.4: k-mers
#
# Write `kmers(seq, k, overlapping=False)`. Think about where the last k-mer starts: a sequence
# of length n has its last whole k-mer at position n - k.

# %%
def kmers(seq: str, k: int, overlapping: bool = False) -> list[str]:
    """The k-mers of `seq`, side by side or (with `overlapping`) starting at every base."""
    # YOUR CODE HERE
    raise NotImplementedError()


# %% nbgrader={"grade": true, "grade_id": "ch01_kmers", "locked": true, "points": 2}
kmers = check.kmers(kmers)

# %%
seq = "ATGCGTACGTTAGC"
print("side by side:", kmers(seq, 3))
print("overlapping: ", kmers(seq, 3, overlapping=True))

# %% [markdown]
# For DNA the vocabulary is known in advance: every one of the 4^k possible k-mers, after the
# same three special tokens. A k-mer holding an `N` is not among them, so it becomes `<unk>`:

# %%
dna = DNAVocab(3)
print(dna, "- the first ones:", dna.id_to_token[:8])
dna_ids = dna.encode("ATGCGNACG")
print(dna_ids, dna.tokens(dna_ids), dna.decode(dna_ids))

# %%
# The text below, checked against this run.
assert dna.decode(dna_ids) == "ATGNNNACG"

# %% [markdown]
# Decoding reads `<unk>` back as `NNN`: the `C` and `G` that shared a k-mer with the `N` are lost.
# That is the price of an unknown token, for DNA as for words.

# %% [markdown]
# Which way should a model read DNA? Overlapping k-mers give a richer picture of each position,
# which helps when we only want features of a sequence (chapter 06). But for predicting the next
# token they give the game away: the next overlapping k-mer shares k - 1 letters with the one
# before, so only one letter is really new. For next-token training, use single letters or
# k-mers side by side.

# %% [markdown]
# ## Questions to think about
#
# Answer each in two to four sentences, in the cell under it. There is no check: your instructor
# reads the answers.
#
# **Question 1.** The small model this course re-builds dropped unknown words without a word of
# warning. Describe what a user would see - at training time and when chatting - if the training
# data used a word the vocabulary had missed, and why an error or `<unk>` is better.

# %% [markdown] nbgrader={"grade": true, "grade_id": "ch01_written_unknown_words", "points": 1, "solution": true}
# YOUR ANSWER HERE

# %% [markdown]
# **Question 2.** Our tokens are whole words and punctuation. What would change if every
# *character* were a token instead: the size of the vocabulary, the length of a sentence in
# tokens, and what happens with a word the training data never had? Name one advantage and one
# cost.

# %% [markdown] nbgrader={"grade": true, "grade_id": "ch01_written_characters", "points": 1, "solution": true}
# YOUR ANSWER HERE

# %% [markdown]
# ## Your score
#
# You now have every piece that turns text into ids and back. `checks.summary()` shows your score
# per exercise, then the mistakes the checks found on the way in this session (each once, with how
# many check runs found it), so you can see what you fixed. The next chapter turns each id into a
# vector the model can compute with.

# %%
checks.summary();
