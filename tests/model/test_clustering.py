"""The clusterer: a real small training run, the estimator conventions, stable ids."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.cluster import KMeans
from sklearn.exceptions import NotFittedError

from model.learning.augment import augment
from model.learning.clustering import DigitClusterer, augmented_copy, every_cluster_held
from model.learning.evaluate import score_clustering
from model.learning.matching import align_to_previous
from model.learning.train import train_model
from model.serving.features import deskew


def test_small_training_beats_raw_pixel_kmeans(small_training, mnist) -> None:
    """The old approach, measured in the same run, is the baseline."""
    model = small_training.model
    train, test = mnist.train_images[:2000], mnist.test_images
    raw = KMeans(10, n_init=4, random_state=0).fit(train.reshape(2000, -1).astype(np.float32))
    baseline = score_clustering(
        mnist.test_labels, raw.predict(test.reshape(10000, -1).astype(np.float32)), 10
    )
    ours = model.metadata["metrics"]
    assert ours["acc"] > baseline.acc + 0.1
    assert ours["nmi"] > baseline.nmi
    assert model.metadata["n_train"] == 2000
    assert sum(model.metadata["cluster_sizes"]) == 2000


def test_labels_only_score(small_training, mnist) -> None:
    """Shuffling the labels cannot change what was learned, only the score."""
    model = small_training.model
    clusters = model.assign(mnist.test_images).clusters
    scores = score_clustering(mnist.test_labels, clusters, model.k)
    assert scores.acc == pytest.approx(model.metadata["metrics"]["acc"])
    shuffled = np.random.default_rng(0).permutation(mnist.test_labels)
    assert score_clustering(shuffled, clusters, model.k).acc < 0.2


def test_progress_reports_every_stage_in_order(mnist) -> None:
    seen: list[tuple[str, float]] = []
    DigitClusterer(
        self_training_rounds=1, epochs=1, random_state=0, progress=lambda s, f: seen.append((s, f))
    ).fit(mnist.train_images[:600])
    stages = [s for s, _ in seen]
    assert stages[0] == "pca"
    assert stages[-1] == "done"
    assert {"umap", "mixture", "self-training", "centroids"} <= set(stages)
    fractions = [f for _, f in seen]
    assert fractions == sorted(fractions)
    assert fractions[-1] == 1.0


def test_extra_images_join_training_but_never_the_samples(mnist) -> None:
    extra = np.zeros((50, 28, 28), dtype=np.uint8)
    extra[:, 10:18, 4:24] = 255  # bars no MNIST digit looks like
    result = train_model(mnist, extra=extra, limit=600, random_state=1, epochs=1)
    assert result.model.metadata["n_extra"] == 50
    samples = np.concatenate([result.model.samples(c) for c in range(result.model.k)])
    assert not any((s == extra[0]).all() for s in samples)


def test_malformed_extra_images_are_refused(mnist) -> None:
    with pytest.raises(ValueError, match=r"shape \(n, 28, 28\) and dtype uint8"):
        train_model(mnist, extra=np.zeros((5, 32, 32), dtype=np.uint8), limit=300)


def test_constructor_only_stores_parameters() -> None:
    est = DigitClusterer(n_clusters=7, random_state=3, hidden_layer_sizes=(32,))
    assert est.get_params()["n_clusters"] == 7
    copy = clone(est)
    assert copy.get_params() == est.get_params()
    assert not [name for name in vars(est) if name.endswith("_")]


def test_predict_before_fit_and_bad_shapes_are_clear(mnist) -> None:
    with pytest.raises(NotFittedError):
        DigitClusterer().predict(mnist.test_images[:3])
    with pytest.raises(ValueError, match="expected 28x28 images"):
        DigitClusterer().fit(np.zeros((100, 30)))
    with pytest.raises(ValueError, match="n_clusters must be an integer >= 2"):
        DigitClusterer(n_clusters=1).fit(mnist.train_images[:100])
    with pytest.raises(ValueError, match="styled_ones must be a share"):
        DigitClusterer(styled_ones=1.5).fit(mnist.train_images[:100])


def test_same_seed_same_clusters(mnist) -> None:
    params = {"self_training_rounds": 1, "epochs": 2, "random_state": 5}
    a = DigitClusterer(**params).fit(mnist.train_images[:500])
    b = DigitClusterer(**params).fit(mnist.train_images[:500])
    np.testing.assert_array_equal(a.labels_, b.labels_)


def test_retrain_keeps_cluster_ids(small_training, mnist) -> None:
    previous = small_training.model
    shuffled = previous.permuted(
        np.random.default_rng(0).permutation(previous.k), dict(previous.metadata)
    )
    aligned = align_to_previous(shuffled, previous, mnist.test_images[:2000])
    assert aligned.changed_answers == 0
    np.testing.assert_array_equal(aligned.model.centroids, previous.centroids)

    retrained = train_model(mnist, limit=2000, random_state=7, epochs=4, previous=previous)
    mine = previous.assign(mnist.test_images).clusters
    theirs = retrained.model.assign(mnist.test_images).clusters
    assert (mine == theirs).mean() > 0.5
    assert retrained.changed_answers == int((mine != theirs).sum())
    assert retrained.model.metadata["aligned_to"] == previous.version


def test_deskew_straightens_a_slanted_stroke() -> None:
    image = np.zeros((28, 28), dtype=np.uint8)
    for r in range(6, 22):
        c = 8 + (r - 6) * 12 // 16  # a "\" stroke
        image[r, c : c + 3] = 255
    out = deskew(image)[0]
    cols = [np.average(np.arange(28), weights=row) for row in out if row.sum() > 0.5]
    assert np.ptp(cols) < 2.0
    np.testing.assert_allclose(deskew(np.zeros((28, 28), np.uint8)), 0.0)


def _slants(images: np.ndarray) -> np.ndarray:
    """Each image's shear by its second moments: what `deskew` removes."""
    rows, cols = np.mgrid[0:28, 0:28]
    mass = images.sum(axis=(1, 2))
    cr = (images * rows).sum(axis=(1, 2)) / mass
    cc = (images * cols).sum(axis=(1, 2)) / mass
    var_r = (images * (rows - cr[:, None, None]) ** 2).sum(axis=(1, 2)) / mass
    cov = (images * (rows - cr[:, None, None]) * (cols - cc[:, None, None])).sum(axis=(1, 2))
    return cov / mass / var_r


