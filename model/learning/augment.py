"""Self-training's augmentation: the handwriting's own variation, drawn at random."""

from __future__ import annotations

import numpy as np

from model.serving.features import CENTRE, affine_warp, to_unit


def augment(
    X: np.ndarray,
    rng: np.random.Generator,
    *,
    max_rotation: float = 20.0,
    scale: tuple[float, float] = (0.9, 1.1),
    max_shift: float = 2.0,
    max_shear: float = 0.15,
) -> np.ndarray:
    """Randomly rotate, scale, shear and shift each image (self-training's augmentation).

    The defaults are self-training's: rotations up to 20°, wider than the 15° handwriting
    varies by (`bench_model.py`'s jitter), so that rotated digits keep their cluster.

    Parameters
    ----------
    X : ndarray of shape (n_samples, 28, 28), float32 in [0, 1]
    rng : numpy Generator

    Returns
    -------
    ndarray of shape (n_samples, 28, 28), float32
    """
    U = to_unit(X)
    n = U.shape[0]
    theta = np.deg2rad(rng.uniform(-max_rotation, max_rotation, n))
    s = rng.uniform(scale[0], scale[1], n)
    shear = rng.uniform(-max_shear, max_shear, n)
    cos, sin = np.cos(theta) / s, np.sin(theta) / s
    matrices = np.empty((n, 2, 2), dtype=np.float32)
    matrices[:, 0, 0] = cos
    matrices[:, 0, 1] = -sin
    matrices[:, 1, 0] = sin + shear
    matrices[:, 1, 1] = cos
    centre = np.full(2, CENTRE, dtype=np.float32)
    shift = rng.uniform(-max_shift, max_shift, (n, 2))
    offsets = centre - matrices @ centre + shift
    return affine_warp(U, matrices, offsets.astype(np.float32))
