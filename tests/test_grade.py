"""The grader on planted submissions, built by code from the fixture chapter, each with the score
its honest work earns.

Oracle: the fixture chapter's points (double 1, count_words 2, reverse 1 + 1; max 5) and what
each planted submission gets right by construction. Forgeries start from the untouched learner
notebook, so the only honest score for them is 0. One grading run covers the plants (kernel
start-ups dominate the time); the command line runs on a few.
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
import tempfile
import time
from pathlib import Path

import pytest
from _grading_helpers import copy_of_fixture_course, fixture_course_importable

from course_lib import notebooks
from course_lib.grading import (
    GradeOptions,
    find_submissions,
    grade_all,
    load_chapter,
    make_sandbox,
)
from course_lib.grading.sandbox import bwrap_works

FIXTURE = Path(__file__).parent / "fixtures" / "course"
REPO = Path(__file__).resolve().parents[1]
CELL_TIMEOUT = 4.0
MARK = "course-grade-plant-7f3a"  # in every process a plant leaves behind
SECRET = "hunter2-secret-value"

needs_sandbox = pytest.mark.skipif(bool(bwrap_works()), reason=bwrap_works() or "bwrap works")

WRONG_DOUBLE = "def double(x):\n    return x + 1"
HIDDEN_ONLY_COUNT = "def count_words(text):\n    return text.count(' ') + 1"
REVERSE_IN_PLACE = "def reverse(items):\n    items.reverse()\n    return items"
STUB_DOUBLE = (
    'def double(x: float) -> float:\n    """Return twice `x`."""\n    raise NotImplementedError()'
)


def _load(path: Path) -> dict:
    return json.loads(path.read_text())


def _cell(nb: dict, cell_id: str) -> dict:
    return next(c for c in nb["cells"] if c["id"] == cell_id)


def _set(nb: dict, cell_id: str, source: str) -> None:
    _cell(nb, cell_id)["source"] = source


def _append(nb: dict, cell_id: str, source: str) -> None:
    cell = _cell(nb, cell_id)
    cell["source"] = "".join(cell["source"]) + "\n\n" + source


def _insert_after(nb: dict, cell_id: str, source: str) -> None:
    index = next(i for i, c in enumerate(nb["cells"]) if c["id"] == cell_id)
    cell = {
        "cell_type": "code",
        "execution_count": None,
        "id": f"added-{index}-{len(nb['cells'])}",
        "metadata": {},
        "outputs": [],
        "source": source,
    }
    nb["cells"].insert(index + 1, cell)


LEAK = """
import os, glob
found = [f"{k}={v}" for k, v in os.environ.items()]
for path in glob.glob("/**/*", recursive=True)[:20000]:
    if path.endswith((".py", ".ipynb", ".csv", ".md")) and "site-packages" not in path:
        try:
            found.append(path + ":" + open(path).read(2000))
        except OSError:
            pass
text = " | ".join(found)
print(text)

def double(x):
    raise ValueError(text)
