"""The grader on other platforms: shards merged, two-tier feedback, Gradescope, GitHub Classroom.

Oracle: the fixture chapter (double 1, count_words 2 with a hidden test, reverse 2 with a hidden
test, a written question worth 1; a private test for double), a class of six built by code with
the score each earns by construction, and one run of the grader on the same notebooks: a
platform's adapter must give the scores that run gives.
"""

from __future__ import annotations

import base64
import copy
import csv
import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
import yaml
from _grading_helpers import fixture_course_importable

from course_lib import notebooks
from course_lib.grading.gradescope import RESULTS_KEYS, TEST_KEYS, VISIBILITIES
from course_lib.grading.sandbox import bwrap_works

pytestmark = pytest.mark.timeout(900)

FIXTURE = Path(__file__).parent / "fixtures" / "course"
WRONG_DOUBLE = "def double(x):\n    return x + 1"
HIDDEN_ONLY_COUNT = "def count_words(text):\n    return text.count(' ') + 1"
REVERSE_IN_PLACE = "def reverse(items):\n    items.reverse()\n    return items"
PRIVATE = "assert double(21) == 42, 'PRIVATE_TEXT_123'\n"
WRITTEN = """

# %% [markdown]
# ### Question 0.4: why test the empty list?

# %% [markdown] nbgrader={"grade": true, "grade_id": "ch00_written_empty", "points": 1, \
"solution": true}
# ### BEGIN SOLUTION
# Because an edge case is where an off-by-one hides.
# ### END SOLUTION
"""
# learner -> score by the public checks and the final score (hidden tests included)
CLASS = {
    "ada": (5, 5),  # solved
    "ben": (0, 0),  # untouched
    "cai": (4, 4),  # double wrong: 1 point lost to its public check
    "dee": (5, 3),  # count_words passes its check, fails its hidden test
    "eve": (4, 4),  # reverse changes its input: half of reverse's check
    "fay": (2, 2),  # only count_words done
}


def _cell(nb: dict, cell_id: str) -> dict:
    return next(c for c in nb["cells"] if c["id"] == cell_id)


def _class(solved: dict, learner: dict) -> dict[str, dict]:
    """The six notebooks of CLASS, built from the solved and the learner chapter."""
    made = {"ada": copy.deepcopy(solved), "ben": copy.deepcopy(learner)}
    for name, cell, source in (
        ("cai", "ch00_double_answer", WRONG_DOUBLE),
        ("dee", "ch00_count_words_answer", HIDDEN_ONLY_COUNT),
        ("eve", "ch00_reverse_answer", REVERSE_IN_PLACE),
    ):
        made[name] = copy.deepcopy(solved)
        _cell(made[name], cell)["source"] = source
    made["fay"] = copy.deepcopy(learner)
    _cell(made["fay"], "ch00_count_words_answer")["source"] = _cell(
        solved, "ch00_count_words_answer"
    )["source"]
    _cell(made["ada"], "ch00_written_empty")["source"] = "An empty list has nothing to reverse."
    return made


@pytest.fixture(scope="module")
def fixture_path():
    """The fixture's check module, importable here and in worker processes and kernels."""
    with fixture_course_importable():
        yield


