"""Maps of stroke orientation (HOG-like): what the pseudo-labels are found in and what the
network reads.

Pixel distances confuse digits whose ink overlaps: a 9 with a round loop and a curved tail
lies near the 3s in pixel space, so UMAP and the mixture would put that whole style of 9 in
the 3s' cluster. Which way the strokes run, place by place, tells such shapes apart: on
`orientation_histograms` the round-looped 9s join the other 9s.

The network reads `pooled_orientations` instead: the same votes blurred by a Gaussian and
sampled on a coarse grid, so a stroke moved by a pixel or turned by a few degrees changes
them little, and a network reading them keeps more jittered and real digits in their
cluster than one reading pixels or cell histograms (docs/benchmarks.md).

One L2 norm over the whole digit, not HOG's usual per-block one: block normalisation
(scikit-image's `hog`) clustered worse, and it runs per image where this runs in batches.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

__all__ = ["orientation_histograms", "orientation_votes", "pooled_orientations"]

BINS = 6  # unsigned orientation bins over 180 degrees
CELL = 4  # histogram cell side in pixels: 7x7 cells on 28x28
POOL_SIGMA = 2.0  # the pooling Gaussian's width in pixels: how far a stroke may move unnoticed
POOL_STRIDE = 3  # pixels between pooled grid points: a 9x9 grid on 28x28
_CHUNK = 5000  # images per batch of votes: bounds the (n, bins, 28, 28) temporary


def _check(X: np.ndarray, multiple: int = 1) -> np.ndarray:
    X = np.asarray(X)
    if X.ndim != 3 or X.shape[1] != X.shape[2] or X.shape[1] % multiple:
        raise ValueError(
            f"expected square images with a side divisible by {multiple}, got {X.shape}"
        )
    return X


def orientation_votes(X: np.ndarray, bins: int = BINS) -> np.ndarray:
    """Each pixel's gradient magnitude, shared between its two nearest orientation bins.

    Parameters
    ----------
    X : ndarray of shape (n_samples, side, side), float in [0, 1]
    bins : orientation bins over [0, 180) degrees

    Returns
    -------
    ndarray of shape (n_samples, bins, side, side), float32
    """
    X = _check(X)
    gy, gx = np.gradient(X.astype(np.float32), axis=(1, 2))
    magnitude = np.hypot(gx, gy)
    position = np.arctan2(gy, gx)  # (-pi, pi]; unsigned orientation folds it to [0, pi]
    position += np.float32(np.pi) * (position < 0)
    position *= np.float32(bins / np.pi)  # in bins, [0, bins]
    votes = np.empty((X.shape[0], bins, *X.shape[1:]), dtype=np.float32)
    share = np.empty_like(position)
    for b in range(bins + 1):  # bin `bins` is bin 0 again, the half circle closed
        np.subtract(position, b, out=share)
        np.abs(share, out=share)
        np.subtract(1, share, out=share)
        np.maximum(share, 0, out=share)
        if b < bins:
            np.multiply(share, magnitude, out=votes[:, b])
        else:
            votes[:, 0] += share * magnitude
    return votes


def orientation_histograms(X: np.ndarray, cell: int = CELL, bins: int = BINS) -> np.ndarray:
    """Orientation votes summed per cell, L2-normalised, square-rooted.

    Parameters
    ----------
    X : ndarray of shape (n_samples, side, side), float in [0, 1]; side a multiple of `cell`
    cell, bins : cell side in pixels; orientation bins over [0, 180) degrees

    Returns
    -------
    ndarray of shape (n_samples, (side // cell) ** 2 * bins), float32, ordered (row, column, bin)
    """
    X = _check(X, cell)
    cells = X.shape[1] // cell

    def one_chunk(part: np.ndarray) -> np.ndarray:
        votes = orientation_votes(part, bins).reshape(len(part), bins, cells, cell, cells, cell)
        return votes.sum(axis=(3, 5), dtype=np.float64).transpose(0, 2, 3, 1)

    return _in_chunks(X, one_chunk, cells * cells * bins)


def pooled_orientations(
    X: np.ndarray, bins: int = BINS, sigma: float = POOL_SIGMA, stride: int = POOL_STRIDE
) -> np.ndarray:
    """Orientation votes blurred by a Gaussian of `sigma` pixels and sampled every `stride`
    pixels on a grid centred on the image, L2-normalised, square-rooted.

    The blur and the sampling are one small matrix per axis, so the cost is two matrix
    products per image: what the bot pays for every photo.

    Returns
    -------
    ndarray of shape (n_samples, points ** 2 * bins), float32, ordered (row, column, bin),
    with points = side // stride
    """
    X = _check(X)
    pool = _gaussian_sampler(X.shape[1], sigma, stride)
    points = pool.shape[0]

    def one_chunk(part: np.ndarray) -> np.ndarray:
        pooled = pool @ orientation_votes(part, bins) @ pool.T
        return pooled.transpose(0, 2, 3, 1)

    return _in_chunks(X, one_chunk, points * points * bins)


def _gaussian_sampler(side: int, sigma: float, stride: int) -> np.ndarray:
    """Rows: each grid point's Gaussian weights over one axis, cut at 4 sigma; they sum to 1
    over the whole line, so ink near the border is not inflated (blank beyond the image)."""
    points = side // stride
    centres = (side - 1) / 2 + (np.arange(points) - (points - 1) / 2) * stride
    line = np.arange(-side, 2 * side)
    offsets = line[None, :] - centres[:, None]
    weights = np.exp(-0.5 * (offsets / sigma) ** 2) * (np.abs(offsets) <= 4 * sigma)
    weights /= weights.sum(axis=1, keepdims=True)
    return weights[:, side : 2 * side].astype(np.float32)


def _in_chunks(
    X: np.ndarray, features: Callable[[np.ndarray], np.ndarray], width: int
) -> np.ndarray:
    """`features` on chunks of X (bounded memory), then one L2 norm per image, square-rooted."""
    out = np.empty((len(X), width), dtype=np.float32)
    for start in range(0, len(X), _CHUNK):
        H = features(X[start : start + _CHUNK]).reshape(-1, width)
        out[start : start + len(H)] = np.sqrt(H / (np.linalg.norm(H, axis=1, keepdims=True) + 1e-6))
    return out
