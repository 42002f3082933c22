"""Checks for chapter 01 (vocabulary and tokenization), one per exercise.

Each check tries the learner's function on small cases and, when an answer is wrong, looks for the
usual mistake behind it: punctuation glued to words, ``</s>`` cut into ``<`` ``/`` ``s`` ``>``,
ids in the order a set happens to iterate, special tokens away from their fixed ids, unknown words
dropped without a word, k-mers one short or one too many, overlap mixed up.
"""

from __future__ import annotations

import string
from collections import Counter
from collections.abc import Callable, Sequence

from course_lib import vocab as _vocab
from course_lib.checks import CheckFailed, Exercise, call_catching, expect
from course_lib.checks import call_learner as _call
from course_lib.checks._common import show as _show

__all__ = ["build_vocab", "encode", "kmers", "tokenize"]

_PUNCTUATION = frozenset(string.punctuation)
_SPECIALS = list(_vocab.SPECIAL_TOKENS)


# --- Exercise 1.1: tokenize -------------------------------------------------------------------

_TOKENIZE_CASES = [
    "Hello world",
    "User: Hi, there!",
    "The sea is salty. </s>",
    "Rain falls.</s>",
    "Sea  and\tsea\n rain",
    "Wait... what?!",
    "(yes) a-b",
    "",
    "café — tea",
    "tea—café",
    "a/b <c>",
]


def _diagnose_tokenize(text: str, got: list[str], want: list[str]) -> str:
    """A hint for the mistake that turns `want` into `got`."""
    if "".join(got) != "".join(want) and "".join(got).lower() == "".join(want).lower():
        return "keep the case of every letter: 'Sea' and 'sea' are different tokens."
    if any(t == "" for t in got):
        return (
            "your tokens include empty strings: split on any run of whitespace with text.split() "
            "(no argument), not text.split(' ')."
        )
    if any(any(c.isspace() for c in t) for t in got):
        return "a token contains whitespace: split on whitespace first."
    for i in range(len(got) - 3):
        if got[i : i + 4] == ["<", "/", "s", ">"]:
            return (
                "'</s>' was cut into '<', '/', 's', '>': the end-of-sequence token is one token. "
                "Take it out whole before splitting off punctuation."
            )
    if any("</s>" in t and t != "</s>" for t in got):
        return "'</s>' is glued to a word or to punctuation: 'falls.</s>' is 'falls', '.', '</s>'."
    for token in got:
        if token in _SPECIALS or len(token) < 2:
            continue
        if all(c in _PUNCTUATION for c in token):
            return (
                f"{token!r} is one token, but every punctuation character is a token of its own: "
                f"{list(token)}."
            )
        if any(c in _PUNCTUATION for c in token):
            return (
                f"punctuation is glued to a word in {token!r}: every ASCII punctuation character "
                f"(string.punctuation) is a token of its own, e.g. 'Hi,' -> 'Hi', ','."
            )
    split_off = [t for t in got if not t.isascii() and t not in want]
    if split_off:
        return (
            f"{split_off[0]!r} was split off, but only ASCII punctuation (string.punctuation) "
            f"splits words: letters like 'é' and symbols like '—' belong to the word they touch."
        )
    return f"tokenize({text!r}) should be {want}, got {_show(got)}."


def _test_tokenize(fn: Callable[[str], list[str]]) -> int:
    count = 0
    for text in _TOKENIZE_CASES:
        got = _call(fn, text)
        expect(
            isinstance(got, list) and all(isinstance(t, str) for t in got),
            f"tokenize should return a list of strings; for {text!r} it returned {_show(got)}.",
        )
        want = _vocab.tokenize(text)
        expect(got == want, _diagnose_tokenize(text, got, want))
        count += 1
    return count


tokenize = Exercise(
    "ch01_tokenize",
    "tokenize",
    _vocab.tokenize,
    _test_tokenize,
    points=2,
    doc="Check Exercise 1.1 (`tokenize(text) -> list[str]`).",
)


# --- Exercise 1.2: build_vocab ----------------------------------------------------------------


def reference_build_vocab(texts: Sequence[str]) -> list[str]:
    """Every token of `texts`: the special tokens first, then the others sorted."""
    return list(_vocab.Vocab.build(texts).id_to_token)


_VOCAB_TEXTS = [
    "User: Is the sea salty? Assistant: Yes, the sea is salty. </s>",
    "The Sea is deep. </s>",
    "Bees make honey. </s>",
    "Ants and bees live in groups. </s>",
]


