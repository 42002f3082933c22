"""Checks for chapter 07, subword vocabularies: counting pairs, merging a pair, learning merges,
encoding in rank order, decoding bytes, and special tokens that stay whole.

Each check runs the learner's function on small cases whose answers `course_lib.bpe` knows, and
when an answer is wrong, compares it with what each usual mistake would have returned (the
mistake computed here, on the same case) so that the hint can name it: overlapping pairs counted
or merged twice, merges applied out of rank order or by the longest match, counts not updated
after a merge, pairs across sequences, special tokens merged or split into bytes, tokens decoded
one by one instead of as one byte string. When an exercise is not done, the chapter goes on with
the library's version.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from itertools import pairwise
from typing import Any

from course_lib import bpe
from course_lib.checks import CheckFailed, Exercise, call_catching, expect
from course_lib.checks import call_learner as _call
from course_lib.checks._common import expect_unchanged, ids_result, kind_of, snapshot
from course_lib.checks._common import show as _show

__all__ = [
    "bpe_encode",
    "count_pairs",
    "decode",
    "encode",
    "learn_merges",
    "merge_pair",
    "reference_bpe_encode",
    "reference_count_pairs",
    "reference_decode",
    "reference_encode",
    "reference_learn_merges",
    "reference_merge_pair",
]

OFFSET, FIRST = bpe.BYTE_OFFSET, bpe.FIRST_MERGE_ID
SPECIALS = ("<pad>", "</s>", "<unk>")
Pair = tuple[int, int]


def _ids(text: str) -> list[int]:
    return [b + OFFSET for b in text.encode("utf-8")]


A, B, C, D = _ids("abcd")
SP = _ids(" ")[0]


# ----------------------------------------------------------------------------- references


def reference_count_pairs(ids: list[int]) -> dict[Pair, int]:
    """How often each adjacent pair of `ids` occurs (overlapping pairs count each time)."""
    return bpe.count_pairs(list(ids))


def reference_merge_pair(ids: list[int], pair: Pair, new_id: int) -> list[int]:
    """`ids` with every occurrence of `pair`, read left to right, replaced by `new_id`."""
    return bpe.merge_pair(list(ids), tuple(pair), new_id)


def reference_learn_merges(sequences: list[list[int]], n_merges: int) -> list[Pair]:
    """Up to `n_merges` merges: each time the most frequent pair (never across sequences, never
    with a special id), while it occurs at least twice; merge i makes id 259 + i."""
    return bpe.learn_merges([list(s) for s in sequences], n_merges)


def reference_bpe_encode(text: str, merges: list[Pair]) -> list[int]:
    """The ids of `text` (no special tokens in it): its byte ids, merged in rank order."""
    ranks = {tuple(pair): rank for rank, pair in enumerate(merges)}
    return bpe.apply_merges(bpe.text_ids(text), ranks)


def reference_decode(ids: list[int], merges: list[Pair]) -> str:
    """The text of `ids`: every token's bytes joined, read as UTF-8 once (errors replaced)."""
    return bpe.BPEVocab([tuple(p) for p in merges]).decode(ids)


def reference_encode(text: str, merges: list[Pair]) -> list[int]:
    """The ids of `text`: special tokens whole, every other chunk by `bpe_encode`."""
    return bpe.BPEVocab([tuple(p) for p in merges]).encode(text)


# ----------------------------------------------------------------------------- helpers


def _pairs_list(value: Any, what: str) -> list[Pair]:
    """The merges a learner returned, as a list of (int, int) tuples."""
    expect(value is not None, f"{what} returned None: did you forget the `return`?")
    expect(
        isinstance(value, (list, tuple)),
        f"{what} should return the merges as a list of pairs (a, b), got {kind_of(value)}.",
    )
    out = []
    for item in value:
        ok = (
            isinstance(item, (list, tuple))
            and len(item) == 2
            and all(isinstance(x, int) and not isinstance(x, bool) for x in item)
        )
        expect(
            ok,
            f"{what} should return a list of pairs of ids like (104, 101); one item is "
            f"{_show(item, 60)}.",
        )
        out.append((int(item[0]), int(item[1])))
    return out