@pytest.fixture(scope="module")
def course(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The fixture chapter with a written question, its notebooks, a private test and CLASS."""
    root = tmp_path_factory.mktemp("platforms")
    (root / "course" / "solutions").mkdir(parents=True)
    text = (FIXTURE / "solutions" / "00_fixture.py").read_text() + WRITTEN
    (root / "course" / "solutions" / "00_fixture.py").write_text(text)
    notebooks.write(root / "course")
    (root / "tests").mkdir()
    (root / "tests" / "ch00_double.py").write_text(PRIVATE)
    solved = json.loads((root / "course" / "solutions" / "00_fixture.ipynb").read_text())
    learner = json.loads((root / "course" / "chapters" / "00_fixture.ipynb").read_text())
    (root / "subs").mkdir()
    for name, nb in _class(solved, learner).items():
        (root / "subs" / f"{name}.ipynb").write_text(json.dumps(nb, indent=1))
    return root


def _grade(root: Path, *args: str) -> subprocess.CompletedProcess:
    """`python -m course_lib.grade ARGS --solutions <the fixture course's>`."""
    solutions = ["--solutions", str(root / "course" / "solutions")]
    command = [sys.executable, "-m", "course_lib.grade", *args, *solutions]
    return subprocess.run(command, capture_output=True, text=True, timeout=600, check=False)


def _files(folder: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()
    }


def _without_times(state: bytes) -> dict:
    """A state file with each learner's measured seconds left out (they differ between runs)."""
    data = json.loads(state)
    for result in data["results"]:
        result.pop("seconds"), result.pop("timings")
    return data


RUN = ["--chapter", "00", "--no-originality", "--quiet", "--format", "plain"]


@pytest.fixture(scope="module")
def sharded(course: Path, fixture_path) -> dict:
    """One run of the class, three shards of it, and the shards merged."""
    tests = ["--tests", str(course / "tests")]
    one = course / "one"
    done = {
        "one": _grade(
            course,
            str(course / "subs"),
            *RUN,
            *tests,
            "--out",
            str(one / "grades.csv"),
            "--feedback",
            str(one / "feedback"),
        )  # fmt: skip
    }
    for k in (1, 2, 3):
        out = course / f"shard{k}"
        done[f"shard{k}"] = _grade(
            course, str(course / "subs"), *RUN, *tests, "--shard", f"{k}/3",
            "--out", str(out / "grades.csv"), "--feedback", str(out / "feedback"),
        )  # fmt: skip
    merged = course / "merged"
    done["merge"] = _grade(
        course, "merge", *(str(course / f"shard{k}") for k in (3, 1, 2)), *tests,
        "--out", str(merged / "grades.csv"), "--feedback", str(merged / "feedback"),
        "--format", "plain",
    )  # fmt: skip
    return done


def test_every_shard_and_the_merge_run_cleanly(sharded: dict) -> None:
    for name, done in sharded.items():
        assert done.returncode == 0, (name, done.stderr[-3000:])


def test_one_run_gives_each_learner_the_final_score_built_in(course: Path, sharded: dict) -> None:
    rows = {r["student_id"]: r for r in csv.DictReader((course / "one" / "grades.csv").open())}
    assert {name: float(row["score"]) for name, row in rows.items()} == {
        name: float(final) for name, (_, final) in CLASS.items()
    }


def test_shards_split_the_class_by_position_in_sorted_order(course: Path, sharded: dict) -> None:
    """Learner i of the sorted class is in shard i mod 3 + 1: ada, dee | ben, eve | cai, fay."""
    got = {}
    for k in (1, 2, 3):
        sheet = (course / f"shard{k}" / "grades.csv").open()
        got[k] = [row["student_id"] for row in csv.DictReader(sheet)]
    assert got == {1: ["ada", "dee"], 2: ["ben", "eve"], 3: ["cai", "fay"]}


def test_merged_shards_write_what_one_run_writes_byte_for_byte(course: Path, sharded: dict) -> None:
    one, merged = _files(course / "one"), _files(course / "merged")
    assert sorted(one) == sorted(merged)
    assert {"grades.csv", "grades.plain.csv", "report.md", "feedback/ada.md"} <= set(one)
    assert "answers/ch00_written_empty.md" in one
    for name in one:
        if name != "grades.state.json":
            assert merged[name] == one[name], name
    # The state holds each learner's measured seconds: equal apart from those.
    assert _without_times(merged["grades.state.json"]) == _without_times(one["grades.state.json"])


def test_merging_a_run_with_itself_reproduces_every_file_state_included(
    course: Path, sharded: dict, fixture_path, tmp_path: Path
) -> None:
    """The same records in, the same bytes out: seconds come from the records, not the clock."""
    out = tmp_path / "again"
    done = _grade(
        course, "merge", str(course / "one"), "--tests", str(course / "tests"),
        "--out", str(out / "grades.csv"), "--feedback", str(out / "feedback"), "--format", "plain",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert _files(out) == _files(course / "one")


@pytest.mark.parametrize(
    ("shards", "said"),
    [
        (["shard1", "shard2"], "shard(s) 3/3 missing"),
        (["shard1", "shard2", "shard3", "shard2"], "shard 2/3 given twice"),
        (["shard1", "shard2", "shard3", "one"], "different numbers of parts"),
    ],
)
def test_merge_refuses_missing_repeated_or_mixed_shards(
    course: Path, sharded: dict, fixture_path, tmp_path: Path, shards: list[str], said: str
) -> None:
    args = [str(course / s) for s in shards]
    done = _grade(course, "merge", *args, "--tests", str(course / "tests"), "--out",
                  str(tmp_path / "g.csv"))  # fmt: skip
    assert done.returncode == 2 and said in done.stderr, done.stderr
    assert not (tmp_path / "g.csv").exists()


def test_merge_refuses_shards_of_other_solutions_or_another_chapter(
    course: Path, sharded: dict, fixture_path, tmp_path: Path
) -> None:
    shards = [str(course / f"shard{k}") for k in (1, 2, 3)]
    # Without the private tests the shards were graded with: other tests, other grades.
    done = _grade(course, "merge", *shards, "--out", str(tmp_path / "g.csv"))
    assert done.returncode == 2 and "private tests differ" in done.stderr, done.stderr
    # A shard whose state says another chapter.
    forged = tmp_path / "forged"
    shutil.copytree(course / "shard3", forged)
    state = json.loads((forged / "grades.state.json").read_text())
    state["chapter"] = "01_vocabulary"
    (forged / "grades.state.json").write_text(json.dumps(state))
    done = _grade(course, "merge", *shards[:2], str(forged), "--out", str(tmp_path / "g.csv"))
    assert done.returncode == 2 and "different chapter" in done.stderr, done.stderr


def test_shard_argument_is_checked(course: Path, fixture_path, tmp_path: Path) -> None:
    done = _grade(course, str(course / "subs"), *RUN, "--shard", "4/3", "--out", str(tmp_path))
    assert done.returncode == 2 and "1 <= K <= N" in done.stderr


# Two tiers -------------------------------------------------------------------------------------


def test_first_tier_feedback_shows_public_checks_and_pending_count_only(
    course: Path, sharded: dict
) -> None:
    """dee's count_words passes its public check and fails its hidden test: before release
    the feedback says pass, 5 public points and 3 hidden properties pending; nothing more."""
    text = (course / "one" / "feedback" / "dee.md").read_text()
    assert "Public checks: **5 / 6**" in text
    assert "3 hidden properties are pending" in text  # count_words, reverse hidden; double private
    assert "| ch00_count_words | 2 / 2 | pass |" in text
    assert "hidden test failed" not in text and "Hidden properties" not in text


def test_released_feedback_names_each_hidden_property_and_its_result_never_its_code(
    course: Path, sharded: dict, fixture_path, tmp_path: Path
) -> None:
    out = tmp_path / "released"
    done = _grade(
        course, "merge", str(course / "one"), "--tests", str(course / "tests"), "--release-hidden",
        "--out", str(out / "grades.csv"), "--feedback", str(out / "feedback"),
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    text = (out / "feedback" / "dee.md").read_text()
    assert "Score: **3 / 6**" in text and "| ch00_count_words | 0 / 2 | fail |" in text
    assert "- `ch00_count_words: hidden tests`: fail" in text
    assert "- `ch00_double: private tests`: pass" in text
    for secret in ('count_words("")', "leading and trailing", "PRIVATE_TEXT_123", "double(21)"):
        assert secret not in text
    # The sheet is the same in both tiers: only what the learner is shown differs.
    assert (out / "grades.csv").read_bytes() == (course / "one" / "grades.csv").read_bytes()


def test_hidden_properties_of_an_exercise_whose_public_check_fails_are_not_run(
    course: Path, sharded: dict
) -> None:
    state = json.loads((course / "one" / "grades.state.json").read_text())
    cai = next(r for r in state["results"] if r["learner"] == "cai")
    double = next(e for e in cai["exercises"] if e["grade_id"] == "ch00_double")
    assert double["public_status"] == "fail" and double["hidden"] == {
        "ch00_double: private tests": "not run"
    }


# Gradescope ------------------------------------------------------------------------------------


def _validate_results(results: dict) -> None:
    """results.json against Gradescope's documented fields and types."""
    assert set(results) <= RESULTS_KEYS, set(results) - RESULTS_KEYS
    assert isinstance(results["score"], float)
    assert isinstance(results["execution_time"], int) and isinstance(results["output"], str)
    assert results.get("stdout_visibility", "visible") in VISIBILITIES
    assert isinstance(results["tests"], list)
    for test in results["tests"]:
        assert set(test) <= TEST_KEYS, set(test) - TEST_KEYS
        assert isinstance(test["name"], str) and isinstance(test["output"], str)
        assert test["visibility"] in VISIBILITIES
        if "score" in test:
            assert isinstance(test["score"], float) and isinstance(test["max_score"], float)
            assert 0 <= test["score"] <= test["max_score"]


def _bwrap_autograder(
    bundle: Path, submission: Path | None, tmp: Path, measure: bool = False
) -> dict:
    """Gradescope's layout in a temporary folder bound at /autograder inside bubblewrap: the
    zip unpacked in source/, the learner's file in submission/, `run_autograder` run there with
    the system and the course's Python read-only and no network. Only the zip's copy of
    course_lib is importable (PYTHONPATH from run_autograder; the working tree is not bound).
    `measure`: first the last step of setup.sh (timing the solved chapter into the image);
    its installing steps need the network and are not run here."""
    root = tmp / "autograder"
    (root / "source").mkdir(parents=True)
    (root / "submission").mkdir()
    (root / "results").mkdir()
    with zipfile.ZipFile(bundle) as archive:
        archive.extractall(root / "source")
    shutil.copy(root / "source" / "run_autograder", root / "run_autograder")
    (root / "run_autograder").chmod(0o755)
    if submission is not None:
        target = root / "submission" / submission.name
        if submission.is_symlink():
            target.symlink_to(os.readlink(submission))
        else:
            shutil.copy(submission, target)
    python = Path(sys.executable)
    prefix = Path(sys.prefix)
    base = Path(sys.base_prefix)
    binds = []
    for path in ("/usr", "/etc", "/bin", "/lib", "/lib64", "/sbin", str(base), str(prefix)):
        if Path(path).exists():
            binds += ["--ro-bind", path, path]
    sandbox = [
        "bwrap", *binds, "--dev", "/dev", "--proc", "/proc", "--tmpfs", "/tmp",
        "--bind", str(root), "/autograder", "--unshare-pid", "--unshare-net",
        "--die-with-parent", "--chdir", "/autograder", "--clearenv",
        "--setenv", "PATH", f"{python.parent}:/usr/bin:/bin", "--setenv", "HOME", "/tmp",
        "--setenv", "COURSE_PYTHON", str(python),
    ]  # fmt: skip
    if measure:
        setup = shutil.which("sh") or "/bin/sh"
        step = (
            'PYTHONPATH="/autograder/source/course:/autograder/source/extra" "$COURSE_PYTHON" '
            "-m course_lib.grading.gradescope --measure /autograder"
        )
        done = subprocess.run(
            [*sandbox, setup, "-c", step], capture_output=True, text=True, timeout=600, check=False
        )
        assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
        assert (root / "source" / "measured.json").is_file()
    done = subprocess.run(
        [*sandbox, "/autograder/run_autograder"],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return json.loads((root / "results" / "results.json").read_text())


@pytest.fixture(scope="module")
def bundle(course: Path, fixture_path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("bundle") / "ch00.zip"
    done = _grade(
        course, "--gradescope-bundle", str(path), "--chapter", "00", "--tests",
        str(course / "tests"), "--cell-timeout", "20", "--timeout", "120",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    return path


def test_the_bundle_has_gradescopes_files_at_its_root(bundle: Path) -> None:
    with zipfile.ZipFile(bundle) as archive:
        names = archive.namelist()
        modes = {i.filename: i.external_attr >> 16 for i in archive.infolist()}
        setup = archive.read("setup.sh").decode()
    assert {"setup.sh", "run_autograder", "config.json", "course/pyproject.toml"} <= set(names)
    assert "course/course_lib/grading/gradescope.py" in names
    assert "solutions/00_fixture.py" in names and "tests/ch00_double.py" in names
    assert "extra/fixture_checks.py" in names
    assert modes["run_autograder"] & 0o111 and modes["setup.sh"] & 0o111
    assert "pip install" in setup and "/autograder/source/course" in setup
    assert not [n for n in names if "__pycache__" in n]


def _hostile(course: Path, tmp: Path) -> dict[str, Path]:
    """A link to the solved chapter, and a notebook whose answer is the check's reference."""
    made = {}
    link = tmp / "hostile_link" / "00_fixture.ipynb"
    link.parent.mkdir()
    link.symlink_to(course / "course" / "solutions" / "00_fixture.ipynb")
    made["hostile_link"] = link
    nb = json.loads((course / "subs" / "ada.ipynb").read_text())
    _cell(nb, "ch00_double_answer")["source"] = (
        "import fixture_checks\ndouble = fixture_checks.double.reference"
    )
    reference = tmp / "hostile_reference" / "00_fixture.ipynb"
    reference.parent.mkdir()
    reference.write_text(json.dumps(nb))
    made["hostile_reference"] = reference
    return made


@pytest.mark.skipif(bool(bwrap_works()), reason=bwrap_works() or "bwrap works")
def test_run_autograder_in_a_simulated_autograder_folder_scores_as_the_local_grader(
    course: Path, bundle: Path, fixture_path, tmp_path: Path
) -> None:
    submissions = {
        "solved": course / "subs" / "ada.ipynb",
        "unsolved": course / "subs" / "ben.ipynb",
    }
    submissions["hidden_fails"] = course / "subs" / "dee.ipynb"
    submissions.update(_hostile(course, tmp_path))
    for name, path in submissions.items():
        measure = name == "solved"  # as an image built by setup.sh: the solution timed once
        results = _bwrap_autograder(bundle, path, tmp_path / f"run-{name}", measure)
        _validate_results(results)
        local = tmp_path / f"local-{name}.json"
        done = _grade(
            course, "--single", str(path), "--json", str(local), "--chapter", "00",
            "--tests", str(course / "tests"), "--out", str(tmp_path / f"{name}.csv"), "--quiet",
        )  # fmt: skip
        assert done.returncode == 0, done.stderr
        expected = json.loads(local.read_text())
        assert results["score"] == expected["score"], (name, results)
        auto = [t for t in results["tests"] if "score" in t]  # written answers: marked by hand
        assert sum(t["score"] for t in auto) == expected["score"], (name, results)
        if name == "solved":
            assert expected["score"] == 5
        if name in ("unsolved", "hostile_link", "hostile_reference"):
            assert expected["score"] == (4 if name == "hostile_reference" else 0), name
        if name == "hidden_fails":
            tests = {t["name"]: t for t in results["tests"]}
            public = tests["ch00_count_words: public checks"]
            assert public["visibility"] == "visible" and "public checks: pass" in public["output"]
            assert "score" not in public  # its points wait for the hidden tests
            hidden = tests["ch00_count_words: hidden tests"]
            assert (hidden["visibility"], hidden["output"]) == ("after_due_date", "fail")
            final = tests["ch00_count_words: final points"]
            assert (final["visibility"], final["score"]) == ("after_due_date", 0.0)
            shown = json.dumps(results, ensure_ascii=False)
            assert "leading and trailing" not in shown and "PRIVATE_TEXT_123" not in shown


@pytest.mark.skipif(bool(bwrap_works()), reason=bwrap_works() or "bwrap works")
def test_run_autograder_with_no_notebook_writes_a_zero_with_the_reason(
    bundle: Path, tmp_path: Path
) -> None:
    results = _bwrap_autograder(bundle, None, tmp_path)
    _validate_results(results)
    assert results["score"] == 0.0 and "no notebook" in results["output"]


def test_step_times_in_a_measured_file_set_the_limits_without_a_run(
    course: Path, fixture_path, tmp_path: Path
) -> None:
    """Limits from a --measured file: 4x each time + 20 s (never below --cell-timeout), for
    exactly the steps the file lists (a run would time every step); a file measured on other
    solutions (here: with a private test added) is not used."""
    from course_lib.grading.chapter import load_chapter
    from course_lib.grading.cli import make_sandbox, measure_solution
    from course_lib.grading.measured import write_measured
    from course_lib.grading.runner import GradeOptions

    chapter = load_chapter(course / "course" / "solutions", "00")
    path = tmp_path / "measured.json"
    write_measured(path, chapter, {"cell-001": 100.0, "ch00_double": 1.0})
    sandbox = make_sandbox(chapter, use=False)
    options = measure_solution(chapter, sandbox, GradeOptions(30.0, 600.0, 901), True, path)
    assert dict(options.cell_limits) == {"cell-001": 420.0, "ch00_double": 30.0}
    other = load_chapter(course / "course" / "solutions", "00", course / "tests")
    read = measure_solution(other, sandbox, GradeOptions(30.0, 600.0, 902), True, path)
    assert dict(read.cell_limits) != {"cell-001": 420.0, "ch00_double": 30.0}  # measured anew


def test_gradescope_mistake_line_appears_when_the_learner_json_has_one() -> None:
    from course_lib.grading.gradescope import results_json

    exercise = {
        "grade_id": "ch01_x", "points": 0.0, "max_points": 2.0, "status": "fail",
        "hint": "sum over the last axis", "visibility": "visible", "mistake": "ch01_x_axis",
        "public": {"points": 0.0, "status": "fail", "hint": "sum over the last axis",
                   "visibility": "visible"},
        "hidden": [],
    }  # fmt: skip
    data = {"chapter": "01", "score": 0.0, "status": "ok", "other_errors": [], "flags": []}
    results = results_json({**data, "exercises": [exercise]}, [], 1.0)
    _validate_results(results)
    assert "mistake: ch01_x_axis" in results["tests"][0]["output"]
    del exercise["mistake"]
    assert (
        "mistake"
        not in results_json({**data, "exercises": [exercise]}, [], 1.0)["tests"][0]["output"]
    )


# GitHub Classroom ------------------------------------------------------------------------------


def test_classroom_workflow_is_valid_yaml_that_grades_the_chapter(
    course: Path, fixture_path, tmp_path: Path
) -> None:
    done = _grade(course, "--classroom-workflow", str(tmp_path / "repo"), "--chapter", "00")
    assert done.returncode == 0, done.stderr
    workflow = yaml.safe_load((tmp_path / "repo" / ".github/workflows/classroom.yml").read_text())
    steps = workflow["jobs"]["grade"]["steps"]
    grade = next(s for s in steps if s.get("id") == "grade")
    assert grade["run"].startswith("python -m course_lib.grading.classroom --chapter 00")
    assert "chapters/00_fixture.ipynb" in grade["run"]
    reporter = steps[-1]
    assert reporter["uses"].startswith("classroom-resources/autograding-grading-reporter")
    assert reporter["env"]["GRADE_RESULTS"] == "${{ steps.grade.outputs.result }}"
    assert reporter["with"]["runners"] == "grade"
    assert "push" in workflow["on"]


def test_classroom_grading_command_writes_the_summary_and_the_autograding_result(
    course: Path, fixture_path, tmp_path: Path
) -> None:
    """The workflow's grading step as it runs there, on a learner repository with dee's notebook
    at the path the workflow names."""
    repo = tmp_path / "repo"
    shutil.copytree(course / "course" / "solutions", repo / "solutions")
    (repo / "chapters").mkdir()
    shutil.copy(course / "subs" / "dee.ipynb", repo / "chapters" / "00_fixture.ipynb")
    summary, output = tmp_path / "summary.md", tmp_path / "output.txt"
    env = {**os.environ, "GITHUB_STEP_SUMMARY": str(summary), "GITHUB_OUTPUT": str(output)}
    command = [sys.executable, "-m", "course_lib.grading.classroom", "--chapter", "00",
               "--notebook", "chapters/00_fixture.ipynb", "--solutions", "solutions"]  # fmt: skip
    done = subprocess.run(
        command, cwd=repo, env=env, capture_output=True, text=True, timeout=600, check=False
    )
    assert done.returncode == 0, done.stderr[-3000:]
    text = summary.read_text()
    assert "5 / 5 points by the public checks" in text
    assert "2 hidden properties are pending" in text
    assert "| ch00_count_words | 2 / 2 | pass |" in text
    (line,) = output.read_text().splitlines()
    assert line.startswith("result=")
    result = json.loads(base64.b64decode(line.removeprefix("result=")))
    assert result["version"] == 1 and result["max_score"] == 5.0 and result["status"] == "pass"
    assert {t["name"]: t["score"] for t in result["tests"]} == {
        "ch00_double": 1.0, "ch00_count_words": 2.0, "ch00_reverse": 2.0,
    }  # fmt: skip
    assert {t["status"] for t in result["tests"]} == {"pass"}
