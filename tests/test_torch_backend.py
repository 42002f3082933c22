"""The PyTorch backend on its own: names, keys, devices, dtypes, attention paths, errors.

Oracles: CONTRIBUTING.md's state_dict table (through `course_lib.checkpoint.expected_shapes`),
the NumPy backend's export list, and the explicit attention formula for the SDPA path.
"""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from course_lib import numpy as cn  # noqa: E402
from course_lib import torch as ct  # noqa: E402
from course_lib.checkpoint import expected_shapes  # noqa: E402
from course_lib.config import ModelConfig  # noqa: E402
from course_lib.torch.device import pick_device, resolve_device, resolve_dtype  # noqa: E402
from course_lib.vocab import Vocab  # noqa: E402

CONFIG = ModelConfig(vocab_size=15, d_model=8, d_hidden=12, n_layers=2, max_seq_len=9)


def test_both_backends_export_the_same_names() -> None:
    shared = {
        "Embeddings", "SelfAttention", "FeedForward", "LayerNorm", "TransformerBlock",
        "OutputProjection", "LLM", "Adam", "cross_entropy", "clip_grad_norm", "train",
        "generate", "save_checkpoint", "load_checkpoint",
    }  # fmt: skip
    assert shared <= set(ct.__all__)
    assert set(cn.__all__) <= set(ct.__all__)
    for name in ct.__all__:
        assert hasattr(ct, name), name


def test_state_dict_keys_and_shapes_are_the_documented_ones(model_options: dict) -> None:
    cfg = ModelConfig(**{**CONFIG.to_dict(), **model_options})
    state = ct.LLM(cfg).state_dict()
    assert {k: tuple(v.shape) for k, v in state.items()} == expected_shapes(cfg)


def test_reference_size_model_has_the_reference_parameter_count() -> None:
    model = ct.LLM(ModelConfig(vocab_size=533))
    assert model.num_parameters() == 493_973  # FACTS.md: the reference model's count


def test_tied_weights_share_the_token_table_and_collect_both_gradients() -> None:
    cfg = ModelConfig(**{**CONFIG.to_dict(), "tie_weights": True})
    model = ct.LLM(cfg, dtype=torch.float64)
    assert model.output.weight is model.embeddings.token.weight
    assert "output.weight" not in model.state_dict()
    ids = torch.tensor([[3, 4, 5]])
    model(ids).sum().backward()
    grad = model.embeddings.token.weight.grad
    # Rows of ids never looked up still get gradient through the output projection.
    assert torch.all(grad[6] != 0)


def test_sinusoidal_positions_are_a_buffer_outside_the_state_dict() -> None:
    cfg = ModelConfig(**{**CONFIG.to_dict(), "positional": "sinusoidal"})
    model = ct.LLM(cfg, dtype=torch.float64)
    assert not any("position" in k for k in model.state_dict())
    expected = cn.sinusoidal_positions(cfg.max_seq_len, cfg.d_model)
    np.testing.assert_array_equal(model.embeddings.sinusoids.numpy(), expected)


@pytest.mark.parametrize("n_heads", [1, 2])
def test_sdpa_path_gives_the_explicit_paths_output_and_weights(n_heads: int) -> None:
    cfg = ModelConfig(**{**CONFIG.to_dict(), "n_heads": n_heads})
    model = ct.LLM(cfg, dtype=torch.float64)
    ids = torch.tensor([[3, 4, 5, 6, 0, 0], [7, 8, 9, 10, 11, 12]])
    mask = ids != 0
    with torch.no_grad():
        explicit = model(ids, mask)
        explicit_weights = [w.clone() for w in model.attention_weights()]
        model.set_sdpa(True)
        fused = model(ids, mask)
        fused_weights = model.attention_weights()
    assert torch.max(torch.abs(fused - explicit)) < 1e-12
    for a, b in zip(fused_weights, explicit_weights, strict=True):
        assert a.shape == (2, n_heads, 6, 6) and torch.max(torch.abs(a - b)) < 1e-12


def test_attention_weights_are_causal_rows_that_sum_to_one() -> None:
    model = ct.LLM(CONFIG, dtype=torch.float64)
    ids = torch.tensor([[3, 4, 5, 0, 0]])
    with torch.no_grad():
        model(ids)  # the mask defaults to ids != pad_id
    weights = model.blocks[0].attention.weights[0, 0]  # (T, T)
    assert torch.allclose(weights.sum(-1), torch.ones(5, dtype=torch.float64))
    assert torch.all(torch.triu(weights, 1) == 0)
    padded_keys = weights[:, 3:] * (1 - torch.eye(5, dtype=torch.float64)[:, 3:])
    assert torch.all(padded_keys == 0)  # padding is seen by no other position
    assert weights[3, 3] > 0 and weights[4, 4] > 0  # a padded position sees itself


def test_weights_do_not_keep_the_autograd_graph() -> None:
    model = ct.LLM(CONFIG)
    model(torch.tensor([[3, 4, 5]])).sum().backward()
    assert not model.blocks[0].attention.weights.requires_grad


def test_float32_is_the_default_and_float64_is_available() -> None:
    assert ct.LLM(CONFIG).dtype == torch.float32
    assert ct.LLM(CONFIG, dtype=torch.float64).dtype == torch.float64
    assert ct.LLM(CONFIG, dtype="float64").dtype == torch.float64
    assert ct.LLM(CONFIG, dtype=np.float64).dtype == torch.float64


