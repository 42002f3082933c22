"""Chapter 06's checks: right answers pass, each usual mistake fails with its own hint, and an
unsolved exercise hands back `course_lib.dna`'s version.

Oracle: the hints are matched by a phrase only that mistake's hint contains; the right answers
are written here independently of `course_lib.dna` (collections.Counter, plain loops).
"""

from __future__ import annotations

import itertools
from collections import Counter

import numpy as np
import pytest

from course_lib.checks import CheckFailed, ch06

# ----------------------------------------------------------------------------- right answers


def _columns(k):
    return ["".join(p) for p in itertools.product("ACGT", repeat=k)]


def good_kmer_counts(sequences, k, overlapping=True):
    step = 1 if overlapping else k
    rows = []
    for s in sequences:
        seen = Counter(s[i : i + k] for i in range(0, len(s) - k + 1, step))
        rows.append([seen[c] for c in _columns(k)])
    return np.array(rows, dtype=float).reshape(len(sequences), 4**k)


def good_cosine_top_k(matrix, query, k=5, centre=True):
    m = matrix - matrix.mean(axis=0) if centre else matrix
    scores = [float(m[i] @ m[query] / np.linalg.norm(m[i]) / np.linalg.norm(m[query])) for i in
              range(len(m))]  # fmt: skip
    order = sorted((i for i in range(len(m)) if i != query), key=lambda i: -scores[i])[:k]
    return np.array(order), np.array([scores[i] for i in order])


def unsolved(*args, **kwargs):
    raise NotImplementedError()


# ----------------------------------------------------------------------------- pass / not done


# ----------------------------------------------------------------------------- 6.1 kmer counts


def test_kmer_counts_ignoring_overlapping_false_fails():
    with pytest.raises(CheckFailed, match="you counted a window at every base"):
        ch06.kmer_counts(lambda seqs, k, overlapping=True: good_kmer_counts(seqs, k, True))


def test_kmer_counts_ignoring_overlapping_true_fails():
    with pytest.raises(CheckFailed, match="a window starts at every base .* you stepped by k"):
        ch06.kmer_counts(lambda seqs, k, overlapping=True: good_kmer_counts(seqs, k, False))


def test_kmer_counts_dropping_the_last_kmer_fails():
    def off_by_one(sequences, k, overlapping=True):
        step = 1 if overlapping else k
        columns = {c: j for j, c in enumerate(_columns(k))}
        counts = np.zeros((len(sequences), 4**k))
        for row, s in enumerate(sequences):
            for i in range(0, len(s) - k, step):  # misses the window starting at len(s) - k
                counts[row, columns[s[i : i + k]]] += 1
        return counts

    with pytest.raises(CheckFailed, match="off by one: the last k-mer is missing"):
        ch06.kmer_counts(off_by_one)


def test_kmer_counts_with_str_count_fails():
    def by_str_count(sequences, k, overlapping=True):
        return np.array([[s.count(c) for c in _columns(k)] for s in sequences], dtype=float)

    with pytest.raises(CheckFailed, match="str.count finds non-overlapping matches"):
        ch06.kmer_counts(by_str_count)


def test_kmer_counts_only_for_kmers_that_occur_fails_on_shape():
    def seen_only(sequences, k, overlapping=True):
        found = sorted({s[i : i + k] for s in sequences for i in range(len(s) - k + 1)})
        return np.array([[s.count(c) for c in found] for s in sequences], dtype=float)

    with pytest.raises(CheckFailed, match="every one of the 4\\*\\*k"):
        ch06.kmer_counts(seen_only)


def test_kmer_counts_transposed_fails():
    with pytest.raises(CheckFailed, match="that is transposed"):
        ch06.kmer_counts(lambda seqs, k, overlapping=True: good_kmer_counts(seqs, k, overlapping).T)


def test_kmer_counts_in_another_column_order_fails():
    def reversed_columns(sequences, k, overlapping=True):
        return good_kmer_counts(sequences, k, overlapping)[:, ::-1]

    with pytest.raises(CheckFailed, match="right numbers in the wrong columns"):
        ch06.kmer_counts(reversed_columns)


def test_kmer_counts_as_frequencies_fails():
    def frequencies(sequences, k, overlapping=True):
        counts = good_kmer_counts(sequences, k, overlapping)
        return counts / np.maximum(counts.sum(axis=1, keepdims=True), 1)

    with pytest.raises(CheckFailed, match="gave frequencies"):
        ch06.kmer_counts(frequencies)


def test_kmer_counts_returning_none_fails():
    with pytest.raises(CheckFailed, match="forget the `return`"):
        ch06.kmer_counts(lambda seqs, k, overlapping=True: None)


# ----------------------------------------------------------------------------- 6.2 mean pool


def test_mean_pool_over_padding_fails():
    with pytest.raises(CheckFailed, match="averages over the padding too"):
        ch06.mean_pool(lambda hidden, mask: hidden.mean(axis=1))


