"""The one configuration object both backends are built from."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, Literal


@dataclass(frozen=True)
class ModelConfig:
    """Sizes and options of the model; the defaults are the reference model's."""

    vocab_size: int
    d_model: int = 128
    d_hidden: int = 256
    n_layers: int = 3
    n_heads: int = 1
    max_seq_len: int = 80
    norm: Literal["post", "pre"] = "post"
    positional: Literal["learned", "sinusoidal"] = "learned"
    tie_weights: bool = False
    attn_out_proj: bool = False
    layer_norm_eps: float = 1e-5
    init_std: float = 0.02
    pad_id: int = 0

    def __post_init__(self) -> None:
        def need(ok: bool, message: str) -> None:
            if not ok:
                raise ValueError(f"ModelConfig: {message}")

        for name in ("vocab_size", "d_model", "d_hidden", "n_layers", "n_heads", "max_seq_len"):
            value = getattr(self, name)
            need(
                isinstance(value, int) and not isinstance(value, bool) and value > 0,
                f"{name} must be a positive int, got {value!r}",
            )
        need(
            self.d_model % self.n_heads == 0,
            f"d_model ({self.d_model}) must be divisible by n_heads ({self.n_heads})",
        )
        need(self.norm in ("post", "pre"), f"norm must be 'post' or 'pre', got {self.norm!r}")
        need(
            self.positional in ("learned", "sinusoidal"),
            f"positional must be 'learned' or 'sinusoidal', got {self.positional!r}",
        )
        need(
            0 <= self.pad_id < self.vocab_size,
            f"pad_id ({self.pad_id}) must be a token id below vocab_size ({self.vocab_size})",
        )
        need(self.layer_norm_eps > 0, "layer_norm_eps must be positive")

    @property
    def head_dim(self) -> int:
        """Width of one attention head."""
        return self.d_model // self.n_heads

    def to_dict(self) -> dict[str, Any]:
        """Plain dict, for JSON."""
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ModelConfig:
        """Inverse of `to_dict`; unknown keys are an error that names them."""
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(f"ModelConfig: unknown field(s) {unknown}; known: {sorted(known)}")
        return cls(**data)
