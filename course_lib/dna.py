"""The synthetic DNA task of chapter 06, and the helpers that turn hidden states into features.

`make_motif_dataset` writes random sequences of A, C, G, T; half of them (the positives) carry a
planted motif such as the bacterial promoter box ``TATAAT``, the other half carry a *decoy*: the
same letters in another order (``TTAATA``). Every sequence then has the same expected base
composition, so counting bases is no shortcut; only the order of the letters tells the classes
apart. The harder ``"two_motif"`` rule plants two motifs in every sequence and labels by their
order, so that even counting 6-mers tells nothing.

The other helpers serve the chapter: k-mer count features (the baseline), padded id batches,
pooling hidden states over time, a logistic-regression probe per layer, and cosine search.
NumPy only at import; scikit-learn is imported inside the functions that use it.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np

from course_lib.backends import hidden_states

__all__ = [
    "BASES",
    "DECOY",
    "MOTIF",
    "SECOND_MOTIF",
    "MotifDataset",
    "cosine_top_k",
    "encode_batch",
    "find_all",
    "hidden_state_features",
    "kmer_columns",
    "kmer_counts",
    "make_motif_dataset",
    "mean_pool",
    "pool",
    "precision_at_k",
    "probe_accuracy",
    "scramble",
]

BASES = "ACGT"
MOTIF = "TATAAT"  # the -10 box of bacterial promoters
DECOY = "TTAATA"  # the same letters in another order
SECOND_MOTIF = "CACGTG"  # the E-box, for the two-motif rule

_MAX_TRIES = 1000  # backgrounds drawn per sequence; the default motif needs 1-2
Rule = Literal["single", "two_motif"]
Pooling = Literal["mean", "last", "max"]


# ---------------------------------------------------------------------------------------------
# The data


@dataclass(frozen=True)
class MotifDataset:
    """Sequences, their labels (1: positive) and where each planted word starts."""

    sequences: list[str]
    labels: np.ndarray  # (n,) int64, 0 or 1
    starts: np.ndarray  # (n, planted words) int64: start of each planted word
    motif: str
    decoy: str
    rule: str
    planted: list[list[str]] = field(repr=False)  # the words as planted (after mutation)

    def __len__(self) -> int:
        return len(self.sequences)


def _check_dna_word(name: str, word: str) -> str:
    if not isinstance(word, str) or not word:
        raise ValueError(f"{name} must be a non-empty string of A, C, G, T, got {word!r}")
    upper = word.upper()
    bad = sorted(set(upper) - set(BASES))
    if bad:
        raise ValueError(f"{name} {word!r} holds {bad}: use only the letters A, C, G, T")
    return upper


def scramble(motif: str, seed: int = 0) -> str:
    """`motif` with its letters shuffled (seeded) into an order that differs from `motif`."""
    motif = _check_dna_word("motif", motif)
    if len(set(motif)) < 2:
        raise ValueError(f"motif {motif!r} has one distinct letter: no other order exists")
    rng = np.random.default_rng(seed)
    while True:
        letters = list(motif)
        rng.shuffle(letters)
        word = "".join(letters)
        if word != motif:
            return word


def find_all(sequence: str, word: str) -> list[int]:
    """Every start position of `word` in `sequence`, overlapping occurrences included."""
    starts, at = [], sequence.find(word)
    while at != -1:
        starts.append(at)
        at = sequence.find(word, at + 1)
    return starts


def _mutate(word: str, rate: float, rng: np.random.Generator) -> str:
    """Each letter replaced, with probability `rate`, by one of the three other bases."""
    letters = list(word)
    for i, base in enumerate(letters):
        if rng.random() < rate:
            letters[i] = rng.choice([b for b in BASES if b != base])
    return "".join(letters)


def make_motif_dataset(
    n: int,
    length: int = 100,
    motif: str = MOTIF,
    seed: int = 0,
    mutation_rate: float = 0.0,
    rule: Rule = "single",
    *,
    decoy: str | None = None,
    second_motif: str = SECOND_MOTIF,
) -> MotifDataset:
    """`n` random DNA sequences of `length` bases, half of them positive (label 1), seeded.

    rule "single": a positive carries `motif` once, a negative carries `decoy` (default: `DECOY`
    for the default motif, else a seeded `scramble(motif)`) once, at a random place.
    rule "two_motif": every sequence carries `motif` and `second_motif`; label 1 when `motif`
    comes first. `mutation_rate` changes each planted letter with that probability. Apart from
    the planted words, no sequence contains the motif, the decoy or the second motif.
    """
    if isinstance(n, bool) or not isinstance(n, int) or n < 2:
        raise ValueError(f"n must be an int >= 2 (one positive and one negative), got {n!r}")
    motif = _check_dna_word("motif", motif)
    if decoy is None:
        decoy = DECOY if motif == MOTIF else scramble(motif, seed)
    decoy = _check_dna_word("decoy", decoy)
    second_motif = _check_dna_word("second_motif", second_motif)
    if sorted(decoy) != sorted(motif) or decoy == motif:
        raise ValueError(
            f"decoy {decoy!r} must hold the letters of motif {motif!r} in another order, "
            f"so that base counts cannot tell the classes apart; try scramble({motif!r})"
        )
    if rule not in ("single", "two_motif"):
        raise ValueError(f"rule must be 'single' or 'two_motif', got {rule!r}")
    if not 0.0 <= mutation_rate <= 1.0:
        raise ValueError(f"mutation_rate must be between 0 and 1, got {mutation_rate!r}")
    if rule == "two_motif" and second_motif in (motif, decoy):
        raise ValueError("second_motif must differ from the motif and its decoy")
    words = [motif] if rule == "single" else [motif, second_motif]
    needed = sum(len(w) for w in words)
    if length < needed + 2:
        raise ValueError(f"length {length} is too short for the planted words; use >= {needed + 2}")

    rng = np.random.default_rng(seed)
    labels = np.zeros(n, dtype=np.int64)
    labels[: n // 2] = 1
    rng.shuffle(labels)  # balanced: n // 2 positives in a seeded order
    forbidden = sorted({motif, decoy, second_motif} if rule == "two_motif" else {motif, decoy})
    sequences, starts, planted = [], [], []
    for label in labels:
        if rule == "single":
            order = [motif if label == 1 else decoy]
        else:
            order = [motif, second_motif] if label == 1 else [second_motif, motif]
        for _ in range(_MAX_TRIES):  # resample until no forbidden word appears elsewhere
            sequence, at, words_here = _plant(order, length, mutation_rate, rng)
            if _clean(sequence, at, words_here, forbidden):
                break
        else:
            raise ValueError(
                f"could not write a sequence of {length} bases in which {' and '.join(forbidden)} "
                f"occur only where planted ({_MAX_TRIES} tries): words this short turn up by "
                f"chance almost everywhere. Use a longer motif (6 letters, like the default "
                f"{MOTIF!r}) or shorter sequences."
            )
        sequences.append(sequence)
        starts.append(at)
        planted.append(words_here)
    return MotifDataset(
        sequences=sequences,
        labels=labels,
        starts=np.array(starts, dtype=np.int64),
        motif=motif,
        decoy=decoy,
        rule=rule,
        planted=planted,
    )


def _plant(
    order: list[str], length: int, rate: float, rng: np.random.Generator
) -> tuple[str, list[int], list[str]]:
    """A random background with the words of `order` planted, in that order, not touching."""
    background = "".join(rng.choice(list(BASES), size=length))
    free = length - sum(len(w) for w in order)
    # Distinct sorted picks among the free bases, each shifted by the words before it: the words
    # keep their order and never touch (at least one background base between two words).
    picks = np.sort(rng.choice(free + 1, size=len(order), replace=False))
    starts, offset = [], 0
    for pick, word in zip(picks, order, strict=True):
        starts.append(int(pick) + offset)
        offset += len(word)
    sequence = list(background)
    words = []
    for start, word in zip(starts, order, strict=True):
        word = _mutate(word, rate, rng) if rate > 0 else word
        sequence[start : start + len(word)] = word
        words.append(word)
    return "".join(sequence), starts, words


def _clean(sequence: str, starts: list[int], words: list[str], forbidden: list[str]) -> bool:
    """True when every occurrence of a forbidden word is one of the planted words themselves."""
    allowed = {(s, w) for s, w in zip(starts, words, strict=True)}
    return all((at, word) in allowed for word in forbidden for at in find_all(sequence, word))


# ---------------------------------------------------------------------------------------------
# Features


def kmer_columns(k: int) -> list[str]:
    """The 4**k k-mers in the order of `kmer_counts`' columns (and of `DNAVocab` after specials)."""
    if isinstance(k, bool) or not isinstance(k, int) or not 1 <= k <= 8:
        raise ValueError(f"k must be an int from 1 to 8, got {k!r}")
    return ["".join(p) for p in itertools.product(BASES, repeat=k)]


