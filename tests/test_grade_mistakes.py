"""What the class got wrong: mistakes.csv, the charts and report.md's section, from grading a
small class of chapter 01 built by code with known mistakes.

Oracles: the planted class (who made which mistake: answers from the check corpus), the learners'
own feedback files (every hint in them is one learner's mistake, so the CSV's counts are the
hints counted there), the PNG format's signature, and markdown-it's rendering of report.md.
"""

from __future__ import annotations

import csv
import io
import json
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
from check_corpus import corpus

from course_lib.checks.mistakes import template_matches
from course_lib.grading import load_chapter
from course_lib.grading.mistakes import (
    Count,
    chart_png,
    counts,
    mistake_charts,
    mistakes_csv,
    mistakes_markdown,
)
from course_lib.grading.report import learner_json
from course_lib.grading.runner import ExerciseResult, LearnerResult

REPO = Path(__file__).resolve().parents[1]
CORPUS = corpus()
MARKER = "<script>alert('zq-learner')</script>"
HTML_TOKENIZE = f"def tokenize(text):\n    return [{MARKER!r}] + text.split()\n"


def _mistake(grade_id: str, name: str) -> str:
    return CORPUS[grade_id].mistakes[name].source


# learner -> {grade id: the answer cell's source}; every other answer is the solution's
CLASS = {
    "solved": {},
    "split_a": {"ch01_tokenize": _mistake("ch01_tokenize", "split on whitespace only")},
    "split_b": {"ch01_tokenize": _mistake("ch01_tokenize", "split on whitespace only")},
    "split_and_kmers": {
        "ch01_tokenize": _mistake("ch01_tokenize", "split on whitespace only"),
        "ch01_kmers": _mistake("ch01_kmers", "overlapping by default"),
    },
    "unsorted_vocab": {
        "ch01_build_vocab": _mistake("ch01_build_vocab", "order of first appearance")
    },
    "html_in_hint": {"ch01_tokenize": HTML_TOKENIZE},
}