def _diagnose_vocab(got: list[str], want: list[str]) -> str:
    if got[:3] != _SPECIALS:
        missing = [s for s in _SPECIALS if s not in got]
        if missing:
            return (
                f"the special tokens {missing} are missing: start the list with "
                f"{_SPECIALS} so they get the fixed ids 0, 1, 2."
            )
        where = {s: got.index(s) for s in _SPECIALS}
        return (
            f"special tokens are not at their fixed ids: they are at {where}, but '<pad>' must be "
            f"id 0, '</s>' id 1 and '<unk>' id 2. Put them first, then the sorted rest."
        )
    rest = got[3:]
    for special in _SPECIALS:
        if special in rest:
            return (
                f"{special!r} appears twice: it is already at id {_SPECIALS.index(special)}; "
                f"leave the special tokens out of the sorted rest."
            )
    if len(set(rest)) != len(rest):
        twice = sorted(t for t, n in Counter(rest).items() if n > 1)
        return f"every token must appear once, but {twice[:5]} appear more than once."
    if set(rest) != set(want[3:]):
        missing = sorted(set(want[3:]) - set(rest))
        extra = sorted(set(rest) - set(want[3:]))
        if any(any(c in _PUNCTUATION for c in t) and len(t) > 1 for t in extra):
            return (
                f"tokens like {extra[:3]} have punctuation glued on: split each text with "
                f"tokenize(text), not text.split()."
            )
        return (
            f"the tokens differ from the texts' tokens: missing {missing[:5]}, extra {extra[:5]}."
        )
    if rest != sorted(rest):
        if rest == sorted(rest, key=str.lower):
            return (
                "sort with plain sorted(tokens) (no key): a case-insensitive sort puts 'Sea' and "
                "'sea' in an order that plain sorting would not."
            )
        return (
            "the tokens after the specials are not sorted. The order a set iterates in can "
            "change from one run to the next (string hashing is randomized), so the ids would "
            "change too and a saved model would read the wrong words: use sorted(...)."
        )
    return f"build_vocab should return {_show(want)}, got {_show(got)}."


def _test_build_vocab(fn: Callable[[Sequence[str]], list[str]]) -> int:
    count = 0
    cases = [_VOCAB_TEXTS, _VOCAB_TEXTS[2:], []]
    for texts in cases:
        got = _call(fn, list(texts))
        if isinstance(got, dict):
            raise CheckFailed(
                "build_vocab should return the list of tokens (a token's id is its position), "
                "not a dict."
            )
        expect(
            isinstance(got, list) and all(isinstance(t, str) for t in got),
            f"build_vocab should return a list of strings, got {_show(got)}.",
        )
        want = reference_build_vocab(texts)
        expect(got == want, _diagnose_vocab(got, want))
        again = _call(fn, list(reversed(texts)))
        expect(
            again == want,
            "the same texts in another order gave other ids: sort the tokens so that the ids "
            "depend only on which tokens there are.",
        )
        count += 2
    return count


build_vocab = Exercise(
    "ch01_build_vocab",
    "build_vocab",
    reference_build_vocab,
    _test_build_vocab,
    points=2,
    doc="Check Exercise 1.2 (`build_vocab(texts) -> list[str]`, a token's id is its position).",
)


# --- Exercise 1.3: encode ---------------------------------------------------------------------


def reference_encode(text: str, token_to_id: dict[str, int], unknown: str = "error") -> list[int]:
    """The id of each token of `text`; an unknown word raises ValueError or becomes id 2."""
    ids = []
    for token in _vocab.tokenize(text):
        if token in token_to_id:
            ids.append(token_to_id[token])
        elif unknown == "unk":
            ids.append(_vocab.UNK_ID)
        else:
            raise ValueError(f"{token!r} is not in the vocabulary; use unknown='unk' for <unk>")
    return ids


