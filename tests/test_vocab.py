"""course_lib.vocab: the tokenizer, Vocab and the DNA k-mer tokenizer.

Oracles: hand-written token lists for the split rule, the corpus texts themselves for the round
trip, and itertools.product for the order of the DNA vocabulary.
"""

from __future__ import annotations

import itertools
import json
import os
import subprocess
import sys
import unicodedata
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from course_lib.corpus import chat_texts, pretraining_texts
from course_lib.vocab import (
    EOS_ID,
    PAD_ID,
    SPECIAL_TOKENS,
    UNK_ID,
    DNAVocab,
    SequenceTooLongError,
    UnknownTokenError,
    Vocab,
    detokenize,
    kmers,
    tokenize,
)

CORPUS = pretraining_texts() + chat_texts()


@pytest.fixture(scope="module")
def vocab() -> Vocab:
    return Vocab.build(CORPUS)


# --- tokenize ---------------------------------------------------------------------------------


def test_tokenize_splits_on_whitespace_of_any_kind() -> None:
    assert tokenize("a  b\tc\n d") == ["a", "b", "c", "d"]


def test_tokenize_makes_each_punctuation_character_a_token() -> None:
    assert tokenize("User: Hi, there!") == ["User", ":", "Hi", ",", "there", "!"]
    assert tokenize("Wait...") == ["Wait", ".", ".", "."]
    assert tokenize("(a-b)") == ["(", "a", "-", "b", ")"]


def test_tokenize_is_case_sensitive() -> None:
    assert tokenize("Sea sea SEA") == ["Sea", "sea", "SEA"]


def test_tokenize_keeps_end_of_sequence_whole() -> None:
    assert tokenize("The sea. </s>") == ["The", "sea", ".", "</s>"]
    assert tokenize("sea.</s>") == ["sea", ".", "</s>"]
    assert tokenize("</s></s>") == ["</s>", "</s>"]


def test_tokenize_keeps_every_special_token_whole() -> None:
    assert tokenize("<pad> a<unk>") == ["<pad>", "a", "<unk>"]


def test_tokenize_splits_lookalikes_of_special_tokens() -> None:
    assert tokenize("<s>") == ["<", "s", ">"]
    assert tokenize("</ s>") == ["<", "/", "s", ">"]


def test_tokenize_of_empty_or_blank_text_is_empty() -> None:
    assert tokenize("") == []
    assert tokenize(" \n\t ") == []


def test_tokenize_keeps_non_ascii_characters_inside_words() -> None:
    # Decision: only ASCII punctuation splits; accents, dashes and emoji belong to their word.
    assert tokenize("café") == ["café"]
    assert tokenize("café — tea") == ["café", "—", "tea"]
    assert tokenize("tea—café") == ["tea—café"]
    assert tokenize("hi🙂!") == ["hi🙂", "!"]
    assert tokenize("«Oui»") == ["«Oui»"]


def test_tokenize_does_not_normalize_unicode() -> None:
    composed = unicodedata.normalize("NFC", "café")
    decomposed = unicodedata.normalize("NFD", "café")
    assert tokenize(composed) != tokenize(decomposed)


def test_tokenize_rejects_non_text() -> None:
    with pytest.raises(TypeError, match="expects a str"):
        tokenize(["a", "b"])  # type: ignore[arg-type]


def test_detokenize_puts_no_space_before_closing_punctuation() -> None:
    tokens = ["User", ":", "Is", "it", "(", "really", ")", "salty", "?", "Yes", "!", "</s>"]
    assert detokenize(tokens) == "User: Is it (really) salty? Yes! </s>"


_WORD = st.text(alphabet="abcXYZé🙂—", min_size=1, max_size=5)
_TOKEN = st.one_of(_WORD, st.sampled_from(list("!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~")))
_TOKEN = st.one_of(_TOKEN, st.sampled_from(list(SPECIAL_TOKENS)))


@given(st.lists(_TOKEN, max_size=12))
def test_tokenize_inverts_detokenize_for_any_token_list(tokens: list[str]) -> None:
    assert tokenize(detokenize(tokens)) == tokens


# --- Vocab.build ------------------------------------------------------------------------------


def test_special_tokens_have_fixed_ids(vocab: Vocab) -> None:
    assert vocab.id_to_token[:3] == ["<pad>", "</s>", "<unk>"]
    assert (vocab.token_to_id["<pad>"], vocab.token_to_id["</s>"]) == (PAD_ID, EOS_ID)
    assert vocab.token_to_id["<unk>"] == UNK_ID


