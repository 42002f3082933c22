"""The grader against submissions built to get around it rather than through the kernel: files that
are not what they seem, odd names and notebooks, replies that are not what the harness sends, and
text meant to forge what the instructor reads.

Oracle: each submission is built here by code from the fixture chapter (double 1, count_words 2,
reverse 2 points) and its honest score is known by construction; a secret planted in a file
beside the submissions must never appear in anything the grader writes.
"""

from __future__ import annotations

import copy
import csv
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from _grading_helpers import copy_of_fixture_course, fixture_course_importable

from course_lib import notebooks
from course_lib.grading import find_submissions, load_chapter
from course_lib.grading.runner import GradeOptions, grade_submission
from course_lib.grading.sandbox import Sandbox
from course_lib.grading.submissions import learner_name, read_notebook

FIXTURE = Path(__file__).parent / "fixtures" / "course"
SECRET = "SECRET-7c41-do-not-show"


@pytest.fixture(scope="module")
def course(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return copy_of_fixture_course(tmp_path_factory.mktemp("course") / "course")


@pytest.fixture(scope="module")
def fixture_path():
    """The fixture's check module, importable here and in worker processes and kernels."""
    with fixture_course_importable():
        yield


def _solved(course: Path) -> dict:
    return json.loads((course / "solutions" / "00_fixture.ipynb").read_text())


def _cli(course: Path, *args: str, timeout: float = 600) -> subprocess.CompletedProcess:
    command = [sys.executable, "-m", "course_lib.grade", "--solutions", str(course / "solutions")]
    return subprocess.run(
        [*command, *args], capture_output=True, text=True, timeout=timeout, check=False
    )


def _written(folder: Path) -> str:
    """Everything the grader wrote under `folder`, as one text."""
    return "\n".join(
        p.read_bytes().decode("utf-8", "replace") for p in sorted(folder.rglob("*")) if p.is_file()
    )


# ---------------------------------------------------------------- files that are not what they seem


def _file_plants(course: Path, subs: Path, outside: Path) -> dict[str, str]:
    """Submissions that are links or special files; learner -> the status the row must have."""
    solved = course / "solutions" / "00_fixture.ipynb"
    (subs / "honest.ipynb").write_bytes(solved.read_bytes())
    secret = outside / "secret.txt"
    secret.write_text(SECRET * 4)
    (subs / "to_solution.ipynb").symlink_to(solved)
    (subs / "to_solution_via_proc.ipynb").symlink_to(f"/proc/self/cwd/{solved}")
    (subs / "to_other_learner.ipynb").symlink_to(subs / "honest.ipynb")
    (subs / "to_secret.ipynb").symlink_to(secret)
    (subs / "folder_link").symlink_to(course / "solutions", target_is_directory=True)
    (subs / "inner_link").mkdir()
    (subs / "inner_link" / "01_work.ipynb").symlink_to(solved)
    (subs / "solutions_dir").mkdir()
    (subs / "solutions_dir" / "lib").symlink_to(course / "solutions", target_is_directory=True)
    os.mkfifo(subs / "a_fifo.ipynb")
    link = "a symbolic link (not followed, not graded)"
    return {
        "honest": "ok",
        "to_solution": link,
        "to_solution_via_proc": link,
        "to_other_learner": link,
        "to_secret": link,
        "folder_link": link,
        "inner_link": link,
        "solutions_dir": "no notebook",
        "a_fifo": "not a regular file (not read)",
    }


def test_links_and_special_files_are_never_followed_nor_read(course: Path, tmp_path: Path) -> None:
    subs, outside = tmp_path / "subs", tmp_path / "outside"
    subs.mkdir()
    outside.mkdir()
    expected = _file_plants(course, subs, outside)
    found = {s.learner: (s.path, s.problem) for s in find_submissions([subs], "00")}
    assert set(found) == set(expected)
    for learner, status in expected.items():
        path, problem = found[learner]
        if status == "ok" or status == "no notebook" and problem == "no notebook":
            continue
        assert (path, problem) == (None, status), learner


def test_a_notebook_named_on_the_command_line_is_not_followed_either(
    course: Path, tmp_path: Path
) -> None:
    (tmp_path / "x.ipynb").symlink_to(course / "solutions" / "00_fixture.ipynb")
    (found,) = find_submissions([tmp_path / "x.ipynb"])
    assert found.path is None and "symbolic link" in found.problem


def test_reading_refuses_a_link_even_if_it_appears_after_discovery(
    course: Path, tmp_path: Path
) -> None:
    path = tmp_path / "late.ipynb"
    path.symlink_to(course / "solutions" / "00_fixture.ipynb")
    with pytest.raises(ValueError, match="symbolic link"):
        read_notebook(path)


@pytest.mark.parametrize(
    "content",
    [
        SECRET.encode(),
        b"\xff\xfe" + SECRET.encode(),
        json.dumps({"cells": SECRET}).encode(),
        json.dumps({"nbformat": 4, "nbformat_minor": 5, "cells": [SECRET]}).encode(),
        ('{"cells": [' * 5000).encode() + SECRET.encode(),
    ],
    ids=["text", "not-utf8", "cells-a-string", "cell-a-string", "deep"],
)
def test_no_message_about_an_unreadable_file_quotes_it(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "x.ipynb"
    path.write_bytes(content)
    with pytest.raises(ValueError) as raised:
        read_notebook(path)
    assert "SECRET" not in str(raised.value)


def test_graded_run_over_links_writes_no_byte_of_their_targets(
    course: Path, fixture_path, tmp_path: Path
) -> None:
    subs, outside, out = tmp_path / "subs", tmp_path / "outside", tmp_path / "out"
    subs.mkdir()
    outside.mkdir()
    expected = _file_plants(course, subs, outside)
    args = [str(subs), "--chapter", "00", "--out", str(out / "grades.csv")]
    done = _cli(course, *args, "--feedback", str(out / "feedback"), "--quiet")
    assert done.returncode == 0, done.stderr[-2000:]
    rows = {r["student_id"]: r for r in csv.DictReader((out / "grades.csv").open())}
    assert {k: r["status"] for k, r in rows.items()} == expected
    assert rows["honest"]["score"] == "5"
    assert all(rows[k]["score"] == "0" for k in expected if k != "honest")
    text = _written(out) + done.stderr
    assert SECRET not in text and "BEGIN SOLUTION" not in text


# ---------------------------------------------------------------- one odd notebook, one row


def test_learner_names_with_any_bytes_are_shown_escaped() -> None:
    raw = os.fsdecode(b"bad\xffname\tx\n")
    shown = learner_name(raw)
    assert shown.startswith("bad\\xffname\\tx\\n~") and shown.isprintable()
    assert learner_name(os.fsdecode(b"bad\xfename\tx\n")) != shown  # still one id each
    assert learner_name("émile") == "émile"


def _odd_notebooks(course: Path) -> dict[str, bytes]:
    solved = _solved(course)
    out: dict[str, bytes] = {}
    nb = copy.deepcopy(solved)
    nb["cells"][3]["metadata"]["nbgrader"] = "grade"
    out["nbgrader_string"] = json.dumps(nb).encode()
    nb = copy.deepcopy(solved)
    for cell in nb["cells"]:
        cell["metadata"] = ["not", "a", "dict"]
    out["metadata_list"] = json.dumps(nb).encode()
    nb = copy.deepcopy(solved)
    nb["cells"][0]["id"] = {"an": "object"}
    out["id_object"] = json.dumps(nb).encode()
    out["cells_null"] = json.dumps({**solved, "cells": None}).encode()
    return out


def test_odd_notebook_structures_cost_only_their_own_row(
    course: Path, fixture_path, tmp_path: Path
) -> None:
    chapter = load_chapter(course / "solutions", "00")
    sandbox = Sandbox("none", Path(notebooks.__file__).resolve().parent)
    statuses = {}
    for name, data in _odd_notebooks(course).items():
        path = tmp_path / f"{name}.ipynb"
        path.write_bytes(data)
        (submission,) = find_submissions([path])
        result = grade_submission(submission, chapter, sandbox, GradeOptions(20, 60))
        statuses[name] = (result.status, result.score)
    assert statuses == {
        "nbgrader_string": ("ok", 5.0),
        "metadata_list": ("ok", 5.0),
        "id_object": ("ok", 5.0),
        "cells_null": ("not a notebook", 0.0),
    }


# ---------------------------------------------------------------- replies are hostile data

REPO = Path(__file__).resolve().parents[1]


class _FakeSession:
    """Stands in for a learner's kernel: every call gets back the same reply payload."""

    def __init__(self, payload: str) -> None:
        self.payload = payload
        self.over_budget = False

    def run(self, code: str, timeout: float):  # noqa: ANN201 - an Execution
        from course_lib.grading.kernel import Execution

        return Execution("ok", results=[self.payload])

    def close(self) -> None:
        pass


def _json_values():  # noqa: ANN202 - a hypothesis strategy
    from hypothesis import strategies as st

    scalars = (
        st.none()
        | st.booleans()
        | st.integers(min_value=-(2**70), max_value=2**70)
        | st.floats(allow_nan=False)
        | st.text(max_size=8)
        | st.sampled_from(["id", "ref", "list", "tuple", "dict", "array", "object", "numpy.LLM"])
    )
    return st.recursive(
        scalars,
        lambda inner: (
            st.lists(inner, max_size=4)
            | st.dictionaries(
                st.sampled_from(
                    [
                        "id",
                        "ref",
                        "list",
                        "tuple",
                        "dict",
                        "array",
                        "scalar",
                        "float",
                        "object",
                        "state",
                        "dtype",
                        "shape",
                        "data",
                        "ok",
                        "raised",
                    ]
                ),
                inner,
                max_size=4,
            )
        ),
        max_leaves=20,
    )


def _replies():  # noqa: ANN202 - a hypothesis strategy of reply texts
    from hypothesis import strategies as st

    value = _json_values()
    shaped = st.one_of(
        value,
        st.builds(lambda v: {"ok": v}, value),
        st.builds(lambda v: {"ok": {"id": 0, "list": v}}, st.lists(value, max_size=4)),
        st.builds(lambda v: {"raised": v}, value),
        st.builds(lambda v: {"not_done": v}, value),
        st.builds(lambda v: {"wire_error": v}, value),
    )
    return st.one_of(
        shaped.map(lambda v: json.dumps(v).replace("1e+308", "1e999")),
        st.sampled_from(['{"ok": {"id": 1e999, "list": []}}', '{"raised": 5}', "[", "1e999"]),
    )


@pytest.mark.parametrize("number", ["01", "02"])
def test_no_reply_can_make_a_grader_error_only_a_failed_exercise(number: str) -> None:
    from hypothesis import HealthCheck, given, settings

    from course_lib.grading.runner import _Run

    chapter = load_chapter(REPO / "solutions", number)
    sandbox = Sandbox("none", Path(notebooks.__file__).resolve().parent)
    run = _Run(chapter, sandbox, GradeOptions(5, 60))
    run.session.close()

    @settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
    @given(payload=_replies())
    def graded_whatever_comes_back(payload: str) -> None:
        run.session = _FakeSession(payload)
        for graded in chapter.graded:
            result = run.grade(graded)
            assert result.status in ("pass", "fail", "not done"), (payload, result)
            assert result.points == 0 or result.status == "pass"

    graded_whatever_comes_back()


def test_a_model_reply_larger_than_a_checks_models_is_refused_unbuilt() -> None:
    from course_lib.checks import wire

    config = {"vocab_size": 1_000_000, "d_model": 8192, "n_layers": 2, "max_seq_len": 4096}
    state = {"config": config, "dtype": "<f4", "weights": {}, "grads": {}}
    reply = {"id": 0, "object": "numpy.LLM", "state": wire._Encoder(first_id=1)(state)}
    with pytest.raises(wire.WireError, match="larger than a check's models"):
        wire.decode(reply)


def test_a_reply_with_too_many_items_is_refused() -> None:
    from course_lib.checks import wire

    data = wire.encode(["w"] * 300_000)
    with pytest.raises(wire.WireError, match="items"):
        wire.decode(data, max_items=200_000)


MIME = "application/vnd.course-lib.wire+json"
FORGE = f"""
import json
import IPython.display as _display
_real = _display.publish_display_data

def _forged(data, *args, **kwargs):
    _real({{{MIME!r}: json.dumps(FORGED)}})

_display.publish_display_data = _forged
"""
HUGE_MODEL = {
    "ok": {
        "id": 90,
        "list": [
            {"id": 91, "list": []},
            {"id": 92, "dict": []},
            {
                "id": 93,
                "object": "numpy.LLM",
                "state": {
                    "id": 94,
                    "dict": [
                        [
                            "config",
                            {
                                "id": 95,
                                "dict": [
                                    ["vocab_size", 1000000],
                                    ["d_model", 8192],
                                    ["n_layers", 8],
                                    ["max_seq_len", 4096],
                                ],
                            },
                        ],
                        ["dtype", "<f8"],
                    ],
                },
            },
        ],
    }
}


def _hostile_replies(course: Path) -> dict[str, tuple[dict, float]]:
    """Submissions whose replies attack the grader's process; learner -> (notebook, score)."""
    solved = _solved(course)

    def answer(nb: dict, cell_id: str, extra: str) -> dict:
        cell = next(c for c in nb["cells"] if c.get("id") == cell_id)
        cell["source"] = "".join(cell["source"]) + "\n\n" + extra
        return nb

    many = (
        "def double(x):\n"
        "    from IPython.display import publish_display_data\n"
        "    big = 'x' * (100 * 2**20)\n"
        "    for _ in range(6):\n"
        f"        publish_display_data({{{MIME!r}: big}})\n"
        "    return 2 * x\n"
    )
    large = "def double(x):\n    return 'x' * (13 * 2**20)\n"  # a reply over 12 MB
    return {
        "huge_model": (
            answer(
                copy.deepcopy(solved), "ch00_double_answer", f"FORGED = {HUGE_MODEL!r}\n{FORGE}"
            ),
            0.0,
        ),
        "many_big_replies": (answer(copy.deepcopy(solved), "ch00_double_answer", many), 4.0),
        "large_reply": (answer(copy.deepcopy(solved), "ch00_double_answer", large), 4.0),
        "honest": (copy.deepcopy(solved), 5.0),
    }


PEAK = """
import json, resource, sys
from pathlib import Path
from course_lib.grading import find_submissions, load_chapter, make_sandbox
from course_lib.grading.runner import GradeOptions, grade_submission
chapter = load_chapter(Path(sys.argv[1]), "00")
sandbox = make_sandbox(chapter)
(submission,) = find_submissions([Path(sys.argv[2])])
result = grade_submission(submission, chapter, sandbox, GradeOptions(20, 120))
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(json.dumps({"score": result.score, "status": result.status, "peak_mb": peak}))
"""


def test_replies_that_attack_the_graders_memory_cost_under_300_mb_and_only_their_exercise(
    course: Path, fixture_path, tmp_path: Path
) -> None:
    found = {}
    for name, (nb, score) in _hostile_replies(course).items():
        path = tmp_path / f"{name}.ipynb"
        path.write_text(json.dumps(nb))
        done = subprocess.run(
            [sys.executable, "-c", PEAK, str(course / "solutions"), str(path)],
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
        )
        assert done.returncode == 0, done.stderr[-2000:]
        found[name] = json.loads(done.stdout.strip().splitlines()[-1])
        assert found[name]["score"] == score, (name, found[name])
    honest = found["honest"]["peak_mb"]
    for name, seen in found.items():
        assert seen["peak_mb"] - honest < 300, (name, seen, honest)
    print({name: round(seen["peak_mb"]) for name, seen in found.items()})


# ---------------------------------------------------------------- time: the learner's total


def test_a_learner_whose_every_call_is_just_under_the_cell_limit_stops_at_the_total(
    course: Path, fixture_path, tmp_path: Path
) -> None:
    nb = _solved(course)
    for cell in nb["cells"]:
        if cell.get("id", "").endswith("_answer"):
            source = "".join(cell["source"])
            name = source.split("def ")[1].split("(")[0]
            cell["source"] = (
                source
                + f"\n\nimport time\n_{name} = {name}\n\n"
                + (f"def {name}(*a, **k):\n    time.sleep(1.8)\n    return _{name}(*a, **k)\n")
            )
    path = tmp_path / "slow.ipynb"
    path.write_text(json.dumps(nb))
    chapter = load_chapter(course / "solutions", "00")
    sandbox = Sandbox("none", Path(notebooks.__file__).resolve().parent)
    (submission,) = find_submissions([path])
    options = GradeOptions(cell_timeout=2.0, timeout=8.0)
    result = grade_submission(submission, chapter, sandbox, options)
    # Kernel start-up (at most a minute here) is inside the total too; the bound is the total
    # plus the grace the grader gives its own work after it.
    assert result.seconds < options.timeout + 5 + 1, result
    assert "notebook timeout" in result.status or "timeout" in result.status, result.status


def test_grader_side_work_is_cut_off_by_the_learners_total() -> None:
    import time

    from course_lib.grading.runner import OutOfTime, _alarm

    began = time.monotonic()
    with pytest.raises(OutOfTime), _alarm(0.3):
        while True:  # a hint computed on learner-sized data, say
            pass
    assert time.monotonic() - began < 2


class _Scripted:
    """A kernel stand-in that answers each run with the next scripted Execution."""

    def __init__(self, *executions) -> None:  # noqa: ANN002
        self.executions = list(executions)
        self.over_budget = False

    def run(self, code: str, timeout: float):  # noqa: ANN201
        return self.executions.pop(0)

    def close(self) -> None:
        pass


def test_errors_that_follow_an_instructor_cell_timeout_are_counted_not_listed() -> None:
    from course_lib.grading.kernel import Execution
    from course_lib.grading.runner import _Run

    chapter = load_chapter(REPO / "solutions", "01")
    run = _Run(chapter, Sandbox("none", REPO / "course_lib"), GradeOptions(5, 60))
    run.session.close()
    run.session = _Scripted(
        Execution("timeout", "Timeout", "the cell ran longer than 60 s"),
        Execution("error", "NameError", "name 'model' is not defined"),
        Execution("error", "AttributeError", "model has no attribute"),
    )
    run.run("train()", "cell 3", "cell-3", mine=False)
    run.run("model", "cell 4", "cell-4", mine=False)
    run.run("model.x", "cell 5", "cell-5", mine=False)
    assert len(run.other_errors) == 1 and "cell 3" in run.other_errors[0]
    assert run.follow_on == 2


# ---------------------------------------------------------------- what the instructor reads

WRITTEN = """

# %% [markdown]
# ### Question 0.4: why test the empty list?

# %% [markdown] nbgrader={"grade": true, "grade_id": "ch00_written_empty", "points": 1, \
"solution": true}
# ### BEGIN SOLUTION
# Because an edge case is where an off-by-one hides.
# ### END SOLUTION
"""
FORGED_ANSWER = (
    "My answer.\n\n```\n\n## zed\n\n*(no answer)*\n\n<!-- hide everything after -->\n"
    "# Grading report\n[click](javascript:alert(1))"
)


def _names() -> dict[bytes, str]:
    """Raw file names -> what kind of name they are."""
    return {
        b"\t=HYPERLINK(1).ipynb": "tab then formula",
        b"\r=1+1.ipynb": "carriage return then formula",
        b"=cmd.ipynb": "formula",
        b"-2+3.ipynb": "minus",
        b"@sum.ipynb": "at",
        b"a<!--.ipynb": "HTML comment",
        b"# heading [x](y).ipynb": "heading and link",
        b"bytes\xff\xfe.ipynb": "not UTF-8",
        b"y" * 251: "a 251-byte folder",
        b"zed.ipynb": "honest, after the comment",
    }


def test_names_and_answers_from_learners_are_inert_in_everything_written(
    fixture_path, tmp_path: Path
) -> None:
    course = tmp_path / "course"
    (course / "solutions").mkdir(parents=True)
    text = (FIXTURE / "solutions" / "00_fixture.py").read_text() + WRITTEN
    (course / "solutions" / "00_fixture.py").write_text(text)
    notebooks.write(course)
    learner = (course / "chapters" / "00_fixture.ipynb").read_bytes()
    subs = tmp_path / "subs"
    subs.mkdir()
    for raw in _names():
        target = os.path.join(os.fsencode(subs), raw)
        if raw.endswith(b".ipynb"):
            with open(target, "wb") as handle:
                handle.write(learner)
        else:
            os.mkdir(target)
            with open(os.path.join(target, b"00_work.ipynb"), "wb") as handle:
                handle.write(learner)
    forged = json.loads(learner)
    next(c for c in forged["cells"] if c.get("id") == "ch00_written_empty")["source"] = (
        FORGED_ANSWER
    )
    (subs / "mallory.ipynb").write_text(json.dumps(forged))
    out = tmp_path / "out"
    args = [str(subs), "--chapter", "00", "--out", str(out / "grades.csv"), "--quiet"]
    done = _cli(course, *args, "--feedback", str(out / "fb"), "--format", "canvas")
    assert done.returncode == 0, done.stderr[-2000:]
    for sheet in ("grades.csv", "grades.canvas.csv", "answers/marks-template.csv"):
        with (out / sheet).open(newline="", encoding="utf-8") as handle:
            for row in csv.reader(handle):
                for cell in row:
                    assert cell[:1] not in ("=", "+", "-", "@", "\t", "\r"), (sheet, cell)
    rows = list(csv.DictReader((out / "grades.csv").open(newline="", encoding="utf-8")))
    assert len(rows) == len(_names()) + 1 and all(r["status"] == "ok" for r in rows), rows
    assert len(list((out / "fb").iterdir())) == len(rows)
    from markdown_it import MarkdownIt

    render = MarkdownIt("commonmark").render
    for name in (
        "report.md",
        "answers/ch00_written_empty.md",
        *[f"fb/{p.name}" for p in (out / "fb").iterdir()],
    ):
        html = render((out / name).read_text(encoding="utf-8"))
        assert "<!--" not in html and "<a " not in html, name
        assert html.count("<h1>") == 1, name  # the grader's title, and no learner's
    answers = render((out / "answers" / "ch00_written_empty.md").read_text(encoding="utf-8"))
    # zed's one heading, zed's own "(no answer)"; mallory's forged copy shows inside a fence
    assert answers.count("<h2>zed</h2>") == 1, answers
    assert "<h2>zed</h2>\n<p><em>(no answer)</em></p>" in answers, answers


# ---------------------------------------------------------------- honest work is not tampering


def _grade_one(nb: dict, tmp_path: Path, number: str = "01"):  # noqa: ANN202 - a LearnerResult
    path = tmp_path / "learner.ipynb"
    path.write_text(json.dumps(nb))
    chapter = load_chapter(REPO / "solutions", number)
    sandbox = Sandbox("none", REPO / "course_lib")
    (submission,) = find_submissions([path])
    return grade_submission(submission, chapter, sandbox, GradeOptions(120, 600))


def _checked_total(result) -> str:  # noqa: ANN001
    rows = [e for e in result.exercises if not e.grade_id.startswith("ch01_written")]
    return f"{sum(e.points for e in rows):g}/{sum(e.max_points for e in rows):g}"


def test_a_notebook_saved_without_cell_ids_is_graded_without_flags(tmp_path: Path) -> None:
    nb = json.loads((REPO / "solutions" / "01_vocabulary.ipynb").read_text())
    nb["nbformat_minor"] = 0
    for cell in nb["cells"]:
        cell.pop("id", None)
    result = _grade_one(nb, tmp_path)
    assert (_checked_total(result), result.status, result.flags) == ("8/8", "ok", [])


def _local_total(nb: dict, folder: Path) -> str:
    """The notebook run as a learner runs it; its `checks.summary()` total."""
    import nbformat
    from nbclient import NotebookClient

    node = nbformat.reads(json.dumps(nb), as_version=4)
    node.cells.append(nbformat.v4.new_code_cell("from course_lib import checks\nchecks.summary();"))
    client = NotebookClient(
        node, timeout=300, startup_timeout=120, allow_errors=True, kernel_name="python3"
    )
    client.execute(cwd=str(folder))
    text = "".join(o.get("text", "") for o in node.cells[-1].outputs)
    # the table's last line; the mistakes met on the way may follow it
    return next(ln for ln in text.splitlines() if ln.startswith("total")).split()[-1]


def test_an_answer_that_calls_a_helper_in_its_own_cell_scores_the_same_locally_and_graded(
    tmp_path: Path,
) -> None:
    nb = json.loads((REPO / "solutions" / "01_vocabulary.ipynb").read_text())
    index = next(i for i, c in enumerate(nb["cells"]) if c.get("id") == "cell-008")
    answer = nb["cells"][index]
    solved = "".join(answer["source"])
    helper = solved.replace("def tokenize(", "def _split_words(", 1)
    answer["source"] = "def tokenize(text):\n    return _split_words(text)\n"
    cell = {**copy.deepcopy(answer), "id": "my-helper", "source": helper}
    nb["cells"].insert(index, cell)
    local = _local_total(nb, tmp_path)
    result = _grade_one(nb, tmp_path)
    assert local == _checked_total(result) == "8/8", (local, result.exercises)
    assert result.flags == []


# ---------------------------------------------------------------- feedback carries no test input

RECORDER = """
_seen = []

def count_words(text):
    _seen.append(text)
    return len(text.split())
"""
REPLAYER = """
def reverse(items):
    raise ValueError(" | ".join(_seen))

raise RuntimeError(" | ".join(_seen))
"""


def test_inputs_a_function_recorded_never_reach_the_feedback(
    course: Path, fixture_path, tmp_path: Path
) -> None:
    nb = _solved(course)
    for cell in nb["cells"]:
        if cell.get("id") == "ch00_count_words_answer":
            cell["source"] = RECORDER
        if cell.get("id") == "ch00_reverse_answer":
            cell["source"] = REPLAYER
    subs, tests, out = tmp_path / "subs", tmp_path / "private", tmp_path / "out"
    for folder in (subs, tests):
        folder.mkdir()
    (subs / "recorder.ipynb").write_text(json.dumps(nb))
    (tests / "ch00_count_words.py").write_text(
        'assert count_words("zebra PRIVATE-INPUT quokka") == 3\n'
    )
    args = [str(subs), "--chapter", "00", "--tests", str(tests), "--quiet"]
    done = _cli(course, *args, "--out", str(out / "g.csv"), "--feedback", str(out / "fb"))
    assert done.returncode == 0, done.stderr[-2000:]
    feedback = (out / "fb" / "recorder.md").read_text()
    assert "reverse" in feedback and "RuntimeError" in feedback  # the errors are reported ...
    assert "PRIVATE-INPUT" not in feedback and "quokka" not in feedback  # ... not their text


# ---------------------------------------------------------------- totals per learner

needs_root_sandbox = pytest.mark.skipif(
    os.geteuid() != 0
    or bool(__import__("course_lib.grading.sandbox").grading.sandbox.bwrap_works()),
    reason="the uid of its own is taken when the grader runs as root with bubblewrap",
)

TOTALS = """
import os, subprocess
started = []
try:
    for _ in range(700):
        started.append(subprocess.Popen(["sleep", "30"]))
except OSError:
    pass
for p in started:
    p.kill()
    p.wait()

def fill(folder):
    written = 0
    try:
        with open(os.path.join(folder, "fill"), "wb") as handle:
            for _ in range(200):
                handle.write(b"x" * 2**21)
                written += 2
    except OSError:
        pass
    os.remove(os.path.join(folder, "fill"))
    return written

import sys
comm = os.path.dirname(sys.argv[sys.argv.index("-f") + 1])  # its sockets' folder, on the host
try:
    open(os.path.join(comm, "fill"), "wb").write(b"x")
    host = 1
except OSError:
    host = 0

print(os.getuid(), len(started), fill(os.environ["HOME"]), fill("/tmp"), host)
"""


@needs_root_sandbox
def test_each_learner_has_bounded_processes_home_and_tmp_no_host_disk_and_is_not_root() -> None:
    from course_lib.grading.kernel import KernelSession
    from course_lib.grading.sandbox import Limits

    limits = Limits(processes=64, tmp_mb=64, home_mb=64, file_mb=1024)
    session = KernelSession(Sandbox("bwrap", REPO / "course_lib", limits=limits))
    try:
        session.start()
        done = session.run(TOTALS, 120)
    finally:
        session.close()
    uid, processes, home_mb, tmp_mb, host = map(int, done.output.split())
    assert uid != 0
    assert processes < 64  # the kernel's own threads and processes count too
    assert home_mb <= 64 and tmp_mb <= 64
    assert host == 0  # not a byte on the host's disk


# ---------------------------------------------------------------- the originality run

ROUTES = {
    "attribute": "def double(x):\n    return check.double.reference(x)\n",
    "import": (
        "def double(x):\n    from fixture_checks import _double_reference as r\n    return r(x)\n"
    ),
    "pickle": (
        "import pickle\n\ndef double(x):\n"
        "    return pickle.loads(pickle.dumps(check.double.reference))(x)\n"
    ),
    "gc": (
        "import gc\n\ndef _attr(o, name):\n    try:\n        return getattr(o, name, '')\n"
        "    except Exception:\n        return ''\n\ndef double(x):\n"
        "    found = [o for o in gc.get_objects() if _attr(o, '__name__') == '_double_reference']\n"
        "    return found[0](x)\n"
    ),
    "closure": ("_keep = check.double.reference\n\ndef double(x):\n    return _keep(x)\n"),
}


def test_answers_that_reach_for_a_check_modules_reference_find_nothing(
    course: Path, fixture_path, tmp_path: Path
) -> None:
    # The fixture's references live in its check module, which the grading kernel cannot import
    # and never binds unless the exercise failed: every route ends in an error, 0 points.
    subs, out = tmp_path / "subs", tmp_path / "out"
    subs.mkdir()
    (subs / "solved.ipynb").write_bytes((course / "solutions" / "00_fixture.ipynb").read_bytes())
    for route, source in ROUTES.items():
        nb = _solved(course)
        next(c for c in nb["cells"] if c.get("id") == "ch00_double_answer")["source"] = source
        (subs / f"via_{route}.ipynb").write_text(json.dumps(nb))
    args = [str(subs), "--chapter", "00", "--out", str(out / "g.csv"), "--quiet", "--jobs", "2"]
    done = _cli(course, *args)
    assert done.returncode == 0, done.stderr[-2000:]
    rows = {r["student_id"]: r for r in csv.DictReader((out / "g.csv").open())}
    assert (float(rows["solved"]["score"]), rows["solved"]["flags"]) == (5, "0"), rows["solved"]
    for route in ROUTES:
        row = rows[f"via_{route}"]
        assert (float(row["ch00_double"]), float(row["score"])) == (0, 4), (route, row)


# tokenize's reference is the library's own `course_lib.vocab.tokenize`, which the library uses
# itself (Vocab) and so stays importable: the originality run is what guards it.
LIBRARY_ROUTES = {
    "import": (
        "def tokenize(text):\n    from course_lib.vocab import tokenize as t\n    return t(text)\n"
    ),
    "attribute": (
        "import course_lib.vocab\n\ndef tokenize(text):\n"
        "    return course_lib.vocab.tokenize(text)\n"
    ),
    "pickle": (
        "import pickle\nimport course_lib.vocab\n\n"
        "_copy = pickle.loads(pickle.dumps(course_lib.vocab.tokenize))\n\n"
        "def tokenize(text):\n    return _copy(text)\n"
    ),
    # Reading attributes of every object must survive lazy ones that import on access (six's
    # MovedModule, where `six` is installed, raises ModuleNotFoundError for a missing _gdbm).
    "gc": (
        "import gc\n\ndef _attr(o, name):\n    try:\n        return getattr(o, name, '')\n"
        "    except Exception:\n        return ''\n\ndef tokenize(text):\n"
        "    found = [o for o in gc.get_objects() if _attr(o, '__name__') == 'tokenize'\n"
        "             and _attr(o, '__module__') == 'course_lib.vocab']\n"
        "    return found[0](text)\n"
    ),
    "closure": (
        "from course_lib.vocab import tokenize as _keep\n\ndef tokenize(text):\n"
        "    return _keep(text)\n"
    ),
}


def test_the_originality_run_flags_answers_that_call_the_librarys_implementation(
    tmp_path: Path,
) -> None:
    subs, out = tmp_path / "subs", tmp_path / "out"
    subs.mkdir()
    solved = REPO / "solutions" / "01_vocabulary.ipynb"
    (subs / "solved.ipynb").write_bytes(solved.read_bytes())
    for route, source in LIBRARY_ROUTES.items():
        nb = json.loads(solved.read_text())
        cell = next(c for c in nb["cells"] if c.get("id") == "cell-008")
        cell["source"] = 'END = "</s>"\n\n' + source
        (subs / f"via_{route}.ipynb").write_text(json.dumps(nb))
    args = [str(subs), "--chapter", "01", "--out", str(out / "g.csv"), "--quiet", "--jobs", "2"]
    command = [sys.executable, "-m", "course_lib.grade", "--solutions", str(REPO / "solutions")]
    done = subprocess.run(
        [*command, *args], capture_output=True, text=True, timeout=1200, check=False
    )
    assert done.returncode == 0, done.stderr[-2000:]
    rows = {r["student_id"]: r for r in csv.DictReader((out / "g.csv").open())}
    report = (out / "report.md").read_text()
    assert rows["solved"]["flags"] == "0", report
    for route in LIBRARY_ROUTES:
        assert float(rows[f"via_{route}"]["ch01_tokenize"]) == 2, rows[f"via_{route}"]
        section = report.split(f"## via\\_{route}")[1].split("\n## ")[0]
        assert "ch01\\_tokenize\\: depends on the library\\'s own implementation" in section, (
            route,
            report,
        )


# ---------------------------------------------------------------- one submission, as JSON


def test_single_notebook_writes_its_result_as_json(
    course: Path, fixture_path, tmp_path: Path
) -> None:
    nb = _solved(course)
    next(c for c in nb["cells"] if c.get("id") == "ch00_double_answer")["source"] = (
        "def double(x):\n    return x + 1\n"
    )
    path = tmp_path / "ann.ipynb"
    path.write_text(json.dumps(nb))
    out = tmp_path / "result.json"
    args = ["--single", str(path), "--json", str(out), "--chapter", "00", "--quiet"]
    done = _cli(course, *args, "--out", str(tmp_path / "g.csv"))
    assert done.returncode == 0, done.stderr[-2000:]
    result = json.loads(out.read_text())
    assert (result["learner"], result["score"], result["max_score"]) == ("ann", 4, 5)
    by_id = {e["grade_id"]: e for e in result["exercises"]}
    assert by_id["ch00_double"]["points"] == 0 and by_id["ch00_double"]["hint"]
    assert by_id["ch00_reverse"] == {
        "grade_id": "ch00_reverse",
        "points": 2.0,
        "max_points": 2.0,
        "status": "pass",
        "hint": "",
        "mistake": "",
        "visibility": "after_due_date",  # it has hidden tests: its final points wait for them
        "public": {
            "points": 2.0,
            "status": "pass",
            "hint": "",
            "mistake": "",
            "visibility": "visible",
        },
        "hidden": [
            {"name": "ch00_reverse: hidden tests", "status": "pass", "visibility": "after_due_date"}
        ],
    }
    assert by_id["ch00_double"]["mistake"].startswith("ch00_double/")


def test_the_vocabulary_hint_on_20000_repeated_words_takes_well_under_a_second() -> None:
    import time

    from course_lib.checks import ch01

    got = ["<pad>", "</s>", "<unk>", *(["rain"] * 20_000)]
    began = time.perf_counter()
    hint = ch01._diagnose_vocab(got, ["<pad>", "</s>", "<unk>", "rain"])
    assert time.perf_counter() - began < 1.0
    assert "more than once" in hint


def test_a_kernel_that_sends_more_than_the_learners_budget_is_stopped(
    course: Path, fixture_path, tmp_path: Path
) -> None:
    nb = _solved(course)
    cell = next(c for c in nb["cells"] if c.get("id") == "ch00_double_answer")
    cell["source"] = "".join(cell["source"]) + "\n\nfor _ in range(40):\n    print('x' * 100_000)\n"
    path = tmp_path / "chatty.ipynb"
    path.write_text(json.dumps(nb))
    chapter = load_chapter(course / "solutions", "00")
    sandbox = Sandbox("none", Path(notebooks.__file__).resolve().parent)
    (submission,) = find_submissions([path])
    result = grade_submission(submission, chapter, sandbox, GradeOptions(20, 60, wire_budget=2**20))
    assert "too much data from the kernel" in result.status, result.status