"""

DETACHED = f"""
import subprocess
subprocess.Popen(["sh", "-c", "exec -a {MARK} sleep 120"], start_new_session=True)
"""


def _plants(solved: dict, learner: dict) -> dict[str, tuple[dict | bytes, float]]:
    """Planted submissions: learner id -> (notebook or raw bytes, the score honest work earns)."""
    plants: dict[str, tuple[dict | bytes, float]] = {}

    def variant(name: str, score: float, base: dict = solved) -> dict:
        nb = copy.deepcopy(base)
        plants[name] = (nb, score)
        return nb

    variant("all_correct", 5)
    variant("untouched", 0, learner)
    _set(variant("one_wrong", 4), "ch00_double_answer", WRONG_DOUBLE)
    _set(variant("hidden_only", 3), "ch00_count_words_answer", HIDDEN_ONLY_COUNT)
    _set(variant("reverse_in_place", 4), "ch00_reverse_answer", REVERSE_IN_PLACE)
    nb = variant("check_deleted", 4)  # wrong double, and its check cell deleted
    _set(nb, "ch00_double_answer", WRONG_DOUBLE)
    nb["cells"] = [c for c in nb["cells"] if c["id"] != "ch00_double"]
    nb = variant("check_edited", 4)  # wrong double, its check edited to pass
    _set(nb, "ch00_double_answer", WRONG_DOUBLE)
    _set(nb, "ch00_double", "print('all good')")
    nb = variant("check_shadowed", 4)  # wrong double, `check` replaced by a fake
    _set(nb, "ch00_double_answer", WRONG_DOUBLE + "\n\nclass check:\n    double = print")
    syntax = "def count_words(text)\n    return len(text.split())"
    _set(variant("syntax_error", 3), "ch00_count_words_answer", syntax)
    loop = "def double(x):\n    while True:\n        pass"
    _set(variant("infinite_loop", 4), "ch00_double_answer", loop)
    stubborn = (
        "def reverse(items):\n    while True:\n        try:\n"
        "            import time; time.sleep(0.05)\n        except KeyboardInterrupt:\n"
        "            pass"
    )
    _set(variant("stubborn_loop", 3), "ch00_reverse_answer", stubborn)
    crash = "import os\n\ndef count_words(text):\n    os._exit(1)"
    _set(variant("kernel_crash", 3), "ch00_count_words_answer", crash)
    flood = "def double(x):\n    return 2 * x\n\nfor _ in range(100_000):\n    print('x' * 1000)"
    _set(variant("flood", 5), "ch00_double_answer", flood)
    exits = "def double(x):\n    return 2 * x\n\nexit()"
    _set(variant("exit_in_answer", 4), "ch00_double_answer", exits)
    # Forgeries, each on the untouched notebook: honest work there is worth nothing.
    env = 'import os\nos.environ["COURSE_LIB_GRADING"] = "0"'
    _insert_after(variant("forge_env_cell", 0, learner), "cell-001", env)
    _append(variant("forge_env_answer", 0, learner), "ch00_double_answer", env)
    startup = (
        "from pathlib import Path\n"
        "folder = Path(get_ipython().profile_dir.startup_dir)\n"
        "folder.mkdir(parents=True, exist_ok=True)\n"
        "(folder / '00-forge.py').write_text('def double(x):\\n    return 2 * x\\n')"
    )
    _append(variant("forge_startup_a", 0, learner), "ch00_double_answer", startup)
    variant("forge_startup_b", 0, learner)  # graded after _a: must not see its startup file
    if not bwrap_works():  # only a sandbox contains these (see the unsandboxed test below)
        kill = "import os, signal\nos.kill(os.getppid(), signal.SIGKILL)"
        _append(variant("forge_kill_parent", 0, learner), "ch00_double_answer", kill)
        _append(variant("forge_detached", 0, learner), "ch00_double_answer", DETACHED)
    patch = (
        "import course_lib.checks as c\n"
        "c.Exercise.run = lambda self, fn: c.Outcome('pass', self.points, self.points)\n"
        "c.call_learner = lambda fn, *a, **k: 6"
    )
    _append(variant("forge_patch_checks", 0, learner), "ch00_double_answer", patch)
    always = (
        "class Anything(list):\n    def __eq__(self, other):\n        return True\n\n"
        "def double(x):\n    return Anything()"
    )
    _set(variant("forge_always_equal", 0, learner), "ch00_double_answer", always)
    _set(variant("forge_leak", 0, learner), "ch00_double_answer", LEAK)
    imported = "from fixture_checks import _double_reference as double"
    _set(variant("forge_import_reference", 0, learner), "ch00_double_answer", imported)
    plants["not_a_notebook"] = (b"this is a text file, not a notebook\n", 0)
    return plants


@pytest.fixture(scope="module")
def course(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return copy_of_fixture_course(tmp_path_factory.mktemp("course") / "course")


@pytest.fixture(scope="module")
def fixture_path():
    """The fixture's check module must be importable in the grader and its workers."""
    with fixture_course_importable(), pytest.MonkeyPatch.context() as patch:
        patch.setenv("COURSE_SECRET", SECRET)
        yield


