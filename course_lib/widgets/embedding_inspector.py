"""EmbeddingInspector: look at the rows of an embedding table (or any matrix with a label per row).

Pick a token and see its row (a colour strip and the values), its norm and frequency, its nearest
neighbours, and where it and its neighbours sit on a 2-D map of all rows. Compare two tokens, step
through snapshots saved during training, export for the TensorFlow Embedding Projector.

Everything shown is also a plain attribute (`row_values`, `neighbours`, `highlighted`, `message`,
...), so the widget can be driven and read from code and tests.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any, Literal

import numpy as np

from course_lib.backends import hidden_states, to_numpy
from course_lib.widgets._common import (
    closed_figure,
    escape,
    figure_png,
    message_html,
    new_figure,
    state_array,
    unknown_message,
)
from course_lib.widgets.projection import METHOD_NAMES, PCA2D, available_methods, project
from course_lib.widgets.projector_export import export_projector

Metric = Literal["cosine", "euclidean"]
TABLE_KEYS = {"token": "embeddings.token.weight", "position": "embeddings.position.weight"}
ArrayLike = Any  # a NumPy array, a torch tensor or nested lists
OFFSET = (3, 3)  # map labels sit this many points up and right of their dot
PAD = ' style="padding:1px 8px;text-align:left"'  # table cells


def nearest(
    matrix: np.ndarray, index: int, k: int = 5, metric: Metric = "cosine"
) -> list[tuple[int, float]]:
    """The `k` rows of `matrix` (n, d) closest to row `index`, as (row, score), closest first.

    The score is the cosine similarity (higher is closer) or the euclidean distance (lower is
    closer). The row itself is left out; ties keep table order.
    """
    matrix = np.asarray(matrix, dtype=np.float64)
    query = matrix[index]  # (d,)
    if metric == "cosine":
        norms = np.linalg.norm(matrix, axis=1) * np.linalg.norm(query)  # (n,)
        scores = np.divide(matrix @ query, norms, out=np.zeros(len(matrix)), where=norms > 0)
        order = np.argsort(-scores, kind="stable")
    elif metric == "euclidean":
        scores = np.linalg.norm(matrix - query, axis=1)  # (n,)
        order = np.argsort(scores, kind="stable")
    else:
        raise ValueError(f"metric must be 'cosine' or 'euclidean', got {metric!r}")
    order = order[order != index][:k]
    return [(int(i), float(scores[i])) for i in order]


def cosine_similarity(a: np.ndarray, b: np.ndarray) -> float:
    """cos(angle) between vectors `a` and `b`; 0 when either is all zeros."""
    denominator = float(np.linalg.norm(a) * np.linalg.norm(b))
    return float(np.dot(a, b) / denominator) if denominator > 0 else 0.0


def _unique_labels(labels: Sequence[Any]) -> list[str]:
    """Labels as strings; a repeated label gets " (2)", " (3)", ... so every row can be picked."""
    seen: Counter[str] = Counter()
    unique = []
    for label in map(str, labels):
        seen[label] += 1
        unique.append(label if seen[label] == 1 else f"{label} ({seen[label]})")
    return unique


def _drawn(label: str) -> str:
    """`label` as matplotlib must be given it to show it as typed: a pair of "$" would
    otherwise start mathtext (and "$\\foo{$" is an error there)."""
    return label.replace("$", r"\$")


def _vocab_labels(vocab: Any) -> list[str]:
    return [str(vocab.id_to_token[i]) for i in range(len(vocab))]


def _snapshot_matrix(snapshot: Any, key: str | None) -> np.ndarray:
    """A snapshot given as a matrix or as a state_dict (then `key` picks the table)."""
    if isinstance(snapshot, Mapping):
        if key is None or key not in snapshot:
            raise ValueError(f"snapshot state_dict has no {key!r}; its keys: {sorted(snapshot)}")
        return to_numpy(snapshot[key])
    return to_numpy(snapshot)


def _named_snapshots(snapshots: Any, key: str | None = None) -> list[tuple[str, np.ndarray]]:
    """Snapshots as [(name, matrix)]: from a dict, from (name, matrix) pairs or from matrices."""
    if snapshots is None:
        return []
    if isinstance(snapshots, Mapping):
        items = list(snapshots.items())
    else:
        items = [
            item if isinstance(item, tuple) and len(item) == 2 else (f"snapshot {i}", item)
            for i, item in enumerate(snapshots)
        ]
    return [(str(name), _snapshot_matrix(value, key)) for name, value in items]


class EmbeddingInspector:
    """Interactive view of the rows of `matrix` (n, d), one label per row.

    `counts` (a sequence of n numbers or a mapping label -> count) gives each row's frequency.
    `snapshots` (matrices of the same shape saved during training, oldest first: a list, a list of
    (name, matrix) or a dict name -> matrix) adds a slider; its last step shows `matrix` itself.
    Display it as the last expression of a cell; `static()` draws the same view as a figure.
    """

    def __init__(
        self,
        matrix: ArrayLike,
        labels: Sequence[Any],
        counts: Sequence[float] | Mapping[str, float] | None = None,
        snapshots: Any = None,
        *,
        token: str | None = None,
        metric: Metric = "cosine",
        k: int = 5,
        projection: str = "pca",
        title: str = "embedding table",
        seed: int = 0,
    ) -> None:
        matrix = to_numpy(matrix)
        if matrix.ndim != 2 or matrix.shape[0] < 2:
            raise ValueError(
                f"EmbeddingInspector needs an (n, d) matrix with n >= 2 rows, got {matrix.shape}"
            )
        if not np.all(np.isfinite(matrix)):
            raise ValueError("the matrix contains NaN or infinity: check the training run")
        self.labels = _unique_labels(labels)
        if len(self.labels) != len(matrix):
            raise ValueError(
                f"{len(self.labels)} labels for {len(matrix)} rows: give exactly one label per row"
            )
        self.index = {label: i for i, label in enumerate(self.labels)}
        self.counts = self._counts_array(counts)
        self.steps = _named_snapshots(snapshots)
        for name, step in self.steps:
            if step.shape != matrix.shape:
                raise ValueError(f"snapshot {name!r} has shape {step.shape}, not {matrix.shape}")
        if not self.steps or not np.array_equal(self.steps[-1][1], matrix):
            self.steps.append(("now" if self.steps else "matrix", matrix))
        if metric not in ("cosine", "euclidean"):
            raise ValueError(f"metric must be 'cosine' or 'euclidean', got {metric!r}")
        if projection not in available_methods():
            raise ValueError(f"projection must be one of {available_methods()}, got {projection!r}")
        self.title = title
        self.seed = seed
        self._projections: dict[tuple[str, int], np.ndarray] = {}
        self._pca: PCA2D | None = None

        # The state on show; every update rewrites these, then the widgets from them.
        self.step = len(self.steps) - 1
        self.metric: Metric = metric
        self.k = max(1, min(int(k), len(matrix) - 1))
        self.method = projection
        self.token = self.labels[0] if token is None else token
        if self.token not in self.index:
            raise ValueError(unknown_message(self.token, self.labels))
        self.other: str | None = None
        self.message = ""
        self.row_values = np.zeros(matrix.shape[1])
        self.norm = 0.0
        self.count: float | None = None
        self.neighbours: list[tuple[str, float]] = []
        self.highlighted: list[str] = []
        self.coords = np.zeros((len(matrix), 2))
        self.comparison: dict[str, Any] | None = None
        self.row_figure: Any = None
        self.projection_figure: Any = None
        self._build_widgets()
        self._refresh()

    # ----- construction from a model -------------------------------------------------------

    @classmethod
    def from_model(
        cls,
        model: Any,
        vocab: Any,
        table: Literal["token", "position"] = "token",
        *,
        counts: Sequence[float] | Mapping[str, float] | None = None,
        texts: Iterable[str] | None = None,
        snapshots: Any = None,
        **options: Any,
    ) -> EmbeddingInspector:
        """Inspect a model's token table (labels from `vocab`) or its learned position table.

        `texts` gives frequencies: how often each token occurs in them, or for the position table
        how many texts reach each position. `snapshots` may be state_dicts saved while training.
        """
        if table not in TABLE_KEYS:
            raise ValueError(f"table must be 'token' or 'position', got {table!r}")
        key = TABLE_KEYS[table]
        matrix = state_array(model, key)
        if matrix is None:
            raise ValueError(
                f"the model has no {key!r}"
                + (
                    " (sinusoidal positions are computed, not learned); pass that table to"
                    " EmbeddingInspector(matrix, labels) instead"
                    if table == "position"
                    else ""
                )
            )
        if table == "token":
            labels = _vocab_labels(vocab)
        else:
            labels = [str(p) for p in range(len(matrix))]
        if counts is None and texts is not None:
            counts = _count(vocab, texts, table, len(matrix))
        options.setdefault("title", f"{table} embeddings")
        return cls(matrix, labels, counts, _named_snapshots(snapshots, key), **options)

    @classmethod
    def from_hidden_states(
        cls,
        model: Any,
        vocab: Any,
        texts: Sequence[str],
        layer: int = -1,
        *,
        labels: Sequence[str] | None = None,
        **options: Any,
    ) -> EmbeddingInspector:
        """Inspect one vector per text: the mean over its tokens of a layer's hidden states.

        `layer` 0 is the embeddings' output, 1..n_layers each block's output (-1: the last).
        """
        matrix = pooled_hidden_states(model, vocab, texts, layer)
        options.setdefault("title", f"mean hidden state, layer {layer}")
        return cls(matrix, list(texts) if labels is None else labels, **options)

    # ----- the widget ----------------------------------------------------------------------

    def _build_widgets(self) -> None:
        import ipywidgets as w

        n, d = self.steps[-1][1].shape
        self.token_box = w.Combobox(
            value=self.token,
            options=self.labels,
            ensure_option=False,
            continuous_update=False,
            placeholder="type a token, then Enter",
            description="token",
            layout=w.Layout(width="260px"),
        )
        self.compare_box = w.Combobox(
            value="",
            options=self.labels,
            ensure_option=False,
            continuous_update=False,
            placeholder="(optional) second token",
            description="compare",
            layout=w.Layout(width="260px"),
        )
        self.metric_toggle = w.ToggleButtons(
            options=[("cosine", "cosine"), ("euclidean", "euclidean")],
            value=self.metric,
            description="distance",
            style={"button_width": "96px"},
        )
        self.k_slider = w.IntSlider(
            value=self.k, min=1, max=min(20, n - 1), description="neighbours"
        )
        self.projection_menu = w.Dropdown(
            options=[(METHOD_NAMES[m], m) for m in available_methods()],
            value=self.method,
            description="map",
            layout=w.Layout(width="180px"),
        )
        self.snapshot_slider = w.SelectionSlider(
            options=[(name, i) for i, (name, _) in enumerate(self.steps)],
            value=self.step,
            description="snapshot",
            continuous_update=False,
            layout=w.Layout(width="420px", display="flex" if len(self.steps) > 1 else "none"),
        )
        self.export_dir = w.Text(
            value="projector", description="folder", layout=w.Layout(width="260px")
        )
        self.export_button = w.Button(description="export TSV", icon="download")

        self.message_html = w.HTML()
        self.info_html = w.HTML()
        self.row_image = w.Image(format="png", layout=w.Layout(max_width="760px"))
        self.values_html = w.HTML()
        self.neighbours_html = w.HTML()
        self.projection_image = w.Image(format="png", layout=w.Layout(max_width="460px"))
        self.compare_html = w.HTML()

        self.token_box.observe(self._on_token, "value")
        self.compare_box.observe(self._on_other, "value")
        self.metric_toggle.observe(self._on_control, "value")
        self.k_slider.observe(self._on_control, "value")
        self.projection_menu.observe(self._on_control, "value")
        self.snapshot_slider.observe(self._on_control, "value")
        self.export_button.on_click(self._on_export)

        for widget, name in [
            (self.token_box, "token"),
            (self.compare_box, "compare"),
            (self.message_html, "message"),
            (self.info_html, "info"),
            (self.values_html, "values"),
            (self.neighbours_html, "neighbours"),
            (self.compare_html, "comparison"),
        ]:
            widget.add_class(f"course-inspector-{name}")
        self.widget = w.VBox(
            [
                w.HTML(f"<b>{escape(self.title)}</b>: {n} rows of {d} numbers"),
                w.HBox([self.token_box, self.compare_box, self.projection_menu]),
                w.HBox([self.metric_toggle, self.k_slider]),
                self.snapshot_slider,
                self.message_html,
                self.info_html,
                self.row_image,
                self.values_html,
                self.compare_html,
                w.HBox([self.neighbours_html, self.projection_image]),
                w.HBox([self.export_dir, self.export_button]),
            ]
        )
        self.widget.add_class("course-inspector")

    def _repr_mimebundle_(self, **kwargs: Any) -> Any:
        return self.widget._repr_mimebundle_(**kwargs)

    # ----- reacting to the controls --------------------------------------------------------

    def _set_message(self, message: str, kind: str = "error") -> None:
        self.message = message
        self.message_html.value = message_html(message, kind)

    def _on_token(self, change: dict[str, Any]) -> None:
        token = str(change["new"]).strip()
        if not token:
            self._set_message("Type a token into the box (then press Enter) to inspect its row.")
            return
        if token not in self.index:
            # Keep showing the previous token: only the message changes.
            self._set_message(unknown_message(token, self.labels))
            return
        self.token = token
        self._set_message("")
        self._refresh()

    def _on_other(self, change: dict[str, Any]) -> None:
        other = str(change["new"]).strip()
        if other and other not in self.index:
            self._set_message(unknown_message(other, self.labels))
            return
        self.other = other or None
        self._set_message("")
        self._refresh()

    def _on_control(self, change: dict[str, Any]) -> None:
        previous = self.method
        self.metric = self.metric_toggle.value
        self.k = self.k_slider.value
        self.method = self.projection_menu.value
        self.step = self.snapshot_slider.value
        self._set_message("")
        try:
            self._refresh()
        except (ValueError, ImportError) as error:
            # A map that cannot be drawn here (too few rows, missing package) falls back.
            self.method = previous
            self.projection_menu.value = previous
            self._set_message(f"{METHOD_NAMES.get(change['new'], change['new'])}: {error}")

    def _on_export(self, _button: Any = None) -> None:
        folder = self.export_dir.value.strip()
        if not folder:
            self._set_message("Type a folder name to export into.")
            return
        try:
            vectors, metadata = self.export_projector(folder)
        except (OSError, ValueError) as error:
            self._set_message(f"export failed: {error}")
            return
        self._set_message(
            f"wrote {vectors} and {metadata}: load both at projector.tensorflow.org", "info"
        )

    # ----- what is shown -------------------------------------------------------------------

    def select(self, token: str) -> None:
        """Show `token` (as if typed into the token box)."""
        self.token_box.value = token

    def compare(self, other: str | None) -> None:
        """Compare the shown token with `other` (None or "" to stop comparing)."""
        self.compare_box.value = other or ""

    @property
    def matrix(self) -> np.ndarray:
        """The matrix of the snapshot on show (n, d)."""
        return self.steps[self.step][1]

    def projection(self, method: str | None = None, step: int | None = None) -> np.ndarray:
        """2-D coordinates (n, 2) of every row on the map `method` for snapshot `step`.

        PCA axes are fitted once on all snapshots together, so rows visibly move between steps.
        """
        method = self.method if method is None else method
        step = self.step if step is None else step
        key = (method, step)
        if key not in self._projections:
            if method == "pca":
                if self._pca is None:
                    self._pca = PCA2D.fit(np.concatenate([m for _, m in self.steps]))
                self._projections[key] = self._pca.transform(self.steps[step][1])
            else:
                self._projections[key] = project(self.steps[step][1], method, seed=self.seed)
        return self._projections[key]

    def _refresh(self) -> None:
        matrix = self.matrix  # (n, d)
        i = self.index[self.token]
        self.coords = self.projection()
        self.row_values = matrix[i].copy()
        self.norm = float(np.linalg.norm(self.row_values))
        self.count = None if self.counts is None else float(self.counts[i])
        self.neighbours = [
            (self.labels[j], score) for j, score in nearest(matrix, i, self.k, self.metric)
        ]
        self.highlighted = [self.token] + [label for label, _ in self.neighbours]
        if self.other is not None:
            other = matrix[self.index[self.other]]
            self.comparison = {
                "token": self.token,
                "other": self.other,
                "cosine": cosine_similarity(self.row_values, other),
                "euclidean": float(np.linalg.norm(self.row_values - other)),
                "difference": self.row_values - other,
            }
        else:
            self.comparison = None
        self._show()

    def _show(self) -> None:
        self.info_html.value = self._info_text()
        self.values_html.value = self._values_text()
        self.neighbours_html.value = self._neighbours_table()
        self.compare_html.value = self._comparison_text()
        self.row_figure = new_figure(7.6, 1.1 + (0.9 if self.comparison else 0))
        self._draw_rows(self.row_figure)
        self.row_image.value = figure_png(self.row_figure)
        self.projection_figure = new_figure(4.6, 4.0)
        self._draw_projection(self.projection_figure.add_subplot())
        self.projection_image.value = figure_png(self.projection_figure)

    def _info_text(self) -> str:
        parts = [f"<b>{escape(self.token)}</b> (row {self.index[self.token]})"]
        parts.append(f"norm {self.norm:.4f}")
        if self.count is not None and self.counts is not None:
            total = float(self.counts.sum())
            share = f" ({100 * self.count / total:.2f}% of all)" if total > 0 else ""
            parts.append(f"frequency {self.count:g}{share}")
        if len(self.steps) > 1:
            parts.append(f"snapshot {escape(self.steps[self.step][0])}")
        return " &middot; ".join(parts)

    def _values_text(self) -> str:
        per_line = 8
        lines = []
        for start in range(0, len(self.row_values), per_line):
            chunk = self.row_values[start : start + per_line]
            lines.append(f"{start:4d}: " + " ".join(f"{v:+.4f}" for v in chunk))
        return (
            '<pre class="course-inspector-values-text" style="font-size:11px;line-height:1.25;'
            f'margin:0;max-height:180px;overflow:auto">{chr(10).join(lines)}</pre>'
        )

    def _neighbours_table(self) -> str:
        score_name = "cosine" if self.metric == "cosine" else "distance"
        names = ["#", "token", score_name] + (["count"] if self.counts is not None else [])
        head = "<tr>" + "".join(f"<th{PAD}>{name}</th>" for name in names) + "</tr>"
        rows = []
        for rank, (label, score) in enumerate(self.neighbours, start=1):
            cells = [str(rank), f"<b>{escape(label)}</b>", f"{score:.4f}"]
            if self.counts is not None:
                cells.append(f"{self.counts[self.index[label]]:g}")
            rows.append("<tr>" + "".join(f"<td{PAD}>{c}</td>" for c in cells) + "</tr>")
        return (
            f"<div>nearest to <b>{escape(self.token)}</b> ({self.metric})</div>"
            '<table class="course-inspector-neighbours-table" style="border-collapse:collapse">'
            f"{head}{''.join(rows)}</table>"
        )

    def _comparison_text(self) -> str:
        if self.comparison is None:
            return ""
        c = self.comparison
        return (
            f"<b>{escape(c['token'])}</b> vs <b>{escape(c['other'])}</b>: "
            f"cosine {c['cosine']:+.4f}, euclidean distance {c['euclidean']:.4f}"
        )

    def _draw_rows(self, figure: Any) -> None:
        rows = [(self.token, self.row_values)]
        if self.comparison is not None:
            other = self.matrix[self.index[self.comparison["other"]]]
            rows += [(self.comparison["other"], other)]
            rows += [("difference", self.comparison["difference"])]
        limit = max(float(np.abs(np.stack([r for _, r in rows])).max()), 1e-12)
        axes = figure.subplots(len(rows), 1, squeeze=False)[:, 0]
        for ax, (name, row) in zip(axes, rows, strict=True):
            image = ax.imshow(
                row[None, :], aspect="auto", cmap="RdBu_r", vmin=-limit, vmax=limit
            )  # (1, d): one coloured cell per number
            ax.set_yticks([0], [_drawn(name)])
            ax.set_xticks([])
        axes[-1].set_xlabel("dimension")
        axes[-1].set_xticks(np.linspace(0, len(self.row_values) - 1, 5).round())
        figure.colorbar(image, ax=list(axes), fraction=0.03, pad=0.01)

    def _draw_projection(self, ax: Any) -> None:
        coords = self.coords  # (n, 2)
        ax.scatter(coords[:, 0], coords[:, 1], s=8, c="#b0b0b0", linewidths=0)
        if len(coords) <= 40:
            for label, (x, y) in zip(self.labels, coords, strict=True):
                ax.annotate(
                    _drawn(label), (x, y), OFFSET, textcoords="offset points", fontsize=7, c="#777"
                )
        neighbour_rows = [self.index[label] for label in self.highlighted[1:]]
        ax.scatter(*coords[neighbour_rows].T, s=30, c="#ff7f0e", label="neighbours", zorder=3)
        for j in neighbour_rows:
            ax.annotate(
                _drawn(self.labels[j]),
                coords[j],
                OFFSET,
                textcoords="offset points",
                fontsize=8,
                color="#b35900",
                zorder=4,
            )
        i = self.index[self.token]
        ax.scatter(*coords[i], s=90, c="#d62728", marker="*", label=_drawn(self.token), zorder=5)
        ax.annotate(
            _drawn(self.token),
            coords[i],
            OFFSET,
            textcoords="offset points",
            fontsize=10,
            weight="bold",
            color="#d62728",
            zorder=6,
        )
        if self.method == "pca" and len(self.steps) > 1:
            # The same limits for every snapshot, so movement is movement and not re-scaling.
            every = np.concatenate([self.projection("pca", s) for s in range(len(self.steps))])
            low, high = every.min(axis=0), every.max(axis=0)
            pad = 0.05 * np.maximum(high - low, 1e-12)
            ax.set_xlim(low[0] - pad[0], high[0] + pad[0])
            ax.set_ylim(low[1] - pad[1], high[1] + pad[1])
        ax.set_title(f"{METHOD_NAMES[self.method]} map of all {len(coords)} rows", fontsize=9)
        ax.legend(loc="best", fontsize=7)
        ax.tick_params(labelsize=7)

    # ----- non-interactive use -------------------------------------------------------------

    def static(self, token: str | None = None, other: str | None = None) -> Any:
        """A matplotlib figure of the same view (row strip, neighbours, map) for `token`."""
        if token is not None:
            if token not in self.index:
                raise ValueError(unknown_message(token, self.labels))
            self.select(token)
        if other is not None:
            if other not in self.index:
                raise ValueError(unknown_message(other, self.labels))
            self.compare(other)
        figure = closed_figure(11, 4.4)
        axes = figure.subplot_mosaic(
            [["strip", "map"], ["bars", "map"]], height_ratios=[1, 4], width_ratios=[1, 1]
        )
        top, bars, right = axes["strip"], axes["bars"], axes["map"]
        limit = max(float(np.abs(self.row_values).max()), 1e-12)
        top.imshow(self.row_values[None, :], aspect="auto", cmap="RdBu_r", vmin=-limit, vmax=limit)
        top.set_yticks([])
        top.set_xticks([])
        extra = f", count {self.count:g}" if self.count is not None else ""
        top.set_title(_drawn(f"{self.token!r}: norm {self.norm:.3f}{extra}"), fontsize=10)
        names = [label for label, _ in self.neighbours][::-1]
        scores = [score for _, score in self.neighbours][::-1]
        bars.barh(range(len(names)), scores, color="#ff7f0e")
        bars.set_yticks(range(len(names)), [_drawn(name) for name in names], fontsize=8)
        bars.set_xlabel("cosine similarity" if self.metric == "cosine" else "euclidean distance")
        bars.set_title(f"{len(names)} nearest rows", fontsize=9)
        self._draw_projection(right)
        if self.comparison is not None:
            c = self.comparison
            figure.suptitle(
                f"{c['token']!r} vs {c['other']!r}: cosine {c['cosine']:+.3f}, "
                f"distance {c['euclidean']:.3f}",
                fontsize=10,
            )
        return figure

    def export_projector(self, directory: str | Path) -> tuple[Path, Path]:
        """Write vectors.tsv and metadata.tsv (labels, counts if known) of the snapshot on show."""
        extra = {"count": [f"{c:g}" for c in self.counts]} if self.counts is not None else None
        return export_projector(directory, self.matrix, self.labels, extra)

    def _counts_array(self, counts: Any) -> np.ndarray | None:
        if counts is None:
            return None
        if isinstance(counts, Mapping):
            return np.array([float(counts.get(label, 0)) for label in self.labels])
        array = to_numpy(counts).reshape(-1)
        if len(array) != len(self.labels):
            raise ValueError(f"{len(array)} counts for {len(self.labels)} rows: give one per row")
        return array


def _count(vocab: Any, texts: Iterable[str], table: str, n_rows: int) -> np.ndarray:
    """Token frequencies in `texts`, or for positions how many texts reach each position."""
    counts = np.zeros(n_rows)
    for text in texts:
        ids = _encode_lenient(vocab, text)
        if table == "position":
            counts[: min(len(ids), n_rows)] += 1
        else:
            np.add.at(counts, np.asarray(ids, dtype=np.int64), 1)  # repeated ids count each time
    return counts


def _encode_lenient(vocab: Any, text: str) -> list[int]:
    """Ids of `text`, unknown words as <unk> (a word vocabulary) or as the vocabulary does (DNA)."""
    try:
        return list(vocab.encode(text, unknown="unk"))
    except TypeError:  # a vocabulary without the `unknown` option
        return list(vocab.encode(text))


def pooled_hidden_states(
    model: Any, vocab: Any, texts: Sequence[str], layer: int = -1
) -> np.ndarray:
    """One vector per text (n_texts, d_model): the mean over its real tokens of layer `layer`."""
    if isinstance(texts, str) or len(texts) == 0:
        raise ValueError("texts must be a non-empty list of strings")
    encoded = [vocab.encode(text) for text in texts]  # unknown words raise a clear error here
    if any(len(ids) == 0 for ids in encoded):
        raise ValueError("every text needs at least one token; remove the empty ones")
    length = max(len(ids) for ids in encoded)
    pad = getattr(vocab, "PAD_ID", 0)
    ids = np.full((len(texts), length), pad, dtype=np.int64)  # (batch, time)
    mask = np.zeros((len(texts), length), dtype=bool)  # (batch, time), True on real tokens
    for row, sequence in enumerate(encoded):
        ids[row, : len(sequence)] = sequence
        mask[row, : len(sequence)] = True
    states = hidden_states(model, ids, mask)
    if not -len(states) <= layer < len(states):
        raise ValueError(f"layer must be in 0..{len(states) - 1} (or negative), got {layer}")
    hidden = states[layer]  # (batch, time, d_model)
    weights = mask[:, :, None].astype(np.float64)  # (batch, time, 1)
    return (hidden * weights).sum(axis=1) / weights.sum(axis=1)
