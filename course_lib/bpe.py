"""Byte-pair encoding: a subword vocabulary learned from text, with bytes as its base alphabet.

Ids, in every `BPEVocab`:

- ``<pad>`` = 0, ``</s>`` = 1, ``<unk>`` = 2, as in `course_lib.vocab.Vocab`. A special token
  written in a text becomes its id, whole; it is never split into bytes nor merged with anything;
- the 256 byte values: byte ``b`` is id ``b + BYTE_OFFSET`` (ids 3 to 258). Any text is a
  sequence of UTF-8 bytes, so every text can be encoded: there are no unknown words;
- merge ``i`` (the ``i``-th pair learned) is id ``FIRST_MERGE_ID + i`` (259, 260, ...): the two
  tokens of its pair written one after the other.

Learning (`learn_merges`): count every adjacent pair of ids, merge the most frequent pair
everywhere into a new id, and repeat. Ties go to the smallest pair ``(a, b)``, so the merges are
the same on every machine. A text is first cut into chunks (`pretokenize`: a word with the space
before it, a run of digits, of punctuation, of whitespace) and pairs never cross a chunk, so a
token never glues the end of one word to the start of the next. The count is kept up to date
incrementally: a merge changes the counts of the pairs around its occurrences only, so only the
chunks holding the merged pair are looked at again (`incremental=False` recounts every pair after
every merge, which gives the same merges much more slowly; `benchmarks/bench_bpe.py`).

Encoding (`apply_merges`) repeats: among the adjacent pairs, take the one merged earliest in
training (lowest rank), merge it everywhere; until no adjacent pair was ever merged. Decoding
joins the tokens' bytes into one byte string and reads it as UTF-8 once (a token alone may hold
half of a character: its missing part shows as U+FFFD, the replacement character).
"""

from __future__ import annotations

import heapq
import json
import re
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from itertools import pairwise
from pathlib import Path
from typing import Any, Literal

from course_lib.files import write_atomically
from course_lib.vocab import (
    EOS_ID,
    PAD_ID,
    SPECIAL_TOKENS,
    UNK_ID,
    SequenceTooLongError,
    _check_ids,
)

__all__ = [
    "BYTE_OFFSET",
    "FIRST_MERGE_ID",
    "MAX_FILE_BYTES",
    "MAX_MERGES",
    "BPEVocab",
    "apply_merges",
    "count_pairs",
    "learn_merges",
    "merge_pair",
    "pretokenize",
    "show_bytes",
    "split_specials",
    "text_ids",
]

BYTE_OFFSET = len(SPECIAL_TOKENS)  # byte b is id b + 3
FIRST_MERGE_ID = BYTE_OFFSET + 256  # merge i is id 259 + i
MAX_MERGES = 1_000_000  # ModelConfig's largest vocabulary
MAX_FILE_BYTES = 64 * 2**20  # a saved BPEVocab of MAX_MERGES merges is ~20 MB

_FORMAT = "course_lib.bpe_vocab"
_FORMAT_VERSION = 1

# A word with the space before it, digits, underscores, punctuation; whitespace before a word
# leaves its last space to the word. Every character falls in exactly one alternative.
_CHUNK_RE = re.compile(r" ?(?:[^\W\d_]+|\d+|_+|[^\w\s]+)|\s+(?!\S)|\s+")
_SPECIAL_RE = re.compile("(" + "|".join(re.escape(s) for s in SPECIAL_TOKENS) + ")")
_SPECIAL_ID = {token: i for i, token in enumerate(SPECIAL_TOKENS)}
_SPECIAL_BYTES = frozenset(token.encode("utf-8") for token in SPECIAL_TOKENS)

Pair = tuple[int, int]


def _check_text(text: Any) -> str:
    if not isinstance(text, str):
        raise TypeError(f"expected a str, got {type(text).__name__}")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as error:
        bad = error.object[error.start : error.end]
        raise ValueError(
            f"the text holds {bad!r} at character {error.start}, half of a UTF-16 pair that is "
            f"not a character and has no UTF-8 bytes; remove it from the text"
        ) from None
    return text