@pytest.fixture(scope="module")
def planted(course: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict]:
    folder = tmp_path_factory.mktemp("submissions")
    solved = _load(course / "solutions" / "00_fixture.ipynb")
    learner = _load(course / "chapters" / "00_fixture.ipynb")
    expected = {}
    for name, (content, score) in _plants(solved, learner).items():
        data = content if isinstance(content, bytes) else json.dumps(content, indent=1).encode()
        suffix = ".txt" if name == "not_a_notebook" else ".ipynb"
        (folder / f"{name}{suffix}").write_bytes(data)
        if suffix == ".ipynb":
            expected[name] = score
    (folder / "notes.txt").write_text("a stray file is not a learner")
    (folder / "all_correct.txt").write_text("nor is a file beside a notebook")
    return folder, expected


def _hashes(folder: Path) -> dict[str, str]:
    """Each file's hash, leaving out `__pycache__/`: Python itself writes bytecode there when it
    imports the fixture's checks (unless PYTHONDONTWRITEBYTECODE is set), not the grader."""
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file() and "__pycache__" not in p.relative_to(folder).parts
    }


def _marked_processes() -> list[str]:
    done = subprocess.run(
        ["ps", "-eo", "args"], capture_output=True, text=True, check=False, timeout=60
    )
    return [line for line in done.stdout.splitlines() if MARK in line and "ps -eo" not in line]


def _cli(course: Path, *args: str, tmp: Path | None = None) -> subprocess.CompletedProcess:
    """The grader's command line; with `tmp`, its temporary folder (TMPDIR) is that folder."""
    command = [sys.executable, "-m", "course_lib.grade", "--solutions", str(course / "solutions")]
    env = None if tmp is None else {**os.environ, "TMPDIR": str(tmp)}
    return subprocess.run(
        [*command, *args], capture_output=True, text=True, timeout=900, check=False, env=env
    )


def _processes_mentioning(text: str) -> list[str]:
    """Command lines of running processes that mention `text` (a kernel names its connection
    file, which lies in the grader's temporary folder)."""
    found = []
    for proc in Path("/proc").iterdir():
        try:
            args = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if text in args and "pytest" not in args:
            found.append(f"{proc.name}: {args}")
    return found


def _leftovers(tmp: Path) -> list[str]:
    """What a grading run left in its temporary folder (the font cache is kept on purpose)."""
    return sorted(p.name for p in tmp.iterdir() if p.name.startswith("course-grade-"))


@pytest.fixture(scope="module")
def graded(course: Path, planted: tuple[Path, dict], fixture_path, tmp_path_factory) -> dict:
    folder, _ = planted
    out = tmp_path_factory.mktemp("out")
    before = _hashes(folder)
    cwd_before = _hashes(Path.cwd() / "tests")
    tests = tmp_path_factory.mktemp("private")
    (tests / "ch00_double.py").write_text("assert double(21) == 42, 'PRIVATE_TEXT_123'\n")
    args = [
        str(folder),
        "--chapter",
        "00",
        "--tests",
        str(tests),
        "--cell-timeout",
        str(CELL_TIMEOUT),
        "--timeout",
        "120",
        "--out",
        str(out / "grades.csv"),
        "--feedback",
        str(out / "feedback"),
        "--release-hidden",  # the hints of hidden tests, as learners see them after release
        "--jobs",
        "2",
    ]
    first = _cli(course, *args)
    time.sleep(1)
    survivors = _marked_processes()
    rerun = _cli(course, *[a if a != "2" else "1" for a in args[:-1]], "1", "--quiet")
    with (out / "grades.csv").open() as handle:
        rows = {row["student_id"]: row for row in csv.DictReader(handle)}
    return {
        "first": first,
        "rerun": rerun,
        "rows": rows,
        "sheet_first": (out / "grades.csv").read_bytes(),
        "out": out,
        "before": before,
        "after": _hashes(folder),
        "cwd_before": cwd_before,
        "cwd_after": _hashes(Path.cwd() / "tests"),
        "survivors": survivors,
    }


def test_the_command_line_runs_and_exits_zero(graded: dict) -> None:
    assert graded["first"].returncode == 0, graded["first"].stderr[-2000:]


def test_every_planted_submission_gets_the_score_its_honest_work_earns(
    graded: dict, planted: tuple
) -> None:
    _, expected = planted
    scores = {name: float(row["score"]) for name, row in graded["rows"].items()}
    assert scores == expected


