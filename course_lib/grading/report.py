"""What the grader writes: the grade sheet, each learner's feedback, the tampering report, exports.

Nothing here depends on the clock or on the order learners finished in, so grading the same
notebooks again writes the same bytes. Every file is replaced in one step (temporary file, then
rename), never left half written.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import re
from pathlib import Path

from course_lib.grading.chapter import Chapter
from course_lib.grading.runner import ExerciseResult, LearnerResult

__all__ = [
    "learner_json",
    "export_csv",
    "feedback_markdown",
    "grades_csv",
    "tampering_report",
    "write_atomically",
]

FORMATS = ("plain", "canvas", "moodle")


def _number(value: float) -> str:
    return f"{value:g}"


FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")  # what a spreadsheet reads as a formula
MARKDOWN_SPECIAL = set("\\`*_{}[]()#+-.!|<>&~:\"'$%^=")


def _cell_text(text: str) -> str:
    """A text cell a spreadsheet shows as text: a leading formula character gets a `'`."""
    return "'" + text if text[:1] in FORMULA_STARTS else text


def cell_value(text: str) -> str:
    """The text `_cell_text` escaped (a student_id read back from a sheet the grader wrote)."""
    return text[1:] if text[:1] == "'" and text[1:2] in FORMULA_STARTS else text


def md_text(text: str) -> str:
    """`text` as inert Markdown: every punctuation character that could start markup (an HTML
    comment, a heading, a link, emphasis, a table cell) escaped, line breaks as spaces."""
    flat = " ".join(str(text).splitlines())
    return "".join("\\" + c if c in MARKDOWN_SPECIAL else c for c in flat)


def md_fenced(text: str) -> str:
    """`text` in a code fence no line of it can close: inert, shown as written."""
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    fence = "`" * max(3, longest + 1)
    return f"{fence}text\n{text}\n{fence}"


def file_name(learner: str, suffix: str = ".md") -> str:
    """A file name for a learner's file: the id when it is short and plain, else a cut of it
    with a hash of the whole (names of any length or bytes get a file of their own)."""
    plain = re.fullmatch(r"[\w@+=,. -]+", learner) and not learner.startswith(".")
    if plain and len(learner.encode("utf-8")) <= 120:
        return learner + suffix
    digest = hashlib.sha256(learner.encode("utf-8", "surrogateescape")).hexdigest()[:12]
    cut = re.sub(r"[^\w-]+", "_", learner)[:60]
    return f"{cut.lstrip('.') or 'learner'}-{digest}{suffix}"


def grades_csv(results: list[LearnerResult], chapter: Chapter) -> str:
    """One row per learner: points per exercise, score, max_score, status, flags."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    ids = chapter.grade_ids
    writer.writerow(["student_id", "assignment", *ids, "score", "max_score", "status", "flags"])
    for result in sorted(results, key=lambda r: r.learner):
        points = {e.grade_id: _number(e.points) for e in result.exercises}
        points.update({e.grade_id: "" for e in result.exercises if e.status == "to mark"})
        writer.writerow(
            [
                _cell_text(result.learner),
                chapter.name,
                *(points.get(i, "0") for i in ids),
                _number(result.score),
                _number(result.max_score),
                _cell_text(result.status),
                len(result.flags),
            ]
        )
    return buffer.getvalue()


