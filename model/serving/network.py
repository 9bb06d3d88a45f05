"""The feature network in numpy: its inputs, its forward pass, all the bot needs to serve.

Training fits a small ReLU network with scikit-learn; serving only computes the inputs and
multiplies the stored weights, so the bot process never loads a training runtime or pays a
JIT warm-up.

The feature space is the network's softmax output: nearest-centroid assignment there keeps
the self-trained network's accuracy, while its ReLU hidden layer is not shaped for distances.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from model import MNIST_SIDE
from model.serving.orientations import pooled_orientations

__all__ = [
    "NETWORK_INPUTS",
    "FeatureNetwork",
    "network_forward",
    "network_inputs",
    "squared_distances",
    "without_negligible",
]

# What a network can read of a deskewed digit: pooled stroke orientations, or (format 1
# model files) its pixels.
NETWORK_INPUTS = ("orientations", "pixels")
# Weights smaller than this in magnitude are dropped: subnormal floats that slow serving.
_NEGLIGIBLE = 1e-20


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
        return pooled_orientations(
            np.asarray(deskewed).reshape(len(deskewed), MNIST_SIDE, MNIST_SIDE)
        )
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
    """The weights in float32, those under `_NEGLIGIBLE` in magnitude set to zero.

    Weight decay shrinks the weights of inputs that are always blank (the corners) towards
    1e-39, below float32's normal range; a product with such a number takes the CPU's slow
    subnormal path, several times slower. On inputs of at most 1 they change nothing.
    """
    W = np.asarray(weights, dtype=np.float32)
    return np.where(np.abs(W) < _NEGLIGIBLE, np.float32(0), W)


def squared_distances(F: np.ndarray, centroids: np.ndarray) -> np.ndarray:
    """Squared Euclidean distances, shape (n_samples, k), without an (n, k, d) temporary."""
    sq = (F * F).sum(axis=1)[:, None] - 2.0 * F @ centroids.T
    sq += (centroids * centroids).sum(axis=1)[None, :]
    return np.maximum(sq, 0.0)


@dataclass(frozen=True, eq=False)
class FeatureNetwork:
    """The self-trained network: what it reads of a deskewed digit, and its layers.

    Attributes
    ----------
    weights : list of ndarray of shape (n_in, n_out), float32
    biases : list of ndarray of shape (n_out,), float32
        The layers, ReLU hidden ones and a softmax output; stored in the model file as
        `layer<i>_weight` and `layer<i>_bias`.
    reads : str
        One of NETWORK_INPUTS.
    """

    weights: list[np.ndarray]
    biases: list[np.ndarray]
    reads: str

    def features(self, deskewed: np.ndarray) -> np.ndarray:
        """The softmax output for deskewed digits (n_samples, 784), shape (n_samples, n_outputs)."""
        return network_forward(network_inputs(deskewed, self.reads), self.weights, self.biases)

    def arrays(self) -> dict[str, np.ndarray]:
        """The layers by their names in the model file."""
        named = {}
        for i, (W, b) in enumerate(zip(self.weights, self.biases, strict=True)):
            named[f"layer{i}_weight"] = W
            named[f"layer{i}_bias"] = b
        return named

    @classmethod
    def from_arrays(cls, arrays: dict[str, np.ndarray], reads: str) -> FeatureNetwork:
        """The layers stored under `arrays()`' names (KeyError when one is missing).

        Files trained before `without_negligible` was applied hold subnormal weights that
        slow serving: they are dropped here.
        """
        n_layers = sum(1 for name in arrays if name.endswith("_weight"))
        return cls(
            weights=[without_negligible(arrays[f"layer{i}_weight"]) for i in range(n_layers)],
            biases=[arrays[f"layer{i}_bias"] for i in range(n_layers)],
            reads=reads,
        )