def test_other_tokens_follow_in_sorted_order_once_each(vocab: Vocab) -> None:
    rest = vocab.id_to_token[3:]
    assert rest == sorted(set(rest))
    assert set(rest) == {t for text in CORPUS for t in tokenize(text)} - set(SPECIAL_TOKENS)


def test_ids_do_not_depend_on_text_order() -> None:
    assert Vocab.build(CORPUS) == Vocab.build(list(reversed(CORPUS)))


def test_ids_are_the_same_in_every_python_process() -> None:
    # String hashing is randomized per process: a set-ordered vocabulary would differ here.
    code = "from course_lib.corpus import *; from course_lib.vocab import Vocab; import json; " + (
        "print(json.dumps(Vocab.build(pretraining_texts() + chat_texts()).id_to_token))"
    )
    outputs = {
        subprocess.run(
            [sys.executable, "-c", code],
            env={**os.environ, "PYTHONHASHSEED": seed},
            capture_output=True,
            text=True,
            timeout=120,
            check=True,
        ).stdout
        for seed in ("1", "2", "3")
    }
    assert len(outputs) == 1


def test_token_to_id_and_id_to_token_agree(vocab: Vocab) -> None:
    assert len(vocab) == len(vocab.id_to_token) == len(vocab.token_to_id)
    assert all(vocab.token_to_id[t] == i for i, t in enumerate(vocab.id_to_token))
    assert "sea" in vocab and "<unk>" in vocab and "Atlantis" not in vocab


def test_build_of_no_texts_has_only_the_specials() -> None:
    assert Vocab.build([]).id_to_token == list(SPECIAL_TOKENS)


def test_build_rejects_a_single_string() -> None:
    with pytest.raises(TypeError, match=r"Vocab.build\(\[text\]\)"):
        Vocab.build("The sea is salty.")


def test_build_rejects_non_string_texts() -> None:
    with pytest.raises(TypeError, match="text 1 is a int"):
        Vocab.build(["a", 3])  # type: ignore[list-item]


def test_constructor_rejects_specials_out_of_place() -> None:
    with pytest.raises(ValueError, match="must start with the special tokens"):
        Vocab(["</s>", "<pad>", "<unk>", "a"])


def test_constructor_rejects_duplicate_tokens() -> None:
    with pytest.raises(ValueError, match="'a' appears twice"):
        Vocab(["<pad>", "</s>", "<unk>", "a", "a"])


# --- encode -----------------------------------------------------------------------------------


def test_encode_gives_the_id_of_each_token(vocab: Vocab) -> None:
    ids = vocab.encode("User: What is rain?")
    assert [vocab.id_to_token[i] for i in ids] == ["User", ":", "What", "is", "rain", "?"]


def test_encode_of_empty_text_is_empty(vocab: Vocab) -> None:
    assert vocab.encode("") == []
    assert vocab.decode([]) == ""


def test_encode_keeps_end_of_sequence_as_id_1(vocab: Vocab) -> None:
    assert vocab.encode("rain. </s>")[-1] == EOS_ID
    assert vocab.encode("rain.</s>") == vocab.encode("rain. </s>")


def test_unknown_word_raises_an_error_naming_it_and_a_near_spelling(vocab: Vocab) -> None:
    with pytest.raises(UnknownTokenError) as info:
        vocab.encode("The Whale sings.")
    error = info.value
    assert isinstance(error, ValueError)
    assert (error.token, error.suggestion) == ("Whale", "whale")
    message = str(error)
    assert "'Whale' is not in the vocabulary" in message
    assert "did you mean 'whale'?" in message
    assert "unknown='unk'" in message


def test_unknown_word_suggests_a_close_misspelling(vocab: Vocab) -> None:
    with pytest.raises(UnknownTokenError, match="did you mean 'clouds'"):
        vocab.encode("clouuds")


def test_unknown_word_without_a_close_spelling_says_so(vocab: Vocab) -> None:
    with pytest.raises(UnknownTokenError, match="no close spelling") as info:
        vocab.encode("xqzzv")
    assert info.value.suggestion is None


def test_unknown_non_ascii_word_is_reported_whole(vocab: Vocab) -> None:
    with pytest.raises(UnknownTokenError, match="'café'"):
        vocab.encode("café")
    assert vocab.encode("café 🙂 —", unknown="unk") == [UNK_ID] * 3