def feedback_markdown(result: LearnerResult, chapter: Chapter, release_hidden: bool = True) -> str:
    """One learner's feedback: each exercise's points and the check's hint; nothing else.
    Before the hidden properties are released (`release_hidden=False`) it shows what the public
    checks alone give and how many hidden properties are pending (see `tiers`); on release, the
    final points and each hidden property's result, by name."""
    from course_lib.grading.tiers import pending_count, public_score, public_view

    def shown(e: ExerciseResult) -> tuple[float, str, str]:
        return (e.points, e.status, e.message) if release_hidden else public_view(e)

    pending = 0 if release_hidden else pending_count(chapter)
    score = result.score if release_hidden else public_score(result)
    lines = [
        f"# Feedback: {md_text(result.learner)}, chapter {chapter.name}",
        "",
        ("Score" if not pending else "Public checks")
        + f": **{_number(score)} / {_number(result.max_score)}**"
        + ("" if result.status == "ok" else f" (run: {md_text(result.status)})"),
        "",
    ]
    if pending:
        lines += [
            f"{pending} hidden {'property is' if pending == 1 else 'properties are'} pending: "
            "their results and your final score are released after the deadline.",
            "",
        ]
    lines += ["| exercise | points | result |", "|---|---|---|"]
    for e in result.exercises:
        points, status, _ = shown(e)
        lines.append(f"| {e.grade_id} | {_number(points)} / {_number(e.max_points)} | {status} |")
    for e in result.exercises:
        _, status, message = shown(e)
        if message and status != "pass":
            lines += ["", f"## {e.grade_id}: {status}", "", md_fenced(message)]
    released = [(name, verdict) for e in result.exercises for name, verdict in e.hidden.items()]
    if release_hidden and released:
        lines += ["", "## Hidden properties", ""]
        lines += [f"- `{name.replace('`', '')}`: {verdict}" for name, verdict in released]
    if result.other_errors:
        title = "Other cells that raised an error" if result.notebook_ran else "Problems"
        lines += ["", f"## {title}", ""]
        lines += [f"- {md_text(text)}" for text in result.other_errors[:10]]
        if len(result.other_errors) > 10:
            lines.append(f"- ... and {len(result.other_errors) - 10} more")
    return "\n".join(lines) + "\n"


def tampering_report(results: list[LearnerResult], chapter: Chapter, sandbox: str) -> str:
    """For the instructor: how the run was contained, and every flag of every learner."""
    lines = [f"# Grading report: chapter {chapter.name}", "", f"Sandbox: {sandbox}.", ""]
    flagged = [r for r in sorted(results, key=lambda r: r.learner) if r.flags]
    if not flagged:
        lines.append("No submission was flagged.")
    for result in flagged:
        lines += [f"## {md_text(result.learner)}", ""]
        lines += [f"- {md_text(text)}" for text in result.flags]
        lines.append("")
    return "\n".join(lines).rstrip("\n") + "\n"


def export_csv(
    results: list[LearnerResult],
    chapter: Chapter,
    fmt: str,
    roster: dict[str, dict[str, str]] | None = None,
) -> str:
    """The scores in a learning platform's import format ("canvas", "moodle" or "plain")."""
    if fmt not in FORMATS:
        raise ValueError(f"unknown format {fmt!r}; use one of {', '.join(FORMATS)}")
    roster = roster or {}
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    column = f"Chapter {chapter.name} ({_number(chapter.max_score)})"
    if fmt == "canvas":
        writer.writerow(["Student", "ID", "SIS User ID", "Section", column])
        writer.writerow(["Points Possible", "", "", "", _number(chapter.max_score)])
    elif fmt == "moodle":
        writer.writerow(["Email address", column])
    else:
        writer.writerow(["student_id", "score", "max_score"])
    for result in sorted(results, key=lambda r: r.learner):
        person = roster.get(result.learner, {})
        score = _number(result.score)
        if fmt == "canvas":
            writer.writerow(
                [
                    _cell_text(person.get("name", result.learner)),
                    _cell_text(person.get("id", "")),
                    _cell_text(person.get("sis_id", result.learner)),
                    _cell_text(person.get("section", "")),
                    score,
                ]
            )
        elif fmt == "moodle":
            writer.writerow([_cell_text(person.get("email", result.learner)), score])
        else:
            writer.writerow([_cell_text(result.learner), score, _number(result.max_score)])
    return buffer.getvalue()


