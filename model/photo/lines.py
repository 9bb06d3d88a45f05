"""Stage 3, lines and frames: ruled and squared paper, printed rules and the paper's edge.

Paper lines are divided out of the ink like the paper itself, so the pen's strokes along or
across them stay; a straight band as dark as the pen is the digit's own stroke unless it
crosses the page or has a parallel twin.
"""

from __future__ import annotations

from itertools import pairwise

import numpy as np

from model.photo.imageops import coordinates, line_closing, quantile


def remove_lines(
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
            if strong_along[axis] == 1 and not _reaches_past(ys, xs, axis, rest):
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


def _reaches_past(ys: np.ndarray, xs: np.ndarray, axis: int, others: np.ndarray) -> bool:
    """Whether a line reaches clearly past, at both ends, the ink that lies away from it: a
    line across the page (a printed rule, the paper's edge with the table beyond it), not a
    stroke that ends where the digit does (what touches the line, a 4's bar or a 1's flag,
    or the table along the paper's edge, does not count)."""
    shape = others.shape
    others_ys, others_xs = coordinates(others)
    along, across = (xs, ys) if axis == 1 else (ys, xs)
    others_along, others_across = (others_xs, others_ys) if axis == 1 else (others_ys, others_xs)
    slope, offset = np.polyfit(along, across, 1) if np.ptp(along) > 0 else (0.0, across.mean())
    away = np.abs(others_across - (slope * others_along + offset)) > _AWAY * shape[1 - axis]
    if not away.any():
        return False
    others_along = others_along[away]
    margin = _PAST_MARGIN * shape[axis]
    low, high = quantile(others_along, 0.02), quantile(others_along, 0.98)
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
    ys, xs = coordinates(mask)
    for _ in range(2):
        slope = _line_slope(ys, xs)
        rows = np.floor(ys + xs * slope).astype(np.intp)
        rows -= rows.min()
        hits = np.zeros((rows.max() + 8, width), bool)
        hits[rows + 3, xs] = True
        band = hits[3:-4] | hits[4:-3] | hits[5:-2]
        covered = np.count_nonzero(band, axis=1)
        lines = np.flatnonzero(covered >= _LINE_COVER * width)
        flanked = band[lines] & hits[lines + 1] & hits[lines + 7]
        lines = lines[np.count_nonzero(flanked, axis=1) <= _LINE_FLANKED * covered[lines]]
        if lines.size == 0:
            break
        # Bands that overlap are one line: number the runs of line rows 1, 2, ...
        line_of_row = np.zeros(hits.shape[0], np.int16)
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
        if np.count_nonzero(np.bincount(xs, minlength=width)) < _LINE_COVER * width:
            break  # what is left cannot hold a line
    return result


def _may_hold_lines(mask: np.ndarray) -> bool:
    """Whether ink reaches enough of the columns for a near-horizontal line: a projection
    test that spares most pages the search for lines."""
    width = mask.shape[1]
    return width >= _LINE_MIN_IMAGE and mask.any(axis=0).sum() >= _LINE_COVER * width


def _line_slope(ys: np.ndarray, xs: np.ndarray) -> float:
    """The slope whose row projection is sharpest, in 1° steps then in quarter degrees around
    the best.

    The 1° steps are first scored on a sparser sample and only the few best there on the
    whole sample: the sharpest is nearly always among them, at a fraction of the cost.
    """
    every = max(1, ys.size // _SLOPE_SAMPLE)
    ys, xs = ys[::every], xs[::every]
    slopes = _SLOPES
    sparse = ys.size // _COARSE_SAMPLE
    if sparse > 1:
        sharpness = _sharpness(*_by_column(ys[::sparse], xs[::sparse]), slopes)
        slopes = slopes[np.sort(np.argsort(-sharpness, kind="stable")[:_CANDIDATES])]
    sample = _by_column(ys, xs)
    fine = slopes[np.argmax(_sharpness(*sample, slopes))] + _SLOPE_STEPS
    return float(fine[np.argmax(_sharpness(*sample, fine))])


def _by_column(ys: np.ndarray, xs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The pixels' rows column by column, and how many pixels each column has."""
    return ys[np.argsort(xs, kind="stable")], np.bincount(xs)


def _sharpness(ys: np.ndarray, per_column: np.ndarray, slopes: np.ndarray) -> np.ndarray:
    """How sharp the row projection of the pixels (`_by_column`) is under each slope: the sum
    of squared row counts.

    Under slope s a pixel falls in row y + floor(x·s), an integer shift per column, so the
    rows of all slopes come from one small table, repeated for each column's pixels, and fill
    one histogram, each slope in a stretch of its own.
    """
    shifts = np.floor(np.arange(per_column.size) * slopes[:, None]).astype(np.intp)
    shifts -= shifts.min(axis=1, keepdims=True)
    span = int(ys.max()) + int(shifts.max()) + 1
    shifts += np.arange(len(slopes))[:, None] * span
    rows = np.repeat(shifts, per_column, axis=1)
    rows += ys
    counts = np.bincount(rows.ravel(), minlength=len(slopes) * span)
    counts = counts.reshape(len(slopes), span)
    return (counts * counts).sum(axis=1)


_LINE_COVER = 0.6


_LINE_FLANKED = 0.3


_LINE_MIN_IMAGE = 96


_SLOPES = np.tan(np.deg2rad(np.arange(-10.0, 10.5, 1.0)))


_SLOPE_STEPS = np.tan(np.deg2rad(np.arange(-0.75, 0.8, 0.25)))


_SLOPE_SAMPLE = 4000
"""The slope search looks at about this many ink pixels at most, evenly spread in raster
order: the sharpest projection stands out as clearly, at a fraction of the cost on pages with
large dark regions (a table beside the paper, a hard shadow)."""


_COARSE_SAMPLE = 1000
"""The 1° steps are first scored on about this many of the sampled pixels, at least."""


_CANDIDATES = 4
"""How many of the 1° steps best on the sparser sample are scored on the whole sample."""
