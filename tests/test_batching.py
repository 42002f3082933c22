"""course_lib.batching: targets are inputs shifted by one, padding is pad_id and masked, shuffling
is seeded."""

import numpy as np
import pytest

from course_lib.batching import make_batches, pad_batch


def test_targets_are_inputs_shifted_by_one_and_padding_is_masked() -> None:
    inputs, targets, mask = pad_batch([[5, 6, 7, 1], [8, 1]], pad_id=0)
    np.testing.assert_array_equal(inputs, [[5, 6, 7], [8, 0, 0]])
    np.testing.assert_array_equal(targets, [[6, 7, 1], [1, 0, 0]])
    np.testing.assert_array_equal(mask, [[True, True, True], [True, False, False]])


def test_every_sequence_appears_once_per_epoch() -> None:
    seqs = [[i, i + 1, 1] for i in range(3, 13)]
    batches = list(make_batches(seqs, 3, rng=0))
    assert [b[0].shape[0] for b in batches] == [3, 3, 3, 1]
    firsts = sorted(int(x) for b in batches for x in b[0][:, 0])
    assert firsts == list(range(3, 13))


def test_same_seed_same_order_other_seed_other_order() -> None:
    seqs = [[i, 1] for i in range(3, 23)]

    def order(seed: int) -> list[int]:
        return [int(b[0][0, 0]) for b in make_batches(seqs, 1, rng=seed)]

    assert order(4) == order(4)
    assert order(4) != order(5)
    assert [int(b[0][0, 0]) for b in make_batches(seqs, 1, shuffle=False)] == list(range(3, 23))


def test_bad_batch_size_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match="batch_size"):
        list(make_batches([[1, 2]], 0))