def split_specials(text: str) -> list[str]:
    """`text` cut around the special tokens: the pieces in order, each special token a piece of
    its own (empty pieces left out). ``"Hi.</s>"`` -> ``["Hi.", "</s>"]``."""
    return [piece for piece in _SPECIAL_RE.split(_check_text(text)) if piece]


def pretokenize(text: str) -> list[str]:
    """The chunks merges stay inside: ``" the sea."`` -> ``[" the", " sea", "."]``. Joined, the
    chunks are `text` again."""
    return _CHUNK_RE.findall(_check_text(text))


def text_ids(text: str) -> list[int]:
    """The byte ids of `text` (its UTF-8 bytes, each + BYTE_OFFSET), no merges applied."""
    return [b + BYTE_OFFSET for b in _check_text(text).encode("utf-8")]


def count_pairs(ids: Sequence[int], counts: dict[Pair, int] | None = None) -> dict[Pair, int]:
    """How often each adjacent pair occurs in `ids` (overlapping: ``a a a`` holds ``(a, a)``
    twice), added to `counts` when given."""
    counts = {} if counts is None else counts
    for pair in pairwise(ids):
        counts[pair] = counts.get(pair, 0) + 1
    return counts


def merge_pair(ids: Sequence[int], pair: Pair, new_id: int) -> list[int]:
    """`ids` with every occurrence of `pair` replaced by `new_id`, read left to right: in
    ``a a a`` the pair ``(a, a)`` is merged once, giving ``X a``."""
    first, second = pair
    out: list[int] = []
    i, n = 0, len(ids)
    while i < n:
        if i + 1 < n and ids[i] == first and ids[i + 1] == second:
            out.append(new_id)
            i += 2
        else:
            out.append(ids[i])
            i += 1
    return out


def apply_merges(ids: Sequence[int], ranks: Mapping[Pair, int]) -> list[int]:
    """Encode: merge the adjacent pair of lowest rank everywhere, again and again, until no
    adjacent pair has a rank. Merge ``r`` makes id ``FIRST_MERGE_ID + r``."""
    ids = list(ids)
    while len(ids) > 1:
        best = min(pairwise(ids), key=lambda p: ranks.get(p, MAX_MERGES))
        rank = ranks.get(best)
        if rank is None:
            break
        ids = merge_pair(ids, best, FIRST_MERGE_ID + rank)
    return ids


def _apply_merges_linked(ids: Sequence[int], ranks: Mapping[Pair, int]) -> list[int]:
    """`apply_merges(ids, ranks)`, in time n log n instead of n times the merges that apply.

    The ids form a linked list and every adjacent pair with a rank waits in a heap keyed by
    (rank, position). Popping the smallest key merges the pair of lowest rank, leftmost first,
    as `apply_merges` does; a pair a merge made is always of a higher rank than that merge (a
    merge only names ids made before it), so taking merges one at a time gives the same ids."""
    ids = list(ids)
    n = len(ids)
    after = list(range(1, n + 1))  # the next live position, n at the end
    before = list(range(-1, n - 1))
    alive = [True] * n
    heap = [(ranks[pair], i) for i, pair in enumerate(pairwise(ids)) if pair in ranks]
    heapq.heapify(heap)
    while heap:
        rank, i = heapq.heappop(heap)
        j = after[i]
        if not alive[i] or j >= n or ranks.get((ids[i], ids[j])) != rank:
            continue  # this pair is gone: one of its ids was merged with a neighbour first
        ids[i] = FIRST_MERGE_ID + rank
        alive[j] = False
        after[i] = after[j]
        if after[i] < n:
            before[after[i]] = i
        for left in (before[i], i):
            if left >= 0 and after[left] < n:
                pair = (ids[left], ids[after[left]])
                if pair in ranks:
                    heapq.heappush(heap, (ranks[pair], left))
    return [ids[i] for i in range(n) if alive[i]]


