"""What a grading kernel can reach, and what can leave it.

1. The check modules (`course_lib.checks`: the Exercise objects, the checks' own references, their
   data) are not in the grading kernel: under bubblewrap their folder is empty; a failed exercise's
   reference is sent as its source, alone with the helpers it calls.
2. No secret input reaches any hint: hidden and private tests run only after every public check
   of the chapter has computed its hint.

Oracles: each route to a check reference is shown to work in this process (where the checks are
importable), so its failure in the kernel comes from the checks being absent; a private input is a
fresh random token, searched for in every file and stream the grader writes, as it is and in the
forms a learner's function turned it into.
"""

from __future__ import annotations

import ast
import base64
import csv
import importlib
import json
import secrets
import types
from pathlib import Path

import pytest
from _grading_helpers import in_process
from test_grade_hostile import _cli, _solved, _written, course, fixture_path  # noqa: F401

from course_lib.checks import Exercise
from course_lib.grading import find_submissions, load_chapter
from course_lib.grading.chapter import GradingError, kernel_cell
from course_lib.grading.references import is_hidden, reference_source
from course_lib.grading.runner import GradeOptions, grade_submission
from course_lib.grading.sandbox import Sandbox, bwrap_works

REPO = Path(__file__).resolve().parents[1]
HIDDEN = ("course_lib.checks",)
needs_bwrap = pytest.mark.skipif(
    bool(bwrap_works()), reason=f"bubblewrap does not work here: {bwrap_works()}"
)


def _grade(nb: dict, folder: Path, chapter: str = "01", kind: str = "bwrap"):  # noqa: ANN202
    """One notebook graded as `python -m course_lib.grade` grades it (no originality run)."""
    path = folder / "learner.ipynb"
    path.write_text(json.dumps(nb))
    (submission,) = find_submissions([path])
    sandbox = Sandbox(kind, REPO / "course_lib")
    options = GradeOptions(120, 900, originality=False)
    return grade_submission(submission, load_chapter(REPO / "solutions", chapter), sandbox, options)


def _chapter_nb(number: str) -> dict:
    name = next((REPO / "solutions").glob(f"{number}_*.ipynb"))
    return json.loads(name.read_text())


def _with_answer(nb: dict, cell_id: str, source: str) -> dict:
    for cell in nb["cells"]:
        if cell.get("id") == cell_id:
            cell["source"] = source
            return nb
    raise AssertionError(f"no cell {cell_id}")


def _by_id(result) -> dict:  # noqa: ANN001
    return {e.grade_id: e for e in result.exercises}


# ---------------------------------------------------------------- the references sent as source


def _exercises() -> list[tuple[str, Exercise]]:
    found = []
    for number in range(1, 8):
        module = importlib.import_module(f"course_lib.checks.ch{number:02d}")
        found += [
            (f"ch{number:02d}.{k}", v) for k, v in vars(module).items() if isinstance(v, Exercise)
        ]
    return found


CHECK_LOCAL = [(n, e) for n, e in _exercises() if is_hidden(e.reference.__module__, HIDDEN)]


@pytest.mark.parametrize(("name", "exercise"), CHECK_LOCAL, ids=[n for n, _ in CHECK_LOCAL])
def test_a_reference_sent_as_source_passes_its_own_check_and_imports_no_check_module(
    name: str, exercise: Exercise
) -> None:
    source = reference_source(exercise.reference, ())
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            assert not any(is_hidden(a.name, HIDDEN) for a in node.names), ast.unparse(node)
        if isinstance(node, ast.ImportFrom):
            assert not is_hidden(node.module or "", HIDDEN), ast.unparse(node)
    namespace: dict = {"__name__": "course_reference"}
    exec(compile(source, f"<reference {name}>", "exec"), namespace)
    shipped = namespace[exercise.reference.__name__]
    assert shipped is not exercise.reference
    functions = [v for v in namespace.values() if isinstance(v, types.FunctionType)]
    assert all(f.__module__ == "course_reference" for f in functions)  # none from the checks
    outcome = exercise.run(shipped)
    assert (outcome.status, outcome.points) == ("pass", exercise.points), outcome.message