def test_stray_files_are_not_learners(graded: dict) -> None:
    assert "notes" not in graded["rows"] and "not_a_notebook" not in graded["rows"]


def test_grading_twice_gives_byte_identical_sheets_also_with_one_job(graded: dict) -> None:
    assert graded["rerun"].returncode == 0, graded["rerun"].stderr[-2000:]
    assert (graded["out"] / "grades.csv").read_bytes() == graded["sheet_first"]


def test_submissions_and_the_working_tree_are_unchanged(graded: dict) -> None:
    assert graded["after"] == graded["before"]
    assert graded["cwd_after"] == graded["cwd_before"]


def test_status_names_what_went_wrong_with_the_run(graded: dict) -> None:
    status = {name: row["status"] for name, row in graded["rows"].items()}
    assert status["all_correct"] == "ok"
    assert status["untouched"] == "ok"
    assert "timeout" in status["infinite_loop"]
    assert "timeout" in status["stubborn_loop"]
    assert "kernel died" in status["kernel_crash"]
    assert "exit()" in status["exit_in_answer"]


def test_per_exercise_points_show_partial_credit(graded: dict) -> None:
    row = graded["rows"]["reverse_in_place"]
    assert (row["ch00_double"], row["ch00_count_words"], row["ch00_reverse"]) == ("1", "2", "1")


def _feedback(graded: dict, learner: str) -> str:
    return (graded["out"] / "feedback" / f"{learner}.md").read_text()


def test_feedback_gives_the_checks_hint(graded: dict) -> None:
    assert "multiply by two" in _feedback(graded, "one_wrong")
    assert "hidden test failed" in _feedback(graded, "hidden_only")
    assert "changed its input list" in _feedback(graded, "reverse_in_place")


def test_feedback_holds_no_hidden_or_private_test_text_nor_secrets(graded: dict) -> None:
    hidden = ['count_words("")', "leading and trailing", "PRIVATE_TEXT_123", "double(21)"]
    for path in (graded["out"] / "feedback").glob("*.md"):
        text = path.read_text()
        for secret in [*hidden, SECRET]:
            assert secret not in text, (path.name, secret)


@needs_sandbox
def test_the_leaking_submission_sees_no_secret_no_solution_and_no_other_learner(
    graded: dict,
) -> None:
    text = _feedback(graded, "forge_leak")
    assert SECRET not in text
    assert "BEGIN SOLUTION" not in text and "all_correct" not in text


@needs_sandbox
def test_no_process_a_submission_started_outlives_grading(graded: dict) -> None:
    assert graded["survivors"] == []


def test_the_tampering_report_flags_forgeries(graded: dict) -> None:
    from markdown_it import MarkdownIt

    # As the instructor reads it: the report rendered (learner text in it is escaped).
    report = MarkdownIt("commonmark").render((graded["out"] / "report.md").read_text())
    for learner in (
        "forge_env_answer",
        "forge_patch_checks",
        "check_edited",
        "forge_import_reference",
    ):
        assert f"<h2>{learner}</h2>" in report
    assert "touches os.environ" in report
    assert "the check cell was edited" in report
    assert "does not define double() itself" in report


def test_a_notebook_of_another_chapter_is_reported_as_such(
    course: Path, fixture_path, tmp_path: Path
) -> None:
    (tmp_path / "subs").mkdir()
    (tmp_path / "subs" / "carol.ipynb").write_bytes(
        (REPO / "chapters" / "01_vocabulary.ipynb").read_bytes()
    )
    done = _cli(course, str(tmp_path / "subs"), "--chapter", "00", "--out", str(tmp_path / "g.csv"))
    assert done.returncode == 0, done.stderr
    assert "another chapter (01)" in (tmp_path / "g.csv").read_text()


def test_command_line_rejects_a_missing_chapter_with_a_clear_error(
    course: Path, tmp_path: Path
) -> None:
    (tmp_path / "a.ipynb").write_text("{}")
    done = _cli(course, str(tmp_path), "--chapter", "07", "--out", str(tmp_path / "g.csv"))
    assert done.returncode == 2
    assert "no solution notebook for chapter 07" in done.stderr
    assert not (tmp_path / "g.csv").exists()