def _first_hint(got: Any, want: Any, mistakes: Sequence[tuple[Any, str]], fallback: str) -> str:
    """The hint of the first mistake whose result is `got` (and not the right one)."""
    for result, hint in mistakes:
        if got == result and got != want:
            return hint
    return fallback


# ----------------------------------------------------------------------------- 7.1 count_pairs

_COUNT_CASES = [
    [A, B, C, A, B, C, A],
    [A, A, A],
    [A, B, A, B],
    [C, D],
    [A],
    [],
]


def _count_mistakes(ids: list[int]) -> list[tuple[Any, str]]:
    n = len(ids)
    non_overlapping: dict[Pair, int] = {}
    i = 0
    while i < n - 1:
        pair = (ids[i], ids[i + 1])
        non_overlapping[pair] = non_overlapping.get(pair, 0) + 1
        i += 2 if pair[0] == pair[1] else 1
    wrapped = bpe.count_pairs(list(ids) + list(ids[:1])) if n > 1 else {}
    short = bpe.count_pairs(list(ids[:-1]))
    swapped = {(b, a): k for (a, b), k in bpe.count_pairs(ids).items()}
    once = dict.fromkeys(bpe.count_pairs(ids), 1)
    return [
        (
            non_overlapping,
            "in a a a the pair (a, a) starts at position 0 and again at position 1, so it "
            "counts 2: count every adjacent position. (Overlaps matter when merging, not when "
            "counting.)",
        ),
        (
            short,
            "the last pair is missing: pairs start at positions 0 to len(ids) - 2, i.e. "
            "zip(ids, ids[1:]) or range(len(ids) - 1).",
        ),
        (
            wrapped,
            "a pair wraps around from the last id to the first: the last id has no right "
            "neighbour.",
        ),
        (
            swapped,
            "a pair is (left, right) = (ids[i], ids[i + 1]); yours are the other way round.",
        ),
        (
            once,
            "every pair has count 1: count how often each pair occurs, "
            "counts[pair] = counts.get(pair, 0) + 1.",
        ),
    ]


def _test_count_pairs(fn: Callable[[list[int]], dict]) -> int:
    count = 0
    for ids in _COUNT_CASES:
        before = snapshot(ids)
        argument = list(ids)
        got = _call(fn, argument)
        expect_unchanged("count_pairs", ("ids",), before, (argument,))
        expect(got is not None, "count_pairs returned None: did you forget the `return`?")
        if isinstance(got, (list, tuple)):
            raise CheckFailed(
                f"count_pairs should return a dict from each pair to its count, got "
                f"{kind_of(got)}: {_show(got, 80)}."
            )
        expect(isinstance(got, dict), f"count_pairs should return a dict, got {kind_of(got)}.")
        if any(not isinstance(k, tuple) for k in got):
            key = next(k for k in got if not isinstance(k, tuple))
            raise CheckFailed(
                f"the keys should be pairs (tuples) of ids such as ({A}, {B}); one key is "
                f"{key!r}. Use the tuple (ids[i], ids[i + 1]) as the key."
            )
        got = {k: v for k, v in got.items() if v != 0}
        want = reference_count_pairs(ids)
        expect(
            got == want,
            _first_hint(
                got,
                want,
                _count_mistakes(ids),
                f"count_pairs({ids}) should be {want}, got {_show(got)}.",
            ),
        )
        count += 1
    return count


count_pairs = Exercise(
    "ch07_count_pairs",
    "count_pairs",
    reference_count_pairs,
    _test_count_pairs,
    points=2,
    doc="Check Exercise 7.1 (`count_pairs(ids) -> dict[(a, b), count]`).",
)


# ----------------------------------------------------------------------------- 7.2 merge_pair

