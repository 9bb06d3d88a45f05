"""Stroke orientation features: which way strokes run, and how little a moved stroke changes
what the network reads."""

from __future__ import annotations

import numpy as np
import pytest

from model.serving.orientations import (
    orientation_histograms,
    orientation_votes,
    pooled_orientations,
)


def _bars() -> np.ndarray:
    bars = np.zeros((2, 28, 28), dtype=np.float32)
    bars[0, 4:24, 12:16] = 1.0  # vertical
    bars[1, 12:16, 4:24] = 1.0  # horizontal
    return bars


def _bin_shares(features: np.ndarray, bins: int = 6) -> np.ndarray:
    per_bin = (features.reshape(len(features), -1, bins) ** 2).sum(axis=1)
    return per_bin / per_bin.sum(axis=1, keepdims=True)


def test_orientation_histograms_say_which_way_strokes_run() -> None:
    """A vertical bar's edges are horizontal gradients (bin 0 of 6), a horizontal bar's are
    vertical ones (bin 3), in the cells the bar crosses and nowhere else."""
    H = orientation_histograms(_bars()).reshape(2, 7, 7, 6)
    np.testing.assert_allclose(np.linalg.norm(H.reshape(2, -1) ** 2, axis=1), 1.0, atol=1e-3)
    share = _bin_shares(H)
    # The long sides dominate; the bar's two short ends give the perpendicular bin the rest.
    assert share[0].argmax() == 0
    assert share[0, 0] > 0.75
    assert share[1].argmax() == 3
    assert share[1, 3] > 0.75
    np.testing.assert_allclose(share[0], np.roll(share[1], 3), atol=1e-6)
    assert H[0, :, 0].sum() == H[0, :, 6].sum() == 0.0  # no ink near the outer columns
    assert orientation_histograms(np.zeros((0, 28, 28), np.float32)).shape == (0, 294)
    with pytest.raises(ValueError, match="square images"):
        orientation_histograms(np.zeros((3, 28, 30), np.float32))


def test_each_pixel_shares_its_gradient_between_the_two_nearest_orientations() -> None:
    """Votes sum to the gradient's magnitude; a gradient at 175 degrees, past the last bin's
    centre (150), splits between that bin and bin 0 across the half circle's end."""
    rng = np.random.default_rng(0)
    images = rng.random((5, 28, 28)).astype(np.float32)
    votes = orientation_votes(images)
    gy, gx = np.gradient(images, axis=(1, 2))
    np.testing.assert_allclose(votes.sum(axis=1), np.hypot(gx, gy), rtol=1e-5, atol=1e-6)
    assert ((votes > 0).sum(axis=1) <= 2).all()

    ramp = np.zeros((1, 28, 28), dtype=np.float32)
    angle = np.deg2rad(175.0)
    rows, cols = np.mgrid[0:28, 0:28]
    ramp[0] = (np.cos(angle) * cols + np.sin(angle) * rows) / 100 + 0.5
    centre = orientation_votes(ramp)[0, :, 14, 14]
    # 175 degrees is 5.83 bins: 5/6 of the vote to bin 0 (180), 1/6 to bin 5 (150).
    np.testing.assert_allclose(centre / centre.sum(), [5 / 6, 0, 0, 0, 0, 1 / 6], atol=1e-4)


def test_pooled_orientations_say_which_way_and_barely_change_when_a_stroke_moves() -> None:
    bars = _bars()
    pooled = pooled_orientations(bars)
    assert pooled.shape == (2, 9 * 9 * 6)
    np.testing.assert_allclose(np.linalg.norm(pooled**2, axis=1), 1.0, atol=1e-3)
    share = _bin_shares(pooled)
    assert share[0].argmax() == 0
    assert share[1].argmax() == 3

    moved = np.stack([np.roll(bars[0], 1, axis=1), np.roll(bars[1], 1, axis=0)])  # across
    pixels_kept = (bars * moved).sum(axis=(1, 2)) / (bars * bars).sum(axis=(1, 2))
    after = pooled_orientations(moved)
    cosine = (pooled * after).sum(axis=1)
    pooled_kept = cosine / np.linalg.norm(pooled, axis=1) / np.linalg.norm(after, axis=1)
    assert (pixels_kept <= 0.75 + 1e-6).all()  # a 4-pixel-wide bar keeps 3 of its 4 columns
    assert (pooled_kept > 0.95).all()

    blank = pooled_orientations(np.zeros((3, 28, 28), np.float32))
    assert blank.shape == (3, 486)
    assert np.isfinite(blank).all()
    assert not blank.any()
    with pytest.raises(ValueError, match="square images"):
        pooled_orientations(np.zeros((3, 28, 30), np.float32))