def read_roster(path: Path) -> dict[str, dict[str, str]]:
    """A roster CSV with a `student_id` column (and any of name, id, sis_id, email, section)."""
    with path.open(newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    if rows and "student_id" not in rows[0]:
        raise ValueError(f"{path}: a roster needs a 'student_id' column (the submission's name)")
    return {cell_value(row["student_id"]): row for row in rows}


def read_marks(path: Path, chapter: Chapter) -> dict[tuple[str, str], float]:
    """An instructor's marks for written answers: (student_id, grade_id) -> points."""
    wanted = {w.grade_id: w.points for w in chapter.written}
    with path.open(newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    marks: dict[tuple[str, str], float] = {}
    for number, row in enumerate(rows, 2):
        if not {"student_id", "grade_id", "points"} <= set(row):
            raise ValueError(f"{path}: needs the columns student_id, grade_id, points")
        if not (row["points"] or "").strip():
            continue  # not marked yet
        grade_id = row["grade_id"]
        if grade_id not in wanted:
            raise ValueError(f"{path}, line {number}: {grade_id!r} is not a written question")
        try:
            points = float(row["points"])
        except ValueError:
            raise ValueError(
                f"{path}, line {number}: points {row['points']!r} is not a number"
            ) from None
        if not 0 <= points <= wanted[grade_id]:
            raise ValueError(
                f"{path}, line {number}: {points:g} points, but {grade_id} is out of "
                f"{wanted[grade_id]:g}"
            )
        marks[(cell_value(row["student_id"]), grade_id)] = points
    return marks


def apply_marks(result: LearnerResult, marks: dict[tuple[str, str], float]) -> None:
    """Put the instructor's marks into a learner's written answers."""
    for e in result.exercises:
        key = (result.learner, e.grade_id)
        if e.status in ("to mark", "not answered") and key in marks:
            e.points, e.status = marks[key], "marked"


def collected_answers(results: list[LearnerResult], chapter: Chapter) -> dict[str, str]:
    """File name -> text: one Markdown file per written question with every learner's answer,
    and a marks template to fill in and pass back with --manual."""
    files: dict[str, str] = {}
    ordered = sorted(results, key=lambda r: r.learner)
    for w in chapter.written:
        lines = [f"# {w.grade_id} ({_number(w.points)} points)", "", w.question.strip(), ""]
        for result in ordered:
            answer = result.written.get(w.grade_id, "")
            shown = md_fenced(answer) if answer else "*(no answer)*"
            lines += [f"## {md_text(result.learner)}", "", shown, ""]
        files[f"{w.grade_id}.md"] = "\n".join(lines).rstrip("\n") + "\n"
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["student_id", "grade_id", "points", "max_points"])
    for result in ordered:
        for w in chapter.written:
            writer.writerow([_cell_text(result.learner), w.grade_id, "", _number(w.points)])
    files["marks-template.csv"] = buffer.getvalue()
    return files


def write_atomically(path: Path, text: str) -> None:
    """Write `text` to `path` in one step (`course_lib.files.write_atomically`)."""
    from course_lib import files

    path.parent.mkdir(parents=True, exist_ok=True)
    files.write_atomically(path, lambda handle: handle.write(text.encode("utf-8")))


def learner_json(result: LearnerResult, chapter: Chapter) -> str:
    """One learner's result as JSON for a platform to read: per exercise the points, the
    maximum, the status, the hint and the mistake's stable id, the public check's own result
    (`public`, always visible) and its hidden properties by name (`hidden`, visible after the
    deadline; an exercise with any has `visibility` "after_due_date": its final points count
    them); the run's status, the flags (for the instructor)."""
    from course_lib.grading.tiers import hidden_properties, public_view

    graded = {g.grade_id: g for g in chapter.graded}
    exercises = []
    for e in result.exercises:
        names = (
            [name for name, _, _ in hidden_properties(graded[e.grade_id])]
            if (e.grade_id in graded)
            else []
        )
        points, status, hint = public_view(e)
        exercises.append(
            {
                "grade_id": e.grade_id,
                "points": e.points,
                "max_points": e.max_points,
                "status": e.status,
                "hint": e.message if e.status != "pass" else "",
                "mistake": e.mistake if e.status != "pass" else "",
                "visibility": "after_due_date" if names else "visible",
                "public": {
                    "points": points,
                    "status": status,
                    "hint": hint if status != "pass" else "",
                    "mistake": e.mistake if status != "pass" else "",
                    "visibility": "visible",
                },
                "hidden": [
                    {
                        "name": name,
                        "status": e.hidden.get(name, "not run"),
                        "visibility": "after_due_date",
                    }
                    for name in names
                ],
            }
        )
    data = {
        "learner": result.learner,
        "chapter": chapter.name,
        "score": result.score,
        "max_score": result.max_score,
        "status": result.status,
        "exercises": exercises,
        "other_errors": result.other_errors,
        "flags": result.flags,
    }
    return json.dumps(data, indent=1, ensure_ascii=False) + "\n"
