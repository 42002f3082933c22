"""Tokens and vocabularies: the tokenizer, `Vocab`, and the DNA k-mer tokenizer.

The split rule (the reference model's):

- split on whitespace;
- every ASCII punctuation character (``string.punctuation``) is a token of its own:
  ``"Assistant:"`` -> ``["Assistant", ":"]``;
- case-sensitive: ``"Sea"`` and ``"sea"`` are different tokens;
- the special tokens ``</s>``, ``<pad>`` and ``<unk>`` stay whole, wherever they appear.

Non-ASCII text: only ASCII punctuation splits a word, so every other character - accented letters,
the dash "—", curly quotes, emoji - is part of the word it touches. ``"café"`` is one token,
``"tea—café"`` is one token, ``"—"`` between spaces is one token and ``"hi🙂"`` is one token. The
text is taken exactly as given (no Unicode normalization), so a composed "é" and "e" followed by a
combining accent are different spellings.

`Vocab.decode` joins tokens with one space except where written English has none: before
``. , : ; ? ! ) ] } %`` and after ``( [ {``. Text written that way (the bundled corpus is) comes
back exactly from ``decode(encode(text))``.

Every vocabulary has the special tokens at fixed ids: ``<pad>`` = 0, ``</s>`` = 1, ``<unk>`` = 2;
the other tokens follow in sorted order, so the same texts always give the same ids.

DNA (`kmers`, `DNAVocab`): a sequence is read in pieces of k bases. Lower-case bases are read as
upper case; ``N`` (an unknown base) is allowed and any k-mer holding one is kept as it is by
`kmers` and becomes ``<unk>`` in `DNAVocab`; any other letter is an error. Without overlap, a
remainder shorter than k at the end is dropped (``len(seq) // k`` k-mers); with overlap there are
``len(seq) - k + 1`` k-mers (none when the sequence is shorter than k).
"""

from __future__ import annotations

import difflib
import itertools
import json
import operator
import re
import string
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any, Literal

from course_lib.files import write_atomically

__all__ = [
    "EOS",
    "EOS_ID",
    "PAD",
    "PAD_ID",
    "SPECIAL_TOKENS",
    "UNK",
    "UNK_ID",
    "DNAVocab",
    "SequenceTooLongError",
    "UnknownTokenError",
    "Vocab",
    "detokenize",
    "kmers",
    "tokenize",
]

PAD, EOS, UNK = "<pad>", "</s>", "<unk>"
PAD_ID, EOS_ID, UNK_ID = 0, 1, 2
SPECIAL_TOKENS: tuple[str, ...] = (PAD, EOS, UNK)  # position in this tuple == fixed id

# A special token, or one ASCII punctuation character, or a run of anything else.
_TOKEN_RE = re.compile(
    "|".join(re.escape(s) for s in SPECIAL_TOKENS)
    + "|["
    + re.escape(string.punctuation)
    + "]|[^"
    + re.escape(string.punctuation)
    + "]+"
)
_NO_SPACE_BEFORE = frozenset(".,:;?!)]}%")
_NO_SPACE_AFTER = frozenset("([{")

_FORMAT = "course_lib.vocab"
_FORMAT_VERSION = 1


def tokenize(text: str) -> list[str]:
    """Split `text` into tokens: words, single ASCII punctuation characters, special tokens."""
    if not isinstance(text, str):
        raise TypeError(f"tokenize expects a str, got {type(text).__name__}")
    tokens: list[str] = []
    for chunk in text.split():
        tokens.extend(_TOKEN_RE.findall(chunk))
    return tokens


def detokenize(tokens: Iterable[str]) -> str:
    """Join tokens with one space, except before ``.,:;?!)]}%`` and after ``([{``."""
    out: list[str] = []
    previous = ""
    for token in tokens:
        if out and token not in _NO_SPACE_BEFORE and previous not in _NO_SPACE_AFTER:
            out.append(" ")
        out.append(token)
        previous = token
    return "".join(out)


