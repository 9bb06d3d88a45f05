"""How typical of its cluster a digit is, and whether it is a digit at all: fitted and scored.

Both are judged in the principal subspace of the deskewed training digits, not in the
network's softmax output, which is near one-hot and as confident about stars and smileys as
about digits. The distance to the subspace says "unlike any MNIST digit" whatever cluster the
network picks; the coordinates say how typical an image is of its cluster.

Numpy only: serving imports this module. The subspace itself is fitted in training.
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace
from typing import Any

import numpy as np

__all__ = [
    "DISTANCE_PERCENTILES",
    "OUTLIER_PERCENTILE",
    "SCALE_PERCENTILE",
    "Typicality",
    "outlier_score",
    "pca_project",
]

# The percentiles of each cluster's training distances that are kept: 0, 1, ..., 100.
DISTANCE_PERCENTILES = np.linspace(0.0, 100.0, 101)
# The same points as shares of the cluster: a distance's typicality is read off them.
_SHARES = np.linspace(0.0, 1.0, DISTANCE_PERCENTILES.size)
# The training percentile each of the outlier score's two distances is scaled by: its far tail.
SCALE_PERCENTILE = 99.9
# The training digits' percentile of the outlier score beyond which an image is no digit:
# 0.5% of MNIST's training digits are flagged; letters, crosses and hash signs score above it.
OUTLIER_PERCENTILE = 99.5
# The fields that are numbers, kept in the model file as one-element float32 arrays.
_SCALAR_FIELDS = ("residual_scale", "outlier_limit")


def pca_project(
    X: np.ndarray, mean: np.ndarray, components: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Coordinates in the training digits' principal subspace, and the distance to it.

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features)
    mean : ndarray of shape (n_features,)
    components : ndarray of shape (n_components, n_features), orthonormal rows

    Returns
    -------
    coordinates : ndarray of shape (n_samples, n_components), float32
    residual : ndarray of shape (n_samples,), float32
    """
    centred = np.asarray(X, dtype=np.float32) - mean
    coordinates = centred @ components.T
    residual_sq = (centred * centred).sum(axis=1) - (coordinates * coordinates).sum(axis=1)
    return coordinates.astype(np.float32), np.sqrt(np.maximum(residual_sq, 0.0)).astype(np.float32)


def outlier_score(
    spread: np.ndarray, residual: np.ndarray, spread_scale: np.ndarray, residual_scale: float
) -> np.ndarray:
    """How unlike a training digit an image is: about 1 at the training data's far tail.

    Two distances, each scaled by its `SCALE_PERCENTILE` training percentile: to the
    cluster's mean within the principal subspace, and to that subspace. Together they are
    the distance to the cluster's mean digit, with both parts weighed by how much they vary
    in MNIST.
    """
    return (spread / spread_scale) ** 2 + (residual / residual_scale) ** 2


def _pool(clusters: np.ndarray, cluster: int) -> np.ndarray:
    """The cluster's members; everyone for a cluster with none (tiny data only)."""
    members = np.flatnonzero(clusters == cluster)
    return members if members.size else np.arange(len(clusters))


