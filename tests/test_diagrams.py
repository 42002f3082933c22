"""The architecture pictures: each function draws its figure with the labels the chapters'
prose refers to, and every chapter that shows one calls it in a one-line cell.

Oracle: the texts on the figure (what a reader of the static book sees) and the notebooks' sources.
"""

from __future__ import annotations

from pathlib import Path

import matplotlib
import pytest

matplotlib.use("agg")

from course_lib import diagrams  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]


def texts(figure) -> str:
    return "\n".join(t.get_text() for ax in figure.axes for t in ax.texts + [ax.title])


def test_tokens_to_logits_names_every_step_its_chapter_and_shape() -> None:
    shown = texts(diagrams.tokens_to_logits())
    for word in ("tokens", "ids", "embeddings", "3 transformer", "output", "softmax"):
        assert word in shown
    for chapter in ("ch. 01", "ch. 02", "ch. 03", "ch. 05"):
        assert chapter in shown
    assert "(T, d) -> (T, V)" in shown and "533" in shown


@pytest.mark.parametrize(
    ("norm", "formula"),
    [("post", "h = norm1(x + attn(x))"), ("pre", "h = x + attn(norm1(x))")],
)
def test_block_data_flow_shows_its_placement_and_the_shapes(norm: str, formula: str) -> None:
    figure = diagrams.block_data_flow(norm, d_model=64, d_hidden=96)
    shown = texts(figure)
    assert formula in shown
    assert "(B, T, 64)" in shown and "(B, T, 96)" in shown
    assert shown.count("residual") == 2 and "norm1" in shown and "norm2" in shown


def test_block_data_flow_rejects_an_unknown_placement() -> None:
    with pytest.raises(ValueError, match="'post' or 'pre'"):
        diagrams.block_data_flow("middle")


def test_training_loop_shows_the_five_steps() -> None:
    shown = texts(diagrams.training_loop())
    for step in ("forward", "loss", "backward", "clip", "Adam step", "next batch"):
        assert step in shown


@pytest.mark.parametrize(
    ("chapter", "call"),
    [
        ("01_vocabulary.py", "diagrams.tokens_to_logits();"),
        (
            "03_transformer_block.py",
            'diagrams.block_data_flow("post"), diagrams.block_data_flow("pre");',
        ),
        ("05_complete_model.py", "diagrams.training_loop();"),
    ],
)
def test_each_chapter_draws_its_picture_in_one_line(chapter: str, call: str) -> None:
    assert call in (ROOT / "solutions" / chapter).read_text().splitlines()
