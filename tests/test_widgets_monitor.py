"""TrainingMonitor: every loss it is called with is counted, plotted and kept.

Oracle: the losses fed in are the data of the plotted lines.
"""

from __future__ import annotations

import math
import time

import matplotlib
import numpy as np
import pytest

from course_lib.widgets.training_monitor import TrainingMonitor

matplotlib.use("Agg")


def plotted(monitor: TrainingMonitor) -> list[tuple[list[float], list[float]]]:
    return [
        (list(line.get_xdata()), list(line.get_ydata())) for line in monitor.figure.axes[0].lines
    ]


def test_each_call_is_counted_and_plotted() -> None:
    monitor = TrainingMonitor(epochs=4, min_interval=0, cost_ratio=0)
    losses = [2.0, 1.5, 1.2, 1.1]
    for epoch, loss in enumerate(losses):
        monitor(epoch, loss)
        assert plotted(monitor) == [(list(range(epoch + 1)), losses[: epoch + 1])]
    assert monitor.bar.n == 4 and monitor.bar.total == 4
    assert monitor.losses == losses


def test_the_last_epoch_is_always_drawn() -> None:
    monitor = TrainingMonitor(epochs=3, min_interval=3600)
    for epoch, loss in enumerate([3.0, 2.0, 1.0]):
        monitor(epoch, loss)
    assert plotted(monitor) == [([0, 1, 2], [3.0, 2.0, 1.0])]


def test_the_plot_waits_between_redraws_but_finish_draws_everything() -> None:
    monitor = TrainingMonitor(epochs=3, min_interval=3600)
    monitor(0, 1.0)  # the first call draws (nothing drawn for an hour before)
    monitor(1, 0.5)
    assert plotted(monitor) == [([0], [1.0])]
    monitor.finish()
    assert plotted(monitor) == [([0, 1], [1.0, 0.5])]


def test_redraws_wait_for_training_to_use_cost_ratio_times_a_redraws_cpu_time() -> None:
    # Oracle: the process's CPU clock. A redraw costs some CPU time c; the next one waits until
    # the training between calls has used cost_ratio * c.
    monitor = TrainingMonitor(epochs=5, min_interval=0, cost_ratio=1e6)
    monitor(0, 1.0)  # the first call draws
    monitor(1, 0.9)
    monitor(2, 0.8)
    assert monitor.draws == 2 and plotted(monitor) == [([0], [1.0])]  # __init__ drew, then epoch 0
    start = time.process_time()
    cheap = TrainingMonitor(epochs=5, min_interval=0, cost_ratio=1.0)
    cheap(0, 1.0)
    while time.process_time() - start < 20 * cheap._draw_cost + 0.05:
        sum(i * i for i in range(10_000))  # "training": CPU time well past one redraw's cost
    cheap(1, 0.9)
    assert plotted(cheap) == [([0, 1], [1.0, 0.9])]


def test_epoch_going_back_starts_a_new_curve_after_the_first() -> None:
    monitor = TrainingMonitor(min_interval=0, cost_ratio=0)
    for epoch in range(3):
        monitor(epoch, 3.0 - epoch)
    for epoch in range(2):
        monitor(epoch, 0.5 - 0.1 * epoch)
    assert [name for name, _, _ in monitor.runs] == ["run 1", "run 2"]
    first, second = plotted(monitor)
    assert first == ([0, 1, 2], [3.0, 2.0, 1.0])
    assert second[0] == [3, 4]  # continues the epoch axis
    np.testing.assert_allclose(second[1], [0.5, 0.4])


def test_extra_arguments_from_a_training_loop_are_accepted() -> None:
    monitor = TrainingMonitor(min_interval=0, cost_ratio=0)
    monitor(1, np.float32(0.25), "extra", lr=1e-3)
    assert monitor.losses == [0.25]


def test_a_non_finite_loss_shows_a_hint() -> None:
    monitor = TrainingMonitor(min_interval=0, cost_ratio=0)
    monitor(0, math.nan)
    assert "lower the learning rate" in monitor.message
    assert "lower the learning rate" in monitor.message_html.value


def test_static_figures_plot_a_plain_list_of_losses() -> None:
    figure = TrainingMonitor.plot([3.0, 2.0, 1.0], title="pre-training")
    line = figure.axes[0].lines[0]
    assert list(line.get_xdata()) == [1, 2, 3] and list(line.get_ydata()) == [3.0, 2.0, 1.0]
    assert figure.axes[0].get_title() == "pre-training"
    monitor = TrainingMonitor(min_interval=0, cost_ratio=0)
    monitor(0, 100.0)
    monitor(1, 1.0)
    figure = monitor.static()
    assert figure.axes[0].get_yscale() == "log"  # a hundredfold fall reads better on a log axis


def test_monitor_follows_a_real_training_run() -> None:
    cl = pytest.importorskip("course_lib.numpy")
    if not hasattr(cl, "train"):
        pytest.skip("course_lib.numpy has no train yet")
    from course_lib import ModelConfig
    from course_lib.vocab import Vocab

    texts = ["the cat sat on the mat .", "the dog sat on the rug ."]
    vocab = Vocab.build(texts)
    config = ModelConfig(vocab_size=len(vocab), d_model=16, d_hidden=32, n_layers=1, max_seq_len=10)
    model = cl.LLM(config)
    monitor = TrainingMonitor(epochs=4, min_interval=0, cost_ratio=0)
    losses = cl.train(model, vocab, texts, epochs=4, lr=1e-2, callback=monitor, progress=False)
    monitor.finish()
    assert monitor.losses == losses
    assert plotted(monitor) == [([0, 1, 2, 3], losses)]
    assert monitor.bar.n == 4
