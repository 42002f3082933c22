"""Everything a grading run writes once its learners are graded, in one place.

`python -m course_lib.grade` calls `write_outputs` at the end of a run, and `... grade merge`
calls it on the joined results of shards: whatever a run writes, a merge writes the same way.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from course_lib.grading.chapter import Chapter
from course_lib.grading.mistakes import mistakes_markdown, write_mistakes
from course_lib.grading.report import (
    collected_answers,
    export_csv,
    feedback_markdown,
    file_name,
    grades_csv,
    learner_json,
    tampering_report,
    write_atomically,
)
from course_lib.grading.runner import LearnerResult

__all__ = ["Outputs", "state_path", "write_outputs"]


@dataclass(frozen=True)
class Outputs:
    """Where a run writes and in which form."""

    out: Path  # the grade sheet
    feedback: Path | None = None  # folder of <learner>.md
    report: Path | None = None  # default: report.md beside `out`
    answers: Path | None = None  # default: answers/ beside `out`
    format: str | None = None  # an LMS export beside `out`
    roster: dict[str, dict[str, str]] | None = None
    json: Path | None = None  # the first learner's result as JSON (--single)
    release_hidden: bool = False  # feedback shows the hidden properties' results

    @classmethod
    def from_args(
        cls,
        args: Any,
        roster: dict[str, dict[str, str]] | None,
        json: Path | None = None,
    ) -> Outputs:
        """The outputs a command line asked for (--out, --feedback, --report, --answers,
        --format, --release-hidden)."""
        return cls(
            args.out,
            args.feedback,
            args.report,
            args.answers,
            args.format,
            roster,
            json,
            args.release_hidden,
        )

    @property
    def report_path(self) -> Path:
        return self.report or self.out.with_name("report.md")


def state_path(out: Path) -> Path:
    """The run's machine-readable state beside the sheet: grades.csv -> grades.state.json."""
    return out.with_name(f"{out.stem}.state.json")


def write_feedback(outputs: Outputs, result: LearnerResult, chapter: Chapter) -> None:
    """One learner's feedback file (a failure to write it is a warning, never the run's end)."""
    if outputs.feedback is None:
        return
    path = outputs.feedback / file_name(result.learner)
    try:
        write_atomically(path, feedback_markdown(result, chapter, outputs.release_hidden))
    except OSError as error:
        print(f"warning: feedback for a learner not written: {error}", file=sys.stderr)


def write_outputs(
    outputs: Outputs,
    results: list[LearnerResult],
    chapter: Chapter,
    sandbox: str,
    state: str | None = None,
) -> None:
    """The sheet, every feedback file, the report (with what the class got wrong), mistakes.csv
    and its charts, the written answers, the LMS export, the JSON of --single and (when given)
    the run's state: all from `results`, nothing else."""
    write_atomically(outputs.out, grades_csv(results, chapter))
    for result in results:
        write_feedback(outputs, result, chapter)
    report = tampering_report(results, chapter, sandbox)
    write_atomically(outputs.report_path, report + "\n" + mistakes_markdown(results, chapter))
    write_mistakes(
        results, chapter, outputs.out.with_name("mistakes.csv"), outputs.report_path.parent
    )
    if chapter.written:
        folder = outputs.answers or outputs.out.with_name("answers")
        for name, text in collected_answers(results, chapter).items():
            write_atomically(folder / name, text)
    if outputs.format:
        export = outputs.out.with_name(f"{outputs.out.stem}.{outputs.format}.csv")
        write_atomically(export, export_csv(results, chapter, outputs.format, outputs.roster))
    if outputs.json is not None and results:
        write_atomically(outputs.json, learner_json(results[0], chapter))
    if state is not None:
        write_atomically(state_path(outputs.out), state)