def _mergeable(pair: Pair) -> bool:
    return pair[0] >= BYTE_OFFSET and pair[1] >= BYTE_OFFSET  # special tokens never merge


def learn_merges(
    sequences: Iterable[Sequence[int]],
    n_merges: int,
    *,
    min_count: int = 2,
    incremental: bool = True,
    progress: bool = False,
) -> list[Pair]:
    """Up to `n_merges` merges learned from `sequences` (lists of ids; pairs never cross from one
    sequence to the next, and never hold a special id): each time the most frequent pair (ties:
    the smallest pair), while it occurs at least `min_count` times. Merge ``i`` makes id
    ``FIRST_MERGE_ID + i``; every id in `sequences` must be below ``FIRST_MERGE_ID``."""
    if isinstance(n_merges, bool) or not isinstance(n_merges, int) or n_merges < 0:
        raise ValueError(f"n_merges must be a whole number 0 or more, got {n_merges!r}")
    if n_merges > MAX_MERGES:
        raise ValueError(f"n_merges must be at most {MAX_MERGES:,}, got {n_merges:,}")
    if isinstance(min_count, bool) or not isinstance(min_count, int) or min_count < 1:
        raise ValueError(f"min_count must be a whole number 1 or more, got {min_count!r}")
    words: Counter[tuple[int, ...]] = Counter()
    for position, sequence in enumerate(sequences):
        word = tuple(sequence)
        for value in word:
            if isinstance(value, bool) or not isinstance(value, int):
                raise TypeError(f"sequence {position} holds {value!r}; ids are ints")
            if not 0 <= value < FIRST_MERGE_ID:
                raise ValueError(
                    f"sequence {position} holds id {value}; learning starts from special and "
                    f"byte ids (0 to {FIRST_MERGE_ID - 1})"
                )
        words[word] += 1
    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=n_merges, desc="learning merges", unit="merge")
    try:
        learn = _learn_incremental if incremental else _learn_naive
        return learn(list(words.items()), n_merges, min_count, bar)
    finally:
        if bar is not None:
            bar.close()


def _learn_naive(
    words: list[tuple[tuple[int, ...], int]], n_merges: int, min_count: int, bar: Any
) -> list[Pair]:
    """Every pair recounted over every chunk after every merge: the definition, slowly."""
    ids = [list(word) for word, _ in words]
    freqs = [freq for _, freq in words]
    merges: list[Pair] = []
    while len(merges) < n_merges:
        counts: dict[Pair, int] = {}
        for word, freq in zip(ids, freqs, strict=True):
            for pair in pairwise(word):
                if _mergeable(pair):
                    counts[pair] = counts.get(pair, 0) + freq
        if not counts:
            break
        pair, count = min(counts.items(), key=lambda item: (-item[1], item[0]))
        if count < min_count:
            break
        new_id = FIRST_MERGE_ID + len(merges)
        ids = [merge_pair(word, pair, new_id) for word in ids]
        merges.append(pair)
        if bar is not None:
            bar.update(1)
    return merges