def test_lms_export_and_late_penalty(course: Path, fixture_path, tmp_path: Path) -> None:
    subs = tmp_path / "subs"
    subs.mkdir()
    solved = (course / "solutions" / "00_fixture.ipynb").read_bytes()
    for name in ("ann", "ben"):
        (subs / f"{name}.ipynb").write_bytes(solved)
    (tmp_path / "times.csv").write_text(
        "student_id,submitted_at\nann,2026-11-30T12:00\nben,2026-12-02T09:00\n"
    )
    (tmp_path / "roster.csv").write_text("student_id,email\nann,ann@example.org\n")
    done = _cli(
        course,
        str(subs),
        "--chapter",
        "00",
        "--out",
        str(tmp_path / "g.csv"),
        "--deadline",
        "2026-12-01T23:59",
        "--times",
        str(tmp_path / "times.csv"),
        "--late-penalty",
        "0.2",
        "--format",
        "moodle",
        "--roster",
        str(tmp_path / "roster.csv"),
    )
    assert done.returncode == 0, done.stderr
    rows = {r["student_id"]: r for r in csv.DictReader((tmp_path / "g.csv").open())}
    assert rows["ann"]["score"] == "5" and rows["ben"]["score"] == "4"
    assert "late" in rows["ben"]["status"]
    export = (tmp_path / "g.moodle.csv").read_text().splitlines()
    assert export[1:] == ["ann@example.org,5", "ben,4"]


def test_submission_discovery_rule(tmp_path: Path) -> None:
    (tmp_path / "alice.ipynb").write_text("{}")
    (tmp_path / "alice.txt").write_text("")
    (tmp_path / "bob").mkdir()
    (tmp_path / "bob" / "01_vocabulary.ipynb").write_text("{}")
    (tmp_path / "carol").mkdir()
    (tmp_path / "carol" / "x.ipynb").write_text("{}")
    (tmp_path / "carol" / "y.ipynb").write_text("{}")
    (tmp_path / "dave").mkdir()
    found = {s.learner: s for s in find_submissions([tmp_path], "01")}
    assert sorted(found) == ["alice", "bob", "carol", "dave"]
    assert found["bob"].path.name == "01_vocabulary.ipynb"
    assert found["carol"].problem == "several notebooks (x.ipynb, y.ipynb)"
    assert found["dave"].problem == "no notebook"


# ---------------------------------------------------------------------------- real chapters


def _summary_total(nb_path: Path) -> str:
    """Run a chapter notebook in a kernel as a learner would; its `checks.summary()` total."""
    import nbformat
    from nbclient import NotebookClient

    nb = nbformat.read(nb_path, as_version=4)
    nb.cells.append(nbformat.v4.new_code_cell("from course_lib import checks\nchecks.summary();"))
    client = NotebookClient(
        nb, timeout=300, startup_timeout=120, allow_errors=True, kernel_name="python3"
    )
    client.execute(cwd=str(nb_path.parent))
    text = "".join(o.get("text", "") for o in nb.cells[-1].outputs)
    # the table's last line; the mistakes met on the way may follow it
    return next(ln for ln in text.splitlines() if ln.startswith("total")).split()[-1]


def test_local_summary_and_grade_agree_on_chapter_01(tmp_path: Path) -> None:
    """All solved, none solved, and each single exercise skipped: same total both ways."""
    import nbformat

    solved = nbformat.read(REPO / "solutions" / "01_vocabulary.ipynb", as_version=4)
    learner = nbformat.read(REPO / "chapters" / "01_vocabulary.ipynb", as_version=4)
    chapter = load_chapter(REPO / "solutions", "01")
    answers = [s for s in chapter.steps if s.kind == "answer"]
    variants = {"all": solved, "none": learner}
    for step in answers:
        nb = copy.deepcopy(solved)
        stub = next(c for c in learner.cells if c.id == step.cell_id)
        next(c for c in nb.cells if c.id == step.cell_id).source = stub.source
        variants[f"skip_{step.grade_id}"] = nb
    folder = tmp_path / "subs"
    folder.mkdir()
    for name, nb in variants.items():
        nbformat.write(nb, folder / f"{name}.ipynb")
    local = {name: _summary_total(folder / f"{name}.ipynb") for name in variants}
    sandbox = make_sandbox(chapter)
    results = grade_all(find_submissions([folder]), chapter, sandbox, GradeOptions(60, 300), 2)
    checked = {g.grade_id for g in chapter.graded}  # written answers are marked by hand, not here

    def total(result) -> str:  # noqa: ANN001
        rows = [e for e in result.exercises if e.grade_id in checked]
        return f"{sum(e.points for e in rows):g}/{sum(e.max_points for e in rows):g}"

    graded = {r.learner: total(r) for r in results}
    assert graded == local
    assert graded["all"] == "8/8" and graded["none"] == "0/8"
    assert all(graded[f"skip_{s.grade_id}"] == "6/8" for s in answers)


