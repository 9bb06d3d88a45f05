"""The batched bilinear sampler behind deskewing and augmentation."""

from __future__ import annotations

import numpy as np

from model.serving.features import affine_warp


def _warp(X: np.ndarray, shift: tuple[float, float]) -> np.ndarray:
    n = len(X)
    identity = np.tile(np.eye(2, dtype=np.float32), (n, 1, 1))
    return affine_warp(X, identity, np.tile(np.asarray(shift, np.float32), (n, 1)))


def test_affine_warp_samples_bilinearly_with_blank_beyond_every_edge() -> None:
    rng = np.random.default_rng(0)
    X = rng.random((3, 28, 28)).astype(np.float32)
    np.testing.assert_array_equal(_warp(X, (0.0, 0.0)), X)

    # Half a pixel right of each pixel: the mean of it and its right neighbour; beyond the
    # last column there is blank, so the last column keeps half of itself.
    right = _warp(X, (0.0, 0.5))
    np.testing.assert_allclose(right[:, :, :27], (X[:, :, :27] + X[:, :, 1:]) / 2, rtol=1e-6)
    np.testing.assert_allclose(right[:, :, 27], X[:, :, 27] / 2, rtol=1e-6)
    below = _warp(X, (0.25, 0.0))
    np.testing.assert_allclose(below[:, 27, :], X[:, 27, :] * 0.75, rtol=1e-6)
    left = _warp(X, (0.0, -0.5))
    np.testing.assert_allclose(left[:, :, 0], X[:, :, 0] / 2, rtol=1e-6)

    for far in ((0.0, 40.0), (40.0, 0.0), (-40.0, 0.0), (0.0, 28.9)):
        assert not _warp(X, far).any()
