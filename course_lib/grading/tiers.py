"""Feedback in two tiers: the public checks now, the hidden properties when released.

An exercise's *public* result is what its check (the one the learner runs in the notebook)
gives. Its *hidden properties* are the check cell's hidden tests and the instructor's private
tests, run by the grader after a public pass; each is reported by name only (never its code,
its inputs or its assertion's text). Until the instructor releases them (`--release-hidden`, or
Gradescope's `after_due_date`), a learner sees the public results and how many hidden properties
are pending; the final score, which counts them, is shown only on release.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from course_lib.grading.chapter import hidden_properties

if TYPE_CHECKING:
    from course_lib.grading.chapter import Chapter
    from course_lib.grading.runner import ExerciseResult, LearnerResult

__all__ = ["hidden_properties", "pending_count", "public_view", "public_score"]


def pending_count(chapter: Chapter) -> int:
    """How many hidden properties the chapter's exercises have in all."""
    return sum(len(hidden_properties(g)) for g in chapter.graded)


def public_view(e: ExerciseResult) -> tuple[float, str, str]:
    """(points, status, hint) of an exercise as its public check alone decides: what a learner
    may see before the hidden properties are released."""
    if e.public_points is None:  # not checked, or nothing beyond the public check ran
        return e.points, e.status, e.message
    return e.public_points, e.public_status, e.public_message


def public_score(result: LearnerResult) -> float:
    """The learner's points by the public checks alone."""
    return sum(public_view(e)[0] for e in result.exercises)
