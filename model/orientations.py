"""Histograms of stroke orientation (HOG-like): the space the first pseudo-labels are found in.

Pixel distances confuse digits whose ink overlaps: a 9 with a round loop and a curved tail
lies near the 3s in pixel space, so UMAP and the mixture put that whole style of 9 in the 3s'
cluster, and so did every model trained on those labels. Which way the strokes run, cell by
cell, tells such shapes apart: on MNIST's training split, UMAP and the mixture on these
histograms found the digits with ACC 0.989 (pixels: 0.980), and the round-looped 9s joined
the other 9s.

One L2 norm over the whole digit, not HOG's usual per-block one: scikit-image's `hog` with
block normalisation (L2-Hys, 2x2 or 3x3 cells per block) measured 0.978 and 0.987 here, and
it runs per image (about 17 s for the 60,000, against about 3 s for this batch version, both
measured beside other work).
"""

from __future__ import annotations

import numpy as np

__all__ = ["orientation_histograms"]

CELL = 4  # pixels per cell side: 7x7 cells on 28x28 (7-pixel cells measured far worse)
BINS = 6  # unsigned orientations over 180 degrees (6, 9 and 12 measured alike)
_CHUNK = 5000


def orientation_histograms(X: np.ndarray, cell: int = CELL, bins: int = BINS) -> np.ndarray:
    """Gradient-magnitude-weighted orientation histograms per cell, L2-normalised, square-rooted.

    Parameters
    ----------
    X : ndarray of shape (n_samples, side, side), float in [0, 1]; side a multiple of `cell`
    cell, bins : cell side in pixels; orientation bins over [0, 180) degrees

    Returns
    -------
    ndarray of shape (n_samples, (side // cell) ** 2 * bins), float32
    """
    if X.ndim != 3 or X.shape[1] != X.shape[2] or X.shape[1] % cell:
        raise ValueError(f"expected square images with a side divisible by {cell}, got {X.shape}")
    return np.concatenate(
        [_histograms(X[i : i + _CHUNK], cell, bins) for i in range(0, len(X), _CHUNK)]
        or [np.zeros((0, (X.shape[1] // cell) ** 2 * bins), np.float32)]
    )


def _histograms(X: np.ndarray, cell: int, bins: int) -> np.ndarray:
    n, side = X.shape[0], X.shape[1]
    cells = side // cell
    gy, gx = np.gradient(X.astype(np.float32), axis=(1, 2))
    magnitude = np.hypot(gx, gy)
    position = np.mod(np.arctan2(gy, gx), np.pi) * (bins / np.pi)
    lower = np.floor(position)
    upper_share = position - lower
    lower_bin = lower.astype(np.int64) % bins
    # Each pixel votes into its cell's two nearest orientation bins.
    cell_of = np.arange(side) // cell
    base = (
        np.arange(n)[:, None, None] * cells * cells
        + cell_of[None, :, None] * cells
        + cell_of[None, None, :]
    ) * bins
    size = n * cells * cells * bins
    H = np.bincount(
        (base + lower_bin).ravel(), (magnitude * (1 - upper_share)).ravel(), minlength=size
    ) + np.bincount(
        (base + (lower_bin + 1) % bins).ravel(), (magnitude * upper_share).ravel(), minlength=size
    )
    H = H.reshape(n, -1).astype(np.float32)
    return np.sqrt(H / (np.linalg.norm(H, axis=1, keepdims=True) + 1e-6))