def _results_in_feedback(text: str) -> dict[str, str]:
    """grade id -> result, from the table of a learner's feedback ("| ch01_x | 2 / 2 | pass |")."""
    found = {}
    for line in text.splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if len(cells) == 3 and cells[0].startswith("ch"):
            found[cells[0]] = cells[2]
    return found


@pytest.mark.slow
@pytest.mark.parametrize("number", ["01", "02", "03", "04", "05", "06", "07"])
def test_each_chapter_solutions_score_full_marks_and_chapters_none(
    number: str, tmp_path: Path
) -> None:
    from course_lib.grading.cli import main

    folder = tmp_path / "subs"
    folder.mkdir()
    (stem,) = [p.stem for p in (REPO / "solutions").glob(f"{number}_*.ipynb")]
    for side in ("solutions", "chapters"):
        (folder / f"{side}.ipynb").write_bytes((REPO / side / f"{stem}.ipynb").read_bytes())
    out, feedback = tmp_path / "grades.csv", tmp_path / "feedback"
    argv = [str(folder), "--solutions", str(REPO / "solutions"), "--out", str(out)]
    # Generous limits: this test is about scores, and a shared machine can be slow.
    limits = ["--cell-timeout", "600", "--timeout", "1800"]
    released = ["--release-hidden", "--feedback", str(feedback)]
    assert main([*argv, *limits, *released, "--jobs", "2", "--quiet"]) == 0
    rows = {r["student_id"]: r for r in csv.DictReader(out.open())}
    why = (feedback / "solutions.md").read_text()
    chapter = load_chapter(REPO / "solutions", number)
    checked = sum(g.points for g in chapter.graded)  # written answers wait for the instructor
    assert float(rows["solutions"]["score"]) == checked, why
    # Every exercise passes, hidden tests included - the 0-point ones too, which the score hides.
    results = _results_in_feedback(why)
    assert {g.grade_id: results.get(g.grade_id) for g in chapter.graded} == {
        g.grade_id: "pass" for g in chapter.graded
    }, why
    assert float(rows["solutions"]["max_score"]) == chapter.max_score
    assert rows["chapters"]["score"] == "0", rows
    assert rows["solutions"]["status"] == rows["chapters"]["status"] == "ok", rows
    assert rows["solutions"]["flags"] == rows["chapters"]["flags"] == "0", rows


def test_without_a_sandbox_a_learner_who_kills_the_grader_costs_only_their_own_row(
    course: Path, planted: tuple[Path, dict], fixture_path, tmp_path: Path
) -> None:
    folder, _ = planted
    subs = tmp_path / "subs"
    subs.mkdir()
    for name in ("all_correct", "one_wrong"):
        (subs / f"{name}.ipynb").write_bytes((folder / f"{name}.ipynb").read_bytes())
    killer = _load(folder / "untouched.ipynb")
    _append(
        killer, "ch00_double_answer", "import os, signal\nos.kill(os.getppid(), signal.SIGKILL)"
    )
    (subs / "forge_kill_parent.ipynb").write_text(json.dumps(killer))
    out = tmp_path / "g.csv"
    tmp = Path(tempfile.mkdtemp(prefix="cg-", dir="/tmp"))  # short: sockets live in it
    done = _cli(
        course,
        str(subs),
        "--chapter",
        "00",
        "--out",
        str(out),
        "--jobs",
        "2",
        "--no-sandbox",
        "--cell-timeout",
        str(CELL_TIMEOUT),
        tmp=tmp,
    )
    assert done.returncode == 1, done.stderr
    assert "WITHOUT a sandbox" in done.stderr
    rows = {r["student_id"]: r for r in csv.DictReader(out.open())}
    assert rows["all_correct"]["score"] == "5" and rows["one_wrong"]["score"] == "4"
    assert rows["forge_kill_parent"]["status"] == "grader error: worker died twice"
    time.sleep(1)  # a killed worker's kernel gets its parent-death signal at once
    assert _processes_mentioning(str(tmp)) == []
    assert _leftovers(tmp) == []
    shutil.rmtree(tmp)


