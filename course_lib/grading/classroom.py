"""GitHub Classroom / GitHub Actions: a workflow for a learner's repository, and its report.

`python -m course_lib.grade --classroom-workflow REPO --chapter 05` writes
`REPO/.github/workflows/classroom.yml` (from `templates/classroom.yml`). On each push it installs
the course, grades the chapter's notebook with `python -m course_lib.grading.classroom`, which
runs `python -m course_lib.grade --single NOTEBOOK --json ... --no-sandbox` (the Actions runner,
a virtual machine thrown away after the job, is the sandbox) and then writes:

- the job summary (`$GITHUB_STEP_SUMMARY`): the public checks per exercise, their points, the
  hints, and how many hidden properties are pending;
- the step output `result` (`$GITHUB_OUTPUT`): base64 of the JSON GitHub Classroom's
  autograding reporter reads (`version`, `status`, `max_score`, `tests` with `name`, `status`,
  `score`, `message`), which it sums into the points Classroom shows.

Both report the public tier only (see `tiers`): the job's log and summary are the learner's to
read. Final grades with the hidden properties come from a run of the grader on the collected
notebooks (`--release-hidden`).
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

__all__ = ["classroom_result", "job_summary", "main", "write_workflow"]

TEMPLATE = Path(__file__).parent / "templates" / "classroom.yml"


def write_workflow(repo: Path, number: str, notebook: str, source: str = ".[grader]") -> Path:
    """Write the workflow into `repo`/.github/workflows/classroom.yml; its path."""
    from course_lib.grading.gradescope import TORCH_INDEX, TORCH_PIN

    text = TEMPLATE.read_text(encoding="utf-8").format(
        number=number,
        notebook=notebook,
        solutions="solutions",
        source=source,
        torch=TORCH_PIN,
        index=TORCH_INDEX,
    )
    path = repo / ".github" / "workflows" / "classroom.yml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def _auto(data: dict[str, Any]) -> list[dict[str, Any]]:
    """The exercises the grader scores (written answers wait for the instructor)."""
    return [e for e in data["exercises"] if e["status"] not in ("to mark", "not answered")]


def classroom_result(data: dict[str, Any]) -> dict[str, Any]:
    """GitHub Classroom's autograding result from the grader's learner JSON: the public tier."""
    tests = []
    for e in _auto(data):
        public = e["public"]
        message = public["hint"]
        if e["hidden"]:
            message = (message + " " if message else "") + (
                f"({len(e['hidden'])} hidden properties pending)"
            )
        tests.append(
            {
                "name": e["grade_id"],
                "status": "pass" if public["status"] == "pass" else "fail",
                "score": float(public["points"]),
                "message": message,
            }
        )
    status = "pass" if all(t["status"] == "pass" for t in tests) else "fail"
    if data["status"] != "ok" and not tests:
        status = "error"
    return {
        "version": 1,
        "status": status,
        "max_score": float(sum(e["max_points"] for e in _auto(data))),
        "tests": tests,
    }


def job_summary(data: dict[str, Any]) -> str:
    """The Markdown for the job's summary page: the public tier."""
    from course_lib.grading.report import md_text

    rows = _auto(data)
    score = sum(e["public"]["points"] for e in rows)
    top = sum(e["max_points"] for e in rows)
    pending = sum(len(e["hidden"]) for e in rows)
    lines = [
        f"## Chapter {md_text(data['chapter'])}: {score:g} / {top:g} points by the public checks",
        "",
    ]
    if data["status"] != "ok":
        lines += [f"Run: {md_text(data['status'])}", ""]
    if pending:
        lines += [
            f"{pending} hidden {'property is' if pending == 1 else 'properties are'} pending: "
            "the final score is released after the deadline.",
            "",
        ]
    lines += ["| exercise | points | public checks |", "|---|---|---|"]
    for e in rows:
        public = e["public"]
        lines.append(
            f"| {e['grade_id']} | {public['points']:g} / {e['max_points']:g} | {public['status']} |"
        )
    for e in rows:
        if e["public"]["hint"]:
            lines += ["", f"**{e['grade_id']}**: {md_text(e['public']['hint'])}"]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    """`python -m course_lib.grading.classroom --chapter NN --notebook PATH`: grade, report."""
    parser = argparse.ArgumentParser(prog="python -m course_lib.grading.classroom")
    parser.add_argument("--chapter", required=True)
    parser.add_argument("--notebook", type=Path, required=True)
    parser.add_argument("--solutions", type=Path, default=Path("solutions"))
    parser.add_argument("--timeout", type=float, default=1200.0)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="course-classroom-") as work:
        learner = Path(work) / "learner.json"
        command = [
            sys.executable, "-m", "course_lib.grade", "--single", str(args.notebook),
            "--json", str(learner), "--chapter", args.chapter, "--solutions",
            str(args.solutions), "--no-sandbox", "--quiet", "--out", str(Path(work) / "g.csv"),
            "--timeout", str(args.timeout),
        ]  # fmt: skip
        try:  # the solved chapter is timed first, then the learner's notebook graded
            done = subprocess.run(
                command, capture_output=True, text=True, check=False, timeout=3 * args.timeout
            )
        except subprocess.TimeoutExpired:
            print(f"error: grading {args.notebook} ran out of time", file=sys.stderr)
            return 2
        sys.stderr.write(done.stderr[-20_000:])
        if not learner.is_file():
            print(f"error: the grader did not grade {args.notebook}", file=sys.stderr)
            return 2
        data = json.loads(learner.read_text(encoding="utf-8"))
    summary = job_summary(data)
    print(summary)
    if os.environ.get("GITHUB_STEP_SUMMARY"):
        with open(os.environ["GITHUB_STEP_SUMMARY"], "a", encoding="utf-8") as handle:
            handle.write(summary)
    encoded = base64.b64encode(json.dumps(classroom_result(data)).encode()).decode()
    if os.environ.get("GITHUB_OUTPUT"):
        with open(os.environ["GITHUB_OUTPUT"], "a", encoding="utf-8") as handle:
            handle.write(f"result={encoded}\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
