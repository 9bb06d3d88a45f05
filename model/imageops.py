"""Array primitives for the preprocessing's small images (a few hundred pixels a side).

Each equals a scipy.ndimage, numpy or Pillow call up to float rounding, but costs a fraction of
it there: at these sizes those calls spend most of their time on argument handling, generic
iteration or format conversion rather than on the pixels.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import lru_cache

import numpy as np

_Extreme = Callable[[np.ndarray, np.ndarray], np.ndarray]


def quantile(values: np.ndarray, q: float) -> float:
    """`np.quantile(values, q)` (linear interpolation) by a partial sort."""
    flat = values.ravel()
    position = q * (flat.size - 1)
    below = int(position)
    above = min(below + 1, flat.size - 1)
    part = np.partition(flat, (below, above))
    return float(part[below] + (position - below) * (part[above] - part[below]))


def closing(image: np.ndarray, size: int) -> np.ndarray:
    """`ndimage.grey_closing(image, size=(size, size))`: dark features narrower than `size`
    filled in."""
    return erosion(dilation(image, size), size)


def opening(image: np.ndarray, size: int) -> np.ndarray:
    """`ndimage.grey_opening(image, size=(size, size))`: light features narrower than `size`
    removed."""
    return dilation(erosion(image, size), size)


def dilation(image: np.ndarray, size: int) -> np.ndarray:
    """The maximum over a `size` x `size` window; for an even size, placed as the erosion's
    mirror (as scipy does), so that a closing or opening does not shift the image."""
    return _filter(image, size, np.maximum, (size - 1) // 2)


def erosion(image: np.ndarray, size: int) -> np.ndarray:
    """The minimum over a `size` x `size` window starting `size // 2` before each pixel."""
    return _filter(image, size, np.minimum, size // 2)


def _filter(image: np.ndarray, size: int, extreme: _Extreme, before: int) -> np.ndarray:
    for axis in (0, 1):
        image = _running(image, size, extreme, before, axis)
    return image


def _running(image: np.ndarray, size: int, extreme: _Extreme, before: int, axis: int) -> np.ndarray:
    """The extreme of `size` neighbours along `axis`, from `before` back, built by doubling
    (`log2(size)` passes). The edge values are repeated outward first, which leaves a window
    that leaves the image the extreme of its part inside, like scipy's 'reflect' border."""
    result = np.take(image, _edge_index(image.shape[axis], size, before), axis=axis)
    covered = 1
    while covered < size:
        step = min(covered, size - covered)
        head = [slice(None)] * image.ndim
        tail = [slice(None)] * image.ndim
        head[axis], tail[axis] = slice(None, -step), slice(step, None)
        result = extreme(result[tuple(head)], result[tuple(tail)])
        covered += step
    return result


@lru_cache(maxsize=64)
def _edge_index(length: int, size: int, before: int) -> np.ndarray:
    """Indices that pad a `length` axis by `before` and by the rest of the window after."""
    return np.clip(np.arange(-before, length + size - 1 - before), 0, length - 1)


def bounding_box(mask: np.ndarray) -> tuple[slice, slice]:
    """The rows and the columns that a non-empty `mask`'s pixels span."""
    rows = np.flatnonzero(mask.any(axis=1))
    cols = np.flatnonzero(mask.any(axis=0))
    return slice(int(rows[0]), int(rows[-1]) + 1), slice(int(cols[0]), int(cols[-1]) + 1)


def grow(mask: np.ndarray, iterations: int = 1) -> np.ndarray:
    """`ndimage.binary_dilation(mask, iterations=...)`: each pass adds the 4-neighbours."""
    for _ in range(iterations):
        grown = mask.copy()
        grown[1:] |= mask[:-1]
        grown[:-1] |= mask[1:]
        grown[:, 1:] |= mask[:, :-1]
        grown[:, :-1] |= mask[:, 1:]
        mask = grown
    return mask


def upsample(image: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """Pillow's bilinear resize of a float image to a larger `shape` (rows, columns), as two
    small matrix products: no conversion to and from a Pillow image."""
    rows = _bilinear(image.shape[0], shape[0])
    columns = _bilinear(image.shape[1], shape[1])
    return rows @ (image @ columns.T)


@lru_cache(maxsize=16)
def _bilinear(size: int, new_size: int) -> np.ndarray:
    """Weights (new_size, size) of Pillow's bilinear filter when enlarging: a triangle one
    source pixel wide around each output pixel's centre, renormalised at the edges."""
    centres = (np.arange(new_size) + 0.5) * (size / new_size)
    weights = np.clip(1.0 - np.abs(np.arange(size) + 0.5 - centres[:, None]), 0.0, None)
    return (weights / weights.sum(axis=1, keepdims=True)).astype(np.float32)