def test_self_training_copies_are_warped_then_deskewed_like_served_digits(mnist) -> None:
    """The network must learn from what serving shows it: warped digits, deskewed."""
    raw = mnist.train_images[:200]
    copies = augmented_copy(raw, np.random.default_rng(0))
    warped = augment(raw, np.random.default_rng(0))
    assert np.abs(_slants(warped)).mean() > 0.1
    assert np.abs(_slants(copies)).max() < 0.05
    np.testing.assert_allclose(copies, deskew(warped), atol=1e-6)
    assert np.abs(copies - deskew(raw)).mean() > 0.02  # a new view, not the digit again


def test_restyled_copies_differ_only_where_asked(mnist) -> None:
    ones = np.flatnonzero(mnist.train_labels[:300] == 1)[:10]
    raw = mnist.train_images[:300]
    plain = augmented_copy(raw, np.random.default_rng(0))
    styled = augmented_copy(raw, np.random.default_rng(0), ones)
    others = np.setdiff1d(np.arange(300), ones)
    changed = np.abs(styled - plain).sum(axis=(1, 2))
    assert (changed[ones] > 5).all()  # a foot or a flag is several pixels of ink
    assert raw.dtype == np.uint8
    assert raw[ones].max() == 255
    assert np.abs(_slants(styled)).max() < 0.05
    np.testing.assert_array_equal(styled[others], plain[others])


def test_an_empty_cluster_is_given_its_likeliest_digits() -> None:
    """Self-training relabels the digits each round and warm-starts the network on the same
    clusters (scikit-learn refuses a warm start on fewer): a cluster no digit is likeliest for
    takes the digits likeliest for it, from clusters that can spare them."""
    rng = np.random.default_rng(0)
    likelihood = rng.random((400, 4))
    likelihood[:, 3] *= 0.1  # no digit's likeliest
    likelihood[7, 3] = 0.9  # ...though the most likely for it of all, it is a 0's first
    likelihood[7, 0] = 1.0
    labels = every_cluster_held(likelihood)
    assert np.bincount(labels, minlength=4).min() >= 1
    assert labels[7] == 3
    unchanged = labels == likelihood.argmax(axis=1)
    assert np.count_nonzero(~unchanged) == np.count_nonzero(labels == 3)
    assert np.array_equal(every_cluster_held(likelihood[:, :3]), likelihood[:, :3].argmax(1))