def test_instructor_cells_lose_their_check_imports_and_keep_the_rest() -> None:
    dropped: set[str] = set()
    cell = (
        "import numpy as np\nfrom course_lib import checks, dna\n"
        "from course_lib.checks import ch06 as check\nx = 1\n"
    )
    out = kernel_cell(cell, HIDDEN, "cell 1", dropped)
    assert "checks" not in out.replace("# ", "") and "dna" in out and "x = 1" in out
    assert dropped == {"checks", "check"}
    assert kernel_cell("checks.summary();", HIDDEN, "cell 9", dropped).strip() == "pass;"
    with pytest.raises(GradingError, match="outside a check cell"):
        kernel_cell("total = check.tokenize.points\n", HIDDEN, "cell 10", dropped)


def test_a_reference_an_instructor_cell_imports_from_the_checks_is_bound_from_its_source() -> None:
    import numpy as np

    from course_lib.checks.ch03 import reference_merge_heads

    cell = "from course_lib.checks.ch03 import reference_merge_heads as merge_heads\ny = 2\n"
    out = kernel_cell(cell, HIDDEN)
    assert "import course_lib.checks" not in out and "from course_lib.checks" not in out
    namespace: dict = {}
    exec(compile(out, "<cell>", "exec"), namespace)
    x = np.arange(2 * 3 * 4 * 5, dtype=float).reshape(2, 3, 4, 5)
    np.testing.assert_array_equal(namespace["merge_heads"](x), reference_merge_heads(x))
    assert namespace["merge_heads"] is not reference_merge_heads and namespace["y"] == 2


# ---------------------------------------------------------------- no route to a check reference

BUILD_VOCAB_ROUTES = {
    "import": (
        "def build_vocab(texts):\n"
        "    import course_lib.checks.ch01 as c\n"
        "    return c.build_vocab.reference(texts)\n"
    ),
    "importlib": (
        "import importlib\n\ndef build_vocab(texts):\n"
        "    module = importlib.import_module('course_lib.checks.ch01')\n"
        "    return module.reference_build_vocab(texts)\n"
    ),
    "__import__": (
        "def build_vocab(texts):\n"
        "    m = __import__('course_lib.checks.ch01', fromlist=['x'])\n"
        "    return m.reference_build_vocab(texts)\n"
    ),
    "sys.modules": (
        "import sys\n\ndef build_vocab(texts):\n"
        "    return sys.modules['course_lib.checks.ch01'].reference_build_vocab(texts)\n"
    ),
    "hook removed": (
        "import sys\n\ndef build_vocab(texts):\n"
        "    sys.meta_path[:] = [f for f in sys.meta_path if 'Hidden' not in str(f)]\n"
        "    import course_lib.checks.ch01 as c\n"
        "    return c.reference_build_vocab(texts)\n"
    ),
    "file": (
        "import __future__, ast, os\nimport course_lib\nfrom course_lib import vocab as _vocab\n\n"
        "def build_vocab(texts):\n"
        "    path = os.path.join(os.path.dirname(course_lib.__file__), 'checks', 'ch01.py')\n"
        "    tree = ast.parse(open(path).read())\n"
        "    node = next(n for n in tree.body\n"
        "                if getattr(n, 'name', '') == 'reference_build_vocab')\n"
        "    namespace = {'_vocab': _vocab}\n"
        "    flags = __future__.annotations.compiler_flag  # its annotations name typing's\n"
        "    exec(compile(ast.Module([node], []), path, 'exec', flags), namespace)\n"
        "    return namespace['reference_build_vocab'](texts)\n"
    ),
}


@pytest.mark.parametrize("route", BUILD_VOCAB_ROUTES)
def test_each_route_to_a_check_reference_works_where_the_checks_are_importable(route: str) -> None:
    import course_lib.checks.ch01 as ch01

    outcome = in_process(ch01.build_vocab, BUILD_VOCAB_ROUTES[route])
    assert outcome.status == "pass", outcome.message  # so its failure below means "not found"


