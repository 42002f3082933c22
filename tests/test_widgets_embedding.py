"""EmbeddingInspector: setting a control changes what is shown; bad input becomes a message.

Oracle: a five-row table whose neighbours are worked out by hand (cosine and euclidean orders
differ on purpose), and NumPy formulas for norms, cosines and means.
"""

from __future__ import annotations

import matplotlib
import numpy as np
import pytest

from course_lib.vocab import Vocab
from course_lib.widgets.embedding_inspector import EmbeddingInspector, nearest, pooled_hidden_states
from course_lib.widgets.projection import PCA2D

pytest.importorskip("ipywidgets")
matplotlib.use("Agg")

LABELS = ["a", "b", "c", "d", "e"]
# Seen from "a" = (1, 0):  cosine        euclidean distance
MATRIX = np.array(
    [
        [1.0, 0.0],  # a
        [10.0, 1.0],  # b     0.995 (1st)    9.06 (4th)
        [0.9, 0.5],  # c      0.874 (2nd)    0.51 (1st)
        [0.0, 1.0],  # d      0.0   (3rd)    1.41 (2nd)
        [-1.0, 0.0],  # e    -1.0   (4th)    2.0  (3rd)
    ]
)
COSINE_ORDER = ["b", "c", "d", "e"]
EUCLIDEAN_ORDER = ["c", "d", "e", "b"]


@pytest.fixture
def inspector() -> EmbeddingInspector:
    return EmbeddingInspector(MATRIX, LABELS, counts=[5, 1, 2, 0, 7], k=4)


def test_nearest_orders_by_cosine_and_by_distance() -> None:
    assert [LABELS[i] for i, _ in nearest(MATRIX, 0, 4, "cosine")] == COSINE_ORDER
    assert [LABELS[i] for i, _ in nearest(MATRIX, 0, 4, "euclidean")] == EUCLIDEAN_ORDER
    index, score = nearest(MATRIX, 0, 1, "euclidean")[0]
    assert score == pytest.approx(np.hypot(0.1, 0.5))


def test_first_view_shows_the_first_row(inspector: EmbeddingInspector) -> None:
    assert inspector.token == "a"
    np.testing.assert_array_equal(inspector.row_values, MATRIX[0])
    assert [label for label, _ in inspector.neighbours] == COSINE_ORDER
    assert inspector.message == ""


def test_choosing_a_token_updates_row_norm_frequency_and_neighbours(
    inspector: EmbeddingInspector,
) -> None:
    inspector.token_box.value = "c"
    np.testing.assert_array_equal(inspector.row_values, MATRIX[2])
    assert inspector.norm == pytest.approx(np.hypot(0.9, 0.5))
    assert inspector.count == 2
    expected = [LABELS[i] for i, _ in nearest(MATRIX, 2, 4, "cosine")]
    assert [label for label, _ in inspector.neighbours] == expected
    assert inspector.highlighted == ["c", *expected]
    # What the learner sees is rewritten from the same state.
    assert "+0.9000 +0.5000" in inspector.values_html.value
    assert "<b>c</b>" in inspector.info_html.value and "frequency 2" in inspector.info_html.value
    table = inspector.neighbours_html.value
    assert [table.index(f"<b>{label}</b>") for label in expected] == sorted(
        table.index(f"<b>{label}</b>") for label in expected
    )


def test_distance_toggle_reorders_neighbours(inspector: EmbeddingInspector) -> None:
    inspector.metric_toggle.value = "euclidean"
    assert [label for label, _ in inspector.neighbours] == EUCLIDEAN_ORDER
    assert "distance" in inspector.neighbours_html.value


def test_neighbour_slider_sets_how_many_are_listed(inspector: EmbeddingInspector) -> None:
    inspector.k_slider.value = 2
    assert [label for label, _ in inspector.neighbours] == COSINE_ORDER[:2]
    assert inspector.highlighted == ["a", *COSINE_ORDER[:2]]