@dataclass(frozen=True, eq=False)
class Typicality:
    """The statistics of each cluster's training digits in their principal subspace.

    The fields are stored in the model file under their own names, in this order: arrays
    as they are, floats as one-element float32 arrays.

    Attributes
    ----------
    distance_quantiles : ndarray of shape (k, 101), float32
        Percentiles 0..100 of the cluster's training digits' distances to its mean in the
        principal subspace.
    spread_scale : ndarray of shape (k,), float32
        The `SCALE_PERCENTILE` percentile of those distances.
    cluster_means : ndarray of shape (k, n_components), float32
        Each cluster's mean in the principal subspace.
    pca_mean : ndarray of shape (784,), float32
    pca_components : ndarray of shape (n_components, 784), float32
        The principal subspace of the deskewed training digits.
    residual_scale : float
        The `SCALE_PERCENTILE` percentile of the training digits' distances to the subspace.
    outlier_limit : float
        Outlier score beyond which an image is not taken for a digit.
    """

    distance_quantiles: np.ndarray
    spread_scale: np.ndarray
    cluster_means: np.ndarray
    pca_mean: np.ndarray
    pca_components: np.ndarray
    residual_scale: float
    outlier_limit: float

    @classmethod
    def fit(
        cls,
        deskewed: np.ndarray,
        clusters: np.ndarray,
        k: int,
        *,
        pca_mean: np.ndarray,
        pca_components: np.ndarray,
    ) -> Typicality:
        """The statistics of the training digits in the principal subspace fitted to them.

        Parameters
        ----------
        deskewed : ndarray of shape (n_samples, 784), float32 in [0, 1]
            The deskewed training digits.
        clusters : ndarray of shape (n_samples,), int
            Each digit's cluster, 0 to k - 1.
        k : int
        pca_mean : ndarray of shape (784,)
        pca_components : ndarray of shape (n_components, 784), orthonormal rows
        """
        coordinates, residual = pca_project(deskewed, pca_mean, pca_components)
        means = np.zeros((k, coordinates.shape[1]), dtype=np.float32)
        quantiles = np.zeros((k, DISTANCE_PERCENTILES.size), dtype=np.float32)
        scale = np.zeros(k, dtype=np.float32)
        for c in range(k):
            pool = _pool(clusters, c)
            means[c] = coordinates[pool].mean(axis=0)
            spread = np.linalg.norm(coordinates[pool] - means[c], axis=1)
            quantiles[c] = np.percentile(spread, DISTANCE_PERCENTILES)
            scale[c] = np.percentile(spread, SCALE_PERCENTILE)
        spreads = np.linalg.norm(coordinates - means[clusters], axis=1)
        residual_scale = float(np.percentile(residual, SCALE_PERCENTILE))
        scores = outlier_score(spreads, residual, scale[clusters], residual_scale)
        return cls(
            distance_quantiles=quantiles,
            spread_scale=scale,
            cluster_means=means,
            pca_mean=np.asarray(pca_mean, dtype=np.float32),
            pca_components=np.asarray(pca_components, dtype=np.float32),
            residual_scale=residual_scale,
            outlier_limit=float(np.percentile(scores, OUTLIER_PERCENTILE)),
        )

    def score(self, deskewed: np.ndarray, clusters: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Each digit's typicality in its cluster, and whether it is unlike every digit.

        Parameters
        ----------
        deskewed : ndarray of shape (n_samples, 784), float32 in [0, 1]
        clusters : ndarray of shape (n_samples,), int

        Returns
        -------
        typicality : ndarray of shape (n_samples,), float64 in [0, 1]
            Share of the cluster's training digits lying farther from its mean.
        is_outlier : ndarray of shape (n_samples,), bool
            The outlier score exceeds `outlier_limit`.
        """
        coordinates, residual = pca_project(deskewed, self.pca_mean, self.pca_components)
        spread = np.linalg.norm(coordinates - self.cluster_means[clusters], axis=1)
        typicality = np.empty(len(clusters))
        for c in np.unique(clusters):
            mask = clusters == c
            typicality[mask] = 1.0 - np.interp(spread[mask], self.distance_quantiles[c], _SHARES)
        score = outlier_score(spread, residual, self.spread_scale[clusters], self.residual_scale)
        return typicality, score > self.outlier_limit

    def most_typical(self, deskewed: np.ndarray, clusters: np.ndarray, n: int) -> list[np.ndarray]:
        """The indices of each cluster's `n` most typical digits, most typical first (of
        every digit for a cluster with none)."""
        coordinates, _ = pca_project(deskewed, self.pca_mean, self.pca_components)
        ranked = []
        for c, mean in enumerate(self.cluster_means):
            pool = _pool(clusters, c)
            spread = np.linalg.norm(coordinates[pool] - mean, axis=1)
            ranked.append(pool[np.argsort(spread)][:n])
        return ranked

    def permuted(self, order: np.ndarray) -> Typicality:
        """The same statistics with cluster `order[i]` renamed to i."""
        return replace(
            self,
            distance_quantiles=self.distance_quantiles[order],
            spread_scale=self.spread_scale[order],
            cluster_means=self.cluster_means[order],
        )

    def arrays(self) -> dict[str, np.ndarray]:
        """The fields by their names in the model file."""
        return {
            f.name: np.array([getattr(self, f.name)], dtype=np.float32)
            if f.name in _SCALAR_FIELDS
            else getattr(self, f.name)
            for f in fields(self)
        }

    @classmethod
    def from_arrays(cls, arrays: dict[str, np.ndarray]) -> Typicality:
        """The statistics stored under `arrays()`' names (KeyError when one is missing)."""
        values: dict[str, Any] = {
            f.name: float(arrays[f.name][0]) if f.name in _SCALAR_FIELDS else arrays[f.name]
            for f in fields(cls)
        }
        return cls(**values)
