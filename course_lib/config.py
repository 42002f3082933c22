"""The one configuration object both backends are built from.

Every field is checked when a config is made, with bounds on what a config may ask for: a
checkpoint file of a few kilobytes must not be able to make a model that needs gigabytes (the
causal mask alone is max_seq_len x max_seq_len per layer, built when the model is).
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Any, ClassVar, Literal


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

    # The largest sizes a config may ask for. Far above the course's models (vocab 533,
    # d_model 128, max_seq_len 80) and small enough that nothing a config implies - a weight
    # matrix, a (max_seq_len, max_seq_len) mask per layer - outgrows a laptop's memory.
    LIMITS: ClassVar[dict[str, int]] = {
        "vocab_size": 1_000_000,
        "d_model": 8192,
        "d_hidden": 32768,
        "n_layers": 96,
        "n_heads": 256,
        "max_seq_len": 4096,
    }
    MAX_MASK_ENTRIES: ClassVar[int] = 2**27  # n_layers * max_seq_len**2 causal-mask entries

    def __post_init__(self) -> None:
        def need(ok: bool, message: str) -> None:
            if not ok:
                raise ValueError(f"ModelConfig: {message}")

        for name, limit in self.LIMITS.items():
            value = getattr(self, name)
            need(
                isinstance(value, int) and not isinstance(value, bool) and value > 0,
                f"{name} must be a positive int, got {value!r}",
            )
            need(value <= limit, f"{name} is {value:,}; the largest this library builds: {limit:,}")
        need(
            self.n_layers * self.max_seq_len**2 <= self.MAX_MASK_ENTRIES,
            f"n_layers * max_seq_len**2 is {self.n_layers * self.max_seq_len**2:,} attention-mask "
            f"entries, more than {self.MAX_MASK_ENTRIES:,}: use fewer layers or a shorter "
            f"max_seq_len",
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
            isinstance(self.pad_id, int) and not isinstance(self.pad_id, bool),
            f"pad_id must be an int, got {self.pad_id!r}",
        )
        need(
            0 <= self.pad_id < self.vocab_size,
            f"pad_id ({self.pad_id}) must be a token id below vocab_size ({self.vocab_size})",
        )
        for name in ("tie_weights", "attn_out_proj"):
            need(
                isinstance(getattr(self, name), bool),
                f"{name} must be True or False, got {getattr(self, name)!r}",
            )
        for name in ("layer_norm_eps", "init_std"):
            value = getattr(self, name)
            need(
                isinstance(value, (int, float))
                and not isinstance(value, bool)
                and math.isfinite(value),
                f"{name} must be a finite number, got {value!r}",
            )
        need(self.layer_norm_eps > 0, f"layer_norm_eps must be positive, got {self.layer_norm_eps}")
        need(
            self.init_std >= 0,
            f"init_std is the spread of the initial weights and cannot be negative, got "
            f"{self.init_std}",
        )

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
