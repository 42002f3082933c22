"""The course's own corpus, and the loader for a corpus of your own.

Two bundled datasets, both lists of strings that end with ``</s>``:

- `pretraining_texts()`: one-sentence facts about a small world of weather, the sea, plants and
  animals, for pre-training;
- `chat_texts()`: ``"User: ... Assistant: ... </s>"`` exchanges whose answers draw on those facts,
  for instruction tuning.

`load_texts(path)` reads the same format from a file: a JSON array of strings, or a CSV file with
one text per row (a first row that is exactly ``text`` is a header and is skipped). CSV is parsed
strictly: a quote that is never closed is an error that names its line, never rows silently run
together into one text. Every text must be writable as UTF-8 (JSON's ``\\ud800`` escapes can make
one that is not), so that a vocabulary built from it can be saved.
"""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

__all__ = ["chat_texts", "load_texts", "pretraining_texts"]

_DATA = Path(__file__).parent / "data"  # installed with the package (pyproject package-data)


def _check_texts(texts: object, where: str) -> list[str]:
    """`texts` as a list of non-empty strings, or an error naming the first bad item."""
    if not isinstance(texts, list):
        raise ValueError(
            f"{where}: expected a JSON array of strings, got a JSON {_json_kind(texts)}; "
            f'write the texts as ["first text", "second text", ...]'
        )
    if not texts:
        raise ValueError(f"{where}: the array is empty; a corpus needs at least one text")
    for position, text in enumerate(texts):
        if not isinstance(text, str):
            raise ValueError(
                f"{where}: item {position} is a {_json_kind(text)} ({text!r:.40}), not a string; "
                f"every item must be one text in quotes"
            )
        if not text.strip():
            raise ValueError(f"{where}: item {position} is an empty string; remove it")
        try:
            text.encode("utf-8")
        except UnicodeEncodeError as error:
            raise ValueError(
                f"{where}: item {position} holds {error.object[error.start : error.end]!r} at "
                f"character {error.start}, half of a UTF-16 pair that is not a character (a "
                f"broken \\u escape?); remove it"
            ) from None
    return list(texts)


def _json_kind(value: object) -> str:
    kinds = {dict: "object", list: "array", str: "string", bool: "boolean", type(None): "null"}
    return kinds.get(type(value), "number" if isinstance(value, (int, float)) else "value")


def _parse_json(text: str, where: str) -> list[str]:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as error:
        raise ValueError(
            f"{where} is not valid JSON ({error}); expected an array of strings like "
            f'["first text", "second text"]'
        ) from None
    except RecursionError:
        raise ValueError(
            f"{where} holds JSON nested too deeply to read; expected a flat array of strings "
            f'like ["first text", "second text"]'
        ) from None
    return _check_texts(data, where)


def _parse_csv(text: str, where: str) -> list[str]:
    texts: list[str] = []
    reader = csv.reader(io.StringIO(text), strict=True)
    while True:
        line_number = reader.line_num + 1  # where the next row starts
        try:
            row = next(reader)
        except StopIteration:
            break
        except csv.Error as error:
            raise ValueError(_csv_problem(error, where, line_number)) from None
        if not row or all(not cell.strip() for cell in row):
            continue  # blank lines carry no text
        if len(row) != 1:
            raise ValueError(
                f"{where}, line {line_number}: {len(row)} columns; expected one text per row "
                f'(put a text that contains commas in double quotes: "a, b")'
            )
        if line_number == 1 and row[0].strip() == "text":
            continue  # the header
        texts.append(row[0])
    if not texts:
        raise ValueError(f"{where} has no texts (only a header or blank lines)")
    return texts


def _csv_problem(error: csv.Error, where: str, line_number: int) -> str:
    """The one-line message for a CSV the strict reader refuses, with the line it started on."""
    reason = str(error)
    if "field limit" in reason:
        return (
            f"{where}, line {line_number}: a text longer than {csv.field_size_limit():,} "
            f"characters (perhaps a quote that is never closed swallowed the rows after it); "
            f"a text for this model is at most a few hundred tokens"
        )
    if "end of data" in reason or "quote" in reason:
        return (
            f'{where}, line {line_number}: a double quote (") that is never closed, so the rest '
            f"of the file would run together into one text; close it, or write a quote inside a "
            f'quoted text as two ("")'
        )
    return f"{where}, line {line_number}: not valid CSV ({reason})"


def load_texts(path: str | Path) -> list[str]:
    """The texts in `path`: a JSON array of strings (``.json``) or a CSV, one text per row."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no corpus file at {path}")
    suffix = path.suffix.lower()
    if suffix not in (".json", ".csv"):
        raise ValueError(
            f"{path}: unknown corpus format {suffix or '(no extension)'!r}; use a .json file "
            f"(an array of strings) or a .csv file (one text per row)"
        )
    try:
        text = path.read_text(encoding="utf-8-sig")  # -sig: a spreadsheet's byte-order mark
    except UnicodeDecodeError:
        raise ValueError(f"{path} is not UTF-8 text; save it as UTF-8 and try again") from None
    if not text.strip():
        raise ValueError(f"{path} is empty; a corpus needs at least one text")
    if suffix == ".json":
        return _parse_json(text, str(path))
    return _parse_csv(text, str(path))


def _bundled(name: str) -> list[str]:
    text = (_DATA / name).read_text(encoding="utf-8")
    return _parse_json(text, f"course_lib/data/{name}")


def pretraining_texts() -> list[str]:
    """The bundled one-sentence facts for pre-training (a fresh list each call)."""
    return _bundled("pretrain.json")


def chat_texts() -> list[str]:
    """The bundled "User: ... Assistant: ... </s>" exchanges for instruction tuning."""
    return _bundled("chat.json")
