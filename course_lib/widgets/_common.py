"""Small pieces the widgets share: arrays from either backend, figures as PNG, HTML snippets."""

from __future__ import annotations

import difflib
import html
import io
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from course_lib.backends import to_numpy


def state_array(model: Any, key: str) -> np.ndarray | None:
    """The parameter `key` of a model of either backend or of a state_dict itself, or None."""
    if isinstance(model, Mapping):
        return to_numpy(model[key]) if key in model else None
    if hasattr(model, "state_dict"):
        state = model.state_dict()
        if key in state:
            return to_numpy(state[key])
    obj = model
    for part in key.split("."):
        obj = obj[int(part)] if part.isdigit() else getattr(obj, part, None)
        if obj is None:
            return None
    return to_numpy(obj)


def new_figure(width: float, height: float) -> Any:
    """A matplotlib Figure that belongs to no pyplot window (safe in tests and in widgets)."""
    from matplotlib.figure import Figure

    return Figure(figsize=(width, height), layout="constrained")


def figure_png(figure: Any, dpi: int = 90) -> bytes:
    """The figure rendered as PNG bytes (for an `ipywidgets.Image`)."""
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=dpi)
    return buffer.getvalue()


def closed_figure(width: float, height: float) -> Any:
    """An empty pyplot figure, closed at once so a notebook shows the returned figure only once.

    Returning a closed pyplot figure from a cell displays it exactly once in Jupyter (pyplot's
    inline backend registered the PNG formatter) and leaves no open figures in scripts and tests.
    """
    import matplotlib.pyplot as plt

    figure = plt.figure(figsize=(width, height), layout="constrained")
    plt.close(figure)
    return figure


def static_figure(width: float, height: float, nrows: int = 1, ncols: int = 1) -> tuple[Any, Any]:
    """A closed pyplot figure (see `closed_figure`) and its axes, always a 2-D array."""
    figure = closed_figure(width, height)
    return figure, figure.subplots(nrows, ncols, squeeze=False)


def escape(text: Any) -> str:
    """`text` made safe to put inside HTML."""
    return html.escape(str(text), quote=True)


def message_html(message: str, kind: str = "error") -> str:
    """A coloured one-line box for `message` (empty string for no message)."""
    if not message:
        return ""
    colour = {"error": "#b00020", "info": "#1b5e20"}.get(kind, "#333")
    return (
        f'<div class="course-message course-message-{kind}" '
        f'style="color:{colour};font-weight:600;white-space:pre-wrap">{escape(message)}</div>'
    )


def close_matches(word: str, candidates: Sequence[str], n: int = 3) -> list[str]:
    """Up to `n` candidates that look like `word` (for "did you mean" hints)."""
    return difflib.get_close_matches(word, list(candidates), n=n, cutoff=0.6)


def unknown_message(word: str, candidates: Sequence[str], what: str = "token") -> str:
    """Say that `word` is not among `candidates`, with suggestions."""
    hint = close_matches(word, candidates)
    examples = ", ".join(repr(c) for c in list(candidates)[:5])
    text = f"{word!r} is not a known {what}."
    if hint:
        text += f" Did you mean {' or '.join(repr(h) for h in hint)}?"
    else:
        text += f" Type one of the {len(candidates)} {what}s, e.g. {examples}."
    return text


def widget_message(error: Exception) -> str:
    """The message a widget shows for `error`, saying what to do inside the widget.

    The vocabulary's own message for an unknown word suggests `encode(..., unknown='unk')`, a call
    a widget user cannot make; here the advice is to change the words typed.
    """
    from course_lib.vocab import UnknownTokenError

    if isinstance(error, UnknownTokenError):
        near = f" Did you mean {error.suggestion!r}?" if error.suggestion else ""
        return (
            f"{error.token!r} is not in the vocabulary, so the model has no embedding for it."
            f"{near} Type only words the model was trained on (they are case-sensitive)."
        )
    return str(error)