_MERGE_CASES: list[tuple[list[int], Pair]] = [
    ([A, B, C, A, B], (A, B)),
    ([A, A, A], (A, A)),
    ([A, A, A, A, A], (A, A)),
    ([C, A, B], (A, B)),
    ([B, A, C], (A, B)),
    ([A], (A, B)),
    ([], (A, B)),
]
_NEW = 300


def _merge_mistakes(ids: list[int], pair: Pair, new_id: int) -> list[tuple[Any, str]]:
    a, b = pair
    n = len(ids)
    step_one, i = [], 0  # merges at every position where the pair starts, overlaps included
    while i < n:
        if i + 1 < n and ids[i] == a and ids[i + 1] == b:
            step_one.append(new_id)
        elif not (i > 0 and ids[i - 1] == a and ids[i] == b and step_one[-1:] == [new_id]):
            step_one.append(ids[i])
        i += 1
    right_to_left = list(reversed(bpe.merge_pair(list(reversed(ids)), (b, a), new_id)))
    first_only = list(ids)
    for j in range(n - 1):
        if ids[j] == a and ids[j + 1] == b:
            first_only = list(ids[:j]) + [new_id] + list(ids[j + 2 :])
            break
    both_orders = bpe.merge_pair(bpe.merge_pair(list(ids), (a, b), new_id), (b, a), new_id)
    last_lost, i = [], 0  # a loop that stops one short of the end
    while i < n - 1:
        if ids[i] == a and ids[i + 1] == b:
            last_lost.append(new_id)
            i += 2
        else:
            last_lost.append(ids[i])
            i += 1
    return [
        (
            step_one,
            "after merging a pair, skip both of its ids (i += 2), so that an id is never "
            "used twice: a a a with the pair (a, a) gives X a, not X X.",
        ),
        (
            right_to_left,
            "read the ids from left to right: a a a with the pair (a, a) gives X a, not a X.",
        ),
        (first_only, "only the first occurrence was merged: merge every occurrence of the pair."),
        (
            both_orders,
            "(b, a) was merged too: the pair (a, b) means a followed by b, in that order only.",
        ),
        (
            last_lost,
            "the last id was lost: when the loop reaches the last id, it has no pair left to "
            "make, so append it as it is.",
        ),
    ]


def _test_merge_pair(fn: Callable[..., list[int]]) -> int:
    count = 0
    for ids, pair in _MERGE_CASES:
        before = snapshot(ids, pair)
        argument, pair_arg = list(ids), tuple(pair)
        got = _call(fn, argument, pair_arg, _NEW)
        expect_unchanged("merge_pair", ("ids", "pair"), before, (argument, pair_arg))
        got = ids_result(got, "merge_pair")
        want = reference_merge_pair(ids, pair, _NEW)
        call = f"merge_pair({ids}, {pair}, {_NEW})"
        expect(
            got == want,
            _first_hint(
                got,
                want,
                _merge_mistakes(ids, pair, _NEW),
                f"{call} should be {want}, got {_show(got)}.",
            ),
        )
        count += 1
    return count


merge_pair = Exercise(
    "ch07_merge_pair",
    "merge_pair",
    reference_merge_pair,
    _test_merge_pair,
    points=2,
    doc="Check Exercise 7.2 (`merge_pair(ids, pair, new_id) -> list[int]`).",
)


# ----------------------------------------------------------------------------- 7.3 learn_merges

# Each case makes one usual mistake show: the counts change after a merge (ab c three times
# and bc alone), pairs across sequences (a, b alone many times), a special id that is the most
# frequent neighbour, pairs that occur once at the end, and a general corpus.
_LEARN_CASES: list[tuple[list[list[int]], int]] = [
    ([[A, B, C]] * 3 + [[B, C], [C, D]], 3),
    ([[A], [B]] * 3 + [[C, D]] * 2, 2),
    ([[A, 1]] * 4 + [[B, C, 1]] * 2 + [[D, 0, D]] * 3, 2),
    ([[A, B, A, B, C, D]], 6),
    ([_ids(w) for w in ["low", " lower", " newest", " widest", " low", " new"]] * 2, 12),
    ([[A, B]] * 2, 0),
    ([[A, B], [C, D]] * 2, 2),  # a tie: either pair may go first
]


