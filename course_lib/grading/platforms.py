"""`--gradescope-bundle` and `--classroom-workflow`: the grader packed for a platform."""

from __future__ import annotations

import argparse
import re
import sys

from course_lib.grading.chapter import GradingError, load_chapter

__all__ = ["platform_main"]


def platform_main(args: argparse.Namespace) -> int:
    """Write the Gradescope zip or the Classroom workflow the command line asked for."""
    from course_lib.grading.prepare import default_solutions

    try:
        if args.gradescope_bundle is not None and args.classroom_workflow is not None:
            raise GradingError("--gradescope-bundle and --classroom-workflow: one at a time.")
        if args.submissions or args.single is not None:
            raise GradingError("--gradescope-bundle/--classroom-workflow grade nothing here.")
        number = args.chapter or ""
        if re.fullmatch(r"\d", number):
            number = "0" + number
        if not re.fullmatch(r"\d\d", number):
            raise GradingError("give the chapter to bundle: --chapter NN (e.g. --chapter 05).")
        solutions = args.solutions or default_solutions()
        chapter = load_chapter(solutions, number, args.tests)
        if args.gradescope_bundle is not None:
            from course_lib.grading.gradescope import write_bundle

            limits = {
                "timeout": args.timeout,
                "cell_timeout": args.cell_timeout,
                "memory": args.memory,
            }
            names = write_bundle(
                args.gradescope_bundle, chapter, number, solutions, args.tests, limits
            )
            print(f"wrote {args.gradescope_bundle} ({len(names)} files)", file=sys.stderr)
        else:
            from course_lib.grading.classroom import write_workflow

            if args.tests is not None:
                raise GradingError(
                    "--tests: a learner's repository is the learner's to read; private tests "
                    "belong in a run of the grader on your machine or on Gradescope."
                )
            path = write_workflow(args.classroom_workflow, number, f"chapters/{chapter.name}.ipynb")
            print(f"wrote {path}", file=sys.stderr)
    except (GradingError, OSError, ValueError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    return 0
