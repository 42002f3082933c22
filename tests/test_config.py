"""ModelConfig: its defaults are the reference model, its options combine, and a bad value is
refused with a message that names it.

Oracle: the reference model's figures in the design (d_model 128, hidden 256, 3 blocks, 80
positions, one head, post-norm, learned positions, untied) and the limits the class declares.
"""

from __future__ import annotations

import pytest

from course_lib.config import ModelConfig


def test_defaults_are_the_reference_model() -> None:
    cfg = ModelConfig(vocab_size=533)
    assert (cfg.d_model, cfg.d_hidden, cfg.n_layers, cfg.max_seq_len) == (128, 256, 3, 80)
    assert (cfg.n_heads, cfg.norm, cfg.positional) == (1, "post", "learned")
    assert (cfg.tie_weights, cfg.attn_out_proj, cfg.layer_norm_eps) == (False, False, 1e-5)


def test_every_option_of_the_shared_matrix_builds_a_config(model_options: dict) -> None:
    cfg = ModelConfig(vocab_size=20, d_model=8, **model_options)
    assert cfg.head_dim * cfg.n_heads == cfg.d_model


def test_to_dict_and_from_dict_round_trip(model_options: dict) -> None:
    cfg = ModelConfig(vocab_size=20, d_model=8, **model_options)
    assert ModelConfig.from_dict(cfg.to_dict()) == cfg


def test_an_unknown_field_is_named() -> None:
    with pytest.raises(ValueError, match=r"unknown field\(s\) \['heads'\]"):
        ModelConfig.from_dict({"vocab_size": 5, "heads": 2})


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"d_model": 10, "n_heads": 3}, "divisible by n_heads"),
        ({"norm": "middle"}, "norm must be 'post' or 'pre'"),
        ({"positional": "rotary"}, "positional must be 'learned' or 'sinusoidal'"),
        ({"n_layers": 0}, "n_layers must be a positive int"),
        ({"d_model": 8.0}, "d_model must be a positive int"),
        ({"max_seq_len": 10_000}, "the largest this library builds"),
        ({"n_layers": 96, "max_seq_len": 4096}, "attention-mask entries"),
        ({"pad_id": 20}, "must be a token id below vocab_size"),
        ({"tie_weights": 1}, "tie_weights must be True or False"),
        ({"init_std": float("nan")}, "init_std must be a finite number"),
        ({"init_std": -1.0}, "cannot be negative"),
        ({"layer_norm_eps": 0.0}, "layer_norm_eps must be positive"),
    ],
    ids=lambda value: str(value)[:30],
)
def test_a_bad_value_is_refused_with_its_name(options: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        ModelConfig(vocab_size=20, **options)
