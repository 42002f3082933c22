"""ChatBox: type a prompt, read the model's answer; temperature and top-k are sliders."""

from __future__ import annotations

import textwrap
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any

from course_lib.backends import is_torch_model
from course_lib.sampling import check_vocab_size
from course_lib.widgets._common import (
    escape,
    message_html,
    static_figure,
    widget_message,
)

# Typing a question and clicking "send" delivers two messages to the kernel: the box's value (it
# syncs when the box loses focus, as on Enter) and the click. They can arrive in either order and
# be handled at the same time in two threads (JupyterLab 4.6 sends each widget's messages on a
# kernel subshell of its own, which ipykernel 7 runs in its own thread), so both handlers take
# one lock, and whichever sends first marks the request: a click that finds the box emptied by
# the value's send, or a value the click has sent already, within this many seconds, is the same
# request and sends nothing.
SAME_REQUEST_SECONDS = 2.0

# (prompt, temperature, top_k) -> answer text
RespondFn = Callable[[str, float, int], str]


def model_responder(model: Any, vocab: Any, template: str = "{prompt}") -> RespondFn:
    """A `RespondFn` that calls the backend's `generate(model, vocab, text, temperature, top_k)`.

    `template` wraps the learner's prompt, e.g. "User: {prompt} Assistant:" for a chat-tuned model.
    A top-k of 0 means no top-k cut (every token may be sampled).
    """
    if "{prompt}" not in template:
        raise ValueError(f"template must contain {{prompt}}, got {template!r}")
    check_vocab_size(vocab, getattr(model, "config", None))
    if is_torch_model(model):
        from course_lib.torch import generate
    else:
        from course_lib.numpy import generate

    def respond(prompt: str, temperature: float, top_k: int) -> str:
        text = template.format(prompt=prompt)
        return str(generate(model, vocab, text, temperature=temperature, top_k=top_k or None))

    return respond


def _recent(when: float) -> bool:
    return time.monotonic() - when < SAME_REQUEST_SECONDS


