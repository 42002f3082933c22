"""Grading a class in shards (`--shard K/N`) and joining them (`python -m course_lib.grade merge`).

Which learners a shard grades: the submissions sorted by learner id, and every N-th of them
starting at the K-th (learner i, counted from 0, is in shard i mod N + 1). The rule depends only
on the set of submissions, so every machine that sees the same folder picks the same learners,
and shards differ in size by one learner at most.

Each run writes `<sheet>.state.json` beside its sheet: the chapter (its name and a fingerprint of
the solutions and private tests), the shard, every learner of the whole class, how they were
contained and each learner's result. `merge` checks that the shards belong together (same
chapter, same fingerprint, same class, same N, each K exactly once) and writes the sheet,
feedback, report, answers and exports with the writers of a one-machine run, from the joined
results: the same bytes one run on the same results writes.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from dataclasses import asdict, fields
from pathlib import Path
from typing import Any

from course_lib.grading.chapter import Chapter, GradingError, chapter_fingerprint, load_chapter
from course_lib.grading.outputs import Outputs, state_path, write_outputs
from course_lib.grading.report import FORMATS, read_roster
from course_lib.grading.runner import ExerciseResult, LearnerResult
from course_lib.grading.submissions import Submission

__all__ = ["STATE_VERSION", "chapter_fingerprint", "merge_main", "parse_shard", "pick_shard"]

STATE_VERSION = 1


def parse_shard(text: str) -> tuple[int, int]:
    """'2/3' -> (2, 3); a clear error for anything else."""
    match = re.fullmatch(r"\s*(\d+)\s*/\s*(\d+)\s*", text)
    if match is None or not 1 <= int(match[1]) <= int(match[2]):
        raise GradingError(f"--shard {text!r}: give K/N with 1 <= K <= N, e.g. --shard 2/3.")
    return int(match[1]), int(match[2])


def pick_shard(submissions: list[Submission], k: int, n: int) -> list[Submission]:
    """The submissions of shard `k` of `n`: every n-th, by learner id, from the k-th."""
    ordered = sorted(submissions, key=lambda s: s.learner)
    return [s for i, s in enumerate(ordered) if i % n == k - 1]


def state_json(
    results: list[LearnerResult],
    chapter: Chapter,
    number: str,
    sandbox: str,
    shard: tuple[int, int],
    learners: list[str],
) -> str:
    """A run's machine-readable state (see the module's text)."""
    data = {
        "version": STATE_VERSION,
        "chapter": chapter.name,
        "number": number,
        "fingerprint": chapter_fingerprint(chapter),
        "shard": list(shard),
        "learners": sorted(learners),
        "sandbox": sandbox,
        "results": [asdict(r) for r in sorted(results, key=lambda r: r.learner)],
    }
    return json.dumps(data, indent=1, ensure_ascii=False, sort_keys=True) + "\n"


def result_from_dict(data: dict[str, Any]) -> LearnerResult:
    """A LearnerResult back from `asdict` (unknown keys are an error: a state of another
    version of the grader)."""
    known = {f.name for f in fields(ExerciseResult)}
    exercises = []
    for e in data["exercises"]:
        if set(e) - known:
            raise GradingError(f"exercise fields {sorted(set(e) - known)} are not this grader's")
        exercises.append(ExerciseResult(**e))
    rest = {k: v for k, v in data.items() if k != "exercises"}
    known = {f.name for f in fields(LearnerResult)}
    if set(rest) - known:
        raise GradingError(f"result fields {sorted(set(rest) - known)} are not this grader's")
    return LearnerResult(exercises=exercises, **rest)


def _read_state(path: Path) -> tuple[Path, dict[str, Any]]:
    if path.is_dir():
        found = sorted(path.glob("*.state.json"))
        if len(found) != 1:
            raise GradingError(
                f"{path}: expected one *.state.json (a shard's output folder), found "
                f"{[p.name for p in found] or 'none'}; name the state file itself."
            )
        path = found[0]
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise GradingError(f"{path}: not a grading state ({error}).") from None
    if not isinstance(data, dict) or data.get("version") != STATE_VERSION:
        raise GradingError(
            f"{path}: not a grading state of this grader (version {STATE_VERSION}); grade the "
            "shard again with this version."
        )
    return path, data


def check_shards(states: list[tuple[Path, dict[str, Any]]]) -> None:
    """Refuse shards that do not make up exactly one class's grading, saying which and why."""
    first_path, first = states[0]
    for key, what in (
        ("chapter", "chapter"),
        ("fingerprint", "solutions or private tests"),
        ("learners", "set of submissions"),
    ):
        for path, data in states[1:]:
            if data[key] != first[key]:
                raise GradingError(
                    f"{path} and {first_path} were graded with a different {what}; merge only "
                    "shards of one grading."
                )
    counts = {tuple(data["shard"])[1] for _, data in states}
    if len(counts) != 1:
        raise GradingError(f"the shards were cut in different numbers of parts: {sorted(counts)}")
    (n,) = counts
    seen: dict[int, Path] = {}
    for path, data in states:
        k = data["shard"][0]
        if k in seen:
            raise GradingError(f"shard {k}/{n} given twice: {seen[k]} and {path}")
        seen[k] = path
    missing = sorted(set(range(1, n + 1)) - set(seen))
    if missing:
        listed = ", ".join(f"{k}/{n}" for k in missing)
        raise GradingError(f"shard(s) {listed} missing; merge all {n} shards of the grading.")
    graded: dict[str, Path] = {}
    for path, data in states:
        for result in data["results"]:
            if result["learner"] in graded:
                raise GradingError(
                    f"a learner is in two shards ({graded[result['learner']]} and {path})"
                )
            graded[result["learner"]] = path
    if sorted(graded) != first["learners"]:
        gone = len(set(first["learners"]) - set(graded))
        raise GradingError(f"{gone} learner(s) of the class are in no shard's results")


