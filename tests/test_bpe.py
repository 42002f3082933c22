"""course_lib.bpe: byte-pair encoding and `BPEVocab`.

Oracles: hand-worked merges on tiny texts, the naive recount (the definition) for the incremental
trainer, Python's own UTF-8 codec for the round trip, and `Vocab`'s behaviour for the shared
interface.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from course_lib.bpe import (
    BYTE_OFFSET,
    FIRST_MERGE_ID,
    MAX_FILE_BYTES,
    BPEVocab,
    _apply_merges_linked,
    apply_merges,
    count_pairs,
    learn_merges,
    merge_pair,
    pretokenize,
    show_bytes,
    split_specials,
    text_ids,
)
from course_lib.corpus import chat_texts, pretraining_texts
from course_lib.vocab import EOS_ID, PAD_ID, UNK_ID, SequenceTooLongError

CORPUS = pretraining_texts() + chat_texts()
A = ord("a") + BYTE_OFFSET
B = ord("b") + BYTE_OFFSET
C = ord("c") + BYTE_OFFSET


@pytest.fixture(scope="module")
def vocab() -> BPEVocab:
    return BPEVocab.train(CORPUS, 600)


# --- the pieces ---------------------------------------------------------------------------------


def test_count_pairs_counts_overlapping_pairs() -> None:
    assert count_pairs([A, A, A]) == {(A, A): 2}
    assert count_pairs([A, B, A, B]) == {(A, B): 2, (B, A): 1}
    assert count_pairs([A]) == {} and count_pairs([]) == {}


def test_merge_pair_reads_left_to_right_so_aaa_merges_once() -> None:
    assert merge_pair([A, A, A], (A, A), 999) == [999, A]
    assert merge_pair([A, A, A, A], (A, A), 999) == [999, 999]
    assert merge_pair([A, B, C, A, B], (A, B), 7) == [7, C, 7]


def test_text_ids_are_utf8_bytes_after_the_specials() -> None:
    assert text_ids("é") == [0xC3 + BYTE_OFFSET, 0xA9 + BYTE_OFFSET]
    assert text_ids("") == []


def test_pretokenize_keeps_the_space_with_the_word_and_loses_nothing() -> None:
    assert pretokenize("Rain is water.") == ["Rain", " is", " water", "."]
    assert pretokenize("a  b") == ["a", " ", " b"]


@given(st.text())
def test_pretokenize_chunks_join_back_to_the_text(text: str) -> None:
    assert "".join(pretokenize(text)) == text


def test_split_specials_keeps_each_special_token_whole() -> None:
    assert split_specials("Hi.</s><pad>x<unk>") == ["Hi.", "</s>", "<pad>", "x", "<unk>"]


def test_apply_merges_follows_rank_order_not_the_longest_match() -> None:
    # (b, c) was learned first: "abc" is a + bc, although "ab" is a token too.
    ranks = {(B, C): 0, (A, B): 1}
    assert apply_merges([A, B, C], ranks) == [A, FIRST_MERGE_ID]


def test_learn_merges_takes_the_most_frequent_pair_and_the_smallest_on_ties() -> None:
    # "ab" twice, "bc" once: (a, b) first; then (259, c)? no: counts 1 < min_count.
    assert learn_merges([[A, B], [A, B, C]], 5) == [(A, B)]
    assert learn_merges([[B, C], [A, B]], 1, min_count=1) == [(A, B)]  # a tie: the smaller pair


def test_learn_merges_never_merges_a_special_token() -> None:
    sequences = [[A, EOS_ID]] * 5 + [[B, C]] * 2
    assert learn_merges(sequences, 3) == [(B, C)]


def test_learn_merges_refuses_ids_it_cannot_start_from() -> None:
    with pytest.raises(ValueError, match="starts from special and byte ids"):
        learn_merges([[FIRST_MERGE_ID]], 1)


@pytest.mark.parametrize("n_merges", [0, 1, 50, 400, 2000])
def test_incremental_learning_gives_the_naive_recounts_merges(n_merges: int) -> None:
    sequences = [text_ids(c) for text in CORPUS for c in pretokenize(text.replace("</s>", ""))]
    naive = learn_merges(sequences, n_merges, incremental=False)
    assert learn_merges(sequences, n_merges) == naive


@settings(max_examples=60, deadline=None)
@given(st.lists(st.lists(st.integers(BYTE_OFFSET, BYTE_OFFSET + 3), max_size=12), max_size=8))
def test_incremental_equals_naive_on_small_alphabets(sequences: list[list[int]]) -> None:
    # Few distinct bytes: long runs like "aaaa" and overlapping pairs everywhere.
    for min_count in (1, 2):
        naive = learn_merges(sequences, 30, min_count=min_count, incremental=False)
        assert learn_merges(sequences, 30, min_count=min_count) == naive


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.lists(st.integers(BYTE_OFFSET, BYTE_OFFSET + 2), max_size=40), max_size=6),
    st.lists(st.integers(BYTE_OFFSET, BYTE_OFFSET + 2), max_size=200),
)
def test_the_linked_list_encoder_gives_apply_merges_ids(
    training: list[list[int]], ids: list[int]
) -> None:
    # Oracle: `apply_merges`, the definition. Three bytes: runs, overlaps and every merge of a
    # merge, with merges learned as training learns them (each names only earlier ids).
    ranks = {pair: rank for rank, pair in enumerate(learn_merges(training, 40, min_count=1))}
    assert _apply_merges_linked(ids, ranks) == apply_merges(ids, ranks)


def test_a_long_chunk_encodes_as_the_definition_says(vocab: BPEVocab) -> None:
    # One chunk of ~10,000 letters (the corpus's words without spaces): the linked-list path.
    letters = "".join(ch for text in CORPUS for ch in text if ch.isalpha() and ch.isascii())
    chunk = letters[:10_000]
    assert pretokenize(chunk) == [chunk]
    assert vocab.encode(chunk) == apply_merges(text_ids(chunk), vocab.ranks)


# --- BPEVocab -----------------------------------------------------------------------------------


def test_special_tokens_have_the_fixed_ids(vocab: BPEVocab) -> None:
    assert vocab.id_to_token[:3] == ["<pad>", "</s>", "<unk>"]
    assert (vocab.PAD_ID, vocab.EOS_ID, vocab.UNK_ID) == (PAD_ID, EOS_ID, UNK_ID)
    assert vocab.encode("<pad></s><unk>") == [0, 1, 2]


def test_train_reaches_the_vocabulary_size_asked_for(vocab: BPEVocab) -> None:
    assert len(vocab) == 600 and len(vocab.merges) == 600 - FIRST_MERGE_ID


def test_train_stops_when_no_pair_repeats() -> None:
    small = BPEVocab.train(["ab ab"], 1000)
    assert len(small) < 1000 and small.merges


def test_encoding_applies_the_merges_in_rank_order(vocab: BPEVocab) -> None:
    for text in CORPUS[:20]:
        ids = []
        for piece in split_specials(text):
            if piece == "</s>":
                ids.append(EOS_ID)
            else:
                for chunk in pretokenize(piece):
                    ids += apply_merges(text_ids(chunk), vocab.ranks)
        assert vocab.encode(text) == ids


def test_the_special_token_stays_whole_next_to_text(vocab: BPEVocab) -> None:
    ids = vocab.encode("Rain falls.</s>")
    assert ids[-1] == EOS_ID and EOS_ID not in ids[:-1]
    assert all(i >= BYTE_OFFSET for i in ids[:-1])


def test_every_corpus_text_round_trips_and_merges_make_it_shorter(vocab: BPEVocab) -> None:
    for text in CORPUS:
        ids = vocab.encode(text)
        assert vocab.decode(ids) == text
        assert len(ids) < len(text.encode("utf-8"))


def test_a_word_never_seen_still_encodes(vocab: BPEVocab) -> None:
    text = "The zebra sings 🦓 über alles."
    assert vocab.decode(vocab.encode(text)) == text


@settings(max_examples=300, deadline=None)
@given(st.text(st.characters(codec="utf-8"), max_size=60))
def test_any_unicode_text_round_trips(text: str) -> None:
    vocab = _corpus_vocab()
    assert vocab.decode(vocab.encode(text)) == text


_VOCAB: list[BPEVocab] = []


def _corpus_vocab() -> BPEVocab:
    if not _VOCAB:
        _VOCAB.append(BPEVocab.train(CORPUS, 400))
    return _VOCAB[0]


def test_a_lone_surrogate_is_refused_with_a_message(vocab: BPEVocab) -> None:
    with pytest.raises(ValueError, match="half of a UTF-16 pair"):
        vocab.encode("a\ud800b")


def test_decoding_a_token_alone_that_holds_half_a_character_gives_the_replacement_char(
    vocab: BPEVocab,
) -> None:
    first, second = text_ids("é")
    assert vocab.decode([first]) == "\ufffd"
    assert vocab.decode([first, second]) == "é"  # one byte string, read once


def test_decode_skip_special_leaves_the_specials_out(vocab: BPEVocab) -> None:
    ids = vocab.encode("Rain is water. </s>")
    assert vocab.decode(ids, skip_special=True) == "Rain is water. "


def test_decode_refuses_ids_outside_the_vocabulary(vocab: BPEVocab) -> None:
    with pytest.raises(ValueError, match="outside this vocabulary"):
        vocab.decode([len(vocab)])


def test_max_len_raises_the_vocabularys_error(vocab: BPEVocab) -> None:
    with pytest.raises(SequenceTooLongError):
        vocab.encode(CORPUS[-1], max_len=3)


def test_token_names_are_unique_and_show_broken_bytes_escaped() -> None:
    vocab = BPEVocab([])
    assert len(set(vocab.id_to_token)) == len(vocab) == FIRST_MERGE_ID
    assert show_bytes(b"\xc3") == "\\xc3" and show_bytes(b"\\") == "\\\\"
    assert vocab.token_to_id["a"] == A


@pytest.mark.parametrize(
    ("merges", "message"),
    [
        ([(A, 0)], "never a special token"),
        ([(A, FIRST_MERGE_ID)], "only join ids made before it"),
        ([(A, B), (A, B)], "repeats merge 0"),
        ([(A,)], "a pair of two int ids"),
        ([(ord("<") + 3, ord("/") + 3), (FIRST_MERGE_ID, ord("s") + 3),
          (FIRST_MERGE_ID + 1, ord(">") + 3)], "spells the special token"),
    ],
)  # fmt: skip
def test_bad_merges_are_refused_with_a_message(merges: list, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        BPEVocab(merges)


def test_save_and_load_give_the_same_vocabulary(vocab: BPEVocab, tmp_path: Path) -> None:
    path = tmp_path / "bpe.json"
    vocab.save(path)
    loaded = BPEVocab.load(path)
    assert loaded == vocab and loaded.encode(CORPUS[3]) == vocab.encode(CORPUS[3])


def test_a_failed_save_leaves_the_old_file(vocab: BPEVocab, tmp_path: Path, monkeypatch) -> None:
    path = tmp_path / "bpe.json"
    BPEVocab([]).save(path)
    before = path.read_bytes()

    def broken(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr("os.fsync", broken)
    with pytest.raises(OSError, match="disk full"):
        vocab.save(path)
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["bpe.json"]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"{not json", "not valid JSON"),
        (b"\xff\xfe", "not UTF-8"),
        (b'{"format": "course_lib.vocab", "version": 1}', "not a saved BPE vocabulary"),
        (b'{"format": "course_lib.bpe_vocab", "version": 9, "merges": []}', "version 9"),
        (b'{"format": "course_lib.bpe_vocab", "version": 1, "merges": [[1, 2]]}', "special"),
        (b"[" * 100_000 + b"]" * 100_000, "nested too deeply|not a saved"),
    ],
)
def test_a_damaged_file_is_refused_with_a_message(
    tmp_path: Path, content: bytes, message: str
) -> None:
    path = tmp_path / "bad.json"
    path.write_bytes(content)
    with pytest.raises(ValueError, match=message):
        BPEVocab.load(path)


def test_a_huge_file_is_refused_before_it_is_parsed(tmp_path: Path) -> None:
    path = tmp_path / "huge.json"
    with open(path, "wb") as file:
        file.truncate(MAX_FILE_BYTES + 10)
    with pytest.raises(ValueError, match="larger than"):
        BPEVocab.load(path)


def test_the_saved_file_is_plain_json(vocab: BPEVocab, tmp_path: Path) -> None:
    path = tmp_path / "bpe.json"
    vocab.save(path)
    data = json.loads(path.read_text())
    assert data["format"] == "course_lib.bpe_vocab" and len(data["merges"]) == len(vocab.merges)


# --- wherever a vocabulary goes -----------------------------------------------------------------


def test_train_and_generate_take_a_bpe_vocabulary(vocab: BPEVocab) -> None:
    from course_lib import numpy as cl
    from course_lib.config import ModelConfig

    texts = ["The sea is blue. </s>", "Rain falls. </s>"]
    config = ModelConfig(vocab_size=len(vocab), d_model=16, d_hidden=16, n_layers=1)
    model = cl.LLM(config, seed=0)
    losses = cl.train(model, vocab, texts, epochs=40, lr=1e-2, progress=False)
    assert losses[-1] < losses[0] / 4
    assert cl.generate(model, vocab, "The sea") == " is blue. "  # learned, byte for byte
    with pytest.raises(ValueError, match="special tokens"):
        cl.generate(model, vocab, "The sea </s>")


def test_training_on_texts_without_the_end_token_warns(vocab: BPEVocab) -> None:
    from course_lib import numpy as cl
    from course_lib.config import ModelConfig

    model = cl.LLM(ModelConfig(vocab_size=len(vocab), d_model=8, d_hidden=8, n_layers=1), seed=0)
    with pytest.warns(UserWarning, match="do not end with </s>"):
        cl.train(model, vocab, ["The sea is blue."], epochs=1, lr=1e-3, progress=False)


def test_the_widgets_take_a_bpe_vocabulary(vocab: BPEVocab) -> None:
    from course_lib import numpy as cl
    from course_lib.config import ModelConfig
    from course_lib.widgets.attention_viewer import attention_maps
    from course_lib.widgets.chat_box import ChatBox

    config = ModelConfig(vocab_size=len(vocab), d_model=16, d_hidden=16, n_layers=1)
    model = cl.LLM(config, seed=0)
    tokens, maps = attention_maps(model, vocab, "The zebra sings.")
    assert "".join(tokens) == "The zebra sings." and maps.shape[-1] == len(tokens)
    chat = ChatBox(model, vocab, template="User: {prompt} Assistant:")
    chat.send("Do zebras sing?")  # a word never seen: no error with subwords
    assert chat.message == "" and chat.history
