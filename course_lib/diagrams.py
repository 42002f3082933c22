"""Pictures of the architecture, drawn by code: one function per picture, each returns a Figure.

    from course_lib import diagrams
    diagrams.tokens_to_logits()          # chapter 01: text -> tokens -> ids -> ... -> logits
    diagrams.block_data_flow("post")     # chapter 03: one block, with the shape at every arrow
    diagrams.training_loop()             # chapter 05: forward, loss, backward, clip, step

Boxes and arrows only, in a few colours that stay apart in grey print: the same picture in a
running notebook, a static book and GitHub's notebook viewer (a PNG output), and no image file
to keep in sync with the code.
"""

from __future__ import annotations

from typing import Any

__all__ = ["block_data_flow", "tokens_to_logits", "training_loop"]

# Fill colours by kind of step (light enough for black text, distinct in greyscale).
DATA = "#e8eef7"  # values that flow: text, tokens, vectors
LAYER = "#fde3c8"  # a layer with weights
NORM = "#d9f0d3"  # layer norm
OPERATION = "#f2f2f2"  # an operation without weights: +, softmax, clip
LOSS = "#f7d4d4"


def _figure(width: float, height: float) -> tuple[Any, Any]:
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(width, height))
    ax.set_xlim(0, width)
    ax.set_ylim(0, height)
    ax.set_aspect("equal")
    ax.axis("off")
    return fig, ax


def _box(
    ax: Any,
    x: float,
    y: float,
    text: str,
    colour: str,
    width: float = 1.9,
    height: float = 0.62,
    note: str = "",
) -> tuple[float, float, float, float]:
    """A rounded box centred at (x, y) with `text`, and a small grey `note` under it; returns
    (left, right, bottom, top) for the arrows."""
    from matplotlib.patches import FancyBboxPatch

    ax.add_patch(
        FancyBboxPatch(
            (x - width / 2, y - height / 2),
            width,
            height,
            boxstyle="round,pad=0.02,rounding_size=0.12",
            facecolor=colour,
            edgecolor="#444444",
            linewidth=1.0,
        )
    )
    ax.text(x, y, text, ha="center", va="center", fontsize=9.5)
    if note:
        ax.text(x, y - height / 2 - 0.08, note, ha="center", va="top", fontsize=8, color="#555555")
    return x - width / 2, x + width / 2, y - height / 2, y + height / 2


def _arrow(
    ax: Any,
    start: tuple[float, float],
    end: tuple[float, float],
    label: str = "",
    curve: float = 0.0,
    side: str = "right",
) -> None:
    ax.annotate(
        "",
        xy=end,
        xytext=start,
        arrowprops={
            "arrowstyle": "-|>",
            "color": "#333333",
            "linewidth": 1.1,
            "shrinkA": 0,
            "shrinkB": 0,
            "connectionstyle": f"arc3,rad={curve}",
        },
    )
    if label:
        mx, my = (start[0] + end[0]) / 2, (start[1] + end[1]) / 2
        offset = 0.1 if side == "right" else -0.1
        ax.text(
            mx + offset,
            my,
            label,
            ha="left" if side == "right" else "right",
            va="center",
            fontsize=8,
            color="#1f4e9c",
            family="monospace",
        )


