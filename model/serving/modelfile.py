"""The model file: plain arrays plus JSON metadata, and `DigitModel`, the object that serves it.

The file is a `.npz` archive read with `allow_pickle=False`, so loading it can never run
code. A SHA-256 over every array and the metadata detects truncation and tampering.

Format version 2 names what the network reads in the metadata (`network_input`); files of
version 1, whose network read pixels, still load.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from model import MNIST_SIDE
from model.serving.features import deskew
from model.serving.network import (
    NETWORK_INPUTS,
    network_forward,
    network_inputs,
    pca_project,
    squared_distances,
    without_negligible,
)

__all__ = [
    "FORMAT_NAME",
    "FORMAT_VERSION",
    "Assignments",
    "DigitModel",
    "ModelFileError",
    "load_model",
    "save_model",
]

FORMAT_NAME = "digit-cluster-model"
FORMAT_VERSION = 2
_READABLE_VERSIONS = (1, 2)
_QUANTILES = np.linspace(0.0, 1.0, 101)


class ModelFileError(ValueError):
    """A model file is missing, unreadable, corrupt, tampered with or of another format."""


@dataclass(frozen=True)
class Assignments:
    """Where each image landed.

    Attributes
    ----------
    clusters : ndarray of shape (n_samples,), int64
    distances : ndarray of shape (n_samples,), float32
        Euclidean distance to the nearest centroid in feature space (the assignment).
    typicality : ndarray of shape (n_samples,), float64 in [0, 1]
        Share of the cluster's training images lying farther from the cluster's mean in
        the principal subspace (1: as typical as it gets).
    is_outlier : ndarray of shape (n_samples,), bool
        The image's outlier score, (spread / spread_scale)² + (residual / residual_scale)²,
        exceeds `outlier_limit`: it is far from its cluster's mean and from the digits'
        principal subspace, unlike (nearly) every training digit.
    """

    clusters: np.ndarray
    distances: np.ndarray
    typicality: np.ndarray
    is_outlier: np.ndarray


def outlier_score(
    spread: np.ndarray, residual: np.ndarray, spread_scale: np.ndarray, residual_scale: float
) -> np.ndarray:
    """How unlike a training digit an image is: about 1 at the training data's far tail.

    Two distances, each scaled by its 99.9th training percentile: to the cluster's mean
    within the principal subspace, and to that subspace. Together they are the distance to
    the cluster's mean digit, with both parts weighed by how much they vary in MNIST.
    """
    return (spread / spread_scale) ** 2 + (residual / residual_scale) ** 2


# Constructor arguments stored in the file under their own names: arrays as they are,
# floats as one-element arrays. The network's layers are stored as layer<i>_weight/_bias.
_ARRAY_FIELDS = (
    "centroids",
    "samples",
    "distance_quantiles",
    "spread_scale",
    "cluster_means",
    "pca_mean",
    "pca_components",
)
_SCALAR_FIELDS = ("residual_scale", "outlier_limit")


class DigitModel:
    """A trained clustering ready to serve: a feature network and a nearest-centroid rule.

    Parameters
    ----------
    weights, biases : lists of ndarray
        The feature network's layers (see `model.serving.network`).
    centroids : ndarray of shape (k, n_features), float32
    samples : ndarray of shape (k, m, 28, 28), uint8
        Representative training images of each cluster, most typical first.
    distance_quantiles : ndarray of shape (k, 101), float32
        Percentiles 0..100 of the cluster's training images' distances to its mean in
        the principal subspace.
    spread_scale : ndarray of shape (k,), float32
        The 99.9th percentile of the cluster's training distances to its mean in the
        principal subspace.
    cluster_means : ndarray of shape (k, n_components), float32
        Each cluster's mean in the principal subspace.
    pca_mean : ndarray of shape (784,), float32
    pca_components : ndarray of shape (n_components, 784), float32
        The principal subspace of the deskewed training digits.
    residual_scale : float
        The 99.9th percentile of the training digits' distances to the principal subspace.
    outlier_limit : float
        Outlier score beyond which an image is not taken for a digit.
    metadata : dict
        JSON-serialisable facts about the model (version, training date, metrics...);
        `metadata["network_input"]` says what the network reads (one of NETWORK_INPUTS;
        "pixels" when absent).
    """

    def __init__(
        self,
        *,
        weights: list[np.ndarray],
        biases: list[np.ndarray],
        centroids: np.ndarray,
        samples: np.ndarray,
        distance_quantiles: np.ndarray,
        spread_scale: np.ndarray,
        cluster_means: np.ndarray,
        pca_mean: np.ndarray,
        pca_components: np.ndarray,
        residual_scale: float,
        outlier_limit: float,
        metadata: dict[str, Any],
    ) -> None:
        k = centroids.shape[0]
        if samples.shape[0] != k or samples.shape[2:] != (28, 28) or samples.dtype != np.uint8:
            raise ModelFileError("The model's sample images do not match its clusters.")
        if distance_quantiles.shape != (k, _QUANTILES.size) or spread_scale.shape != (k,):
            raise ModelFileError("The model's distance statistics do not match its clusters.")
        if not weights or weights[-1].shape[1] != centroids.shape[1]:
            raise ModelFileError("The model's feature network does not match its centroids.")
        if pca_components.shape[1:] != pca_mean.shape or pca_mean.size != MNIST_SIDE * MNIST_SIDE:
            raise ModelFileError("The model's principal subspace does not match its inputs.")
        reads = metadata.get("network_input", "pixels")
        if reads not in NETWORK_INPUTS:
            raise ModelFileError(f"The model's network reads {reads!r}, which this program lacks.")
        if weights[0].shape[0] != network_inputs(np.zeros((1, pca_mean.size)), reads).shape[1]:
            raise ModelFileError(f"The model's feature network does not match its {reads}.")
        if cluster_means.shape != (k, pca_components.shape[0]):
            raise ModelFileError("The model's cluster means do not match its clusters.")
        # Files trained before it was applied hold subnormal weights that slow serving.
        self.weights = [without_negligible(W) for W in weights]
        self.biases = biases
        self.centroids = centroids
        self.samples_ = samples
        self.distance_quantiles = distance_quantiles
        self.spread_scale = spread_scale
        self.cluster_means = cluster_means
        self.pca_mean = pca_mean
        self.pca_components = pca_components
        self.residual_scale = float(residual_scale)
        self.outlier_limit = float(outlier_limit)
        self.metadata = metadata

    @property
    def k(self) -> int:
        return int(self.centroids.shape[0])

    @property
    def network_input(self) -> str:
        """What the feature network reads of a deskewed digit (one of NETWORK_INPUTS)."""
        return str(self.metadata.get("network_input", "pixels"))

    @property
    def version(self) -> str:
        return str(self.metadata.get("version", "unknown"))

    def assign(self, images: np.ndarray) -> Assignments:
        """Assign each image to its nearest centroid; flag what is unlike every digit.

        Parameters
        ----------
        images : ndarray of shape (n_samples, 28, 28) or (28, 28), uint8
        """
        flat = deskew(images)
        flat = flat.reshape(len(flat), -1)
        features = network_forward(
            network_inputs(flat, self.network_input), self.weights, self.biases
        )
        sq = squared_distances(features, self.centroids)
        clusters = sq.argmin(axis=1)
        distances = np.sqrt(sq[np.arange(len(sq)), clusters]).astype(np.float32)
        coordinates, residual = pca_project(flat, self.pca_mean, self.pca_components)
        spread = np.linalg.norm(coordinates - self.cluster_means[clusters], axis=1)
        typicality = np.empty(len(sq))
        for c in np.unique(clusters):
            mask = clusters == c
            typicality[mask] = 1.0 - np.interp(spread[mask], self.distance_quantiles[c], _QUANTILES)
        score = outlier_score(spread, residual, self.spread_scale[clusters], self.residual_scale)
        is_outlier = score > self.outlier_limit
        return Assignments(clusters.astype(np.int64), distances, typicality, is_outlier)

    def samples(self, cluster: int) -> np.ndarray:
        """The cluster's representative training images, shape (m, 28, 28) uint8."""
        if not 0 <= cluster < self.k:
            raise IndexError(f"cluster {cluster} does not exist; clusters are 0 to {self.k - 1}")
        return self.samples_[cluster]

    def arrays(self) -> dict[str, np.ndarray]:
        """Every array of the model, by its name in the file."""
        fields = self._fields()
        named = {name: fields[name] for name in _ARRAY_FIELDS}
        named |= {name: np.array([fields[name]], dtype=np.float32) for name in _SCALAR_FIELDS}
        for i, (W, b) in enumerate(zip(self.weights, self.biases, strict=True)):
            named[f"layer{i}_weight"] = W
            named[f"layer{i}_bias"] = b
        return named

    def replace(self, **changes: Any) -> DigitModel:
        """A copy with some constructor arguments changed (like `dataclasses.replace`)."""
        return DigitModel(**{**self._fields(), **changes})

    def _fields(self) -> dict[str, Any]:
        """The constructor arguments that rebuild this model."""
        return {
            "weights": self.weights,
            "biases": self.biases,
            "centroids": self.centroids,
            "samples": self.samples_,
            "distance_quantiles": self.distance_quantiles,
            "spread_scale": self.spread_scale,
            "cluster_means": self.cluster_means,
            "pca_mean": self.pca_mean,
            "pca_components": self.pca_components,
            "residual_scale": self.residual_scale,
            "outlier_limit": self.outlier_limit,
            "metadata": self.metadata,
        }

    def permuted(self, order: np.ndarray, metadata: dict[str, Any]) -> DigitModel:
        """The same model with cluster `order[i]` renamed to i (stable ids across retrains)."""
        return self.replace(
            centroids=self.centroids[order],
            samples=self.samples_[order],
            distance_quantiles=self.distance_quantiles[order],
            spread_scale=self.spread_scale[order],
            cluster_means=self.cluster_means[order],
            metadata=metadata,
        )