def test_mean_pool_dividing_by_t_fails():
    def by_t(hidden, mask):
        return (hidden * mask[:, :, None]).sum(axis=1) / hidden.shape[1]

    with pytest.raises(CheckFailed, match="divided by T"):
        ch06.mean_pool(by_t)


def test_mean_pool_summing_the_padding_fails():
    def padded_sum(hidden, mask):
        return hidden.sum(axis=1) / mask.sum(axis=1, keepdims=True)

    with pytest.raises(CheckFailed, match="the sum still includes the padded positions"):
        ch06.mean_pool(padded_sum)


@pytest.mark.parametrize("axis", [0, -1])
def test_mean_pool_over_the_wrong_axis_fails(axis):
    def wrong_axis(hidden, mask):
        return hidden.mean(axis=axis)

    with pytest.raises(CheckFailed, match="average over the time axis"):
        ch06.mean_pool(wrong_axis)


def test_mean_pool_without_a_trailing_mask_axis_explains_broadcasting():
    def no_axis(hidden, mask):
        return (hidden * mask).sum(axis=1) / mask.sum(axis=1, keepdims=True)

    with pytest.raises(CheckFailed, match=r"mask\[:, :, None\]"):
        ch06.mean_pool(no_axis)


def test_mean_pool_that_zeroes_the_padding_in_place_fails():
    def in_place(hidden, mask):
        hidden[~mask] = 0.0
        return hidden.sum(axis=1) / mask.sum(axis=1, keepdims=True)

    with pytest.raises(CheckFailed, match="changed `hidden` in place"):
        ch06.mean_pool(in_place)


# ----------------------------------------------------------------------------- 6.3 cosine top k


def test_cosine_top_k_returning_the_query_fails():
    def with_query(matrix, query, k=5, centre=True):
        m = matrix - matrix.mean(axis=0) if centre else matrix
        unit = m / np.linalg.norm(m, axis=1, keepdims=True)
        scores = unit @ unit[query]
        order = np.argsort(-scores)[:k]
        return order, scores[order]

    with pytest.raises(CheckFailed, match="returned the query itself"):
        ch06.cosine_top_k(with_query)


def test_cosine_top_k_without_normalising_fails():
    def dot(matrix, query, k=5, centre=True):
        m = matrix - matrix.mean(axis=0) if centre else matrix
        scores = m @ m[query]
        scores[query] = -np.inf
        order = np.argsort(-scores)[:k]
        return order, scores[order]

    with pytest.raises(CheckFailed, match="ranks by the dot product"):
        ch06.cosine_top_k(dot)


def test_cosine_top_k_without_centring_fails():
    with pytest.raises(CheckFailed, match="the rows were not centred"):
        ch06.cosine_top_k(
            lambda matrix, query, k=5, centre=True: good_cosine_top_k(matrix, query, k, False)
        )


def test_cosine_top_k_centring_each_row_fails():
    def row_centred(matrix, query, k=5, centre=True):
        m = matrix - matrix.mean(axis=1, keepdims=True) if centre else matrix
        return good_cosine_top_k(m, query, k, centre=False)

    with pytest.raises(CheckFailed, match="each row's own mean"):
        ch06.cosine_top_k(row_centred)


def test_cosine_top_k_in_ascending_order_fails():
    def ascending(matrix, query, k=5, centre=True):
        order, _ = good_cosine_top_k(matrix, query, len(matrix) - 1, centre)
        order = order[::-1][:k]
        _, sims = good_cosine_top_k(matrix, query, len(matrix) - 1, centre)
        return order, sims[::-1][:k]

    with pytest.raises(CheckFailed, match="the order is backwards"):
        ch06.cosine_top_k(ascending)


def test_cosine_top_k_that_always_centres_fails_with_centre_false():
    with pytest.raises(CheckFailed, match="centre=False"):
        ch06.cosine_top_k(
            lambda matrix, query, k=5, centre=True: good_cosine_top_k(matrix, query, k, True)
        )


def test_cosine_top_k_returning_only_indices_fails():
    with pytest.raises(CheckFailed, match=r"two arrays, \(indices, similarities\)"):
        ch06.cosine_top_k(lambda matrix, query, k=5, centre=True: good_cosine_top_k(
            matrix, query, k, centre)[0])  # fmt: skip


def test_cosine_top_k_with_uncentred_similarities_fails():
    def wrong_scores(matrix, query, k=5, centre=True):
        order, _ = good_cosine_top_k(matrix, query, k, centre)
        _, sims = good_cosine_top_k(matrix, query, len(matrix) - 1, False)
        return order, sims[:k]

    with pytest.raises(CheckFailed, match="found the right rows, but the similarities"):
        ch06.cosine_top_k(wrong_scores)


def test_cosine_top_k_returning_too_few_fails():
    def too_few(matrix, query, k=5, centre=True):
        order, sims = good_cosine_top_k(matrix, query, k, centre)
        return order[:-1], sims[:-1]

    with pytest.raises(CheckFailed, match="expected 4"):
        ch06.cosine_top_k(too_few)
