"""Stage 6, MNIST framing: the digit's ink as MNIST has it.

White ink on black, strokes of MNIST's width, the bounding box scaled to 20 px on its longer
side and centred by centre of mass in 28x28. Deskewing is the model's job
(`model/serving/features.py`), not done here.
"""

from __future__ import annotations

import numpy as np
from PIL import Image

from model import MNIST_SIDE
from model.serving.photo.imageops import (
    bounding_box,
    dilation,
    disk_dilation,
    disk_erosion,
    grow,
    label,
    quantile,
)

MNIST_BOX = 20
"""MNIST's digits are scaled to this many pixels on their box's longer side."""

STROKE_REL = 0.098
"""MNIST's median stroke width over its bounding box's longer side (at half the ink, over its
training digits): what a pen outside MNIST's range is brought to."""

STROKE_NARROW = 0.070
"""MNIST's 10th percentile of stroke width: a pen thinner still is thickened."""

STROKE_WIDE = 0.137
"""MNIST's 90th percentile of stroke width: a marker wider still is thinned."""

_LIGHTEST = 0.25
"""Along the digit's body, a stroke is read against its own darkness down to this share of
the digit's ink level; lighter ink stays as light as it is."""

_WORK_SCALE = 6
"""Strokes are thickened or thinned at this many times the box: a disk's radius grows a stroke
by 2 px, a fine step there."""

_WIDTH_STEPS = 3
"""At most this many steps of thickening or thinning."""

_GAP_RADIUS = 2
"""A closing by this disk at the working scale fills gaps under 5 of its pixels, under an
output pixel."""

_INK_LEVEL = 0.9
"""The digit's ink level, to which its contrast is stretched, is this quantile of its pixels."""

_BOX_LEVEL = 0.5
"""A digit's box is that of its strokes at this share of their level (`_fit_box`)."""

_REDRAWN_BOX_LEVEL = 0.05
"""A redrawn digit is cut to the box of its pixels above this level (`_tight`)."""


def frame(ink: np.ndarray, mask: np.ndarray, floor: float) -> np.ndarray:
    """MNIST framing of the digit's `ink` (cropped to its box) where `mask` is set, and a
    pixel around: contrast and stroke normalised, 20 px box, centred."""
    crop = np.where(grow(mask), ink, 0.0)
    level = quantile(crop[mask], _INK_LEVEL)
    crop = np.clip((crop - floor) / max(level - floor, 1e-3), 0.0, 1.0)
    return fit_and_centre(_normalise_stroke(crop, mask))


def fit_and_centre(crop: np.ndarray) -> np.ndarray:
    """MNIST's own framing of a digit's strokes (float, 1 = ink): the box of its strokes scaled
    to 20 px on its longer side, pasted into 28x28 with its centre of mass in the middle.

    Returns
    -------
    ndarray of shape (28, 28), uint8
    """
    return _centre(_fit_box(crop))


