"""What the class got wrong: how many learners made each mistake, as a CSV, charts and a section
of report.md.

Each exercise a learner did not pass carries a mistake id and its template (the check's hint with
the learner's values left out: `course_lib.checks.mistakes`). These writers count them over the
learners. They are pure functions of the list of `LearnerResult`s and the chapter, so grading the
class in one run or in shards merged afterwards writes the same bytes; and they never show a
learner's text: the templates and ids come from the course's own checks.
"""

from __future__ import annotations

import csv
import io
import re
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from course_lib.grading.chapter import Chapter
from course_lib.grading.report import _cell_text, md_text
from course_lib.grading.runner import LearnerResult

__all__ = [
    "CHART_FOLDER",
    "Count",
    "chart_png",
    "counts",
    "mistake_charts",
    "mistakes_csv",
    "mistakes_markdown",
    "write_mistakes",
]

CHART_FOLDER = "mistakes"  # beside report.md: one <grade_id>.png per exercise with mistakes
CHART_BARS = 12  # mistakes drawn per chart (the CSV has them all)
LABEL_CHARS = 60  # characters of a template beside its bar


@dataclass(frozen=True)
class Count:
    """One mistake of one exercise and the number of learners whose answer made it."""

    exercise: str
    mistake: str
    template: str
    learners: int


def counts(results: list[LearnerResult], chapter: Chapter) -> list[Count]:
    """Every mistake with its number of learners: by exercise in the chapter's order, then the
    most frequent first, then by id. Each learner counts once per exercise (the mistake of the
    answer they handed in); exercises that passed or did not run count nothing."""
    found: Counter[tuple[str, str]] = Counter()
    templates: dict[tuple[str, str], str] = {}
    for result in results:
        for e in result.exercises:
            if e.mistake and e.status != "pass":
                found[(e.grade_id, e.mistake)] += 1
                templates.setdefault((e.grade_id, e.mistake), e.template)
    order = {grade_id: n for n, grade_id in enumerate(chapter.grade_ids)}
    rows = [
        Count(grade_id, mistake, templates[(grade_id, mistake)], n)
        for (grade_id, mistake), n in found.items()
    ]
    rows.sort(key=lambda c: (order.get(c.exercise, len(order)), c.exercise, -c.learners, c.mistake))
    return rows


def mistakes_csv(results: list[LearnerResult], chapter: Chapter) -> str:
    """mistakes.csv: exercise, mistake, hint (the template), learners; a row per mistake."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["exercise", "mistake", "hint", "learners"])
    for c in counts(results, chapter):
        writer.writerow(
            [_cell_text(c.exercise), _cell_text(c.mistake), _cell_text(c.template), c.learners]
        )
    return buffer.getvalue()


def _chart_name(grade_id: str) -> str:
    return re.sub(r"[^\w.-]", "_", grade_id).lstrip(".") + ".png"


def _label(c: Count) -> str:
    """A bar's label: the template's start, then the id's own part (its hash or fixed name), so
    two mistakes whose hints start alike stay apart and each is found in the list below."""
    flat = " ".join(c.template.split())
    flat = flat if len(flat) <= LABEL_CHARS else flat[: LABEL_CHARS - 1].rstrip() + "…"
    local = c.mistake.rsplit("/", 1)[-1]
    tail = local.rsplit("-", 1)[-1]
    return f"{flat} [{tail if re.fullmatch(r'[0-9a-f]{6}', tail) else local}]"


def chart_png(grade_id: str, rows: list[Count]) -> bytes:
    """A horizontal bar chart of one exercise's mistakes (learners per mistake, the most
    frequent on top) as PNG bytes; the same rows give the same bytes in every run."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    shown = rows[:CHART_BARS]
    height = 1.2 + 0.42 * len(shown)
    figure = Figure(figsize=(9.0, height), dpi=100)
    FigureCanvasAgg(figure)
    axes = figure.add_subplot()
    positions = list(range(len(shown)))[::-1]
    axes.barh(positions, [c.learners for c in shown], color="#4c72b0")
    axes.set_yticks(positions, [_label(c) for c in shown], fontsize=8)
    for y, c in zip(positions, shown, strict=True):
        axes.text(c.learners, y, f" {c.learners}", va="center", fontsize=8)
    most = max(c.learners for c in shown)
    axes.set_xlim(0, most * 1.15 + 0.5)
    axes.xaxis.get_major_locator().set_params(integer=True)
    axes.set_xlabel("learners")
    more = f" (the {CHART_BARS} most frequent of {len(rows)})" if len(rows) > len(shown) else ""
    axes.set_title(f"{grade_id}: mistakes in the answers handed in{more}", fontsize=10)
    figure.tight_layout()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", metadata={"Software": None})
    return buffer.getvalue()


def mistake_charts(results: list[LearnerResult], chapter: Chapter) -> dict[str, bytes]:
    """'mistakes/<grade_id>.png' -> PNG bytes, one per exercise with any mistake."""
    by_exercise: dict[str, list[Count]] = {}
    for c in counts(results, chapter):
        by_exercise.setdefault(c.exercise, []).append(c)
    return {
        f"{CHART_FOLDER}/{_chart_name(grade_id)}": chart_png(grade_id, rows)
        for grade_id, rows in by_exercise.items()
    }


def mistakes_markdown(results: list[LearnerResult], chapter: Chapter) -> str:
    """The report's section "What the class got wrong": per exercise its chart and a line per
    mistake, "ch03_softmax: 14 learners - <the hint without values>"."""
    rows = counts(results, chapter)
    lines = ["## What the class got wrong", ""]
    if not rows:
        return "\n".join([*lines, "No check found a mistake in any answer.", ""])
    lines += [
        "Each learner counts once per exercise, with the mistake of the answer handed in; "
        "`mistakes.csv` beside the grade sheet has every row.",
        "",
    ]
    by_exercise: dict[str, list[Count]] = {}
    for c in rows:
        by_exercise.setdefault(c.exercise, []).append(c)
    for grade_id, group in by_exercise.items():
        image = f"{CHART_FOLDER}/{_chart_name(grade_id)}"
        lines += [f"### {md_text(grade_id)}", "", f"![{md_text(grade_id)}: mistakes]({image})", ""]
        for c in group:
            learners = "learner" if c.learners == 1 else "learners"
            lines.append(
                f"- {md_text(grade_id)}: {c.learners} {learners} - {md_text(c.template)} "
                f"({md_text(c.mistake)})"
            )
        lines.append("")
    return "\n".join(lines)


def write_mistakes(
    results: list[LearnerResult], chapter: Chapter, csv_path: Path, report_folder: Path
) -> None:
    """Write mistakes.csv at `csv_path` and the charts under `report_folder`/mistakes/; the chart
    of an exercise without mistakes now, left by an earlier run, is removed."""
    from course_lib import files
    from course_lib.grading.report import write_atomically

    write_atomically(csv_path, mistakes_csv(results, chapter))
    charts = mistake_charts(results, chapter)
    for name, data in charts.items():
        path = report_folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        files.write_atomically(path, lambda handle, data=data: handle.write(data))
    for grade_id in chapter.grade_ids:
        name = f"{CHART_FOLDER}/{_chart_name(grade_id)}"
        stale = report_folder / name
        if name not in charts and stale.is_file() and not stale.is_symlink():
            stale.unlink()
