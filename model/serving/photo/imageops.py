"""Array primitives for the preprocessing's small images (a few hundred pixels a side).

Each equals a scipy.ndimage, numpy or Pillow call up to float rounding, but costs a fraction of
it there: at these sizes those calls spend most of their time on argument handling, generic
iteration or format conversion rather than on the pixels.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from functools import lru_cache

import numpy as np

from model.serving.photo.box import Box

_Extreme = Callable[[np.ndarray, np.ndarray], np.ndarray]


def quantile(values: np.ndarray, q: float) -> float:
    """`np.quantile(values, q)` (linear interpolation) by one partial sort placing both values
    either side of the position: numpy selects two ranks at once faster than one rank and a
    maximum over everything before it."""
    position = q * (values.size - 1)
    below = int(position)
    above = min(below + 1, values.size - 1)
    part = np.partition(values, (below, above), axis=None)
    return float(part[below] + (position - below) * (part[above] - part[below]))


def coordinates(mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """`np.nonzero(mask)` of a 2-D array, in the same (raster) order: one search of the
    flattened array and a division cost a third of numpy's 2-D search."""
    rows, cols = np.divmod(np.flatnonzero(mask), mask.shape[1])
    return rows, cols


def bounding_box(mask: np.ndarray) -> Box:
    """The box that a non-empty `mask`'s pixels span."""
    rows = np.flatnonzero(mask.any(axis=1))
    cols = np.flatnonzero(mask.any(axis=0))
    return Box(int(cols[0]), int(rows[0]), int(cols[-1]) + 1, int(rows[-1]) + 1)


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


def closing(image: np.ndarray, size: int) -> np.ndarray:
    """`ndimage.grey_closing(image, size=(size, size))`: dark features narrower than `size`
    filled in."""
    return erosion(dilation(image, size), size)


def top_hats(image: np.ndarray, size: int) -> tuple[np.ndarray, np.ndarray]:
    """How far each pixel lies below the image's `closing` and above its opening (the
    dilation of the erosion), for an odd `size`: the black and white top-hats.

    The two run as one on the image stacked with its negative: the window maxima of the
    stack are the dilation and the negated erosion; negated, their maxima are the negated
    closing and the opening.
    """
    if size % 2 == 0:
        raise ValueError(f"top_hats needs an odd window, not {size}")
    both = np.stack([image, -image])
    for _ in range(2):
        both = -_filter(both, (size, size), np.maximum, mirrored=False)
    return both[0] - image, image + both[1]


def dilation(image: np.ndarray, size: int) -> np.ndarray:
    """The maximum over a `size` x `size` window; for an even size, placed as the erosion's
    mirror (as scipy does), so that a closing or opening does not shift the image."""
    return _filter(image, (size, size), np.maximum, mirrored=True)


def erosion(image: np.ndarray, size: int) -> np.ndarray:
    """The minimum over a `size` x `size` window starting `size // 2` before each pixel."""
    return _filter(image, (size, size), np.minimum, mirrored=False)


def disk_dilation(image: np.ndarray, radius: int) -> np.ndarray:
    """`ndimage.grey_dilation` with the footprint x² + y² <= radius² + radius."""
    return _disk_filter(image, radius, np.maximum)


def disk_erosion(image: np.ndarray, radius: int) -> np.ndarray:
    """`ndimage.grey_erosion` with the footprint x² + y² <= radius² + radius."""
    return _disk_filter(image, radius, np.minimum)


def line_closing(mask: np.ndarray, length: int, axis: int) -> np.ndarray:
    """`ndimage.binary_closing` of a boolean mask by a line of odd `length` along `axis` (-2:
    rows, -1: columns): gaps shorter than the line filled. As in scipy, the erosion takes
    the outside for empty, so nothing within `length // 2` of either end of the axis stays."""
    half = length // 2
    dilated = _running(mask, length, np.logical_or, half, axis)
    closed = _running(dilated, length, np.logical_and, half, axis)
    ends = np.ones(mask.shape[axis], bool)
    ends[half : mask.shape[axis] - half] = False
    closed[(..., ends) if axis == -1 else (..., ends, slice(None))] = False
    return closed


