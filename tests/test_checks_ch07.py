"""course_lib.checks.ch07 and the wire's dicts keyed by pairs.

Oracles: the library's own functions (`course_lib.bpe`) must pass every check; an unsolved
exercise hands back the reference; a dict keyed by pairs of ids survives the wire unchanged and a
key the wire cannot rebuild is refused. The planted mistakes, each with its hint, are in
`tests/check_corpus/ch07.py`.
"""

from __future__ import annotations

from collections import Counter

import pytest

from course_lib.checks import Exercise, wire
from course_lib.checks import ch07 as check

EXERCISES = [value for value in vars(check).values() if isinstance(value, Exercise)]


@pytest.mark.parametrize("exercise", EXERCISES, ids=[e.grade_id for e in EXERCISES])
def test_the_reference_passes_its_own_check(exercise: Exercise) -> None:
    outcome = exercise.run(exercise.reference)
    assert outcome.status == "pass", outcome.message
    assert outcome.points == exercise.points == 2


@pytest.mark.parametrize("exercise", EXERCISES, ids=[e.grade_id for e in EXERCISES])
def test_an_unsolved_exercise_goes_on_with_the_reference(exercise: Exercise) -> None:
    def unsolved(*args, **kwargs):
        raise NotImplementedError()

    assert exercise(unsolved) is exercise.reference


def test_a_dict_keyed_by_pairs_crosses_the_wire_unchanged() -> None:
    counts = Counter([(100, 101), (100, 101), (101, 102)])
    back = wire.roundtrip(counts)
    assert type(back) is dict and back == {(100, 101): 2, (101, 102): 1}
    assert all(type(key) is tuple for key in back)


@pytest.mark.parametrize("key", [(1, (2, 3)), (True, 1), 1.5], ids=["nested", "bool", "float"])
def test_a_key_the_wire_cannot_rebuild_is_refused(key: object) -> None:
    with pytest.raises(wire.WireError, match="has a key of type"):
        wire.roundtrip({key: 1})


def test_hostile_wire_data_with_a_list_as_key_is_refused() -> None:
    data = {"id": 0, "dict": [[{"id": 1, "list": [1, 2]}, 3]]}
    with pytest.raises(wire.WireError, match="dict key of type list"):
        wire.decode(data)


def test_the_check_of_learn_merges_accepts_any_most_frequent_pair_on_ties() -> None:
    a, b, c, d = check.A, check.B, check.C, check.D
    tie = [[a, b], [c, d], [a, b], [c, d]]
    assert check.reference_learn_merges(tie, 2) == [(a, b), (c, d)]

    def larger_first(sequences, n_merges):
        if sequences == tie:
            return [(c, d), (a, b)][:n_merges]
        return check.reference_learn_merges(sequences, n_merges)

    assert check.learn_merges.run(larger_first).status == "pass"
