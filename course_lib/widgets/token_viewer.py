"""TokenViewer: type a text, see its tokens as coloured spans with their ids; switch vocabularies.

Each token is a span of its own colour, its id under it; a space inside a token shows as ``·`` so
that ``" the"`` and ``"the"`` look different; ``<unk>`` (a word the vocabulary does not know) is
red. The vocabularies are any of the course's: `Vocab` (words), `BPEVocab` (subwords), `DNAVocab`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from course_lib.widgets._common import escape, message_html, static_figure

# Light colours that tell neighbouring tokens apart and keep dark text readable.
PALETTE = ("#cfe8fc", "#fde2c4", "#d7f5d0", "#f3d4f5", "#fff3b0", "#d9d9f7")
UNKNOWN_COLOUR = "#f8b4b4"
SPACE = "·"


def encode_for_view(vocab: Any, text: str) -> list[int]:
    """The ids `vocab` gives `text`, unknown words as ``<unk>`` (a DNA vocabulary reads bases)."""
    from course_lib.bpe import BPEVocab
    from course_lib.vocab import Vocab

    if isinstance(vocab, (Vocab, BPEVocab)):
        return list(vocab.encode(text, unknown="unk"))
    return list(vocab.encode(text))


def shown(token: str) -> str:
    """A token as the viewer writes it: spaces as ``·``, new lines and tabs escaped."""
    return token.replace(" ", SPACE).replace("\n", "\\n").replace("\t", "\\t")


class TokenViewer:
    """Type a text, see how each vocabulary cuts it. `vocabs` maps a name to a vocabulary (or is
    one vocabulary); `ids`, `tokens` and `message` hold what is shown."""

    def __init__(self, vocabs: Mapping[str, Any] | Any, text: str = "") -> None:
        import ipywidgets as w

        if not isinstance(vocabs, Mapping):
            vocabs = {repr(vocabs): vocabs}
        if not vocabs:
            raise ValueError("TokenViewer needs at least one vocabulary, e.g. {'words': vocab}")
        for name, vocab in vocabs.items():
            if not (hasattr(vocab, "encode") and hasattr(vocab, "id_to_token")):
                raise TypeError(
                    f"{name!r} is a {type(vocab).__name__}, not a vocabulary (Vocab, BPEVocab "
                    f"or DNAVocab)"
                )
        self.vocabs = dict(vocabs)
        self.ids: list[int] = []
        self.tokens: list[str] = []
        self.message = ""
        self.text_box = w.Textarea(
            value=text, placeholder="type a text", layout=w.Layout(width="560px", height="60px")
        )
        self.vocab_dropdown = w.Dropdown(options=list(self.vocabs), description="vocabulary")
        self.summary_html = w.HTML()
        self.message_html = w.HTML()
        self.tokens_html = w.HTML()
        self.text_box.observe(lambda _: self.update(), "value")
        self.vocab_dropdown.observe(lambda _: self.update(), "value")
        self.widget = w.VBox(
            [
                self.text_box,
                w.HBox([self.vocab_dropdown, self.summary_html]),
                self.message_html,
                self.tokens_html,
            ]
        )
        self.widget.add_class("course-token-viewer")
        self.update()

    def _repr_mimebundle_(self, **kwargs: Any) -> Any:
        return self.widget._repr_mimebundle_(**kwargs)

    @property
    def vocab(self) -> Any:
        """The vocabulary chosen in the dropdown."""
        return self.vocabs[self.vocab_dropdown.value]

    def show(self, text: str | None = None, vocab: str | None = None) -> None:
        """Show `text` (default: the box's) cut by the vocabulary named `vocab` (default: the
        one chosen)."""
        if vocab is not None:
            if vocab not in self.vocabs:
                raise ValueError(
                    f"no vocabulary named {vocab!r}; choose one of {list(self.vocabs)}"
                )
            self.vocab_dropdown.value = vocab
        if text is not None:
            self.text_box.value = text
        self.update()

    def update(self) -> None:
        """Encode the box's text with the chosen vocabulary and redraw."""
        vocab = self.vocab
        try:
            ids = encode_for_view(vocab, self.text_box.value)
        except (ValueError, TypeError) as error:  # a lone surrogate, a letter that is no base
            self.ids, self.tokens, self.message = [], [], str(error)
            self.message_html.value = message_html(self.message)
            self.tokens_html.value = ""
            self.summary_html.value = ""
            return
        self.ids = ids
        self.tokens = [str(vocab.id_to_token[i]) for i in ids]
        self.message = ""
        self.message_html.value = ""
        characters = len(self.text_box.value)
        per = f", {characters / len(ids):.2f} characters per token" if ids else ""
        self.summary_html.value = f"{len(ids)} tokens{per}; vocabulary of {len(vocab)} tokens"
        self.tokens_html.value = self.spans_html()

    def spans_html(self) -> str:
        """The tokens as coloured HTML spans, each with its id underneath."""
        unk = getattr(self.vocab, "UNK_ID", None)
        spans = []
        for n, (i, token) in enumerate(zip(self.ids, self.tokens, strict=True)):
            colour = UNKNOWN_COLOUR if i == unk else PALETTE[n % len(PALETTE)]
            spans.append(
                f'<span class="course-token" title="id {i}" style="display:inline-block;'
                f"background:{colour};margin:1px;padding:1px 3px;text-align:center;"
                f'font-family:monospace"><span>{escape(shown(token))}</span><br>'
                f'<small style="color:#555">{i}</small></span>'
            )
        return "".join(spans)

    def static(self, texts: Mapping[str, str] | None = None) -> Any:
        """A matplotlib figure of the tokens of the box's text under every vocabulary (or of
        `texts`, a name -> text mapping, under the chosen one), for notebooks read without a
        kernel."""
        if texts is None:
            rows = [(name, self.text_box.value, vocab) for name, vocab in self.vocabs.items()]
        else:
            rows = [(name, text, self.vocab) for name, text in texts.items()]
        figure, axes = static_figure(9, 0.5 + 0.55 * len(rows))
        ax = axes[0, 0]
        ax.axis("off")
        ax.set_xlim(0, 1)
        ax.set_ylim(len(rows), 0)
        unit = 1 / 110  # width of one character, in axes units
        for row, (name, text, vocab) in enumerate(rows):
            try:
                ids = encode_for_view(vocab, text)
            except (ValueError, TypeError) as error:
                ax.text(0, row + 0.5, f"{name}: {error}", fontsize=8, va="center", color="#b00020")
                continue
            ax.text(0, row + 0.5, f"{name} ({len(ids)})", fontsize=8, va="center")
            x = 0.2
            for n, i in enumerate(ids):
                label = shown(str(vocab.id_to_token[i]))
                width = unit * (len(label) + 1)
                if x + width > 1:
                    ax.text(x, row + 0.5, "…", fontsize=8, va="center")
                    break
                colour = (
                    UNKNOWN_COLOUR
                    if i == getattr(vocab, "UNK_ID", None)
                    else PALETTE[n % len(PALETTE)]
                )
                ax.text(
                    x,
                    row + 0.5,
                    label,
                    fontsize=8,
                    family="monospace",
                    va="center",
                    bbox={"facecolor": colour, "edgecolor": "none", "pad": 1.5},
                )
                x += width + unit / 2
        return figure
