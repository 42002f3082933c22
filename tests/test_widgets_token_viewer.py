"""TokenViewer: the text typed is shown as the chosen vocabulary's tokens, each with its id.

Oracle: each vocabulary's own `encode` and `id_to_token` on the same text.
"""

from __future__ import annotations

import matplotlib
import pytest

from course_lib.bpe import BPEVocab
from course_lib.corpus import chat_texts, pretraining_texts
from course_lib.vocab import UNK_ID, DNAVocab, Vocab
from course_lib.widgets.token_viewer import SPACE, TokenViewer

matplotlib.use("Agg")

TEXTS = pretraining_texts() + chat_texts()


@pytest.fixture(scope="module")
def vocabs() -> dict:
    return {"words": Vocab.build(TEXTS), "bpe": BPEVocab.train(TEXTS, 400), "dna": DNAVocab(2)}


def test_typing_shows_the_tokens_of_the_chosen_vocabulary(vocabs) -> None:
    viewer = TokenViewer(vocabs)
    viewer.text_box.value = "Rain is water."
    words = vocabs["words"]
    assert viewer.ids == words.encode("Rain is water.")
    assert viewer.tokens == ["Rain", "is", "water", "."]
    assert "4 tokens" in viewer.summary_html.value
    for i in viewer.ids:
        assert f'<small style="color:#555">{i}</small>' in viewer.tokens_html.value


def test_switching_the_vocabulary_cuts_the_same_text_again(vocabs) -> None:
    viewer = TokenViewer(vocabs, text="Rain is water.")
    viewer.vocab_dropdown.value = "bpe"
    bpe = vocabs["bpe"]
    assert viewer.ids == bpe.encode("Rain is water.")
    assert "".join(viewer.tokens) == "Rain is water."
    assert f"{SPACE}is" in viewer.tokens_html.value  # the space belongs to the token


def test_a_word_the_vocabulary_does_not_know_is_a_red_unk(vocabs) -> None:
    viewer = TokenViewer(vocabs, text="The zebra sings.")
    assert UNK_ID in viewer.ids and "#f8b4b4" in viewer.tokens_html.value
    viewer.show(vocab="bpe")
    assert UNK_ID not in viewer.ids and "#f8b4b4" not in viewer.tokens_html.value


def test_html_in_the_text_is_shown_not_run(vocabs) -> None:
    viewer = TokenViewer(vocabs, text="<b>bold</b> & more")
    viewer.show(vocab="bpe")
    assert "<b>" not in viewer.tokens_html.value and "&lt;" in viewer.tokens_html.value


def test_text_a_vocabulary_cannot_read_gives_a_message_not_an_error(vocabs) -> None:
    viewer = TokenViewer(vocabs, text="ACGX")
    viewer.show(vocab="dna")
    assert "invalid base 'X'" in viewer.message and viewer.ids == []
    viewer.show(text="ACGT")
    assert viewer.message == "" and viewer.tokens == ["AC", "GT"]


def test_empty_text_shows_no_tokens(vocabs) -> None:
    viewer = TokenViewer(vocabs["bpe"])
    assert viewer.ids == [] and "0 tokens" in viewer.summary_html.value


def test_an_unknown_vocabulary_name_is_refused(vocabs) -> None:
    viewer = TokenViewer(vocabs)
    with pytest.raises(ValueError, match="no vocabulary named 'chars'"):
        viewer.show(vocab="chars")


def test_no_vocabulary_or_something_else_is_refused() -> None:
    with pytest.raises(ValueError, match="at least one vocabulary"):
        TokenViewer({})
    with pytest.raises(TypeError, match="not a vocabulary"):
        TokenViewer({"x": 3})


def test_static_figure_has_a_row_per_vocabulary(vocabs) -> None:
    viewer = TokenViewer(vocabs, text="Rain")
    figure = viewer.static()
    labels = [t.get_text() for t in figure.axes[0].texts]
    assert any(label.startswith("words (") for label in labels)
    assert any(label.startswith("bpe (") for label in labels)
    assert any("invalid base" in label for label in labels)  # "Rain" is no DNA
