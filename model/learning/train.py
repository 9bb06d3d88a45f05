"""From MNIST (plus the bot's stored photos) to a `DigitModel` ready to save and serve."""

from __future__ import annotations

import hashlib
import platform
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

import numpy as np

from model import MNIST_SIDE
from model.learning.clustering import DigitClusterer, ProgressCallback
from model.learning.evaluate import score_clustering
from model.learning.matching import align_to_previous
from model.learning.report import TrainingReport
from model.mnist import Mnist
from model.serving.features import deskew
from model.serving.modelfile import DigitModel
from model.serving.network import FeatureNetwork, squared_distances
from model.serving.typicality import Typicality

__all__ = ["TrainResult", "build_model", "train_model"]

# Representative training images kept per cluster, the bot's samples of it.
N_SAMPLES = 32


@dataclass(frozen=True)
class TrainResult:
    """A trained model, and what the run took and changed; `report` gives its figures."""

    model: DigitModel
    duration_s: float
    changed_answers: int | None

    def report(self, path: Path, peak_rss_mb: int | None = None) -> TrainingReport:
        """The run's figures once the model is saved at `path`."""
        meta = self.model.metadata
        return TrainingReport(
            path=path,
            version=self.model.version,
            duration_s=round(self.duration_s, 1),
            n_train=meta["n_train"],
            n_extra=meta["n_extra"],
            metrics=meta.get("metrics"),
            cluster_sizes=meta["cluster_sizes"],
            changed_answers=self.changed_answers,
            peak_rss_mb=peak_rss_mb,
        )


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
    *,
    network: FeatureNetwork,
    centroids: np.ndarray,
    pca_mean: np.ndarray,
    pca_components: np.ndarray,
    reference: np.ndarray,
    metadata: dict[str, Any],
) -> DigitModel:
    """Package a learned network and centroids with samples and distance statistics.

    Parameters
    ----------
    network : FeatureNetwork
    centroids : ndarray of shape (k, n_outputs)
    pca_mean : ndarray of shape (784,)
    pca_components : ndarray of shape (n_components, 784)
        The principal subspace of the deskewed training digits.
    reference : ndarray of shape (n, 28, 28), uint8
        MNIST training images: the statistics and the representative samples come from
        them, never from users' photos, so no user ever sees another user's image.
    metadata : dict
    """
    k = len(centroids)
    flat = deskew(reference).reshape(len(reference), -1)
    clusters = squared_distances(network.features(flat), centroids).argmin(axis=1)
    typicality = Typicality.fit(flat, clusters, k, pca_mean=pca_mean, pca_components=pca_components)
    samples = np.zeros((k, N_SAMPLES, MNIST_SIDE, MNIST_SIDE), dtype=np.uint8)
    for c, most_typical in enumerate(typicality.most_typical(flat, clusters, N_SAMPLES)):
        samples[c, : len(most_typical)] = reference[most_typical]
    return DigitModel(
        network=network,
        centroids=np.asarray(centroids, dtype=np.float32),
        sample_images=samples,
        typicality=typicality,
        metadata={**metadata, "cluster_sizes": np.bincount(clusters, minlength=k).tolist()},
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
        if extra.shape[1:] != (MNIST_SIDE, MNIST_SIDE) or extra.dtype != np.uint8:
            raise ValueError(
                f"extra images must be an array of shape (n, 28, 28) and dtype uint8, "
                f"got shape {extra.shape} and dtype {extra.dtype}"
            )
        X = np.concatenate([train, extra])
    else:
        extra = np.zeros((0, MNIST_SIDE, MNIST_SIDE), dtype=np.uint8)
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
    model = build_model(
        network=clusterer.network_,
        centroids=clusterer.cluster_centers_,
        pca_mean=clusterer.pca_.mean_,
        pca_components=clusterer.pca_.components_,
        reference=train,
        metadata=metadata,
    )
    changed = None
    if previous is not None:
        aligned = align_to_previous(model, previous, mnist.test_images)
        model, changed = aligned.model, aligned.changed_answers
    return TrainResult(
        model=model, duration_s=time.perf_counter() - started, changed_answers=changed
    )