def test_unknown_policy_unk_gives_the_unknown_id(vocab: Vocab) -> None:
    ids = vocab.encode("The Whale sings.", unknown="unk")
    assert ids == [vocab.token_to_id["The"], UNK_ID, UNK_ID, vocab.token_to_id["."]]
    assert vocab.decode(ids) == "The <unk> <unk>."


def test_unknown_policy_must_be_error_or_unk(vocab: Vocab) -> None:
    with pytest.raises(ValueError, match="'error' or 'unk'"):
        vocab.encode("sea", unknown="drop")  # type: ignore[arg-type]


def test_over_long_text_raises_with_length_limit_and_advice(vocab: Vocab) -> None:
    text = " ".join(["sea"] * 81)
    with pytest.raises(SequenceTooLongError) as info:
        vocab.encode(text, max_len=80)
    error = info.value
    assert isinstance(error, ValueError)
    assert (error.length, error.limit) == (81, 80)
    assert "81 tokens long but the limit is 80" in str(error)
    assert "split it into pieces" in str(error)


def test_text_of_exactly_max_len_tokens_is_accepted(vocab: Vocab) -> None:
    assert len(vocab.encode(" ".join(["sea"] * 80), max_len=80)) == 80


def test_max_len_must_be_a_positive_int(vocab: Vocab) -> None:
    for bad in (0, -1, 2.5, True):
        with pytest.raises(ValueError, match="max_len must be a positive int"):
            vocab.encode("sea", max_len=bad)  # type: ignore[arg-type]


# --- decode -----------------------------------------------------------------------------------


def test_decode_round_trips_the_whole_corpus(vocab: Vocab) -> None:
    for text in CORPUS:
        assert vocab.decode(vocab.encode(text, max_len=80)) == text


def test_decode_can_skip_special_tokens(vocab: Vocab) -> None:
    ids = [PAD_ID] + vocab.encode("Rain falls. </s>") + [PAD_ID, UNK_ID]
    assert vocab.decode(ids) == "<pad> Rain falls. </s> <pad> <unk>"
    assert vocab.decode(ids, skip_special=True) == "Rain falls."


def test_decode_accepts_numpy_ids(vocab: Vocab) -> None:
    ids = np.array(vocab.encode("Rain falls."), dtype=np.int64)
    assert vocab.decode(ids) == "Rain falls."


def test_decode_rejects_ids_outside_the_vocabulary(vocab: Vocab) -> None:
    with pytest.raises(ValueError, match=f"token id {len(vocab)} at position 1"):
        vocab.decode([3, len(vocab)])
    with pytest.raises(ValueError, match="token id -1"):
        vocab.decode([-1])


def test_decode_rejects_ids_that_are_not_ints(vocab: Vocab) -> None:
    with pytest.raises(TypeError, match="token ids are ints"):
        vocab.decode([3.0])  # type: ignore[list-item]
    with pytest.raises(TypeError, match="got a string"):
        vocab.decode("3 4")  # type: ignore[arg-type]


# --- save and load ----------------------------------------------------------------------------


def test_save_then_load_gives_the_same_vocabulary(vocab: Vocab, tmp_path: Path) -> None:
    path = tmp_path / "vocab.json"
    vocab.save(path)
    loaded = Vocab.load(path)
    assert loaded.id_to_token == vocab.id_to_token
    assert loaded.token_to_id == vocab.token_to_id


def test_save_keeps_non_ascii_tokens(tmp_path: Path) -> None:
    vocab = Vocab.build(["café 🙂 — naïve"])
    vocab.save(tmp_path / "v.json")
    assert Vocab.load(tmp_path / "v.json") == vocab
    assert "café" in (tmp_path / "v.json").read_text(encoding="utf-8")


def test_to_dict_and_from_dict_are_inverse(vocab: Vocab) -> None:
    data = json.loads(json.dumps(vocab.to_dict()))
    assert Vocab.from_dict(data) == vocab


def test_load_of_a_missing_file_names_it(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="no vocabulary file at .*nothing.json"):
        Vocab.load(tmp_path / "nothing.json")


def test_load_of_corrupt_json_says_it_is_damaged(vocab: Vocab, tmp_path: Path) -> None:
    path = tmp_path / "vocab.json"
    vocab.save(path)
    path.write_text(path.read_text(encoding="utf-8")[:50], encoding="utf-8")  # cut short
    with pytest.raises(ValueError, match="is not valid JSON .* Save the vocabulary again"):
        Vocab.load(path)


def test_load_of_a_corpus_file_says_it_is_not_a_vocabulary(tmp_path: Path) -> None:
    path = tmp_path / "corpus.json"
    path.write_text(json.dumps(["The sea. </s>"]), encoding="utf-8")
    with pytest.raises(ValueError, match=r"JSON array, not a saved vocabulary .*Vocab.build"):
        Vocab.load(path)


