"""The page under the digit: paper, ink and clutter, for `model.preprocess`.

`ink_map` divides out the lit paper and settles the ink's polarity; `find_digit` separates the
digit from what else is on the page: ruled and squared lines, frames drawn around it, the
paper's edge, shadows and specks.
"""

from __future__ import annotations

from functools import cached_property
from itertools import pairwise
from typing import NamedTuple

import numpy as np
from PIL import Image

from model.imageops import (
    bounding_box,
    closing,
    grow,
    label,
    line_closing,
    quantile,
    top_hats,
    upsample,
)

_MIN_CONTRAST = 0.12
_MIN_INK_PIXELS = 10
_STRONG = 0.4
"""Second pass: the digit's strokes reach this share of its ink level; a faint shadow edge or
ruled line touching it does not."""
_NOISE_SIGMAS = 4.5


def ink_map(gray: np.ndarray) -> np.ndarray:
    """Ink strength in [0, 1] (0 = paper) after dividing out the lit background.

    Parameters
    ----------
    gray : ndarray of shape (height, width), float32
        Luminance 0..255, longer side at most a few hundred pixels.

    Returns
    -------
    ndarray of shape (height, width), float32
        About 0 on paper, up to 1 on the darkest (or, for light ink, lightest) strokes.

    Polarity follows the background (`_light_ink`). The paper is then a morphological closing
    of a coarse copy, wider than any stroke, so it follows gradients and hard shadow edges but
    not the ink.
    """
    height, width = gray.shape
    factor = max(1, max(height, width) // _COARSE)
    image = Image.fromarray(gray)
    coarse = np.asarray(image.reduce(factor) if factor > 1 else image, dtype=np.float32)
    if _light_ink(coarse):
        gray, coarse = 255.0 - gray, 255.0 - coarse
    size = max(7, max(coarse.shape) // 4)
    paper = upsample(closing(coarse, size), (height, width))
    np.maximum(paper, 8.0, out=paper)
    np.divide(gray, paper, out=paper)
    return np.subtract(1.0, paper, out=paper)


def _light_ink(coarse: np.ndarray) -> bool:
    """Whether the ink is lighter than the background.

    A small image (MNIST itself, a screenshot, a digit cut to its box) has a flat background:
    its median and its border's tell together, for a digit that fills it may cover half of
    it but rarely half its border; a strip too thin for the top-hats below has its median.
    On a photo, evidence adds up in log-odds: how much thin dark and thin light features
    stand out from their surroundings (morphological top-hats) at a pen's width and, on a
    copy halved again, at a marker's, where steps such as a paper edge or a shadow and
    symmetric textures cancel out; and whether the border, mostly background, is darker than
    mid-range. Dark ink on paper is the
    usual photo, so light ink needs clear evidence.
    """
    middle = (quantile(coarse, 0.01) + quantile(coarse, 0.99)) / 2
    if min(coarse.shape) < 2:
        return quantile(coarse, 0.5) < middle
    ring = np.concatenate([coarse[0], coarse[-1], coarse[1:-1, 0], coarse[1:-1, -1]])
    if max(coarse.shape) < _COARSE:
        # A digit that fills a small picture may cover half of it, but rarely half its border.
        return quantile(ring, 0.5) + quantile(coarse, 0.5) < 2 * middle
    evidence = float(np.clip((middle - quantile(ring, 0.5)) / 20.0, -2.0, 2.0))
    even = coarse[: coarse.shape[0] // 2 * 2, : coarse.shape[1] // 2 * 2]
    halved = (even[::2, ::2] + even[1::2, ::2] + even[::2, 1::2] + even[1::2, 1::2]) / 4
    for image in (coarse, halved):
        dark, light = top_hats(image, 5)
        margin = 3.0 * quantile(dark + light, 0.5) + 4.0
        dark_mass = np.maximum(dark - margin, 0.0).sum()
        light_mass = np.maximum(light - margin, 0.0).sum()
        evidence += float(np.log((light_mass + 1.0) / (dark_mass + 1.0)))
    return evidence > _LIGHT_INK_EVIDENCE


_LIGHT_INK_EVIDENCE = 1.0
_COARSE = 64


class Digit(NamedTuple):
    """The digit found on the page."""

    box: tuple[slice, slice]
    """Its rows and columns in the ink map."""
    mask: np.ndarray
    """Its pixels within `box`, bool."""
    ink: np.ndarray
    """Its ink within `box`, with paper lines divided out."""
    floor: float
    """The paper's noise level in ink units (zero on a clean image, whose faintest
    anti-aliased pixels are then kept)."""


def find_digit(ink: np.ndarray) -> Digit | None:
    """The digit's pixels, everything else on the page dropped, and the paper's noise level.

    A digit that fills the picture (a tight crop, a form's cell) is looked for again with a
    margin of paper around it: the statistics of the paper and the tests for what touches the
    border assume there is some.

    Parameters
    ----------
    ink : ndarray of shape (height, width), float32
        From `ink_map`.

    Returns
    -------
    Digit or None
        None when there is no ink.
    """
    digit = _find_digit(ink)
    if digit is None or _sides_touched(digit.box, ink.shape) >= 3:
        margin = max(4, max(ink.shape) // 4)
        framed = _find_digit(_pad(ink, margin))
        if framed is not None:
            rows, cols = framed.box
            box = (
                slice(rows.start - margin, rows.stop - margin),
                slice(cols.start - margin, cols.stop - margin),
            )
            return framed._replace(box=box)
    return digit


def _sides_touched(box: tuple[slice, slice], shape: tuple[int, ...]) -> int:
    rows, cols = box
    return (rows.start == 0) + (cols.start == 0) + (rows.stop == shape[0]) + (cols.stop == shape[1])


def _find_digit(ink: np.ndarray) -> Digit | None:
    sample = ink[::4, ::4]
    centre = quantile(sample, 0.5)
    sigma = 1.4826 * quantile(np.abs(sample - centre), 0.5)
    threshold = max(0.07, centre + _NOISE_SIGMAS * sigma)
    mask = ink > threshold
    parts = _Components(ink, mask)
    frames = parts.frames()
    if frames.any():
        mask = mask & ~parts.mask_of(frames)
    without_lines, ink = _remove_lines(mask, ink, threshold)
    if frames.any() or without_lines is not mask:
        parts = _Components(ink, without_lines)
    digit = parts.digit_mask()
    if not digit.any():
        return None
    box = bounding_box(digit)
    inside, faint = digit[box], ink[box]
    strong = inside & (faint >= _STRONG * quantile(faint[inside], 0.9))
    # Padded, so that the box's edge is not taken for the image's border.
    core = _Components(_pad(faint), _pad(strong)).digit_mask()[1:-1, 1:-1]
    inside &= grow(core, 2)
    pixels = faint[inside]
    if pixels.size < _MIN_INK_PIXELS or pixels.max() < max(_MIN_CONTRAST, threshold + 2 * sigma):
        return None
    rows, cols = bounding_box(inside)
    return Digit(
        box=(
            slice(box[0].start + rows.start, box[0].start + rows.stop),
            slice(box[1].start + cols.start, box[1].start + cols.stop),
        ),
        mask=inside[rows, cols],
        ink=faint[rows, cols],
        floor=max(0.0, centre + _NOISE_SIGMAS * sigma),
    )


def _remove_lines(
    mask: np.ndarray, ink: np.ndarray, threshold: float
) -> tuple[np.ndarray, np.ndarray]:
    """Divide out ruled or squared paper lines and long straight edges like the paper itself,
    keeping the pen's strokes that run along or across them.

    A line is a thin band, within ±10° of horizontal or vertical, that covers most of the
    image's width or height. Its ink level (what the line alone darkens) is divided out of its
    pixels as the paper's was, so a pen stroke on it keeps the ink the pen added and the line
    alone falls to nothing. A band as dark as the strokes is the digit's own straight stroke
    (the stem of a 1, 4 or 7 written close up), left alone, unless it reaches past the other
    ink at both ends or has a parallel twin (the sides of a frame, of a table); otherwise it
    is removed and the strokes crossing it are bridged.

    Returns the mask without the lines and the ink with them divided out.
    """
    if not (_may_hold_lines(mask) or _may_hold_lines(mask.T)):
        return mask, ink
    lines = [(ys, xs, 1) for ys, xs in _lines_along(mask)]
    lines += [(ys, xs, 0) for xs, ys in _lines_along(mask.T)]
    if not lines:
        return mask, ink
    rest = mask.copy()
    for ys, xs, _ in lines:
        rest[ys, xs] = False
    if np.count_nonzero(rest) < max(15, 0.01 * np.count_nonzero(mask)):
        return mask, ink
    stroke_level = quantile(ink[rest], 0.9)
    rest_ys, rest_xs = np.nonzero(rest)
    levels = [
        min(_line_level(ink[ys, xs], xs if axis == 1 else ys), 0.95) for ys, xs, axis in lines
    ]
    strong = [level >= _STROKE_LIKE * stroke_level for level in levels]
    strong_along = [
        sum(s for s, line in zip(strong, lines, strict=True) if line[2] == a) for a in (0, 1)
    ]
    cleared, ink = mask.copy(), ink.copy()
    dark = np.zeros_like(mask)
    for (ys, xs, axis), level, is_strong in zip(lines, levels, strong, strict=True):
        if is_strong:
            if strong_along[axis] == 1 and not _reaches_past(
                ys, xs, axis, rest_ys, rest_xs, mask.shape
            ):
                continue
            dark[ys, xs] = True
            continue
        values = ink[ys, xs]
        corrected = np.maximum(1.0 - (1.0 - values) / (1.0 - level), 0.0)
        ink[ys, xs] = corrected
        cleared[ys, xs] = corrected >= max(level, threshold)
    if dark.any():
        # A line as dark as the pen hides the stroke under it: bridge the strokes crossing it.
        cleared &= ~dark
        across = line_closing(cleared, 9, axis=-2) | line_closing(cleared, 9, axis=-1)
        cleared |= dark & across
    return cleared, ink


def _line_level(values: np.ndarray, along: np.ndarray) -> float:
    """What a line alone darkens: its peak across the band at each position along it, at a low
    quantile over the positions, so that a pen stroke running along part of it does not count."""
    peaks = np.zeros(int(along.max()) + 1, np.float32)
    np.maximum.at(peaks, along, values)
    return quantile(peaks[peaks > 0], _LINE_LEVEL_QUANTILE)


def _reaches_past(
    ys: np.ndarray,
    xs: np.ndarray,
    axis: int,
    others_ys: np.ndarray,
    others_xs: np.ndarray,
    shape: tuple[int, ...],
) -> bool:
    """Whether a line reaches clearly past, at both ends, the ink that lies away from it: a
    line across the page (a printed rule, the paper's edge with the table beyond it), not a
    stroke that ends where the digit does (what touches the line, a 4's bar or a 1's flag,
    or the table along the paper's edge, does not count)."""
    along, across = (xs, ys) if axis == 1 else (ys, xs)
    others_along, others_across = (others_xs, others_ys) if axis == 1 else (others_ys, others_xs)
    slope, offset = np.polyfit(along, across, 1) if np.ptp(along) > 0 else (0.0, across.mean())
    away = np.abs(others_across - (slope * others_along + offset)) > _AWAY * shape[1 - axis]
    if not away.any():
        return False
    others = others_along[away]
    margin = _PAST_MARGIN * shape[axis]
    low, high = quantile(others, 0.02), quantile(others, 0.98)
    return bool(along.min() < low - margin and along.max() > high + margin)


_STROKE_LIKE = 0.6
_LINE_LEVEL_QUANTILE = 0.3
_PAST_MARGIN = 0.05
_AWAY = 0.1


def _lines_along(mask: np.ndarray) -> list[tuple[np.ndarray, np.ndarray]]:
    """The pixels (rows, columns) of each near-horizontal thin straight line covering most of
    the width.

    A 3-pixel band counts as a line when it covers 60% of the columns and, at most of them,
    the rows 2 pixels beyond it are clear: a thick stroke or a blob is not a line. Overlapping
    bands make one line.

    The lines' slope is the one whose row projection is sharpest (projection-profile skew
    estimation); a second pass catches lines that perspective tilted differently.
    """
    width = mask.shape[1]
    result: list[tuple[np.ndarray, np.ndarray]] = []
    if not _may_hold_lines(mask):
        return result
    ys, xs = np.nonzero(mask)
    for _ in range(2):
        if ys.size == 0:
            break
        every = max(1, ys.size // _SLOPE_SAMPLE)
        slope = _sharpest_slope(ys[::every], xs[::every], _SLOPES)
        slope = _sharpest_slope(ys[::every], xs[::every], slope + _SLOPE_STEPS)
        rows = np.floor(ys + xs * slope).astype(np.intp)
        rows -= rows.min()
        hits = np.zeros((rows.max() + 8, width), bool)
        hits[rows + 3, xs] = True
        band = hits[3:-4] | hits[4:-3] | hits[5:-2]
        flanked = band & hits[1:-6] & hits[7:]
        covered = band.sum(axis=1)
        thin = flanked.sum(axis=1) <= _LINE_FLANKED * covered
        lines = np.flatnonzero((covered >= _LINE_COVER * width) & thin)
        if lines.size == 0:
            break
        # Bands that overlap are one line: number the runs of line rows 1, 2, ...
        line_of_row = np.zeros(hits.shape[0], np.intp)
        starts = np.concatenate([[True], np.diff(lines) > 3])
        number = np.cumsum(starts)
        for offset in range(3):
            line_of_row[lines + offset] = number
        line_of_pixel = line_of_row[rows]
        order = np.argsort(line_of_pixel, kind="stable")
        bounds = np.searchsorted(line_of_pixel[order], np.arange(1, number[-1] + 2))
        result += [(ys[order[a:b]], xs[order[a:b]]) for a, b in pairwise(bounds)]
        off = line_of_pixel == 0
        ys, xs = ys[off], xs[off]
    return result


def _may_hold_lines(mask: np.ndarray) -> bool:
    """Whether ink reaches enough of the columns for a near-horizontal line: a projection
    test that spares most pages the search for lines."""
    width = mask.shape[1]
    return width >= _LINE_MIN_IMAGE and mask.any(axis=0).sum() >= _LINE_COVER * width


def _sharpest_slope(ys: np.ndarray, xs: np.ndarray, slopes: np.ndarray) -> float:
    """The slope whose row projection is sharpest: the largest sum of squared row counts.

    Under slope s a pixel falls in row y + floor(x·s), an integer shift per column, so the
    rows of all slopes come from one small table and fill one histogram, each slope in a
    stretch of its own.
    """
    shifts = np.floor(np.arange(int(xs.max()) + 1) * slopes[:, None]).astype(np.intp)
    shifts -= shifts.min(axis=1, keepdims=True)
    span = int(ys.max()) + int(shifts.max()) + 1
    shifts += np.arange(len(slopes))[:, None] * span
    counts = np.bincount((shifts[:, xs] + ys).ravel(), minlength=len(slopes) * span)
    counts = counts.reshape(len(slopes), span)
    return float(slopes[int(np.argmax((counts * counts).sum(axis=1)))])


_LINE_COVER = 0.6
_LINE_FLANKED = 0.3
_LINE_MIN_IMAGE = 96
_SLOPES = np.tan(np.deg2rad(np.arange(-10.0, 10.5, 1.0)))
_SLOPE_STEPS = np.tan(np.deg2rad(np.arange(-0.75, 0.8, 0.25)))
_SLOPE_SAMPLE = 4000
"""The slope search looks at about this many ink pixels at most, evenly spread in raster
order: the sharpest projection stands out as clearly, at a fraction of the cost on pages with
large dark regions (a table beside the paper, a hard shadow)."""


class _Components:
    """Connected ink components (of a mask whose ink is positive) with their mass and bounding
    box (top, bottom, left, right), each worked out when first needed.

    Labelling costs by the pixel, ink or not, so it runs on the mask with every run of empty
    rows and of empty columns cut to one, which keeps the same components apart: on a clean
    page most of the image goes.
    """

    def __init__(self, ink: np.ndarray, mask: np.ndarray) -> None:
        self.shape = mask.shape
        self.mask = mask
        self.rows = _kept(np.any(mask, axis=1))
        self.cols = _kept(np.any(mask, axis=0))
        self.inside = mask[_grid(self.rows, self.cols)]
        self.labels, self.count, self.spans = label(self.inside)
        # The cut grid keeps the image's raster order, so these line up with `labels[inside]`.
        self.weights = ink[mask]

    @cached_property
    def mass(self) -> np.ndarray:
        """Summed ink of each component."""
        return np.bincount(self.labels[self.inside], self.weights, self.count + 1)[1:]

    @cached_property
    def box(self) -> np.ndarray:
        """Boxes in the image, as floats for the geometry in `digit`."""
        spans = self.spans
        return np.stack(
            [
                self.rows[spans[:, 0]],
                self.rows[spans[:, 1] - 1] + 1,
                self.cols[spans[:, 2]],
                self.cols[spans[:, 3] - 1] + 1,
            ],
            axis=1,
        ).astype(float)

    @cached_property
    def touches(self) -> np.ndarray:
        """Which components reach the image's border."""
        height, width = self.shape
        box = self.box
        return (box[:, 0] == 0) | (box[:, 2] == 0) | (box[:, 1] == height) | (box[:, 3] == width)

    @cached_property
    def substantial(self) -> np.ndarray:
        """Components with at least 0.2% of all the ink; the rest are specks."""
        return self.mass >= 0.002 * max(float(self.mass.sum()), 1e-9)

    def frames(self) -> np.ndarray:
        """Components whose box encloses another substantial one: a frame or a circle drawn
        around the digit is not the digit. Both weigh at least 15% of the frame, which most
        pages rule out from the masses alone."""
        result = np.zeros(self.count, bool)
        mass = self.mass
        if not self.substantial.any():
            return result
        if np.count_nonzero(mass >= 0.15 * mass[self.substantial].min()) < 2:
            return result
        box = self.box
        for i in np.flatnonzero(self.substantial):
            inner = (
                (box[:, 0] > box[i, 0])
                & (box[:, 1] < box[i, 1])
                & (box[:, 2] > box[i, 2])
                & (box[:, 3] < box[i, 3])
                & (mass >= 0.15 * mass[i])
            )
            result[i] = inner.any()
        return result

    def mask_of(self, chosen: np.ndarray) -> np.ndarray:
        """Image-sized boolean mask of the components where `chosen` (one flag each) is set;
        only their joint box is looked up."""
        result = np.zeros(self.shape, bool)
        if chosen.any():
            spans = self.spans[chosen]
            rows = slice(spans[:, 0].min(), spans[:, 1].max())
            cols = slice(spans[:, 2].min(), spans[:, 3].max())
            flags = np.concatenate([[False], chosen])[self.labels[rows, cols]]
            result[_grid(self.rows[rows], self.cols[cols])] = flags
        return result

    def digit_mask(self) -> np.ndarray:
        """Boolean mask of `digit`'s components; a lone component is the digit."""
        if self.count == 1:
            return self.mask.copy()
        chosen = np.zeros(self.count, bool)
        chosen[self.digit()] = True
        return self.mask_of(chosen)

    def digit(self) -> list[int]:
        """Indices of the digit's components: the heaviest central one, preferring ones clear
        of the image border (paper edges, tables, shadows), plus pieces close to it (the
        detached top of a 5, the two strokes of an open 4) and at most twice its size (a paper
        edge is not)."""
        if self.substantial.sum() <= 1:
            return [int(i) for i in np.flatnonzero(self.substantial)]
        height, width = self.shape
        box, mass = self.box, self.mass
        cy = (box[:, 0] + box[:, 1]) / 2 / height - 0.5
        cx = (box[:, 2] + box[:, 3]) / 2 / width - 0.5
        score = mass * (1.0 - 0.8 * np.hypot(cy, cx)) * np.where(self.touches, 0.25, 1.0)
        main = int(np.argmax(np.where(self.substantial, score, -1.0)))
        chosen = {main}
        union = box[main].copy()
        grew = True
        while grew:
            grew = False
            side = max(union[1] - union[0], union[3] - union[2])
            core = mass[list(chosen)].sum()
            gap_y = np.maximum(np.maximum(union[0] - box[:, 1], box[:, 0] - union[1]), 0)
            gap_x = np.maximum(np.maximum(union[2] - box[:, 3], box[:, 2] - union[3]), 0)
            near = (np.maximum(gap_y, gap_x) <= 0.3 * side) & (mass >= 0.05 * core)
            inside = (gap_y == 0) & (gap_x == 0) & (mass >= 0.02 * core)
            extent = np.maximum(box[:, 1] - box[:, 0], box[:, 3] - box[:, 2])
            clear = ~self.touches | ((mass >= 0.2 * core) & (extent <= side))
            piece = (near | inside) & clear & (extent <= 2.0 * side) & self.substantial
            new = [int(i) for i in np.flatnonzero(piece) if int(i) not in chosen]
            if new:
                chosen.update(new)
                union = np.array(
                    [
                        min(union[0], box[new, 0].min()),
                        max(union[1], box[new, 1].max()),
                        min(union[2], box[new, 2].min()),
                        max(union[3], box[new, 3].max()),
                    ]
                )
                grew = True
        return sorted(chosen)


def _kept(occupied: np.ndarray) -> np.ndarray:
    """Indices of the rows (or columns) `_Components` labels: those with ink, and the first
    empty one after each run of them, which keeps the runs apart (row 0 alone when there is
    no ink, so that the grid is never empty)."""
    kept = occupied.copy()
    kept[1:] |= occupied[:-1]
    return np.flatnonzero(kept) if kept.any() else np.zeros(1, np.intp)


def _grid(rows: np.ndarray, cols: np.ndarray) -> tuple[slice | np.ndarray, ...]:
    """Index of the pixels at sorted `rows` x `cols`: slices where these run without a gap
    (always, for one component), which index far more cheaply, else an open mesh."""
    at_rows, at_cols = _run(rows), _run(cols)
    if isinstance(at_rows, slice) or isinstance(at_cols, slice):
        return at_rows, at_cols
    return np.ix_(rows, cols)


def _run(indices: np.ndarray) -> slice | np.ndarray:
    """Sorted indices as a slice if they run without a gap."""
    if indices[-1] - indices[0] == len(indices) - 1:
        return slice(int(indices[0]), int(indices[-1]) + 1)
    return indices


def _pad(image: np.ndarray, width: int = 1) -> np.ndarray:
    """`np.pad(image, width)` without its generic machinery."""
    height, breadth = image.shape
    padded = np.zeros((height + 2 * width, breadth + 2 * width), image.dtype)
    padded[width : width + height, width : width + breadth] = image
    return padded
