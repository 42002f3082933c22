"""`python -m course_lib.grade`: the instructors' grader (its code is in `course_lib.grading`)."""

from course_lib.grading.cli import main

if __name__ == "__main__":
    raise SystemExit(main())