def upsample(image: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """Pillow's bilinear resize of a float image to a larger `shape` (rows, columns), with no
    conversion to and from a Pillow image (slow for float images): each output pixel mixes
    the two source pixels nearest its centre, one axis at a time. Not as matrix products:
    BLAS threads spinning on a process's only core would cost milliseconds."""
    columns = _mix(image, *_taps(image.shape[1], shape[1]), axis=1)
    return _mix(columns, *_taps(image.shape[0], shape[0]), axis=0)


def _mix(
    image: np.ndarray, first: np.ndarray, second: np.ndarray, weight: np.ndarray, axis: int
) -> np.ndarray:
    """Along `axis`, each output is `first` + `weight` x (`second` - `first`) of the taps."""
    lower = np.take(image, first, axis=axis)
    mixed = np.take(image, second, axis=axis)
    mixed -= lower
    mixed *= weight if axis == 1 else weight[:, None]
    mixed += lower
    return mixed


@lru_cache(maxsize=16)
def _taps(size: int, new_size: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """For each of `new_size` outputs: the source pixels either side of its centre and the
    weight of the second; centres beyond the outer source centres take the edge pixel."""
    centres = np.clip((np.arange(new_size) + 0.5) * (size / new_size) - 0.5, 0, size - 1)
    first = np.floor(centres).astype(np.intp)
    second = np.minimum(first + 1, size - 1)
    return first, second, (centres - first).astype(np.float32)


def _disk_filter(image: np.ndarray, radius: int, extreme: _Extreme) -> np.ndarray:
    """The disk is the union of a few centred rectangles, so its extreme is theirs."""
    result = image
    for window in _disk_rectangles(radius):
        part = _filter(image, window, extreme, mirrored=False)
        result = part if result is image else extreme(result, part)
    return result


@lru_cache(maxsize=16)
def _disk_rectangles(radius: int) -> tuple[tuple[int, int], ...]:
    """(rows, columns) of each rectangle: the disk's rows up to ±dy, as wide as the disk is at
    ±dy, for each dy where the disk narrows beyond it."""
    half_widths = [math.isqrt(radius * radius + radius - dy * dy) for dy in range(radius + 1)]
    return tuple(
        (2 * dy + 1, 2 * half_width + 1)
        for dy, half_width in enumerate(half_widths)
        if dy == radius or half_width > half_widths[dy + 1]
    )


def _filter(
    image: np.ndarray, window: tuple[int, int], extreme: _Extreme, *, mirrored: bool
) -> np.ndarray:
    """The extreme over a (rows, columns) `window` of the last two axes."""
    for axis, size in zip((-2, -1), window, strict=True):
        before = (size - 1) // 2 if mirrored else size // 2
        image = _running(image, size, extreme, before, axis)
    return image


def _running(image: np.ndarray, size: int, extreme: _Extreme, before: int, axis: int) -> np.ndarray:
    """The extreme of `size` neighbours along `axis` (-2: rows, -1: columns), from `before`
    back, built by doubling (`log2(size)` passes). Edge values are repeated outward first, so
    a window reaching past the image takes the extreme of its part inside, as scipy's
    'reflect' border does for extremes."""
    if size == 1:
        return image
    result = image.take(_edge_index(image.shape[axis], size, before), axis=axis)
    covered = 1
    while covered < size:
        step = min(covered, size - covered)
        if axis == -1:
            result = extreme(result[..., :-step], result[..., step:])
        else:
            result = extreme(result[..., :-step, :], result[..., step:, :])
        covered += step
    return result


@lru_cache(maxsize=64)
def _edge_index(length: int, size: int, before: int) -> np.ndarray:
    """Indices that pad a `length` axis by `before` and by the rest of the window after."""
    return np.clip(np.arange(-before, length + size - 1 - before), 0, length - 1)


def label(mask: np.ndarray) -> tuple[np.ndarray, int, np.ndarray]:
    """`ndimage.label(mask, structure=np.ones((3, 3)))` and `ndimage.find_objects` of it, as
    (labels, count, boxes): boxes[i] is (x0, y0, x1, y1) of component i + 1, as in `Box`.

    Works on the runs of each row, far fewer than pixels, and spares each worker process the
    ~26 MB that importing scipy.ndimage costs. Components are numbered by their first pixel in
    raster order, as scipy does.
    """
    height, width = mask.shape
    labels = np.zeros(mask.shape, np.int32)
    # In raster order, each run's start and stop edges come in pairs; the rows are padded with
    # a blank pixel at each end, so they can be searched as one (no edge between rows).
    padded = np.zeros((height, width + 2), bool)
    padded[:, 1:-1] = mask
    flat = padded.ravel()
    edge_rows, edge_cols = np.divmod(np.flatnonzero(flat[1:] != flat[:-1]), width + 2)
    run_rows, starts, stops = edge_rows[::2], edge_cols[::2], edge_cols[1::2]
    if run_rows.size == 0:
        return labels, 0, np.zeros((0, 4), np.intp)
    root = _join_runs(run_rows, starts, stops, width + 2)
    is_root = root == np.arange(root.size)
    roots = np.flatnonzero(is_root)
    run_label = np.cumsum(is_root, dtype=np.int32)[root]
    lengths = stops - starts
    first = np.cumsum(lengths) - lengths
    pixels = np.repeat(run_rows * width + starts - first, lengths) + np.arange(lengths.sum())
    labels.ravel()[pixels] = np.repeat(run_label, lengths)
    count = roots.size
    boxes = np.zeros((count, 4), np.intp)
    boxes[:, 0] = width
    boxes[:, 1] = run_rows[roots]  # a component's root is its first run
    index = run_label - 1
    np.minimum.at(boxes[:, 0], index, starts)
    np.maximum.at(boxes[:, 2], index, stops)
    np.maximum.at(boxes[:, 3], index, run_rows + 1)
    return labels, count, boxes


def _join_runs(rows: np.ndarray, starts: np.ndarray, stops: np.ndarray, stride: int) -> np.ndarray:
    """Each run's root: the first run (in raster order) of its 8-connected component.

    The runs of the row above that touch a run, diagonals included, are a contiguous range
    found by binary search on (row, column) keys; the unions are then done for all pairs at
    once: hook every root to the smallest root it meets, compress paths, repeat.
    """
    first = np.searchsorted(rows * stride + stops, (rows - 1) * stride + starts, "left")
    past = np.searchsorted(rows * stride + starts, (rows - 1) * stride + stops, "right")
    touching = np.maximum(past - first, 0)
    lower = np.repeat(np.arange(rows.size), touching)
    before = np.cumsum(touching) - touching
    upper = np.repeat(first - before, touching) + np.arange(touching.sum())
    parent = np.arange(rows.size)
    while True:
        a, b = parent[lower], parent[upper]
        differ = a != b
        if not differ.any():
            return parent
        lower, upper = lower[differ], upper[differ]
        np.minimum.at(parent, np.maximum(a[differ], b[differ]), np.minimum(a[differ], b[differ]))
        while True:
            grand = parent[parent]
            if not (grand != parent).any():
                break
            parent = grand
