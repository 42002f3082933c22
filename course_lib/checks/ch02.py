"""Checks for chapter 02, Embeddings: lookup, its backward pass, sinusoidal positions, similarity.

Each check takes the learner's function, tries it on small cases whose answers are known another
way (a one-hot matrix product, a plain loop, finite differences), and returns the function the
chapter goes on with. A wrong answer raises `CheckFailed` with a hint naming the usual mistake.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from course_lib.checks import Exercise, call_catching, describe, expect
from course_lib.checks import call_learner as _call
from course_lib.checks._common import (
    array_result,
    close,
    expect_shape,
    expect_unchanged,
    ids_result,
    snapshot,
)
from course_lib.numpy.embeddings import sinusoidal_positions as _library_positions

__all__ = [
    "cosine_similarity",
    "embed",
    "embed_backward",
    "nearest_neighbours",
    "reference_cosine_similarity",
    "reference_embed",
    "reference_embed_backward",
    "reference_nearest_neighbours",
    "reference_sinusoidal_positions",
    "sinusoidal_positions",
]


# ----------------------------------------------------------------------------- references


def reference_embed(table: np.ndarray, ids: np.ndarray) -> np.ndarray:
    """Rows of `table` picked by `ids`: shape ids.shape + (d_model,)."""
    return np.asarray(table)[np.asarray(ids)]


def reference_embed_backward(grad: np.ndarray, ids: np.ndarray, vocab_size: int) -> np.ndarray:
    """Gradient of the loss with respect to the table: each row of `grad` added to its id's row."""
    grad = np.asarray(grad)
    d_table = np.zeros((vocab_size, grad.shape[-1]), dtype=grad.dtype)  # (vocab, d_model)
    np.add.at(d_table, np.asarray(ids).reshape(-1), grad.reshape(-1, grad.shape[-1]))
    return d_table