def _digest(arrays: dict[str, np.ndarray], metadata: dict[str, Any]) -> str:
    h = hashlib.sha256()
    for name in sorted(arrays):
        a = np.ascontiguousarray(arrays[name])
        h.update(f"{name}|{a.dtype.str}|{a.shape}|".encode())
        h.update(a.tobytes())
    body = {key: value for key, value in metadata.items() if key != "sha256"}
    h.update(json.dumps(body, sort_keys=True).encode())
    return h.hexdigest()


def save_model(model: DigitModel, path: str | os.PathLike[str]) -> Path:
    """Write `model` atomically (temporary file, then rename) with owner-only permissions."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    arrays = model.arrays()
    metadata = dict(model.metadata)
    metadata.update(format=FORMAT_NAME, format_version=FORMAT_VERSION)
    metadata["sha256"] = _digest(arrays, metadata)
    meta_bytes = np.frombuffer(json.dumps(metadata, sort_keys=True).encode(), dtype=np.uint8)
    payload: dict[str, Any] = {"metadata": meta_bytes, **arrays}
    fd, tmp_name = tempfile.mkstemp(dir=target.parent, suffix=".npz.tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            np.savez_compressed(handle, **payload)
        os.chmod(tmp_name, 0o600)
        os.replace(tmp_name, target)
    except BaseException:
        Path(tmp_name).unlink(missing_ok=True)
        raise
    return target


def load_model(path: str | os.PathLike[str]) -> DigitModel:
    """Read a model file without executing anything from it.

    Raises
    ------
    ModelFileError
        When the file is missing, unreadable, of another format, truncated or modified.
    """
    source = Path(path)
    if not source.is_file():
        raise ModelFileError(f"Model file {source} does not exist.")
    try:
        with np.load(source, allow_pickle=False) as archive:
            arrays = {name: archive[name] for name in archive.files}
    except (OSError, ValueError, EOFError, zipfile.BadZipFile, KeyError) as exc:
        raise ModelFileError(
            f"Model file {source} is not a readable model archive ({exc})."
        ) from exc
    try:
        metadata = json.loads(arrays.pop("metadata").tobytes().decode())
    except (KeyError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ModelFileError(f"Model file {source} has no readable metadata.") from exc
    if not isinstance(metadata, dict) or metadata.get("format") != FORMAT_NAME:
        raise ModelFileError(f"{source} is not a {FORMAT_NAME} file.")
    if metadata.get("format_version") not in _READABLE_VERSIONS:
        raise ModelFileError(
            f"Model file {source} has format version {metadata.get('format_version')}; "
            f"this program reads versions {', '.join(map(str, _READABLE_VERSIONS))}."
        )
    if metadata.get("sha256") != _digest(arrays, metadata):
        raise ModelFileError(f"Model file {source} is corrupt or was modified (checksum mismatch).")
    try:
        n_layers = sum(1 for name in arrays if name.endswith("_weight"))
        fields: dict[str, Any] = {name: arrays[name] for name in _ARRAY_FIELDS}
        fields |= {name: float(arrays[name][0]) for name in _SCALAR_FIELDS}
        return DigitModel(
            weights=[arrays[f"layer{i}_weight"] for i in range(n_layers)],
            biases=[arrays[f"layer{i}_bias"] for i in range(n_layers)],
            metadata=metadata,
            **fields,
        )
    except KeyError as exc:
        raise ModelFileError(f"Model file {source} lacks the array {exc}.") from exc
