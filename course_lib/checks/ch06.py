"""Checks for chapter 06, Embeddings as a tool: k-mer counts, mean pooling over real tokens, and
cosine search on centred vectors.

Each check runs the learner's function on small cases whose answers are known another way (a
plain loop over windows, a loop over the real positions, a loop over the rows), looks for the
usual wrong answers first so that the hint can name the mistake, then compares with the right
answer. When an exercise is not done, the chapter goes on with `course_lib.dna`'s version.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from course_lib import dna
from course_lib.checks import CheckFailed, Exercise, call_catching, expect
from course_lib.checks._common import (
    array_result,
    close,
    expect_unchanged,
    ids_result,
)

__all__ = [
    "cosine_top_k",
    "kmer_counts",
    "mean_pool",
    "reference_cosine_top_k",
    "reference_kmer_counts",
    "reference_mean_pool",
]

# The chapter goes on with the library's own functions.
reference_kmer_counts = dna.kmer_counts
reference_mean_pool = dna.mean_pool
reference_cosine_top_k = dna.cosine_top_k


# ----------------------------------------------------------------------------- helpers

BROADCAST_HINT = (
    "NumPy lines shapes up from the last axis: a mask (batch, time) does not fit hidden "
    "(batch, time, d_model). Give the mask a last axis of length 1, mask[:, :, None], so that it "
    "broadcasts over d_model."
)
DENOMINATOR_HINT = (
    "the sum over time has shape (batch, d_model), but the number of real tokens, "
    "mask.sum(axis=1), has shape (batch,): NumPy lines shapes up from the last axis, so they do "
    "not fit. Keep the axis, mask.sum(axis=1, keepdims=True) or [:, None], giving (batch, 1)."
)
_SHAPES = re.compile(r"shapes?\s+((?:\([\d, ]*\)\s*)+)")


def _broadcast_hint(message: str) -> str:
    """Which of the two usual broadcasting slips `message` (NumPy's error) comes from."""
    found = _SHAPES.search(message)
    shapes = re.findall(r"\(([\d, ]*)\)", found.group(1)) if found else []
    ranks = sorted(len([n for n in shape.split(",") if n.strip()]) for shape in shapes)
    if ranks[:2] == [1, 2]:
        return DENOMINATOR_HINT
    return BROADCAST_HINT


def _call(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """`call_learner`, with a hint on how shapes line up when a broadcast failed."""
    result, raised = call_catching(fn, *args, **kwargs)
    if raised is not None:
        if "broadcast" in raised.message:
            name = getattr(fn, "__name__", "your function")
            raise CheckFailed(f"{name} raised {raised}. {_broadcast_hint(raised.message)}")
        raise CheckFailed(f"{getattr(fn, '__name__', 'your function')} raised {raised}")
    return result


# ----------------------------------------------------------------------------- exercise 6.1


def _windows(sequence: str, k: int, step: int, stop_early: bool = False) -> list[str]:
    end = len(sequence) - k + (0 if stop_early else 1)
    return [sequence[i : i + k] for i in range(0, end, step)]


def _count_rows(
    sequences: Sequence[str], k: int, windows: Callable[[str], list[str]]
) -> np.ndarray:
    columns = {kmer: j for j, kmer in enumerate(dna.kmer_columns(k))}
    counts = np.zeros((len(sequences), len(columns)))
    for row, sequence in enumerate(sequences):
        for kmer in windows(sequence):
            counts[row, columns[kmer]] += 1
    return counts


def _kmer_variants(
    sequences: Sequence[str], k: int, overlapping: bool
) -> list[tuple[np.ndarray, str]]:
    """Usual wrong count matrices for these arguments, each with the hint naming its mistake."""
    step = 1 if overlapping else k
    columns = dna.kmer_columns(k)
    by_str_count = np.array([[s.count(c) for c in columns] for s in sequences], dtype=float)
    flag = f"overlapping={overlapping}"
    variants = [
        (
            _count_rows(sequences, k, lambda s: _windows(s, k, step, stop_early=True)),
            "off by one: the last k-mer is missing. The last window starts at len(seq) - k, so "
            "the loop runs over range(0, len(seq) - k + 1, step).",
        ),
        (
            by_str_count,
            "those are str.count numbers: str.count finds non-overlapping matches anywhere in "
            "the string ('AAAA'.count('AA') is 2), which is neither the overlapping count "
            "(3 windows: AA, AA, AA) nor the count of side-by-side k-mers. Slide a window "
            "instead.",
        ),
    ]
    if overlapping:
        variants.append(
            (
                _count_rows(sequences, k, lambda s: _windows(s, k, k)),
                f"with {flag} a window starts at every base (step 1); you stepped by k, which "
                "gives the side-by-side k-mers of overlapping=False.",
            )
        )
    else:
        variants.append(
            (
                _count_rows(sequences, k, lambda s: _windows(s, k, 1)),
                f"with {flag} the k-mers sit side by side (step k, like the tokenizer); you "
                "counted a window at every base, which is overlapping=True.",
            )
        )
    return variants


def _test_kmer_counts(fn: Callable[..., Any]) -> int:
    # Lengths that are and are not multiples of k, and runs of one letter ('AAAA') where
    # overlapping windows and str.count disagree.
    sequences = ["AAAAAT", "ACGTACGTA", "TTTTTTTTT", "GATTACAGG", "CCAAGT"]
    checks = 0
    for k, overlapping in ((2, True), (2, False), (3, True), (3, False), (1, True)):
        width = 4**k
        given = list(sequences)
        out = array_result(_call(fn, given, k, overlapping=overlapping), "kmer_counts")
        expect_unchanged("kmer_counts", ("sequences",), [sequences], [given])
        expected = _count_rows(
            sequences, k, lambda s, k=k, o=overlapping: _windows(s, k, 1 if o else k)
        )
        call = f"kmer_counts(sequences, k={k}, overlapping={overlapping})"
        expect(
            out.shape != (width, len(sequences)),
            f"{call} returned shape {out.shape}: that is transposed. One row per sequence, one "
            f"column per k-mer: ({len(sequences)}, {width}).",
        )
        expect(
            out.shape == (len(sequences), width),
            f"{call} returned shape {out.shape}, expected ({len(sequences)}, {width}): one row "
            f"per sequence and one column for every one of the 4**k = {width} k-mers, in the "
            "order of dna.kmer_columns(k), even for k-mers that never occur.",
        )
        if not close(out, expected):
            for wrong, hint in _kmer_variants(sequences, k, overlapping):
                expect(not close(out, wrong), f"{call}: {hint}")
            windows = np.maximum(expected.sum(axis=1, keepdims=True), 1)
            expect(
                not close(out, expected / windows),
                f"{call} gave frequencies (each row sums to 1): return the counts themselves.",
            )
            expect(
                not close(np.sort(out, axis=1), np.sort(expected, axis=1)),
                f"{call} has the right numbers in the wrong columns: column j counts the k-mer "
                "dna.kmer_columns(k)[j] (AA, AC, AG, AT, CA, ... for k = 2).",
            )
            row = int(np.argmax(np.any(out != expected, axis=1)))
            expect(
                False,
                f"{call} is wrong: row {row} ({sequences[row]!r}) should be "
                f"{expected[row].astype(int).tolist()}, got {out[row].tolist()}.",
            )
        checks += 1
    empty = array_result(_call(fn, ["AC"], 3, overlapping=True), "kmer_counts")
    expect(
        empty.shape == (1, 64) and not empty.any(),
        "a sequence shorter than k has no k-mer at all: its row must be all zeros.",
    )
    # The chapter calls kmer_counts(sequences, 6) and relies on the default.
    default = array_result(_call(fn, list(sequences), 2), "kmer_counts")
    expect(
        close(default, _count_rows(sequences, 2, lambda s: _windows(s, 2, 1))),
        "kmer_counts(sequences, k) without `overlapping` should count a window at every base: "
        "keep the signature's default, overlapping=True, which the chapter relies on.",
    )
    return checks + 2


kmer_counts = Exercise(
    "ch06_kmer_counts",
    "kmer_counts",
    reference_kmer_counts,
    _test_kmer_counts,
    points=2,
    doc="Check exercise 6.1, `kmer_counts(sequences, k, overlapping=True)`.",
)


# ----------------------------------------------------------------------------- exercise 6.2


def _padded_case(seed: int) -> tuple[np.ndarray, np.ndarray]:
    """hidden (4, 6, 3) with large values on the padding, and a mask of lengths 6, 2, 4, 1."""
    rng = np.random.default_rng(seed)
    lengths = [6, 2, 4, 1]  # batch 4, time 6, d_model 3: no two axes of the same length
    mask = np.arange(6)[None, :] < np.array(lengths)[:, None]  # (4, 6)
    hidden = rng.normal(size=(4, 6, 3))
    hidden[~mask] += 20.0  # padding positions hold vectors too, and far from the real ones
    return hidden, mask


def _test_mean_pool(fn: Callable[..., Any]) -> int:
    checks = 0
    for seed in (0, 1):
        hidden, mask = _padded_case(seed)
        given_hidden = hidden.copy()
        given_mask = mask.copy()
        out = array_result(_call(fn, given_hidden, given_mask), "mean_pool")
        expect_unchanged("mean_pool", ("mask",), [mask], [given_mask])
        expect(
            np.array_equal(given_hidden, hidden),
            "mean_pool changed `hidden` in place (e.g. set its padding to 0): the caller's hidden "
            "states must stay as they are. Multiply by the mask into a new array instead.",
        )
        lengths = mask.sum(axis=1)
        expected = np.stack([hidden[b, : lengths[b]].mean(axis=0) for b in range(len(hidden))])
        expect(
            out.shape == (4, 3),
            f"mean_pool returned shape {out.shape} for hidden {hidden.shape}, expected (4, 3): "
            "one vector per sequence, so average over the time axis (axis=1), not over the "
            "batch (axis=0) or the features (axis=-1).",
        )
        if not close(out, expected):
            weights = mask[:, :, None]
            expect(
                not close(out, hidden.mean(axis=1)),
                "that is hidden.mean(axis=1): it averages over the padding too. Only the "
                "positions where the mask is True are real tokens; padded positions hold "
                "vectors as well, and they must not count.",
            )
            expect(
                not close(out, (hidden * weights).sum(axis=1) / hidden.shape[1]),
                "the padding was left out of the sum, but you divided by T (the padded length) "
                "instead of each sequence's own number of real tokens, mask.sum(axis=1).",
            )
            expect(
                not close(out, hidden.sum(axis=1) / lengths[:, None]),
                "you divided by the real length, but the sum still includes the padded "
                "positions: multiply hidden by the mask (mask[:, :, None]) before summing.",
            )
            expect(
                False,
                "mean_pool is wrong: row b is the mean of hidden[b, t] over the positions t "
                f"where mask[b, t] is True. For the second sequence (2 real tokens) expected "
                f"{np.round(expected[1], 4).tolist()}, got {np.round(out[1], 4).tolist()}.",
            )
        checks += 2
    full = np.random.default_rng(2).normal(size=(2, 5, 7))
    out = array_result(_call(fn, full, np.ones((2, 5), dtype=bool)), "mean_pool")
    expect(
        close(out, full.mean(axis=1)),
        "without padding (a mask of all True) the result must be hidden.mean(axis=1).",
    )
    return checks + 1


mean_pool = Exercise(
    "ch06_mean_pool",
    "mean_pool",
    reference_mean_pool,
    _test_mean_pool,
    points=2,
    doc="Check exercise 6.2, `mean_pool(hidden, mask)`.",
)


# ----------------------------------------------------------------------------- exercise 6.3


def _ranked(
    matrix: np.ndarray,
    query: int,
    k: int,
    *,
    centre: str | None = "columns",
    normalise: bool = True,
    keep_query: bool = False,
    ascending: bool = False,
) -> list[int]:
    """The top-k rows under one way (right or wrong) of computing the similarity."""
    m = np.asarray(matrix, dtype=float)
    if centre == "columns":
        m = m - m.mean(axis=0)
    elif centre == "rows":
        m = m - m.mean(axis=1, keepdims=True)
    if normalise:
        m = m / np.linalg.norm(m, axis=1, keepdims=True)
    scores = m @ m[query]
    order = np.argsort(scores if ascending else -scores, kind="stable")
    if not keep_query:
        order = order[order != query]
    return [int(i) for i in order[:k]]


def _search_case() -> np.ndarray:
    """Rows far from the origin (so centring matters) and of very different lengths (so
    normalising matters)."""
    rng = np.random.default_rng(3)  # a seed where every usual mistake ranks another row first
    matrix = rng.normal(size=(12, 4))
    matrix *= np.linspace(0.3, 4.0, 12)[rng.permutation(12)][:, None]
    return matrix + np.array([6.0, -3.0, 5.0, 2.0])


def _unpack(result: Any, what: str) -> tuple[list[int], np.ndarray]:
    expect(result is not None, f"{what} returned None: did you forget the `return`?")
    expect(
        isinstance(result, (tuple, list)) and len(result) == 2,
        f"{what} should return two arrays, (indices, similarities), got "
        f"{type(result).__name__}{'' if not isinstance(result, tuple) else f' of {len(result)}'}.",
    )
    indices = ids_result(result[0], f"{what}'s indices")
    try:
        similarities = np.asarray(result[1], dtype=float).reshape(-1)
    except (TypeError, ValueError):
        expect(False, f"{what} should return (indices as ints, similarities as floats).")
        raise
    return indices, similarities


def _test_cosine_top_k(fn: Callable[..., Any]) -> int:
    matrix = _search_case()
    original = matrix.copy()
    checks = 0
    for query, k in ((0, 4), (7, 3)):
        call = f"cosine_top_k(matrix, query={query}, k={k})"
        indices, similarities = _unpack(_call(fn, matrix, query, k), "cosine_top_k")
        expect(np.array_equal(matrix, original), "cosine_top_k changed the matrix in place.")
        want, want_sims = reference_cosine_top_k(matrix, query, k)
        expect(len(indices) == k, f"{call} gave {len(indices)} indices {indices}, expected {k}.")
        expect(
            query not in indices,
            f"{call} returned the query itself among its neighbours {indices}: its similarity "
            "to itself is always 1. Leave it out (set its score to -inf before sorting).",
        )
        if indices != want.tolist():
            # The call above left `centre` to the signature, as the chapter's searches do.
            given, _ = call_catching(fn, matrix, query, k, centre=True)
            expect(
                not (isinstance(given, (tuple, list)) and len(given) == 2)
                or list(np.asarray(given[0]).reshape(-1)) != want.tolist(),
                f"called without centre, {call} gave {indices}, though centre=True gives "
                f"{want.tolist()}, which is right: keep the signature's default, centre=True, "
                "which the chapter relies on.",
            )
            mistakes = [
                (
                    dict(ascending=True),
                    "the order is backwards: np.argsort sorts from least to most similar; the "
                    "most similar rows come first (sort by -similarity).",
                ),
                (
                    dict(centre=None),
                    "the rows were not centred: every row shares a large offset, so "
                    "uncentred they all point almost the same way. Subtract each column's mean, "
                    "matrix - matrix.mean(axis=0), before the cosine.",
                ),
                (
                    dict(centre="rows"),
                    "you subtracted each row's own mean (axis=1); centring subtracts the mean "
                    "row of the whole matrix, matrix.mean(axis=0), from every row.",
                ),
                (
                    dict(normalise=False),
                    "that ranks by the dot product: divide each centred row by its length "
                    "(np.linalg.norm(..., axis=1)) so that only the direction counts.",
                ),
            ]
            for options, hint in mistakes:
                wrong = _ranked(matrix, query, k, **options)
                expect(indices != wrong, f"{call} gave {indices}: {hint}")
            expect(False, f"{call} gave {indices}, expected {want.tolist()}.")
        expect(
            similarities.shape == (k,) and np.allclose(similarities, want_sims, atol=1e-8),
            f"{call} found the right rows, but the similarities should be their centred cosines "
            f"{np.round(want_sims, 4).tolist()} (one per index, most similar first), got "
            f"{np.round(similarities, 4).tolist()}.",
        )
        checks += 3
    # centre=False: the rows as given.
    indices, similarities = _unpack(_call(fn, matrix, 0, 4, centre=False), "cosine_top_k")
    want, want_sims = reference_cosine_top_k(matrix, 0, 4, centre=False)
    expect(
        indices == want.tolist() and np.allclose(similarities, want_sims, atol=1e-8),
        f"with centre=False the cosine uses the rows as given (no mean subtracted): expected "
        f"{want.tolist()}, got {indices}.",
    )
    return checks + 1


cosine_top_k = Exercise(
    "ch06_cosine_top_k",
    "cosine_top_k",
    reference_cosine_top_k,
    _test_cosine_top_k,
    points=2,
    doc="Check exercise 6.3, `cosine_top_k(matrix, query, k=5, centre=True)`.",
)