def test_highlighted_point_sits_at_the_tokens_map_coordinates(
    inspector: EmbeddingInspector,
) -> None:
    inspector.token_box.value = "d"
    star = [c for c in inspector.projection_figure.axes[0].collections if c.get_label() == "d"]
    assert len(star) == 1
    np.testing.assert_allclose(star[0].get_offsets()[0], inspector.coords[3])
    neighbours = next(
        c for c in inspector.projection_figure.axes[0].collections if c.get_label() == "neighbours"
    )
    rows = [LABELS.index(label) for label in inspector.highlighted[1:]]
    np.testing.assert_allclose(neighbours.get_offsets(), inspector.coords[rows])


def test_unknown_token_shows_a_message_and_keeps_the_view(inspector: EmbeddingInspector) -> None:
    inspector.token_box.value = "c"
    before = inspector.row_values.copy()
    inspector.token_box.value = "cc"
    assert "'cc' is not a known token" in inspector.message
    assert "'c'" in inspector.message  # the close match is suggested
    assert "not a known token" in inspector.message_html.value
    np.testing.assert_array_equal(inspector.row_values, before)
    assert inspector.token == "c"
    inspector.token_box.value = "e"
    assert inspector.message == ""


def test_empty_token_box_asks_for_a_token(inspector: EmbeddingInspector) -> None:
    inspector.token_box.value = "  "
    assert "Type a token" in inspector.message
    assert inspector.token == "a"


def test_compare_two_tokens(inspector: EmbeddingInspector) -> None:
    inspector.token_box.value = "a"
    inspector.compare_box.value = "d"
    c = inspector.comparison
    assert c is not None and c["other"] == "d"
    assert c["cosine"] == pytest.approx(0.0)
    assert c["euclidean"] == pytest.approx(np.sqrt(2))
    np.testing.assert_allclose(c["difference"], MATRIX[0] - MATRIX[3])
    assert "euclidean distance 1.4142" in inspector.compare_html.value
    inspector.compare_box.value = "zz"
    assert "'zz' is not a known token" in inspector.message
    inspector.compare_box.value = ""
    assert inspector.comparison is None and inspector.compare_html.value == ""


def test_snapshot_slider_shows_each_saved_matrix_on_shared_axes() -> None:
    early = MATRIX[:, ::-1] * 0.1  # a different arrangement, so that each step maps differently
    middle = MATRIX * 0.5
    inspector = EmbeddingInspector(MATRIX, LABELS, snapshots={"epoch 0": early, "epoch 5": middle})
    assert [name for name, _ in inspector.steps] == ["epoch 0", "epoch 5", "now"]
    assert inspector.snapshot_slider.value == 2
    np.testing.assert_array_equal(inspector.row_values, MATRIX[0])
    # One PCA fitted on all snapshots together, so positions are comparable across steps.
    shared = PCA2D.fit(np.concatenate([early, middle, MATRIX]))
    np.testing.assert_allclose(inspector.coords, shared.transform(MATRIX))
    inspector.snapshot_slider.value = 0
    np.testing.assert_array_equal(inspector.row_values, early[0])
    np.testing.assert_allclose(inspector.coords, shared.transform(early))
    assert "snapshot epoch 0" in inspector.info_html.value


def test_snapshot_equal_to_the_matrix_is_not_repeated() -> None:
    inspector = EmbeddingInspector(MATRIX, LABELS, snapshots=[MATRIX * 0.5, MATRIX])
    assert len(inspector.steps) == 2


def test_tsne_map_is_chosen_from_the_menu() -> None:
    rng = np.random.default_rng(0)
    matrix = rng.normal(size=(12, 6))
    inspector = EmbeddingInspector(matrix, [f"t{i}" for i in range(12)])
    pca = inspector.coords.copy()
    inspector.projection_menu.value = "tsne"  # default perplexity 30 is capped below 12 rows
    assert inspector.message == ""
    assert inspector.coords.shape == (12, 2)
    assert not np.allclose(inspector.coords, pca)
    assert "t-SNE" in inspector.projection_figure.axes[0].get_title()


def test_tsne_on_too_few_rows_falls_back_to_pca_with_a_message() -> None:
    inspector = EmbeddingInspector(MATRIX[:3], LABELS[:3])
    inspector.projection_menu.value = "tsne"
    assert "at least 4 rows" in inspector.message
    assert inspector.method == "pca" and inspector.projection_menu.value == "pca"


