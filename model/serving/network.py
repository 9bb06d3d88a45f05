"""The feature network's inputs and forward pass in numpy: all the bot needs to serve.

Training fits a small ReLU network with scikit-learn; serving only computes the inputs and
multiplies the stored weights, so the bot process never loads a training runtime or pays a
JIT warm-up.

The feature space is the network's softmax output. Measured on MNIST, nearest-centroid
assignment there keeps the self-trained network's accuracy (0.982), while centroids in
its ReLU hidden layer lose 1.5-2 points: the hidden layer is not shaped for distances.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from model.serving.orientations import pooled_orientations

__all__ = [
    "NETWORK_INPUTS",
    "network_forward",
    "network_inputs",
    "pca_project",
    "squared_distances",
    "without_negligible",
]

NETWORK_INPUTS = ("orientations", "pixels")


def network_inputs(deskewed: np.ndarray, kind: str) -> np.ndarray:
    """What the network reads of deskewed digits: their pooled stroke orientations
    (`model/serving/orientations.py`), or their pixels (models trained before those).

    Parameters
    ----------
    deskewed : ndarray of shape (n_samples, 784), float32 in [0, 1]
    kind : one of NETWORK_INPUTS

    Returns
    -------
    ndarray of shape (n_samples, n_inputs), float32
    """
    if kind == "pixels":
        return np.asarray(deskewed, dtype=np.float32)
    if kind == "orientations":
        return pooled_orientations(np.asarray(deskewed).reshape(len(deskewed), 28, 28))
    raise ValueError(f"network input must be one of {NETWORK_INPUTS}, got {kind!r}")


def network_forward(
    X: np.ndarray, weights: Sequence[np.ndarray], biases: Sequence[np.ndarray]
) -> np.ndarray:
    """ReLU hidden layers, then a softmax output layer.

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features), float32
    weights : sequence of ndarray of shape (n_in, n_out)
    biases : sequence of ndarray of shape (n_out,)

    Returns
    -------
    ndarray of shape (n_samples, n_outputs), float32; each row sums to 1.
    """
    if len(weights) != len(biases) or not weights:
        raise ValueError("weights and biases must be non-empty and of equal length")
    H = np.asarray(X, dtype=np.float32)
    last = len(weights) - 1
    for i, (W, b) in enumerate(zip(weights, biases, strict=True)):
        if H.shape[1] != W.shape[0]:
            raise ValueError(f"layer {i} expects {W.shape[0]} inputs, got {H.shape[1]}")
        H = H @ W + b
        if i < last:
            np.maximum(H, 0.0, out=H)
    H -= H.max(axis=1, keepdims=True)
    np.exp(H, out=H)
    H /= H.sum(axis=1, keepdims=True)
    return H.astype(np.float32, copy=False)


def without_negligible(weights: np.ndarray) -> np.ndarray:
    """The weights in float32, those under 1e-20 in magnitude set to zero.

    Weight decay shrinks the weights of inputs that are always blank (the corners) towards
    1e-39, below float32's normal range; a product with such a number takes the CPU's slow
    subnormal path. A few thousand of them made the first layer's product on 10,000 digits
    take 140 ms instead of 17 ms here. On inputs of at most 1 they change nothing.
    """
    W = np.asarray(weights, dtype=np.float32)
    return np.where(np.abs(W) < 1e-20, np.float32(0), W)


def pca_project(
    X: np.ndarray, mean: np.ndarray, components: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Coordinates in the training digits' principal subspace, and the distance to it.

    The distance (reconstruction error) says "unlike any MNIST digit" whatever cluster the
    network picks: a softmax is confident about stars and smileys too. The coordinates
    say how typical an image is of its cluster, which the near one-hot softmax cannot.

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


def squared_distances(F: np.ndarray, centroids: np.ndarray) -> np.ndarray:
    """Squared Euclidean distances, shape (n_samples, k), without an (n, k, d) temporary."""
    sq = (F * F).sum(axis=1)[:, None] - 2.0 * F @ centroids.T
    sq += (centroids * centroids).sum(axis=1)[None, :]
    return np.maximum(sq, 0.0)
