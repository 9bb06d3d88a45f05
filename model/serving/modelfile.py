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
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from model import MNIST_SIDE
from model.serving.features import deskew
from model.serving.network import (
    NETWORK_INPUTS,
    FeatureNetwork,
    network_inputs,
    squared_distances,
)
from model.serving.typicality import DISTANCE_PERCENTILES, Typicality

__all__ = [
    "FORMAT_NAME",
    "FORMAT_VERSION",
    "Assignments",
    "DigitModel",
    "ModelFileError",
    "load_model",
    "save_model",
]

# The `format` every model file's metadata names.
FORMAT_NAME = "digit-cluster-model"
# The format version written: 2 names what the network reads in the metadata.
FORMAT_VERSION = 2
# The format versions read.
_READABLE_VERSIONS = (1, 2)
# What the network of a file that does not say (format 1) reads.
_FORMAT_1_NETWORK_INPUT = "pixels"


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
        The image's outlier score (`model.serving.typicality.outlier_score`) exceeds the
        model's outlier limit: it is far from its cluster's mean and from the digits'
        principal subspace, unlike (nearly) every training digit.
    """

    clusters: np.ndarray
    distances: np.ndarray
    typicality: np.ndarray
    is_outlier: np.ndarray


@dataclass(eq=False)
class DigitModel:
    """A trained clustering ready to serve: a feature network and a nearest-centroid rule.

    Its parts are checked against each other when it is made, and so by `replace` and
    `permuted`.

    Attributes
    ----------
    network : FeatureNetwork
        What the network reads of a deskewed digit, and its layers.
    centroids : ndarray of shape (k, n_features), float32
        The clusters' centres in the network's softmax output.
    sample_images : ndarray of shape (k, m, 28, 28), uint8
        Representative training images of each cluster, most typical first.
    typicality : Typicality
        The statistics that say how typical of its cluster a digit is, and whether it is one.
    metadata : dict
        JSON-serialisable facts about the model (version, training date, metrics...).
    """

    network: FeatureNetwork
    centroids: np.ndarray
    sample_images: np.ndarray
    typicality: Typicality
    metadata: dict[str, Any]

    def __post_init__(self) -> None:
        k, samples, stats = self.k, self.sample_images, self.typicality
        weights, reads = self.network.weights, self.network.reads
        if (
            samples.shape[0] != k
            or samples.shape[2:] != (MNIST_SIDE, MNIST_SIDE)
            or samples.dtype != np.uint8
        ):
            raise ModelFileError("The model's sample images do not match its clusters.")
        if stats.distance_quantiles.shape != (k, DISTANCE_PERCENTILES.size) or (
            stats.spread_scale.shape != (k,)
        ):
            raise ModelFileError("The model's distance statistics do not match its clusters.")
        if not weights or weights[-1].shape[1] != self.centroids.shape[1]:
            raise ModelFileError("The model's feature network does not match its centroids.")
        pixels = MNIST_SIDE * MNIST_SIDE
        if stats.pca_components.shape[1:] != stats.pca_mean.shape or stats.pca_mean.size != pixels:
            raise ModelFileError("The model's principal subspace does not match its inputs.")
        if reads not in NETWORK_INPUTS:
            raise ModelFileError(f"The model's network reads {reads!r}, which this program lacks.")
        if weights[0].shape[0] != network_inputs(np.zeros((1, pixels)), reads).shape[1]:
            raise ModelFileError(f"The model's feature network does not match its {reads}.")
        if stats.cluster_means.shape != (k, stats.pca_components.shape[0]):
            raise ModelFileError("The model's cluster means do not match its clusters.")

    @property
    def k(self) -> int:
        return int(self.centroids.shape[0])

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
        sq = squared_distances(self.network.features(flat), self.centroids)
        clusters = sq.argmin(axis=1)
        distances = np.sqrt(sq[np.arange(len(sq)), clusters]).astype(np.float32)
        typicality, is_outlier = self.typicality.score(flat, clusters)
        return Assignments(clusters.astype(np.int64), distances, typicality, is_outlier)

    def samples(self, cluster: int) -> np.ndarray:
        """The cluster's representative training images, shape (m, 28, 28) uint8."""
        if not 0 <= cluster < self.k:
            raise IndexError(f"cluster {cluster} does not exist; clusters are 0 to {self.k - 1}")
        return self.sample_images[cluster]

    def arrays(self) -> dict[str, np.ndarray]:
        """Every array of the model, by its name in the file."""
        return {
            "centroids": self.centroids,
            "samples": self.sample_images,
            **self.typicality.arrays(),
            **self.network.arrays(),
        }

    @classmethod
    def from_arrays(cls, arrays: dict[str, np.ndarray], metadata: dict[str, Any]) -> DigitModel:
        """The model stored under `arrays()`' names (KeyError when one is missing)."""
        return cls(
            network=FeatureNetwork.from_arrays(
                arrays, metadata.get("network_input", _FORMAT_1_NETWORK_INPUT)
            ),
            centroids=arrays["centroids"],
            sample_images=arrays["samples"],
            typicality=Typicality.from_arrays(arrays),
            metadata=metadata,
        )

    def permuted(self, order: np.ndarray, metadata: dict[str, Any]) -> DigitModel:
        """The same model with cluster `order[i]` renamed to i (stable ids across retrains)."""
        return replace(
            self,
            centroids=self.centroids[order],
            sample_images=self.sample_images[order],
            typicality=self.typicality.permuted(order),
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
    metadata.update(
        format=FORMAT_NAME, format_version=FORMAT_VERSION, network_input=model.network.reads
    )
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
        return DigitModel.from_arrays(arrays, metadata)
    except KeyError as exc:
        raise ModelFileError(f"Model file {source} lacks the array {exc}.") from exc