def _learn_incremental(
    words: list[tuple[tuple[int, ...], int]], n_merges: int, min_count: int, bar: Any
) -> list[Pair]:
    """The same merges as `_learn_naive`: pair counts kept up to date, an index from each pair to
    the chunks holding it, and a heap of (-count, pair) whose stale entries are skipped."""
    ids = [list(word) for word, _ in words]
    freqs = [freq for _, freq in words]
    counts: dict[Pair, int] = defaultdict(int)
    where: dict[Pair, set[int]] = defaultdict(set)
    for index, word in enumerate(ids):
        for pair in pairwise(word):
            if _mergeable(pair):
                counts[pair] += freqs[index]
                where[pair].add(index)
    heap = [(-count, pair) for pair, count in counts.items()]
    heapq.heapify(heap)
    merges: list[Pair] = []
    while len(merges) < n_merges:
        while heap and counts.get(heap[0][1], 0) != -heap[0][0]:
            heapq.heappop(heap)  # a count that has changed since this entry was pushed
        if not heap or -heap[0][0] < min_count:
            break
        _, pair = heapq.heappop(heap)
        new_id = FIRST_MERGE_ID + len(merges)
        merges.append(pair)
        touched: set[Pair] = set()
        for index in where.pop(pair, ()):
            word, freq = ids[index], freqs[index]
            merged = merge_pair(word, pair, new_id)
            if len(merged) == len(word):
                continue  # the pair left this chunk in an earlier merge
            for old in pairwise(word):
                if _mergeable(old):
                    counts[old] -= freq
                    touched.add(old)
            for new in pairwise(merged):
                if _mergeable(new):
                    counts[new] += freq
                    where[new].add(index)
                    touched.add(new)
            ids[index] = merged
        for changed in touched:
            count = counts[changed]
            if count > 0:
                heapq.heappush(heap, (-count, changed))
            else:
                del counts[changed]
                where.pop(changed, None)
        counts.pop(pair, None)
        if bar is not None:
            bar.update(1)
    return merges


def show_bytes(data: bytes) -> str:
    """A token's bytes as text: UTF-8 where they are, each other byte as ``\\xNN`` and a
    backslash as ``\\\\`` (so two tokens never look alike)."""
    text = data.decode("utf-8", errors="surrogateescape")
    out = []
    for char in text:
        if char == "\\":
            out.append("\\\\")
        elif "\udc80" <= char <= "\udcff":
            out.append(f"\\x{ord(char) - 0xDC00:02x}")
        else:
            out.append(char)
    return "".join(out)


