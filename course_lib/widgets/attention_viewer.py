"""AttentionViewer: which earlier tokens each token of a prompt attends to, per layer and head."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from course_lib.backends import forward, to_numpy
from course_lib.sampling import check_vocab_size
from course_lib.widgets._common import (
    figure_png,
    message_html,
    new_figure,
    static_figure,
    widget_message,
)

# prompt -> (its tokens, attention weights (layers, heads, time, time))
AttentionFn = Callable[[str], tuple[list[str], np.ndarray]]


def attention_maps(model: Any, vocab: Any, prompt: str) -> tuple[list[str], np.ndarray]:
    """Run `model` on `prompt`; return its tokens and every layer's weights (layers, heads, T, T).

    Unknown words and over-long prompts raise the vocabulary's own ValueError (it says what to do).
    """
    check_vocab_size(vocab, getattr(model, "config", None))
    if not prompt.strip():
        raise ValueError("the prompt is empty: type a few words the vocabulary knows")
    max_len = getattr(getattr(model, "config", None), "max_seq_len", None)
    ids = list(vocab.encode(prompt, max_len=max_len) if max_len else vocab.encode(prompt))
    if not ids:
        raise ValueError("the prompt has no tokens: type a few words the vocabulary knows")
    tokens = [str(vocab.id_to_token[i]) for i in ids]
    batch = np.array([ids], dtype=np.int64)  # (1, T)
    mask = np.ones_like(batch, dtype=bool)  # (1, T), every token is real
    forward(model, batch, mask)  # each attention layer keeps its weights
    maps = [to_numpy(block.attention.weights)[0] for block in model.blocks]  # each (heads, T, T)
    return tokens, np.stack(maps)  # (layers, heads, T, T)


def plot_attention(ax: Any, weights: np.ndarray, tokens: Sequence[str], title: str = "") -> Any:
    """Draw one (T, T) attention map on `ax`: rows are queries, columns the keys they look at."""
    image = ax.imshow(weights, cmap="viridis", vmin=0.0, vmax=1.0)
    positions = range(len(tokens))
    size = 8 if len(tokens) <= 20 else 6
    ax.set_xticks(positions, tokens, rotation=90, fontsize=size)
    ax.set_yticks(positions, tokens, fontsize=size)
    ax.set_xlabel("attends to (key)", fontsize=8)
    ax.set_ylabel("token (query)", fontsize=8)
    if len(tokens) <= 12:
        for (row, col), value in np.ndenumerate(weights):
            if value >= 0.005:
                colour = "black" if value > 0.6 else "white"
                ax.text(col, row, f"{value:.2f}", ha="center", va="center", fontsize=7, c=colour)
    if title:
        ax.set_title(title, fontsize=9)
    return image


class AttentionViewer:
    """Prompt box, layer and head selectors and the attention heatmap with token labels.

    Give a model and its vocabulary (either backend), or `attention_fn`: any function that maps a
    prompt to (tokens, weights of shape (layers, heads, T, T)). `weights` is the (T, T) map shown.
    """

    def __init__(
        self,
        model: Any = None,
        vocab: Any = None,
        prompt: str = "",
        *,
        attention_fn: AttentionFn | None = None,
        layer: int = 0,
        head: int = 0,
    ) -> None:
        if attention_fn is None:
            if model is None or vocab is None:
                raise ValueError("AttentionViewer needs a model and its vocab, or attention_fn=")
            check_vocab_size(vocab, getattr(model, "config", None))
            attention_fn = lambda text: attention_maps(model, vocab, text)  # noqa: E731
        self.attention_fn = attention_fn
        self.prompt = ""
        self.tokens: list[str] = []
        self.maps = np.zeros((0, 0, 0, 0))  # (layers, heads, T, T)
        self.layer = layer
        self.head = head
        self.weights = np.zeros((0, 0))  # (T, T), the map on show
        self.message = ""
        self.figure: Any = None
        self._build_widgets(prompt)
        if prompt:
            self._run(prompt)
        else:
            self._set_message("Type a prompt and press Enter to see its attention.", "info")

    def _build_widgets(self, prompt: str) -> None:
        import ipywidgets as w

        self.prompt_box = w.Text(
            value=prompt,
            placeholder="type a prompt, then Enter",
            description="prompt",
            continuous_update=False,
            layout=w.Layout(width="520px"),
        )
        self.layer_slider = w.IntSlider(value=0, min=0, max=0, description="layer")
        self.head_slider = w.IntSlider(value=0, min=0, max=0, description="head")
        self.message_html = w.HTML()
        self.image = w.Image(format="png", layout=w.Layout(max_width="560px"))
        self.prompt_box.observe(lambda change: self._run(change["new"]), "value")
        self.layer_slider.observe(self._on_select, "value")
        self.head_slider.observe(self._on_select, "value")
        self.prompt_box.add_class("course-attention-prompt")
        self.message_html.add_class("course-attention-message")
        self.widget = w.VBox(
            [
                self.prompt_box,
                w.HBox([self.layer_slider, self.head_slider]),
                self.message_html,
                self.image,
            ]
        )
        self.widget.add_class("course-attention")

    def _repr_mimebundle_(self, **kwargs: Any) -> Any:
        return self.widget._repr_mimebundle_(**kwargs)

    def _set_message(self, message: str, kind: str = "error") -> None:
        self.message = message
        self.message_html.value = message_html(message, kind)

    def _run(self, prompt: str) -> None:
        if not prompt.strip():
            self._set_message("The prompt is empty: type a few words and press Enter.")
            return
        try:
            tokens, maps = self.attention_fn(prompt)
        except ValueError as error:  # unknown word, too long, ...: the message says what to do
            self._set_message(widget_message(error))
            return
        maps = to_numpy(maps)
        if maps.ndim != 4 or maps.shape[2:] != (len(tokens), len(tokens)):
            raise ValueError(
                f"attention_fn gave weights of shape {maps.shape} for {len(tokens)} tokens; "
                "expected (layers, heads, T, T)"
            )
        self.prompt, self.tokens, self.maps = prompt, list(tokens), maps
        self._set_message("")
        # Re-range the sliders without letting each change redraw on the way.
        self._quiet = True
        try:
            self.layer_slider.max = maps.shape[0] - 1
            self.head_slider.max = maps.shape[1] - 1
            self.layer_slider.value = min(self.layer, maps.shape[0] - 1)
            self.head_slider.value = min(self.head, maps.shape[1] - 1)
        finally:
            self._quiet = False
        self._on_select()

    def _on_select(self, change: dict[str, Any] | None = None) -> None:
        if getattr(self, "_quiet", False) or self.maps.size == 0:
            return
        self.layer = self.layer_slider.value
        self.head = self.head_slider.value
        self.weights = self.maps[self.layer, self.head]  # (T, T)
        self.figure = new_figure(5.8, 5.0)
        ax = self.figure.add_subplot()
        title = f"layer {self.layer}, head {self.head}"
        image = plot_attention(ax, self.weights, self.tokens, title)
        self.figure.colorbar(image, ax=ax, fraction=0.046, pad=0.04)
        self.image.value = figure_png(self.figure)

    def show(self, prompt: str, layer: int | None = None, head: int | None = None) -> None:
        """Show `prompt` (as if typed), and optionally pick a layer and a head."""
        self.prompt_box.value = prompt
        if layer is not None:
            self.layer_slider.value = layer
        if head is not None:
            self.head_slider.value = head

    def static(self, prompt: str | None = None) -> Any:
        """A matplotlib figure with every layer (rows) and head (columns) for `prompt`."""
        if prompt is not None:
            tokens, maps = self.attention_fn(prompt)
            tokens, maps = list(tokens), to_numpy(maps)
        elif self.maps.size:
            tokens, maps = self.tokens, self.maps
        else:
            raise ValueError("no prompt yet: call static('some prompt')")
        layers, heads = maps.shape[:2]
        side = 2.2 + 0.22 * len(tokens)
        figure, axes = static_figure(side * heads, side * layers, layers, heads)
        for layer in range(layers):
            for head in range(heads):
                plot_attention(
                    axes[layer, head], maps[layer, head], tokens, f"layer {layer}, head {head}"
                )
        return figure
