"""The 1s European writers draw, drawn onto MNIST's plain strokes for self-training."""

from __future__ import annotations

import numpy as np
import pytest

from model.learning.styles import stroke_cluster, with_foot_and_flag
from model.serving.features import deskew


def _plain_one() -> np.ndarray:
    image = np.zeros((28, 28), dtype=np.float32)
    image[4:24, 13:15] = 1.0  # a 20-pixel stroke, 2 pixels wide
    return image


def _ring() -> np.ndarray:
    rows, cols = np.mgrid[0:28, 0:28]
    radius = np.hypot(rows - 13.5, cols - 13.5)
    return ((radius > 6) & (radius < 8.5)).astype(np.float32)


def _parts(image: np.ndarray) -> tuple[float, bool, bool]:
    """A styled 1's foot length over its height, whether it has a foot (ink beyond both sides
    of the stem in its bottom rows) and a flag (ink left of the stem in its top half). The
    stem is the columns inked down half the digit's rows."""
    ink = image >= 0.5
    rows = np.flatnonzero(ink.any(axis=1))
    top, bottom = rows[0], rows[-1]
    height = bottom - top + 1
    stem = np.flatnonzero(ink[top : bottom + 1].sum(axis=0) >= height / 2)
    left, right = stem[0], stem[-1]
    foot_cols = np.flatnonzero(ink[bottom - 2 : bottom + 1].any(axis=0))
    has_foot = foot_cols[0] < left - 1 and foot_cols[-1] > right + 1
    has_flag = ink[top : top + height // 2, : max(left - 1, 0)].any()
    return (foot_cols[-1] - foot_cols[0] + 1) / height, bool(has_foot), bool(has_flag)


def test_a_plain_stroke_gets_a_foot_a_flag_or_both_in_mnists_framing() -> None:
    """A foot 36-120% of the height, a flag down and left of the top, in the shares drawn;
    then framed as MNIST frames a digit: its box 20 px on the longer side, its centre of
    mass in the middle."""
    strokes = np.repeat(_plain_one()[None], 400, axis=0)
    styled = with_foot_and_flag(strokes, np.random.default_rng(0))
    assert styled.shape == strokes.shape
    assert styled.dtype == np.float32
    assert styled.min() >= 0.0
    assert styled.max() <= 1.0
    parts = [_parts(image) for image in styled]
    feet = np.array([p[1] for p in parts])
    flags = np.array([p[2] for p in parts])
    assert (feet | flags).all()
    assert 0.6 < feet.mean() < 0.8  # 30% foot, 30% flag, 40% both
    assert 0.6 < flags.mean() < 0.8
    assert 0.3 < (feet & flags).mean() < 0.5
    lengths = np.array([p[0] for p in parts])[feet]
    assert lengths.min() >= 0.3
    assert lengths.max() <= 1.35
    assert np.percentile(lengths, 90) > 0.9  # bases as wide as the digit is tall are drawn
    for image in styled:
        rows = np.flatnonzero((image >= 0.5).any(axis=1))
        cols = np.flatnonzero((image >= 0.5).any(axis=0))
        assert max(rows[-1] - rows[0], cols[-1] - cols[0]) + 1 in (19, 20, 21)
        mass = image.sum()
        centre = (
            (image.sum(axis=1) * np.arange(28)).sum() / mass,
            (image.sum(axis=0) * np.arange(28)).sum() / mass,
        )
        assert abs(centre[0] - 14) <= 1.0
        assert abs(centre[1] - 14) <= 1.0


def test_the_pen_width_follows_the_stroke() -> None:
    """The foot is drawn with the stroke's own pen: thicker for a thicker stroke."""
    thin, thick = np.zeros((2, 28, 28), dtype=np.float32)
    thin[4:24, 14] = 1.0
    thick[4:24, 12:16] = 1.0
    rng = np.random.default_rng(1)

    def foot_rows(image: np.ndarray) -> int:
        ink = image >= 0.5
        cols = np.flatnonzero(ink.any(axis=0))
        return int(np.count_nonzero(ink[:, cols[0]]))  # the foot's end: only the foot there

    styled_thin = with_foot_and_flag(np.repeat(thin[None], 50, 0), rng)
    styled_thick = with_foot_and_flag(np.repeat(thick[None], 50, 0), rng)
    assert np.median([foot_rows(i) for i in styled_thick]) > np.median(
        [foot_rows(i) for i in styled_thin]
    )
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