def test_repeated_labels_stay_selectable() -> None:
    inspector = EmbeddingInspector(MATRIX[:3], ["x", "x", "y"])
    assert inspector.labels == ["x", "x (2)", "y"]
    inspector.token_box.value = "x (2)"
    np.testing.assert_array_equal(inspector.row_values, MATRIX[1])


def test_counts_may_be_a_mapping_from_label() -> None:
    inspector = EmbeddingInspector(MATRIX, LABELS, counts={"b": 3})
    inspector.token_box.value = "b"
    assert inspector.count == 3
    inspector.token_box.value = "a"
    assert inspector.count == 0


@pytest.mark.parametrize(
    ("kwargs", "words"),
    [
        ({"matrix": MATRIX, "labels": LABELS[:4]}, "4 labels for 5 rows"),
        ({"matrix": MATRIX[:1], "labels": LABELS[:1]}, "n >= 2"),
        ({"matrix": MATRIX * np.nan, "labels": LABELS}, "NaN"),
        ({"matrix": MATRIX, "labels": LABELS, "counts": [1, 2]}, "2 counts for 5 rows"),
        ({"matrix": MATRIX, "labels": LABELS, "token": "q"}, "'q' is not a known token"),
        ({"matrix": MATRIX, "labels": LABELS, "snapshots": [MATRIX[:3]]}, "has shape"),
    ],
)
def test_bad_construction_says_what_is_wrong(kwargs: dict, words: str) -> None:
    with pytest.raises(ValueError, match=words):
        EmbeddingInspector(**kwargs)


def test_export_button_writes_projector_tsv(inspector: EmbeddingInspector, tmp_path) -> None:
    inspector.export_dir.value = str(tmp_path / "out")
    inspector.export_button.click()
    assert "vectors.tsv" in inspector.message and "projector.tensorflow.org" in inspector.message
    np.testing.assert_allclose(np.loadtxt(tmp_path / "out" / "vectors.tsv"), MATRIX)
    lines = (tmp_path / "out" / "metadata.tsv").read_text().splitlines()
    assert lines == ["label\tcount", "a\t5", "b\t1", "c\t2", "d\t0", "e\t7"]


def test_static_figure_draws_the_view_without_leaving_pyplot_figures() -> None:
    import matplotlib.pyplot as plt

    before = plt.get_fignums()  # other tests in this process may have left theirs open
    inspector = EmbeddingInspector(MATRIX, LABELS)
    figure = inspector.static("b", other="c")
    assert inspector.token == "b"
    titles = " ".join(ax.get_title() for ax in figure.axes)
    assert "'b': norm" in titles and "4 nearest rows" in titles and "PCA map" in titles
    assert "'b' vs 'c'" in figure._suptitle.get_text()
    assert plt.get_fignums() == before
    with pytest.raises(ValueError, match="not a known token"):
        inspector.static("nope")


# ----- from a model -------------------------------------------------------------------------


class TableModel:
    """Stands in for an LLM: a state_dict with the two tables, and fixed hidden states."""

    def __init__(self, vocab_size: int, d_model: int = 4, max_seq_len: int = 6) -> None:
        rng = np.random.default_rng(1)
        self.tables = {
            "embeddings.token.weight": rng.normal(size=(vocab_size, d_model)),
            "embeddings.position.weight": rng.normal(size=(max_seq_len, d_model)),
        }

    def state_dict(self) -> dict[str, np.ndarray]:
        return {key: value.copy() for key, value in self.tables.items()}

    def hidden_states(self, ids: np.ndarray, mask: np.ndarray) -> list[np.ndarray]:
        token = self.tables["embeddings.token.weight"][ids]  # (batch, time, d)
        return [token, 2 * token + 1]


@pytest.fixture
def vocab() -> Vocab:
    return Vocab.build(["the cat sat .", "the dog ran ."])


def test_from_model_token_table_uses_vocab_labels_and_text_counts(vocab: Vocab) -> None:
    model = TableModel(len(vocab))
    inspector = EmbeddingInspector.from_model(model, vocab, texts=["the cat saw the dog ."])
    assert inspector.labels == vocab.id_to_token
    np.testing.assert_array_equal(inspector.matrix, model.tables["embeddings.token.weight"])
    inspector.token_box.value = "the"
    assert inspector.count == 2  # repeated ids are counted twice
    inspector.token_box.value = "<unk>"
    assert inspector.count == 1  # "saw" is not in the vocabulary