class UnknownTokenError(ValueError):
    """A word is not in the vocabulary; the message names it, a near spelling, and the way out."""

    def __init__(self, token: str, suggestion: str | None) -> None:
        self.token = token
        self.suggestion = suggestion
        near = f" (did you mean {suggestion!r}?)" if suggestion else " (no close spelling is known)"
        super().__init__(
            f"{token!r} is not in the vocabulary{near}. Use words the vocabulary knows, rebuild "
            f"the vocabulary with texts that contain it, or call encode(text, unknown='unk') to "
            f"get the unknown token {UNK} (id {UNK_ID}) in its place."
        )


class SequenceTooLongError(ValueError):
    """A text has more tokens than the limit; the message gives both and what to do."""

    def __init__(self, length: int, limit: int) -> None:
        self.length = length
        self.limit = limit
        super().__init__(
            f"the text is {length} tokens long but the limit is {limit} (max_len). Shorten the "
            f"text or split it into pieces of at most {limit} tokens (the model cannot read "
            f"more positions than its max_seq_len)."
        )


def _suggest(token: str, known: Sequence[str]) -> str | None:
    """The known spelling closest to `token`, or None."""
    candidates = [t for t in known if t not in SPECIAL_TOKENS]
    lowered = {t.lower(): t for t in candidates}
    if token.lower() in lowered:  # the same word with other capitals
        return lowered[token.lower()]
    close = difflib.get_close_matches(token, candidates, n=1, cutoff=0.6)
    return close[0] if close else None


def _check_ids(ids: Iterable[Any], size: int) -> list[int]:
    """Plain ints from `ids`, each a valid id below `size`."""
    if isinstance(ids, (str, bytes)):
        raise TypeError("decode expects a sequence of token ids (ints), got a string")
    out: list[int] = []
    for position, value in enumerate(ids):
        if isinstance(value, bool):
            raise TypeError(f"token id at position {position} is a bool ({value}), not an int")
        try:
            index = operator.index(value)
        except TypeError:
            raise TypeError(
                f"token id at position {position} is {value!r} ({type(value).__name__}); "
                f"token ids are ints"
            ) from None
        if not 0 <= index < size:
            raise ValueError(
                f"token id {index} at position {position} is outside this vocabulary "
                f"(ids 0 to {size - 1}); was it made with another vocabulary?"
            )
        out.append(index)
    return out


