"""The notebook pipeline: stubs, hidden-test removal, determinism, validation and the drift check.

Oracles: hand-written expected cell sources; byte comparison of two runs; the drift check's
exit code.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from course_lib import notebooks
from course_lib.notebooks import NotebookSourceError, Where, learner_source

FIXTURE = Path(__file__).parent / "fixtures" / "course"
HERE = Where(Path("solutions/00_x.py"), 4, "def f(x):")


@pytest.fixture()
def tree(tmp_path: Path) -> Path:
    """A temporary copy of the fixture course (solutions only)."""
    root = tmp_path / "course"
    shutil.copytree(FIXTURE, root)
    return root


def test_solution_block_becomes_stub_at_marker_indentation() -> None:
    source = "def f(x):\n    y = 1\n    ### BEGIN SOLUTION\n    return 2 * x\n    ### END SOLUTION"
    expected = "def f(x):\n    y = 1\n    # YOUR CODE HERE\n    raise NotImplementedError()"
    assert learner_source(source, "code", HERE) == expected


def test_markdown_solution_becomes_your_answer_here() -> None:
    source = "Why?\n### BEGIN SOLUTION\nBecause.\n### END SOLUTION\nMore prose."
    assert learner_source(source, "markdown", HERE) == "Why?\nYOUR ANSWER HERE\nMore prose."


def test_hidden_tests_are_removed_entirely() -> None:
    source = "f = check.f(f)\n### BEGIN HIDDEN TESTS\nassert f(1) == 2\n### END HIDDEN TESTS"
    assert learner_source(source, "code", HERE) == "f = check.f(f)"


def test_code_without_markers_is_unchanged() -> None:
    source = "x = 1\n\n# a comment with SOLUTION in it\nprint(x)"
    assert learner_source(source, "code", HERE) == source


@pytest.mark.parametrize(
    ("source", "message"),
    [
        ("### BEGIN SOLUTION\nx = 1", "never closed"),
        ("x = 1\n### END SOLUTION", "without a matching"),
        (
            "### BEGIN SOLUTION\n### BEGIN HIDDEN TESTS\n### END HIDDEN TESTS\n### END SOLUTION",
            "nest",
        ),
        ("### BEGIN HIDDEN TESTS\nx\n### END SOLUTION", "without a matching"),
        ("x = 1  ### BEGIN SOLUTION", "alone on its own line"),
    ],
)
def test_unbalanced_or_nested_markers_name_file_and_cell(source: str, message: str) -> None:
    with pytest.raises(NotebookSourceError, match=message) as info:
        learner_source(source, "code", HERE)
    assert "solutions/00_x.py, cell 5" in str(info.value)


def _replace_in_source(root: Path, old: str, new: str) -> Path:
    path = root / "solutions" / "00_fixture.py"
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new, 1))
    return path


def test_graded_cell_without_grade_id_is_an_error(tree: Path) -> None:
    _replace_in_source(tree, '"grade_id": "ch00_double", ', "")
    with pytest.raises(NotebookSourceError, match="needs a 'grade_id'") as info:
        notebooks.build(tree)
    assert "00_fixture.py, cell 5" in str(info.value)


def test_duplicate_grade_ids_are_an_error(tree: Path) -> None:
    _replace_in_source(tree, '"grade_id": "ch00_reverse"', '"grade_id": "ch00_double"')
    with pytest.raises(NotebookSourceError, match="'ch00_double' is used twice"):
        notebooks.build(tree)


def test_hidden_tests_outside_a_graded_cell_are_an_error(tree: Path) -> None:
    begin, end = (
        "### BEGIN SOLUTION\n    return 2",
        '### END SOLUTION\n\n\n# %% nbgrader={"grade": t',
    )
    _replace_in_source(tree, begin, begin.replace("SOLUTION", "HIDDEN TESTS"))
    _replace_in_source(tree, end, end.replace("SOLUTION", "HIDDEN TESTS"))
    with pytest.raises(NotebookSourceError, match="not graded would never run"):
        notebooks.build(tree)


def test_learner_notebook_has_exact_stubs_and_no_hidden_tests(tree: Path) -> None:
    files = notebooks.build(tree)
    nb = json.loads(files[Path("chapters/00_fixture.ipynb")])
    by_id = {cell["id"]: "".join(cell["source"]) for cell in nb["cells"]}
    assert by_id["ch00_count_words_answer"] == (
        "def count_words(text: str) -> int:\n"
        '    """The number of whitespace-separated words in `text`."""\n'
        "    # YOUR CODE HERE\n"
        "    raise NotImplementedError()"
    )
    assert by_id["ch00_count_words"] == "count_words = check.count_words(count_words)"
    assert by_id["ch00_reverse"] == "reverse = check.reverse(reverse)"
    question = [s for s in by_id.values() if s.startswith("### Question")][0]
    assert question == "### Question: why return a new list?\nYOUR ANSWER HERE"
    text = files[Path("chapters/00_fixture.py")]
    assert (
        "HIDDEN" not in text and "BEGIN SOLUTION" not in text and "words = text.split()" not in text
    )
    assert text.count("raise NotImplementedError()") == 3


def test_solution_notebook_keeps_solutions_and_hidden_tests(tree: Path) -> None:
    nb = json.loads(notebooks.build(tree)[Path("solutions/00_fixture.ipynb")])
    by_id = {cell["id"]: "".join(cell["source"]) for cell in nb["cells"]}
    assert '### BEGIN HIDDEN TESTS\nassert count_words("") == 0' in by_id["ch00_count_words"]
    assert "    words = text.split()\n" in by_id["ch00_count_words_answer"]


def test_nbgrader_metadata_is_kept_in_py_and_ipynb(tree: Path) -> None:
    files = notebooks.build(tree)
    py = files[Path("chapters/00_fixture.py")]
    assert (
        '# %% nbgrader={"grade": true, "grade_id": "ch00_count_words", "locked": true, "points": 2}'
        in py
    )
    nb = json.loads(files[Path("chapters/00_fixture.ipynb")])
    graded = [
        c["metadata"]["nbgrader"]
        for c in nb["cells"]
        if c["metadata"].get("nbgrader", {}).get("grade")
    ]
    assert graded == [
        {"grade": True, "grade_id": "ch00_double", "locked": True, "points": 1},
        {"grade": True, "grade_id": "ch00_count_words", "locked": True, "points": 2},
        {"grade": True, "grade_id": "ch00_reverse", "locked": True, "points": 2},
    ]


def test_generated_notebooks_are_output_free(tree: Path) -> None:
    for relative, text in notebooks.build(tree).items():
        if relative.suffix != ".ipynb":
            continue
        nb = json.loads(text)
        assert set(nb["metadata"]) == {"jupytext", "kernelspec", "language_info"}
        for cell in nb["cells"]:
            assert set(cell["metadata"]) <= {"nbgrader"}
            if cell["cell_type"] == "code":
                assert cell["outputs"] == [] and cell["execution_count"] is None


def test_generated_chapter_py_reads_back_as_the_learner_notebook(tree: Path) -> None:
    import jupytext

    files = notebooks.build(tree)
    from_py = jupytext.reads(files[Path("chapters/00_fixture.py")], fmt="py:percent")
    from_ipynb = json.loads(files[Path("chapters/00_fixture.ipynb")])
    assert [c.source for c in from_py.cells] == ["".join(c["source"]) for c in from_ipynb["cells"]]


def test_same_input_gives_byte_identical_output(tree: Path, tmp_path: Path) -> None:
    other = tmp_path / "other"
    shutil.copytree(tree, other)
    notebooks.write(tree)
    notebooks.write(other)
    for relative in notebooks.build(tree):
        assert (tree / relative).read_bytes() == (other / relative).read_bytes()
    assert notebooks.write(tree) == []  # a second run changes nothing


def test_drift_check_fails_after_editing_a_solution_and_passes_after_regenerating(
    tree: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert notebooks.main(["--root", str(tree), "--check"]) == 1  # nothing generated yet
    assert notebooks.main(["--root", str(tree)]) == 0
    assert notebooks.main(["--root", str(tree), "--check"]) == 0
    _replace_in_source(tree, "Words are separated", "Words are split")
    capsys.readouterr()
    assert notebooks.main(["--root", str(tree), "--check"]) == 1
    err = capsys.readouterr().err
    for name in (
        "chapters/00_fixture.py",
        "chapters/00_fixture.ipynb",
        "solutions/00_fixture.ipynb",
    ):
        assert name in err
    assert "make chapters" in err
    assert notebooks.main(["--root", str(tree)]) == 0
    assert notebooks.main(["--root", str(tree), "--check"]) == 0


def test_drift_check_notices_a_hand_edited_chapter_and_a_stale_one(tree: Path) -> None:
    notebooks.write(tree)
    (tree / "chapters" / "00_fixture.py").write_text("# edited by hand\n")
    (tree / "chapters" / "07_gone.ipynb").write_text("{}")
    problems = notebooks.check(tree)
    assert problems == [
        "chapters/00_fixture.py: differs from what its solution generates",
        "chapters/07_gone.ipynb: has no source in solutions/",
    ]


def test_command_line_check_exits_1_on_drift(tree: Path) -> None:
    import subprocess
    import sys

    run = [sys.executable, "-m", "course_lib.notebooks", "--root", str(tree), "--check"]
    result = subprocess.run(run, capture_output=True, text=True, timeout=600)
    assert result.returncode == 1 and "make chapters" in result.stderr


# Pairing: every .py and .ipynb is a jupytext pair, and the kernel is named in both.


def test_every_generated_file_names_the_pairing_and_the_kernel(tree: Path) -> None:
    import jupytext

    for relative, text in notebooks.build(tree).items():
        fmt = "ipynb" if relative.suffix == ".ipynb" else "py:percent"
        metadata = jupytext.reads(text, fmt=fmt).metadata
        assert metadata["jupytext"]["formats"] == "ipynb,py:percent", relative
        assert metadata["kernelspec"]["name"] == "python3", relative  # no "Select Kernel" dialog


def test_pairing_settings_are_the_ones_in_jupytext_toml() -> None:
    tomllib = pytest.importorskip("tomllib", reason="reading TOML needs Python 3.11+")
    config = tomllib.loads((Path(__file__).parents[1] / "jupytext.toml").read_text())
    assert config == notebooks.PAIRING


def test_the_header_replaces_an_old_one_and_keeps_the_body() -> None:
    body = "# %% [markdown]\n# # Title\n\n# %%\nx = 1\n"
    old = "# ---\n# jupyter:\n#   kernelspec:\n#     name: python2\n# ---\n\n"
    assert notebooks.with_py_header(old + body) == notebooks.py_header() + body
    assert notebooks.with_py_header(body) == notebooks.py_header() + body
    assert notebooks.with_py_header(notebooks.py_header() + body) == notebooks.py_header() + body


def test_drift_check_notices_a_solution_without_the_pairing_header(tree: Path) -> None:
    notebooks.write(tree)
    source = tree / "solutions" / "00_fixture.py"
    source.write_text(source.read_text().removeprefix(notebooks.py_header()))
    assert notebooks.check(tree) == [
        "solutions/00_fixture.py: differs from what its solution generates"
    ]


def _sync(folder: Path, stem: str) -> str:
    """Run `jupytext --sync` on a pair, as a learner's editor would; return what it said."""
    import subprocess
    import sys

    run = [sys.executable, "-m", "jupytext", "--sync", f"{stem}.ipynb"]
    done = subprocess.run(run, cwd=folder, capture_output=True, text=True, check=True, timeout=300)
    return done.stdout + done.stderr


def test_jupytext_sync_sees_a_chapter_pair_and_changes_nothing(tree: Path) -> None:
    notebooks.write(tree)
    folder = tree / "chapters"
    before = {p.name: p.read_bytes() for p in folder.iterdir()}
    (folder / "00_fixture.py").touch()  # newer than the notebook: sync reads the .py
    said = _sync(folder, "00_fixture")
    assert "not a paired notebook" not in said
    assert "Unchanged 00_fixture.ipynb" in said and "Unchanged 00_fixture.py" in said
    assert {p.name: p.read_bytes() for p in folder.iterdir()} == before


def test_jupytext_sync_of_a_solution_pair_keeps_every_cell(tree: Path) -> None:
    notebooks.write(tree)
    folder = tree / "solutions"
    before = notebooks.read_solution(folder / "00_fixture.ipynb")
    (folder / "00_fixture.ipynb").touch()  # the notebook is newer: sync rewrites the .py
    assert "not a paired notebook" not in _sync(folder, "00_fixture")
    after = notebooks.read_solution(folder / "00_fixture.py")
    assert after == before
