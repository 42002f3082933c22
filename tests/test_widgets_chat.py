"""ChatBox: a prompt gets an answer; bad prompts get a message in the widget, never a traceback.

Oracle: a recording fake that answers with what it was given, and the real vocabulary's errors.
"""

from __future__ import annotations

import threading
import time

import matplotlib
import pytest

from course_lib.vocab import Vocab
from course_lib.widgets.chat_box import ChatBox

matplotlib.use("Agg")


class Recorder:
    """Answers "echo <prompt>" and remembers every call."""

    def __init__(self, vocab: Vocab | None = None) -> None:
        self.calls: list[tuple[str, float, int]] = []
        self.vocab = vocab

    def __call__(self, prompt: str, temperature: float, top_k: int) -> str:
        if self.vocab is not None:
            self.vocab.encode(prompt)  # raises UnknownTokenError for words it does not know
        self.calls.append((prompt, temperature, top_k))
        return f"echo {prompt}"


def test_pressing_enter_answers_and_empties_the_box() -> None:
    chat = ChatBox(respond_fn=(fake := Recorder()))
    chat.prompt_box.value = "hello there"
    assert chat.answer == "echo hello there"
    assert "echo hello there" in chat.answer_html.value
    assert chat.prompt_box.value == ""
    assert chat.history == [("hello there", "echo hello there")]
    assert fake.calls == [("hello there", 0.0, 0)]


def test_sliders_reach_the_model() -> None:
    chat = ChatBox(respond_fn=(fake := Recorder()))
    chat.temperature_slider.value = 0.8
    chat.top_k_slider.value = 5
    chat.send("again")
    assert fake.calls == [("again", 0.8, 5)]


def test_send_button_answers_the_typed_prompt_twice() -> None:
    chat = ChatBox(respond_fn=(fake := Recorder()))
    chat.send("same")
    chat.send("same")
    assert [prompt for prompt, _, _ in fake.calls] == ["same", "same"]
    assert len(chat.history) == 2
    assert "same" in chat.transcript_html.value  # the earlier exchange is listed


def test_empty_prompt_shows_a_message_and_asks_nothing() -> None:
    chat = ChatBox(respond_fn=(fake := Recorder()))
    chat.send_button.click()
    assert "prompt is empty" in chat.message
    assert "prompt is empty" in chat.message_html.value
    chat.prompt_box.value = "   "
    assert "prompt is empty" in chat.message
    assert fake.calls == [] and chat.answer == ""


def test_typing_a_prompt_then_clicking_send_answers_it_once() -> None:
    # In the browser the click takes the focus from the box, which syncs its value first.
    chat = ChatBox(respond_fn=(fake := Recorder()))
    chat.prompt_box.value = "hello there"
    chat.send_button.click()
    assert fake.calls == [("hello there", 0.0, 0)]
    assert chat.message == "" and chat.answer == "echo hello there"
    assert len(chat.history) == 1


def test_each_question_typed_and_clicked_is_answered_once() -> None:
    chat = ChatBox(respond_fn=(fake := Recorder()))
    for question in ("first", "second"):
        chat.prompt_box.value = question
        chat.send_button.click()
    assert [prompt for prompt, _, _ in fake.calls] == ["first", "second"]


def test_a_click_handled_before_the_value_it_follows_answers_once() -> None:
    # JupyterLab 4.6 sends the box's and the button's messages on two kernel subshells, which
    # ipykernel runs in two threads: the click can read the typed text while the value's own
    # handler is still waiting to run. Here thread B sets the value (as the box's message does)
    # while the click runs in this thread; the question must be answered once, by either.
    chat = ChatBox(respond_fn=(fake := Recorder()))
    with chat._lock:  # the click holds the lock first
        typed = threading.Thread(target=setattr, args=(chat.prompt_box, "value", "hello"))
        typed.start()
        deadline = time.monotonic() + 10
        while chat.prompt_box.value != "hello":  # B has set the trait; its handler now waits
            assert time.monotonic() < deadline, "the value never reached the box"
            time.sleep(0.001)
        chat._on_click(None)
    typed.join(timeout=10)
    assert not typed.is_alive()
    assert fake.calls == [("hello", 0.0, 0)]
    assert chat.history == [("hello", "echo hello")]
    assert chat.message == "" and chat.prompt_box.value == ""


