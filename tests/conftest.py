"""What many test modules share: the ModelConfig options every backend test runs through."""

from __future__ import annotations

from typing import Any

import pytest

# One entry per architectural option of ModelConfig, plus all of them at once. Test modules take
# the `model_options` fixture (or MODEL_OPTIONS) instead of keeping their own copy of the list.
MODEL_OPTIONS: dict[str, dict[str, Any]] = {
    "reference": {},
    "two_heads": {"n_heads": 2},
    "pre_norm": {"norm": "pre"},
    "sinusoidal": {"positional": "sinusoidal"},
    "tied": {"tie_weights": True},
    "out_proj": {"attn_out_proj": True, "n_heads": 2},
    "everything": {
        "n_heads": 4,
        "norm": "pre",
        "positional": "sinusoidal",
        "tie_weights": True,
        "attn_out_proj": True,
    },
}


@pytest.fixture(params=list(MODEL_OPTIONS.values()), ids=list(MODEL_OPTIONS))
def model_options(request: pytest.FixtureRequest) -> dict[str, Any]:
    """Each entry of MODEL_OPTIONS in turn."""
    return dict(request.param)
