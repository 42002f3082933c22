"""course_lib.corpus: the bundled corpus and the JSON/CSV loader.

Oracles: the counts and limits the course promises (at least 40 facts of 6-14 tokens, at least
80 exchanges of 16-30 tokens, a vocabulary of 400-600 tokens), and files written in each test.
"""

from __future__ import annotations

import csv
import json
import re
import string
from pathlib import Path

import pytest

from course_lib.corpus import chat_texts, load_texts, pretraining_texts
from course_lib.vocab import Vocab, tokenize

FACTS = pretraining_texts()
CHAT = chat_texts()


def _question(text: str) -> str:
    return text.split(" Assistant: ")[0].removeprefix("User: ")


# --- the bundled corpus -----------------------------------------------------------------------


def test_there_are_at_least_40_facts_and_80_exchanges() -> None:
    assert len(FACTS) >= 40
    assert len(CHAT) >= 80


def test_every_fact_is_6_to_14_tokens() -> None:
    lengths = {text: len(tokenize(text)) for text in FACTS}
    assert {t: n for t, n in lengths.items() if not 6 <= n <= 14} == {}


def test_every_exchange_is_16_to_30_tokens() -> None:
    lengths = {text: len(tokenize(text)) for text in CHAT}
    assert {t: n for t, n in lengths.items() if not 16 <= n <= 30} == {}


def test_every_text_fits_well_under_the_model_length() -> None:
    assert max(len(tokenize(text)) for text in FACTS + CHAT) < 40  # the model reads 80


def test_every_text_ends_with_one_end_of_sequence_token() -> None:
    for text in FACTS + CHAT:
        assert text.endswith(". </s>") or text.endswith("! </s>") or text.endswith("? </s>")
        assert tokenize(text).count("</s>") == 1


def test_every_exchange_is_one_user_question_and_one_answer() -> None:
    pattern = re.compile(r"User: [^:]+ Assistant: [^:]+ </s>")
    assert [text for text in CHAT if not pattern.fullmatch(text)] == []


def test_facts_are_plain_sentences() -> None:
    assert [text for text in FACTS if "User" in text or "Assistant" in text] == []
    assert all(text[0].isupper() for text in FACTS)


def test_every_question_is_distinct_even_ignoring_case_and_punctuation() -> None:
    def normal(question: str) -> str:
        return " ".join(t.lower() for t in tokenize(question) if t not in string.punctuation)

    questions = [normal(_question(text)) for text in CHAT]
    assert len(set(questions)) == len(questions)


def test_no_text_appears_twice() -> None:
    assert len(set(FACTS + CHAT)) == len(FACTS) + len(CHAT)


def test_vocabulary_of_both_datasets_is_400_to_600_tokens() -> None:
    assert 400 <= len(Vocab.build(FACTS + CHAT)) <= 600


def test_every_chat_token_is_in_the_vocabulary_of_both() -> None:
    vocab = Vocab.build(FACTS + CHAT)
    missing = {t for text in CHAT for t in tokenize(text) if t not in vocab}
    assert missing == set()


def test_answers_draw_on_the_facts() -> None:
    # Most words of the answers also occur in the pre-training facts.
    fact_words = {t.lower() for text in FACTS for t in tokenize(text)}
    answer_words = [t.lower() for text in CHAT for t in tokenize(text.split("Assistant:")[1])]
    shared = sum(w in fact_words for w in answer_words) / len(answer_words)
    assert shared > 0.75


def test_corpus_is_written_so_that_it_round_trips() -> None:
    # One space between words, none before punctuation, ASCII only.
    for text in FACTS + CHAT:
        assert text.isascii()
        assert "  " not in text and text == text.strip()
        assert not re.search(r" [.,:;?!]", text), text


def test_bundled_lists_are_fresh_copies() -> None:
    texts = pretraining_texts()
    texts.clear()
    assert pretraining_texts() == FACTS


# --- load_texts -------------------------------------------------------------------------------


def test_load_json_array(tmp_path: Path) -> None:
    path = tmp_path / "data.json"
    path.write_text(json.dumps(["The sea. </s>", "Rain falls. </s>"]), encoding="utf-8")
    assert load_texts(path) == ["The sea. </s>", "Rain falls. </s>"]


