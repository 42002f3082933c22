"""What a grading run needs before its first learner: the solutions folder, the sandbox, and
the limits measured on the solved chapter. The command line, `merge` and the platform adapters
share them.
"""

from __future__ import annotations

import sys
from dataclasses import replace
from pathlib import Path

from course_lib.grading.chapter import Chapter, GradingError
from course_lib.grading.runner import (
    LIMIT_FACTOR,
    LIMIT_SLACK,
    GradeOptions,
    cell_limits,
    grade_submission,
)
from course_lib.grading.sandbox import Limits, Sandbox, bwrap_works
from course_lib.grading.submissions import Submission

__all__ = ["default_solutions", "make_sandbox", "measure_solution"]


def make_sandbox(
    chapter: Chapter, require: bool = False, limits: Limits | None = None, use: bool = True
) -> Sandbox:
    """bubblewrap when it works here; otherwise no sandbox (a warning), or an error if required.
    `use=False` grades without one on purpose (inside a throw-away container, say)."""
    import course_lib

    package = Path(course_lib.__file__).resolve().parent
    reason = bwrap_works() if use else "--no-sandbox was given"
    if reason and require:
        raise GradingError(f"--require-sandbox: {reason}; install bubblewrap or grade elsewhere.")
    if reason:
        print(
            f"warning: {reason}: grading WITHOUT a sandbox - each notebook runs with your rights "
            "and can read your files and the network (see the README, 'Grading untrusted "
            "notebooks').",
            file=sys.stderr,
        )
    kind = "none" if reason else "bwrap"
    return Sandbox(kind, package, chapter.extra_paths, limits or Limits())


_MEASURED: dict[tuple[str, int], dict[str, float]] = {}  # (chapter, threads) -> step times


def measure_solution(
    chapter: Chapter,
    sandbox: Sandbox,
    options: GradeOptions,
    quiet: bool = True,
    measured: Path | None = None,
) -> GradeOptions:
    """`options` with limits for the instructor's cells and checks, from one run of the solved
    chapter on this machine (once per chapter in a process). The learner's own cells keep
    --cell-timeout. A solution that does not run cleanly here is a warning: its cells then get
    the learner's whole --timeout. `measured`: a file of step times to read instead (when it
    exists and was measured on these solutions), or to write once measured."""
    from course_lib.grading.measured import read_measured, write_measured

    key = (chapter.name, options.threads or 0)
    if key not in _MEASURED and measured is not None:
        timings = read_measured(measured, chapter)
        if timings is not None:
            _MEASURED[key] = timings
    if key not in _MEASURED:
        generous = GradeOptions(
            options.timeout, options.timeout, options.threads, originality=False
        )
        solved = Submission("(the solution)", None)
        result = grade_submission(solved, chapter, sandbox, generous, solved=True)
        failed = [
            e.grade_id
            for e in result.exercises
            if e.status not in ("pass", "to mark", "not answered")
        ]
        if result.status != "ok" or failed:
            print(
                f"warning: the solved chapter did not run cleanly here ({result.status}; "
                f"not passing: {', '.join(failed) or 'none'}); its cells get --timeout each",
                file=sys.stderr,
            )
            return replace(options, cell_limits=tuple((k, options.timeout) for k in result.timings))
        _MEASURED[key] = result.timings
        if measured is not None:
            write_measured(measured, chapter, result.timings)
        if not quiet:
            print(
                f"measured the solved chapter here: {result.seconds:.1f} s; instructor cells "
                f"get {LIMIT_FACTOR:g}x their time + {LIMIT_SLACK:g} s",
                file=sys.stderr,
            )
    return replace(options, cell_limits=cell_limits(_MEASURED[key], options))


def default_solutions() -> Path:
    """solutions/ in the current folder, else the one beside the installed package."""
    here = Path.cwd() / "solutions"
    return here if here.is_dir() else Path(__file__).resolve().parents[2] / "solutions"