def test_from_model_position_table_counts_texts_reaching_each_position(vocab: Vocab) -> None:
    model = TableModel(len(vocab))
    inspector = EmbeddingInspector.from_model(
        model, vocab, "position", texts=["the cat sat .", "the dog ."]
    )
    assert inspector.labels == ["0", "1", "2", "3", "4", "5"]
    np.testing.assert_array_equal(inspector.counts, [2, 2, 2, 1, 0, 0])
    inspector.token_box.value = "3"
    np.testing.assert_array_equal(
        inspector.row_values, model.tables["embeddings.position.weight"][3]
    )


def test_from_model_takes_snapshots_as_state_dicts(vocab: Vocab) -> None:
    model = TableModel(len(vocab))
    before = {key: value * 0.0 + 0.5 for key, value in model.state_dict().items()}
    inspector = EmbeddingInspector.from_model(model, vocab, snapshots={"start": before})
    inspector.snapshot_slider.value = 0
    np.testing.assert_array_equal(inspector.row_values, np.full(4, 0.5))


def test_from_model_without_a_learned_position_table_says_so(vocab: Vocab) -> None:
    model = TableModel(len(vocab))
    del model.tables["embeddings.position.weight"]
    with pytest.raises(ValueError, match="sinusoidal"):
        EmbeddingInspector.from_model(model, vocab, "position")


def test_pooled_hidden_states_average_only_real_tokens(vocab: Vocab) -> None:
    model = TableModel(len(vocab))
    texts = ["the cat sat .", "dog"]
    pooled = pooled_hidden_states(model, vocab, texts, layer=-1)
    table = model.tables["embeddings.token.weight"]
    expected = [
        (2 * table[vocab.encode(text)] + 1).mean(axis=0) for text in texts
    ]  # padding left out
    np.testing.assert_allclose(pooled, expected)
    inspector = EmbeddingInspector.from_hidden_states(model, vocab, texts, layer=0)
    assert inspector.labels == texts
    np.testing.assert_allclose(inspector.matrix[1], table[vocab.token_to_id["dog"]])


def test_pooled_hidden_states_reject_bad_input(vocab: Vocab) -> None:
    model = TableModel(len(vocab))
    with pytest.raises(ValueError, match="not in the vocabulary"):
        pooled_hidden_states(model, vocab, ["the zebra"])
    with pytest.raises(ValueError, match="layer must be in 0..1"):
        pooled_hidden_states(model, vocab, ["the cat"], layer=5)
    with pytest.raises(ValueError, match="non-empty list"):
        pooled_hidden_states(model, vocab, "the cat")


def numpy_model(vocab: Vocab):
    cl = pytest.importorskip("course_lib.numpy")
    if not hasattr(cl, "LLM"):
        pytest.skip("course_lib.numpy has no LLM yet")
    from course_lib import ModelConfig

    config = ModelConfig(vocab_size=len(vocab), d_model=8, d_hidden=16, n_layers=2, max_seq_len=8)
    return cl.LLM(config)


def test_real_numpy_model_tables_are_shown(vocab: Vocab) -> None:
    model = numpy_model(vocab)
    tokens = EmbeddingInspector.from_model(model, vocab)
    np.testing.assert_allclose(tokens.matrix, model.state_dict()["embeddings.token.weight"])
    tokens.token_box.value = "cat"
    np.testing.assert_allclose(
        tokens.row_values, model.state_dict()["embeddings.token.weight"][vocab.token_to_id["cat"]]
    )
    positions = EmbeddingInspector.from_model(model, vocab, "position")
    assert positions.labels == [str(p) for p in range(8)]


def test_real_numpy_model_pooled_states_ignore_padding(vocab: Vocab) -> None:
    model = numpy_model(vocab)
    alone = pooled_hidden_states(model, vocab, ["the cat"], layer=2)
    batched = pooled_hidden_states(model, vocab, ["the cat", "the dog sat ."], layer=2)
    np.testing.assert_allclose(batched[0], alone[0], rtol=1e-5, atol=1e-6)
    ids = np.array([vocab.encode("the cat")])
    np.testing.assert_allclose(alone[0], model.hidden_states(ids)[2][0].mean(axis=0), rtol=1e-6)
