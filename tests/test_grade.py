"""The grader on planted submissions built from the fixture chapter, each with its expected score.

Oracle: the fixture chapter's points (double 1, count_words 2, reverse 2; max 5) and what each
planted submission gets right by construction. One grading run covers most plants (kernel
start-ups dominate the time); the command line is exercised on a few.
"""

from __future__ import annotations

import copy
import csv
import hashlib
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from course_lib import notebooks
from course_lib.grade import (
    GradeOptions,
    find_submissions,
    grade_all,
    grades_csv,
    load_chapter,
    prepare,
)

FIXTURE = Path(__file__).parent / "fixtures" / "course"
CELL_TIMEOUT = 3.0

WRONG_DOUBLE = "def double(x):\n    return x + 1"
HIDDEN_ONLY_COUNT = "def count_words(text):\n    return text.count(' ') + 1"
WRONG_REVERSE = "def reverse(items):\n    items.reverse()\n    return items"


def _load(path: Path) -> dict:
    return json.loads(path.read_text())


def _cell(nb: dict, cell_id: str) -> dict:
    return next(c for c in nb["cells"] if c["id"] == cell_id)


def _set(nb: dict, cell_id: str, source: str) -> None:
    _cell(nb, cell_id)["source"] = source


def _insert_after(nb: dict, cell_id: str, source: str) -> None:
    index = next(i for i, c in enumerate(nb["cells"]) if c["id"] == cell_id)
    cell = {
        "cell_type": "code",
        "execution_count": None,
        "id": f"added-{index}",
        "metadata": {},
        "outputs": [],
        "source": source,
    }
    nb["cells"].insert(index + 1, cell)


def _plants(solved: dict, learner: dict) -> dict[str, tuple[dict | bytes, float]]:
    """Planted submissions: learner id -> (notebook or raw bytes, expected score)."""
    plants: dict[str, tuple[dict | bytes, float]] = {}

    def variant(name: str, score: float, base: dict = solved):
        nb = copy.deepcopy(base)
        plants[name] = (nb, score)
        return nb

    variant("all_correct", 5)
    variant("untouched", 0, learner)
    nb = variant("one_wrong", 4)
    _set(nb, "ch00_double_answer", WRONG_DOUBLE)
    nb = variant("hidden_only", 3)
    _set(nb, "ch00_count_words_answer", HIDDEN_ONLY_COUNT)
    nb = variant("check_deleted", 4)  # wrong double, and its check cell deleted
    _set(nb, "ch00_double_answer", WRONG_DOUBLE)
    nb["cells"] = [c for c in nb["cells"] if c["id"] != "ch00_double"]
    nb = variant("check_edited", 3)  # wrong reverse, its check edited to pass
    _set(nb, "ch00_reverse_answer", WRONG_REVERSE)
    _set(nb, "ch00_reverse", "print('all good')")
    nb = variant("check_shadowed", 3)  # wrong reverse, `check` replaced by a fake
    _set(nb, "ch00_reverse_answer", WRONG_REVERSE + "\n\nclass check:\n    reverse = print")
    nb = variant("syntax_error", 3)
    _set(nb, "ch00_count_words_answer", "def count_words(text)\n    return len(text.split())")
    nb = variant("infinite_loop", 4)
    _set(nb, "ch00_double_answer", "def double(x):\n    while True:\n        pass")
    nb = variant("stubborn_loop", 3)  # swallows the interrupt: the kernel is restarted
    _set(
        nb,
        "ch00_reverse_answer",
        "def reverse(items):\n    while True:\n        try:\n"
        "            import time; time.sleep(0.05)\n        except KeyboardInterrupt:\n"
        "            pass",
    )
    nb = variant("kernel_crash", 3)
    _set(nb, "ch00_count_words_answer", "import os\n\ndef count_words(text):\n    os._exit(1)")
    nb = variant("flood", 5)  # prints 100 MB
    _insert_after(nb, "cell-001", "for _ in range(100_000):\n    print('x' * 1000)")
    nb = variant("writes_and_moves", 5)
    _insert_after(
        nb,
        "cell-001",
        "import os\nopen('out.txt', 'w').write('x')\nos.makedirs('sub')\n"
        "os.chdir('sub')\nopen('deeper.txt', 'w').write('y')\nos.chdir('/')",
    )
    plants["not_a_notebook"] = (b"this is a text file, not a notebook\n", 0)
    return plants


