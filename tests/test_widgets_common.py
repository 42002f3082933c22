"""What every widget shares: arrays from either backend in any dtype, messages a user can act on.

Oracles: the float32 copy of the same tensor; the vocabulary's own error for an unknown word.
"""

from __future__ import annotations

import numpy as np
import pytest

from course_lib.backends import to_numpy
from course_lib.vocab import Vocab
from course_lib.widgets._common import widget_message

torch = pytest.importorskip("torch")


@pytest.mark.parametrize("dtype", ["bfloat16", "float16", "float32", "float64"])
def test_to_numpy_widens_every_torch_float_dtype(dtype: str) -> None:
    tensor = torch.tensor([[0.5, -1.25], [3.0, 2.0]], dtype=getattr(torch, dtype))
    array = to_numpy(tensor)
    assert array.dtype == np.float64
    np.testing.assert_array_equal(array, tensor.float().numpy())  # exact: widening loses nothing


def test_to_numpy_keeps_integer_tensors_exact() -> None:
    np.testing.assert_array_equal(to_numpy(torch.arange(5)), np.arange(5.0))


def test_embedding_inspector_shows_a_bfloat16_torch_model() -> None:
    from course_lib import ModelConfig
    from course_lib import torch as tcl
    from course_lib.widgets import EmbeddingInspector

    vocab = Vocab.build(["the cat sat on the mat", "a dog ran"])
    config = ModelConfig(vocab_size=len(vocab), d_model=8, d_hidden=16, n_layers=1, max_seq_len=8)
    model = tcl.LLM(config).to(torch.bfloat16)
    inspector = EmbeddingInspector.from_model(model, vocab, token="cat")
    expected = model.state_dict()["embeddings.token.weight"].float().numpy()
    np.testing.assert_array_equal(inspector.matrix, expected)


def test_unknown_word_message_names_the_word_and_the_near_spelling() -> None:
    vocab = Vocab.build(["the cat sat"])
    with pytest.raises(ValueError) as info:
        vocab.encode("the cta")
    message = widget_message(info.value)
    assert message.startswith("'cta' is not in the vocabulary")
    assert "Did you mean 'cat'?" in message
    assert "unknown=" not in message and "encode(" not in message


def test_other_errors_keep_their_own_message() -> None:
    assert widget_message(ValueError("the prompt is empty")) == "the prompt is empty"