def _check_encodable(text: str, what: str) -> None:
    """A ValueError unless `text` can be written as UTF-8 (a lone surrogate such as '\\ud800',
    which JSON's escapes can make, cannot: the vocabulary could never be saved)."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as error:
        bad = error.object[error.start : error.end]
        raise ValueError(
            f"{what} holds {bad!r} at character {error.start}, half of a UTF-16 pair that is not "
            f"a character and cannot be saved as UTF-8; remove it from the text"
        ) from None


def _check_max_len(max_len: int | None) -> None:
    if max_len is not None and (
        isinstance(max_len, bool) or not isinstance(max_len, int) or max_len < 1
    ):
        raise ValueError(f"max_len must be a positive int or None, got {max_len!r}")


class Vocab:
    """A fixed list of tokens; a token's id is its position in `id_to_token`."""

    PAD_ID = PAD_ID
    EOS_ID = EOS_ID
    UNK_ID = UNK_ID

    def __init__(self, tokens: Sequence[str]) -> None:
        """Wrap `tokens` (specials first, at their fixed ids; no duplicates)."""
        tokens = list(tokens)
        if tuple(tokens[: len(SPECIAL_TOKENS)]) != SPECIAL_TOKENS:
            raise ValueError(
                f"a vocabulary must start with the special tokens {list(SPECIAL_TOKENS)} at ids "
                f"0, 1, 2; got {tokens[: len(SPECIAL_TOKENS)]}. Use Vocab.build(texts) to make one."
            )
        for position, token in enumerate(tokens):
            if not isinstance(token, str) or not token:
                raise ValueError(f"token {position} is {token!r}; every token is a non-empty str")
            _check_encodable(token, f"token {position}")
        seen: dict[str, int] = {}
        for position, token in enumerate(tokens):
            if token in seen:
                raise ValueError(
                    f"token {token!r} appears twice in the vocabulary (ids {seen[token]} and "
                    f"{position}); every token has exactly one id"
                )
            seen[token] = position
        self.id_to_token: list[str] = tokens
        self.token_to_id: dict[str, int] = seen

    @classmethod
    def build(cls, texts: Iterable[str]) -> Vocab:
        """The vocabulary of every token in `texts`: specials first, then the rest sorted."""
        if isinstance(texts, str):
            raise TypeError(
                "Vocab.build expects a list of texts, got one str; wrap it: Vocab.build([text])"
            )
        found: set[str] = set()
        for position, text in enumerate(texts):
            if not isinstance(text, str):
                raise TypeError(f"text {position} is a {type(text).__name__}, not a str")
            found.update(tokenize(text))
        return cls(list(SPECIAL_TOKENS) + sorted(found - set(SPECIAL_TOKENS)))

    def __len__(self) -> int:
        return len(self.id_to_token)

    def __contains__(self, token: object) -> bool:
        return token in self.token_to_id

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Vocab) and self.id_to_token == other.id_to_token

    def __hash__(self) -> int:
        return hash(tuple(self.id_to_token))

    def __repr__(self) -> str:
        return f"Vocab({len(self)} tokens)"

    def encode(
        self,
        text: str,
        unknown: Literal["error", "unk"] = "error",
        max_len: int | None = None,
    ) -> list[int]:
        """Token ids of `text`. Unknown words raise `UnknownTokenError` or, with
        ``unknown="unk"``, become ``<unk>``; more than `max_len` tokens raise
        `SequenceTooLongError`."""
        if unknown not in ("error", "unk"):
            raise ValueError(f"unknown must be 'error' or 'unk', got {unknown!r}")
        _check_max_len(max_len)
        tokens = tokenize(text)
        ids: list[int] = []
        for token in tokens:
            index = self.token_to_id.get(token)
            if index is None:
                if unknown == "error":
                    raise UnknownTokenError(token, _suggest(token, self.id_to_token))
                index = UNK_ID
            ids.append(index)
        if max_len is not None and len(ids) > max_len:
            raise SequenceTooLongError(len(ids), max_len)
        return ids

    def decode(self, ids: Iterable[int], skip_special: bool = False) -> str:
        """The text of `ids`; `skip_special` leaves out ``<pad>``, ``</s>`` and ``<unk>``."""
        checked = _check_ids(ids, len(self))
        tokens = [self.id_to_token[i] for i in checked]
        if skip_special:
            tokens = [t for t in tokens if t not in SPECIAL_TOKENS]
        return detokenize(tokens)

    def to_dict(self) -> dict[str, Any]:
        """Plain dict, for JSON."""
        return {"format": _FORMAT, "version": _FORMAT_VERSION, "tokens": list(self.id_to_token)}

    @classmethod
    def from_dict(cls, data: Any) -> Vocab:
        """Inverse of `to_dict`, with an error that says what is wrong with `data`."""
        if isinstance(data, list):
            raise ValueError(
                "this is a JSON array, not a saved vocabulary (a corpus, perhaps?). Build a "
                "vocabulary from texts with Vocab.build(texts), or load a file written by "
                "vocab.save(path)."
            )
        if not isinstance(data, dict) or data.get("format") != _FORMAT:
            raise ValueError(
                f'not a saved vocabulary: expected a JSON object with "format": "{_FORMAT}"; '
                f"load a file written by vocab.save(path)"
            )
        if data.get("version") != _FORMAT_VERSION:
            raise ValueError(
                f"saved vocabulary has version {data.get('version')!r}; this course_lib reads "
                f"version {_FORMAT_VERSION}"
            )
        tokens = data.get("tokens")
        if not isinstance(tokens, list):
            raise ValueError('saved vocabulary has no "tokens" list')
        return cls(tokens)

    def save(self, path: str | Path) -> None:
        """Write the vocabulary to `path` as JSON, atomically: on any error an existing file
        at `path` is left as it was."""
        data = (json.dumps(self.to_dict(), ensure_ascii=False, indent=1) + "\n").encode("utf-8")
        write_atomically(path, lambda file: file.write(data))

    @classmethod
    def load(cls, path: str | Path) -> Vocab:
        """Read a vocabulary written by `save`."""
        path = Path(path)
        if not path.is_file():
            raise FileNotFoundError(f"no vocabulary file at {path}")
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
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
        except ValueError as error:
            raise ValueError(f"{path}: {error}") from None


