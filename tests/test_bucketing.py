"""Length bucketing: every sequence once per epoch, seeded order, far less padding.

Oracle: `course_lib.batching.make_batches`, which pads the same sequences in random order.
"""

from __future__ import annotations

import numpy as np
import pytest

from course_lib.batching import bucketed_batches, make_batches, padding_fraction, run_epochs


def sequences(count: int = 78, seed: int = 0) -> list[list[int]]:
    rng = np.random.default_rng(seed)
    return [list(rng.integers(3, 50, size=n)) + [1] for n in rng.integers(6, 30, size=count)]


def rows(batches: list) -> list[tuple[int, ...]]:
    """Each real row of the batches as its full id sequence (inputs plus the last target)."""
    out = []
    for inputs, targets, mask in batches:
        for x, y, m in zip(inputs, targets, mask, strict=True):
            out.append((*x[m].tolist(), int(y[m][-1])))
    return out


def test_every_sequence_appears_once_per_epoch() -> None:
    data = sequences()
    got = rows(list(bucketed_batches(data, 16, rng=3)))
    assert sorted(got) == sorted(tuple(s) for s in data)


def test_the_same_seed_gives_the_same_batches() -> None:
    data = sequences()
    first, second = (list(bucketed_batches(data, 16, rng=7)) for _ in range(2))
    for a, b in zip(first, second, strict=True):
        for x, y in zip(a, b, strict=True):
            np.testing.assert_array_equal(x, y)


def test_bucketing_pads_far_less_than_random_batches() -> None:
    data = sequences(400)
    plain = padding_fraction(list(make_batches(data, 16, rng=0)))
    bucketed = padding_fraction(list(bucketed_batches(data, 16, rng=0)))
    assert bucketed < plain / 2, (plain, bucketed)


def test_batch_size_and_pool_must_be_positive_ints() -> None:
    with pytest.raises(ValueError, match="batch_size"):
        next(bucketed_batches(sequences(), 0))
    with pytest.raises(ValueError, match="pool"):
        next(bucketed_batches(sequences(), 4, pool=0))


def test_training_with_buckets_sees_every_sequence_once_per_epoch() -> None:
    data = sequences()
    seen: list[list[tuple[int, ...]]] = []

    def step(inputs: np.ndarray, targets: np.ndarray, mask: np.ndarray) -> float:
        seen[-1] += rows([(inputs, targets, mask)])
        return 1.0

    def epoch_loss(losses: list[float]) -> float:
        seen.append([])
        return float(np.mean(losses))

    seen.append([])
    run_epochs(data, step, epoch_loss, epochs=3, batch_size=16, pad_id=0, shuffle=True, seed=2,
               progress=False, desc="t", print_every=0, callback=None, buckets=True)  # fmt: skip
    epochs = seen[:3]
    assert all(sorted(epoch) == sorted(tuple(s) for s in data) for epoch in epochs)
    assert epochs[0] != epochs[1]  # a fresh order every epoch


def test_buckets_without_shuffling_is_refused() -> None:
    with pytest.raises(ValueError, match="buckets=True .* needs shuffle=True"):
        run_epochs(sequences(), lambda *a: 1.0, np.mean, epochs=1, batch_size=4, pad_id=0,
                   shuffle=False, seed=0, progress=False, desc="t", print_every=0, callback=None,
                   buckets=True)  # fmt: skip