def _current_counts(sequences: list[list[int]]) -> dict[Pair, int]:
    counts: dict[Pair, int] = {}
    for seq in sequences:
        for pair in pairwise(seq):
            if pair[0] >= OFFSET and pair[1] >= OFFSET:
                counts[pair] = counts.get(pair, 0) + 1
    return counts


def _diagnose_merge(
    index: int,
    pair: Pair,
    current: list[list[int]],
    start: list[list[int]],
) -> str:
    """Why merge `index`, `pair`, is not a most frequent pair of the `current` sequences."""
    counts = _current_counts(current)
    best = max(counts.values(), default=0)
    new_id = FIRST + index
    if pair[0] < OFFSET or pair[1] < OFFSET:
        return (
            f"merge {index} is {pair}, which holds a special token's id (0, 1 or 2): special "
            f"tokens are never merged. Skip every pair that holds an id below {OFFSET}."
        )
    present = _ids_in(current)
    if any(x not in present and (256 <= x < 256 + index or x >= new_id) for x in pair):
        return (
            f"merge {index} is {pair}, an id that no merge has made yet: merge i makes the id "
            f"{FIRST} + i ({FIRST} for the first, after the 3 special and 256 byte ids)."
        )
    if pair not in counts:
        joined = [x for seq in current for x in seq]
        if _current_counts([joined]).get(pair) and pair not in _current_counts(start):
            return (
                f"merge {index} is {pair}, a pair that only forms across the end of one sequence "
                f"and the start of the next: count pairs inside each sequence, never across."
            )
        if pair in _current_counts(start) or index > 0:
            return (
                f"merge {index} is {pair}, which no longer occurs after the merges before it: "
                f"after each merge, merge the pair in every sequence and count the pairs again "
                f"(the counts change)."
            )
    if best < 2:
        return (
            f"merge {index} is {pair}, but no pair occurs twice any more: stop learning when "
            f"the most frequent pair occurs fewer than 2 times (a merge seen once saves nothing)."
        )
    found = counts.get(pair, 0)
    if found and found == min(counts.values()) and found < best:
        return (
            f"merge {index} is {pair}, which occurs {found} times, the fewest: take the most "
            f"frequent pair (max, not min)."
        )
    top = min((p for p, k in counts.items() if k == best), default=None)
    return (
        f"merge {index} is {pair}, which occurs {found} times, but {top} occurs {best} times: "
        f"each merge takes the most frequent pair, counted after the merges before it."
    )


def _ids_in(sequences: list[list[int]]) -> set[int]:
    return {x for seq in sequences for x in seq}


def _test_learn_merges(fn: Callable[..., list[Pair]]) -> int:
    count = 0
    for sequences, n in _LEARN_CASES:
        before = snapshot(sequences)
        argument = [list(s) for s in sequences]
        got = _pairs_list(_call(fn, argument, n), "learn_merges")
        expect_unchanged("learn_merges", ("sequences",), before, (argument,))
        expect(
            len(got) <= n,
            f"learn_merges(..., n_merges={n}) returned {len(got)} merges; at most n_merges.",
        )
        current = [list(s) for s in sequences]
        for index, pair in enumerate(got):
            counts = _current_counts(current)
            best = max(counts.values(), default=0)
            ok = best >= 2 and counts.get(pair) == best
            expect(ok, _diagnose_merge(index, pair, current, [list(s) for s in sequences]))
            current = [bpe.merge_pair(seq, pair, FIRST + index) for seq in current]
        left = max(_current_counts(current).values(), default=0)
        expect(
            len(got) == n or left < 2,
            f"learn_merges(..., n_merges={n}) stopped after {len(got)} merges although a pair "
            f"still occurs {left} times: go on until n_merges, or until no pair occurs twice.",
        )
        count += 1
    return count


