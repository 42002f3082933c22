"""2-D maps of embedding rows: PCA (NumPy SVD), t-SNE (scikit-learn), UMAP (only if installed)."""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass

import numpy as np

METHOD_NAMES = {"pca": "PCA", "tsne": "t-SNE", "umap": "UMAP"}


def available_methods() -> list[str]:
    """Projection methods usable here: PCA and t-SNE always, UMAP if umap-learn is installed."""
    methods = ["pca", "tsne"]
    if importlib.util.find_spec("umap") is not None:
        methods.append("umap")
    return methods


@dataclass(frozen=True)
class PCA2D:
    """The two leading principal axes of some data: `transform` maps any rows onto them."""

    mean: np.ndarray  # (d,)
    components: np.ndarray  # (2, d), orthonormal rows (zero rows when the data has rank < 2)

    @classmethod
    def fit(cls, data: np.ndarray) -> PCA2D:
        """Fit on `data` (n, d)."""
        data = _as_matrix(data)
        mean = data.mean(axis=0)  # (d,)
        _, _, vt = np.linalg.svd(data - mean, full_matrices=False)  # vt: (min(n, d), d)
        components = np.zeros((2, data.shape[1]))
        components[: min(2, len(vt))] = vt[:2]
        # SVD fixes each axis only up to sign: make the largest entry positive so maps are stable.
        for row in components:
            if np.any(row):
                row *= np.sign(row[np.argmax(np.abs(row))])
        return cls(mean=mean, components=components)

    def transform(self, data: np.ndarray) -> np.ndarray:
        """Coordinates (n, 2) of the rows of `data` (n, d)."""
        return (_as_matrix(data) - self.mean) @ self.components.T


def pca_2d(data: np.ndarray) -> np.ndarray:
    """The rows of `data` (n, d) on their two leading principal axes: (n, 2)."""
    return PCA2D.fit(data).transform(data)


def capped_perplexity(perplexity: float, n_samples: int) -> float:
    """`perplexity` lowered so t-SNE accepts it: at most (n - 1) / 3, and always below n."""
    return float(max(1.0, min(perplexity, (n_samples - 1) / 3.0)))


def tsne_2d(
    data: np.ndarray, perplexity: float = 30.0, seed: int = 0, max_iter: int = 500
) -> np.ndarray:
    """t-SNE map (n, 2) of the rows of `data` (n, d), with the perplexity capped to fit n."""
    data = _as_matrix(data)
    n = len(data)
    if n < 4:
        raise ValueError(f"t-SNE needs at least 4 rows, got {n}; use PCA for so few points")
    from sklearn.manifold import TSNE

    tsne = TSNE(
        n_components=2,
        perplexity=capped_perplexity(perplexity, n),
        init="pca",
        learning_rate="auto",
        max_iter=max_iter,
        random_state=seed,
    )
    return tsne.fit_transform(data)


def umap_2d(data: np.ndarray, n_neighbors: int = 15, seed: int = 0) -> np.ndarray:
    """UMAP map (n, 2) of the rows of `data` (n, d); needs `pip install umap-learn`."""
    data = _as_matrix(data)
    n = len(data)
    if importlib.util.find_spec("umap") is None:
        raise ValueError("UMAP needs the umap-learn package: pip install umap-learn (or use PCA)")
    if n < 4:
        raise ValueError(f"UMAP needs at least 4 rows, got {n}; use PCA for so few points")
    import umap  # first import compiles with numba and can take half a minute

    reducer = umap.UMAP(n_components=2, n_neighbors=min(n_neighbors, n - 1), random_state=seed)
    return np.asarray(reducer.fit_transform(data), dtype=np.float64)


def project(data: np.ndarray, method: str = "pca", seed: int = 0) -> np.ndarray:
    """Map the rows of `data` (n, d) to 2-D (n, 2) with `method`: "pca", "tsne" or "umap"."""
    if method == "pca":
        return pca_2d(data)
    if method == "tsne":
        return tsne_2d(data, seed=seed)
    if method == "umap":
        return umap_2d(data, seed=seed)
    raise ValueError(f"unknown projection {method!r}; choose one of {available_methods()}")


def _as_matrix(data: np.ndarray) -> np.ndarray:
    data = np.asarray(data, dtype=np.float64)
    if data.ndim != 2 or len(data) == 0:
        raise ValueError(f"expected a non-empty (n, d) matrix, got shape {data.shape}")
    return data
