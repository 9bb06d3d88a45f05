"""The typicality statistics: fitted on training digits, they score those digits as fitted."""

from __future__ import annotations

import numpy as np
import pytest

from model.serving.features import deskew
from model.serving.typicality import OUTLIER_PERCENTILE, Typicality


@pytest.fixture(scope="module")
def fitted(mnist) -> tuple[Typicality, np.ndarray, np.ndarray]:
    """Statistics of 3,000 training digits in 3 clusters (digits 0, 1 and the rest)."""
    flat = deskew(mnist.train_images[:3000]).reshape(3000, -1)
    clusters = np.minimum(mnist.train_labels[:3000], 2).astype(np.int64)
    mean = flat.mean(axis=0)
    components = np.linalg.svd(flat - mean, full_matrices=False)[2][:20]
    stats = Typicality.fit(flat, clusters, 3, pca_mean=mean, pca_components=components)
    return stats, flat, clusters


def test_the_training_digits_score_as_fitted(fitted) -> None:
    stats, flat, clusters = fitted
    typicality, is_outlier = stats.score(flat, clusters)
    assert ((typicality >= 0) & (typicality <= 1)).all()
    assert is_outlier.mean() == pytest.approx(1 - OUTLIER_PERCENTILE / 100, abs=0.002)
    for c in range(3):
        # Half of a cluster's training digits lie farther from its mean than its median one.
        assert np.median(typicality[clusters == c]) == pytest.approx(0.5, abs=0.01)


def test_the_most_typical_digits_are_the_nearest_to_their_cluster_mean(fitted) -> None:
    stats, flat, clusters = fitted
    typicality, _ = stats.score(flat, clusters)
    for c, ranked in enumerate(stats.most_typical(flat, clusters, 8)):
        assert (clusters[ranked] == c).all()
        assert (np.diff(typicality[ranked]) <= 0).all()
        assert typicality[ranked[0]] == typicality[clusters == c].max()


def test_a_blot_is_an_outlier(fitted) -> None:
    stats, _, _ = fitted
    blot = np.ones((1, 784), np.float32)
    assert stats.score(blot, np.zeros(1, np.int64))[1].all()


def test_permuting_and_storing_keep_every_statistic(fitted) -> None:
    stats, flat, clusters = fitted
    order = np.array([2, 0, 1])
    renamed = stats.permuted(order)
    np.testing.assert_array_equal(
        renamed.score(flat, np.argsort(order)[clusters])[0], stats.score(flat, clusters)[0]
    )
    again = Typicality.from_arrays(stats.arrays())
    assert again.outlier_limit == np.float32(stats.outlier_limit)
    for name, array in stats.arrays().items():
        np.testing.assert_array_equal(again.arrays()[name], array, err_msg=name)