learn_merges = Exercise(
    "ch07_learn_merges",
    "learn_merges",
    reference_learn_merges,
    _test_learn_merges,
    points=2,
    doc="Check Exercise 7.3 (`learn_merges(sequences, n_merges) -> list[(a, b)]`).",
)


# ----------------------------------------------------------------------------- 7.4 bpe_encode

# bc is merged first, then ab, abab, cc, ccc and a+bc. Each text makes one more usual mistake
# show (in this order: merges last-learned first, first occurrences only, the leftmost pair first,
# raw bytes, ids from 256, the longest match), with a result no earlier mistake would give.
_ENCODE_MERGES: list[Pair] = [
    (B, C),
    (A, B),
    (FIRST + 1, FIRST + 1),
    (C, C),
    (FIRST + 3, C),
    (A, FIRST),
]
_ENCODE_TEXTS = ["bcc", "abab", "abccc", "a", "ab", "cccc", "", "abcab", "daébc"]


def _greedy_longest(text: str, merges: list[Pair]) -> list[int]:
    table = _token_bytes(merges)
    by_bytes = {t: i for i, t in enumerate(table) if i >= OFFSET}
    data, out, i = text.encode("utf-8"), [], 0
    while i < len(data):
        for j in range(len(data), i, -1):
            if data[i:j] in by_bytes:
                out.append(by_bytes[data[i:j]])
                i = j
                break
    return out


def _apply_each(ids: list[int], merges: list[Pair], order: Sequence[int], first: bool) -> list:
    ids = list(ids)
    for rank in order:
        pair, new_id = merges[rank], FIRST + rank
        if first:
            for j in range(len(ids) - 1):
                if (ids[j], ids[j + 1]) == pair:
                    ids = ids[:j] + [new_id] + ids[j + 2 :]
                    break
        else:
            ids = bpe.merge_pair(ids, pair, new_id)
    return ids


def _leftmost_first(ids: list[int], merges: list[Pair]) -> list[int]:
    ranks = {p: r for r, p in enumerate(merges)}
    ids = list(ids)
    while True:
        for j in range(len(ids) - 1):
            rank = ranks.get((ids[j], ids[j + 1]))
            if rank is not None:
                ids = ids[:j] + [FIRST + rank] + ids[j + 2 :]
                break
        else:
            return ids


def _encode_mistakes(text: str, merges: list[Pair]) -> list[tuple[Any, str]]:
    ids = _ids(text)
    n = len(merges)
    no_offset_ids = ids
    for rank, pair in enumerate(merges):
        no_offset_ids = bpe.merge_pair(no_offset_ids, pair, 256 + rank)
    return [
        (
            _greedy_longest(text, merges),
            "this is the longest match from the left, not BPE: apply the merges in the order "
            "they were learned (lowest rank first), which can split a text differently.",
        ),
        (
            _apply_each(ids, merges, range(n - 1, -1, -1), False),
            "the merges were applied last-learned first: apply them in the order they were "
            "learned (merge 0 first), since later merges build on earlier ones.",
        ),
        (
            _apply_each(ids, merges, range(n), True),
            "each merge was applied to its first occurrence only: merge every occurrence "
            "(merge_pair), then go on with the next merge.",
        ),
        (
            _leftmost_first(ids, merges),
            "the leftmost mergeable pair was merged first: among the pairs present, merge the "
            "one of lowest rank (learned earliest), wherever it is.",
        ),
        (
            list(text.encode("utf-8")),
            "these are the raw bytes: a byte b is the id b + 3, after the 3 special tokens "
            "(text_ids does it).",
        ),
        (
            no_offset_ids,
            f"merge i makes the id {FIRST} + i, not 256 + i: the 3 special tokens come first.",
        ),
    ]


