"""The written questions: each is a Markdown question followed by a graded Markdown answer cell in
the agreed format, whose model answer the solutions show and the learners' chapters hide.

Oracle: the generated notebooks on disk (what learners and instructors open).
"""

from __future__ import annotations

import re
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[1]
CHAPTERS = [
    "01_vocabulary",
    "02_embeddings",
    "03_transformer_block",
    "04_adam",
    "05_complete_model",
    "06_dna_embeddings",
    "07_subword_vocabulary",
]


def written(folder: str, stem: str) -> list[tuple[nbformat.NotebookNode, nbformat.NotebookNode]]:
    """(question cell, answer cell) for every written answer cell of a notebook."""
    nb = nbformat.read(ROOT / folder / f"{stem}.ipynb", as_version=4)
    pairs = []
    for i, cell in enumerate(nb.cells):
        grade_id = cell.metadata.get("nbgrader", {}).get("grade_id", "")
        if "_written_" in grade_id:
            pairs.append((nb.cells[i - 1], cell))
    return pairs


@pytest.mark.parametrize("stem", CHAPTERS)
def test_two_or_three_questions_in_the_agreed_format(stem: str) -> None:
    pairs = written("solutions", stem)
    assert 2 <= len(pairs) <= 3
    for question, answer in pairs:
        meta = answer.metadata["nbgrader"]
        assert answer.cell_type == question.cell_type == "markdown"
        assert meta == {
            "grade": True,
            "grade_id": meta["grade_id"],
            "points": 1,
            "solution": True,
        }
        assert re.fullmatch(rf"ch{stem[:2]}_written_[a-z_]+", meta["grade_id"])
        assert "**Question" in question.source


@pytest.mark.parametrize("stem", CHAPTERS)
def test_solutions_show_a_model_answer_between_the_markers(stem: str) -> None:
    for _, answer in written("solutions", stem):
        lines = answer.source.strip().splitlines()
        assert lines[0] == "### BEGIN SOLUTION" and lines[-1] == "### END SOLUTION"
        assert len(" ".join(lines[1:-1]).split()) >= 40  # a real answer, not a placeholder


@pytest.mark.parametrize("stem", CHAPTERS)
def test_learners_see_only_your_answer_here(stem: str) -> None:
    model_answers = [a.source for _, a in written("solutions", stem)]
    pairs = written("chapters", stem)
    assert len(pairs) == len(model_answers)
    for (_, answer), model in zip(pairs, model_answers, strict=True):
        assert answer.source == "YOUR ANSWER HERE"
        assert model.splitlines()[1] not in (ROOT / "chapters" / f"{stem}.ipynb").read_text()
