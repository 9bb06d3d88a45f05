"""The 1s European writers draw, drawn onto MNIST's plain strokes for self-training."""

from __future__ import annotations

import numpy as np
import pytest

from model.features import deskew
from model.styles import stroke_cluster, with_foot_and_flag


def _plain_one() -> np.ndarray:
    image = np.zeros((28, 28), dtype=np.float32)
    image[4:24, 13:15] = 1.0  # a 20-pixel stroke, 2 pixels wide
    return image


def _ring() -> np.ndarray:
    rows, cols = np.mgrid[0:28, 0:28]
    radius = np.hypot(rows - 13.5, cols - 13.5)
    return ((radius > 6) & (radius < 8.5)).astype(np.float32)


def test_a_plain_stroke_gets_a_foot_a_flag_or_both_and_keeps_its_ink() -> None:
    strokes = np.repeat(_plain_one()[None], 400, axis=0)
    styled = with_foot_and_flag(strokes, np.random.default_rng(0))
    assert styled.shape == strokes.shape
    assert styled.dtype == np.float32
    assert styled.min() >= 0.0
    assert styled.max() <= 1.0
    assert (styled >= strokes).all()
    # A foot: the bottom rows reach well beyond the stroke on both sides.
    bottom = styled[:, 21:24]
    feet = (bottom[:, :, :11].max(axis=(1, 2)) > 0.5) & (bottom[:, :, 16:].max(axis=(1, 2)) > 0.5)
    # A flag: ink left of the stroke's top, none right of it.
    top = styled[:, 4:12]
    flags = top[:, :, :12].max(axis=(1, 2)) > 0.5
    assert not top[:, :, 16:].any()
    assert (feet | flags).all()
    assert 0.6 < feet.mean() < 0.8  # 30% foot, 30% flag, 40% both
    assert 0.6 < flags.mean() < 0.8
    assert 0.3 < (feet & flags).mean() < 0.5
    # Nothing drawn but the bars: the middle of the stroke is as it was.
    np.testing.assert_array_equal(styled[:, 14:17], strokes[:, 14:17])


def test_the_pen_width_follows_the_stroke() -> None:
    thin, thick = np.zeros((2, 28, 28), dtype=np.float32)
    thin[4:24, 14] = 1.0
    thick[4:24, 12:16] = 1.0
    rng = np.random.default_rng(1)
    thin_ink = with_foot_and_flag(np.repeat(thin[None], 50, 0), rng).sum() - 50 * thin.sum()
    thick_ink = with_foot_and_flag(np.repeat(thick[None], 50, 0), rng).sum() - 50 * thick.sum()
    assert thick_ink > 1.5 * thin_ink
    assert with_foot_and_flag(np.zeros((0, 28, 28)), rng).shape == (0, 28, 28)


def test_the_stroke_cluster_is_the_far_narrower_one() -> None:
    strokes = np.repeat(_plain_one()[None], 30, axis=0)
    rings = np.repeat(_ring()[None], 60, axis=0)
    images = np.concatenate([rings, strokes])
    labels = np.repeat([0, 1, 2], 30)
    assert stroke_cluster(images, labels) == 2
    assert stroke_cluster(rings, labels[:60]) == -1  # none narrower than the rest
    assert stroke_cluster(images, np.repeat([0, 1], 45)) == -1  # too few clusters to tell


@pytest.mark.parametrize("split", ["train", "test"])
def test_mnist_stroke_cluster_is_its_ones(mnist, split) -> None:
    """Labels here only check what the label-free rule found."""
    images = getattr(mnist, f"{split}_images")[:3000]
    labels = getattr(mnist, f"{split}_labels")[:3000]
    assert stroke_cluster(deskew(images), labels) == 1