def test_the_same_question_asked_again_later_is_answered_again() -> None:
    chat = ChatBox(respond_fn=(fake := Recorder()))
    for _ in range(2):
        chat.prompt_box.value = "again"
    chat.send_button.click()  # the box is empty and its value just sent: nothing more
    assert [prompt for prompt, _, _ in fake.calls] == ["again", "again"]


def test_a_later_click_on_the_emptied_box_says_the_prompt_is_empty(monkeypatch) -> None:
    from course_lib.widgets import chat_box

    chat = ChatBox(respond_fn=(fake := Recorder()))
    chat.prompt_box.value = "hello"
    monkeypatch.setattr(chat_box, "SAME_REQUEST_SECONDS", 0.0)  # the click comes much later
    chat.send_button.click()
    assert "prompt is empty" in chat.message
    assert len(fake.calls) == 1


def test_unknown_word_message_says_what_to_do_in_the_widget() -> None:
    vocab = Vocab.build(["User : hello ! Assistant : hi !"])
    chat = ChatBox(respond_fn=Recorder(vocab))
    chat.prompt_box.value = "hello zebra"
    assert "'zebra' is not in the vocabulary" in chat.message
    assert "Type only words the model was trained on" in chat.message
    assert "encode(" not in chat.message  # a call the widget's user cannot make
    assert "zebra" in chat.message_html.value
    assert chat.answer == "" and chat.history == []
    chat.prompt_box.value = "hello !"
    assert chat.message == "" and chat.answer == "echo hello !"


def test_an_unexpected_failure_is_still_shown_in_the_widget() -> None:
    def broken(prompt: str, temperature: float, top_k: int) -> str:
        raise RuntimeError("shapes do not match")

    chat = ChatBox(respond_fn=broken)
    chat.send("hi")
    assert chat.message == "generation failed: RuntimeError: shapes do not match"


def test_static_transcript_lists_prompts_and_answers() -> None:
    chat = ChatBox(respond_fn=Recorder())
    figure = chat.static(["first question", ""])
    texts = [t.get_text() for t in figure.axes[0].texts]
    assert "> first question" in texts and "echo first question" in texts
    assert any("prompt is empty" in t for t in texts)
    assert "temperature 0" in figure.axes[0].get_title(loc="left")


def test_a_model_and_a_vocabulary_are_enough() -> None:
    with pytest.raises(ValueError, match="model and its vocab"):
        ChatBox()
    with pytest.raises(ValueError, match="must contain"):
        ChatBox(object(), Vocab.build(["a"]), template="User:")


def test_real_numpy_model_answers_like_generate() -> None:
    cl = pytest.importorskip("course_lib.numpy")
    if not hasattr(cl, "generate"):
        pytest.skip("course_lib.numpy has no generate yet")
    from course_lib import ModelConfig

    vocab = Vocab.build(["User : hello ! Assistant : hi there ! </s>"])
    model = cl.LLM(
        ModelConfig(vocab_size=len(vocab), d_model=16, d_hidden=32, n_layers=1, max_seq_len=12)
    )
    chat = ChatBox(model, vocab, template="User : {prompt} Assistant :")
    chat.prompt_box.value = "hello !"
    assert chat.message == ""
    assert chat.answer == cl.generate(model, vocab, "User : hello ! Assistant :")  # greedy
    chat.prompt_box.value = "hello zebra"
    assert "'zebra' is not in the vocabulary" in chat.message
    chat.send("   ")
    assert "prompt is empty" in chat.message
    chat.send("hello " * 12)
    assert "Shorten the prompt" in chat.message