def tokens_to_logits(d_model: int = 128, vocab: int = 533, n_layers: int = 3) -> Any:
    """Chapter 01's map of the whole course: from a sentence to a score for every next token,
    with the array shape between the steps and the chapter where each step is built."""
    fig, ax = _figure(12.5, 3.6)
    steps = [
        ('"Rain falls."', DATA, "text", ""),
        ("tokens", DATA, "ch. 01", "['Rain', 'falls', '.']"),
        ("ids", DATA, "ch. 01", "one int per token"),
        ("embeddings\ntoken + position", LAYER, "ch. 02", "(T,) -> (T, d)"),
        (f"{n_layers} transformer\nblocks", LAYER, "ch. 03", "(T, d) -> (T, d)"),
        ("output\nprojection", LAYER, "ch. 05", "(T, d) -> (T, V)"),
        ("softmax:\nnext token", OPERATION, "ch. 05", "(T, V)"),
    ]
    xs = [0.95 + i * 1.78 for i in range(len(steps))]
    y = 2.1
    edges = []
    for x, (text, colour, chapter, note) in zip(xs, steps, strict=True):
        edges.append(_box(ax, x, y, text, colour, width=1.5, height=0.85, note=note))
        ax.text(x, y + 0.62, chapter, ha="center", va="bottom", fontsize=8.5, weight="bold")
    for left, right in zip(edges, edges[1:], strict=False):
        _arrow(ax, (left[1], y), (right[0], y))
    ax.text(
        6.25,
        0.55,
        f"T = tokens in the text, d = d_model = {d_model} numbers per token, "
        f"V = vocabulary = {vocab} tokens.  Training (ch. 04, 05) adjusts every orange box.",
        ha="center",
        fontsize=9,
    )
    ax.set_title("From text to a prediction of the next token", fontsize=11)
    return fig


def block_data_flow(norm: str = "post", d_model: int = 128, d_hidden: int = 256) -> Any:
    """Chapter 03's block: attention and feed-forward with their residuals and layer norms, in
    `norm` = "post" or "pre" placement, the shape written at every arrow (B batch, T time)."""
    if norm not in ("post", "pre"):
        raise ValueError(f"norm must be 'post' or 'pre', got {norm!r}")
    fig, ax = _figure(8.2, 9.4)
    d, h = d_model, d_hidden
    shape = f"(B, T, {d})"
    cx = 3.3  # the main column; the residual path runs at the left
    skip = 0.9
    top = 8.7

    def residual(start_y: float, end_y: float, plus_y: float) -> None:
        ax.plot([cx, skip, skip], [start_y, start_y, plus_y], color="#777777", lw=1.1, ls="--")
        _arrow(ax, (skip, plus_y), (cx - 0.22, plus_y))
        ax.text(skip - 0.1, (start_y + plus_y) / 2, "residual", rotation=90, ha="right",
                va="center", fontsize=8, color="#777777")  # fmt: skip

    def plus(y: float) -> None:
        ax.add_patch(_circle(cx, y))
        ax.text(cx, y, "+", ha="center", va="center", fontsize=12)

    _box(ax, cx, top, "x", DATA, width=1.2, height=0.5)
    if norm == "post":
        rows = [
            ("attention\nq, k, v: x @ W.T; heads", LAYER, 7.45),
            ("+", None, 6.45),
            ("norm1", NORM, 5.75),
            ("feed-forward\nrelu(h W_up.T + b) W_down.T + b", LAYER, 4.5),
            ("+", None, 3.5),
            ("norm2", NORM, 2.8),
        ]
        title = "Post-norm block: h = norm1(x + attn(x)),  y = norm2(h + ff(h))"
    else:
        rows = [
            ("norm1", NORM, 7.75),
            ("attention\nq, k, v: x @ W.T; heads", LAYER, 6.85),
            ("+", None, 5.85),
            ("norm2", NORM, 5.05),
            ("feed-forward\nrelu(h W_up.T + b) W_down.T + b", LAYER, 4.0),
            ("+", None, 2.95),
        ]
        title = "Pre-norm block: h = x + attn(norm1(x)),  y = h + ff(norm2(h))"
    previous = top - 0.25
    plus_rows = [y for text, _, y in rows if text == "+"]
    for text, colour, y in rows:
        if text == "+":
            _arrow(ax, (cx, previous), (cx, y + 0.22), shape)
            plus(y)
            previous = y - 0.22
            continue
        height = 0.8 if "\n" in text else 0.5
        width = 3.4 if "\n" in text else 1.4
        label = shape
        _arrow(ax, (cx, previous), (cx, y + height / 2), label)
        _box(ax, cx, y, text, colour, width=width, height=height)
        if text.startswith("feed-forward"):
            ax.text(cx + 1.85, y, f"inside: (B, T, {h})", fontsize=8, va="center", color="#1f4e9c",
                    family="monospace")  # fmt: skip
        if text.startswith("attention"):
            ax.text(cx + 1.85, y, "weights: (B, heads, T, T)", fontsize=8, va="center",
                    color="#1f4e9c", family="monospace")  # fmt: skip
        previous = y - height / 2
    # The residuals: from the block's input (or h) around each sub-layer to its "+".
    if norm == "post":
        residual(top - 0.45, 6.45 + 0.0, plus_rows[0])
        residual(5.75 - 0.45, 3.5, plus_rows[1])
    else:
        residual(top - 0.45, 5.85, plus_rows[0])
        residual(5.85 - 0.4, 2.95, plus_rows[1])
    end = 2.0
    _arrow(ax, (cx, previous), (cx, end + 0.25), shape)
    _box(ax, cx, end, "y, to the next block", DATA, width=2.2, height=0.5)
    ax.text(
        cx,
        0.9,
        "Every step keeps the shape (B, T, d_model): blocks stack.\n"
        "Attention mixes positions; the feed-forward network works on each position alone.",
        ha="center",
        fontsize=8.5,
    )
    ax.set_title(title, fontsize=10.5)
    return fig


