"""Chapter 02's checks: right answers pass, each usual mistake fails with its own hint, and an
unsolved exercise hands back the reference.

Oracle: the hints are matched by a phrase only that mistake's hint contains; the right answers
are written here independently of the references in `course_lib.checks.ch02`.
"""

from __future__ import annotations

import numpy as np
import pytest

from course_lib.checks import CheckFailed, ch02

# ----------------------------------------------------------------------------- right answers


def good_embed_backward(grad, ids, vocab_size):
    d_table = np.zeros((vocab_size, grad.shape[-1]))
    np.add.at(d_table, ids, grad)
    return d_table


def good_sinusoidal(max_len, d_model):
    table = np.zeros((max_len, d_model))
    for pos in range(max_len):
        for i in range(0, d_model, 2):
            angle = pos / 10000 ** (i / d_model)
            table[pos, i] = np.sin(angle)
            if i + 1 < d_model:
                table[pos, i + 1] = np.cos(angle)
    return table


def good_cosine(table, query):
    return table @ query / (np.linalg.norm(table, axis=1) * np.linalg.norm(query))


def good_nearest(table, token_id, k=5):
    sims = good_cosine(table, table[token_id])
    order = [int(i) for i in np.argsort(-sims) if i != token_id]
    return order[:k]


def unsolved(*args, **kwargs):
    raise NotImplementedError()


# ----------------------------------------------------------------------------- passing


def test_one_hot_product_is_accepted_as_the_lookup():
    def one_hot_embed(table, ids):
        return np.eye(len(table))[ids] @ table

    assert ch02.embed(one_hot_embed) is one_hot_embed


# ----------------------------------------------------------------------------- not done


# ----------------------------------------------------------------------------- 2.1 embed


def test_embed_with_wrong_shape_says_what_shape():
    with pytest.raises(CheckFailed, match=r"ids.shape \+ \(d_model,\)"):
        ch02.embed(lambda table, ids: table[np.asarray(ids).reshape(-1)])


def test_embed_that_picks_wrong_rows_fails():
    with pytest.raises(CheckFailed, match="its own row"):
        ch02.embed(lambda table, ids: table[(np.asarray(ids) + 1) % len(table)])


def test_embed_that_writes_into_the_table_fails():
    def embed_in_place(table, ids):
        out = table[ids]
        table *= 1.0001
        return out

    with pytest.raises(CheckFailed, match="changed its argument `table` in place"):
        ch02.embed(embed_in_place)


def test_embed_crash_is_reported_with_the_call():
    with pytest.raises(CheckFailed, match="raised IndexError"):
        ch02.embed(lambda table, ids: table[:, ids])


# ----------------------------------------------------------------------------- 2.2 backward


def test_embed_backward_with_fancy_index_add_loses_repeated_ids():
    def lossy(grad, ids, vocab_size):
        d_table = np.zeros((vocab_size, grad.shape[-1]))
        d_table[ids] += grad  # the trap: a repeated id keeps only one row
        return d_table

    with pytest.raises(CheckFailed, match="repeated ids .* some gradient is lost"):
        ch02.embed_backward(lossy)


def test_embed_backward_with_plain_assignment_loses_repeated_ids():
    def assigned(grad, ids, vocab_size):
        d_table = np.zeros((vocab_size, grad.shape[-1]))
        d_table[ids] = grad
        return d_table

    with pytest.raises(CheckFailed, match="np.add.at"):
        ch02.embed_backward(assigned)


def test_embed_backward_of_wrong_shape_fails():
    with pytest.raises(CheckFailed, match="one row per vocabulary entry"):
        ch02.embed_backward(lambda grad, ids, vocab_size: grad)


def test_embed_backward_with_wrong_values_fails():
    with pytest.raises(CheckFailed, match="must be the sum of the rows"):
        ch02.embed_backward(
            lambda grad, ids, vocab_size: 2 * good_embed_backward(grad, ids, vocab_size)
        )


# ----------------------------------------------------------------------------- 2.3 positions


def _sinusoid(max_len, d_model, first, second, start=0, pair=True, halves=False):
    pos = np.arange(start, start + max_len)[:, None]
    cols = np.arange(d_model)
    exponent = (cols - cols % 2) if pair else cols
    angles = pos / 10000.0 ** (exponent / d_model)
    if halves:
        half = (d_model + 1) // 2
        freq = pos / 10000.0 ** (np.arange(0, d_model, 2) / d_model)
        return np.concatenate([first(freq[:, :half]), second(freq[:, : d_model - half])], axis=1)
    return np.where(cols % 2 == 0, first(angles), second(angles))