def test_a_bad_dtype_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match="unsupported dtype"):
        resolve_dtype("int32")


def test_pick_device_answers_cpu_without_a_gpu() -> None:
    has_gpu = torch.cuda.is_available() or torch.backends.mps.is_available()
    assert (pick_device().type == "cpu") == (not has_gpu)
    assert resolve_device("auto") == pick_device()
    assert resolve_device("cpu") == torch.device("cpu")


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has CUDA")
def test_asking_for_cuda_without_a_gpu_says_so() -> None:
    with pytest.raises(ValueError, match="no CUDA GPU"):
        ct.LLM(CONFIG, device="cuda")


def test_an_unknown_device_name_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match="unknown device 'gpu0'"):
        resolve_device("gpu0")


def test_every_layer_takes_device_and_dtype() -> None:
    where = dict(dtype=torch.float64, device="cpu")
    layers = [
        ct.Embeddings(CONFIG, **where),
        ct.SelfAttention(CONFIG, **where),
        ct.FeedForward(CONFIG, **where),
        ct.LayerNorm(8, **where),
        ct.TransformerBlock(CONFIG, **where),
        ct.OutputProjection(CONFIG, **where),
        ct.Linear(3, 4, **where),
    ]
    for layer in layers:
        for param in layer.parameters():
            assert param.dtype == torch.float64 and param.device.type == "cpu"


def test_autocast_is_a_no_op_off_cuda() -> None:
    model = ct.LLM(CONFIG)
    ids = torch.tensor([[3, 4, 5]])
    with torch.no_grad():
        plain = model(ids)
        with ct.autocast(torch.device("cpu"), enabled=True):
            cast = model(ids)
    assert cast.dtype == torch.float32 and torch.equal(plain, cast)


def test_a_too_long_sequence_and_bad_ids_are_clear_errors() -> None:
    model = ct.LLM(CONFIG)
    with pytest.raises(ValueError, match="longer than max_seq_len=9"):
        model(torch.ones(1, 10, dtype=torch.long))
    with pytest.raises(ValueError, match=r"token ids must be in \[0, 15\)"):
        model(torch.tensor([[3, 15]]))
    with pytest.raises(ValueError, match="integer token ids"):
        model(torch.zeros(1, 3))
    with pytest.raises(ValueError, match="mask"):
        model(torch.tensor([[3, 4]]), torch.tensor([[True, True, True]]))


def test_numpy_inputs_and_a_single_sequence_are_accepted() -> None:
    model = ct.LLM(CONFIG, dtype=torch.float64)
    with torch.no_grad():
        one = model(np.array([3, 4, 5]))
        batched = model(torch.tensor([[3, 4, 5]]))
    assert one.shape == (1, 3, 15) and torch.equal(one, batched)


def test_hidden_states_has_one_entry_per_layer_plus_the_embeddings() -> None:
    model = ct.LLM(CONFIG, dtype=torch.float64)
    with torch.no_grad():
        states = model.hidden_states(torch.tensor([[3, 4, 5, 6]]))
        logits = model(torch.tensor([[3, 4, 5, 6]]))
    assert len(states) == 3 and all(s.shape == (1, 4, 8) for s in states)
    assert torch.allclose(model.output(states[-1]), logits)  # post-norm: no final norm


def test_cross_entropy_rejects_all_padding_and_bad_shapes() -> None:
    with pytest.raises(ValueError, match="every target is padding"):
        ct.cross_entropy(torch.zeros(1, 2, 5), torch.zeros(1, 2, dtype=torch.long))
    with pytest.raises(ValueError, match="need targets of shape"):
        ct.cross_entropy(torch.zeros(1, 2, 5), torch.zeros(2, dtype=torch.long))


def test_training_on_a_tiny_corpus_lowers_the_loss_and_repeats_with_the_seed() -> None:
    texts = ["the sea is blue </s>", "fish swim in the sea </s>", "the sky is grey </s>"]
    vocab = Vocab.build(texts)
    cfg = ModelConfig(vocab_size=len(vocab), d_model=16, d_hidden=32, n_layers=1, max_seq_len=8)
    runs = []
    for _ in range(2):
        model = ct.LLM(cfg, seed=0)
        runs.append(ct.train(model, vocab, texts, epochs=30, lr=1e-2, batch_size=2, progress=False))
    assert runs[0] == runs[1]
    assert runs[0][-1] < 0.5 * runs[0][0]
    answer = ct.generate(model, vocab, "fish swim")
    assert answer == "in the sea"


def test_generate_errors_match_the_numpy_backend() -> None:
    vocab = Vocab.build(["the sea is blue </s>"])
    cfg = ModelConfig(vocab_size=len(vocab), d_model=8, d_hidden=8, n_layers=1, max_seq_len=4)
    model = ct.LLM(cfg)
    with pytest.raises(ValueError, match="not in the vocabulary"):
        ct.generate(model, vocab, "the moon")
    with pytest.raises(ValueError, match="leaves no room"):
        ct.generate(model, vocab, "the sea is blue")
    with pytest.raises(ValueError, match="temperature"):
        ct.generate(model, vocab, "the", temperature=-1.0)
