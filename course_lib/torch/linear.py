"""`Linear`: y = x W^T + b, the weight stored (out, in): `torch.nn.Linear` itself, built like the
NumPy twin (`numpy/linear.py`), whose code draws the initial weights."""

from __future__ import annotations

from typing import Any

import numpy as np
from torch import nn

from course_lib.numpy import linear as numpy_linear
from course_lib.torch.module import copy_numpy_weights, placement

__all__ = ["Linear"]


class Linear(nn.Linear):
    """y = x @ weight.T + bias on (..., d_in) -> (..., d_out); weights drawn from N(0, std^2)."""

    def __init__(
        self,
        d_in: int,
        d_out: int,
        *,
        bias: bool = True,
        std: float | None = None,
        seed: int | np.random.Generator | None = 0,
        dtype: Any = None,
        device: Any = None,
    ) -> None:
        super().__init__(d_in, d_out, bias=bias, **placement(dtype, device))
        twin = numpy_linear.Linear(d_in, d_out, bias=bias, std=std, seed=seed, dtype=np.float64)
        copy_numpy_weights(self, twin)