def _test_bpe_encode(fn: Callable[..., list[int]]) -> int:
    count = 0
    for text in _ENCODE_TEXTS:
        merges = list(_ENCODE_MERGES)
        before = snapshot(merges)
        got = ids_result(_call(fn, text, merges), "bpe_encode")
        expect_unchanged("bpe_encode", ("merges",), before, (merges,))
        want = reference_bpe_encode(text, _ENCODE_MERGES)
        expect(
            got == want,
            _first_hint(
                got,
                want,
                _encode_mistakes(text, _ENCODE_MERGES),
                f"bpe_encode({text!r}, merges) should be {want}, got {_show(got)}.",
            ),
        )
        count += 1
    return count


bpe_encode = Exercise(
    "ch07_bpe_encode",
    "bpe_encode",
    reference_bpe_encode,
    _test_bpe_encode,
    points=2,
    doc="Check Exercise 7.4 (`bpe_encode(text, merges) -> list[int]`).",
)


# ----------------------------------------------------------------------------- 7.5 decode


def _token_bytes(merges: list[Pair], swap: bool = False, raw: bool = False) -> list[bytes]:
    """Each id's bytes for `merges`; `swap` joins a merge's two halves the other way round, `raw`
    reads byte id i as the byte i (the offset of the special tokens forgotten)."""
    table = [s.encode() for s in SPECIALS]
    table += [bytes([(b + OFFSET) % 256 if raw else b]) for b in range(256)]
    for a, b in merges:
        table.append(table[b] + table[a] if swap else table[a] + table[b])
    return table


E1, E2 = _ids("é")  # é is two bytes: 0xC3 0xA9
_DECODE_MERGES: list[Pair] = [(_ids("h")[0], E1), (E2, _ids("l")[0]), (B, C), (A, FIRST + 2)]
_DECODE_CASES: list[list[int]] = [
    [FIRST, FIRST + 1, _ids("l")[0], _ids("o")[0]],  # h\xc3 | \xa9l | l | o = "héllo"
    [FIRST + 3, FIRST + 2, 1],  # abc bc </s>
    [E1],  # half a character alone
    [0, A, 2],
    [],
]


def _decode_mistakes(ids: list[int], merges: list[Pair]) -> list[tuple[Any, str]]:
    table = _token_bytes(merges)
    swapped = _token_bytes(merges, swap=True)
    raw = _token_bytes(merges, raw=True)
    out: list[tuple[Any, str]] = [
        (
            "".join(table[i].decode("utf-8", errors="replace") for i in ids),
            "each token was decoded on its own: a character of several bytes (é is 2) can be "
            "split over two tokens. Join all the tokens' bytes into one byte string first, then "
            "decode it once.",
        ),
        (
            b"".join(swapped[i] for i in ids).decode("utf-8", errors="replace"),
            "a merge's bytes are its first token's bytes followed by its second token's: "
            "table[a] + table[b].",
        ),
        (
            b"".join(raw[i] for i in ids).decode("utf-8", errors="replace"),
            "id i of a byte stands for the byte i - 3 (the 3 special tokens come first).",
        ),
        (
            b"".join(table[i] for i in ids if i >= OFFSET).decode("utf-8", errors="replace"),
            "the special tokens were left out: <pad>, </s> and <unk> decode to their own text.",
        ),
    ]
    return out


def _test_decode(fn: Callable[..., str]) -> int:
    count = 0
    for ids in _DECODE_CASES:
        merges = list(_DECODE_MERGES)
        got, raised = call_catching(fn, list(ids), merges)
        want = reference_decode(ids, _DECODE_MERGES)
        if raised is not None:
            if raised.is_a("UnicodeDecodeError"):
                raise CheckFailed(
                    f"decode({ids}, merges) raised {raised}: a token alone can hold half a "
                    f"character. Decode with errors='replace', which shows the broken part as "
                    f"'\\ufffd'."
                )
            if ids and min(ids) < OFFSET and raised.is_a("ValueError"):
                raise CheckFailed(
                    f"decode({ids}, merges) raised {raised}: ids 0, 1 and 2 are the special "
                    f"tokens, not bytes; they decode to '<pad>', '</s>' and '<unk>'."
                )
            raise CheckFailed(f"decode({ids}, merges) raised {raised}")
        expect(
            isinstance(got, str),
            f"decode should return a str, got {kind_of(got)}: {_show(got, 60)}. (Bytes? "
            f"Decode them with .decode('utf-8', errors='replace').)",
        )
        expect(
            got == want,
            _first_hint(
                got,
                want,
                _decode_mistakes(ids, _DECODE_MERGES),
                f"decode({ids}, merges) should be {want!r}, got {_show(got)}.",
            ),
        )
        count += 1
    return count