def merge_main(argv: list[str]) -> int:
    """`python -m course_lib.grade merge SHARD... --out grades.csv`: one class's shards joined."""
    parser = argparse.ArgumentParser(
        prog="python -m course_lib.grade merge",
        description="Join the shards of one grading (--shard K/N runs) into what one run writes.",
    )
    parser.add_argument("shards", nargs="+", type=Path, help="shard output folders or state files")
    parser.add_argument("--out", type=Path, default=Path("grades.csv"), help="the grade sheet")
    parser.add_argument("--feedback", type=Path, help="folder for <learner>.md feedback files")
    parser.add_argument("--report", type=Path, help="report (default: beside --out)")
    parser.add_argument("--answers", type=Path, help="written answers (default: beside --out)")
    parser.add_argument("--format", choices=FORMATS, help="also write an LMS import file")
    parser.add_argument("--roster", type=Path, help="CSV with student_id and LMS ids/emails")
    parser.add_argument("--solutions", type=Path, help="the solutions the shards were graded with")
    parser.add_argument("--tests", type=Path, help="the private tests the shards were graded with")
    parser.add_argument(
        "--release-hidden", action="store_true", help="feedback shows hidden properties' results"
    )
    args = parser.parse_args(argv)
    try:
        states = [_read_state(path) for path in args.shards]
        check_shards(states)
        first = states[0][1]
        from course_lib.grading.prepare import default_solutions

        chapter = load_chapter(args.solutions or default_solutions(), first["number"], args.tests)
        if chapter_fingerprint(chapter) != first["fingerprint"]:
            raise GradingError(
                "the solutions or private tests differ from those the shards were graded with; "
                "pass the same --solutions and --tests."
            )
        results = sorted(
            (result_from_dict(r) for _, data in states for r in data["results"]),
            key=lambda r: r.learner,
        )
        described = {data["sandbox"] for _, data in states}
        sandbox = (
            first["sandbox"]
            if len(described) == 1
            else "; ".join(
                f"shard {data['shard'][0]}/{data['shard'][1]}: {data['sandbox']}"
                for _, data in sorted(states, key=lambda s: s[1]["shard"][0])
            )
        )
        roster = read_roster(args.roster) if args.roster else None
    except (GradingError, ValueError, OSError, KeyError, TypeError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    outputs = Outputs.from_args(args, roster)
    state = state_json(results, chapter, first["number"], sandbox, (1, 1), first["learners"])
    write_outputs(outputs, results, chapter, sandbox, state)
    print(f"merged {len(states)} shards: {len(results)} learners -> {args.out}", file=sys.stderr)
    return 1 if any(r.status.startswith("grader error") for r in results) else 0


__all__ += ["state_json", "result_from_dict", "check_shards", "state_path"]
