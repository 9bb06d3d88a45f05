"""The feature network's forward pass in numpy: all the bot needs to serve.

Training fits a small ReLU network with scikit-learn; serving only multiplies its stored
weights, so the bot process never loads a training runtime or pays a JIT warm-up.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from model.features import deskew

__all__ = ["embed", "relu_forward", "squared_distances"]


def relu_forward(
    X: np.ndarray, weights: Sequence[np.ndarray], biases: Sequence[np.ndarray]
) -> np.ndarray:
    """Apply `relu(X @ W + b)` layer by layer.

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features), float32
    weights : sequence of ndarray of shape (n_in, n_out)
    biases : sequence of ndarray of shape (n_out,)

    Returns
    -------
    ndarray of shape (n_samples, n_out_last), float32
    """
    if len(weights) != len(biases):
        raise ValueError("weights and biases must have the same number of layers")
    H = np.asarray(X, dtype=np.float32)
    for W, b in zip(weights, biases, strict=True):
        if H.shape[1] != W.shape[0]:
            raise ValueError(f"layer expects {W.shape[0]} inputs, got {H.shape[1]}")
        H = np.maximum(H @ W + b, 0.0, dtype=np.float32)
    return H


def embed(
    images: np.ndarray, weights: Sequence[np.ndarray], biases: Sequence[np.ndarray]
) -> np.ndarray:
    """Map 28x28 digits into the learned feature space (deskew, then the network).

    Parameters
    ----------
    images : ndarray of shape (n_samples, 28, 28), uint8

    Returns
    -------
    ndarray of shape (n_samples, n_features), float32
    """
    flat = deskew(images).reshape(len(images) if np.ndim(images) == 3 else 1, -1)
    return relu_forward(flat, weights, biases)


def squared_distances(F: np.ndarray, centroids: np.ndarray) -> np.ndarray:
    """Squared Euclidean distances, shape (n_samples, k), without an (n, k, d) temporary."""
    sq = (F * F).sum(axis=1)[:, None] - 2.0 * F @ centroids.T
    sq += (centroids * centroids).sum(axis=1)[None, :]
    return np.maximum(sq, 0.0)