@needs_bwrap
@pytest.mark.parametrize("route", BUILD_VOCAB_ROUTES)
def test_no_route_finds_a_check_reference_in_the_sandboxed_kernel(
    route: str, tmp_path: Path
) -> None:
    nb = _with_answer(_chapter_nb("01"), "cell-014", BUILD_VOCAB_ROUTES[route])
    result = _grade(nb, tmp_path)
    found = _by_id(result)
    assert found["ch01_build_vocab"].status == "fail" and found["ch01_build_vocab"].points == 0
    others = [found[g] for g in ("ch01_tokenize", "ch01_encode", "ch01_kmers")]
    assert [e.status for e in others] == ["pass"] * 3, result.exercises


@needs_bwrap
@pytest.mark.parametrize("number", ["01", "03"])
def test_the_solved_chapter_scores_full_marks_with_the_checks_hidden(
    number: str, tmp_path: Path
) -> None:
    result = _grade(_chapter_nb(number), tmp_path, number)
    auto = [e for e in result.exercises if e.status not in ("to mark", "not answered")]
    assert result.status == "ok", (result.status, result.other_errors)
    assert [e.status for e in auto] == ["pass"] * len(auto), [(e.grade_id, e.message) for e in auto]
    assert result.other_errors == []


PROBE = """
import gc as _gc
import sys as _sys
import types as _types


def encode(text, token_to_id, unknown="error"):
    found = sorted(
        o.__name__
        for o in _gc.get_objects()
        if isinstance(o, _types.FunctionType)
        and (o.__code__.co_filename.startswith("<reference")
             or str(o.__module__).startswith("course_lib.checks"))
    )
    found += sorted(k for k in _sys.modules if k.startswith("course_lib.checks"))
    if found != ["reference_build_vocab"]:
        return found
    return _encode(text, token_to_id, unknown)
"""


def test_after_a_failed_exercise_only_its_reference_is_reachable(tmp_path: Path) -> None:
    nb = _chapter_nb("01")
    solved = next(c for c in nb["cells"] if c.get("id") == "cell-022")
    own = "".join(solved["source"]).replace("def encode(", "def _encode(", 1)
    _with_answer(nb, "cell-014", "def build_vocab(texts):\n    return []\n")
    _with_answer(nb, "cell-022", own + PROBE)
    found = _by_id(_grade(nb, tmp_path, kind="none"))  # what is bound does not need a sandbox
    assert found["ch01_build_vocab"].status == "fail"
    # encode passes only when the one function sent from the checks is build_vocab's reference
    assert found["ch01_encode"].status == "pass", found["ch01_encode"].message


# ---------------------------------------------------------------- no secret input in any hint

RECORDING_COUNT = """
_seen = []

def count_words(text):
    _seen.append(text)
    return len(text.split())
"""
REPLAYS = {
    "reversed": "def reverse(items):\n    return [s[::-1] for s in reversed(_seen)]\n",
    "base64": (
        "import base64\n\ndef reverse(items):\n"
        "    return [base64.b64encode(s.encode()).decode() for s in reversed(_seen)]\n"
    ),
    "code_points": (
        "def reverse(items):\n    return [ord(c) for s in reversed(_seen) for c in s]\n"
    ),
}
NAMING_COUNT = """
def count_words(text):
    if text.strip() in ("", "a", "a b c", "hello world"):
        return len(text.split())
    raise type("Seen_" + "".join(c if c.isalnum() else "_" for c in text), (Exception,), {})()
"""
HIDDEN_FAIL_COUNT = "def count_words(text):\n    return len(text.split(' '))\n"


def _forms(token: str) -> list[str]:
    """The token as it is and as the learner's functions turn it, in whole and in 8-char parts."""
    whole = [
        token,
        token[::-1],
        base64.b64encode(f"zebra {token} quokka".encode()).decode()[8:-8],
        ", ".join(str(ord(c)) for c in token),
    ]
    parts = [token[i : i + 8] for i in range(len(token) - 7)]
    return whole + parts + [p[::-1] for p in parts]


