"""course_lib.checks.ch01: each usual mistake gets its own hint; right answers pass.

Oracle: a deliberately wrong implementation of each exercise, written the way a learner might get
it wrong, must fail its check with the hint that names that mistake.
"""

from __future__ import annotations

import re
import string
from collections.abc import Callable

import pytest

from course_lib.checks import CheckFailed
from course_lib.checks import ch01 as check

SPECIALS = ["<pad>", "</s>", "<unk>"]


def fails_with(check_fn: Callable, learner: Callable, *hints: str) -> str:
    """Run `check_fn(learner)`; assert it fails with a message containing every hint."""
    with pytest.raises(CheckFailed) as info:
        check_fn(learner)
    message = str(info.value)
    for hint in hints:
        assert hint in message, f"hint {hint!r} not in: {message}"
    return message


# --- right answers (as in solutions/01_vocabulary.py) -----------------------------------------


def good_tokenize(text: str) -> list[str]:
    tokens = []
    for chunk in text.split():
        word, i = "", 0
        while i < len(chunk):
            if chunk.startswith("</s>", i) or chunk[i] in string.punctuation:
                if word:
                    tokens.append(word)
                    word = ""
                piece = "</s>" if chunk.startswith("</s>", i) else chunk[i]
                tokens.append(piece)
                i += len(piece)
            else:
                word += chunk[i]
                i += 1
        if word:
            tokens.append(word)
    return tokens


def good_build_vocab(texts: list[str]) -> list[str]:
    found = set()
    for text in texts:
        found.update(good_tokenize(text))
    return SPECIALS + sorted(found - set(SPECIALS))


def good_encode(text: str, token_to_id: dict[str, int], unknown: str = "error") -> list[int]:
    ids = []
    for token in good_tokenize(text):
        if token in token_to_id:
            ids.append(token_to_id[token])
        elif unknown == "unk":
            ids.append(token_to_id["<unk>"])
        else:
            raise ValueError(f"{token!r} is not in the vocabulary")
    return ids


def good_kmers(seq: str, k: int, overlapping: bool = False) -> list[str]:
    step = 1 if overlapping else k
    return [seq[i : i + k] for i in range(0, len(seq) - k + 1, step)]


# --- tokenize ---------------------------------------------------------------------------------


def test_tokenize_punctuation_glued_to_words() -> None:
    fails_with(check.tokenize, lambda text: text.split(), "punctuation is glued to a word in")


def test_tokenize_end_of_sequence_cut_into_pieces() -> None:
    def cuts_eos(text: str) -> list[str]:
        return re.findall(r"\w+|[^\w\s]", text)

    fails_with(check.tokenize, cuts_eos, "'</s>' was cut into '<', '/', 's', '>'")


def test_tokenize_end_of_sequence_glued_on() -> None:
    def keeps_chunk_with_eos(text: str) -> list[str]:
        tokens = []
        for chunk in text.split():
            tokens += [chunk] if "</s>" in chunk else good_tokenize(chunk)
        return tokens

    fails_with(check.tokenize, keeps_chunk_with_eos, "'</s>' is glued to a word or to punctuation")


def test_tokenize_angle_brackets_and_slash_read_as_letters() -> None:
    def eos_letters(text: str) -> list[str]:
        splitting = re.escape(string.punctuation.translate(str.maketrans("", "", "</>")))
        return re.findall(rf"[^\s{splitting}]+|[{splitting}]", text)

    fails_with(check.tokenize, eos_letters, "punctuation is glued to a word in 'a/b'")


def test_tokenize_runs_of_punctuation_kept_together() -> None:
    def groups(text: str) -> list[str]:
        runs = r"</s>|[^\s" + re.escape(string.punctuation) + r"]+|[^\w\s]+"
        return re.findall(runs, text)

    fails_with(check.tokenize, groups, "is one token, but every punctuation character is a token")


def test_tokenize_lower_cased() -> None:
    fails_with(check.tokenize, lambda t: [w.lower() for w in good_tokenize(t)], "keep the case")


