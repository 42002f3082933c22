"""What every exercise's check promises, whatever the chapter: a right answer passes and is
handed back, an unsolved exercise hands back the reference with "not done yet", a wrong answer
raises `CheckFailed` and the chapter goes on with the reference, the reference passes its own
check, and the notebook's points match the check's.

Oracle: the answers of `tests/check_corpus/` (the first valid solution and the first planted
mistake of each exercise) and the nbgrader metadata of `solutions/*.py`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from _grading_helpers import PRELUDE
from check_corpus import CHAPTERS, Answers, corpus, exercises

from course_lib import checks
from course_lib.checks import CheckFailed, Exercise
from course_lib.grading.chapter import load_chapter

ROOT = Path(__file__).resolve().parents[1]
EXERCISES = exercises()
CORPUS = corpus()
IDS = sorted(EXERCISES)


def _defined(exercise: Exercise, source: str) -> Any:
    namespace: dict[str, Any] = {}
    exec(compile(PRELUDE + source, f"<{exercise.name}>", "exec"), namespace)
    return namespace[exercise.name]


def _first(answers: Answers, kind: str) -> str:
    if kind == "valid":
        return next(iter(answers.valid.values()))
    return next(iter(answers.mistakes.values())).source


def unsolved(*args: Any, **kwargs: Any) -> Any:
    raise NotImplementedError()


@pytest.mark.parametrize("grade_id", IDS)
def test_right_answer_passes_and_is_handed_back(grade_id, capsys):
    exercise = EXERCISES[grade_id]
    answer = _defined(exercise, _first(CORPUS[grade_id], "valid"))
    assert exercise(answer) is answer
    assert f"✓ {grade_id}" in capsys.readouterr().out
    result = {r.exercise: r for r in checks.results()}[grade_id]
    assert (result.status, result.points) == ("pass", exercise.points)


@pytest.mark.parametrize("grade_id", IDS)
def test_unsolved_exercise_hands_back_the_reference_saying_not_done_yet(grade_id, capsys):
    exercise = EXERCISES[grade_id]
    assert exercise(unsolved) is exercise.reference
    assert "not done yet" in capsys.readouterr().out
    result = {r.exercise: r for r in checks.results()}[grade_id]
    assert (result.status, result.points) == ("not done", 0.0)


@pytest.mark.parametrize("grade_id", IDS)
def test_wrong_answer_fails_with_a_hint_and_names_the_reference_the_chapter_goes_on_with(grade_id):
    exercise = EXERCISES[grade_id]
    wrong = _defined(exercise, _first(CORPUS[grade_id], "mistake"))
    with pytest.raises(CheckFailed, match=f"^{grade_id}") as failure:
        exercise(wrong)
    assert exercise.reference_name in str(failure.value)
    assert {r.exercise: r.status for r in checks.results()}[grade_id] == "fail"


@pytest.mark.parametrize("grade_id", IDS)
def test_reference_passes_its_own_check(grade_id):
    exercise = EXERCISES[grade_id]
    outcome = exercise.run(exercise.reference)
    assert outcome.status == "pass", outcome.message
    assert outcome.points == exercise.points


def test_notebook_points_are_the_checks_points():
    for chapter in CHAPTERS:
        for graded in load_chapter(ROOT / "solutions", chapter).graded:
            assert graded.points == EXERCISES[graded.grade_id].points, graded.grade_id


@pytest.mark.parametrize("grade_id", IDS)
def test_every_exercise_survives_pickle_as_the_grader_sends_it_to_its_workers(grade_id):
    # Oracle: the check itself, unpickled, gives the reference the same verdict.
    import pickle

    exercise = EXERCISES[grade_id]
    copy = pickle.loads(pickle.dumps(exercise))
    assert copy.run(exercise.reference).status == "pass"
