"""Every check against a corpus of learners' answers (`tests/check_corpus/`): each valid solution
passes, each planted mistake fails with its own hint, and the learner's local outcome equals the
grade - the same check through the grader's remote path, plus the hidden tests the grader adds,
which every answer that passes the check must pass (in this process and through the grader, with
the chapter's earlier exercises bound to their references, as in grading).

Oracle: the corpus itself. Each mistake carries a phrase that only the hint for that mistake
contains; each valid solution is written independently of the checks' references.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
from _grading_helpers import PRELUDE, Grader, in_process
from check_corpus import CHAPTERS, corpus, exercises

from course_lib.grading.chapter import Graded, load_chapter
from course_lib.grading.remote import RemoteFunction
from course_lib.grading.runner import _tests_pass

ROOT = Path(__file__).resolve().parents[1]
EXERCISES = exercises()
CORPUS = corpus()

VALID = [(gid, name) for gid, answers in CORPUS.items() for name in answers.valid]
MISTAKES = [(gid, name) for gid, answers in CORPUS.items() for name in answers.mistakes]
ANSWERS = [(gid, "valid", name) for gid, name in VALID] + [
    (gid, "mistake", name) for gid, name in MISTAKES
]


def _graded_by_chapter() -> dict[str, tuple[Graded, ...]]:
    """Every grade id -> the graded exercises of its chapter, in the chapter's order."""
    found = {}
    for chapter in CHAPTERS:
        graded = load_chapter(ROOT / "solutions", chapter).graded
        found.update({g.grade_id: graded for g in graded})
    return found


CHAPTER_OF = _graded_by_chapter()
HIDDEN = {g.grade_id: g.hidden for graded in CHAPTER_OF.values() for g in graded}

# Outcomes whose hint text differs between the notebook and the grader, though status and points
# agree. Each is a defect outside the checks; the test fails once the texts agree, so that the
# entry is removed.
KNOWN_MESSAGE_DIFFERENCES: dict[tuple[str, str], str] = {}


@pytest.fixture(scope="module")
def grader():
    grader = Grader()
    yield grader
    grader.close()


def _source(grade_id: str, kind: str, name: str) -> str:
    answers = CORPUS[grade_id]
    return answers.valid[name] if kind == "valid" else answers.mistakes[name].source


def _before(grade_id: str) -> list[Graded]:
    """The exercises of the chapter checked before `grade_id`: bound when its check runs, to
    the learner's function or, as here, to the reference."""
    chapter = CHAPTER_OF[grade_id]
    return list(chapter[: [g.grade_id for g in chapter].index(grade_id)])


def _hidden_in_the_notebook(grade_id: str, source: str) -> str:
    """'' when the hidden tests pass on `source` in this process, else what failed. They see
    what the grader's hidden tests see: NumPy and the chapter's exercises, the earlier ones bound
    to their references, then whatever the answer cell defines."""
    namespace: dict[str, Any] = {g.name: g.exercise.reference for g in _before(grade_id)}
    exec(compile(PRELUDE + source, f"<{grade_id}>", "exec"), namespace)
    names = {g.name: namespace[g.name] for g in CHAPTER_OF[grade_id] if g.name in namespace}
    code = compile(HIDDEN[grade_id], f"<hidden tests of {grade_id}>", "exec")
    try:
        exec(code, {"np": np, "numpy": np, **names})
    except Exception as error:
        return f"{type(error).__name__}: {error}"
    return ""