def reference_sinusoidal_positions(max_len: int, d_model: int) -> np.ndarray:
    """Fixed position table (max_len, d_model): sin in even columns, cos in odd ones."""
    positions = np.arange(max_len)[:, None]  # (max_len, 1)
    even = np.arange(0, d_model, 2)  # 0, 2, 4, ...: one frequency per sin/cos pair
    angles = positions / 10000.0 ** (even / d_model)  # (max_len, ceil(d_model / 2))
    table = np.zeros((max_len, d_model))
    table[:, 0::2] = np.sin(angles)
    table[:, 1::2] = np.cos(angles[:, : d_model // 2])
    return table


def reference_cosine_similarity(table: np.ndarray, query: np.ndarray) -> np.ndarray:
    """Cosine of the angle between each row of `table` (n, d) and `query` (d,): shape (n,)."""
    table = np.asarray(table, dtype=float)
    query = np.asarray(query, dtype=float)
    norms = np.linalg.norm(table, axis=-1) * np.linalg.norm(query)
    return table @ query / np.maximum(norms, 1e-12)


def reference_nearest_neighbours(table: np.ndarray, token_id: int, k: int = 5) -> list[int]:
    """The `k` ids most cosine-similar to row `token_id`, best first, the token itself left out."""
    similarity = reference_cosine_similarity(table, table[token_id])
    similarity[token_id] = -np.inf
    order = np.argsort(-similarity, kind="stable")
    return [int(i) for i in order[:k]]


# ----------------------------------------------------------------------------- helpers


def _rng(seed: int = 0) -> np.random.Generator:
    return np.random.default_rng(seed)


# ----------------------------------------------------------------------------- exercise 2.1


def _test_embed(fn: Callable[[np.ndarray, np.ndarray], np.ndarray]) -> int:
    rng = _rng(1)
    vocab, d_model = 7, 4  # not square, so a transposed table cannot pass by accident
    table = rng.normal(size=(vocab, d_model))
    checks = 0
    # The text allows ids as a list too.
    cases = (np.array([3, 0, 6, 3]), np.array([[1, 2, 2], [5, 4, 0]]), np.array([[4]]), [5, 1, 5])
    for ids in cases:
        expected = np.eye(vocab)[ids] @ table  # one-hot rows times the table: the oracle
        before = snapshot(table, ids)
        result, raised = call_catching(fn, table, ids)
        expect(
            raised is None or not isinstance(ids, list),
            f"embed(table, {ids}) raised {raised}: ids may be a plain list too, as the text "
            "says. Turn it into an array first, ids = np.asarray(ids).",
        )
        expect(raised is None, f"embed(table, {describe(ids)}) raised {raised}")
        out = array_result(result, "embed")
        expect_unchanged("embed", ("table", "ids"), before, (table, ids))
        expect_shape(
            out,
            np.shape(ids) + (d_model,),
            "embed",
            "one row of the table (d_model numbers) per id, so ids.shape + (d_model,).",
        )
        expect(
            close(out, expected),
            f"embed(table, {np.asarray(ids).tolist()}) differs from one_hot(ids) @ table: each id "
            "should pick its own row of the table.",
        )
        checks += 2
    return checks


embed = Exercise(
    "ch02_embed",
    "embed",
    reference_embed,
    _test_embed,
    points=1,
    doc="Check exercise 2.1: the embedding lookup.",
)


# ----------------------------------------------------------------------------- exercise 2.2


def _lost_repeats(grad: np.ndarray, ids: np.ndarray, vocab: int) -> np.ndarray:
    """What `d_table[ids] += grad` gives: a repeated id keeps only one of its rows."""
    d_table = np.zeros((vocab, grad.shape[-1]))
    d_table[ids.reshape(-1)] += grad.reshape(-1, grad.shape[-1])
    return d_table


def _test_embed_backward(fn: Callable[[np.ndarray, np.ndarray, int], np.ndarray]) -> int:
    from course_lib.checks._common import gradcheck

    rng = _rng(2)
    vocab, d_model = 6, 3
    checks = 0
    cases = (
        np.array([4, 1, 5]),  # every id once
        np.array([2, 0, 2, 2, 5]),  # id 2 three times
        np.array([[3, 3, 1], [1, 0, 3]]),  # a batch of two sequences, repeats across them
    )
    for ids in cases:
        grad = rng.normal(size=ids.shape + (d_model,))
        before = snapshot(grad, ids)
        out = array_result(_call(fn, grad, ids, vocab), "embed_backward")
        expect_unchanged("embed_backward", ("grad", "ids"), before, (grad, ids))
        expect(
            out.shape != (d_model, vocab) or d_model == vocab,
            f"embed_backward returned shape {out.shape}: that is transposed. The gradient of the "
            f"table has the table's shape, (vocab_size, d_model) = {(vocab, d_model)}.",
        )
        expect_shape(
            out,
            (vocab, d_model),
            "embed_backward",
            "the gradient of the table has the table's shape, one row per vocabulary entry "
            "(vocab_size rows, even for ids that never appear).",
        )
        expected = np.zeros((vocab, d_model))
        # The oracle: a plain loop over the positions.
        for i, row in zip(ids.reshape(-1), grad.reshape(-1, d_model), strict=True):
            expected[i] += row
        repeated = len(set(ids.reshape(-1).tolist())) < ids.size
        expect(
            not (repeated and close(out, _lost_repeats(grad, ids, vocab))),
            f"with repeated ids {ids.tolist()} some gradient is lost: `d_table[ids] += grad` "
            "adds only one row per distinct id (NumPy's buffered fancy indexing). A repeated id "
            "must collect the sum of all its rows: use np.add.at(d_table, ids, grad).",
        )
        counts = np.zeros((vocab, d_model))
        np.add.at(counts, ids.reshape(-1), 1.0)
        expect(
            not close(out, counts),
            "that counts how often each id occurs: add the rows of `grad` themselves, "
            "np.add.at(d_table, ids, grad).",
        )
        expect(
            close(out, expected),
            f"embed_backward(grad, {ids.tolist()}, {vocab}) is wrong: row i of the result must be "
            "the sum of the rows of `grad` at the positions where ids == i (zero if i never "
            "appears).",
        )
        checks += 2

    # Finite differences: the loss sum(embed(table, ids) * grad) has gradient d_table.
    ids = np.array([[0, 2, 2], [4, 2, 1]])
    grad = rng.normal(size=ids.shape + (d_model,))
    table = rng.normal(size=(vocab, d_model))
    analytic = array_result(_call(fn, grad, ids, vocab), "embed_backward")
    gradcheck(analytic, lambda t: float(np.sum(t[ids] * grad)), table, "the gradient")
    return checks + 1


embed_backward = Exercise(
    "ch02_embed_backward",
    "embed_backward",
    reference_embed_backward,
    _test_embed_backward,
    points=2,
    doc="Check exercise 2.2: the embedding backward pass (a scatter-add).",
)


# ----------------------------------------------------------------------------- exercise 2.3


def _sinusoid_variants(max_len: int, d_model: int) -> list[tuple[np.ndarray, str]]:
    """Usual wrong position tables, each with the hint that names its mistake."""
    pos = np.arange(max_len)[:, None]  # (max_len, 1)
    even = np.arange(0, d_model, 2)
    angles = pos / 10000.0 ** (even / d_model)  # (max_len, ceil(d_model / 2))
    half = d_model // 2

    def interleave(first: np.ndarray, second: np.ndarray) -> np.ndarray:
        table = np.zeros((max_len, d_model))
        table[:, 0::2] = first
        table[:, 1::2] = second[:, :half]
        return table

    per_column = pos / 10000.0 ** (np.arange(d_model) / d_model)
    from_one = (pos + 1) / 10000.0 ** (even / d_model)
    times = pos * 10000.0 ** (even / d_model)  # multiplied instead of divided
    return [
        (
            interleave(np.cos(angles), np.sin(angles)),
            "sin and cos are swapped: even columns (0, 2, 4, ...) hold sin, odd columns cos.",
        ),
        (
            interleave(np.sin(from_one), np.cos(from_one)),
            "positions start at 0, so row 0 is sin(0) = 0 and cos(0) = 1, alternating.",
        ),
        (
            np.concatenate([np.sin(angles), np.cos(angles[:, :half])], axis=1),
            "all the sines come first and all the cosines after: the two of a pair sit side by "
            "side, sin in column 2i and cos in column 2i + 1.",
        ),
        (
            np.where(np.arange(d_model) % 2 == 0, np.sin(per_column), np.cos(per_column)),
            "each sin/cos pair shares one frequency: columns 2i and 2i + 1 both use "
            "10000 ** (2i / d_model), not a frequency of their own.",
        ),
        (
            interleave(np.sin(times), np.cos(times)),
            "the angle is pos / 10000 ** (2i / d_model) (a division): the frequencies get slower "
            "from column to column, so later columns change slowly with the position.",
        ),
    ]


def _test_sinusoidal(fn: Callable[[int, int], np.ndarray]) -> int:
    checks = 0
    for max_len, d_model in ((12, 8), (50, 16), (6, 5)):
        result, raised = call_catching(fn, max_len, d_model)
        if raised is not None:
            expect(
                d_model % 2 == 0,
                f"sinusoidal_positions({max_len}, {d_model}) raised {raised}. With an odd "
                f"d_model there is one more sin column than cos columns ({(d_model + 1) // 2} "
                f"and {d_model // 2}): the last column is a lone sin, so give the cos columns "
                "only the first d_model // 2 angles.",
            )
            expect(False, f"sinusoidal_positions({max_len}, {d_model}) raised {raised}.")
        out = array_result(result, "sinusoidal_positions")
        expect_shape(
            out,
            (max_len, d_model),
            "sinusoidal_positions",
            "one row per position, one column per embedding dimension.",
        )
        expected = reference_sinusoidal_positions(max_len, d_model)
        if not close(out, expected):
            for wrong, hint in _sinusoid_variants(max_len, d_model):
                expect(not close(out, wrong), hint)
            expect(
                False,
                f"sinusoidal_positions({max_len}, {d_model}) is wrong: column 2i is "
                "sin(pos / 10000 ** (2i / d_model)) and column 2i + 1 the cos of the same angle, "
                f"for pos = 0 .. {max_len - 1}. Row 1 should start {np.round(expected[1, :4], 4)}.",
            )
        checks += 1
    return checks


sinusoidal_positions = Exercise(
    "ch02_sinusoidal_positions",
    "sinusoidal_positions",
    _library_positions,
    _test_sinusoidal,
    points=1,
    doc="Check exercise 2.3: the sinusoidal position table.",
)


# ----------------------------------------------------------------------------- exercise 2.4


def _test_cosine(fn: Callable[[np.ndarray, np.ndarray], np.ndarray]) -> int:
    rng = _rng(4)
    # Rows of very different lengths, so a plain dot product gives another answer.
    table = rng.normal(size=(6, 5)) * np.array([[0.1], [3.0], [1.0], [0.5], [7.0], [2.0]])
    query = rng.normal(size=5) * 4.0
    before = snapshot(table, query)
    out = array_result(_call(fn, table, query), "cosine_similarity")
    expect_unchanged("cosine_similarity", ("table", "query"), before, (table, query))
    expect(
        out.shape != (6, 6),
        "cosine_similarity returned shape (6, 6), expected (6,): the row lengths were kept as a "
        "column (keepdims=True, shape (n, 1)), which broadcasts against the (n,) dot products. "
        "Divide by np.linalg.norm(table, axis=1), shape (n,).",
    )
    expect_shape(out, (6,), "cosine_similarity", "one similarity per row of the table.")
    expected = reference_cosine_similarity(table, query)
    expect(
        not close(out, table @ query),
        "that is the plain dot product: divide by the length of each row and the length of the "
        "query (np.linalg.norm), so only the direction counts.",
    )
    expect(
        not close(out, table @ query / np.linalg.norm(query)),
        "you divided by the query's length but not by each row's (np.linalg.norm(table, axis=1)).",
    )
    expect(
        not close(out, table @ query / np.linalg.norm(table, axis=1)),
        "you divided by each row's length but not by the query's.",
    )
    expect(
        not any(
            close(out, table @ query / np.linalg.norm(table) / scale)
            for scale in (1.0, np.linalg.norm(query))
        ),
        "np.linalg.norm(table) is the length of the whole table; each row needs its own length: "
        "np.linalg.norm(table, axis=1).",
    )
    expect(
        close(out, expected),
        "cosine_similarity is wrong: it is (row . query) / (|row| |query|) for every row, a "
        "number between -1 and 1.",
    )
    same = array_result(_call(fn, table, table[1] * 5.0), "cosine_similarity")
    expect(
        same.shape == (6,) and abs(same[1] - 1.0) < 1e-9,
        "a row and a longer copy of it point the same way, so their cosine must be exactly 1.",
    )
    return 6


cosine_similarity = Exercise(
    "ch02_cosine_similarity",
    "cosine_similarity",
    reference_cosine_similarity,
    _test_cosine,
    points=1,
    doc="Check exercise 2.4: cosine similarity of each row with a query vector.",
)


# ----------------------------------------------------------------------------- exercise 2.5


# Row 0 is the first query. Row 1 points its way but is short, row 2 is long and at an angle:
# cosine ranks 1 before 2, a dot product 2 before 1, a Euclidean distance puts row 4 second. No
# two rows are equally similar to row 0 or to row 4, so exactly one order is right.
_NEIGHBOUR_TABLE = np.array(
    [
        [1.0, 0.0, 0.0],
        [0.2, 0.01, 0.0],
        [6.0, 5.0, 0.0],
        [-1.0, -0.3, 0.1],
        [0.1, 1.0, 0.05],
        [0.5, 0.15, 0.6],
    ]
)


def _ranked_by(table: np.ndarray, token_id: int, score: np.ndarray) -> list[int]:
    """Every other id, highest `score` first."""
    return [int(i) for i in np.argsort(-score, kind="stable") if i != token_id]


def _test_nearest(fn: Callable[[np.ndarray, int, int], list[int]]) -> int:
    table = _NEIGHBOUR_TABLE.copy()
    checks = 0
    for token_id, k in ((0, 3), (4, 5), (2, 2)):
        call = f"nearest_neighbours(table, {token_id}, {k})"
        before = snapshot(table)
        got = ids_result(_call(fn, table, token_id, k), "nearest_neighbours")
        expect_unchanged("nearest_neighbours", ("table",), before, (table,))
        similarity = reference_cosine_similarity(table, table[token_id])
        expected = reference_nearest_neighbours(table, token_id, k)
        expect(
            token_id not in got,
            f"{call} gave {got}: the token itself is in its own neighbour list. Its similarity "
            "to itself is always 1, so leave it out.",
        )
        expect(len(got) == k, f"{call} gave {len(got)} ids {got}, expected k = {k}.")
        expect(
            all(0 <= i < len(table) for i in got),
            f"{call} gave {got}: the ids are row numbers of the table, 0 .. {len(table) - 1}.",
        )
        if got == expected:
            checks += 1
            continue
        ascending = _ranked_by(table, token_id, -similarity)
        expect(
            got not in (ascending[:k], list(reversed(expected))),
            f"{call} gave {got}: the order is backwards - np.argsort sorts from least to most "
            "similar; the most similar should come first (sort by -similarity, or reverse).",
        )
        expect(
            got != _ranked_by(table, token_id, table @ table[token_id])[:k],
            f"{call} gave {got}: that ranks by the dot product, which favours long rows; "
            "cosine similarity ignores length. Use your cosine_similarity.",
        )
        distance = np.linalg.norm(table - table[token_id], axis=1)
        expect(
            got != _ranked_by(table, token_id, -distance)[:k],
            f"{call} gave {got}: that ranks by Euclidean distance; the neighbours here are the "
            "rows with the largest cosine similarity.",
        )
        expect(False, f"{call} gave {got}, expected {expected} (most similar first).")
    return checks


nearest_neighbours = Exercise(
    "ch02_nearest_neighbours",
    "nearest_neighbours",
    reference_nearest_neighbours,
    _test_nearest,
    points=1,
    doc="Check exercise 2.5: the k nearest neighbours of a token by cosine similarity.",
)