def _circle(x: float, y: float) -> Any:
    from matplotlib.patches import Circle

    return Circle((x, y), 0.22, facecolor=OPERATION, edgecolor="#444444", linewidth=1.0)


def training_loop() -> Any:
    """Chapter 05's training loop: one step is forward, loss, zero_grad + backward, clip, Adam
    step; the arrows say what passes between them."""
    fig, ax = _figure(11.2, 4.6)
    y_top, y_bottom = 3.3, 1.35
    boxes = {
        "batch": (1.35, y_top, "batch\ninputs, targets, mask", DATA),
        "forward": (4.0, y_top, "forward\nmodel(inputs, mask)", LAYER),
        "loss": (6.65, y_top, "loss\ncross_entropy", LOSS),
        "backward": (9.5, y_top, "backward\nzero_grad, backward", LAYER),
        "clip": (9.5, y_bottom, "clip\nglobal norm <= 5", OPERATION),
        "step": (6.0, y_bottom, "Adam step\nm, v, bias-corrected", OPERATION),
    }
    edges = {}
    for name, (x, y, text, colour) in boxes.items():
        edges[name] = _box(ax, x, y, text, colour, width=2.35, height=0.85)
    _arrow(ax, (edges["batch"][1], y_top), (edges["forward"][0], y_top))
    _arrow(ax, (edges["forward"][1], y_top), (edges["loss"][0], y_top))
    _arrow(ax, (edges["loss"][1], y_top), (edges["backward"][0], y_top))
    _arrow(ax, (9.5, edges["backward"][2]), (9.5, edges["clip"][3]), "gradients", side="right")
    _arrow(ax, (edges["clip"][0], y_bottom), (edges["step"][1], y_bottom))
    # Back to the start: the next batch goes through the changed weights.
    _arrow(ax, (edges["step"][0], y_bottom), (1.35, edges["batch"][2]), curve=-0.25)
    notes = [
        (5.33, y_top + 0.62, "logits (B, T, V)"),
        (8.07, y_top + 0.62, "loss, d logits"),
        (2.6, 0.75, "next batch, changed weights"),
    ]
    for x, y, text in notes:
        ax.text(x, y, text, ha="center", fontsize=8, color="#1f4e9c", family="monospace")
    ax.text(
        5.75,
        4.35,
        "One training step (exercise 5.2); an epoch runs it on every batch of the data once",
        ha="center",
        fontsize=10.5,
    )
    return fig
