"""AttentionViewer: the prompt, layer and head chosen decide the heatmap shown.

Oracle: a fake attention function whose maps encode (layer, head) in their values, a fake model
that records attention weights the way CONTRIBUTING.md specifies, and, once `course_lib.numpy`
exists, the real model's rows summing to one under the causal mask.
"""

from __future__ import annotations

import matplotlib
import numpy as np
import pytest

from course_lib.vocab import Vocab
from course_lib.widgets.attention_viewer import AttentionViewer, attention_maps

matplotlib.use("Agg")
LAYERS, HEADS = 3, 2


def fake_maps(tokens: list[str]) -> np.ndarray:
    """(layers, heads, T, T): causal rows, each map shifted by 0.01 * (layer, head) code."""
    t = len(tokens)
    causal = np.tril(np.ones((t, t))) / np.arange(1, t + 1)[:, None]
    return np.stack(
        [np.stack([causal + 0.01 * (10 * l + h) for h in range(HEADS)]) for l in range(LAYERS)]
    )


def fake_attention(prompt: str) -> tuple[list[str], np.ndarray]:
    tokens = prompt.split()
    if "zebra" in tokens:
        raise ValueError("'zebra' is not in the vocabulary (did you mean 'the'?)")
    return tokens, fake_maps(tokens)


def numpy_backend():
    """The NumPy backend, or a skip while it is still being written."""
    cl = pytest.importorskip("course_lib.numpy")
    if not hasattr(cl, "LLM"):
        pytest.skip("course_lib.numpy has no LLM yet")
    return cl


@pytest.fixture
def viewer() -> AttentionViewer:
    return AttentionViewer(attention_fn=fake_attention, prompt="the cat sat")


def test_prompt_gives_a_square_map_over_its_tokens(viewer: AttentionViewer) -> None:
    assert viewer.tokens == ["the", "cat", "sat"]
    np.testing.assert_array_equal(viewer.weights, fake_maps(viewer.tokens)[0, 0])
    viewer.prompt_box.value = "a b c d e"
    assert viewer.weights.shape == (5, 5)
    assert viewer.tokens == ["a", "b", "c", "d", "e"]


def test_layer_and_head_sliders_pick_the_map(viewer: AttentionViewer) -> None:
    assert (viewer.layer_slider.max, viewer.head_slider.max) == (LAYERS - 1, HEADS - 1)
    viewer.layer_slider.value = 2
    viewer.head_slider.value = 1
    np.testing.assert_array_equal(viewer.weights, fake_maps(viewer.tokens)[2, 1])
    assert (viewer.layer, viewer.head) == (2, 1)


def test_heatmap_shows_the_weights_with_token_labels(viewer: AttentionViewer) -> None:
    viewer.show("one two three four", layer=1, head=1)
    ax = viewer.figure.axes[0]
    np.testing.assert_array_equal(ax.images[0].get_array(), fake_maps(viewer.tokens)[1, 1])
    assert [t.get_text() for t in ax.get_xticklabels()] == viewer.tokens
    assert [t.get_text() for t in ax.get_yticklabels()] == viewer.tokens
    assert ax.get_title() == "layer 1, head 1"
    assert bytes(viewer.image.value).startswith(b"\x89PNG")


def test_empty_prompt_is_a_message_not_an_error(viewer: AttentionViewer) -> None:
    before = viewer.weights.copy()
    viewer.prompt_box.value = "   "
    assert "prompt is empty" in viewer.message
    assert "prompt is empty" in viewer.message_html.value
    np.testing.assert_array_equal(viewer.weights, before)


def test_unknown_word_shows_the_vocabularys_message(viewer: AttentionViewer) -> None:
    viewer.prompt_box.value = "the zebra"
    assert "'zebra' is not in the vocabulary" in viewer.message
    assert viewer.tokens == ["the", "cat", "sat"]
    viewer.prompt_box.value = "the cat"
    assert viewer.message == ""