def test_a_private_input_a_function_recorded_never_reaches_any_output(
    course: Path,  # noqa: F811 - the fixture
    fixture_path,  # noqa: ANN001, F811
    tmp_path: Path,
) -> None:
    token = "tok" + secrets.token_hex(8)
    subs, tests, out = tmp_path / "subs", tmp_path / "private", tmp_path / "out"
    for folder in (subs, tests):
        folder.mkdir()
    (tests / "ch00_count_words.py").write_text(f'assert count_words("zebra {token} quokka") == 3\n')
    learners = {"honest": _solved(course)}
    for form, replay in REPLAYS.items():
        nb = _solved(course)
        _with_answer(nb, "ch00_count_words_answer", RECORDING_COUNT)
        learners[form] = _with_answer(nb, "ch00_reverse_answer", replay)
    learners["naming"] = _with_answer(_solved(course), "ch00_count_words_answer", NAMING_COUNT)
    learners["hidden_fail"] = _with_answer(
        _solved(course), "ch00_count_words_answer", HIDDEN_FAIL_COUNT
    )
    for name, nb in learners.items():
        (subs / f"{name}.ipynb").write_text(json.dumps(nb))
    args = [str(subs), "--chapter", "00", "--tests", str(tests), "--quiet", "--jobs", "2"]
    args += ["--out", str(out / "g.csv"), "--feedback", str(out / "fb"), "--format", "canvas"]
    done = _cli(course, *args, "--release-hidden")  # released: the most the feedback shows
    assert done.returncode == 0, done.stderr[-2000:]
    single = [str(subs / "reversed.ipynb"), "--json", str(out / "one.json")]
    one = _cli(
        course,
        "--single",
        *single,
        "--chapter",
        "00",
        "--tests",
        str(tests),
        "--quiet",
        "--out",
        str(out / "one.csv"),
    )
    assert one.returncode == 0, one.stderr[-2000:]
    everything = "\n".join([_written(out), done.stdout, done.stderr, one.stdout, one.stderr])
    leaked = [form for form in _forms(token) if form in everything]
    assert leaked == [], leaked
    # The channel is real: the public inputs the function recorded do reach its hint.
    assert "dlrow olleh" in (out / "fb" / "reversed.md").read_text()
    rows = {r["student_id"]: r for r in csv.DictReader((out / "g.csv").open())}
    scores = {name: float(rows[name]["score"]) for name in learners}
    # honest: all 5; recorders: count_words 2 + double 1 + reverse's "input kept" part 1;
    # naming: its private test fails (0 of 2); hidden_fail: a hidden test fails (0 of 2).
    assert scores == {
        "honest": 5,
        "reversed": 4,
        "base64": 4,
        "code_points": 4,
        "naming": 3,
        "hidden_fail": 3,
    }
    for name in ("naming", "hidden_fail"):
        assert rows[name]["ch00_count_words"] in ("0", "0.0"), rows[name]
        assert rows[name]["ch00_reverse"] in ("2", "2.0"), rows[name]
    naming = (out / "fb" / "naming.md").read_text()
    assert "raised an error in a private test" in naming
    hidden = (out / "fb" / "hidden_fail.md").read_text()
    assert "a hidden test failed" in hidden
    assert json.loads((out / "one.json").read_text())["score"] == 4


def test_an_exercise_whose_hidden_tests_never_ran_scores_nothing(
    course: Path,  # noqa: F811 - the fixture
    fixture_path,  # noqa: ANN001, F811
    tmp_path: Path,
) -> None:
    # count_words passes its check; reverse's answer never ends, so the learner's total runs out
    # before the last check, and count_words' hidden tests (after it) never run.
    nb = _with_answer(_solved(course), "ch00_reverse_answer", "while True:\n    pass\n")
    path = tmp_path / "slow.ipynb"
    path.write_text(json.dumps(nb))
    (submission,) = find_submissions([path])
    chapter = load_chapter(course / "solutions", "00")
    options = GradeOptions(60, 12, originality=False)
    result = grade_submission(submission, chapter, Sandbox("none", REPO / "course_lib"), options)
    found = _by_id(result)
    assert "notebook timeout" in result.status
    assert (found["ch00_double"].status, found["ch00_double"].points) == ("pass", 1)  # no hidden
    assert (found["ch00_count_words"].status, found["ch00_count_words"].points) == ("timeout", 0)
    assert "hidden tests" in found["ch00_count_words"].message