class BPEVocab:
    """A byte-pair vocabulary: the special tokens, the 256 bytes and a list of learned merges.

    The interface of `course_lib.vocab.Vocab`: `encode`, `decode`, `len`, `id_to_token` and
    `token_to_id` (tokens shown as text by `show_bytes`), `save` and `load`, the same special ids.
    `token_bytes[i]` is the bytes id ``i`` stands for.
    """

    PAD_ID = PAD_ID
    EOS_ID = EOS_ID
    UNK_ID = UNK_ID

    def __init__(self, merges: Sequence[Sequence[int]] = ()) -> None:
        """The vocabulary of `merges` (pairs of ids, merge ``i`` making id 259 + i)."""
        if isinstance(merges, (str, bytes)) or not isinstance(merges, Sequence):
            raise TypeError(f"merges must be a list of pairs of ids, got {type(merges).__name__}")
        if len(merges) > MAX_MERGES:
            raise ValueError(f"at most {MAX_MERGES:,} merges, got {len(merges):,}")
        token_bytes = [token.encode("utf-8") for token in SPECIAL_TOKENS]
        token_bytes += [bytes([b]) for b in range(256)]
        checked: list[Pair] = []
        seen: dict[Pair, int] = {}
        for rank, pair in enumerate(merges):
            new_id = FIRST_MERGE_ID + rank
            if (
                isinstance(pair, (str, bytes))
                or not isinstance(pair, Sequence)
                or len(pair) != 2
                or not all(isinstance(x, int) and not isinstance(x, bool) for x in pair)
            ):
                raise ValueError(f"merge {rank} is {pair!r:.60}; a merge is a pair of two int ids")
            a, b = int(pair[0]), int(pair[1])
            if not (BYTE_OFFSET <= a < new_id and BYTE_OFFSET <= b < new_id):
                raise ValueError(
                    f"merge {rank} is ({a}, {b}); it may only join ids made before it (bytes "
                    f"and earlier merges: {BYTE_OFFSET} to {new_id - 1}), never a special token"
                )
            if (a, b) in seen:
                raise ValueError(f"merge {rank} repeats merge {seen[(a, b)]}: ({a}, {b})")
            joined = token_bytes[a] + token_bytes[b]
            if joined in _SPECIAL_BYTES:
                raise ValueError(
                    f"merge {rank} spells the special token {joined.decode()!r}; special tokens "
                    f"are never made of merges"
                )
            seen[(a, b)] = rank
            checked.append((a, b))
            token_bytes.append(joined)
        self.merges: list[Pair] = checked
        self.ranks: dict[Pair, int] = seen
        self.token_bytes: list[bytes] = token_bytes
        self.id_to_token: list[str] = list(SPECIAL_TOKENS) + [
            show_bytes(t) for t in token_bytes[BYTE_OFFSET:]
        ]
        self.token_to_id: dict[str, int] = {t: i for i, t in enumerate(self.id_to_token)}
        self._cache: dict[str, tuple[int, ...]] = {}

    @classmethod
    def train(
        cls,
        texts: Iterable[str],
        vocab_size: int,
        *,
        min_count: int = 2,
        incremental: bool = True,
        progress: bool = False,
    ) -> BPEVocab:
        """Learn merges from `texts` until the vocabulary has `vocab_size` tokens (at least
        259: the specials and the bytes), or no pair occurs `min_count` times any more."""
        if isinstance(texts, str):
            raise TypeError(
                "BPEVocab.train expects a list of texts, got one str; wrap it: "
                "BPEVocab.train([text], vocab_size)"
            )
        if isinstance(vocab_size, bool) or not isinstance(vocab_size, int):
            raise ValueError(f"vocab_size must be a whole number, got {vocab_size!r}")
        if not FIRST_MERGE_ID <= vocab_size <= FIRST_MERGE_ID + MAX_MERGES:
            raise ValueError(
                f"vocab_size must be at least {FIRST_MERGE_ID} (3 special tokens and 256 bytes) "
                f"and at most {FIRST_MERGE_ID + MAX_MERGES:,}; got {vocab_size:,}"
            )
        chunks: Counter[str] = Counter()
        for position, text in enumerate(texts):
            if not isinstance(text, str):
                raise TypeError(f"text {position} is a {type(text).__name__}, not a str")
            for piece in split_specials(text):
                if piece not in _SPECIAL_ID:
                    chunks.update(pretokenize(piece))
        sequences = [text_ids(chunk) for chunk, n in chunks.items() for _ in range(n)]
        merges = learn_merges(
            sequences,
            vocab_size - FIRST_MERGE_ID,
            min_count=min_count,
            incremental=incremental,
            progress=progress,
        )
        return cls(merges)

    def __len__(self) -> int:
        return len(self.token_bytes)

    def __contains__(self, token: object) -> bool:
        return token in self.token_to_id

    def __eq__(self, other: object) -> bool:
        return isinstance(other, BPEVocab) and self.merges == other.merges

    def __hash__(self) -> int:
        return hash(tuple(self.merges))

    def __repr__(self) -> str:
        return f"BPEVocab({len(self)} tokens, {len(self.merges)} merges)"

    def _encode_chunk(self, chunk: str) -> tuple[int, ...]:
        ids = self._cache.get(chunk)
        if ids is None:
            byte_ids = text_ids(chunk)
            # Short chunks (nearly all) take the plain loop; a long one the linked list.
            merge = apply_merges if len(byte_ids) <= 64 else _apply_merges_linked
            ids = tuple(merge(byte_ids, self.ranks))
            if len(self._cache) < 100_000:
                self._cache[chunk] = ids
        return ids

    def encode(
        self,
        text: str,
        unknown: Literal["error", "unk"] = "error",
        max_len: int | None = None,
    ) -> list[int]:
        """Token ids of `text`: special tokens whole, everything else as merged bytes. Nothing
        is unknown (`unknown` is accepted for `Vocab`'s interface); more than `max_len` tokens
        raise `SequenceTooLongError`."""
        if unknown not in ("error", "unk"):
            raise ValueError(f"unknown must be 'error' or 'unk', got {unknown!r}")
        if max_len is not None and (
            isinstance(max_len, bool) or not isinstance(max_len, int) or max_len < 1
        ):
            raise ValueError(f"max_len must be a positive int or None, got {max_len!r}")
        ids: list[int] = []
        for piece in split_specials(text):
            special = _SPECIAL_ID.get(piece)
            if special is not None:
                ids.append(special)
                continue
            for chunk in pretokenize(piece):
                ids.extend(self._encode_chunk(chunk))
        if max_len is not None and len(ids) > max_len:
            raise SequenceTooLongError(len(ids), max_len)
        return ids

    def decode(self, ids: Iterable[int], skip_special: bool = False) -> str:
        """The text of `ids`: their bytes joined, read as UTF-8 (a broken character becomes
        U+FFFD); `skip_special` leaves out ``<pad>``, ``</s>`` and ``<unk>``."""
        checked = _check_ids(ids, len(self))
        if skip_special:
            checked = [i for i in checked if i >= BYTE_OFFSET]
        data = b"".join(self.token_bytes[i] for i in checked)
        return data.decode("utf-8", errors="replace")

    def tokens(self, ids: Iterable[int]) -> list[str]:
        """Each id's token as text (`show_bytes`)."""
        return [self.id_to_token[i] for i in _check_ids(ids, len(self))]

    def to_dict(self) -> dict[str, Any]:
        """Plain dict, for JSON."""
        return {
            "format": _FORMAT,
            "version": _FORMAT_VERSION,
            "merges": [list(pair) for pair in self.merges],
        }

    @classmethod
    def from_dict(cls, data: Any) -> BPEVocab:
        """Inverse of `to_dict`, with an error that says what is wrong with `data`."""
        if not isinstance(data, dict) or data.get("format") != _FORMAT:
            raise ValueError(
                f'not a saved BPE vocabulary: expected a JSON object with "format": "{_FORMAT}"; '
                f"load a file written by BPEVocab.save(path)"
            )
        if data.get("version") != _FORMAT_VERSION:
            raise ValueError(
                f"saved BPE vocabulary has version {data.get('version')!r}; this course_lib "
                f"reads version {_FORMAT_VERSION}"
            )
        merges = data.get("merges")
        if not isinstance(merges, list):
            raise ValueError('saved BPE vocabulary has no "merges" list')
        return cls(merges)

    def save(self, path: str | Path) -> None:
        """Write the vocabulary to `path` as JSON, atomically: on any error an existing file
        at `path` is left as it was."""
        data = (json.dumps(self.to_dict(), separators=(",", ":")) + "\n").encode("utf-8")
        write_atomically(path, lambda file: file.write(data))

    @classmethod
    def load(cls, path: str | Path) -> BPEVocab:
        """Read a vocabulary written by `save` (at most `MAX_FILE_BYTES`)."""
        path = Path(path)
        if not path.is_file():
            raise FileNotFoundError(f"no vocabulary file at {path}")
        with open(path, "rb") as file:
            raw = file.read(MAX_FILE_BYTES + 1)
        if len(raw) > MAX_FILE_BYTES:
            raise ValueError(
                f"{path} is larger than {MAX_FILE_BYTES // 2**20} MB; a saved BPE vocabulary "
                f"is far smaller, so this is not one"
            )
        try:
            data = json.loads(raw.decode("utf-8"))
        except json.JSONDecodeError as error:
            raise ValueError(
                f"{path} is not valid JSON ({error}); it is damaged or not a vocabulary file. "
                f"Save the vocabulary again with vocab.save(path)."
            ) from None
        except UnicodeDecodeError:
            raise ValueError(f"{path} is not UTF-8 text; it is not a vocabulary file") from None
        except RecursionError:
            raise ValueError(
                f"{path} holds JSON nested too deeply to read; it is not a vocabulary file"
            ) from None
        try:
            return cls.from_dict(data)
        except (ValueError, TypeError) as error:
            raise ValueError(f"{path}: {error}") from None
