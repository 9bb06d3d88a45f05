"""Deskewing, and the batched affine sampler it shares with self-training's augmentation.

Plain numpy, which keeps the serving path free of heavy runtimes.
"""

from __future__ import annotations

import numpy as np

from model import MNIST_SIDE

__all__ = ["CENTRE", "affine_warp", "deskew", "to_unit"]

CENTRE = (MNIST_SIDE - 1) / 2.0  # the pixel grid's centre, which warps turn about
_CHUNK = 8192  # images warped at a time: bounds the sampler's temporary arrays
# Pixel coordinates, built once: serving one image should not pay for them every call.
_ROWS, _COLS = (a.ravel()[None, :] for a in np.mgrid[0:MNIST_SIDE, 0:MNIST_SIDE].astype(np.float32))
# Per-pixel 1, r, c, r², rc: an image's moments are one product with this basis.
_MOMENT_BASIS = (
    np.stack([np.ones_like(_ROWS), _ROWS, _COLS, _ROWS * _ROWS, _ROWS * _COLS])
    .reshape(5, -1)
    .T.astype(np.float64)
)


def _check_images(X: np.ndarray) -> np.ndarray:
    X = np.asarray(X)
    if X.ndim == 2 and X.shape == (MNIST_SIDE, MNIST_SIDE):
        X = X[None]
    if X.ndim != 3 or X.shape[1:] != (MNIST_SIDE, MNIST_SIDE):
        raise ValueError(f"expected images of shape (n, 28, 28), got {X.shape}")
    return X


def to_unit(X: np.ndarray) -> np.ndarray:
    """Scale uint8 images to float32 in [0, 1], checking the shape.

    Parameters
    ----------
    X : ndarray of shape (n_samples, 28, 28) or (28, 28), uint8

    Returns
    -------
    ndarray of shape (n_samples, 28, 28), float32
    """
    X = _check_images(X)
    if X.dtype == np.uint8:
        return X.astype(np.float32) / 255.0
    return X.astype(np.float32, copy=False)


def affine_warp(X: np.ndarray, matrices: np.ndarray, offsets: np.ndarray) -> np.ndarray:
    """Sample each image at `matrices[i] @ (row, col) + offsets[i]` with bilinear weights.

    Parameters
    ----------
    X : ndarray of shape (n_samples, 28, 28), float32
    matrices : ndarray of shape (n_samples, 2, 2)
        Maps output (row, col) coordinates to input coordinates.
    offsets : ndarray of shape (n_samples, 2)

    Returns
    -------
    ndarray of shape (n_samples, 28, 28), float32; pixels sampled outside are 0.
    """
    n = X.shape[0]
    # A blank border of 1 before and 2 after: every corner of a clipped sample is inside.
    width = MNIST_SIDE + 3
    grid_r, grid_c = _ROWS, _COLS
    padded = np.zeros((n, width, width), dtype=np.float32)
    padded[:, 1 : MNIST_SIDE + 1, 1 : MNIST_SIDE + 1] = X
    flat = padded.ravel()
    out = np.empty((n, MNIST_SIDE * MNIST_SIDE), dtype=np.float32)
    m = np.asarray(matrices, dtype=np.float32)
    o = np.asarray(offsets, dtype=np.float32) + 1.0  # +1 for the zero border
    for start in range(0, n, _CHUNK):
        part = slice(start, min(start + _CHUNK, n))
        mm, oo = m[part], o[part]
        src_r = mm[:, 0, 0, None] * grid_r + mm[:, 0, 1, None] * grid_c + oo[:, 0, None]
        src_c = mm[:, 1, 0, None] * grid_r + mm[:, 1, 1, None] * grid_c + oo[:, 1, None]
        np.clip(src_r, 0.0, MNIST_SIDE + 1, out=src_r)  # on the blank border, not past it
        np.clip(src_c, 0.0, MNIST_SIDE + 1, out=src_c)
        r0, c0 = np.floor(src_r), np.floor(src_c)
        fr, fc = src_r - r0, src_c - c0
        base = (np.arange(part.start, part.stop) * width * width)[:, None]
        i00 = (r0 * width + c0).astype(np.intp) + base  # small whole numbers: exact in float32
        i10 = i00 + width
        top = flat[i00] * (1 - fc) + flat[i00 + 1] * fc
        bottom = flat[i10] * (1 - fc) + flat[i10 + 1] * fc
        out[part] = top * (1 - fr) + bottom * fr
    return out.reshape(n, MNIST_SIDE, MNIST_SIDE)


def deskew(X: np.ndarray) -> np.ndarray:
    """Remove each digit's slant by a shear fitted to its second moments.

    Slant is the largest nuisance variation in handwriting, and removing it before learning
    makes even plain k-means on pixels find the digits far better. The shear keeps the
    centre of mass at the image centre, so a centred digit stays centred.

    Parameters
    ----------
    X : ndarray of shape (n_samples, 28, 28) or (28, 28), uint8 or float in [0, 1]

    Returns
    -------
    ndarray of shape (n_samples, 28, 28), float32 in [0, 1]
    """
    U = to_unit(X)
    n = U.shape[0]
    moments = U.reshape(n, -1).astype(np.float64) @ _MOMENT_BASIS
    mass = moments[:, 0]
    safe = np.where(mass > 0, mass, 1.0)
    cr, cc = moments[:, 1] / safe, moments[:, 2] / safe
    var_r = moments[:, 3] / safe - cr * cr
    cov = moments[:, 4] / safe - cr * cc
    alpha = np.where((mass > 0) & (var_r > 1e-6), cov / np.maximum(var_r, 1e-6), 0.0)
    matrices = np.zeros((n, 2, 2), dtype=np.float32)
    matrices[:, 0, 0] = 1.0
    matrices[:, 1, 0] = alpha
    matrices[:, 1, 1] = 1.0
    centre = np.full(2, CENTRE, dtype=np.float32)
    offsets = np.stack([cr, cc], axis=1) - matrices @ centre
    return np.clip(affine_warp(U, matrices, offsets.astype(np.float32)), 0.0, 1.0)