@pytest.fixture(scope="module")
def graded(tmp_path_factory: pytest.TempPathFactory) -> dict:
    chapter = load_chapter(REPO / "solutions", "01")
    solved = nbformat.read(REPO / "solutions" / "01_vocabulary.ipynb", as_version=4)
    learner = nbformat.read(REPO / "chapters" / "01_vocabulary.ipynb", as_version=4)
    cell_of = {s.grade_id: s.cell_id for s in chapter.steps if s.kind == "answer"}
    folder = tmp_path_factory.mktemp("class")
    for name, answers in CLASS.items():
        nb = nbformat.from_dict(json.loads(json.dumps(solved)))
        for grade_id, source in answers.items():
            next(c for c in nb.cells if c.id == cell_of[grade_id]).source = source
        nbformat.write(nb, folder / f"{name}.ipynb")
    nbformat.write(learner, folder / "untouched.ipynb")
    out = tmp_path_factory.mktemp("out")
    command = [
        sys.executable, "-m", "course_lib.grade", str(folder), "--chapter", "01",
        "--solutions", str(REPO / "solutions"), "--out", str(out / "grades.csv"),
        "--feedback", str(out / "feedback"), "--jobs", "2", "--no-originality", "--quiet",
    ]  # fmt: skip
    done = subprocess.run(command, capture_output=True, text=True, timeout=900, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    with (out / "mistakes.csv").open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    return {"out": out, "rows": rows, "chapter": chapter}


def _hints_in_feedback(folder: Path) -> list[tuple[str, str, str]]:
    """(grade id, status, hint) of every exercise a feedback file explains."""
    found = []
    for path in sorted(folder.glob("*.md")):
        lines = path.read_text().splitlines()
        for n, line in enumerate(lines):
            if line.startswith("## ch01_") and ": " in line:
                grade_id, status = line[3:].split(": ", 1)
                fence = lines[n + 2]
                end = lines.index(fence.removesuffix("text"), n + 3)
                found.append((grade_id, status, "\n".join(lines[n + 3 : end])))
    return found


def test_mistakes_csv_counts_the_planted_mistakes(graded: dict) -> None:
    rows = graded["rows"]
    assert list(rows[0]) == ["exercise", "mistake", "hint", "learners"]
    tokenize = [
        r for r in rows if r["exercise"] == "ch01_tokenize" and "not-done" not in r["mistake"]
    ]
    # three learners split on whitespace only, and the fourth's "<script>..." token glues
    # punctuation to a word too: the same mistake
    assert [int(r["learners"]) for r in tokenize] == [4]
    assert "punctuation is glued to a word" in tokenize[0]["hint"]
    assert {r["mistake"] for r in rows if r["exercise"] != "ch01_tokenize"} >= {
        "ch01_build_vocab/not-done",
        "ch01_kmers/not-done",
    }
    kmers = [r for r in rows if r["exercise"] == "ch01_kmers" and "not-done" not in r["mistake"]]
    assert [int(r["learners"]) for r in kmers] == [1]


def test_mistakes_csv_counts_equal_the_hints_in_the_feedback_files(graded: dict) -> None:
    rows = graded["rows"]
    tally = {(r["exercise"], r["mistake"]): 0 for r in rows}
    for grade_id, status, hint in _hints_in_feedback(graded["out"] / "feedback"):
        if status == "not done":
            key = (grade_id, f"{grade_id}/not-done")
        else:
            fitting = [
                (r["exercise"], r["mistake"])
                for r in rows
                if r["exercise"] == grade_id and template_matches(r["hint"], hint)
            ]
            assert len(fitting) == 1, (grade_id, hint)
            key = fitting[0]
        tally[key] += 1
    assert tally == {(r["exercise"], r["mistake"]): int(r["learners"]) for r in rows}


def test_mistakes_csv_is_sorted_by_exercise_then_most_frequent(graded: dict) -> None:
    rows = graded["rows"]
    order = graded["chapter"].grade_ids
    keys = [(order.index(r["exercise"]), -int(r["learners"]), r["mistake"]) for r in rows]
    assert keys == sorted(keys)


def test_report_has_a_section_with_a_chart_per_exercise_and_a_line_per_mistake(
    graded: dict,
) -> None:
    from markdown_it import MarkdownIt

    text = (graded["out"] / "report.md").read_text()
    assert "## What the class got wrong" in text
    html = MarkdownIt("commonmark").render(text)
    assert "ch01_tokenize: 4 learners - punctuation is glued to a word" in html
    exercises = sorted({r["exercise"] for r in graded["rows"]})
    for grade_id in exercises:
        png = graded["out"] / "mistakes" / f"{grade_id}.png"
        assert f'<img src="mistakes/{grade_id}.png"' in html
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert sorted(p.stem for p in (graded["out"] / "mistakes").glob("*.png")) == exercises


def test_a_chart_is_a_pure_function_of_the_counts(graded: dict) -> None:
    # The chart the command wrote, drawn again here from the CSV's rows: the same bytes.
    rows = [
        Count(r["exercise"], r["mistake"], r["hint"], int(r["learners"]))
        for r in graded["rows"]
        if r["exercise"] == "ch01_tokenize"
    ]
    written = (graded["out"] / "mistakes" / "ch01_tokenize.png").read_bytes()
    assert chart_png("ch01_tokenize", rows) == written


def test_no_learner_text_reaches_the_report_or_the_csv(graded: dict) -> None:
    from markdown_it import MarkdownIt

    feedback = (graded["out"] / "feedback" / "html_in_hint.md").read_text()
    assert "zq-learner" in feedback  # the learner's text did reach the learner's own hint
    report = (graded["out"] / "report.md").read_text()
    sheet = (graded["out"] / "mistakes.csv").read_text()
    assert "zq-learner" not in report and "zq-learner" not in sheet
    html = MarkdownIt("commonmark").render(report)
    assert "<script" not in html


# ----------------------------------------------------------------------------- by data


def _result(learner: str, *exercises: tuple[str, str, str, str]) -> LearnerResult:
    return LearnerResult(
        learner,
        "ok",
        [ExerciseResult(g, 0.0, 1.0, status, "a hint", m, t) for g, status, m, t in exercises],
    )


def test_counts_count_each_learner_once_per_exercise_and_skip_passes_and_unrun():
    chapter = load_chapter(REPO / "solutions", "01")
    results = [
        _result("a", ("ch01_encode", "fail", "ch01_encode/x-1", "x …"),
                ("ch01_kmers", "pass", "", "")),
        _result("b", ("ch01_encode", "fail", "ch01_encode/x-1", "x …")),
        _result("c", ("ch01_encode", "fail", "ch01_encode/a-2", "a …")),
        _result("d", ("ch01_tokenize", "not run", "", "")),
        _result("e", ("ch01_tokenize", "timeout", "ch01_tokenize/timeout", "out of time")),
    ]  # fmt: skip
    found = [(c.exercise, c.mistake, c.learners) for c in counts(results, chapter)]
    assert found == [
        ("ch01_tokenize", "ch01_tokenize/timeout", 1),
        ("ch01_encode", "ch01_encode/x-1", 2),
        ("ch01_encode", "ch01_encode/a-2", 1),
    ]


def test_mistakes_csv_escapes_cells_a_spreadsheet_would_read_as_formulas():
    chapter = load_chapter(REPO / "solutions", "01")
    results = [_result("a", ("ch01_encode", "fail", "ch01_encode/m-1", "=HYPERLINK(…)"))]
    rows = list(csv.reader(io.StringIO(mistakes_csv(results, chapter))))
    assert rows[1] == ["ch01_encode", "ch01_encode/m-1", "'=HYPERLINK(…)", "1"]


def test_a_class_without_mistakes_gets_a_sentence_and_no_chart():
    chapter = load_chapter(REPO / "solutions", "01")
    results = [_result("a", ("ch01_encode", "pass", "", ""))]
    assert mistake_charts(results, chapter) == {}
    assert "No check found a mistake" in mistakes_markdown(results, chapter)


def test_a_rerun_removes_the_chart_of_an_exercise_without_mistakes_now(tmp_path: Path):
    from course_lib.grading.mistakes import write_mistakes

    chapter = load_chapter(REPO / "solutions", "01")
    before = [_result("a", ("ch01_encode", "fail", "ch01_encode/m-1", "t …"))]
    after = [_result("a", ("ch01_kmers", "fail", "ch01_kmers/m-2", "u …"))]
    write_mistakes(before, chapter, tmp_path / "mistakes.csv", tmp_path)
    (tmp_path / "mistakes" / "notes.png").write_bytes(b"the instructor's own file")
    write_mistakes(after, chapter, tmp_path / "mistakes.csv", tmp_path)
    assert sorted(p.name for p in (tmp_path / "mistakes").iterdir()) == [
        "ch01_kmers.png",
        "notes.png",
    ]


def test_learner_json_carries_the_mistake_of_each_exercise():
    chapter = load_chapter(REPO / "solutions", "01")
    result = _result(
        "a",
        ("ch01_encode", "fail", "ch01_encode/m-1", "t"),
        ("ch01_kmers", "pass", "", ""),
    )
    data = json.loads(learner_json(result, chapter))
    assert [e["mistake"] for e in data["exercises"]] == ["ch01_encode/m-1", ""]