def test_good_sinusoid_helper_matches_the_right_answer():
    # The helper below builds the wrong tables; with the right settings it must give the right one.
    assert np.allclose(_sinusoid(9, 7, np.sin, np.cos), good_sinusoidal(9, 7))


def test_sinusoidal_with_sin_and_cos_swapped_fails():
    with pytest.raises(CheckFailed, match="sin and cos are swapped"):
        ch02.sinusoidal_positions(lambda n, d: _sinusoid(n, d, np.cos, np.sin))


def test_sinusoidal_starting_at_position_one_fails():
    with pytest.raises(CheckFailed, match="positions start at 0"):
        ch02.sinusoidal_positions(lambda n, d: _sinusoid(n, d, np.sin, np.cos, start=1))


def test_sinusoidal_with_a_frequency_per_column_fails():
    with pytest.raises(CheckFailed, match="each sin/cos pair shares one frequency"):
        ch02.sinusoidal_positions(lambda n, d: _sinusoid(n, d, np.sin, np.cos, pair=False))


def test_sinusoidal_with_sines_then_cosines_fails():
    with pytest.raises(CheckFailed, match="all the sines come first"):
        ch02.sinusoidal_positions(lambda n, d: _sinusoid(n, d, np.sin, np.cos, halves=True))


def test_sinusoidal_with_wrong_shape_fails():
    with pytest.raises(CheckFailed, match="one row per position"):
        ch02.sinusoidal_positions(lambda n, d: good_sinusoidal(n, d).T)


# ----------------------------------------------------------------------------- 2.4 cosine


def test_cosine_as_plain_dot_product_fails():
    with pytest.raises(CheckFailed, match="plain dot product"):
        ch02.cosine_similarity(lambda table, query: table @ query)


def test_cosine_dividing_by_the_whole_table_norm_fails():
    with pytest.raises(CheckFailed, match="length of the whole table"):
        ch02.cosine_similarity(
            lambda table, query: table @ query / (np.linalg.norm(table) * np.linalg.norm(query))
        )


def test_cosine_missing_the_row_norms_fails():
    with pytest.raises(CheckFailed, match="not by each row's"):
        ch02.cosine_similarity(lambda table, query: table @ query / np.linalg.norm(query))


# ----------------------------------------------------------------------------- 2.5 nearest


def test_nearest_including_the_token_itself_fails():
    def with_itself(table, token_id, k=5):
        return [int(i) for i in np.argsort(-good_cosine(table, table[token_id]))[:k]]

    with pytest.raises(CheckFailed, match="the token itself is in its own neighbour list"):
        ch02.nearest_neighbours(with_itself)


def test_nearest_in_ascending_order_fails():
    def ascending(table, token_id, k=5):
        order = [int(i) for i in np.argsort(good_cosine(table, table[token_id])) if i != token_id]
        return order[:k]

    with pytest.raises(CheckFailed, match="the order is backwards"):
        ch02.nearest_neighbours(ascending)


def test_nearest_by_dot_product_fails():
    def by_dot(table, token_id, k=5):
        order = [int(i) for i in np.argsort(-(table @ table[token_id])) if i != token_id]
        return order[:k]

    with pytest.raises(CheckFailed, match="cosine similarity ignores length"):
        ch02.nearest_neighbours(by_dot)


def test_nearest_returning_too_few_fails():
    with pytest.raises(CheckFailed, match="expected k = 3"):
        ch02.nearest_neighbours(lambda table, token_id, k=5: good_nearest(table, token_id, k)[:-1])


def test_neighbour_table_has_no_ties_so_one_order_is_right():
    # Oracle: the cosine similarities themselves. With two rows equally similar to a query,
    # np.argsort(s)[::-1] and np.argsort(-s) give different orders and both would be right.
    table = ch02._NEIGHBOUR_TABLE
    for token_id in range(len(table)):
        similarity = ch02.reference_cosine_similarity(table, table[token_id])
        others = np.delete(similarity, token_id)
        assert np.min(np.diff(np.sort(others))) > 1e-3, token_id


def test_nearest_returned_as_an_array_passes():
    def as_array(table, token_id, k=5):
        s = (
            table
            @ table[token_id]
            / np.linalg.norm(table, axis=1)
            / np.linalg.norm(table[token_id])
        )
        order = np.argsort(s)[::-1]
        return order[order != token_id][:k]

    assert ch02.nearest_neighbours(as_array) is as_array
