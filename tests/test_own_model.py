"""Chapter 05's chat model trained on the learner-written parts alone reaches the library's losses.

The learner's parts are the functions the solution notebooks define in their cells - chapter 03's
`softmax`, `causal_attention`, `split_heads`, `merge_heads`, `layer_norm`, `feed_forward`,
`block_forward` and chapter 05's `cross_entropy`, `train_step`, `next_token_probs`, `generate`,
`llm_forward` - and chapter 05's own loop `train_on_your_code` with its `YourModel`, taken from
the notebook sources as they are (nothing of the library's reference functions).

Oracle: `cl.train` with the chapter's schedule (its constants read from the notebook), the same
starting weights and the same seeds. Tolerance: every epoch's mean loss within TOLERANCE of
the library's, TOLERANCE = 1e-4 (both run in float32; the two forward passes sum in different
orders, and Adam carries the rounding on for 90 epochs). Measured here: the largest gap 6.7e-08,
final instruction-tuning loss 0.22463 both ways, 84 of 84 training answers the same.
"""

from __future__ import annotations

import ast
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from course_lib import numpy as cl
from course_lib.batching import encode_texts, make_batches
from course_lib.config import ModelConfig
from course_lib.corpus import chat_texts, pretraining_texts
from course_lib.notebooks import read_solution
from course_lib.vocab import EOS_ID, UNK_ID, Vocab

ROOT = Path(__file__).resolve().parents[1]
CHAPTER_03 = ["softmax", "causal_attention", "split_heads", "merge_heads", "layer_norm"]
CHAPTER_03 += ["feed_forward", "block_forward"]
CHAPTER_05 = ["cross_entropy", "train_step", "next_token_probs", "generate", "llm_forward"]
CHAPTER_05 += ["YourModel", "train_on_your_code"]
SCHEDULE = ("BATCH", "PRE_EPOCHS", "PRE_LR", "CHAT_EPOCHS", "CHAT_LR")
TOLERANCE = 1e-4


def definitions(notebook: str, names: list[str]) -> tuple[str, dict[str, Any]]:
    """The source of the functions and classes `names` as the notebook's cells define them, and
    the values of the schedule's constants if the notebook sets them."""
    nb = read_solution(ROOT / "solutions" / notebook)
    found: dict[str, str] = {}
    constants: dict[str, Any] = {}
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        try:
            tree = ast.parse(cell.source)
        except SyntaxError:  # IPython-only syntax: not a cell the learner's parts live in
            continue
        for node in tree.body:
            if isinstance(node, (ast.FunctionDef, ast.ClassDef)) and node.name in names:
                found[node.name] = ast.get_source_segment(cell.source, node) or ""
            targets = node.targets[0] if isinstance(node, ast.Assign) else None
            if isinstance(targets, ast.Tuple) and [
                getattr(t, "id", "") for t in targets.elts
            ] == list(SCHEDULE):
                constants = dict(zip(SCHEDULE, ast.literal_eval(node.value), strict=True))
    missing = sorted(set(names) - set(found))
    assert not missing, f"{notebook} no longer defines {missing}"
    return "\n\n".join(found[name] for name in names), constants


@pytest.fixture(scope="module")
def learner() -> dict[str, Any]:
    """A namespace holding only the learner-written parts (and what a notebook imports)."""
    facts, chat = pretraining_texts(), chat_texts()
    vocab = Vocab.build(facts + chat)
    source_03, _ = definitions("03_transformer_block.py", CHAPTER_03)
    source_05, schedule = definitions("05_complete_model.py", CHAPTER_05)
    assert set(schedule) == set(SCHEDULE)
    namespace: dict[str, Any] = {
        "__name__": "learner",
        "np": np,
        "cl": cl,
        "EOS_ID": EOS_ID,
        "UNK_ID": UNK_ID,
        "encode_texts": encode_texts,
        "make_batches": make_batches,
        "vocab": vocab,
        "config": ModelConfig(vocab_size=len(vocab)),
        **schedule,
    }
    exec(compile(source_03 + "\n\n" + source_05, "<learner>", "exec"), namespace)
    namespace.update(facts=facts, chat=chat)
    return namespace


