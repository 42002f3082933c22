"""Stable mistake ids: every hint a check gives names a mistake, the same for every learner and in
every process, read from the checks' own code (`course_lib.checks.mistakes`).

Oracles: the checks' syntax trees (every `expect`/`CheckFailed` call with a hint, found here by a
walk of their own), the check corpus (each planted mistake and the phrase only its hint has), and
learners' functions written here whose wrong values differ while their mistake is the same.
"""

from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from _grading_helpers import in_process
from check_corpus import corpus, exercises

from course_lib import checks
from course_lib.checks import CheckFailed, Exercise, ch01, ch03, expect
from course_lib.checks.mistakes import FIXED, hint_sites, template_matches

ROOT = Path(__file__).resolve().parents[1]
CHECKS = ROOT / "course_lib" / "checks"
EXERCISES = exercises()
CORPUS = corpus()
MISTAKES = [(gid, name) for gid, answers in CORPUS.items() for name in answers.mistakes]


def _hint_calls() -> list[tuple[str, int]]:
    """(file, line) of every call `expect(condition, hint)` or `CheckFailed(hint)` in the checks
    package, found by walking each file's syntax tree."""
    found = []
    for path in sorted(CHECKS.glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if not isinstance(node, ast.Call):
                continue
            name = getattr(node.func, "id", getattr(node.func, "attr", ""))
            if (name == "expect" and len(node.args) >= 2) or (name == "CheckFailed" and node.args):
                found.append((path.name, node.lineno))
    return found


def test_every_hint_site_in_the_checks_gets_an_id_of_its_own():
    sites = hint_sites()
    assert len(sites) == len(_hint_calls()) > 250
    ids = [checks.mistakes.mistake_id("ch00_x", checks.mistakes.Found(s, t)) for s, t in sites]
    assert len(set(ids)) == len(ids)
    assert len({site.key for site, _ in sites}) == len(sites)


def _ids_of_corpus_mistakes() -> dict[str, str]:
    return {
        f"{gid}/{name}": in_process(EXERCISES[gid], CORPUS[gid].mistakes[name].source).mistake
        for gid, name in MISTAKES
    }


@pytest.mark.parametrize(("grade_id", "name"), MISTAKES, ids=[f"{g}-{n}" for g, n in MISTAKES])
def test_every_corpus_mistake_gets_an_id_read_from_the_checks_and_a_template_its_hint_fits(
    grade_id, name
):
    outcome = in_process(EXERCISES[grade_id], CORPUS[grade_id].mistakes[name].source)
    assert outcome.status == "fail"
    prefix, _, local = outcome.mistake.partition("/")
    assert prefix == grade_id
    assert local != "unlocated"
    named = local in FIXED or local.startswith("raised-")
    if not named:
        # the hint is the template with its holes filled in, and the template has real words
        assert template_matches(outcome.template, outcome.message), outcome.template
        words = [w for w in outcome.template.replace("…", " ").split() if any(map(str.isalpha, w))]
        assert len(words) >= 4, outcome.template
        assert not local.startswith("hint-"), outcome.template


def test_ids_are_the_same_in_two_fresh_processes_with_different_hash_seeds():
    code = (
        "import json, sys\nsys.path.insert(0, 'tests')\n"
        "from test_mistakes import _ids_of_corpus_mistakes\n"
        "print(json.dumps(_ids_of_corpus_mistakes(), sort_keys=True))\n"
    )
    runs = []
    for seed in ("1", "4242"):
        env = {**os.environ, "PYTHONHASHSEED": seed}
        done = subprocess.run(
            [sys.executable, "-c", code],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=600,
            check=True,
        )
        runs.append(json.loads(done.stdout.strip().splitlines()[-1]))
    assert runs[0] == runs[1]
    assert len(runs[0]) == len(MISTAKES)


def _softmax_cut(n: int):
    def softmax(x, axis=-1):
        e = np.exp(x - x.max(axis=axis, keepdims=True))
        return (e / e.sum(axis=axis, keepdims=True))[..., :-n]

    return softmax


def test_the_same_mistake_with_other_wrong_values_gets_the_same_id():
    one, two = ch03.softmax.run(_softmax_cut(1)), ch03.softmax.run(_softmax_cut(2))
    assert one.message != two.message  # the shapes in the hints differ ...
    assert one.mistake == two.mistake  # ... the mistake does not
    assert one.template == two.template and "…" in one.template
    assert "(3, 4)" in one.message and "(3, 4)" not in one.template


def test_a_hint_made_by_a_helper_keeps_its_id_across_values():
    # ch01's tokenize hint names the glued token: '!!' for one learner, '...' for another.
    def glued(mark):
        def tokenize(text):
            out = []
            for word in text.split():
                core = word.rstrip("!?.,;:'\"")
                tail = word[len(core) :]
                out += ([core] if core else []) + ([mark] if tail else [])
            return out

        return tokenize

    a, b = ch01.tokenize.run(glued("!!")), ch01.tokenize.run(glued("..."))
    assert "'!!'" in a.message and "'...'" in b.message
    assert a.mistake == b.mistake
    assert "one token, but every punctuation character is a token of its own" in a.template


def test_the_template_holds_none_of_the_learners_values():
    marker = "ZQX_learner_text_<b>"

    def tokenize(text):
        return [marker]

    outcome = ch01.tokenize.run(tokenize)
    assert marker in outcome.message
    assert marker not in outcome.template and marker not in outcome.mistake


def test_a_learner_function_that_raises_gets_the_fixed_id_of_its_builtin_type():
    class MyOwnError(KeyError):
        pass

    def tokenize(text):
        raise MyOwnError("<script>")

    outcome = ch01.tokenize.run(tokenize)
    assert outcome.mistake == "ch01_tokenize/raised-KeyError"
    assert "MyOwnError" not in outcome.template and "<script>" not in outcome.template


def test_not_done_has_a_fixed_id():
    def tokenize(text):
        raise NotImplementedError

    assert ch01.tokenize.run(tokenize).mistake == "ch01_tokenize/not-done"


def _named_check(fn):
    expect(fn(2) == 4, f"double(2) gave {fn(2)}", mistake="adds-instead-of-doubling")


def test_an_author_may_name_a_mistake():
    exercise = Exercise("ch00_double", "double", lambda x: 2 * x, _named_check)
    outcome = exercise.run(lambda x: x + 3)
    assert outcome.mistake == "ch00_double/adds-instead-of-doubling"
    with pytest.raises(ValueError, match="lowercase words and dashes"):
        CheckFailed("a hint", mistake="Not A Name!")


def test_a_hint_raised_by_code_run_from_a_cell_is_unlocated():
    # A function defined by exec (as a notebook cell's code is) that raises CheckFailed itself:
    # its text is the learner's, never a template.
    namespace: dict = {}
    exec("from course_lib.checks import CheckFailed\ndef tokenize(text):\n"
         "    raise CheckFailed('<img src=x> ' + text)\n", namespace)  # fmt: skip
    outcome = ch01.tokenize.run(namespace["tokenize"])
    assert outcome.mistake == "ch01_tokenize/unlocated"
    assert "<img" not in outcome.template


@pytest.fixture
def fresh_session(monkeypatch):
    monkeypatch.setattr(checks, "_results", {})
    monkeypatch.setattr(checks, "_met", {})


def test_summary_lists_the_mistakes_met_on_the_way_in_order_with_counts(fresh_session, capsys):
    def split_only(text):
        return text.split()

    for _ in range(2):
        with pytest.raises(CheckFailed):
            ch01.tokenize(split_only)
    with pytest.raises(CheckFailed):
        ch01.tokenize(_softmax_cut(1))  # wrong in another way: raises on a string
    ch01.tokenize(ch01.tokenize.reference)  # fixed at last
    first = ch01.tokenize.run(split_only)
    text = checks.summary()
    lines = text.splitlines()
    total = next(n for n, line in enumerate(lines) if line.startswith("total"))
    assert lines[0].split()[:2] == ["ch01_tokenize", "pass"]
    met = [line for line in lines[total + 1 :] if line.startswith("- ")]
    assert met[0].startswith(f"- {first.mistake} x 2: ")
    assert met[1].startswith("- ch01_tokenize/raised-") and " x 1: " in met[1]
    assert len(met) == 2
    assert [m.mistake for m in checks.met()] == [first.mistake, met[1].split()[1]]
    assert capsys.readouterr().out.endswith(text + "\n")  # printed, after the check's line


def test_summary_of_a_session_without_mistakes_lists_none(fresh_session, capsys):
    ch01.tokenize(ch01.tokenize.reference)
    assert "Mistakes met" not in checks.summary()


def test_corpus_mistakes_that_share_an_id_differ_only_in_their_values():
    # Different planted answers meeting the same hint with other values: one id, one template,
    # which each of their hints fits.
    by_id: dict[str, list] = {}
    for gid, name in MISTAKES:
        outcome = in_process(EXERCISES[gid], CORPUS[gid].mistakes[name].source)
        by_id.setdefault(outcome.mistake, []).append(outcome)
    shared = {
        mistake: outcomes
        for mistake, outcomes in by_id.items()
        if len({o.message for o in outcomes}) > 1 and not _named(mistake)
    }
    assert len(shared) >= 5
    for outcomes in shared.values():
        assert len({o.template for o in outcomes}) == 1
        assert all(template_matches(o.template, o.message) for o in outcomes)


def test_a_copy_of_a_check_failure_keeps_its_hint_and_name():
    import copy
    import pickle

    failure = CheckFailed("double(2) gave 5", mistake="adds-instead")
    for twin in (copy.copy(failure), pickle.loads(pickle.dumps(failure))):
        assert str(twin) == "double(2) gave 5" and twin.mistake_name == "adds-instead"


def _named(mistake: str) -> bool:
    """A fixed name (not done, raised, ...), whose template is not its hint."""
    local = mistake.rsplit("/", 1)[1]
    return local in FIXED or local.startswith("raised-")
