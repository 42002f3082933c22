"""2-D maps and the Embedding Projector export.

Oracles: points built on a known plane (PCA must keep their distances), scikit-learn's own rule
(perplexity < n_samples), and reading the written TSV files back.
"""

from __future__ import annotations

import importlib.util
import sys

import numpy as np
import pytest

from course_lib.widgets import projection
from course_lib.widgets.projection import (
    PCA2D,
    available_methods,
    capped_perplexity,
    pca_2d,
    project,
    tsne_2d,
)
from course_lib.widgets.projector_export import export_projector


def plane_points(n: int = 30, d: int = 7, seed: int = 0) -> np.ndarray:
    """n points on a random 2-D plane inside d dimensions, plus an offset."""
    rng = np.random.default_rng(seed)
    basis, _ = np.linalg.qr(rng.normal(size=(d, 2)))  # (d, 2), orthonormal columns
    return rng.normal(size=(n, 2)) * [3.0, 1.0] @ basis.T + rng.normal(size=d)


def pairwise(points: np.ndarray) -> np.ndarray:
    return np.linalg.norm(points[:, None] - points[None], axis=-1)


def test_pca_keeps_distances_of_points_on_a_plane() -> None:
    points = plane_points()
    np.testing.assert_allclose(pairwise(pca_2d(points)), pairwise(points), atol=1e-9)


def test_pca_first_axis_carries_the_most_variance_and_is_centred() -> None:
    coords = pca_2d(plane_points())
    np.testing.assert_allclose(coords.mean(axis=0), 0, atol=1e-9)
    assert coords[:, 0].var() > coords[:, 1].var()


def test_pca_signs_do_not_depend_on_row_order() -> None:
    points = plane_points()
    order = np.random.default_rng(1).permutation(len(points))
    np.testing.assert_allclose(pca_2d(points)[order], pca_2d(points[order]), atol=1e-9)


def test_pca_of_rank_one_data_has_a_zero_second_axis() -> None:
    line = np.outer(np.arange(5.0), [1.0, 2.0, 2.0])
    fit = PCA2D.fit(line)
    np.testing.assert_allclose(fit.components[0], np.array([1, 2, 2]) / 3, atol=1e-12)
    np.testing.assert_allclose(fit.transform(line)[:, 1], 0, atol=1e-12)


def test_one_dimensional_rows_still_map_to_two_columns() -> None:
    assert pca_2d(np.arange(4.0)[:, None]).shape == (4, 2)


@pytest.mark.parametrize(("asked", "n", "expected"), [(30, 100, 30), (30, 10, 3), (30, 4, 1)])
def test_perplexity_is_capped_below_the_sample_count(asked: float, n: int, expected: float) -> None:
    assert capped_perplexity(asked, n) == expected
    assert capped_perplexity(asked, n) < n


def test_tsne_runs_on_fewer_points_than_the_default_perplexity() -> None:
    # scikit-learn itself refuses perplexity 30 for 10 points; the cap makes it work.
    coords = tsne_2d(plane_points(10), perplexity=30)
    assert coords.shape == (10, 2) and np.all(np.isfinite(coords))


def test_tsne_keeps_two_far_clusters_apart() -> None:
    rng = np.random.default_rng(0)
    data = np.concatenate([rng.normal(size=(15, 5)), rng.normal(size=(15, 5)) + 20])
    coords = tsne_2d(data)
    within = max(pairwise(coords[:15]).max(), pairwise(coords[15:]).max())
    between = pairwise(coords)[:15, 15:].min()
    assert between > within


def test_umap_is_offered_only_when_installed(monkeypatch: pytest.MonkeyPatch) -> None:
    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name == "umap" else real(name, *a)
    )
    assert available_methods() == ["pca", "tsne"]
    with pytest.raises(ValueError, match="pip install umap-learn"):
        project(plane_points(), "umap")
    assert "umap" not in sys.modules


def test_unknown_method_names_the_choices() -> None:
    with pytest.raises(ValueError, match=r"unknown projection 'mds'.*'pca'"):
        project(plane_points(), "mds")
    with pytest.raises(ValueError, match="at least 4 rows"):
        projection.tsne_2d(plane_points(3))


def test_projector_files_read_back_as_the_matrix_and_labels(tmp_path) -> None:
    matrix = np.random.default_rng(0).normal(size=(4, 3))
    labels = ["the", "tab\there", "new\nline", ","]
    vectors, metadata = export_projector(tmp_path, matrix, labels)
    np.testing.assert_allclose(np.loadtxt(vectors, delimiter="\t"), matrix, rtol=1e-5)
    # One column: no header, one line per row, tabs and newlines inside labels made spaces.
    assert metadata.read_text().splitlines() == ["the", "tab here", "new line", ","]


def test_projector_metadata_with_columns_has_a_header(tmp_path) -> None:
    _, metadata = export_projector(tmp_path, np.eye(2), ["a", "b"], {"count": [3, 4]})
    assert metadata.read_text().splitlines() == ["label\tcount", "a\t3", "b\t4"]


@pytest.mark.parametrize(
    ("vectors", "labels", "words"),
    [
        (np.eye(3), ["a", "b"], "2 labels for 3 vectors"),
        (np.ones(3), ["a", "b", "c"], r"\(n, d\) matrix"),
        (np.array([[np.inf, 0.0], [0.0, 1.0]]), ["a", "b"], "NaN or infinity"),
    ],
)
def test_projector_export_rejects_bad_input(tmp_path, vectors, labels, words) -> None:
    with pytest.raises(ValueError, match=words):
        export_projector(tmp_path, vectors, labels)