@pytest.fixture(scope="module")
def trained(learner: dict[str, Any]) -> dict[str, Any]:
    """The chapter's schedule twice: on the learner's parts, and with `cl.train`."""
    from threadpoolctl import threadpool_limits

    s, config = learner, learner["config"]
    library = cl.LLM(config, seed=0)
    optimizer = cl.Adam(library, lr=s["PRE_LR"])
    common = {"batch_size": s["BATCH"], "optimizer": optimizer, "progress": False}
    library_pre = cl.train(
        library, s["vocab"], s["facts"], epochs=s["PRE_EPOCHS"], lr=s["PRE_LR"], seed=0, **common
    )
    library_chat = cl.train(
        library, s["vocab"], s["chat"], epochs=s["CHAT_EPOCHS"], lr=s["CHAT_LR"], seed=1, **common
    )
    own = cl.LLM(config, seed=0)
    own_optimizer = cl.Adam(own, lr=s["PRE_LR"])
    train = s["train_on_your_code"]
    with threadpool_limits(limits=1, user_api="blas"):
        own_pre = train(own, own_optimizer, s["facts"], s["PRE_EPOCHS"], s["PRE_LR"], seed=0)
        own_chat = train(own, own_optimizer, s["chat"], s["CHAT_EPOCHS"], s["CHAT_LR"], seed=1)
    return {
        "library": library,
        "own": own,
        "library_losses": np.array(library_pre + library_chat),
        "own_losses": np.array(own_pre + own_chat),
    }


def test_every_part_is_the_learners_own(learner: dict[str, Any]) -> None:
    for name in CHAPTER_03 + CHAPTER_05:
        assert learner[name].__module__ == "learner", name
    forward_globals = learner["llm_forward"].__globals__
    assert forward_globals["block_forward"].__module__ == "learner"
    assert forward_globals["layer_norm"].__module__ == "learner"


@pytest.mark.slow
def test_training_on_the_learners_parts_reaches_the_library_losses(trained: dict) -> None:
    gap = np.abs(trained["own_losses"] - trained["library_losses"])
    print(f"largest per-epoch loss gap {gap.max():.2e}; final losses ", end="")
    print(f"{trained['own_losses'][-1]:.5f} (learner) vs {trained['library_losses'][-1]:.5f}")
    assert gap.max() < TOLERANCE
    assert trained["library_losses"][-1] < 0.5  # the schedule really trained the chat model


@pytest.mark.slow
def test_the_learners_forward_pass_gives_the_trained_models_logits(
    learner: dict, trained: dict
) -> None:
    model = trained["own"]
    ids = np.array([learner["vocab"].encode("User: What is rain? Assistant:")])
    mine = learner["llm_forward"](ids, model.state_dict(), model.config.to_dict())
    assert np.allclose(mine, model(ids), atol=1e-4)


@pytest.mark.slow
def test_the_learners_generation_loop_answers_like_the_library(
    learner: dict, trained: dict
) -> None:
    from threadpoolctl import threadpool_limits

    vocab, config = learner["vocab"], learner["config"]
    yours = learner["YourModel"](trained["own"])
    same = 0
    questions = [text.split("Assistant:")[0] + "Assistant:" for text in learner["chat"]]
    with threadpool_limits(limits=1, user_api="blas"):
        for question in questions:
            mine = learner["generate"](yours, vocab.encode(question), config.max_seq_len)
            same += vocab.decode(mine) == cl.generate(trained["library"], vocab, question)
    print(f"{same} of {len(questions)} answers the same")
    assert same >= len(questions) - 2  # a float32 tie may flip one argmax; no more