def test_load_the_bundled_corpus_as_json_and_as_csv(tmp_path: Path) -> None:
    (tmp_path / "chat.json").write_text(json.dumps(CHAT), encoding="utf-8")
    with open(tmp_path / "chat.csv", "w", newline="", encoding="utf-8") as file:
        csv.writer(file).writerows([["text"]] + [[t] for t in CHAT])
    assert load_texts(tmp_path / "chat.json") == CHAT
    assert load_texts(str(tmp_path / "chat.csv")) == CHAT


def test_load_csv_without_header_with_quoted_commas_and_blank_lines(tmp_path: Path) -> None:
    path = tmp_path / "data.csv"
    path.write_text('Rain falls. </s>\n\n"Yes, it is. </s>"\n', encoding="utf-8")
    assert load_texts(path) == ["Rain falls. </s>", "Yes, it is. </s>"]


def test_load_csv_with_a_byte_order_mark(tmp_path: Path) -> None:
    path = tmp_path / "data.csv"
    path.write_bytes("text\ncafé </s>\n".encode("utf-8-sig"))
    assert load_texts(path) == ["café </s>"]


def test_load_missing_file_names_it(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="no corpus file at .*none.json"):
        load_texts(tmp_path / "none.json")


@pytest.mark.parametrize("name", ["empty.json", "empty.csv"])
def test_load_empty_file_says_it_is_empty(tmp_path: Path, name: str) -> None:
    (tmp_path / name).write_text("\n", encoding="utf-8")
    with pytest.raises(ValueError, match="is empty"):
        load_texts(tmp_path / name)


def test_load_json_of_the_wrong_type_says_what_is_expected(tmp_path: Path) -> None:
    path = tmp_path / "data.json"
    path.write_text(json.dumps({"texts": ["a"]}), encoding="utf-8")
    with pytest.raises(ValueError, match="expected a JSON array of strings, got a JSON object"):
        load_texts(path)


def test_load_json_with_a_non_string_item_names_it(tmp_path: Path) -> None:
    path = tmp_path / "data.json"
    path.write_text(json.dumps(["a", 42, "b"]), encoding="utf-8")
    with pytest.raises(ValueError, match="item 1 is a number"):
        load_texts(path)


def test_load_json_with_an_empty_string_names_it(tmp_path: Path) -> None:
    path = tmp_path / "data.json"
    path.write_text(json.dumps(["a", "  "]), encoding="utf-8")
    with pytest.raises(ValueError, match="item 1 is an empty string"):
        load_texts(path)


def test_load_empty_json_array(tmp_path: Path) -> None:
    path = tmp_path / "data.json"
    path.write_text("[]", encoding="utf-8")
    with pytest.raises(ValueError, match="the array is empty"):
        load_texts(path)


def test_load_invalid_json(tmp_path: Path) -> None:
    path = tmp_path / "data.json"
    path.write_text('["a", "b"', encoding="utf-8")
    with pytest.raises(ValueError, match="is not valid JSON"):
        load_texts(path)


def test_load_csv_with_two_columns_names_the_line(tmp_path: Path) -> None:
    path = tmp_path / "data.csv"
    path.write_text("text\nRain falls. </s>\nYes, it is. </s>\n", encoding="utf-8")
    with pytest.raises(ValueError, match="line 3: 2 columns; expected one text per row"):
        load_texts(path)


def test_load_csv_with_only_a_header(tmp_path: Path) -> None:
    path = tmp_path / "data.csv"
    path.write_text("text\n", encoding="utf-8")
    with pytest.raises(ValueError, match="has no texts"):
        load_texts(path)


def test_load_unknown_extension(tmp_path: Path) -> None:
    path = tmp_path / "data.txt"
    path.write_text("Rain falls. </s>\n", encoding="utf-8")
    with pytest.raises(ValueError, match="unknown corpus format '.txt'; use a .json file"):
        load_texts(path)


def test_load_non_utf8_file(tmp_path: Path) -> None:
    path = tmp_path / "data.csv"
    path.write_bytes("café </s>\n".encode("latin-1"))
    with pytest.raises(ValueError, match="not UTF-8"):
        load_texts(path)