def _stroke_by_stroke(crop: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Along the digit's body, each stroke against its own darkness: a thin or light stroke
    joined to the others (a pen's pressure, a faint pencil) is as much the digit's. Pieces
    apart from the body keep their darkness: a faint crumb stays faint."""
    body = grow(_largest_piece(mask))
    window = 2 * max(1, round(_stroke_width(mask))) + 1
    own = crop / np.maximum(dilation(crop, window), _LIGHTEST)
    return np.where(body, np.minimum(own, 1.0), crop)


def _largest_piece(mask: np.ndarray) -> np.ndarray:
    """The largest 8-connected piece of a mask."""
    labels, count, _ = label(mask)
    if count <= 1:
        return mask
    sizes = np.bincount(labels.ravel(), minlength=count + 1)
    sizes[0] = 0
    return labels == int(np.argmax(sizes))


def _stroke_width(binary: np.ndarray) -> float:
    """Mean stroke width: twice the area over the perimeter (exact for long straight strokes).
    The perimeter counts the changes between neighbours and the ink on the crop's edges."""
    perimeter = np.count_nonzero(binary[1:] != binary[:-1])
    perimeter += np.count_nonzero(binary[:, 1:] != binary[:, :-1])
    perimeter += np.count_nonzero(binary[[0, -1]]) + np.count_nonzero(binary[:, [0, -1]])
    return 2.0 * np.count_nonzero(binary) / max(int(perimeter), 1)


def _normalise_stroke(crop: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """The digit redrawn as MNIST's were made, at six times MNIST's box: a pen within MNIST's
    range of widths left as drawn, one outside it brought to MNIST's median width; a pen thinner
    than that median drawn bilevel (MNIST's digits were bilevel scans anti-aliased down), a
    marker kept grey.

    A crop already at MNIST's scale is left alone: its strokes were drawn at that scale.
    """
    side = max(crop.shape)
    if side <= MNIST_BOX + 2:
        return crop
    work = _WORK_SCALE * MNIST_BOX
    scale = work / side
    size = (max(1, round(crop.shape[1] * scale)), max(1, round(crop.shape[0] * scale)))
    drawn = _stroke_width(crop >= 0.5) / side
    if drawn > STROKE_REL:
        # A marker stays grey, thinned only when wider than most of MNIST's: where its width
        # half closed a small loop, the loop stays lighter than the strokes around it.
        if drawn <= STROKE_WIDE:
            return crop
        return _tight(_to_width(_resized(crop, size, brighten=False), work))
    crop = _resized(_stroke_by_stroke(crop, mask), size)
    # A retraced or graphite stroke leaves light streaks inside it, which would count as its
    # edges.
    crop = disk_erosion(disk_dilation(crop, _GAP_RADIUS), _GAP_RADIUS)
    if drawn < STROKE_NARROW:
        crop = _to_width(crop, work)
    return _tight((crop >= 0.5).astype(np.float32))


def _resized(crop: np.ndarray, size: tuple[int, int], brighten: bool = True) -> np.ndarray:
    """The crop at `size` (width, height), its darkest ink at 1, or at 1.25 clipped to 1 when
    told to `brighten` (a thin pen's strokes come out of the resizing lighter)."""
    resized = np.asarray(
        Image.fromarray(crop.astype(np.float32)).resize(size, Image.Resampling.BILINEAR),
        dtype=np.float32,
    )
    level = float(resized.max()) * (0.8 if brighten else 1.0)
    return np.clip(resized / level, 0.0, 1.0) if level > 0 else resized


def _to_width(crop: np.ndarray, work: int) -> np.ndarray:
    """The strokes of a crop `work` pixels on its longer side grown or thinned by disks to
    MNIST's median width, measured again after each step (a disk changes a stroke by about its
    diameter, a digit's corners and ends make that inexact). Thickening fills at most half of
    each of the digit's holes (`_hole_cores`)."""
    holes = _holes(crop >= 0.5)
    grown = 0
    for _ in range(_WIDTH_STEPS):
        radius = round((STROKE_REL - _stroke_width(crop >= 0.5) / work) * work / 2)
        if radius > 0:
            crop = disk_dilation(np.pad(crop, radius), radius)
            holes = np.pad(holes, radius)
            grown += radius
        elif radius < 0:
            eroded = disk_erosion(crop, -radius)
            if eroded.max() < 0.5:
                break
            crop = eroded
        else:
            break
    if grown and holes.any():
        crop = np.where(_hole_cores(holes, grown), 0.0, crop)
    return crop


def _holes(binary: np.ndarray) -> np.ndarray:
    """The digit's holes (its loops' insides, a closed 4's triangle), numbered from 1: the
    pieces of background that do not reach the crop's edge."""
    labels, count, boxes = label(~binary)
    if count == 0:
        return labels
    height, width = binary.shape
    inner = (boxes[:, 0] > 0) & (boxes[:, 1] > 0) & (boxes[:, 2] < width) & (boxes[:, 3] < height)
    keep = np.concatenate([[False], inner])
    return np.where(keep[labels], labels, 0)


def _hole_cores(holes: np.ndarray, grown: int) -> np.ndarray:
    """What thickening by `grown` pixels leaves of each hole: at least the half of it farthest
    from the ink. A writer's loop is open for their pen: a thicker pen would have drawn it
    wider, not filled it."""
    inside = holes > 0
    depth = np.zeros(int(holes.max()) + 1, np.intp)
    eroded = [inside]  # eroded[r]: the holes' pixels farther than r from the ink
    for radius in range(1, 2 * grown + 1):
        deeper = disk_erosion(inside.astype(np.float32), radius) > 0.5
        if not deeper.any():
            break
        eroded.append(deeper)
        depth[np.unique(holes[deeper])] = radius
    cores = np.zeros_like(inside)
    for hole in range(1, depth.size):
        cores |= eroded[min(grown, int(depth[hole]) // 2)] & (holes == hole)
    return cores


def _tight(crop: np.ndarray) -> np.ndarray:
    return crop[bounding_box(crop > _REDRAWN_BOX_LEVEL).slices]


def _fit_box(crop: np.ndarray) -> np.ndarray:
    """Scale so the box's longer side is 20 px, aspect kept, anti-aliased.

    The box is that of the strokes at half their level: in MNIST the box of every inked pixel
    is also the box at half level, so a blur halo outside it is not part of the digit. Ink
    that nowhere reaches half its level (a speck barely above the paper) keeps its whole box.
    """
    strokes = crop >= _BOX_LEVEL
    if strokes.any() or (strokes := crop > 0).any():
        crop = crop[bounding_box(strokes).slices]
    scale = MNIST_BOX / max(crop.shape)
    if scale == 1.0:
        return crop
    size = (
        max(1, min(MNIST_BOX, round(crop.shape[1] * scale))),
        max(1, min(MNIST_BOX, round(crop.shape[0] * scale))),
    )
    kernel = Image.Resampling.BOX if scale < 1 else Image.Resampling.BILINEAR
    image = Image.fromarray(crop.astype(np.float32)).resize(size, kernel)
    return np.clip(np.asarray(image, dtype=np.float32), 0.0, 1.0)


def _centre(digit: np.ndarray) -> np.ndarray:
    """Paste into 28x28 so the centre of mass lands on the centre, as MNIST did."""
    out = np.zeros((MNIST_SIDE, MNIST_SIDE), np.float32)
    height, width = digit.shape
    total = float(digit.sum())
    if total > 0:
        cy = float((digit.sum(axis=1) * np.arange(height)).sum() / total)
        cx = float((digit.sum(axis=0) * np.arange(width)).sum() / total)
    else:
        cy, cx = (height - 1) / 2, (width - 1) / 2
    top = min(max(round(MNIST_SIDE / 2 - cy), 0), MNIST_SIDE - height)
    left = min(max(round(MNIST_SIDE / 2 - cx), 0), MNIST_SIDE - width)
    out[top : top + height, left : left + width] = digit
    return np.round(out * (255.0 / max(float(out.max()), 1e-6))).astype(np.uint8)
