"""`Embeddings`: token embedding plus a positional embedding (learned table or fixed sinusoids).

The sinusoidal table (not trained, not in the state_dict) comes from `course_lib.positions`, which
the torch backend shares; this backend exports it as its `sinusoidal_positions`.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from course_lib.config import ModelConfig
from course_lib.inputs import check_token_ids
from course_lib.numpy.module import Module, as_rng, gradient_into
from course_lib.positions import sinusoidal_positions

__all__ = ["Embeddings", "sinusoidal_positions"]


class _Table(Module):
    """A lookup table with one `weight` (n, d); the child that gives the `.weight` key names."""

    def __init__(self, n: int, d: int, std: float, rng: np.random.Generator, dtype: Any) -> None:
        super().__init__(dtype)
        self.weight = self.add_parameter("weight", rng.normal(0.0, std, size=(n, d)))


class Embeddings(Module):
    """ids (batch, time) -> token vectors + position vectors (batch, time, d_model)."""

    def __init__(
        self,
        config: ModelConfig,
        seed: int | np.random.Generator | None = 0,
        dtype: Any = np.float32,
    ) -> None:
        super().__init__(dtype)
        rng = as_rng(seed)
        self.config = config
        self.token = self.add_module(
            "token", _Table(config.vocab_size, config.d_model, config.init_std, rng, dtype)
        )
        if config.positional == "learned":
            self.position: _Table | None = self.add_module(
                "position", _Table(config.max_seq_len, config.d_model, config.init_std, rng, dtype)
            )
            self.sinusoids = None
        else:
            self.position = None
            self.sinusoids = sinusoidal_positions(config.max_seq_len, config.d_model).astype(dtype)
        self._ids: np.ndarray | None = None

    def positions(self, t: int) -> np.ndarray:
        """The (t, d_model) position vectors of the first t positions."""
        table = self.position.weight if self.position is not None else self.sinusoids
        return table[:t]

    def forward(self, ids: np.ndarray, positions: np.ndarray | None = None) -> np.ndarray:
        """(batch, time) int ids -> (batch, time, d_model). `positions` (batch, time) places the
        tokens (generation with a cache); by default they sit at 0 .. time - 1."""
        ids = np.asarray(ids)
        check_token_ids(ids.shape, self.config, lambda: (int(ids.min()), int(ids.max())))
        t = ids.shape[1]
        self._ids = ids
        if positions is not None:
            table = self.position.weight if self.position is not None else self.sinusoids
            return self.token.weight[ids] + table[positions]  # (B, T, D) + (B, T, D)
        return self.token.weight[ids] + self.positions(t)  # (B, T, D) + (T, D)

    def backward(
        self, grad: np.ndarray, accumulate: bool = True, token_accumulate: bool | None = None
    ) -> None:
        """Scatter-add `grad` (batch, time, d_model) into the tables; ids have no gradient.

        `accumulate=False` writes the gradients instead (rows no id or position used become 0);
        `token_accumulate` overrides it for the token table (True when a tied output layer has
        just written that table's gradient, which the rows are then added to)."""
        if self._ids is None:
            raise RuntimeError("Embeddings.backward called before forward")
        d = grad.shape[-1]
        table = self.token._grads["weight"]  # (vocab, D)
        if not (accumulate if token_accumulate is None else token_accumulate):
            table.fill(0)
        # A repeated id must collect every one of its rows: np.add.at, not table[ids] += grad.
        if table.flags.c_contiguous:
            # The table as one long row, and the index of every number in it (row id, column j:
            # id * d + j): the form NumPy's add.at has a fast loop for, several times faster than
            # np.add.at(table, ids, grad) with the same sums in the same order.
            ids = self._ids.reshape(-1, 1).astype(np.intp, copy=False)
            where = ids * d + np.arange(d)  # (B*T, D)
            np.add.at(table.reshape(-1), where.reshape(-1), grad.reshape(-1))
        else:
            np.add.at(table, self._ids.reshape(-1), grad.reshape(-1, d))
        if self.position is not None:
            positions = self.position._grads["weight"]  # (max_seq_len, D)
            t = grad.shape[1]
            gradient_into(positions[:t], accumulate, np.add.reduce, grad, axis=0)  # grad.sum(0)
            if not accumulate:
                positions[t:] = 0
        return None