class ChatBox:
    """Prompt in, answer out. Give a model and its vocabulary, or `respond_fn` (any function
    (prompt, temperature, top_k) -> answer). Problems (an empty prompt, a word the vocabulary does
    not know) show as a message in the widget; `answer`, `message` and `history` hold what is shown.
    """

    def __init__(
        self,
        model: Any = None,
        vocab: Any = None,
        *,
        respond_fn: RespondFn | None = None,
        template: str = "{prompt}",
        temperature: float = 0.0,
        top_k: int = 0,
    ) -> None:
        import ipywidgets as w

        if respond_fn is None:
            if model is None or vocab is None:
                raise ValueError("ChatBox needs a model and its vocab, or respond_fn=")
            respond_fn = model_responder(model, vocab, template)
        self.respond_fn = respond_fn
        self.answer = ""
        self.message = ""
        self.history: list[tuple[str, str]] = []  # (prompt, answer), oldest first
        vocab_size = len(vocab) if vocab is not None else 50
        self.prompt_box = w.Text(
            placeholder="ask something, then Enter",
            continuous_update=False,
            layout=w.Layout(width="460px"),
        )
        self.send_button = w.Button(description="send", button_style="primary")
        self.temperature_slider = w.FloatSlider(
            value=temperature,
            min=0.0,
            max=2.0,
            step=0.05,
            description="temperature",
            tooltip="0 picks the most likely token every time; higher is more random",
            style={"description_width": "initial"},  # the default width cuts it to "temperat..."
        )
        self.top_k_slider = w.IntSlider(
            value=top_k,
            min=0,
            max=min(vocab_size, 100),
            description="top-k",
            tooltip="sample only among the k most likely tokens (0: no limit)",
            style={"description_width": "initial"},
        )
        self.message_html = w.HTML()
        self.answer_html = w.HTML()
        self.transcript_html = w.HTML()
        self.prompt_box.observe(self._on_prompt, "value")
        self.send_button.on_click(self._on_click)
        for widget, name in [
            (self.prompt_box, "prompt"),
            (self.message_html, "message"),
            (self.answer_html, "answer"),
            (self.transcript_html, "transcript"),
        ]:
            widget.add_class(f"course-chat-{name}")
        self.widget = w.VBox(
            [
                w.HBox([self.prompt_box, self.send_button]),
                w.HBox([self.temperature_slider, self.top_k_slider]),
                self.message_html,
                self.answer_html,
                self.transcript_html,
            ]
        )
        self.widget.add_class("course-chat")
        self._clearing = False
        self._lock = threading.RLock()  # the box's and the button's handlers, one at a time
        self._box_sent_at: float | None = None  # when the box's own value last sent (monotonic)
        self._click_sent: tuple[str, float] | None = None  # (text, when) the button last sent

    def _repr_mimebundle_(self, **kwargs: Any) -> Any:
        return self.widget._repr_mimebundle_(**kwargs)

    def _on_prompt(self, change: dict[str, Any]) -> None:
        with self._lock:
            prompt = change["new"]
            if self._clearing:
                return  # our own emptying of the box after an answer
            clicked, self._click_sent = self._click_sent, None
            if clicked is not None and clicked[0] == prompt and _recent(clicked[1]):
                return  # the click that took the focus from the box has sent this text already
            self.send(prompt)
            self._box_sent_at = time.monotonic()

    def _on_click(self, _button: Any) -> None:
        with self._lock:
            sent_at, self._box_sent_at = self._box_sent_at, None
            prompt = self.prompt_box.value
            if sent_at is not None and _recent(sent_at) and not prompt.strip():
                return  # the click that took the focus from the box, whose value already sent
            self.send(prompt)
            if prompt.strip():
                self._click_sent = (prompt, time.monotonic())

    def _set_message(self, message: str) -> None:
        self.message = message
        self.message_html.value = message_html(message)

    def ask(self, prompt: str) -> str:
        """Answer `prompt` with the current sliders; bad input raises ValueError (no widget)."""
        if not prompt.strip():
            raise ValueError("the prompt is empty: type a question first")
        temperature, top_k = self.temperature_slider.value, self.top_k_slider.value
        return self.respond_fn(prompt.strip(), temperature, top_k)

    def send(self, prompt: str | None = None) -> None:
        """Answer `prompt` (default: the text in the box) and show it; problems become a message."""
        with self._lock:
            self._send(self.prompt_box.value if prompt is None else prompt)

    def _send(self, prompt: str) -> None:
        try:
            answer = self.ask(prompt)
        except ValueError as error:  # empty prompt, unknown word, too long: says what to do
            self._set_message(widget_message(error))
            return
        except Exception as error:  # anything else still belongs in the widget, not in a log
            self._set_message(f"generation failed: {type(error).__name__}: {error}")
            return
        self.answer = answer
        self.history.append((prompt.strip(), answer))
        self._set_message("")
        self.answer_html.value = f"<b>answer:</b> {escape(answer)}"
        self.transcript_html.value = "".join(
            f'<div class="course-chat-question" style="color:#555">&gt; {escape(q)}</div>'
            f"<div>{escape(a)}</div>"
            for q, a in self.history[-10:-1]
        )
        # Empty the box for the next question without answering the empty string.
        self._clearing = True
        try:
            self.prompt_box.value = ""
        finally:
            self._clearing = False

    def static(self, prompts: Sequence[str] | None = None, width: int = 70) -> Any:
        """A matplotlib figure of a transcript: `prompts` answered now, or the history so far."""
        if prompts is not None:
            pairs = []
            for prompt in prompts:
                try:
                    pairs.append((prompt, self.ask(prompt)))
                except ValueError as error:
                    pairs.append((prompt, f"[{error}]"))
        else:
            pairs = list(self.history)
        lines: list[tuple[str, str]] = []
        for prompt, answer in pairs:
            lines += [(line, "#555") for line in textwrap.wrap(f"> {prompt}", width)]
            lines += [(line, "black") for line in textwrap.wrap(answer, width) or [""]]
            lines.append(("", "black"))
        settings = (
            f"temperature {self.temperature_slider.value:g}, top-k "
            f"{self.top_k_slider.value or 'off'}"
        )
        figure, axes = static_figure(7.5, 0.6 + 0.22 * max(len(lines), 1))
        ax = axes[0, 0]
        ax.axis("off")
        ax.set_title(f"chat ({settings})", fontsize=10, loc="left")
        for row, (text, colour) in enumerate(lines):
            ax.text(
                0,
                1 - (row + 0.5) / max(len(lines), 1),
                text,
                color=colour,
                family="monospace",
                fontsize=9,
                va="center",
                transform=ax.transAxes,
            )
        return figure