def kmer_counts(sequences: Sequence[str], k: int, overlapping: bool = True) -> np.ndarray:
    """How often each k-mer occurs in each sequence: (n, 4**k) float64, columns `kmer_columns(k)`.

    Overlapping (a window at every base) is the usual choice for features; k-mers holding
    another letter than A, C, G, T (such as N) are not counted.
    """
    if isinstance(sequences, str):
        raise TypeError("kmer_counts expects a list of sequences, got one string; wrap it in [...]")
    column = {kmer: i for i, kmer in enumerate(kmer_columns(k))}
    step = 1 if overlapping else k
    counts = np.zeros((len(sequences), len(column)))  # (n, 4**k)
    for row, sequence in enumerate(sequences):
        sequence = sequence.upper()
        for i in range(0, len(sequence) - k + 1, step):
            j = column.get(sequence[i : i + k])
            if j is not None:
                counts[row, j] += 1
    return counts


def encode_batch(vocab: Any, sequences: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
    """(ids, mask), each (n, longest): ids padded on the right with `<pad>`, mask True on tokens."""
    if isinstance(sequences, str) or len(sequences) == 0:
        raise ValueError("encode_batch expects a non-empty list of sequences")
    encoded = [vocab.encode(s) for s in sequences]  # non-overlapping k-mers
    if any(len(e) == 0 for e in encoded):
        raise ValueError(f"a sequence is shorter than k={vocab.k}: it has no whole k-mer")
    width = max(len(e) for e in encoded)
    ids = np.full((len(encoded), width), vocab.PAD_ID, dtype=np.int64)  # (n, T)
    mask = np.zeros((len(encoded), width), dtype=bool)  # (n, T)
    for row, e in enumerate(encoded):
        ids[row, : len(e)] = e
        mask[row, : len(e)] = True
    return ids, mask


def _check_pool_inputs(hidden: Any, mask: Any) -> tuple[np.ndarray, np.ndarray]:
    hidden = np.asarray(hidden)
    mask = np.asarray(mask, dtype=bool)
    if hidden.ndim != 3 or mask.shape != hidden.shape[:2]:
        raise ValueError(
            f"need hidden (batch, time, d_model) and mask (batch, time), got {hidden.shape} "
            f"and {mask.shape}"
        )
    if not mask.any(axis=1).all():
        raise ValueError("a row of the mask has no real token: every sequence needs one")
    return hidden, mask


def mean_pool(hidden: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Each sequence's mean hidden state over its real (non-padding) positions: (batch, d)."""
    hidden, mask = _check_pool_inputs(hidden, mask)
    weights = mask[:, :, None].astype(hidden.dtype)  # (B, T, 1)
    return (hidden * weights).sum(axis=1) / weights.sum(axis=1)  # (B, D)


def pool(hidden: np.ndarray, mask: np.ndarray, how: Pooling = "mean") -> np.ndarray:
    """One vector per sequence from hidden (batch, time, d) and mask (batch, time): (batch, d).

    "mean" averages the real positions, "last" takes the last real position (the only one a
    causal model lets see the whole sequence), "max" takes each feature's largest real value.
    """
    hidden, mask = _check_pool_inputs(hidden, mask)
    if how == "mean":
        return mean_pool(hidden, mask)
    if how == "last":
        last = mask.shape[1] - 1 - np.argmax(mask[:, ::-1], axis=1)  # (B,) last True position
        return hidden[np.arange(len(hidden)), last]
    if how == "max":
        return np.where(mask[:, :, None], hidden, -np.inf).max(axis=1)
    raise ValueError(f"pooling must be 'mean', 'last' or 'max', got {how!r}")


def hidden_state_features(
    model: Any,
    vocab: Any,
    sequences: Sequence[str],
    pooling: Pooling | Sequence[Pooling] = "mean",
    batch_size: int = 128,
) -> Any:
    """Pooled hidden states of every layer: a list of n_layers + 1 arrays (n, d_model).

    Layer 0 is the embeddings' output, layer i the output of block i. Given several poolings
    (a list), returns a dict pooling -> that list.
    """
    hows = [pooling] if isinstance(pooling, str) else list(pooling)
    ids, mask = encode_batch(vocab, sequences)
    out: dict[str, list[list[np.ndarray]]] = {how: [] for how in hows}
    for start in range(0, len(ids), batch_size):
        states = hidden_states(
            model, ids[start : start + batch_size], mask[start : start + batch_size]
        )
        for how in hows:
            out[how].append([pool(s, mask[start : start + batch_size], how) for s in states])
    joined = {
        how: [np.concatenate([chunk[i] for chunk in chunks]) for i in range(len(chunks[0]))]
        for how, chunks in out.items()
    }
    return joined[hows[0]] if isinstance(pooling, str) else joined


# ---------------------------------------------------------------------------------------------
# Probes and search


def probe_accuracy(
    features: np.ndarray,
    labels: np.ndarray,
    seed: int = 0,
    test_fraction: float = 0.3,
    c: float = 1.0,
    scale: bool = True,
) -> float:
    """Held-out accuracy of a logistic regression on `features` (n, d), standardised first
    unless `scale` is False (raw k-mer counts do better unscaled: scaling blows rare k-mers up).

    A seeded, stratified split keeps `test_fraction` of the rows for testing.
    """
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import train_test_split
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    features = np.asarray(features, dtype=np.float64)
    labels = np.asarray(labels)
    if features.ndim != 2 or len(features) != len(labels):
        raise ValueError(
            f"need features (n, d) and n labels, got {features.shape} and {labels.shape}"
        )
    x_train, x_test, y_train, y_test = train_test_split(
        features, labels, test_size=test_fraction, random_state=seed, stratify=labels
    )
    classifier = LogisticRegression(C=c, max_iter=5000)
    probe = make_pipeline(StandardScaler(), classifier) if scale else classifier
    probe.fit(x_train, y_train)
    return float(probe.score(x_test, y_test))


def cosine_top_k(
    matrix: np.ndarray, query: int, k: int = 5, centre: bool = True
) -> tuple[np.ndarray, np.ndarray]:
    """The `k` rows of `matrix` (n, d) most cosine-similar to row `query`, itself left out.

    Returns (indices, similarities), most similar first. With `centre` the column means are
    subtracted first: otherwise a direction every row shares makes all of them look alike.
    """
    matrix = np.asarray(matrix, dtype=np.float64)
    if matrix.ndim != 2 or not 0 <= query < len(matrix):
        raise ValueError(f"need an (n, d) matrix and 0 <= query < n, got {matrix.shape}, {query}")
    if not 1 <= k < len(matrix):
        raise ValueError(f"k must be between 1 and n - 1 = {len(matrix) - 1}, got {k}")
    if centre:
        matrix = matrix - matrix.mean(axis=0)
    norms = np.linalg.norm(matrix, axis=1)  # (n,)
    norms[norms == 0] = 1.0  # an all-zero row has similarity 0 to everything
    unit = matrix / norms[:, None]
    similarity = unit @ unit[query]  # (n,)
    similarity[query] = -np.inf  # never return the query itself
    order = np.argsort(-similarity, kind="stable")[:k]
    return order, similarity[order]


def precision_at_k(
    matrix: np.ndarray, labels: np.ndarray, k: int = 5, centre: bool = True
) -> float:
    """The mean, over every row as the query, of the share of its `k` nearest rows (centred
    cosine) that have the query's label."""
    matrix = np.asarray(matrix, dtype=np.float64)
    labels = np.asarray(labels)
    if centre:
        matrix = matrix - matrix.mean(axis=0)
    norms = np.linalg.norm(matrix, axis=1)
    norms[norms == 0] = 1.0
    unit = matrix / norms[:, None]
    similarity = unit @ unit.T  # (n, n)
    np.fill_diagonal(similarity, -np.inf)
    nearest = np.argsort(-similarity, axis=1, kind="stable")[:, :k]  # (n, k)
    return float((labels[nearest] == labels[:, None]).mean())
