"""TrainingMonitor: a progress bar and a loss plot that follow a training run as it happens.

    monitor = TrainingMonitor(epochs=100, title="pre-training")
    display(monitor)
    losses = cl.train(model, vocab, texts, epochs=100, lr=5e-4, callback=monitor, progress=False)
    monitor.finish()

`train` calls `monitor(epoch, loss)` after each epoch (`progress=False` leaves the bar to the
monitor).

A second run with the same monitor (the epoch number goes back down) starts a new curve.
"""

from __future__ import annotations

import math
import time
from typing import Any

from course_lib.widgets._common import figure_png, message_html, static_figure


def _draw_losses(ax: Any, runs: list[tuple[str, list[int], list[float]]], title: str) -> None:
    end = None  # each run continues where the one before it ended (pre-training, then tuning)
    for name, epochs, losses in runs:
        if not epochs:
            continue
        shift = 0 if end is None else end + 1 - epochs[0]
        xs = [epoch + shift for epoch in epochs]
        ax.plot(xs, losses, marker="." if len(xs) < 30 else None, label=name)
        end = xs[-1]
    every = [loss for _, _, losses in runs for loss in losses]
    if every and min(every) > 0 and max(every) / min(every) > 20:
        ax.set_yscale("log")  # a loss that falls by orders of magnitude reads better on a log axis
    ax.set_xlabel("epoch" if len(runs) < 2 else "epoch (runs one after the other)")
    ax.set_ylabel("mean loss")
    ax.set_title(title, fontsize=10)
    ax.grid(alpha=0.3)
    if len(runs) > 1:
        ax.legend(fontsize=8)


class TrainingMonitor:
    """Call it as `monitor(epoch, loss)` after each epoch; it records, counts and plots.

    `epochs` sizes the progress bar (unknown: the bar just counts). While training the plot
    redraws at most every `min_interval` seconds, and only once the training since the last
    redraw has used `cost_ratio` times the CPU time that redraw took (drawing a figure costs about
    as much as a few training steps: this keeps the monitor's share of the run's CPU time to about
    1 / (1 + cost_ratio), on a quiet or a busy machine). `min_interval=0, cost_ratio=0` redraws
    after every call. The plot is always drawn after the last of `epochs` calls and on `finish()`.
    """

    def __init__(
        self,
        epochs: int | None = None,
        title: str = "training loss",
        min_interval: float = 0.5,
        cost_ratio: float = 10.0,
    ) -> None:
        import ipywidgets as w

        self.epochs = epochs
        self.title = title
        self.min_interval = min_interval
        self.cost_ratio = cost_ratio
        self.draws = 0  # how many times the plot was drawn (the benchmark reports it)
        self._drawn: tuple[int, ...] = ()  # what the last drawing showed (see _shown)
        self._draw_cost = 0.0  # CPU seconds the last redraw took
        self._last_draw_cpu = -math.inf  # process CPU time when it ended
        self.runs: list[tuple[str, list[int], list[float]]] = []  # (name, epochs, losses)
        self.message = ""
        self.figure: Any = None
        self.bar: Any = None
        self._last_draw = -math.inf
        self.message_html = w.HTML()
        self.bar_box = w.VBox()
        self.image = w.Image(format="png", layout=w.Layout(max_width="560px"))
        self.widget = w.VBox([self.bar_box, self.message_html, self.image])
        self.widget.add_class("course-training-monitor")
        self._draw()
        self._last_draw = self._last_draw_cpu = -math.inf  # the first loss is shown at once

    def _repr_mimebundle_(self, **kwargs: Any) -> Any:
        return self.widget._repr_mimebundle_(**kwargs)

    @property
    def losses(self) -> list[float]:
        """Every loss received, all runs one after the other."""
        return [loss for _, _, losses in self.runs for loss in losses]

    def new_run(self, name: str | None = None, epochs: int | None = None) -> None:
        """Start a new curve (and a new bar); `train()` calls need not do this themselves."""
        if self.bar is not None:
            self.bar.close()
        total = epochs if epochs is not None else self.epochs
        self.runs.append((name or f"run {len(self.runs) + 1}", [], []))
        self.bar = self._new_bar(total, self.runs[-1][0])

    def _new_bar(self, total: int | None, name: str) -> Any:
        from tqdm import notebook
        from tqdm.auto import tqdm

        if issubclass(tqdm, notebook.tqdm):
            # In Jupyter: keep the bar inside this widget instead of the running cell's output.
            bar = tqdm(total=total, desc=name, display=False, leave=True)
            self.bar_box.children = [bar.container]
            return bar
        return tqdm(total=total, desc=name, leave=False)

    def __call__(self, epoch: int, loss: float, *args: Any, **kwargs: Any) -> None:
        """Record `loss` after `epoch`; extra arguments from a training loop are ignored."""
        loss = float(loss)
        if not self.runs or (self.runs[-1][1] and epoch <= self.runs[-1][1][-1]):
            self.new_run()
        _, epochs, losses = self.runs[-1]
        epochs.append(int(epoch))
        losses.append(loss)
        self.bar.update(1)
        self.bar.set_postfix(loss=f"{loss:.4f}", refresh=False)
        if not math.isfinite(loss):
            self.message = f"the loss is {loss} at epoch {epoch}: lower the learning rate"
            self.message_html.value = message_html(self.message)
        last_epoch = self.bar.total is not None and self.bar.n >= self.bar.total
        if (last_epoch and self._drawn != self._shown()) or self._redraw_due():
            self._draw()

    def _redraw_due(self) -> bool:
        """Enough wall time and enough training CPU time since the last redraw."""
        waited = time.monotonic() - self._last_draw >= self.min_interval
        trained = time.process_time() - self._last_draw_cpu >= self.cost_ratio * self._draw_cost
        return waited and trained

    def finish(self) -> None:
        """Draw the final plot and close the bar (call when training is over)."""
        if self.bar is not None:
            self.bar.close()
        if self._drawn != self._shown():
            self._draw()

    def _shown(self) -> tuple[int, ...]:
        """What a drawing shows: the number of losses in each run."""
        return tuple(len(losses) for _, _, losses in self.runs)

    def _draw(self) -> None:
        from matplotlib.figure import Figure

        start = time.process_time()
        # Fixed margins instead of a constrained layout: it halves the cost of a redraw.
        self.figure = Figure(figsize=(5.6, 3.2))
        self.figure.subplots_adjust(left=0.13, right=0.97, top=0.9, bottom=0.16)
        _draw_losses(self.figure.add_subplot(), self.runs, self.title)
        self.image.value = figure_png(self.figure)
        self._drawn = self._shown()
        self.draws += 1
        self._last_draw = time.monotonic()
        self._last_draw_cpu = time.process_time()
        self._draw_cost = self._last_draw_cpu - start

    def static(self) -> Any:
        """A matplotlib figure of every loss curve so far."""
        return self.plot(self.runs, self.title)

    @staticmethod
    def plot(
        losses: list[float] | list[tuple[str, list[int], list[float]]], title: str = "training loss"
    ) -> Any:
        """A figure of a list of losses (one per epoch) or of (name, epochs, losses) runs."""
        if losses and not isinstance(losses[0], tuple):
            losses = [("loss", list(range(1, len(losses) + 1)), [float(v) for v in losses])]
        figure, axes = static_figure(6, 3.4)
        _draw_losses(axes[0, 0], list(losses), title)
        return figure