def test_tokenize_split_on_single_spaces() -> None:
    def single_spaces(text: str) -> list[str]:
        return [t for w in text.split(" ") for t in good_tokenize(w) or [""]]

    fails_with(check.tokenize, single_spaces, "empty strings", "text.split()")


def test_tokenize_unicode_punctuation_split_off() -> None:
    def splits_dash(text: str) -> list[str]:
        return good_tokenize(text.replace("—", " — "))

    fails_with(check.tokenize, splits_dash, "'—' was split off", "only ASCII punctuation")


def test_tokenize_not_returning_a_list() -> None:
    fails_with(check.tokenize, lambda text: " ".join(good_tokenize(text)), "a list of strings")


def test_tokenize_crash_shows_the_call() -> None:
    def crashes(text: str) -> list[str]:
        return good_tokenize(text) if text else [text.split()[0]]

    fails_with(check.tokenize, crashes, "crashes('') raised IndexError")


# --- build_vocab ------------------------------------------------------------------------------


def test_build_vocab_in_order_of_first_appearance() -> None:
    def first_seen(texts: list[str]) -> list[str]:
        seen = dict.fromkeys(t for text in texts for t in good_tokenize(text))
        return SPECIALS + [t for t in seen if t not in SPECIALS]

    fails_with(check.build_vocab, first_seen, "not sorted", "use sorted(...)")


def test_build_vocab_in_set_order() -> None:
    def set_order(texts: list[str]) -> list[str]:
        found = {t for text in texts for t in good_tokenize(text)}
        return SPECIALS + list(found - set(SPECIALS))

    fails_with(check.build_vocab, set_order, "can change from one run to the next")


def test_build_vocab_specials_sorted_in_with_the_rest() -> None:
    def sorts_all(texts: list[str]) -> list[str]:
        return sorted({t for text in texts for t in good_tokenize(text)} | set(SPECIALS))

    fails_with(check.build_vocab, sorts_all, "special tokens are not at their fixed ids")


def test_build_vocab_specials_at_the_end() -> None:
    def specials_last(texts: list[str]) -> list[str]:
        return good_build_vocab(texts)[3:] + SPECIALS

    fails_with(check.build_vocab, specials_last, "'<pad>' must be id 0")


def test_build_vocab_specials_missing() -> None:
    def no_specials(texts: list[str]) -> list[str]:
        return sorted({t for text in texts for t in good_tokenize(text)})

    fails_with(check.build_vocab, no_specials, "special tokens ['<pad>', '<unk>'] are missing")


def test_build_vocab_end_of_sequence_twice() -> None:
    def eos_twice(texts: list[str]) -> list[str]:
        return SPECIALS + sorted({t for text in texts for t in good_tokenize(text)})

    fails_with(check.build_vocab, eos_twice, "'</s>' appears twice")


def test_build_vocab_duplicate_tokens() -> None:
    def duplicates(texts: list[str]) -> list[str]:
        tokens = [t for text in texts for t in good_tokenize(text) if t not in SPECIALS]
        return SPECIALS + sorted(tokens)

    fails_with(check.build_vocab, duplicates, "every token must appear once")


def test_build_vocab_with_str_split() -> None:
    def str_split(texts: list[str]) -> list[str]:
        found = {t for text in texts for t in text.split()}
        return SPECIALS + sorted(found - set(SPECIALS))

    fails_with(check.build_vocab, str_split, "punctuation glued on", "tokenize(text)")


def test_build_vocab_case_insensitive_sort() -> None:
    def sorts_by_lower(texts: list[str]) -> list[str]:
        found = {t for text in texts for t in good_tokenize(text)} - set(SPECIALS)
        return SPECIALS + sorted(sorted(found), key=str.lower)

    fails_with(check.build_vocab, sorts_by_lower, "plain sorted(tokens)")


def test_build_vocab_returning_a_dict() -> None:
    def as_dict(texts: list[str]) -> dict[str, int]:
        return {t: i for i, t in enumerate(good_build_vocab(texts))}

    fails_with(check.build_vocab, as_dict, "not a dict")


# --- encode -----------------------------------------------------------------------------------


