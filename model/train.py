"""From MNIST (plus the bot's stored photos) to a `DigitModel` ready to save and serve."""

from __future__ import annotations

import hashlib
import platform
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib.metadata import PackageNotFoundError, version
from typing import Any

import numpy as np

from model.clustering import DigitClusterer, ProgressCallback
from model.data import Mnist
from model.evaluate import score_clustering
from model.features import deskew
from model.matching import align_to_previous
from model.modelfile import DigitModel
from model.network import network_forward, reconstruction_error, squared_distances

__all__ = ["TrainResult", "build_model", "train_model"]

N_SAMPLES = 32
OUTLIER_QUANTILE = 99.9
OUTLIER_MARGIN = 1.25
NOVELTY_QUANTILE = 99.9
NOVELTY_MARGIN = 1.3
_QUANTILES = np.linspace(0.0, 100.0, 101)


@dataclass(frozen=True)
class TrainResult:
    """A trained model and the figures that describe the run."""

    model: DigitModel
    duration_s: float
    changed_answers: int | None

    def summary(self) -> dict[str, Any]:
        meta = self.model.metadata
        return {
            "version": self.model.version,
            "duration_s": round(self.duration_s, 1),
            "n_train": meta["n_train"],
            "n_extra": meta["n_extra"],
            "metrics": meta.get("metrics"),
            "cluster_sizes": meta["cluster_sizes"],
            "changed_answers": self.changed_answers,
        }


def _library_versions() -> dict[str, str]:
    found = {"python": platform.python_version()}
    for name in ("numpy", "scikit-learn", "umap-learn", "scipy"):
        try:
            found[name] = version(name)
        except PackageNotFoundError:
            found[name] = "unknown"
    return found


def _sha256(*arrays: np.ndarray) -> str:
    h = hashlib.sha256()
    for a in arrays:
        h.update(np.ascontiguousarray(a).tobytes())
    return h.hexdigest()


def build_model(
    clusterer: DigitClusterer, reference: np.ndarray, metadata: dict[str, Any]
) -> DigitModel:
    """Package a fitted clusterer with its samples and distance statistics.

    Parameters
    ----------
    clusterer : fitted DigitClusterer
    reference : ndarray of shape (n, 28, 28), uint8
        The MNIST images the representative samples are picked from: never users' photos,
        so no user ever sees another user's image.
    metadata : dict
    """
    centres = clusterer.cluster_centers_
    k = len(centres)
    flat = deskew(reference).reshape(len(reference), -1)
    features = network_forward(flat, clusterer.weights_, clusterer.biases_)
    dist = np.sqrt(squared_distances(features, centres))
    nearest = dist.argmin(axis=1)
    own = dist[np.arange(len(dist)), nearest]
    quantiles = np.zeros((k, _QUANTILES.size), dtype=np.float32)
    radius = np.zeros(k, dtype=np.float32)
    samples = np.zeros((k, N_SAMPLES, 28, 28), dtype=np.uint8)
    for c in range(k):
        members = np.flatnonzero(nearest == c)
        if members.size == 0:
            members = np.argsort(dist[:, c])[:N_SAMPLES]
        quantiles[c] = np.percentile(dist[members, c], _QUANTILES)
        radius[c] = np.percentile(dist[members, c], OUTLIER_QUANTILE) * OUTLIER_MARGIN
        closest = members[np.argsort(own[members])][:N_SAMPLES]
        samples[c, : len(closest)] = reference[closest]
    metadata = {**metadata, "cluster_sizes": np.bincount(nearest, minlength=k).tolist()}
    pca = clusterer.pca_
    errors = reconstruction_error(flat, pca.mean_, pca.components_)
    return DigitModel(
        weights=clusterer.weights_,
        biases=clusterer.biases_,
        centroids=centres,
        samples=samples,
        distance_quantiles=quantiles,
        outlier_radius=radius,
        pca_mean=pca.mean_.astype(np.float32),
        pca_components=pca.components_.astype(np.float32),
        novelty_threshold=float(np.percentile(errors, NOVELTY_QUANTILE) * NOVELTY_MARGIN),
        metadata=metadata,
    )


def train_model(
    mnist: Mnist,
    *,
    extra: np.ndarray | None = None,
    previous: DigitModel | None = None,
    n_clusters: int = 10,
    limit: int | None = None,
    random_state: int = 0,
    progress: ProgressCallback | None = None,
    **params: Any,
) -> TrainResult:
    """Train on MNIST's training split (and `extra` unlabeled 28x28 images).

    Labels are read only to score the result on the test split. With `previous`, cluster
    ids are renumbered to agree with it.

    Parameters
    ----------
    mnist : Mnist
    extra : ndarray of shape (n_extra, 28, 28), uint8, optional
    previous : DigitModel, optional
    limit : int, optional
        Use only the first `limit` training images (quick runs and tests).
    params : further DigitClusterer parameters.
    """
    started = time.perf_counter()
    train = mnist.train_images[:limit] if limit else mnist.train_images
    if extra is not None and extra.size:
        if extra.ndim != 3 or extra.shape[1:] != (28, 28) or extra.dtype != np.uint8:
            raise ValueError(
                f"extra images must be an array of shape (n, 28, 28) and dtype uint8, "
                f"got shape {extra.shape} and dtype {extra.dtype}"
            )
        X = np.concatenate([train, extra])
    else:
        extra = np.zeros((0, 28, 28), dtype=np.uint8)
        X = train
    clusterer = DigitClusterer(
        n_clusters, random_state=random_state, progress=progress, **params
    ).fit(X)
    scores = score_clustering(mnist.test_labels, clusterer.predict(mnist.test_images), n_clusters)
    trained_at = datetime.now(UTC)
    digest = _sha256(X)
    metadata: dict[str, Any] = {
        "version": f"{trained_at:%Y%m%dT%H%M%SZ}-{digest[:6]}",
        "trained_at": trained_at.isoformat(timespec="seconds"),
        "n_train": len(train),
        "n_extra": len(extra),
        "k": int(n_clusters),
        "seed": int(random_state),
        "data_sha256": digest,
        "params": {
            key: (list(value) if isinstance(value, tuple) else value)
            for key, value in clusterer.get_params().items()
            if key != "progress"
        },
        "libraries": _library_versions(),
        "metrics": {"acc": scores.acc, "nmi": scores.nmi, "ari": scores.ari},
        "cluster_to_digit": {str(c): d for c, d in scores.cluster_to_digit.items()},
        "cluster_purity": scores.purity,
    }
    model = build_model(clusterer, train, metadata)
    changed = None
    if previous is not None:
        aligned = align_to_previous(model, previous, mnist.test_images)
        model, changed = aligned.model, aligned.changed_answers
    return TrainResult(
        model=model, duration_s=time.perf_counter() - started, changed_answers=changed
    )
