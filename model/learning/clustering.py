"""`DigitClusterer`: k clusters of handwritten digits learned without labels.

The recipe (its measurements are in docs/benchmarks.md):

1. deskew; histograms of stroke orientation per 4x4-pixel cell (`model/serving/orientations.py`),
   then PCA to 50 dimensions;
2. UMAP to a 10-dimensional manifold, where digits form dense, separated clumps;
3. a full-covariance Gaussian mixture finds the clumps: the first pseudo-labels (stroke
   orientations, unlike pixels, keep round-looped 9s apart from the 3s);
4. self-training: a small ReLU network learns the pseudo-labels from randomly rotated,
   scaled, sheared and shifted copies of the raw digits, deskewed as serving deskews (and
   some plain 1s given the foot and flag European writers draw, `model/learning/styles.py`),
   reading their stroke orientations blurred and pooled on a 9x9 grid, then settling at a
   tenth of the learning rate; augmentation and pooling teach it what does not change a
   digit. It repairs some of the mixture's errors, in a network numpy can serve;
5. k-means on the network's softmax outputs, seeded with the pseudo-label means, gives
   the centroids the bot assigns with: serving is numpy only.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable

import numpy as np
from sklearn.base import BaseEstimator, ClusterMixin, TransformerMixin
from sklearn.cluster import KMeans
from sklearn.decomposition import PCA
from sklearn.exceptions import ConvergenceWarning
from sklearn.mixture import GaussianMixture
from sklearn.neural_network import MLPClassifier
from sklearn.utils import check_random_state
from sklearn.utils.validation import check_is_fitted, validate_data

from model import MNIST_SIDE
from model.learning.augment import augment
from model.learning.styles import stroke_cluster, with_foot_and_flag
from model.serving.features import deskew, to_unit
from model.serving.network import (
    FeatureNetwork,
    network_forward,
    network_inputs,
    squared_distances,
    without_negligible,
)
from model.serving.orientations import orientation_histograms

__all__ = [
    "NETWORK_READS",
    "DigitClusterer",
    "ProgressCallback",
    "augmented_copy",
    "every_cluster_held",
]

ProgressCallback = Callable[[str, float], None]
# What the network reads of a deskewed digit: its pooled stroke orientations.
NETWORK_READS = "orientations"
# Adam's learning rate in self-training (scikit-learn's default); fine-tuning uses a tenth.
_LEARNING_RATE = 1e-3
# Largest self-training batch.
_BATCH_SIZE = 256
# An empty cluster is given its likeliest digits, this share of a cluster's mean size (at least
# one), so that every cluster goes on into the next round.
_REFILL_SHARE = 0.01


def _seed(rs: np.random.RandomState) -> int:
    return int(rs.randint(np.iinfo(np.int32).max))


def every_cluster_held(likelihood: np.ndarray) -> np.ndarray:
    """The likeliest cluster of each digit (rows of `likelihood`, one column per cluster), an
    empty cluster given the digits likeliest for it among those of clusters that can spare
    them, as KMeans relocates an empty cluster: the network warm-starts each round on the
    same clusters, and a cluster no digit is likeliest for in one round may hold some in
    the next."""
    labels = likelihood.argmax(axis=1)
    n, k = likelihood.shape
    refill = max(1, round(_REFILL_SHARE * n / k))
    for cluster in np.flatnonzero(np.bincount(labels, minlength=k) == 0):
        sizes = np.bincount(labels, minlength=k)
        spare = np.flatnonzero(sizes[labels] > refill)
        if spare.size == 0:
            continue
        likeliest = spare[np.argsort(likelihood[spare, cluster])[-refill:]]
        labels[likeliest] = cluster
    return labels


def augmented_copy(
    images: np.ndarray, rng: np.random.Generator, restyle: np.ndarray | None = None
) -> np.ndarray:
    """A randomly warped copy of raw (n, 28, 28) digits, then deskewed as serving deskews
    what it is sent: self-training's view of a digit written another way. The digits at the
    indices `restyle` are first given a foot, a flag or both (`model/learning/styles.py`)."""
    if restyle is not None and len(restyle):
        images = to_unit(images).copy()
        # Its own stream: restyling some digits moves none of the others' warps.
        images[restyle] = with_foot_and_flag(images[restyle], rng.spawn(1)[0])
    return deskew(augment(images, rng))


class DigitClusterer(ClusterMixin, TransformerMixin, BaseEstimator):
    """Unsupervised clustering of 28x28 digits.

    X holds 28x28 images, shape (n, 784) or (n, 28, 28), uint8 or float in [0, 1]; they are
    deskewed, and self-training augments them.

    Parameters
    ----------
    n_clusters : int, default=10
    n_pca : int, default=50
    umap_components : int, default=10
    umap_neighbors : int, default=10
    hidden_layer_sizes : tuple of int, default=(512, 256)
        The feature network's hidden layers; its softmax output is the centroids' space.
    augment_copies : int, default=5
        Augmented copies of the data per self-training round: more keep more jittered digits
        in their cluster, each at the cost of another pass over the data.
    styled_ones : float, default=0.3
        Share of the plain-stroke cluster's members (MNIST's 1s) given a foot, a flag or both
        in each augmented copy (0 turns it off): the 1s European writers draw, which MNIST
        lacks (`model/learning/styles.py`).
    self_training_rounds : int, default=2
        Rounds of relabelling with the network and training on (it continues training): the
        second learns from the network's labels, which repair some of the mixture's.
    epochs : int, default=4
        Passes over the (augmented) data per round.
    fine_tune_epochs : int, default=2
        Further passes per round at a tenth of the learning rate: they settle the network where
        the noise of the first passes left it (0 turns them off).
    n_jobs : int or None, default=None
        Threads for UMAP. None or 1 keeps results reproducible for a given random_state;
        more threads are faster but UMAP's parallel layout is not bit-reproducible.
    random_state : int, RandomState or None, default=None
    progress : callable(stage, fraction) or None, default=None
        Called as training advances, for progress bars and the bot.

    Attributes
    ----------
    network_ : FeatureNetwork
        The feature network, reading `NETWORK_READS`; its softmax output is where the
        centroids lie.
    pca_ : PCA
        The principal subspace of the (deskewed) training pixels, where the model file judges
        typicality and outliers.
    cluster_centers_ : ndarray of shape (n_clusters, n_outputs)
        Centroids in the network's softmax output (n_outputs: the classes it learned).
    labels_ : ndarray of shape (n_samples,)
    pseudo_labels_ : ndarray of shape (n_samples,)
        The mixture's labels before self-training (kept to measure what it adds).
    n_features_in_ : int
    """

    def __init__(
        self,
        n_clusters: int = 10,
        *,
        n_pca: int = 50,
        umap_components: int = 10,
        umap_neighbors: int = 10,
        hidden_layer_sizes: tuple[int, ...] = (512, 256),
        augment_copies: int = 5,
        styled_ones: float = 0.3,
        self_training_rounds: int = 2,
        epochs: int = 4,
        fine_tune_epochs: int = 2,
        n_jobs: int | None = None,
        random_state: int | np.random.RandomState | None = None,
        progress: ProgressCallback | None = None,
    ) -> None:
        self.n_clusters = n_clusters
        self.n_pca = n_pca
        self.umap_components = umap_components
        self.umap_neighbors = umap_neighbors
        self.hidden_layer_sizes = hidden_layer_sizes
        self.augment_copies = augment_copies
        self.styled_ones = styled_ones
        self.self_training_rounds = self_training_rounds
        self.epochs = epochs
        self.fine_tune_epochs = fine_tune_epochs
        self.n_jobs = n_jobs
        self.random_state = random_state
        self.progress = progress

    def _validated(self, X: np.ndarray, *, reset: bool) -> np.ndarray:
        """X checked, as (n, 784) images of their own dtype."""
        if np.ndim(X) == 3:
            X = np.asarray(X).reshape(len(X), -1)
        X = validate_data(self, X, reset=reset, dtype=None)
        if X.shape[1] != MNIST_SIDE * MNIST_SIDE:
            raise ValueError(
                f"expected 28x28 images, shape (n, 784) or (n, 28, 28); got {X.shape[1]} features"
            )
        return X

    def _deskewed(self, X: np.ndarray) -> np.ndarray:
        """Validated X deskewed, shape (n, 784): what the network's inputs are computed from."""
        return deskew(X.reshape(-1, MNIST_SIDE, MNIST_SIDE)).reshape(len(X), -1)

    def _report(self, stage: str, fraction: float) -> None:
        if self.progress is not None:
            self.progress(stage, fraction)

    def fit(self, X: np.ndarray, y: None = None) -> DigitClusterer:
        """Learn the clusters from unlabeled X; `y` is ignored."""
        import umap  # training-only dependency: keeps numba out of the serving process

        if not isinstance(self.n_clusters, int | np.integer) or self.n_clusters < 2:
            raise ValueError(f"n_clusters must be an integer >= 2, got {self.n_clusters!r}")
        if not 0.0 <= self.styled_ones <= 1.0:
            raise ValueError(f"styled_ones must be a share in [0, 1], got {self.styled_ones!r}")
        rs = check_random_state(self.random_state)
        raw = self._validated(X, reset=True)
        D = self._deskewed(raw)
        n = len(D)
        if n < max(3 * self.n_clusters, 10):
            raise ValueError(f"need at least {max(3 * self.n_clusters, 10)} samples, got {n}")
        self._report("pca", 0.0)
        n_pca = min(self.n_pca, D.shape[1], n - 1)
        self.pca_ = PCA(n_pca, random_state=_seed(rs)).fit(D)
        H = orientation_histograms(D.reshape(-1, MNIST_SIDE, MNIST_SIDE))
        Z = PCA(min(n_pca, H.shape[1]), random_state=_seed(rs)).fit_transform(H)
        self._report("umap", 0.05)
        umap_seed = _seed(rs)
        reproducible = self.n_jobs in (None, 1)
        E = umap.UMAP(
            n_components=min(self.umap_components, n - 2),
            n_neighbors=min(self.umap_neighbors, n - 1),
            min_dist=0.0,
            random_state=umap_seed if reproducible else None,
            n_jobs=1 if reproducible else self.n_jobs,
        ).fit_transform(Z)
        self._report("mixture", 0.45)
        mixture = GaussianMixture(self.n_clusters, covariance_type="full", random_state=_seed(rs))
        labels = every_cluster_held(mixture.fit(E).predict_proba(E))
        self.pseudo_labels_ = labels
        net = MLPClassifier(
            self.hidden_layer_sizes,
            batch_size=min(_BATCH_SIZE, n),
            random_state=_seed(rs),
            warm_start=True,
        )
        rng = np.random.default_rng(_seed(rs))
        N = network_inputs(D, NETWORK_READS)
        rounds = max(1, self.self_training_rounds)
        for round_ in range(rounds):
            self._report("self-training", 0.5 + 0.45 * round_ / rounds)
            labels = self._self_train(net, raw, D, N, labels, rng)
        self._report("centroids", 0.95)
        weights = [without_negligible(w) for w in net.coefs_]
        biases = [b.astype(np.float32) for b in net.intercepts_]
        if weights[-1].shape[1] == 1:
            # Two classes: scikit-learn uses one logistic unit, the same as softmax over [0, z].
            weights[-1] = np.hstack([np.zeros_like(weights[-1]), weights[-1]])
            biases[-1] = np.concatenate([np.zeros(1, np.float32), biases[-1]])
        self.network_ = FeatureNetwork(weights, biases, NETWORK_READS)
        F = network_forward(N, weights, biases)
        self._fit_centroids(F, labels, rs)
        self._report("done", 1.0)
        return self

    def _self_train(
        self,
        net: MLPClassifier,
        raw: np.ndarray,
        D: np.ndarray,
        N: np.ndarray,
        labels: np.ndarray,
        rng: np.random.Generator,
    ) -> np.ndarray:
        """Fit `net` on the labels of the digits (raw, deskewed D, network inputs N) and of
        augmented copies; return its relabelling of them.

        A copy warps the raw image and is then deskewed, as serving deskews what it is sent,
        so the network learns what serving will show it: warping the deskewed digits instead
        would teach it slants that serving never shows.
        """
        parts = [N]
        side = raw.reshape(-1, MNIST_SIDE, MNIST_SIDE)
        strokes = stroke_cluster(D, labels) if self.styled_ones > 0 else -1
        members = np.flatnonzero(labels == strokes)
        for _ in range(self.augment_copies):
            restyle = members[rng.random(len(members)) < self.styled_ones]
            copy = augmented_copy(side, rng, restyle)
            parts.append(network_inputs(copy.reshape(len(raw), -1), NETWORK_READS))
        inputs = np.concatenate(parts)
        del parts
        targets = np.tile(labels, len(inputs) // len(N))
        # Few epochs on purpose: the network should generalise the pseudo-labels, not memorise them.
        # Each fit of a warm-started network keeps its weights and starts a new Adam optimiser.
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            net.set_params(max_iter=self.epochs, learning_rate_init=_LEARNING_RATE)
            net.fit(inputs, targets)
            if self.fine_tune_epochs:
                rate = _LEARNING_RATE / 10
                net.set_params(max_iter=self.fine_tune_epochs, learning_rate_init=rate)
                net.fit(inputs, targets)
        return np.asarray(net.classes_[every_cluster_held(net.predict_proba(N))])

    def _fit_centroids(self, F: np.ndarray, labels: np.ndarray, rs: np.random.RandomState) -> None:
        present = np.unique(labels)
        means = np.stack([F[labels == c].mean(axis=0) for c in present])
        if len(present) < self.n_clusters:
            extra = F[rs.choice(len(F), self.n_clusters - len(present), replace=False)]
            means = np.concatenate([means, extra])
        km = KMeans(self.n_clusters, init=means, n_init=1, random_state=_seed(rs)).fit(F)
        self.cluster_centers_ = km.cluster_centers_.astype(np.float32)
        self.labels_ = km.labels_

    def _features(self, X: np.ndarray) -> np.ndarray:
        check_is_fitted(self)
        return self.network_.features(self._deskewed(self._validated(X, reset=False)))

    def transform(self, X: np.ndarray) -> np.ndarray:
        """Distances to each centroid, shape (n_samples, n_clusters)."""
        return np.sqrt(squared_distances(self._features(X), self.cluster_centers_))

    def predict(self, X: np.ndarray) -> np.ndarray:
        """The nearest centroid of each sample, shape (n_samples,)."""
        return self.transform(X).argmin(axis=1)