def test_encode_drops_unknown_words() -> None:
    def drops(text: str, table: dict[str, int], unknown: str = "error") -> list[int]:
        return [table[t] for t in good_tokenize(text) if t in table]

    fails_with(check.encode, drops, "with unknown='unk' the unknown word 'green' was dropped")


def test_encode_drops_unknown_words_when_it_should_raise() -> None:
    def silent(text: str, table: dict[str, int], unknown: str = "error") -> list[int]:
        if unknown == "unk":
            return good_encode(text, table, unknown="unk")
        return [table[t] for t in good_tokenize(text) if t in table]

    fails_with(check.encode, silent, "was dropped without a word", "raise ValueError")


def test_encode_gives_unk_when_it_should_raise() -> None:
    def always_unk(text: str, table: dict[str, int], unknown: str = "error") -> list[int]:
        return good_encode(text, table, unknown="unk")

    fails_with(check.encode, always_unk, "must raise ValueError, not become <unk>")


def test_encode_wrong_unknown_id() -> None:
    def last_id(text: str, table: dict[str, int], unknown: str = "error") -> list[int]:
        if unknown == "unk":
            return [table.get(t, len(table)) for t in good_tokenize(text)]
        return good_encode(text, table)

    fails_with(check.encode, last_id, "<unk> has the fixed id 2")


def test_encode_bare_key_error() -> None:
    def key_error(text: str, table: dict[str, int], unknown: str = "error") -> list[int]:
        if unknown == "unk":
            return good_encode(text, table, unknown="unk")
        return [table[t] for t in good_tokenize(text)]

    fails_with(check.encode, key_error, "bare KeyError", "raise ValueError")


def test_encode_error_does_not_name_the_word() -> None:
    def vague(text: str, table: dict[str, int], unknown: str = "error") -> list[int]:
        try:
            return good_encode(text, table, unknown)
        except ValueError:
            raise ValueError("unknown word") from None

    fails_with(check.encode, vague, "should name it ('green')")


def test_encode_with_str_split() -> None:
    def str_split(text: str, table: dict[str, int], unknown: str = "error") -> list[int]:
        ids = []
        for token in text.split():
            if token not in table:
                raise ValueError(f"{token!r} is not in the vocabulary")
            ids.append(table[token])
        return ids

    fails_with(check.encode, str_split, "'deep.'", "split it with tokenize(text)")


def test_encode_default_policy_is_unk() -> None:
    def default_unk(text: str, table: dict[str, int], unknown: str = "unk") -> list[int]:
        return good_encode(text, table, unknown)

    fails_with(check.encode, default_unk, "make unknown='error' the default")


# --- kmers ------------------------------------------------------------------------------------


def test_kmers_last_kmer_dropped() -> None:
    def one_short(seq: str, k: int, overlapping: bool = False) -> list[str]:
        return [seq[i : i + k] for i in range(0, len(seq) - k, 1 if overlapping else k)]

    fails_with(check.kmers, one_short, "off by one", "len(seq) - k + 1")


def test_kmers_short_tail_kept() -> None:
    def keeps_tail(seq: str, k: int, overlapping: bool = False) -> list[str]:
        return [seq[i : i + k] for i in range(0, len(seq), 1 if overlapping else k)]

    fails_with(check.kmers, keeps_tail, "kept 'GT', shorter than k=3")


def test_kmers_overlap_swapped() -> None:
    def swapped(seq: str, k: int, overlapping: bool = False) -> list[str]:
        return good_kmers(seq, k, not overlapping)

    fails_with(check.kmers, swapped, "gave overlapping k-mers; without overlap", "(step k)")


def test_kmers_always_side_by_side() -> None:
    def never_overlap(seq: str, k: int, overlapping: bool = False) -> list[str]:
        return good_kmers(seq, k)

    fails_with(check.kmers, never_overlap, "gave k-mers side by side", "(step 1)")


def test_kmers_overlapping_by_default() -> None:
    def default_overlap(seq: str, k: int, overlapping: bool = True) -> list[str]:
        return good_kmers(seq, k, overlapping)

    fails_with(check.kmers, default_overlap, "should not overlap by default")