# ---------------------------------------------------------------------------------------------
# DNA

_BASES = "ACGT"
_VALID_BASES = frozenset("ACGTN")


def _clean_dna(seq: str) -> str:
    """`seq` in upper case, with an error naming the first letter that is not A, C, G, T or N."""
    if not isinstance(seq, str):
        raise TypeError(f"a DNA sequence is a str, got {type(seq).__name__}")
    upper = seq.upper()
    for position, base in enumerate(upper):
        if base not in _VALID_BASES:
            raise ValueError(
                f"invalid base {seq[position]!r} at position {position}: a DNA sequence has "
                f"only A, C, G, T (and N for an unknown base); remove spaces and other letters"
            )
    return upper


def _check_k(k: int) -> None:
    if isinstance(k, bool) or not isinstance(k, int) or k < 1:
        raise ValueError(f"k must be a positive int, got {k!r}")


def kmers(seq: str, k: int, overlapping: bool = False) -> list[str]:
    """The k-mers of `seq`: side by side (a remainder shorter than k is dropped) or, with
    `overlapping`, one starting at every base."""
    _check_k(k)
    seq = _clean_dna(seq)
    step = 1 if overlapping else k
    return [seq[i : i + k] for i in range(0, len(seq) - k + 1, step)]


class DNAVocab:
    """Every k-mer of A, C, G, T in a fixed order, after the three special tokens."""

    PAD_ID = PAD_ID
    EOS_ID = EOS_ID
    UNK_ID = UNK_ID

    def __init__(self, k: int) -> None:
        """The vocabulary of every k-mer, 3 + 4**k tokens."""
        _check_k(k)
        if k > 8:
            raise ValueError(f"k={k} gives 4**{k} = {4**k:,} tokens; use k <= 8")
        self.k = k
        words = ["".join(p) for p in itertools.product(_BASES, repeat=k)]  # AAA, AAC, ... TTT
        self.id_to_token: list[str] = list(SPECIAL_TOKENS) + words
        self.token_to_id: dict[str, int] = {t: i for i, t in enumerate(self.id_to_token)}

    def __len__(self) -> int:
        return len(self.id_to_token)

    def __contains__(self, token: object) -> bool:
        return token in self.token_to_id

    def __repr__(self) -> str:
        return f"DNAVocab(k={self.k}, {len(self)} tokens)"

    def encode(self, seq: str, overlapping: bool = False, max_len: int | None = None) -> list[int]:
        """Ids of the k-mers of `seq`; a k-mer holding N becomes ``<unk>``."""
        _check_max_len(max_len)
        ids = [self.token_to_id.get(kmer, UNK_ID) for kmer in kmers(seq, self.k, overlapping)]
        if max_len is not None and len(ids) > max_len:
            raise SequenceTooLongError(len(ids), max_len)
        return ids

    def tokens(self, ids: Iterable[int]) -> list[str]:
        """The token of each id."""
        return [self.id_to_token[i] for i in _check_ids(ids, len(self))]

    def decode(self, ids: Iterable[int], overlapping: bool = False) -> str:
        """The bases of `ids` (``<pad>`` and ``</s>`` left out, ``<unk>`` read as N)."""
        bases: list[str] = []
        for token in self.tokens(ids):
            if token in (PAD, EOS):
                continue
            piece = "N" * self.k if token == UNK else token
            # Overlapping k-mers share k-1 bases with the one before: add only the last base.
            bases.append(piece[-1] if overlapping and bases else piece)
        return "".join(bases)
