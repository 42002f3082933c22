"""Export to the TensorFlow Embedding Projector (projector.tensorflow.org): two TSV files.

`vectors.tsv` holds one row per item, values separated by tabs, no header. `metadata.tsv` holds the
labels in the same order: a single column without header, or several columns with a header row.
Load both with the Projector's "Load" button.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np


def _cell(value: object) -> str:
    # A tab or newline inside a label would shift every later column or row.
    text = str(value).replace("\t", " ").replace("\r", " ").replace("\n", " ")
    return text if text.strip() else repr(str(value))


def export_projector(
    directory: str | Path,
    vectors: np.ndarray,
    labels: Sequence[str],
    extra_columns: Mapping[str, Sequence[object]] | None = None,
) -> tuple[Path, Path]:
    """Write `vectors.tsv` and `metadata.tsv` into `directory`; return their paths.

    `vectors` is (n, d), `labels` has n entries; `extra_columns` (name -> n values, e.g. counts)
    become more metadata columns, which makes the Projector expect a header row.
    """
    vectors = np.asarray(vectors, dtype=np.float64)
    if vectors.ndim != 2:
        raise ValueError(f"vectors must be an (n, d) matrix, got shape {vectors.shape}")
    labels = [str(label) for label in labels]
    if len(labels) != len(vectors):
        raise ValueError(f"{len(labels)} labels for {len(vectors)} vectors: give one label per row")
    columns = dict(extra_columns or {})
    for name, values in columns.items():
        if len(values) != len(vectors):
            raise ValueError(f"column {name!r} has {len(values)} values for {len(vectors)} rows")
    if not np.all(np.isfinite(vectors)):
        raise ValueError("vectors contain NaN or infinity; the Projector cannot read them")

    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    vectors_path = directory / "vectors.tsv"
    metadata_path = directory / "metadata.tsv"

    with vectors_path.open("w", encoding="utf-8", newline="\n") as out:
        for row in vectors:
            out.write("\t".join(f"{value:.6g}" for value in row) + "\n")

    with metadata_path.open("w", encoding="utf-8", newline="\n") as out:
        if columns:
            out.write("\t".join(["label", *map(_cell, columns)]) + "\n")
        for i, label in enumerate(labels):
            out.write("\t".join([_cell(label), *(_cell(v[i]) for v in columns.values())]) + "\n")
    return vectors_path, metadata_path
