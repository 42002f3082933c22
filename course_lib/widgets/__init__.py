"""ipywidgets instruments to look inside the model while learning.

- `EmbeddingInspector`: rows of an embedding table (or any matrix with labels), neighbours, maps.
- `AttentionViewer`: attention weights of a prompt, per layer and head, as a heatmap.
- `TrainingMonitor`: progress bar and live loss plot; pass it to `train(..., callback=monitor)`.
- `ChatBox`: prompt in, answer out, with temperature and top-k.
- `TokenViewer`: a text's tokens as coloured spans with their ids, under each vocabulary.

Each also draws a static matplotlib figure (`.static(...)`) for notebooks read without a kernel.
The names are imported on first use, so `import course_lib.widgets` stays light.
"""

from __future__ import annotations

import importlib
from typing import Any

_WHERE = {
    "EmbeddingInspector": "embedding_inspector",
    "AttentionViewer": "attention_viewer",
    "TrainingMonitor": "training_monitor",
    "ChatBox": "chat_box",
    "TokenViewer": "token_viewer",
    "export_projector": "projector_export",
    "project": "projection",
    "pca_2d": "projection",
    "tsne_2d": "projection",
    "umap_2d": "projection",
    "available_methods": "projection",
}

__all__ = sorted(_WHERE)


def __getattr__(name: str) -> Any:
    if name in _WHERE:
        module = importlib.import_module(f"course_lib.widgets.{_WHERE[name]}")
        return getattr(module, name)
    raise AttributeError(f"module 'course_lib.widgets' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted([*globals(), *_WHERE])
