"""The PyTorch backend on a CUDA GPU: the same logits as on the CPU, bfloat16 autocast, SDPA.

Skipped where torch sees no CUDA device (the course's CI machines have none); on a GPU machine
they run as they are. Oracle: the same model on the CPU in float64.
"""

from __future__ import annotations

from pathlib import Path

import pytest

torch = pytest.importorskip("torch")

from course_lib import torch as ct  # noqa: E402
from course_lib.config import ModelConfig  # noqa: E402
from course_lib.vocab import Vocab  # noqa: E402

pytestmark = [
    pytest.mark.cuda,
    pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU; none here"),
]

CONFIG = ModelConfig(vocab_size=15, d_model=16, d_hidden=32, n_layers=2, n_heads=2, max_seq_len=9)
IDS = [[3, 4, 5, 6, 0, 0], [7, 8, 9, 10, 11, 12]]


def test_pick_device_prefers_cuda() -> None:
    assert ct.pick_device().type == "cuda"


@pytest.mark.parametrize("use_sdpa", [False, True], ids=["explicit", "sdpa"])
def test_cuda_logits_match_the_cpu_in_float64(use_sdpa: bool) -> None:
    cpu = ct.LLM(CONFIG, seed=1, dtype=torch.float64, device="cpu")
    gpu = ct.LLM(CONFIG, seed=1, dtype=torch.float64, device="cuda", use_sdpa=use_sdpa)
    ids = torch.tensor(IDS)
    with torch.no_grad():
        expected = cpu(ids)
        got = gpu(ids.cuda()).cpu()
    assert torch.max(torch.abs(got - expected)) < 1e-10


def test_bfloat16_autocast_training_runs_and_lowers_the_loss() -> None:
    texts = ["the sea is blue </s>", "fish swim in the sea </s>", "the sky is grey </s>"]
    vocab = Vocab.build(texts)
    cfg = ModelConfig(vocab_size=len(vocab), d_model=16, d_hidden=32, n_layers=1, max_seq_len=8)
    model = ct.LLM(cfg, seed=0, device="cuda")
    losses = ct.train(
        model, vocab, texts, epochs=30, lr=1e-2, batch_size=3, progress=False, autocast=True
    )
    assert losses[-1] < 0.5 * losses[0]
    assert model.dtype == torch.float32  # autocast computes in bfloat16, keeps float32 weights


def test_a_cuda_checkpoint_loads_on_the_cpu(tmp_path: Path) -> None:
    from course_lib import checkpoint

    vocab = Vocab.build(["a b c d e f g h i j k l </s>"])
    model = ct.LLM(CONFIG, seed=2, dtype=torch.float64, device="cuda")
    path = checkpoint.save(tmp_path / "gpu.npz", model, vocab)
    loaded, _ = ct.load_checkpoint(path, device="cpu")
    with torch.no_grad():
        assert torch.allclose(loaded(torch.tensor(IDS)), model(torch.tensor(IDS).cuda()).cpu())
