"""What the chapters say about their own runs is checked by an assert beside it, and a changed
claim fails.

Oracles: the solution notebooks' own cells, run with nbclient the way nbval runs them. A claim
cell must pass on the unchanged cells and raise AssertionError once the data it depends on, or
the value it claims, is changed. The layout rules are read off the solution sources.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError

from course_lib.notebooks import read_solution

ROOT = Path(__file__).resolve().parents[1]
SOLUTIONS = sorted((ROOT / "solutions").glob("0*.py"))
# The first line of every claim cell, e.g. "# The text above, checked against this run."
CLAIM_HEADER = re.compile(r"# The text (above|below|around this cell)\b[^\n]*checked")

# Chapter 04: SGD at lr = 0.1 moves x only from -9 to about -6 in 40 steps.
VALLEY = ("04_adam.py", "-6.1 < run(sgd(0.1))[-1, 0] < -5.9")
# Chapter 01: the corpus's punctuation sorts before the capitals (not true of ASCII in general).
SORT_ORDER = ("01_vocabulary.py", "assert kinds == sorted(kinds, key=KINDS.index)")


def is_claim_cell(cell: dict) -> bool:
    return cell["cell_type"] == "code" and CLAIM_HEADER.match(cell["source"]) is not None


def code_up_to(chapter: str, marker: str) -> list[str]:
    """The code cells of a solution notebook, from the first to the one holding `marker`."""
    sources = [
        c.source for c in read_solution(ROOT / "solutions" / chapter).cells if c.cell_type == "code"
    ]
    last = next((i for i, source in enumerate(sources) if marker in source), None)
    assert last is not None, f"{chapter} has no code cell holding {marker!r}"
    return sources[: last + 1]


def replace_once(sources: list[str], old: str, new: str) -> list[str]:
    """`sources` with the single occurrence of `old` replaced (a missing or repeated one fails)."""
    assert sum(source.count(old) for source in sources) == 1, f"{old!r} is not there exactly once"
    return [source.replace(old, new) for source in sources]


def run(sources: list[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Execute the cells in a fresh kernel that imports this tree's course_lib."""
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]))
    monkeypatch.setenv("MPLBACKEND", "agg")
    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(s) for s in sources])
    client = NotebookClient(
        notebook,
        timeout=120,
        startup_timeout=120,
        kernel_name="python3",
        resources={"metadata": {"path": str(tmp_path)}},
    )
    client.execute()


def assert_claim_fails(sources: list[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Running `sources` stops with an AssertionError in the last cell, the claim cell."""
    with pytest.raises(CellExecutionError) as info:
        run(sources, tmp_path, monkeypatch)
    assert info.value.ename == "AssertionError"
    assert sources[-1].splitlines()[0] in str(info.value)  # the claim cell is the one that failed


@pytest.mark.parametrize("claim", [VALLEY, SORT_ORDER], ids=["ch04_valley", "ch01_sort_order"])
def test_claim_cell_passes_on_the_unchanged_notebook(
    claim: tuple[str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    sources = code_up_to(*claim)
    assert CLAIM_HEADER.match(sources[-1])
    run(sources, tmp_path, monkeypatch)


def test_claim_fails_when_the_data_it_depends_on_changes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Starting closer to the minimum, SGD ends near x = -3.3, not -6: the text would be wrong.
    sources = replace_once(
        code_up_to(*VALLEY), "START = np.array([-9.0, 1.5])", "START = np.array([-5.0, 1.5])"
    )
    assert_claim_fails(sources, tmp_path, monkeypatch)


def test_claim_fails_when_the_claimed_value_changes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    sources = replace_once(
        code_up_to(*VALLEY),
        "-6.1 < run(sgd(0.1))[-1, 0] < -5.9",
        "-5.1 < run(sgd(0.1))[-1, 0] < -4.9",
    )
    assert_claim_fails(sources, tmp_path, monkeypatch)


def test_claim_fails_when_the_corpus_gets_a_token_that_sorts_otherwise(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # `[` is punctuation but sorts between the capitals and the lower-case letters.
    old = "tokens = build_vocab(facts + chat)"
    sources = replace_once(
        code_up_to(*SORT_ORDER), old, 'tokens = build_vocab(facts + chat + ["[aside]"])'
    )
    assert_claim_fails(sources, tmp_path, monkeypatch)


@pytest.mark.parametrize("path", SOLUTIONS, ids=lambda path: path.stem)
def test_every_in_our_run_sentence_has_a_claim_cell_beside_it(path: Path) -> None:
    # Beside: the cell just before the sentence's Markdown cell, just after it, or just after
    # the one code cell whose output the sentence describes.
    cells = read_solution(path).cells
    for i, cell in enumerate(cells):
        if cell.cell_type != "markdown" or "in our run" not in cell.source.lower():
            continue
        beside = [i - 1, i + 1]
        if i + 1 < len(cells) and cells[i + 1].cell_type == "code":
            beside.append(i + 2)
        assert any(0 <= j < len(cells) and is_claim_cell(cells[j]) for j in beside), (
            f"{path.name}, cell {i + 1}: 'in our run' without a claim cell beside it"
        )


@pytest.mark.parametrize("path", SOLUTIONS, ids=lambda path: path.stem)
def test_claim_cells_assert_and_are_neither_graded_nor_hidden(path: Path) -> None:
    claims = [cell for cell in read_solution(path).cells if is_claim_cell(cell)]
    assert claims, f"{path.name} has no claim cell"
    for cell in claims:
        # `within(...)` (course_lib.claims) asserts that a value lies in its band
        assert re.search(r"^\s*(assert |within\()", cell.source, re.MULTILINE), cell.source
        assert "nbgrader" not in cell.get("metadata", {}), cell.source
        assert "### BEGIN" not in cell.source, cell.source