def test_without_a_prompt_it_asks_for_one() -> None:
    viewer = AttentionViewer(attention_fn=fake_attention)
    assert "Type a prompt" in viewer.message and viewer.weights.shape == (0, 0)


def test_static_figure_has_a_panel_per_layer_and_head(viewer: AttentionViewer) -> None:
    figure = viewer.static("x y")
    titles = sorted(ax.get_title() for ax in figure.axes)
    assert titles == sorted(f"layer {l}, head {h}" for l in range(LAYERS) for h in range(HEADS))


def test_a_model_and_a_vocabulary_are_enough() -> None:
    with pytest.raises(ValueError, match="model and its vocab"):
        AttentionViewer()


class RecordingAttention:
    weights: np.ndarray


class Block:
    def __init__(self, scale: float) -> None:
        self.attention = RecordingAttention()
        self.scale = scale


class FakeModel:
    """After forward, block i's attention holds (batch, heads, T, T) weights of value i + 1."""

    def __init__(self) -> None:
        self.blocks = [Block(1.0), Block(2.0)]

    def forward(self, ids: np.ndarray, mask: np.ndarray) -> np.ndarray:
        assert ids.shape == mask.shape and mask.all()
        batch, t = ids.shape
        for i, block in enumerate(self.blocks):
            block.attention.weights = np.full((batch, 1, t, t), i + 1.0)
        return np.zeros((batch, t, 5))


def test_attention_maps_reads_every_blocks_weights() -> None:
    vocab = Vocab.build(["the cat sat ."])
    tokens, maps = attention_maps(FakeModel(), vocab, "the cat sat .")
    assert tokens == ["the", "cat", "sat", "."]
    assert maps.shape == (2, 1, 4, 4)
    assert maps[0].max() == 1.0 and maps[1].min() == 2.0
    with pytest.raises(ValueError, match="'dog' is not in the vocabulary"):
        attention_maps(FakeModel(), vocab, "the dog")


def test_real_numpy_model_gives_causal_rows_that_sum_to_one() -> None:
    cl = numpy_backend()
    from course_lib import ModelConfig

    vocab = Vocab.build(["the cat sat on the mat ."])
    model = cl.LLM(
        ModelConfig(
            vocab_size=len(vocab), d_model=16, d_hidden=32, n_layers=2, n_heads=2, max_seq_len=12
        )
    )
    viewer = AttentionViewer(model, vocab, "the cat sat on the mat")
    assert viewer.maps.shape == (2, 2, 6, 6)
    viewer.show("the cat sat on the mat", layer=1, head=1)
    np.testing.assert_allclose(viewer.weights.sum(axis=1), 1.0, atol=1e-6)
    np.testing.assert_allclose(np.triu(viewer.weights, k=1), 0.0, atol=1e-9)
    viewer.prompt_box.value = "the zebra"
    assert "'zebra' is not in the vocabulary" in viewer.message


def test_torch_model_shows_the_same_maps_as_the_numpy_model() -> None:
    cl = numpy_backend()
    torch = pytest.importorskip("torch")
    ct = pytest.importorskip("course_lib.torch")
    if not hasattr(ct, "LLM"):
        pytest.skip("course_lib.torch has no LLM yet")
    from course_lib import ModelConfig

    vocab = Vocab.build(["the cat sat on the mat ."])
    config = ModelConfig(
        vocab_size=len(vocab), d_model=16, d_hidden=32, n_layers=2, n_heads=2, max_seq_len=12
    )
    numpy_model = cl.LLM(config)
    torch_model = ct.LLM(config)
    torch_model.load_state_dict(
        {key: torch.tensor(value) for key, value in numpy_model.state_dict().items()}
    )
    tokens, numpy_maps = attention_maps(numpy_model, vocab, "the cat sat on the mat")
    viewer = AttentionViewer(torch_model, vocab, "the cat sat on the mat")
    assert viewer.tokens == tokens
    np.testing.assert_allclose(viewer.maps, numpy_maps, atol=1e-5)