decode = Exercise(
    "ch07_decode",
    "decode",
    reference_decode,
    _test_decode,
    points=2,
    doc="Check Exercise 7.5 (`decode(ids, merges) -> str`).",
)


# ----------------------------------------------------------------------------- 7.6 encode

# Two spaces merge, and a space merges with b: "a  b" is the chunks "a", " ", " b".
_SPECIAL_MERGES: list[Pair] = [(SP, SP), (SP, B), (_ids("<")[0], _ids("/")[0]), (A, B)]
_SPECIAL_TEXTS = [
    "ab ab.</s>",
    "</s>",
    "</s>ab</s>",
    "<pad><pad>ab</s>",
    "a <unk> b",
    "a  b",
    "ab</s>ab",
    "",
]


def _encode_with(text: str, specials: Sequence[str], chunked: bool, ids_of: Callable) -> list:
    pattern = "(" + "|".join(re.escape(s) for s in specials) + ")" if specials else None
    pieces = re.split(pattern, text) if pattern else [text]
    out: list[int] = []
    for piece in pieces:
        if not piece:
            continue
        if piece in specials:
            out.append(ids_of(piece))
            continue
        chunks = bpe.pretokenize(piece) if chunked else [piece]
        for chunk in chunks:
            out += reference_bpe_encode(chunk, _SPECIAL_MERGES)
    return out


def _special_mistakes(text: str) -> list[tuple[Any, str]]:
    right = SPECIALS.index
    at_end = []
    if text.endswith("</s>"):
        at_end = _encode_with(text[:-4], [], True, right) + [1]
    else:
        at_end = _encode_with(text, [], True, right)
    return [
        (
            _encode_with(text, [], True, right),
            "a special token was split into bytes (and merged like text): cut the text around "
            "'<pad>', '</s>' and '<unk>' first, and give each its own id (0, 1, 2).",
        ),
        (
            _encode_with(text, ["</s>"], True, right),
            "'</s>' is kept whole but '<pad>' or '<unk>' was split into bytes: all three "
            "special tokens stay whole.",
        ),
        (
            _encode_with(text, list(SPECIALS), False, right),
            "a merge crossed from one chunk to the next: cut each piece with pretokenize(piece) "
            "and encode every chunk on its own, as the merges were learned.",
        ),
        (
            at_end,
            "'</s>' is only recognised at the end of the text: a special token can stand anywhere.",
        ),
        (
            [x for x in _encode_with(text, list(SPECIALS), True, right) if x >= OFFSET],
            "the special tokens were dropped: each becomes its id (<pad> 0, </s> 1, <unk> 2).",
        ),
    ]


def _test_encode(fn: Callable[..., list[int]]) -> int:
    count = 0
    for text in _SPECIAL_TEXTS:
        merges = list(_SPECIAL_MERGES)
        got = ids_result(_call(fn, text, merges), "encode")
        want = reference_encode(text, _SPECIAL_MERGES)
        expect(
            got == want,
            _first_hint(
                got,
                want,
                _special_mistakes(text),
                f"encode({text!r}, merges) should be {want}, got {_show(got)}.",
            ),
        )
        count += 1
    return count


encode = Exercise(
    "ch07_encode",
    "encode",
    reference_encode,
    _test_encode,
    points=2,
    doc="Check Exercise 7.6 (`encode(text, merges) -> list[int]`, special tokens whole).",
)