def _test_encode(fn: Callable[..., list[int]]) -> int:
    table = _vocab.Vocab.build(_VOCAB_TEXTS).token_to_id
    count = 0
    known = ["The Sea is deep. </s>", "Yes, bees live in groups. </s>", ""]
    for text in known:
        got, raised = call_catching(fn, text, dict(table))
        if raised is not None:
            glued = [w for w in text.split() if w not in table and w in raised.message]
            if glued:
                word = glued[0]
                raise CheckFailed(
                    f"encode({text!r}) raised {raised.type_name} about {word!r}, but every "
                    f"token of this text is known: split it with tokenize(text), not "
                    f"text.split(), so that {word!r} becomes {_vocab.tokenize(word)}."
                )
            raise CheckFailed(
                f"encode({text!r}) raised {raised}; every token of this text is in the vocabulary."
            )
        want = reference_encode(text, table)
        expect(
            isinstance(got, list) and all(isinstance(i, int) for i in got),
            f"encode should return a list of ints, got {_show(got)}.",
        )
        expect(got == want, f"encode({text!r}) should be {want}, got {_show(got)}.")
        count += 1

    unknown_text = "The sea is green. </s>"
    want = reference_encode(unknown_text, table, unknown="unk")
    got = _call(fn, unknown_text, dict(table), unknown="unk")
    if isinstance(got, list) and len(got) == len(want) - 1:
        raise CheckFailed(
            "with unknown='unk' the unknown word 'green' was dropped: put the id of <unk> (2) in "
            "its place, so the model still sees that a word was there."
        )
    if isinstance(got, list) and len(got) == len(want) and got != want:
        wrong = got[want.index(_vocab.UNK_ID)]
        expect(
            wrong == _vocab.UNK_ID,
            f"with unknown='unk' the unknown word 'green' got id {wrong!r}; <unk> has the fixed "
            f"id 2.",
        )
    expect(got == want, f"encode({unknown_text!r}, unknown='unk') should be {want}, got {got}.")
    count += 1

    got, raised = call_catching(fn, unknown_text, dict(table), unknown="error")
    if raised is not None and raised.is_a("KeyError"):
        raise CheckFailed(
            "an unknown word raised a bare KeyError: raise ValueError with a message that names "
            "the word and says how to get <unk> instead (unknown='unk')."
        )
    if raised is not None and raised.is_a("ValueError"):
        expect(
            "green" in raised.message,
            f"the error for an unknown word should name it ('green'); the message was: "
            f"{raised.message}",
        )
    elif raised is not None:
        raise CheckFailed(
            f"with unknown='error' an unknown word should raise ValueError, got {raised}"
        )
    else:
        if isinstance(got, list) and _vocab.UNK_ID in got:
            raise CheckFailed(
                "with unknown='error' an unknown word must raise ValueError, not become <unk>."
            )
        raise CheckFailed(
            "with unknown='error' the unknown word 'green' was dropped without a word (the "
            "model this course re-builds did that): raise ValueError naming the word instead."
        )
    _, raised = call_catching(fn, unknown_text, dict(table))
    if raised is None:
        raise CheckFailed(
            "by default an unknown word should raise ValueError: make unknown='error' the default."
        )
    if not raised.is_a("ValueError"):
        raise CheckFailed(
            f"by default (unknown='error') an unknown word should raise ValueError, got {raised}"
        )
    return count + 2


encode = Exercise(
    "ch01_encode",
    "encode",
    reference_encode,
    _test_encode,
    points=2,
    doc='Check Exercise 1.3 (`encode(text, token_to_id, unknown="error") -> list[int]`).',
)


# --- Exercise 1.4: kmers ----------------------------------------------------------------------

_KMER_CASES: list[tuple[str, int, bool]] = [
    ("ACGTAC", 3, False),  # length a multiple of k: the last k-mer counts
    ("ACGTACGT", 3, False),  # a tail of 2 bases: dropped
    ("ACGTA", 2, True),
    ("ACG", 3, True),
    ("ACGNT", 2, False),
    ("ACGT", 1, False),
    ("AC", 3, False),
    ("AC", 3, True),
]


def _diagnose_kmers(seq: str, k: int, overlapping: bool, got: list[str], want: list[str]) -> str:
    call = f"kmers({seq!r}, {k}, overlapping={overlapping})"
    other = _vocab.kmers(seq, k, overlapping=not overlapping)
    if got == other and got != want:
        if overlapping:
            return (
                f"{call} gave k-mers side by side; with overlapping=True a k-mer starts at every "
                f"base (step 1): {want}."
            )
        return (
            f"{call} gave overlapping k-mers; without overlap the next k-mer starts where the "
            f"last one ended (step k): {want}."
        )
    if want and got == want[:-1]:
        return (
            f"off by one: {call} is missing its last k-mer {want[-1]!r}. The last k-mer starts "
            f"at len(seq) - k, so the starts run up to range(..., len(seq) - k + 1, ...)."
        )
    short = [t for t in got if len(t) != k]
    if short:
        return (
            f"{call} kept {short[-1]!r}, shorter than k={k}: drop a remainder that is too short "
            f"to make a whole k-mer."
        )
    return f"{call} should be {want}, got {_show(got)}."


def _test_kmers(fn: Callable[..., list[str]]) -> int:
    count = 0
    for seq, k, overlapping in _KMER_CASES:
        got = _call(fn, seq, k, overlapping=overlapping)
        expect(
            isinstance(got, list) and all(isinstance(t, str) for t in got),
            f"kmers should return a list of strings, got {_show(got)}.",
        )
        want = _vocab.kmers(seq, k, overlapping=overlapping)
        expect(got == want, _diagnose_kmers(seq, k, overlapping, got, want))
        count += 1
    got = _call(fn, "ACGTAC", 3)
    expect(
        got == _vocab.kmers("ACGTAC", 3),
        f"kmers('ACGTAC', 3) should not overlap by default (overlapping=False), got {_show(got)}.",
    )
    return count + 1


kmers = Exercise(
    "ch01_kmers",
    "kmers",
    _vocab.kmers,
    _test_kmers,
    points=2,
    doc="Check Exercise 1.4 (`kmers(seq, k, overlapping=False) -> list[str]`).",
)
