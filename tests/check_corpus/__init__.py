"""Learners' answers to every exercise of chapters 01-07, written as source text: for each
exercise, valid solutions written in different ways, and planted mistakes, each with a phrase
that only the hint for that mistake contains.

Each module of this package holds a `CORPUS` dict for some exercises of one chapter (`ch03.py`
the first six of chapter 03, `ch03_block.py` the ones that build the block, ...); `corpus()`
gathers them all. `CORPUS[grade_id]` is an `Answers`. A source defines the exercise's function
under its own name; it may use `np` (NumPy) and `cl` (`course_lib.numpy`), and imports anything
else itself, as a learner's notebook cell would.
"""

from __future__ import annotations

import importlib
import pkgutil
from dataclasses import dataclass, field

from course_lib.checks import Exercise

__all__ = ["CHAPTERS", "Answers", "Mistake", "corpus", "exercises", "modules"]

CHAPTERS = ("01", "02", "03", "04", "05", "06", "07")


@dataclass(frozen=True)
class Mistake:
    """A wrong answer and a phrase its hint must contain."""

    hint: str
    source: str


@dataclass
class Answers:
    """The valid solutions and the planted mistakes of one exercise, each under a short name."""

    valid: dict[str, str] = field(default_factory=dict)
    mistakes: dict[str, Mistake] = field(default_factory=dict)


def exercises() -> dict[str, Exercise]:
    """Every exercise's check in chapters 01-07, by grade id."""
    found = {}
    for chapter in CHAPTERS:
        module = importlib.import_module(f"course_lib.checks.ch{chapter}")
        for value in vars(module).values():
            if isinstance(value, Exercise):
                found[value.grade_id] = value
    return found


def modules() -> list[str]:
    """The names of this package's corpus modules, in order ("ch01", ..., "ch03_block", ...)."""
    return sorted(m.name for m in pkgutil.iter_modules(__path__) if m.name.startswith("ch"))


def corpus() -> dict[str, Answers]:
    """Every exercise's answers, by grade id, from every module of this package."""
    found: dict[str, Answers] = {}
    for name in modules():
        for grade_id, answers in importlib.import_module(f"check_corpus.{name}").CORPUS.items():
            if grade_id in found:
                raise ValueError(f"{grade_id} has answers in two corpus modules (one is {name})")
            found[grade_id] = answers
    return found
