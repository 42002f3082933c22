"""The instructors' grader, one job per module.

- `chapter`: the instructor's chapter as steps (cells, answers, checks) and its graded exercises
- `submissions`: finding learners' notebooks and taking their answer cells
- `sandbox`: bubblewrap around each learner's kernel; `kernel`: running code in it
- `remote`: a learner's function called from the grader, plain data both ways
- `references`: a check's reference as source code, for a kernel without the checks
- `runner`: one submission from first cell to last, scored in the grader's process
- `tamper`: what an instructor should look at by hand; `report`: the files written
- `tiers`: feedback in two tiers (public checks now, hidden properties on release)
- `outputs`: everything a run writes; `shards`: `--shard K/N` and `merge`
- `gradescope`, `classroom`, `platforms`: the grader packed for Gradescope and GitHub Classroom
- `cli`: `python -m course_lib.grade`
"""

from course_lib.grading.chapter import Chapter, GradingError, load_chapter
from course_lib.grading.cli import grade_all, main, make_sandbox
from course_lib.grading.runner import ExerciseResult, GradeOptions, LearnerResult, grade_submission
from course_lib.grading.submissions import Submission, find_submissions

__all__ = [
    "Chapter",
    "ExerciseResult",
    "GradeOptions",
    "GradingError",
    "LearnerResult",
    "Submission",
    "find_submissions",
    "grade_all",
    "grade_submission",
    "load_chapter",
    "main",
    "make_sandbox",
]