@pytest.fixture(scope="module")
def course(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("course") / "course"
    shutil.copytree(FIXTURE, root)
    notebooks.write(root)
    return root


@pytest.fixture(scope="module")
def kernel_path():
    """The fixture's check module must be importable in the grading kernels."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv(
            "PYTHONPATH", os.pathsep.join([str(FIXTURE), os.environ.get("PYTHONPATH", "")])
        )
        yield


@pytest.fixture(scope="module")
def planted(course: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict]:
    folder = tmp_path_factory.mktemp("submissions")
    solved = _load(course / "solutions" / "00_fixture.ipynb")
    learner = _load(course / "chapters" / "00_fixture.ipynb")
    expected = {}
    for name, (content, score) in _plants(solved, learner).items():
        data = content if isinstance(content, bytes) else json.dumps(content, indent=1).encode()
        (folder / f"{name}.ipynb").write_bytes(data)
        expected[name] = score
    return folder, expected


def _hashes(folder: Path) -> dict[str, str]:
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
    }


@pytest.fixture(scope="module")
def graded(course: Path, planted: tuple[Path, dict], kernel_path) -> dict:
    folder, _ = planted
    before = _hashes(folder)
    cwd = Path.cwd()
    chapter = load_chapter(course / "solutions", "00")
    options = GradeOptions(cell_timeout=CELL_TIMEOUT, timeout=120)
    results = grade_all(find_submissions([folder]), chapter, options, jobs=1, progress=False)
    return {
        "results": {r.learner: r for r in results},
        "before": before,
        "after": _hashes(folder),
        "cwd": cwd,
        "chapter": chapter,
    }


def test_every_planted_submission_gets_its_expected_score(graded: dict, planted: tuple) -> None:
    _, expected = planted
    scores = {name: result.score for name, result in graded["results"].items()}
    assert scores == expected


def test_every_learner_is_scored_out_of_the_chapter_maximum(graded: dict) -> None:
    assert {r.max_score for r in graded["results"].values()} == {5}


def test_submissions_are_byte_identical_after_grading(graded: dict) -> None:
    assert graded["after"] == graded["before"]


def test_status_names_what_went_wrong_with_the_run(graded: dict) -> None:
    status = {name: r.status for name, r in graded["results"].items()}
    assert status["all_correct"] == "ok"
    assert status["untouched"] == "ok"
    assert status["infinite_loop"] == "timeout"
    assert status["stubborn_loop"] == "timeout"
    assert status["kernel_crash"] == "kernel died"
    assert status["not_a_notebook"] == "not a notebook"
    assert status["flood"] == "ok"


def test_per_exercise_results_say_why(graded: dict) -> None:
    def result(learner: str, grade_id: str):
        return next(e for e in graded["results"][learner].exercises if e.grade_id == grade_id)

    assert result("untouched", "ch00_double").status == "not done"
    wrong = result("one_wrong", "ch00_double")
    assert wrong.status == "fail" and "double(3) gave 4, expected 6" in wrong.message
    hidden = result("hidden_only", "ch00_count_words")
    assert hidden.status == "error" and "the empty text has no words" in hidden.message
    assert result("check_edited", "ch00_reverse").status == "fail"
    assert "NameError" in result("syntax_error", "ch00_count_words").message
    assert any("SyntaxError" in text for text in graded["results"]["syntax_error"].other_errors)
    assert result("infinite_loop", "ch00_double").status == "timeout"
    assert result("infinite_loop", "ch00_reverse").status == "pass"
    assert result("kernel_crash", "ch00_count_words").status == "kernel died"
    assert result("kernel_crash", "ch00_reverse").status == "pass"
    assert result("stubborn_loop", "ch00_reverse").status == "timeout"


def test_flood_output_is_capped_per_cell(graded: dict) -> None:
    nb = graded["results"]["flood"].notebook
    sizes = [len(json.dumps(cell.get("outputs", []))) for cell in nb.cells]
    assert max(sizes) < 50_000
    assert any(
        "output cut by the grader" in json.dumps(cell.get("outputs", [])) for cell in nb.cells
    )


def test_grading_leaves_the_graders_working_directory_alone(graded: dict) -> None:
    assert Path.cwd() == graded["cwd"]
    assert not (graded["cwd"] / "out.txt").exists()


def test_grade_sheet_is_sorted_and_deterministic(graded: dict) -> None:
    results = list(graded["results"].values())
    text = grades_csv(results, graded["chapter"])
    assert text == grades_csv(list(reversed(results)), graded["chapter"])
    rows = list(csv.DictReader(text.splitlines()))
    assert [r["student_id"] for r in rows] == sorted(graded["results"])
    assert list(rows[0]) == [
        "student_id",
        "assignment",
        "ch00_double",
        "ch00_count_words",
        "ch00_reverse",
        "score",
        "max_score",
        "status",
    ]
    one_wrong = next(r for r in rows if r["student_id"] == "one_wrong")
    assert (one_wrong["ch00_double"], one_wrong["score"], one_wrong["max_score"]) == ("0", "4", "5")


# ------------------------------------------------------------------ preparing (no kernel needed)


def test_deleted_check_is_reinserted_right_after_its_exercise(course: Path) -> None:
    import nbformat

    chapter = load_chapter(course / "solutions", "00")
    nb = nbformat.read(course / "chapters" / "00_fixture.ipynb", as_version=4)
    nb.cells = [c for c in nb.cells if c.id != "ch00_count_words"]
    run, graded = prepare(nb, chapter)
    index = next(i for i, g in graded.items() if g == "ch00_count_words")
    assert run.cells[index - 1].source.startswith("def count_words")
    assert "### BEGIN HIDDEN TESTS" in run.cells[index].source
    assert list(graded.values()) == ["ch00_double", "ch00_count_words", "ch00_reverse"]


def test_edited_check_is_replaced_and_check_is_rebound(course: Path) -> None:
    import nbformat

    chapter = load_chapter(course / "solutions", "00")
    nb = nbformat.read(course / "chapters" / "00_fixture.ipynb", as_version=4)
    next(c for c in nb.cells if c.id == "ch00_reverse").source = "pass"
    run, graded = prepare(nb, chapter)
    index = next(i for i, g in graded.items() if g == "ch00_reverse")
    assert run.cells[index].source.splitlines() == [
        "import fixture_checks as check  # restored by the grader",
        "reverse = check.reverse(reverse)",
        "### BEGIN HIDDEN TESTS",
        "assert reverse([]) == []",
        "### END HIDDEN TESTS",
    ]


def test_private_tests_are_appended_and_unknown_ones_rejected(course: Path, tmp_path: Path) -> None:
    (tmp_path / "ch00_double.py").write_text("assert double(10**6) == 2 * 10**6\n")
    chapter = load_chapter(course / "solutions", "00", tests=tmp_path)
    double = next(e for e in chapter.exercises if e.grade_id == "ch00_double")
    assert double.source.endswith("assert double(10**6) == 2 * 10**6\n")
    (tmp_path / "ch00_typo.py").write_text("assert False\n")
    with pytest.raises(ValueError, match="ch00_typo"):
        load_chapter(course / "solutions", "00", tests=tmp_path)


def test_learner_ids_come_from_file_stems_and_single_notebook_folders(tmp_path: Path) -> None:
    (tmp_path / "class").mkdir()
    (tmp_path / "class" / "ann.ipynb").write_text("{}")
    (tmp_path / "class" / "bob").mkdir()
    (tmp_path / "class" / "bob" / "01_vocabulary.ipynb").write_text("{}")
    (tmp_path / "class" / "cat").mkdir()
    found = find_submissions([tmp_path / "class"])
    assert [(s.learner, s.problem) for s in found] == [
        ("ann", ""),
        ("bob", ""),
        ("cat", "no notebook"),
    ]
    single = tmp_path / "dan"
    single.mkdir()
    (single / "whatever.ipynb").write_text("{}")
    assert find_submissions([single])[0].learner == "dan"
    with pytest.raises(ValueError, match="learner id 'ann'"):
        find_submissions([tmp_path / "class", tmp_path / "class" / "ann.ipynb"])


# ------------------------------------------------------------------ the command line


def test_command_line_writes_sheet_and_feedback_and_a_parallel_rerun_gives_the_same_bytes(
    course: Path, tmp_path: Path, kernel_path
) -> None:
    solved = _load(course / "solutions" / "00_fixture.ipynb")
    subs = tmp_path / "subs"
    subs.mkdir()
    (subs / "ann.ipynb").write_text(json.dumps(solved))
    tricky = copy.deepcopy(solved)  # passes the visible check, fails the private test
    _set(tricky, "ch00_double_answer", "def double(x):\n    return 2 * x if x < 100 else 0")
    (subs / "bob.ipynb").write_text(json.dumps(tricky))
    private = tmp_path / "private"
    private.mkdir()
    (private / "ch00_double.py").write_text("assert double(500) == 1000, 'large numbers too'\n")
    command = [
        sys.executable,
        "-m",
        "course_lib.grade",
        str(subs),
        "--solutions",
        str(course / "solutions"),
        "--tests",
        str(private),
        "--cell-timeout",
        "20",
        "--out",
        str(tmp_path / "grades.csv"),
        "--feedback",
        str(tmp_path / "feedback"),
        "--quiet",
    ]
    first = subprocess.run(command, capture_output=True, text=True, cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    sheet = (tmp_path / "grades.csv").read_bytes()
    assert sheet.decode().splitlines()[1:] == [
        "ann,00_fixture,1,2,2,5,5,ok",
        "bob,00_fixture,0,2,2,4,5,ok",
    ]
    feedback = (tmp_path / "feedback" / "bob.md").read_text()
    assert "| ch00_double | 0 / 1 | error |" in feedback
    assert "large numbers too" in feedback
    assert "**4 / 5**" in feedback
    again = subprocess.run([*command, "--jobs", "2"], capture_output=True, text=True, cwd=tmp_path)
    assert again.returncode == 0
    assert (tmp_path / "grades.csv").read_bytes() == sheet
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "feedback",
        "grades.csv",
        "private",
        "subs",
    ]  # no temp files left


def test_command_line_rejects_a_missing_chapter_with_a_clear_error(
    course: Path, tmp_path: Path
) -> None:
    (tmp_path / "a.ipynb").write_text("{}")
    command = [
        sys.executable,
        "-m",
        "course_lib.grade",
        str(tmp_path / "a.ipynb"),
        "--chapter",
        "42",
        "--solutions",
        str(course / "solutions"),
    ]
    result = subprocess.run(command, capture_output=True, text=True, cwd=tmp_path)
    assert result.returncode == 2
    assert "no solution notebook for chapter 42" in result.stderr
    assert not (tmp_path / "grades.csv").exists()


def test_submission_folder_is_never_written(graded: dict, planted: tuple) -> None:
    folder, expected = planted
    assert sorted(p.stem for p in folder.iterdir()) == sorted(expected)


# ------------------------------------------------------------------ the real chapter 01

REPO = Path(__file__).resolve().parents[1]


@pytest.mark.skipif(
    not (REPO / "solutions" / "01_vocabulary.py").exists(), reason="chapter 01 not written yet"
)
def test_real_chapter_01_solution_scores_full_marks_and_learner_version_none(
    tmp_path: Path,
) -> None:
    files = notebooks.build(REPO)
    for folder in ("solutions", "chapters"):
        text = files[Path(folder) / "01_vocabulary.ipynb"]
        (tmp_path / f"{folder}.ipynb").write_text(text)
    chapter = load_chapter(REPO / "solutions", "01")
    found = find_submissions([tmp_path])
    results = {r.learner: r for r in grade_all(found, chapter, GradeOptions(60, 300), 1, False)}
    assert results["solutions"].score == chapter.max_score > 0
    assert results["chapters"].score == 0
    assert {e.status for e in results["chapters"].exercises} == {"not done"}
    assert results["solutions"].status == results["chapters"].status == "ok"