def test_require_sandbox_refuses_where_bwrap_does_not_work(
    course: Path, fixture_path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "a.ipynb").write_bytes((course / "chapters" / "00_fixture.ipynb").read_bytes())
    monkeypatch.setenv("PATH", str(tmp_path / "no-bwrap-here"))
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "course_lib.grade",
            str(tmp_path),
            "--chapter",
            "00",
            "--solutions",
            str(course / "solutions"),
            "--out",
            str(tmp_path / "g.csv"),
            "--require-sandbox",
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 2
    assert "--require-sandbox: bubblewrap (bwrap) is not installed" in done.stderr


WRITTEN = """

# %% [markdown]
# ### Question 0.4: why test the empty list?

# %% [markdown] nbgrader={"grade": true, "grade_id": "ch00_written_empty", "points": 1, \
"solution": true}
# ### BEGIN SOLUTION
# Because an edge case is where an off-by-one hides.
# ### END SOLUTION
"""


def test_written_answers_are_collected_and_manual_marks_merged_and_kept(
    fixture_path, tmp_path: Path
) -> None:
    course = tmp_path / "course"
    (course / "solutions").mkdir(parents=True)
    text = (FIXTURE / "solutions" / "00_fixture.py").read_text() + WRITTEN
    (course / "solutions" / "00_fixture.py").write_text(text)
    notebooks.write(course)
    solved = _load(course / "solutions" / "00_fixture.ipynb")
    learner = _load(course / "chapters" / "00_fixture.ipynb")
    assert "off-by-one" not in json.dumps(learner)
    _set(solved, "ch00_written_empty", "An empty list has no last item to start from.")
    subs = tmp_path / "subs"
    subs.mkdir()
    (subs / "ann.ipynb").write_text(json.dumps(solved))
    (subs / "ben.ipynb").write_text(json.dumps(learner))
    out = tmp_path / "out" / "grades.csv"
    args = [str(subs), "--chapter", "00", "--out", str(out), "--quiet"]
    assert _cli(course, *args).returncode == 0
    rows = {r["student_id"]: r for r in csv.DictReader(out.open())}
    assert (rows["ann"]["ch00_written_empty"], rows["ann"]["score"]) == ("", "5")
    assert (rows["ben"]["ch00_written_empty"], rows["ann"]["max_score"]) == ("0", "6")
    collected = (out.parent / "answers" / "ch00_written_empty.md").read_text()
    assert "why test the empty list?" in collected
    assert "An empty list has no last item" in collected and "*(no answer)*" in collected
    template = (out.parent / "answers" / "marks-template.csv").read_text().splitlines()
    assert template[0] == "student_id,grade_id,points,max_points"
    marks = tmp_path / "marks.csv"
    marks.write_text("student_id,grade_id,points\nann,ch00_written_empty,1\n")
    assert _cli(course, *args, "--manual", str(marks)).returncode == 0
    first = out.read_bytes()
    rows = {r["student_id"]: r for r in csv.DictReader(out.open())}
    assert (rows["ann"]["ch00_written_empty"], rows["ann"]["score"]) == ("1", "6")
    assert _cli(course, *args, "--manual", str(marks)).returncode == 0
    assert out.read_bytes() == first  # re-grading keeps the marks
    marks.write_text("student_id,grade_id,points\nann,ch00_written_empty,3\n")
    refused = _cli(course, *args, "--manual", str(marks))
    assert refused.returncode == 2 and "out of 1" in refused.stderr
