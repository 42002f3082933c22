"""The token table's gradient is a scatter-add, done on the table seen as one long row (NumPy's fast
path for `np.add.at`). Oracle: `np.add.at(table, ids, grad)` on the (vocab, d_model) table itself,
which adds every row in order; the two must agree bit for bit, whatever the ids' integer type and
whatever the gradient already holds (a tied output layer adds into the same table first).
"""

from __future__ import annotations

import numpy as np
import pytest

from course_lib import numpy as cl
from course_lib.config import ModelConfig

CONFIG = ModelConfig(vocab_size=200, d_model=16, max_seq_len=12)


def scatter_oracle(start: np.ndarray, ids: np.ndarray, grad: np.ndarray) -> np.ndarray:
    table = start.copy()
    np.add.at(table, ids.reshape(-1), grad.reshape(-1, grad.shape[-1]))
    return table


@pytest.mark.parametrize("dtype", [np.uint8, np.int16, np.int32, np.int64])
def test_repeated_ids_of_any_integer_type_collect_every_row_in_order(dtype: type) -> None:
    # ids up to 199 with d_model 16: id * 16 overflows uint8 and int16 unless widened first
    rng = np.random.default_rng(0)
    ids = np.array([[199, 3, 199, 150], [150, 150, 7, 199]], dtype=dtype)
    grad = rng.standard_normal((2, 4, 16)).astype(np.float32)
    layer = cl.Embeddings(CONFIG, seed=0)
    start = rng.standard_normal(layer.token.weight.shape).astype(np.float32)
    layer.token._grads["weight"][...] = start  # something there already, as with tied weights
    layer.forward(ids)
    layer.backward(grad)
    expected = scatter_oracle(start, ids.astype(np.int64), grad)
    np.testing.assert_array_equal(layer.gradients()["token.weight"], expected)