def test_load_of_another_json_object_says_what_is_expected(tmp_path: Path) -> None:
    path = tmp_path / "config.json"
    path.write_text(json.dumps({"d_model": 128}), encoding="utf-8")
    with pytest.raises(ValueError, match='not a saved vocabulary: expected .*"format"'):
        Vocab.load(path)


def test_load_rejects_a_file_with_specials_out_of_place(vocab: Vocab, tmp_path: Path) -> None:
    data = vocab.to_dict()
    data["tokens"] = sorted(data["tokens"])
    path = tmp_path / "vocab.json"
    path.write_text(json.dumps(data), encoding="utf-8")
    with pytest.raises(ValueError, match="vocab.json: a vocabulary must start with the special"):
        Vocab.load(path)


def test_load_rejects_an_unknown_version(vocab: Vocab, tmp_path: Path) -> None:
    data = dict(vocab.to_dict(), version=99)
    path = tmp_path / "vocab.json"
    path.write_text(json.dumps(data), encoding="utf-8")
    with pytest.raises(ValueError, match="version 99"):
        Vocab.load(path)


# --- DNA --------------------------------------------------------------------------------------


def test_kmers_side_by_side_drop_a_short_tail() -> None:
    assert kmers("ACGTACGT", 3) == ["ACG", "TAC"]


def test_kmers_side_by_side_keep_the_last_whole_kmer() -> None:
    assert kmers("ACGTAC", 3) == ["ACG", "TAC"]
    assert kmers("ACGT", 1) == ["A", "C", "G", "T"]


def test_kmers_overlapping_start_at_every_base() -> None:
    assert kmers("ACGTA", 2, overlapping=True) == ["AC", "CG", "GT", "TA"]
    assert kmers("ACG", 3, overlapping=True) == ["ACG"]


def test_kmers_of_a_sequence_shorter_than_k_are_empty() -> None:
    assert kmers("AC", 3) == [] and kmers("AC", 3, overlapping=True) == [] and kmers("", 2) == []


def test_kmers_read_lower_case_as_upper_case() -> None:
    assert kmers("acgT", 2) == ["AC", "GT"]


def test_kmers_keep_n_in_the_kmer() -> None:
    assert kmers("ACGNTT", 3) == ["ACG", "NTT"]


def test_kmers_reject_other_letters_naming_the_position() -> None:
    with pytest.raises(ValueError, match="invalid base 'U' at position 2"):
        kmers("ACUG", 2)
    with pytest.raises(ValueError, match="invalid base ' ' at position 3"):
        kmers("ACG TT", 2)


def test_kmers_reject_a_bad_k() -> None:
    for bad in (0, -2, 1.5, True):
        with pytest.raises(ValueError, match="k must be a positive int"):
            kmers("ACGT", bad)  # type: ignore[arg-type]


def test_dna_vocab_holds_the_specials_then_every_kmer_in_order() -> None:
    dna = DNAVocab(3)
    expected = ["".join(p) for p in itertools.product("ACGT", repeat=3)]
    assert dna.id_to_token == list(SPECIAL_TOKENS) + expected
    assert len(dna) == 3 + 4**3
    assert dna.token_to_id["AAA"] == 3 and dna.token_to_id["TTT"] == len(dna) - 1


def test_dna_vocab_turns_a_kmer_with_n_into_unk() -> None:
    dna = DNAVocab(3)
    ids = dna.encode("ATGCGNACG")
    assert dna.tokens(ids) == ["ATG", "<unk>", "ACG"]
    assert dna.decode(ids) == "ATGNNNACG"


def test_dna_vocab_length_limit() -> None:
    with pytest.raises(SequenceTooLongError, match="5 tokens long but the limit is 4"):
        DNAVocab(1).encode("ACGTA", max_len=4)


def test_dna_vocab_rejects_a_huge_k() -> None:
    with pytest.raises(ValueError, match="use k <= 8"):
        DNAVocab(9)


@given(st.text(alphabet="ACGT", max_size=40), st.integers(1, 4))
def test_dna_decode_inverts_encode(seq: str, k: int) -> None:
    dna = DNAVocab(k)
    assert dna.decode(dna.encode(seq)) == seq[: len(seq) // k * k]
    expected = seq if len(seq) >= k else ""
    assert dna.decode(dna.encode(seq, overlapping=True), overlapping=True) == expected