def _hidden_in_grading(grader: Grader, grade_id: str, source: str) -> str:
    """'' when the hidden tests pass on `source` as the grader runs them, else the grader's
    hint: run in this process, calling every exercise of the chapter in the kernel, where the
    earlier ones are bound to their references and the later ones are not defined yet."""
    chapter = CHAPTER_OF[grade_id]
    earlier = {g.grade_id for g in _before(grade_id)}
    state = [
        f"import {g.check_module} as _check\n{g.name} = _check.{g.check_attr}.reference\n"
        if g.grade_id in earlier
        else f"globals().pop({g.name!r}, None)\n"
        for g in chapter
    ]
    assert grader.run("".join(state) + "del _check\n" * bool(earlier)).status == "ok"
    grader.run(PRELUDE + source)
    remotes = {g.name: RemoteFunction(grader.session, g.name, 60) for g in chapter}
    return _tests_pass(HIDDEN[grade_id], remotes, "hidden test")


def test_every_exercise_has_five_mistakes_with_their_own_hints_and_three_valid_solutions():
    assert sorted(CORPUS) == sorted(EXERCISES)
    for grade_id, answers in CORPUS.items():
        assert len(answers.valid) >= 3, grade_id
        hints = {mistake.hint for mistake in answers.mistakes.values()}
        assert len(hints) >= 5, grade_id


def test_every_exercise_has_hidden_tests():
    # The 0-point "derive it" exercises too: the grader reports their status like any other's.
    assert sorted(HIDDEN) == sorted(EXERCISES)
    assert [grade_id for grade_id, code in HIDDEN.items() if not code.strip()] == []


@pytest.mark.parametrize(("grade_id", "name"), VALID, ids=[f"{g}-{n}" for g, n in VALID])
def test_valid_solution_passes_locally_and_in_grading(grader, grade_id, name):
    exercise = EXERCISES[grade_id]
    source = CORPUS[grade_id].valid[name]
    local = in_process(exercise, source)
    assert local.status == "pass", local.message
    assert local.points == exercise.points
    assert grader.outcome(exercise, source) == local


@pytest.mark.parametrize(("grade_id", "name"), MISTAKES, ids=[f"{g}-{n}" for g, n in MISTAKES])
def test_mistake_gets_its_own_hint_locally_and_in_grading(grader, grade_id, name):
    exercise = EXERCISES[grade_id]
    mistake = CORPUS[grade_id].mistakes[name]
    local = in_process(exercise, mistake.source)
    assert local.status == "fail"
    assert mistake.hint in local.message
    graded = grader.outcome(exercise, mistake.source)
    assert (graded.status, graded.points, graded.max_points) == (
        "fail",
        local.points,
        local.max_points,
    )
    assert mistake.hint in graded.message
    known = KNOWN_MESSAGE_DIFFERENCES.get((grade_id, name))
    if known is None:
        assert graded == local
    elif graded.message != local.message:
        pytest.xfail(known)
    else:
        pytest.fail(
            f"the hint is now the same in grading: drop {name!r} from the known differences"
        )


@pytest.mark.parametrize(
    ("grade_id", "kind", "name"), ANSWERS, ids=[f"{g}-{k}-{n}" for g, k, n in ANSWERS]
)
def test_check_and_grade_agree_both_ways(grader, grade_id, kind, name):
    # The grade is the check (whose outcome equals the local one: the two tests above), then
    # the hidden tests, which zero a passed exercise when they fail. So check and grade agree
    # when every answer that passes the check passes the hidden tests - in the notebook and
    # through the grader - and every answer the hidden tests catch is caught by the check too.
    # (Hidden tests on an answer the check fails are never run by the grader; on such an answer
    # they may even differ between two processes, e.g. a sort whose ties follow set order.)
    exercise = EXERCISES[grade_id]
    source = _source(grade_id, kind, name)
    passes_check = in_process(exercise, source).status == "pass"
    in_notebook = _hidden_in_the_notebook(grade_id, source)
    in_grading = _hidden_in_grading(grader, grade_id, source)
    caught_by_hidden_tests = bool(in_notebook or in_grading)
    assert not (passes_check and caught_by_hidden_tests), (
        f"passes the check, then fails the hidden tests (in the notebook: {in_notebook!r}; "
        f"in grading: {in_grading!r}): the check must try what the hidden tests try"
    )
